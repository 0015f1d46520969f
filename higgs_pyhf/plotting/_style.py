"""Shared plotting helpers: style context, data labels and saving figures.

The data label is decided once, at the boundary (the report reads the
workspace's provenance), and handed to every plot function as a string:

- :data:`REAL_DATA_LABEL` (``ATLAS Open Data``): the figure's header reads
  *ATLAS Open Data, √s = 13 TeV, 10 fb⁻¹*;
- :data:`GENERATED_DATA_LABEL` (or any label containing "generated"): the
  header names the data as generated and :data:`GENERATED_LABEL` is
  written as a caption in the lower left corner.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import matplotlib.figure
import mplhep
from matplotlib import style as mpl_style

from .._io import atomic_path

__all__ = [
    "GENERATED_DATA_LABEL",
    "GENERATED_LABEL",
    "REAL_DATA_LABEL",
    "UNKNOWN_DATA_LABEL",
    "add_data_label",
    "add_generated_caption",
    "is_generated_label",
    "new_figure",
    "param_label",
    "resolve_data_label",
    "save_figure",
    "style_context",
]

#: Caption added to every plot made from generated (synthetic) inputs.
GENERATED_LABEL = "generated open-data-shaped input (not ATLAS data)"
#: Data label of the real ATLAS Open Data events.
REAL_DATA_LABEL = "ATLAS Open Data"
#: Data label of generated (synthetic) pseudo-data.
GENERATED_DATA_LABEL = "Generated (not ATLAS data)"
#: Data label when the origin of the data is not recorded.
UNKNOWN_DATA_LABEL = "Data (origin not recorded)"


#: Axis and legend labels of the report's parameters.
_PARAM_LATEX = {"s_s": "$s_s$", "s_b": "$s_b$"}


def param_label(name: str) -> str:
    """Label of a parameter: ``s_s`` → ``$s_s$``; any other name as plain text.

    Names outside the table are shown as written (matplotlib renders an
    underscore outside ``$…$`` as it is); a ``$`` is escaped so that it never
    opens math mode.
    """
    return _PARAM_LATEX.get(name, name.replace("$", r"\$"))


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


def new_figure(figsize: tuple[float, float]) -> matplotlib.figure.Figure:
    """A new constrained-layout figure (not registered with pyplot)."""
    return matplotlib.figure.Figure(figsize=figsize, layout="constrained")


def is_generated_label(data_label: str) -> bool:
    """Whether a data label names generated (synthetic) data."""
    return "generated" in data_label.lower() or "pseudo-data" in data_label.lower()


def resolve_data_label(data_label: str | None, generated: bool) -> str:
    """``data_label`` if given, else the generated or the real label per ``generated``."""
    if data_label is not None:
        return data_label
    return GENERATED_DATA_LABEL if generated else REAL_DATA_LABEL


def add_generated_caption(fig: matplotlib.figure.Figure, generated: bool = True) -> None:
    """Write :data:`GENERATED_LABEL` at the bottom left of ``fig`` (if ``generated``; once).

    It is the figure's ``supxlabel``, so the constrained layout keeps it clear
    of axis labels and of legends placed under the axes.
    """
    if generated and not any(t.get_text() == GENERATED_LABEL for t in fig.texts):
        fig.supxlabel(GENERATED_LABEL, x=0.01, ha="left", fontsize=9, color="0.35", style="italic")


def add_data_label(
    fig: matplotlib.figure.Figure,
    data_label: str,
    *,
    lumi_fb: float | None = 10.0,
    extra: str = r"$H \rightarrow ZZ^* \rightarrow 4\ell$",
) -> None:
    """The figure's header: the data label, √s and luminosity; the generated caption if generated.

    Written as the figure's suptitle (left-aligned), so it takes its own
    space in the constrained layout and never covers a curve or a legend.
    """
    parts = [data_label]
    if lumi_fb is not None:
        parts.append(f"√s = 13 TeV, {lumi_fb:g} fb$^{{-1}}$")
    if extra:
        parts.append(extra)
    fig.suptitle(
        "    ".join(parts),
        x=0.01,
        ha="left",
        fontsize=14,
        fontweight="bold" if not is_generated_label(data_label) else "normal",
        fontstyle="italic",
    )
    add_generated_caption(fig, is_generated_label(data_label))
