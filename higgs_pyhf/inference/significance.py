"""Discovery significance and CLs of the POI, asymptotically, on the engine.

The asymptotic formulae of Cowan, Cranmer, Gross, Vitells (2011), with
pyhf's conventions exactly (the tests compare with ``pyhf cls`` and
:func:`pyhf.infer.hypotest`): test statistics q0 and q̃μ from profile fits
with the POI bounded below by 0; Asimov data from the fit with the POI fixed
at 1 (q0) or 0 (q̃μ), main and auxiliary data at the fitted parameters;
p-values in √q space with the ``normal`` base distribution; the expected
band at −2σ … +2σ. Every fit is a batched engine fit: all tested POI values
(observed and Asimov) go into one batch. A fit that does not meet the
engine's convergence criterion is not discarded: its best point is used and
the result's ``status`` says how many fits did not converge and why.

- :func:`discovery`: p0 and Z of ``poi = 0``; expected for ``poi = 1``.
- :func:`cls`: CLs at tested POI values, observed and expected band.
- the upper limit on the POI builds on these: :mod:`.limits`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from .._io import as_float
from .._summary import markdown_repr, result_dict, short_repr
from ..errors import FitError
from . import normal
from .engine import CompiledModel, compile_model, dead_parameters, expected_aux, expected_main
from .engine import fit as engine_fit
from .observed import data_vector

__all__ = [
    "CLsResult",
    "DiscoveryResult",
    "check_poi",
    "cls",
    "cls_scan",
    "discovery",
]

log = logging.getLogger(__name__)

#: The expected band, in σ of the background-only distribution (pyhf's order).
BAND = (-2, -1, 0, 1, 2)


class _Poi(NamedTuple):
    cm: CompiledModel
    name: str
    pos: int
    data: np.ndarray
    failures: list[str]  # one entry per fit that did not converge: why


def _prepare(model: Any, data: Any) -> _Poi:
    poi = model.config.poi_name
    if poi is None:
        msg = "the model has no parameter of interest (measurement config 'poi')"
        raise FitError(msg)
    cm = compile_model(model)
    i = cm.par_names.index(poi)
    if cm.bounds[i, 0] != 0:
        msg = f"asymptotic q0/qtilde tests need the POI {poi!r} bounded below by 0, got {cm.bounds[i, 0]}"
        raise FitError(msg)
    if dead_parameters(cm, ~cm.fixed, cm.init)[i]:
        msg = f"the POI {poi!r} has no effect on the likelihood (its samples are empty): nothing to test"
        raise FitError(msg)
    d = data_vector(data, cm.nmain, cm.naux)
    return _Poi(cm, str(poi), i, d, [])


def check_poi(model: Any, data: Any) -> None:
    """Raise :class:`FitError` (one line) if the POI of ``model`` cannot be tested on ``data``."""
    _prepare(model, data)


def _record(p: _Poi, r: Any, what: str) -> None:
    if not r.converged.all():
        for reason in r.reasons():
            p.failures.append(f"{what}: {reason}")
        log.warning(
            "%d %s fit(s) did not converge: %s", int((~r.converged).sum()), what, r.reasons()
        )


def _status(p: _Poi) -> str:
    """``converged``, or which fits did not (their best points were used)."""
    if not p.failures:
        return "converged"
    kinds = sorted(set(p.failures))
    return f"{len(p.failures)} fit group(s) did not converge, best points used ({'; '.join(kinds)})"


def _fixed_poi_fits(p: _Poi, data: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fits with the POI fixed at ``values`` [B] to ``data`` [B, N + A]: (pars, −2lnL)."""
    cm = p.cm._replace(fixed=p.cm.fixed.copy())
    cm.fixed[p.pos] = True
    init = np.broadcast_to(p.cm.init, (values.size, p.cm.npars)).copy()
    init[:, p.pos] = values
    r = engine_fit(cm, data, init=init)
    _record(p, r, f"{p.name} fixed")
    return r.pars, r.twice_nll


