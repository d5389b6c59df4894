"""Threads backend scaling: where each thread's time goes, an Amdahl prediction for many threads next
to what is measured, and the throughput cost of atomic coordinate writes (issue 17).

For a sparse logistic regression (n rows of ``--nnz`` nonzeros over d coordinates) it runs the
backend's own chunk loop (``ThreadLinear`` on a ``Team``, as ``hogwild-threads`` /
``asysvrg-threads`` do, without the monitor's evaluation) on 1, 2, ... threads and prints:

1. **profile** per thread count (median run): wall time; the serial part (Python between the
   team's parallel calls: chunk set-up, drift tables, the loop); per thread, the time in its share
   (index draw + numba kernel; wall and the thread's CPU seconds), the dispatch latency (call ->
   the thread starts its share) and the wait at the join (its share done -> the last one done);
2. **Amdahl**: from the 1-thread profile, T(N) = S + c P / N with S the serial seconds, P the
   seconds inside parallel calls, and c the contention factor measured at the largest thread count
   run (CPU thread-seconds per update there / at 1 thread: cache-line traffic and compare-and-swap
   retries; CPU seconds, so that time the OS gives other jobs on a shared machine is not counted
   as contention); predicted speedups at ``--predict`` threads with c = 1 and with the measured c,
   next to the measured speedups;
3. **write modes** (``--modes``): updates per second at each thread count for ``atomic`` (the
   default, a compare-and-swap loop per coordinate), ``racy`` (one compare-and-swap, lost writes
   counted) and ``plain`` (unsynchronised stores), and the lost-write fraction;
4. the machine's parallel capacity at that moment (``harness.plugins.threads.probe``: a compute loop
   on T threads / 1, measured interleaved with the runs): the ceiling a speedup can show here;
   with ``--schedules shares,pieces``, the team's two schedules side by side (large chunks handed out
   in pieces, the default, or each share whole on one thread, as before; runs alternate which goes
   first): speedups, the T-thread walls' ratio and the wait at the joins, over all repeats and over
   those in which no run lost more than ``--stolen`` of its threads' time to other processes.

Every figure is repeated ``--repeats`` times, interleaved, printed as min / median / max.

    python benchmarks/threads_scaling.py                                   # short (this 2-core machine)
    python benchmarks/threads_scaling.py --n 1000000 --d 1000000 --nnz 50 --epochs 3 \\
        --threads 1,2,4,8,16 --repeats 3                                   # >= 10 s on one thread
    python benchmarks/threads_scaling.py --algo asysvrg ...                # SVRG epochs (snapshot phase)
    python benchmarks/threads_scaling.py --n 1000000 --d 1000000 --epochs 3 --modes atomic \
        --schedules shares,pieces --repeats 15                             # whole shares vs pieces (issue 28)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def build(n: int, d: int, nnz: int, lam: float, seed: int = 0):
    from harness._core.registry import workloads

    return workloads().get("logreg").build({"sparse": True, "n": n, "d": d, "density": nnz / d, "lam": lam,
                                            "seed": seed})


def one_run(wl, threads: int, write: str, algo: str, epochs: float, eta: float, chunks_per_epoch: int, seed: int,
            pieces: bool = True):
    """The plugin's chunk loop on ``threads`` threads (the measured delays folded into a histogram
    per chunk, as the plugins do; no evaluation); ``pieces``: the team's schedule (``Team``: large
    chunks in pieces, or whole shares as before); returns (wall s, updates, team trace, writes)."""
    from harness.plugins.threads.linear import ThreadLinear
    from harness.plugins.threads.team import Team, single_threaded_blas
    from harness._core.staleness import DelayStats

    total = int(epochs * wl.n)
    stats = DelayStats()
    with Team(threads, seed, pieces=pieces) as team, single_threaded_blas():
        lin = ThreadLinear(wl, team, write)
        lin.warmup(1, svrg=algo == "asysvrg")
        cap = min(lin.chunk_cap(eta, 1), max(1, wl.n // chunks_per_epoch))
        w = np.zeros(wl.dim)
        team.trace = []
        t = 0
        start, cpu_start = time.perf_counter(), time.thread_time()
        if algo == "hogwild":
            while t < total:
                k = min(cap, total - t)
                lin.sgd(w, k, b=1, eta=eta, delays=stats)     # the plugin's loop: delays folded in
                t += k
        else:
            while t < total:
                snap = lin.snapshot(w)                        # full gradient at w~ (split across the team)
                inner = 0
                while inner < wl.n and t < total:
                    k = min(cap, wl.n - inner, total - t)
                    lin.svrg(w, snap, k, b=1, eta=eta, coords=0, delays=stats)
                    inner += k
                    t += k
        wall = time.perf_counter() - start
        team.trace.append(("main-cpu", time.thread_time() - cpu_start))
        return wall, t, team.trace, lin.writes()


def profile(wall: float, trace: list, threads: int) -> dict:
    """Serial seconds (outside the team's calls; wall, and the main thread's CPU seconds outside its
    own shares), in-call seconds, and per thread, summed over the calls it ran something in: busy
    (wall and CPU seconds in its shares, or in the shares it opened and the pieces it ran), dispatch
    (the call -> its first start), wait (its last end -> the call's last end) and spans (shares or
    pieces run, with the shares opened)."""
    main_cpu = trace[-1][1]
    trace = trace[:-1]
    in_calls = sum(ret - call for call, ret, _ in trace)
    busy, cpu, dispatch, wait, spans_run = (np.zeros(threads) for _ in range(5))
    for call, ret, spans in trace:
        last = max(e for _, _, e, _ in spans) if spans else ret
        first_start, last_end = {}, {}
        for r, s, e, c in spans:
            busy[r] += e - s
            cpu[r] += c
            spans_run[r] += 1
            first_start[r] = min(first_start.get(r, s), s)
            last_end[r] = max(last_end.get(r, e), e)
        for r in first_start:
            dispatch[r] += first_start[r] - call
            wait[r] += last - last_end[r]
    return {"wall": wall, "serial": wall - in_calls, "parallel": in_calls, "busy": busy, "cpu": cpu,
            "serial_cpu": max(main_cpu - cpu[0], 0.0), "dispatch": dispatch, "wait": wait, "spans": spans_run,
            "calls": len(trace)}


def stolen(trace: list) -> float:
    """The fraction of the run's in-share wall seconds its threads were not on a CPU (another process
    had it): 1 - CPU seconds / wall seconds, summed over every share or piece."""
    spans = [sp for entry in trace[:-1] for sp in entry[2]]
    wall = sum(e - s for _, s, e, _ in spans)
    return 1.0 - sum(c for *_, c in spans) / max(wall, 1e-12)


def join_wait(run: tuple, threads: int) -> float:
    """The threads' waits at the joins, summed, over the run's wall time."""
    wall, _, trace, _ = run
    return float(profile(wall, trace, threads)["wait"].sum()) / wall


def stats(xs) -> str:
    xs = np.asarray(xs, dtype=float)
    return f"{np.min(xs):10.4g} {np.median(xs):10.4g} {np.max(xs):10.4g}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--d", type=int, default=100_000)
    ap.add_argument("--nnz", type=int, default=50, help="nonzeros per row")
    ap.add_argument("--lam", type=float, default=1e-5)
    ap.add_argument("--eta", type=float, default=0.5)
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--algo", choices=("hogwild", "asysvrg"), default="hogwild")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (first should be 1)")
    ap.add_argument("--modes", default="atomic,racy,plain", help="write modes to compare")
    ap.add_argument("--chunks-per-epoch", type=int, default=4, help="team calls per epoch (the monitor's snapshots)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--predict", default="16", help="thread counts to predict (Amdahl)")
    ap.add_argument("--stolen", type=float, default=0.01,
                    help="section 4 also shows the repeats none of whose runs lost more than this fraction of its "
                         "threads' time to other processes")
    ap.add_argument("--schedules", default="pieces",
                    help="the team's schedules to compare, interleaved: pieces (large chunks handed out in pieces, "
                         "the default) and / or shares (each share whole on one thread, as before)")
    a = ap.parse_args(argv)
    threads = [int(x) for x in a.threads.split(",")]
    modes = a.modes.split(",")
    schedules = a.schedules.split(",")
    if not set(schedules) <= {"pieces", "shares"}:
        ap.error(f"--schedules: pieces and / or shares, not {a.schedules}")
    predict = [int(x) for x in a.predict.split(",")]
    from harness.plugins.threads.probe import parallel_capacity

    t0 = time.perf_counter()
    wl = build(a.n, a.d, a.nnz, a.lam)
    print(f"{a.algo}-threads on sparse logreg n = {a.n}, d = {a.d}, {a.nnz} nonzeros/row, lam = {a.lam}, "
          f"eta = {a.eta}, {a.epochs} epochs, b = 1, {a.chunks_per_epoch} chunks/epoch "
          f"(built in {time.perf_counter() - t0:.1f} s); {a.repeats} repeats, interleaved; min / median / max")
    runs: dict[tuple[str, str, int], list] = {(sc, m, T): [] for sc in schedules for m in modes for T in threads}
    capacity: dict[int, list[float]] = {T: [] for T in threads if T > 1}
    for rep in range(a.repeats):
        for T in capacity:
            capacity[T].append(parallel_capacity(T))
        for m in modes:
            for T in threads:
                for sc in (schedules if rep % 2 == 0 else schedules[::-1]):   # neither always first
                    runs[(sc, m, T)].append(one_run(wl, T, m, a.algo, a.epochs, a.eta, a.chunks_per_epoch,
                                                    seed=rep, pieces=sc == "pieces"))

    print("\n3. write modes: updates per second (millions), lost writes")
    print(f"  {'schedule':8s} {'mode':8s} {'T':>3s} {'min':>10s} {'median':>10s} {'max':>10s}   "
          "lost-write fraction (median)")
    rate = {}
    for (sc, m, T), rs in runs.items():
        rate[(sc, m, T)] = [u / w / 1e6 for w, u, _, _ in rs]
        lost = [r[3]["lost_fraction"] for r in rs]
        lost_s = "not observable" if lost[0] is None else f"{statistics.median(lost):.2e}"
        print(f"  {sc:8s} {m:8s} {T:>3d} {stats(rate[(sc, m, T)])}   {lost_s}")
    for sc in schedules:
        for T in threads:
            if "atomic" in modes and "plain" in modes:
                r = [x / y for x, y in zip(rate[(sc, "atomic", T)], rate[(sc, "plain", T)])]
                print(f"  {sc}: atomic / plain throughput at T = {T}: {stats(r)}")

    base = modes[0]
    for sc in schedules:
        print(f"\n1. profile ({sc}, {base} writes; seconds, median run by wall time)")
        prof = {}
        for T in threads:
            rs = sorted(runs[(sc, base, T)], key=lambda r: r[0])
            wall, _, trace, _ = rs[len(rs) // 2]
            prof[T] = p = profile(wall, trace, T)
            print(f"  T = {T:2d}: wall {p['wall']:.3f}  serial (outside team calls) {p['serial']:.4f} "
                  f"(main-thread cpu {p['serial_cpu']:.4f})  in team calls {p['parallel']:.3f}  ({p['calls']} calls)")
            for r in range(T):
                print(f"    thread {r}: busy {p['busy'][r]:.3f} (cpu {p['cpu'][r]:.3f}, {p['spans'][r]:.0f} spans)  "
                      f"dispatch {p['dispatch'][r]:.4f}  wait at join {p['wait'][r]:.4f}")

        one = prof[threads[0]]
        S, P = one["serial_cpu"], one["cpu"].sum()        # CPU seconds: what other jobs steal is not counted
        Tmax = threads[-1]
        c = prof[Tmax]["cpu"].sum() / max(one["cpu"].sum(), 1e-12)
        print(f"\n2. Amdahl ({sc}) from the T = {threads[0]} profile in CPU seconds: S = {S:.4f} serial, P = {P:.3f} "
              f"parallel (serial fraction {S / (S + P):.2%}; by wall: {one['serial'] / one['wall']:.2%}); contention "
              f"c = CPU thread-seconds at T = {Tmax} / at T = 1 = {c:.2f}")
        print(f"  {'T':>3s} {'Amdahl c=1':>11s} {'Amdahl c':>9s} {'measured wall (min/median/max)':>34s} "
              f"{'capacity (median)':>18s}")
        walls = {T: [r[0] for r in runs[(sc, base, T)]] for T in threads}
        for T in sorted(set(threads) | set(predict)):
            ideal = (S + P) / (S + P / T)
            cont = (S + P) / (S + c * P / T) if T > 1 else 1.0
            if T in walls:
                sp = [w1 / wT for w1, wT in zip(walls[threads[0]], walls[T])]
                meas = stats(sp)
                cap = f"{statistics.median(capacity[T]):.2f}" if T in capacity else "-"
            else:
                meas, cap = f"{'(not run)':>32s}", "-"
            print(f"  {T:>3d} {ideal:>11.2f} {cont:>9.2f} {meas:>34s} {cap:>18s}")

    if len(schedules) > 1:
        one, other = schedules[0], schedules[1]
        # a repeat is undisturbed where no run of it lost more than --stolen of its in-share time to other processes
        quiet = [i for i in range(a.repeats)
                 if all(stolen(rs[i][2]) <= a.stolen for (sc, m, T), rs in runs.items() if m == base)]
        for title, reps in (("all repeats", list(range(a.repeats))),
                            (f"undisturbed repeats ({len(quiet)} of {a.repeats}: every run lost <= {a.stolen:.0%} "
                             f"of its threads' time to other processes)", quiet)):
            print(f"\n4. schedules side by side ({base} writes; min / median / max), {title}")
            if not reps:
                continue
            for T in threads[1:]:
                for sc in schedules:
                    sp = [runs[(sc, base, threads[0])][i][0] / runs[(sc, base, T)][i][0] for i in reps]
                    print(f"  speedup {threads[0]} -> {T} threads, {sc:8s} {stats(sp)}")
                ratio = [runs[(one, base, T)][i][0] / runs[(other, base, T)][i][0] for i in reps]
                print(f"  wall at T = {T}, {one} / {other}  {stats(ratio)}")
                for sc in schedules:
                    waits = [join_wait(runs[(sc, base, T)][i], T) for i in reps]
                    print(f"  wait at the join / wall, {sc:8s}  {stats(waits)}")
                if T in capacity:
                    print(f"  capacity at T = {T}               {stats([capacity[T][i] for i in reps])}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
