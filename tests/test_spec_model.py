"""The engine's model read from the JSON without pyhf, against pyhf's own model of the same file."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import jsonpatch
import numpy as np
import pyhf
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from higgs_pyhf.cli import main
from higgs_pyhf.inference.engine import compile_model
from higgs_pyhf.inference.engine.spec_model import NotNative, SpecModel, spec_model
from higgs_pyhf.inference.fit import fit
from higgs_pyhf.spec import schema
from higgs_pyhf.synthetic.workspaces import random_workspace, realistic_workspace
from higgs_pyhf.workspace import engine_model_and_data, model_and_data, validate_spec

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(
    p for p in (ROOT / "workspaces").glob("*.json") if not p.name.endswith(".provenance.json")
)
CONFIG_ATTRS = (
    "channels", "samples", "par_order", "parameters", "npars", "nmaindata", "nauxdata",
    "auxdata", "auxdata_order", "poi_name", "poi_index", "par_names", "modifiers", "channel_nbins",
)  # fmt: skip


def _assert_same(spec: dict) -> None:
    """The native model equals pyhf's: every compiled array, the data and the config."""
    validate_spec(spec)
    ours, data = spec_model(spec)
    ref, ref_data = model_and_data(spec, validate=False)
    assert np.array_equal(data, ref_data)
    a, b = ours.compiled, compile_model(ref)
    for field in a._fields:
        x, y = getattr(a, field), getattr(b, field)
        if isinstance(x, np.ndarray):
            assert x.shape == y.shape, field
            assert np.array_equal(x, y), field
        else:
            assert x == y, field
    for attr in CONFIG_ATTRS:
        assert getattr(ours.config, attr) == getattr(ref.config, attr), attr
    assert ours.config.suggested_init() == ref.config.suggested_init()
    assert ours.config.suggested_fixed() == ref.config.suggested_fixed()
    assert np.array_equal(
        np.array(ours.config.suggested_bounds(), float), np.array(ref.config.suggested_bounds())
    )
    for name in ref.config.parameters:
        assert ours.config.param_set(name).constrained == ref.config.param_set(name).constrained
        assert ours.config.param_set(name).n_parameters == ref.config.param_set(name).n_parameters


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_workspaces(path):
    _assert_same(json.loads(path.read_text()))


@pytest.mark.parametrize("region", ["A", "B", "C"])
def test_published_sbottom_points(sbottom, region):
    bkg = sbottom.json(f"Region{region}/BkgOnly.json")
    for point in {"A": ["1300_205_60", "500_400_60"], "B": ["1400_550_60", "800_750_60"],
                  "C": ["1600_850_60", "800_795_60"]}[region]:  # fmt: skip
        patch = sbottom.json(f"Region{region}/patch.sbottom_{point}.json")
        _assert_same(jsonpatch.apply_patch(bkg, patch))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    nch=st.integers(1, 3),
    nbins=st.integers(1, 5),
    shapefactor=st.booleans(),
)
def test_random_workspaces(seed, nch, nbins, shapefactor):
    spec = random_workspace(
        seed, n_channels=nch, n_bins=nbins, shapefactor=shapefactor, fixed_lumi=seed % 3 == 0
    )
    _assert_same(spec)


def test_measurement_configuration_is_applied_as_pyhf_does():
    spec = realistic_workspace(3)
    config = spec["measurements"][0]["config"]
    params = {p["name"]: p for p in config["parameters"]}
    params.setdefault("s_b", {"name": "s_b"}).update(bounds=[[0.5, 4.0]], inits=[1.2])
    params.setdefault("lep_eff", {"name": "lep_eff"}).update(fixed=True)
    params.setdefault("mass_scale", {"name": "mass_scale"}).update(inits=[0.3])
    config["parameters"] = list(params.values())
    _assert_same(spec)
    model, _ = spec_model(spec)
    assert model.config.suggested_bounds()[model.config.par_slice("s_b").start] == (0.5, 4.0)


def _without_poi_parameter(spec: dict) -> dict:
    out = copy.deepcopy(spec)
    out["measurements"][0]["config"]["poi"] = "no_such_parameter"
    return out


