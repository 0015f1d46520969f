"""The workspace built from histograms, the shipped workspaces, and pyhf's own CLI on them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyhf
import pytest
from click.testing import CliRunner

from higgs_pyhf.build.config import default_config
from higgs_pyhf.build.histograms import SAMPLE_AXIS
from higgs_pyhf.build.pipeline import GENERATED_MEASUREMENT, build_inputs, generated_info
from higgs_pyhf.cli import main
from higgs_pyhf.workspace import BACKGROUND, SIGNAL, provenance_path

WORKSPACES = Path(__file__).resolve().parent.parent / "workspaces"
SHIPPED = sorted(p for p in WORKSPACES.glob("*.json") if not p.name.endswith(".provenance.json"))


@pytest.fixture(scope="module")
def generated(generated_inputs):
    """The session's generated ntuples (seed 11: the provenance test checks it)."""
    return generated_inputs


def _sample(spec, name):
    return next(s for s in spec["channels"][0]["samples"] if s["name"] == name)


def _sum(h, config, kind, what="values"):
    return sum(getattr(h[{SAMPLE_AXIS: s.name}], what)() for s in config.samples if s.kind == kind)


def test_workspace_yields_equal_histogram_sums(generated):
    config = default_config()
    build = build_inputs(config, generated, mc_stat=True, lumi_uncertainty=0.017)
    h = build.histograms.histograms
    spec = build.spec
    sig = np.asarray(_sample(spec, SIGNAL)["data"])
    bkg = np.asarray(_sample(spec, BACKGROUND)["data"])
    obs = np.asarray(spec["observations"][0]["data"])
    np.testing.assert_allclose(sig, _sum(h, config, "signal"), rtol=1e-12)
    np.testing.assert_allclose(bkg, _sum(h, config, "background"), rtol=1e-12)
    np.testing.assert_array_equal(obs, _sum(h, config, "data"))
    assert len(sig) == len(config.edges) - 1 == 34
    # totals as recorded in the provenance
    assert build.provenance["yields"]["signal"] == pytest.approx(sig.sum(), rel=1e-12)
    assert build.provenance["yields"]["background"] == pytest.approx(bkg.sum(), rel=1e-12)
    assert build.provenance["yields"]["data"] == obs.sum()
    # staterror = sqrt(sumw2) of the summed histograms
    stat = next(m for m in _sample(spec, SIGNAL)["modifiers"] if m["type"] == "staterror")
    np.testing.assert_allclose(
        stat["data"], np.sqrt(_sum(h, config, "signal", "variances")), rtol=1e-12
    )
    assert {m["type"] for m in _sample(spec, BACKGROUND)["modifiers"]} == {
        "normfactor",
        "staterror",
        "lumi",
    }
    lumi = next(p for p in spec["measurements"][0]["config"]["parameters"] if p["name"] == "lumi")
    assert lumi["sigmas"] == [0.017]
    # the model's expected data at s_s = s_b = 1 are the histogram sums
    model = pyhf.Workspace(spec).model()
    expected = model.expected_actualdata(model.config.suggested_init())
    np.testing.assert_allclose(expected, sig + bkg, rtol=1e-9)


def test_generated_workspace_is_labelled_and_sensible(generated):
    config = default_config()
    build = build_inputs(config, generated)
    assert build.spec["measurements"][0]["name"] == GENERATED_MEASUREMENT
    prov = build.provenance
    assert prov["generated"] is True
    assert prov["generator"]["seed"] == 11
    assert prov["generator"]["truth"]["true_normfactors"] == {"s_s": 1.4, "s_b": 1.3}
    assert "NOT ATLAS data" in prov["generator"]["note"]
    marker = generated_info(generated)
    # the selected yields match what the generator expects in the window (same selection)
    truth = marker["truth"]
    assert prov["yields"]["signal"] == pytest.approx(
        truth["expected_signal_yield_window"], rel=1e-6
    )
    assert prov["yields"]["background"] == pytest.approx(
        truth["expected_background_yield_window"], rel=1e-6
    )
    assert prov["yields"]["data"] == truth["data"]["n_selected_window"]


def _pyhf_command() -> list[str]:
    script = Path(sys.executable).parent / "pyhf"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from pyhf.cli import cli; sys.exit(cli())"]


