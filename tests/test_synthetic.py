"""Tests of the generated open-data-shaped input (higgs_pyhf.synthetic).

The selection used here is a small independent re-implementation of the
intended selection (issue 2, item 2), deliberately not imported from
higgs_pyhf.selection.
"""

import json

import awkward as ak
import numpy as np
import pytest
import uproot
import vector

from higgs_pyhf import synthetic
from higgs_pyhf.configuration import default_config
from higgs_pyhf.errors import ConfigError, InputFileError
from higgs_pyhf.ntuples import BRANCHES, TREE

CONFIG = default_config()
HIGGS = ("ggH125_ZZ4lep", "VBFH125_ZZ4lep", "WH125_ZZ4lep", "ZH125_ZZ4lep")
REDUCIBLE = ("Zee", "Zmumu", "ttbar_lep", "llvv", "ZqqZll")
LUMI_FB = 10.0


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return synthetic.make_inputs(tmp_path_factory.mktemp("generated"), CONFIG, seed=7, scale=0.5)


def read(path):
    with uproot.open(path) as f:
        return f[TREE].arrays(list(BRANCHES))


def read_sample(inputs, name):
    return ak.concatenate([read(p) for p in inputs.files[name]])


# ----------------------------------------------------------------- independent selection


def cut_fails(events):
    """Boolean 'fails' mask per cut of the intended selection (MeV units)."""
    pt = events["lep_pt"]
    four = ak.to_numpy(ak.num(pt) == 4)
    type_sum = ak.to_numpy(ak.sum(events["lep_type"], axis=1))
    return {
        "nlep": ~four,
        "charge": ak.to_numpy(ak.sum(events["lep_charge"], axis=1)) != 0,
        "flavour": ~np.isin(type_sum, [44, 48, 52]),
        "pt_lead": ~ak.to_numpy(ak.max(pt, axis=1) > 20_000),
        "pt_min": ~ak.to_numpy(ak.min(pt, axis=1) > 7_000),
        "eta": ~ak.to_numpy(ak.max(abs(events["lep_eta"]), axis=1) < 2.5),
        "iso_pt": ~ak.to_numpy(ak.max(events["lep_ptcone30"] / pt, axis=1) < 0.3),
        "iso_et": ~ak.to_numpy(ak.max(events["lep_etcone20"] / pt, axis=1) < 0.3),
        "trigger": ~ak.to_numpy(events["trigE"] | events["trigM"]),
    }


def selected(events):
    return ~np.any(np.stack(list(cut_fails(events).values())), axis=0)


def m4l_vector(events):
    """m4l (GeV) of four-lepton events with the vector library (float64)."""
    lep = vector.zip(
        {k: ak.values_astype(events[f"lep_{k}"], np.float64) for k in ("pt", "eta", "phi", "E")}
    )
    total = lep[:, 0] + lep[:, 1] + lep[:, 2] + lep[:, 3]
    return ak.to_numpy(total.mass) / 1000.0


def analysis_weight(events, sample):
    # the report's formula, written out here rather than taken from Sample.xsec_weight
    norm = LUMI_FB * 1000.0 * sample.xsec_pb / (sample.sumw * sample.red_eff)
    w = norm * ak.to_numpy(events["mcWeight"]).astype(np.float64)
    for sf in (
        "scaleFactor_PILEUP",
        "scaleFactor_ELE",
        "scaleFactor_MUON",
        "scaleFactor_LepTRIGGER",
    ):
        w = w * ak.to_numpy(events[sf]).astype(np.float64)
    return w


def selected_hist(events, sample, edges):
    sel = selected(events)
    w = analysis_weight(events, sample)[sel] if sample is not None else np.ones(int(sel.sum()))
    return np.histogram(m4l_vector(events[sel]), bins=edges, weights=w)[0]


EDGES = np.linspace(80.0, 250.0, 35)


def bin_sum(hist, low, high):
    centres = 0.5 * (EDGES[1:] + EDGES[:-1])
    return float(hist[(centres > low) & (centres < high)].sum())


# ----------------------------------------------------------------- files and schema


