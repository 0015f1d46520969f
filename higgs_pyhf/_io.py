"""Small I/O helpers shared by the pipeline stages: atomic, deterministic, safe writes.

Every output file is written to a temporary file next to it and renamed
into place, so no partial output is ever visible. The temporary names carry
the writing process's id (``.<name>.higgs-pyhf-tmp-<pid>-…``); a later write
of the same output removes the leftovers of processes that no longer run (a
killed command leaves nothing behind for long).

Every path is checked by the output guard (:mod:`._guard`) before it is
written: never an input of the running command, never a directory, FIFO or
device other than ``/dev/null``, ``/dev/stdout`` and ``/dev/stderr`` (which
get the bytes written into them); a symbolic link is written through (the
file it points to is replaced, the link stays). Long output names get a
shortened temporary name (the name's head and a hash), so any legal name can
be written. A full disk is an :class:`~.errors.OutputError` naming the path.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ._guard import (
    MANIFEST,
    check_output,
    check_output_folder,
    manifest_text,
    register_inputs,
    short_name,
)
from .errors import OutputError

__all__ = [
    "DIR_MARKER",
    "as_float",
    "atomic_dir",
    "atomic_path",
    "check_not_input",
    "check_output_dir",
    "dumps_json",
    "jsonable",
    "write_json",
    "write_text",
]

_TMP_TAG = ".higgs-pyhf-tmp-"


def _strict(obj: Any) -> Any:
    """``obj`` with NaN and ±inf floats replaced by None (strict JSON has no NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_strict(v) for v in obj]
    return obj


def dumps_json(obj: Any) -> str:
    """Serialise ``obj`` deterministically and strictly (sorted keys, indent 4, newline).

    NaN and infinite floats (an interval end outside the scanned range, say)
    are written as ``null``, so that every JSON parser reads the output;
    :func:`as_float` reads them back as NaN.
    """
    return json.dumps(_strict(obj), indent=4, sort_keys=True, allow_nan=False) + "\n"


def jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON types, recursively.

    Results become their ``to_json()``; numpy arrays lists and numpy scalars
    Python numbers; tuples lists; dict keys strings.
    """
    if hasattr(obj, "to_json"):
        return obj.to_json()
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, tuple | list):
        return [jsonable(v) for v in obj]
    return obj


def as_float(value: Any) -> float:
    """A JSON number as float, ``null`` (a NaN or inf when written) as NaN."""
    return math.nan if value is None else float(value)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tmp_prefix(target: Path) -> str:
    """Prefix of the temporary names of ``target`` (short, whatever the length of its name)."""
    return f".{short_name(target.name)}{_TMP_TAG}"


def _remove_stale(target: Path) -> None:
    """Remove temporary files and folders of ``target`` left by processes that are gone."""
    prefix = _tmp_prefix(target)
    for p in target.parent.glob(f"{glob.escape(prefix)}*"):
        pid_text = p.name[len(prefix) :].split("-", 1)[0]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not _alive(int(pid_text)):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    p.unlink()


def _make_folder_of(target: Path, path: str | os.PathLike[str]) -> None:
    """Create the folder ``target`` goes in and clear the stale temporaries there.

    Raises:
        OutputError: naming ``path`` and the folder that could not be made.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        msg = f"cannot create the folder of {path}: {err.strerror} ({err.filename})"
        raise OutputError(msg) from None
    _remove_stale(target)


#: errno values that mean the output could not be written (not a bug, not bad input).
_WRITE_ERRORS = {
    errno.ENOSPC: "no space left writing {path}",
    errno.EDQUOT: "disk quota exceeded writing {path}",
    errno.EFBIG: "file too large writing {path}",
    errno.EROFS: "cannot write {path}: read-only file system",
    errno.EIO: "input/output error writing {path}",
}


@contextlib.contextmanager
def _write_errors(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn a full disk (and the like) into an :class:`OutputError` naming ``path``."""
    try:
        yield
    except OSError as err:
        text = _WRITE_ERRORS.get(err.errno or 0)
        if text is None:
            raise
        raise OutputError(text.format(path=os.fspath(path))) from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; put it in place of ``path`` on success.

    ``path`` is checked by the output guard first (:func:`~._guard.check_output`:
    not an input of the running command, not a directory, FIFO or device
    other than ``/dev/null``/``/dev/stdout``/``/dev/stderr``). If the body
    raises (or the process is interrupted), the temporary file is removed and
    ``path`` is left untouched.

    Args:
        path: final destination.

    Yields:
        A temporary file path in the same directory (same file system).

    Raises:
        OutputError: if ``path`` may not be written, its folder cannot be made
            or written, or the disk is full.
    """
    target, special = check_output(path)
    if not special:
        _make_folder_of(target, path)
    suffix = target.suffix if len(target.suffix) <= 16 else ""
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f"{_tmp_prefix(target)}{os.getpid()}-",
            suffix=suffix,
            dir=None if special else target.parent,
        )
    except OSError as err:
        msg = f"cannot write {path}: {err.strerror}"
        raise OutputError(msg) from None
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
    try:
        with _write_errors(path):
            yield tmp
            if special:
                with target.open("wb") as out:
                    out.write(tmp.read_bytes())
            else:
                check_output(path)  # an input may have appeared meanwhile
                tmp.replace(target)
    finally:
        if tmp.exists():
            tmp.unlink()


#: File that marks a folder as written by :func:`atomic_dir`: the manifest of what it wrote.
DIR_MARKER = MANIFEST


def check_output_dir(path: str | os.PathLike[str]) -> None:
    """Refuse, before any work, an output folder that :func:`atomic_dir` would not replace."""
    check_output_folder(path)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; make it ``path`` on success, as a unit.

    The folder is filled in a staging folder (``.<name>.higgs-pyhf-tmp-<pid>``)
    and renamed into place at the end, so an interrupted run never leaves a
    half-written folder (stale staging folders of dead processes are removed
    by the next run). The staging folder gets a manifest (:data:`DIR_MARKER`)
    of every file written. An existing ``path`` is replaced only if it is
    empty or holds exactly what its manifest lists, unchanged, and no input
    of the running command (:func:`~._guard.check_output_folder`, checked on
    entry and again just before the replacement).

    Raises:
        OutputError: if ``path`` is a file, or a folder with other contents.
    """
    target = check_output_folder(path)
    _make_folder_of(target, path)
    stage = target.parent / f"{_tmp_prefix(target)}{os.getpid()}-dir"
    old = target.parent / f"{_tmp_prefix(target)}{os.getpid()}-old"
    for leftover in (stage, old):
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        stage.mkdir()
    except OSError as err:
        msg = f"cannot write in the folder of {path}: {err.strerror}"
        raise OutputError(msg) from None
    try:
        with _write_errors(path):
            yield stage
            (stage / DIR_MARKER).write_text(manifest_text(stage), encoding="utf-8")
            check_output_folder(path)
            if target.exists():
                target.rename(old)
            stage.rename(target)
    except OutputError as err:  # name the folder asked for, not the staging folder
        raise OutputError(str(err).replace(str(stage), os.fspath(path))) from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def check_not_input(
    output: str | os.PathLike[str] | None, inputs: Iterable[str | os.PathLike[str] | None]
) -> None:
    """Register ``inputs`` with the running command and refuse ``output`` if it is one of them.

    Raises:
        OutputError: naming the path.
    """
    items = list(inputs)
    register_inputs(items)
    if output is not None:
        check_output(output, items)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as deterministic, strict JSON to ``path`` atomically and return the path."""
    return write_text(path, dumps_json(obj))
