"""The report's boundary: read a workspace and its provenance once, hand arrays and labels down.

:func:`read_inputs` is the only place of the report that opens files. It
returns a :class:`ReportInputs` with the spec, the pyhf model and data, the
signal/background templates and observed counts, the bin edges, the
luminosity and the data label that every figure and table carries:

- the provenance's ``data_label`` when it records one (``ATLAS Open Data``
  or ``Generated (not ATLAS data)``, as ``build-workspace`` writes them);
- else its ``generated`` flag (true → the generated label, false → the real one);
- else, without a provenance file, a measurement name containing
  "generated" (the name ``build-workspace`` gives generated workspaces) →
  the generated label; otherwise ``Data (origin not recorded)``.

Bin edges: ``provenance["config"]["edges"]``, else ``provenance["edges"]``,
else the bin index 0..nbins (``edges_known`` False).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .._guard import register_input
from ..build.config import label_problem
from ..errors import WorkspaceError
from ..plotting import GENERATED_DATA_LABEL, REAL_DATA_LABEL, UNKNOWN_DATA_LABEL
from ..plotting import is_generated_label as _is_generated_label
from ..spec.json_input import read_json
from ..workspace import load_workspace, model_and_data, provenance_path

__all__ = [
    "ReportInputs",
    "data_label_from_provenance",
    "edges_from_provenance",
    "read_inputs",
    "read_provenance",
    "stack_templates",
]

log = logging.getLogger(__name__)


class ReportInputs(NamedTuple):
    """Everything the report needs from the workspace file and its provenance.

    Attributes:
        workspace: the workspace path as given.
        spec: the workspace specification.
        model: the pyhf model.
        data: observed main bins followed by the auxiliary data.
        signal: nominal Higgs signal per bin (events at ``s_s`` = 1).
        background: nominal background per bin (events at ``s_b`` = 1).
        observed: observed counts per bin.
        edges: bin edges in GeV (bin indices when ``edges_known`` is False).
        edges_known: whether ``edges`` are recorded edges.
        lumi_fb: integrated luminosity in fb⁻¹ (None when not recorded).
        generated: True/False as recorded, None when not recorded.
        data_label: the label of the data on every figure and table.
        xlabel: axis label of the observable.
        provenance: the provenance dict (``{}`` without a provenance file).
        header: figure header keywords given by the caller (``label``, ``energy``, ``title``).
        patches: the patches applied to the workspace file (names as given).
    """

    workspace: str
    spec: dict[str, Any]
    model: Any
    data: np.ndarray
    signal: np.ndarray
    background: np.ndarray
    observed: np.ndarray
    edges: np.ndarray
    edges_known: bool
    lumi_fb: float | None
    generated: bool | None
    data_label: str
    xlabel: str
    provenance: dict[str, Any]
    header: dict[str, Any]
    patches: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The workspace's file name, with the names of the patches applied to it."""
        return " + ".join(Path(p).name for p in (self.workspace, *self.patches))


def _check_provenance(prov: dict[str, Any], source: str) -> None:
    """Refuse the provenance values figures print when they cannot be printed.

    ``lumi_fb`` (top level or in ``config``) must be a positive finite number
    below 1e6 fb⁻¹ (NaN, ``Infinity`` and a 5000-digit integer are not), and
    ``config.observable_label`` a string matplotlib can draw.

    Raises:
        WorkspaceError: naming the file and the key.
    """
    raw = prov.get("config")
    config: dict[str, Any] = raw if isinstance(raw, dict) else {}
    for key, value in (("lumi_fb", prov.get("lumi_fb")), ("config.lumi_fb", config.get("lumi_fb"))):
        if value is None:
            continue
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not (ok and np.isfinite(value) and 0 < value < 1e6):
            big = ok and value > 0 and not np.isnan(value)
            shown = "a number beyond 1e6" if big else repr(value)
            msg = f"provenance file {source} at {key}: {shown} is not a luminosity (a positive number of fb^-1 below 1e6)"
            raise WorkspaceError(msg)
    label = config.get("observable_label")
    if label is not None:
        problem = label_problem(label) if isinstance(label, str) else "not a string"
        if problem:
            msg = f"provenance file {source} at config.observable_label {label!r}: {problem}"
            raise WorkspaceError(msg)


def read_provenance(workspace_path: str | os.PathLike[str]) -> dict[str, Any]:
    """The provenance dict written next to a workspace file, or ``{}`` if there is none.

    Raises:
        WorkspaceError: if the file exists but is not a JSON object, or its
            luminosity or observable label cannot be used (see :func:`_check_provenance`).
    """
    p = provenance_path(workspace_path)
    register_input(p)
    if not p.exists():
        return {}
    obj = read_json(p, what="provenance file", error=WorkspaceError)
    if not isinstance(obj, dict):
        msg = f"provenance file {p} is not a JSON object"
        raise WorkspaceError(msg)
    _check_provenance(obj, str(p))
    return obj


