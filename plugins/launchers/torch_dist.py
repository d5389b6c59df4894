"""torch.distributed launch helper: W ranks as child processes, one code path for CPU and GPU.

Shared by every ``torch``-backend plugin (data-parallel large batch, model-parallel DDG / features
replay). By default the parent runs this module as a small launcher under
:func:`harness.api.run_job` (own process group, wall-clock limit, ``points.jsonl`` /
``result.json`` / ``error-<rank>.json`` folded back into the run), and the launcher starts
``python -m <rank module> [args]`` once per rank. With the run option ``launcher=torchrun``
(``harness run --launcher torchrun``) the ranks are started by ``torchrun`` instead
(``torch.distributed.run --nproc-per-node W`` with a one-machine rendezvous, :func:`one_machine_rdzv`,
``-m <rank module>``; ``torchrun_args`` replaces that rendezvous for several nodes, where the ranks
meet through ``env://``), under the same ``run_job`` (limit, points, errors); the rank modules
accept either.

What listens under torchrun on one machine: nothing but the ranks' gloo sockets on 127.0.0.1.
``--standalone`` would start torch's c10d rendezvous on a ``TCPStore`` and, for the ranks, a second
one, and a ``TCPStore`` server binds the wildcard address (``::``, else ``0.0.0.0``) whatever host
it is given: torch's ``UvTcpServer::makeWithPort`` in
``torch/csrc/distributed/c10d/TCPStoreLibUvBackend.cpp`` binds ``uv_ip6_addr("::", port)``; only
a socket bound beforehand (``master_listen_fd``) escapes it, which torchrun offers no way to pass.
So the rendezvous is torch's own c10d one on a ``FileStore`` in the run's folder
(``--rdzv-backend c10d --rdzv-conf store_type=file --rdzv-endpoint FILE``),
``TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1`` keeps the agent from serving the ranks a ``TCPStore``
of its own, and the ranks meet through a ``file://`` rendezvous in that folder
(``HARNESS_TORCH_INIT``, as under our launcher) instead of ``env://``, whose rank 0 would serve
one. Measured (``ss -ltnp``): ``--standalone`` left the agent (``pt_elastic``) on ``*:PORT`` twice;
this leaves it no socket.

Several nodes with torchrun (every node sees the run's folder at the same path: ``TMPDIR`` on a
shared filesystem, and the same harness installed)::

    # node 0: starts its torchrun agent with these arguments, prints the line to type elsewhere, waits
    harness run -p ddg-torch -w mlp --workers 4 --launcher torchrun \
        --option torchrun_args="--nnodes=2 --rdzv-backend=c10d --rdzv-endpoint=node0:29400"
    # every other node: the line node 0 printed (the same torchrun arguments, its spec, its ranks)
    harness join /shared/tmp/harness-ddg-torch-XXXX

The run's W workers are spread W/N over the N nodes. A ``c10d`` rendezvous numbers the nodes itself
(one line for all); torchrun's default static rendezvous needs ``--node-rank`` for each node (node
0 prints one line per node, ``harness join DIR --node-rank K``). Local rank 0 of each node stores
its node's manifest with the run (``env["nodes"]``). The run is stored once, by node 0.

API
---
Parent side (inside a plugin's ``run(ctx)``)::

    from harness.plugins.launchers import torch_dist
    return torch_dist.launch(ctx, "harness.plugins.torch_dp.rank")        # -> the ranks' info dict

``launch(ctx, module, *, workers=None, args=(), timeout_s=None, env=None)`` starts ``workers``
(default ``ctx.workers``) ranks of ``python -m module *args``. Each rank's environment holds
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``HARNESS_SPEC`` (the run's spec, see
:func:`harness.api.load_spec`), ``HARNESS_TORCH_INIT`` (a fresh ``file://`` rendezvous in the
run's workdir), ``GLOO_SOCKET_IFNAME=lo``, ``MASTER_ADDR=127.0.0.1`` and one thread per BLAS.
Returns what ``run_job`` returns (the ``info`` written by :func:`harness.api.write_result`);
raises ``PluginFailure`` if a rank fails and ``RunTimeout`` past the limit (``timeout_s``, else
``ctx.options['timeout_s']``, else 600 s).

Failure handling: the launcher polls its ranks; the first one to exit non-zero (an exception, or
killed by a signal) makes it stop every other rank (SIGTERM, then SIGKILL) and exit 1 within about
a second, so a dead peer never leaves the others blocked in a collective. It records that first
failure as ``error-!first.json`` (sorted before the ranks' own ``error-<rank>.json`` files, so the
run's reason names the rank that failed first, not a peer that saw its connection close).

Rank side (inside the rank module)::

    from harness.plugins.launchers import torch_dist
    from harness.api import child_context, load_spec, write_result

    def body():
        spec = load_spec()
        dist = torch_dist.init(spec.get("options", {}).get("device", "auto"))
        ctx = child_context(spec, owns_monitor=dist.rank == 0)
        ...  # dist.all_reduce_(t), dist.broadcast_int(k), dist.barrier(), dist.device
        if dist.rank == 0:
            write_result(ctx, info)

    if __name__ == "__main__":
        torch_dist.rank_main(body)

``init(prefer="auto", timeout_s=None)`` calls ``torch.set_num_threads(1)`` and
``init_process_group``: NCCL on ``cuda:LOCAL_RANK`` when ``torch.cuda.device_count() >= WORLD_SIZE``
(and ``prefer`` is not ``"cpu"``), otherwise gloo on the CPU; ``prefer="cuda"`` without enough
devices is an error. The returned :class:`Dist` carries ``rank``, ``world``, ``backend`` and
``device``. ``rank_main(body)`` wraps :func:`harness.api.child_main` (an exception becomes
``error-<rank>.json`` and exit 1, before any socket closes) and destroys the process group after a
successful body.

``fault(options, rank, step)``: fault injection for tests. With ``options['fail_rank'] == rank``
and ``step == options.get('fail_at', 1)`` the rank kills itself with SIGKILL
(``fail_mode='kill'``, the default) or raises (``fail_mode='raise'``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from harness.api import Backend, python_module

# the backend every torch.distributed plugin runs on (data parallel and model parallel alike), listed
# by both torch catalogs; the contract checks its plugins with one rank
BACKEND = Backend("torch", launched=True, launcher="harness.plugins.launchers.torch_dist", contract_workers=1,
                  description="one torch.distributed rank per worker (gloo on CPU, NCCL on GPUs)")

FIRST_ERROR = "error-!first.json"
ENV_INIT = "HARNESS_TORCH_INIT"


# -- parent -----------------------------------------------------------------------------------
def launch(ctx, module: str, *, workers: int | None = None, args: Sequence[str] = (),
           timeout_s: float | None = None, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``workers`` ranks of ``python -m module *args`` for this run (see the module doc)."""
    from harness.api import run_job

    world = int(workers or ctx.workers)
    if world < 1:
        raise ValueError(f"need at least one rank, got {world}")
    workdir = Path(ctx.workdir)  # created private by run_job
    if ctx.options.get("launcher", "harness") == "torchrun":
        extra = ctx.options.get("torchrun_args")
        run_id = uuid.uuid4().hex[:12]
        env = {**(env or {}), **_torchrun_env(ctx.options, workdir, run_id)}
        if nnodes(extra) > 1:
            offer(ctx, world, module, args, extra, env)
        try:
            info = run_job(ctx, torchrun_argv(world, module, args, extra, workdir=workdir, run_id=run_id),
                           timeout_s=timeout_s, env=env)
        finally:
            for made in workdir.glob(f"torch*-{run_id}.*"):  # the one-machine rendezvous files
                made.unlink(missing_ok=True)
        return {**(info or {}), "launcher": "torchrun", "network": network(ctx.options)}
    if ctx.options.get("launcher", "harness") != "harness":
        from harness.api import UserError

        raise UserError(f"unknown launcher {ctx.options['launcher']!r}: expected harness or torchrun")
    check_devices(ctx.options, world)
    init_file = workdir / f"torchdist-{uuid.uuid4().hex[:12]}.init"
    argv = python_module("harness.plugins.launchers.torch_dist", "--module", module, "--world", str(world),
                         "--init", f"file://{init_file}", "--workdir", str(workdir), "--", *map(str, args))
    try:
        return {**(run_job(ctx, argv, timeout_s=timeout_s, env=env) or {}), "network": network(ctx.options)}
    finally:
        init_file.unlink(missing_ok=True)


