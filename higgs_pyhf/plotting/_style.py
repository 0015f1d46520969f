"""Shared plotting helpers: style context and saving figures."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import matplotlib.figure
import mplhep
from matplotlib import style as mpl_style

from .._io import atomic_path

__all__ = ["GENERATED_LABEL", "add_generated_caption", "save_figure", "style_context"]

#: Caption added to every plot made from generated (synthetic) inputs.
GENERATED_LABEL = "generated open-data-shaped input (not ATLAS data)"


@contextlib.contextmanager
def style_context() -> Iterator[None]:
    """Apply the mplhep ATLAS style for the duration of the block only."""
    with mpl_style.context(mplhep.style.ATLAS):
        yield


def save_figure(
    fig: matplotlib.figure.Figure, path: str | os.PathLike[str], *, dpi: int = 120
) -> Path:
    """Save ``fig`` atomically to ``path`` (format from the suffix) and return the path."""
    target = Path(path)
    # draw inside the style too: fonts and mathtext are resolved at draw time
    with style_context(), atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=target.suffix.lstrip(".") or "png")
    return target


def add_generated_caption(fig: matplotlib.figure.Figure, generated: bool = True) -> None:
    """Write :data:`GENERATED_LABEL` in the lower left corner of ``fig`` (if ``generated``)."""
    if generated:
        fig.text(
            0.01,
            0.005,
            GENERATED_LABEL,
            fontsize=9,
            color="0.35",
            style="italic",
            ha="left",
            va="bottom",
        )
