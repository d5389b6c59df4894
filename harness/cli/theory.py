"""``harness theory list|show ID|check RUN...|solve ID --for VAR --set K=V ...|tightness ID --set K=V ...``: the
papers' theorems."""

from __future__ import annotations

from contextlib import contextmanager

from harness._core.errors import UserError
from .common import run_ids
from harness._core.output import console, fmt, print_json, table
from harness._core.params import positive_float


def register(sub):
    p = sub.add_parser("theory", help="the papers' theorems: list, show, check stored runs, solve for a parameter")
    tsub = p.add_subparsers(dest="theory_cmd", parser_class=type(p))
    pl = tsub.add_parser("list", help="every encoded theorem")
    pl.add_argument("--json", action="store_true")
    pl.set_defaults(func=cmd_list)

    ps = tsub.add_parser("show", help="a theorem's statement, conditions, bound and citation")
    ps.add_argument("id")
    ps.add_argument("--json", action="store_true")
    ps.add_argument("--set", action="append", default=[], metavar="K=V", help="also evaluate at these values")
    ps.add_argument("--explain", action="store_true",
                    help="also print how a verdict is decided (the test, and what each verdict means)")
    ps.set_defaults(func=cmd_show)

    pc = tsub.add_parser("check", help="verdicts for stored runs (seeds of one configuration are pooled)")
    pc.add_argument("runs", nargs="+", help="run ids")
    pc.add_argument("--theorem", action="append", default=None, help="check against this theorem (default: the plugin's)")
    pc.add_argument("--no-save", action="store_true", help="do not store the verdicts")
    pc.add_argument("--json", action="store_true")
    pc.set_defaults(func=cmd_check)

    pv = tsub.add_parser("solve", help="largest admissible value of one symbol, the others fixed")
    pv.add_argument("id")
    pv.add_argument("--for", dest="var", required=True,
                    help="the symbol to solve for (eta, Delta, b, ...), or the plugin parameter =theory sets (theory show)")
    pv.add_argument("--set", action="append", default=[], metavar="K=V", help="a fixed value (repeat)")
    pv.add_argument("--max", type=positive_float, default=None, help="upper end of the search (a number > 0)")
    pv.add_argument("--all-conditions", action="store_true",
                    help="also require the conditions a verdict only reports (e.g. DDG's non-vacuity "
                         "gamma L < 1/(2(K + K^4)))")
    pv.add_argument("--json", action="store_true")
    pv.set_defaults(func=cmd_solve)
    pt = tsub.add_parser("tightness", help="the bound beside the tight worst case (a PEP; needs the [pep] extra)")
    pt.add_argument("id")
    pt.add_argument("--set", action="append", default=[], metavar="K=V", help="a value, the horizon included (repeat)")
    pt.add_argument("--json", action="store_true")
    pt.set_defaults(func=cmd_tightness)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


def _parse_sets(items: list[str]) -> dict[str, float]:
    """``--set NAME=VALUE`` (a finite number, or a comma-separated list of them), each NAME once."""
    import math

    out = {}
    for it in items:
        if "=" not in it:
            raise UserError(f"bad --set {it!r}: expected NAME=VALUE")
        k, v = it.split("=", 1)
        k = k.strip()
        if k in out:  # the last one won without a word
            raise UserError(f"--set {k} given twice ({out[k]} and {v.strip()}): give it once")
        try:
            nums = [float(x) for x in v.split(",")]
        except ValueError:
            raise UserError(f"bad --set {it!r}: {v!r} is not a number (or a comma-separated list)") from None
        if not all(math.isfinite(x) for x in nums):  # inf evaluated the bound at infinity
            raise UserError(f"bad --set {it!r}: values are finite numbers")
        out[k] = nums if "," in v else nums[0]
    return out


def _theorem(tid: str):
    from harness.theory.registry import get

    with _user_errors():
        return get(tid)


