"""The engine's own single-threaded symmetric solvers (linalg, envelope_linalg) against numpy."""

from __future__ import annotations

import numpy as np
import pytest

from higgs_pyhf.inference.engine.envelope_linalg import solve_envelope, solve_shift
from higgs_pyhf.inference.engine.linalg import eigh_small, inverse_floor, inverse_pd, solve_floor
from higgs_pyhf.inference.engine.sparsity import envelope


def _matrices(k: int, rng: np.random.Generator) -> list[np.ndarray]:
    a = rng.normal(size=(k, k))
    u, _ = np.linalg.qr(rng.normal(size=(k, k)))
    degenerate = u @ np.diag(np.round(rng.normal(size=k))) @ u.T
    decoupled = a + a.T
    decoupled[:, 0] = decoupled[0, :] = 0.0
    return [a + a.T, degenerate, np.diag(rng.normal(size=k)), decoupled]


@pytest.mark.parametrize("k", [1, 2, 3, 5, 13, 60])
def test_eigh_small_matches_lapack(k: int) -> None:
    rng = np.random.default_rng(k)
    for a in _matrices(k, rng):
        lam, vec = np.empty(k), np.empty((k, k))
        assert eigh_small(a, lam, vec)
        scale = max(1.0, float(np.abs(a).max()))
        np.testing.assert_allclose(np.sort(lam), np.linalg.eigvalsh(a), atol=1e-12 * k * scale)
        np.testing.assert_allclose(vec.T @ vec, np.eye(k), atol=1e-12 * k)
        np.testing.assert_allclose(vec @ np.diag(lam) @ vec.T, a, atol=1e-12 * k * scale)


def test_eigh_small_reports_non_finite() -> None:
    a = np.eye(4)
    a[1, 2] = a[2, 1] = np.nan
    lam, vec = np.empty(4), np.empty((4, 4))
    assert not eigh_small(a, lam, vec)
    assert np.isnan(lam).all()


def test_floored_solve_and_inverse_match_numpy() -> None:
    """Indefinite H: eigenvalues of the unit-diagonal matrix floored, as computed by numpy here."""
    rng = np.random.default_rng(7)
    k = 9
    h = rng.normal(size=(k, k))
    h = h + h.T + np.diag(np.full(k, 0.5))
    d = 1.0 / np.sqrt(np.abs(np.diag(h)))
    lam, vec = np.linalg.eigh(h * d[:, None] * d[None, :])
    assert lam.min() < 0.0
    floor = 1e-12 * np.abs(lam).max()
    inv = (d[:, None] * (vec / np.maximum(lam, floor)) @ vec.T) * d[None, :]
    rhs = rng.normal(size=k)
    out = np.empty(k)
    assert not solve_floor(h, rhs, out)
    np.testing.assert_allclose(out, inv @ rhs, rtol=1e-9, atol=1e-9 * np.abs(inv @ rhs).max())
    full = np.empty((k, k))
    assert not inverse_floor(h, full)
    np.testing.assert_allclose(full, inv, rtol=1e-9, atol=1e-9 * np.abs(inv).max())


def test_inverse_pd_matches_numpy_and_refuses_indefinite() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(40, 40))
    scales = 10.0 ** rng.uniform(-4, 4, 40)  # units differing by 10⁸, still well-conditioned
    h = (a @ a.T + 40 * np.eye(40)) * scales[:, None] * scales[None, :]
    out = np.empty_like(h)
    assert inverse_pd(h, out)
    ref = np.linalg.inv(h)
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12 * np.abs(ref).max())
    assert not inverse_pd(np.array([[1.0, 2.0], [2.0, 1.0]]), np.empty((2, 2)))
    assert not inverse_pd(np.array([[0.0, 0.0], [0.0, 1.0]]), np.empty((2, 2)))


@pytest.mark.parametrize("k", [3, 40, 200])
def test_shifted_solve_is_exact_where_pd_and_descends_where_not(k: int) -> None:
    rng = np.random.default_rng(k)
    a = rng.normal(size=(k, k))
    d = np.diag(10.0 ** rng.uniform(-6, 6, size=k))  # units of the parameters far apart
    pd = d @ (a @ a.T + k * np.eye(k)) @ d
    rhs = rng.normal(size=k)
    out, lmat = np.empty(k), np.zeros((k, k))
    assert solve_shift(pd, rhs, out, lmat)
    sc = 1.0 / np.sqrt(np.diag(pd))  # compared in the unit-diagonal scaling (no cancellation)
    y = out / sc
    ref = np.linalg.solve(pd * sc[:, None] * sc[None, :], sc * rhs)
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-10 * k * np.abs(ref).max())
    for indefinite in (d @ (a + a.T) @ d, -pd, np.diag(np.r_[-1.0, np.ones(k - 1)])):
        assert not solve_shift(indefinite, rhs, out, lmat)
        # (S H S + τI) y = S rhs with S = diag|H|^-1/2 and some τ > 0: a descent
        # direction for rhs the gradient, τ the smallest of 1e-4·10^j that factors
        sc = 1.0 / np.sqrt(np.abs(np.diag(indefinite)))
        hs = indefinite * sc[:, None] * sc[None, :]
        lam_min = np.linalg.eigvalsh(hs).min()
        tau = next(t for t in 1e-4 * 10.0 ** np.arange(13) if t + lam_min > 1e-12)
        y = out / sc  # residual of the shifted system (near-singular: compare residuals)
        res = (hs + tau * np.eye(k)) @ y - sc * rhs
        assert np.abs(res).max() <= 1e-10 * k * (1.0 + np.abs(hs).max() * np.abs(y).max())
        assert rhs @ out > 0.0


def test_envelope_solve_equals_the_dense_shifted_solve() -> None:
    # "bins" of a few globals each: 30 channels of 6 own globals and 4 shared ones
    rng = np.random.default_rng(7)
    k, shared = 184, np.arange(180, 184)
    owner = rng.permutation(180).reshape(30, 6)  # own globals scattered over the indices
    lists = [np.sort(np.r_[owner[c], shared]) for c in range(30) for _ in range(3)]
    start = np.r_[0, np.cumsum([len(x) for x in lists])]
    order, env = envelope(start, np.concatenate(lists), k)
    assert np.all(env <= np.arange(k))
    assert int(((np.arange(k) - env) ** 2).sum()) < 0.1 * k**3 / 3
    h = np.diag(rng.uniform(0.5, 2.0, k))
    for g in lists:
        a = rng.normal(size=(g.size, g.size))
        h[np.ix_(g, g)] += a @ a.T
    d = np.diag(10.0 ** rng.uniform(-4, 4, size=k))
    rhs = rng.normal(size=k)
    shift = np.linalg.eigvalsh(h).min() + 1.0  # one negative eigenvalue or more
    for m, is_pd in ((d @ h @ d, True), (d @ (h - shift * np.eye(k)) @ d, False)):
        ref, out = np.empty(k), np.empty(k)
        assert solve_shift(m, rhs, ref, np.zeros((k, k))) is is_pd
        assert solve_envelope(m, rhs, out, np.zeros((k, k)), order, env) is is_pd
        sc = 1.0 / np.sqrt(np.abs(np.diag(m)))
        np.testing.assert_allclose(out / sc, ref / sc, rtol=0, atol=1e-8 * np.abs(ref / sc).max())
