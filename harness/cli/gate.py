"""``harness gate``: fail CI on a regression against a committed baseline.

    harness gate suites/gate.toml --save-baseline suites/gate-baseline.json     # write / refresh it
    harness gate suites/gate.toml --baseline suites/gate-baseline.json          # 0 pass, 1 fail, 2 unjudged
    harness gate --baseline base.json --fail updates_to_target:0% --fail theory:no-violation
    harness gate --baseline base.json --current head.json                       # judge two exports

Without a suite the baseline's own runs are rerun (same plugins, parameters, workloads, workers,
seeds, budget and target). Runs are measured afresh (``--use-cache`` accepts stored results).
A baseline is not saved when a run diverged or failed; that attempt's runs are then filed as suite
``NAME.refused``, so the suite's own runs (and ``harness report --suite NAME``) are as they were.
Likewise a gate that fails (exit 1) or cannot judge (exit 2) files the runs it measured as suite
``NAME.gate-failed``: the code under judgement is not the suite's.
"""

from __future__ import annotations

import time
from pathlib import Path

from harness._core.errors import UserError
from harness._core.output import console, print_json

RULE_HELP = ("METRIC:N%% or METRIC:Nx (time_to_target, updates_to_target, final_subopt) or theory:no-violation / "
             "theory:no-regression; repeatable or comma-separated (default: time_to_target:50%%, "
             "updates_to_target:0%%, final_subopt:2x, theory:no-violation)")


def register(sub):
    p = sub.add_parser("gate", help="judge current results against a baseline export (exit 0 ok, 1 regression, 2 unjudged)")
    p.add_argument("suite", nargs="?", help="suite TOML to run (default: rerun the baseline's runs)")
    p.add_argument("--baseline", "-b", help="baseline JSON export (written by --save-baseline), or a shipped "
                                            "suite's name for its committed baseline (harness gate gate --baseline gate)")
    p.add_argument("--fail", action="append", metavar="RULE", help=RULE_HELP)
    p.add_argument("--current", help="judge this JSON export instead of running anything")
    p.add_argument("--save-baseline", metavar="FILE", help="run the suite and write its results as the baseline")
    p.add_argument("--use-cache", action="store_true", help="accept stored results instead of measuring afresh")
    p.add_argument("--any-machine", action="store_true",
                   help="judge wall-clock metrics even when the baseline was measured on another machine")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level for noisy metrics (default 0.05)")
    p.add_argument("--format", choices=("table", "markdown"), default="table")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def main(args) -> int:
    from harness.analysis.compare import load_export
    from harness.analysis.results import export
    from .sides import run_missing, spec_of
    from harness.analysis.gate import UNJUDGED, judge, parse_rules
    from harness._core.registry import plugins
    from harness.run.runner import resolve
    from harness.run.store import Store
    from harness.run.suite import load_suite

    rules = parse_rules(args.fail)  # a bad rule is exit 2 before anything runs
    if not 0 < args.alpha < 1:
        raise UserError(f"--alpha must be in (0, 1), got {args.alpha}")
    quiet = args.quiet or args.json or args.format == "markdown"
    if args.save_baseline:
        from harness._core.paths import output_file

        output_file(args.save_baseline, "baseline file")  # before any run: not after the work is done
        if not args.suite:
            raise UserError("--save-baseline needs a suite file to run")
        name, specs, _ = load_suite(args.suite)
        _check_windows(specs)
    store = Store(readonly=bool(args.current and not args.save_baseline))

    if args.save_baseline:
        from harness.run.sizing import size_groups

        resolved = [resolve(s) for s in specs]  # every name and value checked before anything runs
        # a timed group (a suite entry's size = {...}) sized on this machine, then resolved at its size
        grown, sizes = size_groups(specs)
        specs = [r if new is old else resolve(new) for r, old, new in zip(resolved, specs, grown)]
        before = {r.id for r in store.runs(suite=name)}
        recs = run_missing(specs, store, force=not args.use_cache, quiet=quiet)
        _run_theory(store, recs)
        bad = [r for r in recs if r.status not in ("done", "target", "budget", "skipped")]
        if bad:
            # the suite keeps only what it had: this attempt's runs are filed under a name that says so
            refused = f"{name}.refused"
            store.move_to_suite([r.id for r in recs if r.id is not None and r.id not in before], name, refused)
            raise UserError(f"not saving a baseline: run #{bad[0].id} {bad[0].plugin} ended '{bad[0].status}': "
                            f"{bad[0].reason} (this attempt's runs are stored as suite '{refused}', not '{name}')")
        # one atomic write: a full disk or a crash leaves the previous baseline's bytes as they were
        path = export(store, args.save_baseline, "json", ids=[r.id for r in recs],
                      meta={"suite": name, "suite_file": str(args.suite),
                            "saved": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                            "sized": [c.to_dict() for c in sizes]})
        console.print(f"baseline: {len(recs)} runs of suite '{name}' written to {path}")
        for c in sizes:
            console.print(f"sized here: {c.describe()}" + ("" if c.fits else " -- outside the window: the "
                                                           "bounds min/max of size = {...} stopped it"))
        return 0

    cur = load_export(args.current, "--current file") if args.current else None  # each file named in its error
    if not args.baseline:
        raise UserError("give --baseline FILE (write one with: harness gate SUITE --save-baseline FILE)")
    from harness.suites import baseline_path

    base = load_export(baseline_path(args.baseline), "--baseline file")  # a file, or a shipped suite's by name
    sized_notes: list[str] = []
    if cur is not None:
        if args.suite:
            raise UserError("give either a suite to run or --current FILE, not both")
        current, cverd = cur.records, cur.verdicts
    else:
        if args.suite:
            from harness.run.sizing import sizes_from

            _, specs, _ = load_suite(args.suite)
            # a sized group runs at the baseline's size: sizing it here would let slower code pick a smaller problem
            specs, sized_notes = sizes_from(specs, base.meta.get("sized"), base.records)
        else:
            specs = [spec_of(r) for r in base.records if r.status in ("done", "target", "budget")]
        specs = [resolve(s) for s in specs]
        before = {r.id for r in store.runs()}
        current = run_missing(specs, store, force=not args.use_cache, quiet=quiet) if specs else []
        _run_theory(store, current)
        cverd = {id(r): store.verdicts(r.id) for r in current if r.id is not None}
    deterministic = {}
    reg = plugins()
    for r in list(base.records) + list(current):
        try:
            deterministic[r.plugin] = bool(reg.get(r.plugin).deterministic)
        except UserError:
            deterministic[r.plugin] = False
    result = judge(base.records, current, rules, deterministic=deterministic, baseline_verdicts=base.verdicts,
                   current_verdicts=cverd, alpha=args.alpha, any_machine=args.any_machine,
                   must_judge=bool(args.fail))
    result.notes[:0] = sized_notes
    if cur is None and result.exit_code != 0:
        # what the gate measured is the code under judgement, not the suite's: filed apart
        moved = 0
        for suite in {r.suite for r in current if r.suite}:
            ids = [r.id for r in current if r.suite == suite and r.id is not None and r.id not in before]
            store.move_to_suite(ids, suite, f"{suite}.gate-failed")
            moved += len(ids)
        if moved:
            result.notes.append(f"the {moved} runs this gate measured are filed as suite '<suite>.gate-failed', "
                                "not as the suite's own runs")
    if args.json:
        print_json(result.to_dict())
    elif args.format == "markdown":
        print(_markdown(result, args.baseline), end="")
    else:
        _print(result, args.baseline)
    if result.exit_code == UNJUDGED:  # the why, once: on stderr, as every error (stdout keeps the table)
        import sys

        print(f"harness: error: {result.verdict()}", file=sys.stderr)
    return result.exit_code


