"""Chunked, seeded execution of a toy study: in-process, on a pool, or on Dask.

A study is split into chunks of whole seeding blocks; each chunk is a
picklable :class:`ToyTask` that a worker turns into per-toy result arrays
(:func:`run_chunk`), block by block, so the same seed gives bit-identical
results for any number of workers, chunk size or scheduler. A killed Dask
worker's chunks are rerun elsewhere (see :mod:`higgs_pyhf.execution`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ...execution import map_tasks
from ..engine import expected_aux, expected_main
from .fits import ToyModel
from .sampling import block_rng, check_ntoys, draw_block

__all__ = ["BlockFunction", "Progress", "ToyTask", "run_at", "run_chunk", "run_study"]

Progress = Callable[[int], Any] | None
#: A study's per-block computation: (toy model, toys [m, N + A], payload) → arrays of length m.
BlockFunction = Callable[[ToyModel, np.ndarray, dict[str, Any]], dict[str, np.ndarray]]
#: Toys per chunk by default (a chunk is the unit of work sent to a worker).
_TOYS_PER_CHUNK = 20_000


class ToyTask(NamedTuple):
    """One chunk of a study: which blocks, drawn how, computed by which function."""

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


def run_chunk(task: ToyTask) -> dict[str, np.ndarray]:
    """Worker: draw and compute every block of ``task`` on its own; concatenate."""
    parts: list[dict[str, np.ndarray]] = []
    for b in task.blocks:
        toys = draw_block(
            block_rng(task.seed, task.stream, b),
            task.tm.cm,
            task.main_mean,
            task.aux_mean,
            task.block_size,
            sampling=task.sampling,
            negative=task.negative,
            aux=task.aux,
        )
        n = min(task.block_size, task.ntoys - b * task.block_size)
        parts.append(task.func(task.tm, toys[:n], task.payload))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def run_study(
    func: BlockFunction,
    tm: ToyModel,
    *,
    ntoys: int,
    seed: int,
    stream: int,
    sampling: str,
    negative: str,
    aux: str,
    main_mean: np.ndarray,
    aux_mean: np.ndarray,
    payload: dict[str, Any],
    block_size: int,
    blocks_per_chunk: int | None,
    workers: int,
    scheduler: str | None,
    progress: Progress,
) -> dict[str, np.ndarray]:
    """Run ``func`` over ``ntoys`` toys in seeded blocks and return the per-toy arrays.

    ``progress`` is called with the number of toys in each finished chunk.
    """
    check_ntoys(ntoys)
    nblocks = math.ceil(ntoys / block_size)
    if blocks_per_chunk is None:
        nchunks = max(1, math.ceil(ntoys / _TOYS_PER_CHUNK))
        if workers > 1 or scheduler is not None:
            nchunks = max(nchunks, min(nblocks, 4 * workers))
        blocks_per_chunk = math.ceil(nblocks / nchunks)
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
        )
        for c in chunks
    ]
    tick = None
    if progress is not None:
        sizes = iter([min(ntoys, (c[-1] + 1) * block_size) - c[0] * block_size for c in chunks])

        def tick(_n: int) -> None:
            progress(next(sizes))

    results = map_tasks(run_chunk, tasks, workers=workers, scheduler=scheduler, progress=tick)
    return {k: np.concatenate([r[k] for r in results]) for k in results[0]}


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
    scheduler: str | None = None,
    progress: Progress = None,
) -> dict[str, np.ndarray]:
    """:func:`run_study` with toys drawn around the model's expected data at ``pars``."""
    x = np.asarray(pars, dtype=float)[None, :]
    return run_study(
        func,
        tm,
        ntoys=ntoys,
        seed=seed,
        stream=stream,
        sampling=sampling,
        negative=negative,
        aux=aux,
        main_mean=expected_main(tm.cm, x)[0],
        aux_mean=expected_aux(tm.cm, x)[0],
        payload=payload,
        block_size=block_size,
        blocks_per_chunk=blocks_per_chunk,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
    )
