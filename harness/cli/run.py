"""``harness run [SUITE.toml | --plugin P --workload W ...]``: execute runs, store them, summarise.

With no arguments it runs the shipped default suite and writes its report."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path

from harness._core.errors import UserError
from .common import add_schedule_args, report_sections
from harness.run.executors import ENGINES, make_engine, run_parallel
from harness._core.monitor import DEFAULT_BUDGET, Budget, FINISHED_OK
from harness._core.labels import params_cell
from harness._core.output import console, print_json, table
from harness._core.params import distinct, parse_assignments, positive_float
from harness._core.paths import input_file, output_dir, safe_name
from harness._core.memory import PeakSampler
from harness._core.scratch import sweep as sweep_scratch
from .progress import RunProgress
from harness.run.runner import RunSpec, resolve, run_resolved, skipped_record, unavailable
from harness.run.store import Store, reports_root
from harness.run.suite import load_suite, schedule_items, seeds_of, target_of
from harness._core.workload import fmt_bytes

DEFAULT_SUITE = "tour"


def register(sub):
    p = sub.add_parser("run", help="run a suite file or one plugin on one workload")
    p.add_argument("suite", nargs="?", help="suite TOML file (default: the shipped tour suite, one short run per backend)")
    p.add_argument("--plugin", "-p", action="append", help="plugin name (repeatable: a grid axis)")
    p.add_argument("--workload", "-w", action="append", help="workload name (repeatable)")
    p.add_argument("--param", action="append", metavar="K=V", help="plugin parameter (repeatable)")
    p.add_argument("--workload-param", action="append", metavar="K=V", help="workload parameter (repeatable)")
    p.add_argument("--workers", "-n", type=int, action="append", help="worker count (repeatable)")
    p.add_argument("--seeds", default=None,
                   help="a count (3 -> 0,1,2) or a list (0,5,7); with a suite: in place of every [[run]]'s seeds")
    p.add_argument("--budget", default=None,
                   help="e.g. epochs=10 or updates=1e5,seconds=30; with a suite: in place of every [[run]]'s budget")
    p.add_argument("--target", default=None,
                   help="suboptimality to reach (or metric=value, or none); with a suite: in place of every [[run]]'s")
    add_schedule_args(p)
    p.add_argument("--timeout", type=positive_float, default=None, help="hard wall-clock limit per run for launched jobs (s)")
    p.add_argument("--hostfile", default=None, help="passed to mpiexec for multi-node MPI runs")
    p.add_argument("--option", action="append", metavar="K=V", help="backend option (repeatable)")
    p.add_argument("--launcher", choices=("harness", "torchrun"), default=None,
                   help="how torch ranks start: our launcher (default) or torchrun (env:// rendezvous; "
                        "--option torchrun_args='--nnodes=2 ...' for several nodes)")
    p.add_argument("--scale", choices=("small", "paper"), default="small",
                   help="suite scale: small (default, seconds; CI and the tour) or paper (the suite's NAME_paper.toml: "
                        "the papers' sizes, minutes per run, sized for 16 cores / a GPU)")
    p.add_argument("--force", action="store_true", help="rerun even if the store has this exact run")
    p.add_argument("--report", default=None, help="write the report to this directory (default: reports/<suite> beside the store)")
    p.add_argument("--no-report", action="store_true", help="do not write a report")
    p.add_argument("--json", action="store_true",
                   help="print {report, runs, claims} as JSON: the report written, the runs, the suite's claims judged "
                        "(the schema of report --json)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    g = p.add_argument_group("parallel and cluster execution")
    g.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                   help="run N cores' worth of runs side by side (a run with W workers takes W); "
                        "default 1, or this machine's cores with --executor")
    g.add_argument("--executor", choices=ENGINES, default=None,
                   help="local: a process pool here; dask: a dask.distributed cluster (--scheduler, or a "
                        "LocalCluster on 127.0.0.1); submitit: one SLURM job per run (needs sbatch); "
                        "submitit-local: submitit's local processes")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="dask scheduler address, e.g. tcp://head:8786 (default $DASK_SCHEDULER_ADDRESS, "
                        "else a LocalCluster of --jobs workers)")
    g.add_argument("--slurm", action="append", metavar="K=V",
                   help="submitit parameter, e.g. slurm_partition=cpu, timeout_min=60, mem_gb=8 (repeatable)")
    g.add_argument("--submitit-folder", default=None, help="submitit's logs and pickles (default .harness/submitit)")
    g.add_argument("--submitit-cluster", choices=("slurm", "local"), default=None,
                   help="SLURM (the default; an error without sbatch) or submitit's local executor "
                        "(as --executor submitit-local)")
    g.add_argument("--yes", "-y", action="store_true", help=f"run a grid of more than {CONFIRM_ABOVE} runs without asking")
    p.set_defaults(func=main)


# a grid this large is more likely a typo (a list where a value was meant) than a plan: ask first
CONFIRM_ABOVE = 500


def paper_scale(suite: str) -> Path:
    """The paper-scale version of a suite: ``NAME_paper.toml`` next to a suite file, or the shipped
    ``NAME_paper`` for a shipped suite's name."""
    from harness.suites import suite_path

    path = Path(suite)
    stem = path.stem if path.suffix == ".toml" else path.name
    if stem.endswith("_paper"):
        return path
    found = path.with_name(f"{stem}_paper.toml") if path.exists() else suite_path(f"{stem}_paper")
    if not found.exists():
        shipped = sorted(p.stem[:-len("_paper")] for p in suite_path("x").parent.glob("*_paper.toml"))
        raise UserError(f"suite {suite} has no paper-scale version ({found.name} not found); "
                        f"paper-scale suites: {', '.join(shipped)}")
    return found


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
    budget = Budget.parse(args.budget) if args.budget is not None else Budget(**DEFAULT_BUDGET.to_dict())
    target = target_of(args.target, "--target: ")
    seeds = seeds_of(args.seeds if args.seeds is not None else 1, "--seeds: ")
    specs = []
    for plugin in distinct(args.plugin, "--plugin"):
        for workload in distinct(args.workload, "--workload"):
            for workers in distinct(args.workers or [1], "--workers"):
                for seed in seeds:
                    specs.append(RunSpec(plugin, workload, dict(params), dict(wparams), workers, seed, budget, target,
                                         options=dict(options)))
    return specs


