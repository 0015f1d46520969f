"""The build commands through click's CliRunner: outputs, labels, and every bad-input case."""

from __future__ import annotations

import json
import shutil

import awkward as ak
import numpy as np
import pytest
import uproot
from _helpers import write_generated_inputs
from click.testing import CliRunner

from higgs_pyhf.build.config import default_config
from higgs_pyhf.build.histogram_io import load_histograms
from higgs_pyhf.build.histograms import SAMPLE_AXIS, build_histograms
from higgs_pyhf.build.ntuples import write_ntuple
from higgs_pyhf.cli import main
from higgs_pyhf.synthetic import MARKER
from higgs_pyhf.workspace import load_workspace, provenance_path


@pytest.fixture(scope="module")
def plain_dir(tmp_path_factory):
    """Generated events written in the default layout WITHOUT the generator marker (reads as real input)."""
    return write_generated_inputs(tmp_path_factory.mktemp("plain"), first_seed=200, scale=0.03)


@pytest.fixture
def broken_dir(plain_dir, tmp_path):
    """A private copy of the plain inputs that a test may break."""
    target = tmp_path / "inputs"
    shutil.copytree(plain_dir, target)
    return target


def run(*args):
    return CliRunner().invoke(main, ["--no-progress", *map(str, args)], catch_exceptions=False)


def assert_error(result, *fragments):
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert result.stdout == ""


def test_commands_are_registered():
    import click

    ctx = click.Context(main)
    for name in ("make-inputs", "build-histograms", "build-workspace", "cutflow"):
        assert name in main.list_commands(ctx)
        cmd = main.get_command(ctx, name)  # commands are imported when used
        assert cmd is not None
        assert cmd.name == name


def test_make_inputs_then_build_workspace_is_labelled_generated(tmp_path):
    data = tmp_path / "data"
    made = run("make-inputs", data, "--seed", 7, "--scale", 0.05)
    assert made.exit_code == 0, made.output
    info = json.loads(made.stdout)
    assert info["generated"] is True
    assert info["seed"] == 7
    assert info["scale"] == 0.05
    assert info["files"]["data"] == [str(data / "Data" / f"data_{x}.4lep.root") for x in "ABCD"]
    assert (data / MARKER).is_file()
    assert (data / "MC" / "mc_345060.ggH125_ZZ4lep.4lep.root").is_file()
    assert sorted(p.name for p in (data / "Data").iterdir()) == [
        f"data_{x}.4lep.root" for x in "ABCD"
    ]

    out = tmp_path / "ws.json"
    hist_out = tmp_path / "h.root"
    histos = run("build-histograms", "--data-dir", data, "-o", hist_out)
    assert histos.exit_code == 0, histos.output
    assert json.loads(histos.stdout)["generated"] is True
    with uproot.open(hist_out) as f:
        assert f["data"].member("fTitle") == "data (GENERATED input, not ATLAS data)"

    built = run("build-workspace", "--data-dir", data, "--output", out, "--step-size", 2000)
    assert built.exit_code == 0, built.output
    summary = json.loads(built.stdout)
    assert summary["output"] == str(out)
    assert summary["generated"] is True
    assert summary["measurement"] == "hzz4l_generated"
    assert summary["nbins"] == 34
    assert set(summary["yields"]) == {"signal", "background", "data"}
    assert summary["yields"]["data"] == int(summary["yields"]["data"]) > 0
    spec = load_workspace(out)
    assert spec["measurements"][0]["name"] == "hzz4l_generated"
    prov = json.loads(provenance_path(out).read_text())
    assert prov["generated"] is True
    assert prov["generator"]["seed"] == 7
    assert prov["selection"] == "intended"
    assert prov["lumi_fb"] == 10.0
    assert prov["config"]["samples"][0]["name"] == "Zee"


