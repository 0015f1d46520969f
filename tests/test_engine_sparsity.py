"""The sparse derivatives of the engine on many-channel generated models (issue 19).

The kernel accumulates a bin's gradient and Hessian only over the globals
acting on it (:mod:`higgs_pyhf.inference.engine.sparsity`). Checked here on
generated workspaces made irregular on purpose (a sample missing from some
channels, histosys shifts that vanish in some bins, a sample with no yield in
a bin that a histosys shifts): the per-bin lists against the parameters the
prediction depends on, the gradient and Hessian against finite differences
of the numpy value, and a fit against pyhf with a tight minuit.
"""

from __future__ import annotations

import copy

import numpy as np
import pyhf
import pytest

from higgs_pyhf.inference import engine
from higgs_pyhf.inference.engine.hesse_blocks import covariance_blocks
from higgs_pyhf.inference.engine.kernel import kernel_model
from higgs_pyhf.inference.engine.newton import SHIFT_ABOVE
from higgs_pyhf.inference.parameters import pyhf_state
from higgs_pyhf.synthetic.scaling import n_parameters, scaling_workspace


def _irregular(
    n_channels: int, n_local: int, seed: int, *, empty_bin: bool = True, n_bins: int = 5
) -> dict:
    spec = scaling_workspace(n_channels, n_bins=n_bins, n_local=n_local, n_shared=2, seed=seed)
    spec = copy.deepcopy(spec)
    for c, channel in enumerate(spec["channels"]):
        if c % 3 == 1:  # the minor sample (and its minor_xsec) is absent here
            channel["samples"] = channel["samples"][:2]
        bkg = channel["samples"][1]
        for mod in bkg["modifiers"]:
            if mod["type"] == "histosys" and c % 2 == 0:  # no shift in the first bin
                mod["data"]["hi_data"][0] = mod["data"]["lo_data"][0] = bkg["data"][0]
        if c == 1 and empty_bin:  # no nominal background in the last bin, shifted by a histosys
            hs = next(m for m in bkg["modifiers"] if m["type"] == "histosys")
            hs["data"]["hi_data"][-1] = 3.0
            hs["data"]["lo_data"][-1] = 1.0
            bkg["data"][-1] = 0.0
            stat = next(m for m in bkg["modifiers"] if m["type"] == "staterror")
            stat["data"][-1] = 0.0
    return spec


def _model(spec):
    ws = pyhf.Workspace(spec)
    model = ws.model()
    return model, np.asarray(ws.data(model), dtype=float)


def test_each_bin_lists_the_globals_of_its_samples():
    n_ch, n_local = 7, 4
    cm = engine.compile_model(_model(scaling_workspace(n_ch, n_local=n_local, n_shared=2))[0])
    assert cm.npars == n_parameters(n_ch, n_local=n_local, n_shared=2)
    km = kernel_model(cm)
    names = [cm.par_names[p] for p in cm.global_par]
    for b in range(cm.nmain):
        got = {names[g] for g in km.bin_g[km.bin_g_start[b] : km.bin_g_start[b + 1]]}
        c = b // 5  # 5 bins per channel
        own = {f"sys_ch{c}_{j}" for j in range(n_local)}
        # mu, lumi, sig_theory, minor_xsec, 2 shared, the channel's own systematics
        assert got == {"mu", "lumi", "sig_theory", "minor_xsec", "shared_0", "shared_1"} | own
    assert km.t_max == 6 + n_local
    assert cm.global_par.size == 6 + n_ch * n_local


def test_each_bin_lists_every_global_its_prediction_depends_on():
    model, _ = _model(_irregular(9, 4, seed=4))
    cm = engine.compile_model(model)
    km = kernel_model(cm)
    base = cm.init.copy()
    nu0 = engine.expected_main(cm, base)[0]
    for g, p in enumerate(cm.global_par):
        x = base.copy()
        x[p] += 0.37
        moved = np.flatnonzero(engine.expected_main(cm, x)[0] != nu0)
        for b in moved:
            assert g in km.bin_g[km.bin_g_start[b] : km.bin_g_start[b + 1]], (cm.par_names[p], b)
    # the minor sample's normsys is absent from the channels without it
    g_minor = [cm.par_names[p] for p in cm.global_par].index("minor_xsec")
    lists = [set(km.bin_g[km.bin_g_start[b] : km.bin_g_start[b + 1]]) for b in range(cm.nmain)]
    assert [g_minor in lists[b] for b in range(0, cm.nmain, 5)] == [c % 3 != 1 for c in range(9)]


