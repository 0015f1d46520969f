"""Batched −2 ln L of a compiled model, with its analytic gradient and Hessian.

For B parameter points ``pars`` [B, P] and data sets ``data`` [B, N + A]
(main bins then auxiliary data, pyhf's layout) the functions return exactly
pyhf's ``-2 * model.logpdf(pars, data)``: Poisson main terms with ln Γ(n+1),
normal constraints with their normalisation ln(σ√(2π)), Poisson constraints
``Pois(a | τγ)``; every Poisson term is evaluated as a deviance relative to
its count and the constants are added per data set
(:mod:`.constraints`).

:func:`expected_main` and :func:`twice_nll` are vectorized numpy over the
batch (the reference the tests hold against pyhf's ``logpdf``);
:func:`derivatives` runs the compiled per-point kernel of :mod:`.kernel`
(value, gradient and the Hessian in blocks) over the batch.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numba
import numpy as np

from .compile import LINEAR, NORMSYS_CODE1, CompiledModel
from .constraints import _row_sums, constraint_part, data_constant, deviance, expected_aux
from .constraints import constraint_terms as _constraints
from .interpolation import histosys_code0, histosys_code4p, normsys_code1, normsys_code4
from .kernel import FULL, KernelModel, evaluate, kernel_model

__all__ = [
    "Derivatives",
    "constraint_part",
    "data_constant",
    "derivatives",
    "expected_aux",
    "expected_main",
    "gradient",
    "hessian",
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


def _block_factors(cm: CompiledModel, xg: np.ndarray) -> np.ndarray:
    """The scalar factor of every block entry [B, n_blocks, Kg]."""
    ext = np.concatenate([xg, np.ones((xg.shape[0], 1))], axis=1)
    par = np.where(cm.fac_par >= 0, cm.fac_par, xg.shape[1])
    f = ext[:, par]
    sys = cm.fac_kind != LINEAR
    if sys.any():
        a = f[:, sys]
        lo, hi = cm.fac_lo[sys], cm.fac_hi[sys]
        if np.all(cm.fac_kind[sys] == NORMSYS_CODE1):
            f[:, sys] = normsys_code1(a, lo, hi)
        else:
            f[:, sys] = normsys_code4(a, lo, hi, cm.fac_coef[sys])
    return f  # type: ignore[no-any-return]


_ONEHOT_CACHE: dict[int, tuple[CompiledModel, np.ndarray]] = {}


def _histosys_entries(cm: CompiledModel) -> tuple[KernelModel, np.ndarray]:
    """The kernel's non-zero histosys entries and their one-hot map [E, S·N] to sample-bins."""
    km = kernel_model(cm)
    hit = _ONEHOT_CACHE.get(id(cm))
    if hit is not None and hit[0] is cm:
        return km, hit[1]
    nn = cm.nmain
    flat = km.hist_s * nn + np.repeat(np.arange(nn), np.diff(km.hist_start))
    onehot = np.zeros((flat.size, cm.nominal.size))
    onehot[np.arange(flat.size), flat] = 1.0
    if len(_ONEHOT_CACHE) > 32:
        _ONEHOT_CACHE.clear()
    _ONEHOT_CACHE[id(cm)] = (cm, onehot)
    return km, onehot


def _local_factors(cm: CompiledModel, x: np.ndarray) -> np.ndarray:
    ext = np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)
    par = np.where(cm.loc_par >= 0, cm.loc_par, x.shape[1])
    return ext[:, par]  # type: ignore[no-any-return]


def expected_main(cm: CompiledModel, pars: Any) -> np.ndarray:
    """Expected main data ν_b [B, N] (pyhf's ``expected_actualdata``)."""
    x = np.atleast_2d(np.asarray(pars, dtype=float))
    xg = x[:, cm.global_par]
    f = _block_factors(cm, xg)
    phi = f.prod(axis=-1)[:, cm.block]
    m = cm.nominal
    if cm.hist_par.size:
        km, onehot = _histosys_entries(cm)
        fn = histosys_code0 if cm.histosys_code == "code0" else histosys_code4p
        shift = fn(xg[:, km.hist_g], km.hist_up, km.hist_dn)  # [B, E]
        m = m + (shift @ onehot).reshape(-1, *m.shape)
    gam = _local_factors(cm, x).prod(axis=-1)
    return (phi * gam * m).sum(axis=1)  # type: ignore[no-any-return]


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
        main = _row_sums(np.ascontiguousarray(deviance(n, nu)))
    con = _constraints(cm, x, aux)[0]
    c = data_constant(cm, data) if constant is None else constant
    return main + con + c  # type: ignore[no-any-return]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _evaluate_batch(
    km: KernelModel, x: np.ndarray, n: np.ndarray, aux: np.ndarray, const: np.ndarray, want: int
) -> tuple[np.ndarray, ...]:
    """:func:`evaluate` at B points ``x`` [B, P] for data ``n`` [B, N], ``aux`` [B, A]."""
    bsz, npar = x.shape
    nbin, kl = km.slot_par.shape
    ng = km.global_par.size
    value = np.empty(bsz)
    grad = np.zeros((bsz, npar))
    h_gg = np.zeros((bsz, ng, ng))
    h_gl = np.zeros((bsz, nbin, km.t_max, kl))
    h_ll = np.zeros((bsz, nbin, kl, kl))
    nu = np.empty((bsz, nbin))
    jl = np.zeros((bsz, nbin, kl))
    for i in range(bsz):
        value[i] = evaluate(
            km, x[i], n[i], aux[i], const[i], want, grad[i], h_gg[i], h_gl[i], h_ll[i], nu[i], jl[i]
        )
    return value, grad, h_gg, h_gl, h_ll, nu, jl


def derivatives(cm: CompiledModel, pars: Any, data: Any) -> Derivatives:
    """−2 ln L, its gradient and its Hessian in blocks at ``pars`` [B, P] (compiled)."""
    x = np.ascontiguousarray(np.atleast_2d(np.asarray(pars, dtype=float)))
    n, aux = _split(cm, data)
    bsz = x.shape[0]
    # writable copies: numba types read-only arrays apart (one more compilation)
    n = np.array(np.broadcast_to(n, (bsz, n.shape[1])), order="C")
    aux = np.array(np.broadcast_to(aux, (bsz, aux.shape[1])), order="C")
    c = data_constant(cm, np.concatenate([n, aux], axis=1))
    km = kernel_model(cm)
    value, grad, h_gg, h_gl, h_ll, nu, jl = _evaluate_batch(km, x, n, aux, c, FULL)
    # the kernel's rows of h_gl are the globals acting on each bin: spread them out
    counts = np.diff(km.bin_g_start)
    rows = np.repeat(np.arange(cm.nmain), counts)
    at = np.arange(km.bin_g.size) - np.repeat(km.bin_g_start[:-1], counts)
    dense = np.zeros((bsz, cm.nmain, cm.global_par.size, h_gl.shape[-1]))
    dense[:, rows, km.bin_g] = h_gl[:, rows, at]
    return Derivatives(value, grad, h_gg, dense, h_ll, nu, jl)


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
