import json
import os
from pathlib import Path

import pytest

from higgs_pyhf._io import atomic_path, check_not_input, write_json
from higgs_pyhf.errors import OutputError


def test_write_json_is_deterministic_and_atomic(tmp_path):
    p = write_json(tmp_path / "a" / "x.json", {"b": 1, "a": [1.5, 2]})
    assert p.read_text() == '{\n    "a": [\n        1.5,\n        2\n    ],\n    "b": 1\n}\n'
    assert json.loads(p.read_text()) == {"a": [1.5, 2], "b": 1}


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.json"

    def write_then_fail():
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            msg = "boom"
            raise RuntimeError(msg)

    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail()
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_symlink_output_is_written_through(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_json(link, {"a": 1})
    assert link.is_symlink()
    assert json.loads(real.read_text()) == {"a": 1}


def test_device_output_is_written_into_not_replaced(tmp_path):
    import stat

    before = Path("/dev/null").stat()
    write_json("/dev/null", {"a": 1})
    after = Path("/dev/null").stat()
    assert stat.S_ISCHR(after.st_mode)
    assert (before.st_ino, before.st_rdev) == (after.st_ino, after.st_rdev)
    assert not list(Path("/dev").glob(".null.higgs-pyhf-tmp-*"))


def test_directory_and_bad_parent_are_refused(tmp_path):
    with pytest.raises(OutputError, match="is a directory"):
        write_json(tmp_path, {})
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"cannot write .*out\.json: Not a directory"):
        write_json(tmp_path / "file" / "out.json", {})


def test_stale_temp_files_of_dead_processes_are_removed(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = int(proc.stdout)
    stale = tmp_path / f".out.json.higgs-pyhf-tmp-{dead}-abc.json"
    stale.write_text("partial")
    mine = tmp_path / f".out.json.higgs-pyhf-tmp-{os.getpid()}-def.json"
    mine.write_text("in progress")
    write_json(tmp_path / "out.json", {"a": 1})
    assert not stale.exists()
    assert mine.exists()  # a live writer's file is left alone


def test_output_that_is_an_input_is_refused(tmp_path):
    ws = tmp_path / "ws.json"
    ws.write_text("{}")
    link = tmp_path / "alias.json"
    link.symlink_to(ws)
    check_not_input(tmp_path / "new.json", [ws])
    with pytest.raises(OutputError, match="is an input"):
        check_not_input(ws, [ws])
    with pytest.raises(OutputError, match="is an input"):
        check_not_input(link, [ws])
