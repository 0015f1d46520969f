"""The standard normal distribution's CDF, survival function and its inverse, without scipy.stats.

``scipy.stats`` costs about 0.6 s of imports; the asymptotic formulae need
three functions of the standard normal distribution, which the standard
library gives to double precision: Φ(x) = erfc(−x/√2)/2 and the inverse of
``statistics.NormalDist`` (Wichura's AS 241).
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np

__all__ = ["cdf", "isf", "sf"]

_ERFC = np.frompyfunc(math.erfc, 1, 1)
_STD = NormalDist()


def cdf(x: Any) -> np.ndarray:
    """Φ(x), elementwise."""
    return np.asarray(0.5 * _ERFC(-np.asarray(x, dtype=float) / math.sqrt(2.0)), dtype=float)


def sf(x: Any) -> np.ndarray:
    """1 − Φ(x), elementwise (precise in the upper tail)."""
    return cdf(-np.asarray(x, dtype=float))


def isf(p: float) -> float:
    """The x with 1 − Φ(x) = p (the significance Z of a p-value); ±inf at p = 0 and 1."""
    if p <= 0.0:
        return math.inf
    if p >= 1.0:
        return -math.inf
    return -_STD.inv_cdf(p) if p < 0.5 else _STD.inv_cdf(1.0 - p)
