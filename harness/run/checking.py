"""The harness side of the theory checker: it builds the typed facts of a run
(:class:`harness.theory.facts.RunFacts`) from a stored run or a planned one, asks the checker for
verdicts, and stores them with the runs. The theory package never sees the store, the runner or the
plugin registry; this module is the one bridge.

- :func:`run_facts` / :func:`planned_facts`: a stored :class:`~harness.run.store.RunRecord` (or a spec
  about to run) -> RunFacts, including the quantities at the optimum a theorem may need
  (the workload's ``optimum_facts()``) and the step sizes the plugin reported it applied (``info["applied"]``);
- :func:`check`: verdicts for stored runs (seeds of one configuration pooled), saved to a store;
- :func:`choose_parameters`: ``eta=theory`` for a spec (``harness.run.runner.resolve`` calls it).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Sequence

from harness._core.errors import UserError
from .metrics import tau_max


def _theory():
    try:
        from harness.theory import checker, facts, guided
    except ImportError as exc:  # pragma: no cover - the theory package ships with the harness
        raise UserError(f"the theory module is not available: {exc}") from None
    return checker, facts, guided


def group_key(run) -> str:
    """Runs that differ only in their seed (the checker pools them): ``harness._core.identity``'s 'seeds' view."""
    from harness._core.identity import canonical, record_key

    return canonical(record_key(run, "seeds"))


def optimum_facts(workload) -> dict[str, float]:
    """The workload's quantities at its optimum (:meth:`Workload.optimum_facts`; empty if unknown)."""
    try:
        return dict(workload.optimum_facts())
    except Exception:  # noqa: BLE001 - facts are optional inputs; a missing one makes a theorem not-applicable
        return {}


@lru_cache(maxsize=16)
def _stored_optimum_facts(name: str, params_json: str, identity: str) -> dict[str, float]:
    """Keyed by the data's identity too (``identity``: a file's content hash for a file-backed
    workload), so an edited file never gets the facts of its old content; 16 small dicts at most."""
    from harness._core.registry import build_workload

    return optimum_facts(build_workload(name, json.loads(params_json)))


def stored_optimum_facts(workload: str, workload_params: dict[str, Any]) -> dict[str, float]:
    """:func:`optimum_facts` of a stored run's workload, rebuilt from its name and parameters."""
    try:
        from harness._core.registry import build_workload

        identity = build_workload(workload, workload_params).data_identity()
        return dict(_stored_optimum_facts(workload, json.dumps(workload_params, sort_keys=True),
                                           json.dumps(identity, sort_keys=True, default=str)))
    except Exception:  # noqa: BLE001 - facts are optional inputs; a missing one makes a theorem not-applicable
        return {}


def linked_theorems(plugin: str) -> tuple[str, ...]:
    from harness._core.registry import plugins

    spec = plugins().items.get(plugin)
    return tuple(spec.theorems) if spec is not None else ()


def covered_theorems(plugin: str) -> tuple[str, ...]:
    """The linked theorems about another family that the plugin says its algorithm is a case of."""
    from harness._core.registry import plugins

    spec = plugins().items.get(plugin)
    return tuple(spec.covers) if spec is not None else ()


def expected_applied(pspec) -> tuple[str, ...]:
    """The applied values the plugin's linked theorems read (their run maps' ``Applied`` sources that
    the plugin declares): what ``ctx.applied(...)`` is checked against at run start."""
    try:
        from harness.theory.registry import get

        maps = [get(tid).runmap for tid in pspec.theorems]
        names = [n for m in maps if m is not None for n in m.required_applied(required=False)]
    except Exception:  # noqa: BLE001 - a missing theorem is check-plugin's finding, not a reason to stop a run
        return ()
    declared = set(pspec.paramset.names())
    return tuple(n for n in dict.fromkeys(names) if n in declared)


def run_facts(rec) -> Any:
    """The facts of a stored run."""
    _, facts, _ = _theory()
    return facts.RunFacts(
        plugin=rec.plugin, family=rec.family, backend=rec.backend, workload=rec.workload, workers=rec.workers,
        seed=rec.seed, status=rec.status, params=dict(rec.params), constants=dict(rec.constants),
        points=tuple(rec.points), info=dict(rec.info or {}), applied=dict((rec.info or {}).get("applied") or {}),
        workload_facts=stored_optimum_facts(rec.workload, rec.workload_params),
        tau_max=tau_max(rec), theorems=linked_theorems(rec.plugin), covers=covered_theorems(rec.plugin),
        group=group_key(rec), run_id=rec.id, label=rec.label())


def planned_facts(pspec, workload, params: dict[str, Any], workers: int) -> Any:
    """The facts of a run about to start (for ``eta=theory``): no points; the delay a run with
    ``workers`` equally fast workers is expected to see, ``workers - 1``."""
    _, facts, _ = _theory()
    try:
        constants = {k: float(v) for k, v in workload.constants().items()}
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"'theory' values need the workload's constants, which failed: {exc}") from None
    return facts.RunFacts(
        plugin=pspec.name, family=pspec.family, backend=pspec.backend, workload=workload.name, workers=workers,
        seed=0, status="planned", params=dict(params), constants=constants,
        applied=pspec.derive({k: (1.0 if v == "theory" else v) for k, v in params.items()}, workload),
        workload_facts=optimum_facts(workload),
        tau_max=float(max(workers - 1, 0)), theorems=tuple(pspec.theorems), covers=tuple(pspec.covers))


def choose_parameters(pspec, workload, params: dict[str, Any], workers: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """``eta=theory``: the value with the plugin's linked theorem's best guarantee (see harness.theory.guided)."""
    checker, _, guided = _theory()
    from harness.theory.errors import TheoryError

    kinds = {name: pspec.paramset.get(name).kind for name in params}
    planned = planned_facts(pspec, workload, params, workers)
    try:
        params, choices = guided.choose_parameters(planned, kinds)
    except TheoryError as exc:
        raise UserError(str(exc)) from None
    if "max_delay" in params and params["max_delay"] is None and choices:
        # the step was solved for tau_max = workers - 1; a server left unbounded lets the OS make the
        # delay larger (tau_max 4 with 2 workers), outside the conditions the step was chosen under
        params["max_delay"] = int(planned.tau_max)
        first = next(iter(choices.values()))
        choices["max_delay"] = {"value": params["max_delay"], "theorem": first["theorem"], "workers": workers,
                                "policy": "the delay the theory's step was solved for (workers - 1), enforced by the server"}
    return params, choices


def check(records: Sequence, theorem_ids: Sequence[str] | None = None, *, store=None, save: bool = True,
          alpha: float | None = None) -> list:
    """Verdicts (:class:`harness.theory.verdict.Verdict`) for stored runs; saved with every run of
    each group when a store is given."""
    checker, _, _ = _theory()
    kw = {} if alpha is None else {"alpha": alpha}
    from harness._core.identity import latest_per_key

    # each seed once: the newest run of a seed, whatever reruns or code versions the store holds
    verdicts = checker.check([run_facts(r) for r in latest_per_key(list(records))], theorem_ids, **kw)
    if store is not None and save:
        # each verdict is stored only with the content it judged (another process may replace a run)
        created = {r.id: r.created or None for r in records if r.id is not None}
        for v in verdicts:
            for rid in v.runs:
                if rid is not None:
                    store.save_verdict(rid, v.theorem, v.verdict, v.to_dict(), measured=created.get(rid))
    return verdicts