def data_label_from_provenance(
    provenance: dict[str, Any], measurement: str = ""
) -> tuple[bool | None, str]:
    """``(generated, data_label)`` from a provenance dict (see the module docstring)."""
    label = provenance.get("data_label")
    if isinstance(label, str) and label:
        generated = provenance.get("generated")
        return (bool(generated) if generated is not None else _is_generated_label(label)), label
    if "generated" in provenance:
        generated = bool(provenance["generated"])
        return generated, GENERATED_DATA_LABEL if generated else REAL_DATA_LABEL
    if "generated" in measurement.lower():
        return True, GENERATED_DATA_LABEL
    return None, UNKNOWN_DATA_LABEL


def edges_from_provenance(provenance: dict[str, Any], nbins: int) -> np.ndarray | None:
    """Bin edges from ``provenance["config"]["edges"]`` or ``provenance["edges"]`` (nbins + 1, increasing)."""
    config = provenance.get("config")
    candidates = [
        config.get("edges") if isinstance(config, dict) else None,
        provenance.get("edges"),
    ]
    for cand in candidates:
        if cand is None:
            continue
        try:
            arr = np.asarray(cand, dtype=float)
        except (TypeError, ValueError):
            continue
        if arr.ndim == 1 and arr.size == nbins + 1 and np.all(np.diff(arr) > 0):
            return arr
        log.warning("provenance edges of %d values do not fit %d bins: ignored", arr.size, nbins)
    return None


def stack_templates(
    spec: dict[str, Any],
    *,
    signal_sample: str = "signal",
    background_sample: str = "background",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signal, background and observed counts of a one-channel workspace (any modifiers).

    Raises:
        WorkspaceError: if the workspace has not exactly one channel with both samples.
    """
    channels = spec.get("channels", [])
    if len(channels) != 1:
        msg = f"the report needs a workspace with exactly one channel, got {len(channels)}"
        raise WorkspaceError(msg)
    channel = channels[0]
    samples = {s["name"]: np.asarray(s["data"], dtype=float) for s in channel["samples"]}
    missing = [n for n in (signal_sample, background_sample) if n not in samples]
    if missing:
        msg = f"channel {channel['name']!r} has no sample(s) {missing} (have: {sorted(samples)})"
        raise WorkspaceError(msg)
    obs = [o for o in spec.get("observations", []) if o["name"] == channel["name"]]
    if not obs:
        msg = f"workspace has no observation for channel {channel['name']!r}"
        raise WorkspaceError(msg)
    return samples[signal_sample], samples[background_sample], np.asarray(obs[0]["data"], float)


def read_inputs(
    workspace_path: str | os.PathLike[str],
    *,
    header: Mapping[str, Any] | None = None,
    lumi_fb: float | None = None,
    spec: Mapping[str, Any] | None = None,
    patches: Sequence[str] = (),
) -> ReportInputs:
    """Read the workspace and its provenance file (if any), once.

    ``header`` (``label``, ``energy``, ``title``) goes to every figure's
    header; ``lumi_fb`` replaces the recorded luminosity. A validated
    ``spec`` (the workspace with signal patches applied) is used instead of
    reading the file, ``patches`` naming what was applied to it; the file's
    provenance still gives the labels.

    A workspace that is not one channel with ``signal`` and ``background``
    samples gets empty ``signal``/``background``/``observed`` arrays: the
    report then runs its likelihood parts only (:func:`~.assemble.make_report`).

    Raises:
        WorkspaceError: if the workspace cannot be read.
    """
    spec = dict(spec) if spec is not None else load_workspace(workspace_path)
    prov = read_provenance(workspace_path)
    model, data = model_and_data(spec, validate=False)
    try:
        signal, background, observed = stack_templates(spec)
    except WorkspaceError as err:
        # several channels or other samples: no report's method, the likelihood parts only
        log.info("%s: %s; the report's own method is skipped", workspace_path, err)
        signal = background = observed = np.zeros(0)
    measurement = str(spec.get("measurements", [{}])[0].get("name", ""))
    generated, label = data_label_from_provenance(prov, measurement)
    # several channels: the recorded edges are those of each channel
    first = model.config.channels[0]
    nbins = observed.size if observed.size else int(model.config.channel_nbins[first])
    edges = edges_from_provenance(prov, nbins)
    edges_known = edges is not None
    if edges is None:
        log.info("no bin edges recorded for %s: plotting against bin index", workspace_path)
        edges = np.arange(nbins + 1, dtype=float)
    raw = prov.get("config")
    config: dict[str, Any] = raw if isinstance(raw, dict) else {}
    lumi = lumi_fb if lumi_fb is not None else prov.get("lumi_fb", config.get("lumi_fb"))
    xlabel = (
        str(config.get("observable_label") or r"$m_{4\ell}$ [GeV]") if edges_known else "bin index"
    )
    return ReportInputs(
        workspace=os.fspath(workspace_path),
        spec=spec,
        model=model,
        data=np.asarray(data, dtype=float),
        signal=signal,
        background=background,
        observed=observed,
        edges=edges,
        edges_known=edges_known,
        lumi_fb=float(lumi) if lumi is not None else None,
        generated=generated,
        data_label=label,
        xlabel=xlabel,
        provenance=prov,
        header={k: v for k, v in (header or {}).items() if v is not None},
        patches=tuple(patches),
    )