def test_build_workspace_generated_option(tmp_path):
    out = tmp_path / "gen.json"
    result = run(
        "build-workspace",
        "--generated",
        "--scale",
        0.05,
        "--seed",
        3,
        "-o",
        out,
        "--mc-stat",
        "--lumi-uncertainty",
        0.017,
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["generated"] is True
    spec = load_workspace(out)
    types = {m["type"] for s in spec["channels"][0]["samples"] for m in s["modifiers"]}
    assert types == {"normfactor", "staterror", "lumi"}
    prov = json.loads(provenance_path(out).read_text())
    assert prov["input"]["location"] == "generated in a temporary directory"
    assert {f["origin"] for f in prov["input"]["files"]} == {"generated"}
    assert prov["data_label"] == "Generated (not ATLAS data)"
    assert prov["build_command"] == [
        "--generated",
        "--seed",
        "3",
        "--scale",
        "0.05",
        "--mc-stat",
        "--lumi-uncertainty",
        "0.017",
    ]
    assert prov["mc_stat"] is True
    assert prov["lumi_uncertainty"] == 0.017
    assert prov["generator"]["scale"] == 0.05


def test_build_workspace_on_plain_input_is_not_labelled_generated(plain_dir, tmp_path):
    out = tmp_path / "real.json"
    result = run("build-workspace", "--data-dir", plain_dir, "-o", out, "--lumi", 5)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["generated"] is False
    assert summary["measurement"] == "hzz4l"
    # the files are neither the shipped real ones nor listed by a generator marker
    assert summary["data_label"] == "Data of unverified origin"
    assert summary["config"] == "shipped:ntuples"  # the folder has MC/
    prov = json.loads(provenance_path(out).read_text())
    assert prov["lumi_fb"] == 5.0
    assert prov["generator"] is None
    assert prov["input"]["location"] == str(plain_dir)
    assert {f["origin"] for f in prov["input"]["files"]} == {"unverified"}


def test_build_histograms_root_and_json(plain_dir, tmp_path):
    config = default_config()
    direct = build_histograms(config, plain_dir)
    for suffix in (".root", ".json"):
        out = tmp_path / f"h{suffix}"
        result = run("build-histograms", "--data-dir", plain_dir, "-o", out)
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["output"] == str(out)
        assert summary["nbins"] == 34
        h = load_histograms(out)
        assert list(h.axes[SAMPLE_AXIS]) == [s.name for s in config.samples]
        np.testing.assert_array_equal(
            h.view(flow=True).value, direct.histograms.view(flow=True).value
        )
        np.testing.assert_array_equal(
            h.view(flow=True).variance, direct.histograms.view(flow=True).variance
        )
        signal = sum(
            h[{SAMPLE_AXIS: s.name}].values().sum() for s in config.samples if s.kind == "signal"
        )
        assert summary["yields"]["signal"] == pytest.approx(signal, rel=1e-12)


def test_workers_and_selection_options(plain_dir, tmp_path):
    one, two, rep = tmp_path / "1.json", tmp_path / "2.json", tmp_path / "r.json"
    assert (
        run("build-histograms", "--data-dir", plain_dir, "-o", one, "--step-size", 500).exit_code
        == 0
    )
    assert (
        run(
            "build-histograms",
            "--data-dir",
            plain_dir,
            "-o",
            two,
            "--step-size",
            500,
            "--workers",
            2,
        ).exit_code
        == 0
    )
    assert load_histograms(one) == load_histograms(two)
    result = run("build-histograms", "--data-dir", plain_dir, "-o", rep, "--selection", "report")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["selection"] == "report"
    report_yields = {k: float(v) for k, v in json.loads(result.stdout)["yields"].items()}
    intended = json.loads(run("build-histograms", "--data-dir", plain_dir, "-o", one).stdout)[
        "yields"
    ]
    assert report_yields["data"] > intended["data"]


def test_cutflow_command(plain_dir, tmp_path):
    result = run("cutflow", "--data-dir", plain_dir)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["generated"] is False
    assert doc["selections"] == ["report", "intended"]
    config = default_config()
    for sel in ("report", "intended"):
        assert [cf["sample"] for cf in doc["mc"][sel]] == [s.name for s in config.mc_samples]
        periods = [p["period"] for p in doc["data"][sel]["periods"]]
        assert periods == ["A", "B", "C", "D"]
    rows = next(cf for cf in doc["mc"]["intended"] if cf["sample"] == "llll")["cuts"]
    cuts = "all nlep charge flavour pt_lead pt_min eta iso_pt iso_et trigger"
    assert [r["cut"] for r in rows] == cuts.split()
    events = [r["events"] for r in rows]
    assert events == sorted(events, reverse=True)
    assert events[-1] > 0
    out = tmp_path / "cf.json"
    assert (
        run("cutflow", "--data-dir", plain_dir, "--selection", "report", "-o", out).exit_code == 0
    )
    one = json.loads(out.read_text())
    assert one["selections"] == ["report"]
    assert one["mc"]["report"][3]["cuts"][-1]["cut"] == "iso_pt"
    assert one["data"]["report"]["total"]["cuts"][-1]["cut"] == "iso_pt"
    table = run("cutflow", "--data-dir", plain_dir, "--markdown")
    assert table.exit_code == 0
    assert table.stdout.startswith("# Cut flow: Data of unverified origin")
    assert "| in m4l range |" in table.stdout


# --------------------------------------------------------------------------- bad input


def _read_events(path):
    """All branches of a file except the counter written by uproot."""
    return uproot.open(path)["mini"].arrays(filter_name=lambda n: n != "nlep")


def _ws_cmd(data_dir, out, *extra):
    return run("build-workspace", "--data-dir", data_dir, "-o", out, *extra)


def _assert_no_output(out):
    assert not out.exists()
    assert not provenance_path(out).exists()
    assert [
        p.name for p in out.parent.iterdir() if p.name.startswith(".")
    ] == []  # no temp leftovers


def test_missing_file(broken_dir, tmp_path):
    (broken_dir / "MC" / "mc_363490.llll.4lep.root").unlink()
    out = tmp_path / "out" / "ws.json"
    assert_error(_ws_cmd(broken_dir, out), "input file not found", "mc_363490.llll.4lep.root")
    assert not out.parent.exists() or not out.exists()


def _tree_renamed(d):
    path = d / "Data" / "data_B.4lep.root"
    write_ntuple(path, _read_events(path), tree="nominal")


def _branch_dropped(d):
    path = d / "MC" / "mc_345060.ggH125_ZZ4lep.4lep.root"
    events = _read_events(path)
    write_ntuple(path, events[[f for f in events.fields if f != "lep_etcone20"]])


def _truncated(keep):
    def damage(d):
        path = d / "MC" / "mc_363490.llll.4lep.root"
        raw = path.read_bytes()
        path.write_bytes(raw[: int(len(raw) * keep)])

    return damage


def _html_page(d):
    (d / "Data" / "data_A.4lep.root").write_text("<html>404 Not Found</html>\n")


def _nan_weight(d):
    path = d / "MC" / "mc_410000.ttbar_lep.4lep.root"
    events = _read_events(path)
    weights = np.asarray(events["mcWeight"]).copy()
    weights[5] = np.nan
    write_ntuple(path, ak.with_field(events, weights, "mcWeight"))


@pytest.mark.parametrize(
    ("damage", "fragments"),
    [
        pytest.param(_tree_renamed, ("data_B.4lep.root", "no tree 'mini'"), id="missing-tree"),
        pytest.param(
            _branch_dropped,
            ("mc_345060.ggH125_ZZ4lep.4lep.root", "lep_etcone20"),
            id="missing-branch",
        ),
        pytest.param(_truncated(0.1), ("mc_363490.llll.4lep.root",), id="truncated-0.1"),
        pytest.param(_truncated(0.6), ("mc_363490.llll.4lep.root",), id="truncated-0.6"),
        pytest.param(
            _html_page, ("cannot open ROOT file", "data_A.4lep.root"), id="not-a-root-file"
        ),
        pytest.param(
            _nan_weight,
            ("sample ttbar_lep", "NaN", "mc_410000.ttbar_lep.4lep.root", "entry 5"),
            id="nan-weight",
        ),
    ],
)
def test_damaged_input_is_one_error_line_and_no_output(broken_dir, tmp_path, damage, fragments):
    damage(broken_dir)
    out = tmp_path / "ws.json"
    assert_error(_ws_cmd(broken_dir, out), *fragments)
    _assert_no_output(out)


def test_empty_selection(broken_dir, tmp_path):
    path = broken_dir / "MC" / "mc_341947.ZH125_ZZ4lep.4lep.root"
    events = _read_events(path)
    events = ak.with_field(events, np.zeros(len(events), dtype=bool), "trigE")
    events = ak.with_field(events, np.zeros(len(events), dtype=bool), "trigM")
    write_ntuple(path, events)
    out = tmp_path / "ws.json"
    assert_error(
        _ws_cmd(broken_dir, out), "no event of sample ZH125_ZZ4lep passes the 'intended' selection"
    )
    _assert_no_output(out)
    # the cutflow command still reports it
    result = run("cutflow", "--data-dir", broken_dir, "--selection", "intended")
    assert result.exit_code == 0
    flows = json.loads(result.stdout)["mc"]["intended"]
    zh = next(cf for cf in flows if cf["sample"] == "ZH125_ZZ4lep")
    assert zh["cuts"][-1]["events"] == 0


def test_invalid_config_json(plain_dir, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"tree": "mini", "lumi_fb": 10,,}')
    out = tmp_path / "ws.json"
    assert_error(_ws_cmd(plain_dir, out, "--config", bad), "bad.json", "not valid JSON", "line 1")
    _assert_no_output(out)

    def negative_xsec(doc):
        doc["samples"][0]["xsec_pb"] = -1.0

    _assert_config_refused(plain_dir, tmp_path, negative_xsec, "samples[0].xsec_pb")
    assert_error(
        _ws_cmd(plain_dir, out, "--config", tmp_path / "missing.json"),
        "cannot read configuration file",
    )


def _default_config_doc():
    from importlib import resources

    return json.loads(
        resources.files("higgs_pyhf").joinpath("data/config_atlas_ntuples.json").read_text("utf-8")
    )


def _assert_config_refused(data_dir, tmp_path, mutate, fragment, *extra):
    """build-workspace with the default configuration changed by ``mutate``: one Error line, no output."""
    doc = _default_config_doc()
    mutate(doc)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    out = tmp_path / "ws.json"
    assert_error(_ws_cmd(data_dir, out, "--config", bad, *extra), fragment)
    _assert_no_output(out)


def test_bad_options(plain_dir, tmp_path):
    assert_error(
        run("build-histograms", "--data-dir", plain_dir, "-o", tmp_path / "h.txt"),
        "must end in .root or .json",
    )
    assert not (tmp_path / "h.txt").exists()
    assert_error(
        run("build-workspace", "--data-dir", plain_dir, "-o", tmp_path / "w.json", "--lumi", -1),
        "luminosity must be positive",
    )
    usage = run("build-workspace", "--data-dir", plain_dir, "--step-size", "lots")
    assert usage.exit_code == 2
    assert "--step-size" in usage.stderr


def test_nan_kinematics_are_refused_not_dropped(broken_dir, tmp_path):
    path = broken_dir / "MC" / "mc_363490.llll.4lep.root"
    events = _read_events(path)
    pt = ak.to_list(events["lep_pt"])
    pt[4][2] = float("nan")
    write_ntuple(path, ak.with_field(events, ak.Array(pt, with_name=None), "lep_pt"))
    out = tmp_path / "ws.json"
    assert_error(
        _ws_cmd(broken_dir, out), "sample llll", "non-finite", "lep_pt", "mc_363490", "entry 4"
    )
    _assert_no_output(out)
    data = broken_dir / "Data" / "data_C.4lep.root"
    events = _read_events(data)
    eta = ak.to_list(events["lep_eta"])
    eta[0][0] = float("inf")
    write_ntuple(data, ak.with_field(events, ak.Array(eta), "lep_eta"))
    assert_error(run("cutflow", "--data-dir", broken_dir), "lep_eta", "data_C.4lep.root", "entry 0")


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d["observable"].__setitem__("nbins", 10**9), "observable.nbins"),
        (lambda d: d.__setitem__("lumi_fb", 1e308), "lumi_fb"),
        (lambda d: d["samples"][2].__setitem__("sumw", 1e308), "samples[2].sumw"),
        (lambda d: d["samples"][1]["files"].append(d["samples"][0]["files"][0]), "listed twice"),
    ],
)
def test_config_values_that_cannot_be_right(plain_dir, tmp_path, mutate, fragment):
    _assert_config_refused(plain_dir, tmp_path, mutate, fragment)


