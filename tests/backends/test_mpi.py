"""The MPI backend for real: ``mpiexec -n P+1`` (server + 2 or 3 workers, at most 4 MPI processes)
on small well-conditioned workloads; results through the store; faults; the sim twins' parity."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from harness._core.monitor import Budget, Target
from harness.run.runner import RunSpec, execute

from conftest import needs_mpi, processes_left, tagged_processes

pytestmark = [pytest.mark.mpi]

# logistic / ridge regression, n=1000, d=20, condition number 10, lam=0.01 (L_max ~ 5.6 / 22)
WP = {"n": 1000, "d": 20, "cond": 10.0, "lam": 0.01}
TIMEOUT = {"timeout_s": 60}

# plugin, workload, params, target suboptimality (constant-step ASGD has an O(eta) floor)
REACH = [
    ("asysvrg-mpi", "logreg", {"eta": 0.2, "b": 4}, 1e-3),
    ("asgd-mpi", "logreg", {"eta": 0.2, "M": 8}, 5e-3),
    ("dfsdca-mpi", "logreg", {"eta": 0.05, "H": 10, "max_delay": 4}, 1e-3),   # delays bounded: a starved worker
                                                                           # (tau > 100 seen) slowed it past 20 epochs
    ("cocoa-mpi", "ridge", {"H": 100}, 1e-3),
    # beta = 0.01: eta_t = 0.3/(1 + 0.01 t) falls to 0.0015 by 20 epochs (1e-3 met at 3.8-4.6 epochs in 20 of
    # 20 runs beside two busy loops). With the default beta = 0.001 it stayed >= 0.014 and the last iterate's
    # O(eta) noise band (1e-3..5e-3 over epochs 12-20) straddled the old target 2e-3: 'budget' in 14 of 100
    ("hogwild-growing-batch-mpi", "logreg", {"eta0": 0.3, "beta": 0.01, "a": 20}, 1e-3),
]
REACH_EPOCHS = 20       # the reach runs' epoch budget; each target is met within half of it


def run(plugin, workload="logreg", params=None, workers=2, budget=None, target=None, wp=None, seed=0, **options):
    spec = RunSpec(plugin, workload, dict(params or {}), dict(WP if wp is None else wp), workers, seed,
                   budget or Budget(epochs=20, seconds=15), target or Target(), options={**TIMEOUT, **options})
    return execute(spec, None, force=True)


@pytest.fixture
def tag(monkeypatch):
    value = f"mpi-test-{uuid.uuid4().hex}"
    monkeypatch.setenv("HARNESS_MPI_TEST_TAG", value)
    return value


# -- each plugin reaches its target with 1 server + 2 or 3 workers ----------------------------------
@needs_mpi
@pytest.mark.parametrize("plugin,workload,params,target", REACH, ids=[r[0] for r in REACH])
def test_plugin_reaches_target(plugin, workload, params, target, tag):
    workers = 3 if plugin in ("asysvrg-mpi", "dfsdca-mpi") else 2
    rec = run(plugin, workload, params, workers, budget=Budget(epochs=REACH_EPOCHS, seconds=15),
              target=Target(value=target))
    last = {k: rec.points[-1][k] for k in ("epochs", "subopt", "time_s")} if rec.points else None
    assert rec.status == "target", (rec.status, rec.reason, last)
    assert rec.points[-1]["subopt"] <= target
    # with room to spare: a target met only near the end of the budget sits in the run's noise band
    # (an SGD-type last iterate fluctuates), and then is met in some runs only
    assert rec.points[-1]["epochs"] <= REACH_EPOCHS / 2, last
    assert rec.info["workers"] == workers and rec.info["backend"] == "mpi"
    assert len(rec.info["worker_messages"]) == workers and min(rec.info["worker_messages"]) > 0
    assert 0.0 < rec.info["server_busy_fraction"] <= 1.0 and rec.info["server_idle_s"] > 0.0   # measured
    times = [p["time_s"] for p in rec.points]
    assert times == sorted(times) and times[0] >= 0.0           # the server's clock, after the barrier
    if plugin == "hogwild-growing-batch-mpi":                    # delays are round lags i - k: all 0 when the
        assert 0 <= rec.points[-1]["tau_max"] == rec.info["tau_max"] <= 1   # nodes stay in step; never past lag = 1
    elif plugin != "cocoa-mpi":                                  # asynchronous: staleness was measured
        assert rec.info["delays"]["count"] == rec.info["server_updates"]
        assert rec.points[-1]["tau_max"] == rec.info["tau_max"] >= 1
    else:
        assert rec.info["tau_max"] == 0                          # synchronous rounds: no staleness
    assert not tagged_processes(tag)


@needs_mpi
def test_speedup_benchmark_rows_reach_their_own_targets(tag):
    """benchmarks/mpi_ps_throughput.py part 2: each row's step reaches the row's own target within 45 of the
    60 epochs the benchmark allows (one worker), not in the first pass. A common 1e-4 at dfSDCA's fixed eta = 0.01
    was reached to 1e-3 in 0.01 s and then never; dfSDCA now takes eta=theory's step for one worker."""
    from benchmarks.mpi_ps_throughput import SPEEDUP_CASES, SPEEDUP_WP, one_worker_step
    from harness.run.runner import resolve

    assert len({target for _, _, target in SPEEDUP_CASES}) > 1       # each row its own target
    for plugin, params, target in SPEEDUP_CASES:
        applied, text = one_worker_step(plugin, params, SPEEDUP_WP)
        if params.get("eta") == "theory@1":
            solved = resolve(RunSpec(plugin, "logreg", {**params, "eta": "theory"}, SPEEDUP_WP, 1)).params["eta"]
            assert applied["eta"] == pytest.approx(solved) and "(theory, P=1)" in text
        rec = run(plugin, "logreg", applied, 1, budget=Budget(epochs=45, seconds=30), target=Target(value=target),
                  wp=SPEEDUP_WP)
        assert rec.status == "target", (plugin, applied, rec.status, rec.points[-1])
        assert rec.points[-1]["epochs"] >= 2                          # some work to time, not start-up
    assert not tagged_processes(tag)


