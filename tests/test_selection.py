from __future__ import annotations

import copy

import awkward as ak
import numpy as np
import pytest
import vector

from higgs_pyhf.build.cutflows import Cutflow, make_cutflow, merge_cutflows
from higgs_pyhf.build.selection import CUT_NAMES, SELECTIONS, cut_masks, four_lepton_mass, select
from higgs_pyhf.errors import SelectionError

GEV = 1000.0

# A clean 2e2mu event: (pt [GeV], eta, phi, type, charge)
GOOD = [
    (40.0, 0.5, 0.1, 11, -1),
    (30.0, -0.3, 2.0, 11, +1),
    (25.0, 1.2, -1.5, 13, -1),
    (15.0, -1.8, -2.8, 13, +1),
]


def _event(leptons=GOOD, *, iso_pt=0.1, iso_et=0.1, trig_e=True, trig_m=False, **override):
    ev = {
        "pt": [lep[0] * GEV for lep in leptons],
        "eta": [lep[1] for lep in leptons],
        "phi": [lep[2] for lep in leptons],
        "type": [lep[3] for lep in leptons],
        "charge": [lep[4] for lep in leptons],
        "iso_pt": np.broadcast_to(iso_pt, len(leptons)),
        "iso_et": np.broadcast_to(iso_et, len(leptons)),
        "trigE": trig_e,
        "trigM": trig_m,
    }
    for key, value in override.items():
        ev[key] = value
    return ev


def _events(evs):
    """Awkward record array with the ntuple branch names and ATLAS dtypes (massless leptons)."""
    pt = [np.asarray(e["pt"], dtype=np.float32) for e in evs]
    eta = [np.asarray(e["eta"], dtype=np.float32) for e in evs]
    energy = [
        (p.astype(float) * np.cosh(h.astype(float))).astype(np.float32)
        for p, h in zip(pt, eta, strict=True)
    ]
    counts = [len(p) for p in pt]

    def jag(values, dtype):
        flat = (
            np.concatenate([np.asarray(v, dtype=dtype) for v in values])
            if values
            else np.zeros(0, dtype)
        )
        return ak.unflatten(flat, counts)

    return ak.Array(
        {
            "lep_n": np.asarray(counts, dtype=np.uint32),
            "lep_pt": jag(pt, np.float32),
            "lep_eta": jag(eta, np.float32),
            "lep_phi": jag([e["phi"] for e in evs], np.float32),
            "lep_E": jag(energy, np.float32),
            "lep_charge": jag([e["charge"] for e in evs], np.int32),
            "lep_type": jag([e["type"] for e in evs], np.uint32),
            "lep_ptcone30": jag(
                [np.multiply(e["iso_pt"], p) for e, p in zip(evs, pt, strict=True)], np.float32
            ),
            "lep_etcone20": jag(
                [np.multiply(e["iso_et"], p) for e, p in zip(evs, pt, strict=True)], np.float32
            ),
            "trigE": np.asarray([e["trigE"] for e in evs], dtype=bool),
            "trigM": np.asarray([e["trigM"] for e in evs], dtype=bool),
        }
    )


def _with(index, field, value):
    leps = [list(lep) for lep in GOOD]
    leps[index][field] = value
    return [tuple(lep) for lep in leps]


# One event built to fail exactly one cut each.
FAILING = {
    "nlep": [_event(GOOD[:3]), _event([*GOOD, (10.0, 0.0, 0.5, 11, -1)])],
    "charge": [_event(_with(3, 4, -1))],
    "flavour": [_event(_with(2, 3, 11))],  # e e e mu: sum 46
    "pt_lead": [
        _event(
            [
                (19.0, 0.5, 0.1, 11, -1),
                (18.0, -0.3, 2.0, 11, 1),
                (12.0, 1.2, -1.5, 13, -1),
                (10.0, -1.8, -2.8, 13, 1),
            ]
        )
    ],
    "pt_min": [_event(_with(3, 0, 6.5))],
    "eta": [_event(_with(1, 1, -2.6))],
    "iso_pt": [_event(iso_pt=[0.1, 0.1, 0.35, 0.1])],
    "iso_et": [_event(iso_et=[0.1, 0.31, 0.1, 0.1])],
    "trigger": [_event(trig_e=False, trig_m=False)],
}


def _labelled():
    evs, labels = [_event(), _event(trig_e=False, trig_m=True)], ["pass", "pass"]
    for cut, built in FAILING.items():
        evs += built
        labels += [cut] * len(built)
    return _events(evs), np.asarray(labels)


