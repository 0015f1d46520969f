"""The reproduction table's containers: the report's printed numbers, rows and the table (↔ JSON)."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from ..inference.results import row_by

__all__ = ["CRITICAL_TOLERANCE", "PRINTED", "Reproduction", "ReproductionRow"]

#: key → (quantity, the report's text, its numbers, their decimals).
PRINTED: dict[str, tuple[str, str, tuple[float, ...], tuple[int, ...]]] = {
    "chi2_per_dof_before": ("χ²/dof before the fit (s_s = s_b = 1)", "1.598", (1.598,), (3,)),
    "p_before": ("p-value before the fit", "0.014877", (0.014877,), (6,)),
    "s_s_1d": ("s_s, one-parameter fit (s_b = 1)", "2.01 ± 0.76", (2.01, 0.76), (2, 2)),
    "chi2_per_dof_s_s_1d": ("χ²/dof of the s_s fit", "1.558", (1.558,), (3,)),
    "s_b_1d": ("s_b, one-parameter fit (s_s = 1)", "1.302 ± 0.076", (1.302, 0.076), (3, 3)),
    "chi2_per_dof_s_b_1d": ("χ²/dof of the s_b fit", "1.018", (1.018,), (3,)),
    "s_s_2d": ("s_s, two-parameter fit", "1.39 +1.16 −0.87", (1.39, 1.16, 0.87), (2, 2, 2)),
    "s_b_2d": ("s_b, two-parameter fit", "1.29 +0.12 −0.11", (1.29, 0.12, 0.11), (2, 2, 2)),
    "chi2_per_dof_2d": ("χ²/dof of the two-parameter fit", "1.039", (1.039,), (3,)),
    "p_after": ("p-value after the fit", "0.40642", (0.40642,), (5,)),
    "chi2_after": ("χ² of the data against the fitted model (§2.5)", "33.244", (33.244,), (3,)),
    "critical_value": (
        "critical value d of the 68% region, 2 parameters (§2.6)",
        "≈3.3",
        (3.3,),
        (1,),
    ),
}
#: Tolerance of the critical value's agreement (besides the report's toy spread).
CRITICAL_TOLERANCE = 0.1


class ReproductionRow(NamedTuple):
    """One number of the report: printed, reproduced, and from the likelihood.

    Attributes:
        key: identifier (see :data:`PRINTED`).
        quantity: what the number is.
        printed: the report's text.
        printed_values: its numbers (value, then errors: ± or +up, −down).
        digits: decimals printed for each number.
        report_method: this tool's numbers with the report's method (full precision).
        report_method_text: them as shown in the table.
        agrees: whether ``report_method`` rounds to ``printed_values``
            (None when not computed, e.g. toys skipped).
        likelihood: the Poisson-likelihood numbers (value, then −down, +up
            for intervals).
        likelihood_text: them as shown in the table.
        definition_report: how the report's method defines the number.
        definition_likelihood: how the likelihood column defines it.
        grid_edge: note when the grid cuts the interval or contour ("" if not).
    """

    key: str
    quantity: str
    printed: str
    printed_values: tuple[float, ...]
    digits: tuple[int, ...]
    report_method: tuple[float, ...]
    report_method_text: str
    agrees: bool | None
    likelihood: tuple[float, ...]
    likelihood_text: str
    definition_report: str
    definition_likelihood: str
    grid_edge: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form (NaN as null)."""

        def nums(v: tuple[float, ...]) -> list[float | None]:
            return [float(x) if math.isfinite(x) else None for x in v]

        out = self._asdict()
        out["printed_values"] = nums(self.printed_values)
        out["digits"] = [int(d) for d in self.digits]
        out["report_method"] = nums(self.report_method)
        out["likelihood"] = nums(self.likelihood)
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ReproductionRow:
        """Inverse of :meth:`to_json`."""

        def nums(v: list[float | None]) -> tuple[float, ...]:
            return tuple(math.nan if x is None else float(x) for x in v)

        d = dict(obj)
        for k in ("printed_values", "report_method", "likelihood"):
            d[k] = nums(d[k])
        d["digits"] = tuple(int(x) for x in d["digits"])
        return cls(**d)


class Reproduction(NamedTuple):
    """The reproduction table.

    Attributes:
        rows: one row per number of the report, in the report's order.
        all_agree: every computed row agrees with the report.
        grid_edges: row key → grid-edge note, for the rows where the grid cuts.
        settings: toys, seeds and grids used.
    """

    rows: tuple[ReproductionRow, ...]
    all_agree: bool
    grid_edges: dict[str, str]
    settings: dict[str, Any]

    def row(self, key: str) -> ReproductionRow:
        """The row of ``key``."""
        return row_by(self.rows, "key", key)

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "rows": [r.to_json() for r in self.rows],
            "all_agree": bool(self.all_agree),
            "grid_edges": dict(sorted(self.grid_edges.items())),
            "settings": self.settings,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Reproduction:
        """Inverse of :meth:`to_json`."""
        return cls(
            rows=tuple(ReproductionRow.from_json(r) for r in obj["rows"]),
            all_agree=bool(obj["all_agree"]),
            grid_edges=dict(obj["grid_edges"]),
            settings=dict(obj["settings"]),
        )
