"""Theory-guided parameters: ``--param eta=theory`` takes the largest value the plugin's linked theorem
admits for this workload and worker count.

Before a run nothing is measured, so the inputs are the facts of a *planned* run
(:class:`~harness.theory.facts.RunFacts` built by the harness: the workload's constants, the run's
other parameters, and, for the delay, the value a run with this many workers is expected to see: 0
for one worker and ``workers - 1`` otherwise, a parameter server with K equally fast workers, notes
Sec. 3.3). The checker later uses the delay the run actually measured, so a run whose real delay
exceeds the assumption is reported ``not-applicable`` rather than silently passing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping, Sequence

from .errors import NotApplicable, TheoryError
from .facts import RunFacts

THEORY = "theory"


def choose_parameters(planned: RunFacts, kinds: Mapping[str, str], theorem_ids: Sequence[str] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """Replace every parameter whose value is ``"theory"`` by the largest value the first linked
    theorem that sets it admits (other parameters fixed). ``kinds``: parameter name -> 'int' or
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
            if name not in thm.guided or thm.adapter is None:
                continue
            var = thm.guided[name]
            back = None
            if isinstance(var, tuple):  # (theorem symbol, maps its value back to the plugin parameter)
                var, back = var
            trial = replace(planned, params={k: (1.0 if v == THEORY else v) for k, v in params.items()})
            try:
                values = thm.adapter(trial)
            except NotApplicable as exc:
                tried.append(f"{tid}: {exc}")
                continue
            res = thm.solve(var, values)
            if res.get("value") is None:
                tried.append(f"{tid}: {res.get('reason')}")
                continue
            if back is not None:
                res = {**res, "symbol_value": res["value"], "value": back(res["value"], values)}
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
                         "policy": "largest admissible value, other parameters fixed"}
    return params, choices
