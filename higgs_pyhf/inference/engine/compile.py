"""Compile a pyhf model into the arrays the batched engine evaluates.

The prediction of sample ``s`` in main bin ``b`` is, exactly as in pyhf 0.7.6
(``pyhf.pdf._MainModel.expected_data``)::

    ν_sb = Φ_κ(θ) · Γ_sb(γ) · (nominal_sb + Σ_h Δ_hsb(α_h))

- ``κ = κ(s, b)`` is the *block* of sample ``s`` in the channel of bin ``b``;
  ``Φ_κ`` is the product of the block's scalar factors: ``normfactor`` and
  ``lumi`` (the parameter itself) and ``normsys`` (interpolated, code 1 or 4);
- ``Γ_sb`` is the product of the per-bin factors of that sample and bin:
  ``staterror``, ``shapesys`` and ``shapefactor`` (the parameter of the bin);
- ``Δ_hsb`` are the ``histosys`` shifts (code 0 or 4p).

Parameters are *global* (normfactor, lumi, normsys, histosys: they act on
whole blocks) or *local* (staterror, shapesys, shapefactor: one parameter per
bin). Local parameters are laid out in per-bin *slots* ``slot_par[b, k]`` so
that the fitter can profile them bin by bin.

Everything that pyhf computes while building the model (staterror widths,
shapesys τ factors, fixed bins, inits, bounds, auxiliary data, interpolation
codes) is read from ``model.config``; only the sample and modifier data are
read from ``model.spec``.
"""

from __future__ import annotations

import contextlib
import math
import weakref
from typing import Any, NamedTuple

import numpy as np

from ...errors import FitError
from .layout import Layout, labels, pyhf_layout

__all__ = ["GLOBAL_TYPES", "LOCAL_TYPES", "CompiledModel", "compile_layout", "compile_model"]

#: Modifier types whose parameters act on whole (sample, channel) blocks.
GLOBAL_TYPES = ("normfactor", "lumi", "normsys", "histosys")
#: Modifier types with one parameter per bin (profiled per bin by the fitter).
LOCAL_TYPES = ("staterror", "shapesys", "shapefactor")

#: Factor kinds of the block entries.
LINEAR, NORMSYS_CODE1, NORMSYS_CODE4 = 0, 1, 2
#: Constraint kinds.
NO_CONSTRAINT, NORMAL, POISSON = 0, 1, 2


