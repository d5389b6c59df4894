"""CIFAR-10 in its "python version" batches (Krizhevsky, *Learning Multiple Layers of Features from
Tiny Images*, 2009): ``data_batch_1..5`` (10,000 images each) and ``test_batch`` (10,000).

Each batch is a pickle of a dict: ``data``, an N x 3072 uint8 array (a 32 x 32 image's red, green
then blue planes, row-major), ``labels``, N ints in 0..9, and ``batch_label`` / ``filenames``
(text). A pickle is a program: ``pickle.load`` runs whatever a file asks for, and these files come
from mirrors and from other labs. So a batch is read here by :func:`read_batch`, an unpickler that
builds only what the official batches hold -- dicts, lists, tuples, bytes, str, ints, floats,
booleans, None, and numpy's array reconstruction of a plain numeric dtype (and the latin-1
``_codecs.encode`` by which Python 3 writes bytes in the old protocols) -- done by our own code
(the numpy array is made with ``np.frombuffer`` from the bytes after its shape and size are
checked; no numpy ``__setstate__`` sees the file's state). Anything else (a global such as
``os.system``, a persistent id, state set on another object) is refused before it is built, as
one line naming the file (:class:`~harness.api.UserError`, exit 2). The arrays are then checked:
``data`` N x 3072 uint8, ``labels`` N ints in 0..9.

The official files' MD5 sums (published with the dataset's archive and recorded by torchvision)
are in :data:`PUBLISHED_MD5`: :func:`check_files` reads a folder's batches (refusing a bad one)
and names those that differ from them (a re-packed or edited copy), which the harness says once
per folder, before the run starts (a warning, not a refusal: what is read is checked either way).
"""

from __future__ import annotations

import hashlib
import io
import pickle
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from harness.api import UserError, inside_folder

# the official batches' MD5 (cifar-10-python.tar.gz, c58f30108f718f92721af3b95e74349a, unpacked;
# the sums torchvision's CIFAR10 class checks)
PUBLISHED_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
PIXELS = 3 * 32 * 32
CLASSES = 10

# the numeric dtypes an array in a batch may have (numpy's dtype() is given one of these strings)
_DTYPES = {"u1", "i1", "b1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8"}


class Refused(Exception):
    """The file asks for something an official batch never holds (nothing of it was built)."""


class _NDArrayType:
    """What ``numpy.ndarray`` resolves to: a marker the reconstruction below accepts, not the
    class (a pickle must not call numpy's constructor with arguments of its choosing)."""


_NDARRAY = _NDArrayType()


class _Pending:
    """An object the pickle builds in two steps (create, then BUILD with its state)."""

    def finish(self, state: Any) -> Any:
        raise NotImplementedError


class _Dtype(_Pending):
    def __init__(self, spec: Any, align: Any = False, copy: Any = False):
        spec = spec.decode("ascii", "replace") if isinstance(spec, bytes) else spec
        if not isinstance(spec, str) or spec not in _DTYPES:
            raise Refused(f"numpy dtype {spec!r}")
        self.spec = spec

    def finish(self, state: Any) -> np.dtype:
        # numpy's dtype state for a plain type: (3, byte order, None, None, None, -1, -1, 0)
        if not (isinstance(state, tuple) and len(state) == 8 and state[0] == 3 and state[2:5] == (None, None, None)):
            raise Refused("a numpy dtype state other than a plain number type's")
        order = state[1].decode("ascii", "replace") if isinstance(state[1], bytes) else state[1]
        if order not in ("<", ">", "|", "="):
            raise Refused(f"numpy byte order {order!r}")
        dt = np.dtype(self.spec)
        return dt.newbyteorder(order) if order in "<>" else dt


def _as_dtype(dt: Any) -> np.dtype:
    if isinstance(dt, np.dtype) and dt.kind in "biuf" and not dt.hasobject and dt.fields is None:
        return dt
    raise Refused("an array of a dtype that is not built from a plain number type")


def _array(shape: Any, dt: Any, fortran: Any, raw: Any) -> np.ndarray:
    dt = _as_dtype(dt)
    if not (isinstance(shape, tuple) and len(shape) <= 4 and all(isinstance(s, int) and 0 <= s < 2**40 for s in shape)):
        raise Refused(f"an array shape {shape!r}")
    if not isinstance(raw, (bytes, bytearray)):
        raise Refused(f"array contents of type {type(raw).__name__} (expected bytes)")
    count = int(np.prod(shape, dtype=np.int64))
    if len(raw) != count * dt.itemsize:
        raise Refused(f"an array of shape {shape} whose bytes number {len(raw)}, not {count * dt.itemsize}")
    return np.frombuffer(bytes(raw), dt, count=count).reshape(shape, order="F" if fortran else "C")


