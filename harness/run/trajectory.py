"""The trajectory audit: what each update of a run did, inferred from the iterates the monitor kept
one update apart (:mod:`harness._core.observe`), on a workload that gives per-sample gradients
(:meth:`Workload.per_sample_gradients`; the finite-sum linear models do).

Each observed step ``Delta = w_{t+1} - w_t`` is explained by one of two update models, with
``g_i`` the per-sample gradients, ``B`` a multiset of ``b`` sample indices, ``w_r`` an earlier
iterate (the read; ``tau = t - r`` its staleness) and ``u`` an earlier iterate (SVRG's snapshot):

- SGD (every family but SVRG's): ``Delta = -(eta/b) sum_{i in B} g_i(w_r)``  (eq. (6) of Bhardwaj &
  Cong 2017 for the asynchronous form);
- SVRG (families named ``*svrg*``): ``Delta = -(eta/b) sum_{i in B} [g_i(w_r) - g_i(u)] - eta grad f(u)``
  (Huo, eqs. (2.32)-(2.33)); the update is then the ``t - s + 1``-th of its inner loop, ``s`` the
  update at which ``u`` was the iterate.

With an l2 weight ``lam`` (the linear workloads) each form comes twice: the l2 term in ``g_i(w_r)``, as
the papers write it, or at the iterate the update writes, ``g_i(w_r) + lam (w_t - w_r)``, as a shared-memory
read-modify-write applies it (:meth:`_Search.explain`; they differ only for a stale read).

``eta``, ``b``, ``B``, ``r`` and ``u`` are unknown: an update is explained when some choice makes the
model's direction parallel to ``Delta`` within :data:`TOL` (the sine of the angle, plus the rounding
of ``Delta``, a difference of two iterates), with a positive step, which it then gives. Rounding
leaves an honest update within ~3e-8 (a sample whose residual nearly vanishes has a gradient known to
fewer digits); a random direction is within 1e-7 with a probability of about 1e-7^(d-1) per
candidate. Where the read iterate moves the direction of ``g_i`` little (a small l2 weight), reads
close in time are told apart only to that extent: the least stale explanation is taken, with the
least step among the reads that explain it (a freshly read residual is smaller: its step is larger). A
batch drawn with repeats that make a smaller one (i, i) counts as that smaller batch. The
search: staleness from 0 up (the least stale explanation first, so a plugin gets the benefit of the
doubt), ``b`` from the last one found, then the one the plugin reports (a hint, checked like any
other), then 1 to :data:`MAX_B` exactly (2 by matching singles, 3 and 4 by matching sums of pairs
against sums of pairs or singles along a random direction, then checked in full; 3 and 4 up to
n = 706; beyond, where matching pursuit misses them and b is below the gradients' rank, with b - 1 of the
batch among the samples most anti-aligned with the step, :func:`_anchored`), then larger ``b`` by sparse recovery (:func:`_omp`: orthogonal matching pursuit over the
whitened per-sample gradients at the read, then least squares on the atoms it picked, whose
weights must be equal, or integer multiples for an index drawn twice: ``b`` is their sum, so a run
of another ``b`` than the one reported shows), snapshots among the kept iterates. Fewer atoms than
the gradients' rank is what makes a fit evidence (a direction outside their span cannot fit); a
``b`` at or above the rank is not identifiable and is said to be, and matching pursuit resolves
``b`` up to about rank / :data:`RESOLVES` (measured on generated logistic regression: b = 8 at
d = 100 and b = 16, 32 at d = 200 every step; b = 16 at d = 100 about half; b = 8 at d = 50 rarely),
beyond which the audit says that instead of a claim. It is exact arithmetic on the run's own
iterates: nothing is sampled, so the same run gives the same audit.

Which misses count: an update tried and not explained counts against the run (``unexplained``: the
figures stand only where the explained are at least :data:`COVER` of these and the explained, and of
those after the first window on their own: the head cannot vouch for the later windows) unless
it may honestly have read what was not kept (``excused``, :meth:`_Search.excused`): an iterate
within the run's largest delay before it is missing (the largest staleness the search found in the
run's iterates, at most :data:`WINDOW`), or, for an SVRG update before the first snapshot found in
its window, one within the inner-loop length (the longest found, or the m reported) and that delay.
A serial update reads its own iterate: no miss of a run without delays is excused, wherever it falls
in its window. The tau_max the plugin reports widens nothing: a later window is 64 updates
(:mod:`harness._core.observe`), so a reported 64 excused every miss in it, and a plugin honest on its
first 100 updates alone came out audited. The m reported does (an honest SVRG whose inner loop is
longer than what the head shows reads snapshots from before its later windows: the parameter-server
simulator, audited on 21 of 101 updates with it, not without); the theorems read that m too. The misses
excused by the delays are as many as those delays make likely, no more (:meth:`_Search.credible_excuses`:
the delays found where every read was kept, the head's, say how often a later update reads what was not
kept; excuses beyond a Poisson count of that mean at 1e-6 count): one read 64 stale in the head made 64
the bound and excused all 128 misses of two later windows of a plugin stepping at random after it.

A search whose candidate sums would put one within :data:`TOL` of a random step (the expected number of
such chance matches above :data:`CHANCE`, from the cap of the sphere in the dimensions the per-sample
gradients span: :meth:`_Search.chance`) is not made: in two dimensions a match is no evidence.

How far the search goes is counted, not timed, so that promise holds on a loaded machine too. Each
piece of work is counted before it is done (:meth:`_Search.spend`: the element passes, sorts and
matrix products it makes, from the shapes it touches, and its numpy calls, weighted to about
half a nanosecond each on a quiet 2-core Xeon), and the search stops where the next piece would pass
its budget (:func:`work_budget`: :data:`WORK_PER_UPDATE` per update of the run, between
:data:`WORK_FLOOR` and :data:`WORK_CAP`, ~0.2-1 s there): the first window first on at most half of
it, then the later windows in turn, then the first window's rest. The budget and the count depend
on the run's update count and iterates only, so ``explained`` and ``tried`` are the same at any
load (a slower machine takes longer over them). A wall clock remains as a safety net only
(:func:`safety_seconds`: 10 x the budget's longest expected time, at least 5 s), against a case the count
misjudges; where it fires, the result says so (the update and batch it was searching, the work
spent, and whether this process had the CPU meanwhile: other load, or pieces dearer than counted),
and that result alone depends on the load.

:func:`audit` returns the figures (stored by the runner as ``info["audit"]``, after the plugin's own
info, so a plugin cannot write them): how many steps were observed and explained, the step sizes
(median, least, largest, and ``step_high``, exceeded by at most :data:`HIGH` of the updates whose reads
are all kept), the staleness and batch sizes found (``delays``, ``batches``), SVRG's longest inner loop
seen, the updates not explained that count (``unexplained``) and that may have read what was not kept
(``excused``), or why nothing was audited, naming the limit hit where one was (no per-sample gradients,
an iterate that is no vector, per-sample gradients all parallel so that the step cannot be told, too
large to search, a reported b not identifiable or not resolved at this rank, coordinate-wise writes
the run reports, the work budget spent after k of N updates, the wall-clock safety net; else updates
of another form: momentum, dual or coordinate-wise updates, inconsistent reads). The theory checker
compares them with what the plugin reported (:mod:`harness.theory.audit`).
"""

from __future__ import annotations

import bisect
import math
import time
from functools import lru_cache
from time import process_time
from typing import Any

import numpy as np

TOL = 1e-7            # sine of the angle under which a model direction explains a step
WINDOW = 64           # largest staleness searched
MAX_B = 4             # largest mini-batch searched
MAX_GRAD_FLOATS = 2_000_000    # n x dim of one per-sample gradient matrix
MAX_PAIRS = 250_000   # n(n+1)/2 pair sums sorted per read for b = 3, 4 (n <= 706)
EPS = float(np.finfo(float).eps)
GIVE_UP = 64          # unexplained steps in a row after which a window is left
FIRST = 8             # steps tried before a model that explains fewer than COVER of them is dropped
COVER = 0.5           # share of the steps tried that must be explained for the figures to count
# The search's work is counted in units of about half a nanosecond of a quiet 2-core Xeon (:meth:`_Search.spend`): an
# element pass over an array counts 1 (numpy's passes over these arrays are memory-bound), with the weights below.
# Measured on 14 searches run to the end (the tour's serial, thread and simulator runs at n = 4000, d = 40;
# check-plugin's every-update run; ridge b = 3, 4 by pair sums; logreg b = 8, 16 by sparse recovery; digits, d = 640,
# b = 1 and 4): on a quiet machine each took 0.33-1.0 ns a unit, most 0.4-0.6; matrix-product-heavy ones (matching
# pursuit, the whitening's eigendecomposition) slow 3-8x where another process holds a core (BLAS threads)
GRAD = 6              # per entry of a per-sample gradient matrix (X w, a residual, X scaled by it, a copy, the
                      # page faults of a fresh array: 4.2 ns an entry measured at n x d = 1348 x 640, 6.8 at 4000 x 40)
