"""The command group: group flags anywhere, exit codes, internal errors, interruption."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import click
import pytest
from _helpers import start_cli_until
from click.testing import CliRunner

from higgs_pyhf.cli import main


def test_group_flags_after_the_subcommand(tmp_path):
    out = str(tmp_path / "ws.json")
    before = CliRunner().invoke(main, ["--no-progress", "-v", "build-workspace", "-o", out])
    after = CliRunner().invoke(main, ["build-workspace", "-o", out, "--no-progress", "-v"])
    assert before.exit_code == after.exit_code == 0, after.output
    assert before.stdout == after.stdout
    assert "INFO higgs_pyhf.workspace: wrote workspace" in after.stderr  # -v took effect


@pytest.fixture
def broken_command():
    @click.command("broken-for-test")
    def broken() -> None:
        msg = "unsupported operand type(s) for +: 'int' and 'str'"
        raise TypeError(msg)

    main.add_command(broken)
    yield
    main.commands.pop("broken-for-test")


def test_internal_error_is_one_line_exit_2(broken_command):
    result = CliRunner().invoke(main, ["broken-for-test"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: internal error TypeError: unsupported operand")
    assert "-vv" in lines[0]
    verbose = CliRunner().invoke(main, ["broken-for-test", "-vv"])
    assert verbose.exit_code == 2
    assert "Traceback (most recent call last)" in verbose.stderr
    assert verbose.stderr.strip().splitlines()[-1].startswith("Error: internal error TypeError")


def test_usage_errors_keep_clicks_exit_code_2():
    result = CliRunner().invoke(main, ["cutflow", "--no-such-option"])
    assert result.exit_code == 2
    assert "No such option" in result.stderr


@pytest.mark.slow  # signals a running build (subprocess)
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_interrupted_build_leaves_no_partial_output(tmp_path, sig, code):
    out = tmp_path / "ws.json"
    # wait for the generation to start (it then takes seconds): no race with the imports
    proc = start_cli_until(
        ["build-workspace", "--generated", "--scale", "3", "-o", str(out)],
        "generating input in",
        tmp_path,
    )
    time.sleep(0.3)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stderr
    assert stdout == ""
    assert stderr.strip().splitlines()[-1].startswith("Error: ")
    assert list(tmp_path.iterdir()) == []  # no output, no temp file


@pytest.mark.parametrize(
    "args",
    [
        ["fit", "{ws}", "-o", "{ws}"],
        ["scan", "{ws}", "-o", "{ws}"],
        ["toys", "coverage", "{ws}", "--ntoys", "10", "-o", "{ws}"],
        ["compare", "{ws}", "--markdown", "{ws}"],
        ["fit", "{ws}", "-o", "{link}"],
    ],
)
def test_no_command_overwrites_its_input(tmp_path, args):
    from pathlib import Path

    ws = tmp_path / "ws.json"
    original = (Path(__file__).resolve().parents[1] / "workspaces" / "hzz4l_atlas.json").read_text()
    ws.write_text(original)
    link = tmp_path / "link.json"
    link.symlink_to(ws)
    argv = [a.format(ws=ws, link=link) for a in args]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 1, result.output
    assert "is an input of this command" in result.stderr
    assert ws.read_text() == original


@pytest.mark.slow  # kills a running build (subprocess)
def test_a_killed_generated_build_leaves_nothing_for_long(tmp_path):
    import tempfile
    from pathlib import Path

    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "higgs_pyhf", "--no-progress", "build-workspace", "--generated"]
    proc = subprocess.Popen(
        [*cmd, "--scale", "3", "-o", str(tmp_path / "a.json")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    pattern = f"higgs_pyhf_generated_{proc.pid}_*"
    deadline = time.monotonic() + 60
    while not list(Path(tempfile.gettempdir()).glob(pattern)) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    proc.kill()  # SIGKILL: no clean-up possible in that process
    proc.wait()
    assert list(Path(tempfile.gettempdir()).glob(pattern))  # the killed run's folder is left
    done = subprocess.run(
        [*cmd, "--scale", "0.02", "--seed", "1", "-o", str(tmp_path / "b.json")],
        capture_output=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert not list(Path(tempfile.gettempdir()).glob(pattern))  # ... and the next run removes it
    assert not (tmp_path / "a.json").exists()


@pytest.mark.slow  # a whole report run (subprocess)
def test_report_folder_is_written_as_a_unit(tmp_path):
    from pathlib import Path

    ws = Path(__file__).resolve().parents[1] / "workspaces" / "hzz4l_atlas.json"
    out = tmp_path / "rep"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    cmd = [
        *(sys.executable, "-m", "higgs_pyhf", "--no-progress", "-v", "report", str(ws)),
        *("-o", str(out), "--ntoys", "1000000"),  # long enough to be interrupted on any machine
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True
    )
    assert proc.stderr is not None
    # signal once the report has done its first stage (the handlers are in place
    # then, however long the start-up took on a busy machine)
    for line in proc.stderr:
        if line.startswith("INFO") and "report: " in line and " done in " in line:
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert list(tmp_path.iterdir()) == []  # neither the folder nor a staging folder
    # a folder with other files is never replaced by a report
    other = tmp_path / "mine"
    other.mkdir()
    (other / "keep.txt").write_text("precious")
    r = CliRunner().invoke(main, ["report", str(ws), "-o", str(other), "--quick"])
    assert r.exit_code == 1
    assert "holds other files" in r.stderr
    assert (other / "keep.txt").read_text() == "precious"
    # a finished report is replaced by a rerun
    for _ in range(2):
        r = CliRunner().invoke(main, ["report", str(ws), "-o", str(out), "--quick"])
        assert r.exit_code == 0, r.output
    assert (out / "report.md").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "rep"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["toys", "coverage", "{ws}", "--ntoys", "1000000000000"], "--ntoys"),
        (["scan", "{ws}", "--n-points", "100000000"], "--n-points"),
        (["contour", "{ws}", "--n-points", "100000"], "--n-points"),
        (["toys", "gof", "{ws}", "--seed", "-1"], "--seed"),
    ],
)
def test_sizes_that_cannot_fit_are_refused_with_the_limit(args, fragment):
    from pathlib import Path

    ws = Path(__file__).resolve().parents[1] / "workspaces" / "hzz4l_atlas.json"
    r = CliRunner().invoke(main, [a.format(ws=ws) for a in args])
    assert r.exit_code == 2
    assert fragment in r.stderr
    assert "not in the range" in r.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["fit", "{ws}", "--fix", "s_b=100"], "outside its bounds"),
        (["significance", "{ws}", "--poi-value", "-1"], "within its bounds"),
    ],
)
def test_values_outside_the_bounds_are_one_error_line(args, fragment):
    from pathlib import Path

    ws = Path(__file__).resolve().parents[1] / "workspaces" / "hzz4l_atlas.json"
    r = CliRunner().invoke(main, [a.format(ws=ws) for a in args])
    assert r.exit_code == 1
    assert r.stderr.startswith("Error: ")
    assert fragment in r.stderr


def test_a_workspace_is_validated_once(monkeypatch):
    from pathlib import Path

    import pyhf

    from higgs_pyhf.spec import schema
    from higgs_pyhf.workspace import model_and_data

    calls = []
    real = pyhf.schema.validate
    monkeypatch.setattr(
        pyhf.schema, "validate", lambda *a, **k: calls.append(a[1]) or real(*a, **k)
    )
    ours = []
    real_ours = schema.validate
    monkeypatch.setattr(schema, "validate", lambda *a, **k: ours.append(a[1]) or real_ours(*a, **k))
    model_and_data(Path(__file__).resolve().parents[1] / "workspaces" / "hzz4l_atlas.json")
    assert ours == ["workspace.json"]  # once, by the project's validator (pyhf's schema files)
    assert "workspace.json" not in calls
    assert "model.json" not in calls  # the model is built without validating it again
