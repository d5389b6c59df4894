"""Audits of what a plugin reports (issue 25 item 2), with outside plugins written against
``harness.api`` only: a verdict says whether the plugin reported its applied values (none reported:
at best ``holds (unverified)``), and the run's own accounting (samples and updates) is cross-checked
against the inner-loop length it reports (a mismatch is ``violated``, naming both figures). Each
misreporting plugin has an honest twin that ``holds``."""

from __future__ import annotations

import re

import numpy as np
import pytest

from conftest import judge
from harness.api import Param, PluginSpec
from harness._core.registry import plugins

WL = {"n": 200, "d": 10}
THM = "asysvrg.thm-2.4.1"
PARAMS = (Param("eta", 0.01, "float", low=0.0, open_low=True), Param("b", 1, "int", low=1),
          Param("m", 20, "int", low=1), Param("report", "all", "choice", choices=("all", "none")),
          Param("inner_factor", 1, "int", low=1, doc="inner steps actually run per reported m (a liar: 10)"))


def svrg(ctx):
    """SVRG with one worker (AsySVRG's Algorithm 1): n samples per full gradient, 2b per inner step."""
    wl, p, mon = ctx.workload, ctx.params, ctx.monitor
    n, b, eta, m = wl.n, p["b"], p["eta"], p["m"]
    if p["report"] == "all":
        ctx.applied(eta=eta, b=b, m=m)                 # the liar reports m but runs inner_factor x m
    w, t, samples, rng = np.zeros(wl.dim), 0, 0, ctx.rng
    mon.tick(0, w, samples=0)
    while mon.running:
        u0, mu = w.copy(), wl.gradient(w)
        samples += n
        inner = 0
        while inner < m * p["inner_factor"] and mon.running:
            k = min(mon.next_chunk(t), m * p["inner_factor"] - inner)
            for _ in range(k):
                B = rng.integers(0, n, size=b)
                w -= eta * (wl.batch_gradient(w, B) - wl.batch_gradient(u0, B) + mu)
            inner, t, samples = inner + k, t + k, samples + 2 * k * b
            mon.tick(t, w, samples=samples)


SPEC = PluginSpec("svrg-outside", "svrg", "serial", "test_reporting_audits:svrg", params=PARAMS,
                  theorems=(THM,), deterministic=True)


def _eta(m: int) -> float:
    from harness._core.registry import build_workload
    from harness.theory.registry import get

    c = build_workload("ridge", WL).constants()
    res = get(THM).solve("eta", {"L": c["L_max"], "Delta": 0.0, "b": 1.0, "m": float(m), "F0": c["f0_minus_fstar"]})
    return res["value"] / 2


def _verdict(store, monkeypatch, **params):
    monkeypatch.setitem(plugins().items, SPEC.name, SPEC)
    return judge(store, SPEC.name, THM, {"eta": _eta(20), "m": 20, **params}, seeds=(0, 1))


def test_honest_svrg_holds(store, monkeypatch):
    v = _verdict(store, monkeypatch)
    assert v.verdict == "holds" and v.reported, v.reason


def test_svrg_running_ten_times_the_reported_inner_loop_is_violated_naming_both_figures(store, monkeypatch):
    v = _verdict(store, monkeypatch, inner_factor=10)
    assert v.verdict == "violated", v.reason
    assert "m = 20 reported" in v.reason and "implied by the samples and updates" in v.reason
    implied = float(v.reason.split("m = 20 reported, m = ")[1].split(" ")[0])
    assert implied == pytest.approx(200, rel=0.3)


def test_a_plugin_that_reports_no_applied_values_is_at_best_unverified(store, monkeypatch):
    v = _verdict(store, monkeypatch, report="none")
    assert v.verdict == "holds (unverified)", v.reason
    assert not v.reported and set(v.unreported) >= {"eta", "b", "m"}
    assert "did not report the value(s) it applied for" in v.reason
    assert v.to_dict()["reported"] is False


