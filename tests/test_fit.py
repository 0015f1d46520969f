from __future__ import annotations

import numpy as np
import pyhf
import pytest
from _helpers import FIT_JSON_KEYS, nuisance_workspace
from scipy import optimize, special

from higgs_pyhf.build.report_workspace import build_workspace
from higgs_pyhf.errors import FitError
from higgs_pyhf.inference.fit import fit, twice_nll
from higgs_pyhf.inference.parameters import labels, pyhf_state
from higgs_pyhf.inference.results import FitResult
from higgs_pyhf.synthetic import report_like_histograms
from higgs_pyhf.workspace import model_and_data


def report_like(seed: int = 11, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return report_like_histograms(seed=seed, scale=scale)


def hand_twice_nll(theta: np.ndarray, sig: np.ndarray, bkg: np.ndarray, n: np.ndarray) -> float:
    """Independent −2lnL of the Poisson model ν = s_s·sig + s_b·bkg (with the ln n! term)."""
    nu = theta[0] * sig + theta[1] * bkg
    return float(2.0 * np.sum(nu - n * np.log(nu) + special.gammaln(n + 1.0)))


def scipy_fit(
    sig: np.ndarray, bkg: np.ndarray, n: np.ndarray, fixed_b: float | None = None
) -> np.ndarray:
    def grad(theta: np.ndarray, *_args: object) -> np.ndarray:
        nu = theta[0] * sig + theta[1] * bkg
        w = 2.0 * (1.0 - n / nu)
        return np.array([w @ sig, w @ bkg])

    if fixed_b is None:
        res = optimize.minimize(
            hand_twice_nll,
            [1.0, 1.0],
            args=(sig, bkg, n),
            jac=grad,
            method="L-BFGS-B",
            bounds=[(1e-9, 10), (1e-9, 5)],
            options={"ftol": 1e-15, "gtol": 1e-12},
        )
        return np.asarray(res.x)
    res1 = optimize.minimize_scalar(
        lambda s: hand_twice_nll(np.array([s, fixed_b]), sig, bkg, n),
        bounds=(1e-9, 10),
        method="bounded",
        options={"xatol": 1e-10},
    )
    return np.array([res1.x, fixed_b])


@pytest.fixture(scope="module")
def simple() -> tuple[pyhf.pdf.Model, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    sig, bkg, n = report_like()
    model, data = model_and_data(build_workspace(sig, bkg, n))
    return model, data, sig, bkg, n


def test_fit_matches_independent_scipy_minimization(simple):
    model, data, sig, bkg, n = simple
    res = fit(model, data)
    ref = scipy_fit(sig, bkg, n)
    assert res.converged
    assert res.value("s_s") == pytest.approx(ref[0], abs=1e-4)
    assert res.value("s_b") == pytest.approx(ref[1], abs=1e-4)
    assert res.twice_nll == pytest.approx(hand_twice_nll(ref, sig, bkg, n), abs=1e-6)
    # Hesse errors and correlation from the analytic Hessian of −2lnL
    nu = ref[0] * sig + ref[1] * bkg
    t = np.stack([sig, bkg])
    cov = np.linalg.inv(2.0 * np.einsum("b,ib,jb->ij", n / nu**2, t, t) / 2.0)
    # minuit's Hesse works in bound-transformed coordinates: ~0.5% off for s_s ~2σ from its bound 0
    assert res.error("s_s") == pytest.approx(np.sqrt(cov[0, 0]), rel=1e-2)
    assert res.error("s_b") == pytest.approx(np.sqrt(cov[1, 1]), rel=2e-3)
    rho = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
    i, j = res.labels.index("s_s"), res.labels.index("s_b")
    assert res.correlation[i, j] == pytest.approx(rho, abs=5e-3)
    assert res.correlation[i, j] == res.correlation[j, i]


def test_one_parameter_fit_and_minos(simple):
    model, data, sig, bkg, n = simple
    res = fit(model, data, fixed={"s_b": 1.3}, minos=["s_s"])
    ref = scipy_fit(sig, bkg, n, fixed_b=1.3)
    assert res.value("s_s") == pytest.approx(ref[0], abs=1e-4)
    assert res.value("s_b") == 1.3
    assert res.error("s_b") == 0.0
    assert res.fixed == ("s_b",)
    lo, hi = res.minos["s_s"]
    assert lo < 0 < hi
    fmin = hand_twice_nll(ref, sig, bkg, n)
    for end in (ref[0] + lo, ref[0] + hi):
        assert hand_twice_nll(np.array([end, 1.3]), sig, bkg, n) - fmin == pytest.approx(
            1.0, abs=1e-3
        )
    # Poisson asymmetry: the upper Minos error is larger
    assert hi > -lo


def test_all_fixed_does_not_call_mle_fit(simple, monkeypatch):
    model, data, sig, bkg, n = simple

    def boom(*_args, **_kwargs):
        msg = "mle.fit must not be called with every parameter fixed"
        raise AssertionError(msg)

    monkeypatch.setattr(pyhf.infer.mle, "fit", boom)
    res = fit(model, data, fixed={"s_s": 1.2, "s_b": 1.1})
    assert res.twice_nll == pytest.approx(
        hand_twice_nll(np.array([1.2, 1.1]), sig, bkg, n), rel=1e-12
    )
    assert np.all(res.uncertainty == 0)
    assert res.converged


def test_init_and_bounds_are_used(simple):
    model, data, *_ = simple
    free = fit(model, data)
    cap = 0.5 * free.value("s_s")
    res = fit(model, data, init={"s_s": 0.5 * cap, "s_b": 1.5}, bounds={"s_s": (0.0, cap)})
    assert res.value("s_s") == pytest.approx(cap, abs=1e-5)  # the free best fit is outside
    assert res.twice_nll > free.twice_nll
    with pytest.raises(FitError, match="outside its bounds"):
        fit(model, data, init={"s_s": 2 * cap}, bounds={"s_s": (0.0, cap)})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fixed": {"nonsense": 1.0}},
        {"init": {"s_x": 1.0}},
        {"bounds": {"mu": (0, 1)}},
        {"minos": ["bogus"]},
    ],
)
def test_unknown_parameter_names(simple, kwargs):
    model, data, *_ = simple
    with pytest.raises(FitError, match=r"valid parameters are s_b, s_s"):
        fit(model, data, **kwargs)


