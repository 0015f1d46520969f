"""The report: the seed report's numbers from the shipped real workspace, its figures, toy studies and grid edges.

Printed numbers of *How Much Higgs?* are pinned to the digits the report
prints (tolerance half a unit of the last printed digit); the likelihood
column is checked against a hand-written Poisson likelihood minimized with
scipy, and the likelihood critical value against Wilks' theorem.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from click.testing import CliRunner
from scipy import optimize, stats
from scipy.stats import norm

from higgs_pyhf.build.report_workspace import build_workspace
from higgs_pyhf.cli import main
from higgs_pyhf.inference.chi2grid import templates_from_workspace
from higgs_pyhf.plotting import GENERATED_DATA_LABEL, GENERATED_LABEL
from higgs_pyhf.report import (
    PLOT_KINDS,
    PRINTED,
    ReportResult,
    Reproduction,
    make_plots,
    make_report,
    read_inputs,
    report_figure,
    reproduce,
    run_stages,
)
from higgs_pyhf.report.inference_sections import fit_section
from higgs_pyhf.report.inputs import data_label_from_provenance, edges_from_provenance
from higgs_pyhf.workspace import save_workspace

ROOT = Path(__file__).resolve().parents[1]
REAL_WS = ROOT / "workspaces" / "hzz4l_atlas.json"
FIGURES = {
    "prefit",
    "contour",
    "postfit",
    "gof_toys",
    "critical_value",
    "scan_s_s",
    "scan_s_b",
}
#: Figures of the diagnostics section (two-normfactor model: no nuisances, so no pulls/impacts).
DIAGNOSTICS = {"yields_hzz4l_m4l", "brazil", "toy_contour"}
#: ... and of a model with nuisance parameters.
NUISANCE_DIAGNOSTICS = {"pulls", "impacts", "correlations"}


def report_figures(figures):
    """The report's own figures (without the diagnostics section's)."""
    return set(figures) - DIAGNOSTICS - NUISANCE_DIAGNOSTICS


#: The report's printed numbers: key → values, decimals (its text, PRINTED, must say the same).
REPORT = {
    "chi2_per_dof_before": ((1.598,), (3,)),
    "p_before": ((0.014877,), (6,)),
    "s_s_1d": ((2.01, 0.76), (2, 2)),
    "chi2_per_dof_s_s_1d": ((1.558,), (3,)),
    "s_b_1d": ((1.302, 0.076), (3, 3)),
    "chi2_per_dof_s_b_1d": ((1.018,), (3,)),
    "s_s_2d": ((1.39, 1.16, 0.87), (2, 2, 2)),
    "s_b_2d": ((1.29, 0.12, 0.11), (2, 2, 2)),
    "chi2_per_dof_2d": ((1.039,), (3,)),
    "p_after": ((0.40642,), (5,)),
    "chi2_after": ((33.244,), (3,)),
}
WILKS_68 = float(stats.chi2.ppf(stats.chi2.cdf(1.0, 1), 2))  # 2.2958


# --------------------------------------------------------------------------- independent references


def _twice_nll(theta, sig, bkg, n) -> float:
    nu = theta[0] * sig + theta[1] * bkg
    return float(2.0 * np.sum(nu - n * np.log(nu)))


def _deviance(nu, n) -> float:
    return float(
        2.0 * np.sum(nu - n + np.where(n > 0, n * np.log(np.where(n > 0, n, 1) / nu), 0.0))
    )


def _crossings(f, best: float, fmin: float, span: float) -> tuple[float, float]:
    g = lambda x: f(x) - fmin - 1.0  # noqa: E731
    return (
        optimize.brentq(g, max(best - span, 1e-6), best, xtol=1e-10),
        optimize.brentq(g, best, best + span, xtol=1e-10),
    )


def _scipy_references(sig, bkg, n) -> dict[str, tuple[float, ...]]:
    """ML fits of a hand-written Poisson likelihood (scipy): values, −err, +err, and deviances."""
    both = optimize.minimize(
        _twice_nll,
        x0=[1.0, 1.0],
        args=(sig, bkg, n),
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 10_000},
    )
    s_hat, b_hat = both.x

    def prof(k: int, x: float) -> float:
        def at(y: float) -> float:
            return _twice_nll([x, y] if k == 0 else [y, x], sig, bkg, n)

        return float(
            optimize.minimize_scalar(
                at, bounds=(0.05, 5.0), method="bounded", options={"xatol": 1e-10}
            ).fun
        )

    lo_s, hi_s = _crossings(lambda x: prof(0, x), s_hat, both.fun, 3.0)
    lo_b, hi_b = _crossings(lambda x: prof(1, x), b_hat, both.fun, 0.5)
    out = {
        "s_s_2d": (s_hat, s_hat - lo_s, hi_s - s_hat),
        "s_b_2d": (b_hat, b_hat - lo_b, hi_b - b_hat),
        "deviance_2d": (_deviance(s_hat * sig + b_hat * bkg, n),),
        "deviance_before": (_deviance(sig + bkg, n),),
    }
    for key, k in (("s_s_1d", 0), ("s_b_1d", 1)):

        def cond(x: float, k: int = k) -> float:
            return _twice_nll([x, 1.0] if k == 0 else [1.0, x], sig, bkg, n)

        r = optimize.minimize_scalar(
            cond, bounds=(0.01, 5.0), method="bounded", options={"xatol": 1e-10}
        )
        lo, hi = _crossings(cond, r.x, r.fun, 3.0 if k == 0 else 0.5)
        out[key] = (r.x, r.x - lo, hi - r.x)
        nu = r.x * sig + bkg if k == 0 else sig + r.x * bkg
        out[f"deviance_{key}"] = (_deviance(nu, n),)
    return out


@pytest.fixture(scope="module")
def real_templates():
    return templates_from_workspace(REAL_WS)


@pytest.fixture(scope="module")
def api_reproduction(real_templates) -> Reproduction:
    return reproduce(*real_templates, ntoys=3000, seed=11)


@pytest.fixture(scope="module")
def cli_report(tmp_path_factory):
    """``python -m higgs_pyhf report workspaces/hzz4l_atlas.json -o DIR`` with the default toys."""
    outdir = tmp_path_factory.mktemp("real_report")
    res = CliRunner().invoke(main, ["report", str(REAL_WS), "-o", str(outdir)])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert set(summary) == {"report", "results", "figures", "skipped", "seconds"}
    return ReportResult(
        report=Path(summary["report"]),
        results=Path(summary["results"]),
        figures={k: Path(v) for k, v in summary["figures"].items()},
        skipped=summary["skipped"],
        seconds=summary["seconds"],
    )


def _check_against_report(rep: Reproduction) -> None:
    for key, (values, digits) in REPORT.items():
        row = rep.row(key)
        assert row.printed_values == values
        assert row.digits == digits
        assert row.agrees, (key, row.report_method)
        for v, p, d in zip(row.report_method, values, digits, strict=False):
            assert abs(v - p) <= 0.5 * 10.0**-d + 1e-12, (key, v, p)
    crit = rep.row("critical_value")
    assert crit.printed == "≈3.3"
    assert crit.agrees
    value, lo, hi, spread_lo, spread_hi = crit.report_method
    assert lo <= value <= hi
    assert abs(value - 3.3) <= 0.1 or spread_lo <= 3.3 <= spread_hi
    assert rep.all_agree
    assert rep.grid_edges == {}  # the report's grids contain its intervals and contour


# --------------------------------------------------------------------------- the report's numbers


def test_printed_table_is_the_report(real_templates) -> None:
    assert set(PRINTED) == {*REPORT, "critical_value"}
    for key, (values, digits) in REPORT.items():
        text = PRINTED[key][1]
        assert [float(x) for x in re.findall(r"\d+\.\d+", text)] == list(values)
        assert [len(x.split(".")[1]) for x in re.findall(r"\d+\.\d+", text)] == list(digits)


def test_reproduce_api_matches_the_report(api_reproduction) -> None:
    _check_against_report(api_reproduction)
    rep = api_reproduction
    # more digits than printed: the report's own code output (its notebook prints them)
    assert rep.row("chi2_per_dof_before").report_method[0] == pytest.approx(
        1.597845078902861, rel=1e-6
    )
    assert rep.row("chi2_per_dof_s_s_1d").report_method[0] == pytest.approx(
        1.5577434806307726, rel=1e-6
    )
    assert rep.row("chi2_per_dof_s_b_1d").report_method[0] == pytest.approx(
        1.0184456820283405, rel=1e-6
    )
    assert rep.row("chi2_per_dof_2d").report_method[0] == pytest.approx(1.038884905786871, rel=1e-6)
    assert rep.row("chi2_after").report_method[0] == pytest.approx(33.24431698517987, rel=1e-6)
    s, up, dn = rep.row("s_s_2d").report_method
    assert (s, up, dn) == pytest.approx((1.3869, 1.1556, 0.86667), abs=5e-5)
    b, up, dn = rep.row("s_b_2d").report_method
    assert (b, up, dn) == pytest.approx((1.2899, 0.11717, 0.10909), abs=5e-6)
    assert Reproduction.from_json(json.loads(json.dumps(rep.to_json()))) == rep


def test_likelihood_column_against_scipy(api_reproduction, real_templates) -> None:
    sig, bkg, n = real_templates
    ref = _scipy_references(sig, bkg, n)
    rep = api_reproduction
    for key in ("s_s_1d", "s_b_1d", "s_s_2d", "s_b_2d"):
        value, minus, plus = rep.row(key).likelihood
        r_value, r_minus, r_plus = ref[key]
        assert value == pytest.approx(r_value, abs=2e-4), key
        assert minus == pytest.approx(r_minus, abs=2e-3), (
            key
        )  # Minos vs brentq on the hand-written profile
        assert plus == pytest.approx(r_plus, abs=2e-3), key
    nb = n.size
    assert rep.row("chi2_per_dof_before").likelihood[0] == pytest.approx(
        ref["deviance_before"][0] / nb, rel=1e-9
    )
    assert rep.row("p_before").likelihood[0] == pytest.approx(
        stats.chi2.sf(ref["deviance_before"][0], nb), rel=1e-8
    )
    for key in ("s_s_1d", "s_b_1d"):
        row = rep.row(f"chi2_per_dof_{key}")
        assert row.likelihood[0] == pytest.approx(ref[f"deviance_{key}"][0] / (nb - 1), rel=1e-6)
    dev = ref["deviance_2d"][0]
    assert rep.row("chi2_after").likelihood[0] == pytest.approx(dev, rel=1e-6)
    assert rep.row("chi2_per_dof_2d").likelihood[0] == pytest.approx(dev / (nb - 2), rel=1e-6)
    assert rep.row("p_after").likelihood[0] == pytest.approx(stats.chi2.sf(dev, nb - 2), rel=1e-5)


def test_likelihood_critical_value_is_wilks(api_reproduction) -> None:
    crit, lo, hi, expected = api_reproduction.row("critical_value").likelihood
    assert expected == pytest.approx(WILKS_68, rel=1e-6)
    assert lo <= crit <= hi
    # 3000 toys: Wilks' 2.30 within three times the 68% band of the toy quantile
    half = 0.5 * (hi - lo)
    assert abs(crit - WILKS_68) <= 3 * half


def test_reproduce_without_toys(real_templates) -> None:
    rep = reproduce(*real_templates, toys=False)
    crit = rep.row("critical_value")
    assert crit.agrees is None
    assert math.isnan(crit.report_method[0])
    assert rep.all_agree  # every computed number
    assert rep.to_json()["rows"][-1]["report_method"] == [None]


# --------------------------------------------------------------------------- the CLI on the real workspace


@pytest.mark.slow  # the report command (shares the cli_report run)
def test_cli_report_reproduces_the_report(cli_report) -> None:
    obj = json.loads(cli_report.results.read_text(encoding="utf-8"))
    rep = Reproduction.from_json(obj["reproduction"])
    _check_against_report(rep)
    # with the default 10000 toys and seed, Wilks' 2.30 agrees with the toys' critical value
    # within three times the half-width of its 68% band (~1 sigma of the toy quantile), as in
    # the API test above. Not "inside the band": a 68% band holds the true value (2.304 with
    # 10^6 toys) for ~68% of seeds only, whichever Poisson sampler draws the toys (measured
    # over 100 seeds: numpy's and the inversion sampler both give |z| > 2 in 5% of them)
    crit, lo, hi, _ = rep.row("critical_value").likelihood
    assert abs(crit - WILKS_68) <= 3 * 0.5 * (hi - lo)
    assert rep.settings["ntoys"] == 10_000
    assert obj["data_label"] == "ATLAS Open Data"
    assert obj["generated"] is False
    assert cli_report.skipped == {}
    assert cli_report.seconds < 60


@pytest.mark.slow  # the report command (shares the cli_report run)
def test_cli_report_markdown(cli_report) -> None:
    text = cli_report.report.read_text(encoding="utf-8")
    head = text.split("## ")[0]
    assert head.startswith("# H→ZZ*→4ℓ: the report reproduced")
    assert "**Data: ATLAS Open Data** — real proton–proton collision events" in head
    assert GENERATED_LABEL not in text
    # the table comes first, with every number of the report
    first_section = text.split("## ")[1]
    assert first_section.startswith("The report's numbers, reproduced")
    assert (
        "| quantity | report (printed) | this tool, report's method | agrees | this tool, Poisson likelihood |"
        in text
    )
    assert "| χ²/dof before the fit (s_s = s_b = 1) | 1.598 | 1.59785 | ✓ |" in text
    assert "| p-value after the fit | 0.40642 | 0.4064223 | ✓ |" in text
    assert "(parabola at Δχ² = 1, s_b = 1)" in text
    assert "(grid slice at Δχ² ≤ 2.3)" in text
    assert "(Minos Δ(−2lnL) = 1, s_b = 1)" in text
    assert "(profile/Minos Δ(−2lnL) = 1)" in text
    assert "**12 of 12 computed numbers agree with the report**" in text
    assert "no interval or contour of the report's method is cut" in text
    assert "## Toy studies (§2.5 and §2.6)" in text
    assert "Seeds: coverage_likelihood " in text
    assert "{" not in text.split("## Toy studies")[1].split("##")[0]  # no unformatted template left
    for printed in (v[1] for v in PRINTED.values()):
        assert f"| {printed} |" in text


@pytest.mark.slow  # the report command (shares the cli_report run)
def test_cli_report_figures(cli_report) -> None:
    assert set(cli_report.figures) == FIGURES | DIAGNOSTICS
    text = cli_report.report.read_text(encoding="utf-8")
    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(refs) == len(FIGURES | DIAGNOSTICS)
    for ref in refs:
        png = cli_report.report.parent / ref
        img = matplotlib.image.imread(png)
        assert img.ndim == 3
        assert min(img.shape[:2]) > 400
        assert img.std() > 0.01


@pytest.mark.slow  # the report command (shares the cli_report run)
def test_results_json_uses_the_commands_schemas(cli_report) -> None:
    """Each result in results.json is what its own command prints (one schema per result)."""
    obj = json.loads(cli_report.results.read_text(encoding="utf-8"))
    res = obj["results"]
    assert set(obj) == {
        "workspace",
        "data_label",
        "generated",
        "reproduction",
        "results",
        "settings",
        "skipped",
        "figures",
    }
    assert set(res) == {
        "chi2_grid",
        "likelihood_fits",
        "scan",
        "contour",
        "toys_gof",
        "toys_coverage",
        "compare",
        "gof",
        "significance",
        "diagnostics",
    }
    assert set(res["diagnostics"]) == {"yields", "toy_contour"}  # no nuisance parameters
    runner = CliRunner()
    grid = json.loads(runner.invoke(main, ["chi2-grid", str(REAL_WS), "--full"]).stdout)
    assert res["chi2_grid"] == grid
    fit = json.loads(
        runner.invoke(main, ["fit", str(REAL_WS), "--minos", "s_s", "--minos", "s_b"]).stdout
    )
    assert set(res["likelihood_fits"]["fit"]) == set(fit)
    for p in ("s_s", "s_b"):
        assert res["likelihood_fits"]["fit"]["parameters"][p]["value"] == pytest.approx(
            fit["parameters"][p]["value"], abs=1e-5
        )
    cov = json.loads(
        runner.invoke(main, ["toys", "coverage", str(REAL_WS), "--ntoys", "200"]).stdout
    )
    assert set(res["toys_coverage"]["likelihood"]) == set(cov)
    gof = json.loads(runner.invoke(main, ["gof", str(REAL_WS)]).stdout)
    assert set(res["gof"]) == set(gof)


# --------------------------------------------------------------------------- generated input, grid edges


def _edge_spec() -> tuple[dict, np.ndarray]:
    """A weak-signal generated model: the report's s_s grids cut the s_s intervals and the contour."""
    edges = np.linspace(80.0, 250.0, 35)
    c = 0.5 * (edges[1:] + edges[:-1])
    bkg = (
        3.0 + 22.0 * np.exp(-0.5 * ((c - 91.0) / 4.0) ** 2) + 4.0 / (1 + np.exp(-(c - 185.0) / 6.0))
    )
    sig = 3.0 * np.diff(norm.cdf((edges - 125.0) / 2.0)) + 1e-3
    data = np.random.default_rng(5).poisson(0.3 * sig + 1.3 * bkg).astype(float)
    return build_workspace(sig, bkg, data, measurement_name="hzz4l_generated"), edges


