"""Coverage of the Δ(statistic) ≤ d region: the seed report's §2.6 question, for any model.

For each toy drawn at the true parameters, Δ = statistic(tested parameters
at their true values, every other free parameter profiled) − the global
minimum; f(d) is the fraction of toys with Δ ≤ d and the critical value the
68.27% quantile of the Δ's (2.30 by Wilks' theorem for two parameters).

Minimizations: ``continuous`` (the engine for the likelihood, any model;
:mod:`.chi2_fits` for the report's χ²) or ``grid`` (the report's: the
minimum over the points of a grid of the normfactors, truth snapped to the
grid; models linear in their free normfactors).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, Unpack

import numpy as np
from scipy import stats

from ..._io import jsonable
from ..._summary import markdown_repr, result_dict, short_repr
from ...errors import FitError
from ..engine.linear import linear_structure
from .chi2_fits import grid_statistic
from .fits import ToyModel, check_statistic, fit_data, fit_toys, toy_model
from .runner import RunOptions, ToyDraws, run_at
from .sampling import DEFAULT_BLOCK_SIZE, check_sampling
from .summary import CONFIDENCE_68, binomial_error, fraction, quantile_band

__all__ = [
    "MINIMIZATIONS",
    "REPORT_GRID",
    "CoverageResult",
    "coverage_from_deltas",
    "coverage_toys",
]

MINIMIZATIONS = ("continuous", "grid")
#: The seed report's 2D grid: s_s in [0.1, 2.7] x s_b in [1.1, 1.5], 100 x 100.
REPORT_GRID: dict[str, tuple[float, float, int]] = {"s_s": (0.1, 2.7, 100), "s_b": (1.1, 1.5, 100)}


class CoverageResult(NamedTuple):
    """Coverage of the Δ(statistic) ≤ d region for the true parameters.

    Attributes:
        parameters: the tested parameters (all other free parameters profiled).
        truth: the generating parameters (for ``grid``: snapped to the grid).
        d_values: the d grid.
        fraction: f(d) = fraction of toys with Δ(truth) ≤ d (same toys for every d).
        fraction_error: binomial error of f(d).
        confidence: the target coverage (0.6827).
        critical_value: the ``confidence`` quantile of Δ (the d with f(d) = 0.6827).
        critical_value_band: its 68.27% order-statistics (binomial) band.
        expected_critical_value: χ²(ndof) quantile (2.30 for two parameters).
        coverage_at_expected: f(expected_critical_value).
        coverage_at_expected_error: its binomial error.
        ndof: number of tested parameters.
        statistic: ``likelihood``, ``pearson`` or ``neyman``.
        minimization: ``continuous`` or ``grid``.
        n_failed: toys whose fits failed (excluded).
        settings: seed, ntoys, sampling, grid, …
        bestfit_bias: mean (best fit − truth) of the toys per tested parameter
            (a biased estimator, like the Pearson χ², inflates Δ at the truth).
        bestfit_std: standard deviation of the toys' best fits per parameter.
    """

    parameters: tuple[str, ...]
    truth: dict[str, float]
    d_values: np.ndarray
    fraction: np.ndarray
    fraction_error: np.ndarray
    confidence: float
    critical_value: float
    critical_value_band: tuple[float, float]
    expected_critical_value: float
    coverage_at_expected: float
    coverage_at_expected_error: float
    ndof: int
    statistic: str
    minimization: str
    n_failed: int
    settings: dict[str, Any]
    bestfit_bias: dict[str, float] | None = None
    bestfit_std: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """What the command line prints for this result (its JSON, read back)."""
        return result_dict(self)

    def __repr__(self) -> str:
        return short_repr(self)

    def _repr_markdown_(self) -> str:
        return markdown_repr(self)

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form (``critical_value`` is the 68.27% one)."""
        return jsonable(self._asdict())  # type: ignore[no-any-return]

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> CoverageResult:
        """Inverse of :meth:`to_json`."""
        d = dict(obj)
        for k in ("d_values", "fraction", "fraction_error"):
            d[k] = np.asarray(d[k], dtype=float)
        d["parameters"] = tuple(d["parameters"])
        d["critical_value_band"] = tuple(d["critical_value_band"])
        return cls(**d)


