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
  (every measured field but ``time_s``);
- ``applied`` / ``accounting``: with linked theorems, it reports the values they read, and its
  samples and updates agree with them;
- ``delays``: (finite-sum; sim and threads plugins and plugins that link theorems) on an ordinary
  workload drawn at random, the trajectory audit finds no step, read staleness, batch or inner loop
  beyond what it reports (:func:`delay_audit`).

A plugin that declines the tiny workload through its ``skip`` is reported as skipped, not failed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from harness._core.monitor import FINISHED_OK, POINT_FIELDS, SKIPPED, Budget, Schedule
from harness._core.registry import backend_of

# (workload, its parameters, the budget) per workload kind: seconds on one core
TINY: dict[str, tuple[str, dict[str, Any], Budget]] = {
    "finite-sum": ("logreg", {"n": 200, "d": 10, "lam": 1e-2}, Budget(epochs=3)),
    "network": ("mlp", {"n_train": 128, "width": 16, "depth": 2}, Budget(updates=24)),
}


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
    """The worker count the contract runs a plugin with: its backend's ``contract_workers`` (2 where
    parallelism is the point), within the plugin's bounds."""
    workers = max(spec.min_workers, backend_of(spec).contract_workers)
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


def _implied(rec) -> dict[str, tuple[float, float]] | None:
    """name -> (reported, implied by the run's samples and updates) for the applied values that
    disagree with the accounting (:func:`harness.theory.audit.implied_figures`); None where the theory
    module is missing."""
    from harness.run.checking import run_facts

    try:
        from harness.theory.audit import implied_figures
    except ImportError:  # pragma: no cover - the theory package ships with the harness
        return None
    return implied_figures(run_facts(rec))


# one sample counted per update where b are drawn: the monitor's default without samples=
NO_SAMPLES = "pass samples= to mon.tick (the samples processed so far; without it each update counts one sample)"


def _accounting(bad: dict[str, tuple[float, float]] | None) -> tuple[str, bool | None, str]:
    """The run's own accounting (samples and updates) against the m, b, H it reports (``bad``:
    :func:`_implied`'s disagreements)."""
    if bad is None:
        return ("accounting", None, "the theory module is not available")
    if bad:
        return ("accounting", False, "; ".join(
            f"reports {k} = {r:g} but its samples and updates imply {k} = {i:.4g}"
            + (f": {NO_SAMPLES}" if k == "b" and abs(i - 1) < 1e-9 else "") for k, (r, i) in sorted(bad.items())))
    return ("accounting", True, "samples and updates agree with the reported values")


