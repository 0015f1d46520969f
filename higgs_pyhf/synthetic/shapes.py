"""m4l densities of the generator, calibrated to the seed report's MC templates.

Each MC process has a smooth *analytic* m4l density (resolution included):
a Z→4ℓ peak with a radiative tail, a continuum and the on-shell ZZ rise for
qq→ZZ (:func:`llll_density`), a Gaussian core with a low-side tail for the
Higgs signal (:func:`higgs_density`), broad Gamma shapes for the reducible
backgrounds (:func:`reducible_density`). Their parameters were fitted once to
the report's templates (:func:`report_templates`, package data
``data/report_mc_templates.json``) and are written out here.

The report's templates carry the bumps of the report's own MC statistics, so
smooth shapes alone cannot follow them bin by bin. :func:`calibrate`
therefore multiplies the analytic densities of one sample kind (signal or
background) by one *per-bin correction factor*, template / Σ analytic yields
in that bin, the same for every process of the kind: the expected yields of
the kind then equal the template in every analysis bin, inside a bin the m4l
shape stays the analytic one (the Z and Higgs peaks keep their widths) and the
split between processes stays the analytic one. With the shapes below the
background factors lie between 0.47 and 1.76 (the template's dip at
100–105 GeV and bump at 115–125 GeV), the signal's between 0.98 and 1.03 in
115–130 GeV and 0.3–4.6 in the far tails, where the template holds less
than 0.015 events per bin. The factor of the first
(last) bin also applies below (above) the analysis range, so the densities
are continuous at 80 and 250 GeV. The resulting densities
(:class:`CalibratedDensity`) are piecewise-smooth: at finer binning they
step at the 5 GeV bin edges by the ratio of neighbouring factors (most
visibly ×1.7 at 115 GeV in the background), as the template itself does.

Every integral (bin yields, the sampler's CDF) uses the same midpoint rule on
:data:`MASS_GRID`, whose points include the bin edges, so the bin yields the
factors are computed from are exactly those the sampler draws from.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import NamedTuple

import numpy as np
from scipy.special import voigt_profile
from scipy.stats import exponnorm

from ..errors import ConfigError

__all__ = [
    "GAMMA_Z",
    "MASS_GRID",
    "M_Z",
    "REFERENCE_LUMI_FB",
    "TARGET_WINDOW_GEV",
    "TEMPLATES_RESOURCE",
    "CalibratedDensity",
    "Density",
    "ReportTemplates",
    "bin_integrals",
    "calibrate",
    "higgs_density",
    "integrate",
    "llll_density",
    "reducible_density",
    "report_templates",
    "sample_masses",
]

#: An m4l density: GeV → events/GeV (or arbitrary units).
Density = Callable[[np.ndarray], np.ndarray]

M_Z = 91.1876
GAMMA_Z = 2.4952
#: Luminosity (fb⁻¹) at which the yield targets are defined.
REFERENCE_LUMI_FB = 10.0
#: m4l window (GeV) in which the yield targets are defined.
TARGET_WINDOW_GEV = (80.0, 250.0)
#: Masses (GeV) the densities are sampled and integrated on: 0.02 GeV steps, bin edges on points.
MASS_GRID = np.linspace(60.0, 400.0, 17_001)
#: The report's MC templates, relative to the ``higgs_pyhf`` package.
TEMPLATES_RESOURCE = "data/report_mc_templates.json"

_GRID_STEP = float(MASS_GRID[1] - MASS_GRID[0])
_MIDPOINTS = 0.5 * (MASS_GRID[1:] + MASS_GRID[:-1])


# --------------------------------------------------------------------------- templates


class ReportTemplates(NamedTuple):
    """The seed report's MC predictions (figure 2.1), report selection.

    Attributes:
        edges_gev: m4l bin edges (GeV).
        signal: summed H125 signal per bin (expected events).
        background: summed background per bin (expected events).
        lumi_fb: luminosity of the predictions (fb⁻¹).
    """

    edges_gev: np.ndarray
    signal: np.ndarray
    background: np.ndarray
    lumi_fb: float

    def by_kind(self, kind: str) -> np.ndarray:
        """The template of a sample kind (``"signal"`` or ``"background"``)."""
        return self.signal if kind == "signal" else self.background


@functools.cache
def report_templates() -> ReportTemplates:
    """Read the report's MC templates shipped with the package (read once, then cached).

    Raises:
        ConfigError: if the file does not hold 34 signal and background bins on its edges.
    """
    text = resources.files("higgs_pyhf").joinpath(TEMPLATES_RESOURCE).read_text("utf-8")
    doc = json.loads(text)
    edges = np.asarray(doc["bin_edges"], dtype=float)
    signal = np.asarray(doc["signal"], dtype=float)
    background = np.asarray(doc["background"], dtype=float)
    if not (signal.shape == background.shape == (edges.size - 1,)) or np.any(np.diff(edges) <= 0):
        msg = f"{TEMPLATES_RESOURCE}: signal and background need one value per bin of increasing edges"
        raise ConfigError(msg)
    return ReportTemplates(edges, signal, background, float(doc["lumi_fb"]))


# --------------------------------------------------------------------------- analytic shapes


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)))


def _low_tail(m: np.ndarray, mean: float, sigma: float, tau: float) -> np.ndarray:
    """Unit-normalised low-side exponential tail (decay length ``tau``) smeared by a Gaussian ``sigma``."""
    return np.asarray(exponnorm.pdf(mean - m, tau / sigma, loc=0.0, scale=sigma))


def llll_density(m: np.ndarray) -> np.ndarray:
    """Analytic m4l density of qq→ZZ→4ℓ, report selection (events/GeV per 10 fb⁻¹, before calibration).

    A Z→4ℓ peak (Breit–Wigner ⊗ 1.6 GeV Gaussian resolution, 17.3 events)
    with a radiative low-side tail (7.6 events, 4 GeV decay length), a flat
    continuum of about 1 event/GeV and the on-shell ZZ rise at 2·m_Z; the
    amplitudes are a fit to the report's background template minus the
    reducible backgrounds.
    """
    m = np.asarray(m, dtype=float)
    peak = 17.3 * voigt_profile(m - M_Z, 1.6, GAMMA_Z / 2.0)
    tail = 7.6 * _low_tail(m, M_Z, 1.6, 4.0)
    continuum = 1.02 * np.exp(-(m - 100.0) / 230.0) * _sigmoid((m - 84.0) / 3.0)
    zz = 1.36 * _sigmoid((m - 2.0 * M_Z - 2.8) / 3.7) * np.exp(-(m - 190.0) / 71.0)
    return np.asarray(peak + tail + continuum + zz)


def higgs_density(m: np.ndarray, *, mass: float = 124.63, sigma: float = 2.0) -> np.ndarray:
    """Analytic m4l density of H→ZZ*→4ℓ (unit-normalised on the real line).

    A Gaussian core of width ``sigma`` (the detector resolution; the natural
    width is negligible) at ``mass``, 40.5 % of it in a low-side exponential
    tail of 3.84 GeV (final-state radiation, bremsstrahlung), and 0.87 % in a
    broad pedestal falling with 28 GeV on both sides (mispaired leptons); a fit
    to the report's signal template.
    """
    m = np.asarray(m, dtype=float)
    core = np.exp(-0.5 * ((m - mass) / sigma) ** 2) / (sigma * np.sqrt(2.0 * np.pi))
    tail = _low_tail(m, mass, sigma, 3.84)
    pedestal = np.exp(-np.abs(m - mass) / 28.0) / 56.0
    return np.asarray(0.595 * core + 0.405 * tail + 0.0087 * pedestal)


def reducible_density(m: np.ndarray, *, start: float, shape: float, scale: float) -> np.ndarray:
    """Broad m4l density of reducible backgrounds: a Gamma shape starting at ``start`` GeV."""
    x = np.clip((np.asarray(m, dtype=float) - start) / scale, 0.0, None)
    return np.asarray(x ** (shape - 1.0) * np.exp(-x))


# --------------------------------------------------------------------------- integrals and sampling


def _cell_contents(density: Density) -> np.ndarray:
    """Integral of ``density`` over each cell of :data:`MASS_GRID` (midpoint rule, negatives clipped)."""
    return np.asarray(np.clip(density(_MIDPOINTS), 0.0, None) * _GRID_STEP)


def _grid_index(x: np.ndarray) -> np.ndarray:
    index = np.rint((np.asarray(x, dtype=float) - MASS_GRID[0]) / _GRID_STEP).astype(int)
    if np.any(index < 0) or np.any(index >= MASS_GRID.size):
        msg = f"masses {x} lie outside the generator's mass grid 60-400 GeV"
        raise ConfigError(msg)
    return np.asarray(index)


def bin_integrals(density: Density, edges: Sequence[float] | np.ndarray) -> np.ndarray:
    """Integral of ``density`` over each bin of ``edges`` (GeV), as the sampler sees it."""
    cumulative = np.concatenate([[0.0], np.cumsum(_cell_contents(density))])
    return np.asarray(np.diff(cumulative[_grid_index(np.asarray(edges))]))


def integrate(density: Density, low: float = 60.0, high: float = 400.0) -> float:
    """Integral of ``density`` from ``low`` to ``high`` GeV (grid points), as the sampler sees it."""
    return float(bin_integrals(density, [low, high])[0])


@functools.lru_cache(maxsize=64)
def _cdf(density: Density) -> np.ndarray:
    cdf = np.concatenate([[0.0], np.cumsum(_cell_contents(density))])
    return np.asarray(cdf / cdf[-1])


def sample_masses(density: Density, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` masses (GeV) from ``density`` on :data:`MASS_GRID` (inverse CDF, uniform within a cell)."""
    return np.asarray(np.interp(rng.random(n), _cdf(density), MASS_GRID))


