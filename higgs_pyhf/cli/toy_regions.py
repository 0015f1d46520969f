"""CLI command ``toys contour``: toy-calibrated 2D confidence regions (a Neyman construction)."""

from __future__ import annotations

import functools
from typing import Any

import click

from ..inference.toys.contour import CONTOUR_POOL
from ._common import emit_json, figdir_option, figure_labels, first_measurement, save_figure_to
from ._toy_options import common_options, ntoys_option, run_study
from ._types import range_option
from ._workspace import WorkspaceInput

__all__ = ["contour_cmd"]


@click.command("contour")
@common_options(pool=CONTOUR_POOL)
@ntoys_option(1_000, "Toys per grid point")
@click.option(
    "--parameters",
    "parameters",
    type=(str, str),
    default=("s_s", "s_b"),
    show_default=True,
    metavar="X Y",
    help="The two parameters of the region.",
)
@click.option(
    "--n-points",
    type=click.IntRange(min=2, max=200),
    default=21,
    show_default=True,
    help="Grid points per axis.",
)
@range_option("--x-range", help_text="Range of X.")
@range_option("--y-range", help_text="Range of Y.")
@figdir_option
def contour_cmd(
    workspace: WorkspaceInput,
    output: str | None,
    parameters: tuple[str, str],
    n_points: int,
    x_range: tuple[float, float] | None,
    y_range: tuple[float, float] | None,
    figdir: str | None,
    **run: Any,
) -> None:
    """Toy-calibrated 68.27%/95% regions of two parameters (Neyman, likelihood-ratio ordering)."""
    import numpy as np

    from ..inference.toys import toy_contour
    from ..plotting.bands import plot_toy_contour

    res = run_study(
        workspace,
        functools.partial(
            toy_contour,
            parameters=parameters,
            x_values=None if x_range is None else np.linspace(*x_range, n_points),
            y_values=None if y_range is None else np.linspace(*y_range, n_points),
            n_points=(n_points, n_points),
            **run,
        ),
        n_points * n_points * run["ntoys"],
    )
    fl = figure_labels(workspace, first_measurement(workspace.spec))
    save_figure_to(
        figdir,
        "toys_contour.png",
        lambda: plot_toy_contour(res, data_label=fl.data_label, lumi_fb=fl.lumi_fb, **fl.header),
    )
    emit_json(res.to_json(), output)
