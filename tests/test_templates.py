"""Samples from binned templates: the three file formats, binning checks, mixing with ntuples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from higgs_pyhf.build.config import default_config, parse_config
from higgs_pyhf.build.histogram_io import save_histograms
from higgs_pyhf.build.histograms import SAMPLE_AXIS, build_histograms
from higgs_pyhf.build.pipeline import build_inputs
from higgs_pyhf.build.provenance import real_data_dir
from higgs_pyhf.build.templates import check_binning, read_template_file
from higgs_pyhf.cli import main
from higgs_pyhf.errors import ConfigError, TemplateError
from higgs_pyhf.workspace import load_workspace, provenance_path

REPORT_TEMPLATES = (
    Path(__file__).resolve().parents[1] / "higgs_pyhf" / "data" / "report_mc_templates.json"
)


def run(*args):
    return CliRunner().invoke(main, ["--no-progress", *map(str, args)], catch_exceptions=False)


@pytest.fixture(scope="module")
def generated(generated_inputs):
    """The session's generated ntuples."""
    return generated_inputs


@pytest.fixture(scope="module")
def histogram_files(generated, tmp_path_factory):
    """build-histograms output of the generated input, as ROOT and as UHI JSON."""
    hs = build_histograms(default_config(), generated, selection="intended")
    out = tmp_path_factory.mktemp("hfiles")
    files = {}
    for suffix in ("root", "json"):
        files[suffix] = save_histograms(hs.histograms, out / f"h.{suffix}")
    return hs, files


def test_report_json_templates():
    tf = read_template_file(REPORT_TEMPLATES)
    raw = json.loads(REPORT_TEMPLATES.read_text())
    assert tf.format == "report-json"
    assert list(tf.templates) == ["background", "signal"]
    np.testing.assert_array_equal(tf.get("signal").values, raw["signal"])
    np.testing.assert_array_equal(tf.get("background").edges, raw["bin_edges"])
    assert tf.get("signal").variances is None
    with pytest.raises(TemplateError, match=r"has no entry 'ttbar'.*\['background', 'signal'\]"):
        tf.get("ttbar")


@pytest.mark.parametrize("suffix", ["root", "json"])
def test_histogram_files_as_templates(histogram_files, suffix):
    hs, files = histogram_files
    tf = read_template_file(files[suffix])
    assert tf.format == {"root": "root", "json": "uhi-json"}[suffix]
    for name in hs.histograms.axes[SAMPLE_AXIS]:
        one = hs.histograms[{SAMPLE_AXIS: name}]
        np.testing.assert_array_equal(tf.get(name).values, one.values())
        np.testing.assert_array_equal(tf.get(name).variances, one.variances())


def test_binning_must_match_exactly():
    t = read_template_file(REPORT_TEMPLATES).get("signal")
    check_binning(t, np.linspace(80, 250, 35), source="x")
    with pytest.raises(
        TemplateError, match=r"has binning 34 bins 80-250 \(width 5\).*17 bins 80-250"
    ):
        check_binning(t, np.linspace(80, 250, 18), source=REPORT_TEMPLATES)


def _config_with_templates(template_file, *, nbins=34, selection="intended", names=None):
    """The ntuples configuration with its MC samples taken from ``template_file``."""
    base = default_config()
    samples = []
    for s in base.samples:
        if s.is_data:
            samples.append({"name": s.name, "kind": s.kind, "files": list(s.files)})
        elif names is None or s.name in names:
            samples.append(
                {
                    "name": s.name,
                    "kind": s.kind,
                    "template": {"file": str(template_file), "selection": selection},
                }
            )
        else:
            samples.append(
                {
                    "name": s.name,
                    "kind": s.kind,
                    "files": list(s.files),
                    "xsec_pb": s.xsec_pb,
                    "sumw": s.sumw,
                    "red_eff": s.red_eff,
                }
            )
    return {
        "tree": "mini",
        "lumi_fb": 10.0,
        "observable": {"name": "m4l", "nbins": nbins, "low": 80.0, "high": 250.0},
        "samples": samples,
    }


