from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from higgs_pyhf.build.report_workspace import build_workspace
from higgs_pyhf.cli import main
from higgs_pyhf.workspace import save_workspace


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    edges = np.linspace(80, 250, 35)
    x = 0.5 * (edges[1:] + edges[:-1])
    b = 25 * np.exp(-0.5 * ((x - 91) / 3.5) ** 2) + 2.5 + 3.5 / (1 + np.exp(-(x - 185) / 4))
    s = 8 * np.diff(stats.norm.cdf(edges, 125, 2))
    d = np.random.default_rng(7).poisson(1.4 * s + 1.3 * b)
    path = tmp_path_factory.mktemp("ws") / "ws.json"
    save_workspace(build_workspace(s, b, d), path)
    return str(path)


def run(*args):
    return CliRunner().invoke(main, ["--no-progress", "toys", *args])


def test_coverage_prints_critical_value_and_settings(workspace, tmp_path):
    r = run("coverage", workspace, "--ntoys", "3000", "--seed", "4", "--figdir", str(tmp_path))
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["critical_value"] == pytest.approx(2.30, abs=0.25)
    assert out["settings"]["seed"] == 4
    assert out["settings"]["ntoys"] == 3000
    assert out["settings"]["sampling"] == "poisson"
    assert out["statistic"] == "likelihood"
    assert out["minimization"] == "continuous"
    assert (tmp_path / "toys_coverage.png").stat().st_size > 1000
    # same seed, two workers (threads, the default, or processes): the same JSON
    r2 = run("coverage", workspace, "--ntoys", "3000", "--seed", "4", "--workers", "2")
    assert json.loads(r2.stdout) == out
    r3 = run(
        "coverage", workspace, "--ntoys", "3000", "--seed", "4", "--workers", "2",
        "--pool", "processes",
    )  # fmt: skip
    assert json.loads(r3.stdout) == out


def test_coverage_report_settings(workspace):
    r = run(
        "coverage", workspace, "--ntoys", "2000", "--sampling", "gaussian", "--statistic", "pearson",
        "--minimization", "grid",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["critical_value"] > 3.0
    assert out["settings"]["grid"] == {"s_s": [0.1, 2.7, 100], "s_b": [1.1, 1.5, 100]}


def test_gof_writes_output_and_figure(workspace, tmp_path):
    target = tmp_path / "gof.json"
    r = run(
        "gof",
        workspace,
        "--ntoys",
        "1000",
        "-o",
        str(target),
        "--figdir",
        str(tmp_path),
        "--generated-label",
    )
    assert r.exit_code == 0, r.output
    out = json.loads(target.read_text())
    # default: each toy refitted like the data (34 bins - 2 normfactors)
    assert out["mode"] == "refit"
    assert out["statistic"] == "likelihood"
    assert out["ndof"] == 32
    # the JSON keeps a summary; the per-toy values on request
    assert "toy_values" not in out
    assert out["toy_summary"]["n"] == 1000
    assert sum(out["toy_summary"]["histogram"]["counts"]) == 1000
    npz = tmp_path / "toys.npz"
    again = run("gof", workspace, "--ntoys", "1000", "--save-toys", str(npz))
    assert again.exit_code == 0, again.output
    import numpy as np

    values = np.load(npz)["toy_values"]
    assert values.size == 1000
    assert np.quantile(values, 0.5) == pytest.approx(out["toy_summary"]["quantiles"]["0.5"])
    assert 0 <= out["p_value"] <= 1
    assert (tmp_path / "toys_gof.png").exists()


@pytest.mark.slow  # toy studies
def test_coverage_table_and_hypotest(workspace, tmp_path):
    md = tmp_path / "table.md"
    r = run(
        "coverage-table",
        workspace,
        "--ntoys",
        "1000",
        "--markdown",
        str(md),
        "--figdir",
        str(tmp_path),
    )
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["rows"]
    assert len(rows) == 7
    assert rows[0]["critical_value"] > rows[-1]["critical_value"]
    assert "critical value" in md.read_text()
    assert (tmp_path / "toys_coverage_table.png").stat().st_size > 10_000
    h = run("hypotest", workspace, "--ntoys", "500", "--poi-value", "3")
    assert h.exit_code == 0, h.output
    out = json.loads(h.stdout)
    assert out["cls"] == pytest.approx(out["clsb"] / out["clb"])
    assert out["p0_asymptotic"] > 0


def test_user_errors_are_one_line(workspace):
    r = run("coverage", workspace, "--ntoys", "1000", "--sampling", "gaussian")
    assert r.exit_code == 1
    assert r.stderr.startswith("Error: ")
    assert "clip" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    # an unknown kind of pool is a usage error (click's exit code 2) naming the choices
    r = run("gof", workspace, "--workers", "2", "--pool", "fibers")
    assert r.exit_code == 2
    assert "Invalid value for '--pool'" in r.stderr
    assert "'processes', 'threads'" in r.stderr


def test_messages_a_user_can_act_on(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "workspaces"
    # the report's grid rows need a normfactor-only model: said plainly
    r = run("coverage-table", str(root / "hzz4l_generated_mcstat_lumi.json"), "--ntoys", "100")
    assert r.exit_code == 1
    assert "normfactors" in r.stderr
    assert "spec" not in r.stderr
    # the toy CLs of 1 beside the asymptotic value is explained
    h = run("hypotest", str(root / "hzz4l_atlas.json"), "--ntoys", "200", "--poi-value", "1")
    assert h.exit_code == 0, h.output
    out = json.loads(h.stdout)
    assert out["cls"] == 1.0
    assert "not excluded" in out["note"]
    # hypotest draws the toys' q~mu distributions with --figdir
    fig = run(
        "hypotest", str(root / "hzz4l_atlas.json"), "--ntoys", "200", "--figdir", str(tmp_path)
    )
    assert fig.exit_code == 0, fig.output
    assert (tmp_path / "toys_hypotest.png").stat().st_size > 10_000
