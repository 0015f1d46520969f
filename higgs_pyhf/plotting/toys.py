"""Plots of toy studies: GoF statistic distribution (report §2.5) and coverage f(d) (report fig. 2.3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.figure
import numpy as np
from scipy import stats

from ._style import add_generated_caption, style_context

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..inference.toys import CoverageResult, GofResult

__all__ = ["plot_coverage", "plot_gof"]

_STAT_LABEL = {
    "pearson": r"Pearson $\chi^2$",
    "neyman": r"Neyman $\chi^2$",
    "likelihood": r"$-2\ln\lambda_{\mathrm{sat}}$",
}


def _new_axes(ax: Axes | None) -> tuple[matplotlib.figure.Figure, Axes]:
    if ax is not None:
        fig = ax.get_figure()
        assert isinstance(fig, matplotlib.figure.Figure)
        return fig, ax
    fig = matplotlib.figure.Figure(figsize=(8.0, 6.0))
    return fig, fig.add_subplot()


def plot_gof(
    result: GofResult,
    *,
    ax: Axes | None = None,
    bins: int = 60,
    generated_label: bool = False,
) -> matplotlib.figure.Figure:
    """Histogram of the toys' GoF statistic with the χ²(ndof) pdf and the data's value.

    Args:
        result: a :class:`~higgs_pyhf.inference.toys.GofResult`.
        ax: axes to draw on (a new figure otherwise).
        bins: number of histogram bins.
        generated_label: add the caption for generated (synthetic) input.

    Returns:
        The figure.
    """
    with style_context():
        fig, ax = _new_axes(ax)
        vals = np.asarray(result.toy_values, dtype=float)
        hi = max(
            float(np.quantile(vals, 0.999)) if vals.size else 1.0,
            result.observed,
            stats.chi2.ppf(0.999, result.ndof),
        )
        edges = np.linspace(0.0, 1.05 * hi, bins + 1)
        ax.hist(
            vals,
            bins=edges.tolist(),
            density=True,
            histtype="stepfilled",
            alpha=0.5,
            label=f"{vals.size} toys",
        )
        x = np.linspace(edges[0], edges[-1], 400)
        ax.plot(
            x,
            stats.chi2.pdf(x, result.ndof),
            "r-",
            lw=2,
            label=rf"$\chi^2$ pdf (ndof = {result.ndof})",
        )
        ax.axvline(
            result.observed,
            color="k",
            ls="--",
            label=f"data: {result.observed:.1f}, toy p = {result.p_value:.3f} ± {result.p_value_error:.3f}",
        )
        ax.set_xlabel(
            f"{_STAT_LABEL.get(result.statistic, result.statistic)} ({result.mode} model)"
        )
        ax.set_ylabel("probability density")
        ax.set_xlim(edges[0], edges[-1])
        ax.set_ylim(0.0, 1.4 * ax.get_ylim()[1])  # room for the legend above the curves
        ax.legend(loc="upper right", fontsize=11, frameon=True, framealpha=0.9, edgecolor="none")
        add_generated_caption(fig, generated_label)
    return fig


def plot_coverage(
    result: CoverageResult,
    *,
    ax: Axes | None = None,
    generated_label: bool = False,
) -> matplotlib.figure.Figure:
    """Coverage f(d) with its binomial band, the χ² critical value (2.30) and the toys' one.

    Args:
        result: a :class:`~higgs_pyhf.inference.toys.CoverageResult`.
        ax: axes to draw on (a new figure otherwise).
        generated_label: add the caption for generated (synthetic) input.

    Returns:
        The figure.
    """
    with style_context():
        fig, ax = _new_axes(ax)
        d, f, e = result.d_values, result.fraction, result.fraction_error
        n = result.settings.get("ntoys", "?")
        ax.fill_between(d, f - e, f + e, color="tab:blue", alpha=0.3, lw=0)
        ax.plot(
            d,
            f,
            color="tab:blue",
            ls="-",
            label=f"toys ({n}): {result.settings.get('sampling')}, {result.statistic}, {result.minimization}",
        )
        ax.plot(
            d,
            stats.chi2.cdf(d, result.ndof),
            color="0.4",
            ls=":",
            label=rf"$\chi^2$ cdf (ndof = {result.ndof})",
        )
        ax.axhline(result.confidence, color="0.5", lw=1)
        ax.axvline(
            result.expected_critical_value,
            color="tab:orange",
            ls="--",
            label=f"expected d = {result.expected_critical_value:.2f}",
        )
        lo, hi = result.critical_value_band
        ax.axvspan(lo, hi, color="tab:red", alpha=0.25, lw=0)
        ax.axvline(
            result.critical_value,
            color="tab:red",
            ls="-",
            label=f"toys: d = {result.critical_value:.2f} [{lo:.2f}, {hi:.2f}]",
        )
        ax.set_xlabel(
            r"critical value $d$ of $\Delta$"
            + ("$\\chi^2$" if result.statistic != "likelihood" else "(-2lnL)")
        )
        ax.set_ylabel(r"fraction $f$ of toys with $\Delta \leq d$ at the truth")
        ax.set_xlim(d[0], d[-1])
        ax.set_ylim(0.0, 1.02)
        ax.legend(loc="lower right", fontsize=11)
        add_generated_caption(fig, generated_label)
    return fig
