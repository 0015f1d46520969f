"""CLI commands of the build area: ``make-inputs``, ``build-histograms``, ``build-workspace``, ``cutflow``.

Without ``--data-dir`` the commands generate open-data-shaped input
(:mod:`higgs_pyhf.synthetic`) in a temporary directory and label every
output as generated; with ``--data-dir`` they read the files the
configuration names, relative to that directory.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from ..configuration import AnalysisConfig, default_config, load_config
from ..errors import HistogramError
from ..ntuples import DEFAULT_STEP_SIZE
from ..selection import SELECTIONS
from ._common import emit_json, output_option, progress_bar, scheduler_options

__all__ = ["COMMANDS"]

#: Note written into histogram files made from generated input.
GENERATED_TITLE = "GENERATED input, not ATLAS data"

log = logging.getLogger(__name__)


def _step_size(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | str:
    if value is None:
        return DEFAULT_STEP_SIZE
    text = value.strip()
    if text.isdigit():
        if int(text) < 1:
            msg = "must be a positive number of entries"
            raise click.BadParameter(msg)
        return int(text)
    if not any(text.upper().endswith(u) for u in ("B", "KB", "MB", "GB")):
        msg = f"{value!r}: give a number of entries (100000) or a size ('50 MB')"
        raise click.BadParameter(msg)
    return text


def _input_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by the commands that read ntuples."""
    options: list[Callable[[Any], Any]] = [
        click.option(
            "--data-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="Directory with the ntuples (laid out as the config's file names). Default: generate input in a temporary directory.",
        ),
        click.option(
            "--config",
            "config_path",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Analysis configuration JSON (default: the shipped one).",
        ),
        click.option(
            "--lumi", type=float, default=None, help="Luminosity in fb^-1 (default: the config's)."
        ),
        click.option(
            "--selection",
            type=click.Choice(sorted(SELECTIONS)),
            default="intended",
            show_default=True,
            help="'intended' (both isolation cuts, trigger applied) or 'report' (the seed report's exact cuts).",
        ),
        click.option(
            "--seed",
            type=int,
            default=None,
            help="Seed of the generated input (without --data-dir).",
        ),
        click.option(
            "--scale",
            type=click.FloatRange(min=0, min_open=True),
            default=1.0,
            show_default=True,
            help="Multiply the number of generated events (without --data-dir).",
        ),
        click.option(
            "--step-size",
            callback=_step_size,
            default=None,
            help=f"Entries per chunk or a size like '50 MB' [default: {DEFAULT_STEP_SIZE}].",
        ),
        scheduler_options,
    ]
    for opt in reversed(options):
        func = opt(func)
    return func


def _config(config_path: Path | None, lumi: float | None) -> tuple[AnalysisConfig, str]:
    config = default_config() if config_path is None else load_config(config_path)
    if lumi is not None:
        config = config.with_lumi(lumi)
    return config, "default" if config_path is None else str(config_path)


@contextlib.contextmanager
def _inputs(
    data_dir: Path | None, config: AnalysisConfig, seed: int | None, scale: float
) -> Iterator[tuple[Path, dict[str, Any] | None, str]]:
    """Yield (directory, generator marker or None, input label for provenance)."""
    from ..pipeline import generated_info, generated_inputs

    if data_dir is not None:
        yield data_dir, generated_info(data_dir), str(data_dir)
        return
    with generated_inputs(config, seed=seed, scale=scale) as tmp:
        yield tmp, generated_info(tmp), "generated in a temporary directory"


class _Progress:
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


@click.command("make-inputs")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", type=int, default=None, help="Random seed (default: the generator's).")
@click.option(
    "--scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Multiply the number of generated events.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Configuration giving the file layout.",
)
def make_inputs_cmd(
    directory: Path, seed: int | None, scale: float, config_path: Path | None
) -> None:
    """Write GENERATED open-data-shaped ntuples to DIRECTORY (MC/…, Data/…)."""
    from ..synthetic import make_inputs

    config, _ = _config(config_path, None)
    kwargs: dict[str, Any] = {"scale": scale}
    if seed is not None:
        kwargs["seed"] = seed
    out = make_inputs(directory, config, **kwargs)
    emit_json(
        {
            "directory": str(out.directory),
            "files": {name: [str(p) for p in paths] for name, paths in out.files.items()},
            "generated": True,
            "scale": scale,
            "seed": out.seed,
        }
    )


@click.command("build-histograms")
@_input_options
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Output file: .root (one TH1D per sample) or .json (UHI).",
)
def build_histograms_cmd(
    data_dir: Path | None,
    config_path: Path | None,
    lumi: float | None,
    selection: str,
    seed: int | None,
    scale: float,
    step_size: int | str,
    workers: int,
    scheduler: str | None,
    output: Path,
) -> None:
    """Read, select and histogram every sample; write the m4l histograms."""
    from ..histograms import build_histograms, save_histograms
    from ..pipeline import kind_yields

    if output.suffix.lower() not in (".root", ".json"):
        msg = f"histogram output {output} must end in .root or .json"
        raise HistogramError(msg)
    config, _ = _config(config_path, lumi)
    bar = _Progress("chunks")
    try:
        with _inputs(data_dir, config, seed, scale) as (directory, generated, _label):
            hs = build_histograms(
                config,
                directory,
                selection=selection,
                step_size=step_size,
                workers=workers,
                scheduler=scheduler,
                progress=bar.update,
                on_plan=bar.plan,
            )
    finally:
        bar.close()
    save_histograms(hs.histograms, output, title=GENERATED_TITLE if generated else None)
    emit_json(
        {
            "output": str(output),
            "generated": bool(generated),
            "selection": selection,
            "lumi_fb": config.lumi_fb,
            "nbins": len(config.edges) - 1,
            "yields": kind_yields(hs.histograms, config),
        }
    )


@click.command("build-workspace")
@_input_options
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Workspace file [default: workspaces/hzz4l_generated.json on generated input, workspaces/hzz4l.json otherwise].",
)
@click.option("--mc-stat", is_flag=True, help="Add staterror modifiers from the MC sumw2.")
@click.option(
    "--lumi-uncertainty",
    type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
    default=None,
    help="Relative luminosity uncertainty, e.g. 0.017 (adds a lumi modifier).",
)
def build_workspace_cmd(
    data_dir: Path | None,
    config_path: Path | None,
    lumi: float | None,
    selection: str,
    seed: int | None,
    scale: float,
    step_size: int | str,
    workers: int,
    scheduler: str | None,
    output: Path | None,
    mc_stat: bool,
    lumi_uncertainty: float | None,
) -> None:
    """Build the pyhf workspace (signal × s_s, background × s_b, observed data)."""
    from ..pipeline import DEFAULT_GENERATED_OUTPUT, DEFAULT_OUTPUT, build_from_ntuples
    from ..workspace import provenance_path, save_workspace

    config, source = _config(config_path, lumi)
    bar = _Progress("chunks")
    try:
        with _inputs(data_dir, config, seed, scale) as (directory, generated, label):
            result = build_from_ntuples(
                config,
                directory,
                selection=selection,
                mc_stat=mc_stat,
                lumi_uncertainty=lumi_uncertainty,
                step_size=step_size,
                workers=workers,
                scheduler=scheduler,
                generated=generated or {},
                input_label=label,
                config_source=source,
                progress=bar.update,
                on_plan=bar.plan,
            )
    finally:
        bar.close()
    if output is None:
        output = DEFAULT_GENERATED_OUTPUT if result.provenance["generated"] else DEFAULT_OUTPUT
    save_workspace(result.spec, output, provenance=result.provenance)
    emit_json(
        {"output": str(output), "provenance": str(provenance_path(output)), **result.summary()}
    )


@click.command("cutflow")
@_input_options
@output_option()
def cutflow_cmd(
    data_dir: Path | None,
    config_path: Path | None,
    lumi: float | None,
    selection: str,
    seed: int | None,
    scale: float,
    step_size: int | str,
    workers: int,
    scheduler: str | None,
    output: str | None,
) -> None:
    """Events (raw and weighted) remaining after each cut, per sample (config order), as JSON."""
    from ..histograms import build_histograms

    config, _ = _config(config_path, lumi)
    bar = _Progress("chunks")
    try:
        with _inputs(data_dir, config, seed, scale) as (directory, generated, _label):
            hs = build_histograms(
                config,
                directory,
                selection=selection,
                step_size=step_size,
                workers=workers,
                scheduler=scheduler,
                progress=bar.update,
                on_plan=bar.plan,
                require_events=False,
            )
    finally:
        bar.close()
    emit_json(
        {
            "generated": bool(generated),
            "selection": selection,
            "lumi_fb": config.lumi_fb,
            "cutflows": [cf.to_json() for cf in hs.cutflows.values()],
        },
        output,
    )


COMMANDS: list[click.Command] = [
    make_inputs_cmd,
    build_histograms_cmd,
    build_workspace_cmd,
    cutflow_cmd,
]
