"""Honest labels: the ATLAS/√s/H→4ℓ header only for the shipped model; any workspace draws neutrally."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pyhf
import pytest
from _helpers import weighted
from click.testing import CliRunner

import higgs_pyhf
from higgs_pyhf.cli import main
from higgs_pyhf.plotting._style import (
    GENERATED_DATA_LABEL,
    GENERATED_LABEL,
    REAL_DATA_LABEL,
    header_text,
    is_generated_label,
    sample_colors,
    sample_labels,
)
from higgs_pyhf.plotting.stacks import plot_stacked, ratio_limits
from higgs_pyhf.workspace import save_workspace

#: What no output of an outside workspace may say.
FORBIDDEN = ("ATLAS", "13 TeV", "H→ZZ", "ZZ^*", "4ℓ", r"4\ell", "Higgs")


def test_header_only_from_the_shipped_provenance_labels():
    real = header_text(REAL_DATA_LABEL, lumi_fb=10.0)
    assert real.startswith("ATLAS Open Data")
    assert "√s = 13 TeV, 10 fb" in real
    assert "ZZ" in real
    assert "13 TeV" in header_text(GENERATED_DATA_LABEL)
    for label in ("Data", "Pseudo-data", "Data (origin not recorded)", None):
        assert header_text(label) == ""
        assert header_text(label, lumi_fb=3.2) == "3.2 fb$^{-1}$"
    custom = header_text("Data", label="MyExp Internal", energy=13.6, lumi_fb=140, title="ttH")
    assert custom == "MyExp Internal    √s = 13.6 TeV, 140 fb$^{-1}$    ttH"
    assert header_text(REAL_DATA_LABEL, title="") == "ATLAS Open Data    √s = 13 TeV"


def test_pseudo_data_is_not_the_generators_label():
    assert not is_generated_label("Pseudo-data")
    assert not is_generated_label("pseudo-data (Asimov)")
    assert is_generated_label(GENERATED_DATA_LABEL)


def test_sample_names_and_colours_come_from_the_workspace():
    names = sample_labels(("background", "signal", "ttbar"), "Data", {"ttbar": r"$t\bar{t}$"})
    assert names == {"background": "background", "signal": "signal", "ttbar": r"$t\bar{t}$"}
    assert "Higgs" in sample_labels(("signal",), REAL_DATA_LABEL)["signal"]
    colors = sample_colors(("wjets", "signal", "ttbar"), {"ttbar": "red"})
    assert colors["ttbar"] == "red"
    assert colors["wjets"] != colors["signal"]


def _texts(fig) -> str:
    out = [t.get_text() for t in fig.texts]
    if fig._suptitle is not None:
        out.append(fig._suptitle.get_text())
    for ax in fig.axes:
        out += [t.get_text() for t in ax.texts]
        out += [ax.get_title(loc) for loc in ("left", "center", "right")]
        leg = ax.get_legend()
        if leg is not None:
            out += [t.get_text() for t in leg.get_texts()]
    return "\n".join(out)


def test_python_default_stack_is_neutral():
    edges = np.linspace(0, 3, 4)
    fig = plot_stacked(edges, [1.0, 2.0, 1.0], [10.0, 12.0, 9.0], [12, 13, 10], ratio=True)
    text = _texts(fig)
    for word in FORBIDDEN:
        assert word not in text, word
    assert GENERATED_LABEL not in text
    assert "Data (Garwood 68%)" in text
    fig = plot_stacked(
        edges, [1.0, 2.0, 1.0], [10.0, 12.0, 9.0], [12, 13, 10], data_label="Pseudo-data"
    )
    assert GENERATED_LABEL not in _texts(fig)


def test_ratio_limits_adapt():
    assert ratio_limits([0.9, 1.1]) == (0.0 + 0.5, 1.5)
    lo, hi = ratio_limits([0.2, 3.5], [np.nan])
    assert lo == 0.0
    assert hi == pytest.approx(3.5 + 0.33)


def simplemodels_spec() -> dict:
    model = pyhf.simplemodels.uncorrelated_background(
        [5.0, 10.0, 3.0], [50.0, 60.0, 40.0], [5.0, 8.0, 4.0]
    )
    return {
        "channels": model.spec["channels"],
        "observations": [{"name": "singlechannel", "data": [58, 75, 40]}],
        "measurements": [{"name": "meas", "config": {"poi": "mu", "parameters": []}}],
        "version": "1.0.0",
    }


def hist_spec() -> dict:
    return higgs_pyhf.workspace_from_hists(
        {
            "SR": {
                "signal": weighted([3.0, 6.0, 2.0], [3.0, 6.0, 2.0]),
                "wjets": weighted([20.0, 25.0, 15.0], [2.0, 3.0, 1.5]),
            },
            "CR": {"wjets": weighted([100.0, 80.0], [10.0, 8.0])},
        },
        data={"SR": [28, 37, 18], "CR": [104, 77]},
        poi="mu",
        normfactors={"mu": ["signal"], "wjets_norm": ["wjets"]},
        normsys={"wjets_theory": {"SR/wjets": (0.92, 1.08)}},
        staterror=["wjets"],
        lumi=0.02,
        lumi_samples=["signal"],
    )


def run(*args: object) -> str:
    res = CliRunner().invoke(main, ["--no-progress", *(str(a) for a in args)])
    assert res.exit_code == 0, res.stderr
    return res.stdout


def _clean(text: str, where: str) -> None:
    for word in FORBIDDEN:
        assert word not in text, f"{word!r} in {where}"


@pytest.fixture(
    params=[("simple", simplemodels_spec), ("hists", hist_spec)], ids=["simple", "hists"]
)
def outside_ws(request, tmp_path) -> tuple[str, Path]:
    """A workspace made outside this project (pyhf.simplemodels, or hist.Hist objects), saved."""
    name, make = request.param
    ws = tmp_path / f"{name}_ws.json"
    save_workspace(make(), ws)
    return name, ws


@pytest.mark.slow  # runs every figure command (subprocesses)
def test_outside_workspaces_say_nothing_of_atlas(tmp_path, outside_ws):
    name, ws = outside_ws
    figdir = tmp_path / "figs"
    # SVG with text as text, so that the figures' words can be read back
    with mpl.rc_context({"svg.fonttype": "none"}):
        outputs = [
            run("scan", ws, "--figdir", figdir, "--format", "svg", "--n-points", 21),
            run("significance", ws, "--figdir", figdir, "--format", "svg"),
            run("impacts", ws, "--figdir", figdir, "--format", "svg"),
            run("yields", ws, "--figdir", figdir, "--format", "svg"),
            run("plot", ws, "--figdir", figdir / "plot", "--format", "svg", "--kind", "prefit"),
        ]
        pair = ["--parameters", "mu", "uncorr_bkguncrt[0]"] if name == "simple" else []
        outputs.append(
            run("contour", ws, *pair, "--n-points", 11, "--figdir", figdir, "--format", "svg")
        )
    for k, out in enumerate(outputs):
        _clean(out, f"output {k}")
    svgs = sorted(p.name for p in figdir.rglob("*.svg"))
    assert "scan_mu.svg" in svgs
    assert "brazil.svg" in svgs
    assert "impacts.svg" in svgs
    assert any(s.startswith("contour_mu_") for s in svgs)
    assert not list(figdir.rglob("*.png"))
    for svg in figdir.rglob("*.svg"):
        _clean(svg.read_text(encoding="utf-8"), svg.name)
    # every free normfactor is ranked
    impacts = json.loads(outputs[2])["impacts"]
    ranked = {r["parameter"] for r in impacts}
    if name == "hists":
        assert "wjets_norm" in ranked
    # the workspace's own sample names in the stacks
    yields_svg = next(figdir.glob("yields_*.svg")).read_text(encoding="utf-8")
    assert ">signal<" in yields_svg or "signal" in yields_svg
    # the header options reach the figure
    with mpl.rc_context({"svg.fonttype": "none"}):
        run(
            "scan",
            ws,
            "--figdir",
            tmp_path / "lab",
            "--format",
            "svg",
            "--n-points",
            21,
            "--label",
            "MyExp Internal",
            "--lumi",
            36.1,
            "--energy",
            "13.6 TeV",
            "--title",
            "my fit",
        )
    text = (tmp_path / "lab" / "scan_mu.svg").read_text(encoding="utf-8")
    for word in ("MyExp Internal", "13.6 TeV", "36.1", "my fit"):
        assert word in text, word


@pytest.mark.slow  # a whole report run (subprocess)
def test_report_is_titled_after_the_workspace(tmp_path, outside_ws):
    _, ws = outside_ws
    out = tmp_path / "report"
    run("report", ws, "-o", out, "--quick", "--no-upper-limit")
    md = (out / "report.md").read_text(encoding="utf-8")
    first = md.splitlines()[0]
    assert first.startswith(f"# `{ws.name}`")
    assert "POI `mu`" in first
    _clean(md, "report.md")
    _clean((out / "results.json").read_text(encoding="utf-8"), "results.json")


def test_figures_keep_their_style_when_saved_later(tmp_path):
    import matplotlib.artist

    seen: list[str] = []

    class Probe(matplotlib.artist.Artist):
        def draw(self, renderer) -> None:
            seen.append(mpl.rcParams["mathtext.fontset"])

    before = mpl.rcParams["mathtext.fontset"]
    fig = plot_stacked(np.linspace(0, 3, 4), [1.0, 2.0, 1.0], [10.0, 12.0, 9.0], [12, 13, 10])
    fig.add_artist(Probe())
    fig.savefig(tmp_path / "later.png")  # outside every plotting function
    assert seen  # drawn at least once
    assert set(seen) == {"custom"}  # the mplhep ATLAS-like style's mathtext, at draw time
    assert mpl.rcParams["mathtext.fontset"] == before  # global style left as found
