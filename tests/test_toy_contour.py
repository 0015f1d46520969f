"""Toy-calibrated 2D regions: Wilks on a high-count model, seeding, nuisances, JSON."""

from __future__ import annotations

import json

import numpy as np
import pyhf
import pytest
from scipy import stats

from higgs_pyhf.errors import FitError
from higgs_pyhf.inference.toys import ToyContourResult, toy_contour


def two_normfactor_spec(scale: float, *, lumi: bool = False) -> dict:
    """Report-like signal/background in 8 bins, scaled by ``scale`` (optionally with lumi)."""
    sig = np.array([0.5, 1.5, 4.0, 6.0, 4.0, 1.5, 0.5, 0.2]) * scale
    bkg = np.array([20.0, 16.0, 13.0, 11.0, 10.0, 9.0, 8.5, 8.0]) * scale
    obs = np.random.default_rng(5).poisson(1.2 * sig + bkg).astype(float)
    mods_s = [{"name": "s_s", "type": "normfactor", "data": None}]
    mods_b = [{"name": "s_b", "type": "normfactor", "data": None}]
    params = [
        {"name": "s_s", "bounds": [[0.0, 10.0]], "inits": [1.0]},
        {"name": "s_b", "bounds": [[0.0, 5.0]], "inits": [1.0]},
    ]
    if lumi:
        mods_s.append({"name": "lumi", "type": "lumi", "data": None})
        mods_b.append({"name": "lumi", "type": "lumi", "data": None})
        params.append(
            {
                "name": "lumi",
                "auxdata": [1.0],
                "sigmas": [0.05],
                "bounds": [[0.7, 1.3]],
                "inits": [1.0],
            }
        )
    return {
        "channels": [
            {
                "name": "c",
                "samples": [
                    {"name": "signal", "data": sig.tolist(), "modifiers": mods_s},
                    {"name": "background", "data": bkg.tolist(), "modifiers": mods_b},
                ],
            }
        ],
        "observations": [{"name": "c", "data": obs.tolist()}],
        "measurements": [{"name": "m", "config": {"poi": "s_s", "parameters": params}}],
        "version": "1.0.0",
    }


def model_data(spec):
    ws = pyhf.Workspace(spec)
    model = ws.model()
    return model, np.asarray(ws.data(model), dtype=float)


@pytest.fixture(scope="module")
def high_count():
    model, data = model_data(two_normfactor_spec(200.0))
    res = toy_contour(model, data, ("s_s", "s_b"), n_points=(7, 7), ntoys=600, seed=3)
    return model, data, res


def test_high_count_region_equals_wilks_within_toy_error(high_count):
    *_, res = high_count
    assert res.wilks_levels == pytest.approx((2.2958, 5.9915), abs=1e-3)
    assert res.n_failed.sum() == 0
    for crit, band, level in (
        (res.critical_68, res.critical_68_band, res.wilks_levels[0]),
        (res.critical_95, res.critical_95_band, res.wilks_levels[1]),
    ):
        half = 0.5 * (band[..., 1] - band[..., 0])
        # every point's critical value is the chi2(2) one within its toy error (5 of them:
        # 98 quantiles of 600 toys; the same toys make both quantiles of a point move together)
        assert np.all(np.abs(crit - level) < 5.0 * half)
        # and on average over the 49 points, within 3.5 errors of the mean
        assert abs(crit.mean() - level) < 3.5 * half.mean() / np.sqrt(crit.size)
    # the regions: toys and Wilks disagree only where the data's t is within the toy error
    for acc, band, level in (
        (res.accepted_68, res.critical_68_band, res.wilks_levels[0]),
        (res.accepted_95, res.critical_95_band, res.wilks_levels[1]),
    ):
        wilks = res.delta_twice_nll < level
        lo = np.minimum(band[..., 0], level) - 1e-9
        hi = np.maximum(band[..., 1], level) + 1e-9
        ambiguous = (res.delta_twice_nll > lo - (hi - lo)) & (res.delta_twice_nll < hi + (hi - lo))
        assert np.all((acc == wilks) | ambiguous)
    assert res.accepted_95.sum() > res.accepted_68.sum() > 0


def test_p_value_is_the_fraction_above_the_data(high_count):
    *_, res = high_count
    # where the data's t is far below the critical value the p-value is large, and vice versa
    wilks_p = stats.chi2.sf(res.delta_twice_nll, 2)
    assert np.corrcoef(res.p_value.ravel(), wilks_p.ravel())[0, 1] > 0.98
    assert np.all((res.p_value > 0.3173) == (res.delta_twice_nll < res.critical_68))


def test_same_toys_for_any_chunking(high_count):
    model, data, res = high_count
    xs, ys = res.x_values[:3], res.y_values[:2]
    one = toy_contour(model, data, ("s_s", "s_b"), x_values=xs, y_values=ys, ntoys=600, seed=3)
    other = toy_contour(
        model, data, ("s_s", "s_b"), x_values=xs, y_values=ys, ntoys=600, seed=3, points_per_chunk=1
    )
    np.testing.assert_array_equal(one.critical_68, other.critical_68)
    np.testing.assert_array_equal(one.p_value, other.p_value)
    threads = toy_contour(
        model, data, ("s_s", "s_b"), x_values=xs, y_values=ys, ntoys=600, seed=3, workers=2,
        pool="threads",
    )  # fmt: skip
    assert threads.to_json() == one.to_json()


def test_boundary_lowers_the_critical_value_at_low_counts():
    model, data = model_data(two_normfactor_spec(1.0))
    res = toy_contour(
        model, data, ("s_s", "s_b"), x_values=[0.0, 3.0], y_values=[1.0], ntoys=1500, seed=1
    )
    # at s_s = 0 (the bound) half of the toys fit s_s = 0: chi2 mixture, critical value < 2.30
    assert res.critical_68[0, 0] < 2.0
    assert res.critical_68[1, 0] == pytest.approx(2.3, abs=0.35)


def test_with_a_nuisance_parameter_and_json_round_trip():
    model, data = model_data(two_normfactor_spec(30.0, lumi=True))
    res = toy_contour(model, data, ("s_s", "s_b"), n_points=(3, 3), ntoys=200, seed=2)
    assert res.n_failed.sum() == 0
    assert np.all(np.isfinite(res.critical_68))
    obj = json.loads(json.dumps(res.to_json()))
    back = ToyContourResult.from_json(obj)
    np.testing.assert_array_equal(back.critical_95_band, res.critical_95_band)
    np.testing.assert_array_equal(back.n_failed, res.n_failed)
    assert obj["accepted_68"] == res.accepted_68.tolist()


def test_bad_parameters():
    model, data = model_data(two_normfactor_spec(1.0))
    with pytest.raises(FitError, match="unknown parameter"):
        toy_contour(model, data, ("s_s", "nope"), ntoys=10)
    with pytest.raises(FitError, match="two different"):
        toy_contour(model, data, ("s_s", "s_s"), ntoys=10)
    with pytest.raises(FitError, match="inside its bounds"):
        toy_contour(model, data, ("s_s", "s_b"), x_values=[-1.0, 1.0], y_values=[1.0, 2.0])
