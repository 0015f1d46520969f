"""Shared test fixtures."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats


def _report_like_histograms(seed: int = 20201) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """34 bins 80-250 GeV: Z peak ~25/bin at 91 GeV, ~2-4/bin at 125, ZZ ~6/bin above 180, 8-event H at 125."""
    edges = np.linspace(80.0, 250.0, 35)
    centers = 0.5 * (edges[1:] + edges[:-1])
    background = (
        0.6
        + 25.0 * np.exp(-0.5 * ((centers - 91.2) / 4.0) ** 2)
        + 2.2 * np.exp(-(((centers - 125.0) / 60.0) ** 2))
        + 5.5 / (1.0 + np.exp(-(centers - 185.0) / 6.0))
    )
    signal = 8.0 * np.diff(stats.norm.cdf(edges, 125.0, 2.0))
    rng = np.random.default_rng(seed)
    data = rng.poisson(1.4 * signal + 1.3 * background).astype(float)
    return signal, background, data


@pytest.fixture(scope="session")
def report_histograms() -> Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Factory of report-like (signal, background, data) histograms: ``report_histograms(seed)``.

    A shape with a flatter continuum than ``synthetic.report_like_histograms``
    (the χ² grid tests pin numbers on it).
    """
    return _report_like_histograms
