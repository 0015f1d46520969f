"""The engine's −2 ln L equals pyhf's; its gradient and Hessian equal finite differences."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyhf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from higgs_pyhf.inference import engine
from higgs_pyhf.synthetic.workspaces import random_workspace, realistic_workspace

WORKSPACES = Path(__file__).resolve().parents[1] / "workspaces"
CODES = st.sampled_from(["code1", "code4"]), st.sampled_from(["code0", "code4p"])


@pytest.fixture(autouse=True)
def _numpy_backend():
    old = pyhf.get_backend()
    pyhf.set_backend("numpy")
    yield
    pyhf.set_backend(*old)


def _model(spec, normsys="code4", histosys="code4p"):
    ws = pyhf.Workspace(spec)
    settings_ = {"normsys": {"interpcode": normsys}, "histosys": {"interpcode": histosys}}
    model = ws.model(modifier_settings=settings_)
    return model, np.asarray(ws.data(model), dtype=float)


def _points(cm, rng, k, spread=1.0):
    lo, hi = cm.bounds.T
    center = cm.init
    width = np.minimum(hi - lo, 2.0 * spread) / 2.0
    low = np.maximum(lo, center - width)
    high = np.minimum(hi, center + width)
    x = rng.uniform(low, high, (k, cm.npars))
    return np.where(cm.fixed, cm.init, x)


def _pyhf_twice_nll(model, pars, data):
    return np.array([-2.0 * float(model.logpdf(p, d)[0]) for p, d in zip(pars, data, strict=True)])


@settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    seed=st.integers(0, 2**31 - 1),
    codes=st.tuples(*CODES),
    nch=st.integers(1, 3),
    nbins=st.integers(1, 5),
)
def test_twice_nll_equals_pyhf_on_random_workspaces(seed, codes, nch, nbins):
    spec = random_workspace(seed, n_channels=nch, n_bins=nbins, fixed_lumi=seed % 5 == 0)
    model, data = _model(spec, *codes)
    cm = engine.compile_model(model)
    rng = np.random.default_rng(seed)
    pars = _points(cm, rng, 4)
    toys = engine.sample_toys(cm, pars[0], 4, rng=rng)
    toys[0] = data
    ours = engine.twice_nll(cm, pars, toys)
    ref = _pyhf_twice_nll(model, pars, toys)
    ok = np.isfinite(ref)
    assert ok.any()
    np.testing.assert_allclose(ours[ok], ref[ok], rtol=1e-10, atol=0)
    nu_ref = np.array([model.expected_actualdata(p) for p in pars])
    np.testing.assert_allclose(engine.expected_main(cm, pars), nu_ref, rtol=1e-12, atol=1e-12)
    aux_ref = np.array([model.expected_auxdata(p) for p in pars])
    np.testing.assert_allclose(engine.expected_aux(cm, pars), aux_ref, rtol=1e-12, atol=0)
    # the compiled kernel (derivatives, fits) evaluates the same value and prediction
    d = engine.derivatives(cm, pars, toys)
    np.testing.assert_allclose(d.twice_nll[ok], ref[ok], rtol=1e-10, atol=0)
    assert np.array_equal(np.isfinite(d.twice_nll), np.isfinite(ours))
    np.testing.assert_allclose(d.nu, nu_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["hzz4l_generated.json", "hzz4l_generated_mcstat_lumi.json"])
def test_twice_nll_equals_pyhf_on_shipped_workspaces(name):
    spec = json.loads((WORKSPACES / name).read_text())
    model, data = _model(spec)
    cm = engine.compile_model(model)
    pars = _points(cm, np.random.default_rng(3), 6, spread=0.5)
    ref = _pyhf_twice_nll(model, pars, np.tile(data, (6, 1)))
    np.testing.assert_allclose(engine.twice_nll(cm, pars, data[None, :]), ref, rtol=1e-10)


def test_realistic_workspace_structure_and_value():
    spec = realistic_workspace(seed=4)
    model, data = _model(spec)
    cm = engine.compile_model(model)
    assert model.config.nmaindata == 68
    assert 130 <= model.config.npars <= 150
    kinds = {t for _, t in model.config.modifiers}
    assert kinds == {"normfactor", "lumi", "normsys", "histosys", "staterror", "shapesys"}
    pars = _points(cm, np.random.default_rng(5), 3, spread=0.3)
    ref = _pyhf_twice_nll(model, pars, np.tile(data, (3, 1)))
    np.testing.assert_allclose(engine.twice_nll(cm, pars, np.tile(data, (3, 1))), ref, rtol=1e-10)


def _finite_differences(cm, pars, data, eps=1e-6):
    p = cm.npars
    grad = np.zeros((pars.shape[0], p))
    hess = np.zeros((pars.shape[0], p, p))
    for i in range(p):
        e = np.zeros(p)
        e[i] = eps
        grad[:, i] = (
            engine.twice_nll(cm, pars + e, data) - engine.twice_nll(cm, pars - e, data)
        ) / (2 * eps)
        hess[:, :, i] = (
            engine.gradient(cm, pars + e, data) - engine.gradient(cm, pars - e, data)
        ) / (2 * eps)
    return grad, hess


@settings(
    max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(seed=st.integers(0, 2**31 - 1), codes=st.tuples(*CODES))
def test_gradient_and_hessian_equal_finite_differences(seed, codes):
    spec = random_workspace(seed, n_channels=2, n_bins=3)
    model, data = _model(spec, *codes)
    cm = engine.compile_model(model)
    rng = np.random.default_rng(seed)
    pars = _points(cm, rng, 3, spread=0.8)
    # keep away from the kinks of code 0/1 at α = 0 and of 4p/4 at |α| = 1
    pars = np.where(np.abs(pars) < 0.05, 0.3, pars)
    pars = np.where(np.abs(np.abs(pars) - 1.0) < 0.05, 0.7 * np.sign(pars), pars)
    pars = np.where(cm.fixed, cm.init, pars)
    toys = np.tile(data, (3, 1))
    value = engine.twice_nll(cm, pars, toys)
    if not np.all(np.isfinite(value)):
        return
    grad_fd, hess_fd = _finite_differences(cm, pars, toys)
    scale = 1.0 + np.abs(grad_fd).max()
    np.testing.assert_allclose(engine.gradient(cm, pars, toys), grad_fd, rtol=0, atol=1e-6 * scale)
    hess = engine.hessian(cm, pars, toys)
    np.testing.assert_allclose(hess, hess_fd, rtol=0, atol=1e-5 * (1.0 + np.abs(hess_fd).max()))
    np.testing.assert_allclose(hess, np.swapaxes(hess, 1, 2), rtol=1e-12, atol=1e-9)


def test_sampled_toys_have_the_expected_means():
    spec = random_workspace(11, n_channels=1, n_bins=3)
    model, _ = _model(spec)
    cm = engine.compile_model(model)
    toys = engine.sample_toys(cm, cm.init, 40_000, rng=np.random.default_rng(0))
    nu = engine.expected_main(cm, cm.init)[0]
    aux = engine.expected_aux(cm, cm.init)[0]
    mean = toys.mean(axis=0)
    np.testing.assert_allclose(mean[: cm.nmain], nu, rtol=5 * np.sqrt(1 / (40_000 * nu.min())))
    width = np.where(cm.con_kind == 1, cm.con_sigma, np.sqrt(aux))
    np.testing.assert_allclose(
        mean[cm.nmain :], aux, rtol=0, atol=5 * width.max() / np.sqrt(40_000)
    )
    np.testing.assert_allclose(toys[:, cm.nmain :].std(axis=0), width, rtol=0.03)
    np.testing.assert_array_equal(toys[:, : cm.nmain], np.round(toys[:, : cm.nmain]))
