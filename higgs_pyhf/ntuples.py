"""Reading ATLAS Open Data 13 TeV (2020 release) 4-lepton ntuples with uproot.

Schema of the ``mini`` tree (energies and momenta in MeV), as used by the
selection: see :data:`BRANCHES`.
"""

from __future__ import annotations

__all__ = ["BRANCHES", "DATA_BRANCHES", "MC_BRANCHES", "TREE"]

TREE = "mini"

#: Branch name → (jagged per-lepton?, numpy dtype in the ATLAS files).
BRANCHES: dict[str, tuple[bool, str]] = {
    "lep_n": (False, "uint32"),
    "lep_pt": (True, "float32"),
    "lep_eta": (True, "float32"),
    "lep_phi": (True, "float32"),
    "lep_E": (True, "float32"),
    "lep_charge": (True, "int32"),
    "lep_type": (True, "uint32"),
    "lep_ptcone30": (True, "float32"),
    "lep_etcone20": (True, "float32"),
    "trigE": (False, "bool"),
    "trigM": (False, "bool"),
    "mcWeight": (False, "float32"),
    "scaleFactor_PILEUP": (False, "float32"),
    "scaleFactor_ELE": (False, "float32"),
    "scaleFactor_MUON": (False, "float32"),
    "scaleFactor_LepTRIGGER": (False, "float32"),
}

_WEIGHT_BRANCHES = (
    "mcWeight",
    "scaleFactor_PILEUP",
    "scaleFactor_ELE",
    "scaleFactor_MUON",
    "scaleFactor_LepTRIGGER",
)

#: Branches the selection reads from MC files.
MC_BRANCHES: tuple[str, ...] = tuple(BRANCHES)
#: Branches the selection reads from data files (no weights needed).
DATA_BRANCHES: tuple[str, ...] = tuple(b for b in BRANCHES if b not in _WEIGHT_BRANCHES)
