"""Set-up shared by several test modules (import as ``from _helpers import …``).

Only set-up lives here: inputs, models and ways of running the CLI. The
references a test checks against stay in the test.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import awkward as ak
import hist
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The keys of a fit result's JSON (``fit`` command, ``FitResult.to_json``).
FIT_JSON_KEYS = frozenset(
    {
        "parameters",
        "twice_nll",
        "correlation",
        "converged",
        "status",
        "minimizer",
        "notes",
        "timing",
    }
)


# --------------------------------------------------------------------------- histograms, workspaces


def weighted(values: Any, variances: Any) -> hist.Hist:
    """A 1D Weight-storage histogram on [0, 1] with the given contents and variances."""
    h = hist.Hist(hist.axis.Regular(len(values), 0.0, 1.0), storage=hist.storage.Weight())
    h[...] = np.stack([values, variances], axis=-1)
    return h


def counts(values: Any) -> hist.Hist:
    """A 1D count histogram on [0, 1] with the given contents."""
    h = hist.Hist(hist.axis.Regular(len(values), 0.0, 1.0))
    h[...] = values
    return h


def nuisance_workspace(sig: np.ndarray, bkg: np.ndarray, n: np.ndarray) -> dict[str, Any]:
    """The report's two-normfactor workspace plus MC-stat (1 %, 2 % sumw2) and a 2 % lumi."""
    from higgs_pyhf.build.report_workspace import build_workspace

    return build_workspace(
        sig,
        bkg,
        n,
        mc_stat=True,
        signal_sumw2=0.01 * sig,
        background_sumw2=0.02 * bkg,
        lumi_uncertainty=0.02,
    )


# --------------------------------------------------------------------------- ntuples


def write_generated_inputs(directory: Path, *, first_seed: int, scale: float) -> Path:
    """Generated events of every default sample written in the default layout, WITHOUT the marker.

    Sample ``i`` of the default configuration is drawn with seed
    ``first_seed + i``; a sample with several files has its events dealt
    out over them in turn. Without the generator's marker file the
    directory reads as real input.
    """
    from higgs_pyhf.build.config import default_config
    from higgs_pyhf.build.ntuples import write_ntuple
    from higgs_pyhf.synthetic import generate_sample

    config = default_config()
    for i, sample in enumerate(config.samples):
        rng = np.random.default_rng(first_seed + i)
        events, _ = generate_sample(sample, config, rng, scale=scale)
        for j, name in enumerate(sample.files):
            write_ntuple(directory / name, events[j :: len(sample.files)])
    return directory


def lepton_events(
    n_leptons: np.ndarray,
    pt: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    per_lepton: Mapping[str, np.ndarray],
    per_event: Mapping[str, Any],
) -> ak.Array:
    """Events with the open-data branches from flat per-lepton arrays (float32 MeV).

    ``lep_n`` is ``n_leptons``; ``lep_pt``, ``lep_eta``, ``lep_phi``,
    ``lep_E`` (massless: pT·cosh η) and every ``per_lepton`` array are cut
    into events of ``n_leptons`` leptons; ``per_event`` fields are added as given.
    """

    def jag(values: np.ndarray) -> ak.Array:
        return ak.unflatten(values, n_leptons.astype(np.int64))

    fields: dict[str, Any] = {
        "lep_n": n_leptons,
        "lep_pt": jag(pt),
        "lep_eta": jag(eta),
        "lep_phi": jag(phi),
        "lep_E": jag((pt * np.cosh(eta)).astype(np.float32)),
    }
    fields.update({name: jag(values) for name, values in per_lepton.items()})
    fields.update(per_event)
    return ak.Array(fields)


# --------------------------------------------------------------------------- scripts, subprocesses


def load_script(name: str) -> ModuleType:
    """Import ``scripts/<name>.py`` (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def start_cli_until(
    args: list[str], marker: str, cwd: Path, *, verbosity: str = "-v"
) -> subprocess.Popen[str]:
    """Start ``python -m higgs_pyhf`` and return once ``marker`` appeared in its log (stderr).

    The test fails if the command ends before logging ``marker``.
    """
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "higgs_pyhf", "--no-progress", verbosity, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
        # Python turns SIGINT into KeyboardInterrupt only when it is not ignored
        # (it is in the children of a shell's background job)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if marker in line:
            return proc
    proc.wait(timeout=60)
    pytest.fail(f"the command ended (exit {proc.returncode}) before logging {marker!r}")


def interrupt(proc: subprocess.Popen[str], sig: int, *, timeout: float) -> tuple[int, str]:
    """Send ``sig`` to a command started by :func:`start_cli_until`: (exit code, last stderr line)."""
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, (err.strip().splitlines() or [""])[-1]
