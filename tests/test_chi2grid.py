from __future__ import annotations

import json

import numpy as np
import pyhf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import optimize, stats

from higgs_pyhf.build.report_workspace import build_workspace
from higgs_pyhf.errors import FitError, WorkspaceError
from higgs_pyhf.inference.chi2grid import (
    Chi2Minimum,
    ReportResult,
    before_fit,
    chi2_surface,
    grid_scan_1d,
    minimize_chi2,
    neyman_chi2,
    pearson_chi2,
    poisson_chi2,
    report_method,
    templates_from_workspace,
)
from higgs_pyhf.workspace import model_and_data


@pytest.fixture(scope="module")
def hists(report_histograms) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return report_histograms()


# ---------------------------------------------------------------------------
# A literal transcription of the report's code (section "Fitting s_s", etc.)
# ---------------------------------------------------------------------------


def calcChiSq(obs, preds, numParams):
    chiSq = np.sum(np.power((obs - preds), 2) / (preds))
    ndf = len(obs) - numParams
    return chiSq, ndf


def report_1d_cell(par_ar, prediction, H_data):
    """One of the report's 1-D cells: grid loop, Δχ² parabola, its roots at Δχ² = 1."""
    chi2_ar = np.empty(len(par_ar))
    minChi2 = 1000000
    mindof = 1
    bestFit = 0.0
    for k in range(0, len(par_ar)):
        pred = prediction(par_ar[k])
        chi2, dof = calcChiSq(H_data, pred, 1)
        chi2_ar[k] = chi2
        if chi2 < minChi2:
            minChi2 = chi2
            mindof = dof
            bestFit = par_ar[k]
    deltaChi2_ar = chi2_ar - minChi2
    z = np.polyfit(par_ar, deltaChi2_ar, 2)
    p = np.poly1d(z)
    y0 = 1.0
    crit = (p - y0).roots
    return (bestFit, np.abs(crit[0] - bestFit), minChi2 / mindof, deltaChi2_ar, crit)


def report_loops(H_125, H_bkg, H_data):
    out = {}
    chi2_before_fit, dof_before_fit = calcChiSq(H_data, H_125 + H_bkg, 0)
    out["before"] = (chi2_before_fit, dof_before_fit, chi2_before_fit / dof_before_fit)
    out["p_before"] = 1 - stats.chi2.cdf(chi2_before_fit, dof_before_fit)

    # Fitting s_s, then s_b (the report's two 1-D cells, the same loop on other grids)
    out["s_s"] = report_1d_cell(
        np.linspace(1.0, 3.0, 100), lambda s_s: (s_s * H_125) + (H_bkg), H_data
    )
    out["s_b"] = report_1d_cell(
        np.linspace(1.15, 1.4, 100), lambda s_b: (H_125) + (s_b * H_bkg), H_data
    )

    # Fitting s_s and s_b
    s_s_ar = np.linspace(0.1, 2.7, 100)
    s_b_ar = np.linspace(1.1, 1.5, 100)
    chi2_ar = np.empty((len(s_s_ar), len(s_b_ar)))
    bestFit_s_s = 0.0
    bestFit_s_b = 0.0
    minChi2 = 1000000
    mindof = 1
    for s_s in range(0, len(s_s_ar)):
        for s_b in range(0, len(s_b_ar)):
            pred = (s_s_ar[s_s] * H_125) + (s_b_ar[s_b] * H_bkg)
            chi2, dof = calcChiSq(H_data, pred, 2)
            chi2_ar[s_s, s_b] = chi2
            if chi2 < minChi2:
                minChi2 = chi2
                mindof = dof
                bestFit_s_s = s_s_ar[s_s]
                bestFit_s_b = s_b_ar[s_b]
    deltaChi2_ar = chi2_ar - minChi2
    true_deltaChi2_ar = deltaChi2_ar
    levels = [2.3]
    bf_point_index = [
        np.where(true_deltaChi2_ar == 0)[0][0],
        np.where(true_deltaChi2_ar == 0)[1][0],
    ]
    s_s_bf_CI_left = s_s_ar[np.where(deltaChi2_ar[:, bf_point_index[1]] <= levels[0])[0][0]]
    s_s_bf_CI_right = s_s_ar[np.where(deltaChi2_ar[:, bf_point_index[1]] <= levels[0])[0][-1]]
    s_b_bf_CI_left = s_b_ar[np.where(deltaChi2_ar[bf_point_index[0], :] <= levels[0])[0][0]]
    s_b_bf_CI_right = s_b_ar[np.where(deltaChi2_ar[bf_point_index[0], :] <= levels[0])[0][-1]]
    s_s_bf_unc_left = np.abs(bestFit_s_s - s_s_bf_CI_left)
    s_s_bf_unc_right = np.abs(bestFit_s_s - s_s_bf_CI_right)
    s_b_bf_unc_left = np.abs(bestFit_s_b - s_b_bf_CI_left)
    s_b_bf_unc_right = np.abs(bestFit_s_b - s_b_bf_CI_right)
    out["2d"] = {
        "best": (bestFit_s_s, bestFit_s_b),
        "index": bf_point_index,
        "delta": deltaChi2_ar,
        "ci": {"s_s": (s_s_bf_CI_left, s_s_bf_CI_right), "s_b": (s_b_bf_CI_left, s_b_bf_CI_right)},
        "unc": {
            "s_s": (s_s_bf_unc_left, s_s_bf_unc_right),
            "s_b": (s_b_bf_unc_left, s_b_bf_unc_right),
        },
        "chi2_per_dof": minChi2 / mindof,
        "min": minChi2,
    }
    # goodness of fit cell: chi2 of the data w.r.t. the best-fit means, df = nBins - 2
    means = bestFit_s_b * H_bkg + bestFit_s_s * H_125
    chi2_data = calcChiSq(H_data, means, 0)[0]
    df = len(H_data) - 2
    out["p_after"] = 1 - stats.chi2.cdf(chi2_data, df)
    return out


