"""SGD, batch 1, constant step: one callback per epoch (n steps on indices drawn with numpy's
``default_rng(seed)``, one draw of n per epoch, as the harness's sgd-serial draws them)."""

import numpy as np
from benchopt import BaseSolver

from benchmark_utils.loops import sgd_epoch


class Solver(BaseSolver):
    name = "sgd-numba"
    requirements = ["pip::numba"]
    sampling_strategy = "callback"
    parameters = {"eta": [0.1], "seed": [0]}

    def set_objective(self, X, y, lam):
        self.X, self.y, self.lam = X, y, lam

    def warm_up(self):
        sgd_epoch(np.zeros(self.X.shape[1]), self.X, self.y, np.zeros(1, dtype=np.int64), 0.0, self.lam)

    def run(self, callback):
        n, d = self.X.shape
        rng = np.random.default_rng(self.seed)
        self.w = np.zeros(d)
        while callback():
            sgd_epoch(self.w, self.X, self.y, rng.integers(0, n, size=n), self.eta, self.lam)

    def get_next(self, stop_val):
        return stop_val + 1   # a point after every epoch (benchopt's default spacing is geometric)

    def get_result(self):
        return dict(w=self.w)
