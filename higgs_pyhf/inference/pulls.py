"""Post-fit pulls and constraints of the constrained nuisance parameters.

For every free parameter with a constraint term (normfactors and
shapefactors have none and are left out):

- the *pre-fit* centre θ₀ and width σ_prefit come from the constraint: a
  Gaussian constraint ``Gaus(a | θ, σ)`` gives θ₀ = a and its σ (1 for
  normsys/histosys α, the relative uncertainty for staterror γ and lumi);
  a Poisson constraint ``Pois(a | τγ)`` (shapesys) gives θ₀ = a/τ and
  σ = 1/√τ (its Gaussian limit);
- the *pull* is (θ̂ − θ₀)/σ_prefit, the *constraint* σ_postfit/σ_prefit
  with σ_postfit the Hesse error of the fit.

:func:`constraint_widths` is shared with :mod:`.impacts` and :mod:`.yields`;
:func:`correlations` prunes the post-fit correlation matrix to the
parameters correlated above a threshold (the other post-fit parameter
diagnostic).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from .._summary import markdown_repr, result_dict, short_repr
from .engine import CompiledModel, compile_model
from .engine.compile import POISSON
from .fit import fit
from .results import FitResult

__all__ = [
    "ConstraintWidths",
    "CorrelationResult",
    "PullsResult",
    "constraint_widths",
    "correlations",
    "fitted_model",
    "modifier_types",
    "pulls",
]


class ConstraintWidths(NamedTuple):
    """The constrained free parameters of a model and their pre-fit constraints.

    Attributes:
        indices: (K,) pyhf indices of the constrained, free parameters.
        center: (K,) θ₀, the centre of each constraint (from the data's auxiliary data).
        sigma: (K,) σ_prefit, the width of each constraint.
    """

    indices: np.ndarray
    center: np.ndarray
    sigma: np.ndarray


def constraint_widths(cm: CompiledModel, data: Any) -> ConstraintWidths:
    """Centre and width of the constraint of every free constrained parameter.

    Args:
        cm: the compiled model (its ``fixed`` mask says which parameters are free).
        data: one data set [N + A] (main data then auxiliary data).

    Returns:
        The constrained free parameters in pyhf order, with θ₀ and σ_prefit.
    """
    d = np.asarray(data, dtype=float).reshape(-1)
    aux = d[cm.nmain :]
    idx = np.flatnonzero((cm.par_con >= 0) & ~cm.fixed)
    ci = cm.par_con[idx]
    pois = cm.con_kind[ci] == POISSON
    tau = cm.con_factor[ci]
    center = np.where(pois, aux[ci] / tau, aux[ci])
    sigma = np.where(pois, 1.0 / np.sqrt(tau), cm.con_sigma[ci])
    return ConstraintWidths(idx, center, sigma)


def modifier_types(model: Any, labels: tuple[str, ...]) -> tuple[str, ...]:
    """The modifier type (``normsys``, ``staterror``, …) of each parameter label."""
    kinds = dict(model.config.modifiers)
    return tuple(str(kinds.get(lab.split("[", 1)[0], "unknown")) for lab in labels)


class PullsResult(NamedTuple):
    """Pulls and constraints of the constrained parameters (pyhf order).

    Attributes:
        parameters: parameter labels.
        modifiers: modifier type of each parameter.
        bestfit: θ̂.
        center: θ₀, the centre of the constraint.
        prefit_sigma: σ_prefit, the width of the constraint.
        postfit_sigma: σ_postfit, the Hesse error of the fit.
        pull: (θ̂ − θ₀)/σ_prefit.
        constraint: σ_postfit/σ_prefit.
    """

    parameters: tuple[str, ...]
    modifiers: tuple[str, ...]
    bestfit: np.ndarray
    center: np.ndarray
    prefit_sigma: np.ndarray
    postfit_sigma: np.ndarray
    pull: np.ndarray
    constraint: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """What the command line prints for this result (its JSON, read back)."""
        return result_dict(self)

    def __repr__(self) -> str:
        return short_repr(self)

    def _repr_markdown_(self) -> str:
        return markdown_repr(self)

    def to_json(self) -> dict[str, Any]:
        """``{"parameters": [{"parameter", "modifier", "bestfit", "center", "prefit_sigma", "postfit_sigma", "pull", "constraint"}, …]}``."""
        rows = [
            {
                "parameter": p,
                "modifier": m,
                "bestfit": float(b),
                "center": float(c),
                "prefit_sigma": float(s0),
                "postfit_sigma": float(s1),
                "pull": float(pu),
                "constraint": float(co),
            }
            for p, m, b, c, s0, s1, pu, co in zip(*self, strict=True)
        ]
        return {"parameters": rows}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> PullsResult:
        """Inverse of :meth:`to_json`."""
        rows = obj["parameters"]
        keys = ("bestfit", "center", "prefit_sigma", "postfit_sigma", "pull", "constraint")
        arrays = {k: np.array([r[k] for r in rows], dtype=float) for k in keys}
        return cls(
            parameters=tuple(r["parameter"] for r in rows),
            modifiers=tuple(r["modifier"] for r in rows),
            **arrays,
        )


def fitted_model(
    model: Any, data: Any, fit_result: FitResult | None = None
) -> tuple[CompiledModel, FitResult]:
    """The compiled model with the fit's fixed parameters, and the fit (made if not given).

    Raises:
        FitError: if the model cannot be compiled or the fit fails.
    """
    result = fit(model, data) if fit_result is None else fit_result
    cm = compile_model(model)
    fixed = cm.fixed.copy()
    for lab in result.fixed:
        fixed[cm.par_names.index(lab)] = True
    return cm._replace(fixed=fixed), result


def pulls(model: Any, data: Any, *, fit_result: FitResult | None = None) -> PullsResult:
    """Pulls and constraints of every free constrained parameter of a fit.

    Args:
        model: the pyhf model.
        data: the data set (main data then auxiliary data).
        fit_result: the fit (:func:`higgs_pyhf.inference.fit.fit`); made if not given.

    Returns:
        The pulls, in pyhf's parameter order.
    """
    cm, result = fitted_model(model, data, fit_result)
    w = constraint_widths(cm, data)
    labels = tuple(cm.par_names[i] for i in w.indices)
    best = np.asarray(result.bestfit, dtype=float)[w.indices]
    post = np.asarray(result.uncertainty, dtype=float)[w.indices]
    return PullsResult(
        parameters=labels,
        modifiers=modifier_types(model, labels),
        bestfit=best,
        center=w.center,
        prefit_sigma=w.sigma,
        postfit_sigma=post,
        pull=(best - w.center) / w.sigma,
        constraint=post / w.sigma,
    )


class CorrelationResult(NamedTuple):
    """The post-fit correlation matrix, pruned to the parameters that matter.

    Attributes:
        parameters: labels of the kept parameters (pyhf order).
        correlation: (K, K) their correlation matrix.
        threshold: a parameter is kept if some |ρ| with another one exceeds it.
    """

    parameters: tuple[str, ...]
    correlation: np.ndarray
    threshold: float

    def to_dict(self) -> dict[str, Any]:
        """What the command line prints for this result (its JSON, read back)."""
        return result_dict(self)

    def __repr__(self) -> str:
        return short_repr(self)

    def _repr_markdown_(self) -> str:
        return markdown_repr(self)

    def to_json(self) -> dict[str, Any]:
        """``{"parameters": [...], "correlation": [[ρ]], "threshold": t}``."""
        return {
            "parameters": list(self.parameters),
            "correlation": np.asarray(self.correlation, dtype=float).tolist(),
            "threshold": float(self.threshold),
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> CorrelationResult:
        """Inverse of :meth:`to_json`."""
        return cls(
            tuple(obj["parameters"]),
            np.asarray(obj["correlation"], dtype=float),
            float(obj["threshold"]),
        )


def correlations(fit_result: FitResult, *, threshold: float = 0.1) -> CorrelationResult:
    """The fit's correlation matrix restricted to free parameters with some |ρ| > ``threshold``.

    Args:
        fit_result: the fit.
        threshold: the pruning threshold on the off-diagonal |ρ| (0 keeps
            every free parameter).

    Returns:
        The pruned matrix.
    """
    rho = np.asarray(fit_result.correlation, dtype=float)
    free = np.array([lab not in fit_result.fixed for lab in fit_result.labels])
    off = np.abs(rho - np.diag(np.diag(rho)))
    off[~free, :] = 0.0
    off[:, ~free] = 0.0
    keep = free & ((off > threshold).any(axis=1) if threshold > 0 else True)
    idx = np.flatnonzero(keep)
    return CorrelationResult(
        tuple(fit_result.labels[i] for i in idx), rho[np.ix_(idx, idx)], float(threshold)
    )
