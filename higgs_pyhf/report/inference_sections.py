"""Markdown sections of the likelihood analysis: the ML fit, scans, method comparison, GoF, significance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..inference.compare import Comparison
from ..inference.gof import GoodnessOfFit
from ..inference.results import FitResult, Scan1DResult, Scan2DResult
from .markdown import fmt_asym, fmt_interval, md_table

__all__ = [
    "compare_section",
    "fit_section",
    "gof_section",
    "scans_section",
    "significance_section",
]

SIGNAL_PAR = "s_s"
BACKGROUND_PAR = "s_b"


def fit_section(fit: FitResult) -> str:
    """The ML fit: one row per scalar parameter; vector parameters (staterror γ) summarised."""
    rows: list[list[Any]] = []
    vectors: dict[str, list[int]] = {}
    for k, lab in enumerate(fit.labels):
        if "[" in lab:
            vectors.setdefault(lab.split("[")[0], []).append(k)
            continue
        v, e = fit.value(lab), fit.error(lab)
        mi = fit.minos.get(lab)
        rows.append([f"`{lab}`", f"{v:.4f}", f"{e:.4f}", fmt_asym(v, mi[0], mi[1]) if mi else "—"])
    order = {SIGNAL_PAR: 0, BACKGROUND_PAR: 1}
    rows.sort(key=lambda r: order.get(str(r[0]).strip("`"), 2))
    text = [
        "## Maximum-likelihood fit",
        "",
        md_table(["parameter", "best fit", "Hesse error", "Minos interval"], rows),
        "",
    ]
    for name, idx in vectors.items():
        vals = np.asarray(fit.bestfit)[idx]
        errs = np.asarray(fit.uncertainty)[idx]
        text.append(
            f"`{name}`: {len(idx)} parameters, best fits in [{vals.min():.4f}, {vals.max():.4f}], "
            f"Hesse errors in [{errs.min():.4f}, {errs.max():.4f}] (all in results.json)."
        )
    text += [
        "",
        f"−2lnL at the minimum: {fit.twice_nll:.4f}; converged: {'yes' if fit.converged else '**no**'}.",
    ]
    if SIGNAL_PAR in fit.labels and BACKGROUND_PAR in fit.labels:
        i, j = fit.labels.index(SIGNAL_PAR), fit.labels.index(BACKGROUND_PAR)
        text.append(
            f"Correlation ρ({SIGNAL_PAR}, {BACKGROUND_PAR}) = {float(fit.correlation[i, j]):+.3f}."
        )
    return "\n".join(text)


def scans_section(scans: dict[str, Scan1DResult], contour: Scan2DResult | None) -> str:
    """The 1D likelihood intervals (profile, conditional) and the 2D contour extents."""
    rows = []
    kinds = {
        "at_1": "other factor fixed at 1 (the report's 1D fit)",
        "profile": "profile",
        "conditional": "conditional (other at its best fit)",
    }
    for key, s in scans.items():
        lo, hi = s.interval
        rows.append(
            [
                f"`{s.parameter}`",
                kinds.get(key.split("_", 2)[-1], s.kind),
                fmt_interval(s.bestfit, s.interval),
                f"{s.bestfit - lo:.3f}" if np.isfinite(lo) else "—",
                f"{hi - s.bestfit:.3f}" if np.isfinite(hi) else "—",
            ]
        )
    text = [
        "## Likelihood scans",
        "",
        "68.27% intervals at Δ(−2lnL) = 1. *profile*: the other parameter re-fitted at each point; "
        "*conditional*: the other parameter fixed (at its global best fit, or at 1 for the "
        "report's one-parameter fits).",
        "",
        md_table(["parameter", "scan", "best fit ∈ interval", "− error", "+ error"], rows),
    ]
    if contour is not None:
        nx, ny = len(contour.x_values), len(contour.y_values)
        text += [
            "",
            f"2D profile scan ({nx} × {ny} grid): extent of the Δ(−2lnL) = 2.30 contour:",
            "",
            md_table(
                ["parameter", "best fit ∈ 2D 68.27% extent"],
                [
                    [f"`{p}`", fmt_interval(b, contour.intervals[p])]
                    for p, b in zip(contour.parameters, contour.bestfit, strict=True)
                    if p in contour.intervals
                ],
            ),
        ]
    return "\n".join(text)


def compare_section(comparison: Comparison) -> str:
    """Every method side by side (the ``compare`` command's table)."""
    return "## Method comparison\n\n" + comparison.to_markdown().rstrip()


def gof_section(gof: GoodnessOfFit) -> str:
    """Pearson χ² before/after the likelihood fit and the saturated-model test."""
    rows = [
        [
            "Pearson χ², before the fit (s_s = s_b = 1)",
            f"{gof.pearson_chi2_prefit:.2f}",
            gof.dof_prefit,
            f"{gof.pearson_chi2_prefit / gof.dof_prefit:.3f}",
            f"{gof.p_value_prefit:.4g}",
        ],
        [
            "Pearson χ², after the likelihood fit",
            f"{gof.pearson_chi2_postfit:.2f}",
            gof.dof_postfit,
            f"{gof.pearson_chi2_postfit / gof.dof_postfit:.3f}" if gof.dof_postfit > 0 else "—",
            f"{gof.p_value_postfit:.4g}",
        ],
        [
            "saturated model −2 ln λ, after the fit",
            f"{gof.saturated_chi2:.2f}",
            gof.dof_saturated,
            f"{gof.saturated_chi2 / gof.dof_saturated:.3f}" if gof.dof_saturated > 0 else "—",
            f"{gof.p_value_saturated:.4g}",
        ],
    ]
    return "\n".join(
        [
            "## Goodness of fit (asymptotic)",
            "",
            "Before the fit dof = number of bins, after it dof = bins − fitted parameters; "
            "p = P(χ²_dof ≥ observed).",
            "",
            md_table(["statistic", "value", "dof", "χ²/dof", "p-value"], rows),
        ]
    )


def _band_row(what: str, observed: float, band: Sequence[float], fmt: str) -> list[str]:
    """A table row: observed, the expected median, ±1σ and ±2σ of a −2σ … +2σ ``band``."""
    m2, m1, med, p1, p2 = (format(v, fmt) for v in band)
    return [what, format(observed, fmt), med, f"[{m1}, {p1}]", f"[{m2}, {p2}]"]


def significance_section(sig: dict[str, Any]) -> str:
    """Discovery p0/Z, CLs at s_s = 1 and the CLs upper limit."""
    text = ["## Discovery significance and upper limit", ""]
    d = sig.get("discovery")
    if d is not None:
        text += [
            f"Discovery test of {d.poi} = 0 (asymptotic q0): observed p0 = {d.p0_observed:.3g} "
            f"(Z = {d.z_observed:.2f}σ); expected for {d.poi} = 1: p0 = {d.p0_expected:.3g} "
            f"(Z = {d.z_expected:.2f}σ).",
            "",
        ]
    rows = []
    c = sig.get("cls")
    if c is not None:
        what = f"CLs at {c.poi} = {c.poi_value:g} ({c.test_stat})"
        rows.append(_band_row(what, c.cls_observed, c.cls_expected, ".4g"))
    u = sig.get("upper_limit")
    if u is not None:
        what = f"{100 * (1 - u.level):.0f}% CL upper limit on {u.poi} (CLs)"
        rows.append(_band_row(what, u.observed, u.expected, ".3f"))
    if rows:
        text.append(
            md_table(
                ["quantity", "observed", "expected (median)", "expected ±1σ", "expected ±2σ"], rows
            )
        )
    return "\n".join(text).rstrip()
