"""Small dense symmetric solves for the Newton steps (compiled, numba).

Curvature that is negative or vanishing is floored: the eigenvalues of H are
raised to at least 10⁻¹² of the largest |eigenvalue| (and 10⁻³⁰⁰), so every
step descends. Positive definite matrices take the fast paths (closed forms
for 1×1 and 2×2, Cholesky otherwise) and only the others the eigen-decomposition.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["inverse_floor", "solve", "solve_floor"]

Arr = np.ndarray
#: The compiled functions: cached on disk, releasing the GIL, numpy float semantics.
_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


@_jit
def solve_floor(h: Arr, rhs: Arr, out: Arr) -> None:
    """Out = H⁺ rhs for symmetric H with its eigenvalues floored (positive definite)."""
    k = rhs.size
    if k == 1:
        d = h[0, 0]
        out[0] = rhs[0] / max(d, max(1e-12 * abs(d), 1e-300))
        return
    if k == 2:
        a, b, c = h[0, 0], h[0, 1], h[1, 1]
        det = a * c - b * b
        if a > 0.0 and det > 1e-12 * max(a * c, 1e-300):
            out[0] = (c * rhs[0] - b * rhs[1]) / det
            out[1] = (a * rhs[1] - b * rhs[0]) / det
            return
    lam, vec = np.linalg.eigh(h)
    top = 0.0
    for i in range(k):
        top = max(top, abs(lam[i]))
    floor = max(1e-12 * top, 1e-300)
    for i in range(k):
        out[i] = 0.0
    for j in range(k):
        proj = 0.0
        for i in range(k):
            proj += vec[i, j] * rhs[i]
        proj /= max(lam[j], floor)
        for i in range(k):
            out[i] += vec[i, j] * proj


@_jit
def solve(h: Arr, rhs: Arr, out: Arr, lmat: Arr) -> None:
    """Out = H⁻¹ rhs by Cholesky; :func:`solve_floor` where H is not safely positive definite."""
    k = rhs.size
    top = 0.0
    for i in range(k):
        top = max(top, abs(h[i, i]))
    for i in range(k):
        for j in range(i + 1):
            s = h[i, j]
            for m in range(j):
                s -= lmat[i, m] * lmat[j, m]
            if i == j:
                if not s > 1e-12 * top:
                    solve_floor(np.ascontiguousarray(h), rhs, out)
                    return
                lmat[i, i] = math.sqrt(s)
            else:
                lmat[i, j] = s / lmat[j, j]
    for i in range(k):
        s = rhs[i]
        for m in range(i):
            s -= lmat[i, m] * out[m]
        out[i] = s / lmat[i, i]
    for i in range(k - 1, -1, -1):
        s = out[i]
        for m in range(i + 1, k):
            s -= lmat[m, i] * out[m]
        out[i] = s / lmat[i, i]


@_jit
def inverse_floor(h: Arr, out: Arr) -> None:
    """Out = H⁻¹ for a small symmetric H, eigenvalues floored as in :func:`solve_floor`."""
    k = h.shape[0]
    if k == 1:
        d = h[0, 0]
        out[0, 0] = 1.0 / max(d, max(1e-12 * abs(d), 1e-300))
        return
    if k == 2:
        a, b, c = h[0, 0], h[0, 1], h[1, 1]
        det = a * c - b * b
        if a > 0.0 and det > 1e-12 * max(a * c, 1e-300):
            out[0, 0] = c / det
            out[1, 1] = a / det
            out[0, 1] = out[1, 0] = -b / det
            return
    e = np.zeros(k)
    col = np.empty(k)
    for j in range(k):
        e[:] = 0.0
        e[j] = 1.0
        solve_floor(h, e, col)
        for i in range(k):
            out[i, j] = col[i]
