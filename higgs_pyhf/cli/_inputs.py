"""Options and input resolution shared by the build-area commands (``build-*``, ``cutflow``).

Inputs, by default and with options:

- no option: the **real** ATLAS Open Data shipped in the package (data only)
  with the configuration ``templates`` (MC from the seed report's templates)
  and the templates' selection (``report``);
- ``--data-dir D``: the files of ``D``, laid out as the release
  (``Data/…``, ``MC/…``); with ``D/MC`` present the configuration
  ``ntuples`` (all MC from ntuples) is the default, otherwise ``templates``;
- ``--generated``: open-data-shaped input generated in a temporary
  directory (configuration ``ntuples``, selection ``intended``);
- ``--config NAME|FILE``: a shipped configuration (``templates``,
  ``ntuples``) or a JSON file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import click

from .._guard import register_inputs
from ..build.config import AnalysisConfig, resolve_config
from ..build.ntuples import DEFAULT_STEP_SIZE
from ..build.pipeline import generated_info, generated_inputs, input_paths
from ..build.provenance import real_data_dir
from ..build.selection import SELECTIONS
from ..errors import ConfigError
from ._common import progress_bar, scheduler_options
from ._types import FINITE_FLOAT, FiniteFloatRange

__all__ = [
    "MAX_SCALE",
    "ChunkProgress",
    "Inputs",
    "default_config_name",
    "input_options",
    "resolve_inputs",
    "step_size_option",
]

#: Largest --scale of generated input (scale 1 writes about 70 MB of ntuples).
MAX_SCALE = 50.0

#: Smallest chunk: entries, or bytes for a memory size.
MIN_STEP_ENTRIES = 100
MIN_STEP_BYTES = 1_000_000
_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9}


def step_size_option(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | str:
    if value is None:
        return DEFAULT_STEP_SIZE
    text = value.strip()
    if text.isdigit():
        if int(text) < MIN_STEP_ENTRIES:
            msg = f"give at least {MIN_STEP_ENTRIES} entries per chunk"
            raise click.BadParameter(msg)
        return int(text)
    upper = text.upper().replace(" ", "")
    unit = next((u for u in ("KB", "MB", "GB", "B") if upper.endswith(u)), None)
    number = upper[: -len(unit)] if unit else ""
    try:
        size = float(number) * _UNITS[unit] if unit else -1.0
    except ValueError:
        size = -1.0
    if size < 0:
        msg = f"{value!r}: give a number of entries (100000) or a size ('50 MB')"
        raise click.BadParameter(msg)
    if size < MIN_STEP_BYTES:
        msg = f"{value!r} is smaller than the smallest chunk, 1 MB"
        raise click.BadParameter(msg)
    return text


def input_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by the commands that read inputs."""
    options: list[Callable[[Any], Any]] = [
        click.option(
            "--data-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="Folder with the ntuples, laid out as the release (Data/…, MC/…). Default: the real ATLAS data shipped with the package.",
        ),
        click.option(
            "--generated",
            is_flag=True,
            help="Generate open-data-shaped input (labelled generated) in a temporary folder instead.",
        ),
        click.option(
            "--config",
            "config_name",
            default=None,
            metavar="NAME|FILE",
            help="Configuration: 'templates' (MC from the report's templates), 'ntuples' (all MC from ntuples) or a JSON file. Default: 'ntuples' with --generated or a --data-dir holding MC/, else 'templates'.",
        ),
        click.option(
            "--lumi",
            type=FINITE_FLOAT,
            default=None,
            help="Luminosity in fb^-1 (default: the config's).",
        ),
        click.option(
            "--selection",
            type=click.Choice(sorted(SELECTIONS)),
            default=None,
            help="'report' (the seed report's exact cuts) or 'intended' (both isolation cuts, trigger applied). Default: the templates' selection ('report'), 'intended' without templates.",
        ),
        click.option(
            "--allow-selection-mismatch",
            is_flag=True,
            help="Build even if MC templates were made with another selection (recorded in the provenance).",
        ),
        click.option(
            "--seed", type=int, default=None, help="Seed of the generated input (with --generated)."
        ),
        click.option(
            "--scale",
            type=FiniteFloatRange(min=0, max=MAX_SCALE, min_open=True),
            default=None,
            help=f"Multiply the number of generated events (with --generated; at most {MAX_SCALE:g}, about 3.5 GB of ntuples) [default: 1].",
        ),
        click.option(
            "--step-size",
            callback=step_size_option,
            default=None,
            help=f"Entries per chunk or a size like '50 MB' [default: {DEFAULT_STEP_SIZE}].",
        ),
        scheduler_options,
    ]
    for opt in reversed(options):
        func = opt(func)
    return func


class Inputs(NamedTuple):
    """The resolved inputs of a build command."""

    config: AnalysisConfig
    config_source: str
    directory: Path
    marker: dict[str, Any] | None
    label: str
    selection: str
    default_selection: str


def default_config_name(generated: bool, data_dir: Path | None) -> str:
    if generated or (data_dir is not None and (data_dir / "MC").is_dir()):
        return "ntuples"
    return "templates"


@contextlib.contextmanager
def resolve_inputs(
    *,
    data_dir: Path | None,
    generated: bool,
    config_name: str | None,
    lumi: float | None,
    selection: str | None,
    seed: int | None,
    scale: float | None,
) -> Iterator[Inputs]:
    """Resolve the options into a configuration, a folder and a selection."""
    if generated and data_dir is not None:
        msg = "--generated and --data-dir exclude each other (generated input is written to a temporary folder)"
        raise click.UsageError(msg)
    if not generated and (seed is not None or scale is not None):
        msg = "--seed and --scale set the generated input: use them with --generated"
        raise click.UsageError(msg)
    config, source = resolve_config(config_name or default_config_name(generated, data_dir))
    if lumi is not None:
        config = config.with_lumi(lumi)
    chosen = config.template_selections
    if len(chosen) > 1:
        msg = (
            f"the templates of the configuration were made with different selections {list(chosen)}"
        )
        raise ConfigError(msg)
    default_selection = chosen[0] if chosen else "intended"
    selection = selection or default_selection
    if not generated:
        directory = data_dir if data_dir is not None else real_data_dir()
        label = str(data_dir) if data_dir is not None else "shipped real ATLAS Open Data"
        register_inputs(input_paths(config, directory, source))  # read by workers, too
        yield Inputs(
            config,
            source,
            directory,
            generated_info(directory),
            label,
            selection,
            default_selection,
        )
        return
    with generated_inputs(config, seed=seed, scale=1.0 if scale is None else scale) as tmp:
        yield Inputs(
            config,
            source,
            tmp,
            generated_info(tmp),
            "generated in a temporary directory",
            selection,
            default_selection,
        )


class ChunkProgress:
    """A chunk progress bar created once the number of chunks is known."""

    def __init__(self, desc: str) -> None:
        self.desc = desc
        self.bar: Any = None

    def plan(self, total: int) -> None:
        self.bar = progress_bar(total, self.desc)

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> ChunkProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
