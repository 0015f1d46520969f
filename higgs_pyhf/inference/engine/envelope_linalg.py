"""Cholesky solves of large sparse symmetric matrices: shifted, within an envelope (compiled).

For large matrices (the Schur complement of a model with hundreds of
globals) the eigen-decomposition of :mod:`.linalg` costs ~20 Choleskys:
:func:`solve_shift` shifts the unit-diagonal scaled matrix instead
(Levenberg: H + τ·I, τ = 10⁻⁴, 10⁻³, … until it factors), which also bounds
the step along negative curvature. :func:`solve_envelope` and
:func:`inverse_envelope` factor a reordered matrix only within its envelope
(:func:`.sparsity.envelope`): row i has no entry left of column ``env[i]``,
and a Cholesky factor keeps that shape. Single-threaded, like :mod:`.linalg`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .linalg import _factor_scaled, _pivot, _substitute, _unit_scale, solve_floor

__all__ = ["inverse_envelope", "solve_envelope", "solve_shift"]

Arr = np.ndarray
#: The compiled functions: cached on disk, releasing the GIL, numpy float semantics.
_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


@_jit
def _factor_envelope(h: Arr, sc: Arr, tau: float, lmat: Arr, order: Arr, env: Arr) -> bool:
    """:func:`.linalg._factor_scaled` of the reordered H (``order``) within its envelope ``env``.

    Reads H's lower triangle in its own indices (as :func:`.linalg.solve` does).
    """
    k = h.shape[0]
    for i in range(k):
        oi = order[i]
        for j in range(env[i], i + 1):
            oj = order[j]
            s = (h[oi, oj] if oi >= oj else h[oj, oi]) * sc[oi] * sc[oj]
            if i == j:
                s += tau
            for m in range(max(env[i], env[j]), j):
                s -= lmat[i, m] * lmat[j, m]
            if not _pivot(lmat, i, j, s):
                return False
    return True


@_jit
def _factor_shifted(h: Arr, sc: Arr, lmat: Arr, order: Arr, env: Arr) -> float:
    """Cholesky of the scaled H, shifted by τI until it factors; returns τ.

    The scaling is D = √|diag H| (1 where the diagonal vanishes), D⁻¹ into
    ``sc``; τ = 0, then 10⁻⁴, 10⁻³, …. An empty ``order`` factors the dense
    H (:func:`.linalg._factor_scaled`), otherwise H reordered within the
    envelope ``env`` (:func:`_factor_envelope`). Returns −1 where H is not
    finite or τ would pass 10⁸ (the caller floors instead: :func:`solve_floor`).
    """
    for i in range(sc.size):
        d = abs(h[i, i])
        if not math.isfinite(d):
            return -1.0
        sc[i] = 1.0 / math.sqrt(d) if d > 0.0 else 1.0
    dense = order.size == 0
    tau = 0.0
    while not (
        _factor_scaled(h, sc, tau, lmat)
        if dense
        else _factor_envelope(h, sc, tau, lmat, order, env)
    ):
        tau = 1e-4 if tau == 0.0 else 10.0 * tau
        if tau > 1e8:
            return -1.0
    return tau


@_jit
def _substitute_envelope(lmat: Arr, env: Arr, y: Arr, first: int) -> None:
    """Y ← (L Lᵀ)⁻¹ y in place for a factor L within the envelope ``env``.

    ``y[:first]`` must be zero: the forward substitution starts at ``first``.
    """
    k = y.size
    for i in range(first, k):
        s = y[i]
        for m in range(max(env[i], first), i):
            s -= lmat[i, m] * y[m]
        y[i] = s / lmat[i, i]
    for i in range(k - 1, -1, -1):  # Lᵀ z = y: row i of Lᵀ is column i of L
        y[i] /= lmat[i, i]
        for m in range(env[i], i):
            y[m] -= lmat[i, m] * y[i]


@_jit
def solve_shift(h: Arr, rhs: Arr, out: Arr, lmat: Arr) -> bool:
    """Out = H⁻¹ rhs by Cholesky of the scaled H; shifted by τI until it factors where not PD.

    The scaling is D = √|diag H| (1 where the diagonal vanishes), as in
    :func:`solve_floor`. Returns whether H is positive definite (no shift
    was needed). A non-finite matrix goes to :func:`solve_floor`.
    """
    k = rhs.size
    sc = np.empty(k)
    none = np.empty(0, dtype=np.int64)
    tau = _factor_shifted(h, sc, lmat, none, none)
    if tau < 0.0:
        return solve_floor(np.ascontiguousarray(h), rhs, out)
    for i in range(k):
        out[i] = rhs[i] * sc[i]
    _substitute(lmat, out)
    for i in range(k):
        out[i] *= sc[i]
    return tau == 0.0


@_jit
def solve_envelope(h: Arr, rhs: Arr, out: Arr, lmat: Arr, order: Arr, env: Arr) -> bool:
    """:func:`solve_shift` for a sparse H: Cholesky of the reordered H within its envelope.

    ``order`` [k] is a permutation and ``env`` [k] the envelope of the
    reordered H (entry (i, j), j < i, is zero unless ``env[i] <= j``;
    :func:`.sparsity.envelope`); entries outside it are not read. Returns
    whether H is positive definite (no shift was needed).
    """
    k = rhs.size
    sc = np.empty(k)
    tau = _factor_shifted(h, sc, lmat, order, env)
    if tau < 0.0:
        return solve_floor(np.ascontiguousarray(h), rhs, out)
    y = np.empty(k)
    for i in range(k):
        y[i] = rhs[order[i]] * sc[order[i]]
    _substitute_envelope(lmat, env, y, 0)
    for i in range(k):
        out[order[i]] = y[i] * sc[order[i]]
    return tau == 0.0


@_jit
def inverse_envelope(h: Arr, out: Arr, order: Arr, env: Arr) -> bool:
    """Out = H⁻¹ by Cholesky of the scaled, reordered H within its envelope; False if not PD.

    As :func:`inverse_pd` for a sparse H (see :func:`solve_envelope`): the
    factorization costs Σ_i (i − env[i])² and each column of the inverse
    two envelope solves. Where it returns False ``out`` is undefined.
    """
    k = h.shape[0]
    sc = np.empty(k)
    lmat = np.zeros((k, k))
    if not (_unit_scale(h, sc) and _factor_envelope(h, sc, 0.0, lmat, order, env)):
        return False
    y = np.empty(k)
    for c in range(k):  # column c of the reordered inverse
        for i in range(k):
            y[i] = 0.0
        y[c] = 1.0
        _substitute_envelope(lmat, env, y, c)
        oc = order[c]
        for i in range(k):
            out[order[i], oc] = y[i] * sc[order[i]] * sc[oc]
    return True
