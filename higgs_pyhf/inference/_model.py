"""Helpers shared by the inference modules: parameter lookup, pyhf state, linear structure.

- Parameter *labels* are pyhf's ``model.config.par_names`` (scalar parameters
  by name, vector parameters as ``name[i]``), in pyhf's parameter order;
  indices are looked up with ``model.config.par_slice``, never hard-coded.
- :func:`pyhf_state` sets pyhf's numpy backend and the minuit optimizer for
  the duration of a block and restores whatever was set before.
- :func:`normfactor_structure` recognizes models whose prediction is linear in
  a set of free normfactors (ν = c + Σ θ_k t_k), optionally times per-bin
  staterror γ (profiled in closed form) and a ``lumi`` factor (profiled by a
  vectorized golden-section search), which lets grids of points be evaluated
  as array operations instead of one fit per point.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pyhf

from ..errors import FitError

__all__ = [
    "MINUIT_TOLERANCE",
    "LinearStructure",
    "free_labels",
    "label_index",
    "labels",
    "n_free_unconstrained",
    "normfactor_structure",
    "pyhf_state",
    "resolve_values",
]

log = logging.getLogger(__name__)

#: Minuit tolerance used for our fits (EDM target 0.002·tol·errordef); pyhf's
#: default of 0.1 leaves errors of ~1e-2 σ in the best-fit values.
MINUIT_TOLERANCE = 1e-4


@contextlib.contextmanager
def pyhf_state(optimizer: Any = None) -> Iterator[None]:
    """Use pyhf's numpy backend and the minuit optimizer inside the block.

    pyhf's global backend and optimizer are restored afterwards, also when the
    block raises.

    Args:
        optimizer: a pyhf optimizer instance; default
            ``minuit_optimizer(tolerance=MINUIT_TOLERANCE)``.
    """
    old_tensorlib, old_optimizer = pyhf.get_backend()
    opt = (
        optimizer
        if optimizer is not None
        else pyhf.optimize.minuit_optimizer(tolerance=MINUIT_TOLERANCE)
    )
    try:
        pyhf.set_backend("numpy", opt, precision="64b")
        yield
    finally:
        pyhf.set_backend(old_tensorlib, old_optimizer)


def labels(model: pyhf.pdf.Model) -> tuple[str, ...]:
    """Parameter labels in pyhf's order (vector parameters as ``name[i]``)."""
    out: list[str] = [""] * model.config.npars
    for name in model.config.parameters:
        sl = model.config.par_slice(name)
        n = sl.stop - sl.start
        for j, idx in enumerate(range(sl.start, sl.stop)):
            out[idx] = name if n == 1 else f"{name}[{j}]"
    return tuple(out)


def label_index(model: pyhf.pdf.Model, name: str) -> list[int]:
    """Indices of ``name`` in pyhf's parameter vector.

    ``name`` is a label (``s_s``, ``staterror_x[3]``) or the bare name of a
    vector parameter (all its components).

    Raises:
        FitError: naming the valid labels if ``name`` is unknown.
    """
    labs = labels(model)
    if name in labs:
        return [labs.index(name)]
    if name in model.config.parameters:
        sl = model.config.par_slice(name)
        return list(range(sl.start, sl.stop))
    msg = f"unknown parameter {name!r}; valid parameters are {', '.join(labs)}"
    raise FitError(msg)


def resolve_values(
    model: pyhf.pdf.Model, values: Mapping[str, Any] | None, what: str
) -> dict[int, Any]:
    """Map a name → value mapping onto parameter indices (see :func:`label_index`)."""
    out: dict[int, Any] = {}
    for name, val in (values or {}).items():
        try:
            idx = label_index(model, name)
        except FitError as err:
            msg = f"{what}: {err}"
            raise FitError(msg) from None
        for i in idx:
            out[i] = val
    return out


def free_labels(model: pyhf.pdf.Model, fixed: Sequence[str] = ()) -> list[str]:
    """Labels of the parameters that are neither fixed by the model nor in ``fixed``."""
    fixed_idx = {i for name in fixed for i in label_index(model, name)}
    suggested = model.config.suggested_fixed()
    return [lab for i, lab in enumerate(labels(model)) if not suggested[i] and i not in fixed_idx]


