"""The harness cache folder ($HARNESS_CACHE, else ~/.cache/harness): workload constants, file
hashes, and numba's compiled kernels (``numba/``), kept out of the source tree. It is private to
the user (created 0700; :func:`check_private` runs before every command), since numba's entries
are pickles that run code when loaded.

:func:`cached_value` keeps one computed value per key as a versioned JSON file
(:data:`CACHE_FORMAT`): a file of another format or shape is recomputed and replaced (said once on
stderr, naming the file), and a cache that cannot be written (a read-only ``$HARNESS_CACHE``) is
computed without, also said once: the cache is a cache, never a reason for a run to fail.
:func:`content_digest` is the key of values derived from data: the SHA-256 of the arrays' bytes, so
an edited generator (new data) never reads the constants of the old one.

:func:`configure_numba` sets ``NUMBA_CACHE_DIR`` before numba is imported (``harness/__init__``
calls it, so every process of a run, ranks included, agrees): ``<base>/kernels-<digest>``, the base
``<cache>/numba`` or a user's own ``NUMBA_CACHE_DIR``, the digest that of the built-in plugins'
sources (:func:`kernels_digest`). Numba checks a cached kernel against its own file only: a kernel
that inlines a function of another module (the threads kernels inline ``dphi`` and ``step_size``
of ``plugins/algorithms/kernels.py``) was loaded stale after that module changed, computing with
the old function. Folders of other digests unused for :data:`KEEP_DAYS` days are removed. :func:`repair_numba_cache` finds cache entries that cannot be read back (a truncated or
corrupted pickle), removes them, and says which: numba then recompiles those kernels.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickletools
import sys
from pathlib import Path
from typing import Any, Callable

from .errors import UserError

# the layout of a cached value's file: {"harness_cache": CACHE_FORMAT, "key": {...}, "value": ...}
CACHE_FORMAT = 3
_said: set[str] = set()


def cache_root() -> Path:
    return Path(os.environ.get("HARNESS_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "harness"))


def cache_dir() -> Path:
    """The cache folder, created if missing, private to this user (0700; see
    :func:`harness._core.paths.private_dir`: numba loads pickles from under it, and the workloads'
    constants feed every verdict)."""
    from .paths import private_dir

    return private_dir(cache_root(), "cache folder")


def check_private() -> None:
    """Before a command works: the cache folder and numba's kernel cache (which may be a folder of
    the user's choosing, ``NUMBA_CACHE_DIR``), where they exist, are private to this user: one that
    others may write is made private (one line), one of another user is refused (UserError).
    Whoever can write a numba cache entry runs code in the next run that loads it."""
    from .paths import private_dir

    for path, what in ((cache_root(), "cache folder"), (numba_cache_dir().parent, "numba cache folder"),
                       (numba_cache_dir(), "numba cache folder")):
        if path.is_dir():
            private_dir(path, what)


def check_cache_root() -> str | None:
    """A user's mistake in ``$HARNESS_CACHE`` (it names a file, not a folder) as one line to refuse
    with before any work; None when the setting is usable (a missing folder is created later)."""
    root = cache_root()
    if root.exists() and not root.is_dir():
        where = "HARNESS_CACHE=" if os.environ.get("HARNESS_CACHE") else "the cache folder "
        return f"{where}{root} is a file, expected a folder for the harness cache"
    return None


def _say_once(msg: str) -> None:
    if msg not in _said:
        _said.add(msg)
        print(f"harness: warning: {msg}", file=sys.stderr)


def content_digest(*arrays: Any) -> str:
    """SHA-256 (hex) of numpy arrays' dtypes, shapes and bytes, in order; a scipy sparse matrix is
    hashed by its format and its data / indices / indptr arrays. The key of anything derived from
    the data (constants, an optimum): the same bytes give the same digest, whatever made them."""
    import numpy as np

    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"none;")
            continue
        if hasattr(a, "indptr"):  # CSR / CSC
            h.update(f"{a.format}{a.shape};".encode())
            parts = (a.data, a.indices, a.indptr)
        else:
            parts = (a,)
        for x in parts:
            x = np.ascontiguousarray(x)
            h.update(f"{x.dtype.str}{x.shape};".encode())
            h.update(x.view(np.uint8).reshape(-1).data if x.size else b"")
    return h.hexdigest()


def cached_value(stem: str, key: dict[str, Any], compute: Callable[[], Any], *,
                 valid: Callable[[Any], bool] = lambda v: True, refresh: bool = False) -> Any:
    """The value stored for ``key`` in ``<cache>/<stem>-<hash of key>.json``, else ``compute()``'s,
    stored there (JSON-able; returned as JSON reads it back). A file that is not this format, holds
    another key, or whose value ``valid`` refuses is recomputed and replaced (said once, naming the
    file); where the cache cannot be written the value is computed each time (said once)."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:20]
    path = cache_root() / f"{stem}-{digest}.json"
    if not refresh:
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            doc = None
        except (OSError, ValueError) as exc:
            doc = {"unreadable": str(exc)}
        if doc is not None:
            ok = (isinstance(doc, dict) and doc.get("harness_cache") == CACHE_FORMAT and "value" in doc
                  and doc.get("key") == json.loads(json.dumps(key, default=str)) and valid(doc["value"]))
            if ok:
                return doc["value"]
            _say_once(f"cache file {path} is not a value this harness wrote (format {CACHE_FORMAT}) for this key: "
                      "recomputed and replaced")
    value = json.loads(json.dumps(compute()))
    doc = {"harness_cache": CACHE_FORMAT, "key": key, "value": value}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        cache_dir()
        tmp.write_text(json.dumps(doc, default=str))
        os.replace(tmp, path)
    except (OSError, UserError) as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        what = "HARNESS_CACHE=" if os.environ.get("HARNESS_CACHE") else "the cache folder "
        why = (exc.strerror or exc) if isinstance(exc, OSError) else exc
        _say_once(f"cannot write the constants cache ({what}{cache_root()}: {why}): computing without it")
    return value


