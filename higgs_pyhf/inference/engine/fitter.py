"""Batched bounded Newton fits of −2 ln L, per-bin nuisances eliminated bin by bin.

Each iteration, for all toys of a chunk at once:

1. −2 ln L, gradient and Hessian blocks at the current point (:mod:`.likelihood`);
2. an active set: free parameters at a bound whose gradient points outwards
   are held for the step;
3. the Newton step by block elimination: the local (per-bin) parameters of
   each bin couple only to each other and to the globals, so with
   ``H_ll`` block-diagonal the globals solve the Schur complement
   ``(H_gg − Σ_b H_gl H_ll⁻¹ H_lg) d_g = −(g_g − Σ_b H_gl H_ll⁻¹ g_l)`` and
   ``d_l = −H_ll⁻¹ (g_l + H_lg d_g)`` per bin; cost ∝ N·G² + G³, not (N·Kl)³.
   Negative curvature is clamped (eigenvalue floor), so the step descends;
4. the step is projected on the bounds; in bins with a single free per-bin
   parameter that parameter is then re-profiled in closed form
   (:mod:`.profiling`), so the globals move on the profiled likelihood
   (whose gradient is the global gradient, by the envelope theorem, and
   whose Hessian is the Schur complement);
5. Armijo backtracking where the step does not decrease −2 ln L enough.

A toy stops when its Newton decrement gᵀH⁻¹g falls below ``tol`` (then one
last full step is taken: Newton converges quadratically). Toys that do not
converge within ``max_iter`` iterations, or hit non-finite values, are refitted
one by one from their starting point (pyhf's init by default) with scipy's
L-BFGS-B on the exact gradient, then polished by Newton, and flagged in
``fallback``; a failure there is reported in ``converged``, never raised.

Models whose prediction is linear in the free parameters (normfactors only)
go to the compiled kernel of :mod:`.linear` instead (``use_kernel=True``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
from scipy.optimize import minimize

from ...errors import FitError
from .compile import CompiledModel
from .likelihood import (
    constraint_part,
    data_constant,
    derivatives,
    local_slopes,
    twice_nll,
)
from .linear import fit_linear, linear_structure
from .profiling import profile_single_gamma

__all__ = ["FitResult", "fit", "resolve_fixed"]

log = logging.getLogger(__name__)


class FitResult(NamedTuple):
    """Best fits of B data sets.

    Attributes:
        pars: (B, P) best-fit parameters (pyhf order).
        twice_nll: (B,) −2 ln L at the best fit (pyhf's normalisation).
        converged: (B,) whether the fit converged (Newton or fallback).
        n_iter: (B,) Newton iterations used.
        fallback: (B,) whether the toy was refitted by the safeguarded path.
        free: (P,) which parameters were fitted (not fixed).
    """

    pars: np.ndarray
    twice_nll: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray
    fallback: np.ndarray
    free: np.ndarray


def resolve_fixed(cm: CompiledModel, fixed: Mapping[str, Any] | None) -> dict[int, Any]:
    """Map parameter labels (``s_s``, ``staterror_x[3]``) or vector names to indices.

    Values are scalars or (B,) arrays (one value per data set, e.g. a scan).
    """
    out: dict[int, Any] = {}
    for name, value in (fixed or {}).items():
        value = np.asarray(value, dtype=float)
        if name in cm.par_names:
            out[cm.par_names.index(name)] = value
            continue
        hits = [i for i, lab in enumerate(cm.par_names) if lab.split("[", 1)[0] == name]
        if not hits:
            msg = f"unknown parameter {name!r}; valid parameters are {', '.join(cm.par_names)}"
            raise FitError(msg)
        for i in hits:
            out[i] = value
    return out


def _floor_inverse(h: np.ndarray) -> np.ndarray:
    """Inverse of symmetric [..., K, K] matrices with eigenvalues floored (positive definite)."""
    if h.shape[-1] == 1:
        d = h[..., 0, 0]
        floor = np.maximum(1e-12 * np.abs(d), 1e-300)
        return (1.0 / np.maximum(d, floor))[..., None, None]  # type: ignore[no-any-return]
    if h.shape[-1] == 2:
        a, b, c = h[..., 0, 0], h[..., 0, 1], h[..., 1, 1]
        det = a * c - b * b
        pd = (a > 0) & (det > 1e-12 * np.maximum(a * c, 1e-300))
        if pd.all():
            out = np.empty_like(h)
            out[..., 0, 0] = c / det
            out[..., 1, 1] = a / det
            out[..., 0, 1] = out[..., 1, 0] = -b / det
            return out
    lam, vec = np.linalg.eigh(h)
    top = np.max(np.abs(lam), axis=-1, keepdims=True)
    lam = np.maximum(lam, np.maximum(1e-12 * top, 1e-300))
    return np.einsum("...ik,...k,...jk->...ij", vec, 1.0 / lam, vec)  # type: ignore[no-any-return]


class _Setup(NamedTuple):
    lo: np.ndarray
    hi: np.ndarray
    free: np.ndarray
    gfree: np.ndarray  # (G,)
    lfree: np.ndarray  # (N, Kl)
    cf_bin: np.ndarray  # bins whose single free slot is profiled in closed form
    cf_slot: np.ndarray
    cf_par: np.ndarray


def _setup(cm: CompiledModel, free: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> _Setup:
    has = cm.slot_par >= 0
    lfree = has & free[np.where(has, cm.slot_par, 0)]
    single = lfree.sum(axis=1) == 1
    cf_bin = np.flatnonzero(single)
    cf_slot = np.argmax(lfree[cf_bin], axis=1) if cf_bin.size else np.zeros(0, dtype=int)
    cf_par = cm.slot_par[cf_bin, cf_slot]
    return _Setup(lo, hi, free, free[cm.global_par], lfree, cf_bin, cf_slot, cf_par)


def _reprofile(
    cm: CompiledModel, su: _Setup, x: np.ndarray, n: np.ndarray, aux: np.ndarray
) -> np.ndarray:
    """Set the single free γ of each closed-form bin to its conditional minimum."""
    if su.cf_bin.size == 0:
        return x
    x = x.copy()
    gam = x[:, su.cf_par]
    nu_all, slopes = local_slopes(cm, x)
    nu = nu_all[:, su.cf_bin]
    c = slopes[:, su.cf_bin, su.cf_slot]
    a_rest = nu - gam * c
    ci = cm.par_con[su.cf_par]
    kind = np.where(ci >= 0, cm.con_kind[np.maximum(ci, 0)], 0)
    a = np.where(ci >= 0, aux[:, np.maximum(ci, 0)], 1.0)
    x[:, su.cf_par] = profile_single_gamma(
        n[:, su.cf_bin],
        a_rest,
        c,
        a,
        kind,
        cm.con_sigma[np.maximum(ci, 0)],
        cm.con_factor[np.maximum(ci, 0)],
        su.lo[su.cf_par],
        su.hi[su.cf_par],
        gam,
    )
    return x


def _newton_step(
    cm: CompiledModel, su: _Setup, x: np.ndarray, d: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Projected Newton direction [B, P] and Newton decrement [B]."""
    gp = cm.global_par
    has = cm.slot_par >= 0
    sp = np.where(has, cm.slot_par, 0)
    g_g = d.grad[:, gp]
    g_l = np.where(has, d.grad[:, sp], 0.0)
    xg, xl = x[:, gp], x[:, sp]
    lo, hi = su.lo, su.hi
    act_g = ((xg <= lo[gp]) & (g_g > 0)) | ((xg >= hi[gp]) & (g_g < 0))
    act_l = ((xl <= lo[sp]) & (g_l > 0)) | ((xl >= hi[sp]) & (g_l < 0))
    mg = su.gfree & ~act_g  # (B, G)
    ml = su.lfree & ~act_l  # (B, N, Kl)
    g_g = np.where(mg, g_g, 0.0)
    g_l = np.where(ml, g_l, 0.0)
    eye_g = np.eye(gp.size)
    eye_l = np.eye(cm.slot_par.shape[1])
    h_gg = d.h_gg * (mg[:, :, None] & mg[:, None, :]) + eye_g * ~mg[:, :, None]
    h_ll = d.h_ll * (ml[..., :, None] & ml[..., None, :]) + eye_l * ~ml[..., :, None]
    h_gl = d.h_gl * mg[:, None, :, None] * ml[:, :, None, :]
    inv_ll = _floor_inverse(h_ll)
    bsz, nbin, ng, kl = h_gl.shape
    t = np.matmul(h_gl, inv_ll)  # (B, N, G, Kl)
    t_flat = np.swapaxes(t, 1, 2).reshape(bsz, ng, nbin * kl)
    gl_flat = np.swapaxes(h_gl, 1, 2).reshape(bsz, ng, nbin * kl)
    schur = h_gg - np.matmul(t_flat, np.swapaxes(gl_flat, 1, 2))
    rhs = g_g - np.matmul(t_flat, g_l.reshape(bsz, nbin * kl, 1))[..., 0]
    step_g = -np.matmul(_floor_inverse(schur), rhs[..., None])[..., 0]
    coupled = g_l + np.matmul(step_g[:, None, None, :], h_gl)[:, :, 0, :]
    step_l = -np.matmul(inv_ll, coupled[..., None])[..., 0]
    step_g = np.where(mg, step_g, 0.0)
    step_l = np.where(ml, step_l, 0.0)
    step = np.zeros_like(x)
    step[:, gp] = step_g
    step[:, cm.slot_par[has]] = step_l[:, has]
    dec = -((g_g * step_g).sum(axis=1) + (g_l * step_l).sum(axis=(1, 2)))
    return step, dec


def _fit_chunk(
    cm: CompiledModel,
    su: _Setup,
    x0: np.ndarray,
    data: np.ndarray,
    tol: float,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n, aux = data[:, : cm.nmain], data[:, cm.nmain :]
    const = data_constant(cm, data)
    x = _reprofile(cm, su, np.clip(x0, su.lo, su.hi), n, aux)
    bsz = x.shape[0]
    converged = np.zeros(bsz, dtype=bool)
    failed = np.zeros(bsz, dtype=bool)
    n_iter = np.zeros(bsz, dtype=int)
    todo = np.arange(bsz)
    for _ in range(max_iter):
        if todo.size == 0:
            break
        xt, dt, ct = x[todo], data[todo], const[todo]
        d = derivatives(cm, xt, dt, constant=ct)
        step, dec = _newton_step(cm, su, xt, d)
        f0 = d.twice_nll
        alpha = np.ones(todo.size)
        cand = _reprofile(cm, su, np.clip(xt + step, su.lo, su.hi), n[todo], aux[todo])
        fc = twice_nll(cm, cand, dt, constant=ct)
        gd = np.einsum("Bp,Bp->B", d.grad, cand - xt)
        ok = fc <= f0 + 1e-4 * np.minimum(gd, 0.0) + 1e-12 * np.abs(f0)
        for _ls in range(40):
            if ok.all():
                break
            r = np.flatnonzero(~ok)
            alpha[r] *= 0.5
            xr = xt[r] + alpha[r, None] * step[r]
            cand[r] = _reprofile(cm, su, np.clip(xr, su.lo, su.hi), n[todo[r]], aux[todo[r]])
            fc[r] = twice_nll(cm, cand[r], dt[r], constant=ct[r])
            gd_r = np.einsum("Bp,Bp->B", d.grad[r], cand[r] - xt[r])
            ok[r] = fc[r] <= f0[r] + 1e-4 * np.minimum(gd_r, 0.0) + 1e-12 * np.abs(f0[r])
        bad = ~np.isfinite(f0) | ~np.isfinite(dec)
        x[todo] = np.where(ok[:, None], cand, xt)
        n_iter[todo] += 1
        small = dec <= tol
        done = (small & ok) | (small & (dec <= 1e-3 * tol))
        stuck = ~ok & ~small
        converged[todo[done]] = True
        failed[todo[bad | stuck]] = True
        todo = todo[~(done | bad | stuck)]
    failed[todo] = True
    fval = twice_nll(cm, x, data, constant=const)
    return x, fval, converged & ~failed, n_iter


def _fallback(
    cm: CompiledModel, su: _Setup, x0: np.ndarray, data: np.ndarray, tol: float
) -> tuple[np.ndarray, float, bool]:
    """One toy: L-BFGS-B from ``x0`` on the exact value and gradient, then Newton polish."""
    row = data[None, :]
    free = su.free
    bounds = list(zip(su.lo[free], su.hi[free], strict=True))
    start = float(twice_nll(cm, x0[None, :], row)[0])
    big = 10.0 * abs(start) + 1e6 if np.isfinite(start) else 1e300

    def fun(z: np.ndarray) -> tuple[float, np.ndarray]:
        x = x0.copy()
        x[free] = z
        d = derivatives(cm, x[None, :], row)
        val = float(d.twice_nll[0])
        if not np.isfinite(val):  # outside the domain (a bin with ν ≤ 0): push back
            return big, -np.sign(z - x0[free])
        return val, d.grad[0, free]

    res = minimize(
        fun,
        x0[free],
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 2000},
    )
    x = x0.copy()
    x[free] = res.x
    value = float(twice_nll(cm, x[None, :], row)[0])
    polish, pval, pconv, _ = _fit_chunk(cm, su, x[None, :], row, tol, 100)
    if pconv[0] and pval[0] <= value + 1e-9 * (1.0 + abs(value)):
        return polish[0], float(pval[0]), True
    return x, value, bool(res.success) and np.isfinite(value)


def fit(
    cm: CompiledModel,
    data: Any,
    *,
    fixed: Mapping[str, Any] | None = None,
    init: Any = None,
    bounds: Any = None,
    tol: float = 1e-10,
    max_iter: int = 60,
    chunk_size: int = 2048,
    use_kernel: bool = True,
) -> FitResult:
    """Minimize −2 ln L for every data set at once.

    Args:
        cm: the compiled model.
        data: (B, N + A) data sets (main then auxiliary data, pyhf layout), or one.
        fixed: parameter label → value held constant, on top of the
            measurement's fixed parameters; a (B,) array gives one value per
            data set (a profile scan over the grid in one batch).
        init: (P,) or (B, P) starting values (default: pyhf's suggested init).
        bounds: (P, 2) bounds (default: pyhf's suggested bounds).
        tol: Newton decrement gᵀH⁻¹g (in units of −2 ln L) below which a toy
            has converged (one more full step is taken).
        max_iter: Newton iterations before a toy goes to the fallback path.
        chunk_size: toys evaluated together (memory ∝ chunk · N · G).
        use_kernel: use the compiled kernel (:mod:`.linear`) when the
            prediction is linear in the free parameters.

    Returns:
        The best fits, in pyhf's parameter order.
    """
    d = np.atleast_2d(np.asarray(data, dtype=float))
    bsz = d.shape[0]
    lo, hi = (cm.bounds if bounds is None else np.asarray(bounds, dtype=float)).T.copy()
    x0 = np.empty((bsz, cm.npars))
    x0[:] = cm.init if init is None else np.asarray(init, dtype=float)
    free = ~cm.fixed.copy()
    for i, val in resolve_fixed(cm, fixed).items():
        free[i] = False
        x0[:, i] = val
    # fixed parameters may sit outside the bounds
    lo = np.where(free, lo, -np.inf)
    hi = np.where(free, hi, np.inf)
    su = _setup(cm, free, lo, hi)
    same_fixed = np.all(x0[:, ~free] == x0[:1, ~free])
    ls = linear_structure(cm, free, x0[0]) if use_kernel and same_fixed else None
    if ls is not None:
        theta, main, converged, n_iter = fit_linear(
            ls,
            d[:, : cm.nmain],
            x0[0, ls.par_index],
            lo[ls.par_index],
            hi[ls.par_index],
            tol=tol,
            max_iter=max_iter,
        )
        pars = x0.copy()
        pars[:, ls.par_index] = theta
        value = main + constraint_part(cm, pars, d)
    else:
        pars, value, converged, n_iter = _fit_chunks(cm, su, x0, d, tol, max_iter, chunk_size)
    fallback = ~converged
    for i in np.flatnonzero(fallback):
        pars[i], value[i], converged[i] = _fallback(cm, su, np.clip(x0[i], lo, hi), d[i], tol)
    if fallback.any():
        log.info(
            "%d of %d fits took the fallback path, %d of them did not converge",
            int(fallback.sum()),
            bsz,
            int((fallback & ~converged).sum()),
        )
    return FitResult(pars, value, converged, n_iter, fallback, free)


def _fit_chunks(
    cm: CompiledModel,
    su: _Setup,
    x0: np.ndarray,
    d: np.ndarray,
    tol: float,
    max_iter: int,
    chunk_size: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    bsz = x0.shape[0]
    pars = np.empty_like(x0)
    value = np.empty(bsz)
    converged = np.empty(bsz, dtype=bool)
    n_iter = np.empty(bsz, dtype=int)
    for start in range(0, bsz, chunk_size):
        sl = slice(start, start + chunk_size)
        pars[sl], value[sl], converged[sl], n_iter[sl] = _fit_chunk(
            cm, su, x0[sl], d[sl], tol, max_iter
        )
    return pars, value, converged, n_iter
