"""``harness runs [list|show ID|export FILE|delete ID...]``: the stored runs."""

from __future__ import annotations

from ..errors import UserError
from . import run_ids
from ..output import console, print_json, table
from ..store import Store, run_to_dict


def register(sub):
    p = sub.add_parser("runs", help="list, show, export or delete stored runs")
    p.add_argument("action", nargs="?", default="list", choices=("list", "show", "export", "delete"))
    p.add_argument("args", nargs="*", help="run ids (show/delete) or the export file")
    p.add_argument("--plugin")
    p.add_argument("--workload")
    p.add_argument("--status")
    p.add_argument("--suite")
    p.add_argument("--format", choices=("json", "csv", "parquet"), help="export format (default: from the suffix)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=main)


def main(args) -> int:
    store = Store(readonly=args.action != "delete")
    if args.action == "list":
        recs = store.runs(plugin=args.plugin, workload=args.workload, status=args.status, suite=args.suite,
                          with_points=True)
        if args.json:
            print_json([{k: v for k, v in run_to_dict(r).items() if k not in ("points", "env")} | {"n_points": len(r.points)}
                        for r in recs])
            return 0
        table(f"{len(recs)} runs in {store.path}", ("id", "plugin", "workload", "workers", "seed", "status", "points",
                                                   "final subopt", "suite"),
              [(r.id, r.plugin, r.workload, r.workers, r.seed, r.status, len(r.points),
                r.points[-1].get("subopt") if r.points else None, r.suite) for r in recs])
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
            for thm, v in store.verdicts(rid).items():
                console.print(f"theorem {thm}: {v['verdict']}")
            cols = ("updates", "epochs", "time_s", "objective", "subopt", "grad_norm_sq", "tau_max", "tau_mean")
            table(None, cols, [[p.get(c) for c in cols] for p in rec.points])
        return 0
    if args.action == "export":
        if len(args.args) != 1:
            raise UserError("runs export needs one output file")
        from ..paths import output_file

        path = store.export(output_file(args.args[0], "export file"), args.format)
        console.print(f"exported to {path}")
        return 0
    ids = run_ids(args.args)
    if not ids:
        raise UserError("runs delete needs run ids")
    store.delete(ids)
    console.print(f"deleted {len(ids)} runs")
    return 0
