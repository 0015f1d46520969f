"""CLI commands of the build area: ``make-inputs``, ``build-histograms``, ``build-workspace``, ``cutflow``.

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

Real or generated is decided from recorded provenance
(:mod:`higgs_pyhf.provenance`). The default workspace name encodes the
input and the options (``hzz4l_atlas.json``, ``hzz4l_atlas_mcstat.json``,
``hzz4l_generated_report.json`` …); options that no name encodes (another
configuration, luminosity, seed, scale, an allowed selection mismatch)
need ``-o``, so a shipped workspace is never overwritten by a build with
other options.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import click

from .._io import write_text
from ..configuration import AnalysisConfig, resolve_config
from ..cutflows import read_data_cutflows, total_cutflow
from ..errors import ConfigError, HistogramError
from ..histograms import build_histograms, save_histograms
from ..ntuples import DEFAULT_STEP_SIZE
from ..pipeline import (
    add_templates,
    build_inputs,
    check_template_selection,
    generated_info,
    generated_inputs,
    kind_yields,
)
from ..provenance import GENERATED_LABEL, REAL_LABEL, describe_inputs, real_data_dir
from ..selection import SELECTIONS
from ..workspace import provenance_path, save_workspace
from ._common import emit_json, output_option, progress_bar, scheduler_options

__all__ = ["COMMANDS", "default_workspace_name"]

#: Largest --scale of generated input (scale 1 writes about 70 MB of ntuples).
MAX_SCALE = 50.0
#: Note written into histogram files made from generated input.
GENERATED_TITLE = "GENERATED input, not ATLAS data"

log = logging.getLogger(__name__)


#: Smallest chunk: entries, or bytes for a memory size.
MIN_STEP_ENTRIES = 100
MIN_STEP_BYTES = 1_000_000
_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9}


def _step_size(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | str:
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


def _input_options(func: Callable[..., Any]) -> Callable[..., Any]:
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
            "--lumi", type=float, default=None, help="Luminosity in fb^-1 (default: the config's)."
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
            type=click.FloatRange(min=0, max=MAX_SCALE, min_open=True),
            default=None,
            help=f"Multiply the number of generated events (with --generated; at most {MAX_SCALE:g}, about 3.5 GB of ntuples) [default: 1].",
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


class _Inputs(NamedTuple):
    """The resolved inputs of a build command."""

    config: AnalysisConfig
    config_source: str
    directory: Path
    marker: dict[str, Any] | None
    label: str
    selection: str
    default_selection: str


def _default_config_name(generated: bool, data_dir: Path | None) -> str:
    if generated or (data_dir is not None and (data_dir / "MC").is_dir()):
        return "ntuples"
    return "templates"


@contextlib.contextmanager
def _inputs(
    *,
    data_dir: Path | None,
    generated: bool,
    config_name: str | None,
    lumi: float | None,
    selection: str | None,
    seed: int | None,
    scale: float | None,
) -> Iterator[_Inputs]:
    """Resolve the options into a configuration, a folder and a selection."""
    if generated and data_dir is not None:
        msg = "--generated and --data-dir exclude each other (generated input is written to a temporary folder)"
        raise click.UsageError(msg)
    if not generated and (seed is not None or scale is not None):
        msg = "--seed and --scale set the generated input: use them with --generated"
        raise click.UsageError(msg)
    config, source = resolve_config(config_name or _default_config_name(generated, data_dir))
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
        yield _Inputs(
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
        yield _Inputs(
            config,
            source,
            tmp,
            generated_info(tmp),
            "generated in a temporary directory",
            selection,
            default_selection,
        )


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


def default_workspace_name(
    *,
    data_label: str,
    selection: str,
    default_selection: str,
    mc_stat: bool,
    lumi_uncertainty: float | None,
) -> Path:
    """``workspaces/hzz4l_<input>[_<selection>][_mcstat][_lumi].json``: the name encodes the options.

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
    type=click.FloatRange(min=0, max=MAX_SCALE, min_open=True),
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
@_input_options
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
    bar = _Progress("chunks")
    try:
        with _inputs(**options) as inp:
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
    finally:
        bar.close()
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
@_input_options
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Workspace file [default: workspaces/hzz4l_atlas.json on the real data, hzz4l_generated.json with --generated; the name encodes --selection, --mc-stat and --lumi-uncertainty].",
)
@click.option("--mc-stat", is_flag=True, help="Add staterror modifiers from the MC sumw2.")
@click.option(
    "--lumi-uncertainty",
    type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
    default=None,
    help="Relative luminosity uncertainty, e.g. 0.017 (adds a lumi modifier).",
)
def build_workspace_cmd(
    output: Path | None,
    mc_stat: bool,
    lumi_uncertainty: float | None,
    step_size: int | str,
    workers: int,
    scheduler: str | None,
    **options: Any,
) -> None:
    """Build the pyhf workspace (signal × s_s, background × s_b, observed data) with its provenance."""
    allow = options.pop("allow_selection_mismatch")
    default_config = _default_config_name(options["generated"], options["data_dir"])
    if output is None:
        unnamed = _unnamed_options(
            config_name=options["config_name"],
            default_config=default_config,
            lumi=options["lumi"],
            seed=options["seed"] is not None,
            scale=options["scale"] is not None,
            allow_selection_mismatch=allow,
        )
        if unnamed:
            msg = (
                f"the default workspace name does not encode {', '.join(unnamed)}: give -o/--output"
            )
            raise click.UsageError(msg)
    bar = _Progress("chunks")
    try:
        with _inputs(**options) as inp:
            result = build_inputs(
                inp.config,
                inp.directory,
                selection=inp.selection,
                allow_selection_mismatch=allow,
                mc_stat=mc_stat,
                lumi_uncertainty=lumi_uncertainty,
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
    finally:
        bar.close()
    if output is None:
        output = default_workspace_name(
            data_label=result.provenance["data_label"],
            selection=inp.selection,
            default_selection=inp.default_selection,
            mc_stat=mc_stat,
            lumi_uncertainty=lumi_uncertainty,
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


def _markdown_cutflows(doc: dict[str, Any]) -> str:
    lines = [f"# Cut flow: {doc['data_label']}", ""]
    for sel, block in doc["data"].items():
        lines += [f"## Data, selection `{sel}`", ""]
        periods = [*block["periods"], block["total"]]
        lines.append("| " + " | ".join(["cut", *(p["period"] for p in periods)]) + " |")
        lines.append("|" + "---|" * (len(periods) + 1))
        for i, row in enumerate(block["total"]["cuts"]):
            cells = [row["cut"]]
            for p in periods:
                ev = p["cuts"][i]["events"]
                cells.append(
                    f"{p['cuts'][i]['total']} ({ev['4e']}/{ev['2e2mu']}/{ev['4mu']}/{ev['other']})"
                )
            lines.append("| " + " | ".join(cells) + " |")
        cells = ["in m4l range"]
        for p in periods:
            r = p["in_range"]
            cells.append(f"{r['total']} ({r['4e']}/{r['2e2mu']}/{r['4mu']}/{r['other']})")
        lines.append("| " + " | ".join(cells) + " |")
        lines += [
            "",
            "Cells: all (4e/2e2μ/4μ/other); other = not exactly four leptons or mixed 3+1 flavours.",
            "",
        ]
    return "\n".join(lines) + "\n"


@click.command("cutflow")
@_input_options
@click.option(
    "--markdown",
    is_flag=True,
    help="Print Markdown tables (data per period and final state) instead of JSON.",
)
@output_option()
def cutflow_cmd(
    step_size: int | str,
    workers: int,
    scheduler: str | None,
    markdown: bool,
    output: str | None,
    **options: Any,
) -> None:
    """Events after each cut: data per period and final state (raw), MC per sample (weighted).

    Without --selection both selections are shown. On the shipped real data
    no MC file is needed (MC templates have no cut flow).
    """
    options.pop("allow_selection_mismatch")
    explicit = options["selection"]
    selections = (explicit,) if explicit else ("report", "intended")
    bar = _Progress("chunks")
    try:
        with _inputs(**options) as inp:
            info = describe_inputs(inp.config, inp.directory, marker=inp.marker)
            flows = read_data_cutflows(
                inp.config, inp.directory, selections=selections, step_size=step_size
            )
            mc: dict[str, Any] = {}
            mc_config = inp.config._replace(
                samples=tuple(s for s in inp.config.ntuple_samples if not s.is_data)
            )
            for sel in selections if mc_config.samples else ():
                hs = build_histograms(
                    mc_config,
                    inp.directory,
                    selection=sel,
                    step_size=step_size,
                    workers=workers,
                    scheduler=scheduler,
                    progress=bar.update,
                    on_plan=bar.plan,
                    require_events=False,
                )
                mc[sel] = [cf.to_json() for cf in hs.cutflows.values()]
    finally:
        bar.close()
    data = {}
    for sel in selections:
        mine = [f for f in flows if f.selection == sel]
        data[sel] = {
            "periods": [f.to_json() for f in mine],
            "total": total_cutflow(mine).to_json(),
        }
    doc = {
        "data_label": info["data_label"],
        "generated": info["generated"],
        "lumi_fb": inp.config.lumi_fb,
        "range_gev": [inp.config.edges[0], inp.config.edges[-1]],
        "selections": list(selections),
        "data": data,
        "mc": mc,
    }
    if markdown:
        text = _markdown_cutflows(doc)
        if output is None:
            click.echo(text, nl=False)
        else:
            write_text(output, text)
        return
    emit_json(doc, output)


COMMANDS: list[click.Command] = [
    make_inputs_cmd,
    build_histograms_cmd,
    build_workspace_cmd,
    cutflow_cmd,
]
