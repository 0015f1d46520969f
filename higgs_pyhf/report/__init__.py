"""The report: the seed report's numbers and figures reproduced, each beside its likelihood counterpart.

Modules, in the order the report uses them:

- :mod:`.inputs` — the boundary: the workspace and its provenance read once
  (:func:`read_inputs`), the data label decided there;
- :mod:`.studies` — likelihood fits, deviances and the toy studies;
- :mod:`.reproduction` — :func:`reproduce` and the table of the report's
  numbers (:mod:`.results` holds its NamedTuples, :mod:`.grid_edges` the
  grid-edge notes);
- :mod:`.sections`, :mod:`.inference_sections`, :mod:`.markdown` — Markdown;
- :mod:`.figures` — the figures from the results;
- :mod:`.stages` — the stages, run in order (:func:`run_stages`);
- :mod:`.assemble` — :func:`make_report` and :func:`make_plots`.
"""

from __future__ import annotations

from .assemble import PLOT_KINDS, ReportResult, make_plots, make_report
from .figures import report_figure
from .grid_edges import grid_edge_notes
from .inputs import ReportInputs, read_inputs
from .reproduction import reproduce, reproduction_table
from .results import PRINTED, Reproduction, ReproductionRow
from .stages import run_stages
from .studies import DEFAULT_NTOYS, DEFAULT_SEED, LikelihoodFits, likelihood_fits

__all__ = [
    "DEFAULT_NTOYS",
    "DEFAULT_SEED",
    "PLOT_KINDS",
    "PRINTED",
    "LikelihoodFits",
    "ReportInputs",
    "ReportResult",
    "Reproduction",
    "ReproductionRow",
    "grid_edge_notes",
    "likelihood_fits",
    "make_plots",
    "make_report",
    "read_inputs",
    "report_figure",
    "reproduce",
    "reproduction_table",
    "run_stages",
]
