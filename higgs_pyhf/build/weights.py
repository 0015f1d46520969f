"""Per-event weights: 1 for collision data, the seed report's formula for simulation.

``lumi·1000·xsec/(sumw·red_eff) · mcWeight · SF_PILEUP · SF_ELE · SF_MUON · SF_LepTRIGGER``
(lumi in fb⁻¹, xsec in pb); the first factor is
:meth:`higgs_pyhf.build.config.Sample.xsec_weight`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import awkward as ak
import numpy as np

from ..errors import HistogramError
from .ntuples import WEIGHT_BRANCHES

if TYPE_CHECKING:
    from .config import Sample

__all__ = ["event_weights", "mc_weights"]


def event_weights(events: ak.Array, sample: Sample, lumi_fb: float) -> np.ndarray:
    """Per-event weights (float64): 1 for data, the report's formula for simulation.

    Args:
        events: awkward record array with the weight branches (MC).
        sample: the sample (its cross-section, sum of weights, efficiency).
        lumi_fb: integrated luminosity in fb⁻¹.
    """
    if sample.is_data:
        return np.ones(len(events))
    return mc_weights(events, sample.xsec_weight(lumi_fb))


def mc_weights(events: ak.Array, xsec_weight: float) -> np.ndarray:
    """Per-event MC weights (float64): ``xsec_weight`` times the weight branches.

    Args:
        events: awkward record array with the :data:`~.ntuples.WEIGHT_BRANCHES`.
        xsec_weight: the sample's ``lumi·1000·xsec/(sumw·red_eff)``.

    Raises:
        HistogramError: if a weight branch is missing.
    """
    have = set(ak.fields(events))
    missing = [b for b in WEIGHT_BRANCHES if b not in have]
    if missing:
        msg = f"events lack the weight field(s) {missing}"
        raise HistogramError(msg)
    w = np.full(len(events), float(xsec_weight))
    for b in WEIGHT_BRANCHES:
        w *= ak.to_numpy(events[b])  # float32 factors, multiplied in float64
    return w
