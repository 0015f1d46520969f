"""CLI commands of the infer area: ``fit``, ``scan``, ``contour``, ``gof``, ``significance``.

Every command reads a pyhf workspace JSON file and prints its result as JSON
(or writes it to ``-o/--output``). ``fit`` prints the documented contract
``{"parameters": {name: {"value", "error", "minos": [lo, hi] | null, "fixed"}},
"twice_nll", "correlation": {name: {name: rho}}, "converged"}``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import click

from ..errors import FitError
from ..inference.scan import MAX_POINTS
from ._common import emit_json, figdir_option, figure_labels, output_option, save_figure_to
from ._types import FINITE_FLOAT, range_option
from ._workspace import WorkspaceInput, workspace_input

__all__ = ["COMMANDS"]

log = logging.getLogger(__name__)

_workspace_arg = workspace_input


def _name_value(option: str, items: tuple[str, ...]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            if not sep or not name:
                raise ValueError
            out[name.strip()] = float(value)
            if not math.isfinite(out[name.strip()]):
                raise ValueError
        except ValueError:
            msg = f"{option} expects NAME=VALUE with a finite VALUE, got {item!r}"
            raise click.BadParameter(msg) from None
    return out


def _name_bounds(items: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for item in items:
        name, sep, value = item.partition("=")
        parts = value.split(",")
        try:
            if not sep or not name or len(parts) != 2:
                raise ValueError
            out[name.strip()] = (float(parts[0]), float(parts[1]))
            if not all(map(math.isfinite, out[name.strip()])):
                raise ValueError
        except ValueError:
            msg = f"--bounds expects NAME=LO,HI (finite numbers), got {item!r}"
            raise click.BadParameter(msg) from None
    return out


@click.command("fit")
@_workspace_arg
@click.option(
    "--fix",
    "fix",
    multiple=True,
    metavar="NAME=VALUE",
    help="Hold a parameter constant (repeatable).",
)
@click.option(
    "--minos",
    "minos",
    multiple=True,
    metavar="NAME",
    help="Compute Minos errors for a parameter (repeatable).",
)
@click.option(
    "--init",
    "init",
    multiple=True,
    metavar="NAME=VALUE",
    help="Starting value of a parameter (repeatable).",
)
@click.option(
    "--bounds",
    "bounds",
    multiple=True,
    metavar="NAME=LO,HI",
    help="Bounds of a parameter (repeatable).",
)
@output_option()
def fit_cmd(
    workspace: WorkspaceInput,
    fix: tuple[str, ...],
    minos: tuple[str, ...],
    init: tuple[str, ...],
    bounds: tuple[str, ...],
    output: str | None,
) -> None:
    """Maximum-likelihood fit of WORKSPACE (the batched engine): values, Hesse and Minos errors, correlations."""
    from ..inference.fit import fit

    model, data = workspace.model_and_data()
    result = fit(
        model,
        data,
        fixed=_name_value("--fix", fix),
        init=_name_value("--init", init),
        bounds=_name_bounds(bounds),
        minos=minos,
    )
    emit_json(result.to_json(), output)
    if not result.converged:
        msg = f"the fit did not converge ({result.status}); the output holds the best point found"
        raise FitError(msg)


@click.command("scan")
@_workspace_arg
@click.option(
    "--parameter", "parameter", default=None, help="Parameter to scan [default: the model's POI]."
)
@click.option(
    "--n-points",
    type=click.IntRange(min=3, max=MAX_POINTS),
    default=101,
    show_default=True,
    help="Scan points.",
)
@range_option("--range", "range_", help_text="Scan range (default: best fit ± 4 Hesse errors).")
@click.option(
    "--conditional",
    is_flag=True,
    help="Hold the other parameters at their best fit instead of profiling them.",
)
@click.option(
    "--level",
    type=FINITE_FLOAT,
    default=1.0,
    show_default=True,
    help="Δ(−2lnL) defining the interval.",
)
@figdir_option
@output_option()
def scan_cmd(
    workspace: WorkspaceInput,
    parameter: str | None,
    n_points: int,
    range_: tuple[float, float] | None,
    conditional: bool,
    level: float,
    figdir: str | None,
    output: str | None,
) -> None:
    """1D Δ(−2lnL) scan of one parameter of WORKSPACE with its interval (figure: scan_NAME.png)."""
    from ..api import scan
    from ..plotting.scans import plot_scan_1d

    result = scan(
        workspace.model_and_data(),
        parameter,
        n_points=n_points,
        bounds=range_,
        conditional=conditional,
        level=level,
    )
    name = f"scan_{_file_part(result.parameter)}.png"
    _save_labelled_figure(figdir, name, workspace, plot_scan_1d, result)
    emit_json(result.to_json(), output)


def _save_labelled_figure(
    figdir: str | None, name: str, workspace: WorkspaceInput, plot: Any, result: Any
) -> None:
    """Draw ``plot(result, data_label=, lumi_fb=, **header)`` to ``figdir/name`` (nothing without a figdir).

    The labels are those of the workspace's provenance and the command line
    (:func:`~higgs_pyhf.cli._common.figure_labels`), read only with a figdir.
    """
    if figdir is None:
        return
    fl = figure_labels(workspace)
    save_figure_to(
        figdir,
        name,
        lambda: plot(result, data_label=fl.data_label, lumi_fb=fl.lumi_fb, **fl.header),
    )


def _file_part(name: str) -> str:
    """A parameter name as part of a file name (``[``, ``]`` and path separators replaced)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


