"""Nothing outlives the harness: ``kill -9`` of the harness (a batch on ``--jobs 2``, a serial MPI or
torch run), ``kill -9`` of one pool worker (the OOM killer), and a rank stopped with SIGSTOP (hung).
Each test does it for real and then checks, by the environment marker every process of the run
carries (not by name): no process left 10 s after the death, no folder left in the test's private
``$TMPDIR``, the exact message and exit code."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from harness.run.store import Store
from conftest import ROOT, run_cli, tagged_processes

SGD = ["-p", "sgd-serial", "-w", "logreg", "--workload-param", "n=3000", "--workload-param", "d=60",
       "--param", "eta=0.01"]
MPI = ["-p", "asysvrg-mpi", "-w", "logreg", "-n", "2", "--workload-param", "n=2000", "--workload-param", "d=20",
       "--param", "eta=0.05"]
TORCH = ["-p", "clars-torch", "-w", "mlp", "-n", "2", "--workload-param", "n_train=96", "--workload-param", "width=8",
         "--workload-param", "depth=1", "--param", "b=0"]


def _wait_for(cond, timeout: float, what: str, proc=None, step: float = 0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the command ended before {what}: rc {proc.returncode}, {proc.communicate()}")
        time.sleep(step)
    raise AssertionError(f"timed out ({timeout:g} s) waiting for {what}")


class Harness:
    """``harness ARGS`` in the background with a private TMPDIR and a marker in its environment."""

    def __init__(self, tmp_path: Path, *args: str, tmp: Path | None = None):
        self.tag = f"leftover-test-{uuid.uuid4().hex}"
        self.tmp = tmp or tmp_path / "tmp"
        self.tmp.mkdir(exist_ok=True)
        env = {**os.environ, "TMPDIR": str(self.tmp), "HARNESS_LEFTOVER_TEST_TAG": self.tag}
        self.proc = subprocess.Popen([sys.executable, "-m", "harness.cli", *args, "--no-report", "-q"], cwd=ROOT,
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)

    def processes(self) -> list[str]:
        return tagged_processes(self.tag)

    def left_in_tmp(self) -> list[str]:
        return sorted(str(p.relative_to(self.tmp)) for p in self.tmp.iterdir())

    def kill9_and_check_nothing_is_left(self) -> None:
        self.proc.kill()
        self.proc.communicate(timeout=30)
        died = time.time()
        try:
            _wait_for(lambda: not self.processes() and not self.left_in_tmp(), 10,
                      "no process and no folder of the run 10 s after the harness died")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {self.processes()}, {self.left_in_tmp()}") from None
        assert time.time() - died < 10.5

    def finish(self, timeout: float) -> tuple[int, str]:
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"harness still running after {timeout:g} s") from None
        return self.proc.returncode, err

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.communicate()
        for pid in [int(p.split(":")[0]) for p in self.processes()]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


@pytest.fixture
def harness(tmp_path, tmp_path_factory):
    started: list[Harness] = []

    def start(*args: str) -> Harness:
        # a short $TMPDIR (the pytest base folder's, not the test's): the pool's socket path fits
        # in AF_UNIX's 107 bytes, so the pool keeps everything in $TMPDIR, as most users' do
        started.append(Harness(tmp_path, *args, tmp=tmp_path_factory.mktemp("tmp")))
        return started[-1]

    yield start
    for h in started:
        h.close()


def _warm(tmp_path, *args):
    """The workload's constants cached and the kernels compiled before the clock starts."""
    run_cli("run", *args, "--no-report", "-q", "--store", str(tmp_path / "warm.db"), check=True)


def _mapped_shm(procs, pattern: str) -> set[str]:
    """The ``/dev/shm`` files matching ``pattern`` that these processes (``tagged_processes``) map."""
    names = set()
    for pid in (int(p.split(":")[0]) for p in procs):
        try:
            maps = Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            continue
        names.update(m.group(1) for m in re.finditer(rf"/dev/shm/({pattern})", maps))
    return names


def _unlinked(names: set[str], timeout: float) -> None:
    _wait_for(lambda: not [s for s in names if Path("/dev/shm", s).exists()], timeout, f"{sorted(names)} to be unlinked")


