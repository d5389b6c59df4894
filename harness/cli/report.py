"""``harness report [RUN ...] [--suite NAME] [--out DIR] [--index]``: Markdown + HTML + PNG report of
stored runs; ``--index`` (re)writes the page that links every suite's report."""

from __future__ import annotations

from pathlib import Path

from harness._core.errors import UserError
from .common import report_sections, run_ids
from harness._core.output import console, print_json
from harness._core.paths import output_dir, safe_name
from .progress import RunProgress
from harness.run.store import Store, reports_root



def register(sub):
    p = sub.add_parser("report", help="write a report (md + html + png) for stored runs")
    p.add_argument("runs", nargs="*", help="run ids (default: all runs, or those of --suite)")
    p.add_argument("--suite", help="only the runs of this suite (its file's [report] settings apply)")
    p.add_argument("--out", default=None, help="output directory (default: reports/<name> beside the store, .harness/reports/<name>)")
    p.add_argument("--index", action="store_true", help="write the index page of all reports beside the store (.harness/reports)")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.set_defaults(func=main)


def main(args) -> int:
    from harness.analysis.report import write_index, write_report

    if args.index:
        if args.runs or args.suite:  # they were ignored: the index links every report folder
            raise UserError("--index writes the page of every report: it takes no run ids or --suite")
        root = output_dir(args.out or reports_root(), "report folder")
        root.mkdir(parents=True, exist_ok=True)  # a store without reports yet: an index of none
        index = write_index(root)
        print_json({"index": str(index)}) if args.json else console.print(f"index: {index}")
        return 0
    if args.out:
        output_dir(args.out, "report folder")
    store = Store(readonly="auto")  # the theory section stores the verdicts it computes, where it can
    ids = run_ids(args.runs) if args.runs else None
    recs = store.runs(ids=ids, suite=args.suite, with_points=True)
    if ids:
        missing = sorted(set(ids) - {r.id for r in recs})
        if missing:
            raise UserError(f"no run {', '.join(f'#{i}' for i in missing)} in {store.path} (`harness runs` lists them)")
    if not recs:
        where = f"of suite '{args.suite}' " if args.suite else ""
        raise UserError(f"no runs {where}in {store.path}: run `harness run` first")
    name = safe_name(args.suite or ("runs" if ids else "all"))
    config = {}
    if args.suite:
        from harness.run.suite import load_suite

        config = {}  # a suite run from a file no longer here: report without its settings
        for candidate in (args.suite, f"{args.suite}.toml"):  # a shipped suite's name, or NAME.toml here
            try:
                config = load_suite(candidate)[2]
                break
            except UserError:
                continue
    out = Path(args.out or reports_root() / name)
    with RunProgress(1, quiet=args.json, what="reports") as prog:  # plots and the theory check take a while
        prog.start(f"plots and theory checks of {len(recs)} runs")
        failed: list[str] = []
        index = write_report(recs, out, store=store, title=f"harness report: {name}", config=config,
                             sections=report_sections(), failed=failed)
    if not args.out:  # beside the others: the index page links it (as `harness run` does for its report)
        write_index(out.parent)
    if args.json:
        import json

        meta = json.loads((out / "meta.json").read_text())
        print_json({"report": str(index), "runs": [r.id for r in recs], "claims": meta.get("claims", [])})
    else:
        console.print(f"report: {index}")
    return 1 if failed else 0  # the report is written; a section of it failed (said above, on stderr)