# -- the delay audit -----------------------------------------------------------------------------------
def async_sgd(ctx):
    """Asynchronous SGD as a delay simulator runs it: P workers in turn, each update computed at the
    iterate its worker read P - 1 updates earlier. ``extra_stale`` reads that many updates older still
    while reporting the delays of the honest read (the liar: 20)."""
    from harness.api import DelayStats

    wl, p, mon, P = ctx.workload, ctx.params, ctx.monitor, ctx.workers
    ctx.applied(eta=p["eta"], b=p["b"])
    w, t, rng = np.zeros(wl.dim), 0, ctx.rng
    history = [w.copy()]
    delays = DelayStats()
    mon.tick(0, w, samples=0, delays=delays)
    while mon.running:
        k = mon.next_chunk(t)
        for _ in range(k):
            tau = min(P - 1, t)
            read = history[max(t - tau - p["extra_stale"], 0)]
            w = w - p["step_factor"] * p["eta"] * wl.batch_gradient(read, rng.integers(0, wl.n, size=p["b"]))
            history.append(w.copy())
            delays.add_one(tau)                       # what it reports
            t += 1
        mon.tick(t, w, samples=t * p["b"], delays=delays)


ASYNC = PluginSpec("async-sgd-outside", "sgd", "sim", "test_reporting_audits:async_sgd", deterministic=True,
                   params=(Param("eta", 0.01, "float", low=0.0, open_low=True), Param("b", 1, "int", low=1),
                           Param("extra_stale", 0, "int", low=0), Param("step_factor", 1.0, "float", low=0.0)),
                   min_workers=1, max_workers=8)


@pytest.mark.parametrize("stale, ok", [(0, True), (20, False)])
def test_the_delay_audit_catches_a_plugin_reading_20_updates_staler_than_it_reports(stale, ok, monkeypatch):
    from dataclasses import replace

    from harness.analysis.contract import delay_audit

    spec = replace(ASYNC, name=f"async-sgd-stale-{stale}",
                   params=ASYNC.params[:2] + (Param("extra_stale", stale, "int", low=0),) + ASYNC.params[3:])
    monkeypatch.setitem(plugins().items, spec.name, spec)
    check, passed, detail = delay_audit(spec)
    assert check == "delays" and passed is ok, detail
    if not ok:
        assert re.search(r"reads up to 23 updates old \(inferred from the iterates, \d+ updates staler than reported\) "
                         r"vs a largest delay of 3 reported", detail), detail
    else:
        assert re.search(r"step 0\.01 \(reports 0\.01\), reads up to 3 updates old \(reports 3\), b = 1", detail), detail
        seed = int(re.search(r"audit seed (\d+)", detail).group(1))      # the message replays the audit
        # the same workload, sizes and run (how many updates the timed search explains depends on the machine's load)
        same = lambda msg: re.sub(r"\d+ updates explained", "", msg.split(": ")[0])  # noqa: E731
        assert same(delay_audit(spec, seed=seed)[2]) == same(detail)
    assert re.search(r"on (ridge|logreg) n=\d+ d=\d+ \(audit seed \d+\) \(4 workers\)", detail), detail   # ordinary


def test_the_delay_audit_catches_a_plugin_applying_three_times_the_step_it_reports(monkeypatch):
    """The iterates show the step: each update is 3 eta times a sample's gradient at an earlier iterate."""
    from dataclasses import replace

    from harness.analysis.contract import delay_audit

    spec = replace(ASYNC, name="async-sgd-3x", params=ASYNC.params[:3] + (Param("step_factor", 3.0, "float", low=0.0),))
    monkeypatch.setitem(plugins().items, spec.name, spec)
    check, passed, detail = delay_audit(spec)
    assert passed is False, detail
    assert "applied step 0.03 inferred from the iterates vs eta = 0.01 reported" in detail, detail
