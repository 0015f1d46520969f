"""Pre- and post-fit yields per sample, bin and channel, with linearly propagated uncertainties.

The yield of sample s in bin b, ν_sb(θ), comes from the engine
(:func:`~higgs_pyhf.inference.engine.expected_main` of the model with every
other sample's nominal and histosys variations zeroed). Its Jacobian
J = ∂ν/∂θ is taken by central finite differences (step 10⁻⁴ σ of each
parameter, all rows in one batched evaluation) and the uncertainties are
√diag(J C Jᵀ) with the full covariance C:

- *pre-fit*: at the suggested init, C diagonal with the constraint widths
  (σ_prefit of :mod:`.pulls`; unconstrained normfactors carry none);
- *post-fit*: at the best fit, C the fit's covariance (Hesse).

Sums (per channel, all samples) are propagated with their summed Jacobian,
so correlations between bins and samples are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from .._summary import markdown_repr, result_dict, short_repr
from .engine import CompiledModel, expected_main
from .pulls import constraint_widths, fitted_model
from .results import FitResult

__all__ = ["STAGES", "Prediction", "YieldsResult", "covariance", "prediction", "yields"]

STAGES = ("prefit", "postfit")


class Prediction(NamedTuple):
    """The prediction at one stage, per sample and bin, with uncertainties.

    Attributes:
        stage: ``prefit`` or ``postfit``.
        samples: (S, N) yield of each sample in each main bin.
        sample_errors: (S, N) their uncertainties.
        total: (N,) total yield per bin.
        total_errors: (N,) its uncertainty.
        channel_samples: (C, S) yield of each sample in each channel.
        channel_sample_errors: (C, S) their uncertainties.
        channel_total: (C,) total yield per channel.
        channel_total_errors: (C,) its uncertainty.
    """

    stage: str
    samples: np.ndarray
    sample_errors: np.ndarray
    total: np.ndarray
    total_errors: np.ndarray
    channel_samples: np.ndarray
    channel_sample_errors: np.ndarray
    channel_total: np.ndarray
    channel_total_errors: np.ndarray


def covariance(fit_result: FitResult) -> np.ndarray:
    """The fit's covariance matrix (P, P) from its Hesse errors and correlations."""
    sd = np.asarray(fit_result.uncertainty, dtype=float)
    return np.asarray(fit_result.correlation, dtype=float) * np.outer(sd, sd)


