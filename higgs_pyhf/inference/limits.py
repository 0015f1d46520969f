"""The CLs upper limit on the POI with its expected band, asymptotically, on the engine.

:func:`upper_limit`: the 95% CL (CLs = 0.05) upper limit and its ±1σ/±2σ
band. A batched scan of CLs (:mod:`.significance`'s calculator, all POI
values in one batch of engine fits) brackets the six crossings, then batched
bisection refines all of them together (relative tolerance 1e-5). A limit
whose CLs curve does not cross the level inside the scanned range is NaN and
listed in ``missing`` (with ``allow_beyond``), with the end of the range.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from .._io import as_float
from .._summary import markdown_repr, result_dict, short_repr
from ..errors import FitError
from .significance import BAND, _CLsCalculator, _num, _prepare, _status

__all__ = ["UpperLimitResult", "upper_limit"]

log = logging.getLogger(__name__)


class UpperLimitResult(NamedTuple):
    """CLs upper limit on the POI.

    Attributes:
        poi: name of the parameter of interest.
        level: CLs threshold (0.05 for 95% CL).
        observed: observed upper limit.
        expected: expected limits at −2σ, −1σ, median, +1σ, +2σ.
        scan: POI values of the CLs scan (sorted; the Brazil plot's x axis).
        cls_observed: observed CLs at ``scan``.
        cls_expected: (5, len(scan)) expected CLs band at ``scan``.
        method: ``bisection`` (limits refined to 1e-5) or ``scan`` (interpolated on ``scan``).
        status: ``converged``, or which fits did not converge (their best points were used).
        missing: the limits (``observed``, ``-2sigma`` … ``+2sigma``) whose CLs
            curve does not cross ``level`` in the scanned range: NaN (``null``),
            listed in the JSON's ``beyond_range`` (only with ``allow_beyond``).
        bound: the end of the scanned range those limits lie beyond (NaN if none).
    """

    poi: str
    level: float
    observed: float
    expected: tuple[float, float, float, float, float]
    scan: np.ndarray
    cls_observed: np.ndarray
    cls_expected: np.ndarray
    method: str
    status: str = "converged"
    missing: tuple[str, ...] = ()
    bound: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        """What the command line prints for this result (its JSON, read back)."""
        return result_dict(self)

    def __repr__(self) -> str:
        return short_repr(self)

    def _repr_markdown_(self) -> str:
        return markdown_repr(self)

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form (a limit beyond the range is ``null``, listed in ``beyond_range``)."""
        out: dict[str, Any] = {}
        if self.missing:
            out["beyond_range"] = {
                "limits": list(self.missing),
                "bound": float(self.bound),
                "reason": f"CLs stays above {self.level:g} up to {self.poi} = {self.bound:g}, "
                "the end of the scanned range (the POI's upper bound by default)",
            }
        return out | {
            "poi": self.poi,
            "level": float(self.level),
            "observed": _num(self.observed),
            "expected": [_num(v) for v in self.expected],
            "scan": np.asarray(self.scan, dtype=float).tolist(),
            "cls_observed": np.asarray(self.cls_observed, dtype=float).tolist(),
            "cls_expected": np.asarray(self.cls_expected, dtype=float).tolist(),
            "method": self.method,
            "status": self.status,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> UpperLimitResult:
        """Inverse of :meth:`to_json`."""
        return cls(
            poi=obj["poi"],
            level=as_float(obj["level"]),
            observed=as_float(obj["observed"]),
            expected=tuple(as_float(v) for v in obj["expected"]),  # type: ignore[arg-type]
            scan=np.asarray(obj["scan"], dtype=float),
            cls_observed=np.asarray(obj["cls_observed"], dtype=float),
            cls_expected=np.asarray(obj["cls_expected"], dtype=float).reshape(5, -1),
            method=obj["method"],
            status=str(obj.get("status", "converged")),
            missing=tuple(obj.get("beyond_range", {}).get("limits", ())),
            bound=as_float(obj.get("beyond_range", {}).get("bound")),
        )


def _crossings(mus: np.ndarray, curves: np.ndarray, level: float) -> np.ndarray:
    """For each curve [K, M], the last bracket where it crosses ``level`` downwards (index or −1)."""
    below = curves < level
    out = np.full(curves.shape[0], -1)
    for k in range(curves.shape[0]):
        hits = np.flatnonzero(~below[k, :-1] & below[k, 1:])
        if hits.size:
            out[k] = hits[0]
    return out


def upper_limit(
    model: Any,
    data: Any,
    *,
    scan: Sequence[float] | np.ndarray | None = None,
    level: float = 0.05,
    rtol: float = 1e-5,
    allow_beyond: bool = False,
) -> UpperLimitResult:
    """CLs upper limit on the POI with the expected ±1σ/±2σ band.

    Args:
        model: the pyhf model.
        data: observed data.
        scan: POI values for a grid scan (limits linearly interpolated on it);
            default: a 41-point scan over the POI range that brackets the six
            crossings, then batched bisection of all six to ``rtol``; the
            returned scan then has 61 points up to 1.5 times the largest limit.
        level: CLs threshold (0.05 for 95% CL).
        rtol: relative tolerance of the bisection.
        allow_beyond: report a limit beyond the scanned range as NaN (listed in
            ``missing``) instead of raising.

    Returns:
        Observed and expected limits and the CLs scan.

    Raises:
        FitError: if a limit is not inside the POI range (unless ``allow_beyond``:
            then the ones that are not are NaN and listed in ``missing``).
    """
    p = _prepare(model, data)
    if not 0 < level < 1:
        msg = f"CLs level must be in (0, 1), got {level}"
        raise FitError(msg)
    lo, hi = (float(v) for v in p.cm.bounds[p.pos])
    if scan is not None:
        grid = np.unique(np.asarray(scan, dtype=float))
        if grid.size < 2:
            msg = "the upper-limit scan needs at least 2 POI values"
            raise FitError(msg)
    else:
        grid = np.linspace(lo, hi, 41)
    calc = _CLsCalculator(p)
    obs, exp = calc(grid)
    curves = np.vstack([obs[None, :], exp])  # (6, M)
    idx = _crossings(grid, curves, level)
    names = ("observed", *(f"{k:+d}sigma" if k else "median" for k in BAND))
    missing = tuple(name for name, i in zip(names, idx, strict=True) if i < 0)
    if missing and not allow_beyond:
        msg = (
            f"CLs does not cross {level:g} inside the scanned {p.name} range "
            f"[{grid[0]:g}, {grid[-1]:g}]; widen the scan or the POI bounds"
        )
        raise FitError(msg)
    if missing:
        log.warning(
            "CLs does not cross %g inside [%g, %g] for %s: those limits are null",
            level,
            grid[0],
            grid[-1],
            ", ".join(missing),
        )
    if scan is not None:
        limits = np.array(
            [
                np.interp(level, curves[k, [i + 1, i]], grid[[i + 1, i]]) if i >= 0 else np.nan
                for k, i in enumerate(idx)
            ]
        )
        method = "scan"
    else:
        limits = np.full(6, np.nan)
        k_all = np.flatnonzero(idx >= 0)
        a, b = grid[idx[k_all]].copy(), grid[idx[k_all] + 1].copy()
        while np.any(b - a > rtol * np.maximum(np.abs(b), 1e-12)):
            mid = 0.5 * (a + b)
            o, e = calc(mid)
            vals = np.vstack([o[None, :], e])[k_all, np.arange(k_all.size)]
            above = vals >= level
            a = np.where(above, mid, a)
            b = np.where(above, b, mid)
        limits[k_all] = 0.5 * (a + b)
        method = "bisection"
        # the scan returned (the Brazil plot's x axis): 61 points up to 1.5 x the largest limit
        top = hi if missing else min(hi, lo + 1.5 * (float(limits.max()) - lo))
        grid = np.linspace(lo, top, 61)
        obs, exp = calc(grid)
    res = UpperLimitResult(
        poi=p.name,
        level=float(level),
        observed=float(limits[0]),
        expected=tuple(float(v) for v in limits[1:]),  # type: ignore[arg-type]
        scan=grid,
        cls_observed=obs,
        cls_expected=exp,
        method=method,
        status=_status(p),
        missing=missing,
        bound=float(grid[-1]) if missing else math.nan,
    )
    log.info(
        "upper limit on %s at CLs=%g: observed %.4g, expected %.4g",
        p.name,
        level,
        res.observed,
        res.expected[2],
    )
    return res
