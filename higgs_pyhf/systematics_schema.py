"""The JSON schema of a configuration's ``systematics`` section (see :mod:`higgs_pyhf.systematics`).

The schema checks types, names and ranges; :func:`higgs_pyhf.systematics.parse_systematics`
then checks what a schema cannot (known samples, one source per shape
systematic, ntuple or template samples, finite numbers) and names the entry.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FLAVOURS", "MAX_SHIFT", "SCALE_FACTOR_BRANCHES", "SYSTEMATICS_SCHEMA"]

#: Lepton flavour name → ``lep_type`` code.
FLAVOURS: dict[str, int] = {"electron": 11, "muon": 13}
#: Largest lepton-scale shift accepted (a 20% scale is not a calibration uncertainty).
MAX_SHIFT = 0.2
#: Scale-factor branches that a weight variation may vary → the flavour they correct.
SCALE_FACTOR_BRANCHES: dict[str, str] = {
    "scaleFactor_ELE": "electron",
    "scaleFactor_MUON": "muon",
}

_APPLIES = {
    "kinds": {
        "type": "array",
        "items": {"enum": ["signal", "background"]},
        "minItems": 1,
        "uniqueItems": True,
    },
    "samples": {
        "type": "array",
        "items": {"type": "string"},
        "minItems": 1,
        "uniqueItems": True,
    },
}

SYSTEMATICS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["entries"],
    "properties": {
        "description": {"type": "string"},
        "prune_threshold": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
        "entries": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "type"],
                "properties": {
                    "name": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]*$"},
                    "type": {"enum": ["lumi", "normsys", "staterror", "histosys"]},
                    "description": {"type": "string"},
                    **_APPLIES,
                    "uncertainty": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                    "hi": {"type": "number", "exclusiveMinimum": 0},
                    "lo": {"type": "number", "exclusiveMinimum": 0},
                    "lepton_scale": {
                        "type": "object",
                        "required": ["flavour", "uncertainty"],
                        "properties": {
                            "flavour": {"enum": sorted(FLAVOURS)},
                            "uncertainty": {
                                "type": "number",
                                "exclusiveMinimum": 0,
                                "maximum": MAX_SHIFT,
                            },
                        },
                        "additionalProperties": False,
                    },
                    "scale_factor": {
                        "type": "object",
                        "required": ["branch", "uncertainty_per_lepton"],
                        "properties": {
                            "branch": {"enum": sorted(SCALE_FACTOR_BRANCHES)},
                            "uncertainty_per_lepton": {
                                "type": "number",
                                "exclusiveMinimum": 0,
                                "maximum": MAX_SHIFT,
                            },
                        },
                        "additionalProperties": False,
                    },
                    "template": {
                        "type": "object",
                        "required": ["up", "down"],
                        "properties": {
                            "file": {"type": "string", "minLength": 1},
                            "up": {"type": "string", "minLength": 1},
                            "down": {"type": "string", "minLength": 1},
                        },
                        "additionalProperties": False,
                    },
                },
                "additionalProperties": False,
                "not": {"required": ["kinds", "samples"]},
            },
        },
    },
    "additionalProperties": False,
}
