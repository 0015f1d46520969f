"""higgs_pyhf: the ATLAS Open Data H→ZZ*→4ℓ channel as a pyhf statistical model.

Pipeline (one module per stage)::

    configuration → ntuples (I/O) → selection (pure, awkward) → histograms (hist)
      → workspace (pyhf JSON) → inference {fit, scan, chi2grid, toys} → plotting → cli
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "workspace_from_hists"]


def __getattr__(name: str):  # temporary; replaced by the lazy API below
    if name == "workspace_from_hists":
        from .hist_builder import workspace_from_hists

        return workspace_from_hists
    raise AttributeError(name)