def test_nan_config_values(plain_dir, tmp_path):
    text = json.dumps(_default_config_doc()).replace('"xsec_pb": 1.2578', '"xsec_pb": NaN')
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    assert_error(_ws_cmd(plain_dir, tmp_path / "ws.json", "--config", bad), "samples[3]")


def test_size_limits_are_usage_errors(tmp_path):
    for args in (
        ["build-workspace", "--step-size", "1KB", "-o", tmp_path / "w.json"],
        ["build-workspace", "--step-size", "10", "-o", tmp_path / "w.json"],
        ["make-inputs", tmp_path / "gen", "--scale", "1e9"],
        ["build-workspace", "--lumi", "inf", "-o", tmp_path / "w.json"],
    ):
        result = run(*args)
        assert result.exit_code in (1, 2), (args, result.output)
        assert "Error" in result.stderr
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- systematics, channels


def test_default_names_encode_systematics_and_channels():
    from higgs_pyhf.build.provenance import GENERATED_LABEL, REAL_LABEL
    from higgs_pyhf.cli.build import default_workspace_name

    def name(label, **kw):
        args = {
            "selection": "intended",
            "default_selection": "intended",
            "mc_stat": False,
            "lumi_uncertainty": None,
        }
        return str(default_workspace_name(data_label=label, **{**args, **kw}))

    assert name(REAL_LABEL) == "workspaces/hzz4l_atlas.json"
    assert name(REAL_LABEL, systematics=True) == "workspaces/hzz4l_atlas_syst.json"
    assert (
        name(GENERATED_LABEL, systematics=True, channels="final-state")
        == "workspaces/hzz4l_generated_syst_channels.json"
    )
    assert (
        name(GENERATED_LABEL, channels="final-state") == "workspaces/hzz4l_generated_channels.json"
    )


