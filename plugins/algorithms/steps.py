"""Mini-batch gradient steps on a finite-sum workload, with a numba path for the linear losses and
a numpy path for any other loss (multinomial), so the serial plugins run on every finite-sum workload."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from . import kernels as K


@functools.lru_cache(maxsize=1)
def l2_bytes() -> int:
    """The size in bytes of one core's L2 cache (Linux sysfs; 1 MiB where it cannot be read)."""
    try:
        for idx in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
            if (idx / "level").read_text().strip() == "2" and (idx / "type").read_text().strip() != "Instruction":
                size = (idx / "size").read_text().strip().upper()
                mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(size[-1:], 1)
                return int(size.rstrip("KMG")) * mult
    except (OSError, ValueError):
        pass
    return 1 << 20


class Steps:
    """Applies SGD / SVRG-inner updates in chunks to an iterate ``w`` (shape (d,), updated in place).
    ``idx`` holds the chunk's pre-drawn sample indices (int64, length k*b: k updates of batch b)."""

    def __init__(self, workload):
        self.workload = workload
        self._scratch = None        # rewarm's arrays, made at its first call
        self._last = None           # (idx, z0, w) of the last chunk: the rows rewarm reads again
        self.fast = workload.loss in K.LOSS_CODES
        if self.fast:
            self.code = K.loss_code(workload)
            # the data and lam held here: the workload's X is a property over its data cache (~1.5 us a
            # read), paid on the clock by every chunk (300 of them in a 200000-update run with its audit)
            self.X = X = workload.X
            self.lam = float(workload.lam)
            self.sparse = workload.sparse
            if self.sparse:
                self.csr = (X.data, X.indices.astype(np.int64), X.indptr.astype(np.int64))
            self.y = workload.y
            nnz_row = X.nnz / max(1, X.shape[0]) if self.sparse else X.shape[1]
            row = nnz_row * (X.dtype.itemsize + (8 if self.sparse else 0)) + 64   # + y's and z0's lines
            if self.sparse and workload.dim * 8 > l2_bytes():
                row += 64 * nnz_row                                             # the coordinates of w it reads
            self._recent_rows = max(1, int(l2_bytes() // row))                  # what one core's L2 holds
            self._no_z0 = np.zeros(0)
            self._warm_up()

    def rewarm(self, kind: str = "sgd") -> None:
        """One update of the ``kind`` kernel (``sgd`` or ``svrg``) on scratch data: eta = 0 on a scratch
        iterate, sample 0, no draw from the run's generator. Registered with ``Monitor.rewarm``, it runs
        after each point's evaluation, off the clock: the evaluation evicted this code path (Python's
        call into numba, the kernel's code), and the next chunk would pay ~10 us to bring it back (a
        one-update chunk: 11.6 us after an evaluation, 1.6 us warm, 2.9 us after this; measured on
        this 2-core machine, 2026-12-07).

        Then it reads again the rows the last chunk read last, as many as one core's L2 holds, oldest
        first, with their labels (and SVRG's snapshot margins): the cache the loop had when the monitor
        paused it. A pause of a few ms, whatever fills it (an evaluation, or a Python loop touching
        nothing), leaves those rows gone from L2, and the next ~5000 updates paid ~0.4 ms to bring them
        back (dense logreg n = 20000, d = 100, 16 MB, on this 2-core VM, 2026-12-07: ~10% of a 0.2-s run
        of 51 points; 0.02-0.2 ms after reading the last 3000 rows again). Only rows already read: the
        next chunk's rows are never fetched ahead, so a chunk cannot start warmer than the loop ran."""
        if not self.fast:
            return
        if self._scratch is None:
            d = self.workload.dim
            # sample 0's snapshot margin is all the kernel reads of z0 (one index: no row prefetched ahead)
            self._scratch = (np.zeros(d), np.zeros(1, dtype=np.int64), (np.zeros(1), np.zeros(d), None))
        w, idx, snap = self._scratch
        last = self._last
        if kind == "svrg":
            self.svrg_inner(w, w, snap, idx, b=1, eta=0.0)
        else:
            self.sgd(w, idx, b=1, eta=0.0, schedule=0, beta=0.5)
        self._last = last
        if last is not None:
            idx, z0, w = last
            hi = idx.shape[0]
            lo = max(0, hi - self._recent_rows)
            if self.sparse:
                self._sink = K.retouch_csr(*self.csr, self.y, z0, w, idx, lo, hi)
            else:
                self._sink = K.retouch_dense(self.X, self.y, z0, idx, lo, hi)

    def _warm_up(self):
        """Compile (or load from numba's disk cache) the kernels before the monitor starts the
        clock: JIT time is not the algorithm's time."""
        n, d = self.workload.n, self.workload.dim
        w = np.zeros(d)
        idx = np.zeros(1, dtype=np.int64)
        self.sgd(w, idx, b=1, eta=0.0, schedule=0, beta=0.5)
        self.sgd(w, idx, b=1, eta=0.0, schedule=1, beta=0.5)
        self.svrg_inner(w, w, (np.zeros(n), np.zeros(d), None), idx, b=1, eta=0.0)
        self._last = (idx, self._no_z0, w)
        self.rewarm()                               # its row re-read compiled too
        self._last = None

    def sgd(self, w, idx, *, b, eta, schedule=0, t0=1.0, beta=0.0, t_start=0):
        """len(idx)/b SGD updates w <- w - eta_t (1/b) sum_{i in B} grad f_i(w); eta_t = eta (schedule 0),
        eta/(1+t/t0) (1) or eta/(1+t/t0)^beta (2) at update t = t_start, t_start+1, ..."""
        if not self.fast:
            for u in range(len(idx) // b):
                eta_t = eta if schedule == 0 else (eta / (1 + (t_start + u) / t0) ** (1.0 if schedule == 1 else beta))
                w -= eta_t * self.workload.batch_gradient(w, idx[u * b:(u + 1) * b])
            return
        self._last = (idx, self._no_z0, w)
        if self.sparse:
            K.sgd_csr(w, *self.csr, self.y, idx, b, self.code, self.lam, schedule, eta, t0, beta, t_start,
                      np.empty(b))
        else:
            K.sgd_dense(w, self.X, self.y, idx, b, self.code, self.lam, schedule, eta, t0, beta, t_start,
                        np.empty(w.shape[0]))

    def snapshot(self, u0):
        """What SVRG's inner loop needs at the snapshot u0: (z0 = X u0, grad of the loss part, full grad)."""
        if not self.fast:
            return None, None, self.workload.gradient(u0)
        z0, full = self.workload.margins_and_gradient(u0)   # X u0 once: the gradient's margins are z0
        return z0, full - self.workload.lam * u0, full

    def svrg_inner(self, u, u0, snap, idx, *, b, eta):
        """len(idx)/b SVRG inner steps u <- u - eta v with v = (1/b) sum_{i in B} [grad f_i(u) - grad f_i(u0)]
        + grad f(u0); ``snap`` = :meth:`snapshot` (u0)."""
        z0, mu_loss, full = snap
        if not self.fast:
            for t in range(len(idx) // b):
                batch = idx[t * b:(t + 1) * b]
                u -= eta * (self.workload.batch_gradient(u, batch) - self.workload.batch_gradient(u0, batch) + full)
            return
        self._last = (idx, z0, u)
        if self.sparse:
            K.svrg_inner_csr(u, *self.csr, self.y, z0, mu_loss, idx, b, self.code, self.lam, eta, np.empty(b))
        else:
            K.svrg_inner_dense(u, self.X, self.y, z0, mu_loss, idx, b, self.code, self.lam, eta,
                               np.empty(u.shape[0]))
