from __future__ import annotations

import matplotlib as mpl
import matplotlib.figure
import matplotlib.image
import numpy as np
import pytest
from hist.intervals import poisson_interval
from matplotlib.collections import PolyCollection, QuadMesh
from matplotlib.container import ErrorbarContainer
from matplotlib.contour import ContourSet
from matplotlib.patches import StepPatch

from higgs_pyhf.errors import WorkspaceError
from higgs_pyhf.inference.results import FitResult, Scan1DResult, Scan2DResult
from higgs_pyhf.plotting import (
    GENERATED_LABEL,
    garwood_interval,
    plot_postfit,
    plot_prefit_postfit,
    plot_scan_1d,
    plot_scan_2d,
    plot_stacked,
    save_figure,
    templates_from_workspace,
)
from higgs_pyhf.workspace import build_workspace

EDGES = np.linspace(80.0, 250.0, 35)
CENTERS = 0.5 * (EDGES[1:] + EDGES[:-1])
SIGNAL = 8.0 * np.exp(-0.5 * ((CENTERS - 125.0) / 3.0) ** 2) / 2.0 + 1e-3
BACKGROUND = (
    3.0
    + 20.0 * np.exp(-0.5 * ((CENTERS - 91.0) / 4.0) ** 2)
    + 3.0 / (1 + np.exp(-(CENTERS - 185.0) / 6.0))
)
DATA = np.random.default_rng(7).poisson(1.4 * SIGNAL + 1.3 * BACKGROUND).astype(float)


def _texts(fig: matplotlib.figure.Figure) -> str:
    parts = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        parts += [t.get_text() for t in ax.texts]
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


