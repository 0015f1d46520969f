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

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ._guard import register_inputs
from ._io import atomic_path, dumps_json
from .errors import WorkspaceError
from .spec import schema
from .spec.checks import check_structure, check_values
from .spec.json_input import read_json

__all__ = [
    "BACKGROUND",
    "CHANNEL",
    "POI",
    "SIGNAL",
    "check_structure",
    "check_values",
    "engine_model_and_data",
    "load_workspace",
    "model_and_data",
    "provenance_path",
    "save_workspace",
    "validate_spec",
    "validate_workspace",
]

log = logging.getLogger(__name__)

CHANNEL = "hzz4l_m4l"
SIGNAL = "signal"
BACKGROUND = "background"
POI = "s_s"
BKG_NORM = "s_b"


def _pyhf_errors() -> tuple[type[Exception], ...]:
    """The exceptions of pyhf for an invalid specification or model (they share no base class)."""
    import pyhf

    exc = pyhf.exceptions
    return (
        exc.InvalidModel,
        exc.InvalidModifier,
        exc.InvalidInterpCode,
        exc.InvalidNameReuse,
        exc.InvalidPdfData,
        exc.InvalidPdfParameters,
        exc.InvalidSpecification,
        exc.InvalidWorkspaceOperation,
        exc.UnspecifiedPOI,
        exc.Unsupported,
    )


@contextlib.contextmanager
def _refused_by_pyhf(what: str) -> Iterator[None]:
    """Turn pyhf's refusal inside the block into one ``WorkspaceError``: ``{what}: {pyhf's message}``.

    pyhf's own errors (:func:`_pyhf_errors`) keep their message; the plain
    errors it lets through from an invalid specification are named by type.
    """
    try:
        yield
    except _pyhf_errors() as err:
        msg = f"{what}: {err}"
        raise WorkspaceError(msg) from None
    except (ValueError, TypeError, KeyError, IndexError) as err:
        msg = f"{what}: {type(err).__name__}: {err}"
        raise WorkspaceError(msg) from None


def validate_spec(spec: Any, *, source: str = "workspace") -> None:
    """Check ``spec`` against pyhf's schema and the project's checks, without pyhf.

    Raises:
        WorkspaceError: naming the offending entry (``channels[0].samples[1]``).
    """
    try:
        schema.validate(spec, "workspace.json")
    except schema.SchemaError as err:
        where = err.path or "<top level>"
        detail = err.detail.splitlines()[0]
        if len(detail) > 200:
            detail = detail[:200] + "..."
        msg = f"invalid pyhf workspace {source} at {where}: {detail}"
        raise WorkspaceError(msg) from None
    except RecursionError:
        msg = f"invalid pyhf workspace {source}: nested too deeply"
        raise WorkspaceError(msg) from None
    check_structure(spec, source=source)
    check_values(spec, source=source)


def validate_workspace(spec: Any, *, source: str = "workspace") -> Any:
    """Validate ``spec`` once (pyhf's schema, the numbers, the workspace's consistency).

    Returns:
        The ``pyhf.Workspace`` (built without validating again).

    Raises:
        WorkspaceError: naming the offending entry (``channels[0].samples[1]``).
    """
    validate_spec(spec, source=source)
    return _pyhf_workspace(spec, source)


def _pyhf_workspace(spec: dict[str, Any], source: str) -> Any:
    import pyhf

    with _refused_by_pyhf(f"invalid pyhf workspace {source}"):
        return pyhf.Workspace(spec, validate=False)


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
    validate_spec(spec, source=str(p))
    return spec  # type: ignore[no-any-return]


def _probe(model: Any, data: np.ndarray, source: str) -> None:
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
) -> tuple[Any, np.ndarray]:
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
        validate_spec(spec, source=source)
    import pyhf

    ws = _pyhf_workspace(spec, source)
    try:
        with _refused_by_pyhf(f"invalid pyhf model in {source}"):
            model = ws.model(measurement_name=measurement, validate=False)
            data = np.asarray(ws.data(model), dtype=float)
            _probe(model, data, source)
    except pyhf.exceptions.InvalidMeasurement as err:
        msg = f"{source} has no usable measurement {measurement!r}: {err}"
        raise WorkspaceError(msg) from None
    return model, data


def engine_model_and_data(
    spec: dict[str, Any], *, measurement: str | None = None, source: str = "workspace"
) -> tuple[Any, np.ndarray]:
    """The model and observed data of a validated specification, without pyhf where it can.

    The engine's model is read from the JSON directly
    (:func:`~higgs_pyhf.inference.engine.spec_model.spec_model`): a command
    that only fits does not import pyhf. A workspace outside what that reader
    reproduces exactly is built by pyhf (:func:`model_and_data`), which gives
    the same model or pyhf's error. Both return objects with pyhf's ``config``
    interface.

    Args:
        spec: a specification that :func:`validate_spec` accepted.
        measurement: measurement name; the first one by default.
        source: how messages name the specification.

    Returns:
        ``(model, data)`` with data = main bins followed by auxiliary data.
    """
    from .inference.engine.spec_model import NotNative, spec_model

    try:
        return spec_model(spec, measurement=measurement, source=source)
    except NotNative as err:
        log.debug("%s is built by pyhf: %s", source, err)
        return model_and_data(spec, measurement=measurement, validate=False, source=source)
