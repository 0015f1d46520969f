"""Plot functions: arrays and results in, a Figure out; labels, intervals, notes and layout."""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.figure
import matplotlib.image
import numpy as np
import pytest
from matplotlib.collections import PolyCollection, QuadMesh
from matplotlib.container import ErrorbarContainer
from matplotlib.contour import ContourSet
from matplotlib.patches import StepPatch
from scipy import stats

from higgs_pyhf.build.report_workspace import build_workspace
from higgs_pyhf.inference import chi2grid
from higgs_pyhf.inference import toys as T
from higgs_pyhf.inference.results import FitResult, Scan1DResult, Scan2DResult
from higgs_pyhf.plotting import (
    GENERATED_DATA_LABEL,
    GENERATED_LABEL,
    REAL_DATA_LABEL,
    data_intervals,
    plot_contour_pair,
    plot_coverage,
    plot_critical_value_pair,
    plot_gof,
    plot_gof_pair,
    plot_postfit,
    plot_postfit_pair,
    plot_prefit_pair,
    plot_prefit_postfit,
    plot_scan_1d,
    plot_scan_2d,
    plot_stacked,
    save_figure,
)
from higgs_pyhf.plotting.report_figures import LEFT_TITLE, RIGHT_TITLE
from higgs_pyhf.plotting.scans import NOTE_COLOR
from higgs_pyhf.workspace import model_and_data

EDGES = np.linspace(80.0, 250.0, 35)
CENTERS = 0.5 * (EDGES[1:] + EDGES[:-1])
SIGNAL = 8.0 * np.exp(-0.5 * ((CENTERS - 125.0) / 3.0) ** 2) / 2.0 + 1e-3
BACKGROUND = (
    3.0
    + 20.0 * np.exp(-0.5 * ((CENTERS - 91.0) / 4.0) ** 2)
    + 3.0 / (1 + np.exp(-(CENTERS - 185.0) / 6.0))
)
DATA = np.random.default_rng(7).poisson(1.4 * SIGNAL + 1.3 * BACKGROUND).astype(float)
FIT = FitResult(
    labels=("s_b", "s_s"),
    bestfit=np.array([1.29, 1.39]),
    uncertainty=np.array([0.11, 0.9]),
    correlation=np.eye(2),
    twice_nll=100.0,
    converged=True,
    minos={"s_s": (-0.87, 1.16)},
)


def _texts(fig: matplotlib.figure.Figure) -> str:
    parts = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        parts += [t.get_text() for t in ax.texts] + [ax.get_title(loc="left")]
        leg = ax.get_legend()
        if leg is not None:
            parts += [t.get_text() for t in leg.get_texts()]
    return "\n".join(parts)


def _parabola_scan(
    parameter: str, best: float, sigma: float, kind: str = "profile", statistic: str = "likelihood"
) -> Scan1DResult:
    x = np.linspace(best - 3 * sigma, best + 3 * sigma, 61)
    return Scan1DResult(
        parameter,
        x,
        ((x - best) / sigma) ** 2,
        best,
        (best - sigma, best + sigma),
        1.0,
        kind,
        statistic,
    )


def _gaussian_scan_2d(
    statistic: str = "likelihood", levels: tuple[float, ...] = (2.30, 5.99)
) -> Scan2DResult:
    xs = np.linspace(0.0, 3.0, 41)  # s_s
    ys = np.linspace(1.0, 1.6, 31)  # s_b
    d = ((xs[:, None] - 1.5) / 0.6) ** 2 + ((ys[None, :] - 1.3) / 0.08) ** 2
    return Scan2DResult(("s_s", "s_b"), xs, ys, d, (1.5, 1.3), {}, levels, "profile", statistic)


@pytest.fixture(scope="module")
def study_results():
    """The report's grid method and small toy studies on the test histograms (fast)."""
    grid = chi2grid.report_method(SIGNAL, BACKGROUND, DATA)
    model, data = model_and_data(build_workspace(SIGNAL, BACKGROUND, DATA))
    gof = T.gof_toys(model, data, ntoys=300, seed=1, statistic="likelihood", mode="refit")
    cov = T.coverage_toys(model, data, ntoys=300, seed=2)
    return grid, gof, cov


# --------------------------------------------------------------------------- intervals


