"""SVRG, batch 1: one callback per outer iteration (a snapshot, then m inner steps on indices drawn
with numpy's ``default_rng(seed)``, one draw of m per outer iteration, as the harness's svrg-serial)."""

import numpy as np
from benchopt import BaseSolver

from benchmark_utils.loops import snapshot, svrg_inner


class Solver(BaseSolver):
    name = "svrg-numba"
    requirements = ["pip::numba"]
    sampling_strategy = "callback"
    parameters = {"eta": [0.01], "m": [0], "seed": [0]}   # m = 0: n inner steps

    def set_objective(self, X, y, lam):
        self.X, self.y, self.lam = X, y, lam

    def warm_up(self):
        w = np.zeros(self.X.shape[1])
        svrg_inner(w, self.X, self.y, np.zeros(self.X.shape[0]), w, np.zeros(1, dtype=np.int64), 0.0, self.lam)

    def run(self, callback):
        X, y, lam = self.X, self.y, self.lam
        n, d = X.shape
        m = self.m or n
        rng = np.random.default_rng(self.seed)
        self.w = np.zeros(d)
        while callback():
            z0, mu_loss = snapshot(X, y, self.w, lam)
            svrg_inner(self.w, X, y, z0, mu_loss, rng.integers(0, n, size=m), self.eta, lam)

    def get_next(self, stop_val):
        return stop_val + 1   # a point after every outer iteration (benchopt's default spacing is geometric)

    def get_result(self):
        return dict(w=self.w)
