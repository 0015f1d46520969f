from __future__ import annotations

import numpy as np
import pytest
from _helpers import nuisance_workspace
from scipy import special, stats

from higgs_pyhf.build.report_workspace import build_workspace
from higgs_pyhf.errors import FitError
from higgs_pyhf.inference import gof as gof_mod
from higgs_pyhf.inference.fit import fit
from higgs_pyhf.inference.gof import GoodnessOfFit, goodness_of_fit
from higgs_pyhf.synthetic import report_like_histograms
from higgs_pyhf.workspace import model_and_data


def report_like(seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return report_like_histograms(seed=seed)


@pytest.fixture(scope="module")
def simple():
    sig, bkg, n = report_like()
    model, data = model_and_data(build_workspace(sig, bkg, n))
    return model, data, sig, bkg, n


def test_report_p_value_conventions():
    # the seed report: chi2/dof = 1.597845... before the fit with dof = 34 bins -> p = 0.014877;
    # chi2/dof = 1.038885... after the 2-parameter fit with dof = 32 -> p = 0.40642
    assert gof_mod._p_value(1.597845078902861 * 34, 34) == pytest.approx(0.014877, abs=5e-7)
    assert gof_mod._p_value(1.038884905786871 * 32, 32) == pytest.approx(0.40642, abs=5e-6)
    assert np.isnan(gof_mod._p_value(3.0, 0))


def test_goodness_of_fit_by_hand(simple):
    model, data, sig, bkg, n = simple
    res = goodness_of_fit(model, data)
    best = fit(model, data)
    s, b = best.value("s_s"), best.value("s_b")
    pre = sig + bkg
    post = s * sig + b * bkg
    assert res.n_bins == 34
    assert res.n_free == 2
    assert res.dof_prefit == 34
    assert res.dof_postfit == res.dof_saturated == 32
    assert res.pearson_chi2_prefit == pytest.approx(np.sum((n - pre) ** 2 / pre), rel=1e-12)
    assert res.pearson_chi2_postfit == pytest.approx(np.sum((n - post) ** 2 / post), rel=1e-6)
    assert res.p_value_prefit == pytest.approx(
        stats.chi2.sf(res.pearson_chi2_prefit, 34), rel=1e-12
    )
    assert res.p_value_postfit == pytest.approx(
        stats.chi2.sf(res.pearson_chi2_postfit, 32), rel=1e-12
    )
    # saturated: -2lnL(best fit) - (-2lnL with one free mean per bin, nu = n)
    nz = n > 0
    sat_twice_nll = 2.0 * np.sum(
        n - np.where(nz, n * np.log(np.where(nz, n, 1.0)), 0.0) + special.gammaln(n + 1)
    )
    assert res.saturated_chi2 == pytest.approx(best.twice_nll - sat_twice_nll, abs=1e-6)
    assert res.p_value_saturated == pytest.approx(stats.chi2.sf(res.saturated_chi2, 32), rel=1e-12)
    # fitting improves the agreement
    assert res.pearson_chi2_postfit < res.pearson_chi2_prefit


def test_fixed_parameter_counts_and_prefit_override(simple):
    model, data, *_ = simple
    one = fit(model, data, fixed={"s_s": 1.0})
    res = goodness_of_fit(model, data, fit_result=one, prefit={"s_b": 1.3})
    assert res.n_free == 1
    assert res.dof_postfit == 33
    assert res.prefit_parameters == {"s_b": 1.3, "s_s": 1.0}


def test_constrained_nuisances_do_not_count():
    sig, bkg, n = report_like(seed=1)
    model, data = model_and_data(nuisance_workspace(sig, bkg, n))
    res = goodness_of_fit(model, data)
    assert res.n_free == 2
    assert res.dof_postfit == 32
    assert 0 < res.p_value_saturated < 1


def test_round_trip_and_mismatched_fit(simple):
    model, data, sig, bkg, n = simple
    res = goodness_of_fit(model, data)
    obj = res.to_json()
    assert obj["chi2_per_dof_prefit"] == pytest.approx(res.pearson_chi2_prefit / 34)
    assert GoodnessOfFit.from_json(obj) == res
    other, other_data = model_and_data(build_workspace(sig, bkg, n, lumi_uncertainty=0.02))
    with pytest.raises(FitError, match="does not belong"):
        goodness_of_fit(model, data, fit_result=fit(other, other_data))
