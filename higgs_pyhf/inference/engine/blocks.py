"""The scalar factor Φ_κ of every (sample, channel) block, with its sparse derivatives.

Φ_κ = Π_k f_k(θ_{g_k}) over the block's factors k (``fac_par[κ, k]`` = g_k:
normfactor and lumi f = θ, normsys f interpolated, code 1 or 4). Its
derivatives are kept per *factor slot*, not per global parameter: a block
has a few factors whatever the number G of globals, so ∂Φ_κ/∂θ_{g_k} is
``dphi[κ, k]`` and ∂²Φ_κ/∂θ_{g_k}∂θ_{g_j} is ``d2phi[κ, k, j]`` (a global
appearing in two slots of one block gets the sum over its slots, as the
kernel accumulates them). Compiled (numba, ``cache=True``, ``nogil=True``).
"""

from __future__ import annotations

import numba
import numpy as np

from .compile import LINEAR
from .interpolation import normsys_point

__all__ = ["block_factors"]

Arr = np.ndarray


@numba.njit(cache=True, nogil=True, error_model="numpy")
def block_factors(
    fac_par: Arr,
    fac_kind: Arr,
    fac_lo: Arr,
    fac_hi: Arr,
    fac_coef: Arr,
    global_par: Arr,
    x: Arr,
    derivs: bool,
    phi: Arr,
    dphi: Arr,
    d2phi: Arr,
) -> None:
    """Φ_κ [n_blocks] into ``phi``; with ``derivs`` also ``dphi`` [n_blocks, Kg], ``d2phi`` [n_blocks, Kg, Kg].

    ``x`` [P] is the parameter point (pyhf order); the other arrays are the
    :class:`~.kernel.KernelModel` fields of the same names.
    """
    nblk, kg = fac_par.shape
    f = np.empty(kg)
    f1 = np.empty(kg)
    f2 = np.empty(kg)
    for k_ in range(nblk):
        prod = 1.0
        for k in range(kg):
            g = fac_par[k_, k]
            if g < 0:
                f[k], f1[k], f2[k] = 1.0, 0.0, 0.0
            elif fac_kind[k_, k] == LINEAR:
                f[k], f1[k], f2[k] = x[global_par[g]], 1.0, 0.0
            else:
                f[k], f1[k], f2[k] = normsys_point(
                    x[global_par[g]], fac_kind[k_, k], fac_lo[k_, k], fac_hi[k_, k], fac_coef[k_, k]
                )
            prod *= f[k]
        phi[k_] = prod
        if not derivs:
            continue
        for k in range(kg):
            if fac_par[k_, k] < 0:
                dphi[k_, k] = 0.0
                for j in range(kg):
                    d2phi[k_, k, j] = 0.0
                continue
            loo = 1.0
            for j in range(kg):
                if j != k:
                    loo *= f[j]
            dphi[k_, k] = f1[k] * loo
            for j in range(kg):
                if j == k:
                    d2phi[k_, k, k] = f2[k] * loo
                    continue
                if fac_par[k_, j] < 0:
                    d2phi[k_, k, j] = 0.0
                    continue
                l2o = f1[k] * f1[j]
                for m in range(kg):
                    if m != k and m != j:
                        l2o *= f[m]
                d2phi[k_, k, j] = l2o
