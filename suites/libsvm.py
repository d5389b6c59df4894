"""LIBSVM / svmlight files: ``label [qid:Q] idx:val idx:val ...`` per line, '#' comments.

Read by scikit-learn's :func:`sklearn.datasets.load_svmlight_file` (its C parser), with its rules:

- feature indices ascending and unique within a row (a repeated index is refused, never summed);
- a ``qid:Q`` token (right after the label) is read and ignored;
- the index base is ``zero_based``: ``"auto"`` (scikit-learn's rule: 1-based, the LIBSVM
  convention, unless some index 0 appears in the file, then 0-based), ``True`` or ``False`` (an
  index 0 is then an error);
- ``.gz`` / ``.bz2`` / ``.xz`` files are decompressed.

On top of it: non-finite labels and values (``nan``, ``inf``, ``1e400``) are refused, and every
error is one line naming the file and the line (``FILE:LINE: ...``); a binary or non-UTF-8 file is
named as such. Returns a scipy CSR matrix (float64) and a float64 label vector.
"""

from __future__ import annotations

import collections
import io
import itertools
import math
from pathlib import Path
from typing import IO, Iterator

import numpy as np

ZERO_BASED = ("auto", True, False)


def load_libsvm(path: str | Path, n_features: int | None = None, max_rows: int | None = None,
                zero_based: str | bool = "auto"):
    """(X, y) from a LIBSVM file. ``max_rows``: read at most this many data rows. Errors: UserError
    (missing / folder / binary file, malformed line, repeated index, index 0 when ``zero_based`` is
    False, non-finite value, an index beyond ``n_features``, no rows)."""
    from sklearn.datasets import load_svmlight_file

    from harness.api import UserError

    if zero_based not in ZERO_BASED:
        raise UserError(f"zero_based must be auto, true or false, got {zero_based!r}")
    path = check_file(path)

    def fail(exc: Exception) -> UserError:
        where = _first_bad_line(path, zero_based, max_rows)
        if where is None:
            return UserError(f"{path}: not a LIBSVM file ({exc})")
        return UserError(f"{path}:{where[0]}: {where[1]}")

    with _open(path) as fh:
        source: IO[bytes] = fh
        if max_rows:
            source = io.BytesIO(b"".join(itertools.islice(_data_lines(fh), max_rows)))
        try:
            X, y = load_svmlight_file(source, n_features=n_features, zero_based=zero_based, query_id=False,
                                      dtype=np.float64)
        except ValueError as exc:
            if "n_features" in str(exc):
                raise UserError(f"{path}: a feature index is beyond n_features={n_features}") from None
            raise fail(exc) from None
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise UserError(f"LIBSVM file {path} cannot be read: {exc}") from None
    if X.shape[0] == 0:
        raise UserError(f"{path}: no data rows")
    if not (np.isfinite(X.data).all() and np.isfinite(y).all()):
        raise fail(ValueError("non-finite value"))
    X = X.tocsr()
    X.sort_indices()
    return X, np.asarray(y, dtype=np.float64)


def check_file(path: str | Path) -> Path:
    """The cheap checks, before any parsing: a readable regular file whose first 64 KiB (decompressed)
    are UTF-8 text. UserError: ``LIBSVM file PATH is a directory, expected a file``, ``... is binary
    or not UTF-8 text (it contains NUL bytes)``, ``... cannot be decompressed``."""
    from harness.api import SNIFF_BYTES, UserError, binary_reason, input_file

    path = input_file(path, "LIBSVM file")
    with _open(path) as fh:
        try:
            head = fh.read(SNIFF_BYTES)
        except (OSError, EOFError, ValueError) as exc:  # a corrupt .gz / .bz2 / .xz
            raise UserError(f"LIBSVM file {path} cannot be decompressed: {exc}") from None
    why = binary_reason(head)
    if why:
        raise UserError(f"LIBSVM file {path} is binary or not UTF-8 text ({why})")
    return path


