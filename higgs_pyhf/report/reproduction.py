"""The report's printed numbers, reproduced with its method and redone with the Poisson likelihood.

:func:`reproduce` is the public entry point: from the signal and background
templates and the observed counts it runs the report's grid χ² method
(:func:`higgs_pyhf.inference.chi2grid.report_method`), the maximum-likelihood
fits and the toy studies, and returns a :class:`Reproduction`: one
:class:`ReproductionRow` per number the report prints, with

- ``printed``: the report's number as printed, and the digits it prints;
- ``report_method``: this tool running the report's method; ``agrees`` is
  computed by rounding to the printed digits (the critical value, a toy
  result, agrees when 3.3 lies within ±0.1 of it or inside the spread of
  a study with the report's 500 toys per d);
- ``likelihood``: the same quantity from the Poisson likelihood — the
  deviance −2lnλ (saturated model) where the report uses Pearson's χ²,
  ML fits with Δ(−2lnL) = 1 (Minos) intervals, Poisson toys;
- ``grid_edge``: a note when a grid-method interval or contour is cut by the
  edge of the report's grid (empty otherwise).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..build.report_workspace import build_workspace
from ..inference.chi2grid import ReportResult, report_method
from ..inference.toys import CoverageResult
from ..workspace import model_and_data
from .grid_edges import grid_edge_notes
from .results import CRITICAL_TOLERANCE, PRINTED, Reproduction, ReproductionRow
from .studies import (
    DEFAULT_NTOYS,
    DEFAULT_SEED,
    REPORT_CONFIDENCE,
    REPORT_TOYS_PER_D,
    LikelihoodFits,
    likelihood_coverage_toys,
    likelihood_fits,
    report_coverage_toys,
    study_seeds,
)

__all__ = ["reproduce", "reproduction_table", "toy_spread"]

# --------------------------------------------------------------------------- the table


#: Interval definitions written in the table cells: (report's method, likelihood).
_TAGS = {
    "s_s_1d": ("parabola at Δχ² = 1, s_b = 1", "Minos Δ(−2lnL) = 1, s_b = 1"),
    "s_b_1d": ("parabola at Δχ² = 1, s_s = 1", "Minos Δ(−2lnL) = 1, s_s = 1"),
    "s_s_2d": ("grid slice at Δχ² ≤ 2.3", "profile/Minos Δ(−2lnL) = 1"),
    "s_b_2d": ("grid slice at Δχ² ≤ 2.3", "profile/Minos Δ(−2lnL) = 1"),
}


def _agrees(values: tuple[float, ...], printed: tuple[float, ...], digits: tuple[int, ...]) -> bool:
    return all(
        math.isfinite(v) and f"{v:.{d}f}" == f"{p:.{d}f}"
        for v, p, d in zip(values, printed, digits, strict=True)
    )


def _fmt(values: tuple[float, ...], digits: tuple[int, ...], style: str, extra: int = 2) -> str:
    v = [
        f"{x:.{d + extra}f}" if math.isfinite(x) else "—"
        for x, d in zip(values, digits, strict=True)
    ]
    if style == "pm":
        return f"{v[0]} ± {v[1]}"
    if style == "asym":
        return f"{v[0]} +{v[1]} −{v[2]}"
    return v[0]


def toy_spread(cov: CoverageResult, ntoys: int = REPORT_TOYS_PER_D) -> tuple[float, float]:
    """68% spread of the critical value a study with ``ntoys`` toys would find (from f(d))."""
    q = cov.confidence
    half = math.sqrt(q * (1 - q) / ntoys)
    f, d = np.asarray(cov.fraction), np.asarray(cov.d_values)
    return float(np.interp(q - half, f, d)), float(np.interp(q + half, f, d))


def _ml(fit: Any, par: str) -> tuple[float, float, float]:
    v = fit.value(par)
    lo, hi = fit.minos.get(par, (math.nan, math.nan))
    return v, -lo, hi


def reproduction_table(
    grid: ReportResult,
    fits: LikelihoodFits,
    *,
    coverage_report: CoverageResult | None = None,
    coverage_likelihood: CoverageResult | None = None,
    settings: dict[str, Any] | None = None,
) -> Reproduction:
    """Build the table from the report's grid method, the ML fits and (optionally) the coverage toys."""
    g, one_s, one_b, two = grid, grid.s_s_1d, grid.s_b_1d, grid.scan_2d
    edges = grid_edge_notes(grid)
    s2, b2 = two.scan.bestfit
    nb = grid.nbins
    dev0, dev_s, dev_b, dev = (
        fits.deviance_prefit,
        fits.deviance_s_s,
        fits.deviance_s_b,
        fits.deviance,
    )
    ms, mb = _ml(fits.fit_s_s, "s_s"), _ml(fits.fit_s_b, "s_b")
    ms2, mb2 = _ml(fits.fit, "s_s"), _ml(fits.fit, "s_b")
    g1 = f"grid {one_s.scan.values[0]:g}–{one_s.scan.values[-1]:g}"
    gb = f"grid {one_b.scan.values[0]:g}–{one_b.scan.values[-1]:g}"
    grid2 = (
        f"{two.scan.x_values.size}×{two.scan.y_values.size} grid s_s ∈ [{two.scan.x_values[0]:g}, "
        f"{two.scan.x_values[-1]:g}] × s_b ∈ [{two.scan.y_values[0]:g}, {two.scan.y_values[-1]:g}]"
    )
    pearson = "Pearson χ² = Σ(n − ν)²/ν"
    deviance = "Poisson deviance −2lnλ = 2Σ[ν − n + n ln(n/ν)]"
    # key → (report values, style, likelihood values, likelihood text, definitions)
    spec: dict[str, tuple[tuple[float, ...], str, tuple[float, ...], str, str, str]] = {
        "chi2_per_dof_before": (
            (g.before_fit.chi2_per_dof,),
            "one",
            (dev0.chi2_per_dof,),
            f"{dev0.chi2_per_dof:.5f} (−2lnλ = {dev0.chi2:.3f}, {dev0.dof} dof)",
            f"{pearson} at s_s = s_b = 1, dof = {nb}",
            f"{deviance} at s_s = s_b = 1, dof = {nb}",
        ),
        "p_before": (
            (g.before_fit.p_value,),
            "one",
            (dev0.p_value,),
            f"{dev0.p_value:.6f}",
            f"χ²({nb}) survival function of the Pearson χ²",
            f"χ²({nb}) survival function of −2lnλ",
        ),
        "s_s_1d": (
            (one_s.scan.bestfit, one_s.error),
            "pm",
            ms,
            f"{ms[0]:.4f} −{ms[1]:.4f} +{ms[2]:.4f}",
            f"best of 100 points on the {g1} (s_b = 1); error = |upper root − best| of a parabola fitted to Δχ², at Δχ² = 1",
            "ML fit with s_b fixed at 1; Minos interval Δ(−2lnL) = 1",
        ),
        "chi2_per_dof_s_s_1d": (
            (one_s.fit.chi2_per_dof,),
            "one",
            (dev_s.chi2_per_dof,),
            f"{dev_s.chi2_per_dof:.5f} (−2lnλ = {dev_s.chi2:.3f}, {dev_s.dof} dof)",
            f"Pearson χ² at the best grid point / {nb - 1}",
            f"−2lnλ at the fit / {nb - 1}",
        ),
        "s_b_1d": (
            (one_b.scan.bestfit, one_b.error),
            "pm",
            mb,
            f"{mb[0]:.5f} −{mb[1]:.5f} +{mb[2]:.5f}",
            f"best of 100 points on the {gb} (s_s = 1); error from the parabola at Δχ² = 1, as for s_s",
            "ML fit with s_s fixed at 1; Minos interval Δ(−2lnL) = 1",
        ),
        "chi2_per_dof_s_b_1d": (
            (one_b.fit.chi2_per_dof,),
            "one",
            (dev_b.chi2_per_dof,),
            f"{dev_b.chi2_per_dof:.5f} (−2lnλ = {dev_b.chi2:.3f}, {dev_b.dof} dof)",
            f"Pearson χ² at the best grid point / {nb - 1}",
            f"−2lnλ at the fit / {nb - 1}",
        ),
        "s_s_2d": (
            (s2, two.errors["s_s"][1], two.errors["s_s"][0]),
            "asym",
            ms2,
            f"{ms2[0]:.4f} −{ms2[1]:.4f} +{ms2[2]:.4f}",
            f"best point of the {grid2}; interval = slice through it (s_b at its best) where Δχ² ≤ 2.3",
            "ML fit, both free; profile (Minos) interval Δ(−2lnL) = 1",
        ),
        "s_b_2d": (
            (b2, two.errors["s_b"][1], two.errors["s_b"][0]),
            "asym",
            mb2,
            f"{mb2[0]:.5f} −{mb2[1]:.5f} +{mb2[2]:.5f}",
            "same grid; slice with s_s at its best, Δχ² ≤ 2.3",
            "ML fit, both free; profile (Minos) interval Δ(−2lnL) = 1",
        ),
        "chi2_per_dof_2d": (
            (two.fit.chi2_per_dof,),
            "one",
            (dev.chi2_per_dof,),
            f"{dev.chi2_per_dof:.5f} (−2lnλ = {dev.chi2:.3f}, {dev.dof} dof)",
            f"Pearson χ² at the best grid point / {nb - 2}",
            f"−2lnλ at the ML fit / {nb - 2}",
        ),
        "p_after": (
            (g.after_fit.p_value,),
            "one",
            (dev.p_value,),
            f"{dev.p_value:.5f}",
            f"χ²({nb - 2}) survival function of the Pearson χ² at the best grid point",
            f"χ²({nb - 2}) survival function of −2lnλ at the ML fit",
        ),
        "chi2_after": (
            (g.after_fit.chi2,),
            "one",
            (dev.chi2,),
            f"{dev.chi2:.4f}",
            "Pearson χ² of the data against the grid best-fit model",
            "−2lnλ of the data against the ML fit",
        ),
    }
    rows = []
    for key, (rvals, style, lvals, ltext, d_rep, d_lik) in spec.items():
        quantity, printed, pvals, digits = PRINTED[key]
        tags = _TAGS.get(key)
        rtext = _fmt(tuple(rvals), digits, style)
        if tags:
            rtext, ltext = f"{rtext} ({tags[0]})", f"{ltext} ({tags[1]})"
        rows.append(
            ReproductionRow(
                key=key,
                quantity=quantity,
                printed=printed,
                printed_values=pvals,
                digits=digits,
                report_method=tuple(float(v) for v in rvals),
                report_method_text=rtext,
                agrees=_agrees(tuple(rvals), pvals, digits),
                likelihood=tuple(float(v) for v in lvals),
                likelihood_text=ltext,
                definition_report=d_rep,
                definition_likelihood=d_lik,
                grid_edge=edges.get(key, ""),
            )
        )
    rows.append(_critical_row(coverage_report, coverage_likelihood))
    computed = [r.agrees for r in rows if r.agrees is not None]
    return Reproduction(
        rows=tuple(rows),
        all_agree=bool(computed) and all(computed),
        grid_edges=edges,
        settings=dict(settings or {}),
    )


