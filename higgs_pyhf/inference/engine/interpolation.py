"""pyhf's interpolation codes: vectorized values and compiled point derivatives.

``normsys_code1``, ``normsys_code4``, ``histosys_code0`` and
``histosys_code4p`` are vectorized numpy values, broadcasting α against the
per-entry constants (the batched prediction of :mod:`.likelihood`);
``normsys_point`` and ``histosys_point`` are their compiled scalar twins with
the first and second derivatives in α, for the kernel of :mod:`.kernel`
(the tests hold the kernel's value against the numpy one and its
derivatives against finite differences). The branch conventions are pyhf
0.7.6's (``pyhf/interpolators/code*.py``), including which side a boundary
value belongs to (code 1: α = 0 uses the down variation; code 4: α = ±1 uses
the exponential; code 4p: α = ±1 uses the polynomial).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .compile import NORMSYS_CODE1

__all__ = [
    "histosys_code0",
    "histosys_code4p",
    "histosys_point",
    "normsys_code1",
    "normsys_code4",
    "normsys_point",
]


def normsys_code1(alpha: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Piecewise exponential factor: hi^α for α > 0, lo^(−α) otherwise."""
    return np.power(np.where(alpha > 0, hi, lo), np.abs(alpha))  # type: ignore[no-any-return]


def normsys_code4(
    alpha: np.ndarray, lo: np.ndarray, hi: np.ndarray, coef: np.ndarray
) -> np.ndarray:
    """Exponential outside |α| < 1, 1 + Σ_{i=1..6} a_i α^i inside (``coef`` [..., 6])."""
    a1, a2, a3, a4, a5, a6 = (coef[..., i] for i in range(6))
    poly = 1.0 + alpha * (
        a1 + alpha * (a2 + alpha * (a3 + alpha * (a4 + alpha * (a5 + alpha * a6))))
    )
    return np.where(np.abs(alpha) >= 1.0, normsys_code1(alpha, lo, hi), poly)  # type: ignore[no-any-return]


def histosys_code0(alpha: np.ndarray, up: np.ndarray, dn: np.ndarray) -> np.ndarray:
    """Piecewise linear shift: α·(hi − nom) for α > 0, α·(nom − lo) otherwise."""
    return alpha * np.where(alpha > 0, up, dn)  # type: ignore[no-any-return]


def histosys_code4p(alpha: np.ndarray, up: np.ndarray, dn: np.ndarray) -> np.ndarray:
    """Linear outside |α| ≤ 1, the 6th-order polynomial of pyhf's code 4p inside."""
    s = 0.5 * (up + dn)
    a = 0.0625 * (up - dn)
    a2 = alpha * alpha
    poly = alpha * s + a * a2 * (15.0 + a2 * (3.0 * a2 - 10.0))
    return np.where(  # type: ignore[no-any-return]
        alpha < -1.0, alpha * dn, np.where(alpha > 1.0, alpha * up, poly)
    )


@numba.njit(cache=True, nogil=True, error_model="numpy")
def normsys_point(alpha: float, kind: int, lo: float, hi: float, coef: np.ndarray) -> tuple:
    """Pyhf's normsys factor (codes 1 and 4) and its first two derivatives in α."""
    if kind == NORMSYS_CODE1 or abs(alpha) >= 1.0:
        base = hi if alpha > 0.0 else lo
        logb = math.log(base)
        value = base ** abs(alpha)
        d1 = (logb if alpha > 0.0 else -logb) * value
        return value, d1, logb * logb * value
    a1, a2, a3, a4, a5, a6 = coef[0], coef[1], coef[2], coef[3], coef[4], coef[5]
    x = alpha
    value = 1.0 + x * (a1 + x * (a2 + x * (a3 + x * (a4 + x * (a5 + x * a6)))))
    d1 = a1 + x * (2 * a2 + x * (3 * a3 + x * (4 * a4 + x * (5 * a5 + x * 6 * a6))))
    d2 = 2 * a2 + x * (6 * a3 + x * (12 * a4 + x * (20 * a5 + x * 30 * a6)))
    return value, d1, d2


@numba.njit(cache=True, nogil=True, error_model="numpy")
def histosys_point(alpha: float, code: int, up: float, dn: float) -> tuple:
    """Pyhf's histosys shift (codes 0 and 4p) and its first two derivatives in α."""
    if code == 0:
        slope = up if alpha > 0.0 else dn
        return alpha * slope, slope, 0.0
    if alpha > 1.0:
        return alpha * up, up, 0.0
    if alpha < -1.0:
        return alpha * dn, dn, 0.0
    s = 0.5 * (up + dn)
    a = 0.0625 * (up - dn)
    a2 = alpha * alpha
    value = alpha * s + a * a2 * (15.0 + a2 * (3.0 * a2 - 10.0))
    d1 = s + a * alpha * (30.0 + a2 * (18.0 * a2 - 40.0))
    return value, d1, a * (30.0 + a2 * (90.0 * a2 - 120.0))
