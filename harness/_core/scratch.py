"""Temporary folders that know whether their owner is alive: a run's work folder, a batch's scratch.

:func:`make` creates the folder with a ``.owner`` file inside, locked (``flock``) by the creating
process for as long as it lives: the kernel drops the lock when the process dies, however it dies.
:func:`sweep` (at the start of ``harness run``) removes the ``harness-*`` folders of ``$TMPDIR``
whose lock it can take: their owner is gone (``kill -9``, the OOM killer, a power cut) and nothing
else would ever remove them. A lock is not fooled by a reused pid, and holds across the pid
namespaces of containers sharing ``/tmp``; a folder without ``.owner`` (another program's, an
older harness's, one being made) is never touched. A launched job's guard and the local pool's
keeper remove their folders themselves when the harness dies (:mod:`harness._core.jobguard`,
:mod:`harness._core.poolhome`): the sweep catches the rest (an in-process run's folder, a guard
killed with its harness).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from pathlib import Path

OWNER = ".owner"
PREFIX = "harness-"
_held: dict[str, int] = {}  # folder -> the descriptor holding its owner lock


def make(prefix: str, dir: str | os.PathLike | None = None) -> Path:  # noqa: A002 - tempfile's name
    """A new folder ``<dir>/<prefix>XXXXXXXX`` (``dir``: ``tempfile``'s default) owned by this process."""
    return _own(Path(tempfile.mkdtemp(prefix=prefix, dir=dir)))


def make_at(path: str | os.PathLike) -> Path:
    """The new folder ``path`` (private to this user; FileExistsError if it exists) owned by this
    process: for a folder whose name someone must know before it exists."""
    path = Path(path)
    path.mkdir(mode=0o700)
    return _own(path)


def _own(path: Path) -> Path:
    # locked before it gets the name the sweep looks for: a sweep never sees it unlocked
    fresh = path / f"{OWNER}.new"
    fd = os.open(fresh, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.rename(fresh, path / OWNER)
    except OSError:  # a filesystem without locks: an ordinary temp folder, never swept
        os.close(fd)
        fresh.unlink(missing_ok=True)
        return path
    _held[str(path)] = fd
    return path


def remove(path: str | os.PathLike) -> None:
    """Remove a folder made by :func:`make` and let go of its lock."""
    shutil.rmtree(path, ignore_errors=True)
    fd = _held.pop(str(path), None)
    if fd is not None:
        os.close(fd)


def sweep(directory: str | os.PathLike | None = None) -> list[str]:
    """Remove the ``harness-*`` folders of ``directory`` (``$TMPDIR``) whose owner died; returns their names."""
    removed = []
    try:
        entries = list(Path(directory or tempfile.gettempdir()).glob(PREFIX + "*"))
    except OSError:
        return removed
    for entry in entries:
        try:
            fd = os.open(entry / OWNER, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:  # no owner file: not ours to judge
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: its owner is alive
            os.close(fd)
            continue
        try:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
        finally:
            os.close(fd)
    return removed
