"""Figures with uncertainty bands: pre/post-fit predictions, the Brazil plot, toy-calibrated regions.

- :func:`plot_prediction`: the stacked samples of one channel at one stage
  (:class:`~higgs_pyhf.inference.yields.YieldsResult`) with the hatched
  uncertainty band of the total prediction, the data with Garwood intervals
  and a data/prediction panel with the relative band;
  :func:`plot_prefit_postfit` puts both stages side by side.
- :func:`plot_brazil`: CLs against the POI with the expected ±1σ/±2σ bands
  and the observed limit (:class:`~higgs_pyhf.inference.limits.UpperLimitResult`).
- :func:`plot_toy_contour`: the toy-calibrated 68.27%/95% regions beside the
  Wilks contours (:class:`~higgs_pyhf.inference.toys.contour.ToyContourResult`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import matplotlib.figure
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ._style import (
    add_data_label,
    new_figure,
    param_label,
    sample_colors,
    sample_labels,
    style_context,
)
from .stacks import data_intervals, draw_data
from .uncertainty import BAND, ratio_limits

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..inference.limits import UpperLimitResult
    from ..inference.toys.contour import ToyContourResult
    from ..inference.yields import YieldsResult

__all__ = ["plot_brazil", "plot_prediction", "plot_prefit_postfit", "plot_toy_contour"]

_STAGE = {"prefit": "Pre-fit", "postfit": "Post-fit"}


def _sample_order(samples: tuple[str, ...]) -> list[int]:
    """Backgrounds first (as given), samples whose name says signal last (on top)."""
    sig = [i for i, s in enumerate(samples) if "signal" in s.lower() or "higgs" in s.lower()]
    return [i for i in range(len(samples)) if i not in sig] + sig


def _draw_stage(
    ax: Axes,
    rax: Axes,
    result: YieldsResult,
    channel: int,
    stage: str,
    edges: np.ndarray,
    xlabel: str,
    data_label: str,
    sample_names: Mapping[str, str] | None = None,
    colors: Mapping[str, str] | None = None,
) -> None:
    pred = getattr(result, stage)
    a, b = result.channel_bins[channel]
    obs = result.data[a:b]
    base = np.zeros(b - a)
    names = sample_labels(result.samples, data_label, sample_names)
    palette = sample_colors(result.samples, colors)
    for s in _sample_order(result.samples):
        y = pred.samples[s, a:b]
        if not np.any(y):  # a sample absent from this channel
            continue
        name = result.samples[s]
        ax.stairs(base + y, edges, baseline=base, fill=True, color=palette[name], label=names[name])
        base = base + y
    total, err = pred.total[a:b], pred.total_errors[a:b]
    ax.stairs(total, edges, color="black", linewidth=0.8)
    ax.stairs(total + err, edges, baseline=total - err, **BAND, label="uncertainty")
    low, high = data_intervals(obs)
    draw_data(ax, edges, obs, low, high, markersize=4, label=data_label)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(0, 1.45 * float(max(np.max(high), np.max(total + err))))
    widths = np.diff(edges)
    uniform = np.allclose(widths, widths[0]) and "GeV" in xlabel
    ax.set_ylabel(f"Events / {widths[0]:g} GeV" if uniform else "Events / bin")
    tot = pred.channel_total[channel]
    tot_err = pred.channel_total_errors[channel]
    ax.set_title(
        f"{_STAGE.get(stage, stage)}: {result.channels[channel]}, "
        f"pred. {tot:.1f} ± {tot_err:.1f}, data {obs.sum():.0f}",
        fontsize=10,
        loc="left",
    )
    ax.legend(loc="upper right", fontsize=8, ncol=2)
    safe = np.where(total > 0, total, np.nan)
    rel = err / safe
    rax.stairs(1 + rel, edges, baseline=1 - rel, **BAND)
    rax.axhline(1.0, color="0.3", linewidth=0.8)
    draw_data(rax, edges, obs, low, high, scale=safe, markersize=3)
    rax.set_xlim(edges[0], edges[-1])
    rax.set_ylim(*ratio_limits(low / safe, high / safe, 1 - rel, 1 + rel))
    rax.set_ylabel("Data / pred.")
    rax.set_xlabel(xlabel)


def _edges(result: YieldsResult, channel: int, edges: Any) -> np.ndarray:
    a, b = result.channel_bins[channel]
    if edges is None:
        return np.arange(b - a + 1, dtype=float)
    e = np.asarray(edges, dtype=float)
    if e.size != b - a + 1:
        msg = f"{e.size} edges for {b - a} bins of channel {result.channels[channel]!r}"
        raise ValueError(msg)
    return e


def plot_prediction(
    result: YieldsResult,
    channel: str,
    *,
    stage: str = "postfit",
    edges: Any = None,
    xlabel: str = r"$m_{4\ell}$ [GeV]",
    data_label: str = "Data",
    lumi_fb: float | None = None,
    sample_names: Mapping[str, str] | None = None,
    colors: Mapping[str, str] | None = None,
    **header: Any,
) -> matplotlib.figure.Figure:
    """One channel at one stage: stack, band of the total, data, ratio panel.

    Args:
        result: the yields.
        channel: the channel name.
        stage: ``prefit`` or ``postfit``.
        edges: the channel's bin edges (default: the bin index).
        xlabel: label of the observable.
        data_label: the data's label (its header; a generated label adds the caption).
        lumi_fb: luminosity in the header (None: omitted).
        sample_names: legend name of a sample (default: :func:`~._style.sample_labels`).
        colors: colour of a sample (default: :func:`~._style.sample_colors`).
        header: header keywords ``label``, ``energy``, ``title`` (:func:`~._style.header_text`).
    """
    c = result.channels.index(channel)
    e = _edges(result, c, edges)
    with style_context():
        fig = new_figure((7.0, 6.5))
        ax, rax = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
        label = xlabel if edges is not None else "bin"
        _draw_stage(ax, rax, result, c, stage, e, label, data_label, sample_names, colors)
        add_data_label(fig, data_label, lumi_fb=lumi_fb, **header)
    return fig


def plot_prefit_postfit(
    result: YieldsResult,
    channel: str,
    *,
    edges: Any = None,
    xlabel: str = r"$m_{4\ell}$ [GeV]",
    data_label: str = "Data",
    lumi_fb: float | None = None,
    sample_names: Mapping[str, str] | None = None,
    colors: Mapping[str, str] | None = None,
    **header: Any,
) -> matplotlib.figure.Figure:
    """Pre-fit (left) and post-fit (right) predictions of one channel (see :func:`plot_prediction`)."""
    c = result.channels.index(channel)
    e = _edges(result, c, edges)
    with style_context():
        fig = new_figure((13.0, 6.5))
        axes = fig.subplots(2, 2, sharex=True, height_ratios=(3, 1))
        for col, stage in enumerate(("prefit", "postfit")):
            label = xlabel if edges is not None else "bin"
            _draw_stage(
                axes[0, col],
                axes[1, col],
                result,
                c,
                stage,
                e,
                label,
                data_label,
                sample_names,
                colors,
            )
        ymax = max(axes[0, 0].get_ylim()[1], axes[0, 1].get_ylim()[1])
        for ax in axes[0]:
            ax.set_ylim(0, ymax)
        add_data_label(fig, data_label, lumi_fb=lumi_fb, **header)
    return fig


def plot_brazil(
    result: UpperLimitResult,
    *,
    poi_label: str | None = None,
    data_label: str | None = None,
    lumi_fb: float | None = None,
    **header: Any,
) -> matplotlib.figure.Figure:
    """CLs against the POI: observed, expected median with ±1σ (green) and ±2σ (yellow) bands.

    The CLs level and the observed limit are marked; the expected limits are in the legend.

    Args:
        result: the upper limit with its CLs scan.
        poi_label: axis label of the POI (default: its name).
        data_label: the data's label for the header (None: no header).
        lumi_fb: luminosity in the header.
        header: header keywords ``label``, ``energy``, ``title`` (:func:`~._style.header_text`).
    """
    mu = np.asarray(result.scan, dtype=float)
    exp = np.asarray(result.cls_expected, dtype=float)  # rows −2σ … +2σ
    name = poi_label or param_label(result.poi)
    with style_context():
        fig = new_figure((7.0, 5.0))
        ax = fig.add_subplot()
        ax.fill_between(mu, exp[0], exp[4], color="#ffdd44", label=r"expected $\pm 2\sigma$")
        ax.fill_between(mu, exp[1], exp[3], color="#44bb44", label=r"expected $\pm 1\sigma$")
        ax.plot(mu, exp[2], "k--", linewidth=1.2, label="expected median")
        ax.plot(mu, result.cls_observed, "k-", linewidth=1.8, label="observed")
        ax.axhline(result.level, color="#d55e00", linewidth=1.0)
        ax.text(
            mu[-1],
            result.level,
            f"CLs = {result.level:g}",
            color="#d55e00",
            ha="right",
            va="bottom",
            fontsize=9,
        )
        ax.axvline(result.observed, color="0.4", linestyle=":", linewidth=1.2)
        ax.plot([result.observed], [result.level], "o", color="black", markersize=6)
        cl = 100 * (1 - result.level)
        ax.set_xlabel(name)
        ax.set_ylabel(r"CL$_s$")
        ax.set_xlim(mu[0], mu[-1])
        ax.set_ylim(0, 1.05)
        handles, labels = ax.get_legend_handles_labels()
        handles.append(Line2D([], [], color="0.4", linestyle=":"))
        lo1, med, hi1 = result.expected[1], result.expected[2], result.expected[3]
        labels.append(
            f"{cl:g}% CL limit: obs. {result.observed:.3g}, exp. {med:.3g} [{lo1:.3g}, {hi1:.3g}]"
        )
        ax.legend(
            handles,
            labels,
            loc="upper right",
            fontsize=9,
            frameon=True,
            framealpha=0.95,
            edgecolor="none",
        )
        if data_label is not None:
            add_data_label(fig, data_label, lumi_fb=lumi_fb, **header)
    return fig


def plot_toy_contour(
    result: ToyContourResult,
    *,
    labels: tuple[str, str] | None = None,
    data_label: str | None = None,
    lumi_fb: float | None = None,
    **header: Any,
) -> matplotlib.figure.Figure:
    """Toy-calibrated 68.27%/95% regions (filled) beside the Wilks 2.30/5.99 contours (lines).

    Args:
        result: the toy-calibrated regions.
        labels: axis labels (default: the parameter names).
        data_label: the data's label for the header (None: no header).
        lumi_fb: luminosity in the header.
        header: header keywords ``label``, ``energy``, ``title`` (:func:`~._style.header_text`).
    """
    xs, ys = result.x_values, result.y_values
    t = result.delta_twice_nll.T  # (ny, nx) for contour
    p = np.nan_to_num(result.p_value.T, nan=0.0)
    bestfit = tuple(result.bestfit)
    names = labels or tuple(param_label(par) for par in result.parameters)
    if result.parameters[1] == "s_b":  # s_b horizontal, s_s vertical: as figure 2.2a
        xs, ys, t, p = ys, xs, t.T, p.T
        bestfit, names = bestfit[::-1], names[::-1]
    with style_context():
        fig = new_figure((7.0, 5.6))
        ax = fig.add_subplot()
        ax.contourf(xs, ys, p, levels=[0.05, 0.3173, 1.01], colors=["#fdd49e", "#fc8d59"])
        ax.contour(xs, ys, p, levels=[0.05, 0.3173], colors=["#d7301f", "#7f0000"], linewidths=1.5)
        ax.contour(
            xs,
            ys,
            t,
            levels=list(result.wilks_levels),
            colors="black",
            linestyles=["--", ":"],
            linewidths=1.3,
        )
        ax.plot(*bestfit, "k+", markersize=12, markeredgewidth=2)
        n = result.settings.get("ntoys")
        handles = [
            Patch(facecolor="#fc8d59", edgecolor="#7f0000", label="toys 68.27%"),
            Patch(facecolor="#fdd49e", edgecolor="#d7301f", label="toys 95%"),
            Line2D([], [], color="black", linestyle="--", label=r"Wilks $\Delta = 2.30$"),
            Line2D([], [], color="black", linestyle=":", label=r"Wilks $\Delta = 5.99$"),
            Line2D(
                [], [], color="black", marker="+", linestyle="", markersize=10, label="best fit"
            ),
        ]
        ax.legend(handles=handles, loc="upper right", fontsize=9)
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        ax.set_title(
            f"Neyman construction, LR ordering: {xs.size}×{ys.size} points × {n} toys",
            fontsize=10,
            loc="left",
        )
        if data_label is not None:
            add_data_label(fig, data_label, lumi_fb=lumi_fb, **header)
    return fig