@contextmanager
def _user_errors():
    """The theory's own errors (unknown theorem, a value outside a symbol's domain) as one-line user errors."""
    from harness.theory.errors import TheoryError

    try:
        yield
    except TheoryError as exc:
        raise UserError(str(exc)) from None


def cmd_list(args) -> int:
    from harness.theory.registry import LEFT_OUT, all_theorems

    thms = all_theorems()
    if args.json:
        print_json({"theorems": [t.summary() for t in thms], "left_out": LEFT_OUT})
        return 0
    table("theorems", ("id", "bounds", "rate", "checkable", "citation"),
          [(t.id, t.measured, str(t.rate), "yes" if t.checkable else "-", t.citation.short()) for t in thms])
    return 0


def cmd_show(args) -> int:
    t = _theorem(args.id)
    values = _parse_sets(args.set)
    ev = None
    if values:
        _check_known(t, values)
        _require(t, values)
        with _user_errors():
            try:
                ev = t.evaluate(values, T=values.get(t.horizon))
            except (TypeError, ValueError) as exc:  # e.g. a comma list where the theorem takes one number
                raise UserError(f"{t.id}: cannot evaluate at {_shown(values)}: {exc}") from None
    from harness.theory.report import TEST_TEXT

    if args.json:
        print_json({**t.summary(), "pretty": t.show(), "verdict_test": TEST_TEXT, **({"evaluation": ev} if ev else {})})
        return 0
    console.print(t.show(), markup=False, highlight=False)
    # the ~150-word legend is the same for every theorem: printed on request, one line pointing at it otherwise
    console.print("\n" + (TEST_TEXT.replace("**", "") if args.explain else
                          f"How a verdict is decided: harness theory show {t.id} --explain"),
                  markup=False, highlight=False)
    if ev:
        _print_eval(ev)
    return 0


def _check_known(t, values):
    known = set(t.inputs()) | set(t.symbols) | {s.name for s, _ in t.definitions} | set(t.free) | {t.horizon}
    bad = [k for k in values if k not in known]
    if bad:
        from harness._core.errors import close_matches

        # the theorem's inputs named in the line itself: a paper's own letter for a quantity (tau for the
        # delay this theorem calls Delta) is often only "close" to an unrelated symbol (eta)
        close = close_matches(bad[0], known)
        guess = f"did you mean: {', '.join(close)}?; " if close else ""
        raise UserError(f"unknown symbol '{bad[0]}' of {t.id} ({guess}its inputs: {', '.join(sorted(t.inputs()))}; "
                        f"what each means: harness theory show {t.id})")
    _check_counts(t, values)


def _check_counts(t, values) -> None:
    """A symbol the theorem counts in whole units (a mini-batch b, a delay bound tau, workers K, ...:
    ``numerics.is_count``, which the solver answers in integers) given a fractional value is refused: the
    theorem says nothing at b = 1.5. The same letter for a real constant (M, the additive variance constant
    of Assumption 4.3.2 in large_batch) takes any value. (A run's measured mean delay is fractional; the
    checker reads it through the run map, not through ``--set``.)"""
    import numpy as np

    from harness.theory.numerics import is_count

    for k, v in values.items():
        if is_count(t, k) and np.any(np.mod(np.asarray(v, dtype=float), 1.0) != 0):
            what = t.symbols.get(k) or "a count"
            given = ",".join(f"{x:g}" for x in np.atleast_1d(np.asarray(v, dtype=float)))
            raise UserError(f"--set {k}={given}: {k} ({what}) takes whole numbers in {t.id}")


def _rate_cell(rate: dict) -> str:
    """The rate check in a table cell: 'slower than the bound (slope -0.16 vs -1)', the slopes of the mean curve's
    tail and of what it is held against (the bound's curve, else the theorem's rate) on the same axes; the
    cell read 'slower than (-0.16 vs -1)', two numbers a reader could not place."""
    what = "the bound" if "bound_slope" in rate else "the rate"
    return f"{rate['against']} {what} (slope {fmt(rate.get('fitted_slope'))} vs {fmt(rate.get('reference_slope'))})"


