"""The batched HistFactory engine: one likelihood for every pyhf model.

Stages, one module each:

- :mod:`.spec_layout` (the workspace JSON, by pyhf's model-building rules,
  without pyhf) or :mod:`.layout` (a ``pyhf.pdf.Model``) → a model's
  :class:`~.layout.Layout`; :mod:`.spec_model`: the model of a JSON with
  pyhf's model interface;
- :mod:`.compile`: a layout → :class:`CompiledModel` (arrays, once);
- :mod:`.interpolation`: pyhf's codes 0, 1, 4 and 4p with derivatives
  (vectorized numpy, and compiled scalar twins);
- :mod:`.likelihood`: batched expected data and −2 ln L (numpy), and the
  batched derivatives (:func:`derivatives`, through the kernel);
- :mod:`.kernel`: the compiled −2 ln L of one point with its gradient and
  Hessian blocks (numba), accumulated only over the globals that meet in
  each bin (:mod:`.sparsity`) and the factor slots of each block (:mod:`.blocks`);
- :mod:`.constraints`: constraint terms and auxiliary data;
- :mod:`.newton`: the compiled bounded Newton loop over toys (Schur
  elimination of per-bin nuisances; :mod:`.linalg` its small solves,
  :mod:`.envelope_linalg` its large sparse ones), with
  closed-form Barlow–Beeston-lite γ (:mod:`.gamma`);
- :mod:`.linear`: the compiled kernel for models linear in their free parameters;
- :mod:`.fitter`: the fit API (:func:`fit` → :class:`FitResult`) and the safeguarded path;
- :mod:`.uncertainties`: Hesse errors and covariance at the best fits
  (:mod:`.hesse_blocks`: one fit's covariance from the Hessian blocks);
- :mod:`.sampling`: toy data sets.

Everything works on batches: parameters [B, P] and data [B, N + A] in
pyhf's order and layout (``model.config.par_order``; main data then
auxiliary data).
"""

from __future__ import annotations

import numba.core.entrypoints as numba_entrypoints

from ._numba_cache import drop_stale_caches
from .compile import CompiledModel, compile_model
from .constraints import precision_notes
from .fitter import STATUS, FitResult, dead_parameters, fit, resolve_fixed
from .likelihood import (
    Derivatives,
    data_constant,
    derivatives,
    expected_aux,
    expected_main,
    gradient,
    hessian,
    twice_nll,
)
from .sampling import sample_toys
from .uncertainties import hesse_errors

# numba reads its caches at the first call, not at import: this comes in time
drop_stale_caches()

# The engine's kernels use no numba extension. numba loads every installed
# extension (awkward, vector: about 1 s of imports) at its first dispatch
# unless this is set; a project module that does use one imports it itself.
numba_entrypoints._already_initialized = True

__all__ = [
    "STATUS",
    "CompiledModel",
    "Derivatives",
    "FitResult",
    "compile_model",
    "data_constant",
    "dead_parameters",
    "derivatives",
    "expected_aux",
    "expected_main",
    "fit",
    "gradient",
    "hesse_errors",
    "hessian",
    "precision_notes",
    "resolve_fixed",
    "sample_toys",
    "twice_nll",
]