class CompiledModel(NamedTuple):
    """A pyhf model as arrays (S samples, N main bins, P parameters).

    Attributes:
        par_names: pyhf labels (``name`` or ``name[i]``) in pyhf's order.
        init: (P,) suggested initial values.
        bounds: (P, 2) suggested bounds.
        fixed: (P,) parameters fixed by the measurement (and by pyhf, e.g.
            staterror bins with zero width, shapesys bins without yield).
        nominal: (S, N) nominal yields (0 where a sample is absent).
        block: (S, N) block index κ of each sample and bin.
        n_blocks: number of (sample, channel) blocks.
        global_par: (G,) pyhf indices of the global parameters.
        fac_par: (n_blocks, Kg) global index (into ``global_par``) of each
            scalar factor of a block, −1 for padding.
        fac_kind: (n_blocks, Kg) ``LINEAR``, ``NORMSYS_CODE1`` or ``NORMSYS_CODE4``.
        fac_lo: (n_blocks, Kg) normsys down factor (1 elsewhere).
        fac_hi: (n_blocks, Kg) normsys up factor (1 elsewhere).
        fac_coef: (n_blocks, Kg, 6) code-4 polynomial coefficients a_1..a_6.
        hist_par: (H,) global index of each histosys parameter.
        hist_up: (H, S, N) hi − nominal.
        hist_dn: (H, S, N) nominal − lo.
        histosys_code: ``"code0"`` or ``"code4p"``.
        loc_par: (S, N, Kb) pyhf index of each per-bin factor, −1 for padding.
        loc_slot: (S, N, Kb) slot (0..Kl−1) of each per-bin factor in its bin.
        slot_par: (N, Kl) pyhf index of the local parameter in each slot, −1.
        con_par: (A,) pyhf index constrained by each auxiliary datum.
        con_kind: (A,) ``NORMAL`` or ``POISSON``.
        con_sigma: (A,) width of normal constraints (1 for Poisson ones).
        con_factor: (A,) Poisson rate factor τ (rate = τ·parameter; 1 for normal).
        con_offset: Σ over normal constraints of 2 ln(σ√(2π)): the constant
            part of their −2 ln L.
        aux_nominal: (A,) pyhf's auxiliary data at the suggested init.
        par_con: (P,) index of the auxiliary datum constraining each
            parameter, −1 if none.
    """

    par_names: tuple[str, ...]
    init: np.ndarray
    bounds: np.ndarray
    fixed: np.ndarray
    nominal: np.ndarray
    block: np.ndarray
    n_blocks: int
    global_par: np.ndarray
    fac_par: np.ndarray
    fac_kind: np.ndarray
    fac_lo: np.ndarray
    fac_hi: np.ndarray
    fac_coef: np.ndarray
    hist_par: np.ndarray
    hist_up: np.ndarray
    hist_dn: np.ndarray
    histosys_code: str
    loc_par: np.ndarray
    loc_slot: np.ndarray
    slot_par: np.ndarray
    con_par: np.ndarray
    con_kind: np.ndarray
    con_sigma: np.ndarray
    con_factor: np.ndarray
    con_offset: float
    aux_nominal: np.ndarray
    par_con: np.ndarray

    @property
    def npars(self) -> int:
        """Number of parameters P."""
        return len(self.par_names)

    @property
    def nmain(self) -> int:
        """Number of main bins N."""
        return int(self.nominal.shape[1])

    @property
    def naux(self) -> int:
        """Number of auxiliary data A."""
        return int(self.con_par.size)

    @property
    def local_mask(self) -> np.ndarray:
        """(P,) whether each parameter is a per-bin (local) parameter."""
        out = np.zeros(self.npars, dtype=bool)
        out[self.slot_par[self.slot_par >= 0]] = True
        return out


def _code4_coefficients(lo: float, hi: float) -> np.ndarray:
    """a_1..a_6 of pyhf's code-4 polynomial (α₀ = 1) for factors ``lo``, ``hi``."""
    a_inv = np.array(
        [
            [15 / 16, -15 / 16, -7 / 16, -7 / 16, 1 / 16, -1 / 16],
            [3 / 2, 3 / 2, -9 / 16, 9 / 16, 1 / 16, 1 / 16],
            [-5 / 8, 5 / 8, 5 / 8, 5 / 8, -1 / 8, 1 / 8],
            [3 / -2, 3 / -2, -7 / -8, 7 / -8, -1 / 8, -1 / 8],
            [3 / 16, -3 / 16, -3 / 16, -3 / 16, 1 / 16, -1 / 16],
            [1 / 2, 1 / 2, -5 / 16, 5 / 16, 1 / 16, 1 / 16],
        ]
    )
    lu, ld = math.log(hi), math.log(lo)
    b = np.array([hi - 1, lo - 1, lu * hi, -ld * lo, lu * lu * hi, ld * ld * lo])
    return a_inv @ b  # type: ignore[no-any-return]


def compile_model(model: Any) -> CompiledModel:
    """Compile a ``pyhf.pdf.Model`` (pyhf 0.7.6) into a :class:`CompiledModel`.

    A model read by :mod:`.spec_model` (without pyhf) carries its compiled
    arrays already; they are returned as they are. A pyhf model is compiled
    once: its arrays are kept while the model lives (the callers copy what
    they change), so repeated fits of one model do not compile it again.

    Args:
        model: the pyhf model (its ``spec`` and ``config`` are read).

    Returns:
        The arrays of the model.

    Raises:
        FitError: for features the engine does not evaluate (sample or bin
            clipping, histosys code 2, unknown modifier types).
    """
    compiled = getattr(model, "compiled", None)
    if isinstance(compiled, CompiledModel):
        return compiled
    try:
        return _COMPILED[model]
    except (KeyError, TypeError):
        pass
    cm = compile_layout(pyhf_layout(model))
    with contextlib.suppress(TypeError):  # a model that cannot be weakly referenced
        _COMPILED[model] = cm
    return cm


