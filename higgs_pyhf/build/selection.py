"""The four-lepton event selection and m4l: pure functions on awkward arrays.

Input is an awkward record array with the ntuple branches of
:mod:`higgs_pyhf.build.ntuples` (energies in MeV). Two selections are available:

``"intended"`` (default)
    exactly four leptons; charge sum 0; lepton-type sum 44, 48 or 52 (4e,
    2e2μ, 4μ); leading pT > 20 GeV and every pT > 7 GeV; every |η| < 2.5;
    every ptcone30/pT < 0.3 *and* etcone20/pT < 0.3; trigger ``trigE or
    trigM``.

``"report"``
    the seed report's code exactly: the same cuts except that the
    isolation cut tests ``ptcone30/pT < 0.3`` twice and never
    ``etcone20/pT`` (so ``iso_et`` is not applied), and the trigger
    requirement is computed but never applied (``trigger`` is not applied).
    Use it to reproduce the report's numbers.

Each cut is a named boolean mask (:data:`CUT_NAMES`); the cuts on lepton
quantities are evaluated for events with exactly four leptons and fail for
any other lepton count (the report's ``max``/``min`` formulation gives the
same result on four-lepton events, and its event selection also requires four
leptons). The cutflow (:func:`make_cutflow`) applies the cuts cumulatively in
the order of :data:`SELECTIONS` (:mod:`higgs_pyhf.build.cutflows`).

m4l is computed with plain array arithmetic in float64 from the four
leptons' (pT, η, φ, E): p = Σ pT(cos φ, sin φ, sinh η), m = sqrt(max(E² − p², 0)),
returned in GeV (the tests check it against the ``vector`` library).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import awkward as ak
import numpy as np

from ..errors import SelectionError

__all__ = [
    "CUT_NAMES",
    "ETA_MAX",
    "FLAVOUR_SUMS",
    "ISO_MAX",
    "KINEMATIC_BRANCHES",
    "PT_LEAD_MEV",
    "PT_MIN_MEV",
    "SELECTIONS",
    "Selection",
    "check_selection",
    "cut_masks",
    "four_lepton_mass",
    "nonfinite_kinematics",
    "select",
]

#: Leading-lepton pT threshold (MeV, strict).
PT_LEAD_MEV = 20_000.0
#: Threshold on every lepton's pT (MeV, strict).
PT_MIN_MEV = 7_000.0
#: |η| limit of every lepton (strict).
ETA_MAX = 2.5
#: Relative isolation limit (ptcone30/pT and etcone20/pT, strict).
ISO_MAX = 0.3
#: Allowed sums of lep_type (11 = e, 13 = μ): 4e, 2e2μ, 4μ.
FLAVOUR_SUMS = (44, 48, 52)

#: Every cut, in cutflow order, with what it requires.
CUT_NAMES: dict[str, str] = {
    "nlep": "exactly 4 leptons",
    "charge": "sum of lepton charges is 0",
    "flavour": "sum of lep_type is 44, 48 or 52 (4e, 2e2mu, 4mu)",
    "pt_lead": "leading lepton pT > 20 GeV",
    "pt_min": "every lepton pT > 7 GeV",
    "eta": "every lepton |eta| < 2.5",
    "iso_pt": "every lepton ptcone30/pT < 0.3",
    "iso_et": "every lepton etcone20/pT < 0.3",
    "trigger": "trigE or trigM fired",
}

#: Selection name → the cuts it applies, in cutflow order.
SELECTIONS: dict[str, tuple[str, ...]] = {
    "intended": tuple(CUT_NAMES),
    "report": ("nlep", "charge", "flavour", "pt_lead", "pt_min", "eta", "iso_pt"),
}

_LEPTON_FIELDS = (
    "lep_pt",
    "lep_eta",
    "lep_phi",
    "lep_E",
    "lep_charge",
    "lep_type",
    "lep_ptcone30",
    "lep_etcone20",
)
_EVENT_FIELDS = ("lep_n", "trigE", "trigM")


def check_selection(selection: str) -> tuple[str, ...]:
    """Return the cuts of a selection name.

    Raises:
        SelectionError: if the name is not one of :data:`SELECTIONS` (:mod:`higgs_pyhf.build.cutflows`).
    """
    try:
        return SELECTIONS[selection]
    except KeyError:
        msg = f"unknown selection {selection!r}; expected one of {sorted(SELECTIONS)}"
        raise SelectionError(msg) from None


def _check_fields(events: ak.Array, fields: Iterable[str]) -> None:
    have = set(ak.fields(events))
    missing = [f for f in fields if f not in have]
    if missing:
        msg = f"events lack the field(s) {missing} needed by the selection"
        raise SelectionError(msg)


def _jagged_parts(col: ak.Array, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(offsets, flat values)`` of a jagged numeric array, without copying when possible."""
    layout = ak.to_layout(col)
    if isinstance(layout, ak.contents.ListOffsetArray) and isinstance(
        layout.content, ak.contents.NumpyArray
    ):
        return np.asarray(layout.offsets.data), np.asarray(layout.content.data)
    try:
        counts = ak.to_numpy(ak.num(col, axis=1))
        flat = ak.to_numpy(ak.flatten(col, axis=1))
    except (ValueError, TypeError, ak.errors.AxisError) as err:
        msg = f"field {name} is not a list of numbers per event: {err}"
        raise SelectionError(msg) from None
    return np.concatenate([[0], np.cumsum(counts)]), flat


