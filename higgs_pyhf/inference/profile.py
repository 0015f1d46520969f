"""The profile likelihood on the engine: −2 ln L with some parameters fixed, all others fitted.

:func:`profile` evaluates −2 ln L(θ_fixed = values, others profiled) for a
whole batch of fixed values at once (one engine fit of B rows: a 2D grid,
the bisection points of several intervals, the shifted fits of impacts);
``conditional=True`` keeps the others at a given point instead.
:func:`crossings` finds where the profile Δ(−2 ln L) crosses a level on both
sides of the best fit, for several parameters together, by batched
bracketing and bisection (MINOS-like errors, exact to ``xtol``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ..errors import FitError
from .engine import CompiledModel, twice_nll
from .engine import fit as engine_fit

__all__ = ["Profile", "crossings", "profile"]

log = logging.getLogger(__name__)


class Profile(NamedTuple):
    """−2 ln L at B points of the fixed parameters.

    Attributes:
        twice_nll: (B,) −2 ln L, the other parameters profiled (or held).
        pars: (B, P) the full parameter vectors.
        converged: (B,) whether each fit converged.
    """

    twice_nll: np.ndarray
    pars: np.ndarray
    converged: np.ndarray


def profile(
    cm: CompiledModel,
    data: Any,
    indices: Sequence[int],
    values: Any,
    *,
    start: Any,
    conditional: bool = False,
    fixed: np.ndarray | None = None,
) -> Profile:
    """−2 ln L with parameters ``indices`` at each row of ``values`` [B, k].

    Args:
        cm: the compiled model.
        data: one data set [N + A] (or [B, N + A]).
        indices: pyhf indices of the parameters held at ``values``.
        values: (B, k) their values.
        start: (P,) starting point of the others (or the point they are held at).
        conditional: hold the others at ``start`` instead of fitting them.
        fixed: (P,) extra parameters held at ``start`` (default: the model's fixed ones).
    """
    vals = np.atleast_2d(np.asarray(values, dtype=float))
    idx = list(indices)
    x = np.broadcast_to(np.asarray(start, dtype=float), (vals.shape[0], cm.npars)).copy()
    x[:, idx] = vals
    d = np.asarray(data, dtype=float)
    rows = np.broadcast_to(d, (vals.shape[0], d.shape[-1]))
    held = (cm.fixed if fixed is None else fixed).copy()
    held[idx] = True
    if conditional or held.all():
        nll = twice_nll(cm, x, rows)
        return Profile(nll, x, np.isfinite(nll))
    r = engine_fit(cm._replace(fixed=held), rows, init=x)
    return Profile(r.twice_nll, r.pars, r.converged)


def crossings(
    cm: CompiledModel,
    data: Any,
    best: np.ndarray,
    best_nll: float,
    indices: Sequence[int],
    steps: Sequence[float],
    *,
    level: float = 1.0,
    bounds: np.ndarray | None = None,
    xtol: float = 1e-6,
    fixed: np.ndarray | None = None,
) -> dict[int, tuple[float, float]]:
    """Where the profile Δ(−2 ln L) reaches ``level`` below and above the best fit.

    All parameters and both sides are bracketed and bisected together, one
    batched engine fit per iteration.

    Args:
        cm: the compiled model.
        data: the data set.
        best: (P,) the best fit.
        best_nll: −2 ln L at the best fit.
        indices: the parameters.
        steps: first bracket width per parameter (e.g. its Hesse error).
        level: Δ(−2 ln L) of the interval (1: 68.27%).
        bounds: (P, 2) limits (default: the model's); a side that does not
            reach ``level`` before its limit returns the limit.
        xtol: absolute tolerance on the crossing, relative to max(1, |step|).
        fixed: (P,) parameters held at ``best`` (default: the model's fixed ones).

    Returns:
        index → (lower, upper) parameter values of the crossings.
    """
    lim = cm.bounds if bounds is None else bounds
    k = len(indices)
    idx = np.repeat(np.asarray(indices, dtype=int), 2)  # (2k,) lower side, upper side
    sign = np.tile([-1.0, 1.0], k)
    step = np.repeat(np.maximum(np.abs(np.asarray(steps, dtype=float)), 1e-6), 2)
    centre = best[idx]
    edge = np.where(sign < 0, lim[idx, 0], lim[idx, 1])
    inner = centre.copy()
    outer = np.clip(centre + sign * step, np.minimum(edge, centre), np.maximum(edge, centre))
    at_edge = np.zeros(2 * k, dtype=bool)

    def delta(points: np.ndarray) -> np.ndarray:
        out = np.empty(points.size)
        for i in np.unique(idx):
            rows = np.flatnonzero(idx == i)
            prof = profile(cm, data, [int(i)], points[rows, None], start=best, fixed=fixed)
            if not prof.converged.all():
                msg = f"profile fits of {cm.par_names[int(i)]} did not converge"
                raise FitError(msg)
            out[rows] = prof.twice_nll - best_nll
        return out

    # bracket: double the step until Δ passes the level or the limit is reached
    for _ in range(60):
        d_out = delta(outer)
        grow = (d_out < level) & ~at_edge
        if not grow.any():
            break
        inner = np.where(grow, outer, inner)
        step = np.where(grow, 2 * step, step)
        new = np.clip(centre + sign * step, np.minimum(edge, centre), np.maximum(edge, centre))
        at_edge |= grow & (new == outer)
        outer = np.where(grow, new, outer)
    reached = d_out >= level
    tol = xtol * np.maximum(1.0, np.abs(step))
    for _ in range(200):
        todo = reached & (np.abs(outer - inner) > tol)
        if not todo.any():
            break
        mid = 0.5 * (inner + outer)
        d_mid = delta(mid)
        below = d_mid < level
        inner = np.where(todo & below, mid, inner)
        outer = np.where(todo & ~below, mid, outer)
    ends = np.where(reached, 0.5 * (inner + outer), edge)
    if (~reached).any():
        names = sorted({cm.par_names[i] for i in idx[~reached]})
        log.warning("the Δ = %g crossing of %s lies beyond the parameter limits", level, names)
    return {int(i): (float(ends[2 * j]), float(ends[2 * j + 1])) for j, i in enumerate(indices)}
