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
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from .verdict import HOLDS, HOLDS_UNVERIFIED, VIOLATED, Verdict

SLACK = 1.5   # an implied figure within [reported / SLACK, reported x SLACK] agrees (asynchronous counters lag)


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


def audit(thm, runs: Sequence[Any], meta, v: Verdict) -> None:
    """Apply both audits to the verdict ``v`` of ``thm`` on the group ``runs`` (in place)."""
    reads = thm.runmap.required_applied(required=False)
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
