from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot
from _helpers import lepton_events

from higgs_pyhf.build.config import parse_config
from higgs_pyhf.build.ntuples import (
    BRANCHES,
    DATA_BRANCHES,
    MC_BRANCHES,
    ChunkTask,
    branches_for,
    check_file,
    iterate_file,
    plan_chunks,
    read_chunk,
    write_ntuple,
)
from higgs_pyhf.errors import InputFileError


def tiny_events(n: int, *, seed: int = 0, mc: bool = True) -> ak.Array:
    """Open-data-shaped events with the ATLAS dtypes (random content)."""
    rng = np.random.default_rng(seed)
    counts = rng.choice([3, 4, 4, 5], size=n).astype(np.uint32)
    total = int(counts.sum())
    pt = rng.uniform(5e3, 6e4, total).astype(np.float32)
    eta = rng.uniform(-2.6, 2.6, total).astype(np.float32)
    events = lepton_events(
        counts,
        pt,
        eta,
        rng.uniform(-np.pi, np.pi, total).astype(np.float32),
        {
            "lep_charge": rng.choice([-1, 1], total).astype(np.int32),
            "lep_type": rng.choice([11, 13], total).astype(np.uint32),
            "lep_ptcone30": (pt * rng.uniform(0, 0.4, total)).astype(np.float32),
            "lep_etcone20": (pt * rng.uniform(0, 0.4, total)).astype(np.float32),
        },
        {"trigE": rng.random(n) < 0.7, "trigM": rng.random(n) < 0.5},
    )
    if mc:
        for b in MC_BRANCHES:
            if b not in ak.fields(events):
                events[b] = rng.uniform(0.8, 1.2, n).astype(np.float32)
    return events


def _config(files_mc, files_data, files_bkg=None):
    return parse_config(
        {
            "tree": "mini",
            "lumi_fb": 10.0,
            "observable": {"name": "m4l", "nbins": 4, "low": 80, "high": 240},
            "samples": [
                {
                    "name": "sig",
                    "kind": "signal",
                    "files": files_mc,
                    "xsec_pb": 1.0,
                    "sumw": 10.0,
                    "red_eff": 1.0,
                },
                {
                    "name": "bkg",
                    "kind": "background",
                    "files": files_bkg or ["MC/c.root"],
                    "xsec_pb": 2.0,
                    "sumw": 20.0,
                    "red_eff": 0.5,
                },
                {"name": "data", "kind": "data", "files": files_data},
            ],
        }
    )


@pytest.fixture
def inputs(tmp_path):
    write_ntuple(tmp_path / "MC" / "a.root", tiny_events(1000, seed=1))
    write_ntuple(tmp_path / "MC" / "b.root", tiny_events(250, seed=2))
    write_ntuple(tmp_path / "MC" / "c.root", tiny_events(1000, seed=4))
    write_ntuple(tmp_path / "Data" / "d.root", tiny_events(300, seed=3, mc=False))
    return tmp_path, _config(["MC/a.root", "MC/b.root"], ["Data/d.root"])


def test_branch_lists():
    assert set(MC_BRANCHES) == set(BRANCHES)
    assert "mcWeight" not in DATA_BRANCHES
    assert set(MC_BRANCHES) - set(DATA_BRANCHES) == {
        "mcWeight",
        "scaleFactor_PILEUP",
        "scaleFactor_ELE",
        "scaleFactor_MUON",
        "scaleFactor_LepTRIGGER",
    }


def test_written_file_has_the_open_data_schema(tmp_path):
    ev = tiny_events(20)
    path = write_ntuple(tmp_path / "x.root", ev)
    tree = uproot.open(path)["mini"]
    for name, (jagged, dtype) in BRANCHES.items():
        arr = tree[name].array(library="ak")
        assert (arr.ndim == 2) is jagged, name
        assert (
            str(ak.flatten(arr, axis=None).type.content if jagged else arr.type.content) == dtype
        ), name
    assert ak.all(tree["lep_n"].array() == ak.num(tree["lep_pt"].array()))


def test_plan_chunks_layout(inputs):
    data_dir, config = inputs
    tasks = plan_chunks(config, data_dir, step_size=300)
    assert [(t.sample, t.path.split("/")[-1], t.entry_start, t.entry_stop) for t in tasks] == [
        ("sig", "a.root", 0, 300),
        ("sig", "a.root", 300, 600),
        ("sig", "a.root", 600, 900),
        ("sig", "a.root", 900, 1000),
        ("sig", "b.root", 0, 250),
        ("bkg", "c.root", 0, 300),
        ("bkg", "c.root", 300, 600),
        ("bkg", "c.root", 600, 900),
        ("bkg", "c.root", 900, 1000),
        ("data", "d.root", 0, 300),
    ]
    assert tasks[0].branches == MC_BRANCHES
    assert tasks[-1].branches == DATA_BRANCHES
    assert tasks[3].n_entries == 100
    assert "entries 900-1000" in tasks[3].describe()
    only = plan_chunks(config, data_dir, samples=["data"])
    assert len(only) == 1
    assert only[0].n_entries == 300


