"""Δ(−2lnL) and Δχ² scans: 1D curves with their intervals, 2D maps with contours.

Drawn from result containers (:class:`~higgs_pyhf.inference.results.Scan1DResult`,
:class:`~higgs_pyhf.inference.results.Scan2DResult`) so they can be redrawn
from saved JSON; the 2D map is the report's figure 2.2a (``s_b``
horizontal, ``s_s`` vertical). The 2D maps are in :mod:`.contours`. A ``note`` (e.g. "the Δχ² ≤ 2.3 region is
cut by the edge of the report's grid") is written on the plot in a framed box.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.figure
import matplotlib.lines
import numpy as np

from ..inference.results import Scan1DResult, Scan2DResult
from ._style import (
    add_data_label,
    add_generated_caption,
    is_generated_label,
    new_figure,
    param_label,
    resolve_data_label,
    style_context,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "DELTA_CLIP",
    "NOTE_COLOR",
    "delta_label",
    "level_name",
    "new_axes",
    "note_handle",
    "outside_legend",
    "plot_scan_1d",
    "scan_header",
    "scan_label",
]

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
_STAT_NAMES = {
    "likelihood": "Poisson likelihood",
    "pearson": r"Pearson $\chi^2$",
    "neyman": r"Neyman $\chi^2$",
    "poisson": r"Baker–Cousins $\chi^2$",
}


def new_axes(
    ax: Axes | None, figsize: tuple[float, float] = (8.0, 6.0)
) -> tuple[matplotlib.figure.Figure, Axes]:
    """``ax`` and its figure, or a new constrained-layout figure with one axes."""
    if ax is not None:
        fig = ax.get_figure()
        assert isinstance(fig, matplotlib.figure.Figure)
        return fig, ax
    fig = new_figure(figsize)
    return fig, fig.add_subplot()


def level_name(level: float, statistic: str = "likelihood") -> str:
    """Confidence level of a usual Δ threshold (1 → 68.27%, 5.99 → 95%), else ``Δ = level``.

    The threshold means that level only for the likelihood (Wilks); for a χ²
    statistic (the report's Pearson χ²) it is named as the report's choice,
    e.g. ``Δχ² = 2.3 (the report's 68% choice)``.
    """
    for k, v in _LEVEL_NAMES.items():
        if abs(k - level) < 0.006:
            if statistic != "likelihood":
                return f"Δχ² = {level:.3g} (the report's {v.replace('.27', '')} choice)"
            return v
    return f"Δ = {level:g}"


def delta_label(statistics: Sequence[str]) -> str:
    """Axis label of Δ for the given statistics (−2ΔlnL, Δχ² or both)."""
    stats_ = set(statistics)
    if stats_ == {"likelihood"}:
        return r"$-2\,\Delta\ln L$"
    if "likelihood" not in stats_:
        return r"$\Delta\chi^2$"
    return r"$-2\,\Delta\ln L$  or  $\Delta\chi^2$"


def scan_label(scan: Scan1DResult | Scan2DResult) -> str:
    """Default legend label of a scan: its statistic and kind."""
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


NOTE_COLOR = "#b00000"


def note_handle(note: str, width: int = 60) -> matplotlib.lines.Line2D:
    """A legend entry for a warning (e.g. a grid-edge cut): a red "!" and the wrapped text."""
    return matplotlib.lines.Line2D(
        [],
        [],
        color=NOTE_COLOR,
        marker="$!$",
        markersize=11,
        linestyle="none",
        label=textwrap.fill(note, width),
    )


def outside_legend(
    ax: Axes, handles: list[Any], *, above: bool = True, ncols: int = 1, fontsize: float = 11
) -> None:
    """The legend outside the axes, above them (or below the axis label): it hides no curve."""
    ax.legend(
        handles=handles,
        loc="lower left" if above else "upper left",
        bbox_to_anchor=(0.0, 1.01) if above else (0.0, -0.13),
        ncols=ncols,
        fontsize=fontsize,
        borderaxespad=0.0,
        borderpad=0.2,
    )


def scan_header(
    fig: matplotlib.figure.Figure,
    created: bool,
    data_label: str | None,
    generated: bool,
    header: dict[str, Any] | None = None,
) -> None:
    """Header of a new figure, or only the generated caption on a caller's figure."""
    label = resolve_data_label(data_label, generated)
    if created:
        add_data_label(fig, label, **{"title": "", **(header or {})})
    else:
        add_generated_caption(fig, is_generated_label(label))


# --------------------------------------------------------------------------- 1D scans


def plot_scan_1d(
    scan: Scan1DResult | Sequence[Scan1DResult],
    *,
    ax: Axes | None = None,
    labels: Sequence[str] | None = None,
    shade: bool = True,
    data_label: str | None = None,
    generated: bool = False,
    ymax: float | None = None,
    note: str | None = None,
    shade_label: str | None = None,
    **header: Any,
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
        data_label: label of the data, written in the header of a new figure
            (and the generated caption if it names generated data).
        generated: shorthand for the generated data label when ``data_label`` is None.
        ymax: upper y limit (default: 4 × the largest level, capped by the curves).
        note: a warning written on the plot (e.g. an interval cut by a grid edge).
        shade_label: what the shaded interval belongs to (default: the first scan's label).
        header: header keywords ``label``, ``energy``, ``lumi_fb``, ``title``
            (:func:`~._style.header_text`).

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
        created = ax is None
        fig, ax = new_axes(ax)
        levels = sorted({float(s.level) for s in scans})
        top = ymax if ymax is not None else 4.0 * max(levels)
        for k, s in enumerate(scans):
            x = np.asarray(s.values, dtype=float)
            y = np.asarray(s.delta_twice_nll, dtype=float)
            base = labels[k] if labels is not None else scan_label(s)
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
            first = shade_label or (labels[0] if labels is not None else scan_label(s))
            ax.fill_between(
                xs,
                0,
                ys,
                color="#009e73",
                alpha=0.3,
                linewidth=0,
                label=f"{level_name(s.level, s.statistic)} interval ({first})",
            )
        stat = scans[0].statistic if len({s.statistic for s in scans}) == 1 else "likelihood"
        for lev in levels:
            ax.axhline(lev, color="0.4", linestyle="--", linewidth=1)
            ax.text(
                0.985,
                lev,
                level_name(lev, stat),
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
        ax.set_xlabel(param_label(par))
        ax.set_ylabel(delta_label([s.statistic for s in scans]))
        # legend above the axes: the steep walls of the curves never run under it
        handles, _ = ax.get_legend_handles_labels()
        if note:
            handles.append(note_handle(note))
        outside_legend(ax, handles)
        scan_header(fig, created, data_label, generated, header)
    return fig