def _jacobians(
    cm: CompiledModel, pars: np.ndarray, sigma: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample yields (S, N) and their Jacobians (S, N, P) by central differences."""
    ns, npar = cm.nominal.shape[0], cm.npars
    varies = sigma > 0
    h = np.where(varies, 1e-4 * sigma, 1.0)
    points = np.repeat(pars[None, :], 2 * npar + 1, axis=0)
    points[1 + np.arange(npar), np.arange(npar)] += h
    points[1 + npar + np.arange(npar), np.arange(npar)] -= h
    nu = np.empty((ns, cm.nmain))
    jac = np.zeros((ns, cm.nmain, npar))
    for s in range(ns):
        keep = np.zeros((ns, 1))
        keep[s] = 1.0
        cs = cm._replace(
            nominal=cm.nominal * keep,
            hist_up=cm.hist_up * keep,
            hist_dn=cm.hist_dn * keep,
        )
        e = expected_main(cs, points)
        nu[s] = e[0]
        jac[s] = ((e[1 : 1 + npar] - e[1 + npar :]) / (2.0 * h[:, None])).T
    jac[:, :, ~varies] = 0.0
    return nu, jac


def prediction(
    cm: CompiledModel, pars: Any, cov: Any, channel_bins: tuple[slice, ...], stage: str
) -> Prediction:
    """Yields and uncertainties at ``pars`` with the parameter covariance ``cov``.

    Args:
        cm: the compiled model.
        pars: (P,) the parameter point.
        cov: (P, P) covariance of the parameters.
        channel_bins: the main bins of each channel.
        stage: a name for the stage.
    """
    x = np.asarray(pars, dtype=float)
    c = np.asarray(cov, dtype=float)
    sigma = np.sqrt(np.clip(np.diag(c), 0.0, None))
    nu, jac = _jacobians(cm, x, sigma)

    def err(j: np.ndarray) -> np.ndarray:
        return np.sqrt(np.clip(np.einsum("...p,pq,...q->...", j, c, j), 0.0, None))  # type: ignore[no-any-return]

    ch_nu = np.stack([nu[:, sl].sum(axis=1) for sl in channel_bins])  # (C, S)
    ch_jac = np.stack([jac[:, sl].sum(axis=1) for sl in channel_bins])  # (C, S, P)
    return Prediction(
        stage=stage,
        samples=nu,
        sample_errors=err(jac),
        total=nu.sum(axis=0),
        total_errors=err(jac.sum(axis=0)),
        channel_samples=ch_nu,
        channel_sample_errors=err(ch_jac),
        channel_total=ch_nu.sum(axis=1),
        channel_total_errors=err(ch_jac.sum(axis=1)),
    )


class YieldsResult(NamedTuple):
    """Pre- and post-fit yields per sample and channel, and the data.

    Attributes:
        channels: channel names (pyhf order).
        samples: sample names (pyhf order).
        channel_bins: (C, 2) first and one-past-last main bin of each channel.
        data: (N,) observed counts per main bin.
        prefit: the pre-fit :class:`Prediction`.
        postfit: the post-fit :class:`Prediction`.
    """

    channels: tuple[str, ...]
    samples: tuple[str, ...]
    channel_bins: np.ndarray
    data: np.ndarray
    prefit: Prediction
    postfit: Prediction

    @property
    def channel_data(self) -> np.ndarray:
        """(C,) observed events per channel."""
        return np.array([self.data[a:b].sum() for a, b in self.channel_bins])

    def table(self) -> dict[str, Any]:
        """``{channel: {"data": n, "prefit"/"postfit": {sample|"total": [yield, error]}}}``."""
        out: dict[str, Any] = {}
        for c, ch in enumerate(self.channels):
            row: dict[str, Any] = {"data": float(self.channel_data[c])}
            for p in (self.prefit, self.postfit):
                row[p.stage] = {
                    s: [float(p.channel_samples[c, k]), float(p.channel_sample_errors[c, k])]
                    for k, s in enumerate(self.samples)
                }
                row[p.stage]["total"] = [
                    float(p.channel_total[c]),
                    float(p.channel_total_errors[c]),
                ]
            out[ch] = row
        return out

    def _rows(self) -> list[tuple[str, list[str]]]:
        head = [f"{ch} {st}" for ch in self.channels for st in ("pre-fit", "post-fit")]
        rows: list[tuple[str, list[str]]] = [("", head)]
        t = self.table()
        for name in (*self.samples, "total"):
            cells = []
            for ch in self.channels:
                for st in STAGES:
                    v, e = t[ch][st][name]
                    cells.append(f"{v:.2f} ± {e:.2f}")
            rows.append((name, cells))
        rows.append(("data", [f"{t[ch]['data']:.0f}" for ch in self.channels for _ in STAGES]))
        return rows

    def to_markdown(self) -> str:
        """The table in Markdown: one row per sample (and total, data), columns channel × stage."""
        rows = self._rows()
        lines = ["| sample | " + " | ".join(rows[0][1]) + " |"]
        lines.append("|---|" + "---:|" * len(rows[0][1]))
        lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows[1:]]
        return "\n".join(lines) + "\n"

    def to_latex(self) -> str:
        """The table as a LaTeX ``tabular`` (booktabs)."""
        rows = self._rows()

        def tex(s: str) -> str:
            return s.replace("_", r"\_").replace("±", r"$\pm$")

        ncol = len(rows[0][1])
        lines = [r"\begin{tabular}{l" + "r" * ncol + "}", r"\toprule"]
        lines.append("Sample & " + " & ".join(tex(h) for h in rows[0][1]) + r" \\")
        lines.append(r"\midrule")
        for name, cells in rows[1:]:
            if name in ("total", "data"):
                lines.append(r"\midrule")
            lines.append(tex(name) + " & " + " & ".join(tex(c) for c in cells) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        return short_repr(self)

    def _repr_markdown_(self) -> str:
        return markdown_repr(self)

    def to_dict(self) -> dict[str, Any]:
        """The ``yields`` command's JSON: :meth:`to_json` and the Markdown table."""
        return {**result_dict(self), "markdown": self.to_markdown()}

    def to_json(self) -> dict[str, Any]:
        """``{"channels", "samples", "channel_bins", "data", "table": {…}, "prefit"/"postfit": {per-bin arrays}}``."""

        def arrays(p: Prediction) -> dict[str, Any]:
            return {
                k: (v if isinstance(v, str) else np.asarray(v).tolist())
                for k, v in p._asdict().items()
            }

        return {
            "channels": list(self.channels),
            "samples": list(self.samples),
            "channel_bins": np.asarray(self.channel_bins).tolist(),
            "data": np.asarray(self.data, dtype=float).tolist(),
            "table": self.table(),
            "prefit": arrays(self.prefit),
            "postfit": arrays(self.postfit),
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> YieldsResult:
        """Inverse of :meth:`to_json`."""

        def pred(o: Mapping[str, Any]) -> Prediction:
            arrays = {k: np.asarray(o[k], dtype=float) for k in Prediction._fields[1:]}
            return Prediction(str(o["stage"]), **arrays)

        return cls(
            channels=tuple(obj["channels"]),
            samples=tuple(obj["samples"]),
            channel_bins=np.asarray(obj["channel_bins"], dtype=int),
            data=np.asarray(obj["data"], dtype=float),
            prefit=pred(obj["prefit"]),
            postfit=pred(obj["postfit"]),
        )


def yields(model: Any, data: Any, *, fit_result: FitResult | None = None) -> YieldsResult:
    """Pre- and post-fit yields with uncertainties per sample, bin and channel.

    Args:
        model: the pyhf model.
        data: the data set (main data then auxiliary data).
        fit_result: the best fit (made if not given).

    Returns:
        The yields (tables with :meth:`YieldsResult.to_markdown` / ``to_latex``).
    """
    cm, res = fitted_model(model, data, fit_result)
    d = np.asarray(data, dtype=float)
    cfg = model.config
    bins = tuple(cfg.channel_slices[c] for c in cfg.channels)
    w = constraint_widths(cm, d)
    pre_cov = np.zeros((cm.npars, cm.npars))
    pre_cov[w.indices, w.indices] = w.sigma**2
    return YieldsResult(
        channels=tuple(cfg.channels),
        samples=tuple(cfg.samples),
        channel_bins=np.array([[sl.start, sl.stop] for sl in bins], dtype=int),
        data=d[: cm.nmain],
        prefit=prediction(cm, cm.init, pre_cov, bins, "prefit"),
        postfit=prediction(cm, res.bestfit, covariance(res), bins, "postfit"),
    )
