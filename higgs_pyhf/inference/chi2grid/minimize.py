"""Continuous minimization of a χ² statistic over (s_s, s_b): best fit, Δ = 1 intervals, 2.30 extents.

A projected Newton method on the convex statistics (Pearson, Neyman,
Poisson) for the two-normfactor model, with the profiled Δ = 1 intervals and
the Δ = 2.30 contour extents found by root finding.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from scipy import optimize, stats

from ..._io import as_float
from ...errors import FitError
from .grid import Chi2GoF
from .statistics import PARAMETERS, _statistic, _templates

log = logging.getLogger(__name__)


def _derivatives(statistic: str, obs: np.ndarray, nu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and second derivative of each bin's term with respect to ν."""
    if statistic == "pearson":
        return 1.0 - obs**2 / nu**2, 2.0 * obs**2 / nu**3
    if statistic == "neyman":
        w = np.maximum(obs, 1.0)
        return -2.0 * (obs - nu) / w, np.full_like(nu, 2.0) / w
    return 2.0 * (1.0 - obs / nu), 2.0 * obs / nu**2


class Chi2Minimum(NamedTuple):
    """The continuous minimum of a χ² statistic over (s_s, s_b).

    Attributes:
        statistic: ``pearson``, ``neyman`` or ``poisson`` (Baker–Cousins).
        bestfit: parameter → value at the minimum.
        fit: minimum χ² with dof = nbins − 2, χ²/dof and p-value.
        parabolic_errors: parameter → sqrt of the diagonal of 2·H⁻¹ (H the
            Hessian of the statistic at the minimum).
        intervals: parameter → (low, high) where the *profiled* statistic
            (other parameter re-minimized) rises by ``level`` (root finding);
            nan where it does not within ``bounds``.
        conditional_intervals: same with the other parameter fixed at its best fit.
        contour_extents: parameter → extent of the Δ = ``contour_level``
            contour (exactly the profiled crossings at that level).
        level: Δ of the 1D intervals (1).
        contour_level: Δ of the contour (2.30).
        converged: whether the minimizer converged (gradient ~ 0 or on a bound).
    """

    statistic: str
    bestfit: dict[str, float]
    fit: Chi2GoF
    parabolic_errors: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    conditional_intervals: dict[str, tuple[float, float]]
    contour_extents: dict[str, tuple[float, float]]
    level: float
    contour_level: float
    converged: bool

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form."""

        def pairs(d: dict[str, tuple[float, float]]) -> dict[str, list[float]]:
            return {k: [float(v[0]), float(v[1])] for k, v in d.items()}

        return {
            "statistic": self.statistic,
            "bestfit": {k: float(v) for k, v in self.bestfit.items()},
            "fit": self.fit.to_json(),
            "parabolic_errors": {k: float(v) for k, v in self.parabolic_errors.items()},
            "intervals": pairs(self.intervals),
            "conditional_intervals": pairs(self.conditional_intervals),
            "contour_extents": pairs(self.contour_extents),
            "level": float(self.level),
            "contour_level": float(self.contour_level),
            "converged": bool(self.converged),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Chi2Minimum:
        """Inverse of :meth:`to_json`."""

        def pairs(d: dict[str, list[float]]) -> dict[str, tuple[float, float]]:
            return {k: (as_float(v[0]), as_float(v[1])) for k, v in d.items()}

        return cls(
            statistic=obj["statistic"],
            bestfit={k: as_float(v) for k, v in obj["bestfit"].items()},
            fit=Chi2GoF.from_json(obj["fit"]),
            parabolic_errors={k: as_float(v) for k, v in obj["parabolic_errors"].items()},
            intervals=pairs(obj["intervals"]),
            conditional_intervals=pairs(obj["conditional_intervals"]),
            contour_extents=pairs(obj["contour_extents"]),
            level=as_float(obj["level"]),
            contour_level=as_float(obj["contour_level"]),
            converged=bool(obj["converged"]),
        )


class _Problem:
    """The statistic as a function of θ = (s_s, s_b) with analytic derivatives."""

    def __init__(self, statistic: str, sig: np.ndarray, bkg: np.ndarray, obs: np.ndarray) -> None:
        self.statistic = statistic
        self.func = _statistic(statistic)
        self.templates = np.stack([sig, bkg])  # (2, nbins)
        self.obs = obs

    def value(self, theta: np.ndarray) -> float:
        return float(self.func(self.obs, theta @ self.templates))

    def grad_hess(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        nu = theta @ self.templates
        d1, d2 = _derivatives(self.statistic, self.obs, nu)
        t = self.templates
        return t @ d1, (t * d2) @ t.T

    def minimize_one(self, k: int, theta: np.ndarray, lo: float, hi: float) -> float:
        """Minimum over parameter k in [lo, hi] with the other one held at theta."""
        t = theta.copy()

        def slope(x: float) -> float:
            t[k] = x
            return float(self.grad_hess(t)[0][k])

        # the statistics are convex in each parameter: the slope is increasing
        if slope(lo) >= 0:
            t[k] = lo
        elif slope(hi) <= 0:
            t[k] = hi
        else:
            t[k] = optimize.brentq(slope, lo, hi, xtol=1e-13, rtol=4 * np.finfo(float).eps)
        return self.value(t)


def _projected_newton(prob: _Problem, x0: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Minimize a smooth convex function of two parameters in a box.

    Newton steps on the parameters not held by an active bound (at a bound
    with the gradient pointing outwards), projected onto the box, with an
    Armijo backtracking line search; where the Newton step fails (singular
    or ill-conditioned Hessian, e.g. Pearson with many empty bins) a
    projected steepest-descent step is tried. Stops when neither decreases
    the function any more.
    """
    width = hi - lo
    theta = np.clip(np.asarray(x0, dtype=float), lo, hi)
    f = prob.value(theta)

    def line_search(
        direction: np.ndarray, g: np.ndarray, t: float
    ) -> tuple[np.ndarray, float] | None:
        t = min(t, float(np.min(width[direction != 0] / np.abs(direction[direction != 0]))))
        for _ in range(60):
            new = np.clip(theta + t * direction, lo, hi)
            f_new = prob.value(new)
            if f_new <= f + 1e-4 * float(g @ (new - theta)) and np.any(new != theta):
                return new, f_new
            t *= 0.5
        return None

    for _ in range(500):
        g, h = prob.grad_hess(theta)
        free = ~(((theta <= lo) & (g > 0)) | ((theta >= hi) & (g < 0)))
        if not free.any():
            break
        gf, hf = g[free], h[np.ix_(free, free)]
        candidates = []
        try:
            step = -np.linalg.solve(hf, gf)
            if gf @ step < 0 and np.all(np.isfinite(step)):
                if -(gf @ step) < 1e-13 * max(1.0, abs(f)):
                    break  # Newton decrement at rounding level: converged
                candidates.append((step, 1.0))
        except np.linalg.LinAlgError:
            pass
        if np.any(gf != 0):
            candidates.append((-gf, np.inf))
        found = None
        for step, t0 in candidates:
            direction = np.zeros_like(theta)
            direction[free] = step
            found = line_search(direction, g, t0)
            if found is not None:
                break
        if found is None:
            break  # no decrease possible at machine precision: at the minimum
        decrease = f - found[1]
        theta, f = found
        if decrease <= 1e-15 * max(1.0, abs(f)):
            break
    return theta


