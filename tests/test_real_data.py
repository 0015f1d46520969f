"""The real ATLAS Open Data shipped with the package: cut flows, the default build, the report's numbers.

Cut-flow counts are checked against counts computed here with plain
uproot/awkward/numpy (not the project's selection code); the report's
numbers against what the seed report prints.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
from click.testing import CliRunner

from higgs_pyhf.build.config import template_config
from higgs_pyhf.build.cutflows import FINAL_STATES, read_data_cutflows, total_cutflow
from higgs_pyhf.build.pipeline import build_inputs
from higgs_pyhf.build.provenance import REAL_LABEL, real_data_dir, real_manifest
from higgs_pyhf.cli import main
from higgs_pyhf.inference.chi2grid import report_method, templates_from_workspace
from higgs_pyhf.workspace import load_workspace, provenance_path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "workspaces" / "hzz4l_atlas.json"
PERIODS = "ABCD"
#: sha256 of the release's files, as given in shared/data/README.md (first and last 8 hex digits).
README_HASHES = {
    "A": ("8a0de390", "6675"),
    "B": ("198d5f06", "1411"),
    "C": ("3f1cd0a4", "0c56"),
    "D": ("7e103be7", "6e1e"),
}


def run(*args):
    return CliRunner().invoke(main, ["--no-progress", *map(str, args)], catch_exceptions=False)


# --------------------------------------------------------------------------- the shipped files


def test_shipped_real_files_are_the_release_files():
    manifest = real_manifest()
    assert manifest["kind"] == "real"
    assert "CC0" in manifest["licence"]
    total = 0
    for rec in manifest["files"]:
        path = real_data_dir() / rec["path"]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest == rec["sha256"]
        head, tail = README_HASHES[rec["period"]]
        assert digest.startswith(head)
        assert digest.endswith(tail)
        assert path.stat().st_size == rec["bytes"]
        total += uproot.open(path)["mini"].num_entries
    assert total == 39 + 156 + 237 + 400 == 832


# --------------------------------------------------------------------------- independent cut flow


def _independent_counts(path, selection):
    """Cumulative counts per cut and final state, from the raw branches with numpy."""
    a = uproot.open(path)["mini"].arrays(filter_name=["lep_*", "trig*"])  # every lepton, trigger
    n = ak.to_numpy(ak.num(a.lep_pt))
    four = n == 4
    ne = ak.to_numpy(ak.sum(a.lep_type == 11, axis=1))
    nm = ak.to_numpy(ak.sum(a.lep_type == 13, axis=1))
    fs = np.where(
        four & (ne == 4),
        "4e",
        np.where(four & (nm == 4), "4mu", np.where(four & (ne == 2) & (nm == 2), "2e2mu", "other")),
    )
    pt = a.lep_pt
    cuts = {
        "nlep": four,
        "charge": four & (ak.to_numpy(ak.sum(a.lep_charge, axis=1)) == 0),
        "flavour": four & np.isin(ak.to_numpy(ak.sum(a.lep_type, axis=1)), [44, 48, 52]),
        "pt_lead": four & (ak.to_numpy(ak.max(pt, axis=1)) > 20000),
        "pt_min": four & (ak.to_numpy(ak.min(pt, axis=1)) > 7000),
        "eta": four & (ak.to_numpy(ak.max(abs(a.lep_eta), axis=1)) < 2.5),
        "iso_pt": four & (ak.to_numpy(ak.max(a.lep_ptcone30 / pt, axis=1)) < 0.3),
    }
    if selection == "intended":
        cuts["iso_et"] = four & (ak.to_numpy(ak.max(a.lep_etcone20 / pt, axis=1)) < 0.3)
        cuts["trigger"] = ak.to_numpy(a.trigE | a.trigM)
    keep = np.ones(len(n), dtype=bool)
    rows = {"all": {f: int(np.sum(fs == f)) for f in FINAL_STATES}}
    for name, m in cuts.items():
        keep = keep & m
        rows[name] = {f: int(np.sum(keep & (fs == f))) for f in FINAL_STATES}
    # m4l of the selected events, float64 four-vector sums
    pt4, eta4, phi4, e4 = (
        ak.to_numpy(ak.pad_none(x[keep], 4)).astype(float)
        for x in (pt, a.lep_eta, a.lep_phi, a.lep_E)
    )
    px = (pt4 * np.cos(phi4)).sum(1)
    py = (pt4 * np.sin(phi4)).sum(1)
    pz = (pt4 * np.sinh(eta4)).sum(1)
    m = np.sqrt(np.maximum(e4.sum(1) ** 2 - px**2 - py**2 - pz**2, 0)) / 1000
    inside = (m >= 80) & (m < 250)
    rows["in_range"] = {f: int(np.sum(inside & (fs[keep] == f))) for f in FINAL_STATES}
    return rows


@pytest.fixture(scope="module")
def real_cutflows():
    return read_data_cutflows(template_config(), real_data_dir())


@pytest.mark.parametrize("selection", ["report", "intended"])
@pytest.mark.parametrize("period", list(PERIODS))
def test_real_cutflow_per_period_and_final_state(real_cutflows, selection, period):
    ours = next(cf for cf in real_cutflows if cf.selection == selection and cf.period == period)
    expected = _independent_counts(real_data_dir() / f"Data/data_{period}.4lep.root", selection)
    for i, cut in enumerate(ours.cuts):
        assert {f: ours.counts[f][i] for f in FINAL_STATES} == expected[cut], (period, cut)
    assert ours.in_range == expected["in_range"]


def test_real_cutflow_totals(real_cutflows):
    report = total_cutflow([cf for cf in real_cutflows if cf.selection == "report"])
    intended = total_cutflow([cf for cf in real_cutflows if cf.selection == "intended"])
    assert (
        report.counts["4e"][0]
        + report.counts["2e2mu"][0]
        + report.counts["4mu"][0]
        + report.counts["other"][0]
        == 832
    )
    # the report's histogram holds 300 events in 80-250 GeV (sum of its data bins)
    assert sum(report.in_range.values()) == 300
    assert sum(intended.in_range.values()) == 290
    # after the flavour cut nothing is left in "other"
    flavour = report.cuts.index("flavour")
    assert report.counts["other"][flavour] == 0


def test_cutflow_command_on_shipped_data_needs_no_mc(tmp_path):
    result = run("cutflow")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["data_label"] == REAL_LABEL
    assert doc["generated"] is False
    assert doc["mc"] == {}
    assert doc["selections"] == ["report", "intended"]
    assert doc["data"]["report"]["total"]["in_range"]["total"] == 300
    assert [p["period"] for p in doc["data"]["intended"]["periods"]] == list(PERIODS)
    md = run("cutflow", "--markdown")
    assert md.exit_code == 0
    assert md.stdout.startswith(f"# Cut flow: {REAL_LABEL}")


# --------------------------------------------------------------------------- the default build


@pytest.fixture(scope="module")
def default_build(tmp_path_factory):
    """``build-workspace`` with no option, run in an empty folder."""
    where = tmp_path_factory.mktemp("main_job")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(where)
        result = run("build-workspace")
    assert result.exit_code == 0, result.output
    return where, json.loads(result.stdout)


def test_default_build_is_the_real_main_job(default_build):
    where, summary = default_build
    assert summary["output"] == "workspaces/hzz4l_atlas.json"
    assert summary["data_label"] == REAL_LABEL
    assert summary["generated"] is False
    assert summary["selection"] == "report"
    assert summary["yields"]["data"] == 300
    out = where / "workspaces" / "hzz4l_atlas.json"
    assert load_workspace(out) == load_workspace(SHIPPED)
    prov = json.loads(provenance_path(out).read_text())
    assert prov["selection"] == "report"
    assert prov["selection_mismatch_allowed"] is None
    assert [f["origin"] for f in prov["input"]["files"]] == ["real"] * 4
    assert {f["sha256"] for f in prov["input"]["files"]} == {
        f["sha256"] for f in real_manifest()["files"]
    }
    assert [(t["sample"], t["selection"]) for t in prov["input"]["templates"]] == [
        ("signal", "report"),
        ("background", "report"),
    ]
    data_cf = next(cf for cf in prov["cutflows"] if cf["sample"] == "data")
    assert data_cf["cuts"][-1]["events"] == 418  # selected, any m4l
    # the MC templates are the report's figure 2.1, bin by bin
    raw = json.loads((ROOT / "higgs_pyhf" / "data" / "report_mc_templates.json").read_text())
    s, b, n = templates_from_workspace(load_workspace(out))
    np.testing.assert_array_equal(s, raw["signal"])
    np.testing.assert_array_equal(b, raw["background"])
    assert n.sum() == 300


def test_other_options_never_touch_the_default_workspace(default_build, monkeypatch):
    where, _ = default_build
    out = where / "workspaces" / "hzz4l_atlas.json"
    before = out.read_bytes()
    monkeypatch.chdir(where)
    cases = {
        "--lumi-uncertainty 0.017": 0,  # written under another name
        "--selection intended --allow-selection-mismatch": 2,  # refused without -o
        "--selection intended": 1,  # refused: the templates were made with 'report'
        "--mc-stat": 1,  # refused: the report's templates have no sumw2
        "--lumi 5": 2,  # refused without -o
    }
    for extra, code in cases.items():
        r = CliRunner().invoke(main, ["--no-progress", "build-workspace", *extra.split()])
        assert r.exit_code == code, (extra, r.output)
        assert out.read_bytes() == before, extra
    assert (where / "workspaces" / "hzz4l_atlas_lumi.json").is_file()


def test_report_numbers_from_the_real_files_through_the_api():
    """The seed report's printed numbers, from the shipped data + templates (public API)."""
    build = build_inputs(template_config(), real_data_dir(), selection="report")
    s, b, n = templates_from_workspace(build.spec)
    r = report_method(s, b, n)
    assert round(r.before_fit.chi2_per_dof, 3) == 1.598
    assert r.before_fit.p_value == pytest.approx(0.014877, abs=5e-7)
    assert round(r.s_s_1d.scan.bestfit, 2) == 2.01
    assert round(r.s_s_1d.error, 2) == 0.76
    assert round(r.s_s_1d.fit.chi2_per_dof, 3) == 1.558
    assert round(r.s_b_1d.scan.bestfit, 3) == 1.302
    assert round(r.s_b_1d.error, 3) == 0.076
    assert round(r.s_b_1d.fit.chi2_per_dof, 3) == 1.018
    two = r.scan_2d
    assert two.scan.bestfit[0] == pytest.approx(1.3869, abs=5e-5)
    assert two.scan.bestfit[1] == pytest.approx(1.2899, abs=5e-5)
    assert two.errors["s_s"][1] == pytest.approx(1.1556, abs=5e-5)
    assert two.errors["s_s"][0] == pytest.approx(0.86667, abs=5e-6)
    assert two.errors["s_b"][1] == pytest.approx(0.11717, abs=5e-6)
    assert two.errors["s_b"][0] == pytest.approx(0.10909, abs=5e-6)
    assert round(two.fit.chi2_per_dof, 3) == 1.039
    assert r.after_fit.chi2 == pytest.approx(33.2443, abs=5e-4)
    assert r.after_fit.p_value == pytest.approx(0.40642, abs=5e-6)


