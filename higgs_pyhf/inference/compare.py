"""The report's χ² grid method beside χ² minimization and the Poisson likelihood.

:func:`compare` fits one workspace (the two-normfactor s_s/s_b model) five
ways and returns one row per method:

- ``report grid χ²``: Pearson χ² on the report's 100×100 (s_s, s_b) grid,
  best grid point, the report's slice intervals (Δχ² ≤ 2.3 through the best
  point, other parameter at its best grid value);
- ``continuous Pearson χ²`` and ``Neyman χ²``: continuous minima with
  profiled Δχ² = 1 intervals (:func:`.chi2grid.minimize_chi2`);
- ``Poisson likelihood profile``: pyhf maximum-likelihood fit (:mod:`.fit`)
  and profile scans (:mod:`.scan`) with Δ(−2lnL) = 1 intervals;
- ``Poisson likelihood conditional``: the same fit, scans with the other
  parameter fixed at its best fit.

Goodness of fit: χ² rows use χ²_min with dof = nbins − 2 (the report's
convention); likelihood rows use the saturated-model −2lnλ (the
Baker–Cousins χ² at the best fit) with dof = nbins − 2.
"""

from __future__ import annotations

import logging
import os
from typing import Any, NamedTuple

import numpy as np
from scipy import stats

from .._io import as_float
from ..workspace import load_workspace, model_and_data
from .chi2grid import (
    PARAMETERS,
    grid_scan_2d,
    minimize_chi2,
    poisson_chi2,
    templates_from_workspace,
)
from .fit import fit
from .results import row_by
from .scan import scan_1d

__all__ = ["METHODS", "Comparison", "ComparisonRow", "compare"]

log = logging.getLogger(__name__)

#: Row names, in table order.
METHODS = (
    "report grid χ²",
    "continuous Pearson χ²",
    "Neyman χ²",
    "Poisson likelihood profile",
    "Poisson likelihood conditional",
)


class ComparisonRow(NamedTuple):
    """One method's result.

    Attributes:
        method: one of :data:`METHODS`.
        s_s: best-fit signal strength.
        s_b: best-fit background normalisation.
        s_s_interval: 68% interval (low, high) of s_s.
        s_b_interval: 68% interval (low, high) of s_b.
        interval_definition: how the intervals were obtained.
        statistic: the minimized statistic (``pearson_chi2``, ``neyman_chi2``
            or ``twice_nll``).
        statistic_value: its value at the minimum (for ``twice_nll``: pyhf's
            −2lnL, which includes the Poisson normalisation terms).
        gof_statistic: the goodness-of-fit statistic: χ²_min for χ² rows,
            the saturated-model −2lnλ for likelihood rows.
        dof: degrees of freedom of the goodness of fit (nbins − 2).
        gof_per_dof: ``gof_statistic / dof`` (χ²/dof).
        p_value: χ² survival function of ``gof_statistic`` at ``dof``.
    """

    method: str
    s_s: float
    s_b: float
    s_s_interval: tuple[float, float]
    s_b_interval: tuple[float, float]
    interval_definition: str
    statistic: str
    statistic_value: float
    gof_statistic: float
    dof: int
    gof_per_dof: float
    p_value: float

    def bestfit(self, parameter: str) -> float:
        """Best-fit value of ``s_s`` or ``s_b``."""
        return float(self.s_s if parameter == "s_s" else self.s_b)

    def interval(self, parameter: str) -> tuple[float, float]:
        """68% interval of ``s_s`` or ``s_b``."""
        return self.s_s_interval if parameter == "s_s" else self.s_b_interval

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "method": self.method,
            "s_s": float(self.s_s),
            "s_b": float(self.s_b),
            "s_s_interval": [float(v) for v in self.s_s_interval],
            "s_b_interval": [float(v) for v in self.s_b_interval],
            "interval_definition": self.interval_definition,
            "statistic": self.statistic,
            "statistic_value": float(self.statistic_value),
            "gof_statistic": float(self.gof_statistic),
            "dof": int(self.dof),
            "gof_per_dof": float(self.gof_per_dof),
            "p_value": float(self.p_value),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ComparisonRow:
        """Inverse of :meth:`to_json`."""
        return cls(
            method=obj["method"],
            s_s=as_float(obj["s_s"]),
            s_b=as_float(obj["s_b"]),
            s_s_interval=(as_float(obj["s_s_interval"][0]), as_float(obj["s_s_interval"][1])),
            s_b_interval=(as_float(obj["s_b_interval"][0]), as_float(obj["s_b_interval"][1])),
            interval_definition=obj["interval_definition"],
            statistic=obj["statistic"],
            statistic_value=as_float(obj["statistic_value"]),
            gof_statistic=as_float(obj["gof_statistic"]),
            dof=int(obj["dof"]),
            gof_per_dof=as_float(obj["gof_per_dof"]),
            p_value=as_float(obj["p_value"]),
        )


