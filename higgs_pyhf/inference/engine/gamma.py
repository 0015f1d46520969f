"""Closed-form profiling of per-bin parameters γ (Barlow–Beeston-lite), compiled.

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
from .kernel import KernelModel, _blocks

__all__ = ["gamma_hat", "reprofile"]

Arr = np.ndarray
#: The compiled functions: cached on disk, releasing the GIL, numpy float semantics.
_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


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
def reprofile(
    km: KernelModel, x: Arr, n: Arr, aux: Arr, lo: Arr, hi: Arr, cf_par: Arr, buf: tuple
) -> None:
    """Set each γ of ``cf_par`` in turn to its bounded conditional minimum given the others.

    Each γ enters ν_b linearly (:func:`gamma_hat`); ν_b is recomputed for
    each, so several γ of one bin are swept one after the other.
    """
    if cf_par.size == 0:
        return
    phi = np.empty(km.fac_par.shape[0])
    _blocks(km, x, False, phi, np.empty((1, 1)), np.empty((1, 1, 1)))
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
