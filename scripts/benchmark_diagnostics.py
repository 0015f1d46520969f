"""Benchmark of the diagnostics: impacts, Brazil scan + limit, toy-calibrated 2D region.

Usage: ``python scripts/benchmark_diagnostics.py [--quick] [--pyhf-parameters 3]``

- ``impacts``: :func:`higgs_pyhf.inference.impacts.impacts` on
  :func:`higgs_pyhf.synthetic.workspaces.realistic_workspace` (146 parameters,
  143 constrained: 572 shifted fits), timed with the best fit. The pyhf
  reference: brute-force per-parameter refits with ``pyhf.infer.mle.fit``
  (numpy + minuit, tolerance 1e-4 as our pyhf fallback) for the first
  ``--pyhf-parameters`` parameters of the ranking (4 fits each, plus the
  best fit); their mean time per fit × (4·143 + 1) is the extrapolated
  pyhf time, ``max_abs_diff`` the largest |Δ_ours − Δ_pyhf| of the POI shifts.
- ``brazil``: :func:`~higgs_pyhf.inference.limits.upper_limit`
  (bisection of the six limits) plus the 81-point CLs scan of the figure
  (:func:`~higgs_pyhf.inference.significance.cls_scan`) on the same model.
- ``toy_contour``: :func:`~higgs_pyhf.inference.toys.toy_contour` on the
  report's model ``workspaces/hzz4l_atlas.json``, 50×50 grid × 2000 toys per
  point on 2 worker processes (``--quick``: 10×10 × 500).

Times are wall (``time.perf_counter``) and CPU (this process, plus its
children for the pool: ``resource.getrusage``). The machine load
(``os.getloadavg()``) is recorded before and after: the machine is shared.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyhf

from higgs_pyhf.inference.fit import fit
from higgs_pyhf.inference.impacts import impacts
from higgs_pyhf.inference.limits import upper_limit
from higgs_pyhf.inference.parameters import labels as all_labels
from higgs_pyhf.inference.parameters import pyhf_state
from higgs_pyhf.inference.significance import cls_scan
from higgs_pyhf.inference.toys import toy_contour
from higgs_pyhf.synthetic.workspaces import realistic_workspace
from higgs_pyhf.workspace import model_and_data

ROOT = Path(__file__).resolve().parents[1]


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall and CPU seconds of one call, and its result."""
    t0, c0 = time.perf_counter(), _cpu()
    out = fn()
    return time.perf_counter() - t0, _cpu() - c0, out


def pyhf_poi(
    model: Any,
    data: np.ndarray,
    index: int | None = None,
    value: float = 0.0,
    optimizer: Any = None,
) -> float:
    """The POI of pyhf's own fit, parameter ``index`` (if given) held at ``value``.

    ``optimizer``: a pyhf optimizer; default numpy + minuit at tolerance 1e-4
    (:func:`~higgs_pyhf.inference.parameters.pyhf_state`). tests/test_impacts.py
    checks the impacts against this reference at a tighter tolerance.
    """
    init = np.asarray(model.config.suggested_init(), dtype=float)
    fixed = list(model.config.suggested_fixed())
    if index is not None:
        init[index] = value
        fixed[index] = True
    with pyhf_state(optimizer):
        best = pyhf.infer.mle.fit(
            data,
            model,
            init_pars=init.tolist(),
            fixed_params=fixed,
            par_bounds=model.config.suggested_bounds(),
        )
    return float(np.asarray(best)[model.config.poi_index])


