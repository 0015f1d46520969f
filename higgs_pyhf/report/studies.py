"""The computations behind the reproduction table: likelihood fits, deviances and the toy studies.

Each is a function of a pyhf model and its data (plus, for the report's own
studies, the result of the report's grid method), returning NamedTuples of
:mod:`higgs_pyhf.inference` so the same JSON schema is used everywhere:

- :func:`likelihood_fits`: the maximum-likelihood counterparts of the
  report's fits — both factors free (Minos), and each one alone with the
  other fixed at 1 (as the report's one-parameter fits) — with the Poisson
  deviance −2lnλ (likelihood ratio to the saturated model) of each;
- :func:`report_gof_toys`: §2.5 as the report did it — Gaussian toys
  (σ = √ν) around the grid best-fit model, Pearson χ² against those means,
  no refit;
- :func:`report_coverage_toys`: §2.6 — Gaussian toys, Pearson χ², minimum
  over the report's 100×100 grid, truth = the grid best fit, f = 0.68;
- :func:`likelihood_gof_toys` / :func:`likelihood_coverage_toys`: Poisson
  toys, each refitted, with the deviance and −2ΔlnL (68.27%).

Seeds: one ``seed`` gives four independent study seeds (:func:`study_seeds`).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from scipy import stats

from ..inference import toys
from ..inference.chi2grid import Chi2GoF, ReportResult, pearson_chi2, poisson_chi2
from ..inference.fit import fit as ml_fit
from ..inference.results import FitResult, Scan1DResult

__all__ = [
    "CRITICAL_D_VALUES",
    "DEFAULT_NTOYS",
    "DEFAULT_SEED",
    "REPORT_CONFIDENCE",
    "REPORT_TOYS_PER_D",
    "LikelihoodFits",
    "likelihood_coverage_toys",
    "likelihood_fits",
    "likelihood_gof_toys",
    "report_coverage_toys",
    "report_gof_toys",
    "scan_at_fixed",
    "study_seeds",
]

#: Default number of toys of each study (the report's §2.5 used 10000).
DEFAULT_NTOYS = 10_000
#: Default seed of the toy studies.
DEFAULT_SEED = 20220901
#: The report's target fraction in §2.6 ("a fraction of 0.68").
REPORT_CONFIDENCE = 0.68
#: Toys per d value in the report's §2.6 study.
REPORT_TOYS_PER_D = 500
#: d grid of the f(d) curves.
CRITICAL_D_VALUES = np.linspace(0.0, 6.0, 121)
_STUDIES = ("gof_report", "gof_likelihood", "coverage_report", "coverage_likelihood")


def study_seeds(seed: int) -> dict[str, int]:
    """Independent seeds of the four toy studies, derived from one ``seed``."""
    state = np.random.SeedSequence(seed).generate_state(len(_STUDIES))
    return {name: int(s) for name, s in zip(_STUDIES, state, strict=True)}


def _deviance(model: Any, data: np.ndarray, pars: Any, dof: int) -> Chi2GoF:
    n = np.asarray(data, dtype=float)[: model.config.nmaindata]
    nu = np.asarray(model.expected_actualdata(np.asarray(pars, dtype=float)), dtype=float)
    d = float(poisson_chi2(n, nu))
    return Chi2GoF(d, dof, d / dof, float(stats.chi2.sf(d, dof)))


class LikelihoodFits(NamedTuple):
    """The maximum-likelihood counterparts of the report's fits.

    Attributes:
        fit: both ``s_s`` and ``s_b`` free, Minos errors on both.
        fit_s_s: ``s_s`` free with ``s_b`` fixed at 1 (Minos on ``s_s``).
        fit_s_b: ``s_b`` free with ``s_s`` fixed at 1 (Minos on ``s_b``).
        deviance_prefit: −2lnλ_sat at the initial parameters, dof = nbins.
        deviance_s_s: −2lnλ_sat at ``fit_s_s``, dof = nbins − 1.
        deviance_s_b: −2lnλ_sat at ``fit_s_b``, dof = nbins − 1.
        deviance: −2lnλ_sat at ``fit``, dof = nbins − 2.
    """

    fit: FitResult
    fit_s_s: FitResult
    fit_s_b: FitResult
    deviance_prefit: Chi2GoF
    deviance_s_s: Chi2GoF
    deviance_s_b: Chi2GoF
    deviance: Chi2GoF

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form (each fit as the ``fit`` command prints it)."""
        return {k: v.to_json() for k, v in self._asdict().items()}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> LikelihoodFits:
        """Inverse of :meth:`to_json`."""
        return cls(
            fit=FitResult.from_json(obj["fit"]),
            fit_s_s=FitResult.from_json(obj["fit_s_s"]),
            fit_s_b=FitResult.from_json(obj["fit_s_b"]),
            deviance_prefit=Chi2GoF.from_json(obj["deviance_prefit"]),
            deviance_s_s=Chi2GoF.from_json(obj["deviance_s_s"]),
            deviance_s_b=Chi2GoF.from_json(obj["deviance_s_b"]),
            deviance=Chi2GoF.from_json(obj["deviance"]),
        )


def likelihood_fits(model: Any, data: Any) -> LikelihoodFits:
    """ML fits with both factors free and with one fixed at 1, and their deviances.

    Raises:
        FitError: if a fit fails.
    """
    obs = np.asarray(data, dtype=float)
    nb = int(model.config.nmaindata)
    both = ml_fit(model, obs, minos=("s_s", "s_b"))
    only_s = ml_fit(model, obs, fixed={"s_b": 1.0}, minos=("s_s",))
    only_b = ml_fit(model, obs, fixed={"s_s": 1.0}, minos=("s_b",))
    init = np.asarray(model.config.suggested_init(), dtype=float)
    return LikelihoodFits(
        fit=both,
        fit_s_s=only_s,
        fit_s_b=only_b,
        deviance_prefit=_deviance(model, obs, init, nb),
        deviance_s_s=_deviance(model, obs, only_s.bestfit, nb - 1),
        deviance_s_b=_deviance(model, obs, only_b.bestfit, nb - 1),
        deviance=_deviance(model, obs, both.bestfit, nb - 2),
    )


