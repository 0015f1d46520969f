"""The Python face of the command line: one function per command, on any workspace.

Each function takes a workspace (a spec dict from :func:`load_workspace` or
:func:`~higgs_pyhf.build.hist_workspace.workspace_from_hists`, the path of a
workspace file, a ``pyhf.Workspace`` or a ``(model, data)`` pair) and the
command's options as keywords, and returns the result whose ``to_dict()``
is what the command prints::

    ws = higgs_pyhf.load_workspace("ws.json")
    r = higgs_pyhf.fit(ws)          # r.to_dict() == JSON of `python -m higgs_pyhf fit ws.json`
    r.parameters["mu"]["value"]

The defaults are the command's defaults.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ._summary import markdown_repr, result_dict, short_repr
from .errors import FitError

if TYPE_CHECKING:
    from .inference.limits import UpperLimitResult
    from .inference.pulls import CorrelationResult, PullsResult
    from .inference.results import FitResult, Scan1DResult, Scan2DResult
    from .inference.significance import CLsResult, DiscoveryResult
    from .inference.yields import YieldsResult

__all__ = [
    "SignificanceResult",
    "cls",
    "contour",
    "correlations",
    "coverage_toys",
    "fit",
    "gof",
    "gof_toys",
    "hypotest_toys",
    "impacts",
    "load_workspace",
    "model_and_data",
    "pulls",
    "scan",
    "significance",
    "toy_contour",
    "toy_upper_limit",
    "yields",
]

#: What the functions accept as a workspace.
WorkspaceLike = Any


def load_workspace(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a workspace file; the spec dict (as every command reads it)."""
    from .workspace import load_workspace as _load

    return _load(path)


def model_and_data(ws: WorkspaceLike, measurement: str | None = None) -> tuple[Any, np.ndarray]:
    """The model and the data (main bins, then auxiliary data) of any workspace-like input.

    A ``(model, data)`` pair is passed through; a ``pyhf.Workspace`` gives
    pyhf's model; a specification or a file is validated and read by the
    engine's reader (:func:`higgs_pyhf.workspace.engine_model_and_data`),
    whose model answers pyhf's model interface.
    """
    from .workspace import engine_model_and_data, validate_spec
    from .workspace import load_workspace as _load

    if isinstance(ws, tuple) and len(ws) == 2:
        return ws[0], np.asarray(ws[1], dtype=float)
    pyhf = sys.modules.get("pyhf")  # a pyhf.Workspace exists only once pyhf is imported
    if pyhf is not None and isinstance(ws, pyhf.Workspace):
        model = ws.model(measurement_name=measurement)
        return model, np.asarray(ws.data(model), dtype=float)
    if isinstance(ws, dict):
        validate_spec(ws)
        return engine_model_and_data(ws, measurement=measurement)
    return engine_model_and_data(_load(ws), measurement=measurement, source=os.fspath(ws))


def fit(
    ws: WorkspaceLike,
    *,
    fixed: Mapping[str, float] | None = None,
    init: Mapping[str, float] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    minos: Sequence[str] = (),
) -> FitResult:
    """Maximum-likelihood fit (the ``fit`` command): values, Hesse and Minos errors, correlations."""
    from .inference.fit import fit as _fit

    model, data = model_and_data(ws)
    return _fit(model, data, fixed=fixed or {}, init=init or {}, bounds=bounds or {}, minos=minos)


def scan(
    ws: WorkspaceLike,
    parameter: str | None = None,
    *,
    n_points: int = 101,
    bounds: tuple[float, float] | None = None,
    conditional: bool = False,
    level: float = 1.0,
) -> Scan1DResult:
    """1D Δ(−2lnL) scan of ``parameter`` (default: the POI) with its interval (``scan``)."""
    from .inference.scan import scan_1d

    model, data = model_and_data(ws)
    return scan_1d(
        model,
        data,
        parameter or str(model.config.poi_name),
        n_points=n_points,
        bounds=bounds,
        kind="conditional" if conditional else "profile",
        level=level,
    )


