#!/usr/bin/env python
"""Generated MC vs the seed report's MC templates, report selection, 10 fb⁻¹.

Generates open-data-shaped input (:func:`higgs_pyhf.synthetic.make_inputs`,
in a temporary directory), histograms it with the project's own pipeline
(:func:`higgs_pyhf.build.histograms.build_histograms` with ``selection="report"``
and the default configuration) and compares the summed signal and background
MC with the report's templates (``higgs_pyhf/data/report_mc_templates.json``):
total yield and per m4l region, with the generator's MC statistical
uncertainty and the ratio generated / template. The generated data are
compared with 1.4·signal + 1.3·background of the templates (the generator's
true normalisation factors), with a Poisson uncertainty.

Prints a Markdown table, then a JSON object on the last line (also per-bin
χ² of generated vs template with MC-stat uncertainties). With ``--figdir``
it also writes ``generated_vs_templates.png``.

Usage: python scripts/compare_generated_templates.py [--scale 15] [--seed N] [--figdir DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from higgs_pyhf.build.config import default_config
from higgs_pyhf.build.histograms import build_histograms
from higgs_pyhf.synthetic import DEFAULT_SEED, TRUE_NORMFACTORS, make_inputs, report_templates

#: (JSON key, table label, low, high, kinds) of the compared m4l regions (GeV).
REGIONS = (
    ("total", "80–250 (total)", 80.0, 250.0, ("signal", "background", "data")),
    ("80-110", "80–110", 80.0, 110.0, ("signal", "background", "data")),
    ("110-140", "110–140", 110.0, 140.0, ("signal", "background", "data")),
    ("120-130", "120–130 (Higgs window)", 120.0, 130.0, ("signal", "data")),
    ("140-180", "140–180", 140.0, 180.0, ("signal", "background", "data")),
    ("180-250", "180–250", 180.0, 250.0, ("signal", "background", "data")),
)
LABELS = {key: label for key, label, *_ in REGIONS}


class Generated(NamedTuple):
    """Histograms of the generated input, report selection.

    Attributes:
        kinds: kind → (sum of weights, sum of squared weights) per bin.
        samples: MC sample name → its yield per bin.
    """

    kinds: dict[str, tuple[np.ndarray, np.ndarray]]
    samples: dict[str, np.ndarray]


def generated_histograms(*, scale: float, seed: int) -> Generated:
    """Generate, then histogram with the pipeline (report selection)."""
    config = default_config()
    with tempfile.TemporaryDirectory(prefix="compare_generated_") as tmp:
        make_inputs(tmp, config, seed=seed, scale=scale)
        h = build_histograms(config, tmp, selection="report").histograms
    kinds = {}
    for kind in ("signal", "background", "data"):
        names = [s.name for s in config.samples if s.kind == kind]
        values = sum(np.asarray(h[{"sample": n}].values()) for n in names)
        variances = sum(np.asarray(h[{"sample": n}].variances()) for n in names)
        kinds[kind] = (np.asarray(values, float), np.asarray(variances, float))
    samples = {s.name: np.asarray(h[{"sample": s.name}].values()) for s in config.mc_samples}
    return Generated(kinds, samples)


def compare(generated: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """Per kind and region: generated, its uncertainty, template, ratio; per-bin χ² per kind."""
    t = report_templates()
    centres = 0.5 * (t.edges_gev[1:] + t.edges_gev[:-1])
    expected = {
        "signal": t.signal,
        "background": t.background,
        "data": TRUE_NORMFACTORS["s_s"] * t.signal + TRUE_NORMFACTORS["s_b"] * t.background,
    }
    result: dict[str, Any] = {}
    for kind, (values, variances) in generated.items():
        if kind == "data":  # Poisson uncertainty of the expected counts
            variances = expected[kind]
        regions = {}
        for key, _, low, high, kinds in REGIONS:
            if kind not in kinds:
                continue
            sel = (centres > low) & (centres < high)
            gen, tmpl = float(values[sel].sum()), float(expected[kind][sel].sum())
            regions[key] = {
                "generated": gen,
                "uncertainty": float(np.sqrt(variances[sel].sum())),
                "template": tmpl,
                "ratio": gen / tmpl,
            }
        # per-bin agreement where the template is not tiny (>= 1 % of its largest bin)
        big = expected[kind] >= 0.01 * expected[kind].max()
        pulls = (values - expected[kind])[big] / np.sqrt(variances[big])
        result[kind] = {
            "regions": regions,
            "chi2": float(np.sum(pulls**2)),
            "ndf": int(big.sum()),
            "max_abs_pull": float(np.max(np.abs(pulls))),
        }
    return result


def markdown(result: dict[str, Any]) -> str:
    """The comparison as a Markdown table."""
    names = {
        "signal": "signal (H125)",
        "background": "background",
        "data": "data vs 1.4·S + 1.3·B",
    }
    lines = [
        "| kind | m4l range (GeV) | generated | template | generated / template |",
        "|---|---|---:|---:|---:|",
    ]
    for kind, entry in result.items():
        for key, r in entry["regions"].items():
            lines.append(
                f"| {names[kind]} | {LABELS[key]} | {r['generated']:.3f} ± {r['uncertainty']:.3f} "
                f"| {r['template']:.3f} | {r['ratio']:.3f} |"
            )
    lines.append("")
    lines.append(
        "Per-bin χ² of generated vs template (bins with ≥ 1 % of the largest bin; "
        "MC statistics for signal and background, Poisson for data): "
        + ", ".join(
            f"{names[k]} {e['chi2']:.1f}/{e['ndf']} (max |pull| {e['max_abs_pull']:.2f})"
            for k, e in result.items()
        )
        + "."
    )
    return "\n".join(lines)


def plot(generated: Generated, figdir: Path) -> Path:
    """Generated vs template per kind, with the ratio below; returns the PNG path."""
    import matplotlib.pyplot as plt

    from higgs_pyhf.plotting import GENERATED_LABEL, save_figure, style_context

    t = report_templates()
    edges = t.edges_gev
    centres = 0.5 * (edges[1:] + edges[:-1])
    reducible = sum(v for n, v in generated.samples.items() if n != "llll" and "H125" not in n)
    with style_context():
        fig, axes = plt.subplots(
            2,
            2,
            figsize=(14, 7),
            sharex=True,
            gridspec_kw={"height_ratios": [3, 1], "wspace": 0.3, "hspace": 0.05},
        )
        for col, kind in enumerate(("background", "signal")):
            values, variances = generated.kinds[kind]
            template = t.by_kind(kind)
            top, bottom = axes[0, col], axes[1, col]
            top.stairs(template, edges, color="k", label="report MC template")
            top.errorbar(
                centres,
                values,
                yerr=np.sqrt(variances),
                fmt="o",
                ms=3,
                color="tab:red",
                label="generated, report selection",
            )
            if kind == "background":
                top.stairs(
                    generated.samples["llll"],
                    edges,
                    color="tab:blue",
                    ls="--",
                    label="of which llll (ZZ*)",
                )
                top.stairs(reducible, edges, color="tab:green", ls=":", label="of which reducible")
            else:
                top.set_yscale("log")
            top.set_ylabel(f"{kind}: events / 5 GeV", fontsize=14)
            top.legend(fontsize=10)
            ok = template > 0
            bottom.axhline(1.0, color="k", lw=0.8)
            bottom.errorbar(
                centres[ok],
                values[ok] / template[ok],
                yerr=np.sqrt(variances[ok]) / template[ok],
                fmt="o",
                ms=3,
                color="tab:red",
            )
            bottom.set_ylim(0.8, 1.2)
            bottom.set_xlim(edges[0], edges[-1])
            bottom.set_ylabel("gen. / template", fontsize=14)
            bottom.set_xlabel(r"$m_{4\ell}$ [GeV]", fontsize=14)
        fig.text(
            0.01,
            0.005,
            GENERATED_LABEL + "; 10 fb$^{-1}$",
            fontsize=9,
            color="0.35",
            style="italic",
        )
        path = save_figure(fig, figdir / "generated_vs_templates.png")
        plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale", type=float, default=15.0, help="generator scale (15: ~1.5e6 MC events)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--figdir", type=Path, default=None, help="write the comparison PNG here")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    generated = generated_histograms(scale=args.scale, seed=args.seed)
    result = compare(generated.kinds)
    summary: dict[str, Any] = {
        "scale": args.scale,
        "seed": args.seed,
        "selection": "report",
        "seconds": round(time.perf_counter() - start, 1),
        "kinds": result,
        "sample_yields": {n: float(v.sum()) for n, v in generated.samples.items()},
    }
    if args.figdir is not None:
        args.figdir.mkdir(parents=True, exist_ok=True)
        summary["figure"] = str(plot(generated, args.figdir))
    print(
        f"Generated (seed {args.seed}, scale {args.scale:g}) vs the report's MC templates, "
        "report selection, 10 fb⁻¹\n"
    )
    print(markdown(result))
    print(json.dumps(summary, sort_keys=True))
    return summary


if __name__ == "__main__":
    main()