@pytest.fixture(scope="module")
def edge_workspace(tmp_path_factory) -> Path:
    spec, edges = _edge_spec()
    path = tmp_path_factory.mktemp("edge") / "hzz4l_generated.json"
    prov = {
        "generated": True,
        "data_label": GENERATED_DATA_LABEL,
        "config": {"edges": edges.tolist(), "lumi_fb": 10.0},
    }
    save_workspace(spec, path, provenance=prov)
    return path


@pytest.mark.slow  # a whole report run
def test_grid_edges_on_generated_input(edge_workspace, tmp_path) -> None:
    result = make_report(edge_workspace, tmp_path / "out", ntoys=500, seed=3, upper_limit=False)
    text = result.report.read_text(encoding="utf-8")
    assert "**Data: Generated (not ATLAS data)**" in text
    assert GENERATED_LABEL in text
    assert "agreement is not expected" in text
    assert "**Grid edges** — the report's grid cuts:" in text
    assert "- `contour_2d`: the Δχ² = 2.3 contour is cut by the grid edge at s_s = 0.1" in text
    assert "- `s_s_2d`: the Δχ² ≤ 2.3 slice reaches the grid edge s_s = 0.1" in text
    assert "- `s_s_1d`: the best grid point is on the grid edge s_s = 1" in text
    assert text.count("⚠ grid edge") == 2  # the two s_s rows of the table
    obj = json.loads(result.results.read_text(encoding="utf-8"))
    assert obj["data_label"] == GENERATED_DATA_LABEL
    edges = obj["reproduction"]["grid_edges"]
    assert set(edges) == {"contour_2d", "s_s_2d", "s_s_1d"}
    rows = {r["key"]: r for r in obj["reproduction"]["rows"]}
    assert rows["s_s_2d"]["grid_edge"] == edges["s_s_2d"]
    assert rows["s_b_2d"]["grid_edge"] == ""
    assert report_figures(result.figures) == FIGURES


