"""Suite files: a TOML grid over plugins, workloads, parameters, workers and seeds.

```toml
name = "logreg-basics"
[defaults]                    # applies to every [[run]] unless it says otherwise
budget = "epochs=5"           # default: epochs=10, as `harness run --plugin P --workload W`
target = 1e-8                 # suboptimality (or: target = { metric = "test_acc", value = 0.9 })
seeds = 3                     # 3 -> seeds 0, 1, 2; or a list [0, 5]

[[run]]
plugin = ["sgd-serial", "svrg-serial"]     # a list is a grid axis
workload = "logreg"
params = { eta = [0.05, 0.1], b = 4 }     # so is a list-valued parameter
workload_params = { n = 1000, sparse = true }
workers = [1, 2]
options = { timeout_s = 120 }
# size = { param = "n", seconds = [0.1, 0.4] }   # a timed group: `harness gate --save-baseline` picks n
#                                               # so one run takes 0.1-0.4 CPU s here (harness.run.sizing)
```
Errors name the file and the line (TOML syntax) or the [[run]] entry and key (meaning). A relative
data path (``workload_params = { path = "data.svm" }``) is read from the suite file's folder.
"""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path
from typing import Any

from harness._core.errors import UserError, located, unknown
from harness._core.monitor import DEFAULT_BUDGET, POINT_FIELDS, Budget, Schedule, Target
from harness._core.params import Param, ParamSet, distinct, parse_pairs
from .runner import RunSpec

RUN_KEYS = {"plugin", "workload", "params", "workload_params", "workers", "seeds", "budget", "target", "options",
            "schedule", "size"}
# time: the suite's wall time on a 2-core machine, as measured (shown by `harness list suites`)
TOP_KEYS = {"name", "description", "time", "defaults", "run", "report"}
# [report]: the paper and its claim (shown next to what was measured), plots to add, axes, metric
REPORT_KEYS = {"paper", "claim", "claims", "figures", "speedup", "x", "metric", "yscale"}


# report folders are named after suites, beside the index page of all reports (harness.report.write_index)
RESERVED_NAMES = ("index.html", "index.md")

def load_suite(path: str | Path, seeds: list[int] | None = None) -> tuple[str, list[RunSpec], dict[str, Any]]:
    """The suite's name, its runs (each entry's grid expanded, in file order) and its [report] table.
    ``seeds``: run every entry with these seeds instead of its own (``harness run SUITE --seeds``).
    Raises :class:`UserError` naming the file and line (TOML syntax) or ``FILE: [[run]] #k`` (meaning:
    here, or when a run is resolved: unknown names, bad values, worker counts); an axis that is an
    empty list (``plugin = []``, ``params = { eta = [] }``, ``workers = []``) is an error, not zero runs."""
    path = Path(path)
    if not path.exists():
        from harness.suites import shipped_suites, suite_path

        shipped = suite_path(str(path))
        if not shipped.exists():  # a misspelt shipped suite gets the hint `harness list suites NAME` gives
            from harness._core.errors import close_matches

            close = close_matches(path.name.removesuffix(".toml"), shipped_suites()) if path.parent == Path() else []
            hint = f"did you mean: {', '.join(close)}?; " if close else ""
            raise UserError(f"suite file not found: {path} ({hint}see: harness list suites)")
        path = shipped
    from harness._core.paths import text_file

    path = text_file(path, "suite file")  # a folder, an unreadable or binary file: one line
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # a byte-order mark (Notepad) was "malformed"
    except UnicodeDecodeError as exc:
        raise UserError(f"suite file {path} is not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: malformed TOML: {exc}") from None
    extra = set(doc) - TOP_KEYS
    if extra:
        raise UserError(f"{path}: unknown top-level key '{sorted(extra)[0]}' (expected {', '.join(sorted(TOP_KEYS))})")
    report = _report(doc.get("report", {}), path)
    from harness._core.paths import safe_name

    name = doc.get("name", safe_name(path.stem))
    if not isinstance(name, str) or not name.strip():
        raise UserError(f"{path}: name must be a non-empty string, got {name!r}")
    if safe_name(name) != name:  # it names the runs in the store and the report folder: stored as given
        raise UserError(f"{path}: name {name!r} must be a plain name (ASCII letters, digits and . _ + = -, not "
                        f"starting with . or -), e.g. name = {safe_name(name)!r}")
    if name.lower() in RESERVED_NAMES:  # its report folder would take the place of the reports' index page
        raise UserError(f"{path}: name {name!r} is the reports' index page ({', '.join(RESERVED_NAMES)} are "
                        f"reserved), e.g. name = {name.lower().replace('.', '-') + '-suite'!r}")
    for key in ("description", "time"):  # shown by `harness list suites`: text
        if not isinstance(doc.get(key, ""), str):
            raise UserError(f"{path}: {key} must be a string, got {doc[key]!r}")
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, dict):
        raise UserError(f"{path}: [defaults] must be a table, got {defaults!r}")
    entries = doc.get("run", [])
    if not isinstance(entries, list) or not entries:
        raise UserError(f"{path}: a suite needs at least one [[run]] table")
    specs: list[RunSpec] = []
    for k, entry in enumerate(entries, 1):
        where = f"{path}: [[run]] #{k}"
        with located(where):  # every mistake in this entry, whichever check finds it, names the file and entry
            if not isinstance(entry, dict):
                raise UserError(f"must be a table, got {entry!r}")
            merged = {**defaults, **entry}
            bad = set(merged) - RUN_KEYS
            if bad:
                raise UserError(f"unknown key '{sorted(bad)[0]}' (expected {', '.join(sorted(RUN_KEYS))})")
            for key in ("plugin", "workload"):
                if key not in merged:
                    raise UserError(f"missing '{key}'")
            if seeds is not None:  # --seeds: this seed axis in place of the entry's
                merged["seeds"] = list(seeds)
            if isinstance(merged.get("workload_params"), dict):
                merged["workload_params"] = _paths_from(path.parent, merged["workload_params"])
            entry_specs = expand(merged, suite=name)
            size = _sizing(merged, entry_specs)
        for spec in entry_specs:
            spec.where = where  # resolving the spec (names, domains, workers) reports under it too
            spec.size = size
        specs.extend(entry_specs)
    return name, specs, report