@needs_mpi
def test_dfsdca_keeps_the_primal_dual_invariant(tag):
    """w = (1/(lambda n)) sum_i alpha_i to 1e-10 at every point (server's mirror of the duals) and at
    the end (the workers' own duals, gathered), with 3 asynchronous workers."""
    rec = run("dfsdca-mpi", "logreg", {"eta": 0.05, "H": 10}, 3, budget=Budget(epochs=8))
    assert rec.status == "budget", rec.reason
    errs = [p["invariant_err"] for p in rec.points]
    assert len(errs) > 5 and max(errs) <= 1e-10, max(errs)
    assert rec.info["invariant_final_err"] <= 1e-10
    assert rec.info["invariant_max_err"] <= 1e-10
    assert rec.info["outer_rounds"] >= 1 and rec.info["round_updates"] == 1000 // 10


@needs_mpi
def test_growing_batch_round_lag_and_sizes(tag):
    """003: round sizes a i^c + b (here 20 i), the invariant i - k <= d (lag=1) at every round start."""
    rec = run("hogwild-growing-batch-mpi", "logreg", {"eta0": 0.3, "a": 20, "lag": 1}, 2, budget=Budget(epochs=5))
    assert rec.status == "budget", rec.reason
    sizes = rec.info["round_sizes"]
    assert sizes[:4] == [2, 20, 40, 60]                    # s_0 = max(0, nodes) then 20 i
    assert rec.info["round_lag_max"] <= 1
    assert rec.info["broadcast_k"] >= 3
    # delays in rounds (the round lag i - k of each applied message), the sim twin's unit: in SGD steps
    # they would reach a round's size (20 i here)
    assert rec.info["delay_unit"] == "rounds"
    assert rec.info["delays"]["count"] == rec.info["node_rounds"] and rec.info["delays"]["max"] <= 1
    assert rec.points[-1]["tau_max"] <= 1


@needs_mpi
def test_growing_batch_mpi_and_sim_report_delays_in_rounds(tag, tmp_path):
    """The twin replaying the MPI run's measured delays reports them in the same unit: its tau
    column has the MPI run's support (rounds, <= lag), not SGD steps."""
    import json

    params = {"eta0": 0.3, "a": 20, "lag": 2}
    real = run("hogwild-growing-batch-mpi", "logreg", params, 3, budget=Budget(epochs=4))
    assert real.status == "budget", (real.status, real.reason)
    path = tmp_path / "delays.json"
    path.write_text(json.dumps(real.info))
    sim = run("growing-batch-sim", "logreg", {**params, "delay": "measured", "delay_file": str(path)}, 3,
              budget=Budget(epochs=4))
    assert sim.status == "budget", (sim.status, sim.reason)
    assert real.info["delay_unit"] == sim.info["delay_unit"] == "rounds"
    assert real.info["delays"]["max"] <= 2 and sim.info["delays"]["max"] <= real.info["delays"]["max"]
    assert sim.points[-1]["tau_max"] <= 2 and real.points[-1]["tau_max"] <= 2


