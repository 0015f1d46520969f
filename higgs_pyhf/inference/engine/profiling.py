"""Closed-form profiling of one per-bin nuisance γ (Barlow–Beeston-lite).

In a bin where a single free per-bin parameter γ multiplies part of the
prediction, ν_b = A + γ C with A, C independent of γ, and

    ∂/∂γ [2(ν_b − n_b ln ν_b) + c(γ)] = 0

times ν_b (and γ for a Poisson constraint) is a quadratic a₂γ² + a₁γ + a₀ = 0:

- normal constraint c = (γ − a)²/σ²:
  a₂ = C, a₁ = σ²C² + A − aC, a₀ = σ²C(A − n) − aA;
- Poisson constraint c = −2(a ln(τγ) − τγ) (shapesys, aux a = τ nominally):
  a₂ = (C + τ)C, a₁ = (C + τ)A − (n + a)C, a₀ = −aA;
- no constraint (shapefactor): Cγ = n − A.

The objective is convex in γ on ν_b > 0 and the quadratic is ≤ 0 at the
lower end of that domain, so the larger root is the minimum; clipping it to
the bounds gives the bounded minimum.
"""

from __future__ import annotations

import numpy as np

from .compile import NORMAL, POISSON

__all__ = ["profile_single_gamma"]


def profile_single_gamma(
    n: np.ndarray,
    a_rest: np.ndarray,
    c: np.ndarray,
    aux: np.ndarray,
    kind: np.ndarray,
    sigma: np.ndarray,
    tau: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    current: np.ndarray,
) -> np.ndarray:
    """The conditional minimum γ̂ per bin (all arrays broadcast to [B, n_bins]).

    Args:
        n: main data of the bin.
        a_rest: prediction of the bin not multiplied by γ (A).
        c: ∂ν_b/∂γ (C).
        aux: auxiliary datum of γ's constraint.
        kind: constraint kind (``NORMAL``, ``POISSON`` or none).
        sigma: width of a normal constraint.
        tau: rate factor of a Poisson constraint.
        lo: lower bound of γ.
        hi: upper bound of γ.
        current: value returned where γ does not enter the likelihood.
    """
    s2 = sigma * sigma
    normal = kind == NORMAL
    pois = kind == POISSON
    a2 = np.where(normal, c, np.where(pois, (c + tau) * c, 0.0))
    a1 = np.where(
        normal, s2 * c * c + a_rest - aux * c, np.where(pois, (c + tau) * a_rest - (n + aux) * c, c)
    )
    a0 = np.where(
        normal, s2 * c * (a_rest - n) - aux * a_rest, np.where(pois, -aux * a_rest, a_rest - n)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        sq = np.sqrt(np.maximum(a1 * a1 - 4.0 * a2 * a0, 0.0))
        quad = np.where(a1 <= 0, (-a1 + sq) / (2.0 * a2), -2.0 * a0 / (a1 + sq))
        lin = -a0 / a1
    flat = c <= 0
    root = np.where(a2 > 0, quad, lin)
    fallback = np.where(normal, aux, np.where(pois, aux / tau, current))
    root = np.where(flat | ~np.isfinite(root), fallback, root)
    return np.clip(root, lo, hi)  # type: ignore[no-any-return]
