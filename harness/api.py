"""The one module a plugin author imports: everything an algorithm x backend plugin (or a workload)
outside this repository needs, and nothing of the harness's internals.

Declaring a plugin
------------------
A plugin is a :class:`PluginSpec`, pure metadata registered through the ``harness.plugins`` entry
point group (an entry names one spec or a list of them). Mini-batch SGD with a constant step, linked
to the theorem that covers it, Lemma 1 of Bhardwaj & Cong (2017), "Inefficiency of Stochastic Gradient
Descent with Larger Mini-Batches (and More Learners)" (``harness theory show minibatch.lem-1``: about
the families sgd and asgd, runs with a constant step)::

    # mypkg/catalog.py                      pyproject.toml: [project.entry-points."harness.plugins"]
    from harness.api import Param, PluginSpec               #               mypkg = "mypkg.catalog:PLUGINS"
    PLUGINS = [PluginSpec("my-sgd", "sgd", "serial", "mypkg.sgd:run",
                          params=(Param("eta", 0.1, "float", low=0.0, open_low=True, theory=True),
                                  Param("b", 1, "int", low=1)),
                          theorems=("minibatch.lem-1",), deterministic=True)]

``PluginSpec(name, family, backend, impl, kinds=("finite-sum",), params=(), theorems=(), needs=(),
version="1", description="", min_workers=1, max_workers=None, skip=None, deterministic=False,
derived="", covers=())``: ``backend`` the name of a registered :class:`Backend`
(``harness list backends``); ``kinds`` workload kinds from
:data:`WORKLOAD_KINDS`; ``impl`` is ``"module:callable"``, imported only when a run starts (listing
never imports torch or mpi4py); ``theorems`` are ids of ``harness theory list``, checked at listing
time (the theorem exists, it is about the plugin's ``family`` -- a theorem judges only the
algorithms it is about, ``harness theory show ID`` says which, so a momentum method cannot link an
SGD lemma -- and the plugin declares the applied parameters its run map reads); ``covers`` names the
linked theorems about another family that this algorithm is a case of, said explicitly (a serial SGD
run is DDG with one module); ``derived`` is ``"module:callable"``, ``f(params, workload) -> dict`` of
values the plugin computes from its parameters (SVRG's inner-loop length), reported by the plugin and
read for ``=theory``; ``needs`` names optional imports from :data:`NEEDS`; ``skip(workload, params,
workers) -> reason | None`` declines a combination; ``deterministic`` says the trajectory is a
function of (spec, seed). A theorem of your own is a plugin too: ``harness.theory.api`` and
docs/theorems.md.

``Param(name, default, kind="float", low=None, high=None, open_low=False, open_high=False,
choices=(), doc="", theory=False, nullable=False)``: ``kind`` is ``"int" | "float" | "str" | "bool" |
"choice"``; bounds are inclusive unless ``open_low`` / ``open_high``; ``nullable`` admits ``none``; ``theory=True`` lets a user write ``--param eta=theory`` (the
value with the linked theorem's best guarantee is solved for and recorded in ``info['theory_choices']``).
A user's bad value is a :class:`UserError` naming the parameter and its domain.

Declaring a backend
-------------------
A plugin runs on a registered backend: ``serial``, ``threads``, ``sim``, ``mpi`` and ``torch`` ship
with the harness; a package brings its own as a :class:`Backend` record listed in its catalog beside
the plugins on it (the same entry point)::

    PLUGINS = [Backend("gpu-pool", launched=True, launcher="mypkg.pool"),
               PluginSpec("heavy-ball-gpu", "heavy_ball", "gpu-pool", "mypkg.hb_gpu:run", ...)]

``Backend(name, launched=False, server_ranks=0, worker_cores=1, timed_beside_probe=False,
launcher=None, contract_workers=2, delay_audit=False, description="")``: ``launched`` a run starts its workers as
processes (else the plugin runs inside the harness's process); ``server_ranks`` processes a launched
run starts beside its workers; ``worker_cores`` cores a worker keeps busy (0: the workers are
simulated in one process); ``timed_beside_probe`` a timed run has the machine's speed measured
beside it; ``launcher`` the module that starts the processes; ``contract_workers`` the worker count
``harness check-plugin`` uses; ``delay_audit`` whether it audits the delays the plugins report. The harness reads these traits, never the backend's name.

Running
-------
``impl`` is called as ``run(ctx: RunContext) -> dict | None``; the returned dict (JSON-able facts:
measured delays, peak memory) is stored with the run as its ``info``. A plugin that links a theorem
reports the values its update loop applied with one call, ``ctx.applied(eta=eta, b=b)`` (checked
against the linked theorems' run maps; the theory checker judges these, a run that reports none is
at best ``holds (unverified)``, and the run's samples and updates must agree with them).
:class:`RunContext` holds:

- ``ctx.workload`` -- the :class:`Workload` (see below);
- ``ctx.params`` -- ``dict[str, Any]``: every declared parameter, validated, defaults filled in;
- ``ctx.workers`` (int >= 1), ``ctx.seed`` (int), ``ctx.rng`` -- the run's ``numpy.random.Generator``
  seeded with ``seed``, one stream per run (every read returns the same generator);
- ``ctx.monitor`` -- the :class:`Monitor`; ``ctx.workdir`` -- a private scratch ``Path``;
- ``ctx.options`` -- backend options (``timeout_s``, ``hostfile``, ``device``); ``ctx.info`` -- a dict
  the run may fill (stored like the returned dict).

The monitor calls, the same on every backend (units: updates = iterations of the algorithm box,
samples = examples whose gradient was computed, seconds = measured wall time with evaluation excluded)::

    mon = ctx.monitor
    t = 0
    mon.tick(0, w, samples=0)                  # the point at t = 0 (starts the clock)
    while mon.running:                         # False once a budget, the target or divergence stops it
        k = mon.next_chunk(t, cap=None)        # updates until the next snapshot is due (>= 1)
        ...                                    # apply k updates to w (numpy array of shape (d,))
        t += k
        mon.tick(t, w, samples=t * b, delays=stats)   # snapshot if due (iterate copied off the clock)

``tick(updates, iterate, *, samples=None, delays=None, extra=None, force=False) -> bool`` takes the
iterate as the workload's ``metrics`` expects it (finite-sum: shape (d,); network: the model),
``delays`` a :class:`DelayStats` of the staleness tau measured so far, ``extra`` more per-point
numbers; ``next_chunk(t, cap=None, samples_per_update=None)`` takes what each update of the coming
chunk touches (b; 2b for an SVRG inner iteration) so an epoch budget ends on its exact sample count;
``count(t, samples)`` counts samples touched outside the updates (SVRG's snapshot, n) before the next
chunk is sized; inside the trajectory audit's observation windows ``next_chunk`` returns 1 and each
ticked iterate is kept (docs/plugins.md, "What the audits see"); ``finish(updates, iterate, ...)``
ends a loop that stops by itself (status ``done``); ``stop(status, reason)`` ends it with a status
of :data:`STATUSES`; ``costs(update=b, point=s)``, before the first tick, tells the evaluation plan
what an update and the plugin's own per-point measurements cost in sample gradients (one sample's
forward and backward pass).

Workloads
---------
``ctx.workload.kind`` is ``"finite-sum"`` or ``"network"``. A finite-sum workload (the suites'
linear models) has ``n``, ``dim`` (d), ``X`` (shape (n, d), dense or scipy CSR), ``y`` (shape (n,)),
``lam`` (the l2 weight), ``loss`` (``"logistic" | "squared" | "multinomial"``), and
``objective(w)``, ``gradient(w)`` (shape (d,)), ``batch_gradient(w, idx)`` (mean over the rows
``idx``, l2 term included), ``constants()`` (``L``, ``L_max``, ``mu``, ``f_star``, ...),
``per_sample_gradients(w)`` (shape (n, d): what the trajectory audit infers each update from);
``metrics(w)`` is what the monitor evaluates. A workload whose evaluation is costly declares it
(``eval_costs() -> EvalCosts``: the subset sizes it can evaluate on, the test samples, FLOPs per
sample gradient) and takes the subset the monitor's plan chooses (``use_eval_size(size, seconds=)``,
``eval_size()``); the plan keeps evaluation a bounded fraction of the budget's work and is stored
with the run (``info['eval_plan']``). A new workload subclasses :class:`Workload` and is
registered as a :class:`WorkloadSpec` (``constants=`` names what its ``constants()`` gives: a
theorem's run map may read only those) in the ``harness.workloads`` entry point group;
:func:`build_workload` builds a registered one by name.

A workload whose data is expensive shares it instead of holding it: ``dataset(key, build, disk=...)``
gives read-only arrays (a ``Dataset``: ``arrays``, ``content`` -- their SHA-256 --, ``source``) built
once per machine under ``recipe_key(recipe)`` (``recipe``: what builds them, with
``module_fingerprint(module)`` of the generator's code) and, from ``DISK_MIN_BYTES`` on, mapped from
the on-disk data cache by every later run, rank and session (``on_disk(key)``: its bytes there);
``memo(key, compute)`` keeps the arrays and what is derived from them in the process's bounded pool
(``in_pool(key)``), never on the workload object, so a suite's memory stays flat run after run.
``Workload.release()`` drops what an object holds for one run (called once the run is stored).

Data files: :func:`cache_dir` is the harness's cache folder (downloads, built datasets);
:func:`cached_value` keeps a computed value there under a key (versioned: another format is
recomputed), :func:`content_digest` the SHA-256 of arrays' bytes (the key of what data determines);
``params_key(params) -> str`` a stable key of a workload's parameters (cache file names);
``file_sha256(path) -> str`` the SHA-256 of a file's bytes (memoised on size / mtime / inode), for
a workload's identity when it reads a file; ``input_file(path, what) -> Path`` a readable regular
file or a :class:`UserError` naming ``what``; ``binary_reason(head) -> str | None`` why the first
bytes of a file (read :data:`SNIFF_BYTES` of them) are not text; ``inside_folder(path, folder,
what) -> Path`` a file found by name in ``folder`` that stays there once links are followed (a link
to a file elsewhere is a :class:`UserError`: docs/security.md).

Child processes
---------------
A plugin that starts processes (MPI ranks, torch.distributed ranks) runs them with
:func:`run_job` (own process group, wall-clock limit, every point folded back into the parent's
monitor); inside a child, :func:`load_spec` + :func:`child_context` rebuild the context (the rank
that ``owns_monitor`` streams its points), :func:`write_result` ends the run and
:func:`child_main` records a failing rank's exception; in a job across several nodes one rank per
node calls :func:`write_node` (that node's machine manifest, stored with the run), and the launching
side calls :func:`offer_join` (writes what ``harness join RUN-DIR`` starts on each other node and
prints that line). :func:`python_module` is the argv that
starts ``python -P -m module`` with this interpreter; :data:`SPEC` is the spec file's name in a
job's work folder (a launcher passes ``HARNESS_SPEC=<workdir>/SPEC`` to its ranks), and
``job_marker(workdir) -> bytes`` that environment entry, which finds a job's processes wherever
they sit; ``shm_files(glob) -> set[str]`` names files of ``/dev/shm`` and
``remove_orphaned_shm(glob, before, marker=None, wait_s=5.0) -> list[str]`` unlinks the new ones
no process maps (shared memory a killed job left behind);
``find_plugin(name, entry=None)`` finds a plugin loading only the ``entry`` entry point's catalog
(a rank passes it to ``child_context(..., plugin=...)``, so it does not load every backend).

Errors
------
:class:`UserError` (the user's mistake: one line on stderr, exit code 2), :class:`MissingDependency`
(an optional import is missing; names the extra that provides it), :class:`PluginFailure` (a run
failed, on some ``rank``), :class:`RunTimeout` (a job ran past its limit); :func:`unknown` builds the
"unknown X 'y' (did you mean ...)" error.
"""