@pytest.mark.parametrize("seed", [20201, 7, 12345])
def test_report_method_equals_literal_loops(seed: int, report_histograms) -> None:
    sig, bkg, data = report_histograms(seed)
    ref = report_loops(sig, bkg, data)
    res = report_method(sig, bkg, data)
    tol = 1e-10

    assert res.before_fit.chi2 == pytest.approx(ref["before"][0], abs=tol)
    assert res.before_fit.dof == ref["before"][1] == 34
    assert res.before_fit.chi2_per_dof == pytest.approx(ref["before"][2], abs=tol)
    assert res.before_fit.p_value == pytest.approx(ref["p_before"], abs=tol)

    for name, one in (("s_s", res.s_s_1d), ("s_b", res.s_b_1d)):
        best, err, cpd, delta, crit = ref[name]
        assert one.scan.bestfit == best  # same grid point, exactly
        assert one.error == pytest.approx(err, abs=tol)
        assert one.fit.chi2_per_dof == pytest.approx(cpd, abs=tol)
        np.testing.assert_allclose(one.scan.delta_twice_nll, delta, rtol=0, atol=tol)
        np.testing.assert_allclose(one.roots, crit, rtol=0, atol=tol)
        assert one.roots[0] > one.roots[1]  # crit[0] is the upper root here, as documented
        assert one.fit.dof == 33

    two = res.scan_2d
    r2 = ref["2d"]
    assert two.scan.bestfit == r2["best"]
    assert list(two.best_index) == [int(i) for i in r2["index"]]
    np.testing.assert_allclose(two.scan.delta_twice_nll, r2["delta"], rtol=0, atol=tol)
    for p in ("s_s", "s_b"):
        assert two.slice_intervals[p] == pytest.approx(r2["ci"][p], abs=tol)
        assert two.errors[p] == pytest.approx(r2["unc"][p], abs=tol)
    assert two.fit.chi2_per_dof == pytest.approx(r2["chi2_per_dof"], abs=tol)
    assert two.fit.dof == 32
    assert res.after_fit.p_value == pytest.approx(ref["p_after"], abs=tol)


