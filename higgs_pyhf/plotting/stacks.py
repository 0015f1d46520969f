"""Stacked m4l templates with data: the report's figures 2.1 (pre-fit) and 2.2b (post-fit).

Arrays in, ``Figure`` out: the bin edges, the signal and background
templates, the observed counts and the scale factors (or a
:class:`~higgs_pyhf.inference.results.FitResult`). Data error bars are the
68.27% Garwood (exact Poisson) intervals of :func:`hist.intervals.poisson_interval`
by default, or ±√n (the Gaussian approximation behind the report's χ²).
An optional lower panel shows data / prediction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import matplotlib.figure
import numpy as np
from hist.intervals import poisson_interval

from ._style import (
    add_data_label,
    add_generated_caption,
    is_generated_label,
    new_figure,
    param_label,
    resolve_data_label,
    sample_labels,
    style_context,
)
from .uncertainty import BAND, postfit_band, ratio_limits

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..inference.results import FitResult

__all__ = [
    "BACKGROUND_COLOR",
    "SIGNAL_COLOR",
    "data_intervals",
    "draw_data",
    "draw_ratio",
    "draw_stack",
    "plot_postfit",
    "plot_prefit_postfit",
    "plot_stacked",
    "postfit_text",
]

#: Colours of the stack (background blue, Higgs red-orange, as the report's mplhep defaults).
BACKGROUND_COLOR = "#56b4e9"
SIGNAL_COLOR = "#d55e00"
ERRORS = ("garwood", "sqrt")


def data_intervals(counts: Any, errors: str = "garwood") -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper ends of the data error bars.

    Args:
        counts: observed counts per bin.
        errors: ``garwood`` (68.27% exact Poisson interval, from
            :func:`hist.intervals.poisson_interval`) or ``sqrt`` (n ± √n).

    Returns:
        ``(low, high)`` per bin.
    """
    n = np.asarray(counts, dtype=float)
    if errors == "garwood":
        low, high = poisson_interval(n)
        return np.nan_to_num(low, nan=0.0), high
    if errors == "sqrt":
        return n - np.sqrt(n), n + np.sqrt(n)
    msg = f"unknown data errors {errors!r}; expected one of {ERRORS}"
    raise ValueError(msg)


def draw_data(
    ax: Any,
    edges: np.ndarray,
    obs: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    *,
    scale: np.ndarray | None = None,
    **style: Any,
) -> None:
    """Data as black points at the bin centres with error bars ``low``…``high``.

    ``scale`` divides points and bars (a data/prediction ratio panel);
    ``style`` goes to ``errorbar`` (marker size, line width, label).
    """
    s = 1.0 if scale is None else scale
    ax.errorbar(
        0.5 * (edges[1:] + edges[:-1]),
        obs / s,
        yerr=np.vstack([(obs - low) / s, (high - obs) / s]),
        fmt="o",
        color="black",
        capsize=0,
        **style,
    )


def _ylabel(edges: np.ndarray, xlabel: str) -> str:
    widths = np.diff(edges)
    uniform = np.allclose(widths, widths[0]) and "GeV" in xlabel
    return f"Events / {widths[0]:g} GeV" if uniform else "Events / bin"