# -- item 1: kill -9 of a batch on --jobs 2 ---------------------------------------------------------------
@pytest.mark.slow
def test_kill_9_of_a_jobs_2_batch_leaves_no_process_semaphore_or_folder(tmp_path, harness):
    _warm(tmp_path, *SGD, "--budget", "updates=10")
    suite = tmp_path / "batch.toml"
    suite.write_text('name = "killbatch"\n[defaults]\nworkload = "logreg"\nworkload_params = { n = 3000, d = 60 }\n'
                     '[[run]]\nplugin = "sgd-serial"\nparams = { eta = 0.01 }\nbudget = "seconds=120"\nseeds = 4\n')
    h = harness("run", str(suite), "--jobs", "2", "--force")
    _wait_for(lambda: len(list(h.tmp.rglob("harness-sgd-serial-*"))) == 2, 120, "both jobs to start", h.proc)
    procs = h.processes()
    # the harness, the fork server, two workers and the resource tracker
    assert len(procs) >= 5, procs
    sems = _mapped_shm(procs, r"sem\.mp-\S+")
    assert sems, procs  # the pool's queues' locks
    # all the pool writes in $TMPDIR in one folder: the jobs' folders and multiprocessing's socket
    assert [p.name[:13] for p in h.tmp.iterdir()] == ["harness-pool-"], h.left_in_tmp()
    assert list(h.tmp.glob("harness-pool-*/jobs-*")) and list(h.tmp.glob("harness-pool-*/listener-*"))
    h.kill9_and_check_nothing_is_left()
    # the resource tracker, the last to go, unlinked the pool's semaphores
    _unlinked(sems, 5)



# the moments of a --jobs 2 batch's start at which it is killed: (what to wait for, then how long;
# "+0 s": as soon as the pool's first folder appears).
# The pool's folders are made before its fork server has imported the plugins (seconds) and so before
# any worker watches the harness: killed then, multiprocessing's pymp-* folder was left for good
# (3/3 kills at "+0 s"; 0/9 at the other moments)
KILL_MOMENTS = {
    "+0 s": (lambda tmp: any(tmp.glob("harness-*")), 0.0),
    "+0.3 s": (lambda tmp: any(tmp.glob("harness-*")), 0.3),
    "+1 s": (lambda tmp: any(tmp.glob("harness-*")), 1.0),
    "first job": (lambda tmp: any(tmp.rglob("job-*.pid")), 0.0),
}
REPEATS = 3
BATCH = ('name = "killstart"\n[defaults]\nworkload = "logreg"\nworkload_params = { n = 3000, d = 60 }\n'
         '[[run]]\nplugin = "sgd-serial"\nparams = { eta = 0.01 }\nbudget = "seconds=120"\nseeds = 4\n')


@pytest.mark.slow
@pytest.mark.parametrize("moment", list(KILL_MOMENTS))
def test_kill_9_at_any_moment_of_a_jobs_2_batch_start_leaves_nothing(tmp_path, tmp_path_factory, moment):
    """Killed at the moment REPEATS times, each time in a fresh $TMPDIR: no process of it 10 s after
    the harness died, and nothing of it in $TMPDIR (no pool folder, no multiprocessing ``pymp-*``),
    without waiting for the next run's sweep."""
    suite = tmp_path / "batch.toml"
    suite.write_text(BATCH)
    ready, after_s = KILL_MOMENTS[moment]
    left = []
    for _ in range(REPEATS):
        h = Harness(tmp_path, "run", str(suite), "--jobs", "2", "--force", tmp=tmp_path_factory.mktemp("tmp"))
        try:
            _wait_for(lambda: ready(h.tmp), 120, moment, h.proc, step=0.005)
            time.sleep(after_s)
            try:
                h.kill9_and_check_nothing_is_left()
            except AssertionError as exc:
                left.append(str(exc))
        finally:
            h.close()
    assert not left, f"{len(left)}/{REPEATS} kills at {moment} left something: {left}"


