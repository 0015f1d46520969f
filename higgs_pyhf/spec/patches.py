"""JSON Patches and pyhf patchsets: signal points applied to a background-only workspace.

Published likelihoods (HEPData) come as a background-only workspace plus one
JSON Patch (RFC 6902) per signal point, or as one pyhf *patchset* holding all
of them with the digest of the workspace they were made for::

    {"metadata": {"digests": {"sha256": "…"}, "labels": ["m1", "m2"], …},
     "patches": [{"metadata": {"name": "point", "values": [1300, 205]},
                  "patch": [{"op": "add", "path": "/channels/0/samples/0", …}]}],
     "version": "1.0.0"}

Files are read once here (``-`` is standard input); :func:`apply_patches`
applies the operations one by one so that a failure names the patch and the
operation. The digest is pyhf's (:func:`digest`: the hash of the sorted-key
JSON), so a patchset made by pyhf verifies here and vice versa.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import WorkspaceError
from . import json_input

__all__ = [
    "Patch",
    "PatchSet",
    "apply_patches",
    "digest",
    "load_patch",
    "load_patchset",
    "read_json",
    "verify_digests",
]

#: JSON Patch operations (RFC 6902).
OPERATIONS = ("add", "remove", "replace", "move", "copy", "test")


class Patch(NamedTuple):
    """One signal point: a named JSON Patch.

    Attributes:
        name: the patch's name (the patchset's, or the file name).
        operations: the JSON Patch operations, in order.
        values: the point's coordinates (a patchset's ``values``), empty if unknown.
        source: where the patch came from (a file, ``stdin``, ``PS:name``).
    """

    name: str
    operations: list[dict[str, Any]]
    values: tuple[float, ...] = ()
    source: str = ""


class PatchSet(NamedTuple):
    """A pyhf patchset.

    Attributes:
        labels: names of the coordinates of the points (``values``).
        digests: hash algorithm → digest of the background-only workspace.
        patches: the patches, in file order.
        source: the file it was read from.
    """

    labels: tuple[str, ...]
    digests: dict[str, str]
    patches: tuple[Patch, ...]
    source: str

    def get(self, name: str) -> Patch:
        """The patch called ``name`` (or whose values, comma-separated, are ``name``)."""
        for p in self.patches:
            if p.name == name or ",".join(f"{v:g}" for v in p.values) == name:
                return p
        names = [p.name for p in self.patches]
        shown = ", ".join(names[:8]) + (f", … ({len(names)} in all)" if len(names) > 8 else "")
        msg = f"patchset {self.source} has no patch {name!r}; it holds {shown}"
        raise WorkspaceError(msg)


def read_json(path: str | Path, what: str) -> Any:
    """Read a JSON file (``-``: standard input) once, with :mod:`.json_input`'s checks.

    Raises:
        WorkspaceError: naming the file if it cannot be read or is not JSON.
    """
    if str(path) != "-":
        return json_input.read_json(path, what=what, error=WorkspaceError)
    try:
        text = sys.stdin.read()
    except OSError as err:
        msg = f"cannot read {what} stdin: {err.strerror}"
        raise WorkspaceError(msg) from None
    except UnicodeDecodeError as err:
        msg = f"{what} stdin is not UTF-8 text (byte {err.start})"
        raise WorkspaceError(msg) from None
    return json_input.loads_json(text, what=f"{what} stdin", error=WorkspaceError)


def _check_operations(ops: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(ops, list):
        msg = f"{where} is not a JSON Patch (a list of operations), got {type(ops).__name__}"
        raise WorkspaceError(msg)
    for i, op in enumerate(ops):
        if not isinstance(op, dict) or op.get("op") not in OPERATIONS:
            msg = f"{where}: operation {i} is not a JSON Patch operation ({', '.join(OPERATIONS)})"
            raise WorkspaceError(msg)
        if not isinstance(op.get("path"), str):
            msg = f"{where}: operation {i} ({op['op']}) has no 'path' string"
            raise WorkspaceError(msg)
    return ops


def load_patch(path: str | Path) -> Patch:
    """Read a JSON Patch file (``-``: standard input)."""
    source = "stdin" if str(path) == "-" else str(path)
    ops = _check_operations(read_json(path, "patch"), f"patch {source}")
    name = "stdin" if source == "stdin" else Path(path).name
    return Patch(name, ops, (), source)


def load_patchset(path: str | Path) -> PatchSet:
    """Read a pyhf patchset file (``-``: standard input).

    Raises:
        WorkspaceError: if it is not a patchset (naming the entry).
    """
    source = "stdin" if str(path) == "-" else str(path)
    obj = read_json(path, "patchset")
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    if not isinstance(meta, dict) or not isinstance(obj.get("patches"), list):
        msg = f"patchset {source} needs 'metadata' and 'patches' (pyhf's patchset format)"
        raise WorkspaceError(msg)
    labels, digests = meta.get("labels"), meta.get("digests")
    if not isinstance(labels, list) or not isinstance(digests, dict) or not digests:
        msg = (
            f"patchset {source}: metadata needs 'labels' (a list) and 'digests' (algorithm: digest)"
        )
        raise WorkspaceError(msg)
    patches = []
    for i, entry in enumerate(obj["patches"]):
        where = f"patchset {source}: patches[{i}]"
        pmeta = entry.get("metadata") if isinstance(entry, dict) else None
        if not isinstance(pmeta, dict) or not isinstance(pmeta.get("name"), str):
            msg = f"{where} needs metadata.name"
            raise WorkspaceError(msg)
        values = pmeta.get("values", [])
        if not isinstance(values, list) or len(values) != len(labels):
            msg = f"{where} ({pmeta['name']}) has values {values!r}, expected {len(labels)} numbers for labels {labels}"
            raise WorkspaceError(msg)
        try:
            vals = tuple(float(v) for v in values)
        except (TypeError, ValueError):
            msg = f"{where} ({pmeta['name']}) has values that are not numbers: {values!r}"
            raise WorkspaceError(msg) from None
        ops = _check_operations(entry.get("patch"), f"{where} ({pmeta['name']})")
        patches.append(Patch(pmeta["name"], ops, vals, f"{source}:{pmeta['name']}"))
    names = [p.name for p in patches]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        msg = f"patchset {source} defines the patches {dup} more than once"
        raise WorkspaceError(msg)
    return PatchSet(tuple(str(v) for v in labels), dict(digests), tuple(patches), source)


def digest(obj: Any, algorithm: str = "sha256") -> str:
    """The digest pyhf gives a JSON object: the hash of its sorted-key JSON text (UTF-8)."""
    if algorithm not in hashlib.algorithms_available:
        msg = f"unknown digest algorithm {algorithm!r}"
        raise WorkspaceError(msg)
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False).encode("utf8")
    return hashlib.new(algorithm, text).hexdigest()


def verify_digests(patchset: PatchSet, spec: Any, source: str) -> None:
    """Check that ``spec`` is the background-only workspace the patchset was made for.

    Raises:
        WorkspaceError: naming the algorithm, the expected and the actual digest.
    """
    for algorithm, expected in patchset.digests.items():
        got = digest(spec, algorithm)
        if got != expected:
            msg = (
                f"patchset {patchset.source} was made for another background-only workspace than "
                f"{source}: {algorithm} digest {got}, the patchset expects {expected}"
            )
            raise WorkspaceError(msg)


def apply_patches(spec: Any, patches: Sequence[Patch]) -> Any:
    """The workspace ``spec`` with ``patches`` applied in order (``spec`` is not changed).

    Raises:
        WorkspaceError: naming the patch and the operation that does not apply.
    """
    if not patches:
        return spec
    import jsonpatch
    import jsonpointer

    doc = copy.deepcopy(spec)
    for patch in patches:
        for i, op in enumerate(patch.operations):
            try:
                doc = jsonpatch.JsonPatch([op]).apply(doc, in_place=True)
            except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as err:
                msg = (
                    f"patch {patch.source or patch.name} does not apply: operation {i} "
                    f"({op['op']} {op['path']}): {err}"
                )
                raise WorkspaceError(msg) from None
            except (TypeError, KeyError, IndexError, ValueError) as err:
                msg = (
                    f"patch {patch.source or patch.name} does not apply: operation {i} "
                    f"({op['op']} {op['path']}): {type(err).__name__}: {err}"
                )
                raise WorkspaceError(msg) from None
    return doc