def test_files_follow_the_configuration_and_the_schema(inputs):
    assert inputs.seed == 7
    for sample in CONFIG.samples:
        paths = inputs.files[sample.name]
        assert [p.relative_to(inputs.directory).as_posix() for p in paths] == list(sample.files)
        for path in paths:
            with uproot.open(path) as f:
                tree = f[TREE]
                assert set(BRANCHES) <= set(tree.keys())
                arrays = tree.arrays(list(BRANCHES))
            assert len(arrays) > 0, path
            for name, (jagged, dtype) in BRANCHES.items():
                arr = arrays[name]
                assert arr.ndim == (2 if jagged else 1), name
                flat = ak.to_numpy(ak.flatten(arr) if jagged else arr)
                assert flat.dtype == np.dtype(dtype), name
            n = ak.to_numpy(ak.num(arrays["lep_pt"]))
            np.testing.assert_array_equal(ak.to_numpy(arrays["lep_n"]), n)
            for name, (jagged, _) in BRANCHES.items():
                if jagged:
                    np.testing.assert_array_equal(ak.to_numpy(ak.num(arrays[name])), n)
            assert set(np.unique(n)) <= {3, 4, 5, 6}
            assert set(np.unique(ak.to_numpy(ak.flatten(arrays["lep_type"])))) == {11, 13}
            assert set(np.unique(ak.to_numpy(ak.flatten(arrays["lep_charge"])))) == {-1, 1}


def test_marker(inputs, tmp_path):
    marker = synthetic.is_generated(inputs.directory)
    assert marker is not None
    assert marker["generated"] is True
    assert "NOT ATLAS data" in marker["note"]
    assert marker["seed"] == 7
    assert marker["generator_version"] == synthetic.GENERATOR_VERSION
    assert marker["truth"] == json.loads(json.dumps(inputs.truth))
    assert marker["truth"]["true_normfactors"] == {"s_s": 1.4, "s_b": 1.3}
    assert synthetic.is_generated(tmp_path) is None
    (tmp_path / synthetic.MARKER).write_text("{not json")
    with pytest.raises(InputFileError, match="marker"):
        synthetic.is_generated(tmp_path)


def test_ensure_inputs_reuses_matching_files_only(tmp_path):
    config = CONFIG._replace(
        samples=tuple(s for s in CONFIG.samples if s.name in ("llll", "ggH125_ZZ4lep", "data"))
    )
    first = synthetic.make_inputs(tmp_path, config, seed=3, scale=0.05)
    stamp = first.files["llll"][0].stat().st_mtime_ns
    again = synthetic.ensure_inputs(tmp_path, config, seed=3, scale=0.05)
    assert again.files["llll"][0].stat().st_mtime_ns == stamp
    assert again.truth == json.loads(json.dumps(first.truth))
    other = synthetic.ensure_inputs(tmp_path, config, seed=4, scale=0.05)
    assert synthetic.is_generated(tmp_path)["seed"] == 4
    assert other.truth != again.truth


# ----------------------------------------------------------------- kinematics


@pytest.mark.parametrize("name", ["llll", "ggH125_ZZ4lep", "Zmumu", "data"])
def test_four_vectors_are_consistent(inputs, name):
    events = read_sample(inputs, name)
    pt = ak.to_numpy(ak.flatten(events["lep_pt"])).astype(np.float64)
    eta = ak.to_numpy(ak.flatten(events["lep_eta"])).astype(np.float64)
    energy = ak.to_numpy(ak.flatten(events["lep_E"])).astype(np.float64)
    assert np.all(energy**2 >= (pt * np.cosh(eta)) ** 2)
    # E follows from |p| and the lepton's mass (float32 precision: the mass itself is not resolved)
    lep_mass = np.where(ak.to_numpy(ak.flatten(events["lep_type"])) == 11, 0.511, 105.658)
    np.testing.assert_allclose(energy, np.hypot(pt * np.cosh(eta), lep_mass), rtol=1e-6)
    # leptons are ordered by decreasing pT
    assert ak.all(events["lep_pt"][:, :-1] >= events["lep_pt"][:, 1:])


@pytest.mark.parametrize("name", ["llll", "ggH125_ZZ4lep", "Zee", "ttbar_lep"])
def test_m4l_equals_the_generated_mass(name):
    gen = synthetic.generate_events(
        CONFIG.sample(name), CONFIG, np.random.default_rng(11), n_events=3000
    )
    four = gen.categories != "nlep"
    m4l = m4l_vector(gen.events[four])
    np.testing.assert_allclose(m4l, gen.mass_gev[four], rtol=1e-3)
    # in fact float32 storage keeps it far better than that
    assert np.median(np.abs(m4l / gen.mass_gev[four] - 1)) < 2e-6


