"""DDG and features replay vs BP on K torch.distributed ranks, side by side in one run.

Prints, for the same workload, seed and step budget:

1. time per epoch of ``ddg-torch`` and ``fr-torch`` vs ``bp-torch`` (K ranks, module k on rank k),
   the measured speedups next to the thesis's time model (Table 3) ``S_DDG = 1/(rho + (1-rho)/K)``
   and the FR estimate ``S_FR = 1/(rho + 1/K)`` (docs/derivations.md, features_replay, 'FR time'), with
   ``rho = T_F/(T_F + T_B)`` measured on the BP run's modules (forward / backward time per module);
2. peak activation memory (measured: bytes of the storages autograd keeps for the stored graphs,
   plus stored inputs) of DDG and FR relative to BP, per rank and in total, next to the counting
   model of Table 6 (docs/derivations.md, features_replay, 'memory model'):
   DDG/BP = sum_k (K-k+1) A_k / sum_k A_k, FR/BP = (A + sum_k (K-k+1) b_k)/A, with A_k BP's measured
   per-module activations and b_k the module's input size;
3. the same memory ratios for K = 2..4 from the simulator (identical per-module code).

Repeats interleave the plugins (bp, ddg, fr, bp, ...) so slow drifts of a shared machine hit all
three alike; the median per plugin is reported. Times exclude start-up and the pipeline fill (the
rate between the first snapshot at >= 10 updates and the last one) and the untimed evaluations.

    python benchmarks/ddg_fr_timing.py                     # resnet on generated CIFAR-shaped images
    python benchmarks/ddg_fr_timing.py --workload mlp --updates 300
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WORKLOADS = {
    "resnet": ("resnet", {"data": "cifar-synth", "n_train": 1024, "width": 32, "depth": 2}),
    "mlp": ("mlp", {"depth": 3, "width": 256}),
}


def run_one(plugin, workload, wparams, K, updates, params, options):
    from harness._core.monitor import Budget, Schedule
    from harness.run.runner import RunSpec, execute

    spec = RunSpec(plugin, workload, params=dict(params), workload_params=dict(wparams), workers=K, seed=0,
                   budget=Budget(updates=updates), schedule=Schedule(ratio=2.0, max_interval_s=None),
                   options=dict(options))
    rec = execute(spec, None, force=True)
    if rec.status not in ("budget", "done"):
        raise SystemExit(f"{plugin}: {rec.status}: {rec.reason}")
    return rec


def per_iteration(rec) -> float:
    pts = [p for p in rec.points if p["updates"] >= 10]
    a, b = pts[0], pts[-1]
    if b["updates"] == a["updates"]:
        return b["time_s"] / b["updates"]
    return (b["time_s"] - a["time_s"]) / (b["updates"] - a["updates"])


def memory_models(bp_extra, K):
    """(DDG/BP, FR/BP as the memory model counts it, FR/BP counting the replayed input once): module k
    (1-based) holds K-k+1 graphs under DDG; under FR K-k+1 inputs, one of them inside the replay
    graph (BP's A_k already counts a module's input, which its first layer saves)."""
    A = bp_extra["act_peak_bytes"]
    b = bp_extra["input_bytes"]
    total = sum(A)
    ddg = sum((K - k) * A[k] for k in range(K)) / total  # 0-based k: K - k graphs (1-based K-k+1)
    fr_model = (total + sum((K - k) * b[k] for k in range(K))) / total
    fr_once = (total + sum((K - 1 - k) * b[k] for k in range(K))) / total
    return ddg, fr_model, fr_once


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", choices=sorted(WORKLOADS), default="resnet")
    ap.add_argument("--workers", "-K", type=int, default=2)
    ap.add_argument("--updates", type=int, default=120)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--b", type=int, default=32)
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda (NCCL needs K CUDA devices)")
    ap.add_argument("--sim-K", default="2,3,4", help="module counts for the simulator memory table ('' to skip)")
    args = ap.parse_args(argv)
    os.environ.setdefault("HARNESS_STORE", str(Path(tempfile.mkdtemp()) / "bench.db"))
    workload, wparams = WORKLOADS[args.workload]
    K = args.workers
    params = {"eta": 0.05, "b": args.b, "L_iters": 0}
    options = {"device": args.device, "timeout_s": 600}
    names = ["bp-torch", "ddg-torch", "fr-torch"]
    recs = {n: [] for n in names}
    for r in range(args.repeats):
        for n in names:
            recs[n].append(run_one(n, workload, wparams, K, args.updates, params, options))
            print(f"  repeat {r + 1}/{args.repeats} {n}: {1e3 * per_iteration(recs[n][-1]):.2f} ms/iteration",
                  file=sys.stderr)
    from harness._core.registry import workloads

    n_train = workloads().get(workload).build(wparams).n
    per_epoch = n_train // args.b
    it = {n: statistics.median(per_iteration(x) for x in recs[n]) for n in names}
    bp_extra = recs["bp-torch"][-1].points[-1]["extra"]
    tf_all = [sum(x.points[-1]["extra"]["fwd_ms"]) for x in recs["bp-torch"]]
    tb_all = [sum(x.points[-1]["extra"]["bwd_ms"]) for x in recs["bp-torch"]]
    tf, tb = statistics.median(tf_all), statistics.median(tb_all)
    rho = tf / (tf + tb)
    model = {"ddg-torch": 1 / (rho + (1 - rho) / K), "fr-torch": 1 / (rho + 1 / K), "bp-torch": 1.0}
    dev = recs["bp-torch"][-1].info.get("dist_backend"), recs["bp-torch"][-1].info.get("device")
    print(f"\n{workload} {wparams}, b={args.b}, K={K} ranks ({dev[0]} on {dev[1]}), {args.updates} updates x "
          f"{args.repeats} repeats (median), {n_train} samples = {per_epoch} iterations/epoch")
    print(f"BP per iteration, summed over modules: T_F = {tf:.2f} ms, T_B = {tb:.2f} ms -> rho = T_F/(T_F+T_B) = "
          f"{rho:.3f}")
    print(f"\n{'plugin':<10} {'s/epoch':>9} {'ms/iter':>8} {'speedup':>8} {'model':>7}  model formula")
    for n in names:
        form = {"bp-torch": "", "ddg-torch": "1/(rho+(1-rho)/K)  Table 3",
                "fr-torch": "1/(rho+1/K)  estimate, docs/derivations.md"}[n]
        print(f"{n:<10} {it[n] * per_epoch:9.3f} {1e3 * it[n]:8.2f} {it['bp-torch'] / it[n]:8.3f} {model[n]:7.3f}  {form}")
    print("\nper-module ms/iteration (median run): forward | backward (FR's backward includes the replay)")
    for n in names:
        e = recs[n][-1].points[-1]["extra"]
        print(f"  {n:<10} fwd {['%.2f' % v for v in e['fwd_ms']]}  bwd {['%.2f' % v for v in e['bwd_ms']]}")
    ddg_m, fr_m, fr_once = memory_models(bp_extra, K)
    print(f"\npeak activation memory per rank (measured bytes; DDG's stashed weights apart)")
    print(f"{'plugin':<10} {'per rank':<28} {'total':>9} {'/BP':>6} {'model':>6}  (FR model counting the "
          f"replayed input once: {fr_once:.3f})")
    tot_bp = sum(bp_extra["act_peak_bytes"])
    for n, m in (("bp-torch", 1.0), ("ddg-torch", ddg_m), ("fr-torch", fr_m)):
        e = recs[n][-1].points[-1]["extra"]
        tot = sum(e["act_peak_bytes"])
        extra = f"  stash {e['stash_peak_bytes']}" if any(e["stash_peak_bytes"]) else ""
        print(f"{n:<10} {str(e['act_peak_bytes']):<28} {tot:9d} {tot / tot_bp:6.3f} {m:6.3f}{extra}")
    if args.sim_K:
        print("\nsimulator (same per-module code), total peak activations relative to BP, measured | model")
        print(f"{'K':>3} {'DDG':>15} {'FR':>23}   models: DDG sum(K-k+1)A_k/A; FR (A+sum(K-k+1)b_k)/A (model), "
              f"(A+sum(K-k)b_k)/A (input once)")
        for Ks in [int(x) for x in args.sim_K.split(",") if x]:
            ex = {}
            for n in ("bp-sim", "ddg-sim", "fr-sim"):
                ex[n] = run_one(n, workload, {**wparams, "depth": max(wparams["depth"], Ks)}, Ks, 3 * Ks + 4,
                                params, {}).points[-1]["extra"]
            base = sum(ex["bp-sim"]["act_peak_bytes"])
            dm, fm, fo = memory_models(ex["bp-sim"], Ks)
            print(f"{Ks:>3} {sum(ex['ddg-sim']['act_peak_bytes']) / base:7.3f} | {dm:5.3f} "
                  f"{sum(ex['fr-sim']['act_peak_bytes']) / base:7.3f} | {fm:5.3f}, {fo:5.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
