from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest
import uproot
from _helpers import lepton_events

from higgs_pyhf.build.config import parse_config
from higgs_pyhf.build.histogram_io import load_histograms, save_histograms
from higgs_pyhf.build.histograms import (
    SAMPLE_AXIS,
    ChunkJob,
    build_histograms,
    fill_events,
    make_histogram,
    merge_chunk_results,
    process_chunk,
    sample_yields,
)
from higgs_pyhf.build.ntuples import MC_BRANCHES, ChunkTask, plan_chunks, write_ntuple
from higgs_pyhf.build.selection import four_lepton_mass, select
from higgs_pyhf.build.weights import event_weights
from higgs_pyhf.errors import HistogramError, InputFileError, SelectionError

LUMI = 10.0
XSEC, SUMW, EFF = 2.5, 1.0e4, 0.8


def nice_events(n: int, *, seed: int = 0, mc: bool = True) -> ak.Array:
    """Four-lepton events that mostly pass the selection, m4l spread over 80-250 GeV."""
    rng = np.random.default_rng(seed)
    counts = np.where(rng.random(n) < 0.9, 4, 3).astype(np.uint32)
    total = int(counts.sum())
    pt = rng.uniform(8e3, 9e4, total).astype(np.float32)
    eta = rng.uniform(-2.4, 2.4, total).astype(np.float32)
    events = lepton_events(
        counts,
        pt,
        eta,
        rng.uniform(-np.pi, np.pi, total).astype(np.float32),
        {
            "lep_charge": np.tile([-1, 1], total)[:total].astype(np.int32),
            "lep_type": np.full(total, 13, dtype=np.uint32),
            "lep_ptcone30": (pt * rng.uniform(0, 0.32, total)).astype(np.float32),
            "lep_etcone20": (pt * rng.uniform(0, 0.32, total)).astype(np.float32),
        },
        {"trigE": rng.random(n) < 0.5, "trigM": rng.random(n) < 0.9},
    )
    if mc:
        weight = rng.choice([-1.0, 1.0], n, p=[0.1, 0.9]).astype(np.float32)
        events["mcWeight"] = weight * rng.uniform(0.5, 1.5, n).astype(np.float32)
        for b in MC_BRANCHES:
            if b.startswith("scaleFactor"):
                events[b] = rng.uniform(0.9, 1.1, n).astype(np.float32)
    return events


def _config(edges=(80, 100, 120, 130, 160, 250)):
    return parse_config(
        {
            "tree": "mini",
            "lumi_fb": LUMI,
            "observable": {"name": "m4l", "edges": list(edges)},
            "samples": [
                {
                    "name": "sig",
                    "kind": "signal",
                    "files": ["MC/sig.root"],
                    "xsec_pb": XSEC,
                    "sumw": SUMW,
                    "red_eff": EFF,
                },
                {
                    "name": "bkg",
                    "kind": "background",
                    "files": ["MC/bkg.root"],
                    "xsec_pb": 4.0,
                    "sumw": 2.0e4,
                    "red_eff": 1.0,
                },
                {"name": "data", "kind": "data", "files": ["Data/d1.root", "Data/d2.root"]},
            ],
        }
    )


@pytest.fixture
def inputs(tmp_path):
    write_ntuple(tmp_path / "MC" / "sig.root", nice_events(700, seed=1))
    write_ntuple(tmp_path / "MC" / "bkg.root", nice_events(500, seed=2))
    write_ntuple(tmp_path / "Data" / "d1.root", nice_events(300, seed=3, mc=False))
    write_ntuple(tmp_path / "Data" / "d2.root", nice_events(200, seed=4, mc=False))
    return tmp_path, _config()


#: Per-event normalisation of each sample of _config(), lumi·1000·xsec/(sumw·red_eff); 1 for data.
XSEC_WEIGHTS = {
    "sig": LUMI * 1000 * XSEC / (SUMW * EFF),
    "bkg": LUMI * 1000 * 4.0 / (2.0e4 * 1.0),
    "data": 1.0,
}


def _job(task, config, selection="intended"):
    """The job of one chunk of _config(), written out from the configuration above."""
    return ChunkJob(
        chunk=task,
        samples=("sig", "bkg", "data"),
        is_data=task.sample == "data",
        xsec_weight=XSEC_WEIGHTS[task.sample],
        edges=config.edges,
        observable="m4l",
        label=config.observable_label,
        selection=selection,
    )


def test_event_weights_equal_the_formula():
    config = _config()
    ev = nice_events(50, seed=9)
    w = event_weights(ev, config.sample("sig"), LUMI)
    # independent: the report's formula, factor by factor, in float64
    expected = (LUMI * 1000 * XSEC) / (SUMW * EFF) * np.ones(50)
    for b in (
        "mcWeight",
        "scaleFactor_PILEUP",
        "scaleFactor_ELE",
        "scaleFactor_MUON",
        "scaleFactor_LepTRIGGER",
    ):
        expected = expected * np.asarray(ev[b], dtype=np.float64)
    np.testing.assert_allclose(w, expected, rtol=1e-14)
    assert w.dtype == np.float64
    np.testing.assert_array_equal(event_weights(ev, config.sample("data"), LUMI), np.ones(50))


