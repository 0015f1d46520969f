"""CLI commands of the toys area: ``toys gof|coverage|coverage-table|hypotest|contour``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..inference.toys.sampling import MAX_TOYS
from ._common import emit_json, output_option, progress_bar, scheduler_options

__all__ = ["COMMANDS"]

log = logging.getLogger(__name__)


def _figure_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--figdir",
        type=click.Path(file_okay=False),
        default=None,
        help="Write the figures to this directory.",
    )(func)
    return click.option(
        "--generated-label/--no-generated-label",
        default=None,
        help="Caption the figures as made from generated (synthetic) input "
        "[default: when the workspace's measurement name says 'generated'].",
    )(func)


def _ntoys_option(default: int, what: str = "Number of toys.") -> Callable[..., Any]:
    return click.option(
        "--ntoys",
        type=click.IntRange(min=1, max=MAX_TOYS),
        default=default,
        show_default=True,
        help=f"{what} (at most {MAX_TOYS:,}).",
    )


def _common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = output_option()(func)
    func = scheduler_options(func)
    func = click.option(
        "--aux",
        type=click.Choice(["sample", "fixed"]),
        default="sample",
        show_default=True,
        help="Sample the auxiliary data of constrained parameters, or keep them fixed.",
    )(func)
    func = click.option(
        "--block-size",
        type=click.IntRange(min=1),
        default=1000,
        show_default=True,
        help="Toys per seeding block.",
    )(func)
    func = click.option(
        "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the toys."
    )(func)
    return click.argument("workspace", type=click.Path(exists=True, dir_okay=False))(func)


def _sampling_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--negative",
        type=click.Choice(["keep", "clip"]),
        default="keep",
        show_default=True,
        help="Gaussian toys below zero: keep them (the report's) or clip to 0.",
    )(func)
    return click.option(
        "--sampling",
        type=click.Choice(["poisson", "gaussian"]),
        default="poisson",
        show_default=True,
        help="Poisson toys or the report's Gaussian with sigma = sqrt(mean).",
    )(func)


def _label(flag: bool | None, spec: dict[str, Any]) -> bool:
    """The generated-input caption: as asked, else when a measurement name says 'generated'."""
    if flag is not None:
        return flag
    return any("generated" in m["name"] for m in spec.get("measurements", []))


def _load(workspace: str) -> tuple[Any, Any, dict[str, Any]]:
    from ..workspace import load_workspace, model_and_data

    spec = load_workspace(workspace)
    model, data = model_and_data(spec, validate=False)
    return model, data, spec


def _save_npz(path: str, **arrays: Any) -> None:
    """Write arrays to an .npz file atomically."""
    import numpy as np

    from .._io import atomic_path

    with atomic_path(path) as tmp, tmp.open("wb") as f:
        np.savez_compressed(f, **arrays)


def _figure(figdir: str | None, name: str, make: Callable[[], Any]) -> None:
    if figdir is None:
        return
    import matplotlib.pyplot as plt

    from ..plotting import save_figure

    fig = make()
    path = save_figure(fig, Path(figdir) / name)
    plt.close(fig)
    log.info("wrote %s", path)


@click.group("toys")
def toys() -> None:
    """Pseudo-experiments: goodness of fit, coverage, toy CLs/p0."""


@toys.command("gof")
@_common_options
@_figure_options
@_sampling_options
@_ntoys_option(10_000)
@click.option(
    "--save-toys",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write every toy's statistic to this .npz file (the JSON keeps a summary).",
)
@click.option(
    "--statistic",
    type=click.Choice(["likelihood", "pearson", "neyman"]),
    default="likelihood",
    show_default=True,
    help="GoF statistic (likelihood = -2 ln lambda_saturated; pearson/neyman: the report's).",
)
@click.option(
    "--mode",
    type=click.Choice(["refit", "fixed"]),
    default="refit",
    show_default=True,
    help="refit: fit every toy like the data (consistent with the data's post-fit value); fixed: the report's (no refit).",
)
def gof_cmd(
    workspace: str,
    seed: int,
    block_size: int,
    aux: str,
    workers: int,
    scheduler: str | None,
    output: str | None,
    generated_label: bool | None,
    figdir: str | None,
    sampling: str,
    negative: str,
    ntoys: int,
    save_toys: str | None,
    statistic: str,
    mode: str,
) -> None:
    """Toy distribution of the GoF statistic and the data's toy p-value."""
    from ..inference.toys import gof_toys

    model, data, spec = _load(workspace)
    with progress_bar(ntoys, "toys") as bar:
        res = gof_toys(
            model,
            data,
            ntoys=ntoys,
            seed=seed,
            statistic=statistic,
            mode=mode,
            sampling=sampling,
            negative=negative,
            aux=aux,
            block_size=block_size,
            workers=workers,
            scheduler=scheduler,
            progress=bar.update,
        )
    from ..plotting.toys import plot_gof

    _figure(
        figdir, "toys_gof.png", lambda: plot_gof(res, generated_label=_label(generated_label, spec))
    )
    if save_toys is not None:
        _save_npz(save_toys, toy_values=res.toy_values)
    emit_json(res.to_json(), output)


