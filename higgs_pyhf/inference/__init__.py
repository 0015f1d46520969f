"""Statistical inference on pyhf workspaces.

Submodules: :mod:`.results` (NamedTuple result containers), :mod:`.fit`
(maximum-likelihood fits), :mod:`.scan` (profile/conditional Δ(−2lnL) scans
and contours), :mod:`.chi2grid` (the seed report's χ² grid method and its
variants), :mod:`.gof` (goodness of fit), :mod:`.significance` (p0, CLs
limits), :mod:`.toys` (batched pseudo-experiments).
"""

from __future__ import annotations

__all__: list[str] = []
