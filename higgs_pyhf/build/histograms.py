r"""Per-sample m4l histograms (``hist``), filled chunk by chunk.

One :class:`hist.Hist` holds every sample: a growable ``StrCategory`` axis
``sample`` (config order) and a ``Variable`` axis of the observable with the
configuration's bin edges, ``Weight()`` storage (sum of weights and sum of
squared weights; under/overflow kept).

Event weights (collision data 1, simulation the seed report's formula) are
:mod:`higgs_pyhf.build.weights`.

Work is split in chunks (:func:`higgs_pyhf.build.ntuples.plan_chunks`); each chunk
is read, selected and filled into a histogram with the full sample axis
(:func:`process_chunk`, run through :func:`higgs_pyhf.execution.map_tasks`),
and the chunk histograms are summed in task order, so the result is the same
bit for bit on one process, a pool, or a Dask cluster.

Their files (ROOT TH1s or UHI JSON) are :mod:`higgs_pyhf.build.histogram_io`.
"""

from __future__ import annotations

import functools
import logging
import operator
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import awkward as ak
import hist
import numpy as np

from ..errors import HistogramError, SelectionError
from ..execution import map_tasks
from .cutflows import Cutflow, make_cutflow, merge_cutflows
from .ntuples import DEFAULT_STEP_SIZE, ChunkTask, plan_chunks, read_chunk, release_files
from .selection import check_selection, nonfinite_kinematics, select
from .variations import ShapeSpec, fill_shapes, make_shape_histogram
from .weights import mc_weights

if TYPE_CHECKING:
    from .config import AnalysisConfig

__all__ = [
    "SAMPLE_AXIS",
    "ChunkJob",
    "ChunkResult",
    "HistogramSet",
    "build_histograms",
    "fill_events",
    "make_histogram",
    "merge_chunk_results",
    "process_chunk",
    "sample_yields",
]

log = logging.getLogger(__name__)

#: Name of the sample category axis.
SAMPLE_AXIS = "sample"
_DEFAULT_LABEL = r"$m_{4\ell}$ [GeV]"


def make_histogram(
    edges: Sequence[float] | np.ndarray,
    *,
    samples: Sequence[str] = (),
    observable: str = "m4l",
    label: str = _DEFAULT_LABEL,
) -> hist.Hist:
    """An empty histogram with a ``sample`` category axis and the observable axis.

    Args:
        edges: bin edges of the observable (GeV).
        samples: initial categories, in order (more grow on fill).
        observable: name of the observable axis.
        label: axis label of the observable.
    """
    with warnings.catch_warnings():
        # hist reserves "sample" as a fill keyword (Mean storage); we fill positionally.
        warnings.filterwarnings("ignore", message="sample is a protected keyword")
        return hist.Hist(
            hist.axis.StrCategory(list(samples), growth=True, name=SAMPLE_AXIS, label="Sample"),
            hist.axis.Variable(np.asarray(edges, dtype=float), name=observable, label=label),
            storage=hist.storage.Weight(),
        )


class ChunkJob(NamedTuple):
    """Everything a worker needs to turn one chunk into a histogram (picklable).

    Attributes:
        chunk: what to read.
        samples: every sample name, in config order (the histogram's categories).
        is_data: the chunk is collision data (unit weights).
        xsec_weight: lumi·1000·xsec/(sumw·red_eff) of the sample (1 for data).
        edges: bin edges of the observable (GeV).
        observable: name of the observable axis.
        label: axis label of the observable.
        selection: selection name (see :mod:`higgs_pyhf.build.selection`).
        shapes: channels and variations of the detailed histogram
            (:mod:`higgs_pyhf.build.variations`), or None for the nominal one only.
    """

    chunk: ChunkTask
    samples: tuple[str, ...]
    is_data: bool
    xsec_weight: float
    edges: tuple[float, ...]
    observable: str
    label: str
    selection: str
    shapes: ShapeSpec | None = None


class ChunkResult(NamedTuple):
    """Histogram (all sample categories, one filled), cutflow and detailed histogram of one chunk."""

    histogram: hist.Hist
    cutflow: Cutflow
    shapes: hist.Hist | None = None