KERNELS_PREFIX = "kernels-"   # numba cache folders keyed by the plugins' sources
KEEP_DAYS = 30                # a folder of another digest unused this long is removed


def kernels_digest(root: Path | None = None) -> str:
    """12 hex digits of the SHA-256 of every ``.py`` file under ``root`` (default: the built-in
    plugins' package folder), names and contents in sorted order: any edit of a kernel module, or of
    a module a kernel inlines, gives another digest."""
    if root is None:
        import importlib.util

        spec = importlib.util.find_spec("harness.plugins")
        if spec is None or not spec.submodule_search_locations:  # pragma: no cover - a broken install
            return "unknown"
        root = Path(next(iter(spec.submodule_search_locations)))
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + data + b"\0")
    return h.hexdigest()[:12]


def _prune_kernel_folders(base: Path, keep: str) -> None:
    """Remove ``base``'s ``kernels-*`` folders other than ``keep`` that nobody used for KEEP_DAYS days."""
    import shutil
    import time

    try:
        old = [p for p in base.iterdir() if p.name.startswith(KERNELS_PREFIX) and p.name != keep and p.is_dir()
               and not p.is_symlink() and time.time() - p.stat().st_mtime > KEEP_DAYS * 86400]
    except OSError:
        return
    for p in old:
        shutil.rmtree(p, ignore_errors=True)


def configure_numba() -> None:
    """Point numba's on-disk kernel cache at ``<base>/kernels-<digest>`` (module docstring), the base
    the user's NUMBA_CACHE_DIR or ``<cache>/numba``. A NUMBA_CACHE_DIR that already ends in a
    ``kernels-*`` folder (a process a run started) is taken as its base's."""
    base = Path(os.environ.get("NUMBA_CACHE_DIR") or cache_root() / "numba")  # empty: numba would use the source tree
    if base.name.startswith(KERNELS_PREFIX):
        base = base.parent
    keep = KERNELS_PREFIX + kernels_digest()
    chosen = base / keep
    os.environ["NUMBA_CACHE_DIR"] = str(chosen)
    if base.is_dir():
        _prune_kernel_folders(base, keep)
    try:
        chosen.mkdir(parents=True, exist_ok=True)
        usable = os.access(chosen, os.W_OK | os.X_OK)
    except OSError:
        usable = False
    if not usable:  # a read-only cache: numba would fall back to the source tree's __pycache__
        import tempfile

        os.environ["NUMBA_CACHE_DIR"] = str(Path(tempfile.gettempdir()) / f"numba-cache-harness-{os.getuid()}" / keep)
        return
    try:
        os.utime(chosen)  # in use: not pruned
    except OSError:
        pass


def numba_cache_dir() -> Path:
    return Path(os.environ.get("NUMBA_CACHE_DIR") or cache_root() / "numba")


def _pickles_ok(data: bytes, count: int) -> bool:
    """Whether ``data`` holds ``count`` complete pickles (opcodes scanned, nothing executed)."""
    buf = io.BytesIO(data)
    try:
        for _ in range(count):
            for _op in pickletools.genops(buf):
                pass
    except Exception:  # noqa: BLE001 - any malformed stream is damage
        return False
    return True


def repair_numba_cache(root: Path | None = None) -> list[Path]:
    """Remove the numba cache entries that are not complete pickles (an index ``.nbi`` holds two:
    numba's version and the overloads; a data file ``.nbc`` one). Returns the removed files."""
    root = root or numba_cache_dir()
    removed = []
    if not root.is_dir():
        return removed
    for path in sorted(root.rglob("*.nb[ic]")):
        try:
            ok = _pickles_ok(path.read_bytes(), 2 if path.suffix == ".nbi" else 1)
        except OSError:
            continue
        if not ok:
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed


def looks_like_damaged_cache(reason: str) -> bool:
    """Whether a run's failure reads like numba loading a damaged cache entry."""
    return any(s in reason for s in ("UnpicklingError", "pickle data was truncated", "EOFError: Ran out of input"))
