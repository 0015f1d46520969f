"""The build stage: an analysis configuration in, a pyhf workspace and its provenance out.

Stages, in the order the data flows (each module imports only the ones
above it):

1. **config**: :mod:`.config_schema` (the JSON schema of a configuration and of its
   ``systematics`` section) → :mod:`.systematics` (the systematics section,
   parsed) → :mod:`.config` (:class:`~.config.AnalysisConfig`: samples,
   luminosity, binning; load, validate, the shipped configurations);
2. **inputs**: :mod:`.ntuples` (ATLAS open-data ntuples read in chunks with
   uproot) → :mod:`.provenance` (real, generated or unverified inputs; file
   digests);
3. **selection**: :mod:`.selection` (the four-lepton cuts and m4l, pure) →
   :mod:`.weights` (per-event weights) → :mod:`.cutflows` (events after each
   cut);
4. **histograms**: :mod:`.variations` (the detailed ``sample`` × ``channel``
   × ``variation`` × m4l histograms of the systematic variations) →
   :mod:`.histograms` (the per-sample m4l histograms, filled chunk by chunk)
   → :mod:`.histogram_io` (their ROOT / UHI JSON files) → :mod:`.templates`
   (binned MC templates read from files) → :mod:`.template_fill` (template
   samples and their up/down variations put into the build's histograms);
5. **workspace**: :mod:`.hist_workspace` (any ``hist.Hist`` → a pyhf
   workspace: :func:`~.hist_workspace.workspace_from_hists`) →
   :mod:`.report_workspace` (the seed report's two-normfactor model) →
   :mod:`.detailed_workspace` (channels, systematics, grouping and pruning);
6. :mod:`.pipeline`: the chain in one call
   (:func:`~.pipeline.build_inputs`), used by ``build-workspace``.

Nothing is imported here, so ``import higgs_pyhf.build.config`` costs only
that module (the command line's start-up time depends on it).
"""

from __future__ import annotations

__all__ = ["STAGES"]

#: The stages and their modules in the order the data flows: a module imports
#: only modules listed before it (``tests/test_layout.py`` checks it).
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("config", ("config_schema", "systematics", "config")),
    ("inputs", ("ntuples", "provenance")),
    ("selection", ("selection", "weights", "cutflows")),
    ("histograms", ("variations", "histograms", "histogram_io", "templates", "template_fill")),
    ("workspace", ("hist_workspace", "report_workspace", "detailed_workspace")),
    ("pipeline", ("pipeline",)),
)
