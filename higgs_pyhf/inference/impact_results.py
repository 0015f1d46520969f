"""The results of :func:`~higgs_pyhf.inference.impacts.impacts`: one JSON schema whoever writes them.

- :class:`Shift`: the POI's change when one parameter is moved down or up;
- :class:`ParameterImpact`: a parameter's pre- and post-fit impacts, pull and constraint;
- :class:`ImpactsResult`: every parameter's impact, the groups and the POI's error breakdown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from .._io import as_float
from .._summary import markdown_repr, result_dict, short_repr

__all__ = ["ImpactsResult", "ParameterImpact", "Shift"]


class Shift(NamedTuple):
    """POI shifts with a parameter held one σ up and one σ down (cabinetry's order).

    Attributes:
        up: Δ POI with θ held at θ̂ + σ.
        down: Δ POI with θ held at θ̂ − σ.
    """

    up: float
    down: float

    def to_json(self) -> dict[str, float | None]:
        """``{"up": Δup, "down": Δdown}`` (a failed shifted fit is ``null``)."""
        return {"up": _num(self.up), "down": _num(self.down)}

    @property
    def size(self) -> float:
        """½(|Δup| + |Δdown|) (a failed shift, NaN, counts 0)."""
        return 0.5 * sum(abs(v) for v in (self.up, self.down) if math.isfinite(v))


class ParameterImpact(NamedTuple):
    """The impact of one free parameter (a nuisance or a normfactor) on the POI.

    Attributes:
        parameter: its label.
        modifier: its modifier type.
        group: the group it is counted in.
        bestfit: θ̂.
        prefit_sigma: σ_prefit (the constraint's width); None for an unconstrained parameter.
        postfit_sigma: σ_postfit (Hesse).
        prefit: POI shifts with θ held at θ̂ ± σ_prefit; None if unconstrained.
        postfit: POI shifts with θ held at θ̂ ± σ_postfit.
        pull: (θ̂ − θ₀)/σ_prefit; None if unconstrained.
        constraint: σ_postfit/σ_prefit; None if unconstrained.
    """

    parameter: str
    modifier: str
    group: str
    bestfit: float
    prefit_sigma: float | None
    postfit_sigma: float
    prefit: Shift | None
    postfit: Shift
    pull: float | None
    constraint: float | None

    @property
    def constrained(self) -> bool:
        """Whether the parameter has a constraint term (else a free normfactor)."""
        return self.prefit_sigma is not None

    @property
    def size(self) -> float:
        """The ranking key: ½(|Δdown| + |Δup|) post-fit."""
        return self.postfit.size


class ImpactsResult(NamedTuple):
    """Impacts of every free parameter but the POI on the POI, sorted by post-fit size.

    Attributes:
        poi: the parameter of interest.
        poi_bestfit: its best fit.
        poi_total: its Hesse error (all parameters free).
        poi_stat: its Hesse error with every constrained parameter held at its best fit.
        poi_syst: √(total² − stat²).
        impacts: the per-parameter impacts, largest post-fit first.
        groups: group → ``{"parameters", "prefit", "postfit", "hesse"}``.
        n_fits: shifted fits made.
        n_engine_calls: engine calls they took.
        failed: the shifted fits that did not converge (their shifts are NaN, ``null``), with why.
    """

    poi: str
    poi_bestfit: float
    poi_total: float
    poi_stat: float
    poi_syst: float
    impacts: tuple[ParameterImpact, ...]
    groups: dict[str, dict[str, Any]]
    n_fits: int
    n_engine_calls: int
    failed: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """What the command line prints for this result (its JSON, read back)."""
        return result_dict(self)

    def __repr__(self) -> str:
        return short_repr(self)

    def _repr_markdown_(self) -> str:
        return markdown_repr(self)

    def to_json(self) -> dict[str, Any]:
        """``{"poi", "poi_bestfit", "uncertainty": {"total", "stat", "syst"}, "impacts": […], "groups": {…}, "n_fits", "n_engine_calls"}``."""
        rows = []
        for imp in self.impacts:
            row = imp._asdict()
            row["prefit"] = imp.prefit.to_json() if imp.prefit is not None else None
            row["postfit"] = imp.postfit.to_json()
            row["constrained"] = imp.constrained
            rows.append(row)
        return {
            "poi": self.poi,
            "poi_bestfit": float(self.poi_bestfit),
            "uncertainty": {
                "total": float(self.poi_total),
                "stat": float(self.poi_stat),
                "syst": float(self.poi_syst),
            },
            "impacts": rows,
            "groups": {
                g: {**v, "parameters": list(v["parameters"])} for g, v in self.groups.items()
            },
            "n_fits": int(self.n_fits),
            "n_engine_calls": int(self.n_engine_calls),
            "failed": list(self.failed),
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ImpactsResult:
        """Inverse of :meth:`to_json`."""

        def shift(v: Any) -> Shift | None:
            return None if v is None else Shift(as_float(v["up"]), as_float(v["down"]))

        fields = set(ParameterImpact._fields)
        imps = tuple(
            ParameterImpact(
                **{
                    **{k: v for k, v in r.items() if k in fields},
                    "prefit": shift(r["prefit"]),
                    "postfit": shift(r["postfit"]),
                }
            )
            for r in obj["impacts"]
        )
        unc = obj["uncertainty"]
        return cls(
            poi=obj["poi"],
            poi_bestfit=float(obj["poi_bestfit"]),
            poi_total=float(unc["total"]),
            poi_stat=float(unc["stat"]),
            poi_syst=float(unc["syst"]),
            impacts=imps,
            groups={g: dict(v) for g, v in obj["groups"].items()},
            n_fits=int(obj["n_fits"]),
            n_engine_calls=int(obj["n_engine_calls"]),
            failed=tuple(obj.get("failed", ())),
        )


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None
