r"""Histograms per final-state channel and per systematic variation.

Besides the nominal ``sample`` × m4l histogram of :mod:`higgs_pyhf.build.histograms`,
a build with systematics or channels fills a **detailed** histogram with
four axes: ``sample`` (config order) × ``channel`` × ``variation`` ×
the observable, ``Weight()`` storage:

- ``channel``: the final states ``4e``, ``2e2mu``, ``4mu``
  (:func:`higgs_pyhf.build.cutflows.final_states` of each selected event) with
  ``--channels final-state``, or the single category ``all``;
- ``variation``: ``nominal``, then ``<name>_up`` / ``<name>_down`` of every
  shape systematic (:func:`higgs_pyhf.build.systematics.variation_names`). A
  lepton-scale variation is filled by scaling the lepton momenta
  (:func:`vary_lepton_scale`), recomputing m4l and
  selecting again, with the nominal event weights; a scale-factor variation
  fills the nominal selection with the weights × (1 ± u)^n (n electrons or
  muons in the event); template variations are put in by
  :mod:`higgs_pyhf.build.pipeline`.

Collision data fill the nominal variation only. The detailed histograms of
the chunks are summed in task order like the nominal ones, so they are the
same bit for bit on one process, a pool or a Dask cluster. With the single
channel the nominal variation holds exactly the nominal histogram (same
events, same order of filling).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import awkward as ak
import hist
import numpy as np

from ..errors import ConfigError, HistogramError
from .cutflows import final_states
from .selection import Selection, select
from .systematics import NOMINAL, SystematicsConfig, variation_names

__all__ = [
    "ALL_CHANNEL",
    "CHANNEL_AXIS",
    "CHANNEL_MODES",
    "FINAL_STATE_CHANNELS",
    "VARIATION_AXIS",
    "EventVariation",
    "ShapeSpec",
    "channel_categories",
    "fill_shapes",
    "make_shape_histogram",
    "shape_spec",
    "vary_lepton_scale",
]

log = logging.getLogger(__name__)

#: Name of the channel axis.
CHANNEL_AXIS = "channel"
#: Name of the variation axis.
VARIATION_AXIS = "variation"
#: The category of the single channel.
ALL_CHANNEL = "all"
#: The final-state channels, in workspace order.
FINAL_STATE_CHANNELS = ("4e", "2e2mu", "4mu")
#: ``--channels`` choices.
CHANNEL_MODES = ("single", "final-state")


def channel_categories(mode: str) -> tuple[str, ...]:
    """The channel axis categories of a ``--channels`` mode.

    Raises:
        ConfigError: for an unknown mode.
    """
    if mode == "single":
        return (ALL_CHANNEL,)
    if mode == "final-state":
        return FINAL_STATE_CHANNELS
    msg = f"unknown channel mode {mode!r}; expected one of {list(CHANNEL_MODES)}"
    raise ConfigError(msg)


class EventVariation(NamedTuple):
    """A variation filled from the events (picklable).

    Attributes:
        category: variation axis category (``el_scale_up``).
        lep_type: lepton flavour concerned (11 or 13).
        factor: ``momentum``: the momentum scale (1 ± δ); ``weight``: each
            such lepton's scale-factor multiplier (1 ± u).
        kind: ``momentum`` (scale lep_pt, lep_E; select again) or ``weight``
            (event weight × factor^n, n the number of such leptons).
    """

    category: str
    lep_type: int
    factor: float
    kind: str = "momentum"


class ShapeSpec(NamedTuple):
    """What the detailed histogram holds (part of every chunk job; picklable).

    Attributes:
        channels: channel categories.
        variations: variation categories (nominal first).
        event_variations: the variations computed from MC events.
    """

    channels: tuple[str, ...]
    variations: tuple[str, ...]
    event_variations: tuple[EventVariation, ...]


def shape_spec(systematics: SystematicsConfig, *, channels: str = "single") -> ShapeSpec:
    """The detailed histogram a build with ``systematics`` and ``channels`` needs."""
    events = []
    for e in systematics.from_events:
        if e.lepton_scale is not None:
            code, size, kind = e.lepton_scale.lep_type, e.lepton_scale.uncertainty, "momentum"
        else:
            assert e.scale_factor is not None
            sf = e.scale_factor
            code, size, kind = sf.lep_type, sf.uncertainty_per_lepton, "weight"
        events += [
            EventVariation(f"{e.name}_up", code, 1.0 + size, kind),
            EventVariation(f"{e.name}_down", code, 1.0 - size, kind),
        ]
    return ShapeSpec(channel_categories(channels), variation_names(systematics), tuple(events))


def make_shape_histogram(
    edges: Sequence[float] | np.ndarray,
    spec: ShapeSpec,
    *,
    samples: Sequence[str],
    observable: str = "m4l",
    label: str = "m4l",
) -> hist.Hist:
    """An empty ``sample`` × ``channel`` × ``variation`` × observable histogram."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="sample is a protected keyword")
        return hist.Hist(
            hist.axis.StrCategory(list(samples), name="sample", label="Sample"),
            hist.axis.StrCategory(list(spec.channels), name=CHANNEL_AXIS, label="Channel"),
            hist.axis.StrCategory(list(spec.variations), name=VARIATION_AXIS, label="Variation"),
            hist.axis.Variable(np.asarray(edges, dtype=float), name=observable, label=label),
            storage=hist.storage.Weight(),
        )