def test_report_numbers_through_the_cli():
    result = run("chi2-grid", SHIPPED)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    text = json.dumps(doc)
    # the report prints chi2/dof = 1.597845078902861 before the fit and 1.038884905786871 after
    assert "1.59784" in text
    assert "1.03888" in text


def test_data_only_download_plus_templates(tmp_path):
    """A download of Data/ only (no MC/) builds with the shipped templates."""
    shutil.copytree(real_data_dir() / "Data", tmp_path / "dl" / "Data")
    out = tmp_path / "ws.json"
    result = run("build-workspace", "--data-dir", tmp_path / "dl", "-o", out)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["data_label"] == REAL_LABEL
    assert load_workspace(out) == load_workspace(SHIPPED)
    # the same folder with the ntuples configuration: the MC files are missing
    bad = run("build-workspace", "--data-dir", tmp_path / "dl", "--config", "ntuples", "-o", out)
    assert bad.exit_code == 1
    assert bad.stderr.startswith("Error: input file not found")
    assert "no template is configured" in bad.stderr


def test_generated_files_are_recognised_by_their_recorded_hashes(tmp_path):
    """Generated iff the generator's marker lists the file with its sha256; a marker alone is not enough."""
    from higgs_pyhf.build.config import default_config
    from higgs_pyhf.build.provenance import describe_inputs
    from higgs_pyhf.errors import ConfigError
    from higgs_pyhf.synthetic import MARKER, is_generated, make_inputs

    make_inputs(tmp_path, seed=2, scale=0.02)
    marker = is_generated(tmp_path)
    info = describe_inputs(default_config(), tmp_path, marker=marker)
    assert info["generated"] is True
    assert {f["origin"] for f in info["files"]} == {"generated"}
    # a generated file changed after generation is refused
    mc = tmp_path / "MC" / "mc_363490.llll.4lep.root"
    original = mc.read_bytes()
    mc.write_bytes(original + b"\0")
    with pytest.raises(ConfigError, match="modified after generation"):
        describe_inputs(default_config(), tmp_path, marker=marker)
    mc.write_bytes(original)
    # a real file put in place of a generated one is recognised as real
    shutil.copy(
        real_data_dir() / "Data" / "data_A.4lep.root", tmp_path / "Data" / "data_A.4lep.root"
    )
    info = describe_inputs(default_config(), tmp_path, marker=marker)
    origins = {f["path"]: f["origin"] for f in info["files"]}
    assert origins["Data/data_A.4lep.root"] == "real"
    assert origins["Data/data_B.4lep.root"] == "generated"
    assert info["origin"] == "mixed"
    assert info["data_label"] == "Generated (not ATLAS data)"
    # a marker that lists nothing makes nothing generated
    (tmp_path / MARKER).write_text(json.dumps({**marker, "files": {}, "sha256": {}}))
    info = describe_inputs(default_config(), tmp_path, marker=is_generated(tmp_path))
    assert info["generated"] is False
