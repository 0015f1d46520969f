"""The report: read the workspace once, run the stages, write report.md, results.json and the figures.

:func:`make_report` reads the workspace and its provenance once
(:func:`~.inputs.read_inputs`) and hands arrays, the model and the data label
down to every stage, section and figure:

1. the report's grid χ² method (:func:`~higgs_pyhf.inference.chi2grid.report_method`),
2. the maximum-likelihood fits and deviances (:func:`~.studies.likelihood_fits`),
3. likelihood scans (1D with the other factor at 1 and profiled; the 2D profile map),
4. the toy studies of §2.5 and §2.6, with the report's settings and with the
   likelihood and Poisson toys (skipped with ``quick``),
5. the reproduction table (:func:`~.reproduction.reproduction_table`),
6. the method comparison, goodness of fit, significance and CLs limit,

then draws the figures (:mod:`.figures`) and writes ``DIR/report.md`` and
``DIR/results.json``: every result under the key of the command that
prints it, as its ``to_json()``, and the table under ``reproduction``.

A stage that fails with a :class:`~higgs_pyhf.errors.HiggsPyhfError` on this
workspace (e.g. the report's method on a model with more modifiers than its
two normfactors) is reported as skipped with its reason; any other error
propagates.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from .. import _io
from .._guard import guarded
from ..errors import HiggsPyhfError
from .diagnostics import diagnostics_section, draw_diagnostics, run_diagnostics
from .figures import KIND_FIGURES, PLOT_KINDS, draw_figures
from .inference_sections import (
    compare_section,
    fit_section,
    gof_section,
    scans_section,
    significance_section,
)
from .inputs import read_inputs
from .model_plots import is_report_model, model_plots
from .sections import (
    figures_section,
    header_section,
    reproduction_section,
    skipped_section,
    toys_section,
)
from .stages import run_stages
from .studies import DEFAULT_NTOYS, DEFAULT_SEED, study_seeds

__all__ = ["PLOT_KINDS", "ReportResult", "make_plots", "make_report"]

log = logging.getLogger(__name__)


class ReportResult(NamedTuple):
    """What :func:`make_report` wrote.

    Attributes:
        report: path of ``report.md``.
        results: path of ``results.json``.
        figures: figure name → PNG path.
        skipped: stage name → reason, for the stages that were skipped.
        seconds: wall-clock time of the whole report.
    """

    report: Path
    results: Path
    figures: dict[str, Path]
    skipped: dict[str, str]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable summary (paths as strings)."""
        return {
            "report": str(self.report),
            "results": str(self.results),
            "figures": {k: str(v) for k, v in sorted(self.figures.items())},
            "skipped": dict(sorted(self.skipped.items())),
            "seconds": round(float(self.seconds), 3),
        }


def _check_kinds(kinds: Sequence[str]) -> None:
    bad = [k for k in kinds if k not in PLOT_KINDS]
    if bad:
        msg = f"unknown plot kind(s) {bad}; expected some of {list(PLOT_KINDS)}"
        raise ValueError(msg)


@guarded
def make_plots(
    workspace_path: str | os.PathLike[str],
    figdir: str | os.PathLike[str],
    *,
    kinds: Sequence[str] = PLOT_KINDS,
    ntoys: int = DEFAULT_NTOYS,
    seed: int = DEFAULT_SEED,
    header: Mapping[str, Any] | None = None,
    lumi_fb: float | None = None,
    figure_format: str = "png",
    spec: Mapping[str, Any] | None = None,
    patches: Sequence[str] = (),
) -> dict[str, Path]:
    """Draw the report's figures of a workspace into ``figdir``, running only what they need.

    Args:
        workspace_path: the workspace JSON file (its provenance file, if any, gives the labels).
        figdir: output directory (created if needed).
        kinds: any of :data:`PLOT_KINDS` (``gof`` and ``coverage`` run toys).
        ntoys: toys of each toy study.
        seed: seed of the toys.
        header: figure header keywords ``label``, ``energy``, ``title``.
        lumi_fb: luminosity of the header (default: the recorded one).
        figure_format: ``png``, ``pdf`` or ``svg``.
        spec: the validated specification to use instead of reading
            ``workspace_path`` (a workspace with signal patches applied).
        patches: names of the patches in ``spec``, for the titles.

    A workspace that is not the report's model (one channel, ``signal`` × ``s_s``,
    ``background`` × ``s_b``) gets the figures that apply to any model
    (:func:`~.model_plots.model_plots`); what is skipped is logged once, with why.

    Returns:
        Figure name → path of each figure written.

    Raises:
        ValueError: on an unknown plot kind.
        WorkspaceError: if the workspace cannot be read.
    """
    _check_kinds(kinds)
    inputs = read_inputs(workspace_path, header=header, lumi_fb=lumi_fb, spec=spec, patches=patches)
    if not is_report_model(inputs):
        return model_plots(inputs, Path(figdir), kinds=kinds, figure_format=figure_format)
    results, skipped = run_stages(inputs, set(kinds), ntoys=ntoys, seed=seed)
    names = [n for k in PLOT_KINDS if k in kinds for n in KIND_FIGURES[k]]
    figures = draw_figures(inputs, results, names, Path(figdir), skipped, figure_format)
    for name, reason in skipped.items():
        log.warning("plot: %s skipped: %s", name, reason)
    return figures