def default_pair(model: Any) -> tuple[str, str]:
    """The POI and the first other free normfactor (the report's s_s, s_b).

    Raises:
        FitError: if the model has no other free normfactor.
    """
    from .report.model_plots import free_normfactors

    poi = str(model.config.poi_name)
    others = [n for n in free_normfactors(model) if n != poi]
    if not others:
        msg = (
            f"the model has no free normfactor besides the POI {poi!r}, so there is no default "
            "pair: give two parameters with --parameters X Y (e.g. the POI and a nuisance "
            "parameter, NAME or NAME[i])"
        )
        raise FitError(msg)
    return poi, others[0]


def contour(
    ws: WorkspaceLike,
    parameters: tuple[str, str] | None = None,
    *,
    n_points: int = 101,
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    conditional: bool = False,
) -> Scan2DResult:
    """2D Δ(−2lnL) grid of two parameters (default: the POI and another free normfactor)."""
    from .inference.scan import scan_2d

    model, data = model_and_data(ws)
    return scan_2d(
        model,
        data,
        parameters or default_pair(model),
        n_points=(n_points, n_points),
        bounds=(x_range, y_range),
        kind="conditional" if conditional else "profile",
    )


class SignificanceResult(NamedTuple):
    """Discovery, CLs at one POI value and the CLs upper limit (the ``significance`` command).

    Every part that was computed is kept: a part that failed is None with its
    reason in ``errors``; ``failed`` lists what the command reports as not
    done (a failed part, fits that did not converge, an observed limit that
    does not cross the level in the scanned range).

    Attributes:
        discovery: p0 and Z of POI = 0 (None if it failed).
        cls: CLs at the tested POI value (None if it failed).
        upper_limit: the CLs upper limit with its expected band (None if it
            failed or was not asked for).
        engine: how it was computed.
        notes: remarks on the model (constraints where pyhf's numerics fail).
        errors: part → why it failed.
        failed: what did not succeed, one line each.
        timing: ``{"fit_cpu_s", "fit_wall_s"}``, what the fits cost (without
            loading the workspace); None if not measured.
    """

    discovery: DiscoveryResult | None
    cls: CLsResult | None
    upper_limit: UpperLimitResult | None
    engine: str = "asymptotic formulae on batched engine fits"
    notes: tuple[str, ...] = ()
    errors: Mapping[str, str] = {}
    failed: tuple[str, ...] = ()
    timing: Mapping[str, float] | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"engine", "notes", "discovery", "cls", "upper_limit", "timing"}``.

        A failed part is ``{"error": why}``; ``timing`` only if it was measured.
        """
        out: dict[str, Any] = {"engine": self.engine, "notes": list(self.notes)}
        for name in ("discovery", "cls", "upper_limit"):
            part = getattr(self, name)
            if part is not None:
                out[name] = part.to_json()
            elif name in self.errors:
                out[name] = {"error": self.errors[name]}
        if self.timing is not None:
            out["timing"] = dict(self.timing)
        return out

    def to_dict(self) -> dict[str, Any]:
        """What the command line prints for this result (its JSON, read back)."""
        return result_dict(self)

    def __repr__(self) -> str:
        return short_repr(self)

    def _repr_markdown_(self) -> str:
        return markdown_repr(self)


def significance(
    ws: WorkspaceLike,
    *,
    poi_value: float = 1.0,
    level: float = 0.05,
    scan: tuple[float, float, int] | None = None,
    no_limit: bool = False,
) -> SignificanceResult:
    """Discovery p0 and Z, CLs at ``poi_value`` and the CLs upper limit (``significance``).

    Raises:
        FitError: if the POI cannot be tested at all (unknown, fixed, without effect).
    """
    from .inference.engine import compile_model, precision_notes
    from .inference.limits import upper_limit
    from .inference.significance import check_poi, discovery
    from .inference.significance import cls as _cls
    from .inference.timing import stopwatch

    model, data = model_and_data(ws)
    clock = stopwatch()
    check_poi(model, data)
    grid = None
    if scan is not None:
        lo, hi, n = scan
        if n < 2 or not hi > lo:
            msg = f"--scan needs LO < HI and N >= 2, got {scan}"
            raise FitError(msg)
        grid = np.linspace(lo, hi, n)
    try:
        notes = tuple(precision_notes(compile_model(model)))
    except FitError:
        notes = ()
    errors: dict[str, str] = {}
    failed: list[str] = []

    def part(name: str, compute: Any) -> Any:
        try:
            res = compute()
        except FitError as err:
            errors[name] = str(err)
            failed.append(f"{name}: {err}")
            return None
        if res.status != "converged":
            failed.append(f"{name}: {res.status}")
        return res

    found = part("discovery", lambda: discovery(model, data))
    at_poi = part("cls", lambda: _cls(model, data, poi_value=poi_value))
    limit = (
        None
        if no_limit
        else part(
            "upper_limit",
            lambda: upper_limit(model, data, scan=grid, level=level, allow_beyond=True),
        )
    )
    return SignificanceResult(
        found, at_poi, limit, notes=notes, errors=errors, failed=tuple(failed), timing=clock()
    )


def cls(ws: WorkspaceLike, *, test_poi: float = 1.0, test_stat: str = "qtilde") -> Any:
    """CLs of ``POI = test_poi`` as ``pyhf cls`` computes it (the ``cls`` command)."""
    from .inference.cls import hypotest

    model, data = model_and_data(ws)
    return hypotest(model, data, test_poi=test_poi, test_stat=test_stat)


def gof(ws: WorkspaceLike) -> Any:
    """Pearson χ² before/after the fit and the saturated-model test (``gof``)."""
    from .inference.gof import goodness_of_fit

    model, data = model_and_data(ws)
    return goodness_of_fit(model, data)


def pulls(ws: WorkspaceLike) -> PullsResult:
    """Post-fit pulls and constraints of the nuisance parameters (``pulls``)."""
    from .inference.fit import fit as _fit
    from .inference.pulls import pulls as _pulls

    model, data = model_and_data(ws)
    return _pulls(model, data, fit_result=_fit(model, data))


def impacts(
    ws: WorkspaceLike, *, poi: str | None = None, groups: Mapping[str, str] | None = None
) -> Any:
    """Impacts on the POI of every other free parameter, ranked (``impacts``)."""
    from .inference.fit import fit as _fit
    from .inference.impacts import impacts as _impacts

    model, data = model_and_data(ws)
    return _impacts(model, data, fit_result=_fit(model, data), poi=poi, groups=groups or None)


def correlations(ws: WorkspaceLike, *, threshold: float = 0.1) -> CorrelationResult:
    """The post-fit correlation matrix pruned at ``threshold`` (``correlations``)."""
    from .inference.fit import fit as _fit
    from .inference.pulls import correlations as _correlations

    model, data = model_and_data(ws)
    return _correlations(_fit(model, data), threshold=threshold)


def yields(ws: WorkspaceLike) -> YieldsResult:
    """Pre- and post-fit yields per sample and channel (``yields``)."""
    from .inference.fit import fit as _fit
    from .inference.yields import yields as _yields

    model, data = model_and_data(ws)
    return _yields(model, data, fit_result=_fit(model, data))


def gof_toys(ws: WorkspaceLike, **options: Any) -> Any:
    """Toy distribution of the GoF statistic and the data's toy p-value (``toys gof``)."""
    from .inference.toys import gof_toys as _gof_toys

    return _gof_toys(*model_and_data(ws), **options)


def coverage_toys(ws: WorkspaceLike, **options: Any) -> Any:
    """Coverage f(d) and the 68.27% critical value (``toys coverage``)."""
    from .inference.toys import coverage_toys as _coverage_toys

    return _coverage_toys(*model_and_data(ws), **options)


def hypotest_toys(ws: WorkspaceLike, **options: Any) -> Any:
    """Toy CLs and toy p0 beside the asymptotic values (``toys hypotest``)."""
    from .inference.toys import hypotest_toys as _hypotest_toys

    return _hypotest_toys(*model_and_data(ws), **options)


def toy_upper_limit(ws: WorkspaceLike, poi_values: Any, **options: Any) -> Any:
    """Toy-based CLs upper limit with its toy expected band (``toys limit``)."""
    from .inference.toys import toy_upper_limit as _toy_upper_limit

    return _toy_upper_limit(*model_and_data(ws), poi_values, **options)


def toy_contour(ws: WorkspaceLike, parameters: tuple[str, str], **options: Any) -> Any:
    """Toy-calibrated 68.27%/95% regions of two parameters (``toys contour``)."""
    from .inference.toys import toy_contour as _toy_contour

    return _toy_contour(*model_and_data(ws), parameters, **options)
