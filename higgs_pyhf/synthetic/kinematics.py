"""Four-lepton kinematics: decays, boosts, acceptance, stored four-vectors.

Each event is a 4ℓ system of mass m (drawn from its process's m4l density),
decayed to Z1 (near m_Z) and Z2 (off-shell below 2·m_Z), each Z to two
leptons isotropically in its rest frame, then boosted to the lab with some pT
and rapidity. :func:`draw_kinematics` redraws the decay until every event
meets the kinematic requirements of its category (pass every pT and |η| cut,
or fail exactly one of them). Lepton energies follow from the stored pT, η
and the lepton mass (:func:`energy_mev`), so E² ≥ p² holds in float32 and
the m4l recomputed from the stored (pT, η, φ, E) equals m to float32
precision (:func:`mass_from_stored`).
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import numpy as np

from .models import ProcessModel
from .shapes import GAMMA_Z, M_Z, sample_masses

__all__ = [
    "LEPTON_MASS_MEV",
    "Kinematics",
    "draw_kinematics",
    "energy_mev",
    "mass_from_stored",
]

log = logging.getLogger(__name__)

#: Lepton masses (MeV) by lep_type (11: electron, 13: muon).
LEPTON_MASS_MEV = {11: 0.51099895, 13: 105.6583755}
# Selection thresholds (MeV) the categories are built around.
_PT_LEAD_MEV = 20_000.0
_PT_MIN_MEV = 7_000.0
_ETA_MAX = 2.5
_ETA_FAIL_MAX = 2.7  # leptons failing the |η| cut still lie inside the muon spectrometer
_PT_FLOOR_MEV = 4_000.0  # softest lepton of the "pt_min" events
_MAX_DRAWS = 200
_MAX_CANDIDATES = 200_000  # candidate events per draw
_E_MARGIN = 4e-7  # relative upward margin on E so that E² ≥ p² survives float32 arithmetic


def _two_body_momentum(m: np.ndarray, ma: np.ndarray, mb: np.ndarray) -> np.ndarray:
    arg = (m**2 - (ma + mb) ** 2) * (m**2 - (ma - mb) ** 2)
    return np.asarray(np.sqrt(np.clip(arg, 0.0, None)) / (2.0 * m))


def _isotropic(
    p: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cos_t = rng.uniform(-1.0, 1.0, p.size)
    sin_t = np.sqrt(1.0 - cos_t**2)
    phi = rng.uniform(0.0, 2.0 * np.pi, p.size)
    return p * sin_t * np.cos(phi), p * sin_t * np.sin(phi), p * cos_t


def _boost(p4: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """Boost four-vectors (…, 4: px, py, pz, E) from the rest frame of ``parent`` to the frame where it has momentum ``parent``."""
    mass = np.sqrt(np.clip(parent[..., 3] ** 2 - (parent[..., :3] ** 2).sum(axis=-1), 1e-12, None))
    gamma = parent[..., 3] / mass
    beta = parent[..., :3] / parent[..., 3:4]
    bp = (beta * p4[..., :3]).sum(axis=-1)
    coef = gamma**2 / (gamma + 1.0) * bp + gamma * p4[..., 3]
    out = np.empty_like(p4)
    out[..., :3] = p4[..., :3] + coef[..., None] * beta
    out[..., 3] = gamma * (p4[..., 3] + bp)
    return out


def _two_body_decay(
    parent: np.ndarray,
    m_parent: np.ndarray,
    m_a: np.ndarray,
    m_b: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic two-body decay in the parent's rest frame, boosted to the frame of ``parent`` (n, 4)."""
    p = _two_body_momentum(m_parent, m_a, m_b)
    px, py, pz = _isotropic(p, rng)
    a = np.stack([px, py, pz, np.sqrt(p**2 + m_a**2)], axis=-1)
    b = np.stack([-px, -py, -pz, np.sqrt(p**2 + m_b**2)], axis=-1)
    return _boost(a, parent), _boost(b, parent)


