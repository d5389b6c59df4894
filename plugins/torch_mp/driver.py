"""Driving K stages: the per-iteration schedule of each algorithm in one process (the simulator),
the evaluation at a snapshot (clock paused), and the run summary.

Per iteration t (Algorithms 9 and 11 of Huo 2020): the forward runs k = 1..K in order (batch t); then
- BP: backward k = K..1, each with the boundary gradient of the same batch from k+1;
- DDG / FR: every module back-propagates *in parallel* the boundary gradient module k+1 produced at
  iteration t-1 (delta_k for batch t-K+k), and produces the one module k-1 uses at t+1;
- DNI: modules k < K updated in their forward (synthetic gradient); the loss module back-propagates;
  then each S_k regresses the boundary gradient of batch t-1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch

from harness.plugins.algorithms.applied import agreed
from harness.plugins.launchers.torch_dist import local_device

from .core import Sampler, load_weights, point_extra, sigma_cost, sigma_dir, window
from .stages import Stage, build_stages


def sim_iteration(stages: Sequence[Stage], t: int, x, y, algo: str, pending: dict[int, Any]) -> dict[int, Any]:
    """One iteration of all K modules in one process. ``pending[k]`` is the boundary gradient module
    k receives from k+1 (produced at t-1 for DDG/FR/DNI). Returns the next iteration's ``pending``."""
    K = len(stages)
    nxt: dict[int, Any] = {}
    h = x
    for k in range(K):  # forward pass k = 1..K (sequential pipeline)
        h, gin = stages[k].forward(t, h, y)
        if gin is not None:  # DNI: the synthetic gradient's input gradient, sent down now
            nxt[k - 1] = gin
    if algo == "bp":
        delta = None
        for k in reversed(range(K)):  # backward locking: k waits for k+1
            delta = stages[k].backward(t, delta)
        return {}
    if algo in ("ddg", "fr"):
        for k in reversed(range(K)):  # "for k = 1..K in parallel": each uses last iteration's delta
            st = stages[k]
            gin = st.backward(t, pending.get(k) if st.expects_delta(t) else None)
            if gin is not None:
                nxt[k - 1] = gin
        return nxt
    # DNI
    gin = stages[-1].backward(t, None)
    if gin is not None:
        nxt[K - 2] = gin
    for k in range(K - 1):
        if stages[k].expects_delta(t):
            stages[k].train_synth(t, pending[k])
    return nxt


@dataclass
class Snapshot:
    """What the monitor evaluates at a tick: the per-stage stats (with weights)."""

    stats: list


class Evaluator:
    """The monitor's ``evaluate`` for these plugins (runs with the clock paused): loads the stages'
    weights into the K module skeletons, computes the workload's metrics on the composed network,
    the sufficient-direction constant per module, and the point's ``extra``."""

    def __init__(self, workload, modules, algo: str, sampler: Sampler, data):
        """``modules`` are moved to the device ``data`` is on: the metrics (on the workload's
        evaluation subset) and sigma_dir's forward/backward passes run there."""
        self.X, self.y = data
        self.workload, self.algo, self.sampler = workload, algo, sampler
        self.modules = [m.to(self.X.device) for m in modules]
        self.history: list[dict[str, Any]] = []
        self.f0: float | None = None
        self.opt_facts: list[dict[str, Any]] = []   # each module's optimizer, as its stage reported it

    def __call__(self, snap: Snapshot) -> dict[str, Any]:
        self.opt_facts = [st["opt"] for st in snap.stats if "opt" in st]
        load_weights(self.modules, [st["w"] for st in snap.stats])
        metrics = self.workload.metrics(list(self.modules))
        if self.f0 is None:
            self.f0 = metrics.get("objective")
        sig, sig_g = sigma_dir(self.modules, snap.stats, self.X, self.y, self.sampler, self.workload.loss_fn)
        extra, _ = point_extra(self.algo, snap.stats, sig, sig_g)
        self.history.append(extra)
        return {**metrics, "extra": extra}


def merged_delays(stats):
    return point_extra("", stats, [None] * len(stats), None)[1]


