"""The exclusion contour of a signal grid in the plane of two model parameters.

The figure a search puts in its paper: the observed CLs = 0.05 line (solid),
the expected line (dashed) with its ±1σ band (the region between the lines
of the −1σ and +1σ expected CLs), and the tested points, on the plane of
two coordinates of the points (masses, usually). Points whose other
coordinates differ from the most common values are left out (one slice of
the grid; the slice is written in the title). The lines are contours of
log CLs, linearly interpolated on the Delaunay triangulation of the points.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import matplotlib.figure
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch as LegendPatch
from matplotlib.tri import Triangulation

from ._style import new_figure, style_context

__all__ = ["axis_label", "plot_exclusion"]

_LEVEL = 0.05


def axis_label(label: str, *, mass_in_gev: bool) -> str:
    """An axis label: the coordinate's name, with ``[GeV]`` only if it is known to be a mass."""
    return f"{label} [GeV]" if mass_in_gev else label


def _slice(values: np.ndarray, axes: tuple[int, int]) -> tuple[np.ndarray, str]:
    """Rows on the most common values of the other coordinates, and a note naming them."""
    others = [k for k in range(values.shape[1]) if k not in axes]
    if not others:
        return np.ones(values.shape[0], dtype=bool), ""
    keys = [tuple(row[others]) for row in values]
    common, _ = Counter(keys).most_common(1)[0]
    keep = np.array([k == common for k in keys])
    return keep, ", ".join(
        f"coordinate {k + 1} = {v:g}" for k, v in zip(others, common, strict=True)
    )


def plot_exclusion(
    values: Sequence[Sequence[float]],
    cls_observed: Sequence[float],
    cls_expected: Sequence[Sequence[float]],
    *,
    xlabel: str,
    ylabel: str,
    axes: tuple[int, int] = (0, 1),
    slice_names: Sequence[str] = (),
    title: str | None = None,
    ax: Any = None,
) -> matplotlib.figure.Figure:
    """Draw the observed and expected CLs = 0.05 contours with the ±1σ band.

    Args:
        values: (P, D) coordinates of the points.
        cls_observed: (P,) observed CLs.
        cls_expected: (P, 5) expected CLs at −2σ … +2σ.
        xlabel: label of coordinate ``axes[0]``.
        ylabel: label of coordinate ``axes[1]``.
        axes: which two coordinates span the plane.
        slice_names: names of all coordinates (for the slice note).
        title: the figure's title (the slice is appended).
        ax: axes to draw on (default: a new figure).

    Returns:
        The figure.
    """
    v = np.asarray(values, dtype=float)
    obs = np.asarray(cls_observed, dtype=float)
    exp = np.asarray(cls_expected, dtype=float).reshape(-1, 5)
    keep, note = _slice(v, axes)
    if slice_names and note:
        others = [k for k in range(v.shape[1]) if k not in axes]
        common = v[keep][0]
        note = ", ".join(f"{slice_names[k]} = {common[k]:g}" for k in others)
    x, y = v[keep, axes[0]], v[keep, axes[1]]
    obs, exp = obs[keep], exp[keep]
    with style_context():
        fig = new_figure((7.5, 6.0)) if ax is None else ax.figure
        ax = ax if ax is not None else fig.add_subplot()
        tri = Triangulation(x, y)
        log_level = math.log(_LEVEL)
        with np.errstate(divide="ignore"):
            lobs = np.log(np.clip(obs, 1e-300, None))
            lexp = np.log(np.clip(exp, 1e-300, None))
        # ±1σ band: excluded by the −1σ expectation but not by the +1σ one
        band = np.minimum(log_level - lexp[:, 1], lexp[:, 3] - log_level)
        if np.nanmax(band) > 0:
            ax.tricontourf(tri, band, levels=[0.0, np.inf], colors=["#f5d800"], alpha=0.8)
        # the observed excluded region, shaded over the band (translucent: both stay
        # visible, and the shading reaches the observed line everywhere)
        if np.nanmin(lobs) < log_level:
            ax.tricontourf(tri, lobs, levels=[-np.inf, log_level], colors=["#c00000"], alpha=0.18)
        ax.tricontour(tri, lexp[:, 2], levels=[log_level], colors="black", linestyles="--")
        ax.tricontour(
            tri, lobs, levels=[log_level], colors="#c00000", linewidths=2.5, linestyles="solid"
        )
        excluded = obs < _LEVEL
        ax.scatter(x[~excluded], y[~excluded], s=9, c="0.55", marker="o", linewidths=0)
        ax.scatter(x[excluded], y[excluded], s=11, c="#c00000", marker="o", linewidths=0)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        handles = [
            Line2D([], [], color="#c00000", lw=2.5, label="Observed limit (CLs = 0.05)"),
            Line2D([], [], color="black", ls="--", label="Expected limit"),
            LegendPatch(facecolor="#f5d800", alpha=0.8, label=r"Expected $\pm 1\sigma$"),
            LegendPatch(facecolor="#c00000", alpha=0.18, label="Excluded (observed)"),
            Line2D([], [], color="#c00000", marker="o", ls="", ms=4, label="Point excluded"),
            Line2D([], [], color="0.55", marker="o", ls="", ms=4, label="Point not excluded"),
        ]
        ax.legend(handles=handles, loc="upper left", fontsize=10, frameon=False)
        if note:
            note = f"{int(keep.sum())} of {keep.size} points, {note}"
        text = "; ".join(t for t in (title, note) if t)
        if text:
            ax.set_title(text, fontsize=11, loc="left")
        ax.set_ylim(top=ax.get_ylim()[1] * 1.25)  # room for the legend above the points
    return fig
