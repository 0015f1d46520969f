"""The CLI against a real Dask cluster: ``dask scheduler`` + ``dask worker`` started by the test."""

from __future__ import annotations

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
