"""CLI commands of the compare area: ``chi2-grid`` and ``compare``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from .._io import write_text
from ..inference.chi2grid import STATISTICS, report_method, templates_from_workspace
from ..inference.compare import compare
from ._common import emit_json, extra_output_option, output_option
from ._types import FINITE_FLOAT
from ._workspace import WorkspaceInput, workspace_input

__all__ = ["COMMANDS"]

log = logging.getLogger(__name__)


def _grid_option(name: str, default: tuple[float, float, int], help_text: str) -> Any:
    """A ``START STOP NUM`` grid option of the report's method (``--s-s-1d`` …), shown with its default."""
    return click.option(
        name,
        type=(FINITE_FLOAT, FINITE_FLOAT, int),
        default=default,
        show_default=True,
        metavar="START STOP NUM",
        help=help_text,
    )


@click.command("chi2-grid")
@workspace_input
@click.option(
    "--statistic",
    type=click.Choice(sorted(STATISTICS)),
    default="pearson",
    show_default=True,
    help="pearson: the report's calcChiSq; neyman: obs in the denominator; poisson: Baker-Cousins.",
)
@click.option(
    "--full/--summary",
    default=False,
    show_default=True,
    help="Include the Δχ² grids (reloadable with ReportResult.from_json) instead of the printed numbers only.",
)
@_grid_option("--s-s-1d", (1.0, 3.0, 100), "s_s grid of the 1D fit (s_b = 1).")
@_grid_option("--s-b-1d", (1.15, 1.4, 100), "s_b grid of the 1D fit (s_s = 1).")
@_grid_option("--s-s-2d", (0.1, 2.7, 100), "s_s axis of the 2D grid.")
@_grid_option("--s-b-2d", (1.1, 1.5, 100), "s_b axis of the 2D grid.")
@output_option()
def chi2_grid_command(
    workspace: WorkspaceInput,
    statistic: str,
    full: bool,
    s_s_1d: tuple[float, float, int],
    s_b_1d: tuple[float, float, int],
    s_s_2d: tuple[float, float, int],
    s_b_2d: tuple[float, float, int],
    output: str | None,
) -> None:
    """The seed report's χ² grid method on WORKSPACE (a pyhf JSON file).

    1D grids (s_s in [1, 3] with s_b = 1; s_b in [1.15, 1.4] with s_s = 1),
    the 2D grid (s_s in [0.1, 2.7] × s_b in [1.1, 1.5]), the report's errors
    and slice intervals, χ²/dof and p-values before and after the fit.
    """
    spec = workspace.spec
    signal, background, data = templates_from_workspace(spec)
    for name, grid in (
        ("--s-s-1d", s_s_1d),
        ("--s-b-1d", s_b_1d),
        ("--s-s-2d", s_s_2d),
        ("--s-b-2d", s_b_2d),
    ):
        if grid[2] < 3 or not grid[0] < grid[1]:
            msg = f"{name} needs START < STOP and NUM >= 3, got {grid[0]:g} {grid[1]:g} {grid[2]}"
            raise click.BadParameter(msg, param_hint=name)
    result = report_method(
        signal,
        background,
        data,
        statistic=statistic,
        s_s_1d=s_s_1d,
        s_b_1d=s_b_1d,
        s_s_2d=s_s_2d,
        s_b_2d=s_b_2d,
    )
    log.info(
        "chi2-grid (%s) on %s: 2D best fit %s", statistic, workspace, result.scan_2d.scan.bestfit
    )
    emit_json(result.to_json() if full else result.summary(), output)


@click.command("compare")
@workspace_input
@extra_output_option("--markdown", "Also write the comparison as a Markdown table to this file.")
@output_option()
def compare_command(workspace: WorkspaceInput, markdown: str | None, output: str | None) -> None:
    """Compare the report's grid χ², χ² minimizations and the Poisson likelihood on WORKSPACE.

    One row per method: best-fit s_s and s_b, their 68% intervals (and how
    they were defined), χ²/dof or −2lnL, and the goodness-of-fit p-value.
    """
    result = compare(workspace.spec, label=Path(workspace).name)
    emit_json(result.to_json(), output)
    if markdown is not None:
        write_text(markdown, result.to_markdown())
        log.info("wrote %s", markdown)


COMMANDS: list[click.Command] = [chi2_grid_command, compare_command]
