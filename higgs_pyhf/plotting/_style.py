"""Shared plotting helpers: style context, figure headers, data labels and saving figures.

The data label is decided once, at the boundary (the report reads the
workspace's provenance), and handed to every plot function as a string.
The experiment header is written only where the provenance says what the
data are:

- :data:`REAL_DATA_LABEL` (``ATLAS Open Data``, the shipped workspaces): the
  header reads *ATLAS Open Data  √s = 13 TeV, 10 fb⁻¹  H→ZZ*→4ℓ*;
- :data:`GENERATED_DATA_LABEL` (the generator's pseudo-data of that model):
  the same header with the generated label, and :data:`GENERATED_LABEL`
  written as a caption in the lower left corner;
- any other label (any other workspace): a neutral header, only what the
  caller gives (``label``, ``energy``, ``lumi_fb``, ``title``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.figure
import mplhep
from matplotlib import style as mpl_style

from .._io import atomic_path

__all__ = [
    "GENERATED_DATA_LABEL",
    "GENERATED_LABEL",
    "REAL_DATA_LABEL",
    "REPORT_SAMPLE_LABELS",
    "UNKNOWN_DATA_LABEL",
    "StyledFigure",
    "add_data_label",
    "add_generated_caption",
    "header_text",
    "is_generated_label",
    "is_report_model_label",
    "new_figure",
    "param_label",
    "resolve_data_label",
    "sample_colors",
    "sample_labels",
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
UNKNOWN_DATA_LABEL = "Data"
#: Centre-of-mass energy of the shipped open data (header of their figures only).
OPEN_DATA_ENERGY = "13 TeV"
#: Physics title of the shipped open-data model (header of its figures only).
OPEN_DATA_TITLE = r"$H \rightarrow ZZ^* \rightarrow 4\ell$"
#: Legend names of the report model's two samples (its figures only).
REPORT_SAMPLE_LABELS = {
    "background": r"Background ($ZZ^*$, $Z$+jets, $t\bar{t}$)",
    "signal": r"Higgs ($m_H$ = 125 GeV)",
}
#: Sample colours (Okabe–Ito), in workspace order; signal-like samples get :data:`SIGNAL_COLOR`.
SAMPLE_COLORS = ("#56b4e9", "#009e73", "#e69f00", "#cc79a7", "#0072b2", "#f0e442", "#999999")
#: Colour of a signal-like sample (name contains "signal" or "higgs").
SIGNAL_COLOR = "#d55e00"


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


class StyledFigure(matplotlib.figure.Figure):
    """A figure that draws itself in the package's style, wherever it is drawn.

    Fonts, mathtext and tick settings are read when a figure is drawn, not
    when it is made; a style context around the plotting code alone would be
    gone by the time ``fig.savefig`` or a notebook draws it. This figure
    applies the style around each of its own draws and leaves matplotlib's
    global style as it was.
    """

    def draw(self, renderer: Any) -> None:
        """Draw the figure inside :func:`style_context`."""
        with style_context():
            super().draw(renderer)


def new_figure(figsize: tuple[float, float]) -> matplotlib.figure.Figure:
    """A new constrained-layout :class:`StyledFigure` (not registered with pyplot)."""
    return StyledFigure(figsize=figsize, layout="constrained")


def is_generated_label(data_label: str) -> bool:
    """Whether a data label names the generator's open-data-shaped pseudo-data.

    Only the generator's own label (:data:`GENERATED_DATA_LABEL`) or a label
    that says it is not ATLAS data counts; a user's "Pseudo-data" does not.
    """
    low = data_label.lower()
    return data_label == GENERATED_DATA_LABEL or ("generated" in low and "not atlas" in low)


def is_report_model_label(data_label: str | None) -> bool:
    """Whether a data label comes from the provenance of the shipped open-data model.

    Only then do figures carry the ATLAS/√s/H→4ℓ header and the physics sample names.
    """
    return data_label is not None and (
        data_label == REAL_DATA_LABEL or is_generated_label(data_label)
    )


def resolve_data_label(data_label: str | None, generated: bool) -> str:
    """``data_label`` if given, else the generated label per ``generated``, else plain ``Data``."""
    if data_label is not None:
        return data_label
    return GENERATED_DATA_LABEL if generated else UNKNOWN_DATA_LABEL


def sample_labels(
    samples: Sequence[str], data_label: str | None, rename: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Legend name of each sample: ``rename`` first, the report model's physics names, else as named."""
    physics = REPORT_SAMPLE_LABELS if is_report_model_label(data_label) else {}
    extra = dict(rename or {})
    return {s: extra.get(s, physics.get(s, s)) for s in samples}