def check_flags(args) -> None:
    """Options that mean nothing in this combination are refused, not ignored: each names what it
    needs (a suite's runs take their parameters and worker counts from its [[run]] tables; the
    executor options their executor; a report folder a report)."""
    for flag, given in (("suite file", args.suite), ("--hostfile", args.hostfile), ("--report", args.report),
                        ("--submitit-folder", args.submitit_folder)):
        if given is not None and not given.strip():  # run "" ran the whole tour; --hostfile "" was dropped
            raise UserError(f"{flag} is an empty path")
    if args.workload and not args.plugin and not args.suite:  # not "a suite file ... not both": none was given
        raise UserError("--workload needs --plugin (-p NAME; harness list plugins)")
    suite = args.suite or not args.plugin
    if suite:
        for flag, given in (("--param", args.param), ("--workload-param", args.workload_param),
                            ("--workers", args.workers)):
            if given:
                raise UserError(f"{flag} applies to --plugin/--workload runs: a suite sets it in its [[run]] tables "
                                f"(--seeds, --budget, --target, --option, --timeout apply to every run of a suite)")
    if args.report and args.no_report:
        raise UserError("give either --report DIR or --no-report, not both")
    kind = _engine_kind(args)
    for flag, given, wants in (("--scheduler", args.scheduler, ("dask",)),
                               ("--slurm", args.slurm, ("submitit", "submitit-local")),
                               ("--submitit-folder", args.submitit_folder, ("submitit", "submitit-local")),
                               ("--submitit-cluster", args.submitit_cluster, ("submitit",))):
        if given and kind not in wants:
            raise UserError(f"{flag} applies to --executor {' or '.join(wants)}"
                            + (f", not {kind}" if kind else " (none given)"))


