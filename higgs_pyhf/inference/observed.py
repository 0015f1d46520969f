"""The data a study is given: main bins followed by auxdata, as pyhf orders them."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import FitError

__all__ = ["data_vector"]


def data_vector(data: Any, nmain: int, naux: int) -> np.ndarray:
    """``data`` as a float array of ``nmain + naux`` entries.

    Args:
        data: observed data (main bins followed by auxdata).
        nmain: the model's main bins.
        naux: the model's auxiliary data.

    Raises:
        FitError: if ``data`` is not 1D of that length (one line, with the shape).
    """
    d = np.asarray(data, dtype=float)
    if d.ndim != 1 or d.size != nmain + naux:
        msg = (
            f"data has shape {d.shape}, expected ({nmain + naux},) (main bins followed by auxdata)"
        )
        raise FitError(msg)
    return d