def summary(ev: Evaluator, params: dict[str, Any], K: int) -> dict[str, Any]:
    """Facts stored with the run: the measured time split and the thesis's time model, memory,
    sigma_dir's minimum per module, the second moment M, a local smoothness estimate."""
    if not ev.history:
        return {}
    last = ev.history[-1]
    tf = sum(v for v in last["fwd_ms"] if v is not None)
    tb = sum(v for v in last["bwd_ms"] if v is not None)
    rho = tf / (tf + tb) if tf + tb > 0 else None
    sig_min = []
    for k in range(K):
        vals = [h["sigma_dir"][k] for h in ev.history if h["sigma_dir"] and h["sigma_dir"][k] is not None]
        sig_min.append(min(vals) if vals else None)
    glob = [h["sigma_dir_global"] for h in ev.history if h["sigma_dir_global"] is not None]
    out = {
        "algo": last["algo"], "K": K,
        "delays": last["delay_max"],
        "fwd_ms": last["fwd_ms"], "bwd_ms": last["bwd_ms"],
        "rho": rho,  # T_F / (T_F + T_B) measured on this run's modules
        "ddg_speedup_model": (1.0 / (rho + (1 - rho) / K)) if rho is not None else None,  # Table 3
        "fr_speedup_model": (1.0 / (rho + 1.0 / K)) if rho is not None else None,        # docs/derivations.md, features_replay, 'FR time'
        "act_peak_bytes": last["act_peak_bytes"], "stash_peak_bytes": last["stash_peak_bytes"],
        "input_bytes": last["input_bytes"], "history_max": last["history_max"],
        "sigma_dir_min": sig_min,
        "M_est": max(h["M_mean"] for h in ev.history),  # E||sum_k g_k||^2 (blocks disjoint), max over snapshots
        # what the theory checker reads: (6.10)'s global constant (min over snapshots), f(w^0) - inf f
        # (cross-entropy >= 0, so inf f >= 0), the module count
        "sigma_dir": min(glob) if glob else None,
        "f0_minus_finf": ev.f0,
    }
    out["applied"] = applied(ev, K)  # what the modules' optimizers applied (reported by the caller: ctx.applied)
    iters = int(params.get("L_iters", 0) or 0)
    if iters:
        out["L_est"] = local_smoothness(ev.workload, ev.modules, iters, int(params.get("L_n", 256)))
    return out


def applied(ev: Evaluator, K: int) -> dict[str, Any]:
    """``info['applied']``: the module count K, the batch size b the sampler drew, and each key of the
    modules' optimizer facts (eta, schedule, t0 / Adam's constants): one value when every module
    applied the same, the per-module list when they differ (the checker flags that)."""
    out: dict[str, Any] = {"K": K, "b": ev.sampler.b}
    for key in dict.fromkeys(k for f in ev.opt_facts for k in f):
        out[key] = agreed([f.get(key) for f in ev.opt_facts])
    return out


def local_smoothness(workload, modules, iters: int = 10, cap: int = 256) -> float:
    """Largest Hessian eigenvalue magnitude of the training loss at the final weights (power
    iteration on Hessian-vector products, on the first ``cap`` samples of the workload's evaluation
    subset, on the modules' device): a local L."""
    model = torch.nn.Sequential(*modules)
    params = [p for p in model.parameters()]
    dev = params[0].device
    X, y = workload.eval_set(dev)[:2]
    X, y = X[:cap], y[:cap]
    loss = workload.loss_fn(model(X), y)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    gen = torch.Generator().manual_seed(0)
    v = [torch.randn(p.shape, generator=gen).to(dev) for p in params]
    lam = 0.0
    for _ in range(iters):
        nrm = math.sqrt(sum(float((vi ** 2).sum()) for vi in v)) or 1.0
        v = [vi / nrm for vi in v]
        hv = torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)
        lam = math.sqrt(sum(float((h ** 2).sum()) for h in hv))
        v = [h.detach() for h in hv]
    return lam


# -- the simulator plugin -------------------------------------------------------------------------
def run_sim(ctx) -> dict[str, Any]:
    """``*-sim``: the K modules in one process, exactly the delays of the parallel run."""
    wl, p, mon = ctx.workload, ctx.params, ctx.monitor
    algo, K = ctx.plugin.family, int(ctx.workers)
    torch.set_num_threads(1)  # as on every rank: same kernels, same float results
    device = local_device(ctx.options.get("device", "cpu"))   # cuda asked for and absent: the user's error
    modules, stages_d, _ = build_stages(wl, p, K, ctx.seed, algo, device)
    stages = [stages_d[k] for k in range(K)]
    X_cpu, y_cpu, _, _ = wl.data()
    X, y = X_cpu.to(device), y_cpu.to(device)
    sampler = Sampler(len(X), int(p["b"]), ctx.seed, device)
    ev = Evaluator(wl, modules, algo, sampler, (X, y))         # on the run's device
    mon.evaluate = ev
    b = int(p["b"])
    mon.costs(update=b, point=sigma_cost(algo, int(p["sigma_window"]), K, b))
    t = 0
    pending: dict[int, Any] = {}
    mon.tick(0, Snapshot([st.stats(host=False) for st in stages]), samples=0, force=True)
    while mon.running:
        n = mon.next_chunk(t)
        lo, hi, g_lo = window(t, n, int(p["sigma_window"]), K)
        for st in stages:
            st.set_window(lo, hi, g_lo)
        for _ in range(n):
            idx = sampler.batch(t)                          # on the device
            pending = sim_iteration(stages, t, X[idx], y[idx], algo, pending)
            t += 1
        stats = [st.stats(host=False) for st in stages]   # device references: no host round trip
        mon.tick(t, Snapshot(stats), samples=t * b, delays=merged_delays(stats))
    return reported(ctx, summary(ev, p, K))


def reported(ctx, info: dict[str, Any]) -> dict[str, Any]:
    """``info`` with its applied values recorded through ``ctx.applied`` (the theory checker's seam)."""
    if "applied" in info:
        info["applied"] = ctx.applied(**info["applied"])
    return info
