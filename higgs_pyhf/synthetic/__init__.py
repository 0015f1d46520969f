"""Generated input shaped like ATLAS Open Data 13 TeV 4-lepton ntuples (NOT ATLAS data).

Real ATLAS MC ntuples are not available everywhere, so this package writes
ROOT files with the exact schema of the 2020 open-data release (tree
``mini``, jagged per-lepton branches, MeV), one file per entry of the
configuration's ``Sample.files``, laid out as real ATLAS files would be
(``MC/…``, ``Data/…``), with a marker file :data:`MARKER` saying that the
content is generated. Its rooms, in the order an event is made:

``shapes``
    the m4l densities: analytic shapes per process, calibrated per bin to
    the seed report's MC templates (package data), and their sampling.
``models``
    per-process models (:data:`PROCESS_MODELS`: target yields, densities,
    event categories), the true normalisation factors of the data.
``kinematics``
    four-lepton decays and boosts, acceptance of each category, stored
    four-vectors.
``events``
    the events of one sample: every category incl. the events built to fail
    each cut, calibrated MC weights, and the data.
``writer``
    :func:`make_inputs` (files and marker), :func:`is_generated`,
    :func:`ensure_inputs`.
``analytic``
    :func:`report_like_histograms`: analytic templates, no ntuples.

Calibration: the expected MC yields per bin of the report's selection follow
the report's templates per sample kind (signal, background), shape and
totals; the generated data follow 1.4·signal + 1.3·background
(:data:`TRUE_NORMFACTORS`). Everything is deterministic for a given seed and
the global numpy random state is never used.
"""

from __future__ import annotations

from .analytic import report_like_histograms
from .events import GeneratedSample, generate_events, generate_sample
from .models import (
    CATEGORIES,
    PROCESS_MODELS,
    REPORT_CATEGORIES,
    TRUE_NORMFACTORS,
    ProcessModel,
    process_model,
)
from .shapes import REFERENCE_LUMI_FB, TARGET_WINDOW_GEV, ReportTemplates, report_templates
from .writer import (
    DEFAULT_SEED,
    GENERATOR_VERSION,
    MARKER,
    NOTE,
    GeneratedInputs,
    ensure_inputs,
    is_generated,
    make_inputs,
)

__all__ = [
    "CATEGORIES",
    "DEFAULT_SEED",
    "GENERATOR_VERSION",
    "MARKER",
    "NOTE",
    "PROCESS_MODELS",
    "REFERENCE_LUMI_FB",
    "REPORT_CATEGORIES",
    "TARGET_WINDOW_GEV",
    "TRUE_NORMFACTORS",
    "GeneratedInputs",
    "GeneratedSample",
    "ProcessModel",
    "ReportTemplates",
    "ensure_inputs",
    "generate_events",
    "generate_sample",
    "is_generated",
    "make_inputs",
    "process_model",
    "report_like_histograms",
    "report_templates",
]
