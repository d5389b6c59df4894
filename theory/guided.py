"""Theory-guided parameters: ``--param eta=theory`` takes the largest value the plugin's linked theorem
admits for this workload and worker count (``harness.runner.resolve`` calls :func:`choose_parameters`).

Before a run nothing is measured, so the inputs are the workload's constants, the run's other
parameters, and, for the delay, the value a run with this many workers is expected to see: 0 for
one worker and ``workers - 1`` otherwise (a parameter server with K equally fast workers, notes
Sec. 3.3). The checker later uses the delay the run actually measured, so a run whose real delay
exceeds the assumption is reported ``not-applicable`` rather than silently passing.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from harness.errors import UserError
from harness.params import THEORY

from .core import NotApplicable


def _pseudo_run(pspec, workload, params: dict[str, Any], workers: int):
    try:
        constants = {k: float(v) for k, v in workload.constants().items()}
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"'theory' values need the workload's constants, which failed: {exc}") from None
    delay = 0.0 if workers <= 1 else float(workers - 1)
    return SimpleNamespace(plugin=pspec.name, params=params, constants=constants, workers=workers,
                           backend=pspec.backend, points=[{"tau_max": delay}] if workers > 1 else [],
                           info={}, workload=workload.name, workload_params=workload.params, seed=0, id=None,
                           status="planned", ok=True)


def choose_parameters(pspec, workload, params: dict[str, Any], workers: int) -> tuple[dict[str, Any], dict[str, Any]]:
    from .registry import get

    params = dict(params)
    wanted = [k for k, v in params.items() if v == THEORY]
    choices: dict[str, Any] = {}
    for name in wanted:
        chosen = None
        tried = []
        for tid in pspec.theorems:
            thm = get(tid)
            if name not in thm.guided or thm.adapter is None:
                continue
            var = thm.guided[name]
            back = None
            if isinstance(var, tuple):  # (theorem symbol, maps its value back to the plugin parameter)
                var, back = var
            trial_params = {k: (1.0 if v == THEORY else v) for k, v in params.items()}
            try:
                values = thm.adapter(_pseudo_run(pspec, workload, trial_params, workers))
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
            why = "; ".join(tried) if tried else f"none of its theorems ({', '.join(pspec.theorems) or 'none'}) sets '{name}'"
            raise UserError(f"plugin {pspec.name}: no theorem admits a value for '{name}' here ({why})")
        tid, res = chosen
        value = res["value"]
        kind = pspec.paramset.get(name).kind
        params[name] = int(value) if kind == "int" else float(value)
        choices[name] = {"value": value, "theorem": tid, "binding": res.get("binding", []),
                         **({"symbol_value": res["symbol_value"]} if "symbol_value" in res else {}),
                         "free_chosen": res.get("free_chosen", {}), "workers": workers,
                         "policy": "largest admissible value, other parameters fixed"}
    return params, choices
