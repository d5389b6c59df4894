"""Trajectories with known steps, batches, staleness and inner loops, built here for the trajectory
audit's tests (harness.run.trajectory): the iterates of each update, as the monitor keeps them."""

from __future__ import annotations

import numpy as np


def sgd(wl, eta=0.05, b=1, stale=lambda t: 0, T=100, seed=0):
    """(updates, iterates) of SGD on ``wl``: w_{t+1} = w_t - eta * mean of b per-sample gradients at the
    iterate ``stale(t)`` updates old."""
    rng = np.random.default_rng(seed)
    W = [np.zeros(wl.dim)]
    for t in range(T):
        read = W[max(t - stale(t), 0)]
        W.append(W[-1] - eta * wl.batch_gradient(read, rng.integers(0, wl.n, size=b)))
    return np.arange(T + 1), np.array(W)


def svrg(wl, eta=0.02, m=10, T=100, b=1, seed=0):
    """(updates, iterates) of SVRG on ``wl``: a snapshot every m updates, b samples per update."""
    rng = np.random.default_rng(seed)
    W, u, mu = [np.zeros(wl.dim)], None, None
    for t in range(T):
        if t % m == 0:
            u, mu = W[-1].copy(), wl.gradient(W[-1])
        B = rng.integers(0, wl.n, size=b)
        W.append(W[-1] - eta * (wl.batch_gradient(W[-1], B) - wl.batch_gradient(u, B) + mu))
    return np.arange(T + 1), np.array(W)
