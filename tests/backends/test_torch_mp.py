"""Model-parallel algorithms in one process (the simulator): the exact identities of the notes
(ddg-features-replay.md §9 A), history sizes, measured delays, sigma_dir on the MLP, the CIFAR-10
loader on small files written here."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import needs_torch

pytestmark = needs_torch


def _workload(depth=2, width=16, **kw):
    from harness._core.registry import build_workload

    return build_workload("mlp", {"depth": depth, "width": width, **kw})


def _params(**kw):
    from harness._core.registry import plugins

    p = plugins().get("ddg-sim").paramset.defaults()
    p.update(kw)
    return p


def _stages(wl, K, algo, seed=0, **kw):
    from harness.plugins.torch_mp.stages import build_stages

    modules, stages, _ = build_stages(wl, _params(**kw), K, seed, algo, None)
    return modules, [stages[k] for k in range(K)]


def _run(stages, algo, wl, T, b=16, seed=0, weights=None):
    """T iterations of the simulator; ``weights`` (if a list) gets w^t of every module for t = 0..T."""
    import torch

    from harness.plugins.torch_mp.core import Sampler
    from harness.plugins.torch_mp.driver import sim_iteration

    X, y, _, _ = wl.data()
    sampler = Sampler(len(X), b, seed)
    pending = {}
    for t in range(T):
        if weights is not None:
            weights.append([[w.clone() for w in st.weights()] for st in stages])
        idx = sampler.batch(t)
        pending = sim_iteration(stages, t, X[idx], y[idx], algo, pending)
    if weights is not None:
        weights.append([[w.clone() for w in st.weights()] for st in stages])
    return sampler


def _bp_block_grads(wl, modules, weights, idx):
    """Block-wise BP gradient of the composed network at ``weights`` on batch ``idx``."""
    import torch
    from torch import nn

    from harness.plugins.torch_mp.core import load_weights

    load_weights(modules, weights)
    X, y, _, _ = wl.data()
    params = [list(m.parameters()) for m in modules]
    loss = wl.loss_fn(nn.Sequential(*modules)(X[idx]), y[idx])
    flat = torch.autograd.grad(loss, [p for ps in params for p in ps])
    out, i = [], 0
    for ps in params:
        out.append(list(flat[i:i + len(ps)]))
        i += len(ps)
    return out


# -- K = 1 is BP --------------------------------------------------------------------------------
@pytest.mark.parametrize("algo", ["bp", "ddg", "fr", "dni"])
def test_k1_equals_backprop_sgd_exactly(algo):
    """K = 1: no delay, every algorithm is plain SGD on the whole network (bit for bit)."""
    import torch

    wl = _workload()
    modules, stages = _stages(wl, 1, algo, eta=0.1)
    sampler = _run(stages, algo, wl, T=12)
    ref, lib = wl.build_model(0), wl.build_model(0)
    opt = torch.optim.SGD(lib.parameters(), lr=0.1)
    X, y, _, _ = wl.data()
    for t in range(12):
        idx = sampler.batch(t)
        ref.zero_grad()
        wl.loss_fn(ref(X[idx]), y[idx]).backward()
        with torch.no_grad():
            for p in ref.parameters():  # (5.2): w^{t+1} = w^t - gamma grad f_{x^t}(w^t)
                p.sub_(0.1 * p.grad)
        opt.zero_grad()
        wl.loss_fn(lib(X[idx]), y[idx]).backward()
        opt.step()
    for w, p, q in zip(stages[0].weights(), ref.parameters(), lib.parameters()):
        assert torch.equal(w, p.detach())  # bit for bit
        torch.testing.assert_close(w, q.detach(), rtol=1e-6, atol=1e-7)  # torch.optim.SGD: fused rounding


def test_k1_adam_ddg_equals_torch_adam():
    """Algorithm 10 with K = 1 is Adam (same arithmetic up to float rounding of the bias corrections)."""
    import torch

    wl = _workload()
    _, stages = _stages(wl, 1, "ddg", eta=1e-2, opt="adam")
    sampler = _run(stages, "ddg", wl, T=10)
    ref = wl.build_model(0)
    opt = torch.optim.Adam(ref.parameters(), lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
    X, y, _, _ = wl.data()
    for t in range(10):
        idx = sampler.batch(t)
        opt.zero_grad()
        wl.loss_fn(ref(X[idx]), y[idx]).backward()
        opt.step()
    for w, p in zip(stages[0].weights(), ref.parameters()):
        torch.testing.assert_close(w, p.detach(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("plugin", ["ddg-sim", "fr-sim"])
def test_k1_plugin_curve_equals_bp_sim(plugin):
    """Through the runner: the K = 1 curve of DDG / FR equals BP's point for point."""
    from harness._core.monitor import Budget
    from harness.run.runner import RunSpec, execute

    wp = {"depth": 1, "width": 16}
    recs = [execute(RunSpec(p, "mlp", params={"eta": 0.1, "b": 16, "L_iters": 0}, workload_params=wp, workers=1,
                            budget=Budget(updates=30))) for p in ("bp-sim", plugin)]
    assert [r.status for r in recs] == ["budget", "budget"]
    a, b = ([(p["updates"], p["objective"]) for p in r.points] for r in recs)
    assert a == b and len(a) > 5