def test_fill_events_matches_numpy_histogram():
    config = _config()
    ev = nice_events(2000, seed=5)
    task = ChunkTask("sig", "mem.root", "mini", MC_BRANCHES, 0, len(ev))
    result = fill_events(ev, _job(task, config))
    h = result.histogram
    assert list(h.axes[SAMPLE_AXIS]) == ["sig", "bkg", "data"]
    sel = select(ev)
    w = event_weights(ev, config.sample("sig"), LUMI)[sel.passed]
    m = four_lepton_mass(ev)[sel.passed]
    assert len(m) > 500
    vals, _ = np.histogram(m, bins=config.edges, weights=w)
    sumw2, _ = np.histogram(m, bins=config.edges, weights=w * w)
    np.testing.assert_allclose(h[{SAMPLE_AXIS: "sig"}].values(), vals, rtol=1e-12)
    np.testing.assert_allclose(h[{SAMPLE_AXIS: "sig"}].variances(), sumw2, rtol=1e-12)
    # flow bins hold what is out of range
    flow = h[{SAMPLE_AXIS: "sig"}].values(flow=True)
    assert flow[0] == pytest.approx(w[m < 80].sum(), rel=1e-12)
    assert flow[-1] == pytest.approx(w[m >= 250].sum(), rel=1e-12)
    assert h[{SAMPLE_AXIS: "bkg"}].values(flow=True).sum() == 0
    assert result.cutflow.selected == sel.passed.sum()
    assert result.cutflow.weighted[-1] == pytest.approx(w.sum(), rel=1e-12)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_weight_names_sample_and_file(bad):
    config = _config()
    ev = nice_events(30, seed=5)
    sf = np.asarray(ev["scaleFactor_ELE"]).copy()
    sf[17] = bad
    ev = ak.with_field(ev, sf, "scaleFactor_ELE")
    task = ChunkTask("sig", "/x/MC/sig.root", "mini", MC_BRANCHES, 100, 130)
    with pytest.raises(
        HistogramError,
        match=r"sample sig: 1 event\(s\) with non-finite .* /x/MC/sig\.root, first at entry 117",
    ):
        fill_events(ev, _job(task, config))


def test_non_finite_m4l(tmp_path):
    config = _config()
    ev = nice_events(30, seed=5)
    sel = select(ev)
    first = int(np.flatnonzero(sel.passed)[0])
    energy = ak.to_list(ev["lep_E"])
    energy[first][0] = float("nan")
    ev = ak.with_field(ev, ak.values_astype(ak.Array(energy), np.float32), "lep_E")
    task = ChunkTask("sig", "f.root", "mini", MC_BRANCHES, 0, 30)
    with pytest.raises(
        HistogramError, match=rf"non-finite \(NaN/inf\) lep_E in f.root at entry {first}"
    ):
        fill_events(ev, _job(task, config))


def test_chunks_add_up_to_the_whole(inputs):
    data_dir, config = inputs
    whole = build_histograms(config, data_dir, step_size=10_000)
    chunked = build_histograms(config, data_dir, step_size=97)
    np.testing.assert_allclose(
        chunked.histograms.values(flow=True), whole.histograms.values(flow=True), rtol=1e-12
    )
    np.testing.assert_allclose(
        chunked.histograms.variances(flow=True), whole.histograms.variances(flow=True), rtol=1e-12
    )
    assert {n: c.events for n, c in chunked.cutflows.items()} == {
        n: c.events for n, c in whole.cutflows.items()
    }
    assert list(whole.cutflows) == ["sig", "bkg", "data"]
    assert whole.cutflows["data"].events[0] == 500
    assert whole.selection == "intended"
    assert whole.lumi_fb == LUMI
    # data: integer counts; the sum over both files equals the selected events (incl. flow)
    data = whole.histograms[{SAMPLE_AXIS: "data"}]
    assert data.values(flow=True).sum() == whole.cutflows["data"].selected
    np.testing.assert_array_equal(data.values(), data.variances())


def test_report_selection_keeps_more(inputs):
    data_dir, config = inputs
    intended = build_histograms(config, data_dir)
    report = build_histograms(config, data_dir, selection="report")
    for name in ("sig", "bkg", "data"):
        assert report.cutflows[name].selected > intended.cutflows[name].selected
    assert report.cutflows["sig"].cuts[-1] == "iso_pt"


def test_empty_sample_raises_selection_error(inputs):
    data_dir, config = inputs
    ev = nice_events(40, seed=8)
    ev = ak.with_field(ev, np.zeros(40, dtype=bool), "trigE")
    ev = ak.with_field(ev, np.zeros(40, dtype=bool), "trigM")
    write_ntuple(data_dir / "MC" / "bkg.root", ev)
    with pytest.raises(
        SelectionError,
        match=r"no event of sample bkg passes the 'intended' selection \(40 events read from MC/bkg\.root\)",
    ):
        build_histograms(config, data_dir)
    # the report's selection ignores the trigger: fine
    assert build_histograms(config, data_dir, selection="report").cutflows["bkg"].selected > 0
    # empty allowed on request (the cutflow command)
    assert build_histograms(config, data_dir, require_events=False).cutflows["bkg"].selected == 0


