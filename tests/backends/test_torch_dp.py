"""Large-batch plugins in one process: the step is eq. (4.6) with the mNAG / LARS / CLARS rates
(4.2), (4.3), (4.7) checked against a per-sample loop written out by hand; linear scaling and
warmup; the measurements (variance factor, L_k by power iteration against the exact block
Hessian) and the learning-rate upper bound with its flags, on the MLP and the residual CNN."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.conftest import needs_torch

pytestmark = needs_torch

TINY = {"n_train": 96, "width": 8, "depth": 1}


def _mlp(**kw):
    from harness.suites.network import MLP

    return MLP("mlp", **{**TINY, **kw})


def _by_hand(model, X, y, loss_fn, idx):
    """Per-sample gradients with a Python loop (no torch.func): the reference for the plugin."""
    import torch

    params = list(model.parameters())
    per = []
    for i in idx:
        loss = loss_fn(model(X[i:i + 1]), y[i:i + 1])
        per.append([g.detach().double() for g in torch.autograd.grad(loss, params)])
    mean = [sum(p[j] for p in per) / len(per) for j in range(len(params))]
    norms = [[float(p[j].norm()) for j in range(len(params))] for p in per]
    return mean, np.array(norms)


@pytest.mark.parametrize("rule", ["mnag", "lars", "clars"])
def test_step_is_equation_4_6_with_the_rules_rates(rule):
    import torch

    from harness.plugins.torch_dp.large_batch import LargeBatch

    wl = _mlp()
    X, y, _, _ = wl.data()
    model = wl.build_model(seed=1)
    w0 = [q.detach().double().clone() for q in model.parameters()]
    p = {"lr": 0.2, "b": 32, "b_base": 16, "beta": 0.9, "eta": 0.05, "warmup": 0.0}
    opt = LargeBatch(model, X, y, wl.loss_fn, rule=rule, p=p, seed=4)
    assert opt.gamma_scale == pytest.approx(0.2 * 32 / 16)                      # linear scaling
    v_prev = [t.clone() for t in w0]
    w_prev = w0
    for t in range(3):
        idx = opt.batches(t)
        mean, norms = _by_hand(model, X, y, wl.loss_fn, idx)
        wn = np.array([float(w.norm()) for w in w_prev])
        gn = np.array([float(g.norm()) for g in mean])
        if rule == "mnag":
            lr = np.full(len(wn), opt.gamma_scale)                               # (4.2)
        elif rule == "lars":
            lr = opt.gamma_scale * p["eta"] * wn / gn                            # (4.3)
        else:
            lr = opt.gamma_scale * p["eta"] * wn / norms.mean(0)                 # (4.7)
        opt.step(t)
        np.testing.assert_allclose(opt.last["lr_k"], lr, rtol=1e-5)
        v_next = [w - a * g for w, a, g in zip(w_prev, lr, mean)]               # (4.6)
        w_next = [v + 0.9 * (v - vp) for v, vp in zip(v_next, v_prev)]
        for got, want in zip(model.parameters(), w_next):
            np.testing.assert_allclose(got.detach().double().numpy(), want.numpy(), rtol=1e-4, atol=1e-6)
        v_prev, w_prev = v_next, [q.detach().double().clone() for q in model.parameters()]
        if rule == "clars":
            rho = np.array(opt.last["rho_k"])
            assert np.all(rho > 0) and np.all(rho <= 1 + 1e-9)                  # (4.8): rho_k in [0, 1]


@pytest.mark.parametrize("rule", ["lars", "clars"])
def test_a_zero_norm_tensor_gets_learning_rate_gamma(rule):
    """The TF LARS convention the docstring promises: ||(w)_k|| = 0 (a bias that starts at zero)
    gives gamma_k = gamma_t, not gamma_t * eta; the other layers keep gamma_t eta ||w_k|| / den_k."""
    import torch

    from harness.plugins.torch_dp.large_batch import LargeBatch

    wl = _mlp()
    X, y, _, _ = wl.data()
    model = wl.build_model(seed=1)
    names = [n for n, _ in model.named_parameters()]
    zero = [j for j, n in enumerate(names) if n.endswith("bias")]
    with torch.no_grad():
        for j, q in enumerate(model.parameters()):
            if j in zero:
                q.zero_()
    p = {"lr": 0.1, "b": 32, "b_base": 32, "beta": 0.9, "eta": 0.001, "warmup": 0.0}
    opt = LargeBatch(model, X, y, wl.loss_fn, rule=rule, p=p, seed=0)
    opt.step(0)
    lr = np.array(opt.last["lr_k"])
    assert zero and np.all(lr[zero] == pytest.approx(0.1))                      # gamma, not gamma * eta = 1e-4
    others = [j for j in range(len(lr)) if j not in zero]
    assert np.all(lr[others] < 0.1 * 0.01)                                       # eta ||w|| / ||g|| << 1 here
    assert np.all(opt.lr_max[zero] == pytest.approx(0.1))


@pytest.mark.parametrize("rule", ["mnag", "lars", "clars"])
@pytest.mark.parametrize("arch", ["mlp", "resnet"])
def test_a_step_makes_no_host_synchronisation(rule, arch, host_copies):
    """Every tensor of a step stays on the parameters' device: no .item(), .cpu(), .tolist(),
    .numpy() or float()/int()/bool() of a tensor inside ``step`` (each one waits for a GPU)."""
    from harness.plugins.torch_dp.large_batch import LargeBatch
    from harness.suites.network import ResNet

    wl = _mlp() if arch == "mlp" else ResNet("resnet", n_train=32, width=32, depth=1)
    X, y, _, _ = wl.data()
    opt = LargeBatch(wl.build_model(seed=0), X, y, wl.loss_fn, rule=rule,
                     p={"lr": 0.1, "b": 16, "eta": 0.001, "chunk": 8}, seed=0)
    opt.step(0)                                                                  # caches built
    calls = host_copies()
    opt.step(1)
    host_copies.undo()
    assert calls == [], calls
    assert opt.last["step"] == 1 and len(opt.last["lr_k"]) == opt.layers.K       # converted when read


@pytest.mark.parametrize("rule", ["mnag", "lars", "clars"])
@pytest.mark.parametrize("arch", ["mlp", "resnet"])
def test_a_step_on_the_meta_device_keeps_every_tensor_there(rule, arch):
    """The device audit without a GPU: on torch's ``meta`` device (shapes, no data) mixing in a tensor
    made on the CPU, and any host copy (.item(), .cpu(), float()), raises. A step that runs there
    keeps the batch, the gradients, the per-sample norms, the learning rates, v and lr_max on the
    run's device, as it must on a GPU."""
    import torch

    from harness.plugins.torch_dp.large_batch import LargeBatch
    from harness.suites.network import ResNet

    wl = _mlp() if arch == "mlp" else ResNet("resnet", n_train=32, width=32, depth=1)
    X, y, _, _ = wl.data()
    meta = torch.device("meta")
    model = wl.build_model(seed=0).to(meta)
    opt = LargeBatch(model, X.to(meta), y.to(meta), wl.loss_fn, rule=rule,
                     p={"lr": 0.1, "b": 16, "eta": 0.001, "chunk": 8}, seed=0)
    for t in range(2):
        opt.step(t)
    state = list(model.parameters()) + opt.v + [opt._lr_max] + list(opt._last[2:])
    assert state and all(x.device == meta for x in state)
    with pytest.raises((RuntimeError, NotImplementedError)):     # the host copy a snapshot makes: refused
        opt._lr_max.cpu()


