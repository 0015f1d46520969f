"""Per-process generator models: yields, m4l densities, event categories, truth.

:data:`PROCESS_MODELS` holds one :class:`ProcessModel` per MC sample of the
default configuration. Its density is the process's analytic shape
(:mod:`.shapes`) calibrated to the report's MC template of the sample's kind,
in expected events/GeV per 10 fb⁻¹ after the **report's selection**, and its
``target_yield`` is that density's integral over 80–250 GeV. The split of
each kind into processes is set by the nominal yields below: the background
is mostly qq→ZZ (``llll``: the Z→4ℓ peak, the continuum, the ZZ rise above
180 GeV) with a few events of reducible backgrounds (Z+jets, tt̄, ...); the
signal is split as ggH : VBF : WH : ZH = 9 : 1 : 0.2 : 0.006.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, NamedTuple

from ..build.config import Sample
from ..build.selection import SELECTIONS
from ..errors import ConfigError
from .shapes import (
    TARGET_WINDOW_GEV,
    CalibratedDensity,
    Density,
    calibrate,
    higgs_density,
    integrate,
    llll_density,
    reducible_density,
    report_templates,
)

__all__ = [
    "CATEGORIES",
    "PROCESS_MODELS",
    "REPORT_CATEGORIES",
    "TRUE_NORMFACTORS",
    "ProcessModel",
    "expected_events",
    "process_model",
    "report_fraction",
]

log = logging.getLogger(__name__)

#: True normalisation factors used to draw the generated data (s_s on the signal, s_b on the background).
TRUE_NORMFACTORS: dict[str, float] = {"s_s": 1.4, "s_b": 1.3}

#: Event categories: ``"pass"`` or the single cut of the intended selection the event fails.
CATEGORIES: tuple[str, ...] = (
    "pass",
    "nlep",
    "charge",
    "flavour",
    "pt_lead",
    "pt_min",
    "eta",
    "iso_pt",
    "iso_et",
    "trigger",
)
#: Categories the report's selection keeps: ``"pass"`` and the cuts it does not apply.
REPORT_CATEGORIES: tuple[str, ...] = tuple(
    c for c in CATEGORIES if c == "pass" or c not in SELECTIONS["report"]
)


class ProcessModel(NamedTuple):
    """How the events of one MC sample are generated.

    Attributes:
        target_yield: weighted yield of the report's selection with
            80 < m4l < 250 GeV per 10 fb⁻¹ that the mcWeights are calibrated to.
        n_events: number of generated MC events at ``scale=1`` (all categories).
        density: m4l density (GeV) of the selected events, resolution included;
            for the default samples in events/GeV per 10 fb⁻¹ after the report's
            selection.
        category_fractions: probability of each of :data:`CATEGORIES` (same order).
        z1_flavour: lepton type (11 or 13) of the first Z, or 0 for a random flavour.
        system_pt_mean: mean pT of the 4ℓ system (GeV).
        rapidity_sigma: width of the 4ℓ rapidity distribution.
        weight_spread: relative spread of mcWeight.
        negative_weight_fraction: fraction of events with a negative mcWeight.
    """

    target_yield: float
    n_events: int
    density: Density
    category_fractions: tuple[float, ...]
    z1_flavour: int = 0
    system_pt_mean: float = 15.0
    rapidity_sigma: float = 1.1
    weight_spread: float = 0.05
    negative_weight_fraction: float = 0.0


def report_fraction(model: ProcessModel) -> float:
    """Fraction of a process's events in the categories the report's selection keeps."""
    return float(
        sum(
            f
            for c, f in zip(CATEGORIES, model.category_fractions, strict=True)
            if c in REPORT_CATEGORIES
        )
    )


#: Prompt-lepton processes (ZZ, Higgs): mostly selected events.
_PROMPT_FRACTIONS = (0.70, 0.06, 0.02, 0.02, 0.02, 0.06, 0.05, 0.03, 0.02, 0.02)
#: Reducible processes (Z+jets, tt̄, ...): mostly fake/non-isolated leptons failing cuts.
_REDUCIBLE_FRACTIONS = (0.06, 0.20, 0.12, 0.08, 0.06, 0.12, 0.06, 0.18, 0.08, 0.04)

# Analytic shape and nominal yield (report selection, 80-250 GeV, 10 fb⁻¹) per process, by kind;
# :func:`.shapes.calibrate` rescales the nominal yields of a kind together to its template total.
_Z_JETS = functools.partial(reducible_density, start=60.0, shape=2.5, scale=18.0)
_BACKGROUND: dict[str, tuple[Density, float]] = {
    "llll": (llll_density, 227.0),
    "Zee": (_Z_JETS, 2.5),
    "Zmumu": (_Z_JETS, 3.0),
    "ttbar_lep": (functools.partial(reducible_density, start=60.0, shape=3.0, scale=30.0), 1.5),
    "llvv": (functools.partial(reducible_density, start=60.0, shape=2.5, scale=25.0), 0.5),
    "ZqqZll": (functools.partial(reducible_density, start=60.0, shape=2.0, scale=30.0), 1.2),
}
_SIGNAL: dict[str, tuple[Density, float]] = {
    "ggH125_ZZ4lep": (higgs_density, 9.0),
    "VBFH125_ZZ4lep": (higgs_density, 1.0),
    "WH125_ZZ4lep": (higgs_density, 0.2),
    "ZH125_ZZ4lep": (higgs_density, 0.006),
}


def _calibrated() -> dict[str, CalibratedDensity]:
    templates = report_templates()
    return calibrate(_BACKGROUND, templates.background, templates.edges_gev) | calibrate(
        _SIGNAL, templates.signal, templates.edges_gev
    )


_DENSITIES = _calibrated()


def _model(name: str, n_events: int, fractions: tuple[float, ...], **options: Any) -> ProcessModel:
    density = _DENSITIES[name]
    target = integrate(density, *TARGET_WINDOW_GEV)
    return ProcessModel(target, n_events, density, fractions, **options)


#: Process models, keyed by the sample names of the default configuration.
PROCESS_MODELS: dict[str, ProcessModel] = {
    "llll": _model(
        "llll", 30_000, _PROMPT_FRACTIONS, system_pt_mean=12.0, negative_weight_fraction=0.005
    ),
    "ggH125_ZZ4lep": _model("ggH125_ZZ4lep", 12_000, _PROMPT_FRACTIONS, system_pt_mean=20.0),
    "VBFH125_ZZ4lep": _model("VBFH125_ZZ4lep", 4_000, _PROMPT_FRACTIONS, system_pt_mean=35.0),
    "WH125_ZZ4lep": _model("WH125_ZZ4lep", 3_000, _PROMPT_FRACTIONS, system_pt_mean=40.0),
    "ZH125_ZZ4lep": _model("ZH125_ZZ4lep", 3_000, _PROMPT_FRACTIONS, system_pt_mean=40.0),
    "Zee": _model(
        "Zee",
        10_000,
        _REDUCIBLE_FRACTIONS,
        z1_flavour=11,
        system_pt_mean=25.0,
        weight_spread=0.15,
    ),
    "Zmumu": _model(
        "Zmumu",
        10_000,
        _REDUCIBLE_FRACTIONS,
        z1_flavour=13,
        system_pt_mean=25.0,
        weight_spread=0.15,
    ),
    "ttbar_lep": _model(
        "ttbar_lep", 12_000, _REDUCIBLE_FRACTIONS, system_pt_mean=40.0, weight_spread=0.10
    ),
    "llvv": _model("llvv", 6_000, _REDUCIBLE_FRACTIONS, system_pt_mean=30.0),
    "ZqqZll": _model("ZqqZll", 8_000, _REDUCIBLE_FRACTIONS, system_pt_mean=30.0),
}


def process_model(sample: Sample) -> ProcessModel:
    """Return the generator model of an MC sample.

    Samples of the default configuration have their own model; any other
    sample gets a generic one by kind (the Higgs-like signal shape or a broad
    reducible background, not calibrated to the templates, target yield 1
    event per 10 fb⁻¹).

    Raises:
        ConfigError: for a data sample.
    """
    if sample.is_data:
        msg = f"sample {sample.name!r} is data: it has no process model (data are drawn from the MC models)"
        raise ConfigError(msg)
    model = PROCESS_MODELS.get(sample.name)
    if model is not None:
        return model
    log.info(
        "no dedicated generator model for sample %r: using a generic %s model",
        sample.name,
        sample.kind,
    )
    if sample.kind == "signal":
        return ProcessModel(1.0, 5_000, higgs_density, _PROMPT_FRACTIONS, system_pt_mean=20.0)
    return ProcessModel(
        1.0,
        5_000,
        functools.partial(reducible_density, start=60.0, shape=2.5, scale=25.0),
        _REDUCIBLE_FRACTIONS,
        system_pt_mean=25.0,
    )


def _window_fraction(density: Density) -> float:
    return integrate(density, *TARGET_WINDOW_GEV) / integrate(density)


def expected_events(model: ProcessModel, selected_yield: float) -> float:
    """Expected number of events of all categories and masses for ``selected_yield`` events.

    ``selected_yield`` counts the events of the report's selection with
    80 < m4l < 250 GeV.
    """
    return selected_yield / (report_fraction(model) * _window_fraction(model.density))
