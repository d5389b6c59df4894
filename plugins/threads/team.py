"""A team of worker threads sharing one iterate.

Python threads only dispatch chunks: each thread runs a numba ``nogil`` kernel over its share of
the chunk's updates (no GIL held, so the threads run in parallel on separate cores), with its own
index stream drawn up front from its own generator (``SeedSequence(seed).spawn(workers)``). The
chunk's end is the only synchronisation point (a join), where the monitor takes its snapshot.
Thread 0's share runs on the calling thread. BLAS / OpenMP pools are limited to one thread while
the team works (:func:`single_threaded_blas`), so numpy calls inside workers do not oversubscribe.
"""

from __future__ import annotations

import contextlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numpy as np

SLOT_STRIDE = 8  # int64 per stamp slot: 64 bytes, one cache line per thread


@contextlib.contextmanager
def single_threaded_blas():
    """OMP/OpenBLAS/MKL pools at one thread for the duration (threadpoolctl when available)."""
    keys = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
    old = {k: os.environ.get(k) for k in keys}
    for k in keys:
        os.environ[k] = "1"
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - sklearn brings threadpoolctl
            yield
        else:
            with threadpool_limits(limits=1):
                yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Team:
    def __init__(self, workers: int, seed: int):
        self.size = int(workers)
        self.rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(self.size)]
        self.slots = np.zeros((self.size, SLOT_STRIDE), dtype=np.int64)   # stamp slots (see kernels)
        self._pool = ThreadPoolExecutor(self.size - 1, thread_name_prefix="harness-worker") if self.size > 1 else None
        # profile (off unless a list is set, e.g. by benchmarks/threads_scaling.py): one entry per map,
        # (t_call, t_return, [(thread, t_start, t_end, cpu_s) per share]) on the perf_counter clock, cpu_s the
        # thread's CPU seconds in its share (time.thread_time: what a loaded machine does not steal)
        self.trace: list | None = None

    @property
    def count(self) -> int:
        """Global update count: the sum of the threads' stamp slots."""
        return int(self.slots[:, 0].sum())

    def split(self, k: int) -> list[int]:
        """Shares of k updates (the first k mod T threads take one more)."""
        q, r = divmod(int(k), self.size)
        return [q + (1 if i < r else 0) for i in range(self.size)]

    def map(self, fn: Callable[[int, int], Any], shares: list[int]) -> list[Any]:
        """fn(thread, share) on every thread with a non-zero share, in parallel; results in thread order."""
        if self.trace is not None:
            return self._traced_map(fn, shares)
        futures = {r: self._pool.submit(fn, r, k) for r, k in enumerate(shares) if r > 0 and k > 0}
        out: dict[int, Any] = {}
        try:
            if shares and shares[0] > 0:
                out[0] = fn(0, shares[0])
        finally:
            for r, f in futures.items():
                out[r] = f.result()
        return [out[r] for r in sorted(out)]

    def _traced_map(self, fn, shares):
        spans: list[tuple[int, float, float, float]] = []

        def timed(r, k):
            t, c = time.perf_counter(), time.thread_time()
            try:
                return fn(r, k)
            finally:
                spans.append((r, t, time.perf_counter(), time.thread_time() - c))   # atomic under the GIL

        call = time.perf_counter()
        self.trace, trace = None, self.trace
        try:
            out = self.map(timed, shares)
        finally:
            self.trace = trace
        trace.append((call, time.perf_counter(), spans))
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
