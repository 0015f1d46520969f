"""Markdown sections of the report: header, the reproduction table, the toy studies, the figures.

Every function takes results (and the labels decided at the boundary) and
returns Markdown text; nothing here computes or reads a file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..inference.toys import CoverageResult, GofResult
from ..plotting import GENERATED_LABEL, REAL_DATA_LABEL, is_generated_label
from ..plotting._style import is_report_model_label
from .inputs import ReportInputs
from .markdown import md_table
from .results import Reproduction

__all__ = [
    "FIGURES",
    "REPRODUCTION_HEADERS",
    "figures_section",
    "header_section",
    "reproduction_rows",
    "reproduction_section",
    "skipped_section",
    "toys_section",
]

#: Figure name → (file name, title, caption); in report order.
FIGURES: dict[str, tuple[str, str, str]] = {
    "prefit": (
        "fig2_1_prefit.png",
        "Figure 2.1 — before the fit",
        "Stacked background and Higgs templates (s_s = s_b = 1) with the data. Left, as in the "
        "report: data ± √n and the Pearson χ²/dof. Right: 68.27% Garwood (exact Poisson) "
        "intervals, the data/prediction ratio and the Poisson deviance −2lnλ/dof.",
    ),
    "contour": (
        "fig2_2a_contour.png",
        "Figure 2.2a — the two-parameter fit",
        "Left, as in the report: Pearson Δχ² on its 100×100 (s_s, s_b) grid, the Δχ² = 2.3 contour, "
        "the best grid point and (white bars) the slices through it that give the report's "
        "intervals. Right: profile Δ(−2lnL) with the 2.30 (68.27%) and 5.99 (95%) contours; the "
        "dotted box is the report's grid.",
    ),
    "postfit": (
        "fig2_2b_postfit.png",
        "Figure 2.2b — after the fit",
        "Left: templates scaled to the report's grid best fit, data ± √n. Right: scaled to the "
        "maximum-likelihood fit (Minos errors), Garwood intervals and the ratio to the fit.",
    ),
    "gof_toys": (
        "gof_toys.png",
        "§2.5 — goodness of fit with toys",
        "Left, as in the report: Gaussian toys (σ = √ν) around the grid best-fit model, Pearson χ² "
        "against those means without refitting, the χ²(nbins − 2) pdf the report drew (dotted: "
        "χ²(nbins), what a statistic without refit follows) and the data's value (star). Right: "
        "Poisson toys around the ML fit, each refitted, Poisson deviance, χ²(nbins − 2) pdf.",
    ),
    "critical_value": (
        "fig2_3_critical_value.png",
        "Figure 2.3 — the critical value of a two-parameter 68% region",
        "Fraction f of toys whose Δ at the truth is ≤ d (band: binomial error), the χ²(2) "
        "expectation 2.30 (orange), the toys' critical value with its 68% band (red). Left: the "
        "report's study (Gaussian toys, Pearson χ², minimum over its grid, f = 0.68; the cross "
        "marks the report's 3.3). Right: Poisson toys with the likelihood (68.27%).",
    ),
    "scan_s_s": (
        "scan_s_s.png",
        "One-parameter fit of s_s",
        "The report's grid Δχ² (s_b = 1, its s_s grid) beside the likelihood Δ(−2lnL) with s_b = 1 "
        "(the same definition) and profiled over s_b; the band is the first curve's interval.",
    ),
    "scan_s_b": (
        "scan_s_b.png",
        "One-parameter fit of s_b",
        "The report's grid Δχ² (s_s = 1, its s_b grid) beside the likelihood Δ(−2lnL) with s_s = 1 "
        "and profiled over s_s.",
    ),
}


def header_section(inputs: ReportInputs) -> str:
    """Title, what the data are (real ATLAS Open Data or generated), the workspace and the model."""
    name = inputs.name
    label = inputs.data_label
    if label == REAL_DATA_LABEL:
        sel = inputs.provenance.get("selection")
        what = (
            f"**Data: {label}** — real proton–proton collision events recorded by ATLAS at √s = 13 TeV "
            "(2016, 4-lepton skim of the 2020 open-data release)"
            + (f", {sel} selection" if sel else "")
            + ", compared with the simulated Higgs signal and background templates."
        )
    elif is_generated_label(label):
        what = (
            f"**Data: {label}** — {GENERATED_LABEL}: pseudo-data from simulated open-data-shaped "
            "events. The numbers below test the machinery, not the physics; the report's printed "
            "numbers (real data) are shown for orientation and need not agree."
        )
    else:
        what = (
            f"**Data: {label}** — no provenance file next to the workspace records where the data "
            "come from (origin not recorded)."
        )
    nb = inputs.observed.size
    observable, unit = ("m4l", " GeV") if is_report_model_label(label) else ("the observable", "")
    binning = (
        f"{nb} bins of {observable} from {inputs.edges[0]:g} to {inputs.edges[-1]:g}{unit}"
        if inputs.edges_known
        else f"{nb} bins (bin edges not recorded: figures use the bin index)"
    )
    lumi = f", {inputs.lumi_fb:g} fb⁻¹" if inputs.lumi_fb is not None else ""
    channel = inputs.spec["channels"][0]["name"]
    pars = ", ".join(f"`{p}`" for p in inputs.model.config.par_order)
    title = (
        f"# H→ZZ*→4ℓ: the report reproduced, then done with the likelihood — `{name}`"
        if is_report_model_label(label)
        else f"# `{name}`: the report's χ² method and the likelihood on channel `{channel}`, "
        "POI `" + str(inputs.model.config.poi_name) + "`"
    )
    return "\n".join(
        [
            title,
            "",
            what,
            "",
            f"Workspace `{inputs.workspace}`, channel `{channel}`: {binning}{lumi}; parameters {pars}. "
            f"Totals: signal {inputs.signal.sum():.2f}, background {inputs.background.sum():.2f}, "
            f"observed {inputs.observed.sum():.0f} events.",
        ]
    )


def _agree_mark(agrees: bool | None) -> str:
    return "—" if agrees is None else "✓" if agrees else "✗"


#: Columns of the reproduction table (report.md, README).
REPRODUCTION_HEADERS = (
    "quantity",
    "report (printed)",
    "this tool, report's method",
    "agrees",
    "this tool, Poisson likelihood",
)


def reproduction_rows(rep: Reproduction) -> list[list[str]]:
    """The cells of the reproduction table, one list per row (:data:`REPRODUCTION_HEADERS`)."""
    rows = []
    for r in rep.rows:
        cell = r.report_method_text + (" ⚠ grid edge" if r.grid_edge else "")
        rows.append([r.quantity, r.printed, cell, _agree_mark(r.agrees), r.likelihood_text])
    return rows


def reproduction_section(rep: Reproduction, *, generated: bool | None) -> str:
    """The table *quantity | printed | report's method | agrees | likelihood*, notes and definitions."""
    rows = reproduction_rows(rep)
    n_ok = sum(1 for r in rep.rows if r.agrees)
    n_done = sum(1 for r in rep.rows if r.agrees is not None)
    verdict = (
        f"**{n_ok} of {n_done} computed numbers agree with the report** "
        "(rounded to the digits it prints; the critical value is a toy result, see its row)."
    )
    if generated:
        verdict += " These are generated data: agreement is not expected."
    if rep.grid_edges:
        edges = ["**Grid edges** — the report's grid cuts:"] + [
            f"- `{k}`: {v}" for k, v in sorted(rep.grid_edges.items())
        ]
    else:
        edges = [
            "**Grid edges**: no interval or contour of the report's method is cut by the edge of "
            "its grids."
        ]
    defs = ["Definitions (report's method · Poisson likelihood):", ""] + [
        f"- *{r.quantity}*: {r.definition_report} · {r.definition_likelihood}" for r in rep.rows
    ]
    return "\n".join(
        [
            "## The report's numbers, reproduced",
            "",
            "Every number printed in *How Much Higgs?* (KDSMIL001, 2022): as printed; computed here "
            "with the report's own method (Pearson χ² on its parameter grids, its error and "
            "p-value conventions); and with the Poisson likelihood (the deviance −2lnλ against the "
            "saturated model where the report uses χ², maximum-likelihood fits with Δ(−2lnL) = 1 "
            "intervals, Poisson toys). Full precision in `results.json` → `reproduction`.",
            "",
            md_table(REPRODUCTION_HEADERS, rows),
            "",
            verdict,
            "",
            *edges,
            "",
            *defs,
        ]
    )


