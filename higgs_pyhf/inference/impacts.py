"""Impacts (ranking) of every free parameter other than the POI on the POI, and their groups.

For each free constrained parameter θ_k (see :mod:`.pulls`), four fits with
θ_k held at θ̂_k ± σ_prefit and θ̂_k ± σ_postfit (clipped to its bounds) and
every other parameter profiled; the impact is Δ = POI of the shifted fit −
POI best fit. A free unconstrained parameter (a normfactor) has no pre-fit
width: two fits at θ̂_k ± σ_postfit (as cabinetry ranks them), no pre-fit
impact, pull or constraint. Shifts are labelled ``up``/``down`` (cabinetry's order). The fits are batched engine fits with a per-row set of held
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

from ..errors import FitError
from .engine import CompiledModel, hessian
from .engine import fit as engine_fit
from .impact_results import ImpactsResult, ParameterImpact, Shift
from .pulls import constraint_widths, fitted_model, modifier_types
from .results import FitResult

__all__ = ["HeldFits", "ImpactsResult", "ParameterImpact", "Shift", "held_fits", "impacts"]


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
    """Pre- and post-fit impacts of every free parameter but the POI on the POI, and their groups.

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
    err = np.asarray(res.uncertainty, dtype=float)
    # free unconstrained parameters other than the POI (normfactors, shapefactors)
    free_idx = np.flatnonzero(~cm.fixed & (cm.par_con < 0))
    dead = [cm.par_names.index(n) for n in res.unconstrained]
    free_idx = free_idx[(free_idx != p) & ~np.isin(free_idx, dead)]
    k, u = w.indices.size, free_idx.size
    # rows: constrained j: (pre +, pre −, post +, post −); then free j: (post +, post −)
    cols = np.concatenate([np.repeat(w.indices, 4), np.repeat(free_idx, 2)])
    post_c = err[w.indices]
    shift = np.concatenate(
        [
            np.stack([w.sigma, -w.sigma, post_c, -post_c], axis=1).reshape(-1),
            np.stack([err[free_idx], -err[free_idx]], axis=1).reshape(-1),
        ]
    )
    values = np.clip(best[cols] + shift, cm.bounds[cols, 0], cm.bounds[cols, 1])
    n_rows = cols.size
    init = np.repeat(best[None, :], n_rows, axis=0)
    held = np.zeros((n_rows, cm.npars), dtype=bool)
    rows = np.arange(n_rows)
    init[rows, cols] = values
    held[rows, cols] = True
    fits = held_fits(cm, d, held, init)
    sides = np.concatenate(
        [
            np.tile(["prefit up", "prefit down", "postfit up", "postfit down"], k),
            np.tile(["postfit up", "postfit down"], u),
        ]
    )
    failed = [
        f"{cm.par_names[cols[row]]} {sides[row]} ({values[row]:.6g}): "
        + (
            "no valid prediction there"
            if not np.isfinite(fits.twice_nll[row])
            else "did not converge"
        )
        for row in np.flatnonzero(~fits.converged)
    ]
    if failed:
        log.warning("%d shifted fit(s) failed, their shifts are null: %s", len(failed), failed)
    delta = np.where(fits.converged, fits.pars[:, p] - best[p], np.nan)
    dc, du = delta[: 4 * k].reshape(k, 4), delta[4 * k :].reshape(u, 2)

    labels = tuple(cm.par_names[i] for i in w.indices)
    mods = modifier_types(model, labels)
    items = [
        ParameterImpact(
            parameter=lab,
            modifier=mod,
            group=_group_of(lab, mod, groups),
            bestfit=float(best[i]),
            prefit_sigma=float(w.sigma[j]),
            postfit_sigma=float(post_c[j]),
            prefit=Shift(float(dc[j, 0]), float(dc[j, 1])),
            postfit=Shift(float(dc[j, 2]), float(dc[j, 3])),
            pull=float((best[i] - w.center[j]) / w.sigma[j]),
            constraint=float(post_c[j] / w.sigma[j]),
        )
        for j, (i, lab, mod) in enumerate(zip(w.indices, labels, mods, strict=True))
    ]
    free_labels = tuple(cm.par_names[i] for i in free_idx)
    free_mods = modifier_types(model, free_labels)
    items += [
        ParameterImpact(
            parameter=lab,
            modifier=mod,
            group=_group_of(lab, mod, groups),
            bestfit=float(best[i]),
            prefit_sigma=None,
            postfit_sigma=float(err[i]),
            prefit=None,
            postfit=Shift(float(du[j, 0]), float(du[j, 1])),
            pull=None,
            constraint=None,
        )
        for j, (i, lab, mod) in enumerate(zip(free_idx, free_labels, free_mods, strict=True))
    ]
    items.sort(key=lambda it: (-it.size, it.parameter))

    h = hessian(cm, best[None, :], d[None, :])[0]
    free = ~cm.fixed
    free[dead] = False
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
            "prefit": math.sqrt(sum(it.prefit.size**2 for it in members if it.prefit)),
            "postfit": math.sqrt(sum(it.size**2 for it in members)),
            "hesse": math.sqrt(max(total**2 - frozen**2, 0.0)),
        }
    log.info(
        "impacts of %d parameters (%d unconstrained) on %s: %d fits in %d engine calls",
        k + u,
        u,
        name,
        n_rows,
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
        n_fits=n_rows,
        n_engine_calls=fits.n_calls,
        failed=tuple(failed),
    )
