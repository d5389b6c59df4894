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
    """Uniform indices in 0..n-1 from ``rng``, taken ``k`` at a time (:meth:`take`), drawn ``BLOCK`` (or
    k, if larger) at a time. The generator must draw nothing else while the object is in use (another
    draw would land between blocks, not between chunks, and change the stream)."""

    def __init__(self, rng: np.random.Generator, n: int, block: int = BLOCK):
        if n < 1:
            raise ValueError(f"no index to draw from 0..{n - 1}")
        self._rng, self._n, self._block = rng, int(n), int(block)
        self._buf = np.empty(0, dtype=np.int64)
        self._pos = 0

    def take(self, k: int) -> np.ndarray:
        """The next k indices, int64, shape (k,), contiguous: a view of a block no call writes again."""
        k = int(k)
        rest = self._buf.size - self._pos
        if k > rest:
            fresh = self._rng.integers(0, self._n, size=max(k - rest, self._block))
            self._buf = np.concatenate([self._buf[self._pos:], fresh]) if rest else fresh
            self._pos = 0
        out = self._buf[self._pos:self._pos + k]
        self._pos += k
        return out
