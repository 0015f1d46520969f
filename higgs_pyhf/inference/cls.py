"""CLs of one tested POI value, as ``pyhf cls`` computes it, on the batched engine.

pyhf's asymptotic hypothesis test (``pyhf.infer.hypotest`` with the
asymptotic calculator, pyhf 0.7.6) with the engine's fits:

1. the Asimov data of the background-only hypothesis: the fit with the POI
   fixed at 0 to the observed data, main and auxiliary data expected at the
   fitted parameters;
2. for the observed and the Asimov data together (one batch each): the free
   fit and the fit with the POI fixed at the tested value μ, each from two
   starts (pyhf's init and the fit of step 1) keeping the lower minimum;
3. q_μ = −2 ln λ(μ), set to 0 where μ̂ > μ; the test statistic in √q space
   (``q``: √q_μ − √q_μ,A; ``qtilde``: the same below √q_μ,A, else
   (q_μ − q_μ,A)/(2√q_μ,A)); CLs = CLs+b/CLb with the normal distributions
   of Cowan, Cranmer, Gross, Vitells (2011); the expected band at −2σ … +2σ
   of the background-only distribution, in pyhf's order.

Every fit is reported in :class:`FitStatus` (a fit that did not converge
does not stop the computation; it is flagged). No scipy.stats, no pyhf fits:
Φ is ``math.erfc``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from .._summary import markdown_repr, result_dict, short_repr
from ..errors import FitError
from . import normal
from .engine import CompiledModel, compile_model, expected_aux, expected_main
from .engine import fit as engine_fit
from .observed import data_vector

__all__ = ["TEST_STATISTICS", "CLsOutcome", "FitStatus", "Timing", "hypotest", "hypotest_compiled"]

log = logging.getLogger(__name__)

#: Test statistics of ``pyhf cls --test-stat``.
TEST_STATISTICS = ("qtilde", "q")
#: The expected band, in σ of the background-only distribution (pyhf's order of the CLs band).
_NSIGMA = (2.0, 1.0, 0.0, -1.0, -2.0)


class FitStatus(NamedTuple):
    """The engine fits of a hypothesis test.

    Attributes:
        fits: number of fits (Asimov, free and fixed-POI fits, observed and Asimov data).
        converged: whether every fit converged.
        not_converged: how many did not.
        fallback: how many needed the engine's safeguarded path.
        max_iterations: largest number of Newton iterations of one fit.
    """

    fits: int
    converged: bool
    not_converged: int
    fallback: int
    max_iterations: int

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {k: (bool(v) if k == "converged" else int(v)) for k, v in self._asdict().items()}


class Timing(NamedTuple):
    """CPU and wall-clock seconds of a computation (this process)."""

    cpu_s: float
    wall_s: float

    def to_json(self) -> dict[str, float]:
        """JSON-serialisable form (rounded to microseconds)."""
        return {"cpu_s": round(self.cpu_s, 6), "wall_s": round(self.wall_s, 6)}


class CLsOutcome(NamedTuple):
    """CLs of a tested POI value, observed and expected.

    Attributes:
        poi: name of the parameter of interest.
        test_poi: tested value μ.
        test_stat: ``qtilde`` or ``q``.
        cls_observed: observed CLs.
        cls_expected: expected CLs at −2σ, −1σ, median, +1σ, +2σ (pyhf's ``CLs_exp``).
        fit_status: the fits it took.
        timing: compiling the model and the fits.
    """

    poi: str
    test_poi: float
    test_stat: str
    cls_observed: float
    cls_expected: tuple[float, float, float, float, float]
    fit_status: FitStatus
    timing: Timing

    def to_json(self) -> dict[str, Any]:
        """``pyhf cls``'s JSON (``CLs_obs``, ``CLs_exp``) plus what the engine adds."""
        return {
            "CLs_exp": [float(v) for v in self.cls_expected],
            "CLs_obs": float(self.cls_observed),
            "fit_status": self.fit_status.to_json(),
            "poi": self.poi,
            "test_poi": float(self.test_poi),
            "test_stat": self.test_stat,
            "timing": self.timing.to_json(),
        }

    def to_dict(self) -> dict[str, Any]:
        """What the ``cls`` command prints for this result (its JSON, read back)."""
        return result_dict(self)

    def __repr__(self) -> str:
        return short_repr(self)

    def _repr_markdown_(self) -> str:
        return markdown_repr(self)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> CLsOutcome:
        """Inverse of :meth:`to_json`."""
        return cls(
            poi=str(obj["poi"]),
            test_poi=float(obj["test_poi"]),
            test_stat=str(obj["test_stat"]),
            cls_observed=float(obj["CLs_obs"]),
            cls_expected=tuple(float(v) for v in obj["CLs_exp"]),  # type: ignore[arg-type]
            fit_status=FitStatus(**obj["fit_status"]),
            timing=Timing(**obj["timing"]),
        )


class _Fits:
    """Runs engine fits (free, or with the POI fixed) and keeps their status."""

    def __init__(self, cm: CompiledModel, pos: int) -> None:
        self.cm, self.pos = cm, pos
        self.fixed_cm = cm._replace(fixed=cm.fixed.copy())
        self.fixed_cm.fixed[pos] = True
        self.n = self.bad = self.fallback = self.iters = 0

    def __call__(
        self,
        data: np.ndarray,
        poi_values: np.ndarray | None = None,
        init: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        start = np.broadcast_to(
            self.cm.init if init is None else init, (data.shape[0], self.cm.npars)
        )
        if poi_values is None:
            r = engine_fit(self.cm, data, init=start)
        else:
            start = start.copy()
            start[:, self.pos] = poi_values
            r = engine_fit(self.fixed_cm, data, init=start)
        self.n += r.converged.size
        self.bad += int((~r.converged).sum())
        self.fallback += int(r.fallback.sum())
        self.iters = max(self.iters, int(np.max(r.n_iter)))
        return r.pars, r.twice_nll

    def best(
        self, data: np.ndarray, starts: np.ndarray, poi_values: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each data set [B] fitted from every start [K] (one batch): the lowest minimum of each."""
        k, b = starts.shape[0], data.shape[0]
        rows = np.repeat(data, k, axis=0)
        init = np.tile(starts, (b, 1))
        values = None if poi_values is None else np.repeat(poi_values, k)
        pars, nll = self(rows, values, init)
        nll = np.where(np.isfinite(nll), nll, np.inf).reshape(b, k)
        pick = np.arange(b) * k + np.argmin(nll, axis=1)
        return pars[pick], nll.reshape(-1)[pick]

    def status(self) -> FitStatus:
        return FitStatus(self.n, self.bad == 0, self.bad, self.fallback, self.iters)


def hypotest_compiled(
    cm: CompiledModel,
    data: Any,
    poi: str,
    *,
    test_poi: float = 1.0,
    test_stat: str = "qtilde",
) -> CLsOutcome:
    """CLs of ``poi = test_poi`` on a compiled model (see the module docstring).

    Args:
        cm: the compiled model.
        data: observed data (main bins followed by auxiliary data).
        poi: name of the parameter of interest.
        test_poi: tested POI value μ.
        test_stat: ``qtilde`` (POI bounded below by 0) or ``q``.

    Returns:
        Observed CLs, the expected band, the fit status and the time it took.

    Raises:
        FitError: for a POI bound or tested value the test cannot use.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    if test_stat not in TEST_STATISTICS:
        msg = f"test statistic must be one of {', '.join(TEST_STATISTICS)}, got {test_stat!r}"
        raise FitError(msg)
    pos = cm.par_names.index(poi)
    lo, hi = (float(v) for v in cm.bounds[pos])
    if test_stat == "qtilde" and lo != 0:
        msg = f"the qtilde test statistic needs the POI {poi!r} bounded below by 0, got {lo:g}"
        raise FitError(msg)
    if not lo <= test_poi <= hi:
        msg = f"tested {poi} = {test_poi:g} lies outside its bounds [{lo:g}, {hi:g}]"
        raise FitError(msg)
    d = data_vector(data, cm.nmain, cm.naux)
    fits = _Fits(cm, pos)
    pars0, _ = fits(d[None, :], np.zeros(1))
    asimov = np.concatenate([expected_main(cm, pars0)[0], expected_aux(cm, pars0)[0]])
    both = np.stack([d, asimov])
    # Every fit starts from pyhf's init and from pars0 (rows of one batch) and
    # keeps the lower minimum: published models have a second minimum with
    # the POI at its bound, which a single start can miss either way (the
    # Asimov data's free minimum is pars0 itself: they are expected there).
    starts = np.stack([cm.init, pars0[0]])
    free_pars, free_nll = fits.best(both, starts)
    _, fixed_nll = fits.best(both, starts, np.full(2, float(test_poi)))
    q = np.clip(fixed_nll - free_nll, 0.0, None)
    q = np.where(free_pars[:, pos] > test_poi, 0.0, q)
    sq, sq_a = np.sqrt(q)
    if test_stat == "qtilde" and sq > sq_a:
        ts = (sq * sq - sq_a * sq_a) / (2.0 * sq_a)
    else:
        ts = sq - sq_a
    observed = float(normal.cdf(np.array([-(ts + sq_a)]))[0] / normal.cdf(np.array([-ts]))[0])
    k = np.array(_NSIGMA)
    expected = normal.cdf(-(k + sq_a)) / normal.cdf(-k)
    status = fits.status()
    if not status.converged:
        log.warning("%d of %d fits did not converge", status.not_converged, status.fits)
    timing = Timing(time.process_time() - c0, time.perf_counter() - t0)
    return CLsOutcome(
        poi,
        float(test_poi),
        test_stat,
        observed,
        tuple(float(v) for v in expected),  # type: ignore[arg-type]
        status,
        timing,
    )


def hypotest(
    model: Any, data: Any, *, test_poi: float = 1.0, test_stat: str = "qtilde"
) -> CLsOutcome:
    """CLs of ``poi = test_poi`` for a pyhf model, as ``pyhf cls`` (asymptotics).

    Args:
        model: the pyhf model (its POI is tested).
        data: observed data (main bins followed by auxiliary data).
        test_poi: tested POI value μ.
        test_stat: ``qtilde`` or ``q``.

    Returns:
        The :class:`CLsOutcome`; its timing includes compiling the model.
    """
    poi = model.config.poi_name
    if poi is None:
        msg = "the model has no parameter of interest (measurement config 'poi')"
        raise FitError(msg)
    t0, c0 = time.perf_counter(), time.process_time()
    cm = compile_model(model)
    out = hypotest_compiled(cm, data, str(poi), test_poi=test_poi, test_stat=test_stat)
    return out._replace(timing=Timing(time.process_time() - c0, time.perf_counter() - t0))
