"""Generated HistFactory workspaces of any size, for scaling benchmarks (NOT a physics model).

:func:`scaling_workspace` writes a pyhf spec with ``n_channels`` channels
of ``n_bins`` bins, one POI and the modifier kinds of a published search:

- ``signal``: normfactor ``mu`` (the POI), ``lumi``, a shared normsys
  ``sig_theory``;
- ``background``: ``lumi``, a staterror per channel (one γ per bin),
  ``n_local`` channel-own systematics (the first half normsys, the rest
  histosys with a tilt across the bins) and ``n_shared`` normsys shared by
  every channel;
- ``minor``: ``lumi`` and a shared normsys ``minor_xsec``.

The parameters: ``4 + n_shared + n_channels · (n_bins + n_local)`` (``mu``,
``lumi``, ``sig_theory``, ``minor_xsec``, the shared, and per channel its γ
and local systematics). The observations are a Poisson draw of the
expectation at μ = 1 and all nuisance parameters at their nominal values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["n_parameters", "scaling_workspace"]


def n_parameters(n_channels: int, n_bins: int = 5, n_local: int = 4, n_shared: int = 4) -> int:
    """The number of parameters of :func:`scaling_workspace` with these arguments."""
    return 4 + n_shared + n_channels * (n_bins + n_local)


def _channel(
    c: int, n_bins: int, n_local: int, n_shared: int, rng: np.random.Generator
) -> tuple[dict[str, Any], np.ndarray]:
    x = np.linspace(-1.0, 1.0, n_bins)
    sig = 4.0 + 16.0 * np.exp(-0.5 * ((x - rng.uniform(-0.5, 0.5)) / 0.35) ** 2)
    bkg = rng.uniform(40.0, 200.0) * np.exp(-rng.uniform(0.3, 1.2) * (x + 1.0))
    minor = rng.uniform(2.0, 10.0) * np.ones(n_bins)
    lumi = {"name": "lumi", "type": "lumi", "data": None}
    bkg_mods: list[dict[str, Any]] = [
        lumi,
        {
            "name": f"stat_ch{c}",
            "type": "staterror",
            "data": (bkg * rng.uniform(0.02, 0.08, n_bins)).tolist(),
        },
    ]
    for j in range(n_local):
        name = f"sys_ch{c}_{j}"
        if j < (n_local + 1) // 2:
            up = 1.0 + rng.uniform(0.01, 0.12)
            down = 1.0 - rng.uniform(0.01, 0.12)
            bkg_mods.append({"name": name, "type": "normsys", "data": {"hi": up, "lo": down}})
        else:
            tilt = rng.uniform(0.02, 0.1) * x + rng.uniform(-0.02, 0.02)
            bkg_mods.append(
                {
                    "name": name,
                    "type": "histosys",
                    "data": {
                        "hi_data": (bkg * (1 + tilt)).tolist(),
                        "lo_data": (bkg * (1 - tilt)).tolist(),
                    },
                }
            )
    for j in range(n_shared):
        up = 1.0 + rng.uniform(0.01, 0.06)
        down = 1.0 - rng.uniform(0.01, 0.06)
        bkg_mods.append({"name": f"shared_{j}", "type": "normsys", "data": {"hi": up, "lo": down}})
    channel = {
        "name": f"ch{c}",
        "samples": [
            {
                "name": "signal",
                "data": sig.tolist(),
                "modifiers": [
                    {"name": "mu", "type": "normfactor", "data": None},
                    lumi,
                    {"name": "sig_theory", "type": "normsys", "data": {"hi": 1.05, "lo": 0.95}},
                ],
            },
            {"name": "background", "data": bkg.tolist(), "modifiers": bkg_mods},
            {
                "name": "minor",
                "data": minor.tolist(),
                "modifiers": [
                    lumi,
                    {"name": "minor_xsec", "type": "normsys", "data": {"hi": 1.2, "lo": 0.8}},
                ],
            },
        ],
    }
    return channel, sig + bkg + minor


def scaling_workspace(
    n_channels: int, n_bins: int = 5, n_local: int = 4, n_shared: int = 4, seed: int = 0
) -> dict[str, Any]:
    """A pyhf workspace spec of the size asked for (see the module docstring).

    Args:
        n_channels: channels (≥ 1).
        n_bins: bins per channel (≥ 1), each with its own staterror γ.
        n_local: systematics of one channel's background (half normsys, half histosys).
        n_shared: normsys of the background shared by all channels.
        seed: seed of the yields, the systematics and the Poisson observations.

    Returns:
        The spec (``channels``, ``observations``, ``measurements``, ``version``).
    """
    rng = np.random.default_rng(seed)
    channels, observations = [], []
    for c in range(n_channels):
        channel, expected = _channel(c, n_bins, n_local, n_shared, rng)
        channels.append(channel)
        observations.append(
            {"name": channel["name"], "data": rng.poisson(expected).astype(float).tolist()}
        )
    lumi = {
        "name": "lumi",
        "auxdata": [1.0],
        "sigmas": [0.02],
        "bounds": [[0.5, 1.5]],
        "inits": [1.0],
    }
    measurement = {
        "name": "meas",
        "config": {
            "poi": "mu",
            "parameters": [lumi, {"name": "mu", "bounds": [[-5.0, 10.0]], "inits": [1.0]}],
        },
    }
    return {
        "channels": channels,
        "observations": observations,
        "measurements": [measurement],
        "version": "1.0.0",
    }
