import json
from importlib import resources

import jsonschema
import numpy as np
import pytest

from higgs_pyhf.build.config import default_config, load_config, parse_config
from higgs_pyhf.build.config_schema import CONFIG_SCHEMA
from higgs_pyhf.errors import ConfigError


def test_default_config_matches_report_and_reference_table():
    cfg = default_config()
    assert cfg.tree == "mini"
    assert cfg.lumi_fb == 10.0
    np.testing.assert_allclose(cfg.edges, np.linspace(80, 250, 35))
    assert len(cfg.mc_samples) == 10
    assert {s.name for s in cfg.samples if s.kind == "signal"} == {
        "ggH125_ZZ4lep",
        "VBFH125_ZZ4lep",
        "WH125_ZZ4lep",
        "ZH125_ZZ4lep",
    }
    # figures of the ATLAS sample table (shared/data/atlas_2020_4lep_samples.json)
    ggh = cfg.sample("ggH125_ZZ4lep")
    assert ggh.xsec_pb == pytest.approx(0.0060239)
    assert ggh.sumw == pytest.approx(27881776.6536)
    # report's get_xsec_weight: lumi*1000*xsec/(sumw*red_eff)
    assert ggh.xsec_weight(10.0) == pytest.approx(10 * 1000 * 0.0060239 / 27881776.6536, rel=1e-12)
    assert cfg.sample("data").xsec_weight(10.0) == 1.0


def test_config_file_roundtrip_and_errors(tmp_path):
    text = resources.files("higgs_pyhf").joinpath("data/config_atlas_ntuples.json").read_text()
    raw = json.loads(text)
    p = tmp_path / "c.json"
    p.write_text(json.dumps(raw))
    assert load_config(p) == default_config()

    raw["samples"][0]["xsec_pb"] = -1
    with pytest.raises(ConfigError, match=r"samples\[0\]\.xsec_pb"):
        parse_config(raw)
    del raw["samples"][0]["xsec_pb"]
    with pytest.raises(ConfigError, match=r"samples\[0\] \(Zee\).*xsec_pb"):
        parse_config(raw)

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.json")


def test_the_configuration_schema_is_a_valid_schema():
    jsonschema.validators.validator_for(CONFIG_SCHEMA).check_schema(CONFIG_SCHEMA)


def test_with_lumi_rejects_nonpositive():
    cfg = default_config()
    assert cfg.with_lumi(36.1).lumi_fb == 36.1
    with pytest.raises(ConfigError, match="luminosity"):
        cfg.with_lumi(0)


# --------------------------------------------------------------------------- systematics


def _doc(name="ntuples"):
    return json.loads(
        resources.files("higgs_pyhf").joinpath(f"data/config_atlas_{name}.json").read_text()
    )


def test_shipped_systematics_parse_to_the_documented_entries():
    syst = default_config().systematics
    assert [e.name for e in syst.entries] == [
        "lumi",
        "signal_theory",
        "zz_norm",
        "reducible_norm",
        "mc_stat",
        "el_scale",
        "mu_scale",
        "el_eff",
        "mu_eff",
    ]
    assert syst.prune_threshold == 0.001
    theory = syst.entries[1]
    assert (theory.hi, theory.lo) == (1.06, 0.92)
    assert theory.samples == ("ggH125_ZZ4lep", "WH125_ZZ4lep", "VBFH125_ZZ4lep", "ZH125_ZZ4lep")
    zz = syst.entries[2]
    assert (zz.hi, zz.lo, zz.samples) == (1.1, 0.9, ("llll",))
    assert syst.entries[5].lepton_scale == ("electron", 0.005)
    assert syst.entries[6].lepton_scale == ("muon", 0.002)
    assert syst.entries[7].scale_factor == ("scaleFactor_ELE", 0.01)
    assert syst.entries[8].scale_factor == ("scaleFactor_MUON", 0.005)
    assert all(len(e.samples) == 10 for e in syst.entries if e.type != "normsys")
    from higgs_pyhf.build.config import template_config

    templ = template_config().systematics
    assert [(e.name, e.type) for e in templ.entries] == [
        ("lumi", "lumi"),
        ("signal_theory", "normsys"),
        ("background_norm", "normsys"),
    ]
    assert templ.entries[0].uncertainty == 0.017


