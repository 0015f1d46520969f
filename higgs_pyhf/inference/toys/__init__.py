"""Pseudo-experiments: sampling, batched fits, goodness of fit, coverage, toy p0/CLs.

One module per concept:

- :mod:`.sampling`: seeded Poisson/Gaussian toys (:func:`sample_toys`);
- :mod:`.fits`: fits of many toys — the engine for the likelihood (any
  model), :mod:`.chi2_fits` for the report's Pearson/Neyman χ²;
- :mod:`.runner`: chunked execution in-process, on a pool or on Dask, with
  results independent of the chunking;
- :mod:`.gof`, :mod:`.coverage`, :mod:`.table`, :mod:`.hypotest`, :mod:`.contour`
  (toy-calibrated 2D regions), :mod:`.limit` (toy CLs upper limit): the studies,
  each returning a NamedTuple with ``to_json`` that records seed and settings;
- :mod:`.summary`: binomial errors and quantile bands.
"""

from __future__ import annotations

from .contour import ToyContourResult, toy_contour
from .coverage import (
    MINIMIZATIONS,
    REPORT_GRID,
    CoverageResult,
    coverage_from_deltas,
    coverage_toys,
)
from .fits import STATISTICS, ToyFits, ToyModel, fit_toys, saturated_deviance, toy_model
from .gof import GOF_MODES, GofResult, gof_toys
from .hypotest import HypotestResult, hypotest_toys
from .limit import ToyLimitResult, toy_upper_limit
from .sampling import DEFAULT_BLOCK_SIZE, MAX_TOYS, SAMPLINGS, sample_toys
from .summary import CONFIDENCE_68
from .table import TABLE_ROWS, CoverageTableResult, coverage_table

__all__ = [
    "CONFIDENCE_68",
    "DEFAULT_BLOCK_SIZE",
    "GOF_MODES",
    "MAX_TOYS",
    "MINIMIZATIONS",
    "REPORT_GRID",
    "SAMPLINGS",
    "STATISTICS",
    "TABLE_ROWS",
    "CoverageResult",
    "CoverageTableResult",
    "GofResult",
    "HypotestResult",
    "ToyContourResult",
    "ToyFits",
    "ToyLimitResult",
    "ToyModel",
    "coverage_from_deltas",
    "coverage_table",
    "coverage_toys",
    "fit_toys",
    "gof_toys",
    "hypotest_toys",
    "sample_toys",
    "saturated_deviance",
    "toy_contour",
    "toy_model",
    "toy_upper_limit",
]
