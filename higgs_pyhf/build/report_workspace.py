"""The seed report's model as a pyhf workspace: ``signal`` × ``s_s``, ``background`` × ``s_b``.

One channel of m4l bins with a ``signal`` sample (all H125 samples summed)
scaled by the normfactor ``s_s`` and a ``background`` sample (everything
else) scaled by ``s_b``; optional ``staterror`` from the MC sumw² and a
``lumi`` modifier. Built from arrays (:func:`build_workspace`) or from the
per-sample histograms (:func:`workspace_from_histograms`); validated by
:func:`higgs_pyhf.workspace.validate_workspace`. Models with configured
systematics and channels are :mod:`higgs_pyhf.build.detailed_workspace`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import WorkspaceError
from ..workspace import BACKGROUND, BKG_NORM, CHANNEL, POI, SIGNAL, validate_workspace

if TYPE_CHECKING:
    import hist

    from .config import AnalysisConfig

__all__ = ["S_B_BOUNDS", "S_S_BOUNDS", "build_workspace", "workspace_from_histograms"]

#: Bounds of the normfactors. s_s >= 0 keeps every bin prediction non-negative
#: (a negative signal could drive bins below zero and the Poisson NLL to NaN).
S_S_BOUNDS = (0.0, 10.0)
S_B_BOUNDS = (0.0, 5.0)


def _as_bins(name: str, values: Any, nbins: int | None = None) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        msg = f"{name} must be a non-empty 1D array of bin contents, got shape {arr.shape}"
        raise WorkspaceError(msg)
    if nbins is not None and arr.size != nbins:
        msg = f"{name} has {arr.size} bins, expected {nbins}"
        raise WorkspaceError(msg)
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        msg = f"{name} has non-finite contents (NaN/inf) in bins {bad.tolist()}"
        raise WorkspaceError(msg)
    return arr


def build_workspace(
    signal: Any,
    background: Any,
    data: Any,
    *,
    signal_sumw2: Any = None,
    background_sumw2: Any = None,
    mc_stat: bool = False,
    lumi_uncertainty: float | None = None,
    measurement_name: str = "hzz4l",
    channel_name: str = CHANNEL,
) -> dict[str, Any]:
    """Build the two-normfactor pyhf workspace of the seed report.

    Args:
        signal: expected Higgs signal per bin (events).
        background: expected background per bin (events).
        data: observed counts per bin.
        signal_sumw2: sum of squared MC weights of the signal per bin
            (needed for ``mc_stat``).
        background_sumw2: same for the background.
        mc_stat: add a ``staterror`` modifier (Barlow–Beeston-lite) to both
            samples, with absolute uncertainties sqrt(sumw2).
        lumi_uncertainty: relative luminosity uncertainty (e.g. 0.017); adds a
            ``lumi`` modifier to both samples.
        measurement_name: name of the single measurement.
        channel_name: name of the single channel.

    Returns:
        The workspace specification (a JSON-serialisable dict), schema-valid.

    Raises:
        WorkspaceError: on malformed inputs or bins with zero total prediction.
    """
    sig = _as_bins("signal", signal)
    nb = sig.size
    bkg = _as_bins("background", background, nb)
    obs = _as_bins("data", data, nb)
    if np.any(sig < 0) or np.any(bkg < 0):
        msg = "signal and background predictions must be non-negative in every bin"
        raise WorkspaceError(msg)
    if np.any(obs < 0):
        msg = "observed counts must be non-negative"
        raise WorkspaceError(msg)
    empty = np.flatnonzero(sig + bkg <= 0)
    if empty.size:
        msg = (
            f"bins {empty.tolist()} of channel {channel_name!r} have zero total prediction; "
            "the Poisson likelihood is undefined there: merge or drop those bins (change the binning)"
        )
        raise WorkspaceError(msg)

    def modifiers(norm: str, sumw2: Any, what: str) -> list[dict[str, Any]]:
        mods: list[dict[str, Any]] = [{"name": norm, "type": "normfactor", "data": None}]
        if mc_stat:
            if sumw2 is None:
                msg = f"mc_stat needs the sum of squared weights of the {what} sample"
                raise WorkspaceError(msg)
            err = np.sqrt(_as_bins(f"{what} sumw2", sumw2, nb))
            mods.append(
                {"name": f"staterror_{channel_name}", "type": "staterror", "data": err.tolist()}
            )
        if lumi_uncertainty is not None:
            mods.append({"name": "lumi", "type": "lumi", "data": None})
        return mods

    parameters: list[dict[str, Any]] = [
        {"name": POI, "inits": [1.0], "bounds": [list(S_S_BOUNDS)]},
        {"name": BKG_NORM, "inits": [1.0], "bounds": [list(S_B_BOUNDS)]},
    ]
    if lumi_uncertainty is not None:
        if not 0 < lumi_uncertainty < 1:
            msg = f"lumi uncertainty must be a relative value in (0, 1), got {lumi_uncertainty}"
            raise WorkspaceError(msg)
        parameters.append(
            {
                "name": "lumi",
                "auxdata": [1.0],
                "sigmas": [float(lumi_uncertainty)],
                "inits": [1.0],
                "bounds": [[max(0.0, 1 - 5 * lumi_uncertainty), 1 + 5 * lumi_uncertainty]],
            }
        )
    spec: dict[str, Any] = {
        "channels": [
            {
                "name": channel_name,
                "samples": [
                    {
                        "name": SIGNAL,
                        "data": sig.tolist(),
                        "modifiers": modifiers(POI, signal_sumw2, SIGNAL),
                    },
                    {
                        "name": BACKGROUND,
                        "data": bkg.tolist(),
                        "modifiers": modifiers(BKG_NORM, background_sumw2, BACKGROUND),
                    },
                ],
            }
        ],
        "observations": [{"name": channel_name, "data": obs.tolist()}],
        "measurements": [
            {"name": measurement_name, "config": {"poi": POI, "parameters": parameters}}
        ],
        "version": "1.0.0",
    }
    validate_workspace(spec)
    return spec


def workspace_from_histograms(
    hists: hist.Hist,
    config: AnalysisConfig,
    *,
    mc_stat: bool = False,
    lumi_uncertainty: float | None = None,
    measurement_name: str = "hzz4l",
) -> dict[str, Any]:
    """Build the workspace from the per-sample m4l histograms.

    Args:
        hists: histogram with a ``sample`` category axis and the observable
            axis, ``Weight()`` storage (as made by :mod:`higgs_pyhf.build.histograms`).
        config: the configuration that says which samples are signal,
            background and data.
        mc_stat: add ``staterror`` modifiers from the histograms' sumw².
        lumi_uncertainty: relative luminosity uncertainty, or None.
        measurement_name: name of the measurement (carries provenance).

    Returns:
        The workspace specification.
    """
    categories = set(hists.axes["sample"])

    def total(kind: str) -> tuple[np.ndarray, np.ndarray]:
        names = [s.name for s in config.samples if s.kind == kind]
        missing = [n for n in names if n not in categories]
        if missing:
            msg = f"histograms lack the {kind} samples {missing}"
            raise WorkspaceError(msg)
        vals = np.zeros(len(config.edges) - 1)
        var = np.zeros_like(vals)
        for n in names:
            h: Any = hists[{"sample": n}]
            vals += h.values()
            v = h.variances()
            var += v if v is not None else h.values()
        return vals, var

    sig, sig_w2 = total("signal")
    bkg, bkg_w2 = total("background")
    obs, _ = total("data")
    return build_workspace(
        sig,
        bkg,
        obs,
        signal_sumw2=sig_w2,
        background_sumw2=bkg_w2,
        mc_stat=mc_stat,
        lumi_uncertainty=lumi_uncertainty,
        measurement_name=measurement_name,
    )
