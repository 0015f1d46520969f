"""The seed report's χ² method, its variants, and their vectorized evaluation.

This module starts with the three per-bin statistics, as pure broadcasting
functions over the last axis (bins), shared by the grid scans here and by
the batched toys in :mod:`.toys`:

- Pearson χ² = Σ (n − ν)² / ν (the report's ``calcChiSq``),
- Neyman χ² = Σ (n − ν)² / max(n, 1),
- Baker–Cousins Poisson χ² = 2 Σ [ν − n + n ln(n/ν)] (equal to the Poisson
  likelihood ratio to the saturated model, so Δ of it equals pyhf's Δ(−2lnL)
  on a normfactor-only model).

Zero-prediction rule: a bin with ν ≤ 0 makes Pearson and Baker–Cousins
undefined; they raise :class:`~higgs_pyhf.errors.FitError` naming the bins
instead of returning inf/NaN. Neyman uses max(n, 1) in the denominator, so
bins with n = 0 count (n − ν)² (a documented convention).

On top of them, for the two-normfactor model ν = s_s·S + s_b·B:

- :func:`templates_from_workspace`: (S, B, n) from a workspace spec;
- :func:`chi2_surface`: a statistic on a whole (s_s, s_b) grid in one
  array operation;
- :func:`grid_scan_1d`, :func:`grid_scan_2d`, :func:`before_fit` and
  :func:`report_method`: the report's own procedure (grids, first grid
  minimum, quadratic fit of Δχ² for 1D errors, Δχ² ≤ 2.3 slice intervals
  for 2D, its χ²/dof and p-value conventions), vectorized;
- :func:`minimize_chi2`: continuous minimization of each statistic with
  profiled Δ = 1 intervals and Δ = 2.30 contour extents found by root
  finding.
"""

from __future__ import annotations

from .grid import (
    Chi2GoF,
    ReportScan1D,
    ReportScan2D,
    before_fit,
    chi2_surface,
    grid_scan_1d,
    grid_scan_2d,
)
from .method import ReportResult, report_method
from .minimize import Chi2Minimum, minimize_chi2
from .statistics import (
    PARAMETERS,
    STATISTICS,
    neyman_chi2,
    pearson_chi2,
    poisson_chi2,
    templates_from_workspace,
)

__all__ = [
    "PARAMETERS",
    "STATISTICS",
    "Chi2GoF",
    "Chi2Minimum",
    "ReportResult",
    "ReportScan1D",
    "ReportScan2D",
    "before_fit",
    "chi2_surface",
    "grid_scan_1d",
    "grid_scan_2d",
    "minimize_chi2",
    "neyman_chi2",
    "pearson_chi2",
    "poisson_chi2",
    "report_method",
    "templates_from_workspace",
]