# -- DDG: the applied update is the delayed BP gradient ------------------------------------------
@pytest.mark.parametrize("K", [2, 3])
def test_ddg_update_is_bp_gradient_of_batch_t_minus_K_plus_k_at_stashed_weights(K):
    import torch

    wl = _workload(depth=2)
    modules, stages = _stages(wl, K, "ddg", eta=0.2)
    for st in stages:
        st.applied = []
    W: list = []
    T = 9
    sampler = _run(stages, "ddg", wl, T=T, weights=W)
    for k, st in enumerate(stages):
        tau = K - 1 - k  # 1-based: K - k
        assert [t for t, _, _ in st.applied] == list(range(tau, T))  # warm-up: g = 0 for t < K - k
        for t, s, g in st.applied:
            assert s == t - tau  # batch t - K + k
            ref = _bp_block_grads(wl, modules, W[s], sampler.batch(s))[k]  # at w^{t-K+k}
            for gi, ri in zip(g, ref):
                torch.testing.assert_close(gi, ri, rtol=1e-5, atol=1e-6)
    assert sum(T - len(st.applied) for st in stages) == K * (K - 1) // 2  # warm-up module-steps
    # the delayed gradient is not the current one: weights moved in between
    t, s, g = stages[0].applied[-1]
    now = _bp_block_grads(wl, modules, W[t], sampler.batch(s))[0]
    assert not torch.allclose(g[0], now[0], atol=1e-6)


def test_ddg_and_fr_with_frozen_weights_apply_exact_gradients_of_delayed_batches():
    """gamma = 0: replayed features equal the stored ones, so FR (and DDG) apply the exact BP
    gradient of batch t - K + k (notes §9 item 4)."""
    import torch

    wl = _workload(depth=2)
    K, T = 3, 6
    for algo in ("fr", "ddg"):
        modules, stages = _stages(wl, K, algo, eta=0.1)
        for st in stages:
            st.opt.eta = 0.0
            st.applied = []
        W: list = []
        sampler = _run(stages, algo, wl, T=T, weights=W)
        for k, st in enumerate(stages):
            assert len(st.applied) == T - (K - 1 - k)
            for t, s, g in st.applied:
                assert s == t - (K - 1 - k)
                ref = _bp_block_grads(wl, modules, W[0], sampler.batch(s))[k]
                for gi, ri in zip(g, ref):
                    torch.testing.assert_close(gi, ri, rtol=1e-5, atol=1e-6)


