"""Profile and conditional Δ(−2lnL) scans in one and two parameters.

- ``kind="profile"``: at each scanned point all other free parameters are
  re-fitted (warm-started from the neighbouring point).
- ``kind="conditional"``: the other parameters stay at their global best fit
  (the seed report's slices through the χ² surface).

Δ(−2lnL) is relative to the global minimum. 1D intervals are where Δ crosses
``level``: the crossing is bracketed on the grid and then located with
:func:`scipy.optimize.brentq` on the scanned function itself, so endpoints are exact to the fit tolerance, not to
the grid spacing; ``nan`` where the curve does not cross inside the range.

Fits are avoided wherever the model allows: when the prediction is linear in
the normfactors and every other free parameter is a staterror γ scaling one
whole bin or a ``lumi`` factor L, −2lnL = 2Σ(Lγν − n ln Lγν) + Σ(a − γ)²/σ²
+ (a_L − L)²/σ_L² + const is evaluated as array expressions (identical to
pyhf's ``twice_nll``) with each γ profiled in closed form and L by a
vectorized golden-section search. A 2D grid of the two normfactors is then a single
(nx, ny, nbins) operation; a 1D profile minimizes over the one other
normfactor with a vectorized golden-section search. Conditional scans are
vectorized whenever the prediction is linear in the scanned parameters.
Other models (e.g. with a free ``lumi``) are profiled point by point with
pyhf fits, warm-started from the neighbouring point (snaking through 2D
grids): one fit per point, slow for large grids. The 68%
intervals of a 2D scan are the extent of the first contour (``levels[0]``),
computed with contourpy; a side is ``nan`` where the contour is open at the
edge of the grid.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyhf
import scipy.optimize

from ..errors import FitError
from ._model import free_labels, golden_min, label_index, labels, normfactor_structure, pyhf_state
from .fit import fit
from .results import FitResult, Scan1DResult, Scan2DResult

__all__ = ["contour_intervals", "crossings", "scan_1d", "scan_2d"]

log = logging.getLogger(__name__)

KINDS = ("profile", "conditional")
#: Default scan half-width in Hesse errors around the best fit.
DEFAULT_WIDTH = 4.0


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        msg = f"unknown scan kind {kind!r}; expected one of {KINDS}"
        raise FitError(msg)


def _scalar_index(model: pyhf.pdf.Model, name: str) -> int:
    idx = label_index(model, name)
    if len(idx) != 1:
        msg = f"{name!r} is a vector parameter; scan one component, e.g. {labels(model)[idx[0]]!r}"
        raise FitError(msg)
    if model.config.suggested_fixed()[idx[0]]:
        msg = f"parameter {name!r} is fixed in the model and cannot be scanned"
        raise FitError(msg)
    return idx[0]


def _default_values(best: FitResult, model: pyhf.pdf.Model, i: int, n_points: int) -> np.ndarray:
    lo_b, hi_b = model.config.suggested_bounds()[i]
    err = float(best.uncertainty[i])
    if not np.isfinite(err) or err <= 0:
        err = 0.1 * max(abs(float(best.bestfit[i])), 1.0)
    lo = max(lo_b, float(best.bestfit[i]) - DEFAULT_WIDTH * err)
    hi = min(hi_b, float(best.bestfit[i]) + DEFAULT_WIDTH * err)
    return np.linspace(lo, hi, n_points)


def _grid(
    values: Any,
    n_points: int,
    rng: tuple[float, float] | None,
    default: Callable[[int], np.ndarray],
    what: str,
) -> np.ndarray:
    if values is not None:
        vals = np.unique(np.asarray(values, dtype=float))
    elif rng is not None:
        vals = np.linspace(float(rng[0]), float(rng[1]), n_points)
    else:
        vals = default(n_points)
    if vals.ndim != 1 or vals.size < 3 or not np.all(np.isfinite(vals)):
        msg = f"{what}: need at least 3 finite scan values, got {vals.size}"
        raise FitError(msg)
    if np.any(np.diff(vals) <= 0):
        msg = f"{what}: scan range must be increasing"
        raise FitError(msg)
    return vals


def _check_in_bounds(model: pyhf.pdf.Model, i: int, name: str, vals: np.ndarray) -> None:
    lo, hi = model.config.suggested_bounds()[i]
    if vals[0] < lo or vals[-1] > hi:
        msg = f"scan of {name} over [{vals[0]}, {vals[-1]}] leaves its bounds [{lo}, {hi}]"
        raise FitError(msg)


def crossings(
    values: np.ndarray, delta: np.ndarray, bestfit: float, level: float
) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
    """Grid brackets of the Δ = ``level`` crossings nearest to ``bestfit`` on each side.

    Returns:
        ``(left, right)``: each a (lower, upper) bracket of parameter values,
        or None where the curve stays below ``level`` up to the edge of the grid.
    """
    above = np.asarray(delta) > level
    k = int(np.searchsorted(values, bestfit))
    left = None
    for i in range(min(k, values.size - 1), 0, -1):
        if above[i - 1] and not above[i]:
            left = (float(values[i - 1]), float(values[i]))
            break
    right = None
    for i in range(max(k - 1, 0), values.size - 1):
        if not above[i] and above[i + 1]:
            right = (float(values[i]), float(values[i + 1]))
            break
    return left, right


def _refine_vectorized(
    fvec: Callable[[np.ndarray], np.ndarray],
    brackets: list[tuple[float, float]],
    level: float,
    rounds: int = 2,
    points: int = 65,
) -> list[float]:
    """Crossings of ``fvec = level``, one per bracket, by subdividing all brackets in one call per round.

    Each round evaluates ``points`` values per bracket and keeps the sub-bracket
    with the sign change; the result is the linear interpolation in the last one
    (``nan`` if a bracket shows no sign change).
    """
    br = [list(b) for b in brackets]
    out = [math.nan] * len(br)
    ok = [True] * len(br)
    for _ in range(rounds):
        xs = np.concatenate([np.linspace(a, b, points) for a, b in br])
        ys = (fvec(xs) - level).reshape(len(br), points)
        xs = xs.reshape(len(br), points)
        for m, (x, y) in enumerate(zip(xs, ys, strict=True)):
            change = np.flatnonzero(np.signbit(y[:-1]) != np.signbit(y[1:]))
            if not ok[m] or change.size == 0:
                ok[m] = False
                continue
            k = int(change[0])
            br[m] = [float(x[k]), float(x[k + 1])]
            out[m] = float(x[k] + (0.0 - y[k]) / (y[k + 1] - y[k]) * (x[k + 1] - x[k]))
    return [o if good else math.nan for o, good in zip(out, ok, strict=True)]


def _interval(
    func: Callable[[float], float],
    values: np.ndarray,
    delta: np.ndarray,
    bestfit: float,
    level: float,
    fvec: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[float, float]:
    left, right = crossings(values, delta, bestfit, level)
    found = [b for b in (left, right) if b is not None]
    refined = (
        dict(zip(found, _refine_vectorized(fvec, found, level), strict=True))
        if fvec and found
        else {}
    )
    out = []
    for bracket in (left, right):
        if bracket is None:
            out.append(math.nan)
            continue
        if np.isfinite(refined.get(bracket, math.nan)):
            out.append(refined[bracket])
            continue
        a, b = bracket
        fa, fb = func(a) - level, func(b) - level
        if fa * fb > 0:  # grid and refined evaluation disagree: interpolate the grid linearly
            ia, ib = int(np.searchsorted(values, a)), int(np.searchsorted(values, b))
            da, db = float(delta[ia]), float(delta[ib])
            out.append(a + (level - da) / (db - da) * (b - a))
            continue
        out.append(
            float(scipy.optimize.brentq(lambda v: func(v) - level, a, b, xtol=1e-8, rtol=1e-10))
        )
    return out[0], out[1]


class _Profiler:
    """−2lnL as a function of fixed values of some parameters, others profiled or held."""

    def __init__(
        self,
        model: pyhf.pdf.Model,
        data: np.ndarray,
        best: FitResult,
        names: Sequence[str],
        kind: str,
    ):
        self.model = model
        self.data = data
        self.best = best
        self.names = list(names)
        self.idx = [_scalar_index(model, n) for n in names]
        self.kind = kind
        self.labels = labels(model)
        free_others = [
            lab
            for i, lab in enumerate(self.labels)
            if i not in self.idx and not model.config.suggested_fixed()[i]
        ]
        self.profile = kind == "profile" and bool(free_others)

    def __call__(
        self, point: Sequence[float], init: np.ndarray | None = None
    ) -> tuple[float, np.ndarray]:
        fixed = dict(zip(self.names, (float(v) for v in point), strict=True))
        if not self.profile:
            pars = np.asarray(self.best.bestfit, dtype=float).copy()
            for i, v in zip(self.idx, point, strict=True):
                pars[i] = v
            with pyhf_state():
                val = float(
                    np.asarray(pyhf.infer.mle.twice_nll(pars, self.data, self.model)).reshape(-1)[0]
                )
            return val, pars
        start = self.best.bestfit if init is None else init
        init_map = {lab: float(start[i]) for i, lab in enumerate(self.labels) if i not in self.idx}
        res = fit(self.model, self.data, fixed=fixed, init=_clip_init(self.model, init_map))
        return res.twice_nll, res.bestfit


def _clip_init(model: pyhf.pdf.Model, init: dict[str, float]) -> dict[str, float]:
    bounds = model.config.suggested_bounds()
    out = {}
    for lab, v in init.items():
        i = label_index(model, lab)[0]
        out[lab] = float(np.clip(v, bounds[i][0], bounds[i][1]))
    return out


def _linear_profile_1d(
    model: pyhf.pdf.Model, data: np.ndarray, parameter: str, best: FitResult
) -> Callable[[np.ndarray], np.ndarray] | None:
    """Profile −2lnL in ``parameter`` without fits, when the model allows it.

    Applies when the other free parameters are at most one normfactor (minimized
    by a vectorized golden-section search over its bounds; −2lnL is unimodal in
    it) plus staterror γ scaling whole bins (profiled in closed form).
    """
    cfg = model.config
    types = dict(cfg.modifiers)
    others = [
        lab for lab in free_labels(model) if lab != parameter and types.get(lab) == "normfactor"
    ]
    if len(others) > 1:
        return None
    st = normfactor_structure(
        model, data, [parameter, *others], best.bestfit, require_only_free=True
    )
    if st is None:
        return None
    n = data[: cfg.nmaindata]
    if not others:
        return lambda v: st.twice_nll(np.asarray(v, dtype=float)[:, None], n)
    lo, hi = (float(x) for x in cfg.suggested_bounds()[st.par_index[1]])

    def profile(v: np.ndarray) -> np.ndarray:
        vals = np.asarray(v, dtype=float)

        def f(q: np.ndarray) -> np.ndarray:
            return st.twice_nll(np.stack([vals, q], axis=-1), n)

        return golden_min(f, lo, hi, vals.size)

    return profile


def scan_1d(
    model: pyhf.pdf.Model,
    data: Any,
    parameter: str,
    *,
    values: Any = None,
    n_points: int = 101,
    bounds: tuple[float, float] | None = None,
    kind: str = "profile",
    level: float = 1.0,
) -> Scan1DResult:
    """Scan Δ(−2lnL) in one parameter.

    Args:
        model: the pyhf model.
        data: observed data (main bins followed by auxdata).
        parameter: label of the scanned parameter.
        values: explicit scan values (sorted); overrides ``bounds``/``n_points``.
        n_points: number of scan points.
        bounds: (low, high) scan range; default best fit ± 4 Hesse errors,
            clipped to the parameter's bounds.
        kind: ``profile`` or ``conditional``.
        level: Δ(−2lnL) defining the interval (1 for 68.27%).

    Returns:
        The scan; ``interval`` endpoints are refined with brentq on the scanned
        function (``nan`` where Δ stays below ``level`` inside the range).
    """
    _check_kind(kind)
    obs = np.asarray(data, dtype=float)
    best = fit(model, obs)
    prof = _Profiler(model, obs, best, [parameter], kind)
    i = prof.idx[0]
    vals = _grid(
        values,
        n_points,
        bounds,
        lambda n: _default_values(best, model, i, n),
        f"scan of {parameter}",
    )
    _check_in_bounds(model, i, parameter, vals)
    fast = _linear_profile_1d(model, obs, parameter, best) if kind == "profile" else None
    if fast is not None:
        log.info(
            "profile scan of %s without fits (linear model, closed-form/golden-section profiling)",
            parameter,
        )
        nll = fast(vals)
        ref = min(best.twice_nll, float(np.min(nll)))
        interval = _interval(
            lambda v: float(fast(np.array([v]))[0]) - ref,
            vals,
            nll - ref,
            float(best.bestfit[i]),
            level,
            fvec=lambda v: fast(v) - ref,
        )
        return Scan1DResult(
            parameter=parameter,
            values=vals,
            delta_twice_nll=nll - ref,
            bestfit=float(best.bestfit[i]),
            interval=interval,
            level=float(level),
            kind=kind,
            statistic="likelihood",
        )
    nll = np.empty(vals.size)
    pars_at = np.empty((vals.size, model.config.npars))
    start = int(np.argmin(np.abs(vals - best.bestfit[i])))
    order = list(range(start, vals.size)) + list(range(start - 1, -1, -1))
    prev = best.bestfit
    for j in order:
        if j == start - 1:
            prev = pars_at[start]
        nll[j], pars_at[j] = prof([vals[j]], prev)
        prev = pars_at[j]
    ref = min(best.twice_nll, float(np.min(nll)))
    delta = nll - ref

    def func(v: float) -> float:
        k = int(np.argmin(np.abs(vals - v)))
        return prof([v], pars_at[k])[0] - ref

    interval = _interval(func, vals, delta, float(best.bestfit[i]), level)
    log.info(
        "%s scan of %s: best fit %.5g, interval %s", kind, parameter, best.bestfit[i], interval
    )
    return Scan1DResult(
        parameter=parameter,
        values=vals,
        delta_twice_nll=delta,
        bestfit=float(best.bestfit[i]),
        interval=interval,
        level=float(level),
        kind=kind,
        statistic="likelihood",
    )


def contour_intervals(
    x: np.ndarray, y: np.ndarray, delta: np.ndarray, level: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Extent in x and y of the Δ = ``level`` contour of a grid (contourpy).

    Args:
        x: grid values (nx,).
        y: grid values (ny,).
        delta: (nx, ny) Δ values, index [i, j] ↔ (x[i], y[j]).
        level: contour level.

    Returns:
        ``((x_low, x_high), (y_low, y_high))``; a side is ``nan`` when the
        contour reaches that edge of the grid (the region is open there), and
        all are ``nan`` when there is no contour.
    """
    import contourpy

    z = np.asarray(delta, dtype=float).T  # contourpy wants z[y, x]
    gen = contourpy.contour_generator(
        x, y, np.where(np.isfinite(z), z, np.nanmax(z[np.isfinite(z)]) + level)
    )
    lines = [np.asarray(seg) for seg in gen.lines(level) if len(seg)]
    if not lines:
        return (math.nan, math.nan), (math.nan, math.nan)
    pts = np.concatenate(lines)
    dx = 1e-9 * (x[-1] - x[0])
    dy = 1e-9 * (y[-1] - y[0])
    xl, xh = float(pts[:, 0].min()), float(pts[:, 0].max())
    yl, yh = float(pts[:, 1].min()), float(pts[:, 1].max())
    # open region: Δ below the level on the grid edge
    inside = z <= level
    if inside[:, 0].any() or xl <= x[0] + dx:
        xl = math.nan
    if inside[:, -1].any() or xh >= x[-1] - dx:
        xh = math.nan
    if inside[0, :].any() or yl <= y[0] + dy:
        yl = math.nan
    if inside[-1, :].any() or yh >= y[-1] - dy:
        yh = math.nan
    return (xl, xh), (yl, yh)


