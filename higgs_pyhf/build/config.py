"""Analysis configuration: samples, luminosity, binning, systematics.

A configuration is a JSON document validated against :data:`CONFIG_SCHEMA`
(:mod:`higgs_pyhf.build.config_schema`) and then by semantic checks whose
messages name the offending entry. File
names, cross-sections, sums of weights and efficiencies come from the
configuration, never from code; the default one ships with the package
(``higgs_pyhf/data/default_config.json``) and holds the seed report's ten MC
samples and the data.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import jsonschema
import numpy as np

from ..errors import ConfigError
from ..spec.json_input import read_json
from .config_schema import CONFIG_SCHEMA, config_validator
from .systematics import SystematicsConfig, parse_systematics

__all__ = [
    "CONFIG_SCHEMA",
    "SHIPPED_CONFIGS",
    "AnalysisConfig",
    "Sample",
    "TemplateRef",
    "default_config",
    "label_problem",
    "load_config",
    "package_data_dir",
    "parse_config",
    "resolve_config",
    "shipped_config",
    "template_config",
]

#: Names of the configurations shipped in the package (``--config NAME``).
SHIPPED_CONFIGS: dict[str, str] = {
    "templates": "config_atlas_templates.json",
    "ntuples": "config_atlas_ntuples.json",
}


class TemplateRef(NamedTuple):
    """Where a sample's binned template lives.

    Attributes:
        file: template file (absolute, or relative to the configuration's folder).
        histogram: entry in the file (default: the sample name).
        selection: the event selection the template was made with.
    """

    file: Path
    histogram: str
    selection: str


class Sample(NamedTuple):
    """One physics sample of the analysis.

    Attributes:
        name: short name, e.g. ``ggH125_ZZ4lep`` or ``data``.
        kind: ``signal``, ``background`` or ``data``.
        files: ROOT file paths relative to the data directory (empty for a
            template sample).
        template: the binned template the sample comes from instead of ntuples.
        dsid: ATLAS dataset ID (MC only).
        xsec_pb: cross-section in pb (MC only).
        sumw: sum of generator weights of the full sample (MC only).
        red_eff: reduction (skim) efficiency (MC only).
    """

    name: str
    kind: str
    files: tuple[str, ...]
    template: TemplateRef | None = None
    dsid: int | None = None
    xsec_pb: float | None = None
    sumw: float | None = None
    red_eff: float | None = None

    @property
    def is_data(self) -> bool:
        """True for collision data (unit weights)."""
        return self.kind == "data"

    @property
    def from_template(self) -> bool:
        """True if the sample is read from a binned template, not from ntuples."""
        return self.template is not None

    def xsec_weight(self, lumi_fb: float) -> float:
        """Per-event normalisation lumi·1000·xsec/(sumw·red_eff) (fb⁻¹ → pb⁻¹), 1 for data."""
        if self.is_data:
            return 1.0
        if self.xsec_pb is None or self.sumw is None or self.red_eff is None:
            msg = f"MC sample {self.name!r} lacks xsec_pb, sumw or red_eff"
            raise ConfigError(msg)
        return lumi_fb * 1000.0 * self.xsec_pb / (self.sumw * self.red_eff)


class AnalysisConfig(NamedTuple):
    """A validated analysis configuration.

    Attributes:
        tree: name of the TTree in every file (``mini`` for ATLAS open data).
        lumi_fb: integrated luminosity in fb⁻¹.
        observable: name of the histogrammed observable (``m4l``).
        observable_label: axis label (LaTeX allowed).
        edges: bin edges of the observable in GeV.
        samples: the samples, MC and data.
        description: free text.
        systematics: the configured systematic uncertainties (used by
            ``build-workspace --systematics``; see :mod:`higgs_pyhf.build.systematics`).
    """

    tree: str
    lumi_fb: float
    observable: str
    observable_label: str
    edges: tuple[float, ...]
    samples: tuple[Sample, ...]
    description: str = ""
    systematics: SystematicsConfig = SystematicsConfig()

    @property
    def mc_samples(self) -> tuple[Sample, ...]:
        """The simulated samples (signal and background)."""
        return tuple(s for s in self.samples if not s.is_data)

    @property
    def data_samples(self) -> tuple[Sample, ...]:
        """The collision-data samples."""
        return tuple(s for s in self.samples if s.is_data)

    @property
    def ntuple_samples(self) -> tuple[Sample, ...]:
        """The samples read from ntuples (not from templates)."""
        return tuple(s for s in self.samples if not s.from_template)

    @property
    def template_selections(self) -> tuple[str, ...]:
        """The selections the template samples were made with (distinct, config order)."""
        return tuple(dict.fromkeys(s.template.selection for s in self.samples if s.template))

    def only(self, kinds: tuple[str, ...]) -> AnalysisConfig:
        """A copy keeping the samples of the given kinds (e.g. ``("data",)``)."""
        return self._replace(samples=tuple(s for s in self.samples if s.kind in kinds))

    def sample(self, name: str) -> Sample:
        """Return the sample called ``name``.

        Raises:
            ConfigError: if there is no such sample.
        """
        for s in self.samples:
            if s.name == name:
                return s
        msg = f"no sample named {name!r} in the configuration (have: {[s.name for s in self.samples]})"
        raise ConfigError(msg)

    def with_lumi(self, lumi_fb: float) -> AnalysisConfig:
        """Return a copy with another luminosity (fb⁻¹) for the MC read from ntuples.

        The luminosity normalises the MC events read from ntuples
        (:meth:`Sample.xsec_weight`). A template holds the events of the
        luminosity it was made for and the data are what they are; so another
        luminosity is refused when a sample comes from a template, rather
        than recorded for a model that does not have it.

        Raises:
            ConfigError: for a luminosity that is not positive, finite and
                below 1e6 fb⁻¹, or that differs from the configuration's while
                samples come from templates.
        """
        if not (lumi_fb > 0 and np.isfinite(lumi_fb) and lumi_fb < 1e6):
            msg = f"luminosity must be positive and below 1e6 fb^-1, got {lumi_fb!r} fb^-1"
            raise ConfigError(msg)
        templated = [s.name for s in self.samples if s.from_template]
        if templated and not np.isclose(lumi_fb, self.lumi_fb, rtol=1e-9, atol=0):
            msg = (
                f"--lumi {lumi_fb:g}: samples {', '.join(templated)} come from templates made for "
                f"the configuration's {self.lumi_fb:g} fb^-1, and a template is not rescaled (nor are "
                "the data); use the configuration's luminosity, or a configuration whose MC comes "
                "from ntuples"
            )
            raise ConfigError(msg)
        return self._replace(lumi_fb=float(lumi_fb))


def _where(error: jsonschema.ValidationError) -> str:
    parts: list[str] = []
    for p in error.absolute_path:
        parts.append(f"[{p}]" if isinstance(p, int) else (f".{p}" if parts else str(p)))
    return "".join(parts) or "<top level>"


def _finite_number(value: Any, where: str, source: str) -> None:
    if not (isinstance(value, int | float) and np.isfinite(value) and abs(value) < 1e300):
        if not isinstance(value, int | float):
            shown = repr(value)
        else:
            shown = "NaN" if np.isnan(value) else "a number beyond ±1e300"
        msg = f"invalid configuration {source} at {where}: {shown} is not a finite number"
        raise ConfigError(msg)


def label_problem(text: str) -> str | None:
    r"""Why matplotlib cannot draw ``text`` as an axis label, or None if it can.

    Text with an even number of unescaped ``$`` is drawn as mathtext
    (``$m_{4\ell}$ [GeV]``); an unknown command or unbalanced braces there
    make every figure fail, so such labels are refused where they are read.
    """
    if "$" not in text:
        return None
    from matplotlib import cbook
    from matplotlib.mathtext import MathTextParser

    if not cbook.is_math_text(text):
        return None
    try:
        MathTextParser("path").parse(text, 72)
    except ValueError as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        return f"matplotlib cannot draw it: {lines[-1] if lines else 'invalid mathtext'}"
    return None


def parse_config(
    raw: Any, *, source: str = "<config>", base_dir: str | os.PathLike[str] | None = None
) -> AnalysisConfig:
    """Validate a configuration document and turn it into an :class:`AnalysisConfig`.

    Args:
        raw: the decoded JSON document.
        source: where it came from, for error messages.
        base_dir: folder that relative template paths are relative to
            (default: the working directory).

    Returns:
        The validated configuration.

    Raises:
        ConfigError: naming the offending entry if the document is invalid.
    """
    err = jsonschema.exceptions.best_match(config_validator().iter_errors(raw))
    if err is not None:
        msg = f"invalid configuration {source} at {_where(err)}: {err.message}"
        raise ConfigError(msg)
    obs = raw["observable"]
    if "edges" in obs:
        edges = np.asarray(obs["edges"], dtype=float)
    elif {"nbins", "low", "high"} <= obs.keys():
        edges = np.linspace(obs["low"], obs["high"], obs["nbins"] + 1)
    else:
        msg = f"invalid configuration {source} at observable: give either 'edges' or 'nbins', 'low' and 'high'"
        raise ConfigError(msg)
    if not np.all(np.diff(edges) > 0):
        msg = f"invalid configuration {source} at observable: bin edges must increase strictly"
        raise ConfigError(msg)
    _finite_number(raw["lumi_fb"], "lumi_fb", source)
    problem = label_problem(obs.get("label", ""))
    if problem:
        msg = f"invalid configuration {source} at observable.label {obs['label']!r}: {problem}"
        raise ConfigError(msg)
    for key in ("low", "high"):
        if key in obs:
            _finite_number(obs[key], f"observable.{key}", source)
    for k, e in enumerate(obs.get("edges", ())):
        _finite_number(e, f"observable.edges[{k}]", source)
    samples = []
    names = set()
    base = Path(base_dir) if base_dir is not None else Path()
    seen_files: dict[str, str] = {}
    for i, s in enumerate(raw["samples"]):
        for key in ("xsec_pb", "sumw", "red_eff"):
            if key in s:
                _finite_number(s[key], f"samples[{i}].{key}", source)
        for f in s.get("files", ()):
            key = os.path.normpath(f)  # Data/x, ./Data/x and Data//x are one file
            if key in seen_files:
                msg = f"invalid configuration {source} at samples[{i}] ({s['name']}): file {f!r} is listed twice (also in {seen_files[key]})"
                raise ConfigError(msg)
            seen_files[key] = s["name"]
        template = None
        if "template" in s:
            t = s["template"]
            if s["kind"] == "data":
                msg = f"invalid configuration {source} at samples[{i}] ({s['name']}): data cannot come from a template"
                raise ConfigError(msg)
            tfile = Path(t["file"])
            template = TemplateRef(
                file=tfile if tfile.is_absolute() else base / tfile,
                histogram=t.get("histogram", s["name"]),
                selection=t["selection"],
            )
        if s["name"] in names:
            msg = f"invalid configuration {source} at samples[{i}]: duplicate sample name {s['name']!r}"
            raise ConfigError(msg)
        names.add(s["name"])
        if s["kind"] != "data" and template is None:
            missing = [k for k in ("xsec_pb", "sumw", "red_eff") if k not in s]
            if missing:
                msg = f"invalid configuration {source} at samples[{i}] ({s['name']}): MC sample needs {missing}"
                raise ConfigError(msg)
        samples.append(
            Sample(
                name=s["name"],
                kind=s["kind"],
                files=tuple(s.get("files", ())),
                template=template,
                dsid=s.get("dsid"),
                xsec_pb=s.get("xsec_pb"),
                sumw=s.get("sumw"),
                red_eff=s.get("red_eff"),
            )
        )
    kinds = {s.kind for s in samples}
    for needed in ("signal", "background", "data"):
        if needed not in kinds:
            msg = f"invalid configuration {source} at samples: need at least one {needed!r} sample"
            raise ConfigError(msg)
    systematics = parse_systematics(raw.get("systematics"), samples, source=source, base_dir=base)
    return AnalysisConfig(
        tree=raw["tree"],
        lumi_fb=float(raw["lumi_fb"]),
        observable=obs["name"],
        observable_label=obs.get("label", obs["name"]),
        edges=tuple(float(e) for e in edges),
        samples=tuple(samples),
        description=raw.get("description", ""),
        systematics=systematics,
    )


def load_config(path: str | os.PathLike[str]) -> AnalysisConfig:
    """Read and validate a JSON configuration file.

    Raises:
        ConfigError: if the file is missing, not JSON, or invalid.
    """
    p = Path(path)
    raw = read_json(p, what="configuration file", error=ConfigError)
    return parse_config(raw, source=str(p), base_dir=p.parent)


def package_data_dir() -> Path:
    """The folder of the package's data files (configurations, templates, real data)."""
    return Path(str(resources.files("higgs_pyhf").joinpath("data")))


def shipped_config(name: str) -> AnalysisConfig:
    """A configuration shipped with the package, by name (see :data:`SHIPPED_CONFIGS`).

    Raises:
        ConfigError: for an unknown name.
    """
    if name not in SHIPPED_CONFIGS:
        msg = f"no shipped configuration {name!r} (have: {sorted(SHIPPED_CONFIGS)})"
        raise ConfigError(msg)
    return load_config(package_data_dir() / SHIPPED_CONFIGS[name])


def default_config() -> AnalysisConfig:
    """The analysis on ntuples: the seed report's 10 MC samples + data, 10 fb⁻¹, 34 bins 80–250 GeV.

    This is the configuration of generated input and of a full download of
    the release; the default main job uses :func:`template_config` instead.
    """
    return shipped_config("ntuples")


def template_config() -> AnalysisConfig:
    """The default main job: real data with the report's MC templates (signal, background)."""
    return shipped_config("templates")


def resolve_config(name_or_path: str | os.PathLike[str] | None) -> tuple[AnalysisConfig, str]:
    """A configuration from a shipped name, a file path, or None (the templates one).

    Returns:
        The configuration and how to record its source in the provenance.
    """
    if name_or_path is None:
        return template_config(), "shipped:templates"
    text = str(name_or_path)
    if text in SHIPPED_CONFIGS and not Path(text).exists():
        return shipped_config(text), f"shipped:{text}"
    return load_config(name_or_path), text
