"""Guided work-sharing inside a chunk: who runs which updates of which share (:class:`Board`).

Why: :meth:`Team.map <harness.plugins.threads.team.Team.map>` runs each share of a chunk whole on one
thread, so the chunk's join waits for the slower thread. Measured on this 2-core machine (sparse
logistic regression, n = d = 1M, 50 nonzeros per row, 2 threads, ``benchmarks/threads_scaling.py``):
the calling thread's share ran ~2.7% slower than the worker's, and the worker waited at the join for
~2.4% of the run; the speedup was 1.82 / 1.86 / 1.97 (min / median / max) next to a capacity of ~1.94.

How: each thread works one range [front, back) of one share's updates, from the front, in guided
pieces of max(min_piece, left / (2 T)) updates (Polychronopoulos & Kuck, "Guided self-scheduling: a
practical scheduling scheme for parallel supercomputers", 1987): large while much is left, so few
kernel calls, small at the end. A thread whose range ran out takes a share no thread has taken (its
own first), else the back half of the range with the most updates left (the thread working it keeps
the front half), so the threads' last pieces end within about one small piece of each other. Only
the interleaving changes: each share's updates stay exactly those of the split, each drawn once.

Measured beside whole shares (``benchmarks/threads_scaling.py --schedules shares,pieces``, same
problem, 15 repeats interleaved, capacity 1.95, 2026-12-07): 1 -> 2 threads 1.34 / 1.57 / 2.02x with
whole shares, 1.58 / 1.88 / 2.29x in pieces; the threads' wait at the joins 9% of the 2-thread wall,
0.4% in pieces (~40 pieces per 250000-update chunk). Over 313 interleaved pairs at load 0.8-2.3 the
2-thread wall of whole shares / pieces had median 1.01-1.03 (Wilcoxon p < 0.006); one thread is not
affected (the same path).

The board only decides; the caller holds its lock (``Team.map_pieces``).
"""

from __future__ import annotations


class Board:
    """The claims of ``threads`` threads on the updates of ``shares`` (shares[r] updates of share r).

    ``ranges[me] = [r, front, back]``: the updates front..back-1 of share r are thread me's to take,
    not yet taken (r = -1: none). ``fresh``: the shares with updates that no thread has taken yet."""

    def __init__(self, shares: list[int], threads: int, min_piece: int):
        self.shares = [int(k) for k in shares]
        self.fresh = [r for r, k in enumerate(self.shares) if k > 0]
        self.ranges = [[-1, 0, 0] for _ in range(threads)]
        self.min_piece, self.divisor = max(1, int(min_piece)), 2 * threads
        self.failed = False                        # set after an exception: nothing more is handed out

    def claim(self, me: int) -> tuple[int, int, int] | None:
        """The next piece (share, lo, hi) for thread ``me``, or None when nothing is left to take."""
        if self.failed:
            return None
        if self.ranges[me][1] == self.ranges[me][2] and not self._take(me):
            return None
        own = self.ranges[me]
        r, lo, back = own
        hi = lo + min(back - lo, max(self.min_piece, -(-(back - lo) // self.divisor)))
        own[1] = hi
        return r, lo, hi

    def _take(self, me: int) -> bool:
        """Gives thread ``me`` a new range: a fresh share (its own first), else the back half of the
        largest range left (all of it when under two pieces: the thread taking it has nothing else)."""
        fresh = self.fresh
        r = me if me in fresh else max(fresh, key=self.shares.__getitem__, default=-1)
        other = max((o for o in range(len(self.ranges)) if o != me),
                    key=lambda o: self.ranges[o][2] - self.ranges[o][1], default=None)
        left = 0 if other is None else self.ranges[other][2] - self.ranges[other][1]
        if r >= 0 and (r == me or self.shares[r] >= left):
            fresh.remove(r)
            self.ranges[me] = [r, 0, self.shares[r]]
            return True
        if left == 0:
            return False
        victim = self.ranges[other]
        stolen = left - left // 2 if left >= 2 * self.min_piece else left
        victim[2] -= stolen
        self.ranges[me] = [victim[0], victim[2], victim[2] + stolen]
        return True
