"""The benchopt side of ``benchmarks/benchopt_side_by_side.py``: l2-regularised logistic regression,

    f(w) = (1/n) sum_i log(1 + exp(-y_i x_i.w)) + (lam/2) ||w||^2,

the harness's ``logreg`` workload on its own data (``datasets/harness_logreg.py``). Every solver
runs in benchopt's callback mode to a fixed number of points (``-n``): no early stop.
"""

import numpy as np
from benchopt import BaseObjective
from benchopt.stopping_criterion import NoCriterion


class Objective(BaseObjective):
    name = "logreg-l2"
    min_benchopt_version = "1.5"
    requirements = ["pip::numba"]
    parameters = {"lam": [1e-3]}
    sampling_strategy = "callback"
    stopping_criterion = NoCriterion()

    def set_data(self, X, y):
        self.X, self.y = X, y

    def get_objective(self):
        return dict(X=self.X, y=self.y, lam=self.lam)

    def evaluate_result(self, w):
        z = self.X @ w
        return dict(value=float(np.logaddexp(0.0, -self.y * z).mean() + 0.5 * self.lam * w @ w))

    def get_one_result(self):
        return dict(w=np.zeros(self.X.shape[1]))
