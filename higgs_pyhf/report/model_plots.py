"""Figures of ``plot`` for any workspace that is not the report's two-normfactor model.

The report's figures (2.1, 2.2a/b, 2.3, the §2.5 toys) compare its Pearson
χ² grid with the likelihood and need one channel with ``signal`` × ``s_s``
and ``background`` × ``s_b``. Any other workspace gets, per ``plot`` kind,
the figures that apply to every HistFactory model:

- ``prefit``/``postfit``: the pre- and post-fit stacks of each channel with
  their uncertainty bands (``yields_<channel>``), the pulls, impacts and
  correlations when the model has constrained parameters;
- ``scan``: the profile Δ(−2lnL) of the POI (``scan_<poi>``);
- ``contour``: the 2D profile of the POI and the first other free
  normfactor (``contour_<poi>_<other>``), skipped without one;
- ``gof``: the toy distribution of the saturated-model deviance (``toys_gof``);
- ``coverage``: the toy coverage of the free normfactors (``toys_coverage``).

What is skipped, and why, is logged once (one warning line).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib.figure

from ..inference.fit import fit
from ..inference.impacts import impacts
from ..inference.pulls import correlations, pulls
from ..inference.scan import scan_1d, scan_2d
from ..inference.toys import coverage_toys, gof_toys
from ..inference.yields import yields
from ..plotting import save_figure
from ..plotting.bands import plot_prefit_postfit
from ..plotting.contours import plot_scan_2d
from ..plotting.diagnostics import plot_correlations, plot_impacts, plot_pulls
from ..plotting.scans import plot_scan_1d
from ..plotting.toys import plot_coverage, plot_gof
from .inputs import ReportInputs

__all__ = ["free_normfactors", "is_report_model", "model_plots"]

log = logging.getLogger(__name__)

#: Toys of the ``gof`` and ``coverage`` figures of a general model.
MODEL_PLOT_TOYS = 2_000


def is_report_model(inputs: ReportInputs) -> bool:
    """Whether the workspace is the report's model (one channel, signal × s_s, background × s_b)."""
    return inputs.observed.size > 0 and {"s_s", "s_b"} <= set(inputs.model.config.parameters)


def free_normfactors(model: Any) -> list[str]:
    """The normfactors of ``model`` that are not fixed, in the model's order."""
    fixed = model.config.suggested_fixed()
    return [
        name
        for name, kind in model.config.modifiers
        if kind == "normfactor" and not fixed[model.config.par_slice(name).start]
    ]


def _file_part(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def model_plots(
    inputs: ReportInputs,
    figdir: Path,
    *,
    kinds: Sequence[str],
    ntoys: int = MODEL_PLOT_TOYS,
    seed: int = 0,
    figure_format: str = "png",
) -> dict[str, Path]:
    """Draw the figures of ``kinds`` that apply to a general model into ``figdir``.

    Args:
        inputs: the workspace and its labels (:func:`~.inputs.read_inputs`).
        figdir: output directory (created if needed).
        kinds: ``plot`` kinds (``prefit``, ``postfit``, ``scan``, ``contour``, ``gof``, ``coverage``).
        ntoys: toys of the ``gof`` and ``coverage`` figures.
        seed: seed of the toys.
        figure_format: ``png``, ``pdf`` or ``svg``.

    Returns:
        Figure name → path written.
    """
    m, d = inputs.model, inputs.data
    poi = str(m.config.poi_name)
    label = inputs.data_label
    header: dict[str, Any] = {"lumi_fb": inputs.lumi_fb, **inputs.header}
    best = fit(m, d)
    figures: dict[str, Callable[[], matplotlib.figure.Figure]] = {}
    skipped: dict[str, str] = {
        "report figures": "the report's χ² comparisons need one channel with signal × s_s and "
        "background × s_b; the figures of a general model are drawn instead"
    }
    if {"prefit", "postfit"} & set(kinds):
        y = yields(m, d, fit_result=best)
        for c, ch in enumerate(y.channels):
            lo, hi = y.channel_bins[c]
            edges = (
                inputs.edges if inputs.edges_known and hi - lo == len(inputs.edges) - 1 else None
            )
            figures[f"yields_{_file_part(ch)}"] = functools.partial(
                plot_prefit_postfit,
                y,
                ch,
                edges=edges,
                xlabel=inputs.xlabel,
                data_label=label,
                **header,
            )
        p = pulls(m, d, fit_result=best)
        if p.parameters:
            figures["pulls"] = lambda: plot_pulls(p)
        else:
            skipped["pulls"] = "the model has no constrained nuisance parameters"
        imp = impacts(m, d, fit_result=best)
        if imp.impacts:
            figures["impacts"] = lambda: plot_impacts(imp)
            figures["correlations"] = lambda: plot_correlations(correlations(best, threshold=0.1))
        else:
            skipped["impacts"] = "the model has no free parameter besides the POI"
    if "scan" in kinds:
        s1 = scan_1d(m, d, poi)
        figures[f"scan_{_file_part(poi)}"] = lambda: plot_scan_1d(s1, data_label=label, **header)
    if "contour" in kinds:
        others = [n for n in free_normfactors(m) if n != poi]
        if others:
            s2 = scan_2d(m, d, (poi, others[0]), n_points=(41, 41))
            name = f"contour_{_file_part(poi)}_{_file_part(others[0])}"
            figures[name] = lambda: plot_scan_2d(s2, data_label=label, **header)
        else:
            skipped["contour"] = (
                f"no free normfactor besides the POI {poi!r} (`contour --parameters X Y` "
                "draws any pair)"
            )
    if "gof" in kinds:
        g = gof_toys(m, d, ntoys=ntoys, seed=seed)
        figures["toys_gof"] = lambda: plot_gof(g, data_label=label, **header)
    if "coverage" in kinds:
        cov = coverage_toys(m, d, ntoys=ntoys, seed=seed)
        figures["toys_coverage"] = lambda: plot_coverage(cov, data_label=label, **header)
    figdir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, make in figures.items():
        fig = make()
        written[name] = save_figure(fig, figdir / f"{name}.{figure_format}")
    log.warning(
        "plot: drew %s; skipped %s",
        ", ".join(written) or "nothing",
        "; ".join(f"{k} ({v})" for k, v in skipped.items()),
    )
    return written
