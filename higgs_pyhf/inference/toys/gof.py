"""Toy goodness of fit: the distribution of a GoF statistic in toys from the fitted model.

Two modes:

- ``refit`` (default): each toy is fitted like the data, and its statistic
  at its own best fit is compared with the data's statistic at the data's
  best fit — the consistent choice, and the only one with the asymptotic
  χ²(nbins − free unconstrained parameters);
- ``fixed`` (the seed report's §2.5): the statistic of each toy against the
  means it was drawn from, without refitting (it follows ≈ χ²(nbins), so
  comparing it with the data's *post-fit* value is biased towards large
  p-values).

Statistics: ``likelihood`` (−2 ln λ_saturated, any model, the engine fits),
``pearson`` and ``neyman`` (models whose free parameters are normfactors).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Unpack

import numpy as np
from scipy import stats

from ..._io import jsonable
from ..._summary import markdown_repr, result_dict, short_repr
from ...errors import FitError
from ..chi2grid import neyman_chi2, pearson_chi2
from ..engine import expected_main
from .fits import (
    ToyModel,
    check_statistic,
    fit_data,
    fit_toys,
    n_unconstrained,
    saturated_deviance,
    toy_model,
)
from .runner import RunOptions, ToyDraws, run_at
from .sampling import DEFAULT_BLOCK_SIZE, check_sampling
from .summary import fraction

__all__ = ["GOF_MODES", "GofResult", "gof_toys"]

GOF_MODES = ("refit", "fixed")


class GofResult(NamedTuple):
    """Toy goodness of fit.

    Attributes:
        statistic: ``pearson``, ``neyman`` or ``likelihood`` (−2lnλ_saturated).
        mode: ``refit`` (each toy refitted) or ``fixed`` (the report's: the
            statistic against the generating means, no refit).
        observed: the statistic of the observed data (at its best fit).
        toy_values: the statistic of each successful toy.
        ndof: degrees of freedom of the asymptotic χ² (nbins − free
            unconstrained parameters for ``refit``, nbins for ``fixed``).
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

    def toy_summary(self, bins: int = 200) -> dict[str, Any]:
        """Size, mean, quantiles and a histogram of the toy values (what the JSON keeps)."""
        v = np.asarray(self.toy_values, dtype=float)
        if v.size == 0:
            return {"n": 0}
        hi = float(max(v.max(), self.observed)) * 1.0001 + 1e-12
        counts, edges = np.histogram(v, bins=bins, range=(0.0, hi))
        qs = (0.01, 0.05, 0.16, 0.5, 0.84, 0.95, 0.99)
        return {
            "n": int(v.size),
            "mean": float(v.mean()),
            "std": float(v.std()),
            "quantiles": {str(q): float(x) for q, x in zip(qs, np.quantile(v, qs), strict=True)},
            "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
        }

    def to_dict(self) -> dict[str, Any]:
        """What the command line prints for this result (its JSON, read back)."""
        return result_dict(self)

    def __repr__(self) -> str:
        return short_repr(self)

    def _repr_markdown_(self) -> str:
        return markdown_repr(self)

    def to_json(self, *, include_toys: bool = False) -> dict[str, Any]:
        """JSON-serialisable form: a summary of the toys (their values only if asked)."""
        d = self._asdict()
        d.pop("toy_values")
        d["toy_summary"] = self.toy_summary()
        if include_toys:
            d["toy_values"] = self.toy_values
        return jsonable(d)  # type: ignore[no-any-return]

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> GofResult:
        """Inverse of :meth:`to_json`.

        Without ``toy_values`` in ``obj`` the toys are rebuilt at the
        resolution of the summary histogram (bin centres), enough to redraw
        the figure.
        """
        d = {k: v for k, v in obj.items() if k in cls._fields}
        if "toy_values" in obj:
            d["toy_values"] = np.asarray(obj["toy_values"], dtype=float)
        else:
            h = obj.get("toy_summary", {}).get("histogram", {"edges": [0.0], "counts": []})
            e = np.asarray(h["edges"], dtype=float)
            d["toy_values"] = np.repeat(0.5 * (e[1:] + e[:-1]), np.asarray(h["counts"], dtype=int))
        return cls(**d)


