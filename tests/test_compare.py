from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from higgs_pyhf.build.report_workspace import build_workspace
from higgs_pyhf.cli import main
from higgs_pyhf.errors import WorkspaceError
from higgs_pyhf.inference.chi2grid import (
    ReportResult,
    minimize_chi2,
    poisson_chi2,
    report_method,
    templates_from_workspace,
)
from higgs_pyhf.inference.compare import METHODS, Comparison, compare
from higgs_pyhf.inference.fit import fit
from higgs_pyhf.workspace import load_workspace, model_and_data, save_workspace


@pytest.fixture(scope="module")
def spec(report_histograms) -> dict:
    return build_workspace(*report_histograms())


GENERATED = Path(__file__).resolve().parents[1] / "workspaces" / "hzz4l_generated.json"


@pytest.fixture(scope="module")
def table(spec) -> Comparison:
    return compare(spec)


@pytest.fixture(scope="module", params=["synthetic", "generated"])
def any_case(request, spec, table) -> tuple[dict, Comparison]:
    """The synthetic workspace and the repository's generated one (acceptance), with their tables."""
    if request.param == "synthetic":
        return spec, table
    if not GENERATED.exists():
        pytest.skip(f"{GENERATED} not built")
    ws = load_workspace(GENERATED)
    return ws, compare(ws)


def test_rows_and_json(table: Comparison) -> None:
    assert tuple(r.method for r in table.rows) == METHODS
    assert table.nbins == 34
    assert table.workspace == "hzz4l"
    back = Comparison.from_json(json.loads(json.dumps(table.to_json())))
    assert back == table
    for r in table.rows:
        assert r.dof == 32
        assert r.gof_per_dof == pytest.approx(r.gof_statistic / 32)
        assert r.p_value == pytest.approx(stats.chi2.sf(r.gof_statistic, 32), rel=1e-12)
        assert r.interval_definition


def test_best_fit_inside_interval(any_case) -> None:
    _, table = any_case
    for r in table.rows:
        for p in ("s_s", "s_b"):
            lo, hi = r.interval(p)
            assert lo < r.bestfit(p) < hi, (r.method, p)


def test_grid_row_within_one_step_of_continuous_pearson(any_case) -> None:
    _, table = any_case
    grid, cont = table.row(METHODS[0]), table.row(METHODS[1])
    step_s = np.diff(np.linspace(0.1, 2.7, 100))[0]
    step_b = np.diff(np.linspace(1.1, 1.5, 100))[0]
    assert abs(grid.s_s - cont.s_s) <= step_s
    assert abs(grid.s_b - cont.s_b) <= step_b
    # the grid minimum is a grid point: never below the continuous minimum
    assert cont.gof_statistic <= grid.gof_statistic <= cont.gof_statistic + 0.05


def test_grid_row_is_the_report_method(table: Comparison, report_histograms) -> None:
    grid = table.row(METHODS[0])
    rep = report_method(*report_histograms())
    assert (grid.s_s, grid.s_b) == rep.scan_2d.scan.bestfit
    assert grid.s_s_interval == rep.scan_2d.slice_intervals["s_s"]
    assert grid.s_b_interval == rep.scan_2d.slice_intervals["s_b"]
    assert grid.gof_statistic == rep.after_fit.chi2
    assert "2.3" in grid.interval_definition


def test_profile_contains_conditional(any_case) -> None:
    _, table = any_case
    prof, cond = table.row(METHODS[3]), table.row(METHODS[4])
    assert (prof.s_s, prof.s_b) == (cond.s_s, cond.s_b)
    for p in ("s_s", "s_b"):
        assert prof.interval(p)[0] <= cond.interval(p)[0] + 1e-6
        assert prof.interval(p)[1] >= cond.interval(p)[1] - 1e-6


def test_profiling_widens_with_correlation(table: Comparison) -> None:
    # s_s and s_b are anti-correlated here: profiling visibly widens the s_s interval
    prof, cond = table.row(METHODS[3]), table.row(METHODS[4])
    width = {r.method: r.interval("s_s")[1] - r.interval("s_s")[0] for r in (prof, cond)}
    assert width[prof.method] > width[cond.method] + 1e-3