class _ArrayPending(_Pending):
    def finish(self, state: Any) -> np.ndarray:
        # ndarray.__reduce__'s state: (version, shape, dtype, is_fortran, raw bytes)
        if not (isinstance(state, tuple) and len(state) == 5 and state[0] == 1):
            raise Refused("a numpy array state of another form")
        return _array(state[1], state[2], bool(state[3]), state[4])


def _reconstruct(subtype: Any, shape: Any = None, typecode: Any = None) -> _ArrayPending:
    if subtype is not _NDARRAY:
        raise Refused("an array of a class other than numpy.ndarray")
    return _ArrayPending()


def _frombuffer(buf: Any, dt: Any, shape: Any, order: Any) -> np.ndarray:
    # pickle protocol 5's in-band form of an array
    order = order.decode() if isinstance(order, bytes) else order
    return _array(shape, dt, order == "F", buf)


def _latin1(text: Any, encoding: Any = "latin1") -> bytes:
    # how Python 3 writes bytes in pickle protocols 0-2: _codecs.encode(str, "latin1")
    if not (isinstance(text, str) and encoding in ("latin1", "latin-1")):
        raise Refused("_codecs.encode of anything but text to latin1")
    return text.encode("latin1")


# (module, name) -> what it resolves to; numpy 1 names its module numpy.core, numpy 2 numpy._core
_GLOBALS = {
    ("_codecs", "encode"): _latin1,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _Dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
}


class _BatchUnpickler(pickle._Unpickler):  # type: ignore[name-defined]  # the Python one: BUILD is ours
    dispatch = dict(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]

    def find_class(self, module: str, name: str) -> Any:
        found = _GLOBALS.get((module, name))
        if found is None:
            raise Refused(f"{module}.{name}")
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise Refused("a persistent id")

    def _build(self) -> None:
        self.builds = getattr(self, "builds", 0) + 1
        if self.builds > MAX_BUILDS:  # an official batch builds one or two arrays; each build scans the memo
            raise Refused(f"more than {MAX_BUILDS} objects built from state")
        state = self.stack.pop()
        inst = self.stack[-1]
        if not isinstance(inst, _Pending):
            raise Refused(f"state set on a {type(inst).__name__}")
        built = inst.finish(state)
        self.stack[-1] = built
        for key, value in list(self.memo.items()):  # a later reference to it gets what was built
            if value is inst:
                self.memo[key] = built

    dispatch[pickle.BUILD[0]] = _build


MAX_BUILDS = 64          # objects built from state in one batch (an official batch: its arrays)
MAX_NODES = 2_000_000    # containers and items walked in one batch (an official one: ~20 000)


def _no_pending(obj: Any) -> Any:
    """``obj`` when nothing in it is left half-built. Each object is visited once (a pickle of shared
    references, ``L[i+1] = [L[i], L[i]]`` 90 deep, is 2^90 paths but 180 objects), and the walk
    stops at MAX_NODES: a batch that large is not an official one."""
    seen: set[int] = set()
    stack, walked = [obj], 0
    while stack:
        item = stack.pop()
        if isinstance(item, (_Pending, _NDArrayType)):
            raise Refused("an object left half-built")
        if not isinstance(item, (dict, list, tuple)) or id(item) in seen:
            continue
        seen.add(id(item))
        walked += len(item)
        if walked > MAX_NODES:
            raise Refused(f"more than {MAX_NODES} nested items")
        stack.extend(x for kv in item.items() for x in kv) if isinstance(item, dict) else stack.extend(item)
    return obj


