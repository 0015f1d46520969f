"""Impacts: batched shifted fits against brute-force pyhf/minuit refits, groups, JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pyhf
import pytest
from _helpers import load_script

from higgs_pyhf.errors import FitError
from higgs_pyhf.inference.engine import compile_model
from higgs_pyhf.inference.fit import fit
from higgs_pyhf.inference.impacts import ImpactsResult, held_fits, impacts


def histosys(name: str, hi: list[float], lo: list[float]) -> dict:
    """A histosys modifier: the sample's templates at +1σ (``hi``) and -1σ (``lo``)."""
    return {"name": name, "type": "histosys", "data": {"hi_data": hi, "lo_data": lo}}


def nuisance_spec() -> dict:
    """One channel, 6 bins, 13 nuisances: lumi, 3 normsys, 2 histosys, staterror ×6, shapesys ×1 bin."""
    sig = [2.0, 6.0, 14.0, 9.0, 3.0, 1.0]
    bkg = [40.0, 35.0, 30.0, 26.0, 22.0, 20.0]
    bkg2 = [10.0, 9.0, 8.0, 6.0, 5.0, 4.0]
    rng = np.random.default_rng(3)
    obs = rng.poisson(np.add(np.add(sig, bkg), bkg2) * 1.05).astype(float).tolist()
    ch = {
        "name": "sr",
        "samples": [
            {
                "name": "signal",
                "data": sig,
                "modifiers": [
                    {"name": "mu", "type": "normfactor", "data": None},
                    {"name": "lumi", "type": "lumi", "data": None},
                    {"name": "sig_theory", "type": "normsys", "data": {"hi": 1.08, "lo": 0.93}},
                    histosys(
                        "sig_shape",
                        [1.5, 6.5, 14.0, 8.5, 2.8, 0.9],
                        [2.5, 5.6, 13.8, 9.4, 3.1, 1.1],
                    ),
                ],
            },
            {
                "name": "bkg",
                "data": bkg,
                "modifiers": [
                    {"name": "lumi", "type": "lumi", "data": None},
                    {"name": "bkg_norm", "type": "normsys", "data": {"hi": 1.1, "lo": 0.9}},
                    histosys(
                        "bkg_shape",
                        [42.0, 36.0, 30.0, 25.5, 21.0, 18.5],
                        [38.5, 34.0, 30.0, 26.5, 23.0, 21.0],
                    ),
                    {
                        "name": "staterror_sr",
                        "type": "staterror",
                        "data": [2.0, 1.8, 1.7, 1.6, 1.5, 1.4],
                    },
                ],
            },
            {
                "name": "bkg2",
                "data": bkg2,
                "modifiers": [
                    {"name": "bkg2_norm", "type": "normsys", "data": {"hi": 1.2, "lo": 0.85}},
                    {
                        "name": "bkg2_mc",
                        "type": "shapesys",
                        "data": [0.0, 0.0, 2.0, 0.0, 0.0, 0.0],
                    },
                ],
            },
        ],
    }
    return {
        "channels": [ch],
        "observations": [{"name": "sr", "data": obs}],
        "measurements": [
            {
                "name": "m",
                "config": {
                    "poi": "mu",
                    "parameters": [
                        {"name": "mu", "bounds": [[0.0, 10.0]]},
                        {
                            "name": "lumi",
                            "auxdata": [1.0],
                            "sigmas": [0.02],
                            "bounds": [[0.8, 1.2]],
                            "inits": [1.0],
                        },
                    ],
                },
            }
        ],
        "version": "1.0.0",
    }


@pytest.fixture(scope="module")
def model_data():
    ws = pyhf.Workspace(nuisance_spec())
    model = ws.model()
    return model, np.asarray(ws.data(model), dtype=float)


@pytest.fixture(scope="module")
def result(model_data):
    model, data = model_data
    return impacts(model, data)


@pytest.fixture(scope="module")
def pyhf_poi():
    """The benchmark's pyhf reference (a refit with one parameter held), minuit at 1e-7, strategy 2."""
    reference = load_script("benchmark_diagnostics").pyhf_poi

    def poi(model, data, fixed_index=None, value=0.0) -> float:
        optimizer = pyhf.optimize.minuit_optimizer(tolerance=1e-7, strategy=2)
        return reference(model, data, fixed_index, value, optimizer=optimizer)

    return poi


