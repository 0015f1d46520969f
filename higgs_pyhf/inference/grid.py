"""A whole signal grid: CLs (and limits) of every patch of one background-only workspace.

Every point is the background-only workspace with one signal patch applied,
tested with :func:`~higgs_pyhf.inference.cls.hypotest` (μ = 1, q̃μ: CLs
observed and the expected band) and, on request, its CLs upper limit with
the band (:func:`~higgs_pyhf.inference.limits.upper_limit`; a limit
beyond the POI range is NaN and listed).

Where the time goes (ATLAS sbottom RegionA, 64 parameters, one core): per
point about 20 ms to apply the patch, 70 ms for pyhf to build the model
(pyhf's schema validation, 0.4 s, is done once for the background-only
workspace, not per point), 10 ms to compile it into the engine's arrays and
about 70 ms for the batched fits (nine: see :mod:`.cls`). The compiled (numba) kernels are loaded
once per worker process and serve every point; points go to the workers in
chunks, so each worker reads the background-only workspace once.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from ..errors import HiggsPyhfError, WorkspaceError
from ..spec.patches import Patch, apply_patches
from .cls import FitStatus, Timing, hypotest

__all__ = ["GridPoint", "GridResult", "run_grid", "values_from_name"]

log = logging.getLogger(__name__)

#: Default pattern of the coordinates in a patch file name: every number.
NUMBER_PATTERN = r"\d+(?:\.\d+)?"


def values_from_name(name: str, pattern: str | None = None) -> tuple[float, ...]:
    """The coordinates of a point read from its file name.

    Args:
        name: the file name (``patch.DS_360_200_Staus.json``).
        pattern: a regular expression; its groups (or, without groups, its
            matches) are the values. Default: every number in the name.

    Returns:
        The values (``(360.0, 200.0)``); empty if none is found.
    """
    stem = name[:-5] if name.endswith(".json") else name
    if pattern is None:
        return tuple(float(v) for v in re.findall(NUMBER_PATTERN, stem))
    try:
        rx = re.compile(pattern)
    except re.error as err:
        msg = f"--values-from-name {pattern!r} is not a regular expression: {err}"
        raise WorkspaceError(msg) from None
    try:
        if rx.groups:
            m = rx.search(stem)
            return tuple(float(v) for v in m.groups()) if m else ()
        return tuple(float(v) for v in rx.findall(stem))
    except (TypeError, ValueError):
        msg = f"--values-from-name {pattern!r} matches text that is not a number in {name!r}"
        raise WorkspaceError(msg) from None


class GridPoint(NamedTuple):
    """The result of one signal point.

    Attributes:
        name: the patch's name.
        values: its coordinates (patchset values or numbers from the file name).
        cls_observed: observed CLs at the tested POI value.
        cls_expected: expected CLs at −2σ … +2σ.
        limit_observed: observed 95% CL upper limit on the POI (NaN if not
            computed or beyond the POI range).
        limit_expected: expected limits at −2σ … +2σ (NaN likewise).
        limits_beyond: which limits lie beyond the POI range.
        fit_status: the fits of the hypothesis test.
        cpu_s: CPU seconds of this point (patch, model, fits).
        error: why the point could not be tested (the patch does not apply,
            the patched model has no POI, …); its numbers are then NaN.
    """

    name: str
    values: tuple[float, ...]
    cls_observed: float
    cls_expected: tuple[float, ...]
    limit_observed: float
    limit_expected: tuple[float, ...]
    limits_beyond: tuple[str, ...]
    fit_status: FitStatus
    cpu_s: float
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form (pyhf's ``CLs_obs``/``CLs_exp`` names)."""
        out: dict[str, Any] = {
            "name": self.name,
            "values": list(self.values),
            "CLs_obs": self.cls_observed,
            "CLs_exp": list(self.cls_expected),
            "fit_status": self.fit_status.to_json(),
            "cpu_s": round(self.cpu_s, 6),
        }
        if self.error:
            out["error"] = self.error
        if not all(math.isnan(v) for v in (self.limit_observed, *self.limit_expected)) or (
            self.limits_beyond
        ):
            out["upper_limit"] = {
                "observed": self.limit_observed,
                "expected": list(self.limit_expected),
                "beyond_range": list(self.limits_beyond),
            }
        return out


class GridResult(NamedTuple):
    """CLs over a signal grid.

    Attributes:
        poi: name of the parameter of interest.
        test_poi: tested POI value.
        test_stat: test statistic.
        labels: names of the coordinates.
        points: one entry per patch, in input order.
        timing: the whole grid (this process: wall; CPU summed over the points).
        workers: local workers (or 0 on a Dask scheduler).
    """

    poi: str
    test_poi: float
    test_stat: str
    labels: tuple[str, ...]
    points: tuple[GridPoint, ...]
    timing: Timing
    workers: int

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "poi": self.poi,
            "test_poi": self.test_poi,
            "test_stat": self.test_stat,
            "labels": list(self.labels),
            "n_points": len(self.points),
            "points": [p.to_json() for p in self.points],
            "timing": self.timing.to_json(),
            "workers": self.workers,
        }

    def to_csv(self) -> str:
        """One line per point: name, coordinates, CLs observed and expected (and the limits)."""
        band = ("m2", "m1", "median", "p1", "p2")
        with_limits = any("upper_limit" in p.to_json() for p in self.points)
        head = ["name", *self.labels, "CLs_obs", *(f"CLs_exp_{b}" for b in band)]
        if with_limits:
            head += ["limit_obs", *(f"limit_exp_{b}" for b in band)]
        rows = [",".join(head)]
        for p in self.points:
            cells = [p.name, *(f"{v:g}" for v in p.values)]
            nums = [p.cls_observed, *p.cls_expected]
            if with_limits:
                nums += [p.limit_observed, *p.limit_expected]
            cells += ["" if math.isnan(v) else repr(float(v)) for v in nums]
            rows.append(",".join(cells))
        return "\n".join(rows) + "\n"


