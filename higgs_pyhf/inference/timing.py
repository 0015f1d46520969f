"""What a study cost: CPU and wall-clock seconds, as the results' ``timing`` entry reports them."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["stopwatch"]


def stopwatch() -> Callable[[], dict[str, float]]:
    """Start a clock; calling the result gives ``{"fit_cpu_s", "fit_wall_s"}`` since the start.

    CPU time is the process's (every thread, so BLAS or numba threads count),
    wall time is :func:`time.perf_counter`'s.
    """
    cpu0, wall0 = time.process_time(), time.perf_counter()

    def read() -> dict[str, float]:
        return {
            "fit_cpu_s": time.process_time() - cpu0,
            "fit_wall_s": time.perf_counter() - wall0,
        }

    return read