def test_at_least_ten_nuisances(result):
    assert len(result.impacts) >= 10
    kinds = {imp.modifier for imp in result.impacts}
    assert kinds == {"lumi", "normsys", "histosys", "staterror", "shapesys"}


@pytest.mark.slow
def test_impacts_equal_brute_force_pyhf_minuit_refits(model_data, result, pyhf_poi):
    model, data = model_data
    cm = compile_model(model)
    poi_ref = pyhf_poi(model, data)
    assert result.poi_bestfit == pytest.approx(poi_ref, abs=1e-4)
    for imp in result.impacts:
        i = cm.par_names.index(imp.parameter)
        lo, hi = cm.bounds[i]
        shifts = {
            "prefit": (-imp.prefit_sigma, imp.prefit_sigma),
            "postfit": (-imp.postfit_sigma, imp.postfit_sigma),
        }
        for kind, (dn, up) in shifts.items():
            ref = [
                pyhf_poi(model, data, i, float(np.clip(imp.bestfit + s, lo, hi))) - poi_ref
                for s in (dn, up)
            ]
            got = getattr(imp, kind)
            assert (got.down, got.up) == pytest.approx(ref, abs=1e-4), (imp.parameter, kind)


def test_sorted_by_postfit_size_and_breakdown(result):
    sizes = [imp.size for imp in result.impacts]
    assert sizes == sorted(sizes, reverse=True)
    assert result.poi_total**2 == pytest.approx(result.poi_stat**2 + result.poi_syst**2)
    assert 0 < result.poi_stat < result.poi_total


def test_pulls_constraints_and_hesse_error_match_fit(model_data, result):
    model, data = model_data
    fr = fit(model, data)
    assert result.poi_total == pytest.approx(fr.error("mu"), rel=1e-8)
    for imp in result.impacts:
        assert imp.postfit_sigma == pytest.approx(fr.error(imp.parameter), rel=1e-10)
        assert imp.constraint == pytest.approx(imp.postfit_sigma / imp.prefit_sigma)
    shapesys = next(imp for imp in result.impacts if imp.modifier == "shapesys")
    # Poisson constraint: tau = (nominal / sigma)^2 = 16, prefit width 1/sqrt(tau)
    assert shapesys.prefit_sigma == pytest.approx(0.25)


def test_stat_error_is_the_fit_with_nuisances_fixed(model_data, result):
    model, data = model_data
    fr = fit(model, data)
    fixed = {imp.parameter: imp.bestfit for imp in result.impacts}
    stat = fit(model, data, fixed=fixed)
    assert stat.value("mu") == pytest.approx(result.poi_bestfit, abs=1e-6)
    assert result.poi_stat == pytest.approx(stat.error("mu"), rel=1e-6)
    assert fr.error("mu") > stat.error("mu")


def test_groups_by_modifier_and_by_mapping(model_data, result):
    assert set(result.groups) == {"lumi", "normsys", "histosys", "staterror", "shapesys"}
    norm = result.groups["normsys"]
    members = [imp for imp in result.impacts if imp.modifier == "normsys"]
    assert norm["postfit"] == pytest.approx(math.sqrt(sum(m.size**2 for m in members)))
    assert sorted(norm["parameters"]) == sorted(m.parameter for m in members)
    model, data = model_data
    res = impacts(model, data, groups={"staterror_sr": "mc_stat", "bkg2_mc": "mc_stat"})
    assert set(res.groups) == {"lumi", "normsys", "histosys", "mc_stat"}
    assert len(res.groups["mc_stat"]["parameters"]) == 7
    # a single-parameter group: Hesse freezing equals the parameter's Hesse impact
    lumi = next(imp for imp in res.impacts if imp.parameter == "lumi")
    assert res.groups["lumi"]["hesse"] == pytest.approx(lumi.size, rel=0.05)


def test_json_round_trip_and_shape(result):
    obj = json.loads(json.dumps(result.to_json()))
    assert obj["poi"] == "mu"
    row = obj["impacts"][0]
    assert {"parameter", "prefit", "postfit", "pull", "constraint", "constrained"} <= set(row)
    assert set(row["prefit"]) == set(row["postfit"]) == {"up", "down"}
    top = result.impacts[0]
    assert row["postfit"] == {"up": top.postfit.up, "down": top.postfit.down}
    assert ImpactsResult.from_json(obj) == result


