"""Figures of the post-fit parameter diagnostics: pulls, impacts (ranking), correlations.

Results in, ``Figure`` out (:mod:`higgs_pyhf.inference.pulls`,
:mod:`higgs_pyhf.inference.impacts`); the mplhep style is applied inside
the functions only (:func:`~._style.style_context`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.figure
import numpy as np
from matplotlib.patches import Patch
from matplotlib.ticker import FormatStrFormatter

from ._style import new_figure, param_label, style_context

if TYPE_CHECKING:
    from ..inference.impacts import ImpactsResult
    from ..inference.pulls import CorrelationResult, PullsResult

__all__ = ["plot_correlations", "plot_impacts", "plot_pulls"]

PREFIT_COLOR = "#56b4e9"
POSTFIT_COLOR = "#0072b2"
DOWN_COLOR = "#d55e00"
FREE_COLOR = "#6a3d9a"


def _sigma_bands(ax: object, n: int) -> None:
    ax.axvspan(-2, 2, color="#ffdd44", alpha=0.6, zorder=0)  # type: ignore[attr-defined]
    ax.axvspan(-1, 1, color="#44bb44", alpha=0.6, zorder=0)  # type: ignore[attr-defined]
    ax.axvline(0, color="0.3", linewidth=0.8, zorder=1)  # type: ignore[attr-defined]
    ax.set_ylim(-0.7, n - 0.3)  # type: ignore[attr-defined]


def plot_pulls(result: PullsResult, *, max_parameters: int | None = 60) -> matplotlib.figure.Figure:
    """Pulls (θ̂ − θ₀)/σ_prefit with error bars σ_postfit/σ_prefit, ±1σ/±2σ bands.

    Args:
        result: the pulls.
        max_parameters: show at most this many (largest |pull| first); None: all.
    """
    order = np.argsort(-np.abs(result.pull), kind="stable")
    if max_parameters is not None:
        order = order[:max_parameters]
    order = order[::-1]
    n = order.size
    with style_context():
        fig = new_figure((7.0, max(3.0, 0.28 * n + 1.2)))
        ax = fig.add_subplot()
        _sigma_bands(ax, n)
        y = np.arange(n)
        ax.errorbar(
            result.pull[order],
            y,
            xerr=result.constraint[order],
            fmt="o",
            color="black",
            markersize=4,
            capsize=0,
        )
        ax.set_yticks(y, [result.parameters[i] for i in order], fontsize=8)
        ax.set_xlim(-3, 3)
        ax.set_xlabel(r"$(\hat\theta - \theta_0)/\sigma_\mathrm{prefit}$")
        ax.tick_params(axis="y", which="minor", left=False, right=False)
        shown = "" if n == len(result.parameters) else f" ({n} largest of {len(result.parameters)})"
        ax.set_title(f"Pulls and constraints{shown}", fontsize=11, loc="left")
    return fig


def plot_impacts(result: ImpactsResult, *, top: int = 20) -> matplotlib.figure.Figure:
    """The ranking: pre-/post-fit impacts on the POI (bars, top axis) and pulls (points, bottom axis).

    Args:
        result: the impacts (sorted by post-fit size).
        top: number of parameters shown (the largest post-fit impacts).
    """
    items = list(result.impacts[:top])[::-1]
    n = len(items)
    y = np.arange(n)
    # columns (down, up); a free normfactor has no pre-fit impact (drawn as 0) and no pull
    pre = np.array([(it.prefit.down, it.prefit.up) if it.prefit else (0.0, 0.0) for it in items])
    post = np.array([(it.postfit.down, it.postfit.up) for it in items]).reshape(-1, 2)
    pre = pre.reshape(-1, 2)
    con = [k for k, it in enumerate(items) if it.constrained]
    with style_context():
        fig = new_figure((8.0, max(3.5, 0.33 * n + 1.8)))
        ax = fig.add_subplot()
        for v, style in ((0, "-"), (-1, "--"), (1, "--")):
            ax.axvline(v, color="0.55", linestyle=style, linewidth=0.8, zorder=1)
        ax.set_ylim(-0.7, n - 0.3)
        ax.errorbar(
            np.array([items[k].pull for k in con], dtype=float),
            y[con],
            xerr=np.array([items[k].constraint for k in con], dtype=float),
            fmt="o",
            color="black",
            markersize=4,
            capsize=0,
            zorder=5,
        )
        ax.set_xlim(-2.5, 2.5)
        ax.set_xlabel(r"pull $(\hat\theta - \theta_0)/\sigma_\mathrm{prefit}$")
        names = [it.parameter if it.constrained else f"{it.parameter} (free)" for it in items]
        ax.set_yticks(y, names, fontsize=8)
        for k, tick in enumerate(ax.get_yticklabels()):
            if not items[k].constrained:
                tick.set_fontstyle("italic")
                tick.set_color(FREE_COLOR)
        ax.tick_params(axis="y", which="minor", left=False, right=False)
        top_ax = ax.twiny()
        h = 0.7
        top_ax.barh(y, pre[:, 1], height=h, fill=False, edgecolor=PREFIT_COLOR, linewidth=1.2)
        top_ax.barh(y, pre[:, 0], height=h, fill=False, edgecolor=DOWN_COLOR, linewidth=1.2)
        top_ax.barh(y, post[:, 1], height=h, color=POSTFIT_COLOR, alpha=0.55)
        top_ax.barh(y, post[:, 0], height=h, color=DOWN_COLOR, alpha=0.45)
        lim = 1.15 * max(float(np.max(np.abs(np.concatenate([pre, post])))) if n else 1.0, 1e-12)
        top_ax.set_xlim(-lim, lim)
        top_ax.xaxis.set_major_formatter(FormatStrFormatter("%.3g"))
        top_ax.set_xlabel(rf"$\Delta$ {param_label(result.poi)}", labelpad=6)
        top_ax.set_ylim(ax.get_ylim())
        ax.set_zorder(top_ax.get_zorder() + 1)
        ax.patch.set_visible(False)
        handles = [
            Patch(
                facecolor=POSTFIT_COLOR,
                alpha=0.55,
                label=r"post-fit $\theta = \hat\theta + \sigma$",
            ),
            Patch(
                facecolor=DOWN_COLOR, alpha=0.45, label=r"post-fit $\theta = \hat\theta - \sigma$"
            ),
            Patch(fill=False, edgecolor=PREFIT_COLOR, label="pre-fit (+)"),
            Patch(fill=False, edgecolor=DOWN_COLOR, label="pre-fit (−)"),
        ]
        if len(con) < n:
            handles.append(
                Patch(color="none", label="(free): normfactor, post-fit σ only, no pull")
            )
        fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=9, frameon=False)
        txt = (
            f"{param_label(result.poi)} = {result.poi_bestfit:.3f} ± {result.poi_total:.3f}"
            f"  (stat {result.poi_stat:.3f}, syst {result.poi_syst:.3f})"
        )
        fig.suptitle(txt, fontsize=11, x=0.01, ha="left")
    return fig


def plot_correlations(result: CorrelationResult) -> matplotlib.figure.Figure:
    """The pruned correlation matrix (RdBu, −1…1), values written in the cells when few."""
    k = len(result.parameters)
    size = min(max(4.0, 0.42 * k + 2.5), 16.0)
    with style_context():
        fig = new_figure((size + 1.2, size))
        ax = fig.add_subplot()
        im = ax.imshow(result.correlation, cmap="RdBu_r", vmin=-1, vmax=1, origin="upper")
        labels = list(result.parameters)
        ax.set_xticks(np.arange(k), labels, rotation=90, fontsize=8)
        ax.set_yticks(np.arange(k), labels, fontsize=8)
        ax.tick_params(which="minor", bottom=False, top=False, left=False, right=False)
        if k <= 25:
            for i in range(k):
                for j in range(k):
                    v = result.correlation[i, j]
                    ax.text(
                        j,
                        i,
                        f"{v:.2f}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if abs(v) > 0.6 else "black",
                    )
        fig.colorbar(im, ax=ax, label=r"correlation $\rho$", shrink=0.8)
        ax.set_title(
            rf"Post-fit correlations, parameters with some $|\rho| > {result.threshold:g}$",
            fontsize=11,
            loc="left",
        )
    return fig
