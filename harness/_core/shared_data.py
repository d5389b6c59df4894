"""Datasets built once and shared read-only: by every run of a suite, every rank of a launched run,
and every later session on this machine.

A workload names its data by a *recipe* (what builds it: the generator's class, version and
parameters, its code, or a file's SHA-256) and hands :func:`dataset` a function that builds the
arrays. The arrays come back read-only, from (first hit wins):

1. this process's :data:`POOL`: a bounded least-recently-used table, keyed by the recipe, that
   holds at most ``HARNESS_POOL_MB`` megabytes (default: a quarter of the machine's memory, at most
   4 GiB) and :data:`POOL_ENTRIES` entries (datasets and what is derived from them); what falls out is freed (no run keeps a copy);
2. the on-disk data cache, ``<cache>/data/<recipe key>/``: one ``.npy`` file per array and
   ``meta.json`` (the arrays' content hash, shapes, build seconds), opened with
   ``numpy.load(mmap_mode='r')``: the pages are the kernel's page cache, shared by every process
   of the machine that maps the same files (MPI and torch ranks read them instead of each building
   or receiving a copy); only datasets of at least :data:`DISK_MIN_BYTES` go to disk;
3. the builder, run once under a file lock (ranks started together wait for the first one), its
   arrays hashed (SHA-256 of dtypes, shapes and bytes: the data's *content*, which keys the
   constants computed from it) and written to disk before they are mapped back.

:data:`BUILDS` counts the builds of this process by recipe key (tests check a second run of the
same data builds nothing).
"""

from __future__ import annotations

import collections
import fcntl
import hashlib
import json
import os
import shutil
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from .cache import cache_root

# datasets smaller than this stay in memory only (a small one is built in milliseconds)
DISK_MIN_BYTES = 8 << 20
POOL_ENTRIES = 64
BUILDS: collections.Counter = collections.Counter()


@dataclass(frozen=True)
class Dataset:
    """Named read-only arrays, their content hash (hex SHA-256) and where they came from
    (``"built"``, ``"disk"``: mapped from the data cache, ``"memory"``: this process's pool)."""

    arrays: Mapping[str, np.ndarray]
    content: str
    source: str
    build_s: float = 0.0

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays.values())


def recipe_key(recipe: Any) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode()).hexdigest()[:24]


def content_hash(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over the arrays' names, dtypes, shapes and bytes (in name order)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}\0{a.dtype.str}\0{a.shape}\n".encode())
        h.update(memoryview(a.reshape(-1).view(np.uint8)))
    return h.hexdigest()


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)  # a memmap as a plain ndarray view (numba types it like any array), no copy
    a.setflags(write=False)
    return a


