"""Plots of toy studies: GoF statistic distribution (report §2.5) and coverage f(d) (report fig. 2.3).

Both take a result (:class:`~higgs_pyhf.inference.toys.GofResult`,
:class:`~higgs_pyhf.inference.toys.CoverageResult`), an optional ``ax`` and
the data label, and return the figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.figure
import matplotlib.ticker
import numpy as np
from scipy import stats

from ._style import (
    GENERATED_DATA_LABEL,
    add_data_label,
    add_generated_caption,
    is_generated_label,
    param_label,
    style_context,
)
from .scans import new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..inference.toys import CoverageResult, CoverageTableResult, GofResult, HypotestResult

__all__ = ["plot_coverage", "plot_coverage_table", "plot_gof", "plot_hypotest"]

_STAT_LABEL = {
    "pearson": r"Pearson $\chi^2$",
    "neyman": r"Neyman $\chi^2$",
    "likelihood": r"Poisson deviance $-2\ln\lambda_{\mathrm{sat}}$",
}
_STAT_SHORT = {"pearson": "Pearson χ²", "neyman": "Neyman χ²", "likelihood": "likelihood"}


def _label(
    fig: matplotlib.figure.Figure,
    created: bool,
    data_label: str | None,
    generated: bool,
    header: dict[str, Any],
) -> None:
    label = data_label if data_label is not None else GENERATED_DATA_LABEL if generated else None
    if label is None and not header:
        return
    if created:
        add_data_label(fig, label, **{"title": "", **header})
    elif label is not None:
        add_generated_caption(fig, is_generated_label(label))


def plot_gof(
    result: GofResult,
    *,
    ax: Axes | None = None,
    bins: int = 60,
    data_label: str | None = None,
    generated_label: bool = False,
    extra_ndof: Sequence[int] = (),
    observed_name: str = "data",
    **header: Any,
) -> matplotlib.figure.Figure:
    """Histogram of the toys' GoF statistic with the χ²(ndof) pdf and the data's value (a star).

    Args:
        result: a :class:`~higgs_pyhf.inference.toys.GofResult`.
        ax: axes to draw on (a new figure otherwise).
        bins: number of histogram bins.
        data_label: label of the data (header of a new figure; generated caption).
        generated_label: add the caption for generated (synthetic) input.
        header: header keywords ``label``, ``energy``, ``lumi_fb``, ``title`` (new figures).
        extra_ndof: further χ² pdfs to draw (dotted), e.g. the number of bins
            when toys are not refitted.
        observed_name: legend name of the observed value.

    Returns:
        The figure.
    """
    with style_context():
        created = ax is None
        fig, ax = new_axes(ax)
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
            color="tab:blue",
            alpha=0.45,
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
        for k in extra_ndof:
            ax.plot(
                x,
                stats.chi2.pdf(x, k),
                color="0.3",
                ls=":",
                lw=2,
                label=rf"$\chi^2$ pdf (ndof = {k})",
            )
        top = float(ax.get_ylim()[1])
        ax.axvline(result.observed, color="k", ls="--", lw=1)
        ax.plot(
            [result.observed],
            [0.06 * top],
            marker="*",
            color="#e6b800",
            markeredgecolor="black",
            markersize=20,
            linestyle="none",
            label=(
                f"{observed_name}: {result.observed:.2f}\n"
                f"toy p = {result.p_value:.3f} ± {result.p_value_error:.3f}, "
                rf"$\chi^2$ p = {result.p_value_asymptotic:.3f}"
            ),
        )
        mode = "toys refitted" if result.mode == "refit" else "no refit"
        ax.set_xlabel(f"{_STAT_LABEL.get(result.statistic, result.statistic)} ({mode})")
        ax.set_ylabel("probability density")
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)
        ax.set_xlim(edges[0], edges[-1])
        ax.set_ylim(0.0, 1.45 * top)  # room for the legend above the curves
        ax.legend(loc="upper right", fontsize=11, frameon=True, framealpha=0.9, edgecolor="none")
        add_generated_caption(fig, generated_label)
        _label(fig, created, data_label, generated_label, header)
    return fig


def plot_coverage(
    result: CoverageResult,
    *,
    ax: Axes | None = None,
    data_label: str | None = None,
    generated_label: bool = False,
    reference: tuple[float, str] | None = None,
    note: str | None = None,
    **header: Any,
) -> matplotlib.figure.Figure:
    """Coverage f(d) with its binomial band, the χ² critical value (2.30) and the toys' one.

    Args:
        result: a :class:`~higgs_pyhf.inference.toys.CoverageResult`.
        ax: axes to draw on (a new figure otherwise).
        data_label: label of the data (header of a new figure; generated caption).
        generated_label: add the caption for generated (synthetic) input.
        header: header keywords ``label``, ``energy``, ``lumi_fb``, ``title`` (new figures).
        reference: ``(d, label)`` of a published critical value to mark (e.g. the report's 3.3).
        note: a warning written on the plot.

    Returns:
        The figure.
    """
    with style_context():
        created = ax is None
        fig, ax = new_axes(ax)
        d, f, e = result.d_values, result.fraction, result.fraction_error
        n = result.settings.get("ntoys", "?")
        ax.fill_between(d, f - e, f + e, color="tab:blue", alpha=0.3, lw=0)
        ax.plot(
            d,
            f,
            color="tab:blue",
            ls="-",
            label=(
                f"{n} toys: {result.settings.get('sampling')}, "
                f"{_STAT_SHORT.get(result.statistic, result.statistic)}, {result.minimization}"
            ),
        )
        ax.plot(
            d,
            stats.chi2.cdf(d, result.ndof),
            color="0.4",
            ls=":",
            label=rf"$\chi^2$ cdf (ndof = {result.ndof})",
        )
        ax.axhline(result.confidence, color="0.5", lw=1)
        ax.text(
            d[0] + 0.01 * (d[-1] - d[0]),
            result.confidence + 0.01,
            f"f = {result.confidence:.4g}",
            fontsize=10,
            color="0.35",
            va="bottom",
        )
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
        if reference is not None:
            ax.plot(
                [reference[0]],
                [result.confidence],
                marker="X",
                color="black",
                markersize=11,
                linestyle="none",
                label=reference[1],
            )
        ax.set_xlabel(
            r"critical value $d$ of "
            + (r"$\Delta\chi^2$" if result.statistic != "likelihood" else r"$-2\Delta\ln L$")
        )
        ax.set_ylabel(r"fraction $f$ of toys with $\Delta \leq d$ at the truth")
        ax.set_xlim(d[0], d[-1])
        ax.set_ylim(0.0, 1.02)
        ax.legend(loc="lower right", fontsize=11)
        if note:
            ax.text(0.03, 0.97, note, transform=ax.transAxes, ha="left", va="top", fontsize=10)
        add_generated_caption(fig, generated_label)
        _label(fig, created, data_label, generated_label, header)
    return fig


def plot_hypotest(
    result: HypotestResult,
    *,
    ax: Axes | None = None,
    data_label: str | None = None,
    generated_label: bool = False,
    **header: Any,
) -> matplotlib.figure.Figure:
    """The toys' q̃μ under signal+background and background only, the data's value, toy CLs.

    Args:
        result: a :class:`~higgs_pyhf.inference.toys.HypotestResult` with its toys' values.
        ax: axes to draw on (a new figure otherwise).
        data_label: label of the data (header of a new figure; generated caption).
        generated_label: add the caption for generated (synthetic) input.
        header: header keywords ``label``, ``energy``, ``lumi_fb``, ``title`` (new figures).

    Raises:
        ValueError: if the result has no toys' values (read back from JSON).
    """
    if result.toys_qmu_sb is None or result.toys_qmu_b is None:
        msg = "the hypotest result holds no toys' values (results read from JSON keep none)"
        raise ValueError(msg)
    qsb = np.asarray(result.toys_qmu_sb, dtype=float)
    qb = np.asarray(result.toys_qmu_b, dtype=float)
    with style_context():
        created = ax is None
        fig, ax = new_axes(ax)
        top = max(float(np.percentile(np.concatenate([qsb, qb]), 99.5)), result.qmu_observed)
        bins = np.linspace(0.0, 1.05 * top if top > 0 else 1.0, 61).tolist()
        mu = f"{param_label(result.poi)} = {result.poi_value:g}"
        n_sb, *_ = ax.hist(
            qsb, bins=bins, histtype="step", color="#d55e00", lw=1.8, label=f"toys at {mu}"
        )
        n_b, *_ = ax.hist(
            qb, bins=bins, histtype="step", color="#0072b2", lw=1.8, label="toys at 0"
        )
        obs = result.qmu_observed
        ax.axvline(
            obs, color="black", lw=2.5, zorder=5, label=rf"data: $\tilde{{q}}_\mu$ = {obs:.3g}"
        )
        exp = ", ".join(f"{v:.3g}" for v in result.cls_expected)
        text = (
            f"toy CLs = {result.cls:.4g} ± {result.cls_error:.2g}\n"
            f"CLs+b = {result.clsb:.4g}, CLb = {result.clb:.4g}\n"
            f"expected CLs (−2σ…+2σ): {exp}"
        )
        if np.isfinite(result.cls_asymptotic):
            text += f"\nasymptotic CLs = {result.cls_asymptotic:.4g}"
        ax.text(0.97, 0.78, text, transform=ax.transAxes, ha="right", va="top", fontsize=10)
        ax.set_yscale("log")
        ax.set_ylim(0.5, 10 ** (np.log10(max(np.max(n_sb), np.max(n_b), 1.0)) + 2.2))
        ax.set_xlim(bins[0], bins[-1])
        ax.set_xlabel(r"$\tilde{q}_\mu$")
        ax.set_ylabel("toys / bin")
        ax.legend(loc="upper right", fontsize=11)
        add_generated_caption(fig, generated_label)
        _label(fig, created, data_label, generated_label, header)
    return fig


def plot_coverage_table(
    result: CoverageTableResult,
    *,
    ax: Axes | None = None,
    data_label: str | None = None,
    generated_label: bool = False,
    reference: tuple[float, str] | None = None,
    **header: Any,
) -> matplotlib.figure.Figure:
    """The critical value of each combination of ingredients, with its band, against Wilks'.

    Args:
        result: a :class:`~higgs_pyhf.inference.toys.CoverageTableResult`.
        ax: axes to draw on (a new figure otherwise).
        data_label: label of the data (header of a new figure; generated caption).
        generated_label: add the caption for generated (synthetic) input.
        reference: ``(d, label)`` of a published critical value to mark (e.g. the report's 3.3).
        header: header keywords ``label``, ``energy``, ``lumi_fb``, ``title`` (new figures).

    Returns:
        The figure.
    """
    rows = result.rows
    with style_context():
        created = ax is None
        fig, ax = new_axes(ax, figsize=(9.0, 1.2 + 0.55 * max(len(rows), 1)))
        y = np.arange(len(rows))[::-1]
        crit = np.array([r["critical_value"] for r in rows], dtype=float)
        band = np.array([r["critical_value_band"] for r in rows], dtype=float).reshape(-1, 2)
        ax.errorbar(
            crit,
            y,
            xerr=[crit - band[:, 0], band[:, 1] - crit],
            fmt="o",
            color="black",
            capsize=3,
            label=f"toys: 68.27% quantile of Δ at the truth, 68% band ({result.settings.get('ntoys')} toys each)",
        )
        for yi, c, hi in zip(y, crit, band[:, 1], strict=True):
            ax.annotate(
                f"{c:.2f}",
                (hi, yi),
                xytext=(6, 0),
                textcoords="offset points",
                fontsize=10,
                ha="left",
                va="center",
            )
        wilks = result.expected_critical_value
        ax.axvline(wilks, color="tab:orange", ls="--", label=f"Wilks: χ² quantile {wilks:.2f}")
        if reference is not None:
            ax.axvline(reference[0], color="tab:red", ls=":", label=reference[1])
        ax.set_yticks(y, [r["label"] for r in rows], fontsize=10)
        ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.tick_params(axis="y", which="major", right=False)
        marks = [wilks, *([reference[0]] if reference is not None else [])]
        lo_x = float(np.nanmin([*band[:, 0], *marks]))
        hi_x = float(np.nanmax([*band[:, 1], *marks]))
        pad = 0.08 * (hi_x - lo_x) if hi_x > lo_x else 0.5
        ax.set_xlim(lo_x - pad, hi_x + 1.5 * pad)
        ax.set_ylim(-0.8, len(rows) - 0.2 + 0.6)
        ax.set_xlabel(r"critical value $d$ of the 68.27% region")
        ax.legend(
            loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=10, ncols=1, borderaxespad=0.2
        )
        add_generated_caption(fig, generated_label)
        _label(fig, created, data_label, generated_label, header)
    return fig
