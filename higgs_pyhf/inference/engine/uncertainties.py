"""Hesse uncertainties of batched best fits, from the analytic Hessian."""

from __future__ import annotations

from typing import Any

import numpy as np

from .compile import CompiledModel
from .fitter import FitResult
from .likelihood import hessian
from .linalg import inverse_pd

__all__ = ["hesse_errors"]


def hesse_errors(cm: CompiledModel, result: FitResult, data: Any) -> tuple[np.ndarray, np.ndarray]:
    """Hesse uncertainties and covariance at the best fits, from the analytic Hessian.

    The covariance of the free parameters is 2 H⁻¹ (H the Hessian of −2 ln L);
    fixed parameters get zero uncertainty.

    Args:
        cm: the compiled model.
        result: the fits (:func:`fit`).
        data: the data sets that were fitted.

    Returns:
        ``(errors [B, P], covariance [B, P, P])``.
    """
    d = np.atleast_2d(np.asarray(data, dtype=float))
    free = result.free
    hess = hessian(cm, result.pars, d)[:, free][:, :, free]
    cov_free = np.empty_like(hess)
    for i in range(hess.shape[0]):  # single-threaded Cholesky; LAPACK only where H is not PD
        h = np.ascontiguousarray(hess[i])
        if not inverse_pd(h, cov_free[i]):
            cov_free[i] = np.linalg.inv(h)
    cov_free *= 2.0
    cov = np.zeros((d.shape[0], cm.npars, cm.npars))
    idx = np.flatnonzero(free)
    cov[:, idx[:, None], idx[None, :]] = cov_free
    errors = np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0.0, None))
    return errors, cov
