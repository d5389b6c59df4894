"""Theory-guided parameters: ``--param eta=theory`` takes the step the plugin's linked theorem
guarantees most for this workload and worker count (:meth:`Theorem.solve_best_rate`):

- where the bound is a rate factor times the rate (AsySVRG's (2.15)/(2.36): F0/gamma x 1/T with
  gamma = Gamma_0 of (2.14)/(2.35); dfSDCA's contraction rho of (3.18)-(3.37)), the admissible step
  with the smallest factor. For AsySVRG that is inside the conditions: Gamma_0 > 0 binds at the
  largest step, where gamma -> 0 and the bound is vacuous; for dfSDCA rho = 1 - eta lam H decreases
  in eta, so it is the largest admissible step;
- otherwise (a bound mixing horizons: minibatch Lemma 1, Theorem 4, DDG, large-batch) the largest
  admissible step.

Only theorems about the plugin's algorithm are consulted (:meth:`Theorem.about`).

Before a run nothing is measured, so the inputs are the facts of a *planned* run
(:class:`~harness.theory.facts.RunFacts` built by the harness: the workload's constants, the run's
other parameters, and, for the delay, the value a run with this many workers is expected to see: 0
for one worker and ``workers - 1`` otherwise, a parameter server with K equally fast workers:
docs/derivations.md, asysvrg, 'delay of K workers'). The checker later uses the delay the run actually measured, so a run whose real delay
exceeds the assumption is reported ``not-applicable`` rather than silently passing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping, Sequence

from harness._core.params import THEORY  # the value a user writes: --param eta=theory

from .errors import NotApplicable, TheoryError
from .facts import RunFacts


def choose_parameters(planned: RunFacts, kinds: Mapping[str, str], theorem_ids: Sequence[str] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """Replace every parameter whose value is ``"theory"`` by the value the first linked theorem
    that sets it chooses (the smallest rate factor, else the largest admissible value; other
    parameters fixed). ``kinds``: parameter name -> 'int' or
    'float'. Returns (parameters, choices: name -> {value, theorem, binding, ...}); raises
    :class:`TheoryError` when no theorem admits a value."""
    from .registry import get

    params = dict(planned.params)
    choices: dict[str, Any] = {}
    ids = list(theorem_ids or planned.theorems)
    for name in [k for k, v in params.items() if v == THEORY]:
        chosen = None
        tried = []
        for tid in ids:
            thm = get(tid)
            link = thm.runmap.symbol_for(name) if thm.runmap is not None else None
            if link is None or not (thm.about(planned.family) or tid in planned.covers):
                continue
            var, back = link   # the theorem's symbol, and how its value maps back to the plugin parameter
            trial = replace(planned, params={k: (1.0 if v == THEORY else v) for k, v in params.items()})
            try:
                mapped = thm.runmap.map(trial)
            except NotApplicable as exc:
                tried.append(f"{tid}: {exc}")
                continue
            values = mapped.inputs
            res = thm.solve_best_rate(var, values)
            if res.get("value") is None:
                tried.append(f"{tid}: {res.get('reason')}")
                continue
            if back is not None:
                res = {**res, "symbol_value": res["value"], "value": back(res["value"], values, mapped)}
            chosen = (tid, res)
            break
        if chosen is None:
            why = "; ".join(tried) if tried else f"none of its theorems ({', '.join(ids) or 'none'}) sets '{name}'"
            raise TheoryError(f"plugin {planned.plugin}: no theorem admits a value for '{name}' here ({why})")
        tid, res = chosen
        value = res["value"]
        params[name] = int(value) if kinds.get(name) == "int" else float(value)
        choices[name] = {"value": value, "theorem": tid, "binding": res.get("binding", []),
                         **({"symbol_value": res["symbol_value"]} if "symbol_value" in res else {}),
                         "free_chosen": res.get("free_chosen", {}), "workers": planned.workers,
                         **{k: res[k] for k in ("largest", "rate_factor", "rate_factor_at_largest") if k in res},
                         "policy": res.get("policy", "largest admissible value, other parameters fixed")}
    return params, choices



def step_hint(thm, meta, failing: Sequence[str], params: Mapping[str, Any]) -> str:
    """What a run outside ``thm``'s conditions could have used instead, in words: for each plugin
    parameter ``=theory`` may choose (``thm.runmap.theory``) that a failing condition depends on, and
    each one the theorem derives its symbols from (``thm.derived_inputs``: AsySVRG's u0 from eta), the
    largest value the theorem admits with the run's other values fixed (:meth:`Theorem.solve`) and,
    where ``=theory`` may choose it, its choice (:meth:`Theorem.solve_best_rate`), both as the plugin's
    parameter. Said only where the run's value is above the largest admitted (the step is too large);
    '' otherwise, or where the theorem admits no value at the run's other values (changing that
    parameter alone does not help). ``meta``: the run group mapped onto the symbols
    (:class:`~harness.theory.runmap.Mapped`); ``failing``: the failing conditions' names; ``params``:
    the run's parameters."""
    if thm.runmap is None:
        return ""
    rels = {c.name: c.rel for c in thm.conditions}
    chosen = {p: thm.runmap.symbol_for(p) for p in thm.runmap.theory}
    derived = {p: (p, None) for p in thm.derived_inputs if p in params and p not in chosen}
    out = []
    for param, (var, back) in {**chosen, **derived}.items():
        if param in chosen and not any(var in {s.name for s in thm.expand(rels[n]).free_symbols}
                                       for n in failing if n in rels):
            continue
        values = dict(meta.inputs)
        others = {k: v for k, v in values.items() if k != var}
        try:
            res = thm.solve_best_rate(var, others) if param in chosen else thm.solve(var, others)
            if res.get("value") is None:
                continue
            as_param = (lambda x: x) if back is None else (lambda x: back(x, values, meta))
            ran = as_param(values[var]) if var in values else float(params[param])
            largest = as_param(res.get("largest", res["value"]))
            best = as_param(res["value"])
        except (TheoryError, KeyError, TypeError, ValueError, ZeroDivisionError, ArithmeticError):
            continue
        if not ran > largest:
            continue
        out.append(f"{param} = {ran:.4g} is too large for this theorem: with the run's other values it admits "
                   f"{param} <= {largest:.4g}" + (f", and --param {param}=theory takes {param} = {best:.4g}"
                                                  if param in chosen else "")
                   + f" (harness theory solve {thm.id} --for {param})")
    return "; ".join(out)
