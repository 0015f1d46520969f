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
    pass

__all__ = [
    "BACKGROUND",
    "CHANNEL",
    "POI",
    "SIGNAL",
    "check_values",
    "load_workspace",
    "model_and_data",
    "provenance_path",
    "save_workspace",
    "validate_workspace",
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
    source: str = "workspace",
) -> tuple[pyhf.pdf.Model, np.ndarray]:
    """Build the pyhf model and the observed data (with auxdata) of a workspace.

    Args:
        spec: a workspace specification or the path of a workspace file.
        measurement: measurement name; the first one by default.
        validate: validate a given specification (a file is always validated,
            once); pass False for a spec that :func:`load_workspace` returned.
        source: how messages name a given specification.

    Returns:
        ``(model, data)`` with data = main bins followed by auxiliary data.

    Raises:
        WorkspaceError: for an invalid workspace or measurement.
    """
    if not isinstance(spec, dict):
        source = str(spec)
        spec = load_workspace(spec)
        validate = False
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
