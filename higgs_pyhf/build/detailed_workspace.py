"""The workspace of a model with systematics and channels: samples, modifiers, pruning.

From the detailed histograms (:mod:`higgs_pyhf.build.variations`: ``sample`` ×
``channel`` × ``variation`` × m4l) and the configured systematics
(:mod:`higgs_pyhf.build.systematics`) this builds a pyhf workspace with

- one channel per category of the channel axis (``hzz4l_m4l`` for the single
  channel, ``hzz4l_m4l_4e``, ``hzz4l_m4l_2e2mu``, ``hzz4l_m4l_4mu`` for the
  final states), sharing every parameter;
- the configuration's samples **grouped**: samples of one kind that carry
  the same modifiers (same names, same normsys factors) are summed into one
  workspace sample, named after the kind (``signal``, ``background``) when
  the whole kind is one group, after the sample when it is alone, and
  ``<kind>_<its first own modifier>`` otherwise (``background_reducible_norm``). Summing is exact for these modifiers:
  normsys factors multiply every member alike, shape variations and sumw²
  add. Every signal sample carries the normfactor ``s_s`` (the POI), every
  background sample ``s_b``;
- the modifiers in pyhf's conventions: ``normsys`` ``{"hi", "lo"}`` factors,
  ``histosys`` ``{"hi_data", "lo_data"}``, ``staterror`` absolute
  uncertainties sqrt(sumw²) (one γ per bin and channel, named
  ``staterror_<channel>``), ``lumi`` with ``auxdata`` [1] and ``sigmas`` [σ]
  in the measurement's parameters.

**Pruning**: a ``normsys`` or ``histosys`` modifier of a sample in a channel
whose largest relative effect on any bin, max |variation − nominal|/nominal,
is below the threshold is left out; each is logged and listed
(:class:`PrunedModifier`). ``lumi`` and ``staterror`` are never pruned.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ..errors import WorkspaceError
from ..workspace import BKG_NORM, CHANNEL, POI, validate_workspace
from .report_workspace import S_B_BOUNDS, S_S_BOUNDS
from .systematics import NOMINAL, Systematic, SystematicsConfig
from .variations import ALL_CHANNEL, CHANNEL_AXIS, VARIATION_AXIS

if TYPE_CHECKING:
    import hist

    from .config import AnalysisConfig

__all__ = [
    "ModelBuild",
    "ModelSample",
    "PrunedModifier",
    "channel_name",
    "group_samples",
    "model_systematics",
    "relative_effect",
    "workspace_from_shapes",
]

log = logging.getLogger(__name__)


def channel_name(category: str) -> str:
    """Workspace channel name of a channel category (``4e`` → ``hzz4l_m4l_4e``)."""
    return CHANNEL if category == ALL_CHANNEL else f"{CHANNEL}_{category}"


class ModelSample(NamedTuple):
    """One sample of the workspace.

    Attributes:
        name: workspace sample name.
        kind: ``signal`` or ``background``.
        members: the configuration samples summed into it, config order.
        systematics: the modifiers it carries, config order.
    """

    name: str
    kind: str
    members: tuple[str, ...]
    systematics: tuple[Systematic, ...]


class PrunedModifier(NamedTuple):
    """A modifier left out because its effect is negligible.

    Attributes:
        channel: workspace channel.
        sample: workspace sample.
        modifier: modifier name.
        type: ``normsys`` or ``histosys``.
        max_relative_effect: largest |variation − nominal|/nominal over the bins.
    """

    channel: str
    sample: str
    modifier: str
    type: str
    max_relative_effect: float

    def to_json(self) -> dict[str, Any]:
        """The entry as listed in the provenance."""
        return self._asdict()


class ModelBuild(NamedTuple):
    """Result of :func:`workspace_from_shapes`.

    Attributes:
        spec: the workspace specification (schema-valid).
        samples: the workspace samples and their members.
        pruned: the modifiers left out, in build order.
        channels: workspace channel names.
    """

    spec: dict[str, Any]
    samples: tuple[ModelSample, ...]
    pruned: tuple[PrunedModifier, ...]
    channels: tuple[str, ...]

    def provenance(self, systematics: SystematicsConfig) -> dict[str, Any]:
        """What the model is made of: samples, systematics, pruned modifiers, yields per channel."""
        yields = {}
        for channel, obs in zip(self.spec["channels"], self.spec["observations"], strict=True):
            per = {s["name"]: float(np.sum(s["data"])) for s in channel["samples"]}
            per["data"] = float(np.sum(obs["data"]))
            yields[channel["name"]] = per
        return {
            "channels": list(self.channels),
            "samples": {s.name: {"kind": s.kind, "members": list(s.members)} for s in self.samples},
            "systematics": systematics.to_json(),
            "pruned": [p.to_json() for p in self.pruned],
            "channel_yields": yields,
        }


def _signature(entry: Systematic) -> tuple[Any, ...]:
    return (entry.name, entry.type, entry.hi, entry.lo)


def group_samples(
    config: AnalysisConfig, systematics: SystematicsConfig
) -> tuple[ModelSample, ...]:
    """Group the simulated samples of ``config`` by kind and identical modifiers.

    Returns:
        The workspace samples: the signal ones first, then the background
        ones, each in the order of their first member in the configuration.
    """
    groups: dict[tuple[Any, ...], list[str]] = {}
    carried: dict[tuple[Any, ...], tuple[Systematic, ...]] = {}
    for s in config.mc_samples:
        mine = tuple(e for e in systematics.entries if s.name in e.samples)
        key = (s.kind, tuple(_signature(e) for e in mine))
        groups.setdefault(key, []).append(s.name)
        carried[key] = mine
    out = []
    for key, members in groups.items():
        kind = key[0]
        of_kind = [k for k in groups if k[0] == kind]
        if len(of_kind) == 1:
            name = kind
        elif len(members) == 1:
            name = members[0]
        else:
            shared = set.intersection(*(set(carried[k]) for k in of_kind))
            own = [e.name for e in carried[key] if e not in shared]
            name = f"{kind}_{own[0] if own else 'other'}"
        out.append(ModelSample(name, kind, tuple(members), carried[key]))
    return tuple(sorted(out, key=lambda g: g.kind != "signal"))  # signal first, then config order


def relative_effect(nominal: np.ndarray, variations: Sequence[np.ndarray]) -> float:
    """Largest |variation − nominal|/nominal over the bins (inf where nominal is 0 and a variation is not)."""
    nom = np.asarray(nominal, dtype=float)
    worst = 0.0
    for v in variations:
        diff = np.abs(np.asarray(v, dtype=float) - nom)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(
                nom > 0, diff / np.where(nom > 0, nom, 1.0), np.where(diff > 0, np.inf, 0)
            )
        if rel.size:
            worst = max(worst, float(rel.max()))
    return worst


def _sum(
    shapes: hist.Hist, members: Sequence[str], channel: str, variation: str
) -> tuple[np.ndarray, np.ndarray]:
    view: Any = shapes.view(flow=False)
    names = list(shapes.axes["sample"])
    c = list(shapes.axes[CHANNEL_AXIS]).index(channel)
    v = list(shapes.axes[VARIATION_AXIS]).index(variation)
    values = np.zeros(shapes.axes[3].size)
    variances = np.zeros_like(values)
    for m in members:
        i = names.index(m)
        values = values + view.value[i, c, v]
        variances = variances + view.variance[i, c, v]
    return values, variances


def _modifiers(
    sample: ModelSample,
    shapes: hist.Hist,
    category: str,
    threshold: float,
    pruned: list[PrunedModifier],
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    channel = channel_name(category)
    nominal, sumw2 = _sum(shapes, sample.members, category, NOMINAL)
    norm = POI if sample.kind == "signal" else BKG_NORM
    mods: list[dict[str, Any]] = [{"name": norm, "type": "normfactor", "data": None}]
    for e in sample.systematics:
        if e.type == "lumi":
            mods.append({"name": e.name, "type": "lumi", "data": None})
        elif e.type == "staterror":
            mods.append(
                {
                    "name": f"staterror_{channel}",
                    "type": "staterror",
                    "data": np.sqrt(sumw2).tolist(),
                }
            )
        else:
            if e.type == "normsys":
                assert e.hi is not None
                assert e.lo is not None
                effect = max(abs(e.hi - 1.0), abs(e.lo - 1.0))
                mod = {"name": e.name, "type": "normsys", "data": {"hi": e.hi, "lo": e.lo}}
            else:
                up, _ = _sum(shapes, sample.members, category, f"{e.name}_up")
                down, _ = _sum(shapes, sample.members, category, f"{e.name}_down")
                effect = relative_effect(nominal, (up, down))
                mod = {
                    "name": e.name,
                    "type": "histosys",
                    "data": {"hi_data": up.tolist(), "lo_data": down.tolist()},
                }
            if effect < threshold:
                log.info(
                    "pruned %s %r of sample %r in channel %r: largest relative effect %.3g < threshold %.3g",
                    e.type,
                    e.name,
                    sample.name,
                    channel,
                    effect,
                    threshold,
                )
                pruned.append(PrunedModifier(channel, sample.name, e.name, e.type, effect))
                continue
            mods.append(mod)
    return nominal, mods


def workspace_from_shapes(
    shapes: hist.Hist,
    config: AnalysisConfig,
    systematics: SystematicsConfig,
    *,
    measurement_name: str = "hzz4l",
) -> ModelBuild:
    """Build the workspace of every channel of ``shapes`` with the configured systematics.

    Args:
        shapes: detailed histograms (``sample`` × ``channel`` × ``variation`` ×
            observable) of every sample of ``config``, templates included.
        config: the samples (kinds) and binning.
        systematics: the modifiers and the pruning threshold.
        measurement_name: name of the measurement (carries provenance).

    Returns:
        The workspace, its samples and the pruned modifiers.

    Raises:
        WorkspaceError: on missing samples, negative predictions or bins with
            zero total prediction (naming the channel and bins).
    """
    have = set(shapes.axes["sample"])
    missing = [s.name for s in config.samples if s.name not in have]
    if missing:
        msg = f"the histograms lack the samples {missing}"
        raise WorkspaceError(msg)
    samples = group_samples(config, systematics)
    data_names = [s.name for s in config.data_samples]
    pruned: list[PrunedModifier] = []
    channels: list[dict[str, Any]] = []
    observations: list[dict[str, Any]] = []
    for category in shapes.axes[CHANNEL_AXIS]:
        channel = channel_name(str(category))
        entries = []
        total = np.zeros(shapes.axes[3].size)
        for sample in samples:
            nominal, mods = _modifiers(
                sample, shapes, str(category), systematics.prune_threshold, pruned
            )
            negative = np.flatnonzero(nominal < 0)
            if negative.size:
                msg = f"sample {sample.name!r} of channel {channel!r} has a negative prediction in bins {negative.tolist()}"
                raise WorkspaceError(msg)
            total += nominal
            entries.append({"name": sample.name, "data": nominal.tolist(), "modifiers": mods})
        empty = np.flatnonzero(total <= 0)
        if empty.size:
            msg = (
                f"bins {empty.tolist()} of channel {channel!r} have zero total prediction; "
                "the Poisson likelihood is undefined there: merge or drop those bins (change the binning)"
            )
            raise WorkspaceError(msg)
        observed, _ = _sum(shapes, data_names, str(category), NOMINAL)
        channels.append({"name": channel, "samples": entries})
        observations.append({"name": channel, "data": observed.tolist()})
    parameters: list[dict[str, Any]] = [
        {"name": POI, "inits": [1.0], "bounds": [list(S_S_BOUNDS)]},
        {"name": BKG_NORM, "inits": [1.0], "bounds": [list(S_B_BOUNDS)]},
    ]
    for e in systematics.entries:
        if e.type == "lumi":
            assert e.uncertainty is not None
            u = e.uncertainty
            parameters.append(
                {
                    "name": e.name,
                    "auxdata": [1.0],
                    "sigmas": [u],
                    "inits": [1.0],
                    "bounds": [[max(0.0, 1 - 5 * u), 1 + 5 * u]],
                }
            )
    spec: dict[str, Any] = {
        "channels": channels,
        "observations": observations,
        "measurements": [
            {"name": measurement_name, "config": {"poi": POI, "parameters": parameters}}
        ],
        "version": "1.0.0",
    }
    validate_workspace(spec)
    return ModelBuild(spec, samples, tuple(pruned), tuple(str(c["name"]) for c in channels))


def model_systematics(
    config: AnalysisConfig,
    systematics: SystematicsConfig,
    *,
    mc_stat: bool = False,
    lumi_uncertainty: float | None = None,
) -> SystematicsConfig:
    """The systematics of a build: the configured ones with ``--mc-stat`` and ``--lumi-uncertainty`` merged in.

    ``mc_stat`` adds a ``staterror`` entry ``mc_stat`` on every simulated
    sample unless one is configured; ``lumi_uncertainty`` sets the size of
    the ``lumi`` entry (adding one named ``lumi`` if there is none).
    """
    entries = list(systematics.entries)
    every = tuple(s.name for s in config.mc_samples)
    if mc_stat and not any(e.type == "staterror" for e in entries):
        entries.append(Systematic("mc_stat", "staterror", every))
    if lumi_uncertainty is not None:
        lumi = next((k for k, e in enumerate(entries) if e.type == "lumi"), None)
        if lumi is None:
            entries.insert(0, Systematic("lumi", "lumi", every, uncertainty=lumi_uncertainty))
        else:
            entries[lumi] = entries[lumi]._replace(uncertainty=lumi_uncertainty)
    return systematics._replace(entries=tuple(entries))
