from __future__ import annotations

import numpy as np
import pyhf
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from higgs_pyhf.build.report_workspace import build_workspace
from higgs_pyhf.errors import FitError
from higgs_pyhf.inference import toys as T
from higgs_pyhf.inference.chi2grid import neyman_chi2, pearson_chi2, poisson_chi2
from higgs_pyhf.inference.engine import compile_model, expected_main
from higgs_pyhf.inference.engine.linear import linear_structure
from higgs_pyhf.inference.parameters import pyhf_state
from higgs_pyhf.inference.toys.chi2_fits import grid_statistic
from higgs_pyhf.inference.toys.runner import TOYS_PER_CALL, blocks_per_call, run_at
from higgs_pyhf.workspace import model_and_data


def report_like(scale: float = 1.0, seed: int = 7, **kw):
    edges = np.linspace(80, 250, 35)
    x = 0.5 * (edges[1:] + edges[:-1])
    b = scale * (
        25 * np.exp(-0.5 * ((x - 91) / 3.5) ** 2) + 2.5 + 3.5 / (1 + np.exp(-(x - 185) / 4))
    )
    s = scale * 8 * np.diff(stats.norm.cdf(edges, 125, 2))
    d = np.random.default_rng(seed).poisson(1.4 * s + 1.3 * b)
    return build_workspace(s, b, d, signal_sumw2=0.01 * s, background_sumw2=0.01 * b, **kw)


@pytest.fixture(scope="module")
def report_model():
    return model_and_data(report_like())


@pytest.fixture
def pyhf_minuit():
    old = pyhf.tensorlib, pyhf.optimizer
    yield
    pyhf.set_backend(*old)


def linear(model):
    """(constant, templates, bounds) of the two-normfactor model, via the engine."""
    cm = compile_model(model)
    ls = linear_structure(cm, ~cm.fixed, cm.init)
    assert ls is not None
    return ls.constant, ls.templates, cm.bounds[~cm.fixed], cm


# ----------------------------------------------------------------------------- sampling


def test_sampling_seed_blocks_and_global_state(report_model):
    model, _ = report_model
    pars = model.config.suggested_init()
    state = np.random.get_state()[1].copy()  # noqa: NPY002 - checking the legacy global RNG is untouched
    a = T.sample_toys(model, pars, ntoys=2500, seed=11)
    b = T.sample_toys(model, pars, ntoys=1200, seed=11)
    assert np.array_equal(a[:1200], b)
    assert not np.array_equal(a, T.sample_toys(model, pars, ntoys=2500, seed=12))
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002
    mean = model.expected_actualdata(pars)
    # Poisson moments within 5 sigma of the MC error
    np.testing.assert_allclose(a.mean(0), mean, atol=5 * np.sqrt(mean.max() / a.shape[0]))
    g = T.sample_toys(model, pars, ntoys=4000, seed=1, sampling="gaussian")
    np.testing.assert_allclose(g.var(0) / mean, 1.0, atol=5 * np.sqrt(2 / 4000))
    small = build_workspace([0.1, 0.1], [0.2, 0.3], [0, 1])
    m2, _ = model_and_data(small)
    keep = T.sample_toys(m2, m2.config.suggested_init(), ntoys=500, seed=0, sampling="gaussian")
    clip = T.sample_toys(
        m2, m2.config.suggested_init(), ntoys=500, seed=0, sampling="gaussian", negative="clip"
    )
    assert (keep < 0).any()
    assert np.array_equal(clip, np.maximum(keep, 0))


def test_aux_sampling_gaussian_width():
    model, _ = model_and_data(report_like(mc_stat=True, lumi_uncertainty=0.05))
    toys = T.sample_toys(model, model.config.suggested_init(), ntoys=4000, seed=2)
    aux = toys[:, model.config.nmaindata :]
    lumi = aux[:, 0]  # auxdata_order: lumi first
    assert lumi.mean() == pytest.approx(1.0, abs=5 * 0.05 / np.sqrt(4000))
    assert lumi.std() == pytest.approx(0.05, rel=0.05)
    fixed = T.sample_toys(model, model.config.suggested_init(), ntoys=10, seed=2, aux="fixed")
    assert np.array_equal(fixed[:, model.config.nmaindata :], np.ones((10, aux.shape[1])))


