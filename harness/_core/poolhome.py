"""The local pool's one folder in ``$TMPDIR``, and the process that removes it once the harness is gone.

Everything a ``--jobs N`` pool writes under ``$TMPDIR`` lives in one ``harness-pool-*`` folder
(:func:`home`): multiprocessing's own temp folder (the fork server's ``listener-*`` socket; by
default a ``pymp-*`` folder of ``$TMPDIR`` that only this process's exit handlers remove, which
``kill -9`` skips, and that the start-of-run sweep does not know) and each batch's job folders,
the runs' work folders inside them.

Its keeper, ``python -m harness._core.poolhome FD FOLDER...``, starts before the folder is made and
removes it when this process is gone, however it ended: it reads end-of-file on a pipe (FD) only
this process holds (:mod:`harness._core.lifeline`). Started first, it leaves no moment at which
the folder exists and nothing would remove it: the pool's workers, which watch this process too,
exist only once the fork server has imported the plugins, seconds later (killed before, the
harness left ``pymp-*`` behind for good). The keeper runs in a session of its own, so a Ctrl-C at
the terminal or a kill of this process's group does not end it; it exits after its one removal.
A harness that exits normally removes the folder itself. Should the keeper be killed too, the
folder's owner lock (:mod:`harness._core.scratch`) lets the next ``harness run``'s sweep remove it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from . import lifeline, scratch

# how long the keeper retries its removal: a job's processes may still write into their run
# folder while their guard ends them (SIGTERM, then SIGKILL 2 s later)
REMOVE_WITHIN_S = 8.0

# the longest path of an AF_UNIX socket (``sun_path`` holds it with its terminating NUL)
SUN_PATH = 108 if sys.platform.startswith("linux") else 104
LISTENER = "listener-XXXXXXXX"  # the name multiprocessing gives the fork server's socket

_home: Path | None = None


def home() -> Path:
    """This process's pool folder, made at first use with its keeper started, multiprocessing's
    temp folder pointed at it (where multiprocessing had not made one yet: else that one is the
    keeper's too), and removed when this process exits.

    A ``$TMPDIR`` too long for the fork server's socket path (AF_UNIX: at most SUN_PATH - 1 bytes)
    gets its sockets in a twin folder of the system's ``/tmp``, as newer Pythons' multiprocessing
    does (python/cpython#132124; here it failed: "AF_UNIX path too long"); the keeper removes both."""
    global _home
    if _home is not None:
        return _home
    import multiprocessing.process
    import multiprocessing.util

    from .launch import _pythonpath

    name = f"{scratch.PREFIX}pool-{uuid.uuid4().hex[:12]}"
    folder = Path(tempfile.gettempdir()) / name
    sockets = folder if len(os.fsencode(folder / LISTENER)) < SUN_PATH else Path("/tmp") / name
    folders = list(dict.fromkeys([folder, sockets]))
    # multiprocessing.util.get_temp_dir() keeps the folder it made here; given one, it uses that
    config = multiprocessing.process.current_process()._config
    earlier = [config["tempdir"]] if config.get("tempdir") else []
    read, write = lifeline.pipe()
    try:
        # -S -P: the standard library and this package only (found through PYTHONPATH), a fast start
        keeper = subprocess.Popen([sys.executable, "-S", "-P", "-m", __name__, str(read), *map(str, folders), *earlier],
                                  pass_fds=(read,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True,
                                  env={**os.environ, "PYTHONPATH": _pythonpath()})
    except BaseException:
        os.close(write)
        raise
    finally:
        os.close(read)
    made: list[Path] = []
    try:
        for f in folders:
            made.append(scratch.make_at(f))
    except BaseException:  # the keeper must not remove a folder of that name that is not ours
        keeper.kill()
        keeper.wait()
        os.close(write)
        for f in made:
            scratch.remove(f)
        raise
    config.setdefault("tempdir", str(sockets))
    multiprocessing.util.Finalize(None, _exiting, args=(folders, write, keeper), exitpriority=-100)
    _home = folder
    return folder


def _exiting(folders: list[Path], write: int, keeper: subprocess.Popen) -> None:
    """This process exits: the folders go, and the keeper, told by its pipe, ends."""
    for f in folders:
        scratch.remove(f)
    os.close(write)
    try:
        keeper.wait(5)
    except subprocess.TimeoutExpired:
        pass


def remove(folders: list[str], within_s: float = REMOVE_WITHIN_S) -> None:
    """Remove ``folders`` and everything in them, again while something still writes there (a file
    made during the removal keeps its folder), for at most ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while True:
        for f in folders:
            shutil.rmtree(f, ignore_errors=True)
        if not any(os.path.lexists(f) for f in folders) or time.monotonic() > deadline:
            return
        time.sleep(0.1)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        sys.stderr.write("usage: python -m harness._core.poolhome FD FOLDER...\n")
        return 2
    lifeline.wait_for_eof(int(argv[0]))
    remove(argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
