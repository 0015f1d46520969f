"""Seeded pseudo-data: Poisson or Gaussian main bins, sampled auxiliary data.

Toys are drawn around a model's expected data at chosen parameters,
``poisson`` (default; exact inversion of per-bin CDF tables, see
:mod:`.poisson`) or ``gaussian`` with σ = √mean (the seed report's
``np.random.normal(mean, sqrt(mean))``). Gaussian toys may be negative:
``negative="keep"`` (the report's, default) keeps them — fine for the
Pearson and Neyman χ² — while ``negative="clip"`` sets them to 0, which the
Poisson likelihood needs. Auxiliary data of constrained parameters are
sampled too (``aux="sample"``: Gaussian with the constraint width for
``normal`` constraints, Poisson for ``poisson`` ones — the unconditional
frequentist ensemble) or held at their expected values (``aux="fixed"``).

Seeds: toy ``i`` belongs to block ``i // block_size``; block ``j`` of stream
``s`` is drawn from ``numpy.random.default_rng(SeedSequence(seed, spawn_key=(s, j)))``,
so the same seed gives the same toys for any number of workers, chunk size
or scheduler. numpy's global RNG is never used.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ...errors import FitError
from ..engine import CompiledModel, compile_model, expected_aux, expected_main
from ..engine.compile import NORMAL
from .poisson import PoissonTable, draw_poisson, poisson_table

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "MAX_TOYS",
    "MAX_TOY_BYTES",
    "SAMPLINGS",
    "block_rng",
    "check_ntoys",
    "check_sampling",
    "check_toy_memory",
    "draw_block",
    "draw_blocks",
    "sample_toys",
]

SAMPLINGS = ("poisson", "gaussian")
#: Toys per block: the unit of seeding and of work (a chunk is whole blocks).
DEFAULT_BLOCK_SIZE = 1000
#: Most toys one study may ask for: per-toy results (8 bytes each per quantity) are kept
#: to compute exact quantiles, so this bounds the memory (~160 MB a quantity).
MAX_TOYS = 20_000_000


def check_ntoys(ntoys: int) -> None:
    """Refuse a number of toys below 1 or above :data:`MAX_TOYS`."""
    if not 1 <= ntoys <= MAX_TOYS:
        msg = f"ntoys must be between 1 and {MAX_TOYS:,}, got {ntoys:,}"
        raise FitError(msg)


#: Most memory the toys held at once by one study may take (bytes): the toy
#: contour draws and fits all toys of a grid point together.
MAX_TOY_BYTES = 2_000_000_000


def check_toy_memory(ntoys: int, ndata: int, npars: int) -> None:
    """Refuse ``ntoys`` toys held at once when data and fit arrays would exceed :data:`MAX_TOY_BYTES`.

    The estimate is 8 bytes × ntoys × (data bins with auxiliary data + parameters²),
    the toys' data and the Hessians of their batched fits.

    Raises:
        FitError: giving the estimate, the limit and the largest number of toys that fits.
    """
    per_toy = 8 * (ndata + npars * npars)
    need = ntoys * per_toy
    if need > MAX_TOY_BYTES:
        msg = (
            f"{ntoys:,} toys of {ndata:,} bins and {npars:,} parameters held at once need about "
            f"{need / 1e9:.1f} GB, more than the {MAX_TOY_BYTES / 1e9:g} GB allowed; "
            f"use at most {MAX_TOY_BYTES // per_toy:,} toys"
        )
        raise FitError(msg)


def check_sampling(sampling: str, negative: str, aux: str) -> None:
    """Refuse unknown sampling options."""
    if sampling not in SAMPLINGS:
        msg = f"unknown sampling {sampling!r}; expected one of {SAMPLINGS}"
        raise FitError(msg)
    if negative not in ("keep", "clip"):
        msg = f"negative must be 'keep' or 'clip', got {negative!r}"
        raise FitError(msg)
    if aux not in ("sample", "fixed"):
        msg = f"aux must be 'sample' or 'fixed', got {aux!r}"
        raise FitError(msg)


def block_rng(seed: int, stream: int, block: int) -> np.random.Generator:
    """The generator of block ``block`` of stream ``stream``."""
    if seed < 0:
        msg = f"seed must be a non-negative integer, got {seed}"
        raise FitError(msg)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream, block)))


def draw_block(
    rng: np.random.Generator,
    cm: CompiledModel,
    main_mean: np.ndarray,
    aux_mean: np.ndarray,
    size: int,
    *,
    sampling: str,
    negative: str,
    aux: str,
    table: PoissonTable | None = None,
) -> np.ndarray:
    """``size`` toys [size, N + A] around the given expected main and auxiliary data.

    ``table`` is :func:`.poisson.poisson_table` of ``main_mean`` (built here
    if not given; a study builds it once for all its blocks).
    """
    if sampling == "poisson":
        main = draw_poisson(rng, poisson_table(main_mean) if table is None else table, size)
    else:
        main = main_mean + np.sqrt(main_mean) * rng.standard_normal((size, main_mean.size))
        if negative == "clip":
            main = np.maximum(main, 0.0)
    if aux_mean.size == 0 or aux == "fixed":
        return np.concatenate([main, np.broadcast_to(aux_mean, (size, aux_mean.size))], axis=1)
    normal = cm.con_kind == NORMAL
    z = rng.standard_normal((size, aux_mean.size))
    pois = rng.poisson(np.where(normal, 0.0, aux_mean), size=(size, aux_mean.size))
    a = np.where(normal, aux_mean + cm.con_sigma * z, pois)
    return np.concatenate([main, a], axis=1)


def draw_blocks(
    cm: CompiledModel,
    main_mean: np.ndarray,
    aux_mean: np.ndarray,
    blocks: Iterable[int],
    *,
    seed: int,
    stream: int,
    block_size: int,
    sampling: str,
    negative: str,
    aux: str,
    table: PoissonTable | None = None,
) -> np.ndarray:
    """The toys of seeding blocks ``blocks`` of ``stream``, each from its own generator, concatenated.

    Every toy study draws its toys here, so toy ``i`` of a seed and stream
    is the same whatever the blocks are drawn with (see :func:`draw_block`).
    """
    return np.concatenate(
        [
            draw_block(
                block_rng(seed, stream, b),
                cm,
                main_mean,
                aux_mean,
                block_size,
                sampling=sampling,
                negative=negative,
                aux=aux,
                table=table,
            )
            for b in blocks
        ]
    )


def sample_toys(
    model: Any,
    pars: Any,
    *,
    ntoys: int,
    seed: int,
    sampling: str = "poisson",
    negative: str = "keep",
    aux: str = "sample",
    block_size: int = DEFAULT_BLOCK_SIZE,
    stream: int = 0,
) -> np.ndarray:
    """Pseudo-data (main bins followed by auxiliary data) around ``model`` at ``pars``.

    Args:
        model: a pyhf model (or its :class:`~higgs_pyhf.inference.engine.CompiledModel`).
        pars: full pyhf parameter vector giving the expected data.
        ntoys: number of toys.
        seed: seed of the ``SeedSequence``.
        sampling: ``poisson`` or ``gaussian`` (σ = √mean).
        negative: Gaussian toys below 0: ``keep`` or ``clip`` to 0.
        aux: ``sample`` the auxiliary data or keep them ``fixed``.
        block_size: toys per seeding block.
        stream: independent stream number (e.g. 0 signal+background, 1 background-only).

    Returns:
        (ntoys, nmain + naux) array; toy ``i`` is the same for every ``ntoys > i``.
    """
    check_sampling(sampling, negative, aux)
    check_ntoys(ntoys)
    cm = model if isinstance(model, CompiledModel) else compile_model(model)
    x = np.asarray(pars, dtype=float)[None, :]
    main, auxm = expected_main(cm, x)[0], expected_aux(cm, x)[0]
    toys = draw_blocks(
        cm,
        main,
        auxm,
        range(math.ceil(ntoys / block_size)),
        seed=seed,
        stream=stream,
        block_size=block_size,
        sampling=sampling,
        negative=negative,
        aux=aux,
        table=poisson_table(main) if sampling == "poisson" else None,
    )
    return toys[:ntoys]