def test_cut_names_and_selections():
    assert SELECTIONS["intended"] == tuple(CUT_NAMES)
    assert set(SELECTIONS["intended"]) - set(SELECTIONS["report"]) == {"iso_et", "trigger"}


def test_each_cut_removes_exactly_the_events_built_to_fail_it():
    events, labels = _labelled()
    masks = cut_masks(events, selection="intended")
    assert list(masks) == list(SELECTIONS["intended"])
    for cut, mask in masks.items():
        assert mask.dtype == bool
        assert len(mask) == len(events)
        # fails exactly where built to fail; lepton cuts also fail events without 4 leptons
        expected = labels == cut
        if cut != "trigger":
            expected |= labels == "nlep"
        np.testing.assert_array_equal(~mask, expected, err_msg=cut)
    sel = select(events)
    np.testing.assert_array_equal(sel.passed, labels == "pass")


def test_report_selection_ignores_etcone20_and_trigger():
    events, labels = _labelled()
    masks = cut_masks(events, selection="report")
    assert list(masks) == list(SELECTIONS["report"])
    sel = select(events, selection="report")
    np.testing.assert_array_equal(sel.passed, np.isin(labels, ["pass", "iso_et", "trigger"]))


def _report_reference(events):
    """The seed report's event_cut written with jagged awkward reductions (independent reference)."""
    pt, eta = events.lep_pt, events.lep_eta
    reliso_pt = events.lep_ptcone30 / pt
    sum_type = ak.sum(events.lep_type, axis=1)
    kin = (
        (ak.max(pt, axis=1) > 20000)
        & (ak.min(pt, axis=1) > 7000)
        & (ak.min(eta, axis=1) > -2.5)
        & (ak.max(eta, axis=1) < 2.5)
    )
    flav = (sum_type == 44) | (sum_type == 48) | (sum_type == 52)
    iso = (ak.max(reliso_pt, axis=1) < 0.3) & (ak.max(reliso_pt, axis=1) < 0.3)
    count = ak.num(pt) == 4
    charge = ak.sum(events.lep_charge, axis=1) == 0
    cut = kin & flav & iso & count & charge
    return ak.to_numpy(ak.fill_none(cut, False))


def _random_events(n, seed):
    """Random 3-5 lepton events around all thresholds (vectorised, massless leptons)."""
    rng = np.random.default_rng(seed)
    counts = rng.choice([3, 4, 4, 4, 4, 5], size=n)
    total = int(counts.sum())
    pt = (rng.uniform(5, 60, total) * GEV).astype(np.float32)
    eta = rng.uniform(-2.7, 2.7, total).astype(np.float32)

    def jag(values, dtype):
        return ak.unflatten(np.asarray(values, dtype=dtype), counts)

    return ak.Array(
        {
            "lep_n": counts.astype(np.uint32),
            "lep_pt": jag(pt, np.float32),
            "lep_eta": jag(eta, np.float32),
            "lep_phi": jag(rng.uniform(-np.pi, np.pi, total), np.float32),
            "lep_E": jag(pt.astype(float) * np.cosh(eta.astype(float)), np.float32),
            "lep_charge": jag(rng.choice([-1, 1], total), np.int32),
            "lep_type": jag(rng.choice([11, 13], total), np.uint32),
            "lep_ptcone30": jag(pt * rng.uniform(0, 0.4, total), np.float32),
            "lep_etcone20": jag(pt * rng.uniform(0, 0.4, total), np.float32),
            "trigE": rng.random(n) < 0.7,
            "trigM": rng.random(n) < 0.5,
        }
    )


def test_report_selection_matches_the_reports_jagged_formulation():
    events = _random_events(3000, seed=4)
    ref = _report_reference(events)
    sel = select(events, selection="report")
    assert ref.sum() > 30  # the comparison is not vacuous
    np.testing.assert_array_equal(sel.passed, ref)
    # intended = report & etcone20 isolation & trigger
    iso_et = ak.to_numpy(
        ak.fill_none(ak.all(events.lep_etcone20 / events.lep_pt < 0.3, axis=1), False)
    )
    trig = ak.to_numpy(events.trigE | events.trigM)
    np.testing.assert_array_equal(select(events).passed, ref & iso_et & trig)


