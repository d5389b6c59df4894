"""The threads backend's chunked updates on the linear workloads (dense or CSR data)."""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from harness.api import DelayStats, UserError
from harness.plugins.algorithms import kernels as K0
from harness.plugins.algorithms.draws import IndexDraws

from . import kernels as K
from .team import Team, lines_of_their_own

CHUNK_CAP = 1_000_000  # updates per chunk (bounds the per-thread index arrays and the drift tables)
CHUNK_ROWS = 2_000_000  # rows drawn per chunk (b rows per update)
MAX_SHRINK_LOG = 200.0  # a sparse chunk keeps its scale S above e^-200 (see kernels)
# work (coordinates read or written) below which a team call runs on the calling thread alone: waking a
# worker costs about as much (tens of microseconds on a quiet machine, milliseconds on a loaded one)
SPLIT_MIN_OPS = 100_000
# a chunk whose shares each hold PIECES_MIN_PIECES pieces of PIECE_MIN_OPS coordinates or more is handed out in
# pieces (Team.map_pieces: the threads end it together); a piece's fixed cost is ~10 us (its kernel call ~4 us,
# the delays' fold, the claim), ~1% of the ~1 ms such a piece takes at d = 1M
PIECE_MIN_OPS = 50_000
PIECES_MIN_PIECES = 4


class Snapshot(NamedTuple):
    """What an SVRG epoch needs of w~: margins z0 = X w~, the loss part of grad f(w~), (CSR data) its
    margins x_i . mu for the scaled iterate, and the loss derivatives g0 = phi'(z0) (taken once per
    snapshot: an update reads g0[i] where it would evaluate phi'(z0[i]), the same value)."""

    z0: np.ndarray
    mu_loss: np.ndarray
    x_mu: np.ndarray | None
    g0: np.ndarray


def applied_write(write: str, threads: int) -> tuple[str, str]:
    """The write mode a run of ``threads`` threads applies for the asked ``write``, and why.

    Synchronisation is paid only where something can race: with one thread no other writer exists,
    so a plain store *is* the atomic coordinate update (bit for bit: the same expression, no
    compare-and-swap loop, 3.5x faster on dense rows) and nothing can be lost under any mode.
    With several threads the asked mode is applied as is."""
    if threads <= 1:
        return "plain", "one thread: no concurrent writer, a plain store is exact"
    return write, "as asked"


def use_transactions() -> bool:
    """Whether atomic sparse rows (and dense ones under ``HARNESS_THREADS_ATOMIC=tx``) try hardware
    transactions first (``kernels.linear_csr``, ``kernels.write_all``): where the CPU has them
    (``kernels.cpu_has_rtm``) unless HARNESS_THREADS_TX=0 turns them off."""
    return os.environ.get("HARNESS_THREADS_TX", "1") != "0" and K.cpu_has_rtm()


SCHEME_NAMES = {K.SCHEME_LOCK: "row lock", K.SCHEME_TX: "hardware transactions, compare-and-swap pairs after an abort",
                K.SCHEME_CAS: "compare-and-swap pairs"}


def dense_scheme() -> int:
    """How atomic dense rows are written (``kernels.SCHEMES``): under the row lock unless
    HARNESS_THREADS_ATOMIC says ``tx`` (transactions where the CPU has them and HARNESS_THREADS_TX
    allows, else pairs) or ``cas``. Raises UserError for another value."""
    name = os.environ.get("HARNESS_THREADS_ATOMIC", "").strip() or "lock"
    if name not in K.SCHEMES:
        raise UserError(f"HARNESS_THREADS_ATOMIC={name}: expected one of {', '.join(K.SCHEMES)}")
    if name == "tx" and not use_transactions():
        name = "cas"
    return K.SCHEMES[name]


