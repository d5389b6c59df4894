"""How much parallelism the machine gives right now: the throughput of a compute-bound numba loop
(no shared memory, no GIL) on T threads over one thread. On a dedicated 2-core machine it is 2.0;
on this workplace's virtual machines it was measured between 1.3 and 2.05 within minutes (the
host's other tenants), so a thread-speedup figure is only meaningful next to this one, measured
interleaved with it."""

from __future__ import annotations

import threading
import time

from numba import njit


@njit(nogil=True, cache=True)
def _spin(n):
    s = 0.0
    for i in range(n):
        s = s * 0.999999 + 1.0 / (1.0 + i)
    return s


def _wall(threads: int, n: int) -> float:
    workers = [threading.Thread(target=_spin, args=(n,)) for _ in range(threads - 1)]
    t = time.perf_counter()
    for th in workers:
        th.start()
    _spin(n)
    for th in workers:
        th.join()
    return time.perf_counter() - t


def parallel_capacity(threads: int = 2, seconds: float = 0.05) -> float:
    """Work per second on ``threads`` threads / on one (each thread runs the same loop for about
    ``seconds``)."""
    _spin(10)
    n = max(10_000, int(seconds * 2e8))   # ~5 ns per iteration (a dependent divide)
    one = _wall(1, n)
    many = _wall(threads, n)
    return threads * one / many