def _fmt_interval(best: float, interval: tuple[float, float]) -> str:
    lo, hi = interval
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"[{lo:.3f}, {hi:.3f}]"
    return f"[{lo:.3f}, {hi:.3f}] (−{best - lo:.3f} / +{hi - best:.3f})"


class Comparison(NamedTuple):
    """The comparison table of one workspace.

    Attributes:
        workspace: label of the workspace (file name or measurement name).
        nbins: number of bins.
        rows: one :class:`ComparisonRow` per method, in :data:`METHODS` order.
    """

    workspace: str
    nbins: int
    rows: tuple[ComparisonRow, ...]

    def row(self, method: str) -> ComparisonRow:
        """The row of ``method``."""
        return row_by(self.rows, "method", method)

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "workspace": self.workspace,
            "nbins": int(self.nbins),
            "rows": [r.to_json() for r in self.rows],
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Comparison:
        """Inverse of :meth:`to_json`."""
        return cls(
            workspace=obj["workspace"],
            nbins=int(obj["nbins"]),
            rows=tuple(ComparisonRow.from_json(r) for r in obj["rows"]),
        )

    def to_markdown(self) -> str:
        """A Markdown table, one row per method."""
        head = (
            "| Method | ŝ_s | s_s 68% interval | ŝ_b | s_b 68% interval | Interval definition "
            "| GoF statistic / dof | −2lnL | p-value |"
        )
        lines = [
            f"Workspace `{self.workspace}` ({self.nbins} bins); 68% intervals as (low, high).",
            "",
            head,
            "|" + "|".join(["---"] * 9) + "|",
        ]
        for r in self.rows:
            twice_nll = f"{r.statistic_value:.3f}" if r.statistic == "twice_nll" else "–"
            gof_name = "−2lnλ_sat" if r.statistic == "twice_nll" else "χ²"
            lines.append(
                f"| {r.method} | {r.s_s:.3f} | {_fmt_interval(r.s_s, r.s_s_interval)} | {r.s_b:.4f} "
                f"| {_fmt_interval(r.s_b, r.s_b_interval)} | {r.interval_definition} "
                f"| {gof_name} = {r.gof_statistic:.3f} / {r.dof} = {r.gof_per_dof:.3f} | {twice_nll} | {r.p_value:.4g} |"
            )
        lines += [
            "",
            "p-values: χ² rows from χ²_min, likelihood rows from the saturated-model −2lnλ, "
            "both with dof = nbins − 2.",
            "",
        ]
        return "\n".join(lines)


def _chi2_row(method: str, statistic: str, chi2: float, dof: int, **kw: Any) -> ComparisonRow:
    return ComparisonRow(
        method=method,
        statistic=statistic,
        statistic_value=chi2,
        gof_statistic=chi2,
        dof=dof,
        gof_per_dof=chi2 / dof,
        p_value=float(stats.chi2.sf(chi2, dof)),
        **kw,
    )


