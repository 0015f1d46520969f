"""Constraint terms of −2 ln L, the data constants and the auxiliary data.

pyhf's −2 ln L is a sum of Poisson main terms −2 ln Pois(n | ν), normal
constraints (a − x)²/σ² + 2 ln(σ√(2π)) and Poisson constraints (shapesys)
−2 ln Pois(a | τx), with a the auxiliary datum and τ the rate factor. The
engine evaluates every Poisson term in its *deviance* form relative to its
observed count,

    −2 ln Pois(n | ν) = D(n, ν) + C(n),  D(n, ν) = 2n (r − 1 − ln r), r = ν/n,

(D(0, ν) = 2ν) and adds the constants C(n) = 2[ln Γ(n + 1) + n − n ln n]
back at the end. D vanishes at ν = n and is evaluated from d = (ν − n)/n as
2n(d − ln(1 + d)), so a constraint with a = 10¹² (a shapesys of relative
uncertainty 10⁻⁶) keeps full precision: the plain form cancels terms of
order 10¹³ and loses everything below 10⁻³. C(n) = ln(2πn) + 2(1/(12n) −
1/(360n³) + …) is computed per term by Stirling's series for large n (no
cancellation), exactly by ln Γ below. The constants are summed per data set
in a fixed order (:func:`data_constant`): a fit's value does not depend on
the batch it runs in.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from .compile import NORMAL, POISSON, CompiledModel

__all__ = [
    "constraint_part",
    "constraint_terms",
    "count_constant",
    "data_constant",
    "deviance",
    "deviance_point",
    "expected_aux",
    "kernel_constant",
    "precision_notes",
]

#: Constraints with a relative uncertainty below this are a precision hazard for pyhf.
HAZARD_RELATIVE = 1e-5

#: Counts above this take Stirling's series for C(n) (truncation < 1e-17 relative).
_STIRLING = 30.0


def _split(cm: CompiledModel, data: Any) -> tuple[np.ndarray, np.ndarray]:
    d = np.atleast_2d(np.asarray(data, dtype=float))
    return d[:, : cm.nmain], d[:, cm.nmain :]


def deviance(n: np.ndarray, nu: np.ndarray) -> np.ndarray:
    """D(n, ν) = −2 ln Pois(n | ν) − C(n), elementwise (+inf where ν ≤ 0 < n, ν < 0)."""
    n, nu = np.broadcast_arrays(np.asarray(n, dtype=float), np.asarray(nu, dtype=float))
    out = np.where(n > 0, np.inf, 2.0 * nu)
    ok = (n > 0) & (nu > 0)
    nk, vk = n[ok], nu[ok]
    d = (vk - nk) / nk
    small = np.abs(d) < 1e-4
    low = d < -0.5  # ν ≪ n: d rounds to −1 below ν/n ~ 1e-16, use r = ν/n itself
    val = np.where(small, 0.0, d - np.log1p(np.where(small | low, 0.0, d)))
    r = vk[low] / nk[low]
    val[low] = r - 1.0 - np.log(r)
    ds = np.where(small, d, 0.0)
    series = ds * ds * (0.5 + ds * (-1.0 / 3.0 + ds * (0.25 + ds * (-0.2 + ds / 6.0))))
    out[ok] = 2.0 * nk * np.where(small, series, val)
    return np.where(nu < 0, np.inf, out)


def count_constant(n: np.ndarray) -> np.ndarray:
    """C(n) = 2[ln Γ(n + 1) + n − n ln n] elementwise (0 at n = 0)."""
    n = np.asarray(n, dtype=float)
    big = n > _STIRLING
    nb = np.where(big, n, 1.0)
    inv = 1.0 / nb
    inv2 = inv * inv
    series = np.log(2.0 * math.pi * nb) + 2.0 * inv * (
        1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0 - inv2 / 1680.0))
    )
    ns = np.where(big, 0.0, n)
    exact = 2.0 * (log_gamma(ns + 1.0) + ns - ns * np.log(np.where(ns > 0, ns, 1.0)))
    return np.where(big, series, exact)  # type: ignore[no-any-return]


@numba.njit(cache=True, nogil=True)
def _log_gamma(x: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.size):
        out[i] = math.lgamma(x[i])


def log_gamma(x: Any) -> np.ndarray:
    """The log-gamma function elementwise (``math.lgamma``; scipy.special costs 0.3 s of imports)."""
    arr = np.asarray(x, dtype=float)
    flat = np.ascontiguousarray(arr).reshape(-1)
    out = np.empty_like(flat)
    _log_gamma(flat, out)
    return out.reshape(arr.shape)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def deviance_point(n: float, nu: float) -> float:
    """D(n, ν) = 2n(r − 1 − ln r), r = ν/n, from d = (ν − n)/n (2ν at n = 0; +inf if ν ≤ 0 < n)."""
    if n > 0.0:
        if not nu > 0.0:
            return math.inf
        d = (nu - n) / n
        if abs(d) < 1e-4:
            return 2.0 * n * d * d * (0.5 + d * (-1.0 / 3.0 + d * (0.25 + d * (-0.2 + d / 6.0))))
        if d < -0.5:  # ν ≪ n: d rounds to −1 below ν/n ~ 1e-16, use r = ν/n itself
            r = nu / n
            return 2.0 * n * (r - 1.0 - math.log(r))
        return 2.0 * n * (d - math.log1p(d))
    return 2.0 * nu


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _row_sums(terms: np.ndarray) -> np.ndarray:
    """Compensated (Neumaier) sums of each row, in a fixed order."""
    out = np.empty(terms.shape[0])
    for i in range(terms.shape[0]):
        s = 0.0
        c = 0.0
        for v in terms[i]:
            t = s + v
            if abs(s) >= abs(v):
                c += (s - t) + v
            else:
                c += (v - t) + s
            s = t
        out[i] = s + c
    return out


def constraint_terms(
    cm: CompiledModel, x: np.ndarray, aux: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Constraint part of −2 ln L [B] (Poisson terms as deviances), gradient and Hessian [B, A].

    The Hessian of the constraints is diagonal: one entry per auxiliary datum.
    """
    xc = x[:, cm.con_par]
    val = np.zeros(x.shape[0])
    grad = np.empty_like(xc)
    hess = np.empty_like(xc)
    normal = np.flatnonzero(cm.con_kind == NORMAL)
    if normal.size:
        s2 = cm.con_sigma[normal] ** 2
        diff = xc[:, normal] - aux[:, normal]
        val += _row_sums(np.ascontiguousarray(diff * diff / s2))
        grad[:, normal] = 2.0 * diff / s2
        hess[:, normal] = 2.0 / s2
    pois = np.flatnonzero(cm.con_kind == POISSON)
    if pois.size:
        tau = cm.con_factor[pois]
        xp, ap = xc[:, pois], aux[:, pois]
        with np.errstate(divide="ignore", invalid="ignore"):
            val += _row_sums(np.ascontiguousarray(deviance(ap, xp * tau)))
            grad[:, pois] = 2.0 * (tau - ap / xp)
            hess[:, pois] = 2.0 * ap / (xp * xp)
    return val, grad, hess