def read_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file: (images (N, 3, 32, 32) uint8, labels (N,) int64). Nothing in the file is
    run (see the module doc). Raises UserError, one line naming the file: not a pickle, a pickle
    asking for anything an official batch does not hold, no ``data`` / ``labels``, ``data`` not
    N x 3072 uint8, labels not N ints in 0..9."""
    path = Path(path)
    return _parse(path, _read(path))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _parse(path: Path, raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    try:
        doc = _no_pending(_BatchUnpickler(io.BytesIO(raw), encoding="bytes").load())
    except Refused as exc:
        raise UserError(f"{path}: refused: the pickle asks for {exc}, which a CIFAR-10 python batch never "
                        f"holds (nothing of it was run)") from None
    except Exception as exc:  # noqa: BLE001 - any malformed stream: one line
        raise UserError(f"{path}: not a CIFAR-10 python batch ({type(exc).__name__}: {exc})") from None
    if not isinstance(doc, dict):
        raise UserError(f"{path}: not a CIFAR-10 python batch (a pickled {type(doc).__name__}, expected a dict)")
    doc = {k.decode("utf-8", "replace") if isinstance(k, bytes) else k: v for k, v in doc.items()}
    if "data" not in doc or "labels" not in doc:
        raise UserError(f"{path}: not a CIFAR-10 python batch (no 'data' or no 'labels' entry)")
    data, labels = doc["data"], doc["labels"]
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == PIXELS
            and data.shape[0] > 0):
        what = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise UserError(f"{path}: 'data' must be an N x {PIXELS} uint8 array (N > 0), got a {what}")
    if isinstance(labels, np.ndarray) and labels.ndim == 1 and labels.dtype.kind in "iu":
        values = labels.tolist()
    elif isinstance(labels, list) and all(type(v) is int for v in labels):
        values = labels
    else:
        raise UserError(f"{path}: 'labels' must be a list of ints")
    if len(values) != len(data):
        raise UserError(f"{path}: {len(data)} images but {len(values)} labels")
    bad = next((v for v in values if not 0 <= v < CLASSES), None)
    if bad is not None:
        raise UserError(f"{path}: labels must be in 0..{CLASSES - 1}, found {bad}")
    return data.reshape(-1, 3, 32, 32), np.asarray(values, dtype=np.int64)


def batch_files(path: str | Path) -> list[Path]:
    """The batches in folder ``path``: data_batch_1..5 (those present, in order), then test_batch.
    Each must be a regular file in the folder itself (a symbolic link that leaves the folder is
    refused: the run would read, hash and report a file the user did not point at). Raises
    UserError for a missing folder, missing batches or such a link."""
    root = Path(path) if path else None
    if root is None or not root.is_dir():
        raise UserError(f"CIFAR-10 directory not found: {path!r} (give --workload-param path=DIR with data_batch_* files)")
    train = sorted(p for p in root.glob("data_batch_*") if p.name.removeprefix("data_batch_").isdigit())
    test = root / "test_batch"
    if not train or not (test.exists() or test.is_symlink()):
        raise UserError(f"{root}: expected data_batch_1..5 and test_batch (CIFAR-10 python version)")
    files = [*train, test]
    for f in files:
        inside_folder(f, root, what="CIFAR-10 batch")
    return files


def load(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X_train, y_train, X_test, y_test) from the batches in folder ``path`` (:func:`batch_files`,
    each read by :func:`read_batch`): float32 images (N, 3, 32, 32) in [0, 1] and int64 labels."""
    *train, test = batch_files(path)
    parts = [read_batch(f) for f in train]
    X = np.concatenate([p[0] for p in parts]).astype(np.float32) / 255.0
    y = np.concatenate([p[1] for p in parts])
    Xt, yt = read_batch(test)
    return X, y, Xt.astype(np.float32) / 255.0, yt


def check_files(files: Sequence[Path]) -> list[str]:
    """Read every batch of ``files`` as :func:`read_batch` does (the first bad one raises its
    UserError) and return the names whose MD5 differs from the published batch of that name
    (:data:`PUBLISHED_MD5`; files of other names are not judged)."""
    differ = []
    for f in map(Path, files):
        raw = _read(f)
        _parse(f, raw)
        known = PUBLISHED_MD5.get(f.name)
        if known is not None and hashlib.md5(raw, usedforsecurity=False).hexdigest() != known:
            differ.append(f.name)
    return differ


def save_batch(path: str | Path, images_uint8: np.ndarray, labels: Sequence[int]) -> None:
    """Write one batch in the official layout (used by tests to make small files)."""
    with open(path, "wb") as fh:
        pickle.dump({b"data": np.ascontiguousarray(images_uint8, np.uint8).reshape(len(labels), -1),
                     b"labels": list(map(int, labels))}, fh, protocol=2)
