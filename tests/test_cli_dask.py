"""The CLI against a real Dask cluster (``dask scheduler`` + ``dask worker`` started by the test), and its faults.

Faults: a peer that never speaks or speaks garbage, a scheduler without
workers, workers and a scheduler killed mid-run: every wait is bounded and
ends in one ``Error:`` line, exit 1. All servers listen on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dask_command() -> list[str]:
    script = Path(sys.executable).parent / "dask"
    return [str(script)] if script.exists() else [shutil.which("dask") or "dask"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and one worker process on the loopback interface."""
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("dask")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    procs = [
        subprocess.Popen(
            [
                *_dask_command(),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-dashboard",
            ],
            stdout=(logs / "scheduler.log").open("w"),
            stderr=subprocess.STDOUT,
            env=env,
        )
    ]
    try:
        procs.append(
            subprocess.Popen(
                [
                    *_dask_command(),
                    "worker",
                    address,
                    "--nworkers",
                    "1",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                ],
                stdout=(logs / "worker.log").open("w"),
                stderr=subprocess.STDOUT,
                env=env,
            )
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout=2, set_as_default=False) as c:
                    if c.scheduler_info()["workers"]:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the Dask cluster did not come up: {(logs / 'worker.log').read_text()[-2000:]}"
                )
            time.sleep(0.5)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def _cli(*args, cwd):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "higgs_pyhf", "--no-progress", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
        check=False,
    )


def test_build_workspace_on_a_dask_cluster_equals_in_process(cluster, tmp_path):
    common = [
        "build-workspace",
        "--generated",
        "--scale",
        "0.05",
        "--seed",
        "3",
        "--step-size",
        "500",
    ]
    here = _cli(*common, "-o", tmp_path / "here.json", cwd=tmp_path)
    there = _cli(*common, "-o", tmp_path / "there.json", "--scheduler", cluster, cwd=tmp_path)
    assert here.returncode == 0, here.stderr
    assert there.returncode == 0, there.stderr
    assert (tmp_path / "here.json").read_text() == (tmp_path / "there.json").read_text()
    assert json.loads(there.stdout)["generated"] is True


# --------------------------------------------------------------------------- faults


