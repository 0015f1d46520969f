"""Draw the report's figures from results: the glue between the report's stages and :mod:`higgs_pyhf.plotting`.

Every figure gets its arrays, results and the data label from the
:class:`~.inputs.ReportInputs` read once at the boundary; a figure whose
results are missing (a stage skipped on this workspace) is drawn with the
missing panel saying why, or skipped with a reason when nothing is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.figure

from ..plotting import (
    plot_contour_pair,
    plot_critical_value_pair,
    plot_gof_pair,
    plot_postfit_pair,
    plot_prefit_pair,
    plot_scan_1d,
    save_figure,
)
from .inputs import ReportInputs
from .sections import FIGURES
from .studies import REPORT_TOYS_PER_D

__all__ = ["KIND_FIGURES", "PLOT_KINDS", "draw_figures", "report_figure"]

#: The figure groups :func:`~.assemble.make_plots` can draw, in report order.
PLOT_KINDS = ("prefit", "contour", "postfit", "gof", "coverage", "scan")
#: Plot kind → figure names.
KIND_FIGURES: dict[str, tuple[str, ...]] = {
    "prefit": ("prefit",),
    "contour": ("contour",),
    "postfit": ("postfit",),
    "gof": ("gof_toys",),
    "coverage": ("critical_value",),
    "scan": ("scan_s_s", "scan_s_b"),
}
_OTHER = {"s_s": "s_b", "s_b": "s_s"}


def _scan_figure(
    inputs: ReportInputs, par: str, res: dict[str, Any], edges: dict[str, str]
) -> matplotlib.figure.Figure | None:
    scans = res.get("scan") or {}
    grid = res.get("chi2_grid")
    curves, labels = [], []
    grid_name = ""
    other = _OTHER[par]
    tex = {"s_s": "$s_s$", "s_b": "$s_b$"}
    if grid is not None:
        one = grid.s_s_1d if par == "s_s" else grid.s_b_1d
        curves.append(one.scan)
        # the report prints best ± |upper root − best| (the table's number); the
        # legend's interval is both roots of its parabola at Δχ² = 1
        grid_name = rf"Report grid Pearson $\Delta\chi^2$ ({tex[other]} = 1)"
        labels.append(
            f"{grid_name}: as printed {one.scan.bestfit:.2f} ± {one.error:.2f},\n"
            "the parabola's two roots at $\\Delta\\chi^2$ = 1"
        )
    for key, label in (
        (f"{par}_at_1", f"Likelihood, {tex[other]} = 1"),
        (f"{par}_profile", f"Likelihood, profiled over {tex[other]}"),
    ):
        if key in scans:
            curves.append(scans[key])
            labels.append(label)
    if not curves:
        return None
    note = edges.get(f"{par}_1d")
    return plot_scan_1d(
        curves,
        labels=labels,
        data_label=inputs.data_label,
        note=f"Report's grid: {note}" if note else None,
        shade_label=grid_name if grid is not None else None,
        lumi_fb=inputs.lumi_fb,
        **inputs.header,
    )


def report_figure(
    name: str, inputs: ReportInputs, res: dict[str, Any], skipped: dict[str, str]
) -> matplotlib.figure.Figure | None:
    """One figure of :data:`~.sections.FIGURES` from the stage results (None if they are missing)."""
    grid = res.get("chi2_grid")
    fits = res.get("likelihood_fits")
    reason = skipped.get("chi2_grid", "the report's grid method did not run")
    repro = res.get("reproduction")
    edges = repro.grid_edges if repro is not None else {}
    page: dict[str, Any] = {
        "data_label": inputs.data_label,
        "lumi_fb": inputs.lumi_fb,
        **inputs.header,
    }
    stack = (inputs.edges, inputs.signal, inputs.background, inputs.observed)
    stack_page: dict[str, Any] = {"xlabel": inputs.xlabel, "unavailable": reason, **page}
    if name in ("prefit", "postfit") and fits is None:
        return None
    if name == "prefit":
        assert fits is not None
        return plot_prefit_pair(
            *stack,
            pearson=grid.before_fit if grid is not None else None,
            deviance=fits.deviance_prefit,
            **stack_page,
        )
    if name == "postfit":
        assert fits is not None
        return plot_postfit_pair(
            *stack,
            report=grid.scan_2d if grid is not None else None,
            fit=fits.fit,
            deviance=fits.deviance,
            **stack_page,
        )
    if name == "contour":
        if "contour" not in res:
            return None
        notes = [edges[k] for k in ("contour_2d", "s_s_2d", "s_b_2d") if k in edges]
        return plot_contour_pair(
            grid.scan_2d if grid is not None else None,
            res["contour"],
            note="Grid edge: " + "; ".join(notes) if notes else None,
            unavailable=reason,
            **page,
        )
    if name == "gof_toys":
        toys = res.get("toys_gof") or {}
        if not toys:
            return None
        return plot_gof_pair(
            toys.get("report"),
            toys.get("likelihood"),
            nbins=inputs.observed.size,
            **page,
        )
    if name == "critical_value":
        toys = res.get("toys_coverage") or {}
        if not toys:
            return None
        note = None
        if repro is not None and toys.get("report") is not None:
            lo, hi = repro.row("critical_value").report_method[3:5]
            note = f"spread of d in a {REPORT_TOYS_PER_D}-toy study (the report's): [{lo:.2f}, {hi:.2f}]"
        return plot_critical_value_pair(
            toys.get("report"),
            toys.get("likelihood"),
            note=note,
            **page,
        )
    if name in ("scan_s_s", "scan_s_b"):
        return _scan_figure(inputs, name.removeprefix("scan_"), res, edges)
    msg = f"unknown figure {name!r}"
    raise ValueError(msg)


def draw_figures(
    inputs: ReportInputs,
    results: dict[str, Any],
    names: Sequence[str],
    outdir: Path,
    skipped: dict[str, str],
    figure_format: str = "png",
) -> dict[str, Path]:
    """Draw and save the named figures (see :data:`~.sections.FIGURES`) from the available results.

    A figure that cannot be drawn is recorded in ``skipped`` as ``figure <name>``.
    """
    written: dict[str, Path] = {}
    for name in names:
        fig = report_figure(name, inputs, results, skipped)
        if fig is None:
            skipped.setdefault(f"figure {name}", "its results are not available (stage skipped)")
            continue
        path = (outdir / FIGURES[name][0]).with_suffix("." + figure_format)
        written[name] = save_figure(fig, path)
    return written
