"""Small I/O helpers shared by the pipeline stages: atomic, deterministic writes."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "dumps_json", "write_json", "write_text"]


def dumps_json(obj: Any) -> str:
    """Serialise ``obj`` deterministically (sorted keys, indent 4, trailing newline)."""
    return json.dumps(obj, indent=4, sort_keys=True) + "\n"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` on success.

    If the body raises, the temporary file is removed and ``path`` is left
    untouched, so no partial output is ever visible.

    Args:
        path: final destination.

    Yields:
        A temporary file path in the same directory (same file system).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp" + target.suffix, dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
    try:
        yield tmp
        tmp.replace(target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as deterministic JSON to ``path`` atomically and return the path."""
    return write_text(path, dumps_json(obj))
