"""Benchmark: CLs upper limit with its ±1σ/±2σ band, engine vs pyhf's ``upper_limit``.

Usage: ``python scripts/benchmark_limit.py [--quick] [--repeats 3]``

Ours: :func:`higgs_pyhf.inference.limits.upper_limit` (a 41-point CLs
scan in one batch, then batched bisection of the six crossings). pyhf:
``pyhf.infer.intervals.upper_limits.upper_limit(data, model, scan=None)``
(TOMS 748 root finding over ``hypotest``, numpy + minuit) — what a pyhf user
runs. On (b) the shipped mcstat workspace pyhf runs in full; on (c) the
~140-parameter realistic model one pyhf ``hypotest`` (with the expected band)
is timed and multiplied by the number of hypotests pyhf's root finding
needed on (b) (say so in the output). Median of ``--repeats`` for ours, CPU
and wall time, the load, and the agreement of the limits. The last line is
one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyhf

from higgs_pyhf.inference.limits import upper_limit
from higgs_pyhf.inference.parameters import pyhf_state
from higgs_pyhf.synthetic.workspaces import realistic_workspace
from higgs_pyhf.workspace import model_and_data

WORKSPACES = Path(__file__).resolve().parents[1] / "workspaces"


def ours(model: Any, data: np.ndarray, repeats: int) -> tuple[Any, float, float]:
    walls, cpus, res = [], [], None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        res = upper_limit(model, data)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return res, statistics.median(walls), statistics.median(cpus)


def case(name: str, spec: Any, repeats: int, full_pyhf: bool, n_hypotests: int) -> dict[str, Any]:
    model, data = model_and_data(spec)
    res, w, c = ours(model, data, repeats)
    out: dict[str, Any] = {
        "workspace": name,
        "parameters": int(model.config.npars),
        "ours_wall_s": round(w, 3),
        "ours_cpu_s": round(c, 3),
        "observed": res.observed,
        "expected": list(res.expected),
    }
    with pyhf_state(pyhf.optimize.minuit_optimizer(tolerance=1e-4)):
        w0, c0 = time.perf_counter(), time.process_time()
        if full_pyhf:
            obs, exp, (points, _) = pyhf.infer.intervals.upper_limits.upper_limit(
                data, model, level=0.05, return_results=True
            )
            out["pyhf"] = "upper_limit (toms748), measured in full"
            out["pyhf_hypotests"] = len(points)
            out["pyhf_observed"] = float(obs)
            out["max_rel_diff"] = float(
                max(
                    abs(res.observed / float(obs) - 1),
                    *(abs(a / float(b) - 1) for a, b in zip(res.expected, exp, strict=True)),
                )
            )
            pw, pc = time.perf_counter() - w0, time.process_time() - c0
        else:
            pyhf.infer.hypotest(
                res.observed, data, model, test_stat="qtilde", return_expected_set=True
            )
            one_w, one_c = time.perf_counter() - w0, time.process_time() - c0
            pw, pc = one_w * n_hypotests, one_c * n_hypotests
            out["pyhf"] = (
                f"one hypotest timed ({one_w:.1f} s wall) x {n_hypotests} hypotests "
                "(what upper_limit needed on the mcstat workspace)"
            )
    out.update(
        pyhf_wall_s=round(pw, 2),
        pyhf_cpu_s=round(pc, 2),
        ratio_wall=round(pw / w, 1),
        ratio_cpu=round(pc / c, 1),
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    reps = 1 if args.quick else max(3, args.repeats)
    load_before = os.getloadavg()
    out: dict[str, Any] = {}
    out["mcstat"] = case(
        "hzz4l_generated_mcstat_lumi.json",
        WORKSPACES / "hzz4l_generated_mcstat_lumi.json",
        reps,
        not args.quick,
        12,
    )
    print("mcstat:", json.dumps(out["mcstat"]))
    n = out["mcstat"].get("pyhf_hypotests", 12)
    out["realistic"] = case(
        "synthetic.workspaces.realistic_workspace(seed=1)",
        realistic_workspace(seed=1),
        reps,
        False,
        n,
    )
    print("realistic:", json.dumps(out["realistic"]))
    out["load_before"] = [round(x, 2) for x in load_before]
    out["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
