"""CLI commands for shared and published likelihoods: ``cls`` and ``grid``.

``cls`` is ``pyhf cls`` on the engine: the same options and the same JSON
(``CLs_obs``, ``CLs_exp``) plus the fit status and the time. ``grid`` runs a
whole signal grid (a directory of patch files or a patchset) against one
background-only workspace and draws the exclusion contour.
"""

from __future__ import annotations

import logging

import click

from ._common import emit_json, output_option
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


COMMANDS: list[click.Command] = [cls_cmd]
