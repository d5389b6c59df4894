"""The delay simulator's core: delay distributions, a ring of past iterates, inconsistent reads.

One process simulates asynchrony exactly. Updates are applied one after another, in a global order
t = 0, 1, 2, ...; update t computes its gradient at a *stale* iterate read ``tau_t`` updates ago,

    whole-vector read       w_hat_t      = w_{t - tau_t}                       (Huo & Huang 2017, (2.33), D = 1)
    coordinate-wise read    w_hat_t[j]   = w_{t - tau_{t,j}}[j],  0 <= tau_{t,j} <= tau_t
                                                                           (Huo & Huang 2017, (2.6), D = d)

and writes its step to the current iterate (writes are applied in order; the l2 term of the linear
kernels is applied at the written iterate, as the real read-modify-write kernels do). The
coordinate delays ``tau_{t,j}`` are a counter-based hash of (key, t, j): no state, no allocation,
the same values from Python (:meth:`History.read`) and from numba (:func:`coord_delay`).

``tau_t`` comes from a :class:`DelayModel`: ``fixed`` (tau), ``uniform`` on [0, tau_max],
``geometric`` with mean tau (truncated at a cap), ``trace`` (a recorded sequence, replayed
cyclically) or ``measured`` (a :class:`harness.api.DelayStats` histogram, e.g. from a
threads run, sampled i.i.d.). Delays are clipped to the history available (an epoch boundary of
SVRG, where all workers synchronise, restarts it). With tau = 0 the simulator performs the serial
kernels' arithmetic in the same order: it reproduces the serial plugins bit for bit.

Everything is deterministic for a seed: sample indices come from the run's generator (the same
stream as the serial plugins), delays from a separate stream (:func:`delay_rng`).

Reusable by other simulated backends (e.g. parameter-server twins): draw delays with a model,
keep iterates in a :class:`History`, read stale iterates with :meth:`History.read`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from numba import njit

from harness.api import DelayStats, UserError

from .params import DELAY_KINDS
from .params import READ_MODES as _READ_NAMES

READ_MODES = {name: code for code, name in enumerate(_READ_NAMES)}  # whole: 0, coordinate: 1


# -- delay distributions ----------------------------------------------------------------------------
class DelayModel:
    """Draws the delay tau_t of each update. ``bound`` is the largest delay it can produce."""

    kind = "base"
    bound = 0

    def draw(self, size: int, rng: np.random.Generator) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "bound": int(self.bound)}


class Fixed(DelayModel):
    kind = "fixed"

    def __init__(self, tau: int):
        self.tau = self.bound = _nonneg(tau, "tau")

    def draw(self, size, rng):
        return np.full(size, self.tau, dtype=np.int64)

    def describe(self):
        return {**super().describe(), "tau": self.tau}


class Uniform(DelayModel):
    """tau ~ uniform on {0, 1, ..., tau_max}."""

    kind = "uniform"

    def __init__(self, tau_max: int):
        self.tau_max = self.bound = _nonneg(tau_max, "tau")

    def draw(self, size, rng):
        return rng.integers(0, self.tau_max + 1, size=size, dtype=np.int64)

    def describe(self):
        return {**super().describe(), "tau_max": self.tau_max}


class Geometric(DelayModel):
    """P(tau = k) = p (1 - p)^k with p = 1 / (1 + mean), truncated at ``cap`` (default 10 x mean,
    where the dropped tail has mass (1-p)^(cap+1) ~ e^-10)."""

    kind = "geometric"

    def __init__(self, mean: float, cap: int = 0):
        if not mean >= 0:
            raise UserError(f"geometric delay: mean must be >= 0, got {mean}")
        self.mean = float(mean)
        self.bound = int(cap) if cap else int(np.ceil(10 * self.mean))

    def draw(self, size, rng):
        if self.mean == 0:
            return np.zeros(size, dtype=np.int64)
        p = 1.0 / (1.0 + self.mean)
        return np.minimum(rng.geometric(p, size=size).astype(np.int64) - 1, self.bound)

    def describe(self):
        return {**super().describe(), "mean": self.mean}


class Trace(DelayModel):
    """A recorded sequence of delays, replayed cyclically (the generator is not used)."""

    kind = "trace"

    def __init__(self, taus: Sequence[int]):
        self.taus = np.asarray(taus, dtype=np.int64).ravel()
        if self.taus.size == 0 or self.taus.min() < 0:
            raise UserError("a delay trace must be a non-empty list of delays >= 0")
        self.bound = int(self.taus.max())
        self.pos = 0

    def draw(self, size, rng):
        idx = (self.pos + np.arange(size)) % self.taus.size
        self.pos = int((self.pos + size) % self.taus.size)
        return self.taus[idx]

    def describe(self):
        return {**super().describe(), "length": int(self.taus.size)}


class Measured(DelayModel):
    """i.i.d. draws from a measured delay histogram (:class:`DelayStats`), e.g. a threads run's."""

    kind = "measured"

    def __init__(self, stats: DelayStats):
        if not stats.count:
            raise UserError("a measured delay distribution must hold at least one delay")
        self.stats = stats
        self.bound = int(stats.max)

    def draw(self, size, rng):
        return self.stats.sample(size, rng)

    def describe(self):
        return {**super().describe(), **{k: v for k, v in self.stats.summary().items()}}