def _gof_row(name: str, g: GofResult) -> list[Any]:
    s = g.settings
    return [
        name,
        s.get("ntoys"),
        f"{s.get('sampling')} toys, {g.statistic}, {'refit' if g.mode == 'refit' else 'no refit'}",
        f"data {g.observed:.3f}; toy p = {g.p_value:.4f} ± {g.p_value_error:.4f}; "
        f"χ²({g.ndof}) p = {g.p_value_asymptotic:.4f}; toy mean {float(g.toy_values.mean()):.2f}",
    ]


def _coverage_row(name: str, c: CoverageResult) -> list[Any]:
    lo, hi = c.critical_value_band
    s = c.settings
    bias = ", ".join(
        f"{p} {b:+.3f} ({b / sd:+.2f}σ)"
        for p, b in sorted((c.bestfit_bias or {}).items())
        if (sd := (c.bestfit_std or {}).get(p, 0.0)) > 0
    )
    return [
        name,
        s.get("ntoys"),
        f"{s.get('sampling')} toys, {c.statistic}, {c.minimization} minimization",
        f"d({c.confidence:.4g}) = {c.critical_value:.3f} [{lo:.3f}, {hi:.3f}]; "
        f"f(d = {c.expected_critical_value:.2f}) = {c.coverage_at_expected:.3f} ± "
        f"{c.coverage_at_expected_error:.3f}"
        + (f"; mean bias of the toys' best fit: {bias}" if bias else ""),
    ]