def test_grid_is_vectorized_and_configurable(hists) -> None:
    sig, bkg, data = hists
    xs, ys = np.linspace(0.5, 2.0, 7), np.linspace(1.0, 1.6, 5)
    surf = chi2_surface(sig, bkg, data, xs, ys)
    assert surf.shape == (7, 5)
    assert surf[3, 2] == pytest.approx(
        float(pearson_chi2(data, xs[3] * sig + ys[2] * bkg)), rel=1e-14
    )
    res = report_method(
        sig, bkg, data, s_s_2d=(0.5, 2.0, 7), s_b_2d=(1.0, 1.6, 5), s_s_1d=(0.0, 4.0, 11)
    )
    np.testing.assert_array_equal(res.scan_2d.scan.x_values, xs)
    assert res.s_s_1d.scan.values.size == 11
    # extents of the Δ ≤ 2.3 region contain the slice intervals
    for p in ("s_s", "s_b"):
        lo, hi = res.scan_2d.slice_intervals[p]
        elo, ehi = res.scan_2d.scan.intervals[p]
        assert elo <= lo <= hi <= ehi


@pytest.mark.parametrize("statistic", ["neyman", "poisson"])
def test_variants_on_the_same_grids(hists, statistic: str) -> None:
    sig, bkg, data = hists
    res = report_method(sig, bkg, data, statistic=statistic)
    func = {"neyman": neyman_chi2, "poisson": poisson_chi2}[statistic]
    xs, ys = res.scan_2d.scan.x_values, res.scan_2d.scan.y_values
    ref = np.array([[func(data, x * sig + y * bkg) for y in ys] for x in xs])
    np.testing.assert_allclose(
        res.scan_2d.scan.delta_twice_nll, ref - ref.min(), rtol=0, atol=1e-10
    )
    assert res.statistic == res.scan_2d.scan.statistic == statistic
    assert res.before_fit.chi2 == pytest.approx(float(func(data, sig + bkg)), rel=1e-14)


def test_neyman_zero_bins_use_unit_denominator() -> None:
    assert float(neyman_chi2([0.0, 4.0], [2.0, 2.0])) == pytest.approx(4.0 + 1.0)


def test_poisson_grid_equals_pyhf_delta_twice_nll(hists) -> None:
    sig, bkg, data = hists
    spec = build_workspace(sig, bkg, data)
    model, pdata = model_and_data(spec)
    xs = np.linspace(0.1, 2.7, 100)[::9]
    ys = np.linspace(1.1, 1.5, 100)[::9]
    ours = chi2_surface(sig, bkg, data, xs, ys, statistic="poisson")
    pars = np.asarray(model.config.suggested_init(), dtype=float)
    i_s, i_b = model.config.par_slice("s_s").start, model.config.par_slice("s_b").start
    ref = np.empty_like(ours)
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            pars[i_s], pars[i_b] = x, y
            ref[i, j] = float(np.asarray(pyhf.infer.mle.twice_nll(pars, pdata, model)).item())
    d_ours = ours - ours[0, 0]
    d_ref = ref - ref[0, 0]
    np.testing.assert_allclose(d_ours, d_ref, rtol=0, atol=1e-9)
    assert np.ptp(d_ref) > 10  # a non-trivial comparison


def test_zero_prediction_raises_fit_error(hists) -> None:
    sig, bkg, data = (a.copy() for a in hists)
    sig[5] = bkg[5] = 0.0
    for statistic in ("pearson", "poisson"):
        with pytest.raises(FitError, match=r"zero or negative prediction \(bins \[5\]\)"):
            report_method(sig, bkg, data, statistic=statistic)
        with pytest.raises(FitError, match="bins"):
            minimize_chi2(sig, bkg, data, statistic=statistic)
    # a grid reaching negative signal in signal-only bins: also an error, not NaN
    sig2, bkg2, data2 = hists
    with pytest.raises(FitError, match="zero or negative"):
        chi2_surface(sig2, bkg2 * 0 + np.where(sig2 > 1, 0.0, 1.0), data2, [-1.0, 1.0], [1.0])
    # Neyman stays finite (documented convention)
    assert np.all(np.isfinite(chi2_surface(sig, bkg, data, [1.0], [1.0], statistic="neyman")))


