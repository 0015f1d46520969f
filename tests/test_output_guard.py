"""The output guard (issue 16, items 1-4 and 16): inputs are never outputs, nothing written outside.

Each test reproduces an audit finding: a report folder replaced with the
user's files in it, an input workspace, groups file or provenance file
overwritten by an output option, a channel name writing outside the figure
folder, a full disk, a FIFO output and a long output name.
"""

from __future__ import annotations

import errno
import json
import os
import pathlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from higgs_pyhf import _guard, _io
from higgs_pyhf.cli import main
from higgs_pyhf.errors import OutputError

ROOT = Path(__file__).resolve().parents[1] / "workspaces"
GENERATED = ROOT / "hzz4l_generated.json"
SYST = ROOT / "hzz4l_atlas_syst.json"


def run(*args: object) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, ["--no-progress", *(str(a) for a in args)])
    return res.exit_code, res.stdout, res.stderr


def copy_workspace(src: Path, folder: Path, name: str | None = None) -> Path:
    """``src`` and its provenance file copied into ``folder`` (as ``name``)."""
    folder.mkdir(parents=True, exist_ok=True)
    dst = folder / (name or src.name)
    shutil.copy(src, dst)
    shutil.copy(_provenance(src), _provenance(dst))
    return dst


def _provenance(ws: Path) -> Path:
    return ws.with_name(ws.stem + ".provenance.json")


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (links not followed) → its bytes (or the link target)."""
    out: dict[str, bytes] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_symlink():
            out[p.relative_to(folder).as_posix()] = str(p.readlink()).encode()
        elif p.is_file():
            out[p.relative_to(folder).as_posix()] = p.read_bytes()
    return out


# --- item 1: a report folder is replaced only when it holds nothing but its own files


def test_atomic_dir_replaces_only_its_own_unchanged_files(tmp_path):
    out = tmp_path / "rep"
    with _io.atomic_dir(out) as stage:
        (stage / "report.md").write_text("first\n")
        (stage / "figs").mkdir()
        (stage / "figs" / "a.png").write_bytes(b"png")
    manifest = json.loads((out / _io.DIR_MARKER).read_text())["files"]
    assert sorted(manifest) == ["figs/a.png", "report.md"]
    with _io.atomic_dir(out) as stage:  # unchanged: a rerun replaces it
        (stage / "report.md").write_text("second\n")
    assert (out / "report.md").read_text() == "second\n"
    assert not (out / "figs").exists()

    (out / "NOTES.txt").write_text("mine")
    with pytest.raises(OutputError, match=r"did not write .*NOTES\.txt"), _io.atomic_dir(out):
        pass
    assert (out / "NOTES.txt").read_text() == "mine"
    (out / "NOTES.txt").unlink()
    (out / "report.md").write_text("edited by hand\n")
    with pytest.raises(OutputError, match=r"report\.md"), _io.atomic_dir(out):
        pass
    assert (out / "report.md").read_text() == "edited by hand\n"


def test_atomic_dir_never_replaces_a_folder_holding_an_input(tmp_path):
    out = tmp_path / "rep"
    with _io.atomic_dir(out) as stage:
        (stage / "report.md").write_text("x\n")
    ws = out / "ws.json"
    ws.write_text("{}")
    manifest = json.loads((out / _io.DIR_MARKER).read_text())
    manifest["files"]["ws.json"] = _guard._sha256(ws)  # even if the manifest lists it
    (out / _io.DIR_MARKER).write_text(json.dumps(manifest))
    with _guard.command_inputs():
        _guard.register_input(ws)
        with pytest.raises(OutputError, match="holds an input"), _io.atomic_dir(out):
            pass
    assert ws.read_text() == "{}"


@pytest.mark.slow
def test_report_keeps_the_users_files_and_its_input(tmp_path, monkeypatch):
    """The audit's sequence: report → NOTES.txt and the workspace into rep/ → report rep/ws.json -o rep."""
    monkeypatch.chdir(tmp_path)
    ws = copy_workspace(GENERATED, tmp_path, "ws.json")
    code, _, err = run("report", ws, "--quick", "--no-upper-limit", "-o", "rep")
    assert code == 0, err
    (tmp_path / "rep" / "NOTES.txt").write_text("my notes")
    inner = copy_workspace(ws, tmp_path / "rep")
    before = snapshot(tmp_path / "rep")
    code, _, err = run("report", inner, "--quick", "--no-upper-limit", "-o", "rep")
    assert code == 1
    assert "Error: output folder rep holds an input" in err
    assert snapshot(tmp_path / "rep") == before
    # without the input, the user's notes still keep the folder
    inner.unlink()
    _provenance(inner).unlink()
    code, _, err = run("report", ws, "--quick", "--no-upper-limit", "-o", "./rep")
    assert code == 1
    assert "NOTES.txt" in err
    assert (tmp_path / "rep" / "NOTES.txt").read_text() == "my notes"


