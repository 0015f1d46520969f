"""workspace_from_hists: pyhf workspaces from hist.Hist objects, checked against pyhf."""

from __future__ import annotations

import numpy as np
import pyhf
import pytest
from _helpers import counts, weighted

import higgs_pyhf
from higgs_pyhf.build.hist_workspace import workspace_from_hists
from higgs_pyhf.errors import WorkspaceError
from higgs_pyhf.inference.fit import fit
from higgs_pyhf.workspace import model_and_data


def test_minimal_call_gives_a_valid_spec_with_staterror_from_variances():
    sig_var, bkg_var = [0.1, 0.2, 0.1], [4.0, 5.0, 3.0]
    h_sig, h_bkg = weighted([3.0, 6.0, 2.0], sig_var), weighted([30.0, 35.0, 20.0], bkg_var)
    h_data = counts([38, 47, 26])
    spec = higgs_pyhf.workspace_from_hists(
        {"SR": {"signal": h_sig, "background": h_bkg}},
        data={"SR": h_data},
        normfactors={"mu": ["signal"]},
        staterror=True,
        poi="mu",
    )
    assert isinstance(spec, dict)
    ws = pyhf.Workspace(spec)  # pyhf's schema validation
    model = ws.model()
    assert model.config.poi_name == "mu"
    samples = {s["name"]: s for s in spec["channels"][0]["samples"]}
    stat = {
        name: next(m for m in s["modifiers"] if m["type"] == "staterror")["data"]
        for name, s in samples.items()
    }
    np.testing.assert_allclose(stat["signal"], np.sqrt(sig_var), rtol=1e-12)
    np.testing.assert_allclose(stat["background"], np.sqrt(bkg_var), rtol=1e-12)
    assert ws.data(model, include_auxdata=False) == [38.0, 47.0, 26.0]
    # pyhf combines the per-sample errors in quadrature: the gamma constraint widths
    total = np.sqrt(np.add(sig_var, bkg_var)) / np.add([3.0, 6.0, 2.0], [30.0, 35.0, 20.0])
    sigmas = model.config.param_set("staterror_SR").sigmas
    np.testing.assert_allclose(sigmas, total, rtol=1e-12)


def two_channel_spec():
    sr = {
        "signal": weighted([3.0, 6.0, 2.0], [0.05, 0.1, 0.04]),
        "wjets": weighted([20.0, 25.0, 15.0], [2.0, 3.0, 1.5]),
        "ttbar": weighted([10.0, 12.0, 8.0], [1.0, 1.2, 0.8]),
    }
    cr = {
        "wjets": weighted([100.0, 80.0], [10.0, 8.0]),
        "ttbar": weighted([30.0, 20.0], [3.0, 2.0]),
    }
    return workspace_from_hists(
        {"SR": sr, "CR": cr},
        data={"SR": counts([38, 47, 26]), "CR": counts([125, 104])},
        poi="mu",
        normfactors={"mu": ["signal"], "wjets_norm": ["wjets"]},
        normsys={"bkg_norm": {"wjets": (0.9, 1.1)}},
        histosys={
            "jes": {
                "SR/ttbar": (counts([9.0, 11.5, 7.5]), counts([11.0, 12.5, 9.0])),
                "CR/ttbar": (counts([28.0, 19.0]), counts([32.0, 21.0])),
            }
        },
        staterror=["signal", "wjets", "ttbar"],
        lumi=0.02,
        lumi_samples=["signal", "ttbar"],
        bounds={"mu": (0.0, 8.0)},
    )


def test_two_channel_model_fits_as_pyhf_on_the_same_json():
    spec = two_channel_spec()
    ws = pyhf.Workspace(spec)
    model = ws.model()
    assert {"mu", "wjets_norm", "bkg_norm", "jes", "lumi", "staterror_SR", "staterror_CR"} <= set(
        model.config.parameters
    )
    assert model.config.suggested_bounds()[model.config.poi_index] == [0.0, 8.0]
    lumi = model.config.param_set("lumi")
    assert lumi.sigmas == [0.02]
    data = np.asarray(ws.data(model))
    ours = fit(*model_and_data(spec))
    backend, optimizer = pyhf.get_backend()
    try:
        pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(tolerance=1e-9, strategy=2))
        best, twice_nll = pyhf.infer.mle.fit(data, model, return_fitted_val=True)
    finally:
        pyhf.set_backend(backend, optimizer)
    assert ours.twice_nll == pytest.approx(float(twice_nll), abs=1e-6)
    # the minimum itself: pyhf's −2lnL at our best fit equals its own minimum to 1e-6
    ours_pars = np.array([ours.value(lab) for lab in ours.labels])
    at_ours = float(pyhf.infer.mle.twice_nll(ours_pars, data, model)[0])
    assert at_ours == pytest.approx(float(twice_nll), abs=1e-6)
    # parameters: to minuit's own precision at this tolerance (measured 1.4e-6)
    np.testing.assert_allclose(ours_pars, np.asarray(best), rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        pytest.param({"normfactors": {"mu": ["sig"]}}, "no sample 'sig'", id="unknown-sample"),
        pytest.param({"data": {"SR": counts([1, 2, 3])}}, "different bin counts", id="bin-counts"),
        pytest.param({"poi": "nu"}, "POI 'nu'", id="unknown-poi"),
        pytest.param(
            {"samples": {"SR": {"signal": [1.0, 2.0]}}, "data": {"SR": [1, 2]}, "staterror": True},
            "variances",
            id="staterror-without-variances",
        ),
        pytest.param(
            {"samples": {"SR": {"signal": object()}}, "data": {"SR": [1]}},
            "expected a histogram",
            id="not-a-histogram",
        ),
    ],
)
def test_bad_inputs_are_workspace_errors(change, match):
    """One valid call (sample 'signal' in 'SR', normfactor 'mu') with one thing made wrong."""
    valid = {
        "samples": {"SR": {"signal": weighted([1.0, 2.0], [1.0, 2.0])}},
        "data": {"SR": counts([1, 2])},
        "normfactors": {"mu": ["signal"]},
        "poi": "mu",
    }
    with pytest.raises(WorkspaceError, match=match):
        workspace_from_hists(**{**valid, **change})


def test_fixed_and_inits_reach_the_measurement():
    h = weighted([1.0, 2.0], [1.0, 2.0])
    spec = workspace_from_hists(
        {"SR": {"signal": h, "bkg": weighted([5.0, 5.0], [1.0, 1.0])}},
        data={"SR": counts([6, 7])},
        normfactors={"mu": ["signal"], "k": ["bkg"]},
        fixed={"k": 1.5},
        inits={"mu": 2.0},
        poi="mu",
    )
    model = pyhf.Workspace(spec).model()
    assert model.config.suggested_fixed()[model.config.par_slice("k").start]
    assert model.config.suggested_init()[model.config.par_slice("k").start] == 1.5
    assert model.config.suggested_init()[model.config.poi_index] == 2.0
