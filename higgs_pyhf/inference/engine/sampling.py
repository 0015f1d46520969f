"""Toy data sets drawn from a compiled model (main data and auxiliary data)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .compile import NORMAL, CompiledModel
from .likelihood import expected_aux, expected_main

__all__ = ["sample_toys"]


def sample_toys(
    cm: CompiledModel,
    pars: Any,
    n_toys: int,
    *,
    rng: np.random.Generator,
    aux: str = "sample",
) -> np.ndarray:
    """Draw ``n_toys`` data sets [n_toys, N + A] at ``pars`` ([P] or [n_toys, P]).

    Main data are Poisson around the expected main data. Auxiliary data are
    drawn around the expected auxiliary data (``aux="sample"``: normal
    constraints Gaussian with their width, Poisson constraints Poisson, i.e.
    pyhf's ``model.make_pdf(pars).sample()``) or held at their expectation
    (``aux="fixed"``).

    Args:
        cm: the compiled model.
        pars: parameter point(s) the toys are drawn at.
        n_toys: number of toys.
        rng: the random generator (seeded by the caller).
        aux: ``"sample"`` or ``"fixed"``.

    Returns:
        The toys, in pyhf's data layout.
    """
    x = np.atleast_2d(np.asarray(pars, dtype=float))
    nu = expected_main(cm, x)
    mean_aux = expected_aux(cm, x)
    out = np.empty((n_toys, cm.nmain + cm.naux))
    out[:, : cm.nmain] = rng.poisson(np.broadcast_to(nu, (n_toys, cm.nmain)))
    a = np.broadcast_to(mean_aux, (n_toys, cm.naux))
    if aux == "fixed":
        out[:, cm.nmain :] = a
        return out
    normal = cm.con_kind == NORMAL
    if normal.any():
        out[:, cm.nmain :][:, normal] = rng.normal(a[:, normal], cm.con_sigma[normal])
    if (~normal).any():
        out[:, cm.nmain :][:, ~normal] = rng.poisson(a[:, ~normal])
    return out
