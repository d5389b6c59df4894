"""Mini-batch gradient steps on a finite-sum workload, with a numba path for the linear losses and
a numpy path for any other loss (multinomial), so the serial plugins run on every finite-sum workload."""

from __future__ import annotations

import numpy as np

from harness.plugins import kernels as K


class Steps:
    """Applies SGD / SVRG-inner updates in chunks. ``idx`` holds the pre-drawn sample indices."""

    def __init__(self, workload):
        self.w = workload
        self.fast = workload.loss in K.LOSS_CODES
        if self.fast:
            self.code = K.loss_code(workload)
            X = workload.X
            self.sparse = workload.sparse
            if self.sparse:
                self.csr = (X.data, X.indices.astype(np.int64), X.indptr.astype(np.int64))
            self.y = workload.y
            self._warm_up()

    def _warm_up(self):
        """Compile (or load from numba's disk cache) the kernels before the monitor starts the
        clock: JIT time is not the algorithm's time."""
        n, d = self.w.n, self.w.dim
        w = np.zeros(d)
        idx = np.zeros(1, dtype=np.int64)
        self.sgd(w, idx, 1, 0, 0.0, 1.0, 0.5, 0)
        self.sgd(w, idx, 1, 1, 0.0, 1.0, 0.5, 0)
        self.svrg_inner(w, w, (np.zeros(n), np.zeros(d), None), idx, 1, 0.0)

    def sgd(self, w, idx, b, schedule, eta, t0, beta, t_start):
        if not self.fast:
            for u in range(len(idx) // b):
                eta_t = eta if schedule == 0 else (eta / (1 + (t_start + u) / t0) ** (1.0 if schedule == 1 else beta))
                w -= eta_t * self.w.batch_gradient(w, idx[u * b:(u + 1) * b])
            return
        if self.sparse:
            K.sgd_csr(w, *self.csr, self.y, idx, b, self.code, self.w.lam, schedule, eta, t0, beta, t_start,
                      np.empty(b))
        else:
            K.sgd_dense(w, self.w.X, self.y, idx, b, self.code, self.w.lam, schedule, eta, t0, beta, t_start,
                        np.empty(w.shape[0]))

    def snapshot(self, u0):
        """What SVRG's inner loop needs at the snapshot u0: (z0 = X u0, grad of the loss part, full grad)."""
        full = self.w.gradient(u0)
        if not self.fast:
            return None, None, full
        z0 = np.asarray(self.w.X @ u0).ravel()
        return z0, full - self.w.lam * u0, full

    def svrg_inner(self, u, u0, snap, idx, b, eta):
        z0, mu_loss, full = snap
        if not self.fast:
            for t in range(len(idx) // b):
                batch = idx[t * b:(t + 1) * b]
                u -= eta * (self.w.batch_gradient(u, batch) - self.w.batch_gradient(u0, batch) + full)
            return
        if self.sparse:
            K.svrg_inner_csr(u, *self.csr, self.y, z0, mu_loss, idx, b, self.code, self.w.lam, eta, np.empty(b))
        else:
            K.svrg_inner_dense(u, self.w.X, self.y, z0, mu_loss, idx, b, self.code, self.w.lam, eta,
                               np.empty(u.shape[0]))
