"""``benchmarks/monitor_overhead.py --decompose``: the monitor's chunks replayed without it, with the
kernel and indices of the bare loop (a small problem; the figures are the benchmark's, not a test's)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytest.importorskip("numba")


def test_decompose_replays_the_monitors_chunks_and_puts_the_kernel_back():
    from benchmarks.monitor_overhead import decompose
    from harness.plugins.algorithms import steps

    real = steps.Steps.sgd
    got = decompose(repeats=2, n=2000, d=10, epochs=2.0)
    assert steps.Steps.sgd is real                      # the recording wrapper is gone
    assert got["chunk_count"] > 10                      # the geometric schedule's chunks, not one
    for arm in ("one call", "replayed", "replayed, evaluated between"):
        assert len(got[arm]) == 2 and all(s > 0 for s in got[arm])


def test_decompose_from_the_command_line():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "monitor_overhead.py"), "--repeats", "1",
                          "--n", "2000", "--d", "10", "--epochs", "2", "--decompose"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "chunks replayed" in out.stdout and "those chunks / one call" in out.stdout