@needs_mpi
def test_asgd_fixed_total_samples(tag):
    """002's learner-count experiment: the run stops once S samples are processed, whatever N."""
    for workers in (2, 3):
        rec = run("asgd-mpi", "logreg", {"eta": 0.1, "M": 8, "S": 4000}, workers, budget=Budget(seconds=30))
        assert rec.status == "budget" and "S = 4000" in rec.reason
        assert 4000 <= rec.points[-1]["samples"] < 4000 + 8
        assert rec.info["learners"] == workers


# -- straggler and partitions ------------------------------------------------------------------------
@needs_mpi
def test_straggler_injection_slows_the_last_worker(tag):
    rec = run("asgd-mpi", "logreg", {"eta": 0.1, "M": 64, "straggler_p": 1.0, "straggler_m": 10.0}, 2,
              budget=Budget(epochs=6))
    assert rec.status == "budget"
    assert rec.info["straggler_slept_s"] > 0
    fast, slow = rec.info["worker_messages"]
    assert slow < fast, rec.info["worker_messages"]


def test_partitions_iid_and_biased_by_label():
    from harness.plugins.algorithms.partition import partition

    y = np.repeat([-1.0, 1.0], 50)
    iid = partition(100, 2, "iid", y, seed=3)
    label = partition(100, 2, "label", y, seed=3)
    for parts in (iid, label):
        assert sorted(np.concatenate(parts).tolist()) == list(range(100))
    assert [set(y[p]) for p in label] == [{-1.0}, {1.0}]     # each worker one label (003 D.2.4)
    assert all(set(y[p]) == {-1.0, 1.0} for p in iid)
    assert [p.tolist() for p in partition(100, 2, "iid", y, seed=3)] == [p.tolist() for p in iid]


@needs_mpi
def test_label_partition_still_converges(tag):
    # each worker holds one label: if the OS starves one worker (messages 1329 : 88 were seen on 2 busy
    # cores) the server sees mostly one class; max_delay = 1 keeps the two workers in step
    rec = run("dfsdca-mpi", "logreg", {"eta": 0.05, "H": 10, "partition": "label", "max_delay": 1}, 2,
              target=Target(value=1e-3))
    assert rec.status == "target", rec.reason


# -- waiting: spin on a free machine, sleep when the ranks outnumber the cores -----------------------
@needs_mpi
def test_ranks_outnumbering_the_cores_wait_by_sleeping():
    """MPI's waits spin; with more ranks than cores a spinning server takes a core from a computing
    worker, so the ranks then wait by sleeping (server and workers). Pinned to one core here: 3 ranks."""
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})           # mpiexec and its ranks inherit one core
    try:
        rec = run("asysvrg-mpi", params={"eta": 0.1}, workers=2, budget=Budget(epochs=5))
    finally:
        os.sched_setaffinity(0, cpus)
    assert rec.status == "budget", (rec.status, rec.reason)
    assert rec.info["server_wait"] == "sleep"
    assert rec.points[-1]["subopt"] < 0.1 * rec.points[0]["subopt"]
    if len(cpus) >= 3:                               # enough cores for 3 ranks: MPI's own spinning wait
        assert run("asysvrg-mpi", params={"eta": 0.1}, workers=2, budget=Budget(epochs=1)).info["server_wait"] == "spin"


# -- faults: a worker that raises or dies ------------------------------------------------------------
@needs_mpi
@pytest.mark.parametrize("mode", ["raise", "exit"])
def test_worker_fault_ends_in_error_with_rank(mode, tag):
    from harness.plugins.launchers.mpiexec import shm_segments

    shm_before = shm_segments()
    t0 = time.perf_counter()
    rec = run("asysvrg-mpi", "logreg", {"eta": 0.2}, 3, budget=Budget(epochs=1000),
              fail_rank=2, fail_after=20, fail_mode=mode, timeout_s=40)
    elapsed = time.perf_counter() - t0
    # the killed ranks' shared-memory segments are not left in /dev/shm (RAM) after the job
    assert not shm_segments() - shm_before, sorted(shm_segments() - shm_before)
    assert rec.status == "error", (rec.status, rec.reason)
    assert rec.info["failed_rank"] == 2
    if mode == "raise":
        # the fault fires at the first check with >= 20 messages sent; a snapshot's GRAD reply (sent
        # without a check) can carry the count from 19 to 21 when the server asks for it at 20
        m = re.search(r"injected fault on rank 2 after (\d+) messages", rec.reason)
        assert m and 20 <= int(m.group(1)) <= 21, rec.reason
    else:
        assert "died without an error report (exit code 3)" in rec.reason
    assert elapsed < 30, elapsed                       # promptly: no hang until the timeout
    assert rec.points                                   # what was measured before the fault is kept
    assert not processes_left(tag)                      # the ranks exit (signalled: a moment, longer under load)


