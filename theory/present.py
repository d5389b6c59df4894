"""A theorem as text: :func:`show` (readable math, sympy's unicode printer; ``harness theory show``)
and :func:`summary` (the JSON form; ``--json`` and the reports)."""

from __future__ import annotations

from typing import Any

import re

import sympy as sp


def summary(t) -> dict[str, Any]:
    return {
        "id": t.id, "title": t.title, "citation": t.citation.to_dict(),
        "citation_text": t.citation.text(), "measured": t.measured, "measured_doc": t.measured_doc,
        "rate": str(t.rate), "horizon": t.horizon, "bound": None if t.bound is None else sp.sstr(t.bound),
        "conditions": [{"name": c.name, "relation": c.text(), "implicit": c.implicit, "per_layer": c.per_layer,
                        "doc": c.doc} for c in t.conditions],
        "definitions": {s.name: sp.sstr(e) for s, e in t.definitions},
        "domains": domains(t),
        "inputs": t.inputs(), "symbols": t.symbols, "assumptions": t.assumptions,
        "free": sorted(t.free), "solutions": {k: sp.sstr(v) for k, v in t.solutions.items()},
        "extra_bounds": {k: sp.sstr(v) for k, v in t.extra_bounds.items()},
        "recursions": [{"name": r.name, "doc": r.doc, "closed_form": r.sympy_text} for r in t.recursions],
        "errata": t.errata, "notes": t.notes, "statement": t.statement,
        "checkable": t.checkable, "asymptotic_only": t.asymptotic_only, "reads": list(t.reads),
        "families": list(t.families), "judges": judged_runs(t),
        "runmap": t.runmap.describe() if t.runmap is not None else [],
        "theory_params": ({p: t.runmap.symbol_for(p)[0] for p in t.runmap.theory} if t.runmap is not None else {}),
    }

def domains(t) -> dict[str, str]:
    """Each input symbol's domain, from its sympy assumptions (``positive``, ``nonnegative``, ...)."""
    syms = t.declared_symbols()
    out = {}
    for name in t.inputs():
        s = syms.get(name)
        kind = next((a for a in ("positive", "nonnegative", "negative", "integer", "real")
                     if s is not None and getattr(s, f"is_{a}")), None)
        if kind:
            out[name] = {"positive": "> 0", "nonnegative": ">= 0", "negative": "< 0"}.get(kind, kind)
    return out


_SQUARED = re.compile(r"^([A-Za-z]+)2$")


def pretty(expr) -> str:
    """``expr`` in sympy's unicode pretty printer, a symbol named ``<letters>2`` printed as a square:
    these theorems name a variance bound ``sigma2`` for sigma^2 (Bhardwaj & Cong 2017's A.2), which the
    printer would show as sigma-sub-2 (a second sigma). ``S_2``, ``c_1``, ``u0`` stay subscripts. Euler's
    constant prints as gamma_E: sympy's own glyph is the step size's gamma (ddg's harmonic sums)."""
    squares = {s: sp.Symbol(m.group(1) + "^2", **s.assumptions0)
               for s in getattr(expr, "free_symbols", ()) if (m := _SQUARED.match(s.name))}
    if isinstance(expr, sp.Basic) and expr.has(sp.EulerGamma):
        squares[sp.EulerGamma] = sp.Symbol("gamma_E", positive=True)
    return sp.pretty(expr.xreplace(squares) if squares else expr, use_unicode=True)


def symbols_used(t) -> dict[str, str]:
    """The meanings (``t.symbols``) of the symbols this theorem uses: its inputs, the horizon, the
    symbols of its conditions, bound, definitions and extra bounds (a paper module declares one table
    for all its theorems). The derived quantities are in Definitions instead."""
    used = set(t.inputs()) | set(t.declared_symbols()) | {t.horizon} | set(t.free)
    used |= {s.name for e in t.extra_bounds.values() for s in getattr(e, "free_symbols", ())}
    defined = {s.name for s, _ in t.definitions}
    return {k: v for k, v in t.symbols.items() if k in used and k not in defined}


