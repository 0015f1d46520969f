"""The :class:`~.layout.Layout` of a workspace read from its JSON, without pyhf.

pyhf 0.7.6 builds a model from a workspace by rules this module follows one
by one (``pyhf.pdf._nominal_and_modifiers_from_spec`` and the modifier
builders):

- channels and samples in sorted order; a channel's width is the length of
  its first sample's data;
- parameter sets collected per modifier type in the order histosys, lumi,
  normfactor, normsys, shapefactor, shapesys, staterror, and within a type in
  the order their modifiers are first met walking channels × samples ×
  (name, type) sorted; a name used by two types (a normsys and a histosys
  of one nuisance) is one parameter when their requirements agree;
- each set's defaults (inits, bounds, auxdata, widths, fixed bins: staterror
  widths from the samples' summed relative errors, shapesys τ = (n/σ)²)
  replaced by the measurement's parameter configuration;
- constrained sets give the auxiliary data, in parameter order.

Anything outside the cases it reproduces exactly (a malformed or ambiguous
workspace that pyhf would refuse, or interpret in a way the engine does not
evaluate) raises :class:`NotNative`; the caller then builds the model with
pyhf, which gives its own answer or error. The equality of both layouts is
tested on every shipped and published workspace.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .layout import Layout

__all__ = ["NotNative", "spec_layout"]

#: pyhf's modifier types, in the order pyhf registers their parameters.
TYPE_ORDER = ("histosys", "lumi", "normfactor", "normsys", "shapefactor", "shapesys", "staterror")
_KEYS = ("paramset_type", "n_parameters", "is_scalar", "inits", "bounds", "auxdata", "factors")
_KEYS_ALL = (*_KEYS, "sigmas", "fixed")
_UNDEFINED = "undefined"
_CONSTRAINT = {"constrained_by_normal": "normal", "constrained_by_poisson": "poisson"}


class NotNative(Exception):
    """The workspace needs pyhf to build its model (the reason is the message)."""


def _requirement(mtype: str, nom: list[float], mod: dict[str, Any]) -> dict[str, Any]:
    """The default parameter set (pyhf's) of one modifier on one sample."""
    if mtype == "normfactor":
        return {"paramset_type": "unconstrained", "n_parameters": 1, "is_scalar": True,
                "inits": (1.0,), "bounds": ((0, 10),), "fixed": False}  # fmt: skip
    if mtype == "lumi":
        return {"paramset_type": "constrained_by_normal", "n_parameters": 1, "is_scalar": True,
                "inits": None, "bounds": None, "fixed": False, "auxdata": None, "sigmas": None}  # fmt: skip
    if mtype in ("normsys", "histosys"):
        return {"paramset_type": "constrained_by_normal", "n_parameters": 1, "is_scalar": True,
                "inits": (0.0,), "bounds": ((-5.0, 5.0),), "fixed": False, "auxdata": (0.0,)}  # fmt: skip
    n = len(nom)
    if mtype == "shapefactor":
        return {"paramset_type": "unconstrained", "n_parameters": n, "is_scalar": False,
                "inits": (1.0,) * n, "bounds": ((0.0, 10.0),) * n, "fixed": False}  # fmt: skip
    # shapesys
    valid = [y > 0 and u > 0 for y, u in zip(nom, mod["data"], strict=True)]
    taus = tuple(
        y**2 / u**2 if ok else 1.0 for ok, y, u in zip(valid, nom, mod["data"], strict=True)
    )
    return {"paramset_type": "constrained_by_poisson", "n_parameters": n, "is_scalar": False,
            "inits": (1.0,) * n, "bounds": ((1e-10, 10.0),) * n,
            "fixed": tuple(not ok for ok in valid), "auxdata": taus, "factors": taus}  # fmt: skip


def _staterror(
    name: str, channels: list[str], samples: list[str], nbins: dict[str, int], mods: Any
) -> dict[str, Any]:
    """The staterror set (pyhf's): widths from the samples' summed relative uncertainties."""
    total = sum(nbins.values())
    masks, noms, uncs = [], [], []
    for s in samples:
        mask, nom, unc = np.zeros(total, bool), np.zeros(total), np.zeros(total)
        start = 0
        for c in channels:
            found = mods.get((c, s))
            if found is not None:
                sample, bymod = found
                nom[start : start + nbins[c]] = sample["data"]
                mod = bymod.get(("staterror", name))
                if mod is not None:
                    if len(mod["data"]) != nbins[c]:
                        msg = f"staterror {name} does not match its sample's bins"
                        raise NotNative(msg)
                    mask[start : start + nbins[c]] = True
                    unc[start : start + nbins[c]] = mod["data"]
            start += nbins[c]
        masks.append(mask)
        noms.append(nom)
        uncs.append(unc)
    with_mod = [i for i, m in enumerate(masks) if m.any()]
    nomsall = np.sum([noms[i] for i in with_mod], axis=0)
    # element by element with numpy scalars' pow, as pyhf does: an array's ``** 2``
    # squares by multiplication, which can differ from pow in the last bit
    relerr = np.sqrt(
        np.sum(
            [
                [(u[b] / nomsall[b]) ** 2 if nomsall[b] > 0 else 0.0 for b in range(total)]
                for u in uncs
            ],
            axis=0,
        )
    )
    mask = masks[with_mod[0]]
    if any((masks[i] != mask).any() for i in with_mod):
        msg = f"staterror {name} covers different bins in different samples"
        raise NotNative(msg)
    sigmas = relerr[mask]
    fixed = sigmas == 0
    sigmas[fixed] = 1.0
    n = int(sigmas.size)
    return {"paramset_type": "constrained_by_normal", "n_parameters": n, "is_scalar": False,
            "inits": (1.0,) * n, "bounds": ((1e-10, 10.0),) * n,
            "fixed": tuple(bool(x) for x in fixed), "auxdata": (1.0,) * n,
            "sigmas": tuple(float(x) for x in sigmas)}  # fmt: skip


def _combine(name: str, reqs: list[dict[str, Any]], user: dict[str, Any]) -> dict[str, Any]:
    """The reduction (pyhf's) of a parameter's requirements with the measurement's configuration."""
    out: dict[str, Any] = {}
    for k in _KEYS_ALL:
        values = {repr(r.get(k, _UNDEFINED)) for r in reqs}
        if len(values) != 1:
            msg = f"parameter {name} has conflicting {k} between its modifiers"
            raise NotNative(msg)
        default = reqs[0].get(k, _UNDEFINED)
        v = user.get(k, default)
        if isinstance(v, str) and v == _UNDEFINED:
            continue
        if isinstance(v, tuple):
            v = list(v)
        elif isinstance(v, list) and default and len(v) != len(default):
            msg = f"configuration of {name}: {k} has {len(v)} values"
            raise NotNative(msg)
        elif v and isinstance(default, str) and default == _UNDEFINED:
            msg = f"configuration of {name}: {k} is not used by its modifier"
            raise NotNative(msg)
        out[k] = v
    n = out["n_parameters"]
    fixed = out["fixed"]
    out["fixed"] = [fixed] * n if isinstance(fixed, bool) else list(fixed)
    for k in ("inits", "bounds", "fixed"):
        if not isinstance(out[k], list) or len(out[k]) != n:
            msg = f"configuration of {name}: {k} does not give {n} values"
            raise NotNative(msg)
    return out


def _walk(spec: dict[str, Any]) -> tuple[list[str], list[str], dict[str, int], dict[Any, Any]]:
    channels = sorted({ch["name"] for ch in spec["channels"]})
    samples = sorted({s["name"] for ch in spec["channels"] for s in ch["samples"]})
    by_name = {ch["name"]: ch for ch in spec["channels"]}
    nbins: dict[str, int] = {}
    mods: dict[tuple[str, str], tuple[dict[str, Any], dict[tuple[str, str], Any]]] = {}
    for c in channels:
        ch = by_name[c]
        if not ch["samples"]:
            msg = f"channel {c} has no samples"
            raise NotNative(msg)
        nbins[c] = len(ch["samples"][0]["data"])
        for s in ch["samples"]:
            if len(s["data"]) != nbins[c]:
                msg = f"sample {s['name']} of channel {c} has another number of bins"
                raise NotNative(msg)
            bymod = {(m["type"], m["name"]): m for m in s["modifiers"]}
            if any(t not in TYPE_ORDER for t, _ in bymod):
                msg = "unknown modifier type"
                raise NotNative(msg)
            mods[(c, s["name"])] = (s, bymod)
    return channels, samples, nbins, mods


def spec_layout(
    spec: dict[str, Any], measurement: str | None = None
) -> tuple[Layout, np.ndarray, str]:
    """The layout, observed data (main bins, then auxdata) and POI of a validated workspace.

    Args:
        spec: a workspace specification that passed the schema and the
            project's structure and value checks.
        measurement: measurement name; the first one by default.

    Returns:
        ``(layout, data, poi)``.

    Raises:
        NotNative: where pyhf is needed (see the module docstring).
    """
    measurements = spec.get("measurements", [])
    chosen = [m for m in measurements if measurement is None or m["name"] == measurement]
    if not chosen:
        msg = f"no measurement {measurement!r}"
        raise NotNative(msg)
    config = chosen[0]["config"]
    channels, samples, nbins, mods = _walk(spec)
    modifiers = sorted({key[::-1] for _, bymod in mods.values() for key in bymod})
    reqs: dict[str, list[dict[str, Any]]] = {}
    for mtype in TYPE_ORDER:
        names = [n for n, t in modifiers if t == mtype]
        if mtype == "staterror":
            for name in names:
                reqs.setdefault(name, []).append(_staterror(name, channels, samples, nbins, mods))
            continue
        seen: dict[str, dict[str, Any]] = {}
        for c in channels:
            for s in samples:
                found = mods.get((c, s))
                for name in names if found else ():
                    mod = found[1].get((mtype, name))  # type: ignore[index]
                    if mod is not None and name not in seen:
                        seen[name] = _requirement(mtype, found[0]["data"], mod)  # type: ignore[index]
        for name, req in seen.items():
            reqs.setdefault(name, []).append(req)
    user = {p["name"]: p for p in config.get("parameters", [])}
    if len(user) != len(config.get("parameters", [])):
        msg = "a parameter is configured twice"
        raise NotNative(msg)
    sets = {name: _combine(name, r, user.get(name, {})) for name, r in reqs.items()}
    if not sets:
        msg = "the model has no parameters"
        raise NotNative(msg)
    par_slices: dict[str, slice] = {}
    start = 0
    for name, ps in sets.items():
        par_slices[name] = slice(start, start + ps["n_parameters"])
        start += ps["n_parameters"]
    constraints, aux = [], []
    for name, ps in sets.items():
        kind = _CONSTRAINT.get(ps["paramset_type"])
        if kind is None:
            continue
        if not isinstance(ps.get("auxdata"), list) or len(ps["auxdata"]) != ps["n_parameters"]:
            msg = f"constrained parameter {name} has no auxiliary data for each component"
            raise NotNative(msg)
        widths = ps.get("sigmas") or None
        constraints.append((name, kind, widths, ps.get("factors") if kind == "poisson" else None))
        aux.extend(ps["auxdata"])
    poi = config.get("poi")
    if poi not in sets or sets[poi]["n_parameters"] != 1:
        msg = f"POI {poi!r} is not a scalar parameter of the model"
        raise NotNative(msg)
    observed = {o["name"]: o["data"] for o in spec.get("observations", [])}
    main: list[float] = []
    for c in channels:
        if c not in observed or len(observed[c]) != nbins[c]:
            msg = f"channel {c} has no observation of its {nbins[c]} bins"
            raise NotNative(msg)
        main.extend(observed[c])
    slices, begin = {}, 0
    for c in channels:
        slices[c] = slice(begin, begin + nbins[c])
        begin += nbins[c]
    try:
        init = np.array([x for ps in sets.values() for x in ps["inits"]], dtype=float)
        bounds = np.array([b for ps in sets.values() for b in ps["bounds"]], dtype=float)
        auxdata = np.array(aux, dtype=float)
        data = np.concatenate([np.array(main, dtype=float), auxdata])
    except (TypeError, ValueError) as err:
        raise NotNative(str(err)) from None
    if bounds.shape != (init.size, 2) or not np.all(np.isfinite(bounds)):
        msg = "bounds are not pairs of numbers"
        raise NotNative(msg)
    for name, kind, widths, taus in constraints:
        values = widths if kind == "normal" else taus
        if values is not None and not all(
            isinstance(v, int | float) and math.isfinite(v) and v > 0 for v in values
        ):
            msg = f"constraint of {name} has unusable widths"
            raise NotNative(msg)
    lay = Layout(
        channels=tuple(channels),
        samples=tuple(samples),
        channel_slices=slices,
        spec_channels={ch["name"]: ch for ch in spec["channels"]},
        types=dict(modifiers),
        par_order=tuple(sets),
        par_slices=par_slices,
        init=init,
        bounds=bounds,
        fixed=np.array([f for ps in sets.values() for f in ps["fixed"]], dtype=bool),
        constraints=tuple(constraints),
        auxdata=auxdata,
        normsys_code="code4",
        histosys_code="code4p",
    )
    return lay, data, str(poi)