@guarded
def make_report(
    workspace_path: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    *,
    ntoys: int = DEFAULT_NTOYS,
    seed: int = DEFAULT_SEED,
    quick: bool = False,
    n_points_1d: int = 101,
    n_points_2d: tuple[int, int] = (101, 101),
    upper_limit: bool = True,
    header: Mapping[str, Any] | None = None,
    lumi_fb: float | None = None,
    spec: Mapping[str, Any] | None = None,
    patches: Sequence[str] = (),
) -> ReportResult:
    """Reproduce the report on a workspace, redo it with the likelihood, write the report directory.

    Args:
        workspace_path: the workspace JSON file (its ``.provenance.json``
            next to it, if present, gives the bin edges, luminosity and data label).
        outdir: output directory (created if needed); ``report.md``,
            ``results.json`` and the PNG figures are written atomically.
        ntoys: toys of each toy study (§2.5 and §2.6, both settings).
        seed: seed of the toys.
        quick: skip the toy studies (and their figures).
        n_points_1d: points of each 1D profile/conditional likelihood scan.
        n_points_2d: grid of the 2D profile scan.
        upper_limit: compute the 95% CLs upper limit on ``s_s``.
        header: figure header keywords ``label``, ``energy``, ``title``.
        lumi_fb: luminosity of the header (default: the recorded one).
        spec: the validated specification to use instead of reading
            ``workspace_path`` (a workspace with signal patches applied).
        patches: names of the patches in ``spec``, for the titles.

    Returns:
        The paths written and the stages skipped.

    Raises:
        WorkspaceError: if the workspace cannot be read.
    """
    t0 = time.perf_counter()
    final = Path(outdir)
    inputs = read_inputs(workspace_path, header=header, lumi_fb=lumi_fb, spec=spec, patches=patches)
    _io.check_output_dir(final)  # before any work: refuse a folder holding inputs or other files
    if not is_report_model(inputs):
        return _model_report(inputs, final, quick=quick, seed=seed, upper=upper_limit, t0=t0)
    kinds = [k for k in PLOT_KINDS if not (quick and k in ("gof", "coverage"))]
    wanted = {*kinds, "compare", "significance", "gof_asymptotic"}
    res, skipped = run_stages(
        inputs,
        wanted,
        ntoys=ntoys,
        seed=seed,
        n_points_1d=n_points_1d,
        n_points_2d=n_points_2d,
        upper=upper_limit,
    )
    if quick:
        skipped["toys"] = "--quick: the toy studies of §2.5 and §2.6 were not run"
    with _io.atomic_dir(final) as out:
        names = [n for k in kinds for n in KIND_FIGURES[k]]
        figures = draw_figures(inputs, res, names, out, skipped)

        sections = [header_section(inputs)]
        if "reproduction" in res:
            sections.append(reproduction_section(res["reproduction"], generated=inputs.generated))
        sections.append(figures_section(figures, out))
        if "toys_gof" in res or "toys_coverage" in res:
            sections.append(
                toys_section(
                    res.get("toys_gof", {}), res.get("toys_coverage", {}), study_seeds(seed)
                )
            )
        if "likelihood_fits" in res:
            sections.append(fit_section(res["likelihood_fits"].fit))
        if "scan" in res or "contour" in res:
            sections.append(scans_section(res.get("scan", {}), res.get("contour")))
        if "compare" in res:
            sections.append(compare_section(res["compare"]))
        if "gof" in res:
            sections.append(gof_section(res["gof"]))
        if "significance" in res:
            sections.append(significance_section(res["significance"]))
        if "likelihood_fits" in res:
            try:
                diag = run_diagnostics(
                    inputs, res["likelihood_fits"].fit, toys=not quick, seed=seed
                )
            except HiggsPyhfError as err:
                skipped["diagnostics"] = " ".join(str(err).split())
            else:
                res["diagnostics"] = diag
                more = draw_diagnostics(inputs, diag, res.get("significance"), out)
                figures.update(more)
                sections.append(diagnostics_section(diag, more))
        if skipped:
            sections.append(skipped_section(skipped))
        report_path = _io.write_text(out / "report.md", "\n\n".join(sections) + "\n")
        results_obj = {
            "workspace": inputs.workspace,
            "data_label": inputs.data_label,
            "generated": inputs.generated,
            "reproduction": _io.jsonable(res.get("reproduction")),
            "results": _io.jsonable({k: v for k, v in res.items() if k != "reproduction"}),
            "settings": {"ntoys": ntoys, "seed": seed, "quick": quick},
            "skipped": dict(sorted(skipped.items())),
            "figures": {k: v.name for k, v in sorted(figures.items())},
        }
        results_path = _io.write_json(out / "results.json", results_obj)
    seconds = time.perf_counter() - t0
    log.info("report written to %s in %.1f s", final, seconds)
    moved = {k: final / v.name for k, v in figures.items()}
    return ReportResult(
        final / report_path.name, final / results_path.name, moved, dict(skipped), seconds
    )


