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
run become DEBUG lines of this module (shown with ``-vv``).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from concurrent.futures import (
    CancelledError,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
)
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, TypeVar

from .errors import ExecutionError

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

#: Retries of a Dask task that raised (a lost worker's tasks are rerun anyway).
DASK_RETRIES = 2
#: Kinds of local pool for ``workers > 1``.
POOLS = ("processes", "threads")
#: Local workers started per core at most, whatever ``workers`` asks.
MAX_WORKERS_PER_CORE = 4
#: Seconds between two looks at the Dask scheduler while waiting for a result.
_POLL_SECONDS = 1.0

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
        return _map_dask(func, tasks, scheduler, tick)
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


# --------------------------------------------------------------------------- Dask


def connect_timeout() -> float:
    """Seconds to wait for a Dask scheduler (``HIGGS_PYHF_CONNECT_TIMEOUT``, default 5)."""
    return _seconds("HIGGS_PYHF_CONNECT_TIMEOUT", 5.0)


def worker_timeout() -> float:
    """Seconds a Dask run waits while the scheduler has no worker (``HIGGS_PYHF_WORKER_TIMEOUT``, default 60)."""
    return _seconds("HIGGS_PYHF_WORKER_TIMEOUT", 60.0)


def _seconds(name: str, default: float) -> float:
    text = os.environ.get(name, str(default))
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        msg = f"{name} must be a positive number of seconds, got {text!r}"
        raise ExecutionError(msg)
    return value


def _map_dask(
    func: Callable[[T], R], tasks: list[T], scheduler: str, tick: Callable[[int], Any]
) -> list[R]:
    import distributed  # noqa: F401  (installs its log handlers, replaced below)

    session = _DaskSession(scheduler, connect_timeout(), worker_timeout())
    log.info("submitting %d tasks to the Dask scheduler at %s", len(tasks), scheduler)
    with _distributed_logs_as_debug():
        return _run(session.run(func, tasks, tick))


def _run(coro: Coroutine[Any, Any, R]) -> R:
    """Run a coroutine to its end, also when called from a running event loop (a notebook)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as ex:
        return ex.submit(asyncio.run, coro).result()


class _DaskSession:
    """One run of tasks on a Dask scheduler in which no wait is unbounded."""

    def __init__(self, scheduler: str, timeout: float, patience: float) -> None:
        self.scheduler = scheduler
        self.timeout = timeout
        self.patience = patience
        self.done = 0
        self.ntasks = 0
        self._idle_since: float | None = None

    async def run(
        self, func: Callable[[T], R], tasks: list[T], tick: Callable[[int], Any]
    ) -> list[R]:
        from distributed import Client

        self.ntasks = len(tasks)
        client = Client(
            self.scheduler, asynchronous=True, set_as_default=False, timeout=self.timeout
        )
        try:
            await self._connect(client)
            futures = client.map(func, tasks, pure=False, retries=DASK_RETRIES)
            results = []
            for f in futures:
                results.append(await self._result(client, f))
                self.done += 1
                tick(1)
            return results
        finally:
            await self._close(client)

    async def _connect(self, client: Any) -> None:
        try:
            await asyncio.wait_for(client, self.timeout)
        except TimeoutError:
            msg = f"no Dask scheduler at {self.scheduler} (nothing answered within {self.timeout:g} s)"
            raise ExecutionError(msg) from None
        except OSError as err:
            msg = f"no Dask scheduler at {self.scheduler} ({type(err).__name__}: {err})"
            raise ExecutionError(msg) from None
        except Exception as err:  # a peer that answers, but not as a Dask scheduler
            text = " ".join(str(err).split())[:200]
            msg = f"{self.scheduler} does not answer as a Dask scheduler ({type(err).__name__}: {text})"
            raise ExecutionError(msg) from None

    async def _result(self, client: Any, future: Any) -> Any:
        """The future's result, looking at the scheduler every :data:`_POLL_SECONDS` meanwhile."""
        waiter = asyncio.ensure_future(future)
        try:
            while True:
                done, _ = await asyncio.wait({waiter}, timeout=_POLL_SECONDS)
                if done:
                    try:
                        return waiter.result()
                    except CancelledError:  # distributed's: the scheduler is gone
                        msg = f"lost the connection to the Dask scheduler at {self.scheduler} ({self._progress()})"
                        raise ExecutionError(msg) from None
                await self._check(client)
        finally:
            if not waiter.done():
                waiter.cancel()

    async def _check(self, client: Any) -> None:
        """Fail when the scheduler stopped answering or has had no worker for too long."""
        try:
            info = await asyncio.wait_for(client.scheduler.identity(), self.timeout)
        except (OSError, TimeoutError):
            msg = (
                f"the Dask scheduler at {self.scheduler} stopped answering "
                f"(nothing within {self.timeout:g} s; {self._progress()})"
            )
            raise ExecutionError(msg) from None
        nworkers = info.get("n_workers", len(info.get("workers", {})))
        now = time.monotonic()
        if nworkers:
            self._idle_since = None
        elif self._idle_since is None:
            self._idle_since = now
            log.info("the Dask scheduler at %s has no workers; waiting", self.scheduler)
        elif now - self._idle_since > self.patience:
            msg = (
                f"the Dask scheduler at {self.scheduler} has had no workers for "
                f"{self.patience:g} s ({self._progress()}); start workers, "
                "or wait longer with HIGGS_PYHF_WORKER_TIMEOUT"
            )
            raise ExecutionError(msg)

    async def _close(self, client: Any) -> None:
        try:
            await asyncio.wait_for(client.close(), self.timeout)
        except Exception as err:
            log.debug("closing the Dask client: %s: %s", type(err).__name__, err)

    def _progress(self) -> str:
        return f"{self.done} of {self.ntasks} tasks done"


class _ToDebug(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        log.debug("distributed: %s", self.format(record))


@contextmanager
def _distributed_logs_as_debug() -> Iterator[None]:
    """Route the log lines of distributed (reconnects, their tracebacks) to DEBUG lines here.

    distributed gives several of its loggers (and tornado's) a handler of their own.
    """
    loggers = [
        logging.getLogger(name)
        for name in list(logging.root.manager.loggerDict)
        if name.split(".")[0] in ("distributed", "tornado")
    ]
    saved = [(lg, lg.handlers[:], lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.handlers[:] = [_ToDebug()]
        lg.propagate = False
    try:
        yield
    finally:
        for lg, handlers, propagate in saved:
            lg.handlers[:] = handlers
            lg.propagate = propagate
