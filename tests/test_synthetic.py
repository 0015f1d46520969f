"""Tests of the generated open-data-shaped input (higgs_pyhf.synthetic).

The selections used here are a small independent re-implementation of the
intended selection and of the report's (issue 2, item 2), deliberately not
imported from higgs_pyhf.build.selection; the report's templates are read here with
json, not with the generator's reader.
"""

import json
from importlib import resources

import awkward as ak
import numpy as np
import pytest
import uproot
import vector

from higgs_pyhf import synthetic
from higgs_pyhf.build.config import default_config
from higgs_pyhf.build.ntuples import BRANCHES, TREE
from higgs_pyhf.errors import ConfigError, InputFileError

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


#: Cuts the report's selection does not apply (it tests ptcone30 twice, never etcone20 nor the trigger).
NOT_IN_REPORT = ("iso_et", "trigger")


def selected(events, selection="intended"):
    fails = cut_fails(events)
    cuts = [c for c in fails if selection == "intended" or c not in NOT_IN_REPORT]
    return ~np.any(np.stack([fails[c] for c in cuts]), axis=0)


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


def selected_hist(events, sample, edges, selection="intended", *, squared=False):
    sel = selected(events, selection)
    w = analysis_weight(events, sample)[sel] if sample is not None else np.ones(int(sel.sum()))
    return np.histogram(m4l_vector(events[sel]), bins=edges, weights=w**2 if squared else w)[0]


EDGES = np.linspace(80.0, 250.0, 35)
TEMPLATES = json.loads(
    resources.files("higgs_pyhf").joinpath("data/report_mc_templates.json").read_text("utf-8")
)
TEMPLATE = {k: np.asarray(TEMPLATES[k]) for k in ("signal", "background")}


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
    # The report's signal template (5 GeV bins) puts 4.86 events in 120-125 GeV and 2.61 in
    # 125-130 GeV, with a radiative low-side tail (2.4 % in 110-115 GeV): the calibrated peak
    # is a 2 GeV Gaussian core at 124.6 GeV with that tail. Until generator version 1 it was a
    # symmetric Gaussian at 125 GeV (mean 125 +- 0.3, RMS 1.5-2.5 GeV were tested then).
    sample = CONFIG.sample("ggH125_ZZ4lep")
    events = read_sample(inputs, sample.name)
    sel = selected(events)
    m = np.asarray(m4l_vector(events[sel]), dtype=float)
    w = analysis_weight(events, sample)[sel]
    # the template's mean (bin centres, 123.0 GeV) is the generated one
    centres = 0.5 * (EDGES[1:] + EDGES[:-1])
    template_mean = np.average(centres, weights=TEMPLATE["signal"])
    assert np.average(m, weights=w) == pytest.approx(template_mean, abs=0.3)
    hist, edges = np.histogram(m, bins=np.arange(100.0, 150.5, 1.0), weights=w)
    assert abs(edges[np.argmax(hist)] + 0.5 - 124.6) <= 1.5
    core = (m > 115) & (m < 135)
    assert w[core].sum() > 0.94 * w.sum()
    q25, q50, q75 = np.percentile(m[core], [25, 50, 75])
    assert q50 == pytest.approx(123.9, abs=0.4)
    assert 2.5 < q75 - q25 < 4.5  # core resolution 2 GeV, widened by the low-side tail
    assert 124.6 - q25 > q75 - 124.6  # the tail is on the low side


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
        intended = selected_hist(events, sample, EDGES)
        report = selected_hist(events, sample, EDGES, "report")
        hists[sample.name] = report
        # the mcWeights are calibrated on the report's selection (generator version 2)
        target = synthetic.PROCESS_MODELS[sample.name].target_yield
        assert report.sum() == pytest.approx(target, rel=1e-5), sample.name
        truth = inputs.truth["samples"][sample.name]
        assert intended.sum() == pytest.approx(truth["expected_yield_window"], rel=1e-6)
        np.testing.assert_allclose(intended, truth["expected_yield_per_bin"], rtol=1e-6, atol=1e-12)
        in_report = truth["report_selection"]
        assert report.sum() == pytest.approx(in_report["expected_yield_window"], rel=1e-6)
        np.testing.assert_allclose(
            report, in_report["expected_yield_per_bin"], rtol=1e-6, atol=1e-12
        )
        assert np.all(intended >= 0), sample.name
        assert np.all(intended <= report + 1e-12), sample.name
    # Physics of the split, report's selection. The numbers changed with the calibration to the
    # report's templates (version 1 had a 62-event Z peak, 0.5-4 events/bin of continuum and
    # 4-9 events/bin of on-shell ZZ for the intended selection; the report's MC has 33.7 events
    # in 85-95 GeV, a continuum of 3-10 events/bin and 8-9.5 events/bin at 190-210 GeV).
    llll = hists["llll"]
    assert 28 < bin_sum(llll, 85, 95) < 36  # Z->4l peak
    assert np.all((llll[4:18] > 2) & (llll[4:18] < 10))  # continuum, 100-170 GeV
    assert np.all((llll[22:24] > 6) & (llll[22:24] < 11))  # on-shell ZZ, 190-200 GeV
    assert llll[21:24].mean() > 1.5 * llll[15:18].mean()  # the rise at 2 m_Z
    background = sum(hists[n] for n in hists if n not in HIGGS)
    assert bin_sum(llll, 180, 250) > 0.97 * bin_sum(background, 180, 250)  # ZZ above 180 GeV
    reducible = sum(hists[n] for n in REDUCIBLE)
    assert 0.02 * background.sum() < reducible.sum() < 0.06 * background.sum()  # small
    ggh = hists["ggH125_ZZ4lep"].sum()
    assert hists["VBFH125_ZZ4lep"].sum() == pytest.approx(ggh / 9.0, rel=1e-4)
    assert hists["WH125_ZZ4lep"].sum() == pytest.approx(0.2 * ggh / 9.0, rel=1e-4)
    assert hists["ZH125_ZZ4lep"].sum() < 0.05
    signal = sum(hists[n] for n in HIGGS)
    # version 1 had > 98 % in 115-135 GeV (a Gaussian); the report's signal has 95.7 %
    assert bin_sum(signal, 115, 135) > 0.94 * signal.sum()
    for name in REDUCIBLE:
        assert 0.1 < hists[name].sum() < 5, name
        # broad, mostly at low mass
        assert bin_sum(hists[name], 80, 165) > bin_sum(hists[name], 165, 250), name