@pytest.mark.parametrize(
    ("leptons", "passes"),
    [
        (
            [
                (20.0, 0.5, 0.1, 11, -1),
                (19.0, -0.3, 2.0, 11, 1),
                (15.0, 1.2, -1.5, 13, -1),
                (10.0, -1.8, -2.8, 13, 1),
            ],
            False,
        ),
        (
            [
                (20.01, 0.5, 0.1, 11, -1),
                (19.0, -0.3, 2.0, 11, 1),
                (15.0, 1.2, -1.5, 13, -1),
                (10.0, -1.8, -2.8, 13, 1),
            ],
            True,
        ),
        (_with(3, 0, 7.0), False),
        (_with(3, 0, 7.01), True),
        (_with(3, 1, 2.5), False),
        (_with(3, 1, -2.499), True),
    ],
)
def test_thresholds_are_strict(leptons, passes):
    sel = select(_events([_event(leptons)]))
    assert bool(sel.passed[0]) is passes


def test_isolation_threshold_is_strict():
    ev = _events([_event(iso_pt=0.3), _event(iso_pt=0.2999), _event(iso_et=0.3)])
    np.testing.assert_array_equal(select(ev).passed, [False, True, False])


def test_four_lepton_mass_matches_vector():
    events = _random_events(500, seed=7)
    m = four_lepton_mass(events)
    four = ak.to_numpy(ak.num(events.lep_pt) == 4)
    assert np.all(np.isnan(m[~four]))
    sub = events[four]
    p4 = vector.zip({"pt": sub.lep_pt, "eta": sub.lep_eta, "phi": sub.lep_phi, "energy": sub.lep_E})
    total = p4[:, 0] + p4[:, 1] + p4[:, 2] + p4[:, 3]
    # vector computes in float32 from the float32 inputs; we compute in float64
    np.testing.assert_allclose(m[four], ak.to_numpy(total.mass) / 1000.0, rtol=2e-4)


def test_four_lepton_mass_of_a_known_configuration():
    # two back-to-back pairs of massless leptons, each pair with mass 2*p: m4l = sum of energies
    leptons = [
        (50.0, 0.0, 0.0, 11, -1),
        (50.0, 0.0, np.pi, 11, 1),
        (30.0, 0.0, np.pi / 2, 13, -1),
        (30.0, 0.0, -np.pi / 2, 13, 1),
    ]
    m = four_lepton_mass(_events([_event(leptons)]))
    assert m[0] == pytest.approx(160.0, rel=1e-6)
    sel = select(_events([_event(leptons)]))
    assert sel.m4l[0] == pytest.approx(160.0, rel=1e-6)


def test_select_returns_m4l_of_selected_events_in_order():
    events = _random_events(400, seed=11)
    sel = select(events)
    m = four_lepton_mass(events)
    np.testing.assert_array_equal(sel.m4l, m[sel.passed])
    assert sel.selection == "intended"


def test_cutflow_counts_and_weights():
    events, labels = _labelled()
    weights = np.arange(1, len(events) + 1, dtype=float) / 8.0
    cf = make_cutflow(cut_masks(events), weights, sample="toy", selection="intended")
    assert cf.cuts == ("all", *SELECTIONS["intended"])
    # independent count: an event survives cut k if it was not built to fail any cut up to k
    order = list(SELECTIONS["intended"])
    for k, cut in enumerate(cf.cuts):
        failed_before = set(order[:k]) if cut != "all" else set()
        if cut != "all":
            failed_before = set(order[: order.index(cut) + 1])
        alive = ~np.isin(labels, list(failed_before))
        assert cf.events[k] == alive.sum(), cut
        assert cf.weighted[k] == pytest.approx(weights[alive].sum(), rel=1e-12), cut
    assert cf.selected == 2
    # unit weights by default
    cf1 = make_cutflow(cut_masks(events), sample="toy", selection="intended")
    assert cf1.weighted == tuple(float(n) for n in cf1.events)


def test_cutflow_json_round_trip_and_merge():
    events, _ = _labelled()
    cf = make_cutflow(
        cut_masks(events), np.full(len(events), 0.5), sample="s", selection="intended"
    )
    again = Cutflow.from_json(copy.deepcopy(cf.to_json()))
    assert again == cf
    assert cf.to_json()["cuts"][1] == {
        "cut": "nlep",
        "requirement": CUT_NAMES["nlep"],
        "events": cf.events[1],
        "weighted": cf.weighted[1],
    }
    merged = merge_cutflows([cf, cf, cf._replace(sample="t")])
    assert list(merged) == ["s", "t"]
    assert merged["s"].events == tuple(2 * n for n in cf.events)
    assert merged["s"].weighted == pytest.approx(tuple(2 * w for w in cf.weighted))
    with pytest.raises(SelectionError, match="cannot merge"):
        cf.merge(cf._replace(selection="report", cuts=("all", *SELECTIONS["report"])))
    empty = Cutflow.empty("s", "report")
    assert empty.events == (0,) * 8
    assert empty.selected == 0


