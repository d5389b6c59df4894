"""The parameter-server layer shared by the MPI algorithms (rank 0 = server, ranks 1..P = workers).

Messages are float64 buffers ``[kind, version, samples, aux | payload]``. Two-sided and
asynchronous: the server keeps one pre-posted non-blocking receive per worker and serves whichever
message completes first (``Waitany``: updates are applied as they arrive); replies go out as
non-blocking sends. All of them are persistent requests (``Recv_init`` / ``Send_init``, re-armed
with ``Start``), so a message costs no buffer parsing or request allocation in Python. A worker
starts its receive and its send together and waits for both.

Staleness is measured, not assumed: a worker's message carries the version of the iterate it read
(the ``version`` of the reply it computed from); the server records ``tau = version_now -
version_read`` at apply time, ``version_now`` being its update counter before the apply.

The server may defer a reply (a synchronous phase: SVRG's full gradient, a CoCoA+ round, the
growing-batch round lag): the algorithm answers later with :meth:`Server.reply`. On stop the
server answers every worker ``STOP`` (at once if its reply was deferred, else at its next
message, which is not applied) so that no rank is left waiting.

Bounded delay (``max_delay = tau_max``, the bounded-delay consistency of parameter servers, Li et al.
OSDI 2014; the papers' Assumptions 2.4.x / 3.4.2 "d(t) >= t - tau"): a ``PARAMS`` reply is held back
while sending it could let some worker's update arrive with a delay above ``tau_max``. Each worker
has at most one message in flight, so with ``F`` workers in flight, worker ``j`` (which read version
``r_j``) arrives with ``tau_j <= (version - r_j) + (F - 1)``; the server keeps that sum ``<= tau_max``
for every worker in flight and releases held replies (with the then-current iterate and version) as
the stale messages arrive. With nobody in flight a held reply is always released, so it cannot
deadlock. The payload given to a held ``PARAMS`` reply must be the live iterate (it is read when
the reply is released). ``tau_max >= P - 1`` is required (a broadcast puts all P workers in flight).
"""

from __future__ import annotations

import os
import time
from typing import Iterator

import numpy as np
from mpi4py import MPI

from harness.api import DelayStats

HEADER = 4
TAG_MSG, TAG_REPLY = 11, 12

# message kinds (worker -> server)
HELLO, UPDATE, GRAD, ROUND = 0, 1, 2, 3
# reply kinds (server -> worker)
PARAMS, SNAPSHOT, FULLGRAD, STOP = 10, 11, 12, 13


class Message:
    __slots__ = ("source", "kind", "version", "samples", "aux", "payload")

    def __init__(self, source: int, buf: np.ndarray):
        self.source = source
        kind, version, self.samples, self.aux = buf[:HEADER].tolist()
        self.kind, self.version = int(kind), int(version)
        self.payload = buf[HEADER:]  # a view into the receive buffer: copy it to keep it


