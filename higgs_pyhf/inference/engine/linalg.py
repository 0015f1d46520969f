"""Small dense symmetric solves for the Newton steps (compiled, numba).

Every matrix is first scaled to unit diagonal (Jacobi: D⁻¹ H D⁻¹ with
D = √|diag H|), so the tests below do not depend on the units of the
parameters: a normsys of ±10⁶ next to a normfactor gives diagonal entries
10¹⁶ apart and is still a well-conditioned problem. A matrix is *positive
definite* here when the Cholesky pivots of the scaled matrix stay above
10⁻¹²; the solves report it (the fitter declares convergence only where it
holds). Otherwise the curvature is floored: the eigenvalues of the scaled
matrix are raised to at least 10⁻¹² of the largest |eigenvalue| (and
10⁻³⁰⁰), so every step descends. Closed forms for 1×1 and 2×2.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["inverse_floor", "solve", "solve_floor"]

Arr = np.ndarray
#: The compiled functions: cached on disk, releasing the GIL, numpy float semantics.
_jit = numba.njit(cache=True, nogil=True, error_model="numpy")
#: Smallest pivot (eigenvalue) of the unit-diagonal matrix counted as positive definite.
_PD = 1e-12


@_jit
def solve_floor(h: Arr, rhs: Arr, out: Arr) -> bool:
    """Out = H⁺ rhs for symmetric H, eigenvalues of the scaled H floored; True if none was."""
    k = rhs.size
    if k == 1:
        d = h[0, 0]
        out[0] = rhs[0] / max(d, max(1e-12 * abs(d), 1e-300))
        return d > 0.0
    if k == 2:
        a, b, c = h[0, 0], h[0, 1], h[1, 1]
        det = a * c - b * b
        if a > 0.0 and det > _PD * max(a * c, 1e-300):
            out[0] = (c * rhs[0] - b * rhs[1]) / det
            out[1] = (a * rhs[1] - b * rhs[0]) / det
            return True
    sc = np.empty(k)
    for i in range(k):
        di = abs(h[i, i])
        sc[i] = 1.0 / math.sqrt(di) if di > 0.0 and math.isfinite(di) else 1.0
    hs = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            hs[i, j] = h[i, j] * sc[i] * sc[j]
    lam, vec = np.linalg.eigh(hs)
    top = 0.0
    for i in range(k):
        top = max(top, abs(lam[i]))
    floor = max(_PD * top, 1e-300)
    pd = True
    for i in range(k):
        out[i] = 0.0
    for j in range(k):
        if not lam[j] > floor:
            pd = False
        proj = 0.0
        for i in range(k):
            proj += vec[i, j] * rhs[i] * sc[i]
        proj /= max(lam[j], floor)
        for i in range(k):
            out[i] += vec[i, j] * proj
    for i in range(k):
        out[i] *= sc[i]
    return pd


@_jit
def solve(h: Arr, rhs: Arr, out: Arr, lmat: Arr) -> bool:
    """Out = H⁻¹ rhs by Cholesky of the scaled H; :func:`solve_floor` where it is not PD.

    Returns whether H is positive definite (no flooring was needed).
    """
    k = rhs.size
    for i in range(k):
        if not (h[i, i] > 0.0 and math.isfinite(h[i, i])):
            return solve_floor(np.ascontiguousarray(h), rhs, out)
    for i in range(k):
        si = 1.0 / math.sqrt(h[i, i])
        for j in range(i + 1):
            s = h[i, j] * si / math.sqrt(h[j, j])
            for m in range(j):
                s -= lmat[i, m] * lmat[j, m]
            if i == j:
                if not s > _PD:
                    return solve_floor(np.ascontiguousarray(h), rhs, out)
                lmat[i, i] = math.sqrt(s)
            else:
                lmat[i, j] = s / lmat[j, j]
    for i in range(k):
        s = rhs[i] / math.sqrt(h[i, i])
        for m in range(i):
            s -= lmat[i, m] * out[m]
        out[i] = s / lmat[i, i]
    for i in range(k - 1, -1, -1):
        s = out[i]
        for m in range(i + 1, k):
            s -= lmat[m, i] * out[m]
        out[i] = s / lmat[i, i]
    for i in range(k):
        out[i] /= math.sqrt(h[i, i])
    return True


@_jit
def inverse_floor(h: Arr, out: Arr) -> bool:
    """Out = H⁻¹ for a small symmetric H, floored as in :func:`solve_floor`; True if PD."""
    k = h.shape[0]
    if k == 1:
        d = h[0, 0]
        out[0, 0] = 1.0 / max(d, max(1e-12 * abs(d), 1e-300))
        return d > 0.0
    if k == 2:
        a, b, c = h[0, 0], h[0, 1], h[1, 1]
        det = a * c - b * b
        if a > 0.0 and det > _PD * max(a * c, 1e-300):
            out[0, 0] = c / det
            out[1, 1] = a / det
            out[0, 1] = out[1, 0] = -b / det
            return True
    e = np.zeros(k)
    col = np.empty(k)
    pd = True
    for j in range(k):
        e[:] = 0.0
        e[j] = 1.0
        pd = solve_floor(h, e, col) and pd
        for i in range(k):
            out[i, j] = col[i]
    return pd