def test_higgs_peak_after_selection(inputs):
    sample = CONFIG.sample("ggH125_ZZ4lep")
    events = read_sample(inputs, sample.name)
    sel = selected(events)
    m = m4l_vector(events[sel])
    w = analysis_weight(events, sample)[sel]
    peak = np.average(m, weights=w)
    assert peak == pytest.approx(125.0, abs=0.3)
    width = np.sqrt(np.average((m - peak) ** 2, weights=w))
    assert 1.5 < width < 2.5  # resolution sigma ~2 GeV
    hist, edges = np.histogram(m, bins=np.arange(100.0, 150.5, 1.0), weights=w)
    assert abs(edges[np.argmax(hist)] + 0.5 - 125.0) <= 2.0


def test_flavour_mix(inputs):
    events = read_sample(inputs, "llll")
    events = events[selected(events)]
    sums = ak.to_numpy(ak.sum(events["lep_type"], axis=1))
    fractions = {s: float(np.mean(sums == s)) for s in (44, 48, 52)}
    assert fractions[44] == pytest.approx(0.25, abs=0.03)
    assert fractions[48] == pytest.approx(0.50, abs=0.03)
    assert fractions[52] == pytest.approx(0.25, abs=0.03)


# ----------------------------------------------------------------- categories


@pytest.mark.parametrize("name", ["llll", "ggH125_ZZ4lep", "Zee", "ttbar_lep", "data"])
def test_each_cut_removes_exactly_the_events_built_to_fail_it(name):
    events, categories = synthetic.generate_sample(
        CONFIG.sample(name), CONFIG, np.random.default_rng(5)
    )
    assert set(np.unique(categories)) == set(synthetic.CATEGORIES)
    fails = cut_fails(events)
    four = ~fails["nlep"]
    per_lepton = ("pt_lead", "pt_min", "eta", "iso_pt", "iso_et", "trigger")
    for cut, fail in fails.items():
        if cut in ("charge", "flavour"):  # defined for four leptons only
            np.testing.assert_array_equal(fail[four], categories[four] == cut, err_msg=cut)
        else:
            np.testing.assert_array_equal(fail, categories == cut, err_msg=cut)
    # a four-lepton event fails exactly the cut it was built to fail, nothing else
    n_failed = np.sum(np.stack(list(fails.values())), axis=0)
    assert np.all(n_failed[four] == (categories[four] != "pass"))
    nlep = categories == "nlep"
    assert not np.any(np.stack([fails[c][nlep] for c in per_lepton]))
    assert set(np.unique(ak.to_numpy(ak.num(events["lep_pt"][nlep])))) == {3, 5, 6}
    # the report's selection (no etcone20 cut, no trigger) keeps iso_et and trigger events
    report_fails = np.stack([fails[c] for c in fails if c not in ("iso_et", "trigger")])
    report_pass = ~np.any(report_fails, axis=0)
    np.testing.assert_array_equal(report_pass, np.isin(categories, ["pass", "iso_et", "trigger"]))


# ----------------------------------------------------------------- yields


def test_yields_match_the_targets(inputs):
    hists = {}
    for sample in CONFIG.mc_samples:
        events = read_sample(inputs, sample.name)
        h = selected_hist(events, sample, EDGES)
        hists[sample.name] = h
        target = synthetic.PROCESS_MODELS[sample.name].target_yield
        assert h.sum() == pytest.approx(target, rel=1e-5), sample.name
        truth = inputs.truth["samples"][sample.name]
        assert h.sum() == pytest.approx(truth["expected_yield_window"], rel=1e-6)
        np.testing.assert_allclose(h, truth["expected_yield_per_bin"], rtol=1e-6, atol=1e-12)
        assert np.all(h >= 0), sample.name
    llll = hists["llll"]
    assert 50 < bin_sum(llll, 85, 95) < 75  # Z->4l peak
    assert np.all((llll[4:18] > 0.5) & (llll[4:18] < 4))  # continuum, 100-170 GeV
    assert 4 < llll[22] < 9  # on-shell ZZ, 190-195 GeV
    assert 4 < llll[23] < 9  # 195-200 GeV
    assert llll[20] > 2 * llll[16]  # the rise at 2 m_Z
    assert 8 <= hists["ggH125_ZZ4lep"].sum() <= 10
    assert hists["VBFH125_ZZ4lep"].sum() == pytest.approx(1.0, rel=0.01)
    assert hists["WH125_ZZ4lep"].sum() == pytest.approx(0.2, rel=0.01)
    assert hists["ZH125_ZZ4lep"].sum() < 0.05
    signal = sum(hists[n] for n in HIGGS)
    assert bin_sum(signal, 115, 135) > 0.98 * signal.sum()
    for name in REDUCIBLE:
        assert 0.1 < hists[name].sum() < 5, name
        # broad, mostly at low mass
        assert bin_sum(hists[name], 80, 165) > bin_sum(hists[name], 165, 250), name


