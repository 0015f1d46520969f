"""Batched bounded fits of −2 ln L: the API over the compiled Newton loops.

:func:`fit` picks, for a batch of data sets with the same free parameters,

- the compiled kernel of :mod:`.linear` when the prediction is linear in the
  free parameters (normfactors only: the two-normfactor H→4ℓ model, every
  fixed-nuisance conditional fit);
- otherwise the compiled general Newton loop of :mod:`.newton` (active set,
  per-bin nuisances eliminated by the Schur complement, closed-form
  Barlow–Beeston-lite γ, Armijo backtracking), for every pyhf model.

Convergence is declared only where the Newton decrement (projected gradient
scaled by the Hessian) is below ``tol`` with the Hessian positive definite
(:mod:`.newton`). Toys that do not meet it are refitted one by one from the
best point reached so far with scipy's L-BFGS-B on the exact gradient, then
polished by Newton, and flagged in ``fallback``; the better of the two points
is kept, and a fit that still does not meet the criterion is reported in
``converged`` and ``status`` (why), never raised.

Free parameters the likelihood does not depend on (an unconstrained
normfactor or shapefactor whose samples are all empty) are not fitted: they
stay at their initial values and are listed in ``dead``; a study reports
them as unconstrained (:func:`dead_parameters`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from ...errors import FitError
from .compile import CompiledModel
from .constraints import data_constant
from .kernel import kernel_model
from .likelihood import constraint_part, derivatives, expected_main, twice_nll
from .linear import fit_linear, linear_structure
from .newton import CONVERGED, STATUS, fit_toys

__all__ = ["STATUS", "FitResult", "dead_parameters", "fit", "resolve_fixed"]

#: Iterations of the Newton loop after which a fit stops (a guard, reported in ``status``).
MAX_ITER = 1000

log = logging.getLogger(__name__)


class FitResult(NamedTuple):
    """Best fits of B data sets.

    Attributes:
        pars: (B, P) best-fit parameters (pyhf order).
        twice_nll: (B,) −2 ln L at the best fit (pyhf's normalisation).
        converged: (B,) whether the fit converged (Newton or fallback).
        n_iter: (B,) Newton iterations used.
        fallback: (B,) whether the toy was refitted by the safeguarded path.
        free: (P,) which parameters were fitted (not fixed).
        status: (B,) why each fit stopped: an index into :data:`STATUS`
            (0: converged).
        dead: (P,) free parameters the likelihood does not depend on (not fitted).
    """

    pars: np.ndarray
    twice_nll: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray
    fallback: np.ndarray
    free: np.ndarray
    status: np.ndarray | None = None
    dead: np.ndarray | None = None

    def reasons(self) -> list[str]:
        """Why each fit that did not converge stopped (``[]`` when all did)."""
        st = np.zeros(self.converged.shape, dtype=int) if self.status is None else self.status
        return sorted({STATUS[int(k)] for k, c in zip(st, self.converged, strict=True) if not c})


def resolve_fixed(cm: CompiledModel, fixed: Mapping[str, Any] | None) -> dict[int, Any]:
    """Map parameter labels (``s_s``, ``staterror_x[3]``) or vector names to indices.

    Values are scalars or (B,) arrays (one value per data set, e.g. a scan).
    """
    out: dict[int, Any] = {}
    for name, value in (fixed or {}).items():
        value = np.asarray(value, dtype=float)
        if name in cm.par_names:
            out[cm.par_names.index(name)] = value
            continue
        hits = [i for i, lab in enumerate(cm.par_names) if lab.split("[", 1)[0] == name]
        if not hits:
            msg = f"unknown parameter {name!r}; valid parameters are {', '.join(cm.par_names)}"
            raise FitError(msg)
        for i in hits:
            out[i] = value
    return out


class _Setup(NamedTuple):
    lo: np.ndarray
    hi: np.ndarray
    free: np.ndarray
    cf_par: np.ndarray  # free per-bin parameters alone in their bin: profiled in closed form


def _setup(cm: CompiledModel, free: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> _Setup:
    has = cm.slot_par >= 0
    lfree = has & free[np.where(has, cm.slot_par, 0)]
    single = np.flatnonzero(lfree.sum(axis=1) == 1)
    slot = np.argmax(lfree[single], axis=1) if single.size else np.zeros(0, dtype=int)
    cf_par = np.ascontiguousarray(cm.slot_par[single, slot], dtype=np.int64)
    return _Setup(lo, hi, free, cf_par)


def dead_parameters(cm: CompiledModel, free: np.ndarray, base: np.ndarray) -> np.ndarray:
    """(P,) free, unconstrained parameters on which the prediction does not depend.

    Checked at ``base`` [P] and at two other values of each parameter: the
    predictions must be identical in every bin (an all-zero sample).
    """
    cand = np.flatnonzero(free & (cm.par_con < 0))
    dead = np.zeros(cm.npars, dtype=bool)
    if cand.size == 0:
        return dead
    x = np.repeat(base[None, :], 2 * cand.size + 1, axis=0)
    k = np.arange(cand.size)
    x[1 + 2 * k, cand] = base[cand] + 1.0
    x[2 + 2 * k, cand] = 2.0 * base[cand] + 3.0
    nu = expected_main(cm, x)
    same = np.all(nu[1:].reshape(cand.size, 2, -1) == nu[0], axis=(1, 2))
    dead[cand[same]] = True
    return dead


def _fit_general(
    cm: CompiledModel, su: _Setup, x0: np.ndarray, data: np.ndarray, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The compiled Newton loop of :mod:`.newton` on every row of ``data``."""
    n = np.ascontiguousarray(data[:, : cm.nmain])
    aux = np.ascontiguousarray(data[:, cm.nmain :])
    return fit_toys(  # type: ignore[no-any-return]
        kernel_model(cm),
        np.ascontiguousarray(x0, dtype=float),
        n,
        aux,
        data_constant(cm, data),
        np.ascontiguousarray(su.lo, dtype=float),
        np.ascontiguousarray(su.hi, dtype=float),
        np.ascontiguousarray(su.free, dtype=np.bool_),
        su.cf_par,
        float(tol),
        int(max_iter),
    )


def _fallback(
    cm: CompiledModel, su: _Setup, x0: np.ndarray, data: np.ndarray, tol: float, max_iter: int
) -> tuple[np.ndarray, float, bool, int]:
    """One toy: L-BFGS-B from ``x0`` (the best point so far), then Newton from there.

    L-BFGS-B runs on the exact value and gradient. Returns the better point,
    its −2 ln L, whether it meets the convergence criterion, and its status.
    """
    from scipy.optimize import minimize  # only here: 0.3 s of imports

    row = data[None, :]
    free = su.free
    bounds = list(zip(su.lo[free], su.hi[free], strict=True))
    start = float(twice_nll(cm, x0[None, :], row)[0])
    big = 10.0 * abs(start) + 1e6 if np.isfinite(start) else 1e300

    def fun(z: np.ndarray) -> tuple[float, np.ndarray]:
        x = x0.copy()
        x[free] = z
        d = derivatives(cm, x[None, :], row)
        val = float(d.twice_nll[0])
        if not np.isfinite(val):  # outside the domain (a bin with ν ≤ 0): push back
            return big, -np.sign(z - x0[free])
        return val, d.grad[0, free]

    res = minimize(
        fun,
        x0[free],
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 5000, "maxcor": 30},
    )
    x = x0.copy()
    x[free] = res.x
    value = float(derivatives(cm, x[None, :], row).twice_nll[0])
    if not value <= start:
        x, value = x0.copy(), start
    polish, pval, pconv, _, pst = _fit_general(cm, su, x[None, :], row, tol, max_iter)
    if pval[0] <= value + 1e-12 * (1.0 + abs(value)):
        return polish[0], float(pval[0]), bool(pconv[0]), int(pst[0])
    return x, value, False, int(pst[0])


