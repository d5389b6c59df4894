"""``harness list [plugins|backends|workloads|theorems|suites] [NAME ...]``: the catalog, or what one entry takes."""

from __future__ import annotations

import sys

from rich.markup import escape

from harness._core.output import console, print_json, table
from harness._core.registry import backends, link_problems, plugins, workloads


def register(sub):
    p = sub.add_parser("list", help="list plugins, backends, workloads, theorems or suites; with NAMEs, each one in full")
    p.add_argument("what", nargs="?", default="plugins", choices=("plugins", "backends", "workloads", "theorems", "suites"))
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="show these in full: description, backend, workers, theorems and a table of parameters")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=main)


def _workers(spec) -> str:
    """'1', '2..8' or '1 or more'."""
    if spec.max_workers is None:
        return f"{spec.min_workers} or more"
    return str(spec.min_workers) if spec.max_workers == spec.min_workers else f"{spec.min_workers}..{spec.max_workers}"


def _params_table(title: str, params, theory: bool = True) -> None:
    """One row per parameter: name, default, domain, whether it accepts the value 'theory'
    (chosen by the linked theorem: ``--param eta=theory``; plugins only), doc."""
    table(title, ("name", "default", "domain") + (("theory",) if theory else ()) + ("doc",),
          [(p.name, p.default, p.domain()) + (("yes" if p.theory else "-",) if theory else ()) + (p.doc or "-",)
           for p in params])


def _show_plugins(names: list[str], as_json: bool) -> int:
    reg = plugins()
    specs = [reg.get(n) for n in names]  # an unknown name: one line with suggestions, before any output
    if as_json:
        print_json({"plugins": [{**s.summary(), "min_workers": s.min_workers, "max_workers": s.max_workers,
                                 "deterministic": s.deterministic} for s in specs]})
        return 0
    thms = _theorems() or {}
    for s in specs:
        console.print(f"[bold]{escape(s.name)}[/bold]: {escape(s.description or '-')}")
        missing = s.missing()
        facts = [("family", s.family), ("backend", s.backend), ("workers", _workers(s)),
                 ("workloads", ", ".join(s.kinds)),
                 ("needs", ", ".join(s.needs) + (f" (missing: {', '.join(missing)})" if missing else "") or "-"),
                 ("deterministic", "yes (one trajectory per seed)" if s.deterministic else "no")]
        for key, value in facts:
            console.print(f"  {key}: {escape(str(value))}")
        console.print("  theorems:" + ("" if s.theorems else " -"))
        for tid in s.theorems:
            t = thms.get(tid)
            console.print(f"    {escape(tid)}" + (f"  ({escape(t.citation.short())})" if t is not None else ""))
        chosen = [p.name for p in s.params if p.theory]  # the note only where a parameter takes 'theory' (mnag has none)
        _params_table(f"{s.name}: parameters (--param K=V"
                      + (f"; 'theory': {chosen[0]}=theory asks the linked theorem" if chosen else "") + ")",
                      s.params, theory=bool(chosen))
    return 0


def _show_backends(names: list[str], as_json: bool) -> int:
    reg = backends()
    recs = [reg.get(n) for n in names]
    if as_json:
        print_json({"backends": [b.summary() for b in recs]})
        return 0
    on = _plugins_by_backend()
    for b in recs:
        console.print(f"[bold]{escape(b.name)}[/bold]: {escape(b.description or '-')}")
        for key, value in _backend_facts(b) + [("plugins", ", ".join(on.get(b.name, [])) or "-")]:
            console.print(f"  {key}: {escape(str(value))}")
    return 0


def _backend_facts(b) -> list[tuple[str, str]]:
    return [("workers", ("launched processes" if b.launched else "in this process")
             + (f", plus {b.server_ranks} server rank(s)" if b.server_ranks else "")),
            ("cores", "one per worker" if b.worker_cores else "one per run (its workers share one process)"),
            ("timed beside a speed probe", "yes" if b.timed_beside_probe else "no"),
            ("launcher", b.launcher or "-"), ("check-plugin workers", str(b.contract_workers)),
            ("check-plugin audits delays", "yes" if b.delay_audit else "no")]


def _plugins_by_backend() -> dict[str, list[str]]:
    on: dict[str, list[str]] = {}
    for name in plugins().names():
        on.setdefault(plugins().items[name].backend, []).append(name)
    return on


