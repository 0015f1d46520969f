"""Vectorized fits of many pseudo-datasets at once for normfactor (+ staterror) models.

A pyhf model whose free parameters are only normfactors predicts
ν_b(θ) = c_b + Σ_k θ_k t_kb, linear in θ. All three statistics used by the toy
studies are convex in θ for such a model, so a projected Newton method with an
active set for the bounds and an Armijo backtracking line search converges to
the global minimum of every toy, with all toys of a block advanced together:

- ``likelihood``: Baker–Cousins 2 Σ [ν − n + n ln(n/ν)] (= −2 ln λ_saturated;
  its differences equal pyhf's Δ(−2lnL));
- ``pearson``: Σ (n − ν)²/ν;
- ``neyman``: Σ (n − ν)²/max(n, 1) (a bounded linear least-squares problem).

A ``staterror`` modifier (ν_b → γ_b ν_b with a Gaussian constraint
G(a_b | γ_b, σ_b)) is profiled per bin analytically, as in CMS Combine's
Barlow–Beeston-lite: ∂/∂γ [γν − n ln(γν) + (γ − a)²/(2σ²)] = 0 is the quadratic
γ² + (νσ² − a)γ − nσ² = 0 whose positive root is the conditional γ̂(θ); the
likelihood value then includes the constraint term (γ̂ − a)²/σ².

Each toy's iteration history depends only on that toy (converged toys are
frozen), so results do not depend on which other toys share the batch.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

import numpy as np
from scipy.special import xlogy

from ..errors import FitError

__all__ = [
    "STATISTICS",
    "BatchedFit",
    "LinearModel",
    "evaluate",
    "fit_batched",
    "grid_statistic",
    "linear_model",
]

log = logging.getLogger(__name__)

#: The statistics the batched fits minimize.
STATISTICS = ("likelihood", "pearson", "neyman")


class LinearModel(NamedTuple):
    """The linear structure of a normfactor (+ staterror) pyhf model.

    Attributes:
        par_names: names of the normfactors fitted in batch (pyhf order).
        par_index: their indices in pyhf's parameter vector.
        constant: prediction of everything not scaled by a normfactor, per bin.
        templates: (k, nbins) prediction per unit of each normfactor.
        bounds: (k, 2) parameter bounds.
        init: pyhf's full initial parameter vector (values of the parameters
            not fitted in batch, e.g. γ = 1).
        gamma_index: per bin, the pyhf parameter index of its staterror γ,
            or −1; ``None`` when the model has no staterror.
        gamma_aux_index: per bin, the index of its auxiliary datum in pyhf's
            auxdata (−1 where there is none).
        gamma_sigma: per bin, relative width σ of the γ constraint (0 where none).
    """

    par_names: tuple[str, ...]
    par_index: tuple[int, ...]
    constant: np.ndarray
    templates: np.ndarray
    bounds: np.ndarray
    init: np.ndarray
    gamma_index: np.ndarray | None = None
    gamma_aux_index: np.ndarray | None = None
    gamma_sigma: np.ndarray | None = None

    @property
    def has_staterror(self) -> bool:
        """Whether per-bin γ are profiled (Barlow–Beeston-lite)."""
        return self.gamma_index is not None

    def expected(self, theta: Any) -> np.ndarray:
        """Prediction ν(θ) per bin (γ = 1), broadcasting θ of shape (..., k)."""
        th = np.asarray(theta, dtype=float)
        return self.constant + th @ self.templates

    def full_parameters(self, theta: Any, gamma: Any = None) -> np.ndarray:
        """Pyhf parameter vector(s) for θ (..., k) and optional γ (..., nbins)."""
        th = np.asarray(theta, dtype=float)
        out = np.broadcast_to(self.init, (*th.shape[:-1], self.init.size)).copy()
        out[..., list(self.par_index)] = th
        if gamma is not None and self.gamma_index is not None:
            g = np.asarray(gamma, dtype=float)
            has = self.gamma_index >= 0
            out[..., self.gamma_index[has]] = g[..., has]
        return out


def linear_model(model: Any) -> LinearModel | None:
    """Extract the linear structure of ``model``, or ``None`` if it has another form.

    Batched fits need every non-fixed parameter to be a normfactor or a
    staterror γ, each sample scaled by at most one normfactor, and staterror
    γ multiplying the whole prediction of its bin. The structure is read from
    pyhf itself (predictions at unit vectors) and verified at a random point.
    """
    cfg = model.config
    types = dict(cfg.modifiers)
    init = np.asarray(cfg.suggested_init(), dtype=float)
    fixed = np.asarray(cfg.suggested_fixed(), dtype=bool)
    bounds_all = np.asarray(cfg.suggested_bounds(), dtype=float)
    norm_names: list[str] = []
    gamma_names: list[str] = []
    for name in cfg.parameters:
        sl = cfg.par_slice(name)
        if np.all(fixed[sl]):
            continue
        kind = types.get(name)
        if kind == "normfactor":
            norm_names.append(name)
        elif kind == "staterror":
            gamma_names.append(name)
        else:
            log.info("parameter %s (%s) is not batchable; toys fall back to pyhf fits", name, kind)
            return None
    if not norm_names:
        return None
    par_index = tuple(cfg.par_slice(n).start for n in norm_names)

    def nu(pars: np.ndarray) -> np.ndarray:
        return np.asarray(model.expected_actualdata(pars), dtype=float)

    base = init.copy()
    base[list(par_index)] = 0.0
    constant = nu(base)
    templates = np.empty((len(norm_names), constant.size))
    for k, i in enumerate(par_index):
        p = base.copy()
        p[i] = 1.0
        templates[k] = nu(p) - constant
    bounds = bounds_all[list(par_index)]
    rng = np.random.default_rng(12345)
    theta = rng.uniform(0.3, 2.0, len(par_index))
    p = base.copy()
    p[list(par_index)] = theta
    if not np.allclose(nu(p), constant + theta @ templates, rtol=1e-10, atol=1e-12):
        log.info("model prediction is not linear in the normfactors; toys fall back to pyhf fits")
        return None
    if not gamma_names:
        return LinearModel(tuple(norm_names), par_index, constant, templates, bounds, init)

    nbins = constant.size
    gamma_index = np.full(nbins, -1)
    gamma_aux_index = np.full(nbins, -1)
    gamma_sigma = np.zeros(nbins)
    aux_offsets: dict[str, int] = {}
    offset = 0
    for name in cfg.auxdata_order:
        aux_offsets[name] = offset
        offset += len(cfg.param_set(name).auxdata)
    ref = nu(p)
    for name in gamma_names:
        sl = cfg.par_slice(name)
        sigmas = np.asarray(cfg.param_set(name).sigmas, dtype=float)
        for j, idx in enumerate(range(sl.start, sl.stop)):
            if fixed[idx]:
                continue
            q = p.copy()
            q[idx] = 2.0
            changed = np.flatnonzero(~np.isclose(nu(q), ref, rtol=1e-12, atol=0))
            if changed.size != 1 or gamma_index[changed[0]] >= 0:
                log.info("staterror %s[%d] does not act on exactly one bin; falling back", name, j)
                return None
            b = changed[0]
            if not np.isclose(nu(q)[b], 2.0 * ref[b], rtol=1e-10):
                log.info("staterror %s does not scale the whole bin %d; falling back", name, b)
                return None
            gamma_index[b] = idx
            gamma_aux_index[b] = aux_offsets[name] + j
            gamma_sigma[b] = sigmas[j]
    return LinearModel(
        tuple(norm_names),
        par_index,
        constant,
        templates,
        bounds,
        init,
        gamma_index,
        gamma_aux_index,
        gamma_sigma,
    )


def _profile_gamma(
    nu: np.ndarray, n: np.ndarray, aux: np.ndarray, sigma: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """γ̂ solving γ² + (νσ² − a)γ − nσ² = 0 (positive root) and dγ̂/dν; γ = 1 where σ = 0."""
    s2 = sigma**2
    has = s2 > 0
    bq = nu * s2 - aux
    disc = np.sqrt(bq * bq + 4.0 * n * s2)
    # numerically stable positive root
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.where(bq <= 0, (-bq + disc) / 2.0, 2.0 * n * s2 / (bq + disc))
        root = np.where(n * s2 == 0, np.maximum(-bq, 0.0), root)
        dgdnu = -s2 * root / (2.0 * root + bq)
    gamma = np.where(has, root, 1.0)
    dgdnu = np.where(has & np.isfinite(dgdnu), dgdnu, 0.0)
    return gamma, dgdnu


def evaluate(
    lm: LinearModel,
    observed: np.ndarray,
    theta: np.ndarray,
    statistic: str,
    aux: np.ndarray | None = None,
    *,
    derivatives: bool = True,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """The statistic, its gradient and Hessian in θ for each toy.

    Args:
        lm: the linear model.
        observed: (m, nbins) pseudo-data.
        theta: (m, k) parameters.
        statistic: one of :data:`STATISTICS`.
        aux: (m, nbins) auxiliary data of the per-bin γ (staterror models).
        derivatives: compute gradient and Hessian too.

    Returns:
        ``(value, gradient, hessian, gamma)``: value (m,) is +inf where a bin
        prediction is ≤ 0 with data in it; gamma (m, nbins) the profiled γ̂ or None.
    """
    n = observed
    nu0 = np.einsum("mk,kb->mb", theta, lm.templates) + lm.constant
    t = lm.templates
    gamma = None
    if lm.gamma_index is not None:
        assert lm.gamma_sigma is not None
        a = np.ones_like(n) if aux is None else aux
        gamma, dgdnu = _profile_gamma(nu0, n, a, lm.gamma_sigma)
        nu = gamma * nu0
    else:
        nu = nu0
    pos = nu > 0
    safe = np.where(pos, nu, 1.0)
    if statistic == "likelihood":
        with np.errstate(divide="ignore", invalid="ignore"):
            logterm = np.where(n > 0, n * np.log(np.where(n > 0, n, 1.0) / safe), 0.0)
        terms = 2.0 * (nu - n + logterm)
        bad = (~pos) & (n > 0)
        if gamma is not None:
            assert lm.gamma_sigma is not None
            s2 = lm.gamma_sigma**2
            a = np.ones_like(n) if aux is None else aux
            with np.errstate(divide="ignore", invalid="ignore"):
                terms = terms + np.where(s2 > 0, (gamma - a) ** 2 / np.where(s2 > 0, s2, 1.0), 0.0)
        value = np.where(bad.any(axis=-1), np.inf, terms.sum(axis=-1))
        if not derivatives:
            return value, None, None, gamma
        if gamma is None:
            w1 = 2.0 * (1.0 - n / safe)
            w2 = 2.0 * n / safe**2
        else:
            # envelope theorem: d/dν0 of the profiled value = 2(γ̂ − n/ν0)
            nu0s = np.where(nu0 > 0, nu0, 1.0)
            w1 = 2.0 * (gamma - n / nu0s)
            w2 = 2.0 * (dgdnu + n / nu0s**2)
    elif statistic == "pearson":
        if gamma is not None:
            msg = "the Pearson statistic is not defined with staterror; use statistic='likelihood'"
            raise FitError(msg)
        value = np.where((~pos).any(axis=-1), np.inf, ((n - nu) ** 2 / safe).sum(axis=-1))
        if not derivatives:
            return value, None, None, None
        w1 = 1.0 - n**2 / safe**2
        w2 = 2.0 * n**2 / safe**3
    elif statistic == "neyman":
        if gamma is not None:
            msg = "the Neyman statistic is not defined with staterror; use statistic='likelihood'"
            raise FitError(msg)
        w = 1.0 / np.maximum(n, 1.0)
        value = ((n - nu) ** 2 * w).sum(axis=-1)
        if not derivatives:
            return value, None, None, None
        w1 = -2.0 * (n - nu) * w
        w2 = 2.0 * w
    else:
        msg = f"unknown statistic {statistic!r}; expected one of {STATISTICS}"
        raise FitError(msg)
    grad = np.einsum("mb,kb->mk", w1, t)
    k = t.shape[0]
    pairs = np.einsum("kb,jb->bkj", t, t).reshape(-1, k * k)
    hess = np.einsum("mb,bq->mq", w2, pairs).reshape(-1, k, k)
    return value, grad, hess, gamma


class BatchedFit(NamedTuple):
    """Minima of many toys.

    Attributes:
        theta: (m, k) best-fit normfactors.
        value: (m,) statistic at the minimum.
        gamma: (m, nbins) profiled γ̂ at the minimum, or None.
        converged: (m,) whether the Newton iteration converged.
        iterations: (m,) Newton iterations used.
    """

    theta: np.ndarray
    value: np.ndarray
    gamma: np.ndarray | None
    converged: np.ndarray
    iterations: np.ndarray


def _solve(h: np.ndarray, g: np.ndarray) -> np.ndarray:
    k = g.shape[-1]
    if k == 1:
        return g / h[:, 0, :]
    if k == 2:
        a, b, c, d = h[:, 0, 0], h[:, 0, 1], h[:, 1, 0], h[:, 1, 1]
        det = a * d - b * c
        return np.stack(
            [(d * g[:, 0] - b * g[:, 1]) / det, (a * g[:, 1] - c * g[:, 0]) / det], axis=-1
        )
    return np.linalg.solve(h, g[..., None])[..., 0]


class _Problem:
    """Per-toy constants and fast value/derivative evaluations (einsum, no BLAS threads)."""

    def __init__(
        self, lm: LinearModel, n: np.ndarray, statistic: str, aux: np.ndarray | None
    ) -> None:
        if statistic not in STATISTICS:
            msg = f"unknown statistic {statistic!r}; expected one of {STATISTICS}"
            raise FitError(msg)
        if lm.has_staterror and statistic != "likelihood":
            msg = f"the {statistic} statistic is not defined with staterror; use statistic='likelihood'"
            raise FitError(msg)
        self.lm, self.n, self.statistic, self.aux = lm, n, statistic, aux
        k = lm.templates.shape[0]
        self.t = lm.templates
        self.tsum = lm.templates.sum(axis=-1)
        self.pairs = np.einsum("kb,jb->bkj", lm.templates, lm.templates).reshape(-1, k * k)
        if statistic == "likelihood":
            self.extra = xlogy(n, n).sum(axis=-1) - n.sum(axis=-1)
        elif statistic == "pearson":
            self.n2 = n * n
            self.extra = -2.0 * n.sum(axis=-1)
        else:
            self.w = 1.0 / np.maximum(n, 1.0)

    def nu(self, theta: np.ndarray) -> np.ndarray:
        return theta @ self.t + self.lm.constant  # type: ignore[no-any-return]

    def value(self, theta: np.ndarray, idx: np.ndarray) -> np.ndarray:
        lm, n = self.lm, self.n[idx]
        if lm.has_staterror:
            aux = None if self.aux is None else self.aux[idx]
            return evaluate(lm, n, theta, "likelihood", aux, derivatives=False)[0]
        nu = self.nu(theta)
        if not (nu > 0).all():
            return evaluate(lm, n, theta, self.statistic, None, derivatives=False)[0]
        if self.statistic == "likelihood":
            return 2.0 * (nu.sum(axis=-1) - np.einsum("mb,mb->m", n, np.log(nu)) + self.extra[idx])  # type: ignore[no-any-return]
        if self.statistic == "pearson":
            return np.einsum("mb,mb->m", self.n2[idx], 1.0 / nu) + self.extra[idx] + nu.sum(axis=-1)  # type: ignore[no-any-return]
        r = n - nu
        return np.einsum("mb,mb->m", self.w[idx], r * r)  # type: ignore[no-any-return]

    def all(self, theta: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Value, gradient and Hessian from one evaluation of ν (one log, one division)."""
        lm, n = self.lm, self.n[idx]
        k = self.t.shape[0]
        nu = None if lm.has_staterror else self.nu(theta)
        if nu is None or not (nu > 0).all():
            aux = None if self.aux is None else self.aux[idx]
            v, g, h, _ = evaluate(lm, n, theta, self.statistic, aux)
            assert g is not None
            assert h is not None
            return v, g, h
        if self.statistic == "likelihood":
            v = 2.0 * (nu.sum(axis=-1) - np.einsum("mb,mb->m", n, np.log(nu)) + self.extra[idx])
            r = n / nu
            g = 2.0 * (self.tsum - np.einsum("mb,kb->mk", r, self.t))
            r /= nu
            r *= 2.0
        elif self.statistic == "pearson":
            inv = 1.0 / nu
            n2 = self.n2[idx]
            v = np.einsum("mb,mb->m", n2, inv) + self.extra[idx] + nu.sum(axis=-1)
            r = n2 * inv
            r *= inv
            g = self.tsum - np.einsum("mb,kb->mk", r, self.t)
            r *= inv
            r *= 2.0
        else:
            w = self.w[idx]
            res = n - nu
            wr = w * res
            v = np.einsum("mb,mb->m", wr, res)
            g = -2.0 * np.einsum("mb,kb->mk", wr, self.t)
            r = 2.0 * w
        h = np.einsum("mb,bq->mq", r, self.pairs).reshape(-1, k, k)
        return v, g, h

    def derivatives(self, theta: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g, h, _ = self.checked_derivatives(theta, idx)
        return g, h

    def checked_derivatives(
        self, theta: np.ndarray, idx: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gradient, Hessian, and whether every bin prediction is positive (derivatives valid)."""
        lm, n = self.lm, self.n[idx]
        k = self.t.shape[0]
        nu = self.nu(theta)
        pos = nu > 0
        valid: np.ndarray = (
            np.ones(n.shape[0], dtype=bool)
            if self.statistic == "neyman"
            else np.asarray(pos.all(axis=-1))
        )
        if lm.has_staterror:
            aux = None if self.aux is None else self.aux[idx]
            _, g, h, _ = evaluate(lm, n, theta, "likelihood", aux)
            assert g is not None
            assert h is not None
            return g, h, valid
        safe = nu if valid.all() else np.where(pos, nu, 1.0)
        if self.statistic == "likelihood":
            r = n / safe
            g = 2.0 * (self.tsum - np.einsum("mb,kb->mk", r, self.t))
            w2 = 2.0 * r / safe
        elif self.statistic == "pearson":
            r = n / safe
            r *= r
            g = self.tsum - np.einsum("mb,kb->mk", r, self.t)
            w2 = 2.0 * r / safe
        else:
            w = self.w[idx]
            g = -2.0 * np.einsum("mb,kb->mk", w * (n - nu), self.t)
            w2 = 2.0 * w
        h = np.einsum("mb,bq->mq", w2, self.pairs).reshape(-1, k, k)
        return g, h, valid


def _least_squares_start(
    lm: LinearModel, n: np.ndarray, theta: np.ndarray, free: np.ndarray
) -> np.ndarray:
    """Starting values from the weighted linear least squares Σ (n − ν)²/max(n, 1) (one solve)."""
    k = theta.shape[1]
    w = 1.0 / np.maximum(n, 1.0)
    fixed_part = np.where(free, 0.0, theta) @ lm.templates
    y = n - lm.constant - fixed_part
    pairs = np.einsum("kb,jb->bkj", lm.templates, lm.templates).reshape(-1, k * k)
    h = (w @ pairs).reshape(-1, k, k)
    b = (w * y) @ lm.templates.T
    eye = np.eye(k)
    h = h * (free[:, None] & free[None, :]) + eye * ~free[:, None]
    b = np.where(free, b, theta)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        start = _solve(h, b)
    good = np.all(np.isfinite(start), axis=-1)
    return np.where(good[:, None], start, theta)


def _fit_likelihood_fast(
    lm: LinearModel,
    n: np.ndarray,
    theta: np.ndarray,
    free: np.ndarray,
    tol: float,
    max_iter: int = 30,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plain Newton on the Poisson likelihood of a model without staterror: the fast path.

    Each iteration costs one prediction, two divisions per bin and three small
    matrix products, with no line search and no bounds: a toy that does not
    converge, or converges outside the bounds or to a point with a bin ν ≤ 0,
    is flagged and left to the safeguarded method. A toy stops (is frozen) when
    its full Newton step is below ``tol`` (1 + |θ|), so its result depends on
    its own data only.

    Returns:
        ``(theta, iterations, clean)``: the minima, the Newton steps taken, and
        which toys converged cleanly inside the bounds.
    """
    t = lm.templates[free]
    k = t.shape[0]
    const = lm.constant + theta[:1, ~free] @ lm.templates[~free] if (~free).any() else lm.constant
    th = np.ascontiguousarray(theta[:, free])
    lo, hi = lm.bounds[free, 0], lm.bounds[free, 1]
    tt = np.ascontiguousarray(t.T)
    pairs = np.einsum("kb,jb->bkj", t, t).reshape(-1, k * k)
    tsum = t.sum(axis=-1)
    m = n.shape[0]
    active = np.ones(m, dtype=bool)
    clean = np.ones(m, dtype=bool)
    iterations = np.zeros(m, dtype=int)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        sub = idx.size < m
        th_a = th[idx] if sub else th
        n_a = n[idx] if sub else n
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            nu = th_a @ t + const
            r = n_a / nu
            grad = tsum - r @ tt
            r /= nu
            step = _solve((r @ pairs).reshape(-1, k, k), grad)
            new = th_a - step
            done = np.all(np.abs(step) <= tol * (1.0 + np.abs(th_a)), axis=-1)
        finite = np.all(np.isfinite(new), axis=-1)
        th[idx[finite]] = new[finite]
        iterations[idx] += 1
        clean[idx[~finite]] = False
        active[idx[done | ~finite]] = False
    # The statistic is convex where every ν > 0, so a stationary point inside the
    # bounds with positive predictions is the constrained global minimum, whatever
    # path the iterates took; anything else goes to the safeguarded method.
    clean &= ~active
    clean &= np.all((th >= lo) & (th <= hi), axis=-1)
    with np.errstate(invalid="ignore", over="ignore"):
        clean &= (th @ t + const).min(axis=-1) > 0
    out = theta.copy()
    out[:, free] = th
    return out, iterations, clean


def fit_batched(
    lm: LinearModel,
    observed: Any,
    *,
    statistic: str = "likelihood",
    aux: Any = None,
    init: Any = None,
    fixed: dict[str, float] | None = None,
    tol: float = 1e-6,
    max_iter: int = 200,
    _fast: bool = True,
) -> BatchedFit:
    """Minimize ``statistic`` over the normfactors for every toy at once.

    Projected Newton with an active set for the bounds; a step is accepted
    without evaluating the statistic when the directional derivative at the
    new point is still ≤ 0 (convexity then guarantees a decrease), otherwise
    by Armijo backtracking; a toy stops when a full, unclipped Newton step is smaller
    than ``tol`` (1 + |θ|) — Newton converges quadratically, so the error left
    is of order ``tol``² — or when no decrease is possible any more.

    Args:
        lm: the linear model (:func:`linear_model`).
        observed: (m, nbins) pseudo-data (main bins only).
        statistic: ``likelihood``, ``pearson`` or ``neyman``.
        aux: (m, nbins) auxiliary data per bin for staterror γ (default 1).
        init: (k,) or (m, k) starting values (default: pyhf's inits, clipped).
        fixed: normfactor name → value held constant (conditional fits).
        tol: convergence tolerance on full Newton steps, relative to 1 + |θ|.
        max_iter: maximum Newton iterations.

    Returns:
        The minima.
    """
    n = np.atleast_2d(np.asarray(observed, dtype=float))
    m, k = n.shape[0], len(lm.par_names)
    if statistic == "likelihood" and np.any(n < 0):
        msg = "the Poisson likelihood needs non-negative pseudo-data; clip Gaussian toys (negative='clip')"
        raise FitError(msg)
    a = None if aux is None else np.atleast_2d(np.asarray(aux, dtype=float))
    prob = _Problem(lm, n, statistic, a)
    lo, hi = lm.bounds[:, 0], lm.bounds[:, 1]
    theta = np.empty((m, k))
    theta[:] = lm.init[list(lm.par_index)] if init is None else np.asarray(init, dtype=float)
    free = np.ones(k, dtype=bool)
    for name, val in (fixed or {}).items():
        j = lm.par_names.index(name)
        theta[:, j] = val
        free[j] = False
    if init is None and free.any():
        theta = _least_squares_start(lm, n, theta, free)
    theta[:, free] = np.clip(theta[:, free], lo[free], hi[free])
    if _fast and statistic == "likelihood" and not lm.has_staterror and free.any():
        # fast path for every toy whose Newton iterates stay clean; the others
        # (bounds, empty predictions, slow convergence) take the safeguarded method below
        fast, fast_iter, clean = _fit_likelihood_fast(lm, n, theta, free, tol)
        if clean.all():
            return BatchedFit(
                fast, prob.value(fast, np.arange(m)), None, np.ones(m, dtype=bool), fast_iter
            )
        if clean.any():
            rest = fit_batched(
                lm,
                n[~clean],
                statistic=statistic,
                init=theta[~clean],
                fixed=fixed,
                tol=tol,
                max_iter=max_iter,
                _fast=False,
            )
            theta_all = fast.copy()
            theta_all[~clean] = rest.theta
            converged = np.ones(m, dtype=bool)
            converged[~clean] = rest.converged
            iterations = fast_iter.copy()
            iterations[~clean] += rest.iterations
            return BatchedFit(
                theta_all, prob.value(theta_all, np.arange(m)), None, converged, iterations
            )
    everyone = np.arange(m)
    grad, hess, _ = prob.checked_derivatives(theta, everyone)
    converged = np.zeros(m, dtype=bool)
    iterations = np.zeros(m, dtype=int)
    todo = everyone if free.any() else everyone[:0]
    if not free.any():
        converged[:] = True
    eye = np.eye(k)
    span = np.where(np.isfinite(hi - lo), hi - lo, 1e3)
    for it in range(max_iter):
        if todo.size == 0:
            break
        th, g, h = theta[todo], grad[todo], hess[todo]
        active = ((th <= lo) & (g > 0)) | ((th >= hi) & (g < 0)) | ~free
        keep = ~active
        hr = h * (keep[:, :, None] & keep[:, None, :]) + eye * active[:, :, None]
        ridge = 1e-12 * np.maximum(np.abs(np.einsum("mii->m", hr)), 1e-300)
        hr = hr + ridge[:, None, None] * eye
        gr = np.where(keep, g, 0.0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            step = -_solve(hr, gr)
        singular = ~np.all(np.isfinite(step), axis=-1)
        if (
            singular.any()
        ):  # flat directions (e.g. no events): a long gradient step, cut by bounds/line search
            step[singular] = -np.sign(gr[singular]) * span
        new = np.clip(th + step, lo, hi)
        tiny = np.all(np.abs(step) <= tol * (1.0 + np.abs(th)), axis=-1) & np.all(
            new == th + step, axis=-1
        )
        gnew, hnew, valid = prob.checked_derivatives(new, todo)
        # convexity: f(new) <= f(old) + g(new)·(new - old), so g(new)·d <= 0 proves a decrease
        # without evaluating f (no logarithms); only the other toys take the Armijo line search
        ok = valid & (np.sum(gnew * (new - th), axis=-1) <= 0) & np.all(np.isfinite(gnew), axis=-1)
        searched = np.flatnonzero(~ok)
        if searched.size:
            sub = todo[searched]
            ths, steps, gs = th[searched], step[searched], g[searched]
            f = prob.value(ths, sub)
            cand = new[searched]
            fnew = prob.value(cand, sub)
            alpha = np.ones(searched.size)
            for _ in range(60):
                acc = fnew <= f + 1e-4 * np.sum(gs * (cand - ths), axis=-1) + 1e-13 * np.abs(f)
                if acc.all():
                    break
                redo = np.flatnonzero(~acc)
                alpha[redo] *= 0.5
                cand[redo] = np.clip(ths[redo] + alpha[redo, None] * steps[redo], lo, hi)
                fnew[redo] = prob.value(cand[redo], sub[redo])
            acc = fnew <= f + 1e-13 * np.abs(f)
            cand = np.where(acc[:, None], cand, ths)
            new[searched] = cand
            tiny[searched] = False
            ok[searched] = acc
            stuck = np.zeros(todo.size, dtype=bool)
            stuck[searched] = ~acc | (f - fnew <= 1e-12 * (1 + np.abs(f)))
            if acc.any():
                gs_new, hs_new = prob.derivatives(cand, sub)
                gnew[searched], hnew[searched] = gs_new, hs_new
        else:
            stuck = np.zeros(todo.size, dtype=bool)
        theta[todo] = new
        grad[todo] = np.where(ok[:, None], gnew, g)
        hess[todo] = np.where(ok[:, None, None], hnew, h)
        iterations[todo] = it + 1
        moved = np.abs(new - th)
        small = tiny | np.all(moved <= 1e-3 * tol * (1.0 + np.abs(th)), axis=-1)
        done = small | ~ok
        converged[todo[done]] = small[done] | stuck[done]
        todo = todo[~done]
    value = prob.value(theta, everyone)
    gamma = evaluate(lm, n, theta, statistic, a, derivatives=False)[3] if lm.has_staterror else None
    if todo.size:
        log.warning(
            "%d of %d batched fits did not converge in %d iterations", todo.size, m, max_iter
        )
    return BatchedFit(theta, value, gamma, converged, iterations)


def grid_statistic(lm: LinearModel, observed: Any, grid: Any, statistic: str) -> np.ndarray:
    """The statistic of every toy at every grid point, by matrix products.

    Args:
        lm: linear model without staterror.
        observed: (m, nbins) pseudo-data.
        grid: (G, k) parameter points.
        statistic: one of :data:`STATISTICS`.

    Returns:
        (m, G) array; +inf where a prediction is ≤ 0 (Pearson, likelihood with data).
    """
    if lm.has_staterror:
        msg = "grid minimization is only available for models without staterror"
        raise FitError(msg)
    n = np.atleast_2d(np.asarray(observed, dtype=float))
    nu = lm.expected(grid)  # (G, b)
    pos = nu > 0
    safe = np.where(pos, nu, 1.0)
    if statistic == "pearson":
        out = (n * n) @ (1.0 / safe).T - 2.0 * n.sum(axis=-1)[:, None] + nu.sum(axis=-1)[None, :]
        out[:, ~pos.all(axis=-1)] = np.inf
        return out  # type: ignore[no-any-return]
    if statistic == "neyman":
        w = 1.0 / np.maximum(n, 1.0)
        return (  # type: ignore[no-any-return]
            (n * n * w).sum(axis=-1)[:, None] - 2.0 * (n * w) @ nu.T + w @ (nu * nu).T
        )
    if statistic == "likelihood":
        if np.any(n < 0):
            msg = "the Poisson likelihood needs non-negative pseudo-data; clip Gaussian toys"
            raise FitError(msg)
        with np.errstate(divide="ignore", invalid="ignore"):
            nlogn = np.where(n > 0, n * np.log(np.where(n > 0, n, 1.0)), 0.0).sum(axis=-1)
        out = 2.0 * (
            nu.sum(axis=-1)[None, :] - n.sum(axis=-1)[:, None] + nlogn[:, None] - n @ np.log(safe).T
        )
        badpts = ~pos
        if badpts.any():
            hit = (n > 0).astype(float) @ badpts.T.astype(float)
            out[hit > 0] = np.inf
        return out  # type: ignore[no-any-return]
    msg = f"unknown statistic {statistic!r}; expected one of {STATISTICS}"
    raise FitError(msg)