def test_data_are_drawn_with_the_true_normfactors(inputs):
    data = read_sample(inputs, "data")
    for w in ("mcWeight", "scaleFactor_PILEUP", "scaleFactor_ELE", "scaleFactor_MUON"):
        assert np.all(ak.to_numpy(data[w]) == 1)
    for path in inputs.files["data"]:
        assert len(read(path)) > 50
    observed = selected_hist(data, None, EDGES)
    truth = inputs.truth
    np.testing.assert_array_equal(observed, truth["data"]["observed_per_bin"])
    expected = truth["expected_data_yield_window"]
    targets = {s.name: synthetic.PROCESS_MODELS[s.name].target_yield for s in CONFIG.mc_samples}
    signal = sum(targets[n] for n in HIGGS)
    background = sum(v for n, v in targets.items() if n not in HIGGS)
    assert expected == pytest.approx(1.4 * signal + 1.3 * background, rel=1e-5)
    assert abs(observed.sum() - expected) < 4 * np.sqrt(expected)
    # the Z peak scales with s_b = 1.3 (llll ~62 events in 85-95 GeV)
    z_peak = bin_sum(observed, 85, 95)
    assert abs(z_peak - 1.3 * 62.0) < 4 * np.sqrt(1.3 * 62.0)
    # data contain events failing the cuts too
    assert len(data) > 1.5 * observed.sum()


# ----------------------------------------------------------------- determinism and options


def test_generation_is_deterministic():
    sample = CONFIG.sample("ggH125_ZZ4lep")
    a, cat_a = synthetic.generate_sample(sample, CONFIG, np.random.default_rng(1), n_events=500)
    b, cat_b = synthetic.generate_sample(sample, CONFIG, np.random.default_rng(1), n_events=500)
    c, _ = synthetic.generate_sample(sample, CONFIG, np.random.default_rng(2), n_events=500)
    assert ak.array_equal(a, b)
    np.testing.assert_array_equal(cat_a, cat_b)
    assert not ak.array_equal(a, c)
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    synthetic.generate_sample(sample, CONFIG, np.random.default_rng(1), n_events=10)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_make_inputs_is_deterministic(tmp_path):
    config = CONFIG._replace(
        samples=tuple(s for s in CONFIG.samples if s.name in ("Zee", "WH125_ZZ4lep", "data"))
    )
    one = synthetic.make_inputs(tmp_path / "one", config, seed=99, scale=0.05)
    two = synthetic.make_inputs(tmp_path / "two", config, seed=99, scale=0.05)
    assert one.truth == two.truth
    for name, paths in one.files.items():
        for p1, p2 in zip(paths, two.files[name], strict=True):
            assert ak.array_equal(read(p1), read(p2)), p1
    marker_one = json.loads((tmp_path / "one" / synthetic.MARKER).read_text())
    marker_two = json.loads((tmp_path / "two" / synthetic.MARKER).read_text())
    assert marker_one == marker_two
    # a sample's events do not depend on the other samples of the configuration
    zee_alone = synthetic.make_inputs(
        tmp_path / "three",
        config._replace(samples=tuple(s for s in config.samples if s.name != "WH125_ZZ4lep")),
        seed=99,
        scale=0.05,
    )
    assert ak.array_equal(read(zee_alone.files["Zee"][0]), read(one.files["Zee"][0]))


def test_scale_changes_the_event_count_not_the_yield():
    sample = CONFIG.sample("VBFH125_ZZ4lep")
    small = synthetic.generate_events(sample, CONFIG, np.random.default_rng(0), scale=0.5)
    large = synthetic.generate_events(sample, CONFIG, np.random.default_rng(0), scale=2.0)
    assert len(large.events) == 4 * len(small.events)
    for gen in (small, large):
        h = selected_hist(gen.events, sample, EDGES)
        assert h.sum() == pytest.approx(1.0, rel=1e-5)


def test_bad_options(tmp_path):
    with pytest.raises(ConfigError, match="scale"):
        synthetic.make_inputs(tmp_path, CONFIG, scale=0)
    with pytest.raises(ConfigError, match="data"):
        synthetic.process_model(CONFIG.sample("data"))
    assert not (tmp_path / synthetic.MARKER).exists()
