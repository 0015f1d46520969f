from __future__ import annotations

import numpy as np
import pyhf
import pytest
from scipy import optimize, special

from higgs_pyhf.build.report_workspace import build_workspace
from higgs_pyhf.errors import FitError
from higgs_pyhf.inference.fit import fit
from higgs_pyhf.inference.parameters import pyhf_state
from higgs_pyhf.inference.results import Scan1DResult, Scan2DResult
from higgs_pyhf.inference.scan import contour_intervals, scan_1d, scan_2d
from higgs_pyhf.synthetic import report_like_histograms
from higgs_pyhf.workspace import model_and_data


def report_like(
    seed: int = 5, scale: float = 1.0, width: float = 2.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return report_like_histograms(seed=seed, scale=scale, signal_width_gev=width)


def hand_twice_nll(s: float, b: float, sig: np.ndarray, bkg: np.ndarray, n: np.ndarray) -> float:
    nu = s * sig + b * bkg
    return float(2.0 * np.sum(nu - n * np.log(nu) + special.gammaln(n + 1.0)))


def hand_profile(s: float, sig: np.ndarray, bkg: np.ndarray, n: np.ndarray) -> float:
    """min over s_b of the hand-written −2lnL at fixed s_s (bounded scalar minimization)."""
    res = optimize.minimize_scalar(
        lambda b: hand_twice_nll(s, b, sig, bkg, n),
        bounds=(1e-6, 5.0),
        method="bounded",
        options={"xatol": 1e-11},
    )
    return float(res.fun)


def pyhf_fit(model, data, fixed=None, minos=()):
    """Independent reference: pyhf + minuit at tight tolerance; (-2lnL, bestfit, {par: (lo, hi)})."""
    init = np.asarray(model.config.suggested_init(), dtype=float)
    mask = list(model.config.suggested_fixed())
    for name, value in (fixed or {}).items():
        i = model.config.par_slice(name).start
        init[i], mask[i] = value, True
    with pyhf_state(pyhf.optimize.minuit_optimizer(tolerance=1e-7)):
        best, val, obj = pyhf.infer.mle.fit(
            data,
            model,
            init_pars=init.tolist(),
            fixed_params=mask,
            return_fitted_val=True,
            return_result_obj=True,
        )
        ends = {}
        for name in minos:
            i = model.config.par_slice(name).start
            pname = obj.minuit.parameters[i]
            obj.minuit.minos(pname)
            me = obj.minuit.merrors[pname]
            ends[name] = (float(best[i] + me.lower), float(best[i] + me.upper))
    return float(val), np.asarray(best), ends


@pytest.fixture(scope="module")
def simple():
    sig, bkg, n = report_like()
    model, data = model_and_data(build_workspace(sig, bkg, n))
    return model, data, sig, bkg, n


def test_profile_interval_endpoints_satisfy_delta_one(simple):
    model, data, sig, bkg, n = simple
    res = scan_1d(model, data, "s_s", n_points=41)
    lo, hi = res.interval
    assert lo < res.bestfit < hi
    s_hat, b_hat = optimize.minimize(
        lambda t: hand_twice_nll(t[0], t[1], sig, bkg, n),
        [1.0, 1.0],
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000},
    ).x
    fmin = hand_twice_nll(s_hat, b_hat, sig, bkg, n)
    for end in (lo, hi):
        assert hand_profile(end, sig, bkg, n) - fmin == pytest.approx(1.0, abs=1e-3)
    # Minos errors are the same profile-likelihood interval
    mres = fit(model, data, minos=["s_s"])
    mlo, mhi = mres.minos["s_s"]
    assert lo == pytest.approx(mres.value("s_s") + mlo, abs=2e-3)
    assert hi == pytest.approx(mres.value("s_s") + mhi, abs=2e-3)
    # the grid values agree with the independent profile too
    k = len(res.values) // 3
    assert res.delta_twice_nll[k] == pytest.approx(
        hand_profile(res.values[k], sig, bkg, n) - fmin, abs=1e-3
    )
    assert np.min(res.delta_twice_nll) >= 0


def test_conditional_interval_endpoints(simple):
    model, data, sig, bkg, n = simple
    best = fit(model, data)
    res = scan_1d(model, data, "s_b", kind="conditional", n_points=31)
    s_hat = best.value("s_s")
    fmin = best.twice_nll
    for end in res.interval:
        assert hand_twice_nll(s_hat, end, sig, bkg, n) - fmin == pytest.approx(1.0, abs=1e-3)