def draw_stack(
    ax: Axes,
    edges: Any,
    signal: Any,
    background: Any,
    data: Any,
    *,
    signal_scale: float = 1.0,
    background_scale: float = 1.0,
    errors: str = "garwood",
    data_label: str = "Data",
    text: str | None = None,
    xlabel: str = r"$m_{4\ell}$ [GeV]",
    ylabel: str | None = None,
    legend_suffix: str = "",
    sample_names: Mapping[str, str] | None = None,
    band: Any = None,
) -> None:
    """Draw the stacked prediction and the data on ``ax``.

    Legend names: ``sample_names`` (keys ``signal``/``background``), else the
    report model's physics names for its own data labels, else the sample
    names. The text block (e.g. the fit result) goes in the upper right corner
    with the legend below it; the y range leaves room for both above the
    histogram on the right half (the Z peak sits on the left).
    """
    edges = np.asarray(edges, dtype=float)
    sig = np.asarray(signal, dtype=float) * signal_scale
    bkg = np.asarray(background, dtype=float) * background_scale
    obs = np.asarray(data, dtype=float)
    nb = edges.size - 1
    if not (sig.size == bkg.size == obs.size == nb):
        msg = f"inconsistent bin counts: edges give {nb}, signal {sig.size}, background {bkg.size}, data {obs.size}"
        raise ValueError(msg)
    names = sample_labels(("background", "signal"), data_label, sample_names)
    ax.stairs(
        bkg, edges, fill=True, color=BACKGROUND_COLOR, label=names["background"] + legend_suffix
    )
    ax.stairs(
        bkg + sig,
        edges,
        baseline=bkg,
        fill=True,
        color=SIGNAL_COLOR,
        label=names["signal"] + legend_suffix,
    )
    ax.stairs(bkg + sig, edges, color="black", linewidth=0.8)
    if band is not None:
        err = np.asarray(band, dtype=float)
        ax.stairs(bkg + sig + err, edges, baseline=bkg + sig - err, label="post-fit unc.", **BAND)
    low, high = data_intervals(obs, errors)
    err_name = "Garwood 68%" if errors == "garwood" else "±√n"
    draw_data(
        ax, edges, obs, low, high, markersize=5, linewidth=1.2, label=f"{data_label} ({err_name})"
    )
    content = np.maximum(high, bkg + sig)
    top = float(np.max(content))
    centers = 0.5 * (edges[1:] + edges[:-1])
    right = centers > edges[0] + 0.45 * (edges[-1] - edges[0])
    top_right = float(np.max(content[right])) if np.any(right) else 0.0
    n_text = text.count("\n") + 1 if text else 0
    y_legend = 0.97 - 0.07 * n_text
    free = max(0.25, y_legend - 0.065 * 3 - 0.03)  # height fraction left under text + legend
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(0, max(1.15 * top, top_right / free))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel or _ylabel(edges, xlabel))
    if text:
        ax.text(0.97, 0.97, text, transform=ax.transAxes, ha="right", va="top", fontsize=12)
    ax.legend(loc="upper right", bbox_to_anchor=(0.99, y_legend), fontsize=11)


def draw_ratio(
    ax: Axes,
    edges: Any,
    data: Any,
    prediction: Any,
    *,
    errors: str = "garwood",
    xlabel: str = r"$m_{4\ell}$ [GeV]",
    band: Any = None,
) -> None:
    """Data / prediction with the data's intervals divided by the prediction (and its band)."""
    edges = np.asarray(edges, dtype=float)
    obs = np.asarray(data, dtype=float)
    pred = np.asarray(prediction, dtype=float)
    low, high = data_intervals(obs, errors)
    safe = np.where(pred > 0, pred, np.nan)
    rel = np.zeros_like(pred) if band is None else np.asarray(band, dtype=float) / safe
    if band is not None:
        ax.stairs(1 + rel, edges, baseline=1 - rel, **BAND)
    ax.axhline(1.0, color="0.3", linewidth=1)
    draw_data(ax, edges, obs, low, high, scale=safe, markersize=4, linewidth=1.0)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(*ratio_limits(low / safe, high / safe, 1 - rel, 1 + rel))
    ax.set_ylabel("Data / pred.")
    ax.set_xlabel(xlabel)


def postfit_text(fit: FitResult, parameters: tuple[str, ...] = ("s_s", "s_b")) -> str:
    """One line per parameter: best fit with Minos errors (else Hesse)."""
    lines = []
    for par in parameters:
        if par not in fit.labels:
            lines.append(f"{param_label(par)} = 1")
            continue
        v = fit.value(par)
        if par in fit.minos:
            lo, hi = fit.minos[par]
            lines.append(f"{param_label(par)} = ${v:.2f}^{{+{hi:.2f}}}_{{{lo:.2f}}}$")
        elif par in fit.fixed:
            lines.append(f"{param_label(par)} = {v:g} (fixed)")
        else:
            lines.append(rf"{param_label(par)} = {v:.2f} $\pm$ {fit.error(par):.2f}")
    return "\n".join(lines)