def test_systematics_and_channels_on_ntuples(plain_dir, tmp_path):
    out = tmp_path / "syst.json"
    doc = _default_config_doc()
    doc["observable"]["nbins"] = 10  # few generated events: no empty bin per final state
    coarse = tmp_path / "coarse.json"
    coarse.write_text(json.dumps(doc))
    result = CliRunner().invoke(
        main,
        [
            "--no-progress",
            "-v",
            "build-workspace",
            "--data-dir",
            str(plain_dir),
            "--config",
            str(coarse),
            "-o",
            str(out),
            "--systematics",
            "--channels",
            "final-state",
            "--prune-threshold",
            "0.05",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    spec = load_workspace(out)
    assert [c["name"] for c in spec["channels"]] == [
        "hzz4l_m4l_4e",
        "hzz4l_m4l_2e2mu",
        "hzz4l_m4l_4mu",
    ]
    prov = json.loads(provenance_path(out).read_text())
    assert prov["build_command"][-5:] == [
        "--systematics",
        "--channels",
        "final-state",
        "--prune-threshold",
        "0.05",
    ]
    model = prov["model"]
    assert model["systematics"]["prune_threshold"] == 0.05
    pruned = model["pruned"]
    assert pruned
    assert all(p["max_relative_effect"] < 0.05 for p in pruned)
    logged = [line for line in result.stderr.splitlines() if "pruned " in line]
    assert len(logged) == len(pruned)
    # s_s and s_b are shared by every channel; one staterror per channel
    for channel in spec["channels"]:
        for sample in channel["samples"]:
            types = {m["name"]: m["type"] for m in sample["modifiers"]}
            assert types["s_s" if sample["name"] == "signal" else "s_b"] == "normfactor"
            assert types[f"staterror_{channel['name']}"] == "staterror"


def test_channels_refused_with_templates(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for extra in ([], ["--systematics"]):
        result = run("build-workspace", "--channels", "final-state", *extra)
        assert_error(result, "--channels final-state", "come from templates", "ntuples")
    assert not (tmp_path / "workspaces").exists()


def test_prune_threshold_needs_systematics(tmp_path):
    result = run("build-workspace", "--prune-threshold", "0.01", "-o", tmp_path / "w.json")
    assert result.exit_code == 2
    assert "--systematics" in result.stderr
    # and a threshold is an option no default name encodes
    result = run("build-workspace", "--systematics", "--prune-threshold", "0.01")
    assert result.exit_code == 2
    assert "--prune-threshold" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d["systematics"]["entries"][2].__setitem__("samples", ["Zeee"]), "(zz_norm)"),
        (
            lambda d: d["systematics"]["entries"][5]["lepton_scale"].__setitem__("uncertainty", -1),
            "systematics.entries[5].lepton_scale.uncertainty",
        ),
        (lambda d: d["systematics"]["entries"][1].__setitem__("lo", None), "entries[1].lo"),
    ],
)
def test_bad_systematics_config_is_one_error_line(plain_dir, tmp_path, mutate, fragment):
    _assert_config_refused(plain_dir, tmp_path, mutate, fragment, "--systematics")


