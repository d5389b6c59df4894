"""The simulator's update steps on the linear workloads: the serial ``Steps`` with stale reads."""

from __future__ import annotations

import numpy as np

from harness.api import UserError
from harness.plugins.algorithms import kernels as K

from . import kernels as SK
from .engine import READ_MODES, Delays

RING_BYTES_MAX = 1 << 30  # the ring of past iterates: (max delay + 1) x d float64


class LinearSim:
    """Applies simulated-asynchronous SGD / SVRG-inner updates in chunks. Keeps the ring of the
    last (bound + 1) iterates (at most 1 GiB: larger delays are clipped, ``clipped_above`` says
    where) and the update counters; records every applied delay in ``delays.stats``."""

    def __init__(self, workload, delays: Delays, read: str, key: int):
        if workload.loss not in K.LOSS_CODES:
            raise UserError(f"the sim backend has kernels for the logistic and squared losses, not {workload.loss!r}")
        self.wl = workload
        self.code = K.loss_code(workload)
        self.sparse = workload.sparse
        X = workload.X
        if self.sparse:
            self.csr = (X.data, X.indices.astype(np.int64), X.indptr.astype(np.int64))
        self.y = workload.y
        self.delays = delays
        self.mode = READ_MODES[read]
        self.key = int(key)
        d = workload.dim
        # the ring holds the last R iterates; a delay above R - 1 is clipped to it (and recorded as applied)
        R = int(min(int(delays.model.bound) + 1, max(2, RING_BYTES_MAX // (8 * d))))
        self.clipped_above = R - 1 if R < int(delays.model.bound) + 1 else None
        self.ring = np.zeros((R, d))
        self.s = 0
        self._warm_up()

    def _warm_up(self) -> None:
        """Compile (or load from numba's disk cache) the SGD and SVRG kernels before the monitor
        starts the clock, as the serial and threads backends do: JIT time is not the algorithm's
        time (a cold cache put 2.5 s into asysvrg-sim's first chunk). Zero updates on scratch
        arrays of the real ones' types: no iterate, ring, counter or random stream is touched."""
        d = self.wl.dim
        w, none = np.zeros(d), np.zeros(0, dtype=np.int64)
        ring, key, code, lam = np.zeros((2, d)), self.key, self.code, float(self.wl.lam)
        if self.sparse:
            SK.sim_sgd_csr(w, *self.csr, self.y, none, 1, code, lam, 0, 0.0, 1.0, 0.0, 0, np.empty(1), ring, 0, none,
                           self.mode, key)
            SK.sim_svrg_csr(w, *self.csr, self.y, np.zeros(self.wl.n), np.zeros(d), none, 1, code, lam, 0.0,
                            np.empty(1), ring, 0, none, self.mode, key, 0)
        else:
            SK.sim_sgd_dense(w, self.wl.X, self.y, none, 1, code, lam, 0, 0.0, 1.0, 0.0, 0, np.empty(d), ring, 0, none,
                             self.mode, key)
            SK.sim_svrg_dense(w, self.wl.X, self.y, np.zeros(self.wl.n), np.zeros(d), none, 1, code, lam, 0.0,
                              np.empty(d), np.empty(1), ring, 0, none, self.mode, key, 0, 0, none)

    def reset(self, w: np.ndarray) -> None:
        """All workers synchronise here (start, SVRG epoch boundary): the history restarts at w."""
        self.s = 0
        self.ring[0] = w

    def sgd(self, w, idx, *, b, eta, schedule=0, t0=1.0, beta=0.0, t_start=0):
        taus = self.delays.draw(len(idx) // b)
        if self.sparse:
            self.s = SK.sim_sgd_csr(w, *self.csr, self.y, idx, b, self.code, self.wl.lam, schedule, eta, t0, beta,
                                    t_start, np.empty(b), self.ring, self.s, taus, self.mode, self.key)
        else:
            self.s = SK.sim_sgd_dense(w, self.wl.X, self.y, idx, b, self.code, self.wl.lam, schedule, eta, t0, beta,
                                      t_start, np.empty(w.shape[0]), self.ring, self.s, taus, self.mode, self.key)
        self.delays.record(taus)

    def svrg_inner(self, u, snap, idx, *, b, eta, t_start, coords=0, kidx=None):
        z0, mu_loss, _full = snap
        taus = self.delays.draw(len(idx) // b)
        if self.sparse:
            if coords:
                raise UserError("coords > 0 needs dense data")
            self.s = SK.sim_svrg_csr(u, *self.csr, self.y, z0, mu_loss, idx, b, self.code, self.wl.lam, eta,
                                     np.empty(b), self.ring, self.s, taus, self.mode, self.key, t_start)
        else:
            kidx = np.zeros(0, dtype=np.int64) if kidx is None else kidx
            self.s = SK.sim_svrg_dense(u, self.wl.X, self.y, z0, mu_loss, idx, b, self.code, self.wl.lam, eta,
                                       np.empty(u.shape[0]), np.empty(b), self.ring, self.s, taus, self.mode,
                                       self.key, t_start, coords, kidx)
        self.delays.record(taus)
