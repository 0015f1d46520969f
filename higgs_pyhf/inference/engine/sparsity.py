"""Which global parameters meet in each main bin: the sparsity of the derivatives.

A global parameter (normfactor, lumi, normsys, histosys) acts on the bins of
the (sample, channel) blocks it multiplies and on the bins where its
histosys shifts are non-zero. In a model of many channels each bin meets a
handful of them, whatever the total number G. The kernel (:mod:`.kernel`)
accumulates the gradient and Hessian of a bin only over the globals that
meet in it, and the Newton step (:mod:`.newton`) updates the Schur
complement only over those rows, so a full evaluation costs
Σ_b t_b² (t_b globals in bin b) instead of N·G².

The lists are derived from a :class:`~.compile.CompiledModel`'s arrays (its
blocks' factors and its non-zero histosys entries) and stored in
compressed-row form: the globals of bin ``b`` are
``bin_g[bin_g_start[b]:bin_g_start[b + 1]]``, sorted. A global appears in a
bin's list where its block factor or its histosys entry reaches one of the
bin's samples, including samples whose nominal yield there is 0 (they can
still be shifted by a histosys).
"""

from __future__ import annotations

import numpy as np

__all__ = ["bin_globals"]


def bin_globals(
    block: np.ndarray,
    fac_par: np.ndarray,
    hist_start: np.ndarray,
    hist_g: np.ndarray,
    n_global: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The globals acting on each main bin, in compressed-row form.

    Args:
        block: (S, N) block index of each sample and bin.
        fac_par: (n_blocks, Kg) global index of each factor of a block, −1 for padding.
        hist_start: (N + 1,) histosys entries of bin b: ``hist_start[b]:hist_start[b+1]``.
        hist_g: (E,) global index of each non-zero histosys entry (sorted by bin).
        n_global: the number of globals G.

    Returns:
        ``(bin_g_start [N + 1], bin_g [nnz])``, int64; each bin's globals sorted.
    """
    nbin = block.shape[1]
    fac = fac_par[block]  # [S, N, Kg]
    s_, b_, _k = np.nonzero(fac >= 0)
    bins = [b_, np.repeat(np.arange(nbin), np.diff(hist_start))]
    glob = [fac[s_, b_, _k], hist_g]
    key = np.unique(np.concatenate(bins).astype(np.int64) * n_global + np.concatenate(glob))
    rows, cols = np.divmod(key, max(n_global, 1))
    start = np.searchsorted(rows, np.arange(nbin + 1)).astype(np.int64)
    return start, np.ascontiguousarray(cols, dtype=np.int64)
