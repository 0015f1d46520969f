"""The seed report's χ² method, its variants, and their vectorized evaluation.

This module starts with the three per-bin statistics, as pure broadcasting
functions over the last axis (bins), shared by the grid scans here and by
the batched toys in :mod:`.toys`:

- Pearson χ² = Σ (n − ν)² / ν (the report's ``calcChiSq``),
- Neyman χ² = Σ (n − ν)² / max(n, 1),
- Baker–Cousins Poisson χ² = 2 Σ [ν − n + n ln(n/ν)] (equal to the Poisson
  likelihood ratio to the saturated model, so Δ of it equals pyhf's Δ(−2lnL)
  on a normfactor-only model).

Zero-prediction rule: a bin with ν ≤ 0 makes Pearson and Baker–Cousins
undefined; they raise :class:`~higgs_pyhf.errors.FitError` naming the bins
instead of returning inf/NaN. Neyman uses max(n, 1) in the denominator, so
bins with n = 0 count (n − ν)² (a documented convention).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import FitError

__all__ = ["neyman_chi2", "pearson_chi2", "poisson_chi2"]


def _check_prediction(predicted: np.ndarray, what: str) -> None:
    bad = predicted <= 0
    if np.any(bad):
        bins = np.unique(np.nonzero(bad)[-1]).tolist()
        msg = (
            f"{what} is undefined for bins with zero or negative prediction (bins {bins[:10]}); "
            "change the binning or the parameter range so that every bin has a positive prediction"
        )
        raise FitError(msg)


def pearson_chi2(observed: Any, predicted: Any) -> np.ndarray:
    """Pearson χ² = Σ_bins (n − ν)²/ν over the last axis, broadcasting the others.

    Raises:
        FitError: if any predicted bin content is ≤ 0.
    """
    n = np.asarray(observed, dtype=float)
    nu = np.asarray(predicted, dtype=float)
    _check_prediction(nu, "Pearson chi2")
    return np.sum((n - nu) ** 2 / nu, axis=-1)


def neyman_chi2(observed: Any, predicted: Any) -> np.ndarray:
    """Neyman χ² = Σ_bins (n − ν)²/max(n, 1) over the last axis."""
    n = np.asarray(observed, dtype=float)
    nu = np.asarray(predicted, dtype=float)
    return np.sum((n - nu) ** 2 / np.maximum(n, 1.0), axis=-1)


def poisson_chi2(observed: Any, predicted: Any) -> np.ndarray:
    """Baker–Cousins Poisson χ² = 2 Σ_bins [ν − n + n ln(n/ν)] over the last axis.

    Terms with n = 0 contribute 2ν. Non-integer n (Gaussian toys, Asimov
    data) are allowed.

    Raises:
        FitError: if any predicted bin content is ≤ 0.
    """
    n = np.asarray(observed, dtype=float)
    nu = np.asarray(predicted, dtype=float)
    _check_prediction(nu, "Poisson (Baker-Cousins) chi2")
    with np.errstate(divide="ignore", invalid="ignore"):
        log_term = np.where(n > 0, n * np.log(np.where(n > 0, n, 1.0) / nu), 0.0)
    return 2.0 * np.sum(nu - n + log_term, axis=-1)
