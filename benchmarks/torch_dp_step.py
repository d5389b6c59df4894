"""Large-batch data parallel: CLARS vs mNAG time per step, and W = 1 vs W = 2 throughput, side by
side in one run.

For one workload and global batch B, runs ``mnag-torch`` and ``clars-torch`` with W = 1 and W = 2
gloo ranks (the same launcher and code path; measurements off) and prints:

1. time per step of CLARS / mNAG at the same batch and W: the cost of the exact per-sample
   gradient norms of (4.7) (torch.func vmap over per-sample grads, see plugins/torch_dp/large_batch.py);
2. throughput (samples/s) at W = 2 vs W = 1 for each rule.

Times are the measured clock (evaluation excluded) between the first snapshot at >= ``--skip``
steps and the last one, so process start-up and the first vmap call are not counted. Repeats
interleave the four configurations (mnag W1, clars W1, mnag W2, clars W2, mnag W1, ...) so drifts
of a shared machine hit all alike; medians are reported.

    python benchmarks/torch_dp_step.py                        # MLP on digits, B = whole training set
    python benchmarks/torch_dp_step.py --workload resnet --steps 8
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WORKLOADS = {
    "mlp": ("mlp", {"depth": 4, "width": 64}),
    "resnet": ("resnet", {"data": "digits", "width": 32, "depth": 2}),
}


def seconds_per_step(plugin: str, workload: str, wparams: dict, workers: int, steps: int, skip: int, b: int) -> float:
    from harness._core.monitor import Budget
    from harness.run.runner import RunSpec, execute

    rec = execute(RunSpec(plugin, workload, {"b": b, "lr": 0.01, "measure": "off"}, dict(wparams), workers=workers,
                          seed=0, budget=Budget(updates=steps), options={"timeout_s": 600}))
    if rec.status != "budget":
        raise SystemExit(f"{plugin} W={workers}: {rec.status} {rec.reason}")
    pts = [p for p in rec.points if p["updates"] >= skip]
    first, last = pts[0], pts[-1]
    if last["updates"] <= first["updates"]:
        raise SystemExit(f"{plugin}: not enough snapshots after {skip} steps (raise --steps)")
    return (last["time_s"] - first["time_s"]) / (last["updates"] - first["updates"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", choices=sorted(WORKLOADS), default="mlp")
    ap.add_argument("--b", type=int, default=0, help="global batch (0: the whole training set)")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--skip", type=int, default=3, help="steps not timed (start-up, first vmap call)")
    ap.add_argument("--repeats", type=int, default=1)
    a = ap.parse_args(argv)
    name, wparams = WORKLOADS[a.workload]
    from harness._core.registry import workloads

    n = workloads().get(name).build(wparams).n
    B = a.b or n
    configs = [(r, w) for w in (1, 2) for r in ("mnag", "clars")]
    times: dict[tuple[str, int], list[float]] = {c: [] for c in configs}
    for _ in range(a.repeats):
        for rule, w in configs:
            times[(rule, w)].append(seconds_per_step(f"{rule}-torch", name, wparams, w, a.steps, a.skip, B))
    med = {c: statistics.median(v) for c, v in times.items()}
    print(f"workload {name} {wparams}, n = {n}, global batch B = {B}, {a.steps} steps "
          f"(first {a.skip} untimed), {a.repeats} repeat(s), medians")
    print(f"{'rule':6} {'W':>2} {'s/step':>10} {'samples/s':>11}")
    for (rule, w), s in med.items():
        print(f"{rule:6} {w:>2} {s:>10.4f} {B / s:>11.0f}")
    for w in (1, 2):
        print(f"W={w}: time per step clars / mnag = {med[('clars', w)] / med[('mnag', w)]:.2f}x "
              "(cost of the exact per-sample gradient norms)")
    for rule in ("mnag", "clars"):
        print(f"{rule}: throughput W=2 / W=1 = {med[(rule, 1)] / med[(rule, 2)]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
