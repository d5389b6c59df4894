"""One run across two nodes, for real, on this machine: two torchrun agents (``--nnodes=2``, c10d
rendezvous on 127.0.0.1 with a free port), the second started by ``harness join`` as the first one
printed it; and MPI over a hostfile naming two host entries, aliases of this machine. Either way the
run is stored once, with its ranks' measured delays and both nodes' manifests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, listening_while, mpi_ranks_on_loopback, needs_mpi, needs_torch, run_cli

WP = ["--workload-param", "n=200", "--workload-param", "d=10"]


def _stored_once():
    from harness.run.store import Store

    runs = Store(os.environ["HARNESS_STORE"]).runs(with_points=True)
    assert len(runs) == 1, [(r.plugin, r.status) for r in runs]
    return runs[0]


def _check_nodes(rec, ranks):
    nodes = rec.env["nodes"]
    assert [n["node"] for n in nodes] == list(range(len(ranks))) and [n["ranks"] for n in nodes] == ranks
    for n in nodes:  # each node's own manifest, beside the starting node's (rec.env itself)
        assert n["manifest"]["python"] and n["manifest"]["harness"] == rec.env["harness"] and n["host"]
    assert "nodes" not in rec.info


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_torch
@pytest.mark.slow
def test_two_torchrun_agents_one_run_the_second_started_by_harness_join(tmp_path):
    rdzv = f"--nnodes=2 --rdzv-backend=c10d --rdzv-endpoint=127.0.0.1:{_free_port()} --rdzv-id=t{os.getpid()}"
    argv = [sys.executable, "-m", "harness.cli", "run", "--plugin", "ddg-torch", "--workload", "mlp",
            "--workload-param", "depth=2", "--workload-param", "width=16", "--workers", "2", "--param", "b=16",
            "--param", "L_iters=0", "--budget", "updates=24", "--no-report", "-q", "--timeout", "150",
            "--launcher", "torchrun", "--option", f"torchrun_args={rdzv}"]
    first = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.extend(first.stderr), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while not any("harness join" in line for line in err) and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.1)
        lines = [line.strip() for line in err if line.strip().startswith("harness join")]
        assert len(lines) == 1, "".join(err)[-3000:]  # c10d: one line for every other node
        assert "waits for 1 more node" in "".join(err)
        # the second node: the printed line, as typed (`harness` is this interpreter's entry point)
        joined = run_cli(*lines[0].split()[1:], timeout=240)
        assert joined.returncode == 0, joined.stderr[-3000:]
        out, _ = first.communicate(timeout=240)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=30)
    reader.join(timeout=10)
    assert first.returncode == 0, "".join(err)[-3000:]
    rec = _stored_once()
    assert rec.status == "budget" and rec.info["launcher"] == "torchrun", rec.reason
    assert rec.points[-1]["updates"] == 24 and rec.points[-1]["objective"] < rec.points[0]["objective"]
    assert rec.points[-1]["extra"]["delay_max"] == [1, 0]  # DDG's measured delays, module by module
    assert rec.info["delays"] == [1, 0]
    _check_nodes(rec, [[0], [1]])
    assert "every interface" in rec.info["network"]["torchrun"]


def test_join_refuses_what_is_not_a_waiting_run(tmp_path):
    proc = run_cli("join", str(tmp_path), timeout=60)
    assert proc.returncode == 2 and proc.stderr.startswith("harness: error: ") and len(proc.stderr.splitlines()) == 1
    assert "is not the folder of a run waiting for other nodes" in proc.stderr
    (tmp_path / "join.json").write_text("{}")
    (tmp_path / "spec.json").write_text("{}")
    tmp_path.chmod(0o777)
    proc = run_cli("join", str(tmp_path), "--node-rank", "0", timeout=60)
    assert proc.returncode == 2 and "node 0 is the one that started the run" in proc.stderr


def test_torchrun_arguments_for_several_nodes():
    from harness.api import UserError
    from harness.plugins.launchers import torch_dist

    assert torch_dist.nnodes(None) == 1 and torch_dist.nnodes("--nnodes 3 --rdzv-backend=c10d") == 3
    argv = torch_dist.torchrun_argv(4, "m", (), "--nnodes=2 --node-rank=0")
    assert argv[3:5] == ["--nproc-per-node", "2"]  # 4 workers over 2 nodes
    with pytest.raises(UserError, match="spread evenly"):
        torch_dist.torchrun_argv(3, "m", (), "--nnodes=2")
    with pytest.raises(UserError, match="elastic"):
        torch_dist.nnodes("--nnodes=1:2")


@needs_torch
def test_the_printed_join_lines_and_what_each_starts(tmp_path, capsys):
    """c10d numbers the nodes itself: one line for all; a static rendezvous: one line per node, whose
    --node-rank replaces node 0's own."""
    from types import SimpleNamespace

    from harness._core.launch import join_job
    from harness.plugins.launchers import torch_dist

    ctx = SimpleNamespace(workdir=tmp_path / "run", options={"timeout_s": 30}, child_spec=lambda: {"x": 1})
    c10d = torch_dist.offer(ctx, 4, "rank.mod", ["--a"], "--nnodes=4 --rdzv-backend c10d --rdzv-endpoint=h:1", {})
    assert c10d == [f"harness join {tmp_path / 'run'}"] and "waits for 3 more node(s); on each" in capsys.readouterr().err
    static = torch_dist.offer(ctx, 4, "rank.mod", [], "--nnodes=2 --node-rank=0 --master-addr=h --master-port=1", {})
    assert static == [f"harness join {tmp_path / 'run'} --node-rank 1"]
    argv, env, timeout_s = join_job(tmp_path / "run", ["--node-rank", "1"])
    assert argv[argv.index("torch.distributed.run") + 1:] == [
        "--nproc-per-node", "2", "--nnodes=2", "--master-addr=h", "--master-port=1", "--node-rank", "1", "-m", "rank.mod"]
    own = Path(env["HARNESS_SPEC"])  # this node's copy: its own processes' marker, the same spec
    assert own.parent == tmp_path / "run" and own.name != "spec.json" and own.read_text() == '{"x": 1}'
    assert timeout_s == 30