def test_grid_edges_drawn_on_the_figures(edge_workspace) -> None:
    inputs = read_inputs(edge_workspace)
    results, skipped = run_stages(inputs, {"contour", "scan"})
    contour = report_figure("contour", inputs, results, skipped)
    left = contour.axes[0]
    labels = [t.get_text() for t in left.get_legend().get_texts()]
    assert any(lab.startswith("Grid edge: the Δχ² = 2.3 contour is cut") for lab in labels)
    red = [ln for ln in left.lines if ln.get_color() == "#b00000"]
    assert red  # the cut edge of the grid, in red
    assert all(np.allclose(ln.get_ydata(), 0.1) for ln in red)
    scan = report_figure("scan_s_s", inputs, results, skipped)
    assert any(
        "Report's grid: the best grid point" in t.get_text()
        for t in scan.axes[0].get_legend().get_texts()
    )
    clean = report_figure("scan_s_b", inputs, results, skipped)
    assert not any("grid edge" in t.get_text() for t in clean.axes[0].get_legend().get_texts())
    assert any(t.get_text() == GENERATED_LABEL for t in contour.texts)


# --------------------------------------------------------------------------- other workspaces, plot command


@pytest.mark.slow  # a whole report run
def test_report_without_provenance_and_with_lumi(tmp_path) -> None:
    """A 6-bin two-normfactor workspace with a lumi modifier and no provenance file."""
    ws = tmp_path / "small.json"
    spec = build_workspace(
        [0.5, 2.0, 4.0, 2.0, 0.5, 0.1],
        [20, 15, 12, 10, 9, 8],
        [25, 22, 20, 15, 11, 9],
        measurement_name="small",
        lumi_uncertainty=0.02,
    )
    save_workspace(spec, ws)
    result = make_report(
        ws, tmp_path / "out", quick=True, n_points_1d=31, n_points_2d=(21, 21), upper_limit=False
    )
    text = result.report.read_text(encoding="utf-8")
    assert "**Data: Data** — no provenance file" in text
    assert "origin not recorded" in text
    assert "bin edges not recorded" in text
    assert (
        "lumi" in result.skipped["chi2_grid"]
    )  # the report's method needs the pure two-normfactor model
    assert "reproduction" in result.skipped
    assert "toys" in result.skipped
    assert "## The report's numbers" not in text
    assert "## Skipped sections" in text
    assert "## Maximum-likelihood fit" in text
    assert report_figures(result.figures) == {
        "prefit",
        "contour",
        "postfit",
        "scan_s_s",
        "scan_s_b",
    }
    assert set(result.figures) >= NUISANCE_DIAGNOSTICS  # lumi is a nuisance parameter
    obj = json.loads(result.results.read_text(encoding="utf-8"))
    assert obj["reproduction"] is None
    assert obj["generated"] is None
    assert "lumi" in obj["results"]["likelihood_fits"]["fit"]["parameters"]
    assert set(obj["results"]["significance"]) == {"discovery", "cls"}