def test_likelihood_rows_equal_pyhf_fit_and_baker_cousins(any_case) -> None:
    ws, table = any_case
    model, data = model_and_data(ws)
    res = fit(model, data)
    prof = table.row(METHODS[3])
    assert prof.s_s == pytest.approx(res.value("s_s"), abs=1e-8)
    assert prof.s_b == pytest.approx(res.value("s_b"), abs=1e-8)
    assert prof.statistic == "twice_nll"
    assert prof.statistic_value == pytest.approx(res.twice_nll, abs=1e-8)
    # independent minimum of the Baker-Cousins χ² (same likelihood up to a constant)
    sig, bkg, obs = templates_from_workspace(ws)
    bc = minimize_chi2(sig, bkg, obs, statistic="poisson")
    assert prof.s_s == pytest.approx(bc.bestfit["s_s"], abs=1e-4)
    assert prof.s_b == pytest.approx(bc.bestfit["s_b"], abs=1e-4)
    assert prof.gof_statistic == pytest.approx(bc.fit.chi2, abs=1e-6)
    assert prof.gof_statistic == pytest.approx(
        float(poisson_chi2(obs, prof.s_s * sig + prof.s_b * bkg)), rel=1e-12
    )
    # the pyhf scans' Δ(−2lnL) = 1 intervals agree with the root-found Baker-Cousins ones
    for p in ("s_s", "s_b"):
        assert prof.interval(p) == pytest.approx(bc.intervals[p], abs=1e-3)
        assert table.row(METHODS[4]).interval(p) == pytest.approx(
            bc.conditional_intervals[p], abs=1e-3
        )


def test_markdown(table: Comparison) -> None:
    md = table.to_markdown()
    lines = [line for line in md.splitlines() if line.startswith("|")]
    assert len(lines) == 2 + len(METHODS)
    assert all(line.count("|") == 10 for line in lines)
    for method in METHODS:
        assert f"| {method} |" in md
    assert f"{table.row(METHODS[1]).s_s:.3f}" in md


def test_compare_rejects_other_models(report_histograms) -> None:
    sig, bkg, data = report_histograms()
    with pytest.raises(WorkspaceError, match="two-normfactor"):
        compare(build_workspace(sig, bkg, data, lumi_uncertainty=0.02))


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ws_file(tmp_path_factory, spec):
    return save_workspace(spec, tmp_path_factory.mktemp("ws") / "ws.json")


def test_cli_chi2_grid(ws_file, report_histograms) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["chi2-grid", str(ws_file)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    ref = report_method(*report_histograms())
    assert out["statistic"] == "pearson"
    assert out["before_fit"]["chi2_per_dof"] == pytest.approx(
        ref.before_fit.chi2_per_dof, rel=1e-12
    )
    assert out["after_fit"]["p_value"] == pytest.approx(ref.after_fit.p_value, rel=1e-12)
    assert out["s_s_1d"]["error"] == pytest.approx(ref.s_s_1d.error, rel=1e-12)
    assert out["two_d"]["slice_intervals"]["s_b"] == pytest.approx(
        list(ref.scan_2d.slice_intervals["s_b"])
    )

    res = runner.invoke(main, ["chi2-grid", str(ws_file), "--statistic", "neyman", "--full"])
    assert res.exit_code == 0, res.output
    full = ReportResult.from_json(json.loads(res.stdout))
    assert full.statistic == "neyman"
    assert full.scan_2d.scan.delta_twice_nll.shape == (100, 100)

    res = runner.invoke(main, ["chi2-grid", str(ws_file), "--s-s-2d", "0.5", "2.0", "16", "--full"])
    assert res.exit_code == 0, res.output
    small = ReportResult.from_json(json.loads(res.stdout))
    np.testing.assert_allclose(small.scan_2d.scan.x_values, np.linspace(0.5, 2.0, 16))
    assert small.scan_2d.scan.delta_twice_nll.shape == (16, 100)
    res = runner.invoke(main, ["chi2-grid", str(ws_file), "--s-b-1d", "1.4", "1.1", "10"])
    assert res.exit_code == 2
    assert "START < STOP" in res.stderr


def test_cli_compare(ws_file, tmp_path, table) -> None:
    runner = CliRunner()
    md = tmp_path / "table.md"
    out_json = tmp_path / "cmp.json"
    res = runner.invoke(main, ["compare", str(ws_file), "--markdown", str(md), "-o", str(out_json)])
    assert res.exit_code == 0, res.output
    assert res.stdout == ""
    obj = json.loads(out_json.read_text())
    assert [r["method"] for r in obj["rows"]] == list(METHODS)
    assert obj["workspace"] == "ws.json"
    assert obj["rows"][1]["s_s"] == pytest.approx(table.row(METHODS[1]).s_s, rel=1e-9)
    assert md.read_text().count("| Poisson likelihood") == 2


def test_cli_errors(tmp_path, report_histograms) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["chi2-grid", str(tmp_path / "missing.json")])
    assert res.exit_code == 1
    assert res.stderr.startswith("Error: cannot read workspace file")
    sig, bkg, data = report_histograms()
    path = save_workspace(
        build_workspace(sig, bkg, data, lumi_uncertainty=0.02), tmp_path / "lumi.json"
    )
    res = runner.invoke(main, ["compare", str(path)])
    assert res.exit_code == 1
    assert "two-normfactor model" in res.stderr
    assert res.stderr.count("\n") == 1
