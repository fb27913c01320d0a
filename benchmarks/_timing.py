"""Timing helper shared by the benchmark scripts (run as ``python benchmarks/<script>.py``,
so this folder is on ``sys.path``)."""

from __future__ import annotations

import time
from collections.abc import Callable


def timed(fn: Callable[[], object], repeat: int, warmup: bool = True) -> list[float]:
    """Wall times of ``repeat`` calls of ``fn``, after one untimed warm-up call."""
    if warmup:
        fn()  # imports, caches
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out
