"""Keep numba's on-disk caches of the engine consistent with its sources.

numba (``cache=True``) invalidates a cached function only when *its own*
source file changes, not when a compiled function it calls, in another file,
does: after editing :mod:`.interpolation` the cached :func:`.kernel.evaluate`
would keep the old interpolation. So on import the engine hashes all its
source files and, when the hash differs from the one recorded next to the
caches, deletes the engine's cache files (they are rebuilt on first use).
An installed, read-only package is left alone (its files do not change).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

__all__ = ["drop_stale_caches"]

log = logging.getLogger(__name__)

_STAMP = "engine-sources.sha256"


def drop_stale_caches(directory: Path | None = None) -> bool:
    """Delete the numba cache files of ``directory`` if its sources changed.

    Returns:
        Whether cache files were deleted.
    """
    here = directory or Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(here.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    cache = here / "__pycache__"
    stamp = cache / _STAMP
    try:
        if stamp.is_file() and stamp.read_text(encoding="ascii") == digest.hexdigest():
            return False
        stale = [*cache.glob("*.nbi"), *cache.glob("*.nbc")] if cache.is_dir() else []
        for path in stale:
            path.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        stamp.write_text(digest.hexdigest(), encoding="ascii")
    except OSError:  # a read-only installation: nothing to keep consistent
        return False
    if stale:
        log.info("engine sources changed: dropped %d numba cache files", len(stale))
    return bool(stale)
