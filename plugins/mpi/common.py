"""Pieces shared by the MPI ranks and by their ``sim`` twins (pure numpy: no mpi4py here).

- local data partitions per worker, IID or biased by label (003 Sec. D.2.4: "node 1 has only
  digit 0 and node 2 only digit 1");
- straggler injection as in the thesis's Ch. 3 experiments (001 Sec. 3.5: "forcing one selected
  worker node to the delaying state for m times as long as the normal computing time of other
  normal workers with probability p ... p = 0.2 and m is selected from [0, 10] randomly");
- test-only fault injection (``fail_rank`` / ``fail_after`` / ``fail_mode`` options);
- the loss pieces of the linear models (per-sample dphi, margins) the algorithms use.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import numpy as np

from harness.errors import UserError
from harness.params import Param

# -- parameters every MPI plugin takes ------------------------------------------------------------
COMMON_PARAMS = (
    Param("partition", "iid", "choice", choices=("iid", "label"),
          doc="local data per worker: a random equal split (iid) or sorted by label (biased, 003 D.2.4)"),
    Param("straggler_p", 0.0, "float", low=0.0, high=1.0,
          doc="probability that the straggler (the last worker) is slowed down for one message"),
    Param("straggler_m", 10.0, "float", low=0.0,
          doc="slow-down factor m ~ U[0, straggler_m] times its compute time (001 Sec. 3.5: p=0.2, m in [0,10])"),
)

MAX_DELAY_PARAM = Param(
    "max_delay", None, "int", low=0, nullable=True,
    doc="bounded delay tau_max enforced by the server (it holds a reply back rather than let an update "
        "arrive older than tau_max; at least workers - 1); none = unbounded, as the OS schedules")

LINEAR_LOSSES = ("logistic", "squared")


# -- local data -----------------------------------------------------------------------------------
def partition(n: int, workers: int, kind: str, y: np.ndarray | None, seed: int) -> list[np.ndarray]:
    """Sample indices held by each worker (0-based worker index). 'iid': a random permutation cut in
    ``workers`` near-equal parts; 'label': indices sorted by label (stable, ties in random order),
    then cut, so each worker sees few labels."""
    rng = np.random.default_rng([seed, 7919])
    perm = rng.permutation(n)
    if kind == "label":
        if y is None:
            raise UserError("partition=label needs labels")
        perm = perm[np.argsort(np.asarray(y)[perm], kind="stable")]
    elif kind != "iid":
        raise UserError(f"unknown partition {kind!r}: expected iid or label")
    return [np.sort(part) for part in np.array_split(perm, workers)]


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


# -- which worker's message arrives (the sim twins) ------------------------------------------------
def worker_picker(shares: str, workers: int, rng: np.random.Generator):
    """A function drawing the worker whose message the server applies next: uniform, or with the
    given relative shares (e.g. an MPI run's ``info['worker_messages']``, '34,177,194'): on an
    oversubscribed machine some workers are starved, and their local data is visited less."""
    if not shares:
        return lambda: int(rng.integers(workers))
    try:
        weights = np.array([float(v) for v in str(shares).split(",")])
    except ValueError:
        raise UserError(f"bad worker_shares {shares!r}: expected comma-separated numbers") from None
    if len(weights) != workers or (weights < 0).any() or weights.sum() <= 0:
        raise UserError(f"worker_shares {shares!r}: expected {workers} non-negative numbers, not all 0")
    p = weights / weights.sum()
    return lambda: int(rng.choice(workers, p=p))


SHARES_PARAM = Param("worker_shares", "", "str",
                     doc="relative message rates of the workers (e.g. an MPI run's worker_messages); '' = equal")


# -- linear-model pieces ----------------------------------------------------------------------------
def dphi(workload, X, y, w) -> np.ndarray:
    """phi'(x_i . w) per row of X (logistic or squared loss)."""
    return workload._dphi(np.asarray(X @ w).ravel(), y)


def loss_grad_sum(workload, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
    """sum_{i in idx} grad phi_i(w) (loss part only, no l2 term), any finite-sum loss."""
    if len(idx) == 0:
        return np.zeros_like(w)
    return (workload.batch_gradient(w, idx) - workload.lam * w) * len(idx)


# -- step sizes and mini-batch sizes of 003 (Hogwild! with growing mini-batches) --------------------
def eta_t(schedule: str, eta0: float, beta: float, t: float) -> float:
    """003 Table 1: eta0/(1+beta t) (strongly convex), eta0/(1+beta sqrt t) (plain / non-convex)."""
    if schedule == "constant":
        return eta0
    if schedule == "inv":
        return eta0 / (1.0 + beta * t)
    if schedule == "inv_sqrt":
        return eta0 / (1.0 + beta * math.sqrt(t))
    raise UserError(f"unknown step-size schedule {schedule!r}")


def round_size(sizes: str, a: float, c: float, b: float, i: int) -> int:
    """Total samples s_i of round i (003 D.2.2): 'power' a*i^c + b ("O(i)" for c=1), 'ilogi'
    a*i/ln(i) + b ("O(i/ln i)", i >= 2), 'constant' a; at least 1."""
    if sizes == "power":
        s = a * (i ** c) + b
    elif sizes == "ilogi":
        s = (a * i / math.log(i) if i >= 2 else a) + b
    elif sizes == "constant":
        s = a
    else:
        raise UserError(f"unknown mini-batch size sequence {sizes!r}")
    return max(1, int(math.ceil(s)))


def node_shares(total: int, workers: int) -> list[int]:
    """s_{i,c}: the round's samples split evenly over the nodes (003 Table 1 footnote), each >= 1."""
    base, extra = divmod(total, workers)
    return [max(1, base + (1 if c < extra else 0)) for c in range(workers)]
