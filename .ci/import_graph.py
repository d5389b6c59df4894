"""Measure the ``harness`` import graph of an installed copy: import loops and upward arrows.

Usage: ``PYTHONPATH=<site dir holding harness/> python .ci/import_graph.py [--list]``, e.g. after
``pip install --no-deps --no-build-isolation --target "$tmp" .`` (grimp reads the package from disk,
and only an installed copy has ``harness.plugins`` / ``.theory`` / ``.suites`` under ``harness/``).

Loops: strongly connected components of the module graph with more than one module (lazy imports
inside functions count: they are dependencies too). Upward arrows: an import from a lower layer
to a higher one, layers as in docs/architecture.md (import-linter checks the same rules in CI):

    7 entry      harness.cli (the sub-commands), harness.__main__
    6 analysis   harness.analysis (compare, gate, report, results, profiles, stats, contract)
    5 run        harness.run (runner, executors, suite, checking, store, metrics, manifest)
    4 catalogs   harness.plugins.<backend>.catalog, harness.suites
    3 backends   harness.plugins.<backend> (serial, threads, sim, mpi, torch_dp, torch_mp)
    2 shared     harness.plugins.algorithms, harness.plugins.launchers;  harness.theory
    1 api        harness.api, the one module plugins and workloads import
    0 core       harness._core (private machinery), the harness package itself

plus sideways arrows: between two different backends (their catalogs included), and between theory
and the algorithms / launchers; theory's arrows into the harness internals (run, analysis, cli, the
registry), which the rules forbid whatever the levels; and plugins' or workloads' arrows into
any harness module other than harness.api (the one door).
"""

from __future__ import annotations

import sys

import grimp

BACKENDS = ("serial", "threads", "sim", "mpi", "torch_dp", "torch_mp")
LAYERS = {"cli": (7, "entry"), "__main__": (7, "entry"), "analysis": (6, "analysis"), "run": (5, "run"),
          "api": (1, "api"), "_core": (0, "core")}


def level(m: str) -> tuple[int, str]:
    parts = m.split(".")
    if parts[:2] == ["harness", "suites"]:
        return 4, "catalogs"
    if parts[:2] == ["harness", "plugins"] and len(parts) >= 3:
        if parts[2] in BACKENDS:
            return (4, "catalogs") if len(parts) >= 4 and parts[3] == "catalog" else (3, "backend:" + parts[2])
        return 2, "shared:" + parts[2]
    if parts[:2] == ["harness", "plugins"]:
        return 3, "backends"
    if parts[:2] == ["harness", "theory"]:
        return 2, "theory"
    if len(parts) >= 2 and parts[1] in LAYERS:
        return LAYERS[parts[1]]
    return 0, "core"


def backend_of(m: str) -> str | None:
    parts = m.split(".")
    return parts[2] if parts[:2] == ["harness", "plugins"] and len(parts) >= 3 and parts[2] in BACKENDS else None


THEORY_FORBIDDEN = ("harness.run", "harness.analysis", "harness.cli", "harness._core.registry")
# what plugins and workloads may import of the harness: the author API and the three folders
DOOR = ("harness.api", "harness.plugins", "harness.suites", "harness.theory")


def inside(m: str, prefixes) -> bool:
    return any(m == p or m.startswith(p + ".") for p in prefixes)


def sccs(nodes, edges):
    """Tarjan's strongly connected components (iterative)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(edges.get(root, ())))]
        index[root] = low[root] = counter[0]; counter[0] += 1; stack.append(root); on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]; counter[0] += 1; stack.append(w); on.add(w)
                    work.append((w, iter(edges.get(w, ()))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop(); on.discard(w); comp.append(w)
                        if w == v:
                            break
                    out.append(sorted(comp))
    return out


def main(argv):
    graph = grimp.build_graph("harness", include_external_packages=False)
    nodes = sorted(graph.modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in nodes}
    loops = [c for c in sccs(nodes, edges) if len(c) > 1]
    upward, sideways, theory_in, bypass = [], [], [], []
    for a in nodes:
        for b in edges[a]:
            if b == "harness" or (a.startswith(b + ".")):
                continue   # a package's own __init__
            (la, na), (lb, nb) = level(a), level(b)
            if lb > la:
                upward.append((a, b))
            ba, bb = backend_of(a), backend_of(b)
            if (ba and bb and ba != bb) or {na.split(":")[0], nb.split(":")[0]} == {"theory", "shared"}:
                sideways.append((a, b))
            if inside(a, ("harness.theory",)) and inside(b, THEORY_FORBIDDEN):
                theory_in.append((a, b))
            if inside(a, ("harness.plugins", "harness.suites")) and not inside(b, DOOR):
                bypass.append((a, b))
    arrows = sum(len(v) for v in edges.values())
    layers = len({level(m)[0] for m in nodes})
    print(f"modules {len(nodes)}  import arrows {arrows}  layers {layers}")
    print(f"import loops (strongly connected components > 1 module): {len(loops)}"
          f"  (modules in them: {sum(map(len, loops))})")
    print(f"upward arrows: {len(upward)}  sideways arrows (backend -> other backend, theory <-> shared): {len(sideways)}"
          f"  theory -> run/analysis/cli/registry: {len(theory_in)}"
          f"  plugins/suites -> harness internals (not harness.api): {len(bypass)}")
    if "--list" in argv:
        for c in loops:
            print("  loop:", " <-> ".join(c))
        for a, b in upward:
            print(f"  up:   {a} -> {b}   ({level(a)[1]} -> {level(b)[1]})")
        for a, b in sideways:
            print(f"  side: {a} -> {b}")
        for a, b in theory_in:
            print(f"  theory: {a} -> {b}")
        for a, b in bypass:
            print(f"  bypass: {a} -> {b}")


if __name__ == "__main__":
    main(sys.argv[1:])
