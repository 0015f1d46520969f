"""Benchmark: ``higgs_pyhf significance`` (limit included) vs ``pyhf cls``, cold processes.

Usage: ``python scripts/benchmark_significance.py [--quick] [--repeats 5]``

The model: :func:`higgs_pyhf.synthetic.scaling.scaling_workspace` with 5
channels of 8 bins, 14 channel-own systematics and 6 shared ones: 120
parameters (normsys, histosys, staterror, lumi; the POI ``mu`` bounded to
[0, 10], as pyhf's q̃μ wants). Issue 19's goal: ``significance`` (discovery,
CLs at μ = 1 and the CLs upper limit with its expected band) in at most half
the CPU of ``pyhf cls`` (one asymptotic hypotest at μ = 1, pyhf's defaults:
numpy backend, scipy optimizer).

Each command runs ``--repeats`` times as a new process (after one untimed
run that fills the caches: numba's compiled kernels, Python's bytecode);
CPU is the children's user + system time from :func:`resource.getrusage`
(every thread), wall time :func:`time.perf_counter`; medians are reported.
Also timed: ``significance --no-limit`` (the limit's share), and the
``timing`` entry of our JSON (the computation without start-up and loading).
Agreement: our CLs at μ = 1 (observed and the expected band) against
``pyhf cls``'s, the largest relative difference.
The machine load (``os.getloadavg()``) is recorded before and after; the last
line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from higgs_pyhf.synthetic.scaling import n_parameters, scaling_workspace

#: (channels, bins, channel-own systematics, shared systematics): 120 parameters.
FULL = (5, 8, 14, 6)
QUICK = (2, 5, 4, 2)


def workspace(size: tuple[int, int, int, int]) -> dict[str, Any]:
    """The generated workspace of ``size``, its POI bounded below by 0."""
    n_ch, n_bins, n_local, n_shared = size
    spec = scaling_workspace(n_ch, n_bins=n_bins, n_local=n_local, n_shared=n_shared, seed=n_ch)
    for par in spec["measurements"][0]["config"]["parameters"]:
        if par["name"] == "mu":
            par["bounds"] = [[0.0, 10.0]]
    return spec


def run_cold(cmd: list[str]) -> tuple[float, float, str]:
    """CPU (children's user + system) and wall seconds of ``cmd`` in a new process; its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        msg = f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-500:]}"
        raise RuntimeError(msg)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, proc.stdout


def timed(cmd: list[str], repeats: int) -> dict[str, Any]:
    """Medians over ``repeats`` cold runs of ``cmd`` (after one untimed run); the last JSON output."""
    run_cold(cmd)
    cpu, wall, outputs = [], [], []
    for _ in range(repeats):
        c, w, out = run_cold(cmd)
        cpu.append(c)
        wall.append(w)
        outputs.append(json.loads(out))
    row: dict[str, Any] = {
        "cpu_s": statistics.median(cpu),
        "wall_s": statistics.median(wall),
        "cpu_s_all": [round(c, 3) for c in cpu],
        "_outputs": outputs,
    }
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small model, one repeat")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    reps = 1 if args.quick else max(3, args.repeats)
    size = QUICK if args.quick else FULL
    load_before = os.getloadavg()
    pyhf_exe = shutil.which("pyhf", path=str(Path(sys.executable).parent)) or "pyhf"
    with tempfile.TemporaryDirectory(prefix="bench_significance_") as tmp:
        path = Path(tmp) / "workspace.json"
        path.write_text(json.dumps(workspace(size)))
        ours_cmd = [sys.executable, "-m", "higgs_pyhf", "significance", str(path)]
        rows = {
            "ours": timed(ours_cmd, reps),
            "ours_no_limit": timed([*ours_cmd, "--no-limit"], reps),
            "pyhf_cls": timed([pyhf_exe, "cls", str(path)], reps),
            "python_startup": timed([sys.executable, "-c", "print('{}')"], reps),
        }
    ours_cls = rows["ours"]["_outputs"][-1]["cls"]
    for label in ("ours", "ours_no_limit"):
        timings = [o["timing"] for o in rows[label].pop("_outputs")]
        rows[label]["timing_cpu_s"] = statistics.median(t["fit_cpu_s"] for t in timings)
        rows[label]["timing_wall_s"] = statistics.median(t["fit_wall_s"] for t in timings)
    pyhf_out = rows["pyhf_cls"].pop("_outputs")[-1]
    rows["python_startup"].pop("_outputs")
    for label, row in rows.items():
        print(
            f"{label:15s}: {row['cpu_s']:.3f} s CPU, {row['wall_s']:.3f} s wall (medians of {reps})"
            + (f"; its timing: {row['timing_cpu_s']:.3f} s CPU" if "timing_cpu_s" in row else ""),
            file=sys.stderr,
        )
    ratio = rows["ours"]["cpu_s"] / rows["pyhf_cls"]["cpu_s"]
    # agreement: our CLs at the same POI value (1) against pyhf cls's, observed and expected band
    ours_vals = np.array([ours_cls["cls_observed"], *ours_cls["cls_expected"]])
    pyhf_vals = np.array([pyhf_out["CLs_obs"], *pyhf_out["CLs_exp"]])
    cls_rel = float(np.max(np.abs(ours_vals / pyhf_vals - 1.0)))
    print(f"CLs at mu = 1, ours vs pyhf: max relative difference {cls_rel:.1e}", file=sys.stderr)
    out = {
        "benchmark": "significance (limit included) vs pyhf cls, cold processes, medians",
        "model": {
            "generator": "higgs_pyhf.synthetic.scaling.scaling_workspace",
            "channels": size[0],
            "bins_per_channel": size[1],
            "n_local": size[2],
            "n_shared": size[3],
            "parameters": n_parameters(size[0], size[1], size[2], size[3]),
            "poi_bounds": [0.0, 10.0],
        },
        **rows,
        "pyhf_cls_output": pyhf_out,
        "ours_cls": ours_cls,
        "cls_max_rel_diff": cls_rel,
        "ours_over_pyhf_cpu": ratio,
        "ours_over_pyhf_wall": rows["ours"]["wall_s"] / rows["pyhf_cls"]["wall_s"],
        "goal_cpu_ratio_at_most": 0.5,
        "goal_met": ratio <= 0.5,
        "repeats": reps,
        "load_before": list(load_before),
        "load_after": list(os.getloadavg()),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
