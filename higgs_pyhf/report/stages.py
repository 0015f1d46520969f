"""The report's stages: each a call into :mod:`higgs_pyhf.inference` or :mod:`.studies`, run in order.

:func:`run_stages` runs, on the inputs read once at the boundary: the
report's grid χ² method, the likelihood fits, the requested scans and toy
studies, the reproduction table, and (on request) the method comparison,
goodness of fit and significance. A stage that fails with a
:class:`~higgs_pyhf.errors.HiggsPyhfError` on this workspace is skipped
with its reason; any other error propagates.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import HiggsPyhfError
from ..inference.chi2grid import report_method, templates_from_workspace
from ..inference.compare import compare
from ..inference.gof import goodness_of_fit
from ..inference.limits import upper_limit as cls_upper_limit
from ..inference.scan import scan_1d, scan_2d
from ..inference.significance import cls, discovery
from .inputs import ReportInputs
from .reproduction import reproduction_table
from .studies import (
    DEFAULT_NTOYS,
    DEFAULT_SEED,
    likelihood_coverage_toys,
    likelihood_fits,
    likelihood_gof_toys,
    report_coverage_toys,
    report_gof_toys,
    scan_at_fixed,
    study_seeds,
)

__all__ = ["run_stages"]

log = logging.getLogger(__name__)


class _Stages:
    """Runs stages, keeping their results and the reasons of the ones that fail on this workspace."""

    def __init__(self) -> None:
        self.results: dict[str, Any] = {}
        self.skipped: dict[str, str] = {}

    def run(self, name: str, func: Callable[[], Any], *, needs: Sequence[str] = ()) -> Any:
        missing = [n for n in needs if n not in self.results]
        if missing:
            self.skipped[name] = f"needs {', '.join(missing)}, which was skipped"
            return None
        t0 = time.perf_counter()
        try:
            out = func()
        except HiggsPyhfError as err:
            reason = " ".join(str(err).split())
            log.warning("report: skipping %s: %s", name, reason)
            self.skipped[name] = reason
            return None
        log.info("report: %s done in %.2f s", name, time.perf_counter() - t0)
        self.results[name] = out
        return out


# --------------------------------------------------------------------------- stages


def _chi2_grid(inputs: ReportInputs) -> Any:
    return report_method(*templates_from_workspace(inputs.spec))


def _scan_values(par: str, res: dict[str, Any]) -> np.ndarray:
    """Range of the likelihood 1D curves: the report's 1D grid and ±3 Hesse errors."""
    fit = res["likelihood_fits"].fit
    best, err = fit.value(par), max(fit.error(par), 1e-3)
    lo, hi = best - 3 * err, best + 3 * err
    grid = res.get("chi2_grid")
    if grid is not None:
        vals = (grid.s_s_1d if par == "s_s" else grid.s_b_1d).scan.values
        lo, hi = min(lo, float(vals[0])), max(hi, float(vals[-1]))
    return np.linspace(max(lo, 0.0), hi, 61)


def _scans(inputs: ReportInputs, res: dict[str, Any], n_points: int) -> dict[str, Any]:
    fits = res["likelihood_fits"]
    out: dict[str, Any] = {}
    for par, other, cond in (("s_s", "s_b", fits.fit_s_s), ("s_b", "s_s", fits.fit_s_b)):
        if "chi2_grid" in res:
            # the likelihood twin of the report's 1D fit (the report's pure two-normfactor
            # model: every point is a closed-form −2lnL, no minimization)
            out[f"{par}_at_1"] = scan_at_fixed(
                inputs.model,
                inputs.data,
                par,
                _scan_values(par, res),
                fixed={other: 1.0},
                conditional_fit=cond,
            )
        for kind in ("profile", "conditional"):
            out[f"{par}_{kind}"] = scan_1d(
                inputs.model, inputs.data, par, kind=kind, n_points=n_points
            )
    return out


def _contour(inputs: ReportInputs, res: dict[str, Any], n_points: tuple[int, int]) -> Any:
    """The 2D profile scan over the report's grid and ±4 Hesse errors, within the parameter bounds."""
    fit = res["likelihood_fits"].fit
    cfg = inputs.model.config
    grid = res.get("chi2_grid")
    ranges = []
    for k, par in enumerate(("s_s", "s_b")):
        best, err = fit.value(par), max(fit.error(par), 1e-3)
        lo, hi = best - 4 * err, best + 4 * err
        if grid is not None:
            vals = np.asarray(grid.scan_2d.scan.x_values if k == 0 else grid.scan_2d.scan.y_values)
            lo, hi = min(lo, float(vals[0]) - 0.05 * err), max(hi, float(vals[-1]) + 0.05 * err)
        b_lo, b_hi = cfg.suggested_bounds()[cfg.par_slice(par)][0]
        ranges.append((max(lo, float(b_lo)), min(hi, float(b_hi))))
    return scan_2d(
        inputs.model, inputs.data, ("s_s", "s_b"), bounds=(ranges[0], ranges[1]), n_points=n_points
    )