def vary_lepton_scale(events: ak.Array, lep_type: int, factor: float) -> ak.Array:
    """Events with ``lep_pt`` and ``lep_E`` of one lepton flavour multiplied by ``factor`` (pure).

    The product is taken in the branches' precision (float32 × float32, as
    stored in the ntuples), so the varied branches look like a recalibrated
    ntuple; every other field is unchanged.

    Args:
        events: awkward record array with ``lep_pt``, ``lep_E``, ``lep_type``.
        lep_type: 11 (electrons) or 13 (muons).
        factor: the scale, e.g. 1.005.
    """
    is_flavour = events["lep_type"] == lep_type
    out = events
    for branch in ("lep_pt", "lep_E"):
        values = events[branch]
        dtype = ak.to_numpy(ak.flatten(values[:0], axis=1)).dtype
        scale = np.asarray(factor, dtype=dtype if dtype.kind == "f" else np.float64)
        out = ak.with_field(out, ak.where(is_flavour, values * scale, values), branch)
    return out


def _channels_of(events: ak.Array, passed: np.ndarray, spec: ShapeSpec) -> np.ndarray:
    if spec.channels == (ALL_CHANNEL,):
        return np.full(int(np.count_nonzero(passed)), ALL_CHANNEL)
    return final_states(events)[passed]


def fill_shapes(
    events: ak.Array,
    weights: np.ndarray,
    nominal: Selection,
    spec: ShapeSpec,
    *,
    sample: str,
    samples: Sequence[str],
    is_data: bool,
    edges: Sequence[float],
    observable: str,
    label: str,
    where: str,
) -> hist.Hist:
    """Fill the detailed histogram of one batch of events (pure; no I/O).

    Args:
        events: the batch (ntuple branches, MeV).
        weights: per-event weights of every event of the batch.
        nominal: the nominal selection of the batch.
        spec: channels and variations.
        sample: the batch's sample.
        samples: every sample (the sample axis).
        is_data: collision data (nominal only).
        edges: observable bin edges (GeV).
        observable: observable name.
        label: observable axis label.
        where: the batch's file and entries, for messages.

    Raises:
        HistogramError: on non-finite m4l after a variation.
    """
    h = make_shape_histogram(edges, spec, samples=samples, observable=observable, label=label)
    channels = _channels_of(events, nominal.passed, spec)
    h.fill(sample, channels, NOMINAL, nominal.m4l, weight=weights[nominal.passed])
    if is_data:
        return h
    for v in spec.event_variations:
        if v.kind == "weight":
            n = ak.to_numpy(ak.sum(events["lep_type"] == v.lep_type, axis=1))
            varied_w = weights * np.power(v.factor, n)
            h.fill(sample, channels, v.category, nominal.m4l, weight=varied_w[nominal.passed])
            continue
        varied = vary_lepton_scale(events, v.lep_type, v.factor)
        sel = select(varied, selection=nominal.selection)
        if not np.all(np.isfinite(sel.m4l)):
            msg = (
                f"sample {sample}: non-finite {observable} after variation {v.category} in {where}"
            )
            raise HistogramError(msg)
        h.fill(
            sample,
            _channels_of(events, sel.passed, spec),
            v.category,
            sel.m4l,
            weight=weights[sel.passed],
        )
    return h


def per_channel(h: hist.Hist, sample: str, channel: str, variation: str = NOMINAL) -> Any:
    """The 1D observable histogram of one sample, channel and variation."""
    return h[{"sample": sample, CHANNEL_AXIS: channel, VARIATION_AXIS: variation}]
