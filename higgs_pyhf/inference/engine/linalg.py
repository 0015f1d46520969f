"""Small dense symmetric solves for the Newton steps (compiled, numba).

Every matrix is first scaled to unit diagonal (Jacobi: D⁻¹ H D⁻¹ with
D = √|diag H|), so the tests below do not depend on the units of the
parameters: a normsys of ±10⁶ next to a normfactor gives diagonal entries
10¹⁶ apart and is still a well-conditioned problem. A matrix is *positive
definite* here when the Cholesky pivots of the scaled matrix stay above
10⁻¹²; the solves report it (the fitter declares convergence only where it
holds). Otherwise the curvature is floored: the eigenvalues of the scaled
matrix are raised to at least 10⁻¹² of the largest |eigenvalue| (and
10⁻³⁰⁰), so every step descends. Closed forms for 1×1 and 2×2. Large
sparse matrices have their own solves (:mod:`.envelope_linalg`).

Everything here runs on the calling thread: the eigen-decomposition is the
engine's own (Householder reduction to tridiagonal form, then implicit QR
steps with Wilkinson shifts), not LAPACK's, whose multithreaded BLAS would
compete with ``--workers`` for the cores (30 ms per call on a busy machine
against ~1 ms on one thread). ``--workers`` stays the only parallelism.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "eigh_small",
    "inverse_floor",
    "inverse_pd",
    "solve",
    "solve_floor",
]

Arr = np.ndarray
#: The compiled functions: cached on disk, releasing the GIL, numpy float semantics.
_jit = numba.njit(cache=True, nogil=True, error_model="numpy")
#: The same, inlined into the caller (small helpers called inside loops).
_inline = numba.njit(inline="always", cache=True, nogil=True, error_model="numpy")
#: Smallest pivot (eigenvalue) of the unit-diagonal matrix counted as positive definite.
_PD = 1e-12


@_jit
def _rotate(t: Arr, q: Arr, k: int, c: float, s: float, lo: int, hi: int) -> None:
    """T ← R T Rᵀ on rows/columns k, k+1 inside [lo, hi]; Q ← Q Rᵀ (R a Givens rotation)."""
    for j in range(lo, hi + 1):
        a, b = t[k, j], t[k + 1, j]
        t[k, j] = c * a + s * b
        t[k + 1, j] = c * b - s * a
    for i in range(lo, hi + 1):
        a, b = t[i, k], t[i, k + 1]
        t[i, k] = c * a + s * b
        t[i, k + 1] = c * b - s * a
    for i in range(q.shape[0]):
        a, b = q[i, k], q[i, k + 1]
        q[i, k] = c * a + s * b
        q[i, k + 1] = c * b - s * a


@_jit
def _tridiagonalize(t: Arr, q: Arr) -> None:
    """A = Q T Qᵀ in place (T tridiagonal) by Householder reflections."""
    k = t.shape[0]
    v = np.empty(k)
    w = np.empty(k)
    for j in range(k - 2):
        norm = 0.0
        for i in range(j + 1, k):
            norm += t[i, j] * t[i, j]
        norm = math.sqrt(norm)
        if norm == 0.0:
            continue
        alpha = -norm if t[j + 1, j] >= 0.0 else norm
        vn = 0.0
        for i in range(j + 1, k):
            v[i] = t[i, j]
        v[j + 1] -= alpha
        for i in range(j + 1, k):
            vn += v[i] * v[i]
        vn = math.sqrt(vn)
        if vn == 0.0:
            continue
        for i in range(j + 1, k):
            v[i] /= vn
        kk = 0.0
        for i in range(j + 1, k):
            s = 0.0
            for m in range(j + 1, k):
                s += t[i, m] * v[m]
            w[i] = s
            kk += v[i] * s
        for i in range(j + 1, k):
            w[i] -= kk * v[i]
        for i in range(j + 1, k):
            for m in range(j + 1, k):
                t[i, m] -= 2.0 * (v[i] * w[m] + w[i] * v[m])
        t[j + 1, j] = t[j, j + 1] = alpha
        for i in range(j + 2, k):
            t[i, j] = t[j, i] = 0.0
        for i in range(k):
            s = 0.0
            for m in range(j + 1, k):
                s += q[i, m] * v[m]
            for m in range(j + 1, k):
                q[i, m] -= 2.0 * s * v[m]


@_jit
def eigh_small(a: Arr, lam: Arr, vec: Arr) -> bool:
    """Eigenvalues ``lam`` and eigenvectors (columns of ``vec``) of a symmetric ``a`` (its lower triangle).

    Single-threaded, unordered. Returns False (and NaN everywhere) if ``a``
    is not finite or the QR iteration does not converge.
    """
    k = a.shape[0]
    t = np.empty((k, k))
    ok = True
    for i in range(k):
        for j in range(k):
            t[i, j] = a[i, j] if i >= j else a[j, i]  # the lower triangle, as LAPACK reads it
            ok = ok and math.isfinite(t[i, j])
            vec[i, j] = 1.0 if i == j else 0.0
    if ok:
        _tridiagonalize(t, vec)
    eps = 2.220446049250313e-16
    m = k - 1
    budget = 60 * k
    while ok and m > 0:
        if abs(t[m, m - 1]) <= eps * (abs(t[m, m]) + abs(t[m - 1, m - 1])):
            t[m, m - 1] = t[m - 1, m] = 0.0
            m -= 1
            continue
        budget -= 1
        if budget < 0:
            ok = False
            break
        lo = m - 1
        while lo > 0 and abs(t[lo, lo - 1]) > eps * (abs(t[lo, lo]) + abs(t[lo - 1, lo - 1])):
            lo -= 1
        delta = 0.5 * (t[m - 1, m - 1] - t[m, m])
        e = t[m, m - 1]
        den = delta + math.copysign(math.hypot(delta, e), delta)
        mu = t[m, m] - e * e / den if den != 0.0 else t[m, m]
        x = t[lo, lo] - mu
        z = t[lo + 1, lo]
        for i in range(lo, m):
            if i > lo:
                x = t[i, i - 1]
                z = t[i + 1, i - 1]
            r = math.hypot(x, z)
            if r == 0.0:
                c, s = 1.0, 0.0
            else:
                c, s = x / r, z / r
            _rotate(t, vec, i, c, s, max(lo, i - 1), min(m, i + 2))
            if i > lo:
                t[i + 1, i - 1] = t[i - 1, i + 1] = 0.0
    for i in range(k):
        lam[i] = t[i, i] if ok else np.nan
        if not ok:
            vec[i, :] = np.nan
    return ok


@_jit
def _floored_eigen(h: Arr) -> tuple[Arr, Arr, Arr, bool]:
    """Eigen-decomposition of the unit-diagonal D⁻¹HD⁻¹, its eigenvalues floored.

    Returns ``(sc, lam, vec, pd)``: D⁻¹ (D = √|diag H|, 1 where it vanishes or
    is not finite), the eigenvalues raised to the floor (10⁻¹² of the largest
    |eigenvalue|, and 10⁻³⁰⁰), the eigenvectors (columns), and whether none
    was raised.
    """
    k = h.shape[0]
    sc = np.empty(k)
    lam = np.empty(k)
    vec = np.empty((k, k))
    for i in range(k):
        di = abs(h[i, i])
        sc[i] = 1.0 / math.sqrt(di) if di > 0.0 and math.isfinite(di) else 1.0
    hs = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            hs[i, j] = h[i, j] * sc[i] * sc[j]
    eigh_small(hs, lam, vec)
    top = 0.0
    for i in range(k):
        top = max(top, abs(lam[i]))
    floor = max(_PD * top, 1e-300)
    pd = True
    for m in range(k):
        if not lam[m] > floor:
            pd = False
        lam[m] = max(lam[m], floor)
    return sc, lam, vec, pd


@_jit
def _floor_1x1(d: float) -> float:
    """The 1×1 matrix (d) with its curvature floored as :func:`_floored_eigen` floors eigenvalues."""
    return max(d, max(1e-12 * abs(d), 1e-300))


@_jit
def _det_pd_2x2(h: Arr) -> float:
    """The determinant of a 2×2 symmetric H where H is positive definite (scaled pivot > 10⁻¹²), else 0."""
    a, b, c = h[0, 0], h[0, 1], h[1, 1]
    det = a * c - b * b
    return det if a > 0.0 and det > _PD * max(a * c, 1e-300) else 0.0


@_jit
def solve_floor(h: Arr, rhs: Arr, out: Arr) -> bool:
    """Out = H⁺ rhs for symmetric H, eigenvalues of the scaled H floored; True if none was."""
    k = rhs.size
    if k == 1:
        out[0] = rhs[0] / _floor_1x1(h[0, 0])
        return h[0, 0] > 0.0
    if k == 2:
        det = _det_pd_2x2(h)
        if det > 0.0:
            out[0] = (h[1, 1] * rhs[0] - h[0, 1] * rhs[1]) / det
            out[1] = (h[0, 0] * rhs[1] - h[0, 1] * rhs[0]) / det
            return True
    sc, lam, vec, pd = _floored_eigen(h)
    for i in range(k):
        out[i] = 0.0
    for j in range(k):
        proj = 0.0
        for i in range(k):
            proj += vec[i, j] * rhs[i] * sc[i]
        proj /= lam[j]
        for i in range(k):
            out[i] += vec[i, j] * proj
    for i in range(k):
        out[i] *= sc[i]
    return pd


@_jit
def _unit_scale(h: Arr, sc: Arr) -> bool:
    """D⁻¹ = 1/√diag H into ``sc``; False if a diagonal entry is ≤ 0 or not finite."""
    for i in range(sc.size):
        if not (h[i, i] > 0.0 and math.isfinite(h[i, i])):
            return False
        sc[i] = 1.0 / math.sqrt(h[i, i])
    return True


@_inline
def _pivot(lmat: Arr, i: int, j: int, s: float) -> bool:
    """Entry (i, j) of a Cholesky factor from ``s``, H's entry less the row products.

    On the diagonal √s, where ``s`` passes the positive-definite test
    (> 10⁻¹²; False otherwise), below it s / L[j, j].
    """
    if i == j:
        if not s > _PD:
            return False
        lmat[i, i] = math.sqrt(s)
    else:
        lmat[i, j] = s / lmat[j, j]
    return True


@_jit
def _factor_scaled(h: Arr, sc: Arr, tau: float, lmat: Arr) -> bool:
    """Cholesky L of S H S + τI (S = diag ``sc``) into ``lmat``; False if a pivot ≤ 10⁻¹².

    Reads H's lower triangle. :func:`.envelope_linalg._factor_envelope` is the
    same within an envelope; this dense loop is kept apart because it runs
    ~1.5× faster for a dense H (its inner loop starts at 0).
    """
    k = h.shape[0]
    for i in range(k):
        for j in range(i + 1):
            s = h[i, j] * sc[i] * sc[j]
            if i == j:
                s += tau
            for m in range(j):
                s -= lmat[i, m] * lmat[j, m]
            if not _pivot(lmat, i, j, s):
                return False
    return True


@_jit
def _substitute(lmat: Arr, out: Arr) -> None:
    """Out ← (L Lᵀ)⁻¹ out in place: forward, then back substitution with the factor ``lmat``."""
    k = out.size
    for i in range(k):
        s = out[i]
        for m in range(i):
            s -= lmat[i, m] * out[m]
        out[i] = s / lmat[i, i]
    for i in range(k - 1, -1, -1):
        s = out[i]
        for m in range(i + 1, k):
            s -= lmat[m, i] * out[m]
        out[i] = s / lmat[i, i]


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
            if not _pivot(lmat, i, j, s):
                return solve_floor(np.ascontiguousarray(h), rhs, out)
    for i in range(k):
        out[i] = rhs[i] / math.sqrt(h[i, i])
    _substitute(lmat, out)
    for i in range(k):
        out[i] /= math.sqrt(h[i, i])
    return True


@_jit
def inverse_floor(h: Arr, out: Arr) -> bool:
    """Out = H⁻¹ for a small symmetric H, floored as in :func:`solve_floor`; True if PD."""
    k = h.shape[0]
    if k == 1:
        out[0, 0] = 1.0 / _floor_1x1(h[0, 0])
        return h[0, 0] > 0.0
    if k == 2:
        det = _det_pd_2x2(h)
        if det > 0.0:
            out[0, 0] = h[1, 1] / det
            out[1, 1] = h[0, 0] / det
            out[0, 1] = out[1, 0] = -h[0, 1] / det
            return True
    sc, lam, vec, pd = _floored_eigen(h)
    for m in range(k):
        lam[m] = 1.0 / lam[m]
    for i in range(k):
        for j in range(i + 1):
            s = 0.0
            for m in range(k):
                s += vec[i, m] * lam[m] * vec[j, m]
            out[i, j] = out[j, i] = s * sc[i] * sc[j]
    return pd


@_jit
def inverse_pd(h: Arr, out: Arr) -> bool:
    """Out = H⁻¹ by Cholesky of the unit-diagonal scaled H, on this thread; False if H is not PD.

    Where it returns False ``out`` is undefined: the caller inverts otherwise.
    """
    k = h.shape[0]
    sc = np.empty(k)
    lmat = np.zeros((k, k))
    if not (_unit_scale(h, sc) and _factor_scaled(h, sc, 0.0, lmat)):
        return False
    wt = np.zeros((k, k))  # (L⁻¹)ᵀ: row j is column j of L⁻¹ (contiguous inner loops)
    for j in range(k):
        wt[j, j] = 1.0 / lmat[j, j]
        for i in range(j + 1, k):
            s = 0.0
            for m in range(j, i):
                s -= lmat[i, m] * wt[j, m]
            wt[j, i] = s / lmat[i, i]
    for i in range(k):  # (LLᵀ)⁻¹ = L⁻ᵀ L⁻¹
        for j in range(i + 1):
            s = 0.0
            for m in range(i, k):
                s += wt[i, m] * wt[j, m]
            out[i, j] = out[j, i] = s * sc[i] * sc[j]
    return True
