"""Running independent tasks in-process, on a process pool, or on a Dask cluster.

Every pipeline stage that splits work (files/chunks for histograms, toy
chunks for pseudo-experiments) calls :func:`map_tasks`. Results are returned
in task order whatever the backend, so merging them (histograms by addition,
toys by concatenation) gives bit-identical results for every choice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

__all__ = ["map_tasks"]

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def map_tasks(
    func: Callable[[T], R],
    tasks: Sequence[T],
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Callable[[int], Any] | None = None,
) -> list[R]:
    """Apply ``func`` to every task and return the results in task order.

    Args:
        func: a picklable, module-level function of one argument.
        tasks: the task arguments (picklable).
        workers: number of local worker processes; 1 runs in this process.
        scheduler: address of an existing Dask distributed scheduler
            (``tcp://host:8786``); takes precedence over ``workers``.
        progress: called with 1 each time a task finishes (e.g. a tqdm update).

    Returns:
        ``[func(t) for t in tasks]``, computed by the chosen backend.
    """
    tick = progress or (lambda _n: None)
    tasks = list(tasks)
    if scheduler is not None:
        return _map_dask(func, tasks, scheduler, tick)
    if workers < 1:
        msg = f"workers must be >= 1, got {workers}"
        raise ValueError(msg)
    if workers == 1 or len(tasks) <= 1:
        out = []
        for t in tasks:
            out.append(func(t))
            tick(1)
        return out
    log.info("running %d tasks on a pool of %d processes", len(tasks), workers)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(func, t) for t in tasks]
        results = []
        for f in futures:
            results.append(f.result())
            tick(1)
    return results


def _map_dask(
    func: Callable[[T], R], tasks: Iterable[T], scheduler: str, tick: Callable[[int], Any]
) -> list[R]:
    from distributed import Client

    log.info("submitting tasks to the Dask scheduler at %s", scheduler)
    with Client(scheduler, set_as_default=False) as client:
        futures = client.map(func, list(tasks), pure=False)
        results = []
        for f in futures:
            results.append(f.result())
            tick(1)
    return results
