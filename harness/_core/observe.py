"""Per-update observation windows: where the monitor asks a plugin to tick after every update and
keeps the iterates it ticks with, for the trajectory audit (``harness.run.trajectory``: what each
update did, inferred from consecutive iterates, against the step, delays and inner-loop length the
plugin reports).

Windows (:class:`Observer`): the run's first ``head`` updates, and ``windows`` stretches of
``length`` updates each placed at random later in the run (drawn from the run's seed, so a
deterministic run is the same twice; the workload plays no part in where they fall). Inside a
window :meth:`Observer.chunk` caps every chunk at one update, and a chunk that would run past a
window's start is cut there, so the plugin ticks at each update inside it; :meth:`Observer.record`
keeps a copy of each iterate ticked inside a window, as long as it is a 1-D float numpy vector and
the copies stay within ``max_floats`` floats in all (beyond that the rest goes unrecorded and the
audit says so). Observation changes where a plugin's chunks end, never what an update computes; it
costs one iterate copy per observed update.

What it cannot see: a plugin that ticks only when it likes (or ignores ``next_chunk``), and one
that behaves while it is being observed (a chunk of one update) and differently otherwise.

What it costs, and why it is charged rather than cut. An observed update is a chunk of its own:
the plugin's per-chunk work (the serial SGD's batch draw: ``rng.integers(size=1)`` ~5 us when this
was measured, ~0.3 us since it slices indices drawn ahead, ``plugins/algorithms/draws.py``; its numba
kernel's dispatch ~2.6 us) and the monitor's next_chunk / tick / iterate copy (~3 us), ~12-15 us
where the update itself is ~0.17 us: 256 of them were 3.6 ms of a 33 ms run (measured / bare loop
1.197 with the windows, 1.087 without). Three ways were weighed. Cutting the monitor's own share
(done where it was cheap: fast paths past the windows) cannot reach the plugin's, which is most of
it and is the plugin's code. A cheaper way to observe does not exist without the plugin's help:
the iterates must be read between updates, which only a tick between them gives. So the windows
are measurement, and are kept off the clock as the evaluations are, by charge instead of pause
(:meth:`harness._core.monitor.Monitor.settle`): each observed chunk's seconds are replaced by one
update at the run's own unobserved seconds per update, never more than they took, every other
second kept, a run with nothing unobserved left at its actual time, the figures in
``info["audit"]["clock"]``. A pause alone would drop the observed updates' work from the clock; a
charge at a rate known only after the head would make early points' times wrong or non-monotone,
so the charge is settled when the run ends, from the actual times each point recorded.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

HEAD = 128           # updates observed one by one from the start
WINDOWS = 2          # stretches observed later in the run
LENGTH = 64          # updates per later stretch
MAX_FLOATS = 1_000_000
EVERY = 1 << 62      # a head that covers any budget: every update observed (check-plugin's audit run)


class Observer:
    def __init__(self, seed: int, *, head: int = HEAD, windows: int = WINDOWS, length: int = LENGTH,
                 max_floats: int = MAX_FLOATS):
        self.seed, self.head, self.n_windows, self.length, self.max_floats = int(seed), head, windows, length, max_floats
        self.windows: list[tuple[int, int]] | None = None   # [start, end): updates applied one per chunk
        self.updates: list[int] = []
        self.iterates: list[np.ndarray] = []
        self.floats = 0
        self.dropped = ""                                   # why some observed iterates were not kept
        self.last_end = head                               # the last window's end (the head's until planned)

    def plan(self, limit: int | None) -> None:
        """Place the windows, once: the head, then ``windows`` stretches at random in the rest of the
        update budget ``limit`` (unknown: log-uniformly up to 64 x the head)."""
        if self.windows is not None:
            return
        rng = np.random.default_rng([self.seed, 0x0B5E])
        out = [(0, self.head)]
        hi = (limit - self.length) if limit is not None else 64 * self.head
        for _ in range(self.n_windows):
            if hi <= self.head:
                break
            if limit is not None:
                start = int(rng.integers(self.head, hi + 1))
            else:
                start = int(math.exp(rng.uniform(math.log(self.head), math.log(hi))))
            out.append((start, start + self.length))
        self.windows = sorted(out)
        self.last_end = max(end for _, end in self.windows)

    def chunk(self, updates: int, k: int) -> int:
        """``k`` cut to one update inside a window, or to end where the next window starts."""
        if updates >= self.last_end:       # past every window: the common case, on the timed path
            return k
        for start, end in self.windows or ():
            if start <= updates < end:
                return 1
            if updates < start < updates + k:
                return max(start - updates, 1)
        return k

    def observed(self, before: int, updates: int) -> bool:
        """Whether the chunk from update ``before`` to ``updates`` was one update inside a window
        (a chunk :meth:`chunk` cut to one update): the monitor's clock charges such chunks at the
        run's own rate (:meth:`harness._core.monitor.Monitor.settle`)."""
        if updates - before != 1 or before >= self.last_end:
            return False
        for start, end in self.windows or ():
            if start <= before < end:
                return True
        return False

    def inside(self, updates: int) -> bool:
        """Whether ``updates`` is in a window or at its end (before :meth:`plan`: the head, which
        does not depend on the budget)."""
        for start, end in self.windows or ((0, self.head),):
            if start <= updates <= end:
                return True
        return False

    def record(self, updates: int, iterate: Any) -> None:
        """Keep a copy of ``iterate`` at ``updates`` if it falls in a window (its end included: the
        iterate after the window's last update)."""
        if updates > self.last_end or not self.inside(updates) or (self.updates and self.updates[-1] == updates):
            return
        if not (isinstance(iterate, np.ndarray) and iterate.ndim == 1 and iterate.dtype.kind == "f"):
            self.dropped = self.dropped or f"the iterate is a {type(iterate).__name__}, not a 1-D float numpy vector"
            return
        if self.floats + iterate.size > self.max_floats:
            self.dropped = self.dropped or (f"observed iterates are kept up to {self.max_floats:g} floats "
                                            f"(d = {iterate.size})")
            return
        self.updates.append(int(updates))
        self.iterates.append(np.array(iterate, dtype=float, copy=True))
        self.floats += iterate.size

    def trajectory(self) -> tuple[np.ndarray, np.ndarray]:
        """(updates, iterates) as arrays of shape (K,) and (K, d); empty when nothing was kept."""
        if not self.iterates:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0))
        return np.asarray(self.updates, dtype=np.int64), np.vstack(self.iterates)
