"""Yields: linear propagation against sampling of the fit covariance, per-sample yields against pyhf."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from higgs_pyhf.inference.engine import compile_model, expected_main
from higgs_pyhf.inference.fit import fit
from higgs_pyhf.inference.yields import YieldsResult, covariance, yields
from higgs_pyhf.workspace import model_and_data

WS = Path(__file__).resolve().parents[1] / "workspaces" / "hzz4l_generated_syst_channels.json"
N_SAMPLES = 10_000


@pytest.fixture(scope="module")
def setup():
    model, data = model_and_data(WS)
    fr = fit(model, data)
    return model, data, fr, yields(model, data, fit_result=fr)


def _per_sample(cm, pars):
    """(B, S, N) yields of each sample: the other samples' templates zeroed."""
    out = []
    for s in range(cm.nominal.shape[0]):
        keep = np.zeros((cm.nominal.shape[0], 1))
        keep[s] = 1.0
        cs = cm._replace(
            nominal=cm.nominal * keep, hist_up=cm.hist_up * keep, hist_dn=cm.hist_dn * keep
        )
        out.append(expected_main(cs, pars))
    return np.stack(out, axis=1)


def test_per_sample_yields_equal_pyhf_by_sample(setup):
    model, _, fr, res = setup
    ref = np.asarray(model.main_model.expected_data(fr.bestfit, return_by_sample=True))
    np.testing.assert_allclose(res.postfit.samples, ref, rtol=1e-12, atol=1e-12)
    init = np.asarray(model.config.suggested_init(), dtype=float)
    ref0 = np.asarray(model.main_model.expected_data(init, return_by_sample=True))
    np.testing.assert_allclose(res.prefit.samples, ref0, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.postfit.total, ref.sum(axis=0), rtol=1e-12)


@pytest.mark.slow
def test_postfit_errors_equal_sampled_covariance_within_mc_error(setup):
    model, _data, fr, res = setup
    cm = compile_model(model)
    rng = np.random.default_rng(11)
    draws = rng.multivariate_normal(fr.bestfit, covariance(fr), size=N_SAMPLES)
    by_sample = _per_sample(cm, draws)  # (B, S, N)
    total = expected_main(cm, draws)  # (B, N): the engine's full prediction
    # relative MC error of a standard deviation from n draws: 1/sqrt(2n) = 0.7%; allow 4 of them
    rtol = 4.0 / np.sqrt(2 * N_SAMPLES)
    for c, (a, b) in enumerate(res.channel_bins):
        sampled = by_sample[:, :, a:b].sum(axis=2).std(axis=0, ddof=1)
        np.testing.assert_allclose(res.postfit.channel_sample_errors[c], sampled, rtol=rtol)
        sampled_total = total[:, a:b].sum(axis=1).std(ddof=1)
        assert res.postfit.channel_total_errors[c] == pytest.approx(sampled_total, rel=rtol)
    # single bins: histosys code 4p is quadratic inside |alpha| < 1, so a bin whose shape
    # variation is large against its yield responds non-linearly (up to ~6% here)
    busy = res.postfit.total > 5
    np.testing.assert_allclose(
        res.postfit.total_errors[busy], total.std(axis=0, ddof=1)[busy], rtol=0.1
    )


def test_prefit_errors_equal_sampled_constraints(setup):
    model, _data, _, res = setup
    cm = compile_model(model)
    w_idx = np.flatnonzero((cm.par_con >= 0) & ~cm.fixed)
    sig = np.zeros(cm.npars)
    ci = cm.par_con[w_idx]
    sig[w_idx] = cm.con_sigma[ci]  # only normal constraints in this workspace
    assert np.all(cm.con_kind == 1)
    rng = np.random.default_rng(12)
    draws = cm.init + rng.standard_normal((N_SAMPLES, cm.npars)) * sig
    total = expected_main(cm, draws)
    rtol = 4.0 / np.sqrt(2 * N_SAMPLES)
    for c, (a, b) in enumerate(res.channel_bins):
        sampled = total[:, a:b].sum(axis=1).std(ddof=1)
        assert res.prefit.channel_total_errors[c] == pytest.approx(sampled, rel=rtol)


def test_table_sums_and_data(setup):
    _, data, _, res = setup
    t = res.table()
    assert list(t) == list(res.channels)
    for c, ch in enumerate(res.channels):
        a, b = res.channel_bins[c]
        assert t[ch]["data"] == pytest.approx(float(np.sum(data[a:b])))
        post = t[ch]["postfit"]
        assert post["total"][0] == pytest.approx(sum(post[s][0] for s in res.samples))
        # correlated sum: not the quadrature sum of the sample errors
        assert post["total"][1] > 0


def test_markdown_latex_and_json_round_trip(setup):
    *_, res = setup
    md = res.to_markdown()
    assert md.startswith("| sample |")
    assert md.count("\n") == len(res.samples) + 4
    tex = res.to_latex()
    assert r"\begin{tabular}" in tex
    assert r"$\pm$" in tex
    assert r"\_" in tex
    back = YieldsResult.from_json(json.loads(json.dumps(res.to_json())))
    np.testing.assert_array_equal(back.postfit.total_errors, res.postfit.total_errors)
    assert back.channels == res.channels
    assert back.table() == res.table()
