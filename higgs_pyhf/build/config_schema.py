"""The JSON schema of an analysis configuration (:data:`CONFIG_SCHEMA`) and of its ``systematics`` section.

Structural checks only (types, names, ranges); the semantic ones, whose
messages name the offending entry, live in :mod:`higgs_pyhf.build.config`
and :func:`higgs_pyhf.build.systematics.parse_systematics` (known samples,
one source per shape systematic, ntuple or template samples, finite numbers).
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = [
    "CONFIG_SCHEMA",
    "FLAVOURS",
    "MAX_BINS",
    "MAX_SHIFT",
    "SCALE_FACTOR_BRANCHES",
    "SYSTEMATICS_SCHEMA",
    "config_validator",
]

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

#: Most bins an observable may have (a histogram per sample and chunk is made of them).
MAX_BINS = 10_000

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["tree", "lumi_fb", "observable", "samples"],
    "properties": {
        "description": {"type": "string"},
        "tree": {"type": "string", "minLength": 1},
        "lumi_fb": {"type": "number", "exclusiveMinimum": 0},
        "observable": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "label": {"type": "string"},
                "nbins": {"type": "integer", "minimum": 1, "maximum": MAX_BINS},
                "low": {"type": "number"},
                "high": {"type": "number"},
                "edges": {
                    "type": "array",
                    "items": {"type": "number"},
                    "minItems": 2,
                    "maxItems": MAX_BINS + 1,
                },
            },
            "additionalProperties": False,
        },
        "samples": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "kind"],
                "properties": {
                    "name": {"type": "string", "pattern": "^[A-Za-z0-9_]+$"},
                    "kind": {"enum": ["signal", "background", "data"]},
                    "files": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "template": {
                        "type": "object",
                        "required": ["file", "selection"],
                        "properties": {
                            "file": {"type": "string", "minLength": 1},
                            "histogram": {"type": "string", "minLength": 1},
                            "selection": {"enum": ["intended", "report"]},
                        },
                        "additionalProperties": False,
                    },
                    "dsid": {"type": "integer"},
                    "xsec_pb": {"type": "number", "exclusiveMinimum": 0},
                    "sumw": {"type": "number", "exclusiveMinimum": 0},
                    "red_eff": {"type": "number", "exclusiveMinimum": 0},
                },
                "additionalProperties": False,
                "oneOf": [{"required": ["files"]}, {"required": ["template"]}],
            },
        },
        "systematics": SYSTEMATICS_SCHEMA,
    },
    "additionalProperties": False,
}


@functools.cache
def config_validator() -> Any:
    """The jsonschema validator of :data:`CONFIG_SCHEMA`, built once (the tests check the schema)."""
    import jsonschema

    return jsonschema.validators.validator_for(CONFIG_SCHEMA)(CONFIG_SCHEMA)
