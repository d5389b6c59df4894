"""What makes two runs "the same run": one definition, several views of it.

A run's identity is a dict of parts (:data:`PARTS`):

- ``plugin``, ``params`` (as asked: a value the theory chose stays ``"theory"``), ``workers``,
  ``seed``, ``budget``, ``target``, ``options`` (those that change what is computed);
- ``workload``: the workload's name and parameters as a user wrote them;
- ``data``: the content of the workload's data (:meth:`Workload.data_identity`: a file's SHA-256,
  or a generator's parameters and version);
- ``code``: a fingerprint of the source the plugin runs (:func:`code_fingerprint`);
- ``harness``: the harness version.

Views (:data:`VIEWS`) name which parts a comparison keeps: the results cache keeps them all (a
change of data, code or anything asked reruns); the gate pairs a baseline run with the current one
of the same benchmark on the same data, budget and target (code may differ: that is what it judges); the theory checker and ``compare``
pool the seeds of one group. :func:`key` is the only function that turns parts into a key;
:func:`latest_per_key` is how everything that pools seeds counts each seed once.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .params import THEORY

PARTS = ("plugin", "params", "workload", "data", "workers", "seed", "budget", "target", "options", "code",
         "harness")

VIEWS: dict[str, tuple[str, ...]] = {
    "cache": PARTS,                                                               # the results cache
    "benchmark": ("plugin", "params", "workload", "workers", "seed"),             # one seed of one benchmark
    "gate": ("plugin", "params", "workload", "workers", "seed", "data", "budget", "target"),  # baseline <-> current
    "seeds": ("plugin", "params", "workload", "workers", "backend"),              # theory checker: a seed group
    "group": ("workload", "workers", "plugin", "params"),                          # compare / report groups
}


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def digest(obj: Any, n: int = 24) -> str:
    return hashlib.sha256(canonical(obj).encode()).hexdigest()[:n]


def key(parts: Mapping[str, Any], view: str = "cache") -> tuple:
    """The key of ``parts`` under ``view``: a tuple with one entry per kept part, in the view's
    order; a string or number stays as it is, a dict or list becomes its canonical JSON (read it
    back with ``json.loads``)."""
    return tuple(_hashable(parts.get(p)) for p in VIEWS[view])


def _hashable(v: Any) -> Any:
    return v if v is None or isinstance(v, (str, int, float, bool)) else canonical(v)


def run_hash(parts: Mapping[str, Any]) -> str:
    """The results cache's key as a short hex digest (stored as ``runs.hash``)."""
    return digest(key(parts, "cache"))


def asked_params(params: Mapping[str, Any], theory_choices: Iterable[str] | None) -> dict[str, Any]:
    """The parameters as asked for: a value the theory chose reads 'theory' again."""
    return {**params, **{k: THEORY for k in (theory_choices or ())}}


def parts_of_record(rec) -> dict[str, Any]:
    """A stored run's identity parts: what it stored, completed from its fields (older runs and
    exports from before identities were stored)."""
    info = rec.info or {}
    stored = dict(info.get("identity") or {})
    tgt = rec.target or {}
    derived = {
        "plugin": rec.plugin,
        "params": asked_params(rec.params, (info.get("theory_choices") or {})),
        "workload": {"name": rec.workload, "params": rec.workload_params},
        "workers": rec.workers,
        "seed": rec.seed,
        "budget": rec.budget or {},
        "target": [tgt.get("metric"), tgt.get("value")],
        "backend": rec.backend,
    }
    return {**derived, **{k: v for k, v in stored.items() if k in PARTS and k not in derived}}


def evaluated_params(rec) -> dict[str, Any]:
    """The workload parameters a stored run was *evaluated* with: its own, with the evaluation subset
    its plan chose (``info['eval_plan']``, :mod:`.evalplan`) in place of the one it asked for. Every
    view but the cache's keys runs by these: runs whose points were evaluated on different subsets
    are never grouped, pooled or paired as one, and a run on a planned subset of m samples is a run
    that asked for m (the same m samples: the first m of one seeded permutation)."""
    from .evalplan import subsampled

    plan = (getattr(rec, "info", None) or {}).get("eval_plan")
    params = dict(rec.workload_params or {})
    if subsampled(plan):
        params[plan.get("param", "eval_n")] = plan["eval_n"]
    return params


