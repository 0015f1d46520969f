"""The seed report's χ² method, its variants, and their vectorized evaluation.

This module starts with the three per-bin statistics, as pure broadcasting
functions over the last axis (bins), shared by the grid scans here and by
the batched toys in :mod:`.toys`:

- Pearson χ² = Σ (n − ν)² / ν (the report's ``calcChiSq``),
- Neyman χ² = Σ (n − ν)² / max(n, 1),
- Baker–Cousins Poisson χ² = 2 Σ [ν − n + n ln(n/ν)] (equal to the Poisson
  likelihood ratio to the saturated model, so Δ of it equals pyhf's Δ(−2lnL)
  on a normfactor-only model).

Zero-prediction rule: a bin with ν ≤ 0 makes Pearson and Baker–Cousins
undefined; they raise :class:`~higgs_pyhf.errors.FitError` naming the bins
instead of returning inf/NaN. Neyman uses max(n, 1) in the denominator, so
bins with n = 0 count (n − ν)² (a documented convention).

On top of them, for the two-normfactor model ν = s_s·S + s_b·B:

- :func:`templates_from_workspace`: (S, B, n) from a workspace spec;
- :func:`chi2_surface`: a statistic on a whole (s_s, s_b) grid in one
  array operation;
- :func:`grid_scan_1d`, :func:`grid_scan_2d`, :func:`before_fit` and
  :func:`report_method`: the report's own procedure (grids, first grid
  minimum, quadratic fit of Δχ² for 1D errors, Δχ² ≤ 2.3 slice intervals
  for 2D, its χ²/dof and p-value conventions), vectorized;
- :func:`minimize_chi2`: continuous minimization of each statistic with
  profiled Δ = 1 intervals and Δ = 2.30 contour extents found by root
  finding.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
from scipy import optimize, stats

from .._io import as_float
from ..errors import FitError, WorkspaceError
from .results import Scan1DResult, Scan2DResult

__all__ = [
    "PARAMETERS",
    "STATISTICS",
    "Chi2GoF",
    "Chi2Minimum",
    "ReportResult",
    "ReportScan1D",
    "ReportScan2D",
    "before_fit",
    "chi2_surface",
    "grid_scan_1d",
    "grid_scan_2d",
    "minimize_chi2",
    "neyman_chi2",
    "pearson_chi2",
    "poisson_chi2",
    "report_method",
    "templates_from_workspace",
]

log = logging.getLogger(__name__)

#: The two parameters of the report's model, in the order used by the grids.
PARAMETERS = ("s_s", "s_b")


def _check_prediction(predicted: np.ndarray, what: str) -> None:
    bad = predicted <= 0
    if np.any(bad):
        bins = np.unique(np.nonzero(bad)[-1]).tolist()
        msg = (
            f"{what} is undefined for bins with zero or negative prediction (bins {bins[:10]}); "
            "change the binning or the parameter range so that every bin has a positive prediction"
        )
        raise FitError(msg)


def pearson_chi2(observed: Any, predicted: Any) -> np.ndarray:
    """Pearson χ² = Σ_bins (n − ν)²/ν over the last axis, broadcasting the others.

    Raises:
        FitError: if any predicted bin content is ≤ 0.
    """
    n = np.asarray(observed, dtype=float)
    nu = np.asarray(predicted, dtype=float)
    _check_prediction(nu, "Pearson chi2")
    return np.sum((n - nu) ** 2 / nu, axis=-1)


def neyman_chi2(observed: Any, predicted: Any) -> np.ndarray:
    """Neyman χ² = Σ_bins (n − ν)²/max(n, 1) over the last axis."""
    n = np.asarray(observed, dtype=float)
    nu = np.asarray(predicted, dtype=float)
    return np.sum((n - nu) ** 2 / np.maximum(n, 1.0), axis=-1)


def poisson_chi2(observed: Any, predicted: Any) -> np.ndarray:
    """Baker–Cousins Poisson χ² = 2 Σ_bins [ν − n + n ln(n/ν)] over the last axis.

    Terms with n = 0 contribute 2ν. Non-integer n (Gaussian toys, Asimov
    data) are allowed.

    Raises:
        FitError: if any predicted bin content is ≤ 0.
    """
    n = np.asarray(observed, dtype=float)
    nu = np.asarray(predicted, dtype=float)
    _check_prediction(nu, "Poisson (Baker-Cousins) chi2")
    with np.errstate(divide="ignore", invalid="ignore"):
        log_term = np.where(n > 0, n * np.log(np.where(n > 0, n, 1.0) / nu), 0.0)
    return 2.0 * np.sum(nu - n + log_term, axis=-1)


#: Statistic name → per-bin-summed function ``f(observed, predicted)``.
STATISTICS: dict[str, Callable[[Any, Any], np.ndarray]] = {
    "pearson": pearson_chi2,
    "neyman": neyman_chi2,
    "poisson": poisson_chi2,
}


def _statistic(name: str) -> Callable[[Any, Any], np.ndarray]:
    try:
        return STATISTICS[name]
    except KeyError:
        msg = f"unknown statistic {name!r}; expected one of {sorted(STATISTICS)}"
        raise FitError(msg) from None


# --------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------


def templates_from_workspace(
    spec: dict[str, Any] | str | os.PathLike[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signal, background and observed bin contents of the report's model.

    The report's method only applies to one channel with a ``signal`` sample
    scaled by the normfactor ``s_s`` and a ``background`` sample scaled by
    ``s_b`` and no other modifier (then ν = s_s·S + s_b·B exactly).

    Args:
        spec: a workspace specification or the path of a workspace file.

    Returns:
        ``(signal, background, data)`` as float arrays of equal length.

    Raises:
        WorkspaceError: if the workspace is not that two-normfactor model.
    """
    if not isinstance(spec, dict):
        from ..workspace import load_workspace

        spec = load_workspace(spec)
    expected = "the two-normfactor model (one channel; samples 'signal' with only normfactor 's_s' and 'background' with only normfactor 's_b')"
    channels = spec.get("channels", [])
    if len(channels) != 1:
        msg = (
            f"the report's chi2 method needs {expected}; the workspace has {len(channels)} channels"
        )
        raise WorkspaceError(msg)
    channel = channels[0]
    samples = {s.get("name"): s for s in channel.get("samples", [])}
    if sorted(samples) != ["background", "signal"]:
        msg = f"the report's chi2 method needs {expected}; channel {channel.get('name')!r} has samples {sorted(samples)}"
        raise WorkspaceError(msg)
    for sample, norm in (("signal", "s_s"), ("background", "s_b")):
        mods = [(m.get("type"), m.get("name")) for m in samples[sample].get("modifiers", [])]
        if mods != [("normfactor", norm)]:
            msg = (
                f"the report's chi2 method needs {expected}; sample {sample!r} has modifiers "
                f"{[f'{t}:{n}' for t, n in mods]}, expected only normfactor:{norm}"
            )
            raise WorkspaceError(msg)
    obs = [o for o in spec.get("observations", []) if o.get("name") == channel.get("name")]
    if len(obs) != 1:
        msg = f"the workspace has no (or several) observations for channel {channel.get('name')!r}"
        raise WorkspaceError(msg)
    signal = np.asarray(samples["signal"]["data"], dtype=float)
    background = np.asarray(samples["background"]["data"], dtype=float)
    data = np.asarray(obs[0]["data"], dtype=float)
    if not signal.shape == background.shape == data.shape or signal.ndim != 1:
        msg = f"signal, background and data have different shapes {signal.shape}, {background.shape}, {data.shape}"
        raise WorkspaceError(msg)
    return signal, background, data


