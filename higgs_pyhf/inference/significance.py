"""Discovery significance, CLs and CLs upper limits on the signal strength ``s_s``.

All asymptotic (Cowan, Cranmer, Gross, Vitells 2011) through pyhf's
:func:`pyhf.infer.hypotest` with the numpy backend and the minuit optimizer;
pyhf's global backend and optimizer are restored afterwards.

- :func:`discovery`: p0 and Z for the background-only hypothesis ``s_s = 0``
  with the q0 test statistic; the expected values are for ``s_s = 1``
  (pyhf's Asimov dataset at μ = 1).
- :func:`cls`: CLs at a tested ``s_s`` (qtilde), observed and the expected
  band (−2σ, −1σ, median, +1σ, +2σ). Equals the ``pyhf cls`` command.
- :func:`upper_limit`: the 95% CL (CLs = 0.05) upper limit on ``s_s``,
  observed and expected band, by root finding (TOMS 748) or on a given scan.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pyhf
import scipy.stats

from ..errors import FitError
from ._model import pyhf_state

__all__ = ["CLsResult", "DiscoveryResult", "UpperLimitResult", "cls", "discovery", "upper_limit"]

log = logging.getLogger(__name__)

#: Order of the expected band values.
BAND = (-2, -1, 0, 1, 2)


def _f(x: Any) -> float:
    return float(np.asarray(x).reshape(-1)[0])


def _check_poi(model: pyhf.pdf.Model) -> str:
    poi = model.config.poi_name
    if poi is None:
        msg = "the model has no parameter of interest (measurement config 'poi')"
        raise FitError(msg)
    lo = model.config.suggested_bounds()[model.config.poi_index][0]
    if lo < 0:
        msg = f"asymptotic q0/qtilde tests need the POI {poi!r} bounded below by 0, got {lo}"
        raise FitError(msg)
    return str(poi)


class DiscoveryResult(NamedTuple):
    """Discovery test of ``poi = 0``.

    Attributes:
        poi: name of the parameter of interest.
        p0_observed: observed p-value of the background-only hypothesis.
        z_observed: its significance Φ⁻¹(1 − p0) in σ.
        p0_expected: median expected p0 if the signal is there at ``poi = 1``.
        z_expected: expected significance in σ.
    """

    poi: str
    p0_observed: float
    z_observed: float
    p0_expected: float
    z_expected: float

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {k: (v if isinstance(v, str) else float(v)) for k, v in self._asdict().items()}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> DiscoveryResult:
        """Inverse of :meth:`to_json`."""
        return cls(**{k: obj[k] for k in cls._fields})


class CLsResult(NamedTuple):
    """CLs of a tested POI value.

    Attributes:
        poi: name of the parameter of interest.
        poi_value: tested value.
        cls_observed: observed CLs.
        cls_expected: expected CLs at −2σ, −1σ, median, +1σ, +2σ.
        test_stat: test statistic (``qtilde``).
    """

    poi: str
    poi_value: float
    cls_observed: float
    cls_expected: tuple[float, float, float, float, float]
    test_stat: str = "qtilde"

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "poi": self.poi,
            "poi_value": float(self.poi_value),
            "cls_observed": float(self.cls_observed),
            "cls_expected": [float(v) for v in self.cls_expected],
            "test_stat": self.test_stat,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> CLsResult:
        """Inverse of :meth:`to_json`."""
        return cls(
            poi=obj["poi"],
            poi_value=float(obj["poi_value"]),
            cls_observed=float(obj["cls_observed"]),
            cls_expected=tuple(float(v) for v in obj["cls_expected"]),  # type: ignore[arg-type]
            test_stat=obj["test_stat"],
        )


class UpperLimitResult(NamedTuple):
    """CLs upper limit on the POI.

    Attributes:
        poi: name of the parameter of interest.
        level: CLs threshold (0.05 for 95% CL).
        observed: observed upper limit.
        expected: expected limits at −2σ, −1σ, median, +1σ, +2σ.
        scan: POI values where CLs was evaluated (sorted).
        cls_observed: observed CLs at ``scan``.
        cls_expected: (5, len(scan)) expected CLs band at ``scan``.
        method: ``toms748`` (root finding) or ``scan`` (interpolation on a grid).
    """

    poi: str
    level: float
    observed: float
    expected: tuple[float, float, float, float, float]
    scan: np.ndarray
    cls_observed: np.ndarray
    cls_expected: np.ndarray
    method: str

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "poi": self.poi,
            "level": float(self.level),
            "observed": float(self.observed),
            "expected": [float(v) for v in self.expected],
            "scan": np.asarray(self.scan, dtype=float).tolist(),
            "cls_observed": np.asarray(self.cls_observed, dtype=float).tolist(),
            "cls_expected": np.asarray(self.cls_expected, dtype=float).tolist(),
            "method": self.method,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> UpperLimitResult:
        """Inverse of :meth:`to_json`."""
        return cls(
            poi=obj["poi"],
            level=float(obj["level"]),
            observed=float(obj["observed"]),
            expected=tuple(float(v) for v in obj["expected"]),  # type: ignore[arg-type]
            scan=np.asarray(obj["scan"], dtype=float),
            cls_observed=np.asarray(obj["cls_observed"], dtype=float),
            cls_expected=np.asarray(obj["cls_expected"], dtype=float).reshape(5, -1),
            method=obj["method"],
        )


def discovery(model: pyhf.pdf.Model, data: Any) -> DiscoveryResult:
    """Asymptotic discovery p0 and Z of ``poi = 0`` (q0 test statistic).

    Args:
        model: the pyhf model (POI = the signal strength).
        data: observed data (main bins followed by auxdata).

    Returns:
        Observed and expected (for ``poi = 1``) p0 and Z.
    """
    poi = _check_poi(model)
    with pyhf_state():
        p_obs, p_exp = pyhf.infer.hypotest(
            0.0, np.asarray(data, dtype=float), model, test_stat="q0", return_expected=True
        )
    p0, p0e = _f(p_obs), _f(p_exp)
    res = DiscoveryResult(
        poi, p0, float(scipy.stats.norm.isf(p0)), p0e, float(scipy.stats.norm.isf(p0e))
    )
    log.info("discovery: p0 = %.4g (Z = %.3f), expected p0 = %.4g (Z = %.3f)", *res[1:])
    return res


def cls(model: pyhf.pdf.Model, data: Any, *, poi_value: float = 1.0) -> CLsResult:
    """Asymptotic CLs of ``poi = poi_value`` with the qtilde test statistic.

    Args:
        model: the pyhf model.
        data: observed data.
        poi_value: tested POI value.

    Returns:
        Observed CLs and the expected band.
    """
    poi = _check_poi(model)
    with pyhf_state():
        obs, exp = pyhf.infer.hypotest(
            float(poi_value),
            np.asarray(data, dtype=float),
            model,
            test_stat="qtilde",
            return_expected_set=True,
        )
    band = tuple(_f(v) for v in exp)
    return CLsResult(poi, float(poi_value), _f(obs), band, "qtilde")  # type: ignore[arg-type]


def upper_limit(
    model: pyhf.pdf.Model,
    data: Any,
    *,
    scan: Sequence[float] | np.ndarray | None = None,
    level: float = 0.05,
) -> UpperLimitResult:
    """CLs upper limit on the POI with the expected ±1σ/±2σ band.

    Args:
        model: the pyhf model.
        data: observed data.
        scan: POI values for a linear-grid scan (limits interpolated on it);
            default: root finding (TOMS 748, relative tolerance 1e-4) inside
            the POI bounds.
        level: CLs threshold (0.05 for 95% CL).

    Returns:
        Observed and expected limits and the CLs values evaluated.
    """
    poi = _check_poi(model)
    if not 0 < level < 1:
        msg = f"CLs level must be in (0, 1), got {level}"
        raise FitError(msg)
    grid = None if scan is None else np.unique(np.asarray(scan, dtype=float))
    if grid is not None and grid.size < 2:
        msg = "the upper-limit scan needs at least 2 POI values"
        raise FitError(msg)
    with pyhf_state():
        obs, exp, (points, results) = pyhf.infer.intervals.upper_limits.upper_limit(
            np.asarray(data, dtype=float),
            model,
            scan=grid,
            level=level,
            return_results=True,
            test_stat="qtilde",
        )
    pts = np.asarray(points, dtype=float)
    order = np.argsort(pts)
    cls_obs = np.array([_f(r[0]) for r in results])[order]
    cls_exp = np.array([[_f(v) for v in r[1]] for r in results]).T[:, order]
    res = UpperLimitResult(
        poi=poi,
        level=float(level),
        observed=_f(obs),
        expected=tuple(_f(v) for v in exp),  # type: ignore[arg-type]
        scan=pts[order],
        cls_observed=cls_obs,
        cls_expected=cls_exp,
        method="toms748" if grid is None else "scan",
    )
    log.info(
        "upper limit on %s at CLs=%g: observed %.4g, expected %.4g",
        poi,
        level,
        res.observed,
        res.expected[2],
    )
    return res
