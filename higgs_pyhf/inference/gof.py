"""Goodness of fit: Pearson χ² before and after the fit, and the saturated-model test.

Conventions (those of the seed report for the Pearson χ²):

- *before the fit*: Pearson χ² = Σ (n − ν)²/ν at the model's initial
  parameters (``s_s = s_b = 1``), with dof = number of bins (nothing was
  fitted; the report's p = 0.014877);
- *after the fit*: Pearson χ² at the maximum-likelihood best fit, with
  dof = bins − free unconstrained parameters (the report's p = 0.40642 used
  its own χ²-minimizing grid fit; the numbers differ slightly, see
  :mod:`.chi2grid` for the report's method);
- *saturated model*: −2 ln λ_sat = 2 Σ [ν − n + n ln(n/ν)] at the best fit
  (the likelihood ratio to a model with one free mean per bin), compared to a
  χ² with bins − free unconstrained parameters dof.

Only the main bins enter; constrained nuisance parameters (staterror γ,
lumi) are evaluated at the best fit but not counted in the dof.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pyhf
import scipy.stats

from .._summary import markdown_repr, result_dict, short_repr
from ..errors import FitError
from .chi2grid import pearson_chi2, poisson_chi2
from .fit import fit
from .parameters import labels, n_free_unconstrained, pyhf_state, resolve_values
from .results import FitResult

__all__ = ["GoodnessOfFit", "goodness_of_fit"]

log = logging.getLogger(__name__)


class GoodnessOfFit(NamedTuple):
    """Goodness-of-fit statistics and p-values.

    Attributes:
        n_bins: number of main bins.
        n_free: free unconstrained parameters of the fit.
        pearson_chi2_prefit: Pearson χ² at the initial parameters.
        dof_prefit: its degrees of freedom (= n_bins).
        p_value_prefit: P(χ²_dof ≥ observed).
        pearson_chi2_postfit: Pearson χ² at the best fit.
        dof_postfit: n_bins − n_free.
        p_value_postfit: P(χ²_dof ≥ observed).
        saturated_chi2: −2 ln λ_sat = 2 Σ [ν − n + n ln(n/ν)] at the best fit.
        dof_saturated: n_bins − n_free.
        p_value_saturated: P(χ²_dof ≥ saturated_chi2).
        prefit_parameters: label → value used before the fit.
        postfit_parameters: label → best-fit value.
    """

    n_bins: int
    n_free: int
    pearson_chi2_prefit: float
    dof_prefit: int
    p_value_prefit: float
    pearson_chi2_postfit: float
    dof_postfit: int
    p_value_postfit: float
    saturated_chi2: float
    dof_saturated: int
    p_value_saturated: float
    prefit_parameters: dict[str, float]
    postfit_parameters: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """What the command line prints for this result (its JSON, read back)."""
        return result_dict(self)

    def __repr__(self) -> str:
        return short_repr(self)

    def _repr_markdown_(self) -> str:
        return markdown_repr(self)

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form (also gives χ²/dof)."""
        out: dict[str, Any] = dict(self._asdict())
        for key in ("n_bins", "n_free", "dof_prefit", "dof_postfit", "dof_saturated"):
            out[key] = int(out[key])
        out["prefit_parameters"] = {k: float(v) for k, v in self.prefit_parameters.items()}
        out["postfit_parameters"] = {k: float(v) for k, v in self.postfit_parameters.items()}
        out["chi2_per_dof_prefit"] = self.pearson_chi2_prefit / self.dof_prefit
        out["chi2_per_dof_postfit"] = (
            self.pearson_chi2_postfit / self.dof_postfit if self.dof_postfit > 0 else float("nan")
        )
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> GoodnessOfFit:
        """Inverse of :meth:`to_json`."""
        return cls(**{k: obj[k] for k in cls._fields})


def _p_value(chi2: float, dof: int) -> float:
    if dof <= 0:
        return float("nan")
    return float(scipy.stats.chi2.sf(chi2, dof))


def goodness_of_fit(
    model: pyhf.pdf.Model,
    data: Any,
    *,
    fit_result: FitResult | None = None,
    prefit: Mapping[str, float] | None = None,
) -> GoodnessOfFit:
    """Pearson χ² before/after the fit and the saturated-model likelihood-ratio test.

    Args:
        model: the pyhf model.
        data: observed data (main bins followed by auxdata).
        fit_result: the maximum-likelihood fit (done here if not given).
        prefit: parameter → value overriding the model's inits for the
            "before the fit" evaluation.

    Returns:
        The statistics and p-values.
    """
    obs = np.asarray(data, dtype=float)
    nb = model.config.nmaindata
    n = obs[:nb]
    best = fit_result if fit_result is not None else fit(model, obs)
    labs = labels(model)
    if tuple(best.labels) != labs:
        msg = "fit_result does not belong to this model (parameter labels differ)"
        raise FitError(msg)
    p_init = np.asarray(model.config.suggested_init(), dtype=float)
    for i, v in resolve_values(model, prefit, "prefit").items():
        p_init[i] = float(v)
    with pyhf_state():
        nu_pre = np.asarray(model.expected_actualdata(p_init), dtype=float)
        nu_post = np.asarray(
            model.expected_actualdata(np.asarray(best.bestfit, dtype=float)), dtype=float
        )
    n_free = n_free_unconstrained(model, best.fixed)
    dof_post = nb - n_free
    chi2_pre = float(pearson_chi2(n, nu_pre))
    chi2_post = float(pearson_chi2(n, nu_post))
    sat = float(poisson_chi2(n, nu_post))
    result = GoodnessOfFit(
        n_bins=nb,
        n_free=n_free,
        pearson_chi2_prefit=chi2_pre,
        dof_prefit=nb,
        p_value_prefit=_p_value(chi2_pre, nb),
        pearson_chi2_postfit=chi2_post,
        dof_postfit=dof_post,
        p_value_postfit=_p_value(chi2_post, dof_post),
        saturated_chi2=sat,
        dof_saturated=dof_post,
        p_value_saturated=_p_value(sat, dof_post),
        prefit_parameters={lab: float(p_init[i]) for i, lab in enumerate(labs)},
        postfit_parameters={lab: float(best.bestfit[i]) for i, lab in enumerate(labs)},
    )
    log.info(
        "GoF: p prefit %.4g, postfit %.4g, saturated %.4g",
        result.p_value_prefit,
        result.p_value_postfit,
        result.p_value_saturated,
    )
    return result
