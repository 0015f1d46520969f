"""Batched −2 ln L of a compiled model, with its analytic gradient and Hessian.

For B parameter points ``pars`` [B, P] and data sets ``data`` [B, N + A]
(main bins then auxiliary data, pyhf's layout) the functions return exactly
pyhf's ``-2 * model.logpdf(pars, data)``: Poisson main terms with ln Γ(n+1),
normal constraints with their normalisation ln(σ√(2π)), Poisson constraints
``Pois(a | τγ)``.

Derivatives (see :mod:`.compile` for ν_sb = Φ_κ Γ_sb M_sb), with
w_b = 2(1 − n_b/ν_b) and u_b = 2 n_b/ν_b²::

    ∂(−2lnL)/∂x_p      = Σ_b w_b ∂ν_b/∂x_p                       + constraint
    ∂²(−2lnL)/∂x_p∂x_q = Σ_b u_b ∂ν_b/∂x_p ∂ν_b/∂x_q
                          + Σ_sb w_b ∂²ν_sb/∂x_p∂x_q                + constraint

The Hessian is returned in blocks (globals × globals, globals × local slots
per bin, local slots × local slots per bin): local parameters of different
bins never couple, which the fitter uses to eliminate them bin by bin.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy.special import xlogy

from .compile import LINEAR, NORMSYS_CODE1, CompiledModel
from .constraints import constraint_part, data_constant, expected_aux
from .constraints import constraint_terms as _constraints
from .interpolation import histosys_code0, histosys_code4p, normsys_code1, normsys_code4

__all__ = [
    "Derivatives",
    "constraint_part",
    "data_constant",
    "derivatives",
    "expected_aux",
    "expected_main",
    "gradient",
    "hessian",
    "local_slopes",
    "twice_nll",
]


class Derivatives(NamedTuple):
    """−2 ln L and its derivatives at B points.

    Attributes:
        twice_nll: (B,) −2 ln L (+inf where a bin with data has ν ≤ 0).
        grad: (B, P) gradient in all parameters.
        h_gg: (B, G) x G Hessian block of the global parameters.
        h_gl: (B, N, G, Kl) Hessian block globals × local slots of each bin.
        h_ll: (B, N, Kl, Kl) Hessian block of the local slots of each bin.
        nu: (B, N) expected main data.
        d_local: (B, N, Kl) ∂ν_b/∂γ of each local slot.
    """

    twice_nll: np.ndarray
    grad: np.ndarray
    h_gg: np.ndarray
    h_gl: np.ndarray
    h_ll: np.ndarray
    nu: np.ndarray
    d_local: np.ndarray


def _split(cm: CompiledModel, data: Any) -> tuple[np.ndarray, np.ndarray]:
    d = np.atleast_2d(np.asarray(data, dtype=float))
    return d[:, : cm.nmain], d[:, cm.nmain :]


def _leave_out(f: np.ndarray) -> np.ndarray:
    """Products of all but one entry along the last axis (no division)."""
    k = f.shape[-1]
    if k == 1:
        return np.ones_like(f)
    pre = np.ones_like(f)
    suf = np.ones_like(f)
    pre[..., 1:] = np.cumprod(f[..., :-1], axis=-1)
    suf[..., :-1] = np.cumprod(f[..., :0:-1], axis=-1)[..., ::-1]
    return pre * suf  # type: ignore[no-any-return]


def _leave_two_out(f: np.ndarray) -> np.ndarray:
    """(..., K, K) products of all entries but k and l (diagonal: all but k)."""
    k = f.shape[-1]
    out = np.empty((*f.shape, k))
    for i in range(k):
        g = f.copy()
        g[..., i] = 1.0
        out[..., i, :] = _leave_out(g)
    return out


def _block_factors(cm: CompiledModel, xg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per block entry: factor value, first and second derivative [B, n_blocks, Kg]."""
    ext = np.concatenate([xg, np.ones((xg.shape[0], 1))], axis=1)
    par = np.where(cm.fac_par >= 0, cm.fac_par, xg.shape[1])
    alpha = ext[:, par]
    f, f1, f2 = alpha.copy(), np.ones_like(alpha), np.zeros_like(alpha)
    sys = cm.fac_kind != LINEAR
    if sys.any():
        a = alpha[:, sys]
        lo, hi = cm.fac_lo[sys], cm.fac_hi[sys]
        if np.all(cm.fac_kind[sys] == NORMSYS_CODE1):
            v, d1, d2 = normsys_code1(a, lo, hi)
        else:
            v, d1, d2 = normsys_code4(a, lo, hi, cm.fac_coef[sys])
        f[:, sys], f1[:, sys], f2[:, sys] = v, d1, d2
    return f, f1, f2


