"""Fits of many pseudo-data sets: the engine for the likelihood, :mod:`.chi2_fits` for the report's χ².

A :class:`ToyModel` is what a worker needs (picklable arrays, no pyhf
object): the compiled model, the parameter labels, the POI and the free
normfactors. :func:`fit_toys` fits toys with

- ``likelihood``: the engine's batched profile fit of −2 ln L — every
  free parameter of any pyhf model, nuisances included;
- ``pearson`` / ``neyman``: the report's statistics, over the free
  normfactors of a model linear in them (nothing else free).

:func:`saturated_deviance` is the likelihood's goodness-of-fit statistic
−2 ln λ_saturated: main bins 2Σ[ν − n + n ln(n/ν)] plus each constraint
term relative to its best value (the auxiliary datum itself).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numba
import numpy as np
from scipy.special import xlogy

from ...errors import FitError
from ..engine import CompiledModel, compile_model, expected_aux, expected_main
from ..engine import fit as engine_fit
from ..engine.compile import NORMAL
from ..engine.fitter import resolve_fixed
from ..engine.linear import linear_structure
from .chi2_fits import CHI2_STATISTICS, fit_chi2

__all__ = [
    "STATISTICS",
    "ToyFits",
    "ToyModel",
    "check_statistic",
    "fit_data",
    "fit_toys",
    "n_unconstrained",
    "saturated_deviance",
    "toy_model",
]

#: The statistics toys can be fitted with.
STATISTICS = ("likelihood", *CHI2_STATISTICS)


class ToyModel(NamedTuple):
    """A model as the toy studies need it (picklable).

    Attributes:
        cm: the compiled model.
        poi: the measurement's parameter of interest.
        normfactors: labels of the free normfactors (pyhf order).
    """

    cm: CompiledModel
    poi: str
    normfactors: tuple[str, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        """Every parameter label, pyhf order."""
        return self.cm.par_names

    def position(self, name: str) -> int:
        """Index of a scalar parameter label.

        Raises:
            FitError: naming the valid labels.
        """
        if name not in self.cm.par_names:
            msg = f"unknown parameter {name!r}; valid parameters are {', '.join(self.cm.par_names)}"
            raise FitError(msg)
        return self.cm.par_names.index(name)

    def full(self, values: Mapping[str, float], base: Any = None) -> np.ndarray:
        """A full parameter vector: ``base`` (default: the inits) with ``values`` set."""
        x = np.array(self.cm.init if base is None else base, dtype=float)
        for k, v in values.items():
            x[self.position(k)] = float(v)
        return x


def check_statistic(statistic: str) -> None:
    """Refuse an unknown statistic."""
    if statistic not in STATISTICS:
        msg = f"unknown statistic {statistic!r}; expected one of {STATISTICS}"
        raise FitError(msg)


def toy_model(model: Any) -> ToyModel:
    """Compile a pyhf model for the toy studies."""
    if isinstance(model, ToyModel):
        return model
    cm = compile_model(model)
    cfg = model.config
    kinds = dict(cfg.modifiers)
    normfactors = tuple(
        lab
        for i, lab in enumerate(cm.par_names)
        if kinds.get(lab.split("[", 1)[0]) == "normfactor" and not cm.fixed[i]
    )
    return ToyModel(cm, str(cfg.poi_name), normfactors)


class ToyFits(NamedTuple):
    """Fits of many toys.

    Attributes:
        names: parameter labels (pyhf order).
        bestfit: (m, P) best-fit parameters.
        value: (m,) the minimized statistic (likelihood: pyhf's −2 ln L).
        converged: (m,) whether each fit succeeded.
    """

    names: tuple[str, ...]
    bestfit: np.ndarray
    value: np.ndarray
    converged: np.ndarray


def fit_toys(
    model: Any,
    toys: Any,
    *,
    statistic: str = "likelihood",
    fixed: Mapping[str, float] | None = None,
    init: Any = None,
) -> ToyFits:
    """Fit many pseudo-data sets (rows: main bins + auxdata, as :func:`.sampling.sample_toys` gives).

    Args:
        model: a pyhf model or a :class:`ToyModel`.
        toys: (m, N + A) pseudo-data.
        statistic: ``likelihood`` (any model), ``pearson`` or ``neyman``
            (models whose free parameters are normfactors).
        fixed: parameter label → value held constant.
        init: (P,) or (m, P) starting values (default: the model's inits).

    Returns:
        The fits; failed ones have ``converged=False`` (never raised).
    """
    tm = toy_model(model)
    cm = tm.cm
    data = np.atleast_2d(np.asarray(toys, dtype=float))
    if statistic == "likelihood":
        if np.any(data[:, : cm.nmain] < 0):
            msg = "the Poisson likelihood needs non-negative pseudo-data; clip Gaussian toys (negative='clip')"
            raise FitError(msg)
        r = engine_fit(cm, data, fixed=fixed, init=init)
        return ToyFits(cm.par_names, r.pars, r.twice_nll, r.converged)
    check_statistic(statistic)
    free = ~cm.fixed.copy()
    start = np.asarray(cm.init if init is None else init, dtype=float)
    base = np.broadcast_to(start, (data.shape[0], cm.npars)).copy()
    for i, held in resolve_fixed(cm, fixed).items():
        free[i] = False
        base[:, i] = held
    nf = [tm.position(n) for n in tm.normfactors]
    ls = linear_structure(cm, free, base[0]) if free.any() else None
    idx = np.flatnonzero(free)  # the parameters of the linear structure
    if free.any() and (ls is None or sorted(idx.tolist()) != sorted(i for i in nf if free[i])):
        msg = (
            f"the {statistic} statistic needs a model whose free parameters are normfactors "
            f"entering linearly; fit this model with statistic='likelihood'"
        )
        raise FitError(msg)
    out = base.copy()
    if ls is None:  # everything fixed
        nu = expected_main(cm, base)
        chi2 = _chi2(statistic, data[:, : cm.nmain], nu)
        return ToyFits(cm.par_names, out, chi2, np.isfinite(chi2))
    c = fit_chi2(
        ls.constant,
        ls.templates,
        data[:, : cm.nmain],
        statistic=statistic,
        init=base[:, idx],
        bounds=cm.bounds[idx],
        free=np.ones(idx.size, dtype=bool),
    )
    out[:, idx] = c.theta
    return ToyFits(cm.par_names, out, c.value, c.converged)


def _chi2(statistic: str, n: np.ndarray, nu: np.ndarray) -> np.ndarray:
    if statistic == "pearson":
        with np.errstate(divide="ignore", invalid="ignore"):
            return ((n - nu) ** 2 / nu).sum(axis=-1)  # type: ignore[no-any-return]
    return ((n - nu) ** 2 / np.maximum(n, 1.0)).sum(axis=-1)  # type: ignore[no-any-return]


def saturated_deviance(cm: CompiledModel, pars: Any, data: Any) -> np.ndarray:
    """−2 ln λ_saturated [B]: the likelihood's goodness-of-fit statistic at ``pars``."""
    x = np.atleast_2d(np.asarray(pars, dtype=float))
    d = np.atleast_2d(np.asarray(data, dtype=float))
    n, a = d[:, : cm.nmain], d[:, cm.nmain :]
    nu = expected_main(cm, x)
    nb, nub = np.broadcast_arrays(n, nu)
    main = np.empty(nb.shape[0])
    _main_deviance(nb, nub, main)
    if cm.naux == 0:
        return main  # type: ignore[no-any-return]
    m = expected_aux(cm, x)
    normal = cm.con_kind == NORMAL
    with np.errstate(divide="ignore", invalid="ignore"):
        con = np.where(
            normal, (a - m) ** 2 / cm.con_sigma**2, 2.0 * (m - a + xlogy(a, a) - xlogy(a, m))
        )
    return main + con.sum(axis=-1)  # type: ignore[no-any-return]


@numba.njit(cache=True, nogil=True)
def _main_deviance(n: np.ndarray, nu: np.ndarray, out: np.ndarray) -> None:
    """out[i] = 2 Σ_b [ν − n + n ln(n/ν)] (0 ln 0 = 0; +inf for n > 0 = ν; NaN for n < 0 or ν < 0 < n)."""
    for i in range(n.shape[0]):
        s = 0.0
        for b in range(n.shape[1]):
            x, m = n[i, b], nu[i, b]
            if x == 0.0:
                s += m
            elif x > 0.0 and m > 0.0:
                s += m - x + x * math.log(x / m)
            elif x > 0.0 and m == 0.0:
                s += math.inf
            else:
                s += math.nan
        out[i] = 2.0 * s


def n_unconstrained(tm: ToyModel, fixed: Mapping[str, float] | None = None) -> int:
    """Free parameters without a constraint term (what a fit removes from the ndof)."""
    cm = tm.cm
    free = ~cm.fixed.copy()
    for i in resolve_fixed(cm, fixed):
        free[i] = False
    return int(np.count_nonzero(free & (cm.par_con < 0)))


def fit_data(
    tm: ToyModel,
    data: Any,
    statistic: str = "likelihood",
    fixed: Mapping[str, float] | None = None,
) -> tuple[np.ndarray, float]:
    """Fit the observed data: (full best-fit parameters, minimized statistic).

    Raises:
        FitError: if the fit fails.
    """
    r = fit_toys(tm, np.asarray(data, dtype=float)[None, :], statistic=statistic, fixed=fixed)
    if not r.converged[0]:
        msg = f"the {statistic} fit to the observed data failed"
        raise FitError(msg)
    return r.bestfit[0], float(r.value[0])
