"""``harness list [plugins|workloads|theorems]``."""

from __future__ import annotations

import sys

from ..output import print_json, table
from ..registry import link_problems, plugins, workloads


def register(sub):
    p = sub.add_parser("list", help="list plugins, workloads or theorems")
    p.add_argument("what", nargs="?", default="plugins", choices=("plugins", "workloads", "theorems"))
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=main)


def _theorems() -> dict | None:
    try:
        from harness.theory.registry import all_theorems
    except ImportError:
        return None
    return {t.id: t for t in all_theorems()}


def _status(s: dict, links: dict[str, list[str]]) -> str:
    if s["missing"]:
        return "needs " + ",".join(s["missing"])
    return "bad theorem link" if s["name"] in links else "ok"


def main(args) -> int:
    if args.what == "plugins":
        reg = plugins()
        items = [reg.items[n].summary() for n in reg.names()]
        thms = _theorems()
        links = link_problems(reg.items.values(), thms) if thms is not None else {}
        if args.json:
            print_json({"plugins": items, "problems": reg.problems, "link_problems": links})
            return 0
        table("plugins", ("name", "family", "backend", "kinds", "theorems", "status"),
              [(s["name"], s["family"], s["backend"], ",".join(s["kinds"]), ",".join(s["theorems"]) or "-",
                _status(s, links)) for s in items])
        for name, whys in sorted(links.items()):  # stderr, like a broken entry point: stdout stays the listing
            for why in whys:
                print(f"harness: warning: plugin '{name}' has a bad theorem link: {why}", file=sys.stderr)
    elif args.what == "workloads":
        reg = workloads()
        items = [reg.items[n].summary() for n in reg.names()]
        if args.json:
            print_json({"workloads": items, "problems": reg.problems})
            return 0
        table("workloads", ("name", "kind", "parameters", "description"),
              [(s["name"], s["kind"], " ".join(f"{k}={v['default']}" for k, v in s["params"].items()),
                s["description"]) for s in items])
    else:
        from ..errors import UserError

        try:
            from harness.theory.registry import all_theorems
        except ImportError as exc:
            raise UserError(f"the theory module is not available: {exc}") from None
        thms = all_theorems()
        if args.json:
            print_json({"theorems": [t.summary() for t in thms]})
            return 0
        table("theorems", ("id", "bounds", "rate", "citation"),
              [(t.id, t.measured, str(t.rate), t.citation.short() if hasattr(t.citation, "short") else str(t.citation))
               for t in thms])
        return 0
    for name, why in sorted(reg.problems.items()):  # stderr: stdout stays the listing (`--strict`: exit 2)
        print(f"harness: warning: broken {reg.kind} entry point '{name}': {why}", file=sys.stderr)
    return 0
