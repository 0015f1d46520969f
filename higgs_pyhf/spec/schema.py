"""pyhf's JSON schemas, checked without importing pyhf.

The schema files are read from the installed pyhf package (the same files
``pyhf.schema.validate`` uses) and checked with jsonschema's Draft 6
validator, as pyhf does, numpy arrays and numbers counting as JSON arrays
and numbers. Importing pyhf costs about a second (it imports scipy.stats);
a command that only needs to read a workspace should not pay it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import numbers
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SchemaError", "schema_dir", "validate"]

#: pyhf's schema version of workspaces, patches and patchsets.
VERSION = "1.0.0"
_BASE = f"https://scikit-hep.org/pyhf/schemas/{VERSION}/"


class SchemaError(Exception):
    """A specification does not follow the schema.

    Attributes:
        path: where, as pyhf writes it (``channels[0].samples[1]``).
        detail: jsonschema's message.
    """

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"{path}: {detail}")
        self.path = path
        self.detail = detail


def schema_dir() -> Path:
    """The folder of pyhf's schema files (found without importing pyhf)."""
    found = importlib.util.find_spec("pyhf")
    if found is None or not found.submodule_search_locations:
        msg = "pyhf is not installed"
        raise ModuleNotFoundError(msg)
    return Path(next(iter(found.submodule_search_locations))) / "schemas" / VERSION


@functools.cache
def _validator(name: str) -> Any:
    import jsonschema
    from referencing import Registry
    from referencing.jsonschema import DRAFT6

    folder = schema_dir()
    contents = {
        p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))
    }
    # Without "$schema" a reference keeps this validator (and its numpy-aware types):
    # jsonschema picks the validator of a referenced schema from its "$schema".
    resources = [
        (_BASE + n, DRAFT6.create_resource({k: v for k, v in c.items() if k != "$schema"}))
        for n, c in contents.items()
    ]
    registry: Any = Registry().with_resources(resources)
    checker = jsonschema.Draft6Validator.TYPE_CHECKER.redefine(
        "array", lambda _c, x: isinstance(x, list | np.ndarray)
    ).redefine(
        "number",
        lambda _c, x: (
            isinstance(x, numbers.Number | np.number) and not isinstance(x, bool | np.bool_)
        ),
    )
    cls = jsonschema.validators.extend(jsonschema.Draft6Validator, type_checker=checker)
    # an absolute reference: draft 6 ignores the $id beside the schema files' top-level $ref
    return cls({"$ref": _BASE + name}, registry=registry)


#: Digests of the plain-JSON documents that passed, in the order they did (at most 64).
_PASSED: OrderedDict[tuple[str, bytes], None] = OrderedDict()
_PASSED_MAX = 64


def _digest(spec: Any, name: str) -> tuple[str, bytes] | None:
    """A key for a plain-JSON document (``None`` for one holding numpy values)."""
    try:
        text = json.dumps(spec, sort_keys=True, allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        return None
    return name, hashlib.blake2b(text.encode(), digest_size=16).digest()


def validate(spec: Any, name: str = "workspace.json") -> None:
    """Check ``spec`` against pyhf's schema ``name`` (``workspace.json``, ``patchset.json``, ...).

    A document equal to one that passed before in this process is not walked
    again: validating a large workspace takes jsonschema a tenth of a second
    or more, and a session (a notebook, the tests, ``grid``) reads the same
    workspace many times.

    Raises:
        SchemaError: at the first violation, with its path.
    """
    import jsonschema

    key = _digest(spec, name)
    if key is not None and key in _PASSED:  # oldest out first (no reordering: thread-safe)
        return
    try:
        _validator(name).validate(spec)
    except jsonschema.ValidationError as err:
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.path)
        raise SchemaError(path.lstrip("."), err.message) from None
    if key is not None:
        _PASSED[key] = None
        while len(_PASSED) > _PASSED_MAX:
            _PASSED.popitem(last=False)
