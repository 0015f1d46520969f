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

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyhf

from ._guard import register_inputs
from ._io import atomic_path, dumps_json
from .errors import WorkspaceError
from .json_input import read_json

if TYPE_CHECKING:
    pass

__all__ = [
    "BACKGROUND",
    "CHANNEL",
    "POI",
    "SIGNAL",
    "check_structure",
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
#: Smallest magnitude of a non-zero number: the likelihood's derivatives
#: divide by up to the cube of a yield, which must stay a normal double
#: (a denormal 1e-310 yield gives inf and NaN there); smaller values are refused, write 0.
MIN_MAGNITUDE = 1e-100
#: Largest main bins × parameters of a workspace that is fitted (see :func:`check_structure`).
MAX_MODEL_CELLS = 4_000_000


def _check_numbers(values: Any, where: str, *, non_negative: bool) -> None:
    try:
        arr = np.asarray(values, dtype=float)
    except (ValueError, TypeError):
        msg = f"{where} is not a list of numbers"
        raise WorkspaceError(msg) from None
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        msg = (
            f"{where} has non-finite values (NaN, inf or beyond ±1e308) in bins {bad.tolist()[:10]}"
        )
        raise WorkspaceError(msg)
    big = np.flatnonzero(np.abs(arr) > MAX_MAGNITUDE)
    if big.size:
        msg = f"{where} has values beyond ±{MAX_MAGNITUDE:g} in bins {big.tolist()[:10]}"
        raise WorkspaceError(msg)
    tiny = np.flatnonzero((arr != 0) & (np.abs(arr) < MIN_MAGNITUDE))
    if tiny.size:
        msg = (
            f"{where} has non-zero values below {MIN_MAGNITUDE:g} in magnitude in bins "
            f"{tiny.tolist()[:10]} (first {arr.flat[tiny[0]]:g}); write 0 instead"
        )
        raise WorkspaceError(msg)
    if non_negative:
        neg = np.flatnonzero(arr < 0)
        if neg.size:
            msg = f"{where} has negative values in bins {neg.tolist()[:10]} (first {arr[neg[0]]:g})"
            raise WorkspaceError(msg)


def _size_limit() -> int:
    text = os.environ.get("HIGGS_PYHF_MAX_MODEL_CELLS", "")
    if not text:
        return MAX_MODEL_CELLS
    try:
        value = int(text)
    except ValueError:
        msg = f"HIGGS_PYHF_MAX_MODEL_CELLS must be a whole number, got {text!r}"
        raise WorkspaceError(msg) from None
    return max(value, 1)


def _count_parameters(spec: dict[str, Any]) -> tuple[int, int]:
    """Main bins and free parameters of a workspace (per-bin modifiers count once per bin)."""
    nbins = {
        ch["name"]: len(ch["samples"][0]["data"]) if ch["samples"] else 0 for ch in spec["channels"]
    }
    params: dict[str, int] = {}
    for ch in spec["channels"]:
        for sample in ch["samples"]:
            for mod in sample["modifiers"]:
                per_bin = mod["type"] in ("staterror", "shapesys", "shapefactor")
                params[mod["name"]] = nbins[ch["name"]] if per_bin else 1
    return sum(nbins.values()), sum(params.values())


def check_structure(spec: dict[str, Any], *, source: str = "workspace") -> None:
    """Refuse what pyhf's schema allows but evaluates surprisingly, and models too large to fit.

    **Duplicates are refused, not interpreted.** pyhf 0.7.6 keeps one of two
    channels, observations or samples of the same name and applies a modifier
    listed twice in one sample (same name and type) once, silently; a reader
    of such a workspace expects something else (the sample or the factor
    twice). So two channels, observations or measurements of one name, two
    samples of one name in a channel, and one modifier (name and type) twice
    in a sample are errors naming them. A copy of a sample under another
    name is a second sample and is added, as pyhf does.

    **Size**: main bins × parameters (per-bin modifiers count one parameter
    per bin) may be at most :data:`MAX_MODEL_CELLS` (environment variable
    ``HIGGS_PYHF_MAX_MODEL_CELLS`` overrides it): the fit's time and memory
    grow with that product (on the 2-core development machine, 1000 bins
    each with its own staterror γ fit in 8 s and 0.7 GB, 2000 in 46 s and
    1.6 GB; 10000 took more than 15 GB and minutes).

    Raises:
        WorkspaceError: naming the duplicated entry, or giving the size and the limit.
    """

    def unique(names: list[str], what: str) -> None:
        seen: set[str] = set()
        for name in names:
            if name in seen:
                msg = f"invalid pyhf workspace {source}: {what} {name!r} appears twice (pyhf would keep only one of them)"
                raise WorkspaceError(msg)
            seen.add(name)

    unique([ch["name"] for ch in spec["channels"]], "channel")
    unique([o["name"] for o in spec["observations"]], "observation of channel")
    unique([m["name"] for m in spec["measurements"]], "measurement")
    for ch in spec["channels"]:
        unique([s["name"] for s in ch["samples"]], f"in channel {ch['name']!r}, sample")
        for sample in ch["samples"]:
            seen: set[tuple[str, str]] = set()
            for mod in sample["modifiers"]:
                key = (mod["name"], mod["type"])
                if key in seen:
                    msg = (
                        f"invalid pyhf workspace {source}: channel {ch['name']!r}, sample "
                        f"{sample['name']!r} lists modifier {mod['name']!r} ({mod['type']}) twice "
                        "(pyhf would apply it once)"
                    )
                    raise WorkspaceError(msg)
                seen.add(key)
    bins, npars = _count_parameters(spec)
    limit = _size_limit()
    if bins * npars > limit:
        msg = (
            f"workspace {source} is too large to fit: {bins:,} bins × {npars:,} parameters = "
            f"{bins * npars:,} exceeds the limit of {limit:,} "
            "(set HIGGS_PYHF_MAX_MODEL_CELLS to raise it)"
        )
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
                        if mod["type"] == "normsys" and values <= 0:
                            # pyhf interpolates log(hi), log(lo): a factor 0 gives NaN
                            msg = f"{where} is {values:g}: a normsys factor must be positive"
                            raise WorkspaceError(msg)
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
    check_structure(spec, source=source)
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
    register_inputs((p, provenance_path(p)))  # no output of this command may replace them
    spec = read_json(p, what="workspace file", error=WorkspaceError)
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