def _critical_row(rep: CoverageResult | None, lik: CoverageResult | None) -> ReproductionRow:
    quantity, printed, pvals, digits = PRINTED["critical_value"]
    if rep is not None:
        lo, hi = rep.critical_value_band
        slo, shi = toy_spread(rep)
        crit = rep.critical_value
        agrees = abs(crit - pvals[0]) <= CRITICAL_TOLERANCE or slo <= pvals[0] <= shi
        rvals: tuple[float, ...] = (crit, lo, hi, slo, shi)
        rtext = (
            f"{crit:.2f} [{lo:.2f}, {hi:.2f}] ({rep.settings.get('ntoys')} toys); "
            f"spread of a {REPORT_TOYS_PER_D}-toy study: [{slo:.2f}, {shi:.2f}]"
        )
    else:
        agrees, rvals, rtext = None, (math.nan,), "— (toys not run)"
    if lik is not None:
        llo, lhi = lik.critical_value_band
        lvals: tuple[float, ...] = (lik.critical_value, llo, lhi, lik.expected_critical_value)
        ltext = (
            f"{lik.critical_value:.2f} [{llo:.2f}, {lhi:.2f}] ({lik.settings.get('ntoys')} toys); "
            f"Wilks: {lik.expected_critical_value:.2f}"
        )
    else:
        lvals, ltext = (math.nan,), "— (toys not run)"
    return ReproductionRow(
        key="critical_value",
        quantity=quantity,
        printed=printed,
        printed_values=pvals,
        digits=digits,
        report_method=rvals,
        report_method_text=rtext,
        agrees=agrees,
        likelihood=lvals,
        likelihood_text=ltext,
        definition_report=(
            f"{REPORT_CONFIDENCE:g} quantile of Δχ² at the truth (the grid best fit): Gaussian toys "
            "(σ = √ν, negatives kept) around the grid best-fit model, Pearson χ², minimum over the "
            "100×100 grid; [band] = 68% order-statistics band; agrees if within "
            f"±{CRITICAL_TOLERANCE:g} or inside the {REPORT_TOYS_PER_D}-toy spread (the report's toys per d)"
        ),
        definition_likelihood=(
            "68.27% quantile of −2ΔlnL at the truth (the ML fit): Poisson toys, continuous ML "
            "fits; Wilks: χ²(2) quantile"
        ),
    )