def test_conditional_narrower_than_profile_when_correlated():
    # a broad signal overlaps the background shape: strong anticorrelation
    sig, bkg, n = report_like(seed=2, scale=2000.0, width=25.0)
    model, data = model_and_data(build_workspace(sig, bkg, n))
    best = fit(model, data)
    i, j = best.labels.index("s_s"), best.labels.index("s_b")
    rho = best.correlation[i, j]
    assert rho < -0.3
    prof = scan_1d(model, data, "s_s", n_points=21)
    cond = scan_1d(model, data, "s_s", n_points=21, kind="conditional")
    wp = prof.interval[1] - prof.interval[0]
    wc = cond.interval[1] - cond.interval[0]
    assert wc < wp
    # Gaussian regime: conditional width = profile width × sqrt(1 − ρ²)
    assert wc / wp == pytest.approx(np.sqrt(1.0 - rho**2), rel=2e-2)


def test_high_count_profile_interval_equals_hesse():
    sig, bkg, n = report_like(seed=9, scale=3e4)  # ~10^6 events per bin in the Z peak
    assert n.max() > 5e5
    model, data = model_and_data(build_workspace(sig, bkg, n))
    best = fit(model, data)
    for par in ("s_s", "s_b"):
        res = scan_1d(model, data, par, n_points=21)
        lo, hi = res.interval
        err = best.error(par)
        assert res.bestfit - lo == pytest.approx(err, rel=2e-2)
        assert hi - res.bestfit == pytest.approx(err, rel=2e-2)


def test_no_crossing_gives_nan(simple):
    model, data, *_ = simple
    best = fit(model, data)
    s = best.value("s_s")
    res = scan_1d(model, data, "s_s", bounds=(s - 0.05, s + 5.0), n_points=21)
    assert np.isnan(res.interval[0])
    assert np.isfinite(res.interval[1])


def test_grid_of_the_two_normfactors_equals_pyhf_twice_nll(simple):
    model, data, *_ = simple
    res = scan_2d(model, data, ("s_s", "s_b"), n_points=(61, 41))
    assert res.delta_twice_nll.shape == (61, 41)
    best = fit(model, data)
    ref = min(best.twice_nll, float(np.min(res.delta_twice_nll + best.twice_nll)))
    rng = np.random.default_rng(0)
    idx_s, idx_b = model.config.par_slice("s_s").start, model.config.par_slice("s_b").start
    with pyhf_state():
        for _ in range(25):
            a, b = rng.integers(61), rng.integers(41)
            pars = np.zeros(2)
            pars[idx_s], pars[idx_b] = res.x_values[a], res.y_values[b]
            expected = float(pyhf.infer.mle.twice_nll(pars, data, model)[0]) - ref
            assert res.delta_twice_nll[a, b] == pytest.approx(expected, abs=1e-9)


def normsys_model(seed: int = 4):
    """A model our closed-form profiling does not cover: a normsys on the background."""
    sig, bkg, n = report_like(seed=seed)
    spec = build_workspace(sig, bkg, n, lumi_uncertainty=0.05)
    spec["channels"][0]["samples"][1]["modifiers"].append(
        {"name": "bkg_xsec", "type": "normsys", "data": {"hi": 1.1, "lo": 0.9}}
    )
    return model_and_data(spec)


def test_2d_profile_of_a_normsys_model_equals_pyhf_fits():
    model, data = normsys_model()
    xs, ys = np.linspace(0.5, 3.0, 5), np.linspace(1.1, 1.5, 4)
    prof = scan_2d(model, data, ("s_s", "s_b"), x_values=xs, y_values=ys)
    cond = scan_2d(model, data, ("s_s", "s_b"), x_values=xs, y_values=ys, kind="conditional")
    best_nll, _, _ = pyhf_fit(model, data)
    one, _, _ = pyhf_fit(model, data, fixed={"s_s": xs[1], "s_b": ys[2]})
    assert prof.delta_twice_nll[1, 2] == pytest.approx(one - best_nll, abs=2e-5)
    # profiling the nuisance parameters can only lower -2lnL
    assert np.all(prof.delta_twice_nll <= cond.delta_twice_nll + 1e-4)


def test_contour_intervals_on_an_ellipse():
    x = np.linspace(-3, 3, 301)
    y = np.linspace(-2, 2, 201)
    sx, sy = 1.0, 0.5
    z = (x[:, None] / sx) ** 2 + (y[None, :] / sy) ** 2
    (xl, xh), (yl, yh) = contour_intervals(x, y, z, 2.30)
    r = np.sqrt(2.30)
    assert (xl, xh) == pytest.approx((-r * sx, r * sx), abs=1e-3)
    assert (yl, yh) == pytest.approx((-r * sy, r * sy), abs=1e-3)
    # region open at the lower x edge
    (xl, xh), _ = contour_intervals(x[x > -1.0], y, z[x > -1.0], 2.30)
    assert np.isnan(xl)
    assert xh == pytest.approx(r, abs=1e-3)


