"""Compiled bounded Newton fits of −2 ln L, per-bin nuisances eliminated bin by bin.

One compiled (numba, ``nogil``) loop fits the toys one after the other; each
iteration:

1. −2 ln L, gradient and Hessian blocks at the current point (:func:`.kernel.evaluate`);
2. an active set: free parameters at a bound whose gradient points outwards
   are held for the step;
3. the Newton step by block elimination: the local (per-bin) parameters of
   each bin couple only to each other and to the globals, so the globals
   solve the Schur complement
   ``(H_gg − Σ_b H_gl H_ll⁻¹ H_lg) d_g = −(g_g − Σ_b H_gl H_ll⁻¹ g_l)`` and
   ``d_l = −H_ll⁻¹ (g_l + H_lg d_g)`` per bin; the cost grows as N·G²·Kl + G³,
   not (N·Kl)³. Negative or vanishing curvature is floored (:mod:`.linalg`),
   so the step descends;
4. the step is projected on the bounds; in bins with a single free per-bin
   parameter γ that parameter is then re-profiled in closed form
   (Barlow–Beeston-lite, below), so the globals move on the profiled
   likelihood (whose gradient is the global gradient, by the envelope
   theorem, and whose Hessian is the Schur complement);
5. Armijo backtracking where the step does not decrease −2 ln L enough.

A per-bin γ whose Poisson constraint has an auxiliary count of 0 (a valid
toy: Pois(0 | τγ) = e^{−τγ}) has no curvature from its constraint; where its
bin has no events either, −2 ln L falls linearly towards γ = 0 and a Newton
step is meaningless. Such γ are profiled in closed form too (given the other
parameters, each γ enters ν_b linearly), before every Newton step: at the
bound they are active and drop out of the step.

A toy has converged when its Newton decrement gᵀH⁻¹g (the projected
gradient scaled by the Hessian, ~2·EDM) falls below ``tol`` *and* the
Hessian of its free, inactive parameters is positive definite without
flooring (:mod:`.linalg`): a criterion that cannot pass at a non-stationary
point. The loop continues while steps decrease −2 ln L; ``max_iter`` is only
a guard. A toy that stops otherwise (the guard, non-finite values, no
decrease, a Hessian that is not positive definite) keeps its best point and
its ``status``; the caller (:mod:`.fitter`) refits it on the safeguarded
path from there.

Closed-form γ̂: where ν_b = A + γC (A, C independent of γ), the stationarity
condition of 2(ν_b − n_b ln ν_b) + c(γ), times ν_b (and γ for a Poisson
constraint), is a quadratic a₂γ² + a₁γ + a₀ = 0:

- normal constraint c = (γ − a)²/σ²: a₂ = C, a₁ = σ²C² + A − aC, a₀ = σ²C(A − n) − aA;
- Poisson constraint c = −2(a ln(τγ) − τγ): a₂ = (C + τ)C, a₁ = (C + τ)A − (n + a)C, a₀ = −aA;
- no constraint (shapefactor): Cγ = n − A.

The objective is convex in γ on ν_b > 0 and the quadratic is ≤ 0 at the
lower end of that domain, so the larger root is the minimum; clipping it to
the bounds gives the bounded minimum.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .compile import NORMAL, POISSON
from .interpolation import histosys_point
from .kernel import FULL, SLOPES, VALUE, KernelModel, _blocks, evaluate
from .linalg import inverse_floor, solve

__all__ = ["CONVERGED", "STATUS", "fit_toys", "gamma_hat"]

Arr = np.ndarray
#: The compiled functions: cached on disk, releasing the GIL, numpy float semantics.
_jit = numba.njit(cache=True, nogil=True, error_model="numpy")
#: The modes of :func:`.kernel.evaluate` as run-time values: a constant argument would
#: be typed as a literal and compile :func:`.kernel.evaluate` once more (~3 s).
_MODE = np.array([VALUE, SLOPES, FULL], dtype=np.int64)
#: Outcomes of a fit (``status``): its index in :data:`STATUS`.
CONVERGED, GUARD, NONFINITE, STALLED, NOT_PD = 0, 1, 2, 3, 4
#: Why a fit stopped, by status.
STATUS = (
    "converged",
    "iteration guard reached before the Newton decrement fell below the tolerance",
    "non-finite -2lnL or gradient",
    "no decrease along the Newton direction before the decrement fell below the tolerance",
    "Hessian not positive definite at the stationary point",
)


@_jit
def gamma_hat(
    n: float, a_rest: float, c: float, aux: float, kind: int, sigma: float, tau: float
) -> float:
    """The conditional minimum γ̂ of one bin (unbounded); NaN where γ does not enter."""
    if not c > 0.0:
        if kind == NORMAL:
            return aux
        if kind == POISSON:
            return aux / tau
        return math.nan
    if kind == NORMAL:
        s2 = sigma * sigma
        a2, a1, a0 = c, s2 * c * c + a_rest - aux * c, s2 * c * (a_rest - n) - aux * a_rest
    elif kind == POISSON:
        a2, a1, a0 = (c + tau) * c, (c + tau) * a_rest - (n + aux) * c, -aux * a_rest
    else:
        return (n - a_rest) / c
    sq = math.sqrt(max(a1 * a1 - 4.0 * a2 * a0, 0.0))
    root = (-a1 + sq) / (2.0 * a2) if a1 <= 0.0 else -2.0 * a0 / (a1 + sq)
    if not math.isfinite(root):
        return aux if kind == NORMAL else aux / tau
    return root


@_jit
def _bin_slope(km: KernelModel, x: Arr, phi: Arr, b: int, p: int) -> tuple[float, float]:
    """ν_b and ∂ν_b/∂x_p at ``x`` for the per-bin parameter ``p`` of bin ``b``."""
    nub = 0.0
    c = 0.0
    h0, h1 = km.hist_start[b], km.hist_start[b + 1]
    for s in range(km.nominal.shape[0]):
        m = km.nominal[s, b]
        for e in range(h0, h1):
            if km.hist_s[e] == s:
                alpha = x[km.global_par[km.hist_g[e]]]
                m += histosys_point(alpha, km.hist_code, km.hist_up[e], km.hist_dn[e])[0]
        g = 1.0
        rest = 1.0
        has = False
        for e in range(km.loc_par.shape[2]):
            q = km.loc_par[s, b, e]
            if q >= 0:
                g *= x[q]
                if q == p:
                    has = True
                else:
                    rest *= x[q]
        f = phi[km.block[s, b]]
        nub += f * g * m
        if has:
            c += f * m * rest
    return nub, c


@_jit
def _reprofile(
    km: KernelModel, x: Arr, n: Arr, aux: Arr, lo: Arr, hi: Arr, cf_par: Arr, buf: tuple
) -> None:
    """Set each γ of ``cf_par`` in turn to its bounded conditional minimum given the others.

    Each γ enters ν_b linearly (:func:`gamma_hat`); ν_b is recomputed for
    each, so several γ of one bin are swept one after the other.
    """
    if cf_par.size == 0:
        return
    phi = np.empty(km.fac_par.shape[0])
    _blocks(km, x, _MODE[VALUE], phi, np.empty((1, 1)), np.empty((1, 1, 1)))
    for p in cf_par:
        b = km.par_bin[p]
        nub, c = _bin_slope(km, x, phi, b, p)
        a = km.par_con[p]
        kind = km.con_kind[a] if a >= 0 else -1
        root = gamma_hat(
            n[b],
            nub - x[p] * c,
            c,
            aux[a] if a >= 0 else 1.0,
            kind,
            km.con_sigma[a] if a >= 0 else 1.0,
            km.con_factor[a] if a >= 0 else 1.0,
        )
        if math.isnan(root):
            root = x[p]
        x[p] = min(max(root, lo[p]), hi[p])


@_jit
def _is_active(x: float, g: float, lo: float, hi: float) -> bool:
    return (x <= lo and g > 0.0) or (x >= hi and g < 0.0)


@_jit
def _newton_step(
    km: KernelModel,
    x: Arr,
    lo: Arr,
    hi: Arr,
    gfree: Arr,
    lfree: Arr,
    buf: tuple,
    work: tuple,
    step: Arr,
) -> tuple[float, bool]:
    """Projected Newton direction into ``step`` [P].

    Returns the Newton decrement and whether the Hessian of the free,
    inactive parameters is positive definite (no curvature was floored).
    """
    grad, h_gg, h_gl, h_ll, _nu, _jl = buf
    schur, rhs, dg, lmat, inv_ll, mg, ml, hl, gl, t = work
    nbin, kl = km.slot_par.shape
    ng = km.global_par.size
    pd = True
    for g in range(ng):
        p = km.global_par[g]
        mg[g] = gfree[g] and not _is_active(x[p], grad[p], lo[p], hi[p])
    for g in range(ng):
        rhs[g] = grad[km.global_par[g]] if mg[g] else 0.0
        for h in range(ng):
            schur[g, h] = h_gg[g, h] if (mg[g] and mg[h]) else (1.0 if g == h else 0.0)
    for b in range(nbin):
        any_free = False
        for k in range(kl):
            p = km.slot_par[b, k]
            ml[b, k] = lfree[b, k] and not _is_active(x[p], grad[p], lo[p], hi[p])
            any_free = any_free or ml[b, k]
        if not any_free:
            continue
        for k in range(kl):
            gl[k] = grad[km.slot_par[b, k]] if ml[b, k] else 0.0
            for m in range(kl):
                hl[k, m] = h_ll[b, k, m] if (ml[b, k] and ml[b, m]) else (1.0 if k == m else 0.0)
        pd = inverse_floor(hl, inv_ll[b]) and pd
        for g in range(ng):
            for k in range(kl):
                s = 0.0
                if mg[g]:
                    for m in range(kl):
                        if ml[b, m]:
                            s += h_gl[b, g, m] * inv_ll[b, m, k]
                t[g, k] = s
        for g in range(ng):
            if not mg[g]:
                continue
            for k in range(kl):
                if t[g, k] == 0.0:
                    continue
                rhs[g] -= t[g, k] * gl[k]
                for h in range(ng):
                    if mg[h] and ml[b, k]:
                        schur[g, h] -= t[g, k] * h_gl[b, h, k]
    pd = solve(schur, rhs, dg, lmat) and pd
    step[:] = 0.0
    dec = 0.0
    for g in range(ng):
        if mg[g]:
            step[km.global_par[g]] = -dg[g]
            dec += grad[km.global_par[g]] * dg[g]
        else:
            dg[g] = 0.0
    for b in range(nbin):
        any_free = False
        for k in range(kl):
            any_free = any_free or ml[b, k]
        if not any_free:
            continue
        for k in range(kl):
            s = grad[km.slot_par[b, k]] if ml[b, k] else 0.0
            for g in range(ng):
                if mg[g]:
                    s -= dg[g] * h_gl[b, g, k]
            gl[k] = s
        for k in range(kl):
            if not ml[b, k]:
                continue
            s = 0.0
            for m in range(kl):
                s -= inv_ll[b, k, m] * gl[m]
            p = km.slot_par[b, k]
            step[p] = s
            dec -= grad[p] * s
    return dec, pd


@_jit
def _project(x: Arr, step: Arr, alpha: float, lo: Arr, hi: Arr, out: Arr) -> None:
    for p in range(x.size):
        out[p] = min(max(x[p] + alpha * step[p], lo[p]), hi[p])


@_jit
def _accept(f0: float, fc: float, grad: Arr, x: Arr, cand: Arr) -> bool:
    gd = 0.0
    for p in range(x.size):
        gd += grad[p] * (cand[p] - x[p])
    return fc <= f0 + 1e-4 * min(gd, 0.0) + 1e-12 * abs(f0)


@_jit
def fit_toys(
    km: KernelModel,
    x0: Arr,
    n: Arr,
    aux: Arr,
    const: Arr,
    lo: Arr,
    hi: Arr,
    free: Arr,
    cf_par: Arr,
    tol: float,
    max_iter: int,
) -> tuple[Arr, Arr, Arr, Arr, Arr]:
    """Fit every toy with the bounded Newton loop of this module.

    ``x0`` [B, P] are the starts (fixed parameters at their values), ``n``
    [B, N] and ``aux`` [B, A] the data, ``const`` [B] their data constants,
    ``lo``/``hi``/``free`` [P] the bounds and free parameters, ``cf_par`` the
    parameters profiled in closed form.

    Returns:
        ``(pars [B, P], twice_nll [B], converged [B], n_iter [B], status [B])``;
        ``pars`` is the best point reached (every accepted step decreases
        −2 ln L), ``status`` one of :data:`STATUS`'s indices.
    """
    bsz, npar = x0.shape
    nbin, kl = km.slot_par.shape
    ng = km.global_par.size
    out = np.empty((bsz, npar))
    fval = np.empty(bsz)
    conv = np.zeros(bsz, dtype=np.bool_)
    iters = np.zeros(bsz, dtype=np.int64)
    status = np.zeros(bsz, dtype=np.int64)
    buf = (
        np.empty(npar),
        np.empty((ng, ng)),
        np.empty((nbin, ng, kl)),
        np.empty((nbin, kl, kl)),
        np.empty(nbin),
        np.empty((nbin, kl)),
    )
    work = (
        np.empty((ng, ng)),
        np.empty(ng),
        np.empty(ng),
        np.zeros((ng, ng)),
        np.empty((nbin, kl, kl)),
        np.empty(ng, dtype=np.bool_),
        np.empty((nbin, kl), dtype=np.bool_),
        np.empty((kl, kl)),
        np.empty(kl),
        np.empty((ng, kl)),
    )
    gfree = np.empty(ng, dtype=np.bool_)
    for g in range(ng):
        gfree[g] = free[km.global_par[g]]
    lfree = np.zeros((nbin, kl), dtype=np.bool_)
    for b in range(nbin):
        for k in range(kl):
            p = km.slot_par[b, k]
            lfree[b, k] = p >= 0 and free[p]
    grad = buf[0]
    x = np.empty(npar)
    cand = np.empty(npar)
    step = np.empty(npar)
    # per-bin parameters whose Poisson constraint has a zero count in this toy
    zero_cand = np.zeros(npar, dtype=np.int64)
    nz = 0
    for p in range(npar):
        a = km.par_con[p]
        if free[p] and km.par_bin[p] >= 0 and a >= 0 and km.con_kind[a] == POISSON:
            zero_cand[nz] = p
            nz += 1
    prof_all = np.empty(cf_par.size + nz, dtype=np.int64)
    prof_all[: cf_par.size] = cf_par
    is_cf = np.zeros(npar, dtype=np.bool_)
    for p in cf_par:
        is_cf[p] = True
    for i in range(bsz):
        ni, ai, ci = n[i], aux[i], const[i]
        m = cf_par.size
        for j in range(nz):
            p = zero_cand[j]
            if ai[km.par_con[p]] == 0.0 and not is_cf[p]:
                prof_all[m] = p
                m += 1
        prof = prof_all[:m]
        for p in range(npar):
            x[p] = min(max(x0[i, p], lo[p]), hi[p])
        _reprofile(km, x, ni, ai, lo, hi, prof, buf)
        st = GUARD
        it = 0
        flat = 0
        while it < max_iter:
            f0 = evaluate(km, x, ni, ai, ci, _MODE[FULL], *buf)
            dec, pd = _newton_step(km, x, lo, hi, gfree, lfree, buf, work, step)
            if not (math.isfinite(f0) and math.isfinite(dec)):
                st = NONFINITE
                break
            alpha = 1.0
            _project(x, step, alpha, lo, hi, cand)
            _reprofile(km, cand, ni, ai, lo, hi, prof, buf)
            ok = _accept(f0, evaluate(km, cand, ni, ai, ci, _MODE[VALUE], *buf), grad, x, cand)
            for _ls in range(60):
                if ok:
                    break
                alpha *= 0.5
                _project(x, step, alpha, lo, hi, cand)
                _reprofile(km, cand, ni, ai, lo, hi, prof, buf)
                ok = _accept(f0, evaluate(km, cand, ni, ai, ci, _MODE[VALUE], *buf), grad, x, cand)
            it += 1
            if ok:
                for p in range(npar):
                    x[p] = cand[p]
            if dec <= tol:
                # stationary at x (projected gradient scaled by the Hessian); the
                # last step, if it decreased, only improves on it. Where the Hessian
                # was not positive definite, look again from the new point (a few times)
                if pd:
                    st = CONVERGED
                    break
                flat += 1
                if not ok or flat > 3:
                    st = NOT_PD
                    break
                continue
            if not ok:
                st = STALLED
                break
        for p in range(npar):
            out[i, p] = x[p]
        fval[i] = evaluate(km, x, ni, ai, ci, _MODE[VALUE], *buf)
        status[i] = st
        conv[i] = st == CONVERGED and math.isfinite(fval[i])
        iters[i] = it
    return out, fval, conv, iters, status