def _free_fits(p: _Poi, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = engine_fit(p.cm, data)
    _record(p, r, "unconditional")
    return r.pars, r.twice_nll


def _asimov(p: _Poi, mu: float) -> np.ndarray:
    pars, _ = _fixed_poi_fits(p, p.data[None, :], np.array([mu]))
    return np.concatenate([expected_main(p.cm, pars)[0], expected_aux(p.cm, pars)[0]])


class _CLsCalculator:
    """CLs of many POI values: the Asimov data and the free fits are made once."""

    def __init__(self, p: _Poi) -> None:
        self.p = p
        self.both = np.stack([p.data, _asimov(p, 0.0)])
        self.free = _free_fits(p, self.both)

    def __call__(self, mus: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Observed CLs [M] and expected CLs [5, M] at the POI values ``mus`` (one batch)."""
        p, n = self.p, mus.size
        _, fixed_nll = _fixed_poi_fits(p, np.repeat(self.both, n, axis=0), np.tile(mus, 2))
        t = np.clip(fixed_nll.reshape(2, n) - self.free[1][:, None], 0.0, None)
        t = np.where(self.free[0][:, p.pos, None] > mus[None, :], 0.0, t)
        sq, sq_a = np.sqrt(t[0]), np.sqrt(t[1])
        with np.errstate(divide="ignore", invalid="ignore"):
            ts = np.where(sq <= sq_a, sq - sq_a, (sq**2 - sq_a**2) / (2 * sq_a))
        obs = normal.cdf(-(ts + sq_a)) / normal.cdf(-ts)
        exp = np.array([normal.cdf(-(k + sq_a)) / normal.cdf(-k) for k in (2, 1, 0, -1, -2)])
        return obs, exp


def _num(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


class DiscoveryResult(NamedTuple):
    """Discovery test of ``poi = 0``.

    Attributes:
        poi: name of the parameter of interest.
        p0_observed: observed p-value of the background-only hypothesis.
        z_observed: its significance Φ⁻¹(1 − p0) in σ.
        p0_expected: median expected p0 if the signal is there at ``poi = 1``.
        z_expected: expected significance in σ.
        status: ``converged``, or which fits did not converge (their best points were used).
    """

    poi: str
    p0_observed: float
    z_observed: float
    p0_expected: float
    z_expected: float
    status: str = "converged"

    def to_dict(self) -> dict[str, Any]:
        """What the command line prints for this result (its JSON, read back)."""
        return result_dict(self)

    def __repr__(self) -> str:
        return short_repr(self)

    def _repr_markdown_(self) -> str:
        return markdown_repr(self)

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {k: (v if isinstance(v, str) else float(v)) for k, v in self._asdict().items()}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> DiscoveryResult:
        """Inverse of :meth:`to_json`."""
        return cls(**{k: obj[k] for k in cls._fields if k in obj})


class CLsResult(NamedTuple):
    """CLs of a tested POI value.

    Attributes:
        poi: name of the parameter of interest.
        poi_value: tested value.
        cls_observed: observed CLs.
        cls_expected: expected CLs at −2σ, −1σ, median, +1σ, +2σ.
        test_stat: test statistic (``qtilde``).
        status: ``converged``, or which fits did not converge (their best points were used).
    """

    poi: str
    poi_value: float
    cls_observed: float
    cls_expected: tuple[float, float, float, float, float]
    test_stat: str = "qtilde"
    status: str = "converged"

    def to_dict(self) -> dict[str, Any]:
        """What the command line prints for this result (its JSON, read back)."""
        return result_dict(self)

    def __repr__(self) -> str:
        return short_repr(self)

    def _repr_markdown_(self) -> str:
        return markdown_repr(self)

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "poi": self.poi,
            "poi_value": float(self.poi_value),
            "cls_observed": float(self.cls_observed),
            "cls_expected": [float(v) for v in self.cls_expected],
            "test_stat": self.test_stat,
            "status": self.status,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> CLsResult:
        """Inverse of :meth:`to_json`."""
        return cls(
            poi=obj["poi"],
            poi_value=as_float(obj["poi_value"]),
            cls_observed=as_float(obj["cls_observed"]),
            cls_expected=tuple(as_float(v) for v in obj["cls_expected"]),  # type: ignore[arg-type]
            test_stat=obj["test_stat"],
            status=str(obj.get("status", "converged")),
        )


def discovery(model: Any, data: Any) -> DiscoveryResult:
    """Asymptotic discovery p0 and Z of ``poi = 0`` (q0 test statistic).

    Args:
        model: the pyhf model (POI = the signal strength).
        data: observed data (main bins followed by auxdata).

    Returns:
        Observed and expected (for ``poi = 1``) p0 and Z.
    """
    p = _prepare(model, data)
    asimov = _asimov(p, 1.0)
    both = np.stack([p.data, asimov])
    free = _free_fits(p, both)
    _, fixed_nll = _fixed_poi_fits(p, both, np.zeros(2))
    q0 = np.clip(fixed_nll - free[1], 0.0, None)
    q0 = np.where(free[0][:, p.pos] < 0, 0.0, q0)
    p0, p0e = (float(normal.sf(np.sqrt(q))) for q in q0)
    res = DiscoveryResult(
        p.name,
        p0,
        normal.isf(p0),
        p0e,
        normal.isf(p0e),
        _status(p),
    )
    log.info("discovery: p0 = %.4g (Z = %.3f), expected p0 = %.4g (Z = %.3f)", *res[1:5])
    return res


def cls_scan(model: Any, data: Any, poi_values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Observed CLs [M] and expected band [5, M] at several POI values, in one batch."""
    return _cls_scan(_prepare(model, data), poi_values)


def _cls_scan(p: _Poi, poi_values: Any) -> tuple[np.ndarray, np.ndarray]:
    mus = np.asarray(poi_values, dtype=float).reshape(-1)
    lo, hi = p.cm.bounds[p.pos]
    if np.any(mus < lo) or np.any(mus > hi):
        msg = f"tested {p.name} values must lie within its bounds [{lo:g}, {hi:g}]"
        raise FitError(msg)
    return _CLsCalculator(p)(mus)


def cls(model: Any, data: Any, *, poi_value: float = 1.0) -> CLsResult:
    """Asymptotic CLs of ``poi = poi_value`` with the q̃μ test statistic (as ``pyhf cls``).

    Args:
        model: the pyhf model.
        data: observed data.
        poi_value: tested POI value.

    Returns:
        Observed CLs and the expected band.
    """
    p = _prepare(model, data)
    obs, exp = _cls_scan(p, [poi_value])
    band = tuple(float(v) for v in exp[:, 0])
    return CLsResult(p.name, float(poi_value), float(obs[0]), band, "qtilde", _status(p))  # type: ignore[arg-type]
