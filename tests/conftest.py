"""Shared fixtures: an isolated store and cache per test, and the CLI as a user types it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Every test gets its own store; the constants cache is shared across tests (it is keyed by
    the workload's parameters, so sharing is safe and saves the high-precision solves)."""
    monkeypatch.setenv("HARNESS_STORE", str(tmp_path / "results.db"))
    monkeypatch.setenv("HARNESS_CACHE", os.environ.get("HARNESS_TEST_CACHE", str(ROOT / ".harness" / "test-cache")))
    from harness._core import registry

    registry._cache.clear()
    yield
    registry._cache.clear()


@pytest.fixture
def store(tmp_path):
    from harness.run.store import Store

    return Store(tmp_path / "results.db")


def run_cli(*args: str, timeout: float = 240, env: dict | None = None, cwd: Path | None = None,
            check: bool = False) -> subprocess.CompletedProcess:
    """`harness ARGS...` in a subprocess (the real console entry, same interpreter), with a timeout."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=cwd or ROOT)
    if check and proc.returncode != 0:
        raise AssertionError(f"harness {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def cli():
    return run_cli


def have(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def mpiexec_path() -> Path | None:
    p = Path(sys.executable).parent / "mpiexec"
    return p if p.exists() else None


def tagged_processes(tag: str) -> list[str]:
    """Live processes (ours) whose environment carries ``tag``: a /proc scan, no psutil."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if tag.encode() in (entry / "environ").read_bytes():
                found.append(f"{entry.name}: {(entry / 'cmdline').read_bytes().replace(bytes(1), b' ').decode()[:120]}")
        except OSError:
            continue
    return found


# A test that needs torch or mpi4py carries the ``torch`` / ``mpi`` marker (so ``-m "not torch and not
# mpi"`` deselects it) and is skipped, with the reason, where the dependency is missing.
needs_mpi = pytest.mark.mpi
needs_torch = pytest.mark.torch
MISSING = {"mpi": None if have("mpi4py") and mpiexec_path() else "mpi4py / the venv's mpiexec missing",
           "torch": None if have("torch") else "torch not installed"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for marker, why in MISSING.items():
            if why and item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=why))


HOST_COPIES = ("item", "cpu", "tolist", "numpy", "__float__", "__int__", "__bool__")


@pytest.fixture
def host_copies(monkeypatch):
    """Spies on every way a tensor reaches the host (each one waits for a GPU): returns a function
    ``watch()`` that installs them and gives the list of (method, device type) calls made from then
    on. On a ``meta`` tensor (shapes, no data: the stand-in for a GPU here) each answers as a zero
    tensor of its shape would, so code on the meta device can finish and be counted;
    ``watch.undo()`` removes them."""
    import torch
    from torch.utils._python_dispatch import _disable_current_modes

    calls: list[tuple[str, str]] = []

    def watch():
        for name in HOST_COPIES:
            orig = getattr(torch.Tensor, name)

            def spy(self, *a, _orig=orig, _name=name, **kw):
                calls.append((_name, self.device.type))
                if self.device.type == "meta":         # no data: answer as a zero tensor on the host would
                    with _disable_current_modes():      # (made outside a dispatch mode watching the ops)
                        return _orig(torch.zeros(self.shape, dtype=self.dtype), *a, **kw)
                return _orig(self, *a, **kw)

            monkeypatch.setattr(torch.Tensor, name, spy)
        return calls

    watch.undo = monkeypatch.undo
    return watch