def plot_stacked(
    edges: Any,
    signal: Any,
    background: Any,
    data: Any,
    *,
    signal_scale: float = 1.0,
    background_scale: float = 1.0,
    ax: Axes | None = None,
    title: str | None = None,
    data_label: str | None = None,
    generated: bool = False,
    lumi_fb: float | None = None,
    xlabel: str = r"$m_{4\ell}$ [GeV]",
    ylabel: str | None = None,
    errors: str = "garwood",
    ratio: bool = False,
    band: Any = None,
    **header: Any,
) -> matplotlib.figure.Figure:
    """Stacked background + Higgs prediction with the data (report figures 2.1 and 2.2b).

    Args:
        edges: bin edges (GeV), length nbins + 1.
        signal: nominal Higgs signal per bin.
        background: nominal background per bin.
        data: observed counts per bin.
        signal_scale: factor applied to the signal (``s_s``).
        background_scale: factor applied to the background (``s_b``).
        ax: axes to draw on (no header is added then); a new figure when None.
        title: text in the upper right corner (e.g. ``Pre-fit``).
        data_label: label of the data (:data:`~._style.REAL_DATA_LABEL`,
            :data:`~._style.GENERATED_DATA_LABEL`, …); default from ``generated``.
        generated: shorthand for the generated data label when ``data_label`` is None.
        lumi_fb: integrated luminosity shown in the header (None: not shown).
        header: header keywords ``label``, ``energy``, ``title`` (:func:`~._style.header_text`).
        xlabel: x-axis label.
        ylabel: y-axis label; ``Events / <bin width> GeV`` for uniform bins.
        errors: data error bars, ``garwood`` or ``sqrt``.
        ratio: add a data / prediction panel (new figures only).
        band: ±1σ of the total prediction per bin, drawn hatched (e.g. :func:`postfit_band`).

    Returns:
        The figure.
    """
    label = resolve_data_label(data_label, generated)
    with style_context():
        if ax is None:
            fig = new_figure((8.0, 7.5 if ratio else 6.0))
            if ratio:
                ax, rax = fig.subplots(
                    2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05}
                )
            else:
                ax, rax = fig.add_subplot(), None
            add_data_label(fig, label, lumi_fb=lumi_fb, **header)
        else:
            fig_ = ax.get_figure()
            assert isinstance(fig_, matplotlib.figure.Figure)
            fig, rax = fig_, None
            add_generated_caption(fig, is_generated_label(label))
        draw_stack(
            ax,
            edges,
            signal,
            background,
            data,
            signal_scale=signal_scale,
            background_scale=background_scale,
            errors=errors,
            data_label=label,
            text=title,
            xlabel=xlabel,
            ylabel=ylabel,
            band=band,
        )
        if rax is not None:
            ax.set_xlabel("")
            pred = signal_scale * np.asarray(signal, dtype=float) + background_scale * np.asarray(
                background, dtype=float
            )
            draw_ratio(rax, edges, data, pred, errors=errors, xlabel=xlabel, band=band)
    return fig


def plot_postfit(
    edges: Any,
    signal: Any,
    background: Any,
    data: Any,
    fit: FitResult,
    *,
    ax: Axes | None = None,
    data_label: str | None = None,
    generated: bool = False,
    lumi_fb: float | None = None,
    signal_par: str = "s_s",
    background_par: str = "s_b",
    xlabel: str = r"$m_{4\ell}$ [GeV]",
    errors: str = "garwood",
    ratio: bool = False,
    **header: Any,
) -> matplotlib.figure.Figure:
    """The stack scaled to the best fit of ``fit`` (report figure 2.2b), fit values written on it."""
    s_s = fit.value(signal_par) if signal_par in fit.labels else 1.0
    s_b = fit.value(background_par) if background_par in fit.labels else 1.0
    return plot_stacked(
        edges,
        signal,
        background,
        data,
        signal_scale=s_s,
        background_scale=s_b,
        ax=ax,
        title="Post-fit\n" + postfit_text(fit, (signal_par, background_par)),
        band=postfit_band(signal, background, fit, (signal_par, background_par)),
        data_label=data_label,
        generated=generated,
        lumi_fb=lumi_fb,
        **header,
        xlabel=xlabel,
        errors=errors,
        ratio=ratio,
    )


def plot_prefit_postfit(
    edges: Any,
    signal: Any,
    background: Any,
    data: Any,
    fit: FitResult,
    *,
    data_label: str | None = None,
    generated: bool = False,
    lumi_fb: float | None = None,
    **header: Any,
) -> matplotlib.figure.Figure:
    """Pre-fit and post-fit stacks side by side, on a common y range."""
    label = resolve_data_label(data_label, generated)
    with style_context():
        fig = new_figure((16.0, 6.0))
        ax_pre, ax_post = fig.subplots(1, 2, sharey=True)
        add_data_label(fig, label, lumi_fb=lumi_fb, **header)
    plot_stacked(edges, signal, background, data, ax=ax_pre, title="Pre-fit", data_label=label)
    plot_postfit(edges, signal, background, data, fit, ax=ax_post, data_label=label)
    top = max(ax_pre.get_ylim()[1], ax_post.get_ylim()[1])
    ax_pre.set_ylim(0, top)
    return fig
