"""One rank of a ``*-torch`` run: module k = rank k of K (``python -m harness.plugins.torch_mp.rank``).

Activations go up and boundary gradients go down with non-blocking ``isend``/``irecv``; each rank
runs exactly the per-module calls of the simulator (``driver.sim_iteration``), in the same order, so
its iterates equal the simulator's. Chunks between snapshots are decided by the last rank (it owns
the monitor: it holds the loss) and broadcast; at a chunk's end the ranks gather their weights and
measurements there, and the monitor evaluates them with the clock paused.
"""

from __future__ import annotations

from collections import deque

import torch
import torch.distributed as td

from harness.plugins.launchers import torch_dist
from harness.api import child_context, load_spec, write_result

from .core import Sampler, sigma_cost, window
from .stages import build_stages
from .driver import Evaluator, Snapshot, merged_delays, reported, summary

ACT, DELTA = 0, 1


def tag(t: int, kind: int) -> int:
    return (int(t) % (1 << 20)) * 2 + kind


class Links:
    """Point-to-point traffic of module k: receive buffers and in-flight sends (kept alive until
    they complete; waited lazily so a send never stalls the sender's next iteration)."""

    def __init__(self, k: int, K: int, shapes, b: int, device):
        self.k, self.K = k, K
        self.act = torch.empty((b, *shapes[k]), device=device) if k > 0 else None
        self.delta = torch.empty((b, *shapes[k + 1]), device=device) if k < K - 1 else None
        self.sends: deque = deque()

    def isend(self, tensor, dst: int, t: int, kind: int) -> None:
        tensor = tensor.contiguous()
        self.sends.append((t, td.isend(tensor, dst=dst, tag=tag(t, kind)), tensor))

    def reap(self, before: int | None = None) -> None:
        while self.sends and (before is None or self.sends[0][0] < before):
            self.sends.popleft()[1].wait()


def body():
    spec = load_spec()
    opts = spec.get("options", {})
    dist = torch_dist.init(opts.get("device", "auto"))
    k, K = dist.rank, dist.world
    owner = K - 1  # the rank holding the loss module owns the monitor
    ctx = child_context(spec, owns_monitor=k == owner)
    wl, p, mon = ctx.workload, ctx.params, ctx.monitor
    algo, b = ctx.plugin.family, int(p["b"])
    modules, stages, shapes = build_stages(wl, p, K, ctx.seed, algo, dist.device, ranks=[k])
    st = stages[k]
    X_cpu, y_cpu, _, _ = wl.data()
    X, y = X_cpu.to(dist.device), y_cpu.to(dist.device)
    sampler = Sampler(len(X), b, ctx.seed, dist.device)
    # the owner evaluates all K modules (weights gathered at snapshots) on its device, clock paused
    ev = Evaluator(wl, modules, algo, sampler, (X, y)) if k == owner else None
    if ev is not None:
        mon.evaluate = ev
        mon.costs(update=b, point=sigma_cost(algo, int(p["sigma_window"]), K, b))
    links = Links(k, K, shapes, b, dist.device)

    def iteration(t: int) -> None:
        torch_dist.fault(opts, k, t)
        links.reap(before=t - 1)
        idx = sampler.batch(t)                                  # on the device
        yb = y[idx]
        need = st.expects_delta(t)
        r_act = td.irecv(links.act, src=k - 1, tag=tag(t, ACT)) if k > 0 else None
        # DDG / FR / DNI: the boundary gradient module k+1 sent at t-1, posted before the forward
        r_delta = td.irecv(links.delta, src=k + 1, tag=tag(t - 1, DELTA)) if need and algo != "bp" else None
        if r_act is not None:
            r_act.wait()
            x = links.act.clone()  # stored by the graph / the replay history: its own storage
        else:
            x = X[idx]
        out, gin = st.forward(t, x, yb)
        if out is not None:
            links.isend(out, k + 1, t, ACT)
        if gin is not None:  # DNI: input gradient of the synthetic backward, sent down at once
            links.isend(gin, k - 1, t, DELTA)
        if algo == "dni" and not st.top:
            if need:
                r_delta.wait()
                st.train_synth(t, links.delta)
            return
        delta = None
        if need and algo == "bp":  # backward locking: wait for module k+1's backward of batch t
            td.recv(links.delta, src=k + 1, tag=tag(t, DELTA))
            delta = links.delta
        elif need:
            r_delta.wait()
            delta = links.delta
        gin = st.backward(t, delta)
        if gin is not None:
            links.isend(gin, k - 1, t, DELTA)

    def snapshot(t: int, first: bool = False) -> None:
        stats = st.stats()
        if dist.device.type == "cuda":
            stats["cuda_peak"] = int(torch.cuda.max_memory_allocated(dist.device))
        gathered = [None] * K if k == owner else None
        td.gather_object(stats, gathered, dst=owner)
        if k == owner:
            mon.tick(t, Snapshot(gathered), samples=t * b, delays=None if first else merged_delays(gathered),
                     force=first)

    dist.barrier()
    t = 0
    snapshot(0, first=True)  # starts the owner's clock after set-up
    while True:
        n = mon.next_chunk(t) if (k == owner and mon.running) else 0
        n = dist.broadcast_int(n, src=owner)
        if n == 0:
            break
        lo, hi, g_lo = window(t, n, int(p["sigma_window"]), K)
        st.set_window(lo, hi, g_lo)
        for _ in range(n):
            iteration(t)
            t += 1
        snapshot(t)
    # drain: the boundary gradient sent at the last iteration for an iteration that will not run
    if st.expects_delta(t) and algo != "bp":
        td.recv(links.delta, src=k + 1, tag=tag(t - 1, DELTA))
    links.reap()
    if k == owner:
        info = reported(ctx, summary(ev, p, K))
        info["dist_backend"] = dist.backend
        info["device"] = str(dist.device)
        write_result(ctx, info)
    dist.barrier()
    return 0


if __name__ == "__main__":
    torch_dist.rank_main(body)
