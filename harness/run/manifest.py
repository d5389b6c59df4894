"""The environment manifest stored with every run: enough to say where a number came from."""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parents[2])
        return out.stdout.strip() if out.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=1)
def manifest() -> dict[str, Any]:
    from harness import __version__

    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "harness": __version__,
        "git_commit": commit,
        "git_dirty": bool(status) if status is not None else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu(),
        "cpu_count": os.cpu_count(),
        "numpy": _version("numpy"),
        "scipy": _version("scipy"),
        "numba": _version("numba"),
        "torch": _version("torch"),
        "mpi4py": _version("mpi4py"),
        "mpi_library": "mpich " + (_version("mpich") or "?") if _version("mpich") else None,
        "gpu": None,  # filled by the torch backend when it sees CUDA devices
        "threads": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                                    "NUMBA_NUM_THREADS")},
    }


def usable_cores() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one, else all)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def machine_seconds(reps: int = 8) -> float:
    """How long a fixed piece of single-core numpy work takes on this machine now (seconds, summed
    over ``reps`` pieces of ~2 ms, so a busy neighbour's share of the core is averaged in). Taken
    beside a timed run, it lets the gate tell a slower machine from slower code: the gate compares
    time to target in units of this (``harness.analysis.gate``)."""
    import time

    import numpy as np

    x = np.linspace(0.0, 1.0, 50_000)
    total = 0.0
    for _ in range(reps):
        t = time.perf_counter()
        y = x
        for _ in range(8):
            y = np.sqrt(y * y + 1.0)
        total += time.perf_counter() - t
    return total
