"""The typed record of one run's facts that the theory reads (:class:`RunFacts`).

The harness builds it from a stored run (``harness.run.checking.run_facts``) or from a planned run
(``harness.run.checking.planned_facts``, for ``eta=theory``); the theory never sees the store, the
runner or the plugin registry. Everything a theorem's adapter may read is here:

- ``constants``: the workload's constants (L, L_max, mu, lam, n, dim, f0_minus_fstar, dist0_sq, ...);
- ``workload_facts``: quantities at the optimum the harness computed from the workload
  (gmax2_star = max_i ||grad f_i(w*)||^2, sigma2_star = E||grad f_i(w*)||^2, phi_grad_sq_star,
  Lphi_max); empty when the workload has no closed-form optimum;
- ``params``: the stored (requested) parameters; ``applied``: the step sizes, batch sizes and
  inner-loop lengths the plugin reports it applied -- a plugin calls ``ctx.applied(eta=0.01, b=4,
  m=50)`` (stored as ``info["applied"]``; empty if the plugin reports none); :meth:`param`
  prefers the applied value and :meth:`mismatches` lists applied values that differ from the stored;
- ``points``: the measured series (one dict per recorded point, in update order: ``updates``,
  ``subopt``, ``grad_norm_sq``, ``dist_sq``, ``tau_max``, ``extra``, ...); ``tau_max``: the
  largest delay measured (or, for a planned run, the delay assumed);
- ``status``: the run's end (``done``, ``budget``, ``target``, ``diverged``, ``error``, ...);
  ``ok``: it finished normally; ``diverged``: it blew up (its recorded points still count).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

FINISHED = ("done", "budget", "target")
# a stored 0 means the plugin's default: m = 0: n // b inner steps; T = 0: n / H; t0 = 0: one epoch n / b;
# b = 0 (large-batch plugins): the whole training set
AUTO_ZERO = ("m", "T", "S", "t0", "b")


@dataclass(frozen=True)
class RunFacts:
    plugin: str
    family: str
    backend: str
    workload: str
    workers: int
    seed: int
    status: str
    params: Mapping[str, Any]
    constants: Mapping[str, Any]
    points: Sequence[Mapping[str, Any]] = ()
    info: Mapping[str, Any] = field(default_factory=dict)
    applied: Mapping[str, Any] = field(default_factory=dict)
    workload_facts: Mapping[str, float] = field(default_factory=dict)
    tau_max: float | None = None
    theorems: tuple[str, ...] = ()      # the theorem ids the plugin links (checked when none are asked for)
    covers: tuple[str, ...] = ()        # linked theorems about another family the plugin says its algorithm is a case of
    group: str = ""                      # runs with the same group differ only in their seed
    run_id: int | None = None
    label: str = ""

    @property
    def ok(self) -> bool:
        return self.status in FINISHED

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"

    def param(self, name: str, default: Any = None) -> Any:
        """The applied value of a parameter if the plugin reported one, else the stored one."""
        for src in (self.applied, self.params):
            if src.get(name) is not None:
                return src[name]
        return default

    def curve(self, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """(updates, metric) as float arrays, points without the metric dropped."""
        xs = [p["updates"] for p in self.points if p.get(metric) is not None]
        ys = [p[metric] for p in self.points if p.get(metric) is not None]
        return np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)

    def mismatches(self, rtol: float = 1e-9) -> dict[str, tuple[Any, Any]]:
        """Parameters whose applied value differs from the stored one: name -> (stored, applied)."""
        out = {}
        for k, a in self.applied.items():
            s = self.params.get(k)
            if s is None or isinstance(s, str) or a is None or (s == 0 and k in AUTO_ZERO):
                continue
            try:
                if not np.allclose(np.asarray(a, dtype=float), np.asarray(s, dtype=float), rtol=rtol, atol=0.0):
                    out[k] = (s, a)
            except (TypeError, ValueError):
                continue
        return out
