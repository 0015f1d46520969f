"""Where the report's grids cut an interval or the 2D contour (said in report.md, the JSON and the figures)."""

from __future__ import annotations

import math

import numpy as np

from ..inference.chi2grid import ReportResult, ReportScan1D

__all__ = ["grid_edge_notes"]


def _edges_1d(one: ReportScan1D) -> str:
    sc = one.scan
    vals, delta, lev, par = (
        np.asarray(sc.values),
        np.asarray(sc.delta_twice_nll),
        sc.level,
        sc.parameter,
    )
    i = one.best_index
    msgs = []
    if i in (0, vals.size - 1):
        msgs.append(f"the best grid point is on the grid edge {par} = {vals[i]:g}")
    if delta[: i + 1].max() < lev:
        msgs.append(f"Δχ² stays below {lev:g} down to the grid edge {par} = {vals[0]:g}")
    if delta[i:].max() < lev:
        msgs.append(f"Δχ² stays below {lev:g} up to the grid edge {par} = {vals[-1]:g}")
    roots = [r for r in one.roots if math.isfinite(r)]
    if not roots:
        msgs.append(f"the parabola fitted on the grid never reaches Δχ² = {lev:g}")
    out = [r for r in roots if not vals[0] <= r <= vals[-1]]
    if out:
        where = ", ".join(f"{r:.3g}" for r in out)
        msgs.append(
            f"the Δχ² = {lev:g} crossing ({where}) lies outside the grid [{vals[0]:g}, {vals[-1]:g}]"
        )
    return "; ".join(msgs)


def grid_edge_notes(result: ReportResult) -> dict[str, str]:
    """Where the report's grids cut an interval or the 2D contour.

    Returns:
        Row key (``s_s_1d``, ``s_b_1d``, ``s_s_2d``, ``s_b_2d``) or
        ``contour_2d`` → a sentence, only for the cut ones.
    """
    notes = {"s_s_1d": _edges_1d(result.s_s_1d), "s_b_1d": _edges_1d(result.s_b_1d)}
    two = result.scan_2d
    sc = two.scan
    xs, ys = np.asarray(sc.x_values), np.asarray(sc.y_values)
    lev = sc.levels[0]
    inside = np.asarray(sc.delta_twice_nll) <= lev
    i, j = two.best_index
    for key, line, vals, par in (
        ("s_s_2d", inside[:, j], xs, "s_s"),
        ("s_b_2d", inside[i, :], ys, "s_b"),
    ):
        cut = [f"{par} = {v:g}" for v, hit in ((vals[0], line[0]), (vals[-1], line[-1])) if hit]
        if cut:
            notes[key] = (
                f"the Δχ² ≤ {lev:g} slice reaches the grid edge {' and '.join(cut)}: "
                "the error on that side is truncated"
            )
    sides = [
        f"{name} = {v:g}"
        for name, v, hit in (
            ("s_s", xs[0], inside[0, :].any()),
            ("s_s", xs[-1], inside[-1, :].any()),
            ("s_b", ys[0], inside[:, 0].any()),
            ("s_b", ys[-1], inside[:, -1].any()),
        )
        if hit
    ]
    if sides:
        notes["contour_2d"] = (
            f"the Δχ² = {lev:g} contour is cut by the grid edge at {', '.join(sides)}"
        )
    return {k: v for k, v in notes.items() if v}
