"""How a run maps onto a theorem's symbols, declared as data (:class:`RunMap`).

Each symbol the run supplies names its source once:

- :class:`Applied` ``("eta")`` -- a parameter the plugin applied, as it reported it through
  ``ctx.applied(eta=...)`` (the stored parameter when it reported none: the verdict then says
  "unverified");
- :class:`Constant` ``("L_max")`` -- a constant of the workload (``RunFacts.constants``);
- :class:`Fact` ``("sigma2_star")`` -- a quantity at the workload's optimum (``RunFacts.workload_facts``);
- :class:`Info` ``("L_est")`` -- a figure the plugin measured and returned in its info;
- :class:`Delay` ``()`` -- the largest delay the run measured (0 for a serial run);
- :class:`Workers` ``()`` -- the run's worker count;
- :class:`Computed` ``(fn, doc)`` -- code, only where a fact must be computed (a variance bound on
  the region the run visited).

Sources combine with ``*``, ``/``, ``+``, ``-`` (``Applied("eta") / Applied("b")``: the sum-form step
gamma of a mean-gradient plugin). ``when`` lists the conditions on the run under which the theorem
judges it at all (:class:`Require`: ``schedule == constant``, ``coords == 1``): a run outside them is
``not-applicable`` with the reason, and ``theory show`` lists them. ``theory`` names the plugin
parameters ``=theory`` may choose and the symbol each one is (``{"eta": "eta"}``) or, when the
parameter is not the symbol itself, ``(symbol, parameter value as a function of the symbol's
value, the run's other inputs and the :class:`Mapped`)``. ``uses``: run values that are no symbol,
read for ``extra`` only (a plugin's learning rate that gamma is computed from). ``extra`` is code for what a source cannot say (a schedule
function, the round length, several alternative sources); it returns an :class:`Extra`.

:meth:`RunMap.map` returns a :class:`Mapped`: the symbol values (``inputs``) and, separately, the
metadata (the schedule, the round length, the constants measured after the fact, which applied
values the plugin did not report).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from .errors import NotApplicable

__all__ = ["RunMap", "Applied", "Constant", "Fact", "Info", "Delay", "Workers", "Computed", "Require", "Extra",
           "Mapped"]


class Source:
    """Where one value of a run comes from; ``read(run, note)`` returns it or raises
    :class:`NotApplicable` naming what is missing (``note``: the :class:`Mapped` being built)."""

    def read(self, run, note: "Mapped") -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def applied_names(self, required: bool = True) -> tuple[str, ...]:
        return ()

    def label(self) -> str:
        """A short name for messages (``schedule``, ``workload L``)."""
        return self.describe()

    def leaves(self) -> tuple["Source", ...]:
        """The sources this one reads (itself; a combination: its parts')."""
        return (self,)

    def _op(self, other, fn, sym, swap=False):
        other = other if isinstance(other, Source) else _Const(other)
        return _Combined(fn, sym, other, self) if swap else _Combined(fn, sym, self, other)

    def __truediv__(self, o): return self._op(o, operator.truediv, "/")
    def __rtruediv__(self, o): return self._op(o, operator.truediv, "/", True)
    def __mul__(self, o): return self._op(o, operator.mul, "*")
    def __rmul__(self, o): return self._op(o, operator.mul, "*", True)
    def __add__(self, o): return self._op(o, operator.add, "+")
    def __sub__(self, o): return self._op(o, operator.sub, "-")


@dataclass(frozen=True, eq=False)
class _Const(Source):
    value: Any

    def read(self, run, note):
        return self.value

    def describe(self) -> str:
        return repr(self.value)


@dataclass(frozen=True, eq=False)
class _Combined(Source):
    fn: Callable[[Any, Any], Any]
    sym: str
    a: Source
    b: Source

    def read(self, run, note):
        return self.fn(float(self.a.read(run, note)), float(self.b.read(run, note)))

    def describe(self) -> str:
        return f"{self.a.describe()} {self.sym} {self.b.describe()}"

    def applied_names(self, required: bool = True) -> tuple[str, ...]:
        return self.a.applied_names(required) + self.b.applied_names(required)

    def leaves(self) -> tuple[Source, ...]:
        return self.a.leaves() + self.b.leaves()


_REQUIRED = object()


@dataclass(frozen=True, eq=False)
class Applied(Source):
    """The value of the plugin parameter ``name`` the run applied (reported through ``ctx.applied``),
    else the stored parameter (noted as unreported), else ``default`` (a plugin that has no such
    parameter: e.g. a batch size of 1). Without a default the plugin must declare the parameter."""

    name: str
    default: Any = _REQUIRED

    def read(self, run, note):
        if self.name in run.applied and run.applied[self.name] is not None:
            return run.applied[self.name]
        if run.params.get(self.name) is not None:
            if self.name not in note.unreported:
                note.unreported.append(self.name)
            return run.params[self.name]
        if self.default is _REQUIRED:
            raise NotApplicable(f"the run has no parameter '{self.name}' (applied or stored)")
        return self.default

    def describe(self) -> str:
        return f"applied {self.name}" + ("" if self.default is _REQUIRED else f" (default {self.default!r})")

    def label(self) -> str:
        return self.name

    def applied_names(self, required: bool = True) -> tuple[str, ...]:
        return (self.name,) if self.default is _REQUIRED or not required else ()


@dataclass(frozen=True, eq=False)
class Constant(Source):
    """The workload's constant ``key`` (``L``, ``L_max``, ``mu``, ``lam``, ``n``, ``dim``, ``f0_minus_fstar``, ...)."""

    key: str

    def read(self, run, note):
        if run.constants.get(self.key) is None:
            why = run.constants.get("error")
            raise NotApplicable(f"the workload has no constant {self.key}" + (f" ({why})" if why else ""))
        return run.constants[self.key]

    def describe(self) -> str:
        return f"workload {self.key}"


@dataclass(frozen=True, eq=False)
class Fact(Source):
    """A quantity at the workload's optimum (``gmax2_star``, ``sigma2_star``, ``Lphi_max``, ``phi_grad_sq_star``)."""

    key: str

    def read(self, run, note):
        if self.key not in run.workload_facts:
            raise NotApplicable(f"the workload has no closed-form optimum fact {self.key} (a finite-sum linear model has)")
        return run.workload_facts[self.key]

    def describe(self) -> str:
        return f"at the optimum: {self.key}"


@dataclass(frozen=True, eq=False)
class Info(Source):
    """A figure the plugin measured and returned in its info (``L_est``, ``M_est``, ``sigma_dir``)."""

    key: str

    def read(self, run, note):
        if (run.info or {}).get(self.key) is None:
            raise NotApplicable(f"the run records no info['{self.key}']")
        return run.info[self.key]

    def describe(self) -> str:
        return f"measured by the plugin: info['{self.key}']"


@dataclass(frozen=True, eq=False)
class Delay(Source):
    """The largest delay the run measured (a planned run: the delay assumed); 0 for a serial run."""

    def read(self, run, note):
        from .measures import measured_delay

        return measured_delay(run)

    def describe(self) -> str:
        return "the largest delay the run measured"


@dataclass(frozen=True, eq=False)
class Workers(Source):
    def read(self, run, note):
        return float(max(run.workers, 1))

    def describe(self) -> str:
        return "the run's workers"


@dataclass(frozen=True, eq=False)
class Computed(Source):
    """``fn(run) -> value | None`` (None: not computable for this run, ``doc`` says what is missing);
    ``posthoc``: set when the value is measured on the run after the fact (the verdict says so)."""

    fn: Callable[[Any], Any]
    doc: str
    posthoc: str = ""

    def read(self, run, note):
        x = self.fn(run)
        if x is None:
            raise NotApplicable(f"no {self.doc} for this run")
        if self.posthoc and self.posthoc not in note.posthoc:
            note.posthoc.append(self.posthoc)
        return x

    def describe(self) -> str:
        return f"computed: {self.doc}"


@dataclass(frozen=True)
class Require:
    """A condition on the run for the theorem to judge it: ``source op value`` (op ``==``, ``!=``,
    ``in``), ``why`` the reason a run outside it is not covered."""

    source: Source
    op: str
    value: Any
    why: str

    def holds(self, run, note) -> tuple[bool, Any]:
        x = self.source.read(run, note)
        ok = {"==": lambda: x == self.value, "!=": lambda: x != self.value, "in": lambda: x in self.value}[self.op]()
        return bool(ok), x

    def describe(self) -> str:
        return f"{self.source.describe()} {self.op} {self.value!r}: {self.why}"


@dataclass
class Extra:
    """What :attr:`RunMap.extra` returns: more symbol values and metadata."""

    inputs: dict[str, Any] = field(default_factory=dict)
    schedule: Callable[[Any], Any] | None = None
    round_updates: float | None = None
    posthoc: Sequence[str] = ()
    scale: float = 1.0


@dataclass
class Mapped:
    """A run mapped onto a theorem: ``inputs`` (symbol -> value) and the metadata: ``schedule`` (the
    step-size sequence gamma(t) of a diminishing-rate theorem), ``round_updates`` (updates per outer
    round), ``posthoc`` (constants measured on the run after the fact), ``unreported`` (applied
    parameters the plugin did not report: read from the stored run), ``scale`` (the plugin's
    parameter per unit of the theorem's step, e.g. the linear-scaling factor)."""

    inputs: dict[str, Any] = field(default_factory=dict)
    schedule: Callable[[Any], Any] | None = None
    round_updates: float | None = None
    posthoc: list[str] = field(default_factory=list)
    unreported: list[str] = field(default_factory=list)
    scale: float = 1.0


@dataclass(frozen=True)
class RunMap:
    """Which run facts feed which symbols (see the module docstring)."""

    inputs: Mapping[str, Source]
    uses: Mapping[str, Source] = field(default_factory=dict)
    when: Sequence[Require] = ()
    theory: Mapping[str, Any] = field(default_factory=dict)
    extra: Callable[[Any, dict[str, Any]], Extra] | None = None
    extra_doc: str = ""
    provides: tuple[str, ...] = ()   # the symbols ``extra`` supplies (check-theorem: the map covers every symbol)

    def map(self, run) -> Mapped:
        """The run's inputs and metadata; raises :class:`NotApplicable` naming the missing fact or
        the run condition that fails."""
        out = Mapped()
        for r in self.when:
            ok, x = r.holds(run, out)
            if not ok:
                raise NotApplicable(f"{r.source.label()} = {x!r}, not {r.op} {r.value!r}: {r.why}")
        for name, src in self.inputs.items():
            x = src.read(run, out)
            out.inputs[name] = float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else x
        used = {name: src.read(run, out) for name, src in self.uses.items()}
        if self.extra is not None:
            e = self.extra(run, {**used, **out.inputs})
            out.inputs.update(e.inputs)
            out.schedule, out.round_updates, out.scale = e.schedule, e.round_updates, e.scale
            out.posthoc += [p for p in e.posthoc if p not in out.posthoc]
        return out

    def required_applied(self, required: bool = True) -> tuple[str, ...]:
        """The parameters a linked plugin must declare and report (applied sources without a default);
        ``required=False``: every applied parameter the map reads."""
        names: list[str] = []
        for s in [*self.inputs.values(), *self.uses.values(), *(r.source for r in self.when)]:
            names += [n for n in s.applied_names(required) if n not in names]
        return tuple(names)

    def leaves(self) -> list[Source]:
        """Every source the map reads (inputs, uses and the run conditions), combinations taken apart."""
        return [x for s in [*self.inputs.values(), *self.uses.values(), *(r.source for r in self.when)]
                for x in s.leaves()]

    def constant_keys(self) -> list[str]:
        """The workload constants the map reads by name (:class:`Constant` sources)."""
        return list(dict.fromkeys(s.key for s in self.leaves() if isinstance(s, Constant)))

    def reads_delay(self) -> bool:
        """Whether a symbol is the delay the run measured (:class:`Delay`)."""
        return any(isinstance(s, Delay) for s in self.leaves())

    def covers(self) -> set[str]:
        """The symbols this map supplies (sources and ``extra``)."""
        return set(self.inputs) | set(self.provides)

    def symbol_for(self, param: str) -> tuple[str, Any] | None:
        """(theorem symbol, back map or None) for a plugin parameter ``=theory`` may choose."""
        if param not in self.theory:
            return None
        v = self.theory[param]
        return (v, None) if isinstance(v, str) else (v[0], v[1])

    def describe(self) -> list[str]:
        lines = [f"{k} <- {s.describe()}" for k, s in self.inputs.items()]
        lines += [f"(reads {k} <- {s.describe()})" for k, s in self.uses.items()]
        if self.extra_doc:
            lines.append(self.extra_doc)
        return lines