def _check_windows(specs) -> None:
    """A sized group's window must lie above the gate's floor for time (else it is never timed)."""
    from harness.analysis.gate import MIN_TIMED_S

    for s in specs:
        if s.size is not None and s.size.seconds[0] < MIN_TIMED_S:
            raise UserError(f"{s.where}: size: seconds starts at {s.size.seconds[0]:g} s, under the gate's "
                            f"{MIN_TIMED_S * 1e3:g} ms floor for time (such a group is never timed): e.g. "
                            f"seconds = [0.1, 0.4]")


def _run_theory(store, records) -> None:
    """The theory checker's verdicts for the runs' linked theorems, stored with the runs (runs that
    differ only in the seed are judged together, as the checker does)."""
    from harness.run.checking import check

    runs = [r for r in records if r.id is not None]
    if runs:
        check(runs, store=store)


_OUTCOME_STYLE = {"REGRESSION": "bold red", "VIOLATION": "bold red", "not judged": "yellow", "improved": "green",
                  "ok": ""}
COLUMNS = ("outcome", "rule", "what", "baseline", "current", "ratio", "how")


def _rows(result):
    from harness.analysis.compare import fmt_ratio

    return [(c.outcome, c.rule, c.group, c.baseline, c.current, fmt_ratio(c.ratio), c.how) for c in result.checks]


def _print(result, baseline) -> None:
    from rich.markup import escape
    from rich.table import Table

    from harness.analysis.gate import UNJUDGED

    t = Table(title=escape(f"gate against {baseline}"), title_justify="left")
    for c in COLUMNS:
        t.add_column(c, overflow="fold")
    for row in _rows(result):
        style = _OUTCOME_STYLE.get(row[0], "")
        t.add_row(*[escape(str(x)) for x in row], style=style or None)
    console.print(t)
    for n in result.notes:
        console.print(escape(f"note: {n}"))
    if result.exit_code != UNJUDGED:  # could not judge: main() says why on stderr, once
        style = {0: "bold green", 1: "bold red"}[result.exit_code]
        console.print(f"[{style}]{escape(result.verdict())}[/{style}]")


def _markdown(result, baseline) -> str:
    out = [f"### gate against `{Path(baseline).name}`", "", f"**{result.verdict()}**", "",
           "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(str(x).replace("|", "/") for x in row) + " |" for row in _rows(result)]
    out += [""] + [f"- note: {n}" for n in result.notes]  # the problems are in the verdict line above
    return "\n".join(out) + "\n"
