"""Plain numba loops, batch size 1, as a benchopt user writes them: one pass over x_i to read the
margin, one to write the update. The reference that ``benchmarks/benchopt_side_by_side.py`` times
the harness's kernels (``harness.plugins.algorithms.kernels``) against, on the same data and draws.

The logistic loss phi(z, y) = log(1 + exp(-y z)), y in {-1, +1}; its derivative in the stable form
(the branch on the sign of y z) so that the same draws give bit-identical iterates on both sides.
Imports only numpy and numba: the project's venv loads this file too (by path).
"""

import math

import numpy as np
from numba import njit


@njit(cache=True)
def dlogistic(z, y):
    """d/dz log(1 + exp(-y z))."""
    t = y * z
    if t > 0:
        e = math.exp(-t)
        return -y * e / (1.0 + e)
    return -y / (1.0 + math.exp(t))


@njit(cache=True)
def sgd_epoch(w, X, y, idx, eta, lam):
    """len(idx) SGD steps w <- w - eta (dphi(x_i.w, y_i) x_i + lam w), in place. Shapes: w (d,),
    X (n, d) C-ordered float64, y (n,), idx (k,) int64."""
    d = w.shape[0]
    for i in idx:
        z = 0.0
        for j in range(d):
            z += X[i, j] * w[j]
        g = dlogistic(z, y[i])
        for j in range(d):
            w[j] -= eta * (g * X[i, j] + lam * w[j])


@njit(cache=True)
def svrg_inner(u, X, y, z0, mu_loss, idx, eta, lam):
    """len(idx) SVRG inner steps u <- u - eta ((dphi(x_i.u) - dphi(x_i.u0)) x_i + lam u + mu_loss),
    in place; z0 = X u0 (the margins at the snapshot), mu_loss = the loss part of grad f(u0)."""
    d = u.shape[0]
    for i in idx:
        z = 0.0
        for j in range(d):
            z += X[i, j] * u[j]
        g = dlogistic(z, y[i]) - dlogistic(z0[i], y[i])
        for j in range(d):
            u[j] -= eta * (g * X[i, j] + lam * u[j] + mu_loss[j])


def sigmoid(z):
    """1 / (1 + exp(-z)), elementwise, without overflow."""
    out = np.empty_like(z, dtype=np.float64)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def snapshot(X, y, u0, lam):
    """SVRG's snapshot at u0 in numpy: (z0 = X u0, the loss part of grad f(u0)). The full gradient is
    (1/n) X^T dphi(z0) + lam u0, and the loss part is taken back out of it (as the harness does)."""
    z0 = X @ u0
    full = X.T @ (-y * sigmoid(-y * z0)) / X.shape[0] + lam * u0
    return z0, full - lam * u0