def test_minos_on_fixed_parameter_is_an_error(simple):
    model, data, *_ = simple
    with pytest.raises(FitError, match="fixed"):
        fit(model, data, fixed={"s_s": 1.0}, minos=["s_s"])


def test_backend_and_optimizer_restored(simple):
    model, data, *_ = simple
    before_opt = pyhf.optimize.scipy_optimizer()
    pyhf.set_backend("numpy", before_opt)
    before = pyhf.get_backend()
    fit(model, data, minos=["s_s"])
    fit(model, data, fixed={"s_s": 1.0, "s_b": 1.0})
    after = pyhf.get_backend()
    assert after[0] is before[0]
    assert after[1] is before_opt

    def failing_block() -> None:
        with pyhf_state():
            assert pyhf.get_backend()[1].name == "minuit"
            msg = "inside"
            raise RuntimeError(msg)

    with pytest.raises(RuntimeError, match="inside"):
        failing_block()
    assert pyhf.get_backend()[1] is before_opt
    pyhf.set_backend("numpy", "scipy")


def test_staterror_and_lumi_model():
    sig, bkg, n = report_like(seed=3)
    model, data = model_and_data(nuisance_workspace(sig, bkg, n))
    labs = labels(model)
    assert "staterror_hzz4l_m4l[0]" in labs
    assert "lumi" in labs
    res = fit(model, data, fixed={"staterror_hzz4l_m4l": 1.0, "lumi": 1.0})
    plain_model, plain_data = model_and_data(build_workspace(sig, bkg, n))
    plain = fit(plain_model, plain_data)
    # with every nuisance parameter fixed at nominal the normfactor fit equals the plain model's
    assert res.value("s_s") == pytest.approx(plain.value("s_s"), abs=1e-4)
    assert res.value("s_b") == pytest.approx(plain.value("s_b"), abs=1e-4)
    free = fit(model, data)
    assert free.converged
    assert free.error("s_s") >= plain.error("s_s") * 0.999  # nuisance parameters widen the error


def test_json_contract_round_trip(simple):
    model, data, *_ = simple
    res = fit(model, data, minos=["s_b"])
    obj = res.to_json()
    assert set(obj) == FIT_JSON_KEYS
    assert obj["minimizer"] == "engine"
    assert set(obj["parameters"]["s_b"]) >= {"value", "error", "minos"}
    assert obj["parameters"]["s_s"]["minos"] is None
    back = FitResult.from_json(obj)
    assert back.labels == res.labels
    np.testing.assert_allclose(back.bestfit, res.bestfit)
    np.testing.assert_allclose(back.correlation, res.correlation)
    assert back.minos.keys() == res.minos.keys()
    np.testing.assert_allclose(back.minos["s_b"], res.minos["s_b"])


def test_twice_nll_helper_equals_pyhf(simple):
    model, data, sig, bkg, n = simple
    pars = np.empty(2)
    pars[model.config.par_slice("s_s")] = 0.7
    pars[model.config.par_slice("s_b")] = 1.5
    assert twice_nll(model, data, pars) == pytest.approx(
        hand_twice_nll(np.array([0.7, 1.5]), sig, bkg, n), rel=1e-12
    )


def test_bad_data_shape(simple):
    model, data, *_ = simple
    with pytest.raises(FitError, match="data has shape"):
        fit(model, data[:-1])