def test_2d_intervals_high_count_equal_projection_of_hesse():
    sig, bkg, n = report_like(seed=8, scale=3e4)
    model, data = model_and_data(build_workspace(sig, bkg, n))
    best = fit(model, data)
    res = scan_2d(model, data, ("s_s", "s_b"), n_points=(151, 151))
    for par in ("s_s", "s_b"):
        lo, hi = res.intervals[par]
        err = best.error(par) * np.sqrt(2.30)
        c = best.value(par)
        assert c - lo == pytest.approx(err, rel=2e-2)
        assert hi - c == pytest.approx(err, rel=2e-2)


def test_results_round_trip(simple):
    model, data, *_ = simple
    r1 = scan_1d(model, data, "s_b", n_points=11, kind="conditional")
    back = Scan1DResult.from_json(r1.to_json())
    np.testing.assert_allclose(back.delta_twice_nll, r1.delta_twice_nll)
    assert back.interval == pytest.approx(r1.interval)
    r2 = scan_2d(model, data, ("s_s", "s_b"), n_points=(11, 9))
    back2 = Scan2DResult.from_json(r2.to_json())
    np.testing.assert_allclose(back2.delta_twice_nll, r2.delta_twice_nll)
    assert back2.parameters == ("s_s", "s_b")


def test_bad_inputs(simple):
    model, data, *_ = simple
    with pytest.raises(FitError, match="valid parameters"):
        scan_1d(model, data, "mu")
    with pytest.raises(FitError, match="kind"):
        scan_1d(model, data, "s_s", kind="marginal")
    with pytest.raises(FitError, match="two different"):
        scan_2d(model, data, ("s_s", "s_s"))
    with pytest.raises(FitError, match="at least 3"):
        scan_1d(model, data, "s_s", values=[1.0, 2.0])


def staterror_model():
    sig, bkg, n = report_like(seed=4)
    spec = build_workspace(
        sig, bkg, n, mc_stat=True, signal_sumw2=0.05 * sig, background_sumw2=0.3 * bkg
    )
    return model_and_data(spec)


def test_staterror_model_scans_equal_pyhf_fits():
    model, data = staterror_model()
    ref, _, ends = pyhf_fit(model, data, minos=["s_s"])
    one = scan_1d(model, data, "s_s", n_points=31)
    two = scan_2d(model, data, ("s_s", "s_b"), n_points=(31, 21))
    # the profile interval is minuit's Minos interval
    assert one.interval == pytest.approx(ends["s_s"], abs=2e-4)
    # grid points equal pyhf fits of the 34 γ with s_s, s_b fixed
    for a, b in [(3, 17), (27, 2)]:
        pt, _, _ = pyhf_fit(model, data, fixed={"s_s": two.x_values[a], "s_b": two.y_values[b]})
        assert two.delta_twice_nll[a, b] == pytest.approx(pt - ref, abs=2e-5)
    k = 5
    pt, _, _ = pyhf_fit(model, data, fixed={"s_s": one.values[k]})
    assert one.delta_twice_nll[k] == pytest.approx(pt - ref, abs=2e-5)


def test_lumi_model_scans_equal_pyhf_fits():
    sig, bkg, n = report_like(seed=6)
    spec = build_workspace(sig, bkg, n, lumi_uncertainty=0.05)
    model, data = model_and_data(spec)
    ref, _, ends = pyhf_fit(model, data, minos=["s_b"])
    res = scan_1d(model, data, "s_b", n_points=15)
    two = scan_2d(model, data, ("s_s", "s_b"), n_points=(9, 7))
    assert res.interval == pytest.approx(ends["s_b"], abs=2e-4)
    pt, _, _ = pyhf_fit(model, data, fixed={"s_s": two.x_values[2], "s_b": two.y_values[5]})
    assert two.delta_twice_nll[2, 5] == pytest.approx(pt - ref, abs=2e-5)


def test_normsys_model_interval_equals_minos():
    model, data = normsys_model(seed=6)
    res = scan_1d(model, data, "s_b", n_points=15)
    _, _, ends = pyhf_fit(model, data, minos=["s_b"])
    assert res.interval == pytest.approx(ends["s_b"], abs=2e-4)
    ours = fit(model, data, minos=["s_b"])
    assert ours.value("s_b") + ours.minos["s_b"][0] == pytest.approx(ends["s_b"][0], abs=2e-4)
    assert ours.value("s_b") + ours.minos["s_b"][1] == pytest.approx(ends["s_b"][1], abs=2e-4)


def test_scan_outside_bounds_is_an_error(simple):
    model, data, *_ = simple
    with pytest.raises(FitError, match="leaves its bounds"):
        scan_1d(model, data, "s_s", bounds=(-1.0, 2.0))
    with pytest.raises(FitError, match="leaves its bounds"):
        scan_2d(model, data, ("s_s", "s_b"), y_values=np.linspace(1.0, 6.0, 5))