def _likelihood_rows(
    spec: dict[str, Any],
    signal: np.ndarray,
    background: np.ndarray,
    data: np.ndarray,
    *,
    n_points: int,
) -> tuple[ComparisonRow, ComparisonRow]:
    """Poisson-likelihood rows from the pyhf fit and the profile/conditional scans."""
    model, pdata = model_and_data(spec)
    result = fit(model, pdata)
    best = {p: result.value(p) for p in PARAMETERS}
    intervals: dict[str, dict[str, tuple[float, float]]] = {"profile": {}, "conditional": {}}
    for p in PARAMETERS:
        for kind in ("profile", "conditional"):
            # default range: best fit ± 4 Hesse errors within the bounds; crossings refined by brentq
            scan = scan_1d(model, pdata, p, n_points=n_points, kind=kind, level=1.0)
            intervals[kind][p] = (float(scan.interval[0]), float(scan.interval[1]))
    dof = data.size - 2
    saturated = float(poisson_chi2(data, best["s_s"] * signal + best["s_b"] * background))
    rows = []
    for kind, label, definition in (
        ("profile", METHODS[3], "1D profile Δ(−2lnL) = 1 (other parameter re-fitted), pyhf scan"),
        (
            "conditional",
            METHODS[4],
            "1D conditional Δ(−2lnL) = 1 (other parameter fixed at best fit), pyhf scan",
        ),
    ):
        rows.append(
            ComparisonRow(
                method=label,
                s_s=best["s_s"],
                s_b=best["s_b"],
                s_s_interval=intervals[kind]["s_s"],
                s_b_interval=intervals[kind]["s_b"],
                interval_definition=definition,
                statistic="twice_nll",
                statistic_value=float(result.twice_nll),
                gof_statistic=saturated,
                dof=dof,
                gof_per_dof=saturated / dof,
                p_value=float(stats.chi2.sf(saturated, dof)),
            )
        )
    return rows[0], rows[1]


def compare(
    spec: dict[str, Any] | str | os.PathLike[str],
    *,
    label: str | None = None,
    s_s_grid: tuple[float, float, int] = (0.1, 2.7, 100),
    s_b_grid: tuple[float, float, int] = (1.1, 1.5, 100),
    grid_level: float = 2.3,
    n_scan_points: int = 41,
) -> Comparison:
    """Fit one workspace with every method and tabulate the results.

    Args:
        spec: workspace specification or path (the two-normfactor model).
        label: name of the workspace in the table (default: the file name or
            the measurement name).
        s_s_grid: (start, stop, num) of the report-grid s_s axis (the report's default).
        s_b_grid: (start, stop, num) of the report-grid s_b axis.
        grid_level: Δχ² of the report-grid slice intervals (2.3).
        n_scan_points: points of each likelihood scan (±4 Hesse errors
            around the best fit, within the parameter bounds); the Δ = 1
            crossings are refined by root finding, so a coarse grid suffices.

    Returns:
        The :class:`Comparison`, rows in :data:`METHODS` order.

    Raises:
        WorkspaceError: if the workspace is not the two-normfactor model.
        FitError: on zero-prediction bins.
    """
    if not isinstance(spec, dict):
        label = label or os.fspath(spec)
        spec = load_workspace(spec)
    if label is None:
        label = str(spec["measurements"][0]["name"])
    sig, bkg, obs = templates_from_workspace(spec)
    dof = obs.size - 2

    grid = grid_scan_2d(
        sig,
        bkg,
        obs,
        np.linspace(s_s_grid[0], s_s_grid[1], int(s_s_grid[2])),
        np.linspace(s_b_grid[0], s_b_grid[1], int(s_b_grid[2])),
        statistic="pearson",
        level=grid_level,
    )
    rows = [
        _chi2_row(
            METHODS[0],
            "pearson_chi2",
            grid.fit.chi2,
            dof,
            s_s=grid.scan.bestfit[0],
            s_b=grid.scan.bestfit[1],
            s_s_interval=grid.slice_intervals["s_s"],
            s_b_interval=grid.slice_intervals["s_b"],
            interval_definition=(
                f"report: 2D grid slice through the best point, first/last grid value with Δχ² ≤ {grid_level:g}"
            ),
        )
    ]
    for method, statistic in ((METHODS[1], "pearson"), (METHODS[2], "neyman")):
        m = minimize_chi2(sig, bkg, obs, statistic=statistic)
        rows.append(
            _chi2_row(
                method,
                f"{statistic}_chi2",
                m.fit.chi2,
                dof,
                s_s=m.bestfit["s_s"],
                s_b=m.bestfit["s_b"],
                s_s_interval=m.intervals["s_s"],
                s_b_interval=m.intervals["s_b"],
                interval_definition="1D profile Δχ² = 1 (other parameter re-minimized), root finding",
            )
        )
    rows.extend(_likelihood_rows(spec, sig, bkg, obs, n_points=n_scan_points))
    log.info("compared %d methods on %s", len(rows), label)
    return Comparison(workspace=label, nbins=int(obs.size), rows=tuple(rows))