def delay_audit(spec, timeout_s: float = 120, seed: int | None = None) -> tuple[str, bool | None, str]:
    """Run the plugin once on an ordinary workload drawn at random (``ridge`` or ``logreg`` with n, d,
    the data seed and the run's seed drawn from ``seed``, by default from the OS's entropy, and named in
    the message, so a finding can be replayed with ``seed=``; the plugin's default parameters;
    4 workers where it allows): nothing marks the run as an audit. The same trajectory audit every
    run gets (:mod:`harness.run.trajectory`), over every update of this short run rather than the
    head and two seeded windows (a lie that starts late cannot fall between them), infers from the
    iterates observed one update apart the
    step, mini-batch, staleness of each read and SVRG's inner-loop length, and
    :func:`harness.theory.audit.trajectory_findings` compares them with what the plugin reports: a
    step, batch, delay or inner loop beyond the reported one fails, naming both figures; updates the
    audit cannot explain (momentum, dual, coordinate-wise) or a run it cannot observe make the check
    skipped, saying why. A plugin that behaves only while observed one update at a time is not
    caught (docs/plugins.md, "What the audits see")."""
    import secrets

    import numpy as np

    from harness.run.checking import run_facts
    from harness.run.runner import RunSpec, execute

    try:
        from harness.theory.audit import trajectory_findings
    except ImportError as exc:  # pragma: no cover - the theory package ships with the harness
        return ("delays", None, f"the theory module is not available: {exc}")
    seed = secrets.randbits(63) if seed is None else int(seed)
    rng = np.random.default_rng(seed)
    workload = str(rng.choice(["ridge", "logreg"]))
    wparams = {"n": int(rng.integers(150, 260)), "d": int(rng.integers(6, 16)), "seed": int(rng.integers(0, 2**31))}
    workers = max(contract_workers(spec), min(4, spec.max_workers or 4))
    where = f"{workload} n={wparams['n']} d={wparams['d']} (audit seed {seed})"
    rec = execute(RunSpec(spec.name, workload, {}, wparams, workers=workers, seed=int(rng.integers(0, 2**31)),
                          budget=Budget(updates=int(rng.integers(300, 600))), options={"timeout_s": timeout_s},
                          observe_every=True))
    if rec.status not in FINISHED_OK + ("diverged",):
        return ("delays", None if rec.status == SKIPPED else False, f"the audit's run on {where} ended '{rec.status}': "
                f"{rec.reason}")
    lies, why = trajectory_findings(run_facts(rec))
    if lies:
        return ("delays", False, f"on {where} ({workers} workers): " + "; ".join(lies))
    if why:
        return ("delays", None, f"not audited on {where}: {why}")
    a = rec.info["audit"]
    facts = run_facts(rec)
    return ("delays", True, f"on {where} ({workers} workers), {a['explained']} updates explained: step {a['step']:.4g} "
            f"(reports {facts.param('eta')}), reads up to {a['delay_max']} updates old (reports "
            f"{facts.tau_max if facts.tau_max is not None else 0:g})"
            + (f", b = {a['b']}" if a.get("b") else "") + (f", inner loop {a['inner_max']}" if a.get("inner_max") else ""))


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
    bad = _implied(rec) if isinstance(rec.info.get("applied"), dict) else {}
    if budget.updates is not None:
        limit = budget.updates * 1.1 + 4 * workers
        add("budget", ups[-1] <= limit, f"{ups[-1]} updates for a budget of {budget.updates:g}"
            + ("" if ups[-1] <= limit else f" (allowed up to {limit:g}): check monitor.running / next_chunk"))
    else:
        epochs = rec.points[-1].get("epochs")
        limit = budget.epochs * 1.1 + 0.1 * workers
        reported, implied = (bad or {}).get("b", (None, None))
        if epochs is not None and reported and implied:  # epochs counted at the implied b: at the reported b, more
            counted, epochs = epochs, epochs * reported / implied
            ok = epochs <= limit
            add("budget", ok, f"{epochs:.4g} epochs at the reported b = {reported:g} for a budget of {budget.epochs:g}"
                + ("" if ok else f" (allowed up to {limit:g}; the run counted {counted:.4g} at b = {implied:.4g}): "
                   + NO_SAMPLES))
        else:
            ok = epochs is None or epochs <= limit
            add("budget", ok, f"{epochs if epochs is not None else '?'} epochs for a budget of {budget.epochs:g}"
                + ("" if ok else f" (allowed up to {limit:g}): stop when monitor.running is False"))
    first, last = rec.points[0]["objective"], rec.points[-1]["objective"]
    ok = math.isfinite(last) and last < first
    add("progress", ok, f"objective {first:.4g} -> {last:.4g}" + ("" if ok else ": it must decrease"))
    if spec.theorems:
        add(*_check_applied(spec, rec.info.get("applied")))
    if isinstance(rec.info.get("applied"), dict):
        add(*_accounting(bad))
    if kind == "finite-sum" and (backend_of(spec).delay_audit or spec.theorems):   # what a theorem would read
        add(*delay_audit(spec, timeout_s))
    if spec.deterministic:
        again = run()
        # the measured fields but the clock (a point's ``extra`` may hold timings of its own)
        strip = lambda pts: [{k: p.get(k) for k in POINT_FIELDS if k != "time_s"} for p in pts]  # noqa: E731
        same = again.status == rec.status and strip(again.points) == strip(rec.points)
        add("deterministic", same, "" if same else "declared deterministic=True but two runs of seed 0 differ "
                                                   "(draw randomness from ctx.rng, or set deterministic=False)")
    return out