class _Leptons:
    """Per-lepton fields of a batch as flat numpy arrays, gathered as (4, n) for four-lepton events.

    The (4, n) layout keeps each lepton slot contiguous, so per-event sums,
    minima and maxima are three element-wise operations.
    """

    def __init__(self, events: ak.Array, fields: Iterable[str]) -> None:
        offsets, _ = _jagged_parts(events["lep_pt"], "lep_pt")
        counts = np.diff(offsets)
        self.n_events = len(counts)
        self.starts = offsets[:-1]
        self.rows = np.flatnonzero((counts == 4) & (ak.to_numpy(events["lep_n"]) == 4))
        self.flat: dict[str, np.ndarray] = {}
        for f in fields:
            off, flat = _jagged_parts(events[f], f)
            same = off is offsets or np.array_equal(off, offsets)
            if not same and not np.array_equal(np.diff(off), counts):
                msg = f"branch {f} has a different number of entries per event than lep_pt"
                raise SelectionError(msg)
            shift = int(off[0] - offsets[0]) if len(off) else 0
            self.flat[f] = (
                flat[shift:] if shift >= 0 else np.concatenate([np.zeros(-shift, flat.dtype), flat])
            )
        self._index = self.index(self.rows)

    def index(self, rows: np.ndarray) -> np.ndarray:
        """(4, len(rows)) positions in the flat arrays of the leptons of four-lepton events ``rows``."""
        return self.starts[rows] + np.arange(4)[:, np.newaxis]

    def four(self, field: str, index: np.ndarray | None = None) -> np.ndarray:
        """(4, n) values of ``field`` for the four-lepton events (or the events of ``index``)."""
        return self.flat[field][self._index if index is None else index]


def _lepton_cuts(lep: _Leptons, cuts: Iterable[str]) -> dict[str, np.ndarray]:
    """The lepton-level cuts of the four-lepton events; one boolean per such event."""
    out: dict[str, np.ndarray] = {}
    pt = lep.four("lep_pt")
    for cut in cuts:
        if cut == "charge":
            q = lep.four("lep_charge").astype(np.int64)
            out[cut] = (q[0] + q[1] + q[2] + q[3]) == 0
        elif cut == "flavour":
            t = lep.four("lep_type").astype(np.int64)
            total = t[0] + t[1] + t[2] + t[3]
            out[cut] = (
                (total == FLAVOUR_SUMS[0]) | (total == FLAVOUR_SUMS[1]) | (total == FLAVOUR_SUMS[2])
            )
        elif cut == "pt_lead":
            out[cut] = np.maximum(np.maximum(pt[0], pt[1]), np.maximum(pt[2], pt[3])) > PT_LEAD_MEV
        elif cut == "pt_min":
            out[cut] = np.minimum(np.minimum(pt[0], pt[1]), np.minimum(pt[2], pt[3])) > PT_MIN_MEV
        elif cut == "eta":
            ok = np.abs(lep.four("lep_eta")) < ETA_MAX
            out[cut] = ok[0] & ok[1] & ok[2] & ok[3]
        elif cut in ("iso_pt", "iso_et"):
            cone = lep.four("lep_ptcone30" if cut == "iso_pt" else "lep_etcone20")
            with np.errstate(divide="ignore", invalid="ignore"):
                ok = cone / pt < ISO_MAX
            out[cut] = ok[0] & ok[1] & ok[2] & ok[3]
    return out


#: Per-lepton float branches that must be finite (a NaN fails every comparison, so
#: an event with one would silently fail the cuts).
KINEMATIC_BRANCHES = ("lep_pt", "lep_eta", "lep_phi", "lep_E", "lep_ptcone30", "lep_etcone20")


def nonfinite_kinematics(events: ak.Array) -> tuple[str, int, int] | None:
    """The first lepton branch with non-finite values: (branch, first event index, count), or None."""
    fields = set(ak.fields(events))
    for branch in KINEMATIC_BRANCHES:
        if branch not in fields:
            continue
        ok = ak.to_numpy(ak.all(np.isfinite(events[branch]), axis=1))
        if not ok.all():
            return branch, int(np.flatnonzero(~ok)[0]), int((~ok).sum())
    return None


