"""Helpers shared by the CLI command modules: output, progress bars, options."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import click

from .._guard import check_output, child_path, command_inputs, register_inputs
from .._io import dumps_json, write_text

__all__ = [
    "FigureLabels",
    "emit_json",
    "extra_output_option",
    "figdir_option",
    "figure_format",
    "figure_header",
    "figure_labels",
    "figure_lumi",
    "figure_options",
    "first_measurement",
    "header_options",
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
INPUT_PARAMETERS = (
    "workspace",
    "config_name",
    "config_path",
    "templates",
    "groups_file",
    "patch",
    "patches",
    "patchset",
)
#: Parameters of a command that name files it writes.
OUTPUT_PARAMETERS = ("output", "markdown", "latex", "save_toys")


def refuse_overwriting_inputs(func: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse, before any work, an output path that is one of the command's input files.

    The inputs named by :data:`INPUT_PARAMETERS` (and a workspace's provenance
    file) are registered with the output guard (:mod:`higgs_pyhf._guard`),
    which checks every file written while the command runs; the outputs named
    by :data:`OUTPUT_PARAMETERS` are checked here already, before any work.
    """

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        from ..workspace import provenance_path

        inputs: list[Any] = []
        for key in INPUT_PARAMETERS:
            value = kwargs.get(key)
            values = value if isinstance(value, tuple | list) else (value,)
            inputs += [v for v in values if isinstance(v, str | Path)]
        if isinstance(kwargs.get("workspace"), str | Path):
            inputs.append(provenance_path(kwargs["workspace"]))
        with command_inputs():
            register_inputs(inputs)
            for key in OUTPUT_PARAMETERS:
                value = kwargs.get(key)
                if isinstance(value, str | Path):
                    check_output(value)
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


def extra_output_option(name: str, help_text: str) -> Callable[..., Any]:
    """An optional file option ``name`` a command also writes (``--markdown FILE``, ``--latex FILE``, …)."""
    return click.option(name, type=click.Path(dir_okay=False), default=None, help=help_text)


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

#: Keys of the figure options kept in the click context (``ctx.meta``).
_FIGURE_META = "higgs_pyhf.figure"
#: Figure file formats of ``--format``.
FIGURE_FORMATS = ("png", "pdf", "svg")


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Keep a figure option in the context, for :func:`figure_labels` and :func:`save_figure_to`."""
    ctx.meta.setdefault(_FIGURE_META, {})[param.name] = value
    return value


def _figure_options(*, with_format: bool = True) -> list[Callable[..., Any]]:
    """``--label``, ``--lumi``, ``--energy``, ``--title`` (and ``--format``) of every command that draws."""
    common: dict[str, Any] = {"expose_value": False, "callback": _remember, "is_eager": True}
    options = [
        click.option(
            "--label",
            default=None,
            help="Experiment label of the figure header [default: from the provenance, else none].",
            **common,
        ),
        click.option(
            "--lumi",
            type=click.FloatRange(min=0.0, min_open=True),
            default=None,
            metavar="FB",
            help="Integrated luminosity (fb⁻¹) in the figure header [default: from the provenance].",
            **common,
        ),
        click.option(
            "--energy",
            default=None,
            metavar="TEXT",
            help="Centre-of-mass energy in the header, e.g. '13 TeV' [default: from the provenance].",
            **common,
        ),
        click.option(
            "--title",
            default=None,
            help="Physics title in the figure header [default: from the provenance, else none].",
            **common,
        ),
        click.option(
            "--format",
            "figure_format",
            type=click.Choice(FIGURE_FORMATS),
            default="png",
            show_default=True,
            help="File format of the figures.",
            **common,
        ),
    ]
    return options if with_format else options[:-1]


def figdir_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--figdir DIR`` and the figure options (:func:`_figure_options`) of commands that draw."""
    for option in reversed(_figure_options()):
        func = option(func)
    return click.option(
        "--figdir",
        type=click.Path(file_okay=False),
        default=None,
        help="Write the figures to this directory.",
    )(func)


