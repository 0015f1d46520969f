"""Where the inputs of a build came from: real ATLAS files, generated files, templates.

Real versus generated is decided from recorded provenance, never from the
presence of a marker file alone:

- the package ships the real data files of the ATLAS Open Data 2020 4-lepton
  release with a manifest (``data/atlas_open_data_2020_4lep/PROVENANCE.json``:
  release, origin, sizes, sha256, licence); an input file whose sha256 is in
  that manifest is **real**;
- the generator (:mod:`higgs_pyhf.synthetic`) records the files it wrote in
  its marker (``files``: sample → paths, ``sha256``: path → digest); an
  input file listed there is **generated** (its sha256 checked when the
  marker records one); a marker that does not list a file does not make it
  generated;
- any other file is **unverified** (e.g. the MC ntuples of a full download of
  the release): it is used, recorded as such, and the data label follows the
  data files.

:func:`describe_inputs` returns the ``input`` block of a build's provenance
and the label every figure and report uses (:data:`REAL_LABEL` or
:data:`GENERATED_LABEL`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, InputFileError
from .config import package_data_dir

if TYPE_CHECKING:
    from .config import AnalysisConfig

__all__ = [
    "GENERATED_LABEL",
    "REAL_LABEL",
    "UNVERIFIED_LABEL",
    "describe_inputs",
    "real_data_dir",
    "real_manifest",
    "sha256_of",
]

log = logging.getLogger(__name__)

#: Label of figures and reports made from the real ATLAS files.
REAL_LABEL = "ATLAS Open Data"
#: Label of figures and reports made from generated input.
GENERATED_LABEL = "Generated (not ATLAS data)"
#: Label when the data files are neither the shipped real ones nor generated ones.
UNVERIFIED_LABEL = "Data of unverified origin"


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def real_data_dir() -> Path:
    """The shipped real data: ``Data/data_[A-D].4lep.root`` of the 2020 4lep release."""
    return package_data_dir() / "atlas_open_data_2020_4lep"


@cache
def real_manifest() -> dict[str, Any]:
    """The manifest of the shipped real data (release, origin, files with sha256, licence)."""
    text = (real_data_dir() / "PROVENANCE.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def _real_hashes() -> dict[str, dict[str, Any]]:
    return {f["sha256"]: f for f in real_manifest()["files"]}


def _file_record(
    path: Path, relative: str, marker: dict[str, Any] | None, real: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    if not path.is_file():
        msg = f"input file not found: {path}"
        raise InputFileError(msg)
    digest = sha256_of(path)
    record: dict[str, Any] = {"path": relative, "sha256": digest, "bytes": path.stat().st_size}
    if digest in real:
        record["origin"] = "real"
        record["release"] = real_manifest()["dataset"]
        return record
    written = (marker or {}).get("files") or {}
    listed = {str(Path(f)) for paths in written.values() for f in paths}
    if str(Path(relative)) in listed:
        recorded = ((marker or {}).get("sha256") or {}).get(relative)
        if recorded is not None and recorded != digest:
            msg = (
                f"input file {path} is listed in the generator's marker with sha256 {recorded[:12]}… "
                f"but its content has {digest[:12]}… (modified after generation?)"
            )
            raise ConfigError(msg)
        # ROOT files carry a UUID: the bytes (not the events) differ between two
        # generations with the same seed, so the seed, not the hash, identifies them
        return {"path": relative, "origin": "generated"}
    record["origin"] = "unverified"
    return record


def _refuse_second_copy(path: Path, digest: str | None, what: str, seen: dict[Any, str]) -> None:
    """Refuse a file read a second time: the same file (path, link) or the same bytes.

    Names are compared by the file they resolve to (``Data/x``,
    ``./Data/x``, a symbolic or hard link to it) and by content (``digest``,
    the sha256; generated files are not hashed again): a copy of a file
    holds the same events, which would be counted twice.

    Raises:
        ConfigError: naming both entries.
    """
    st = path.stat()
    for key in ((st.st_dev, st.st_ino), digest):
        if key is None:
            continue
        if key in seen:
            how = "is the same file as" if isinstance(key, tuple) else "has the same content as"
            msg = f"input file {what} {how} {seen[key]}: its events would be counted twice"
            raise ConfigError(msg)
        seen[key] = what


def describe_inputs(
    config: AnalysisConfig,
    data_dir: str | os.PathLike[str],
    *,
    marker: dict[str, Any] | None = None,
    kinds: tuple[str, ...] = ("signal", "background", "data"),
) -> dict[str, Any]:
    """Record every input of a build: files with sha256 and origin, templates, the label.

    Args:
        config: the configuration (its ntuple files and templates).
        data_dir: the folder the ntuple file names are relative to.
        marker: the generator's marker of ``data_dir`` (None if there is none).
        kinds: the sample kinds that are read.

    Returns:
        ``{"files": [...], "templates": [...], "origin": "real"|"generated"|"mixed"|"unverified",
        "data_label": ..., "generated": bool}``.
    """
    base = Path(data_dir)
    real = _real_hashes()
    seen: dict[Any, str] = {}
    files: list[dict[str, Any]] = []
    templates: list[dict[str, Any]] = []
    for s in config.samples:
        if s.kind not in kinds:
            continue
        if s.template is not None:
            templates.append(
                {
                    "sample": s.name,
                    "file": s.template.file.name,
                    "histogram": s.template.histogram,
                    "selection": s.template.selection,
                    "sha256": sha256_of(s.template.file),
                }
            )
            continue
        for rel in s.files:
            try:
                rec = _file_record(base / rel, rel, marker, real)
            except InputFileError as err:
                hint = "" if s.is_data else " (and no template is configured for this sample)"
                msg = f"{err} for sample {s.name}{hint}"
                raise InputFileError(msg) from None
            _refuse_second_copy(base / rel, rec.get("sha256"), f"{rel} of sample {s.name}", seen)
            rec["sample"] = s.name
            rec["kind"] = s.kind
            files.append(rec)
    data_origins = {f["origin"] for f in files if f["kind"] == "data"}
    all_origins = {f["origin"] for f in files}
    generated = "generated" in all_origins
    if generated:
        label = GENERATED_LABEL
    elif data_origins == {"real"}:
        label = REAL_LABEL
    else:
        label = UNVERIFIED_LABEL
    if len(all_origins) == 1:
        origin = all_origins.pop()
    elif not all_origins:
        origin = "templates"
    else:
        origin = "mixed"
    if generated and "real" in all_origins:
        log.warning("inputs mix real ATLAS files and generated ones; labelled generated")
    return {
        "files": files,
        "templates": templates,
        "origin": origin,
        "data_label": label,
        "generated": generated,
    }