@needs_mpi
def test_timeout_kills_the_job(tag):
    from harness.plugins.launchers.mpiexec import shm_segments

    shm_before = shm_segments()
    rec = run("asgd-mpi", "logreg", {"eta": 0.05, "M": 1}, 2, budget=Budget(epochs=1e6), timeout_s=4)
    assert rec.status == "timeout", (rec.status, rec.reason)
    assert not shm_segments() - shm_before, sorted(shm_segments() - shm_before)
    assert rec.points
    assert not processes_left(tag)


@needs_mpi
def test_failing_run_does_not_stop_the_suite(tmp_path, cli, tag):
    """A suite with a failing MPI run first: the next run still runs and both are stored."""
    suite = tmp_path / "s.toml"
    suite.write_text(f"""
name = "mpi-faults"
[defaults]
workload = "logreg"
budget = "epochs=4"
workload_params = {{ n = 1000, d = 20, cond = 10.0, lam = 0.01 }}
[[run]]
plugin = "asgd-mpi"
workers = 2
params = {{ eta = 0.1, M = 8 }}
options = {{ fail_rank = 1, fail_after = 3, timeout_s = 40 }}
[[run]]
plugin = "asgd-mpi"
workers = 2
params = {{ eta = 0.1, M = 8 }}
""")
    proc = cli("run", str(suite), "--json", "--no-report", timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    runs = json.loads(proc.stdout)["runs"]
    assert [r["status"] for r in runs] == ["error", "budget"], runs
    assert "rank 1" in runs[0]["reason"]


# -- the CLI as a user types it: results in the store, hostfile passthrough ------------------------
@needs_mpi
def test_cli_run_with_hostfile_stores_the_run(tmp_path, cli, tag):
    hostfile = tmp_path / "hosts"
    hostfile.write_text("localhost:4\n")
    args = ["run", "--plugin", "dfsdca-mpi", "--workload", "logreg", "--workers", "2", "--hostfile", str(hostfile),
            "--budget", "epochs=3", "--param", "eta=0.05", "--timeout", "60", "--json", "--no-report"]
    for kv in WP.items():
        args += ["--workload-param", "%s=%s" % kv]
    proc = cli(*args, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)["runs"][0]
    assert out["status"] == "budget" and out["points"] > 3
    from harness.run.store import Store

    stored = Store().load(out["id"])
    assert stored.backend == "mpi" and stored.workers == 2 and stored.info["invariant_final_err"] <= 1e-10
    assert stored.points[-1]["tau_max"] >= 0


def test_cli_user_errors(tmp_path, cli):
    proc = cli("run", "--plugin", "asysvrg-mpi", "--workload", "logreg", "--workers", "0")
    assert proc.returncode == 2 and "workers" in proc.stderr and "Traceback" not in proc.stderr
    proc = cli("run", "--plugin", "asysvrg-mpi", "--workload", "logreg", "--hostfile", str(tmp_path / "nope"))
    assert proc.returncode == 2 and "hostfile not found" in proc.stderr


def test_launch_command_and_environment():
    import sys

    from harness.plugins.launchers.mpiexec import environment
    from harness.plugins.mpi.launch import command

    argv = command(3, "/etc/hosts-x")
    assert argv[0] == str(Path(sys.executable).parent / "mpiexec")
    assert argv[1:5] == ["-f", "/etc/hosts-x", "-n", "4"] and argv[-2:] == ["-m", "harness.plugins.mpi.rank"]
    env = environment(30)
    assert env["MPIEXEC_TIMEOUT"] == "45" and env["HYDRA_LAUNCHER"] == "fork"
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert "HYDRA_LAUNCHER" not in environment(30, "/etc/hosts-x")   # remote hosts need hydra's launcher
    assert env["UCX_NET_DEVICES"] == "lo" and env["FI_TCP_IFACE"] == "lo"  # every rank here: loopback only
    assert "UCX_NET_DEVICES" not in environment(30, "/etc/hosts-x")  # across machines: the interfaces MPI picks


def test_one_machine_runs_use_gforker_and_fall_back_to_hydra_with_a_warning(monkeypatch, capsys):
    """No hostfile: ``mpiexec.gforker`` (no listening socket), named in the run's network record; a
    hostfile: hydra. Without gforker, hydra with one line (once) saying its port listens on 0.0.0.0."""
    import sys

    from harness.api import python_module
    from harness.plugins.launchers import mpiexec

    bindir = Path(sys.executable).parent
    if mpiexec.gforker() is None:
        pytest.skip("this MPICH has no mpiexec.gforker")
    assert mpiexec.command("m", 3) == [str(bindir / "mpiexec.gforker"), "-n", "3", *python_module("m")]
    assert mpiexec.command("m", 3, "/etc/hosts-x")[0] == str(bindir / "mpiexec")
    assert mpiexec.network()["mpiexec"] == "mpiexec.gforker: no listening socket (PMI over pipes)"
    assert "0.0.0.0" in mpiexec.network("/etc/hosts-x")["mpiexec"]
    mpiexec.warn_hydra_listens(None)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(mpiexec, "gforker", lambda: None)
    monkeypatch.setattr(mpiexec, "_warned_hydra", False)
    assert mpiexec.command("m", 3)[:3] == [str(bindir / "mpiexec"), "-n", "3"]
    assert mpiexec.network()["mpiexec"].endswith("on 0.0.0.0 (every interface; not configurable in this MPICH) "
                                                 "(mpiexec.gforker missing)")
    mpiexec.warn_hydra_listens(None)
    mpiexec.warn_hydra_listens(None)
    err = capsys.readouterr().err
    assert err == (f"harness: warning: {bindir / 'mpiexec.gforker'} not found: hydra's mpiexec runs the MPI ranks, "
                   "and its control port listens on all interfaces (0.0.0.0) for the length of the job\n"), err


def test_a_hostfile_naming_only_this_machine_keeps_the_ranks_on_loopback(tmp_path):
    import socket

    from harness.plugins.launchers.mpiexec import all_local, environment, network

    local, remote = tmp_path / "local", tmp_path / "remote"
    local.write_text(f"# two entries, one machine\nlocalhost:2\n127.0.0.1:1\n{socket.gethostname()}:1\n\n")
    remote.write_text("localhost:2\nnode7:4  # another machine\n")
    assert all_local(local) and not all_local(remote) and not all_local(tmp_path / "missing")
    assert environment(30, str(local))["UCX_NET_DEVICES"] == "lo" and environment(30, str(local))["HYDRA_LAUNCHER"] == "fork"
    assert "UCX_NET_DEVICES" not in environment(30, str(remote))
    assert network(str(local))["ranks"].startswith("127.0.0.1") and "every host is this machine" in \
        network(str(local))["hostfile"]
    assert network(str(remote))["ranks"].startswith("the interfaces MPI picks")


@needs_mpi
@pytest.mark.parametrize("plugin,params", [("dfsdca-mpi", {"eta": 0.05, "H": 10}),
                                           ("asysvrg-mpi", {"eta": 0.2, "b": 4}),
                                           ("asgd-mpi", {"eta": 0.2, "M": 8})])
def test_max_delay_bounds_the_measured_delay_under_a_straggler(plugin, params):
    """A straggler (slowed up to 30x its compute time on every message) would see delays of dozens of
    updates; with ``max_delay = 2`` (the least three workers allow) the server holds replies back
    instead, so no update arrives staler than 2, whatever the OS's scheduling."""
    rec = run(plugin, params={**params, "max_delay": 2, "straggler_p": 1.0, "straggler_m": 30.0}, workers=3,
              budget=Budget(epochs=2, seconds=15))
    assert rec.status in ("budget", "target"), rec.reason
    assert rec.info["max_delay"] == 2
    assert 1 <= rec.info["tau_max"] <= 2, rec.info["delays"]
    assert rec.info["replies_held"] > 0


@needs_mpi
def test_max_delay_below_workers_minus_one_is_refused():
    rec = run("dfsdca-mpi", params={"eta": 0.05, "H": 10, "max_delay": 1}, workers=3, budget=Budget(epochs=1))
    assert rec.status == "error" and "max_delay=1 is below P - 1 = 2" in rec.reason


@needs_mpi
def test_mpi_ranks_rebuild_the_digits_workload():
    """A rank rebuilds the workload from its parameters: a derived attribute (digits' class count)
    must not travel as a parameter (it was refused there: 'unknown parameter ... n_classes')."""
    rec = run("asysvrg-mpi", "digits", {"eta": 0.05, "b": 4}, wp={"binary": True}, budget=Budget(epochs=1))
    assert rec.status == "budget", rec.reason
