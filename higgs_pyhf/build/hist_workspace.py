"""A pyhf workspace from histograms: any channels, any samples, the usual modifiers.

:func:`workspace_from_hists` takes ``hist.Hist`` objects (or any histogram
of the UHI protocol: ``values()`` and ``variances()``; plain arrays are
accepted for counts) per channel and sample and writes a schema-valid pyhf
workspace specification (a dict)::

    spec = workspace_from_hists(
        {"SR": {"signal": h_sig, "background": h_bkg}},
        data={"SR": h_data},
        normfactors={"mu": ["signal"]},
        staterror=True,
        poi="mu",
    )

Samples are named in the modifier keywords either by their name (every
channel that has the sample) or as ``"channel/sample"`` (one channel).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import WorkspaceError

__all__ = ["histogram_values", "histogram_variances", "workspace_from_hists"]

#: A (low, high) pair: the normsys factors or the histosys (down, up) histograms.
Pair = tuple[Any, Any]


def histogram_values(h: Any, where: str) -> np.ndarray:
    """The bin contents of a histogram (UHI ``values()``, flow bins excluded) or array, as floats.

    Raises:
        WorkspaceError: if the contents are not a finite 1D sequence of numbers.
    """
    raw = h.values() if callable(getattr(h, "values", None)) else h
    try:
        arr = np.asarray(raw, dtype=float)
    except (TypeError, ValueError):
        msg = f"{where}: expected a histogram (UHI values()) or a sequence of numbers, got {type(h).__name__}"
        raise WorkspaceError(msg) from None
    if arr.ndim != 1 or arr.size == 0:
        msg = f"{where}: expected a 1D histogram with at least one bin, got shape {arr.shape}"
        raise WorkspaceError(msg)
    if not np.all(np.isfinite(arr)):
        msg = f"{where}: bin contents must be finite"
        raise WorkspaceError(msg)
    return arr


def histogram_variances(h: Any, where: str) -> np.ndarray:
    """The variances of a histogram's bins (UHI ``variances()``).

    Raises:
        WorkspaceError: if the histogram records no variances.
    """
    var = h.variances() if callable(getattr(h, "variances", None)) else None
    if var is None:
        msg = f"{where}: staterror needs the histogram's variances (a hist.Hist, Weight storage)"
        raise WorkspaceError(msg)
    arr = np.asarray(var, dtype=float)
    if arr.shape != histogram_values(h, where).shape or not np.all(np.isfinite(arr) & (arr >= 0)):
        msg = f"{where}: variances must be finite, non-negative and one per bin"
        raise WorkspaceError(msg)
    return arr


def _targets(
    key: str, samples: Mapping[str, Mapping[str, Any]], what: str
) -> list[tuple[str, str]]:
    """(channel, sample) pairs named by ``key`` (``sample`` or ``channel/sample``)."""
    channel, sep, sample = key.rpartition("/")
    if sep:
        if channel not in samples or sample not in samples[channel]:
            msg = f"{what}: no sample {sample!r} in channel {channel!r}"
            raise WorkspaceError(msg)
        return [(channel, sample)]
    found = [(c, key) for c in samples if key in samples[c]]
    if not found:
        known = sorted({s for c in samples for s in samples[c]})
        msg = f"{what}: no sample {key!r} in any channel (samples: {known})"
        raise WorkspaceError(msg)
    return found


def _names(selection: bool | Iterable[str] | None, samples: Mapping[str, Any]) -> list[str]:
    if selection is None or selection is False:
        return []
    if selection is True:
        return sorted({s for c in samples for s in samples[c]})
    return list(selection)  # type: ignore[arg-type]


def workspace_from_hists(
    samples: Mapping[str, Mapping[str, Any]],
    *,
    data: Mapping[str, Any],
    poi: str,
    normfactors: Mapping[str, Sequence[str]] | None = None,
    normsys: Mapping[str, Mapping[str, Pair]] | None = None,
    histosys: Mapping[str, Mapping[str, Pair]] | None = None,
    staterror: bool | Sequence[str] = False,
    lumi: float | None = None,
    lumi_samples: Sequence[str] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    inits: Mapping[str, float] | None = None,
    fixed: Mapping[str, float] | Sequence[str] | None = None,
    measurement: str = "measurement",
) -> dict[str, Any]:
    """A pyhf workspace specification from histograms per channel and sample.

    Args:
        samples: channel → sample → histogram of the expected events (nominal).
        data: channel → histogram (or counts) of the observed events.
        poi: the parameter of interest (one of the modifiers).
        normfactors: normfactor name → samples it scales (free, default 1).
        normsys: normsys name → sample → ``(lo, hi)`` factors (e.g. ``(0.9, 1.1)``).
        histosys: histosys name → sample → ``(down, up)`` histograms of the varied sample.
        staterror: True (every sample) or the samples whose bin uncertainties
            (√variances of their histograms, summed per channel as in HistFactory)
            enter ``staterror_<channel>``.
        lumi: relative luminosity uncertainty (e.g. 0.017): a ``lumi``
            modifier with that constraint; None: no luminosity parameter.
        lumi_samples: samples the luminosity scales (default: every sample).
        bounds: parameter → (low, high) bounds in the measurement.
        inits: parameter → initial value in the measurement.
        fixed: parameters held constant: names (at their initial value) or name → value.
        measurement: name of the measurement.

    Returns:
        The workspace specification (``channels``, ``observations``,
        ``measurements``, ``version``), validated against pyhf's schema.

    Raises:
        WorkspaceError: on an unknown sample, mismatched bin counts, missing
            variances, a POI that is no parameter, or a spec pyhf rejects.
    """
    if not samples:
        msg = "workspace_from_hists needs at least one channel"
        raise WorkspaceError(msg)
    missing = sorted(set(samples) - set(data))
    extra = sorted(set(data) - set(samples))
    if missing or extra:
        msg = f"data must have one histogram per channel: missing {missing}, unknown {extra}"
        raise WorkspaceError(msg)
    nominal: dict[str, dict[str, np.ndarray]] = {}
    for ch, by_sample in samples.items():
        if not by_sample:
            msg = f"channel {ch!r} has no samples"
            raise WorkspaceError(msg)
        nominal[ch] = {
            s: histogram_values(h, f"channel {ch!r}, sample {s!r}") for s, h in by_sample.items()
        }
        sizes = {v.size for v in nominal[ch].values()}
        observed = histogram_values(data[ch], f"data of channel {ch!r}")
        if len(sizes) != 1 or observed.size not in sizes:
            msg = f"channel {ch!r}: samples and data have different bin counts ({sorted(sizes)}, data {observed.size})"
            raise WorkspaceError(msg)
    mods: dict[tuple[str, str], list[dict[str, Any]]] = {
        (c, s): [] for c in samples for s in samples[c]
    }
    for name, targets in (normfactors or {}).items():
        for key in targets:
            for cs in _targets(key, samples, f"normfactor {name!r}"):
                mods[cs].append({"name": name, "type": "normfactor", "data": None})
    for name, by_key in (normsys or {}).items():
        for key, (lo, hi) in by_key.items():
            for cs in _targets(key, samples, f"normsys {name!r}"):
                mods[cs].append(
                    {"name": name, "type": "normsys", "data": {"hi": float(hi), "lo": float(lo)}}
                )
    for name, by_key in (histosys or {}).items():
        for key, (down, up) in by_key.items():
            cs_list = _targets(key, samples, f"histosys {name!r}")
            if len(cs_list) > 1:
                msg = f"histosys {name!r}: sample {key!r} is in several channels; name it as 'channel/{key}'"
                raise WorkspaceError(msg)
            ch, s = cs_list[0]
            where = f"histosys {name!r} of {ch}/{s}"
            lo_data = histogram_values(down, where + " (down)")
            hi_data = histogram_values(up, where + " (up)")
            if lo_data.size != nominal[ch][s].size or hi_data.size != nominal[ch][s].size:
                msg = f"{where}: down/up histograms must have {nominal[ch][s].size} bins"
                raise WorkspaceError(msg)
            mods[(ch, s)].append(
                {
                    "name": name,
                    "type": "histosys",
                    "data": {"hi_data": hi_data.tolist(), "lo_data": lo_data.tolist()},
                }
            )
    for key in _names(staterror, samples):
        for ch, s in _targets(key, samples, "staterror"):
            err = np.sqrt(histogram_variances(samples[ch][s], f"staterror of {ch}/{s}"))
            mods[(ch, s)].append(
                {"name": f"staterror_{ch}", "type": "staterror", "data": err.tolist()}
            )
    parameters: dict[str, dict[str, Any]] = {}
    if lumi is not None:
        if not (np.isfinite(lumi) and 0 < lumi < 1):
            msg = f"lumi is a relative uncertainty in (0, 1), got {lumi!r}"
            raise WorkspaceError(msg)
        for key in lumi_samples if lumi_samples is not None else _names(True, samples):
            for cs in _targets(key, samples, "lumi"):
                mods[cs].append({"name": "lumi", "type": "lumi", "data": None})
        width = 5 * float(lumi)
        parameters["lumi"] = {
            "name": "lumi",
            "auxdata": [1.0],
            "sigmas": [float(lumi)],
            "bounds": [[max(0.0, 1 - width), 1 + width]],
            "inits": [1.0],
        }
    known = {m["name"] for ms in mods.values() for m in ms}
    if poi not in known:
        msg = f"the POI {poi!r} is not a parameter of the model (parameters: {sorted(known)})"
        raise WorkspaceError(msg)
    fixed_values = dict(fixed) if isinstance(fixed, Mapping) else dict.fromkeys(fixed or (), None)
    for name in {*(bounds or {}), *(inits or {}), *fixed_values}:
        if name not in known:
            msg = f"measurement: {name!r} is not a parameter of the model (parameters: {sorted(known)})"
            raise WorkspaceError(msg)
        entry = parameters.setdefault(name, {"name": name})
        if bounds and name in bounds:
            lo, hi = bounds[name]
            entry["bounds"] = [[float(lo), float(hi)]]
        if inits and name in inits:
            entry["inits"] = [float(inits[name])]
        if name in fixed_values:
            entry["fixed"] = True
            value = fixed_values[name]
            if value is not None:
                entry["inits"] = [float(value)]
    spec: dict[str, Any] = {
        "channels": [
            {
                "name": ch,
                "samples": [
                    {"name": s, "data": nominal[ch][s].tolist(), "modifiers": mods[(ch, s)]}
                    for s in samples[ch]
                ],
            }
            for ch in samples
        ],
        "observations": [
            {"name": ch, "data": histogram_values(data[ch], f"data of channel {ch!r}").tolist()}
            for ch in samples
        ],
        "measurements": [
            {
                "name": measurement,
                "config": {"poi": poi, "parameters": [parameters[k] for k in sorted(parameters)]},
            }
        ],
        "version": "1.0.0",
    }
    _validate(spec)
    return spec


def _validate(spec: dict[str, Any]) -> None:
    """Check the spec against pyhf's schema and build its model once (domain errors)."""
    from ..workspace import model_and_data

    model_and_data(spec, validate=True)
