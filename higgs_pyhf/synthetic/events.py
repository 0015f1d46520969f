"""Building the events of one sample in memory: MC with calibrated weights, and data.

Every event gets a *category* (:data:`.models.CATEGORIES`): ``"pass"``
events pass the intended selection; every other category names the single
cut of the intended selection the event was built to fail, passing all the
others (for the ``"nlep"`` category, which has 3, 5 or 6 leptons, "the
others" means the per-lepton cuts: with an odd lepton count the charge sum
cannot vanish, and the charge and flavour-sum cuts are defined for four
leptons). The seed report's selection never applies the ``etcone20`` cut nor
the trigger, so it keeps the ``"iso_et"`` and ``"trigger"`` events
(:data:`.models.REPORT_CATEGORIES`).

The mcWeights of an MC sample are calibrated so that the weighted yield
(lumi·1000·xsec/(sumw·red_eff)·mcWeight·scale factors) of the events the
report's selection keeps with 80 < m4l < 250 GeV equals the model's target
per 10 fb⁻¹. As those events keep the mass drawn from the process's density,
their expected m4l distribution is the calibrated density: the report's MC
templates per sample kind. Data are unweighted events drawn, with a Poisson
number per process, from the same models with the MC normalisation times
:data:`.models.TRUE_NORMFACTORS`, cut-failing events included.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import awkward as ak
import numpy as np

from ..build.config import AnalysisConfig, Sample
from ..build.ntuples import BRANCHES, WEIGHT_BRANCHES
from ..errors import ConfigError
from .kinematics import LEPTON_MASS_MEV, draw_kinematics, energy_mev, mass_from_stored
from .models import (
    CATEGORIES,
    REPORT_CATEGORIES,
    TRUE_NORMFACTORS,
    ProcessModel,
    expected_events,
    process_model,
)
from .shapes import REFERENCE_LUMI_FB, TARGET_WINDOW_GEV, sample_masses

__all__ = [
    "GeneratedSample",
    "generate_events",
    "generate_sample",
    "in_window",
    "m4l_of_events",
    "weight_product",
]

_ISO_PROMPT_MAX = 0.25  # prompt-lepton relative isolation stays below this (cut at 0.3)
_ISO_FAKE_RANGE = (0.35, 1.5)  # relative isolation of the non-isolated lepton


class GeneratedSample(NamedTuple):
    """Events generated in memory for one sample.

    Attributes:
        events: record array with the fields of :data:`higgs_pyhf.build.ntuples.BRANCHES`
            (MeV), as :func:`uproot` would read them from a file.
        categories: per event, ``"pass"`` or the cut it was built to fail (:data:`CATEGORIES`).
        mass_gev: per event, the generated m4l of its four primary leptons (GeV).
        process: per event, the name of the MC sample whose model generated it.
    """

    events: ak.Array
    categories: np.ndarray
    mass_gev: np.ndarray
    process: np.ndarray


def _random_index(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    return np.asarray(rng.integers(0, k, n))


def _build_events(
    model: ProcessModel, n: int, rng: np.random.Generator, *, is_data: bool
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Generate ``n`` events of one process: (branch arrays, categories, generated masses)."""
    categories = np.asarray(CATEGORIES)[
        rng.choice(len(CATEGORIES), size=n, p=model.category_fractions)
    ]
    rows = np.arange(n)
    # flavours and charges of the four primary leptons (Z1: 0, 1; Z2: 2, 3)
    z1 = (
        np.where(rng.random(n) < 0.5, 11, 13)
        if model.z1_flavour == 0
        else np.full(n, model.z1_flavour)
    )
    z2 = np.where(rng.random(n) < 0.5, 11, 13)
    lep_type = np.stack([z1, z1, z2, z2], axis=1)
    q1 = np.where(rng.random(n) < 0.5, 1, -1)
    q2 = np.where(rng.random(n) < 0.5, 1, -1)
    charge = np.stack([q1, -q1, q2, -q2], axis=1)
    lep_mass_gev = np.where(lep_type == 11, LEPTON_MASS_MEV[11], LEPTON_MASS_MEV[13]) / 1000.0

    mass = sample_masses(model.density, n, rng)
    pt = np.empty((n, 4), np.float32)
    eta = np.empty((n, 4), np.float32)
    phi = np.empty((n, 4), np.float32)
    for category in CATEGORIES:
        idx = np.flatnonzero(categories == category)
        if idx.size:
            kin = draw_kinematics(category, mass[idx], lep_mass_gev[idx], model, rng)
            mass[idx], pt[idx], eta[idx], phi[idx] = kin

    # prompt isolation: ptcone30/pT mostly 0, etcone20/pT around 0 (can be negative)
    iso_pt = np.where(
        rng.random((n, 6)) < 0.65, 0.0, np.minimum(rng.exponential(0.04, (n, 6)), _ISO_PROMPT_MAX)
    )
    iso_et = np.clip(rng.normal(0.01, 0.03, (n, 6)), -0.1, _ISO_PROMPT_MAX)

    # single-cut failures that do not touch the kinematics
    which = _random_index(n, 4, rng)
    sel = categories == "charge"
    charge[rows[sel], which[sel]] *= -1
    sel = categories == "flavour"
    lep_type[rows[sel], which[sel]] = 24 - lep_type[rows[sel], which[sel]]  # 11 <-> 13
    fake = rng.uniform(*_ISO_FAKE_RANGE, n)
    sel = categories == "iso_pt"
    iso_pt[rows[sel], which[sel]] = fake[sel]
    sel = categories == "iso_et"
    iso_et[rows[sel], which[sel]] = fake[sel]

    # lepton multiplicity: "nlep" events lose a soft lepton or gain one or two extra soft ones
    extra = np.zeros(n, dtype=int)
    sel = categories == "nlep"
    extra[sel] = rng.choice([-1, 1, 2], size=int(sel.sum()), p=[0.4, 0.4, 0.2])
    pt6 = np.concatenate([pt, (rng.uniform(8.0, 18.0, (n, 2)) * 1000.0).astype(np.float32)], axis=1)
    eta6 = np.concatenate([eta, rng.uniform(-2.4, 2.4, (n, 2)).astype(np.float32)], axis=1)
    phi6 = np.concatenate([phi, rng.uniform(-np.pi, np.pi, (n, 2)).astype(np.float32)], axis=1)
    q_extra = np.where(rng.random(n) < 0.5, 1, -1)
    charge6 = np.concatenate([charge, np.stack([q_extra, -q_extra], axis=1)], axis=1)
    type6 = np.concatenate([lep_type, np.where(rng.random((n, 2)) < 0.5, 11, 13)], axis=1)
    valid = np.concatenate([np.ones((n, 4), bool), np.zeros((n, 2), bool)], axis=1)
    valid[:, 4] = extra >= 1
    valid[:, 5] = extra >= 2
    # drop a lepton other than the leading one
    order = np.argsort(-pt, axis=1, kind="stable")
    drop = order[rows, 1 + _random_index(n, 3, rng)]
    sel = extra == -1
    valid[rows[sel], drop[sel]] = False

    # sort by decreasing pT, invalid slots last
    key = np.where(valid, pt6, -1.0)
    order6 = np.argsort(-key, axis=1, kind="stable")

    def take(a: np.ndarray) -> np.ndarray:
        return np.take_along_axis(a, order6, axis=1)

    pt6, eta6, phi6, charge6, type6, valid = map(take, (pt6, eta6, phi6, charge6, type6, valid))
    iso_pt, iso_et = take(iso_pt), take(iso_et)
    energy6 = energy_mev(pt6, eta6, type6)
    counts = valid.sum(axis=1)

    # trigger: single-electron / single-muon triggers on a lepton above 25 GeV
    def fires(flavour: int) -> np.ndarray:
        return np.asarray(
            ((type6 == flavour) & valid & (pt6 > 25_000.0)).any(axis=1) & (rng.random(n) < 0.97)
        )

    trig_e, trig_m = fires(11), fires(13)
    neither = ~(trig_e | trig_m)
    trig_e |= neither & (type6[:, 0] == 11)
    trig_m |= neither & (type6[:, 0] == 13)
    sel = categories == "trigger"
    trig_e[sel] = False
    trig_m[sel] = False

    def jagged(a: np.ndarray, dtype: str) -> ak.Array:
        return ak.unflatten(a[valid].astype(dtype), counts)

    fields: dict[str, Any] = {
        "lep_n": counts.astype(BRANCHES["lep_n"][1]),
        "lep_pt": jagged(pt6, BRANCHES["lep_pt"][1]),
        "lep_eta": jagged(eta6, BRANCHES["lep_eta"][1]),
        "lep_phi": jagged(phi6, BRANCHES["lep_phi"][1]),
        "lep_E": jagged(energy6, BRANCHES["lep_E"][1]),
        "lep_charge": jagged(charge6, BRANCHES["lep_charge"][1]),
        "lep_type": jagged(type6, BRANCHES["lep_type"][1]),
        "lep_ptcone30": jagged(iso_pt * pt6, BRANCHES["lep_ptcone30"][1]),
        "lep_etcone20": jagged(iso_et * pt6, BRANCHES["lep_etcone20"][1]),
        "trigE": trig_e,
        "trigM": trig_m,
    }
    weights: dict[str, np.ndarray]
    if is_data:
        weights = {k: np.ones(n) for k in WEIGHT_BRANCHES}
    else:
        sign = np.where(rng.random(n) < model.negative_weight_fraction, -1.0, 1.0)
        spread = np.clip(1.0 + model.weight_spread * rng.standard_normal(n), 0.5, 1.5)

        def per_lepton_sf(flavour: int, width: float) -> np.ndarray:
            sf = np.clip(1.0 + width * rng.standard_normal((n, 6)), 0.9, 1.1)
            return np.asarray(np.prod(np.where(valid & (type6 == flavour), sf, 1.0), axis=1))

        weights = {
            "mcWeight": sign * spread,  # calibrated by the caller
            "scaleFactor_PILEUP": np.clip(rng.normal(1.0, 0.03, n), 0.85, 1.15),
            "scaleFactor_ELE": per_lepton_sf(11, 0.015),
            "scaleFactor_MUON": per_lepton_sf(13, 0.01),
            "scaleFactor_LepTRIGGER": np.clip(rng.normal(0.995, 0.005, n), 0.95, 1.02),
        }
    fields |= {k: np.asarray(v).astype(BRANCHES[k][1]) for k, v in weights.items()}
    fields["_m4l_stored"] = mass_from_stored(pt, eta, phi, energy_mev(pt, eta, lep_type))
    return fields, categories, mass


