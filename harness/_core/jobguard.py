"""The guard between the harness and a launched job (mpiexec, the torch launcher, torchrun).

``python -P -m harness._core.jobguard FD WORKDIR [--shm GLOB] -- ARGV...`` starts ARGV in its own process group (the
job's session, made by :func:`harness._core.launch.run_job`), passes on its exit status, and watches the
harness through the pipe whose read end is FD (:mod:`harness._core.lifeline`). When the harness dies
without ending the job (``kill -9``, the OOM killer), the guard ends it at once: SIGTERM to every
process of the job (its process group and every process whose environment carries the job's
``HARNESS_SPEC`` entry: hydra's proxies start MPI ranks in groups of their own), SIGKILL 2 s later
to what is left (a stopped rank), then it removes WORKDIR (the run's folder) and the files of
``/dev/shm`` matching GLOB that appeared since the job started and that no process maps any more
(MPICH's segments: 3-4 MB of RAM each, until reboot), and exits. Without
it a job of a killed harness ran until its budget or ``MPIEXEC_TIMEOUT`` (615 s by default), the
torch launcher had no bound at all, and the run's folder stayed in ``$TMPDIR`` for good.

Only the standard library is imported here, so the guard starts in a few tens of milliseconds.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading

from .lifeline import kill_marked, remove_orphaned_shm, shm_files, watch

SPEC = "spec.json"


def marker(workdir: str) -> bytes:
    """The environment entry every process of the job carries (``run_job`` sets it)."""
    return f"HARNESS_SPEC={os.path.join(workdir, SPEC)}".encode()


def orphaned(workdir: str, shm: str | None = None, shm_before: set[str] = frozenset()) -> None:
    """The harness is gone: end every process of the job, remove its folder, exit (the SIGTERM
    this sends to the job's group, ours, is ignored by :func:`main`'s handler from now on)."""
    try:
        try:
            os.killpg(0, signal.SIGTERM)
        except OSError:
            pass
        kill_marked(marker(workdir), grace_s=2.0)
        shutil.rmtree(workdir, ignore_errors=True)
        if shm:
            remove_orphaned_shm(shm, shm_before)
    finally:
        os._exit(1)


def main(argv: list[str]) -> int:
    shm = argv[3] if len(argv) > 3 and argv[2] == "--shm" else None
    rest = argv[4:] if shm else argv[2:]
    if len(argv) < 3 or not rest or rest[0] != "--" or len(rest) < 2:
        sys.stderr.write("usage: python -m harness._core.jobguard FD WORKDIR [--shm GLOB] -- ARGV...\n")
        return 2
    fd, workdir, cmd = int(argv[0]), argv[1], rest[1:]
    shm_before = shm_files(shm) if shm else set()
    dying = threading.Event()

    def on_sigterm(signum, _frame):  # the harness ending the job: die of it; our own, ending an orphan: ignore it
        if not dying.is_set():
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, on_sigterm)
    job = subprocess.Popen(cmd)  # inherits our group, stdio and environment; not FD (close_fds)

    def on_death():
        dying.set()
        orphaned(workdir, shm, shm_before)

    watch(fd, on_death)
    rc = job.wait()
    if dying.is_set():  # the job ended because the harness died: the watch thread exits for us
        threading.Event().wait()
    if rc < 0:  # killed by a signal: die of the same one, so the harness reads the same status
        signal.signal(-rc, signal.SIG_DFL)
        os.kill(os.getpid(), -rc)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
