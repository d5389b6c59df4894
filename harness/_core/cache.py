"""The harness cache folder ($HARNESS_CACHE, else ~/.cache/harness): workload constants, file
hashes, and numba's compiled kernels (``numba/``), kept out of the source tree. It is private to
the user (created 0700; :func:`check_private` runs before every command), since numba's entries
are pickles that run code when loaded.

:func:`configure_numba` sets ``NUMBA_CACHE_DIR`` before numba is imported (``harness/__init__``
calls it, so every process of a run, ranks included, agrees); a user's own ``NUMBA_CACHE_DIR``
wins. :func:`repair_numba_cache` finds cache entries that cannot be read back (a truncated or
corrupted pickle), removes them, and says which: numba then recompiles those kernels.
"""

from __future__ import annotations

import io
import os
import pickletools
from pathlib import Path


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

    for path, what in ((cache_root(), "cache folder"), (numba_cache_dir(), "numba cache folder")):
        if path.is_dir():
            private_dir(path, what)


def configure_numba() -> None:
    """Point numba's on-disk kernel cache at ``<cache>/numba`` unless the user chose a folder."""
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_root() / "numba"))


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
