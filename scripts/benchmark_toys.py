"""Benchmark: batched engine toy fits vs per-toy pyhf fits and a compiled per-toy reference.

Usage: ``python scripts/benchmark_toys.py [--quick] [--repeats 3]``

Models: (a) ``simple``: the shipped two-normfactor workspace
``workspaces/hzz4l_generated.json``; (b) ``mcstat``: the shipped
``hzz4l_generated_mcstat_lumi.json`` (staterror + lumi); (c) ``realistic``:
:func:`higgs_pyhf.synthetic.workspaces.realistic_workspace` (2 × 34 bins, 146
parameters: lumi, normsys, histosys, staterror, shapesys).

For each model the same Poisson toys (main and auxiliary data, drawn by
:func:`higgs_pyhf.inference.engine.sample_toys`) are fitted by

- ours: :func:`higgs_pyhf.inference.engine.fit` on all toys at once;
- pyhf per toy (``pyhf.infer.mle.fit``) with numpy+minuit, numpy+scipy and,
  if jax is installed, jax+scipy (with gradients), each at pyhf's default
  optimizer settings, on the first few toys (pyhf is slow: seconds per fit on
  the realistic model); the fastest set-up is the comparison;
- ``simple`` only: a compiled per-toy Newton reference (numba, below).

Every timing is repeated (``--repeats``, ≥ 3; the realistic pyhf timings once,
recorded as ``pyhf_repeats``) and the median is reported, as CPU time
(``time.process_time``) and wall time. ``fits_per_s`` values are per 2 cores:
fits per CPU-second × 2. ``max_abs_diff`` is the largest |Δ(−2 ln L)| between
ours and the fastest pyhf set-up on the shared toys (pyhf at its default
tolerance; ours is lower or equal). The machine load (``os.getloadavg()``) is
recorded before and after. The last line printed is one JSON object.

End to end (``simple``): ``engine_sample_and_fit_1e6_*`` times the engine
calls alone (:func:`higgs_pyhf.inference.engine.sample_toys`, numpy's
Poisson sampler, then one :func:`~higgs_pyhf.inference.engine.fit`, one
process); ``study_1e6`` times what a user runs, the toy GoF study
:func:`higgs_pyhf.inference.toys.gof_toys` with 10⁶ toys (seeded blocks,
inversion Poisson sampler, fits, statistic) in this process and on 2
threads and 2 processes (median of ≥ 5 runs each, CPU including the pool's
worker processes, and the load before each configuration's runs);
``sample_and_fit_1e6_wall_s`` is the fastest of those, named by
``sample_and_fit_1e6_config``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pyhf

from higgs_pyhf.inference import engine
from higgs_pyhf.inference.toys import gof_toys, toy_model
from higgs_pyhf.synthetic.workspaces import realistic_workspace
from higgs_pyhf.workspace import model_and_data

ROOT = Path(__file__).resolve().parents[1]


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    """Median CPU and wall seconds of ``repeats`` calls, and the last result."""
    cpu, wall = [], []
    out = None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(cpu), statistics.median(wall), out


@numba.njit(cache=True)
def reference_newton(n, c, t, lo, hi, lgam):  # pragma: no cover - compiled
    """Per-toy Newton for ν = c + θ₀t₀ + θ₁t₁ (the compiled reference)."""
    m, nb = n.shape
    out = np.empty((m, 2))
    val = np.empty(m)
    for i in range(m):
        a0, a1 = 1.0, 1.0
        for _ in range(50):
            g0 = g1 = h00 = h01 = h11 = 0.0
            for b in range(nb):
                v = c[b] + a0 * t[0, b] + a1 * t[1, b]
                r = n[i, b] / v
                w = 2.0 - 2.0 * r
                u = 2.0 * r / v
                g0 += w * t[0, b]
                g1 += w * t[1, b]
                h00 += u * t[0, b] * t[0, b]
                h01 += u * t[0, b] * t[1, b]
                h11 += u * t[1, b] * t[1, b]
            # active set: a parameter at a bound whose gradient points outwards is held
            f0 = not ((a0 <= lo[0] and g0 > 0) or (a0 >= hi[0] and g0 < 0))
            f1 = not ((a1 <= lo[1] and g1 > 0) or (a1 >= hi[1] and g1 < 0))
            if f0 and f1:
                det = h00 * h11 - h01 * h01
                d0 = -(h11 * g0 - h01 * g1) / det
                d1 = -(h00 * g1 - h01 * g0) / det
            else:
                d0 = -g0 / h00 if f0 else 0.0
                d1 = -g1 / h11 if f1 else 0.0
            a0 = min(max(a0 + d0, lo[0]), hi[0])
            a1 = min(max(a1 + d1, lo[1]), hi[1])
            if -(g0 * d0 + g1 * d1) < 1e-10:
                break
        s = 0.0
        for b in range(nb):
            v = c[b] + a0 * t[0, b] + a1 * t[1, b]
            s += v - n[i, b] * math.log(v) + lgam[int(n[i, b])]
        out[i, 0], out[i, 1] = a0, a1
        val[i] = 2.0 * s
    return out, val


def pyhf_setups() -> dict[str, tuple[str, Any]]:
    setups: dict[str, tuple[str, Any]] = {
        "numpy+minuit": ("numpy", pyhf.optimize.minuit_optimizer(verbose=0)),
        "numpy+scipy": ("numpy", pyhf.optimize.scipy_optimizer()),
    }
    try:
        import jax  # noqa: F401

        setups["jax+scipy"] = ("jax", pyhf.optimize.scipy_optimizer())
    except ImportError:
        print("jax is not installed: jax+scipy skipped")
    return setups


def bench_pyhf(spec: dict[str, Any], toys: np.ndarray, repeats: int) -> dict[str, Any]:
    """Per-toy pyhf fits of ``toys`` with every set-up; returns rates and fitted values."""
    old = pyhf.get_backend()
    out: dict[str, Any] = {}
    try:
        for name, (backend, optimizer) in pyhf_setups().items():
            pyhf.set_backend(backend, optimizer)
            model = pyhf.Workspace(spec).model()
            tl = pyhf.tensorlib
            pyhf.infer.mle.fit(tl.astensor(toys[0]), model)  # warm-up (jit, caches)

            def run(model: Any = model, tl: Any = tl) -> np.ndarray:
                vals = []
                for t in toys:
                    try:
                        _, v = pyhf.infer.mle.fit(tl.astensor(t), model, return_fitted_val=True)
                        vals.append(float(v))
                    except pyhf.exceptions.FailedMinimization:
                        vals.append(math.nan)
                return np.array(vals)

            cpu, wall, vals = timed(run, repeats)
            out[name] = {
                "fits_per_s": 2.0 * len(toys) / cpu,
                "wall_fits_per_s": len(toys) / wall,
                "twice_nll": vals,
            }
            print(f"  pyhf {name:13s}: {len(toys)} fits, {cpu:.3f} s CPU, {wall:.3f} s wall")
    finally:
        pyhf.set_backend(*old)
    return out


def bench_model(
    label: str, spec: dict[str, Any], n_ours: int, n_pyhf: int, repeats: int, pyhf_repeats: int
) -> dict[str, Any]:
    print(f"[{label}]")
    old = pyhf.get_backend()
    pyhf.set_backend("numpy")
    try:
        model = pyhf.Workspace(spec).model()
    finally:
        pyhf.set_backend(*old)
    cm = engine.compile_model(model)
    toys = engine.sample_toys(cm, cm.init, n_ours, rng=np.random.default_rng(20261201))
    t0 = time.perf_counter()
    engine.fit(cm, toys[:8])
    first_call = time.perf_counter() - t0
    cpu, wall, res = timed(lambda: engine.fit(cm, toys), repeats)
    ours = {
        "n_toys": n_ours,
        "fits_per_s": 2.0 * n_ours / cpu,
        "wall_fits_per_s": n_ours / wall,
        "cpu_s": cpu,
        "wall_s": wall,
        "converged": float(res.converged.mean()),
        "fallback": int(res.fallback.sum()),
        "mean_iterations": float(res.n_iter.mean()),
        "first_call_s": first_call,
    }
    print(
        f"  ours: {n_ours} fits, {cpu:.3f} s CPU, {wall:.3f} s wall "
        f"({ours['fits_per_s']:,.0f} fits/s on 2 cores), converged {ours['converged']:.6f}"
    )
    ref = bench_pyhf(spec, toys[:n_pyhf], pyhf_repeats)
    best = max(ref, key=lambda k: ref[k]["fits_per_s"])
    diff = res.twice_nll[:n_pyhf] - ref[best]["twice_nll"]
    ok = np.isfinite(diff)
    out: dict[str, Any] = {
        **ours,
        "pyhf_setup": best,
        "pyhf_fits_per_s": ref[best]["fits_per_s"],
        "pyhf_wall_fits_per_s": ref[best]["wall_fits_per_s"],
        "pyhf_toys": n_pyhf,
        "pyhf_repeats": pyhf_repeats,
        "pyhf_all_fits_per_s": {k: v["fits_per_s"] for k, v in ref.items()},
        "ratio": ours["fits_per_s"] / ref[best]["fits_per_s"],
        "wall_ratio": ours["wall_fits_per_s"] / ref[best]["wall_fits_per_s"],
        "max_abs_diff": float(np.max(np.abs(diff[ok]))) if ok.any() else math.nan,
        "ours_minus_pyhf_max": float(np.max(diff[ok])) if ok.any() else math.nan,
        "pyhf_failed": int((~ok).sum()),
    }
    print(
        f"  fastest pyhf: {best} ({out['pyhf_fits_per_s']:.2f} fits/s on 2 cores); "
        f"ratio {out['ratio']:,.0f}; max |Δ(−2lnL)| {out['max_abs_diff']:.2e}"
    )
    return out | {"_cm": cm, "_toys": toys, "_res": res}


def bench_compiled(entry: dict[str, Any], repeats: int) -> dict[str, Any]:
    cm, toys, res = entry["_cm"], entry["_toys"], entry["_res"]
    free = ~cm.fixed
    idx = np.flatnonzero(free)
    x = np.broadcast_to(cm.init, (3, cm.npars)).copy()
    x[:, idx] = 0.0
    x[1, idx[0]] = x[2, idx[1]] = 1.0
    nu = engine.expected_main(cm, x)
    c, t = nu[0], nu[1:] - nu[0]
    n = np.ascontiguousarray(toys[:, : cm.nmain])
    lgam = np.array([math.lgamma(j + 1.0) for j in range(int(n.max()) + 2)])
    lo, hi = cm.bounds[idx].T.copy()
    reference_newton(n[:8], c, t, lo, hi, lgam)  # compile
    cpu, wall, (theta, _val) = timed(lambda: reference_newton(n, c, t, lo, hi, lgam), repeats)
    rate = 2.0 * n.shape[0] / cpu
    agree = float(np.max(np.abs(theta - res.pars[:, idx])))
    print(
        f"  compiled per-toy reference: {cpu:.3f} s CPU ({rate:,.0f} fits/s on 2 cores), max |Δθ| {agree:.1e}"
    )
    return {
        "compiled_fits_per_s": rate,
        "compiled_wall_fits_per_s": n.shape[0] / wall,
        "ours_over_compiled": entry["fits_per_s"] / rate,
        "compiled_max_abs_dpar": agree,
    }


def end_to_end(cm: Any, n_toys: int, repeats: int) -> tuple[float, float]:
    """Median CPU and wall seconds to sample and fit ``n_toys`` toys (engine calls, one process)."""

    def run() -> None:
        toys = engine.sample_toys(cm, cm.init, n_toys, rng=np.random.default_rng(7))
        engine.fit(cm, toys)

    cpu, wall, _ = timed(run, repeats)
    return cpu, wall


#: The study configurations timed end to end: (label, gof_toys keywords).
STUDY_CONFIGS = (
    ("workers=1", {"workers": 1}),
    ("workers=2 pool=threads", {"workers": 2, "pool": "threads"}),
    ("workers=2 pool=processes", {"workers": 2, "pool": "processes"}),
)


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children (the pool's workers)."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def study_end_to_end(spec: dict[str, Any], n_toys: int, repeats: int) -> dict[str, Any]:
    """What a user runs: the toy GoF study (likelihood, refit) of ``n_toys`` toys.

    :func:`higgs_pyhf.inference.toys.gof_toys` samples the toys (seeded
    blocks), fits every toy and computes its statistic; each configuration of
    :data:`STUDY_CONFIGS` is timed ``repeats`` times after a warm-up (median
    CPU, children included, and wall seconds; the load before its runs).
    """
    model, data = model_and_data(spec, validate=False)
    tm = toy_model(model)
    out: dict[str, Any] = {}
    for label, kw in STUDY_CONFIGS:
        gof_toys(tm, data, ntoys=min(n_toys, 20_000), seed=1, **kw)  # warm-up: compile, caches
        load = os.getloadavg()
        cpu, wall = [], []
        p_value = math.nan
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), _cpu_seconds()
            p_value = gof_toys(tm, data, ntoys=n_toys, seed=1, **kw).p_value
            wall.append(time.perf_counter() - t0)
            cpu.append(_cpu_seconds() - c0)
        out[label] = {
            "wall_s": statistics.median(wall),
            "cpu_s": statistics.median(cpu),
            "load_before": list(load),
            "p_value": p_value,
        }
        print(
            f"  gof_toys {n_toys} toys, {label}: {out[label]['wall_s']:.3f} s wall, "
            f"{out[label]['cpu_s']:.3f} s CPU (load {load[0]:.2f})"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="few toys, for a smoke run")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    reps = max(args.repeats, 1 if args.quick else 3)
    load_before = os.getloadavg()
    q = args.quick
    specs = {
        "simple": json.loads((ROOT / "workspaces" / "hzz4l_generated.json").read_text()),
        "mcstat": json.loads(
            (ROOT / "workspaces" / "hzz4l_generated_mcstat_lumi.json").read_text()
        ),
        "realistic": realistic_workspace(seed=0),
    }
    sizes = {  # (ours, pyhf toys, pyhf repeats)
        "simple": (100_000 if q else 1_000_000, 10 if q else 60, reps),
        "mcstat": (2_000 if q else 20_000, 3 if q else 10, reps),
        "realistic": (300 if q else 4_000, 1 if q else 2, 1),
    }
    results: dict[str, dict[str, Any]] = {}
    for label, spec in specs.items():
        n_ours, n_pyhf, pyhf_reps = sizes[label]
        results[label] = bench_model(label, spec, n_ours, n_pyhf, reps, pyhf_reps)
    results["simple"] |= bench_compiled(results["simple"], reps)
    n_e2e = 100_000 if q else 1_000_000
    scale = 1_000_000 / n_e2e
    cpu, wall = end_to_end(results["simple"]["_cm"], n_e2e, reps)
    results["simple"]["engine_sample_and_fit_1e6_cpu_s"] = cpu * scale
    results["simple"]["engine_sample_and_fit_1e6_wall_s"] = wall * scale
    print("[simple: the toy GoF study, as a user runs it]")
    study = study_end_to_end(specs["simple"], n_e2e, max(reps, 5))
    best = min(study, key=lambda k: study[k]["wall_s"])
    results["simple"]["study_1e6"] = {
        k: v | {"wall_s": v["wall_s"] * scale, "cpu_s": v["cpu_s"] * scale}
        for k, v in study.items()
    }
    results["simple"]["sample_and_fit_1e6_wall_s"] = study[best]["wall_s"] * scale
    results["simple"]["sample_and_fit_1e6_cpu_s"] = study[best]["cpu_s"] * scale
    results["simple"]["sample_and_fit_1e6_config"] = f"gof_toys {best}"
    cpu, wall = end_to_end(results["mcstat"]["_cm"], 10_000, reps)
    results["mcstat"]["sample_and_fit_1e4_cpu_s"] = cpu
    results["mcstat"]["sample_and_fit_1e4_wall_s"] = wall
    for r in results.values():
        for k in ("_cm", "_toys", "_res"):
            r.pop(k)
    load_after = os.getloadavg()
    summary = {
        **results,
        "load_before": list(load_before),
        "load_after": list(load_after),
        "cpu_count": os.cpu_count(),
        "quick": q,
        "numba": numba.__version__,
        "numpy": np.__version__,
        "pyhf": pyhf.__version__,
    }
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
