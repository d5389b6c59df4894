"""``harness report [RUN ...] [--suite NAME] [--out DIR] [--index]``: Markdown + HTML + PNG report of
stored runs; ``--index`` (re)writes the page that links every suite's report."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from . import run_ids
from ..output import console
from ..paths import output_dir, safe_name
from ..store import Store

REPORTS = Path(".harness") / "reports"


def register(sub):
    p = sub.add_parser("report", help="write a report (md + html + png) for stored runs")
    p.add_argument("runs", nargs="*", help="run ids (default: all runs, or those of --suite)")
    p.add_argument("--suite", help="only the runs of this suite (its file's [report] settings apply)")
    p.add_argument("--out", default=None, help="output directory (default .harness/reports/<name>)")
    p.add_argument("--index", action="store_true", help="write the index page of all reports under .harness/reports")
    p.set_defaults(func=main)


def main(args) -> int:
    from ..report import write_index, write_report

    if args.index:
        output_dir(args.out or REPORTS, "report folder")
        console.print(f"index: {write_index(Path(args.out or REPORTS))}")
        return 0
    if args.out:
        output_dir(args.out, "report folder")
    store = Store(readonly=True)
    ids = run_ids(args.runs) if args.runs else None
    recs = store.runs(ids=ids, suite=args.suite, with_points=True)
    if ids:
        missing = sorted(set(ids) - {r.id for r in recs})
        if missing:
            raise UserError(f"no run #{missing[0]} in {store.path}"
                            + (f" (nor {len(missing) - 1} more of the ids given)" if len(missing) > 1 else ""))
    if not recs:
        if args.suite:
            raise UserError(f"no stored runs of suite '{args.suite}' in {store.path}")
        raise UserError(f"no runs stored in {store.path}: run `harness run` first")
    name = safe_name(args.suite or ("runs" if ids else "all"))
    config = {}
    if args.suite:
        from ..suite import load_suite

        try:
            config = load_suite(args.suite)[2]
        except UserError:
            config = {}  # a suite run from a file no longer here: report without its settings
    out = Path(args.out or REPORTS / name)
    index = write_report(recs, out, store=store, title=f"harness report: {name}", config=config)
    console.print(f"report: {index}")
    return 0