def test_warmup_ramps_the_rate_and_batches_cover_each_epoch():
    from harness.plugins.torch_dp.large_batch import Batches, LargeBatch

    wl = _mlp()
    X, y, _, _ = wl.data()
    opt = LargeBatch(wl.build_model(0), X, y, wl.loss_fn, rule="mnag",
                     p={"lr": 0.1, "b": 16, "b_base": 16, "warmup": 2.0, "beta": 0.0}, seed=0)
    assert opt.batches.per_epoch == 6 and opt.warmup_steps == 12
    rates = [opt.gamma_t(t) for t in range(14)]
    assert rates[0] == pytest.approx(0.1 / 12) and rates[11] == pytest.approx(0.1) and rates[13] == 0.1
    assert all(a < b for a, b in zip(rates[:12], rates[1:12]))
    bt = Batches(96, 16, seed=3)
    epoch = np.concatenate([bt(t) for t in range(6)])
    assert sorted(epoch.tolist()) == list(range(96))                            # a permutation per epoch
    assert not np.array_equal(bt(0), bt(6))                                      # a fresh one next epoch
    with pytest.raises(ValueError):
        Batches(10, 11, 0)


def test_power_iteration_finds_the_block_hessian_norm():
    import torch

    from harness.plugins.torch_dp.large_batch import Layers
    from harness.plugins.torch_dp.measure import smoothness

    wl = _mlp()
    X, y, _, _ = wl.data()
    model = wl.build_model(seed=2)
    layers = Layers.of(model)
    got = smoothness(model, layers, wl.loss_fn, X[:64], y[:64], iters=30, seed=0)
    params = list(model.parameters())
    for k in (1, len(params) - 1):                                              # a hidden bias, the head bias
        def f(v, k=k):
            from torch.func import functional_call

            names = [n for n, _ in model.named_parameters()]
            pd = {n: q.detach() for n, q in zip(names, params)}
            pd[names[k]] = v
            return wl.loss_fn(functional_call(model, pd, (X[:64],)), y[:64])

        H = torch.autograd.functional.hessian(f, params[k].detach())
        exact = float(torch.linalg.eigvalsh(H.reshape(params[k].numel(), -1).double()).abs().max())
        assert got["L_k"][k] == pytest.approx(exact, rel=2e-2)
    assert got["L_g"] >= max(got["L_k"]) * 0.95                                 # L_g >= L_k (power iteration: approx)


