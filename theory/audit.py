"""Audits of what a plugin reports, applied to every verdict (:func:`audit`).

- **Reported or not.** A theorem reads the values the plugin applied (``ctx.applied(...)``); where the
  plugin reported none of a value the run map reads, the stored parameter stands in and the verdict
  cannot be better than ``holds (unverified)``: the run says what was asked for, not what ran.
- **The run's own accounting.** The samples and updates a run records must agree with the
  inner-loop length, mini-batch and residues per message it reports: SVRG computes n samples per
  full gradient (one per m inner steps) and 2b per inner step, so samples = n ceil(t/m) + 2 b t after
  t inner steps; a mini-batch method b per update; Dis-dfSDCA H per update. A figure implied by the
  accounting that is off the reported one by more than :data:`SLACK` (x or /) makes the verdict
  ``violated``, naming both figures.
- **The trajectory.** The harness infers from the iterates it observed one update apart what each
  update did (``info["audit"]``, written by the harness, not the plugin: the step, the mini-batch, the
  staleness of each read, SVRG's inner-loop length; ``harness.run.trajectory``). A step (the median, or
  on more than a tenth of the updates), delay, batch (larger on most updates, or smaller on more than
  repeated samples explain) or inner loop beyond the one the plugin reports (the theorem reads), or
  updates of the other modelled form (SGD steps from an SVRG), make the verdict ``violated``, naming
  both figures. Where the audit could not run (a launched backend, a workload without
  per-sample gradients, updates of another form, too large to search) the verdict's flags say
  ``unaudited: ... self-reported``; a theorem that reads the delays the run reports is then at best
  ``holds (unverified)``: the delay is the plugin's word only.
"""

from __future__ import annotations

import math
import re
from typing import Any, Sequence

from .verdict import HOLDS, HOLDS_UNVERIFIED, VIOLATED, Verdict

SLACK = 1.5   # an implied figure within [reported / SLACK, reported x SLACK] agrees (asynchronous counters lag)
STEP_TOL = 1e-3   # an inferred step above the reported one by more than this fraction (0.1%) is another step
B_SHARE = 0.8     # the share of explained updates that must agree on a batch size other than the reported
# the algorithms whose eta, b, m and delays mean what the audit's update models infer (harness.run.trajectory)
MODEL_FAMILIES = {"sgd": ("sgd", "asgd", "gd"), "svrg": ("svrg", "asysvrg")}   # gradient descent: SGD with b = n
OVER = 3          # updates that must read staler than reported (a figure from exact arithmetic, but not one alone)


def implied_figures(run) -> dict[str, tuple[float, float]]:
    """name -> (reported, implied by the run's samples and updates) for the reported applied values
    the accounting determines; empty when the run recorded no samples."""
    last = next((p for p in reversed(run.points) if p.get("samples") and p.get("updates")), None)
    if last is None:
        return {}
    t, s = float(last["updates"]), float(last["samples"])
    a = run.applied
    out: dict[str, tuple[float, float]] = {}
    num = lambda k: isinstance(a.get(k), (int, float)) and not isinstance(a.get(k), bool) and a.get(k) > 0  # noqa: E731
    n = float(run.constants.get("n") or 0)
    if num("m") and num("b") and n > 0 and not a.get("warm_epochs"):
        full = (s - 2 * float(a["b"]) * t) / n            # full gradients computed
        implied = t / full if full > 0 else math.inf
        # n ceil(t/m): t/m <= full < t/m + 1, so the implied m = t/full is in (t/(t/m + 1), m]
        lo = t / (t / float(a["m"]) + 1)
        if not (lo / SLACK <= implied <= float(a["m"]) * SLACK):
            out["m"] = (float(a["m"]), implied)
    elif num("H"):
        out["H"] = (float(a["H"]), s / t)
    elif num("b") and "m" not in a:
        out["b"] = (float(a["b"]), s / t)
    return {k: v for k, v in out.items() if not (v[0] / SLACK <= v[1] <= v[0] * SLACK)}