def main(args) -> int:
    suite_name, report_cfg = None, {}
    check_flags(args)
    if args.suite or not args.plugin:
        if args.plugin or args.workload:
            raise UserError("give either a suite file or --plugin/--workload, not both")
        suite = args.suite or DEFAULT_SUITE
        # --seeds replaces every entry's seed axis (README: `harness run suites/asysvrg.toml --seeds 5`)
        seeds = seeds_of(args.seeds, "--seeds: ") if args.seeds is not None else None
        suite_name, specs, report_cfg = load_suite(paper_scale(suite) if args.scale == "paper" else suite, seeds=seeds)
        # --option / --hostfile / --timeout: over every entry's options (they were ignored without a word)
        options = dict(parse_assignments(args.option, "--option"))
        if args.hostfile:
            options["hostfile"] = str(input_file(args.hostfile, "hostfile").resolve())
        if args.timeout:
            options["timeout_s"] = args.timeout
        for s in specs:
            s.options.update(options)
        # --budget / --target replace every entry's, as --seeds does (they were ignored without a word)
        budget = Budget.parse(args.budget) if args.budget is not None else None
        target = target_of(args.target, "--target: ") if args.target is not None else None
        for s in specs:
            s.budget = budget or s.budget
            s.target = target or s.target
    else:
        if args.scale != "small":
            raise UserError("--scale chooses a suite's size: give a suite (e.g. harness run asysvrg --scale paper)")
        specs = _specs_from_flags(args)
    sched = schedule_items(args.schedule, args.points)
    if sched:  # over a suite's own [schedule] keys
        for s in specs:
            s.schedule = replace(s.schedule, **sched)
    if args.launcher:
        for s in specs:
            s.options["launcher"] = args.launcher
    if _elsewhere(args):  # their ranks start on other machines: this machine's cores do not bound them
        for s in specs:
            s.options.setdefault("oversubscribe", True)
    _confirm(len(specs), args.yes)
    if args.jobs is not None and args.jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {args.jobs}")
    report_dir = None
    if not args.no_report:  # the report folder is checked before the runs, not after them
        report_dir = output_dir(args.report or reports_root() / safe_name(suite_name or "latest"), "report folder")
    quiet = args.quiet or args.json
    with RunProgress(len(specs), quiet=quiet) as prog, PeakSampler() as memory:  # its first line before the checks
        prog.memory = memory
        prog.start(f"checking {len(specs)} runs' names and values")
        # every name and value is checked before anything runs; each spec is resolved once. A run whose
        # workload needs a library this install lacks is skipped with the reason (base install + tour)
        unrunnable = {i: why for i, s in enumerate(specs) if (why := unavailable(s))}
        skipped = [skipped_record(specs[i], why) for i, why in unrunnable.items()]
        specs = [resolve(s) for i, s in enumerate(specs) if i not in unrunnable]
        store = Store()
        sweep_scratch()  # the work folders of harnesses killed before they could remove them
        kind = _engine_kind(args)
        if kind is not None:
            where = f" at {args.scheduler}" if kind == "dask" and args.scheduler else ""
            prog.start(f"starting the {kind} executor{where}")
        engine = _engine(args, [r.spec for r in specs])
        if not specs:
            records = []
        elif engine is None:
            records = run_specs(specs, store, force=args.force, progress=prog)
        else:
            records = run_parallel(specs, store, engine, force=args.force, progress=prog)
        records = [*records, *skipped]
    if suite_name and not quiet:  # a suite: what this process and its ranks held at most
        import sys

        print(f"harness: peak memory {fmt_bytes(memory.peak)} (this process and its children, sampled every "
              f"{memory.every:g} s)", file=sys.stderr)
    if not args.json:
        summary(records)
    index = None
    if report_dir is not None and any(r.points for r in records):
        from harness.analysis.report import write_index, write_report

        out = report_dir
        try:
            index = write_report(records, out, store=store, title=suite_name or "harness run", config=report_cfg,
                                 sections=report_sections())
            if not args.report:
                write_index(out.parent)
        except UserError as exc:  # e.g. a full disk: the measurements are safe, say so
            stored = [r.id for r in records if r.id is not None]
            raise UserError(f"{exc} (the {len(stored)} runs are stored: `harness report` writes the report "
                            "again)") from None
        (console.print if not args.json else (lambda *a: None))(f"report: {index}")
        if not args.json and (line := headline(Path(index).parent / "meta.json")):
            console.print(line, markup=False, highlight=False)
    if args.json:
        print_json(json_summary(records, report_cfg, index))
    if any(r.status == "interrupted" for r in records):
        import sys

        sig = interrupted_signal()
        print(f"harness: interrupted by {sig.name}: {interrupted_summary(records)}", file=sys.stderr)
        return 128 + sig  # 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP
    # a diverged run is a measurement (e.g. mNAG without warmup at a large batch), not a failure:
    # the exit code says whether every run could be carried out
    bad = [r for r in records if r.status in ("error", "timeout")]
    return 1 if bad else 0


