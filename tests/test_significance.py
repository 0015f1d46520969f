from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyhf
import pytest
from scipy import optimize, special, stats

from higgs_pyhf.build.report_workspace import build_workspace
from higgs_pyhf.errors import FitError
from higgs_pyhf.inference.limits import UpperLimitResult, upper_limit
from higgs_pyhf.inference.parameters import pyhf_state
from higgs_pyhf.inference.significance import CLsResult, DiscoveryResult, cls, discovery
from higgs_pyhf.synthetic import report_like_histograms
from higgs_pyhf.workspace import model_and_data


def report_like(seed: int = 21) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return report_like_histograms(seed=seed)


@pytest.fixture(scope="module")
def workspace_file(tmp_path_factory) -> Path:
    sig, bkg, n = report_like()
    path = tmp_path_factory.mktemp("ws") / "ws.json"
    path.write_text(json.dumps(build_workspace(sig, bkg, n)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def simple(workspace_file):
    model, data = model_and_data(workspace_file)
    sig, bkg, n = report_like()
    return model, data, sig, bkg, n


def test_cls_equals_pyhf_cls_command(simple, workspace_file):
    model, data, *_ = simple
    ours = cls(model, data, poi_value=1.0)
    pyhf_exe = Path(sys.executable).with_name("pyhf")
    out = subprocess.run(
        [str(pyhf_exe), "cls", str(workspace_file)], capture_output=True, text=True, check=True
    )
    ref = json.loads(out.stdout)
    assert ours.cls_observed == pytest.approx(ref["CLs_obs"], rel=1e-6)
    # expected band from Asimov fits: minuit (ours) vs scipy (pyhf's default) agree to ~1e-5
    assert ours.cls_expected == pytest.approx(ref["CLs_exp"], rel=1e-4)
    assert list(ours.cls_expected) == sorted(ours.cls_expected)


def test_discovery_matches_hand_q0(simple):
    model, data, sig, bkg, n = simple

    def twice_nll(s, b):
        nu = s * sig + b * bkg
        return 2.0 * np.sum(nu - n * np.log(nu) + special.gammaln(n + 1.0))

    free = optimize.minimize(
        lambda t: twice_nll(*t),
        [1.0, 1.0],
        bounds=[(0, 10), (0.01, 5)],
        method="L-BFGS-B",
        options={"ftol": 1e-15, "gtol": 1e-10},
    )
    null = optimize.minimize_scalar(
        lambda b: twice_nll(0.0, b), bounds=(0.01, 5), method="bounded", options={"xatol": 1e-10}
    )
    assert free.x[0] > 0
    q0 = null.fun - free.fun
    res = discovery(model, data)
    assert res.z_observed == pytest.approx(np.sqrt(q0), abs=2e-3)
    assert res.p0_observed == pytest.approx(stats.norm.sf(np.sqrt(q0)), rel=1e-2)
    assert res.z_expected > 0
    assert DiscoveryResult.from_json(res.to_json()) == res


def test_upper_limit_root_and_scan(simple):
    model, data, *_ = simple
    before = pyhf.get_backend()
    res = upper_limit(model, data)
    assert pyhf.get_backend()[1] is before[1]
    assert res.method == "bisection"
    # pyhf's own root finding (TOMS 748) is the independent reference
    with pyhf_state(pyhf.optimize.minuit_optimizer(tolerance=1e-8)):
        obs, exp = pyhf.infer.intervals.upper_limits.upper_limit(data, model, level=0.05)
    assert res.observed == pytest.approx(float(obs), rel=2e-5)
    assert res.expected == pytest.approx([float(e) for e in exp], rel=2e-5)
    # CLs at the observed limit is the level
    at = cls(model, data, poi_value=res.observed)
    assert at.cls_observed == pytest.approx(0.05, abs=2e-4)
    assert list(res.expected) == sorted(res.expected)
    assert res.cls_expected.shape == (5, res.scan.size)
    assert np.all(np.diff(res.scan) > 0)
    # the linear-grid scan interpolates linearly in CLs between grid points: close, not equal
    grid = upper_limit(model, data, scan=np.linspace(0.0, 5.0, 21))
    assert grid.method == "scan"
    assert grid.observed == pytest.approx(res.observed, rel=5e-2)
    assert grid.expected[2] == pytest.approx(res.expected[2], rel=5e-2)
    back = UpperLimitResult.from_json(grid.to_json())
    np.testing.assert_allclose(back.cls_expected, grid.cls_expected)
    assert back.expected == pytest.approx(grid.expected)


def test_cls_round_trip_and_errors(simple):
    model, data, *_ = simple
    res = cls(model, data, poi_value=2.0)
    assert CLsResult.from_json(res.to_json()) == res
    with pytest.raises(FitError, match="level"):
        upper_limit(model, data, level=1.5)
    with pytest.raises(FitError, match="at least 2"):
        upper_limit(model, data, scan=[1.0])
