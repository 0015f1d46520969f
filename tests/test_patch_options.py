"""Every command that reads a workspace takes ``-p/--patch`` and ``--patchset``, and uses them."""

from __future__ import annotations

import json
from pathlib import Path

import click
import jsonpatch
import pytest
from click.testing import CliRunner

from higgs_pyhf.cli import main
from higgs_pyhf.inference.compare import compare

ROOT = Path(__file__).resolve().parents[1]
HZZ = ROOT / "workspaces" / "hzz4l_atlas.json"


def _commands(
    group: click.Group, ctx: click.Context, prefix: str = ""
) -> list[tuple[str, click.Command]]:
    out = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, ctx, f"{prefix}{name} "))
        elif cmd is not None:
            out.append((prefix + name, cmd))
    return out


def test_every_command_reading_a_workspace_takes_patches():
    ctx = click.Context(main)
    readers = []
    for name, cmd in _commands(main, ctx):
        params = {p.name for p in cmd.params}
        if "workspace" in params:
            readers.append(name)
            assert {"patch", "patchset"} <= params, name
    assert {"fit", "cls", "report", "plot", "compare", "significance", "yields"} <= set(readers)


def _patch(tmp_path: Path) -> tuple[Path, dict]:
    """A patch that scales the observed counts of the first bins (the data change, the model not)."""
    spec = json.loads(HZZ.read_text())
    obs = spec["observations"][0]["data"]
    ops = [
        {"op": "replace", "path": f"/observations/0/data/{i}", "value": obs[i] + 3} for i in (8, 9)
    ]
    path = tmp_path / "more_data.json"
    path.write_text(json.dumps(ops))
    return path, jsonpatch.apply_patch(spec, ops)


def test_compare_uses_the_patched_workspace(tmp_path):
    path, patched = _patch(tmp_path)
    res = CliRunner().invoke(main, ["compare", str(HZZ), "-p", str(path)])
    assert res.exit_code == 0, res.stderr
    ours = json.loads(res.stdout)
    ref = compare(patched, label=HZZ.name).to_json()
    assert ours["rows"] == ref["rows"]
    plain = compare(json.loads(HZZ.read_text()), label=HZZ.name).to_json()
    assert ours["rows"] != plain["rows"]


@pytest.mark.slow
def test_report_on_a_published_point_names_the_patch(sbottom, tmp_path):
    bkg = sbottom.write("RegionB/BkgOnly.json", tmp_path)
    patch = sbottom.write("RegionB/patch.sbottom_1400_550_60.json", tmp_path)
    out = tmp_path / "rep"
    args = ["report", str(bkg), "-p", str(patch), "-o", str(out), "--quick", "--no-upper-limit"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.stderr
    text = (out / "report.md").read_text()
    assert text.splitlines()[0].startswith(f"# `{bkg.name} + {patch.name}`")
    assert "sbottom_1400_550_60" in text  # the signal sample of the patch is in the model
    for word in ("ATLAS", "13 TeV", "H→ZZ"):
        assert word not in text