@toys.command("coverage")
@_common_options
@_figure_options
@_sampling_options
@_ntoys_option(10_000)
@click.option(
    "--parameter",
    "parameters",
    multiple=True,
    metavar="NAME",
    help="Tested parameter (repeatable; default: every free normfactor; others are profiled).",
)
@click.option(
    "--statistic",
    type=click.Choice(["likelihood", "pearson", "neyman"]),
    default="likelihood",
    show_default=True,
    help="Statistic whose Delta is tested at the true parameters.",
)
@click.option(
    "--minimization",
    type=click.Choice(["continuous", "grid"]),
    default="continuous",
    show_default=True,
    help="Continuous (engine fits) or the report's 100x100 grid with the truth snapped to it.",
)
def coverage_cmd(
    workspace: str,
    seed: int,
    block_size: int,
    aux: str,
    workers: int,
    scheduler: str | None,
    output: str | None,
    generated_label: bool | None,
    figdir: str | None,
    sampling: str,
    negative: str,
    ntoys: int,
    parameters: tuple[str, ...],
    statistic: str,
    minimization: str,
) -> None:
    """Coverage f(d) and the 68.27% critical value (truth: the best fit to the data)."""
    from ..inference.toys import coverage_toys

    model, data, spec = _load(workspace)
    with progress_bar(ntoys, "toys") as bar:
        res = coverage_toys(
            model,
            data,
            ntoys=ntoys,
            seed=seed,
            sampling=sampling,
            statistic=statistic,
            minimization=minimization,
            negative=negative,
            aux=aux,
            parameters=parameters or None,
            block_size=block_size,
            workers=workers,
            scheduler=scheduler,
            progress=bar.update,
        )
    from ..plotting.toys import plot_coverage

    _figure(
        figdir,
        "toys_coverage.png",
        lambda: plot_coverage(res, generated_label=_label(generated_label, spec)),
    )
    emit_json(res.to_json(), output)


@toys.command("coverage-table")
@click.argument("workspace", type=click.Path(exists=True, dir_okay=False))
@_ntoys_option(10_000, "Toys per combination")
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed shared by every combination.",
)
@scheduler_options
@output_option()
@click.option(
    "--markdown",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the table as Markdown to this file.",
)
def coverage_table_cmd(
    workspace: str,
    ntoys: int,
    seed: int,
    workers: int,
    scheduler: str | None,
    output: str | None,
    markdown: str | None,
) -> None:
    """Critical values of the report's ingredient combinations (which one gives 3.3?)."""
    from .._io import write_text
    from ..inference.toys import TABLE_ROWS, coverage_table

    model, data, _ = _load(workspace)
    with progress_bar(len(TABLE_ROWS) * ntoys, "toys") as bar:
        res = coverage_table(
            model,
            data,
            ntoys=ntoys,
            seed=seed,
            workers=workers,
            scheduler=scheduler,
            progress=bar.update,
        )
    if markdown is not None:
        write_text(markdown, res.to_markdown())
    emit_json(res.to_json(), output)