def _sizing(entry: dict[str, Any], specs: list[RunSpec]):
    """The entry's ``size = {...}`` checked (:mod:`harness.run.sizing`), or None: it sizes one group,
    so only the seeds may be a list."""
    if "size" not in entry:
        return None
    from .sizing import group_key, parse_sizing

    sizing = parse_sizing(entry["size"], entry.get("workload_params"))
    if len({group_key(s, sizing.param) for s in specs}) > 1:
        raise UserError("size sizes one group of runs: only seeds may be a list in a sized entry")
    from harness._core.registry import workloads

    try:
        domain = workloads().get(specs[0].workload).paramset.get(sizing.param)
    except (UserError, KeyError):  # an unknown workload or parameter: resolving the spec names it
        return sizing
    for key in ("min", "max"):  # min = 1 for n >= 2: a sizing that reached it failed there, after its probes
        value = entry["size"].get(key)
        if value is not None:
            try:
                domain.parse(value)
            except UserError:
                raise UserError(f"size: {key} = {value} is outside the domain of {specs[0].workload}'s "
                                f"{sizing.param} ({domain.domain()})") from None
    return sizing


REPORT_PARAMS = ParamSet((
    Param("paper", "", "str"), Param("claim", "", "str"), Param("figures", "", "str"),
    Param("speedup", False, "bool"),
    Param("metric", "subopt", "choice", choices=tuple(f for f in POINT_FIELDS if f not in ("updates", "samples", "epochs",
                                                                                         "time_s"))),
    Param("yscale", "log", "choice", choices=("log", "linear", "symlog", "logit")),
))
X_AXES = ("updates", "epochs", "samples", "time_s", "rounds")   # rounds: communication rounds (growing-batch plugins)


def _report(report: Any, path: Path) -> dict[str, Any]:
    """The [report] table checked: known keys, each of its type (``x``: a list of x axes)."""
    if not isinstance(report, dict):
        raise UserError(f"{path}: [report] must be a table, got {report!r}")
    bad = sorted(set(report) - REPORT_KEYS)
    if bad:
        raise UserError(f"{path}: [report]: unknown key '{bad[0]}' (expected {', '.join(sorted(REPORT_KEYS))})")
    x = report.get("x", ["updates", "time_s"])
    if not (isinstance(x, list) and x and all(isinstance(a, str) and a in X_AXES for a in x)):
        raise UserError(f"{path}: [report]: x must be a non-empty list of {', '.join(X_AXES)}, got {x!r}")
    checked = REPORT_PARAMS.check({k: v for k, v in report.items() if k not in ("x", "claims")}, f"{path}: [report]")
    from .claims import validate

    claims = validate(report.get("claims", []), f"{path}: [report]")
    return {**report, **checked, "claims": claims}