def free_normfactor_spec() -> dict:
    """Signal × mu, a W+jets-like background × a free normfactor with a control region, lumi."""
    return {
        "channels": [
            {
                "name": "SR",
                "samples": [
                    {
                        "name": "signal",
                        "data": [3.0, 6.0, 2.0],
                        "modifiers": [
                            {"name": "mu", "type": "normfactor", "data": None},
                            {"name": "lumi", "type": "lumi", "data": None},
                        ],
                    },
                    {
                        "name": "wjets",
                        "data": [20.0, 25.0, 15.0],
                        "modifiers": [
                            {"name": "wjets_norm", "type": "normfactor", "data": None},
                            {
                                "name": "bkg_sys",
                                "type": "normsys",
                                "data": {"hi": 1.05, "lo": 0.95},
                            },
                        ],
                    },
                ],
            },
            {
                "name": "CR",
                "samples": [
                    {
                        "name": "wjets",
                        "data": [60.0, 50.0],
                        "modifiers": [{"name": "wjets_norm", "type": "normfactor", "data": None}],
                    }
                ],
            },
        ],
        "observations": [{"name": "SR", "data": [27, 35, 17]}, {"name": "CR", "data": [66, 49]}],
        "measurements": [
            {
                "name": "m",
                "config": {
                    "poi": "mu",
                    "parameters": [
                        {
                            "name": "lumi",
                            "auxdata": [1.0],
                            "sigmas": [0.02],
                            "bounds": [[0.9, 1.1]],
                            "inits": [1.0],
                        }
                    ],
                },
            }
        ],
        "version": "1.0.0",
    }


def test_free_normfactors_are_ranked_with_their_postfit_shifts(pyhf_poi):
    ws = pyhf.Workspace(free_normfactor_spec())
    model = ws.model()
    data = np.asarray(ws.data(model), dtype=float)
    res = impacts(model, data)
    by_name = {imp.parameter: imp for imp in res.impacts}
    assert set(by_name) == {"wjets_norm", "bkg_sys", "lumi"}  # every free parameter but the POI
    free = by_name["wjets_norm"]
    assert not free.constrained
    assert free.prefit is None
    assert free.pull is None
    assert free.constraint is None
    assert free.modifier == "normfactor"
    assert "normfactor" in res.groups
    fr = fit(model, data)
    assert free.postfit_sigma == pytest.approx(fr.error("wjets_norm"), rel=1e-8)
    # brute force: pyhf/minuit with wjets_norm held at its best fit ± its Hesse error
    i = model.config.par_slice("wjets_norm").start
    poi_ref = pyhf_poi(model, data)
    up = pyhf_poi(model, data, i, free.bestfit + free.postfit_sigma) - poi_ref
    down = pyhf_poi(model, data, i, free.bestfit - free.postfit_sigma) - poi_ref
    assert (free.postfit.up, free.postfit.down) == pytest.approx((up, down), abs=1e-4)
    assert free.postfit.up < 0 < free.postfit.down  # more background, less signal
    assert res.impacts[0].parameter == "wjets_norm"  # the dominant one, as in cabinetry's ranking
    row = next(r for r in res.to_json()["impacts"] if r["parameter"] == "wjets_norm")
    assert row["prefit"] is None
    assert row["constrained"] is False
    assert ImpactsResult.from_json(json.loads(json.dumps(res.to_json()))) == res


def test_held_fits_with_different_masks_in_one_batch(model_data):
    model, data = model_data
    cm = compile_model(model)
    best = fit(model, data).bestfit
    i, j = cm.par_names.index("lumi"), cm.par_names.index("bkg_norm")
    held = np.zeros((3, cm.npars), dtype=bool)
    held[0, i] = held[1, j] = held[2, i] = True
    init = np.tile(best, (3, 1))
    init[0, i], init[1, j], init[2, i] = 1.01, 0.5, 0.99
    r = held_fits(cm, data, held, init)
    assert r.n_calls == 2
    assert r.pars[0, i] == 1.01
    assert r.pars[1, j] == 0.5
    assert r.pars[2, i] == 0.99
    one = fit(model, data, fixed={"bkg_norm": 0.5})
    np.testing.assert_allclose(r.pars[1], one.bestfit, atol=1e-7)


def test_fixed_poi_is_refused(model_data):
    model, data = model_data
    with pytest.raises(FitError, match="fixed"):
        impacts(model, data, fit_result=fit(model, data, fixed={"mu": 1.0}))
