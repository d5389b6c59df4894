"""``harness compare A B``: two plugins (or a plugin and a stored export, or two exports) side by
side: per workload a table of time to target, updates to target and final suboptimality (median
over seeds with a bootstrap CI), their ratios and a significance mark, a PNG of both curves with
seed bands, and a geometric-mean summary across workloads.

    harness compare sgd-serial svrg-serial --workload logreg
    harness compare baseline.json svrg-serial          # rerun svrg-serial on the baseline's grid
    harness compare before.json after.json --format markdown > comment.md
"""

from __future__ import annotations

from pathlib import Path

from harness._core.errors import UserError
from .common import add_schedule_args
from harness._core.monitor import Budget, Target
from harness._core.output import print_json
from harness._core.params import distinct, parse_assignments
from harness._core.paths import output_dir, safe_name
from harness.run.store import Store
from harness.run.suite import schedule_items, seeds_of, target_of


def register(sub):
    p = sub.add_parser("compare", help="compare two plugins (or stored exports) side by side, with statistics")
    p.add_argument("a", help="plugin name or JSON export (side A, the reference)")
    p.add_argument("b", help="plugin name or JSON export (side B)")
    p.add_argument("--workload", "-w", action="append", help="workload name (repeatable; filters export sides)")
    p.add_argument("--workload-param", action="append", metavar="K=V", help="workload parameter (repeatable)")
    p.add_argument("--param", action="append", metavar="K=V", help="parameter for both sides (where it exists)")
    p.add_argument("--param-a", action="append", metavar="K=V", help="parameter for side A only")
    p.add_argument("--param-b", action="append", metavar="K=V", help="parameter for side B only")
    p.add_argument("--workers", "-n", type=int, action="append", help="worker count (repeatable)")
    p.add_argument("--seeds", default="3", help="a count (3 -> 0,1,2) or a list (0,5,7); default 3")
    p.add_argument("--budget", default="epochs=10", help="per run, e.g. epochs=10 (default) or seconds=5")
    p.add_argument("--target", default=None,
                   help="suboptimality to reach (or metric=value); default: the target an export's runs were "
                        "stopped at, when they share one, else 1e-4")
    p.add_argument("--stop-at-target", action="store_true",
                   help="stop plugin runs at the target (default: run the whole budget, read the target off the curve)")
    p.add_argument("--option", action="append", metavar="K=V", help="backend option (repeatable)")
    add_schedule_args(p)
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    p.add_argument("--out", default=None, help="directory for the plots (default .harness/compare/A-vs-B)")
    p.add_argument("--no-plot", action="store_true", help="do not write plots")
    p.add_argument("--format", choices=("table", "markdown"), default="table", help="output format")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.add_argument("--force", action="store_true", help="rerun plugin sides even if the store has the runs")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


DEFAULT_TARGET = Target("subopt", 1e-4)


def stored_target(*sides) -> Target | None:
    """The target the export sides' runs were stopped at, when they all share one (None otherwise):
    without ``--target``, an export is judged at the target it was measured for (its runs may have
    stopped there, and a plugin side reruns on its grid with it)."""
    found = {(str(t.get("metric") or "subopt"), float(t["value"]))
             for side in sides if side.source != "plugin"
             for t in [r.target or {} for r in side.records] if t.get("value") is not None}
    if len(found) != 1:
        return None
    metric, value = found.pop()
    return Target(metric, value)


def main(args) -> int:
    from harness.analysis.compare import compare_sides, print_table, to_markdown, write_plots
    from .sides import build_sides

    if not 0 < args.alpha < 1:
        raise UserError(f"--alpha must be in (0, 1), got {args.alpha}")
    asked = target_of(args.target, "--target: ") if args.target is not None else None
    plots = None
    if not args.no_plot:  # the plot folder is checked before anything runs
        slug = safe_name(f"{Path(args.a).stem}-vs-{Path(args.b).stem}")
        plots = output_dir(args.out or Path(".harness") / "compare" / slug, "plot folder")
    # every value checked before the store is opened (a refused compare made an empty store) and anything runs
    given = dict(workloads=distinct(args.workload or (), "--workload"),
                 workload_params=parse_assignments(args.workload_param, "--workload-param"),
                 params=parse_assignments(args.param), params_a=parse_assignments(args.param_a, "--param-a"),
                 params_b=parse_assignments(args.param_b, "--param-b"), workers=distinct(args.workers or [1], "--workers"),
                 seeds=seeds_of(args.seeds, "--seeds: "), budget=Budget.parse(args.budget),
                 target=asked or DEFAULT_TARGET, options=parse_assignments(args.option, "--option"),
                 schedule=schedule_items(args.schedule, args.points))
    store = Store()
    a, b = build_sides(args.a, args.b, store, **given, force=args.force, stop_at_target=args.stop_at_target,
                       quiet=args.quiet or args.json or args.format == "markdown")
    target = asked or stored_target(a, b) or DEFAULT_TARGET
    cmp = compare_sides(a, b, target=target, alpha=args.alpha)
    if not cmp.groups:
        why = "; ".join(cmp.unmatched + [f"run #{r.id} {r.plugin}: {r.status} {r.reason}" for r in cmp.failed])
        raise UserError(f"nothing to compare: no workload has finished runs on both sides ({why or 'no runs'})")
    from harness.analysis import profiles

    profile = profiles.profile_of_comparison(cmp) if len(cmp.groups) > 1 else None  # across workloads
    page = None
    if plots is not None:
        page = write_plots(cmp, plots)
        if profile is not None:
            profiles.plot(profile, plots / "performance-profile.png")
    if args.json:
        print_json(cmp.to_dict() | {"performance_profile": profiles.to_dict(profile) if profile else None})
    elif args.format == "markdown":
        print(to_markdown(cmp), end="")
        if profile is not None:
            print("\n### Performance profile (time to target)\n\n" + profiles.markdown(profile), end="")
    else:
        print_table(cmp)
        if profile is not None:
            profiles.print_profile(profile)
        if page is not None:  # the page was written but never named: users found only the PNG
            from rich.markup import escape

            from harness._core.output import console

            console.print(escape(f"page: {page}"))
    return 1 if cmp.failed else 0