def test_sample_without_entries(inputs):
    data_dir, config = inputs
    write_ntuple(data_dir / "MC" / "sig.root", nice_events(0))
    with pytest.raises(SelectionError, match="no event of sample sig"):
        build_histograms(config, data_dir)


def test_merge_in_task_order(inputs):
    data_dir, config = inputs
    tasks = plan_chunks(config, data_dir, step_size=150)
    results = [process_chunk(_job(t, config)) for t in tasks]
    merged = merge_chunk_results(results, config, selection="intended")
    direct = build_histograms(config, data_dir, step_size=150)
    assert merged.histograms == direct.histograms
    assert merged.cutflows == direct.cutflows


@pytest.fixture
def filled(inputs):
    data_dir, config = inputs
    return build_histograms(config, data_dir).histograms


def test_root_round_trip(filled, tmp_path):
    path = save_histograms(filled, tmp_path / "h.root")
    with uproot.open(path) as f:
        assert sorted(k.split(";")[0] for k in f) == ["bkg", "data", "sig"]
        assert set(f.classnames().values()) == {"TH1D"}
        th1 = f["sig"]
        assert th1.member("fTitle") == "sig"
        np.testing.assert_array_equal(th1.axis().edges(), filled.axes["m4l"].edges)
        np.testing.assert_array_equal(
            th1.values(flow=True), filled[{SAMPLE_AXIS: "sig"}].values(flow=True)
        )
        np.testing.assert_array_equal(
            th1.variances(flow=True), filled[{SAMPLE_AXIS: "sig"}].variances(flow=True)
        )
    back = load_histograms(path)
    assert list(back.axes[SAMPLE_AXIS]) == ["sig", "bkg", "data"]
    assert back.axes[1].name == "m4l"
    assert back.axes[1].label == filled.axes[1].label
    np.testing.assert_array_equal(back.view(flow=True).value, filled.view(flow=True).value)
    np.testing.assert_array_equal(back.view(flow=True).variance, filled.view(flow=True).variance)
    assert back == filled
    with uproot.open(save_histograms(filled, tmp_path / "g.root", title="GENERATED")) as f:
        assert f["sig"].member("fTitle") == "sig (GENERATED)"


def test_json_round_trip(filled, tmp_path):
    path = save_histograms(filled, tmp_path / "h.json")
    raw = json.loads(path.read_text())
    assert raw["uhi_schema"] == 1
    assert raw["axes"][0]["categories"] == ["sig", "bkg", "data"]
    back = load_histograms(path)
    assert back == filled
    assert sample_yields(back) == sample_yields(filled)
    labelled = load_histograms(save_histograms(filled, tmp_path / "g.json", title="GENERATED"))
    assert labelled.label == "GENERATED"
    assert labelled == filled
    assert getattr(filled, "label", None) is None  # the input is left untouched


def test_save_is_atomic(filled, tmp_path, monkeypatch):
    out = tmp_path / "out"
    path = out / "h.root"
    save_histograms(filled, path)
    before = path.read_bytes()
    calls = []

    def fail_on_second(self, name, obj):
        calls.append(name)
        if len(calls) == 2:
            msg = "disk full"
            raise RuntimeError(msg)
        return original(self, name, obj)

    original = uproot.WritableDirectory.__setitem__
    monkeypatch.setattr(uproot.WritableDirectory, "__setitem__", fail_on_second)
    with pytest.raises(RuntimeError, match="disk full"):
        save_histograms(filled, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["h.root"]
    with pytest.raises(HistogramError, match=r"must end in \.root or \.json"):
        save_histograms(filled, out / "h.txt")
    one = filled[{SAMPLE_AXIS: "sig"}]
    with pytest.raises(HistogramError, match="'sample' axis"):
        save_histograms(one, out / "one.json")
    assert sorted(p.name for p in out.iterdir()) == ["h.root"]


def test_load_errors(tmp_path):
    with pytest.raises(InputFileError, match="histogram file not found"):
        load_histograms(tmp_path / "nope.root")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(HistogramError, match="not a UHI JSON histogram"):
        load_histograms(tmp_path / "bad.json")
    (tmp_path / "bad.root").write_text("not root")
    with pytest.raises(InputFileError, match=r"bad\.root"):
        load_histograms(tmp_path / "bad.root")
    with uproot.recreate(tmp_path / "empty.root") as f:
        f["x"] = "just a string"
    with pytest.raises(HistogramError, match="no TH1"):
        load_histograms(tmp_path / "empty.root")


def test_sample_yields_in_range_and_flow():
    h = make_histogram((80.0, 100.0, 250.0), samples=["a", "b"])
    h.fill("a", [90.0, 300.0, 70.0], weight=[1.0, 2.0, 4.0])
    assert sample_yields(h) == {"a": 1.0, "b": 0.0}
    assert sample_yields(h, flow=True) == {"a": 7.0, "b": 0.0}