LOCAL_RANKS = "127.0.0.1 (GLOO_SOCKET_IFNAME=lo, file:// rendezvous)"


def network(options: dict[str, Any]) -> dict[str, str]:
    """What the run's processes listen on, for its record (``info["network"]``): the ranks only on
    127.0.0.1 (gloo on ``lo``, a file:// rendezvous, no store server), under our launcher and under
    torchrun on one machine (whose agent listens on nothing: see the module doc); across nodes
    (``torchrun_args``), the c10d rendezvous and agent stores on every interface (torch's TCPStore
    binds the wildcard address whatever host it is given)."""
    if options.get("launcher", "harness") != "torchrun":
        return {"ranks": LOCAL_RANKS}
    if options.get("torchrun_args"):
        return {"ranks": "the interfaces gloo picks (torchrun_args: several nodes)",
                "torchrun": "c10d rendezvous and agent stores on every interface", "args": options["torchrun_args"]}
    return {"ranks": LOCAL_RANKS,
            "torchrun": "nothing: c10d rendezvous on a FileStore in the run's folder, no agent TCPStore"}


def one_machine_rdzv(workdir: Path, run_id: str) -> list[str]:
    """torchrun's rendezvous arguments for one machine, opening no socket (see the module doc): the
    c10d rendezvous on a ``FileStore`` at ``workdir/torchrun-<run_id>.rdzv``, this node's address
    127.0.0.1."""
    return ["--nnodes", "1", "--rdzv-backend", "c10d", "--rdzv-conf", "store_type=file", "--rdzv-endpoint",
            str(workdir / f"torchrun-{run_id}.rdzv"), "--rdzv-id", run_id, "--local-addr", "127.0.0.1"]


