"""A verdict: what the checker concluded about one run group (the seeds of one configuration) and one
theorem. The checker returns :class:`Verdict` objects and stores nothing; the harness stores
``to_dict()`` with every run of the group."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

HOLDS, INCONCLUSIVE, VIOLATED, NOT_APPLICABLE = "holds", "inconclusive", "violated", "not-applicable"
HOLDS_UNVERIFIED = "holds (unverified)"   # consistent with the bound, but the plugin did not report what it applied
VERDICTS = (HOLDS, HOLDS_UNVERIFIED, INCONCLUSIVE, VIOLATED, NOT_APPLICABLE)


@dataclass
class Verdict:
    """``verdict``: one of :data:`VERDICTS`; ``reason``: one sentence naming the point, the condition or
    the mismatch that decided it.

    ``slack``: bound / measured mean (min, where, median, final); ``curve``: x, mean, upper (the
    simultaneous upper confidence limit), bound, lo, hi (the seeds' range), thinned to <= 200 points;
    ``test``: the statistical test and its family-wise error rate; ``flags``: things the reader must
    know (a step applied that differs from the stored one, an objective that ended above its start,
    constants measured on the run after the fact); ``reported``: whether the plugin reported every
    applied value the theorem reads (``unreported`` names the others, read from the stored run: a
    ``holds`` becomes ``holds (unverified)``); ``rate``: the slope check (``note`` says
    "consistent with the theorem's rate" or "slower than the theorem's rate")."""

    theorem: str
    verdict: str
    reason: str = ""
    citation: str = ""
    runs: list[Any] = field(default_factory=list)
    label: str = ""
    n_seeds: int = 0
    values: dict[str, Any] = field(default_factory=dict)
    derived: dict[str, Any] = field(default_factory=dict)
    free_chosen: dict[str, Any] = field(default_factory=dict)
    conditions: list[dict[str, Any]] = field(default_factory=list)
    failing: list[str] = field(default_factory=list)
    measured: str = ""
    measured_doc: str = ""
    horizon: str = ""
    test: str = ""
    alpha: float | None = None
    slack: dict[str, Any] | None = None
    curve: dict[str, list] | None = None
    rate: dict[str, Any] | None = None
    first_crossing: float | None = None
    flags: list[str] = field(default_factory=list)
    posthoc: list[str] = field(default_factory=list)
    reported: bool = True
    unreported: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (empty fields left out)."""
        return {k: v for k, v in asdict(self).items() if v not in (None, [], {}, "") or k == "reported"}
