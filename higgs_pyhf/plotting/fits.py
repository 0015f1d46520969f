"""The fit-stage plots under their former module name (``scripts/example.py`` imports it).

The code lives in :mod:`.stacks` (pre/post-fit stacks), :mod:`.scans` (1D
scans) and :mod:`.contours` (2D maps); import from there or from
:mod:`higgs_pyhf.plotting`.
"""

from __future__ import annotations

from .contours import plot_scan_2d
from .scans import plot_scan_1d
from .stacks import plot_postfit, plot_prefit_postfit, plot_stacked

__all__ = ["plot_postfit", "plot_prefit_postfit", "plot_scan_1d", "plot_scan_2d", "plot_stacked"]
