"""Plots of histograms, fits, scans and toy studies (mplhep ATLAS-like style).

Every function takes results, an optional ``ax``, returns the ``Figure`` and
never calls ``plt.show()``; :func:`save_figure` writes files. Matplotlib's
global style is left untouched (styles are applied with ``mpl.style.context``).
"""

from __future__ import annotations

from ._style import save_figure, style_context

__all__ = ["save_figure", "style_context"]
