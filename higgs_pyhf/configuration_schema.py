"""JSON schema of an analysis configuration (:data:`CONFIG_SCHEMA`).

Structural checks only; the semantic ones, whose messages name the offending
entry, live in :mod:`higgs_pyhf.configuration`.
"""

from __future__ import annotations

from typing import Any

from .systematics_schema import SYSTEMATICS_SCHEMA

__all__ = ["CONFIG_SCHEMA", "MAX_BINS"]

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
