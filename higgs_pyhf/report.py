"""The full inference report of a workspace: numbers, tables and figures in one directory.

:func:`make_report` runs every inference stage on a workspace — the
maximum-likelihood fit (with Minos), 1D profile and conditional scans of
``s_s`` and ``s_b``, the 2D profile scan, the seed report's grid χ² method,
the method comparison, goodness of fit, discovery significance and CLs
limits — and writes

- ``DIR/results.json``: every result's ``to_json()`` (deterministic JSON),
- ``DIR/report.md``: a talk-ready Markdown summary with tables and the
  embedded figures,
- ``DIR/*.png``: the figures (see :func:`make_plots`).

A stage whose module is not available, or that fails with a
:class:`~higgs_pyhf.errors.HiggsPyhfError` on this workspace, is skipped
with a note in the report (and in ``results.json`` under ``skipped``)
instead of aborting the whole report.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from . import _io
from .errors import HiggsPyhfError
from .plotting import fits as fitplots
from .plotting._style import GENERATED_LABEL, save_figure, style_context
from .workspace import load_workspace, model_and_data

__all__ = [
    "PLOT_KINDS",
    "ReportResult",
    "make_plots",
    "make_report",
]

log = logging.getLogger(__name__)

#: The figure groups :func:`make_plots` can draw.
PLOT_KINDS = ("prefit", "postfit", "scan", "contour")
#: The two normfactors of the model.
SIGNAL_PAR = "s_s"
BACKGROUND_PAR = "s_b"


class ReportResult(NamedTuple):
    """What :func:`make_report` wrote.

    Attributes:
        report: path of ``report.md``.
        results: path of ``results.json``.
        figures: figure name → PNG path.
        skipped: section name → reason, for the sections that were skipped.
        seconds: wall-clock time of the whole report.
    """

    report: Path
    results: Path
    figures: dict[str, Path]
    skipped: dict[str, str]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable summary (paths as strings)."""
        return {
            "report": str(self.report),
            "results": str(self.results),
            "figures": {k: str(v) for k, v in sorted(self.figures.items())},
            "skipped": dict(sorted(self.skipped.items())),
            "seconds": round(float(self.seconds), 3),
        }


# --------------------------------------------------------------------------- stage runner


