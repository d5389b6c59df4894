"""Generated design matrices: dense with a chosen condition number, sparse CSR with a chosen density."""

from __future__ import annotations

import numpy as np


def dense_features(n: int, d: int, cond: float, rng: np.random.Generator) -> np.ndarray:
    """Rows ~ N(0, S) with S = Q diag(s) Q^T, s geometric from 1 down to 1/cond, Q a random rotation:
    the population covariance has condition number ``cond`` (X^T X / n approaches it as n grows)."""
    Z = rng.standard_normal((n, d))
    s = np.sqrt(np.geomspace(1.0, 1.0 / cond, d)) if d > 1 else np.ones(1)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return (Z * s) @ Q.T


def sparse_features(n: int, d: int, density: float, rng: np.random.Generator, normalize: bool = True):
    """CSR with about ``density * d`` nonzeros per row (at least one), N(0, 1) values, rows scaled to
    unit norm when ``normalize`` (as LIBSVM's rcv1 / news20 are)."""
    import scipy.sparse as sp

    nnz_row = max(1, int(round(density * d)))
    cols = np.empty((n, nnz_row), dtype=np.int64)
    for i in range(n):  # without replacement per row; n is modest for generated data
        cols[i] = rng.choice(d, size=nnz_row, replace=False)
    cols.sort(axis=1)
    vals = rng.standard_normal((n, nnz_row))
    if normalize:
        vals /= np.linalg.norm(vals, axis=1, keepdims=True)
    indptr = np.arange(0, n * nnz_row + 1, nnz_row)
    return sp.csr_matrix((vals.ravel(), cols.ravel(), indptr), shape=(n, d))


def split(X, y, test_fraction: float, rng: np.random.Generator):
    n = X.shape[0]
    n_test = int(round(test_fraction * n))
    perm = rng.permutation(n)
    te, tr = perm[:n_test], perm[n_test:]
    return X[tr], y[tr], X[te], y[te]
