"""Benchmark: a 200×200 Δ(−2lnL) map of (s_s, s_b), vectorized vs pyhf fits per point.

Ours: :func:`higgs_pyhf.inference.scan.scan_2d` (global fit + one array
expression over the grid). pyhf: ``pyhf.infer.mle.fit`` with both parameters
fixed at every grid point (iminuit < 2.32), timed on a subset of points and
scaled to the full grid. The last line printed is a JSON object with
``ours_s``, ``pyhf_s`` and ``ratio``.

Usage: python scripts/benchmark_scan.py [WORKSPACE] [--subset N]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pyhf

from higgs_pyhf.inference.parameters import pyhf_state
from higgs_pyhf.inference.fit import fit
from higgs_pyhf.inference.scan import scan_2d
from higgs_pyhf.synthetic import report_like_histograms
from higgs_pyhf.workspace import build_workspace, model_and_data

DEFAULT = Path(__file__).resolve().parents[1] / "workspaces" / "hzz4l_generated.json"
N = 200


def report_like_workspace() -> dict:
    return build_workspace(*report_like_histograms(seed=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", nargs="?", default=None)
    parser.add_argument("--subset", type=int, default=200, help="grid points timed with pyhf fits")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="Hesse called with all parameters fixed")
    if args.workspace:
        source = args.workspace
        spec: dict | str = args.workspace
    elif DEFAULT.exists():
        source, spec = str(DEFAULT), str(DEFAULT)
    else:
        source, spec = "report-like (built in memory)", report_like_workspace()
    model, data = model_and_data(spec)
    best = fit(model, data)
    err = {p: best.error(p) for p in ("s_s", "s_b")}
    xs = np.linspace(
        max(0.0, best.value("s_s") - 4 * err["s_s"]), best.value("s_s") + 4 * err["s_s"], N
    )
    ys = np.linspace(
        max(0.0, best.value("s_b") - 4 * err["s_b"]), best.value("s_b") + 4 * err["s_b"], N
    )

    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        res = scan_2d(model, data, ("s_s", "s_b"), x_values=xs, y_values=ys)
        times.append(time.perf_counter() - t0)
    ours = min(times)

    rng = np.random.default_rng(0)
    pts = rng.integers(0, N, size=(args.subset, 2))
    i_s, i_b = model.config.par_slice("s_s").start, model.config.par_slice("s_b").start
    init = np.asarray(model.config.suggested_init(), dtype=float)
    fixed = [True] * model.config.npars
    with pyhf_state(pyhf.optimize.minuit_optimizer()):
        t_global = time.perf_counter()
        pyhf.infer.mle.fit(data, model)
        t_global = time.perf_counter() - t_global
        t0 = time.perf_counter()
        vals = []
        for a, b in pts:
            p = init.copy()
            p[i_s], p[i_b] = xs[a], ys[b]
            _, v = pyhf.infer.mle.fit(
                data, model, init_pars=p.tolist(), fixed_params=fixed, return_fitted_val=True
            )
            vals.append(float(v))
        per_point = (time.perf_counter() - t0) / len(pts)
    # differences between grid points do not depend on the reference minimum
    ours_d = np.array([res.delta_twice_nll[a, b] for a, b in pts])
    worst = float(np.max(np.abs((np.array(vals) - vals[0]) - (ours_d - ours_d[0]))))
    pyhf_s = t_global + per_point * N * N
    print(f"workspace: {source}")
    print(f"grid: {N}x{N} = {N * N} points")
    print(f"ours (vectorized scan_2d incl. global fit, best of 3): {ours:.4f} s")
    print(
        f"pyhf: {per_point * 1e3:.3f} ms per fixed-parameter mle.fit on {len(pts)} points -> {pyhf_s:.1f} s for the grid"
    )
    print(f"max |Δ ours − Δ pyhf| on the subset: {worst:.2e}")
    print(
        json.dumps(
            {"ours_s": round(ours, 5), "pyhf_s": round(pyhf_s, 3), "ratio": round(pyhf_s / ours, 1)}
        )
    )


if __name__ == "__main__":
    main()
