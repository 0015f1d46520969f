from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _helpers import FIT_JSON_KEYS
from click.testing import CliRunner

from higgs_pyhf.build.report_workspace import build_workspace
from higgs_pyhf.cli import main
from higgs_pyhf.synthetic import report_like_histograms


def report_like(seed: int = 13) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return report_like_histograms(seed=seed)


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("cli") / "ws.json"
    path.write_text(json.dumps(build_workspace(*report_like())), encoding="utf-8")
    return str(path)


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, list(args))
    return res.exit_code, res.stdout, res.stderr


def test_fit_contract(ws):
    code, out, _ = run("fit", ws, "--minos", "s_s")
    assert code == 0
    obj = json.loads(out)
    assert set(obj) == FIT_JSON_KEYS
    assert obj["status"] == "converged"
    assert obj["notes"] == []
    assert obj["minimizer"] == "engine"
    assert set(obj["parameters"]) == {"s_s", "s_b"}
    for p in obj["parameters"].values():
        assert {"value", "error", "minos"} <= set(p)
    lo, hi = obj["parameters"]["s_s"]["minos"]
    assert lo < 0 < hi
    assert obj["parameters"]["s_b"]["minos"] is None
    assert obj["correlation"]["s_s"]["s_s"] == 1.0
    assert obj["converged"] is True


def test_fit_options(ws, tmp_path):
    out_file = tmp_path / "fit.json"
    code, out, _ = run(
        "fit", ws, "--fix", "s_b=1.3", "--init", "s_s=2", "--bounds", "s_s=0,3", "-o", str(out_file)
    )
    assert code == 0
    assert out == ""
    obj = json.loads(out_file.read_text(encoding="utf-8"))
    assert obj["parameters"]["s_b"] == {"value": 1.3, "error": 0.0, "minos": None, "fixed": True}
    code, out, _ = run("fit", ws, "--fix", "s_b=1.3", "--fix", "s_s=1")
    assert code == 0
    assert json.loads(out)["parameters"]["s_s"]["error"] == 0.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--fix", "nonsense=1"), "valid parameters are s_b, s_s"),
        (("--minos", "mu"), "valid parameters are s_b, s_s"),
    ],
)
def test_fit_errors(ws, args, message):
    code, _, err = run("fit", ws, *args)
    assert code == 1
    assert err.startswith("Error: ")
    assert message in err


def test_bad_option_syntax(ws):
    code, _, err = run("fit", ws, "--fix", "s_b")
    assert code == 2
    assert "NAME=VALUE" in err


def test_bad_workspace(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    for path in (str(bad), str(tmp_path / "missing.json")):
        code, _, err = run("gof", path)
        assert code == 1
        assert err.startswith("Error: ")
        assert len(err.strip().splitlines()) == 1


def test_scan_and_contour(ws):
    code, out, _ = run("scan", ws, "--parameter", "s_b", "--n-points", "21", "--conditional")
    assert code == 0
    obj = json.loads(out)
    assert obj["kind"] == "conditional"
    assert len(obj["values"]) == 21
    lo, hi = obj["interval"]
    assert lo < obj["bestfit"] < hi
    code, out, _ = run("scan", ws, "--range", "0.5", "4", "--n-points", "11")
    assert code == 0
    obj = json.loads(out)
    assert obj["values"][0] == 0.5
    assert obj["kind"] == "profile"
    code, out, _ = run("contour", ws, "--n-points", "41")
    assert code == 0
    obj = json.loads(out)
    assert obj["parameters"] == ["s_s", "s_b"]
    assert np.asarray(obj["delta_twice_nll"]).shape == (41, 41)
    assert set(obj["intervals"]) == {"s_s", "s_b"}


def test_gof_and_significance(ws, tmp_path):
    code, out, _ = run("gof", ws)
    assert code == 0
    g = json.loads(out)
    assert g["dof_prefit"] == 34
    assert g["dof_postfit"] == 32
    out_file = tmp_path / "sig.json"
    code, _, _ = run("significance", ws, "--scan", "0", "6", "13", "-o", str(out_file))
    assert code == 0
    s = json.loads(Path(out_file).read_text(encoding="utf-8"))
    assert set(s) == {"engine", "notes", "discovery", "cls", "upper_limit", "timing"}
    assert s["notes"] == []
    assert s["discovery"]["status"] == s["cls"]["status"] == "converged"
    assert s["upper_limit"]["method"] == "scan"
    assert len(s["upper_limit"]["expected"]) == 5
    assert s["discovery"]["z_observed"] > 0
