"""Temporary folders that know whether their owner is alive: a run's work folder, a batch's scratch.

:func:`make` creates the folder with a ``.owner`` file inside, locked (``flock``) by the creating
process for as long as it lives: the kernel drops the lock when the process dies, however it dies.
The folder is made under a staging name (``.harness-making-*``), owned there, and only then renamed
to its ``harness-*`` name: a ``harness-*`` folder never exists without its locked owner file.
:func:`sweep` (at the start of ``harness run``) removes the ``harness-*`` folders of ``$TMPDIR``
whose lock it can take: their owner is gone (``kill -9``, the OOM killer, a power cut) and nothing
else would ever remove them; and the staging folders of a harness killed while it made one (between
``mkdtemp`` and the lock: it left a folder no sweep could judge) once they are
:data:`STAGING_GRACE_S` old, or at once where their owner file is there and free. A lock is not
fooled by a reused pid, and holds across the pid namespaces of containers sharing ``/tmp``; a
``harness-*`` folder without ``.owner`` (another program's, an older harness's), or whose ``.owner`` is
not a pid file of this user's (another program's own ``.owner``, a FIFO, a link), is never touched.
A launched job's guard and the local pool's keeper remove their folders themselves when the harness
dies (:mod:`harness._core.jobguard`, :mod:`harness._core.poolhome`): the sweep catches the rest (an
in-process run's folder, a guard killed with its harness).
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
from pathlib import Path

OWNER = ".owner"
PREFIX = "harness-"
STAGING = ".harness-making-"  # a folder being made and owned, before its rename to its harness-* name
# a staging folder without an owner file this old is a dead maker's: making one takes microseconds
STAGING_GRACE_S = 60.0
_held: dict[str, int] = {}  # folder -> the descriptor holding its owner lock


def make(prefix: str, dir: str | os.PathLike | None = None) -> Path:  # noqa: A002 - tempfile's name
    """A new folder ``<dir>/<prefix>XXXXXXXXXXXX`` (``dir``: ``tempfile``'s default) owned by this
    process; it appears under that name with its owner lock already held."""
    parent = Path(dir if dir is not None else tempfile.gettempdir())
    while True:
        path = parent / f"{prefix}{secrets.token_hex(6)}"
        try:
            return make_at(path)
        except FileExistsError:  # 48 random bits taken: draw again
            continue


def make_at(path: str | os.PathLike) -> Path:
    """The new folder ``path`` (private to this user; FileExistsError if it exists) owned by this
    process: for a folder whose name someone must know before it exists. It is made and owned under
    a staging name beside ``path``, then renamed: killed in between, the sweep removes the staging folder."""
    path = Path(path)
    if os.path.lexists(path):
        raise FileExistsError(errno.EEXIST, "File exists", str(path))
    staging = Path(tempfile.mkdtemp(prefix=STAGING, dir=path.parent))  # mode 0o700
    try:
        fd = _own(staging)
        os.rename(staging, path)  # path is new (checked above; random names do not meet)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if fd is not None:
        _held[str(path)] = fd
    return path


def _own(path: Path) -> int | None:
    """Lock ``path/.owner`` for this process: its descriptor, or None on a filesystem without locks
    (an ordinary temp folder then, never swept)."""
    # locked before it gets the name the sweep looks for: a sweep never sees it unlocked
    fresh = path / f"{OWNER}.new"
    fd = os.open(fresh, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.rename(fresh, path / OWNER)
    except OSError:
        os.close(fd)
        fresh.unlink(missing_ok=True)
        return None
    return fd


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
        staged = list(Path(directory or tempfile.gettempdir()).glob(STAGING + "*"))
    except OSError:
        return removed
    for entry in staged:  # only make_at names these: without an owner file, its maker died before the lock
        try:
            young = time.time() - entry.lstat().st_mtime < STAGING_GRACE_S
            owned = os.path.lexists(entry / OWNER)
        except OSError:
            continue
        if not owned and not young and _ours(entry):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
        else:
            entries.append(entry)  # owned: judged by its lock, as the others
    for entry in entries:
        fd = _dead_owner(entry)
        if fd is None:  # alive, or not ours to judge
            continue
        try:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
        finally:
            os.close(fd)
    return removed


def _ours(entry: Path) -> bool:
    """``entry`` is a real folder (not a link) of this user: another user's, on a shared ``/tmp``, is theirs."""
    try:
        st = entry.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()


def _dead_owner(entry: Path) -> int | None:
    """The descriptor of ``entry``'s owner file, its lock taken (the owner is dead), or None: no owner
    file, its lock held (alive), or not one :func:`_own` writes -- a regular file of this user holding
    a pid. Another program's folder named like ours, with a ``.owner`` of its own, is never taken; a
    ``.owner`` that is a FIFO (any local user can make one in a shared ``/tmp``) hung every ``harness
    run`` in ``open()``: it is opened without blocking and without following a link."""
    if not _ours(entry):
        return None
    try:
        fd = os.open(entry / OWNER, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:  # no owner file (another program's, an older harness's), or a link
        return None
    try:
        st = os.fstat(fd)
        if not (stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid()
                and re.fullmatch(rb"[0-9]+\n", os.read(fd, 32))):
            raise OSError
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # not ours, or held: its owner is alive
        os.close(fd)
        return None
    return fd
