"""The Python face: lazy exports, results whose to_dict() is the CLI's JSON, short summaries."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _helpers import counts, weighted
from click.testing import CliRunner

import higgs_pyhf
from higgs_pyhf.cli import main
from higgs_pyhf.workspace import save_workspace


def run(*args: object) -> dict:
    res = CliRunner().invoke(main, ["--no-progress", *(str(a) for a in args)])
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


@pytest.fixture(scope="module")
def two_channel(tmp_path_factory) -> Path:
    """A 2-channel workspace built from hist.Hist objects, saved without a provenance file."""
    spec = higgs_pyhf.workspace_from_hists(
        {
            "SR": {
                "signal": weighted([3.0, 6.0, 2.0], [0.05, 0.1, 0.04]),
                "wjets": weighted([20.0, 25.0, 15.0], [2.0, 3.0, 1.5]),
            },
            "CR": {"wjets": weighted([100.0, 80.0], [10.0, 8.0])},
        },
        data={"SR": counts([28, 37, 18]), "CR": counts([104, 77])},
        poi="mu",
        normfactors={"mu": ["signal"], "wjets_norm": ["wjets"]},
        normsys={"wjets_theory": {"SR/wjets": (0.92, 1.08)}},
        staterror=True,
        lumi=0.02,
        lumi_samples=["signal"],
        bounds={"mu": (0.0, 10.0)},
    )
    path = tmp_path_factory.mktemp("ws") / "two_channel.json"
    save_workspace(spec, path)
    return path


def test_import_is_cheap_and_exports_the_api():
    code = (
        "import sys, higgs_pyhf; "
        "heavy = [m for m in ('numpy', 'pyhf', 'matplotlib', 'numba') if m in sys.modules]; "
        "print(heavy, 'fit' in dir(higgs_pyhf))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] True"
    for name in ("load_workspace", "fit", "scan", "contour", "cls", "significance", "pulls"):
        assert name in higgs_pyhf.__all__
    for name in ("impacts", "yields", "gof_toys", "workspace_from_hists", "plot_yields"):
        assert callable(getattr(higgs_pyhf, name))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = higgs_pyhf.nope


def _timed(result: dict, seconds: float) -> dict:
    """The result without its ``timing``, after checking it: CPU and wall time of at most ``seconds``."""
    timing = result.pop("timing")
    assert set(timing) == {"fit_cpu_s", "fit_wall_s"}
    assert 0.0 < timing["fit_wall_s"] <= seconds
    assert timing["fit_cpu_s"] >= 0.0
    return result


def test_results_equal_the_cli_json(two_channel):
    ws = higgs_pyhf.load_workspace(two_channel)
    t0 = time.perf_counter()
    r = higgs_pyhf.fit(ws)
    fit_took = time.perf_counter() - t0
    assert r.timing is not None
    assert _timed(r.to_dict(), fit_took) == _timed(run("fit", two_channel), 60.0)
    assert type(r).from_json(r.to_json()).timing == r.timing
    assert r.parameters == r.to_dict()["parameters"]
    assert r.parameters["mu"]["value"] == pytest.approx(r.value("mu"))
    assert higgs_pyhf.scan(ws, n_points=21).to_dict() == run("scan", two_channel, "--n-points", 21)
    assert higgs_pyhf.contour(ws, n_points=11).to_dict() == run(
        "contour", two_channel, "--n-points", 11
    )
    t0 = time.perf_counter()
    sig = higgs_pyhf.significance(ws).to_dict()
    sig_took = time.perf_counter() - t0
    assert _timed(sig, sig_took) == _timed(run("significance", two_channel), 120.0)
    assert higgs_pyhf.impacts(ws).to_dict() == run("impacts", two_channel)
    assert higgs_pyhf.pulls(ws).to_dict() == run("pulls", two_channel)
    assert higgs_pyhf.yields(ws).to_dict() == run("yields", two_channel)
    assert higgs_pyhf.gof(ws).to_dict() == run("gof", two_channel)
    # the same from the path, a pyhf.Workspace and a (model, data) pair
    import pyhf

    pws = pyhf.Workspace(ws)
    model = pws.model()
    for other in (two_channel, pws, (model, pws.data(model))):
        assert _timed(higgs_pyhf.fit(other).to_dict(), 60.0) == _timed(r.to_dict(), fit_took)


def test_cls_equals_the_cli_json(two_channel):
    pytest.importorskip("higgs_pyhf.inference.cls")
    r = higgs_pyhf.cls(higgs_pyhf.load_workspace(two_channel))
    got = r.to_dict()
    assert got == json.loads(json.dumps(r.to_json()))
    assert repr(r).startswith("CLsOutcome(")
    assert "\n" not in repr(r)
    want = run("cls", two_channel)
    got.pop("timing", None)
    want.pop("timing", None)
    assert got == want


def test_summaries_are_short_and_readable(two_channel):
    ws = higgs_pyhf.load_workspace(two_channel)
    r = higgs_pyhf.fit(ws)
    text = repr(r)
    assert text.startswith("FitResult(parameters=[")
    assert "\n" not in text
    assert len(text) < 300
    md = r._repr_markdown_()
    assert "| `mu` |" in md
    assert f"{r.value('mu'):.6g}" in md
    imp = higgs_pyhf.impacts(ws)
    assert repr(imp).startswith("ImpactsResult(")
    assert "poi=mu" in repr(imp)
    assert "`impacts`" in imp._repr_markdown_()