def test_bad_inputs_raise_selection_error():
    events = _events([_event()])
    with pytest.raises(SelectionError, match="unknown selection 'loose'"):
        select(events, selection="loose")
    with pytest.raises(SelectionError, match="lep_etcone20"):
        select(events[[f for f in events.fields if f != "lep_etcone20"]])
    broken = ak.with_field(events, ak.Array([[1.0, 2.0, 3.0]]), "lep_eta")
    with pytest.raises(SelectionError, match="lep_eta has a different number of entries"):
        select(broken)


def test_empty_input():
    events = _events([_event()])[:0]
    sel = select(events)
    assert len(sel.passed) == 0
    assert len(sel.m4l) == 0
    cf = make_cutflow(sel.masks, np.zeros(0), sample="s", selection="intended")
    assert cf.events == (0,) * 10


# --------------------------------------------------------------------------- generated (synthetic) events


@pytest.fixture(scope="module")
def generated():
    from higgs_pyhf.build.config import default_config
    from higgs_pyhf.synthetic import generate_sample

    config = default_config()
    return {
        s.name: generate_sample(s, config, np.random.default_rng(1000 + i), scale=0.05)
        for i, s in enumerate(config.samples)
    }


def test_each_cut_removes_the_generated_events_built_to_fail_it(generated):
    order = SELECTIONS["intended"]
    for name, (events, categories) in generated.items():
        categories = np.asarray(categories)
        masks = cut_masks(events)
        for cut, mask in masks.items():
            built = categories == cut
            assert built.sum() > 0 or name in ("WH125_ZZ4lep", "ZH125_ZZ4lep"), (name, cut)
            np.testing.assert_array_equal(~mask[built], True, err_msg=f"{name}: {cut}")
            # events built to fail another cut (with four leptons) pass this one
            others = (categories != cut) & (categories != "nlep")
            np.testing.assert_array_equal(mask[others], True, err_msg=f"{name}: {cut}")
        # in the cutflow, each cut removes exactly the events built to fail it
        cf = make_cutflow(masks, sample=name, selection="intended")
        removed = -np.diff(cf.events)
        expected = [int((categories == c).sum()) for c in order]
        assert removed.tolist() == expected, name
        assert cf.selected == int((categories == "pass").sum())
        # the report's selection keeps the iso_et and trigger failures
        report = select(events, selection="report")
        np.testing.assert_array_equal(
            report.passed, np.isin(categories, ["pass", "iso_et", "trigger"])
        )


def test_generated_higgs_peaks_at_125(generated):
    m4l = np.concatenate([select(generated[n][0]).m4l for n in generated if "H125" in n])
    assert len(m4l) > 500
    counts, edges = np.histogram(m4l, bins=np.arange(100.0, 150.5, 1.0))
    peak = 0.5 * (edges[counts.argmax()] + edges[counts.argmax() + 1])
    assert peak == pytest.approx(125.0, abs=2.0)
    core = m4l[(m4l > 115) & (m4l < 135)]
    assert np.median(core) == pytest.approx(125.0, abs=2.0)
    assert len(core) > 0.8 * len(m4l)


def test_generated_backgrounds_have_a_z_peak_and_zz_continuum(generated):
    m4l = select(generated["llll"][0]).m4l
    counts, edges = np.histogram(m4l, bins=np.arange(80.0, 250.1, 5.0))
    assert 85.0 <= edges[counts.argmax()] <= 95.0  # Z -> 4l
    assert (
        counts[(edges[:-1] >= 190) & (edges[:-1] < 220)].mean()
        > counts[(edges[:-1] >= 130) & (edges[:-1] < 160)].mean()
    )


def test_sliced_and_filtered_inputs_give_the_same_answers():
    events = _random_events(300, seed=3)
    full = select(events)
    part = select(events[37:])  # offsets not starting at 0
    np.testing.assert_array_equal(part.passed, full.passed[37:])
    np.testing.assert_array_equal(part.m4l, full.m4l[np.flatnonzero(full.passed) >= 37])
    keep = np.arange(300) % 3 != 0
    picked = select(events[keep])  # ListArray layouts after a boolean mask
    np.testing.assert_array_equal(picked.passed, full.passed[keep])
    np.testing.assert_allclose(picked.m4l, four_lepton_mass(events)[keep & full.passed], rtol=1e-15)
    # fields whose offsets differ by a constant (zipped from differently sliced arrays)
    shifted = ak.zip(
        {
            f: events[f] if f != "lep_eta" else ak.concatenate([events[f][:1], events[f]])[1:]
            for f in events.fields
        },
        depth_limit=1,
    )
    np.testing.assert_array_equal(select(shifted).m4l, full.m4l)
