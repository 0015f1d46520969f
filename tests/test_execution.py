"""Scale-out of the histogram stage: in-process, process pool and Dask give identical results."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from _helpers import write_generated_inputs

from higgs_pyhf.build.config import default_config
from higgs_pyhf.build.histograms import build_histograms
from higgs_pyhf.execution import map_tasks


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Generated events of every sample written in the default layout (small)."""
    directory = tmp_path_factory.mktemp("generated_exec")
    return write_generated_inputs(directory, first_seed=100, scale=0.05), default_config()


def _square(x: int) -> int:
    return x * x


def test_map_tasks_keeps_order():
    assert map_tasks(_square, range(7)) == [x * x for x in range(7)]
    assert map_tasks(_square, range(7), workers=2) == [x * x for x in range(7)]
    assert map_tasks(_square, range(7), workers=3, pool="threads") == [x * x for x in range(7)]
    ticks = []
    map_tasks(_square, [1, 2, 3], progress=ticks.append)
    assert ticks == [1, 1, 1]
    ticks = []
    map_tasks(_square, [1, 2, 3], workers=2, pool="threads", progress=ticks.append)
    assert ticks == [1, 1, 1]


def test_unknown_pool_is_refused():
    from higgs_pyhf.errors import ExecutionError

    with pytest.raises(
        ExecutionError, match="pool must be one of processes, threads; got 'fibers'"
    ):
        map_tasks(_square, range(3), workers=2, pool="fibers")


def _fail_on_two(x: int) -> int:
    import time

    if x == 2:
        msg = "task 2 failed"
        raise ValueError(msg)
    time.sleep(0.05)
    return x


def test_thread_pool_error_travels_back_and_cancels_the_rest():
    started: list[int] = []

    def task(x: int) -> int:
        started.append(x)
        return _fail_on_two(x)

    with pytest.raises(ValueError, match="task 2 failed"):
        map_tasks(task, range(40), workers=2, pool="threads")
    # the tasks not yet started when task 2 failed never ran
    assert len(started) < 40


def _assert_identical(a, b):
    assert list(a.histograms.axes["sample"]) == list(b.histograms.axes["sample"])
    np.testing.assert_array_equal(
        a.histograms.view(flow=True).value, b.histograms.view(flow=True).value
    )
    np.testing.assert_array_equal(
        a.histograms.view(flow=True).variance, b.histograms.view(flow=True).variance
    )
    assert a.cutflows == b.cutflows


@pytest.mark.slow  # starts a Dask cluster
def test_in_process_pool_and_dask_are_identical(inputs):
    distributed = pytest.importorskip("distributed")
    directory, config = inputs
    step = 300
    ticks: list[int] = []
    local = build_histograms(config, directory, step_size=step, progress=ticks.append)
    n_chunks = len(ticks)
    assert n_chunks > len(config.samples)  # several chunks per sample: merging is exercised
    pool = build_histograms(config, directory, step_size=step, workers=2)
    _assert_identical(local, pool)
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        dask = build_histograms(
            config, directory, step_size=step, scheduler=cluster.scheduler_address
        )
    _assert_identical(local, dask)
    assert all(cf.selected > 0 for cf in local.cutflows.values())


def test_errors_travel_back_from_workers(inputs, tmp_path):
    from higgs_pyhf.errors import InputFileError

    directory, config = inputs
    # a copy of the inputs with one file truncated after planning would fail in a worker;
    # here: truncated before, so the error is raised in the worker's read or in planning
    bad = tmp_path / "bad"
    for sample in config.samples:
        for name in sample.files:
            (bad / name).parent.mkdir(parents=True, exist_ok=True)
            (bad / name).write_bytes((directory / name).read_bytes())
    target = bad / config.sample("llll").files[0]
    raw = target.read_bytes()
    target.write_bytes(raw[: len(raw) * 3 // 4])
    with pytest.raises(InputFileError, match="llll"):
        build_histograms(config, bad, step_size=300, workers=2)


# --------------------------------------------------------------------------- faults


def _die_on_three(x: int) -> int:
    import os

    if x == 3:
        os._exit(9)  # a worker process killed mid-task
    return x


def test_dead_pool_worker_is_an_error_not_a_traceback():
    from higgs_pyhf.errors import ExecutionError

    with pytest.raises(ExecutionError, match="worker process of the pool of 2 died"):
        map_tasks(_die_on_three, range(6), workers=2)


def test_no_scheduler_fails_fast(monkeypatch):
    import socket
    import time

    from higgs_pyhf.errors import ExecutionError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free, nothing listens once closed
    monkeypatch.setenv("HIGGS_PYHF_CONNECT_TIMEOUT", "1")
    t0 = time.monotonic()
    with pytest.raises(ExecutionError, match=f"no Dask scheduler at tcp://127.0.0.1:{port}"):
        map_tasks(_square, range(3), scheduler=f"tcp://127.0.0.1:{port}")
    assert time.monotonic() - t0 < 10


def _slow_square(x: int) -> int:
    import time

    time.sleep(0.3)
    return x * x


@pytest.mark.slow
def test_killed_dask_worker_is_survived():
    import os
    import signal
    import threading

    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        pids = list(client.run(os.getpid).values())

        def kill_one():
            import time

            time.sleep(1.0)
            os.kill(pids[0], signal.SIGKILL)

        killer = threading.Thread(target=kill_one)
        killer.start()
        out = map_tasks(_slow_square, range(20), scheduler=cluster.scheduler_address)
        killer.join()
    assert out == [x * x for x in range(20)]


# --------------------------------------------------------------------------- pool size


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def test_pool_size_is_bounded_by_tasks_and_cores(caplog):
    from higgs_pyhf.execution import MAX_WORKERS_PER_CORE, pool_size

    cap = MAX_WORKERS_PER_CORE * _cores()
    assert pool_size(1, 100) == 1
    assert pool_size(2, 100) == min(2, cap)
    assert pool_size(1000, 3) == 3
    with caplog.at_level(logging.INFO, logger="higgs_pyhf.execution"):
        assert pool_size(1000, 10**6) == cap
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert f"1000 workers asked for on {_cores()} cores: starting {cap}" in caplog.text


def test_many_workers_start_no_more_processes_than_tasks(monkeypatch):
    forks: list[int] = []
    real_fork = os.fork

    def counting_fork() -> int:
        forks.append(1)
        return real_fork()

    monkeypatch.setattr(os, "fork", counting_fork)
    assert map_tasks(_square, range(3), workers=50) == [0, 1, 4]
    assert len(forks) == 3  # not 50, forked eagerly


_FAILING_FORK = """
import errno, os, sys
real_fork = os.fork
count = [0]
def fork():
    count[0] += 1
    if count[0] > 1:  # a process limit: the second fork fails
        raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN))
    return real_fork()
os.fork = fork
from higgs_pyhf.cli import main
main(sys.argv[1:])
"""


@pytest.mark.slow  # starts a process pool
def test_a_failed_fork_is_one_error_line_not_a_hang(tmp_path):
    out = tmp_path / "ws.json"
    t0 = time.monotonic()
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            _FAILING_FORK,
            "--no-progress",
            "build-workspace",
            "--generated",
            "--scale",
            "0.02",
            "--workers",
            "4",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        cwd=tmp_path,
        timeout=120,  # before: the started workers were never stopped, the process never exited
        check=False,
    )
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip().splitlines() == [
        "Error: cannot start a pool of 4 worker processes (Resource temporarily unavailable); "
        "rerun with fewer --workers, or --pool threads"
    ]
    assert r.stdout == ""
    assert list(tmp_path.iterdir()) == []
    assert time.monotonic() - t0 < 100
