"""benchmarks/device_run.sh in its smoke mode (``SMOKE=1``): every step of the GPU / 16-core run, at
tiny sizes on this machine's CPUs, through the same benchmark scripts and options. The real script
runs only on a machine lent for minutes; this is what notices, in CI, that a moved module or a
renamed option broke it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import have, mpiexec_path

ROOT = Path(__file__).resolve().parents[2]
STEPS = ("threads-hogwild", "threads-asysvrg", "mpi-speedup", "torch-step", "measurement-cost")
# the first line of each step's table: what the step prints once its benchmark ran to the end
TABLE_HEADS = {"threads-hogwild": "measured wall (min/median/max)", "threads-asysvrg": "atomic / plain throughput",
               "mpi-speedup": "time to each row's target", "torch-step": "/ plain (medians)",
               "measurement-cost": "wall/measured min/median/max"}
TABLE_ROWS = {"torch-step": ("plain", "mnag-torch step", "clars-torch step", "ddg (K = 2", "fr (K = 2"),
              "measurement-cost": ("mnag-torch ", "clars-torch ", "ddg-torch ", "ddg-sim ", "fr-torch "),
              "mpi-speedup": ("asysvrg-mpi ", "dfsdca-mpi ")}


def _skipped_here() -> dict[str, str]:
    """The steps this machine cannot run, and the reason the script must give for each."""
    out = {}
    if not (have("mpi4py") and mpiexec_path()):
        out["mpi-speedup"] = "no mpiexec"
    if not have("torch"):
        out["torch-step"] = out["measurement-cost"] = "cannot import torch"
    return out


@pytest.mark.slow
def test_smoke_mode_runs_every_step_with_its_table(tmp_path):
    """``SMOKE=1 bash benchmarks/device_run.sh`` exits 0; its summary lists every step with exit 0,
    and each step's file under $OUT holds the table the benchmark prints at its end (with a row per
    plugin where it has rows); a step this machine cannot run (no MPI, no torch) says why."""
    out_dir = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "STEPS"}      # every step
    env.update(SMOKE="1", OUT=str(out_dir), PYTHON=sys.executable)
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "device_run.sh")], capture_output=True, text=True,
                          env=env, timeout=600)  # above the steps' own limits (530 s in all)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    skipped = _skipped_here()
    summary = log[log.index("== summary (SMOKE"):]
    for name in STEPS:
        table = (out_dir / f"{name}.txt").read_text()
        if name in skipped:
            assert f"{name}: skipped" in table and skipped[name] in table, table
            continue
        assert re.search(rf"^  {name} +exit +0 ", summary, re.M), summary
        assert TABLE_HEADS[name] in table and "Traceback" not in table, table
        for row in TABLE_ROWS.get(name, ()):
            assert re.search(rf"^ *{re.escape(row)}.*\d", table, re.M), (row, table)
    assert "measurement-cost" in skipped or " error " not in (out_dir / "measurement-cost.txt").read_text()
    assert (out_dir / "machine.txt").read_text().strip()


def test_dry_run_lists_the_real_steps_and_the_smoke_steps():
    """``--dry`` prints the commands only: the real run's sizes (cuda, 16 threads, 8 workers) and the
    smoke mode's (cpu, 2 threads, 2 workers), each with every step."""
    script = str(ROOT / "benchmarks" / "device_run.sh")
    real = subprocess.run(["bash", script, "--dry"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "SMOKE": ""})
    smoke = subprocess.run(["bash", script, "--dry"], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "SMOKE": "1"})
    for proc in (real, smoke):
        assert proc.returncode == 0 and [ln.split()[1] for ln in proc.stdout.splitlines()] == list(STEPS), proc
    assert "--threads 1,2,4,8,16" in real.stdout and "--workers 1,2,4,8" in real.stdout
    assert real.stdout.count("--device cuda") == 2 and "--device cpu" not in real.stdout
    assert "--threads 1,2 " in smoke.stdout and "--workers 1,2 " in smoke.stdout
    assert smoke.stdout.count("--device cpu") == 2 and "--device cuda" not in smoke.stdout
