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


# the parameters a theorem judges a run by that the update loop applies (step, batch, inner loop)
APPLIED = ("eta", "b", "m", "H", "M")


def _check_applied(spec, applied) -> tuple[str, bool, str]:
    """A plugin that links a theorem reports, in ``ctx.info["applied"]``, the values its update loop
    applied for each step / batch parameter the theorems read: the checker judges those, and a
    mismatch with the stored parameters is a violation (a plugin that stores eta and applies 3x
    would otherwise be judged by the stored eta)."""
    try:
        from harness.theory.registry import get
        reads = {r for tid in spec.theorems for r in getattr(get(tid), "reads", ())}
    except Exception:  # noqa: BLE001 - the 'theorems' check reports a missing theory module or id
        reads = set()
    need = [r for r in APPLIED if r in reads]
    have = applied if isinstance(applied, dict) else {}
    missing = [r for r in need if r not in have]
    if not have or missing:
        return ("applied", False, "set ctx.info['applied'] = {" + ", ".join(f"'{r}': ..." for r in (missing or need or ["eta"]))
                + "} to the values the update loop used: the linked theorems judge them")
    return ("applied", True, ", ".join(f"{k}={v}" for k, v in have.items() if k in need) or "reported")


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
    if len(ups) < 5:
        add("curve", False, f"{len(ups)} points; report at least 5 (call monitor.tick at update boundaries)")
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
    if spec.deterministic:
        again = run()
        # the measured fields but the clock (a point's ``extra`` may hold timings of its own)
        strip = lambda pts: [{k: p.get(k) for k in POINT_FIELDS if k != "time_s"} for p in pts]  # noqa: E731
        same = again.status == rec.status and strip(again.points) == strip(rec.points)
        add("deterministic", same, "" if same else "declared deterministic=True but two runs of seed 0 differ "
                                                   "(draw randomness from ctx.rng, or set deterministic=False)")
    return out
