"""Hyperparameters and workload parameters: a name, a default and a domain, parsed from strings.

A value may also be the word ``theory`` where the parameter is marked ``theory=True``: the runner
then asks the plugin's linked theorem for a value (the best guarantee it admits; see ``harness.theory.guided``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .errors import UserError, unknown

THEORY = "theory"


@dataclass(frozen=True)
class Param:
    """One settable parameter with its domain.

    kind: 'float', 'int', 'bool', 'str' or 'choice'. low/high bound numbers (inclusive unless
    ``open_low``/``open_high``); ``choices`` lists the allowed strings for 'choice'.
    """

    name: str
    default: Any
    kind: str = "float"
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    choices: Sequence[str] = ()
    doc: str = ""
    theory: bool = False
    nullable: bool = False

    def domain(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "bool":
            return "true or false"
        if self.kind == "str":
            return "a string"
        lo = "-inf" if self.low is None else repr(self.low)
        hi = "inf" if self.high is None else repr(self.high)
        text = f"{self.kind} in {'(' if self.open_low or self.low is None else '['}{lo}, {hi}{')' if self.open_high or self.high is None else ']'}"
        if self.theory:
            text += " or 'theory'"
        if self.nullable:
            text += " or 'none'"
        return text

    def parse(self, value: Any, owner: str = "") -> Any:
        """Convert (from a string, or check a typed value) and validate against the domain."""
        where = f"{owner}: " if owner else ""
        bad = UserError(f"{where}bad value {value!r} for parameter '{self.name}': expected {self.domain()}")
        if isinstance(value, str) and value.strip().lower() == THEORY:
            if not self.theory:
                raise UserError(f"{where}parameter '{self.name}' cannot be chosen by theory: expected {self.domain()}")
            return THEORY
        if self.nullable and (value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null"))):
            return None
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
                return True
            if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
                return False
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise bad
        if self.kind in ("str", "choice"):
            if not isinstance(value, str):
                raise bad
            if self.kind == "choice" and value not in self.choices:
                raise bad
            return value
        try:
            if self.kind == "int":
                if isinstance(value, bool):
                    raise ValueError
                num = float(value) if isinstance(value, str) else value
                if isinstance(num, float):
                    if not num.is_integer():
                        raise ValueError
                    num = int(num)
                if not isinstance(num, int):
                    raise ValueError
            else:
                if isinstance(value, bool):
                    raise ValueError
                num = float(value)
        except (TypeError, ValueError):
            raise bad from None
        if isinstance(num, float) and not math.isfinite(num):
            raise bad
        if self.low is not None and (num < self.low or (self.open_low and num == self.low)):
            raise bad
        if self.high is not None and (num > self.high or (self.open_high and num == self.high)):
            raise bad
        return num


@dataclass(frozen=True)
class ParamSet:
    """The parameters of a plugin or a workload, resolved against user-given values."""

    params: Sequence[Param] = field(default_factory=tuple)

    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def get(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def resolve(self, given: Mapping[str, Any] | None, owner: str, see: str = "") -> dict[str, Any]:
        """Defaults overlaid with the given values, each parsed and checked; unknown names are errors."""
        return {**self.defaults(), **self.check(given, owner, see=see)}

    def check(self, given: Mapping[str, Any] | None, owner: str, kind: str = "parameter",
              see: str = "") -> dict[str, Any]:
        """Only the given values, each parsed and checked against its domain; unknown names are
        errors naming the closest known ones (``see``: the command that lists them all)."""
        out = {}
        for key, value in (given or {}).items():
            if key not in self.names():
                raise unknown(kind, str(key), self.names(), of=owner, see=see)
            out[key] = self.get(key).parse(value, owner or kind)
        return out


# Backend options (``--option K=V``, a suite's ``options = {...}``): how a run is launched or
# watched, for every backend, declared once. A plugin reads them from ``ctx.options``.
OPTIONS = ParamSet((
    Param("timeout_s", None, "float", low=0.0, open_low=True, nullable=True,
          doc="hard wall-clock limit of a launched job (MPI, torch.distributed), seconds"),
    Param("hung_after_s", 60.0, "float", low=0.0, open_low=True,
          doc="a launched job's rank whose heartbeat (touched every second) stops this long is named hung "
              "and the job stopped, seconds"),
    Param("hostfile", "", "str", doc="mpiexec -f FILE for multi-node MPI runs"),
    Param("progress", False, "bool", doc="per-rank progress lines from launched jobs"),
    Param("oversubscribe", False, "bool", doc="start more than 4 MPI / torch ranks per core on this machine"),
    Param("device", "cpu", "choice", choices=("cpu", "cuda"),
          doc="torch device: serial and sim plugins run on the CPU unless cuda; torch.distributed ranks take "
              "one GPU each (NCCL) with cuda, or when not given and the machine has a GPU per rank"),
    Param("launcher", "harness", "choice", choices=("harness", "torchrun"), doc="how torch ranks start (--launcher)"),
    Param("torchrun_args", "", "str", doc="extra torchrun arguments, e.g. '--nnodes=2 ...'"),
    Param("save_params", "", "str", doc="torch data-parallel: save the final parameters to this file"),
    Param("fail_rank", None, "int", low=0, nullable=True, doc="fault injection (tests): this rank fails"),
    Param("fail_at", 1, "int", low=1, doc="fault injection: at this step (torch)"),
    Param("fail_after", 0, "int", low=0, doc="fault injection: after this many updates (MPI)"),
    Param("fail_mode", "raise", "choice", choices=("raise", "exit", "kill"),
          doc="fault injection: raise an error, exit, or SIGKILL the rank"),
))


def check_options(given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The given backend options parsed against :data:`OPTIONS` (unknown names and bad values refused)."""
    return OPTIONS.check(given, "", kind="backend option (--option)")


