"""CLI commands of the report area: ``plot`` and ``report``."""

from __future__ import annotations

import click

from ._common import emit_json, output_option

__all__ = ["COMMANDS"]

_KINDS = ("prefit", "postfit", "scan", "contour", "all")


@click.command("plot")
@click.argument("workspace", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--figdir",
    type=click.Path(file_okay=False),
    required=True,
    help="Directory for the PNG figures (created if needed).",
)
@click.option(
    "--kind",
    "kinds",
    type=click.Choice(_KINDS),
    multiple=True,
    default=("all",),
    show_default=True,
    help="Figures to draw (repeatable): pre/post-fit stacks, 1D scans, 2D contours.",
)
@output_option()
def plot_cmd(workspace: str, figdir: str, kinds: tuple[str, ...], output: str | None) -> None:
    """Draw the fit figures of WORKSPACE; print the paths written as JSON."""
    from ..report import PLOT_KINDS, make_plots

    selected = PLOT_KINDS if "all" in kinds else tuple(dict.fromkeys(kinds))
    figures = make_plots(workspace, figdir, kinds=selected)
    emit_json({"figures": {k: str(v) for k, v in sorted(figures.items())}}, output)


@click.command("report")
@click.argument("workspace", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-o",
    "--outdir",
    type=click.Path(file_okay=False),
    required=True,
    help="Output directory for report.md, results.json and the figures.",
)
@click.option(
    "--upper-limit/--no-upper-limit",
    default=True,
    show_default=True,
    help="Compute the 95% CLs upper limit on s_s (slow with many nuisance parameters).",
)
def report_cmd(workspace: str, outdir: str, upper_limit: bool) -> None:
    """Run every inference step on WORKSPACE and write OUTDIR/report.md, results.json and PNGs.

    Prints a JSON summary (paths written, skipped sections, seconds) on stdout.
    """
    from ..report import make_report

    emit_json(make_report(workspace, outdir, upper_limit=upper_limit).to_json())


COMMANDS: list[click.Command] = [plot_cmd, report_cmd]
