"""Data-parallel plugins with W = 2 real gloo ranks (harness.plugins.launchers.torch_dist): the iterates equal
the single-process version on the same global batch; a rank killed mid-run ends the run with
'error' promptly and leaves no process behind."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import needs_torch

pytestmark = needs_torch

WL = {"n_train": 96, "width": 8, "depth": 1}
PARAMS = {"b": 48, "b_base": 16, "lr": 0.05, "beta": 0.9, "measure": "off", "warmup": 0.5}


def _spec(plugin, workers, tmp_path, updates=5, extra=None, **options):
    from harness._core.monitor import Budget
    from harness.run.runner import RunSpec

    return RunSpec(plugin, "mlp", {**PARAMS, **(extra or {})}, dict(WL), workers=workers, seed=5,
                   budget=Budget(updates=updates), options={"timeout_s": 90, **options})


@pytest.mark.parametrize("family,extra", [("mnag", {}), ("lars", {}), ("clars", {}),
                                          ("clars", {"per_sample": "vmap", "chunk": 16})])
def test_two_ranks_match_one_process(family, extra, tmp_path):
    import torch

    from harness.run.runner import execute

    ser = execute(_spec(f"{family}-serial", 1, tmp_path, extra=extra, save_params=str(tmp_path / "serial.pt")))
    dp = execute(_spec(f"{family}-torch", 2, tmp_path, extra=extra, save_params=str(tmp_path / "dp.pt")))
    assert ser.status == "budget", ser.reason
    assert dp.status == "budget", dp.reason
    assert dp.info["world"] == 2 and dp.info["backend"] == "gloo" and dp.info["steps"] == 5
    if family == "clars":
        assert dp.info["per_sample_norms"] == ser.info["per_sample_norms"] == extra.get("per_sample", "ghost")
    a, b = torch.load(tmp_path / "serial.pt"), torch.load(tmp_path / "dp.pt")
    init = dict(_model().named_parameters())
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=1e-5, atol=1e-6)
        assert not torch.allclose(a[name], init[name].detach())                # the run moved every tensor
    # the curves agree point for point where both have one; updates and samples = steps * B
    ps = {p["updates"]: p for p in ser.points}
    common = [p for p in dp.points if p["updates"] in ps]
    assert common and dp.points[-1]["updates"] == 5 and dp.points[-1]["samples"] == 5 * 48
    for p in common:
        assert p["objective"] == pytest.approx(ps[p["updates"]]["objective"], rel=1e-5)
        assert p["extra"].get("lr_k", []) == pytest.approx(ps[p["updates"]]["extra"].get("lr_k", []), rel=1e-5)


def _model():
    from harness.suites.network import MLP

    return MLP("mlp", **WL).build_model(seed=5)


def _processes_with(tag: str) -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            if tag.encode() in (d / "environ").read_bytes():
                pids.append(int(d.name))
        except OSError:
            continue
    return pids


@pytest.mark.parametrize("mode", ["kill", "raise"])
def test_a_failing_rank_ends_the_run_promptly_with_nothing_left(mode, tmp_path, monkeypatch):
    from harness.run.runner import execute

    tag = f"torch-dp-test-{uuid.uuid4().hex}"
    monkeypatch.setenv("HARNESS_TEST_TAG", tag)                                   # inherited by launcher and ranks
    t0 = time.perf_counter()
    rec = execute(_spec("mnag-torch", 2, tmp_path, updates=100000, fail_rank=1, fail_at=3, fail_mode=mode))
    took = time.perf_counter() - t0
    assert rec.status == "error"
    assert rec.reason.startswith("rank 1:"), rec.reason
    assert ("SIGKILL" in rec.reason) if mode == "kill" else ("injected failure" in rec.reason)
    assert took < 60, took                                                        # far below the 90 s limit
    assert rec.points and rec.points[0]["updates"] == 0                           # what was measured is kept
    deadline = time.time() + 5
    while _processes_with(tag) and time.time() < deadline:
        time.sleep(0.1)
    assert _processes_with(tag) == []


def test_cli_runs_two_ranks(cli):
    import json

    r = cli("run", "--plugin", "clars-torch", "--workload", "mlp", "--workers", "2", "--workload-param", "n_train=96",
            "--workload-param", "width=8", "--workload-param", "depth=1", "--param", "b=0", "--param", "measure=variance",
            "--budget", "updates=3", "--timeout", "90", "--json", "--no-report", timeout=150)
    assert r.returncode == 0, r.stderr
    run = json.loads(r.stdout)["runs"][0]
    assert run["status"] == "budget" and run["workers"] == 2 and run["final"]["samples"] == 3 * 96
    assert len(run["final"]["extra"]["rho_k"]) == 4 and len(run["final"]["extra"]["var_k"]) == 4
