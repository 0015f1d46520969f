"""The covariance 2 H⁻¹ of one fit from the Hessian blocks, without a dense P × P inverse.

With the globals g and the per-bin parameters l (block-diagonal by bin,
D = H_ll), the inverse of H = [[A, B], [Bᵀ, D]] is, with E = B D⁻¹ and the
Schur complement S = A − E Bᵀ::

    (H⁻¹)_gg = S⁻¹,   (H⁻¹)_gl = −S⁻¹ E,   (H⁻¹)_ll = D⁻¹ + Eᵀ S⁻¹ E.

Each bin's part of E has rows only for the t_b globals acting on it
(:mod:`.sparsity`), S is inverted within its envelope
(:func:`.envelope_linalg.inverse_envelope`), so the cost is ~G·Σ_b t_b + P² instead
of P³/2. Where D or S is not positive definite the caller inverts the dense
Hessian instead.
"""

from __future__ import annotations

import numpy as np

from .compile import CompiledModel
from .constraints import data_constant
from .envelope_linalg import inverse_envelope
from .kernel import FULL, kernel_model
from .likelihood import _evaluate_batch

__all__ = ["covariance_blocks"]


def covariance_blocks(
    cm: CompiledModel, pars: np.ndarray, data: np.ndarray, free: np.ndarray
) -> np.ndarray | None:
    """2 H⁻¹ over the ``free`` parameters at ``pars`` [P] (zeros elsewhere); None if not PD."""
    km = kernel_model(cm)
    if km.bin_g.size == 0:
        return None
    x = np.ascontiguousarray(pars, dtype=float)[None, :]
    n = np.array(data[None, : cm.nmain], dtype=float, order="C")
    aux = np.array(data[None, cm.nmain :], dtype=float, order="C")
    c = data_constant(cm, np.concatenate([n, aux], axis=1))
    _, _, h_gg, h_gl, h_ll, _, _ = _evaluate_batch(km, x, n, aux, c, FULL)
    h_gg, h_gl, h_ll = h_gg[0], h_gl[0], h_ll[0]
    ng, (nbin, kl), tm = km.global_par.size, cm.slot_par.shape, km.t_max
    gfree = free[cm.global_par]
    lfree = (cm.slot_par >= 0) & free[np.where(cm.slot_par >= 0, cm.slot_par, 0)]
    # the globals of each bin by position (padding: global 0 with zero weight)
    counts = np.diff(km.bin_g_start)
    at = np.arange(tm)[None, :]
    valid = at < counts[:, None]
    gidx = np.where(
        valid, km.bin_g[np.minimum(km.bin_g_start[:-1, None] + at, km.bin_g.size - 1)], 0
    )
    use = valid & gfree[gidx]  # rows of free globals
    h_gl = np.where(use[:, :, None] & lfree[:, None, :], h_gl, 0.0)
    both = lfree[:, :, None] & lfree[:, None, :]
    d = np.where(both, h_ll, np.eye(kl)[None, :, :])
    try:
        np.linalg.cholesky(d)
    except np.linalg.LinAlgError:
        return None
    dinv = np.where(both, np.linalg.inv(d), 0.0)
    e = np.einsum("ntk,nkm->ntm", h_gl, dinv)  # E = B D⁻¹, rows by position [N, T, Kl]
    upd = np.einsum("nik,njk->nij", e, h_gl)  # E Bᵀ per bin [N, T, T]
    flat = (gidx[:, :, None] * ng + gidx[:, None, :]).ravel()
    s = h_gg - np.bincount(flat, weights=upd.ravel(), minlength=ng * ng).reshape(ng, ng)
    s[~gfree, :] = 0.0
    s[:, ~gfree] = 0.0
    s[~gfree, ~gfree] = 1.0
    s_inv = np.empty((ng, ng))
    if not inverse_envelope(np.ascontiguousarray(s), s_inv, km.g_order, km.g_env):
        return None
    s_inv[~gfree, :] = 0.0
    s_inv[:, ~gfree] = 0.0
    cov_gl = -np.einsum("gnt,ntk->gnk", s_inv[:, gidx], e)  # −S⁻¹ E [G, N, Kl]
    # (H⁻¹)_ll = D⁻¹ + Eᵀ S⁻¹ E = D⁻¹ − Eᵀ (H⁻¹)_gl, row (b, k), column (b', k')
    g_rows = cov_gl.reshape(ng, nbin * kl)[gidx]  # [N, T, N·Kl]
    cov_ll = -np.einsum("ntk,ntc->nkc", e, g_rows).reshape(nbin * kl, nbin * kl)
    idx = np.arange(nbin) * kl
    for k in range(kl):
        for m in range(kl):
            cov_ll[idx + k, idx + m] += dinv[:, k, m]
    out = np.zeros((cm.npars, cm.npars))
    gp = cm.global_par
    lp = np.where(cm.slot_par >= 0, cm.slot_par, 0).ravel()
    lmask = lfree.ravel()
    out[np.ix_(gp, gp)] = s_inv
    lsel = np.flatnonzero(lmask)
    out[np.ix_(gp, lp[lsel])] = cov_gl.reshape(ng, nbin * kl)[:, lsel]
    out[np.ix_(lp[lsel], gp)] = out[np.ix_(gp, lp[lsel])].T
    out[np.ix_(lp[lsel], lp[lsel])] = cov_ll[np.ix_(lsel, lsel)]
    return 2.0 * out