SORT = 2              # per element and halving of a sort (numpy's argsort on floats)
BLAS = 0.01           # per flop of a matrix product (BLAS: ~100 flops a nanosecond, float32 in matching pursuit)
EIGH = 1.0            # per d^3 of the whitening's symmetric eigendecomposition (LAPACK: 0.26 s at d = 640 quiet)
CALL = 2000           # per numpy call beyond its passes (~2 us: the call, its checks, the Python around it)
RATE = 1e9            # units per second of the slowest of those searches: a budget's longest expected seconds
WORK_CAP = 2e9        # the search's work budget at most (~1 s, 0.7-2 s: the former wall-clock cap) ...
WORK_FLOOR = 4e8      # ... at least (~0.2 s, 0.13-0.4 s: the former floor; short runs stay cheap) ...
WORK_PER_UPDATE = 1e5  # ... and between them this per update of the run (~50 us): a run under 4000 updates (most
                       # tests') gets the floor, the tour's 20-epoch SGD at b = 4, n = 4000 (20000 updates) the cap
SAFETY = 10.0         # the wall-clock safety net: this many times the budget's longest expected seconds ...
SAFETY_FLOOR = 5.0    # ... and at least this many seconds
SPARSE_K = 4          # the sparse search picks up to 4 x max(b reported, 2 MAX_B) atoms (below the gradients' rank)
COEF_TOL = 1e-6       # a least-squares coefficient over the unit one: within this of its (integer) multiplicity
RESOLVES = 8          # orthogonal matching pursuit resolves b up to about rank / 8 on these gradients (measured)
MAX_ATOM_FLOATS = 4_000_000   # whitened atoms kept for reads searched again (float32: 16 MB)
NEAR = 10             # a read next to the one found that turns the direction by more than NEAR x TOL: no ambiguity
CHANCE = 1e-3         # a search whose candidate sums would put one within TOL of a random step with this expected count
CHANCE_MAX_D = 200    # ... is possible only in a dozen dimensions or so (the gradients' rank measured up to this d)
WRITTEN_TRIES = 4     # misses on which the l2 term at the written iterate is tried before it explains an update
ANCHORS = {3: 128, 4: 64}   # b: rows searched for b - 1 of a batch's rows where matching pursuit missed it (:func:`_anchored`)
HIGH = 0.1            # step_high: the step exceeded by at most this share of the updates whose reads are all kept


def audit(workload, updates: np.ndarray, iterates: np.ndarray, *, family: str = "", windows=None,
          dropped: str = "", run_updates: int | None = None, reported: dict[str, Any] | None = None,
          work: float | None = None) -> dict[str, Any]:
    """The audit's figures for one run (see the module docstring); ``{"status": "unaudited",
    "reason": ...}`` when nothing could be audited. The search spends at most :func:`work_budget`
    of ``run_updates`` (the run's update count; None: the largest budget) in counted units
    (:meth:`_Search.spend`; b = 1 needs far less), or ``work`` where given (check-plugin's audit run,
    whose every update must be searched); its wall-clock safety net is :func:`safety_seconds` of
    that budget. ``reported``: the values the plugin reported it applied (or its parameters): its
    ``b`` is searched first (a hint, never taken on trust: the batch found is what is reported back),
    its ``coords`` names coordinate-wise writes where no update is explained. ``work`` in the figures
    is what the search spent: like every figure but ``seconds``, the same at any load. The delays the
    search finds and SVRG's inner loop (found, or the ``m`` reported) bound which unexplained updates
    may have read (or taken their snapshot) before the kept iterates, the only ones not counted
    against the run (``excused``)."""
    t0 = time.perf_counter()
    budget = float(work) if work is not None else work_budget(run_updates)
    out: dict[str, Any] = {"windows": [list(w) for w in windows or ()]}

    def unaudited(reason: str) -> dict[str, Any]:
        return {**out, "status": "unaudited", "reason": reason, "seconds": round(time.perf_counter() - t0, 4)}

    steps = [j for j in range(len(updates) - 1) if updates[j + 1] == updates[j] + 1]
    out["observed"] = len(steps)
    if not steps:
        return unaudited(dropped or "no update was observed on its own (the run did not tick after each update "
                                    "inside the observation windows, or ran outside this process)")
    n, d = int(getattr(workload, "n", 0) or 0), iterates.shape[1]
    if n * d > MAX_GRAD_FLOATS:
        return unaudited(f"not audited at this size: n x dim = {n} x {d} per-sample gradients per iterate "
                         f"(at most {MAX_GRAD_FLOATS:g})")
    if d < 2:
        return unaudited("a one-dimensional iterate: every direction is parallel, no update can be told apart")
    try:
        n = len(workload.per_sample_gradients(iterates[0]))
    except NotImplementedError as exc:
        return unaudited(str(exc))
    out["n"] = n                 # the samples the per-sample gradients are of (gradient descent's b)
    hint = _int((reported or {}).get("b"))
    search = _Search(workload, updates, iterates, n, hint, inner=_int((reported or {}).get("m")) or 0)
    search.budget, search.deadline, search.t0 = budget, t0 + safety_seconds(budget), t0
    try:
        same = _one_direction(search, steps[0])
        if not same:
            search.measure_span(steps[0])
    except _Stop as stop:
        return unaudited(f"no observed update was searched to the end: "
                         f"{_stopped(search, {'stopped': stop.why, 'tried': 0}, steps)}")
    if same:
        return unaudited(same)
    order = ["svrg", "sgd"] if "svrg" in (family or "").lower() else ["sgd", "svrg"]
    found = _run(search, steps, order[0])
    if found["tried"] and not _covers(found):      # the family's model fails: the other one, if it does better
        other = _run(search, steps, order[1])
        found = other if len(other["explained"]) > len(found["explained"]) else found
    # of the updates tried, those not explained count against the run (``unexplained``) except those that may have
    # read (or taken their SVRG snapshot) before the kept iterates (``excused``: _Search.excused)
    out.update(model=found["model"], explained=len(found["explained"]), tried=found["tried"],
               unexplained=found["unexplained"], excused=found["excused"], b_searched=search.b_searched,
               work=float(f"{search.work:.4g}"), work_budget=float(f"{budget:.4g}"))
    if search.skipped_b:
        out["b_not_searched"] = search.skipped_b
    if "excuse" in found:
        out["excuse"] = found["excuse"]
    if found["l2_written"]:      # stale updates whose l2 term is at the iterate they wrote (:meth:`_Search.explain`)
        out["l2_written"] = found["l2_written"]
    counted = len(found["explained"]) + found["unexplained"]
    limit = _limit(search, found, steps, reported or {})
    later = found.get("later") or {}
    if found["explained"] and _covers(found) and later.get("counted") and not (
            later["explained"] >= COVER * (later["explained"] + later["counted"])):
        return unaudited(f"the observed updates after the first window are not gradient steps of the SGD or SVRG "
                         f"form: only {later['explained']} of the {later['explained'] + later['counted']} tried and "
                         f"counted there are (the first window's {len(found['explained']) - later['explained']} "
                         f"explained cannot vouch for the rest of the run): {limit}")
    if found["explained"] and not _covers(found):
        also = (f" ({found['excused']} more tried, which may have read an iterate from before their window, "
                f"not counted)" if found["excused"] else "")
        extra = found.get("excuse", {}).get("counted", 0)
        if extra:
            also += (f"; {extra} of those counted may have read before their window too, but the delays of the "
                     f"updates whose reads were all kept make only {found['excuse']['allowed']} such misses likely")
        return unaudited(f"only {len(found['explained'])} of the {counted} observed updates tried and counted are a "
                         f"gradient step of the SGD or SVRG form{also}: {limit}")
    if not found["tried"] and found["stopped"]:
        return unaudited(f"no observed update was searched to the end: {limit}")
    if not found["tried"]:
        return unaudited(f"none of the {len(steps)} updates observed one by one moved the iterate it ticked with")
    if not found["explained"]:
        return unaudited(f"none of the {found['tried']} observed updates tried is a gradient step of the SGD or SVRG "
                         f"form: {limit}")
    ex = found["explained"]
    eta = np.array([e[1] for e in ex])
    taus = np.array([e[0] for e in ex])
    whole = eta[[e[4] for e in ex]]
    bs = [e[2] for e in ex if e[2]]      # an SVRG step that reads its snapshot shows no batch size
    out.update(status="audited", step=float(np.median(eta)), step_max=float(eta.max()), step_min=float(eta.min()),
               step_high=float(np.quantile(whole, 1 - HIGH, method="lower")) if len(whole) else None, step_high_share=HIGH,
               b=max(set(bs), key=bs.count) if bs else None, b_values=sorted(set(bs)),
               b_share=round(max(map(bs.count, set(bs))) / len(bs), 4) if bs else None,
               batches={str(k): bs.count(k) for k in sorted(set(bs))},
               delay_max=int(taus.max()), delays={str(k): int(v) for k, v in zip(*np.unique(taus, return_counts=True))})
    if found["model"] == "svrg":
        out["inner_max"] = int(max(e[3] for e in ex))
    if found["stopped"]:
        out["note"] = _stopped(search, found, steps)
    out["seconds"] = round(time.perf_counter() - t0, 4)
    return out


