"""Cut flows: events remaining after each cut, per sample, and for data per period and final state.

:class:`Cutflow` (raw and weighted counts of one sample, made by
:func:`make_cutflow` from the per-cut masks of :mod:`higgs_pyhf.build.selection`
and summed over chunks by :func:`merge_cutflows`) is what the histogram stage
records.

For every data file (one per period: ``data_A`` … ``data_D`` in the 2020
release) and every selection, the raw number of events remaining after each
cut, applied cumulatively in the selection's order, split by final state,
plus the number of selected events inside the histogram range.

The final state of an event is decided by its lepton flavours, for events
with exactly four leptons: ``4e`` (four electrons), ``2e2mu``, ``4mu``;
anything else (three of one flavour, other lepton counts) is ``other``.
With lepton types 11 and 13, the flavour cut (type sum 44, 48 or 52) keeps
exactly the first three, so ``other`` is empty after it.

:func:`final_states` and :func:`data_cutflow` are pure; :func:`read_data_cutflows`
reads the files (data branches only: no MC file is needed).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import awkward as ak
import numpy as np

from ..errors import SelectionError
from .config import AnalysisConfig
from .ntuples import DATA_BRANCHES, DEFAULT_STEP_SIZE, iterate_file
from .selection import CUT_NAMES, check_selection, nonfinite_kinematics, select

__all__ = [
    "FINAL_STATES",
    "Cutflow",
    "DataCutflow",
    "data_cutflow",
    "final_states",
    "make_cutflow",
    "merge_cutflows",
    "read_data_cutflows",
    "total_cutflow",
]

#: Final states, in output order.
FINAL_STATES = ("4e", "2e2mu", "4mu", "other")
_ELECTRON, _MUON = 11, 13


def final_states(events: ak.Array) -> np.ndarray:
    """The final state of each event (``4e``, ``2e2mu``, ``4mu`` or ``other``), as a numpy str array."""
    types = events["lep_type"]
    n_lep = ak.to_numpy(ak.num(types, axis=1))
    n_e = ak.to_numpy(ak.sum(types == _ELECTRON, axis=1))
    n_mu = ak.to_numpy(ak.sum(types == _MUON, axis=1))
    four = n_lep == 4
    out = np.full(len(n_lep), "other", dtype="<U5")
    out[four & (n_e == 4)] = "4e"
    out[four & (n_mu == 4)] = "4mu"
    out[four & (n_e == 2) & (n_mu == 2)] = "2e2mu"
    return out


class DataCutflow(NamedTuple):
    """Raw event counts after each cut, per final state, for one data period.

    Attributes:
        period: data period (``A`` … ``D``) or the file's stem.
        file: the file, relative to the data directory.
        selection: the selection name.
        cuts: ``("all", <cuts in order>...)``.
        counts: final state → events remaining after each entry of ``cuts``.
        in_range: final state → selected events with the observable inside
            the histogram range [low, high).
    """

    period: str
    file: str
    selection: str
    cuts: tuple[str, ...]
    counts: dict[str, tuple[int, ...]]
    in_range: dict[str, int]

    def merge(self, other: DataCutflow) -> DataCutflow:
        """Sum with another chunk of the same file and selection."""
        return self._replace(
            counts={
                fs: tuple(a + b for a, b in zip(self.counts[fs], other.counts[fs], strict=True))
                for fs in self.counts
            },
            in_range={fs: self.in_range[fs] + other.in_range[fs] for fs in self.in_range},
        )

    def to_json(self) -> dict[str, Any]:
        """``{"period", "file", "selection", "cuts": [{"cut", "requirement", "events": {fs: n}, "total"}], "in_range"}``."""
        rows = []
        for i, cut in enumerate(self.cuts):
            per_fs = {fs: int(self.counts[fs][i]) for fs in FINAL_STATES}
            rows.append(
                {
                    "cut": cut,
                    "requirement": CUT_NAMES.get(cut, "all events read"),
                    "events": per_fs,
                    "total": sum(per_fs.values()),
                }
            )
        in_range = {fs: int(self.in_range[fs]) for fs in FINAL_STATES}
        return {
            "period": self.period,
            "file": self.file,
            "selection": self.selection,
            "cuts": rows,
            "in_range": {**in_range, "total": sum(in_range.values())},
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> DataCutflow:
        """Inverse of :meth:`to_json`."""
        rows = obj["cuts"]
        return cls(
            period=obj["period"],
            file=obj["file"],
            selection=obj["selection"],
            cuts=tuple(r["cut"] for r in rows),
            counts={fs: tuple(int(r["events"][fs]) for r in rows) for fs in FINAL_STATES},
            in_range={fs: int(obj["in_range"][fs]) for fs in FINAL_STATES},
        )


def data_cutflow(
    events: ak.Array,
    *,
    selection: str,
    edges: Sequence[float],
    period: str,
    file: str,
) -> DataCutflow:
    """The cut flow of a batch of data events, per final state (pure).

    Args:
        events: awkward record array with the data branches.
        selection: ``"intended"`` or ``"report"``.
        edges: histogram bin edges (GeV) for the in-range count.
        period: recorded period name.
        file: recorded file name.
    """
    cuts = ("all", *check_selection(selection))
    sel = select(events, selection=selection)
    fs = final_states(events)
    keep = np.ones(len(fs), dtype=bool)
    masks = [keep.copy()]
    for m in sel.masks.values():
        keep &= m
        masks.append(keep.copy())
    counts = {f: tuple(int(np.count_nonzero(m & (fs == f))) for m in masks) for f in FINAL_STATES}
    m4l = np.full(len(fs), np.nan)
    m4l[sel.passed] = sel.m4l
    inside = sel.passed & (m4l >= edges[0]) & (m4l < edges[-1])
    in_range = {f: int(np.count_nonzero(inside & (fs == f))) for f in FINAL_STATES}
    return DataCutflow(period, file, selection, cuts, counts, in_range)


def _period(file: str) -> str:
    stem = Path(file).name.split(".")[0]
    return stem.split("_", 1)[1] if stem.startswith("data_") else stem


def read_data_cutflows(
    config: AnalysisConfig,
    data_dir: str | os.PathLike[str],
    *,
    selections: Sequence[str] = ("report", "intended"),
    step_size: int | str = DEFAULT_STEP_SIZE,
) -> list[DataCutflow]:
    """Read every data file of ``config`` once and make its cut flow for each selection.

    Returns:
        One :class:`DataCutflow` per (selection, file), selections outermost.

    Raises:
        InputFileError: naming a missing or unreadable file.
    """
    for s in selections:
        check_selection(s)
    out: dict[tuple[str, str], DataCutflow] = {}
    for sample in config.data_samples:
        for rel in sample.files:
            start = 0
            for chunk in iterate_file(
                Path(data_dir) / rel, config.tree, DATA_BRANCHES, step_size=step_size
            ):
                bad = nonfinite_kinematics(chunk)
                if bad is not None:
                    msg = (
                        f"sample {sample.name}: non-finite (NaN/inf) {bad[0]} in "
                        f"{Path(data_dir) / rel} at entry {start + bad[1]}"
                    )
                    raise SelectionError(msg)
                start += len(chunk)
                for s in selections:
                    cf = data_cutflow(
                        chunk, selection=s, edges=config.edges, period=_period(rel), file=rel
                    )
                    key = (s, rel)
                    out[key] = out[key].merge(cf) if key in out else cf
    return [out[(s, rel)] for s in selections for rel in dict.fromkeys(k[1] for k in out)]


def total_cutflow(cutflows: Sequence[DataCutflow]) -> DataCutflow:
    """Sum of the cut flows of several periods (same selection), recorded as period ``all``."""
    first = cutflows[0]
    total = first
    for cf in cutflows[1:]:
        total = total.merge(cf)
    return total._replace(period="all", file="+".join(cf.file for cf in cutflows))


class Cutflow(NamedTuple):
    """Events remaining after each cut of the selection, applied in order.

    Attributes:
        sample: sample name.
        selection: selection name.
        cuts: ``("all", <cuts in order>...)``.
        events: raw number of events remaining after each entry of ``cuts``.
        weighted: sum of event weights remaining after each entry (for
            simulation: expected events at the luminosity used; for data:
            equal to ``events``).
    """

    sample: str
    selection: str
    cuts: tuple[str, ...]
    events: tuple[int, ...]
    weighted: tuple[float, ...]

    @classmethod
    def empty(cls, sample: str, selection: str) -> Cutflow:
        """The cutflow of no events."""
        cuts = ("all", *check_selection(selection))
        return cls(sample, selection, cuts, (0,) * len(cuts), (0.0,) * len(cuts))

    @property
    def selected(self) -> int:
        """Raw number of events passing every cut."""
        return self.events[-1]

    def merge(self, other: Cutflow) -> Cutflow:
        """Sum of two cutflows of the same sample and selection (e.g. two chunks)."""
        if (other.sample, other.selection, other.cuts) != (self.sample, self.selection, self.cuts):
            msg = f"cannot merge the cutflow of {other.sample}/{other.selection} into {self.sample}/{self.selection}"
            raise SelectionError(msg)
        return self._replace(
            events=tuple(a + b for a, b in zip(self.events, other.events, strict=True)),
            weighted=tuple(a + b for a, b in zip(self.weighted, other.weighted, strict=True)),
        )

    def to_json(self) -> dict[str, Any]:
        """``{"sample", "selection", "cuts": [{"cut", "requirement", "events", "weighted"}, ...]}``."""
        rows = [
            {
                "cut": c,
                "requirement": CUT_NAMES.get(c, "all events read"),
                "events": int(n),
                "weighted": float(w),
            }
            for c, n, w in zip(self.cuts, self.events, self.weighted, strict=True)
        ]
        return {"sample": self.sample, "selection": self.selection, "cuts": rows}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Cutflow:
        """Inverse of :meth:`to_json`."""
        rows = obj["cuts"]
        return cls(
            sample=str(obj["sample"]),
            selection=str(obj["selection"]),
            cuts=tuple(str(r["cut"]) for r in rows),
            events=tuple(int(r["events"]) for r in rows),
            weighted=tuple(float(r["weighted"]) for r in rows),
        )


def make_cutflow(
    masks: Mapping[str, np.ndarray],
    weights: np.ndarray | None = None,
    *,
    sample: str,
    selection: str,
) -> Cutflow:
    """Apply per-cut masks cumulatively in their order and count what remains.

    Args:
        masks: cut name → per-event mask, in cutflow order (as from :func:`cut_masks`).
        weights: per-event weights (None: unit weights).
        sample: sample name to record.
        selection: selection name to record.

    Returns:
        The cutflow, starting with ``"all"``.
    """
    lengths = {len(m) for m in masks.values()}
    n = lengths.pop() if lengths else (len(weights) if weights is not None else 0)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    keep = np.ones(n, dtype=bool)
    cuts = ["all"]
    events = [n]
    weighted = [float(w.sum())]
    for name, m in masks.items():
        keep &= m
        cuts.append(name)
        events.append(int(np.count_nonzero(keep)))
        weighted.append(float(np.sum(w, where=keep)))
    return Cutflow(sample, selection, tuple(cuts), tuple(events), tuple(weighted))


def merge_cutflows(cutflows: Iterable[Cutflow]) -> dict[str, Cutflow]:
    """Merge chunk cutflows by sample, in order of first appearance."""
    out: dict[str, Cutflow] = {}
    for cf in cutflows:
        out[cf.sample] = out[cf.sample].merge(cf) if cf.sample in out else cf
    return out
