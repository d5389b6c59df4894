"""A child process notices that the process it works for has died, even by ``kill -9``.

The parent keeps the write end of a pipe and never writes to it; the child holds only the read
end. When the parent ends, however it ends, the kernel closes its descriptors and the child's read
returns end-of-file at once. Unlike ``prctl(PR_SET_PDEATHSIG)`` this follows the process, not the
thread that started the child (Python 3.12+ starts a ProcessPoolExecutor's workers from whichever
thread calls ``submit``), and unlike polling ``getppid()`` it works for a grandchild (a pool worker's
parent is multiprocessing's fork server, not the harness) and cannot be fooled by a reused pid.
A standard-library pool worker has no such watch (python/cpython#111873).

Users: a pool worker of ``--jobs N`` (:func:`watch`, from the pool's initializer) and the guard
around every launched MPI / torch job (:mod:`harness.jobguard`).

Also here: finding a job's processes by the entry their environment carries
(:func:`marked_processes`), since a job's processes may leave its process group (hydra's proxies
start MPI ranks in groups of their own).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Callable, Iterable


def pipe() -> tuple[int, int]:
    """(read end, write end): the parent keeps the write end open for as long as it lives and
    hands the read end to the child (``pass_fds``). Both are close-on-exec, so no other child of
    the parent inherits the write end (which would keep the pipe open after the parent died)."""
    return os.pipe()


def wait_for_eof(fd: int) -> None:
    """Block until every write end of the pipe is closed (the parent died or let go)."""
    while True:
        try:
            if not os.read(fd, 4096):
                return
        except InterruptedError:
            continue
        except OSError:  # the descriptor itself is gone: nothing left to watch
            return


def watch(fd_or_conn, on_death: Callable[[], None]) -> threading.Thread:
    """Run ``on_death()`` in a daemon thread as soon as the parent behind ``fd_or_conn`` (a pipe's
    read end: a descriptor or a ``multiprocessing`` Connection) is gone. ``on_death`` should end
    the process (``os._exit``) once it has cleaned up."""
    fd = fd_or_conn if isinstance(fd_or_conn, int) else fd_or_conn.fileno()

    def run():
        wait_for_eof(fd)
        on_death()

    t = threading.Thread(target=run, name="harness-lifeline", daemon=True)
    t.start()
    return t


def marked_processes(marker: bytes, exclude: Iterable[int] = ()) -> list[int]:
    """Pids of the live processes whose environment holds the entry ``marker`` (``b'KEY=VALUE'``,
    exactly), from ``/proc/PID/environ`` (ours to read: same user). ``exclude``: pids to leave out."""
    skip = {os.getpid(), *exclude}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        if has_marker(int(entry.name), marker):
            found.append(int(entry.name))
    return found


def has_marker(pid: int, marker: bytes) -> bool:
    """Whether process ``pid``'s environment holds ``marker`` (False once it is gone)."""
    try:
        return marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


def process_state(pid: int) -> str | None:
    """The one-letter state of process ``pid`` on this machine (R, S, D, T, Z, ...), None if there
    is none (a zombie, Z, has died and waits to be reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def kill_marked(marker: bytes, grace_s: float = 2.0, exclude: Iterable[int] = ()) -> None:
    """SIGTERM every process carrying ``marker``, then SIGKILL those still there after ``grace_s``
    (a stopped process never handles SIGTERM). Returns once none is left, or after another 5 s."""
    exclude = tuple(exclude)
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        pids = marked_processes(marker, exclude)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + wait_s
        while pids and time.monotonic() < deadline:
            time.sleep(0.05)
            pids = [p for p in pids if has_marker(p, marker)]  # a zombie's environment reads empty
        if not pids:
            return



SHM = Path("/dev/shm")


def shm_files(pattern: str) -> set[str]:
    """Names of the files in ``/dev/shm`` matching the glob ``pattern``."""
    try:
        return {p.name for p in SHM.glob(pattern)}
    except OSError:
        return set()


def shm_users(names: set[str]) -> dict[str, list[int]]:
    """``/dev/shm`` file name -> pids of the processes that map it (from ``/proc/PID/maps``)."""
    users: dict[str, list[int]] = {}
    for maps in Path("/proc").glob("[0-9]*/maps"):
        try:
            text = maps.read_text()
        except OSError:  # a process that ended meanwhile, or not ours to read
            continue
        if "/dev/shm/" in text:
            for n in names:
                if f"/dev/shm/{n}" in text:
                    users.setdefault(n, []).append(int(maps.parent.name))
    return users


def remove_orphaned_shm(pattern: str, before: set[str], marker: bytes | None = None,
                        wait_s: float = 5.0) -> list[str]:
    """Unlink the files of ``/dev/shm`` matching ``pattern`` that appeared since ``before``
    (:func:`shm_files`) and that no process maps any more (shared memory a killed job left in RAM
    until reboot: MPICH's segments are 3-4 MB each). ``marker``: the killed job's environment
    entry; its processes may still hold a mapping for a moment (waited for, up to ``wait_s``).
    A file another process maps is left alone. Returns the names removed."""
    new = shm_files(pattern) - before
    if not new:
        return []
    deadline = time.monotonic() + wait_s
    while marker is not None and time.monotonic() <= deadline:
        if not [pid for pids in shm_users(new).values() for pid in pids if has_marker(pid, marker)]:
            break
        time.sleep(0.05)
    users = shm_users(new)
    removed = []
    for name in sorted(n for n in new if not users.get(n)):
        try:
            (SHM / name).unlink()
            removed.append(name)
        except OSError:
            pass
    return removed