def reproduce(
    signal: Any,
    background: Any,
    data: Any,
    *,
    ntoys: int = DEFAULT_NTOYS,
    seed: int = DEFAULT_SEED,
    toys: bool = True,
) -> Reproduction:
    """Reproduce every number of the report from the templates and the data.

    Args:
        signal: Higgs signal template per bin (events at s_s = 1).
        background: background template per bin (events at s_b = 1).
        data: observed counts per bin.
        ntoys: toys of each §2.6 study.
        seed: seed of the toys (each study gets its own, see :func:`.studies.study_seeds`).
        toys: run the §2.6 toy studies (else the critical-value row is empty).

    Returns:
        The :class:`Reproduction`.

    Raises:
        FitError: on zero-prediction bins or a failed fit.
    """
    grid = report_method(signal, background, data)
    model, pdata = model_and_data(build_workspace(signal, background, data))
    fits = likelihood_fits(model, pdata)
    seeds = study_seeds(seed)
    rep = lik = None
    if toys:
        rep = report_coverage_toys(model, pdata, grid, ntoys=ntoys, seed=seeds["coverage_report"])
        lik = likelihood_coverage_toys(model, pdata, ntoys=ntoys, seed=seeds["coverage_likelihood"])
    return reproduction_table(
        grid,
        fits,
        coverage_report=rep,
        coverage_likelihood=lik,
        settings={"ntoys": ntoys if toys else 0, "seed": seed, "seeds": seeds},
    )