@pytest.mark.slow
def test_a_tmpdir_too_long_for_a_socket_path_runs_the_pool_and_leaves_nothing(tmp_path):
    """A $TMPDIR whose pool socket path passes AF_UNIX's 107 bytes (was: "harness: error: AF_UNIX path
    too long", exit 2): the sockets go to a twin folder in /tmp, the jobs' folders stay in $TMPDIR,
    and after ``kill -9`` neither is left."""
    suite = tmp_path / "batch.toml"
    suite.write_text(BATCH)
    long_tmp = tmp_path / ("t" * max(1, 110 - len(str(tmp_path))))
    h = Harness(tmp_path, "run", str(suite), "--jobs", "2", "--force", tmp=long_tmp)
    try:
        _wait_for(lambda: any(h.tmp.rglob("job-*.pid")), 120, "the first job", h.proc)
        pool = next(h.tmp.glob("harness-pool-*"))
        twin = Path("/tmp", pool.name)
        assert list(twin.glob("listener-*")) and not list(pool.glob("listener-*")), (h.left_in_tmp(), twin)
        h.kill9_and_check_nothing_is_left()
        assert not twin.exists()
    finally:
        h.close()


# -- item 2: kill -9 of a serial harness during a launched job ---------------------------------------------
def _kill9_during_a_launched_job(h):
    _wait_for(lambda: any(p.stat().st_size > 0 for p in h.tmp.glob("harness-*/points.jsonl")), 180,
              "the first measured point", h.proc)
    procs = h.processes()
    assert len(procs) >= 4, procs  # the harness, the guard, the launcher, the ranks
    segments = _mapped_shm(procs, r"mpich_shm_\S+")  # MPICH's, 3-4 MB of RAM each
    h.kill9_and_check_nothing_is_left()
    _unlinked(segments, 1)


@pytest.mark.mpi
@pytest.mark.slow
def test_kill_9_of_the_harness_ends_its_mpi_job_and_removes_the_run_folder(tmp_path, harness):
    h = harness("run", *MPI, "--budget", "seconds=120", "--timeout", "300")
    _kill9_during_a_launched_job(h)


@pytest.mark.torch
@pytest.mark.slow
def test_kill_9_of_the_harness_ends_its_torch_job_and_removes_the_run_folder(tmp_path, harness):
    h = harness("run", *TORCH, "--budget", "seconds=120", "--timeout", "300")
    _kill9_during_a_launched_job(h)


# -- item 3: kill -9 of one pool worker ---------------------------------------------------------------------
@pytest.mark.slow
def test_a_pool_worker_killed_fails_its_run_only_and_the_batch_goes_on(tmp_path, harness):
    _warm(tmp_path, *SGD, "--budget", "updates=10")
    suite = tmp_path / "batch.toml"
    suite.write_text('name = "oom"\n[defaults]\nworkload = "logreg"\nworkload_params = { n = 3000, d = 60 }\n'
                     '[[run]]\nplugin = "sgd-serial"\nparams = { eta = 0.01 }\nbudget = "seconds=4"\nseeds = 4\n')
    h = harness("run", str(suite), "--jobs", "2")
    _wait_for(lambda: len(list(h.tmp.glob("harness-pool-*/jobs-*/job-*.pid"))) == 2, 120, "two runs to start", h.proc)
    first = min(h.tmp.glob("harness-pool-*/jobs-*/job-*.pid"), key=lambda p: int(p.stem.split("-")[1]))
    victim = int(first.read_text())
    time.sleep(1.0)
    os.kill(victim, signal.SIGKILL)  # as the out-of-memory killer does
    rc, err = h.finish(timeout=180)
    assert rc == 1, err  # a run could not be carried out
    assert "Traceback" not in err and "BrokenProcessPool" not in err, err
    runs = json.loads(run_cli("runs", "--json", check=True).stdout)
    assert sorted((r["seed"], r["status"]) for r in runs) == [(0, "error"), (1, "budget"), (2, "budget"),
                                                              (3, "budget")], runs
    lost = next(r for r in runs if r["status"] == "error")
    assert lost["reason"] == (f"local job failed: its worker process (pid {victim}) died: killed by SIGKILL "
                              "(as the out-of-memory killer does)"), lost
    _wait_for(lambda: not h.processes() and not h.left_in_tmp(), 10, "the batch's processes and folders to go")


# -- item 4: a rank stopped with SIGSTOP is named within hung_after_s -------------------------------------
HUNG_AFTER_S = 15  # the rank's heartbeat thread beats every second; 15 s holds on a loaded machine