def n_free_unconstrained(model: pyhf.pdf.Model, fixed: Sequence[str] = ()) -> int:
    """Number of free parameters without a constraint term (normfactors, shapefactors).

    Constrained nuisance parameters (staterror γ, lumi, ...) come with their
    own auxiliary measurement and do not reduce the χ² degrees of freedom.
    """
    free = set(free_labels(model, fixed))
    labs = labels(model)
    count = 0
    for name in model.config.parameters:
        if model.config.param_set(name).constrained:
            continue
        sl = model.config.par_slice(name)
        count += sum(1 for i in range(sl.start, sl.stop) if labs[i] in free)
    return count


class LinearStructure(NamedTuple):
    """A model prediction linear in some normfactors, optionally with per-bin staterror γ.

    ν_b = γ_b · (constant_b + Σ_k θ_k templates[k, b]); with ``gamma_index``
    set, every γ_b is profiled exactly: −2lnL is convex in γ_b and its
    stationary point is the positive root of γ² + (ν⁰σ² − a)γ − nσ² = 0
    (σ the relative width, a the auxiliary datum of the Gaussian constraint).

    Attributes:
        names: the normfactor labels, in the order requested.
        par_index: their indices in pyhf's parameter vector.
        constant: prediction per main bin with those normfactors at 0 (events).
        templates: (k, nbins) prediction per unit of each normfactor (events).
        base: the full parameter vector used for the other parameters.
        twice_nll_offset: −2lnL terms that depend neither on the normfactors
            nor on γ (ln n!, normalisations, fixed constraint terms), so that
            :meth:`twice_nll` equals pyhf's ``twice_nll``.
        gamma_index: per bin, the pyhf index of its profiled staterror γ or −1;
            None when no γ is profiled.
        gamma_sigma: per bin, σ of the γ constraint (0 where there is none).
        gamma_aux: per bin, the auxiliary datum of the γ constraint.
        lumi_index: pyhf index of a profiled ``lumi`` factor L (ν → L·ν, Gaussian
            constraint with width ``lumi_sigma`` around ``lumi_aux``), or −1.
            L is profiled by a vectorized golden-section search inside
            ``lumi_bounds``, with the γ re-profiled in closed form at each L.
    """

    names: tuple[str, ...]
    par_index: tuple[int, ...]
    constant: np.ndarray
    templates: np.ndarray
    base: np.ndarray
    twice_nll_offset: float
    gamma_index: np.ndarray | None = None
    gamma_sigma: np.ndarray | None = None
    gamma_aux: np.ndarray | None = None
    lumi_index: int = -1
    lumi_sigma: float = 0.0
    lumi_aux: float = 1.0
    lumi_bounds: tuple[float, float] = (0.0, 0.0)

    def expected(self, theta: Any) -> np.ndarray:
        """Prediction per bin at γ = 1 for θ of shape (..., k); returns (..., nbins)."""
        return self.constant + np.asarray(theta, dtype=float) @ self.templates

    def profiled_gamma(self, theta: Any, observed: Any) -> np.ndarray:
        """The conditional best γ per bin at θ and L = 1 (1 where no γ is profiled)."""
        return self._gamma_hat(self.expected(theta), np.asarray(observed, dtype=float))

    def _gamma_hat(self, nu0: np.ndarray, observed: np.ndarray) -> np.ndarray:
        if self.gamma_sigma is None or self.gamma_aux is None:
            return np.ones_like(nu0)
        n = np.asarray(observed, dtype=float)
        s2 = self.gamma_sigma**2
        a = self.gamma_aux
        bq = nu0 * s2 - a
        disc = np.sqrt(bq * bq + 4.0 * n * s2)
        with np.errstate(divide="ignore", invalid="ignore"):
            # numerically stable positive root of γ² + bq·γ − nσ² = 0
            root = np.where(bq <= 0, (-bq + disc) / 2.0, 2.0 * n * s2 / (bq + disc))
        root = np.where(n * s2 == 0, np.maximum(-bq, 0.0), root)
        return np.where(s2 > 0, root, 1.0)  # type: ignore[no-any-return]

    def _value(self, nu0: np.ndarray, gamma: np.ndarray, n: np.ndarray) -> np.ndarray:
        nu = gamma * nu0
        pos = nu > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.where(pos, np.log(np.where(pos, nu, 1.0)), -np.inf)
            terms = np.where(n > 0, nu - n * logs, nu)
        out = 2.0 * terms.sum(axis=-1)
        if self.gamma_sigma is not None and self.gamma_aux is not None:
            s2 = self.gamma_sigma**2
            has = s2 > 0
            out = out + np.sum(
                np.where(has, (self.gamma_aux - gamma) ** 2 / np.where(has, s2, 1.0), 0.0), axis=-1
            )
        return out + self.twice_nll_offset  # type: ignore[no-any-return]

    def twice_nll(self, theta: Any, observed: Any) -> np.ndarray:
        """The −2lnL of pyhf at θ (..., k), γ profiled, for main-bin data ``observed``.

        +inf where a bin has ν ≤ 0 and n > 0.
        """
        n = np.asarray(observed, dtype=float)
        nu0 = self.expected(theta)
        if self.lumi_index < 0:
            return self._value(nu0, self._gamma_hat(nu0, n), n)
        shape = nu0.shape[:-1]
        flat = nu0.reshape(-1, nu0.shape[-1])

        def f(lumi: np.ndarray) -> np.ndarray:
            nul = lumi[:, None] * flat
            return self._value(nul, self._gamma_hat(nul, n), n) + self._lumi_constraint(lumi)

        lo, hi = self.lumi_bounds
        return golden_min(f, lo, hi, flat.shape[0]).reshape(shape)

    def _lumi_constraint(self, lumi: np.ndarray) -> np.ndarray:
        return (self.lumi_aux - lumi) ** 2 / self.lumi_sigma**2  # type: ignore[no-any-return]


