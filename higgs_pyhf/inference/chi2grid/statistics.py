"""The per-bin χ² statistics (Pearson, Neyman, Poisson) and the templates of the report's model.

Pure broadcasting functions over the last axis (bins), shared by the grid
scans, the continuous minimizations and the toys. A bin with ν ≤ 0 makes
Pearson and Baker–Cousins undefined: they raise
:class:`~higgs_pyhf.errors.FitError` naming the bins instead of returning
inf/NaN. Neyman uses max(n, 1) in the denominator.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ...errors import FitError, WorkspaceError

log = logging.getLogger(__name__)


#: The two parameters of the report's model, in the order used by the grids.
PARAMETERS = ("s_s", "s_b")


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


#: Statistic name → per-bin-summed function ``f(observed, predicted)``.
STATISTICS: dict[str, Callable[[Any, Any], np.ndarray]] = {
    "pearson": pearson_chi2,
    "neyman": neyman_chi2,
    "poisson": poisson_chi2,
}


def _statistic(name: str) -> Callable[[Any, Any], np.ndarray]:
    try:
        return STATISTICS[name]
    except KeyError:
        msg = f"unknown statistic {name!r}; expected one of {sorted(STATISTICS)}"
        raise FitError(msg) from None


# --------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------


def templates_from_workspace(
    spec: dict[str, Any] | str | os.PathLike[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signal, background and observed bin contents of the report's model.

    The report's method only applies to one channel with a ``signal`` sample
    scaled by the normfactor ``s_s`` and a ``background`` sample scaled by
    ``s_b`` and no other modifier (then ν = s_s·S + s_b·B exactly).

    Args:
        spec: a workspace specification or the path of a workspace file.

    Returns:
        ``(signal, background, data)`` as float arrays of equal length.

    Raises:
        WorkspaceError: if the workspace is not that two-normfactor model.
    """
    if not isinstance(spec, dict):
        from ...workspace import load_workspace

        spec = load_workspace(spec)
    expected = "the two-normfactor model (one channel; samples 'signal' with only normfactor 's_s' and 'background' with only normfactor 's_b')"
    channels = spec.get("channels", [])
    if len(channels) != 1:
        msg = (
            f"the report's chi2 method needs {expected}; the workspace has {len(channels)} channels"
        )
        raise WorkspaceError(msg)
    channel = channels[0]
    samples = {s.get("name"): s for s in channel.get("samples", [])}
    if sorted(samples) != ["background", "signal"]:
        msg = f"the report's chi2 method needs {expected}; channel {channel.get('name')!r} has samples {sorted(samples)}"
        raise WorkspaceError(msg)
    for sample, norm in (("signal", "s_s"), ("background", "s_b")):
        mods = [(m.get("type"), m.get("name")) for m in samples[sample].get("modifiers", [])]
        if mods != [("normfactor", norm)]:
            msg = (
                f"the report's chi2 method needs {expected}; sample {sample!r} has modifiers "
                f"{[f'{t}:{n}' for t, n in mods]}, expected only normfactor:{norm}"
            )
            raise WorkspaceError(msg)
    obs = [o for o in spec.get("observations", []) if o.get("name") == channel.get("name")]
    if len(obs) != 1:
        msg = f"the workspace has no (or several) observations for channel {channel.get('name')!r}"
        raise WorkspaceError(msg)
    signal = np.asarray(samples["signal"]["data"], dtype=float)
    background = np.asarray(samples["background"]["data"], dtype=float)
    data = np.asarray(obs[0]["data"], dtype=float)
    if not signal.shape == background.shape == data.shape or signal.ndim != 1:
        msg = f"signal, background and data have different shapes {signal.shape}, {background.shape}, {data.shape}"
        raise WorkspaceError(msg)
    return signal, background, data


def _templates(
    signal: Any, background: Any, data: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sig = np.asarray(signal, dtype=float)
    bkg = np.asarray(background, dtype=float)
    obs = np.asarray(data, dtype=float)
    if sig.ndim != 1 or not sig.shape == bkg.shape == obs.shape or sig.size == 0:
        msg = f"signal, background and data must be 1D arrays of equal length, got {sig.shape}, {bkg.shape}, {obs.shape}"
        raise FitError(msg)
    return sig, bkg, obs