def test_lr_upper_bound_formula():
    from harness.plugins.torch_dp.measure import lr_bounds

    b = lr_bounds([2.0, 0.5], [10.0, 1000.0], B=100, beta=0.9)
    assert b["lr_ub_k"][0] == pytest.approx(0.1 / 16)                           # (1-beta)/(8 L_k): B >= M_k
    assert b["lr_ub_k"][1] == pytest.approx(0.1 * 100 / (8 * 0.5 * 1000))       # (1-beta) B/(8 L_k M_k)
    assert b["lr_stable_k"][0] == pytest.approx(2 * 1.9 / (2.8 * 2.0))
    try:
        from harness.theory.large_batch import layer_lr_ceiling
    except ImportError:
        return
    assert b["lr_ub_k"][1] == pytest.approx(layer_lr_ceiling(0.9, 0.5, 1000.0, 100))


def _run(plugin, workload, params, wparams, updates, **kw):
    from harness._core.monitor import Budget
    from harness.run.runner import RunSpec, execute

    return execute(RunSpec(plugin, workload, params, wparams, workers=1, seed=0, budget=Budget(updates=updates), **kw))


@pytest.mark.parametrize("workload,wparams", [
    ("mlp", TINY),
    ("resnet", {"data": "digits", "n_train": 64, "width": 32, "depth": 1}),
])
def test_lr_upper_bound_reported_and_a_rate_above_it_flagged(workload, wparams):
    common = {"b": 32, "measure": "all", "measure_n": 64, "lk_n": 32, "power_iters": 6, "beta": 0.9}
    low = _run("mnag-serial", workload, {**common, "lr": 1e-5, "scaling": "none"}, wparams, 3)
    high = _run("mnag-serial", workload, {**common, "lr": 0.5, "scaling": "none"}, wparams, 3)
    for rec in (low, high):
        assert rec.status == "budget", rec.reason
        ub = rec.info["lr_upper_bound_k"]
        assert len(ub) == len(rec.info["layers"]) and all(0 < u < math.inf for u in ub)
        assert all(L > 0 for L in rec.info["L_k_max"])
        first = rec.points[0]["extra"]
        assert len(first["L_k"]) == len(ub) and len(first["M_k"]) == len(ub) and first["var"] > 0
        assert rec.points[-1]["extra"]["lr_k"] == pytest.approx([rec.params["lr"]] * len(ub))
    assert low.info["lr_flags"] == []
    flagged = high.info["lr_flags"]
    # every layer whose measured bound is below 0.5 is flagged, naming the theorem's condition
    expect = [k for k, u in enumerate(high.info["lr_upper_bound_k"]) if u < 0.5]
    assert expect and len(flagged) == len(expect)
    assert all("thm-4.3.2 (4.47)" in f for f in flagged)