def test_garwood_interval_matches_hist() -> None:
    n = np.array([0.0, 1.0, 3.0, 10.0, 57.0])
    low, high = garwood_interval(n)
    ref = poisson_interval(n)
    np.testing.assert_allclose(low, ref[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(high, ref[1], rtol=1e-10)
    assert low[0] == 0.0
    assert high[0] == pytest.approx(1.8410216, rel=1e-6)


def test_plot_stacked_artists() -> None:
    fig = plot_stacked(
        EDGES, SIGNAL, BACKGROUND, DATA, signal_scale=1.5, background_scale=1.2, title="Pre-fit"
    )
    assert isinstance(fig, matplotlib.figure.Figure)
    (ax,) = fig.axes
    steps = [p for p in ax.patches if isinstance(p, StepPatch)]
    assert len(steps) == 3  # background fill, Higgs fill, outline
    np.testing.assert_allclose(steps[0].get_data().values, 1.2 * BACKGROUND)
    np.testing.assert_allclose(steps[1].get_data().values, 1.2 * BACKGROUND + 1.5 * SIGNAL)
    np.testing.assert_allclose(steps[1].get_data().baseline, 1.2 * BACKGROUND)
    np.testing.assert_allclose(steps[0].get_data().edges, EDGES)
    (container,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    x, y = container.lines[0].get_data()
    assert len(x) == 34
    np.testing.assert_allclose(x, CENTERS)
    np.testing.assert_allclose(y, DATA)
    assert ax.get_xlabel() == r"$m_{4\ell}$ [GeV]"
    assert ax.get_ylabel() == "Events / 5 GeV"
    assert ax.get_xlim() == (80.0, 250.0)
    assert ax.get_ylim()[1] > max(DATA)
    text = _texts(fig)
    assert "Higgs" in text
    assert "Background" in text
    assert "ATLAS Open Data" in text
    assert "10 fb" in text
    assert "Pre-fit" in text
    assert GENERATED_LABEL not in text


def test_plot_stacked_generated_caption_and_given_axes() -> None:
    fig = matplotlib.figure.Figure()
    ax = fig.add_subplot()
    out = plot_stacked(EDGES, SIGNAL, BACKGROUND, DATA, ax=ax, generated=True)
    assert out is fig
    assert GENERATED_LABEL in _texts(fig)
    assert "Pseudo-data" in _texts(fig)


def test_plot_stacked_rejects_mismatched_bins() -> None:
    with pytest.raises(ValueError, match="inconsistent bin counts"):
        plot_stacked(EDGES, SIGNAL[:-1], BACKGROUND, DATA)


def test_plot_postfit_uses_fit_values() -> None:
    fit = FitResult(
        labels=("s_b", "s_s"),
        bestfit=np.array([1.29, 1.39]),
        uncertainty=np.array([0.11, 0.9]),
        correlation=np.eye(2),
        twice_nll=100.0,
        converged=True,
        minos={"s_s": (-0.87, 1.16)},
    )
    fig = plot_postfit(EDGES, SIGNAL, BACKGROUND, DATA, fit)
    steps = [p for p in fig.axes[0].patches if isinstance(p, StepPatch)]
    np.testing.assert_allclose(steps[1].get_data().values, 1.29 * BACKGROUND + 1.39 * SIGNAL)
    text = _texts(fig)
    assert "Post-fit" in text
    assert "+1.16" in text  # Minos errors of s_s
    assert "0.11" in text  # Hesse error of s_b
    both = plot_prefit_postfit(EDGES, SIGNAL, BACKGROUND, DATA, fit, generated=True)
    assert len(both.axes) == 2
    assert both.axes[0].get_ylim() == both.axes[1].get_ylim()
    assert GENERATED_LABEL in _texts(both)


def test_plot_scan_1d_overlay() -> None:
    prof = _parabola_scan("s_s", 1.4, 0.8)
    cond = _parabola_scan("s_s", 1.4, 0.7, kind="conditional")
    grid = _parabola_scan("s_s", 2.0, 0.75, kind="conditional", statistic="pearson")
    fig = plot_scan_1d([prof, cond, grid])
    (ax,) = fig.axes
    curves = [ln for ln in ax.lines if len(ln.get_xdata()) == 61]
    assert len(curves) == 3
    np.testing.assert_allclose(curves[0].get_ydata(), prof.delta_twice_nll)
    fills = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(fills) == 1
    # the shaded band spans exactly the first scan's interval
    verts = fills[0].get_paths()[0].vertices
    assert verts[:, 0].min() == pytest.approx(0.6)
    assert verts[:, 0].max() == pytest.approx(2.2)
    # horizontal line at the level
    assert any(np.allclose(ln.get_ydata(), 1.0) and len(ln.get_ydata()) == 2 for ln in ax.lines)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == 4  # three curves + interval band
    assert any("conditional" in lab for lab in labels)
    assert any("chi^2" in lab for lab in labels)
    assert ax.get_xlabel() == "$s_s$"
    assert "chi^2" in ax.get_ylabel()
    assert ax.get_ylim()[0] == 0.0


def test_plot_scan_1d_single_and_errors() -> None:
    fig = plot_scan_1d(_parabola_scan("s_b", 1.3, 0.08), labels=["Likelihood"])
    assert fig.axes[0].get_xlabel() == "$s_b$"
    assert fig.axes[0].get_ylabel() == r"$-2\,\Delta\ln L$"
    with pytest.raises(ValueError, match="same parameter"):
        plot_scan_1d([_parabola_scan("s_s", 1.0, 1.0), _parabola_scan("s_b", 1.0, 0.1)])
    with pytest.raises(ValueError, match="labels"):
        plot_scan_1d([_parabola_scan("s_s", 1.0, 1.0)], labels=["a", "b"])


def test_plot_scan_2d_contours_and_orientation() -> None:
    like = _gaussian_scan_2d()
    grid = _gaussian_scan_2d("pearson", levels=(2.3,))
    fig = plot_scan_2d(like, other_contours=grid)
    ax = fig.axes[0]
    # report orientation: s_b horizontal, s_s vertical
    assert ax.get_xlabel() == "$s_b$"
    assert ax.get_ylabel() == "$s_s$"
    assert ax.get_xlim() == (1.0, 1.6)
    assert ax.get_ylim() == (0.0, 3.0)
    contours = [c for c in ax.collections if isinstance(c, ContourSet)]
    assert len(contours) == 2
    np.testing.assert_allclose(contours[0].levels, [2.30, 5.99])
    np.testing.assert_allclose(contours[1].levels, [2.3])
    (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    arr = np.asarray(mesh.get_array())
    assert arr.shape == (41, 31)  # (n s_s, n s_b): rows are the vertical axis
    assert arr.max() == pytest.approx(10.0)
    # the 68% contour of an exact ellipse reaches s_b = 1.3 ± 0.08·sqrt(2.30)
    seg = contours[0].allsegs[0][0]
    assert seg[:, 0].max() == pytest.approx(1.3 + 0.08 * np.sqrt(2.30), abs=2e-3)
    assert seg[:, 1].max() == pytest.approx(1.5 + 0.6 * np.sqrt(2.30), abs=2e-2)
    # best-fit marker at (s_b, s_s)
    markers = [ln for ln in ax.lines if ln.get_marker() == "o"]
    assert markers[0].get_xydata().tolist() == [[1.3, 1.5]]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("68.27%" in lab for lab in labels)
    assert any("95%" in lab for lab in labels)
    assert len(fig.axes) == 2  # map + colour bar


def test_plot_scan_2d_horizontal_first_parameter() -> None:
    fig = plot_scan_2d(_gaussian_scan_2d(), horizontal="s_s")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "$s_s$"
    (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert np.asarray(mesh.get_array()).shape == (31, 41)
    with pytest.raises(ValueError, match="horizontal"):
        plot_scan_2d(_gaussian_scan_2d(), horizontal="lumi")


def test_figures_save_and_reopen(tmp_path) -> None:
    figs = {
        "stack": plot_stacked(EDGES, SIGNAL, BACKGROUND, DATA, generated=True),
        "scan": plot_scan_1d(_parabola_scan("s_s", 1.4, 0.8)),
        "map": plot_scan_2d(_gaussian_scan_2d()),
    }
    for name, fig in figs.items():
        path = save_figure(fig, tmp_path / f"{name}.png", dpi=50)
        img = matplotlib.image.imread(path)
        assert img.ndim == 3
        assert img.shape[0] > 100
        assert img.shape[1] > 100
        assert img.std() > 0.01  # not a blank canvas


def test_plotting_leaves_global_style_alone() -> None:
    before = dict(mpl.rcParams)
    plot_stacked(EDGES, SIGNAL, BACKGROUND, DATA)
    plot_scan_2d(_gaussian_scan_2d())
    after = dict(mpl.rcParams)
    assert {k for k in before if before[k] != after[k]} == set()


def test_templates_from_workspace() -> None:
    spec = build_workspace(SIGNAL, BACKGROUND, DATA, measurement_name="hzz4l_generated")
    t = templates_from_workspace(spec)
    np.testing.assert_allclose(t.edges, EDGES)  # default configuration's binning
    assert t.edges_known
    np.testing.assert_allclose(t.signal, SIGNAL)
    np.testing.assert_allclose(t.background, BACKGROUND)
    np.testing.assert_allclose(t.data, DATA)
    assert t.generated
    assert t.lumi_fb == 10.0
    assert t.data_label == "Pseudo-data (generated)"

    real = build_workspace(SIGNAL, BACKGROUND, DATA, measurement_name="hzz4l")
    assert not templates_from_workspace(real).generated
    assert templates_from_workspace(real).data_label == "Data"  # origin not recorded
    assert (
        templates_from_workspace(real, provenance={"generated": False}).data_label
        == "ATLAS Open Data"
    )
    prov = {"edges": np.linspace(100, 270, 35).tolist(), "lumi_fb": 36.1, "generated": True}
    t2 = templates_from_workspace(real, provenance=prov)
    np.testing.assert_allclose(t2.edges, prov["edges"])
    assert t2.lumi_fb == 36.1
    assert t2.generated

    small = build_workspace(SIGNAL[:5], BACKGROUND[:5], DATA[:5])
    t3 = templates_from_workspace(small)
    assert not t3.edges_known
    assert t3.xlabel == "bin index"
    fig = plot_stacked(t3.edges, t3.signal, t3.background, t3.data, xlabel=t3.xlabel)
    assert fig.axes[0].get_ylabel() == "Events / bin"
    np.testing.assert_allclose(t3.edges, np.arange(6))


def test_templates_from_workspace_errors() -> None:
    spec = build_workspace(SIGNAL, BACKGROUND, DATA)
    spec["channels"][0]["samples"][0]["name"] = "higgs"
    with pytest.raises(WorkspaceError, match="no sample"):
        templates_from_workspace(spec)
    spec2 = build_workspace(SIGNAL, BACKGROUND, DATA)
    spec2["channels"].append(spec2["channels"][0])
    with pytest.raises(WorkspaceError, match="exactly one channel"):
        templates_from_workspace(spec2)
