"""A suite's runs side by side (--jobs), on dask.distributed and through submitit: the same 12 runs,
stored with the same results as the serial runner (deterministic plugins, compared exactly)."""

import json
import sqlite3

import pytest

from conftest import have, run_cli

SUITE = """
name = "twelve"
[defaults]
budget = "epochs=2"
seeds = 2
workload = "logreg"
workload_params = { n = 300, d = 8, lam = 1e-2 }
options = { timeout_s = 120 }
[[run]]
plugin = "sgd-serial"
params = { eta = [0.05, 0.1], b = [1, 4] }
[[run]]
plugin = "asysvrg-sim"
params = { eta = 0.05, b = 2, tau = [1, 3] }
workers = 2
"""


def _stored(db):
    """{(plugin, params, seed): points without wall-clock fields} from a store file."""
    con = sqlite3.connect(db)
    out = {}
    for rid, plugin, params, seed, status in con.execute("SELECT id, plugin, params, seed, status FROM runs"):
        pts = [dict(zip([c[0] for c in cur.description], row)) for cur in
               [con.execute("SELECT * FROM points WHERE run_id = ? ORDER BY idx", (rid,))] for row in cur.fetchall()]
        key = (plugin, params, seed)
        assert key not in out, f"run {key} stored twice"
        out[key] = (status, [{k: v for k, v in p.items() if k not in ("run_id", "time_s")} for p in pts])
    return out


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    d = tmp_path_factory.mktemp("suite")
    path = d / "twelve.toml"
    path.write_text(SUITE)
    db = d / "serial.db"
    run_cli("run", str(path), "--no-report", "-q", "--store", str(db), check=True)
    serial = _stored(db)
    assert len(serial) == 12 and all(s == "budget" and len(p) >= 5 for s, p in serial.values())
    return path, serial


def _check_same(tmp_path, suite, *extra, timeout=240):
    path, serial = suite
    db = tmp_path / "par.db"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = run_cli("run", str(path), "--no-report", "--json", "--store", str(db), *extra, timeout=timeout,
                   env={"TMPDIR": str(tmp)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = json.loads(proc.stdout)["runs"]
    assert len(runs) == 12 and not any(r["cached"] for r in runs)
    assert _stored(db) == serial  # every run there, once, with the serial runner's exact curve
    # nothing left in $TMPDIR: no job or run folder, no pymp-*, no dask-scratch-space/
    assert sorted(p.name for p in tmp.iterdir()) == []
    return proc


def test_jobs_2_matches_serial(tmp_path, suite):
    _check_same(tmp_path, suite, "--jobs", "2")


@pytest.mark.skipif(not have("distributed"), reason="dask.distributed not installed")
def test_dask_local_cluster_matches_serial(tmp_path, suite):
    _check_same(tmp_path, suite, "--executor", "dask", "--jobs", "2")


@pytest.mark.skipif(not have("distributed"), reason="dask.distributed not installed")
@pytest.mark.slow
def test_dask_scheduler_address(tmp_path, suite):
    """An existing cluster, reached by its scheduler's address (as on a real cluster)."""
    from dask.distributed import LocalCluster

    from harness.run.executors import LOOPBACK_CLUSTER

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, **LOOPBACK_CLUSTER) as cluster:
        _check_same(tmp_path, suite, "--executor", "dask", "--scheduler", cluster.scheduler_address, "--jobs", "2")
    bad = run_cli("run", "-p", "sgd-serial", "-w", "logreg", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9",
                  "--no-report", env={"HARNESS_DASK_CONNECT_S": "3"}, timeout=120)
    assert bad.returncode == 2 and "cannot reach the dask scheduler at tcp://127.0.0.1:9" in bad.stderr, bad.stderr


@pytest.mark.skipif(not have("submitit"), reason="submitit not installed")
@pytest.mark.slow
def test_submitit_local_executor_matches_serial(tmp_path, suite):
    folder = tmp_path / "submitit"
    _check_same(tmp_path, suite, "--executor", "submitit", "--submitit-cluster", "local", "--jobs", "4",
                "--submitit-folder", str(folder), "--slurm", "timeout_min=5")
    assert len(list(folder.glob("*/*_result.pkl"))) == 12  # 12 real submitit jobs, one per run
    assert sorted(p.name for p in folder.iterdir() if not p.name.isdigit()) == []  # no empty '%j' pattern folder


@pytest.mark.slow
def test_plain_progress_and_cache(tmp_path, suite):
    """Not a terminal: a progress line at once and then every interval; a second run is all cache hits."""
    path, _ = suite
    db = tmp_path / "p.db"
    proc = run_cli("run", str(path), "--no-report", "--jobs", "2", "--store", str(db),
                   env={"HARNESS_PROGRESS_EVERY": "0.2"}, check=True)
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("harness: ")]
    assert lines and lines[0].startswith("harness: 0/12 runs done"), proc.stderr
    again = json.loads(run_cli("run", str(path), "--no-report", "--json", "--jobs", "2", "--store", str(db),
                               check=True).stdout)["runs"]
    assert all(r["cached"] for r in again)


