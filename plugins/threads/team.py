"""A team of worker threads sharing one iterate.

Python threads only dispatch chunks: each thread runs a numba ``nogil`` kernel over its share of
the chunk's updates (no GIL held, so the threads run in parallel on separate cores), with its own
index stream drawn up front from its own generator (``SeedSequence(seed).spawn(workers)``). The
chunk's end is the only synchronisation point (a join), where the monitor takes its snapshot.
Thread 0's share runs on the calling thread. A thread done with its share takes the shares no other
thread has started (:meth:`Team.map`), so a chunk does not wait for a worker the OS has not run yet,
and waking a worker does not take the calling thread's CPU (:func:`no_wakeup_preemption`). A large
chunk's shares are handed out in pieces (:meth:`Team.map_pieces`, ``pieces.py``): a thread done first
takes part of a share another thread started, so the threads reach the join together.
BLAS / OpenMP pools are limited to one thread while the team works (:func:`single_threaded_blas`),
so numpy calls inside workers do not oversubscribe.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numpy as np

from .pieces import Board

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


def no_wakeup_preemption() -> None:
    """Puts the calling (worker) thread under Linux's SCHED_BATCH policy where the OS has it: waking
    it then does not preempt the thread that woke it. Without it the calling thread, waking a worker
    for each chunk, lost its CPU to the worker (which then waited for the GIL the caller held) and
    waited for a time slice: measured at load 8 on 2 cores, 2 ms per chunk, half of a 2-thread SVRG
    run's time to 1e-6 (0.29 s -> 0.18 s without it). The worker still starts at once where a core is
    idle (the scheduler places a woken thread on an idle core), and gets its fair share of CPU as any
    thread; where it starts late, the calling thread takes its share (:meth:`Team.map`)."""
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux: the default policy
        pass


def lines_of_their_own(rows: int, width: int, dtype=np.int64) -> np.ndarray:
    """A (rows, width) array of zeros, each row starting on a 64-byte boundary and padded to whole cache
    lines: rows that different threads write (one each) share no cache line, so one thread's stores do
    not take the line from another core (false sharing). A view into a larger buffer."""
    item = np.dtype(dtype).itemsize
    stride = -(-width * item // 64) * 64 // item          # the row's elements, rounded up to whole lines
    buf = np.zeros(rows * stride + 64 // item, dtype=dtype)
    skip = (-buf.ctypes.data % 64) // item
    return buf[skip:skip + rows * stride].reshape(rows, stride)[:, :width]


def line_of_its_own() -> np.ndarray:
    """SLOT_STRIDE int64 zeros on a 64-byte boundary: a word that threads hammer (the row lock), alone
    on its cache line, so that taking it does not evict a neighbour's data from another core."""
    return lines_of_their_own(1, SLOT_STRIDE)[0]


