"""Toy-calibrated 2D confidence regions: a Neyman construction with the likelihood-ratio ordering.

For every point (x, y) of a grid of two parameters:

1. the data's t(x, y) = −2 ln L(x, y, θ̂̂) − min −2 ln L (the pair held at
   the point, every other parameter profiled; one batched fit for the grid);
2. toys are thrown at (x, y, θ̂̂(x, y)) — the nuisances at their conditional
   best fit to the data, auxiliary data sampled around them — and each toy's
   t is computed the same way (a free fit and a fit with the pair held);
3. the critical values are the toys' 68.27% and 95% quantiles of t, and the
   point is in the region when the data's t is below them (Feldman–Cousins:
   the likelihood ratio itself orders the outcomes). ``p_value`` is the
   fraction of toys with t ≥ the data's: the regions are {p > 0.3173} and
   {p > 0.05}, beside the Wilks contours t = 2.30 and 5.99.

Seeding: grid point g = i·ny + j draws its toys from stream g of ``seed``
(:func:`~.sampling.block_rng`, blocks of ``block_size``), so the result does
not depend on the chunking, the number or kind of workers or the scheduler.
Chunks of grid points run through :func:`higgs_pyhf.execution.map_tasks`
(in-process, a pool of threads or processes, or Dask).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from scipy import stats

from ..._io import jsonable
from ..._summary import markdown_repr, result_dict, short_repr
from ...errors import FitError
from ...execution import map_tasks
from ..engine import CompiledModel, compile_model, twice_nll
from ..engine import fit as engine_fit
from ..fit import fit as full_fit
from ..profile import profile
from .runner import ToyDraws
from .sampling import (
    DEFAULT_BLOCK_SIZE,
    check_ntoys,
    check_sampling,
    check_toy_memory,
    sample_toys,
)
from .summary import CONFIDENCE_68, quantile_band

__all__ = ["CONFIDENCE_95", "CONTOUR_POOL", "ToyContourResult", "toy_contour"]

log = logging.getLogger(__name__)

#: The second confidence level.
CONFIDENCE_95 = 0.95
#: Default kind of local workers: processes. A grid point is one engine call on its
#: toys, whose Python part holds the GIL; 20×20 points × 2000 toys of the two-normfactor
#: model take 1.36 s on 2 processes, 1.70 s on 2 threads (2 idle cores, medians of 3).
CONTOUR_POOL = "processes"


class ToyContourResult(NamedTuple):
    """The toy-calibrated confidence regions of two parameters on a grid.

    Arrays are (nx, ny) with index [i, j] ↔ (x_values[i], y_values[j]).

    Attributes:
        parameters: the two parameters (x, y).
        x_values: grid of x.
        y_values: grid of y.
        bestfit: (x̂, ŷ) of the global fit.
        delta_twice_nll: the data's t = Δ(−2 ln L) (others profiled).
        critical_68: the toys' 68.27% quantile of t.
        critical_68_band: (nx, ny, 2) its 68.27% order-statistics band.
        critical_95: the toys' 95% quantile of t.
        critical_95_band: (nx, ny, 2) its band.
        p_value: fraction of the toys with t ≥ the data's t.
        n_failed: toys whose fits failed (left out).
        wilks_levels: the asymptotic (χ², 2 dof) critical values 2.30 and 5.99.
        settings: ntoys, seed, block size, auxiliary-data sampling, engine.
    """

    parameters: tuple[str, str]
    x_values: np.ndarray
    y_values: np.ndarray
    bestfit: tuple[float, float]
    delta_twice_nll: np.ndarray
    critical_68: np.ndarray
    critical_68_band: np.ndarray
    critical_95: np.ndarray
    critical_95_band: np.ndarray
    p_value: np.ndarray
    n_failed: np.ndarray
    wilks_levels: tuple[float, float]
    settings: dict[str, Any]

    @property
    def accepted_68(self) -> np.ndarray:
        """Points inside the toy-calibrated 68.27% region."""
        return self.delta_twice_nll < self.critical_68  # type: ignore[no-any-return]

    @property
    def accepted_95(self) -> np.ndarray:
        """Points inside the toy-calibrated 95% region."""
        return self.delta_twice_nll < self.critical_95  # type: ignore[no-any-return]

    def to_dict(self) -> dict[str, Any]:
        """What the command line prints for this result (its JSON, read back)."""
        return result_dict(self)

    def __repr__(self) -> str:
        return short_repr(self)

    def _repr_markdown_(self) -> str:
        return markdown_repr(self)

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form (arrays as nested lists [i][j])."""
        out: dict[str, Any] = jsonable(self._asdict())
        out["accepted_68"] = self.accepted_68.tolist()
        out["accepted_95"] = self.accepted_95.tolist()
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ToyContourResult:
        """Inverse of :meth:`to_json`."""
        arrays = {
            k: np.asarray(obj[k], dtype=float)
            for k in cls._fields
            if k not in ("parameters", "bestfit", "wilks_levels", "settings", "n_failed")
        }
        return cls(
            parameters=(obj["parameters"][0], obj["parameters"][1]),
            bestfit=(float(obj["bestfit"][0]), float(obj["bestfit"][1])),
            n_failed=np.asarray(obj["n_failed"], dtype=int),
            wilks_levels=(float(obj["wilks_levels"][0]), float(obj["wilks_levels"][1])),
            settings=dict(obj["settings"]),
            **arrays,
        )


