"""Histogram files: the per-sample m4l histograms as ROOT TH1s or UHI JSON.

A ROOT file with one ``TH1D`` per sample named after the sample (written by
uproot, readable by ROOT), or UHI JSON (``uhi.io.json``); the format follows
the file suffix (``.root`` / ``.json``). Both are written atomically.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import hist
import numpy as np

from .._guard import register_input
from .._io import atomic_path, write_text
from ..errors import HistogramError, InputFileError
from .histograms import SAMPLE_AXIS, _one, make_histogram

__all__ = ["load_histograms", "save_histograms"]

log = logging.getLogger(__name__)


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".root", ".json"):
        msg = f"histogram file {path} must end in .root or .json"
        raise HistogramError(msg)
    return suffix[1:]


def save_histograms(
    h: hist.Hist,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
) -> Path:
    """Write the histograms atomically as ROOT (one TH1D per sample) or UHI JSON.

    Args:
        h: histogram with a ``sample`` axis and one observable axis.
        path: output file; ``.root`` or ``.json``.
        title: a note kept in the file (e.g. that the input was generated):
            the histogram's label in JSON, appended to each TH1's title in ROOT.

    Returns:
        The path written.
    """
    p = Path(path)
    fmt = _format(p)
    if SAMPLE_AXIS not in h.axes.name or h.ndim != 2:
        msg = f"cannot save to {p}: expected a 2D histogram with a {SAMPLE_AXIS!r} axis, got axes {h.axes.name}"
        raise HistogramError(msg)
    if fmt == "json":
        import uhi.io.json

        out = h
        if title is not None:
            out = h.copy()
            out.label = title
        write_text(p, json.dumps(out, default=uhi.io.json.default, indent=4, sort_keys=True) + "\n")
    else:
        import uproot

        with atomic_path(p) as tmp, uproot.recreate(tmp) as f:
            for name in h.axes[SAMPLE_AXIS]:
                one = _one(h, name)
                one.name = str(name) if title is None else f"{name} ({title})"
                f[str(name)] = one
    log.info("wrote histograms %s", p)
    return p


def load_histograms(
    path: str | os.PathLike[str],
    *,
    observable: str = "m4l",
    label: str | None = None,
) -> hist.Hist:
    """Read histograms written by :func:`save_histograms` (or any ROOT file of TH1s).

    Args:
        path: ``.root`` or ``.json`` file.
        observable: name given to the observable axis when reading ROOT
            (ROOT axes have no name).
        label: axis label when reading ROOT (default: the TH1's x-axis title).

    Returns:
        The histogram with a ``sample`` axis (file order) and the observable axis.

    Raises:
        InputFileError: if the file is missing or unreadable.
        HistogramError: if it does not hold compatible histograms.
    """
    p = Path(path)
    register_input(p)
    fmt = _format(p)
    if not p.is_file():
        msg = f"histogram file not found: {p}"
        raise InputFileError(msg)
    if fmt == "json":
        return _load_json(p)
    return _load_root(p, observable, label)


def _load_json(p: Path) -> hist.Hist:
    import uhi.io.json

    try:
        raw = json.loads(p.read_text(encoding="utf-8"), object_hook=uhi.io.json.object_hook)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="sample is a protected keyword")
            h = hist.Hist(raw)
    except (ValueError, TypeError, KeyError, RecursionError) as err:
        msg = f"{p} is not a UHI JSON histogram: {type(err).__name__}: {err}"
        raise HistogramError(msg) from None
    if h.ndim != 2 or h.axes[0].name != SAMPLE_AXIS:
        msg = f"{p}: expected a 2D histogram with a {SAMPLE_AXIS!r} axis first"
        raise HistogramError(msg)
    return h


def _load_root(p: Path, observable: str, label: str | None) -> hist.Hist:
    import uproot

    try:
        with uproot.open(p) as f:
            classes = f.classnames(recursive=False)
            per_sample: dict[str, Any] = {}
            for key, cls in classes.items():
                name = key.rsplit(";", 1)[0]
                if cls.startswith("TH1") and name not in per_sample:
                    per_sample[name] = f[key]
            if not per_sample:
                msg = f"ROOT file {p} holds no TH1 histograms"
                raise HistogramError(msg)
            contents = {
                n: (
                    np.asarray(obj.axis().edges()),
                    obj.values(flow=True),
                    obj.variances(flow=True),
                    obj.axis().member("fTitle"),
                )
                for n, obj in per_sample.items()
            }
    except HistogramError:
        raise
    except Exception as err:
        msg = f"cannot read histograms from ROOT file {p}: {type(err).__name__}: {err}"
        raise InputFileError(msg) from None
    first = next(iter(contents.values()))
    edges = first[0]
    for n, (e, *_rest) in contents.items():
        if e.shape != edges.shape or not np.allclose(e, edges, rtol=0, atol=1e-9):
            msg = f"histogram {n} in {p} has different bin edges from the others"
            raise HistogramError(msg)
    h = make_histogram(
        edges, samples=list(contents), observable=observable, label=label or first[3] or observable
    )
    view: Any = h.view(flow=True)
    for i, (_e, values, variances, _t) in enumerate(contents.values()):
        view.value[i] = values
        view.variance[i] = variances
    return h