def _flag_cell(flag: str, reason: str) -> str:
    """A verdict's flag beside its reason: its head alone where the reason already says the flag's
    parenthesis (an unverified delay: the cause was printed twice in one cell)."""
    head, _, why = flag.partition(" (")
    return head if why and why.rstrip(")") in reason else flag


def _print_eval(ev):
    rows = [(c["name"], "yes" if c["holds"] else "NO", fmt(c.get("lhs")), fmt(c.get("rhs")), fmt(c.get("margin")))
            for c in ev["conditions"]]
    table("conditions", ("condition", "holds", "lhs", "rhs", "margin"), rows)
    if ev.get("free_chosen"):
        console.print("free analysis constants chosen: " + ", ".join(f"{k} = {fmt(v)}" for k, v in ev["free_chosen"].items()))
    if "bound" in ev:
        console.print(f"bound: {ev['bound']}")


def _symbol_of(t, name: str) -> tuple[str, object]:
    """(the theorem's symbol, the map back to the plugin parameter or None) for ``--for NAME``: a
    symbol as it is, or a plugin parameter the run map says ``=theory`` chooses (``eta`` -> gamma)."""
    if name in t.inputs() or t.runmap is None or t.runmap.symbol_for(name) is None:
        return name, None
    return t.runmap.symbol_for(name)


def cmd_solve(args) -> int:
    from harness.theory.runmap import Mapped

    t = _theorem(args.id)
    if args.all_conditions:
        t = _every_condition_gating(t)
    values = _parse_sets(args.set)
    var, back = _symbol_of(t, args.var)
    for name in dict.fromkeys((args.var, var)):  # a value for what is solved for was dropped without a word
        if name in values:
            raise UserError(f"--set {name}={values[name]} fixes what --for {args.var} solves for: give one of them")
    _check_known(t, {**values, var: 0})
    _require(t, {**values, var: 0})
    with _user_errors():
        res = t.solve(var, values, hi=args.max)
    if var != args.var and res.get("value") is not None:   # the plugin parameter, through the run map
        try:
            param = res["value"] if back is None else back(res["value"], values, Mapped())
        except (KeyError, TypeError, ZeroDivisionError) as exc:
            raise UserError(f"{t.id}: {args.var} = f({var}) needs more values ({exc})") from None
        res = {**res, "symbol": var, "symbol_value": res["value"], "parameter": args.var, "value": param}
    if args.json:
        print_json(res)
        return 0
    if res.get("value") is None:
        console.print(f"{t.id}: {res['reason']}")
        for c in res.get("failing", []):
            console.print(f"  fails: {c['name']}  (lhs {fmt(c.get('lhs'))}, rhs {fmt(c.get('rhs'))})")
        return 1
    via = f" (through the symbol {var} = {fmt(res['symbol_value'])})" if var != args.var else ""
    if res.get("note"):   # no condition binds: the value is the search's end, not the theorem's (was printed as if it were)
        console.print(f"{t.id}: {args.var} admissible up to the search limit {fmt(res['value'])}{via}: no condition "
                      f"fails there, so the theorem sets no largest value in range (--max N searches further)")
    else:
        console.print(f"{t.id}: largest admissible {args.var} = {fmt(res['value'])}{via}"
                      + (f"  (binding: {', '.join(res['binding'])})" if res.get("binding") else ""))
    if "closed_form" in res:
        sup, val = res.get("closed_form_sup"), res.get("closed_form_value")
        console.print(f"  closed form: sup {var} = {res['closed_form']} = {fmt(sup)}"
                      + (f"; largest admissible = {fmt(val)}" if val != sup else ""))
    if res.get("free_chosen"):
        console.print("  free analysis constants: " + ", ".join(f"{k} = {fmt(v)}" for k, v in res["free_chosen"].items()))
    return 0


