"""Summaries of toy results: binomial errors, quantiles with their bands, JSON conversion."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

__all__ = [
    "CONFIDENCE_68",
    "binomial_error",
    "fraction",
    "quantile_band",
]

#: 1σ two-sided probability content (68.27%).
CONFIDENCE_68 = float(stats.chi2.cdf(1.0, 1))


def binomial_error(k: float, n: int) -> float:
    """Binomial error of the fraction k/n (floored at 1/n so that 0 and 1 get one)."""
    p = k / n
    return float(math.sqrt(max(p * (1 - p), 1.0 / n) / n))


def fraction(k: int, n: int) -> tuple[float, float]:
    """The fraction k/n of toys that pass a test and its :func:`binomial_error` (NaN, NaN if n = 0)."""
    if n == 0:
        return math.nan, math.nan
    return k / n, binomial_error(k, n)


def quantile_band(sorted_x: np.ndarray, q: float) -> tuple[float, float, float]:
    """The q-quantile of sorted values and its 68.27% order-statistics (binomial) band."""
    n = sorted_x.size
    crit = float(np.quantile(sorted_x, q))
    a = (1 - CONFIDENCE_68) / 2
    lo = int(stats.binom.ppf(a, n, q))
    hi = int(stats.binom.isf(a, n, q))
    return crit, float(sorted_x[max(lo - 1, 0)]), float(sorted_x[min(hi, n - 1)])