SCHEDULE = ParamSet((
    Param("ratio", 1.3, "float", low=1.0, open_low=True, doc="geometric spacing of the curve's points"),
    Param("max_interval_s", 2.0, "float", low=0.0, open_low=True, nullable=True, doc="wall-clock floor"),
    Param("min_gap", 1, "int", low=1, doc="at least this many updates between points"),
    Param("eval_fraction", 0.25, "float", low=0.0, open_low=True, nullable=True,
          doc="evaluation budget: postpone a point while evaluating took more than this fraction of the "
              "measured time (+ eval_grace_s); wall-clock, off for deterministic plugins unless the budget is in seconds"),
    Param("eval_grace_s", 1.0, "float", low=0.0, doc="evaluation seconds the budget allows on top"),
    Param("points", None, "int", low=2, nullable=True,
          doc="about this many points in all (the ratio planned from the update or epoch budget)"),
    Param("eval_plan", True, "bool",
          doc="size the points and the evaluation subset from the budget so evaluating stays within eval_fraction "
              "of the work (+ eval_grace_s); false: every point on the whole subset"),
))


def schedule_items(text: str | None, points: int | None = None, where: str = "--schedule: ") -> dict[str, Any]:
    """The schedule fields a command line sets, checked: ``K=V,...`` of :data:`SCHEDULE` (e.g.
    ``ratio=2``) and ``--points N`` (about N points); apply them with ``dataclasses.replace`` on a
    run's :class:`Schedule` (a suite's own keys not named here stay). Raises :class:`UserError` on
    an unknown key or a bad value."""
    items: dict[str, Any] = {}
    if text is not None:  # given: not empty, each key once (parse_pairs)
        pairs = parse_pairs(text, where.rstrip(": ") or "schedule", SCHEDULE.names())
        items = {k: None if v.lower() in ("none", "null") else v for k, v in pairs.items()}
    if points is not None:
        items["points"] = points
    try:
        return SCHEDULE.check(items, "schedule")
    except UserError as exc:
        raise UserError(f"{where}{exc}") from None


# workload parameters that name a file: a relative one is read from the suite file's folder
PATH_PARAMS = ("path",)


def _paths_from(folder: Path, wparams: dict[str, Any]) -> dict[str, Any]:
    """``path = "data.svm"`` in ``suites/x.toml`` means ``suites/data.svm``, from wherever the suite
    is run (the run is then keyed by the file's content, not by this string). A relative path that
    leaves the suite's folder (``../../etc/passwd``, a link out) is a user error."""
    def absolute(v):
        if isinstance(v, str) and "\x00" in v:  # not a path: the workload's own check says so
            return v
        if isinstance(v, str) and v and not Path(v).expanduser().is_absolute():
            target = (folder / v).resolve()
            if not target.is_relative_to(folder.resolve()):  # a shared suite must not reach ../../etc/passwd
                raise UserError(f"path {v!r} is outside the suite file's folder {folder} (a relative data path is read "
                                "from that folder; write an absolute path to read data elsewhere)")
            return str(target)
        return str(Path(v).expanduser()) if isinstance(v, str) and v else v

    return {k: ([absolute(x) for x in v] if isinstance(v, list) else absolute(v)) if k in PATH_PARAMS else v
            for k, v in wparams.items()}


def _axis(value: Any, key: str) -> list[Any]:
    """A grid axis: a list is its values (an empty one is an error: nothing to run; a value listed
    twice too: the same runs twice), anything else one value."""
    if isinstance(value, list) and not value:
        raise UserError(f"{key} = [] is empty (nothing to run)")
    return distinct(value, key) if isinstance(value, list) else [value]


def _grid(d: dict[str, Any] | None, key: str) -> list[dict[str, Any]]:
    if d is None:
        return [{}]
    if not isinstance(d, dict):
        raise UserError(f"'{key}' must be a table")
    keys = list(d)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(_axis(d[k], f"{key}.{k}") for k in keys))]


MAX_SEED = 2**32 - 1  # numpy's SeedSequence takes any non-negative int; MPI and torch take 32 bits
MAX_SEEDS = 10_000