def torchrun_argv(world: int, module: str, args: Sequence[str] = (), extra: str | None = None, *,
                  workdir: Path | None = None, run_id: str = "") -> list[str]:
    """``torchrun --nproc-per-node W/N [extra | one machine's rendezvous] -m module args``: torch's
    own launcher (``torch.distributed.run``, the same program as the ``torchrun`` script).
    ``extra`` (the ``torchrun_args`` option, one string) replaces :func:`one_machine_rdzv` (in
    ``workdir``, named by ``run_id``), e.g. ``"--nnodes=2 --rdzv-backend=c10d
    --rdzv-endpoint=head:29400"``; with ``--nnodes=N`` the run's W ranks are spread W/N per node (W
    must be a multiple of N)."""
    import shlex

    if not extra and workdir is None:
        raise ValueError("torchrun on one machine needs the run's folder (workdir) for its rendezvous")
    rdzv = shlex.split(extra) if extra else one_machine_rdzv(Path(workdir), run_id)
    nodes = nnodes(extra)
    if world % nodes:
        from harness.api import UserError

        raise UserError(f"--workers {world} cannot be spread evenly over --nnodes={nodes} (torchrun_args)")
    return [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(world // nodes), *rdzv,
            "-m", module, *map(str, args)]


def nnodes(extra: str | None) -> int:
    """The node count ``--nnodes N`` / ``--nnodes=N`` of torchrun arguments (1 without); an elastic
    ``MIN:MAX`` range is refused (a run's worker count is fixed)."""
    import shlex

    tokens = shlex.split(extra or "")
    for i, tok in enumerate(tokens):
        value = tok.partition("=")[2] if tok.startswith("--nnodes=") else \
            (tokens[i + 1] if tok == "--nnodes" and i + 1 < len(tokens) else None)
        if value is not None:
            if not value.isdigit() or int(value) < 1:
                from harness.api import UserError

                raise UserError(f"torchrun_args: --nnodes {value!r} must be a node count (a run's worker count "
                                f"is fixed, so an elastic MIN:MAX range is not supported)")
            return int(value)
    return 1


def offer(ctx, world: int, module: str, args: Sequence[str], extra: str, env: dict[str, str]) -> list[str]:
    """Node 0's side of a run across ``--nnodes=N`` torchrun agents: writes what the other nodes
    start (the same torchrun arguments without ``--node-rank``) and prints ``harness join RUN-DIR``
    for them (:func:`harness.api.offer_join`): one line for every node under a ``c10d`` rendezvous
    (it numbers the nodes itself), else one per node rank 1..N-1."""
    import shlex

    from harness.api import offer_join

    argv = torchrun_argv(world, module, args, extra)
    at = argv.index("-m", 3)  # torchrun's own options end where the rank module starts
    options, then = argv[3:at], argv[at:]
    dropped, keep = False, []
    for tok in options:  # --node-rank is node 0's own
        if dropped:
            dropped = False
        elif tok in ("--node-rank", "--node_rank"):
            dropped = True
        elif not tok.startswith(("--node-rank=", "--node_rank=")):
            keep.append(tok)
    nodes = nnodes(extra)
    c10d = "c10d" in shlex.split(extra) or any(t.endswith("=c10d") for t in shlex.split(extra))
    lines = [""] * (nodes - 1) if c10d else [f"--node-rank {k}" for k in range(1, nodes)]
    return offer_join(ctx, "torch.distributed.run", keep, then, env, lines)


def _torchrun_env(options: dict[str, Any], workdir: Path, run_id: str) -> dict[str, str]:
    # one machine: gloo on the loopback interface and a file:// rendezvous, as our own launcher's
    # ranks; no TCPStore of the agent's for them (see the module doc)
    if options.get("torchrun_args"):
        return {}
    return {"GLOO_SOCKET_IFNAME": "lo", "TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1",
            ENV_INIT: f"file://{workdir / f'torchdist-{run_id}.init'}"}


# -- the launcher process ---------------------------------------------------------------------
def _launcher(argv: Sequence[str]) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m harness.plugins.launchers.torch_dist")
    ap.add_argument("--module", required=True)
    ap.add_argument("--world", type=int, required=True)
    ap.add_argument("--init", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("rest", nargs="*")
    ns = ap.parse_args(argv)
    base = {**os.environ, ENV_INIT: ns.init, "WORLD_SIZE": str(ns.world), "GLOO_SOCKET_IFNAME": "lo",
            "MASTER_ADDR": "127.0.0.1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    procs: list[subprocess.Popen] = []
    for rank in range(ns.world):
        env = {**base, "RANK": str(rank), "LOCAL_RANK": str(rank)}
        procs.append(subprocess.Popen(python_module(ns.module, *ns.rest), env=env))

    def stop_all(*_):
        _terminate(procs)
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, stop_all)
    while True:
        codes = [p.poll() for p in procs]
        failed = [(r, c) for r, c in enumerate(codes) if c not in (None, 0)]
        if failed:
            rank, code = _first(failed, Path(ns.workdir))
            _terminate(procs)
            _record_first_failure(Path(ns.workdir), rank, code)
            return 1
        if all(c == 0 for c in codes):
            return 0
        time.sleep(0.05)


def _terminate(procs: Sequence[subprocess.Popen]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [p for p in procs if p.poll() is None]
        for p in alive:
            try:
                p.send_signal(sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 2.0
        while alive and time.monotonic() < deadline:
            alive = [p for p in alive if p.poll() is None]
            time.sleep(0.02)
        if not alive:
            return


def _first(failed: list[tuple[int, int]], workdir: Path) -> tuple[int, int]:
    """Of the ranks seen failed in one poll, the likeliest cause: one killed by a signal (it wrote
    nothing; its peers only saw it vanish), else the one whose error file was written first."""
    killed = [f for f in failed if f[1] < 0 and not (workdir / f"error-{f[0]}.json").exists()]
    if killed:
        return killed[0]

    def written(f):
        path = workdir / f"error-{f[0]}.json"
        return path.stat().st_mtime_ns if path.exists() else float("inf")

    return min(failed, key=written)


def _record_first_failure(workdir: Path, rank: int, code: int) -> None:
    own = workdir / f"error-{rank}.json"
    if own.exists():  # the rank wrote its own exception: that is the first failure's message
        try:
            payload = json.loads(own.read_text())
        except ValueError:
            payload = {"rank": rank, "message": f"exited with code {code}"}
    elif code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        payload = {"rank": rank, "message": f"killed by signal {name}; the other ranks were stopped"}
    else:
        payload = {"rank": rank, "message": f"exited with code {code}; the other ranks were stopped"}
    (workdir / FIRST_ERROR).write_text(json.dumps(payload))


# -- rank side --------------------------------------------------------------------------------
@dataclass
class Dist:
    """This rank's view of the process group."""

    rank: int
    world: int
    backend: str
    device: Any  # torch.device

    def all_reduce_(self, tensor):
        """In-place sum over ranks (returns the tensor)."""
        import torch.distributed as td

        td.all_reduce(tensor, op=td.ReduceOp.SUM)
        return tensor

    def broadcast_int(self, value: int, src: int = 0) -> int:
        import torch
        import torch.distributed as td

        buf = torch.tensor([int(value)], dtype=torch.int64, device=self.device)
        td.broadcast(buf, src=src)
        return int(buf.item())

    def barrier(self) -> None:
        import torch.distributed as td

        if self.backend == "nccl":
            td.barrier(device_ids=[self.device.index])
        else:
            td.barrier()

    def close(self) -> None:
        import torch.distributed as td

        if td.is_initialized():
            td.destroy_process_group()


def rank_env() -> tuple[int, int, int, str]:
    """(rank, world size, local rank, init method) from the launcher's environment: our launcher's
    ``file://`` rendezvous, or ``env://`` (MASTER_ADDR / MASTER_PORT) for ranks started by torchrun."""
    try:
        method = os.environ.get(ENV_INIT) or ("env://" if "MASTER_ADDR" in os.environ and "MASTER_PORT" in os.environ
                                              else os.environ[ENV_INIT])
        return (int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", "0")),
                method)
    except KeyError as exc:
        raise RuntimeError(f"not started by harness.plugins.launchers.torch_dist or torchrun "
                           f"(missing {exc.args[0]})") from None


def local_device(want: str = "cpu"):
    """The device of a one-process torch plugin (``*-serial``, ``*-sim``) from ``--option device=...``:
    ``cpu`` (the default: the reference), ``cuda``, or ``auto`` (cuda when there is one). CUDA asked
    for on a machine without it is the user's mistake (:class:`UserError`, exit 2)."""
    import torch

    want = str(want or "cpu")
    if want == "cuda" or (want == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            from harness.api import UserError

            raise UserError("--option device=cuda: this machine has no CUDA device")
        return torch.device("cuda")
    return torch.device("cpu")


def check_devices(options: dict[str, Any], world: int) -> None:
    """Parent side, before launching: ``device=cuda`` needs ``world`` CUDA devices here (else a
    :class:`UserError`, rather than every rank failing in ``init``)."""
    if str(options.get("device", "auto")) != "cuda":
        return
    import torch

    found = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if found < world:
        from harness.api import UserError

        raise UserError(f"--option device=cuda: {world} rank(s) need {world} CUDA device(s), this machine has {found}")


def choose_backend(world: int, prefer: str = "auto") -> str:
    """'nccl' when this machine has at least ``world`` CUDA devices (and the CPU is not asked for)."""
    import torch

    enough = torch.cuda.is_available() and torch.cuda.device_count() >= world
    if prefer == "cpu":
        return "gloo"
    if prefer == "cuda" and not enough:
        raise RuntimeError(f"device=cuda needs {world} CUDA devices, found "
                           f"{torch.cuda.device_count() if torch.cuda.is_available() else 0}")
    return "nccl" if enough else "gloo"


def init(prefer: str = "auto", timeout_s: float | None = None) -> Dist:
    import datetime

    import torch
    import torch.distributed as td

    torch.set_num_threads(1)
    rank, world, local, method = rank_env()
    backend = choose_backend(world, prefer)
    if backend == "nccl":
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    td.init_process_group(backend, init_method=method, rank=rank, world_size=world,
                          timeout=datetime.timedelta(seconds=float(timeout_s or 300)))
    return Dist(rank, world, backend, device)


def rank_main(body) -> None:
    """Run a rank's body with error capture (``error-<rank>.json``) and process-group teardown."""
    from harness.api import child_main, load_spec

    rank = int(os.environ.get("RANK", "0"))
    workdir = load_spec()["workdir"]

    def wrapped():
        record_node(workdir)
        code = body()
        # only on success: after a failure child_main records the error first and then exits,
        # so a peer never sees its connection close before the cause is on disk
        import torch.distributed as td

        if td.is_initialized():
            td.destroy_process_group()
        return code

    child_main(wrapped, workdir, rank)


def record_node(workdir: str) -> None:
    """Under torchrun across several nodes (``GROUP_WORLD_SIZE`` > 1), local rank 0 of each node
    records that node's machine manifest with the run (:func:`harness.api.write_node`; torchrun
    numbers the ranks of node ``GROUP_RANK`` contiguously)."""
    if int(os.environ.get("GROUP_WORLD_SIZE", "1")) > 1 and os.environ.get("LOCAL_RANK") == "0":
        from harness.api import write_node

        first, here = int(os.environ["RANK"]), int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        write_node(workdir, int(os.environ["GROUP_RANK"]), range(first, first + here))


def fault(options: dict[str, Any], rank: int, step: int) -> None:
    """Fault injection for tests (see the module doc)."""
    if options.get("fail_rank") is None or int(options["fail_rank"]) != rank:
        return
    if int(step) != int(options.get("fail_at", 1)):
        return
    if options.get("fail_mode", "kill") == "raise":
        raise RuntimeError(f"injected failure on rank {rank} at step {step}")
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(_launcher(sys.argv[1:]))
