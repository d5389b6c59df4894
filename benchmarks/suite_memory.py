"""A whole suite as a user types it, watched from outside: wall time, each run's start-up (the
seconds before its budget started, as stored with the run) and the peak memory of the harness
process and its children (MPI ranks), sampled every few seconds with psutil: the tree's summed PSS
(a page shared by the ranks through the data cache counts once) and the harness process's RSS.

    python benchmarks/suite_memory.py [--every 3] -- run asysvrg --scale paper --budget seconds=3 --seeds 1 --no-report

Everything after ``--`` is the ``harness`` command line; it runs into a fresh store (``--store``
here, default a temporary file) with the data and constants caches of ``$HARNESS_CACHE`` (a second
invocation shows what a later session pays). Printed: the wall time, start-up per run (first run,
then min / median / max of the others), the peak memory of the process tree and the RSS after each
sample in a small table, and the command's exit code. ``--scale-down K`` divides every ``n`` and
``d`` of the suite's workloads by K, keeping the nonzeros per row (a copy of the suite file in a
temporary folder): the same grid on a machine too small or too busy for the papers' sizes.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def sample(pid: int) -> tuple[int, int]:
    """(PSS of the process tree: what the harness and its ranks hold together, RSS of the harness process)."""
    import psutil

    from harness._core.memory import held_bytes

    try:
        rss = psutil.Process(pid).memory_info().rss
    except psutil.Error:
        rss = 0
    return held_bytes(pid), rss


def scaled_suite(argv: list[str], k: int, folder: Path) -> list[str]:
    """The command with its suite replaced by a copy whose workloads' n and d are divided by ``k``."""
    from harness.cli.run import paper_scale
    from harness.suites import suite_path

    args = list(argv)
    suite_at = next(i for i, a in enumerate(args[1:], 1) if not a.startswith("-"))
    name = args[suite_at]
    if "--scale" in args and args[args.index("--scale") + 1] == "paper":
        path = paper_scale(name)
        i = args.index("--scale")
        del args[i:i + 2]
    else:
        path = Path(name) if Path(name).exists() else suite_path(name)
    text = path.read_text()
    text = re.sub(r"\b(n|d) = (\d+)", lambda m: f"{m.group(1)} = {max(10, int(m.group(2)) // k)}", text)
    # the same nonzeros per row on 1/k of the columns
    text = re.sub(r"\bdensity = ([0-9.eE+-]+)", lambda m: f"density = {min(1.0, float(m.group(1)) * k):g}", text)
    out = folder / path.name
    out.write_text(text)
    args[suite_at] = str(out)
    return args


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--every", type=float, default=3.0, help="seconds between memory samples")
    ap.add_argument("--store", default=None, help="results database (default: a new temporary one)")
    ap.add_argument("--scale-down", type=int, default=1, help="divide the suite's n and d by this")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- then the harness command line")
    a = ap.parse_args()
    argv = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not argv:
        ap.error("give the harness command after --")
    tmp = Path(tempfile.mkdtemp(prefix="suite-memory-"))
    if a.scale_down > 1:
        argv = scaled_suite(argv, a.scale_down, tmp)
    store = a.store or str(tmp / "results.db")
    env = {**os.environ, "HARNESS_STORE": store, "HARNESS_PROGRESS_EVERY": str(max(a.every, 5.0))}
    import psutil

    print(f"harness {' '.join(argv)}   (load {os.getloadavg()[0]:.1f}, {psutil.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.1f} GiB)", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", *argv], env=env)
    samples: list[tuple[float, int, int]] = []
    while proc.poll() is None:
        samples.append((time.perf_counter() - t0, *sample(proc.pid)))
        try:
            proc.wait(timeout=a.every)
        except subprocess.TimeoutExpired:
            pass
    wall = time.perf_counter() - t0
    from harness.run.store import Store

    runs = sorted(Store(store).runs(), key=lambda r: r.created)
    ups = [r.info.get("startup_s") for r in runs]
    peak = max((m for _, m, _ in samples), default=0)
    peak_rss = max((r for _, _, r in samples), default=0)
    print(f"\nexit {proc.returncode}; wall {wall:.1f} s; {len(runs)} runs stored; peak memory of the process tree "
          f"{peak / 2**30:.2f} GiB (PSS), of the harness process {peak_rss / 2**30:.2f} GiB (RSS) ({len(samples)} "
          f"samples every {a.every:g} s); load now {os.getloadavg()[0]:.1f}")
    for r, up in zip(runs, ups):
        src = (r.info.get("data") or {}).get("source", "-")
        print(f"  {r.plugin:<18} w={r.workers:<3} {r.status:<10} start-up {up if up is not None else float('nan'):7.2f} s"
              f"  data {src:<7} wall {r.wall_s or 0:7.2f} s")
    later = [u for u in ups[1:] if u is not None]
    if ups and ups[0] is not None:
        tail = (f"; later runs min / median / max {min(later):.2f} / {statistics.median(later):.2f} / "
                f"{max(later):.2f} s") if later else ""
        print(f"start-up: first run {ups[0]:.2f} s{tail}")
    step = max(1, len(samples) // 20)
    print("samples (s: tree PSS / harness RSS, GiB): "
          + ", ".join(f"{t:.0f}: {m / 2**30:.2f} / {r / 2**30:.2f}" for t, m, r in samples[::step]))
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)  # the scaled suite and the temporary store
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
