"""A user's install: the wheel built from this tree, installed with no extras into a fresh venv (no
torch, no mpi4py), used from a folder outside the checkout. The tour, a paper's suite by name and
the gate against its shipped baseline all finish, skipping the torch / MPI rows with the extra to
install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]


def sh(*cmd, cwd=None, env=None, timeout=900) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} -> {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_base_install_runs_the_tour_suites_and_gate_by_name_from_anywhere(tmp_path):
    wheels = tmp_path / "wheels"
    sh(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, ROOT)
    (wheel,) = wheels.glob("asyncopt_harness-*.whl")
    venv = tmp_path / "venv"
    # nothing of the test run's own environment (PYTHONPATH, VIRTUAL_ENV, pip settings) may make pip see the
    # checkout's editable install as "already satisfied": the package itself must land in the fresh venv
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PIP_", "HARNESS_"))}
    sh(sys.executable, "-m", "venv", venv, env=clean)
    py, harness = venv / "bin" / "python", venv / "bin" / "harness"
    sh(py, "-m", "pip", "install", "-q", wheel, env=clean, timeout=1500)
    sh(py, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", wheel, env=clean, timeout=600)
    assert harness.exists(), sorted(p.name for p in (venv / "bin").iterdir())
    for missing in ("torch", "mpi4py", "dask", "pandas"):    # the base install: no extras
        probe = subprocess.run([py, "-c", f"import {missing}"], capture_output=True, timeout=60)
        assert probe.returncode != 0, f"{missing} is installed in the base venv"
    elsewhere = tmp_path / "somewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARNESS_", "PYTHON", "VIRTUAL_ENV"))}
    env |= {"HARNESS_STORE": str(elsewhere / "results.db"), "HARNESS_CACHE": str(tmp_path / "cache"),
            "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}

    suites = json.loads(sh(harness, "list", "suites", "--json", cwd=elsewhere, env=env).stdout)["suites"]
    assert {"tour", "asysvrg", "gate"} <= {s["name"] for s in suites}

    tour = sh(harness, "run", "--json", cwd=elsewhere, env=env, timeout=1200)
    rows = json.loads(tour.stdout[tour.stdout.index("{"):tour.stdout.rindex("}") + 1])["runs"]
    skipped = [r for r in rows if r["status"] == "skipped"]
    assert skipped and all("pip install 'asyncopt-harness[" in r["reason"] for r in skipped), skipped
    assert any(r["status"] in ("budget", "target", "done") for r in rows)
    assert (elsewhere / "reports" / "tour" / "index.html").is_file()   # beside the store; plots drawn offline

    sh(harness, "run", "asysvrg", "--seeds", "1", "--no-report", "-q", cwd=elsewhere, env=env, timeout=1200)
    sh(harness, "gate", "gate", "--baseline", "gate", "--fail", "updates_to_target:0%", "--fail", "theory:no-violation",
       cwd=elsewhere, env=env, timeout=1200)