def fill_events(events: ak.Array, job: ChunkJob) -> ChunkResult:
    """Select, weight and histogram a batch of events (pure; no I/O).

    Raises:
        HistogramError: on non-finite weights or m4l, naming sample and file.
        SelectionError: on malformed events.
    """
    sample = job.chunk.sample
    w = np.ones(len(events)) if job.is_data else mc_weights(events, job.xsec_weight)
    bad = np.flatnonzero(~np.isfinite(w))
    if bad.size:
        msg = (
            f"sample {sample}: {bad.size} event(s) with non-finite (NaN/inf) weight in "
            f"{job.chunk.path}, first at entry {job.chunk.entry_start + int(bad[0])}"
        )
        raise HistogramError(msg)
    _check_kinematics(events, job)
    sel = select(events, selection=job.selection)
    ws = w[sel.passed]
    bad = np.flatnonzero(~np.isfinite(sel.m4l))
    if bad.size:
        entry = job.chunk.entry_start + int(np.flatnonzero(sel.passed)[bad[0]])
        msg = f"sample {sample}: non-finite {job.observable} in {job.chunk.path} at entry {entry} (NaN lepton kinematics?)"
        raise HistogramError(msg)
    h = make_histogram(job.edges, samples=job.samples, observable=job.observable, label=job.label)
    h.fill(sample, sel.m4l, weight=ws)
    cutflow = make_cutflow(sel.masks, w, sample=sample, selection=job.selection)
    shapes = None
    if job.shapes is not None:
        shapes = fill_shapes(
            events,
            w,
            sel,
            job.shapes,
            sample=sample,
            samples=job.samples,
            is_data=job.is_data,
            edges=job.edges,
            observable=job.observable,
            label=job.label,
            where=f"{job.chunk.path} entries {job.chunk.entry_start}-{job.chunk.entry_stop}",
        )
    return ChunkResult(h, cutflow, shapes)


def _check_kinematics(events: ak.Array, job: ChunkJob) -> None:
    """Refuse non-finite lepton kinematics, naming the sample, branch, file and entry."""
    bad = nonfinite_kinematics(events)
    if bad is not None:
        branch, first, count = bad
        msg = (
            f"sample {job.chunk.sample}: non-finite (NaN/inf) {branch} in {job.chunk.path} "
            f"at entry {job.chunk.entry_start + first} ({count} event(s) in the chunk)"
        )
        raise HistogramError(msg)


def process_chunk(job: ChunkJob) -> ChunkResult:
    """Read one chunk and fill it (the task function given to ``map_tasks``)."""
    return fill_events(read_chunk(job.chunk), job)


class HistogramSet(NamedTuple):
    """The merged histograms and cutflows of a run.

    Attributes:
        histograms: all samples, ``sample`` × observable, ``Weight()`` storage.
        cutflows: sample name → cutflow, config order.
        selection: the selection used.
        lumi_fb: luminosity of the MC weights (fb⁻¹).
        shapes: ``sample`` × ``channel`` × ``variation`` × observable
            (:mod:`higgs_pyhf.build.variations`), when asked for.
    """

    histograms: hist.Hist
    cutflows: dict[str, Cutflow]
    selection: str
    lumi_fb: float
    shapes: hist.Hist | None = None


def merge_chunk_results(
    results: Iterable[ChunkResult],
    config: AnalysisConfig,
    *,
    selection: str,
    require_events: bool = True,
    shapes: ShapeSpec | None = None,
) -> HistogramSet:
    """Sum chunk results (in the given order) into one :class:`HistogramSet`.

    Args:
        results: chunk results, in task order.
        config: the configuration (sample order, binning).
        selection: the selection used (recorded).
        require_events: raise if a sample has no selected event.
        shapes: the detailed histogram's channels and variations (None: none).

    Raises:
        SelectionError: naming the sample if a sample has no selected event.
    """
    results = list(results)
    names = tuple(s.name for s in config.samples)
    empty = make_histogram(
        config.edges, samples=names, observable=config.observable, label=config.observable_label
    )
    total = functools.reduce(operator.add, (r.histogram for r in results), empty)
    cutflows = merge_cutflows(r.cutflow for r in results)
    for s in config.samples:
        cf = cutflows.get(s.name)
        if cf is None:
            cf = cutflows[s.name] = Cutflow.empty(s.name, selection)
        if require_events and cf.selected == 0:
            msg = (
                f"no event of sample {s.name} passes the {selection!r} selection "
                f"({cf.events[0]} events read from {', '.join(s.files)})"
            )
            raise SelectionError(msg)
    ordered = {n: cutflows[n] for n in names}
    detail = None
    if shapes is not None:
        detail = functools.reduce(
            operator.add,
            (r.shapes for r in results if r.shapes is not None),
            make_shape_histogram(
                config.edges,
                shapes,
                samples=names,
                observable=config.observable,
                label=config.observable_label,
            ),
        )
    return HistogramSet(total, ordered, selection, config.lumi_fb, detail)