def _nonneg(v, name) -> int:
    v = int(v)
    if v < 0:
        raise UserError(f"delay {name} must be >= 0, got {v}")
    return v


def load_delays(path: str | Path) -> DelayModel:
    """A delay file: a JSON list of delays (a trace), a :meth:`DelayStats.to_dict` object, or a
    run's info holding one under ``delays`` (what the threads plugins return)."""
    try:
        obj = json.loads(Path(path).read_text())
    except OSError as exc:
        raise UserError(f"cannot read delay file {path}: {exc.strerror}") from None
    except ValueError:
        raise UserError(f"delay file {path} is not JSON") from None
    if isinstance(obj, list):
        return Trace(obj)
    if isinstance(obj, dict) and "delays" in obj and isinstance(obj["delays"], dict):
        obj = obj["delays"]
    if isinstance(obj, dict) and "hist" in obj:
        return Measured(DelayStats.from_dict(obj))
    raise UserError(f"delay file {path}: expected a list of delays or a delay histogram (DelayStats)")


def delay_model(kind: str, tau: float = 0, cap: int = 0, source: str | None = None) -> DelayModel:
    """The model a sim plugin's parameters name (``delay``, ``tau``, ``tau_cap``, ``delay_file``)."""
    if kind == "fixed":
        return Fixed(int(tau))
    if kind == "uniform":
        return Uniform(int(tau))
    if kind == "geometric":
        return Geometric(float(tau), int(cap))
    if kind in ("trace", "measured"):
        if not source:
            raise UserError(f"delay={kind} needs --param delay_file=FILE (a JSON trace or delay histogram)")
        model = load_delays(source)
        if kind == "trace" and not isinstance(model, Trace):
            raise UserError(f"delay=trace: {source} holds a histogram; use delay=measured")
        if kind == "measured" and isinstance(model, Trace):
            model = Measured(_stats_of(model.taus))
        return model
    raise UserError(f"unknown delay distribution {kind!r}: expected one of {', '.join(DELAY_KINDS)}")


def _stats_of(taus) -> DelayStats:
    s = DelayStats()
    s.add(taus)
    return s


def delay_rng(seed: int) -> np.random.Generator:
    """The delay stream: independent of the run's sample-index stream (``ctx.rng``)."""
    return np.random.default_rng([int(seed), 0x51D31A7])


def coord_key(seed: int) -> int:
    """The key of the coordinate-delay hash for a run's seed (fits in a signed int64)."""
    return int(np.random.default_rng([int(seed), 0xC00D]).integers(1, 2**62))


