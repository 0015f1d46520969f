"""Running independent tasks in-process, on a local pool of processes or threads, or on Dask.

Every pipeline stage that splits work (files/chunks for histograms, toy
chunks for pseudo-experiments) calls :func:`map_tasks`. Results are returned
in task order whatever the backend, so merging them (histograms by addition,
toys by concatenation) gives bit-identical results for every choice.

Local pools (``workers > 1``): ``pool="processes"`` (the default) suits
work that holds the GIL (reading and selecting events: Python, awkward);
``pool="threads"`` suits work whose heavy parts release it (the toy
studies: numpy's generators and the compiled ``nogil`` sampling and fit
kernels) and starts nothing and pickles nothing. A task run on a thread must
not change shared state; the toy chunks only read their task and draw from
their own generators. On an error, or Ctrl-C, the tasks not yet started are
cancelled; running ones finish (threads cannot be stopped).

Faults: a local worker process that dies (killed, out of memory) raises
:class:`~higgs_pyhf.errors.ExecutionError`; on Dask, the tasks of a worker
that dies are rerun by the scheduler on the other workers (and a task that
raises is retried :data:`DASK_RETRIES` times), so the result is unchanged.
A scheduler address where nothing answers fails after
``HIGGS_PYHF_CONNECT_TIMEOUT`` seconds (default 5) with an
:class:`~higgs_pyhf.errors.ExecutionError` naming the address.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from .errors import ExecutionError

__all__ = ["DASK_RETRIES", "POOLS", "check_pool", "connect_timeout", "map_tasks"]

#: Retries of a Dask task that raised (a lost worker's tasks are rerun anyway).
DASK_RETRIES = 2
#: Kinds of local pool for ``workers > 1``.
POOLS = ("processes", "threads")

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def map_tasks(
    func: Callable[[T], R],
    tasks: Sequence[T],
    *,
    workers: int = 1,
    pool: str = "processes",
    scheduler: str | None = None,
    progress: Callable[[int], Any] | None = None,
) -> list[R]:
    """Apply ``func`` to every task and return the results in task order.

    Args:
        func: a picklable, module-level function of one argument.
        tasks: the task arguments (picklable).
        workers: number of local workers; 1 runs in this process.
        pool: ``processes`` or ``threads``: the kind of local workers when
            ``workers > 1`` (see the module docstring).
        scheduler: address of an existing Dask distributed scheduler
            (``tcp://host:8786``); takes precedence over ``workers``.
        progress: called with 1 each time a task finishes (e.g. a tqdm update).

    Returns:
        ``[func(t) for t in tasks]``, computed by the chosen backend.

    Raises:
        ExecutionError: for an unknown ``pool``, a dead worker process or an
            unreachable scheduler.
    """
    check_pool(pool)
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
    if pool == "threads":
        log.info("running %d tasks on a pool of %d threads", len(tasks), workers)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="higgs_pyhf") as ex:
            return _collect([ex.submit(func, t) for t in tasks], tick)
    log.info("running %d tasks on a pool of %d processes", len(tasks), workers)
    try:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            return _collect([ex.submit(func, t) for t in tasks], tick)
    except BrokenProcessPool:
        msg = (
            f"a worker process of the pool of {workers} died (killed, or out of memory?); "
            "rerun, with fewer --workers or smaller chunks"
        )
        raise ExecutionError(msg) from None


def check_pool(pool: str) -> None:
    """Refuse an unknown kind of local pool."""
    if pool not in POOLS:
        msg = f"pool must be one of {', '.join(POOLS)}; got {pool!r}"
        raise ExecutionError(msg)


def _collect(futures: list[Future[R]], tick: Callable[[int], Any]) -> list[R]:
    """The results in order; on an error (or Ctrl-C) the tasks not yet started are cancelled."""
    results = []
    try:
        for f in futures:
            results.append(f.result())
            tick(1)
    except BaseException:
        for f in futures:
            f.cancel()
        raise
    return results


def connect_timeout() -> float:
    """Seconds to wait for a Dask scheduler (``HIGGS_PYHF_CONNECT_TIMEOUT``, default 5)."""
    text = os.environ.get("HIGGS_PYHF_CONNECT_TIMEOUT", "5")
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        msg = f"HIGGS_PYHF_CONNECT_TIMEOUT must be a positive number of seconds, got {text!r}"
        raise ExecutionError(msg)
    return value


def _map_dask(
    func: Callable[[T], R], tasks: Iterable[T], scheduler: str, tick: Callable[[int], Any]
) -> list[R]:
    from distributed import Client

    timeout = connect_timeout()
    log.info("submitting tasks to the Dask scheduler at %s", scheduler)
    try:
        client = Client(scheduler, set_as_default=False, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as err:
        msg = f"no Dask scheduler at {scheduler} (nothing answered within {timeout:g} s: {type(err).__name__})"
        raise ExecutionError(msg) from None
    with client:
        futures = client.map(func, list(tasks), pure=False, retries=DASK_RETRIES)
        results = []
        for f in futures:
            results.append(f.result())
            tick(1)
    return results