# -- FR -------------------------------------------------------------------------------------------
def test_fr_top_module_is_exact_and_lower_modules_replay_with_current_weights():
    import torch
    from torch.func import functional_call

    wl = _workload(depth=2)
    K, T = 3, 8
    modules, stages = _stages(wl, K, "fr", eta=0.2)
    for st in stages:
        st.applied = []
    W: list = []
    sampler = _run(stages, "fr", wl, T=T, weights=W)
    top = stages[-1]
    assert [(t, s) for t, s, _ in top.applied] == [(t, t) for t in range(T)]
    for t, s, g in top.applied:  # module K: batch t at w^t, exact
        ref = _bp_block_grads(wl, modules, W[t], sampler.batch(t))[K - 1]
        for gi, ri in zip(g, ref):
            torch.testing.assert_close(gi, ri, rtol=1e-5, atol=1e-6)
    # module K-1 (0-based K-2): replays batch t-1's stored input with w^t_{G(K-1)}, back-propagating
    # the delta module K computed at t-1 on batch t-1 with w^{t-1}_{G(K)} (6.7)-(6.9)
    X, y, _, _ = wl.data()
    mid = stages[K - 2]
    for t, s, g in mid.applied:
        assert s == t - 1
        idx = sampler.batch(s)
        with torch.no_grad():  # h^{s}_{L_{K-2}}: module 1's play at iteration s with w^s
            h_in = functional_call(stages[0].module, dict(zip(stages[0].names, W[s][0])), (X[idx],))
            # module K's input at iteration s = t-1: module K-1's play of batch s with w^s
            h = functional_call(mid.module, dict(zip(mid.names, W[s][K - 2])), (h_in,))
        h.requires_grad_(True)
        loss = wl.loss_fn(functional_call(top.module, dict(zip(top.names, W[s][K - 1])), (h,)), y[idx])
        (delta,) = torch.autograd.grad(loss, [h])  # delta^t_{K-1} (6.7), sent at t-1
        wk = [w.clone().requires_grad_(True) for w in W[t][K - 2]]
        out = functional_call(mid.module, dict(zip(mid.names, wk)), (h_in,))  # replay with w^t (6.6)
        ref = torch.autograd.grad(out, wk, grad_outputs=delta)  # (6.8)
        for gi, ri in zip(g, ref):
            torch.testing.assert_close(gi, ri, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("K", [2, 3, 4])
def test_history_sizes_and_measured_delays(K):
    """DDG keeps <= K-k+1 graphs and FR K-k+1 inputs in module k (FR total K(K+1)/2); BP one
    graph; measured delays are K-k (0 for BP / DNI)."""
    wl = _workload(depth=3)
    hist = {}
    for algo in ("bp", "ddg", "fr", "dni"):
        _, stages = _stages(wl, K, algo)
        _run(stages, algo, wl, T=2 * K + 1)
        hist[algo] = [st.queue_max for st in stages]
        delays = [st.delays.max for st in stages]
        if algo in ("ddg", "fr"):
            assert delays == [K - 1 - k for k in range(K)]
            assert all(st.delays.count == 2 * K + 1 - (K - 1 - k) for k, st in enumerate(stages))
        else:
            assert delays == [0] * K
    assert hist["ddg"] == [K - k for k in range(K)]  # 1-based: K - k + 1
    assert hist["fr"] == [K - k for k in range(K)]
    assert sum(hist["fr"]) == K * (K + 1) // 2
    assert hist["bp"] == [1] * K


def test_memory_measured_follows_the_counting_model():
    """Peak activation bytes per module: DDG stores K-k+1 graphs (~ (K-k+1) x BP's), FR stores
    inputs plus one replay graph (~ BP's), and DDG stashes K-k older weight versions."""
    wl = _workload(depth=3, width=32)
    K = 2
    peaks, stash = {}, {}
    for algo in ("bp", "ddg", "fr"):
        _, stages = _stages(wl, K, algo)
        for st in stages:
            st.set_window(0, 100)
        _run(stages, algo, wl, T=5)
        peaks[algo] = [st.act_peak for st in stages]
        stash[algo] = [st.stash_peak for st in stages]
    bp, ddg, fr = peaks["bp"], peaks["ddg"], peaks["fr"]
    assert all(v > 0 for v in bp)
    assert ddg[0] == 2 * bp[0] and ddg[1] == bp[1]  # module 1 of 2: two batches' graphs
    assert bp[0] <= fr[0] <= bp[0] + 16 * 64 * 4  # + one stored input (16 x 64 floats) at most
    assert stash["ddg"][0] > 0 and stash["ddg"][1] == 0 and stash["bp"] == [0, 0] and stash["fr"] == [0, 0]


# -- the GPU path, audited on the meta device -------------------------------------------------------
@pytest.mark.parametrize("algo", ["bp", "ddg", "fr", "dni"])
def test_iterations_on_the_meta_device_and_evaluation_there_with_two_host_copies(algo, host_copies):
    """On torch's meta device (shapes, no data: a CPU tensor mixed in or a host copy raises; see
    ``host_copies``) the simulator's iterations keep every weight, optimizer state, boundary
    tensor and measurement on the run's device with no host copy outside the recording window;
    inside it, none either (the applied gradients stay on the device until the snapshot). The
    snapshot's evaluation (metrics on the evaluation subset, sigma_dir) runs there too and reaches
    the host twice: the metrics' one copy and sigma_dir's."""
    import torch

    from harness.plugins.torch_mp.core import Sampler
    from harness.plugins.torch_mp.driver import Evaluator, Snapshot, sim_iteration
    from harness.plugins.torch_mp.stages import build_stages

    meta = torch.device("meta")
    wl = _workload(depth=2, width=16, n_train=64, eval_n=32)
    K, b = 2, 8
    modules, stages_d, _ = build_stages(wl, _params(b=b, opt="adam" if algo == "ddg" else "sgd"), K, 0, algo, meta)
    stages = [stages_d[k] for k in range(K)]
    X, y, _, _ = wl.data()
    X, y = X.to(meta), y.to(meta)
    sampler = Sampler(len(X), b, 0, meta)                 # the epoch's permutation on the device
    pending: dict = {}
    calls = host_copies()
    for t in range(8):
        if t == 4:
            for st in stages:
                st.set_window(4, 8)
        idx = sampler.batch(t)
        assert idx.device == meta
        pending = sim_iteration(stages, t, X[idx], y[idx], algo, pending)
    assert [c for c in calls if c[1] == "meta"] == [], calls   # (DNI's torch.optim.Adam reads its CPU step count)
    for st in stages:
        assert all(w.device == meta for w in st.w) and st.meter.g2_sum.device == meta
        assert all(g.device == meta for _, _, g in st.meter.recent)
    stats = [st.stats(host=False) for st in stages]       # the simulator's snapshot: device references
    calls.clear()                                         # (its float(g2) figures are the monitor's)
    assert all(w.device == meta for st in stats for w in st["w"])
    ev = Evaluator(wl, modules, algo, sampler, (X, y))
    calls.clear()
    out = ev(Snapshot(stats))
    host_copies.undo()
    assert all(p.device == meta for m in ev.modules for p in m.parameters())
    assert [c for c in calls if c[1] == "meta"] == [("cpu", "meta")] * 2, calls
    assert "objective" in out and len(out["extra"]["sigma_dir"]) == K


# -- measurements through the runner ---------------------------------------------------------------
def test_sigma_dir_positive_for_every_module_on_mlp_and_extras_recorded():
    from harness._core.monitor import Budget
    from harness.run.runner import RunSpec, execute

    for plugin in ("fr-sim", "ddg-sim", "bp-sim"):
        rec = execute(RunSpec(plugin, "mlp", params={"eta": 0.1, "b": 32, "L_iters": 3},
                              workload_params={"depth": 3, "width": 32}, workers=3, budget=Budget(epochs=2)))
        assert rec.status == "budget", rec.reason
        sig = [p["extra"]["sigma_dir"] for p in rec.points if p.get("extra") and p["extra"]["sigma_dir"][0]]
        assert len(sig) >= 5
        assert all(s is not None and s > 0 for row in sig for s in row), sig
        # the top module is exact (same batch, same weights): sigma_K = 1; BP: 1 for every module
        assert all(row[-1] == pytest.approx(1.0, abs=1e-5) for row in sig)
        if plugin == "bp-sim":
            assert all(s == pytest.approx(1.0, abs=1e-5) for row in sig for s in row)
            continue
        assert min(row[0] for row in sig) < 0.9999  # the delayed bottom module is not exact
        last = rec.points[-1]["extra"]
        assert last["delay_max"] == [2, 1, 0] and last["history_max"] == [3, 2, 1]
        assert all(v > 0 for v in last["act_peak_bytes"]) and all(v > 0 for v in last["fwd_ms"] + last["bwd_ms"])
        assert rec.points[-1]["tau_max"] == 2
        assert 0 < rec.info["rho"] < 1 and rec.info["L_est"] > 0 and rec.info["M_est"] > 0
        assert all(s > 0 for s in rec.info["sigma_dir_min"])
        assert rec.points[-1]["objective"] < rec.points[0]["objective"]


def test_dni_trains_its_synthesizers():
    from harness._core.monitor import Budget
    from harness.run.runner import RunSpec, execute

    rec = execute(RunSpec("dni-sim", "mlp", params={"eta": 0.1, "b": 32, "L_iters": 0},
                          workload_params={"depth": 2, "width": 32}, workers=2, budget=Budget(epochs=2)))
    assert rec.status == "budget", rec.reason
    losses = [p["extra"]["synth_loss"][0] for p in rec.points[1:] if p.get("extra")]
    assert np.isfinite(losses[-1]) and rec.points[-1]["objective"] < rec.points[0]["objective"]
    assert rec.points[-1]["extra"]["delay_max"] == [0, 0]


def test_too_many_modules_is_skipped_with_reason():
    from harness._core.monitor import Budget
    from harness.run.runner import RunSpec, execute

    rec = execute(RunSpec("ddg-sim", "mlp", workload_params={"depth": 1}, workers=3, budget=Budget(updates=2)))
    assert rec.status == "skipped" and "blocks" in rec.reason


# -- CIFAR-10 python batches ------------------------------------------------------------------------
def test_cifar10_loader_on_small_files_and_a_resnet_run(tmp_path):
    import torch

    from harness._core.monitor import Budget
    from harness.run.runner import RunSpec, execute
    from harness.suites.network import load_cifar10, save_cifar10_batch

    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, size=(20, 3, 32, 32), dtype=np.uint8) for _ in range(3)]
    labels = [rng.integers(0, 10, size=20) for _ in range(3)]
    save_cifar10_batch(tmp_path / "data_batch_1", imgs[0], labels[0])
    save_cifar10_batch(tmp_path / "data_batch_2", imgs[1], labels[1])
    save_cifar10_batch(tmp_path / "test_batch", imgs[2], labels[2])
    X, y, Xt, yt = load_cifar10(tmp_path)
    assert X.shape == (40, 3, 32, 32) and Xt.shape == (20, 3, 32, 32)
    np.testing.assert_array_equal(y, np.concatenate(labels[:2]))
    np.testing.assert_allclose(X[21], imgs[1][1] / 255.0, rtol=1e-6)
    assert X.dtype == np.float32 and 0 <= X.min() and X.max() <= 1
    rec = execute(RunSpec("ddg-sim", "resnet", params={"eta": 0.05, "b": 8, "L_iters": 0},
                          workload_params={"data": "cifar", "path": str(tmp_path), "width": 8, "depth": 1},
                          workers=2, budget=Budget(updates=6)))
    assert rec.status == "budget", rec.reason
    assert rec.points[-1]["extra"]["delay_max"] == [1, 0]
    assert torch.isfinite(torch.tensor(rec.points[-1]["objective"]))


