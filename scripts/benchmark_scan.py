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

RooFit (if ``import ROOT`` works; ``--no-root`` skips it) beside pyhf, on
the same grid: the HistFactory model of the same workspace
(``scripts/_roofit_model.py``: HistFactory API, pyhf's interpolation codes,
one NLL on the ``cpu`` evaluation backend, created once and not timed).
Unprofiled: ``nll.getVal()`` at every grid point (the two normfactors set).
Profiled: at each point s_s and s_b set constant and the others fitted with
Minuit2 Migrad (RooFit's default strategy 1 and tolerance), warm-started from
RooFit's global best fit — what ``RooProfileLL`` does per point — timed on a
subset of points and scaled to the grid. Agreement: the largest
|Δ(−2lnL)| between ours and RooFit at the same points, each relative to its
own global minimum. ``strongest`` names the faster of pyhf and RooFit and
``ratio_strongest_cpu`` / ``_wall`` is its time over ours.

The last line is one JSON object with the three cases and the machine load.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
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
sys.path.insert(0, str(Path(__file__).resolve().parent))


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


class RooFitNll:
    """The RooFit NLL of a spec and its global best fit (see the module docstring)."""

    def __init__(self, spec: Any) -> None:
        import _roofit_model

        _ws, mc, data, _codes = _roofit_model.build(spec)
        self.nll = _roofit_model.make_nll(mc, data)
        self.params = self.nll.getParameters(data)
        self.start = self.params.snapshot()
        self.pars = [self.params.find(p) for p in ("s_s", "s_b")]

    def global_fit(self) -> float:
        """Migrad + Hesse from the nominal parameters; −2lnL at the minimum."""
        import _roofit_model

        self.params.assign(self.start)
        _roofit_model.fit(self.nll)
        self.best = self.params.snapshot()
        return 2.0 * float(self.nll.getVal())

    def values(self, points: np.ndarray) -> np.ndarray:
        """−2lnL at ``points`` (s_s, s_b) with every other parameter at its start value."""
        self.params.assign(self.start)
        out = np.empty(len(points))
        for i, (x, y) in enumerate(points):
            self.pars[0].setVal(float(x))
            self.pars[1].setVal(float(y))
            out[i] = 2.0 * self.nll.getVal()
        return out

    def profiled(self, points: np.ndarray) -> np.ndarray:
        """−2lnL at ``points`` (s_s, s_b) with the others fitted (Minuit2, warm start)."""
        import ROOT as R  # "ROOT" here names the package, not a folder

        out = np.full(len(points), np.nan)
        try:
            for i, (x, y) in enumerate(points):
                self.params.assign(self.best)  # also copies the snapshot's constant flags
                for p, v in zip(self.pars, (x, y), strict=True):
                    p.setVal(float(v))
                    p.setConstant(True)
                minim = R.RooMinimizer(self.nll)
                minim.setPrintLevel(-1)
                minim.setPrintEvalErrors(-1)
                if int(minim.minimize("Minuit2", "Migrad")) == 0:
                    out[i] = 2.0 * self.nll.getVal()
        finally:
            for p in self.pars:
                p.setConstant(False)
        return out


def _with_strongest(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` plus the faster of pyhf and RooFit (CPU) and its time over ours."""
    tools = [t for t in ("pyhf", "roofit") if f"{t}_cpu_s" in row]
    best = min(tools, key=lambda t: row[f"{t}_cpu_s"])
    return row | {
        "strongest": best,
        "ratio_strongest_cpu": round(row[f"{best}_cpu_s"] / row["ours_cpu_s"], 2),
        "ratio_strongest_wall": round(row[f"{best}_wall_s"] / row["ours_wall_s"], 2),
    }


def unprofiled(n: int, repeats: int, use_root: bool) -> dict[str, Any]:
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
    roofit: dict[str, Any] = {}
    if use_root:
        rf = RooFitNll(spec)
        rvals, rw, rc = timed(lambda: rf.values(mesh), repeats)
        rvals = (rvals - rvals.min()).reshape(n, n)
        roofit = {
            "roofit": "nll.getVal() per point (cpu backend), NLL built once",
            "roofit_wall_s": round(rw, 4),
            "roofit_cpu_s": round(rc, 4),
            "roofit_max_abs_diff": float(
                np.max(np.abs(ours.delta_twice_nll - ours.delta_twice_nll.min() - rvals))
            ),
        }
    row = {
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
        **roofit,
    }
    return _with_strongest(row)


def _pyhf_fixed_fits(
    model: Any, data: np.ndarray, points: np.ndarray, best: np.ndarray
) -> np.ndarray:
    i_s, i_b = (model.config.par_slice(p).start for p in ("s_s", "s_b"))
    fixed = list(model.config.suggested_fixed())
    fixed[i_s] = fixed[i_b] = True
    out = []
    # pyhf logs a failed minimization with its whole result (hundreds of lines); it is counted here
    logging.getLogger("pyhf.optimize.mixins").setLevel(logging.CRITICAL)
    with pyhf_state():
        for x, y in points:
            init = best.copy()
            init[i_s], init[i_b] = x, y
            try:
                _, val = pyhf.infer.mle.fit(
                    data, model, init_pars=init.tolist(), fixed_params=fixed, return_fitted_val=True
                )
            except pyhf.exceptions.FailedMinimization:
                val = np.nan  # counted in pyhf_failed; its time still counts
            out.append(float(val))
    return np.array(out)


def profiled(
    name: str, spec: Any, n: int, subsets: tuple[int, int], repeats: int, use_root: bool
) -> dict[str, Any]:
    subset, roofit_subset = subsets
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
    roofit: dict[str, Any] = {}
    if use_root:
        rf = RooFitNll(load_workspace(spec) if isinstance(spec, Path) else spec)
        roofit_min = rf.global_fit()
        r_pick = rng.choice(n * n, size=roofit_subset, replace=False)
        w0, c0 = time.perf_counter(), time.process_time()
        r_vals = rf.profiled(mesh[r_pick])
        rw = (time.perf_counter() - w0) * (n * n) / roofit_subset
        rc = (time.process_time() - c0) * (n * n) / roofit_subset
        r_delta = r_vals - roofit_min
        ours_delta = ours.delta_twice_nll.reshape(-1)[r_pick]
        ok = np.isfinite(r_delta)
        roofit = {
            "roofit": f"Minuit2 Migrad with s_s, s_b constant per point (warm start), {roofit_subset} points timed and scaled",
            "roofit_wall_s": round(rw, 2),
            "roofit_cpu_s": round(rc, 2),
            "roofit_failed": int((~ok).sum()),
            "roofit_max_abs_diff": float(np.max(np.abs(ours_delta[ok] - r_delta[ok]))),
            "roofit_max_minus_ours": float(np.max(r_delta[ok] - ours_delta[ok])),
        }
    del ours
    row = {
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
        "max_abs_diff": float(np.nanmax(np.abs(diff))),
        "max_pyhf_minus_ours": float(np.nanmax(-diff)),
        "pyhf_failed": int(np.isnan(diff).sum()),
        **roofit,
    }
    return _with_strongest(row)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small grids, one repeat")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-root", action="store_true", help="skip RooFit")
    args = ap.parse_args()
    reps = 1 if args.quick else max(3, args.repeats)
    load_before = os.getloadavg()
    use_root, root_version = False, None
    if not args.no_root:
        try:
            import ROOT as R  # "ROOT" here names the package, not a folder

            use_root, root_version = True, str(R.gROOT.GetVersion())
        except ImportError:
            print("ROOT is not installed: the RooFit columns are skipped")
    out: dict[str, Any] = {}
    out["unprofiled"] = unprofiled(50 if args.quick else 200, reps, use_root)
    print("unprofiled:", json.dumps(out["unprofiled"]))
    out["profiled"] = profiled(
        "hzz4l_generated_mcstat_lumi.json",
        WORKSPACES / "hzz4l_generated_mcstat_lumi.json",
        50 if args.quick else 200,
        (10, 20) if args.quick else (60, 400),
        reps,
        use_root,
    )
    print("profiled:", json.dumps(out["profiled"]))
    out["realistic"] = profiled(
        "synthetic.workspaces.realistic_workspace(seed=1)",
        realistic_workspace(seed=1),
        20 if args.quick else 100,
        (2, 4) if args.quick else (4, 100),
        1,
        use_root,
    )
    print("realistic:", json.dumps(out["realistic"]))
    out["load_before"] = [round(x, 2) for x in load_before]
    out["load_after"] = [round(x, 2) for x in os.getloadavg()]
    out["root"] = root_version
    print(json.dumps(out), flush=True)
    if use_root:
        os._exit(0)  # ROOT's teardown of HistFactory objects can crash the interpreter at exit


if __name__ == "__main__":
    main()