class ThreadLinear:
    """Chunks of updates on ``team``; ``write`` ('atomic', 'racy' or 'plain', ``kernels.WRITE_CODES``)
    says how each coordinate is written (applied as :func:`applied_write` decides)."""

    def __init__(self, workload, team: Team, write: str = "atomic"):
        if workload.loss not in K0.LOSS_CODES:
            raise UserError(f"the threads backend has kernels for the logistic and squared losses, not {workload.loss!r}")
        self.wl, self.team = workload, team
        self.code = K0.loss_code(workload)
        self.write = write
        self.applied, self.applied_why = applied_write(write, team.size)
        self.mode = K.WRITE_CODES[self.applied]
        self.tx = use_transactions()                 # sparse rows' atomic writes
        self.scheme = dense_scheme()                 # dense rows' atomic writes
        self.dense_rows = False                      # whether a whole dense row was written (coords = 0)
        self._dispatched = {"updates_on_team": 0, "updates_alone": 0, "updates_in_pieces": 0}
        self.n, self.d = workload.n, workload.dim
        self.lam = float(workload.lam)
        self.sparse = workload.sparse
        X = workload.X
        if self.sparse:
            self.csr = K0.csr_arrays(X)
        self.X, self.y = X, workload.y
        self.row_ops = max(1, X.nnz // max(self.n, 1)) if self.sparse else self.d   # coordinates per row
        self._tables = np.empty((3, 0))              # drift tables S, Q, H (CSR data)
        self._tables_eta: float | None = None        # the constant step they hold, if any
        self._tables_len = 0                         # ... for chunks of up to this many updates
        self._noidx = np.zeros(0, dtype=np.int64)
        self._snap_buffers: tuple | None = None
        self._split_cache: dict[int, list[tuple[int, int]]] = {}
        self._nothing = np.zeros(1)
        # each thread's B_t from its own generator, drawn a block ahead (the same stream; draws.py)
        self._draws = [IndexDraws(rng, self.n) for rng in team.rngs]
        # and SVRG's written blocks' starts k_t (coords > 0) from a stream of their own, as the simulator's:
        # drawn from B_t's generator after each chunk's B_t, where a chunk ended decided which draws became
        # indices and which blocks, so the evaluation points and the audit's windows changed the run
        self._block_draws_made: list[IndexDraws] | None = None   # built by the first SVRG chunk with coords > 0

    @property
    def _block_draws(self) -> list[IndexDraws]:
        """Each thread's k_t stream (``default_rng([seed, r, 0xC0])``), made when first read: only SVRG with
        coords > 0 reads it, and the same seeds give the same stream whenever it is made."""
        if self._block_draws_made is None:
            self._block_draws_made = [IndexDraws(np.random.default_rng([self.team.seed, r, 0xC0]), self.d)
                                      for r in range(self.team.size)]
        return self._block_draws_made

    @staticmethod
    def first_pair(w: np.ndarray) -> int:
        """0 or 1: the first index of ``w`` whose address is a multiple of 16 (where the atomic dense
        writes' 16-byte pairs start, ``kernels.write_all``)."""
        if not w.flags.c_contiguous or w.ctypes.data % 8:
            raise ValueError("the shared iterate must be a contiguous float64 array")
        return (w.ctypes.data % 16) // 8

    def scratch(self, size: int) -> np.ndarray:
        return np.empty(max(size, 1))

    def chunk_cap(self, eta: float, b: int) -> int:
        """Most updates of mini-batch b per chunk: CHUNK_CAP and CHUNK_ROWS / b, and on CSR data few
        enough that the scale S of the iterate stays above e^-MAX_SHRINK_LOG (eta_t <= eta for every
        schedule)."""
        cap = min(CHUNK_CAP, CHUNK_ROWS // b)
        if self.sparse and self.lam != 0.0:
            if not 0.0 < eta * self.lam < 1.0:
                raise UserError(f"eta * lam = {eta * self.lam:g}: the l2 shrink factor 1 - eta lam must lie in (0, 1)")
            cap = min(cap, int(max(1000, MAX_SHRINK_LOG / -np.log1p(-eta * self.lam))))
        return max(1, cap)

    def drift(self, k: int, *, eta: float, svrg: bool, schedule: int = 0, t0: float = 1.0, beta: float = 0.0):
        """Tables S, Q, H of ``kernels.linear_csr`` for the next k updates. For a constant step they do
        not depend on the chunk's first update count: they are kept per step size and only extended
        when a longer chunk comes; a decaying schedule fills them per chunk."""
        const = svrg or schedule == 0
        have = self._tables_len if const and self._tables_eta == eta else 0
        if have < k:
            if self._tables.shape[1] < k + 1:
                grown = np.empty((3, max(k + 1, 2 * self._tables.shape[1])))
                grown[:, :have + 1] = self._tables[:, :have + 1] if have else 0.0
                self._tables = grown
            S, Q, H = self._tables
            K.drift_tables(schedule, eta, t0, beta, self.lam, self.team.count, have, k, const, S, Q, H)
            self._tables_eta, self._tables_len = (eta, k) if const else (None, 0)
        return self._tables[0, :k + 1], self._tables[1, :k + 1], self._tables[2, :k]

    def _csr_chunk(self, w, k, b, tables, snap: Snapshot | None, delays: DelayStats | None):
        """k updates of ``kernels.linear_csr`` on the team, then w <- S[k] w - Q[k] mu (the exact iterate)."""
        team, (S, Q, H) = self.team, tables
        T0 = team.count
        svrg = snap is not None
        x_mu, g0 = (snap.x_mu, snap.g0) if svrg else (self._nothing, self._nothing)

        def kernel(idx, _, me, taus):
            K.linear_csr(w, *self.csr, self.y, idx, b, self.code, T0, S, Q, H, x_mu, g0, int(svrg),
                         self.scratch(b), self.mode, self.tx, team.slots, me, taus)

        taus = self._updates(kernel, k, b, delays)
        s, q, mu = S[k], (Q[k] if svrg else 0.0), (snap.mu_loss if svrg else self._nothing)
        self._by_coords(lambda lo, hi: K.unscale(w, s, q, mu, lo, hi))
        return taus

    def _updates(self, kernel, k: int, b: int, delays: DelayStats | None, blocks: list[IndexDraws] | None = None):
        """k updates of mini-batch b shared by the team: ``kernel(idx, kidx, me, taus)`` runs the updates
        of the indices ``idx`` (b per update) on thread ``me`` (its stamp slot), SVRG's blocks' starts
        ``kidx`` (``blocks`` given: k_t, a stream of its own per share), and writes their delays into
        ``taus``. Share r of ``team.split(k)`` takes its indices from thread r's streams, drawn once; a
        chunk of PIECES_MIN_PIECES pieces of PIECE_MIN_OPS coordinates per share or more runs in pieces
        (``Team.map_pieces``), a smaller one whole shares (``Team.map``). Returns the delays (shape (k,))
        in share order, or with ``delays`` given adds them to it and returns None."""
        team, shares, ops = self.team, self.team.split(k), k * b * self.row_ops

        def opened(r, kr):                          # the share's streams: taken once, valid until the next chunk
            idx = self._draws[r].take(kr * b)
            return idx, blocks[r].take(kr) if blocks else self._noidx, np.empty(kr, dtype=np.int64)

        min_piece = -(-PIECE_MIN_OPS // (b * self.row_ops))
        if not (team.pieces and team.size > 1 and min(shares) >= PIECES_MIN_PIECES * min_piece):
            def work(r, kr):
                idx, kidx, taus = opened(r, kr)
                kernel(idx, kidx, r, taus)
                return self._measured(taus, delays)

            return self._joined(self._map(work, shares, ops, updates=k), delays)

        # each thread's delays as _measured folds them: (histogram, sum, max), its own
        parts = None if delays is None else [(DelayStats(delays.cap).hist, 0, 0) for _ in range(team.size)]

        def piece(share, me, lo, hi):
            idx, kidx, taus = share
            kernel(idx[lo * b:hi * b], kidx[lo:hi], me, taus[lo:hi])
            if parts is not None:                   # folded into the running thread's histogram, in cache
                hist, total, top = parts[me]
                more, high = self._fold(taus[lo:hi], hist)
                parts[me] = hist, total + more, max(top, high)

        self._dispatched["updates_on_team"] += k
        self._dispatched["updates_in_pieces"] += k
        states = team.map_pieces(opened, piece, shares, min_piece)
        return self._joined(parts, delays) if parts is not None else np.concatenate([t for *_, t in states])

    @staticmethod
    def _measured(taus: np.ndarray, delays: DelayStats | None):
        """A share's measured delays as its thread hands them back: the array, or with ``delays`` given,
        folded into a histogram of their own on that thread (``kernels.fold_delays``: one pass while the
        share's array is in cache, in parallel, where a fold after the join was serial: ~1 ms of a
        250000-update chunk, 1.4% of a 2-thread run at d = 1M)."""
        if delays is None:
            return taus
        part = DelayStats(delays.cap)
        return (part.hist, *ThreadLinear._fold(taus, part.hist))

    @staticmethod
    def _fold(taus: np.ndarray, hist: np.ndarray) -> tuple[int, int]:
        """``kernels.fold_delays``: the delays ``taus`` added to ``hist``; returns (their sum, their max).
        Raises ValueError on a negative delay."""
        total, hi, lo = K.fold_delays(taus, hist)
        if lo < 0:
            raise ValueError("a delay cannot be negative")
        return total, hi

    @staticmethod
    def _joined(parts: list, delays: DelayStats | None):
        """The shares' delays: concatenated (``delays`` None), or added to ``delays`` (None returned)."""
        if delays is None:
            return np.concatenate(parts)
        for hist, total, hi in parts:
            delays.add_histogram(hist, total, hi)
        return None

    def _ranges(self, total: int) -> list[tuple[int, int]]:
        """0..total-1 in one contiguous range per thread (the first may be empty when total < threads);
        kept per total (n or d: every chunk asks again, and ``np.linspace`` took ~13 us of a ~90 us chunk)."""
        ranges = self._split_cache.get(total)
        if ranges is None:
            bounds = np.linspace(0, total, self.team.size + 1).astype(np.int64)
            ranges = self._split_cache[total] = [(int(bounds[r]), int(bounds[r + 1])) for r in range(self.team.size)]
        return ranges

    def _map(self, fn, shares: list[int], ops: int, updates: int = 0) -> list:
        """``team.map``; on the calling thread alone when the call's work, ``ops`` coordinates read or
        written, is under SPLIT_MIN_OPS (each share still with its own index stream and stamp slot).
        ``updates``: the updates the call makes, counted in :meth:`dispatch` as run alone or on the team."""
        alone = ops < SPLIT_MIN_OPS and self.team.size > 1
        self._dispatched["updates_alone" if alone else "updates_on_team"] += updates
        return self.team.map(fn, shares, alone=alone)

    def dispatch(self) -> dict:
        """How the run's updates were dispatched (recorded in the run's ``info["dispatch"]``): with
        several threads, a chunk under SPLIT_MIN_OPS coordinates of work runs its threads' shares one
        after another on the calling thread (``updates_alone``: they then read no concurrent write, and
        their measured delays say so), the others on the team (``updates_on_team``); of those, the ones
        of chunks handed out in pieces (``updates_in_pieces``: PIECES_MIN_PIECES pieces of
        PIECE_MIN_OPS coordinates per share or more, :meth:`_updates`)."""
        return {**self._dispatched, "threads": self.team.size, "split_min_ops": SPLIT_MIN_OPS,
                "piece_min_ops": PIECE_MIN_OPS}

    def _by_coords(self, fn, per_coord: int = 1) -> None:
        """fn(lo, hi) on the team, the coordinates 0..d-1 split in contiguous ranges (O(d) work per chunk
        or epoch is serial otherwise, and at d = 1M it is most of an epoch); ``per_coord``: its work
        per coordinate."""
        ranges = self._ranges(self.d)
        self._map(lambda r, _: fn(*ranges[r]), [1] * self.team.size, self.d * per_coord)

    # -- compile / load every kernel before the clock starts ------------------------------------------
    def warmup(self, b: int, svrg: bool) -> None:
        w = np.zeros(self.d)
        slots = np.zeros((1, 8), dtype=np.int64)
        taus = np.empty(0, dtype=np.int64)
        K.fold_delays(taus, np.zeros(2, dtype=np.int64))
        if self.sparse:
            S, Q, H = self.drift(1, eta=0.1, svrg=svrg)
            K.linear_csr(w, *self.csr, self.y, self._noidx, b, self.code, 0, S, Q, H, self._nothing, self._nothing,
                         int(svrg), self.scratch(b), self.mode, self.tx, slots, 0, taus)
            K.unscale(w, 1.0, 0.0, self._nothing, 0, 0)
            if svrg:
                self.snapshot(w)
            return
        K.hogwild_dense(w, self.X, self.y, self._noidx, b, self.code, self.lam, 0, 0.1, 1.0, 0.0,
                        self.scratch(self.d), self.mode, 0, self.scheme, self.team.lock, slots, 0, taus)
        if svrg:
            snap = self.snapshot(w)
            K.asysvrg_dense(w, self.X, self.y, snap.g0, w, self._noidx, b, self.code, self.lam, 0.1,
                            self.scratch(self.d), self.scratch(b), 0, self._noidx, self.mode, 0, self.scheme,
                            self.team.lock, slots, 0, taus)

    # -- Hogwild! SGD ------------------------------------------------------------------------------------
    def sgd(self, w, k, *, b, eta, schedule=0, t0=1.0, beta=0.0, delays: DelayStats | None = None) -> np.ndarray | None:
        """k Hogwild! updates shared by the team; returns the measured delays (shape (k,)), or with
        ``delays`` given adds them to it (each thread folds its own) and returns None."""
        team = self.team
        eta, t0, beta = float(eta), float(t0), float(beta)
        if self.sparse:
            tables = self.drift(k, schedule=schedule, eta=eta, t0=t0, beta=beta, svrg=False)
            return self._csr_chunk(w, k, b, tables, None, delays)

        first = self.first_pair(w)
        self.dense_rows = True

        def kernel(idx, _, me, taus):
            K.hogwild_dense(w, self.X, self.y, idx, b, self.code, self.lam, schedule, eta, t0, beta,
                            self.scratch(self.d), self.mode, first, self.scheme, team.lock, team.slots, me, taus)

        return self._updates(kernel, k, b, delays)

    # -- Shared-AsySVRG -----------------------------------------------------------------------------------
    def snapshot(self, u0: np.ndarray) -> Snapshot:
        """z0 = X w~, the loss part of grad f(w~) and (CSR) x_i . mu, rows split across the team. The
        arrays are buffers of this object, reused by the next snapshot (one snapshot per epoch); fresh
        d-sized arrays would page-fault on every epoch."""
        team, n, d = self.team, self.n, self.d
        if self._snap_buffers is None:
            # one row of partial sums per thread, each on cache lines of its own: packed, the line two
            # rows share went back and forth between the cores for every data row (measured: a dense
            # n = 20000, d = 100 snapshot on 2 threads took 1.05 ms packed, 0.75 ms padded, 1.05 ms on 1)
            self._snap_buffers = (lines_of_their_own(team.size, d, np.float64), np.empty(n), np.empty(d),
                                  np.empty(n), np.empty(n))   # a thread with no rows adds 0
        parts, z0, mu_loss, x_mu, g0 = self._snap_buffers
        rows = self._ranges(n)
        shares = [hi - lo for lo, hi in rows]

        def work(r, _):
            lo, hi = rows[r]
            if self.sparse:
                K.loss_grad_rows_csr(*self.csr, self.y, u0, lo, hi, self.code, z0, g0, parts[r])
            else:
                K.loss_grad_rows_dense(self.X, self.y, u0, lo, hi, self.code, z0, g0, parts[r])

        self._map(work, shares, n * self.row_ops)
        self._by_coords(lambda lo, hi: K.sum_rows(parts, 1.0 / n, lo, hi, mu_loss), per_coord=team.size)
        if not self.sparse:
            return Snapshot(z0, mu_loss, None, g0)
        self._map(lambda r, _: K.csr_matvec_rows(*self.csr, mu_loss, *rows[r], x_mu), shares, n * self.row_ops)
        return Snapshot(z0, mu_loss, x_mu, g0)

    def svrg(self, w, snap: Snapshot, k, *, b, eta, coords, delays: DelayStats | None = None) -> np.ndarray | None:
        """k Shared-AsySVRG inner iterations shared by the team; returns the measured delays (shape
        (k,)), or with ``delays`` given adds them to it and returns None (as :meth:`sgd`)."""
        team = self.team
        eta = float(eta)
        if self.sparse:
            return self._csr_chunk(w, k, b, self.drift(k, eta=eta, svrg=True), snap, delays)

        first = self.first_pair(w)
        self.dense_rows = self.dense_rows or not coords
        blocks = self._block_draws if coords else None   # made here, before the threads read it

        def kernel(idx, kidx, me, taus):
            K.asysvrg_dense(w, self.X, self.y, snap.g0, snap.mu_loss, idx, b, self.code, self.lam, eta,
                            self.scratch(self.d), self.scratch(b), int(coords), kidx, self.mode, first, self.scheme,
                            team.lock, team.slots, me, taus)

        return self._updates(kernel, k, b, delays, blocks)

    def writes(self) -> dict:
        """The run's coordinate writes: the mode asked (``mode``), the one applied and why
        (:func:`applied_write`), attempted writes, failed compare-and-swaps, and lost writes (atomic:
        0 by construction; racy: the failed ones, counted exactly; plain: not observable, None; one
        thread: 0 under every mode, since no other writer exists), how the atomic writes were made:
        dense rows' ``scheme`` (:func:`dense_scheme`; None where no whole dense row
        was written atomically: sparse data, one thread, racy / plain, SVRG writing ``coords`` > 0 single
        coordinates, each by compare-and-swap; ``lock``: rows written under the row lock and how many
        of them waited for it), and the hardware transactions
        (``transactions``: whether they were on, how many blocks landed in one, how many attempts
        aborted; the aborted blocks went by compare-and-swap)."""
        slots = self.team.slots
        attempted, failed = (int(c) for c in slots[:, [K.WRITES, K.FAILED]].sum(axis=0))
        lost = 0 if self.team.size <= 1 else {"atomic": 0, "racy": failed, "plain": None}[self.write]
        rows = self.applied == "atomic" and not self.sparse and self.dense_rows   # dense rows written atomically
        return {"mode": self.write, "applied": self.applied, "why": self.applied_why,
                "coordinate_writes": attempted, "cas_failed": failed, "lost": lost,
                "lost_fraction": None if lost is None else lost / max(attempted, 1),
                "scheme": SCHEME_NAMES[self.scheme] if rows else None,
                "lock": {"rows": int(slots[:, K.LOCK_ROWS].sum()), "waited": int(slots[:, K.LOCK_WAITS].sum())},
                "transactions": {"enabled": bool(self.applied == "atomic" and self.tx if self.sparse else
                                                 rows and self.scheme == K.SCHEME_TX),
                                 "committed": int(slots[:, K.TX_COMMITS].sum()),
                                 "aborted": int(slots[:, K.TX_ABORTS].sum())}}