def _four_leptons(
    mass: np.ndarray,
    lep_mass: np.ndarray,
    rng: np.random.Generator,
    *,
    system_pt_mean: float,
    rapidity_sigma: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leptons of 4ℓ systems of mass ``mass`` (GeV): (pT [GeV], η, φ), each of shape (n, 4).

    ``lep_mass`` (n, 4) holds the lepton masses (GeV); leptons 0, 1 come from Z1
    and 2, 3 from Z2.
    """
    n = mass.size
    # Z masses: Breit-Wigner around m_Z, Z1 below a random fraction of m, Z2 below the rest
    m1 = np.abs(M_Z + 0.5 * GAMMA_Z * np.tan(np.pi * (rng.random(n) - 0.5)))
    m1 = np.clip(m1, 10.0, rng.uniform(0.55, 0.9, n) * mass)
    m2 = np.abs(M_Z + 0.5 * GAMMA_Z * np.tan(np.pi * (rng.random(n) - 0.5)))
    # m2 >= 3 GeV always fits, as m1 <= 0.9 m and m >= 60 GeV
    m2 = np.minimum(np.maximum(m2, 3.0), (mass - m1) * rng.uniform(0.5, 1.0, n))
    # the 4l system in the lab
    pt = rng.gamma(1.5, system_pt_mean / 1.5, n)
    y = rng.normal(0.0, rapidity_sigma, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    mt = np.sqrt(mass**2 + pt**2)
    system = np.stack(
        [pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(y), mt * np.cosh(y)], axis=-1
    )
    z1, z2 = _two_body_decay(system, mass, m1, m2, rng)
    l1, l2 = _two_body_decay(z1, m1, lep_mass[:, 0], lep_mass[:, 1], rng)
    l3, l4 = _two_body_decay(z2, m2, lep_mass[:, 2], lep_mass[:, 3], rng)
    leptons = np.stack([l1, l2, l3, l4], axis=1)  # (n, 4 leptons, 4 components)
    lep_pt = np.hypot(leptons[..., 0], leptons[..., 1])
    return (
        lep_pt,
        np.arcsinh(leptons[..., 2] / lep_pt),
        np.arctan2(leptons[..., 1], leptons[..., 0]),
    )


def _accepts(category: str, pt_mev: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Whether stored (float32) kinematics fit the category's kinematic requirements."""
    lead = pt_mev.max(axis=1) > _PT_LEAD_MEV
    all_pt = pt_mev.min(axis=1) > _PT_MIN_MEV
    abs_eta = np.abs(eta).max(axis=1)
    eta_ok = abs_eta < _ETA_MAX
    if category == "pt_lead":
        return np.asarray(~lead & all_pt & eta_ok)
    if category == "pt_min":
        return np.asarray(lead & ~all_pt & (pt_mev.min(axis=1) > _PT_FLOOR_MEV) & eta_ok)
    if category == "eta":
        return np.asarray(lead & all_pt & ~eta_ok & (abs_eta < _ETA_FAIL_MAX))
    return np.asarray(lead & all_pt & eta_ok)


def _forward_shift(
    pt: np.ndarray, eta: np.ndarray, lep_mass: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Boost 4ℓ systems along the beam so that their most forward lepton has |η| in (2.52, 2.68).

    A longitudinal boost keeps every pT and the 4ℓ mass: rapidities shift by
    the same amount. Returns the new η (n, 4).
    """
    side = np.where(rng.random(pt.shape[0]) < 0.5, 1.0, -1.0)[:, None]
    target = rng.uniform(2.52, 2.68, (pt.shape[0], 1))
    shift = side * (target - (side * eta).max(axis=1, keepdims=True))
    mt = np.sqrt(pt**2 + lep_mass**2)
    rapidity = np.arcsinh(pt * np.sinh(eta) / mt) + shift
    return np.asarray(np.arcsinh(mt * np.sinh(rapidity) / pt))


class Kinematics(NamedTuple):
    """The four primary leptons of a batch of events, as they will be stored.

    Attributes:
        mass: generated 4ℓ mass per event (GeV, float64).
        pt: lepton pT (MeV, float32), shape (n, 4).
        eta: lepton η (float32), shape (n, 4).
        phi: lepton φ (float32), shape (n, 4).
    """

    mass: np.ndarray
    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray


def draw_kinematics(
    category: str,
    mass: np.ndarray,
    lep_mass: np.ndarray,
    model: ProcessModel,
    rng: np.random.Generator,
) -> Kinematics:
    """Draw decays until every event satisfies the category's kinematic requirements.

    Events of kinematically passing categories keep their mass (so the m4l of
    the selected events follows the model's density exactly) and are redrawn
    in angles and boost (the ``eta`` events are then boosted forward along
    the beam); events built to fail a pT cut are redrawn entirely (the soft
    ``pt_lead`` events from a low-mass spectrum).
    """
    n = mass.size
    mass = mass.copy()
    pt = np.empty((n, 4), np.float32)
    eta = np.empty((n, 4), np.float32)
    phi = np.empty((n, 4), np.float32)
    redraw_mass = category in ("pt_lead", "pt_min")
    pt_mean = 4.0 if category == "pt_lead" else model.system_pt_mean
    pending = np.arange(n)
    tries = 1  # candidates drawn per pending event, adapted to the acceptance
    n_candidates = 0
    for draw in range(_MAX_DRAWS):
        if pending.size == 0:
            log.debug(
                "%d %r events built in %d draws, %d candidates", n, category, draw, n_candidates
            )
            break
        cand = np.repeat(pending, tries)
        if category == "pt_lead":
            cand_mass = rng.uniform(50.0, 70.0, cand.size)
        elif redraw_mass:
            cand_mass = sample_masses(model.density, cand.size, rng)
        else:
            cand_mass = mass[cand]
        p, e, f = _four_leptons(
            cand_mass,
            lep_mass[cand],
            rng,
            system_pt_mean=pt_mean,
            rapidity_sigma=model.rapidity_sigma,
        )
        if category == "eta":
            e = _forward_shift(p, e, lep_mass[cand], rng)
        p32 = (p * 1000.0).astype(np.float32)
        e32 = e.astype(np.float32)
        ok = _accepts(category, p32, e32)
        ok_rows = ok.reshape(pending.size, tries)
        found = ok_rows.any(axis=1)
        first = np.flatnonzero(found) * tries + ok_rows.argmax(axis=1)[found]
        done = pending[found]
        mass[done], pt[done], eta[done] = cand_mass[first], p32[first], e32[first]
        phi[done] = f[first].astype(np.float32)
        pending = pending[~found]
        acceptance = max(float(ok.mean()), 1e-3)
        n_candidates += cand.size
        tries = int(
            np.clip(np.ceil(1.5 / acceptance), 1, max(1, _MAX_CANDIDATES // max(pending.size, 1)))
        )
    if pending.size:  # pragma: no cover - would be a bug in the models
        msg = (
            f"could not build {pending.size} events of category {category!r} in {_MAX_DRAWS} draws"
        )
        raise RuntimeError(msg)
    return Kinematics(mass, pt, eta, phi)


def energy_mev(pt: np.ndarray, eta: np.ndarray, lep_type: np.ndarray) -> np.ndarray:
    """Lepton energies (MeV, float32) from the stored pT and η and the lepton mass, with E ≥ |p|."""
    mass = np.where(lep_type == 11, LEPTON_MASS_MEV[11], LEPTON_MASS_MEV[13])
    p = pt.astype(np.float64) * np.cosh(eta.astype(np.float64))
    energy = np.sqrt(p**2 + mass**2) * (1.0 + _E_MARGIN)
    e32 = energy.astype(np.float32)
    return np.where(e32 < energy, np.nextafter(e32, np.float32(np.inf)), e32)


def mass_from_stored(
    pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, energy: np.ndarray
) -> np.ndarray:
    """Invariant mass (GeV) of the leptons along the last axis, float64 arithmetic on stored values."""
    pt64 = pt.astype(np.float64)
    px = (pt64 * np.cos(phi)).sum(axis=-1)
    py = (pt64 * np.sin(phi)).sum(axis=-1)
    pz = (pt64 * np.sinh(eta.astype(np.float64))).sum(axis=-1)
    e = energy.astype(np.float64).sum(axis=-1)
    return np.asarray(np.sqrt(np.clip(e**2 - px**2 - py**2 - pz**2, 0.0, None)) / 1000.0)
