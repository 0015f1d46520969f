"""Toy-based CLs upper limit: a scan of the POI with toy CLs and its toy expected band.

At each tested value μ_k :func:`~.hypotest.hypotest_toys` gives the toy CLs
and the toy-based expected band (pyhf's toy calculator's definition), with
the seed ``seed + k`` (its two ensembles are streams 0 and 1 of that seed),
on the engine and on the same workers/pool/Dask scheduler as every toy
study. The limits are where the observed and each expected CLs curve first
falls below ``level``, linearly interpolated between scan points (as pyhf's
``upper_limit`` on a grid); a curve that never crosses gives ``None``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Unpack

import numpy as np

from ..._summary import markdown_repr, result_dict, short_repr
from ...errors import FitError
from .hypotest import hypotest_toys
from .runner import RunOptions, ToyDraws
from .sampling import DEFAULT_BLOCK_SIZE

__all__ = ["ToyLimitResult", "crossing", "toy_upper_limit"]


class ToyLimitResult(NamedTuple):
    """The toy-based CLs upper limit on the POI with its expected band.

    Attributes:
        poi: the parameter of interest.
        level: the CLs threshold (0.05: 95% CL).
        scan: tested POI values.
        cls_observed: toy CLs at each value.
        cls_error: its binomial error.
        cls_expected: (5, M) toy expected CLs, −2σ … +2σ rows (pyhf's order).
        observed: the observed limit (None: no crossing in the scan).
        expected: the expected limits, −2σ … +2σ (None where no crossing).
        settings: ntoys, seed, …
    """

    poi: str
    level: float
    scan: tuple[float, ...]
    cls_observed: tuple[float, ...]
    cls_error: tuple[float, ...]
    cls_expected: tuple[tuple[float, ...], ...]
    observed: float | None
    expected: tuple[float | None, ...]
    settings: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """What the command line prints for this result (its JSON, read back)."""
        return result_dict(self)

    def __repr__(self) -> str:
        return short_repr(self)

    def _repr_markdown_(self) -> str:
        return markdown_repr(self)

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form (lists for tuples)."""
        obj = self._asdict()
        obj["scan"] = list(self.scan)
        obj["cls_observed"] = list(self.cls_observed)
        obj["cls_error"] = list(self.cls_error)
        obj["cls_expected"] = [list(row) for row in self.cls_expected]
        obj["expected"] = list(self.expected)
        return obj

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ToyLimitResult:
        """Inverse of :meth:`to_json`."""
        return cls(
            **{
                **obj,
                "scan": tuple(obj["scan"]),
                "cls_observed": tuple(obj["cls_observed"]),
                "cls_error": tuple(obj["cls_error"]),
                "cls_expected": tuple(tuple(r) for r in obj["cls_expected"]),
                "expected": tuple(obj["expected"]),
            }
        )


def crossing(x: Any, y: Any, level: float) -> float | None:
    """The first x where ``y`` falls from above ``level`` to at most ``level`` (linear), else None."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    for k in range(1, xs.size):
        y0, y1 = ys[k - 1], ys[k]
        if np.isfinite(y0) and np.isfinite(y1) and y0 > level >= y1:
            return float(xs[k - 1] + (level - y0) * (xs[k] - xs[k - 1]) / (y1 - y0))
    return None


def toy_upper_limit(
    model: Any,
    data: Any,
    poi_values: Any,
    *,
    level: float = 0.05,
    ntoys: int = 2_000,
    seed: int = 0,
    sampling: str = "poisson",
    aux: str = "sample",
    block_size: int = DEFAULT_BLOCK_SIZE,
    **run: Unpack[RunOptions],
) -> ToyLimitResult:
    """Toy CLs on a grid of POI values and the toy-based upper limit with its expected band.

    Args:
        model: the pyhf model.
        data: observed data (main bins followed by auxiliary data).
        poi_values: tested POI values, increasing.
        level: CLs threshold of the limit.
        ntoys: toys per ensemble at each value.
        seed: seed of the first value (``seed + k`` at the k-th).
        sampling: ``poisson`` or ``gaussian`` toys.
        aux: ``sample`` or ``fixed`` auxiliary data.
        block_size: toys per seeding block.
        run: how the toys are run (:class:`~.runner.RunOptions`: workers, pool, …).

    Raises:
        FitError: if the grid is not increasing or has fewer than two values.
    """
    mus = np.asarray(poi_values, dtype=float)
    if mus.size < 2 or not np.all(np.diff(mus) > 0) or not 0 < level < 1:
        msg = f"toys limit needs at least two increasing POI values and 0 < level < 1, got {mus.tolist()}, {level}"
        raise FitError(msg)
    results = [
        hypotest_toys(
            model,
            data,
            poi_value=float(mu),
            ntoys=ntoys,
            seed=seed + k,
            sampling=sampling,
            aux=aux,
            block_size=block_size,
            asymptotic=False,
            **run,
        )
        for k, mu in enumerate(mus)
    ]
    obs = tuple(r.cls for r in results)
    bands = tuple(tuple(r.cls_expected[j] for r in results) for j in range(5))
    return ToyLimitResult(
        poi=results[0].poi,
        level=float(level),
        scan=tuple(float(m) for m in mus),
        cls_observed=obs,
        cls_error=tuple(r.cls_error for r in results),
        cls_expected=bands,
        observed=crossing(mus, obs, level),
        expected=tuple(crossing(mus, row, level) for row in bands),
        settings=ToyDraws(ntoys, seed, sampling, "clip", aux, block_size).settings(
            skip=("negative",),
            seeds=f"seed + k at the k-th POI value ({seed} … {seed + mus.size - 1})",
            engine="batched HistFactory engine",
            n_failed=int(sum(r.n_failed for r in results)),
            cls_nan=int(sum(1 for v in obs if not math.isfinite(v))),
        ),
    )