class Server:
    """Rank 0's side. ``msg_len`` / ``reply_len``: payload lengths (float64 entries); ``max_delay``:
    the delay bound tau_max (None: unbounded); ``yield_cpu``: wait for messages by sleeping instead
    of MPI's spinning wait (:func:`oversubscribed` says when)."""

    def __init__(self, comm: MPI.Comm, msg_len: int, reply_len: int, max_delay: int | None = None,
                 yield_cpu: bool = False):
        self.comm = comm
        self.P = comm.Get_size() - 1
        if max_delay is not None and max_delay < self.P - 1:
            raise ValueError(f"max_delay={max_delay} is below P - 1 = {self.P - 1}: a broadcast to the {self.P} "
                             "workers already allows that delay")
        self.max_delay = max_delay
        self.read = [0] * self.P           # the version each worker last received (it computes from it)
        self.in_flight: set[int] = set()   # workers (0-based) holding a reply whose message has not arrived
        self.held: dict[int, tuple[np.ndarray | None, float]] = {}   # held PARAMS replies, in order
        self.replies_held = 0
        self.rbuf = np.zeros((self.P, HEADER + msg_len))
        self.sbuf = np.zeros((self.P, HEADER + reply_len))
        self.rreq = [comm.Recv_init([self.rbuf[k], MPI.DOUBLE], source=k + 1, tag=TAG_MSG) for k in range(self.P)]
        self.sreq = [comm.Send_init([self.sbuf[k], MPI.DOUBLE], dest=k + 1, tag=TAG_REPLY) for k in range(self.P)]
        self.armed = [False] * self.P
        self.stopped = [False] * self.P
        self.version = 0          # server updates applied
        self.samples = 0.0        # samples processed, as reported by the workers
        self._delays = DelayStats()
        self._taus: list[int] = []     # recorded delays not yet folded into the histogram
        self.messages = 0
        self.born = time.perf_counter()
        self.idle_s = 0.0         # seconds spent waiting for a message (Waitany): the server's idle time
        # more ranks than cores: wait by sleeping, not spinning (a spinning server slows the workers)
        self.yield_cpu = bool(yield_cpu)
        for k in range(self.P):
            self._post(k)

    def _post(self, k: int) -> None:
        self.rreq[k].Start()
        self.armed[k] = True

    def next(self) -> Message:
        """Wait for the next message from any worker (the first that completes)."""
        self._release_held()
        t = time.perf_counter()
        if self.yield_cpu:
            k = self._wait_yielding()
        else:
            k = MPI.Request.Waitany(self.rreq)  # inactive (unarmed) requests are ignored
        self.idle_s += time.perf_counter() - t
        if k == MPI.UNDEFINED:
            raise RuntimeError("parameter server: no worker left to receive from")
        self.armed[k] = False
        self.in_flight.discard(k)
        self.messages += 1
        msg = Message(k + 1, self.rbuf[k])
        self.samples += msg.samples
        return msg

    def _wait_yielding(self) -> int:
        """Waitany that gives the core away (:func:`backoff`)."""
        for _ in backoff():
            k, done = MPI.Request.Testany(self.rreq)   # done with k = UNDEFINED: none is armed
            if done:
                return k
        raise AssertionError("unreachable: backoff() never ends")

    def busy_fraction(self, paused_s: float = 0.0) -> float:
        """Share of the server's life, less ``paused_s`` (the monitor's evaluations), not spent
        waiting for messages (applying updates, replying): near 1, the server is the bottleneck."""
        life = time.perf_counter() - self.born - paused_s
        return max(0.0, 1.0 - self.idle_s / life) if life > 0 else 0.0

    def record_delay(self, msg: Message, tau: int | None = None) -> int:
        """tau = server version at apply minus the version the worker read, or the ``tau`` an
        algorithm measures in its own unit (the growing-batch rounds)."""
        tau = self.version - msg.version if tau is None else int(tau)
        self._taus.append(tau)
        return tau

    @property
    def delays(self) -> DelayStats:
        """The measured delays so far (folded into the histogram in one bincount when asked)."""
        if self._taus:
            self._delays.add(self._taus)
            self._taus.clear()
        return self._delays

    def reply(self, worker: int, kind: int, payload: np.ndarray | None = None, aux: float = 0.0,
              version: int | None = None) -> None:
        """Answer ``worker`` (a rank, 1..P) and re-arm its receive (unless this is STOP). Under
        ``max_delay`` a PARAMS reply may be held back (see the module docstring)."""
        k = worker - 1
        if kind == PARAMS and self.max_delay is not None and version is None and not self._may_send(k):
            self.held[k] = (payload, aux)
            self.replies_held += 1
            return
        self.held.pop(k, None)
        self.sreq[k].Wait()               # the previous reply's buffer is free again
        buf = self.sbuf[k]
        v = self.version if version is None else version
        buf[:HEADER] = (kind, v, 0.0, aux)
        if payload is not None:
            buf[HEADER:HEADER + payload.size] = payload
        if kind == STOP:
            self.stopped[k] = True
        else:
            self.read[k] = int(v)
            self.in_flight.add(k)
            if not self.armed[k]:
                self._post(k)
        self.sreq[k].Start()

    def _may_send(self, k: int) -> bool:
        """Would every worker in flight, k included once answered, still arrive with tau <= max_delay?"""
        flying = self.in_flight | {k}
        others = len(flying) - 1
        return all(self.version - (self.version if j == k else self.read[j]) + others <= self.max_delay
                   for j in flying)

    def _release_held(self) -> None:
        for k in list(self.held):
            if self._may_send(k):
                payload, aux = self.held[k]
                self.reply(k + 1, PARAMS, payload, aux)

    def broadcast(self, kind: int, payload: np.ndarray | None = None, aux: float = 0.0,
                  workers: list[int] | None = None) -> None:
        for r in workers or range(1, self.P + 1):
            self.reply(r, kind, payload, aux)

    def shutdown(self, deferred: set[int] | list[int] = ()) -> int:
        """Answer STOP to every worker: the deferred ones now, the others at their next message
        (which is dropped). Returns how many in-flight updates were dropped."""
        dropped = 0
        deferred = set(deferred) | {k + 1 for k in self.held}   # a held reply: its message was applied
        self.held.clear()
        for r in deferred:                 # aux=1: your last message was handled
            if not self.stopped[r - 1]:
                self.reply(r, STOP, aux=1.0)
        while not all(self.stopped):
            msg = self.next()
            if msg.kind in (UPDATE, ROUND):
                dropped += 1
            self.reply(msg.source, STOP, aux=0.0)   # aux=0: your last message was dropped
        MPI.Request.Waitall(self.sreq)
        for req in self.rreq + self.sreq:
            req.Free()
        return dropped