def headline(meta: Path) -> str:
    """One line under ``report: PATH``: what the report concludes, counted (the claims by status, the
    theorems' verdicts by kind), so the terminal says whether to open it; "" where it has neither."""
    import json
    from collections import Counter

    try:
        d = json.loads(meta.read_text())
    except (OSError, ValueError):
        return ""
    parts = []
    claims = Counter(c.get("status", "?") for c in d.get("claims") or ())
    if claims:
        parts.append("claims: " + ", ".join(f"{n} {k}" for k, n in claims.most_common()))
    verdicts = {k: n for k, n in (d.get("verdicts") or {}).items() if n}
    if verdicts:
        parts.append("theorem verdicts (one per run and linked theorem): " + ", ".join(f"{n} {k}" for k, n in sorted(verdicts.items(), key=lambda kv: -kv[1])))
    return "; ".join(parts)


def json_summary(records, report_cfg: dict, index: Path | None) -> dict:
    """What ``run --json`` prints: the report written (or None), a row per run, and the suite's claims
    judged on these runs, in the schema of ``report --json`` (``{"report", "runs", "claims"}``; here each
    run is a row, not an id). With a report the claims are the ones it wrote to its ``meta.json`` (the
    figures and preconditions as the report shows them); without one (``--no-report``) they are judged here."""
    claims: list = []
    if index is not None:
        import json

        claims = json.loads((Path(index).parent / "meta.json").read_text()).get("claims", [])
    elif report_cfg.get("claims"):
        from harness.analysis.report import judged_claims

        claims = judged_claims(records, report_cfg)
    rows = [{"id": r.id, "plugin": r.plugin, "workload": r.workload, "workers": r.workers, "seed": r.seed,
             "status": r.status, "reason": r.reason, "cached": r.cached, "points": len(r.points),
             "final": r.points[-1] if r.points else None} for r in records]
    return {"report": None if index is None else str(index), "runs": rows, "claims": claims}


def interrupted_signal():
    """The signal that stopped the command: the SIGTERM/SIGHUP received, else SIGINT (Ctrl-C)."""
    import signal

    from harness._core.signals import received

    return signal.Signals(received() or signal.SIGINT)


def interrupted_summary(records) -> str:
    """What an interrupted command stored, exactly: e.g. '3 runs stored: 1 finished, 2
    'interrupted' with the points measured so far (5, 7 points)'."""
    stored = [r for r in records if r.id is not None]
    cut = [r for r in stored if r.status == "interrupted"]
    kept = [r for r in cut if r.points]
    parts = [f"{len(stored) - len(cut)} finished"] if len(stored) > len(cut) else []
    if kept:
        parts.append(f"{len(kept)} 'interrupted' with the points measured so far "
                     f"({', '.join(str(len(r.points)) for r in kept)} points)")
    if len(cut) > len(kept):
        parts.append(f"{len(cut) - len(kept)} 'interrupted' without points")
    # an interrupted rerun (--force) never replaces the finished run of its key (Store.save)
    dropped = sum(r.id is None and r.status == "interrupted" for r in records)
    if dropped:
        parts.append(f"{dropped} 'interrupted' not stored: the finished run of the same key is kept")
    return f"{len(stored)} runs stored: {', '.join(parts)}" if parts else "0 runs stored"


def _confirm(n: int, yes: bool) -> None:
    if n <= CONFIRM_ABOVE or yes:
        return
    import sys

    if sys.stdin.isatty() and sys.stderr.isatty():
        answer = input(f"harness: this grid has {n} runs; run them all? [y/N] ")
        if answer.strip().lower() in ("y", "yes"):
            return
        raise UserError(f"not started: {n} runs (pass --yes to run them without asking)")
    raise UserError(f"this grid has {n} runs (more than {CONFIRM_ABOVE}): pass --yes to run them")


