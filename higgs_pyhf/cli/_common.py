"""Helpers shared by the CLI command modules: output, progress bars, options."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .._io import check_not_input, dumps_json, write_text

__all__ = [
    "emit_json",
    "output_option",
    "progress_bar",
    "refuse_overwriting_inputs",
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
INPUT_PARAMETERS = ("workspace", "config_name", "config_path", "templates")
#: Parameters of a command that name files it writes.
OUTPUT_PARAMETERS = ("output", "markdown", "save_toys")


def refuse_overwriting_inputs(func: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse, before any work, an output path that is one of the command's input files."""

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        inputs = [kwargs.get(k) for k in INPUT_PARAMETERS if isinstance(kwargs.get(k), str | Path)]
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


def scheduler_options(func: Callable[..., Any]) -> Callable[..., Any]:
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
        help="Local worker processes.",
    )(func)