def test_staterror_refused_on_templates_without_sumw2(tmp_path):
    from importlib import resources

    doc = json.loads(
        resources.files("higgs_pyhf").joinpath("data/config_atlas_templates.json").read_text()
    )
    doc["systematics"]["entries"].append({"name": "mc_stat", "type": "staterror"})
    data = resources.files("higgs_pyhf").joinpath("data")
    for s in doc["samples"]:
        if "template" in s:
            s["template"]["file"] = str(data / s["template"]["file"])
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps(doc))
    out = tmp_path / "ws.json"
    result = run("build-workspace", "--config", bad, "--systematics", "-o", out)
    assert_error(result, "no sum of squared weights")
    _assert_no_output(out)


def test_inputs_of_a_systematics_build_are_never_overwritten(tmp_path):
    from importlib import resources

    data = resources.files("higgs_pyhf").joinpath("data")
    doc = json.loads(data.joinpath("config_atlas_templates.json").read_text())
    raw = json.loads(data.joinpath("report_mc_templates.json").read_text())
    raw["signal_up"] = [1.1 * x for x in raw["signal"]]
    raw["signal_down"] = [0.9 * x for x in raw["signal"]]
    (tmp_path / "shapes.json").write_text(json.dumps(raw))
    (tmp_path / "report_mc_templates.json").write_text(json.dumps(raw))
    doc["systematics"]["entries"].append(
        {
            "name": "shape",
            "type": "histosys",
            "kinds": ["signal"],
            "template": {"file": "shapes.json", "up": "{histogram}_up", "down": "{histogram}_down"},
        }
    )
    config = tmp_path / "c.json"
    config.write_text(json.dumps(doc))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for target in ("c.json", "shapes.json", "report_mc_templates.json"):
        result = run(
            "build-workspace", "--config", config, "--systematics", "-o", tmp_path / target
        )
        assert_error(result, "is an input of this command", target)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    out = tmp_path / "ws.json"
    result = run("build-workspace", "--config", config, "--systematics", "-o", out)
    assert result.exit_code == 0, result.output
    spec = load_workspace(out)
    shape = next(m for m in spec["channels"][0]["samples"][0]["modifiers"] if m["name"] == "shape")
    assert shape["data"]["hi_data"] == raw["signal_up"]
    (tmp_path / "shapes.json").unlink()
    out.unlink()
    provenance_path(out).unlink()
    assert_error(
        run("build-workspace", "--config", config, "--systematics", "-o", out),
        "template file of systematic 'shape' not found",
        "shapes.json",
    )
    _assert_no_output(out)


def test_build_outputs_never_replace_an_input(broken_dir, tmp_path):
    ntuple = broken_dir / "MC" / "mc_363490.llll.4lep.root"
    before = ntuple.read_bytes()
    assert_error(
        run("build-histograms", "--data-dir", broken_dir, "-o", ntuple),
        "is an input of this command",
    )
    assert ntuple.read_bytes() == before
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(_default_config_doc()))
    text = cfg.read_text()
    assert_error(
        run("build-workspace", "--data-dir", broken_dir, "--config", cfg, "-o", cfg),
        "is an input of this command",
    )
    assert cfg.read_text() == text


def test_no_dask_scheduler_is_one_error_line(monkeypatch, tmp_path):
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HIGGS_PYHF_CONNECT_TIMEOUT", "1")
    t0 = time.monotonic()
    out = tmp_path / "w.json"
    assert_error(
        run("build-workspace", "-o", out, "--scheduler", f"tcp://127.0.0.1:{port}"),
        f"no Dask scheduler at tcp://127.0.0.1:{port}",
    )
    assert time.monotonic() - t0 < 15
    assert not out.exists()
