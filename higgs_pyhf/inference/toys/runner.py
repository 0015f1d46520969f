"""Chunked, seeded execution of a toy study: in-process, on a pool of threads or processes, or on Dask.

A study is split into chunks of whole seeding blocks; each chunk is a
picklable :class:`ToyTask` that a worker turns into per-toy result arrays
(:func:`run_chunk`), block by block, so the same seed gives bit-identical
results for any number of workers, kind of pool, chunk size or scheduler.
A killed Dask worker's chunks are rerun elsewhere (see
:mod:`higgs_pyhf.execution`).

Calls: the study's block function is called on groups of consecutive
blocks (:func:`blocks_per_call`, up to :data:`TOYS_PER_CALL` toys), each
block still drawn from its own generator. The groups depend only on
``ntoys`` and ``block_size``, and chunks are made of whole groups, so every
call sees the same toys whatever the chunking: results stay bit-identical
even where a computation is not strictly row by row (BLAS products over
a batch of toys). Fewer, larger calls spread the fixed cost of a call
(setting up the fits: Python, holding the GIL) over more toys.

Local workers (``workers > 1``) are threads by default
(:data:`DEFAULT_POOL`), or processes (``pool="processes"``). The sampler
(:mod:`.poisson`), numpy's and scipy's array functions and the engine's
compiled (``nogil``) kernels release the GIL; what holds it is the Python
around them, which the calls of :data:`TOYS_PER_CALL` toys keep small.
Measured on 2 idle cores (medians of 3–5 runs, wall seconds, 1 worker /
2 threads / 2 processes):

- two-normfactor model, GoF: 10⁵ toys 0.28 / 0.18 / 0.21; 10⁶ toys
  2.14 / 1.15 / 1.21;
- model with lumi and staterror (the engine's compiled generic path):
  coverage 10⁴ toys 1.12 / 0.72 / 0.75; hypotest 2 × 5000 toys
  2.17 / 1.38 / 1.48;
- realistic model (146 parameters), GoF 4000 toys 1.18 / 0.70 / 0.74.

Threads also start nothing and copy nothing: no pool to fork (~0.04 s, and
no fork of a process that runs threads of its own, e.g. jax's), no import
of the package in each spawned worker (~1.2 s, macOS and Windows), no toy
model, tasks or results pickled. Chunks only read their task and draw from
their own generators (:func:`.sampling.block_rng`), so running them on
threads is safe. (The toy contour, one engine call per grid point, has its
own default: see :mod:`.contour`.)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any, NamedTuple, TypedDict

import numpy as np

from ...execution import check_pool, map_tasks
from ..engine import expected_aux, expected_main
from . import partial as _partial
from .fits import ToyModel
from .poisson import PoissonTable, poisson_table
from .sampling import check_ntoys, draw_blocks

__all__ = [
    "DEFAULT_POOL",
    "TOYS_PER_CALL",
    "BlockFunction",
    "Progress",
    "RunOptions",
    "ToyDraws",
    "ToyTask",
    "blocks_per_call",
    "run_at",
    "run_chunk",
]

Progress = Callable[[int], Any] | None
#: A study's per-block computation: (toy model, toys [m, N + A], payload) → arrays of length m.
BlockFunction = Callable[[ToyModel, np.ndarray, dict[str, Any]], dict[str, np.ndarray]]
log = logging.getLogger(__name__)
#: Toys per chunk by default (a chunk is the unit of work sent to a worker).
_TOYS_PER_CHUNK = 20_000
#: Most toys per call of a block function (measured best: fits, arrays stay in cache).
TOYS_PER_CALL = 5_000
#: Calls a study is split into at least, when it has enough blocks (work for 8 workers).
_MIN_CALLS = 8
#: Kind of local workers of the toy studies (see the module docstring).
DEFAULT_POOL = "threads"


class ToyDraws(NamedTuple):
    """The toys of one ensemble: how many, from which seed, sampled how (what the toys are).

    ``run_at(func, tm, pars, payload=…, **draws._asdict(), **run)`` runs them;
    :meth:`settings` is what a study's result records of them.
    """

    ntoys: int
    seed: int
    sampling: str
    negative: str
    aux: str
    block_size: int

    def settings(self, *, skip: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
        """These entries (but ``skip``, e.g. a ``negative`` the study does not offer), then ``extra``."""
        return {**{k: v for k, v in self._asdict().items() if k not in skip}, **extra}


class RunOptions(TypedDict, total=False):
    """How a study's toys are run, not what they give: the keywords of :func:`run_at` a study passes on.

    Attributes:
        blocks_per_chunk: blocks per task (default: automatic).
        workers: local workers (1: in this process).
        pool: ``threads`` (default) or ``processes``: the kind of local workers.
        scheduler: Dask scheduler address.
        progress: called with the number of toys of each finished chunk.
    """

    blocks_per_chunk: int | None
    workers: int
    pool: str
    scheduler: str | None
    progress: Progress


def blocks_per_call(ntoys: int, block_size: int) -> int:
    """Blocks per call of the block function: ≤ :data:`TOYS_PER_CALL` toys, ≥ 8 calls if possible."""
    nblocks = math.ceil(ntoys / block_size)
    return max(1, min(TOYS_PER_CALL // block_size, nblocks // _MIN_CALLS))


class ToyTask(NamedTuple):
    """One chunk of a study: which blocks, drawn how, computed by which function.

    ``blocks`` are whole groups of ``group`` blocks (group ``b // group``);
    the block function is called once per group.
    """

    func: BlockFunction
    tm: ToyModel
    blocks: tuple[int, ...]
    ntoys: int
    block_size: int
    seed: int
    stream: int
    sampling: str
    negative: str
    aux: str
    main_mean: np.ndarray
    aux_mean: np.ndarray
    payload: dict[str, Any]
    table: PoissonTable | None = None
    group: int = 1


def run_chunk(task: ToyTask) -> dict[str, np.ndarray]:
    """Worker: draw every block of ``task`` from its own generator; one call per group; concatenate."""
    groups: dict[int, list[int]] = {}
    for b in task.blocks:
        groups.setdefault(b // task.group, []).append(b)
    parts: list[dict[str, np.ndarray]] = []
    for blocks in groups.values():
        toys = draw_blocks(
            task.tm.cm,
            task.main_mean,
            task.aux_mean,
            blocks,
            seed=task.seed,
            stream=task.stream,
            block_size=task.block_size,
            sampling=task.sampling,
            negative=task.negative,
            aux=task.aux,
            table=task.table,
        )
        n = min(toys.shape[0], task.ntoys - blocks[0] * task.block_size)
        parts.append(task.func(task.tm, toys[:n], task.payload))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def run_at(
    func: BlockFunction,
    tm: ToyModel,
    pars: np.ndarray,
    *,
    payload: dict[str, Any],
    ntoys: int,
    seed: int,
    stream: int = 0,
    sampling: str = "poisson",
    negative: str = "keep",
    aux: str = "sample",
    block_size: int,
    blocks_per_chunk: int | None = None,
    workers: int = 1,
    pool: str = DEFAULT_POOL,
    scheduler: str | None = None,
    progress: Progress = None,
) -> dict[str, np.ndarray]:
    """Run ``func`` over ``ntoys`` toys drawn around the model's expected data at ``pars``.

    The toys come in seeded blocks and the per-toy arrays are returned.
    ``workers`` local ``pool`` workers (threads or processes) run the chunks,
    unless a Dask ``scheduler`` is given; ``blocks_per_chunk`` is rounded up
    to whole calls (:func:`blocks_per_call`); ``progress`` is called with the
    number of toys in each finished chunk. Inside
    :func:`.partial.keep_partial` the finished chunks are recorded, and an
    interrupted one-ensemble study gets back the toys that finished.
    """
    check_ntoys(ntoys)
    check_pool(pool)
    x = np.asarray(pars, dtype=float)[None, :]
    main_mean = expected_main(tm.cm, x)[0]
    aux_mean = expected_aux(tm.cm, x)[0]
    table = poisson_table(main_mean) if sampling == "poisson" else None
    nblocks = math.ceil(ntoys / block_size)
    group = blocks_per_call(ntoys, block_size)
    if blocks_per_chunk is None:
        nchunks = max(1, math.ceil(ntoys / _TOYS_PER_CHUNK))
        if workers > 1 or scheduler is not None:
            nchunks = max(nchunks, min(math.ceil(nblocks / group), 4 * workers))
        blocks_per_chunk = math.ceil(nblocks / nchunks)
    blocks_per_chunk = group * math.ceil(blocks_per_chunk / group)
    chunks = [
        tuple(range(i, min(i + blocks_per_chunk, nblocks)))
        for i in range(0, nblocks, blocks_per_chunk)
    ]
    tasks = [
        ToyTask(
            func,
            tm,
            c,
            ntoys,
            block_size,
            seed,
            stream,
            sampling,
            negative,
            aux,
            main_mean,
            aux_mean,
            payload,
            table,
            group,
        )
        for c in chunks
    ]
    sizes = iter([min(ntoys, (c[-1] + 1) * block_size) - c[0] * block_size for c in chunks])
    finished = [0]

    def tick(_n: int) -> None:
        finished[0] += 1
        log.debug("toy chunk %d of %d finished", finished[0], len(chunks))
        if progress is not None:
            progress(next(sizes))

    run = _partial.current()
    if run is None:
        results = map_tasks(
            run_chunk, tasks, workers=workers, pool=pool, scheduler=scheduler, progress=tick
        )
    else:
        results = _run_keeping(run, tasks, ntoys, workers, pool, scheduler, tick)
    return {k: np.concatenate([r[k] for r in results]) for k in results[0]}


def _run_keeping(
    run: _partial.PartialRun,
    tasks: list[ToyTask],
    ntoys: int,
    workers: int,
    pool: str,
    scheduler: str | None,
    tick: Callable[[int], Any] | None,
) -> list[dict[str, np.ndarray]]:
    """map_tasks, recording finished chunks in ``run`` (see :mod:`.partial`)."""
    t0 = tasks[0]
    ens = _partial.Ensemble(t0.seed, t0.stream, ntoys, t0.block_size, t0.payload)
    run.ensembles.append(ens)
    done: dict[int, dict[str, np.ndarray]] = {}
    try:
        results = map_tasks(
            run_chunk,
            tasks,
            workers=workers,
            pool=pool,
            scheduler=scheduler,
            progress=tick,
            done=done,
        )
    except BaseException as err:
        ens.chunks = {tasks[i].blocks: r for i, r in done.items()}
        stop = _partial.find_interruption(err, run.kinds)
        if stop is None or not run.summarize or not done:
            raise
        run.interruption = stop
        return [done[i] for i in sorted(done)]
    ens.chunks = {t.blocks: r for t, r in zip(tasks, results, strict=True)}
    return results