def scan_at_fixed(
    model: Any,
    data: Any,
    parameter: str,
    values: Any,
    *,
    fixed: dict[str, float],
    conditional_fit: FitResult,
) -> Scan1DResult:
    """Δ(−2lnL) of ``parameter`` with ``fixed`` held (the likelihood twin of the report's 1D curve).

    Other parameters not in ``fixed`` (e.g. staterror γ) are profiled. Δ is
    relative to ``conditional_fit`` (the fit with the same ``fixed``), whose
    Minos errors give the interval.
    """
    vals = np.asarray(values, dtype=float)
    obs = np.asarray(data, dtype=float)
    twice = np.array(
        [ml_fit(model, obs, fixed={**fixed, parameter: float(v)}).twice_nll for v in vals]
    )
    best = conditional_fit.value(parameter)
    lo, hi = conditional_fit.minos.get(parameter, (math.nan, math.nan))
    return Scan1DResult(
        parameter=parameter,
        values=vals,
        delta_twice_nll=twice - conditional_fit.twice_nll,
        bestfit=best,
        interval=(best + lo, best + hi),
        level=1.0,
        kind="conditional",
        statistic="likelihood",
    )


def _grid_setting(result: ReportResult) -> dict[str, tuple[float, float, int]]:
    sc = result.scan_2d.scan
    xs, ys = np.asarray(sc.x_values), np.asarray(sc.y_values)
    return {
        "s_s": (float(xs[0]), float(xs[-1]), int(xs.size)),
        "s_b": (float(ys[0]), float(ys[-1]), int(ys.size)),
    }


def _grid_pars(model: Any, result: ReportResult) -> np.ndarray:
    pars = np.asarray(model.config.suggested_init(), dtype=float)
    s_s, s_b = result.scan_2d.scan.bestfit
    pars[model.config.par_slice("s_s")] = s_s
    pars[model.config.par_slice("s_b")] = s_b
    return pars


def report_gof_toys(model: Any, result: ReportResult, *, ntoys: int, seed: int) -> toys.GofResult:
    """§2.5 as in the report: Gaussian toys around the grid best-fit model, Pearson χ², no refit.

    ``observed`` is the data's Pearson χ² against the same means (the
    report's 33.244); ``ndof`` = nbins − 2 is the pdf the report drew
    (toys that are not refitted follow ≈ χ²(nbins) instead).
    """
    pars = _grid_pars(model, result)
    nb = int(model.config.nmaindata)
    means = np.asarray(model.expected_actualdata(pars), dtype=float)
    sample = toys.sample_toys(model, pars, ntoys=ntoys, seed=seed, sampling="gaussian", aux="fixed")
    values = pearson_chi2(np.asarray(sample)[:, :nb], means)
    observed = float(result.after_fit.chi2)
    k = int(np.sum(values >= observed))
    p = k / values.size
    s_s, s_b = result.scan_2d.scan.bestfit
    return toys.GofResult(
        statistic="pearson",
        mode="fixed",
        observed=observed,
        toy_values=values,
        ndof=nb - 2,
        p_value=p,
        p_value_error=math.sqrt(max(p * (1 - p), 1.0 / values.size) / values.size),
        p_value_asymptotic=float(stats.chi2.sf(observed, nb - 2)),
        n_failed=0,
        fitted={"s_s": float(s_s), "s_b": float(s_b)},
        settings={
            "ntoys": ntoys,
            "seed": seed,
            "sampling": "gaussian",
            "negative": "keep",
            "aux": "fixed",
            "means": "the report's 2D grid best fit",
        },
    )


def report_coverage_toys(
    model: Any, data: Any, result: ReportResult, *, ntoys: int, seed: int
) -> toys.CoverageResult:
    """§2.6 as in the report: Gaussian toys, Pearson χ², its grid, truth = grid best fit, f = 0.68."""
    s_s, s_b = result.scan_2d.scan.bestfit
    return toys.coverage_toys(
        model,
        data,
        ntoys=ntoys,
        seed=seed,
        sampling="gaussian",
        statistic="pearson",
        minimization="grid",
        negative="keep",
        aux="fixed",
        truth={"s_s": float(s_s), "s_b": float(s_b)},
        grid=_grid_setting(result),
        d_values=CRITICAL_D_VALUES,
        confidence=REPORT_CONFIDENCE,
    )


def likelihood_gof_toys(model: Any, data: Any, *, ntoys: int, seed: int) -> toys.GofResult:
    """Poisson toys around the ML fit, each refitted; statistic: the deviance −2lnλ_sat."""
    return toys.gof_toys(
        model,
        data,
        ntoys=ntoys,
        seed=seed,
        statistic="likelihood",
        mode="refit",
        sampling="poisson",
    )


def likelihood_coverage_toys(
    model: Any, data: Any, *, ntoys: int, seed: int
) -> toys.CoverageResult:
    """Poisson toys around the ML fit, −2ΔlnL at the truth with continuous fits, 68.27%."""
    return toys.coverage_toys(
        model,
        data,
        ntoys=ntoys,
        seed=seed,
        sampling="poisson",
        statistic="likelihood",
        minimization="continuous",
        parameters=("s_s", "s_b"),
        d_values=CRITICAL_D_VALUES,
    )
