"""``harness runs [list|show ID|export FILE|delete ID...]``: the stored runs."""

from __future__ import annotations

from ..errors import UserError
from . import run_ids
from ..output import console, print_json, table, varying_columns
from ..monitor import STATUSES
from ..results import export
from ..store import Store, run_to_dict


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
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=main)


def time_split(rec) -> tuple:
    """(measured s, evaluation s, wall s) of a run: the algorithm's clock at its last point, the
    monitor's paused time (snapshots), and the whole run's wall time (set-up and launch included)."""
    measured = rec.points[-1].get("time_s") if rec.points else None
    return (_s(measured), _s(rec.info.get("eval_seconds")), _s(rec.wall_s))


def _s(x) -> str | None:
    return None if x is None else f"{float(x):.3g}"


def main(args) -> int:
    store = Store(readonly=args.action != "delete")
    if args.action == "list":
        recs = store.runs(plugin=args.plugin, workload=args.workload, status=args.status, suite=args.suite,
                          with_points=True)
        if args.json:
            print_json([{k: v for k, v in run_to_dict(r).items() if k not in ("points", "env")} | {"n_points": len(r.points)}
                        for r in recs])
            return 0
        extra = varying_columns(recs)
        table(f"{len(recs)} runs in {store.path}", ("id", "plugin", "workload", "workers", "seed",
                                                   *[t for t, _ in extra], "status", "points", "final subopt",
                                                   "measured s", "eval s", "wall s", "suite"),
              [(r.id, r.plugin, r.workload, r.workers, r.seed, *[get(r) for _, get in extra], r.status,
                len(r.points), r.points[-1].get("subopt") if r.points else None, *time_split(r), r.suite)
               for r in recs])
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
            _print_key(rec)
            for thm, v in store.verdicts(rid).items():
                console.print(f"theorem {thm}: {v['verdict']}")
            cols = ("updates", "epochs", "time_s", "objective", "subopt", "grad_norm_sq", "tau_max", "tau_mean")
            table(None, cols, [[p.get(c) for c in cols] for p in rec.points])
        return 0
    if args.action == "export":
        if len(args.args) != 1:
            raise UserError("runs export needs one output file")
        from ..paths import output_file

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


def _print_key(rec) -> None:
    """The run key's parts: what a later run must match to be served this one from the cache."""
    from rich.markup import escape

    from ..identity import PARTS, canonical, parts_of_record

    parts = parts_of_record(rec)
    console.print(f"run key {rec.hash}:")
    for name in PARTS:
        console.print(escape(f"  {name:<9} {canonical(parts.get(name)) if name in parts else '(not recorded)'}"))
