"""The mini-batches' sample indices B_t, drawn from the run's generator a block ahead.

numpy's ``Generator.integers(0, n, size=k)`` gives, for one bound n, the same indices whether they are
drawn in one call or in several calls whose sizes add up (each index takes its own draws from the bit
generator, by rejection, one at a time; for n <= 2**32 a draw is half of a 64-bit word and PCG64 keeps
the other half in its state, ``has_uint32``, for the next draw, whichever call makes it: nothing is kept
in the call; ``tests/backends/test_index_draws.py`` holds numpy to it).
So a block drawn ahead and handed out in slices is the very stream a per-chunk draw gives: curves stay
the same bit for bit. What it saves is the call, ~6 us warm and ~22 us right after an evaluation, once
per chunk: most of the cost of the trajectory audit's 256 one-update chunks (an SGD run of 200000
updates with 45 points: its actual time / a bare loop's 1.255 -> 1.197, medians of 9; the charged
time, where those chunks are counted at the run's own rate, did not move beyond the noise).
"""

from __future__ import annotations

import numpy as np

BLOCK = 16384   # indices drawn at a time at least: 128 KiB, ~40 us of drawing, one call per ~16k updates of b = 1


class IndexDraws:
    """Uniform indices in 0..n-1 from ``rng``, taken ``k`` at a time (:meth:`take`), drawn ``block`` at a
    time into one buffer the object keeps (grown, never shrunk, when a chunk outgrows it). The generator
    must draw nothing else while the object is in use (another draw would land between blocks, not
    between chunks, and change the stream).

    The buffer is reused: each refill moves what is left to its front and draws the rest there, in calls
    of ``block`` indices (each call's temporary is one size, which malloc reuses). A fresh array per
    refill, and the concatenation that joined it to what was left, touched memory never touched before:
    75-150 page faults per 200000-update SGD run with 44 points, none now."""

    def __init__(self, rng: np.random.Generator, n: int, block: int = BLOCK):
        if n < 1:
            raise ValueError(f"no index to draw from 0..{n - 1}")
        if block < 1:
            raise ValueError(f"block must be >= 1, got {block}")
        self._rng, self._n, self._block = rng, int(n), int(block)
        self._buf = np.empty(0, dtype=np.int64)
        self._pos = self._end = 0

    def take(self, k: int) -> np.ndarray:
        """The next k indices, int64, shape (k,), contiguous: a view of the buffer, valid until the next
        call (which may write over it)."""
        k = int(k)
        if k < 0:
            raise ValueError(f"cannot take {k} indices")
        if k > self._end - self._pos:
            self._refill(k)
        out = self._buf[self._pos:self._pos + k]
        self._pos += k
        return out

    def _refill(self, k: int) -> None:
        """Make at least k indices ready at the buffer's front: what is left moves there, then whole
        blocks are drawn after it."""
        rest, block = self._end - self._pos, self._block
        need = rest + -(-(k - rest) // block) * block          # whole blocks
        if need > self._buf.size:
            grown = np.empty(max(need, 2 * self._buf.size), dtype=np.int64)
            grown[:rest] = self._buf[self._pos:self._end]
            self._buf = grown
        elif rest:
            self._buf[:rest] = self._buf[self._pos:self._end]    # numpy copies overlapping slices right
        end = rest
        while end < need:
            self._buf[end:end + block] = self._rng.integers(0, self._n, size=block)
            end += block
        self._pos, self._end = 0, end
