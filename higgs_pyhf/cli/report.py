"""CLI commands of the report area: ``plot`` and ``report``."""

from __future__ import annotations

import click

from ..report import DEFAULT_NTOYS, DEFAULT_SEED, PLOT_KINDS
from ._common import (
    emit_json,
    figure_format,
    figure_header,
    figure_lumi,
    figure_options,
    header_options,
    output_option,
)
from ._workspace import WorkspaceInput, workspace_input

__all__ = ["COMMANDS"]


def _toy_options(func: click.decorators.FC) -> click.decorators.FC:
    func = click.option(
        "--seed",
        type=click.IntRange(min=0),
        default=DEFAULT_SEED,
        show_default=True,
        help="Seed of the toy studies (each study derives its own).",
    )(func)
    return click.option(
        "--ntoys",
        type=click.IntRange(min=100, max=1_000_000),
        default=DEFAULT_NTOYS,
        show_default=True,
        help="Toys of each toy study (§2.5 goodness of fit, §2.6 critical value; both settings).",
    )(func)


@click.command("plot")
@workspace_input
@click.option(
    "--figdir",
    type=click.Path(file_okay=False),
    required=True,
    help="Directory for the figures (created if needed).",
)
@click.option(
    "--kind",
    "kinds",
    type=click.Choice((*PLOT_KINDS, "all")),
    multiple=True,
    default=("all",),
    show_default=True,
    help="Figures to draw (repeatable): the report's figures 2.1 (prefit), 2.2a (contour), "
    "2.2b (postfit), the §2.5 GoF toys (gof), 2.3 (coverage), and the 1D scans (scan).",
)
@_toy_options
@figure_options
@output_option()
def plot_cmd(
    workspace: WorkspaceInput,
    figdir: str,
    kinds: tuple[str, ...],
    ntoys: int,
    seed: int,
    output: str | None,
) -> None:
    """Draw the report's figures of WORKSPACE beside their likelihood counterparts; print the paths as JSON.

    A workspace that is not the report's model gets the figures of any model
    (stacks with bands, POI scan, contour, pulls, impacts, toys).
    """
    from ..report import make_plots

    selected = PLOT_KINDS if "all" in kinds else tuple(dict.fromkeys(kinds))
    figures = make_plots(
        workspace,
        figdir,
        kinds=selected,
        ntoys=ntoys,
        seed=seed,
        header=figure_header(),
        lumi_fb=figure_lumi(),
        figure_format=figure_format(),
        spec=workspace.spec,
        patches=workspace.patches,
    )
    emit_json({"figures": {k: str(v) for k, v in sorted(figures.items())}}, output)


@click.command("report")
@workspace_input
@click.option(
    "-o",
    "--outdir",
    type=click.Path(file_okay=False),
    required=True,
    help="Output directory for report.md, results.json and the figures.",
)
@_toy_options
@click.option(
    "--quick",
    is_flag=True,
    default=False,
    help="Skip the toy studies (§2.5 and §2.6) and their figures.",
)
@click.option(
    "--upper-limit/--no-upper-limit",
    default=True,
    show_default=True,
    help="Compute the 95% CLs upper limit on s_s (slow with many nuisance parameters).",
)
@header_options
def report_cmd(
    workspace: WorkspaceInput, outdir: str, ntoys: int, seed: int, quick: bool, upper_limit: bool
) -> None:
    """Reproduce the seed report on WORKSPACE, redo it with the likelihood; write OUTDIR/report.md, results.json and PNGs.

    report.md opens with the table of the report's numbers: as printed, with
    the report's method, and with the Poisson likelihood. Prints a JSON
    summary (paths written, skipped stages, seconds) on stdout.
    """
    from ..report import make_report

    result = make_report(
        workspace,
        outdir,
        ntoys=ntoys,
        seed=seed,
        quick=quick,
        upper_limit=upper_limit,
        header=figure_header(),
        lumi_fb=figure_lumi(),
        spec=workspace.spec,
        patches=workspace.patches,
    )
    emit_json(result.to_json())


COMMANDS: list[click.Command] = [plot_cmd, report_cmd]
