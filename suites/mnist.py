"""MNIST in its IDX files (LeCun, Cortes & Burges), the data of Huo & Huang 2017's network experiments.

IDX format (http://yann.lecun.com/exdb/mnist/): two zero bytes, a type byte (0x08 unsigned byte,
0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions,
then each dimension as a big-endian uint32, then the values in row-major order, big-endian. MNIST
ships four: ``train-images-idx3-ubyte`` (60000 x 28 x 28), ``train-labels-idx1-ubyte`` (60000),
``t10k-images-idx3-ubyte`` (10000 x 28 x 28), ``t10k-labels-idx1-ubyte`` (10000), each gzipped
(``.gz``) as distributed; either form is read.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Sequence

import numpy as np

from harness.api import UserError

_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_GZIP_MAGIC = b"\x1f\x8b"


MAX_IDX_BYTES = 1 << 30  # MNIST's largest file unpacks to 47 MB; a header declaring more is refused unread


def read_idx(path: str | Path) -> np.ndarray:
    """The array in an IDX file, gzipped or not (told by its first bytes, not its name).
    Raises UserError for a file that is not IDX, whose size disagrees with its header, or whose
    header declares more than MAX_IDX_BYTES (read no further: a small gzip can unpack to GBs)."""
    import math

    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(2)
    try:
        with (gzip.open(path, "rb") if head == _GZIP_MAGIC else open(path, "rb")) as fh:
            magic = fh.read(4)
            if len(magic) < 4 or magic[:2] != b"\x00\x00" or magic[2] not in _TYPES or magic[3] == 0:
                raise UserError(f"{path}: not an IDX file (expected bytes 00 00 TYPE NDIM, got {magic[:4].hex(' ')})")
            dtype, ndim = _TYPES[magic[2]], magic[3]
            header = fh.read(4 * ndim)
            if len(header) < 4 * ndim:
                raise UserError(f"{path}: IDX header cut short")
            dims = tuple(int.from_bytes(header[4 * i:4 * i + 4], "big") for i in range(ndim))
            expected = math.prod(dims) * dtype.itemsize          # Python ints: no wrap-around
            if expected > MAX_IDX_BYTES:
                raise UserError(f"{path}: IDX header says {' x '.join(map(str, dims))} values of {dtype.itemsize} "
                                f"bytes ({expected} bytes), more than an MNIST file holds ({MAX_IDX_BYTES} at most)")
            body = fh.read(expected + 1)
    except (OSError, EOFError) as exc:
        raise UserError(f"{path}: cannot read ({exc})") from None
    if len(body) != expected:
        held = f"more than {expected}" if len(body) > expected else str(len(body))
        raise UserError(f"{path}: IDX header says {' x '.join(map(str, dims))} values of {dtype.itemsize} bytes, "
                        f"the file holds {held} bytes")
    data = magic + header + body
    return np.frombuffer(data, dtype, offset=4 + 4 * ndim).reshape(dims).astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file (gzipped when ``compress``, default: the name ends in .gz);
    used by tests to make small MNIST-shaped files."""
    path = Path(path)
    array = np.asarray(array)
    code = next(c for c, t in _TYPES.items() if t.kind == array.dtype.kind and t.itemsize == array.dtype.itemsize)
    head = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    data = head + np.ascontiguousarray(array, _TYPES[code]).tobytes()
    compress = path.suffix == ".gz" if compress is None else compress
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)


def load_mnist(path: str | Path = "") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X_train, y_train, X_test, y_test): float32 images (N, 1, 28, 28) in [0, 1] and int64 labels.
    ``path``: a folder holding the four files (gzipped or not); empty: fetched into the cache
    (:func:`harness.suites.datasets.fetch_mnist`)."""
    Xtr, ytr, Xte, yte = (read_idx(f) for f in mnist_files(path))
    for X, y, what in ((Xtr, ytr, "training"), (Xte, yte, "test")):
        if X.ndim != 3 or y.ndim != 1 or len(X) != len(y):
            raise UserError(f"MNIST {what} files: expected images (N, rows, cols) and N labels, got "
                            f"{X.shape} and {y.shape}")
        if len(y) and (y.min() < 0 or y.max() > 9):
            raise UserError(f"MNIST {what} labels must be digits 0..9, got {int(y.min())}..{int(y.max())}")
    as_images = lambda X: (X.astype(np.float32) / 255.0)[:, None, :, :]  # noqa: E731
    return as_images(Xtr), ytr.astype(np.int64), as_images(Xte), yte.astype(np.int64)


def mnist_files(path: str | Path = "") -> list[Path]:
    """The four files (training images, training labels, test images, test labels), each gzipped or
    not: found in the folder ``path``, or (empty) in the cache, downloaded first where missing."""
    from .datasets import MNIST_FILES, fetch_mnist

    return _in_folder(Path(path), MNIST_FILES) if path else fetch_mnist()


def _in_folder(folder: Path, names: Sequence[str]) -> list[Path]:
    if not folder.is_dir():
        raise UserError(f"MNIST folder not found: {str(folder)!r} (give --workload-param path=DIR with the four IDX "
                        f"files, or leave path empty to download them)")
    out, missing = [], []
    for name in names:
        found = [p for p in (folder / name, folder / name.removesuffix(".gz")) if p.is_file() or p.is_symlink()]
        if found:
            out.append(found[0])
        else:
            missing.append(name.removesuffix(".gz"))
    if missing:
        raise UserError(f"{folder}: missing MNIST file(s) {', '.join(missing)} (gzipped or not)")
    from harness.api import inside_folder

    return [inside_folder(p, folder, "MNIST file") for p in out]