def minimize_chi2(
    signal: Any,
    background: Any,
    data: Any,
    *,
    statistic: str = "pearson",
    bounds: Sequence[tuple[float, float]] = ((1e-6, 10.0), (1e-6, 5.0)),
    init: Sequence[float] = (1.0, 1.0),
    level: float = 1.0,
    contour_level: float = 2.30,
) -> Chi2Minimum:
    """Minimize a statistic continuously over (s_s, s_b) and find its intervals.

    The three statistics are convex in (s_s, s_b) (ν is linear in them and
    each bin's term is convex in ν > 0), so a projected Newton method finds
    the global minimum in the box and the profiled statistic is convex too:
    each interval edge is the single root of "profile − minimum − level" on
    either side of the best fit, found by Brent's method, with the other parameter re-minimized at each step (by a
    root of its derivative). The extent of the Δ = ``contour_level`` contour
    along a parameter equals the profiled crossing at that level, so contour
    extents need no contour tracing.

    Args:
        signal: signal template per bin.
        background: background template per bin.
        data: observed counts per bin.
        statistic: ``pearson``, ``neyman`` or ``poisson`` (Baker–Cousins).
        bounds: (low, high) for s_s and s_b, with 0 < low: then every bin
            with S + B > 0 has a positive prediction everywhere in the box.
        init: starting point (s_s, s_b).
        level: Δ defining the 1D intervals (1 for 68.27%).
        contour_level: Δ defining the 2D contour (2.30 for 68.27%).

    Returns:
        The :class:`Chi2Minimum`.

    Raises:
        FitError: on zero-prediction bins (Pearson, Poisson) or bad inputs.
    """
    sig, bkg, obs = _templates(signal, background, data)
    prob = _Problem(statistic, sig, bkg, obs)
    bnds = [(float(lo), float(hi)) for lo, hi in bounds]
    if len(bnds) != 2 or any(not 0 < lo < hi for lo, hi in bnds):
        msg = f"bounds must be two (low, high) pairs with 0 < low < high, got {bounds}"
        raise FitError(msg)
    x0 = np.clip(np.asarray(init, dtype=float), [b[0] for b in bnds], [b[1] for b in bnds])
    prob.value(x0)  # raises FitError on zero-prediction bins before the minimizer starts
    theta = _projected_newton(
        prob, x0, np.array([b[0] for b in bnds]), np.array([b[1] for b in bnds])
    )
    g, h = prob.grad_hess(theta)
    at_lower = theta <= np.array([b[0] for b in bnds])
    at_upper = theta >= np.array([b[1] for b in bnds])
    free = ~((at_lower & (g > 0)) | (at_upper & (g < 0)))
    converged = bool(np.all(np.abs(g[free]) <= 1e-6 * max(1.0, prob.value(theta))))
    if not converged:
        log.warning("%s minimization did not converge (gradient %s)", statistic, g)
    chi2_min = prob.value(theta)
    try:
        cov = 2.0 * np.linalg.inv(h)
        parabolic = {
            p: float(np.sqrt(cov[k, k])) if cov[k, k] > 0 else float("nan")
            for k, p in enumerate(PARAMETERS)
        }
    except np.linalg.LinAlgError:
        parabolic = dict.fromkeys(PARAMETERS, float("nan"))

    def crossing(k: int, target: float, profiled: bool) -> tuple[float, float]:
        other = 1 - k

        def excess(x: float) -> float:
            t = theta.copy()
            t[k] = x
            value = prob.minimize_one(other, t, *bnds[other]) if profiled else prob.value(t)
            return value - chi2_min - target

        edges = []
        for end in bnds[k]:
            if excess(end) <= 0:
                log.warning(
                    "%s: Δ=%g crossing of %s lies beyond the bound %g",
                    statistic,
                    target,
                    PARAMETERS[k],
                    end,
                )
                edges.append(float("nan"))
            else:
                edges.append(
                    float(
                        optimize.brentq(
                            excess, theta[k], end, xtol=1e-12, rtol=4 * np.finfo(float).eps
                        )
                    )
                )
        return edges[0], edges[1]

    intervals = {p: crossing(k, level, True) for k, p in enumerate(PARAMETERS)}
    conditional = {p: crossing(k, level, False) for k, p in enumerate(PARAMETERS)}
    extents = {p: crossing(k, contour_level, True) for k, p in enumerate(PARAMETERS)}
    return Chi2Minimum(
        statistic=statistic,
        bestfit={p: float(theta[k]) for k, p in enumerate(PARAMETERS)},
        fit=Chi2GoF(
            chi2_min,
            obs.size - 2,
            chi2_min / (obs.size - 2),
            float(stats.chi2.sf(chi2_min, obs.size - 2)),
        ),
        parabolic_errors=parabolic,
        intervals=intervals,
        conditional_intervals=conditional,
        contour_extents=extents,
        level=float(level),
        contour_level=float(contour_level),
        converged=converged,
    )
