"""An interrupted toy run keeps what it finished with ``--save-partial`` (issue 15), and only then."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pytest
from _helpers import interrupt, start_cli_until

from higgs_pyhf.execution import map_tasks
from higgs_pyhf.inference.toys.partial import keep_partial
from higgs_pyhf.inference.toys.runner import run_at

WORKSPACE = Path(__file__).resolve().parents[1] / "workspaces" / "hzz4l_generated_mcstat_lumi.json"


def _interrupt_after_first_chunk(args: list[str], sig: int, cwd: Path) -> tuple[int, str]:
    """Run the CLI, send ``sig`` once its log says a chunk of toys finished; (exit code, last line)."""
    proc = start_cli_until(args, "toy chunk 1 of", cwd, verbosity="-vv")
    return interrupt(proc, sig, timeout=180)


def _square(x: int) -> int:
    if x == 3:
        raise KeyboardInterrupt
    return x * x


@pytest.mark.parametrize(("workers", "pool"), [(1, "threads"), (2, "threads")])
def test_map_tasks_keeps_the_finished_results_when_interrupted(workers, pool):
    done: dict[int, int] = {}
    with pytest.raises(KeyboardInterrupt):
        map_tasks(_square, [0, 1, 2, 3, 4, 5], workers=workers, pool=pool, done=done)
    assert {0, 1, 2} <= set(done)
    assert 3 not in done
    assert all(done[i] == i * i for i in done)


def _block(_tm, toys, payload):
    """Sum of each toy's main bins; with ``stop``, Ctrl-C arrives in the third call."""
    payload["calls"].append(1)
    if payload["stop"] and len(payload["calls"]) == 3:
        raise KeyboardInterrupt
    return {"total": toys[:, : payload["n"]].sum(axis=1)}


def test_an_interrupted_one_ensemble_study_gets_the_finished_blocks(report_histograms):
    from higgs_pyhf.build.report_workspace import build_workspace
    from higgs_pyhf.inference.toys.fits import toy_model

    sig, bkg, data = report_histograms()
    ws = build_workspace(sig, bkg, data)
    import pyhf

    model = pyhf.Workspace(ws).model()
    tm = toy_model(model)
    pars = np.asarray(model.config.suggested_init(), dtype=float)
    opts = {"ntoys": 5000, "seed": 3, "block_size": 500, "blocks_per_chunk": 1}
    full = run_at(_block, tm, pars, payload={"stop": False, "calls": [], "n": bkg.size}, **opts)
    with keep_partial(5000, summarize=True) as run:
        got = run_at(_block, tm, pars, payload={"stop": True, "calls": [], "n": bkg.size}, **opts)
    # two chunks of 500 toys finished before the third call was interrupted
    assert isinstance(run.interruption, KeyboardInterrupt)
    assert run.marks() == {"partial": True, "ntoys_done": 1000, "ntoys_requested": 5000}
    np.testing.assert_array_equal(got["total"], full["total"][:1000])
    assert run.ensembles[0].to_dict()["blocks_done"] == [0, 1]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_coverage_writes_its_finished_toys_marked_partial(tmp_path, sig):
    code, last = _interrupt_after_first_chunk(
        [
            "toys",
            "coverage",
            str(WORKSPACE),
            "--ntoys",
            "1000000",
            "--save-partial",
            "p.json",
            "-o",
            "out.json",
        ],
        sig,
        tmp_path,
    )
    assert code == (130 if sig == signal.SIGINT else 143), last
    assert "kept the" in last
    assert "p.json" in last
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"]  # no -o output, no temp file
    res = json.loads((tmp_path / "p.json").read_text())
    assert res["partial"] is True
    assert res["ntoys_requested"] == 1_000_000
    assert 0 < res["ntoys_done"] < 1_000_000
    assert res["ntoys_done"] % 20_000 == 0  # whole chunks
    # the study's own result computed from the finished toys: f at the expected 2.30 is ~ 68%
    assert res["coverage_at_expected_error"] == pytest.approx(
        np.sqrt(0.68 * 0.32 / (res["ntoys_done"] - res["n_failed"])), rel=0.05
    )
    assert abs(res["coverage_at_expected"] - 0.68) < 0.03


@pytest.mark.slow
def test_interrupted_hypotest_writes_each_ensembles_finished_toys(tmp_path):
    code, last = _interrupt_after_first_chunk(
        [
            "toys",
            "hypotest",
            str(WORKSPACE),
            "--ntoys",
            "200000",
            "--workers",
            "2",
            "--save-partial",
            "p.json",
        ],
        signal.SIGTERM,
        tmp_path,
    )
    assert code == 143, last
    res = json.loads((tmp_path / "p.json").read_text())
    assert res["partial"] is True
    assert res["ntoys_requested"] == 400_000
    assert 0 < res["ntoys_done"] < 400_000
    ens = res["ensembles"]
    assert sum(e["ntoys_done"] for e in ens) == res["ntoys_done"]
    for e in ens:
        assert e["settings"] == {"poi": "s_s", "mu": 1.0}
        assert len(e["toys"]["qmu"]) == e["ntoys_done"] == e["block_size"] * len(e["blocks_done"])
        q = np.array([np.nan if v is None else v for v in e["toys"]["qmu"]])
        assert np.nanmin(q) >= 0.0


@pytest.mark.slow
def test_without_save_partial_an_interrupted_run_writes_nothing(tmp_path):
    code, last = _interrupt_after_first_chunk(
        ["toys", "coverage", str(WORKSPACE), "--ntoys", "1000000", "-o", "out.json"],
        signal.SIGINT,
        tmp_path,
    )
    assert code == 130
    assert last == "Error: interrupted; no partial output was left"
    assert list(tmp_path.iterdir()) == []