def bench_impacts(n_pyhf: int) -> dict[str, Any]:
    model, data = model_and_data(realistic_workspace(), validate=False)
    impacts(model, data)  # warm-up (numba caches, imports)
    wall, cpu, res = timed(lambda: impacts(model, data, fit_result=fit(model, data)))
    out: dict[str, Any] = {
        "model": "realistic_workspace() (2 x 34 bins, 146 parameters)",
        "n_parameters": len(res.impacts),
        "n_fits": res.n_fits,
        "n_engine_calls": res.n_engine_calls,
        "wall_s": wall,
        "cpu_s": cpu,
        "goal_wall_s": 5.0,
    }
    if n_pyhf > 0:
        labels = [imp.parameter for imp in res.impacts[:n_pyhf]]
        names = all_labels(model)
        t0 = time.perf_counter()
        ref_best = pyhf_poi(model, data)
        n_fits, diffs = 1, []
        for imp in res.impacts[:n_pyhf]:
            i = names.index(imp.parameter)
            lo, hi = model.config.suggested_bounds()[i]
            for kind, sigma in (("prefit", imp.prefit_sigma), ("postfit", imp.postfit_sigma)):
                got = getattr(imp, kind)
                if got is None or sigma is None:  # a free normfactor has no pre-fit impact
                    continue
                for want, s in ((got.down, -sigma), (got.up, sigma)):
                    v = float(np.clip(imp.bestfit + s, lo, hi))
                    diffs.append(abs(pyhf_poi(model, data, i, v) - ref_best - want))
                    n_fits += 1
        per_fit = (time.perf_counter() - t0) / n_fits
        out["pyhf"] = {
            "setup": "numpy + minuit (tolerance 1e-4), pyhf.infer.mle.fit per shifted fit",
            "parameters": labels,
            "fits": n_fits,
            "s_per_fit": per_fit,
            "extrapolated_wall_s": per_fit * (res.n_fits + 1),
            "max_abs_diff": max(diffs),
            "speedup": per_fit * (res.n_fits + 1) / wall,
        }
    return out


def bench_brazil() -> dict[str, Any]:
    model, data = model_and_data(realistic_workspace(), validate=False)

    def run() -> Any:
        lim = upper_limit(model, data)
        top = min(1.3 * max(lim.expected[4], lim.observed), float(lim.scan[-1]))
        return lim, cls_scan(model, data, np.linspace(float(lim.scan[0]), top, 81))

    run()
    wall, cpu, (lim, _) = timed(run)
    return {
        "model": "realistic_workspace()",
        "observed": lim.observed,
        "expected": list(lim.expected),
        "scan_points": 81,
        "wall_s": wall,
        "cpu_s": cpu,
        "goal_wall_s": 3.0,
    }


def bench_contour(quick: bool) -> dict[str, Any]:
    model, data = model_and_data(ROOT / "workspaces" / "hzz4l_atlas.json")
    n, ntoys = (10, 500) if quick else (50, 2000)
    toy_contour(model, data, ("s_s", "s_b"), n_points=(3, 3), ntoys=100)  # warm-up
    wall, cpu, res = timed(
        lambda: toy_contour(model, data, ("s_s", "s_b"), n_points=(n, n), ntoys=ntoys, workers=2)
    )
    wilks68 = res.delta_twice_nll < res.wilks_levels[0]
    wilks95 = res.delta_twice_nll < res.wilks_levels[1]
    return {
        "model": "workspaces/hzz4l_atlas.json (2 normfactors, 34 bins)",
        "grid": [n, n],
        "ntoys_per_point": ntoys,
        "total_toys": n * n * ntoys,
        "workers": 2,
        "wall_s": wall,
        "cpu_s": cpu,
        "goal_wall_s": 60.0,
        "points_68": {"toys": int(res.accepted_68.sum()), "wilks": int(wilks68.sum())},
        "points_95": {"toys": int(res.accepted_95.sum()), "wilks": int(wilks95.sum())},
        "n_failed": int(res.n_failed.sum()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="Small toy grid.")
    ap.add_argument(
        "--pyhf-parameters", type=int, default=3, help="Parameters refitted with pyhf (0: none)."
    )
    args = ap.parse_args()
    load_before = os.getloadavg()
    out = {
        "impacts": bench_impacts(args.pyhf_parameters),
        "brazil": bench_brazil(),
        "toy_contour": bench_contour(args.quick),
        "cpu_count": os.cpu_count(),
        "load_before": list(load_before),
        "load_after": list(os.getloadavg()),
    }
    for key in ("impacts", "brazil", "toy_contour"):
        print(f"{key}: {out[key]['wall_s']:.2f} s wall (goal {out[key]['goal_wall_s']:g} s)")
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