class _Onehots(NamedTuple):
    fac: np.ndarray  # (n_blocks * Kg, G)
    fac_pairs: np.ndarray  # (n_blocks * Kg * Kg, G * G)
    hist: np.ndarray  # (H, G)
    slot: np.ndarray  # (S, N, Kb, Kl)
    block: np.ndarray  # (S * N, n_blocks)
    runs: tuple[tuple[int, int, np.ndarray], ...]  # bins with the same blocks: (start, stop, κ[S])
    # histosys entries (parameter h, flat sample-bin sn) with a non-zero variation
    h_sn: np.ndarray  # (E,) flat index s·N + b
    h_up: np.ndarray  # (E,)
    h_dn: np.ndarray  # (E,)
    h_to_sn: np.ndarray  # (E, S·N) one-hot
    h_to_hn: np.ndarray  # (E, H·N) one-hot
    h_to_hk: np.ndarray  # (E, H·n_blocks) one-hot
    h_to_h: np.ndarray  # (E, H) one-hot


_ONEHOT_CACHE: dict[int, tuple[CompiledModel, _Onehots]] = {}


def _onehots(cm: CompiledModel) -> _Onehots:
    hit = _ONEHOT_CACHE.get(id(cm))
    if hit is not None and hit[0] is cm:
        return hit[1]
    g = cm.global_par.size
    nb, kg = cm.fac_par.shape
    fac = np.zeros((nb, kg, g))
    for kappa in range(nb):
        for k in range(kg):
            if cm.fac_par[kappa, k] >= 0:
                fac[kappa, k, cm.fac_par[kappa, k]] = 1.0
    pairs = np.einsum("akg,alh->aklgh", fac, fac).reshape(nb * kg * kg, g * g)
    hist = np.zeros((cm.hist_par.size, g))
    hist[np.arange(cm.hist_par.size), cm.hist_par] = 1.0
    kl = cm.slot_par.shape[1]
    slot = (cm.loc_slot[..., None] == np.arange(kl)).astype(float)
    block = (cm.block.reshape(-1)[:, None] == np.arange(nb)).astype(float)
    runs = []
    start = 0
    for b in range(1, cm.nmain + 1):
        if b == cm.nmain or np.any(cm.block[:, b] != cm.block[:, start]):
            runs.append((start, b, cm.block[:, start].copy()))
            start = b
    ns, nn = cm.nominal.shape
    nh = cm.hist_par.size
    he, se, be = np.nonzero((cm.hist_up != 0) | (cm.hist_dn != 0))
    sn = se * nn + be
    ne = he.size

    def onehot(cols: np.ndarray, width: int) -> np.ndarray:
        out = np.zeros((ne, width))
        out[np.arange(ne), cols] = 1.0
        return out

    out = _Onehots(
        fac.reshape(nb * kg, g),
        pairs,
        hist,
        slot,
        block,
        tuple(runs),
        sn,
        cm.hist_up[he, se, be],
        cm.hist_dn[he, se, be],
        onehot(sn, ns * nn),
        onehot(he * nn + be, nh * nn),
        onehot(he * nb + cm.block[se, be], nh * nb),
        onehot(he, nh),
    )
    if len(_ONEHOT_CACHE) > 32:
        _ONEHOT_CACHE.clear()
    _ONEHOT_CACHE[id(cm)] = (cm, out)
    return out