def test_cli_serial_run_stores_layerwise_extras(cli, tmp_path):
    import json

    r = cli("run", "--plugin", "clars-serial", "--workload", "mlp", "--workload-param", "n_train=96",
            "--workload-param", "width=8", "--workload-param", "depth=1", "--param", "b=0", "--param", "measure=variance",
            "--budget", "updates=4", "--json", "--no-report", timeout=120)
    assert r.returncode == 0, r.stderr
    run = json.loads(r.stdout)["runs"][0]
    assert run["status"] == "budget" and run["final"]["updates"] == 4 and run["final"]["samples"] == 4 * 96
    extra = run["final"]["extra"]
    assert len(extra["rho_k"]) == len(extra["lr_k"]) == len(extra["grad_norm_k"]) == len(extra["M_k"]) == 4
    bad = cli("run", "--plugin", "clars-serial", "--workload", "mlp", "--workload-param", "n_train=96",
              "--param", "b=500", "--budget", "updates=2", "--no-report", timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr  # refused before any run, by the harness
    assert "plugin clars-serial: mini-batch b=500 is larger than the workload's n=96 training samples" in bad.stderr


def test_theory_checker_flags_a_rate_above_the_bound(tmp_path):
    """The run records the theorem's inputs (info: L_k, M_k, M, L_g, M_g, f(w_0) and the rates used,
    gamma_k). With one layer (a softmax regression: the MLP with depth 0, one block) gamma_k L_k is
    trivially common, the theorem applies, and the checker must reject the high rate on (4.52) and
    accept the low one's conditions; with K > 1 and one rate for all layers the run map raises each
    layer's constant to gamma / gamma_k (any L_k' >= L_k satisfies the assumption), and the high rate
    fails (4.52) there too."""
    from harness.run import checking as checker
    from harness.run.store import Store

    st = Store(tmp_path / "r.db")
    common = {"b": 32, "scaling": "none", "measure": "all", "measure_n": 64, "lk_n": 32, "power_iters": 20,
              "layers": "block"}
    one_layer = {**TINY, "depth": 0}
    high = _run("mnag-serial", "mlp", {**common, "lr": 0.5}, one_layer, 3)
    low = _run("mnag-serial", "mlp", {**common, "lr": 1e-4}, one_layer, 12)
    deep = _run("mnag-serial", "mlp", {**common, "lr": 0.5, "layers": "tensor"}, TINY, 3)
    for rec in (high, low, deep):
        st.save(rec)
        for key in ("L_k", "M_k", "M", "L_g", "M_g", "gamma_k", "f0_minus_finf"):
            assert key in rec.info
    assert len(high.info["L_k"]) == 1 and high.info["lr_flags"] and not low.info["lr_flags"]
    (h,) = checker.check([high], ["large_batch.thm-4.3.2"], store=st)
    assert h.verdict == "not-applicable" and "(4.52)" in h.reason, h
    (lo,) = checker.check([low], ["large_batch.thm-4.3.2"], store=st)
    assert lo.verdict == "holds", lo                                         # conditions met, curve under (4.49)
    (d,) = checker.check([deep], ["large_batch.thm-4.3.2"], store=st)
    assert d.verdict == "not-applicable" and "(4.52)" in d.reason and "gamma/L_k" in str(d), d
    # L_k and M_k are measured on request only (measure=all): a default run says which constants it lacks
    plain = _run("mnag-serial", "mlp", {k: v for k, v in common.items() if k != "measure"} | {"lr": 1e-4}, one_layer, 3)
    assert "L_k" not in plain.info and "M_k" not in plain.points[-1]["extra"] and "lr_k" in plain.points[-1]["extra"]
    st.save(plain)
    (n,) = checker.check([plain], ["large_batch.thm-4.3.2"], store=st)
    assert n.verdict == "not-applicable" and "L_k and M_k" in n.reason and "measure=all" in n.reason, n


# -- measurement that costs less than the work -------------------------------------------------------
def test_network_metrics_on_a_fixed_evaluation_subset_batched():
    """objective / train_acc / grad_norm_sq are the loss, accuracy and gradient on the subset E of
    eval_n samples, whatever the evaluation batch; E is fixed (the same indices every call)."""
    import torch

    from harness.suites.network import MLP

    full = MLP("mlp", n_train=200, width=8, depth=1, eval_n=0)
    sub = MLP("mlp", n_train=200, width=8, depth=1, eval_n=64, eval_batch=10)
    E = sub.eval_indices()
    assert len(E) == 64 and np.array_equal(E, sub.eval_indices()) and len(full.eval_indices()) == 200
    model = sub.build_model(seed=0)
    X, y, Xt, yt = sub.data()
    loss = sub.loss_fn(model(X[E]), y[E])
    gsq = sum(float((g.double() ** 2).sum()) for g in torch.autograd.grad(loss, list(model.parameters())))
    got = sub.metrics(model)
    assert got["objective"] == pytest.approx(float(loss.detach()), rel=1e-5)
    assert got["grad_norm_sq"] == pytest.approx(gsq, rel=1e-4)
    with torch.no_grad():
        assert got["train_acc"] == pytest.approx(float((model(X[E]).argmax(1) == y[E]).float().mean()))
        assert got["test_loss"] == pytest.approx(float(sub.loss_fn(model(Xt[:64]), yt[:64])), rel=1e-5)
    whole = full.metrics(model)
    with torch.no_grad():
        assert whole["objective"] == pytest.approx(float(full.loss_fn(model(X), y)), rel=1e-5)


def test_network_metrics_run_on_the_model_device_with_one_host_copy(host_copies):
    """On the meta device (the GPU's stand-in, see ``host_copies``) the whole evaluation, the
    gradient pass and the no_grad test pass, runs on the model's device and reaches the host once."""
    import torch

    from harness.suites.network import ResNet

    wl = ResNet("resnet", n_train=48, width=32, depth=1, eval_n=40, eval_batch=16)
    meta = torch.device("meta")
    model = wl.build_model(seed=0).to(meta)
    calls = host_copies()
    out = wl.metrics(model)
    host_copies.undo()
    assert [c for c in calls if c[1] != "cpu"] == [("cpu", "meta")], calls
    assert set(out) == {"objective", "train_acc", "grad_norm_sq", "test_loss", "test_acc"}
    assert all(t.device == meta for t in wl.eval_set(meta))


def _evaluation_threads(monkeypatch, load: float, world_size: int) -> int:
    """The torch threads one evaluation of a network workload by a monitor ran with, the 1-minute
    load average and WORLD_SIZE set as given, the timed loop on one thread (which is back after the
    evaluation). The policy is the network workload's (its ``metrics``), the monitor knows no torch."""
    import torch

    from harness._core import monitor as M
    from harness.suites import network as N

    monkeypatch.setattr(N.os, "getloadavg", lambda: (load,) * 3)
    monkeypatch.setenv("WORLD_SIZE", str(world_size))
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    seen = []

    class Recording(N.NetworkWorkload):
        def __init__(self):  # no data: only the evaluation's thread count is looked at
            pass

        def _evaluate(self, model):
            seen.append(torch.get_num_threads())
            return {"objective": 1.0}

    mon = M.Monitor(Recording().metrics)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        mon.tick(0, np.zeros(1), force=True)
        assert torch.get_num_threads() == 1                      # the timed loop's setting is back
    finally:
        torch.set_num_threads(before)
    (threads,) = seen
    return threads


@pytest.mark.parametrize("load", ["idle", "busy"])
def test_monitor_gives_torch_the_idle_cores_while_it_evaluates(load, monkeypatch):
    """An idle machine (load average 1: this loop): the evaluation gets every core; a busy one
    (load 2x the cores): it keeps the loop's one thread (waiting threads would slow it down)."""
    import os

    cores = len(os.sched_getaffinity(0))
    threads = _evaluation_threads(monkeypatch, 1.0 if load == "idle" else 2.0 * cores, world_size=1)
    assert threads == (cores if load == "idle" else 1)


@pytest.mark.parametrize("ours", [False, True])
def test_evaluation_threads_discount_the_ranks_that_wait_for_it(ours, monkeypatch):
    """A torch rank's evaluation: the job's other ranks on the node (WORLD_SIZE - 1) count in the load
    average but wait blocked while it evaluates. A load of 1 + (cores + 1) is a busy machine (the
    loop's one thread), unless those cores + 1 are this job's waiting ranks (every core)."""
    import os

    cores = len(os.sched_getaffinity(0))
    threads = _evaluation_threads(monkeypatch, 1.0 + cores + 1, world_size=cores + 2 if ours else 1)
    assert threads == (cores if ours else 1)


@pytest.mark.parametrize("measure", ["off", "variance"])
def test_measurements_evaluate_the_live_model_without_copying_it(measure, monkeypatch):
    """measure=off evaluates only the workload's metrics, on the model itself (its device): no deep
    copy of the model, no per-sample pass."""
    import copy

    from harness.plugins.torch_dp import measure as M
    from harness.plugins.torch_dp.large_batch import LargeBatch

    wl = _mlp()
    X, y, _, _ = wl.data()
    model = wl.build_model(seed=0)
    opt = LargeBatch(model, X, y, wl.loss_fn, rule="lars", p={"lr": 0.1, "b": 16}, seed=0)
    opt.step(0)
    meas = M.Measurements(wl, opt, {"measure": measure, "measure_n": 32}, seed=0)
    monkeypatch.setattr(copy, "deepcopy", lambda *a, **k: pytest.fail("the model was copied"))
    calls = []
    monkeypatch.setattr(M, "variance", lambda *a, **k: calls.append(1) or {"M_k": [], "var": 0.0})
    out = meas(model)
    assert np.isfinite(out["objective"]) and out["extra"]["lr_k"]
    assert calls == ([] if measure == "off" else [1])


def test_runs_record_eval_seconds_and_the_table_shows_measured_and_wall(cli, tmp_path):
    proc = cli("run", "--plugin", "lars-torch", "--workload", "mlp", "--workers", "1", "--budget", "updates=6",
               "--workload-param", "n_train=96", "--workload-param", "width=8", "--workload-param", "depth=1",
               "--param", "b=16", "--param", "measure=off", timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    from harness.run.store import Store

    (rec,) = Store().runs(plugin="lars-torch", with_points=True)
    assert rec.info["eval_seconds"] > 0 and rec.wall_s > rec.points[-1]["time_s"]   # recorded by the rank
    table = cli("runs", "list", "--wide", timeout=60)
    assert table.returncode == 0 and "measured s" in table.stdout and "wall s" in table.stdout and "eval s" in table.stdout


def test_serial_plugins_take_the_device_option():
    import torch

    from harness._core.errors import UserError
    from harness._core.monitor import Budget
    from harness.run.runner import RunSpec, execute

    spec = lambda dev: RunSpec("lars-serial", "mlp", {"b": 16}, TINY, 1, 0, Budget(updates=2),  # noqa: E731
                               options={"device": dev})
    rec = execute(spec("cpu"))
    assert rec.status == "budget" and rec.info["device"] == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA device"):
            execute(spec("cuda"))
