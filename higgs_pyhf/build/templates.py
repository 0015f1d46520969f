"""Binned MC templates: samples that come from a histogram file instead of ntuples.

A configuration sample may name a template (``"template": {"file": …,
"histogram": …, "selection": …}``) instead of ntuple files. Three file
formats are read:

- the seed report's template JSON (``report_mc_templates.json``: ``bin_edges``
  plus one list of bin contents per entry, e.g. ``signal`` and
  ``background``; no variances);
- UHI JSON as written by ``build-histograms`` (a ``sample`` × observable
  histogram; one entry per sample category, with sumw²);
- a ROOT file of TH1s (as written by ``build-histograms``, or any TH1 file;
  one entry per histogram name, with sumw²).

The binning of a template must equal the analysis binning exactly (to
1e-9 GeV); otherwise :class:`~higgs_pyhf.errors.TemplateError` names the file and
both binnings. Files are read once per path (:func:`read_template_file`) and
recorded with their sha256 in the build's provenance.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .._guard import register_input
from ..errors import HistogramError, InputFileError, TemplateError
from ..spec.json_input import read_json
from .histogram_io import load_histograms
from .histograms import SAMPLE_AXIS
from .provenance import sha256_of

__all__ = [
    "Template",
    "TemplateFile",
    "check_binning",
    "describe_binning",
    "read_template_file",
]

#: Keys of the report's template JSON that are not bin contents.
_REPORT_META_KEYS = frozenset(
    {"description", "source", "lumi_fb", "observable", "unit", "bin_edges"}
)


class Template(NamedTuple):
    """One binned template.

    Attributes:
        name: entry name in its file (``signal``, a sample category, a TH1 name).
        edges: bin edges (GeV).
        values: expected events per bin.
        variances: sum of squared weights per bin, or None when the file has none.
    """

    name: str
    edges: np.ndarray
    values: np.ndarray
    variances: np.ndarray | None


class TemplateFile(NamedTuple):
    """The templates of one file.

    Attributes:
        path: the file.
        format: ``report-json``, ``uhi-json`` or ``root``.
        sha256: hex digest of the file's bytes.
        templates: entry name → template, file order.
        lumi_fb: the luminosity the templates were made for, when the file
            records it (the report's template JSON does).
    """

    path: Path
    format: str
    sha256: str
    templates: dict[str, Template]
    lumi_fb: float | None = None

    def get(self, name: str) -> Template:
        """The template called ``name``.

        Raises:
            TemplateError: naming the file and the entries it has.
        """
        try:
            return self.templates[name]
        except KeyError:
            msg = (
                f"template file {self.path} has no entry {name!r} (it has {sorted(self.templates)})"
            )
            raise TemplateError(msg) from None


def describe_binning(edges: Sequence[float] | np.ndarray) -> str:
    """Short text of a binning: ``34 bins 80–250`` when uniform, else the edges."""
    e = np.asarray(edges, dtype=float)
    widths = np.diff(e)
    if e.size >= 2 and np.allclose(widths, widths[0], rtol=0, atol=1e-9):
        return f"{e.size - 1} bins {e[0]:g}-{e[-1]:g} (width {widths[0]:g})"
    return f"{e.size - 1} bins, edges {[round(float(x), 6) for x in e]}"


def check_binning(
    template: Template, edges: Sequence[float] | np.ndarray, *, source: str | os.PathLike[str]
) -> None:
    """Raise unless ``template`` has exactly the analysis binning ``edges``.

    Raises:
        TemplateError: naming the file, the entry and both binnings.
    """
    want = np.asarray(edges, dtype=float)
    have = template.edges
    if have.shape != want.shape or not np.allclose(have, want, rtol=0, atol=1e-9):
        msg = (
            f"template {template.name!r} in {source} has binning {describe_binning(have)}, "
            f"but the analysis binning is {describe_binning(want)}"
        )
        raise TemplateError(msg)


def _finite(name: str, values: Any, path: Path) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        msg = f"template {name!r} in {path} is not a 1D list of bin contents"
        raise TemplateError(msg)
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        msg = f"template {name!r} in {path} has non-finite contents in bins {bad.tolist()}"
        raise TemplateError(msg)
    return arr


def _report_json(raw: Mapping[str, Any], path: Path) -> dict[str, Template]:
    edges = _finite("bin_edges", raw["bin_edges"], path)
    if edges.size < 2 or not np.all(np.diff(edges) > 0):
        msg = f"template file {path}: bin_edges must be at least two strictly increasing numbers"
        raise TemplateError(msg)
    out: dict[str, Template] = {}
    for key, value in raw.items():
        if key in _REPORT_META_KEYS:
            continue
        if not isinstance(value, list):
            continue
        values = _finite(key, value, path)
        if values.size != edges.size - 1:
            msg = f"template {key!r} in {path} has {values.size} bins but bin_edges give {edges.size - 1}"
            raise TemplateError(msg)
        out[key] = Template(key, edges, values, None)
    if not out:
        msg = f"template file {path} holds no list of bin contents besides bin_edges"
        raise TemplateError(msg)
    return out


def _from_hist(h: Any, path: Path) -> dict[str, Template]:
    edges = np.asarray(h.axes[1].edges, dtype=float)
    out: dict[str, Template] = {}
    for name in h.axes[SAMPLE_AXIS]:
        one = h[{SAMPLE_AXIS: name}]
        var = one.variances()
        out[str(name)] = Template(
            str(name),
            edges,
            _finite(str(name), one.values(), path),
            None if var is None else _finite(f"{name} variances", var, path),
        )
    return out


def read_template_file(path: str | os.PathLike[str]) -> TemplateFile:
    """Read every template of a file (format from the suffix and, for JSON, the content).

    Raises:
        TemplateError: if the file is missing, unreadable or holds no usable template.
    """
    p = Path(path)
    register_input(p)
    if not p.is_file():
        msg = f"template file not found: {p}"
        raise TemplateError(msg)
    suffix = p.suffix.lower()
    digest = sha256_of(p)
    if suffix == ".json":
        raw = read_json(p, what="template file", error=TemplateError)
        if isinstance(raw, dict) and "bin_edges" in raw:
            lumi = raw.get("lumi_fb")
            if lumi is not None and not (
                isinstance(lumi, int | float) and not isinstance(lumi, bool) and 0 < lumi < 1e6
            ):
                msg = (
                    f"template file {p}: lumi_fb must be a positive number below 1e6, got {lumi!r}"
                )
                raise TemplateError(msg)
            return TemplateFile(
                p,
                "report-json",
                digest,
                _report_json(raw, p),
                None if lumi is None else float(lumi),
            )
        return TemplateFile(p, "uhi-json", digest, _from_hist(_load_hist(p), p))
    if suffix == ".root":
        return TemplateFile(p, "root", digest, _from_hist(_load_hist(p), p))
    msg = f"template file {p} must be .json (report or UHI) or .root (TH1s)"
    raise TemplateError(msg)


def _load_hist(p: Path) -> Any:
    try:
        return load_histograms(p)
    except (HistogramError, InputFileError) as err:
        msg = f"cannot read templates from {p}: {err}"
        raise TemplateError(msg) from None
