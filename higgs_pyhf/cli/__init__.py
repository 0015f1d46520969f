"""Command-line interface: ``higgs-pyhf`` / ``python -m higgs_pyhf``.

Thin click commands, one module per area (:mod:`.build`, :mod:`.infer`,
:mod:`.compare`, :mod:`.report`, :mod:`.toys`); results as JSON on stdout,
logs and progress on stderr.

Exit codes: 0 success; 1 bad input (a library error, printed as one line
``Error: …``); 2 a usage error (click's convention: unknown option, bad
option value, printed with the usage line) or an internal error (one line
``Error: internal error …``; the traceback with ``-vv``); 130 interrupted
(SIGINT), 143 terminated (SIGTERM). An interrupted command leaves no
partial output file: writes go to temporary files that are removed on the
way out.

The group options ``-v``/``-vv`` and ``--progress/--no-progress`` may be given
before or after the subcommand.
"""

from __future__ import annotations

import logging
import signal
import sys
import traceback
from typing import Any

import click

from .. import __version__
from .._guard import command_inputs
from ..errors import HiggsPyhfError
from ._lazy import LazyCommands

__all__ = ["main"]

#: Group flags that may also follow the subcommand (they take no value).
_GROUP_FLAGS = frozenset({"--verbose", "--progress", "--no-progress"})


def _is_group_flag(arg: str) -> bool:
    return arg in _GROUP_FLAGS or (len(arg) > 1 and arg[0] == "-" and set(arg[1:]) == {"v"})


class _Terminated(BaseException):
    """Raised by the SIGTERM handler so that clean-up code runs on the way out.

    A ``BaseException``, like ``KeyboardInterrupt``: no ``except Exception``
    (a reader's "cannot read FILE", a library's fallback) may swallow it.
    """


def _on_sigterm(_signum: int, _frame: Any) -> None:
    raise _Terminated


def _interruption(err: BaseException) -> tuple[str, int] | None:
    """The message and exit code when ``err`` is, or was caused by, SIGINT/SIGTERM.

    A signal handler that raises while compiled code (a numba kernel, a C
    extension) is returning makes the interpreter raise ``SystemError: …
    returned a result with an exception set`` with the interruption as its
    cause; an error raised while cleaning up after one has it as its context.
    """
    seen: set[int] = set()
    cur: BaseException | None = err
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        kept = getattr(cur, "kept", "no partial output was left")  # toys --save-partial
        if isinstance(cur, KeyboardInterrupt):
            return f"interrupted; {kept}", 130
        if isinstance(cur, _Terminated):
            return f"terminated; {kept}", 143
        cur = cur.__cause__ or cur.__context__
    return None


def _fail(message: str, code: int) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


class _Group(LazyCommands):
    """The command group: group flags anywhere, errors as one line with an exit code."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Move group flags given after the subcommand in front of it."""
        if "--" in args:
            cut = args.index("--")
            head, tail = args[:cut], args[cut:]
        else:
            head, tail = args, []
        flags = [a for a in head if _is_group_flag(a)]
        rest = [a for a in head if not _is_group_flag(a)]
        return super().parse_args(ctx, [*flags, *rest, *tail])

    def invoke(self, ctx: click.Context) -> Any:
        verbose = int(ctx.params.get("verbose") or 0)
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except (KeyboardInterrupt, _Terminated, Exception) as err:
            interruption = _interruption(err)
            if interruption is not None:
                _fail(*interruption)
            if not isinstance(err, Exception):
                raise
            if isinstance(err, HiggsPyhfError):
                _fail(" ".join(str(err).split()), 1)
            if verbose >= 2:
                traceback.print_exc(file=sys.stderr)
            where = "" if verbose >= 2 else " (rerun with -vv for the traceback)"
            text = " ".join(str(err).split())[:300]
            _fail(f"internal error {type(err).__name__}: {text}{where}", 2)
        finally:
            signal.signal(signal.SIGTERM, previous)
        return None


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
    # pyhf logs its own errors (with tracebacks) before raising them; we report
    # them as one Error line, so its log shows only with -vv
    pyhf_log = logging.getLogger("pyhf")
    pyhf_log.handlers[:] = [handler] if verbose >= 2 else [logging.NullHandler()]
    pyhf_log.propagate = False
    # the files this command reads, which no output may replace (higgs_pyhf._guard)
    click.get_current_context().with_resource(command_inputs())
