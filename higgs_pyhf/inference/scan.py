"""Profile and conditional Δ(−2lnL) scans in one and two parameters, on the engine.

- ``kind="profile"``: at each scanned point every other free parameter —
  normfactors and nuisance parameters alike — is fitted;
- ``kind="conditional"``: the other parameters stay at their global best fit
  (the seed report's slices through the χ² surface).

Every point of a scan is one row of a single batched engine fit
(:func:`~higgs_pyhf.inference.profile.profile`), warm-started at the global
best fit: a 101×101 profiled grid is one call. Δ(−2lnL) is relative to the
global minimum. 1D intervals are where the profile crosses ``level``,
refined by batched bisection on the profile itself (exact to the fit
tolerance, not to the grid spacing; ``nan`` where the curve does not cross
inside the scanned range). The intervals of a 2D scan are the extent of the
first contour (``levels[0]``), computed with contourpy; a side is ``nan``
where the contour is open at the edge of the grid.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import FitError
from .engine import CompiledModel, compile_model
from .fit import fit
from .profile import profile
from .results import FitResult, Scan1DResult, Scan2DResult

if TYPE_CHECKING:
    import pyhf

__all__ = ["MAX_POINTS", "contour_intervals", "scan_1d", "scan_2d"]

log = logging.getLogger(__name__)

KINDS = ("profile", "conditional")
#: Default scan half-width in Hesse errors around the best fit.
DEFAULT_WIDTH = 4.0
#: Most points of a scan (1D or 2D grid): each is one row of a batched fit.
MAX_POINTS = 250_000


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


def _scalar_index(cm: CompiledModel, name: str) -> int:
    if name not in cm.par_names:
        vector = [lab for lab in cm.par_names if lab.split("[", 1)[0] == name]
        if vector:
            msg = f"{name!r} is a vector parameter; scan one component, e.g. {vector[0]!r}"
        else:
            msg = f"unknown parameter {name!r}; valid parameters are {', '.join(cm.par_names)}"
        raise FitError(msg)
    i = cm.par_names.index(name)
    if cm.fixed[i]:
        msg = f"parameter {name!r} is fixed in the model and cannot be scanned"
        raise FitError(msg)
    return i


def _default_values(best: FitResult, cm: CompiledModel, i: int, n_points: int) -> np.ndarray:
    lo_b, hi_b = cm.bounds[i]
    err = float(best.uncertainty[i])
    if not np.isfinite(err) or err <= 0:
        err = 0.1 * max(abs(float(best.bestfit[i])), 1.0)
    lo = max(lo_b, float(best.bestfit[i]) - DEFAULT_WIDTH * err)
    hi = min(hi_b, float(best.bestfit[i]) + DEFAULT_WIDTH * err)
    return np.linspace(lo, hi, n_points)


def _check_points(n: int) -> None:
    if n > MAX_POINTS:
        msg = f"a scan of {n:,} points is more than the {MAX_POINTS:,} allowed; use fewer points"
        raise FitError(msg)


def _check_in_bounds(cm: CompiledModel, i: int, name: str, vals: np.ndarray) -> None:
    lo, hi = cm.bounds[i]
    if vals[0] < lo or vals[-1] > hi:
        msg = f"scan of {name} over [{vals[0]}, {vals[-1]}] leaves its bounds [{lo}, {hi}]"
        raise FitError(msg)


def _interval(
    f: Callable[[np.ndarray], np.ndarray],
    values: np.ndarray,
    delta: np.ndarray,
    bestfit: float,
    level: float,
    xtol: float,
) -> tuple[float, float]:
    """Crossings of Δ = ``level`` nearest to the best fit, bisected on ``f`` (both sides at once)."""
    above = delta > level
    k = int(np.searchsorted(values, bestfit))
    brackets: list[tuple[float, float] | None] = [None, None]
    for i in range(min(k, values.size - 1), 0, -1):
        if above[i - 1] and not above[i]:
            brackets[0] = (float(values[i]), float(values[i - 1]))  # (inside, outside)
            break
    for i in range(max(k - 1, 0), values.size - 1):
        if not above[i] and above[i + 1]:
            brackets[1] = (float(values[i]), float(values[i + 1]))
            break
    found = [b for b in brackets if b is not None]
    if found:
        inner = np.array([b[0] for b in found])
        outer = np.array([b[1] for b in found])
        for _ in range(100):
            if np.all(np.abs(outer - inner) <= xtol):
                break
            mid = 0.5 * (inner + outer)
            below = f(mid) < level
            inner = np.where(below, mid, inner)
            outer = np.where(below, outer, mid)
        ends = iter(0.5 * (inner + outer))
    out = [float(next(ends)) if b is not None else math.nan for b in brackets]
    return out[0], out[1]


def _setup(
    model: pyhf.pdf.Model, data: Any, kind: str
) -> tuple[CompiledModel, np.ndarray, FitResult]:
    if kind not in KINDS:
        msg = f"unknown scan kind {kind!r}; expected one of {KINDS}"
        raise FitError(msg)
    obs = np.asarray(data, dtype=float)
    best = fit(model, obs)
    if not best.converged:
        msg = f"the best fit did not converge ({best.status}); no scan relative to it"
        raise FitError(msg)
    return compile_model(model), obs, best


def _check_alive(best: FitResult, *names: str) -> None:
    dead = [n for n in names if n in best.unconstrained]
    if dead:
        msg = f"cannot scan {', '.join(dead)}: the likelihood does not depend on it (its samples are empty)"
        raise FitError(msg)


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
        The scan; ``interval`` endpoints are bisected on the profile itself
        (``nan`` where Δ stays below ``level`` inside the range).
    """
    _check_points(n_points if values is None else len(values))
    cm, obs, best = _setup(model, data, kind)
    i = _scalar_index(cm, parameter)
    _check_alive(best, cm.par_names[i])
    vals = _grid(
        values,
        n_points,
        bounds,
        lambda n: _default_values(best, cm, i, n),
        f"scan of {parameter}",
    )
    _check_in_bounds(cm, i, parameter, vals)
    conditional = kind == "conditional"

    failed: list[float] = []

    def nll(v: np.ndarray) -> np.ndarray:
        prof = profile(cm, obs, [i], v[:, None], start=best.bestfit, conditional=conditional)
        bad = ~prof.converged
        if np.any(bad & ~np.isfinite(prof.twice_nll)):
            msg = (
                f"{int(bad.sum())} profile fit(s) of the {parameter} scan failed (no finite -2lnL)"
            )
            raise FitError(msg)
        if bad.any():
            failed.extend(float(x) for x in v[bad])
            log.warning(
                "%d profile fit(s) of the %s scan did not converge; their best points are kept",
                int(bad.sum()),
                parameter,
            )
        return prof.twice_nll  # type: ignore[no-any-return]

    curve = nll(vals)
    ref = min(best.twice_nll, float(np.min(curve)))
    xtol = 1e-7 * max(1.0, float(np.ptp(vals)))
    interval = _interval(
        lambda v: nll(v) - ref, vals, curve - ref, float(best.bestfit[i]), level, xtol
    )
    log.info(
        "%s scan of %s: best fit %.5g, interval %s", kind, parameter, best.bestfit[i], interval
    )
    return Scan1DResult(
        parameter=parameter,
        values=vals,
        delta_twice_nll=curve - ref,
        bestfit=float(best.bestfit[i]),
        interval=interval,
        level=float(level),
        kind=kind,
        statistic="likelihood",
        failed=tuple(sorted(failed)),
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
    levels: Sequence[float] = (2.30, 5.99),
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
    px, py = parameters
    if px == py:
        msg = f"scan_2d needs two different parameters, got {px!r} twice"
        raise FitError(msg)
    nx = n_points[0] if x_values is None else len(x_values)
    ny = n_points[1] if y_values is None else len(y_values)
    _check_points(nx * ny)
    cm, obs, best = _setup(model, data, kind)
    ix, iy = _scalar_index(cm, px), _scalar_index(cm, py)
    _check_alive(best, cm.par_names[ix], cm.par_names[iy])
    xs = _grid(
        x_values,
        n_points[0],
        bounds[0],
        lambda n: _default_values(best, cm, ix, n),
        f"scan of {px}",
    )
    ys = _grid(
        y_values,
        n_points[1],
        bounds[1],
        lambda n: _default_values(best, cm, iy, n),
        f"scan of {py}",
    )
    _check_in_bounds(cm, ix, px, xs)
    _check_in_bounds(cm, iy, py, ys)
    mesh = np.stack(np.meshgrid(xs, ys, indexing="ij"), axis=-1).reshape(-1, 2)
    prof = profile(cm, obs, [ix, iy], mesh, start=best.bestfit, conditional=kind == "conditional")
    if not prof.converged.all():
        msg = (
            f"{int((~prof.converged).sum())} of {mesh.shape[0]} profile fits of the 2D scan failed"
        )
        raise FitError(msg)
    nll = prof.twice_nll.reshape(xs.size, ys.size)
    log.info("2D %s scan of %s, %s: %d points in one batched fit", kind, px, py, nll.size)
    ref = min(best.twice_nll, float(np.min(nll)))
    delta = nll - ref
    ivx, ivy = contour_intervals(xs, ys, delta, float(levels[0]))
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
