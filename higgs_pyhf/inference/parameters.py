"""Parameters of a pyhf model by name, and pyhf's global state for the pyhf fallbacks.

- Parameter *labels* are pyhf's parameter names (scalar parameters by name,
  vector parameters as ``name[i]``), in pyhf's parameter order; indices are
  looked up with ``model.config.par_slice``, never hard-coded.
- :func:`pyhf_state` sets pyhf's numpy backend and the minuit optimizer for
  the duration of a block and restores whatever was set before (used where
  pyhf itself is called: the fallback fit and the reference tests).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import FitError

if TYPE_CHECKING:
    import pyhf

__all__ = [
    "MINUIT_TOLERANCE",
    "free_labels",
    "label_index",
    "labels",
    "n_free_unconstrained",
    "pyhf_state",
    "resolve_values",
]

log = logging.getLogger(__name__)

#: Minuit tolerance used for our fits (EDM target 0.002·tol·errordef); pyhf's
#: default of 0.1 leaves errors of ~1e-2 σ in the best-fit values.
MINUIT_TOLERANCE = 1e-4


@contextlib.contextmanager
def pyhf_state(optimizer: Any = None) -> Iterator[None]:
    """Use pyhf's numpy backend and the minuit optimizer inside the block.

    pyhf's global backend and optimizer are restored afterwards, also when the
    block raises.

    Args:
        optimizer: a pyhf optimizer instance; default
            ``minuit_optimizer(tolerance=MINUIT_TOLERANCE)``.
    """
    import pyhf

    old_tensorlib, old_optimizer = pyhf.get_backend()
    opt = (
        optimizer
        if optimizer is not None
        else pyhf.optimize.minuit_optimizer(tolerance=MINUIT_TOLERANCE)
    )
    try:
        pyhf.set_backend("numpy", opt, precision="64b")
        yield
    finally:
        pyhf.set_backend(old_tensorlib, old_optimizer)


def labels(model: pyhf.pdf.Model) -> tuple[str, ...]:
    """Parameter labels in pyhf's order (vector parameters as ``name[i]``)."""
    out: list[str] = [""] * model.config.npars
    for name in model.config.parameters:
        sl = model.config.par_slice(name)
        n = sl.stop - sl.start
        for j, idx in enumerate(range(sl.start, sl.stop)):
            out[idx] = name if n == 1 else f"{name}[{j}]"
    return tuple(out)


def label_index(model: pyhf.pdf.Model, name: str) -> list[int]:
    """Indices of ``name`` in pyhf's parameter vector.

    ``name`` is a label (``s_s``, ``staterror_x[3]``) or the bare name of a
    vector parameter (all its components).

    Raises:
        FitError: naming the valid labels if ``name`` is unknown.
    """
    labs = labels(model)
    if name in labs:
        return [labs.index(name)]
    if name in model.config.parameters:
        sl = model.config.par_slice(name)
        return list(range(sl.start, sl.stop))
    msg = f"unknown parameter {name!r}; valid parameters are {', '.join(labs)}"
    raise FitError(msg)


def resolve_values(
    model: pyhf.pdf.Model, values: Mapping[str, Any] | None, what: str
) -> dict[int, Any]:
    """Map a name → value mapping onto parameter indices (see :func:`label_index`)."""
    out: dict[int, Any] = {}
    for name, val in (values or {}).items():
        try:
            idx = label_index(model, name)
        except FitError as err:
            msg = f"{what}: {err}"
            raise FitError(msg) from None
        for i in idx:
            out[i] = val
    return out


def free_labels(model: pyhf.pdf.Model, fixed: Sequence[str] = ()) -> list[str]:
    """Labels of the parameters that are neither fixed by the model nor in ``fixed``."""
    fixed_idx = {i for name in fixed for i in label_index(model, name)}
    suggested = model.config.suggested_fixed()
    return [lab for i, lab in enumerate(labels(model)) if not suggested[i] and i not in fixed_idx]


def n_free_unconstrained(model: pyhf.pdf.Model, fixed: Sequence[str] = ()) -> int:
    """Number of free parameters without a constraint term (normfactors, shapefactors).

    Constrained nuisance parameters (staterror γ, lumi, ...) come with their
    own auxiliary measurement and do not reduce the χ² degrees of freedom.
    """
    free = set(free_labels(model, fixed))
    labs = labels(model)
    count = 0
    for name in model.config.parameters:
        if model.config.param_set(name).constrained:
            continue
        sl = model.config.par_slice(name)
        count += sum(1 for i in range(sl.start, sl.stop) if labs[i] in free)
    return count
