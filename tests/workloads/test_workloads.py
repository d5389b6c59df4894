import json

import numpy as np
import pytest
import scipy.sparse as sp

from harness._core.registry import build_workload
from harness._core.cache import cache_dir

SMALL = dict(n=300, d=12, cond=20.0, lam=1e-2)


def _hessian(w, x):
    d = w.dim
    return np.column_stack([w.hessian_vector(x, e) for e in np.eye(d)])


@pytest.mark.parametrize("name", ["logreg", "ridge"])
def test_constants_are_exact(name):
    w = build_workload(name, SMALL)
    X = w.X
    # L: largest eigenvalue of the worst-case Hessian phi_curv X^T X / n + lam I
    G = w.phi_curv * X.T @ X / w.n + w.lam * np.eye(w.d)
    assert w.L == pytest.approx(np.linalg.eigvalsh(G)[-1], rel=1e-10)
    # per-sample L_i
    assert np.allclose(w.L_i, w.phi_curv * np.sum(X * X, axis=1) + w.lam)
    # the true Hessian anywhere is below L and above mu
    for x in (np.zeros(w.d), w.w_star, np.random.default_rng(0).standard_normal(w.d)):
        ev = np.linalg.eigvalsh(_hessian(w, x))
        assert ev[-1] <= w.L * (1 + 1e-9)
        assert ev[0] >= w.mu * (1 - 1e-9)


def test_ridge_closed_form_optimum():
    w = build_workload("ridge", SMALL)
    A = w.X.T @ w.X / w.n + w.lam * np.eye(w.d)
    assert np.allclose(w.w_star, np.linalg.solve(A, w.X.T @ w.y / w.n), atol=1e-12)
    assert w.mu == pytest.approx(np.linalg.eigvalsh(A)[0], rel=1e-9)


@pytest.mark.parametrize("params", [SMALL, dict(SMALL, sparse=True, d=200, density=0.05)])
def test_logreg_high_precision_optimum(params):
    w = build_workload("logreg", params)
    g = w.gradient(w.w_star)
    assert np.sqrt(g @ g) < 1e-11
    # f* is below the objective anywhere near w*
    rng = np.random.default_rng(1)
    assert all(w.objective(w.w_star + 1e-3 * rng.standard_normal(w.dim)) >= w.f_star for _ in range(5))


def test_gradients_match_finite_differences():
    for name, params in (("logreg", SMALL), ("digits", {})):
        w = build_workload(name, params)
        rng = np.random.default_rng(0)
        x = 0.1 * rng.standard_normal(w.dim)
        v = rng.standard_normal(w.dim)
        h = 1e-6
        fd = (w.objective(x + h * v) - w.objective(x - h * v)) / (2 * h)
        assert w.gradient(x) @ v == pytest.approx(fd, rel=1e-5)
        idx = np.arange(0, w.n, 3)
        bg = w.batch_gradient(x, idx)
        sub = (w._phi(w._margins(w.X[idx], x + h * v), w.y[idx]).mean() - w._phi(w._margins(w.X[idx], x - h * v), w.y[idx]).mean()) / (2 * h)
        assert bg @ v == pytest.approx(sub + w.lam * x @ v, rel=1e-5)


def test_sparse_variant_has_chosen_density_and_unit_rows():
    w = build_workload("logreg", dict(n=400, d=1000, sparse=True, density=0.02))
    assert sp.isspmatrix_csr(w.X)
    assert w.X.nnz == 400 * 20
    assert np.allclose(w.row_norms_sq, 1.0)
    assert w.constants()["density"] == pytest.approx(0.02)


def test_condition_number_is_chosen():
    w = build_workload("ridge", dict(n=20000, d=10, cond=50.0, lam=1e-12, test_fraction=0.0))
    ev = np.linalg.eigvalsh(w.X.T @ w.X / w.n)
    assert ev[-1] / ev[0] == pytest.approx(50.0, rel=0.15)


def test_constants_cached_on_disk():
    params = dict(SMALL, seed=7)
    w = build_workload("logreg", params)
    f = w.f_star
    files = [p for p in cache_dir().glob("logreg-optimum-*.json")]
    assert any(json.loads(p.read_text()) == f and np.array_equal(np.load(p.with_suffix(".npy")), w.w_star)
               for p in files)
    from harness._core.shared_data import POOL

    POOL.clear()  # not from this process's memory: from the disk
    w2 = build_workload("logreg", params)
    w2._solve_optimum = lambda: (_ for _ in ()).throw(AssertionError("recomputed"))
    assert w2.f_star == f