def in_window(m: np.ndarray) -> np.ndarray:
    """Whether masses (GeV) lie inside :data:`.shapes.TARGET_WINDOW_GEV` (open interval)."""
    return np.asarray((m > TARGET_WINDOW_GEV[0]) & (m < TARGET_WINDOW_GEV[1]))


def weight_product(fields: Mapping[str, Any]) -> np.ndarray:
    """Product of mcWeight and the four scale factors (float64)."""
    w = np.ones(len(fields["mcWeight"]))
    for k in WEIGHT_BRANCHES:
        w = w * np.asarray(fields[k], dtype=np.float64)
    return w


def _to_record(fields: Mapping[str, Any]) -> ak.Array:
    return ak.Array({k: fields[k] for k in BRANCHES})


def _expected_data_events(sample: Sample, config: AnalysisConfig) -> float:
    """Expected number of data events (all categories and masses) from the process of an MC sample."""
    model = process_model(sample)
    s_true = TRUE_NORMFACTORS["s_s" if sample.kind == "signal" else "s_b"]
    selected = s_true * model.target_yield * config.lumi_fb / REFERENCE_LUMI_FB
    return expected_events(model, selected)


def _generate_mc(
    sample: Sample, rng: np.random.Generator, n_events: int | None, scale: float
) -> GeneratedSample:
    model = process_model(sample)
    n = round(model.n_events * scale) if n_events is None else int(n_events)
    if n < 1:
        msg = (
            f"need at least one event for sample {sample.name!r}, got n_events={n} (scale={scale})"
        )
        raise ConfigError(msg)
    fields, categories, mass = _build_events(model, n, rng, is_data=False)
    # calibrate mcWeight: yield of the report's selection in the target window at the reference luminosity
    selected = np.isin(categories, REPORT_CATEGORIES) & in_window(fields["_m4l_stored"])
    raw = float(weight_product(fields)[selected].sum()) * sample.xsec_weight(REFERENCE_LUMI_FB)
    if not raw > 0:
        msg = f"too few selected events generated for sample {sample.name!r} (n_events={n}): raise n_events or scale"
        raise ConfigError(msg)
    factor = model.target_yield / raw
    fields["mcWeight"] = (np.asarray(fields["mcWeight"], np.float64) * factor).astype(np.float32)
    process = np.full(n, sample.name)
    return GeneratedSample(_to_record(fields), categories, mass, process)