def _set(path, value):
    def mutate(doc):
        target = doc["systematics"]["entries"]
        *head, last = path
        for key in head:
            target = target[key]
        target[last] = value

    return mutate


def _append(entry):
    return lambda doc: doc["systematics"]["entries"].append(entry)


@pytest.mark.parametrize(
    ("name", "mutate", "fragments"),
    [
        ("ntuples", _set([2, "samples"], ["nope"]), ["entries[2] (zz_norm)", "'nope'"]),
        ("ntuples", _set([2, "uncertainty"], float("nan")), ["entries[2] (zz_norm)", "nan"]),
        ("ntuples", _set([2, "uncertainty"], 1.5), ["entries[2].uncertainty"]),
        ("ntuples", _set([1, "hi"], float("inf")), ["entries[1] (signal_theory).hi"]),
        ("ntuples", _set([1, "uncertainty"], 0.1), ["entries[1] (signal_theory)", "not both"]),
        ("ntuples", _set([1, "hi"], 50.0), ["entries[1] (signal_theory)", "outside [0.1, 10]"]),
        ("ntuples", _set([5, "lepton_scale", "uncertainty"], 0.5), ["entries[5].lepton_scale"]),
        ("ntuples", _set([5, "lepton_scale", "flavour"], "tau"), ["entries[5].lepton_scale"]),
        ("ntuples", _set([0, "name"], "mc_stat"), ["entries[4] (mc_stat)", "duplicate"]),
        ("ntuples", _set([3, "kinds"], ["signal"]), ["entries[3]"]),
        (
            "ntuples",
            _append({"name": "lumi2", "type": "lumi", "uncertainty": 0.02}),
            ["one 'lumi'"],
        ),
        ("ntuples", _append({"name": "x", "type": "histosys"}), ["entries[9] (x)", "exactly one"]),
        ("ntuples", _append({"name": "x", "type": "lumi"}), ["entries[9] (x)", "'uncertainty'"]),
        (
            "ntuples",
            _append({"name": "x", "type": "normsys", "hi": 1.1}),
            ["entries[9] (x)", "'lo'"],
        ),
        (
            "ntuples",
            _append({"name": "x", "type": "staterror", "uncertainty": 0.1}),
            ["entries[9] (x)", "takes no ['uncertainty']"],
        ),
        (
            "ntuples",
            _append(
                {"name": "x", "type": "histosys", "template": {"up": "{sample}_up", "down": "d"}}
            ),
            ["entries[9] (x)", "read from ntuples"],
        ),
        (
            "templates",
            _append(
                {
                    "name": "x",
                    "type": "histosys",
                    "lepton_scale": {"flavour": "muon", "uncertainty": 0.01},
                }
            ),
            ["entries[3] (x)", "come from templates", "'signal'"],
        ),
        (
            "templates",
            _append({"name": "x", "type": "histosys", "template": {"up": "{nope}", "down": "d"}}),
            ["entries[3] (x).template.up"],
        ),
        ("templates", _set([0, "kinds"], ["data"]), ["entries[0].kinds[0]"]),
        (
            "ntuples",
            _set([7, "scale_factor", "branch"], "scaleFactor_PILEUP"),
            ["entries[7].scale_factor.branch"],
        ),
        (
            "ntuples",
            _set([7, "lepton_scale"], {"flavour": "muon", "uncertainty": 0.01}),
            ["entries[7] (el_eff)", "exactly one"],
        ),
        (
            "templates",
            lambda d: d["systematics"].__setitem__("prune_threshold", 2),
            ["prune_threshold"],
        ),
    ],
)
def test_bad_systematics_entries_are_named(name, mutate, fragments):
    doc = _doc(name)
    mutate(doc)
    with pytest.raises(ConfigError) as info:
        parse_config(doc)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_prune_threshold_override():
    syst = default_config().systematics
    assert syst.with_threshold(0.05).prune_threshold == 0.05
    for bad in (-0.1, 1.0, float("nan")):
        with pytest.raises(ConfigError, match="pruning threshold"):
            syst.with_threshold(bad)
