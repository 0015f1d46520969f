"""Reading JSON input files: one reader whose every failure names the file and the place.

Workspaces, configurations, templates and provenance files are read by
:func:`read_json`. Whatever is wrong with the bytes is bad input, reported
as the caller's error class (a :class:`~higgs_pyhf.errors.HiggsPyhfError`):

- the file cannot be read (missing, a folder, no permission);
- it is not UTF-8 (a Latin-1 file, say): the byte and its line;
- it is not JSON: line and column;
- it nests deeper than Python's parser can follow (``[[[[…`` 10⁵ deep);
- an integer literal longer than :data:`MAX_INT_DIGITS` digits is read as a
  float (``inf`` beyond 1e308), so that Python's limit on integer-string
  conversion (4300 digits) never fires and the numeric checks of the caller
  name the entry that holds it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .._guard import register_input
from ..errors import HiggsPyhfError

__all__ = ["MAX_INT_DIGITS", "loads_json", "read_json"]

#: Integer literals with more digits than this are read as floats (1e300 and beyond).
MAX_INT_DIGITS = 300


def _parse_int(text: str) -> int | float:
    if len(text) - text.startswith("-") > MAX_INT_DIGITS:
        return float(text)  # 1e300 ... inf: refused by the callers' range checks
    return int(text)


def loads_json(text: str, *, what: str, error: type[HiggsPyhfError]) -> Any:
    """Decode JSON ``text`` of ``what`` (a file name for messages).

    Raises:
        error: naming ``what`` and the line and column of the fault.
    """
    try:
        return json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as err:
        msg = f"{what} is not valid JSON: line {err.lineno}, column {err.colno}: {err.msg}"
        raise error(msg) from None
    except RecursionError:
        msg = f"{what} is nested too deeply (its arrays or objects nest beyond what can be read)"
        raise error(msg) from None
    except ValueError as err:  # a number the decoder cannot convert
        msg = f"{what} is not valid JSON: {err}"
        raise error(msg) from None


def read_json(path: str | os.PathLike[str], *, what: str, error: type[HiggsPyhfError]) -> Any:
    """Read and decode the JSON file ``path``; ``what`` names it in messages (``workspace file``).

    Raises:
        error: if the file cannot be read, is not UTF-8 text, or is not JSON.
    """
    p = Path(path)
    register_input(p)  # what a command reads, none of its outputs may replace
    try:
        raw = p.read_bytes()
    except OSError as err:
        msg = f"cannot read {what} {p}: {err.strerror or err}"
        raise error(msg) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        msg = (
            f"{what} {p} is not UTF-8 text: byte 0x{raw[err.start]:02x} at line {line} "
            f"(byte {err.start}); save it as UTF-8"
        )
        raise error(msg) from None
    return loads_json(text, what=f"{what} {p}", error=error)
