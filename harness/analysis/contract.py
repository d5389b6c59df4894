"""The plugin contract, as checks anyone can run on a plugin (``harness check-plugin NAME``, and
the test suite on every registered plugin; the idea of ``benchopt test``).

A plugin's metadata must hold:

- ``theorems``: every theorem id it links exists, and the plugin declares every parameter that
  theorem's adapter reads (``harness theory show ID`` lists them);

and it runs on a tiny instance of every workload kind it declares and must:

- ``loads``: its ``impl`` imports and is callable;
- ``runs``: finish with a successful status (done, budget or target), not error/timeout/diverged;
- ``curve``: report at least 5 points, with non-decreasing ``updates``;
- ``budget``: stop within its budget (asynchronous workers may land a few updates after the stop:
  one per worker and chunk is allowed);
- ``progress``: end with a finite objective below the first point's;
- ``deterministic``: a plugin that declares ``deterministic=True`` gives the same curve twice
  (every measured field but ``time_s``).

A plugin that declines the tiny workload through its ``skip`` is reported as skipped, not failed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from harness._core.monitor import FINISHED_OK, POINT_FIELDS, SKIPPED, Budget, Schedule

# (workload, its parameters, the budget) per workload kind: seconds on one core
TINY: dict[str, tuple[str, dict[str, Any], Budget]] = {
    "finite-sum": ("logreg", {"n": 200, "d": 10, "lam": 1e-2}, Budget(epochs=3)),
    "network": ("mlp", {"n_train": 128, "width": 16, "depth": 2}, Budget(updates=24)),
}
CHECKS = ("theorems", "loads", "runs", "curve", "budget", "progress", "deterministic")


@dataclass
class Finding:
    """One check of one plugin on one workload kind: ``ok`` True (passed), False (failed) or None
    (not applicable / skipped, ``message`` says why)."""

    plugin: str
    kind: str
    check: str
    ok: bool | None
    message: str = ""


def contract_workers(spec) -> int:
    """The worker count the contract runs a plugin with: 2 where parallelism is the point."""
    workers = max(spec.min_workers, 2 if spec.backend in ("threads", "mpi", "sim") else 1)
    return min(workers, spec.max_workers) if spec.max_workers is not None else workers


def check_plugin(name: str, kinds: Sequence[str] | None = None, *, timeout_s: float = 120) -> list[Finding]:
    """Run the contract on plugin ``name`` (every kind it declares, or ``kinds``). Unknown names
    raise UserError; a failing plugin never raises: its findings say what failed."""
    from harness._core.registry import plugins

    spec = plugins().get(name)
    findings: list[Finding] = [_check_theorems(spec)] if spec.theorems else []
    for kind in kinds or spec.kinds:
        findings.extend(_check_kind(spec, kind, timeout_s))
    return findings


def _check_theorems(spec) -> Finding:
    """Every linked theorem exists, and the plugin declares the parameters its adapter reads
    (:func:`harness._core.registry.link_problems`, the check ``harness list plugins`` runs too)."""
    try:
        from harness.theory.registry import all_theorems
    except ImportError as exc:
        return Finding(spec.name, "-", "theorems", None, f"the theory module is not available: {exc}")
    from harness._core.registry import link_problems

    problems = link_problems([spec], {t.id: t for t in all_theorems()}).get(spec.name, [])
    return Finding(spec.name, "-", "theorems", not problems,
                   "; ".join(problems) or f"{len(spec.theorems)} linked: {', '.join(spec.theorems)}")


def _check_applied(spec, applied) -> tuple[str, bool, str]:
    """A plugin that links a theorem reports, through ``ctx.applied(...)``, the values its update loop
    applied for every parameter the theorems' run maps read (:func:`harness.run.checking.expected_applied`):
    the checker judges those, and a mismatch with the stored parameters is a violation (a plugin that
    stores eta and applies 3x would otherwise be judged by the stored eta)."""
    from harness.run.checking import expected_applied

    need = list(expected_applied(spec))
    have = applied if isinstance(applied, dict) else {}
    missing = [r for r in need if r not in have]
    if not have or missing:
        return ("applied", False, "call ctx.applied(" + ", ".join(f"{r}=..." for r in (missing or need or ["eta"]))
                + ") with the values the update loop used: the linked theorems judge them")
    return ("applied", True, ", ".join(f"{k}={v}" for k, v in have.items() if k in need) or "reported")


def _accounting(rec) -> tuple[str, bool | None, str]:
    """The run's own accounting (samples and updates) against the m, b, H it reports
    (:func:`harness.theory.audit.implied_figures`)."""
    from harness.run.checking import run_facts

    try:
        from harness.theory.audit import implied_figures
    except ImportError as exc:  # pragma: no cover - the theory package ships with the harness
        return ("accounting", None, f"the theory module is not available: {exc}")
    bad = implied_figures(run_facts(rec))
    if bad:
        return ("accounting", False, "; ".join(f"reports {k} = {r:g} but its samples and updates imply {k} = {i:.4g}"
                                               for k, (r, i) in sorted(bad.items())))
    return ("accounting", True, "samples and updates agree with the reported values")


DELAY_AUDITED = ("sim", "threads")   # backends whose plugins measure their own delays
PROBE = ("probe", {"n": 64}, Budget(updates=200))
EXPLAINED = 1e-6    # relative error below which a step is explained by a read of an earlier iterate


def delay_audit(spec, timeout_s: float = 120) -> tuple[str, bool | None, str]:
    """Run the plugin on the probe workload (f(w) = (w - 1)^2/2 from identical points, a point per
    update, a small step): with u = 1 - w, each update is u_{t+1} = u_t - eta u_{t-k}, so the
    staleness k of every read is observable from two consecutive objectives. The largest staleness
    read must not exceed the largest delay the plugin reports (``tau_max``); steps that no read of an
    earlier iterate explains fail too, and so do steps that are all one factor c != 1 times the
    reported eta (a plugin applying 3 eta while it reports eta). Plugins whose update is not a
    gradient step at a read iterate (dual methods) are skipped, saying so."""
    import numpy as np

    from harness.run.runner import RunSpec, execute

    declared = {p.name for p in spec.params}
    if "eta" not in declared:
        return ("delays", None, "no step parameter eta: the probe's model u_{t+1} = u_t - eta u_read does not apply")
    workload, wparams, budget = PROBE
    workers = max(contract_workers(spec), min(4, spec.max_workers or 4))
    params = {"eta": 0.01, **({"b": 1} if "b" in declared else {}), **({"M": 1} if "M" in declared else {})}
    rec = execute(RunSpec(spec.name, workload, params, dict(wparams), workers=workers, seed=0, budget=budget,
                          schedule=Schedule(ratio=1.0, min_gap=1, max_interval_s=None, eval_fraction=None),
                          options={"timeout_s": timeout_s}))
    if rec.status not in FINISHED_OK:
        return ("delays", None if rec.status == SKIPPED else False, f"the probe run ended '{rec.status}': {rec.reason}")
    eta = float((rec.info.get("applied") or {}).get("eta", params["eta"]))
    ups = [p["updates"] for p in rec.points]
    u = np.sqrt(2 * np.maximum([p["objective"] for p in rec.points], 0.0))
    ks, unexplained = [], 0
    for i in range(len(ups) - 1):
        if ups[i + 1] - ups[i] != 1:
            continue
        r = (u[i] - u[i + 1]) / eta                    # the u of the iterate this update read
        err = np.abs(u[: i + 1][::-1] - r) / max(abs(r), 1e-300)
        k = int(np.argmin(err))
        if err[k] < EXPLAINED:
            ks.append(k)
        else:
            unexplained += 1
    steps = len(ks) + unexplained
    if steps >= 20 and len(ks) < steps / 2:
        c = _step_factor(ups, u, eta)
        if c is not None:
            return ("delays", False, f"the steps on the probe are {c:.4g} x the reported eta = {eta:g} (times the "
                    "gradient at an earlier iterate): the step applied is not the one reported")
    if steps < 20 or len(ks) < steps / 2:
        return ("delays", None, f"{len(ks)} of {steps} steps are a step of eta at an earlier iterate on the probe: "
                "the update is not a gradient step at a read iterate (a dual or a round-based method)")
    reported = max((p["tau_max"] for p in rec.points if p.get("tau_max") is not None), default=0.0)
    worst = max(ks)
    if worst > reported:
        return ("delays", False, f"reads up to {worst} updates old on the probe workload but reports delays of at "
                f"most {reported:g} (with {workers} workers): the delays it measures are not the ones it reads")
    if unexplained > 0.02 * steps:
        return ("delays", False, f"{unexplained} of {steps} steps on the probe are not eta = {eta:g} times the "
                "gradient at any earlier iterate: the step applied is not the one reported")
    return ("delays", True, f"reads up to {worst} updates old, reports at most {reported:g} ({workers} workers, "
            f"{steps} steps on the probe)")


def _step_factor(ups, u, eta: float, oldest: int = 64):
    """The one factor c with u_{t+1} = u_t - c eta u_{t-k} (some k) at 90% of the probe's steps, or None."""
    import numpy as np

    pairs = [i for i in range(len(ups) - 1) if ups[i + 1] - ups[i] == 1]
    if not pairs:
        return None
    last = pairs[-1]
    r_last = (u[last] - u[last + 1]) / eta
    best, best_n = None, 0
    for k in range(min(last, oldest) + 1):
        c = r_last / u[last - k]
        n = sum(1 for i in pairs if np.min(np.abs(u[max(0, i - oldest): i + 1] * c - (u[i] - u[i + 1]) / eta))
                < EXPLAINED * abs((u[i] - u[i + 1]) / eta))
        if n > best_n:
            best, best_n = c, n
    return best if best_n >= 0.9 * len(pairs) and abs(best - 1) > 1e-6 else None


