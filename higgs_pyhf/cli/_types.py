"""Click parameter types shared by the commands: floats that must be finite.

Python's ``float`` reads ``nan``, ``inf`` and ``1e999`` (→ inf) and click's
``FloatRange`` lets NaN through (every comparison with NaN is false), so
``--level nan`` would reach the statistics. :data:`FINITE_FLOAT` and
:class:`FiniteFloatRange` refuse non-finite values with click's usage
error (exit 2), naming the option.
"""

from __future__ import annotations

import math
from typing import Any

import click

__all__ = ["FINITE_FLOAT", "FiniteFloat", "FiniteFloatRange", "range_option"]


def _finite(value: float, param: click.Parameter | None, ctx: click.Context | None) -> float:
    if not math.isfinite(value):
        msg = f"{value!r} is not a finite number"
        raise click.BadParameter(msg, ctx=ctx, param=param)
    return value


class FiniteFloat(click.types.FloatParamType):
    """A float option value that is neither NaN nor infinite."""

    name = "finite float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return _finite(super().convert(value, param, ctx), param, ctx)


class FiniteFloatRange(click.FloatRange):
    """click's ``FloatRange`` that also refuses NaN (which passes every bound) and ±inf."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return _finite(super().convert(value, param, ctx), param, ctx)


#: The type of every float option: ``type=FINITE_FLOAT`` (or in a tuple type).
FINITE_FLOAT = FiniteFloat()


def range_option(*param_decls: str, help_text: str) -> Any:
    """An optional ``LO HI`` option of two finite floats (a scan or grid range), default None."""
    return click.option(
        *param_decls,
        type=(FINITE_FLOAT, FINITE_FLOAT),
        default=None,
        metavar="LO HI",
        help=help_text,
    )
