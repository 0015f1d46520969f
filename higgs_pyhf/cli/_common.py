"""Helpers shared by the CLI command modules: output, progress bars, options."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import click

from .._io import check_not_input, dumps_json, write_text

__all__ = [
    "FigureLabels",
    "emit_json",
    "figdir_option",
    "figure_labels",
    "output_option",
    "progress_bar",
    "refuse_overwriting_inputs",
    "save_figure_to",
    "scheduler_options",
]


def emit_json(obj: Any, output: str | Path | None = None) -> None:
    """Print ``obj`` as deterministic JSON to stdout, or write it atomically to ``output``."""
    text = dumps_json(obj)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_text(output, text)


def progress_bar(total: int, desc: str) -> Any:
    """A tqdm progress bar on stderr (hidden when stderr is not a terminal or with --no-progress)."""
    from tqdm.auto import tqdm

    ctx = click.get_current_context(silent=True)
    enabled = True
    if ctx is not None:
        enabled = ctx.find_root().params.get("progress", True)
    return tqdm(
        total=total, desc=desc, file=sys.stderr, disable=None if enabled else True, leave=False
    )


#: Parameters of a command that name files it reads.
INPUT_PARAMETERS = ("workspace", "config_name", "config_path", "templates", "patch", "patchset")
#: Parameters of a command that name files it writes.
OUTPUT_PARAMETERS = ("output", "markdown", "save_toys")


def refuse_overwriting_inputs(func: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse, before any work, an output path that is one of the command's input files."""

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        inputs = [kwargs.get(k) for k in INPUT_PARAMETERS if isinstance(kwargs.get(k), str | Path)]
        inputs += [
            v for k in INPUT_PARAMETERS if isinstance(kwargs.get(k), tuple) for v in kwargs[k]
        ]
        for key in OUTPUT_PARAMETERS:
            value = kwargs.get(key)
            if isinstance(value, str | Path):
                check_not_input(value, inputs)
        return func(**kwargs)

    return wrapper


def output_option(
    help_text: str = "Write the JSON result to this file instead of stdout.",
) -> Callable[..., Any]:
    """The ``-o/--output`` option for commands that print JSON (never one of their inputs)."""
    option = click.option(
        "-o", "--output", type=click.Path(dir_okay=False), default=None, help=help_text
    )

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        return option(refuse_overwriting_inputs(func))

    return decorate


def scheduler_options(
    func: Callable[..., Any], *, workers_help: str = "Local worker processes."
) -> Callable[..., Any]:
    """Add ``--workers N`` and ``--scheduler ADDRESS`` to a command."""
    func = click.option(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="Address of an existing Dask distributed scheduler (tcp://host:8786).",
    )(func)
    return click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=1,
        show_default=True,
        help=workers_help,
    )(func)


log = logging.getLogger(__name__)

#: The ``--figdir DIR`` option of commands that draw figures.
figdir_option = click.option(
    "--figdir",
    type=click.Path(file_okay=False),
    default=None,
    help="Write the figures to this directory.",
)


class FigureLabels(NamedTuple):
    """What the figures of a workspace are labelled with (from its provenance file)."""

    data_label: str
    lumi_fb: float | None
    xlabel: str
    provenance: dict[str, Any]


def figure_labels(workspace: str, measurement: str = "") -> FigureLabels:
    """The data label, luminosity and observable label recorded next to ``workspace``."""
    from ..report.inputs import data_label_from_provenance, read_provenance

    prov = read_provenance(workspace)
    _, label = data_label_from_provenance(prov, measurement)
    raw = prov.get("config")
    cfg: dict[str, Any] = raw if isinstance(raw, dict) else {}
    lumi = prov.get("lumi_fb", cfg.get("lumi_fb"))
    xlabel = str(cfg.get("observable_label") or r"$m_{4\ell}$ [GeV]")
    return FigureLabels(label, float(lumi) if lumi is not None else None, xlabel, prov)


def save_figure_to(figdir: str | None, name: str, make: Callable[[], Any]) -> None:
    """Draw the figure ``make()`` and write it to ``figdir/name`` (nothing without a figdir)."""
    if figdir is None:
        return
    import matplotlib.pyplot as plt

    from ..plotting import save_figure

    fig = make()
    path = save_figure(fig, Path(figdir) / name)
    plt.close(fig)
    log.info("wrote %s", path)
