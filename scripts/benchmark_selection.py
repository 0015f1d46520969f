#!/usr/bin/env python
"""Throughput of the histogram stage vs reading the same branches with uproot alone.

Generates open-data-shaped input (higgs_pyhf.synthetic, ~10^6 events at the
default scale; cached in a temporary directory between runs), then measures,
in the same run, with a warm file cache and the best of a few repeats:

* ``io_only``: ``uproot.iterate`` over every file of every sample, reading
  the branches the pipeline reads (``MC_BRANCHES`` / ``DATA_BRANCHES``), same
  step size, nothing else;
* ``full``: ``higgs_pyhf.build.histograms.build_histograms`` in this process: plan
  the chunks (open and check every file), read, select (intended selection),
  compute m4l and weights, fill and merge the histograms and cutflows.

The last line printed is a JSON object with ``events_per_s`` (full),
``io_only_events_per_s`` and ``ratio`` = io-only rate / full rate (goal <= 1.3),
from the best process CPU time of each (both run in this one thread; CPU
time is robust when other jobs share the machine), and the same three from
the best wall-clock time (``*_wall``).

Usage: python scripts/benchmark_selection.py [--scale 10.2] [--repeats 3] [--step-size 250000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from math import inf
from pathlib import Path

import uproot

from higgs_pyhf.build.config import default_config
from higgs_pyhf.build.histograms import build_histograms
from higgs_pyhf.build.ntuples import DEFAULT_STEP_SIZE, branches_for, sample_paths
from higgs_pyhf.synthetic import DEFAULT_SEED, is_generated, make_inputs


def _inputs(scale: float, seed: int, cache: Path | None) -> Path:
    directory = (
        cache or Path(tempfile.gettempdir()) / f"higgs_pyhf_benchmark_seed{seed}_scale{scale:g}"
    )
    marker = is_generated(directory) if directory.is_dir() else None
    if marker is None or marker.get("seed") != seed or marker.get("scale") != scale:
        print(f"generating input (scale {scale:g}) in {directory} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        make_inputs(directory, seed=seed, scale=scale)
        print(f"  done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return directory


def _io_only(config, directory: Path, step_size) -> int:
    n = 0
    for sample in config.samples:
        branches = list(branches_for(sample))
        for path in sample_paths(sample, directory):
            for batch in uproot.iterate(
                {str(path): config.tree}, branches, step_size=step_size, library="ak"
            ):
                n += len(batch)
    return n


def _full(config, directory: Path, step_size) -> int:
    result = build_histograms(config, directory, step_size=step_size)
    return sum(cf.events[0] for cf in result.cutflows.values())


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale", type=float, default=10.2, help="generator scale (10.2: ~1e6 events)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed repeats of each (best is kept)"
    )
    parser.add_argument(
        "--step-size", type=int, default=DEFAULT_STEP_SIZE, help="entries per chunk"
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="where to keep the generated input"
    )
    args = parser.parse_args(argv)

    config = default_config()
    directory = _inputs(args.scale, args.seed, args.cache_dir)

    # warm-up (file cache, imports, first-call overheads), then interleaved timed repeats
    n_io = _io_only(config, directory, args.step_size)
    n_full = _full(config, directory, args.step_size)
    if n_io != n_full:
        msg = f"event counts differ: io-only {n_io}, full {n_full}"
        raise RuntimeError(msg)
    best = {"io_wall": inf, "io_cpu": inf, "full_wall": inf, "full_cpu": inf}
    for _ in range(args.repeats):
        for name, func in (("io", _io_only), ("full", _full)):
            w0, c0 = time.perf_counter(), time.process_time()
            func(config, directory, args.step_size)
            best[f"{name}_wall"] = min(best[f"{name}_wall"], time.perf_counter() - w0)
            best[f"{name}_cpu"] = min(best[f"{name}_cpu"], time.process_time() - c0)

    # rates from the process CPU time (robust on a shared machine; both run in one thread)
    result = {
        "events": n_full,
        "events_per_s": n_full / best["full_cpu"],
        "io_only_events_per_s": n_io / best["io_cpu"],
        "ratio": best["full_cpu"] / best["io_cpu"],
        "events_per_s_wall": n_full / best["full_wall"],
        "io_only_events_per_s_wall": n_io / best["io_wall"],
        "ratio_wall": best["full_wall"] / best["io_wall"],
        "repeats": args.repeats,
        "step_size": args.step_size,
        "scale": args.scale,
    }
    print(
        f"{n_full} events, best of {args.repeats}: full {best['full_cpu']:.3f} s CPU "
        f"({best['full_wall']:.3f} s wall), uproot only {best['io_cpu']:.3f} s CPU "
        f"({best['io_wall']:.3f} s wall); ratio {result['ratio']:.3f} CPU, "
        f"{result['ratio_wall']:.3f} wall (goal <= 1.3)"
    )
    print(json.dumps(result, sort_keys=True))
    return result


if __name__ == "__main__":
    main()
