"""CLI commands of the build area: ``make-inputs``, ``build-histograms``, ``build-workspace``, ``cutflow``.

How the inputs are chosen (real data shipped in the package, ``--data-dir``,
``--generated``, ``--config``) is in :mod:`higgs_pyhf.cli._inputs`; the
``cutflow`` command is in :mod:`higgs_pyhf.cli.cutflow`.

``build-workspace`` builds the report's two-normfactor model by default;
``--systematics`` adds the configuration's systematics (pruned below
``--prune-threshold``) and ``--channels final-state`` makes one channel per
final state (MC from ntuples only).

Real or generated is decided from recorded provenance
(:mod:`higgs_pyhf.build.provenance`). The default workspace name encodes the
input and the options (``hzz4l_atlas.json``, ``hzz4l_atlas_mcstat.json``,
``hzz4l_atlas_syst.json``, ``hzz4l_generated_syst_channels.json``,
``hzz4l_generated_report.json`` …); options that no name encodes (another
configuration, luminosity, seed, scale, an allowed selection mismatch, a
pruning threshold) need ``-o``, so a shipped workspace is never overwritten
by a build with other options. No output may be one of the build's inputs.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from .._io import check_not_input
from ..build.config import resolve_config
from ..build.histogram_io import save_histograms
from ..build.histograms import build_histograms
from ..build.pipeline import (
    add_templates,
    build_inputs,
    check_template_selection,
    input_paths,
    kind_yields,
)
from ..build.provenance import GENERATED_LABEL, REAL_LABEL, describe_inputs
from ..build.variations import CHANNEL_MODES
from ..errors import HistogramError
from ..workspace import provenance_path, save_workspace
from ._common import emit_json
from ._inputs import MAX_SCALE, ChunkProgress, default_config_name, input_options, resolve_inputs
from ._types import FiniteFloatRange
from .cutflow import cutflow_cmd

__all__ = ["COMMANDS", "default_workspace_name"]

#: Note written into histogram files made from generated input.
GENERATED_TITLE = "GENERATED input, not ATLAS data"

log = logging.getLogger(__name__)


def default_workspace_name(
    *,
    data_label: str,
    selection: str,
    default_selection: str,
    mc_stat: bool,
    lumi_uncertainty: float | None,
    systematics: bool = False,
    channels: str = "single",
) -> Path:
    """``workspaces/hzz4l_<input>[_<selection>][_mcstat][_lumi][_syst][_channels].json``: the name encodes the options.

    ``<input>`` is ``atlas`` for the real data, ``generated`` for generated
    input, and nothing for data of unverified origin.
    """
    base = {REAL_LABEL: "hzz4l_atlas", GENERATED_LABEL: "hzz4l_generated"}.get(data_label, "hzz4l")
    parts = [base]
    if selection != default_selection:
        parts.append(selection)
    if mc_stat:
        parts.append("mcstat")
    if lumi_uncertainty is not None:
        parts.append("lumi")
    if systematics:
        parts.append("syst")
    if channels != "single":
        parts.append("channels")
    return Path("workspaces") / ("_".join(parts) + ".json")


def _command_line(ctx: click.Context) -> list[str]:
    """The options of this command that differ from their defaults, as a command line.

    ``-o``, ``--workers``, ``--scheduler`` and ``--step-size`` change where and how
    the work runs, not the result, and are left out.
    """
    out: list[str] = []
    for param in ctx.command.params:
        name = param.name or ""
        if not isinstance(param, click.Option) or name in _RUN_OPTIONS:
            continue
        value = ctx.params.get(name)
        if value is None or value is False or value == param.default:
            continue
        flag = max(param.opts, key=len)
        out += [flag] if value is True else [flag, str(value)]
    return out


#: Options of the build commands that do not change the result.
_RUN_OPTIONS = frozenset({"output", "workers", "scheduler", "step_size"})


def _unnamed_options(
    *, config_name: str | None, default_config: str, lumi: float | None, **given: Any
) -> list[str]:
    """The options that no default output name encodes."""
    out = [f"--{k.replace('_', '-')}" for k, v in given.items() if v]
    if config_name is not None and config_name != default_config:
        out.append("--config")
    if lumi is not None:
        out.append("--lumi")
    return out


@click.command("make-inputs")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", type=int, default=None, help="Random seed (default: the generator's).")
@click.option(
    "--scale",
    type=FiniteFloatRange(min=0, max=MAX_SCALE, min_open=True),
    default=1.0,
    show_default=True,
    help=f"Multiply the number of generated events (at most {MAX_SCALE:g}).",
)
@click.option(
    "--config",
    "config_name",
    default="ntuples",
    show_default=True,
    metavar="NAME|FILE",
    help="Configuration giving the file layout.",
)
def make_inputs_cmd(directory: Path, seed: int | None, scale: float, config_name: str) -> None:
    """Write GENERATED open-data-shaped ntuples to DIRECTORY (MC/…, Data/…)."""
    from ..synthetic import make_inputs

    config, _ = resolve_config(config_name)
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
@input_options
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Output file: .root (one TH1D per sample) or .json (UHI).",
)
def build_histograms_cmd(
    output: Path, step_size: int | str, workers: int, scheduler: str | None, **options: Any
) -> None:
    """Read, select and histogram every sample (templates included); write the m4l histograms."""
    if output.suffix.lower() not in (".root", ".json"):
        msg = f"histogram output {output} must end in .root or .json"
        raise HistogramError(msg)
    allow = options.pop("allow_selection_mismatch")
    with ChunkProgress("chunks") as bar, resolve_inputs(**options) as inp:
        check_not_input(output, input_paths(inp.config, inp.directory, inp.config_source))
        check_template_selection(inp.config, inp.selection, allow_mismatch=allow)
        info = describe_inputs(inp.config, inp.directory, marker=inp.marker)
        hs = build_histograms(
            inp.config._replace(samples=inp.config.ntuple_samples),
            inp.directory,
            selection=inp.selection,
            step_size=step_size,
            workers=workers,
            scheduler=scheduler,
            progress=bar.update,
            on_plan=bar.plan,
        )
        hs, _ = add_templates(hs, inp.config)
    title = GENERATED_TITLE if info["generated"] else info["data_label"]
    save_histograms(hs.histograms, output, title=title)
    emit_json(
        {
            "output": str(output),
            "data_label": info["data_label"],
            "generated": info["generated"],
            "selection": inp.selection,
            "lumi_fb": inp.config.lumi_fb,
            "nbins": len(inp.config.edges) - 1,
            "yields": kind_yields(hs.histograms, inp.config),
        }
    )


@click.command("build-workspace")
@input_options
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Workspace file [default: workspaces/hzz4l_atlas.json on the real data, hzz4l_generated.json with --generated; the name encodes --selection, --mc-stat, --lumi-uncertainty, --systematics and --channels].",
)
@click.option("--mc-stat", is_flag=True, help="Add staterror modifiers from the MC sumw2.")
@click.option(
    "--lumi-uncertainty",
    type=FiniteFloatRange(min=0, max=1, min_open=True, max_open=True),
    default=None,
    help="Relative luminosity uncertainty, e.g. 0.017 (adds a lumi modifier; with --systematics it sets the size of the configured one).",
)
@click.option(
    "--systematics",
    is_flag=True,
    help="Add the configuration's systematics (lumi, normsys, staterror, histosys; see the config's 'systematics' section).",
)
@click.option(
    "--channels",
    type=click.Choice(CHANNEL_MODES),
    default="single",
    show_default=True,
    help="'final-state': one channel per final state (4e, 2e2mu, 4mu), sharing s_s, s_b and the systematics; needs every MC sample from ntuples.",
)
@click.option(
    "--prune-threshold",
    type=FiniteFloatRange(min=0, max=1, max_open=True),
    default=None,
    help="Drop normsys/histosys modifiers whose largest relative effect per bin is below this [default: the config's, else 0.001].",
)
def build_workspace_cmd(
    output: Path | None,
    mc_stat: bool,
    lumi_uncertainty: float | None,
    systematics: bool,
    channels: str,
    prune_threshold: float | None,
    step_size: int | str,
    workers: int,
    scheduler: str | None,
    **options: Any,
) -> None:
    """Build the pyhf workspace (signal × s_s, background × s_b, observed data) with its provenance."""
    allow = options.pop("allow_selection_mismatch")
    default_config = default_config_name(options["generated"], options["data_dir"])
    if output is None:
        unnamed = _unnamed_options(
            config_name=options["config_name"],
            default_config=default_config,
            lumi=options["lumi"],
            seed=options["seed"] is not None,
            scale=options["scale"] is not None,
            allow_selection_mismatch=allow,
            prune_threshold=prune_threshold is not None,
        )
        if unnamed:
            msg = (
                f"the default workspace name does not encode {', '.join(unnamed)}: give -o/--output"
            )
            raise click.UsageError(msg)
    if prune_threshold is not None and not systematics:
        msg = "--prune-threshold prunes the configured systematics: use it with --systematics"
        raise click.UsageError(msg)
    with ChunkProgress("chunks") as bar, resolve_inputs(**options) as inp:
        syst = None
        if systematics:
            syst = inp.config.systematics
            if prune_threshold is not None:
                syst = syst.with_threshold(prune_threshold)
        for out in (output, None if output is None else provenance_path(output)):
            check_not_input(out, input_paths(inp.config, inp.directory, inp.config_source))
        result = build_inputs(
            inp.config,
            inp.directory,
            selection=inp.selection,
            allow_selection_mismatch=allow,
            mc_stat=mc_stat,
            lumi_uncertainty=lumi_uncertainty,
            systematics=syst,
            channels=channels,
            step_size=step_size,
            workers=workers,
            scheduler=scheduler,
            marker=inp.marker,
            input_label=inp.label,
            config_source=inp.config_source,
            command=_command_line(click.get_current_context()),
            progress=bar.update,
            on_plan=bar.plan,
        )
    if output is None:
        output = default_workspace_name(
            data_label=result.provenance["data_label"],
            selection=inp.selection,
            default_selection=inp.default_selection,
            mc_stat=mc_stat,
            lumi_uncertainty=lumi_uncertainty,
            systematics=systematics,
            channels=channels,
        )
    save_workspace(result.spec, output, provenance=result.provenance)
    emit_json(
        {
            "output": str(output),
            "provenance": str(provenance_path(output)),
            "config": inp.config_source,
            **result.summary(),
        }
    )


COMMANDS: list[click.Command] = [
    make_inputs_cmd,
    build_histograms_cmd,
    build_workspace_cmd,
    cutflow_cmd,
]