def test_make_plots_kinds(edge_workspace, tmp_path) -> None:
    figs = make_plots(edge_workspace, tmp_path / "figs", kinds=["prefit"])
    assert set(figs) == {"prefit"}
    assert matplotlib.image.imread(figs["prefit"]).shape[0] > 200
    with pytest.raises(ValueError, match="unknown plot kind"):
        make_plots(edge_workspace, tmp_path, kinds=["histogram"])
    assert PLOT_KINDS == ("prefit", "contour", "postfit", "gof", "coverage", "scan")


@pytest.mark.slow  # every figure of the plot command
def test_cli_plot_quick_and_errors(edge_workspace, tmp_path) -> None:
    runner = CliRunner()
    res = runner.invoke(
        main,
        [
            "plot",
            str(edge_workspace),
            "--figdir",
            str(tmp_path / "f"),
            "--kind",
            "coverage",
            "--ntoys",
            "300",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert list(out["figures"]) == ["critical_value"]
    assert Path(out["figures"]["critical_value"]).is_file()
    res = runner.invoke(
        main,
        ["report", str(edge_workspace), "-o", str(tmp_path / "q"), "--quick", "--no-upper-limit"],
    )
    assert res.exit_code == 0, res.output
    assert "toys" in json.loads(res.stdout)["skipped"]
    assert not (tmp_path / "q" / "gof_toys.png").exists()
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    res = runner.invoke(main, ["plot", str(bad), "--figdir", str(tmp_path / "g")])
    assert res.exit_code == 1
    assert res.stderr.startswith("Error: workspace file")


# --------------------------------------------------------------------------- inputs, sections, rooms


def test_data_label_and_edges_from_provenance() -> None:
    assert data_label_from_provenance({"generated": False, "data_label": "ATLAS Open Data"}) == (
        False,
        "ATLAS Open Data",
    )
    assert data_label_from_provenance({"generated": True}) == (True, GENERATED_DATA_LABEL)
    assert data_label_from_provenance({"generated": False}) == (False, "ATLAS Open Data")
    assert data_label_from_provenance({}, "hzz4l_generated") == (True, GENERATED_DATA_LABEL)
    assert data_label_from_provenance({}, "hzz4l") == (None, "Data")
    config_edges, top_edges = list(range(0, 70, 10)), list(range(6, 13))
    np.testing.assert_array_equal(
        edges_from_provenance({"config": {"edges": config_edges}, "edges": top_edges}, 6),
        config_edges,
    )
    np.testing.assert_array_equal(edges_from_provenance({"edges": top_edges}, 6), top_edges)
    assert edges_from_provenance({"edges": [0, 1]}, 6) is None
    assert edges_from_provenance({}, 6) is None


def test_fit_table_summarises_vector_parameters() -> None:
    from higgs_pyhf.inference.results import FitResult

    labels = ("lumi", "s_b", "s_s", "staterror_c[0]", "staterror_c[1]", "staterror_c[2]")
    fit = FitResult(
        labels=labels,
        bestfit=np.array([1.0, 1.3, 1.4, 0.98, 1.0, 1.03]),
        uncertainty=np.array([0.02, 0.1, 0.5, 0.05, 0.04, 0.06]),
        correlation=np.eye(6),
        twice_nll=123.0,
        converged=True,
        minos={"s_s": (-0.4, 0.5)},
    )
    text = fit_section(fit)
    table_rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert [r.split("|")[1].strip() for r in table_rows] == ["`s_s`", "`s_b`", "`lumi`"]
    assert "1.400 +0.500 −0.400" in text
    assert "`staterror_c`: 3 parameters, best fits in [0.9800, 1.0300]" in text


def test_report_package_rooms() -> None:
    """The report imports its stages plainly and each module stays readable in one sitting."""
    import higgs_pyhf.report as report

    for path in Path(report.__file__).parent.glob("*.py"):
        src = path.read_text(encoding="utf-8")
        assert "importlib" not in src, path.name
        assert "ImportError" not in src, path.name
        assert len(src.splitlines()) <= 400, path.name


def _quick_report(ws: Path, out: Path) -> tuple[str, dict]:
    """``report ws -o out --quick`` through the CLI: (report.md, results.json)."""
    from click.testing import CliRunner

    from higgs_pyhf.cli import main

    r = CliRunner().invoke(main, ["--no-progress", "report", str(ws), "-o", str(out), "--quick"])
    assert r.exit_code == 0, r.output
    md = (out / "report.md").read_text()
    return md, json.loads((out / "results.json").read_text())


@pytest.mark.slow  # a whole report run
def test_report_on_a_model_with_nuisances_has_the_diagnostics(tmp_path):
    ws = Path(__file__).resolve().parents[1] / "workspaces" / "hzz4l_atlas_syst.json"
    out = tmp_path / "syst"
    md, res = _quick_report(ws, out)
    for title in ("## Diagnostics", "### Impacts on the parameter of interest", "Brazil plot"):
        assert title in md
    assert "Toy-calibrated" not in md  # --quick skips the toy studies
    for name in ("pulls", "impacts", "correlations", "brazil", "yields_hzz4l_m4l"):
        assert (out / f"{name}.png").is_file(), name
    impacts = res["results"]["diagnostics"]["impacts"]
    names = {i["parameter"] for i in impacts["impacts"]}
    assert names == {"lumi", "signal_theory", "background_norm", "s_b"}
    total, stat, syst = (impacts["uncertainty"][k] for k in ("total", "stat", "syst"))
    assert total**2 == pytest.approx(stat**2 + syst**2, rel=1e-9)


@pytest.mark.slow  # a whole report run
def test_report_on_several_channels_runs_the_likelihood_parts(tmp_path):
    ws = Path(__file__).resolve().parents[1] / "workspaces" / "hzz4l_generated_syst_channels.json"
    out = tmp_path / "channels"
    md, res = _quick_report(ws, out)
    assert "| `hzz4l_m4l_4e` | 34 |" in md
    assert "## Maximum-likelihood fit" in md
    assert "## Diagnostics" in md
    for ch in ("4e", "2e2mu", "4mu"):
        assert (out / f"yields_hzz4l_m4l_{ch}.png").is_file()
    assert res["reproduction"] is None
    assert "one channel" in res["skipped"]["reproduction"]


def test_report_on_a_workspace_whose_poi_is_not_s_s(tmp_path):
    text = (Path(__file__).resolve().parents[1] / "workspaces" / "hzz4l_atlas.json").read_text()
    ws = tmp_path / "mu.json"
    ws.write_text(text.replace('"s_s"', '"mu"'))
    out = tmp_path / "mu"
    md, _ = _quick_report(ws, out)
    assert "POI `mu`" in md
    assert "| `mu` |" in md  # the fit table holds the model's own POI
    assert (out / "brazil.png").is_file()
