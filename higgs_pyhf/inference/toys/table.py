"""The report's ingredients one at a time: which one moves the critical value from 2.30 to 3.3.

:func:`coverage_table` runs :func:`~.coverage.coverage_toys` for combinations
of the report's choices (Gaussian vs Poisson sampling, Pearson vs Neyman vs
likelihood statistic, grid vs continuous minimization) on the same seed, and
explains from the numbers which single switch restores the χ² value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple, Unpack

import numpy as np

from ..._io import jsonable
from ..._summary import markdown_repr, result_dict, short_repr
from .coverage import REPORT_GRID, coverage_toys
from .fits import fit_data, toy_model
from .runner import RunOptions

__all__ = ["TABLE_ROWS", "CoverageTableResult", "coverage_table"]

#: (label, sampling, statistic, minimization, negative) rows of :func:`coverage_table`.
TABLE_ROWS: tuple[tuple[str, str, str, str, str], ...] = (
    ("report (gaussian, pearson, grid)", "gaussian", "pearson", "grid", "keep"),
    ("poisson sampling", "poisson", "pearson", "grid", "keep"),
    ("neyman statistic", "gaussian", "neyman", "grid", "keep"),
    ("likelihood statistic (negatives clipped)", "gaussian", "likelihood", "grid", "clip"),
    ("continuous minimization", "gaussian", "pearson", "continuous", "keep"),
    ("poisson + likelihood + grid", "poisson", "likelihood", "grid", "keep"),
    ("textbook (poisson, likelihood, continuous)", "poisson", "likelihood", "continuous", "keep"),
)


class CoverageTableResult(NamedTuple):
    """Critical values for combinations of the report's ingredients, on the same seed.

    Attributes:
        rows: one dict per combination (label, sampling, statistic,
            minimization, negative, critical_value, critical_value_band,
            coverage_at_expected, coverage_at_expected_error, n_failed).
        truth: generating parameters (before snapping).
        expected_critical_value: χ²(ndof) quantile (2.30).
        settings: seed, ntoys, grid.
        note: which ingredient moves the critical value, with the numbers.
    """

    rows: list[dict[str, Any]]
    truth: dict[str, float]
    expected_critical_value: float
    settings: dict[str, Any]
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """What the command line prints for this result (its JSON, read back)."""
        return result_dict(self)

    def __repr__(self) -> str:
        return short_repr(self)

    def _repr_markdown_(self) -> str:
        return markdown_repr(self)

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return jsonable(self._asdict())  # type: ignore[no-any-return]

    def to_markdown(self) -> str:
        """The table as Markdown, followed by the note."""
        lines = [
            "| combination | sampling | statistic | minimization | critical value (68.27%) | band | f(2.30) |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            lines.append(
                f"| {r['label']} | {r['sampling']} | {r['statistic']} | {r['minimization']} | "
                f"{r['critical_value']:.3f} | [{r['critical_value_band'][0]:.3f}, {r['critical_value_band'][1]:.3f}] | "
                f"{r['coverage_at_expected']:.4f} ± {r['coverage_at_expected_error']:.4f} |"
            )
        return "\n".join(lines) + "\n\n" + self.note + "\n"


def _table_note(rows: list[dict[str, Any]], expected: float) -> str:
    """Explain, from the rows, which single ingredient moves the report's critical value."""
    if not rows:
        return ""
    ref = rows[0]
    parts = [
        f"{ref['label']}: d68 = {ref['critical_value']:.2f} (chi2 expectation {expected:.2f})."
    ]
    shifts = []
    for r in rows[1:]:
        changed = [k for k in ("sampling", "statistic", "minimization") if r[k] != ref[k]]
        if len(changed) == 1:
            k = changed[0]
            shift = r["critical_value"] - ref["critical_value"]
            shifts.append((abs(shift), k, r))
            parts.append(f"{k} -> {r[k]}: d68 = {r['critical_value']:.2f} ({shift:+.2f}).")
    if shifts:
        _, k, r = min(shifts, key=lambda x: abs(x[2]["critical_value"] - expected))
        others = sorted({kk for _, kk, _ in shifts if kk != k})
        small = [x for x in shifts if x[1] != k]
        tail = (
            f"; switching the {'/'.join(others)} moves it by at most {max(x[0] for x in small):.2f}"
            if small
            else ""
        )
        parts.append(
            f"The single switch that restores the chi2 value is the {k} ({ref[k]} -> {r[k]}: "
            f"{r['critical_value']:.2f}){tail}."
        )
    bias = ref.get("bestfit_bias") or {}
    std = ref.get("bestfit_std") or {}
    if bias and std:
        desc = ", ".join(
            f"{n}: {bias[n]:+.3f} ({bias[n] / std[n]:+.2f} sigma)" for n in bias if std.get(n)
        )
        parts.append(
            f"Mean best fit - truth with the {ref['statistic']} statistic: {desc}; a minimum biased away from "
            "the truth inflates Delta at the truth. Pearson's chi2 with nu in the denominator is minimized on "
            "average at nu ~ sqrt(nu_true^2 + nu_true) ~ nu_true + 1/2 per bin, a large bias at a few events per bin."
        )
    return " ".join(parts)


def coverage_table(
    model: Any,
    data: Any,
    *,
    ntoys: int = 10_000,
    seed: int = 0,
    rows: Sequence[tuple[str, str, str, str, str]] = TABLE_ROWS,
    truth: dict[str, float] | None = None,
    grid: dict[str, tuple[float, float, int]] | None = None,
    **run: Unpack[RunOptions],
) -> CoverageTableResult:
    """Run :func:`coverage_toys` for each ingredient combination on the same seed.

    Args:
        model: normfactor-only pyhf model (grid rows need it).
        data: observed data; the default truth is its likelihood best fit.
        ntoys: toys per combination.
        seed: the one seed of every combination.
        rows: (label, sampling, statistic, minimization, negative) tuples.
        truth: generating parameters (default: best fit).
        grid: grid ranges (default :data:`REPORT_GRID`).
        run: how the toys are run (:class:`~.runner.RunOptions`: workers, pool, …).

    Returns:
        The :class:`CoverageTableResult`.
    """
    tm = toy_model(model)
    if truth is None:
        best, _ = fit_data(tm, np.asarray(data, dtype=float), "likelihood")
        truth = {n: float(best[tm.position(n)]) for n in tm.normfactors}
    out = []
    expected = math.nan
    for label, sampling, statistic, minimization, negative in rows:
        r = coverage_toys(
            tm,
            data,
            ntoys=ntoys,
            seed=seed,
            sampling=sampling,
            statistic=statistic,
            minimization=minimization,
            negative=negative,
            truth=truth,
            grid=grid,
            **run,
        )
        expected = r.expected_critical_value
        out.append(
            {
                "label": label,
                "sampling": sampling,
                "statistic": statistic,
                "minimization": minimization,
                "negative": negative,
                "truth": {n: r.truth[n] for n in r.parameters},
                "critical_value": r.critical_value,
                "critical_value_band": list(r.critical_value_band),
                "coverage_at_expected": r.coverage_at_expected,
                "coverage_at_expected_error": r.coverage_at_expected_error,
                "n_failed": r.n_failed,
                "bestfit_bias": r.bestfit_bias,
                "bestfit_std": r.bestfit_std,
            }
        )
    return CoverageTableResult(
        rows=out,
        truth={k: float(v) for k, v in truth.items()},
        expected_critical_value=expected,
        note=_table_note(out, expected),
        settings={
            "ntoys": ntoys,
            "seed": seed,
            "grid": {k: list(v) for k, v in (grid or REPORT_GRID).items()},
        },
    )