def toys_section(
    toys_gof: dict[str, GofResult], toys_coverage: dict[str, CoverageResult], seeds: dict[str, int]
) -> str:
    """The toy studies of §2.5 and §2.6 with the report's settings and with the likelihood."""
    rows = []
    names = {"report": "the report's settings", "likelihood": "Poisson likelihood"}
    for key, g in toys_gof.items():
        rows.append(_gof_row(f"§2.5 GoF, {names[key]}", g))
    for key, c in toys_coverage.items():
        rows.append(_coverage_row(f"§2.6 critical value, {names[key]}", c))
    lik = toys_coverage.get("likelihood")
    if lik is not None:
        lo, hi = lik.critical_value_band
        likelihood_says = (
            f"Poisson toys with the likelihood give {lik.critical_value:.2f} [{lo:.2f}, {hi:.2f}], "
            f"near Wilks' {lik.expected_critical_value:.2f} and far below 3.3"
        )
    else:
        likelihood_says = "the likelihood's toys were not run"
    return "\n".join(
        [
            "## Toy studies (§2.5 and §2.6)",
            "",
            md_table(["study", "toys", "settings", "result"], rows),
            "",
            "Bands are 68% order-statistics bands of the toy quantile. The report's §2.5 toys are "
            "not refitted, so their Pearson χ² follows ≈ χ²(nbins), not the χ²(nbins − 2) it drew; "
            "its §2.6 value ≈ 3.3 comes from a Pearson χ² fit, whose best fit is biased "
            "(the Pearson χ² favours larger predictions at these counts), so Δχ² at the "
            "truth is inflated (mean bias of the toys' best fits in the table); "
            + likelihood_says
            + ". Seeds: "
            + ", ".join(f"{k} {v}" for k, v in sorted(seeds.items()))
            + ".",
        ]
    )


def figures_section(figures: dict[str, Path], outdir: Path) -> str:
    """The figures, each with its title and caption, in report order."""
    text = ["## The report's figures, each beside its likelihood counterpart", ""]
    for name, (_, title, caption) in FIGURES.items():
        if name in figures:
            rel = Path(os.path.relpath(figures[name], outdir)).as_posix()
            text += [f"### {title}", "", f"![{name}]({rel})", "", f"*{caption}*", ""]
    return "\n".join(text).rstrip()


def skipped_section(skipped: dict[str, str], notes: Sequence[str] = ()) -> str:
    """The stages that could not run on this workspace, each with its reason."""
    lines = ["## Skipped sections", ""]
    lines += [f"- **{k}**: {v}" for k, v in sorted(skipped.items())]
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines)