def _aux_constant(cm: CompiledModel, aux: np.ndarray) -> np.ndarray:
    """Constant of the constraint terms per data set [B, A] (normal: ln σ√2π; Poisson: C(a))."""
    out = np.zeros(aux.shape)
    normal = cm.con_kind == NORMAL
    out[:, normal] = 2.0 * np.log(cm.con_sigma[normal] * math.sqrt(2.0 * math.pi))
    pois = cm.con_kind == POISSON
    out[:, pois] = count_constant(aux[:, pois])
    return out


def constraint_part(cm: CompiledModel, pars: Any, data: Any) -> np.ndarray:
    """The constraint terms of −2 ln L [B], normalisations included (no main terms)."""
    x = np.atleast_2d(np.asarray(pars, dtype=float))
    _, aux = _split(cm, data)
    aux = np.broadcast_to(aux, (x.shape[0], aux.shape[1]))
    const = _row_sums(np.ascontiguousarray(_aux_constant(cm, aux)))
    return constraint_terms(cm, x, aux)[0] + const  # type: ignore[no-any-return]


def data_constant(cm: CompiledModel, data: Any) -> np.ndarray:
    """The constant of −2 ln L per data set [B]: Σ C(n) + Σ C(a) + normal normalisations.

    −2 ln L = Σ_b D(n_b, ν_b) + constraint terms (Poisson ones as deviances)
    + this constant, in pyhf's normalisation. Each row is summed on its own,
    in a fixed order.
    """
    n, aux = _split(cm, data)
    terms = np.concatenate([count_constant(n), _aux_constant(cm, aux)], axis=1)
    return _row_sums(np.ascontiguousarray(terms))  # type: ignore[no-any-return]


def kernel_constant(cm: CompiledModel, data: Any) -> np.ndarray:
    """The data constant the compiled kernel adds to its deviances: :func:`data_constant`."""
    return data_constant(cm, data)


def expected_aux(cm: CompiledModel, pars: Any) -> np.ndarray:
    """Expected auxiliary data [B, A]: the parameter (normal) or τ·parameter (Poisson)."""
    x = np.atleast_2d(np.asarray(pars, dtype=float))
    return x[:, cm.con_par] * cm.con_factor  # type: ignore[no-any-return]


def precision_notes(cm: CompiledModel) -> tuple[str, ...]:
    """One-line notes on constraints where pyhf's numerics fail (the engine's do not).

    A constraint of relative uncertainty below :data:`HAZARD_RELATIVE`
    (Poisson: 1/√τ; normal: σ of a per-bin γ) makes pyhf's −2 ln L a sum of
    terms of order a·ln a (a ≈ τ) that cancel: its minimizer then stalls at
    the starting point. A normsys factor beyond 10³ makes its code-4
    polynomial extremely steep; pyhf's fits stop early there.
    """
    notes = []
    rel = np.full(cm.naux, np.inf)
    pois = cm.con_kind == POISSON
    rel[pois] = 1.0 / np.sqrt(cm.con_factor[pois])
    normal_local = (cm.con_kind == NORMAL) & cm.local_mask[cm.con_par]
    rel[normal_local] = cm.con_sigma[normal_local]
    bad = np.flatnonzero(rel < HAZARD_RELATIVE)
    if bad.size:
        worst = bad[np.argmin(rel[bad])]
        names = sorted({cm.par_names[cm.con_par[a]].split("[", 1)[0] for a in bad})
        notes.append(
            f"note: {', '.join(names)} has a constraint of relative uncertainty "
            f"{rel[worst]:.2g} (< {HAZARD_RELATIVE:g}); pyhf's own fits lose precision there "
            "(compare with pyhf with these parameters fixed)"
        )
    extreme = (cm.fac_kind != 0) & (
        (np.maximum(cm.fac_hi, 1.0 / cm.fac_hi) > 1e3)
        | (np.maximum(cm.fac_lo, 1.0 / cm.fac_lo) > 1e3)
    )
    if extreme.any():
        gs = sorted({int(g) for g in cm.fac_par[extreme]})
        names = sorted({cm.par_names[cm.global_par[g]] for g in gs})
        notes.append(
            f"note: normsys {', '.join(names)} scales a sample by a factor beyond 1e3 at ±1σ; "
            "pyhf's own fits may stop early there"
        )
    return tuple(notes)