def _stop_a_rank(h, rank: int):
    beat = None

    def beating():
        nonlocal beat
        found = list(h.tmp.glob(f"harness-*/beat-{rank}"))
        beat = found[0] if found else None
        return beat is not None and any(p.stat().st_size > 0 for p in h.tmp.glob("harness-*/points.jsonl"))

    _wait_for(beating, 180, f"rank {rank} to beat and the first point", h.proc)
    pid = int(beat.read_text())
    os.kill(pid, signal.SIGSTOP)
    stopped = time.time()
    rc, err = h.finish(timeout=HUNG_AFTER_S + 60)
    took = time.time() - stopped
    assert rc == 1, err
    assert HUNG_AFTER_S <= took < HUNG_AFTER_S + 30, took  # well before the 300 s timeout
    run = json.loads(run_cli("runs", "--json", check=True).stdout)[0]
    assert run["status"] == "error", run
    said = re.fullmatch(rf"rank {rank}: no heartbeat for (\d+) s from pid {pid} \(its process is stopped\); "
                        r"the job was stopped", run["reason"])
    assert said and HUNG_AFTER_S <= int(said.group(1)) < HUNG_AFTER_S + 10, run["reason"]
    assert Store(os.environ["HARNESS_STORE"]).load(run["id"]).info["failed_rank"] == rank
    _wait_for(lambda: not h.processes() and not h.left_in_tmp(), 10, "the job's processes and folder to go")


@pytest.mark.mpi
@pytest.mark.slow
def test_a_stopped_mpi_rank_is_named_long_before_the_timeout(tmp_path, harness):
    h = harness("run", *MPI, "--budget", "seconds=200", "--timeout", "300", "--option", f"hung_after_s={HUNG_AFTER_S}")
    _stop_a_rank(h, 1)


@pytest.mark.torch
@pytest.mark.slow
def test_a_stopped_torch_rank_is_named_not_the_healthy_rank_0(tmp_path, harness):
    h = harness("run", *TORCH, "--budget", "seconds=200", "--timeout", "300",
                "--option", f"hung_after_s={HUNG_AFTER_S}")
    _stop_a_rank(h, 1)


# -- a rank killed with SIGKILL is named: the real rank, or the process mpiexec started ---------------------
@pytest.mark.mpi
@pytest.mark.slow
@pytest.mark.parametrize("victim", ["rank", "launched"])
def test_an_mpi_rank_killed_with_sigkill_fails_the_run_naming_it(tmp_path, harness, victim):
    """``kill -9`` of rank 1: of the real rank (the pid in its heartbeat file; its supervisor records
    the signal) or of its supervisor, the process ``mpiexec`` started (nothing of ours sees it die).
    ``mpiexec.gforker`` then ends the other ranks and exits 0; the run still fails at once, naming
    rank 1, from the exit record rank 1 alone did not leave. (Under hydra, the fallback without
    gforker, the second case ends as before: "job exited with code 9", hydra having killed the rest.)"""
    import psutil

    from harness.plugins.launchers.mpiexec import hydra

    if victim == "launched" and hydra():
        pytest.skip("no mpiexec.gforker here: hydra's mpiexec runs one-machine jobs")
    h = harness("run", *MPI, "--budget", "seconds=200", "--timeout", "300")
    _wait_for(lambda: list(h.tmp.glob("harness-*/beat-1")) and any(
        p.stat().st_size > 0 for p in h.tmp.glob("harness-*/points.jsonl")), 180, "rank 1 to beat and the first point",
              h.proc)
    real = int(next(h.tmp.glob("harness-*/beat-1")).read_text())
    pid = real if victim == "rank" else psutil.Process(real).ppid()  # its supervisor: what mpiexec started
    os.kill(pid, signal.SIGKILL)
    killed = time.time()
    rc, err = h.finish(timeout=60)
    assert rc == 1, err
    assert time.time() - killed < 30  # at once, not at the 300 s timeout
    run = json.loads(run_cli("runs", "--json", check=True).stdout)[0]
    assert run["status"] == "error", run
    said = {"rank": "rank 1: process died without an error report (killed by signal 9)",
            "launched": "rank 1: died without an exit record: its process was killed where no process of the "
                        "harness could see it"}[victim]
    assert run["reason"].startswith(said), run["reason"]
    assert Store(os.environ["HARNESS_STORE"]).load(run["id"]).info["failed_rank"] == 1
    _wait_for(lambda: not h.processes() and not h.left_in_tmp(), 10, "the job's processes and folder to go")


