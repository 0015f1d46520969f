from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from click.testing import CliRunner
from scipy.stats import norm

from higgs_pyhf.cli import main
from higgs_pyhf.report import PLOT_KINDS, ReportResult, make_plots, make_report
from higgs_pyhf.workspace import build_workspace, save_workspace

#: Stages make_report runs; each ends up in results.json or under "skipped".
STAGES = {"fit", "scans_1d", "scan_2d", "chi2grid", "compare", "gof", "significance"}
FIGURES = {"prefit", "postfit", "scan_s_s", "scan_s_b", "contour_likelihood", "contour_chi2grid"}


def report_like_spec(seed: int = 3, measurement_name: str = "hzz4l_generated") -> dict:
    """34 bins 80–250 GeV: Z peak ~20–25/bin near 91 GeV, ~2.5/bin near 125, ZZ rise to ~7/bin; 8 signal events."""
    edges = np.linspace(80.0, 250.0, 35)
    c = 0.5 * (edges[1:] + edges[:-1])
    bkg = (
        3.0 + 22.0 * np.exp(-0.5 * ((c - 91.0) / 4.0) ** 2) + 4.0 / (1 + np.exp(-(c - 185.0) / 6.0))
    )
    bkg = bkg - 0.6 * np.exp(-0.5 * ((c - 140.0) / 30.0) ** 2)
    sig = 8.0 * np.diff(norm.cdf((edges - 125.0) / 2.0)) + 1e-3
    data = np.random.default_rng(seed).poisson(1.4 * sig + 1.3 * bkg).astype(float)
    return build_workspace(sig, bkg, data, measurement_name=measurement_name)


@pytest.fixture(scope="module")
def workspace_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ws") / "hzz4l_generated.json"
    save_workspace(report_like_spec(), path, provenance={"generated": True, "lumi_fb": 10.0})
    return path


@pytest.fixture(scope="module")
def report(workspace_file, tmp_path_factory) -> ReportResult:
    """One full report, run through the CLI (the library call is what the command wraps)."""
    outdir = tmp_path_factory.mktemp("report")
    res = CliRunner().invoke(main, ["report", str(workspace_file), "-o", str(outdir)])
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


def test_report_writes_markdown_json_and_figures(report) -> None:
    assert report.report.name == "report.md"
    assert report.results.name == "results.json"
    text = report.report.read_text(encoding="utf-8")
    assert text.startswith("# H→ZZ*→4ℓ inference report")
    assert "Generated input" in text
    assert "34 bins of m4l from 80 to 250 GeV" in text
    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert set(report.figures) == FIGURES
    assert len(refs) == len(report.figures)
    for ref in refs:
        png = report.report.parent / ref
        assert png.is_file(), ref
        img = matplotlib.image.imread(png)
        assert img.ndim == 3
        assert min(img.shape[:2]) > 200
        assert img.std() > 0.01
    assert report.seconds < 60


def test_results_json(report) -> None:
    obj = json.loads(report.results.read_text(encoding="utf-8"))
    assert set(obj) == {"workspace", "generated", "results", "skipped", "figures"}
    assert obj["generated"] is True
    assert set(obj["results"]) == STAGES
    assert obj["skipped"] == {}
    assert set(obj["figures"].values()) == {p.name for p in report.figures.values()}
    for reason in obj["skipped"].values():
        assert reason  # every skipped section says why


def test_results_numbers_are_consistent(report, workspace_file) -> None:
    """The numbers in results.json against independent evaluations on the same histograms."""
    obj = json.loads(report.results.read_text(encoding="utf-8"))["results"]
    spec = json.loads(workspace_file.read_text(encoding="utf-8"))
    sig, bkg = (np.array(s["data"]) for s in spec["channels"][0]["samples"])
    n = np.array(spec["observations"][0]["data"])
    grid = obj["chi2grid"]
    # before fit: the report's Pearson chi2 at s_s = s_b = 1 with dof = nbins
    assert grid["before_fit"]["chi2"] == pytest.approx(
        np.sum((n - sig - bkg) ** 2 / (sig + bkg)), rel=1e-12
    )
    assert grid["before_fit"]["dof"] == 34
    if "fit" in obj:
        pars = obj["fit"]["parameters"]
        s_s, s_b = pars["s_s"]["value"], pars["s_b"]["value"]
        # the fitted s_s/s_b maximise the Poisson likelihood: Σ(n/ν − 1)·template = 0
        nu = s_s * sig + s_b * bkg
        assert np.sum((n / nu - 1) * sig) == pytest.approx(0.0, abs=2e-3 * np.sum(sig))
        assert np.sum((n / nu - 1) * bkg) == pytest.approx(0.0, abs=2e-3 * np.sum(bkg))
        lo, hi = pars["s_s"]["minos"]
        assert lo < 0 < hi
    if "scans_1d" in obj:
        prof = obj["scans_1d"]["s_s_profile"]
        assert prof["kind"] == "profile"
        assert prof["interval"][0] < prof["bestfit"] < prof["interval"][1]
        if "fit" in obj:
            assert prof["bestfit"] == pytest.approx(
                obj["fit"]["parameters"]["s_s"]["value"], abs=0.05
            )


