"""The linear models' loss pieces the distributed algorithms use (pure numpy).

A linear finite-sum workload has f(w) = (1/n) sum_i phi(x_i . w, y_i) + (lam/2)|w|^2 with a
logistic or squared loss phi; X has shape (n, d), w shape (d,)."""

from __future__ import annotations

import numpy as np


def dphi(workload, X, y, w) -> np.ndarray:
    """phi'(x_i . w) per row of ``X`` (shape (rows,)), logistic or squared loss."""
    return workload._dphi(np.asarray(X @ w).ravel(), y)


def loss_grad_sum(workload, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
    """sum_{i in idx} grad phi_i(w), shape (d,): the loss part only, no l2 term (any finite-sum loss)."""
    if len(idx) == 0:
        return np.zeros_like(w)
    return (workload.batch_gradient(w, idx) - workload.lam * w) * len(idx)


def invariant_error(wl, w: np.ndarray, ahat: np.ndarray) -> float:
    """max_j |w - (1/(lambda n)) sum_i ahat_i x_i|_j: how far the primal iterate is from the dual
    variables' image (Dis-dfSDCA's invariant, thesis (3.3)); ``ahat`` has shape (n,)."""
    w_dual = np.asarray(wl.X.T @ ahat).ravel() / (wl.lam * wl.n)
    return float(np.max(np.abs(w - w_dual))) if w.size else 0.0
