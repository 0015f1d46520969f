"""Systematics and final-state channels of the built model, against independent computations.

The references here are written afresh with plain numpy from the ntuple
branches (uproot) and from the configuration's numbers; none of them calls
the selection, histogram or workspace code under test.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import uproot

from higgs_pyhf.build.config import default_config, parse_config, template_config
from higgs_pyhf.build.cutflows import final_states
from higgs_pyhf.build.detailed_workspace import workspace_from_shapes
from higgs_pyhf.build.histograms import build_histograms
from higgs_pyhf.build.pipeline import build_inputs
from higgs_pyhf.build.provenance import real_data_dir
from higgs_pyhf.build.selection import select
from higgs_pyhf.build.variations import shape_spec
from higgs_pyhf.synthetic import make_inputs

ROOT = Path(__file__).resolve().parents[1]
WORKSPACES = ROOT / "workspaces"
SF = (
    "mcWeight",
    "scaleFactor_PILEUP",
    "scaleFactor_ELE",
    "scaleFactor_MUON",
    "scaleFactor_LepTRIGGER",
)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    directory = tmp_path_factory.mktemp("gen_syst")
    make_inputs(directory, seed=17, scale=0.1)
    return directory


@pytest.fixture(scope="module")
def unpruned(generated):
    """The ntuples config's systematics, nothing pruned, one channel and the final states."""
    config = default_config()
    syst = config.systematics.with_threshold(0.0)
    single = build_inputs(config, generated, systematics=syst)
    split = build_inputs(config, generated, systematics=syst, channels="final-state")
    return config, single, split


def _sample(spec, channel, name):
    ch = next(c for c in spec["channels"] if c["name"] == channel)
    return next(s for s in ch["samples"] if s["name"] == name)


def _modifier(sample, name):
    return next((m for m in sample["modifiers"] if m["name"] == name), None)


# --------------------------------------------------------------------------- numpy reference


def _reference_histograms(
    path, config, sample, *, lep_type=None, factor=1.0, sf_type=None, sf_factor=1.0
):
    """(m4l histogram, per final state histograms) of one file, selection 'intended', in numpy.

    The lepton-scale variation multiplies lep_pt and lep_E of one flavour by
    ``factor`` in float32, as a recalibrated ntuple would store them; the
    scale-factor variation multiplies the weight by ``sf_factor`` per lepton
    of flavour ``sf_type``.
    """
    with uproot.open(path) as f:
        a = f[config.tree].arrays(library="np")
    counts = a["lep_n"].astype(int)
    edges = np.asarray(config.edges)
    m4l, w, fs = [], [], []
    xsec_w = sample.xsec_weight(config.lumi_fb)
    f32 = np.float32(factor)
    for i in range(len(counts)):
        types = a["lep_type"][i].astype(int)
        if counts[i] != 4 or len(types) != 4:
            continue
        pt = a["lep_pt"][i].copy()
        energy = a["lep_E"][i].copy()
        if lep_type is not None:
            pt = np.where(types == lep_type, pt * f32, pt)
            energy = np.where(types == lep_type, energy * f32, energy)
        eta, phi = a["lep_eta"][i], a["lep_phi"][i]
        ok = (
            a["lep_charge"][i].sum() == 0
            and types.sum() in (44, 48, 52)
            and pt.max() > 20_000
            and pt.min() > 7_000
            and np.all(np.abs(eta) < 2.5)
            and np.all(a["lep_ptcone30"][i] / pt < 0.3)
            and np.all(a["lep_etcone20"][i] / pt < 0.3)
            and (a["trigE"][i] or a["trigM"][i])
        )
        if not ok:
            continue
        pt64 = pt.astype(np.float64)
        px = np.sum(pt64 * np.cos(phi.astype(np.float64)))
        py = np.sum(pt64 * np.sin(phi.astype(np.float64)))
        pz = np.sum(pt64 * np.sinh(eta.astype(np.float64)))
        e = np.sum(energy.astype(np.float64))
        m4l.append(np.sqrt(max(e * e - px * px - py * py - pz * pz, 0.0)) / 1000.0)
        weight = xsec_w
        for b in SF:
            weight *= float(a[b][i])
        if sf_type is not None:
            weight *= sf_factor ** int(np.sum(types == sf_type))
        w.append(weight)
        fs.append({4 * 11: "4e", 4 * 13: "4mu"}.get(types.sum(), "2e2mu"))
    m4l, w, fs = np.asarray(m4l), np.asarray(w), np.asarray(fs)
    per_fs = {
        c: np.histogram(m4l[fs == c], bins=edges, weights=w[fs == c])[0]
        for c in ("4e", "2e2mu", "4mu")
    }
    return np.histogram(m4l, bins=edges, weights=w)[0], per_fs