def figure_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The figure options without ``--figdir`` (for commands with their own figure folder)."""
    for option in reversed(_figure_options()):
        func = option(func)
    return func


def header_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--label``, ``--lumi``, ``--energy``, ``--title`` only (the report's figures are PNG)."""
    for option in reversed(_figure_options(with_format=False)):
        func = option(func)
    return func


def figure_lumi() -> float | None:
    """The ``--lumi`` of the current command (None: the recorded one)."""
    value = _figure_meta().get("lumi")
    return float(value) if value is not None else None


def _figure_meta() -> dict[str, Any]:
    ctx = click.get_current_context(silent=True)
    return dict(ctx.meta.get(_FIGURE_META, {})) if ctx is not None else {}


def figure_header() -> dict[str, Any]:
    """The header keywords given on the command line (``label``, ``energy``, ``title``)."""
    meta = _figure_meta()
    return {k: meta[k] for k in ("label", "energy", "title") if meta.get(k) is not None}


def figure_format() -> str:
    """The ``--format`` of the current command (``png`` outside one)."""
    return str(_figure_meta().get("figure_format") or "png")


class FigureLabels(NamedTuple):
    """What the figures of a workspace are labelled with (provenance, then the command line).

    Attributes:
        data_label: the data's label (legend; the header only for the shipped model).
        lumi_fb: integrated luminosity of the header (``--lumi``, else recorded, else None).
        xlabel: label of the observable.
        provenance: the provenance dict (``{}`` without a provenance file).
        header: header keywords given on the command line (``label``, ``energy``, ``title``).
    """

    data_label: str
    lumi_fb: float | None
    xlabel: str
    provenance: dict[str, Any]
    header: dict[str, Any]


def first_measurement(spec: dict[str, Any]) -> str:
    """The name of the first measurement of a workspace spec (``""`` without one)."""
    return str(spec.get("measurements", [{}])[0].get("name", ""))


def figure_labels(workspace: str, measurement: str = "") -> FigureLabels:
    """The data label, luminosity and observable label recorded next to ``workspace``.

    ``--lumi`` replaces the recorded luminosity; ``--label``, ``--energy`` and
    ``--title`` go to the header. The observable is ``m4l`` only for the
    shipped model (whose provenance records it); otherwise ``observable``.
    """
    from ..plotting._style import is_report_model_label
    from ..report.inputs import data_label_from_provenance, read_provenance

    prov = read_provenance(workspace)
    _, label = data_label_from_provenance(prov, measurement)
    raw = prov.get("config")
    cfg: dict[str, Any] = raw if isinstance(raw, dict) else {}
    lumi = figure_lumi()
    if lumi is None:
        lumi = prov.get("lumi_fb", cfg.get("lumi_fb"))
    default_x = r"$m_{4\ell}$ [GeV]" if is_report_model_label(label) else "observable"
    xlabel = str(cfg.get("observable_label") or default_x)
    lumi_fb = float(lumi) if lumi is not None else None
    return FigureLabels(label, lumi_fb, xlabel, prov, figure_header())


def save_figure_to(figdir: str | None, name: str, make: Callable[[], Any]) -> None:
    """Draw the figure ``make()`` and write it to ``figdir/name`` (nothing without a figdir).

    ``name`` must be a file name directly inside ``figdir``: a name from a
    workspace belongs in it only through :func:`~higgs_pyhf._guard.safe_name`
    (anything else is made safe here too, :func:`~higgs_pyhf._guard.child_path`).

    The suffix of ``name`` is replaced by the command's ``--format``.
    """
    if figdir is None:
        return
    import matplotlib.pyplot as plt

    from ..plotting import save_figure

    target = child_path(figdir, name)
    fig = make()
    path = save_figure(fig, target.with_suffix("." + figure_format()))
    plt.close(fig)
    log.info("wrote %s", path)