def _generate_data(config: AnalysisConfig, rng: np.random.Generator) -> GeneratedSample:
    parts = []
    for mc in config.mc_samples:
        n = int(rng.poisson(_expected_data_events(mc, config)))
        if n == 0:
            continue
        fields, categories, mass = _build_events(process_model(mc), n, rng, is_data=True)
        parts.append((fields, categories, mass, np.full(n, mc.name)))
    if not parts:
        msg = (
            "no data events were generated: the expected yields of the configuration are too small"
        )
        raise ConfigError(msg)
    perm = rng.permutation(sum(p[1].size for p in parts))
    events = ak.concatenate([_to_record(p[0]) for p in parts])[perm]
    categories = np.concatenate([p[1] for p in parts])[perm]
    mass = np.concatenate([p[2] for p in parts])[perm]
    process = np.concatenate([p[3] for p in parts])[perm]
    return GeneratedSample(events, categories, mass, process)


def generate_events(
    sample: Sample,
    config: AnalysisConfig,
    rng: np.random.Generator,
    *,
    n_events: int | None = None,
    scale: float = 1.0,
) -> GeneratedSample:
    """Generate the events of one sample in memory.

    For an MC sample, ``n_events`` (default: the model's number times
    ``scale``) events of its process with calibrated mcWeights; for a data
    sample, unweighted events of every MC process of ``config`` with a Poisson
    number of events per process (``n_events`` and ``scale`` do not apply).

    Args:
        sample: the sample (from ``config``).
        config: the analysis configuration (luminosity, the MC samples for data).
        rng: the random generator; the result is a deterministic function of its state.
        n_events: number of MC events to generate.
        scale: multiplies the default number of MC events.

    Returns:
        The events, their categories, generated masses and processes.

    Raises:
        ConfigError: if the sample cannot be generated as asked.
    """
    if sample.is_data:
        return _generate_data(config, rng)
    return _generate_mc(sample, rng, n_events, scale)