def scan_2d(
    model: pyhf.pdf.Model,
    data: Any,
    parameters: tuple[str, str],
    *,
    x_values: Any = None,
    y_values: Any = None,
    n_points: tuple[int, int] = (101, 101),
    bounds: tuple[tuple[float, float] | None, tuple[float, float] | None] = (None, None),
    kind: str = "profile",
    levels: tuple[float, ...] = (2.30, 5.99),
) -> Scan2DResult:
    """Scan Δ(−2lnL) on a grid of two parameters.

    Args:
        model: the pyhf model.
        data: observed data (main bins followed by auxdata).
        parameters: labels (x, y) of the scanned parameters.
        x_values: explicit grid values of x (overrides ``bounds[0]``/``n_points[0]``).
        y_values: explicit grid values of y.
        n_points: grid size (nx, ny).
        bounds: scan ranges ((xlo, xhi), (ylo, yhi)); default best fit ± 4
            Hesse errors clipped to the parameter bounds.
        kind: ``profile`` or ``conditional``.
        levels: contour levels; ``levels[0]`` defines the quoted intervals.

    Returns:
        The scan with ``delta_twice_nll[i, j]`` at (x_values[i], y_values[j]).
    """
    _check_kind(kind)
    px, py = parameters
    if px == py:
        msg = f"scan_2d needs two different parameters, got {px!r} twice"
        raise FitError(msg)
    obs = np.asarray(data, dtype=float)
    best = fit(model, obs)
    prof = _Profiler(model, obs, best, [px, py], kind)
    ix, iy = prof.idx
    xs = _grid(
        x_values,
        n_points[0],
        bounds[0],
        lambda n: _default_values(best, model, ix, n),
        f"scan of {px}",
    )
    ys = _grid(
        y_values,
        n_points[1],
        bounds[1],
        lambda n: _default_values(best, model, iy, n),
        f"scan of {py}",
    )
    _check_in_bounds(model, ix, px, xs)
    _check_in_bounds(model, iy, py, ys)
    structure = normfactor_structure(
        model, obs, [px, py], best.bestfit, require_only_free=prof.profile
    )
    if structure is not None:
        theta = np.stack(np.meshgrid(xs, ys, indexing="ij"), axis=-1)  # (nx, ny, 2)
        nll = structure.twice_nll(theta, obs[: model.config.nmaindata])
        log.info("2D %s scan of %s, %s: vectorized over %d points", kind, px, py, nll.size)
    else:
        nll = np.empty((xs.size, ys.size))
        if prof.profile and nll.size > 2000:
            log.warning(
                "2D profile scan of %s, %s needs one pyhf fit per point (%d points); this is slow, "
                "consider fewer points",
                px,
                py,
                nll.size,
            )
        log.info("2D %s scan of %s, %s: %d point-by-point evaluations", kind, px, py, nll.size)
        prev = best.bestfit
        for a in range(xs.size):
            cols = range(ys.size) if a % 2 == 0 else range(ys.size - 1, -1, -1)
            for b in cols:
                nll[a, b], prev = prof([xs[a], ys[b]], prev)
    ref = min(best.twice_nll, float(np.min(nll)))
    delta = nll - ref
    ivx, ivy = contour_intervals(xs, ys, delta, levels[0])
    return Scan2DResult(
        parameters=(px, py),
        x_values=xs,
        y_values=ys,
        delta_twice_nll=delta,
        bestfit=(float(best.bestfit[ix]), float(best.bestfit[iy])),
        intervals={px: ivx, py: ivy},
        levels=tuple(float(v) for v in levels),
        kind=kind,
        statistic="likelihood",
    )