def _toys_gof(inputs: ReportInputs, res: dict[str, Any], ntoys: int, seeds: dict[str, int]) -> Any:
    out: dict[str, Any] = {}
    if "chi2_grid" in res:
        out["report"] = report_gof_toys(
            inputs.model, res["chi2_grid"], ntoys=ntoys, seed=seeds["gof_report"]
        )
    out["likelihood"] = likelihood_gof_toys(
        inputs.model, inputs.data, ntoys=ntoys, seed=seeds["gof_likelihood"]
    )
    return out


def _toys_coverage(
    inputs: ReportInputs, res: dict[str, Any], ntoys: int, seeds: dict[str, int]
) -> Any:
    out: dict[str, Any] = {}
    if "chi2_grid" in res:
        out["report"] = report_coverage_toys(
            inputs.model, inputs.data, res["chi2_grid"], ntoys=ntoys, seed=seeds["coverage_report"]
        )
    out["likelihood"] = likelihood_coverage_toys(
        inputs.model, inputs.data, ntoys=ntoys, seed=seeds["coverage_likelihood"]
    )
    return out


def run_stages(
    inputs: ReportInputs,
    wanted: set[str],
    *,
    ntoys: int = DEFAULT_NTOYS,
    seed: int = DEFAULT_SEED,
    n_points_1d: int = 101,
    n_points_2d: tuple[int, int] = (101, 101),
    upper: bool = True,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Run the report's stages on the inputs.

    Args:
        inputs: what :func:`~.inputs.read_inputs` read.
        wanted: plot kinds (:data:`PLOT_KINDS`) and further stages
            (``compare``, ``gof_asymptotic``, ``significance``) to run; the report's grid
            method and the likelihood fits always run.
        ntoys: toys of each toy study.
        seed: seed of the toys.
        n_points_1d: points of the 1D profile/conditional scans.
        n_points_2d: grid of the 2D profile scan.
        upper: compute the CLs upper limit (with ``significance``).

    Returns:
        ``(results, skipped)``: stage name → result (``reproduction`` the
        table) and stage name → reason for the stages skipped.
    """
    stages = _Stages()
    res = stages.results
    seeds = study_seeds(seed)
    m, d = inputs.model, inputs.data
    stages.run("chi2_grid", lambda: _chi2_grid(inputs))
    stages.run("likelihood_fits", lambda: likelihood_fits(m, d))
    fits = ("likelihood_fits",)
    if "scan" in wanted:
        stages.run("scan", lambda: _scans(inputs, res, n_points_1d), needs=fits)
    if "contour" in wanted:
        stages.run("contour", lambda: _contour(inputs, res, n_points_2d), needs=fits)
    if "gof" in wanted:
        stages.run("toys_gof", lambda: _toys_gof(inputs, res, ntoys, seeds))
    if "coverage" in wanted:
        stages.run("toys_coverage", lambda: _toys_coverage(inputs, res, ntoys, seeds))
    if "chi2_grid" in res and "likelihood_fits" in res:
        cov = res.get("toys_coverage") or {}
        res["reproduction"] = reproduction_table(
            res["chi2_grid"],
            res["likelihood_fits"],
            coverage_report=cov.get("report"),
            coverage_likelihood=cov.get("likelihood"),
            settings={"ntoys": ntoys if cov else 0, "seed": seed, "seeds": seeds},
        )
    else:
        stages.skipped["reproduction"] = "needs the report's grid method and the likelihood fits"
    if "compare" in wanted:
        stages.run("compare", lambda: compare(inputs.spec, label=inputs.name))
    if "gof_asymptotic" in wanted:
        stages.run(
            "gof", lambda: goodness_of_fit(m, d, fit_result=res["likelihood_fits"].fit), needs=fits
        )
    if "significance" in wanted:

        def significance() -> dict[str, Any]:
            out: dict[str, Any] = {"discovery": discovery(m, d), "cls": cls(m, d, poi_value=1.0)}
            if upper:
                out["upper_limit"] = cls_upper_limit(m, d)
            return out

        stages.run("significance", significance)
    return stages.results, stages.skipped
