"""The report's figures on the data, each beside its likelihood counterpart (two panels, one slide).

Left: the report's method; right: the same with the Poisson likelihood. Every
function takes results, arrays and the ``data_label`` (from the provenance; it
decides the header, :func:`~._style.header_text`, which ``**header`` keywords
``label``/``energy``/``title`` override) and returns the figure; it reads no file.

Figures 2.1 (:func:`plot_prefit_pair`), 2.2a (:func:`plot_contour_pair`), 2.2b
(:func:`plot_postfit_pair`, with the ML fit's band), §2.5 (:func:`plot_gof_pair`) and
2.3 (:func:`plot_critical_value_pair`). A panel whose result is missing says why instead.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

import matplotlib.figure
import numpy as np

from ._style import add_data_label, new_figure, style_context
from .contours import plot_scan_2d
from .stacks import draw_ratio, draw_stack, postfit_text
from .toys import plot_coverage, plot_gof
from .uncertainty import postfit_band

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..inference.chi2grid import Chi2GoF, ReportScan2D
    from ..inference.results import FitResult, Scan2DResult
    from ..inference.toys import CoverageResult, GofResult

__all__ = [
    "LEFT_TITLE",
    "RIGHT_TITLE",
    "plot_contour_pair",
    "plot_critical_value_pair",
    "plot_gof_pair",
    "plot_postfit_pair",
    "plot_prefit_pair",
]

LEFT_TITLE = "The report's method"
RIGHT_TITLE = "Poisson likelihood"


def _unavailable(ax: Axes, reason: str) -> None:
    ax.set_axis_off()
    text = "not available:\n" + textwrap.fill(reason, 55)
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=12)


def _title(ax: Axes, text: str) -> None:
    ax.set_title(text, loc="left", fontsize=13)


def _stack_pair_axes(figsize: tuple[float, float] = (17.0, 7.5)) -> tuple[Any, Axes, Axes, Axes]:
    fig = new_figure(figsize)
    gs = fig.add_gridspec(2, 2, height_ratios=[3, 1])
    left = fig.add_subplot(gs[:, 0])
    right = fig.add_subplot(gs[0, 1])
    ratio = fig.add_subplot(gs[1, 1], sharex=right)
    return fig, left, right, ratio


def _gof_text(name: str, g: Chi2GoF) -> str:
    return f"{name}/dof = {g.chi2:.2f}/{g.dof} = {g.chi2_per_dof:.3f}, p = {g.p_value:.3g}"


def _stack_pair(
    edges: Any,
    signal: Any,
    background: Any,
    data: Any,
    *,
    left_scales: tuple[float, float] | None,
    left_text: str,
    left_missing: str,
    right_scales: tuple[float, float],
    right_text: str,
    titles: tuple[str, str],
    right_band: Any = None,
    data_label: str,
    lumi_fb: float | None,
    xlabel: str,
    **header: Any,
) -> matplotlib.figure.Figure:
    sig = np.asarray(signal, dtype=float)
    bkg = np.asarray(background, dtype=float)
    with style_context():
        fig, left, right, ratio = _stack_pair_axes()
        add_data_label(fig, data_label, lumi_fb=lumi_fb, **header)
        common: dict[str, Any] = {"data_label": data_label, "xlabel": xlabel}
        draw_stack(
            right,
            edges,
            sig,
            bkg,
            data,
            signal_scale=right_scales[0],
            background_scale=right_scales[1],
            errors="garwood",
            text=right_text,
            band=right_band,
            **common,
        )
        right.tick_params(labelbottom=False)
        right.set_xlabel("")
        draw_ratio(
            ratio,
            edges,
            data,
            right_scales[0] * sig + right_scales[1] * bkg,
            errors="garwood",
            xlabel=xlabel,
            band=right_band,
        )
        _title(right, titles[1])
        if left_scales is None:
            _unavailable(left, left_missing)
        else:
            draw_stack(
                left,
                edges,
                sig,
                bkg,
                data,
                signal_scale=left_scales[0],
                background_scale=left_scales[1],
                errors="sqrt",
                text=left_text,
                **common,
            )
            _title(left, titles[0])
            top = max(left.get_ylim()[1], right.get_ylim()[1])
            left.set_ylim(0, top)
            right.set_ylim(0, top)
    return fig


def plot_prefit_pair(
    edges: Any,
    signal: Any,
    background: Any,
    data: Any,
    *,
    data_label: str,
    pearson: Chi2GoF | None,
    deviance: Chi2GoF | None,
    lumi_fb: float | None = None,
    xlabel: str = r"$m_{4\ell}$ [GeV]",
    unavailable: str = "",
    **header: Any,
) -> matplotlib.figure.Figure:
    """Figure 2.1: the pre-fit stack (s_s = s_b = 1) with the data, report's way | likelihood way.

    Args:
        edges: bin edges (GeV).
        signal: Higgs signal template per bin.
        background: background template per bin.
        data: observed counts per bin.
        data_label: the data label (header, legend, generated caption).
        pearson: the report's Pearson χ² before the fit (dof = nbins), or None.
        deviance: the Poisson deviance −2lnλ before the fit (dof = nbins), or None.
        lumi_fb: integrated luminosity of the header.
        header: ``label``, ``energy``, ``title`` of the header (:func:`~._style.header_text`).
        xlabel: x-axis label.
        unavailable: why the report's panel is missing (when ``pearson`` is None).
    """
    left = "Pre-fit ($s_s = s_b = 1$)" + ("\n" + _gof_text(r"$\chi^2$", pearson) if pearson else "")
    right = "Pre-fit ($s_s = s_b = 1$)" + (
        "\n" + _gof_text(r"$-2\ln\lambda$", deviance) if deviance else ""
    )
    return _stack_pair(
        edges,
        signal,
        background,
        data,
        left_scales=(1.0, 1.0) if pearson is not None else None,
        left_text=left,
        left_missing=unavailable,
        right_scales=(1.0, 1.0),
        right_text=right,
        titles=(
            f"{LEFT_TITLE}: Pearson $\\chi^2$, data ±√n (fig. 2.1)",
            f"{RIGHT_TITLE}: deviance, Garwood intervals",
        ),
        data_label=data_label,
        lumi_fb=lumi_fb,
        **header,
        xlabel=xlabel,
    )


def plot_postfit_pair(
    edges: Any,
    signal: Any,
    background: Any,
    data: Any,
    *,
    data_label: str,
    report: ReportScan2D | None,
    fit: FitResult,
    deviance: Chi2GoF | None,
    lumi_fb: float | None = None,
    xlabel: str = r"$m_{4\ell}$ [GeV]",
    unavailable: str = "",
    **header: Any,
) -> matplotlib.figure.Figure:
    """Figure 2.2b: the stack at the report's grid best fit | at the maximum-likelihood fit.

    Args:
        edges: bin edges (GeV).
        signal: Higgs signal template per bin.
        background: background template per bin.
        data: observed counts per bin.
        data_label: the data label.
        report: the report's 2D grid fit (best point, slice errors, χ²), or None.
        fit: the maximum-likelihood fit (Minos errors shown where present).
        deviance: the Poisson deviance at the ML fit (dof = nbins − 2), or None.
        lumi_fb: integrated luminosity of the header.
        header: ``label``, ``energy``, ``title`` of the header (:func:`~._style.header_text`).
        xlabel: x-axis label.
        unavailable: why the report's panel is missing.
    """
    left_text = ""
    left_scales = None
    if report is not None:
        s_s, s_b = report.scan.bestfit
        (ms, ps), (mb, pb) = report.errors["s_s"], report.errors["s_b"]
        left_text = (
            "Grid best fit\n"
            f"$s_s$ = ${s_s:.2f}^{{+{ps:.2f}}}_{{-{ms:.2f}}}$\n"
            f"$s_b$ = ${s_b:.2f}^{{+{pb:.2f}}}_{{-{mb:.2f}}}$\n"
            + _gof_text(r"$\chi^2$", report.fit)
        )
        left_scales = (s_s, s_b)
    s_s_ml = fit.value("s_s") if "s_s" in fit.labels else 1.0
    s_b_ml = fit.value("s_b") if "s_b" in fit.labels else 1.0
    right_text = "ML fit (Minos)\n" + postfit_text(fit)
    if deviance is not None:
        right_text += "\n" + _gof_text(r"$-2\ln\lambda$", deviance)
    return _stack_pair(
        edges,
        signal,
        background,
        data,
        left_scales=left_scales,
        left_text=left_text,
        left_missing=unavailable,
        right_scales=(s_s_ml, s_b_ml),
        right_text=right_text,
        right_band=postfit_band(signal, background, fit),
        titles=(
            f"{LEFT_TITLE}: post-fit, Pearson $\\chi^2$ grid (fig. 2.2b)",
            f"{RIGHT_TITLE}: post-fit, maximum likelihood",
        ),
        data_label=data_label,
        lumi_fb=lumi_fb,
        **header,
        xlabel=xlabel,
    )


def _slice_bars(ax: Axes, report: ReportScan2D) -> None:
    """The report's intervals: the slices through the best grid point (white bars)."""
    s_s, s_b = report.scan.bestfit
    (s_lo, s_hi), (b_lo, b_hi) = report.slice_intervals["s_s"], report.slice_intervals["s_b"]
    ax.plot([b_lo, b_hi], [s_s, s_s], color="white", lw=1.2, ls="-", marker="|", ms=10)
    ax.plot([s_b, s_b], [s_lo, s_hi], color="white", lw=1.2, ls="-", marker="_", ms=10)


