"""The linear-model finite-sum problem, the base of the suites' linear workloads
(``harness.suites.linear``): f(w) = (1/n) sum_i phi(x_i . w, y_i) + (lam/2)|w|^2 over numpy data
(dense or scipy CSR), with exact constants and a high-precision optimum cached on disk.
The harness core knows only the :class:`harness.api.Workload` contract."""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from harness.api import Workload, cache_dir, cached_value, params_key

# dense rows per evaluation block: a block's margins and its gradient share are taken while it is in
# cache (L2 here is 512 KiB), so a point reads the data from memory once
EVAL_BLOCK_BYTES = 1 << 18


class FiniteSumWorkload(Workload):
    """``f(w) = (1/n) sum_i phi_i(x_i . w, y_i) + (lam/2)||w||^2`` for linear models.

    Subclasses implement ``_make_data() -> (X, y, X_test, y_test)`` and the loss via
    ``loss`` ('logistic', 'squared' or 'multinomial') and the curvature bound ``phi_curv``
    (sup of phi'' : 1/4 logistic, 1 squared, 1/2 multinomial). Everything else is generic:
    objective, gradients, the constants, the high-precision optimum (cached on disk).

    Iterates are 1-D float64 arrays of length ``dim`` (for multinomial: ``d * n_classes``,
    row-major ``W[d, C]``).
    """

    kind = "finite-sum"
    loss: str = "logistic"
    phi_curv: float = 0.25

    def __init__(self, name: str, lam: float = 1e-3, **params: Any):
        super().__init__(name, lam=lam, **params)
        self.lam = float(lam)

    # -- data -----------------------------------------------------------------------------------
    def _make_data(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _recipe(self) -> dict[str, Any]:
        """What builds this workload's data: its identity (generator class, version, parameters, or a
        file's hash) and the generator's code (an edited generator is new data)."""
        from harness.api import module_fingerprint

        return {"data": self.data_identity(), "code": module_fingerprint(type(self).__module__)}

    @cached_property
    def _recipe_key(self) -> str:
        from harness.api import recipe_key

        return recipe_key(self._recipe())

    @property
    def _held(self):
        """(X, y, X_test, y_test, Dataset): the data as shared read-only arrays (``harness.api.dataset``),
        built once per machine for a large dataset (mapped from the on-disk data cache by every later
        run, rank and session), once per process for a small one. The workload object keeps no
        reference: the process's bounded pool decides what stays in memory between runs."""
        from harness.api import dataset, memo

        def load():
            ds = dataset(self._recipe_key, self._arrays, disk=self.shares_data())
            self._first_source = ds.source
            a = ds.arrays
            return _matrix(a, "X"), a["y"], _matrix(a, "Xt"), a.get("yt"), ds

        return memo(self._recipe_key, load, nbytes=lambda held: held[4].nbytes)

    def shares_data(self) -> bool:
        from harness.api import DISK_MIN_BYTES

        est = self.estimate_bytes()
        return bool(est and est >= DISK_MIN_BYTES)

    def holds_data(self) -> bool:
        from harness.api import in_pool

        return in_pool(self._recipe_key)

    def prepared_bytes(self) -> int | None:
        from harness.api import on_disk

        return on_disk(self._recipe_key) if self.shares_data() else None

    def _arrays(self) -> dict[str, np.ndarray]:
        """``_make_data()`` in canonical form: float64, C order; CSR with sorted indices as its three arrays."""
        X, y, Xt, yt = self._make_data()
        if not (isinstance(X, np.ndarray) or _is_sparse(X)):
            raise TypeError("X must be a numpy array or scipy sparse matrix")
        out: dict[str, np.ndarray] = {"y": np.ascontiguousarray(y, dtype=np.float64)}
        for tag, M in (("X", X), ("Xt", Xt)):
            if M is None:
                continue
            if _is_sparse(M):
                M = M.tocsr().astype(np.float64)
                M.sort_indices()
                out.update({f"{tag}.data": M.data, f"{tag}.indices": M.indices, f"{tag}.indptr": M.indptr,
                            f"{tag}.shape": np.asarray(M.shape, dtype=np.int64)})
            else:
                out[tag] = np.ascontiguousarray(M, dtype=np.float64)
        if yt is not None:
            out["yt"] = np.ascontiguousarray(yt, dtype=np.float64)
        return out

    @property
    def _data(self):
        return self._held[:4]

    @property
    def content(self) -> str:
        """SHA-256 of the data's arrays: what the constants computed from them are keyed by."""
        return self._held[4].content

    def data_source(self) -> dict[str, Any]:
        """Where this workload's data came from when it first used it (stored with the run): ``built``,
        ``disk`` (mapped from the data cache) or ``memory`` (the process's pool), its content hash,
        bytes and the seconds building it took."""
        ds = self._held[4]
        return {"source": getattr(self, "_first_source", "memory"), "content": ds.content[:16], "bytes": ds.nbytes,
                "build_s": round(ds.build_s, 3)}

    @property
    def X(self):
        return self._data[0]

    @property
    def y(self) -> np.ndarray:
        return self._data[1]

    @property
    def X_test(self):
        return self._data[2]

    @property
    def y_test(self):
        return self._data[3]

    @property
    def sparse(self) -> bool:
        return _is_sparse(self.X)

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def d(self) -> int:
        return self.X.shape[1]

    @property
    def n_classes(self) -> int:
        return int(self.params.get("n_classes", 1)) if self.loss == "multinomial" else 1

    @property
    def dim(self) -> int:
        return self.d * self.n_classes

    # -- loss pieces ----------------------------------------------------------------------------
    def _margins(self, X, w: np.ndarray) -> np.ndarray:
        if self.loss == "multinomial":
            return np.asarray(X @ w.reshape(self.d, self.n_classes))
        return np.asarray(X @ w).ravel()

    def _phi(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        if self.loss == "logistic":
            return np.logaddexp(0.0, -y * z)
        if self.loss == "squared":
            return 0.5 * (z - y) ** 2
        # multinomial: z is (m, C), y holds class indices
        zmax = z.max(axis=1, keepdims=True)
        lse = zmax[:, 0] + np.log(np.exp(z - zmax).sum(axis=1))
        return lse - z[np.arange(len(y)), y.astype(np.int64)]

    def _dphi(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """d phi / d z, per sample (for multinomial: softmax - onehot, shape (m, C))."""
        if self.loss == "logistic":
            return -y * _sigmoid(-y * z)
        if self.loss == "squared":
            return z - y
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(y)), y.astype(np.int64)] -= 1.0
        return p

    def _loss_grad(self, X, y, w: np.ndarray) -> np.ndarray:
        return self._loss_grad_at(X, y, self._margins(X, w))

    def _loss_grad_at(self, X, y, z: np.ndarray) -> np.ndarray:
        """The loss part of the gradient, (1/m) X^T phi'(z), from the margins z = X w."""
        return np.asarray(X.T @ self._dphi(z, y)).ravel() / X.shape[0]

    # -- the objective ----------------------------------------------------------------------------
    def objective(self, w: np.ndarray) -> float:
        return float(self._phi(self._margins(self.X, w), self.y).mean() + 0.5 * self.lam * w @ w)

    def gradient(self, w: np.ndarray) -> np.ndarray:
        """Full gradient of f at w."""
        return self._loss_grad(self.X, self.y, w) + self.lam * w

    def margins_and_gradient(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(X w, grad f(w)) from one product X w (two passes over the data, not three): what SVRG's
        snapshot needs. Shapes (n,) and (d,) (multinomial: (n, C) and (d C,)); the gradient is
        :meth:`gradient`'s, bit for bit."""
        z = self._margins(self.X, w)
        return z, self._loss_grad_at(self.X, self.y, z) + self.lam * w

    def batch_gradient(self, w: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """(1/|B|) sum_{i in B} grad f_i(w), with f_i = phi_i + (lam/2)||w||^2."""
        return self._loss_grad(self.X[idx], self.y[idx], w) + self.lam * w

    def per_sample_gradients(self, w: np.ndarray) -> np.ndarray:
        """grad f_i(w) for every sample i, shape (n, dim) (mean: :meth:`gradient`); dense, so the
        trajectory audit asks for it only where n * dim is small. CSR data is scaled row by row and
        made dense once (the same products as the dense form: densified first, four passes over a
        fresh (n, dim) array took 28 ms at n = 20000, dim = 100, density 0.01, against 3 ms, and the
        audit's work count, which weighs a dense one, ran ~6x slow on sparse runs)."""
        if self.sparse and self.loss != "multinomial":
            G = self.X.multiply(self._dphi(self._margins(self.X, w), self.y)[:, None]).toarray()
            G += self.lam * w
            return G
        X = self.X.toarray() if self.sparse else np.asarray(self.X)
        g = self._dphi(self._margins(X, w), self.y)
        if self.loss == "multinomial":   # x_i outer (softmax - onehot), row-major W[d, C]
            G = (X[:, :, None] * g[:, None, :]).reshape(X.shape[0], -1)
        else:
            G = g[:, None] * X
        G += self.lam * w           # in place: the same sums, one fresh (n, dim) array fewer
        return G

    def test_metrics(self, w: np.ndarray) -> dict[str, float]:
        if self.X_test is None or self.X_test.shape[0] == 0:
            return {}
        z = self._margins(self.X_test, w)
        loss = float(self._phi(z, self.y_test).mean())
        if self.loss == "logistic":
            acc = float(np.mean(np.sign(z) == self.y_test))
        elif self.loss == "multinomial":
            acc = float(np.mean(np.argmax(z, axis=1) == self.y_test.astype(np.int64)))
        else:
            return {"test_loss": loss}
        return {"test_loss": loss, "test_acc": acc}

    def value_and_gradient(self, w: np.ndarray) -> tuple[float, np.ndarray]:
        """f(w) and grad f(w) (shape (d,)) in one pass over the data: the margins X w once (the
        objective and the gradient each computed them), and dense rows in blocks of about
        ``EVAL_BLOCK_BYTES`` whose margins and gradient share are taken while the block is in cache.
        f(w) is :meth:`objective`'s value (the same per-row margins, losses and mean)."""
        if self.loss == "multinomial":
            return self.objective(w), self.gradient(w)
        X, y, n = self.X, self.y, self.n
        if self.sparse:
            z = np.asarray(X @ w).ravel()
            g = np.asarray(X.T @ self._dphi(z, y)).ravel() / n
            phi = self._phi(z, y)
        else:
            rows = max(1, EVAL_BLOCK_BYTES // (8 * max(self.d, 1)))
            phi = np.empty(n)
            g = np.zeros(self.d)
            for lo in range(0, n, rows):
                Xb, yb = X[lo:lo + rows], y[lo:lo + rows]
                z = Xb @ w
                if self.loss == "logistic":   # phi'(z) = -y sigma(-y z) = -y (1 - exp(-phi)): from phi, shared
                    # (-expm1(-phi): within 2.3e-16 of sigma; exp(m - phi) was 3e-15 off and NaN at m = +inf: inf - inf)
                    m = -yb * z
                    phi[lo:lo + rows] = pb = np.logaddexp(0.0, m)
                    g += Xb.T @ (yb * np.expm1(-pb))
                else:
                    phi[lo:lo + rows] = self._phi(z, yb)
                    g += Xb.T @ self._dphi(z, yb)
            g /= n
        return float(phi.mean() + 0.5 * self.lam * w @ w), g + self.lam * w

    def metrics(self, w: np.ndarray) -> dict[str, float]:
        w = np.asarray(w, dtype=np.float64).ravel()
        f, g = self.value_and_gradient(w)
        out = {
            "objective": f,
            "subopt": f - self.f_star,
            "grad_norm_sq": float(g @ g),
            "dist_sq": float(np.sum((w - self.w_star) ** 2)),
        }
        out.update(self.test_metrics(w))
        return out

    # -- constants --------------------------------------------------------------------------------
    def _memo(self, what: str, compute, **value):
        """A value derived from the data, kept in this process's bounded pool beside the data (keyed by
        the data's content, the loss and lam), never on the workload object (a suite's resolved runs
        hold their workloads until the suite ends)."""
        from harness.api import memo

        return memo(f"{self.content}:{type(self).__qualname__}:{self.loss}:{self.lam!r}:{what}", compute, **value)

    def _remember(self, what: str, value) -> None:
        """Hold ``value`` as what :meth:`_memo` gives for ``what`` (a refined optimum)."""
        self._memo(what, None, value=value)

    @property
    def row_norms_sq(self) -> np.ndarray:
        def compute():
            if self.sparse:
                return np.asarray(self.X.multiply(self.X).sum(axis=1)).ravel()
            return np.einsum("ij,ij->i", self.X, self.X)

        return self._memo("row_norms_sq", compute)

    @property
    def L_i(self) -> np.ndarray:
        """Per-sample smoothness of f_i = phi_i + (lam/2)||.||^2: phi_curv * ||x_i||^2 + lam."""
        return self._memo("L_i", lambda: self.phi_curv * self.row_norms_sq + self.lam)

    @property
    def _gram_extremes(self) -> tuple[float, float]:
        """(largest, smallest) eigenvalue of X^T X / n, exact (dense eigh or sparse Lanczos)."""
        return self._memo("gram", lambda: tuple(self._cached("gram", self._compute_gram_extremes)))

    def _compute_gram_extremes(self) -> tuple[float, float]:
        X, n = self.X, self.n
        if self.d <= 3000:
            G = (X.T @ X) / n
            G = G.toarray() if _is_sparse(G) else G
            ev = np.linalg.eigvalsh(G)
            return float(ev[-1]), float(max(ev[0], 0.0))
        from scipy.sparse.linalg import LinearOperator, eigsh

        op = LinearOperator((self.d, self.d), matvec=lambda v: X.T @ (X @ v) / n, dtype=np.float64)
        top = eigsh(op, k=1, which="LA", tol=1e-10, return_eigenvectors=False)[0]
        return float(top), 0.0  # smallest of a wide sparse Gram is 0 (or not needed)

    @property
    def L(self) -> float:
        """Smoothness of f: phi_curv * lambda_max(X^T X / n) + lam (exact for squared loss)."""
        return self.phi_curv * self._gram_extremes[0] + self.lam

    @property
    def L_max(self) -> float:
        return float(self.L_i.max())

    @property
    def mu(self) -> float:
        """Strong convexity: lam (+ lambda_min(X^T X / n) for the squared loss, where it is exact)."""
        if self.loss == "squared":
            return self._gram_extremes[1] + self.lam
        return self.lam

    @property
    def _optimum(self) -> tuple[np.ndarray, float]:
        """(w*, f*) from the on-disk cache (w* as .npy), else solved and written there."""
        return self._memo("optimum", self._stored_optimum)

    def _stored_optimum(self, refresh: bool = False, solved: tuple[np.ndarray, float] | None = None):
        fpath = self._cache_path("optimum")
        wpath = fpath.with_suffix(".npy")
        if not refresh:
            try:
                w, f = np.load(wpath, allow_pickle=False), json.loads(fpath.read_text())
                if isinstance(f, float) and w.shape == (self.dim,):
                    return w, f
            except (OSError, ValueError):
                pass
        if solved is None:
            w = self._solve_optimum()
            solved = (w, self.objective(w))
        w, f = np.asarray(solved[0], dtype=np.float64), float(solved[1])
        try:  # w* as .npy, f* as JSON beside it, each written whole (temporary file + rename)
            tmp = wpath.with_suffix(f".tmp{os.getpid()}.npy")
            np.save(tmp, w, allow_pickle=False)
            os.replace(tmp, wpath)
            ftmp = fpath.with_suffix(f".tmp{os.getpid()}.json")
            ftmp.write_text(json.dumps(f))
            os.replace(ftmp, fpath)
        except OSError:  # a read-only or full cache: the value is still computed (a cache is a cache)
            pass
        return w, f

    @property
    def w_star(self) -> np.ndarray:
        return self._optimum[0]

    @property
    def f_star(self) -> float:
        return self._optimum[1]

    def refine_optimum(self) -> float:
        """Solve for f* again, more tightly (a longer Newton polish from the cached w*, or from
        scratch), replace the cached value when the new one is lower, and return f*. Called when
        a run measured suboptimality below zero: the reference was not the minimum."""
        w_old, f_old = self._optimum
        w = self._solve_optimum(tight=True, w0=w_old)
        f_new = self.objective(w)
        if f_new < f_old:
            self._remember("optimum", self._stored_optimum(refresh=True, solved=(w, f_new)))
        return self.f_star

    def _solve_optimum(self, tight: bool = False, w0: np.ndarray | None = None) -> np.ndarray:
        """L-BFGS to a tight tolerance, then Newton-CG polish with exact Hessian-vector products
        (``tight``: from ``w0``, with more L-BFGS iterations and polish steps)."""
        from scipy.optimize import minimize

        w0 = np.zeros(self.dim) if w0 is None else np.asarray(w0, dtype=np.float64)
        res = minimize(lambda w: (self.objective(w), self.gradient(w)), w0, jac=True, method="L-BFGS-B",
                       options={"maxiter": 100000 if tight else 20000, "gtol": 1e-14 if tight else 1e-12,
                                "ftol": 0.0 if tight else 1e-16, "maxcor": 50 if tight else 30})
        w = res.x
        for _ in range(100 if tight else 30):  # Newton polish: f is smooth and strongly convex
            g = self.gradient(w)
            if np.sqrt(g @ g) < (1e-15 if tight else 1e-13):
                break
            from scipy.sparse.linalg import LinearOperator, cg

            H = LinearOperator((self.dim, self.dim), matvec=lambda v, w=w: self.hessian_vector(w, v), dtype=np.float64)
            step, _ = cg(H, -g, rtol=1e-12, maxiter=500)
            w = w + step
        return w

    def hessian_vector(self, w: np.ndarray, v: np.ndarray) -> np.ndarray:
        X = self.X
        if self.loss == "multinomial":
            C = self.n_classes
            z = self._margins(X, w)
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            u = np.asarray(X @ v.reshape(self.d, C))
            r = p * u - p * (p * u).sum(axis=1, keepdims=True)
            return np.asarray(X.T @ r).ravel() / self.n + self.lam * v
        z = self._margins(X, w)
        if self.loss == "logistic":
            s = _sigmoid(z)
            curv = s * (1 - s)
        else:
            curv = np.ones_like(z)
        return np.asarray(X.T @ (curv * np.asarray(X @ v).ravel())).ravel() / self.n + self.lam * v

    def constants(self) -> dict[str, float]:
        """The constants. Those of the data alone are cached on disk by its content (a later run, rank
        or session reads them without a pass over the data); those of the optimum follow f* and w*."""
        out = dict(self._memo("data_constants", lambda: self._cached("data_constants", self._data_constants)))
        f0 = out.pop("f0")
        f_star = self.f_star
        return {**out, "f_star": f_star, "f0_minus_fstar": f0 - f_star, "dist0_sq": float(self.w_star @ self.w_star)}

    def _data_constants(self) -> dict[str, float]:
        return {
            "L": self.L,
            "L_max": self.L_max,
            "L_mean": float(self.L_i.mean()),
            "mu": self.mu,
            "lam": self.lam,
            "n": float(self.n),
            "d": float(self.d),
            "dim": float(self.dim),
            "f0": self.objective(np.zeros(self.dim)),
            "density": float(self.X.nnz / (self.n * self.d)) if self.sparse else 1.0,
        }

    def optimum_facts(self) -> dict[str, float]:
        """Quantities at w* of the logistic and squared losses (empty for multinomial), with
        ``g_i = phi_i'(x_i . w*)`` and the per-sample gradient of ``f_i = phi_i + (lam/2)||w||^2``,
        ``grad f_i(w*) = g_i x_i + lam w*`` (their mean is ``grad f(w*) = 0``):

        - ``gmax2_star`` = max_i ||grad f_i(w*)||^2;
        - ``sigma2_star`` = (1/n) sum_i ||grad f_i(w*) - grad f(w*)||^2, the gradient noise at w*;
        - ``phi_grad_sq_star`` = (1/n) sum_i ||grad phi_i(w*)||^2 (dfSDCA's A_0 with alpha^0 = 0);
        - ``Lphi_max`` = phi_curv * max_i ||x_i||^2, the smoothness of the phi_i without the regulariser.

        Solves for w* (cached on disk) when not known yet."""
        if self.loss not in ("logistic", "squared"):
            return {}
        ws, X = self.w_star, self.X
        g = self._dphi(np.asarray(X @ ws).ravel(), self.y)
        rn = self.row_norms_sq
        lam_w = self.lam * ws
        sq = g**2 * rn + 2 * g * np.asarray(X @ lam_w).ravel() + float(lam_w @ lam_w)
        return {
            "gmax2_star": float(np.max(sq)),
            "sigma2_star": float(np.mean(sq)),
            "phi_grad_sq_star": float(np.mean(g**2 * rn)),
            "Lphi_max": float(self.phi_curv * rn.max()),
        }

    # -- on-disk cache of expensive constants -----------------------------------------------------
    def _cache_path(self, what: str) -> Path:
        """Constants are keyed by the data's content (the SHA-256 of its arrays), the loss and lam:
        never by a path string or the generator's name (an edited generator makes new constants)."""
        key = params_key({"class": type(self).__qualname__, "what": what, "content": self.content, "loss": self.loss,
                          "lam": self.lam, "classes": self.n_classes, "v": 3})
        return cache_dir() / f"{self.name}-{what}-{key}.json"

    @property
    def data_digest(self) -> str:
        """SHA-256 of the training data's bytes: the constants' cache key, so an edited generator
        (other data, same class, version and parameters) never reads the old constants."""
        return self.content

    def _cached(self, what: str, compute, *, refresh: bool = False):
        """``compute()``'s value, cached on disk under the data's content and the objective's
        parameters (never a path string, never the generator's name alone)."""
        key = {"what": what, "class": type(self).__qualname__, "loss": self.loss, "params": self.params,
               "data_sha256": self.data_digest}
        shape = {"gram": lambda v: isinstance(v, list) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v),
                 "data_constants": lambda v: isinstance(v, dict)}
        return cached_value(f"{self.name}-{what}", key, compute, valid=shape.get(what, lambda v: True),
                            refresh=refresh)

def _matrix(arrays, tag: str):
    """Array ``tag`` of a dataset, or the CSR matrix its three arrays make (no copy), or None."""
    if tag in arrays:
        return arrays[tag]
    if f"{tag}.data" not in arrays:
        return None
    import scipy.sparse as sp

    M = sp.csr_matrix((arrays[f"{tag}.data"], arrays[f"{tag}.indices"], arrays[f"{tag}.indptr"]),
                      shape=tuple(int(v) for v in arrays[f"{tag}.shape"]), copy=False)
    M.has_sorted_indices = True  # stored sorted (``_arrays``): never sorted again in place
    return M


def _is_sparse(X) -> bool:
    """Whether X is a scipy sparse matrix, without importing scipy.sparse for a numpy array (a
    dense run never needs it: its import was a third of a second of every dense run's start-up)."""
    if isinstance(X, np.ndarray):
        return False
    try:
        import scipy.sparse as sp

        return sp.issparse(X)
    except ImportError:  # pragma: no cover
        return False


def _sigmoid(z: np.ndarray) -> np.ndarray:
    out = np.empty_like(z, dtype=np.float64)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out
