"""Generated design matrices: dense with a chosen condition number, sparse CSR with a chosen density."""

from __future__ import annotations

import numpy as np


# rows rotated per block of this many bytes: one draw's worth of memory, not three (paper scale: 4 GB)
BLOCK_BYTES = 64 << 20


def dense_features(n: int, d: int, cond: float, rng: np.random.Generator) -> np.ndarray:
    """Rows ~ N(0, S) with S = Q diag(s) Q^T, s geometric from 1 down to 1/cond, Q a random rotation:
    the population covariance has condition number ``cond`` (X^T X / n approaches it as n grows).
    Scaled and rotated in place, a block of rows at a time: the peak is the draw itself."""
    Z = rng.standard_normal((n, d))
    s = np.sqrt(np.geomspace(1.0, 1.0 / cond, d)) if d > 1 else np.ones(1)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    Z *= s
    rows = max(1, BLOCK_BYTES // (8 * d))
    for i in range(0, n, rows):
        Z[i:i + rows] = Z[i:i + rows] @ Q.T
    return Z


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


def split(X, y, test_fraction: float, rng: np.random.Generator, *, inplace: bool = False):
    """(X_train, y_train, X_test, y_test): a random ``test_fraction`` of the rows held out.
    ``inplace`` (a dense X the caller owns): X's rows are permuted where they are and both parts
    are views of it (no copy of the data; the same values as the copying split)."""
    n = X.shape[0]
    n_test = int(round(test_fraction * n))
    perm = rng.permutation(n)
    te, tr = perm[:n_test], perm[n_test:]
    if inplace and isinstance(X, np.ndarray) and X.flags.c_contiguous and X.flags.writeable:
        _permute_rows(X, np.concatenate([tr, te]))
        k = n - n_test
        return X[:k], y[tr], X[k:], y[te]
    return X[tr], y[tr], X[te], y[te]


def _permute_rows(X: np.ndarray, p: np.ndarray) -> None:
    """X <- X[p] in place (``p`` a permutation of the rows), one row of scratch, by following p's cycles."""
    done = np.zeros(len(p), dtype=bool)
    for start in range(len(p)):
        if done[start]:
            continue
        done[start] = True
        first, i = X[start].copy(), start
        while p[i] != start:
            j = p[i]
            X[i] = X[j]
            done[j] = True
            i = j
        X[i] = first
