"""Benchmark: batched two-parameter toy fits vs pyhf ``mle.fit`` per toy.

Usage: ``python scripts/benchmark_toys.py [WORKSPACE] [--pyhf-toys 150] [--workers 2]``

Prints, in one run, the fit rate of the batched Newton fits and of pyhf's
``mle.fit`` (minuit, numpy backend) on the same Poisson toys, their ratio, and
the wall time of 10⁶ full two-parameter toy fits (sampling included) through
the public API (:func:`higgs_pyhf.inference.toys.gof_toys` in ``refit`` mode).
The last line is a JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np
import pyhf
from scipy import stats

from higgs_pyhf.inference import toys as T
from higgs_pyhf.workspace import build_workspace, model_and_data


def report_like():
    edges = np.linspace(80, 250, 35)
    x = 0.5 * (edges[1:] + edges[:-1])
    b = 25 * np.exp(-0.5 * ((x - 91) / 3.5) ** 2) + 2.5 + 3.5 / (1 + np.exp(-(x - 185) / 4))
    s = 8 * np.diff(stats.norm.cdf(edges, 125, 2))
    d = np.random.default_rng(7).poisson(1.4 * s + 1.3 * b)
    return build_workspace(s, b, d)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workspace", nargs="?", default=None)
    ap.add_argument("--pyhf-toys", type=int, default=150)
    ap.add_argument("--batched-toys", type=int, default=200_000)
    ap.add_argument("--million", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    model, data = model_and_data(args.workspace if args.workspace else report_like())
    pars = model.config.suggested_init()
    toys = T.sample_toys(model, pars, ntoys=args.batched_toys, seed=1)

    T.fit_toys(model, toys[:2000])  # warm-up (first-call allocations)
    t_batched = c_batched = float("inf")
    for _ in range(3):  # best of 3, as for any timing on a shared machine
        t0, c0 = time.perf_counter(), time.process_time()
        fits = T.fit_toys(model, toys)
        t_batched = min(t_batched, time.perf_counter() - t0)
        c_batched = min(c_batched, time.process_time() - c0)
    batched_rate = args.batched_toys / t_batched
    print(
        f"batched: {args.batched_toys} fits in {t_batched:.3f} s wall ({c_batched:.3f} s CPU) "
        f"-> {batched_rate:,.0f} fits/s ({args.batched_toys / c_batched:,.0f} per CPU-second)"
    )

    old = pyhf.tensorlib, pyhf.optimizer
    pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(verbose=0))
    try:
        pyhf.infer.mle.fit(toys[0], model, return_fitted_val=True)  # warm-up
        t_pyhf = c_pyhf = float("inf")
        for _ in range(2):  # best of 2
            t0, c0 = time.perf_counter(), time.process_time()
            ref = [
                pyhf.infer.mle.fit(toys[i], model, return_fitted_val=True)
                for i in range(args.pyhf_toys)
            ]
            t_pyhf = min(t_pyhf, time.perf_counter() - t0)
            c_pyhf = min(c_pyhf, time.process_time() - c0)
    finally:
        pyhf.set_backend(*old)
    pyhf_rate = args.pyhf_toys / t_pyhf
    print(
        f"pyhf mle.fit (minuit): {args.pyhf_toys} fits in {t_pyhf:.3f} s wall ({c_pyhf:.3f} s CPU) "
        f"-> {pyhf_rate:,.1f} fits/s ({args.pyhf_toys / c_pyhf:,.1f} per CPU-second)"
    )
    idx = [model.config.par_slice(n).start for n in fits.names]
    diff = max(
        float(np.max(np.abs(np.asarray(r[0])[idx] - b)))
        for r, b in zip(ref, fits.bestfit, strict=False)
    )
    print(f"max |best fit (pyhf) - best fit (batched)| over the pyhf toys: {diff:.1e}")
    ratio = batched_rate / pyhf_rate
    cpu_ratio = (args.batched_toys / c_batched) / (args.pyhf_toys / c_pyhf)
    print(f"ratio: {ratio:,.0f}x wall, {cpu_ratio:,.0f}x per CPU-second")

    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0, c0 = time.perf_counter(), time.process_time()
    g = T.gof_toys(
        model,
        data,
        ntoys=args.million,
        seed=2,
        statistic="likelihood",
        mode="refit",
        workers=args.workers,
    )
    t_million, c_million = time.perf_counter() - t0, time.process_time() - c0
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    c_million += (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
    print(
        f"{args.million:,} full toy fits (sampling + 2-parameter fit), workers={args.workers}: "
        f"{t_million:.2f} s wall, {c_million:.2f} CPU-seconds in all processes "
        f"(= {c_million / 2:.2f} s on 2 idle cores; {g.n_failed} failed)"
    )
    print(
        json.dumps(
            {
                "batched_fits_per_s": batched_rate,
                "pyhf_fits_per_s": pyhf_rate,
                "ratio": ratio,
                "seconds_for_1e6": t_million * 1e6 / args.million,
                "cpu_seconds_for_1e6": c_million * 1e6 / args.million,
                "workers_for_1e6": args.workers,
                "cpu_count": os.cpu_count(),
                "cpu_ratio": cpu_ratio,
                "load_average_1min": os.getloadavg()[0],
            },
            sort_keys=True,
        )
    )


if __name__ == "__main__":
    main()