def test_cifar10_missing_directory_is_one_line_user_error(cli, tmp_path):
    out = cli("run", "--plugin", "bp-sim", "--workload", "resnet", "--workload-param", "data=cifar",
              "--workload-param", f"path={tmp_path / 'nope'}", "--budget", "updates=2", "--no-report", "-q")
    assert out.returncode == 2 and "CIFAR-10 directory not found" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.skipif(__import__("importlib").util.find_spec("torch") is not None and __import__("torch").cuda.is_available(),
                    reason="this machine has CUDA")
def test_cuda_asked_for_without_one_is_a_user_error(cli):
    """--option device=cuda where there is no GPU: one line, exit 2, for a one-process plugin (the
    simulator used to fall back to the CPU silently), before launching torch ranks, and in the
    GPU benchmarks' own checks."""
    import subprocess
    import sys
    from pathlib import Path

    for plugin, need in (("ddg-sim", "no CUDA device"), ("clars-torch", "2 rank(s) need 2 CUDA device(s)")):
        out = cli("run", "--plugin", plugin, "--workload", "mlp", "--workers", "2", "--option", "device=cuda",
                  "--budget", "updates=2", "--no-report", "-q", timeout=120)
        assert out.returncode == 2 and need in out.stderr and "Traceback" not in out.stderr, out.stderr
    root = Path(__file__).resolve().parents[2]
    for bench in ("torch_step.py", "measurement_cost.py"):
        out = subprocess.run([sys.executable, str(root / "benchmarks" / bench), "--device", "cuda"],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 2 and "no CUDA device" in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_shipped_suite_resolves():
    """suites/ddg_fr.toml: every run names a known plugin and workload with valid parameters."""
    from harness.run.runner import resolve
    from harness.run.suite import load_suite

    name, specs, _ = load_suite("suites/ddg_fr.toml")
    assert name == "ddg_fr" and len(specs) >= 10
    plugins = {s.plugin for s in specs}
    assert {"bp-torch", "dni-torch", "ddg-torch", "fr-torch", "ddg-sim", "fr-sim"} <= plugins
    for s in specs:
        resolve(s)


@pytest.mark.skipif(__import__("importlib").util.find_spec("harness.theory.checker") is None, reason="theory checker absent")
def test_run_report_carries_the_ddg_and_fr_verdicts(cli, tmp_path):
    """`harness run` on the DDG / FR simulators writes a report with the verdicts of the theorems
    the plugins link (ddg.thm-5.4.1/5.4.2, features_replay.thm-6.4.1/6.4.2)."""
    import re

    out = cli("run", "--plugin", "ddg-sim", "--plugin", "fr-sim", "--workload", "mlp", "--workload-param", "depth=2",
              "--workload-param", "width=16", "--workers", "2", "--param", "b=32", "--param", "L_iters=3",
              "--budget", "epochs=1", "--report", str(tmp_path / "rep"), "-q", timeout=200)
    assert out.returncode == 0, out.stdout + out.stderr
    md = (tmp_path / "rep" / "index.md").read_text()
    verdicts = dict(re.findall(r"\| (ddg\.thm-5\.4\.[12]|features_replay\.thm-6\.4\.[12]) \| \*\*([a-z-]+)\*\*", md))
    assert set(verdicts) == {"ddg.thm-5.4.1", "ddg.thm-5.4.2", "features_replay.thm-6.4.1",
                             "features_replay.thm-6.4.2"}, md[:2000]
    assert set(verdicts.values()) <= {"holds", "violated", "not-applicable"}
    assert verdicts["ddg.thm-5.4.1"] != "violated"
    # constant steps: the fixed-rate theorems judge the curve (f(w0) - f_inf comes from the run's info)
    assert verdicts["ddg.thm-5.4.1"] == "holds" and verdicts["features_replay.thm-6.4.1"] == "holds", md[:3000]