def test_unknown_statistic_and_parameter(hists) -> None:
    with pytest.raises(FitError, match="unknown statistic"):
        before_fit(*hists, statistic="gauss")
    with pytest.raises(FitError, match="unknown parameter"):
        grid_scan_1d(*hists, "mu", np.linspace(0, 1, 5))


def test_templates_from_workspace(hists, tmp_path) -> None:
    sig, bkg, data = hists
    spec = build_workspace(sig, bkg, data)
    s, b, d = templates_from_workspace(spec)
    np.testing.assert_array_equal(s, sig)
    np.testing.assert_array_equal(b, bkg)
    np.testing.assert_array_equal(d, data)
    path = tmp_path / "ws.json"
    path.write_text(json.dumps(spec))
    np.testing.assert_array_equal(templates_from_workspace(path)[2], data)

    with pytest.raises(WorkspaceError, match=r"sample 'signal' has modifiers .*lumi"):
        templates_from_workspace(build_workspace(sig, bkg, data, lumi_uncertainty=0.02))
    with pytest.raises(WorkspaceError, match="staterror"):
        templates_from_workspace(
            build_workspace(
                sig, bkg, data, mc_stat=True, signal_sumw2=sig * 0.01, background_sumw2=bkg * 0.01
            )
        )
    bad = json.loads(json.dumps(spec))
    bad["channels"][0]["samples"][1]["name"] = "ZZ"
    with pytest.raises(WorkspaceError, match=r"samples \['ZZ', 'signal'\]"):
        templates_from_workspace(bad)


def test_report_result_json_round_trip(hists) -> None:
    res = report_method(*hists)
    obj = json.loads(json.dumps(res.to_json()))
    back = ReportResult.from_json(obj)
    assert back.to_json() == res.to_json()
    summary = json.loads(json.dumps(res.summary()))
    assert summary["two_d"]["bestfit"]["s_s"] == res.scan_2d.scan.bestfit[0]


# ---------------------------------------------------------------------------
# Continuous minimization
# ---------------------------------------------------------------------------


def _independent_min(func, sig, bkg, data):
    res = optimize.minimize(
        lambda t: float(func(data, t[0] * sig + t[1] * bkg)),
        [1.0, 1.0],
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-13, "maxiter": 20000},
    )
    return res.x, res.fun


def _profile(func, sig, bkg, data, k, x):
    def f(q):
        t = [x, q] if k == 0 else [q, x]
        return float(func(data, t[0] * sig + t[1] * bkg))

    return optimize.minimize_scalar(
        f, bounds=(0.01, 5.0), method="bounded", options={"xatol": 1e-11}
    ).fun


@pytest.mark.parametrize("statistic", ["pearson", "neyman", "poisson"])
def test_minimize_chi2_against_independent(hists, statistic: str) -> None:
    sig, bkg, data = hists
    func = {"pearson": pearson_chi2, "neyman": neyman_chi2, "poisson": poisson_chi2}[statistic]
    res = minimize_chi2(sig, bkg, data, statistic=statistic)
    assert res.converged
    x_ref, f_ref = _independent_min(func, sig, bkg, data)
    assert res.fit.chi2 <= f_ref + 1e-10
    assert res.fit.chi2 == pytest.approx(f_ref, abs=1e-9)
    assert [res.bestfit["s_s"], res.bestfit["s_b"]] == pytest.approx(x_ref, abs=1e-4)
    assert res.fit.dof == 32
    assert res.fit.p_value == pytest.approx(stats.chi2.sf(res.fit.chi2, 32), rel=1e-12)
    for k, p in enumerate(("s_s", "s_b")):
        lo, hi = res.intervals[p]
        clo, chi = res.conditional_intervals[p]
        elo, ehi = res.contour_extents[p]
        assert elo < lo <= clo < res.bestfit[p] < chi <= hi < ehi
        # edges satisfy Δ(profile) = 1 and Δ(profile) = 2.30, with an independent profiler
        for edge in (lo, hi):
            assert _profile(func, sig, bkg, data, k, edge) - res.fit.chi2 == pytest.approx(
                1.0, abs=1e-6
            )
        for edge in (elo, ehi):
            assert _profile(func, sig, bkg, data, k, edge) - res.fit.chi2 == pytest.approx(
                2.30, abs=1e-6
            )
        # roughly symmetric, parabolic width ≈ half the Δ=1 interval at these counts
        assert res.parabolic_errors[p] == pytest.approx((hi - lo) / 2, rel=0.1)
    if statistic == "neyman":  # quadratic in the parameters: exactly parabolic
        for p in ("s_s", "s_b"):
            lo, hi = res.intervals[p]
            assert hi - res.bestfit[p] == pytest.approx(res.parabolic_errors[p], rel=1e-6)
    back = Chi2Minimum.from_json(json.loads(json.dumps(res.to_json())))
    assert back == res