from __future__ import annotations

from ._core.backend import Backend
from ._core.cache import cache_dir, cached_value, content_digest
from ._core.context import RunContext
from ._core.errors import MissingDependency, PluginFailure, RunTimeout, UserError, unknown
from ._core.evalplan import EvalCosts
from ._core.identity import file_sha256, module_fingerprint
from ._core.launch import (SPEC, child_context, child_main, job_marker, load_spec, offer_join, python_module,
                           run_job, write_node, write_result)
from ._core.lifeline import remove_orphaned_shm, shm_files
from ._core.monitor import STATUSES, Budget, Monitor, Target
from ._core.params import THEORY, Param, ParamSet
from ._core.paths import SNIFF_BYTES, binary_reason, input_file, inside_folder
from ._core.plugin import NEEDS, WORKLOAD_KINDS, PluginSpec
from ._core.registry import build_workload, find_plugin
from ._core.shared_data import DISK_MIN_BYTES, dataset, in_pool, memo, on_disk, recipe_key
from ._core.staleness import DelayStats
from ._core.workload import Workload, WorkloadSpec, params_key

__all__ = [
    # declaring
    "PluginSpec", "Param", "ParamSet", "THEORY", "Backend", "WORKLOAD_KINDS", "NEEDS",
    # running
    "RunContext", "Monitor", "Budget", "Target", "STATUSES", "DelayStats",
    # workloads
    "Workload", "WorkloadSpec", "EvalCosts", "build_workload", "cache_dir", "cached_value", "content_digest", "params_key",
    # data shared by runs, ranks and sessions (harness._core.shared_data)
    "dataset", "memo", "recipe_key", "in_pool", "on_disk", "DISK_MIN_BYTES", "module_fingerprint",
    # data files
    "file_sha256", "input_file", "inside_folder", "binary_reason", "SNIFF_BYTES",
    # child processes
    "run_job", "load_spec", "child_context", "write_result", "write_node", "offer_join", "child_main", "python_module",
    "SPEC", "find_plugin", "job_marker", "shm_files", "remove_orphaned_shm",
    # errors
    "UserError", "MissingDependency", "PluginFailure", "RunTimeout", "unknown",
]