def _num(x) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def trajectory_findings(run, reads: Sequence[str] = ("eta", "b", "m"), delay: bool = True,
                        families: Sequence[str] | None = None) -> tuple[list[str], str | None]:
    """(what the trajectory audit contradicts, why it did not run or None) for one run: each
    contradiction names the inferred figure and the reported one; only the values in ``reads`` (and
    the delay where ``delay``) are compared, and only where the update model that explained the run
    is one of ``families`` (the theorem's; default the run's own): a dual method's eta is no SGD step."""
    a = (run.info or {}).get("audit")
    if not isinstance(a, dict):
        return [], "the run predates the trajectory audit"
    if a.get("status") != "audited":
        b, searched = _num(run.param("b", 1)), _num(a.get("b_searched"))
        if b and searched and b > searched and "b" in reads:     # the ordinary reason first: not a suspicion
            return [], (f"b = {b:g} reported, above the mini-batches the audit searches at this n (b <= {searched:g}"
                        f"{'; ' + a['b_not_searched'] if a.get('b_not_searched') else ''})")
        return [], str(a.get("reason") or "not audited")
    fams = tuple(families or (run.family,))
    model = a.get("model")
    if model is not None and not set(MODEL_FAMILIES.get(model, ())) & set(fams):
        other = [m for m, fs in MODEL_FAMILIES.items() if set(fs) & set(fams)]
        if other:      # the updates are of one modelled form, the theorem is about the other
            return [f"its updates are {model.upper()} steps ({a.get('explained')} of {a.get('tried')} observed updates "
                    f"explained as such from the iterates), not the {other[0].upper()} updates of "
                    f"{', '.join(fams)} reported"], None
        return [], (f"its updates were explained as {model.upper()} steps, whose figures are not those of "
                    f"{', '.join(fams)}")
    out = []
    eta, step = _num(run.param("eta")), _num(a.get("step"))
    high = _num(a.get("step_high"))
    if "eta" in reads and eta and step and step > eta * (1 + STEP_TOL):
        out.append(f"applied step {step:.4g} inferred from the iterates vs eta = {eta:g} reported")
    elif "eta" in reads and eta and high and high > eta * (1 + STEP_TOL):
        share = _num(a.get("step_high_share")) or 0.1
        out.append(f"applied step {high:.4g} on more than {share:.0%} of the updates inferred from the iterates (median "
                   f"{step:.4g}) vs eta = {eta:g} reported")
    # a plugin that names no b makes SGD steps of one sample; gradient descent's (family gd) are of all n
    full = "gd" in fams and _num(run.constants.get("n"))
    b, bb = _num(run.param("b", full or 1)), _num(a.get("b"))
    if "b" in reads and b and bb and bb > b and (_num(a.get("b_share")) or 0) >= B_SHARE:
        out.append(f"a mini-batch of {bb:g} inferred from the iterates vs b = {b:g} reported")
    elif "b" in reads and b:
        small = _smaller_batches(a, b, _num(run.constants.get("n")))
        if small and bb and bb < b and (_num(a.get("b_share")) or 0) >= B_SHARE:
            out.append(f"a mini-batch of {bb:g} inferred from the iterates vs b = {b:g} reported")
        elif small:
            out.append(small)
    if delay:
        from .errors import NotApplicable
        from .measures import measured_delay

        try:
            tau = measured_delay(run)
        except NotApplicable:
            tau = None
        hist = {int(k): int(n) for k, n in (a.get("delays") or {}).items()}
        over = sum(n for k, n in hist.items() if tau is not None and k > tau)
        if tau is not None and over >= OVER:
            out.append(f"reads up to {max(hist)} updates old (inferred from the iterates, {over} updates staler than "
                       f"reported) vs a largest delay of {tau:g} reported")
    m, inner = _num(run.param("m")), _num(a.get("inner_max"))
    if "m" in reads and m and inner and inner > m:
        out.append(f"an inner loop of at least {inner:g} updates on one snapshot inferred from the iterates vs m = {m:g} "
                   "reported")
    return out, None


def _smaller_batches(a: dict, b: float, n: float | None) -> str | None:
    """A finding when more updates used a batch smaller than the reported ``b`` than sampling ``b`` of
    ``n`` with replacement explains (repeats that make a smaller batch: one sample twice is a batch of
    one), by more than six standard deviations and at least :data:`OVER`; None otherwise."""
    hist = {int(k): int(v) for k, v in (a.get("batches") or {}).items()}
    total, small = sum(hist.values()), sum(v for k, v in hist.items() if k < b)
    if not total or small < OVER:
        return None
    p = _reducible(int(b), n) if n and n >= 1 else 0.0
    if small <= total * p + 6 * math.sqrt(total * p * (1 - p)) + OVER:
        return None
    seen = max((k for k in hist if k < b), key=hist.get)
    return (f"a mini-batch of {seen} on {small} of {total} updates inferred from the iterates (at most "
            f"{total * p:.3g} expected from repeated samples) vs b = {b:g} reported")