def cmd_tightness(args) -> int:
    """The paper's bound, the tight worst case of the same quantity on the theorem's deterministic specialisation
    (:mod:`harness.theory.tightness`) and their ratio. Unknown theorem, a missing or bad value, a theorem with no
    specialisation, a failing condition or a missing PEPit: one line, exit 2, before any SDP."""
    from harness.theory import tightness as tt

    t = _theorem(args.id)
    values = _parse_sets(args.set)
    _check_known(t, values)
    if t.id not in tt.SPECIALISATIONS:
        raise UserError(f"no tight worst case computable for {t.id}: no deterministic specialisation is encoded "
                        f"(theorems with one: {', '.join(sorted(tt.SPECIALISATIONS))})")
    _require(t, values)
    why = tt.available()
    if why:
        raise UserError(why)
    with _user_errors():
        res = tt.tightness(t, values)
    if args.json:
        print_json(res)
        return 0
    console.print(f"{t.id} at {_shown(values)}", markup=False, highlight=False)
    console.print(f"  quantity: {res['quantity']}", markup=False, highlight=False)
    console.print(f"  deterministic specialisation: {res['specialisation']}; {res['method']}; class: {res['class']}",
                  markup=False, highlight=False)
    table("tightness", ("paper's bound", "tight worst case (PEP)", "bound / worst case"),
          [(fmt(res["bound"]), fmt(res["worst_case"]), fmt(res["ratio"]))])
    return 0


def _every_condition_gating(t):
    """The theorem with its reported conditions required too. Its closed forms are dropped: each solves
    the stated condition it was written for, not the one that binds now."""
    from dataclasses import replace

    reported = [c for c in t.conditions if not c.gating]
    if not reported:
        return t
    return replace(t, conditions=[replace(c, gating=True) for c in t.conditions], solutions={})


def _require(t, values) -> None:
    """Every input of the theorem has a value (free constants, the horizon and derived ones aside)."""
    missing = [s for s in t.inputs() if s not in values and s not in t.free and s != t.horizon
               and s not in _derivable(t)]
    if missing:
        raise UserError(f"{t.id}: give a value for {', '.join(missing)} (--set NAME=VALUE)")


def _shown(values) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def _derivable(t) -> set[str]:
    # symbols a theorem's prepare hook derives (u0 from eta, per-layer sums, ...)
    return set(getattr(t, "derived_inputs", ()))


def cmd_check(args) -> int:
    from harness.run.checking import check
    from harness.run.store import Store

    store = Store(readonly=True if args.no_save else "auto")  # --no-save only reads
    ids = run_ids(args.runs)
    recs = store.runs(ids=ids, with_points=True)
    found = {r.id for r in recs}
    missing = [i for i in ids if i not in found]
    if missing:
        raise UserError(f"no run #{missing[0]} in {store.path}")
    if args.theorem:
        for tid in args.theorem:
            _theorem(tid)
    out = check(recs, args.theorem, store=store, save=not args.no_save)
    if args.json:
        print_json({"verdicts": [d.to_dict() for d in out]})
        return 0
    if not out:
        console.print("no theorem is linked to these runs' plugins (give one with --theorem ID)")
        return 0
    rows = []
    for d in out:
        slack = (d.slack or {}).get("min")
        rate = d.rate or {}
        rows.append((",".join(f"#{i}" for i in d.runs), d.theorem, d.verdict, fmt(slack),
                     "-" if rate.get("ok") is None else _rate_cell(rate),
                     d.reason + "".join(f" [flag: {_flag_cell(f, d.reason)}]" for f in d.flags)))
    table("verdicts", ("runs", "theorem", "verdict", "min slack", "rate", "why"), rows)
    return 1 if any(d.verdict == "violated" for d in out) else 0
