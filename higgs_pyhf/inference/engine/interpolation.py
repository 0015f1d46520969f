"""pyhf's interpolation codes with their first and second derivatives in α.

Each function returns ``(value, d_value/dα, d²value/dα²)``, broadcasting α
against the per-entry constants. The branch conventions are pyhf 0.7.6's
(``pyhf/interpolators/code*.py``), including which side a boundary value
belongs to (code 1: α = 0 uses the down variation; code 4: α = ±1 uses the
exponential; code 4p: α = ±1 uses the polynomial).
"""

from __future__ import annotations

import numpy as np

__all__ = ["histosys_code0", "histosys_code4p", "normsys_code1", "normsys_code4"]


def normsys_code1(
    alpha: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Piecewise exponential factor: hi^α for α > 0, lo^(−α) otherwise."""
    up = alpha > 0
    base = np.where(up, hi, lo)
    logb = np.log(base)
    value = np.power(base, np.abs(alpha))
    d1 = np.where(up, logb, -logb) * value
    return value, d1, logb * logb * value


def normsys_code4(
    alpha: np.ndarray, lo: np.ndarray, hi: np.ndarray, coef: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exponential outside |α| < 1, 1 + Σ_{i=1..6} a_i α^i inside (``coef`` [..., 6])."""
    a1, a2, a3, a4, a5, a6 = (coef[..., i] for i in range(6))
    poly = 1.0 + alpha * (
        a1 + alpha * (a2 + alpha * (a3 + alpha * (a4 + alpha * (a5 + alpha * a6))))
    )
    dpoly = a1 + alpha * (
        2 * a2 + alpha * (3 * a3 + alpha * (4 * a4 + alpha * (5 * a5 + alpha * 6 * a6)))
    )
    d2poly = 2 * a2 + alpha * (6 * a3 + alpha * (12 * a4 + alpha * (20 * a5 + alpha * 30 * a6)))
    ev, ed1, ed2 = normsys_code1(alpha, lo, hi)
    outside = np.abs(alpha) >= 1.0
    return (
        np.where(outside, ev, poly),
        np.where(outside, ed1, dpoly),
        np.where(outside, ed2, d2poly),
    )


def histosys_code0(
    alpha: np.ndarray, up: np.ndarray, dn: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Piecewise linear shift: α·(hi − nom) for α > 0, α·(nom − lo) otherwise."""
    slope = np.where(alpha > 0, up, dn)
    return alpha * slope, slope, np.zeros_like(slope)


def histosys_code4p(
    alpha: np.ndarray, up: np.ndarray, dn: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear outside |α| ≤ 1, the 6th-order polynomial of pyhf's code 4p inside."""
    s = 0.5 * (up + dn)
    a = 0.0625 * (up - dn)
    a2 = alpha * alpha
    poly = alpha * s + a * a2 * (15.0 + a2 * (3.0 * a2 - 10.0))
    dpoly = s + a * alpha * (30.0 + a2 * (18.0 * a2 - 40.0))
    d2poly = a * (30.0 + a2 * (90.0 * a2 - 120.0))
    hi_side = alpha > 1.0
    lo_side = alpha < -1.0
    value = np.where(lo_side, alpha * dn, np.where(hi_side, alpha * up, poly))
    d1 = np.where(lo_side, dn, np.where(hi_side, up, dpoly))
    d2 = np.where(lo_side | hi_side, 0.0, d2poly)
    return value, d1, d2
