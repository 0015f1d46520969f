"""What the compiler reads of a model: its :class:`Layout`.

A layout is the model as pyhf builds it (channel and sample order, parameter
order and slices, inits, bounds, fixed parameters, constraint widths and
auxiliary data) next to the specification's samples and modifiers. It comes
from a ``pyhf.pdf.Model`` (:func:`pyhf_layout`) or from the JSON itself,
without pyhf (:mod:`.spec_layout`); :func:`~.compile.compile_layout` turns
either into the engine's arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from ...errors import FitError

__all__ = ["Layout", "labels", "pyhf_layout"]


def labels(par_order: Any, par_slices: Mapping[str, slice]) -> tuple[str, ...]:
    """Parameter labels in pyhf's order: ``name``, or ``name[i]`` for vector parameters."""
    npars = sum(sl.stop - sl.start for sl in par_slices.values())
    out = [""] * npars
    for name in par_order:
        sl = par_slices[name]
        n = sl.stop - sl.start
        for j, i in enumerate(range(sl.start, sl.stop)):
            out[i] = name if n == 1 else f"{name}[{j}]"
    return tuple(out)


class Layout(NamedTuple):
    """What the compiler needs of a model, however it was read (pyhf or the JSON itself).

    Attributes:
        channels: channel names in pyhf's order (sorted).
        samples: sample names in pyhf's order (sorted).
        channel_slices: channel → slice of the main bins.
        spec_channels: channel → its entry of the specification (samples, modifiers).
        types: parameter name → modifier type.
        par_order: parameter names in pyhf's order.
        par_slices: parameter name → slice of the parameter vector.
        init: (P,) initial values.
        bounds: (P, 2) bounds.
        fixed: (P,) fixed parameters.
        constraints: (name, "normal" | "poisson", widths or None, τ factors or
            None) of each constrained parameter, in auxiliary-data order.
        auxdata: (A,) auxiliary data.
        normsys_code: ``code1`` or ``code4``.
        histosys_code: ``code0`` or ``code4p``.
    """

    channels: tuple[str, ...]
    samples: tuple[str, ...]
    channel_slices: Mapping[str, slice]
    spec_channels: Mapping[str, Any]
    types: Mapping[str, str]
    par_order: tuple[str, ...]
    par_slices: Mapping[str, slice]
    init: np.ndarray
    bounds: np.ndarray
    fixed: np.ndarray
    constraints: tuple[tuple[str, str, Any, Any], ...]
    auxdata: np.ndarray
    normsys_code: str
    histosys_code: str


def pyhf_layout(model: Any) -> Layout:
    """The :class:`Layout` of a ``pyhf.pdf.Model`` (pyhf 0.7.6), read from its config.

    Raises:
        FitError: for sample or bin clipping (not evaluated by the engine).
    """
    cfg = model.config
    main = model.main_model
    if main.clip_sample_data is not None or main.clip_bin_data is not None:
        msg = "models with clip_sample_data/clip_bin_data are not supported by the engine"
        raise FitError(msg)
    settings = cfg.modifier_settings
    constraints = []
    for name in cfg.auxdata_order:
        ps = cfg.param_set(name)
        constraints.append(
            (name, ps.pdf_type, getattr(ps, "sigmas", None), getattr(ps, "factors", None))
        )
    npars = cfg.npars
    return Layout(
        channels=tuple(cfg.channels),
        samples=tuple(cfg.samples),
        channel_slices={c: cfg.channel_slices[c] for c in cfg.channels},
        spec_channels={ch["name"]: ch for ch in model.spec["channels"]},
        types=dict(cfg.modifiers),
        par_order=tuple(cfg.par_order),
        par_slices={n: cfg.par_slice(n) for n in cfg.par_order},
        init=np.asarray(cfg.suggested_init(), dtype=float),
        bounds=np.asarray(cfg.suggested_bounds(), dtype=float).reshape(npars, 2),
        fixed=np.asarray(cfg.suggested_fixed(), dtype=bool),
        constraints=tuple(constraints),
        auxdata=np.asarray(cfg.auxdata, dtype=float),
        normsys_code=settings.get("normsys", {}).get("interpcode", "code1"),
        histosys_code=settings.get("histosys", {}).get("interpcode", "code0"),
    )
