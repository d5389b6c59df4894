"""The guard between the harness and a launched job (mpiexec, the torch launcher, torchrun).

``python -P -m harness.jobguard FD WORKDIR -- ARGV...`` starts ARGV in its own process group (the
job's session, made by :func:`harness.launch.run_job`), passes on its exit status, and watches the
harness through the pipe whose read end is FD (:mod:`harness.lifeline`). When the harness dies
without ending the job (``kill -9``, the OOM killer), the guard ends it at once: SIGTERM to every
process of the job (its process group and every process whose environment carries the job's
``HARNESS_SPEC`` entry: hydra's proxies start MPI ranks in groups of their own), SIGKILL 2 s later
to what is left (a stopped rank), then it removes WORKDIR (the run's folder) and exits. Without
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

from .lifeline import kill_marked, watch

SPEC = "spec.json"


def marker(workdir: str) -> bytes:
    """The environment entry every process of the job carries (``run_job`` sets it)."""
    return f"HARNESS_SPEC={os.path.join(workdir, SPEC)}".encode()


def orphaned(workdir: str) -> None:
    """The harness is gone: end every process of the job, remove its folder, exit (the SIGTERM
    this sends to the job's group, ours, is ignored by :func:`main`'s handler from now on)."""
    try:
        try:
            os.killpg(0, signal.SIGTERM)
        except OSError:
            pass
        kill_marked(marker(workdir), grace_s=2.0)
        shutil.rmtree(workdir, ignore_errors=True)
    finally:
        os._exit(1)


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        sys.stderr.write("usage: python -m harness.jobguard FD WORKDIR -- ARGV...\n")
        return 2
    fd, workdir, cmd = int(argv[0]), argv[1], argv[3:]
    dying = threading.Event()

    def on_sigterm(signum, _frame):  # the harness ending the job: die of it; our own, ending an orphan: ignore it
        if not dying.is_set():
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, on_sigterm)
    job = subprocess.Popen(cmd)  # inherits our group, stdio and environment; not FD (close_fds)

    def on_death():
        dying.set()
        orphaned(workdir)

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
