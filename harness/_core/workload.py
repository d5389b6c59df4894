"""Workloads: a problem with data and, where they exist, its known constants.

Two kinds:
- ``finite-sum``: ``f(w) = (1/n) sum_i phi_i(w) + (lam/2)||w||^2`` over numpy data (dense or
  scipy CSR), with exact ``L``, per-sample ``L_i``, ``mu``, and ``f_star`` / ``w_star`` from a
  high-precision solve cached on disk (the linear models: ``harness.suites.finite_sum``).
- ``network``: a torch module factory plus data (``harness.suites.network``).

A :class:`WorkloadSpec` is the cheap registry entry; ``spec.build(params)`` makes the workload,
whose data is built lazily on first use.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from .errors import UserError
from .evalplan import EvalCosts
from .params import Param, ParamSet
from .plugin import NEEDS, WORKLOAD_KINDS


@dataclass(frozen=True)
class WorkloadSpec:
    name: str
    kind: str
    factory: str  # "module:Class"; called as Class(name=..., **params)
    params: Sequence[Param] = ()
    description: str = ""
    needs: Sequence[str] = ()
    # the names its workloads' ``constants()`` provide (a theorem's run map may read only these:
    # ``harness check-theorem`` checks); a test builds each shipped workload and compares
    constants: Sequence[str] = ()

    def __post_init__(self):
        if self.kind not in WORKLOAD_KINDS:
            raise ValueError(f"workload {self.name}: kind {self.kind!r} is not one of {WORKLOAD_KINDS}")

    @property
    def paramset(self) -> ParamSet:
        return ParamSet(tuple(self.params))

    def build(self, given: Mapping[str, Any] | None = None) -> "Workload":
        import importlib.util

        from .errors import MissingDependency

        for need in self.needs:
            if importlib.util.find_spec(NEEDS[need][0]) is None:
                raise MissingDependency(f"{need} (needed by workload {self.name})", NEEDS[need][1])
        params = self.paramset.resolve(given, f"workload {self.name}", see=f"harness list workloads {self.name}")
        module, _, attr = self.factory.partition(":")
        cls = getattr(importlib.import_module(module), attr)
        workload = cls(name=self.name, **params)
        check_memory(workload)
        return workload

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "constants": list(self.constants),
            "params": {p.name: {"default": p.default, "domain": p.domain(), "doc": p.doc} for p in self.params},
        }


def available_memory() -> int | None:
    """Bytes this process can still allocate: the smaller of the kernel's MemAvailable and the
    cgroup's memory.max - memory.current (a container's limit); ``None`` where neither is known."""
    have = []
    try:
        with open("/proc/meminfo") as fh:
            have += [int(line.split()[1]) * 1024 for line in fh if line.startswith("MemAvailable:")]
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            have.append(int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text()))
    except (OSError, ValueError):
        pass
    if not have:
        try:
            have.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))
        except (ValueError, OSError, AttributeError):
            return None
    return max(0, min(have))


def fmt_bytes(n: float) -> str:
    """1.8e12 -> '1.6 TiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} EiB"  # pragma: no cover


def check_memory(workload: "Workload", *, ranks: int = 0) -> None:
    """Refuse, with one line and before any allocation, a run whose memory would not fit: what the
    workload needs (:meth:`Workload.memory_needed`: its data unless already held, and ``ranks``
    launched processes) against what the machine has available, and -- when ``HARNESS_MEMORY_LIMIT``
    is set -- what this process and its children already hold (their PSS, ``memory.held_bytes``) plus
    that need against
    the limit. Before refusing for the machine, the process's pool of shared data is dropped and
    the check made again (what a finished run left there is not needed)."""
    from .memory import LIMIT_ENV, held_bytes, memory_limit

    need = workload.memory_needed(ranks)
    if not need:
        return
    try:
        limit = memory_limit()
    except ValueError as exc:
        raise UserError(f"{LIMIT_ENV}: {exc}") from None
    have = available_memory()
    if (have is not None and need > have) or (limit is not None and held_bytes() + need > limit):
        _drop_shared_data()
        need, have = workload.memory_needed(ranks), available_memory()
    what = f"{workload.name} needs about {fmt_bytes(need)} of memory ({workload.memory_note()}" + \
        (f"; {ranks} launched processes" if ranks else "") + ")"
    if have is not None and need > have:
        raise UserError(f"workload {what}; this machine has {fmt_bytes(have)} available")
    held = held_bytes() if limit is not None else 0
    if limit is not None and held + need > limit:
        raise UserError(f"workload {what}; beside the {fmt_bytes(held)} this process already holds that is over "
                        f"{LIMIT_ENV}={fmt_bytes(limit)}")


def _drop_shared_data() -> None:
    import gc

    from .shared_data import POOL

    POOL.clear()
    gc.collect()


def params_key(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:20]


