"""pytest-benchmark: one update of each serial algorithm family's numba kernel (SGD, SVRG inner
step), dense and CSR, logistic loss. Skipped by the default run (``--benchmark-skip``)::

    pytest tests/bench --benchmark-only --benchmark-warmup=on --benchmark-autosave
    pytest tests/bench --benchmark-only --benchmark-warmup=on --benchmark-compare --benchmark-compare-fail=min:50%

(``min:50%``, the fastest round, is the recipe that holds on a busy 2-core machine: docs/workflows.md.)
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from harness.plugins.algorithms import kernels as K

N, D, UPDATES = 2000, 50, 100  # one round = UPDATES updates; the per-update time is round / UPDATES


@pytest.fixture(scope="module")
def dense():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D)) / np.sqrt(D)
    y = np.sign(rng.standard_normal(N))
    return X, y


@pytest.fixture(scope="module")
def csr():
    rng = np.random.default_rng(1)
    X = sp.random(N, 20 * D, density=0.01, format="csr", random_state=1, dtype=np.float64)
    y = np.sign(rng.standard_normal(N))
    return (X.data, X.indices.astype(np.int64), X.indptr.astype(np.int64)), y, X.shape[1]


def _idx(b, seed=2):
    return np.random.default_rng(seed).integers(0, N, size=UPDATES * b)


@pytest.mark.parametrize("b", [1, 16])
def test_sgd_dense_update(benchmark, dense, b):
    X, y = dense
    w, gbuf, idx = np.zeros(D), np.empty(D), _idx(b)
    args = (w, X, y, idx, b, K.LOSS_CODES["logistic"], 1e-3, 0, 0.01, 1.0, 0.5, 0, gbuf)
    K.sgd_dense(*args)  # compile / load from numba's cache before timing
    benchmark.extra_info["updates_per_round"] = UPDATES
    benchmark(K.sgd_dense, *args)
    assert np.all(np.isfinite(w)) and np.any(w != 0)


@pytest.mark.parametrize("b", [1, 16])
def test_svrg_inner_dense_update(benchmark, dense, b):
    X, y = dense
    u, u0 = np.zeros(D), np.full(D, 0.01)
    z0 = X @ u0
    mu = np.zeros(D)
    gbuf, idx = np.empty(D), _idx(b)
    args = (u, X, y, z0, mu, idx, b, K.LOSS_CODES["logistic"], 1e-3, 0.01, gbuf)
    K.svrg_inner_dense(*args)
    benchmark.extra_info["updates_per_round"] = UPDATES
    benchmark(K.svrg_inner_dense, *args)
    assert np.all(np.isfinite(u))


@pytest.mark.parametrize("b", [1, 16])
def test_sgd_csr_update(benchmark, csr, b):
    (data, indices, indptr), y, d = csr
    w, gbuf, idx = np.zeros(d), np.empty(b), _idx(b)
    args = (w, data, indices, indptr, y, idx, b, K.LOSS_CODES["logistic"], 1e-3, 0, 0.01, 1.0, 0.5, 0, gbuf)
    K.sgd_csr(*args)
    benchmark.extra_info["updates_per_round"] = UPDATES
    benchmark(K.sgd_csr, *args)
    assert np.all(np.isfinite(w))


@pytest.mark.parametrize("b", [1, 16])
def test_svrg_inner_csr_update(benchmark, csr, b):
    (data, indices, indptr), y, d = csr
    u = np.zeros(d)
    z0, mu = np.zeros(N), np.zeros(d)
    gbuf, idx = np.empty(b), _idx(b)
    args = (u, data, indices, indptr, y, z0, mu, idx, b, K.LOSS_CODES["logistic"], 1e-3, 0.01, gbuf)
    K.svrg_inner_csr(*args)
    benchmark.extra_info["updates_per_round"] = UPDATES
    benchmark(K.svrg_inner_csr, *args)
    assert np.all(np.isfinite(u))
