"""What this process and its children hold in memory (resident set sizes, via psutil), the limit a
user sets on it (``HARNESS_MEMORY_LIMIT``), and a sampler of the peak while runs go on.

The memory check (:func:`harness.workload.check_memory`) adds what a run will need to what is held
here; ``harness run`` prints the peak a suite reached (:class:`PeakSampler`).
"""

from __future__ import annotations

import os
import re
import threading

# a rank of a launched run (MPI, torch.distributed): the interpreter with numpy, scipy, numba and
# mpi4py imported, its iterates and message buffers -- without the data it maps from the data cache
RANK_BYTES = 250 << 20

LIMIT_ENV = "HARNESS_MEMORY_LIMIT"
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def held_bytes(pid: int | None = None) -> int:
    """Resident bytes of process ``pid`` (default: this one) and all its descendants (launched ranks,
    pool workers); 0 where psutil cannot say. Each process counts its proportional set size (PSS:
    a page shared by k of them -- data mapped from the data cache, the interpreter's libraries --
    counts 1/k in each), so the sum is what the tree holds, not a page once per process that maps
    it; the resident set size where PSS is not available."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - a dependency
        return 0
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        try:
            total += _pss(p)
        except psutil.Error:  # ended while we looked
            pass
    return total


def _pss(proc) -> int:
    import psutil

    try:
        return proc.memory_full_info().pss
    except (AttributeError, psutil.AccessDenied):
        return proc.memory_info().rss


def parse_bytes(text: str) -> int:
    """'8G', '512M', '1.5g', '1000000' -> bytes (binary units, an optional trailing 'B' / 'iB')."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?b)?\s*", text.lower())
    if not m:
        raise ValueError(f"not a size: {text!r} (expected e.g. 8G, 512M or a number of bytes)")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def memory_limit() -> int | None:
    """``HARNESS_MEMORY_LIMIT`` in bytes (what this process and its ranks may hold together), or None.
    Raises ValueError for a malformed value."""
    text = os.environ.get(LIMIT_ENV, "").strip()
    return parse_bytes(text) if text else None


class PeakSampler:
    """The largest :func:`held_bytes` seen, sampled every ``every`` seconds on a daemon thread
    (``with PeakSampler() as s: ...; s.peak``) and once more on exit."""

    def __init__(self, every: float = 1.0):
        self.every, self.peak, self.last = every, 0, 0
        self._stop = threading.Event()

    def sample(self) -> int:
        self.last = held_bytes()
        self.peak = max(self.peak, self.last)
        return self.last

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def __enter__(self) -> "PeakSampler":
        self.sample()
        threading.Thread(target=self._loop, name="harness-memory", daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.sample()