class Workload:
    """Base class. Subclasses set ``kind`` and implement ``metrics(iterate)``."""

    kind: str = "finite-sum"

    def __init__(self, name: str, **params: Any):
        self.name = name
        self.params = dict(params)
        self.seed = int(params.get("seed", 0))

    # bump when a subclass's data generation changes what it generates for the same parameters
    generator_version: str = "1"

    def spec_dict(self) -> dict[str, Any]:
        """The name and parameters that rebuild this workload (for child processes)."""
        return {"name": self.name, "params": self.params}

    def data_identity(self) -> dict[str, Any]:
        """What identifies this workload's data by content (run keys, the constants cache):
        generated data by its generator (class and ``generator_version``) and parameters; a
        file-backed workload overrides this with the file's SHA-256 (see ``harness._core.identity``)."""
        return {"name": self.name, "generator": f"{type(self).__qualname__}/{self.generator_version}",
                "params": self.params}

    def constants(self) -> dict[str, float]:
        """Known constants the theory module may use (L, mu, n, d, f_star, ...)."""
        return {}

    def optimum_facts(self) -> dict[str, float]:
        """Quantities at the optimum w* that a theorem may need beyond :meth:`constants` (the
        finite-sum workloads: gradient noise and per-sample gradients at w*); empty when unknown."""
        return {}

    def sizes(self) -> dict[str, int]:
        """Sizes known without building the data (``n``: training samples, ``d``: features); a
        workload whose sizes come from a file returns what it knows (possibly nothing)."""
        return {}

    def estimate_bytes(self) -> int | None:
        """Peak bytes the data and model will take, estimated from the parameters before anything is
        allocated (``None``: unknown). :func:`check_memory` refuses what the machine cannot hold."""
        return None

    def shares_data(self) -> bool:
        """Whether launched ranks map this workload's data from the data cache
        (``harness._core.shared_data``) instead of each building a copy."""
        return False

    def holds_data(self) -> bool:
        """Whether this process already holds the data (a run on it allocates none again)."""
        return False

    def prepared_bytes(self) -> int | None:
        """Bytes of the data when it is ready to be mapped as it is (the data cache), else None: then
        loading it costs that, not the building's peak (:meth:`estimate_bytes`)."""
        return None

    def memory_needed(self, ranks: int = 0) -> int:
        """Bytes a run on this workload will add: :meth:`estimate_bytes` unless the data is already
        held or prepared (:meth:`prepared_bytes`), plus per launched rank its interpreter
        (``harness._core.memory.RANK_BYTES``) and, unless the ranks share the data, a copy of it."""
        from .memory import RANK_BYTES

        est = self.estimate_bytes() or 0
        own = 0 if self.holds_data() else (self.prepared_bytes() or est)
        return own + ranks * (RANK_BYTES + (0 if self.shares_data() else est))

    def release(self) -> None:
        """Drop what this object holds for a run (called once the run is stored): a suite keeps its
        resolved runs, and with them their workloads, until it ends."""

    def memory_note(self) -> str:
        """The sizes the estimate came from, for the refusal message."""
        return ", ".join(f"{k}={v:,}" for k, v in self.sizes().items())

    def metrics(self, iterate: Any) -> dict[str, float]:
        raise NotImplementedError

    def per_sample_gradients(self, w: Any) -> Any:
        """The gradient of every sample's term at ``w``, an array of shape (n, dim) whose mean is the
        full gradient (the trajectory audit infers from it what each update of a run did). A
        workload that cannot give them raises ``NotImplementedError`` (the audit then says so)."""
        raise NotImplementedError(f"workload {self.name} gives no per-sample gradients")

    # -- the evaluation plan (harness._core.evalplan) --------------------------------------------------
    def eval_costs(self) -> "EvalCosts | None":
        """What one evaluation of :meth:`metrics` costs and on which subset sizes it can run (an
        :class:`~harness._core.evalplan.EvalCosts`), for the monitor's evaluation plan; ``None`` (the
        default): the evaluation is not planned (every point evaluates what :meth:`metrics` does)."""
        return None

    def use_eval_size(self, size: int | None, *, seconds: float | None = None) -> None:
        """Evaluate on a subset of ``size`` samples of those :meth:`eval_costs` lists (``None``: the
        subset as asked); with ``seconds``, on the largest subset whose evaluation takes about that
        long, measured on a pilot at the next evaluation. Called by the monitor before the first point."""
        if size is not None or seconds is not None:
            raise NotImplementedError(f"workload {self.name} declares no evaluation subsets")

    def eval_size(self) -> int | None:
        """The subset size the metrics use now (None: not planned)."""
        return None


def check_kind(plugin_kinds: Sequence[str], workload: Workload, plugin_name: str) -> None:
    if workload.kind not in plugin_kinds:
        raise UserError(f"plugin {plugin_name} does not support {workload.kind} workloads (supports: {', '.join(plugin_kinds)})")