def _one_direction(search: "_Search", j: int) -> str | None:
    """Why no step can be told at iterate j (the first observed step's: the search reads it first),
    or None: the per-sample gradients there are all parallel within :data:`TOL` (numerical rank 1, as
    where every data row is a multiple of one vector, whose iterates stay on that line) and of
    different sizes along their direction, so any update along it is a gradient step of some sample
    with some step size. Rows all equal (one row repeated) leave the step known, the batch not."""
    G = search.G(j)
    search.spend(8 * G.size, 8)
    norms = np.linalg.norm(G, axis=1)
    top = float(norms.max(initial=0.0))
    if top == 0.0:
        return None
    v = G[int(np.argmax(norms))] / top
    along = G @ v
    live = norms > 1e-12 * top
    with np.errstate(all="ignore"):
        sin = np.sqrt(np.maximum(norms[live] ** 2 - along[live] ** 2, 0.0)) / norms[live]
    if not np.all(sin < TOL):
        return None
    sizes = along[live]
    if float(sizes.max() - sizes.min()) <= COEF_TOL * float(np.abs(sizes).max()):
        return None
    return (f"the {search.n} per-sample gradients at the first iterate observed are all parallel (numerical rank 1, "
            "as where the data rows are multiples of one vector) and of different sizes: any update along them is a "
            "gradient step of some sample with some step size, so neither the step nor the batch can be told")