def _model_report(
    inputs: Any, final: Path, *, quick: bool, seed: int, upper: bool, t0: float
) -> ReportResult:
    """The report of a workspace the report's method does not apply to (several channels).

    The likelihood parts: the fit, discovery and limits, and the diagnostics.
    """
    from ..inference.fit import fit
    from ..inference.limits import upper_limit as cls_upper_limit
    from ..inference.significance import cls, discovery

    m, d = inputs.model, inputs.data
    best = fit(m, d, minos=(str(m.config.poi_name),))
    sig: dict[str, Any] = {"discovery": discovery(m, d), "cls": cls(m, d, poi_value=1.0)}
    if upper:
        sig["upper_limit"] = cls_upper_limit(m, d)
    skipped = {
        "reproduction": "the report's own method needs one channel with 'signal' × s_s and "
        f"'background' × s_b; this workspace has {len(inputs.spec['channels'])} channel(s) "
        f"and the parameters {sorted(m.config.parameters)[:8]}"
    }
    with _io.atomic_dir(final) as out:
        diag = run_diagnostics(inputs, best, toys=not quick, seed=seed)
        figures = draw_diagnostics(inputs, diag, sig, out)
        sections = [
            _model_header(inputs),
            fit_section(best),
            significance_section(sig),
            diagnostics_section(diag, figures),
            skipped_section(skipped),
        ]
        report_path = _io.write_text(out / "report.md", "\n\n".join(sections) + "\n")
        results_obj = {
            "workspace": inputs.workspace,
            "data_label": inputs.data_label,
            "generated": inputs.generated,
            "reproduction": None,
            "results": _io.jsonable({"fit": best, "significance": sig, "diagnostics": diag}),
            "settings": {"seed": seed, "quick": quick},
            "skipped": skipped,
            "figures": {k: v.name for k, v in sorted(figures.items())},
        }
        results_path = _io.write_json(out / "results.json", results_obj)
    moved = {k: final / v.name for k, v in figures.items()}
    return ReportResult(
        final / report_path.name,
        final / results_path.name,
        moved,
        skipped,
        time.perf_counter() - t0,
    )


def _model_header(inputs: Any) -> str:
    """Title, data label and channels of a workspace without the report's method.

    Everything here is the workspace's own: its name, channels, samples and POI.
    """
    cfg = inputs.model.config
    obs = inputs.data[: cfg.nmaindata]
    samples = {
        ch["name"]: ", ".join(f"`{s['name']}`" for s in ch["samples"])
        for ch in inputs.spec["channels"]
    }
    rows = [
        f"| `{ch}` | {cfg.channel_nbins[ch]} | {samples.get(ch, '')} | "
        f"{obs[cfg.channel_slices[ch]].sum():g} |"
        for ch in cfg.channels
    ]
    origin = (
        ""
        if inputs.provenance
        else " (origin not recorded: no provenance file next to the workspace)"
    )
    return "\n".join(
        [
            f"# `{inputs.name}`: likelihood analysis of POI `{cfg.poi_name}` "
            f"in {len(cfg.channels)} channel(s)",
            "",
            f"**Data: {inputs.data_label}**{origin}. The report's own χ² method needs one "
            "channel with `signal` × `s_s` and `background` × `s_b`; this workspace is "
            "analysed with the likelihood only.",
            "",
            "| channel | bins | samples | observed events |",
            "|---|---|---|---|",
            *rows,
            "",
            f"Parameters: {cfg.npars} ({len(cfg.parameters)} modifiers); POI `{cfg.poi_name}`.",
        ]
    )
