"""Walk the public API of higgs_pyhf in pipeline order (CI runs this).

Usage: ``python scripts/example.py [OUTDIR]`` (default: a temporary folder).

generated ntuples → selection and histograms → workspace → fit → scans →
the report's χ² grid method and the comparison → goodness of fit →
significance → toys → figures. Everything here is made from generated
input, not ATLAS data.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from higgs_pyhf import synthetic
from higgs_pyhf.build.config import default_config
from higgs_pyhf.build.histogram_io import save_histograms
from higgs_pyhf.build.histograms import build_histograms, sample_yields
from higgs_pyhf.build.report_workspace import workspace_from_histograms
from higgs_pyhf.inference import chi2grid, compare, fit, gof, scan, significance, toys
from higgs_pyhf.plotting import save_figure
from higgs_pyhf.plotting.contours import plot_scan_2d
from higgs_pyhf.plotting.scans import plot_scan_1d
from higgs_pyhf.plotting.stacks import plot_postfit
from higgs_pyhf.plotting.toys import plot_coverage
from higgs_pyhf.workspace import model_and_data, save_workspace


def main(outdir: Path) -> None:
    config = default_config()

    # 1. generated open-data-shaped ntuples, laid out as the real release
    inputs = synthetic.make_inputs(outdir / "ntuples", config, seed=synthetic.DEFAULT_SEED)
    print("generated files:", sum(len(f) for f in inputs.files.values()))

    # 2. selection + histograms (chunks in-process; workers=N or scheduler=... scale out)
    hs = build_histograms(config, inputs.directory, selection="intended")
    print("yields:", {k: round(v, 2) for k, v in sample_yields(hs.histograms).items()})
    print("ggH cutflow:", hs.cutflows["ggH125_ZZ4lep"].to_json())
    save_histograms(hs.histograms, outdir / "histograms.root")

    # 3. the pyhf workspace (normfactors s_s, s_b)
    spec = workspace_from_histograms(hs.histograms, config, measurement_name="hzz4l_generated")
    ws_path = save_workspace(spec, outdir / "hzz4l_generated.json")
    model, data = model_and_data(spec)

    # 4. maximum-likelihood fit with Minos, and the report's one-parameter fit
    result = fit.fit(model, data, minos=["s_s", "s_b"])
    print("fit:", json.dumps(result.to_json()["parameters"]))
    only_s_s = fit.fit(model, data, fixed={"s_b": 1.0})
    print("s_s with s_b fixed at 1:", round(only_s_s.value("s_s"), 3))

    # 5. profile and conditional scans, the 2D contour
    prof = scan.scan_1d(model, data, "s_s")
    cond = scan.scan_1d(model, data, "s_s", kind="conditional")
    print("s_s 68% profile:", prof.interval, "conditional:", cond.interval)
    contour = scan.scan_2d(model, data, ("s_s", "s_b"))
    print("2D 68% extents:", contour.intervals)

    # 6. the seed report's χ² grid method, and every method side by side
    sig, bkg, obs = chi2grid.templates_from_workspace(spec)
    report = chi2grid.report_method(sig, bkg, obs)
    print("report method:", json.dumps(report.summary()))
    table = compare.compare(spec)
    print(table.to_markdown())

    # 7. goodness of fit, significance and limits
    print("gof:", gof.goodness_of_fit(model, data, fit_result=result).to_json())
    print("discovery:", significance.discovery(model, data).to_json())
    print("CLs(s_s=1):", significance.cls(model, data).to_json())

    # 8. toys: the critical value of the report's study and the textbook one
    for kw in (
        {"sampling": "gaussian", "statistic": "pearson", "minimization": "grid"},
        {"sampling": "poisson", "statistic": "likelihood", "minimization": "continuous"},
    ):
        cov = toys.coverage_toys(model, data, ntoys=5000, seed=1, **kw)
        print(kw, "critical value:", round(cov.critical_value, 3))
    save_figure(plot_coverage(cov, generated_label=True), outdir / "coverage.png")

    # 9. figures
    edges = config.edges
    save_figure(
        plot_postfit(edges, sig, bkg, obs, result, generated=True),
        outdir / "postfit.png",
    )
    save_figure(plot_scan_1d([prof, cond], generated=True), outdir / "scan_s_s.png")
    save_figure(plot_scan_2d(contour, generated=True), outdir / "contour.png")
    print("workspace:", ws_path, "figures in", outdir)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        # without a folder the outputs go to a temporary one, removed at the end:
        # say so rather than print a folder that no longer exists
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
        print(
            "(outputs were written to a temporary folder, now removed; give a folder to keep them)"
        )