def _templates(
    signal: Any, background: Any, data: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sig = np.asarray(signal, dtype=float)
    bkg = np.asarray(background, dtype=float)
    obs = np.asarray(data, dtype=float)
    if sig.ndim != 1 or not sig.shape == bkg.shape == obs.shape or sig.size == 0:
        msg = f"signal, background and data must be 1D arrays of equal length, got {sig.shape}, {bkg.shape}, {obs.shape}"
        raise FitError(msg)
    return sig, bkg, obs


# --------------------------------------------------------------------------
# The report's grid method
# --------------------------------------------------------------------------


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


class ReportResult(NamedTuple):
    """Everything the report's χ² section computes, for one statistic.

    Attributes:
        statistic: ``pearson`` (the report), ``neyman`` or ``poisson``.
        nbins: number of bins.
        before_fit: χ² at s_s = s_b = 1 with dof = nbins.
        s_s_1d: the s_s grid fit with s_b fixed.
        s_b_1d: the s_b grid fit with s_s fixed.
        scan_2d: the (s_s, s_b) grid fit.
        after_fit: χ² at the 2D grid best point with dof = nbins − 2 and its
            p-value (the report's GoF cell).
    """

    statistic: str
    nbins: int
    before_fit: Chi2GoF
    s_s_1d: ReportScan1D
    s_b_1d: ReportScan1D
    scan_2d: ReportScan2D
    after_fit: Chi2GoF

    def summary(self) -> dict[str, Any]:
        """The numbers the report prints (no grids), JSON-serialisable."""

        def one_d(r: ReportScan1D) -> dict[str, Any]:
            return {
                "bestfit": r.scan.bestfit,
                "error": r.error,
                "error_definition": (
                    "|crit[0] - best|: distance from the best grid point to the upper root of the "
                    f"parabola fitted to the grid's delta chi2, at delta chi2 = {r.scan.level:g}"
                ),
                "quadratic_roots": list(r.roots),
                "fixed": r.fixed,
                "chi2": r.fit.chi2,
                "dof": r.fit.dof,
                "chi2_per_dof": r.fit.chi2_per_dof,
                "p_value": r.fit.p_value,
            }

        s2 = self.scan_2d
        return {
            "statistic": self.statistic,
            "nbins": self.nbins,
            "before_fit": self.before_fit.to_json(),
            "s_s_1d": one_d(self.s_s_1d),
            "s_b_1d": one_d(self.s_b_1d),
            "two_d": {
                "bestfit": {"s_s": s2.scan.bestfit[0], "s_b": s2.scan.bestfit[1]},
                "slice_intervals": {k: list(v) for k, v in s2.slice_intervals.items()},
                "errors_minus_plus": {k: list(v) for k, v in s2.errors.items()},
                "contour_extents": {k: list(v) for k, v in s2.scan.intervals.items()},
                "level": s2.scan.levels[0],
                "chi2": s2.fit.chi2,
                "dof": s2.fit.dof,
                "chi2_per_dof": s2.fit.chi2_per_dof,
            },
            "after_fit": self.after_fit.to_json(),
        }

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form, grids included."""
        return {
            "statistic": self.statistic,
            "nbins": int(self.nbins),
            "before_fit": self.before_fit.to_json(),
            "s_s_1d": self.s_s_1d.to_json(),
            "s_b_1d": self.s_b_1d.to_json(),
            "scan_2d": self.scan_2d.to_json(),
            "after_fit": self.after_fit.to_json(),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ReportResult:
        """Inverse of :meth:`to_json`."""
        return cls(
            statistic=obj["statistic"],
            nbins=int(obj["nbins"]),
            before_fit=Chi2GoF.from_json(obj["before_fit"]),
            s_s_1d=ReportScan1D.from_json(obj["s_s_1d"]),
            s_b_1d=ReportScan1D.from_json(obj["s_b_1d"]),
            scan_2d=ReportScan2D.from_json(obj["scan_2d"]),
            after_fit=Chi2GoF.from_json(obj["after_fit"]),
        )


def _linspace(grid: Sequence[float]) -> np.ndarray:
    start, stop, num = grid
    return np.linspace(float(start), float(stop), int(num))


def report_method(
    signal: Any,
    background: Any,
    data: Any,
    *,
    statistic: str = "pearson",
    s_s_1d: tuple[float, float, int] = (1.0, 3.0, 100),
    s_b_1d: tuple[float, float, int] = (1.15, 1.4, 100),
    s_s_2d: tuple[float, float, int] = (0.1, 2.7, 100),
    s_b_2d: tuple[float, float, int] = (1.1, 1.5, 100),
    fixed_1d: float = 1.0,
    level_1d: float = 1.0,
    level_2d: float = 2.3,
) -> ReportResult:
    """Run the report's whole χ² procedure (section 2.1–2.4) on one set of histograms.

    Grids are ``(start, stop, num)`` for ``np.linspace``; the defaults are the report's.

    Args:
        signal: signal template per bin.
        background: background template per bin.
        data: observed counts per bin.
        statistic: ``pearson`` (the report), ``neyman`` or ``poisson``.
        s_s_1d: s_s grid of the 1D fit (s_b fixed at ``fixed_1d``).
        s_b_1d: s_b grid of the 1D fit (s_s fixed at ``fixed_1d``).
        s_s_2d: s_s grid of the 2D fit.
        s_b_2d: s_b grid of the 2D fit.
        fixed_1d: value of the fixed parameter in the 1D fits.
        level_1d: Δχ² of the 1D errors.
        level_2d: Δχ² of the 2D slice intervals.

    Returns:
        The :class:`ReportResult`.
    """
    sig, bkg, obs = _templates(signal, background, data)
    one_s = grid_scan_1d(
        sig, bkg, obs, "s_s", _linspace(s_s_1d), fixed=fixed_1d, statistic=statistic, level=level_1d
    )
    one_b = grid_scan_1d(
        sig, bkg, obs, "s_b", _linspace(s_b_1d), fixed=fixed_1d, statistic=statistic, level=level_1d
    )
    two = grid_scan_2d(
        sig, bkg, obs, _linspace(s_s_2d), _linspace(s_b_2d), statistic=statistic, level=level_2d
    )
    return ReportResult(
        statistic=statistic,
        nbins=obs.size,
        before_fit=before_fit(sig, bkg, obs, statistic=statistic),
        s_s_1d=one_s,
        s_b_1d=one_b,
        scan_2d=two,
        after_fit=two.fit,
    )


# --------------------------------------------------------------------------
# Continuous minimization
# --------------------------------------------------------------------------


def _derivatives(statistic: str, obs: np.ndarray, nu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and second derivative of each bin's term with respect to ν."""
    if statistic == "pearson":
        return 1.0 - obs**2 / nu**2, 2.0 * obs**2 / nu**3
    if statistic == "neyman":
        w = np.maximum(obs, 1.0)
        return -2.0 * (obs - nu) / w, np.full_like(nu, 2.0) / w
    return 2.0 * (1.0 - obs / nu), 2.0 * obs / nu**2


class Chi2Minimum(NamedTuple):
    """The continuous minimum of a χ² statistic over (s_s, s_b).

    Attributes:
        statistic: ``pearson``, ``neyman`` or ``poisson`` (Baker–Cousins).
        bestfit: parameter → value at the minimum.
        fit: minimum χ² with dof = nbins − 2, χ²/dof and p-value.
        parabolic_errors: parameter → sqrt of the diagonal of 2·H⁻¹ (H the
            Hessian of the statistic at the minimum).
        intervals: parameter → (low, high) where the *profiled* statistic
            (other parameter re-minimized) rises by ``level`` (root finding);
            nan where it does not within ``bounds``.
        conditional_intervals: same with the other parameter fixed at its best fit.
        contour_extents: parameter → extent of the Δ = ``contour_level``
            contour (exactly the profiled crossings at that level).
        level: Δ of the 1D intervals (1).
        contour_level: Δ of the contour (2.30).
        converged: whether the minimizer converged (gradient ~ 0 or on a bound).
    """

    statistic: str
    bestfit: dict[str, float]
    fit: Chi2GoF
    parabolic_errors: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    conditional_intervals: dict[str, tuple[float, float]]
    contour_extents: dict[str, tuple[float, float]]
    level: float
    contour_level: float
    converged: bool

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form."""

        def pairs(d: dict[str, tuple[float, float]]) -> dict[str, list[float]]:
            return {k: [float(v[0]), float(v[1])] for k, v in d.items()}

        return {
            "statistic": self.statistic,
            "bestfit": {k: float(v) for k, v in self.bestfit.items()},
            "fit": self.fit.to_json(),
            "parabolic_errors": {k: float(v) for k, v in self.parabolic_errors.items()},
            "intervals": pairs(self.intervals),
            "conditional_intervals": pairs(self.conditional_intervals),
            "contour_extents": pairs(self.contour_extents),
            "level": float(self.level),
            "contour_level": float(self.contour_level),
            "converged": bool(self.converged),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Chi2Minimum:
        """Inverse of :meth:`to_json`."""

        def pairs(d: dict[str, list[float]]) -> dict[str, tuple[float, float]]:
            return {k: (as_float(v[0]), as_float(v[1])) for k, v in d.items()}

        return cls(
            statistic=obj["statistic"],
            bestfit={k: as_float(v) for k, v in obj["bestfit"].items()},
            fit=Chi2GoF.from_json(obj["fit"]),
            parabolic_errors={k: as_float(v) for k, v in obj["parabolic_errors"].items()},
            intervals=pairs(obj["intervals"]),
            conditional_intervals=pairs(obj["conditional_intervals"]),
            contour_extents=pairs(obj["contour_extents"]),
            level=as_float(obj["level"]),
            contour_level=as_float(obj["contour_level"]),
            converged=bool(obj["converged"]),
        )


class _Problem:
    """The statistic as a function of θ = (s_s, s_b) with analytic derivatives."""

    def __init__(self, statistic: str, sig: np.ndarray, bkg: np.ndarray, obs: np.ndarray) -> None:
        self.statistic = statistic
        self.func = _statistic(statistic)
        self.templates = np.stack([sig, bkg])  # (2, nbins)
        self.obs = obs

    def value(self, theta: np.ndarray) -> float:
        return float(self.func(self.obs, theta @ self.templates))

    def grad_hess(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        nu = theta @ self.templates
        d1, d2 = _derivatives(self.statistic, self.obs, nu)
        t = self.templates
        return t @ d1, (t * d2) @ t.T

    def minimize_one(self, k: int, theta: np.ndarray, lo: float, hi: float) -> float:
        """Minimum over parameter k in [lo, hi] with the other one held at theta."""
        t = theta.copy()

        def slope(x: float) -> float:
            t[k] = x
            return float(self.grad_hess(t)[0][k])

        # the statistics are convex in each parameter: the slope is increasing
        if slope(lo) >= 0:
            t[k] = lo
        elif slope(hi) <= 0:
            t[k] = hi
        else:
            t[k] = optimize.brentq(slope, lo, hi, xtol=1e-13, rtol=4 * np.finfo(float).eps)
        return self.value(t)


def _projected_newton(prob: _Problem, x0: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Minimize a smooth convex function of two parameters in a box.

    Newton steps on the parameters not held by an active bound (at a bound
    with the gradient pointing outwards), projected onto the box, with an
    Armijo backtracking line search; where the Newton step fails (singular
    or ill-conditioned Hessian, e.g. Pearson with many empty bins) a
    projected steepest-descent step is tried. Stops when neither decreases
    the function any more.
    """
    width = hi - lo
    theta = np.clip(np.asarray(x0, dtype=float), lo, hi)
    f = prob.value(theta)

    def line_search(
        direction: np.ndarray, g: np.ndarray, t: float
    ) -> tuple[np.ndarray, float] | None:
        t = min(t, float(np.min(width[direction != 0] / np.abs(direction[direction != 0]))))
        for _ in range(60):
            new = np.clip(theta + t * direction, lo, hi)
            f_new = prob.value(new)
            if f_new <= f + 1e-4 * float(g @ (new - theta)) and np.any(new != theta):
                return new, f_new
            t *= 0.5
        return None

    for _ in range(500):
        g, h = prob.grad_hess(theta)
        free = ~(((theta <= lo) & (g > 0)) | ((theta >= hi) & (g < 0)))
        if not free.any():
            break
        gf, hf = g[free], h[np.ix_(free, free)]
        candidates = []
        try:
            step = -np.linalg.solve(hf, gf)
            if gf @ step < 0 and np.all(np.isfinite(step)):
                if -(gf @ step) < 1e-13 * max(1.0, abs(f)):
                    break  # Newton decrement at rounding level: converged
                candidates.append((step, 1.0))
        except np.linalg.LinAlgError:
            pass
        if np.any(gf != 0):
            candidates.append((-gf, np.inf))
        found = None
        for step, t0 in candidates:
            direction = np.zeros_like(theta)
            direction[free] = step
            found = line_search(direction, g, t0)
            if found is not None:
                break
        if found is None:
            break  # no decrease possible at machine precision: at the minimum
        decrease = f - found[1]
        theta, f = found
        if decrease <= 1e-15 * max(1.0, abs(f)):
            break
    return theta


def minimize_chi2(
    signal: Any,
    background: Any,
    data: Any,
    *,
    statistic: str = "pearson",
    bounds: Sequence[tuple[float, float]] = ((1e-6, 10.0), (1e-6, 5.0)),
    init: Sequence[float] = (1.0, 1.0),
    level: float = 1.0,
    contour_level: float = 2.30,
) -> Chi2Minimum:
    """Minimize a statistic continuously over (s_s, s_b) and find its intervals.

    The three statistics are convex in (s_s, s_b) (ν is linear in them and
    each bin's term is convex in ν > 0), so a projected Newton method finds
    the global minimum in the box and the profiled statistic is convex too:
    each interval edge is the single root of "profile − minimum − level" on
    either side of the best fit, found by Brent's method, with the other parameter re-minimized at each step (by a
    root of its derivative). The extent of the Δ = ``contour_level`` contour
    along a parameter equals the profiled crossing at that level, so contour
    extents need no contour tracing.

    Args:
        signal: signal template per bin.
        background: background template per bin.
        data: observed counts per bin.
        statistic: ``pearson``, ``neyman`` or ``poisson`` (Baker–Cousins).
        bounds: (low, high) for s_s and s_b, with 0 < low: then every bin
            with S + B > 0 has a positive prediction everywhere in the box.
        init: starting point (s_s, s_b).
        level: Δ defining the 1D intervals (1 for 68.27%).
        contour_level: Δ defining the 2D contour (2.30 for 68.27%).

    Returns:
        The :class:`Chi2Minimum`.

    Raises:
        FitError: on zero-prediction bins (Pearson, Poisson) or bad inputs.
    """
    sig, bkg, obs = _templates(signal, background, data)
    prob = _Problem(statistic, sig, bkg, obs)
    bnds = [(float(lo), float(hi)) for lo, hi in bounds]
    if len(bnds) != 2 or any(not 0 < lo < hi for lo, hi in bnds):
        msg = f"bounds must be two (low, high) pairs with 0 < low < high, got {bounds}"
        raise FitError(msg)
    x0 = np.clip(np.asarray(init, dtype=float), [b[0] for b in bnds], [b[1] for b in bnds])
    prob.value(x0)  # raises FitError on zero-prediction bins before the minimizer starts
    theta = _projected_newton(
        prob, x0, np.array([b[0] for b in bnds]), np.array([b[1] for b in bnds])
    )
    g, h = prob.grad_hess(theta)
    at_lower = theta <= np.array([b[0] for b in bnds])
    at_upper = theta >= np.array([b[1] for b in bnds])
    free = ~((at_lower & (g > 0)) | (at_upper & (g < 0)))
    converged = bool(np.all(np.abs(g[free]) <= 1e-6 * max(1.0, prob.value(theta))))
    if not converged:
        log.warning("%s minimization did not converge (gradient %s)", statistic, g)
    chi2_min = prob.value(theta)
    try:
        cov = 2.0 * np.linalg.inv(h)
        parabolic = {
            p: float(np.sqrt(cov[k, k])) if cov[k, k] > 0 else float("nan")
            for k, p in enumerate(PARAMETERS)
        }
    except np.linalg.LinAlgError:
        parabolic = dict.fromkeys(PARAMETERS, float("nan"))

    def crossing(k: int, target: float, profiled: bool) -> tuple[float, float]:
        other = 1 - k

        def excess(x: float) -> float:
            t = theta.copy()
            t[k] = x
            value = prob.minimize_one(other, t, *bnds[other]) if profiled else prob.value(t)
            return value - chi2_min - target

        edges = []
        for end in bnds[k]:
            if excess(end) <= 0:
                log.warning(
                    "%s: Δ=%g crossing of %s lies beyond the bound %g",
                    statistic,
                    target,
                    PARAMETERS[k],
                    end,
                )
                edges.append(float("nan"))
            else:
                edges.append(
                    float(
                        optimize.brentq(
                            excess, theta[k], end, xtol=1e-12, rtol=4 * np.finfo(float).eps
                        )
                    )
                )
        return edges[0], edges[1]

    intervals = {p: crossing(k, level, True) for k, p in enumerate(PARAMETERS)}
    conditional = {p: crossing(k, level, False) for k, p in enumerate(PARAMETERS)}
    extents = {p: crossing(k, contour_level, True) for k, p in enumerate(PARAMETERS)}
    return Chi2Minimum(
        statistic=statistic,
        bestfit={p: float(theta[k]) for k, p in enumerate(PARAMETERS)},
        fit=Chi2GoF(
            chi2_min,
            obs.size - 2,
            chi2_min / (obs.size - 2),
            float(stats.chi2.sf(chi2_min, obs.size - 2)),
        ),
        parabolic_errors=parabolic,
        intervals=intervals,
        conditional_intervals=conditional,
        contour_extents=extents,
        level=float(level),
        contour_level=float(contour_level),
        converged=converged,
    )