def coverage_from_deltas(
    deltas: Any,
    *,
    ndof: int,
    d_values: Any = None,
    confidence: float = CONFIDENCE_68,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, tuple[float, float]]:
    """f(d), its error, the critical value and its band from the Δ of each toy.

    Returns:
        ``(d_values, fraction, fraction_error, critical_value, band)``.
    """
    x = np.sort(np.asarray(deltas, dtype=float))
    n = x.size
    if n == 0:
        msg = "no successful toys to compute the coverage from"
        raise FitError(msg)
    d = (
        np.linspace(0.0, max(3.0 * stats.chi2.ppf(confidence, ndof), 1.0), 121)
        if d_values is None
        else np.asarray(d_values, dtype=float)
    )
    counts = np.searchsorted(x, d, side="right")
    frac = counts / n
    err = np.array([binomial_error(int(k), n) for k in counts])
    crit, lo, hi = quantile_band(x, confidence)
    return d, frac, err, crit, (lo, hi)


def _block_continuous(tm: ToyModel, toys: np.ndarray, p: dict[str, Any]) -> dict[str, np.ndarray]:
    stat = p["statistic"]
    free = fit_toys(tm, toys, statistic=stat, init=p["truth_full"])
    cond = fit_toys(tm, toys, statistic=stat, fixed=p["truth"], init=p["truth_full"])
    ok = free.converged & cond.converged
    delta = np.maximum(cond.value - free.value, 0.0)
    best = free.bestfit[:, p["tested_index"]]
    return {"delta": np.where(ok, delta, np.nan), "converged": ok, "bestfit": best}