# --- items 2 and 3: no output option may name an input


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return copy_workspace(GENERATED, tmp_path, "ws.json")


def _refused(ws: Path, *args: object, protected: Path | None = None) -> str:
    target = ws if protected is None else protected
    before = target.read_bytes()
    code, out, err = run(*args)
    assert code == 1, (code, out, err)
    assert "is an input of this command" in err, err
    assert target.read_bytes() == before
    return err


def test_yields_latex_and_markdown_onto_the_workspace_are_refused(ws):
    _refused(ws, "yields", ws, "--latex", ws)
    _refused(ws, "yields", ws, "--latex", "./ws.json")
    _refused(ws, "yields", ws, "--markdown", ws.resolve())


def test_impacts_output_onto_the_groups_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    syst = copy_workspace(SYST, tmp_path)
    groups = tmp_path / "G.json"
    groups.write_text(json.dumps({"lumi": "luminosity"}))
    _refused(syst, "impacts", syst, "--groups", groups, "-o", groups, protected=groups)
    _refused(syst, "impacts", syst, "--groups", "G.json", "-o", "./G.json", protected=groups)


def test_outputs_onto_the_provenance_file_are_refused(ws, tmp_path):
    prov = _provenance(ws)
    args = ("toys", "gof", ws, "--ntoys", "100")
    _refused(ws, *args, "-o", prov, protected=prov)
    _refused(ws, *args, "-o", "./ws.provenance.json", protected=prov)
    _refused(ws, *args, "--save-toys", prov, protected=prov)
    link = tmp_path / "alias.json"
    link.symlink_to(prov)
    _refused(ws, *args, "-o", link, protected=prov)
    hard = tmp_path / "hard.json"
    os.link(prov, hard)
    _refused(ws, *args, "-o", hard, protected=prov)
    _refused(ws, "fit", ws, "-o", prov, protected=prov)


def test_a_missing_provenance_is_still_not_an_output(ws):
    prov = _provenance(ws)
    prov.unlink()
    code, _, err = run("fit", ws, "-o", prov)
    assert code == 1
    assert "is an input" in err
    assert not prov.exists()


def test_a_figure_path_that_is_an_input_is_refused(ws, tmp_path):
    """figdir contents are outputs too: a link in the figure folder to the workspace."""
    figdir = tmp_path / "figs"
    figdir.mkdir()
    (figdir / "yields_hzz4l_m4l.png").symlink_to(ws)
    _refused(ws, "yields", ws, "--figdir", figdir)
    assert (figdir / "yields_hzz4l_m4l.png").is_symlink()


def test_library_writes_outside_a_command_are_not_restricted(tmp_path):
    """Only a running command registers inputs: a script may rewrite a file it read."""
    from higgs_pyhf.workspace import load_workspace, save_workspace

    ws = copy_workspace(GENERATED, tmp_path)
    spec = load_workspace(ws)
    save_workspace(spec, ws)
    assert load_workspace(ws) == spec


# --- item 4: names from a workspace become safe file names inside the named folder


def hostile_workspace(folder: Path, escape_to: Path) -> Path:
    """The generated workspace with its channel named to climb out to ``escape_to``."""
    spec = json.loads(GENERATED.read_text())
    name = "/.." * 12 + str(escape_to)
    spec["channels"][0]["name"] = name
    spec["observations"][0]["name"] = name
    folder.mkdir(parents=True, exist_ok=True)
    ws = folder / "ws.json"
    ws.write_text(json.dumps(spec))
    shutil.copy(_provenance(GENERATED), _provenance(ws))
    return ws


