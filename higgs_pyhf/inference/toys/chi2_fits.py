"""The report's χ² statistics for many toys: batched continuous minima and grid minima.

The likelihood is minimized by the engine (:mod:`higgs_pyhf.inference.engine`).
The seed report's statistics are not likelihoods, so they have their own
minimizer here, for models whose prediction is linear in the fitted
normfactors, ν = c + θ·T (the engine's :func:`~higgs_pyhf.inference.engine.linear.linear_structure`):

- ``pearson``: Σ (n − ν)²/ν;
- ``neyman``: Σ (n − ν)²/max(n, 1) (a bounded linear least-squares problem).

Both are convex in θ, so a projected Newton method with an active set for
the bounds and Armijo backtracking converges to the global minimum of every
toy; all toys of a batch advance together and a converged toy is frozen, so
a toy's result does not depend on the other toys of its batch.

:func:`grid_statistic` evaluates a statistic (these two or the Poisson
χ² = −2 ln λ_saturated) of every toy at every point of a grid by matrix
products: the report's grid minimization.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ...errors import FitError

__all__ = ["CHI2_STATISTICS", "Chi2Fits", "fit_chi2", "grid_statistic"]

#: The statistics minimized here.
CHI2_STATISTICS = ("pearson", "neyman")


class Chi2Fits(NamedTuple):
    """Minima of many toys.

    Attributes:
        theta: (m, k) best-fit normfactors.
        value: (m,) statistic at the minimum.
        converged: (m,) whether the iteration converged.
    """

    theta: np.ndarray
    value: np.ndarray
    converged: np.ndarray


def _value(statistic: str, n: np.ndarray, nu: np.ndarray) -> np.ndarray:
    if statistic == "pearson":
        with np.errstate(divide="ignore", invalid="ignore"):
            out = ((n - nu) ** 2 / nu).sum(axis=-1)
        return np.where((nu > 0).all(axis=-1), out, np.inf)  # type: ignore[no-any-return]
    return ((n - nu) ** 2 / np.maximum(n, 1.0)).sum(axis=-1)  # type: ignore[no-any-return]


def _derivatives(
    statistic: str, n: np.ndarray, nu: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient (m, k) and Hessian (m, k, k) in θ."""
    if statistic == "pearson":
        safe = np.where(nu > 0, nu, 1.0)
        r = n / safe
        g = t.sum(axis=-1) - (r * r) @ t.T
        w2 = 2.0 * r * r / safe
    else:
        w = 1.0 / np.maximum(n, 1.0)
        g = -2.0 * (w * (n - nu)) @ t.T
        w2 = 2.0 * w
    h = np.einsum("mb,kb,jb->mkj", w2, t, t)
    return g, h


def fit_chi2(
    constant: np.ndarray,
    templates: np.ndarray,
    observed: Any,
    *,
    statistic: str,
    init: Any,
    bounds: np.ndarray,
    free: np.ndarray,
    tol: float = 1e-9,
    max_iter: int = 200,
) -> Chi2Fits:
    """Minimize ``statistic`` over θ for every toy at once.

    Args:
        constant: (N,) prediction of everything not scaled by θ.
        templates: (k, N) prediction per unit of each θ.
        observed: (m, N) pseudo-data.
        statistic: ``pearson`` or ``neyman``.
        init: (k,) or (m, k) starting values (fixed components are held there).
        bounds: (k, 2) bounds.
        free: (k,) which components are fitted.
        tol: convergence tolerance on Newton steps, relative to 1 + |θ|.
        max_iter: maximum Newton iterations.

    Returns:
        The minima.
    """
    if statistic not in CHI2_STATISTICS:
        msg = f"unknown statistic {statistic!r}; expected one of {CHI2_STATISTICS}"
        raise FitError(msg)
    n = np.atleast_2d(np.asarray(observed, dtype=float))
    m, k = n.shape[0], templates.shape[0]
    lo, hi = bounds[:, 0], bounds[:, 1]
    theta = np.empty((m, k))
    theta[:] = np.asarray(init, dtype=float)
    theta[:, free] = np.clip(theta[:, free], lo[free], hi[free])
    converged = np.zeros(m, dtype=bool)
    todo = np.arange(m) if free.any() else np.arange(0)
    converged[:] = not free.any()
    eye = np.eye(k)
    for _ in range(max_iter):
        if todo.size == 0:
            break
        th, nt = theta[todo], n[todo]
        nu = th @ templates + constant
        g, h = _derivatives(statistic, nt, nu, templates)
        active = ((th <= lo) & (g > 0)) | ((th >= hi) & (g < 0)) | ~free
        keep = ~active
        hr = h * (keep[:, :, None] & keep[:, None, :]) + eye * active[:, :, None]
        hr += 1e-12 * np.maximum(np.abs(np.einsum("mii->m", hr)), 1e-300)[:, None, None] * eye
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            step = -np.linalg.solve(hr, np.where(keep, g, 0.0)[..., None])[..., 0]
        step = np.where(np.isfinite(step), step, 0.0)
        f0 = _value(statistic, nt, nu)
        alpha = np.ones(todo.size)
        new = np.clip(th + step, lo, hi)
        f1 = _value(statistic, nt, new @ templates + constant)
        for _ in range(60):
            bad = ~(f1 <= f0 + 1e-4 * np.sum(g * (new - th), axis=-1) + 1e-13 * np.abs(f0))
            if not bad.any():
                break
            alpha[bad] *= 0.5
            new[bad] = np.clip(th[bad] + alpha[bad, None] * step[bad], lo, hi)
            f1[bad] = _value(statistic, nt[bad], new[bad] @ templates + constant)
        accepted = f1 <= f0 + 1e-13 * np.abs(f0)
        new = np.where(accepted[:, None], new, th)
        small = np.all(np.abs(new - th) <= tol * (1.0 + np.abs(th)), axis=-1)
        theta[todo] = new
        done = small | ~accepted
        converged[todo[done]] = True
        todo = todo[~done]
    value = _value(statistic, n, theta @ templates + constant)
    converged &= np.isfinite(value)
    return Chi2Fits(theta, value, converged)


def grid_statistic(
    constant: np.ndarray, templates: np.ndarray, observed: Any, grid: Any, statistic: str
) -> np.ndarray:
    """The statistic of every toy at every grid point, by matrix products.

    Args:
        constant: (N,) prediction of everything not scaled by the grid parameters.
        templates: (k, N) prediction per unit of each grid parameter.
        observed: (m, N) pseudo-data.
        grid: (G, k) parameter points.
        statistic: ``pearson``, ``neyman`` or ``likelihood`` (Poisson χ²).

    Returns:
        (m, G) array; +inf where a prediction is ≤ 0 (Pearson, likelihood with data).
    """
    n = np.atleast_2d(np.asarray(observed, dtype=float))
    nu = np.asarray(grid, dtype=float) @ templates + constant  # (G, N)
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
        if (~pos).any():
            hit = (n > 0).astype(float) @ (~pos).T.astype(float)
            out[hit > 0] = np.inf
        return out  # type: ignore[no-any-return]
    msg = f"unknown statistic {statistic!r}; expected pearson, neyman or likelihood"
    raise FitError(msg)
