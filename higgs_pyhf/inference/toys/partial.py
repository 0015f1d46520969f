"""What an interrupted toy run finished: the completed blocks' results, kept when asked.

Inside :func:`keep_partial`, every ensemble of toys that
:func:`.runner.run_at` runs is recorded with the chunks (whole seeding
blocks) that finished. When an interruption (``KeyboardInterrupt``, or any
of the exception kinds given, e.g. the CLI's SIGTERM exception) ends a run:

- a study with one ensemble (``summarize=True``: GoF, coverage) gets the
  finished toys back from :func:`.runner.run_at` and computes its normal
  result from them; the caller then marks it partial and re-raises
  :attr:`PartialRun.interruption`;
- otherwise the interruption propagates and :meth:`PartialRun.to_dict`
  gives each ensemble's finished per-toy values.

Either way :meth:`PartialRun.marks` says ``"partial": true`` with the toys
done and requested.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["Ensemble", "PartialRun", "current", "find_interruption", "keep_partial"]

_CURRENT: contextvars.ContextVar[PartialRun | None] = contextvars.ContextVar(
    "higgs_pyhf_partial_run", default=None
)


class Ensemble:
    """One ensemble of toys (one :func:`.runner.run_at` call) and its finished chunks."""

    def __init__(
        self, seed: int, stream: int, ntoys: int, block_size: int, tested: dict[str, Any]
    ) -> None:
        self.seed, self.stream, self.ntoys, self.block_size = seed, stream, ntoys, block_size
        #: the scalar settings of the study's block function (e.g. the tested POI value)
        self.tested = {k: v for k, v in tested.items() if isinstance(v, int | float | str)}
        self.chunks: dict[tuple[int, ...], dict[str, np.ndarray]] = {}

    @property
    def done(self) -> int:
        """Toys finished."""
        return sum(_size(r) for r in self.chunks.values())

    def arrays(self) -> dict[str, np.ndarray] | None:
        """The finished toys' arrays in block order (None if no chunk finished)."""
        if not self.chunks:
            return None
        parts = [self.chunks[k] for k in sorted(self.chunks)]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def to_dict(self) -> dict[str, Any]:
        """Seed, stream, toys done of requested, the finished blocks and per-toy values."""
        arrays = self.arrays() or {}
        return {
            "seed": self.seed,
            "stream": self.stream,
            "ntoys_requested": self.ntoys,
            "ntoys_done": self.done,
            "blocks_done": sorted(b for c in self.chunks for b in c),
            "block_size": self.block_size,
            "settings": self.tested,
            "toys": {k: v.tolist() for k, v in arrays.items()},
        }


class PartialRun:
    """The ensembles of a toy run so far, and the interruption that ended it (if one did)."""

    def __init__(
        self, requested: int, kinds: tuple[type[BaseException], ...], summarize: bool
    ) -> None:
        self.requested = requested
        self.kinds: tuple[type[BaseException], ...] = (KeyboardInterrupt, *kinds)
        self.summarize = summarize
        self.ensembles: list[Ensemble] = []
        self.interruption: BaseException | None = None

    @property
    def done(self) -> int:
        """Toys finished over every ensemble."""
        return sum(e.done for e in self.ensembles)

    def marks(self) -> dict[str, Any]:
        """``{"partial": true, "ntoys_done": …, "ntoys_requested": …}``."""
        return {"partial": True, "ntoys_done": self.done, "ntoys_requested": self.requested}

    def to_dict(self) -> dict[str, Any]:
        """The marks and every ensemble's finished toys."""
        return {**self.marks(), "ensembles": [e.to_dict() for e in self.ensembles]}


def current() -> PartialRun | None:
    """The active :class:`PartialRun` (None outside :func:`keep_partial`)."""
    return _CURRENT.get()


def find_interruption(
    err: BaseException, kinds: tuple[type[BaseException], ...]
) -> BaseException | None:
    """The interruption ``err`` is, or was caused by (a signal surfacing through compiled code)."""
    seen: set[int] = set()
    cur: BaseException | None = err
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, kinds):
            return cur
        cur = cur.__cause__ or cur.__context__
    return None


@contextlib.contextmanager
def keep_partial(
    requested: int,
    *,
    kinds: tuple[type[BaseException], ...] = (),
    summarize: bool = False,
) -> Iterator[PartialRun]:
    """Record the toy ensembles run inside the block (see the module docstring).

    Args:
        requested: toys the whole run asks for (every ensemble).
        kinds: exception kinds that mean an interruption besides ``KeyboardInterrupt``.
        summarize: hand the finished toys back to a one-ensemble study.
    """
    run = PartialRun(requested, kinds, summarize)
    token = _CURRENT.set(run)
    try:
        yield run
    finally:
        _CURRENT.reset(token)


def _size(r: dict[str, np.ndarray]) -> int:
    return int(next(iter(r.values())).shape[0]) if r else 0