class _Stages:
    """Runs optional stages, collecting results and the reasons of skipped ones."""

    def __init__(self) -> None:
        self.results: dict[str, Any] = {}
        self.skipped: dict[str, str] = {}
        self.timing: dict[str, float] = {}

    def run(self, name: str, func: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        try:
            out = func()
        except ImportError as err:
            # a stage whose module/function is not part of this installation
            reason = f"not available in this installation ({type(err).__name__}: {err})"
            log.warning("report: skipping %s: %s", name, reason)
            self.skipped[name] = reason
            return None
        except HiggsPyhfError as err:
            reason = " ".join(str(err).split())
            log.warning("report: skipping %s: %s", name, reason)
            self.skipped[name] = reason
            return None
        self.timing[name] = time.perf_counter() - t0
        log.info("report: %s done in %.2f s", name, self.timing[name])
        if out is not None:
            self.results[name] = out
        return out


def _module(name: str) -> Any:
    return importlib.import_module(f"higgs_pyhf.inference.{name}")


def _function(module: str, name: str) -> Any:
    """``higgs_pyhf.inference.<module>.<name>``; ImportError if either is missing."""
    func = getattr(_module(module), name, None)
    if func is None:
        msg = f"higgs_pyhf.inference.{module} has no {name!r}"
        raise ImportError(msg)
    return func


def _jsonable(obj: Any) -> Any:
    """``to_json()`` of results, recursively through dicts/lists; numpy → Python."""
    if hasattr(obj, "to_json"):
        return obj.to_json()
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj


# --------------------------------------------------------------------------- inference stages


def _fit(model: Any, data: Any) -> Any:
    return _function("fit", "fit")(model, data, minos=(SIGNAL_PAR, BACKGROUND_PAR))


def _scans_1d(model: Any, data: Any, n_points: int = 101) -> dict[str, Any]:
    scan_1d = _function("scan", "scan_1d")
    out: dict[str, Any] = {}
    for par in (SIGNAL_PAR, BACKGROUND_PAR):
        for kind in ("profile", "conditional"):
            out[f"{par}_{kind}"] = scan_1d(model, data, par, kind=kind, n_points=n_points)
    return out


def _scan_2d(model: Any, data: Any, n_points: tuple[int, int] = (101, 101)) -> Any:
    scan_2d = _function("scan", "scan_2d")
    return scan_2d(model, data, (SIGNAL_PAR, BACKGROUND_PAR), kind="profile", n_points=n_points)


# --------------------------------------------------------------------------- figures


def _figure_paths(outdir: Path, kinds: Sequence[str]) -> dict[str, Path]:
    names: dict[str, str] = {
        "prefit": "prefit.png",
        "postfit": "postfit.png",
        "scan_s_s": "scan_s_s.png",
        "scan_s_b": "scan_s_b.png",
        "contour_likelihood": "contour_likelihood.png",
        "contour_chi2grid": "contour_chi2grid.png",
    }
    groups = {
        "prefit": ["prefit"],
        "postfit": ["postfit"],
        "scan": ["scan_s_s", "scan_s_b"],
        "contour": ["contour_likelihood", "contour_chi2grid"],
    }
    return {k: outdir / names[k] for kind in kinds for k in groups[kind]}


def _draw_figures(
    outdir: Path,
    kinds: Sequence[str],
    templates: fitplots.StackTemplates,
    results: dict[str, Any],
    skipped: dict[str, str],
) -> dict[str, Path]:
    """Draw and save the requested figures from the available results."""
    import matplotlib.figure

    gen = templates.generated
    t = templates
    written: dict[str, Path] = {}
    targets = _figure_paths(outdir, kinds)

    def save(name: str, fig: matplotlib.figure.Figure) -> None:
        with style_context():
            written[name] = save_figure(fig, targets[name])

    if "prefit" in targets:
        save(
            "prefit",
            fitplots.plot_stacked(
                t.edges,
                t.signal,
                t.background,
                t.data,
                title="Pre-fit",
                generated=gen,
                lumi_fb=t.lumi_fb,
                xlabel=t.xlabel,
                data_label=t.data_label,
            ),
        )
    fit = results.get("fit")
    if "postfit" in targets:
        if fit is None:
            skipped.setdefault("figure postfit", "no fit result")
        else:
            save(
                "postfit",
                fitplots.plot_postfit(
                    t.edges,
                    t.signal,
                    t.background,
                    t.data,
                    fit,
                    generated=gen,
                    lumi_fb=t.lumi_fb,
                    xlabel=t.xlabel,
                    data_label=t.data_label,
                ),
            )
    scans = results.get("scans_1d") or {}
    grid = _grid_scans(results.get("chi2grid"))
    for par in (SIGNAL_PAR, BACKGROUND_PAR):
        name = f"scan_{par}"
        if name not in targets:
            continue
        curves = [scans[k] for k in (f"{par}_profile", f"{par}_conditional") if k in scans]
        labels = ["Likelihood, profiled", "Likelihood, conditional"][: len(curves)]
        g = grid.get(f"scan_{par}")
        if g is not None:
            curves.append(g)
            other = BACKGROUND_PAR if par == SIGNAL_PAR else SIGNAL_PAR
            labels.append(rf"Report grid $\chi^2$ (${other.replace('_', '_{')}}}$ = 1 fixed)")
        if not curves:
            skipped.setdefault(f"figure {name}", "no 1D scan result")
            continue
        save(name, fitplots.plot_scan_1d(curves, labels=labels, generated=gen))
    g2 = grid.get("scan_2d")
    s2 = results.get("scan_2d")
    if "contour_likelihood" in targets:
        if s2 is None:
            skipped.setdefault("figure contour_likelihood", "no 2D likelihood scan")
        else:
            others = [g2] if g2 is not None else []
            save(
                "contour_likelihood",
                fitplots.plot_scan_2d(
                    s2,
                    other_contours=others,
                    label="Likelihood",
                    other_labels=[r"Report grid $\chi^2$"][: len(others)],
                    generated=gen,
                ),
            )
    if "contour_chi2grid" in targets:
        if g2 is None:
            skipped.setdefault("figure contour_chi2grid", "no report grid chi2 map")
        else:
            save(
                "contour_chi2grid",
                fitplots.plot_scan_2d(g2, label=r"Report grid $\chi^2$", generated=gen),
            )
    return written


def _templates(
    workspace_path: str | os.PathLike[str], spec: dict[str, Any]
) -> fitplots.StackTemplates:
    return fitplots.templates_from_workspace(
        spec, provenance=fitplots.read_provenance(workspace_path)
    )


def make_plots(
    workspace_path: str | os.PathLike[str],
    figdir: str | os.PathLike[str],
    *,
    kinds: Sequence[str] = PLOT_KINDS,
) -> dict[str, Path]:
    """Draw the fit figures of a workspace into ``figdir``.

    Runs only the inference the requested figures need (``prefit``: none;
    ``postfit``: the fit; ``scan``: the 1D scans and the report grid χ²;
    ``contour``: the 2D scan and the report's χ² map).

    Args:
        workspace_path: the workspace JSON file.
        figdir: output directory (created if needed).
        kinds: any of :data:`PLOT_KINDS`.

    Returns:
        Figure name → path of each PNG written.

    Raises:
        ValueError: on an unknown plot kind.
    """
    bad = [k for k in kinds if k not in PLOT_KINDS]
    if bad:
        msg = f"unknown plot kind(s) {bad}; expected some of {list(PLOT_KINDS)}"
        raise ValueError(msg)
    spec = load_workspace(workspace_path)
    templates = _templates(workspace_path, spec)
    model, data = model_and_data(spec)
    stages = _Stages()
    if "postfit" in kinds:
        stages.run("fit", lambda: _fit(model, data))
    if "scan" in kinds:
        stages.run("scans_1d", lambda: _scans_1d(model, data))
    if "contour" in kinds:
        stages.run("scan_2d", lambda: _scan_2d(model, data))
    if "scan" in kinds or "contour" in kinds:
        stages.run("chi2grid", lambda: _chi2grid(spec, templates))
    figures = _draw_figures(Path(figdir), kinds, templates, stages.results, stages.skipped)
    for name, reason in stages.skipped.items():
        log.warning("plot: %s skipped: %s", name, reason)
    return figures


# --------------------------------------------------------------------------- report grid χ² (adapter)


def _chi2grid(spec: dict[str, Any], templates: fitplots.StackTemplates) -> Any:
    """The seed report's grid χ² procedure (:func:`higgs_pyhf.inference.chi2grid.report_method`)."""
    sig, bkg, obs = _function("chi2grid", "templates_from_workspace")(spec)
    return _function("chi2grid", "report_method")(sig, bkg, obs)


def _grid_scans(grid: Any) -> dict[str, Any]:
    """The report grid's Δχ² curves and map as scan results (2D map with 2.30 and 5.99 contours)."""
    if grid is None:
        return {}
    s2 = grid.scan_2d.scan
    return {
        "scan_s_s": grid.s_s_1d.scan,
        "scan_s_b": grid.s_b_1d.scan,
        "scan_2d": s2._replace(levels=(2.30, 5.99)),
    }


# --------------------------------------------------------------------------- Markdown


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "—" if not np.isfinite(v) else f"{v:.4g}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def _fmt_asym(value: float, lo: float, hi: float, digits: int = 3) -> str:
    """``value +hi −lo`` with signed offsets (lo ≤ 0 ≤ hi)."""
    return f"{value:.{digits}f} +{abs(hi):.{digits}f} −{abs(lo):.{digits}f}"


def _fmt_interval(best: float, interval: Sequence[float], digits: int = 3) -> str:
    lo, hi = (float(interval[0]), float(interval[1]))
    lo_s = f"{lo:.{digits}f}" if np.isfinite(lo) else "(below range)"
    hi_s = f"{hi:.{digits}f}" if np.isfinite(hi) else "(above range)"
    return f"{best:.{digits}f} ∈ [{lo_s}, {hi_s}]"


def _intro(
    workspace_path: str | os.PathLike[str],
    spec: dict[str, Any],
    templates: fitplots.StackTemplates,
    model: Any,
) -> str:
    channel = spec["channels"][0]
    measurement = spec["measurements"][0]["name"]
    nbins = len(templates.data)
    edges = templates.edges
    binning = (
        f"{nbins} bins of m4l from {edges[0]:g} to {edges[-1]:g} GeV"
        if templates.edges_known
        else f"{nbins} bins (bin edges unknown: plotted against bin index)"
    )
    if templates.generated:
        source = (
            f"**Generated input** — {GENERATED_LABEL}: pseudo-data drawn from open-data-shaped templates, "
            "so the numbers below test the machinery, not the physics."
        )
    elif templates.data_label == "ATLAS Open Data":
        source = "**ATLAS Open Data** (13 TeV, 4-lepton channel) against the simulated signal and background templates."
    else:
        source = (
            "**Input of unrecorded origin**: no provenance file next to the workspace and no 'generated' in the "
            "measurement name."
        )
    pars = ", ".join(f"`{p}`" for p in model.config.par_order)
    return "\n".join(
        [
            f"# H→ZZ*→4ℓ inference report: `{Path(workspace_path).name}`",
            "",
            f"Workspace `{workspace_path}`, measurement `{measurement}`, channel `{channel['name']}`: "
            f"{binning}, luminosity {templates.lumi_fb:g} fb⁻¹.",
            "",
            source,
            "",
            f"Model: Poisson likelihood of the m4l histogram with the Higgs signal scaled by `{SIGNAL_PAR}` and the "
            f"background by `{BACKGROUND_PAR}` (parameters: {pars}). "
            f"Totals: signal {templates.signal.sum():.2f}, background {templates.background.sum():.2f}, "
            f"observed {templates.data.sum():.0f} events.",
            "",
            "Methods: the maximum-likelihood fit (pyhf + iminuit, Minos errors), profile-likelihood scans "
            "(Δ(−2lnL) = 1 for 1D intervals, 2.30/5.99 for the 2D contours), and the seed report's own method: "
            "a Pearson χ² = Σ(n − ν)²/ν evaluated on a fixed parameter grid.",
        ]
    )


def _fit_section(fit: Any) -> str:
    rows = []
    vectors: dict[str, list[int]] = {}
    for k, lab in enumerate(fit.labels):
        if "[" in lab:  # an element of a vector parameter (staterror γ): summarised below
            vectors.setdefault(lab.split("[")[0], []).append(k)
            continue
        v, e = fit.value(lab), fit.error(lab)
        mi = fit.minos.get(lab)
        rows.append([f"`{lab}`", f"{v:.4f}", f"{e:.4f}", _fmt_asym(v, mi[0], mi[1]) if mi else "—"])
    order = {SIGNAL_PAR: 0, BACKGROUND_PAR: 1}
    rows.sort(key=lambda r: order.get(str(r[0]).strip("`"), 2))
    text = [
        "## Maximum-likelihood fit",
        "",
        _md_table(["parameter", "best fit", "Hesse error", "Minos interval"], rows),
        "",
    ]
    for name, idx in vectors.items():
        vals = np.asarray(fit.bestfit)[idx]
        errs = np.asarray(fit.uncertainty)[idx]
        text.append(
            f"`{name}`: {len(idx)} parameters, best fits in [{vals.min():.4f}, {vals.max():.4f}], "
            f"Hesse errors in [{errs.min():.4f}, {errs.max():.4f}] (all in results.json)."
        )
    text += [
        "",
        f"−2lnL at the minimum: {fit.twice_nll:.4f}; converged: {'yes' if fit.converged else '**no**'}.",
    ]
    if SIGNAL_PAR in fit.labels and BACKGROUND_PAR in fit.labels:
        i, j = fit.labels.index(SIGNAL_PAR), fit.labels.index(BACKGROUND_PAR)
        text.append(
            f"Correlation ρ({SIGNAL_PAR}, {BACKGROUND_PAR}) = {float(fit.correlation[i, j]):+.3f}."
        )
    return "\n".join(text)


def _scans_section(scans: dict[str, Any], scan_2d: Any, grid: dict[str, Any]) -> str:
    rows = []
    for key, s in scans.items():
        lo, hi = s.interval
        rows.append(
            [
                f"`{s.parameter}`",
                s.kind,
                "Poisson likelihood",
                _fmt_interval(s.bestfit, s.interval),
                f"{s.bestfit - lo:.3f}" if np.isfinite(lo) else "—",
                f"{hi - s.bestfit:.3f}" if np.isfinite(hi) else "—",
            ]
        )
        del key
    if grid:
        for par in (SIGNAL_PAR, BACKGROUND_PAR):
            g = grid.get(f"scan_{par}")
            if g is None:
                continue
            lo, hi = g.interval
            rows.append(
                [
                    f"`{par}`",
                    "report grid (other fixed at 1)",
                    "Pearson χ²",
                    _fmt_interval(g.bestfit, g.interval),
                    f"{g.bestfit - lo:.3f}" if np.isfinite(lo) else "—",
                    f"{hi - g.bestfit:.3f}" if np.isfinite(hi) else "—",
                ]
            )
    text = [
        "## Scans",
        "",
        "68.27% intervals from Δ = 1 (interpolated). *Profile*: the other parameter re-fitted at each point; "
        "*conditional*: the other parameter fixed at its global best fit (the report's slices).",
        "",
        _md_table(
            ["parameter", "scan", "statistic", "best fit ∈ interval", "− error", "+ error"], rows
        ),
    ]
    if scan_2d is not None:
        nx, ny = len(scan_2d.x_values), len(scan_2d.y_values)
        text += [
            "",
            f"2D profile scan ({nx} × {ny} grid): 68.27% intervals read off the Δ(−2lnL) = 2.30 contour:",
            "",
        ]
        r2 = [
            [f"`{p}`", _fmt_interval(b, scan_2d.intervals[p])]
            for p, b in zip(scan_2d.parameters, scan_2d.bestfit, strict=True)
            if p in scan_2d.intervals
        ]
        text.append(_md_table(["parameter", "best fit ∈ 2D 68.27% extent"], r2))
    return "\n".join(text)


#: The seed report's printed numbers (ATLAS open data, 10 fb⁻¹), for reference.
SEED_REPORT: dict[str, Any] = {
    "before_chi2_per_dof": 1.597845078902861,
    "before_p": 0.014877,
    "s_s_1d": (2.01, 0.76, 1.5577434806307726),
    "s_b_1d": (1.302, 0.076, 1.0184456820283405),
    "s_s_2d": (1.3869, 0.86667, 1.1556),
    "s_b_2d": (1.2899, 0.10909, 0.11717),
    "after_chi2_per_dof": 1.038884905786871,
    "after_p": 0.40642,
}


def _chi2grid_section(grid: Any, *, generated: bool) -> str:
    """The report's χ² numbers next to the seed report's printed values."""
    sr = SEED_REPORT
    b, one_s, one_b, two, after = (
        grid.before_fit,
        grid.s_s_1d,
        grid.s_b_1d,
        grid.scan_2d,
        grid.after_fit,
    )
    bs, bb = two.scan.bestfit
    rows = [
        [
            "before fit (s_s = s_b = 1), dof = nbins",
            f"χ²/dof = {b.chi2_per_dof:.3f} ({b.chi2:.2f}/{b.dof}), p = {b.p_value:.4g}",
            f"χ²/dof = {sr['before_chi2_per_dof']:.3f}, p = {sr['before_p']}",
        ],
        [
            f"1D fit of s_s (s_b = {one_s.fixed.get('s_b', 1.0):g})",
            f"s_s = {one_s.scan.bestfit:.3f} ± {one_s.error:.3f}, χ²/dof = {one_s.fit.chi2_per_dof:.3f}",
            f"s_s = {sr['s_s_1d'][0]} ± {sr['s_s_1d'][1]}, χ²/dof = {sr['s_s_1d'][2]:.3f}",
        ],
        [
            f"1D fit of s_b (s_s = {one_b.fixed.get('s_s', 1.0):g})",
            f"s_b = {one_b.scan.bestfit:.3f} ± {one_b.error:.3f}, χ²/dof = {one_b.fit.chi2_per_dof:.3f}",
            f"s_b = {sr['s_b_1d'][0]} ± {sr['s_b_1d'][1]}, χ²/dof = {sr['s_b_1d'][2]:.3f}",
        ],
        [
            "2D fit, s_s (slice at Δχ² ≤ 2.3)",
            f"{bs:.4f} +{two.errors['s_s'][1]:.4f} −{two.errors['s_s'][0]:.4f}",
            f"{sr['s_s_2d'][0]} +{sr['s_s_2d'][2]} −{sr['s_s_2d'][1]}",
        ],
        [
            "2D fit, s_b (slice at Δχ² ≤ 2.3)",
            f"{bb:.4f} +{two.errors['s_b'][1]:.4f} −{two.errors['s_b'][0]:.4f}",
            f"{sr['s_b_2d'][0]} +{sr['s_b_2d'][2]} −{sr['s_b_2d'][1]}",
        ],
        [
            "after the 2D fit, dof = nbins − 2",
            f"χ²/dof = {after.chi2_per_dof:.3f} ({after.chi2:.2f}/{after.dof}), p = {after.p_value:.4g}",
            f"χ²/dof = {sr['after_chi2_per_dof']:.3f}, p = {sr['after_p']}",
        ],
    ]
    note = (
        "The seed report's column is its result on the real open data, shown for orientation only: "
        "this workspace is generated, so the numbers need not agree."
        if generated
        else "The seed report's column is its printed result on the same open data."
    )
    return "\n".join(
        [
            "## The seed report's grid χ² method",
            "",
            f"Pearson χ² = Σ(n − ν)²/ν on the report's grids (1D: s_s ∈ [1, 3], s_b ∈ [1.15, 1.4], 100 points, "
            "the other parameter fixed at 1, error from a parabola fitted to Δχ²; 2D: s_s ∈ [0.1, 2.7] × "
            "s_b ∈ [1.1, 1.5], 100 × 100, errors from the slices through the best grid point at Δχ² ≤ 2.3). "
            f"Statistic: {grid.statistic}.",
            "",
            _md_table(["step", "this workspace", "seed report"], rows),
            "",
            note,
        ]
    )


def _generic_section(title: str, obj: Any, intro: str = "") -> str:
    """A result with ``to_markdown()`` as is; otherwise its flat JSON numbers as a table."""
    text = [f"## {title}", ""]
    if intro:
        text += [intro, ""]
    if hasattr(obj, "to_markdown"):
        text.append(obj.to_markdown().rstrip())
        return "\n".join(text)
    flat: list[list[Any]] = []

    def walk(prefix: str, v: Any) -> None:
        if isinstance(v, dict):
            for k in sorted(v):
                walk(f"{prefix}.{k}" if prefix else str(k), v[k])
        elif isinstance(v, list) and len(v) <= 6 and all(isinstance(x, int | float) for x in v):
            flat.append([f"`{prefix}`", ", ".join(f"{x:.4g}" for x in v)])
        elif isinstance(v, bool | str):
            flat.append([f"`{prefix}`", str(v)])
        elif isinstance(v, int | float):
            flat.append([f"`{prefix}`", float(v)])

    walk("", _jsonable(obj))
    text.append(_md_table(["quantity", "value"], flat) if flat else "(no scalar results)")
    return "\n".join(text)


def _gof_section(gof: Any) -> str:
    rows = [
        [
            "Pearson χ², before the fit (s_s = s_b = 1)",
            f"{gof.pearson_chi2_prefit:.2f}",
            gof.dof_prefit,
            f"{gof.pearson_chi2_prefit / gof.dof_prefit:.3f}",
            f"{gof.p_value_prefit:.4g}",
        ],
        [
            "Pearson χ², after the likelihood fit",
            f"{gof.pearson_chi2_postfit:.2f}",
            gof.dof_postfit,
            f"{gof.pearson_chi2_postfit / gof.dof_postfit:.3f}" if gof.dof_postfit > 0 else "—",
            f"{gof.p_value_postfit:.4g}",
        ],
        [
            "saturated model −2 ln λ, after the fit",
            f"{gof.saturated_chi2:.2f}",
            gof.dof_saturated,
            f"{gof.saturated_chi2 / gof.dof_saturated:.3f}" if gof.dof_saturated > 0 else "—",
            f"{gof.p_value_saturated:.4g}",
        ],
    ]
    return "\n".join(
        [
            "## Goodness of fit",
            "",
            "The report's conventions: before the fit dof = number of bins, after it dof = bins − fitted "
            "parameters; p = P(χ²_dof ≥ observed). The saturated-model likelihood ratio is the Poisson "
            "analogue of the Pearson χ² (seed report: p = 0.014877 before, 0.40642 after its grid fit).",
            "",
            _md_table(["statistic", "value", "dof", "χ²/dof", "p-value"], rows),
        ]
    )


def _significance_section(sig: dict[str, Any]) -> str:
    text = ["## Discovery significance and upper limit", ""]
    d = sig.get("discovery")
    if d is not None:
        text += [
            f"Discovery test of {d.poi} = 0 (asymptotic q0): observed p0 = {d.p0_observed:.3g} "
            f"(Z = {d.z_observed:.2f}σ); expected for {d.poi} = 1: p0 = {d.p0_expected:.3g} "
            f"(Z = {d.z_expected:.2f}σ).",
            "",
        ]
    c = sig.get("cls")
    u = sig.get("upper_limit")
    rows = []
    if c is not None:
        e = c.cls_expected
        rows.append(
            [
                f"CLs at {c.poi} = {c.poi_value:g} ({c.test_stat})",
                f"{c.cls_observed:.4g}",
                f"{e[2]:.4g}",
                f"[{e[1]:.4g}, {e[3]:.4g}]",
                f"[{e[0]:.4g}, {e[4]:.4g}]",
            ]
        )
    if u is not None:
        e = u.expected
        rows.append(
            [
                f"{100 * (1 - u.level):.0f}% CL upper limit on {u.poi} (CLs)",
                f"{u.observed:.3f}",
                f"{e[2]:.3f}",
                f"[{e[1]:.3f}, {e[3]:.3f}]",
                f"[{e[0]:.3f}, {e[4]:.3f}]",
            ]
        )
    if rows:
        text += [
            _md_table(
                ["quantity", "observed", "expected (median)", "expected ±1σ", "expected ±2σ"], rows
            )
        ]
    return "\n".join(text).rstrip()


_CAPTIONS = {
    "prefit": "Pre-fit m4l distribution: stacked background and Higgs templates with the data "
    "(68.27% Garwood Poisson intervals). Seed report figure 2.1.",
    "postfit": "Post-fit m4l distribution: templates scaled by the best-fit s_s and s_b of the likelihood fit. "
    "Seed report figure 2.2b.",
    "scan_s_s": "Δ(−2lnL) of s_s, profiled over the other parameters and conditional on their best fit; "
    "the band is the profile 68.27% interval.",
    "scan_s_b": "Δ(−2lnL) of s_b, profiled and conditional; the band is the profile 68.27% interval.",
    "contour_likelihood": "2D profile likelihood Δ(−2lnL) in (s_b, s_s) with the 68.27% (2.30) and 95% (5.99) "
    "contours.",
    "contour_chi2grid": "The report's method: grid Pearson Δχ² in (s_b, s_s) with its 2.30/5.99 contours. "
    "Seed report figure 2.2a.",
}
#: Caption additions when the report's grid χ² is drawn on the same figure.
_GRID_CAPTIONS = {
    "scan_s_s": " Dotted: the report's grid Δχ² (s_b fixed at 1, s_s ∈ [1, 3]).",
    "scan_s_b": " Dotted: the report's grid Δχ² (s_s fixed at 1, s_b ∈ [1.15, 1.4]).",
    "contour_likelihood": " Orange: the report's grid χ² contours, cut at the edges of its grid (dotted box).",
}


def _figures_section(figures: dict[str, Path], outdir: Path, *, with_grid: bool) -> str:
    text = ["## Figures", ""]
    for name in (
        "prefit",
        "postfit",
        "scan_s_s",
        "scan_s_b",
        "contour_likelihood",
        "contour_chi2grid",
    ):
        if name in figures:
            rel = os.path.relpath(figures[name], outdir)
            caption = _CAPTIONS[name] + (_GRID_CAPTIONS.get(name, "") if with_grid else "")
            text += [f"![{name}]({Path(rel).as_posix()})", "", f"*{caption}*", ""]
    return "\n".join(text).rstrip()


# --------------------------------------------------------------------------- the report


def make_report(
    workspace_path: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    *,
    n_points_1d: int = 101,
    n_points_2d: tuple[int, int] = (101, 101),
    upper_limit: bool = True,
) -> ReportResult:
    """Run the whole inference chain on a workspace and write the report directory.

    Args:
        workspace_path: the workspace JSON file (its ``.provenance.json``
            next to it, if present, gives the bin edges, luminosity and
            whether the input is generated).
        outdir: output directory (created if needed); ``report.md``,
            ``results.json`` and the PNG figures are written there atomically.
        n_points_1d: points of each 1D likelihood scan (±4 Hesse errors
            around the best fit).
        n_points_2d: grid of the 2D profile scan. The scans are array
            operations for the models :mod:`higgs_pyhf.workspace` builds
            (normfactors, staterror, lumi); for other modifiers every grid
            point is a pyhf fit, and a coarser grid keeps the report fast.
        upper_limit: compute the 95% CLs upper limit (root finding with
            pyhf hypotests: a few seconds on the normfactor model, minutes
            with many nuisance parameters).

    Returns:
        The paths written and the sections skipped.

    Raises:
        WorkspaceError: if the workspace cannot be read.
    """
    t0 = time.perf_counter()
    out = Path(outdir)
    spec = load_workspace(workspace_path)
    templates = _templates(workspace_path, spec)
    model, data = model_and_data(spec)
    stages = _Stages()
    stages.run("fit", lambda: _fit(model, data))
    stages.run("scans_1d", lambda: _scans_1d(model, data, n_points_1d))
    stages.run("scan_2d", lambda: _scan_2d(model, data, n_points_2d))
    stages.run("chi2grid", lambda: _chi2grid(spec, templates))
    stages.run(
        "compare", lambda: _function("compare", "compare")(spec, label=Path(workspace_path).name)
    )
    stages.run("gof", lambda: _gof(model, data, stages.results.get("fit")))
    stages.run("significance", lambda: _significance(model, data, upper_limit=upper_limit))

    figures = _draw_figures(out, PLOT_KINDS, templates, stages.results, stages.skipped)
    res = stages.results

    sections = [_intro(workspace_path, spec, templates, model)]
    if "fit" in res:
        sections.append(_fit_section(res["fit"]))
    if "scans_1d" in res or "scan_2d" in res:
        sections.append(
            _scans_section(
                res.get("scans_1d", {}), res.get("scan_2d"), _grid_scans(res.get("chi2grid"))
            )
        )
    if "chi2grid" in res:
        sections.append(_chi2grid_section(res["chi2grid"], generated=templates.generated))
    if "compare" in res:
        sections.append(_generic_section("Method comparison", res["compare"]))
    if "gof" in res:
        sections.append(_gof_section(res["gof"]))
    if "significance" in res:
        sections.append(_significance_section(res["significance"]))
    sections.append(_figures_section(figures, out, with_grid="chi2grid" in res))
    if stages.skipped:
        sections.append(
            "## Skipped sections\n\n"
            + "\n".join(f"- **{k}**: {v}" for k, v in sorted(stages.skipped.items()))
        )
    report_path = _io.write_text(out / "report.md", "\n\n".join(sections) + "\n")
    results_obj = {
        "workspace": str(workspace_path),
        "generated": templates.generated,
        "results": _jsonable(res),
        "skipped": dict(sorted(stages.skipped.items())),
        "figures": {k: v.name for k, v in sorted(figures.items())},
    }
    results_path = _io.write_json(out / "results.json", results_obj)
    seconds = time.perf_counter() - t0
    log.info("report written to %s in %.1f s", out, seconds)
    return ReportResult(report_path, results_path, figures, dict(stages.skipped), seconds)


def _gof(model: Any, data: Any, fit: Any) -> Any:
    return _function("gof", "goodness_of_fit")(model, data, fit_result=fit)


def _significance(model: Any, data: Any, *, upper_limit: bool = True) -> dict[str, Any]:
    out = {
        "discovery": _function("significance", "discovery")(model, data),
        "cls": _function("significance", "cls")(model, data, poi_value=1.0),
    }
    if upper_limit:
        out["upper_limit"] = _function("significance", "upper_limit")(model, data)
    return out
