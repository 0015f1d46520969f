"""The project's checks of a workspace beyond pyhf's schema: structure, values and size.

pyhf's schema accepts workspaces that pyhf then evaluates surprisingly
(duplicated channels, samples or modifiers), numbers the likelihood cannot
use (NaN, ±inf, denormals, negative yields) and models too large to fit;
these checks refuse them with a message naming the entry. Pure functions on
the specification (no pyhf).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..errors import WorkspaceError

__all__ = [
    "MAX_MAGNITUDE",
    "MAX_MODEL_CELLS",
    "MIN_MAGNITUDE",
    "check_structure",
    "check_values",
]

#: Largest magnitude accepted for any number of a workspace (yields, factors,
#: inits, bounds): beyond it −2 ln L overflows in double precision.
MAX_MAGNITUDE = 1e12
#: Smallest magnitude of a non-zero number: the likelihood's derivatives
#: divide by up to the cube of a yield, which must stay a normal double
#: (a denormal 1e-310 yield gives inf and NaN there); smaller values are refused, write 0.
MIN_MAGNITUDE = 1e-100
#: Largest main bins × parameters of a workspace that is fitted (see :func:`check_structure`).
MAX_MODEL_CELLS = 4_000_000


def _check_numbers(values: Any, where: str, *, non_negative: bool) -> None:
    try:
        arr = np.asarray(values, dtype=float)
    except (ValueError, TypeError):
        msg = f"{where} is not a list of numbers"
        raise WorkspaceError(msg) from None
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        msg = (
            f"{where} has non-finite values (NaN, inf or beyond ±1e308) in bins {bad.tolist()[:10]}"
        )
        raise WorkspaceError(msg)
    big = np.flatnonzero(np.abs(arr) > MAX_MAGNITUDE)
    if big.size:
        msg = f"{where} has values beyond ±{MAX_MAGNITUDE:g} in bins {big.tolist()[:10]}"
        raise WorkspaceError(msg)
    tiny = np.flatnonzero((arr != 0) & (np.abs(arr) < MIN_MAGNITUDE))
    if tiny.size:
        msg = (
            f"{where} has non-zero values below {MIN_MAGNITUDE:g} in magnitude in bins "
            f"{tiny.tolist()[:10]} (first {arr.flat[tiny[0]]:g}); write 0 instead"
        )
        raise WorkspaceError(msg)
    if non_negative:
        neg = np.flatnonzero(arr < 0)
        if neg.size:
            msg = f"{where} has negative values in bins {neg.tolist()[:10]} (first {arr[neg[0]]:g})"
            raise WorkspaceError(msg)


def _size_limit() -> int:
    text = os.environ.get("HIGGS_PYHF_MAX_MODEL_CELLS", "")
    if not text:
        return MAX_MODEL_CELLS
    try:
        value = int(text)
    except ValueError:
        msg = f"HIGGS_PYHF_MAX_MODEL_CELLS must be a whole number, got {text!r}"
        raise WorkspaceError(msg) from None
    return max(value, 1)


def _count_parameters(spec: dict[str, Any]) -> tuple[int, int]:
    """Main bins and free parameters of a workspace (per-bin modifiers count once per bin)."""
    nbins = {
        ch["name"]: len(ch["samples"][0]["data"]) if ch["samples"] else 0 for ch in spec["channels"]
    }
    params: dict[str, int] = {}
    for ch in spec["channels"]:
        for sample in ch["samples"]:
            for mod in sample["modifiers"]:
                per_bin = mod["type"] in ("staterror", "shapesys", "shapefactor")
                params[mod["name"]] = nbins[ch["name"]] if per_bin else 1
    return sum(nbins.values()), sum(params.values())


def check_structure(spec: dict[str, Any], *, source: str = "workspace") -> None:
    """Refuse what pyhf's schema allows but evaluates surprisingly, and models too large to fit.

    **Duplicates are refused, not interpreted.** pyhf 0.7.6 keeps one of two
    channels, observations or samples of the same name and applies a modifier
    listed twice in one sample (same name and type) once, silently; a reader
    of such a workspace expects something else (the sample or the factor
    twice). So two channels, observations or measurements of one name, two
    samples of one name in a channel, and one modifier (name and type) twice
    in a sample are errors naming them. A copy of a sample under another
    name is a second sample and is added, as pyhf does.

    **Size**: main bins × parameters (per-bin modifiers count one parameter
    per bin) may be at most :data:`MAX_MODEL_CELLS` (environment variable
    ``HIGGS_PYHF_MAX_MODEL_CELLS`` overrides it): the fit's time and memory
    grow with that product (on the 2-core development machine, 1000 bins
    each with its own staterror γ fit in 8 s and 0.7 GB, 2000 in 46 s and
    1.6 GB; 10000 took more than 15 GB and minutes).

    Raises:
        WorkspaceError: naming the duplicated entry, or giving the size and the limit.
    """

    def unique(names: list[str], what: str) -> None:
        seen: set[str] = set()
        for name in names:
            if name in seen:
                msg = f"invalid pyhf workspace {source}: {what} {name!r} appears twice (pyhf would keep only one of them)"
                raise WorkspaceError(msg)
            seen.add(name)

    unique([ch["name"] for ch in spec["channels"]], "channel")
    unique([o["name"] for o in spec["observations"]], "observation of channel")
    unique([m["name"] for m in spec["measurements"]], "measurement")
    for ch in spec["channels"]:
        unique([s["name"] for s in ch["samples"]], f"in channel {ch['name']!r}, sample")
        for sample in ch["samples"]:
            seen: set[tuple[str, str]] = set()
            for mod in sample["modifiers"]:
                key = (mod["name"], mod["type"])
                if key in seen:
                    msg = (
                        f"invalid pyhf workspace {source}: channel {ch['name']!r}, sample "
                        f"{sample['name']!r} lists modifier {mod['name']!r} ({mod['type']}) twice "
                        "(pyhf would apply it once)"
                    )
                    raise WorkspaceError(msg)
                seen.add(key)
    bins, npars = _count_parameters(spec)
    limit = _size_limit()
    if bins * npars > limit:
        msg = (
            f"workspace {source} is too large to fit: {bins:,} bins × {npars:,} parameters = "
            f"{bins * npars:,} exceeds the limit of {limit:,} "
            "(set HIGGS_PYHF_MAX_MODEL_CELLS to raise it)"
        )
        raise WorkspaceError(msg)


def check_values(spec: dict[str, Any], *, source: str = "workspace") -> None:
    """Refuse NaN/inf anywhere in the bin contents, and negative observations or yields.

    Raises:
        WorkspaceError: naming the channel, sample (or modifier) and bins.
    """
    for channel in spec["channels"]:
        for sample in channel["samples"]:
            here = f"{source}: channel {channel['name']!r}, sample {sample['name']!r}"
            _check_numbers(sample["data"], f"{here}, data", non_negative=True)
            for mod in sample["modifiers"]:
                data = mod.get("data")
                if not isinstance(data, dict | list):
                    continue
                parts = data.items() if isinstance(data, dict) else [("data", data)]
                for key, values in parts:
                    where = f"{here}, modifier {mod['name']!r} ({mod['type']}) {key}"
                    if isinstance(values, list):
                        _check_numbers(values, where, non_negative=False)
                    elif isinstance(values, int | float):
                        _check_numbers([values], where, non_negative=False)
                        if mod["type"] == "normsys" and values <= 0:
                            # pyhf interpolates log(hi), log(lo): a factor 0 gives NaN
                            msg = f"{where} is {values:g}: a normsys factor must be positive"
                            raise WorkspaceError(msg)
    for obs in spec["observations"]:
        _check_numbers(
            obs["data"], f"{source}: observations of channel {obs['name']!r}", non_negative=True
        )
    for meas in spec["measurements"]:
        for par in meas["config"].get("parameters", []):
            where = f"{source}: measurement {meas['name']!r}, parameter {par.get('name')!r}"
            for key in ("inits", "bounds", "auxdata", "sigmas"):
                if key in par:
                    _check_numbers(par[key], f"{where} {key}", non_negative=key == "sigmas")
