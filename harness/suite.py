"""Suite files: a TOML grid over plugins, workloads, parameters, workers and seeds.

```toml
name = "logreg-basics"
[defaults]                    # applies to every [[run]] unless it says otherwise
budget = "epochs=5"
target = 1e-8                 # suboptimality (or: target = { metric = "test_acc", value = 0.9 })
seeds = 3                     # 3 -> seeds 0, 1, 2; or a list [0, 5]

[[run]]
plugin = ["sgd-serial", "svrg-serial"]     # a list is a grid axis
workload = "logreg"
params = { eta = [0.05, 0.1], b = 4 }     # so is a list-valued parameter
workload_params = { n = 1000, sparse = true }
workers = [1, 2]
options = { timeout_s = 120 }
```
Errors name the file and the line (TOML syntax) or the [[run]] entry and key (meaning). A relative
data path (``workload_params = { path = "data.svm" }``) is read from the suite file's folder.
"""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path
from typing import Any

from .errors import UserError
from .monitor import Budget, Schedule, Target
from .runner import RunSpec

RUN_KEYS = {"plugin", "workload", "params", "workload_params", "workers", "seeds", "budget", "target", "options",
            "schedule"}
TOP_KEYS = {"name", "description", "defaults", "run", "report"}
# [report]: the paper and its claim (shown next to what was measured), plots to add, axes, metric
REPORT_KEYS = {"paper", "claim", "figures", "speedup", "x", "metric", "yscale"}


def load_suite(path: str | Path) -> tuple[str, list[RunSpec], dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        from harness.suites import suite_path

        shipped = suite_path(str(path))
        if not shipped.exists():
            raise UserError(f"suite file not found: {path}")
        path = shipped
    try:
        doc = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: malformed TOML: {exc}") from None
    extra = set(doc) - TOP_KEYS
    if extra:
        raise UserError(f"{path}: unknown top-level key '{sorted(extra)[0]}' (expected {', '.join(sorted(TOP_KEYS))})")
    report = doc.get("report", {})
    if not isinstance(report, dict) or set(report) - REPORT_KEYS:
        bad_keys = sorted(set(report) - REPORT_KEYS) if isinstance(report, dict) else ["(not a table)"]
        raise UserError(f"{path}: [report]: unknown key '{bad_keys[0]}' (expected {', '.join(sorted(REPORT_KEYS))})")
    name = str(doc.get("name", path.stem))
    defaults = doc.get("defaults", {})
    entries = doc.get("run", [])
    if not isinstance(entries, list) or not entries:
        raise UserError(f"{path}: a suite needs at least one [[run]] table")
    specs: list[RunSpec] = []
    for k, entry in enumerate(entries, 1):
        where = f"{path}: [[run]] #{k}"
        merged = {**defaults, **entry}
        bad = set(merged) - RUN_KEYS
        if bad:
            raise UserError(f"{where}: unknown key '{sorted(bad)[0]}' (expected {', '.join(sorted(RUN_KEYS))})")
        for key in ("plugin", "workload"):
            if key not in merged:
                raise UserError(f"{where}: missing '{key}'")
        if isinstance(merged.get("workload_params"), dict):
            merged["workload_params"] = _paths_from(path.parent, merged["workload_params"])
        specs.extend(expand(merged, where, suite=name))
    return name, specs, report


# workload parameters that name a file: a relative one is read from the suite file's folder
PATH_PARAMS = ("path",)


def _paths_from(folder: Path, wparams: dict[str, Any]) -> dict[str, Any]:
    """``path = "data.svm"`` in ``suites/x.toml`` means ``suites/data.svm``, from wherever the suite
    is run (the run is then keyed by the file's content, not by this string)."""
    def absolute(v):
        if isinstance(v, str) and v and not Path(v).expanduser().is_absolute():
            return str((folder / v).resolve())
        return str(Path(v).expanduser()) if isinstance(v, str) and v else v

    return {k: ([absolute(x) for x in v] if isinstance(v, list) else absolute(v)) if k in PATH_PARAMS else v
            for k, v in wparams.items()}


def _axis(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _grid(d: dict[str, Any] | None, where: str, key: str) -> list[dict[str, Any]]:
    if d is None:
        return [{}]
    if not isinstance(d, dict):
        raise UserError(f"{where}: '{key}' must be a table")
    keys = list(d)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(_axis(d[k]) for k in keys))]


def seeds_of(value: Any, where: str = "") -> list[int]:
    if isinstance(value, bool):
        raise UserError(f"{where}bad seeds {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise UserError(f"{where}seeds must be a positive count or a list, got {value}")
        return list(range(value))
    if isinstance(value, str):
        try:
            parts = [int(x) for x in value.replace(" ", "").split(",") if x]
        except ValueError:
            raise UserError(f"{where}bad seeds {value!r}: expected a count or a comma-separated list") from None
        if len(parts) == 1 and "," not in value:
            return seeds_of(parts[0], where)
        return parts
    if isinstance(value, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in value):
        return list(value)
    raise UserError(f"{where}bad seeds {value!r}")


def target_of(value: Any, where: str = "") -> Target:
    """A number (suboptimality), 'metric=value', {metric, value}, or none ("none" / {}): no target."""
    if value is None or value == {} or (isinstance(value, str) and value.strip().lower() == "none"):
        return Target()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Target("subopt", float(value))
    if isinstance(value, str):
        metric, _, num = value.partition("=") if "=" in value else ("subopt", "", value)
        try:
            return Target(metric.strip(), float(num))
        except ValueError:
            raise UserError(f"{where}bad target {value!r}: expected a number or metric=value") from None
    if isinstance(value, dict):
        try:
            return Target(str(value.get("metric", "subopt")), float(value["value"]))
        except (KeyError, TypeError, ValueError):
            raise UserError(f"{where}bad target {value!r}") from None
    raise UserError(f"{where}bad target {value!r}")


def expand(entry: dict[str, Any], where: str, suite: str | None = None) -> list[RunSpec]:
    out = []
    budget = Budget.parse(entry.get("budget"))
    target = target_of(entry.get("target"), f"{where}: ")
    seeds = seeds_of(entry.get("seeds", 1), f"{where}: ")
    sched = entry.get("schedule", {})
    try:
        schedule = Schedule(**sched) if sched else Schedule()
    except TypeError as exc:
        raise UserError(f"{where}: bad schedule: {exc}") from None
    options = entry.get("options", {})
    for plugin, workload, params, wparams, workers, seed in itertools.product(
            _axis(entry["plugin"]), _axis(entry["workload"]), _grid(entry.get("params"), where, "params"),
            _grid(entry.get("workload_params"), where, "workload_params"), _axis(entry.get("workers", 1)), seeds):
        if not isinstance(workers, int) or isinstance(workers, bool):
            raise UserError(f"{where}: workers must be integers, got {workers!r}")
        out.append(RunSpec(plugin=str(plugin), workload=str(workload), params=params, workload_params=wparams,
                           workers=workers, seed=seed, budget=budget, target=target, schedule=schedule,
                           options=dict(options), suite=suite))
    return out
