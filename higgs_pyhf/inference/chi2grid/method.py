"""The report's whole χ² procedure (§2.1–2.4) on one set of histograms, with its default grids."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .grid import Chi2GoF, ReportScan1D, ReportScan2D, before_fit, grid_scan_1d, grid_scan_2d
from .statistics import _templates

log = logging.getLogger(__name__)


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
