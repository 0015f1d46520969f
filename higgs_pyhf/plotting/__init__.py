"""Plots of histograms, fits, scans and toy studies (mplhep ATLAS-like style).

Every function takes results, an optional ``ax``, returns the ``Figure`` and
never calls ``plt.show()``; :func:`save_figure` writes files. Matplotlib's
global style is left untouched (styles are applied with ``mpl.style.context``).
"""

from __future__ import annotations

from ._style import GENERATED_LABEL, save_figure, style_context
from .fits import (
    StackTemplates,
    garwood_interval,
    plot_postfit,
    plot_prefit_postfit,
    plot_scan_1d,
    plot_scan_2d,
    plot_stacked,
    read_provenance,
    templates_from_workspace,
)

__all__ = [
    "GENERATED_LABEL",
    "StackTemplates",
    "garwood_interval",
    "plot_postfit",
    "plot_prefit_postfit",
    "plot_scan_1d",
    "plot_scan_2d",
    "plot_stacked",
    "read_provenance",
    "save_figure",
    "style_context",
    "templates_from_workspace",
]
