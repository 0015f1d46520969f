"""Toy-based CLs upper limit (toys limit): interpolation, asymptotic agreement, CLI = API."""

from __future__ import annotations

import json

import numpy as np
import pyhf
import pytest
from click.testing import CliRunner

import higgs_pyhf
from higgs_pyhf.cli import main
from higgs_pyhf.errors import FitError
from higgs_pyhf.inference.limits import upper_limit
from higgs_pyhf.inference.toys import ToyLimitResult, toy_upper_limit
from higgs_pyhf.inference.toys.limit import crossing
from higgs_pyhf.workspace import save_workspace


def test_crossing_is_the_linear_interpolation_of_the_first_fall_below_the_level():
    assert crossing([0, 1, 2, 3], [1.0, 0.5, 0.04, 0.01], 0.05) == pytest.approx(1 + 0.45 / 0.46)
    assert crossing([0, 1, 2], [1.0, 0.5, 0.2], 0.05) is None
    assert crossing([0, 1], [0.01, 0.001], 0.05) is None  # starts below: no crossing from above


TOYS = ("--ntoys", "1000", "--seed", "4")


def spec() -> dict:
    model = pyhf.simplemodels.uncorrelated_background([30.0, 45.0], [2000.0, 1500.0], [20.0, 15.0])
    return {
        "channels": model.spec["channels"],
        "observations": [{"name": "singlechannel", "data": [2010.0, 1520.0]}],
        "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}],
        "version": "1.0.0",
    }


@pytest.mark.slow  # toy study
def test_toy_limit_approaches_the_asymptotic_one_at_high_counts(tmp_path):
    ws = pyhf.Workspace(spec())
    model = ws.model()
    data = np.asarray(ws.data(model))
    grid = np.linspace(0.5, 3.0, 11)
    res = toy_upper_limit(model, data, grid, ntoys=1000, seed=4)
    asym = upper_limit(model, data)
    # thousands of events: asymptotic q~mu distributions; 1000 toys give CLs near 0.05 to
    # ±0.007, i.e. the crossing to ±0.05 in mu with the grid's linear interpolation
    assert res.observed == pytest.approx(asym.observed, abs=0.1)
    assert res.expected[2] == pytest.approx(asym.expected[2], abs=0.1)
    assert res.expected[1] < res.expected[2] < res.expected[3]
    assert ToyLimitResult.from_json(json.loads(json.dumps(res.to_json()))) == res
    path = tmp_path / "ws.json"
    save_workspace(spec(), path)
    r = CliRunner().invoke(
        main,
        ["--no-progress", "toys", "limit", str(path), "--scan", "0.5", "3", "11", *TOYS],
    )
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == res.to_dict()
    assert higgs_pyhf.toy_upper_limit(spec(), grid, ntoys=1000, seed=4).to_dict() == res.to_dict()


def test_bad_grid():
    ws = pyhf.Workspace(spec())
    model = ws.model()
    with pytest.raises(FitError, match="increasing"):
        toy_upper_limit(model, ws.data(model), [1.0], ntoys=10)


def test_sampling_options_reach_every_tested_value():
    """Each grid point is the toy hypotest with the options asked for (they were once ignored)."""
    from higgs_pyhf.inference.toys import hypotest_toys

    ws = pyhf.Workspace(spec())
    model = ws.model()
    data = np.asarray(ws.data(model))
    options = {"ntoys": 200, "sampling": "gaussian", "aux": "fixed", "block_size": 50}
    res = toy_upper_limit(model, data, [1.0, 2.0], seed=9, **options)
    for k, mu in enumerate([1.0, 2.0]):
        one = hypotest_toys(model, data, poi_value=mu, seed=9 + k, asymptotic=False, **options)
        assert res.cls_observed[k] == one.cls
        assert [row[k] for row in res.cls_expected] == list(one.cls_expected)
    default = toy_upper_limit(model, data, [1.0, 2.0], seed=9, ntoys=200)
    assert default.cls_expected != res.cls_expected  # the options change the toys
    assert res.settings["sampling"] == "gaussian"
    assert res.settings["aux"] == "fixed"
