"""Options and helpers shared by the toy commands (:mod:`.toys`, :mod:`.toy_regions`)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import click

from .._io import atomic_path, dumps_json, write_text
from ..build.provenance import GENERATED_LABEL
from ..execution import POOLS
from ..inference.toys.runner import DEFAULT_POOL
from ..inference.toys.sampling import MAX_TOYS
from ._common import (
    extra_output_option,
    figdir_option,
    figure_labels,
    first_measurement,
    output_option,
    progress_bar,
    save_figure_to,
    scheduler_options,
)
from ._workspace import WorkspaceInput, workspace_input

__all__ = [
    "caption",
    "common_options",
    "figure_options",
    "load",
    "ntoys_option",
    "partial_output",
    "run_options",
    "run_study",
    "sampling_option",
    "sampling_options",
    "save_npz",
    "save_partial_option",
    "seed_option",
    "study_options",
]

log = logging.getLogger(__name__)


def figure_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--figdir`` with the header and format options, and ``--generated-label/--no-generated-label``."""
    func = figdir_option(func)
    return click.option(
        "--generated-label/--no-generated-label",
        default=None,
        help="Caption the figures as made from generated (synthetic) input "
        "[default: as the workspace's provenance records].",
    )(func)


def ntoys_option(default: int, what: str = "Number of toys") -> Callable[..., Any]:
    """``--ntoys N`` (bounded by :data:`~higgs_pyhf.inference.toys.MAX_TOYS`)."""
    return click.option(
        "--ntoys",
        type=click.IntRange(min=1, max=MAX_TOYS),
        default=default,
        show_default=True,
        help=f"{what} (at most {MAX_TOYS:,}).",
    )


def run_options(pool: str = DEFAULT_POOL) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--workers N``, ``--pool threads|processes`` (default ``pool``) and ``--scheduler ADDRESS``."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        func = click.option(
            "--pool",
            type=click.Choice(POOLS),
            default=pool,
            show_default=True,
            help="Kind of the local workers: threads (the sampling and the compiled fits "
            "release the GIL; nothing to start or copy) or processes.",
        )(func)
        return scheduler_options(
            func, workers_help="Local workers (threads or processes, see --pool)."
        )

    return decorate


def seed_option(help_text: str) -> Callable[..., Any]:
    """``--seed N`` (default 0) with ``help_text``."""
    return click.option(
        "--seed", type=click.IntRange(min=0), default=0, show_default=True, help=help_text
    )


