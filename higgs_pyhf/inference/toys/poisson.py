"""Poisson counts by exact inversion of per-bin CDF tables (compiled).

Every toy of a block is drawn around the same mean vector μ, so the
cumulative distribution F_b(k) = P(X ≤ k | μ_b) of each bin can be tabulated
once (:func:`poisson_table`) and each count obtained from one uniform U of
the block's generator by inversion, X = min{k : U < F_b(k)}
(:func:`poisson_from_uniforms`, a numba kernel that releases the GIL).
A guide table (Chen & Asau 1974) starts the search at the right entry, so a
count costs about one comparison whatever μ_b.

Why this is exact: for U uniform on [0, 1), P(X ≤ k) = P(U < F_b(k)) =
F_b(k), the Poisson CDF itself; nothing is approximated except floating
point. The tables come from ``scipy.special.pdtr`` (the regularised
incomplete gamma function, accurate to a few units in the last place), and
``numpy.random.Generator.random`` gives multiples of 2⁻⁵³, so the sampler's
CDF equals the Poisson CDF to within a few times 2⁻⁵³ at every k — the
resolution of a double-precision uniform, the same floating-point limit as
numpy's own Poisson algorithms. The table of bin b covers
k ∈ [μ − t₋, μ + t₊] with t₋ = √(128 ln2 · μ) and t₊ = 64 ln2 + √((64 ln2)² + 128 ln2 · μ):
the Chernoff/Bennett bounds P(X ≤ μ − t) ≤ exp(−t²/2μ) and
P(X ≥ μ + t) ≤ exp(−t²/(2(μ + t/3))) put less than 2⁻⁶⁴ of probability
outside, which the end entries absorb (the last entry is set to exactly 1).

Bins with μ above :data:`MAX_TABLE_MEAN` (tables of thousands of entries)
are drawn with ``Generator.poisson`` instead, after the uniforms, so the
stream stays a function of the generator alone. This is 5–10 times faster
than ``Generator.poisson`` at the H→4ℓ means (μ ≈ 3–21): numpy's sampler
spends ~50 ns a count (multiplication method below μ = 10, PTRS rejection
above), the inversion ~5 ns plus the uniform.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np
from scipy.special import pdtr

from ...errors import FitError

__all__ = [
    "MAX_TABLE_MEAN",
    "PoissonTable",
    "draw_poisson",
    "poisson_from_uniforms",
    "poisson_table",
]

#: Largest mean sampled by inversion (its table has ≈ 19√μ ≈ 1900 entries); above: numpy.
MAX_TABLE_MEAN = 1.0e4
#: −ln of the probability left outside a table: 64 ln 2 (2⁻⁶⁴, far below 2⁻⁵³).
_TAIL = 64.0 * math.log(2.0)


class PoissonTable(NamedTuple):
    """Inversion tables of the Poisson distributions of a mean vector.

    Attributes:
        means: (N,) the Poisson means.
        columns: (T,) bins sampled by inversion (μ ≤ :data:`MAX_TABLE_MEAN`).
        offset: (T,) count of the first entry of each table.
        cdf: (T, W) F(offset + j), non-decreasing, each row ending in 1.0 (padding too).
        guide: (T, W) first entry j with cdf[j] > i / W (where the search for U ≥ i / W starts).
        numpy_columns: (N − T,) bins drawn with ``Generator.poisson``.
    """

    means: np.ndarray
    columns: np.ndarray
    offset: np.ndarray
    cdf: np.ndarray
    guide: np.ndarray
    numpy_columns: np.ndarray


def poisson_table(means: np.ndarray) -> PoissonTable:
    """Tabulate the CDFs of Poisson distributions with the given means (one per bin).

    Raises:
        FitError: if a mean is negative or not finite.
    """
    mu = np.asarray(means, dtype=float).reshape(-1)
    bad = ~(np.isfinite(mu) & (mu >= 0.0))
    if bad.any():
        b = int(np.flatnonzero(bad)[0])
        msg = f"Poisson means must be finite and non-negative; bin {b} has {mu[b]!r}"
        raise FitError(msg)
    small = mu <= MAX_TABLE_MEAN
    columns = np.flatnonzero(small)
    m = mu[columns]
    lo = np.floor(np.maximum(m - np.sqrt(2.0 * _TAIL * m), 0.0))
    hi = np.ceil(m + _TAIL + np.sqrt(_TAIL**2 + 2.0 * _TAIL * m))
    width = int(np.max(hi - lo, initial=0.0)) + 1
    k = lo[:, None] + np.arange(width)
    cdf = np.maximum.accumulate(pdtr(k, m[:, None]), axis=1)
    cdf[k >= hi[:, None]] = 1.0
    cuts = np.arange(width) / width
    guide = np.array([np.searchsorted(row, cuts, side="right") for row in cdf], dtype=np.intp)
    return PoissonTable(
        mu,
        columns,
        lo.astype(np.intp),
        cdf,
        guide.reshape(columns.size, width),
        np.flatnonzero(~small),
    )


@numba.njit(cache=True, nogil=True)
def _invert(u: np.ndarray, columns: np.ndarray, offset: np.ndarray, cdf: np.ndarray, guide: np.ndarray) -> None:  # fmt: skip
    """Replace u[i, columns[t]] by min{k : u < F_t(k)} (in place)."""
    size = u.shape[0]
    width = cdf.shape[1]
    for i in range(size):
        for t in range(columns.size):
            b = columns[t]
            x = u[i, b]
            k = guide[t, min(int(x * width), width - 1)]
            while x >= cdf[t, k]:
                k += 1
            u[i, b] = offset[t] + k


def poisson_from_uniforms(table: PoissonTable, uniforms: np.ndarray) -> np.ndarray:
    """Counts [S, N] (as floats) of the table's bins from uniforms [S, N] in [0, 1).

    Only the table's inversion columns are transformed; the others
    (``numpy_columns``) are left as they are.
    """
    u = np.array(uniforms, dtype=float, order="C")
    _invert(u, table.columns, table.offset, table.cdf, table.guide)
    return u


def draw_poisson(rng: np.random.Generator, table: PoissonTable, size: int) -> np.ndarray:
    """``size`` Poisson vectors [size, N] (as floats) around ``table.means``.

    Draws ``rng.random((size, N))`` and inverts it; the bins above
    :data:`MAX_TABLE_MEAN` are then drawn with ``rng.poisson``.
    """
    n = table.means.size
    u = rng.random((size, n))
    _invert(u, table.columns, table.offset, table.cdf, table.guide)
    if table.numpy_columns.size:
        big = table.means[table.numpy_columns]
        u[:, table.numpy_columns] = rng.poisson(big, size=(size, big.size))
    return u