def fit(
    cm: CompiledModel,
    data: Any,
    *,
    fixed: Mapping[str, Any] | None = None,
    init: Any = None,
    bounds: Any = None,
    tol: float = 1e-10,
    max_iter: int = MAX_ITER,
    use_kernel: bool = True,
) -> FitResult:
    """Minimize −2 ln L for every data set at once.

    Args:
        cm: the compiled model.
        data: (B, N + A) data sets (main then auxiliary data, pyhf layout), or one.
        fixed: parameter label → value held constant, on top of the
            measurement's fixed parameters; a (B,) array gives one value per
            data set (a profile scan over the grid in one batch).
        init: (P,) or (B, P) starting values (default: pyhf's suggested init).
        bounds: (P, 2) bounds (default: pyhf's suggested bounds).
        tol: Newton decrement gᵀH⁻¹g (in units of −2 ln L) below which a toy
            has converged (with its Hessian positive definite; one more full
            step is taken).
        max_iter: a guard: Newton iterations after which a toy stops (and
            goes to the fallback path, its ``status`` says so).
        use_kernel: use the kernel of :mod:`.linear` when the prediction is
            linear in the free parameters (``False``: the general Newton loop).

    Returns:
        The best fits, in pyhf's parameter order.
    """
    d = np.atleast_2d(np.asarray(data, dtype=float))
    bsz = d.shape[0]
    lo, hi = (cm.bounds if bounds is None else np.asarray(bounds, dtype=float)).T.copy()
    x0 = np.empty((bsz, cm.npars))
    x0[:] = cm.init if init is None else np.asarray(init, dtype=float)
    free = ~cm.fixed.copy()
    for i, val in resolve_fixed(cm, fixed).items():
        free[i] = False
        x0[:, i] = val
    # fixed parameters may sit outside the bounds
    lo = np.where(free, lo, -np.inf)
    hi = np.where(free, hi, np.inf)
    dead = dead_parameters(cm, free, x0[0]) if bsz else np.zeros(cm.npars, dtype=bool)
    free &= ~dead
    lo = np.where(free, lo, -np.inf)
    hi = np.where(free, hi, np.inf)
    su = _setup(cm, free, lo, hi)
    same_fixed = np.all(x0[:, ~free] == x0[:1, ~free])
    ls = linear_structure(cm, free, x0[0]) if use_kernel and same_fixed else None
    if ls is not None:
        theta, main, converged, n_iter = fit_linear(
            ls,
            d[:, : cm.nmain],
            x0[0, ls.par_index],
            lo[ls.par_index],
            hi[ls.par_index],
            tol=tol,
            max_iter=max_iter,
        )
        pars = x0.copy()
        pars[:, ls.par_index] = theta
        value = main + constraint_part(cm, pars, d)
        status = np.where(converged, CONVERGED, 1).astype(np.int64)
    else:
        pars, value, converged, n_iter, status = _fit_general(cm, su, x0, d, tol, max_iter)
    fallback = ~converged
    for i in np.flatnonzero(fallback):
        start = pars[i] if np.isfinite(value[i]) else np.clip(x0[i], lo, hi)
        pars[i], value[i], converged[i], status[i] = _fallback(cm, su, start, d[i], tol, max_iter)
    if fallback.any():
        log.info(
            "%d of %d fits took the fallback path, %d of them did not converge",
            int(fallback.sum()),
            bsz,
            int((fallback & ~converged).sum()),
        )
    return FitResult(pars, value, converged, n_iter, fallback, free, status, dead)