def test_data_intervals_garwood_and_sqrt() -> None:
    n = np.array([0.0, 1.0, 3.0, 10.0, 57.0])
    low, high = data_intervals(n)
    # Garwood from the chi2 quantiles, independently of hist
    a = (1 - stats.chi2.cdf(1.0, 1)) / 2
    ref_low = np.where(n > 0, stats.chi2.ppf(a, 2 * np.maximum(n, 1e-300)) / 2, 0.0)
    ref_high = stats.chi2.ppf(1 - a, 2 * (n + 1)) / 2
    np.testing.assert_allclose(low, ref_low, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(high, ref_high, rtol=1e-8)
    assert low[0] == 0.0
    assert high[0] == pytest.approx(1.8410216, rel=1e-6)
    _lo2, hi2 = data_intervals(n, "sqrt")
    np.testing.assert_allclose(hi2 - n, np.sqrt(n))
    with pytest.raises(ValueError, match="unknown data errors"):
        data_intervals(n, "wald")


# --------------------------------------------------------------------------- stacks


def test_plot_stacked_artists_and_real_label() -> None:
    fig = plot_stacked(
        EDGES,
        SIGNAL,
        BACKGROUND,
        DATA,
        signal_scale=1.5,
        background_scale=1.2,
        title="Pre-fit",
        data_label=REAL_DATA_LABEL,
        lumi_fb=10.0,
    )
    (ax,) = fig.axes
    steps = [p for p in ax.patches if isinstance(p, StepPatch)]
    assert len(steps) == 3  # background fill, Higgs fill, outline
    np.testing.assert_allclose(steps[0].get_data().values, 1.2 * BACKGROUND)
    np.testing.assert_allclose(steps[1].get_data().values, 1.2 * BACKGROUND + 1.5 * SIGNAL)
    np.testing.assert_allclose(steps[1].get_data().baseline, 1.2 * BACKGROUND)
    (container,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    x, y = container.lines[0].get_data()
    np.testing.assert_allclose(x, CENTERS)
    np.testing.assert_allclose(y, DATA)
    assert ax.get_xlabel() == r"$m_{4\ell}$ [GeV]"
    assert ax.get_ylabel() == "Events / 5 GeV"
    assert ax.get_xlim() == (80.0, 250.0)
    text = _texts(fig)
    assert "ATLAS Open Data" in text
    assert "13 TeV, 10 fb" in text
    assert "Pre-fit" in text
    assert "Garwood" in text
    assert GENERATED_LABEL not in text
    # the legend and text block sit above the histogram on the right half
    assert ax.get_ylim()[1] > 1.15 * max(DATA)


def test_plot_stacked_generated_caption_given_axes_and_ratio() -> None:
    fig = matplotlib.figure.Figure()
    ax = fig.add_subplot()
    assert plot_stacked(EDGES, SIGNAL, BACKGROUND, DATA, ax=ax, generated=True) is fig
    assert GENERATED_LABEL in _texts(fig)
    assert GENERATED_DATA_LABEL in _texts(fig)
    plot_stacked(EDGES, SIGNAL, BACKGROUND, DATA, ax=ax, data_label=GENERATED_DATA_LABEL)
    assert _texts(fig).count(GENERATED_LABEL) == 1  # the caption is written once
    r = plot_stacked(EDGES, SIGNAL, BACKGROUND, DATA, ratio=True, errors="sqrt")
    _top, bottom = r.axes
    (container,) = [c for c in bottom.containers if isinstance(c, ErrorbarContainer)]
    np.testing.assert_allclose(container.lines[0].get_data()[1], DATA / (SIGNAL + BACKGROUND))
    assert bottom.get_ylabel() == "Data / pred."
    with pytest.raises(ValueError, match="inconsistent bin counts"):
        plot_stacked(EDGES, SIGNAL[:-1], BACKGROUND, DATA)


def test_plot_postfit_uses_fit_values() -> None:
    fig = plot_postfit(EDGES, SIGNAL, BACKGROUND, DATA, FIT)
    steps = [p for p in fig.axes[0].patches if isinstance(p, StepPatch)]
    np.testing.assert_allclose(steps[1].get_data().values, 1.29 * BACKGROUND + 1.39 * SIGNAL)
    text = _texts(fig)
    assert "Post-fit" in text
    assert "+1.16" in text  # Minos errors of s_s
    assert "0.11" in text  # Hesse error of s_b
    both = plot_prefit_postfit(EDGES, SIGNAL, BACKGROUND, DATA, FIT, generated=True)
    assert len(both.axes) == 2
    assert both.axes[0].get_ylim() == both.axes[1].get_ylim()
    assert GENERATED_LABEL in _texts(both)


# --------------------------------------------------------------------------- scans


def test_plot_scan_1d_overlay_and_note() -> None:
    prof = _parabola_scan("s_s", 1.4, 0.8)
    cond = _parabola_scan("s_s", 1.4, 0.7, kind="conditional")
    grid = _parabola_scan("s_s", 2.0, 0.75, kind="conditional", statistic="pearson")
    fig = plot_scan_1d([prof, cond, grid], note="the grid cuts it", data_label=REAL_DATA_LABEL)
    (ax,) = fig.axes
    curves = [ln for ln in ax.lines if len(ln.get_xdata()) == 61]
    assert len(curves) == 3
    np.testing.assert_allclose(curves[0].get_ydata(), prof.delta_twice_nll)
    (fill,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    verts = fill.get_paths()[0].vertices
    assert verts[:, 0].min() == pytest.approx(0.6)
    assert verts[:, 0].max() == pytest.approx(2.2)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == 5  # three curves, the interval band, the note
    assert labels[-1] == "the grid cuts it"
    assert ax.get_legend().legend_handles[-1].get_color() == NOTE_COLOR
    assert "ATLAS Open Data" in _texts(fig)
    assert ax.get_xlabel() == "$s_s$"
    assert "chi^2" in ax.get_ylabel()
    with pytest.raises(ValueError, match="same parameter"):
        plot_scan_1d([_parabola_scan("s_s", 1.0, 1.0), _parabola_scan("s_b", 1.0, 0.1)])
    with pytest.raises(ValueError, match="labels"):
        plot_scan_1d([_parabola_scan("s_s", 1.0, 1.0)], labels=["a", "b"])


def test_plot_scan_2d_contours_orientation_and_box() -> None:
    like = _gaussian_scan_2d()
    grid = _gaussian_scan_2d("pearson", levels=(2.3,))
    fig = plot_scan_2d(like, other_contours=grid, grid_box=(1.1, 1.5, 0.1, 2.7))
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("$s_b$", "$s_s$")  # the report's orientation
    assert ax.get_xlim() == (1.0, 1.6)
    assert ax.get_ylim() == (0.0, 3.0)
    contours = [c for c in ax.collections if isinstance(c, ContourSet)]
    np.testing.assert_allclose(contours[0].levels, [2.30, 5.99])
    np.testing.assert_allclose(contours[1].levels, [2.3])
    (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert np.asarray(mesh.get_array()).shape == (41, 31)
    seg = contours[0].allsegs[0][0]
    assert seg[:, 0].max() == pytest.approx(1.3 + 0.08 * np.sqrt(2.30), abs=2e-3)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "report's grid" in labels
    box = [ln for ln in ax.lines if ln.get_linestyle() == ":" and len(ln.get_xdata()) == 5]
    assert box[-1].get_xdata().tolist() == [1.1, 1.5, 1.5, 1.1, 1.1]


def test_plot_scan_2d_marks_cut_edges() -> None:
    """A contour cut by the grid: the touched grid edge is drawn red and the note is in the legend."""
    scan = _gaussian_scan_2d()
    cut = scan._replace(x_values=scan.x_values[12:], delta_twice_nll=scan.delta_twice_nll[12:])
    fig = plot_scan_2d(cut, note="cut by the grid at s_s = 0.9", legend="below")
    ax = fig.axes[0]
    red = [ln for ln in ax.lines if ln.get_color() == NOTE_COLOR]
    assert len(red) == 1
    np.testing.assert_allclose(red[0].get_ydata(), cut.x_values[0])  # along the lower s_s edge
    assert "cut by the grid at s_s = 0.9" in _texts(fig)
    clean = plot_scan_2d(scan)
    assert not [ln for ln in clean.axes[0].lines if ln.get_color() == NOTE_COLOR]


# --------------------------------------------------------------------------- toys and the report's figures


def test_toy_plots_star_and_labels(study_results) -> None:
    _, gof, cov = study_results
    fig = plot_gof(gof, data_label=REAL_DATA_LABEL, extra_ndof=(34,))
    ax = fig.axes[0]
    stars = [ln for ln in ax.lines if ln.get_marker() == "*"]
    assert stars[0].get_xdata()[0] == pytest.approx(gof.observed)
    assert any("ndof = 34" in t for t in _texts(fig).splitlines())
    assert "ATLAS Open Data" in _texts(fig)
    c = plot_coverage(cov, reference=(3.3, "report: 3.3"), generated_label=True)
    assert "report: 3.3" in _texts(c)
    assert GENERATED_LABEL in _texts(c)


@pytest.mark.parametrize("label", [REAL_DATA_LABEL, GENERATED_DATA_LABEL])
def test_report_figure_pairs(study_results, label) -> None:
    grid, gof, cov = study_results
    model, data = model_and_data(build_workspace(SIGNAL, BACKGROUND, DATA))
    from higgs_pyhf.inference.scan import scan_2d

    like = scan_2d(model, data, ("s_s", "s_b"), n_points=(21, 21))
    hists = (EDGES, SIGNAL, BACKGROUND, DATA)
    header = {"data_label": label, "lumi_fb": 10.0}
    figs = [
        plot_prefit_pair(*hists, **header, pearson=grid.before_fit, deviance=grid.before_fit),
        plot_postfit_pair(*hists, **header, report=grid.scan_2d, fit=FIT, deviance=None),
        plot_contour_pair(grid.scan_2d, like, **header),
        plot_gof_pair(gof, gof, nbins=34, **header),
        plot_critical_value_pair(cov, cov, **header),
    ]
    for fig in figs:
        text = _texts(fig)
        assert LEFT_TITLE in text
        assert RIGHT_TITLE in text
        assert label in text
        assert (GENERATED_LABEL in text) == (label == GENERATED_DATA_LABEL)
        if label == REAL_DATA_LABEL:
            assert "13 TeV, 10 fb" in text
    prefit_axes = figs[0].axes
    assert len(prefit_axes) == 3  # report panel, likelihood panel, ratio
    assert prefit_axes[0].get_ylim() == prefit_axes[1].get_ylim()
    assert "Garwood" in _texts(figs[0])
    assert "±√n" in _texts(figs[0])
    # the report's grid drawn as a box on the likelihood map
    right = figs[2].axes[1]
    assert any(ln.get_linestyle() == ":" for ln in right.lines)


def test_missing_report_panel_says_why(study_results) -> None:
    _, gof, _ = study_results
    fig = plot_prefit_pair(
        EDGES,
        SIGNAL,
        BACKGROUND,
        DATA,
        data_label=REAL_DATA_LABEL,
        pearson=None,
        deviance=None,
        unavailable="the model has a lumi modifier",
    )
    assert "not available:\nthe model has a lumi modifier" in _texts(fig)
    g = plot_gof_pair(None, gof, data_label=REAL_DATA_LABEL, nbins=34)
    assert "not available" in _texts(g)


def test_figures_save_and_reopen(tmp_path, study_results) -> None:
    _grid, _gof, cov = study_results
    figs = {
        "stack": plot_stacked(EDGES, SIGNAL, BACKGROUND, DATA, generated=True),
        "scan": plot_scan_1d(_parabola_scan("s_s", 1.4, 0.8)),
        "map": plot_scan_2d(_gaussian_scan_2d()),
        "pair": plot_critical_value_pair(cov, cov, data_label=REAL_DATA_LABEL),
    }
    for name, fig in figs.items():
        img = matplotlib.image.imread(save_figure(fig, tmp_path / f"{name}.png", dpi=50))
        assert img.ndim == 3
        assert min(img.shape[:2]) > 100
        assert img.std() > 0.01  # not a blank canvas


def test_plotting_leaves_global_style_alone(study_results) -> None:
    _grid, gof, _cov = study_results
    before = dict(mpl.rcParams)
    plot_stacked(EDGES, SIGNAL, BACKGROUND, DATA)
    plot_scan_2d(_gaussian_scan_2d())
    plot_gof_pair(gof, gof, data_label=REAL_DATA_LABEL, nbins=34)
    after = dict(mpl.rcParams)
    assert {k for k in before if before[k] != after[k]} == set()


def test_plotting_reads_no_files() -> None:
    """Plot functions take results and arrays: no module of the package opens a file or a path."""
    from pathlib import Path

    import higgs_pyhf.plotting as plotting

    root = Path(plotting.__file__).parent
    for path in root.glob("*.py"):
        src = path.read_text(encoding="utf-8")
        assert "open(" not in src, path.name
        assert "read_text" not in src, path.name
        assert "import json" not in src, path.name
        assert "..workspace" not in src, path.name
        assert "provenance_path" not in src, path.name
        assert len(src.splitlines()) <= 400, path.name
