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
cancelled; running ones finish (threads cannot be stopped). A pool has at
most one worker per task and :data:`MAX_WORKERS_PER_CORE` per core
(:func:`pool_size`; a log line says when fewer workers than asked are started).

Faults: a local worker process that cannot be started (a process limit) or
that dies (killed, out of memory) raises
:class:`~higgs_pyhf.errors.ExecutionError`; on Dask, the tasks of a worker
that dies are rerun by the scheduler on the other workers (and a task that
raises is retried :data:`DASK_RETRIES` times), so the result is unchanged.
Every wait on Dask is bounded, each failure an
:class:`~higgs_pyhf.errors.ExecutionError` naming the address: a scheduler
address where nothing answers, or something that is not a Dask scheduler,
fails after ``HIGGS_PYHF_CONNECT_TIMEOUT`` seconds (default 5); so does a
scheduler that stops answering during the run (or whose connection is lost);
a scheduler without any worker fails after ``HIGGS_PYHF_WORKER_TIMEOUT``
seconds (default 60) without one. distributed's own log lines during the
run become DEBUG lines of this module (shown with ``-vv``). The Dask runner is
:mod:`.on_dask`.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import (
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
)
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from ..errors import ExecutionError
from .on_dask import DASK_RETRIES, connect_timeout, map_dask, worker_timeout

__all__ = [
    "DASK_RETRIES",
    "MAX_WORKERS_PER_CORE",
    "POOLS",
    "check_pool",
    "connect_timeout",
    "map_tasks",
    "pool_size",
    "worker_timeout",
]

#: Kinds of local pool for ``workers > 1``.
POOLS = ("processes", "threads")
#: Local workers started per core at most, whatever ``workers`` asks.
MAX_WORKERS_PER_CORE = 4

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
    done: dict[int, Any] | None = None,
) -> list[R]:
    """Apply ``func`` to every task and return the results in task order.

    Args:
        func: a picklable, module-level function of one argument.
        tasks: the task arguments (picklable).
        workers: number of local workers asked for; 1 runs in this process
            (at most :func:`pool_size` are started).
        pool: ``processes`` or ``threads``: the kind of local workers when
            ``workers > 1`` (see the module docstring).
        scheduler: address of an existing Dask distributed scheduler
            (``tcp://host:8786``); takes precedence over ``workers``.
        progress: called with 1 each time a task finishes (e.g. a tqdm update).
        done: if given, filled with ``{task index: result}`` of the tasks that
            finished, also when an error or Ctrl-C ends the map (local runs;
            not on Dask), so that a caller can keep what was done.

    Returns:
        ``[func(t) for t in tasks]``, computed by the chosen backend.

    Raises:
        ExecutionError: for an unknown ``pool``, a worker process that cannot
            be started or dies, or a Dask scheduler that does not answer, is
            lost, or has no workers (see the module docstring).
    """
    check_pool(pool)
    tick = progress or (lambda _n: None)
    tasks = list(tasks)
    if scheduler is not None:
        return map_dask(func, tasks, scheduler, tick)
    if workers < 1:
        msg = f"workers must be >= 1, got {workers}"
        raise ValueError(msg)
    size = pool_size(workers, len(tasks))
    if size == 1:
        out = []
        for i, t in enumerate(tasks):
            out.append(func(t))
            if done is not None:
                done[i] = out[-1]
            tick(1)
        return out
    if pool == "threads":
        log.info("running %d tasks on a pool of %d threads", len(tasks), size)
        with ThreadPoolExecutor(max_workers=size, thread_name_prefix="higgs_pyhf") as ex:
            return _collect([ex.submit(func, t) for t in tasks], tick, done)
    return _map_processes(func, tasks, size, tick, done)


def check_pool(pool: str) -> None:
    """Refuse an unknown kind of local pool."""
    if pool not in POOLS:
        msg = f"pool must be one of {', '.join(POOLS)}; got {pool!r}"
        raise ExecutionError(msg)


def pool_size(workers: int, ntasks: int) -> int:
    """The number of local workers started for ``ntasks`` tasks when ``workers`` are asked for.

    At most one per task and :data:`MAX_WORKERS_PER_CORE` per core of this
    process (its CPU affinity); at least 1. A reduction below the cores' cap
    is logged at INFO, one to the cap at WARNING.
    """
    cores = _cores()
    cap = MAX_WORKERS_PER_CORE * cores
    size = max(1, min(workers, ntasks, cap))
    if workers > cap and size == cap:
        log.warning(
            "%d workers asked for on %d cores: starting %d (at most %d per core)",
            workers,
            cores,
            size,
            MAX_WORKERS_PER_CORE,
        )
    elif size < workers:
        log.info("%d workers asked for %d tasks: starting %d", workers, ntasks, size)
    return size


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _map_processes(
    func: Callable[[T], R],
    tasks: list[T],
    size: int,
    tick: Callable[[int], Any],
    done: dict[int, Any] | None = None,
) -> list[R]:
    """The tasks on a pool of ``size`` processes; a failed start or a dead worker is an error."""
    log.info("running %d tasks on a pool of %d processes", len(tasks), size)
    before = set(multiprocessing.active_children())
    try:
        with ProcessPoolExecutor(max_workers=size) as ex:
            try:
                futures = [ex.submit(func, t) for t in tasks]
            except OSError as err:
                # the pool starts its workers on the first submit: a failed fork
                # (a process limit) leaves the ones already started idle for ever
                started = set(multiprocessing.active_children()) - before
                for p in started:
                    p.kill()
                for p in started:
                    p.join(timeout=10)
                reason = os.strerror(err.errno) if err.errno else str(err)
                msg = (
                    f"cannot start a pool of {size} worker processes ({reason}); "
                    "rerun with fewer --workers, or --pool threads"
                )
                raise ExecutionError(msg) from None
            return _collect(futures, tick, done)
    except BrokenProcessPool:
        msg = (
            f"a worker process of the pool of {size} died (killed, or out of memory?); "
            "rerun, with fewer --workers or smaller chunks"
        )
        raise ExecutionError(msg) from None


def _collect(
    futures: list[Future[R]], tick: Callable[[int], Any], done: dict[int, Any] | None = None
) -> list[R]:
    """The results in order; on an error (or Ctrl-C) the tasks not yet started are cancelled.

    ``done`` (if given) receives every result that had finished, also those
    after the one being waited for when the error came.
    """
    results = []
    try:
        for f in futures:
            results.append(f.result())
            tick(1)
    except BaseException:
        for f in futures:
            f.cancel()
        if done is not None:
            for i, f in enumerate(futures):
                if f.done() and not f.cancelled() and f.exception() is None:
                    done[i] = f.result()
        raise
    if done is not None:
        done.update(enumerate(results))
    return results