def plot_contour_pair(
    report: ReportScan2D | None,
    likelihood: Scan2DResult,
    *,
    data_label: str,
    note: str | None = None,
    lumi_fb: float | None = None,
    unavailable: str = "",
    **header: Any,
) -> matplotlib.figure.Figure:
    """Figure 2.2a: the grid Δχ² map with the 2.3 contour | the profile Δ(−2lnL) map (2.30, 5.99).

    Args:
        report: the report's 2D grid fit (map, best point, slice intervals), or None.
        likelihood: the 2D profile-likelihood scan.
        data_label: the data label.
        note: grid-edge warning for the report's panel (None when the contour is not cut).
        lumi_fb: integrated luminosity of the header.
        header: ``label``, ``energy``, ``title`` of the header (:func:`~._style.header_text`).
        unavailable: why the report's panel is missing.
    """
    with style_context():
        fig = new_figure((17.0, 8.5))
        left, right = fig.subplots(1, 2)
        add_data_label(fig, data_label, lumi_fb=lumi_fb, **header)
        box = None
        if report is None:
            _unavailable(left, unavailable)
        else:
            sc = report.scan
            plot_scan_2d(
                sc, ax=left, label=r"Report grid Pearson $\Delta\chi^2$", note=note, legend="below"
            )
            _slice_bars(left, report)
            _title(left, f"{LEFT_TITLE}: 100×100 grid, slices at Δχ² ≤ 2.3 (fig. 2.2a)")
            x, y = np.asarray(sc.x_values), np.asarray(sc.y_values)  # s_s, s_b
            box = (float(y[0]), float(y[-1]), float(x[0]), float(x[-1]))
        plot_scan_2d(
            likelihood,
            ax=right,
            label="Profile likelihood",
            grid_box=box,
            grid_box_label="the report's grid",
            legend="below",
        )
        _title(right, f"{RIGHT_TITLE}: profile $-2\\Delta\\ln L$, 2.30 and 5.99")
    return fig