def show(t) -> str:
    """The statement in readable math (sympy's unicode pretty printer, :func:`pretty`)."""
    lines = [f"{t.id}: {t.title}", f"  {t.citation.text()}", "", t.statement.strip(), ""]
    if t.assumptions:
        lines += ["Assumptions:"] + [f"  - {a}" for a in t.assumptions] + [""]
    meanings = symbols_used(t)
    if meanings:  # the name --set takes, and beside it the glyph the formulas below print where it differs
        syms = t.declared_symbols()
        names = {k: k + (f" ({g})" if (g := pretty(syms.get(k, sp.Symbol(k)))) != k else "") for k in meanings}
        width = max(map(len, names.values()))
        lines += ["Symbols:"] + [f"  {names[k]:<{width}}  {v}" for k, v in meanings.items()] + [""]
    if t.definitions:
        lines.append("Definitions:")
        for s, e in t.definitions:
            lines.append(_indent(pretty(sp.Eq(s, e, evaluate=False)), "  "))
        lines.append("")
    lines.append("Conditions:" + ("" if t.conditions else " none beyond the symbols' domains ("
                                  + ", ".join(f"{k} {v}" for k, v in domains(t).items()) + ")"))
    for c in t.conditions:
        tag = " [implicit in the proof]" if c.implicit else ""
        tag += " [for every layer k]" if c.per_layer else ""
        lines.append(f"  ({c.name}){tag}")
        lines.append(_indent(c.pretty(), "      "))
        if c.doc:
            lines.append(f"      {c.doc}")
    lines.append("")
    if t.bound is not None:
        lines.append(f"Bound on {t.measured_doc} after {t.horizon} = {t.horizon_doc}:")
        lines.append(_indent(pretty(t.bound), "  "))
    else:
        lines.append(f"Bound: an O(.) statement without constants on {t.measured_doc}.")
    for k, e in t.extra_bounds.items():
        lines.append(f"{k}:")
        lines.append(_indent(pretty(e), "  "))
    lines.append(f"Rate: {sp.sstr(t.rate)}   (in {t.horizon})")
    if t.asymptotic_only:
        lines.append(f"Asymptotic only (no verdict on runs): {t.asymptotic_only}")
    lines += ["", "Judges: " + judged_runs(t)]
    if t.runmap is not None:
        lines.append("Run map (symbol <- run fact):")
        lines += [f"  {x}" for x in t.runmap.describe()]
        for p in t.runmap.theory:
            lines.append(f"  --param {p}=theory chooses {p} through the symbol {t.runmap.symbol_for(p)[0]} "
                         f"(theory solve {t.id} --for {p})")
    if t.recursions:
        lines.append("")
        lines.append("Recursions:")
        for r in t.recursions:
            lines.append(f"  {r.name}: {r.doc}")
            if r.sympy_text:
                lines.append(f"    closed form: {r.sympy_text}")
    if t.errata:
        lines += ["", "Errata / what is encoded:", _indent(t.errata.strip(), "  ")]
    if t.notes:
        lines += ["", "Notes:", _indent(t.notes.strip(), "  ")]
    return "\n".join(lines)


def judged_runs(t) -> str:
    """Which runs the theorem judges: the plugin families and the conditions on the run."""
    fam = f"runs of {', '.join(t.families)} plugins" if t.families else "runs of any algorithm"
    if t.asymptotic_only:
        return f"no run (asymptotic only); about {', '.join(t.families) or 'any algorithm'}"
    if t.runmap is None:
        return f"no run (evaluated, not checked on runs); about {', '.join(t.families) or 'any algorithm'}"
    conds = [f"{r.source.describe()} {r.op} {r.value!r}" for r in t.runmap.when]
    return fam + (f" with {'; '.join(conds)}" if conds else "") + (f" ({t.judges})" if t.judges else "")


def _indent(text: str, pad: str) -> str:
    return "\n".join(pad + line for line in text.splitlines())
