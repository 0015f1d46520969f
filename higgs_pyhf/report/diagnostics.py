"""The report's diagnostics of a model with nuisance parameters: pulls, impacts, yields, Brazil, toy regions.

:func:`run_diagnostics` computes them from the likelihood fit the report
already made (all on the engine); :func:`draw_diagnostics` writes their
figures; :func:`diagnostics_section` is their Markdown. A model without
constrained parameters (the report's two-normfactor one) gets the yields,
the Brazil plot and the toy-calibrated region only.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .._guard import child_path, safe_names
from ..inference.impacts import impacts
from ..inference.pulls import correlations, pulls
from ..inference.toys import toy_contour
from ..inference.yields import yields
from ..plotting import save_figure
from ..plotting.bands import plot_brazil, plot_prefit_postfit, plot_toy_contour
from ..plotting.diagnostics import plot_correlations, plot_impacts, plot_pulls
from .inputs import ReportInputs

__all__ = ["diagnostics_section", "draw_diagnostics", "run_diagnostics"]

log = logging.getLogger(__name__)

#: Grid and toys of the report's toy-calibrated region (a quick one; ``toys contour`` for more).
CONTOUR_POINTS = (15, 15)
CONTOUR_TOYS = 300


def run_diagnostics(inputs: ReportInputs, fit: Any, *, toys: bool, seed: int) -> dict[str, Any]:
    """Pulls, impacts, correlations (with nuisances), yields and the toy-calibrated region."""
    m, d = inputs.model, inputs.data
    out: dict[str, Any] = {"yields": yields(m, d, fit_result=fit)}
    p = pulls(m, d, fit_result=fit)
    if p.parameters:
        out["pulls"] = p
        out["impacts"] = impacts(m, d, fit_result=fit)
        out["correlations"] = correlations(fit, threshold=0.1)
    if toys:
        pars = ("s_s", "s_b") if {"s_s", "s_b"} <= set(fit.labels) else None
        if pars is not None:
            out["toy_contour"] = toy_contour(
                m, d, pars, n_points=CONTOUR_POINTS, ntoys=CONTOUR_TOYS, seed=seed
            )
    return out


def draw_diagnostics(
    inputs: ReportInputs, diag: dict[str, Any], significance: dict[str, Any] | None, out: Path
) -> dict[str, Path]:
    """Write the diagnostics' figures into ``out``; name → path."""
    import matplotlib.pyplot as plt

    label, lumi, hdr = inputs.data_label, inputs.lumi_fb, inputs.header
    figures: dict[str, Any] = {}
    y = diag["yields"]
    for c, ch in enumerate(y.channels):
        lo, hi = y.channel_bins[c]
        same = inputs.edges_known and hi - lo == len(inputs.edges) - 1
        edges = inputs.edges if same else None
        figures[f"yields_{ch}"] = lambda ch=ch, edges=edges: plot_prefit_postfit(
            y, ch, edges=edges, xlabel=inputs.xlabel, data_label=label, lumi_fb=lumi, **hdr
        )
    if "pulls" in diag:
        figures["pulls"] = lambda: plot_pulls(diag["pulls"])
        figures["impacts"] = lambda: plot_impacts(diag["impacts"])
        figures["correlations"] = lambda: plot_correlations(diag["correlations"])
    limit = (significance or {}).get("upper_limit")
    if limit is not None:
        figures["brazil"] = lambda: plot_brazil(limit, data_label=label, lumi_fb=lumi, **hdr)
    if "toy_contour" in diag:
        figures["toy_contour"] = lambda: plot_toy_contour(
            diag["toy_contour"], data_label=label, lumi_fb=lumi, **hdr
        )
    file_names = safe_names(figures)  # channel names come from the workspace
    paths: dict[str, Path] = {}
    for name, make in figures.items():
        fig = make()
        paths[name] = save_figure(fig, child_path(out, f"{file_names[name]}.png"))
        plt.close(fig)
    return paths


def _table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def diagnostics_section(diag: dict[str, Any], figures: dict[str, Path]) -> str:
    """Markdown: yields, impacts and pulls, Brazil plot, the toy-calibrated region."""
    text = ["## Diagnostics", ""]
    text += ["### Yields before and after the fit", "", diag["yields"].to_markdown(), ""]
    text += [f"![{n}]({p.name})" for n, p in figures.items() if n.startswith("yields_")]
    if "impacts" in diag:
        imp = diag["impacts"]
        text += [
            "",
            "### Impacts on the parameter of interest",
            "",
            f"{imp.poi} = {imp.poi_bestfit:.3f} ± {imp.poi_total:.3f} "
            f"(stat {imp.poi_stat:.3f}, syst {imp.poi_syst:.3f}); "
            "Δ = POI of the fit with the parameter held at θ̂ ± σ minus the best fit "
            "(free normfactors: post-fit σ only).",
            "",
        ]
        rows = [
            [
                f"`{i.parameter}`",
                f"{i.prefit.up:+.4f} / {i.prefit.down:+.4f}" if i.prefit else "— (free)",
                f"{i.postfit.up:+.4f} / {i.postfit.down:+.4f}",
                f"{i.pull:+.2f}" if i.pull is not None else "—",
                f"{i.constraint:.2f}" if i.constraint is not None else "—",
            ]
            for i in imp.impacts[:15]
        ]
        text += [
            _table(
                ["parameter", "pre-fit Δ up/down", "post-fit Δ up/down", "pull", "constraint"], rows
            ),
            "",
            "![impacts](impacts.png)",
            "",
            "![pulls](pulls.png)",
            "",
            "![correlations](correlations.png)",
        ]
    if "brazil" in figures:
        text += ["", "### CLs scan and upper limit (Brazil plot)", "", "![brazil](brazil.png)"]
    if "toy_contour" in diag:
        tc = diag["toy_contour"]
        text += [
            "",
            "### Toy-calibrated confidence region",
            "",
            f"A Neyman construction on a {len(tc.x_values)}×{len(tc.y_values)} grid with "
            f"{tc.settings.get('ntoys', CONTOUR_TOYS)} toys per point (likelihood-ratio ordering): "
            "the filled regions are where the data's Δ(−2lnL) is below the toys' 68.27% and 95% "
            "quantiles, beside the Wilks 2.30/5.99 contours. `toys contour` makes finer ones.",
            "",
            "![toy contour](toy_contour.png)",
        ]
    return "\n".join(text)
