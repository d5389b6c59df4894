"""Statistics for comparing runs honestly: bootstrap confidence intervals over seeds, the
Mann-Whitney U test, asv's "is it different?" rule, and geometric means across workloads.

Values may be ``inf`` (a run that never reached its target: time to target is infinite, as in
AlgoPerf). Everything here works on order statistics, so an infinite value is simply the largest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

DEFAULT_ALPHA = 0.05
DEFAULT_BOOT = 2000


def _clean(values: Sequence[float]) -> np.ndarray:
    a = np.asarray([float(v) for v in values], dtype=float)
    return a[~np.isnan(a)]


def order_quantile(a: np.ndarray, q: float) -> float:
    """The q-quantile as an order statistic (no interpolation, so ``inf`` stays ``inf``)."""
    s = np.sort(a)
    if s.size == 0:
        return math.nan
    k = min(max(int(math.ceil(q * s.size)) - 1, 0), s.size - 1)
    return float(s[k])


def median(values: Sequence[float]) -> float:
    """Median that tolerates infinities (the mean of two middle values only when both are finite)."""
    s = np.sort(_clean(values))
    if s.size == 0:
        return math.nan
    mid = s.size // 2
    if s.size % 2:
        return float(s[mid])
    lo, hi = float(s[mid - 1]), float(s[mid])
    return hi if math.isinf(hi) or math.isinf(lo) else 0.5 * (lo + hi)


@dataclass(frozen=True)
class Estimate:
    """A point estimate (median over seeds) with a bootstrap confidence interval."""

    value: float
    lo: float
    hi: float
    n: int

    def to_dict(self) -> dict[str, float]:
        return {"median": self.value, "ci_lo": self.lo, "ci_hi": self.hi, "n": self.n}


def bootstrap_ci(values: Sequence[float], stat: Callable[[Sequence[float]], float] = median, *,
                 alpha: float = DEFAULT_ALPHA, n_boot: int = DEFAULT_BOOT, seed: int = 0) -> Estimate:
    """Percentile bootstrap CI of ``stat`` over the samples (seeds). Deterministic (fixed RNG seed).
    With one sample the interval is the point; with identical samples it has width zero."""
    a = _clean(values)
    if a.size == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    point = stat(a)
    if a.size == 1 or np.all(a == a[0]):
        return Estimate(point, point, point, int(a.size))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, a.size, size=(n_boot, a.size))
    boots = np.asarray([stat(a[row]) for row in idx])
    return Estimate(point, order_quantile(boots, alpha / 2), order_quantile(boots, 1 - alpha / 2), int(a.size))


def mann_whitney(a: Sequence[float], b: Sequence[float], alternative: str = "two-sided") -> float:
    """p-value of the Mann-Whitney U test (exact for small samples without ties)."""
    from scipy.stats import mannwhitneyu

    a, b = _clean(a), _clean(b)
    if a.size == 0 or b.size == 0:
        return math.nan
    if np.array_equal(np.sort(a), np.sort(b)):
        return 1.0
    # ranks are all the test needs: map inf to a finite value above everything else
    both = np.concatenate([a, b])
    finite = both[np.isfinite(both)]
    big = (np.max(np.abs(finite)) + 1.0) * 2 if finite.size else 1.0
    a = np.where(np.isposinf(a), big, np.where(np.isneginf(a), -big, a))
    b = np.where(np.isposinf(b), big, np.where(np.isneginf(b), -big, b))
    return float(mannwhitneyu(a, b, alternative=alternative).pvalue)


def min_p_value(n_a: int, n_b: int, alternative: str = "two-sided") -> float:
    """The smallest p-value the exact Mann-Whitney test can give with these sample sizes."""
    if n_a == 0 or n_b == 0:
        return 1.0
    p = 1.0 / math.comb(n_a + n_b, min(n_a, n_b))
    return min(1.0, 2 * p) if alternative == "two-sided" else p


def is_different(a: Sequence[float], b: Sequence[float], *, alpha: float = DEFAULT_ALPHA,
                 alternative: str = "two-sided") -> tuple[bool, str]:
    """asv's rule: Mann-Whitney U when the samples are large enough for the test to reach
    ``alpha``; otherwise the two bootstrap confidence intervals must not overlap.
    ``alternative='greater'`` asks whether b is larger than a (a slowdown from a to b).
    Returns (different, how it was decided)."""
    a, b = _clean(a), _clean(b)
    if a.size == 0 or b.size == 0:
        return False, "no samples"
    if np.array_equal(np.sort(a), np.sort(b)):
        return False, "identical"
    if a.size < 2 or b.size < 2:  # a one-sample "interval" has zero width: any difference would look significant
        return False, f"one sample cannot show a significant difference (n={a.size},{b.size})"
    alt = {"two-sided": "two-sided", "greater": "less"}[alternative]  # scipy: is a < b ?
    if min_p_value(a.size, b.size, alt) < alpha:
        p = mann_whitney(a, b, alt)
        return p < alpha, f"Mann-Whitney p={p:.3g}"
    ca, cb = bootstrap_ci(a, alpha=alpha), bootstrap_ci(b, alpha=alpha)
    if alternative == "greater":
        apart = cb.lo > ca.hi
    else:
        apart = cb.lo > ca.hi or ca.lo > cb.hi
    return bool(apart), f"{100 * (1 - alpha):.0f}% CIs {'disjoint' if apart else 'overlap'} (n={a.size},{b.size})"


def ratio(b: float, a: float) -> float:
    """b / a with the conventions of time to target: inf/inf = 1 (neither reached), x/inf = 0,
    inf/x = inf, 0/0 = 1."""
    if math.isnan(a) or math.isnan(b):
        return math.nan
    if math.isinf(a) and math.isinf(b):
        return 1.0
    if a == 0:
        return 1.0 if b == 0 else math.inf
    return b / a


def geomean(values: Sequence[float]) -> float:
    """Geometric mean of positive values (inf if any is inf, nan if none or any <= 0)."""
    a = _clean(values)
    if a.size == 0 or np.any(a <= 0):
        return math.nan
    if np.any(np.isinf(a)):
        return math.inf
    return float(np.exp(np.mean(np.log(a))))
