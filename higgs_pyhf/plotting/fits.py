"""Plots of the fit stage: stacked m4l templates with data, Δ(−2lnL) scans, 2D contours.

The pictures of the seed report (figure 2.1: pre-fit stack; figure 2.2a:
the 2D Δχ² map with the 68% contour; figure 2.2b: post-fit stack), drawn
from result containers (:class:`~higgs_pyhf.inference.results.FitResult`,
:class:`~higgs_pyhf.inference.results.Scan1DResult`,
:class:`~higgs_pyhf.inference.results.Scan2DResult`) so they can be redrawn
from saved JSON. Every function takes an optional ``ax``, returns the
``Figure`` and never calls ``plt.show()``. The mplhep ATLAS style is applied
only while a figure is built (:func:`~higgs_pyhf.plotting._style.style_context`).

Data error bars are the 68.27% Garwood (exact Poisson) intervals, so bins
with 0 or few events get the correct asymmetric errors.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import matplotlib.figure
import matplotlib.lines
import numpy as np
from scipy import stats

from ..errors import WorkspaceError
from ..inference.results import Scan1DResult, Scan2DResult
from ._style import add_generated_caption, style_context

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..inference.results import FitResult

__all__ = [
    "StackTemplates",
    "garwood_interval",
    "plot_postfit",
    "plot_prefit_postfit",
    "plot_scan_1d",
    "plot_scan_2d",
    "plot_stacked",
    "read_provenance",
    "templates_from_workspace",
]

log = logging.getLogger(__name__)

#: Colours of the stack (background as in the report's mplhep default: blue, Higgs: orange/red).
BACKGROUND_COLOR = "#56b4e9"
SIGNAL_COLOR = "#d55e00"
#: Δ values are clipped here on 2D maps so the interesting region keeps its contrast.
DELTA_CLIP = 10.0
#: Confidence level of the usual Δ(−2lnL) thresholds (1 and 2 parameters).
_LEVEL_NAMES = {
    1.0: "68.27%",
    2.30: "68.27%",
    3.84: "95%",
    4.0: "95.45%",
    5.99: "95%",
    6.18: "95.45%",
}
_PARAM_LATEX = {"s_s": "$s_s$", "s_b": "$s_b$"}
_STAT_NAMES = {
    "likelihood": "Poisson likelihood",
    "pearson": r"Pearson $\chi^2$",
    "neyman": r"Neyman $\chi^2$",
    "poisson": r"Baker–Cousins $\chi^2$",
}


# --------------------------------------------------------------------------- inputs


class StackTemplates(NamedTuple):
    """The per-bin inputs of a stacked m4l plot, read from a workspace.

    Attributes:
        edges: bin edges in GeV (or bin indices 0..n when the edges are unknown).
        signal: nominal Higgs signal per bin (events, before ``s_s``).
        background: nominal background per bin (events, before ``s_b``).
        data: observed counts per bin.
        generated: whether the input is generated (synthetic), not ATLAS data.
        lumi_fb: integrated luminosity in fb⁻¹ (None when unknown).
        edges_known: False when ``edges`` are bin indices.
        xlabel: axis label of the observable.
        data_label: legend entry of the data: ``Pseudo-data (generated)``,
            ``ATLAS Open Data`` (a provenance file says it is not generated)
            or ``Data`` (origin not recorded).
    """

    edges: np.ndarray
    signal: np.ndarray
    background: np.ndarray
    data: np.ndarray
    generated: bool
    lumi_fb: float | None
    edges_known: bool = True
    xlabel: str = r"$m_{4\ell}$ [GeV]"
    data_label: str = "Data"


def _edges_from_provenance(prov: dict[str, Any], nbins: int) -> np.ndarray | None:
    """Bin edges from a provenance dict, if it holds them with the right bin count."""
    candidates: list[Any] = [prov.get("edges"), prov.get("bin_edges")]
    for key in ("observable", "binning", "config"):
        sub = prov.get(key)
        if isinstance(sub, dict):
            candidates += [sub.get("edges"), sub.get("bin_edges")]
            if {"low", "high", "nbins"} <= set(sub):
                candidates.append(np.linspace(sub["low"], sub["high"], int(sub["nbins"]) + 1))
            obs = sub.get("observable")
            if isinstance(obs, dict):
                candidates.append(obs.get("edges"))
                if {"low", "high", "nbins"} <= set(obs):
                    candidates.append(np.linspace(obs["low"], obs["high"], int(obs["nbins"]) + 1))
    for cand in candidates:
        if cand is None:
            continue
        try:
            arr = np.asarray(cand, dtype=float)
        except (TypeError, ValueError):
            continue
        if arr.ndim == 1 and arr.size == nbins + 1 and np.all(np.diff(arr) > 0):
            return arr
    return None


def _is_generated(spec: dict[str, Any], prov: dict[str, Any]) -> bool:
    if "generated" in prov:
        return bool(prov["generated"])
    names = [m.get("name", "") for m in spec.get("measurements", [])]
    texts = [
        *names,
        str(prov.get("source", "")),
        str(prov.get("input", "")),
        str(prov.get("description", "")),
    ]
    return any("generated" in t.lower() for t in texts)


def templates_from_workspace(
    spec: dict[str, Any],
    *,
    provenance: dict[str, Any] | None = None,
    signal_sample: str = "signal",
    background_sample: str = "background",
) -> StackTemplates:
    """Extract the signal/background templates and the data of a one-channel workspace.

    Bin edges are not part of a pyhf workspace. They are taken, in order,
    from the provenance dict (keys ``edges``/``bin_edges``, or an
    ``observable`` with ``low``/``high``/``nbins``), then from the default
    configuration (34 bins, 80–250 GeV) if the bin count matches, else the
    bin index is used (``edges_known=False``).

    Args:
        spec: the workspace specification.
        provenance: the workspace's provenance dict (see
            :func:`higgs_pyhf.workspace.provenance_path`), or None.
        signal_sample: name of the signal sample.
        background_sample: name of the background sample.

    Returns:
        The templates, data, luminosity and whether the input is generated.

    Raises:
        WorkspaceError: if the workspace has not exactly one channel with both samples.
    """
    prov = provenance or {}
    channels = spec.get("channels", [])
    if len(channels) != 1:
        msg = f"stacked plots need a workspace with exactly one channel, got {len(channels)}"
        raise WorkspaceError(msg)
    channel = channels[0]
    samples = {s["name"]: np.asarray(s["data"], dtype=float) for s in channel["samples"]}
    missing = [n for n in (signal_sample, background_sample) if n not in samples]
    if missing:
        msg = f"channel {channel['name']!r} has no sample(s) {missing} (have: {sorted(samples)})"
        raise WorkspaceError(msg)
    obs = [o for o in spec.get("observations", []) if o["name"] == channel["name"]]
    if not obs:
        msg = f"workspace has no observation for channel {channel['name']!r}"
        raise WorkspaceError(msg)
    data = np.asarray(obs[0]["data"], dtype=float)
    nbins = data.size

    edges = _edges_from_provenance(prov, nbins)
    edges_known = edges is not None
    if edges is None:
        from ..configuration import default_config

        default_edges = np.asarray(default_config().edges, dtype=float)
        if default_edges.size == nbins + 1:
            edges = default_edges
            edges_known = True
        else:
            log.info(
                "workspace has %d bins and no edges in its provenance: plotting against bin index",
                nbins,
            )
            edges = np.arange(nbins + 1, dtype=float)
    raw_config = prov.get("config")
    config: dict[str, Any] = raw_config if isinstance(raw_config, dict) else {}
    lumi = prov.get("lumi_fb", config.get("lumi_fb"))
    xlabel = config.get("observable_label") or r"$m_{4\ell}$ [GeV]"
    if not edges_known:
        xlabel = "bin index"
    generated = _is_generated(spec, prov)
    data_label = "Pseudo-data (generated)" if generated else "ATLAS Open Data" if prov else "Data"
    return StackTemplates(
        edges=edges,
        signal=samples[signal_sample],
        background=samples[background_sample],
        data=data,
        generated=generated,
        lumi_fb=float(lumi) if lumi is not None else 10.0,
        edges_known=edges_known,
        xlabel=str(xlabel),
        data_label=data_label,
    )


def read_provenance(workspace_path: str | os.PathLike[str]) -> dict[str, Any]:
    """The provenance dict written next to a workspace file, or ``{}`` if there is none."""
    from ..workspace import provenance_path

    p = provenance_path(workspace_path)
    if not p.exists():
        return {}
    try:
        obj = json.loads(Path(p).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        log.warning("ignoring unreadable provenance file %s: %s", p, err)
        return {}
    return obj if isinstance(obj, dict) else {}


# --------------------------------------------------------------------------- helpers


def garwood_interval(counts: Any, *, cl: float = 0.682689492137) -> tuple[np.ndarray, np.ndarray]:
    """Central Garwood (exact Poisson) confidence interval for observed counts.

    Args:
        counts: observed counts (non-negative).
        cl: confidence level (68.27% by default).

    Returns:
        ``(low, high)`` bounds on the Poisson mean; low = 0 for n = 0.
    """
    n = np.asarray(counts, dtype=float)
    alpha = 1.0 - cl
    low = np.where(n > 0, stats.chi2.ppf(alpha / 2, 2 * np.maximum(n, 1e-300)) / 2, 0.0)
    high = stats.chi2.ppf(1 - alpha / 2, 2 * (n + 1)) / 2
    return low, high


def _new_axes(
    ax: Axes | None, figsize: tuple[float, float] = (8.0, 6.0)
) -> tuple[matplotlib.figure.Figure, Axes]:
    if ax is not None:
        fig = ax.get_figure()
        assert isinstance(fig, matplotlib.figure.Figure)
        return fig, ax
    fig = matplotlib.figure.Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _param_label(name: str) -> str:
    return _PARAM_LATEX.get(name, name.replace("_", r"\_"))


def _level_name(level: float) -> str:
    for k, v in _LEVEL_NAMES.items():
        if abs(k - level) < 0.006:
            return v
    return f"Δ = {level:g}"


def _delta_label(statistics: Sequence[str]) -> str:
    stats_ = set(statistics)
    if stats_ == {"likelihood"}:
        return r"$-2\,\Delta\ln L$"
    if "likelihood" not in stats_:
        return r"$\Delta\chi^2$"
    return r"$-2\,\Delta\ln L$  or  $\Delta\chi^2$"


def _scan_label(scan: Scan1DResult | Scan2DResult) -> str:
    stat = _STAT_NAMES.get(scan.statistic, scan.statistic)
    if scan.statistic == "pearson" and "grid" not in scan.kind:
        stat = r"Report grid $\chi^2$"
    kind = {"profile": "profiled", "conditional": "conditional"}.get(scan.kind, scan.kind)
    return f"{stat}, {kind}"


def _fmt_interval(best: float, interval: tuple[float, float]) -> str:
    lo, hi = interval
    up = f"{hi - best:+.2f}" if np.isfinite(hi) else "?"
    dn = f"{lo - best:+.2f}".replace("-", "−") if np.isfinite(lo) else "?"
    return f"${best:.2f}^{{{up}}}_{{{dn}}}$"


# --------------------------------------------------------------------------- stacked m4l


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
    generated: bool = False,
    lumi_fb: float | None = 10.0,
    xlabel: str = r"$m_{4\ell}$ [GeV]",
    ylabel: str | None = None,
    data_label: str | None = None,
) -> matplotlib.figure.Figure:
    """Stacked background + Higgs prediction with the data and Poisson error bars.

    The report's figures 2.1 (pre-fit, scales 1) and 2.2b (post-fit, scales
    from the fit).

    Args:
        edges: bin edges (GeV), length nbins + 1.
        signal: nominal Higgs signal per bin.
        background: nominal background per bin.
        data: observed counts per bin.
        signal_scale: factor applied to the signal (``s_s``).
        background_scale: factor applied to the background (``s_b``).
        ax: axes to draw on; a new figure when None.
        title: text shown under the luminosity label (e.g. ``Pre-fit``).
        generated: add the "generated input" caption and label the data as pseudo-data.
        lumi_fb: integrated luminosity shown on the plot (None: not shown).
        xlabel: x-axis label.
        ylabel: y-axis label; ``Events / <bin width> GeV`` for uniform bins.
        data_label: legend entry of the data.

    Returns:
        The figure.
    """
    edges = np.asarray(edges, dtype=float)
    sig = np.asarray(signal, dtype=float) * signal_scale
    bkg = np.asarray(background, dtype=float) * background_scale
    obs = np.asarray(data, dtype=float)
    nb = edges.size - 1
    if not (sig.size == bkg.size == obs.size == nb):
        msg = f"inconsistent bin counts: edges give {nb}, signal {sig.size}, background {bkg.size}, data {obs.size}"
        raise ValueError(msg)
    widths = np.diff(edges)
    if ylabel is None:
        uniform = np.allclose(widths, widths[0]) and "GeV" in xlabel
        ylabel = f"Events / {widths[0]:g} GeV" if uniform else "Events / bin"
    if data_label is None:
        data_label = "Pseudo-data (generated)" if generated else "ATLAS Open Data"
    with style_context():
        fig, ax = _new_axes(ax)
        ax.stairs(
            bkg,
            edges,
            fill=True,
            color=BACKGROUND_COLOR,
            label=r"Background ($ZZ^*$, $Z$+jets, $t\bar{t}$)",
        )
        ax.stairs(
            bkg + sig,
            edges,
            baseline=bkg,
            fill=True,
            color=SIGNAL_COLOR,
            label=r"Higgs ($m_H$ = 125 GeV)",
        )
        ax.stairs(bkg + sig, edges, color="black", linewidth=0.8)
        centers = 0.5 * (edges[1:] + edges[:-1])
        low, high = garwood_interval(obs)
        ax.errorbar(
            centers,
            obs,
            yerr=np.vstack([obs - low, high - obs]),
            fmt="o",
            color="black",
            markersize=5,
            linewidth=1.2,
            capsize=0,
            label=data_label,
        )
        content = np.maximum(high, bkg + sig)
        top = float(np.max(content))
        # the labels and the legend fill the upper ~45% of the right half: keep the
        # content there below them (the m4l Z peak sits on the left)
        right = centers > edges[0] + 0.55 * (edges[-1] - edges[0])
        top_right = float(np.max(content[right])) if np.any(right) else 0.0
        ax.set_xlim(edges[0], edges[-1])
        ax.set_ylim(0, max(1.3 * top, top_right / 0.52))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        lines = [r"$H \rightarrow ZZ^* \rightarrow 4\ell$"]
        if lumi_fb is not None:
            lines.insert(0, rf"√s = 13 TeV, {lumi_fb:g} fb$^{{-1}}$")
        if title:
            lines.append(title)
        ax.text(
            0.97,
            0.96,
            "\n".join(lines),
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=13,
            linespacing=1.5,
        )
        ax.legend(loc="upper right", bbox_to_anchor=(0.99, 0.96 - 0.075 * len(lines)), fontsize=12)
        add_generated_caption(fig, generated)
    return fig


def _scales_from_fit(fit: FitResult, signal_par: str, background_par: str) -> tuple[float, float]:
    return (
        fit.value(signal_par) if signal_par in fit.labels else 1.0,
        fit.value(background_par) if background_par in fit.labels else 1.0,
    )


def plot_postfit(
    edges: Any,
    signal: Any,
    background: Any,
    data: Any,
    fit: FitResult,
    *,
    ax: Axes | None = None,
    generated: bool = False,
    lumi_fb: float | None = 10.0,
    signal_par: str = "s_s",
    background_par: str = "s_b",
    xlabel: str = r"$m_{4\ell}$ [GeV]",
    data_label: str | None = None,
) -> matplotlib.figure.Figure:
    """The stack scaled to the best fit of ``fit`` (report figure 2.2b).

    The best-fit values and their errors (Minos where available, else Hesse)
    are written on the plot.
    """

    def describe(par: str) -> str:
        if par not in fit.labels:
            return f"{_param_label(par)} = 1"
        v = fit.value(par)
        if par in fit.minos:
            lo, hi = fit.minos[par]
            return f"{_param_label(par)} = {_fmt_interval(v, (v + lo, v + hi))}"
        return rf"{_param_label(par)} = {v:.2f} $\pm$ {fit.error(par):.2f}"

    s_s, s_b = _scales_from_fit(fit, signal_par, background_par)
    title = f"Post-fit: {describe(signal_par)}, {describe(background_par)}"
    return plot_stacked(
        edges,
        signal,
        background,
        data,
        signal_scale=s_s,
        background_scale=s_b,
        ax=ax,
        title=title,
        generated=generated,
        lumi_fb=lumi_fb,
        xlabel=xlabel,
        data_label=data_label,
    )


def plot_prefit_postfit(
    edges: Any,
    signal: Any,
    background: Any,
    data: Any,
    fit: FitResult,
    *,
    generated: bool = False,
    lumi_fb: float | None = 10.0,
) -> matplotlib.figure.Figure:
    """Pre-fit and post-fit stacks side by side, on a common y range."""
    with style_context():
        fig = matplotlib.figure.Figure(figsize=(16.0, 6.0), layout="constrained")
        ax_pre, ax_post = fig.subplots(1, 2, sharey=True)
    plot_stacked(
        edges,
        signal,
        background,
        data,
        ax=ax_pre,
        title="Pre-fit",
        generated=False,
        lumi_fb=lumi_fb,
    )
    plot_postfit(edges, signal, background, data, fit, ax=ax_post, generated=False, lumi_fb=lumi_fb)
    top = max(ax_pre.get_ylim()[1], ax_post.get_ylim()[1])
    ax_pre.set_ylim(0, top)
    with style_context():
        add_generated_caption(fig, generated)
    return fig


# --------------------------------------------------------------------------- 1D scans


def plot_scan_1d(
    scan: Scan1DResult | Sequence[Scan1DResult],
    *,
    ax: Axes | None = None,
    labels: Sequence[str] | None = None,
    shade: bool = True,
    generated: bool = False,
    ymax: float | None = None,
) -> matplotlib.figure.Figure:
    """Δ(−2lnL) (or Δχ²) curves of one parameter, with the interval shaded.

    Several scans of the same parameter (profile vs conditional likelihood,
    the report's grid χ²) are overlaid; each legend entry carries its best
    fit and interval. The first scan's interval is shaded and a dashed line
    marks each distinct ``level``.

    Args:
        scan: one scan or a sequence of scans of the same parameter.
        ax: axes to draw on; a new figure when None.
        labels: legend labels (default: statistic and kind of each scan).
        shade: shade the interval of the first scan under its curve.
        generated: add the "generated input" caption.
        ymax: upper y limit (default: 4 × the largest level, capped by the curves).

    Returns:
        The figure.
    """
    scans: list[Scan1DResult] = [scan] if isinstance(scan, Scan1DResult) else list(scan)
    if not scans:
        msg = "plot_scan_1d needs at least one scan"
        raise ValueError(msg)
    params = {s.parameter for s in scans}
    if len(params) != 1:
        msg = f"all scans must be of the same parameter, got {sorted(params)}"
        raise ValueError(msg)
    if labels is not None and len(labels) != len(scans):
        msg = f"got {len(labels)} labels for {len(scans)} scans"
        raise ValueError(msg)
    par = scans[0].parameter
    styles = ["-", "--", ":", "-."]
    colors = ["black", "#0072b2", "#d55e00", "#009e73", "#cc79a7"]
    with style_context():
        fig, ax = _new_axes(ax)
        levels = sorted({float(s.level) for s in scans})
        top = ymax if ymax is not None else 4.0 * max(levels)
        for k, s in enumerate(scans):
            x = np.asarray(s.values, dtype=float)
            y = np.asarray(s.delta_twice_nll, dtype=float)
            base = labels[k] if labels is not None else _scan_label(s)
            label = f"{base}: {_fmt_interval(s.bestfit, s.interval)}"
            color = colors[k % len(colors)]
            ax.plot(x, y, styles[k % len(styles)], color=color, label=label, linewidth=2)
        if shade:
            s = scans[0]
            x = np.asarray(s.values, dtype=float)
            y = np.asarray(s.delta_twice_nll, dtype=float)
            lo, hi = s.interval
            lo = lo if np.isfinite(lo) else x[0]
            hi = hi if np.isfinite(hi) else x[-1]
            inside = (x >= lo) & (x <= hi)
            xs = np.concatenate([[lo], x[inside], [hi]])
            ys = np.interp(xs, x, y)
            first = labels[0] if labels is not None else _scan_label(s)
            ax.fill_between(
                xs,
                0,
                ys,
                color="#009e73",
                alpha=0.3,
                linewidth=0,
                label=f"{_level_name(s.level)} interval ({first})",
            )
        for lev in levels:
            ax.axhline(lev, color="0.4", linestyle="--", linewidth=1)
            ax.text(
                0.985,
                lev,
                _level_name(lev),
                transform=ax.get_yaxis_transform(),
                ha="right",
                va="bottom",
                fontsize=11,
                color="0.3",
            )
        xmin = min(float(np.min(s.values)) for s in scans)
        xmax = max(float(np.max(s.values)) for s in scans)
        ax.set_xlim(xmin, xmax)
        ax.set_ylim(0, top * 1.1)
        ax.set_xlabel(_param_label(par))
        ax.set_ylabel(_delta_label([s.statistic for s in scans]))
        # legend above the axes: the steep walls of the curves never run under it
        ax.legend(
            loc="lower left",
            bbox_to_anchor=(0.0, 1.01),
            ncols=2 if len(scans) > 2 else 1,
            fontsize=11,
            borderaxespad=0.0,
            borderpad=0.2,
        )
        add_generated_caption(fig, generated)
    return fig


# --------------------------------------------------------------------------- 2D scans


def _oriented(
    scan: Scan2DResult, horizontal: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, float], tuple[str, str]]:
    """Grid as (xh, yv, z[yv, xh]) with ``horizontal`` on the x axis."""
    px, py = scan.parameters
    z = np.asarray(scan.delta_twice_nll, dtype=float)
    if horizontal == px:
        return (
            np.asarray(scan.x_values, dtype=float),
            np.asarray(scan.y_values, dtype=float),
            z.T,
            (scan.bestfit[0], scan.bestfit[1]),
            (px, py),
        )
    if horizontal == py:
        return (
            np.asarray(scan.y_values, dtype=float),
            np.asarray(scan.x_values, dtype=float),
            z,
            (scan.bestfit[1], scan.bestfit[0]),
            (py, px),
        )
    msg = f"horizontal parameter {horizontal!r} is not one of the scanned parameters {scan.parameters}"
    raise ValueError(msg)


def plot_scan_2d(
    scan: Scan2DResult,
    *,
    ax: Axes | None = None,
    other_contours: Scan2DResult | Sequence[Scan2DResult] = (),
    horizontal: str | None = None,
    label: str | None = None,
    other_labels: Sequence[str] | None = None,
    clip: float = DELTA_CLIP,
    generated: bool = False,
) -> matplotlib.figure.Figure:
    """2D Δ(−2lnL)/Δχ² map with the best fit and the 68.27%/95% contours (report figure 2.2a).

    The map is clipped at ``clip`` so the contour region keeps its contrast.
    Contours of other scans (e.g. the report's grid χ² over the likelihood
    map) are overlaid in other colours. By default ``s_b`` is on the
    horizontal axis and ``s_s`` on the vertical one, as in the report.

    Args:
        scan: the scan drawn as a colour map with its contours.
        ax: axes to draw on; a new figure when None.
        other_contours: further scans of the same two parameters whose
            contours (at their own levels) and best fits are overlaid.
        horizontal: parameter on the horizontal axis (default ``s_b`` if
            scanned, else the scan's first parameter).
        label: legend label of ``scan`` (default from its statistic).
        other_labels: legend labels of ``other_contours``.
        clip: upper limit of the colour scale.
        generated: add the "generated input" caption.

    Returns:
        The figure.
    """
    others: list[Scan2DResult] = (
        [other_contours] if isinstance(other_contours, Scan2DResult) else list(other_contours)
    )
    if other_labels is not None and len(other_labels) != len(others):
        msg = f"got {len(other_labels)} labels for {len(others)} overlaid scans"
        raise ValueError(msg)
    for o in others:
        if set(o.parameters) != set(scan.parameters):
            msg = f"overlaid scan of {o.parameters} does not match {scan.parameters}"
            raise ValueError(msg)
    if horizontal is None:
        horizontal = "s_b" if "s_b" in scan.parameters else scan.parameters[0]
    xh, yv, z, best, (name_h, name_v) = _oriented(scan, horizontal)
    handles: list[Any] = []
    line_styles: list[Any] = ["solid", "dashed"]
    with style_context():
        fig, ax = _new_axes(ax, figsize=(8.0, 6.5))
        mesh = ax.pcolormesh(
            xh,
            yv,
            np.clip(z, 0, clip),
            cmap="viridis",
            vmin=0,
            vmax=clip,
            shading="gouraud",
            rasterized=True,
        )
        cbar = fig.colorbar(mesh, ax=ax, pad=0.02)
        cbar.set_label(
            _delta_label([scan.statistic])
            + (f" (clipped at {clip:g})" if np.nanmax(z) > clip else "")
        )
        levels = sorted(float(v) for v in scan.levels)
        cs = ax.contour(
            xh,
            yv,
            z,
            levels=levels,
            colors="white",
            linestyles=line_styles[: len(levels)],
            linewidths=2,
        )
        ax.clabel(cs, fmt={lev: _level_name(lev) for lev in levels}, fontsize=10, inline=True)
        main_label = label or _scan_label(scan)
        for lev, ls in zip(levels, line_styles, strict=False):
            handles.append(
                matplotlib.lines.Line2D(
                    [],
                    [],
                    color="0.2",
                    linestyle=ls,
                    linewidth=2,
                    label=f"{main_label} {_level_name(lev)}",
                )
            )
        ax.plot(
            *best,
            marker="o",
            color="white",
            markeredgecolor="black",
            markersize=9,
            linestyle="none",
        )
        handles.append(
            matplotlib.lines.Line2D(
                [],
                [],
                marker="o",
                color="white",
                markeredgecolor="black",
                markersize=9,
                linestyle="none",
                label=f"Best fit ({_param_label(name_h)} = {best[0]:.3f}, {_param_label(name_v)} = {best[1]:.2f})",
            )
        )
        other_colors = ["#e69f00", "#cc79a7", "#f0e442"]
        for k, o in enumerate(others):
            oxh, oyv, oz, obest, _ = _oriented(o, horizontal)
            color = other_colors[k % len(other_colors)]
            olabel = other_labels[k] if other_labels is not None else _scan_label(o)
            olevels = sorted(float(v) for v in o.levels)
            ax.contour(
                oxh,
                oyv,
                oz,
                levels=olevels,
                colors=color,
                linestyles=line_styles[: len(olevels)],
                linewidths=2,
            )
            for lev, ls in zip(olevels, line_styles, strict=False):
                handles.append(
                    matplotlib.lines.Line2D(
                        [],
                        [],
                        color=color,
                        linestyle=ls,
                        linewidth=2,
                        label=f"{olabel} {_level_name(lev)}",
                    )
                )
            ax.plot(
                *obest,
                marker="X",
                color=color,
                markeredgecolor="black",
                markersize=10,
                linestyle="none",
            )
            handles.append(
                matplotlib.lines.Line2D(
                    [],
                    [],
                    marker="X",
                    color=color,
                    markeredgecolor="black",
                    markersize=10,
                    linestyle="none",
                    label=f"{olabel} best fit",
                )
            )
            if oxh[0] > xh[0] or oxh[-1] < xh[-1] or oyv[0] > yv[0] or oyv[-1] < yv[-1]:
                # the overlaid scan covers less than the map: show where its contours are cut
                ax.plot(
                    [oxh[0], oxh[-1], oxh[-1], oxh[0], oxh[0]],
                    [oyv[0], oyv[0], oyv[-1], oyv[-1], oyv[0]],
                    color=color,
                    linestyle=":",
                    linewidth=1.5,
                )
                handles.append(
                    matplotlib.lines.Line2D(
                        [],
                        [],
                        color=color,
                        linestyle=":",
                        linewidth=1.5,
                        label=f"{olabel} grid range",
                    )
                )
        ax.set_xlim(xh[0], xh[-1])
        ax.set_ylim(yv[0], yv[-1])
        ax.set_xlabel(_param_label(name_h))
        ax.set_ylabel(_param_label(name_v))
        # legend above the map: it never hides a contour
        ax.legend(
            handles=handles,
            loc="lower left",
            bbox_to_anchor=(0.0, 1.01),
            ncols=2,
            fontsize=10,
            borderaxespad=0.0,
            borderpad=0.2,
        )
        add_generated_caption(fig, generated)
    return fig
