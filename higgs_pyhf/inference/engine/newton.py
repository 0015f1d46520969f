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
   ``d_l = −H_ll⁻¹ (g_l + H_lg d_g)`` per bin. A bin's update touches only
   the rows and columns of the t_b globals acting on it (:mod:`.sparsity`),
   so the cost grows as Σ_b t_b²·Kl + G³, not (N·Kl)³ nor N·G². Negative
   or vanishing curvature is floored (:mod:`.linalg`), so the step descends;
   above :data:`SHIFT_ABOVE` globals the Schur matrix is factored within its
   envelope (:func:`.sparsity.envelope`) and shifted instead (Levenberg,
   :func:`.envelope_linalg.solve_envelope`: the eigen-decomposition of a G × G
   matrix costs ~20 Choleskys, and the floored step along negative
   curvature was cut back by the line search to ~10⁻¹¹ of itself);
4. the step is projected on the bounds; in bins with a single free per-bin
   parameter γ that parameter is then re-profiled in closed form
   (Barlow–Beeston-lite, :mod:`.gamma`), so the globals move on the profiled
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
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .compile import POISSON
from .envelope_linalg import solve_envelope
from .gamma import reprofile
from .kernel import FULL, SLOPES, VALUE, KernelModel, evaluate
from .linalg import inverse_floor, solve

__all__ = ["CONVERGED", "STATUS", "fit_toys"]

Arr = np.ndarray
#: The compiled functions: cached on disk, releasing the GIL, numpy float semantics.
_jit = numba.njit(cache=True, nogil=True, error_model="numpy")
#: The modes of :func:`.kernel.evaluate` as run-time values: a constant argument would
#: be typed as a literal and compile :func:`.kernel.evaluate` once more (~3 s).
_MODE = np.array([VALUE, SLOPES, FULL], dtype=np.int64)
#: Above this many globals the Schur matrix is factored within its envelope
#: (:mod:`.sparsity`) and, where not positive definite, shifted
#: (:func:`.envelope_linalg.solve_envelope`) rather than eigen-decomposed and floored (~20× the cost).
SHIFT_ABOVE = 128
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
        # rows i of h_gl[b] are the globals acting on bin b (the others' rows are 0)
        t0 = km.bin_g_start[b]
        nt = km.bin_g_start[b + 1] - t0
        for i in range(nt):
            g = km.bin_g[t0 + i]
            for k in range(kl):
                s = 0.0
                if mg[g]:
                    for m in range(kl):
                        if ml[b, m]:
                            s += h_gl[b, i, m] * inv_ll[b, m, k]
                t[i, k] = s
        for i in range(nt):
            g = km.bin_g[t0 + i]
            if not mg[g]:
                continue
            for k in range(kl):
                if t[i, k] == 0.0:
                    continue
                rhs[g] -= t[i, k] * gl[k]
                if not ml[b, k]:
                    continue
                for j in range(nt):
                    h = km.bin_g[t0 + j]
                    if mg[h]:
                        schur[g, h] -= t[i, k] * h_gl[b, j, k]
    if ng > SHIFT_ABOVE:
        pd = solve_envelope(schur, rhs, dg, lmat, km.g_order, km.g_env) and pd
    else:
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
        t0 = km.bin_g_start[b]
        for k in range(kl):
            s = grad[km.slot_par[b, k]] if ml[b, k] else 0.0
            for i in range(km.bin_g_start[b + 1] - t0):
                g = km.bin_g[t0 + i]
                if mg[g]:
                    s -= dg[g] * h_gl[b, i, k]
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
        np.empty((nbin, km.t_max, kl)),
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
        np.empty((km.t_max, kl)),
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
        reprofile(km, x, ni, ai, lo, hi, prof, buf)
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
            reprofile(km, cand, ni, ai, lo, hi, prof, buf)
            ok = _accept(f0, evaluate(km, cand, ni, ai, ci, _MODE[VALUE], *buf), grad, x, cand)
            for _ls in range(60):
                if ok:
                    break
                alpha *= 0.5
                _project(x, step, alpha, lo, hi, cand)
                reprofile(km, cand, ni, ai, lo, hi, prof, buf)
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
