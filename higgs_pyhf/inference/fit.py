"""Maximum-likelihood fits of pyhf models with the minuit optimizer.

:func:`fit` wraps :func:`pyhf.infer.mle.fit` (numpy backend, minuit with a
tight tolerance, Hesse errors and correlations, optional Minos errors) and
returns a :class:`~higgs_pyhf.inference.results.FitResult`. pyhf's global
backend and optimizer are restored afterwards.

Parameters are addressed by label (``s_s``, ``s_b``, ``staterror_x[3]``) or
by the bare name of a vector parameter (all its components).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyhf

from ..errors import FitError
from ._model import MINUIT_TOLERANCE, label_index, labels, pyhf_state, resolve_values
from .results import FitResult

__all__ = ["fit", "twice_nll"]

log = logging.getLogger(__name__)


def twice_nll(model: pyhf.pdf.Model, data: Any, pars: Any) -> float:
    """The −2lnL of pyhf for ``data`` at the full parameter vector ``pars``."""
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
        if i not in fixed and not lo <= values[i] <= hi:
            msg = f"initial value {values[i]} of {lab} is outside its bounds ({lo}, {hi})"
            raise FitError(msg)


def fit(
    model: pyhf.pdf.Model,
    data: Any,
    *,
    fixed: Mapping[str, float] | None = None,
    init: Mapping[str, float] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    minos: Sequence[str] = (),
    strategy: int | None = None,
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
        strategy: minuit strategy (0, 1, 2); default pyhf's choice (1 for numpy).

    Returns:
        The fit result; ``twice_nll`` is pyhf's −2lnL at the minimum, Hesse
        errors and correlations are 0 for fixed parameters, Minos errors are
        signed (lower ≤ 0 ≤ upper). Minuit computes Hesse errors in
        bound-transformed coordinates: for a parameter within ~2σ of a bound
        they can be off by ~1%; Minos (or :func:`~.scan.scan_1d`) is exact.

    Raises:
        FitError: on unknown parameter names, bad bounds, or a failed minimization.
    """
    cfg = model.config
    labs = labels(model)
    obs = np.asarray(data, dtype=float)
    if obs.ndim != 1 or obs.size != cfg.nmaindata + cfg.nauxdata:
        msg = f"data has shape {obs.shape}, expected ({cfg.nmaindata + cfg.nauxdata},) (main bins followed by auxdata)"
        raise FitError(msg)
    pars = np.asarray(cfg.suggested_init(), dtype=float)
    par_bounds = np.asarray(cfg.suggested_bounds(), dtype=float)
    is_fixed = np.asarray(cfg.suggested_fixed(), dtype=bool)
    for i, val in resolve_values(model, init, "init").items():
        pars[i] = float(val)
    for i, val in resolve_values(model, bounds, "bounds").items():
        lo, hi = val
        par_bounds[i] = (float(lo), float(hi))
    fixed_idx = resolve_values(model, fixed, "fixed")
    for i, val in fixed_idx.items():
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
    npar = len(labs)

    if is_fixed.all():
        # nothing to minimize (mle.fit would crash with iminuit >= 2.32)
        value = twice_nll(model, obs, pars)
        return FitResult(
            labels=labs,
            bestfit=pars,
            uncertainty=np.zeros(npar),
            correlation=np.eye(npar),
            twice_nll=value,
            converged=bool(np.isfinite(value)),
            minos={},
            fixed=fixed_labels,
        )

    kwargs: dict[str, Any] = {"tolerance": MINUIT_TOLERANCE}
    if strategy is not None:
        kwargs["strategy"] = int(strategy)
    with pyhf_state():
        try:
            result, fval, obj = pyhf.infer.mle.fit(
                obs,
                model,
                init_pars=pars.tolist(),
                par_bounds=par_bounds.tolist(),
                fixed_params=is_fixed.tolist(),
                return_uncertainties=True,
                return_correlations=False,
                return_fitted_val=True,
                return_result_obj=True,
                **kwargs,
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
                if not me.is_valid:
                    log.warning(
                        "Minos error of %s is not valid (lower %s, upper %s)",
                        labs[i],
                        me.lower_valid,
                        me.upper_valid,
                    )
                errors[labs[i]] = (min(float(me.lower), 0.0), max(float(me.upper), 0.0))
        cov = np.asarray(minuit.covariance, dtype=float)
        converged = bool(minuit.valid)
    result = np.asarray(result, dtype=float)
    bestfit, unc = result[:, 0], result[:, 1]
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov / np.outer(sd, sd)
    corr = np.where(np.isfinite(corr), corr, 0.0)
    corr[list(fixed_set), :] = 0.0
    corr[:, list(fixed_set)] = 0.0
    np.fill_diagonal(corr, 1.0)
    log.info("fit: -2lnL = %.6f, converged = %s", float(fval), converged)
    return FitResult(
        labels=labs,
        bestfit=bestfit,
        uncertainty=unc,
        correlation=corr,
        twice_nll=float(fval),
        converged=converged,
        minos=errors,
        fixed=fixed_labels,
    )
