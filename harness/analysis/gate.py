"""The regression gate: current results against a committed baseline (a JSON export), under a
small rule grammar in the spirit of pytest-benchmark's ``--benchmark-compare-fail``.

Rules (``METRIC:THRESHOLD``)::

    time_to_target:10%      current may be at most 10% above the baseline   (alias ttt)
    updates_to_target:0%    no increase at all                              (alias utt)
    final_subopt:2x         at most twice the baseline                      (alias subopt)
    theory:no-violation     no theorem verdict 'violated' on a current run
    theory:no-regression    every verdict that 'holds' in the baseline still holds

How a metric is judged depends on whether it can be noisy:

- *deterministic* (updates to target and final suboptimality of a plugin whose trajectory is a
  function of its seed -- ``PluginSpec.deterministic``: the serial and sim backends -- and theory
  verdicts): strictly, seed by seed: any seed beyond the threshold fails.
- *wall-clock* (time to target always; every metric of a non-deterministic backend): the median
  over seeds and the fastest run must both be beyond the threshold AND the slowdown significant (one-sided Mann-Whitney U
  where the seeds allow it, else non-overlapping bootstrap CIs: asv's rule). A time to target of
  a serial or sim run is its process's CPU seconds to the target (``info.cpu_to_target_s``) when
  both sides have them, so other processes' load (which takes wall time, not this process's CPU
  time) does not read as slower code; else its seconds divided by the machine's speed measured
  beside it (``info.machine_s``, :func:`harness.run.manifest.machine_seconds`) when both sides have it. Such a check is only
  made with at least :data:`MIN_SAMPLES` samples (seeds) on each side, and a time only when the
  runs last at least :data:`MIN_TIMED_S` of measured time: otherwise the check says
  "not judged: too few samples" / "too short to time" and does not fail (one sample is never
  significant; a sub-millisecond time is mostly the machine's noise). Seconds measured on
  another machine (CPU model / count in the run's manifest) are not judged unless asked: a time
  is judged against a baseline saved on the machine that judges, with the reference code (`.ci/run`
  saves one from the commit that wrote the committed baseline). A suite's timed group is sized on
  that machine when the baseline is saved (:mod:`harness.run.sizing`) and checked at that size.

Exit codes: 0 pass, 1 regression or theory violation, 2 the gate could not judge (nothing ran,
a run errored, a baseline run has no current counterpart, a bad rule). Never a green gate on
nothing.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from . import stats
from .compare import fmt_num, group_title
from harness.run.metrics import METRIC_LABELS, run_metrics
from harness._core.errors import UserError
from harness._core.identity import latest_per_key, record_key
from harness._core.monitor import DIVERGED, FINISHED_OK, SKIPPED
from harness.run.store import RunRecord

PASS, REGRESSION, UNJUDGED = 0, 1, 2
ALIASES = {"ttt": "time_to_target", "utt": "updates_to_target", "subopt": "final_subopt",
           "time_to_target": "time_to_target", "updates_to_target": "updates_to_target",
           "final_subopt": "final_subopt", "theory": "theory"}
THEORY_MODES = ("no-violation", "no-regression")
DEFAULT_RULES = ("time_to_target:50%", "updates_to_target:0%", "final_subopt:2x", "theory:no-violation")
SUBOPT_FLOOR = 1e-15  # suboptimality below this is numerical noise: compared as equal
REL_TOL = 1e-9        # deterministic ratios within this of the threshold pass (floating-point)
MIN_SAMPLES = 5       # a noisy metric is judged with at least this many samples (seeds) per side
MIN_TIMED_S = 0.05    # a time to target is judged only when the runs take at least this long (s)


@dataclass(frozen=True)
class Rule:
    text: str
    metric: str
    factor: float | None = None
    mode: str | None = None


_THRESHOLD = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(%|x)\s*$")


def parse_rule(text: str) -> Rule:
    """'time_to_target:10%' -> factor 1.10; 'final_subopt:2x' -> factor 2; 'theory:no-violation'."""
    metric, sep, thr = text.partition(":")
    metric = metric.strip().lower()
    hint = (f"expected METRIC:N% or METRIC:Nx with METRIC one of time_to_target, updates_to_target, final_subopt, "
            f"or theory:{'|'.join(THEORY_MODES)}")
    if not sep or metric not in ALIASES:
        raise UserError(f"bad gate rule '{text}': {hint}")
    metric = ALIASES[metric]
    if metric == "theory":
        mode = thr.strip().lower()
        if mode not in THEORY_MODES:
            raise UserError(f"bad gate rule '{text}': theory rules are theory:{' or theory:'.join(THEORY_MODES)}")
        return Rule(text, metric, mode=mode)
    m = _THRESHOLD.match(thr)
    if not m:
        raise UserError(f"bad gate rule '{text}': threshold '{thr}' is not N% or Nx ({hint})")
    num, unit = float(m.group(1)), m.group(2)
    factor = 1.0 + num / 100.0 if unit == "%" else num
    if not math.isfinite(factor):  # 1e400% read as inf: a rule that can never fail
        raise UserError(f"bad gate rule '{text}': threshold '{thr.strip()}' is not a finite number")
    if factor < 1.0:
        raise UserError(f"bad gate rule '{text}': a factor below 1x would fail an unchanged result")
    return Rule(text, metric, factor=factor)


def parse_rules(texts: Sequence[str] | None) -> list[Rule]:
    items = []
    for part in texts or DEFAULT_RULES:
        split = str(part).split(",")
        if len(split) > 1 and not all(t.strip() for t in split):  # 'final_subopt:2x,': the empty one was dropped
            raise UserError(f"--fail {part!r} has an empty rule: expected METRIC:N% or METRIC:Nx[,...]")
        items += split
    rules = [parse_rule(t) for t in items if t.strip()]
    if not rules:
        raise UserError("the gate needs at least one rule")
    seen: dict[str, str] = {}
    for r in rules:  # time_to_target:10% and time_to_target:50%: which threshold was meant?
        key = r.metric if r.mode is None else f"{r.metric}:{r.mode}"
        if key in seen:
            raise UserError(f"two gate rules for {key}: '{seen[key]}' and '{r.text}': give one")
        seen[key] = r.text
    return rules


@dataclass
class Check:
    rule: str
    group: str
    outcome: str          # ok | improved | REGRESSION | VIOLATION | not judged
    baseline: str = "-"
    current: str = "-"
    ratio: float = math.nan
    how: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome in ("REGRESSION", "VIOLATION")

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "group": self.group, "outcome": self.outcome, "baseline": self.baseline,
                "current": self.current, "ratio": self.ratio, "how": self.how}


@dataclass
class GateResult:
    checks: list[Check] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)    # what made the gate unable to judge
    notes: list[str] = field(default_factory=list)

    @property
    def judged(self) -> int:
        return sum(c.outcome != "not judged" for c in self.checks)

    @property
    def exit_code(self) -> int:
        if self.problems or self.judged == 0:
            return UNJUDGED
        return REGRESSION if any(c.failed for c in self.checks) else PASS

    def verdict(self) -> str:
        code = self.exit_code
        n_fail = sum(c.failed for c in self.checks)
        if code == UNJUDGED:
            why = "; ".join(self.problems) or "nothing was judged"
            extra = f" ({n_fail} regressions among what could be judged)" if n_fail else ""
            return f"gate: could not judge: {why}{extra}"
        if code == REGRESSION:
            return f"gate: FAILED: {n_fail} of {self.judged} checks regressed"
        return f"gate: passed: {self.judged} checks"

    def to_dict(self) -> dict[str, Any]:
        return {"exit_code": self.exit_code, "verdict": self.verdict(), "checks": [c.to_dict() for c in self.checks],
                "problems": self.problems, "notes": self.notes}


PAIRED_ALSO = ("data", "budget", "target")   # the 'gate' view's parts after the benchmark's five


def pair_key(r: RunRecord) -> tuple:
    """What makes a baseline run and a current run the same benchmark (the identity's 'gate' view):
    plugin, parameters as asked for (a value the theory chose stays 'theory', so a refined bound is
    judged by its effect, not as a missing run), workload, workers, seed, and the data, budget and
    target it ran with (a suite whose budget changed measured something else: its runs are not
    judged against the old ones)."""
    return record_key(r, "gate")


def _what_differs(k: tuple, current: Sequence[tuple]) -> str:
    """'; its budget differs (baseline {...}, now {...})' when a current run is the same benchmark
    as the baseline's ``k`` but for its data, budget or target; '' otherwise."""
    for c in current:
        if c[:5] == k[:5]:
            parts = [f"its {name} differs (baseline {a}, now {b})"
                     for name, a, b in zip(PAIRED_ALSO, k[5:], c[5:]) if a != b]
            return "; " + ", ".join(parts)
    return ""


def _group_of(key: tuple) -> tuple:
    return (key[2], key[3], key[0], key[1])


def _machine(recs: Sequence[RunRecord]) -> set[tuple]:
    return {((r.env or {}).get("cpu"), (r.env or {}).get("cpu_count")) for r in recs}


def judge(baseline: Sequence[RunRecord], current: Sequence[RunRecord], rules: Sequence[Rule], *,
          deterministic: dict[str, bool], baseline_verdicts: dict[int, dict[str, dict]] | None = None,
          current_verdicts: dict[int, dict[str, dict]] | None = None, alpha: float = stats.DEFAULT_ALPHA,
          any_machine: bool = False, must_judge: bool = False) -> GateResult:
    """Judge ``current`` against ``baseline`` (verdict dicts keyed by ``id(record)``).
    ``must_judge`` (rules the user asked for by name): a rule that could judge nothing (every
    check 'not judged', e.g. a time rule whose groups are all too short on this machine) is a
    problem, exit 2, not a silent pass."""
    res = GateResult()
    baseline_verdicts = baseline_verdicts or {}
    current_verdicts = current_verdicts or {}
    if not current:
        res.problems.append("nothing ran")
        return res
    base = {pair_key(r): r for r in latest_per_key(baseline) if r.status in FINISHED_OK}
    cur: dict[tuple, RunRecord] = {}
    for r in current:
        if r.status in FINISHED_OK or r.status == DIVERGED:
            cur[pair_key(r)] = r
        elif r.status == SKIPPED:
            res.notes.append(f"skipped: {r.plugin} on {r.workload} seed {r.seed}: {r.reason}")
        else:
            res.problems.append(f"run #{r.id} {r.plugin} on {r.workload} seed {r.seed} ended '{r.status}': {r.reason}")
    skipped = {pair_key(r) for r in current if r.status == SKIPPED}
    missing = [k for k in base if k not in cur and k not in skipped and
               not any(pair_key(r) == k and r.status not in FINISHED_OK for r in current)]
    if missing:
        res.problems.append(f"{len(missing)} baseline runs have no current counterpart (first: "
                            f"{missing[0][0]} on {json.loads(missing[0][2])['name']} workers={missing[0][3]} seed={missing[0][4]}"
                            f"{_what_differs(missing[0], list(cur))}"
                            f"; a changed parameter, workload, budget or suite? refresh the baseline with --save-baseline)")
    new = [k for k in cur if k not in base]
    if new:
        res.notes.append(f"{len(new)} current runs have no baseline (first: {new[0][0]} seed {new[0][4]}): "
                         "not judged; refresh the baseline with --save-baseline")
    if not base:
        res.problems.append("the baseline holds no finished runs")
    groups: dict[tuple, list[tuple]] = defaultdict(list)
    for k in base:
        if k in cur:
            groups[_group_of(k)].append(k)
    cross_machine = not any_machine and bool(_machine(list(base.values()))) and \
        _machine(list(base.values())) != _machine(list(cur.values()))
    for rule in rules:
        if rule.metric == "theory":
            _judge_theory(rule, base, cur, baseline_verdicts, current_verdicts, res)
            continue
        for gkey, keys in sorted(groups.items()):
            title = group_title(gkey)
            b_runs = [base[k] for k in sorted(keys, key=lambda k: k[4])]
            c_runs = [cur[k] for k in sorted(keys, key=lambda k: k[4])]
            diverged = [r for r in c_runs if r.status == DIVERGED]
            if diverged:
                res.checks.append(Check(rule.text, title, "REGRESSION", how=f"current run diverged (seed "
                                        f"{diverged[0].seed}: {diverged[0].reason})"))
                continue
            bm = [_metric(r, rule.metric) for r in b_runs]
            cm = [_metric(r, rule.metric) for r in c_runs]
            timed = rule.metric == "time_to_target"
            on_cpu = timed and all(_cpu_s(r) is not None for r in b_runs + c_runs)
            per_machine = timed and not on_cpu and all(_machine_s(r) for r in b_runs + c_runs)
            if on_cpu:  # this process's CPU seconds: other processes' load takes wall time, not these
                bm, cm = [_cpu_s(r) for r in b_runs], [_cpu_s(r) for r in c_runs]
            elif per_machine:  # seconds in units of the machine's speed at each run (a busy machine cancels)
                bm = [v / _machine_s(r) for v, r in zip(bm, b_runs)]
                cm = [v / _machine_s(r) for v, r in zip(cm, c_runs)]
            strict = rule.metric != "time_to_target" and deterministic.get(gkey[2], False)
            if strict:
                res.checks.append(_strict_check(rule, title, bm, cm, [r.seed for r in b_runs]))
            elif cross_machine:
                res.checks.append(Check(rule.text, title, "not judged", fmt_num(stats.median(bm)),
                                        fmt_num(stats.median(cm)), stats.ratio(stats.median(cm), stats.median(bm)),
                                        "baseline measured on another machine: save one here with the reference code "
                                        "(.ci/run does), or --any-machine to judge anyway"))
            else:
                check = _noisy_check(rule, title, bm, cm, alpha,
                                     raw=None if on_cpu else ([_metric(r, rule.metric) for r in b_runs],
                                                              [_metric(r, rule.metric) for r in c_runs]))
                if on_cpu and check.outcome != "not judged":
                    check.how += "; CPU seconds of the run's process to target"
                if per_machine and check.outcome != "not judged":
                    check.how += "; times in units of the machine's speed measured beside each run"
                res.checks.append(check)
    if must_judge and res.judged:  # (nothing judged at all is a problem already)
        for rule in rules:
            mine = [c for c in res.checks if c.rule == rule.text]
            if mine and all(c.outcome == "not judged" for c in mine):
                why = next((c.how for c in mine if "too short" in c.how), mine[0].how)
                res.problems.append(f"rule {rule.text} judged nothing ({why})")
    return res


def _metric(r: RunRecord, metric: str) -> float:
    v = run_metrics(r)[metric]
    if metric == "final_subopt" and not math.isnan(v):
        v = max(v, SUBOPT_FLOOR)
    return v


def _strict_check(rule: Rule, title: str, bm: list[float], cm: list[float], seeds: list[int]) -> Check:
    ratios = [stats.ratio(c, b) for b, c in zip(bm, cm)]
    worst = max(range(len(ratios)), key=lambda i: -1 if math.isnan(ratios[i]) else ratios[i])
    r = ratios[worst]
    if any(math.isnan(x) for x in ratios):
        return Check(rule.text, title, "not judged", how=f"{METRIC_LABELS[rule.metric]} undefined (no target?)")
    outcome = "REGRESSION" if r > rule.factor * (1 + REL_TOL) else ("improved" if max(ratios) < 1 else "ok")
    how = f"deterministic, seed by seed: worst seed {seeds[worst]} at {fmt_num(r) if math.isfinite(r) else 'inf'}x " \
          f"(limit {rule.factor:g}x)"
    return Check(rule.text, title, outcome, fmt_num(bm[worst]), fmt_num(cm[worst]), r, how)


def _cpu_s(r: RunRecord) -> float | None:
    """CPU seconds the run's own process spent to reach its target (in-process backends)."""
    v = (r.info or {}).get("cpu_to_target_s")
    return float(v) if isinstance(v, (int, float)) and v > 0 else None


def _machine_s(r: RunRecord) -> float | None:
    v = (r.info or {}).get("machine_s")
    return float(v) if isinstance(v, (int, float)) and v > 0 else None


def _noisy_check(rule: Rule, title: str, bm: list[float], cm: list[float], alpha: float,
                 raw: tuple[list[float], list[float]] | None = None) -> Check:
    """``raw``: the values in seconds when ``bm``/``cm`` are normalized (the 50 ms floor is in seconds)."""
    mb, mc = stats.median(bm), stats.median(cm)
    r = stats.ratio(mc, mb)
    if math.isnan(r):
        return Check(rule.text, title, "not judged", how=f"{METRIC_LABELS[rule.metric]} undefined (no target?)")
    nb, nc = sum(math.isfinite(x) for x in bm), sum(math.isfinite(x) for x in cm)
    if min(len(bm), len(cm)) < MIN_SAMPLES:
        return Check(rule.text, title, "not judged", fmt_num(mb), fmt_num(mc), r,
                     f"not judged: too few samples ({len(bm)} baseline, {len(cm)} current; a noisy metric needs "
                     f"{MIN_SAMPLES} per side: more seeds)")
    rb, rc = raw or (bm, cm)
    if rule.metric == "time_to_target" and nb and nc:
        shortest = min(stats.median([x for x in rb if math.isfinite(x)]),
                       stats.median([x for x in rc if math.isfinite(x)]))
        if shortest < MIN_TIMED_S:
            return Check(rule.text, title, "not judged", fmt_num(mb), fmt_num(mc), r,
                         f"not judged: too short to time (median {shortest * 1e3:.3g} ms < "
                         f"{MIN_TIMED_S * 1e3:g} ms: a longer run or a tighter target)")
    slower, how = stats.is_different(bm, cm, alpha=alpha, alternative="greater")
    faster, how_faster = stats.is_different(cm, bm, alpha=alpha, alternative="greater")
    # the fastest runs too: noise only adds time, so a slowdown that is the code's moves the minimum
    # as well, while a burst of load on some runs moves the median alone
    r_min = stats.ratio(float(np.nanmin(cm)), float(np.nanmin(bm))) if nb and nc else r
    beyond = r > rule.factor and (math.isnan(r_min) or r_min > rule.factor)
    if beyond and slower:
        outcome = "REGRESSION"
    elif faster and r < 1:
        outcome, how = "improved", how_faster
    else:
        outcome = "ok"
    note = f"medians (fastest runs {fmt_num(r_min)}x), {how}; limit {rule.factor:g}x" + \
        (" (beyond it but not significant)" if beyond and not slower else "")
    return Check(rule.text, title, outcome, fmt_num(mb), fmt_num(mc), r, note)


def _judge_theory(rule: Rule, base: dict, cur: dict, bverd: dict, cverd: dict, res: GateResult) -> None:
    """One check per (run group, theorem): the checker judges the seeds of a group together, so
    their verdicts agree; any seed's verdict that breaks the rule fails the check."""
    rows: dict[tuple, dict[str, Any]] = {}
    for k, r in sorted(cur.items(), key=lambda kv: str(kv[0])):
        verdicts = dict(cverd.get(id(r), {}) or {})
        b = base.get(k)
        was_all = (bverd.get(id(b), {}) or {}) if b is not None else {}
        if rule.mode == "no-regression":
            for thm, v in was_all.items():
                verdicts.setdefault(thm, {"verdict": "-"})
        for thm, v in verdicts.items():
            row = rows.setdefault(k[:4] + (thm,), {"now": set(), "was": set(), "bad": False, "detail": "",
                                                   "seeds": 0})
            now = str(v.get("verdict"))
            was = str((was_all.get(thm) or {}).get("verdict", "-"))
            bad = now == "violated" if rule.mode == "no-violation" else (was == "holds" and now != "holds")
            row["now"].add(now)
            row["was"].add(was)
            row["seeds"] += 1
            if bad or not row["detail"]:
                row["detail"] = _verdict_detail(v) if now != "-" else "held in the baseline, no verdict now"
            row["bad"] |= bad
    for (plugin, _params, wkey, workers, thm), row in rows.items():
        title = f"{group_title((wkey, workers, plugin, _params))} ({row['seeds']} seeds): {thm}"
        res.checks.append(Check(rule.text, title, "VIOLATION" if row["bad"] else "ok", "/".join(sorted(row["was"])),
                                "/".join(sorted(row["now"])), how=row["detail"]))
    if not rows:
        res.checks.append(Check(rule.text, "all runs", "not judged",
                                how="no theory verdicts recorded for the current runs"))


def _verdict_detail(v: dict[str, Any]) -> str:
    """A short line: the smallest slack (bound / measured) for 'holds', the reason otherwise."""
    slack = v.get("slack")
    if v.get("verdict") == "holds" and isinstance(slack, dict) and slack.get("min") is not None:
        return f"min slack bound/measured {float(slack['min']):.3g}"
    if isinstance(slack, (int, float)):
        return f"slack {float(slack):.3g}"
    reason = str(v.get("reason") or "")
    return reason if len(reason) <= 90 else reason[:87] + "..."
