"""Uncertainty bands of a prediction and the y range of ratio panels.

- :data:`BAND`: the hatched style of every uncertainty band;
- :func:`postfit_band`: ±1σ per bin of s_s·S + s_b·B from a fit's covariance;
- :func:`ratio_limits`: a data/prediction range that holds every bar and band.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..inference.results import FitResult

__all__ = ["BAND", "postfit_band", "ratio_limits"]

#: The hatched uncertainty band of a prediction (as the yields figures draw it).
BAND: dict[str, Any] = {
    "fill": True,
    "hatch": "////",
    "facecolor": "none",
    "edgecolor": "0.25",
    "linewidth": 0,
}


def ratio_limits(*arrays: Any) -> tuple[float, float]:
    """A y range of a ratio panel that holds every finite value given (bars, bands) and 1.

    Padded by 10% of the span, at least 0.5–1.5, never below 0.
    """
    vals = np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in arrays] + [np.ones(1)])
    vals = vals[np.isfinite(vals)]
    lo, hi = float(np.min(vals)), float(np.max(vals))
    pad = 0.1 * (hi - lo)
    return max(0.0, min(0.5, lo - pad)), max(1.5, hi + pad)


def postfit_band(
    signal: Any,
    background: Any,
    fit: FitResult,
    parameters: tuple[str, str] = ("s_s", "s_b"),
) -> np.ndarray:
    """±1σ of s_s·S + s_b·B per bin from the fit's Hesse errors and correlation.

    σ² = S² σ_s² + B² σ_b² + 2 S B ρ σ_s σ_b; a parameter not in the fit (or
    fixed) contributes nothing.
    """
    templates = (np.asarray(signal, dtype=float), np.asarray(background, dtype=float))
    rows = [
        (t, fit.labels.index(par))
        for t, par in zip(templates, parameters, strict=True)
        if par in fit.labels
    ]
    var = np.zeros_like(templates[0])
    for ta, a in rows:
        for tb, b in rows:
            cov = fit.uncertainty[a] * fit.uncertainty[b] * fit.correlation[a, b]
            var = var + ta * tb * cov
    return np.sqrt(np.maximum(var, 0.0))