def test_heartbeat_watch_names_the_rank_whose_file_stopped_changing(tmp_path):
    """Judged by this process's clock: a beat file whose mtime does not move is hung after
    hung_after_s, one that moves is not, one removed (a finished rank) is no longer watched."""
    from harness._core.launch import HeartbeatWatch

    (tmp_path / "beat-0").write_text(str(os.getpid()))
    (tmp_path / "beat-1").write_text("999999999")
    watch = HeartbeatWatch(tmp_path, hung_after_s=0.5)
    assert watch.hung() is None
    for _ in range(8):
        time.sleep(0.1)
        os.utime(tmp_path / "beat-0")
        os.utime(tmp_path / "beat-1")
        assert watch.hung() is None
    (tmp_path / "beat-1").unlink()
    assert watch.hung() is None  # finished: not judged
    time.sleep(0.7)
    hung = watch.hung()
    assert hung is not None and hung.rank == 0, hung
    assert re.fullmatch(rf"rank 0: no heartbeat for \d+ s from pid {os.getpid()} \(hung\); the job was stopped",
                        str(hung)), hung


# -- item 20: small leftovers --------------------------------------------------------------------------------
def test_a_run_whose_data_is_refused_leaves_no_run_folder(tmp_path):
    bad = tmp_path / "bad.svm"
    bad.write_text("+1 1:0.5\n-1 2:abc\n")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = run_cli("run", "-p", "sgd-serial", "-w", "libsvm", "--workload-param", f"path={bad}", "--budget",
                   "updates=10", "--no-report", "-q", env={"TMPDIR": str(tmp)})
    assert (proc.returncode, proc.stderr) == (2, f"harness: error: {bad}:2: malformed LIBSVM token '2:abc': "
                                                 "expected integer index:number\n")
    assert list(tmp.iterdir()) == []  # was: an empty harness-sgd-serial-* folder per refused run


def test_a_store_that_cannot_be_created_leaves_no_empty_database(tmp_path):
    """A file-size limit of 0 (``ulimit -f 0``; SIGXFSZ ignored, so a write fails with EFBIG as on a
    full disk): SQLite creates the file, then cannot write its schema."""
    import resource

    db = tmp_path / "new.db"

    def no_room():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", *SGD, "--budget", "updates=10", "--store",
                           str(db), "--no-report", "-q"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          preexec_fn=no_room)
    assert (proc.returncode, proc.stderr) == (2, f"harness: error: cannot open store {db} for writing: "
                                                 "disk I/O error\n")
    assert list(tmp_path.iterdir()) == []  # was: a 0-byte new.db, taken for a store next time


# -- the sweep: a folder whose owner died is removed by the next `harness run` ---------------------------------
@pytest.mark.slow
def test_the_next_run_removes_the_folder_of_a_killed_in_process_run_not_a_living_ones(tmp_path, harness):
    """An in-process run has no guard: ``kill -9`` leaves its work folder, the next ``harness run``
    in the same $TMPDIR removes it (its owner lock is free) and leaves a running harness's alone."""
    _warm(tmp_path, *SGD, "--budget", "updates=10")
    alive = harness("run", *SGD, "--budget", "seconds=120")
    _wait_for(lambda: list(alive.tmp.glob("harness-sgd-serial-*")), 120, "the living run's folder", alive.proc)
    living = [p.name for p in alive.tmp.iterdir()]
    killed = Harness(tmp_path, "run", *SGD, "--budget", "seconds=120", tmp=alive.tmp)
    try:
        _wait_for(lambda: len(list(alive.tmp.iterdir())) == 2, 120, "the second run's folder", killed.proc)
        killed.proc.kill()
        killed.proc.communicate(timeout=30)
        orphan = [p.name for p in alive.tmp.iterdir() if p.name not in living]
        assert len(orphan) == 1 and orphan[0].startswith("harness-sgd-serial-"), orphan
        run_cli("run", *SGD, "--budget", "updates=10", "--no-report", "-q",
                env={"TMPDIR": str(alive.tmp)}, check=True)
        assert [p.name for p in alive.tmp.iterdir()] == living  # the orphan gone, the living run's kept
    finally:
        killed.close()