@click.command("contour")
@_workspace_arg
@click.option(
    "--parameters",
    "parameters",
    type=(str, str),
    default=None,
    metavar="X Y",
    help="The two parameters [default: the POI and the first other free normfactor].",
)
@click.option(
    "--n-points",
    type=click.IntRange(min=3, max=int(MAX_POINTS**0.5)),
    default=101,
    show_default=True,
    help="Grid points per axis.",
)
@range_option("--x-range", help_text="Range of the first parameter.")
@range_option("--y-range", help_text="Range of the second parameter.")
@click.option(
    "--conditional",
    is_flag=True,
    help="Hold the other parameters at their best fit instead of profiling them.",
)
@figdir_option
@output_option()
def contour_cmd(
    workspace: WorkspaceInput,
    parameters: tuple[str, str] | None,
    n_points: int,
    x_range: tuple[float, float] | None,
    y_range: tuple[float, float] | None,
    conditional: bool,
    figdir: str | None,
    output: str | None,
) -> None:
    """2D Δ(−2lnL) grid of two parameters with the 2.30/5.99 contours' 68% intervals (figure: contour_X_Y.png)."""
    from ..api import contour
    from ..plotting.contours import plot_scan_2d

    result = contour(
        workspace.model_and_data(),
        parameters,
        n_points=n_points,
        x_range=x_range,
        y_range=y_range,
        conditional=conditional,
    )
    x, y = (_file_part(p) for p in result.parameters)
    _save_labelled_figure(figdir, f"contour_{x}_{y}.png", workspace, plot_scan_2d, result)
    emit_json(result.to_json(), output)


@click.command("gof")
@_workspace_arg
@output_option()
def gof_cmd(workspace: WorkspaceInput, output: str | None) -> None:
    """Goodness of fit: Pearson χ² p-values before/after the fit, saturated-model p-value."""
    from ..inference.gof import goodness_of_fit

    model, data = workspace.model_and_data()
    emit_json(goodness_of_fit(model, data).to_json(), output)


@click.command("significance")
@_workspace_arg
@click.option(
    "--poi-value",
    type=FINITE_FLOAT,
    default=1.0,
    show_default=True,
    help="POI value tested for CLs.",
)
@click.option(
    "--level",
    type=FINITE_FLOAT,
    default=0.05,
    show_default=True,
    help="CLs threshold of the upper limit.",
)
@click.option(
    "--scan",
    "scan",
    type=(FINITE_FLOAT, FINITE_FLOAT, click.IntRange(min=2, max=MAX_POINTS)),
    default=None,
    metavar="LO HI N",
    help="Upper limit interpolated on a POI grid instead of bisection.",
)
@click.option(
    "--no-limit",
    is_flag=True,
    help="Skip the upper limit (discovery and CLs only).",
)
@click.option(
    "--brazil",
    is_flag=True,
    help="Draw CLs vs the POI with the expected bands (brazil.png; implied by --figdir).",
)
@figdir_option
@output_option()
def significance_cmd(
    workspace: WorkspaceInput,
    poi_value: float,
    level: float,
    scan: tuple[float, float, int] | None,
    no_limit: bool,
    brazil: bool,
    figdir: str | None,
    output: str | None,
) -> None:
    """Discovery p0 and Z, CLs at --poi-value, and the CLs upper limit with its expected band.

    Every part that was computed is printed; a part that failed holds
    ``{"error": why}`` and one whose fits did not all converge says so in its
    ``status``; either makes the command exit 1 after printing.
    """
    import numpy as np

    from ..api import significance

    if brazil and figdir is None:
        msg = "--brazil needs --figdir DIR"
        raise click.UsageError(msg)
    if brazil and no_limit:
        msg = "--brazil needs the upper limit: drop --no-limit"
        raise click.UsageError(msg)

    model, data = workspace.model_and_data()
    res = significance(
        (model, data), poi_value=poi_value, level=level, scan=scan, no_limit=no_limit
    )
    for note in res.notes:
        log.warning("%s", note)
    limit = res.upper_limit
    if figdir is not None and limit is not None:
        from ..inference.significance import cls_scan
        from ..plotting.bands import plot_brazil

        if scan is None:  # a finer scan for the curves; the limits stay the bisected ones
            found = [v for v in (limit.expected[4], limit.observed) if np.isfinite(v)]
            top = min(1.3 * max(found, default=np.inf), float(limit.scan[-1]))
            grid = np.linspace(float(limit.scan[0]), top, 81)
            obs, exp = cls_scan(model, data, grid)
            limit = limit._replace(scan=grid, cls_observed=obs, cls_expected=exp)
        _save_labelled_figure(figdir, "brazil.png", workspace, plot_brazil, limit)
    emit_json(res.to_dict(), output)
    if res.failed:
        msg = "; ".join(res.failed) + " (the output holds every part that was computed)"
        raise FitError(msg)


COMMANDS: list[click.Command] = [fit_cmd, scan_cmd, contour_cmd, gof_cmd, significance_cmd]