def test_big_grid_asks_first(tmp_path):
    big = tmp_path / "big.toml"
    big.write_text('[[run]]\nplugin = "sgd-serial"\nworkload = "logreg"\n'
                   f'params = {{ eta = [{", ".join(str(0.001 * (k + 1)) for k in range(501))}] }}\n')
    proc = run_cli("run", str(big), "--no-report", timeout=60)
    assert proc.returncode == 2 and "501 runs" in proc.stderr and "--yes" in proc.stderr, proc.stderr


def test_jobs_must_be_positive():
    proc = run_cli("run", "--plugin", "sgd-serial", "--workload", "logreg", "--jobs", "0", "--no-report")
    assert proc.returncode == 2 and "--jobs must be at least 1" in proc.stderr


def test_big_grid_with_yes_shows_progress_at_once(tmp_path):
    """100,000 runs: the first progress line comes before the names and values are all checked."""
    import os
    import subprocess
    import sys
    import time

    from conftest import ROOT

    big = tmp_path / "big.toml"
    big.write_text('[[run]]\nplugin = "sgd-serial"\nworkload = "logreg"\n'
                   f'params = {{ eta = [{", ".join(str(0.001 * (k + 1)) for k in range(1000))}], '
                   f'b = [{", ".join(str(k + 1) for k in range(100))}] }}\n')
    env = {**os.environ, "HARNESS_PROGRESS_EVERY": "0.5", "HARNESS_STORE": str(tmp_path / "big.db")}
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", str(big), "--yes", "--no-report"], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        t0 = time.monotonic()
        first = proc.stderr.readline()
        assert first.startswith("harness: 0/100000 runs done"), first
        assert time.monotonic() - t0 < 60
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_slots_count_the_cores_a_run_keeps_busy():
    """A simulated or serial run holds one slot whatever its simulated worker count; threads, MPI
    and torch runs hold one per worker, at most the whole pool."""
    from harness.run.executors import slots_of
    from harness.run.runner import RunSpec, resolve

    def slots(plugin, workers=1):  # ranks past this machine's cores are allowed: nothing starts here
        return slots_of(resolve(RunSpec(plugin, "logreg", workers=workers, options={"oversubscribe": True})), 4)

    assert slots("asysvrg-sim", 8) == 1
    assert slots("sgd-serial") == 1
    assert slots("hogwild-threads", 3) == 3
    assert slots("asysvrg-mpi", 8) == 4


@pytest.mark.skipif(not have("submitit"), reason="submitit not installed")
def test_submitit_without_slurm_is_refused_unless_local_is_asked_for(tmp_path):
    """submitit's AutoExecutor silently falls back to local processes where sbatch is missing: the
    harness refuses (one line, exit 2, nothing submitted); submitit-local asks for them by name."""
    import shutil

    if shutil.which("sbatch"):
        pytest.skip("this machine has SLURM")
    folder = tmp_path / "sub"
    bad = run_cli("run", "-p", "sgd-serial", "-w", "logreg", "--executor", "submitit", "--submitit-folder", str(folder),
                  "--budget", "epochs=1", "--no-report")
    assert bad.returncode == 2, bad.stderr
    assert bad.stderr.strip().splitlines() == [
        "harness: error: --executor submitit sends each run to SLURM, and this machine has no sbatch on PATH; "
        "ask for --executor submitit-local to run the jobs as processes here"], bad.stderr
    assert not folder.exists()
    ok = run_cli("run", "-p", "sgd-serial", "-w", "logreg", "--executor", "submitit-local", "--jobs", "1",
                 "--submitit-folder", str(folder), "--budget", "epochs=1", "--no-report", "-q")
    assert ok.returncode == 0, ok.stderr
    assert len(list(folder.glob("*/*_result.pkl"))) == 1
    assert (folder.stat().st_mode & 0o777) == 0o700  # submitit loads pickles from it: private


