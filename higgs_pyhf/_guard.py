"""The output guard: every file higgs_pyhf writes is checked here first.

One place decides whether a path may be written:

- **Inputs are never outputs.** Every file a command reads (the workspace and
  the provenance file next to it, configurations, templates, histogram files,
  groups and patch files, ntuples) is registered with :func:`register_input`
  while a command runs (inside :func:`command_inputs`); :func:`check_output`
  refuses an output that resolves to one of them, compared by resolved path
  (symbolic links, ``./x`` and ``x``) and by file identity (``st_dev``,
  ``st_ino``: hard links).
- **Only regular files are replaced.** A directory, FIFO, socket or device is
  refused, except ``/dev/null``, ``/dev/stdout`` and ``/dev/stderr``, which
  are written into.
- **Output folders are replaced only when nothing would be lost.**
  :func:`check_output_folder` lets a folder be replaced when it is empty, or
  when it holds exactly the files its manifest (:data:`MANIFEST`) lists with
  the recorded contents, and never when it holds an input.
- **Names from a workspace or configuration become file names only through**
  :func:`safe_name` (a fixed safe alphabet, a short hash suffix when a name
  was changed), and :func:`child_path` keeps the result inside the folder the
  user named.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import ParamSpec, TypeVar

from .errors import OutputError

P = ParamSpec("P")
R = TypeVar("R")

__all__ = [
    "MANIFEST",
    "check_output",
    "check_output_folder",
    "child_path",
    "command_inputs",
    "guarded",
    "inside",
    "manifest_text",
    "register_input",
    "register_inputs",
    "safe_name",
    "safe_names",
    "short_name",
]

#: Non-regular outputs that are written into rather than replaced.
WRITABLE_SPECIAL = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr"})

#: File in an output folder listing what higgs_pyhf wrote there (name → sha256).
MANIFEST = ".higgs_pyhf_output"

_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+-")
_MAX_NAME = 80


class _Input:
    __slots__ = ("identity", "resolved", "shown")

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.shown = os.fspath(path)
        self.resolved = _resolve(path)
        self.identity = _identity(self.resolved)


#: The registries of the commands running (nested scopes share the outermost).
_scopes: list[list[_Input]] = []


def _resolve(path: str | os.PathLike[str]) -> Path:
    return Path(os.fspath(path)).absolute().resolve()


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino)


@contextlib.contextmanager
def command_inputs() -> Iterator[None]:
    """Collect the inputs of one command (outside one, :func:`register_input` records nothing).

    Nested scopes share the outer registry, so a library function that opens
    one (:func:`~higgs_pyhf.report.make_report`) inside a CLI command checks
    against everything the command read.
    """
    if _scopes:
        yield
        return
    _scopes.append([])
    try:
        yield
    finally:
        _scopes.pop()


def guarded(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` inside :func:`command_inputs` (a library entry point that reads and writes)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with command_inputs():
            return func(*args, **kwargs)

    return wrapper


def register_input(path: str | os.PathLike[str] | None) -> None:
    """Record ``path`` as read by the running command (nothing outside a command)."""
    if path is None or not _scopes:
        return
    with contextlib.suppress(OSError, ValueError):
        _scopes[0].append(_Input(path))


def register_inputs(paths: Iterable[str | os.PathLike[str] | None]) -> None:
    """:func:`register_input` for each path."""
    for p in paths:
        register_input(p)


def _input_named_by(path: str | os.PathLike[str], extra: Sequence[_Input] = ()) -> str | None:
    """The input ``path`` is (as the user named it), or None."""
    if not _scopes and not extra:
        return None
    resolved = _resolve(path)
    ident = _identity(resolved)
    for item in (*(_scopes[0] if _scopes else ()), *extra):
        if item.resolved == resolved or (ident is not None and item.identity == ident):
            return item.shown
    return None


def check_output(
    path: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str] | None] = ()
) -> tuple[Path, bool]:
    """Check that ``path`` may be written; return the file to replace and whether to write into it.

    Args:
        path: the output path as named.
        inputs: more input paths to refuse (besides the running command's).

    Returns:
        ``(target, special)``: the file to replace (a symbolic link resolved)
        and True for ``/dev/null``/``/dev/stdout``/``/dev/stderr``, which are
        written into.

    Raises:
        OutputError: if ``path`` is an input, a directory, or another non-regular file.
    """
    text = os.fspath(path)
    extra = [_Input(p) for p in inputs if p is not None]
    named = Path(text).absolute()
    if str(named) in WRITABLE_SPECIAL or str(_resolve(text)) in WRITABLE_SPECIAL:
        return named, True
    source = _input_named_by(text, extra)
    if source is not None:
        msg = f"output {text} is an input of this command ({source}); choose another output path"
        raise OutputError(msg)
    target = Path(text)
    if target.is_symlink():
        target = target.resolve()
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        return target, False
    except OSError as err:
        msg = f"cannot write {text}: {err.strerror}"
        raise OutputError(msg) from None
    if stat.S_ISDIR(mode):
        msg = f"cannot write {text}: it is a directory"
        raise OutputError(msg)
    if not stat.S_ISREG(mode):
        kind = (
            "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        )
        msg = (
            f"cannot write {text}: it is {kind}, not a regular file "
            f"(only {', '.join(sorted(WRITABLE_SPECIAL))} are written into)"
        )
        raise OutputError(msg)
    return target, False


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files(folder: Path) -> dict[str, Path]:
    """Every non-directory entry under ``folder`` (links not followed), by relative POSIX path."""
    out: dict[str, Path] = {}
    for root, dirs, names in os.walk(folder):
        base = Path(root)
        for n in [*names, *(d for d in dirs if (base / d).is_symlink())]:
            out[(base / n).relative_to(folder).as_posix()] = base / n
    return out


def manifest_text(folder: Path) -> str:
    """The manifest of everything in ``folder`` (relative path → sha256), as JSON text."""
    files = {
        k: _sha256(p) if p.is_file() and not p.is_symlink() else "not a regular file"
        for k, p in _files(folder).items()
        if k != MANIFEST
    }
    doc = {
        "note": "written by higgs_pyhf; replaced by a rerun only while unchanged",
        "files": files,
    }
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def check_output_folder(path: str | os.PathLike[str]) -> Path:
    """Check that the folder ``path`` may be (re)placed by an output folder; return it resolved.

    A missing or empty folder may be; an existing one only when it holds
    exactly the files its manifest lists, unchanged, and no input of the
    running command.

    Raises:
        OutputError: naming the folder and what would be lost.
    """
    text = os.fspath(path)
    target = _resolve(text)
    if target.exists() and not target.is_dir():
        msg = f"output folder {text} is a file"
        raise OutputError(msg)
    for item in _scopes[0] if _scopes else ():
        if item.resolved == target or target in item.resolved.parents:
            msg = f"output folder {text} holds an input of this command ({item.shown}); choose another folder"
            raise OutputError(msg)
    if not target.is_dir():
        return target
    present = _files(target)
    for p in present.values():
        source = _input_named_by(p)
        if source is not None:
            msg = f"output folder {text} holds an input of this command ({source}); choose another folder"
            raise OutputError(msg)
    if not present:
        return target
    try:
        listed = json.loads((target / MANIFEST).read_text(encoding="utf-8"))["files"]
        listed = dict(listed)
    except (OSError, ValueError, KeyError, TypeError):
        listed = None
    if listed is None:
        msg = f"output folder {text} exists and holds other files; choose a new or empty folder"
        raise OutputError(msg)
    foreign = sorted(
        k
        for k, p in present.items()
        if k != MANIFEST
        and (k not in listed or not p.is_file() or p.is_symlink() or _sha256(p) != listed[k])
    )
    if foreign:
        shown = ", ".join(foreign[:5]) + (" …" if len(foreign) > 5 else "")
        msg = (
            f"output folder {text} holds files its last report did not write or that changed "
            f"since ({shown}); move them or choose a new or empty folder"
        )
        raise OutputError(msg)
    return target


def short_name(name: str, limit: int = 100) -> str:
    """``name`` itself if at most ``limit`` bytes, else its head and a hash (for temporary names)."""
    raw = name.encode("utf-8", "surrogateescape")
    if len(raw) <= limit:
        return name
    head = raw[: limit - 9].decode("utf-8", "ignore")
    return f"{head}~{hashlib.sha256(raw).hexdigest()[:8]}"


def safe_name(name: str) -> str:
    """``name`` as a file name: letters, digits and ``._+-`` only, at most 80 characters.

    Other characters become ``_``; leading dots are dropped (no hidden files,
    no ``..``). A name that had to change gets ``-`` and 8 hex digits of its
    sha256 (before a short suffix such as ``.png``), so different names stay
    different.
    """
    out = "".join(c if c in _SAFE else "_" for c in name).lstrip(".")
    if out == name and 0 < len(out) <= _MAX_NAME:
        return out
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    stem, dot, ext = out.rpartition(".")
    if not (dot and stem and ext.isalnum() and len(ext) <= 8):
        stem, ext = out, ""
    ext = f".{ext}" if ext else ""
    return f"{stem[: _MAX_NAME - 9 - len(ext)]}-{digest}{ext}"


def safe_names(names: Iterable[str]) -> dict[str, str]:
    """:func:`safe_name` of each name; names equal but for case get the hash suffix too."""
    names = list(dict.fromkeys(names))
    first = {n: safe_name(n) for n in names}
    seen: dict[str, int] = {}
    for s in first.values():
        seen[s.lower()] = seen.get(s.lower(), 0) + 1
    out = {}
    for n, s in first.items():
        if seen[s.lower()] > 1:
            digest = hashlib.sha256(n.encode("utf-8", "surrogateescape")).hexdigest()[:8]
            s = f"{s[: _MAX_NAME - 9]}-{digest}"
        out[n] = s
    return out


def inside(folder: str | os.PathLike[str], relative: str | os.PathLike[str]) -> Path:
    """``folder / relative``, refused if its folder resolves outside ``folder``.

    The file itself may be a symbolic link placed there by the user (written
    through, like any output link); the names leading to it may not climb out.

    Raises:
        OutputError: if ``relative`` is absolute or climbs out of ``folder``.
    """
    base = _resolve(folder)
    path = Path(folder) / relative
    parent = _resolve(path.parent)
    if (
        Path(relative).is_absolute()
        or path.name in ("", ".", "..")
        or (parent != base and base not in parent.parents)
    ):
        msg = f"refusing to write {relative!s}: it is outside the folder {os.fspath(folder)}"
        raise OutputError(msg)
    return path


def child_path(folder: str | os.PathLike[str], name: str, suffix: str = "") -> Path:
    """``folder / (safe_name(name) + suffix)``: a file directly inside ``folder``."""
    return inside(folder, safe_name(name) + suffix)