def cut_masks(events: ak.Array, *, selection: str = "intended") -> dict[str, np.ndarray]:
    """Evaluate every cut of a selection independently on every event.

    Args:
        events: awkward record array with the ntuple branches (MeV).
        selection: ``"intended"`` or ``"report"`` (see the module docstring).

    Returns:
        Cut name → boolean numpy array (one entry per event), in cutflow
        order. Lepton cuts are False for events without exactly four leptons.

    Raises:
        SelectionError: on an unknown selection or missing fields.
    """
    return _evaluate(events, selection)[0]


def _evaluate(events: ak.Array, selection: str) -> tuple[dict[str, np.ndarray], _Leptons]:
    cuts = check_selection(selection)
    _check_fields(events, _LEPTON_FIELDS + _EVENT_FIELDS)
    fields = ["lep_pt", "lep_eta", "lep_phi", "lep_E", "lep_charge", "lep_type", "lep_ptcone30"]
    if "iso_et" in cuts:
        fields.append("lep_etcone20")
    lep = _Leptons(events, fields)
    sub = _lepton_cuts(lep, cuts)
    masks: dict[str, np.ndarray] = {}
    for cut in cuts:
        m = np.zeros(lep.n_events, dtype=bool)
        if cut == "nlep":
            m[lep.rows] = True
        elif cut == "trigger":
            m = ak.to_numpy(events["trigE"]).astype(bool) | ak.to_numpy(events["trigM"]).astype(
                bool
            )
        else:
            m[lep.rows] = sub[cut]
        masks[cut] = m
    return masks, lep


def _mass_gev(lep: _Leptons, rows: np.ndarray) -> np.ndarray:
    """m4l (GeV) of the four-lepton events ``rows``.

    cos φ and sin φ are evaluated in float32 (the precision of the stored φ;
    numpy vectorises them), sinh η = (e^η − e^−η)/2 and the four-vector sums
    and the mass in float64.
    """
    index = lep.index(rows)
    pt = lep.four("lep_pt", index)
    eta = lep.four("lep_eta", index)
    phi = lep.four("lep_phi", index)
    energy = lep.four("lep_E", index)

    def total(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float64)
        return x[0] + x[1] + x[2] + x[3]  # type: ignore[no-any-return]

    px = total(pt * np.cos(phi))
    py = total(pt * np.sin(phi))
    exp_eta = np.exp(eta.astype(np.float64))
    pz = total(pt * (0.5 * (exp_eta - 1.0 / exp_eta)))
    e = total(energy)
    m2 = e * e - (px * px + py * py + pz * pz)
    return np.sqrt(np.maximum(m2, 0.0)) / 1000.0


def four_lepton_mass(events: ak.Array) -> np.ndarray:
    """Invariant mass of the four leptons in GeV (NaN for events without exactly four).

    Args:
        events: awkward record array with ``lep_n``, ``lep_pt``, ``lep_eta``,
            ``lep_phi``, ``lep_E`` (MeV).

    Returns:
        float64 numpy array, one entry per event.
    """
    _check_fields(events, ("lep_n", "lep_pt", "lep_eta", "lep_phi", "lep_E"))
    lep = _Leptons(events, ("lep_pt", "lep_eta", "lep_phi", "lep_E"))
    out = np.full(len(events), np.nan)
    out[lep.rows] = _mass_gev(lep, lep.rows)
    return out


class Selection(NamedTuple):
    """The outcome of the selection on a batch of events.

    Attributes:
        selection: the selection name.
        masks: cut name → per-event pass mask (each cut on its own), cutflow order.
        passed: per-event mask of events passing every cut.
        m4l: four-lepton mass in GeV of the passing events, in event order.
    """

    selection: str
    masks: dict[str, np.ndarray]
    passed: np.ndarray
    m4l: np.ndarray


def select(events: ak.Array, *, selection: str = "intended") -> Selection:
    """Apply a selection and compute m4l of the selected events.

    Args:
        events: awkward record array with the ntuple branches (MeV).
        selection: ``"intended"`` or ``"report"``.

    Returns:
        The per-cut masks, the combined mask and m4l (GeV) of the passing events.

    Raises:
        SelectionError: on an unknown selection, missing fields or
            inconsistent lepton multiplicities.
    """
    masks, lep = _evaluate(events, selection)
    passed = np.ones(lep.n_events, dtype=bool)
    for m in masks.values():
        passed &= m
    m4l = _mass_gev(lep, np.flatnonzero(passed))
    return Selection(selection, masks, passed, m4l)
