"""CLI commands of the fit diagnostics: ``pulls``, ``impacts``, ``correlations``, ``yields``.

Each reads a workspace, fits it once (the batched engine), prints its result
as JSON (or writes it to ``-o``) and, with ``--figdir DIR``, writes its
figures there. Bin edges and the data label of the figures come from the
workspace's provenance file when there is one.
"""

from __future__ import annotations

import logging
from typing import Any

import click

from .._guard import safe_names
from .._io import write_text
from ..errors import ConfigError, FitError
from ..spec.json_input import read_json
from ._common import (
    emit_json,
    extra_output_option,
    figdir_option,
    figure_labels,
    first_measurement,
    output_option,
    save_figure_to,
)
from ._types import FiniteFloatRange
from ._workspace import WorkspaceInput, workspace_input

__all__ = ["COMMANDS"]

log = logging.getLogger(__name__)

_workspace_arg = workspace_input


def _fit(workspace: WorkspaceInput) -> tuple[dict[str, Any], Any, Any, Any]:
    """Read the workspace once; the spec, the model, the data and the best fit."""
    from ..inference.fit import fit

    model, data = workspace.model_and_data()
    fr = fit(model, data)
    if not fr.converged:
        msg = f"the fit of {workspace.source} did not converge ({fr.status})"
        raise FitError(msg)
    return workspace.spec, model, data, fr


def _groups(items: tuple[str, ...], groups_file: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if groups_file is not None:
        obj = read_json(groups_file, what="groups file", error=ConfigError)
        if not isinstance(obj, dict) or not all(isinstance(v, str) for v in obj.values()):
            msg = f"{groups_file} must hold a JSON object parameter -> group name"
            raise ConfigError(msg)
        out.update(obj)
    for item in items:
        name, sep, group = item.partition("=")
        if not sep or not name.strip() or not group.strip():
            msg = f"--group expects PARAMETER=GROUP, got {item!r}"
            raise click.BadParameter(msg)
        out[name.strip()] = group.strip()
    return out


@click.command("pulls")
@_workspace_arg
@figdir_option
@output_option()
def pulls_cmd(workspace: WorkspaceInput, figdir: str | None, output: str | None) -> None:
    """Post-fit pulls (θ̂ − θ₀)/σ_prefit and constraints σ_postfit/σ_prefit of the nuisances."""
    from ..inference.pulls import pulls
    from ..plotting.diagnostics import plot_pulls

    _, model, data, fr = _fit(workspace)
    res = pulls(model, data, fit_result=fr)
    if res.parameters:
        save_figure_to(figdir, "pulls.png", lambda: plot_pulls(res))
    else:
        log.warning("the model has no constrained parameters: no pulls figure")
    emit_json(res.to_json(), output)


@click.command("impacts")
@_workspace_arg
@click.option("--poi", default=None, help="Parameter whose shifts are ranked [default: the POI].")
@click.option(
    "--group",
    "group",
    multiple=True,
    metavar="PARAMETER=GROUP",
    help="Put a parameter (label or vector name) in a group (repeatable; default group: its modifier type).",
)
@click.option(
    "--groups",
    "groups_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="JSON file mapping parameter -> group.",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Parameters in the figure.",
)
@figdir_option
@output_option()
def impacts_cmd(
    workspace: WorkspaceInput,
    poi: str | None,
    group: tuple[str, ...],
    groups_file: str | None,
    top: int,
    figdir: str | None,
    output: str | None,
) -> None:
    """Pre- and post-fit impacts on the POI of every other free parameter (ranking), grouped, stat/syst."""
    from ..inference.impacts import impacts
    from ..plotting.diagnostics import plot_impacts

    mapping = _groups(group, groups_file)
    _, model, data, fr = _fit(workspace)
    res = impacts(model, data, fit_result=fr, poi=poi, groups=mapping or None)
    if res.impacts:
        save_figure_to(figdir, "impacts.png", lambda: plot_impacts(res, top=top))
    else:
        log.warning("the model has no free parameters besides the POI: no impacts figure")
    emit_json(res.to_json(), output)


@click.command("correlations")
@_workspace_arg
@click.option(
    "--threshold",
    type=FiniteFloatRange(min=0.0, max=1.0),
    default=0.1,
    show_default=True,
    help="Keep the parameters with some |rho| above this with another one.",
)
@figdir_option
@output_option()
def correlations_cmd(
    workspace: WorkspaceInput, threshold: float, figdir: str | None, output: str | None
) -> None:
    """The post-fit correlation matrix, pruned to the parameters correlated above --threshold."""
    from ..inference.pulls import correlations
    from ..plotting.diagnostics import plot_correlations

    *_, fr = _fit(workspace)
    res = correlations(fr, threshold=threshold)
    if res.parameters:
        save_figure_to(figdir, "correlations.png", lambda: plot_correlations(res))
    else:
        log.warning("no parameters correlated above %g: no figure", threshold)
    emit_json(res.to_json(), output)


@click.command("yields")
@_workspace_arg
@extra_output_option("--markdown", "Also write the yield table as Markdown to this file.")
@extra_output_option("--latex", "Also write the yield table as a LaTeX tabular to this file.")
@figdir_option
@output_option()
def yields_cmd(
    workspace: WorkspaceInput,
    markdown: str | None,
    latex: str | None,
    figdir: str | None,
    output: str | None,
) -> None:
    """Pre-/post-fit yields per sample and channel with uncertainties; figures with bands."""
    from ..inference.yields import yields
    from ..plotting.bands import plot_prefit_postfit
    from ..report.inputs import edges_from_provenance

    spec, model, data, fr = _fit(workspace)
    res = yields(model, data, fit_result=fr)
    if markdown is not None:
        write_text(markdown, res.to_markdown())
    if latex is not None:
        write_text(latex, res.to_latex())
    if figdir is not None:
        fl = figure_labels(workspace, first_measurement(spec))
        file_names = safe_names(res.channels)
        for c, ch in enumerate(res.channels):
            a, b = res.channel_bins[c]
            edges = edges_from_provenance(fl.provenance, int(b - a))

            def make(ch: str = ch, edges: Any = edges) -> Any:
                return plot_prefit_postfit(
                    res,
                    ch,
                    edges=edges,
                    xlabel=fl.xlabel,
                    data_label=fl.data_label,
                    lumi_fb=fl.lumi_fb,
                    **fl.header,
                )

            save_figure_to(figdir, f"yields_{file_names[ch]}.png", make)
    emit_json(res.to_dict(), output)


COMMANDS: list[click.Command] = [pulls_cmd, impacts_cmd, correlations_cmd, yields_cmd]