def test_report_markdown_tables(report) -> None:
    text = report.report.read_text(encoding="utf-8")
    assert "## The seed report's grid χ² method" in text
    assert "0.014877" in text  # the seed report's before-fit p-value for reference
    if "fit" not in report.skipped:
        assert "## Maximum-likelihood fit" in text
        assert "| `s_s` |" in text
    for name, reason in report.skipped.items():
        assert f"**{name}**: {reason}" in text


def test_make_plots_prefit_only(workspace_file, tmp_path) -> None:
    figs = make_plots(workspace_file, tmp_path / "figs", kinds=["prefit"])
    assert set(figs) == {"prefit"}
    assert matplotlib.image.imread(figs["prefit"]).shape[0] > 200
    with pytest.raises(ValueError, match="unknown plot kind"):
        make_plots(workspace_file, tmp_path, kinds=["histogram"])
    assert set(PLOT_KINDS) == {"prefit", "postfit", "scan", "contour"}


def test_cli_plot_and_errors(workspace_file, tmp_path) -> None:
    runner = CliRunner()
    res = runner.invoke(
        main, ["plot", str(workspace_file), "--figdir", str(tmp_path / "f"), "--kind", "prefit"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert list(out["figures"]) == ["prefit"]
    assert Path(out["figures"]["prefit"]).is_file()

    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    res = runner.invoke(main, ["plot", str(bad), "--figdir", str(tmp_path / "g")])
    assert res.exit_code == 1
    assert res.stderr.startswith("Error: workspace file")


def test_report_library_small_workspace(tmp_path) -> None:
    """make_report on a 6-bin workspace whose bin edges are unknown (plotted against bin index)."""
    ws = tmp_path / "small.json"
    spec = build_workspace(
        [0.5, 2.0, 4.0, 2.0, 0.5, 0.1],
        [20, 15, 12, 10, 9, 8],
        [25, 22, 20, 15, 11, 9],
        measurement_name="small",
        lumi_uncertainty=0.02,
    )
    save_workspace(spec, ws)
    figs = make_plots(ws, tmp_path / "figs", kinds=["prefit"])
    assert matplotlib.image.imread(figs["prefit"]).ndim == 3
    result = make_report(
        ws, tmp_path / "out", n_points_1d=51, n_points_2d=(41, 31), upper_limit=False
    )
    text = result.report.read_text(encoding="utf-8")
    assert "unrecorded origin" in text  # no provenance file, no "generated" in the name
    assert "bin edges unknown" in text
    # the report's chi2 method needs the pure two-normfactor model: skipped with a note, not a crash
    assert "chi2grid" in result.skipped
    assert "lumi" in result.skipped["chi2grid"]
    assert "contour_chi2grid" not in result.figures
    assert "## Skipped sections" in text
    assert "## Maximum-likelihood fit" in text
    assert "(41 × 31 grid)" in text
    scan = json.loads(result.results.read_text(encoding="utf-8"))["results"]["scan_2d"]
    assert len(scan["x_values"]) == 41
    assert len(scan["y_values"]) == 31
    obj = json.loads(result.results.read_text(encoding="utf-8"))
    assert "lumi" in obj["results"]["fit"]["parameters"]
    assert set(obj["results"]["significance"]) == {"discovery", "cls"}  # upper limit not requested


def test_missing_inference_module_is_skipped(workspace_file, tmp_path, monkeypatch, caplog) -> None:
    """A stage whose module is absent is skipped with a logged reason, not a crash."""
    import higgs_pyhf.report as report_mod

    real = report_mod._module

    def fake(name: str):
        if name == "fit":
            msg = "No module named 'higgs_pyhf.inference.fit'"
            raise ModuleNotFoundError(msg)
        return real(name)

    monkeypatch.setattr(report_mod, "_module", fake)
    with caplog.at_level("WARNING", logger="higgs_pyhf.report"):
        figs = make_plots(workspace_file, tmp_path, kinds=["prefit", "postfit"])
    assert set(figs) == {"prefit"}
    assert "fit" in caplog.text
    assert "not available" in caplog.text


def test_fit_table_summarises_vector_parameters() -> None:
    from higgs_pyhf.inference.results import FitResult
    from higgs_pyhf.report import _fit_section

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
    text = _fit_section(fit)
    table_rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert [r.split("|")[1].strip() for r in table_rows] == ["`s_s`", "`s_b`", "`lumi`"]
    assert "1.400 +0.500 −0.400" in text
    assert "`staterror_c`: 3 parameters, best fits in [0.9800, 1.0300]" in text