def sample_colors(
    samples: Sequence[str], colors: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Colour of each sample: ``colors`` first; signal-like names red-orange; others in order."""
    given = dict(colors or {})
    out: dict[str, str] = {}
    k = 0
    for s in samples:
        if s in given:
            out[s] = given[s]
        elif "signal" in s.lower() or "higgs" in s.lower():
            out[s] = SIGNAL_COLOR
        else:
            out[s] = SAMPLE_COLORS[k % len(SAMPLE_COLORS)]
            k += 1
    return out


def add_generated_caption(fig: matplotlib.figure.Figure, generated: bool = True) -> None:
    """Write :data:`GENERATED_LABEL` at the bottom left of ``fig`` (if ``generated``; once).

    It is the figure's ``supxlabel``, so the constrained layout keeps it clear
    of axis labels and of legends placed under the axes.
    """
    if generated and not any(t.get_text() == GENERATED_LABEL for t in fig.texts):
        fig.supxlabel(GENERATED_LABEL, x=0.01, ha="left", fontsize=9, color="0.35", style="italic")


def header_text(
    data_label: str | None,
    *,
    lumi_fb: float | None = None,
    label: str | None = None,
    energy: str | float | None = None,
    title: str | None = None,
) -> str:
    """The header line of a figure (empty: no header).

    Args:
        data_label: the data label decided from the provenance; only the shipped
            model's labels (:func:`is_report_model_label`) bring the experiment
            label, √s = 13 TeV and the H→4ℓ title by default.
        lumi_fb: integrated luminosity (fb⁻¹); None: not shown.
        label: experiment label (e.g. ``ATLAS Internal``); replaces the data label.
        energy: centre-of-mass energy, a number in TeV or a text (``13.6 TeV``).
        title: physics title (e.g. ``ttH``); ``""`` for none.
    """
    known = is_report_model_label(data_label)
    first = label if label is not None else (data_label if known else None)
    if energy is None and known:
        energy = OPEN_DATA_ENERGY
    if title is None:
        title = OPEN_DATA_TITLE if known else ""
    parts = [first] if first else []
    run = []
    if energy not in (None, ""):
        run.append(f"√s = {energy:g} TeV" if isinstance(energy, int | float) else f"√s = {energy}")
    if lumi_fb is not None:
        run.append(f"{lumi_fb:g} fb$^{{-1}}$")
    if run:
        parts.append(", ".join(run))
    if title:
        parts.append(title)
    return "    ".join(parts)


def add_data_label(
    fig: matplotlib.figure.Figure,
    data_label: str | None,
    *,
    lumi_fb: float | None = None,
    label: str | None = None,
    energy: str | float | None = None,
    title: str | None = None,
) -> None:
    """The figure's header (:func:`header_text`); the generated caption if generated.

    Written as the figure's suptitle (left-aligned), so it takes its own
    space in the constrained layout and never covers a curve or a legend.
    Nothing is written when the header is empty (a neutral figure).
    """
    text = header_text(data_label, lumi_fb=lumi_fb, label=label, energy=energy, title=title)
    generated = data_label is not None and is_generated_label(data_label)
    if text:
        fig.suptitle(
            text,
            x=0.01,
            ha="left",
            fontsize=14,
            fontweight="normal" if generated else "bold",
            fontstyle="italic",
        )
    add_generated_caption(fig, generated)
