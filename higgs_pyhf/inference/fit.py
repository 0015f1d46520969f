"""Maximum-likelihood fits on the engine: values, Hesse errors, correlations, Minos errors.

:func:`fit` minimizes −2 ln L with the batched HistFactory engine
(:mod:`higgs_pyhf.inference.engine`) and returns a
:class:`~higgs_pyhf.inference.results.FitResult`:

- Hesse errors and correlations from the analytic Hessian at the minimum
  (covariance = 2 H⁻¹ over the free parameters);
- Minos errors (``minos=...``): where the profile Δ(−2 ln L) crosses 1 on
  each side, found by batched bracketing and bisection
  (:func:`~higgs_pyhf.inference.profile.crossings`); a side that reaches a
  parameter limit first returns the limit (and says so in the log).

A model the engine cannot evaluate (see
:func:`~higgs_pyhf.inference.engine.compile_model`) is fitted with pyhf and
minuit instead; ``FitResult.minimizer`` says which was used.

Parameters are addressed by label (``s_s``, ``staterror_x[3]``) or by the
bare name of a vector parameter (all its components).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import FitError
from .engine import CompiledModel, compile_model, hessian, precision_notes
from .engine import fit as engine_fit
from .engine.hesse_blocks import covariance_blocks
from .engine.linalg import inverse_pd
from .observed import data_vector
from .parameters import MINUIT_TOLERANCE, label_index, labels, pyhf_state, resolve_values
from .profile import crossings
from .results import FitResult
from .timing import stopwatch

if TYPE_CHECKING:
    import pyhf

__all__ = ["ENGINE", "fit", "twice_nll"]

log = logging.getLogger(__name__)

#: ``FitResult.minimizer`` of fits made by the engine.
ENGINE = "engine"


def twice_nll(model: pyhf.pdf.Model, data: Any, pars: Any) -> float:
    """The −2lnL of pyhf for ``data`` at the full parameter vector ``pars``."""
    import pyhf

    with pyhf_state():
        val = pyhf.infer.mle.twice_nll(
            np.asarray(pars, dtype=float), np.asarray(data, dtype=float), model
        )
    return float(np.asarray(val).reshape(-1)[0])


def _check_bounds(
    labs: tuple[str, ...], values: np.ndarray, bounds: np.ndarray, fixed: set[int]
) -> None:
    for i, lab in enumerate(labs):
        lo, hi = bounds[i]
        if not lo <= hi:
            msg = f"bounds of {lab} are inverted: ({lo}, {hi})"
            raise FitError(msg)
        if not lo <= values[i] <= hi:
            what = "fixed value" if i in fixed else "initial value"
            msg = f"{what} {values[i]} of {lab} is outside its bounds ({lo}, {hi})"
            raise FitError(msg)


def _covariance(
    cm: CompiledModel, pars: np.ndarray, data: np.ndarray, free: np.ndarray
) -> np.ndarray:
    """Covariance 2 H⁻¹ of the free parameters (zeros for the fixed ones).

    By the Hessian's blocks (:mod:`.engine.hesse_blocks`); where they are not
    positive definite, by the dense Hessian.
    """
    blocks = covariance_blocks(cm, pars, data, free)
    if blocks is not None:
        return blocks
    h = hessian(cm, pars[None, :], data[None, :])[0]
    cov = np.zeros_like(h)
    f = np.flatnonzero(free)
    if f.size:
        sub = np.ascontiguousarray(h[np.ix_(f, f)])
        inv = np.empty_like(sub)
        if not inverse_pd(sub, inv):  # single-threaded Cholesky; LAPACK only where H is not PD
            try:
                inv = np.linalg.inv(sub)
            except np.linalg.LinAlgError:
                inv = np.linalg.pinv(sub)
        cov[np.ix_(f, f)] = 2.0 * inv
    return cov  # type: ignore[no-any-return]


def fit(
    model: pyhf.pdf.Model,
    data: Any,
    *,
    fixed: Mapping[str, float] | None = None,
    init: Mapping[str, float] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    minos: Sequence[str] = (),
) -> FitResult:
    """Maximum-likelihood fit of ``model`` to ``data``.

    Args:
        model: the pyhf model.
        data: observed main-bin counts followed by the auxiliary data.
        fixed: parameter → value held constant (in addition to the parameters
            the model itself fixes).
        init: parameter → starting value (default: the model's inits).
        bounds: parameter → (low, high) (default: the model's bounds).
        minos: parameters for which Minos errors are computed.

    Returns:
        The fit result; ``twice_nll`` is pyhf's −2lnL at the minimum, Hesse
        errors and correlations are 0 for fixed parameters, Minos errors are
        signed (lower ≤ 0 ≤ upper). Free parameters the likelihood does not
        depend on are listed in ``unconstrained`` (error NaN). A fit that did
        not meet the engine's convergence criterion is returned with
        ``converged=False`` and ``status`` saying why (its best point, no Minos).

    Raises:
        FitError: on unknown parameter names, bad bounds, or Minos on a
            parameter without effect.

    ``timing`` holds the CPU and wall seconds of this call (the fit with its
    Hesse and Minos errors; the model was built before).
    """
    clock = stopwatch()
    res = _fit(model, data, fixed=fixed, init=init, bounds=bounds, minos=minos)
    return res._replace(timing=clock())


def _fit(
    model: pyhf.pdf.Model,
    data: Any,
    *,
    fixed: Mapping[str, float] | None,
    init: Mapping[str, float] | None,
    bounds: Mapping[str, tuple[float, float]] | None,
    minos: Sequence[str],
) -> FitResult:
    cfg = model.config
    labs = labels(model)
    obs = data_vector(data, cfg.nmaindata, cfg.nauxdata)
    if not np.all(np.isfinite(obs)):
        msg = "data has non-finite values"
        raise FitError(msg)
    pars = np.asarray(cfg.suggested_init(), dtype=float)
    par_bounds = np.asarray(cfg.suggested_bounds(), dtype=float)
    is_fixed = np.asarray(cfg.suggested_fixed(), dtype=bool)
    for i, val in resolve_values(model, init, "init").items():
        pars[i] = float(val)
    for i, val in resolve_values(model, bounds, "bounds").items():
        lo, hi = val
        par_bounds[i] = (float(lo), float(hi))
    for i, val in resolve_values(model, fixed, "fixed").items():
        pars[i] = float(val)
        is_fixed[i] = True
    minos_idx = [i for name in minos for i in label_index(model, name)]
    fixed_set = set(np.flatnonzero(is_fixed).tolist())
    _check_bounds(labs, pars, par_bounds, fixed_set)
    fixed_labels = tuple(labs[i] for i in sorted(fixed_set))
    bad_minos = [labs[i] for i in minos_idx if i in fixed_set]
    if bad_minos:
        msg = f"cannot run Minos on fixed parameters {bad_minos}"
        raise FitError(msg)
    try:
        cm = compile_model(model)
    except FitError as err:
        log.warning("the engine cannot fit this model (%s); fitting with pyhf + minuit", err)
        return _fit_pyhf(model, obs, pars, par_bounds, is_fixed, minos_idx, fixed_labels, str(err))
    cm = cm._replace(fixed=is_fixed, bounds=par_bounds)
    notes = precision_notes(cm)
    for note in notes:
        log.warning("%s", note)
    r = engine_fit(cm, obs[None, :], init=pars[None, :])
    best, value, converged = r.pars[0], float(r.twice_nll[0]), bool(r.converged[0])
    dead = r.dead if r.dead is not None else np.zeros(len(labs), dtype=bool)
    unconstrained = tuple(labs[i] for i in np.flatnonzero(dead))
    bad_minos = [labs[i] for i in minos_idx if dead[i]]
    if bad_minos:
        msg = f"cannot run Minos on {', '.join(bad_minos)}: the likelihood does not depend on it"
        raise FitError(msg)
    status = "converged" if converged else "; ".join(r.reasons())
    if not converged:
        log.error("the fit did not converge (%s); reporting the best point found", status)
        minos_idx = []
    free = ~is_fixed & ~dead
    cov = _covariance(cm, best, obs, free)
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    sd[dead] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov / np.outer(sd, sd)
    corr = np.where(np.isfinite(corr), corr, 0.0)
    np.fill_diagonal(corr, 1.0)
    errors: dict[str, tuple[float, float]] = {}
    if minos_idx:
        steps = [sd[i] if sd[i] > 0 else 0.1 * max(abs(best[i]), 1.0) for i in minos_idx]
        ends = crossings(cm, obs, best, value, minos_idx, steps, fixed=is_fixed)
        for i in minos_idx:
            lo, hi = ends[i]
            errors[labs[i]] = (float(min(lo - best[i], 0.0)), float(max(hi - best[i], 0.0)))
    log.info("fit: -2lnL = %.6f, converged = %s", value, converged)
    return FitResult(
        labels=labs,
        bestfit=best,
        uncertainty=sd,
        correlation=corr,
        twice_nll=value,
        converged=converged,
        minos=errors,
        fixed=fixed_labels,
        minimizer=ENGINE,
        status=status,
        unconstrained=unconstrained,
        notes=notes,
    )


def _fit_pyhf(
    model: pyhf.pdf.Model,
    obs: np.ndarray,
    pars: np.ndarray,
    par_bounds: np.ndarray,
    is_fixed: np.ndarray,
    minos_idx: list[int],
    fixed_labels: tuple[str, ...],
    reason: str,
) -> FitResult:
    """The fallback: pyhf's ``mle.fit`` with minuit (tight tolerance), Hesse and Minos."""
    import pyhf

    labs = labels(model)
    npar = len(labs)
    minimizer = f"pyhf-minuit (engine: {reason})"
    if is_fixed.all():  # nothing to minimize (mle.fit would crash with iminuit >= 2.32)
        value = twice_nll(model, obs, pars)
        return FitResult(
            labs,
            pars,
            np.zeros(npar),
            np.eye(npar),
            value,
            bool(np.isfinite(value)),
            {},
            fixed_labels,
            minimizer,
        )
    with pyhf_state():
        try:
            result, fval, obj = pyhf.infer.mle.fit(
                obs,
                model,
                init_pars=pars.tolist(),
                par_bounds=par_bounds.tolist(),
                fixed_params=is_fixed.tolist(),
                return_uncertainties=True,
                return_fitted_val=True,
                return_result_obj=True,
                tolerance=MINUIT_TOLERANCE,
            )
        except pyhf.exceptions.FailedMinimization as err:
            msg = f"the fit did not converge: {getattr(err, 'result', err)}".splitlines()[0]
            raise FitError(msg) from None
        minuit = obj.minuit
        errors: dict[str, tuple[float, float]] = {}
        if minos_idx:
            names = [minuit.parameters[i] for i in minos_idx]
            minuit.minos(*names)
            for i, mname in zip(minos_idx, names, strict=True):
                me = minuit.merrors[mname]
                errors[labs[i]] = (min(float(me.lower), 0.0), max(float(me.upper), 0.0))
        cov = np.asarray(minuit.covariance, dtype=float)
        converged = bool(minuit.valid)
    result = np.asarray(result, dtype=float)
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov / np.outer(sd, sd)
    corr = np.where(np.isfinite(corr), corr, 0.0)
    corr[is_fixed, :] = 0.0
    corr[:, is_fixed] = 0.0
    np.fill_diagonal(corr, 1.0)
    return FitResult(
        labs,
        result[:, 0],
        result[:, 1],
        corr,
        float(fval),
        converged,
        errors,
        fixed_labels,
        minimizer,
        "converged" if converged else "minuit: no valid minimum",
    )
