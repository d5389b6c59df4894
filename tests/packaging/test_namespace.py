"""The installed import names cannot collide with a user's modules: from a working directory that
holds ``plugins.py``, ``theory.py``, ``suites.py`` and ``harness.py`` (each one raising on import),
a threads, an MPI and a torch.distributed run typed as a user types them all succeed. The
checkout's ``plugins/``, ``theory/`` and ``suites/`` are ``harness.plugins`` / ``.theory`` / ``.suites``
through the install's ``package-dir`` mapping (editable or not), never through ``harness.__path__``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import needs_mpi, needs_torch

SHADOWS = ("plugins", "theory", "suites", "harness")
HARNESS = Path(sys.executable).parent / "harness"          # the console script, as a user types it


@pytest.fixture
def shadowed(tmp_path):
    for name in SHADOWS:
        (tmp_path / f"{name}.py").write_text(f"raise ImportError('the user\\'s own {name}.py was imported')\n")
    return tmp_path


def _harness(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    if not HARNESS.exists():
        pytest.skip(f"no console script at {HARNESS} (not an installed environment)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(HARNESS), *args], cwd=cwd, capture_output=True, text=True, timeout=240, env=env)


def _run(cwd: Path, *args: str) -> None:
    proc = _harness(cwd, "--store", str(cwd / "r.db"), "run", *args, "--seeds", "1", "--no-report", "--json")
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-2000:])
    assert "imported" not in proc.stdout + proc.stderr
    runs = json.loads(proc.stdout)["runs"]
    assert [r["status"] for r in runs] == ["budget"], runs


def test_threads_run_from_a_shadowing_directory(shadowed):
    _run(shadowed, "-p", "hogwild-threads", "-w", "logreg",
                    "--workers", "2", "--budget", "epochs=2")


@needs_mpi
def test_mpi_run_from_a_shadowing_directory(shadowed):
    _run(shadowed, "-p", "dfsdca-mpi", "-w", "logreg",
                    "--workers", "2", "--budget", "epochs=2")


@needs_torch
def test_torch_run_from_a_shadowing_directory(shadowed):
    _run(shadowed, "-p", "mnag-torch", "-w", "mlp",
         "--workers", "2", "--workload-param", "n_train=96", "--workload-param", "width=8",
                    "--workload-param", "depth=1", "--param", "b=48", "--param", "measure=off",
                    "--budget", "updates=3")


def test_nothing_generic_is_imported_at_the_top_level():
    """Loading every plugin catalog, workload and theorem (and a run) imports only ``harness.*``
    modules of ours: no top-level ``plugins``, ``theory`` or ``suites`` module is ever loaded."""
    code = ("import sys\n"
            "from harness._core import registry\n"
            "from harness.theory.registry import all_theorems\n"
            "registry.plugins(); registry.workloads(); all_theorems()\n"
            "from harness._core.monitor import Budget\n"
            "from harness.run.runner import RunSpec, execute\n"
            "execute(RunSpec('svrg-serial', 'ridge', {}, {'n': 100, 'd': 5}, 1, 0, Budget(epochs=1)), None)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('plugins', 'theory', 'suites')))\n")
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_the_harness_package_is_its_own_folder_only():
    """``harness.__path__`` is the ``harness/`` folder alone: the repository root is not on it, so
    ``harness.harness`` (the core a second time) and ``harness.benchmarks`` do not exist, while the
    three mapped folders import under their ``harness.*`` names."""
    code = ("import importlib, harness\n"
            "print(len(harness.__path__))\n"
            "for name in ('harness.harness', 'harness.benchmarks', 'harness.tests'):\n"
            "    try:\n"
            "        importlib.import_module(name); print('imported', name)\n"
            "    except ModuleNotFoundError:\n"
            "        print('absent', name)\n"
            "import harness.plugins.serial, harness.theory.checker, harness.suites.linear\n"
            "print(harness.plugins.__file__)\n")
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout.splitlines()
    assert out[:4] == ["1", "absent harness.harness", "absent harness.benchmarks", "absent harness.tests"], out
    assert Path(out[4]).parent.name == "plugins"


def test_a_launched_childs_path_starts_at_the_folder_holding_this_harness():
    """Ranks start with ``python -P`` and find the harness through the PYTHONPATH ``run_job`` gives them:
    its first entry is the folder that holds the running ``harness`` package (never harness/ itself,
    which would make ``run``, ``cli`` or ``api`` top-level names)."""
    import harness
    from harness._core.launch import _pythonpath

    first = Path(_pythonpath().split(os.pathsep)[0])
    assert first / "harness" == Path(harness.__file__).resolve().parent
