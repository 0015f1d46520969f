"""CLI commands of the toys area: ``toys gof|coverage|coverage-table|hypotest|contour``.

The studies take their options by name: each command hands the run options
(``--ntoys``, ``--seed``, ``--sampling``, …) straight to its function in
:mod:`higgs_pyhf.inference.toys`. ``toys contour`` lives in :mod:`.toy_regions`.
"""

from __future__ import annotations

import functools
from typing import Any

import click

from .._io import write_text
from ._common import emit_json, extra_output_option, output_option
from ._toy_options import (
    figure_options,
    ntoys_option,
    run_options,
    run_study,
    sampling_option,
    save_npz,
    seed_option,
    study_options,
)
from ._types import FINITE_FLOAT, FiniteFloatRange
from ._workspace import WorkspaceInput, workspace_input
from .toy_regions import contour_cmd

__all__ = ["COMMANDS"]


def _statistic_option(help_text: str) -> Any:
    """``--statistic likelihood|pearson|neyman`` (default likelihood) with ``help_text``."""
    return click.option(
        "--statistic",
        type=click.Choice(["likelihood", "pearson", "neyman"]),
        default="likelihood",
        show_default=True,
        help=help_text,
    )


#: ``--sampling`` of the CLs studies (their Gaussian toys are clipped at 0: no ``--negative``).
_clipped_sampling_option = sampling_option("Poisson toys, or Gaussian (clipped at 0).")


@click.group("toys")
def toys() -> None:
    """Pseudo-experiments: goodness of fit, coverage, toy CLs/p0, toy-calibrated regions."""


@toys.command("gof")
@study_options(10_000)
@extra_output_option(
    "--save-toys", "Also write every toy's statistic to this .npz file (the JSON keeps a summary)."
)
@_statistic_option(
    "GoF statistic (likelihood = -2 ln lambda_saturated; pearson/neyman: the report's)."
)
@click.option(
    "--mode",
    type=click.Choice(["refit", "fixed"]),
    default="refit",
    show_default=True,
    help="refit: fit every toy like the data (consistent with the data's post-fit value); fixed: the report's (no refit).",
)
def gof_cmd(
    workspace: WorkspaceInput,
    output: str | None,
    figdir: str | None,
    generated_label: bool | None,
    save_toys: str | None,
    save_partial: str | None,
    **run: Any,
) -> None:
    """Toy distribution of the GoF statistic and the data's toy p-value."""
    from ..inference.toys import gof_toys
    from ..plotting.toys import plot_gof

    res = run_study(
        workspace,
        functools.partial(gof_toys, **run),
        run["ntoys"],
        save_partial,
        summarize=True,
        figure=("toys_gof.png", plot_gof, figdir, generated_label),
    )
    if save_toys is not None:
        save_npz(save_toys, toy_values=res.toy_values)
    emit_json(res.to_json(), output)


@toys.command("coverage")
@study_options(10_000)
@click.option(
    "--parameter",
    "parameters",
    multiple=True,
    metavar="NAME",
    help="Tested parameter (repeatable; default: every free normfactor; others are profiled).",
)
@_statistic_option("Statistic whose Delta is tested at the true parameters.")
@click.option(
    "--minimization",
    type=click.Choice(["continuous", "grid"]),
    default="continuous",
    show_default=True,
    help="Continuous (engine fits) or the report's 100x100 grid with the truth snapped to it.",
)
def coverage_cmd(
    workspace: WorkspaceInput,
    output: str | None,
    figdir: str | None,
    generated_label: bool | None,
    parameters: tuple[str, ...],
    save_partial: str | None,
    **run: Any,
) -> None:
    """Coverage f(d) and the 68.27% critical value (truth: the best fit to the data)."""
    from ..inference.toys import coverage_toys
    from ..plotting.toys import plot_coverage

    res = run_study(
        workspace,
        functools.partial(coverage_toys, parameters=parameters or None, **run),
        run["ntoys"],
        save_partial,
        summarize=True,
        figure=("toys_coverage.png", plot_coverage, figdir, generated_label),
    )
    emit_json(res.to_json(), output)


@toys.command("coverage-table")
@workspace_input
@ntoys_option(10_000, "Toys per combination")
@seed_option("Seed shared by every combination.")
@run_options()
@output_option()
@figure_options
@extra_output_option("--markdown", "Also write the table as Markdown to this file.")
def coverage_table_cmd(
    workspace: WorkspaceInput,
    output: str | None,
    markdown: str | None,
    figdir: str | None,
    generated_label: bool | None,
    **run: Any,
) -> None:
    """Critical values of the report's ingredient combinations (which one gives 3.3?)."""
    from ..inference.toys import TABLE_ROWS, coverage_table
    from ..plotting.toys import plot_coverage_table

    res = run_study(
        workspace,
        functools.partial(coverage_table, **run),
        len(TABLE_ROWS) * run["ntoys"],
        figure=("toys_coverage_table.png", plot_coverage_table, figdir, generated_label),
    )
    if markdown is not None:
        write_text(markdown, res.to_markdown())
    emit_json(res.to_json(), output)


@toys.command("hypotest")
@study_options(5_000, "Toys per ensemble", sampling=False)
@_clipped_sampling_option
@click.option(
    "--poi-value",
    type=FINITE_FLOAT,
    default=1.0,
    show_default=True,
    help="Tested POI value for CLs.",
)
@click.option(
    "--no-asymptotic", is_flag=True, default=False, help="Skip the asymptotic comparison."
)
def hypotest_cmd(
    workspace: WorkspaceInput,
    output: str | None,
    figdir: str | None,
    generated_label: bool | None,
    no_asymptotic: bool,
    save_partial: str | None,
    **run: Any,
) -> None:
    """Toy CLs (q~_mu) at --poi-value with its toy expected band and toy p0 (q0), beside the asymptotic values."""
    from ..inference.toys import hypotest_toys
    from ..plotting.toys import plot_hypotest

    res = run_study(
        workspace,
        functools.partial(hypotest_toys, asymptotic=not no_asymptotic, **run),
        2 * run["ntoys"],
        save_partial,
        figure=("toys_hypotest.png", plot_hypotest, figdir, generated_label),
    )
    emit_json(res.to_json(), output)


@toys.command("limit")
@study_options(2_000, "Toys per ensemble at each POI value", figures=False, sampling=False)
@click.option(
    "--scan",
    "scan",
    type=(FINITE_FLOAT, FINITE_FLOAT, click.IntRange(min=2, max=1000)),
    required=True,
    metavar="LO HI N",
    help="POI values tested with toys (N values from LO to HI).",
)
@click.option(
    "--level",
    type=FiniteFloatRange(0.0, 1.0, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="CLs threshold of the limit.",
)
@_clipped_sampling_option
def limit_cmd(
    workspace: WorkspaceInput,
    output: str | None,
    scan: tuple[float, float, int],
    level: float,
    save_partial: str | None,
    **run: Any,
) -> None:
    """Toy-based CLs upper limit on the POI with its toy expected band (a scan of toy CLs)."""
    import numpy as np

    from ..inference.toys import toy_upper_limit

    lo, hi, n = scan
    res = run_study(
        workspace,
        functools.partial(toy_upper_limit, poi_values=np.linspace(lo, hi, n), level=level, **run),
        2 * n * run["ntoys"],
        save_partial,
    )
    emit_json(res.to_dict(), output)


toys.add_command(contour_cmd)

COMMANDS: list[click.Command] = [toys]