#: (low, high) GeV of the regions compared with the templates, per kind.
REGIONS = {
    "signal": ((80, 110), (110, 140), (120, 130), (140, 250)),
    "background": ((80, 110), (110, 140), (140, 180), (180, 250)),
}


def test_expected_yields_follow_the_report_templates(inputs):
    """Generated expected yields (report selection, generator weights) vs the report's templates.

    Totals: the calibration makes them equal (rel 1e-5; the issue asks <= 3 %). Regions:
    |generated - template| <= 3 sigma_MC + 2 % of the template. Bins holding >= 1 % of the
    largest bin: <= 4 sigma_MC + 3 % of the template, and chi2/ndf < 2 with MC-stat errors.
    sigma_MC is the generator's MC statistical uncertainty (sqrt of the sum of squared weights).
    """
    for kind, template in TEMPLATE.items():
        values = np.zeros(len(EDGES) - 1)
        variances = np.zeros(len(EDGES) - 1)
        for sample in (s for s in CONFIG.mc_samples if s.kind == kind):
            events = read_sample(inputs, sample.name)
            values += selected_hist(events, sample, EDGES, "report")
            variances += selected_hist(events, sample, EDGES, "report", squared=True)
        assert values.sum() == pytest.approx(template.sum(), rel=1e-5), kind
        for low, high in REGIONS[kind]:
            gen, tmpl = bin_sum(values, low, high), bin_sum(template, low, high)
            sigma = np.sqrt(bin_sum(variances, low, high))
            assert abs(gen - tmpl) <= 3 * sigma + 0.02 * tmpl, (kind, low, high, gen, tmpl)
        big = template >= 0.01 * template.max()
        diff = np.abs(values - template)[big]
        sigma = np.sqrt(variances[big])
        np.testing.assert_array_less(diff, 4 * sigma + 0.03 * template[big], err_msg=kind)
        assert np.sum((diff / sigma) ** 2) / big.sum() < 2.0, kind