class Pool:
    """Least-recently-used values of a known size, at most ``max_bytes`` and ``max_entries``; the
    one just put in is kept even if alone it exceeds ``max_bytes`` (a run is using it)."""

    def __init__(self, max_bytes: int, max_entries: int):
        self.max_bytes, self.max_entries = max_bytes, max_entries
        self._items: collections.OrderedDict[str, tuple[Any, int]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            self._items.move_to_end(key)
            return hit[0]

    def put(self, key: str, value: Any, nbytes: int) -> None:
        with self._lock:
            self._items[key] = (value, nbytes)
            self._items.move_to_end(key)
            while len(self._items) > 1 and (len(self._items) > self.max_entries or self.held() > self.max_bytes):
                self._items.popitem(last=False)

    def held(self) -> int:
        return sum(n for _, n in self._items.values())

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def _pool_bytes() -> int:
    from .environment import number
    from .errors import UserError

    try:  # `harness` refuses a bad value before any work; read at import, a rank keeps the default
        mb = number("HARNESS_POOL_MB", -1.0)
    except UserError:
        mb = -1.0
    if mb >= 0:
        return int(mb * (1 << 20))
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        total = 8 << 30
    return min(total // 4, 4 << 30)


POOL = Pool(_pool_bytes(), POOL_ENTRIES)


def in_pool(key: str) -> bool:
    """Whether this process's pool holds ``key`` now (a run on it allocates nothing again)."""
    return POOL.get(key) is not None


def data_dir() -> Path:
    return cache_root() / "data"


def dataset(key: str, build: Callable[[], Mapping[str, np.ndarray]], *, disk: bool = True) -> Dataset:
    """The arrays of the recipe whose :func:`recipe_key` is ``key``, read-only: mapped from the data
    cache, else built by ``build()`` (a dict of arrays), hashed and -- when ``disk`` and at least
    :data:`DISK_MIN_BYTES` -- written there first. The caller keeps them in the pool with
    :func:`memo` (what the process keeps between runs is bounded there)."""
    folder = data_dir() / key
    got = _load(folder) if disk else None
    if got is None:
        got = _build_shared(folder, key, build) if disk else _built(key, build)
    return got


def _built(key: str, build: Callable[[], Mapping[str, np.ndarray]]) -> Dataset:
    t0 = time.perf_counter()
    arrays = {k: np.ascontiguousarray(v) for k, v in build().items()}
    BUILDS[key] += 1
    return Dataset({k: _frozen(v) for k, v in arrays.items()}, content_hash(arrays), "built",
                   time.perf_counter() - t0)


def _build_shared(folder: Path, key: str, build) -> Dataset:
    """Build under ``<folder>.lock``: the first process builds and writes, the others wait and map."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            got = _load(folder)  # built by another process while this one waited
            if got is not None:
                return got
            made = _built(key, build)
            if made.nbytes < DISK_MIN_BYTES or not _room_for(folder.parent, made.nbytes):
                return made
            _write(folder, made)
            mapped = _load(folder)  # the copy in memory goes: every process maps the same pages
            return replace(mapped, source="built") if mapped is not None else made
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _room_for(where: Path, nbytes: int) -> bool:
    try:
        return shutil.disk_usage(where).free > 2 * nbytes
    except OSError:
        return False


def _write(folder: Path, ds: Dataset) -> None:
    tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for name, a in ds.arrays.items():
            np.save(tmp / f"{name}.npy", a, allow_pickle=False)
        meta = {"content": ds.content, "build_s": ds.build_s, "created": time.time(),
                "arrays": {k: [a.dtype.str, list(a.shape)] for k, a in ds.arrays.items()}}
        (tmp / "meta.json").write_text(json.dumps(meta))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    except OSError:  # a full disk: the data stays in memory, the run goes on
        shutil.rmtree(tmp, ignore_errors=True)


def on_disk(key: str) -> int | None:
    """Bytes of the dataset of recipe ``key`` in the data cache, or None when it is not there."""
    try:
        meta = json.loads((data_dir() / key / "meta.json").read_text())
        return sum(int(np.dtype(dt).itemsize * np.prod(shape, dtype=np.int64))
                   for dt, shape in meta["arrays"].values())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _load(folder: Path) -> Dataset | None:
    """The dataset mapped from ``folder``; None when absent or damaged (it is then built again)."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
        arrays = {}
        for name, (dtype, shape) in meta["arrays"].items():
            a = np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
            if a.dtype.str != dtype or list(a.shape) != shape:
                return None
            arrays[name] = _frozen(a)
        return Dataset(arrays, meta["content"], "disk", float(meta.get("build_s", 0.0)))
    except (OSError, ValueError, KeyError, TypeError):
        return None


_MISSING = object()


def memo(key: str, compute: Callable[[], Any], *, value: Any = _MISSING,
         nbytes: Callable[[Any], int] | None = None) -> Any:
    """A value derived from a dataset (per-sample norms, w*, the constants), kept in :data:`POOL`
    under ``key`` (which names the data's content): computed once while it stays there.
    ``value``: put this value in place of what is held (a refined optimum); ``nbytes(value)``: its
    size, when it is not the sum of the arrays it holds (a memory map counts its whole file)."""
    hit = POOL.get(key) if value is _MISSING else None
    if hit is not None:
        return hit
    got = compute() if value is _MISSING else value
    POOL.put(key, got, (nbytes or _nbytes)(got))
    return got


def _nbytes(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (tuple, list)):
        return sum(_nbytes(v) for v in value) + 64
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values()) + 64
    return 64
