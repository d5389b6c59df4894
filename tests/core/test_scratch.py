"""Scratch folders and the sweep: a process killed with SIGKILL while it makes its folder (after
``mkdtemp``, before or after its owner lock) leaves nothing the next sweep cannot remove, and a
living process's folder is never taken."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness._core import scratch
from conftest import ROOT

# a process that makes a scratch folder in DIR and SIGKILLs itself at STAGE of the making
KILLED_WHILE_MAKING = """
import os, signal, sys
from harness._core import scratch
stage, folder = sys.argv[1], sys.argv[2]
real_own = scratch._own
def own(path):
    if stage == "before-lock":      # the folder exists, no owner record yet: the old window
        os.kill(os.getpid(), signal.SIGKILL)
    fd = real_own(path)
    os.kill(os.getpid(), signal.SIGKILL)   # locked, not yet renamed
scratch._own = own
scratch.make("harness-t-", folder)
"""


def _killed_while_making(stage: str, folder: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", KILLED_WHILE_MAKING, stage, str(folder)], cwd=ROOT, timeout=60,
                          capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_killed_before_its_owner_lock_the_folder_is_swept_once_old(tmp_path):
    _killed_while_making("before-lock", tmp_path)
    left = list(tmp_path.iterdir())
    # no harness-* folder without an owner ever appears: what is left is the staging folder
    assert [p.name.startswith(scratch.STAGING) for p in left] == [True], left
    assert not (left[0] / scratch.OWNER).exists()
    assert scratch.sweep(tmp_path) == []  # young: it could be a living maker's, microseconds from its lock
    assert left[0].exists()
    _age(left[0], scratch.STAGING_GRACE_S + 5)
    assert scratch.sweep(tmp_path) == [left[0].name]
    assert list(tmp_path.iterdir()) == []


def test_killed_after_its_owner_lock_the_folder_is_swept_at_once(tmp_path):
    _killed_while_making("after-lock", tmp_path)
    left = list(tmp_path.iterdir())
    assert [p.name.startswith(scratch.STAGING) for p in left] == [True], left
    assert (left[0] / scratch.OWNER).exists()  # its lock died with it: no need to wait
    assert scratch.sweep(tmp_path) == [left[0].name]
    assert list(tmp_path.iterdir()) == []


def test_a_living_owners_folder_appears_owned_and_is_never_swept(tmp_path):
    made = scratch.make("harness-t-", tmp_path)
    try:
        assert made.name.startswith("harness-t-") and (made / scratch.OWNER).is_file()
        assert [p.name for p in tmp_path.iterdir()] == [made.name]  # no staging folder left beside it
        _age(made, 3600)
        assert scratch.sweep(tmp_path) == [] and made.is_dir()
        with pytest.raises(FileExistsError):
            scratch.make_at(made)
    finally:
        scratch.remove(made)
    assert list(tmp_path.iterdir()) == []


def test_a_foreign_ownerless_folder_is_never_touched(tmp_path):
    (tmp_path / "harness-other-program").mkdir()
    _age(tmp_path / "harness-other-program", 3600)
    assert scratch.sweep(tmp_path) == []
    assert (tmp_path / "harness-other-program").is_dir()


def test_another_programs_folder_named_like_ours_is_never_taken_and_never_hangs_a_run(tmp_path):
    """Found by the adversarial tester (breaker26), through `harness run` as a user types it: a
    ``harness-*`` folder of another program with a ``.owner`` of its own (text, not a pid) was removed
    with its files; one whose ``.owner`` is a FIFO (any local user can make one in a shared /tmp) hung
    every ``harness run`` in the sweep's ``open()``. A dead harness's folder beside them is still swept."""
    from conftest import run_cli

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    (tmp / "harness-notes").mkdir()
    (tmp / "harness-notes" / ".owner").write_text("alice\n")
    (tmp / "harness-notes" / "precious.txt").write_text("keep me")
    (tmp / "harness-fifo").mkdir()
    os.mkfifo(tmp / "harness-fifo" / ".owner")
    (tmp / "harness-link").mkdir()
    os.symlink(tmp / "harness-notes" / "precious.txt", tmp / "harness-link" / ".owner")
    dead = subprocess.run([sys.executable, "-c", "import os, signal; from harness._core import scratch; "
                           f"scratch.make('harness-t-', {str(tmp)!r}); os.kill(os.getpid(), signal.SIGKILL)"],
                          cwd=ROOT, timeout=60)
    assert dead.returncode == -signal.SIGKILL
    (dead_dir,) = tmp.glob("harness-t-*")
    proc = run_cli("run", "-p", "sgd-serial", "-w", "logreg", "--workload-param", "n=200", "--workload-param", "d=5",
                   "--budget", "updates=50", "--no-report", "-q", cwd=tmp_path, timeout=60,
                   env={"TMPDIR": str(tmp), "HARNESS_STORE": str(tmp_path / "s.db"),
                        "HARNESS_CACHE": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp.iterdir()) == ["harness-fifo", "harness-link", "harness-notes"]
    assert (tmp / "harness-notes" / "precious.txt").read_text() == "keep me" and not dead_dir.exists()
