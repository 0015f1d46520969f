"""The whole build chain in one call: ntuples → selection → histograms → workspace.

Used by the ``build-workspace`` command, scripts and tests. Input made by
:mod:`higgs_pyhf.synthetic` (recognised by its ``GENERATED.json`` marker) is
labelled as generated everywhere: the measurement name
(:data:`GENERATED_MEASUREMENT`), the provenance file (``generated: true``,
the generator's seed) and the default output name.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from . import __version__
from .configuration import AnalysisConfig
from .histograms import HistogramSet, build_histograms, sample_yields
from .ntuples import DEFAULT_STEP_SIZE
from .workspace import workspace_from_histograms

__all__ = [
    "DEFAULT_GENERATED_OUTPUT",
    "DEFAULT_OUTPUT",
    "GENERATED_MEASUREMENT",
    "MEASUREMENT",
    "WorkspaceBuild",
    "build_from_ntuples",
    "config_document",
    "generated_info",
    "generated_inputs",
    "kind_yields",
]

log = logging.getLogger(__name__)

#: Measurement name of workspaces built from generated (synthetic) input.
GENERATED_MEASUREMENT = "hzz4l_generated"
#: Measurement name of workspaces built from real ATLAS files.
MEASUREMENT = "hzz4l"
#: Default output of ``build-workspace`` on generated input.
DEFAULT_GENERATED_OUTPUT = Path("workspaces") / "hzz4l_generated.json"
#: Default output of ``build-workspace`` on real input.
DEFAULT_OUTPUT = Path("workspaces") / "hzz4l.json"
#: Entries of the generator's marker copied into the provenance.
_GENERATOR_KEYS = ("generator", "generator_version", "note", "seed", "scale", "config_fingerprint")
_TRUTH_KEYS = (
    "true_normfactors",
    "expected_signal_yield_window",
    "expected_background_yield_window",
    "expected_data_yield_window",
    "window_gev",
)


def generated_info(data_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The generator's marker if ``data_dir`` holds generated input, else None."""
    from .synthetic import is_generated

    return is_generated(Path(data_dir))


@contextlib.contextmanager
def generated_inputs(
    config: AnalysisConfig | None = None,
    *,
    seed: int | None = None,
    scale: float = 1.0,
) -> Iterator[Path]:
    """Generate open-data-shaped input in a temporary directory, removed afterwards.

    Yields:
        The directory, laid out as the configuration's file names say.
    """
    from . import synthetic

    kwargs: dict[str, Any] = {"scale": scale}
    if seed is not None:
        kwargs["seed"] = seed
    with tempfile.TemporaryDirectory(prefix="higgs_pyhf_generated_") as tmp:
        log.info("generating input in %s", tmp)
        synthetic.make_inputs(tmp, config, **kwargs)
        yield Path(tmp)


def config_document(config: AnalysisConfig) -> dict[str, Any]:
    """A JSON-serialisable copy of a configuration (for provenance)."""
    return {
        "description": config.description,
        "tree": config.tree,
        "lumi_fb": config.lumi_fb,
        "observable": config.observable,
        "observable_label": config.observable_label,
        "edges": list(config.edges),
        "samples": [
            {
                k: (list(v) if isinstance(v, tuple) else v)
                for k, v in s._asdict().items()
                if v is not None
            }
            for s in config.samples
        ],
    }


def kind_yields(h: Any, config: AnalysisConfig) -> dict[str, float]:
    """Sum of in-range histogram contents per sample kind (signal, background, data)."""
    per_sample = sample_yields(h)
    out = {"signal": 0.0, "background": 0.0, "data": 0.0}
    for s in config.samples:
        out[s.kind] += per_sample[s.name]
    return out


class WorkspaceBuild(NamedTuple):
    """Result of :func:`build_from_ntuples`.

    Attributes:
        spec: the pyhf workspace specification (schema-valid).
        histograms: the histograms and cutflows it was made from.
        provenance: metadata to store next to the workspace.
    """

    spec: dict[str, Any]
    histograms: HistogramSet
    provenance: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """Small JSON summary: measurement, bins, yields per sample kind."""
        return {
            "generated": self.provenance["generated"],
            "measurement": self.provenance["measurement"],
            "nbins": self.provenance["nbins"],
            "selection": self.provenance["selection"],
            "yields": self.provenance["yields"],
        }


def build_from_ntuples(
    config: AnalysisConfig,
    data_dir: str | os.PathLike[str],
    *,
    selection: str = "intended",
    mc_stat: bool = False,
    lumi_uncertainty: float | None = None,
    step_size: int | str = DEFAULT_STEP_SIZE,
    workers: int = 1,
    scheduler: str | None = None,
    generated: dict[str, Any] | None = None,
    input_label: str | None = None,
    config_source: str = "default",
    progress: Callable[[int], Any] | None = None,
    on_plan: Callable[[int], Any] | None = None,
) -> WorkspaceBuild:
    """Histogram the ntuples of ``data_dir`` and build the workspace with provenance.

    Args:
        config: samples, luminosity and binning.
        data_dir: directory holding the configuration's files.
        selection: ``"intended"`` or ``"report"``.
        mc_stat: add ``staterror`` modifiers.
        lumi_uncertainty: relative luminosity uncertainty (adds a ``lumi`` modifier).
        step_size: entries (int) or memory (``"50 MB"``) per chunk.
        workers: local worker processes.
        scheduler: Dask scheduler address.
        generated: the generator marker of generated input (see
            :func:`generated_info`); looked up in ``data_dir`` when None.
        input_label: how to record the input location in the provenance
            (default: ``data_dir``).
        config_source: where the configuration came from (recorded).
        progress: called with 1 after each chunk.
        on_plan: called with the number of chunks before they run.

    Returns:
        The workspace, its histograms and its provenance.
    """
    if generated is None:
        generated = generated_info(data_dir)
    hs = build_histograms(
        config,
        data_dir,
        selection=selection,
        step_size=step_size,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        on_plan=on_plan,
    )
    measurement = GENERATED_MEASUREMENT if generated else MEASUREMENT
    spec = workspace_from_histograms(
        hs.histograms,
        config,
        mc_stat=mc_stat,
        lumi_uncertainty=lumi_uncertainty,
        measurement_name=measurement,
    )
    gen = None
    if generated:
        gen = {k: generated[k] for k in _GENERATOR_KEYS if k in generated}
        truth = generated.get("truth") or {}
        gen["truth"] = {k: truth[k] for k in _TRUTH_KEYS if k in truth}
    provenance = {
        "generated": bool(generated),
        "generator": gen,
        "input": input_label if input_label is not None else str(data_dir),
        "measurement": measurement,
        "selection": selection,
        "lumi_fb": config.lumi_fb,
        "mc_stat": mc_stat,
        "lumi_uncertainty": lumi_uncertainty,
        "step_size": step_size,
        "nbins": len(config.edges) - 1,
        "yields": kind_yields(hs.histograms, config),
        "sample_yields": sample_yields(hs.histograms),
        "selected_events": {n: cf.selected for n, cf in hs.cutflows.items()},
        "config_source": config_source,
        "config": config_document(config),
        "higgs_pyhf_version": __version__,
    }
    return WorkspaceBuild(spec, hs, provenance)
