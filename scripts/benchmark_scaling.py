"""Benchmark: one warm fit with Hesse errors vs the number of parameters, ours vs pyhf vs RooFit.

Usage: ``python scripts/benchmark_scaling.py [--quick] [--repeats 3] [--figure PATH]``

Workspaces of growing size from :func:`higgs_pyhf.synthetic.scaling.scaling_workspace`
(10 → ~1000 parameters, 1 → 50 channels; normsys, histosys, staterror, lumi,
one POI). For each size and tool: one untimed warm-up fit, then the median
CPU (``time.process_time``, all threads) and wall seconds of ``--repeats``
fits from the same start:

- ours: :func:`higgs_pyhf.inference.fit.fit` (its own ``timing``);
- pyhf: ``pyhf.infer.mle.fit(..., return_uncertainties=True)``, numpy
  backend, minuit with tolerance ``MINUIT_TOLERANCE`` (only up to
  ``--pyhf-max-p`` parameters: it takes minutes beyond);
- RooFit (if ``import ROOT`` works): the HistFactory model built with ROOT's
  HistFactory API (``scripts/_roofit_model.py``), interpolation codes set to
  pyhf's (OverallSys 1, HistoSys 0; ROOT 6.40's defaults are 5 and 4),
  Minuit2 migrad + hesse on the ``cpu`` evaluation backend, tolerance 1e-3
  (RooFit's default 1 leaves the POI ~0.01σ from the minimum); model
  building and NLL creation are not timed.

Agreement: the difference of the fitted POI from ours in units of our
σ(POI). The last line is one JSON object with every size and the machine
load before and after. ``--quick`` (≤ 60 s) runs two small sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyhf

from higgs_pyhf.inference.fit import fit
from higgs_pyhf.inference.parameters import MINUIT_TOLERANCE, pyhf_state
from higgs_pyhf.synthetic.scaling import n_parameters, scaling_workspace

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: (channels, channel-own systematics) of each size; 2 shared normsys, 5 bins per channel.
FULL = [(1, 0), (2, 3), (5, 5), (10, 8), (20, 10), (35, 13), (50, 15)]
QUICK = [(1, 0), (3, 3)]
N_SHARED = 2


def _median(times: list[tuple[float, float]]) -> dict[str, float]:
    return {
        "cpu_s": statistics.median(t[0] for t in times),
        "wall_s": statistics.median(t[1] for t in times),
    }


def _timed(run: Callable[[], Any], repeats: int) -> tuple[dict[str, float], Any]:
    run()  # warm-up: compiled kernels, caches
    times, out = [], None
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        out = run()
        times.append((time.process_time() - c0, time.perf_counter() - w0))
    return _median(times), out


def _ours(model: Any, data: Any, repeats: int) -> tuple[dict[str, float], float, float]:
    fit(model, data)
    res = [fit(model, data) for _ in range(repeats)]
    times = [(r.timing["fit_cpu_s"], r.timing["fit_wall_s"]) for r in res if r.timing]
    last = res[-1]
    return _median(times), last.value("mu"), last.error("mu")


def _pyhf(model: Any, data: Any, repeats: int) -> tuple[dict[str, float], float]:
    poi = model.config.poi_index

    def run() -> Any:
        with pyhf_state(pyhf.optimize.minuit_optimizer(tolerance=MINUIT_TOLERANCE)):
            return pyhf.infer.mle.fit(np.asarray(data), model, return_uncertainties=True)

    t, out = _timed(run, repeats)
    return t, float(out[poi, 0])


def _roofit(spec: dict[str, Any], repeats: int) -> tuple[dict[str, float], float, dict[str, int]]:
    import _roofit_model

    _ws, mc, data, codes = _roofit_model.build(spec)
    nll = _roofit_model.make_nll(mc, data)
    params = nll.getParameters(data)
    start = params.snapshot()

    def run() -> Any:
        params.assign(start)
        return _roofit_model.fit(nll)

    t, (res, status) = _timed(run, repeats)
    if status != 0:
        print(f"  RooFit status {status}", file=sys.stderr)
    return t, float(res.floatParsFinal().find("mu").getVal()), codes


def _figure(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for tool, style in (("ours", "o-"), ("pyhf", "s--"), ("roofit", "^-.")):
        pts = [(r["parameters"], r[tool]["cpu_s"]) for r in rows if r.get(tool)]
        if pts:
            ax.loglog(
                *zip(*pts, strict=True),
                style,
                label={
                    "ours": "higgs_pyhf",
                    "pyhf": "pyhf + minuit",
                    "roofit": "RooFit (Minuit2, cpu)",
                }[tool],
            )
    p = np.array([r["parameters"] for r in rows], dtype=float)
    if rows and rows[0].get("ours"):
        t0 = rows[0]["ours"]["cpu_s"]
        ax.loglog(p, t0 * (p / p[0]) ** 2, ":", color="grey", label="∝ P² (from ours' first point)")
    ax.set_xlabel("parameters P")
    ax.set_ylabel("CPU seconds, one warm fit with Hesse")
    ax.set_title("Fit cost vs model size (generated workspaces)")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two small sizes (CI, < 60 s)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pyhf-max-p", type=int, default=150, help="largest P fitted with pyhf")
    ap.add_argument("--max-p", type=int, default=100000, help="largest P fitted at all")
    ap.add_argument("--no-root", action="store_true", help="skip RooFit")
    ap.add_argument("--figure", type=Path, default=None, help="log-log figure of time vs P")
    args = ap.parse_args()
    load_before = os.getloadavg()
    have_root = False
    if not args.no_root:
        try:
            import ROOT

            have_root = True
            root_version = str(ROOT.gROOT.GetVersion())
        except ImportError:
            print("no ROOT: RooFit skipped", file=sys.stderr)
    rows: list[dict[str, Any]] = []
    codes: dict[str, int] = {}
    for n_ch, n_local in QUICK if args.quick else FULL:
        p = n_parameters(n_ch, n_local=n_local, n_shared=N_SHARED)
        if p > args.max_p:
            continue
        spec = scaling_workspace(n_ch, n_local=n_local, n_shared=N_SHARED, seed=n_ch)
        ws = pyhf.Workspace(spec)
        model = ws.model()
        data = ws.data(model)
        row: dict[str, Any] = {"parameters": p, "channels": n_ch}
        row["ours"], mu, sd = _ours(model, data, args.repeats)
        row["mu"], row["sigma_mu"] = mu, sd
        if p <= args.pyhf_max_p:
            row["pyhf"], mu_p = _pyhf(model, data, 1 if p > 60 else args.repeats)
            row["pyhf_dmu_sigma"] = abs(mu_p - mu) / sd
            row["ratio_pyhf"] = row["pyhf"]["cpu_s"] / row["ours"]["cpu_s"]
        if have_root:
            row["roofit"], mu_r, codes = _roofit(spec, args.repeats)
            row["roofit_dmu_sigma"] = abs(mu_r - mu) / sd
            row["ratio_roofit"] = row["roofit"]["cpu_s"] / row["ours"]["cpu_s"]
        rows.append(row)
        cells = [f"P={p:5d} ch={n_ch:3d}", f"ours {row['ours']['cpu_s']:.4f}s"]
        for tool in ("pyhf", "roofit"):
            if tool in row:
                cells.append(
                    f"{tool} {row[tool]['cpu_s']:.4f}s ({row['ratio_' + tool]:.1f}x, dmu {row[tool + '_dmu_sigma']:.1e} sigma)"
                )
        print(" | ".join(cells), file=sys.stderr, flush=True)
    out = {
        "benchmark": "scaling: one warm fit with Hesse, CPU and wall seconds (medians)",
        "sizes": rows,
        "roofit": (
            {
                "root": root_version,
                "backend": "cpu",
                "minimizer": "Minuit2",
                "eps": 1e-3,
                "interp_codes_set": {"OverallSys": 1, "HistoSys": 0},
                "root_default_codes": codes,
            }
            if have_root
            else None
        ),
        "pyhf_minuit_tolerance": MINUIT_TOLERANCE,
        "load_before": list(load_before),
        "load_after": list(os.getloadavg()),
        "cpus": os.cpu_count(),
    }
    if args.figure is not None:
        _figure(rows, args.figure)
    print(json.dumps(out), flush=True)
    if have_root:
        os._exit(0)  # ROOT's teardown of HistFactory objects can crash the interpreter at exit


if __name__ == "__main__":
    main()