def common_options(
    pool: str = DEFAULT_POOL,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """WORKSPACE, ``--seed``, ``--block-size``, ``--aux``, ``--workers``/``--pool``/``--scheduler``, ``-o``."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        func = output_option()(func)
        func = run_options(pool)(func)
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
        func = seed_option("Seed of the toys.")(func)
        return workspace_input(func)

    return decorate


def sampling_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--sampling poisson|gaussian`` and ``--negative keep|clip``."""
    func = click.option(
        "--negative",
        type=click.Choice(["keep", "clip"]),
        default="keep",
        show_default=True,
        help="Gaussian toys below zero: keep them (the report's) or clip to 0.",
    )(func)
    return sampling_option("Poisson toys or the report's Gaussian with sigma = sqrt(mean).")(func)


def sampling_option(help_text: str) -> Callable[..., Any]:
    """``--sampling poisson|gaussian`` (default poisson) with ``help_text``."""
    return click.option(
        "--sampling",
        type=click.Choice(["poisson", "gaussian"]),
        default="poisson",
        show_default=True,
        help=help_text,
    )


def study_options(
    ntoys: int, what: str = "Number of toys", *, figures: bool = True, sampling: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The options of a toy study, in the order of its ``--help``.

    :func:`common_options`, :func:`figure_options` (with ``figures``),
    :func:`sampling_options` (with ``sampling``), ``--ntoys`` (:func:`ntoys_option`
    with ``ntoys`` and ``what``) and ``--save-partial``.
    """
    decorators = [
        common_options(),
        *([figure_options] if figures else []),
        *([sampling_options] if sampling else []),
        ntoys_option(ntoys, what),
        save_partial_option,
    ]

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return decorate


def load(workspace: WorkspaceInput) -> tuple[Any, Any, dict[str, Any]]:
    """The model, the data and the (patched, validated) spec of the WORKSPACE argument."""
    model, data = workspace.model_and_data()
    return model, data, workspace.spec


def caption(
    flag: bool | None, workspace: str, spec: dict[str, Any]
) -> tuple[str, bool, dict[str, Any]]:
    """(data label, generated caption?, header keywords) of the figures: from the provenance unless asked."""
    fl = figure_labels(workspace, first_measurement(spec))
    generated = (fl.data_label == GENERATED_LABEL) if flag is None else flag
    return fl.data_label, generated, {"lumi_fb": fl.lumi_fb, **fl.header}


def run_study(
    workspace: WorkspaceInput,
    study: Callable[..., Any],
    requested: int,
    save_partial: str | None = None,
    *,
    summarize: bool = False,
    figure: tuple[str, Callable[..., Any], str | None, bool | None] | None = None,
) -> Any:
    """Run a toy study on WORKSPACE with a progress bar; keep its finished toys if it is interrupted.

    Args:
        workspace: the WORKSPACE argument.
        study: called as ``study(model, data, progress=...)``; returns the result.
        requested: the toys the study runs in all (the progress bar's total).
        save_partial: ``--save-partial`` (see :func:`partial_output`).
        summarize: the study summarizes its finished toys when interrupted (one ensemble).
        figure: ``(file name, plot, --figdir, --generated-label)``: the result is drawn
            with ``plot(result, data_label=, generated_label=, **header)`` (:func:`caption`).

    Returns:
        The study's result.
    """
    model, data, spec = load(workspace)
    with (
        progress_bar(requested, "toys") as bar,
        partial_output(save_partial, requested, summarize=summarize) as part,
    ):
        res = study(model, data, progress=bar.update)
        if summarize:
            part.finish(res.to_json)
    if figure is not None:
        name, plot, figdir, flag = figure
        label, generated, header = caption(flag, workspace, spec)
        save_figure_to(
            figdir, name, lambda: plot(res, data_label=label, generated_label=generated, **header)
        )
    return res


def save_npz(path: str, **arrays: Any) -> None:
    """Write arrays to an .npz file atomically."""
    import numpy as np

    with atomic_path(path) as tmp, tmp.open("wb") as f:
        np.savez_compressed(f, **arrays)


def save_partial_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--save-partial FILE``: an interrupted run writes the toys it finished there."""
    return extra_output_option(
        "--save-partial",
        "If interrupted (Ctrl-C, SIGTERM), write what the finished toys give to this JSON, "
        'marked "partial": true with the toys done of requested.',
    )(func)


class PartialOutput:
    """The partial run of a command (:func:`partial_output`); ``finish`` ends a summarized one."""

    def __init__(self, path: str | None, run: Any) -> None:
        self.path, self.run = path, run

    def finish(self, result: Callable[[], dict[str, Any]]) -> None:
        """If the study was interrupted and summarized its finished toys: write them, re-raise."""
        if self.run is None or self.run.interruption is None:
            return
        stop = self.run.interruption
        _write_partial(self.path, {**result(), **self.run.marks()}, self.run, stop)
        raise stop


@contextlib.contextmanager
def partial_output(
    path: str | None, requested: int, *, summarize: bool = False
) -> Iterator[PartialOutput]:
    """Keep the finished toys of the block and write them to ``path`` if it is interrupted.

    ``summarize``: the study (one ensemble) computes its result from the
    finished toys and the command calls :meth:`PartialOutput.finish`;
    otherwise each ensemble's finished per-toy values are written. Without
    ``path`` nothing is kept (an interruption leaves no output).
    """
    if path is None:
        yield PartialOutput(None, None)
        return
    from ..inference.toys.partial import find_interruption, keep_partial
    from . import _Terminated

    with keep_partial(requested, kinds=(_Terminated,), summarize=summarize) as run:
        try:
            yield PartialOutput(path, run)
        except BaseException as err:
            stop = find_interruption(err, run.kinds)
            if stop is None or stop is run.interruption:
                raise
            _write_partial(path, run.to_dict(), run, stop)
            raise


def _write_partial(path: str | None, obj: dict[str, Any], run: Any, stop: BaseException) -> None:
    """Write ``obj`` atomically; the exit message (:mod:`higgs_pyhf.cli`) then says what was kept."""
    assert path is not None
    write_text(path, dumps_json(obj))
    note = f"kept the {run.done} of {run.requested} toys that finished in {path} (marked partial)"
    log.info("%s", note)
    stop.kept = note  # type: ignore[attr-defined]
