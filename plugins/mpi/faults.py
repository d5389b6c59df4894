"""Stragglers and faults of the parameter-server runs (rank side; pure numpy, no mpi4py here).

- straggler injection as in the thesis's Ch. 3 experiments (Huo 2020, Sec. 3.5: "forcing one selected
  worker node to the delaying state for m times as long as the normal computing time of other
  normal workers with probability p ... p = 0.2 and m is selected from [0, 10] randomly");
- test-only fault injection (``fail_rank`` / ``fail_after`` / ``fail_mode`` options).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np


# -- stragglers and faults ------------------------------------------------------------------------
class Straggler:
    """The last worker is slowed with probability p by a factor m ~ U[0, m_max] of its compute time."""

    def __init__(self, p: float, m_max: float, is_straggler: bool, seed: int):
        self.p, self.m_max = float(p), float(m_max)
        self.active = is_straggler and self.p > 0 and self.m_max > 0
        self.rng = np.random.default_rng([seed, 104729])
        self.slept = 0.0

    def after_compute(self, compute_s: float) -> None:
        if self.active and self.rng.random() < self.p:
            pause = self.rng.uniform(0.0, self.m_max) * compute_s
            time.sleep(pause)
            self.slept += pause


def maybe_fail(options: dict[str, Any], rank: int, count: int) -> None:
    """Test-only fault: worker ``fail_rank`` raises (fail_mode=raise) or dies without a word
    (fail_mode=exit: ``os._exit(3)``) once it has sent ``fail_after`` messages."""
    fr = options.get("fail_rank")
    if fr is None or int(fr) != rank or count < int(options.get("fail_after", 0)):
        return
    if options.get("fail_mode", "raise") == "exit":
        os._exit(3)
    raise RuntimeError(f"injected fault on rank {rank} after {count} messages")
