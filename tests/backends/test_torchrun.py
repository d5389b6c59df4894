"""torch ranks started by torchrun (env:// rendezvous, `--launcher torchrun`): a 2-rank run equal to
the same run started by our own launcher (file:// rendezvous)."""

import json
import sqlite3
from pathlib import Path

import pytest

from conftest import needs_torch, run_cli

ARGS = ["run", "-p", "clars-torch", "-w", "mlp", "--workload-param", "n_train=128", "--workload-param", "width=16",
        "--workload-param", "depth=2", "--workers", "2", "--budget", "updates=24", "--no-report", "--json",
        "--timeout", "180"]
FIELDS = ("updates", "samples", "epochs", "objective", "grad_norm_sq", "test_loss", "test_acc")


def _points(db, run_id):
    con = sqlite3.connect(db)
    cols = ", ".join(FIELDS)
    return con.execute(f"SELECT {cols} FROM points WHERE run_id = ? ORDER BY idx", (run_id,)).fetchall()


@needs_torch
@pytest.mark.slow
def test_torchrun_two_ranks_equal_our_launcher(tmp_path):
    db_a, db = tmp_path / "ours.db", tmp_path / "torchrun.db"  # a rerun replaces a stored run: two stores
    ours = run_cli(*ARGS, "--store", str(db_a), timeout=300)
    assert ours.returncode == 0, ours.stderr[-2000:]
    theirs = run_cli(*ARGS, "--launcher", "torchrun", "--store", str(db), timeout=300)
    assert theirs.returncode == 0, theirs.stderr[-2000:]
    (a,), (b,) = json.loads(ours.stdout)["runs"], json.loads(theirs.stdout)["runs"]
    assert a["status"] == b["status"] == "budget" and not b["cached"]
    pa, pb = _points(db_a, a["id"]), _points(db, b["id"])
    assert len(pa) >= 5 and pa == pb  # the same curve, point for point
    con = sqlite3.connect(db)
    info = json.loads(con.execute("SELECT info FROM runs WHERE id = ?", (b["id"],)).fetchone()[0])
    assert info["launcher"] == "torchrun"


@needs_torch
def test_rank_env_accepts_torchrun(monkeypatch):
    from harness.plugins.launchers import torch_dist

    for k in ("HARNESS_TORCH_INIT",):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29500")
    assert torch_dist.rank_env() == (1, 2, 1, "env://")
    argv = torch_dist.torchrun_argv(2, "harness.plugins.torch_dp.rank", workdir=Path("/run/x"), run_id="r1")
    assert argv[1:] == ["-m", "torch.distributed.run", "--nproc-per-node", "2", "--nnodes", "1", "--rdzv-backend",
                        "c10d", "--rdzv-conf", "store_type=file", "--rdzv-endpoint", "/run/x/torchrun-r1.rdzv",
                        "--rdzv-id", "r1", "--local-addr", "127.0.0.1", "-m", "harness.plugins.torch_dp.rank"]
    with pytest.raises(ValueError, match="needs the run's folder"):
        torch_dist.torchrun_argv(2, "harness.plugins.torch_dp.rank")
