"""``harness report [RUN ...] [--suite NAME] [--out DIR]``: Markdown + HTML + PNG report of stored runs."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..output import console
from ..store import Store


def register(sub):
    p = sub.add_parser("report", help="write a report (md + html + png) for stored runs")
    p.add_argument("runs", nargs="*", help="run ids (default: all runs, or those of --suite)")
    p.add_argument("--suite", help="only the runs of this suite")
    p.add_argument("--out", default=None, help="output directory (default .harness/reports/<name>)")
    p.set_defaults(func=main)


def main(args) -> int:
    from ..report import write_report

    store = Store()
    ids = [int(x.lstrip("#")) for x in args.runs] if args.runs else None
    recs = store.runs(ids=ids, suite=args.suite, with_points=True)
    if not recs:
        raise UserError("no stored runs match: run `harness run` first")
    name = args.suite or ("runs" if ids else "all")
    out = Path(args.out or Path(".harness") / "reports" / name)
    index = write_report(recs, out, store=store, title=f"harness report: {name}")
    console.print(f"report: {index}")
    return 0
