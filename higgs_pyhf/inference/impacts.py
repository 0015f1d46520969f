"""Impacts (ranking) of the constrained nuisance parameters on the POI, and their groups.

For each free constrained parameter θ_k (see :mod:`.pulls`), four fits with
θ_k held at θ̂_k ± σ_prefit and θ̂_k ± σ_postfit (clipped to its bounds) and
every other parameter profiled; the impact is Δ = POI of the shifted fit −
POI best fit. The fits are batched engine fits with a per-row set of held
parameters (:func:`held_fits`): the engine takes one fixed mask per call, so
the rows are grouped by mask — one call per parameter with its four shifts
(the engine cannot hold different parameters in different rows of a call).

Groups (by modifier type, or a ``groups`` mapping of parameter → group):

- ``prefit`` / ``postfit``: the symmetrised impacts ½(|Δdown| + |Δup|) of
  the group's parameters added in quadrature;
- ``hesse``: √(σ²_total − σ²_group fixed) with the Hesse errors of the POI
  with and without the group held at its best fit (no fit: the conditional
  minimum is the global one).

The breakdown of the POI's Hesse error: ``stat`` with every constrained
parameter held at its best fit (unconstrained normfactors stay free), ``syst``
= √(total² − stat²).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from .._io import as_float
from ..errors import FitError
from .engine import CompiledModel, hessian
from .engine import fit as engine_fit
from .pulls import constraint_widths, fitted_model, modifier_types
from .results import FitResult

__all__ = ["HeldFits", "ImpactsResult", "ParameterImpact", "held_fits", "impacts"]

log = logging.getLogger(__name__)


class HeldFits(NamedTuple):
    """Fits of B rows, each with its own held parameters.

    Attributes:
        pars: (B, P) best fits.
        twice_nll: (B,) −2 ln L at the best fits.
        converged: (B,) whether each fit converged.
        n_calls: number of engine calls made (one per distinct mask).
    """

    pars: np.ndarray
    twice_nll: np.ndarray
    converged: np.ndarray
    n_calls: int


def held_fits(cm: CompiledModel, data: Any, held: np.ndarray, init: np.ndarray) -> HeldFits:
    """Batched fits where row ``i`` holds the parameters ``held[i]`` at ``init[i]``.

    Rows with the same mask go into one engine call (their held values may
    differ: they are taken from ``init``).

    Args:
        cm: the compiled model (its own fixed parameters are held in every row).
        data: one data set [N + A] or one per row [B, N + A].
        held: (B, P) extra parameters held in each row.
        init: (B, P) starting values; the held parameters are held there.

    Returns:
        The fits, in row order.
    """
    x0 = np.atleast_2d(np.asarray(init, dtype=float))
    masks = np.atleast_2d(np.asarray(held, dtype=bool)) | cm.fixed
    d = np.asarray(data, dtype=float)
    rows = np.broadcast_to(d, (x0.shape[0], d.shape[-1]))
    pars = x0.copy()
    value = np.empty(x0.shape[0])
    converged = np.empty(x0.shape[0], dtype=bool)
    uniq, inverse = np.unique(masks, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    for k, mask in enumerate(uniq):
        sel = np.flatnonzero(inverse == k)
        r = engine_fit(cm._replace(fixed=mask), rows[sel], init=x0[sel])
        pars[sel], value[sel], converged[sel] = r.pars, r.twice_nll, r.converged
    return HeldFits(pars, value, converged, len(uniq))


class ParameterImpact(NamedTuple):
    """The impact of one nuisance parameter on the POI.

    Attributes:
        parameter: its label.
        modifier: its modifier type.
        group: the group it is counted in.
        bestfit: θ̂.
        prefit_sigma: σ_prefit (the constraint's width).
        postfit_sigma: σ_postfit (Hesse).
        prefit: (Δdown, Δup) POI shifts with θ held at θ̂ − σ_prefit, θ̂ + σ_prefit.
        postfit: (Δdown, Δup) with θ held at θ̂ ∓ σ_postfit.
        pull: (θ̂ − θ₀)/σ_prefit.
        constraint: σ_postfit/σ_prefit.
    """

    parameter: str
    modifier: str
    group: str
    bestfit: float
    prefit_sigma: float
    postfit_sigma: float
    prefit: tuple[float, float]
    postfit: tuple[float, float]
    pull: float
    constraint: float

    @property
    def size(self) -> float:
        """The ranking key: ½(|Δdown| + |Δup|) post-fit (a failed shift counts 0)."""
        return 0.5 * sum(abs(v) for v in self.postfit if math.isfinite(v))


class ImpactsResult(NamedTuple):
    """Impacts of every constrained parameter on the POI, sorted by post-fit size.

    Attributes:
        poi: the parameter of interest.
        poi_bestfit: its best fit.
        poi_total: its Hesse error (all parameters free).
        poi_stat: its Hesse error with every constrained parameter held at its best fit.
        poi_syst: √(total² − stat²).
        impacts: the per-parameter impacts, largest post-fit first.
        groups: group → ``{"parameters", "prefit", "postfit", "hesse"}``.
        n_fits: shifted fits made.
        n_engine_calls: engine calls they took.
        failed: the shifted fits that did not converge (their shifts are NaN, ``null``), with why.
    """

    poi: str
    poi_bestfit: float
    poi_total: float
    poi_stat: float
    poi_syst: float
    impacts: tuple[ParameterImpact, ...]
    groups: dict[str, dict[str, Any]]
    n_fits: int
    n_engine_calls: int
    failed: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """``{"poi", "poi_bestfit", "uncertainty": {"total", "stat", "syst"}, "impacts": […], "groups": {…}, "n_fits", "n_engine_calls"}``."""
        rows = []
        for imp in self.impacts:
            row = imp._asdict()
            row["prefit"] = [_num(v) for v in imp.prefit]
            row["postfit"] = [_num(v) for v in imp.postfit]
            rows.append(row)
        return {
            "poi": self.poi,
            "poi_bestfit": float(self.poi_bestfit),
            "uncertainty": {
                "total": float(self.poi_total),
                "stat": float(self.poi_stat),
                "syst": float(self.poi_syst),
            },
            "impacts": rows,
            "groups": {
                g: {**v, "parameters": list(v["parameters"])} for g, v in self.groups.items()
            },
            "n_fits": int(self.n_fits),
            "n_engine_calls": int(self.n_engine_calls),
            "failed": list(self.failed),
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ImpactsResult:
        """Inverse of :meth:`to_json`."""
        imps = tuple(
            ParameterImpact(
                **{
                    **r,
                    "prefit": (as_float(r["prefit"][0]), as_float(r["prefit"][1])),
                    "postfit": (as_float(r["postfit"][0]), as_float(r["postfit"][1])),
                }
            )
            for r in obj["impacts"]
        )
        unc = obj["uncertainty"]
        return cls(
            poi=obj["poi"],
            poi_bestfit=float(obj["poi_bestfit"]),
            poi_total=float(unc["total"]),
            poi_stat=float(unc["stat"]),
            poi_syst=float(unc["syst"]),
            impacts=imps,
            groups={g: dict(v) for g, v in obj["groups"].items()},
            n_fits=int(obj["n_fits"]),
            n_engine_calls=int(obj["n_engine_calls"]),
            failed=tuple(obj.get("failed", ())),
        )


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _poi_error(h: np.ndarray, free: np.ndarray, poi: int) -> float:
    """Hesse error of the POI from the Hessian of −2 ln L over the ``free`` parameters."""
    idx = np.flatnonzero(free)
    sub = h[np.ix_(idx, idx)]
    e = np.zeros(idx.size)
    e[int(np.flatnonzero(idx == poi)[0])] = 1.0
    var = 2.0 * float(e @ np.linalg.solve(sub, e))
    return math.sqrt(max(var, 0.0))


def _group_of(label: str, modifier: str, groups: Mapping[str, str] | None) -> str:
    if groups:
        for key in (label, label.split("[", 1)[0]):
            if key in groups:
                return str(groups[key])
    return modifier


def impacts(
    model: Any,
    data: Any,
    *,
    fit_result: FitResult | None = None,
    poi: str | None = None,
    groups: Mapping[str, str] | None = None,
) -> ImpactsResult:
    """Pre- and post-fit impacts of every constrained parameter on the POI, and their groups.

    Args:
        model: the pyhf model.
        data: the data set (main data then auxiliary data).
        fit_result: the best fit (made if not given).
        poi: the parameter whose shifts are measured (default: the model's POI).
        groups: parameter label or name → group (default: the modifier type).

    Returns:
        The impacts, sorted by post-fit size (largest first).

    Raises:
        FitError: if the POI is unknown or a shifted fit fails.
    """
    cm, res = fitted_model(model, data, fit_result)
    name = poi or model.config.poi_name
    if name is None or name not in cm.par_names:
        msg = f"unknown POI {name!r}; give one of {', '.join(cm.par_names)}"
        raise FitError(msg)
    p = cm.par_names.index(str(name))
    if cm.fixed[p]:
        msg = f"the POI {name!r} is fixed in the fit"
        raise FitError(msg)
    if name in res.unconstrained:
        msg = (
            f"no impacts on {name!r}: the likelihood does not depend on it (its samples are empty)"
        )
        raise FitError(msg)
    if not res.converged:
        msg = f"no impacts: the best fit did not converge ({res.status})"
        raise FitError(msg)
    d = np.asarray(data, dtype=float)
    best = np.asarray(res.bestfit, dtype=float)
    w = constraint_widths(cm, d)
    post = np.asarray(res.uncertainty, dtype=float)[w.indices]
    k = w.indices.size
    # rows: parameter j, shifts (pre −, pre +, post −, post +)
    shift = np.stack([-w.sigma, w.sigma, -post, post], axis=1)  # (K, 4)
    values = np.clip(
        best[w.indices, None] + shift, cm.bounds[w.indices, :1], cm.bounds[w.indices, 1:]
    )
    init = np.repeat(best[None, :], 4 * k, axis=0)
    held = np.zeros((4 * k, cm.npars), dtype=bool)
    rows = np.arange(4 * k)
    cols = np.repeat(w.indices, 4)
    init[rows, cols] = values.reshape(-1)
    held[rows, cols] = True
    fits = held_fits(cm, d, held, init)
    failed: list[str] = []
    sides = ("prefit down", "prefit up", "postfit down", "postfit up")
    for row in np.flatnonzero(~fits.converged):
        lab, side = cm.par_names[cols[row]], sides[row % 4]
        why = (
            "no valid prediction there"
            if not np.isfinite(fits.twice_nll[row])
            else "did not converge"
        )
        failed.append(f"{lab} {side} ({values.reshape(-1)[row]:.6g}): {why}")
    if failed:
        log.warning("%d shifted fit(s) failed, their shifts are null: %s", len(failed), failed)
    delta = np.where(fits.converged, fits.pars[:, p] - best[p], np.nan).reshape(k, 4)

    labels = tuple(cm.par_names[i] for i in w.indices)
    mods = modifier_types(model, labels)
    items = [
        ParameterImpact(
            parameter=lab,
            modifier=mod,
            group=_group_of(lab, mod, groups),
            bestfit=float(best[i]),
            prefit_sigma=float(w.sigma[j]),
            postfit_sigma=float(post[j]),
            prefit=(float(delta[j, 0]), float(delta[j, 1])),
            postfit=(float(delta[j, 2]), float(delta[j, 3])),
            pull=float((best[i] - w.center[j]) / w.sigma[j]),
            constraint=float(post[j] / w.sigma[j]),
        )
        for j, (i, lab, mod) in enumerate(zip(w.indices, labels, mods, strict=True))
    ]
    items.sort(key=lambda it: (-it.size, it.parameter))

    h = hessian(cm, best[None, :], d[None, :])[0]
    free = ~cm.fixed & ~np.isin(
        np.arange(cm.npars), [cm.par_names.index(u) for u in res.unconstrained]
    )
    total = _poi_error(h, free, p)
    constrained = np.zeros(cm.npars, dtype=bool)
    constrained[w.indices] = True
    stat = _poi_error(h, free & ~constrained, p)
    group_out: dict[str, dict[str, Any]] = {}
    for g in sorted({it.group for it in items}):
        members = [it for it in items if it.group == g]
        mask = np.zeros(cm.npars, dtype=bool)
        mask[[cm.par_names.index(it.parameter) for it in members]] = True
        frozen = _poi_error(h, free & ~mask, p)
        group_out[g] = {
            "parameters": [it.parameter for it in members],
            "prefit": math.sqrt(
                sum((0.5 * (abs(it.prefit[0]) + abs(it.prefit[1]))) ** 2 for it in members)
            ),
            "postfit": math.sqrt(sum(it.size**2 for it in members)),
            "hesse": math.sqrt(max(total**2 - frozen**2, 0.0)),
        }
    log.info(
        "impacts of %d parameters on %s: %d fits in %d engine calls",
        k,
        name,
        4 * k,
        fits.n_calls,
    )
    return ImpactsResult(
        poi=str(name),
        poi_bestfit=float(best[p]),
        poi_total=total,
        poi_stat=stat,
        poi_syst=math.sqrt(max(total**2 - stat**2, 0.0)),
        impacts=tuple(items),
        groups=group_out,
        n_fits=4 * k,
        n_engine_calls=fits.n_calls,
        failed=tuple(failed),
    )
