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

Two globals couple in the Hessian, and in the Schur complement left after
eliminating the per-bin parameters, only where they meet in some bin. Ordered
by the span of bins they act on, then by their first bin, the channel-own
systematics of a channel come together and the parameters shared by many
channels (POI, lumi, shared systematics) last: the coupling pattern is then
an *envelope* (row i couples only to columns ``env[i]..i``) that a Cholesky
factorization keeps (:func:`.envelope_linalg.solve_envelope`): the cost of a Newton
step's G × G solve falls from G³/3 to Σ_i (i − env[i])², about
G·(channel-own)² + (shared)·G².
"""

from __future__ import annotations

import numpy as np

__all__ = ["bin_globals", "envelope"]


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


def envelope(
    bin_g_start: np.ndarray, bin_g: np.ndarray, n_global: int
) -> tuple[np.ndarray, np.ndarray]:
    """An ordering of the globals and the envelope of their coupling pattern.

    Args:
        bin_g_start: (N + 1,) as returned by :func:`bin_globals`.
        bin_g: (nnz,) as returned by :func:`bin_globals`.
        n_global: the number of globals G.

    Returns:
        ``(order [G], env [G])``, int64: ``order[i]`` is the global in
        position i; row i of the reordered pattern has no entry left of
        column ``env[i]`` (≤ i).
    """
    nbin = bin_g_start.size - 1
    rows = np.repeat(np.arange(nbin), np.diff(bin_g_start))
    first = np.full(n_global, -1, dtype=np.int64)
    last = np.full(n_global, -1, dtype=np.int64)
    if bin_g.size:
        first_b = np.full(n_global, nbin, dtype=np.int64)
        np.minimum.at(first_b, bin_g, rows)
        np.maximum.at(last, bin_g, rows)
        first = np.where(last >= 0, first_b, -1)
    order = np.lexsort((np.arange(n_global), first, last - first)).astype(np.int64)
    pos = np.empty(n_global, dtype=np.int64)
    pos[order] = np.arange(n_global)
    env_g = pos.copy()
    if bin_g.size:
        nonempty = np.flatnonzero(np.diff(bin_g_start) > 0)
        low = np.minimum.reduceat(pos[bin_g], bin_g_start[nonempty])  # per non-empty bin
        np.minimum.at(env_g, bin_g, np.repeat(low, np.diff(bin_g_start)[nonempty]))
    return order, np.ascontiguousarray(env_g[order], dtype=np.int64)
