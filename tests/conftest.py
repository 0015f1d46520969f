"""Shared test fixtures."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats


def _report_like_histograms(seed: int = 20201) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """34 bins 80-250 GeV: Z peak ~25/bin at 91 GeV, ~2-4/bin at 125, ZZ ~6/bin above 180, 8-event H at 125."""
    edges = np.linspace(80.0, 250.0, 35)
    centers = 0.5 * (edges[1:] + edges[:-1])
    background = (
        0.6
        + 25.0 * np.exp(-0.5 * ((centers - 91.2) / 4.0) ** 2)
        + 2.2 * np.exp(-(((centers - 125.0) / 60.0) ** 2))
        + 5.5 / (1.0 + np.exp(-(centers - 185.0) / 6.0))
    )
    signal = 8.0 * np.diff(stats.norm.cdf(edges, 125.0, 2.0))
    rng = np.random.default_rng(seed)
    data = rng.poisson(1.4 * signal + 1.3 * background).astype(float)
    return signal, background, data


@pytest.fixture(scope="session")
def report_histograms() -> Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Factory of report-like (signal, background, data) histograms: ``report_histograms(seed)``.

    A shape with a flatter continuum than ``synthetic.report_like_histograms``
    (the χ² grid tests pin numbers on it).
    """
    return _report_like_histograms


#: The published ATLAS sbottom likelihoods (HEPData ins1748602, CC0), read from the tarball.
SBOTTOM_TARBALL = Path(__file__).parent / "data" / "atlas_susy_2018_31_sbottom_likelihoods.tar.gz"


class Sbottom:
    """The sbottom tarball's members, read on demand (never extracted to the repository)."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}
        with tarfile.open(SBOTTOM_TARBALL) as tar:
            self.names = [m.name for m in tar.getmembers() if m.isfile()]

    def json(self, member: str) -> Any:
        """The member ``Region?/…json`` as a JSON object (a fresh copy each call)."""
        if member not in self._cache:
            with tarfile.open(SBOTTOM_TARBALL) as tar:
                f = tar.extractfile(member)
                assert f is not None
                self._cache[member] = f.read().decode("utf-8")
        return json.loads(self._cache[member])

    def write(self, member: str, directory: Path) -> Path:
        """Write the member into ``directory`` (a test's tmp_path) and return its path."""
        path = directory / member.replace("/", "_")
        path.write_text(json.dumps(self.json(member)), encoding="utf-8")
        return path


@pytest.fixture(scope="session")
def generated_inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated open-data-shaped ntuples (seed 11, 5% of the nominal size), written once per session.

    Shared by the modules that build from ntuples (workspace, templates);
    read only: a test that changes inputs copies them first.
    """
    from higgs_pyhf.synthetic import make_inputs

    directory = tmp_path_factory.mktemp("generated_inputs")
    make_inputs(directory, seed=11, scale=0.05)
    return directory


@pytest.fixture(scope="session")
def sbottom() -> Sbottom:
    """The published sbottom likelihoods: ``sbottom.json('RegionA/BkgOnly.json')``."""
    return Sbottom()