def parse_assignments(items: Sequence[str] | None, what: str = "--param") -> dict[str, str]:
    """['eta=0.1', 'b=8'] -> {'eta': '0.1', 'b': '8'}; a malformed item or a key given twice
    (``--param eta=0.1 --param eta=0.2``) is a UserError."""
    out: dict[str, str] = {}
    for item in items or ():
        if "=" not in item or not item.split("=", 1)[0].strip():
            raise UserError(f"{what} expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        key, value = key.strip(), value.strip()
        if key in out:
            raise UserError(f"{what} {key} given twice ({out[key]!r} and {value!r}): give it once")
        out[key] = value
    return out


def parse_pairs(text: str, what: str, keys: Sequence[str] = ()) -> dict[str, str]:
    """``'updates=1e5,seconds=30'`` -> ``{'updates': '1e5', 'seconds': '30'}``: the one reader of a
    comma-separated ``K=V`` list typed on a command line (``--budget``, ``--schedule``). An empty
    list, an empty item (``updates=5,``), an item without ``=`` and a key given twice
    (``updates=10,updates=20``: which one was meant?) are a UserError naming ``what``; ``keys``
    (when given) are the known keys, shown in the message."""
    known = f" (keys: {', '.join(keys)})" if keys else ""
    if not str(text).strip():
        raise UserError(f"{what} is empty: expected K=V[,K=V...]{known}")
    out: dict[str, str] = {}
    for part in str(text).split(","):
        key, sep, value = (x.strip() for x in part.partition("="))
        if not sep or not key:
            raise UserError(f"{what}: expected K=V, got {part.strip()!r} in {text!r}{known}")
        if key in out:
            raise UserError(f"{what}: {key} given twice ({out[key]!r} and {value!r}): give it once")
        out[key] = value
    return out


def distinct(values: Sequence[Any], what: str) -> list[Any]:
    """The values of a grid axis (plugins, workloads, worker counts, seeds, a parameter's list), each
    once: a value listed twice (``--workers 2 --workers 2``, ``seeds = [0, 0]``) would run the same
    configuration twice and count it twice; it is a UserError naming ``what``."""
    seen: list[Any] = []
    for v in values:
        if v in seen:
            raise UserError(f"{what} lists {v!r} twice: give each value once")
        seen.append(v)
    return seen


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (``--timeout``); the message names the domain."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value
