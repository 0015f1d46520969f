"""Post-fit bands and ratio ranges (plotting.uncertainty), against sampling and on the figures."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.patches import StepPatch

from higgs_pyhf.inference.results import FitResult
from higgs_pyhf.plotting.stacks import plot_postfit
from higgs_pyhf.plotting.uncertainty import postfit_band, ratio_limits

SIGNAL = np.array([1.0, 4.0, 2.0, 0.5])
BACKGROUND = np.array([20.0, 15.0, 10.0, 8.0])


def a_fit(rho: float) -> FitResult:
    return FitResult(
        labels=("s_b", "s_s"),
        bestfit=np.array([1.2, 1.4]),
        uncertainty=np.array([0.08, 0.7]),
        correlation=np.array([[1.0, rho], [rho, 1.0]]),
        twice_nll=10.0,
        converged=True,
        minos={},
    )


@pytest.mark.parametrize("rho", [-0.6, 0.0, 0.4])
def test_postfit_band_equals_the_spread_of_sampled_predictions(rho):
    fit = a_fit(rho)
    cov = np.outer(fit.uncertainty, fit.uncertainty) * fit.correlation
    draws = np.random.default_rng(1).multivariate_normal(fit.bestfit, cov, size=200_000)
    pred = draws[:, 1:2] * SIGNAL + draws[:, 0:1] * BACKGROUND  # columns: s_b, s_s
    np.testing.assert_allclose(postfit_band(SIGNAL, BACKGROUND, fit), pred.std(axis=0), rtol=0.01)


def test_a_fixed_or_absent_parameter_adds_nothing():
    fit = a_fit(0.0)._replace(labels=("s_b", "other"))
    np.testing.assert_allclose(postfit_band(SIGNAL, BACKGROUND, fit), 0.08 * BACKGROUND)


def test_postfit_stack_draws_the_band_and_adapts_the_ratio_range():
    fit = a_fit(-0.5)
    edges = np.arange(5.0)
    fig = plot_postfit(edges, SIGNAL, BACKGROUND, [60, 12, 11, 9], fit, ratio=True)
    main, ratio = fig.axes
    hatched = [p for p in main.patches if isinstance(p, StepPatch) and p.get_hatch()]
    assert len(hatched) == 1
    band = postfit_band(SIGNAL, BACKGROUND, fit)
    total = 1.4 * SIGNAL + 1.2 * BACKGROUND
    np.testing.assert_allclose(hatched[0].get_data().values, total + band)
    np.testing.assert_allclose(hatched[0].get_data().baseline, total - band)
    lo, hi = ratio.get_ylim()
    assert 0.0 <= lo < 0.5  # the low Garwood ends with 10% padding
    # the first bin's point (60 / 24.8 ≈ 2.42) and its upper Garwood end (≈ 2.8) fit,
    # where the old fixed range (0, 2.5) cut the bar
    upper = 68.7 / total[0]
    assert hi > upper > 2.5
    assert ratio_limits([0.9, 1.1]) == (0.5, 1.5)