def test_contour_extents_match_fine_grid(hists) -> None:
    sig, bkg, data = hists
    res = minimize_chi2(sig, bkg, data, statistic="pearson")
    xs = np.linspace(0.2, 2.4, 441)
    ys = np.linspace(1.1, 1.55, 451)
    delta = chi2_surface(sig, bkg, data, xs, ys) - res.fit.chi2
    inside = delta <= 2.30
    assert delta.min() >= -1e-9  # the continuous minimum is below every grid point
    ext_s = xs[inside.any(axis=1)][[0, -1]]
    ext_b = ys[inside.any(axis=0)][[0, -1]]
    assert res.contour_extents["s_s"] == pytest.approx(ext_s, abs=xs[1] - xs[0])
    assert res.contour_extents["s_b"] == pytest.approx(ext_b, abs=ys[1] - ys[0])


def test_minimize_bounds_and_missing_crossing(hists, caplog) -> None:
    sig, bkg, data = hists
    res = minimize_chi2(sig, bkg, data, bounds=((0.9, 1.3), (1e-6, 5.0)))
    assert 0.9 <= res.bestfit["s_s"] <= 1.3
    assert np.isnan(res.intervals["s_s"][0])
    assert np.isnan(res.intervals["s_s"][1])
    assert "beyond the bound" in caplog.text
    with pytest.raises(FitError, match="bounds"):
        minimize_chi2(sig, bkg, data, bounds=((1.0, 0.5), (0.1, 2.0)))


counts = arrays(float, 6, elements=st.integers(0, 40).map(float))
templates = arrays(float, 6, elements=st.floats(0.05, 30.0))


@settings(max_examples=30, deadline=None)
@given(
    sig=templates,
    bkg=templates,
    data=counts,
    statistic=st.sampled_from(["pearson", "neyman", "poisson"]),
)
def test_property_surface_and_minimum(sig, bkg, data, statistic) -> None:
    func = {"pearson": pearson_chi2, "neyman": neyman_chi2, "poisson": poisson_chi2}[statistic]
    xs, ys = np.linspace(0.1, 3.0, 9), np.linspace(0.2, 2.0, 7)
    surf = chi2_surface(sig, bkg, data, xs, ys, statistic=statistic)
    loop = np.array([[func(data, x * sig + y * bkg) for y in ys] for x in xs])
    np.testing.assert_allclose(surf, loop, rtol=1e-13, atol=1e-12)
    res = minimize_chi2(sig, bkg, data, statistic=statistic, bounds=((1e-3, 20.0), (1e-3, 20.0)))
    # the continuous minimum over a box containing the grid is never above a grid point
    assert res.fit.chi2 <= surf.min() + 1e-7 * max(1.0, surf.min())
    for p in ("s_s", "s_b"):
        lo, hi = res.intervals[p]
        clo, chi = res.conditional_intervals[p]
        # profiling can only widen (nan = beyond the bound)
        assert not lo > clo + 1e-9
        assert not hi < chi - 1e-9