def test_chunks_reproduce_uproot_iterate(inputs):
    data_dir, config = inputs
    path = data_dir / "MC" / "a.root"
    for step in (128, "20 kB"):
        tasks = [
            t
            for t in plan_chunks(config, data_dir, step_size=step, samples=["sig"])
            if t.path == str(path)
        ]
        batches = list(uproot.iterate({str(path): "mini"}, list(MC_BRANCHES), step_size=step))
        assert len(tasks) == len(batches) > 1
        for task, batch in zip(tasks, batches, strict=True):
            chunk = read_chunk(task)
            assert chunk.fields == list(MC_BRANCHES)
            assert ak.array_equal(chunk, batch)
        streamed = list(iterate_file(path, "mini", MC_BRANCHES, step_size=step))
        assert ak.array_equal(ak.concatenate(streamed), ak.concatenate(batches))


def test_read_chunk_reads_only_the_needed_branches(inputs):
    data_dir, _ = inputs
    task = ChunkTask("data", str(data_dir / "Data" / "d.root"), "mini", DATA_BRANCHES, 10, 20)
    chunk = read_chunk(task)
    assert len(chunk) == 10
    assert set(chunk.fields) == set(DATA_BRANCHES)
    full = uproot.open(task.path)["mini"].arrays(list(DATA_BRANCHES))
    assert ak.array_equal(chunk, full[10:20])


def test_empty_file_gives_no_chunk(tmp_path):
    write_ntuple(tmp_path / "MC" / "a.root", tiny_events(0))
    write_ntuple(tmp_path / "MC" / "c.root", tiny_events(0))
    write_ntuple(tmp_path / "Data" / "d.root", tiny_events(5, mc=False))
    config = _config(["MC/a.root"], ["Data/d.root"])
    tasks = plan_chunks(config, tmp_path)
    assert [t.sample for t in tasks] == ["data"]


def test_branches_for():
    config = _config(["a.root"], ["d.root"])
    assert branches_for(config.sample("sig")) == MC_BRANCHES
    assert branches_for(config.sample("data")) == DATA_BRANCHES


def test_missing_file(inputs):
    data_dir, config = inputs
    (data_dir / "MC" / "b.root").unlink()
    with pytest.raises(InputFileError, match=r"input file not found: .*MC/b\.root"):
        plan_chunks(config, data_dir)


def test_missing_tree(inputs):
    data_dir, _ = inputs
    path = data_dir / "other.root"
    write_ntuple(path, tiny_events(3), tree="nominal")
    with pytest.raises(
        InputFileError, match=r"other\.root has no tree 'mini' \(has: \['nominal'\]\)"
    ):
        check_file(path, "mini", MC_BRANCHES)


def test_missing_branch_names_branch_and_file(inputs):
    data_dir, config = inputs
    ev = tiny_events(10)
    write_ntuple(data_dir / "MC" / "b.root", ev[[f for f in ev.fields if f != "scaleFactor_MUON"]])
    with pytest.raises(InputFileError, match=r"MC/b\.root lacks branch scaleFactor_MUON"):
        plan_chunks(config, data_dir)
    # data files do not need the weight branches
    assert len(plan_chunks(config, data_dir, samples=["data"])) == 1


def test_rntuple_is_not_a_ttree(tmp_path):
    path = tmp_path / "r.root"
    with uproot.recreate(path) as f:
        f["mini"] = {"x": np.arange(3.0)}
    with pytest.raises(InputFileError, match="not a TTree"):
        check_file(path, "mini", ["x"])


def _read_all(config, data_dir, tasks=None):
    for task in tasks if tasks is not None else plan_chunks(config, data_dir, samples=["sig"]):
        read_chunk(task)


@pytest.mark.parametrize("keep", [0.0, 0.05, 0.5, 0.9])
def test_truncated_file(inputs, keep):
    data_dir, config = inputs
    path = data_dir / "MC" / "a.root"
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])
    # the error may come when opening (plan) or when reading baskets (read): both name the file
    with pytest.raises(InputFileError, match=r"MC/a\.root"):
        _read_all(config, data_dir)


def test_corrupt_baskets(inputs):
    data_dir, config = inputs
    path = data_dir / "MC" / "a.root"
    tasks = plan_chunks(config, data_dir, samples=["sig"])
    raw = bytearray(path.read_bytes())
    # overwrite compressed basket payloads in the middle of the file with garbage
    rng = np.random.default_rng(0)
    start, stop = len(raw) // 5, len(raw) // 2
    raw[start:stop] = rng.integers(0, 256, stop - start, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(raw))
    with pytest.raises(InputFileError, match=r"MC/a\.root"):
        _read_all(config, data_dir, tasks)


def test_not_a_root_file(tmp_path):
    path = tmp_path / "junk.root"
    path.write_text("this is not ROOT\n")
    with pytest.raises(InputFileError, match=r"cannot open ROOT file .*junk\.root"):
        check_file(path, "mini", MC_BRANCHES)
    with pytest.raises(InputFileError, match=r"junk\.root"):
        list(iterate_file(path, "mini", MC_BRANCHES))


def test_bad_step_size(inputs):
    data_dir, config = inputs
    with pytest.raises(ValueError, match="positive"):
        plan_chunks(config, data_dir, step_size=0)
    with pytest.raises(InputFileError, match="cannot size chunks"):
        plan_chunks(config, data_dir, step_size="lots")