def test_sparse_derivatives_equal_finite_differences_on_a_many_channel_model():
    model, data = _model(_irregular(12, 4, seed=7))
    cm = engine.compile_model(model)
    assert cm.npars > 100
    assert cm.global_par.size > 50
    rng = np.random.default_rng(3)
    x = cm.init + np.where(cm.local_mask, 0.05, 0.6) * rng.uniform(-1.0, 1.0, cm.npars)
    x = np.where(np.abs(x) < 0.05, 0.3, x)  # away from the kinks of code 0/1 at α = 0
    x = np.where(cm.fixed, cm.init, x)[None, :]
    d = data[None, :]
    assert np.isfinite(engine.twice_nll(cm, x, d)).all()
    eps = 1e-6
    grad_fd = np.zeros(cm.npars)
    hess_fd = np.zeros((cm.npars, cm.npars))
    for i in range(cm.npars):
        e = np.zeros(cm.npars)
        e[i] = eps
        up, dn = engine.twice_nll(cm, x + e, d)[0], engine.twice_nll(cm, x - e, d)[0]
        grad_fd[i] = (up - dn) / (2 * eps)
        hess_fd[:, i] = (engine.gradient(cm, x + e, d) - engine.gradient(cm, x - e, d))[0] / (
            2 * eps
        )
    grad = engine.gradient(cm, x, d)[0]
    hess = engine.hessian(cm, x, d)[0]
    np.testing.assert_allclose(grad, grad_fd, rtol=0, atol=1e-6 * (1.0 + np.abs(grad_fd).max()))
    np.testing.assert_allclose(hess, hess_fd, rtol=0, atol=1e-6 * (1.0 + np.abs(hess_fd).max()))
    np.testing.assert_array_equal(hess, hess.T)
    # globals that never meet in a bin have no curvature between them
    km = kernel_model(cm)
    meet = np.zeros((cm.global_par.size,) * 2, dtype=bool)
    for b in range(cm.nmain):
        gs = km.bin_g[km.bin_g_start[b] : km.bin_g_start[b + 1]]
        meet[np.ix_(gs, gs)] = True
    h_gg = hess[np.ix_(cm.global_par, cm.global_par)]
    assert np.all(h_gg[~meet] == 0.0)
    assert np.count_nonzero(h_gg) < 0.3 * h_gg.size


@pytest.fixture
def _tight_minuit():
    old = pyhf.get_backend()
    pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(tolerance=1e-9, strategy=2))
    yield
    pyhf.set_backend(*old)


@pytest.mark.slow  # a MINUIT study (CI runs it)
@pytest.mark.usefixtures("_tight_minuit")
def test_fit_on_a_generated_many_channel_model_equals_tight_minuit():
    # (an empty bin shifted by a code-0 histosys, |α|-shaped, has two local minima)
    model, data = _model(_irregular(6, 4, seed=3, empty_bin=False))
    cm = engine.compile_model(model)
    res = engine.fit(cm, data)
    assert res.converged.all()
    assert not res.fallback.any()
    errors, _ = engine.hesse_errors(cm, res, data)
    ref, ref_val = pyhf.infer.mle.fit(data, model, return_fitted_val=True)
    excess = float(ref_val) - res.twice_nll[0]
    assert excess >= -1e-9
    free = res.free
    # minuit stops where its EDM estimate is small, Δθ/σ ≈ √(2·excess) from the minimum
    pull = np.abs(res.pars[0, free] - ref[free]) / errors[0, free]
    assert pull.max() <= max(1e-6, 2.0 * np.sqrt(2.0 * max(excess, 0.0))), (pull.max(), excess)
    # and started at the engine's minimum, minuit stays there to 1e-6 σ
    again, again_val = pyhf.infer.mle.fit(
        data, model, return_fitted_val=True, init_pars=res.pars[0].tolist()
    )
    assert abs(float(again_val) - res.twice_nll[0]) < 1e-9
    pull = np.abs(res.pars[0, free] - again[free]) / errors[0, free]
    assert pull.max() < 1e-6, pull.max()


@pytest.mark.slow  # a MINUIT study (CI runs it)
def test_fit_with_more_globals_than_the_eigen_floor_handles_equals_minuit():
    # 136 globals: a Schur matrix that is not positive definite is shifted (SHIFT_ABOVE)
    model, data = _model(_irregular(13, 10, seed=11, empty_bin=False, n_bins=3))
    cm = engine.compile_model(model)
    assert cm.global_par.size > SHIFT_ABOVE
    res = engine.fit(cm, data)
    assert res.converged.all()
    assert not res.fallback.any()
    # the same minimum from a start far from it
    far = np.where(cm.local_mask | cm.fixed, cm.init, cm.init + 1.5)
    again = engine.fit(cm, data, init=far)
    assert again.converged.all()
    assert abs(again.twice_nll[0] - res.twice_nll[0]) < 1e-9
    errors, _ = engine.hesse_errors(cm, res, data)
    free = res.free
    assert np.abs(again.pars[0, free] - res.pars[0, free]).max() < 1e-6 * errors[0, free].min()
    # minuit started at the engine's minimum stays there
    with pyhf_state(pyhf.optimize.minuit_optimizer(tolerance=1e-9, strategy=0)):
        ref, ref_val = pyhf.infer.mle.fit(
            data, model, return_fitted_val=True, init_pars=res.pars[0].tolist()
        )
    assert abs(float(ref_val) - res.twice_nll[0]) < 1e-9
    pull = np.abs(res.pars[0, free] - ref[free]) / errors[0, free]
    assert pull.max() < 1e-6, pull.max()


@pytest.mark.parametrize(("n_ch", "n_local", "n_bins"), [(12, 4, 5), (13, 10, 3)])
def test_block_covariance_equals_the_dense_inverse(n_ch, n_local, n_bins):
    model, data = _model(_irregular(n_ch, n_local, seed=5, n_bins=n_bins, empty_bin=False))
    cm = engine.compile_model(model)
    res = engine.fit(cm, data)
    free = res.free.copy()
    free[cm.par_names.index("lumi")] = False  # a fixed global and a fixed per-bin parameter
    free[np.flatnonzero(cm.local_mask)[3]] = False
    got = covariance_blocks(cm, res.pars[0], data, free)
    h = engine.hessian(cm, res.pars, data[None, :])[0]
    f = np.flatnonzero(free)
    ref = np.zeros_like(h)
    ref[np.ix_(f, f)] = 2.0 * np.linalg.inv(h[np.ix_(f, f)])
    sd = np.sqrt(np.diag(ref))
    sd[sd == 0.0] = 1.0
    np.testing.assert_allclose(got / np.outer(sd, sd), ref / np.outer(sd, sd), rtol=0, atol=1e-12)
    assert np.all(got[~free] == 0.0)
