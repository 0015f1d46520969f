"""Toy-based CLs (q̃μ) and discovery p0 (q0), beside the asymptotic values.

Signal+background toys are drawn at (μ, θ̂_μ) and background-only toys at
(0, θ̂_0), the nuisance parameters fitted to the data (streams 0 and 1 of
``seed``); every toy is fitted unconditionally and with the POI fixed at μ
and at 0, on the engine (any model). pyhf's own toy calculator is not used
(it breaks with numpy ≥ 2.4).

The toy-based expected CLs band is pyhf's (``hypotest(..., calctype="toybased",
return_expected_set=True)``): the CLs of every background-only toy's q̃μ,
at the 2.3/15.9/50/84.1/97.7 percentiles of those CLs values.

When the data's best fit μ̂ is above the tested μ, q̃μ = 0 and every toy has
q̃μ ≥ 0, so the toy CLs is exactly 1 while the asymptotic formula gives its
own (smaller) value from the √q̃μ distributions: the result says so in
``note``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Unpack

import numpy as np
from scipy import stats

from ..._io import jsonable
from ..._summary import markdown_repr, result_dict, short_repr
from ...errors import FitError
from ..significance import cls as asymptotic_cls
from ..significance import discovery as asymptotic_discovery
from .fits import ToyModel, fit_data, fit_toys, toy_model
from .runner import RunOptions, ToyDraws, run_at
from .sampling import DEFAULT_BLOCK_SIZE, check_sampling
from .summary import binomial_error

__all__ = ["HypotestResult", "expected_band", "hypotest_toys", "toy_cls"]


class HypotestResult(NamedTuple):
    """Toy-based CLs at ``poi_value`` and discovery p0, beside the asymptotic ones.

    Attributes:
        poi: parameter of interest.
        poi_value: tested value μ.
        qmu_observed: observed q̃_μ (0 if μ̂ > μ; μ̂ ≥ 0 by the bounds).
        cls: toy CLs = CLs+b / CLb with CLs+b = P(q̃_μ ≥ obs | μ), CLb = P(q̃_μ ≥ obs | 0).
        clsb: toy CLs+b.
        clb: toy CLb.
        cls_error: binomial error of CLs (propagated from both).
        q0_observed: observed q0.
        p0: P(q0 ≥ observed | s = 0) from background-only toys.
        p0_error: binomial error.
        z0: Φ⁻¹(1 − p0) significance; None when no toy reaches the observed q0.
        cls_asymptotic: asymptotic CLs (q̃μ).
        p0_asymptotic: asymptotic p0 (q0).
        n_failed: failed toy fits (both ensembles).
        settings: seed, ntoys, …
        note: how to read the numbers (e.g. why the toy CLs is 1).
        cls_expected: toy-based expected CLs at −2σ, −1σ, median, +1σ, +2σ of the
            background-only toys (pyhf's ``CLs_exp`` order and percentiles).
        toys_qmu_sb: q̃μ of the signal+background toys (not in the JSON).
        toys_qmu_b: q̃μ of the background-only toys (not in the JSON).
    """

    poi: str
    poi_value: float
    qmu_observed: float
    cls: float
    clsb: float
    clb: float
    cls_error: float
    q0_observed: float
    p0: float
    p0_error: float
    z0: float | None
    cls_asymptotic: float
    p0_asymptotic: float
    n_failed: int
    settings: dict[str, Any]
    note: str = ""
    cls_expected: tuple[float, ...] = ()
    toys_qmu_sb: Any = None
    toys_qmu_b: Any = None

    def to_dict(self) -> dict[str, Any]:
        """What the command line prints for this result (its JSON, read back)."""
        return result_dict(self)

    def __repr__(self) -> str:
        return short_repr(self)

    def _repr_markdown_(self) -> str:
        return markdown_repr(self)

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form (the toys' q̃μ values are left out)."""
        obj = self._asdict()
        del obj["toys_qmu_sb"], obj["toys_qmu_b"]
        return jsonable(obj)  # type: ignore[no-any-return]

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> HypotestResult:
        """Inverse of :meth:`to_json` (without the toys' values)."""
        return cls(**{**obj, "cls_expected": tuple(obj.get("cls_expected", ()))})


def _qstats(tm: ToyModel, toys: np.ndarray, poi: str, mu: float) -> dict[str, np.ndarray]:
    free = fit_toys(tm, toys)
    at_mu = fit_toys(tm, toys, fixed={poi: mu})
    at_0 = fit_toys(tm, toys, fixed={poi: 0.0})
    muhat = free.bestfit[:, tm.position(poi)]
    qmu = np.where(muhat > mu, 0.0, np.maximum(at_mu.value - free.value, 0.0))
    q0 = np.where(muhat <= 0, 0.0, np.maximum(at_0.value - free.value, 0.0))
    ok = free.converged & at_mu.converged & at_0.converged
    return {"qmu": np.where(ok, qmu, np.nan), "q0": np.where(ok, q0, np.nan), "converged": ok}


#: Percentiles of the expected band (−2σ … +2σ), as pyhf's toy calculator.
_BAND_PERCENTILES = (2.27501319, 15.86552539, 50.0, 84.13447461, 97.72498681)


def toy_cls(qmu: np.ndarray, qsb: np.ndarray, qb: np.ndarray) -> np.ndarray:
    """CLs = P(q ≥ q̃μ | s+b) / P(q ≥ q̃μ | b) at each value of ``qmu`` (toy distributions)."""
    ssb, sb_ = np.sort(qsb), np.sort(qb)
    clsb = (ssb.size - np.searchsorted(ssb, qmu, side="left")) / ssb.size
    clb = (sb_.size - np.searchsorted(sb_, qmu, side="left")) / sb_.size
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(clb > 0, clsb / clb, np.nan)


def expected_band(qsb: np.ndarray, qb: np.ndarray) -> tuple[float, ...]:
    """Toy-based expected CLs (−2σ … +2σ): percentiles of the CLs of the background-only toys."""
    values = toy_cls(qb, qsb, qb)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return (math.nan,) * len(_BAND_PERCENTILES)
    return tuple(float(v) for v in np.percentile(values, _BAND_PERCENTILES))


def _block_hypotest(tm: ToyModel, toys: np.ndarray, p: dict[str, Any]) -> dict[str, np.ndarray]:
    return _qstats(tm, toys, p["poi"], p["mu"])


def hypotest_toys(
    model: Any,
    data: Any,
    *,
    poi_value: float = 1.0,
    ntoys: int = 5_000,
    seed: int = 0,
    sampling: str = "poisson",
    aux: str = "sample",
    asymptotic: bool = True,
    block_size: int = DEFAULT_BLOCK_SIZE,
    **run: Unpack[RunOptions],
) -> HypotestResult:
    """Toy-based CLs for ``poi = poi_value`` (q̃μ) and discovery p0 (q0).

    ``run``: how the toys are run (:class:`~.runner.RunOptions`: workers, pool, …).

    Returns:
        The :class:`HypotestResult`.
    """
    check_sampling(sampling, "clip", aux)
    tm = toy_model(model)
    poi = tm.poi
    lo, hi = tm.cm.bounds[tm.position(poi)]
    if not lo <= poi_value <= hi:
        msg = f"poi value {poi_value} is outside the bounds of {poi} [{lo:g}, {hi:g}]"
        raise FitError(msg)
    d = np.asarray(data, dtype=float)
    obs = _qstats(tm, d[None, :], poi, float(poi_value))
    if not obs["converged"][0]:
        msg = "the fits to the observed data failed"
        raise FitError(msg)
    qmu_obs, q0_obs = float(obs["qmu"][0]), float(obs["q0"][0])
    draws = ToyDraws(ntoys, seed, sampling, "clip", aux, block_size)
    payload = {"poi": poi, "mu": float(poi_value)}
    ens = {}
    for stream, mu in ((0, float(poi_value)), (1, 0.0)):
        pars, _ = fit_data(tm, d, "likelihood", fixed={poi: mu})
        ens[stream] = run_at(
            _block_hypotest, tm, pars, payload=payload, stream=stream, **draws._asdict(), **run
        )
    sb, b = ens[0], ens[1]
    qsb = sb["qmu"][sb["converged"]]
    qb = b["qmu"][b["converged"]]
    q0b = b["q0"][b["converged"]]
    clsb = float(np.mean(qsb >= qmu_obs))
    clb = float(np.mean(qb >= qmu_obs))
    cls = clsb / clb if clb > 0 else math.nan
    e_sb, e_b = binomial_error(clsb * qsb.size, qsb.size), binomial_error(clb * qb.size, qb.size)
    cls_err = float(
        cls * math.hypot(e_sb / clsb if clsb > 0 else 0.0, e_b / clb if clb > 0 else 0.0)
    )
    p0 = float(np.mean(q0b >= q0_obs))
    cls_a = p0_a = math.nan
    if asymptotic:
        cls_a = asymptotic_cls(model, d, poi_value=poi_value).cls_observed
        p0_a = asymptotic_discovery(model, d).p0_observed
    note = ""
    if qmu_obs == 0.0:
        note = (
            f"the data's best fit {poi} is above the tested {poi_value:g}, so q~mu = 0: every toy "
            "has q~mu >= 0 and the toy CLs is exactly 1 (the tested value is not excluded); the "
            "asymptotic CLs uses the sqrt(q~mu) distributions and is smaller, not comparable here"
        )
    return HypotestResult(
        poi=poi,
        poi_value=float(poi_value),
        qmu_observed=qmu_obs,
        cls=cls,
        clsb=clsb,
        clb=clb,
        cls_error=cls_err,
        q0_observed=q0_obs,
        p0=p0,
        p0_error=binomial_error(p0 * q0b.size, q0b.size),
        z0=float(stats.norm.isf(p0)) if p0 > 0 else None,
        cls_asymptotic=cls_a,
        p0_asymptotic=p0_a,
        n_failed=int((~sb["converged"]).sum() + (~b["converged"]).sum()),
        settings=draws.settings(skip=("negative",), engine="batched HistFactory engine"),
        note=note,
        cls_expected=expected_band(qsb, qb),
        toys_qmu_sb=qsb,
        toys_qmu_b=qb,
    )
