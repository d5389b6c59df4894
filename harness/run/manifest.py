"""The environment manifest stored with every run: enough to say where a number came from
(:func:`manifest` lives in ``harness._core.machine``, where a rank on another node records its own)."""

from __future__ import annotations

import os

from .._core.machine import manifest

__all__ = ["manifest", "usable_cores", "machine_seconds"]


def usable_cores() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one, else all)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def machine_seconds(reps: int = 8) -> float:
    """How long a fixed piece of single-core numpy work takes on this machine now (seconds, summed
    over ``reps`` pieces of ~2 ms, so a busy neighbour's share of the core is averaged in). Taken
    beside a timed run, it lets the gate tell a slower machine from slower code: the gate compares
    time to target in units of this (``harness.analysis.gate``)."""
    import time

    import numpy as np

    x = np.linspace(0.0, 1.0, 50_000)
    total = 0.0
    for _ in range(reps):
        t = time.perf_counter()
        y = x
        for _ in range(8):
            y = np.sqrt(y * y + 1.0)
        total += time.perf_counter() - t
    return total
