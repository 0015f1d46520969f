"""Small I/O helpers shared by the pipeline stages: atomic, deterministic, safe writes.

Every output file is written to a temporary file next to it and renamed
into place, so no partial output is ever visible. The temporary names carry
the writing process's id (``.<name>.higgs-pyhf-tmp-<pid>-…``); a later write
of the same output removes the leftovers of processes that no longer run (a
killed command leaves nothing behind for long).

Outputs that are not regular files are never renamed over: a symbolic link
is written through (the file it points to is replaced, the link stays), a
device or FIFO (``/dev/null``, ``/dev/stdout``) gets the bytes written into
it, a directory is refused. :func:`check_not_input` refuses an output that
is one of the command's inputs.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .errors import OutputError

__all__ = [
    "DIR_MARKER",
    "as_float",
    "atomic_dir",
    "atomic_path",
    "check_not_input",
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


def _remove_stale(target: Path) -> None:
    """Remove temporary files and folders of ``target`` left by processes that are gone."""
    for p in target.parent.glob(f".{target.name}{_TMP_TAG}*"):
        pid_text = p.name[len(f".{target.name}{_TMP_TAG}") :].split("-", 1)[0]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not _alive(int(pid_text)):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    p.unlink()


def _prepare(path: str | os.PathLike[str]) -> tuple[Path, bool]:
    """The file to replace (links resolved) and whether it is a device/FIFO to write into."""
    target = Path(path)
    if target.is_symlink():
        target = target.resolve()
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as err:
        msg = f"cannot write {path}: {err.strerror}"
        raise OutputError(msg) from None
    if mode is not None and stat.S_ISDIR(mode):
        msg = f"cannot write {path}: it is a directory"
        raise OutputError(msg)
    special = mode is not None and not stat.S_ISREG(mode)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        msg = f"cannot create the folder of {path}: {err.strerror} ({err.filename})"
        raise OutputError(msg) from None
    return target, special


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; put it in place of ``path`` on success.

    If the body raises (or the process is interrupted), the temporary file is
    removed and ``path`` is left untouched.

    Args:
        path: final destination.

    Yields:
        A temporary file path in the same directory (same file system).

    Raises:
        OutputError: if ``path`` is a directory or its folder cannot be made or written.
    """
    target, special = _prepare(path)
    _remove_stale(target)
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}{_TMP_TAG}{os.getpid()}-",
            suffix=target.suffix,
            dir=target.parent,
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
        yield tmp
        if special:
            with target.open("wb") as out:
                out.write(tmp.read_bytes())
        else:
            tmp.replace(target)
    finally:
        if tmp.exists():
            tmp.unlink()


#: File that marks a folder as written by :func:`atomic_dir` (so it may be replaced).
DIR_MARKER = ".higgs_pyhf_output"


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; make it ``path`` on success, as a unit.

    The folder is filled in a staging folder (``.<name>.higgs-pyhf-tmp-<pid>``)
    and renamed into place at the end, so an interrupted run never leaves a
    half-written folder (stale staging folders of dead processes are removed
    by the next run). An existing ``path`` is replaced only if it is empty or
    was written by this function (it holds :data:`DIR_MARKER`).

    Raises:
        OutputError: if ``path`` is a file, or a folder with other contents.
    """
    target = Path(path)
    if target.is_symlink():
        target = target.resolve()
    if target.exists() and not target.is_dir():
        msg = f"output folder {path} is a file"
        raise OutputError(msg)
    if target.is_dir() and any(target.iterdir()) and not (target / DIR_MARKER).exists():
        msg = f"output folder {path} exists and holds other files; choose a new or empty folder"
        raise OutputError(msg)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        msg = f"cannot create the folder of {path}: {err.strerror}"
        raise OutputError(msg) from None
    _remove_stale(target)
    stage = target.parent / f".{target.name}{_TMP_TAG}{os.getpid()}-dir"
    old = target.parent / f".{target.name}{_TMP_TAG}{os.getpid()}-old"
    for leftover in (stage, old):
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        stage.mkdir()
    except OSError as err:
        msg = f"cannot write in the folder of {path}: {err.strerror}"
        raise OutputError(msg) from None
    try:
        yield stage
        (stage / DIR_MARKER).write_text("written by higgs_pyhf; may be replaced by a rerun\n")
        if target.exists():
            target.rename(old)
        stage.rename(target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def check_not_input(
    output: str | os.PathLike[str] | None, inputs: Iterable[str | os.PathLike[str] | None]
) -> None:
    """Refuse an output path that is (or links to) one of the inputs.

    Raises:
        OutputError: naming the path.
    """
    if output is None:
        return
    out = Path(output)
    if not out.exists():
        return
    for item in inputs:
        if item is None:
            continue
        p = Path(item)
        if p.exists() and out.samefile(p):
            msg = (
                f"output {output} is an input of this command ({item}); choose another output path"
            )
            raise OutputError(msg)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as deterministic, strict JSON to ``path`` atomically and return the path."""
    return write_text(path, dumps_json(obj))
