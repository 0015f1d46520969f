"""The seed report's grid method: a χ² statistic on (s_s, s_b) grids, its 1D and 2D scans.

:func:`chi2_surface` evaluates a statistic on a whole grid in one array
operation; :func:`grid_scan_1d` and :func:`grid_scan_2d` are the report's
procedures (first grid minimum, quadratic fit of Δχ² for 1D errors, Δχ² ≤ 2.3
slice intervals for 2D) with its χ²/dof and p-value conventions.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

import numpy as np
from scipy import stats

from ..._io import as_float
from ...errors import FitError
from ..results import Scan1DResult, Scan2DResult
from .statistics import PARAMETERS, _statistic, _templates

log = logging.getLogger(__name__)


def chi2_surface(
    signal: Any,
    background: Any,
    data: Any,
    s_s_values: Any,
    s_b_values: Any,
    *,
    statistic: str = "pearson",
) -> np.ndarray:
    """A statistic on the whole (s_s, s_b) grid in one array operation.

    Args:
        signal: signal template S per bin (events at s_s = 1).
        background: background template B per bin (events at s_b = 1).
        data: observed counts n per bin.
        s_s_values: grid values of s_s (length nx).
        s_b_values: grid values of s_b (length ny).
        statistic: ``pearson``, ``neyman`` or ``poisson`` (Baker–Cousins).

    Returns:
        Array (nx, ny); ``[i, j]`` is the statistic at
        ``(s_s_values[i], s_b_values[j])``, as the report's ``chi2_ar[s_s, s_b]``.

    Raises:
        FitError: if a grid point predicts ≤ 0 events in a bin (Pearson, Poisson).
    """
    sig, bkg, obs = _templates(signal, background, data)
    xs = np.asarray(s_s_values, dtype=float)
    ys = np.asarray(s_b_values, dtype=float)
    pred = xs[:, None, None] * sig + ys[None, :, None] * bkg
    return _statistic(statistic)(obs, pred)


class Chi2GoF(NamedTuple):
    """A χ² value with its degrees of freedom and p-value.

    Attributes:
        chi2: the statistic's value.
        dof: degrees of freedom (nbins − number of fitted parameters).
        chi2_per_dof: ``chi2 / dof``.
        p_value: ``1 − chi2.cdf(chi2, dof)`` (the report's convention).
    """

    chi2: float
    dof: int
    chi2_per_dof: float
    p_value: float

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "chi2": float(self.chi2),
            "dof": int(self.dof),
            "chi2_per_dof": float(self.chi2_per_dof),
            "p_value": float(self.p_value),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Chi2GoF:
        """Inverse of :meth:`to_json`."""
        return cls(
            as_float(obj["chi2"]),
            int(obj["dof"]),
            as_float(obj["chi2_per_dof"]),
            as_float(obj["p_value"]),
        )


def _gof(chi2: float, dof: int) -> Chi2GoF:
    return Chi2GoF(float(chi2), int(dof), float(chi2) / dof, float(1.0 - stats.chi2.cdf(chi2, dof)))


def before_fit(signal: Any, background: Any, data: Any, *, statistic: str = "pearson") -> Chi2GoF:
    """The report's "before fit" χ² at s_s = s_b = 1 with dof = nbins (``calcChiSq(..., 0)``).

    The report finds χ²/dof = 1.598 and p = 0.014877 on its histograms.
    """
    sig, bkg, obs = _templates(signal, background, data)
    chi2 = float(_statistic(statistic)(obs, sig + bkg))
    return _gof(chi2, obs.size)


class ReportScan1D(NamedTuple):
    """The report's one-parameter grid fit (the other parameter fixed).

    Attributes:
        scan: the Δχ² curve; ``bestfit`` is the first grid minimum (the
            report's loop with a strict ``<``), ``interval`` the sorted real
            roots of the fitted parabola at Δχ² = level (nan if complex),
            ``kind`` is ``conditional``.
        fixed: the other parameter and the value it is fixed at (1 in the report).
        best_index: grid index of the best point.
        fit: χ² at the best point with dof = nbins − 1, χ²/dof and p-value.
        polyfit: coefficients (a, b, c) of ``np.polyfit(values, Δχ², 2)``.
        roots: roots of the parabola minus the level, in the order numpy's
            ``poly1d.roots`` lists them (the report's ``crit``).
        error: ``|crit[0] − best|`` as the report prints it. For an upward
            parabola with real roots numpy lists the larger root first, so
            this is the distance from the grid best point to the *upper*
            Δχ² = level crossing of the fitted parabola (nan if complex).
    """

    scan: Scan1DResult
    fixed: dict[str, float]
    best_index: int
    fit: Chi2GoF
    polyfit: tuple[float, float, float]
    roots: tuple[float, float]
    error: float

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "scan": self.scan.to_json(),
            "fixed": {k: float(v) for k, v in self.fixed.items()},
            "best_index": int(self.best_index),
            "fit": self.fit.to_json(),
            "polyfit": [float(v) for v in self.polyfit],
            "roots": [float(v) for v in self.roots],
            "error": float(self.error),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ReportScan1D:
        """Inverse of :meth:`to_json`."""
        a, b, c = (as_float(v) for v in obj["polyfit"])
        r0, r1 = (as_float(v) for v in obj["roots"])
        return cls(
            scan=Scan1DResult.from_json(obj["scan"]),
            fixed={k: as_float(v) for k, v in obj["fixed"].items()},
            best_index=int(obj["best_index"]),
            fit=Chi2GoF.from_json(obj["fit"]),
            polyfit=(a, b, c),
            roots=(r0, r1),
            error=as_float(obj["error"]),
        )


def grid_scan_1d(
    signal: Any,
    background: Any,
    data: Any,
    parameter: str,
    values: Any,
    *,
    fixed: float = 1.0,
    statistic: str = "pearson",
    level: float = 1.0,
) -> ReportScan1D:
    """The report's 1D fit: statistic on a grid of one parameter, the other fixed.

    Args:
        signal: signal template per bin.
        background: background template per bin.
        data: observed counts per bin.
        parameter: ``s_s`` or ``s_b``.
        values: grid of the scanned parameter (the report: linspace(1, 3, 100)
            for s_s, linspace(1.15, 1.4, 100) for s_b).
        fixed: value of the other parameter (1 in the report).
        statistic: ``pearson`` (the report), ``neyman`` or ``poisson``.
        level: Δχ² defining the error (1 in the report).

    Returns:
        The :class:`ReportScan1D`.

    Raises:
        FitError: on an unknown parameter or statistic, or zero predictions.
    """
    if parameter not in PARAMETERS:
        msg = f"unknown parameter {parameter!r}; expected one of {list(PARAMETERS)}"
        raise FitError(msg)
    sig, bkg, obs = _templates(signal, background, data)
    vals = np.asarray(values, dtype=float)
    if vals.ndim != 1 or vals.size < 3:
        msg = f"a 1D grid needs at least 3 values, got shape {vals.shape}"
        raise FitError(msg)
    if parameter == "s_s":
        pred = vals[:, None] * sig + fixed * bkg
        other = "s_b"
    else:
        pred = fixed * sig + vals[:, None] * bkg
        other = "s_s"
    chi2 = _statistic(statistic)(obs, pred)
    ibest = int(np.argmin(chi2))  # first minimum, as the loop's strict `<`
    best = float(vals[ibest])
    if ibest in (0, vals.size - 1):
        log.warning(
            "the best %s grid point %g is at the edge of the grid: widen the grid", parameter, best
        )
    delta = chi2 - chi2[ibest]
    coeffs = np.polyfit(vals, delta, 2)
    crit = (np.poly1d(coeffs) - level).roots
    if np.iscomplexobj(crit) or crit.size != 2:
        log.warning(
            "the quadratic fit of the %s curve never reaches %g: no error", parameter, level
        )
        roots = (float("nan"), float("nan"))
        error = float("nan")
    else:
        roots = (float(crit[0]), float(crit[1]))
        error = abs(roots[0] - best)
    scan = Scan1DResult(
        parameter=parameter,
        values=vals,
        delta_twice_nll=delta,
        bestfit=best,
        interval=(min(roots), max(roots)) if np.isfinite(error) else roots,
        level=float(level),
        kind="conditional",
        statistic=statistic,
        minimizer="grid",
    )
    a, b, c = (float(v) for v in coeffs)
    return ReportScan1D(
        scan=scan,
        fixed={other: float(fixed)},
        best_index=ibest,
        fit=_gof(float(chi2[ibest]), obs.size - 1),
        polyfit=(a, b, c),
        roots=roots,
        error=error,
    )


class ReportScan2D(NamedTuple):
    """The report's two-parameter grid fit.

    Attributes:
        scan: the Δχ² map, ``delta_twice_nll[i, j]`` at (s_s[i], s_b[j]);
            ``bestfit`` is the first grid minimum in C order (the report's
            nested loops with a strict ``<``); ``intervals`` are the extents
            of the region Δχ² ≤ level on the grid (first/last grid value of
            its projection on each axis), ``levels == (level,)``.
        best_index: (i, j) of the best grid point.
        fit: χ² at the best point with dof = nbins − 2, χ²/dof and the
            p-value (the report's "p value with fitting").
        slice_intervals: the report's intervals: first and last grid value
            where the slice through the best point (other parameter at its
            best grid value) has Δχ² ≤ level.
        errors: parameter → (minus, plus) = |best − slice edge|, as printed.
    """

    scan: Scan2DResult
    best_index: tuple[int, int]
    fit: Chi2GoF
    slice_intervals: dict[str, tuple[float, float]]
    errors: dict[str, tuple[float, float]]

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "scan": self.scan.to_json(),
            "best_index": [int(i) for i in self.best_index],
            "fit": self.fit.to_json(),
            "slice_intervals": {k: [float(x) for x in v] for k, v in self.slice_intervals.items()},
            "errors": {k: [float(x) for x in v] for k, v in self.errors.items()},
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ReportScan2D:
        """Inverse of :meth:`to_json`."""
        return cls(
            scan=Scan2DResult.from_json(obj["scan"]),
            best_index=(int(obj["best_index"][0]), int(obj["best_index"][1])),
            fit=Chi2GoF.from_json(obj["fit"]),
            slice_intervals={
                k: (as_float(v[0]), as_float(v[1])) for k, v in obj["slice_intervals"].items()
            },
            errors={k: (as_float(v[0]), as_float(v[1])) for k, v in obj["errors"].items()},
        )


def _first_last(values: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    idx = np.flatnonzero(mask)
    return float(values[idx[0]]), float(values[idx[-1]])


def grid_scan_2d(
    signal: Any,
    background: Any,
    data: Any,
    s_s_values: Any,
    s_b_values: Any,
    *,
    statistic: str = "pearson",
    level: float = 2.3,
) -> ReportScan2D:
    """The report's 2D fit: statistic on an (s_s, s_b) grid, slice intervals at Δχ² ≤ level.

    Args:
        signal: signal template per bin.
        background: background template per bin.
        data: observed counts per bin.
        s_s_values: s_s grid (the report: linspace(0.1, 2.7, 100)).
        s_b_values: s_b grid (the report: linspace(1.1, 1.5, 100)).
        statistic: ``pearson`` (the report), ``neyman`` or ``poisson``.
        level: Δχ² of the 68% region for two parameters (2.3 in the report).

    Returns:
        The :class:`ReportScan2D`.
    """
    xs = np.asarray(s_s_values, dtype=float)
    ys = np.asarray(s_b_values, dtype=float)
    chi2 = chi2_surface(signal, background, data, xs, ys, statistic=statistic)
    i, j = (int(k) for k in np.unravel_index(int(np.argmin(chi2)), chi2.shape))
    delta = chi2 - chi2[i, j]
    inside = delta <= level
    best = {"s_s": float(xs[i]), "s_b": float(ys[j])}
    slices = {
        "s_s": _first_last(xs, inside[:, j]),
        "s_b": _first_last(ys, inside[i, :]),
    }
    extents = {
        "s_s": _first_last(xs, inside.any(axis=1)),
        "s_b": _first_last(ys, inside.any(axis=0)),
    }
    errors = {k: (abs(best[k] - lo), abs(best[k] - hi)) for k, (lo, hi) in slices.items()}
    if inside[[0, -1], :].any() or inside[:, [0, -1]].any():
        log.warning(
            "the Δχ² ≤ %g region reaches the edge of the grid: intervals are truncated", level
        )
    nbins = np.asarray(data).size
    scan = Scan2DResult(
        parameters=("s_s", "s_b"),
        x_values=xs,
        y_values=ys,
        delta_twice_nll=delta,
        bestfit=(best["s_s"], best["s_b"]),
        intervals=extents,
        levels=(float(level),),
        kind="profile",
        statistic=statistic,
        minimizer="grid",
    )
    return ReportScan2D(
        scan=scan,
        best_index=(i, j),
        fit=_gof(float(chi2[i, j]), nbins - 2),
        slice_intervals=slices,
        errors=errors,
    )