def test_calibrated_densities_add_up_to_the_templates():
    """Exact in expectation: the densities the generator draws from integrate to the templates."""
    from higgs_pyhf.synthetic.shapes import bin_integrals

    for kind, template in TEMPLATE.items():
        names = [s.name for s in CONFIG.mc_samples if s.kind == kind]
        total = sum(bin_integrals(synthetic.PROCESS_MODELS[n].density, EDGES) for n in names)
        np.testing.assert_allclose(total, template, rtol=1e-9, atol=1e-12)
        targets = sum(synthetic.PROCESS_MODELS[n].target_yield for n in names)
        assert targets == pytest.approx(template.sum(), rel=1e-6)
    # the density is continuous at the edges of the analysis range (edge factors extend outside)
    density = synthetic.PROCESS_MODELS["llll"].density
    for edge in (80.0, 250.0):
        left, right = density(np.array([edge - 1e-6, edge + 1e-6]))
        assert left == pytest.approx(right, rel=1e-4)
    templates = synthetic.report_templates()
    np.testing.assert_array_equal(templates.edges_gev, CONFIG.edges)
    np.testing.assert_array_equal(templates.signal, TEMPLATE["signal"])


def test_data_are_drawn_with_the_true_normfactors(inputs):
    data = read_sample(inputs, "data")
    for w in ("mcWeight", "scaleFactor_PILEUP", "scaleFactor_ELE", "scaleFactor_MUON"):
        assert np.all(ak.to_numpy(data[w]) == 1)
    for path in inputs.files["data"]:
        assert len(read(path)) > 50
    truth = inputs.truth
    observed = selected_hist(data, None, EDGES)
    np.testing.assert_array_equal(observed, truth["data"]["observed_per_bin"])
    observed_report = selected_hist(data, None, EDGES, "report")
    np.testing.assert_array_equal(
        observed_report, truth["data"]["report_selection"]["observed_per_bin"]
    )
    # the targets are the report's selection: data ~ 1.4 S + 1.3 B of the report's templates
    expected = truth["report_selection"]["expected_data_yield_window"]
    targets = {s.name: synthetic.PROCESS_MODELS[s.name].target_yield for s in CONFIG.mc_samples}
    signal = sum(targets[n] for n in HIGGS)
    background = sum(v for n, v in targets.items() if n not in HIGGS)
    assert expected == pytest.approx(1.4 * signal + 1.3 * background, rel=1e-5)
    from_templates = 1.4 * TEMPLATE["signal"] + 1.3 * TEMPLATE["background"]
    assert expected == pytest.approx(from_templates.sum(), rel=1e-5)
    assert abs(observed_report.sum() - expected) < 4 * np.sqrt(expected)
    intended = truth["expected_data_yield_window"]
    assert abs(observed.sum() - intended) < 4 * np.sqrt(intended)
    # the Z peak scales with s_b = 1.3 (the report's background has 33.7 events in 85-95 GeV)
    z_peak, z_expected = bin_sum(observed_report, 85, 95), bin_sum(from_templates, 85, 95)
    assert abs(z_peak - z_expected) < 4 * np.sqrt(z_expected)
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
    # the ROOT files carry a random UUID, so their hashes (not their events) differ
    assert marker_one.pop("sha256").keys() == marker_two.pop("sha256").keys()
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
    target = synthetic.PROCESS_MODELS[sample.name].target_yield
    for gen in (small, large):
        h = selected_hist(gen.events, sample, EDGES, "report")
        assert h.sum() == pytest.approx(target, rel=1e-5)


def test_bad_options(tmp_path):
    with pytest.raises(ConfigError, match="scale"):
        synthetic.make_inputs(tmp_path, CONFIG, scale=0)
    with pytest.raises(ConfigError, match="data"):
        synthetic.process_model(CONFIG.sample("data"))
    assert not (tmp_path / synthetic.MARKER).exists()