def test_lepton_scale_histosys_equals_numpy_recomputation(generated, unpruned):
    config, single, split = unpruned
    llll = config.sample("llll")  # alone in its workspace sample (its own normsys)
    path = generated / llll.files[0]
    nominal, nominal_fs = _reference_histograms(path, config, llll)
    spec = single.spec
    sample = _sample(spec, "hzz4l_m4l", "llll")
    np.testing.assert_allclose(sample["data"], nominal, rtol=1e-9, atol=1e-12)
    for name, lep_type, delta in (("el_scale", 11, 0.005), ("mu_scale", 13, 0.002)):
        mod = _modifier(sample, name)
        assert mod["type"] == "histosys"
        up, up_fs = _reference_histograms(path, config, llll, lep_type=lep_type, factor=1 + delta)
        down, down_fs = _reference_histograms(
            path, config, llll, lep_type=lep_type, factor=1 - delta
        )
        np.testing.assert_allclose(mod["data"]["hi_data"], up, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(mod["data"]["lo_data"], down, rtol=1e-9, atol=1e-12)
        # a true shape systematic: events migrate between bins, the total barely moves
        assert not np.allclose(up, nominal, rtol=1e-6)
        # and per final state
        for fs in ("4e", "2e2mu", "4mu"):
            channel = f"hzz4l_m4l_{fs}"
            mod_fs = _modifier(_sample(split.spec, channel, "llll"), name)
            np.testing.assert_allclose(mod_fs["data"]["hi_data"], up_fs[fs], rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(
                mod_fs["data"]["lo_data"], down_fs[fs], rtol=1e-9, atol=1e-12
            )
    # the muon scale does not touch 4e events, nor the electron scale 4mu events
    for channel, untouched in (
        ("hzz4l_m4l_4e", "mu_scale"),
        ("hzz4l_m4l_4mu", "el_scale"),
        ("hzz4l_m4l_4e", "mu_eff"),
        ("hzz4l_m4l_4mu", "el_eff"),
    ):
        sample = _sample(split.spec, channel, "llll")
        mod = _modifier(sample, untouched)
        np.testing.assert_array_equal(mod["data"]["hi_data"], sample["data"])
        np.testing.assert_array_equal(mod["data"]["lo_data"], sample["data"])
        np.testing.assert_allclose(sample["data"], nominal_fs[channel.split("_")[-1]], rtol=1e-9)


def test_scale_factor_weight_variation_equals_numpy_recomputation(generated, unpruned):
    config, single, split = unpruned
    llll = config.sample("llll")
    path = generated / llll.files[0]
    sample = _sample(single.spec, "hzz4l_m4l", "llll")
    nominal = np.asarray(sample["data"])
    for name, lep_type, u in (("el_eff", 11, 0.01), ("mu_eff", 13, 0.005)):
        mod = _modifier(sample, name)
        up, up_fs = _reference_histograms(path, config, llll, sf_type=lep_type, sf_factor=1 + u)
        down, _ = _reference_histograms(path, config, llll, sf_type=lep_type, sf_factor=1 - u)
        np.testing.assert_allclose(mod["data"]["hi_data"], up, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(mod["data"]["lo_data"], down, rtol=1e-9, atol=1e-12)
        # per final state: exactly (1 +- u)^n with n = 4, 2, 0 leptons of the flavour
        n = {"4e": 4, "2e2mu": 2, "4mu": 0} if lep_type == 11 else {"4e": 0, "2e2mu": 2, "4mu": 4}
        for fs, k in n.items():
            s = _sample(split.spec, f"hzz4l_m4l_{fs}", "llll")
            np.testing.assert_allclose(
                _modifier(s, name)["data"]["hi_data"],
                (1 + u) ** k * np.asarray(s["data"]),
                rtol=1e-12,
            )
            np.testing.assert_allclose(up_fs[fs], (1 + u) ** k * np.asarray(s["data"]), rtol=1e-9)
        assert np.all(np.asarray(up) >= nominal)


def test_normsys_lumi_and_staterror_follow_the_config(unpruned):
    config, single, _ = unpruned
    spec = single.spec
    raw = json.loads((ROOT / "higgs_pyhf/data/config_atlas_ntuples.json").read_text())
    entries = {e["name"]: e for e in raw["systematics"]["entries"]}
    names = {s["name"] for s in spec["channels"][0]["samples"]}
    assert names == {"signal", "llll", "background_reducible_norm"}
    for sample, normsys in (
        ("signal", "signal_theory"),
        ("llll", "zz_norm"),
        ("background_reducible_norm", "reducible_norm"),
    ):
        mod = _modifier(_sample(spec, "hzz4l_m4l", sample), normsys)
        e = entries[normsys]
        hi = e.get("hi", 1 + e.get("uncertainty", 0))
        lo = e.get("lo", 1 - e.get("uncertainty", 0))
        assert mod["data"] == {
            "hi": pytest.approx(hi, abs=1e-15),
            "lo": pytest.approx(lo, abs=1e-15),
        }
        # normfactors: s_s on every signal sample, s_b on every background one
        norm = "s_s" if sample == "signal" else "s_b"
        assert _modifier(_sample(spec, "hzz4l_m4l", sample), norm)["type"] == "normfactor"
    lumi = next(p for p in spec["measurements"][0]["config"]["parameters"] if p["name"] == "lumi")
    assert lumi["auxdata"] == [1.0]
    assert lumi["sigmas"] == [entries["lumi"]["uncertainty"]] == [0.017]
    # grouped samples are the sums of their members; staterror = sqrt(sum of sumw2)
    h = single.histograms.histograms
    members = [
        s.name for s in config.samples if s.name in ("Zee", "Zmumu", "ttbar_lep", "llvv", "ZqqZll")
    ]
    group = _sample(spec, "hzz4l_m4l", "background_reducible_norm")
    np.testing.assert_allclose(
        group["data"], sum(h[{"sample": m}].values() for m in members), rtol=1e-12
    )
    stat = _modifier(group, "staterror_hzz4l_m4l")
    np.testing.assert_allclose(
        stat["data"], np.sqrt(sum(h[{"sample": m}].variances() for m in members)), rtol=1e-12
    )


def test_channel_yields_sum_to_the_one_channel_yields(unpruned):
    _, single, split = unpruned
    one = {s["name"]: s for s in single.spec["channels"][0]["samples"]}
    channels = [c["name"] for c in split.spec["channels"]]
    assert channels == ["hzz4l_m4l_4e", "hzz4l_m4l_2e2mu", "hzz4l_m4l_4mu"]
    for name, sample in one.items():
        parts = [_sample(split.spec, c, name) for c in channels]
        np.testing.assert_allclose(
            sum(np.asarray(p["data"]) for p in parts), sample["data"], rtol=1e-12, atol=1e-15
        )
        for mod in sample["modifiers"]:
            if mod["type"] != "histosys":
                continue
            for key in ("hi_data", "lo_data"):
                total = sum(np.asarray(_modifier(p, mod["name"])["data"][key]) for p in parts)
                np.testing.assert_allclose(total, mod["data"][key], rtol=1e-12, atol=1e-15)
    # data: integer counts, equal exactly
    obs = sum(np.asarray(o["data"]) for o in split.spec["observations"])
    np.testing.assert_array_equal(obs, single.spec["observations"][0]["data"])
    # the nominal detailed histogram of the single channel IS the nominal histogram
    spec_one = np.asarray(single.spec["observations"][0]["data"])
    np.testing.assert_array_equal(
        spec_one, single.histograms.histograms[{"sample": "data"}].values()
    )


def test_final_state_data_counts_equal_cutflows_final_states(generated, unpruned):
    config, _, split = unpruned
    edges = np.asarray(config.edges)
    expected = dict.fromkeys(("4e", "2e2mu", "4mu"), np.zeros(len(edges) - 1))
    for rel in config.sample("data").files:
        with uproot.open(generated / rel) as f:
            events = f[config.tree].arrays()
        sel = select(events, selection="intended")
        fs = final_states(events)[sel.passed]
        assert set(fs) <= set(expected)  # the flavour cut leaves no "other"
        for c in expected:
            expected[c] = expected[c] + np.histogram(sel.m4l[fs == c], bins=edges)[0]
    for obs in split.spec["observations"]:
        np.testing.assert_array_equal(obs["data"], expected[obs["name"].rsplit("_", 1)[1]])
    prov = split.provenance["model"]["channel_yields"]
    assert {c: v["data"] for c, v in prov.items()} == {
        f"hzz4l_m4l_{c}": float(v.sum()) for c, v in expected.items()
    }


def _effects(spec):
    """(channel, sample, modifier) → largest relative effect per bin, computed here."""
    out = {}
    for ch in spec["channels"]:
        for s in ch["samples"]:
            nom = np.asarray(s["data"])
            for m in s["modifiers"]:
                if m["type"] == "normsys":
                    eff = max(abs(m["data"]["hi"] - 1), abs(m["data"]["lo"] - 1))
                elif m["type"] == "histosys":
                    eff = 0.0
                    for key in ("hi_data", "lo_data"):
                        d = np.abs(np.asarray(m["data"][key]) - nom)
                        for n, x in zip(nom, d, strict=True):
                            if n > 0:
                                eff = max(eff, x / n)
                            elif x > 0:
                                eff = np.inf
                else:
                    continue
                out[(ch["name"], s["name"], m["name"])] = eff
    return out


def test_pruning_removes_exactly_what_is_below_threshold(unpruned, caplog):
    config, _, split = unpruned
    everything = _effects(split.spec)
    assert split.provenance["model"]["pruned"] == []
    threshold = float(np.median([e for e in everything.values() if np.isfinite(e)]))
    syst = config.systematics.with_threshold(threshold)
    with caplog.at_level(logging.INFO, logger="higgs_pyhf.build.detailed_workspace"):
        pruned = workspace_from_shapes(split.histograms.shapes, config, syst)
    kept = set(_effects(pruned.spec))
    assert kept == {k for k, e in everything.items() if e >= threshold}
    assert {(p.channel, p.sample, p.modifier) for p in pruned.pruned} == {
        k for k, e in everything.items() if e < threshold
    }
    for p in pruned.pruned:
        assert p.max_relative_effect == pytest.approx(everything[(p.channel, p.sample, p.modifier)])
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("pruned ")]
    assert len(lines) == len(pruned.pruned) > 0
    # the default threshold (0.1%) prunes exactly the scale that cannot act in a channel
    default = workspace_from_shapes(split.histograms.shapes, config, config.systematics)
    assert {(p.channel, p.modifier) for p in default.pruned} == {
        ("hzz4l_m4l_4e", "mu_scale"),
        ("hzz4l_m4l_4mu", "el_scale"),
        ("hzz4l_m4l_4e", "mu_eff"),
        ("hzz4l_m4l_4mu", "el_eff"),
    }


@pytest.mark.slow  # starts a process pool
def test_shapes_are_bit_identical_on_a_pool(generated):
    config = default_config()
    spec = shape_spec(config.systematics, channels="final-state")
    one = build_histograms(config, generated, step_size=700, shapes=spec)
    two = build_histograms(config, generated, step_size=700, shapes=spec, workers=2)
    assert one.shapes is not None
    np.testing.assert_array_equal(
        one.shapes.view(flow=True).value, two.shapes.view(flow=True).value
    )
    np.testing.assert_array_equal(
        one.shapes.view(flow=True).variance, two.shapes.view(flow=True).variance
    )
    # the nominal histograms are untouched by the detailed ones
    plain = build_histograms(config, generated, step_size=700)
    np.testing.assert_array_equal(
        plain.histograms.view(flow=True).value, one.histograms.view(flow=True).value
    )


# --------------------------------------------------------------------------- templates


def test_real_data_with_the_templates_systematics():
    config = template_config()
    build = build_inputs(
        config, real_data_dir(), selection="report", systematics=config.systematics
    )
    spec = build.spec
    shipped = json.loads((WORKSPACES / "hzz4l_atlas.json").read_text())
    assert spec["observations"] == shipped["observations"]
    for ours, theirs in zip(
        spec["channels"][0]["samples"], shipped["channels"][0]["samples"], strict=True
    ):
        assert ours["name"] == theirs["name"]
        assert ours["data"] == theirs["data"]
        assert [m["type"] for m in ours["modifiers"]] == ["normfactor", "lumi", "normsys"]
    assert _modifier(_sample(spec, "hzz4l_m4l", "signal"), "signal_theory")["data"] == {
        "hi": 1.06,
        "lo": 0.92,
    }
    bkg = _modifier(_sample(spec, "hzz4l_m4l", "background"), "background_norm")["data"]
    assert bkg == {"hi": pytest.approx(1.1, abs=1e-15), "lo": pytest.approx(0.9, abs=1e-15)}
    assert build.provenance["model"]["pruned"] == []


def test_template_up_down_histosys(tmp_path):
    raw = json.loads((ROOT / "higgs_pyhf/data/report_mc_templates.json").read_text())
    sig = np.asarray(raw["signal"])
    raw["signal_shape_up"] = (sig * np.linspace(0.9, 1.1, sig.size)).tolist()
    raw["signal_shape_down"] = (sig * np.linspace(1.1, 0.9, sig.size)).tolist()
    (tmp_path / "t.json").write_text(json.dumps(raw))
    doc = json.loads((ROOT / "higgs_pyhf/data/config_atlas_templates.json").read_text())
    for s in doc["samples"]:
        if "template" in s:
            s["template"]["file"] = "t.json"
        else:
            s["files"] = [str(real_data_dir() / f) for f in s["files"]]
    doc["systematics"]["entries"].append(
        {
            "name": "signal_shape",
            "type": "histosys",
            "kinds": ["signal"],
            "template": {"up": "{histogram}_shape_up", "down": "{histogram}_shape_down"},
        }
    )
    config = parse_config(doc, base_dir=tmp_path)
    build = build_inputs(config, "/", selection="report", systematics=config.systematics)
    mod = _modifier(_sample(build.spec, "hzz4l_m4l", "signal"), "signal_shape")
    np.testing.assert_array_equal(mod["data"]["hi_data"], raw["signal_shape_up"])
    np.testing.assert_array_equal(mod["data"]["lo_data"], raw["signal_shape_down"])
    assert _modifier(_sample(build.spec, "hzz4l_m4l", "background"), "signal_shape") is None


@pytest.mark.slow
def test_shapes_are_bit_identical_on_dask(generated):
    import distributed

    config = default_config()
    spec = shape_spec(config.systematics, channels="final-state")
    one = build_histograms(config, generated, step_size=700, shapes=spec)
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        dask = build_histograms(
            config, generated, step_size=700, shapes=spec, scheduler=cluster.scheduler_address
        )
    np.testing.assert_array_equal(
        one.shapes.view(flow=True).value, dask.shapes.view(flow=True).value
    )
    np.testing.assert_array_equal(
        one.shapes.view(flow=True).variance, dask.shapes.view(flow=True).variance
    )
