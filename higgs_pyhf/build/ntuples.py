"""Reading ATLAS Open Data 13 TeV (2020 release) 4-lepton ntuples with uproot.

Schema of the ``mini`` tree (energies and momenta in MeV), as used by the
selection: see :data:`BRANCHES`. Only the branches the selection needs are
read (:data:`MC_BRANCHES`, :data:`DATA_BRANCHES`).

Reading is split into :class:`ChunkTask` s — (sample, file, entry range) —
so the chunks can be farmed out to worker processes or a Dask cluster
(:func:`higgs_pyhf.execution.map_tasks`). The entry ranges are the ones
``uproot.iterate`` would produce for the same ``step_size``
(:func:`iterate_file` streams them sequentially), so reading chunk by chunk
returns exactly what ``uproot.iterate`` returns.

Every failure caused by the input (missing file, missing tree or branch,
corrupt or truncated file) raises :class:`~higgs_pyhf.errors.InputFileError`
naming the file.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import uproot

from .._guard import register_input
from .._io import atomic_path
from ..errors import InputFileError

if TYPE_CHECKING:
    import awkward as ak

    from .config import AnalysisConfig, Sample

__all__ = [
    "BRANCHES",
    "DATA_BRANCHES",
    "DEFAULT_STEP_SIZE",
    "MC_BRANCHES",
    "TREE",
    "WEIGHT_BRANCHES",
    "ChunkTask",
    "branches_for",
    "check_file",
    "iterate_file",
    "plan_chunks",
    "read_chunk",
    "release_files",
    "sample_paths",
    "write_ntuple",
]

log = logging.getLogger(__name__)

TREE = "mini"

#: Per-event factors of the MC weight, multiplied with the sample's xsec weight.
WEIGHT_BRANCHES = (
    "mcWeight",
    "scaleFactor_PILEUP",
    "scaleFactor_ELE",
    "scaleFactor_MUON",
    "scaleFactor_LepTRIGGER",
)

#: Branch name → (jagged per-lepton?, numpy dtype in the ATLAS files).
BRANCHES: dict[str, tuple[bool, str]] = {
    "lep_n": (False, "uint32"),
    "lep_pt": (True, "float32"),
    "lep_eta": (True, "float32"),
    "lep_phi": (True, "float32"),
    "lep_E": (True, "float32"),
    "lep_charge": (True, "int32"),
    "lep_type": (True, "uint32"),
    "lep_ptcone30": (True, "float32"),
    "lep_etcone20": (True, "float32"),
    "trigE": (False, "bool"),
    "trigM": (False, "bool"),
    "mcWeight": (False, "float32"),
    "scaleFactor_PILEUP": (False, "float32"),
    "scaleFactor_ELE": (False, "float32"),
    "scaleFactor_MUON": (False, "float32"),
    "scaleFactor_LepTRIGGER": (False, "float32"),
}

#: Branches the selection reads from MC files.
MC_BRANCHES: tuple[str, ...] = tuple(BRANCHES)
#: Branches the selection reads from data files (no weights needed).
DATA_BRANCHES: tuple[str, ...] = tuple(b for b in BRANCHES if b not in WEIGHT_BRANCHES)

#: Default number of entries per chunk (an int: entries; a str like "50 MB": memory).
DEFAULT_STEP_SIZE: int | str = 250_000


class ChunkTask(NamedTuple):
    """One unit of reading work: a range of entries of one file of one sample.

    Attributes:
        sample: sample name (from the configuration).
        path: ROOT file path (absolute or relative to the working directory).
        tree: TTree name.
        branches: branches to read.
        entry_start: first entry (inclusive).
        entry_stop: last entry (exclusive).
    """

    sample: str
    path: str
    tree: str
    branches: tuple[str, ...]
    entry_start: int
    entry_stop: int

    @property
    def n_entries(self) -> int:
        """Number of entries in the chunk."""
        return self.entry_stop - self.entry_start

    def describe(self) -> str:
        """Short human-readable location: ``file entries a-b``."""
        return f"{self.path} (entries {self.entry_start}-{self.entry_stop})"


def branches_for(sample: Sample) -> tuple[str, ...]:
    """The branches to read for a sample (weights only for simulation)."""
    return DATA_BRANCHES if sample.is_data else MC_BRANCHES


def sample_paths(sample: Sample, data_dir: str | os.PathLike[str]) -> list[Path]:
    """The file paths of a sample: its configured names relative to ``data_dir``."""
    return [Path(data_dir) / f for f in sample.files]


def _reason(err: BaseException) -> str:
    text = " ".join(str(err).split())
    if len(text) > 200:
        text = text[:200] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _open_tree(path: Path, tree: str, branches: Sequence[str]) -> tuple[Any, Any]:
    """Open ``path`` and return ``(file, tree)`` after checking tree and branches exist."""
    register_input(path)
    if not path.is_file():
        msg = f"input file not found: {path}"
        raise InputFileError(msg)
    try:
        file = uproot.open(path, array_cache=None, object_cache=None)
    except Exception as err:
        msg = f"cannot open ROOT file {path} (corrupt or truncated?): {_reason(err)}"
        raise InputFileError(msg) from None
    try:
        try:
            obj = file[tree]
        except KeyError:
            have = sorted({k.split(";")[0] for k in file.keys(recursive=False)})
            msg = f"ROOT file {path} has no tree {tree!r} (has: {have})"
            raise InputFileError(msg) from None
        if not isinstance(obj, uproot.behaviors.TBranch.HasBranches):
            msg = f"object {tree!r} in ROOT file {path} is a {type(obj).__name__}, not a TTree"
            raise InputFileError(msg)
        present = set(obj.keys())
        missing = [b for b in branches if b not in present]
        if missing:
            msg = f"tree {tree!r} in ROOT file {path} lacks branch{'es' if len(missing) > 1 else ''} {', '.join(missing)}"
            raise InputFileError(msg)
    except InputFileError:
        file.close()
        raise
    except Exception as err:
        file.close()
        msg = (
            f"cannot read tree {tree!r} of ROOT file {path} (corrupt or truncated?): {_reason(err)}"
        )
        raise InputFileError(msg) from None
    return file, obj


def check_file(path: str | os.PathLike[str], tree: str, branches: Sequence[str]) -> int:
    """Check that a file opens and has the tree and branches; return its number of entries.

    Raises:
        InputFileError: if the file is missing, unreadable, or lacks the tree or a branch.
    """
    file, obj = _open_tree(Path(path), tree, branches)
    with file:
        return int(obj.num_entries)


def _entries_per_step(obj: Any, branches: Sequence[str], step_size: int | str, path: Path) -> int:
    if isinstance(step_size, int) and not isinstance(step_size, bool):
        if step_size < 1:
            msg = f"step size must be a positive number of entries, got {step_size}"
            raise ValueError(msg)
        return step_size
    try:
        return max(1, int(obj.num_entries_for(step_size, list(branches))))
    except Exception as err:
        msg = f"cannot size chunks of {step_size!r} for ROOT file {path}: {_reason(err)}"
        raise InputFileError(msg) from None


def plan_chunks(
    config: AnalysisConfig,
    data_dir: str | os.PathLike[str],
    *,
    step_size: int | str = DEFAULT_STEP_SIZE,
    samples: Sequence[str] | None = None,
) -> list[ChunkTask]:
    """Open every input file once, check it, and split it into chunk tasks.

    Args:
        config: the analysis configuration (samples, file names, tree).
        data_dir: directory the sample file names are relative to.
        step_size: entries per chunk (int) or memory per chunk (``"50 MB"``),
            as for ``uproot.iterate``.
        samples: restrict to these sample names (default: all, in config order).

    Returns:
        The tasks in a deterministic order (config sample order, file order,
        entry order). Files with zero entries give no task.

    Raises:
        InputFileError: naming the file if one is missing, corrupt, or lacks
            the tree or a needed branch.
    """
    chosen = config.samples if samples is None else tuple(config.sample(n) for n in samples)
    tasks: list[ChunkTask] = []
    for sample in chosen:
        branches = branches_for(sample)
        for path in sample_paths(sample, data_dir):
            obj = _OPEN_TREES.get(path, config.tree, branches)
            n = int(obj.num_entries)
            step = _entries_per_step(obj, branches, step_size, path)
            starts = range(0, n, step)
            tasks.extend(
                ChunkTask(sample.name, str(path), config.tree, branches, a, min(a + step, n))
                for a in starts
            )
            log.debug("%s: %d entries in %d chunks", path, n, len(starts))
    log.info("planned %d chunks over %d samples", len(tasks), len(chosen))
    return tasks


class _OpenTrees(threading.local):
    """Per-thread cache of opened trees, keyed by file identity (path, inode, size, mtime).

    Planning and the chunks of a file then parse the tree's metadata once.
    A changed file (rewritten, truncated) gets a new key and is reopened.
    """

    def __init__(self, maxsize: int = 64) -> None:
        self.maxsize = maxsize
        self.entries: OrderedDict[tuple[Any, ...], tuple[Any, Any]] = OrderedDict()

    def get(self, path: Path, tree: str, branches: Sequence[str]) -> Any:
        try:
            st = path.stat()
        except OSError:
            msg = f"input file not found: {path}"
            raise InputFileError(msg) from None
        key = (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns, tree)
        hit = self.entries.get(key)
        if hit is None:
            hit = _open_tree(path, tree, branches)
            self.entries[key] = hit
            while len(self.entries) > self.maxsize:
                _, (old, _tree) = self.entries.popitem(last=False)
                old.close()
        else:
            self.entries.move_to_end(key)
            present = set(hit[1].keys())
            missing = [b for b in branches if b not in present]
            if missing:
                msg = f"tree {tree!r} in ROOT file {path} lacks branch{'es' if len(missing) > 1 else ''} {', '.join(missing)}"
                raise InputFileError(msg)
        return hit[1]

    def clear(self) -> None:
        while self.entries:
            _, (file, _tree) = self.entries.popitem()
            file.close()


_OPEN_TREES = _OpenTrees()


def release_files() -> None:
    """Close the files kept open (in this thread) by :func:`plan_chunks` and :func:`read_chunk`."""
    _OPEN_TREES.clear()


def read_chunk(task: ChunkTask) -> ak.Array:
    """Read the branches of one chunk as an awkward record array (MeV units).

    Chunks of the same (unchanged) file reuse the opened tree (see :func:`release_files`).

    Raises:
        InputFileError: naming the file if it cannot be read (e.g. truncated baskets).
    """
    obj = _OPEN_TREES.get(Path(task.path), task.tree, task.branches)
    try:
        return obj.arrays(
            list(task.branches),
            entry_start=task.entry_start,
            entry_stop=task.entry_stop,
            library="ak",
        )
    except Exception as err:
        _OPEN_TREES.clear()
        msg = f"cannot read {task.describe()} (corrupt or truncated?): {_reason(err)}"
        raise InputFileError(msg) from None


def iterate_file(
    path: str | os.PathLike[str],
    tree: str,
    branches: Sequence[str],
    *,
    step_size: int | str = DEFAULT_STEP_SIZE,
) -> Iterator[ak.Array]:
    """Stream a file's branches with ``uproot.iterate`` in chunks of ``step_size``.

    Yields:
        Awkward record arrays, one per chunk, in entry order.

    Raises:
        InputFileError: if the file is missing, unreadable, or lacks the tree or a branch.
    """
    p = Path(path)
    check_file(p, tree, branches)
    try:
        yield from uproot.iterate({str(p): tree}, list(branches), step_size=step_size, library="ak")
    except Exception as err:
        msg = f"cannot read ROOT file {p} (corrupt or truncated?): {_reason(err)}"
        raise InputFileError(msg) from None


def write_ntuple(
    path: str | os.PathLike[str],
    events: ak.Array,
    *,
    tree: str = TREE,
    basket_entries: int = 50_000,
) -> Path:
    """Write events as an open-data-shaped TTree, atomically (used for tests and generated input).

    Jagged fields called ``lep_*`` become ``lep_*`` branches sharing one
    counter branch (``nlep``); every other field becomes a flat branch. Types
    are kept as given (use the dtypes of :data:`BRANCHES`).

    Args:
        path: output ROOT file (overwritten).
        events: awkward record array, one entry per event.
        tree: TTree name.
        basket_entries: entries per basket (one ``extend`` call each).

    Returns:
        The path written.
    """
    import awkward as ak

    jagged = [f for f in events.fields if f.startswith("lep_") and events[f].ndim == 2]
    flat = [f for f in events.fields if f not in jagged]

    def branches(chunk: ak.Array) -> dict[str, Any]:
        out: dict[str, Any] = {f: chunk[f] for f in flat}
        if jagged:
            out["lep"] = ak.zip({f[len("lep_") :]: chunk[f] for f in jagged})
        return out

    p = Path(path)
    with atomic_path(p) as tmp, uproot.recreate(tmp) as out:
        out.mktree(tree, {k: v.type for k, v in branches(events[:0]).items()})
        for start in range(0, len(events), basket_entries):
            out[tree].extend(branches(events[start : start + basket_entries]))
    return p
