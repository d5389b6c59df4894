"""``harness check-theorem ID... [--all] [--json]``: the checks a theorem must pass before it judges
anything (:mod:`harness.theory.selfcheck`: symbols with domains, satisfiable and not vacuous
conditions with a witness, a positive finite bound, solve round-trips, the bound's rate, the run
map's coverage, planted curves at 2x / 0.5x the bound through the real checker). Exit 0 when every
check passes, 1 when one fails, 2 for an unknown theorem id or a broken theorem entry named."""

from __future__ import annotations

from harness._core.errors import UserError
from harness._core.output import console, counted, print_json, table


def register(sub):
    p = sub.add_parser("check-theorem", help="run the theorem checks on theorems and print what fails")
    p.add_argument("ids", nargs="*", metavar="ID", help="theorem ids (see `harness theory list`)")
    p.add_argument("--all", action="store_true", help="every registered theorem")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(func=main)


def main(args) -> int:
    from harness.theory.errors import TheoryError
    from harness.theory.registry import all_theorems, get, problems
    from harness.theory.selfcheck import check_theorem

    broken = problems()
    thms = []
    for tid in args.ids:   # unknown ids: exit 2 before any check runs
        if tid in broken:
            raise UserError(f"theorem entry '{tid}' is broken: {broken[tid]}")
        try:
            thms.append(get(tid))
        except TheoryError as exc:
            raise UserError(str(exc)) from None
    if args.all:
        thms += [t for t in all_theorems() if t not in thms]
    if not thms and not (args.all and broken):
        raise UserError("check-theorem needs theorem ids or --all")
    checks = [c for t in thms for c in check_theorem(t)]
    from harness.theory.selfcheck import Check

    if args.all:   # a broken entry fails the check, by its entry name
        checks += [Check(name, "loads", False, f"broken entry: {why}") for name, why in sorted(broken.items())]
    bad = [c for c in checks if c.ok is False]
    if args.json:
        print_json({"ok": not bad, "checks": [c.__dict__ for c in checks]})
    else:
        table("theorem checks", ("theorem", "check", "result", "detail"),
              [(c.theorem, c.check, {True: "ok", False: "FAIL", None: "skipped"}[c.ok], c.detail) for c in checks])
        for c in bad:
            console.print(f"FAIL {c.theorem} {c.check}: {c.detail}", markup=False, highlight=False)
        console.print(f"{counted(len({c.theorem for c in checks}), 'theorem')} checked: "
                      + (f"{counted(len(bad), 'check')} failed" if bad else "every check passed"))
    return 1 if bad else 0
