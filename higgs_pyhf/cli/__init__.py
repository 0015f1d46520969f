"""Command-line interface: ``higgs-pyhf`` / ``python -m higgs_pyhf``.

Thin click commands, one module per area (:mod:`.build`, :mod:`.infer`,
:mod:`.compare`, :mod:`.report`, :mod:`.toys`); results as JSON on stdout, logs and progress on stderr. Errors
caused by bad input print one line ``Error: …`` and exit with code 1.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from .. import __version__
from ..errors import HiggsPyhfError
from . import build, compare, infer, report, toys

__all__ = ["main"]


class _Group(click.Group):
    """A click group that turns library errors into ``Error: …`` and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HiggsPyhfError as err:
            msg = " ".join(str(err).split())
            click.echo(f"Error: {msg}", err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="higgs-pyhf")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-v info, -vv debug).")
@click.option(
    "--progress/--no-progress",
    default=True,
    help="Progress bars on stderr (when it is a terminal).",
)
def main(verbose: int, progress: bool) -> None:
    """higgs_pyhf: ATLAS Open Data H→ZZ*→4ℓ as a pyhf statistical model."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("higgs_pyhf")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


for _module in (build, infer, compare, report, toys):
    for _cmd in _module.COMMANDS:
        main.add_command(_cmd)
