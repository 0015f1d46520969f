"""Result containers of the inference stage: immutable NamedTuples ↔ JSON.

Every result can be written with ``to_json()`` and read back with
``from_json()`` so plots can be redrawn from saved results.
Conventions: ``twice_nll`` is −2lnL as computed by pyhf (including
auxiliary terms); ``delta_twice_nll`` is −2lnL minus its minimum (the
likelihood Δχ²); intervals are ``(low, high)`` parameter values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, TypeVar

import numpy as np

from .._io import as_float
from .._summary import markdown_repr, result_dict, short_repr

__all__ = ["UNCONSTRAINED", "FitResult", "Scan1DResult", "Scan2DResult", "row_by"]

_Row = TypeVar("_Row")

#: Why a free parameter has no error: the likelihood does not depend on it.
UNCONSTRAINED = (
    "the likelihood does not depend on this parameter (its samples are empty): not fitted, no error"
)


def _floats(x: Any) -> list[Any]:
    return np.asarray(x, dtype=float).tolist()  # type: ignore[no-any-return]


def row_by(rows: Sequence[_Row], field: str, key: str) -> _Row:
    """The row of a result table whose ``field`` is ``key``.

    Raises:
        KeyError: naming ``key`` and the keys of the rows there are.
    """
    for r in rows:
        if getattr(r, field) == key:
            return r
    msg = f"no row {key!r}; rows are {[getattr(r, field) for r in rows]}"
    raise KeyError(msg)


class FitResult(NamedTuple):
    """A maximum-likelihood fit.

    Attributes:
        labels: parameter names, one per entry (vector parameters expanded
            as ``name[i]``), in pyhf's parameter order.
        bestfit: best-fit values.
        uncertainty: Hesse (parabolic) errors; 0 for fixed parameters.
        correlation: correlation matrix (n×n).
        twice_nll: −2lnL at the minimum.
        converged: whether the minimizer reported a valid minimum.
        minos: label → (lower, upper) *signed* Minos errors (lower ≤ 0 ≤ upper)
            for the parameters where Minos was run.
        fixed: labels of parameters held constant in the fit.
        minimizer: ``engine`` (the batched HistFactory engine) or the
            fallback used (``pyhf-minuit (engine: why)``).
        status: ``converged``, or why the minimizer stopped without meeting
            its convergence criterion (then ``bestfit`` is the best point found).
        unconstrained: labels of free parameters the likelihood does not
            depend on: not fitted, their error is NaN (``null`` in JSON).
        notes: one-line remarks on the fit (e.g. precision hazards for pyhf).
        timing: ``{"fit_cpu_s", "fit_wall_s"}``, what the fit cost (with its
            errors, without loading the model); None if not measured.
    """

    labels: tuple[str, ...]
    bestfit: np.ndarray
    uncertainty: np.ndarray
    correlation: np.ndarray
    twice_nll: float
    converged: bool
    minos: dict[str, tuple[float, float]]
    fixed: tuple[str, ...] = ()
    minimizer: str = "engine"
    status: str = "converged"
    unconstrained: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    timing: dict[str, float] | None = None

    def value(self, label: str) -> float:
        """Best-fit value of parameter ``label``."""
        return float(self.bestfit[self.labels.index(label)])

    def error(self, label: str) -> float:
        """Hesse error of parameter ``label``."""
        return float(self.uncertainty[self.labels.index(label)])

    def to_dict(self) -> dict[str, Any]:
        """What the command line prints for this result (its JSON, read back)."""
        return result_dict(self)

    def __repr__(self) -> str:
        return short_repr(self)

    def _repr_markdown_(self) -> str:
        return markdown_repr(self)

    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        """Name → ``{"value", "error", "minos", "fixed"}``, as in the ``fit`` command's JSON."""
        params: dict[str, dict[str, Any]] = self.to_dict()["parameters"]
        return params

    def to_json(self) -> dict[str, Any]:
        """The documented output contract of the ``fit`` command.

        ``{"parameters": {name: {"value", "error", "minos": [lo, hi] | null, "fixed"}},
        "twice_nll", "correlation": {name: {name: rho}}, "converged", "status"}``;
        a parameter the likelihood does not depend on has ``"error": null``
        and ``"unconstrained"`` saying why; ``"notes"`` lists remarks;
        ``"timing": {"fit_cpu_s", "fit_wall_s"}`` what the fit cost, if measured.
        """
        params: dict[str, dict[str, Any]] = {}
        for lab, v, e in zip(self.labels, self.bestfit, self.uncertainty, strict=True):
            params[lab] = {
                "value": float(v),
                "error": float(e) if np.isfinite(e) else None,
                "minos": list(self.minos[lab]) if lab in self.minos else None,
                "fixed": lab in self.fixed,
            }
            if lab in self.unconstrained:
                params[lab]["unconstrained"] = UNCONSTRAINED
        corr = {
            a: {b: float(self.correlation[i, j]) for j, b in enumerate(self.labels)}
            for i, a in enumerate(self.labels)
        }
        return {
            "parameters": params,
            "twice_nll": float(self.twice_nll),
            "correlation": corr,
            "converged": bool(self.converged),
            "status": self.status,
            "minimizer": self.minimizer,
            "notes": list(self.notes),
            **({"timing": dict(self.timing)} if self.timing is not None else {}),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> FitResult:
        """Inverse of :meth:`to_json`."""
        labels = tuple(obj["parameters"])
        corr = np.array([[obj["correlation"][a][b] for b in labels] for a in labels], dtype=float)
        return cls(
            labels=labels,
            bestfit=np.array([obj["parameters"][k]["value"] for k in labels], dtype=float),
            uncertainty=np.array(
                [as_float(obj["parameters"][k]["error"]) for k in labels], dtype=float
            ),
            correlation=corr,
            twice_nll=as_float(obj["twice_nll"]),
            converged=bool(obj["converged"]),
            minos={
                k: tuple(v["minos"]) for k, v in obj["parameters"].items() if v["minos"] is not None
            },  # type: ignore[misc]
            fixed=tuple(k for k, v in obj["parameters"].items() if v.get("fixed")),
            minimizer=str(obj.get("minimizer", "engine")),
            status=str(obj.get("status", "converged")),
            unconstrained=tuple(k for k, v in obj["parameters"].items() if v.get("unconstrained")),
            notes=tuple(obj.get("notes", ())),
            timing=dict(obj["timing"]) if obj.get("timing") is not None else None,
        )


class Scan1DResult(NamedTuple):
    """A one-parameter scan of Δ(−2lnL) (or of a Δχ²).

    Attributes:
        parameter: name of the scanned parameter.
        values: scanned parameter values (increasing).
        delta_twice_nll: Δ(−2lnL) at each value, relative to the global minimum.
        bestfit: best-fit value of the scanned parameter (global minimum).
        interval: (low, high) where Δ = ``level``, found by interpolation;
            ``nan`` where the curve does not cross inside the scanned range.
        level: the Δ value defining the interval (1 for 68.27%).
        kind: ``profile`` (others re-fitted per point) or ``conditional``
            (others fixed at their global best fit).
        statistic: ``likelihood`` or the name of the χ² used.
        minimizer: what computed the profile: ``engine`` (the batched
            HistFactory engine) or ``grid`` (the report's χ² on a grid).
        failed: scanned values whose profile fit did not converge: their Δ
            is from the best point found (an upper bound), kept, not dropped.
    """

    parameter: str
    values: np.ndarray
    delta_twice_nll: np.ndarray
    bestfit: float
    interval: tuple[float, float]
    level: float = 1.0
    kind: str = "profile"
    statistic: str = "likelihood"
    minimizer: str = "engine"
    failed: tuple[float, ...] = ()

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
            "parameter": self.parameter,
            "values": _floats(self.values),
            "delta_twice_nll": _floats(self.delta_twice_nll),
            "bestfit": float(self.bestfit),
            "interval": _floats(self.interval),
            "level": float(self.level),
            "kind": self.kind,
            "statistic": self.statistic,
            "minimizer": self.minimizer,
            "failed": [float(v) for v in self.failed],
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Scan1DResult:
        """Inverse of :meth:`to_json`."""
        return cls(
            parameter=obj["parameter"],
            values=np.asarray(obj["values"], dtype=float),
            delta_twice_nll=np.asarray(obj["delta_twice_nll"], dtype=float),
            bestfit=as_float(obj["bestfit"]),
            interval=(as_float(obj["interval"][0]), as_float(obj["interval"][1])),
            level=as_float(obj["level"]),
            kind=obj["kind"],
            statistic=obj["statistic"],
            minimizer=str(obj.get("minimizer", "engine")),
            failed=tuple(float(v) for v in obj.get("failed", ())),
        )


class Scan2DResult(NamedTuple):
    """A two-parameter scan of Δ(−2lnL) (or of a Δχ²) on a grid.

    Attributes:
        parameters: names (x, y) of the scanned parameters.
        x_values: grid values of the first parameter (length nx).
        y_values: grid values of the second parameter (length ny).
        delta_twice_nll: Δ at each grid point, shape (nx, ny), index [i, j] ↔
            (x_values[i], y_values[j]); relative to the global minimum.
        bestfit: (x, y) at the global minimum.
        intervals: parameter name → (low, high) extent of the first-level
            contour (the 68% interval read off the contour).
        levels: contour levels (2.30 and 5.99 for 68.27% / 95% with 2 dof).
        kind: ``profile`` or ``conditional``.
        statistic: ``likelihood`` or the name of the χ² used.
        minimizer: what computed the profile: ``engine`` (the batched
            HistFactory engine) or ``grid`` (the report's χ² on a grid).
    """

    parameters: tuple[str, str]
    x_values: np.ndarray
    y_values: np.ndarray
    delta_twice_nll: np.ndarray
    bestfit: tuple[float, float]
    intervals: dict[str, tuple[float, float]]
    levels: tuple[float, ...] = (2.30, 5.99)
    kind: str = "profile"
    statistic: str = "likelihood"
    minimizer: str = "engine"

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
            "parameters": list(self.parameters),
            "x_values": _floats(self.x_values),
            "y_values": _floats(self.y_values),
            "delta_twice_nll": _floats(self.delta_twice_nll),
            "bestfit": _floats(self.bestfit),
            "levels": _floats(self.levels),
            "intervals": {k: _floats(v) for k, v in self.intervals.items()},
            "kind": self.kind,
            "statistic": self.statistic,
            "minimizer": self.minimizer,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Scan2DResult:
        """Inverse of :meth:`to_json`."""
        return cls(
            parameters=(obj["parameters"][0], obj["parameters"][1]),
            x_values=np.asarray(obj["x_values"], dtype=float),
            y_values=np.asarray(obj["y_values"], dtype=float),
            delta_twice_nll=np.asarray(obj["delta_twice_nll"], dtype=float),
            bestfit=(as_float(obj["bestfit"][0]), as_float(obj["bestfit"][1])),
            levels=tuple(as_float(v) for v in obj["levels"]),
            intervals={k: (as_float(v[0]), as_float(v[1])) for k, v in obj["intervals"].items()},
            kind=obj["kind"],
            statistic=obj["statistic"],
            minimizer=str(obj.get("minimizer", "engine")),
        )