class _Chunk(NamedTuple):
    bkg: dict[str, Any]
    patches: tuple[Patch, ...]
    measurement: str | None
    test_poi: float
    test_stat: str
    limits: bool


def _run_point(chunk: _Chunk, patch: Patch) -> tuple[str, GridPoint]:
    from ..workspace import engine_model_and_data
    from .limits import upper_limit

    c0 = time.process_time()
    spec = apply_patches(chunk.bkg, [patch])
    model, data = engine_model_and_data(
        spec, measurement=chunk.measurement, source=patch.source or patch.name
    )
    res = hypotest(model, data, test_poi=chunk.test_poi, test_stat=chunk.test_stat)
    lim_obs = math.nan
    lim_exp: tuple[float, ...] = (math.nan,) * 5
    beyond: tuple[str, ...] = ()
    if chunk.limits:
        ul = upper_limit(model, data, allow_beyond=True)
        lim_obs, lim_exp, beyond = ul.observed, tuple(ul.expected), ul.missing
    point = GridPoint(
        patch.name,
        patch.values,
        res.cls_observed,
        res.cls_expected,
        lim_obs,
        lim_exp,
        beyond,
        res.fit_status,
        time.process_time() - c0,
    )
    return res.poi, point


def _failed_point(patch: Patch, err: HiggsPyhfError, cpu_s: float) -> tuple[str, GridPoint]:
    nan5 = (math.nan,) * 5
    status = FitStatus(0, False, 0, 0, 0)
    text = " ".join(str(err).split())
    return "", GridPoint(
        patch.name, patch.values, math.nan, nan5, math.nan, nan5, (), status, cpu_s, text
    )


def _run_chunk(chunk: _Chunk) -> list[tuple[str, GridPoint]]:
    """All the points of a chunk in this process (module level: picklable for the pools).

    A point that cannot be tested is kept, with its error, so that one
    degenerate signal point does not cost the others.
    """
    out = []
    for p in chunk.patches:
        c0 = time.process_time()
        try:
            out.append(_run_point(chunk, p))
        except HiggsPyhfError as err:
            out.append(_failed_point(p, err, time.process_time() - c0))
    return out


def run_grid(
    bkg: dict[str, Any],
    patches: Sequence[Patch],
    *,
    labels: Sequence[str] = (),
    measurement: str | None = None,
    test_poi: float = 1.0,
    test_stat: str = "qtilde",
    limits: bool = False,
    workers: int = 1,
    scheduler: str | None = None,
    chunk_size: int | None = None,
    progress: Callable[[int], Any] | None = None,
) -> GridResult:
    """CLs (and limits) of every patch applied to the background-only workspace ``bkg``.

    Args:
        bkg: the background-only workspace (validated by the caller).
        patches: the signal points.
        labels: names of the coordinates of the points.
        measurement: measurement name (default: the first).
        test_poi: tested POI value.
        test_stat: ``qtilde`` or ``q``.
        limits: also compute the upper limit on the POI with its band.
        workers: local worker processes.
        scheduler: a Dask scheduler address (takes precedence over ``workers``).
        chunk_size: points per task (default: about four tasks per worker).
        progress: called with the number of points of each finished task.

    Returns:
        The points in input order.
    """
    from ..execution import map_tasks

    if not patches:
        msg = "the grid has no signal points (no patches)"
        raise WorkspaceError(msg)
    t0, c0 = time.perf_counter(), time.process_time()
    n_workers = max(1, workers) if scheduler is None else 8
    size = chunk_size or max(1, math.ceil(len(patches) / (4 * n_workers)))
    chunks = [
        _Chunk(bkg, tuple(patches[i : i + size]), measurement, test_poi, test_stat, limits)
        for i in range(0, len(patches), size)
    ]
    tick = progress or (lambda _n: None)
    sizes = iter([len(c.patches) for c in chunks])
    results = map_tasks(
        _run_chunk,
        chunks,
        workers=workers,
        scheduler=scheduler,
        progress=lambda _n: tick(next(sizes)),
    )
    flat = [r for chunk in results for r in chunk]
    points = tuple(p for _, p in flat)
    failed = [p for p in points if p.error]
    if len(failed) == len(points):
        msg = f"no point of the grid could be tested; the first: {failed[0].error}"
        raise WorkspaceError(msg)
    if failed:
        log.warning(
            "%d of %d points could not be tested (listed with their error), e.g. %s: %s",
            len(failed),
            len(points),
            failed[0].name,
            failed[0].error,
        )
    cpu = sum(p.cpu_s for p in points) if workers > 1 or scheduler else 0.0
    timing = Timing(cpu + (time.process_time() - c0), time.perf_counter() - t0)
    n_bad = sum(not p.fit_status.converged for p in points if not p.error)
    if n_bad:
        log.warning("%d of %d points had fits that did not converge", n_bad, len(points))
    log.info(
        "grid: %d points in %.1f s wall (%.1f s CPU)", len(points), timing.wall_s, timing.cpu_s
    )
    return GridResult(
        next(poi for poi, p in flat if not p.error),
        float(test_poi),
        test_stat,
        tuple(labels),
        points,
        timing,
        0 if scheduler else workers,
    )
