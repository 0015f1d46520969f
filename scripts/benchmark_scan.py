"""Benchmark: 2D Δ(−2lnL) maps on the engine vs what a pyhf user would run.

Usage: ``python scripts/benchmark_scan.py [--quick] [--repeats 3]``

Three cases, each timed in the same run (median of ``--repeats``, CPU time
by ``time.process_time`` and wall time), with the agreement of the results:

- ``unprofiled``: the 200×200 map of (s_s, s_b) on the real two-normfactor
  workspace ``workspaces/hzz4l_atlas.json`` — nothing else is free, so the
  map is −2lnL at each point. pyhf's best way: one batched evaluation,
  ``Workspace.model(batch_size=40000).logpdf(pars, data)`` (numpy backend).
  Ours: :func:`higgs_pyhf.inference.scan.scan_2d`, which includes its global fit.
- ``profiled``: the 200×200 map on ``hzz4l_generated_mcstat_lumi.json``
  (35 nuisance parameters profiled at every point). pyhf's way: a fit with
  s_s and s_b fixed per point (``pyhf.infer.mle.fit`` with ``fixed_params``,
  minuit, warm-started from the global best fit), timed on a subset of points
  and scaled to the grid. Ours: one batched engine fit of the 40 000 points.
- ``realistic``: a 100×100 profiled map of the ~140-parameter
  :func:`higgs_pyhf.synthetic.workspaces.realistic_workspace` (goal < 10 s); pyhf
  fits timed on a few points and scaled.

The last line is one JSON object with the three cases and the machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyhf

from higgs_pyhf.inference.engine import compile_model
from higgs_pyhf.inference.fit import fit
from higgs_pyhf.inference.parameters import pyhf_state
from higgs_pyhf.inference.profile import profile
from higgs_pyhf.inference.scan import scan_2d
from higgs_pyhf.synthetic.workspaces import realistic_workspace
from higgs_pyhf.workspace import load_workspace, model_and_data

WORKSPACES = Path(__file__).resolve().parents[1] / "workspaces"


def timed(func: Callable[[], Any], repeats: int) -> tuple[Any, float, float]:
    """(result, median wall s, median CPU s) of ``repeats`` calls."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        out = func()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return out, statistics.median(walls), statistics.median(cpus)