def record_key(rec, view: str) -> tuple:
    """The key of a stored run under ``view``; outside the cache's view its workload is the one it
    was evaluated on (:func:`evaluated_params`)."""
    parts = parts_of_record(rec)
    if view != "cache":
        parts = {**parts, "workload": {"name": rec.workload, "params": evaluated_params(rec)}}
    return key(parts, view)


def latest_per_key(records: Sequence, view: str = "benchmark") -> list:
    """Records with one per key under ``view`` (the newest: highest id, else latest created),
    in their first-seen order. Pooling seeds over these counts each seed once, whatever reruns,
    ``--force`` or code versions the store holds."""
    best: dict[tuple, Any] = {}
    order: list[tuple] = []
    for r in records:
        k = record_key(r, view)
        if k not in best:
            order.append(k)
            best[k] = r
        elif _newer(r, best[k]):
            best[k] = r
    return [best[k] for k in order]


def _newer(a, b) -> bool:
    ia, ib = getattr(a, "id", None), getattr(b, "id", None)
    if ia is not None and ib is not None and ia != ib:
        return ia > ib
    return (getattr(a, "created", 0) or 0) > (getattr(b, "created", 0) or 0)


# -- file contents --------------------------------------------------------------------------------
_file_memo: dict[tuple, str] = {}


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes. Fast path: (size, mtime_ns, ctime_ns, inode) unchanged since it
    was last hashed (in this process, or recorded under the harness cache folder) reuses that hash;
    any change of them hashes the bytes again, which are the truth. The status-change time is in
    the stamp because the modification time can be set back (``touch -r``, ``cp -p`` over an
    existing file): an edit of the same size restored to the old mtime was served the old hash,
    and with it the old run and the old optimum. Nothing but the kernel sets ctime."""
    p = Path(path).resolve()
    st = p.stat()
    stamp = (str(p), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    hit = _file_memo.get(stamp)
    if hit is not None:
        return hit
    from .cache import cache_dir

    rec_path = cache_dir() / "files" / f"{digest(str(p), 32)}.json"
    try:
        rec = json.loads(rec_path.read_text())
        if rec.get("stamp") == list(stamp):
            _file_memo[stamp] = rec["sha256"]
            return rec["sha256"]
    except (OSError, ValueError, KeyError):
        pass
    h = hashlib.sha256()
    with p.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    sha = h.hexdigest()
    _file_memo[stamp] = sha
    try:
        rec_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = rec_path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({"stamp": list(stamp), "sha256": sha}))
        os.replace(tmp, rec_path)
    except OSError:
        pass
    return sha


# -- code -------------------------------------------------------------------------------------------
_code_memo: dict[str, dict[str, Any]] = {}


# what measures every run, whatever the plugin: the monitor (snapshots, stopping) and the context
MEASURING = ("harness._core.monitor", "harness._core.context")


def code_fingerprint(impl: str, also: Sequence[str] = ()) -> dict[str, Any]:
    """A fingerprint of the source a run executes: ``impl`` is the plugin's ``"package.module:callable"``,
    ``also`` more modules (the workload's class module).

    The files are the modules of the impl's own package (a backend's launcher starts sibling
    modules by name, e.g. an MPI rank's body), :data:`MEASURING`, ``also``, and every module of
    this project, or of the plugin's own top-level package for an outside plugin, that they
    import, followed transitively through their ``import`` statements (read, not executed; numba
    kernels are modules like any other). Returns ``{"sha256": ..., "files": n}``; cached per process."""
    memo = f"{impl}|{','.join(also)}"
    hit = _code_memo.get(memo)
    if hit is not None:
        return hit
    module = impl.partition(":")[0]
    roots = {"harness", module.split(".")[0], *(m.split(".")[0] for m in also)}
    start = _module_file(module)
    files: dict[str, Path] = {}
    todo: list[tuple[str, Path]] = []
    if start is not None:
        pkg = module if start.name == "__init__.py" else module.rpartition(".")[0]
        pkg_dir = start.parent
        for f in sorted(pkg_dir.glob("*.py")):
            name = pkg if f.name == "__init__.py" else f"{pkg}.{f.stem}" if pkg else f.stem
            todo.append((name, f))
    for extra in (*MEASURING, *also):
        f = _module_file(extra)
        if f is not None:
            todo.append((extra, f))
    _walk_imports(todo, files, lambda dep: dep.split(".")[0] in roots)
    out = {"sha256": _files_digest(files), "files": len(files)}
    _code_memo[memo] = out
    return out


def module_fingerprint(module: str) -> str:
    """SHA-256 (24 hex digits) of the source of ``module`` and of every module of its own top-level
    package that it imports, transitively: what a workload's data generator runs (an edit to it is
    new data; an edit to the harness around it is not). Cached per process."""
    memo = f"module:{module}"
    hit = _code_memo.get(memo)
    if hit is not None:
        return hit["sha256"]
    prefix = module.split(".")[0] if not module.startswith("harness.") else ".".join(module.split(".")[:2])
    files: dict[str, Path] = {}
    start = _module_file(module)
    todo = [(module, start)] if start is not None else []
    _walk_imports(todo, files, lambda dep: dep == prefix or dep.startswith(prefix + "."))
    _code_memo[memo] = {"sha256": _files_digest(files), "files": len(files)}
    return _code_memo[memo]["sha256"]


def _walk_imports(todo: list[tuple[str, Path]], files: dict[str, Path], follow) -> None:
    """Add to ``files`` every module reachable from ``todo`` through imports that ``follow(name)``
    accepts (module name -> source file), each read once."""
    while todo:
        name, f = todo.pop()
        if name in files:
            continue
        files[name] = f
        for dep in _imports(name, f):
            if follow(dep) and dep not in files:
                df = _module_file(dep)
                if df is not None:
                    todo.append((dep, df))


def _files_digest(files: dict[str, Path]) -> str:
    """SHA-256 (24 hex digits) over the modules' names and their files' contents, in name order."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(f"{name}\0{file_sha256(files[name])}\n".encode())
    return h.hexdigest()[:24]


