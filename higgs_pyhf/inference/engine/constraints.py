"""Constraint terms of −2 ln L and the auxiliary data (pyhf's normalisations).

Normal constraints contribute (a − x)²/σ² + 2 ln(σ√(2π)); Poisson
constraints (shapesys) −2[a ln(τx) − τx − ln Γ(a + 1)], with a the auxiliary
datum and τ the rate factor, as ``pyhf.constraints`` evaluates them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import gammaln, xlogy

from .compile import NORMAL, POISSON, CompiledModel

__all__ = [
    "constraint_part",
    "constraint_terms",
    "data_constant",
    "expected_aux",
    "kernel_constant",
]


def _split(cm: CompiledModel, data: Any) -> tuple[np.ndarray, np.ndarray]:
    d = np.atleast_2d(np.asarray(data, dtype=float))
    return d[:, : cm.nmain], d[:, cm.nmain :]


def constraint_terms(
    cm: CompiledModel, x: np.ndarray, aux: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parameter-dependent constraint part of −2 ln L [B], its gradient and diagonal Hessian [B, A]."""
    xc = x[:, cm.con_par]
    val = np.zeros(x.shape[0])
    grad = np.empty_like(xc)
    hess = np.empty_like(xc)
    normal = np.flatnonzero(cm.con_kind == NORMAL)
    if normal.size:
        s2 = cm.con_sigma[normal] ** 2
        diff = xc[:, normal] - aux[:, normal]
        val += (diff * diff / s2).sum(axis=1)
        grad[:, normal] = 2.0 * diff / s2
        hess[:, normal] = 2.0 / s2
    pois = np.flatnonzero(cm.con_kind == POISSON)
    if pois.size:
        tau = cm.con_factor[pois]
        xp, ap = xc[:, pois], aux[:, pois]
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = xp * tau
            val += (-2.0 * (xlogy(ap, rate) - rate)).sum(axis=1)
            grad[:, pois] = -2.0 * (ap / xp - tau)
            hess[:, pois] = 2.0 * ap / (xp * xp)
    return val, grad, hess


def constraint_part(cm: CompiledModel, pars: Any, data: Any) -> np.ndarray:
    """The constraint terms of −2 ln L [B], normalisations included (no main terms)."""
    x = np.atleast_2d(np.asarray(pars, dtype=float))
    _, aux = _split(cm, data)
    out = constraint_terms(cm, x, aux)[0] + cm.con_offset
    pois = cm.con_kind == POISSON
    if pois.any():
        out = out + 2.0 * gammaln(aux[:, pois] + 1.0).sum(axis=1)
    return out  # type: ignore[no-any-return]


def data_constant(cm: CompiledModel, data: Any) -> np.ndarray:
    """The parameter-independent part of −2 ln L per data set [B]."""
    n, aux = _split(cm, data)
    out = 2.0 * gammaln(n + 1.0).sum(axis=1) + cm.con_offset
    pois = cm.con_kind == POISSON
    if pois.any():
        out = out + 2.0 * gammaln(aux[:, pois] + 1.0).sum(axis=1)
    return out  # type: ignore[no-any-return]


def kernel_constant(cm: CompiledModel, data: Any) -> np.ndarray:
    """The data constant of the compiled kernel's −2 ln L, per data set [B].

    The kernel (:func:`.kernel.evaluate`) evaluates each Poisson term as a
    deviance, 2(ν − n ln ν) = 2(ν − n − n ln(ν/n)) + 2(n − n ln n) (likewise
    the Poisson constraints), whose terms vanish at ν = n: sums of 10⁶ counts
    then keep their precision (the plain form cancels ~10⁷ against
    ln Γ(n + 1)). Its constant is :func:`data_constant` plus the left-out
    parts, main bins and Poisson auxiliary data.
    """
    n, aux = _split(cm, data)
    out = data_constant(cm, data) + 2.0 * (n - xlogy(n, n)).sum(axis=1)
    pois = cm.con_kind == POISSON
    if pois.any():
        a = aux[:, pois]
        out = out + 2.0 * (a - xlogy(a, a)).sum(axis=1)
    return out  # type: ignore[no-any-return]


def expected_aux(cm: CompiledModel, pars: Any) -> np.ndarray:
    """Expected auxiliary data [B, A]: the parameter (normal) or τ·parameter (Poisson)."""
    x = np.atleast_2d(np.asarray(pars, dtype=float))
    return x[:, cm.con_par] * cm.con_factor  # type: ignore[no-any-return]
