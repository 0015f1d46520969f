"""Markdown helpers of the report: tables and number formats."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["fmt_asym", "fmt_interval", "md_table"]


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table; floats with 4 significant digits, non-finite as —."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "—" if not np.isfinite(v) else f"{v:.4g}"
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def fmt_asym(value: float, lo: float, hi: float, digits: int = 3) -> str:
    """``value +hi −lo`` with signed offsets (lo ≤ 0 ≤ hi)."""
    return f"{value:.{digits}f} +{abs(hi):.{digits}f} −{abs(lo):.{digits}f}"


def fmt_interval(best: float, interval: Sequence[float], digits: int = 3) -> str:
    """``best ∈ [lo, hi]``; a missing edge says it is outside the scanned range."""
    lo, hi = (float(interval[0]), float(interval[1]))
    lo_s = f"{lo:.{digits}f}" if np.isfinite(lo) else "(below range)"
    hi_s = f"{hi:.{digits}f}" if np.isfinite(hi) else "(above range)"
    return f"{best:.{digits}f} ∈ [{lo_s}, {hi_s}]"