def _dask_process(*args: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(
        [*_dask_command(), *args], stdout=log.open("w"), stderr=subprocess.STDOUT, env=env
    )


def _scheduler(port: int, log: Path) -> subprocess.Popen[bytes]:
    return _dask_process(
        "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard", log=log
    )


def _wait_until_up(address: str, nworkers: int, *, seconds: float = 60) -> None:
    from distributed import Client

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with Client(address, timeout=2, set_as_default=False) as c:
                if len(c.scheduler_info()["workers"]) >= nworkers:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the Dask scheduler at {address} did not get {nworkers} workers")


def _stop(*procs: subprocess.Popen[bytes]) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait(timeout=20)


class _Peer:
    """A TCP server on 127.0.0.1 that accepts connections and never speaks, or sends garbage."""

    def __init__(self, garbage: bool) -> None:
        import threading

        self.garbage = garbage
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.address = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.conns: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        deadline = time.monotonic() + 300  # bounded, whatever the test does
        while not self.stopped.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(conn)
            if self.garbage:
                with contextlib.suppress(OSError):
                    conn.sendall(b"\xff" * 64 + b"not the dask protocol\n" * 50)

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        for c in self.conns:
            c.close()
        self.sock.close()


def _build_on(
    address: str, tmp_path: Path, **env: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.monotonic()
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "higgs_pyhf",
            "--no-progress",
            "build-workspace",
            "--generated",
            "--scale",
            "0.01",
            "--seed",
            "3",
            "-o",
            str(tmp_path / "ws.json"),
            "--scheduler",
            address,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore", **env},
        cwd=tmp_path,
        timeout=120,  # a hang fails the test here
        check=False,
    )
    return r, time.monotonic() - t0


def _one_error_line(r: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("Error: "), r.stderr
    assert fragment in lines[0], r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize(
    ("garbage", "fragment"),
    [
        (False, "no Dask scheduler at {address} (nothing answered within 2 s)"),
        (True, "{address} does not answer as a Dask scheduler"),
    ],
)
def test_a_peer_that_is_not_a_scheduler_is_one_error_line_within_the_timeout(
    tmp_path, garbage, fragment
):
    peer = _Peer(garbage)
    try:
        r, seconds = _build_on(peer.address, tmp_path, HIGGS_PYHF_CONNECT_TIMEOUT="2")
    finally:
        peer.close()
    _one_error_line(r, fragment.format(address=peer.address))
    assert peer.conns  # it was reached
    assert seconds < 60
    assert list(tmp_path.iterdir()) == []


def test_a_scheduler_without_workers_is_an_error_after_the_worker_timeout(tmp_path):
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = _scheduler(port, tmp_path / "scheduler.log")
    run = tmp_path / "run"
    run.mkdir()
    try:
        _wait_until_up(address, 0)
        r, seconds = _build_on(address, run, HIGGS_PYHF_WORKER_TIMEOUT="3")
    finally:
        _stop(scheduler)
    _one_error_line(r, f"the Dask scheduler at {address} has had no workers for 3 s")
    assert 3 < seconds < 60
    assert list(run.iterdir()) == []


def _bounded(func, seconds: float):
    """``func()`` on a thread: its exception (or None); fails the test if it is still running."""
    import threading

    caught: list[BaseException | None] = [None]

    def target() -> None:
        try:
            func()
        except BaseException as err:
            caught[0] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s"
    return caught[0]


@pytest.mark.parametrize("victim", ["workers", "scheduler"])
def test_workers_or_scheduler_killed_mid_run_is_an_error_not_a_hang(
    tmp_path, monkeypatch, capfd, victim
):
    from higgs_pyhf.errors import ExecutionError
    from higgs_pyhf.execution import map_tasks

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = _scheduler(port, tmp_path / "scheduler.log")
    worker = _dask_process(
        "worker",
        address,
        "--nthreads",
        "1",
        "--no-nanny",
        "--no-dashboard",
        log=tmp_path / "worker.log",
    )
    monkeypatch.setenv("HIGGS_PYHF_WORKER_TIMEOUT", "2")
    monkeypatch.setenv("HIGGS_PYHF_CONNECT_TIMEOUT", "2")
    done: list[int] = []

    def tick(n: int) -> None:
        done.append(n)
        if len(done) == 2:  # two results in: kill the rest of the cluster's capacity
            (worker if victim == "workers" else scheduler).kill()

    try:
        _wait_until_up(address, 1)
        capfd.readouterr()
        err = _bounded(
            # time.sleep: a task that the scheduler and the worker can unpickle
            lambda: map_tasks(time.sleep, [0.3] * 12, scheduler=address, progress=tick),
            90,
        )
    finally:
        _stop(worker, scheduler)
    expected = (
        f"the Dask scheduler at {address} has had no workers for 2 s (2 of 12 tasks done)"
        if victim == "workers"
        else f"lost the connection to the Dask scheduler at {address} (2 of 12 tasks done)"
    )
    assert isinstance(err, ExecutionError), repr(err)
    assert expected in str(err)
    assert "Traceback" not in capfd.readouterr().err  # distributed's own log stays quiet


def test_map_tasks_on_dask_from_a_running_event_loop(monkeypatch):
    import asyncio

    from higgs_pyhf.errors import ExecutionError
    from higgs_pyhf.execution import map_tasks

    monkeypatch.setenv("HIGGS_PYHF_CONNECT_TIMEOUT", "1")
    peer = _Peer(garbage=False)

    async def call() -> list[None]:  # as from a notebook
        return map_tasks(time.sleep, [0.0], scheduler=peer.address)

    try:
        with pytest.raises(ExecutionError, match=r"nothing answered within 1 s"):
            asyncio.run(call())
    finally:
        peer.close()


def test_grid_on_a_dask_cluster_equals_in_process(cluster, tmp_path, sbottom):
    """Three published sbottom points: the grid's numbers do not depend on where it runs."""
    bkg = sbottom.write("RegionA/BkgOnly.json", tmp_path)
    folder = tmp_path / "patches"
    folder.mkdir()
    for point in ("1300_205_60", "1400_950_60", "1500_850_60"):
        member = f"RegionA/patch.sbottom_{point}.json"
        (folder / f"patch.sbottom_{point}.json").write_text(
            json.dumps(sbottom.json(member)), encoding="utf-8"
        )
    here = _cli("grid", bkg, folder, "-o", tmp_path / "here.json", cwd=tmp_path)
    there = _cli(
        "grid", bkg, folder, "-o", tmp_path / "there.json", "--scheduler", cluster, cwd=tmp_path
    )
    assert here.returncode == 0, here.stderr
    assert there.returncode == 0, there.stderr
    a = json.loads((tmp_path / "here.json").read_text())
    b = json.loads((tmp_path / "there.json").read_text())
    assert b["workers"] == 0
    assert [p["name"] for p in a["points"]] == [p["name"] for p in b["points"]]
    for p, q in zip(a["points"], b["points"], strict=True):
        assert p["CLs_obs"] == q["CLs_obs"]
        assert p["CLs_exp"] == q["CLs_exp"]
