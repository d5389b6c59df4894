"""``harness run [SUITE.toml | --plugin P --workload W ...]``: execute runs, store them, summarise.

With no arguments it runs the shipped default suite and writes its report."""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import UserError
from ..monitor import Budget, FINISHED_OK
from ..output import console, print_json, table
from ..params import parse_assignments, positive_float
from ..paths import input_file, output_dir, safe_name
from ..runner import RunSpec, execute, resolve
from ..store import Store
from ..suite import load_suite, seeds_of, target_of

DEFAULT_SUITE = "tour"
REPORTS = Path(".harness") / "reports"


def register(sub):
    p = sub.add_parser("run", help="run a suite file or one plugin on one workload")
    p.add_argument("suite", nargs="?", help="suite TOML file (default: the shipped tour suite, one short run per backend)")
    p.add_argument("--plugin", "-p", action="append", help="plugin name (repeatable: a grid axis)")
    p.add_argument("--workload", "-w", action="append", help="workload name (repeatable)")
    p.add_argument("--param", action="append", metavar="K=V", help="plugin parameter (repeatable)")
    p.add_argument("--workload-param", action="append", metavar="K=V", help="workload parameter (repeatable)")
    p.add_argument("--workers", "-n", type=int, action="append", help="worker count (repeatable)")
    p.add_argument("--seeds", default=None, help="a count (3 -> 0,1,2) or a list (0,5,7)")
    p.add_argument("--budget", default=None, help="e.g. epochs=10 or updates=1e5,seconds=30")
    p.add_argument("--target", default=None, help="suboptimality to reach (or metric=value)")
    p.add_argument("--timeout", type=positive_float, default=None, help="hard wall-clock limit per run for launched jobs (s)")
    p.add_argument("--hostfile", default=None, help="passed to mpiexec for multi-node MPI runs")
    p.add_argument("--option", action="append", metavar="K=V", help="backend option (repeatable)")
    p.add_argument("--force", action="store_true", help="rerun even if the store has this exact run")
    p.add_argument("--report", default=None, help="write the report to this directory")
    p.add_argument("--no-report", action="store_true", help="do not write a report")
    p.add_argument("--json", action="store_true", help="print the runs as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def _specs_from_flags(args) -> list[RunSpec]:
    if not args.plugin or not args.workload:
        raise UserError("give a suite file, or both --plugin and --workload")
    params = parse_assignments(args.param)
    wparams = parse_assignments(args.workload_param, "--workload-param")
    options = dict(parse_assignments(args.option, "--option"))
    if args.timeout:
        options["timeout_s"] = args.timeout
    if args.hostfile:
        options["hostfile"] = str(input_file(args.hostfile, "hostfile").resolve())
    budget = Budget.parse(args.budget) if args.budget else Budget(epochs=10.0)
    target = target_of(args.target, "--target: ")
    seeds = seeds_of(args.seeds if args.seeds is not None else 1, "--seeds: ")
    specs = []
    for plugin in args.plugin:
        for workload in args.workload:
            for workers in args.workers or [1]:
                for seed in seeds:
                    specs.append(RunSpec(plugin, workload, dict(params), dict(wparams), workers, seed, budget, target,
                                         options=dict(options)))
    return specs


def main(args) -> int:
    suite_name, report_cfg = None, {}
    if args.suite or not args.plugin:
        if args.plugin or args.workload:
            raise UserError("give either a suite file or --plugin/--workload, not both")
        suite_name, specs, report_cfg = load_suite(args.suite or DEFAULT_SUITE)
        if args.seeds is not None:
            seeds = seeds_of(args.seeds, "--seeds: ")
            specs = [s for s in specs if s.seed == 0]
            specs = [RunSpec(**{**s.__dict__, "seed": k}) for s in specs for k in seeds]
        if args.timeout:
            for s in specs:
                s.options["timeout_s"] = args.timeout
    else:
        specs = _specs_from_flags(args)
    for s in specs:  # every name and value is checked before anything runs
        resolve(s)
    report_dir = None
    if not args.no_report:  # the report folder is checked before the runs, not after them
        report_dir = output_dir(args.report or REPORTS / safe_name(suite_name or "latest"), "report folder")
    store = Store()
    records = run_specs(specs, store, force=args.force, quiet=args.quiet or args.json)
    if args.json:
        print_json([{"id": r.id, "plugin": r.plugin, "workload": r.workload, "workers": r.workers, "seed": r.seed,
                     "status": r.status, "reason": r.reason, "cached": r.cached, "points": len(r.points),
                     "final": r.points[-1] if r.points else None} for r in records])
    else:
        summary(records)
    if report_dir is not None and any(r.points for r in records):
        from ..report import write_index, write_report

        out = report_dir
        index = write_report(records, out, store=store, title=suite_name or "harness run", config=report_cfg)
        if not args.report:
            write_index(out.parent)
        (console.print if not args.json else (lambda *a: None))(f"report: {index}")
    if any(r.status == "interrupted" for r in records):
        return 130
    # a diverged run is a measurement (e.g. mNAG without warmup at a large batch), not a failure:
    # the exit code says whether every run could be carried out
    bad = [r for r in records if r.status in ("error", "timeout")]
    return 1 if bad else 0


def run_specs(specs, store, *, force=False, quiet=False):
    """Run specs in order with a progress bar (runs done / total, and the current run's budget)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    records = []
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:.0f}/{task.total:.0f}"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=quiet, transient=True) as prog:
        overall = prog.add_task("runs", total=len(specs))
        current = prog.add_task("", total=100)
        for spec in specs:
            prog.update(current, description=spec.describe()[:60], completed=0)

            def on_point(point, mon, current=current):
                prog.update(current, completed=100 * _fraction(point, mon))

            rec = execute(spec, store, force=force, on_point=on_point)
            records.append(rec)
            prog.advance(overall)
            if rec.status == "interrupted":  # Ctrl-C: keep what was measured, run nothing more
                break
    return records


def _fraction(point, mon) -> float:
    fr = []
    b = mon.budget
    if b.updates:
        fr.append(point["updates"] / b.updates)
    if b.epochs and point.get("epochs") is not None:
        fr.append(point["epochs"] / b.epochs)
    if b.seconds:
        fr.append(point["time_s"] / b.seconds)
    return min(max(fr), 1.0) if fr else 0.0


def summary(records) -> None:
    table("runs", ("id", "plugin", "workload", "workers", "seed", "status", "points", "updates", "time s",
                   "subopt", "cached"),
          [(r.id, r.plugin, r.workload, r.workers, r.seed, r.status + (f" ({r.reason})" if r.status not in FINISHED_OK and r.reason else ""),
            len(r.points), r.points[-1]["updates"] if r.points else None,
            r.points[-1].get("time_s") if r.points else None,
            r.points[-1].get("subopt") if r.points else None, "yes" if r.cached else "") for r in records])