# -- inconsistent reads ------------------------------------------------------------------------------
@njit(nogil=True, cache=True, inline="always")
def _mix64(x):
    # splitmix64's finaliser on uint64 (wraps modulo 2^64)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(nogil=True, cache=True)
def coord_delay(key, t, j, tau):
    """Delay of coordinate j in the read of update t whose read spans ``tau`` updates: uniform on
    {0..tau}, a pure function of (key, t, j)."""
    if tau <= 0:
        return 0
    h = _mix64(np.uint64(key) ^ _mix64(np.uint64(t) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(j)))
    return np.int64(h % np.uint64(tau + 1))


@njit(nogil=True, cache=True)
def _coord_read(ring, s, tau, key, t, out):
    R = ring.shape[0]
    for j in range(ring.shape[1]):
        out[j] = ring[(s - coord_delay(key, t, j, tau)) % R, j]


class History:
    """The last ``capacity`` iterates in a ring: after ``reset(w0)`` and s pushes it holds
    w_{max(0, s-capacity+1)} .. w_s; ``read(tau)`` returns w_{s - tau} (tau clipped to what is held),
    whole-vector or coordinate-wise (each coordinate its own delay in [0, tau], :func:`coord_delay`).

    ``t`` (the global update count, for the coordinate hash) is kept separately from ``s`` (updates
    since the last reset) so epoch resets do not repeat hash inputs.
    """

    def __init__(self, w0: np.ndarray, capacity: int, key: int = 0):
        self.capacity = max(1, int(capacity))
        self.ring = np.empty((self.capacity, np.asarray(w0).size))
        self.key = int(key)
        self.t = 0
        self.reset(w0)

    def reset(self, w0: np.ndarray) -> None:
        self.s = 0
        self.ring[0] = np.asarray(w0).ravel()

    def push(self, w: np.ndarray) -> None:
        self.s += 1
        self.t += 1
        self.ring[self.s % self.capacity] = np.asarray(w).ravel()

    def clip(self, tau: int) -> int:
        return int(min(max(int(tau), 0), self.s, self.capacity - 1))

    def read(self, tau: int, mode: str = "whole", out: np.ndarray | None = None) -> np.ndarray:
        tau = self.clip(tau)
        out = np.empty(self.ring.shape[1]) if out is None else out
        if READ_MODES[mode] == 0 or tau == 0:
            out[:] = self.ring[(self.s - tau) % self.capacity]
        else:
            _coord_read(self.ring, self.s, tau, self.key, self.t, out)
        return out


class Delays:
    """A run's delay source: the model, its own generator, and the measured record of the
    delays actually applied (after clipping), passed to ``monitor.tick(delays=...)``."""

    def __init__(self, model: DelayModel, seed: int):
        self.model = model
        self.rng = delay_rng(seed)
        self.stats = DelayStats()

    def draw(self, k: int) -> np.ndarray:
        return np.ascontiguousarray(self.model.draw(int(k), self.rng), dtype=np.int64)

    def record(self, applied: np.ndarray) -> None:
        self.stats.add(applied)


def from_params(p: dict[str, Any], seed: int) -> Delays:
    return Delays(delay_model(p["delay"], p["tau"], p.get("tau_cap", 0), p.get("delay_file") or None), seed)


def delays_for(ctx) -> Delays:
    """The run's delay source from its parameters; ``tau = -1`` means workers - 1."""
    p: dict[str, Any] = dict(ctx.params)
    if p["tau"] < 0:
        p["tau"] = max(ctx.workers - 1, 0)
    return from_params(p, ctx.seed)


def run_info(delays: Delays, read: str, sim=None) -> dict[str, Any]:
    """The facts a sim run stores: the applied delays' histogram, the delay model, the read mode."""
    out = {"delays": delays.stats.to_dict(), "delay_model": delays.model.describe(), "read": read}
    if sim is not None and sim.clipped_above is not None:
        out["delays_clipped_above"] = sim.clipped_above
    return out


# -- which worker's message arrives (the parameter-server twins) ------------------------------------
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
