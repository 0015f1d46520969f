"""Pulls, constraints and the pruned correlation matrix."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from higgs_pyhf.inference.engine import compile_model
from higgs_pyhf.inference.fit import fit
from higgs_pyhf.inference.pulls import (
    CorrelationResult,
    PullsResult,
    constraint_widths,
    correlations,
    pulls,
)
from higgs_pyhf.synthetic.workspaces import realistic_workspace
from higgs_pyhf.workspace import model_and_data

WS = Path(__file__).resolve().parents[1] / "workspaces" / "hzz4l_atlas_syst.json"


@pytest.fixture(scope="module")
def realistic():
    model, data = model_and_data(realistic_workspace(seed=1), validate=False)
    return model, data, fit(model, data)


def test_prefit_widths_from_the_constraints(realistic):
    model, data, _ = realistic
    cm = compile_model(model)
    w = constraint_widths(cm, data)
    labels = [cm.par_names[i] for i in w.indices]
    assert "s_s" not in labels
    assert "s_b" not in labels
    lumi = labels.index("lumi")
    assert w.center[lumi] == 1.0
    assert w.sigma[lumi] == pytest.approx(0.017)
    cfg = model.config
    # shapesys: Poisson constraint with tau = (nominal / sigma)^2, width 1/sqrt(tau)
    ps = cfg.param_set("shapesys_zjets_4l_a")
    sl = cfg.par_slice("shapesys_zjets_4l_a")
    for k, i in enumerate(range(sl.start, sl.stop)):
        if i in w.indices:
            j = list(w.indices).index(i)
            assert w.sigma[j] == pytest.approx(1 / np.sqrt(ps.factors[k]))
            assert w.center[j] == pytest.approx(1.0)
    # staterror: Gaussian with pyhf's relative widths
    st = cfg.param_set("staterror_4l_a")
    sl = cfg.par_slice("staterror_4l_a")
    j = list(w.indices).index(sl.start)
    assert w.sigma[j] == pytest.approx(st.sigmas[0])
    norm = labels.index("lep_eff")
    assert (w.center[norm], w.sigma[norm]) == (0.0, 1.0)


def test_pulls_and_constraints(realistic):
    model, data, fr = realistic
    res = pulls(model, data, fit_result=fr)
    assert len(res.parameters) == 143
    i = res.parameters.index("zz_shape")
    assert res.pull[i] == pytest.approx(fr.value("zz_shape"))
    assert res.constraint[i] == pytest.approx(fr.error("zz_shape"))
    assert 0 < res.constraint[i] < 1  # the data constrain the ZZ shape
    j = res.parameters.index("lumi")
    assert res.pull[j] == pytest.approx((fr.value("lumi") - 1) / 0.017)
    assert set(res.modifiers) == {"lumi", "normsys", "histosys", "staterror", "shapesys"}
    back = PullsResult.from_json(json.loads(json.dumps(res.to_json())))
    assert back.parameters == res.parameters
    np.testing.assert_array_equal(back.constraint, res.constraint)


def test_pulls_of_the_real_data_model():
    model, data = model_and_data(WS)
    res = pulls(model, data)
    assert sorted(res.parameters) == ["background_norm", "lumi", "signal_theory"]
    assert np.all(res.constraint <= 1.0 + 1e-9)


def test_correlations_pruned(realistic):
    *_, fr = realistic
    res = correlations(fr, threshold=0.1)
    assert "s_s" in res.parameters
    k = len(res.parameters)
    assert res.correlation.shape == (k, k)
    off = np.abs(res.correlation - np.eye(k))
    assert np.all(off.max(axis=1) > 0.1)
    assert k < len(fr.labels)
    everything = correlations(fr, threshold=0.0)
    assert len(everything.parameters) == len(fr.labels) - len(fr.fixed)
    back = CorrelationResult.from_json(json.loads(json.dumps(res.to_json())))
    assert back.parameters == res.parameters
    np.testing.assert_array_equal(back.correlation, res.correlation)
