"""Hostile input of issue 16 (items 5, 8, 9, 10, 14, 15): one ``Error:`` line, never a wrong number.

Each test feeds a workspace, configuration, template or provenance file (or
an option) that the audit found accepted, silently misread or reported as an
internal error, and checks the refusal: exit 1 with one ``Error:`` line
naming the file and the place (exit 2 with click's usage line for a bad
option value), and no output file.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyhf
import pytest
from click.testing import CliRunner

from higgs_pyhf.build.config import package_data_dir
from higgs_pyhf.build.provenance import real_data_dir
from higgs_pyhf.cli import main
from higgs_pyhf.errors import WorkspaceError
from higgs_pyhf.workspace import model_and_data

WORKSPACES = Path(__file__).resolve().parents[1] / "workspaces"
ATLAS = WORKSPACES / "hzz4l_atlas.json"


def _atlas() -> dict[str, Any]:
    return json.loads(ATLAS.read_text())


def _one_error(result: Any, *fragments: str) -> str:
    """The single ``Error:`` line of a refused command (exit 1), holding every fragment."""
    assert result.exit_code == 1, (result.exit_code, result.output, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    assert "internal error" not in lines[0], lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def _write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc))
    return path


# ---------------------------------------------------------------- item 5: duplicates


def _dup_sample(ws: dict[str, Any]) -> None:
    ws["channels"][0]["samples"].append(copy.deepcopy(ws["channels"][0]["samples"][0]))


def _dup_modifier(ws: dict[str, Any]) -> None:
    ws["channels"][0]["samples"][0]["modifiers"].append(
        {"name": "s_s", "type": "normfactor", "data": None}
    )


def _dup_channel(ws: dict[str, Any]) -> None:
    ws["channels"].append(copy.deepcopy(ws["channels"][0]))
    ws["observations"].append(copy.deepcopy(ws["observations"][0]))


def _dup_observation(ws: dict[str, Any]) -> None:
    ws["observations"].append(copy.deepcopy(ws["observations"][0]))


def _dup_measurement(ws: dict[str, Any]) -> None:
    ws["measurements"].append(copy.deepcopy(ws["measurements"][0]))


def test_pyhf_applies_a_duplicated_sample_or_modifier_once():
    """Why duplicates are refused: pyhf 0.7.6 silently drops the second copy."""
    base = _atlas()
    point = [1.0, 2.0]  # s_b, s_s (pyhf orders them by name)
    ref = pyhf.Workspace(base).model()
    ref_value = float(ref.logpdf(point, pyhf.Workspace(base).data(ref))[0])
    for mutate in (_dup_sample, _dup_modifier):
        ws = _atlas()
        mutate(ws)
        w = pyhf.Workspace(ws)
        model = w.model()
        assert model.config.par_order == ref.config.par_order
        # the spec says the signal twice (or s_s²); pyhf evaluates the original
        assert float(model.logpdf(point, w.data(model))[0]) == pytest.approx(ref_value, rel=1e-12)


@pytest.mark.parametrize(
    ("mutate", "fragments"),
    [
        (_dup_sample, ["channel 'hzz4l_m4l'", "sample 'signal'", "twice"]),
        (_dup_modifier, ["channel 'hzz4l_m4l'", "sample 'signal'", "modifier 's_s'", "twice"]),
        (_dup_channel, ["channel 'hzz4l_m4l'", "twice"]),
        (_dup_observation, ["observation of channel 'hzz4l_m4l'", "twice"]),
        (_dup_measurement, ["measurement 'hzz4l'", "twice"]),
    ],
)
def test_duplicated_entries_are_refused(tmp_path, mutate, fragments):
    ws = _atlas()
    mutate(ws)
    path = _write(tmp_path / "dup.json", ws)
    out = tmp_path / "fit.json"
    result = CliRunner().invoke(main, ["fit", str(path), "-o", str(out)])
    _one_error(result, str(path), *fragments)
    assert not out.exists()
    with pytest.raises(WorkspaceError, match="twice"):
        model_and_data(path)


def test_a_renamed_copy_of_the_signal_is_a_second_sample_as_in_pyhf(tmp_path):
    from higgs_pyhf.inference.fit import fit

    ws = _atlas()
    copy_ = copy.deepcopy(ws["channels"][0]["samples"][0])
    copy_["name"] = "signal_copy"
    ws["channels"][0]["samples"].append(copy_)
    model, data = model_and_data(ws)
    result = fit(model, data)
    # the engine's minimum is pyhf's likelihood there, and the signal counts twice:
    # ŝ_s is half the original one (1.4087, README)
    pyhf_value = -2 * float(model.logpdf(result.bestfit, data)[0])
    assert result.twice_nll == pytest.approx(pyhf_value, rel=1e-9)
    assert result.value("s_s") == pytest.approx(1.4087 / 2, abs=2e-4)


# ---------------------------------------------------------------- item 8: a data file twice


def _config(tmp_path: Path, edit: Any) -> Path:
    doc = json.loads((package_data_dir() / "config_atlas_templates.json").read_text())
    shutil.copy(package_data_dir() / "report_mc_templates.json", tmp_path)
    edit(doc)
    return _write(tmp_path / "config.json", doc)


@pytest.mark.parametrize("second", ["./Data/data_A.4lep.root", "Data//data_A.4lep.root"])
def test_a_data_file_listed_twice_by_another_spelling_is_refused(tmp_path, second):
    config = _config(tmp_path, lambda d: d["samples"][2]["files"].append(second))
    out = tmp_path / "ws.json"
    r = CliRunner().invoke(main, ["build-workspace", "--config", str(config), "-o", str(out)])
    _one_error(r, str(config), "listed twice", second)
    assert not out.exists()


@pytest.mark.parametrize("how", ["symlink", "copy"])
def test_a_link_to_or_a_copy_of_a_data_file_is_refused(tmp_path, how):
    data = tmp_path / "in" / "Data"
    data.mkdir(parents=True)
    for f in (real_data_dir() / "Data").glob("*.root"):
        shutil.copy(f, data)
    second = data / "second.root"
    if how == "symlink":
        second.symlink_to(data / "data_A.4lep.root")
    else:
        shutil.copy(data / "data_A.4lep.root", second)
    config = _config(tmp_path, lambda d: d["samples"][2]["files"].append("Data/second.root"))
    out = tmp_path / "ws.json"
    r = CliRunner().invoke(
        main,
        [
            "build-workspace",
            "--config",
            str(config),
            "--data-dir",
            str(data.parent),
            "-o",
            str(out),
        ],
    )
    _one_error(r, "Data/second.root", "Data/data_A.4lep.root", "counted twice")
    assert not out.exists()


# ---------------------------------------------------------------- item 9: --lumi with templates


def test_lumi_option_with_templates_is_refused(tmp_path):
    out = tmp_path / "ws.json"
    r = CliRunner().invoke(main, ["build-workspace", "--lumi", "20", "-o", str(out)])
    _one_error(r, "--lumi 20", "templates", "10 fb^-1")
    assert not out.exists()
    assert not out.with_name("ws.provenance.json").exists()


def test_config_luminosity_other_than_the_templates_is_refused(tmp_path):
    config = _config(tmp_path, lambda d: d.update(lumi_fb=20.0))
    out = tmp_path / "ws.json"
    r = CliRunner().invoke(main, ["build-workspace", "--config", str(config), "-o", str(out)])
    _one_error(r, "report_mc_templates.json", "made for 10 fb^-1", "20 fb^-1")
    assert not out.exists()


# ---------------------------------------------------------------- item 10: NaN


@pytest.mark.parametrize(
    "args",
    [
        ["scan", str(ATLAS), "--level", "nan"],
        ["correlations", str(ATLAS), "--threshold", "nan"],
        ["build-workspace", "--generated", "--scale", "nan"],
        ["significance", str(ATLAS), "--poi-value", "nan"],
        ["contour", str(ATLAS), "--x-range", "nan", "2"],
        ["scan", str(ATLAS), "--level", "1e999"],
        ["fit", str(ATLAS), "--fix", "s_b=nan"],
        ["build-workspace", "--lumi", "nan"],
    ],
)
def test_non_finite_option_values_are_usage_errors(args):
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, (r.exit_code, r.stderr)
    assert "finite" in r.stderr
    assert "Traceback" not in r.output + r.stderr


def _with_provenance(tmp_path: Path, edit: Any, text: str | None = None) -> Path:
    ws = shutil.copy(ATLAS, tmp_path / "ws.json")
    prov = json.loads((WORKSPACES / "hzz4l_atlas.provenance.json").read_text())
    edit(prov)
    (tmp_path / "ws.provenance.json").write_text(text or json.dumps(prov))
    return Path(ws)


def _lumi_nan(p: dict[str, Any]) -> None:
    p["lumi_fb"] = float("nan")


def _bad_label(p: dict[str, Any]) -> None:
    p["config"]["observable_label"] = r"$m_{4\ell [GeV]$"


@pytest.mark.parametrize(
    ("edit", "fragments"),
    [
        (_lumi_nan, ["at lumi_fb", "nan"]),
        (lambda p: p.update(lumi_fb=-3), ["at lumi_fb", "-3"]),
        (lambda p: p["config"].update(lumi_fb="ten"), ["at config.lumi_fb", "'ten'"]),
        (_bad_label, ["at config.observable_label", "matplotlib cannot draw it"]),
    ],
)
def test_unusable_provenance_values_are_refused(tmp_path, edit, fragments):
    ws = _with_provenance(tmp_path, edit)
    figdir = tmp_path / "figs"
    r = CliRunner().invoke(main, ["yields", str(ws), "--figdir", str(figdir)])
    _one_error(r, "ws.provenance.json", *fragments)
    assert not figdir.exists() or not any(figdir.iterdir())


def test_a_5000_digit_luminosity_in_the_provenance_is_refused(tmp_path):
    prov = (WORKSPACES / "hzz4l_atlas.provenance.json").read_text()
    text = prov.replace('"lumi_fb": 10.0', '"lumi_fb": ' + "9" * 5000, 1)
    assert text != prov
    ws = _with_provenance(tmp_path, lambda p: None, text)
    r = CliRunner().invoke(main, ["report", str(ws), "--quick", "-o", str(tmp_path / "rep")])
    _one_error(r, "ws.provenance.json", "lumi_fb", "beyond")
    assert not (tmp_path / "rep").exists()


# ---------------------------------------------------------------- item 14: sizes


def test_significance_scan_size_is_bounded():
    r = CliRunner().invoke(main, ["significance", str(ATLAS), "--scan", "0", "1", "100000000"])
    assert r.exit_code == 2, r.stderr
    assert "250000" in r.stderr
    assert "MemoryError" not in r.stderr


def _staterror_workspace(nbins: int) -> dict[str, Any]:
    return {
        "channels": [
            {
                "name": "c",
                "samples": [
                    {
                        "name": "sig",
                        "data": [1.0] * nbins,
                        "modifiers": [{"name": "mu", "type": "normfactor", "data": None}],
                    },
                    {
                        "name": "bkg",
                        "data": [10.0] * nbins,
                        "modifiers": [{"name": "st", "type": "staterror", "data": [1.0] * nbins}],
                    },
                ],
            }
        ],
        "observations": [{"name": "c", "data": [11.0] * nbins}],
        "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}],
        "version": "1.0.0",
    }


def test_a_workspace_too_large_to_fit_is_refused_before_fitting(tmp_path, monkeypatch):
    from higgs_pyhf.spec.checks import MAX_MODEL_CELLS, check_structure

    nbins = 3000  # 3000 bins x 3001 parameters (a γ per bin and mu) = 9,003,000 cells
    assert nbins * (nbins + 1) > MAX_MODEL_CELLS
    path = _write(tmp_path / "big.json", _staterror_workspace(nbins))
    r = CliRunner().invoke(main, ["fit", str(path)])
    _one_error(r, str(path), "3,000 bins", "3,001 parameters", f"{MAX_MODEL_CELLS:,}")
    # the documented override lifts the limit (the structure check passes)
    monkeypatch.setenv("HIGGS_PYHF_MAX_MODEL_CELLS", str(10 * MAX_MODEL_CELLS))
    check_structure(_staterror_workspace(nbins), source=str(path))
    monkeypatch.setenv("HIGGS_PYHF_MAX_MODEL_CELLS", "lots")
    with pytest.raises(WorkspaceError, match="HIGGS_PYHF_MAX_MODEL_CELLS"):
        check_structure(_staterror_workspace(nbins))


# ---------------------------------------------------------------- item 15: internal errors


def test_denormal_yields_are_refused(tmp_path):
    ws = _atlas()
    ws["channels"][0]["samples"][1]["data"][5] = 1e-310
    path = _write(tmp_path / "denormal.json", ws)
    r = CliRunner().invoke(main, ["scan", str(path)])
    _one_error(r, str(path), "sample 'background'", "bins [5]", "1e-310")
    # 1e-100 stays usable: the scan runs
    ws["channels"][0]["samples"][1]["data"][5] = 1e-100
    _write(path, ws)
    assert CliRunner().invoke(main, ["scan", str(path), "--n-points", "5"]).exit_code == 0


def test_a_5000_digit_integer_in_inits_is_refused(tmp_path):
    ws = _atlas()
    ws["measurements"][0]["config"]["parameters"][0]["inits"] = [123456789]
    text = json.dumps(ws).replace("123456789", "9" * 5000)
    path = tmp_path / "bigint.json"
    path.write_text(text)
    r = CliRunner().invoke(main, ["fit", str(path)])
    _one_error(r, str(path), "parameter 's_s' inits", "non-finite")


def test_a_deeply_nested_template_is_refused(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)

    def edit(doc: dict[str, Any]) -> None:
        doc["samples"][0]["template"]["file"] = str(deep)

    config = _config(tmp_path, edit)
    r = CliRunner().invoke(
        main, ["build-workspace", "--config", str(config), "-o", str(tmp_path / "w.json")]
    )
    _one_error(r, str(deep), "nested too deeply")


def test_a_latin1_configuration_is_refused(tmp_path):
    config = _config(tmp_path, lambda d: None)
    doc = json.loads(config.read_text())
    doc["description"] = "Konfiguration für Daten"
    config.write_bytes(json.dumps(doc, ensure_ascii=False).encode("latin-1"))
    r = CliRunner().invoke(
        main, ["build-workspace", "--config", str(config), "-o", str(tmp_path / "w.json")]
    )
    _one_error(r, str(config), "not UTF-8", "byte 0xfc", "line 1")


def test_a_5000_digit_luminosity_in_a_configuration_is_refused(tmp_path):
    config = _config(tmp_path, lambda d: None)
    config.write_text(config.read_text().replace('"lumi_fb": 10.0', '"lumi_fb": ' + "9" * 5000))
    r = CliRunner().invoke(
        main, ["build-workspace", "--config", str(config), "-o", str(tmp_path / "w.json")]
    )
    _one_error(r, str(config), "at lumi_fb", "not a finite number")


def test_an_undrawable_observable_label_is_refused(tmp_path):
    config = _config(tmp_path, lambda d: d["observable"].update(label=r"$m_{4\ell [GeV]$"))
    r = CliRunner().invoke(
        main, ["build-workspace", "--config", str(config), "-o", str(tmp_path / "w.json")]
    )
    _one_error(r, str(config), "observable.label", "matplotlib cannot draw it")
    # a label matplotlib draws, with a literal dollar, stays accepted
    config = _config(tmp_path, lambda d: d["observable"].update(label=r"$m_{4\ell}$ [GeV] \$"))
    from higgs_pyhf.build.config import load_config

    assert load_config(config).observable_label == r"$m_{4\ell}$ [GeV] \$"


def test_a_poi_without_effect_loads(tmp_path):
    """Loading a workspace whose signal is all zero works (the studies say what they can do)."""
    ws = _atlas()
    ws["channels"][0]["samples"][0]["data"] = [0.0] * 34
    model, data = model_and_data(_write(tmp_path / "zero.json", ws))
    assert model.config.npars == 2
    assert np.array_equal(data, np.asarray(ws["observations"][0]["data"], dtype=float))


def test_toys_held_at_once_are_bounded_by_memory():
    from higgs_pyhf.errors import FitError
    from higgs_pyhf.inference.toys.sampling import MAX_TOY_BYTES, check_toy_memory

    # 34 bins, 2 parameters: 8 * (34 + 4) = 304 bytes a toy
    fits = MAX_TOY_BYTES // 304
    check_toy_memory(fits, 34, 2)
    with pytest.raises(FitError, match=f"use at most {fits:,} toys"):
        check_toy_memory(fits + 1, 34, 2)
    r = CliRunner().invoke(
        main, ["toys", "contour", str(ATLAS), "--ntoys", "20000000", "--n-points", "2"]
    )
    _one_error(r, "20,000,000 toys", "6.1 GB", f"{fits:,}")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"s_b": ' + "9" * 5000 + "}", "parameter -> group name"),
    ],
)
def test_a_hostile_groups_file_is_refused(tmp_path, content, fragment):
    groups = tmp_path / "groups.json"
    groups.write_text(content)
    r = CliRunner().invoke(main, ["impacts", str(ATLAS), "--groups", str(groups)])
    _one_error(r, "groups.json", fragment)


def test_another_luminosity_than_the_real_datas_is_refused(tmp_path):
    """MC templates that record no luminosity, a configuration at 20 fb^-1, the real 10 fb^-1 data."""
    config = _config(tmp_path, lambda d: d.update(lumi_fb=20.0))
    templates = tmp_path / "report_mc_templates.json"
    doc = json.loads(templates.read_text())
    del doc["lumi_fb"]
    templates.write_text(json.dumps(doc))
    out = tmp_path / "ws.json"
    r = CliRunner().invoke(main, ["build-workspace", "--config", str(config), "-o", str(out)])
    _one_error(r, "luminosity 20 fb^-1", "10 fb^-1 of the real ATLAS data", "4 files")
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (b'{"generated": true, "note": "\xe9"}', "not UTF-8"),
    ],
)
def test_a_hostile_generator_marker_is_refused(tmp_path, content, fragment):
    data = tmp_path / "in" / "Data"
    data.mkdir(parents=True)
    for f in (real_data_dir() / "Data").glob("*.root"):
        shutil.copy(f, data)
    marker = tmp_path / "in" / "GENERATED.json"
    if isinstance(content, bytes):
        marker.write_bytes(content)
    else:
        marker.write_text(content)
    r = CliRunner().invoke(main, ["cutflow", "--data-dir", str(tmp_path / "in")])
    _one_error(r, "GENERATED.json", fragment)