def _statistic(tm: ToyModel, statistic: str, data: np.ndarray, pars: np.ndarray) -> np.ndarray:
    """The GoF statistic of data sets [m, N + A] at parameters [m, P] (or [P])."""
    if statistic == "likelihood":
        return saturated_deviance(tm.cm, pars, data)
    nu = expected_main(tm.cm, np.atleast_2d(pars))
    n = data[:, : tm.cm.nmain]
    return pearson_chi2(n, nu) if statistic == "pearson" else neyman_chi2(n, nu)


def _block_gof(tm: ToyModel, toys: np.ndarray, p: dict[str, Any]) -> dict[str, np.ndarray]:
    if p["mode"] == "fixed":
        v = _statistic(tm, p["statistic"], toys, p["pars"])
        return {"value": v, "converged": np.isfinite(v)}
    r = fit_toys(tm, toys, statistic=p["statistic"], init=p["pars"])
    v = _statistic(tm, p["statistic"], toys, r.bestfit)
    ok = r.converged & np.isfinite(v)
    return {"value": np.where(ok, v, np.nan), "converged": ok}


def gof_toys(
    model: Any,
    data: Any,
    *,
    ntoys: int = 10_000,
    seed: int = 0,
    statistic: str = "likelihood",
    mode: str = "refit",
    sampling: str = "poisson",
    negative: str = "keep",
    aux: str = "sample",
    block_size: int = DEFAULT_BLOCK_SIZE,
    **run: Unpack[RunOptions],
) -> GofResult:
    """Distribution of the GoF statistic in toys from the fitted model and the data's toy p-value.

    The model is first fitted to ``data`` with ``statistic``; toys are drawn
    around that fitted model.

    Args:
        model: pyhf model.
        data: observed main data followed by auxdata.
        ntoys: number of toys.
        seed: seed.
        statistic: ``likelihood``, ``pearson`` or ``neyman``.
        mode: ``refit`` or ``fixed`` (see :class:`GofResult`).
        sampling: ``poisson`` or ``gaussian``.
        negative: ``keep`` or ``clip`` negative Gaussian toys.
        aux: ``sample`` or ``fixed`` auxiliary data.
        block_size: toys per seeding block.
        run: how the toys are run (:class:`~.runner.RunOptions`: workers, pool, …).

    Returns:
        The :class:`GofResult`.
    """
    check_sampling(sampling, negative, aux)
    if mode not in GOF_MODES:
        msg = f"mode must be one of {GOF_MODES}, got {mode!r}"
        raise FitError(msg)
    check_statistic(statistic)
    tm = toy_model(model)
    d = np.asarray(data, dtype=float)
    pars, _ = fit_data(tm, d, statistic)
    observed = float(_statistic(tm, statistic, d[None, :], pars)[0])
    nbins = tm.cm.nmain
    ndof = nbins - n_unconstrained(tm) if mode == "refit" else nbins
    draws = ToyDraws(ntoys, seed, sampling, negative, aux, block_size)
    payload = {"mode": mode, "statistic": statistic, "pars": pars}
    out = run_at(_block_gof, tm, pars, payload=payload, **draws._asdict(), **run)
    ok = out["converged"]
    values = out["value"][ok]
    p_value, p_value_error = fraction(int(np.sum(values >= observed)), int(values.size))
    return GofResult(
        statistic=statistic,
        mode=mode,
        observed=observed,
        toy_values=values,
        ndof=int(ndof),
        p_value=p_value,
        p_value_error=p_value_error,
        p_value_asymptotic=float(stats.chi2.sf(observed, ndof)),
        n_failed=int(ok.size - ok.sum()),
        fitted={lab: float(v) for lab, v in zip(tm.labels, pars, strict=True)},
        settings=draws.settings(
            engine="batched HistFactory engine"
            if statistic == "likelihood"
            else "batched chi2 minimizer"
        ),
    )
