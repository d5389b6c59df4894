"""``harness runs [list|show ID|export FILE|delete ID...]``: the stored runs."""

from __future__ import annotations

import math

from harness._core.errors import UserError
from .common import run_ids
from harness._core.labels import params_cell, varying_columns
from harness._core.output import console, print_json, table
from harness._core.monitor import STATUSES
from harness.analysis.results import export
from harness.run.store import Store, run_to_dict


def register(sub):
    p = sub.add_parser("runs", help="list, show, export or delete stored runs")
    p.add_argument("action", nargs="?", default="list", choices=("list", "show", "export", "delete"))
    p.add_argument("args", nargs="*", help="run ids (show/delete) or the export file")
    p.add_argument("--plugin", help="only this plugin's runs (list, export)")
    p.add_argument("--workload", help="only runs on this workload (list, export)")
    p.add_argument("--status", choices=STATUSES, help="only runs that ended so (list, export)")
    p.add_argument("--suite", help="only this suite's runs (list, export)")
    p.add_argument("--format", choices=("json", "csv", "parquet"), help="export format (default: from the suffix)")
    p.add_argument("--runs-only", action="store_true",
                   help="csv/parquet export: one row per run (default: one row per curve point)")
    p.add_argument("--columns", metavar="A,B,...",
                   help="list: these columns, in this order (see LIST_COLUMNS; a parameter by its name, "
                        "a workload parameter as w.NAME)")
    p.add_argument("--wide", action="store_true",
                   help="list: every column (each varying parameter its own, evaluation and wall time, suite)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=main)


# `runs list` columns: the default fits 100 terminal columns (the labelling parameters share one cell);
# --wide shows every one; --columns picks
LIST_COLUMNS = {
    "id": lambda r: r.id, "plugin": lambda r: r.plugin, "workload": lambda r: r.workload,
    "W": lambda r: r.workers, "seed": lambda r: r.seed, "status": lambda r: r.status,
    "points": lambda r: len(r.points), "subopt": lambda r: r.points[-1].get("subopt") if r.points else None,
    "measured s": lambda r: time_split(r)[0], "eval s": lambda r: time_split(r)[1],
    "wall s": lambda r: time_split(r)[2], "suite": lambda r: r.suite,
}
DEFAULT_COLUMNS = ("id", "plugin", "workload", "W", "seed", "params", "status", "points", "subopt", "measured s")
WIDE_COLUMNS = ("id", "plugin", "workload", "W", "seed", "*", "status", "points", "subopt", "measured s",
                "eval s", "wall s", "suite")


def list_columns(recs, *, columns: str | None = None, wide: bool = False) -> tuple[list[str], list]:
    """Titles and cell getters of ``runs list``: ``params`` is one cell of the parameters that label
    each run (those that differ between the runs or from the plugin's declared default: ``eta=0.5 b=4``;
    a theory-chosen one marked), ``*`` one column per such parameter; ``columns`` (comma-separated)
    chooses among :data:`LIST_COLUMNS`, ``params`` and those parameters' own names. An unknown column is a user error naming the known ones."""
    from harness._core.errors import unknown

    extra = dict(varying_columns(recs))
    if columns is not None:
        wanted = [c.strip() for c in columns.split(",")]
        if not all(wanted):
            raise UserError(f"--columns {columns!r} has an empty column name (e.g. --columns id,plugin,status)")
        from harness._core.params import distinct

        distinct(wanted, "--columns")
    else:
        wanted = list(WIDE_COLUMNS if wide else DEFAULT_COLUMNS)
    titles, getters = [], []
    for c in wanted:
        if c == "*":
            titles += list(extra)
            getters += list(extra.values())
        elif c == "params":
            titles.append("params")
            getters.append(params_cell(recs))
        elif c in LIST_COLUMNS or c in extra:
            titles.append(c)
            getters.append(LIST_COLUMNS.get(c) or extra[c])
        else:
            raise unknown("column", c, [*LIST_COLUMNS, "params", *extra], see="harness runs list --help")
    return titles, getters


def time_split(rec) -> tuple:
    """(measured s, evaluation s, wall s) of a run: the algorithm's clock at its last point, the
    monitor's paused time (snapshots), and the whole run's wall time (set-up and launch included)."""
    measured = rec.points[-1].get("time_s") if rec.points else None
    return (_s(measured), _s(rec.info.get("eval_seconds")), _s(rec.wall_s))


def _s(x) -> str | None:
    return None if x is None else f"{float(x):.3g}"


# the options each action reads: any other given is refused (it was ignored: `runs delete 5 --status error`
# deleted run 5 whatever its status)
ACTION_OPTIONS = {
    "list": {"plugin", "workload", "status", "suite", "columns", "wide", "json"},
    "show": {"json"},
    "export": {"plugin", "workload", "status", "suite", "format", "runs_only", "json"},
    "delete": {"json"},
}
FILTERS = ("plugin", "workload", "suite")


def check_args(args) -> None:
    """What the action takes, before the store is opened: its positional arguments and options."""
    if args.action == "list" and args.args:
        raise UserError(f"runs list takes no arguments, got {' '.join(args.args)} (a run: harness runs show ID)")
    given = {k for k in ("plugin", "workload", "status", "suite", "format", "columns", "runs_only", "wide", "json")
             if getattr(args, k) not in (None, False)}
    extra = sorted(given - ACTION_OPTIONS[args.action])
    if extra:
        raise UserError(f"--{extra[0].replace('_', '-')} does not apply to runs {args.action} "
                        f"(it applies to runs {' and '.join(a for a, o in ACTION_OPTIONS.items() if extra[0] in o)})")
    if args.wide and args.columns is not None:
        raise UserError("give either --wide or --columns, not both")


def check_filters(store: Store, args) -> None:
    """A --plugin / --workload / --suite value that names nothing this harness or its store knows
    (a typo: it listed or exported nothing, exit 0) is refused with the closest known names. Known:
    the stored values, the registered plugins and workloads, the shipped suites."""
    from harness._core.errors import close_matches

    for name in FILTERS:
        value = getattr(args, name)
        if value is None or value in (known := store.values(name)):
            continue
        if name == "suite":
            from harness.suites import shipped_suites

            known |= set(shipped_suites())
        else:
            from harness._core.registry import plugins, workloads

            known |= set((plugins() if name == "plugin" else workloads()).names())
        if value not in known:
            close = close_matches(value, known)
            hint = f"did you mean: {', '.join(close)}?; " if close else ""
            raise UserError(f"unknown {name} '{value}' (--{name}): no stored run and no {name} of this harness "
                            f"has that name ({hint}see: harness runs list)")


def main(args) -> int:
    check_args(args)
    store = Store(readonly=args.action != "delete")
    if args.action in ("list", "export"):
        check_filters(store, args)
    if args.action == "list":
        recs = store.runs(plugin=args.plugin, workload=args.workload, status=args.status, suite=args.suite,
                          with_points=True)
        if args.json:
            print_json([{k: v for k, v in run_to_dict(r).items() if k not in ("points", "env")} | {"n_points": len(r.points)}
                        for r in recs])
            return 0
        titles, getters = list_columns(recs, columns=args.columns, wide=args.wide)
        table(f"{len(recs)} runs in {store.path}", titles, [[get(r) for get in getters] for r in recs])
        return 0
    if args.action == "show":
        if not args.args:
            raise UserError("runs show needs a run id")
        for rid in run_ids(args.args):
            rec = store.load(rid)
            if args.json:
                print_json(run_to_dict(rec) | {"verdicts": store.verdicts(rid)})
                continue
            console.print(f"[bold]{rec.label()}[/bold]  status={rec.status} {rec.reason}")
            console.print(f"params={rec.params} workload_params={rec.workload_params} budget={rec.budget}")
            if rec.info.get("eval_plan"):
                from rich.markup import escape

                from harness._core.evalplan import describe

                console.print(escape(describe(rec.info["eval_plan"])))
            _print_key(rec)
            for line in _facts_lines(rec):
                console.print(line, markup=False, highlight=False)
            from .theory import _flag_cell

            for thm, v in store.verdicts(rid).items():  # with its reason: a bare 'not-applicable' said not why
                reason = v.get("reason") or ""
                why = reason + "".join(f" [flag: {_flag_cell(f, reason)}]" for f in v.get("flags") or ())
                console.print(f"theorem {thm}: {v['verdict']}" + (f"\n  why: {why}" if why else ""),
                              markup=False, highlight=False)
            cols = ("updates", "epochs", "time_s", "objective", "subopt", "grad_norm_sq", "tau_max", "tau_mean")
            table(None, cols, [[p.get(c) for c in cols] for p in rec.points])
        return 0
    if args.action == "export":
        if len(args.args) != 1:
            raise UserError("runs export needs one output file")
        from harness._core.paths import output_file

        path = export(store, output_file(args.args[0], "export file"), args.format, points=not args.runs_only,
                      plugin=args.plugin, workload=args.workload, status=args.status, suite=args.suite)
        if args.json:
            print_json({"exported": str(path)})
        else:
            console.print(f"exported to {path}")
        return 0
    ids = run_ids(args.args)
    if not ids:
        raise UserError("runs delete needs run ids")
    deleted = store.delete(ids)
    if args.json:
        print_json({"deleted": [r.id for r in deleted]})
    else:
        for r in deleted:
            console.print(f"deleted {r.label()} status={r.status}")
        console.print(f"deleted {len(deleted)} run{'s' if len(deleted) != 1 else ''} from {store.path}")
    return 0


def _count(x) -> int:
    """A stored count as a non-negative int (0 where it is missing or no number)."""
    return max(int(x), 0) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else 0


def _unexplained(a: dict) -> str:
    """Where an audited run's observed updates that are not explained went, in parentheses ('' when
    every one is explained): not explained (counted against the run), read or snapshot before
    their window (the audit's ``excused``: misses within the run's delays, or SVRG's inner loop, of an
    iterate that was not kept; beyond as many such misses as the delays seen where every read was kept
    make likely, the audit's ``excuse``, they count as not explained, and the line says how many), not
    searched (the search's work budget, or the iterate did not move). A run audited before the audit
    kept ``unexplained`` (2026-12-07) has the first two as one."""
    explained, tried, observed = (_count(a.get(k)) for k in ("explained", "tried", "observed"))
    if explained >= observed:
        return ""
    parts = []
    left = max(tried - explained, 0)
    if "unexplained" not in a:
        if left:
            parts.append(f"{left} not explained or reading an iterate or snapshot from before their window")
    else:
        missed = min(_count(a["unexplained"]), left)
        ex = a.get("excuse") if isinstance(a.get("excuse"), dict) else {}
        beyond = min(_count(ex.get("counted")), missed)
        if missed and beyond:   # misses the delays would excuse, beyond what the head's delays make likely
            parts.append(f"{missed} not explained, {beyond} of them may have read before their window, but the delays "
                         f"of the updates whose reads were all kept make only {_count(ex.get('allowed'))} such misses "
                         "likely")
        elif missed:
            parts.append(f"{missed} not explained")
        if left - missed:
            parts.append(f"{left - missed} reading an iterate or snapshot from before their window, which was not kept")
    if observed > max(tried, explained):
        parts.append(f"{observed - max(tried, explained)} not searched or not moving the iterate")
    return f" ({'; '.join(parts)})" if parts else ""


def _facts_lines(rec) -> list[str]:
    """What ``runs show`` says beside the key: which theorem chose a parameter set to ``theory``, and
    what the trajectory audit found (``info["audit"]``; with ``l2_written``, how many stale reads it
    explained with the l2 term at the iterate the update wrote, as a shared-memory read-modify-write
    applies it), how a shared-memory run wrote its coordinates (``info["writes"]``: mode asked and
    applied and why, atomic scheme, row lock, transactions, lost writes); the whole record is in
    ``--json``."""
    out = []
    for name, c in (rec.info.get("theory_choices") or {}).items():
        value = c.get("value")
        shown = f"{value:.6g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)
        out.append(f"{name} = {shown} chosen by {c.get('theorem')} "
                   f"({c.get('policy', '')}; binding: {'; '.join(c.get('binding') or []) or '-'})")
    a = rec.info.get("audit")
    a = a if isinstance(a, dict) else {}
    if a.get("status") == "audited":
        step = a.get("step")
        parts = [f"step {step:.6g}" if isinstance(step, (int, float)) else "step ?",
                 f"reads up to {a.get('delay_max', 0)} updates old"]
        if a.get("b"):
            parts.append(f"b = {a['b']}")
        if a.get("inner_max"):
            parts.append(f"inner loop up to {a['inner_max']}")
        written = _count(a.get("l2_written"))
        if written:   # stale updates whose l2 term is at the iterate they wrote (a read-modify-write), not at the read
            delays = a.get("delays") if isinstance(a.get("delays"), dict) else {}
            stale = sum(_count(v) for k, v in delays.items() if str(k) != "0")
            parts.append((f"l2 term at the written iterate, as a read-modify-write applies it, on {written} of the "
                          f"{max(stale, written)} stale reads"))
        out.append(f"trajectory audit ({a.get('model')} updates): {a.get('explained')} of {a.get('observed')} observed "
                   f"updates explained{_unexplained(a)}: " + ", ".join(parts) + (f"; {a['note']}" if a.get("note") else ""))
    elif a:
        out.append(f"trajectory audit: not audited: {a.get('reason', '?')}")
    w = rec.info.get("writes")
    if isinstance(w, dict):
        out.append(_writes_line(w))
    return out


def _writes_line(w: dict) -> str:
    """One line for ``info["writes"]`` (the threads backend's coordinate writes)."""
    line = f"writes: {w.get('mode')} asked, {w.get('applied')} applied ({w.get('why')})"
    if w.get("scheme"):
        line += f"; dense rows by {w['scheme']}"
    lock, tx = w.get("lock") or {}, w.get("transactions") or {}
    if lock.get("rows"):
        line += f"; row lock: {lock['rows']} rows, {lock.get('waited', 0)} waited"
    if tx.get("enabled"):
        line += f"; transactions: {tx.get('committed', 0)} committed, {tx.get('aborted', 0)} aborted"
    lost = w.get("lost")
    line += f"; {w.get('coordinate_writes')} coordinate writes, lost " + ("not observable" if lost is None else str(lost))
    return line


def _print_key(rec) -> None:
    """The run key's parts: what a later run must match to be served this one from the cache."""
    from rich.markup import escape

    from harness._core.identity import PARTS, canonical, parts_of_record

    parts = parts_of_record(rec)
    console.print(f"run key {rec.hash}:")
    for name in PARTS:
        console.print(escape(f"  {name:<9} {canonical(parts.get(name)) if name in parts else '(not recorded)'}"))