#: pyhf model → its compiled arrays, for as long as the model lives.
_COMPILED: weakref.WeakKeyDictionary[Any, CompiledModel] = weakref.WeakKeyDictionary()


def compile_layout(lay: Layout) -> CompiledModel:
    """Compile a :class:`Layout` into the engine's arrays.

    Raises:
        FitError: for interpolation codes, modifier or constraint types the
            engine does not evaluate.
    """
    normsys_code, histosys_code = lay.normsys_code, lay.histosys_code
    if normsys_code not in ("code1", "code4") or histosys_code not in ("code0", "code4p"):
        msg = (
            f"interpolation codes normsys={normsys_code}, histosys={histosys_code} are not "
            "supported; expected normsys code1/code4 and histosys code0/code4p"
        )
        raise FitError(msg)
    samples = list(lay.samples)
    channels = list(lay.channels)
    nbins = sum(sl.stop - sl.start for sl in lay.channel_slices.values())
    ns = len(samples)
    chan_slice = lay.channel_slices
    types = lay.types
    npars = int(lay.init.size)

    global_names = [n for n in lay.par_order if types.get(n) in GLOBAL_TYPES]
    global_par = np.array([lay.par_slices[n].start for n in global_names], dtype=int)
    gindex = {n: k for k, n in enumerate(global_names)}

    nominal = np.zeros((ns, nbins))
    block = np.zeros((ns, nbins), dtype=int)
    n_blocks = ns * len(channels)
    factors: list[list[tuple[int, int, float, float]]] = [[] for _ in range(n_blocks)]
    hist: list[tuple[int, np.ndarray, np.ndarray]] = []
    local: dict[tuple[int, int], list[int]] = {}
    local_bins: dict[str, list[int]] = {}
    for c_i, channel in enumerate(channels):
        sl = chan_slice[channel]
        bins = list(range(sl.start, sl.stop))
        for s_i in range(ns):
            block[s_i, sl] = s_i * len(channels) + c_i
        for sample in lay.spec_channels[channel]["samples"]:
            s_i = samples.index(sample["name"])
            kappa = s_i * len(channels) + c_i
            nom = np.asarray(sample["data"], dtype=float)
            nominal[s_i, sl] = nom
            for mod in sample["modifiers"]:
                name, mtype = mod["name"], mod["type"]
                if mtype in ("normfactor", "lumi"):
                    factors[kappa].append((gindex[name], LINEAR, 1.0, 1.0))
                elif mtype == "normsys":
                    kind = NORMSYS_CODE1 if normsys_code == "code1" else NORMSYS_CODE4
                    d = mod["data"]
                    factors[kappa].append((gindex[name], kind, float(d["lo"]), float(d["hi"])))
                elif mtype == "histosys":
                    up = np.zeros((ns, nbins))
                    dn = np.zeros((ns, nbins))
                    up[s_i, sl] = np.asarray(mod["data"]["hi_data"], dtype=float) - nom
                    dn[s_i, sl] = nom - np.asarray(mod["data"]["lo_data"], dtype=float)
                    hist.append((gindex[name], up, dn))
                elif mtype in LOCAL_TYPES:
                    chans = local_bins.setdefault(name, [])
                    if bins[0] not in chans:
                        chans.extend(bins)
                    for b in bins:
                        local.setdefault((s_i, b), []).append(
                            _local_index(lay.par_slices[name], name, local_bins[name], b)
                        )
                else:
                    msg = f"modifier type {mtype!r} ({name}) is not supported by the engine"
                    raise FitError(msg)

    kg = max([1, *[len(f) for f in factors]])
    fac_par = np.full((n_blocks, kg), -1, dtype=int)
    fac_kind = np.zeros((n_blocks, kg), dtype=int)
    fac_lo = np.ones((n_blocks, kg))
    fac_hi = np.ones((n_blocks, kg))
    fac_coef = np.zeros((n_blocks, kg, 6))
    for kappa, entries in enumerate(factors):
        for k, (g, kind, lo, hi) in enumerate(entries):
            fac_par[kappa, k], fac_kind[kappa, k] = g, kind
            fac_lo[kappa, k], fac_hi[kappa, k] = lo, hi
            if kind == NORMSYS_CODE4:
                fac_coef[kappa, k] = _code4_coefficients(lo, hi)

    # one entry per histosys parameter (its samples and channels never overlap)
    hist_par = np.array(sorted({h[0] for h in hist}), dtype=int)
    hist_up = np.zeros((hist_par.size, ns, nbins))
    hist_dn = np.zeros((hist_par.size, ns, nbins))
    for g_i, up, dn in hist:
        j = int(np.flatnonzero(hist_par == g_i)[0])
        hist_up[j] += up
        hist_dn[j] += dn

    kb = max([1, *[len(v) for v in local.values()]])
    loc_par = np.full((ns, nbins, kb), -1, dtype=int)
    for (s_i, b), pars in local.items():
        loc_par[s_i, b, : len(pars)] = pars
    per_bin: list[list[int]] = [[] for _ in range(nbins)]
    for (_s_i, b), pars in sorted(local.items()):
        for p in pars:
            if p not in per_bin[b]:
                per_bin[b].append(p)
    kl = max([1, *[len(v) for v in per_bin]])
    slot_par = np.full((nbins, kl), -1, dtype=int)
    for b, pars in enumerate(per_bin):
        slot_par[b, : len(pars)] = sorted(pars)
    loc_slot = np.full((ns, nbins, kb), -1, dtype=int)
    for (s_i, b), pars in local.items():
        for e, p in enumerate(pars):
            loc_slot[s_i, b, e] = int(np.flatnonzero(slot_par[b] == p)[0])

    con_par: list[int] = []
    con_kind: list[int] = []
    con_sigma: list[float] = []
    con_factor: list[float] = []
    for name, pdf_type, sigmas, taus in lay.constraints:
        sl = lay.par_slices[name]
        n = sl.stop - sl.start
        con_par.extend(range(sl.start, sl.stop))
        if pdf_type == "normal":
            con_kind.extend([NORMAL] * n)
            con_sigma.extend(float(x) for x in (sigmas or [1.0] * n))
            con_factor.extend([1.0] * n)
        elif pdf_type == "poisson":
            con_kind.extend([POISSON] * n)
            con_sigma.extend([1.0] * n)
            con_factor.extend(float(x) for x in taus)
        else:
            msg = f"constraint type {pdf_type!r} of {name} is not supported"
            raise FitError(msg)
    con_par_a = np.array(con_par, dtype=int)
    con_kind_a = np.array(con_kind, dtype=int)
    con_sigma_a = np.array(con_sigma, dtype=float)
    normal = con_kind_a == NORMAL
    con_offset = float(np.sum(2.0 * np.log(con_sigma_a[normal] * math.sqrt(2.0 * math.pi))))
    par_con = np.full(npars, -1, dtype=int)
    par_con[con_par_a] = np.arange(con_par_a.size)

    return CompiledModel(
        par_names=labels(lay.par_order, lay.par_slices),
        init=np.array(lay.init, dtype=float),
        bounds=np.array(lay.bounds, dtype=float).reshape(npars, 2),
        fixed=np.array(lay.fixed, dtype=bool),
        nominal=nominal,
        block=block,
        n_blocks=n_blocks,
        global_par=global_par,
        fac_par=fac_par,
        fac_kind=fac_kind,
        fac_lo=fac_lo,
        fac_hi=fac_hi,
        fac_coef=fac_coef,
        hist_par=hist_par,
        hist_up=hist_up,
        hist_dn=hist_dn,
        histosys_code=histosys_code,
        loc_par=loc_par,
        loc_slot=loc_slot,
        slot_par=slot_par,
        con_par=con_par_a,
        con_kind=con_kind_a,
        con_sigma=con_sigma_a,
        con_factor=np.array(con_factor, dtype=float),
        con_offset=con_offset,
        aux_nominal=np.array(lay.auxdata, dtype=float),
        par_con=par_con,
    )


def _local_index(sl: slice, name: str, bins: list[int], b: int) -> int:
    """Pyhf index of the component of per-bin parameter ``name`` (slice ``sl``) acting on bin ``b``."""
    j = bins.index(b)
    if j >= sl.stop - sl.start:
        msg = f"per-bin parameter {name} has {sl.stop - sl.start} components, bin {b} has none"
        raise FitError(msg)
    return int(sl.start + j)
