"""2D Δ(−2lnL) / Δχ² maps with the 68.27%/95% contours (the report's figure 2.2a).

``s_b`` is horizontal and ``s_s`` vertical by default, as in the report.
Contours of other scans (the report's grid χ² over the likelihood map) are
overlaid in other colours; a dotted box can outline the report's grid and
a ``note`` says where a contour is cut by a grid edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.figure
import matplotlib.lines
import numpy as np

from ..inference.results import Scan2DResult
from ._style import param_label, style_context
from .scans import (
    DELTA_CLIP,
    NOTE_COLOR,
    delta_label,
    level_name,
    new_axes,
    note_handle,
    outside_legend,
    scan_header,
    scan_label,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_scan_2d"]


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


def _mark_cut_edges(ax: Axes, xh: np.ndarray, yv: np.ndarray, z: np.ndarray, level: float) -> None:
    """Draw in red the edges of the grid that the Δ ≤ ``level`` region touches (z[v, h])."""
    inside = z <= level
    kw: dict[str, Any] = {
        "color": NOTE_COLOR,
        "linewidth": 4,
        "solid_capstyle": "butt",
        "clip_on": False,
    }
    for hit, xs, ys in (
        (inside[0, :], xh, np.full(xh.size, yv[0])),
        (inside[-1, :], xh, np.full(xh.size, yv[-1])),
        (inside[:, 0], np.full(yv.size, xh[0]), yv),
        (inside[:, -1], np.full(yv.size, xh[-1]), yv),
    ):
        if hit.any():
            idx = np.flatnonzero(hit)
            ax.plot(xs[idx[0] : idx[-1] + 1], ys[idx[0] : idx[-1] + 1], **kw)


def _contour_label(label: str, level: float, statistic: str) -> str:
    """Legend entry of a contour: ``… 68.27%`` (likelihood) or ``…, contour Δχ² = 2.3 (…)``."""
    name = level_name(level, statistic)
    return f"{label} {name}" if statistic == "likelihood" else f"{label}, contour {name}"


def _level_handles(
    levels: Sequence[float], line_styles: Sequence[Any], color: str, label: str, statistic: str
) -> list[matplotlib.lines.Line2D]:
    """Legend entries of a scan's contour lines, one per level in its line style."""
    return [
        matplotlib.lines.Line2D(
            [],
            [],
            color=color,
            linestyle=ls,
            linewidth=2,
            label=_contour_label(label, lev, statistic),
        )
        for lev, ls in zip(levels, line_styles, strict=False)
    ]


def _best_point(ax: Axes, point: Any, label: str, **style: Any) -> matplotlib.lines.Line2D:
    """Mark a best-fit ``point`` (black-edged marker in ``style``); return its legend entry."""
    ax.plot(*point, markeredgecolor="black", linestyle="none", **style)
    return matplotlib.lines.Line2D(
        [], [], markeredgecolor="black", linestyle="none", label=label, **style
    )


def plot_scan_2d(
    scan: Scan2DResult,
    *,
    ax: Axes | None = None,
    other_contours: Scan2DResult | Sequence[Scan2DResult] = (),
    horizontal: str | None = None,
    label: str | None = None,
    other_labels: Sequence[str] | None = None,
    clip: float = DELTA_CLIP,
    data_label: str | None = None,
    generated: bool = False,
    note: str | None = None,
    grid_box: tuple[float, float, float, float] | None = None,
    grid_box_label: str = "report's grid",
    legend: str = "above",
    **header: Any,
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
        data_label: label of the data, written in the header of a new figure.
        generated: shorthand for the generated data label when ``data_label`` is None.
        note: a warning written on the map (e.g. a contour cut by the grid edge).
        grid_box: (s_b low, s_b high, s_s low, s_s high) of a grid to outline
            (dotted), in the plotted orientation (horizontal low/high, vertical low/high).
        grid_box_label: legend entry of ``grid_box``.
        legend: ``above`` the map or ``below`` its axis label.
        header: header keywords ``energy``, ``lumi_fb``, ``title``
            (:func:`~._style.header_text`; ``label`` is the legend label here).

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
        created = ax is None
        fig, ax = new_axes(ax, figsize=(8.0, 7.0))
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
            delta_label([scan.statistic])
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
        short = {lev: level_name(lev, scan.statistic).split(" (")[0] for lev in levels}
        ax.clabel(cs, fmt=short, fontsize=10, inline=True)
        main_label = label or scan_label(scan)
        handles += _level_handles(levels, line_styles, "0.2", main_label, scan.statistic)
        best_label = f"Best fit ({param_label(name_h)} = {best[0]:.3f}, {param_label(name_v)} = {best[1]:.2f})"
        handles.append(_best_point(ax, best, best_label, marker="o", color="white", markersize=9))
        other_colors = ["#e69f00", "#cc79a7", "#f0e442"]
        for k, o in enumerate(others):
            oxh, oyv, oz, obest, _ = _oriented(o, horizontal)
            color = other_colors[k % len(other_colors)]
            olabel = other_labels[k] if other_labels is not None else scan_label(o)
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
            handles += _level_handles(olevels, line_styles, color, olabel, o.statistic)
            handles.append(
                _best_point(ax, obest, f"{olabel} best fit", marker="X", color=color, markersize=10)
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
        if grid_box is not None:
            h0, h1, v0, v1 = grid_box
            ax.plot(
                [h0, h1, h1, h0, h0],
                [v0, v0, v1, v1, v0],
                color="0.85",
                linestyle=":",
                linewidth=1.5,
            )
            handles.append(
                matplotlib.lines.Line2D(
                    [], [], color="0.5", linestyle=":", linewidth=1.5, label=grid_box_label
                )
            )
        ax.set_xlim(xh[0], xh[-1])
        ax.set_ylim(yv[0], yv[-1])
        ax.set_xlabel(param_label(name_h))
        ax.set_ylabel(param_label(name_v))
        if note:
            _mark_cut_edges(ax, xh, yv, z, levels[0])
            handles.append(note_handle(note, 55))
        # legend outside the map (above, or below the axis label): it never hides a contour
        outside_legend(ax, handles, above=legend == "above", ncols=2, fontsize=10)
        scan_header(fig, created, data_label, generated, header)
    return fig
