"""The whole build chain in one call: inputs → selection → histograms → workspace.

Used by the ``build-workspace`` command, scripts and tests. Samples come from
ntuples (read, selected and histogrammed) or from binned templates
(:mod:`higgs_pyhf.build.templates`); both end up in one ``sample`` × m4l histogram
and then in the workspace: the report's two-normfactor model
(:func:`higgs_pyhf.build.report_workspace.workspace_from_histograms`), or, with
systematics or final-state channels, the detailed ``sample`` × ``channel`` ×
``variation`` × m4l histograms (:mod:`higgs_pyhf.build.variations`, template up/down
variations added here) turned into a model by
:func:`higgs_pyhf.build.detailed_workspace.workspace_from_shapes`.

Templates were made with some event selection (recorded in the
configuration); building them together with data selected otherwise is
refused unless ``allow_selection_mismatch`` is given, and then recorded in the
provenance.

What the inputs are is recorded, never guessed: :func:`higgs_pyhf.build.provenance.describe_inputs`
checks every file against the manifest of the shipped real data and the
generator's marker. Workspaces built from generated input get the
measurement name :data:`GENERATED_MEASUREMENT`; the provenance says
``generated`` and gives the ``data_label`` figures carry.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from .. import __version__
from ..errors import ConfigError
from .config import AnalysisConfig
from .detailed_workspace import ModelBuild, model_systematics, workspace_from_shapes
from .histograms import HistogramSet, build_histograms, sample_yields
from .ntuples import DEFAULT_STEP_SIZE
from .provenance import describe_inputs, real_manifest
from .report_workspace import workspace_from_histograms
from .systematics import SystematicsConfig
from .template_fill import add_templates, check_template_selection, check_templates
from .variations import shape_spec

__all__ = [
    "GENERATED_MEASUREMENT",
    "MEASUREMENT",
    "WorkspaceBuild",
    "add_templates",
    "build_inputs",
    "check_template_selection",
    "config_document",
    "generated_info",
    "generated_inputs",
    "input_paths",
    "kind_yields",
]

log = logging.getLogger(__name__)

#: Measurement name of workspaces built from generated (synthetic) input.
GENERATED_MEASUREMENT = "hzz4l_generated"
#: Measurement name of workspaces built from real ATLAS files.
MEASUREMENT = "hzz4l"
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
    """The generator's marker in ``data_dir`` (None if there is none)."""
    from ..synthetic import is_generated

    return is_generated(Path(data_dir))


#: Prefix of the temporary folders of generated input (the process id follows).
_GENERATED_PREFIX = "higgs_pyhf_generated_"