def _kind_config(template_file, *, nbins=34):
    """Summed signal and background from the report's template file, plus the real data."""
    t = {"file": str(template_file), "selection": "report"}
    return {
        "tree": "mini",
        "lumi_fb": 10.0,
        "observable": {"name": "m4l", "nbins": nbins, "low": 80.0, "high": 250.0},
        "samples": [
            {"name": "signal", "kind": "signal", "template": t},
            {"name": "background", "kind": "background", "template": t},
            {"name": "data", "kind": "data", "files": [f"Data/data_{p}.4lep.root" for p in "ABCD"]},
        ],
    }


@pytest.mark.parametrize("suffix", ["root", "json"])
def test_templates_and_ntuples_give_the_same_workspace(generated, histogram_files, suffix):
    _, files = histogram_files
    from_ntuples = build_inputs(default_config(), generated, selection="intended", mc_stat=True)
    # half of the MC from the template file, half from the ntuples
    names = {"Zee", "llll", "ggH125_ZZ4lep", "WH125_ZZ4lep", "ttbar_lep"}
    config = parse_config(_config_with_templates(files[suffix], names=names))
    mixed = build_inputs(config, generated, selection="intended", mc_stat=True)
    assert mixed.spec == from_ntuples.spec
    rec = mixed.provenance["input"]["templates"]
    assert sorted(t["sample"] for t in rec) == sorted(names)
    assert mixed.provenance["generated"] is True  # the data and the ntuples are generated


def test_other_binning_is_refused_by_the_cli(generated, tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(_kind_config(REPORT_TEMPLATES, nbins=17)))
    out = tmp_path / "ws.json"
    r = run("build-workspace", "--data-dir", real_data_dir(), "--config", cfg, "-o", out)
    assert r.exit_code == 1
    line = r.stderr.strip()
    assert line.startswith("Error: template")
    assert "report_mc_templates.json" in line
    assert "34 bins 80-250" in line
    assert "17 bins 80-250" in line
    assert not out.exists()
    assert not provenance_path(out).exists()


def test_selection_mismatch_is_refused_or_recorded(tmp_path):
    out = tmp_path / "ws.json"
    r = run("build-workspace", "--selection", "intended", "-o", out)
    assert r.exit_code == 1
    assert "were made with another selection than 'intended'" in r.stderr
    assert not out.exists()
    r = run("build-workspace", "--selection", "intended", "--allow-selection-mismatch", "-o", out)
    assert r.exit_code == 0, r.output
    prov = json.loads(provenance_path(out).read_text())
    assert prov["selection"] == "intended"
    assert prov["selection_mismatch_allowed"] == ["report"]
    assert (
        load_workspace(out)["observations"][0]["data"]
        != load_workspace(Path(__file__).resolve().parents[1] / "workspaces" / "hzz4l_atlas.json")[
            "observations"
        ][0]["data"]
    )


def test_config_template_rules():
    doc = _config_with_templates(REPORT_TEMPLATES)
    doc["samples"][-1] = {
        "name": "data",
        "kind": "data",
        "template": {"file": "x.json", "selection": "report"},
    }
    with pytest.raises(ConfigError, match="data cannot come from a template"):
        parse_config(doc)
    doc["samples"][-1]["files"] = ["Data/a.root"]
    with pytest.raises(ConfigError, match=r"samples\[10\]"):
        parse_config(doc)  # both files and a template
    doc = _config_with_templates(REPORT_TEMPLATES)
    del doc["samples"][0]["template"]
    with pytest.raises(ConfigError, match=r"samples\[0\]"):
        parse_config(doc)  # neither files nor a template
    doc = _config_with_templates(REPORT_TEMPLATES)
    doc["samples"][0]["template"]["selection"] = "mine"
    with pytest.raises(ConfigError, match=r"samples\[0\]\.template\.selection"):
        parse_config(doc)


def test_mc_stat_needs_variances(generated, histogram_files):
    _, files = histogram_files
    config = parse_config(
        _config_with_templates(REPORT_TEMPLATES, selection="intended", names={"Zee"})
    )
    with pytest.raises(TemplateError, match="has no entry 'Zee'"):
        build_inputs(config, generated, selection="intended")
    config = parse_config(_config_with_templates(files["json"], names={"Zee"}))
    build_inputs(config, generated, selection="intended", mc_stat=True)  # UHI has sumw2
    report = parse_config(_kind_config(REPORT_TEMPLATES))
    with pytest.raises(TemplateError, match="no sum of squared weights"):
        build_inputs(report, real_data_dir(), selection="report", mc_stat=True)
