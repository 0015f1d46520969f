"""Analytic report-like m4l templates and pseudo-data, without ntuples.

:func:`report_like_histograms` is a quick, fully controlled model (like
``pyhf.simplemodels``) for tests, benchmarks and examples that need
histograms but no events. It is independent of the event generator and of
its calibration to the report's templates.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

__all__ = ["report_like_histograms"]


def report_like_histograms(
    *, seed: int, scale: float = 1.0, signal_width_gev: float = 2.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Analytic report-like m4l templates and Poisson pseudo-data, without ntuples.

    34 bins of 5 GeV from 80 to 250 GeV: a background with a Z→4ℓ peak of ~25
    events/bin at 91 GeV, ~3 events/bin near 125 GeV and the ZZ rise to ~6
    events/bin above 180 GeV; an 8-event Higgs signal, Gaussian at 125 GeV.
    Data are Poisson draws from 1.4·signal + 1.3·background. A quick,
    fully controlled model for tests, benchmarks and examples (like
    ``pyhf.simplemodels``); it is generated, not ATLAS data.

    Args:
        seed: seed of the Poisson draw (``numpy.random.default_rng``).
        scale: multiplies signal, background and the mean of the data
            (large values give an almost Gaussian likelihood).
        signal_width_gev: Gaussian width of the Higgs peak.

    Returns:
        ``(signal, background, data)`` per bin.
    """
    edges = np.linspace(80.0, 250.0, 35)
    c = 0.5 * (edges[1:] + edges[:-1])
    background = (
        3.0
        + 22.0 * np.exp(-0.5 * ((c - 91.0) / 4.0) ** 2)
        + 3.0 / (1.0 + np.exp(-(c - 185.0) / 6.0))
    )
    signal = 8.0 * np.diff(ndtr((edges - 125.0) / signal_width_gev))
    mean = scale * (1.4 * signal + 1.3 * background)
    data = np.random.default_rng(seed).poisson(mean).astype(float)
    return scale * signal, scale * background, data
