"""Systematic uncertainties of the analysis configuration, and the event variations they need.

The configuration's ``systematics`` section lists modifiers, each applying to
samples chosen by kind or by name (default: every simulated sample)::

    "systematics": {
        "prune_threshold": 0.001,
        "entries": [
            {"name": "lumi", "type": "lumi", "uncertainty": 0.017},
            {"name": "signal_theory", "type": "normsys", "kinds": ["signal"], "hi": 1.06, "lo": 0.93},
            {"name": "zz_norm", "type": "normsys", "samples": ["llll"], "uncertainty": 0.06},
            {"name": "mc_stat", "type": "staterror"},
            {"name": "el_scale", "type": "histosys",
             "lepton_scale": {"flavour": "electron", "uncertainty": 0.005}},
            {"name": "shape", "type": "histosys", "samples": ["signal"],
             "template": {"up": "{histogram}_up", "down": "{histogram}_down"}}
        ]
    }

- ``lumi``: one luminosity modifier; its relative ``uncertainty`` goes into the
  measurement's parameter (``auxdata`` 1, ``sigmas``);
- ``normsys``: a normalisation factor, symmetric (``uncertainty`` u: hi 1+u,
  lo 1−u) or asymmetric (``hi``, ``lo``), pyhf's ``normsys``;
- ``staterror``: MC statistics from the histograms' sumw² (one γ per bin and
  channel, Barlow–Beeston-lite), like ``--mc-stat``;
- ``histosys``: a shape systematic with up/down histograms, either from the
  samples' template files (entries named by ``up``/``down``, where
  ``{histogram}`` stands for the sample's template entry and ``{sample}`` for
  its name; ``file`` defaults to the sample's template file) or computed from
  the ntuple events by a **lepton momentum scale** shift: ``lep_pt`` and
  ``lep_E`` of the electrons (``lep_type`` 11) or muons (13) multiplied by
  1 ± δ, m4l recomputed and the events selected and filled again
  (:func:`higgs_pyhf.build.variations.vary_lepton_scale`); or by a **lepton-efficiency
  scale-factor** weight variation: the event's ``scaleFactor_ELE`` (or
  ``scaleFactor_MUON``) multiplied by (1 ± u)^n, n the number of electrons
  (muons) of the event, i.e. each lepton's efficiency scale factor varied by
  ±u, fully correlated between the leptons of an event.

Modifiers whose largest relative effect on any bin of a sample is below the
pruning threshold are dropped when the workspace is built
(:mod:`higgs_pyhf.build.detailed_workspace`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import ConfigError
from .config_schema import FLAVOURS, SCALE_FACTOR_BRANCHES

__all__ = [
    "DEFAULT_PRUNE_THRESHOLD",
    "NOMINAL",
    "LeptonScale",
    "ScaleFactorVariation",
    "Systematic",
    "SystematicsConfig",
    "TemplateVariation",
    "parse_systematics",
    "variation_names",
]

#: Default pruning threshold: largest relative effect per bin (0.1%).
DEFAULT_PRUNE_THRESHOLD = 1e-3
#: Name of the nominal entry of the variation axis.
NOMINAL = "nominal"
#: The sources of a histosys entry.
_SHAPE_SOURCES = ("lepton_scale", "scale_factor", "template")


class LeptonScale(NamedTuple):
    """A lepton momentum-scale variation computed from the events.

    Attributes:
        flavour: ``electron`` or ``muon``.
        uncertainty: relative scale shift δ (pT and E multiplied by 1 ± δ).
    """

    flavour: str
    uncertainty: float

    @property
    def lep_type(self) -> int:
        """The ``lep_type`` code of the flavour (11 or 13)."""
        return FLAVOURS[self.flavour]


class ScaleFactorVariation(NamedTuple):
    """A per-event weight variation of a lepton scale-factor branch.

    Attributes:
        branch: ``scaleFactor_ELE`` or ``scaleFactor_MUON``.
        uncertainty_per_lepton: relative uncertainty u of one lepton's scale
            factor; the event weight is multiplied by (1 ± u)^n.
    """

    branch: str
    uncertainty_per_lepton: float

    @property
    def lep_type(self) -> int:
        """The ``lep_type`` code of the leptons the branch corrects."""
        return FLAVOURS[SCALE_FACTOR_BRANCHES[self.branch]]


class TemplateVariation(NamedTuple):
    """Up/down templates of a shape systematic.

    Attributes:
        up: entry name pattern of the up template (``{histogram}``, ``{sample}``).
        down: same for the down template.
        file: template file (None: each sample's own template file).
    """

    up: str
    down: str
    file: Path | None = None

    def entries(self, sample: str, histogram: str) -> tuple[str, str]:
        """The (up, down) entry names for one sample."""
        return (
            self.up.format(sample=sample, histogram=histogram),
            self.down.format(sample=sample, histogram=histogram),
        )


class Systematic(NamedTuple):
    """One configured modifier.

    Attributes:
        name: modifier (and nuisance parameter) name.
        type: ``lumi``, ``normsys``, ``staterror`` or ``histosys``.
        samples: names of the samples it applies to, config order.
        hi: normsys factor at +1σ (1 + u for a symmetric uncertainty).
        lo: normsys factor at −1σ.
        uncertainty: relative size (lumi).
        lepton_scale: the momentum-scale variation of a computed histosys.
        scale_factor: the weight variation of a computed histosys.
        template: the up/down templates of a template histosys.
        description: free text (why this size).
    """

    name: str
    type: str
    samples: tuple[str, ...]
    hi: float | None = None
    lo: float | None = None
    uncertainty: float | None = None
    lepton_scale: LeptonScale | None = None
    template: TemplateVariation | None = None
    scale_factor: ScaleFactorVariation | None = None
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        """The entry as recorded in the provenance."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "samples": list(self.samples)}
        for key in ("hi", "lo", "uncertainty"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.lepton_scale is not None:
            out["lepton_scale"] = self.lepton_scale._asdict()
        if self.scale_factor is not None:
            out["scale_factor"] = self.scale_factor._asdict()
        if self.template is not None:
            out["template"] = {
                "up": self.template.up,
                "down": self.template.down,
                "file": None if self.template.file is None else self.template.file.name,
            }
        if self.description:
            out["description"] = self.description
        return out


class SystematicsConfig(NamedTuple):
    """The ``systematics`` section of a configuration.

    Attributes:
        entries: the modifiers, config order.
        prune_threshold: modifiers whose largest relative effect per bin is
            below this are dropped.
    """

    entries: tuple[Systematic, ...] = ()
    prune_threshold: float = DEFAULT_PRUNE_THRESHOLD

    @property
    def histosys(self) -> tuple[Systematic, ...]:
        """The shape systematics."""
        return tuple(e for e in self.entries if e.type == "histosys")

    @property
    def from_events(self) -> tuple[Systematic, ...]:
        """The shape systematics computed from the events (lepton scale, scale factors)."""
        return tuple(
            e for e in self.entries if e.lepton_scale is not None or e.scale_factor is not None
        )

    def with_threshold(self, threshold: float) -> SystematicsConfig:
        """A copy with another pruning threshold (0 keeps every modifier)."""
        if not (math.isfinite(threshold) and 0 <= threshold < 1):
            msg = f"pruning threshold must be in [0, 1), got {threshold!r}"
            raise ConfigError(msg)
        return self._replace(prune_threshold=float(threshold))

    def to_json(self) -> dict[str, Any]:
        """The section as recorded in the provenance."""
        return {
            "entries": [e.to_json() for e in self.entries],
            "prune_threshold": self.prune_threshold,
        }


def variation_names(systematics: SystematicsConfig) -> tuple[str, ...]:
    """Categories of the histograms' variation axis: nominal, then ``<name>_up``/``_down``."""
    names = [NOMINAL]
    for e in systematics.histosys:
        names += [f"{e.name}_up", f"{e.name}_down"]
    return tuple(names)


def _finite(value: Any, where: str) -> float:
    if not (isinstance(value, int | float) and math.isfinite(value) and abs(value) < 1e300):
        msg = f"{where}: {value!r} is not a finite number"
        raise ConfigError(msg)
    return float(value)


def parse_systematics(
    raw: dict[str, Any] | None,
    samples: Sequence[Any],
    *,
    source: str,
    base_dir: Path,
) -> SystematicsConfig:
    """Semantic checks of a schema-valid ``systematics`` section.

    Args:
        raw: the section (None: no systematics).
        samples: the configuration's samples (:class:`~higgs_pyhf.build.config.Sample`).
        source: the configuration's name, for messages.
        base_dir: folder relative template paths are relative to.

    Returns:
        The parsed section.

    Raises:
        ConfigError: naming the offending entry (``systematics.entries[2] (zz_norm)``).
    """
    if raw is None:
        return SystematicsConfig()
    threshold = _finite(
        raw.get("prune_threshold", DEFAULT_PRUNE_THRESHOLD),
        f"invalid configuration {source} at systematics.prune_threshold",
    )
    mc = [s for s in samples if s.kind != "data"]
    names: set[str] = set()
    entries = []
    for i, e in enumerate(raw["entries"]):
        where = f"invalid configuration {source} at systematics.entries[{i}] ({e['name']})"
        for key in ("uncertainty", "hi", "lo"):
            if key in e:
                _finite(e[key], f"{where}.{key}")
        if e["name"] in names:
            msg = f"{where}: duplicate systematic name {e['name']!r}"
            raise ConfigError(msg)
        names.add(e["name"])
        chosen = _applies_to(e, mc, where)
        entries.append(_entry(e, chosen, where, base_dir))
    if sum(e.type == "lumi" for e in entries) > 1:
        msg = f"invalid configuration {source} at systematics.entries: at most one 'lumi' entry (one luminosity)"
        raise ConfigError(msg)
    if sum(e.type == "staterror" for e in entries) > 1:
        msg = (
            f"invalid configuration {source} at systematics.entries: at most one 'staterror' entry"
        )
        raise ConfigError(msg)
    return SystematicsConfig(tuple(entries), threshold)


def _applies_to(e: dict[str, Any], mc: Sequence[Any], where: str) -> tuple[Any, ...]:
    if "samples" in e:
        known = {s.name: s for s in mc}
        unknown = [n for n in e["samples"] if n not in known]
        if unknown:
            msg = f"{where}: no simulated sample named {unknown} (have: {sorted(known)})"
            raise ConfigError(msg)
        return tuple(s for s in mc if s.name in e["samples"])
    kinds = e.get("kinds", ("signal", "background"))
    chosen = tuple(s for s in mc if s.kind in kinds)
    if not chosen:
        msg = f"{where}: no sample of kinds {list(kinds)}"
        raise ConfigError(msg)
    return chosen


def _entry(e: dict[str, Any], chosen: tuple[Any, ...], where: str, base_dir: Path) -> Systematic:
    kind = e["type"]
    allowed = {
        "lumi": {"uncertainty"},
        "normsys": {"uncertainty", "hi", "lo"},
        "staterror": set(),
        "histosys": set(_SHAPE_SOURCES),
    }[kind]
    extra = sorted(k for k in ("uncertainty", "hi", "lo", *_SHAPE_SOURCES) if k in e)
    if set(extra) - allowed:
        msg = f"{where}: a {kind} entry takes no {sorted(set(extra) - allowed)}"
        raise ConfigError(msg)
    out = Systematic(
        name=e["name"],
        type=kind,
        samples=tuple(s.name for s in chosen),
        description=e.get("description", ""),
    )
    if kind == "lumi":
        if "uncertainty" not in e:
            msg = f"{where}: a lumi entry needs its relative 'uncertainty' (e.g. 0.017)"
            raise ConfigError(msg)
        return out._replace(uncertainty=float(e["uncertainty"]))
    if kind == "normsys":
        hi, lo = _normsys_factors(e, where)
        return out._replace(hi=hi, lo=lo)
    if kind == "histosys":
        return _histosys(e, out, chosen, where, base_dir)
    return out


def _normsys_factors(e: dict[str, Any], where: str) -> tuple[float, float]:
    if "uncertainty" in e:
        if "hi" in e or "lo" in e:
            msg = f"{where}: give either 'uncertainty' (symmetric) or 'hi' and 'lo', not both"
            raise ConfigError(msg)
        u = float(e["uncertainty"])
        return 1.0 + u, 1.0 - u
    if "hi" not in e or "lo" not in e:
        msg = f"{where}: a normsys entry needs 'uncertainty' or both 'hi' and 'lo'"
        raise ConfigError(msg)
    hi, lo = float(e["hi"]), float(e["lo"])
    if hi == 1.0 and lo == 1.0:
        msg = f"{where}: hi = lo = 1 is no uncertainty"
        raise ConfigError(msg)
    if max(hi, lo) > 10 or min(hi, lo) < 0.1:
        msg = f"{where}: normsys factors hi={hi:g}, lo={lo:g} outside [0.1, 10]"
        raise ConfigError(msg)
    return hi, lo


def _histosys(
    e: dict[str, Any], out: Systematic, chosen: tuple[Any, ...], where: str, base_dir: Path
) -> Systematic:
    if sum(k in e for k in _SHAPE_SOURCES) != 1:
        msg = f"{where}: a histosys entry needs exactly one of 'lepton_scale' or 'scale_factor' (from the ntuples) or 'template' (up/down templates)"
        raise ConfigError(msg)
    if "template" not in e:
        templated = [s.name for s in chosen if s.template is not None]
        if templated:
            msg = f"{where}: samples {templated} come from templates; a variation computed from events needs their ntuples (choose samples or kinds read from ntuples)"
            raise ConfigError(msg)
    if "lepton_scale" in e:
        ls = e["lepton_scale"]
        u = _finite(ls["uncertainty"], f"{where}.lepton_scale.uncertainty")
        return out._replace(lepton_scale=LeptonScale(ls["flavour"], u))
    if "scale_factor" in e:
        sf = e["scale_factor"]
        u = _finite(sf["uncertainty_per_lepton"], f"{where}.scale_factor.uncertainty_per_lepton")
        return out._replace(scale_factor=ScaleFactorVariation(sf["branch"], u))
    t = e["template"]
    untemplated = [s.name for s in chosen if s.template is None]
    if untemplated:
        msg = f"{where}: samples {untemplated} are read from ntuples; template up/down variations need template samples"
        raise ConfigError(msg)
    for key in ("up", "down"):
        try:
            t[key].format(sample="x", histogram="x")
        except (KeyError, IndexError, ValueError) as err:
            msg = f"{where}.template.{key}: {t[key]!r} may only use {{sample}} and {{histogram}} ({err})"
            raise ConfigError(msg) from None
    file = None
    if "file" in t:
        p = Path(t["file"])
        file = p if p.is_absolute() else base_dir / p
    return out._replace(template=TemplateVariation(t["up"], t["down"], file))