def grid(model: Any, data: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    best = fit(model, data)
    axes = []
    for p in ("s_s", "s_b"):
        lo, hi = model.config.suggested_bounds()[model.config.par_slice(p).start]
        c, e = best.value(p), best.error(p)
        axes.append(np.linspace(max(lo, c - 4 * e), min(hi, c + 4 * e), n))
    return axes[0], axes[1]


def unprofiled(n: int, repeats: int) -> dict[str, Any]:
    path = WORKSPACES / "hzz4l_atlas.json"
    model, data = model_and_data(path)
    xs, ys = grid(model, data, n)
    ours, w, c = timed(
        lambda: scan_2d(model, data, ("s_s", "s_b"), x_values=xs, y_values=ys), repeats
    )
    spec = load_workspace(path)
    i_s, i_b = (model.config.par_slice(p).start for p in ("s_s", "s_b"))
    pars = np.zeros((n * n, model.config.npars))
    mesh = np.stack(np.meshgrid(xs, ys, indexing="ij"), -1).reshape(-1, 2)
    pars[:, i_s], pars[:, i_b] = mesh[:, 0], mesh[:, 1]

    def pyhf_map() -> np.ndarray:
        with pyhf_state():
            batched = pyhf.Workspace(spec).model(batch_size=n * n)
            return -2 * np.asarray(batched.logpdf(pars, data))

    ref, pw, pc = timed(pyhf_map, repeats)
    ref = (ref - ref.min()).reshape(n, n)
    return {
        "workspace": path.name,
        "grid": [n, n],
        "ours_wall_s": round(w, 4),
        "ours_cpu_s": round(c, 4),
        "pyhf": "Workspace.model(batch_size=N*N).logpdf, numpy backend",
        "pyhf_wall_s": round(pw, 4),
        "pyhf_cpu_s": round(pc, 4),
        "ratio_wall": round(pw / w, 2),
        "ratio_cpu": round(pc / c, 2),
        # both relative to their own grid minimum (ours is relative to the global fit)
        "max_abs_diff": float(
            np.max(np.abs(ours.delta_twice_nll - ours.delta_twice_nll.min() - ref))
        ),
    }


def _pyhf_fixed_fits(
    model: Any, data: np.ndarray, points: np.ndarray, best: np.ndarray
) -> np.ndarray:
    i_s, i_b = (model.config.par_slice(p).start for p in ("s_s", "s_b"))
    fixed = list(model.config.suggested_fixed())
    fixed[i_s] = fixed[i_b] = True
    out = []
    with pyhf_state():
        for x, y in points:
            init = best.copy()
            init[i_s], init[i_b] = x, y
            _, val = pyhf.infer.mle.fit(
                data, model, init_pars=init.tolist(), fixed_params=fixed, return_fitted_val=True
            )
            out.append(float(val))
    return np.array(out)


def profiled(name: str, spec: Any, n: int, subset: int, repeats: int) -> dict[str, Any]:
    model, data = model_and_data(spec)
    xs, ys = grid(model, data, n)
    ours, w, c = timed(
        lambda: scan_2d(model, data, ("s_s", "s_b"), x_values=xs, y_values=ys), repeats
    )
    best = fit(model, data)
    rng = np.random.default_rng(1)
    pick = rng.choice(n * n, size=subset, replace=False)
    mesh = np.stack(np.meshgrid(xs, ys, indexing="ij"), -1).reshape(-1, 2)
    w0, c0 = time.perf_counter(), time.process_time()
    ref = _pyhf_fixed_fits(model, data, mesh[pick], best.bestfit)
    pw = (time.perf_counter() - w0) * (n * n) / subset
    pc = (time.process_time() - c0) * (n * n) / subset
    cm = compile_model(model)
    idx = [model.config.par_slice(p).start for p in ("s_s", "s_b")]
    ours_abs = profile(cm, data, idx, mesh[pick], start=best.bestfit).twice_nll
    diff = ours_abs - ref  # pyhf at its default tolerance: ours is lower or equal
    del ours
    return {
        "workspace": name,
        "parameters": int(model.config.npars),
        "grid": [n, n],
        "ours_wall_s": round(w, 3),
        "ours_cpu_s": round(c, 3),
        "pyhf": f"mle.fit with s_s, s_b fixed per point (minuit, warm start), {subset} points timed and scaled",
        "pyhf_wall_s": round(pw, 1),
        "pyhf_cpu_s": round(pc, 1),
        "ratio_wall": round(pw / w, 1),
        "ratio_cpu": round(pc / c, 1),
        "max_abs_diff": float(np.max(np.abs(diff))),
        "max_pyhf_minus_ours": float(np.max(-diff)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small grids, one repeat")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    reps = 1 if args.quick else max(3, args.repeats)
    load_before = os.getloadavg()
    out: dict[str, Any] = {}
    out["unprofiled"] = unprofiled(50 if args.quick else 200, reps)
    print("unprofiled:", json.dumps(out["unprofiled"]))
    out["profiled"] = profiled(
        "hzz4l_generated_mcstat_lumi.json",
        WORKSPACES / "hzz4l_generated_mcstat_lumi.json",
        50 if args.quick else 200,
        10 if args.quick else 60,
        reps,
    )
    print("profiled:", json.dumps(out["profiled"]))
    out["realistic"] = profiled(
        "synthetic.workspaces.realistic_workspace(seed=1)",
        realistic_workspace(seed=1),
        20 if args.quick else 100,
        2 if args.quick else 4,
        1,
    )
    print("realistic:", json.dumps(out["realistic"]))
    out["load_before"] = [round(x, 2) for x in load_before]
    out["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
