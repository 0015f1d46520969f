"""Compiled kernel for models whose prediction is linear in the free parameters.

When every free parameter is a normfactor (no free constrained or per-bin
parameter) the main prediction is ν = c + Σ_k θ_k t_k and −2 ln L is convex in
θ. Such fits — the two-normfactor H→4ℓ model and every fixed-nuisance
conditional fit — run through one compiled (numba, ``cache=True``) bounded
Newton loop per toy, with no temporary arrays:

- projected Newton with an active set (bounds), Cholesky solve of the free block;
- no log evaluations while iterating: convexity gives f(θ₁) ≤ f(θ₀) whenever
  ∇f(θ₁)·(θ₁ − θ₀) ≤ 0, which the next iteration checks for free with its
  gradient (a small overshoot, up to half the initial slope, is accepted too);
  otherwise an Armijo test on the values decides, and failed steps are halved;
- stop when the Newton decrement is below ``tol``, after one last full step;
- ln Γ(n + 1) from a table for integer counts.

Toys that fail (iteration limit, empty predictions) are flagged and go to the
general fitter's fallback path.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np

from .compile import CompiledModel
from .constraints import log_gamma
from .likelihood import expected_main

__all__ = ["LinearStructure", "fit_linear", "linear_structure"]


class LinearStructure(NamedTuple):
    """ν = constant + θ @ templates for the free parameters ``index``."""

    par_index: np.ndarray
    constant: np.ndarray
    templates: np.ndarray


def linear_structure(
    cm: CompiledModel, free: np.ndarray, base: np.ndarray
) -> LinearStructure | None:
    """The linear structure of ``cm`` in its free parameters at ``base``, or None.

    Args:
        cm: the compiled model.
        free: (P,) which parameters are fitted.
        base: (P,) values of the fixed parameters.
    """
    idx = np.flatnonzero(free)
    if idx.size == 0 or idx.size > 8 or np.any(cm.par_con[idx] >= 0):
        return None
    gset = set(cm.global_par.tolist())
    if not all(int(i) in gset for i in idx) or np.any(np.isin(cm.global_par[cm.hist_par], idx)):
        return None
    # each block may carry at most one free factor, entering linearly
    g_of = {int(p): k for k, p in enumerate(cm.global_par)}
    gfree = [g_of[int(i)] for i in idx]
    for kappa in range(cm.fac_par.shape[0]):
        row = cm.fac_par[kappa]
        hits = [k for k in range(row.size) if row[k] in gfree]
        if len(hits) > 1 or any(cm.fac_kind[kappa, k] != 0 for k in hits):
            return None
    x = np.broadcast_to(base, (idx.size + 1, cm.npars)).copy()
    x[:, idx] = 0.0
    x[np.arange(1, idx.size + 1), idx] = 1.0
    nu = expected_main(cm, x)
    return LinearStructure(idx, nu[0], nu[1:] - nu[0])


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _chol_solve(
    h: np.ndarray, g: np.ndarray, free: np.ndarray, out: np.ndarray, lmat: np.ndarray, y: np.ndarray
) -> bool:
    """Solve H d = −g on the free coordinates (d = 0 elsewhere); False if H is not PD."""
    k = g.size
    for i in range(k):
        out[i] = 0.0
        y[i] = 0.0
    for i in range(k):
        if not free[i]:
            continue
        for j in range(i + 1):
            if not free[j]:
                continue
            s = h[i, j]
            for m in range(j):
                if free[m]:
                    s -= lmat[i, m] * lmat[j, m]
            if i == j:
                if not s > 1e-300:
                    return False
                lmat[i, i] = math.sqrt(s)
            else:
                lmat[i, j] = s / lmat[j, j]
    for i in range(k):
        if free[i]:
            s = -g[i]
            for m in range(i):
                if free[m]:
                    s -= lmat[i, m] * y[m]
            y[i] = s / lmat[i, i]
    for i in range(k - 1, -1, -1):
        if free[i]:
            s = y[i]
            for m in range(i + 1, k):
                if free[m]:
                    s -= lmat[m, i] * out[m]
            out[i] = s / lmat[i, i]
    return True


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _value(n: np.ndarray, c: np.ndarray, t: np.ndarray, th: np.ndarray) -> float:
    """Σ_b (ν_b − n_b ln ν_b) at θ (+inf where ν_b ≤ 0 with data)."""
    s = 0.0
    for b in range(c.size):
        v = c[b]
        for a in range(th.size):
            v += th[a] * t[a, b]
        if n[b] > 0.0:
            if v <= 0.0:
                return math.inf
            s += v - n[b] * math.log(v)
        else:
            s += v
    return s


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _accumulate2(
    ni: np.ndarray, c: np.ndarray, tt: np.ndarray, th: np.ndarray, g: np.ndarray, h: np.ndarray
) -> bool:
    """Gradient and Hessian for two parameters (the common case, unrolled, branch-free)."""
    g0 = g1 = h00 = h01 = h11 = 0.0
    t0, t1 = th[0], th[1]
    vmin = math.inf
    for b in range(c.size):
        x0, x1 = tt[b, 0], tt[b, 1]
        v = c[b] + t0 * x0 + t1 * x1
        vmin = min(vmin, v)
        r = ni[b] / v
        w = 2.0 - 2.0 * r
        u = 2.0 * r / v
        g0 += w * x0
        g1 += w * x1
        ux0 = u * x0
        h00 += ux0 * x0
        h01 += ux0 * x1
        h11 += u * x1 * x1
    if vmin <= 0.0:
        # some ν_b ≤ 0: redo the sums with the empty bins treated exactly
        g0 = g1 = h00 = h01 = h11 = 0.0
        for b in range(c.size):
            x0, x1 = tt[b, 0], tt[b, 1]
            v = c[b] + t0 * x0 + t1 * x1
            if v < 0.0 or (v == 0.0 and ni[b] > 0.0):
                return False
            if v > 0.0:
                r = ni[b] / v
                w = 2.0 - 2.0 * r
                u = 2.0 * r / v
            else:
                w, u = 2.0, 0.0
            g0 += w * x0
            g1 += w * x1
            h00 += u * x0 * x0
            h01 += u * x0 * x1
            h11 += u * x1 * x1
    g[0], g[1] = g0, g1
    h[0, 0], h[0, 1], h[1, 0], h[1, 1] = h00, h01, h01, h11
    return True


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _fit_linear_kernel(
    n: np.ndarray,
    c: np.ndarray,
    t: np.ndarray,
    init: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    lgam: np.ndarray,
    tol: float,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    bsz, nb = n.shape
    k = t.shape[0]
    theta = np.empty((bsz, k))
    value = np.empty(bsz)
    conv = np.zeros(bsz, dtype=np.bool_)
    iters = np.zeros(bsz, dtype=np.int64)
    tt = np.ascontiguousarray(t.T)
    g = np.empty(k)
    h = np.empty((k, k))
    d = np.empty(k)
    th = np.empty(k)
    prev = np.empty(k)
    free = np.empty(k, dtype=np.bool_)
    lmat = np.zeros((k, k))
    y = np.zeros(k)
    for i in range(bsz):
        for a in range(k):
            th[a] = min(max(init[a], lo[a]), hi[a])
            prev[a] = th[a]
        verify = False
        ok = False
        ni = n[i]
        slope = 0.0
        it = 0
        while it < max_iter:
            it += 1
            valid = True
            for a in range(k):
                g[a] = 0.0
                for a2 in range(k):
                    h[a, a2] = 0.0
            if k == 2:
                valid = _accumulate2(ni, c, tt, th, g, h)
            for b in range(nb if k != 2 else 0):
                v = c[b]
                for a in range(k):
                    v += th[a] * tt[b, a]
                nib = ni[b]
                if v > 0.0:
                    inv = 1.0 / v
                    r = nib * inv
                    w = 2.0 - 2.0 * r
                    u = 2.0 * r * inv
                else:
                    if v < 0.0 or nib > 0.0:
                        valid = False
                    w = 2.0
                    u = 0.0
                for a in range(k):
                    ta = tt[b, a]
                    g[a] += w * ta
                    ua = u * ta
                    for a2 in range(a + 1):
                        h[a, a2] += ua * tt[b, a2]
            for a in range(k):
                for a2 in range(a):
                    h[a2, a] = h[a, a2]
            if verify:
                gd = 0.0
                if valid:
                    for a in range(k):
                        gd += g[a] * (th[a] - prev[a])
                # gd ≤ 0 proves a decrease (convexity); a small overshoot, gd ≤ |slope|/2,
                # is accepted too: for this convex f acceptance only shapes the path,
                # the stopping test (Newton decrement) certifies the minimum
                accept = valid and gd <= -0.5 * slope
                if valid and not accept:
                    # the cheap convexity test failed: Armijo on the values
                    fnew = _value(n[i], c, t, th)
                    fold = _value(n[i], c, t, prev)
                    accept = fnew <= fold + 1e-4 * slope + 1e-13 * abs(fold)
                if not accept:
                    small = True
                    for a in range(k):
                        th[a] = 0.5 * (th[a] + prev[a])
                        if abs(th[a] - prev[a]) > 1e-15 * (1.0 + abs(prev[a])):
                            small = False
                    slope *= 0.5
                    if small:
                        for a in range(k):
                            th[a] = prev[a]
                        verify = False
                    continue
                verify = False
            if not valid:
                break
            for a in range(k):
                free[a] = not ((th[a] <= lo[a] and g[a] > 0.0) or (th[a] >= hi[a] and g[a] < 0.0))
            if k == 2 and free[0] and free[1]:
                det = h[0, 0] * h[1, 1] - h[0, 1] * h[0, 1]
                if not (h[0, 0] > 0.0 and det > 1e-14 * h[0, 0] * h[1, 1]):
                    break  # singular curvature (e.g. no events): the fallback path
                d[0] = -(h[1, 1] * g[0] - h[0, 1] * g[1]) / det
                d[1] = -(h[0, 0] * g[1] - h[0, 1] * g[0]) / det
            elif not _chol_solve(h, g, free, d, lmat, y):
                break
            dec = 0.0
            for a in range(k):
                dec -= g[a] * d[a]
            slope = 0.0
            for a in range(k):
                prev[a] = th[a]
                th[a] = min(max(th[a] + d[a], lo[a]), hi[a])
                slope += g[a] * (th[a] - prev[a])
            verify = True
            if dec <= tol:
                # quadratic convergence: this last step is ~dec² from the minimum
                ok = True
                break
        for a in range(k):
            theta[i, a] = th[a]
        iters[i] = it
        s = 0.0
        for b in range(nb):
            v = c[b]
            for a in range(k):
                v += th[a] * t[a, b]
            nb_ = n[i, b]
            if nb_ > 0.0:
                s += v - nb_ * math.log(v) if v > 0.0 else math.inf
            else:
                s += v
            j = int(nb_)
            s += lgam[j] if j == nb_ and j < lgam.size else math.lgamma(nb_ + 1.0)
        value[i] = 2.0 * s
        conv[i] = ok and s < math.inf
    return theta, value, conv, iters


def fit_linear(
    ls: LinearStructure,
    n: np.ndarray,
    init: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    *,
    tol: float,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fit the free parameters of every toy (main data ``n`` [B, N]).

    Returns:
        ``(theta [B, K], main_twice_nll [B], converged [B], n_iter [B])``;
        ``main_twice_nll`` is −2 ln of the Poisson main terms, ln Γ included.
    """
    top = int(min(np.max(n, initial=0.0), 1e6)) + 2
    lgam = log_gamma(np.arange(top) + 1.0)
    return _fit_linear_kernel(  # type: ignore[no-any-return]
        np.asarray(n, dtype=float),  # a strided view of the data is fine: no copy
        np.ascontiguousarray(ls.constant),
        np.ascontiguousarray(ls.templates),
        np.ascontiguousarray(init, dtype=float),
        np.ascontiguousarray(lo, dtype=float),
        np.ascontiguousarray(hi, dtype=float),
        lgam,
        tol,
        max_iter,
    )