def _chunk_jobs(
    config: AnalysisConfig,
    tasks: list[ChunkTask],
    *,
    selection: str,
    shapes: ShapeSpec | None,
) -> list[ChunkJob]:
    """One job per chunk: what a worker needs to select and histogram it."""
    names = tuple(s.name for s in config.samples)
    jobs = []
    for t in tasks:
        s = config.sample(t.sample)
        jobs.append(
            ChunkJob(
                chunk=t,
                samples=names,
                is_data=s.is_data,
                xsec_weight=s.xsec_weight(config.lumi_fb),
                edges=config.edges,
                observable=config.observable,
                label=config.observable_label,
                selection=selection,
                shapes=shapes,
            )
        )
    return jobs


def build_histograms(
    config: AnalysisConfig,
    data_dir: str | os.PathLike[str],
    *,
    selection: str = "intended",
    step_size: int | str = DEFAULT_STEP_SIZE,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Callable[[int], Any] | None = None,
    on_plan: Callable[[int], Any] | None = None,
    require_events: bool = True,
    shapes: ShapeSpec | None = None,
) -> HistogramSet:
    """Read, select and histogram every sample of a configuration.

    Args:
        config: samples, luminosity and binning.
        data_dir: directory the configuration's file names are relative to.
        selection: ``"intended"`` or ``"report"``.
        step_size: entries (int) or memory (``"50 MB"``) per chunk.
        workers: local worker processes (1: in this process).
        scheduler: address of a Dask distributed scheduler (overrides ``workers``).
        progress: called with 1 after each chunk (e.g. a progress bar's update).
        on_plan: called once with the number of chunks before they run.
        require_events: raise :class:`SelectionError` if a sample has no selected event.
        shapes: also fill the detailed ``sample`` × ``channel`` × ``variation``
            histogram (:mod:`higgs_pyhf.build.variations`).

    Returns:
        The merged histograms and cutflows.

    Raises:
        InputFileError, SelectionError, HistogramError: on bad input, naming
            the file or sample.
    """
    check_selection(selection)
    try:
        tasks = plan_chunks(config, data_dir, step_size=step_size)
        if workers > 1 or scheduler is not None:
            release_files()  # open files stay in this process only; workers open their own
        if on_plan is not None:
            on_plan(len(tasks))
        jobs = _chunk_jobs(config, tasks, selection=selection, shapes=shapes)
        results = map_tasks(
            process_chunk, jobs, workers=workers, scheduler=scheduler, progress=progress
        )
        out = merge_chunk_results(
            results, config, selection=selection, require_events=require_events, shapes=shapes
        )
        for name, cf in out.cutflows.items():
            log.info(
                "%s: %d of %d events selected (%.4g weighted)",
                name,
                cf.selected,
                cf.events[0],
                cf.weighted[-1],
            )
        return out
    finally:
        release_files()


def sample_yields(h: hist.Hist, *, flow: bool = False) -> dict[str, float]:
    """Sum of weights per sample (in-range bins only unless ``flow``)."""
    return {str(n): float(_one(h, n).values(flow=flow).sum()) for n in h.axes[SAMPLE_AXIS]}


def _one(h: hist.Hist, name: str) -> hist.Hist:
    """The 1D histogram of one sample."""
    out = h[{SAMPLE_AXIS: name}]
    assert isinstance(out, hist.Hist)
    return out