def _elsewhere(args) -> bool:
    """Whether the runs execute on other machines (SLURM jobs, a dask scheduler's workers)."""
    import os

    if args.executor == "submitit":
        return args.submitit_cluster != "local"
    if args.executor == "submitit-local":
        return False
    return args.executor == "dask" and bool(args.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS"))


def _engine_kind(args) -> str | None:
    """The executor a run command asked for: --executor, else 'local' for --jobs N > 1, else None
    (one run after another in this process)."""
    return args.executor or ("local" if (args.jobs or 1) > 1 else None)


def _engine(args, specs):
    """None: one run after another in this process (the default); else the engine of --jobs/--executor."""
    kind = _engine_kind(args)
    if kind is None:
        return None
    params = {k: _literal(v) for k, v in parse_assignments(args.slurm, "--slurm").items()}
    from harness.run.manifest import usable_cores

    jobs = args.jobs if args.jobs is not None else usable_cores()  # the cores this process may use
    return make_engine(kind, jobs, specs=specs, address=args.scheduler, folder=args.submitit_folder,
                       cluster=args.submitit_cluster, params=params)


def _literal(text: str):
    """'60' -> 60, '1.5' -> 1.5, 'true' -> True, anything else stays a string (submitit's values)."""
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text


def run_specs(resolved, store, *, force=False, quiet=False, progress=None):
    """Run resolved runs in order in this process, with progress (runs done / total, and the current
    run's budget); ``progress``: a RunProgress already shown (else one is made, silent under ``quiet``)."""
    records = []
    with (contextlib.nullcontext(progress) if progress is not None else RunProgress(len(resolved), quiet=quiet)) as prog:
        for res in resolved:
            prog.start(res.spec.describe(), run=True)

            def on_point(point, mon):
                prog.fraction(_fraction(point, mon))

            rec = run_resolved(res, store, force=force, on_point=on_point, on_start=prog.budget_started)
            records.append(rec)
            prog.done()
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


def _time_of(r):
    """The run's measured seconds, marked when other runs' load was in them (``--jobs`` beyond the cores)."""
    from harness.run.metrics import contended

    t = r.points[-1].get("time_s") if r.points else None
    return f"{t:.3g} (contended)" if t is not None and contended(r) else t


def summary(records) -> None:
    from harness.run.metrics import tau_max

    params = params_cell(records)  # the labelling parameters in one cell: fits 100 columns
    extra = [("params", params)] if any(params(r) != "-" for r in records) else []
    if any(tau_max(r) is not None for r in records):  # a run that measured delays: the largest, as the report shows it
        extra.append(("tau max", tau_max))
    if any(r.cached for r in records):  # served from the store: said where it happened
        extra_end = [("cached", lambda r: "yes" if r.cached else "")]
    else:
        extra_end = []
    table("runs", ("id", "plugin", "workload", "W", "seed", *[t for t, _ in extra], "status", "updates", "time s",
                   "subopt", *[t for t, _ in extra_end]),
          [(r.id, r.plugin, r.workload, r.workers, r.seed, *[get(r) for _, get in extra], r.status,
            r.points[-1]["updates"] if r.points else None, _time_of(r),
            r.points[-1].get("subopt") if r.points else None, *[get(r) for _, get in extra_end]) for r in records])
    # the reasons under the table, one line each, with the runs they concern: inside the status cell a
    # reason such as "needs mpi4py (pip install 'asyncopt-harness[mpi]')" took a column of its own and,
    # at 100 columns, folded every other header and number in the table onto several lines
    from rich.text import Text

    for line in reason_lines(records):
        console.print(Text(line))


def reason_lines(records) -> list[str]:
    """``skipped #11, #12: needs mpi4py (...)``: each reason of a run that did not finish well, once."""
    why: dict[tuple[str, str], list[str]] = {}
    for r in records:
        if r.status not in FINISHED_OK and r.reason:
            why.setdefault((r.status, r.reason), []).append(f"#{r.id}" if r.id is not None else r.plugin)
    return [f"{status} {', '.join(ids)}: {reason}" for (status, reason), ids in why.items()]