def _int(x) -> int | None:
    return (int(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and np.isfinite(x) and x >= 1 and x == int(x)
            else None)


def work_budget(run_updates: int | None) -> float:
    """The search's work budget in counted units (:meth:`_Search.spend`) for a run of ``run_updates``
    updates: :data:`WORK_PER_UPDATE` each, at least :data:`WORK_FLOOR` (short runs stay cheap), at most
    :data:`WORK_CAP`; None: :data:`WORK_CAP`. A function of the run's length alone, never of a clock."""
    if run_updates is None:
        return WORK_CAP
    return min(WORK_CAP, max(WORK_FLOOR, WORK_PER_UPDATE * float(run_updates)))


def safety_seconds(budget: float) -> float:
    """The wall-clock safety net of a search with ``budget`` counted units: :data:`SAFETY` x its
    expected seconds at :data:`RATE`, at least :data:`SAFETY_FLOOR` seconds."""
    return max(SAFETY_FLOOR, SAFETY * budget / RATE)


def _stopped(search: "_Search", found: dict[str, Any], steps: list[int]) -> str:
    """What cut the search short, and how far it got."""
    got = f"after {found['tried']} of the {len(steps)} observed updates"
    if found["stopped"] == "safety":
        wall = time.perf_counter() - search.t0 if search.t0 is not None else float("nan")
        cpu = process_time() - search.cpu0
        rate = wall / max(search.work, 1.0) * 1e9
        # the process's CPU time says which: a search that had the CPU and still ran past the net does more
        # work than it counts; one that had it for a small share of the time waited for other processes
        why = (f"this process had the CPU for {cpu:.3g} s of them: other processes held the machine"
               if cpu < 0.5 * wall else
               f"this process computed for {cpu:.3g} s of them (its threads together): this search's pieces cost "
               "more than the count weighs them")
        return (f"the search hit its wall-clock safety net ({safety_seconds(search.budget):.3g} s) {got}, in "
                f"{search.doing or 'its first update'}, with {search.work:.3g} of its {search.budget:.3g} work units "
                f"spent: {rate:.3g} ns a unit where the count expects at most {1e9 / RATE:.3g}; {why}; "
                "these figures depend on that")
    return f"the search spent its work budget ({search.budget:.3g} units, set by the run's length, not a clock) {got}"


def _limit(search: "_Search", found: dict[str, Any], steps: list[int], reported: dict[str, Any]) -> str:
    """Why updates went unexplained, naming the limit that was hit where one was (the batch reported
    is beyond what can be identified or resolved, coordinate-wise writes, the work budget or the
    wall-clock safety net), else the forms of update the two models do not cover."""
    why = []
    b, rank, coords = search.hint, search.rank, _int(reported.get("coords"))
    if search.by_chance:
        bs = ", ".join("any b by sparse recovery" if k == 0 else f"b = {k}" for k in sorted(search.by_chance))
        why.append(f"{bs} not searched: the per-sample gradients span {search.span} dimensions, where one of the "
                   f"candidate batches would lie within the tolerance of a random step (expected "
                   f"{max(search.by_chance.values()):.3g} such matches, above {CHANCE:g}): a match would be chance")
    if coords:
        why.append(f"the run reports coordinate-wise writes (coords = {coords}: {coords} of the {search.W.shape[1]} "
                   "coordinates written per update), which are no gradient step of either form")
    if b and rank is not None and b >= rank:
        why.append(f"the reported mini-batch b = {b} is not identifiable: the per-sample gradients span only {rank} "
                   f"dimensions, so any step is a combination of {rank} of them")
    elif b and b > search.max_b and rank is not None and b > rank / RESOLVES:
        why.append(f"the reported mini-batch b = {b} is beyond what the sparse search resolves at this size "
                   f"(orthogonal matching pursuit over n = {search.n} per-sample gradients of rank {rank} recovers b up "
                   f"to about rank / {RESOLVES} = {rank // RESOLVES})")
    elif b and b > search.max_b and rank is not None:
        why.append(f"the reported mini-batch b = {b} is searched by sparse recovery, which misses some batches at this "
                   f"size (n = {search.n} per-sample gradients of rank {rank}): {len(found['explained'])} of the "
                   f"{found['tried']} updates tried recovered")
    elif b and b > search.max_b:
        why.append(f"the reported mini-batch b = {b} was not reached by the sparse search")
    if found["stopped"]:
        why.append(_stopped(search, found, steps))
    if not why:
        why.append(f"updates of another form (momentum, dual or coordinate-wise updates, inconsistent reads), a read "
                   f"older than {WINDOW} updates, or a mini-batch beyond the search (b <= {search.max_b} exactly"
                   f"{', 3 and 4 by anchors among the samples most anti-aligned with the step' if search.max_b < MAX_B else ''}"
                   ", larger b by sparse recovery below the gradients' rank)")
    return "; ".join(why)


def _covers(found: dict[str, Any]) -> bool:
    n = len(found["explained"])
    return n > 0 and n >= COVER * (n + found["unexplained"])


def _segments(updates: np.ndarray, steps: list[int]) -> list[list[int]]:
    """The observed steps in runs of consecutive updates (one per observation window)."""
    out: list[list[int]] = []
    for j in steps:
        if out and updates[j] == updates[out[-1][-1]] + 1:
            out[-1].append(j)
        else:
            out.append([j])
    return out


def _run(search: "_Search", steps: list[int], model: str) -> dict[str, Any]:
    """Explain the steps: the first window (from update 0, where the run's b and staleness show)
    first, on at most half the work budget, then the later windows one step of each in turn (so a
    search cut short by its budget has looked at each), then the rest of the first window. A model that explains fewer than
    :data:`COVER` of the steps tried (from :data:`FIRST` on) is dropped: the updates are of another
    form; a window is left after :data:`GIVE_UP` unexplained steps in a row. ``stopped``: ``"work"``
    where the budget left steps unsearched, ``"safety"`` where the wall-clock safety net did, else ``""``."""
    explained, tried, stopped = [], 0, ""
    misses: list[tuple[int, bool]] = []     # (update, no snapshot of its window found yet) of each unexplained step
    tried_t: list[int] = []                 # the update of each step tried, explained or not ...
    explained_t: list[int] = []             # ... and of each explained one (beside ``explained``)
    search.reset()
    segs = _segments(search.ups, steps)
    queues = [list(seg) for seg in segs]
    state = [{"misses": 0, "last_u": None} for _ in queues]

    counted = {"bounds": None, "flags": []}

    def unexplained() -> int:
        """The misses that count against the run: all but those whose reads (or SVRG snapshot) may
        precede what was kept, with the bounds known so far (:meth:`_Search.excused`)."""
        bounds, flags = search.bounds(), counted["flags"]
        if bounds != counted["bounds"]:          # the bounds grew: every miss judged again
            counted["bounds"], flags[:] = bounds, []
        flags += [not search.excused(t, model, no_snap) for t, no_snap in misses[len(flags):]]
        return sum(flags)

    def step(i: int) -> bool:
        nonlocal tried, stopped
        j = queues[i][0]
        search.last_u = state[i]["last_u"]
        try:
            res = search.explain(j, model)
        except _Stop as stop:     # stopped inside an update: it is neither explained nor counted against the run
            stopped = stop.why
            return False
        queues[i].pop(0)
        state[i]["last_u"] = search.last_u
        if res is None:            # no move: nothing to explain
            return True
        tried += 1
        tried_t.append(int(search.ups[j]))
        if res is False:
            # a miss counts against the run unless one of its possible reads (or SVRG's snapshot, where
            # none of its window was found before it) was not kept: decided at the end, with the bounds
            # the whole run showed (:meth:`_Search.excused`)
            misses.append((int(search.ups[j]), search.last_u is None))
            state[i]["misses"] += 1
            if state[i]["misses"] >= GIVE_UP:
                queues[i].clear()
            counted = len(explained) + unexplained()     # go on while the model explains most of what it tried
            return counted < FIRST or len(explained) >= COVER * counted
        state[i]["misses"] = 0
        # every read the update may have made is kept: the head (reads before update 0 are update 0), or
        # half a window in (reads up to WINDOW/2 stale)
        start = int(search.ups[segs[i][0]])
        explained.append((*res, start == 0 or int(search.ups[j]) - start >= WINDOW // 2))
        explained_t.append(int(search.ups[j]))
        return True

    going = True
    while going and queues and queues[0]:
        if search.work > search.budget / 2:
            break
        going = step(0)
    while going and any(queues[1:]):
        for i in range(1, len(queues)):
            if not queues[i]:
                continue
            if search.work > search.budget:
                stopped, going = "work", False
                break
            going = step(i)
            if not going:
                break
    while going and queues and queues[0]:    # what the later windows left of the budget: the first window's rest
        if search.work > search.budget:
            stopped = "work"
            break
        going = step(0)
    stopped = stopped or ("work" if any(queues) and going else "")
    counted_misses = unexplained()
    excused = len(misses) - counted_misses
    # the misses excused by the delays alone (not by SVRG's unkept snapshot) must be as many as the delays the run
    # showed where every read was kept make likely: the rest count against it (_Search.credible_excuses). An SVRG
    # miss before its window's first snapshot found, whose snapshot (within m before it) may be unkept, is excused by
    # that whatever its delay: an honest asynchronous SVRG (delays mostly 0, 3% of 20; m = 60; 8 later windows) had 99 such misses
    # counted, its first updates of each window, within the largest delay of the window's start
    flags = counted["flags"]
    by_delay = sum(1 for (t, no_snap), counts in zip(misses, flags) if not counts and search.excused(t, "sgd", False)
                   and not (model == "svrg" and no_snap and search.excused(t, "svrg", True, tau=0)))
    out = {"model": model, "explained": explained, "tried": tried, "unexplained": counted_misses, "excused": excused,
           "stopped": stopped, "l2_written": search.l2_written}
    if by_delay:
        cap = search.credible_excuses([e[0] for e in explained], explained_t, tried_t)
        extra = max(0, by_delay - cap["allowed"]) if cap else 0
        out.update(unexplained=counted_misses + extra, excused=excused - extra,
                   excuse={**(cap or {"expected": None, "allowed": None}), "by_delay": by_delay, "counted": extra})
    # the updates after the first window on their own (COVER of them too, where any counts): a plugin honest on
    # exactly its first 128 updates and stepping at random on every later one was audited on a tie, 128 of 256
    end = int(search.ups[segs[0][-1]]) if segs else 0
    later_explained = sum(1 for t in explained_t if t > end)
    later_counted = sum(1 for (t, _), counts in zip(misses, flags) if counts and t > end) + out.get("excuse", {}).get(
        "counted", 0)
    out["later"] = {"explained": later_explained, "counted": later_counted}
    return out


class _Stop(Exception):
    """The search stopped inside one update (before a piece of work): ``why`` is ``"work"`` (its work
    budget) or ``"safety"`` (its wall-clock safety net)."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


class _Search:
    budget = float("inf")    # work units the search may spend (:meth:`spend`)
    deadline = float("inf")  # the wall-clock safety net (perf_counter)
    t0 = None                # when the search started (perf_counter)
    doing = ""               # the piece of the search under way (the update and the batch searched)

    def __init__(self, workload, updates: np.ndarray, iterates: np.ndarray, n: int, hint: int | None = None,
                 inner: int = 0):
        self.wl, self.ups, self.W, self.n, self.hint = workload, updates, iterates, n, hint
        self.inner = inner                     # SVRG's inner loop the run reports (0: none)
        self.kept = sorted({int(u) for u in updates})    # the updates whose iterates were kept
        self._M: dict[str, np.ndarray] = {}   # per model: the whitening of its atoms (sparse search)
        self.rank: int | None = None           # the per-sample gradients' rank (once the sparse search ran)
        self._G: dict[int, np.ndarray] = {}
        self._F: dict[int, np.ndarray] = {}
        self._A: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}   # whitened atoms per (model, read, snapshot)
        d = iterates.shape[1]
        self.max_b = MAX_B if n * (n + 1) // 2 <= MAX_PAIRS else 2
        self.skipped_b = ("" if self.max_b == MAX_B else
                          f"b = 3, 4 not searched exactly at n = {n} (more than {MAX_PAIRS:g} pairs of samples): by sparse "
                          f"recovery, then with b - 1 of the batch among the {ANCHORS[3]} (b = 3) or {ANCHORS[4]} (b = 4) "
                          "samples most anti-aligned with the step")
        lam = getattr(workload, "lam", 0.0)
        self.lam = float(lam) if isinstance(lam, (int, float)) and math.isfinite(lam) and lam > 0 else 0.0
        self.written = False                   # the l2 term at the written iterate (the form tried first)
        self.skip_fresh = False                # the second form: its update's own iterate is searched already
        self.wt = None                         # the iterate the update being explained was applied to
        self.l2_written = 0                    # stale updates explained with the l2 term at the written iterate
        self.span = d                          # the dimension a step's direction is searched in (:meth:`measure_span`)
        self.by_chance: dict[int, float] = {}  # b not searched: the expected chance matches (:meth:`chance`)
        self.block = max(1, min(WINDOW + 1, 4_000_000 // max(n * d, 1)))   # reads stacked per numpy call
        self.rng = np.random.default_rng(0)
        self.cpu0 = process_time()             # this process's CPU seconds when the search started
        self.work = 0.0                        # work units spent (:meth:`spend`), over both models
        self.reset()

    def reset(self) -> None:
        self.written, self.l2_written = False, 0
        self.written_tries = WRITTEN_TRIES     # misses the written l2 form is tried on before it explains one
        self.last_b, self.last_u = None, None
        self.same_b = 0          # steps explained in a row with last_b: from 8 on, the run's b
        self.max_tau = 0         # the largest staleness explained so far
        self.max_inner = 0       # SVRG: the longest inner loop explained so far

    def bounds(self) -> tuple[int, int]:
        """(tau, m): the largest staleness an update of this run may have, the largest the search found
        in its iterates (not the tau_max the run reports), at most :data:`WINDOW` (the search reaches no
        further); and SVRG's longest inner loop, the longest found or the m the run reports."""
        return (min(WINDOW, self.max_tau), max(self.max_inner, self.inner))

    def excused(self, t: int, model: str, no_snapshot: bool, tau: int | None = None) -> bool:
        """Whether an unexplained update ``t`` may be honest for want of kept iterates: one of the
        iterates it may have read (the ``tau`` before it, :meth:`bounds`, or the ``tau`` given) was not
        kept, or, for an SVRG update none of whose window's snapshots was found before it, one where its
        snapshot may be (the ``m + tau`` before it). Reads before update 0 are update 0."""
        bound, m = self.bounds()
        tau = bound if tau is None else tau
        reach = tau + (m if model == "svrg" and no_snapshot else 0)
        lo = max(t - reach, 0)
        return bisect.bisect_right(self.kept, t) - bisect.bisect_left(self.kept, lo) < t - lo + 1

    def credible_excuses(self, taus: list[int], explained_t: list[int], tried_t: list[int]) -> dict[str, Any] | None:
        """How many misses the delays can excuse: ``{"expected", "allowed", "sample"}``, or None where no
        explained update had all its reads kept (no sample of the delays to judge by).

        The delays of the explained updates all of whose reads within the run's largest delay were kept
        (the head's, from update 0: uncensored) are the run's delay distribution, ``N`` of them. A tried
        update ``t`` some of whose reads were not kept read one of those with probability ``p_t``: the
        share of that sample whose delay ``tau`` makes ``t - tau`` an unkept update, taken at its 99%
        Clopper-Pearson upper bound (``k`` of ``N``: the Beta(k + 1, N - k) quantile; a head of 100
        delays none of which reaches t's unkept reads allows 4.5%). ``expected`` is their sum, and
        ``allowed`` the number of excused misses a Poisson count of that mean exceeds with probability
        1e-6. An honest run's unkept reads are as frequent as its kept ones of the same delay; a plugin
        that shows delays early and steps at random later is excused no more than its delays explain
        (one read 64 stale among its head's 100 excused all 128 misses of two later windows)."""
        from scipy.stats import beta, poisson

        sample = [tau for tau, t in zip(taus, explained_t) if not self.excused(t, "sgd", False)]
        if not sample:
            return None
        N = len(sample)
        delays = np.unique(np.asarray(sample), return_counts=True)
        bound, kept = self.bounds()[0], self.kept
        upper: dict[int, float] = {}
        expected = 0.0
        for t in tried_t:
            if not self.excused(t, "sgd", False):
                continue
            k = 0
            for tau, count in zip(*delays):
                r = t - int(tau)
                if tau <= bound and r >= 0:
                    i = bisect.bisect_left(kept, r)
                    k += int(count) if i == len(kept) or kept[i] != r else 0
            if k not in upper:
                upper[k] = 1.0 if k >= N else float(beta.ppf(0.99, k + 1, N - k))
            expected += upper[k]
        allowed = int(poisson.isf(1e-6, expected)) if expected > 0 else 0
        return {"expected": round(expected, 3), "allowed": allowed, "sample": N}

    def measure_span(self, j: int) -> None:
        """The rank of the per-sample gradients at iterate j (the eigenvalues of G^T G above 1e-12 of the
        largest: singular values above 1e-6 of the largest), where d <= :data:`CHANCE_MAX_D` (above, d stands):
        the dimension in which a liar's step can lie and still be some batch's direction. Only a rank of 12 or
        less brings a search's candidates near a chance match; data of d = 100 in a plane is such a case."""
        d = self.W.shape[1]
        if d <= CHANCE_MAX_D:
            G = self.G(j)
            self.spend(BLAS * 2.0 * G.size * d + EIGH * d ** 3, 6)
            ev = np.linalg.eigvalsh(G.T @ G)
            self.span = max(1, int((ev > 1e-12 * max(float(ev[-1]), 1e-300)).sum()))

    def chance(self, candidates: float, reads: int, tol: float) -> float:
        """The expected number of ``candidates`` directions (at each of ``reads`` reads) within the sine
        ``tol`` of a random unit step in :attr:`span` dimensions, with the sign the step needs: the cap of
        angular radius tol, Gamma(r/2) / (sqrt(pi) Gamma((r-1)/2)) tol^(r-1) / (r-1) of the sphere (tol / pi
        at r = 2). Above :data:`CHANCE` a match is no evidence: in 2 dimensions, n = 800, b = 3, the sums
        of three samples put one within TOL of most random steps."""
        r = self.span
        if r < 2:         # one direction: a step along it is some sample's step of some size (:func:`_one_direction`)
            return 0.0
        log_cap = (math.lgamma(r / 2) - 0.5 * math.log(math.pi) - math.lgamma((r - 1) / 2) + (r - 1) * math.log(tol)
                   - math.log(r - 1))
        return float(candidates) * reads * math.exp(max(log_cap, -700.0))

    def G(self, k: int) -> np.ndarray:
        g = self._G.get(k)
        if g is None:
            if len(self._G) > 2 * WINDOW + 8:        # a sliding window of iterates is all a search reads
                old = next(iter(self._G))
                for cache in (self._G, self._F):
                    cache.pop(old, None)
            self.spend(GRAD * self.n * self.W.shape[1], 4)
            g = self._G[k] = np.asarray(self.wl.per_sample_gradients(self.W[k]), dtype=float)
        return g

    def F(self, k: int) -> np.ndarray:
        f = self._F.get(k)
        if f is None:
            g = self.G(k)
            self.spend(2 * g.size)
            f = self._F[k] = g.mean(axis=0)
        return f

    def _offset(self, k: int) -> np.ndarray | None:
        """lam (w_t - w_k): what read k's gradients lack where the update applies its l2 term at the
        iterate it writes, w_t, not at its read (None: the l2 term at the read, or none)."""
        if not self.written or self.wt is None:
            return None
        off = self.lam * (self.wt - self.W[k])
        return off if off.any() else None

    def Gx(self, k: int) -> np.ndarray:
        """The per-sample gradients as read k enters the update being explained: G(k), or with the l2
        term at the written iterate g_i(w_k) + lam (w_t - w_k) = phi'_i(w_k) x_i + lam w_t."""
        g, off = self.G(k), self._offset(k)
        if off is None:
            return g
        self.spend(2 * g.size, 2)
        return g + off

    def Fx(self, k: int) -> np.ndarray:
        """As :meth:`Gx` for the full gradient at read k (the snapshot read, gradient descent)."""
        f, off = self.F(k), self._offset(k)
        return f if off is None else f + off

    def explain(self, j: int, model: str):
        """(staleness, eta, b, inner position or 0) for step j -> j + 1; None: no move; False: not explained.

        Two forms of the l2 term (a workload with an l2 weight lam): at the read, as the papers write
        grad f_i(w_hat) (eq. (6) of Bhardwaj & Cong 2017; (2.5) of Huo & Huang 2017), and at the iterate the
        update writes, ``w_t <- w_t - eta ((1/b) sum phi'_i(w_hat) x_i + lam w_t)``, as a shared-memory
        read-modify-write applies it (this harness's threads and simulator kernels do). They differ only
        for a stale read; the form that explained the last stale update is tried first, the other where
        it fails, the written one on at most :data:`WRITTEN_TRIES` misses until it explains one (a miss
        searched twice costs twice: a serial run's few misses took 90 of its 256 updates' budget);
        ``l2_written`` counts the stale updates the written form explained."""
        self.wt = self.W[j]
        forms = [self.written, not self.written] if self.lam else [False]
        if not self.written and not self.l2_written and self.written_tries <= 0:
            forms = forms[:1]                      # the written form explained none of its tries: not tried again
        for form in forms:
            self.written_tries -= int(form and not forms[0])
            self.written = form
            self.skip_fresh = form != forms[0]    # the read of the update's own iterate: the same in both forms
            res = self._explain(j, model)
            if res is not False:
                if res is not None and res[0] > 0:
                    self.l2_written += int(form)
                    return res
                self.written = forms[0]
                return res
        self.written = forms[0]
        return False

    def _explain(self, j: int, model: str):
        """:meth:`explain` under the l2 form :attr:`written`."""
        self.spend(16 * self.W.shape[1], 8 + WINDOW // 8)   # the step, its norms, its reads
        delta = self.W[j + 1] - self.W[j]
        size = float(np.linalg.norm(delta))
        scale = float(np.linalg.norm(self.W[j]) + np.linalg.norm(self.W[j + 1]))
        if size <= 1e-12 * max(scale, 1e-300):
            return None
        tol = TOL + 64 * EPS * scale / size          # Delta is a difference of two iterates: its rounding
        q = delta / size
        t = int(self.ups[j])
        self.doing = f"update {t} ({model.upper()} form)"     # what the safety net names where it fires
        reads = []                                     # kept iterates, staleness ascending
        for k in range(j - int(self.skip_fresh), -1, -1):
            if t - int(self.ups[k]) > WINDOW:
                break
            reads.append(k)
        if not reads:                                  # the second form, with no stale read kept
            return False
        # a full-gradient step (gradient descent: b = n, every sample once) is tried until the run showed
        # another b: first, or right after a smaller b the plugin reports (where both explain a step, as on
        # a row repeated n times, the iterates cannot tell them apart: the reported b stands)
        full = model == "sgd" and self.last_b is None
        if full and not (self.hint and self.hint < self.n):
            hit = self._full(reads, q, tol, t, size)
            if hit is not None:
                return hit
            full = False
        if self.same_b >= 8:     # a run keeps its mini-batch size: the others are not searched again
            bs = [self.last_b]
        else:                    # the last b found, the reported one, the exact searches, then the sparse one
            bs = list(dict.fromkeys([b for b in (self.last_b, self.hint) if b] + list(range(1, self.max_b + 1))))
            bs += [] if any(b > self.max_b for b in bs) else [0]
        for b in bs:
            # b >= 3 is dear (sums of pairs, or the sparse search): up to staleness 4 until the run showed it
            # uses that b, then up to twice the largest staleness found so far (it grows from the clipped reads)
            reach = 4 if b != self.last_b else 2 * self.max_tau + 8
            rs = reads if b == 1 else [k for k in reads if t - int(self.ups[k]) <= reach]
            sums = self.n if b == 0 or b > self.max_b else math.comb(self.n + b - 1, b)   # the candidates searched
            risk = self.chance(sums, len(rs), tol)
            if risk > CHANCE:         # a match would be chance, not evidence: this b is not searched here
                self.by_chance[b] = max(risk, self.by_chance.get(b, 0.0))
                continue
            how = "any b by sparse recovery" if b == 0 else f"b = {b} " + (
                "by sparse recovery" if b > self.max_b else "exactly")
            self.doing = (f"update {t} ({model.upper()} form), {how} over n = {self.n} per-sample gradients at "
                          f"reads up to {t - int(self.ups[rs[-1]]) if rs else 0} updates old")
            if b > self.max_b or b == 0:      # sparse recovery; it finds b itself
                hit = self._sparse(rs, q, tol, model, b)
            else:
                hit = self._sgd(rs, q, tol, b) if model == "sgd" else self._svrg(rs, q, tol, b)
            if hit is None:
                if full:                      # the reported b did not explain it: gradient descent next
                    got = self._full(reads, q, tol, t, size)
                    if got is not None:
                        return got
                    full = False
                continue
            k, u, kappa, idx = hit
            if b > self.max_b or b == 0:      # the sparse search's batch (a snapshot read: its step as b = 1)
                b = len(idx) if idx is not None else 1
            eta = -b * kappa * size
            if u is not None and u == k:      # the read is the snapshot: -eta grad f(u), any batch
                seen = None
            else:
                self.same_b = self.same_b + 1 if b == self.last_b else 1
                self.last_b = b
                reach = 2 * max(self.max_tau, t - int(self.ups[k])) + 8
                eta = self._least_step([r for r in reads if t - int(self.ups[r]) <= reach], k, u, idx, q, tol, eta,
                                       b, size)
                # b samples drawn with repeats that make a smaller batch (i, i: one sample twice) are
                # that smaller batch: the same step on the same direction
                seen = b // int(np.gcd.reduce(np.unique(idx, return_counts=True)[1]))
            self.max_tau = max(self.max_tau, t - int(self.ups[k]))
            inner = 0
            if u is not None:
                self.last_u = u
                inner = t - int(self.ups[u]) + 1
                self.max_inner = max(self.max_inner, inner)
            return (t - int(self.ups[k]), float(eta), seen, inner)
        return False

    def _full(self, reads: list[int], q: np.ndarray, tol: float, t: int, size: float):
        """(staleness, eta, n, 0) where the step is -eta grad f(w_r) at the least stale read r whose full
        gradient it is parallel to (gradient descent: the SGD form with b = n, every sample once), or None."""
        hit = self._snapshot(reads, q, tol, 1)
        if hit is None:
            return None
        k, _, kappa, _ = hit
        self.max_tau = max(self.max_tau, t - int(self.ups[k]))
        return (t - int(self.ups[k]), float(-kappa * size), self.n, 0)

    @property
    def b_searched(self) -> int:
        """The largest b the search resolves: the exact search's, or about rank / :data:`RESOLVES` once
        the sparse search ran (it may find larger ones, not reliably)."""
        return self.max_b if self.rank is None else max(self.max_b, self.rank // RESOLVES)

    def spend(self, units: float, calls: int = 1) -> None:
        """Count a piece of work before it is done: ``units`` (the element passes of the numpy calls it
        makes, from the shapes they touch, sorts at :data:`SORT` and matrix products at :data:`BLAS`
        per flop) plus :data:`CALL` per call (what a call costs beyond its passes: small shapes are
        mostly that). Raise :class:`_Stop` where it would take the search past its work
        :attr:`budget`, or once past the wall-clock safety net (:attr:`deadline`). The count is a
        function of the iterates and the search's order only: the same run stops at the same place
        on any machine, at any load."""
        cost = units + CALL * calls
        if self.work + cost > self.budget:
            raise _Stop("work")
        if time.perf_counter() > self.deadline:
            raise _Stop("safety")
        self.work += cost

    def _atoms(self, model: str, k: int, u: int | None, R: np.ndarray, M: np.ndarray):
        """:func:`_atoms` of read k (after snapshot u) under the model's whitening, kept for the next
        updates, which search the same reads (most of those an unexplained update tried): up to
        :data:`MAX_ATOM_FLOATS` floats, the oldest dropped first. What it costs is counted by the
        sparse search as though it were made each time, so the count does not depend on this."""
        key = (model, k, u)
        got = self._A.get(key)
        if got is None:
            got = self._A[key] = _atoms(R, M)
            keep = max(1, MAX_ATOM_FLOATS // max(got[0].size, 1))
            while len(self._A) > keep:
                self._A.pop(next(iter(self._A)))
        return got

    def _whiten(self, model: str, R: np.ndarray) -> np.ndarray:
        """(d, rank) map under which the atoms R are isotropic (their second moment the identity on
        their range), computed once per model from the first atoms searched: any invertible map keeps
        the sparse representation, this one makes the atoms far less alike for the greedy search."""
        M = self._M.get(model)
        if M is None:
            ev, V = np.linalg.eigh(R.T @ R / len(R))
            keep = ev > max(float(ev.max()), 1e-300) * 1e-12
            M = self._M[model] = V[:, keep] / np.sqrt(ev[keep])
            self.rank = int(keep.sum()) if self.rank is None else max(self.rank, int(keep.sum()))
        return M

    def _snapshot(self, ks: list[int], q, tol, b):
        """(read, read, kappa, None) for the least stale read in ks that is the snapshot itself: the step is
        -eta grad f(u), whatever the batch; or None."""
        Fs = np.stack([self.Fx(k) for k in ks])
        self.spend(12 * Fs.size, 8)
        along = Fs @ q
        with np.errstate(all="ignore"):
            sin = np.linalg.norm(Fs - along[:, None] * q, axis=1) / np.linalg.norm(Fs, axis=1)
        ok = np.nonzero((sin < tol) & (along < 0))[0]
        if not len(ok):
            return None
        k = ks[int(ok[0])]
        return k, k, float(along[ok[0]] / (b * float(Fs[ok[0]] @ Fs[ok[0]]))), None

    def _sparse(self, reads: list[int], q, tol, model: str, b: int = 0):
        """(read, snapshot or None, kappa, sample indices) of the least stale read at which q is a
        mini-batch step found by sparse recovery (:func:`_omp`), or for b = 3, 4 where matching pursuit
        finds none at that read by b - 1 anchors among the ANCHORS rows most anti-aligned with q
        (:func:`_anchored`), or the snapshot read where it is fresher (indices None), or None. ``b``: the
        batch searched (0: any)."""
        u = self.last_u if model == "svrg" else None
        snap = self._snapshot(reads, q, tol, 1) if model == "svrg" and reads else None
        if model == "svrg" and u is None:
            return snap
        want = SPARSE_K * max(self.hint or 1, 2 * MAX_B)
        fresh = [k for k in reads if (snap is None or k > snap[0]) and not (model == "svrg" and k < u)]
        for k in fresh:
            G = self.Gx(k)
            self.spend(4 * G.size, 2)
            R = G if u is None else G - self.G(u)
            if not np.any(R):
                continue
            if model not in self._M:                # the whitening: R^T R and its eigendecomposition
                self.spend(BLAS * 4.0 * R.size * R.shape[1] + EIGH * R.shape[1] ** 3, 8)
            M = self._whiten(model, R)
            kmax = min(want, M.shape[1] - 1 - (u is not None))
            if kmax < 1:
                return None
            atoms = self._atoms(model, k, u, R, M) if self._offset(k) is None else _atoms(R, M)
            c = None if u is None else self.F(u)
            found = _omp(R, c, q, tol, kmax, M, self.spend, atoms)
            # the anchors only below the rank (b rows and SVRG's full gradient among fewer dimensions than that span):
            # at d = 2, n = 800 a random step was some batch of 3 or 4 (L^(b-1) n sums, each within TOL of a random
            # direction with a probability of about TOL / pi), and a plugin stepping at random came out audited
            if (found is None and b in ANCHORS and self.n > ANCHORS[b] and b + (u is not None) < M.shape[1]
                    and self.chance(math.comb(ANCHORS[b] + b - 2, b - 1) * self.n, 1, tol) <= CHANCE):
                found = _anchored(R, None if c is None else b * c, q, tol, b, self._candidates(q, atoms, M, c, ANCHORS[b]),
                                  self.rng, self.spend)
            if found is not None:
                return k, u, found[0], found[1]
        return snap

    def _candidates(self, q, atoms: tuple[np.ndarray, np.ndarray], M: np.ndarray, c, L: int) -> np.ndarray:
        """The L rows most anti-aligned with q under the whitening (c's direction taken out first, as
        matching pursuit does), as indices."""
        A, norms = atoms
        self.spend(BLAS * 2.0 * A.size + 4.0 * len(A), 6)
        r = q @ M
        if c is not None:
            cw = c @ M
            r = r - cw * (cw @ r) / (cw @ cw)
        corr = (A @ r.astype(np.float32)) / norms
        return np.argpartition(corr, L)[:L]

    def _blocks(self, reads: list[int]):
        """The reads in blocks searched in one numpy call each: the freshest alone, then 8, then the
        rest (most updates read the freshest iterates), at most ``block`` per call."""
        edges = [0, 1, 9] + list(range(9 + self.block, len(reads) + self.block, self.block))
        for a, b in zip(edges, edges[1:]):
            if a < len(reads):
                yield reads[a:b]

    def _sgd(self, reads: list[int], q, tol, b):
        """(read, None, kappa, sample indices) of the least stale read whose gradients explain q, or None."""
        if b == 1:
            for ks in self._blocks(reads):
                Gs = [self.Gx(k) for k in ks]
                self.spend(6 * len(ks) * Gs[0].size, 14)   # a fresh (m, n, d) stack, two passes
                hit = _first(np.stack(Gs), None, q, tol)
                if hit is not None:
                    return ks[hit[0]], None, hit[1], np.array([hit[2]])
            return None
        for k in reads:
            got = _match(self.Gx(k), None, q, tol, b, self.rng, self.spend)
            if got is not None and got[0] < 0:
                return k, None, got[0], got[1]
        return None

    def _svrg(self, reads: list[int], q, tol, b):
        """(read, snapshot, kappa, sample indices or None): the snapshot the last update used, or the
        read itself (the first step of an inner loop reads its snapshot), the least stale first."""
        u = self.last_u
        for ks in self._blocks(reads):
            cands = []
            if b == 1:
                same = [k for k in ks if u is not None and k >= u]
                if same:
                    Gu = self.G(u)
                    Gs = [self.Gx(k) for k in same]
                    self.spend(7 * len(same) * Gu.size, 16)
                    hit = _first(np.stack([g - Gu for g in Gs]), self.F(u), q, tol)
                    if hit is not None:
                        cands.append((int(self.ups[same[hit[0]]]), same[hit[0]], u, hit[1], np.array([hit[2]])))
            else:
                for k in ks:
                    if u is not None and k >= u:
                        G, Gu, Fu = self.Gx(k), self.G(u), self.F(u)
                        self.spend(2 * G.size, 2)
                        got = _match(G - Gu, b * Fu, q, tol, b, self.rng, self.spend)
                        if got is not None and got[0] < 0:
                            cands.append((int(self.ups[k]), k, u, got[0], got[1]))
                            break
            snap = self._snapshot(ks, q, tol, b)
            if snap is not None:
                cands.append((int(self.ups[snap[0]]), *snap))
            if cands:
                _, k, uu, kappa, idx = max(cands, key=lambda c: c[0])     # the least stale read
                return k, uu, kappa, idx
        return None

    def _least_step(self, reads: list[int], found: int, u: int | None, idx: np.ndarray, q, tol: float,
                    eta: float, b: int, size: float) -> float:
        """The least step among the explanations of q by the same samples ``idx`` at every read in
        ``reads`` (after the snapshot ``u``; ``found`` the read the search took; the caller passes the reads
        up to twice the largest staleness found so far, plus 8): where the reads move
        the direction of these gradients less than ``tol`` (a tiny l2 weight: g_i(w) is x_i times a
        residual), each read explains the step, each with its own step size, and the plugin gets the
        benefit of the doubt. The reads next to ``found`` are looked at first: where they turn the
        direction by more than :data:`NEAR` x ``tol``, the reads further apart are taken as told apart."""
        ks = [k for k in reads if u is None or k >= u]
        d = self.W.shape[1]
        if u is not None:
            Fu, Gu = self.F(u), self.G(u)
            self.spend(2 * (len(idx) + 2) * d, 4)
        off = b * Fu - Gu[idx].sum(axis=0) if u is not None else 0.0
        at = ks.index(found) if found in ks else 0
        near = [k for k in ks[max(at - 1, 0):at + 2] if k != found]
        for cands, last in ((near, False), (ks, True)):
            if not cands:
                return eta
            Gs = [self.Gx(k) for k in cands]
            self.spend(2 * len(cands) * (len(idx) + 8) * d, 14)
            S = (np.stack([g[idx[0]] for g in Gs]) if len(idx) == 1 else
                 np.stack([g[idx].sum(axis=0) for g in Gs])) + off
            along = S @ q
            norm2 = np.einsum("ij,ij->i", S, S)
            with np.errstate(all="ignore"):
                sin = np.sqrt(np.maximum(norm2 - along**2, 0.0) / norm2)
                etas = -b * along / norm2 * size         # -b kappa size, kappa = <q, S>/|S|^2 < 0
            if not last and not (sin < NEAR * tol).any():
                return eta
        ok = (sin < tol) & (along < 0) & np.isfinite(etas)
        return min(eta, float(etas[ok].min())) if ok.any() else eta


def _free(units: float, calls: int = 1) -> None:
    """Work not counted (the search functions called on their own)."""


def _first(Rs: np.ndarray, c: np.ndarray | None, q: np.ndarray, tol: float):
    """(index of the first block, kappa, row) where some row of ``Rs[m]`` (+ ``c``) is parallel to q within
    ``tol`` with a negative coefficient (the least misaligned row of that block), or None. Rs: (m, n, d)."""
    S = Rs if c is None else Rs + c
    along = S @ q                                        # (m, n)
    norm2 = np.einsum("mnd,mnd->mn", S, S)
    with np.errstate(all="ignore"):
        sin = np.sqrt(np.maximum(norm2 - along**2, 0.0) / norm2)
    sin = np.where((along < 0) & np.isfinite(sin), sin, np.inf)
    hit = np.nonzero(sin.min(axis=1) < tol)[0]
    if not len(hit):
        return None
    m = int(hit[0])
    i = int(np.argmin(sin[m]))
    return m, float(along[m, i] / norm2[m, i]), i


def _match(R: np.ndarray, c: np.ndarray | None, q: np.ndarray, tol: float, b: int, rng, spend=_free):
    """For rows R (n, d), offset c and unit direction q: (kappa = <q, S>/|S|^2, B) of a multiset sum
    S = sum_{i in B} R_i + c (|B| = b >= 2) parallel to q within ``tol`` with <q, S> < 0 (the least
    misaligned), or None. Meet in the middle (:func:`_meet`): the sums over half the multiset must
    cancel the other half's (plus c's) along directions orthogonal to q. ``spend(units, calls)`` is
    told the work before it is done (:meth:`_Search.spend`)."""
    n = len(R)
    A_idx = _multisets(n, (b + 1) // 2)
    return _meet(R, c, q, tol, b, A_idx, A_idx if b % 2 == 0 else _multisets(n, b // 2), rng, spend)


def _anchored(R: np.ndarray, c: np.ndarray | None, q: np.ndarray, tol: float, b: int, cand: np.ndarray, rng,
              spend=_free):
    """As :func:`_match` for a multiset of b = 3 or 4 rows with b - 1 of them among the rows ``cand`` (the
    ones most anti-aligned with q) and one anywhere: where n is too large for the sums of all pairs, b - 1
    anchors among L candidates cost L^(b-1)/(b-1)! sums, the last row is looked up among n. On the tour's
    logistic regression (n = 4000, d = 40, b = 4) three of a batch's four rows were among the 64 most
    anti-aligned in 37 of 40 updates, where matching pursuit found 6 of the first 12."""
    anchors = cand[_multisets(len(cand), b - 1)]
    return _meet(R, c, q, tol, b, anchors, np.arange(len(R))[:, None], rng, spend)


def _meet(R: np.ndarray, c: np.ndarray | None, q: np.ndarray, tol: float, b: int, A_idx: np.ndarray,
          B_idx: np.ndarray, rng, spend=_free):
    """The multiset sum S = sum of the rows A_idx[p] and B_idx[r] + c parallel to q within ``tol`` with
    <q, S> < 0 (the least misaligned), as (kappa = <q, S>/|S|^2, indices), or None: projected on a random
    direction orthogonal to q the two parts must cancel; sorted along it, the candidates are filtered
    along two more directions, then checked in full. ``b``: the multiset's size (the tolerance's scale)."""
    n, d = R.shape
    na, nb = len(A_idx), len(B_idx)
    spend(2 * n * d + BLAS * 6 * n * d + 4 * (A_idx.shape[1] * na + B_idx.shape[1] * nb), 20)
    spend(SORT * (nb * np.log2(nb + 1) + (na * np.log2(na + 1) if A_idx is not B_idx else 0)
                  + 2 * na * np.log2(nb + 1)), 10)
    V = rng.standard_normal((3, len(q)))
    V -= np.outer(V @ q, q)
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    pv = R @ V.T                                          # (n, 3)
    cv = np.zeros(3) if c is None else V @ c
    scale = float(np.sqrt(np.max(np.einsum("ij,ij->i", R, R)))) * b + (0.0 if c is None else float(np.linalg.norm(c)))
    if scale == 0.0:
        return None
    p0 = np.ascontiguousarray(pv[:, 0])
    a = _sums(p0, A_idx)                                  # the parts along the first direction only
    bb = (a if B_idx is A_idx else _sums(p0, B_idx)) + cv[0]
    order = np.argsort(bb)
    sb = bb[order]
    # the queries -a in ascending order (searchsorted then runs through once); one index set: a and bb share the order
    qa = order[::-1] if A_idx is B_idx else np.argsort(-a)
    width = 4 * tol * scale
    lo = np.searchsorted(sb, -a[qa] - width, side="left")
    hi = np.searchsorted(sb, -a[qa] + width, side="right")
    counts = hi - lo
    total = int(counts.sum())
    if total == 0 or total > 5_000_000:   # none; or a degenerate direction (rows alike along it): no match told apart
        return None
    spend(16 * total, 12)
    nz = np.nonzero(counts)[0]                            # the few queries with a partner in reach
    qa, lo, counts = qa[nz], lo[nz], counts[nz]
    P = np.repeat(qa, counts)
    Q = order[np.repeat(lo, counts) + np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)]
    keep = np.all(np.abs(_sums(pv[:, 1:], A_idx[P]) + _sums(pv[:, 1:], B_idx[Q]) + cv[1:]) <= width, axis=1)
    P, Q = P[keep], Q[keep]
    if not len(P):
        return None
    spend(8 * len(P) * d, 10)
    S = _sums(R, A_idx[P]) + _sums(R, B_idx[Q]) + (0.0 if c is None else c)
    along = S @ q
    norm2 = np.einsum("ij,ij->i", S, S)
    with np.errstate(all="ignore"):
        sin = np.sqrt(np.maximum(norm2 - along**2, 0.0) / norm2)
    sin = np.where((along < 0) & np.isfinite(sin), sin, np.inf)
    i = int(np.argmin(sin))
    if sin[i] >= tol:
        return None
    return float(along[i] / norm2[i]), np.concatenate([A_idx[P[i]], B_idx[Q[i]]])


def _omp(R: np.ndarray, c: np.ndarray | None, q: np.ndarray, tol: float, kmax: int, M: np.ndarray, spend=_free,
         atoms: tuple[np.ndarray, np.ndarray] | None = None):
    """(kappa, B) where the unit direction q = kappa (sum_{i in B} R_i + b c) for a multiset B of b rows
    of R (n, d) (c: SVRG's full gradient at the snapshot, or None) with kappa < 0, or None; B as
    an index array (an index drawn twice appears twice).

    Orthogonal matching pursuit (Pati, Rezaiifar & Krishnaprasad 1993) on the rows whitened by M
    (:meth:`_Search._whiten`), c always in: at most ``kmax`` atoms (below the rank, so a direction
    outside their span cannot fit), each the one most anti-aligned with the residual; then, back in
    the original coordinates, the least-squares coefficients on the atoms kept must leave q within
    ``tol`` (the sine) and be equal, or integer multiples of the least one (an index drawn twice), to
    :data:`COEF_TOL`: equal weights on fewer atoms than dimensions is what no other update shows.
    ``spend(units, calls)`` is told the work before it is done (:meth:`_Search.spend`), the same where
    ``atoms`` gives the whitened rows and their norms (:func:`_atoms`, kept by the caller for a read
    searched again: the count is a function of the search's order, not of what was kept).
    Per atom: one product of the rows with the residual, and a Gram-Schmidt step."""
    (n, d), rk = R.shape, M.shape[1]
    spend(BLAS * 2.0 * n * d * rk + 4.0 * n * (d + rk), 10)
    A, norms = atoms if atoms is not None else _atoms(R, M)
    qw = q @ M
    Q = np.zeros((len(qw), 0))
    if c is not None:
        cw = c @ M
        Q = (cw / np.linalg.norm(cw))[:, None]
    r = qw - Q @ (Q.T @ qw)
    S: list[int] = []
    goal = 1e-5 * float(np.linalg.norm(qw))      # loose (A is rounded): the check is in the original coordinates
    per = BLAS * 2.0 * n * rk + 2.0 * n
    for _ in range(kmax):
        if math.sqrt(r.dot(r)) <= goal:         # np.linalg.norm's own sum, without its checks
            break
        spend(per + 8.0 * rk * (len(S) + 1), 16)
        corr = (A @ r.astype(np.float32)) / norms   # the most anti-aligned atom: the least <a_i, r>/|a_i|
        corr[S] = np.inf
        i = int(corr.argmin())
        if not corr[i] < 0:
            break
        ai = A[i].astype(float)
        v = ai - Q @ (Q.T @ ai)
        v -= Q @ (Q.T @ v)                       # twice: Gram-Schmidt keeps Q orthonormal to rounding
        nv = math.sqrt(v.dot(v))
        if nv <= 1e-12 * float(norms[i]):
            break
        S.append(i)
        Q = np.column_stack([Q, v / nv])
        r = qw - Q @ (Q.T @ qw)
    if not S:
        return None
    for _ in range(2):                           # fit; drop the atoms the fit does not use; refit
        spend(6.0 * d * (len(S) + 1) ** 2, 10)
        B = R[S].T if c is None else np.column_stack([R[S].T, c])
        coef = np.linalg.lstsq(B, q, rcond=None)[0]
        a = coef[:len(S)]
        used = np.abs(a) > 1e-6 * float(np.abs(a).max())
        if used.all():
            break
        S = [i for i, keep in zip(S, used) if keep]
    res = q - B @ coef
    if not float(np.linalg.norm(res)) < tol or not np.all(a < 0):
        return None
    unit = float(a.max())                        # the least weight (closest to 0): one draw of its index
    mult = a / unit
    m = np.rint(mult)
    if np.any(np.abs(mult - m) > COEF_TOL * m):
        return None
    b = int(m.sum())
    if c is not None and abs(float(coef[-1]) / unit - b) > COEF_TOL * b:
        return None
    return unit, np.repeat(np.asarray(S), m.astype(int))


def _atoms(R: np.ndarray, M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows R (n, d) whitened by M (d, rank), in single precision (the selection only ranks: it
    halves the products), and their norms (inf for a zero row, never picked): (n, rank), (n,)."""
    A = R.astype(np.float32) @ M.astype(np.float32)
    norms = np.linalg.norm(A, axis=1)
    norms[norms == 0] = np.inf
    return A, norms


def _sums(X: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """X[idx].sum(axis=1) for rows of indices (gathers added one column at a time: faster than the fancy sum)."""
    out = X[idx[:, 0]]
    for k in range(1, idx.shape[1]):
        out = out + X[idx[:, k]]
    return out


@lru_cache(maxsize=8)
def _multisets(n: int, size: int) -> np.ndarray:
    """Every multiset of ``size`` indices from range(n), as rows of sorted indices."""
    if size == 1:
        return np.arange(n)[:, None]
    if size == 2:
        i, j = np.triu_indices(n)
        return np.stack([i, j], axis=1)
    rest = _multisets(n, size - 1)              # each multiset of size - 1, then a first index no larger
    return np.concatenate([np.column_stack([np.full((int((rest[:, 0] >= i).sum()),), i), rest[rest[:, 0] >= i]])
                           for i in range(n)])