def failures(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.ok is False]


def _check_kind(spec, kind: str, timeout_s: float) -> list[Finding]:
    from harness.run.runner import RunSpec, execute

    out: list[Finding] = []

    def add(check: str, ok: bool | None, message: str = "") -> None:
        out.append(Finding(spec.name, kind, check, ok, message))

    if kind not in TINY:
        add("runs", False, f"unknown workload kind {kind!r} (known: {', '.join(TINY)})")
        return out
    if spec.missing():
        add("loads", None, f"needs {', '.join(spec.missing())}: not installed here")
        return out
    try:
        impl = spec.load()
        add("loads", callable(impl), "" if callable(impl) else f"{spec.impl} is not callable")
    except Exception as exc:  # noqa: BLE001 - the finding is the report
        add("loads", False, f"{spec.impl}: {exc}")
        return out
    if not callable(impl):
        return out
    workload, wparams, budget = TINY[kind]
    workers = contract_workers(spec)

    def run():
        return execute(RunSpec(spec.name, workload, {}, dict(wparams), workers=workers, seed=0, budget=budget,
                               schedule=Schedule(ratio=1.5), options={"timeout_s": timeout_s}))

    rec = run()
    if rec.status == SKIPPED:
        add("runs", None, f"declined {workload}: {rec.reason}")
        return out
    tb = rec.info.get("traceback", "")
    add("runs", rec.status in FINISHED_OK,
        "" if rec.status in FINISHED_OK else f"ended '{rec.status}': {rec.reason}" + (f"\n{tb}" if tb else ""))
    if rec.status not in FINISHED_OK:
        return out
    ups = [p["updates"] for p in rec.points]
    need = min(5, int(ups[-1]) + 1)   # a run of fewer updates (full-gradient methods: one per epoch) ticks each
    if len(ups) < need:
        add("curve", False, f"{len(ups)} points; report at least {need} (call monitor.tick at update boundaries)")
    elif ups != sorted(ups):
        add("curve", False, "updates decrease between points: count updates since the start, not per epoch")
    else:
        add("curve", True, f"{len(ups)} points")
    if budget.updates is not None:
        limit = budget.updates * 1.1 + 4 * workers
        add("budget", ups[-1] <= limit, f"{ups[-1]} updates for a budget of {budget.updates:g}"
            + ("" if ups[-1] <= limit else f" (allowed up to {limit:g}): check monitor.running / next_chunk"))
    else:
        epochs = rec.points[-1].get("epochs")
        limit = budget.epochs * 1.1 + 0.1 * workers
        ok = epochs is None or epochs <= limit
        add("budget", ok, f"{epochs if epochs is not None else '?'} epochs for a budget of {budget.epochs:g}"
            + ("" if ok else f" (allowed up to {limit:g}): stop when monitor.running is False"))
    first, last = rec.points[0]["objective"], rec.points[-1]["objective"]
    ok = math.isfinite(last) and last < first
    add("progress", ok, f"objective {first:.4g} -> {last:.4g}" + ("" if ok else ": it must decrease"))
    if spec.theorems:
        add(*_check_applied(spec, rec.info.get("applied")))
    if isinstance(rec.info.get("applied"), dict):
        add(*_accounting(rec))
    if kind == "finite-sum" and spec.backend in DELAY_AUDITED:
        add(*delay_audit(spec, timeout_s))
    if spec.deterministic:
        again = run()
        # the measured fields but the clock (a point's ``extra`` may hold timings of its own)
        strip = lambda pts: [{k: p.get(k) for k in POINT_FIELDS if k != "time_s"} for p in pts]  # noqa: E731
        same = again.status == rec.status and strip(again.points) == strip(rec.points)
        add("deterministic", same, "" if same else "declared deterministic=True but two runs of seed 0 differ "
                                                   "(draw randomness from ctx.rng, or set deterministic=False)")
    return out
