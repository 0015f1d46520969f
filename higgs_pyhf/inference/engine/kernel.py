"""Compiled −2 ln L of one parameter point with its gradient and Hessian blocks.

A :class:`KernelModel` is the part of a :class:`~.compile.CompiledModel` the
compiled (numba, ``cache=True``, ``nogil=True``) functions read: arrays of
fixed dtypes and ranks only, so one compilation serves every model.

:func:`evaluate` walks the bins once. With ν_sb = Φ_κ Γ_sb M_sb (see
:mod:`.compile`), w_b = 2(1 − n_b/ν_b) and u_b = 2 n_b/ν_b²::

    ∂(−2lnL)/∂x_p      = Σ_b w_b ∂ν_b/∂x_p                       + constraint
    ∂²(−2lnL)/∂x_p∂x_q = Σ_b u_b ∂ν_b/∂x_p ∂ν_b/∂x_q
                          + Σ_sb w_b ∂²ν_sb/∂x_p∂x_q                + constraint

The Hessian comes in blocks: globals × globals ``h_gg`` [G, G], globals ×
local slots of each bin ``h_gl`` [N, T, Kl], local slots × local slots of
each bin ``h_ll`` [N, Kl, Kl]; local parameters of different bins never
couple, which the Newton fitter (:mod:`.newton`) uses to eliminate them bin
by bin. Row ``i`` of ``h_gl[b]`` is the ``i``-th global acting on bin ``b``
(:mod:`.sparsity`; T is the largest number of them in a bin): a bin's
gradient and Hessian terms are accumulated only over the globals that meet
in it, and the block factors' derivatives only over their few factor slots
(:mod:`.blocks`), so a full evaluation costs Σ_b t_b² + n_blocks·Kg², not
n_blocks·G² + N·G². The value is checked against pyhf's ``logpdf`` through
:func:`.likelihood.twice_nll` (numpy, batched), and the derivatives against
its finite differences, in the tests.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any, NamedTuple

import numba
import numpy as np

from .blocks import block_factors
from .compile import NORMAL, POISSON, CompiledModel
from .constraints import deviance_point
from .interpolation import histosys_point
from .sparsity import bin_globals, envelope

__all__ = ["FULL", "SLOPES", "VALUE", "KernelModel", "deviance_point", "evaluate", "kernel_model"]

#: What :func:`evaluate` computes: the value only; also ν and ∂ν/∂γ; everything.
VALUE, SLOPES, FULL = 0, 1, 2


class KernelModel(NamedTuple):
    """The arrays the compiled functions read (S samples, N bins, G globals).

    Fields named as in :class:`~.compile.CompiledModel` hold the same arrays,
    as C-contiguous int64/float64. The others:

    Attributes:
        hist_start: (N + 1,) histosys entries of bin b: ``hist_start[b]:hist_start[b+1]``.
        hist_g: (E,) global index of each non-zero histosys entry (sorted by bin).
        hist_s: (E,) its sample.
        hist_up: (E,) hi − nominal.
        hist_dn: (E,) nominal − lo.
        hist_code: 0 for histosys code 0, 1 for code 4p.
        par_global: (P,) global index of each parameter, −1 if local.
        par_bin: (P,) bin of each local parameter, −1 if global.
        par_slot: (P,) slot of each local parameter, −1 if global.
        bin_g_start: (N + 1,) the globals acting on bin b are
            ``bin_g[bin_g_start[b]:bin_g_start[b+1]]`` (:mod:`.sparsity`).
        bin_g: (nnz,) their global indices, sorted within each bin.
        t_max: the largest number of globals acting on one bin (≥ 1).
        g_order: (G,) the globals in the order of :func:`.sparsity.envelope`.
        g_env: (G,) the envelope of their coupling pattern in that order.
    """

    nominal: np.ndarray
    block: np.ndarray
    fac_par: np.ndarray
    fac_kind: np.ndarray
    fac_lo: np.ndarray
    fac_hi: np.ndarray
    fac_coef: np.ndarray
    hist_start: np.ndarray
    hist_g: np.ndarray
    hist_s: np.ndarray
    hist_up: np.ndarray
    hist_dn: np.ndarray
    hist_code: int
    global_par: np.ndarray
    loc_par: np.ndarray
    loc_slot: np.ndarray
    slot_par: np.ndarray
    con_par: np.ndarray
    con_kind: np.ndarray
    con_sigma: np.ndarray
    con_factor: np.ndarray
    par_con: np.ndarray
    par_global: np.ndarray
    par_bin: np.ndarray
    par_slot: np.ndarray
    bin_g_start: np.ndarray
    bin_g: np.ndarray
    t_max: int
    g_order: np.ndarray
    g_env: np.ndarray


#: The :class:`KernelModel` fields that are the :class:`~.compile.CompiledModel`'s
#: arrays of the same name, copied as int64 and as float64.
_SHARED_INT64 = (
    "block",
    "fac_par",
    "fac_kind",
    "global_par",
    "loc_par",
    "loc_slot",
    "slot_par",
    "con_par",
    "con_kind",
    "par_con",
)
_SHARED_FLOAT64 = ("nominal", "fac_lo", "fac_hi", "fac_coef", "con_sigma", "con_factor")
_CACHE: dict[int, tuple[CompiledModel, KernelModel]] = {}


def kernel_model(cm: CompiledModel) -> KernelModel:
    """The :class:`KernelModel` of ``cm`` (built once per compiled model)."""
    hit = _CACHE.get(id(cm))
    if hit is not None and hit[0] is cm:
        return hit[1]
    he, se, be = np.nonzero((cm.hist_up != 0) | (cm.hist_dn != 0))
    order = np.lexsort((se, he, be))
    he, se, be = he[order], se[order], be[order]
    hist_start = np.searchsorted(be, np.arange(cm.nmain + 1)).astype(np.int64)
    par_global = np.full(cm.npars, -1, dtype=np.int64)
    par_global[cm.global_par] = np.arange(cm.global_par.size)
    par_bin = np.full(cm.npars, -1, dtype=np.int64)
    par_slot = np.full(cm.npars, -1, dtype=np.int64)
    bins, slots = np.nonzero(cm.slot_par >= 0)
    par_bin[cm.slot_par[bins, slots]] = bins
    par_slot[cm.slot_par[bins, slots]] = slots

    hist_g = cm.hist_par[he] if he.size else np.zeros(0, dtype=np.int64)
    bin_g_start, bin_g = bin_globals(cm.block, cm.fac_par, hist_start, hist_g, cm.global_par.size)
    g_order, g_env = envelope(bin_g_start, bin_g, cm.global_par.size)

    i64 = partial(np.ascontiguousarray, dtype=np.int64)
    f64 = partial(np.ascontiguousarray, dtype=np.float64)
    shared: dict[str, Any] = {name: i64(getattr(cm, name)) for name in _SHARED_INT64}
    shared.update({name: f64(getattr(cm, name)) for name in _SHARED_FLOAT64})
    km = KernelModel(
        **shared,
        hist_start=hist_start,
        hist_g=i64(hist_g),
        hist_s=i64(se),
        hist_up=f64(cm.hist_up[he, se, be]),
        hist_dn=f64(cm.hist_dn[he, se, be]),
        hist_code=0 if cm.histosys_code == "code0" else 1,
        par_global=par_global,
        par_bin=par_bin,
        par_slot=par_slot,
        bin_g_start=bin_g_start,
        bin_g=bin_g,
        t_max=max(1, int(np.diff(bin_g_start).max(initial=0))),
        g_order=g_order,
        g_env=g_env,
    )
    if len(_CACHE) > 32:
        _CACHE.clear()
    _CACHE[id(cm)] = (cm, km)
    return km


Arr = np.ndarray
#: The compiled functions: cached on disk, releasing the GIL, numpy float semantics.
_jit = numba.njit(cache=True, nogil=True, error_model="numpy")
#: The same, inlined into the caller (small helpers inside the bin loop).
_inline = numba.njit(inline="always", cache=True, nogil=True, error_model="numpy")


@_inline
def _local_product(km: KernelModel, x: Arr, s: int, b: int, e: int, f: int) -> float:
    """Π x_p over the per-bin factors of sample ``s`` in bin ``b`` but slots ``e``, ``f`` (−1: none)."""
    v = 1.0
    for e3 in range(km.loc_par.shape[2]):
        p = km.loc_par[s, b, e3]
        if e3 != e and e3 != f and p >= 0:
            v *= x[p]
    return v


@_jit
def _blocks(km: KernelModel, x: Arr, derivs: bool, phi: Arr, dphi: Arr, d2phi: Arr) -> None:
    """:func:`.blocks.block_factors` of ``km``: Φ_κ, and with ``derivs`` its slot derivatives."""
    block_factors(
        km.fac_par,
        km.fac_kind,
        km.fac_lo,
        km.fac_hi,
        km.fac_coef,
        km.global_par,
        x,
        derivs,
        phi,
        dphi,
        d2phi,
    )


@_jit
def _constraints(
    km: KernelModel, x: Arr, aux: Arr, want: int, grad: Arr, h_gg: Arr, h_ll: Arr
) -> float:
    """Parameter-dependent constraint terms; adds their gradient and curvature."""
    val = 0.0
    for a in range(km.con_par.size):
        p = km.con_par[a]
        xp, ap = x[p], aux[a]
        if km.con_kind[a] == NORMAL:
            s2 = km.con_sigma[a] * km.con_sigma[a]
            val += (xp - ap) * (xp - ap) / s2
            gr, hs = 2.0 * (xp - ap) / s2, 2.0 / s2
        elif km.con_kind[a] == POISSON:
            val += deviance_point(ap, xp * km.con_factor[a])  # relative to a: exact at a ~ 1e12
            gr, hs = 2.0 * (km.con_factor[a] - ap / xp), 2.0 * ap / (xp * xp)
        else:
            continue
        if want == FULL:
            grad[p] += gr
            g = km.par_global[p]
            if g >= 0:
                h_gg[g, g] += hs
            elif km.par_bin[p] >= 0:
                k = km.par_slot[p]
                h_ll[km.par_bin[p], k, k] += hs
    return val


@_jit
def evaluate(
    km: KernelModel,
    x: Arr,
    n: Arr,
    aux: Arr,
    const: float,
    want: int,
    grad: Arr,
    h_gg: Arr,
    h_gl: Arr,
    h_ll: Arr,
    nu: Arr,
    jl: Arr,
) -> float:
    """−2 ln L at one point ``x`` [P] for main data ``n`` [N] and ``aux`` [A].

    Poisson terms (main bins and Poisson constraints) are evaluated in their
    deviance form relative to the count (:func:`deviance_point`), precise for
    any count; ``const`` is the data constant
    (:func:`.constraints.data_constant`), so the value is pyhf's −2 ln L.
    ``nu`` [N] and, unless ``want == VALUE``, ``jl`` [N, Kl] (∂ν_b/∂γ per
    slot) are filled; with ``want == FULL`` also ``grad`` [P], ``h_gg`` [G, G],
    ``h_gl`` [N, T, Kl] (row i: the i-th global of the bin, :mod:`.sparsity`),
    ``h_ll`` [N, Kl, Kl] (overwritten). Returns +inf where a bin with data has
    ν ≤ 0 or ν < 0.
    """
    ns, nbin = km.nominal.shape
    kb = km.loc_par.shape[2]
    nblk, kg = km.fac_par.shape
    ng = km.global_par.size
    phi = np.empty(nblk)
    dphi = np.empty((nblk, kg))
    d2phi = np.empty((nblk, kg, kg))
    _blocks(km, x, want == FULL, phi, dphi, d2phi)
    m = np.empty(ns)
    gam = np.empty(ns)
    loo = np.empty((ns, kb))
    jg = np.empty(km.t_max)  # ∂ν_b/∂θ of the globals acting on bin b, by their position
    pos = np.empty(ng, dtype=np.int64)  # position of each global in the current bin's list
    wq = np.zeros(nblk)
    if want == FULL:
        grad[:] = 0.0
        h_gg[:, :] = 0.0
        h_gl[:, :, :] = 0.0
        h_ll[:, :, :] = 0.0
    main = 0.0
    bad = False
    for b in range(nbin):
        h0, h1 = km.hist_start[b], km.hist_start[b + 1]
        for s in range(ns):
            m[s] = km.nominal[s, b]
        for e in range(h0, h1):
            alpha = x[km.global_par[km.hist_g[e]]]
            m[km.hist_s[e]] += histosys_point(alpha, km.hist_code, km.hist_up[e], km.hist_dn[e])[0]
        nub = 0.0
        for s in range(ns):
            gam[s] = _local_product(km, x, s, b, -1, -1)
            nub += phi[km.block[s, b]] * gam[s] * m[s]
        nu[b] = nub
        nb_ = n[b]
        if nub < 0.0 or (nub == 0.0 and nb_ > 0.0):
            bad = True
        else:
            main += deviance_point(nb_, nub)
        if want == VALUE:
            continue
        for k in range(jl.shape[1]):
            jl[b, k] = 0.0
        for s in range(ns):
            for e in range(kb):
                if km.loc_par[s, b, e] < 0:
                    loo[s, e] = 0.0
                    continue
                v = _local_product(km, x, s, b, e, -1)
                loo[s, e] = v
                jl[b, km.loc_slot[s, b, e]] += phi[km.block[s, b]] * m[s] * v
        if want != FULL:
            continue
        safe = nub if nub > 0.0 else 1.0
        w = 2.0 * (1.0 - nb_ / safe)
        u = 2.0 * nb_ / (safe * safe)
        # the globals acting on this bin, their Jacobian, and the block sums of the
        # second-derivative terms
        t0 = km.bin_g_start[b]
        nt = km.bin_g_start[b + 1] - t0
        for i in range(nt):
            pos[km.bin_g[t0 + i]] = i
            jg[i] = 0.0
        for s in range(ns):
            k_ = km.block[s, b]
            c = gam[s] * m[s]
            for k in range(kg):
                g = km.fac_par[k_, k]
                if g >= 0:
                    jg[pos[g]] += c * dphi[k_, k]
            wq[k_] += w * c
        for e in range(h0, h1):
            s = km.hist_s[e]
            k_ = km.block[s, b]
            ge = km.hist_g[e]
            _, d1, d2 = histosys_point(
                x[km.global_par[ge]], km.hist_code, km.hist_up[e], km.hist_dn[e]
            )
            ie = pos[ge]
            jg[ie] += gam[s] * phi[k_] * d1
            q = w * gam[s] * d1
            for k in range(kg):
                g = km.fac_par[k_, k]
                if g >= 0:
                    h_gg[g, ge] += dphi[k_, k] * q
                    h_gg[ge, g] += dphi[k_, k] * q
            h_gg[ge, ge] += w * gam[s] * phi[k_] * d2
            # ∂²ν/∂θ∂γ through the histosys shift
            for e2 in range(kb):
                if km.loc_par[s, b, e2] >= 0:
                    h_gl[b, ie, km.loc_slot[s, b, e2]] += w * phi[k_] * d1 * loo[s, e2]
        for i in range(nt):
            g = km.bin_g[t0 + i]
            grad[km.global_par[g]] += w * jg[i]
            for j in range(nt):
                h_gg[g, km.bin_g[t0 + j]] += u * (jg[i] * jg[j])  # exactly symmetric
        for k in range(km.slot_par.shape[1]):
            p = km.slot_par[b, k]
            if p < 0:
                continue
            grad[p] += w * jl[b, k]
            for i in range(nt):
                h_gl[b, i, k] += u * jg[i] * jl[b, k]
            for k2 in range(km.slot_par.shape[1]):
                h_ll[b, k, k2] += u * (jl[b, k] * jl[b, k2])
        # second derivatives in (θ, γ) through Φ, and in (γ, γ')
        for s in range(ns):
            k_ = km.block[s, b]
            for e in range(kb):
                if km.loc_par[s, b, e] < 0:
                    continue
                k = km.loc_slot[s, b, e]
                c = w * m[s] * loo[s, e]
                for kk in range(kg):
                    g = km.fac_par[k_, kk]
                    if g >= 0:
                        h_gl[b, pos[g], k] += c * dphi[k_, kk]
                for f in range(kb):
                    if f == e or km.loc_par[s, b, f] < 0:
                        continue
                    v = _local_product(km, x, s, b, e, f)
                    h_ll[b, k, km.loc_slot[s, b, f]] += w * phi[k_] * m[s] * v
    if want == FULL:
        for k_ in range(nblk):
            if wq[k_] == 0.0:
                continue
            for k in range(kg):
                g = km.fac_par[k_, k]
                if g < 0:
                    continue
                for j in range(kg):
                    h = km.fac_par[k_, j]
                    if h >= 0:
                        h_gg[g, h] += wq[k_] * d2phi[k_, k, j]
    con = _constraints(km, x, aux, want, grad, h_gg, h_ll)
    if bad:
        return math.inf
    return main + con + const