def generate_sample(
    sample: Sample,
    config: AnalysisConfig,
    rng: np.random.Generator,
    *,
    n_events: int | None = None,
    scale: float = 1.0,
) -> tuple[ak.Array, np.ndarray]:
    """Generate the events of one sample in memory: ``(events, categories)``.

    ``events`` has the fields of :data:`higgs_pyhf.build.ntuples.BRANCHES` (MeV), as
    read from a file; ``categories[i]`` is ``"pass"`` or the one cut of the
    intended selection event ``i`` was built to fail (:data:`CATEGORIES`).
    See :func:`generate_events` for the arguments.
    """
    generated = generate_events(sample, config, rng, n_events=n_events, scale=scale)
    return generated.events, generated.categories


def m4l_of_events(events: ak.Array) -> np.ndarray:
    """m4l (GeV) of the first four leptons of each event, NaN for events with fewer than four."""
    has4 = np.asarray(events["lep_n"]) >= 4
    m = np.full(len(events), np.nan)
    if has4.any():
        sub = events[has4]

        def first4(name: str) -> np.ndarray:
            return np.asarray(ak.to_numpy(ak.pad_none(sub[name], 4, clip=True)).astype(np.float32))

        m[has4] = mass_from_stored(
            first4("lep_pt"), first4("lep_eta"), first4("lep_phi"), first4("lep_E")
        )
    return m