def golden_min(
    f: Callable[[np.ndarray], np.ndarray], lo: float, hi: float, m: int, iters: int = 42
) -> np.ndarray:
    """Vectorized golden-section minimization of m unimodal functions on [lo, hi].

    ``f`` maps m abscissae to m values. Returns the m minimum values. The
    bracket shrinks by 0.618 per iteration (42 iterations: 2e-9 of the range,
    so the value is exact to ~1e-17 of the curvature scale); the end points
    are compared too.
    """
    g = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = np.full(m, float(lo)), np.full(m, float(hi))
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iters):
        left = fc < fd
        a = np.where(left, a, c)
        b = np.where(left, d, b)
        c_new = np.where(left, b - g * (b - a), d)
        d_new = np.where(left, c, a + g * (b - a))
        f_new = f(np.where(left, c_new, d_new))
        fc, fd = np.where(left, f_new, fd), np.where(left, fc, f_new)
        c, d = c_new, d_new
    ends = np.minimum(f(np.full(m, float(lo))), f(np.full(m, float(hi))))
    return np.minimum(np.minimum(fc, fd), ends)  # type: ignore[no-any-return]


def _staterror_bins(
    model: pyhf.pdf.Model,
    gamma_labels: Sequence[str],
    p: np.ndarray,
    nu: Callable[[np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Per bin: pyhf index of the γ scaling the whole bin, its σ and its auxdata position."""
    cfg = model.config
    ref = nu(p)
    nbins = ref.size
    gidx = np.full(nbins, -1)
    sigma = np.zeros(nbins)
    auxpos = np.full(nbins, -1)
    offsets: dict[str, int] = {}
    off = 0
    for name in cfg.auxdata_order:
        offsets[name] = off
        off += len(cfg.param_set(name).auxdata)
    labs = labels(model)
    for lab in gamma_labels:
        i = labs.index(lab)
        name = next(
            nm for nm in cfg.parameters if cfg.par_slice(nm).start <= i < cfg.par_slice(nm).stop
        )
        j = i - cfg.par_slice(name).start
        q = p.copy()
        q[i] = 2.0 * p[i]
        changed = np.flatnonzero(~np.isclose(nu(q), ref, rtol=1e-12, atol=0.0))
        if changed.size != 1 or gidx[changed[0]] >= 0:
            return None
        b = int(changed[0])
        if not np.isclose(nu(q)[b], 2.0 * ref[b], rtol=1e-10):
            return None
        gidx[b] = i
        sigma[b] = float(cfg.param_set(name).sigmas[j])
        auxpos[b] = offsets[name] + j
    return gidx, sigma, auxpos


def normfactor_structure(
    model: pyhf.pdf.Model,
    data: Any,
    names: Sequence[str],
    base: Any,
    *,
    require_only_free: bool = True,
) -> LinearStructure | None:
    """The linear structure of ``model`` in the normfactors ``names``, or None.

    Args:
        model: the pyhf model.
        data: observed data (main bins followed by auxdata).
        names: normfactor labels.
        base: full parameter vector giving the values of all other parameters.
        require_only_free: the other parameters are to be profiled: return
            None unless each of them is a staterror γ scaling exactly one whole
            bin (profiled analytically) or a single ``lumi`` factor (profiled
            by golden section); with False they stay at ``base``.

    Returns:
        The structure, verified against pyhf's prediction and ``twice_nll``
        at random points, or None if the model has another form.
    """
    cfg = model.config
    types = dict(cfg.modifiers)
    idx = []
    for name in names:
        if types.get(name) != "normfactor":
            return None
        idx.append(cfg.par_slice(name).start)
    others = [lab for lab in free_labels(model) if lab not in names]
    gamma_labels: list[str] = []
    lumi_labels: list[str] = []
    if require_only_free and others:
        for lab in others:
            pname = lab.split("[", 1)[0]
            kind = types.get(pname)
            if kind == "staterror" and cfg.param_set(pname).constrained:
                gamma_labels.append(lab)
            elif kind == "lumi" and cfg.param_set(pname).constrained and not lumi_labels:
                lumi_labels.append(lab)
            else:
                return None
    obs = np.asarray(data, dtype=float)
    nmain = cfg.nmaindata
    rng = np.random.default_rng(7)
    with pyhf_state():
        p0 = np.asarray(base, dtype=float).copy()
        p0[idx] = 0.0
        gidx_all = [labels(model).index(lab) for lab in gamma_labels + lumi_labels]
        p0[gidx_all] = 1.0

        def nu(p: np.ndarray) -> np.ndarray:
            return np.asarray(model.expected_actualdata(p), dtype=float)

        constant = nu(p0)
        templates = np.empty((len(idx), constant.size))
        for k, i in enumerate(idx):
            p = p0.copy()
            p[i] = 1.0
            templates[k] = nu(p) - constant
        gamma = None
        if gamma_labels:
            p = p0.copy()
            p[idx] = 1.0
            found = _staterror_bins(model, gamma_labels, p, nu)
            if found is None:
                log.debug("staterror of %s does not scale whole bins", gamma_labels)
                return None
            gidx, sigma, auxpos = found
            aux = np.where(auxpos >= 0, obs[nmain + np.maximum(auxpos, 0)], 1.0)
            gamma = (gidx, sigma, aux)
        st = LinearStructure(
            tuple(names), tuple(idx), constant, templates, p0, 0.0, *(gamma or (None, None, None))
        )
        if lumi_labels:
            li = labels(model).index(lumi_labels[0])
            pname = lumi_labels[0]
            aux_off = 0
            for name in cfg.auxdata_order:
                if name == pname:
                    break
                aux_off += len(cfg.param_set(name).auxdata)
            lb = cfg.suggested_bounds()[li]
            st = st._replace(
                lumi_index=li,
                lumi_sigma=float(cfg.param_set(pname).sigmas[0]),
                lumi_aux=float(obs[nmain + aux_off]),
                lumi_bounds=(float(lb[0]), float(lb[1])),
            )
        checks = []
        for _ in range(2):
            theta = rng.uniform(0.5, 2.0, len(idx))
            p = p0.copy()
            p[idx] = theta
            g = np.ones(constant.size)
            if gamma is not None:
                has = gamma[0] >= 0
                g[has] = rng.uniform(0.8, 1.2, int(has.sum()))
                p[gamma[0][has]] = g[has]
            lumi = 1.0
            if st.lumi_index >= 0:
                lumi = float(rng.uniform(*st.lumi_bounds))
                p[st.lumi_index] = lumi
            if not np.allclose(nu(p), lumi * g * st.expected(theta), rtol=1e-10, atol=1e-12):
                log.debug("prediction is not linear in %s", names)
                return None
            ref = float(pyhf.infer.mle.twice_nll(p, obs, model)[0])
            ours = float(st._value(lumi * st.expected(theta), g, obs[:nmain]))
            if st.lumi_index >= 0:
                ours += float(st._lumi_constraint(np.array(lumi)))
            checks.append(ref - ours)
    return st._replace(twice_nll_offset=checks[0])