def test_what_it_does_not_reproduce_is_built_by_pyhf():
    spec = realistic_workspace(1)
    # the POI is not a parameter: pyhf's error, through the pyhf path
    with pytest.raises(NotNative):
        spec_model(_without_poi_parameter(spec))
    # a shapefactor shared by two channels: the engine needs pyhf's model (fallback fit)
    shared = random_workspace(5, n_channels=2, n_bins=3, shapefactor=False)
    for ch in shared["channels"]:
        ch["samples"][0]["modifiers"].append({"name": "sf", "type": "shapefactor", "data": None})
    with pytest.raises(NotNative):
        spec_model(shared)
    model, _ = engine_model_and_data(shared)
    assert not isinstance(model, SpecModel)
    assert isinstance(model, pyhf.pdf.Model)


def test_pyhf_interface_falls_through_to_pyhf():
    spec = realistic_workspace(2)
    model, data = spec_model(spec)
    ref, _ = model_and_data(spec, validate=False)
    pars = np.array(ref.config.suggested_init()) * 1.01
    # not part of the facade: answered by the pyhf model built on demand
    assert float(model.logpdf(pars, data)[0]) == pytest.approx(float(ref.logpdf(pars, data)[0]))
    assert model.config.suggested_init() == ref.config.suggested_init()


def test_fit_equals_the_fit_of_pyhfs_model():
    spec = realistic_workspace(4)
    ours = fit(*spec_model(spec), minos=["s_s"])
    ref = fit(*model_and_data(spec), minos=["s_s"])
    a, b = ours.to_json(), ref.to_json()
    a.pop("timing")
    b.pop("timing")
    assert a == b


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s["channels"][0].pop("samples"),
        lambda s: s["channels"][0]["samples"][0]["modifiers"].append({"name": "x", "type": "bad"}),
        lambda s: s["channels"][0]["samples"][0].update(data="text"),
        lambda s: s.update(version="2.0.0"),
        lambda s: s["measurements"][0]["config"].pop("poi"),
        lambda s: s["observations"][0].update(data=[1, "two"]),
    ],
)
def test_schema_errors_are_pyhfs(mutate):
    spec = json.loads((ROOT / "workspaces" / "hzz4l_atlas.json").read_text())
    schema.validate(spec)  # passes, and is remembered: the changed document must not be
    mutate(spec)
    with pytest.raises(pyhf.exceptions.InvalidSpecification) as ref:
        pyhf.schema.validate(spec, "workspace.json")
    with pytest.raises(schema.SchemaError) as ours:
        schema.validate(spec)
    assert ours.value.path == ref.value.path
    assert ours.value.detail == ref.value.parent.message


def test_a_remembered_pass_is_only_reused_for_an_equal_document():
    spec = json.loads((ROOT / "workspaces" / "hzz4l_atlas.json").read_text())
    schema.validate(spec)
    schema.validate(copy.deepcopy(spec))
    as_numpy = copy.deepcopy(spec)
    as_numpy["channels"][0]["samples"][0]["data"] = np.asarray(
        spec["channels"][0]["samples"][0]["data"]
    )
    schema.validate(as_numpy)  # numpy values: never remembered, always walked
    as_numpy["channels"][0]["samples"][0]["data"] = np.asarray(["a"])
    with pytest.raises(schema.SchemaError, match=r"channels\[0\]\.samples\[0\]\.data\[0\]"):
        schema.validate(as_numpy)
    spec["channels"][0]["samples"][0]["data"][3] = "x"
    with pytest.raises(schema.SchemaError, match=r"samples\[0\]\.data\[3\]"):
        schema.validate(spec)


@pytest.mark.slow  # fresh interpreters (CI runs it)
@pytest.mark.parametrize("command", ["fit", "cls", "significance"])
def test_fitting_commands_do_not_import_pyhf(command):
    code = (
        "import sys\n"
        "from higgs_pyhf.cli import main\n"
        "try:\n"
        f"    main([{command!r}, {str(ROOT / 'workspaces' / 'hzz4l_atlas.json')!r}])\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('pyhf', 'matplotlib') "
        "or m in ('scipy.stats', 'scipy.optimize'))\n"
        "assert not bad, bad\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=300
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads(res.stdout)  # the command's JSON on stdout


def test_cli_fit_falls_back_with_pyhfs_error(tmp_path):
    spec = _without_poi_parameter(
        json.loads((ROOT / "workspaces" / "hzz4l_atlas.json").read_text())
    )
    path = tmp_path / "ws.json"
    path.write_text(json.dumps(spec))
    res = CliRunner().invoke(main, ["fit", str(path)])
    assert res.exit_code == 1
    assert res.stderr.startswith("Error: ")
    assert "no_such_parameter" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