def _per_channel(
    runs: tuple[tuple[int, int, np.ndarray], ...], a: np.ndarray, phi1_blk: np.ndarray, k: int = 1
) -> np.ndarray:
    """Σ_s a[B, s, (b, j)] · ∂Φ_κ(s, channel of b)/∂θ_g → [B, N·k, G] (k columns per bin)."""
    bsz = a.shape[0]
    out = np.empty((bsz, a.shape[2], phi1_blk.shape[2]))
    for start, stop, kappas in runs:
        sl = slice(start * k, stop * k)
        out[:, sl] = np.matmul(np.swapaxes(a[:, :, sl], 1, 2), phi1_blk[:, kappas])
    return out


def _histosys(
    cm: CompiledModel, oh: _Onehots, xg: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shift, first and second derivative of each non-zero histosys entry [B, E]."""
    alpha = (xg[:, cm.hist_par] @ oh.h_to_h.T) if oh.h_sn.size else xg[:, :0]
    fn = histosys_code0 if cm.histosys_code == "code0" else histosys_code4p
    return fn(alpha, oh.h_up, oh.h_dn)


def _local_factors(cm: CompiledModel, x: np.ndarray) -> np.ndarray:
    ext = np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)
    par = np.where(cm.loc_par >= 0, cm.loc_par, x.shape[1])
    return ext[:, par]  # type: ignore[no-any-return]


def expected_main(cm: CompiledModel, pars: Any) -> np.ndarray:
    """Expected main data ν_b [B, N] (pyhf's ``expected_actualdata``)."""
    x = np.atleast_2d(np.asarray(pars, dtype=float))
    xg = x[:, cm.global_par]
    f, _, _ = _block_factors(cm, xg)
    phi = f.prod(axis=-1)[:, cm.block]
    m = cm.nominal
    if cm.hist_par.size:
        oh = _onehots(cm)
        m = m + (_histosys(cm, oh, xg)[0] @ oh.h_to_sn).reshape(-1, *m.shape)
    gam = _local_factors(cm, x).prod(axis=-1)
    return (phi * gam * m).sum(axis=1)  # type: ignore[no-any-return]


def local_slopes(cm: CompiledModel, pars: Any) -> tuple[np.ndarray, np.ndarray]:
    """Expected main data [B, N] and ∂ν_b/∂γ of each local slot [B, N, Kl]."""
    x = np.atleast_2d(np.asarray(pars, dtype=float))
    xg = x[:, cm.global_par]
    f, _, _ = _block_factors(cm, xg)
    r = f.prod(axis=-1)[:, cm.block] * cm.nominal
    oh = _onehots(cm)
    if cm.hist_par.size:
        r = f.prod(axis=-1)[:, cm.block] * (
            cm.nominal + (_histosys(cm, oh, xg)[0] @ oh.h_to_sn).reshape(-1, *cm.nominal.shape)
        )
    lf = _local_factors(cm, x)
    nu = (r * lf.prod(axis=-1)).sum(axis=1)
    loo_g = _leave_out(lf)
    jl_sb = np.matmul(loo_g[..., None, :], oh.slot)[..., 0, :]
    return nu, (r[..., None] * jl_sb).sum(axis=1)


def twice_nll(cm: CompiledModel, pars: Any, data: Any, *, constant: Any = None) -> np.ndarray:
    """−2 ln L [B] of pyhf at ``pars`` [B, P] for ``data`` [B, N + A].

    Args:
        cm: the compiled model.
        pars: parameter points.
        data: main data followed by auxiliary data, one row per point.
        constant: precomputed :func:`data_constant` (optional).
    """
    x = np.atleast_2d(np.asarray(pars, dtype=float))
    n, aux = _split(cm, data)
    nu = expected_main(cm, x)
    with np.errstate(divide="ignore", invalid="ignore"):
        main = 2.0 * (nu - xlogy(n, nu)).sum(axis=1)
    main = np.where(np.any((nu < 0) | ((nu == 0) & (n > 0)), axis=1), np.inf, main)
    con = _constraints(cm, x, aux)[0]
    c = data_constant(cm, data) if constant is None else constant
    return main + con + c  # type: ignore[no-any-return]


def derivatives(cm: CompiledModel, pars: Any, data: Any, *, constant: Any = None) -> Derivatives:
    """−2 ln L, its gradient and its Hessian in blocks at ``pars`` [B, P]."""
    x = np.atleast_2d(np.asarray(pars, dtype=float))
    n, aux = _split(cm, data)
    oh = _onehots(cm)
    bsz = x.shape[0]
    g = cm.global_par.size
    nb, kg = cm.fac_par.shape
    xg = x[:, cm.global_par]

    f, f1, f2 = _block_factors(cm, xg)
    loo = _leave_out(f)
    phi_blk = f.prod(axis=-1)
    phi = phi_blk[:, cm.block]  # (B, S, N)
    phi1_blk = ((loo * f1).reshape(bsz, nb * kg)[:, :, None] * oh.fac).reshape(bsz, nb, kg, g)
    phi1_blk = phi1_blk.sum(axis=2)  # (B, nb, G)

    m = cm.nominal
    if cm.hist_par.size:
        dv, dd1, dd2 = _histosys(cm, oh, xg)
        m = m + (dv @ oh.h_to_sn).reshape(bsz, *m.shape)
    else:
        m = np.broadcast_to(m, (bsz, *m.shape))
    lf = _local_factors(cm, x)  # (B, S, N, Kb)
    gam = lf.prod(axis=-1)
    r = phi * m  # ν without Γ
    nu_sb = r * gam
    nu = nu_sb.sum(axis=1)
    bad = np.any((nu < 0) | ((nu == 0) & (n > 0)), axis=1)
    safe = np.where(nu > 0, nu, 1.0)
    w = 2.0 * (1.0 - n / safe)
    u = 2.0 * n / (safe * safe)

    # global Jacobian ∂ν_b/∂θ_g = Σ_s Γ (∂Φ/∂θ M + Φ ∂M/∂θ); Φ is constant over the
    # bins of a channel, so per channel it is a (bins × samples) @ (samples × G) product
    jg = _per_channel(oh.runs, m * gam, phi1_blk)
    if cm.hist_par.size:
        pg = (phi * gam).reshape(bsz, -1)[:, oh.h_sn] * dd1
        jg[..., cm.hist_par] += np.swapaxes((pg @ oh.h_to_hn).reshape(bsz, -1, jg.shape[1]), 1, 2)

    # value and gradient
    with np.errstate(divide="ignore", invalid="ignore"):
        main = 2.0 * (nu - xlogy(n, nu)).sum(axis=1)
    con_v, con_g, con_h = _constraints(cm, x, aux)
    c = data_constant(cm, np.concatenate([n, aux], axis=1)) if constant is None else constant
    value = np.where(bad, np.inf, main) + con_v + c
    grad = np.zeros_like(x)
    grad[:, cm.global_par] = np.matmul(w[:, None, :], jg)[:, 0]

    # local slots
    loo_g = _leave_out(lf)
    if lf.shape[-1] == 1 and oh.slot.shape[-1] == 1:
        jl_sb = loo_g * oh.slot[..., 0]
    else:
        jl_sb = np.matmul(loo_g[..., None, :], oh.slot)[..., 0, :]  # Σ_e LOO_e Γ per slot
    jl = (r[..., None] * jl_sb).sum(axis=1)
    has = cm.slot_par >= 0
    grad[:, cm.slot_par[has]] += (w[:, :, None] * jl)[:, has]
    grad[:, cm.con_par] += con_g

    # global block
    h_gg = np.matmul(np.swapaxes(jg * u[:, :, None], 1, 2), jg)
    wq = (w[:, None, :] * gam * m).reshape(bsz, -1) @ oh.block
    if kg > 1 or np.any(f2 != 0):
        t = _leave_two_out(f) * f1[..., :, None] * f1[..., None, :]
        diag = np.arange(kg)
        t[..., diag, diag] = loo * f2
        t *= wq[:, :, None, None]
        h_gg += (t.reshape(bsz, -1) @ oh.fac_pairs).reshape(bsz, g, g)
    if cm.hist_par.size:
        wg = (w[:, None, :] * gam).reshape(bsz, -1)[:, oh.h_sn]
        q = ((wg * dd1) @ oh.h_to_hk).reshape(bsz, -1, nb)  # (B, H, nb)
        cross = np.matmul(np.swapaxes(phi1_blk, 1, 2), np.swapaxes(q, 1, 2)) @ oh.hist
        h_gg += cross + np.swapaxes(cross, 1, 2)
        d2 = ((wg * phi.reshape(bsz, -1)[:, oh.h_sn] * dd2) @ oh.h_to_h) @ oh.hist
        h_gg[:, np.arange(g), np.arange(g)] += d2

    # globals × locals, locals × locals
    h_gl = u[:, :, None, None] * jg[:, :, :, None] * jl[:, :, None, :]
    kl = jl_sb.shape[-1]
    mj = (m[..., None] * jl_sb).reshape(bsz, jl_sb.shape[1], -1)
    second = _per_channel(oh.runs, mj, phi1_blk, kl).reshape(bsz, -1, kl, g)
    if cm.hist_par.size:
        pj = (phi.reshape(bsz, -1)[:, oh.h_sn] * dd1)[..., None] * jl_sb.reshape(bsz, -1, kl)[
            :, oh.h_sn
        ]
        hist_l = np.matmul(np.swapaxes(pj, 1, 2), oh.h_to_hn)  # (B, Kl, H·N)
        hist_l = hist_l.reshape(bsz, kl, -1, jg.shape[1])  # (B, Kl, H, N)
        second[:, :, :, cm.hist_par] += np.transpose(hist_l, (0, 3, 1, 2))
    h_gl += w[:, :, None, None] * np.swapaxes(second, 2, 3)
    h_ll = u[:, :, None, None] * jl[:, :, :, None] * jl[:, :, None, :]
    if lf.shape[-1] > 1:
        l2 = _leave_two_out(lf)
        kb = lf.shape[-1]
        l2[..., np.arange(kb), np.arange(kb)] = 0.0
        pair = np.einsum("Bsnef,snek,snfl->Bnkl", l2 * r[..., None, None], oh.slot, oh.slot)
        h_ll += w[:, :, None, None] * pair

    # constraint curvature
    con_diag = np.zeros_like(x)
    con_diag[:, cm.con_par] = con_h
    gi = np.arange(g)
    h_gg[:, gi, gi] += con_diag[:, cm.global_par]
    sp = np.where(has, cm.slot_par, 0)
    ki = np.arange(kl)
    h_ll[:, :, ki, ki] += np.where(has, con_diag[:, sp], 0.0)
    return Derivatives(value, grad, h_gg, h_gl, h_ll, nu, jl)


def gradient(cm: CompiledModel, pars: Any, data: Any) -> np.ndarray:
    """Gradient of −2 ln L in all parameters [B, P]."""
    return derivatives(cm, pars, data).grad


def hessian(cm: CompiledModel, pars: Any, data: Any) -> np.ndarray:
    """Full Hessian of −2 ln L [B, P, P] (dense; assembled from the blocks)."""
    d = derivatives(cm, pars, data)
    bsz, p = d.grad.shape
    out = np.zeros((bsz, p, p))
    gp = cm.global_par
    out[:, gp[:, None], gp[None, :]] = d.h_gg
    has = cm.slot_par >= 0
    for b, k in zip(*np.nonzero(has), strict=True):
        q = cm.slot_par[b, k]
        out[:, gp, q] = d.h_gl[:, b, :, k]
        out[:, q, gp] = d.h_gl[:, b, :, k]
        for k2 in np.flatnonzero(has[b]):
            out[:, q, cm.slot_par[b, k2]] = d.h_ll[:, b, k, k2]
    return out
