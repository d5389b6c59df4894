"""Mini-batch gradient steps on a finite-sum workload, with a numba path for the linear losses and
a numpy path for any other loss (multinomial), so the serial plugins run on every finite-sum workload."""

from __future__ import annotations

import numpy as np

from . import kernels as K


class Steps:
    """Applies SGD / SVRG-inner updates in chunks to an iterate ``w`` (shape (d,), updated in place).
    ``idx`` holds the chunk's pre-drawn sample indices (int64, length k*b: k updates of batch b)."""

    def __init__(self, workload):
        self.workload = workload
        self._scratch = None        # rewarm's arrays, made at its first call
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
            self._warm_up()

    def rewarm(self, kind: str = "sgd") -> None:
        """One update of the ``kind`` kernel (``sgd`` or ``svrg``) on scratch data: eta = 0 on a scratch
        iterate, sample 0, no draw from the run's generator. Registered with ``Monitor.rewarm``, it runs
        after each point's evaluation, off the clock: the evaluation evicted this code path (Python's
        call into numba, the kernel's code), and the next chunk would pay ~10 us to bring it back (a
        one-update chunk: 11.6 us after an evaluation, 1.6 us warm, 2.9 us after this; measured on
        this 2-core machine, 2026-12-07)."""
        if not self.fast:
            return
        if self._scratch is None:
            d = self.workload.dim
            # sample 0's snapshot margin is all the kernel reads of z0 (one index: no row prefetched ahead)
            self._scratch = (np.zeros(d), np.zeros(1, dtype=np.int64), (np.zeros(1), np.zeros(d), None))
        w, idx, snap = self._scratch
        if kind == "svrg":
            self.svrg_inner(w, w, snap, idx, b=1, eta=0.0)
        else:
            self.sgd(w, idx, b=1, eta=0.0, schedule=0, beta=0.5)

    def _warm_up(self):
        """Compile (or load from numba's disk cache) the kernels before the monitor starts the
        clock: JIT time is not the algorithm's time."""
        n, d = self.workload.n, self.workload.dim
        w = np.zeros(d)
        idx = np.zeros(1, dtype=np.int64)
        self.sgd(w, idx, b=1, eta=0.0, schedule=0, beta=0.5)
        self.sgd(w, idx, b=1, eta=0.0, schedule=1, beta=0.5)
        self.svrg_inner(w, w, (np.zeros(n), np.zeros(d), None), idx, b=1, eta=0.0)

    def sgd(self, w, idx, *, b, eta, schedule=0, t0=1.0, beta=0.0, t_start=0):
        """len(idx)/b SGD updates w <- w - eta_t (1/b) sum_{i in B} grad f_i(w); eta_t = eta (schedule 0),
        eta/(1+t/t0) (1) or eta/(1+t/t0)^beta (2) at update t = t_start, t_start+1, ..."""
        if not self.fast:
            for u in range(len(idx) // b):
                eta_t = eta if schedule == 0 else (eta / (1 + (t_start + u) / t0) ** (1.0 if schedule == 1 else beta))
                w -= eta_t * self.workload.batch_gradient(w, idx[u * b:(u + 1) * b])
            return
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
        if self.sparse:
            K.svrg_inner_csr(u, *self.csr, self.y, z0, mu_loss, idx, b, self.code, self.lam, eta, np.empty(b))
        else:
            K.svrg_inner_dense(u, self.X, self.y, z0, mu_loss, idx, b, self.code, self.lam, eta,
                               np.empty(u.shape[0]))