# -- MPI: a hostfile naming two hosts, both this machine ------------------------------------------
ETC_HOSTS = Path("/etc/hosts")


@pytest.fixture
def two_aliases():
    """Two names of this machine, added to /etc/hosts for the test and removed after (root only)."""
    if os.geteuid() != 0 or not os.access(ETC_HOSTS, os.W_OK):
        pytest.skip("adding two host names for this machine needs root (to write /etc/hosts)")
    names = [f"harness-node-{x}-{os.getpid()}" for x in "ab"]
    added = [f"127.0.0.{2 + i} {name}  # harness test, removed after it\n" for i, name in enumerate(names)]
    text = ETC_HOSTS.read_text()
    ETC_HOSTS.write_text(text + ("" if text.endswith("\n") else "\n") + "".join(added))
    try:
        yield names
    finally:  # in place, only our lines (others may have edited the file meanwhile)
        ETC_HOSTS.write_text("".join(line for line in ETC_HOSTS.read_text().splitlines(keepends=True)
                                     if line not in added))


@needs_mpi
@pytest.mark.slow
def test_mpi_run_over_a_hostfile_of_two_hosts(tmp_path, two_aliases):
    """Four ranks (a server, three workers) on two hostfile entries: MPI sees two nodes (ranks 0-1
    and 2-3 in separate shared-memory groups); both are this machine, so hydra forks its proxies
    here and the ranks stay on loopback."""
    from harness.plugins.launchers.mpiexec import all_local

    hostfile = tmp_path / "hosts"
    hostfile.write_text("".join(f"{name}:2\n" for name in two_aliases))
    assert all_local(hostfile)
    rc, err, seen = listening_while(tmp_path, "run", "--plugin", "asysvrg-mpi", "--workload", "logreg", *WP,
                                    "--workers", "3", "--hostfile", str(hostfile), "--budget", "epochs=2", "--param",
                                    "eta=0.1", "--param", "b=4", "--timeout", "90", "--no-report", "-q", timeout=180)
    assert rc == 0, err
    mpi_ranks_on_loopback(seen, hydra=True)  # measured: the ranks on 127.0.0.1, hydra's one port beyond
    rec = _stored_once()
    assert rec.status == "budget" and rec.workers == 3, rec.reason
    assert rec.info["delays"]["count"] > 0 and rec.info["tau_max"] >= 1  # the workers' measured staleness
    _check_nodes(rec, [[0, 1], [2, 3]])
    net = rec.info["network"]
    assert net["ranks"].startswith("127.0.0.1") and "every host is this machine" in net["hostfile"]