def seeds_of(value: Any, where: str = "") -> list[int]:
    """A count (3 -> [0, 1, 2], at most 10,000) or a list of seeds, each in [0, 2**32 - 1]."""
    if isinstance(value, bool):
        raise UserError(f"{where}bad seeds {value!r}")
    if value == []:
        raise UserError(f"{where}seeds = [] is empty (nothing to run)")
    if isinstance(value, int):
        if not 1 <= value <= MAX_SEEDS:
            raise UserError(f"{where}seeds must be a count in [1, {MAX_SEEDS}] or a list, got {value}")
        return list(range(value))
    if isinstance(value, str):
        try:  # an empty item ("3,", "0,,1") is no seed: refused, not dropped
            parts = [int(x) for x in value.replace(" ", "").split(",")]
        except ValueError:
            raise UserError(f"{where}bad seeds {value!r}: expected a count or a comma-separated list") from None
        if len(parts) == 1 and "," not in value:
            return seeds_of(parts[0], where)
        value = parts
    if isinstance(value, list) and value and all(isinstance(x, int) and not isinstance(x, bool) for x in value):
        bad = [x for x in value if not 0 <= x <= MAX_SEED]
        if bad:
            raise UserError(f"{where}bad seed {bad[0]}: seeds are integers in [0, {MAX_SEED}]")
        return distinct(value, f"{where}seeds")
    raise UserError(f"{where}bad seeds {value!r}: expected a count or a list of integers")


# the metrics a run can stop at, with their domains (accuracies are reached from below, the rest from above)
TARGET_METRICS = ParamSet((
    Param("subopt", None, "float", low=0.0, doc="f(w) - f*"),
    Param("objective", None, "float", doc="f(w)"),
    Param("grad_norm_sq", None, "float", low=0.0, doc="||grad f(w)||^2"),
    Param("dist_sq", None, "float", low=0.0, doc="||w - w*||^2"),
    Param("test_loss", None, "float", low=0.0),
    Param("test_acc", None, "float", low=0.0, high=1.0),
    Param("train_acc", None, "float", low=0.0, high=1.0),
))


def target_of(value: Any, where: str = "") -> Target:
    """A number (suboptimality), 'metric=value', {metric, value}, or none ("none" / {}): no target.
    The metric must be one of :data:`TARGET_METRICS` and the value in its domain (a finite number;
    ``>= 0`` for suboptimality, losses and norms; in [0, 1] for accuracies)."""
    if value is None or value == {} or (isinstance(value, str) and value.strip().lower() == "none"):
        return Target()
    if isinstance(value, bool):
        raise UserError(f"{where}bad target {value!r}: expected a number or metric=value")
    if isinstance(value, (int, float)):
        metric, num = "subopt", value
    elif isinstance(value, str):
        metric, _, num = value.partition("=") if "=" in value else ("subopt", "", value)
    elif isinstance(value, dict) and set(value) <= {"metric", "value"} and "value" in value:
        metric, num = value.get("metric", "subopt"), value["value"]
    else:
        raise UserError(f"{where}bad target {value!r}: expected a number, metric=value or {{metric, value}}")
    metric = str(metric).strip()
    if metric not in TARGET_METRICS.names():
        raise unknown("target metric", metric, TARGET_METRICS.names())
    try:
        parsed = TARGET_METRICS.get(metric).parse(num)
    except UserError:
        raise UserError(f"{where}bad target {metric}={num}: expected a {TARGET_METRICS.get(metric).domain()}") from None
    return Target(metric, float(parsed))


def expand(entry: dict[str, Any], suite: str | None = None) -> list[RunSpec]:
    """One [[run]] entry (defaults merged) as its grid of run specs; its errors carry no location
    (:func:`load_suite` prefixes them with the file and entry)."""
    out = []
    # no budget: the command line's default (Budget() has no limit: such a run never ended)
    budget = Budget.parse(entry["budget"]) if entry.get("budget") is not None \
        else Budget(**DEFAULT_BUDGET.to_dict())
    target = target_of(entry.get("target"))
    seeds = seeds_of(entry.get("seeds", 1))
    sched = entry.get("schedule", {})
    if not isinstance(sched, dict):
        raise UserError(f"schedule must be a table, got {sched!r}")
    schedule = Schedule(**SCHEDULE.check(sched, "schedule"))
    options = entry.get("options", {})
    if not isinstance(options, dict):
        raise UserError(f"options must be a table, got {options!r}")
    for plugin, workload, params, wparams, workers, seed in itertools.product(
            _axis(entry["plugin"], "plugin"), _axis(entry["workload"], "workload"), _grid(entry.get("params"), "params"),
            _grid(entry.get("workload_params"), "workload_params"), _axis(entry.get("workers", 1), "workers"), seeds):
        if not isinstance(workers, int) or isinstance(workers, bool):
            raise UserError(f"workers must be integers, got {workers!r}")
        out.append(RunSpec(plugin=str(plugin), workload=str(workload), params=params, workload_params=wparams,
                           workers=workers, seed=seed, budget=budget, target=target, schedule=schedule,
                           options=dict(options), suite=suite))
    return out