# ----------------------------------------------------------------------------- batched fits


def test_grid_statistic_matches_chi2grid(report_model):
    model, _data = report_model
    c, t, _, _ = linear(model)
    n = T.sample_toys(model, model.config.suggested_init(), ntoys=7, seed=3)[:, :34]
    grid = np.array([[1.2, 0.5], [1.3, 1.4], [1.5, 2.7]])
    # the grid's columns follow pyhf's parameter order (s_b, s_s)
    pars = np.zeros((3, 2))
    order = [model.config.par_slice(p).start for p in ("s_b", "s_s")]
    pars[:, order] = grid
    nu = np.array([model.expected_actualdata(x) for x in pars])
    for stat, ref in (
        ("pearson", pearson_chi2),
        ("neyman", neyman_chi2),
        ("likelihood", poisson_chi2),
    ):
        got = grid_statistic(c, t, n, grid, stat)
        want = ref(n[:, None, :], nu[None, :, :])
        np.testing.assert_allclose(got, want, rtol=1e-10)


def _scipy_min(func, n, model):
    """Independent reference: Nelder-Mead on the chi2 itself (L-BFGS-B line searches hit ν = 0)."""

    def fun(th):
        nu = np.asarray(model.expected_actualdata(th))
        return float(func(n, nu)) if np.all(nu > 0) else 1e300

    opts = {"xatol": 1e-11, "fatol": 1e-13, "maxiter": 20_000}
    bounds = model.config.suggested_bounds()
    return optimize.minimize(fun, np.ones(2), method="Nelder-Mead", bounds=bounds, options=opts)


@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**32 - 1), nbins=st.integers(4, 10), mc_stat=st.booleans())
def test_batched_equals_pyhf_fits(pyhf_minuit, seed, nbins, mc_stat):
    rng = np.random.default_rng(seed)
    s = rng.uniform(0.5, 15, nbins)
    b = rng.uniform(2, 40, nbins)
    spec = build_workspace(
        s, b, np.round(s + b), signal_sumw2=0.02 * s, background_sumw2=0.01 * b, mc_stat=mc_stat
    )
    model, _ = model_and_data(spec)
    toys = T.sample_toys(model, model.config.suggested_init(), ntoys=3, seed=seed)
    main = toys[:, :nbins]
    free = T.fit_toys(model, toys)
    cond = T.fit_toys(model, toys, fixed={"s_s": 0.5})
    i_ss = free.names.index("s_s")
    for i in range(3):
        data = toys[i]
        # best fit: pyhf with a tight scipy optimizer (minuit stops at EDM ~1e-6 relative)
        pyhf.set_backend("numpy", pyhf.optimize.scipy_optimizer(tolerance=1e-14))
        bf = np.asarray(pyhf.infer.mle.fit(data, model))
        np.testing.assert_allclose(free.bestfit[i], bf, rtol=1e-6, atol=1e-6)
        # twice_nll differences against pyhf/minuit fits
        pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(tolerance=1e-10, strategy=2))
        _, tn_free = pyhf.infer.mle.fit(data, model, return_fitted_val=True)
        _, tn_cond = pyhf.infer.mle.fixed_poi_fit(0.5, data, model, return_fitted_val=True)
        ours = cond.value[i] - free.value[i]
        assert ours == pytest.approx(float(tn_cond - tn_free), rel=1e-6, abs=1e-7)
        assert free.bestfit[i, i_ss] >= 0
    # Pearson / Neyman against scipy on the χ² itself (no staterror)
    if not mc_stat:
        for stat, func in (("pearson", pearson_chi2), ("neyman", neyman_chi2)):
            r = T.fit_toys(model, toys, statistic=stat)
            for i in range(3):
                ref = _scipy_min(func, main[i], model)
                assert r.value[i] <= ref.fun * (1 + 1e-9) + 1e-9
                if ref.fun - r.value[i] < 1e-7:  # Nelder-Mead can stall on a bound, higher
                    np.testing.assert_allclose(r.bestfit[i], ref.x, rtol=2e-5, atol=2e-5)
    else:
        with pytest.raises(FitError, match="normfactors"):
            T.fit_toys(model, toys, statistic="pearson")