def _block_grid(tm: ToyModel, toys: np.ndarray, p: dict[str, Any]) -> dict[str, np.ndarray]:
    grid = p["grid_points"]
    n = toys[:, : tm.cm.nmain]
    m = n.shape[0]
    out_min, at_truth = np.empty(m), np.empty(m)
    best = np.empty((m, grid.shape[1]))
    step = max(1, 4_000_000 // max(grid.shape[0], 1))  # keep (toys x grid) at ~32 MB
    for i in range(0, m, step):
        s = grid_statistic(p["constant"], p["templates"], n[i : i + step], grid, p["statistic"])
        arg = s.argmin(axis=1)
        out_min[i : i + step] = s[np.arange(arg.size), arg]
        at_truth[i : i + step] = s[:, p["truth_index"]]
        best[i : i + step] = grid[arg]
    delta = at_truth - out_min
    return {"delta": delta, "converged": np.isfinite(delta), "bestfit": best}


def _grid_payload(
    tm: ToyModel, truth_full: np.ndarray, grid: dict[str, tuple[float, float, int]]
) -> tuple[dict[str, Any], tuple[str, ...], np.ndarray]:
    """Grid points over every free normfactor, the truth snapped to the grid."""
    cm = tm.cm
    names = tm.normfactors
    free = ~cm.fixed
    ls = linear_structure(cm, free, truth_full)
    idx_free = np.flatnonzero(free)  # the parameters of the linear structure
    if ls is None or sorted(cm.par_names[i] for i in idx_free) != sorted(names):
        msg = "grid minimization needs a model whose free parameters are all normfactors (no nuisance parameters)"
        raise FitError(msg)
    missing = [n for n in names if n not in grid]
    if missing or set(grid) - set(names):
        msg = f"grid minimization needs a range for every free normfactor {list(names)}; got {list(grid)}"
        raise FitError(msg)
    order = [cm.par_names[i] for i in idx_free]
    axes = [np.linspace(*grid[n][:2], int(grid[n][2])) for n in order]
    mesh = np.meshgrid(*axes, indexing="ij")
    points = np.stack([g.ravel() for g in mesh], axis=-1)
    idx = [
        int(np.argmin(np.abs(ax - truth_full[tm.position(n)])))
        for n, ax in zip(order, axes, strict=True)
    ]
    snapped = truth_full.copy()
    for n, ax, i in zip(order, axes, idx, strict=True):
        snapped[tm.position(n)] = ax[i]
    payload = {
        "grid_points": points,
        "truth_index": int(np.ravel_multi_index(idx, [a.size for a in axes])),
        "constant": ls.constant,
        "templates": ls.templates,
    }
    return payload, tuple(order), snapped


def coverage_toys(
    model: Any,
    data: Any,
    *,
    ntoys: int = 10_000,
    seed: int = 0,
    sampling: str = "poisson",
    statistic: str = "likelihood",
    minimization: str = "continuous",
    negative: str = "keep",
    aux: str = "sample",
    truth: dict[str, float] | None = None,
    parameters: Sequence[str] | None = None,
    grid: dict[str, tuple[float, float, int]] | None = None,
    d_values: Any = None,
    confidence: float = CONFIDENCE_68,
    block_size: int = DEFAULT_BLOCK_SIZE,
    **run: Unpack[RunOptions],
) -> CoverageResult:
    """Coverage study of the Δ(statistic) ≤ d region (the report's section 2.6, done right).

    Args:
        model: pyhf model (any, for ``likelihood`` with ``continuous``).
        data: observed data (main + aux); the default truth is its best fit.
        ntoys: number of toys.
        seed: seed.
        sampling: ``poisson`` or ``gaussian``.
        statistic: ``likelihood``, ``pearson`` or ``neyman``.
        minimization: ``continuous`` or ``grid``.
        negative: ``keep`` or ``clip`` negative Gaussian toys.
        aux: ``sample`` or ``fixed`` auxiliary data.
        truth: true values of some parameters (default: the likelihood best
            fit to ``data``; parameters not given are set to it too).
        parameters: tested parameters (default: every free normfactor; the
            result says which). Other free parameters are profiled.
        grid: name → (low, high, npoints) per normfactor for ``grid``
            (default :data:`REPORT_GRID`).
        d_values: d grid of f(d) (default 0 … 3×expected, 121 points).
        confidence: target coverage.
        block_size: toys per seeding block.
        run: how the toys are run (:class:`~.runner.RunOptions`: workers, pool, …).

    Returns:
        The :class:`CoverageResult`.
    """
    check_sampling(sampling, negative, aux)
    if minimization not in MINIMIZATIONS:
        msg = f"unknown minimization {minimization!r}; expected one of {MINIMIZATIONS}"
        raise FitError(msg)
    check_statistic(statistic)
    tm = toy_model(model)
    params = tuple(parameters) if parameters is not None else tm.normfactors
    for name in params:
        tm.position(name)
    truth_full, _ = fit_data(tm, np.asarray(data, dtype=float), "likelihood")
    truth_full = tm.full(truth or {}, base=truth_full)
    payload: dict[str, Any] = {"statistic": statistic}
    grid_setting = None
    if minimization == "grid":
        grid_setting = dict(grid or REPORT_GRID)
        extra, tested, truth_full = _grid_payload(tm, truth_full, grid_setting)
        if set(params) != set(tested):
            msg = f"grid minimization tests every free normfactor at once ({list(tested)})"
            raise FitError(msg)
        payload.update(extra)
        block = _block_grid
    else:
        tested = params
        payload["truth"] = {n: float(truth_full[tm.position(n)]) for n in params}
        payload["truth_full"] = truth_full
        payload["tested_index"] = [tm.position(n) for n in params]
        block = _block_continuous
    draws = ToyDraws(ntoys, seed, sampling, negative, aux, block_size)
    out = run_at(block, tm, truth_full, payload=payload, **draws._asdict(), **run)
    ok = out["converged"]
    deltas = out["delta"][ok]
    ndof = len(tested)
    bf = out["bestfit"][ok]
    truth_t = {n: float(truth_full[tm.position(n)]) for n in tested}
    d, frac, err, crit, band = coverage_from_deltas(
        deltas, ndof=ndof, d_values=d_values, confidence=confidence
    )
    expected = float(stats.chi2.ppf(confidence, ndof))
    at_expected, at_expected_error = fraction(int(np.sum(deltas <= expected)), deltas.size)
    return CoverageResult(
        parameters=tuple(tested),
        truth={lab: float(v) for lab, v in zip(tm.labels, truth_full, strict=True)},
        d_values=d,
        fraction=frac,
        fraction_error=err,
        confidence=float(confidence),
        critical_value=crit,
        critical_value_band=band,
        expected_critical_value=expected,
        coverage_at_expected=at_expected,
        coverage_at_expected_error=at_expected_error,
        ndof=ndof,
        statistic=statistic,
        minimization=minimization,
        n_failed=int(ok.size - ok.sum()),
        settings=draws.settings(
            grid={k2: list(v) for k2, v in grid_setting.items()} if grid_setting else None,
            profiled=[
                lab for i, lab in enumerate(tm.labels) if not tm.cm.fixed[i] and lab not in tested
            ],
        ),
        bestfit_bias={n: float(np.mean(bf[:, i]) - truth_t[n]) for i, n in enumerate(tested)},
        bestfit_std={n: float(np.std(bf[:, i])) for i, n in enumerate(tested)},
    )
