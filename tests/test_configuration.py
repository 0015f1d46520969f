import json
from importlib import resources

import numpy as np
import pytest

from higgs_pyhf.configuration import default_config, load_config, parse_config
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


def test_with_lumi_rejects_nonpositive():
    cfg = default_config()
    assert cfg.with_lumi(36.1).lumi_fb == 36.1
    with pytest.raises(ConfigError, match="luminosity"):
        cfg.with_lumi(0)
