"""pyhf JSON workspaces: build from histograms, validate, save, load.

The model is the seed report's: one channel of m4l bins with a ``signal``
sample (all H125 samples summed) scaled by the normfactor ``s_s`` and a
``background`` sample (everything else) scaled by ``s_b``. Optional
modifiers: ``staterror`` from the MC sumw² (``mc_stat``) and a ``lumi``
modifier (``lumi_uncertainty``).

pyhf's workspace schema has no metadata slot; provenance (generated input,
luminosity, selection, ...) goes into the measurement name and into a
``<workspace>.provenance.json`` file written next to the workspace.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyhf

from ._io import atomic_path, dumps_json
from .errors import WorkspaceError

if TYPE_CHECKING:
    import hist

    from .configuration import AnalysisConfig

__all__ = [
    "BACKGROUND",
    "CHANNEL",
    "POI",
    "SIGNAL",
    "build_workspace",
    "check_values",
    "load_workspace",
    "model_and_data",
    "provenance_path",
    "save_workspace",
    "validate_workspace",
    "workspace_from_histograms",
]

log = logging.getLogger(__name__)

CHANNEL = "hzz4l_m4l"
SIGNAL = "signal"
BACKGROUND = "background"
POI = "s_s"
BKG_NORM = "s_b"
#: pyhf's exceptions for an invalid specification or model (they share no base class).
_PYHF_ERRORS: tuple[type[Exception], ...] = (
    pyhf.exceptions.InvalidModel,
    pyhf.exceptions.InvalidModifier,
    pyhf.exceptions.InvalidInterpCode,
    pyhf.exceptions.InvalidNameReuse,
    pyhf.exceptions.InvalidPdfData,
    pyhf.exceptions.InvalidPdfParameters,
    pyhf.exceptions.InvalidSpecification,
    pyhf.exceptions.InvalidWorkspaceOperation,
    pyhf.exceptions.UnspecifiedPOI,
    pyhf.exceptions.Unsupported,
)
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
            axis, ``Weight()`` storage (as made by :mod:`higgs_pyhf.histograms`).
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


#: Largest magnitude accepted for any number of a workspace (yields, factors,
#: inits, bounds): beyond it −2 ln L overflows in double precision.
MAX_MAGNITUDE = 1e12


def _check_numbers(values: Any, where: str, *, non_negative: bool) -> None:
    try:
        arr = np.asarray(values, dtype=float)
    except (ValueError, TypeError):
        msg = f"{where} is not a list of numbers"
        raise WorkspaceError(msg) from None
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        msg = f"{where} has non-finite values (NaN/inf) in bins {bad.tolist()[:10]}"
        raise WorkspaceError(msg)
    big = np.flatnonzero(np.abs(arr) > MAX_MAGNITUDE)
    if big.size:
        msg = f"{where} has values beyond ±{MAX_MAGNITUDE:g} in bins {big.tolist()[:10]}"
        raise WorkspaceError(msg)
    if non_negative:
        neg = np.flatnonzero(arr < 0)
        if neg.size:
            msg = f"{where} has negative values in bins {neg.tolist()[:10]} (first {arr[neg[0]]:g})"
            raise WorkspaceError(msg)


def check_values(spec: dict[str, Any], *, source: str = "workspace") -> None:
    """Refuse NaN/inf anywhere in the bin contents, and negative observations or yields.

    Raises:
        WorkspaceError: naming the channel, sample (or modifier) and bins.
    """
    for channel in spec["channels"]:
        for sample in channel["samples"]:
            here = f"{source}: channel {channel['name']!r}, sample {sample['name']!r}"
            _check_numbers(sample["data"], f"{here}, data", non_negative=True)
            for mod in sample["modifiers"]:
                data = mod.get("data")
                if not isinstance(data, dict | list):
                    continue
                parts = data.items() if isinstance(data, dict) else [("data", data)]
                for key, values in parts:
                    where = f"{here}, modifier {mod['name']!r} ({mod['type']}) {key}"
                    if isinstance(values, list):
                        _check_numbers(values, where, non_negative=False)
                    elif isinstance(values, int | float):
                        _check_numbers([values], where, non_negative=False)
    for obs in spec["observations"]:
        _check_numbers(
            obs["data"], f"{source}: observations of channel {obs['name']!r}", non_negative=True
        )
    for meas in spec["measurements"]:
        for par in meas["config"].get("parameters", []):
            where = f"{source}: measurement {meas['name']!r}, parameter {par.get('name')!r}"
            for key in ("inits", "bounds", "auxdata", "sigmas"):
                if key in par:
                    _check_numbers(par[key], f"{where} {key}", non_negative=key == "sigmas")


def validate_workspace(spec: Any, *, source: str = "workspace") -> pyhf.Workspace:
    """Validate ``spec`` once (pyhf's schema, the numbers, the workspace's consistency).

    Returns:
        The ``pyhf.Workspace`` (built without validating again).

    Raises:
        WorkspaceError: naming the offending entry (``channels[0].samples[1]``).
    """
    try:
        pyhf.schema.validate(spec, "workspace.json")
    except pyhf.exceptions.InvalidSpecification as err:
        where = err.path or "<top level>"
        detail = getattr(err.parent, "message", str(err)).splitlines()[0]
        if len(detail) > 200:
            detail = detail[:200] + "..."
        msg = f"invalid pyhf workspace {source} at {where}: {detail}"
        raise WorkspaceError(msg) from None
    except RecursionError:
        msg = f"invalid pyhf workspace {source}: nested too deeply"
        raise WorkspaceError(msg) from None
    check_values(spec, source=source)
    try:
        return pyhf.Workspace(spec, validate=False)
    except _PYHF_ERRORS as err:
        msg = f"invalid pyhf workspace {source}: {err}"
        raise WorkspaceError(msg) from None
    except (ValueError, TypeError, KeyError, IndexError) as err:
        msg = f"invalid pyhf workspace {source}: {type(err).__name__}: {err}"
        raise WorkspaceError(msg) from None


def provenance_path(path: str | os.PathLike[str]) -> Path:
    """Path of the provenance file written next to a workspace file."""
    p = Path(path)
    return p.with_name(p.stem + ".provenance.json")


def save_workspace(
    spec: dict[str, Any],
    path: str | os.PathLike[str],
    *,
    provenance: dict[str, Any] | None = None,
) -> Path:
    """Validate and write a workspace deterministically (sorted keys, indent 4) and atomically.

    Args:
        spec: the workspace specification.
        path: output file.
        provenance: optional metadata, written to :func:`provenance_path`.

    Returns:
        The path written.
    """
    validate_workspace(spec, source=str(path))
    with atomic_path(path) as tmp:
        tmp.write_text(dumps_json(spec), encoding="utf-8")
        if provenance is not None:
            with atomic_path(provenance_path(path)) as ptmp:
                ptmp.write_text(dumps_json(provenance), encoding="utf-8")
    log.info("wrote workspace %s", path)
    return Path(path)


def load_workspace(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a workspace JSON file.

    Raises:
        WorkspaceError: if the file is missing, not JSON, or not a valid workspace.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        msg = f"cannot read workspace file {p}: {err.strerror}"
        raise WorkspaceError(msg) from None
    except UnicodeDecodeError as err:
        msg = f"workspace file {p} is not UTF-8 text (byte {err.start})"
        raise WorkspaceError(msg) from None
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as err:
        msg = f"workspace file {p} is not valid JSON: line {err.lineno}, column {err.colno}: {err.msg}"
        raise WorkspaceError(msg) from None
    except RecursionError:
        msg = f"workspace file {p} is nested too deeply to be a workspace"
        raise WorkspaceError(msg) from None
    validate_workspace(spec, source=str(p))
    return spec  # type: ignore[no-any-return]


def _probe(model: pyhf.pdf.Model, data: np.ndarray, source: str) -> None:
    """Evaluate the model once at its inits: shapes and values pyhf accepted but cannot use."""
    cfg = model.config
    init = np.asarray(cfg.suggested_init(), dtype=float)
    bounds = np.asarray(cfg.suggested_bounds(), dtype=float)
    if init.shape != (cfg.npars,) or bounds.shape != (cfg.npars, 2):
        msg = f"invalid pyhf model in {source}: parameter inits or bounds do not match the {cfg.npars} parameters"
        raise WorkspaceError(msg)
    bad = [
        lab
        for lab, (lo, hi), x in zip(cfg.par_names, bounds, init, strict=True)
        if not lo <= x <= hi
    ]
    if bad:
        msg = f"invalid pyhf model in {source}: inits outside their bounds for {bad[:5]}"
        raise WorkspaceError(msg)
    with np.errstate(all="ignore"):
        value = float(np.asarray(model.logpdf(init, data)).reshape(-1)[0])
    if not np.isfinite(value):
        msg = (
            f"invalid pyhf model in {source}: the likelihood is not finite at the parameters' inits"
        )
        raise WorkspaceError(msg)


def model_and_data(
    spec: dict[str, Any] | str | os.PathLike[str],
    *,
    measurement: str | None = None,
    validate: bool = True,
) -> tuple[pyhf.pdf.Model, np.ndarray]:
    """Build the pyhf model and the observed data (with auxdata) of a workspace.

    Args:
        spec: a workspace specification or the path of a workspace file.
        measurement: measurement name; the first one by default.
        validate: validate a given specification (a file is always validated,
            once); pass False for a spec that :func:`load_workspace` returned.

    Returns:
        ``(model, data)`` with data = main bins followed by auxiliary data.

    Raises:
        WorkspaceError: for an invalid workspace or measurement.
    """
    if not isinstance(spec, dict):
        source = str(spec)
        spec = load_workspace(spec)
        validate = False
    else:
        source = "workspace"
    if validate:
        ws = validate_workspace(spec, source=source)
    else:
        ws = pyhf.Workspace(spec, validate=False)
    try:
        model = ws.model(measurement_name=measurement, validate=False)
        data = np.asarray(ws.data(model), dtype=float)
        _probe(model, data, source)
    except pyhf.exceptions.InvalidMeasurement as err:
        msg = f"{source} has no usable measurement {measurement!r}: {err}"
        raise WorkspaceError(msg) from None
    except _PYHF_ERRORS as err:
        msg = f"invalid pyhf model in {source}: {err}"
        raise WorkspaceError(msg) from None
    except (ValueError, TypeError, KeyError, IndexError) as err:
        msg = f"invalid pyhf model in {source}: {type(err).__name__}: {err}"
        raise WorkspaceError(msg) from None
    return model, data