def _show_workloads(names: list[str], as_json: bool) -> int:
    reg = workloads()
    specs = [reg.get(n) for n in names]
    if as_json:
        print_json({"workloads": [s.summary() for s in specs]})
        return 0
    for s in specs:
        console.print(f"[bold]{escape(s.name)}[/bold] ({escape(s.kind)}): {escape(s.description or '-')}")
        _params_table(f"{s.name}: parameters (--workload-param K=V)", s.params, theory=False)
        console.print(f"constants (a theorem's run map may read): {escape(', '.join(s.constants) or 'none declared')}")
    return 0


def _show_theorems(names: list[str], as_json: bool) -> int:
    from harness._core.errors import UserError

    try:
        from harness.theory.errors import TheoryError
        from harness.theory.registry import get
    except ImportError as exc:
        raise UserError(f"the theory module is not available: {exc}") from None
    try:
        thms = [get(n) for n in names]
    except TheoryError as exc:
        raise UserError(f"{exc} (see: harness list theorems)") from None
    if as_json:
        print_json({"theorems": [t.summary() for t in thms]})
        return 0
    for t in thms:
        console.print(t.show(), markup=False, highlight=False)
    return 0


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


def suite_rows(names: list[str] | None = None) -> list[dict]:
    """One row per shipped suite (``names``: these only; an unknown one is a user error naming the
    shipped ones): name, description, paper, number of runs in its grid, its wall time on a 2-core
    machine as measured (the file's ``time``), its claims."""
    import tomllib

    from harness._core.errors import UserError, unknown
    from harness.run.suite import load_suite
    from harness.suites import shipped_suites, suite_path

    known = shipped_suites()
    for n in names or ():
        if n not in known:
            raise unknown("suite", n, known, see="harness list suites")
    rows = []
    for name in names or known:
        path = suite_path(name)
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        try:
            runs = len(load_suite(path)[1])
        except UserError as exc:  # a suite whose plugins are not installed here still lists
            runs = f"? ({exc})"
        report = doc.get("report", {})
        claims = report.get("claims") or ([report["claim"]] if report.get("claim") else [])
        rows.append({"name": name, "description": doc.get("description", ""), "paper": report.get("paper", ""),
                     "runs": runs, "time": doc.get("time", ""), "path": str(path),
                     "claims": [c if isinstance(c, str) else c.get("text", c.get("name", str(c))) for c in claims]})
    return rows


def _suites(names: list[str], as_json: bool) -> int:
    rows = suite_rows(names)
    if as_json:
        print_json({"suites": rows})
    elif names:
        for r in rows:
            console.print(f"[bold]{escape(r['name'])}[/bold]: {escape(r['description'] or '-')}")
            for key in ("paper", "runs", "time", "path"):
                console.print(f"  {key}: {escape(str(r[key] or '-'))}")
            console.print("  claims:" + ("" if r["claims"] else " -"))
            for c in r["claims"]:
                console.print(f"    - {escape(c)}")
    else:
        table("suites (harness run NAME; --scale paper runs NAME_paper)", ("name", "paper", "runs", "time (2 cores)",
                                                                             "claims"),
              [(r["name"], r["paper"] or "-", r["runs"], r["time"] or "-", len(r["claims"])) for r in rows])
    return 0


def main(args) -> int:
    if args.what == "suites":
        return _suites(list(dict.fromkeys(args.names)), args.json)
    if args.names:
        show = {"plugins": _show_plugins, "backends": _show_backends, "workloads": _show_workloads,
                "theorems": _show_theorems}[args.what]
        return show(list(dict.fromkeys(args.names)), args.json)
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
    elif args.what == "backends":
        reg = backends()
        on = _plugins_by_backend()
        if args.json:
            print_json({"backends": [{**reg.items[n].summary(), "plugins": on.get(n, [])} for n in reg.names()]})
            return 0
        table("backends", ("name", "workers", "cores", "timed beside probe", "launcher", "plugins"),
              [(b.name, dict(_backend_facts(b))["workers"], dict(_backend_facts(b))["cores"],
                "yes" if b.timed_beside_probe else "no", b.launcher or "-", len(on.get(b.name, [])))
               for b in (reg.items[n] for n in reg.names())])
        return 0
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
        from harness._core.errors import UserError

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