@toys.command("hypotest")
@_common_options
@_ntoys_option(5_000, "Toys per ensemble")
@click.option(
    "--sampling",
    type=click.Choice(["poisson", "gaussian"]),
    default="poisson",
    show_default=True,
    help="Poisson toys, or Gaussian (clipped at 0).",
)
@click.option(
    "--poi-value", type=float, default=1.0, show_default=True, help="Tested POI value for CLs."
)
@click.option(
    "--no-asymptotic", is_flag=True, default=False, help="Skip the asymptotic comparison."
)
def hypotest_cmd(
    workspace: str,
    seed: int,
    block_size: int,
    aux: str,
    workers: int,
    scheduler: str | None,
    output: str | None,
    ntoys: int,
    sampling: str,
    poi_value: float,
    no_asymptotic: bool,
) -> None:
    """Toy CLs (q~_mu) at --poi-value and toy p0 (q0), beside the asymptotic values."""
    from ..inference.toys import hypotest_toys

    model, data, _ = _load(workspace)
    with progress_bar(2 * ntoys, "toys") as bar:
        res = hypotest_toys(
            model,
            data,
            poi_value=poi_value,
            ntoys=ntoys,
            seed=seed,
            sampling=sampling,
            aux=aux,
            asymptotic=not no_asymptotic,
            block_size=block_size,
            workers=workers,
            scheduler=scheduler,
            progress=bar.update,
        )
    emit_json(res.to_json(), output)


@toys.command("contour")
@_common_options
@_ntoys_option(1_000, "Toys per grid point")
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
@click.option("--x-range", type=(float, float), default=None, metavar="LO HI", help="Range of X.")
@click.option("--y-range", type=(float, float), default=None, metavar="LO HI", help="Range of Y.")
@click.option(
    "--figdir",
    type=click.Path(file_okay=False),
    default=None,
    help="Write the figure (toys_contour.png) to this directory.",
)
def contour_cmd(
    workspace: str,
    seed: int,
    block_size: int,
    aux: str,
    workers: int,
    scheduler: str | None,
    output: str | None,
    ntoys: int,
    parameters: tuple[str, str],
    n_points: int,
    x_range: tuple[float, float] | None,
    y_range: tuple[float, float] | None,
    figdir: str | None,
) -> None:
    """Toy-calibrated 68.27%/95% regions of two parameters (Neyman, likelihood-ratio ordering)."""
    import numpy as np

    from ..inference.toys import toy_contour
    from ..plotting.bands import plot_toy_contour

    model, data, spec = _load(workspace)
    xs = None if x_range is None else np.linspace(*x_range, n_points)
    ys = None if y_range is None else np.linspace(*y_range, n_points)
    with progress_bar(n_points * n_points * ntoys, "toys") as bar:
        res = toy_contour(
            model,
            data,
            parameters,
            x_values=xs,
            y_values=ys,
            n_points=(n_points, n_points),
            ntoys=ntoys,
            seed=seed,
            aux=aux,
            block_size=block_size,
            workers=workers,
            scheduler=scheduler,
            progress=bar.update,
        )
    from .diagnostics import figure_labels

    measurement = str(spec.get("measurements", [{}])[0].get("name", ""))
    fl = figure_labels(workspace, measurement)
    _figure(
        figdir,
        "toys_contour.png",
        lambda: plot_toy_contour(res, data_label=fl.data_label, lumi_fb=fl.lumi_fb),
    )
    emit_json(res.to_json(), output)


COMMANDS: list[click.Command] = [toys]
