"""Analytic pyhf workspaces without ntuples, for tests and benchmarks.

- :func:`realistic_workspace`: an H→4ℓ-like model with 2 channels × 34 bins
  (80–250 GeV), a signal and three backgrounds, and every common modifier
  (lumi, normsys, histosys, staterror, shapesys; POI ``s_s``, normfactor
  ``s_b``): 146 parameters.
- :func:`random_workspace`: small random workspaces covering every modifier
  type pyhf 0.7 knows, for equality tests against pyhf.

Both return plain JSON-able workspace dicts (``pyhf.Workspace(spec)``) whose
observations are drawn from the model with the given seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

__all__ = ["random_workspace", "realistic_workspace"]

EDGES = np.linspace(80.0, 250.0, 35)


def _bin_integral(cdf: Any) -> np.ndarray:
    return np.diff(cdf(EDGES))  # type: ignore[no-any-return]


def _shapes() -> dict[str, np.ndarray]:
    """Unit-normalised m4l shapes of the four processes per bin."""
    x = 0.5 * (EDGES[1:] + EDGES[:-1])
    width = np.diff(EDGES)
    zz = (
        0.55 * stats.norm.pdf(x, 91.2, 3.0)
        + 0.45 * stats.gamma.pdf(x - 160.0, 2.0, scale=25.0) * (x > 160.0)
        + 0.004 * (1.0 + np.tanh((x - 180.0) / 6.0))
    ) * width
    zjets = stats.expon.pdf(x - 80.0, scale=60.0) * width
    ttbar = (0.2 + 0.8 * stats.norm.pdf(x, 170.0, 40.0) / stats.norm.pdf(0.0, 0.0, 40.0)) * width
    signal = _bin_integral(lambda e: stats.norm.cdf(e, 125.0, 2.0))
    return {
        "signal": signal / signal.sum(),
        "ZZ": zz / zz.sum(),
        "Zjets": zjets / zjets.sum(),
        "ttbar": ttbar / ttbar.sum(),
    }


def _poisson_workspace(
    channels: list[dict[str, Any]],
    rng: np.random.Generator,
    *,
    poi: str,
    parameters: list[dict[str, Any]],
) -> dict[str, Any]:
    """The workspace of ``channels`` with Poisson data drawn around their total and one measurement ``meas``."""
    observations = []
    for ch in channels:
        total = np.sum([np.asarray(s["data"], dtype=float) for s in ch["samples"]], axis=0)
        observations.append({"name": ch["name"], "data": rng.poisson(total).astype(float).tolist()})
    return {
        "version": "1.0.0",
        "channels": channels,
        "observations": observations,
        "measurements": [{"name": "meas", "config": {"poi": poi, "parameters": parameters}}],
    }


def realistic_workspace(seed: int = 0) -> dict[str, Any]:
    """A 2-channel × 34-bin H→4ℓ-like workspace with 146 parameters.

    Samples ``signal``, ``ZZ``, ``Zjets`` and ``ttbar`` in channels ``4l_a``
    and ``4l_b``; modifiers: normfactors ``s_s`` (POI, on the signal) and
    ``s_b`` (on ZZ); ``lumi`` (1.7 %) on signal, ZZ and ttbar; normsys
    ``lep_eff`` (shared), ``sig_xsec``, ``zjets_norm``, ``ttbar_xsec``;
    histosys ``mass_scale`` (signal peak shift) and ``zz_shape`` (ZZ tilt);
    ``staterror`` per channel on signal, ZZ and ttbar; ``shapesys`` per
    channel on Zjets (control-region-like per-bin uncertainty).

    Args:
        seed: seed of the template fluctuations and of the observed data
            (Poisson around the nominal prediction, s_s = s_b = 1).

    Returns:
        The workspace dict.
    """
    rng = np.random.default_rng(seed)
    shapes = _shapes()
    x = 0.5 * (EDGES[1:] + EDGES[:-1])
    channels = []
    for ch, scale in (("4l_a", 1.0), ("4l_b", 0.7)):
        yields = {"signal": 12.0, "ZZ": 160.0, "Zjets": 25.0, "ttbar": 8.0}
        nom = {
            k: scale * v * shapes[k] * rng.uniform(0.97, 1.03, x.size) for k, v in yields.items()
        }
        shift = _bin_integral(lambda e: stats.norm.cdf(e, 125.4, 2.0))
        shift_dn = _bin_integral(lambda e: stats.norm.cdf(e, 124.6, 2.0))
        tilt = 1.0 + 0.08 * (x - 165.0) / 85.0
        mc_err = {k: np.sqrt(nom[k] * 0.02 * rng.uniform(0.5, 1.5, x.size)) for k in nom}

        def common(
            sample: str, ch: str = ch, mc_err: dict[str, np.ndarray] = mc_err
        ) -> list[dict[str, Any]]:
            return [
                {"name": "lumi", "type": "lumi", "data": None},
                {"name": "lep_eff", "type": "normsys", "data": {"hi": 1.03, "lo": 0.968}},
                {
                    "name": f"staterror_{ch}",
                    "type": "staterror",
                    "data": mc_err[sample].tolist(),
                },
            ]

        sig_total = nom["signal"].sum()
        samples = [
            {
                "name": "signal",
                "data": nom["signal"].tolist(),
                "modifiers": [
                    {"name": "s_s", "type": "normfactor", "data": None},
                    {"name": "sig_xsec", "type": "normsys", "data": {"hi": 1.06, "lo": 0.95}},
                    {
                        "name": "mass_scale",
                        "type": "histosys",
                        "data": {
                            "hi_data": (sig_total * shift / shift.sum()).tolist(),
                            "lo_data": (sig_total * shift_dn / shift_dn.sum()).tolist(),
                        },
                    },
                    *common("signal"),
                ],
            },
            {
                "name": "ZZ",
                "data": nom["ZZ"].tolist(),
                "modifiers": [
                    {"name": "s_b", "type": "normfactor", "data": None},
                    {
                        "name": "zz_shape",
                        "type": "histosys",
                        "data": {
                            "hi_data": (nom["ZZ"] * tilt).tolist(),
                            "lo_data": (nom["ZZ"] / tilt).tolist(),
                        },
                    },
                    *common("ZZ"),
                ],
            },
            {
                "name": "Zjets",
                "data": nom["Zjets"].tolist(),
                "modifiers": [
                    {"name": "zjets_norm", "type": "normsys", "data": {"hi": 1.3, "lo": 0.75}},
                    {
                        "name": f"shapesys_zjets_{ch}",
                        "type": "shapesys",
                        "data": (0.15 * nom["Zjets"]).tolist(),
                    },
                ],
            },
            {
                "name": "ttbar",
                "data": nom["ttbar"].tolist(),
                "modifiers": [
                    {"name": "ttbar_xsec", "type": "normsys", "data": {"hi": 1.1, "lo": 0.9}},
                    *common("ttbar"),
                ],
            },
        ]
        channels.append({"name": ch, "samples": samples})
    return _poisson_workspace(
        channels,
        rng,
        poi="s_s",
        parameters=[
            {
                "name": "lumi",
                "auxdata": [1.0],
                "sigmas": [0.017],
                "bounds": [[0.9, 1.1]],
                "inits": [1.0],
            },
            {"name": "s_s", "bounds": [[0.0, 10.0]], "inits": [1.0]},
            {"name": "s_b", "bounds": [[0.0, 10.0]], "inits": [1.0]},
        ],
    )


def random_workspace(
    seed: int,
    *,
    n_channels: int = 2,
    n_bins: int = 4,
    shapefactor: bool = True,
    fixed_lumi: bool = False,
) -> dict[str, Any]:
    """A small random workspace using every modifier type (seeded).

    Channels ``c0``, ``c1``, …; samples ``sig`` (normfactor ``mu``, normsys,
    histosys, staterror, lumi), ``bkg1`` (normfactor ``nb``, normsys and
    histosys shared with ``sig`` in some channels, staterror shared with
    ``sig``, shapesys) and ``bkg2`` (shapesys, lumi, optionally a
    shapefactor in the last channel). Yields, uncertainties and which
    modifiers are present are random.

    Args:
        seed: seed of everything random (structure, yields, observations).
        n_channels: number of channels.
        n_bins: bins per channel.
        shapefactor: include a shapefactor (unconstrained per-bin factor).
        fixed_lumi: mark ``lumi`` as fixed in the measurement.

    Returns:
        The workspace dict.
    """
    rng = np.random.default_rng(seed)
    channels = []
    for c in range(n_channels):
        sig = rng.uniform(2.0, 15.0, n_bins)
        b1 = rng.uniform(10.0, 60.0, n_bins)
        b2 = rng.uniform(3.0, 30.0, n_bins)

        def rel(lo: float, hi: float) -> float:
            return float(rng.uniform(lo, hi))

        sig_mods: list[dict[str, Any]] = [
            {"name": "mu", "type": "normfactor", "data": None},
            {"name": "lumi", "type": "lumi", "data": None},
            {
                "name": "stat",
                "type": "staterror",
                "data": (sig * rng.uniform(0.02, 0.2, n_bins)).tolist(),
            },
        ]
        b1_mods: list[dict[str, Any]] = [
            {"name": "nb", "type": "normfactor", "data": None},
            {
                "name": "stat",
                "type": "staterror",
                "data": (b1 * rng.uniform(0.02, 0.2, n_bins)).tolist(),
            },
        ]
        for name, mods in (("sys_a", sig_mods), ("sys_a", b1_mods), ("sys_b", b1_mods)):
            if rng.uniform() < 0.8:
                mods.append(
                    {
                        "name": name,
                        "type": "normsys",
                        "data": {"hi": 1.0 + rel(0.02, 0.3), "lo": 1.0 - rel(0.02, 0.3)},
                    }
                )
        for name, mods, nom in (
            ("shape_a", sig_mods, sig),
            ("shape_a", b1_mods, b1),
            ("shape_b", b1_mods, b1),
        ):
            if rng.uniform() < 0.8:
                # up and down on opposite sides of the nominal in every bin, as a
                # physical variation is (same-side variations make −2 ln L double-welled)
                shift = rng.choice([-1.0, 1.0], n_bins) * rng.uniform(0.02, 0.3, n_bins)
                up = nom * (1.0 + shift)
                dn = nom * (1.0 - shift * rng.uniform(0.5, 1.5, n_bins))
                mods.append(
                    {
                        "name": name,
                        "type": "histosys",
                        "data": {"hi_data": up.tolist(), "lo_data": dn.tolist()},
                    }
                )
        if rng.uniform() < 0.7:
            b1_mods.append(
                {
                    "name": f"ss1_c{c}",
                    "type": "shapesys",
                    "data": (b1 * rng.uniform(0.05, 0.3, n_bins)).tolist(),
                }
            )
        b2_mods: list[dict[str, Any]] = [
            {"name": "lumi", "type": "lumi", "data": None},
            {
                "name": f"ss2_c{c}",
                "type": "shapesys",
                "data": (b2 * rng.uniform(0.05, 0.3, n_bins)).tolist(),
            },
        ]
        if shapefactor and c == n_channels - 1:
            b2_mods.append({"name": "sf", "type": "shapefactor", "data": None})
        channels.append(
            {
                "name": f"c{c}",
                "samples": [
                    {"name": "sig", "data": sig.tolist(), "modifiers": sig_mods},
                    {"name": "bkg1", "data": b1.tolist(), "modifiers": b1_mods},
                    {"name": "bkg2", "data": b2.tolist(), "modifiers": b2_mods},
                ],
            }
        )
    lumi: dict[str, Any] = {
        "name": "lumi",
        "auxdata": [1.0],
        "sigmas": [rel(0.01, 0.1)],
        "bounds": [[0.5, 1.5]],
        "inits": [1.0],
    }
    if fixed_lumi:
        lumi["fixed"] = True
    nb = {"name": "nb", "bounds": [[0.0, 10.0]], "inits": [1.0]}
    return _poisson_workspace(channels, rng, poi="mu", parameters=[lumi, nb])