def _module_file(name: str) -> Path | None:
    """The source file of a module, found without importing it (a package: its __init__.py). An
    imported module is its own ``__file__``, and an imported package's ``__path__`` is followed: an
    editable install maps ``harness.suites`` onto the checkout's ``suites/``, outside ``harness/``."""
    mod = sys.modules.get(name)
    if mod is not None and (getattr(mod, "__file__", None) or "").endswith(".py"):
        return Path(mod.__file__)
    parts = name.split(".")
    top = sys.modules.get(parts[0])
    if top is not None and hasattr(top, "__path__"):
        locs = [Path(p) for p in top.__path__]
    else:
        try:
            spec = importlib.util.find_spec(parts[0])
        except (ImportError, ValueError):
            return None
        if spec is None:
            return None
        if spec.submodule_search_locations is None:
            return Path(spec.origin) if len(parts) == 1 and spec.origin and spec.origin.endswith(".py") else None
        locs = [Path(p) for p in spec.submodule_search_locations]
    current = None
    for i, part in enumerate(parts[1:], start=1):
        package = sys.modules.get(".".join(parts[:i]))
        if package is not None and getattr(package, "__path__", None):
            locs = [Path(p) for p in package.__path__]   # where the package really is (package-dir)
        found = None
        for loc in locs:
            if (loc / part / "__init__.py").is_file():
                found, locs = loc / part / "__init__.py", [loc / part]
                break
            if (loc / f"{part}.py").is_file():
                found, locs = loc / f"{part}.py", []
                break
        if found is None:
            return None
        current = found
    if current is None:
        for loc in locs:
            if (loc / "__init__.py").is_file():
                return loc / "__init__.py"
    return current


_import_memo: dict[tuple, list[str]] = {}


def _imports(name: str, path: Path) -> list[str]:
    """Absolute names of the modules a file imports (``from a import b`` gives ``a`` and ``a.b``)."""
    st = path.stat()
    memo_key = (name, str(path), st.st_mtime_ns, st.st_size)
    if memo_key in _import_memo:
        return _import_memo[memo_key]
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError):
        return []
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod:
                out.append(mod)
                out.extend(f"{mod}.{a.name}" for a in node.names if a.name != "*")
    _import_memo[memo_key] = out
    return out
