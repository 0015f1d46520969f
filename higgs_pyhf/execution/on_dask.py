"""Tasks on a Dask scheduler, with every wait bounded (see :mod:`higgs_pyhf.execution`)."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import CancelledError, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from ..errors import ExecutionError

__all__ = ["DASK_RETRIES", "connect_timeout", "map_dask", "worker_timeout"]

#: Retries of a Dask task that raised (a lost worker's tasks are rerun anyway).
DASK_RETRIES = 2
#: Seconds between two looks at the Dask scheduler while waiting for a result.
_POLL_SECONDS = 1.0

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


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


def map_dask(
    func: Callable[[T], R], tasks: list[T], scheduler: str, tick: Callable[[int], Any]
) -> list[R]:
    """Run ``func`` on every task on the scheduler; results in task order (``tick(n)`` on progress)."""
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
