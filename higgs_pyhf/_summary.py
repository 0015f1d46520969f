"""The Python face of every result: ``to_dict()`` (the CLI's JSON) and a short summary.

Every result class (a ``typing.NamedTuple``) hands its ``to_dict``,
``__repr__`` and ``_repr_markdown_`` methods to these three functions, in
three one-line methods: on Python 3.11 a NamedTuple takes no mixin class,
and mypy refuses the shorter ``to_dict = result_dict`` in its body.

``to_dict()`` is exactly what the command line prints, read back: the
result's ``to_json()`` through the CLI's strict serialiser (NaN and ±inf
become ``None``, tuples lists, keys sorted).
"""

from __future__ import annotations

import json
from typing import Any

from ._io import dumps_json

__all__ = ["markdown_repr", "result_dict", "short_repr"]

#: Scalar entries shown by :func:`short_repr` (more go to the Markdown summary).
_SHORT = 6
#: Rows of a parameter table in the Markdown summary.
_ROWS = 12


def result_dict(result: Any) -> dict[str, Any]:
    """The result as the CLI prints it (``json.loads`` of its JSON)."""
    obj = json.loads(dumps_json(result.to_json()))
    assert isinstance(obj, dict)
    return obj


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, str | int | float | bool)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def short_repr(result: Any) -> str:
    """``ClassName(key=value, …)`` with the first scalar entries of :func:`result_dict`."""
    d = result_dict(result)
    parts = [f"{k}={_fmt(v)}" for k, v in d.items() if _scalar(v)]
    params = d.get("parameters")
    if isinstance(params, dict) and params:
        parts.insert(0, f"parameters=[{len(params)}]")
    more = ", …" if len(parts) > _SHORT else ""
    return f"{type(result).__name__}({', '.join(parts[:_SHORT])}{more})"


def _parameter_rows(params: dict[str, Any]) -> list[str]:
    rows = ["| parameter | value | error |", "|---|---|---|"]
    for name, p in list(params.items())[:_ROWS]:
        if isinstance(p, dict) and "value" in p:
            err = "fixed" if p.get("fixed") else _fmt(p.get("error"))
            rows.append(f"| `{name}` | {_fmt(p['value'])} | {err} |")
    if len(params) > _ROWS:
        rows.append(f"| … {len(params) - _ROWS} more | | |")
    return rows


def markdown_repr(result: Any) -> str:
    """A short Markdown summary for notebooks: the scalar entries and a parameter table."""
    d = result_dict(result)
    lines = [f"**{type(result).__name__}**", ""]
    scalars = [(k, v) for k, v in d.items() if _scalar(v)]
    if scalars:
        lines += ["| | |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in scalars]
    params = d.get("parameters")
    if isinstance(params, dict) and params:
        lines += ["", *_parameter_rows(params)]
    nested = [k for k, v in d.items() if not _scalar(v) and k != "parameters"]
    if nested:
        lines += ["", "Also in `to_dict()`: " + ", ".join(f"`{k}`" for k in nested)]
    return "\n".join(lines)