@pytest.mark.slow
@pytest.mark.skipif(not have("submitit"), reason="submitit not installed")
def test_submitit_grid_goes_out_as_one_job_array(tmp_path):
    """With arrays (SLURM's default), a grid of four runs is one submission of four jobs (submitit's
    ``map_array``: one ``sbatch`` on SLURM), run here by submitit's local executor; without, one
    submission per run as before. Both store the same four curves."""
    from harness._core.monitor import Budget
    from harness.run.executors import SubmititEngine, run_parallel
    from harness.run.runner import RunSpec, resolve
    from harness.run.store import Store

    specs = [resolve(RunSpec("sgd-serial", "logreg", params={"eta": eta, "b": b}, workload_params={"n": 200, "d": 8},
                             budget=Budget(epochs=2), options={"timeout_s": 120}))
             for eta in (0.05, 0.1) for b in (1, 4)]
    curves = {}
    for arrays in (True, False):
        engine = SubmititEngine(2, folder=tmp_path / f"sub-{arrays}", cluster="local", arrays=arrays,
                                params={"timeout_min": 5})
        submissions = []
        real = engine.executor._internal_process_submissions

        def counted(delayed, _real=real, _seen=submissions):
            _seen.append(len(delayed))
            return _real(delayed)

        engine.executor._internal_process_submissions = counted
        recs = run_parallel(specs, Store(tmp_path / f"{arrays}.db"), engine, poll_s=0.2)
        assert submissions == ([4] if arrays else [1, 1, 1, 1])
        assert [r.status for r in recs] == ["budget"] * 4, [r.reason for r in recs]
        assert len(list((tmp_path / f"sub-{arrays}").glob("*/*_result.pkl"))) == 4  # four real jobs
        curves[arrays] = [[p["objective"] for p in r.points] for r in recs]
    assert curves[True] == curves[False] and all(len(c) >= 3 for c in curves[True])


def test_jobs_beyond_the_cores_warn_once_and_mark_the_runs(tmp_path):
    """``--jobs`` with more busy workers than this machine's cores: one warning, every run that shared
    the machine that way marked contended (stored, shown beside its time), and the speedups leave
    the marked runs out unless asked. cores + 1 one-core runs start together, so all are marked."""
    from harness.analysis.report import speedups
    from harness.run.manifest import usable_cores
    from harness.run.store import Store

    cores = usable_cores()
    db = tmp_path / "c.db"
    proc = run_cli("run", "-p", "asysgd-sim", "-w", "ridge", "--workload-param", "n=300", "--workload-param", "d=5",
                   "-n", "1", "-n", "2", "--seeds", str(cores + 1), "--budget", "updates=3000", "--jobs", str(2 * cores + 2),
                   "--no-report", "--store", str(db), check=True)
    warnings = [ln for ln in proc.stderr.splitlines() if "busy workers on" in ln]
    assert len(warnings) == 1 and f"on {cores} cores" in warnings[0], proc.stderr
    assert proc.stdout.count("(contended)") == 2 * (cores + 1), proc.stdout
    recs = Store(db).runs(with_points=True)
    assert len(recs) == 2 * (cores + 1)
    for r in recs:
        c = r.info["contention"]
        assert c["contended"] and c["busy_peak"] > cores == c["cores"] and len(c["load"]) == 2
    assert speedups(recs) == {} and set(speedups(recs, include_contended=True)) == {"asysgd-sim"}
    # a batch that fits the cores is not marked
    alone = run_cli("run", "-p", "sgd-serial", "-w", "ridge", "--budget", "updates=200", "--jobs", "1",
                    "--no-report", "--store", str(tmp_path / "d.db"), check=True)
    assert "busy workers" not in alone.stderr and "(contended)" not in alone.stdout
    from harness.run.metrics import contended

    (r,) = Store(tmp_path / "d.db").runs()
    assert not contended(r) and len(r.info["load"]) == 2   # every run records the load around it