def plot_gof_pair(
    report: GofResult | None,
    likelihood: GofResult | None,
    *,
    data_label: str,
    nbins: int,
    lumi_fb: float | None = None,
    **header: Any,
) -> matplotlib.figure.Figure:
    """§2.5: Gaussian toys around the fitted model, Pearson χ² (no refit) | Poisson toys, deviance, refits.

    Args:
        report: the report's GoF toys (χ²(ndof) pdf drawn as the report did), or None.
        likelihood: Poisson toys refitted, saturated-model deviance, or None.
        data_label: the data label.
        nbins: number of bins (the pdf a no-refit statistic follows, drawn dotted).
        lumi_fb: integrated luminosity of the header.
        header: ``label``, ``energy``, ``title`` of the header (:func:`~._style.header_text`).
    """
    with style_context():
        fig = new_figure((17.0, 6.5))
        left, right = fig.subplots(1, 2)
        add_data_label(fig, data_label, lumi_fb=lumi_fb, **header)
        if report is None:
            _unavailable(left, "no report-method toys")
        else:
            plot_gof(
                report,
                ax=left,
                extra_ndof=(nbins,) if report.ndof != nbins else (),
                observed_name=data_label,
            )
            _title(left, f"{LEFT_TITLE}: Gaussian toys, Pearson $\\chi^2$, no refit (§2.5)")
        if likelihood is None:
            _unavailable(right, "no likelihood toys")
        else:
            plot_gof(likelihood, ax=right, observed_name=data_label)
            _title(right, f"{RIGHT_TITLE}: Poisson toys, each refitted")
    return fig


def plot_critical_value_pair(
    report: CoverageResult | None,
    likelihood: CoverageResult | None,
    *,
    data_label: str,
    printed: float | None = 3.3,
    lumi_fb: float | None = None,
    note: str | None = None,
    **header: Any,
) -> matplotlib.figure.Figure:
    """Figure 2.3: f(d) of the report's study | the likelihood with Poisson toys, both with 2.30.

    Args:
        report: coverage of the report's study (Gaussian toys, Pearson χ², 100×100 grid), or None.
        likelihood: coverage with Poisson toys and the likelihood (continuous minimization), or None.
        data_label: the data label.
        printed: the report's critical value, marked on the left panel (None: not marked).
        lumi_fb: integrated luminosity of the header.
        header: ``label``, ``energy``, ``title`` of the header (:func:`~._style.header_text`).
        note: a remark for the report's panel (e.g. its toy statistics).
    """
    with style_context():
        fig = new_figure((17.0, 6.5))
        left, right = fig.subplots(1, 2)
        add_data_label(fig, data_label, lumi_fb=lumi_fb, **header)
        if report is None:
            _unavailable(left, "no report-method coverage toys")
        else:
            ref = (printed, f"report: d ≈ {printed:g} at f = 0.68") if printed is not None else None
            plot_coverage(report, ax=left, reference=ref, note=note)
            _title(left, f"{LEFT_TITLE}: Gaussian toys, Pearson $\\chi^2$, grid (fig. 2.3)")
        if likelihood is None:
            _unavailable(right, "no likelihood coverage toys")
        else:
            plot_coverage(likelihood, ax=right)
            _title(right, f"{RIGHT_TITLE}: Poisson toys, continuous fits")
    return fig
