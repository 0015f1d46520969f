"""The coverage-table figure draws each combination's critical value and band, and Wilks' value."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import stats

from higgs_pyhf.inference.toys import CoverageTableResult
from higgs_pyhf.plotting.toys import plot_coverage_table


def _result() -> CoverageTableResult:
    crit = [3.4, 2.35, 11.2]
    rows = [
        {
            "label": f"row {k}",
            "sampling": "poisson",
            "statistic": "likelihood",
            "minimization": "continuous",
            "negative": "keep",
            "critical_value": c,
            "critical_value_band": [c - 0.05, c + 0.07],
            "coverage_at_expected": 0.68,
            "coverage_at_expected_error": 0.005,
            "n_failed": 0,
        }
        for k, c in enumerate(crit)
    ]
    wilks = float(stats.chi2.ppf(stats.chi2.cdf(1.0, 1), 2))
    return CoverageTableResult(rows, {"mu": 1.0}, wilks, {"ntoys": 1000, "seed": 0})


def test_points_bands_and_wilks_line():
    res = _result()
    fig = plot_coverage_table(res, reference=(3.3, "the report: ≈ 3.3"))
    ax = fig.axes[0]
    # the points, top to bottom in table order, at the critical values
    line = ax.lines[0]
    x, y = line.get_xdata(), line.get_ydata()
    np.testing.assert_allclose(x, [3.4, 2.35, 11.2])
    assert list(y) == [2, 1, 0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["row 0", "row 1", "row 2"]
    # the band of each point: its error bar spans [lo, hi]
    segments = ax.collections[0].get_segments()
    np.testing.assert_allclose(
        [s[:, 0] for s in segments], [[3.35, 3.47], [2.30, 2.42], [11.15, 11.27]]
    )
    # Wilks' 2.30 and the reference are vertical lines, named in the legend
    verticals = sorted(
        float(v.get_xdata()[0])
        for v in ax.lines
        if len(v.get_xdata()) == 2 and v.get_xdata()[0] == v.get_xdata()[1]
    )
    assert verticals == pytest.approx([2.2957, 3.3], abs=1e-3)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Wilks: χ² quantile 2.30" in legend
    assert "the report: ≈ 3.3" in legend
    assert ax.get_xlim()[1] > 11.27
    plt.close(fig)