def test_digits_real_data():
    w = build_workload("digits", {})
    assert w.n + len(w.y_test) == 1797 and w.d == 64 and w.dim == 640
    assert w.loss == "multinomial"
    m = w.metrics(w.w_star)
    assert m["subopt"] == pytest.approx(0.0, abs=1e-10)
    assert m["test_acc"] > 0.9
    wb = build_workload("digits", {"binary": True})
    assert set(np.unique(wb.y)) == {-1.0, 1.0}


def test_workload_params_are_checked():
    from harness._core.errors import UserError

    with pytest.raises(UserError, match="density"):
        build_workload("logreg", {"density": 2})
    with pytest.raises(UserError, match="did you mean: cond"):
        build_workload("logreg", {"condd": 3})


def test_network_digits_read_without_importing_scikit_learn():
    """The digits workloads' data (linear and network) is scikit-learn's, read from the file it ships (each rank
    would otherwise pay scikit-learn's import at start-up): the same arrays, sklearn not imported."""
    import subprocess
    import sys

    from sklearn.datasets import load_digits

    from harness.suites.datasets import digits

    images, target = digits()
    d = load_digits()
    assert np.array_equal(images, d.images) and np.array_equal(target, d.target)
    code = ("import sys; from harness.suites.datasets import digits; im, y = digits(); "
            "print(im.shape, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["(1797,", "8,", "8)", "False"], out.stdout + out.stderr


@pytest.mark.parametrize("name, params", [("logreg", SMALL), ("logreg", dict(SMALL, sparse=True, d=200, density=0.05)),
                                          ("ridge", SMALL)])
def test_margins_and_gradient_are_the_margins_and_the_gradient_bit_for_bit(name, params):
    """SVRG's snapshot takes X w once for both (two passes over the data instead of three)."""
    from harness.plugins.algorithms.steps import Steps

    w = build_workload(name, params)
    x = 0.1 * np.random.default_rng(0).standard_normal(w.dim)
    z, g = w.margins_and_gradient(x)
    assert np.array_equal(z, np.asarray(w.X @ x).ravel()) and np.array_equal(g, w.gradient(x))
    z0, mu_loss, full = Steps(w).snapshot(x)
    assert np.array_equal(z0, z) and np.array_equal(full, g) and np.array_equal(mu_loss, g - w.lam * x)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_value_and_gradient_is_objective_and_gradient_at_any_margin(sparse):
    """One pass for both (the monitor's metrics): the same numbers as objective() and gradient(), also where
    the margins are huge or infinite (an iterate with an infinite coordinate: the logistic phi' = -y sigma(-y z)
    is finite there, it was NaN from exp(inf - inf); found by the adversarial tester breaker30)."""
    params = dict(SMALL, sparse=True, d=200, density=0.05) if sparse else SMALL
    w = build_workload("logreg", params)
    rng = np.random.default_rng(3)
    first = np.zeros(w.dim)
    first[np.flatnonzero(np.asarray(abs(w.X).sum(axis=0)).ravel())[0]] = np.inf
    for x in [rng.standard_normal(w.dim) * s for s in (0.0, 0.1, 10.0, 1e3, 1e100)] + [first, -first]:
        with np.errstate(all="ignore"):
            f, g = w.value_and_gradient(x)
            ref = w.gradient(x)
            assert f == pytest.approx(w.objective(x), rel=1e-12)
        assert np.array_equal(np.isnan(g), np.isnan(ref)) and not np.isnan(ref).any()
        fin = np.isfinite(ref)
        np.testing.assert_allclose(g[fin], ref[fin], rtol=1e-12, atol=1e-15 * max(1.0, np.abs(ref[fin]).max()))
        assert np.array_equal(np.isinf(g), np.isinf(ref))


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_the_serial_rewarm_holds_scratch_of_one_sample_not_n(sparse):
    """Steps.rewarm (after each point, off the clock) updates a scratch iterate on sample 0: its
    scratch is d floats and one snapshot margin, held for the whole run; sized by n (20000 here)
    it held 8n bytes the kernel never reads."""
    import tracemalloc

    from harness.plugins.algorithms.steps import Steps

    wl = build_workload("logreg", dict(SMALL, n=20000, d=5, sparse=sparse, density=0.5))
    steps = Steps(wl)
    tracemalloc.start()
    try:
        steps.rewarm("svrg")
        steps.rewarm()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held < 8 * wl.n / 4, held


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_the_serial_rewarm_reads_again_the_last_rows_read_and_no_other(sparse, monkeypatch):
    """After the kernel's code path, Steps.rewarm reads again the rows the last chunk read last (as many
    as one core's L2 holds, ``_recent_rows``), oldest first, with their labels and SVRG's snapshot
    margins: the same elements the numpy sums read, never a row of a chunk not yet run, no write."""
    from harness.plugins.algorithms import kernels as K
    from harness.plugins.algorithms.steps import Steps, l2_bytes

    wl = build_workload("logreg", dict(SMALL, n=500, d=12, sparse=sparse, density=0.5))
    steps = Steps(wl)
    assert 256 * 1024 <= l2_bytes() <= 1 << 30 and steps._recent_rows >= 1
    steps._recent_rows = 7
    rng = np.random.default_rng(3)
    idx, ahead = rng.integers(0, wl.n, 40), rng.integers(0, wl.n, 40)
    w = 0.1 * rng.standard_normal(wl.dim)
    steps.sgd(w, idx, b=1, eta=0.01)
    before = w.copy()
    seen = []
    name = "retouch_csr" if sparse else "retouch_dense"
    real = getattr(K, name)
    monkeypatch.setattr(K, name, lambda *a: seen.append(a) or real(*a))
    steps.rewarm()
    (args,) = seen
    got_idx, lo, hi = args[-3:]
    assert got_idx is idx and (lo, hi) == (33, 40)
    rows = idx[33:40]
    X = wl.X.toarray() if sparse else wl.X
    if sparse:   # values, the coordinates of w each row reads, labels
        M = wl.X[rows]
        want = M.data.sum() + w[M.indices].sum() + wl.y[rows].sum()
    else:        # one element per cache line of each row, its last, the labels
        want = X[rows][:, ::64 // X.itemsize].sum() + X[rows, -1].sum() + wl.y[rows].sum()
    assert steps._sink == pytest.approx(want, rel=1e-12)
    assert np.array_equal(w, before) and steps._last[0] is idx      # no write; the run's last chunk kept
    # SVRG's inner loop: the snapshot margins at those rows are read too
    u0 = np.zeros(wl.dim)
    snap = steps.snapshot(u0)
    steps.svrg_inner(w, u0, snap, ahead, b=1, eta=0.01)
    seen.clear()
    steps.rewarm("svrg")
    assert seen[0][-3] is ahead and steps._sink == pytest.approx(
        (wl.X[ahead[33:]].data.sum() + w[wl.X[ahead[33:]].indices].sum() if sparse
         else X[ahead[33:]][:, ::64 // X.itemsize].sum() + X[ahead[33:], -1].sum())
        + wl.y[ahead[33:]].sum() + snap[0][ahead[33:]].sum(), rel=1e-12)


@pytest.mark.parametrize("name", ["logreg", "ridge"])
def test_per_sample_gradients_of_csr_data_are_the_dense_rows(name):
    """The trajectory audit's per-sample gradients on CSR data (scaled row by row, made dense once) are
    those of the same data dense, grad f_i(w) = phi'(x_i . w, y_i) x_i + lam w, and their mean is the
    gradient; a CSR matrix with a repeated entry is summed as scipy reads it."""
    sparse = build_workload(name, dict(SMALL, sparse=True, d=60, density=0.05))
    w = 0.1 * np.random.default_rng(1).standard_normal(sparse.dim)
    G = sparse.per_sample_gradients(w)
    X = sparse.X.toarray()
    g = sparse._dphi(np.asarray(sparse.X @ w).ravel(), sparse.y)
    assert G.shape == (sparse.n, sparse.dim) and np.array_equal(G, g[:, None] * X + sparse.lam * w)
    assert np.allclose(G.mean(axis=0), sparse.gradient(w), rtol=1e-12, atol=1e-15)
    X2 = sp.csr_matrix((np.array([1.0, 2.0, 3.0]), np.array([0, 0, 1]), np.array([0, 2, 3])), shape=(2, 2))
    assert np.array_equal(X2.multiply(np.array([[2.0], [1.0]])).toarray(), [[6.0, 0.0], [0.0, 3.0]])
