"""CLI commands for shared and published likelihoods: ``cls`` and ``grid``.

``cls`` is ``pyhf cls`` on the engine: the same options and the same JSON
(``CLs_obs``, ``CLs_exp``) plus the fit status and the time. ``grid`` runs a
whole signal grid (a directory of patch files or a patchset) against one
background-only workspace and draws the exclusion contour.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from ..errors import WorkspaceError
from ._common import (
    emit_json,
    figdir_option,
    output_option,
    progress_bar,
    save_figure_to,
    scheduler_options,
)
from ._workspace import WorkspaceInput, workspace_input

__all__ = ["COMMANDS"]

log = logging.getLogger(__name__)

_TEST_STATS = ("qtilde", "q")


@click.command("cls")
@workspace_input
@click.option(
    "--test-poi",
    "--testpoi",
    "test_poi",
    type=float,
    default=1.0,
    show_default=True,
    help="Tested POI value.",
)
@click.option(
    "--test-stat",
    "--teststat",
    "test_stat",
    type=click.Choice(_TEST_STATS),
    default="qtilde",
    show_default=True,
    help="Test statistic (as pyhf's).",
)
@click.option(
    "--measurement", default=None, help="Measurement of the workspace [default: the first]."
)
@output_option()
def cls_cmd(
    workspace: WorkspaceInput,
    test_poi: float,
    test_stat: str,
    measurement: str | None,
    output: str | None,
) -> None:
    """Asymptotic CLs of WORKSPACE at --test-poi, as `pyhf cls` (on the engine).

    Prints {"CLs_obs", "CLs_exp": [-2σ … +2σ]} like pyhf, plus "fit_status",
    "poi", "test_poi", "test_stat" and "timing" {"cpu_s", "wall_s"} of
    compiling the model and the fits.
    """
    from ..inference.cls import hypotest

    model, data = workspace.model_and_data(measurement)
    result = hypotest(model, data, test_poi=test_poi, test_stat=test_stat)
    emit_json(result.to_json(), output)


def _grid_patches(
    bkg: str, patch_dir: str | None, patchset: str | None, pattern: str | None
) -> tuple[dict[str, Any], list[Any], tuple[str, ...], bool]:
    """The background-only spec, the patches, the labels and whether the labels are masses."""
    from ..inference.grid import values_from_name
    from ..spec.patches import load_patch, load_patchset, verify_digests
    from ..workspace import load_workspace

    if (patch_dir is None) == (patchset is None):
        msg = "give either PATCH_DIR or --patchset PS"
        raise click.UsageError(msg)
    spec = load_workspace(bkg)
    if patchset is not None:
        ps = load_patchset(patchset)
        verify_digests(ps, spec, bkg)
        masses = all(_is_mass(label) for label in ps.labels)
        return spec, list(ps.patches), ps.labels, masses
    folder = Path(str(patch_dir))
    if not folder.is_dir():
        msg = f"patch folder {folder} is not a folder"
        raise WorkspaceError(msg)
    files = sorted(f for f in folder.glob("patch*.json") if f.is_file())
    if not files:
        files = sorted(f for f in folder.glob("*.json") if f.is_file() and not f.samefile(bkg))
    if not files:
        msg = f"patch folder {folder} holds no patch files (patch*.json)"
        raise WorkspaceError(msg)
    patches = []
    for f in files:
        values = values_from_name(f.name, pattern)
        patches.append(load_patch(f)._replace(values=values))
    n = {len(p.values) for p in patches}
    if len(n) != 1:
        msg = f"the file names of {folder} give different numbers of values {sorted(n)}; choose them with --values-from-name"
        raise WorkspaceError(msg)
    labels = tuple(f"value {k + 1} of the file name" for k in range(n.pop()))
    return spec, patches, labels, False


def _is_mass(label: str) -> bool:
    low = label.lower()
    return low.startswith(("m_", "m(", "mass")) or low in {"m1", "m2", "m3"}


@click.command("grid")
@click.argument("bkgonly", type=click.Path(dir_okay=False))
@click.argument("patch_dir", required=False, type=click.Path(file_okay=False))
@click.option(
    "--patchset",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="PS",
    help="A pyhf patchset instead of PATCH_DIR (its digest is checked against BKGONLY).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    required=True,
    help="The results table (JSON).",
)
@click.option("--csv", "csv", is_flag=True, help="Also write the table as CSV (OUTPUT with .csv).")
@click.option(
    "--limits", is_flag=True, help="Also the 95% CL upper limit on the POI with its band."
)
@click.option(
    "--values-from-name",
    "pattern",
    default=None,
    metavar="PATTERN",
    help="Regular expression of a point's coordinates in its file name (its groups, or its "
    "matches) [default: every number in the name].",
)
@click.option(
    "--axis-labels",
    type=(str, str),
    default=None,
    metavar="X Y",
    help="Axis labels of the contour [default: the patchset's labels, in GeV if they are masses].",
)
@click.option("--test-poi", type=float, default=1.0, show_default=True, help="Tested POI value.")
@click.option("--test-stat", type=click.Choice(_TEST_STATS), default="qtilde", show_default=True)
@click.option("--measurement", default=None, help="Measurement [default: the first].")
@figdir_option
@scheduler_options
def grid_cmd(
    bkgonly: str,
    patch_dir: str | None,
    patchset: str | None,
    output: str,
    csv: bool,
    limits: bool,
    pattern: str | None,
    axis_labels: tuple[str, str] | None,
    test_poi: float,
    test_stat: str,
    measurement: str | None,
    figdir: str | None,
    workers: int,
    scheduler: str | None,
) -> None:
    """CLs at --test-poi of every signal point: BKGONLY with each patch of PATCH_DIR or --patchset.

    Writes the table (OUTPUT, and OUTPUT.csv with --csv) and, with --figdir,
    the exclusion contour exclusion.png (observed and expected CLs = 0.05 with
    the ±1σ band) in the plane of the first two coordinates of the points.
    """
    from .._io import check_not_input, write_text
    from ..inference.grid import run_grid

    csv_path = Path(output).with_suffix(".csv") if csv else None
    inputs = [bkgonly, patchset, *(Path(patch_dir).glob("*.json") if patch_dir else [])]
    for out in (output, csv_path):
        check_not_input(out, inputs)
    spec, patches, labels, masses = _grid_patches(bkgonly, patch_dir, patchset, pattern)
    bar = progress_bar(len(patches), "grid")
    try:
        result = run_grid(
            spec,
            patches,
            labels=labels,
            measurement=measurement,
            test_poi=test_poi,
            test_stat=test_stat,
            limits=limits,
            workers=workers,
            scheduler=scheduler,
            progress=bar.update,
        )
    finally:
        bar.close()
    if figdir is not None and len(labels) < 2:
        msg = "the exclusion contour needs two coordinates per point; see --values-from-name"
        raise WorkspaceError(msg)

    def draw() -> Any:
        from ..plotting.exclusion import axis_label, plot_exclusion

        x, y = axis_labels or (axis_label(lab, mass_in_gev=masses) for lab in labels[:2])
        tested = [p for p in result.points if not p.error]
        return plot_exclusion(
            [p.values for p in tested],
            [p.cls_observed for p in tested],
            [p.cls_expected for p in tested],
            xlabel=x,
            ylabel=y,
            slice_names=labels,
            title=f"CLs at {result.poi} = {test_poi:g}",
        )

    save_figure_to(figdir, "exclusion.png", draw)
    if csv_path is not None:
        write_text(csv_path, result.to_csv())
    emit_json(result.to_json(), output)


COMMANDS: list[click.Command] = [cls_cmd, grid_cmd]
