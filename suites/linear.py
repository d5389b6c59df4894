"""The linear-model workloads: l2-regularised logistic regression and ridge regression on generated
data, multinomial / binary logistic regression on scikit-learn's digits, and LIBSVM-format files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .finite_sum import FiniteSumWorkload
from .synthetic import dense_features, sparse_features, split


class _Generated(FiniteSumWorkload):
    def __init__(self, name, n=2000, d=50, cond=100.0, sparse=False, density=0.01, lam=1e-3, noise=0.1,
                 test_fraction=0.2, seed=0):
        super().__init__(name, lam=lam, n=n, d=d, cond=cond, sparse=sparse, density=density, noise=noise,
                         test_fraction=test_fraction, seed=seed)

    def _total(self) -> int:
        return int(round(self.params["n"] / (1.0 - self.params["test_fraction"])))

    def sizes(self) -> dict[str, int]:
        return {"n": self.params["n"], "d": self.params["d"]}

    def estimate_bytes(self) -> int:
        """Dense: the draw, scaled, rotated and split where it is (``synthetic.dense_features``, ``split``:
        total x d float64, and a block of rows being rotated) plus two d x d matrices (the rotation, and the Gram for d <= 3000). Sparse:
        values, column indices and the CSR copies, about 4 x 8 bytes per nonzero. Plus 25%
        (tests/core/test_inputs.py measures the peak of building a dense ridge workload against it)."""
        p, total = self.params, self._total()
        if p["sparse"]:
            nnz = total * max(1, int(round(p["density"] * p["d"])))
            return 10 * (4 * nnz + 8 * p["d"])
        from .synthetic import BLOCK_BYTES

        cells = total * p["d"]  # the draw, and one block of it rotated at a time
        return 10 * (cells + min(cells, BLOCK_BYTES // 8) + 2 * p["d"] * p["d"])  # 8 bytes each, and a 25% margin

    def memory_note(self) -> str:
        p = self.params
        return (f"n={p['n']:,} training + test rows, d={p['d']:,}"
                + (f", density={p['density']}" if p["sparse"] else ", dense float64"))

    def _features(self, rng, total):
        p = self.params
        if p["sparse"]:
            return sparse_features(total, p["d"], p["density"], rng)
        return dense_features(total, p["d"], p["cond"], rng)

    def _make_data(self):
        p = self.params
        rng = np.random.default_rng(p["seed"])
        total = self._total()
        X = self._features(rng, total)
        w_true = rng.standard_normal(p["d"]) / np.sqrt(max(1.0, p["d"] * (p["density"] if p["sparse"] else 1.0)))
        if p["sparse"]:
            w_true *= np.sqrt(p["d"] * p["density"])  # unit-norm rows: keep margins O(1)
        y = self._labels(np.asarray(X @ w_true).ravel(), rng)
        Xtr, ytr, Xte, yte = split(X, y, 1.0 - p["n"] / total, rng, inplace=True)
        return Xtr, ytr, Xte, yte


class LogReg(_Generated):
    """phi_i(w) = log(1 + exp(-y_i x_i.w)), y in {-1, +1}; labels = sign(margin + noise)."""

    loss, phi_curv = "logistic", 0.25

    def _labels(self, margin, rng):
        y = np.sign(margin + self.params["noise"] * rng.standard_normal(margin.shape) * margin.std())
        y[y == 0] = 1.0
        return y


class Ridge(_Generated):
    """phi_i(w) = (x_i.w - y_i)^2 / 2; y = margin + noise. w* in closed form."""

    loss, phi_curv = "squared", 1.0

    def _labels(self, margin, rng):
        return margin + self.params["noise"] * rng.standard_normal(margin.shape)

    def _solve_optimum(self, tight: bool = False, w0: np.ndarray | None = None) -> np.ndarray:
        # (X^T X / n + lam I) w = X^T y / n, solved directly (dense) or by tight CG (sparse, wide)
        X, y, n = self.X, self.y, self.n
        if self.d <= 3000:
            G = X.T @ X
            G = G.toarray() if hasattr(G, "toarray") else G
            A = G / n + self.lam * np.eye(self.d)
            return np.linalg.solve(A, np.asarray(X.T @ y).ravel() / n)
        return super()._solve_optimum(tight, w0)


class Probe(FiniteSumWorkload):
    """n identical points x_i = 1, y_i = 1 in one dimension, squared loss: f(w) = (w - 1)^2/2 (+ the l2
    term, 0 by default). Every sample's gradient is the full gradient, so an update applied to a read
    of the iterate u_read = 1 - w_read gives u_{t+1} = u_t - eta u_read: the staleness of each read is
    observable from two consecutive objectives. ``harness check-plugin`` no longer audits on it: a
    workload this recognisable lets a plugin behave only there (the trajectory audit, on the
    ordinary workloads, replaced it)."""

    loss, phi_curv = "squared", 1.0

    def __init__(self, name, n=64, lam=0.0):
        super().__init__(name, lam=lam, n=n)

    def _make_data(self):
        n = int(self.params["n"])
        X, y = np.ones((n, 1)), np.ones(n)
        return X, y, X.copy(), y.copy()


class Digits(FiniteSumWorkload):
    """scikit-learn's handwritten digits (1797 images 8x8, shipped with the package), pixels / 16.
    ``binary``: even vs odd digit with the logistic loss; otherwise 10-class multinomial."""

    def __init__(self, name, binary=False, lam=1e-3, test_fraction=0.25, seed=0):
        super().__init__(name, lam=lam, binary=binary, test_fraction=test_fraction, seed=seed)
        self.loss = "logistic" if binary else "multinomial"
        self.phi_curv = 0.25 if binary else 0.5

    @property
    def n_classes(self) -> int:
        """Derived from ``binary`` (not a parameter: a child process rebuilds the workload from its
        parameters, and an unknown parameter is refused there)."""
        return 1 if self.params["binary"] else 10

    def _make_data(self):
        from .datasets import digits

        images, target = digits()
        X = images.reshape(len(images), -1) / 16.0
        y = target.astype(np.float64)
        if self.params["binary"]:
            y = np.where(target % 2 == 0, 1.0, -1.0)
        rng = np.random.default_rng(self.params["seed"])
        return split(X, y, self.params["test_fraction"], rng)


class LibSVM(FiniteSumWorkload):
    """A LIBSVM-format file a user brings (ijcnn1, covtype, rcv1, ...). Binary labels are mapped to
    {-1, +1}; rows are kept as read (``normalize`` scales them to unit norm)."""

    def __init__(self, name, path="", loss="logistic", lam=1e-4, test_fraction=0.0, normalize=False,
                 max_rows=0, zero_based="auto", seed=0, dataset="none"):
        if path:  # a missing, binary or folder path is refused before any run starts
            from .libsvm import check_file

            check_file(path)
        # a relative path is read from the current directory once, here: every later reader (an MPI
        # rank, a cache key) sees the same file whatever its own working directory
        path = str(Path(path).resolve()) if path else path
        params = dict(path=path, loss=loss, test_fraction=test_fraction, normalize=normalize, max_rows=max_rows,
                      seed=seed)
        if zero_based != "auto":  # only when set: runs stored before the parameter keep their content hash
            params["zero_based"] = zero_based
        if dataset not in ("", "none"):  # not named: not in the content hash (runs on a path keep their keys)
            params["dataset"] = dataset
        super().__init__(name, lam=lam, **params)
        self.loss = loss
        self.phi_curv = 0.25 if loss == "logistic" else 1.0

    # float64 vectors of the model's dimension alive at once while f* is solved: L-BFGS-B's history
    # (maxcor = 50 pairs when refined, FiniteSumWorkload._solve_optimum) and its own work arrays,
    # the iterate, gradients and conjugate-gradient vectors of the Newton polish
    SOLVER_VECTORS = 2 * 50 + 20

    def estimate_bytes(self) -> int | None:
        """The data, about 4 bytes of CSR (values, indices, the parser's buffers) per byte of an
        uncompressed file (tokens ``idx:val`` take 8-20 characters and 12 bytes once read, copied
        about 3 times), plus the solvers' workspace: :data:`SOLVER_VECTORS` float64 vectors of the
        dimension, the file's largest feature index (a 15 KB file can name index 10^8: 96 GB)."""
        p = Path(self.params["path"])
        if not self.params["path"] or p.suffix in (".gz", ".bz2", ".xz") or not p.is_file() or self.params["max_rows"]:
            return None
        return 4 * p.stat().st_size + 8 * self.SOLVER_VECTORS * self._largest_index()

    def _largest_index(self) -> int:
        from .libsvm import largest_index

        if "_dim_seen" not in self.__dict__:
            self.__dict__["_dim_seen"] = largest_index(self.params["path"]) + 1
        return self.__dict__["_dim_seen"]

    def memory_note(self) -> str:
        return (f"a {self.params['path']} of {Path(self.params['path']).stat().st_size:,} bytes, largest feature "
                f"index {self._largest_index() - 1:,}: {self.SOLVER_VECTORS} solver vectors of that length")

    def data_identity(self) -> dict:
        """The file's content (SHA-256 of its bytes, size and mtime only as a fast path), not its
        path: the same bytes anywhere are the same data, an edit in place is new data."""
        from harness.api import file_sha256

        ident = super().data_identity()
        params = dict(ident["params"])
        path = params.pop("path", "")
        if path and Path(path).is_file():
            params["file_sha256"] = file_sha256(path)
        elif path:
            params["file_missing"] = path  # the run fails reading it; nothing to hash
        # a named dataset (no path) is identified by its name: the fetcher checks what it downloads
        return {**ident, "params": params}

    def _make_data(self):
        from harness.api import UserError

        from .libsvm import load_libsvm

        path = self.params["path"]
        if self.params.get("dataset"):
            if path:
                raise UserError("workload libsvm: give path=FILE or dataset=NAME, not both")
            from .datasets import fetch

            path = str(fetch(self.params["dataset"]))
        if not path:
            raise UserError("workload libsvm needs --workload-param path=FILE (a LIBSVM-format file) "
                            "or dataset=NAME (ijcnn1, covtype, rcv1, real-sim, news20, url)")
        zero_based = {"auto": "auto", "true": True, "false": False}[self.params.get("zero_based", "auto")]
        X, y = load_libsvm(path, max_rows=self.params["max_rows"] or None, zero_based=zero_based)
        if self.loss == "logistic":
            labels = np.unique(y)
            if len(labels) != 2:
                raise UserError(f"{path}: the logistic loss needs 2 classes, found {len(labels)}")
            y = np.where(y == labels.max(), 1.0, -1.0)
        if self.params["normalize"]:
            import scipy.sparse as sp

            norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
            X = sp.diags(1.0 / np.maximum(norms, 1e-300)) @ X
        rng = np.random.default_rng(self.params["seed"])
        return split(X.tocsr(), y, self.params["test_fraction"], rng)
