"""The threads backend's chunked updates on the linear workloads (dense or CSR data)."""

from __future__ import annotations

import numpy as np

from harness.errors import UserError
from plugins import kernels as K0

from . import kernels as K
from .team import Team

CHUNK_CAP = 1_000_000  # updates per chunk (bounds the per-thread index arrays and the lazy tables)


def step_sizes(schedule: int, eta: float, t0: float, beta: float, ts: np.ndarray) -> np.ndarray:
    """Vectorised ``plugins.kernels.step_size``."""
    if schedule == 0:
        return np.full(ts.shape, eta)
    if schedule == 1:
        return eta / (1.0 + ts / t0)
    return eta / (1.0 + ts / t0) ** beta


def power_tables(a: float) -> np.ndarray:
    """PT[l, i] = a^(i * 1024^l), l = 0, 1, 2 (see ``kernels.apow``)."""
    i = np.arange(1024, dtype=np.float64)
    return np.stack([a ** i, a ** (i * 1024.0), a ** (i * 1024.0 ** 2)])


class ThreadLinear:
    def __init__(self, workload, team: Team):
        if workload.loss not in K0.LOSS_CODES:
            raise UserError(f"the threads backend has kernels for the logistic and squared losses, not {workload.loss!r}")
        self.wl, self.team = workload, team
        self.code = K0.loss_code(workload)
        self.n, self.d = workload.n, workload.dim
        self.lam = float(workload.lam)
        self.sparse = workload.sparse
        X = workload.X
        if self.sparse:
            self.csr = (X.data, X.indices.astype(np.int64), X.indptr.astype(np.int64))
        self.X, self.y = X, workload.y
        self.last = np.zeros(self.d, dtype=np.int64)    # lazy l2: coordinate j is current up to update last[j]
        self._noidx = np.zeros(0, dtype=np.int64)

    def scratch(self, size: int) -> np.ndarray:
        return np.empty(max(size, 1))

    # -- compile / load every kernel before the clock starts ------------------------------------------
    def warmup(self, b: int, svrg: bool) -> None:
        w = np.zeros(self.d)
        slots = np.zeros((1, 8), dtype=np.int64)
        taus = np.empty(0, dtype=np.int64)
        last = np.zeros(self.d, dtype=np.int64)
        one = np.ones(2)
        if self.sparse:
            K.hogwild_csr(w, *self.csr, self.y, self._noidx, b, self.code, self.lam, 0, 0.1, 1.0, 0.0,
                          self.scratch(b), last, one, 0, power_tables(0.5), 1, slots, 0, taus)
        else:
            K.hogwild_dense(w, self.X, self.y, self._noidx, b, self.code, self.lam, 0, 0.1, 1.0, 0.0,
                            self.scratch(self.d), slots, 0, taus)
        if svrg:
            z0 = np.zeros(self.n)
            self.snapshot(w)
            if self.sparse:
                K.asysvrg_csr(w, *self.csr, self.y, z0, w, self._noidx, b, self.code, 0.1, self.scratch(b), last,
                              power_tables(0.5), 2.0, slots, 0, taus)
            else:
                K.asysvrg_dense(w, self.X, self.y, z0, w, self._noidx, b, self.code, self.lam, 0.1,
                                self.scratch(self.d), self.scratch(b), 0, self._noidx, slots, 0, taus)

    # -- Hogwild! SGD ------------------------------------------------------------------------------------
    def sgd_cap(self, eta: float) -> int:
        if not self.sparse:
            return CHUNK_CAP
        if eta * self.lam >= 1.0:
            raise UserError(f"eta * lam = {eta * self.lam:g} >= 1: the l2 shrink factor 1 - eta lam is not positive")
        # keep the lazy table P = prod (1 - eta_s lam) over a chunk away from underflow
        return int(min(CHUNK_CAP, max(1000, 400.0 / max(eta * self.lam, 1e-300))))

    def sgd(self, w, k, b, schedule, eta, t0, beta) -> np.ndarray:
        """k Hogwild! updates shared by the team; returns the measured delays."""
        team = self.team
        T0 = team.count
        eta, t0, beta = float(eta), float(t0), float(beta)
        if self.sparse:
            const = int(schedule == 0)
            PT = power_tables(1.0 - eta * self.lam)     # constant step: a^k from small tables
            if const:
                P = np.ones(2)
            else:
                ts = T0 + np.arange(k, dtype=np.float64)
                P = np.concatenate(([1.0], np.cumprod(1.0 - step_sizes(schedule, eta, t0, beta, ts) * self.lam)))

        def work(r, kr):
            idx = team.rngs[r].integers(0, self.n, size=kr * b)
            taus = np.empty(kr, dtype=np.int64)
            if self.sparse:
                K.hogwild_csr(w, *self.csr, self.y, idx, b, self.code, self.lam, schedule, eta, t0, beta,
                              self.scratch(b), self.last, P, T0, PT, const, team.slots, r, taus)
            else:
                K.hogwild_dense(w, self.X, self.y, idx, b, self.code, self.lam, schedule, eta, t0, beta,
                                self.scratch(self.d), team.slots, r, taus)
            return taus

        taus = np.concatenate(team.map(work, team.split(k)))
        if self.sparse:  # bring every coordinate up to date: w_j *= prod of the shrinks it skipped
            if const:
                w *= (1.0 - eta * self.lam) ** (T0 + k - self.last).astype(np.float64)
            else:
                w *= P[k] / P[self.last - T0]
            self.last[:] = T0 + k
        return taus

    # -- Shared-AsySVRG -----------------------------------------------------------------------------------
    def snapshot(self, u0: np.ndarray):
        """z0 = X w~ and the loss part of grad f(w~), rows split across the team."""
        team, n = self.team, self.n
        z0 = np.empty(n)
        bounds = np.linspace(0, n, team.size + 1).astype(np.int64)

        def work(r, _):
            g = np.zeros(self.d)
            lo, hi = int(bounds[r]), int(bounds[r + 1])
            if self.sparse:
                K.loss_grad_rows_csr(*self.csr, self.y, u0, lo, hi, self.code, z0, g)
            else:
                K.loss_grad_rows_dense(self.X, self.y, u0, lo, hi, self.code, z0, g)
            return g

        parts = team.map(work, [int(bounds[r + 1] - bounds[r]) for r in range(team.size)])
        return z0, np.sum(parts, axis=0) / n

    def svrg(self, w, z0, mu_loss, k, b, eta, coords) -> np.ndarray:
        """k Shared-AsySVRG inner iterations shared by the team; returns the measured delays."""
        team = self.team
        eta = float(eta)
        if self.sparse:
            T0 = team.count
            a = 1.0 - eta * self.lam
            if not 0.0 < a < 1.0:
                raise UserError(f"eta * lam = {eta * self.lam:g}: the lazy sparse update needs 0 < eta lam < 1")
            PT = power_tables(a)
            c_vec = eta * mu_loss

        def work(r, kr):
            rng = team.rngs[r]
            idx = rng.integers(0, self.n, size=kr * b)
            taus = np.empty(kr, dtype=np.int64)
            if self.sparse:
                K.asysvrg_csr(w, *self.csr, self.y, z0, c_vec, idx, b, self.code, eta, self.scratch(b), self.last,
                              PT, 1.0 / (1.0 - a), team.slots, r, taus)
            else:
                kidx = rng.integers(0, self.d, size=kr) if coords else self._noidx
                K.asysvrg_dense(w, self.X, self.y, z0, mu_loss, idx, b, self.code, self.lam, eta,
                                self.scratch(self.d), self.scratch(b), int(coords), kidx, team.slots, r, taus)
            return taus

        taus = np.concatenate(team.map(work, team.split(k)))
        if self.sparse:
            ak = a ** (T0 + k - self.last).astype(np.float64)
            w[:] = ak * w - c_vec * (1.0 - ak) / (1.0 - a)
            self.last[:] = T0 + k
        return taus