class Worker:
    """A worker rank's side: ``exchange`` sends one message and returns the server's reply."""

    def __init__(self, comm: MPI.Comm, msg_len: int, reply_len: int, yield_cpu: bool = False):
        self.comm = comm
        self.rank = comm.Get_rank()
        self.yield_cpu = bool(yield_cpu)
        self.sbuf = np.zeros(HEADER + msg_len)
        self.rbuf = np.zeros(HEADER + reply_len)
        self.sent = 0
        self.kind = PARAMS
        self.version = 0
        self.aux = 0.0
        self.payload = self.rbuf[HEADER:]
        self.reqs = [comm.Recv_init([self.rbuf, MPI.DOUBLE], source=0, tag=TAG_REPLY),
                     comm.Send_init([self.sbuf, MPI.DOUBLE], dest=0, tag=TAG_MSG)]

    def exchange(self, kind: int, payload: np.ndarray | None = None, *, version: int = 0,
                 samples: float = 0.0, aux: float = 0.0) -> int:
        """Send a message, wait for the reply; returns the reply's kind (payload in ``self.payload``)."""
        buf = self.sbuf
        buf[:HEADER] = (kind, version, samples, aux)
        if payload is not None:
            buf[HEADER:HEADER + payload.size] = payload
        MPI.Prequest.Startall(self.reqs)        # the reply's receive first, then the message
        if self.yield_cpu:                      # Waitall that gives the core away (:func:`backoff`)
            for _ in backoff():
                if MPI.Request.Testall(self.reqs):
                    break
        else:
            MPI.Request.Waitall(self.reqs)
        self.sent += 1
        kind, version, _, self.aux = self.rbuf[:HEADER].tolist()
        self.kind, self.version = int(kind), int(version)
        return self.kind


def backoff(first_s: float = 20e-6, longest_s: float = 1e-3) -> Iterator[None]:
    """The pauses of a wait that gives the core away: MPI's waits spin, and with more ranks than
    cores a spinning rank takes a core from a computing one. Yields at once, then after sleeping
    ``first_s`` doubling up to ``longest_s``, without end: test for completion at each step."""
    pause = first_s
    while True:
        yield
        time.sleep(pause)
        pause = min(2 * pause, longest_s)


def oversubscribed(comm: MPI.Comm) -> bool:
    """Collective: whether this node runs more of the job's ranks than this process may use cores."""
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        return node.Get_size() > len(os.sched_getaffinity(0))
    finally:
        node.Free()
