"""Pseudo-experiments: sampling, batched fits, goodness of fit, coverage, toy p0/CLs.

Sampling
    Toys are drawn around a model's expected data at chosen parameters,
    ``poisson`` (default) or ``gaussian`` with σ = √mean (the seed report's
    ``np.random.normal(mean, sqrt(mean))``). Gaussian toys may be negative:
    ``negative="keep"`` (the report's, default) keeps them — fine for the
    Pearson and Neyman χ² — while ``negative="clip"`` sets them to 0, which
    the Poisson likelihood needs. Auxiliary data of constrained parameters
    (staterror γ, lumi, …) are sampled too (``aux="sample"``, default: Gaussian
    around the expected auxiliary datum with the constraint width for
    ``normal`` constraints, Poisson for ``poisson`` ones — the unconditional
    frequentist ensemble) or held at their nominal values (``aux="fixed"``).

Seeds
    Toy ``i`` belongs to block ``i // block_size``; block ``j`` of stream ``s``
    is drawn from ``numpy.random.default_rng(SeedSequence(seed, spawn_key=(s, j)))``.
    Work is split into chunks of whole blocks and every block is computed on
    its own, so the same seed gives bit-identical toys *and results* for any
    number of workers, chunk size or scheduler. numpy's global RNG is never used.

Fits
    Workspaces whose free parameters are normfactors (optionally with
    staterror γ, profiled à la Barlow–Beeston-lite) are fitted for all toys of
    a block at once by :mod:`._batched`; any other model falls back to one
    pyhf/minuit fit per toy, with failed fits counted and reported, not fatal.

Studies
    :func:`gof_toys`, :func:`coverage_toys`, :func:`coverage_table`,
    :func:`hypotest_toys`; each returns a NamedTuple with ``to_json``
    recording the seed and settings.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import pyhf
from scipy import stats

from ..errors import FitError
from ..execution import map_tasks
from . import _batched
from ._batched import STATISTICS, LinearModel, fit_batched, grid_statistic, linear_model
from .chi2grid import neyman_chi2, pearson_chi2, poisson_chi2

__all__ = [
    "CONFIDENCE_68",
    "DEFAULT_BLOCK_SIZE",
    "REPORT_GRID",
    "SAMPLINGS",
    "STATISTICS",
    "CoverageResult",
    "CoverageTableResult",
    "GofResult",
    "HypotestResult",
    "ToyFits",
    "coverage_table",
    "coverage_toys",
    "fit_toys",
    "gof_toys",
    "hypotest_toys",
    "sample_toys",
]

log = logging.getLogger(__name__)

SAMPLINGS = ("poisson", "gaussian")
MINIMIZATIONS = ("continuous", "grid")
#: Toys per block: the unit of seeding and of work (a chunk is whole blocks).
DEFAULT_BLOCK_SIZE = 1000
#: 1σ two-sided probability content (68.27%).
CONFIDENCE_68 = float(stats.chi2.cdf(1.0, 1))
#: The seed report's 2D grid: s_s in [0.1, 2.7] x s_b in [1.1, 1.5], 100 x 100.
REPORT_GRID: dict[str, tuple[float, float, int]] = {"s_s": (0.1, 2.7, 100), "s_b": (1.1, 1.5, 100)}

Progress = Callable[[int], Any] | None


# --------------------------------------------------------------------------- engine


class _Engine(NamedTuple):
    """Picklable description of how to fit a model: batched or per-toy pyhf."""

    lm: LinearModel | None
    spec: dict[str, Any] | None
    names: tuple[str, ...]
    nbins: int
    aux_normal_sigma: np.ndarray  # per aux datum: σ (>0) for normal constraints, 0 for poisson
    aux_nominal: np.ndarray


_MODEL_CACHE: dict[str, Any] = {}


def _engine(model: Any, spec: dict[str, Any] | None = None) -> _Engine:
    cfg = model.config
    sig: list[float] = []
    for name in cfg.auxdata_order:
        ps = cfg.param_set(name)
        if ps.pdf_type == "normal":
            sig.extend(float(s) for s in ps.sigmas)
        else:
            sig.extend(0.0 for _ in ps.auxdata)
    lm = linear_model(model)
    if lm is not None:
        names = lm.par_names
    else:
        if spec is None:
            msg = (
                "a model that is not normfactor-only needs its workspace spec for per-toy pyhf fits"
            )
            raise FitError(msg)
        names = tuple(_labels(model))
    return _Engine(
        lm,
        spec if lm is None else None,
        names,
        int(cfg.nmaindata),
        np.asarray(sig),
        np.asarray(cfg.auxdata, dtype=float),
    )


def _labels(model: Any) -> list[str]:
    out = []
    for name in model.config.parameters:
        sl = model.config.par_slice(name)
        n = sl.stop - sl.start
        out.extend([name] if n == 1 else [f"{name}[{i}]" for i in range(n)])
    return out


def _pyhf_model(engine: _Engine) -> Any:
    assert engine.spec is not None
    key = json.dumps(engine.spec, sort_keys=True)
    if key not in _MODEL_CACHE:
        _MODEL_CACHE.clear()
        _MODEL_CACHE[key] = pyhf.Workspace(engine.spec).model()
    return _MODEL_CACHE[key]


@contextlib.contextmanager
def _numpy_minuit() -> Iterator[None]:
    old_backend, old_opt = pyhf.tensorlib, pyhf.optimizer
    pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(verbose=0))
    try:
        yield
    finally:
        pyhf.set_backend(old_backend, old_opt)


# --------------------------------------------------------------------------- sampling


def _block_rng(seed: int, stream: int, block: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream, block)))


def _draw(
    rng: np.random.Generator,
    mean: np.ndarray,
    size: int,
    sampling: str,
    negative: str,
) -> np.ndarray:
    if sampling == "poisson":
        return rng.poisson(mean, size=(size, mean.size)).astype(float)
    out = mean + np.sqrt(mean) * rng.standard_normal((size, mean.size))
    return np.maximum(out, 0.0) if negative == "clip" else out


def _draw_block(
    rng: np.random.Generator,
    main: np.ndarray,
    aux: np.ndarray,
    aux_sigma: np.ndarray,
    block_size: int,
    sampling: str,
    negative: str,
    aux_mode: str,
) -> tuple[np.ndarray, np.ndarray]:
    toys = _draw(rng, main, block_size, sampling, negative)
    if aux.size == 0 or aux_mode == "fixed":
        return toys, np.broadcast_to(aux, (block_size, aux.size)).copy()
    normal = aux_sigma > 0
    z = rng.standard_normal((block_size, aux.size))
    pois = rng.poisson(np.where(normal, 0.0, aux), size=(block_size, aux.size)).astype(float)
    return toys, np.where(normal, aux + aux_sigma * z, pois)


def _check_sampling(sampling: str, negative: str, aux: str) -> None:
    if sampling not in SAMPLINGS:
        msg = f"unknown sampling {sampling!r}; expected one of {SAMPLINGS}"
        raise FitError(msg)
    if negative not in ("keep", "clip"):
        msg = f"negative must be 'keep' or 'clip', got {negative!r}"
        raise FitError(msg)
    if aux not in ("sample", "fixed"):
        msg = f"aux must be 'sample' or 'fixed', got {aux!r}"
        raise FitError(msg)


def sample_toys(
    model: Any,
    pars: Any,
    *,
    ntoys: int,
    seed: int,
    sampling: str = "poisson",
    negative: str = "keep",
    aux: str = "sample",
    block_size: int = DEFAULT_BLOCK_SIZE,
    stream: int = 0,
) -> np.ndarray:
    """Pseudo-data (main bins followed by auxiliary data) around ``model`` at ``pars``.

    Args:
        model: a pyhf model.
        pars: full pyhf parameter vector giving the expected data.
        ntoys: number of toys.
        seed: seed of the ``SeedSequence``.
        sampling: ``poisson`` or ``gaussian`` (σ = √mean).
        negative: Gaussian toys below 0: ``keep`` or ``clip`` to 0.
        aux: ``sample`` the auxiliary data or keep them ``fixed``.
        block_size: toys per seeding block.
        stream: independent stream number (e.g. 0 signal+background, 1 background-only).

    Returns:
        (ntoys, nmain + naux) array; toy ``i`` is the same for every ``ntoys > i``.
    """
    _check_sampling(sampling, negative, aux)
    engine_aux = _engine_aux(model)
    main = np.asarray(model.expected_actualdata(pars), dtype=float)
    auxm = _expected_aux(model, pars)
    out = []
    for b in range(math.ceil(ntoys / block_size)):
        t, a = _draw_block(
            _block_rng(seed, stream, b), main, auxm, engine_aux, block_size, sampling, negative, aux
        )
        out.append(np.concatenate([t, a], axis=1))
    return np.concatenate(out)[:ntoys] if out else np.empty((0, main.size + auxm.size))


def _expected_aux(model: Any, pars: Any) -> np.ndarray:
    if not model.config.auxdata:
        return np.empty(0)
    return np.asarray(model.expected_auxdata(pars), dtype=float)


def _engine_aux(model: Any) -> np.ndarray:
    sig: list[float] = []
    for name in model.config.auxdata_order:
        ps = model.config.param_set(name)
        sig.extend(
            [float(s) for s in ps.sigmas] if ps.pdf_type == "normal" else [0.0] * len(ps.auxdata)
        )
    return np.asarray(sig)


# --------------------------------------------------------------------------- fits


class ToyFits(NamedTuple):
    """Fits of many toys.

    Attributes:
        names: fitted parameter labels (batched: the normfactors; pyhf: all).
        bestfit: (m, len(names)) best-fit values.
        value: (m,) minimized statistic (likelihood: −2lnL up to a constant
            per toy, equal to Baker–Cousins χ² for batched fits).
        converged: (m,) whether each fit succeeded.
    """

    names: tuple[str, ...]
    bestfit: np.ndarray
    value: np.ndarray
    converged: np.ndarray


def _gamma_aux(lm: LinearModel, aux: np.ndarray) -> np.ndarray | None:
    if lm.gamma_aux_index is None:
        return None
    idx = lm.gamma_aux_index
    out = np.ones((aux.shape[0], idx.size))
    has = idx >= 0
    out[:, has] = aux[:, idx[has]]
    return out


def _fit_engine(
    engine: _Engine,
    main: np.ndarray,
    aux: np.ndarray,
    statistic: str,
    fixed: dict[str, float] | None = None,
    init: dict[str, float] | None = None,
) -> ToyFits:
    if engine.lm is not None:
        lm = engine.lm
        start = None
        if init:
            start = lm.init[list(lm.par_index)].copy()
            for k, v in init.items():
                start[lm.par_names.index(k)] = v
        r = fit_batched(
            lm, main, statistic=statistic, aux=_gamma_aux(lm, aux), fixed=fixed, init=start
        )
        return ToyFits(engine.names, r.theta, r.value, r.converged)
    if statistic != "likelihood":
        msg = f"statistic {statistic!r} needs a normfactor-only model; per-toy pyhf fits use 'likelihood'"
        raise FitError(msg)
    model = _pyhf_model(engine)
    cfg = model.config
    init_v = np.asarray(cfg.suggested_init(), dtype=float)
    fixed_m = np.asarray(cfg.suggested_fixed(), dtype=bool)
    for k, v in (init or {}).items():
        init_v[engine.names.index(k)] = v
    for k, v in (fixed or {}).items():
        init_v[engine.names.index(k)] = v
        fixed_m[engine.names.index(k)] = True
    m = main.shape[0]
    best = np.full((m, init_v.size), np.nan)
    value = np.full(m, np.nan)
    ok = np.zeros(m, dtype=bool)
    with _numpy_minuit():
        for i in range(m):
            data = np.concatenate([main[i], aux[i]])
            try:
                if fixed_m.all():
                    bf, tn = init_v, pyhf.infer.mle.twice_nll(init_v, data, model)
                else:
                    bf, tn = pyhf.infer.mle.fit(
                        data,
                        model,
                        init_pars=init_v.tolist(),
                        fixed_params=fixed_m.tolist(),
                        return_fitted_val=True,
                    )
                best[i] = np.asarray(bf, dtype=float)
                value[i] = float(np.asarray(tn).reshape(-1)[0])
                ok[i] = bool(np.isfinite(value[i]))
            except Exception as err:
                log.debug("toy fit %d failed: %s", i, err)
    return ToyFits(engine.names, best, value, ok)


def fit_toys(
    model: Any,
    toys: Any,
    *,
    statistic: str = "likelihood",
    fixed: dict[str, float] | None = None,
    spec: dict[str, Any] | None = None,
) -> ToyFits:
    """Fit many pseudo-datasets (rows: main bins + auxdata, as :func:`sample_toys` returns).

    Batched for normfactor (+ staterror) models (in slices of 2000 toys, to
    stay in cache), else one pyhf fit per toy (``spec`` needed); failed
    per-toy fits have ``converged=False`` and NaN values.
    """
    engine = _engine(model, spec)
    arr = np.atleast_2d(np.asarray(toys, dtype=float))
    parts = [
        _fit_engine(engine, c[:, : engine.nbins], c[:, engine.nbins :], statistic, fixed)
        for c in np.array_split(arr, max(1, math.ceil(arr.shape[0] / 2000)))
    ]
    return ToyFits(
        engine.names,
        np.concatenate([p.bestfit for p in parts]),
        np.concatenate([p.value for p in parts]),
        np.concatenate([p.converged for p in parts]),
    )


# --------------------------------------------------------------------------- chunked execution


class _Task(NamedTuple):
    kind: str
    engine: _Engine
    blocks: tuple[int, ...]
    ntoys: int
    block_size: int
    seed: int
    stream: int
    sampling: str
    negative: str
    aux: str
    main_mean: np.ndarray
    aux_mean: np.ndarray
    payload: dict[str, Any]


def _run_chunk(task: _Task) -> dict[str, np.ndarray]:
    """Worker: compute every block of ``task`` on its own and concatenate."""
    parts: list[dict[str, np.ndarray]] = []
    for b in task.blocks:
        rng = _block_rng(task.seed, task.stream, b)
        main, aux = _draw_block(
            rng,
            task.main_mean,
            task.aux_mean,
            task.engine.aux_normal_sigma,
            task.block_size,
            task.sampling,
            task.negative,
            task.aux,
        )
        n = min(task.block_size, task.ntoys - b * task.block_size)
        parts.append(_BLOCK_FUNCS[task.kind](task.engine, main[:n], aux[:n], task.payload))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _run(
    kind: str,
    engine: _Engine,
    *,
    ntoys: int,
    seed: int,
    stream: int,
    sampling: str,
    negative: str,
    aux: str,
    main_mean: np.ndarray,
    aux_mean: np.ndarray,
    payload: dict[str, Any],
    block_size: int,
    blocks_per_chunk: int | None,
    workers: int,
    scheduler: str | None,
    progress: Progress,
) -> dict[str, np.ndarray]:
    if ntoys < 1:
        msg = f"ntoys must be >= 1, got {ntoys}"
        raise FitError(msg)
    nblocks = math.ceil(ntoys / block_size)
    if blocks_per_chunk is None:
        per = 1 if engine.lm is None else max(1, 20_000 // block_size)
        nchunks = max(1, math.ceil(nblocks / per))
        if workers > 1 or scheduler is not None:
            nchunks = max(nchunks, min(nblocks, 4 * workers))
        blocks_per_chunk = math.ceil(nblocks / nchunks)
    chunks = [
        tuple(range(i, min(i + blocks_per_chunk, nblocks)))
        for i in range(0, nblocks, blocks_per_chunk)
    ]
    tasks = [
        _Task(
            kind,
            engine,
            c,
            ntoys,
            block_size,
            seed,
            stream,
            sampling,
            negative,
            aux,
            main_mean,
            aux_mean,
            payload,
        )
        for c in chunks
    ]
    tick = None
    if progress is not None:
        done = iter(chunks)

        def tick(_n: int) -> None:
            progress(len(next(done)))

    results = map_tasks(_run_chunk, tasks, workers=workers, scheduler=scheduler, progress=tick)
    return {k: np.concatenate([r[k] for r in results]) for k in results[0]}


def _stat_fixed(statistic: str, n: np.ndarray, nu: np.ndarray) -> np.ndarray:
    if statistic == "pearson":
        return pearson_chi2(n, nu)
    if statistic == "neyman":
        return neyman_chi2(n, nu)
    if statistic == "likelihood":
        if np.any(n < 0):
            msg = "the Poisson likelihood needs non-negative pseudo-data; clip Gaussian toys (negative='clip')"
            raise FitError(msg)
        return poisson_chi2(n, nu)
    msg = f"unknown statistic {statistic!r}; expected one of {STATISTICS}"
    raise FitError(msg)


def _block_gof(
    engine: _Engine, main: np.ndarray, aux: np.ndarray, p: dict[str, Any]
) -> dict[str, np.ndarray]:
    if p["mode"] == "fixed":
        v = _stat_fixed(p["statistic"], main, p["means"])
        return {"value": v, "converged": np.ones(v.size, dtype=bool)}
    r = _fit_engine(engine, main, aux, p["statistic"], init=p["init"])
    value = r.value
    if engine.lm is None:  # −2lnλ_saturated on the main bins at the pyhf best fit
        model = _pyhf_model(engine)
        nu = np.array(
            [
                model.expected_actualdata(b) if ok else np.full(main.shape[1], np.nan)
                for b, ok in zip(r.bestfit, r.converged, strict=True)
            ]
        )
        value = np.where(
            r.converged, poisson_chi2(main, np.where(np.isfinite(nu), nu, 1.0)), np.nan
        )
    return {"value": value, "converged": r.converged}


def _block_coverage(
    engine: _Engine, main: np.ndarray, aux: np.ndarray, p: dict[str, Any]
) -> dict[str, np.ndarray]:
    stat = p["statistic"]
    if p["minimization"] == "grid":
        assert engine.lm is not None
        grid = p["grid_points"]
        out_min = np.empty(main.shape[0])
        at_truth = np.empty(main.shape[0])
        best = np.empty((main.shape[0], grid.shape[1]))
        step = max(1, 4_000_000 // max(grid.shape[0], 1))  # keep (toys x grid) at ~32 MB
        for i in range(0, main.shape[0], step):
            s = grid_statistic(engine.lm, main[i : i + step], grid, stat)
            arg = s.argmin(axis=1)
            out_min[i : i + step] = s[np.arange(arg.size), arg]
            at_truth[i : i + step] = s[:, p["truth_index"]]
            best[i : i + step] = grid[arg]
        delta = at_truth - out_min
        return {"delta": delta, "converged": np.isfinite(delta), "bestfit": best}
    truth: dict[str, float] = p["truth"]
    free = _fit_engine(engine, main, aux, stat, init=truth)
    cond = _fit_engine(engine, main, aux, stat, fixed=truth, init=truth)
    delta = np.maximum(cond.value - free.value, 0.0)
    ok = free.converged & cond.converged
    best = np.stack([free.bestfit[:, engine.names.index(n)] for n in p["tested"]], axis=-1)
    return {"delta": np.where(ok, delta, np.nan), "converged": ok, "bestfit": best}


def _qstats(
    engine: _Engine, main: np.ndarray, aux: np.ndarray, poi: str, mu: float
) -> dict[str, np.ndarray]:
    free = _fit_engine(engine, main, aux, "likelihood")
    at_mu = _fit_engine(engine, main, aux, "likelihood", fixed={poi: mu})
    at_0 = _fit_engine(engine, main, aux, "likelihood", fixed={poi: 0.0})
    muhat = free.bestfit[:, engine.names.index(poi)]
    qmu = np.where(muhat > mu, 0.0, np.maximum(at_mu.value - free.value, 0.0))
    q0 = np.where(muhat <= 0, 0.0, np.maximum(at_0.value - free.value, 0.0))
    ok = free.converged & at_mu.converged & at_0.converged
    return {"qmu": np.where(ok, qmu, np.nan), "q0": np.where(ok, q0, np.nan), "converged": ok}


def _block_hypotest(
    engine: _Engine, main: np.ndarray, aux: np.ndarray, p: dict[str, Any]
) -> dict[str, np.ndarray]:
    return _qstats(engine, main, aux, p["poi"], p["mu"])


_BLOCK_FUNCS: dict[
    str, Callable[[_Engine, np.ndarray, np.ndarray, dict[str, Any]], dict[str, np.ndarray]]
] = {
    "gof": _block_gof,
    "coverage": _block_coverage,
    "hypotest": _block_hypotest,
}


# --------------------------------------------------------------------------- helpers


def _split(model: Any, data: Any) -> tuple[np.ndarray, np.ndarray]:
    d = np.asarray(data, dtype=float)
    nm = int(model.config.nmaindata)
    return d[:nm], d[nm:]


def _full_pars(model: Any, engine: _Engine, values: dict[str, float]) -> np.ndarray:
    if engine.lm is not None:
        th = engine.lm.init[list(engine.lm.par_index)].copy()
        for k, v in values.items():
            th[engine.lm.par_names.index(k)] = v
        return engine.lm.full_parameters(th)
    pars = np.asarray(model.config.suggested_init(), dtype=float)
    for k, v in values.items():
        pars[engine.names.index(k)] = v
    return pars


def _fit_data(
    model: Any, engine: _Engine, data: Any, statistic: str, fixed: dict[str, float] | None = None
) -> tuple[dict[str, float], float, np.ndarray]:
    """Fit the observed data; return (values by name, statistic, full pyhf parameters)."""
    main, aux = _split(model, data)
    r = _fit_engine(engine, main[None, :], aux[None, :], statistic, fixed=fixed)
    if not r.converged[0]:
        msg = "the fit to the observed data failed"
        raise FitError(msg)
    vals = {n: float(v) for n, v in zip(r.names, r.bestfit[0], strict=True)}
    if engine.lm is not None:
        lm = engine.lm
        ga = _gamma_aux(lm, aux[None, :])
        gamma = None
        if lm.has_staterror:
            gamma = _batched.evaluate(
                lm, main[None, :], r.bestfit, statistic, ga, derivatives=False
            )[3]
        full = lm.full_parameters(r.bestfit[0], None if gamma is None else gamma[0])
    else:
        full = r.bestfit[0]
    return vals, float(r.value[0]), full


def _n_unconstrained(model: Any, engine: _Engine) -> int:
    """Free parameters without a constraint term (they are what a fit removes from the ndof)."""
    if engine.lm is not None:
        return len(engine.lm.par_names)
    fixed = model.config.suggested_fixed()
    count = 0
    for name in model.config.parameters:
        sl = model.config.par_slice(name)
        if not model.config.param_set(name).constrained:
            count += sum(1 for i in range(sl.start, sl.stop) if not fixed[i])
    return count


def _settings(**kw: Any) -> dict[str, Any]:
    return dict(kw)


def _binomial_error(k: float, n: int) -> float:
    p = k / n
    return float(math.sqrt(max(p * (1 - p), 1.0 / n) / n))


def _clopper_pearson(k: int, n: int, cl: float = CONFIDENCE_68) -> tuple[float, float]:
    a = (1 - cl) / 2
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    return x


# --------------------------------------------------------------------------- GoF


class GofResult(NamedTuple):
    """Toy goodness of fit.

    Attributes:
        statistic: ``pearson``, ``neyman`` or ``likelihood`` (−2lnλ_saturated).
        mode: ``fixed`` (the report's: toys from the fitted model, statistic
            against those means, no refit) or ``refit`` (each toy refitted).
        observed: the statistic of the observed data (same mode).
        toy_values: the statistic of each successful toy.
        ndof: degrees of freedom of the asymptotic χ² (nbins for ``fixed``,
            nbins − free unconstrained parameters for ``refit``).
        p_value: fraction of toys with a statistic ≥ the observed one.
        p_value_error: its binomial Monte-Carlo error.
        p_value_asymptotic: χ²(ndof) survival function at the observed value.
        n_failed: toys whose fit failed (excluded).
        fitted: parameter values the toys were generated at.
        settings: seed, ntoys, sampling and the other options.
    """

    statistic: str
    mode: str
    observed: float
    toy_values: np.ndarray
    ndof: int
    p_value: float
    p_value_error: float
    p_value_asymptotic: float
    n_failed: int
    fitted: dict[str, float]
    settings: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return _jsonable(self._asdict())  # type: ignore[no-any-return]

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> GofResult:
        """Inverse of :meth:`to_json`."""
        d = dict(obj)
        d["toy_values"] = np.asarray(d["toy_values"], dtype=float)
        return cls(**d)


def gof_toys(
    model: Any,
    data: Any,
    *,
    ntoys: int = 10_000,
    seed: int = 0,
    statistic: str = "pearson",
    mode: str = "fixed",
    sampling: str = "poisson",
    negative: str = "keep",
    aux: str = "sample",
    spec: dict[str, Any] | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
    blocks_per_chunk: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Progress = None,
) -> GofResult:
    """Distribution of the GoF statistic in toys from the fitted model and the data's toy p-value.

    The model is first fitted to ``data`` with ``statistic`` (continuous,
    batched or pyhf); toys are drawn around that fitted model.

    Args:
        model: pyhf model.
        data: observed main data followed by auxdata.
        ntoys: number of toys.
        seed: seed.
        statistic: ``pearson``, ``neyman`` or ``likelihood``.
        mode: ``fixed`` or ``refit`` (see :class:`GofResult`).
        sampling: ``poisson`` or ``gaussian``.
        negative: ``keep`` or ``clip`` negative Gaussian toys.
        aux: ``sample`` or ``fixed`` auxiliary data.
        spec: the workspace spec (needed for per-toy pyhf fits of non-batchable models).
        block_size: toys per seeding block.
        blocks_per_chunk: blocks per task (default: automatic).
        workers: local worker processes.
        scheduler: Dask scheduler address.
        progress: called with the number of toy blocks in each finished chunk.

    Returns:
        The :class:`GofResult`.
    """
    _check_sampling(sampling, negative, aux)
    if mode not in ("fixed", "refit"):
        msg = f"mode must be 'fixed' or 'refit', got {mode!r}"
        raise FitError(msg)
    engine = _engine(model, spec)
    fit_stat = statistic if engine.lm is not None else "likelihood"
    vals, stat_fit, full = _fit_data(model, engine, data, fit_stat)
    main_obs, _ = _split(model, data)
    means = np.asarray(model.expected_actualdata(full), dtype=float)
    auxm = _expected_aux(model, full)
    if mode == "fixed":
        observed = float(_stat_fixed(statistic, main_obs, means))
        ndof = engine.nbins
    else:
        observed = stat_fit if engine.lm is not None else float(poisson_chi2(main_obs, means))
        ndof = engine.nbins - _n_unconstrained(model, engine)
    out = _run(
        "gof",
        engine,
        ntoys=ntoys,
        seed=seed,
        stream=0,
        sampling=sampling,
        negative=negative,
        aux=aux,
        main_mean=means,
        aux_mean=auxm,
        payload={"mode": mode, "statistic": statistic, "means": means, "init": vals},
        block_size=block_size,
        blocks_per_chunk=blocks_per_chunk,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
    )
    ok = out["converged"]
    values = out["value"][ok]
    k = int(np.sum(values >= observed))
    n = int(values.size)
    return GofResult(
        statistic=statistic,
        mode=mode,
        observed=observed,
        toy_values=values,
        ndof=int(ndof),
        p_value=k / n if n else math.nan,
        p_value_error=_binomial_error(k, n) if n else math.nan,
        p_value_asymptotic=float(stats.chi2.sf(observed, ndof)),
        n_failed=int(ok.size - ok.sum()),
        fitted=vals,
        settings=_settings(
            ntoys=ntoys,
            seed=seed,
            sampling=sampling,
            negative=negative,
            aux=aux,
            block_size=block_size,
            batched=engine.lm is not None,
        ),
    )


# --------------------------------------------------------------------------- coverage


class CoverageResult(NamedTuple):
    """Coverage of the Δ(statistic) ≤ d region for the true parameters.

    Attributes:
        parameters: the tested parameters (others profiled).
        truth: their true values (for ``grid``: snapped to the nearest grid point).
        d_values: the d grid.
        fraction: f(d) = fraction of toys with Δ(truth) ≤ d (same toys for every d).
        fraction_error: binomial error of f(d).
        confidence: the target coverage (0.6827).
        critical_value: the ``confidence`` quantile of Δ (the d with f(d) = 0.6827).
        critical_value_band: its 68.27% order-statistics (binomial) band.
        expected_critical_value: χ²(ndof) quantile (2.30 for two parameters).
        coverage_at_expected: f(expected_critical_value) with ``coverage_at_expected_error``.
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

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form (``critical_value`` is the 68.27% one)."""
        return _jsonable(self._asdict())  # type: ignore[no-any-return]

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> CoverageResult:
        """Inverse of :meth:`to_json`."""
        d = dict(obj)
        for k in ("d_values", "fraction", "fraction_error"):
            d[k] = np.asarray(d[k], dtype=float)
        d["parameters"] = tuple(d["parameters"])
        d["critical_value_band"] = tuple(d["critical_value_band"])
        return cls(**d)


def _quantile_band(sorted_x: np.ndarray, q: float) -> tuple[float, float, float]:
    n = sorted_x.size
    crit = float(np.quantile(sorted_x, q))
    a = (1 - CONFIDENCE_68) / 2
    lo = int(stats.binom.ppf(a, n, q))
    hi = int(stats.binom.isf(a, n, q))
    return crit, float(sorted_x[max(lo - 1, 0)]), float(sorted_x[min(hi, n - 1)])


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
    frac = np.searchsorted(x, d, side="right") / n
    err = np.sqrt(np.maximum(frac * (1 - frac), 1.0 / n) / n)
    crit, lo, hi = _quantile_band(x, confidence)
    return d, frac, err, crit, (lo, hi)


def _grid_points(
    lm: LinearModel, grid: dict[str, tuple[float, float, int]]
) -> tuple[np.ndarray, list[np.ndarray]]:
    missing = [n for n in lm.par_names if n not in grid]
    extra = [n for n in grid if n not in lm.par_names]
    if missing or extra:
        msg = f"grid minimization needs a range for every free normfactor {list(lm.par_names)}; got {list(grid)}"
        raise FitError(msg)
    axes = [np.linspace(*grid[n][:2], int(grid[n][2])) for n in lm.par_names]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([g.ravel() for g in mesh], axis=-1), axes


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
    spec: dict[str, Any] | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
    blocks_per_chunk: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Progress = None,
) -> CoverageResult:
    """Coverage study of the Δ(statistic) ≤ d region (the report's section 2.6, done right).

    For each toy drawn at the true parameters, Δ = statistic(truth, others
    profiled) − min over all parameters; f(d) is the fraction of toys with
    Δ ≤ d and the critical value the ``confidence`` quantile of the Δ's.

    Args:
        model: pyhf model.
        data: observed data (main + aux); the default truth is its best fit.
        ntoys: number of toys.
        seed: seed.
        sampling: ``poisson`` or ``gaussian``.
        statistic: ``likelihood``, ``pearson`` or ``neyman``.
        minimization: ``continuous`` (batched Newton / pyhf) or ``grid`` (the
            report's: minimum over grid points, truth snapped to the grid).
        negative: ``keep`` or ``clip`` negative Gaussian toys.
        aux: ``sample`` or ``fixed`` auxiliary data.
        truth: true parameter values (default: likelihood best fit to ``data``).
        parameters: tested parameters (default: all free normfactors).
        grid: name → (low, high, npoints) per normfactor for ``grid``
            (default :data:`REPORT_GRID`).
        d_values: d grid of f(d) (default 0 … 3×expected, 121 points).
        confidence: target coverage.
        spec: workspace spec (for per-toy pyhf fits of non-batchable models).
        block_size: toys per seeding block.
        blocks_per_chunk: blocks per task (default automatic).
        workers: local worker processes.
        scheduler: Dask scheduler address.
        progress: called with the number of toy blocks in each finished chunk.

    Returns:
        The :class:`CoverageResult`.
    """
    _check_sampling(sampling, negative, aux)
    if minimization not in MINIMIZATIONS:
        msg = f"unknown minimization {minimization!r}; expected one of {MINIMIZATIONS}"
        raise FitError(msg)
    if statistic not in STATISTICS:
        msg = f"unknown statistic {statistic!r}; expected one of {STATISTICS}"
        raise FitError(msg)
    engine = _engine(model, spec)
    poi_like = engine.lm.par_names if engine.lm is not None else (model.config.poi_name,)
    params = tuple(parameters) if parameters is not None else tuple(poi_like)
    for p in params:
        if p not in engine.names:
            msg = f"unknown parameter {p!r}; expected one of {list(engine.names)}"
            raise FitError(msg)
    if truth is None:
        vals, _, _ = _fit_data(model, engine, data, "likelihood")
        truth_all = vals
    else:
        truth_all = dict(truth)
    payload: dict[str, Any] = {"statistic": statistic, "minimization": minimization}
    grid_setting = None
    if minimization == "grid":
        if engine.lm is None or engine.lm.has_staterror:
            msg = (
                "grid minimization needs a normfactor-only model (no staterror or other modifiers)"
            )
            raise FitError(msg)
        if set(params) != set(engine.lm.par_names):
            msg = "grid minimization tests all free normfactors at once"
            raise FitError(msg)
        grid_setting = dict(grid or REPORT_GRID)
        points, axes = _grid_points(engine.lm, grid_setting)
        idx = [
            int(np.argmin(np.abs(ax - truth_all[n])))
            for n, ax in zip(engine.lm.par_names, axes, strict=True)
        ]
        flat = int(np.ravel_multi_index(idx, [a.size for a in axes]))
        truth_all = {
            n: float(ax[i]) for n, ax, i in zip(engine.lm.par_names, axes, idx, strict=True)
        }
        payload.update(grid_points=points, truth_index=flat)
    truth_t = {p: float(truth_all[p]) for p in params}
    payload["truth"] = truth_t
    payload["tested"] = (
        engine.lm.par_names if minimization == "grid" and engine.lm is not None else params
    )
    full = _full_pars(model, engine, truth_all)
    out = _run(
        "coverage",
        engine,
        ntoys=ntoys,
        seed=seed,
        stream=0,
        sampling=sampling,
        negative=negative,
        aux=aux,
        main_mean=np.asarray(model.expected_actualdata(full), dtype=float),
        aux_mean=_expected_aux(model, full),
        payload=payload,
        block_size=block_size,
        blocks_per_chunk=blocks_per_chunk,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
    )
    ok = out["converged"]
    deltas = out["delta"][ok]
    ndof = len(params)
    bf = out["bestfit"][ok]
    names = payload["tested"]
    bias = {n: float(np.mean(bf[:, i]) - truth_all[n]) for i, n in enumerate(names)}
    spread = {n: float(np.std(bf[:, i])) for i, n in enumerate(names)}
    d, frac, err, crit, band = coverage_from_deltas(
        deltas, ndof=ndof, d_values=d_values, confidence=confidence
    )
    expected = float(stats.chi2.ppf(confidence, ndof))
    k = int(np.sum(deltas <= expected))
    return CoverageResult(
        parameters=params,
        truth={k2: float(v) for k2, v in truth_all.items()},
        d_values=d,
        fraction=frac,
        fraction_error=err,
        confidence=float(confidence),
        critical_value=crit,
        critical_value_band=band,
        expected_critical_value=expected,
        coverage_at_expected=k / deltas.size,
        coverage_at_expected_error=_binomial_error(k, deltas.size),
        ndof=ndof,
        statistic=statistic,
        minimization=minimization,
        n_failed=int(ok.size - ok.sum()),
        settings=_settings(
            ntoys=ntoys,
            seed=seed,
            sampling=sampling,
            negative=negative,
            aux=aux,
            block_size=block_size,
            grid={k2: list(v) for k2, v in grid_setting.items()} if grid_setting else None,
            batched=engine.lm is not None,
        ),
        bestfit_bias=bias,
        bestfit_std=spread,
    )


# --------------------------------------------------------------------------- coverage table

#: (label, sampling, statistic, minimization, negative) rows of :func:`coverage_table`.
TABLE_ROWS: tuple[tuple[str, str, str, str, str], ...] = (
    ("report (gaussian, pearson, grid)", "gaussian", "pearson", "grid", "keep"),
    ("poisson sampling", "poisson", "pearson", "grid", "keep"),
    ("neyman statistic", "gaussian", "neyman", "grid", "keep"),
    ("likelihood statistic (negatives clipped)", "gaussian", "likelihood", "grid", "clip"),
    ("continuous minimization", "gaussian", "pearson", "continuous", "keep"),
    ("poisson + likelihood + grid", "poisson", "likelihood", "grid", "keep"),
    ("textbook (poisson, likelihood, continuous)", "poisson", "likelihood", "continuous", "keep"),
)


class CoverageTableResult(NamedTuple):
    """Critical values for combinations of the report's ingredients, on the same seed.

    Attributes:
        rows: one dict per combination (label, sampling, statistic,
            minimization, negative, critical_value, critical_value_band,
            coverage_at_expected, coverage_at_expected_error, n_failed).
        truth: generating parameters (before snapping).
        expected_critical_value: χ²(ndof) quantile (2.30).
        settings: seed, ntoys, grid.
        note: which ingredient moves the critical value, with the numbers.
    """

    rows: list[dict[str, Any]]
    truth: dict[str, float]
    expected_critical_value: float
    settings: dict[str, Any]
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return _jsonable(self._asdict())  # type: ignore[no-any-return]

    def to_markdown(self) -> str:
        """The table as Markdown, followed by the note."""
        lines = [
            "| combination | sampling | statistic | minimization | critical value (68.27%) | band | f(2.30) |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            lines.append(
                f"| {r['label']} | {r['sampling']} | {r['statistic']} | {r['minimization']} | "
                f"{r['critical_value']:.3f} | [{r['critical_value_band'][0]:.3f}, {r['critical_value_band'][1]:.3f}] | "
                f"{r['coverage_at_expected']:.4f} ± {r['coverage_at_expected_error']:.4f} |"
            )
        return "\n".join(lines) + "\n\n" + self.note + "\n"


def _table_note(rows: list[dict[str, Any]], expected: float) -> str:
    """Explain, from the rows, which single ingredient moves the report's critical value."""
    if not rows:
        return ""
    ref = rows[0]
    parts = [
        f"{ref['label']}: d68 = {ref['critical_value']:.2f} (chi2 expectation {expected:.2f})."
    ]
    shifts = []
    for r in rows[1:]:
        changed = [k for k in ("sampling", "statistic", "minimization") if r[k] != ref[k]]
        if len(changed) == 1:
            k = changed[0]
            shift = r["critical_value"] - ref["critical_value"]
            shifts.append((abs(shift), k, r))
            parts.append(f"{k} -> {r[k]}: d68 = {r['critical_value']:.2f} ({shift:+.2f}).")
    if shifts:
        _, k, r = min(shifts, key=lambda x: abs(x[2]["critical_value"] - expected))
        others = sorted({kk for _, kk, _ in shifts if kk != k})
        small = [x for x in shifts if x[1] != k]
        tail = (
            f"; switching the {'/'.join(others)} moves it by at most {max(x[0] for x in small):.2f}"
            if small
            else ""
        )
        parts.append(
            f"The single switch that restores the chi2 value is the {k} ({ref[k]} -> {r[k]}: "
            f"{r['critical_value']:.2f}){tail}."
        )
    bias = ref.get("bestfit_bias") or {}
    std = ref.get("bestfit_std") or {}
    if bias and std:
        desc = ", ".join(
            f"{n}: {bias[n]:+.3f} ({bias[n] / std[n]:+.2f} sigma)" for n in bias if std.get(n)
        )
        parts.append(
            f"Mean best fit - truth with the {ref['statistic']} statistic: {desc}; a minimum biased away from "
            "the truth inflates Delta at the truth. Pearson's chi2 with nu in the denominator is minimized on "
            "average at nu ~ sqrt(nu_true^2 + nu_true) ~ nu_true + 1/2 per bin, a large bias at a few events per bin."
        )
    return " ".join(parts)


def coverage_table(
    model: Any,
    data: Any,
    *,
    ntoys: int = 10_000,
    seed: int = 0,
    rows: Sequence[tuple[str, str, str, str, str]] = TABLE_ROWS,
    truth: dict[str, float] | None = None,
    grid: dict[str, tuple[float, float, int]] | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Progress = None,
) -> CoverageTableResult:
    """Run :func:`coverage_toys` for each ingredient combination on the same seed.

    Args:
        model: normfactor-only pyhf model (grid rows need it).
        data: observed data; the default truth is its likelihood best fit.
        ntoys: toys per combination.
        seed: the one seed of every combination.
        rows: (label, sampling, statistic, minimization, negative) tuples.
        truth: generating parameters (default: best fit).
        grid: grid ranges (default :data:`REPORT_GRID`).
        workers: local worker processes.
        scheduler: Dask scheduler address.
        progress: called with the number of toy blocks in each finished chunk.

    Returns:
        The :class:`CoverageTableResult`.
    """
    engine = _engine(model)
    if truth is None:
        truth, _, _ = _fit_data(model, engine, data, "likelihood")
    out = []
    expected = math.nan
    for label, sampling, statistic, minimization, negative in rows:
        r = coverage_toys(
            model,
            data,
            ntoys=ntoys,
            seed=seed,
            sampling=sampling,
            statistic=statistic,
            minimization=minimization,
            negative=negative,
            truth=truth,
            grid=grid,
            workers=workers,
            scheduler=scheduler,
            progress=progress,
        )
        expected = r.expected_critical_value
        out.append(
            {
                "label": label,
                "sampling": sampling,
                "statistic": statistic,
                "minimization": minimization,
                "negative": negative,
                "truth": r.truth,
                "critical_value": r.critical_value,
                "critical_value_band": list(r.critical_value_band),
                "coverage_at_expected": r.coverage_at_expected,
                "coverage_at_expected_error": r.coverage_at_expected_error,
                "n_failed": r.n_failed,
                "bestfit_bias": r.bestfit_bias,
                "bestfit_std": r.bestfit_std,
            }
        )
    return CoverageTableResult(
        rows=out,
        truth={k: float(v) for k, v in truth.items()},
        expected_critical_value=expected,
        note=_table_note(out, expected),
        settings=_settings(
            ntoys=ntoys, seed=seed, grid={k: list(v) for k, v in (grid or REPORT_GRID).items()}
        ),
    )


# --------------------------------------------------------------------------- hypotest


class HypotestResult(NamedTuple):
    """Toy-based CLs at ``poi_value`` and discovery p0, beside the asymptotic ones.

    Attributes:
        poi: parameter of interest.
        poi_value: tested value μ.
        qmu_observed: observed q̃_μ (0 if μ̂ > μ; μ̂ ≥ 0 by the bounds).
        cls, clsb, clb: toy CLs = CLs+b / CLb with CLs+b = P(q̃_μ ≥ obs | μ),
            CLb = P(q̃_μ ≥ obs | 0).
        cls_error: binomial error of CLs (propagated from both).
        q0_observed: observed q0.
        p0: P(q0 ≥ observed | s = 0) from background-only toys.
        p0_error: binomial error.
        z0: Φ⁻¹(1 − p0) significance; None when no toy reaches the observed q0
            (p0 < 1/ntoys, beyond the reach of the toys).
        cls_asymptotic, p0_asymptotic: pyhf's asymptotic results (q̃_μ / q0).
        n_failed: failed toy fits (both ensembles).
        settings: seed, ntoys, …
    """

    poi: str
    poi_value: float
    qmu_observed: float
    cls: float
    clsb: float
    clb: float
    cls_error: float
    q0_observed: float
    p0: float
    p0_error: float
    z0: float | None
    cls_asymptotic: float
    p0_asymptotic: float
    n_failed: int
    settings: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return _jsonable(self._asdict())  # type: ignore[no-any-return]

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> HypotestResult:
        """Inverse of :meth:`to_json`."""
        return cls(**obj)


def _asymptotic(model: Any, data: Any, mu: float) -> tuple[float, float]:
    with _numpy_minuit():
        cls_a = float(pyhf.infer.hypotest(mu, np.asarray(data).tolist(), model, test_stat="qtilde"))
        p0_a = float(pyhf.infer.hypotest(0.0, np.asarray(data).tolist(), model, test_stat="q0"))
    return cls_a, p0_a


def hypotest_toys(
    model: Any,
    data: Any,
    *,
    poi_value: float = 1.0,
    ntoys: int = 5_000,
    seed: int = 0,
    sampling: str = "poisson",
    aux: str = "sample",
    asymptotic: bool = True,
    spec: dict[str, Any] | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
    blocks_per_chunk: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Progress = None,
) -> HypotestResult:
    """Toy-based CLs for ``poi = poi_value`` (q̃_μ) and discovery p0 (q0).

    Signal+background toys are drawn at (μ, θ̂_μ) and background-only toys at
    (0, θ̂_0), the nuisance parameters fitted to the data (stream 0 and 1 of
    ``seed``); every toy is fitted unconditionally and at μ and 0 (batched
    where possible). pyhf's own toy calculator is not used.

    Returns:
        The :class:`HypotestResult`.
    """
    _check_sampling(sampling, "clip", aux)
    engine = _engine(model, spec)
    poi = model.config.poi_name
    if poi not in engine.names:
        msg = f"the POI {poi!r} must be a fitted parameter"
        raise FitError(msg)
    main_obs, aux_obs = _split(model, data)
    obs = _qstats(engine, main_obs[None, :], aux_obs[None, :], poi, poi_value)
    if not obs["converged"][0]:
        msg = "the fits to the observed data failed"
        raise FitError(msg)
    qmu_obs, q0_obs = float(obs["qmu"][0]), float(obs["q0"][0])
    common: dict[str, Any] = {
        "ntoys": ntoys,
        "seed": seed,
        "sampling": sampling,
        "negative": "clip",
        "aux": aux,
        "payload": {"poi": poi, "mu": float(poi_value)},
        "block_size": block_size,
        "blocks_per_chunk": blocks_per_chunk,
        "workers": workers,
        "scheduler": scheduler,
        "progress": progress,
    }
    ens = {}
    for stream, mu in ((0, float(poi_value)), (1, 0.0)):
        _, _, full = _fit_data(model, engine, data, "likelihood", fixed={poi: mu})
        ens[stream] = _run(
            "hypotest",
            engine,
            stream=stream,
            main_mean=np.asarray(model.expected_actualdata(full), dtype=float),
            aux_mean=_expected_aux(model, full),
            **common,
        )
    sb, b = ens[0], ens[1]
    qsb = sb["qmu"][sb["converged"]]
    qb = b["qmu"][b["converged"]]
    q0b = b["q0"][b["converged"]]
    clsb = float(np.mean(qsb >= qmu_obs))
    clb = float(np.mean(qb >= qmu_obs))
    cls = clsb / clb if clb > 0 else math.nan
    e_sb, e_b = _binomial_error(clsb * qsb.size, qsb.size), _binomial_error(clb * qb.size, qb.size)
    cls_err = float(
        cls * math.hypot(e_sb / clsb if clsb > 0 else 0.0, e_b / clb if clb > 0 else 0.0)
    )
    p0 = float(np.mean(q0b >= q0_obs))
    cls_a, p0_a = _asymptotic(model, data, poi_value) if asymptotic else (math.nan, math.nan)
    n_failed = int((~sb["converged"]).sum() + (~b["converged"]).sum())
    return HypotestResult(
        poi=poi,
        poi_value=float(poi_value),
        qmu_observed=qmu_obs,
        cls=cls,
        clsb=clsb,
        clb=clb,
        cls_error=cls_err,
        q0_observed=q0_obs,
        p0=p0,
        p0_error=_binomial_error(p0 * q0b.size, q0b.size),
        z0=float(stats.norm.isf(p0)) if p0 > 0 else None,
        cls_asymptotic=cls_a,
        p0_asymptotic=p0_a,
        n_failed=n_failed,
        settings=_settings(
            ntoys=ntoys,
            seed=seed,
            sampling=sampling,
            aux=aux,
            block_size=block_size,
            batched=engine.lm is not None,
        ),
    )
