"""Template samples next to the ntuple samples: nominal templates and their up/down variations.

A configuration sample may come from a binned template instead of ntuples
(:mod:`higgs_pyhf.build.templates` reads the files). This module checks that the
templates exist and were made with the selection of the build, and puts
them into the build's histograms: the nominal ``sample`` × m4l one and, for
a build with systematics, the detailed ``sample`` × ``channel`` ×
``variation`` × m4l one (:mod:`higgs_pyhf.build.variations`), where the up/down
entries named by a template ``histosys`` go.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, TemplateError
from .config import AnalysisConfig
from .histograms import HistogramSet, make_histogram
from .systematics import NOMINAL, SystematicsConfig
from .templates import TemplateFile, check_binning, read_template_file
from .variations import ALL_CHANNEL, CHANNEL_AXIS, VARIATION_AXIS, ShapeSpec, make_shape_histogram

__all__ = ["add_templates", "check_template_files", "check_template_selection", "check_templates"]


def check_template_files(config: AnalysisConfig, systematics: SystematicsConfig | None) -> None:
    """Refuse missing template files (nominal, and the up/down files of ``systematics``).

    Raises:
        TemplateError: naming the sample (or systematic) and the file.
    """
    for s in config.samples:
        if s.template is not None and not s.template.file.is_file():
            msg = f"template file of sample {s.name!r} not found: {s.template.file}"
            raise TemplateError(msg)
    for e in systematics.histosys if systematics is not None else ():
        if e.template is not None and e.template.file is not None and not e.template.file.is_file():
            msg = f"template file of systematic {e.name!r} not found: {e.template.file}"
            raise TemplateError(msg)


def check_template_selection(
    config: AnalysisConfig, selection: str, *, allow_mismatch: bool = False
) -> list[str]:
    """Refuse templates made with another selection than ``selection``.

    Returns:
        The template selections that differ (empty unless ``allow_mismatch``).

    Raises:
        TemplateError: naming the samples and both selections.
    """
    other = [s for s in config.samples if s.template and s.template.selection != selection]
    if other and not allow_mismatch:
        names = ", ".join(f"{s.name} ({s.template.selection})" for s in other if s.template)
        msg = (
            f"the templates of {names} were made with another selection than {selection!r}; "
            "use the templates' selection, or allow the mismatch explicitly (it is recorded)"
        )
        raise TemplateError(msg)
    return sorted({s.template.selection for s in other if s.template})


def check_templates(
    config: AnalysisConfig,
    selection: str,
    systematics: SystematicsConfig | None,
    *,
    channels: str = "single",
    allow_mismatch: bool = False,
) -> list[str]:
    """Check a build's templates before anything is read: selection, channels, then files.

    Returns:
        The template selections that differ (see :func:`check_template_selection`).

    Raises:
        TemplateError: see :func:`check_template_selection` and :func:`check_template_files`.
        ConfigError: for final-state channels with a template sample (templates
            are summed over final states).
    """
    mismatch = check_template_selection(config, selection, allow_mismatch=allow_mismatch)
    templated = [s.name for s in config.mc_samples if s.template is not None]
    if channels != "single" and templated:
        msg = (
            f"--channels {channels} needs every MC sample from ntuples, but {templated} "
            "come from templates (summed over final states): use the 'ntuples' configuration "
            "(--generated, or --data-dir with the full release)"
        )
        raise ConfigError(msg)
    check_template_files(config, systematics)
    return mismatch


def add_templates(
    hs: HistogramSet,
    config: AnalysisConfig,
    *,
    need_variances: bool = False,
    systematics: SystematicsConfig | None = None,
) -> tuple[HistogramSet, list[TemplateFile]]:
    """Put the template samples of ``config`` next to the ntuple samples of ``hs``.

    Args:
        hs: histograms of the ntuple samples.
        config: the whole configuration (config order is kept).
        need_variances: refuse templates without sumw² (for ``staterror``).
        systematics: with detailed histograms in ``hs``, the template
            up/down variations of these shape systematics go into them too.

    Returns:
        One histogram set holding every sample, and the template files read.

    Raises:
        TemplateError: on a missing entry, another binning or missing variances.
    """
    files: dict[Path, TemplateFile] = {}
    names = [s.name for s in config.samples]
    h = make_histogram(
        config.edges, samples=names, observable=config.observable, label=config.observable_label
    )
    view: Any = h.view(flow=True)
    have = set(hs.histograms.axes["sample"])
    for i, s in enumerate(config.samples):
        if s.template is None:
            if s.name in have:
                view[i] = hs.histograms.view(flow=True)[
                    list(hs.histograms.axes["sample"]).index(s.name)
                ]
            continue
        path = s.template.file
        if path not in files:
            files[path] = read_template_file(path)
            made_for = files[path].lumi_fb
            if made_for is not None and not np.isclose(made_for, config.lumi_fb, rtol=1e-9, atol=0):
                msg = (
                    f"template file {path} was made for {made_for:g} fb^-1 (its lumi_fb) but the "
                    f"configuration's luminosity is {config.lumi_fb:g} fb^-1; a template is not "
                    "rescaled: use its luminosity"
                )
                raise TemplateError(msg)
        t = files[path].get(s.template.histogram)
        check_binning(t, config.edges, source=path)
        if need_variances and t.variances is None:
            msg = (
                f"template {t.name!r} in {path} has no sum of squared weights; "
                "MC statistical uncertainties (--mc-stat) need them"
            )
            raise TemplateError(msg)
        view.value[i, 1:-1] = t.values
        view.variance[i, 1:-1] = np.zeros_like(t.values) if t.variances is None else t.variances
    out = hs._replace(histograms=h)
    if hs.shapes is not None:
        out = out._replace(shapes=_template_shapes(hs, config, h, systematics, files))
    return out, list(files.values())


def _template_shapes(
    hs: HistogramSet,
    config: AnalysisConfig,
    nominal: Any,
    systematics: SystematicsConfig | None,
    files: dict[Path, TemplateFile],
) -> Any:
    """The detailed histograms of every sample: the ntuple ones, the templates and their variations."""
    assert hs.shapes is not None
    old = hs.shapes
    channels = tuple(str(c) for c in old.axes[CHANNEL_AXIS])
    variations = tuple(str(v) for v in old.axes[VARIATION_AXIS])
    names = [s.name for s in config.samples]
    new = make_shape_histogram(
        config.edges,
        ShapeSpec(channels, variations, ()),
        samples=names,
        observable=config.observable,
        label=config.observable_label,
    )
    view: Any = new.view(flow=True)
    have = list(old.axes["sample"])
    for i, s in enumerate(config.samples):
        if s.template is None and s.name in have:
            view[i] = old.view(flow=True)[have.index(s.name)]
    templated = [i for i, s in enumerate(config.samples) if s.template is not None]
    if templated and channels != (ALL_CHANNEL,):
        msg = "templates are summed over final states: they cannot fill final-state channels"
        raise TemplateError(msg)
    nominal_view: Any = nominal.view(flow=True)
    v_nominal = variations.index(NOMINAL)
    for i in templated:
        view[i, 0, v_nominal] = nominal_view[i]
    for e in systematics.histosys if systematics is not None else ():
        if e.template is None:
            continue
        for name in e.samples:
            i = names.index(name)
            ref = config.samples[i].template
            assert ref is not None
            path = e.template.file or ref.file
            if path not in files:
                files[path] = read_template_file(path)
            for entry, suffix in zip(
                e.template.entries(name, ref.histogram), ("up", "down"), strict=True
            ):
                t = files[path].get(entry)
                check_binning(t, config.edges, source=path)
                view.value[i, 0, variations.index(f"{e.name}_{suffix}"), 1:-1] = t.values
    return new
