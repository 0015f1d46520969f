"""CLI of the diagnostics: pulls, impacts, correlations, yields, significance --brazil, toys contour."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from higgs_pyhf.cli import main

ROOT = Path(__file__).resolve().parents[1] / "workspaces"
SYST = ROOT / "hzz4l_atlas_syst.json"
CHANNELS = ROOT / "hzz4l_generated_syst_channels.json"


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, [str(a) for a in args])
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture(scope="module")
def syst(tmp_path_factory) -> Path:
    """The real-data workspace with its provenance (edges, data label) in a temporary directory."""
    d = tmp_path_factory.mktemp("ws")
    for name in (SYST.name, SYST.name.replace(".json", ".provenance.json")):
        shutil.copy(ROOT / name, d / name)
    return d / SYST.name


def test_impacts_json_contract_and_figure(syst, tmp_path):
    code, out, err = run("impacts", syst, "--figdir", tmp_path, "--group", "lumi=luminosity")
    assert code == 0, err
    obj = json.loads(out)
    assert obj["poi"] == "s_s"
    names = [r["parameter"] for r in obj["impacts"]]
    assert sorted(names) == ["background_norm", "lumi", "s_b", "signal_theory"]
    for row in obj["impacts"]:
        assert {"parameter", "prefit", "postfit", "pull", "constraint"} <= set(row)
        assert set(row["postfit"]) == {"up", "down"}
        assert (
            row["prefit"] is None
            if row["parameter"] == "s_b"
            else set(row["prefit"]) == {"up", "down"}
        )
    sizes = [abs(r["postfit"]["up"]) + abs(r["postfit"]["down"]) for r in obj["impacts"]]
    assert sizes == sorted(sizes, reverse=True)
    assert set(obj["groups"]) == {"luminosity", "normsys", "normfactor"}
    assert set(obj["uncertainty"]) == {"total", "stat", "syst"}
    assert (tmp_path / "impacts.png").stat().st_size > 10_000


def test_impacts_groups_file_and_bad_group(syst, tmp_path):
    groups = tmp_path / "groups.json"
    groups.write_text(json.dumps({"background_norm": "bkg", "signal_theory": "theory"}))
    code, out, _ = run("impacts", syst, "--groups", groups)
    assert code == 0
    assert set(json.loads(out)["groups"]) == {"bkg", "theory", "lumi", "normfactor"}
    code, _, err = run("impacts", syst, "--group", "lumi")
    assert code == 2
    assert "PARAMETER=GROUP" in err
    groups.write_text("[1, 2]")
    code, _, err = run("impacts", syst, "--groups", groups)
    assert code == 1
    assert err.startswith("Error:")


def test_pulls_and_correlations(syst, tmp_path):
    code, out, _ = run("pulls", syst, "--figdir", tmp_path, "-o", tmp_path / "p.json")
    assert code == 0
    assert out == ""
    obj = json.loads((tmp_path / "p.json").read_text())
    assert {r["parameter"] for r in obj["parameters"]} == {
        "background_norm",
        "lumi",
        "signal_theory",
    }
    assert (tmp_path / "pulls.png").exists()
    code, out, _ = run("correlations", syst, "--threshold", "0.2", "--figdir", tmp_path)
    assert code == 0
    obj = json.loads(out)
    assert obj["threshold"] == 0.2
    # s_b and the background normalisation are degenerate; s_s is correlated below 0.2
    assert obj["parameters"] == ["s_b", "background_norm"]
    assert abs(obj["correlation"][0][1]) > 0.2
    assert (tmp_path / "correlations.png").exists()


@pytest.mark.slow  # every yields table and figure
def test_yields_tables_and_figures(tmp_path):
    md, tex = tmp_path / "y.md", tmp_path / "y.tex"
    code, out, err = run("yields", CHANNELS, "--markdown", md, "--latex", tex, "--figdir", tmp_path)
    assert code == 0, err
    obj = json.loads(out)
    assert len(obj["channels"]) == 3
    for ch in obj["channels"]:
        row = obj["table"][ch]
        assert set(row) == {"data", "prefit", "postfit"}
        assert set(row["postfit"]) == {*obj["samples"], "total"}
        assert (tmp_path / f"yields_{ch}.png").stat().st_size > 10_000
    assert md.read_text().startswith("| sample |")
    assert r"\toprule" in tex.read_text()


def test_significance_brazil(tmp_path):
    code, out, err = run("significance", SYST, "--brazil", "--figdir", tmp_path)
    assert code == 0, err
    obj = json.loads(out)
    assert obj["upper_limit"]["method"] == "bisection"
    assert (tmp_path / "brazil.png").stat().st_size > 10_000
    code, _, err = run("significance", SYST, "--brazil")
    assert code == 2
    assert "--figdir" in err


@pytest.mark.slow  # toy contour on a process pool
def test_toys_contour_same_numbers_on_a_pool(tmp_path):
    ws = ROOT / "hzz4l_atlas.json"
    args = ("toys", "contour", ws, "--n-points", "4", "--ntoys", "200", "--seed", "5")
    code, one, err = run(*args, "--figdir", tmp_path)
    assert code == 0, err
    code, two, err = run(*args, "--workers", "2")
    assert code == 0, err
    assert one == two
    obj = json.loads(one)
    assert obj["parameters"] == ["s_s", "s_b"]
    assert len(obj["critical_68"]) == 4
    assert obj["settings"]["ntoys"] == 200
    assert (tmp_path / "toys_contour.png").exists()


def test_model_without_nuisances(tmp_path):
    ws = ROOT / "hzz4l_atlas.json"
    code, out, _ = run("impacts", ws, "--figdir", tmp_path)
    assert code == 0
    obj = json.loads(out)
    # the free normfactor s_b is ranked (no pre-fit impact, no pull); no nuisance parameters
    assert [r["parameter"] for r in obj["impacts"]] == ["s_b"]
    assert obj["impacts"][0]["prefit"] is None
    assert obj["uncertainty"]["syst"] == 0.0
    assert obj["uncertainty"]["stat"] == obj["uncertainty"]["total"]
    assert (tmp_path / "impacts.png").exists()
    code, out, _ = run("pulls", ws, "--figdir", tmp_path)
    assert code == 0
    assert json.loads(out) == {"parameters": []}
    assert not (tmp_path / "pulls.png").exists()