class _PointsTask(NamedTuple):
    """A chunk of grid points: where to throw toys, and the data's t there."""

    cm: CompiledModel
    pair: tuple[int, int]
    points: np.ndarray  # (k,) flat grid indices (the seeding streams)
    start: np.ndarray  # (k, P) the conditional best fits to the data
    data_t: np.ndarray  # (k,)
    ntoys: int
    block_size: int
    seed: int
    aux: str


def _toy_t(
    cm: CompiledModel, pair: tuple[int, int], toys: np.ndarray, start: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The toys' t [m] and convergence: ``toys`` [m, N + A] of one grid point, thrown at ``start`` [P]."""
    free = engine_fit(cm, toys, init=start)
    held = cm.fixed.copy()
    held[list(pair)] = True
    if held.all():  # nothing else to profile: −2 ln L at the point
        cond = twice_nll(cm, start[None, :], toys)
        ok = free.converged & np.isfinite(cond)
    else:
        c = engine_fit(cm._replace(fixed=held), toys, init=start)
        cond, ok = c.twice_nll, free.converged & c.converged
    return np.maximum(cond - free.twice_nll, 0.0), ok


_KEYS = ("c68", "c68_lo", "c68_hi", "c95", "c95_lo", "c95_hi", "p")


def _run_points(task: _PointsTask) -> dict[str, np.ndarray]:
    """Worker: the toys of every grid point of ``task`` (one engine batch per point)."""
    cm, k = task.cm, task.points.size
    out = {n: np.full(k, math.nan) for n in _KEYS}
    out["failed"] = np.zeros(k)
    for q in range(k):
        toys = sample_toys(
            cm,
            task.start[q],
            ntoys=task.ntoys,
            seed=task.seed,
            sampling="poisson",
            negative="clip",
            aux=task.aux,
            block_size=task.block_size,
            stream=int(task.points[q]),
        )
        t, ok = _toy_t(cm, task.pair, toys, task.start[q])
        good = np.sort(t[ok])
        out["failed"][q] = task.ntoys - good.size
        if good.size == 0:
            continue
        out["c68"][q], out["c68_lo"][q], out["c68_hi"][q] = quantile_band(good, CONFIDENCE_68)
        out["c95"][q], out["c95_lo"][q], out["c95_hi"][q] = quantile_band(good, CONFIDENCE_95)
        out["p"][q] = float(np.mean(good >= task.data_t[q]))
    return out


def _default_axis(best: float, err: float, lo: float, hi: float, n: int) -> np.ndarray:
    half = 3.5 * (err if err > 0 else max(abs(best), 1.0))
    return np.linspace(max(lo, best - half), min(hi, best + half), n)


def toy_contour(
    model: Any,
    data: Any,
    parameters: tuple[str, str],
    *,
    x_values: Any = None,
    y_values: Any = None,
    n_points: tuple[int, int] = (21, 21),
    ntoys: int = 1000,
    seed: int = 0,
    aux: str = "sample",
    block_size: int = DEFAULT_BLOCK_SIZE,
    points_per_chunk: int | None = None,
    workers: int = 1,
    pool: str = CONTOUR_POOL,
    scheduler: str | None = None,
    progress: Callable[[int], Any] | None = None,
) -> ToyContourResult:
    """Toy-calibrated 68.27% and 95% regions of two parameters (Neyman construction, FC ordering).

    Args:
        model: the pyhf model.
        data: the data set (main data then auxiliary data).
        parameters: the two parameters (x, y), scalar labels.
        x_values: grid of x (default: ``n_points[0]`` values over best fit
            ± 3.5 Hesse errors, clipped to the bounds).
        y_values: grid of y (likewise).
        n_points: grid size when the values are not given.
        ntoys: toys per grid point.
        seed: seed of the toys (stream = flat grid index).
        aux: ``sample`` the auxiliary data around the conditional fit, or keep them ``fixed``.
        block_size: toys per seeding block.
        points_per_chunk: grid points per task (default: ≈ 4 tasks per worker).
        workers: local workers (1: in this process).
        pool: ``processes`` (default, :data:`CONTOUR_POOL`) or ``threads``.
        scheduler: address of a Dask scheduler (takes precedence over ``workers``).
        progress: called with the number of toys of each finished chunk.

    Returns:
        The regions, with the data's Δ(−2 ln L) for the Wilks contours.

    Raises:
        FitError: on unknown parameters, grid values outside the bounds, or failed data fits.
    """
    check_ntoys(ntoys)
    check_sampling("poisson", "clip", aux)
    px, py = parameters
    cm = compile_model(model)
    check_toy_memory(ntoys, int(np.asarray(data).size), cm.npars)
    for name in (px, py):
        if name not in cm.par_names:
            msg = f"unknown parameter {name!r}; valid parameters are {', '.join(cm.par_names)}"
            raise FitError(msg)
    if px == py:
        msg = f"the contour needs two different parameters, got {px!r} twice"
        raise FitError(msg)
    ix, iy = cm.par_names.index(px), cm.par_names.index(py)
    d = np.asarray(data, dtype=float)
    best = engine_fit(cm, d[None, :])
    if not best.converged[0]:
        msg = "the fit to the observed data failed"
        raise FitError(msg)
    xhat = best.pars[0]
    errs = np.zeros(cm.npars)
    if x_values is None or y_values is None:  # Hesse errors for the default grid
        errs = full_fit(model, d).uncertainty
    axes = []
    for vals, i, n in ((x_values, ix, n_points[0]), (y_values, iy, n_points[1])):
        if vals is None:
            lo, hi = (float(v) for v in cm.bounds[i])
            vals = _default_axis(float(xhat[i]), float(errs[i]), lo, hi, n)
        v = np.asarray(vals, dtype=float).reshape(-1)
        lo, hi = cm.bounds[i]
        if v.size < 1 or np.any(v < lo) or np.any(v > hi):
            msg = f"grid of {cm.par_names[i]} needs values inside its bounds [{lo:g}, {hi:g}]"
            raise FitError(msg)
        axes.append(v)
    xs, ys = axes
    mesh = np.stack(np.meshgrid(xs, ys, indexing="ij"), axis=-1).reshape(-1, 2)
    prof = profile(cm, d, [ix, iy], mesh, start=xhat)
    if not prof.converged.all():
        msg = f"{int((~prof.converged).sum())} profile fits of the data on the grid failed"
        raise FitError(msg)
    ref = min(float(best.twice_nll[0]), float(prof.twice_nll.min()))
    data_t = prof.twice_nll - ref
    npts = mesh.shape[0]
    if points_per_chunk is None:
        ntasks = max(1, 4 * (workers if scheduler is None else 8))
        points_per_chunk = max(1, math.ceil(npts / ntasks))
    tasks = [
        _PointsTask(
            cm,
            (ix, iy),
            np.arange(a, min(a + points_per_chunk, npts)),
            prof.pars[a : a + points_per_chunk],
            data_t[a : a + points_per_chunk],
            ntoys,
            block_size,
            seed,
            aux,
        )
        for a in range(0, npts, points_per_chunk)
    ]
    sizes = iter([t.points.size * ntoys for t in tasks])
    tick = None if progress is None else (lambda _n: progress(next(sizes)))
    parts = map_tasks(
        _run_points, tasks, workers=workers, pool=pool, scheduler=scheduler, progress=tick
    )
    r = {k: np.concatenate([p[k] for p in parts]).reshape(xs.size, ys.size) for k in parts[0]}
    log.info("toy contour of %s, %s: %d points x %d toys", px, py, npts, ntoys)
    return ToyContourResult(
        parameters=(px, py),
        x_values=xs,
        y_values=ys,
        bestfit=(float(xhat[ix]), float(xhat[iy])),
        delta_twice_nll=data_t.reshape(xs.size, ys.size),
        critical_68=r["c68"],
        critical_68_band=np.stack([r["c68_lo"], r["c68_hi"]], axis=-1),
        critical_95=r["c95"],
        critical_95_band=np.stack([r["c95_lo"], r["c95_hi"]], axis=-1),
        p_value=r["p"],
        n_failed=r["failed"].astype(int),
        wilks_levels=(float(stats.chi2.ppf(CONFIDENCE_68, 2)), float(stats.chi2.ppf(0.95, 2))),
        settings=ToyDraws(ntoys, seed, "poisson", "clip", aux, block_size).settings(
            skip=("negative",), engine="batched HistFactory engine"
        ),
    )
