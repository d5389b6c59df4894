"""Measured staleness: the distribution of delays tau = version_now - version_read.

Kept as an integer histogram (exact up to ``cap``, one overflow bin beyond; the true maximum is
tracked separately), so recording a chunk of delays is one ``np.bincount``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class DelayStats:
    def __init__(self, cap: int = 4096):
        self.cap = int(cap)
        self.hist = np.zeros(self.cap + 2, dtype=np.int64)  # [0..cap] exact, [cap+1] overflow
        self.count = 0
        self.total = 0
        self.max = 0

    def add(self, taus: Any) -> None:
        taus = np.asarray(taus, dtype=np.int64).ravel()
        if taus.size == 0:
            return
        if taus.min() < 0:
            raise ValueError("a delay cannot be negative")
        self.count += int(taus.size)
        self.total += int(taus.sum())
        self.max = max(self.max, int(taus.max()))
        self.hist += np.bincount(np.minimum(taus, self.cap + 1), minlength=self.cap + 2)

    def add_one(self, tau: int) -> None:
        tau = int(tau)
        self.count += 1
        self.total += tau
        self.max = max(self.max, tau)
        self.hist[min(tau, self.cap + 1)] += 1

    def add_histogram(self, hist: Any, total: int, max_tau: int) -> None:
        """Counts folded elsewhere (e.g. by each thread while its share is hot, off the serial path):
        ``hist`` of shape (cap + 2,) as :attr:`hist` ([0..cap] exact, [cap + 1] overflow), the delays'
        sum ``total`` and largest ``max_tau``. ValueError for a histogram of another shape or a
        negative count."""
        hist = np.asarray(hist, dtype=np.int64)
        if hist.shape != self.hist.shape:
            raise ValueError(f"a delay histogram of shape {hist.shape}, expected {self.hist.shape}")
        if (hist < 0).any() or total < 0 or max_tau < 0:
            raise ValueError("a delay cannot be negative")
        self.hist += hist
        self.count += int(hist.sum())
        self.total += int(total)
        self.max = max(self.max, int(max_tau))

    def merge(self, other: "DelayStats") -> None:
        if other.cap != self.cap:
            raise ValueError("cannot merge delay histograms with different caps")
        self.hist += other.hist
        self.count += other.count
        self.total += other.total
        self.max = max(self.max, other.max)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def quantile(self, q: float) -> float:
        if not self.count:
            return 0.0
        cum = np.cumsum(self.hist)
        k = int(np.searchsorted(cum, q * self.count, side="left"))
        return float(min(k, self.max))

    def summary(self) -> dict[str, float]:
        return {
            "tau_max": float(self.max),
            "tau_mean": self.mean,
            "tau_q50": self.quantile(0.5),
            "tau_q90": self.quantile(0.9),
            "tau_q99": self.quantile(0.99),
        }

    def to_dict(self) -> dict[str, Any]:
        nz = np.nonzero(self.hist)[0]
        return {"cap": self.cap, "count": self.count, "total": self.total, "max": self.max,
                "hist": {int(k): int(self.hist[k]) for k in nz}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DelayStats":
        out = cls(d.get("cap", 4096))
        out.count, out.total, out.max = int(d["count"]), int(d["total"]), int(d["max"])
        for k, v in d.get("hist", {}).items():
            out.hist[int(k)] = int(v)
        return out

    def sample(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """Draw delays from the measured distribution (for replaying it in the sim backend)."""
        if not self.count:
            return np.zeros(size, dtype=np.int64)
        p = self.hist / self.hist.sum()
        draws = rng.choice(self.cap + 2, size=size, p=p)
        return np.where(draws > self.cap, self.max, draws).astype(np.int64)