def _remove_stale_generated() -> None:
    """Remove generated-input folders left in the temp dir by processes that were killed."""
    for d in Path(tempfile.gettempdir()).glob(f"{_GENERATED_PREFIX}*_*"):
        pid_text = d.name[len(_GENERATED_PREFIX) :].split("_", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            log.info("removing %s, left by a killed process", d)
            shutil.rmtree(d, ignore_errors=True)
        except PermissionError:
            continue


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
    from .. import synthetic

    kwargs: dict[str, Any] = {"scale": scale}
    if seed is not None:
        kwargs["seed"] = seed
    _remove_stale_generated()
    with tempfile.TemporaryDirectory(prefix=f"{_GENERATED_PREFIX}{os.getpid()}_") as tmp:
        log.info("generating input in %s", tmp)
        synthetic.make_inputs(tmp, config, **kwargs)
        yield Path(tmp)


def config_document(config: AnalysisConfig) -> dict[str, Any]:
    """A JSON-serialisable copy of a configuration (for provenance)."""
    samples = []
    for s in config.samples:
        doc: dict[str, Any] = {"name": s.name, "kind": s.kind}
        if s.files:
            doc["files"] = list(s.files)
        if s.template is not None:
            doc["template"] = {
                "file": s.template.file.name,
                "histogram": s.template.histogram,
                "selection": s.template.selection,
            }
        for key in ("dsid", "xsec_pb", "sumw", "red_eff"):
            value = getattr(s, key)
            if value is not None:
                doc[key] = value
        samples.append(doc)
    return {
        "description": config.description,
        "tree": config.tree,
        "lumi_fb": config.lumi_fb,
        "observable": config.observable,
        "observable_label": config.observable_label,
        "edges": list(config.edges),
        "samples": samples,
    }


def input_paths(
    config: AnalysisConfig, data_dir: str | os.PathLike[str], config_source: str = ""
) -> list[Path]:
    """Every file a build reads: the configuration file, ntuples, templates and their variations."""
    paths = [Path(data_dir) / f for s in config.samples for f in s.files]
    paths += [s.template.file for s in config.samples if s.template is not None]
    paths += [
        e.template.file for e in config.systematics.histosys if e.template and e.template.file
    ]
    if config_source and not config_source.startswith("shipped:"):
        paths.append(Path(config_source))
    return paths


def kind_yields(h: Any, config: AnalysisConfig) -> dict[str, float]:
    """Sum of in-range histogram contents per sample kind (signal, background, data)."""
    per_sample = sample_yields(h)
    out = {"signal": 0.0, "background": 0.0, "data": 0.0}
    for s in config.samples:
        if s.name in per_sample:
            out[s.kind] += per_sample[s.name]
    return out


def _check_real_data_lumi(config: AnalysisConfig, inputs: dict[str, Any]) -> None:
    """Refuse a luminosity other than the shipped real data's when exactly those data are read.

    The data are not rescaled: MC normalised to another luminosity than the
    data's would be a model of other data (``--lumi`` is for input whose data
    have that luminosity, e.g. generated input).

    Raises:
        ConfigError: naming both luminosities.
    """
    manifest = real_manifest()
    data = [f for f in inputs["files"] if f["kind"] == "data"]
    real = {f["sha256"] for f in data if f["origin"] == "real"}
    if not data or len(real) != len(data) or real != {f["sha256"] for f in manifest["files"]}:
        return
    lumi = float(manifest["luminosity_fb"])
    if not math.isclose(config.lumi_fb, lumi, rel_tol=1e-9):
        msg = (
            f"luminosity {config.lumi_fb:g} fb^-1 (--lumi or the configuration) differs from the "
            f"{lumi:g} fb^-1 of the real ATLAS data read ({len(data)} files of the 2020 release), "
            f"which are not rescaled; use {lumi:g}"
        )
        raise ConfigError(msg)


class WorkspaceBuild(NamedTuple):
    """Result of :func:`build_inputs`.

    Attributes:
        spec: the pyhf workspace specification (schema-valid).
        histograms: the histograms and cutflows it was made from.
        provenance: metadata to store next to the workspace.
    """

    spec: dict[str, Any]
    histograms: HistogramSet
    provenance: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """Small JSON summary: label, measurement, bins, selection, yields per kind."""
        return {
            "data_label": self.provenance["data_label"],
            "generated": self.provenance["generated"],
            "measurement": self.provenance["measurement"],
            "nbins": self.provenance["nbins"],
            "selection": self.provenance["selection"],
            "yields": self.provenance["yields"],
        }


def build_inputs(
    config: AnalysisConfig,
    data_dir: str | os.PathLike[str],
    *,
    selection: str = "intended",
    allow_selection_mismatch: bool = False,
    mc_stat: bool = False,
    lumi_uncertainty: float | None = None,
    step_size: int | str = DEFAULT_STEP_SIZE,
    workers: int = 1,
    scheduler: str | None = None,
    marker: dict[str, Any] | None = None,
    systematics: SystematicsConfig | None = None,
    channels: str = "single",
    input_label: str | None = None,
    config_source: str = "default",
    command: list[str] | None = None,
    progress: Callable[[int], Any] | None = None,
    on_plan: Callable[[int], Any] | None = None,
) -> WorkspaceBuild:
    """Histogram the ntuple samples, add the template samples, build the workspace.

    Args:
        config: samples (ntuples or templates), luminosity and binning.
        data_dir: directory holding the configuration's ntuple files.
        selection: ``"intended"`` or ``"report"``.
        allow_selection_mismatch: build even if templates were made with
            another selection (recorded in the provenance).
        mc_stat: add ``staterror`` modifiers.
        lumi_uncertainty: relative luminosity uncertainty (adds a ``lumi`` modifier).
        systematics: build the model with these systematics (see
            :func:`model_systematics`; ``mc_stat`` and ``lumi_uncertainty``
            are merged in). None: the report's two-normfactor model.
        channels: ``single`` (one channel) or ``final-state`` (4e, 2e2mu,
            4mu; every MC sample must come from ntuples).
        step_size: entries (int) or memory (``"50 MB"``) per chunk.
        workers: local worker processes.
        scheduler: Dask scheduler address.
        marker: the generator's marker of ``data_dir`` (looked up when None).
        input_label: how to record the input location (default: ``data_dir``).
        config_source: where the configuration came from (recorded).
        command: the ``build-workspace`` options that rebuild it (recorded).
        progress: called with 1 after each chunk.
        on_plan: called with the number of chunks before they run.

    Returns:
        The workspace, its histograms and its provenance.
    """
    if systematics is None and channels != "single":
        systematics = SystematicsConfig()  # a detailed build; None: the report's model
    mismatch = check_templates(
        config, selection, systematics, channels=channels, allow_mismatch=allow_selection_mismatch
    )
    if marker is None:
        marker = generated_info(data_dir)
    inputs = describe_inputs(config, data_dir, marker=marker)
    ntuple_config = config._replace(samples=config.ntuple_samples)
    hs = build_histograms(
        ntuple_config,
        data_dir,
        selection=selection,
        step_size=step_size,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        on_plan=on_plan,
        shapes=shape_spec(systematics, channels=channels) if systematics is not None else None,
    )
    need_variances = mc_stat or (
        systematics is not None and any(e.type == "staterror" for e in systematics.entries)
    )
    hs, _files = add_templates(hs, config, need_variances=need_variances, systematics=systematics)
    _check_real_data_lumi(config, inputs)  # after the templates' own luminosity check
    generated = inputs["generated"]
    measurement = GENERATED_MEASUREMENT if generated else MEASUREMENT
    model: ModelBuild | None = None
    if systematics is not None:
        assert hs.shapes is not None
        systematics = model_systematics(
            config, systematics, mc_stat=mc_stat, lumi_uncertainty=lumi_uncertainty
        )
        model = workspace_from_shapes(hs.shapes, config, systematics, measurement_name=measurement)
        spec = model.spec
    else:
        spec = workspace_from_histograms(
            hs.histograms,
            config,
            mc_stat=mc_stat,
            lumi_uncertainty=lumi_uncertainty,
            measurement_name=measurement,
        )
    gen = None
    if generated and marker:
        gen = {k: marker[k] for k in _GENERATOR_KEYS if k in marker}
        truth = marker.get("truth") or {}
        gen["truth"] = {k: truth[k] for k in _TRUTH_KEYS if k in truth}
    provenance = {
        "generated": generated,
        "data_label": inputs["data_label"],
        "generator": gen,
        "input": {
            "location": input_label if input_label is not None else str(data_dir),
            **inputs,
        },
        "measurement": measurement,
        "selection": selection,
        "selection_mismatch_allowed": mismatch or None,
        "lumi_fb": config.lumi_fb,
        "mc_stat": mc_stat,
        "lumi_uncertainty": lumi_uncertainty,
        "step_size": step_size,
        "nbins": len(config.edges) - 1,
        "edges": list(config.edges),
        "yields": kind_yields(hs.histograms, config),
        "sample_yields": sample_yields(hs.histograms),
        "cutflows": [cf.to_json() for cf in hs.cutflows.values()],
        "selected_events": {n: cf.selected for n, cf in hs.cutflows.items()},
        "config_source": config_source,
        "build_command": command,
        "config": config_document(config),
        "higgs_pyhf_version": __version__,
    }
    if model is not None and systematics is not None:
        provenance["model"] = model.provenance(systematics)
    return WorkspaceBuild(spec, hs, provenance)