class Team:
    """``workers`` threads (the calling one and workers - 1 in a pool) with their index generators
    (``rngs``) and stamp slots (``slots``). ``pieces``: whether the updates of a chunk large enough
    are handed out in pieces (:meth:`map_pieces`) rather than whole shares (:meth:`map`); False is
    the schedule before pieces, kept to measure one against the other (benchmarks/threads_scaling.py)."""

    def __init__(self, workers: int, seed: int, pieces: bool = True):
        self.size, self.seed = int(workers), int(seed)
        self.pieces = bool(pieces)
        self.rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(self.size)]
        self.slots = lines_of_their_own(self.size, SLOT_STRIDE)   # stamp slots (see kernels), one cache line each
        self.lock = line_of_its_own()             # the row lock of atomic dense writes (see kernels)
        self._pool = ThreadPoolExecutor(self.size - 1, thread_name_prefix="harness-worker",
                                        initializer=no_wakeup_preemption) if self.size > 1 else None
        # profile (off unless a list is set, e.g. by benchmarks/threads_scaling.py): one entry per map,
        # (t_call, t_return, [(thread, t_start, t_end, cpu_s) per share, or per share opened and per piece
        # run by map_pieces]) on the perf_counter clock, cpu_s the thread's CPU seconds in it
        # (time.thread_time: what a loaded machine does not steal)
        self.trace: list | None = None
        self._spans: list | None = None

    @property
    def count(self) -> int:
        """Global update count: the sum of the threads' stamp slots."""
        return int(self.slots[:, 0].sum())

    def split(self, k: int) -> list[int]:
        """Shares of k updates (the first k mod T threads take one more)."""
        q, r = divmod(int(k), self.size)
        return [q + (1 if i < r else 0) for i in range(self.size)]

    def map(self, fn: Callable[[int, int], Any], shares: list[int], alone: bool = False) -> list[Any]:
        """fn(r, shares[r]) for every share r with a non-zero size, in parallel; results in share order.
        ``alone``: every share on the calling thread, in order (work too small to wake a worker for).

        Share r is meant for thread r (share 0 for the calling thread), but runs on whichever thread
        claims it first: a thread done with its own share claims the shares no thread has started.
        Each share runs exactly once, on one thread, with share r's index stream (``rngs[r]``) and
        stamp slot (``slots[r]``): the updates are those of the split, only their interleaving can
        differ, as it does between any two runs. Without this a chunk waited for every worker to be
        woken and scheduled, on a loaded machine milliseconds per chunk for microseconds of work
        (measured: 2 of 3 seconds of a 2-thread SVRG run at load 10 were that wait)."""
        if self.trace is not None:
            return self._traced(self.map, fn, shares, alone)
        live = [r for r, k in enumerate(shares) if k > 0]
        if self._pool is None or len(live) <= 1 or alone:
            return [self._timed(0, fn, r, shares[r]) for r in live]
        lock, claimed, done = threading.Lock(), set(), {r: threading.Event() for r in live}
        results: dict[int, tuple[bool, Any]] = {}
        by_pool: set[int] = set()

        def work(me: int, first: int) -> None:
            for r in [first] + live:
                with lock:
                    if r in claimed:
                        continue
                    claimed.add(r)
                    if me > 0:
                        by_pool.add(r)
                try:
                    results[r] = (True, self._timed(me, fn, r, shares[r]))
                except BaseException as exc:  # re-raised on the calling thread
                    results[r] = (False, exc)
                done[r].set()

        for me, r in enumerate(live[1:], start=1):
            self._pool.submit(work, me, r)
        work(0, live[0])                          # the calling thread: its share, then any unstarted one
        with lock:
            wait_for = sorted(by_pool)
        for r in wait_for:                        # shares a worker claimed (not the ones it never started)
            done[r].wait()
        for r in live:
            ok, value = results[r]
            if not ok:
                raise value
        return [results[r][1] for r in live]

    def map_pieces(self, open_share: Callable[[int, int], Any], piece: Callable[[Any, int, int, int], None],
                   shares: list[int], min_piece: int) -> list[Any]:
        """The shares' updates in pieces on every thread (:class:`~harness.plugins.threads.pieces.Board`
        decides who runs which): ``open_share(r, shares[r])`` once per share with updates, on the first
        thread to reach it, gives the share's state (its index stream, drawn once); then
        ``piece(state, me, lo, hi)`` runs updates lo..hi-1 of that share on thread ``me`` (which stamps
        slot ``me``: two pieces of one share can run at once, on two threads). Returns the states in
        share order. Each update runs exactly once, with its share's indices, as in :meth:`map`; the
        first exception of any thread stops the handing out and is re-raised here, after every thread
        that took a piece is done. Where :meth:`map` waits at the join for the slower share, here the
        thread done first takes the back half of what the other has left."""
        if self.trace is not None:
            return self._traced(self.map_pieces, open_share, piece, shares, min_piece)
        live = [r for r, k in enumerate(shares) if k > 0]
        board, cond = Board(shares, self.size, min_piece), threading.Condition()
        states: list[Any] = [None] * len(shares)
        opening = {r: threading.Lock() for r in live}
        busy: set[int] = set()                    # workers that took a piece and have not finished
        errors: list[BaseException] = []

        def state(r: int, me: int):
            with opening[r]:                      # a share's indices are drawn once, by the first thread there
                if states[r] is None and not board.failed:
                    try:
                        states[r] = self._timed(me, open_share, r, shares[r])
                    except BaseException:
                        # failed before the lock goes: a thread waiting for it to open the same share does not
                        # open it again (draw its indices a second time) and run a piece of it
                        board.failed = True
                        raise
                return states[r]

        def work(me: int) -> None:
            try:
                while True:
                    with cond:
                        got = board.claim(me)
                        if got is None:
                            return
                        busy.add(me)
                    r, lo, hi = got
                    st = state(r, me)
                    if st is None:                # another thread failed
                        return
                    self._timed(me, piece, st, me, lo, hi)
            except BaseException as exc:          # re-raised on the calling thread
                with cond:
                    board.failed = True
                    errors.append(exc)
            finally:
                with cond:
                    busy.discard(me)
                    cond.notify_all()

        for me in range(1, self.size):
            self._pool.submit(work, me)
        work(0)                                   # the calling thread: its share, then what is left
        with cond:
            while busy:                           # the workers that took a piece (not one never started)
                cond.wait()
        if errors:
            raise errors[0]
        return [states[r] for r in live]

    def _timed(self, me: int, fn, *args):
        """fn(*args) on thread ``me``; with a trace list set, its span (``trace``)."""
        if self._spans is None:
            return fn(*args)
        t, c = time.perf_counter(), time.thread_time()
        try:
            return fn(*args)
        finally:
            self._spans.append((me, t, time.perf_counter(), time.thread_time() - c))   # atomic under the GIL

    def _traced(self, method, *args):
        call = time.perf_counter()
        self._spans, trace, self.trace = [], self.trace, None
        try:
            out = method(*args)
        finally:
            self.trace, spans, self._spans = trace, self._spans, None
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