def _reducible(b: int, n: float) -> float:
    """The chance that ``b`` samples drawn uniformly with replacement from ``n`` repeat so that their
    sum is a multiple of a smaller batch's (every multiplicity shares a factor: i, i; i, i, j, j)."""
    if b <= 1:
        return 0.0
    if b > 4:                     # beyond what the audit searches: an upper bound
        return min(1.0, b * b / n)
    total = 0.0
    for shape in _partitions(b):  # the multiplicities of the distinct samples drawn
        if math.gcd(*shape) == 1 or len(shape) > n:
            continue
        ordered = math.factorial(b) / math.prod(math.factorial(c) for c in shape)
        distinct = math.prod(n - i for i in range(len(shape))) / math.prod(
            math.factorial(shape.count(c)) for c in set(shape))
        total += ordered * distinct / n ** b
    return min(total, 1.0)


def _partitions(b: int, most: int | None = None):
    """The partitions of ``b`` as non-increasing tuples."""
    if b == 0:
        yield ()
        return
    for first in range(min(b, most or b), 0, -1):
        for rest in _partitions(b - first, first):
            yield (first, *rest)


def audit(thm, runs: Sequence[Any], meta, v: Verdict) -> None:
    """Apply the audits to the verdict ``v`` of ``thm`` on the group ``runs`` (in place)."""
    reads = thm.runmap.required_applied(required=False)
    reads_delay = thm.runmap.reads_delay()
    found = [(r, *trajectory_findings(r, reads, reads_delay, thm.families or None)) for r in runs]
    lies = [(r, x) for r, xs, _ in found for x in xs]
    if lies:
        r, what = lies[0]
        v.verdict = VIOLATED
        v.flags += [f"trajectory: seed {r.seed}: {x}" for r, x in lies]
        v.reason = (f"the run's iterates contradict what the plugin reports: {what} (seed {r.seed}); the theorem was "
                    f"judged with the reported values. {v.reason}")
    skipped = _grouped([(r.seed, why) for r, _, why in found if why])
    what = [w for k, w in (("eta", "step"), ("b", "mini-batch"), ("m", "inner-loop length")) if k in reads]
    what += ["delays"] if reads_delay else []
    if skipped and what and not lies:
        v.flags.append(f"unaudited: {', '.join(what)} self-reported ({'; '.join(skipped)})")
        if reads_delay and v.verdict == HOLDS:
            v.verdict = HOLDS_UNVERIFIED
            v.reason += (f". Unverified: the theorem reads the delays the run reports, which the trajectory audit could "
                         f"not check ({'; '.join(skipped)})")
    _accounting(thm, runs, meta, v, reads)


def _grouped(reasons: Sequence[tuple[Any, str]]) -> list[str]:
    """The seeds' reasons for an unaudited run, each form once: reasons that differ only in their
    counts (29 of 30 updates, 31 of 32) are one, said with its first seed's figures; where the seeds
    give different forms, each names the seeds it covers ("(seeds 0, 2)")."""
    forms: dict[str, list] = {}
    for seed, why in reasons:
        forms.setdefault(re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?", "#", why), []).append((seed, why))
    out = []
    for group in forms.values():
        why = group[0][1]
        if len(forms) > 1:
            which = sorted({seed for seed, _ in group}, key=str)
            why += f" (seed{'s' if len(which) > 1 else ''} {', '.join(map(str, which))})"
        out.append(why)
    return sorted(out)


def _accounting(thm, runs: Sequence[Any], meta, v: Verdict, reads) -> None:
    bad = [(r, k, rep, imp) for r in runs for k, (rep, imp) in implied_figures(r).items() if k in reads]
    if bad:
        r, k, rep, imp = bad[0]
        v.verdict = VIOLATED
        v.flags.append(f"accounting: seed {r.seed} reports {k} = {rep:g} but its samples and updates imply {k} = {imp:.4g}")
        v.reason = (f"the run's own accounting contradicts what the plugin reports: {k} = {rep:g} reported, "
                    f"{k} = {imp:.4g} implied by the samples and updates it recorded (seed {r.seed}); "
                    f"the theorem was judged with the reported value. {v.reason}")
    elif v.verdict == HOLDS and meta.unreported:
        v.verdict = HOLDS_UNVERIFIED
        v.reason += (f". Unverified: the plugin did not report the value(s) it applied for "
                     f"{', '.join(meta.unreported)} (ctx.applied); the stored parameters stand in")
