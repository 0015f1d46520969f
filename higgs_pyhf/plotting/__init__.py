"""Plots of histograms, fits, scans and toy studies (mplhep ATLAS-like style).

Every function takes results and arrays (never a file path), the data
label, an optional ``ax``, returns the ``Figure`` and never calls
``plt.show()``; :func:`save_figure` writes files. Matplotlib's global style
is left untouched (styles are applied with ``mpl.style.context``).

Modules: :mod:`.stacks` (pre/post-fit stacks of the report's two samples),
:mod:`.bands` (stacks of any workspace with bands, as ``plot_yields``; Brazil;
toy regions), :mod:`.diagnostics` (pulls, impacts, correlations), :mod:`.scans` (1D
Δ(−2lnL)/Δχ² curves), :mod:`.contours` (2D maps), :mod:`.toys` (GoF and
coverage toys), :mod:`.report_figures` (the report's figures beside their
likelihood counterparts), :mod:`._style` (style, labels, saving).
"""

from __future__ import annotations

from ._style import (
    GENERATED_DATA_LABEL,
    GENERATED_LABEL,
    REAL_DATA_LABEL,
    UNKNOWN_DATA_LABEL,
    is_generated_label,
    save_figure,
    style_context,
)
from .bands import plot_brazil, plot_prediction, plot_toy_contour
from .bands import plot_prefit_postfit as plot_yields
from .contours import plot_scan_2d
from .diagnostics import plot_correlations, plot_impacts, plot_pulls
from .report_figures import (
    plot_contour_pair,
    plot_critical_value_pair,
    plot_gof_pair,
    plot_postfit_pair,
    plot_prefit_pair,
)
from .scans import plot_scan_1d
from .stacks import data_intervals, plot_postfit, plot_prefit_postfit, plot_stacked
from .toys import plot_coverage, plot_coverage_table, plot_gof

__all__ = [
    "GENERATED_DATA_LABEL",
    "GENERATED_LABEL",
    "REAL_DATA_LABEL",
    "UNKNOWN_DATA_LABEL",
    "data_intervals",
    "is_generated_label",
    "plot_brazil",
    "plot_contour_pair",
    "plot_correlations",
    "plot_coverage",
    "plot_coverage_table",
    "plot_critical_value_pair",
    "plot_gof",
    "plot_gof_pair",
    "plot_impacts",
    "plot_postfit",
    "plot_postfit_pair",
    "plot_prediction",
    "plot_prefit_pair",
    "plot_prefit_postfit",
    "plot_pulls",
    "plot_scan_1d",
    "plot_scan_2d",
    "plot_stacked",
    "plot_toy_contour",
    "plot_yields",
    "save_figure",
    "style_context",
]