def _open(path: Path) -> IO[bytes]:
    if path.suffix in (".bz2", ".gz", ".xz"):
        import bz2
        import gzip
        import lzma

        return {".bz2": bz2.open, ".gz": gzip.open, ".xz": lzma.open}[path.suffix](path, "rb")
    return open(path, "rb")


def _data_lines(fh: IO[bytes]) -> Iterator[bytes]:
    for line in fh:
        if line.split(b"#", 1)[0].strip():
            yield line


def _first_bad_line(path: Path, zero_based, max_rows: int | None) -> tuple[int, str] | None:
    """(line number, what is wrong) of the first line breaking the format's rules (the same rules
    as scikit-learn's reader, plus finite values); only called once the reader has refused the file."""
    rows = 0
    with _open(path) as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                return lineno, "not UTF-8 text"
            tokens = line.split("#", 1)[0].split()
            if not tokens:
                continue
            rows += 1
            if max_rows and rows > max_rows:
                return None
            try:
                label = float(tokens[0])
            except ValueError:
                return lineno, f"bad label {tokens[0]!r}: expected a number"
            if not math.isfinite(label):
                return lineno, f"non-finite label {tokens[0]!r}"
            seen: list[int] = []
            for k, tok in enumerate(tokens[1:]):
                key, sep, val = tok.partition(":")
                if not sep:
                    return lineno, f"malformed LIBSVM token {tok!r}: expected index:value"
                if key == "qid":  # read and ignored, as scikit-learn does, right after the label only
                    if k:
                        return lineno, f"{tok!r} after a feature: qid:Q comes right after the label"
                    continue
                try:
                    idx = int(key)
                    num = float(val)
                except ValueError:
                    return lineno, f"malformed LIBSVM token {tok!r}: expected integer index:number"
                if idx < 0:
                    return lineno, f"negative feature index {idx}"
                if idx == 0 and zero_based is False:
                    return lineno, "feature index 0 in a 1-based file (zero_based=false; use zero_based=true or auto)"
                if not math.isfinite(num):
                    return lineno, f"non-finite value {tok!r}"
                seen.append(idx)
            if len(set(seen)) != len(seen):
                repeated = min(i for i, c in collections.Counter(seen).items() if c > 1)
                return lineno, f"feature index {repeated} repeated in the row (values are never summed)"
            if seen != sorted(seen):
                bad = next(k for k in range(1, len(seen)) if seen[k] < seen[k - 1])
                return lineno, f"feature index {seen[bad]} after {seen[bad - 1]}: indices must be ascending"
    return None


def largest_index(path: str | Path, chunk: int = 1 << 20) -> int:
    """The largest feature index written in an uncompressed LIBSVM file (0 if none), read as bytes
    in chunks without parsing values: what the data's dimension will be, known before loading it."""
    import re

    token = re.compile(rb"(?:^|[\s])(\d+):")
    best, tail = 0, b""
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            data = tail + block
            if not block:
                cut = len(data)
            else:  # a token cut at the chunk's end is read with the next chunk
                cut = max(data.rfind(b" "), data.rfind(b"\n"), data.rfind(b"\t"))
                cut = cut if cut >= 0 else 0
            for m in token.finditer(data, 0, cut):
                best = max(best, int(m.group(1)))
            tail = data[cut:]
            if not block:
                return best


def save_libsvm(path: str | Path, X, y) -> None:
    """Write CSR/dense X and labels y in 1-based LIBSVM format (used by tests and exports)."""
    import scipy.sparse as sp

    X = sp.csr_matrix(X)
    with open(path, "w") as fh:
        for i in range(X.shape[0]):
            lo, hi = X.indptr[i], X.indptr[i + 1]
            feats = " ".join(f"{j + 1}:{v:.17g}" for j, v in zip(X.indices[lo:hi], X.data[lo:hi]))
            fh.write(f"{y[i]:g} {feats}\n")
