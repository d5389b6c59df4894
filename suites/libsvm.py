"""A reader for LIBSVM / svmlight format: ``label idx:val idx:val ...`` per line, '#' comments.

Indices may be 1-based (the LIBSVM convention, detected when no index 0 appears) or 0-based.
Returns a scipy CSR matrix and a float label vector. Errors name the file and line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def load_libsvm(path: str | Path, n_features: int | None = None, max_rows: int | None = None):
    import scipy.sparse as sp

    from harness.errors import UserError

    path = Path(path)
    if not path.exists():
        raise UserError(f"LIBSVM file not found: {path}")
    labels: list[float] = []
    indptr = [0]
    indices: list[int] = []
    values: list[float] = []
    opener = open
    if path.suffix in (".bz2", ".gz", ".xz"):
        import bz2
        import gzip
        import lzma

        opener = {".bz2": bz2.open, ".gz": gzip.open, ".xz": lzma.open}[path.suffix]
    with opener(path, "rt") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            try:
                labels.append(float(parts[0]))
                for tok in parts[1:]:
                    k, _, v = tok.partition(":")
                    if not _:
                        raise ValueError(f"expected index:value, got {tok!r}")
                    indices.append(int(k))
                    values.append(float(v))
            except ValueError as exc:
                raise UserError(f"{path}:{lineno}: malformed LIBSVM line ({exc})") from None
            indptr.append(len(indices))
            if max_rows and len(labels) >= max_rows:
                break
    if not labels:
        raise UserError(f"{path}: no data rows")
    idx = np.asarray(indices, dtype=np.int64)
    if idx.size and idx.min() < 0:
        raise UserError(f"{path}: negative feature index")
    one_based = idx.size > 0 and idx.min() >= 1
    if one_based:
        idx -= 1
    d = int(idx.max()) + 1 if idx.size else 0
    if n_features is not None:
        if d > n_features:
            raise UserError(f"{path}: feature index {d} beyond n_features={n_features}")
        d = n_features
    X = sp.csr_matrix((np.asarray(values), idx, np.asarray(indptr)), shape=(len(labels), d))
    X.sum_duplicates()
    X.sort_indices()
    return X, np.asarray(labels)


def save_libsvm(path: str | Path, X, y) -> None:
    """Write CSR/dense X and labels y in 1-based LIBSVM format (used by tests and exports)."""
    import scipy.sparse as sp

    X = sp.csr_matrix(X)
    with open(path, "w") as fh:
        for i in range(X.shape[0]):
            lo, hi = X.indptr[i], X.indptr[i + 1]
            feats = " ".join(f"{j + 1}:{v:.17g}" for j, v in zip(X.indices[lo:hi], X.data[lo:hi]))
            fh.write(f"{y[i]:g} {feats}\n")