def _pyhf(*args, cwd=None):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [*_pyhf_command(), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def test_workspaces_are_shipped():
    names = {p.name for p in SHIPPED}
    assert "hzz4l_generated.json" in names
    assert provenance_path(WORKSPACES / "hzz4l_generated.json").is_file()


@pytest.mark.parametrize(
    "path",
    # the main workspace in every run; the pyhf command line on the others is slow
    [
        pytest.param(p, marks=() if p.name == "hzz4l_atlas.json" else pytest.mark.slow)
        for p in SHIPPED
    ],
    ids=lambda p: p.name,
)
def test_pyhf_cli_accepts_shipped_workspace(path, tmp_path):
    # the acceptance command as is for the main workspace; Minuit (faster with many
    # staterror parameters) for the others
    options = [] if path.name == "hzz4l_generated.json" else ["--optimizer", "minuit"]
    cls = _pyhf("cls", *options, path)
    assert cls.returncode == 0, cls.stderr
    result = json.loads(cls.stdout)
    assert 0.0 < result["CLs_obs"] <= 1.0
    assert len(result["CLs_exp"]) == 5
    assert all(0.0 <= x <= 1.0 for x in result["CLs_exp"])
    inspect = _pyhf("inspect", path, "--output-file", tmp_path / "inspect.json")
    assert inspect.returncode == 0, inspect.stderr
    summary = json.loads((tmp_path / "inspect.json").read_text())
    spec = json.loads(path.read_text())
    channels = sorted(c["name"] for c in spec["channels"])
    assert sorted(map(tuple, summary["channels"])) == [(c, 34) for c in channels]
    samples = sorted({s["name"] for c in spec["channels"] for s in c["samples"]})
    assert summary["samples"] == samples
    assert SIGNAL in samples
    if len(channels) == 1 and "_syst" not in path.name:
        assert samples == [BACKGROUND, SIGNAL]
    assert summary["measurements"][0][1] == "s_s"
    (tmp_path / "xml").mkdir()
    xml = _pyhf("json2xml", path, "--output-dir", tmp_path / "xml")
    assert xml.returncode == 0, xml.stderr
    assert (tmp_path / "xml" / "FitConfig.xml").is_file()
    for channel in channels:
        assert (tmp_path / "xml" / "config" / f"FitConfig_{channel}.xml").is_file()
    assert (tmp_path / "xml" / "data" / "data.root").stat().st_size > 0


def test_default_build_rebuilds_the_real_workspace_byte_for_byte(tmp_path, monkeypatch):
    """``build-workspace`` with no option: the report's two-normfactor model, unchanged."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["--no-progress", "build-workspace"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = tmp_path / "workspaces" / "hzz4l_atlas.json"
    assert out.read_bytes() == (WORKSPACES / "hzz4l_atlas.json").read_bytes()
    assert (
        provenance_path(out).read_bytes()
        == provenance_path(WORKSPACES / "hzz4l_atlas.json").read_bytes()
    )


def test_shipped_models_with_systematics():
    """The two shipped workspaces with systematics: what the configs say, nothing else."""
    atlas = json.loads((WORKSPACES / "hzz4l_atlas_syst.json").read_text())
    plain = json.loads((WORKSPACES / "hzz4l_atlas.json").read_text())
    assert atlas["observations"] == plain["observations"]
    mods = {
        s["name"]: [(m["name"], m["type"]) for m in s["modifiers"]]
        for s in atlas["channels"][0]["samples"]
    }
    assert mods == {
        SIGNAL: [("s_s", "normfactor"), ("lumi", "lumi"), ("signal_theory", "normsys")],
        BACKGROUND: [("s_b", "normfactor"), ("lumi", "lumi"), ("background_norm", "normsys")],
    }
    gen = json.loads((WORKSPACES / "hzz4l_generated_syst_channels.json").read_text())
    assert [c["name"] for c in gen["channels"]] == [
        "hzz4l_m4l_4e",
        "hzz4l_m4l_2e2mu",
        "hzz4l_m4l_4mu",
    ]
    types = {m["type"] for c in gen["channels"] for s in c["samples"] for m in s["modifiers"]}
    assert types == {"normfactor", "lumi", "normsys", "staterror", "histosys"}
    model = pyhf.Workspace(gen).model()
    assert model.config.poi_name == "s_s"
    assert {"el_scale", "mu_scale", "el_eff", "mu_eff", "zz_norm", "reducible_norm"} <= set(
        model.config.parameters
    )


def _assert_json_close(actual, expected, hint, where="$"):
    if isinstance(expected, dict):
        assert isinstance(actual, dict), (hint, where)
        assert sorted(actual) == sorted(expected), (hint, where)
        for key in expected:
            _assert_json_close(actual[key], expected[key], hint, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), (hint, where)
        assert len(actual) == len(expected), (hint, where)
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _assert_json_close(a, e, hint, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=1e-9, abs=1e-12), (hint, where)
    else:
        assert actual == expected, (hint, where)


@pytest.mark.slow
def test_shipped_workspaces_equal_what_build_workspace_produces_now(tmp_path, monkeypatch):
    """Rebuild every shipped workspace with the command in its provenance: the same files.

    The default ones (no options) are rebuilt at their default path, which
    also checks that the default name of each option set is the shipped name.
    """
    monkeypatch.chdir(tmp_path)
    rebuilt = set()
    for path in SHIPPED:
        prov = json.loads(provenance_path(path).read_text())
        options = list(prov["build_command"])
        out = Path("workspaces") / path.name
        result = CliRunner().invoke(
            main, ["--no-progress", "build-workspace", *options], catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["output"] == str(out)
        hint = f"{path.name} is stale: rerun build-workspace {' '.join(options)}"
        # identical on the machine that wrote them; the last digits may differ on other
        # CPUs (vectorised transcendental functions in the generator), so numbers are
        # compared to 1e-9 and everything else exactly
        _assert_json_close(json.loads(out.read_text()), json.loads(path.read_text()), hint)
        _assert_json_close(
            json.loads(provenance_path(out).read_text()),
            json.loads(provenance_path(path).read_text()),
            hint,
        )
        rebuilt.add(path.name)
    assert {"hzz4l_atlas.json", "hzz4l_generated.json"} <= rebuilt


# --------------------------------------------------------------------------- hostile workspaces


def _atlas():
    return json.loads((WORKSPACES / "hzz4l_atlas.json").read_text())


@pytest.mark.parametrize(
    ("mutate", "fragments"),
    [
        (
            lambda s: s["observations"][0]["data"].__setitem__(3, float("nan")),
            ["observations of channel 'hzz4l_m4l'", "non-finite", "bins [3]"],
        ),
        (
            lambda s: s["observations"][0]["data"].__setitem__(5, -2.0),
            ["observations of channel 'hzz4l_m4l'", "negative", "bins [5]"],
        ),
        (
            lambda s: _sample(s, SIGNAL)["data"].__setitem__(7, -0.5),
            ["channel 'hzz4l_m4l', sample 'signal', data", "negative", "bins [7]"],
        ),
        (
            lambda s: _sample(s, BACKGROUND)["data"].__setitem__(0, float("inf")),
            ["sample 'background', data", "non-finite", "bins [0]"],
        ),
        (
            lambda s: s["channels"][0]["samples"][0]["data"].pop(),
            ["invalid pyhf model", "expected 33 size sample data but got 34"],
        ),
        (
            lambda s: s["measurements"][0]["config"].__setitem__("poi", "nope"),
            ["'nope'"],
        ),
    ],
)
def test_hostile_workspace_values_are_refused(tmp_path, mutate, fragments):
    from higgs_pyhf.errors import WorkspaceError
    from higgs_pyhf.workspace import model_and_data

    spec = _atlas()
    mutate(spec)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(spec))
    with pytest.raises(WorkspaceError) as info:
        model_and_data(path)
    for fragment in fragments:
        assert fragment in str(info.value)
    result = CliRunner().invoke(main, ["fit", str(path)])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreadable_workspace_files(tmp_path):
    from higgs_pyhf.errors import WorkspaceError
    from higgs_pyhf.workspace import load_workspace

    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"channels": "\xe9"}')
    with pytest.raises(WorkspaceError, match="not UTF-8"):
        load_workspace(latin)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(WorkspaceError, match="nested too deeply"):
        load_workspace(deep)
