"""Benchmark ``cls``, ``fit``, start-up and ``grid`` against pyhf, in the same run.

Prints one JSON line per benchmark with medians of repeated cold processes
(CPU = user + system of the child processes, and wall), the ratios ours/pyhf,
and the load average before and after (the machine is shared: read the wall
times with the load). The published sbottom likelihoods are read from the
tarball shipped in ``tests/data`` (extracted to a temporary folder).

- ``startup``: ``--help`` and ``--version`` (ours) against ``pyhf --help``;
- ``cls_cold``: ``cls BkgOnly.json -p patch.json`` (one sbottom point) against ``pyhf cls``;
- ``fit_cold``: ``fit workspaces/hzz4l_atlas.json`` against ``pyhf fit``;
- ``grid``: ``grid`` over every patch of a region (``--workers``) against
  ``pyhf.infer.hypotest`` on ``--pyhf-points`` of them (pyhf's default
  optimizer, timed in this process and scaled to the whole grid), and the
  largest relative difference of those points from pyhf run with a converged
  optimizer (Minuit, tolerance 1e-7, strategy 2).

Usage: ``python scripts/benchmark_published.py [--repeats 3] [--region A] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARBALL = ROOT / "tests" / "data" / "atlas_susy_2018_31_sbottom_likelihoods.tar.gz"
HZZ = ROOT / "workspaces" / "hzz4l_atlas.json"
OURS = [sys.executable, "-m", "higgs_pyhf"]
PYHF = [str(Path(sys.executable).with_name("pyhf"))]


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run(cmd: list[str]) -> tuple[float, float]:
    """CPU (user + sys of the child) and wall seconds of one cold process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def medians(cmd: list[str], repeats: int) -> dict[str, float]:
    runs = [run(cmd) for _ in range(repeats)]
    return {
        "cpu_s": round(statistics.median(r[0] for r in runs), 3),
        "wall_s": round(statistics.median(r[1] for r in runs), 3),
    }


def compare(name: str, ours: list[str], pyhf: list[str] | None, repeats: int) -> dict:
    before = load()
    run(ours)  # warm the file-system and numba caches once
    a = medians(ours, repeats)
    out: dict = {"bench": name, "repeats": repeats, "ours": a}
    if pyhf is not None:
        run(pyhf)
        b = medians(pyhf, repeats)
        out |= {
            "pyhf": b,
            "ratio_cpu": round(a["cpu_s"] / b["cpu_s"], 3),
            "ratio_wall": round(a["wall_s"] / b["wall_s"], 3),
        }
    return out | {"load_before": before, "load_after": load()}


def grid_bench(folder: Path, region: str, workers: int, n_pyhf: int) -> dict:
    import jsonpatch
    import pyhf

    before = load()
    bkg = folder / f"Region{region}" / "BkgOnly.json"
    patches = sorted((folder / f"Region{region}").glob("patch*.json"))
    out_json = folder / f"grid_{region}.json"
    cmd = [*OURS, "grid", str(bkg), str(bkg.parent), "-o", str(out_json), "--workers", str(workers)]
    cpu, wall = run(cmd)
    points = {p["name"]: p for p in json.loads(out_json.read_text())["points"]}
    step = max(1, len(patches) // n_pyhf)
    chosen = patches[::step][:n_pyhf]
    spec = json.loads(bkg.read_text())
    pyhf_cpu, diff_default, diff_converged = [], 0.0, 0.0
    for path in chosen:
        ws = pyhf.Workspace(jsonpatch.apply_patch(spec, json.loads(path.read_text())))
        c0 = time.process_time()
        model = ws.model()
        data = ws.data(model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pyhf.set_backend("numpy", "scipy")
            obs, exp = pyhf.infer.hypotest(1.0, data, model, return_expected_set=True)
            pyhf_cpu.append(time.process_time() - c0)
            pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(tolerance=1e-7, strategy=2))
            obs_c, exp_c = pyhf.infer.hypotest(1.0, data, model, return_expected_set=True)
            pyhf.set_backend("numpy", "scipy")
        ours = points[path.name]
        ref_d = [float(obs), *map(float, exp)]
        ref_c = [float(obs_c), *map(float, exp_c)]
        mine = [ours["CLs_obs"], *ours["CLs_exp"]]
        diff_default = max(
            diff_default, *(abs(m / r - 1) for m, r in zip(mine, ref_d, strict=True))
        )
        diff_converged = max(
            diff_converged, *(abs(m / r - 1) for m, r in zip(mine, ref_c, strict=True))
        )
    per_point = statistics.median(pyhf_cpu)
    return {
        "bench": "grid",
        "region": region,
        "points": len(patches),
        "workers": workers,
        "ours": {"cpu_s": round(cpu, 3), "wall_s": round(wall, 3)},
        "pyhf_hypotest": {
            "points_timed": len(chosen),
            "cpu_s_per_point_median": round(per_point, 3),
            "cpu_s_whole_grid_extrapolated": round(per_point * len(patches), 1),
        },
        "ratio_cpu": round(cpu / (per_point * len(patches)), 4),
        "max_rel_diff_vs_pyhf_default": float(f"{diff_default:.3g}"),
        "max_rel_diff_vs_pyhf_converged": float(f"{diff_converged:.3g}"),
        "load_before": before,
        "load_after": load(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--region", default="A", choices=["A", "B", "C"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pyhf-points", type=int, default=3)
    ap.add_argument("--skip-grid", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with tarfile.open(TARBALL) as tar:
            tar.extractall(folder, filter="data")
        bkg = folder / "RegionA" / "BkgOnly.json"
        patch = folder / "RegionA" / "patch.sbottom_1300_205_60.json"
        lines = [
            compare("startup_help", [*OURS, "--help"], [*PYHF, "--help"], args.repeats),
            compare("startup_version", [*OURS, "--version"], [*PYHF, "--version"], args.repeats),
            compare(
                "cls_cold",
                [*OURS, "cls", str(bkg), "-p", str(patch)],
                [*PYHF, "cls", str(bkg), "-p", str(patch)],
                args.repeats,
            ),
            compare("fit_cold", [*OURS, "fit", str(HZZ)], [*PYHF, "fit", str(HZZ)], args.repeats),
        ]
        for line in lines:
            print(json.dumps(line), flush=True)
        if not args.skip_grid:
            print(json.dumps(grid_bench(folder, args.region, args.workers, args.pyhf_points)))


if __name__ == "__main__":
    main()