# --------------------------------------------------------------------------- calibration


@dataclasses.dataclass(frozen=True)
class CalibratedDensity:
    """An analytic density times per-bin correction factors (events/GeV per 10 fb⁻¹).

    Attributes:
        analytic: the analytic shape (any normalisation).
        norm: multiplies ``analytic`` (yield normalisation).
        edges_gev: bin edges of the factors (GeV).
        factors: correction factor per bin; the first and last also apply
            below and above the edges.
    """

    analytic: Density
    norm: float
    edges_gev: tuple[float, ...]
    factors: tuple[float, ...]

    def __call__(self, m: np.ndarray) -> np.ndarray:
        """Density at masses ``m`` (GeV)."""
        m = np.asarray(m, dtype=float)
        index = np.clip(
            np.searchsorted(self.edges_gev, m, side="right") - 1, 0, len(self.factors) - 1
        )
        return np.asarray(self.norm * self.analytic(m) * np.asarray(self.factors)[index])


def calibrate(
    components: Mapping[str, tuple[Density, float]],
    template: np.ndarray,
    edges: np.ndarray,
) -> dict[str, CalibratedDensity]:
    """Calibrate the processes of one sample kind to that kind's template.

    Args:
        components: process name → (analytic shape, its nominal yield in the
            bins of ``edges``); the nominal yields are rescaled together so that
            they add up to the template's total (they set the split between
            processes), each shape is normalised to its rescaled yield.
        template: the kind's expected events per bin.
        edges: bin edges (GeV) of ``template``, on :data:`MASS_GRID` points.

    Returns:
        Process name → calibrated density: in every bin, the sum over processes
        of their integrals equals ``template``; the factors are 1 where the
        analytic shapes already follow it.

    Raises:
        ConfigError: if a bin with template content has no analytic content.
    """
    contents = {}
    rescale = float(template.sum()) / sum(nominal for _, nominal in components.values())
    for name, (shape, nominal) in components.items():
        per_bin = bin_integrals(shape, edges)
        norm = rescale * nominal / float(per_bin.sum())
        contents[name] = (shape, norm, norm * per_bin)
    analytic_total = sum(c[2] for c in contents.values())
    empty = (analytic_total <= 0) & (template > 0)
    if np.any(empty):
        msg = f"the analytic densities vanish in bins {np.flatnonzero(empty).tolist()} where the template does not"
        raise ConfigError(msg)
    factors = np.divide(
        template, analytic_total, out=np.ones_like(template), where=analytic_total > 0
    )
    edge_tuple = tuple(float(e) for e in edges)
    factor_tuple = tuple(float(f) for f in factors)
    return {
        name: CalibratedDensity(shape, norm, edge_tuple, factor_tuple)
        for name, (shape, norm, _) in contents.items()
    }