def test_safe_names():
    assert _guard.safe_name("hzz4l_m4l") == "hzz4l_m4l"
    bad = _guard.safe_name("/../../tmp/PWNED")
    assert "/" not in bad
    assert not bad.startswith(".")
    assert bad != _guard.safe_name("/../../tmp/PWNEE")
    assert _guard.safe_name("..") not in ("", ".", "..")
    assert _guard.safe_name("yields_" + "/.." * 50 + ".png").endswith(".png")
    assert len(_guard.safe_name("x" * 1000)) <= 80
    names = _guard.safe_names(["SR", "sr", "a b"])
    assert len({n.lower() for n in names.values()}) == 3
    with pytest.raises(OutputError, match="outside"):
        _guard.inside("/tmp/a", "../b")


def test_channel_name_cannot_write_outside_the_figdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outside = tmp_path / "outside" / "PWNED"
    ws = hostile_workspace(tmp_path / "in", outside)
    code, _, err = run("yields", ws, "--figdir", tmp_path / "figs")
    assert code == 0, err
    assert not (tmp_path / "outside").exists()
    written = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert len(written) == 1
    assert written[0].startswith("yields_")
    assert written[0].endswith(".png")


# --- item 16: full disk, FIFO, long names


def test_full_disk_is_an_error_line_and_leaves_nothing(ws, tmp_path, monkeypatch):
    real = pathlib.Path.write_text

    def full(self, data, *args, **kwargs):
        if ".higgs-pyhf-tmp-" in self.name:
            real(self, data[:10], *args, **kwargs)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, data, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "write_text", full)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, _, err = run("fit", ws, "-o", "fit.json")
    assert code == 1, err
    assert err.strip() == "Error: no space left writing fit.json"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def _fill_then_run_out_of_space(folder: Path) -> None:
    with _io.atomic_dir(folder) as stage:
        (stage / "a.png").write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")


def test_full_disk_in_a_file_of_an_output_folder_names_the_folder(tmp_path):
    def fill() -> None:
        with _io.atomic_dir(tmp_path / "rep") as stage, _io.atomic_path(stage / "report.md") as tmp:
            tmp.write_text("partial")
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputError, match=r"^no space left writing .*/rep/report\.md$"):
        fill()
    assert list(tmp_path.iterdir()) == []


def test_full_disk_in_an_output_folder(tmp_path):
    with pytest.raises(OutputError, match=r"no space left writing .*rep"):
        _fill_then_run_out_of_space(tmp_path / "rep")
    assert list(tmp_path.iterdir()) == []


def test_fifo_output_is_refused_not_waited_on(ws, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-m", "higgs_pyhf", "fit", str(ws), "-o", str(fifo)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "it is a FIFO, not a regular file" in done.stderr


def test_dev_stdout_and_dev_null_are_written_into(ws, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "higgs_pyhf", "fit", str(ws), "-o", "/dev/stdout"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        check=True,
    )
    assert json.loads(done.stdout)["parameters"]["s_s"]
    code, out, err = run("fit", ws, "-o", "/dev/null")
    assert code == 0, err
    assert out == ""


def test_longest_legal_output_name_is_written(ws, tmp_path):
    name = "f" * 240 + ".json"  # 245 bytes: legal (NAME_MAX 255), its old temporary name was not
    code, _, err = run("fit", ws, "-o", name)
    assert code == 0, err
    assert json.loads((tmp_path / name).read_text())["parameters"]["s_s"]
    assert not [p for p in tmp_path.iterdir() if ".higgs-pyhf-tmp-" in p.name]


def test_repeatable_input_options_are_inputs_too(tmp_path, monkeypatch):
    """A command's ``--patch`` files (repeatable) are refused as outputs like the workspace."""
    import click

    from higgs_pyhf.cli._common import emit_json, output_option

    @click.command()
    @click.argument("workspace")
    @click.option("--patch", "patches", multiple=True)
    @output_option()
    def cmd(workspace: str, patches: tuple[str, ...], output: str | None) -> None:
        emit_json({"patches": list(patches)}, output)

    monkeypatch.chdir(tmp_path)
    for name in ("ws.json", "p1.json", "p2.json"):
        (tmp_path / name).write_text("{}")
    res = CliRunner().invoke(
        cmd, ["ws.json", "--patch", "p1.json", "--patch", "p2.json", "-o", "./p2.json"]
    )
    assert res.exit_code == 1
    assert "is an input of this command (p2.json)" in str(res.exception)
    assert (tmp_path / "p2.json").read_text() == "{}"
    res = CliRunner().invoke(cmd, ["ws.json", "--patch", "p1.json", "-o", "out.json"])
    assert res.exit_code == 0
    assert json.loads((tmp_path / "out.json").read_text()) == {"patches": ["p1.json"]}
