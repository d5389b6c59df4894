"""``harness check-plugin NAME... [--all] [--kind K]``: the shipped plugin contract
(:mod:`harness.analysis.contract`) run on plugins, with what fails and why. Exit 0 when every check passes,
1 when one fails, 2 for an unknown or broken plugin name."""

from __future__ import annotations

from harness.analysis.contract import check_plugin, failures
from harness._core.errors import UserError
from harness._core.output import console, counted, print_json, table
from harness._core.params import positive_float
from harness._core.registry import plugins


def register(sub):
    p = sub.add_parser("check-plugin", help="run the plugin contract on plugins and print what fails")
    p.add_argument("names", nargs="*", metavar="NAME", help="plugin names (see `harness list plugins`)")
    p.add_argument("--all", action="store_true", help="every registered plugin")
    p.add_argument("--backend", action="append", help="with --all: only these backends (repeatable)")
    p.add_argument("--kind", action="append", choices=("finite-sum", "network"),
                   help="only these workload kinds (default: every kind the plugin declares)")
    p.add_argument("--timeout", type=positive_float, default=120, help="wall-clock limit per launched run (s)")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.set_defaults(func=main)


def main(args) -> int:
    reg = plugins()
    names = list(args.names)
    for name in names:  # a name typed here that is unknown or broken: exit 2, before anything runs
        reg.get(name)
    if args.backend and not args.all:  # it was ignored: the named plugins ran whatever their backend
        raise UserError("--backend chooses among every plugin: give it with --all")
    from harness._core.registry import backends

    for b in args.backend or ():
        backends().get(b)  # an unknown backend: one line, with the closest names
    for name in names:  # --kind the plugin does not take: nothing of it would be checked
        lacking = [k for k in (args.kind or ()) if k not in reg.get(name).kinds]
        if args.kind and len(lacking) == len(args.kind):
            raise UserError(f"plugin {name} takes {', '.join(reg.get(name).kinds)} workloads, not "
                            f"{', '.join(lacking)} (--kind)")
    if args.all:
        names += [n for n in reg.names() if not args.backend or reg.items[n].backend in args.backend]
        names += sorted(reg.problems)  # a broken entry fails the check, by its entry name
    if not names:
        raise UserError("check-plugin needs plugin names or --all")
    findings = []
    for name in dict.fromkeys(names):
        if name in reg.problems and name not in reg.items:
            from harness.analysis.contract import Finding

            findings.append(Finding(name, "-", "loads", False, f"broken entry: {reg.problems[name]}"))
            continue
        kinds = [k for k in (args.kind or reg.get(name).kinds) if k in reg.get(name).kinds]
        findings.extend(check_plugin(name, kinds, timeout_s=args.timeout))
    bad = failures(findings)
    if args.json:
        print_json({"ok": not bad, "findings": [f.__dict__ for f in findings]})
    else:
        table("plugin contract", ("plugin", "kind", "check", "result", "detail"),
              [(f.plugin, f.kind, f.check, {True: "ok", False: "FAIL", None: "skipped"}[f.ok],
                f.message.splitlines()[0] if f.message else "") for f in findings])
        for f in bad:
            console.print(f"FAIL {f.plugin} ({f.kind}) {f.check}: {f.message}")
        console.print(f"{counted(len({f.plugin for f in findings}), 'plugin')} checked: "
                      + (f"{counted(len(bad), 'check')} failed" if bad else "every check passed"))
    return 1 if bad else 0