def test_bounds_respected_and_zero_toys(report_model):
    model, _ = report_model
    cm = compile_model(model)
    toys = np.zeros((2, 34 + cm.naux))
    toys[:, 34:] = cm.aux_nominal
    r = T.fit_toys(model, toys)
    assert np.all(r.bestfit >= cm.bounds[:, 0])
    assert np.all(r.converged)
    # no events: every normfactor at its lower bound 0, ν = 0, −2lnL = 0
    np.testing.assert_allclose(expected_main(cm, r.bestfit), 0.0, atol=1e-9)
    with pytest.raises(FitError, match="non-negative"):
        T.fit_toys(model, -np.ones((1, 34 + cm.naux)))


# ----------------------------------------------------------------------------- studies


def test_chunking_and_workers_identical(report_model):
    model, data = report_model
    kw = {"ntoys": 2300, "seed": 5, "block_size": 500}
    ref = T.coverage_toys(model, data, **kw).to_json()
    assert T.coverage_toys(model, data, blocks_per_chunk=1, **kw).to_json() == ref
    assert T.coverage_toys(model, data, workers=4, **kw).to_json() == ref
    assert T.coverage_toys(model, data, workers=4, pool="threads", **kw).to_json() == ref


@pytest.mark.parametrize("nuisances", [False, True])
def test_threads_processes_and_chunks_give_the_same_bits(report_model, nuisances):
    # 40 blocks of 100 toys, 5 blocks per call: chunks of 1 block are rounded up to whole
    # calls, chunks of 7 to 10 blocks; the compiled kernel (no nuisances) and the general
    # engine (lumi and staterror) on 2 threads, 2 processes and in this process
    if nuisances:
        model, data = model_and_data(report_like(lumi_uncertainty=0.02, mc_stat=True))
    else:
        model, data = report_model
    ntoys = 1000 if nuisances else 4000
    kw = {"ntoys": ntoys, "seed": 12, "block_size": ntoys // 40}
    assert blocks_per_call(ntoys, ntoys // 40) == 5
    ref = T.gof_toys(model, data, **kw)
    for extra in (
        {"workers": 2, "pool": "threads"},
        {"workers": 2, "pool": "processes"},
        {"blocks_per_chunk": 1},
        {"blocks_per_chunk": 7, "workers": 2, "pool": "threads"},
    ):
        other = T.gof_toys(model, data, **kw, **extra)
        np.testing.assert_array_equal(other.toy_values, ref.toy_values)
        assert other.to_json() == ref.to_json()
    assert ref.n_failed == 0


def _call_of_each_toy(tm, toys, payload):
    """Per toy: the size of its call and the first count of the call's first toy."""
    m = toys.shape[0]
    return {"size": np.full(m, float(m)), "first": np.full(m, toys[0, 0])}


def test_every_call_sees_the_same_toys_for_any_chunking(report_model):
    tm = T.toy_model(report_model[0])
    kw = {"payload": {}, "ntoys": 3950, "seed": 3, "block_size": 100}
    ref = run_at(_call_of_each_toy, tm, tm.cm.init, **kw)
    assert sorted(set(ref["size"])) == [450.0, 500.0]  # 7 calls of 5 blocks, the last cut
    for extra in (
        {"blocks_per_chunk": 1},
        {"blocks_per_chunk": 7, "workers": 2, "pool": "threads"},
        {"workers": 3, "pool": "processes"},
    ):
        out = run_at(_call_of_each_toy, tm, tm.cm.init, **kw, **extra)
        for key, want in ref.items():
            np.testing.assert_array_equal(out[key], want)


def test_calls_group_blocks_by_study_size_only():
    assert blocks_per_call(10_000, 1000) == 1  # 10 blocks: one per call, work for 8+ workers
    assert blocks_per_call(1_000_000, 1000) == TOYS_PER_CALL // 1000
    assert blocks_per_call(50, 1) == 6  # at least 8 calls
    assert blocks_per_call(10**6, 10**5) == 1  # blocks larger than a call: one per call


@pytest.mark.slow
def test_localcluster_identical(report_model):
    distributed = pytest.importorskip("distributed")
    model, data = report_model
    kw = {
        "ntoys": 2300,
        "seed": 5,
        "block_size": 500,
        "statistic": "pearson",
        "minimization": "grid",
    }
    ref = T.coverage_toys(model, data, **kw).to_json()
    four = T.coverage_toys(model, data, workers=4, **kw).to_json()
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        dask = T.coverage_toys(model, data, scheduler=cluster.scheduler_address, **kw).to_json()
    assert four == ref
    assert dask == ref


@pytest.mark.slow
def test_wilks_two_normfactors_high_counts():
    model, data = model_and_data(report_like(scale=50.0))
    r = T.coverage_toys(
        model, data, ntoys=20_000, seed=2026, sampling="poisson", statistic="likelihood"
    )
    lo, hi = r.critical_value_band
    half = (hi - lo) / 2
    expected = stats.chi2.ppf(T.CONFIDENCE_68, 2)
    assert expected == pytest.approx(2.2958, abs=1e-4)
    # 2.30 within 2.5 times the binomial (order-statistics) uncertainty of the toy quantile
    assert abs(r.critical_value - expected) < 2.5 * half
    assert abs(r.coverage_at_expected - T.CONFIDENCE_68) < 3 * r.coverage_at_expected_error
    assert r.n_failed == 0


def test_coverage_table_pins_the_pearson_bias(report_model):
    model, data = report_model
    tab = T.coverage_table(model, data, ntoys=2000, seed=1)
    rows = {r["label"]: r for r in tab.rows}
    report = rows["report (gaussian, pearson, grid)"]["critical_value"]
    textbook = rows["textbook (poisson, likelihood, continuous)"]["critical_value"]
    likelihood_grid = rows["likelihood statistic (negatives clipped)"]["critical_value"]
    continuous = rows["continuous minimization"]["critical_value"]
    assert report > 3.0  # the report's inflated value
    assert textbook == pytest.approx(2.30, abs=0.15)
    assert likelihood_grid == pytest.approx(2.30, abs=0.15)  # switching only the statistic fixes it
    assert continuous == pytest.approx(report, abs=0.05)  # the grid is not the cause
    assert "| report" in tab.to_markdown()


def test_gof_fixed_and_refit(report_model):
    model, data = report_model
    g = T.gof_toys(model, data, ntoys=3000, seed=4, statistic="pearson", mode="fixed")
    assert g.ndof == 34
    # Pearson χ² of Poisson toys against their own means: mean = nbins exactly
    assert g.toy_values.mean() == pytest.approx(34, abs=4 * g.toy_values.std() / np.sqrt(3000))
    assert g.p_value == pytest.approx(np.mean(g.toy_values >= g.observed))
    assert g.p_value_error == pytest.approx(np.sqrt(g.p_value * (1 - g.p_value) / 3000))
    full = g.to_json(include_toys=True)
    assert T.GofResult.from_json(full).to_json(include_toys=True) == full
    # without the toys: rebuilt at the summary's histogram resolution, same histogram
    back = T.GofResult.from_json(g.to_json())
    assert back.toy_values.size == g.toy_values.size
    assert back.toy_summary()["quantiles"]["0.5"] == pytest.approx(
        g.toy_summary()["quantiles"]["0.5"], abs=2 * (g.toy_values.max() / 200)
    )
    r = T.gof_toys(model, data, ntoys=2000, seed=4, statistic="likelihood", mode="refit")
    assert r.ndof == 32
    assert r.p_value_asymptotic == pytest.approx(stats.chi2.sf(r.observed, 32))
    assert 0.0 < r.p_value < 1.0


def test_models_with_nuisances_run_on_the_engine_and_say_what_they_test():
    spec = report_like(lumi_uncertainty=0.02, mc_stat=True)
    m2, d2 = model_and_data(spec)
    r = T.coverage_toys(m2, d2, ntoys=300, seed=3, block_size=100)
    assert r.n_failed == 0
    assert r.parameters == ("s_b", "s_s")  # every free normfactor, pyhf order
    assert r.settings["profiled"][0] == "lumi"
    assert len(r.settings["profiled"]) == 1 + 34  # lumi and the staterror gammas
    g = T.gof_toys(m2, d2, ntoys=100, seed=3, block_size=100)
    assert g.ndof == 34 - 2  # lumi and γ are constrained: only s_s and s_b count
    assert g.n_failed == 0
    # toy fits equal per-toy pyhf/minuit fits (Δ of −2lnL between free and s_s = 0)
    toys = T.sample_toys(m2, m2.config.suggested_init(), ntoys=4, seed=9)
    free = T.fit_toys(m2, toys)
    cond = T.fit_toys(m2, toys, fixed={"s_s": 0.0})
    with pyhf_state(pyhf.optimize.minuit_optimizer(tolerance=1e-8)):
        for i, data in enumerate(toys):
            _, f = pyhf.infer.mle.fit(data, m2, return_fitted_val=True)
            _, c = pyhf.infer.mle.fixed_poi_fit(0.0, data, m2, return_fitted_val=True)
            assert free.value[i] == pytest.approx(float(f), abs=2e-6)
            assert cond.value[i] - free.value[i] == pytest.approx(float(c - f), abs=4e-6)


@pytest.mark.slow
def test_hypotest_matches_asymptotics_at_high_statistics():
    model, _ = model_and_data(report_like(scale=100.0))
    # data: background plus a 0.05x signal (s_s error ~0.05) (Asimov-like), so p0 and CLs(μ=0.5) are O(1%-30%)
    s = np.array(model.spec["channels"][0]["samples"][0]["data"])
    b = np.array(model.spec["channels"][0]["samples"][1]["data"])
    data = np.round(1.3 * b + 0.05 * s)
    r = T.hypotest_toys(model, data, poi_value=0.12, ntoys=4000, seed=8)
    # ~1e5 events: the asymptotic formulae are exact up to O(1/sqrt(N)) corrections to the
    # q distributions (relative ~1e-2 at these p-values, i.e. < 1e-3 absolute); the toys carry
    # a binomial MC error of ~3e-3: allow 3 MC sigma + 0.005 absolute
    assert r.cls == pytest.approx(r.cls_asymptotic, abs=3 * r.cls_error + 0.005)
    assert r.p0 == pytest.approx(r.p0_asymptotic, abs=3 * r.p0_error + 0.005)
    assert 0.005 < r.p0_asymptotic < 0.5
    assert 0.005 < r.cls_asymptotic < 0.5
    assert T.HypotestResult.from_json(r.to_json()) == r._replace(toys_qmu_sb=None, toys_qmu_b=None)


def test_bad_options(report_model):
    model, data = report_model
    with pytest.raises(FitError, match="sampling"):
        T.coverage_toys(model, data, ntoys=10, sampling="uniform")
    with pytest.raises(FitError, match="non-negative"):
        T.coverage_toys(model, data, ntoys=1000, sampling="gaussian", statistic="likelihood")
    with pytest.raises(FitError, match="grid"):
        T.coverage_toys(model, data, ntoys=10, minimization="grid", parameters=["s_s"])


def test_plots_draw_on_given_axes(report_model):
    import matplotlib.figure

    from higgs_pyhf.plotting.toys import plot_coverage, plot_gof

    model, data = report_model
    cov = T.coverage_toys(model, data, ntoys=500, seed=1)
    fig = matplotlib.figure.Figure()
    ax = fig.add_subplot()
    assert plot_coverage(cov, ax=ax) is fig
    assert any("2.30" in t.get_text() for t in ax.get_legend().get_texts())
    gof = T.gof_toys(model, data, ntoys=300, seed=1)
    new = plot_gof(gof, generated_label=True)
    assert new is not fig
    assert any("not ATLAS data" in t.get_text() for t in new.texts)
    assert T.CoverageResult.from_json(cov.to_json()).to_json() == cov.to_json()
