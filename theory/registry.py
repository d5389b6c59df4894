"""Every registered theorem, by id (``all_theorems()``, ``get(id)``, ``problems()``).

Theorems are plugins: the entry-point group ``harness.theorems`` names, per entry, a
:class:`~harness.theory.statement.Theorem` or a list of them (``mypkg = "mypkg.theorems:THEOREMS"``);
the built-in papers register exactly so (pyproject.toml). The entry's name is the theorems'
namespace: every id must start with ``<entry name>.``, so two packages cannot collide silently. A
broken entry (import error, not a Theorem, an id outside its namespace, an entry name taken by
another package) is left out and reported once, as one warning line on stderr; the others load.
``HARNESS_EXTRA_THEOREMS`` (comma-separated ``name=module:attr``) adds entries without installing a
distribution (tests, trying a theorem out).
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from functools import lru_cache
from importlib.metadata import entry_points

from .errors import TheoryError
from .statement import Theorem

GROUP = "harness.theorems"
# the built-in papers' entries, in the order they are listed (others follow, by name)
BUILTIN = ("asysvrg", "dfsdca", "large_batch", "ddg", "features_replay", "minibatch", "growing_batch")

# statements of the papers deliberately not encoded as Theorem objects, and why
LEFT_OUT = {
    "asysvrg.lem-2.3.1": "a lemma bounding sum E||v_t||^2 by sum E||u_t||^2 (2.8): an intermediate step, not a "
                         "convergence bound; it is part of thm-2.3.1's conditions (D - 2L^2 Delta^2 eta^2 > 0)",
    "dfsdca.lem-3.4.1/3.4.2": "one-step inequalities for A_t, B_t (3.16)-(3.17), (3.28)-(3.29) used by thms 3.4.1-3.4.4; "
                              "their errata (missing H, '2H tau H^2') are recorded in those theorems",
    "large_batch.lem-4.3.1/4.3.2/4.3.3": "one-step inequalities and the momentum auxiliary sequence behind thms 4.3.1/4.3.2",
    "ddg.lem-5.4.1 / features_replay.lem-6.4.1": "one-step descent lemmas; their summed forms are thms 5.4.1/5.4.2, 6.4.1/6.4.2",
    "ddg.cor-5.4.1/5.4.2, features_replay.rem-6.4.1": "limit statements (the right side of (5.24)/(6.19) -> 0), "
                                                      "implied by the encoded diminishing-rate theorems",
    "growing_batch.thm-1": "correctness of the protocol (the produced sequence follows recursion (2) with delay tau): "
                           "a property of an implementation, checked by the plugin's delay invariant, not a bound",
    "growing_batch.lem-5": "the general bound E||w_t - w*||^2 <= 4 alpha^2 D N/(mu^2 t) + O(1/(t ln t)) (Supp. C.2.2) that "
                           "Theorem 2 instantiates with alpha = 36, D = 1: its conditions are growing_batch.thm-2's; "
                           "a separate Theorem would add nothing checkable, since its O(1/(t ln t)) term has no constant "
                           "either (asymptotic only)",
    "growing_batch.supp-C.2.1": "the constant-step benchmark cited from Leblond et al. 2018 without proof: its contraction "
                                "is printed rho = aL/mu, which is >= 1 in every regime of interest (a typo; the intended "
                                "value is not derivable from the papers encoded here, and Leblond et al. is not among them), so "
                                "the bound cannot be encoded faithfully; its sample-size cap is s <= 1/(eta mu (d+1)) "
                                "(docs/derivations.md, growing_batch, 'sample-size cap')",
    "growing_batch.lem-1..4": "sample-size and step-size recipes: encoded as functions in harness.theory.growing_batch "
                              "(sample_sizes_*, tau_*, property_3_holds, round_step_sizes) and tested, not as bounds",
}


def _entries() -> list[tuple[str, str, object]]:
    """(entry name, where it comes from, loader) for the group and ``HARNESS_EXTRA_THEOREMS``."""
    from harness._core.errors import DISTRIBUTION

    out: list[tuple[str, str, object]] = []
    # this package's own entries first: its namespaces are reserved, so an outside package that takes
    # the name 'minibatch' is the one left out (and named), never the paper's theorems
    eps = sorted(entry_points(group=GROUP),
                 key=lambda ep: (getattr(getattr(ep, "dist", None), "name", None) or "") != DISTRIBUTION)
    for ep in eps:
        dist = getattr(getattr(ep, "dist", None), "name", None) or "?"
        out.append((ep.name, f"{dist} ({ep.value})", ep.load))
    for ref in filter(None, (os.environ.get("HARNESS_EXTRA_THEOREMS") or "").split(",")):
        name, _, target = ref.strip().partition("=")
        module, _, attr = target.partition(":")
        out.append((name, target, lambda m=module, a=attr: getattr(importlib.import_module(m), a)))
    return out


def _theorems_of(obj) -> list[Theorem]:
    items = [obj] if isinstance(obj, Theorem) else list(obj) if isinstance(obj, (list, tuple)) else None
    if items is None or not all(isinstance(t, Theorem) for t in items):
        bad = obj if items is None else next(t for t in items if not isinstance(t, Theorem))
        raise TypeError(f"expected a Theorem or a list of them, got {type(bad).__name__}")
    return items


@lru_cache(maxsize=1)
def _load() -> tuple[dict[str, Theorem], dict[str, str]]:
    out: dict[str, Theorem] = {}
    problems: dict[str, str] = {}
    owners: dict[str, str] = {}
    for name, where, loader in _entries():
        if name in owners:
            problems[name] = f"entry name '{name}' is already registered by {owners[name]}; left out {where}"
            continue
        try:
            thms = _theorems_of(loader())
            outside = [t.id for t in thms if not t.id.startswith(name + ".")]
            if outside:
                raise ValueError(f"theorem id(s) {', '.join(outside)} outside the entry's namespace '{name}.'")
        except Exception as exc:  # noqa: BLE001 - third-party code: reported, never raised
            problems[name] = f"{type(exc).__name__}: {exc}"
            continue
        owners[name] = where
        for t in thms:
            if t.id in out:
                problems[name] = f"duplicate theorem id {t.id}"
                continue
            out[t.id] = t
    for name, why in sorted(problems.items()):
        print(f"harness: warning: broken theorem entry point '{name}': {why}", file=sys.stderr)
    return out, problems


def problems() -> dict[str, str]:
    """Broken ``harness.theorems`` entries: name -> why."""
    return dict(_load()[1])


def all_theorems() -> list[Theorem]:
    return [t for _, t in sorted(_load()[0].items(), key=lambda kv: _order(kv[0]))]


def get(theorem_id: str) -> Theorem:
    thms = _load()[0]
    if theorem_id in thms:
        return thms[theorem_id]
    from harness._core.errors import close_matches

    close = close_matches(theorem_id, thms)  # the list to pick from either way (check-theorem nosuch said nothing more)
    raise TheoryError(f"unknown theorem '{theorem_id}' (" + (f"did you mean: {', '.join(close)}?; " if close else "")
                      + "see: harness list theorems)")


def ids() -> list[str]:
    return [t.id for t in all_theorems()]


def _order(tid: str):
    paper, _, rest = tid.partition(".")
    idx = BUILTIN.index(paper) if paper in BUILTIN else len(BUILTIN)
    nums = [int(x) for x in re.findall(r"\d+", rest)]
    return (idx, paper, rest.split("-")[0] != "thm" and rest.split("-")[0] != "lem", nums, rest)


@lru_cache(maxsize=1)
def workload_constants() -> frozenset[str]:
    """The constant names the registered workloads declare (``WorkloadSpec(constants=...)``: what their
    ``constants()`` provides), read from the ``harness.workloads`` entry points and
    ``HARNESS_EXTRA_WORKLOADS`` like the harness's registry reads them; a broken entry adds nothing.
    ``harness check-theorem`` checks a run map's :class:`~.runmap.Constant` sources against them."""
    loaders = [ep.load for ep in entry_points(group="harness.workloads")]
    for ref in filter(None, (os.environ.get("HARNESS_EXTRA_WORKLOADS") or "").split(",")):
        module, _, attr = ref.strip().partition(":")
        loaders.append(lambda m=module, a=attr: getattr(importlib.import_module(m), a))
    names: set[str] = set()
    for load in loaders:
        try:
            obj = load()
            specs = obj if isinstance(obj, (list, tuple)) else list(obj.values()) if isinstance(obj, dict) else [obj]
            for spec in specs:
                names.update(getattr(spec, "constants", ()) or ())
        except Exception:  # noqa: BLE001 - a broken workload entry is the harness registry's finding
            continue
    return frozenset(names)
