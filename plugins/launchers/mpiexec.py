"""The MPI launcher: ``mpiexec -n N python -P -m <rank module>`` from the venv's own bin directory
(the ``mpi`` backend starts N = P+1 ranks, one server + P workers, through :mod:`harness.plugins.mpi.launch`), with ``MPIEXEC_TIMEOUT`` as mpiexec's own guard and our timeout on top
(``harness.api.run_job``: own session, killed as a group, points streamed through
``points.jsonl``, the result through ``result.json`` written by rank 0, a failing rank's message
through ``error-<rank>.json`` or, for a rank that died silently, ``died-<rank>.json`` (written by
the rank module's own guard, e.g. :mod:`harness.plugins.mpi.rank`)).

``ctx.options["hostfile"]`` (``harness run --hostfile FILE``) passes through as ``mpiexec -f FILE``
so one run spans several machines; each needs the same venv path, and the run's scratch directory
(``TMPDIR``, where the spec, ``points.jsonl`` and ``result.json`` live) must be on a filesystem all
hosts share, since rank 0 may land on any of them. Without a hostfile, or with one whose every host is
this machine (:func:`all_local`: e.g. ``node-a`` / ``node-b``, loopback aliases in ``/etc/hosts``),
hydra forks its proxies here (``HYDRA_LAUNCHER=fork``); otherwise hydra's own launcher (ssh)
starts them on the other hosts. Each hostfile entry is one node to MPI (hydra's process mapping:
``MPI_COMM_TYPE_SHARED`` groups the ranks of one entry), and the first rank of each node records
that node's manifest with the run (``env["nodes"]``). Environment (measured CI-robust MPICH settings):
``MPIR_CVAR_POLLS_BEFORE_YIELD=1`` and ``MPIR_CVAR_CH4_PROGRESS_THROTTLE=true`` so waiting ranks
yield the CPU, ``FI_PROVIDER=tcp``, and the venv's bin first on PATH.

Which ``mpiexec`` (:func:`command`). Without a hostfile, MPICH's ``mpiexec.gforker`` starts the
ranks: it forks them here and serves their PMI over pipes, so it opens no listening socket. Hydra's
``mpiexec`` (the one for hostfiles) binds its control port on 0.0.0.0 for the length of the job,
whatever it is told: ``HYDRA_IFACE`` / ``-iface lo``, ``-localhost 127.0.0.1`` and
``HYDRA_USE_LOCALHOST`` choose the address it advertises to its proxies, not where it listens
(measured on this build). gforker ends the other ranks (SIGQUIT) when one exits non-zero or dies,
but exits 0 when a rank was killed by a signal; so each rank's supervisor
(:mod:`harness.plugins.mpi.rank`) records how its rank ended (``exit-<rank>.json``: its exit code,
or the signal that stopped the supervisor), and :func:`launch` fails a run whose rank left no such
record, naming it (:func:`unaccounted`): that rank's process was killed where no one of ours could
see it (``kill -9`` of the process mpiexec started, the out-of-memory killer). A machine without
``mpiexec.gforker`` falls back to hydra with a one-line warning that its control port listens on
all interfaces. With a hostfile, hydra runs the job (several nodes to MPI, even when every host is
this machine), and the run's ``info["network"]`` names it and its control port.

What the ranks listen on (:data:`LOCAL_NETWORK`). Without a hostfile, or with one naming only this
machine (:func:`all_local`), every rank is on this machine, so the ranks' network is the loopback
interface: the pip ``mpich`` build (5.0.2, ``ch4:ucx,ofi``) talks through UCX, which otherwise
listens on every interface's address (measured: each rank on the machine's external address and
on 127.0.0.1); ``UCX_NET_DEVICES=lo`` leaves only 127.0.0.1, and ``FI_TCP_IFACE=lo`` does the same
for the ofi netmod (``MPIR_CVAR_CH4_NETMOD=ofi``); ``HYDRA_IFACE=lo`` names loopback as hydra's
interface too, though no effect of it was measured. ``MPIR_CVAR_CH4_OFI_IFNAME`` and
``MPIR_CVAR_NEMESIS_TCP_NETWORK_IFACE`` (a ch3 variable) had none either. With a hostfile naming
other machines, the ranks use the interfaces MPI picks (set ``UCX_NET_DEVICES`` / ``FI_TCP_IFACE``
in the environment to choose); the run's ``info["network"]`` says which.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from harness.api import (MissingDependency, PluginFailure, job_marker, python_module, remove_orphaned_shm,
                         run_job, shm_files)

DEFAULT_TIMEOUT_S = 600.0

# every rank on this machine: the ranks' traffic on the loopback interface only (see the module doc)
LOCAL_NETWORK = {"UCX_NET_DEVICES": "lo", "FI_TCP_IFACE": "lo", "HYDRA_IFACE": "lo"}
EXIT = "exit-{}.json"  # written by each rank's supervisor when its rank ends (harness.plugins.mpi.rank)


def mpiexec() -> Path:
    """Hydra's ``mpiexec`` next to this Python (MissingDependency without it)."""
    path = Path(sys.executable).parent / "mpiexec"
    if not path.exists():
        raise MissingDependency(f"mpiexec (expected at {path})", "mpi")
    return path


def gforker() -> Path | None:
    """MPICH's ``mpiexec.gforker`` next to this Python (one machine, no listening socket), or None."""
    path = Path(sys.executable).parent / "mpiexec.gforker"
    return path if path.exists() else None


def hydra(hostfile: str | None = None) -> bool:
    """Whether hydra's ``mpiexec`` runs a job: with a hostfile, or where gforker is missing."""
    return bool(hostfile) or gforker() is None


def command(module: str, processes: int, hostfile: str | None = None) -> list[str]:
    """argv of ``mpiexec.gforker -n processes python -P -m module`` (one machine) or, with a
    hostfile or without gforker, ``mpiexec [-f hostfile] -n processes ...`` (hydra)."""
    if not hydra(hostfile):
        return [str(gforker()), "-n", str(processes), *python_module(module)]
    argv = [str(mpiexec())]
    if hostfile:
        argv += ["-f", str(hostfile)]
    return argv + ["-n", str(processes), *python_module(module)]


def environment(timeout_s: float, hostfile: str | None = None) -> dict[str, str]:
    bindir = str(Path(sys.executable).parent)
    env = {
        "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
        "MPIEXEC_TIMEOUT": str(int(timeout_s) + 15),   # mpiexec's own guard, behind ours
        "MPIR_CVAR_POLLS_BEFORE_YIELD": "1",
        "MPIR_CVAR_CH4_PROGRESS_THROTTLE": "true",
        "FI_PROVIDER": "tcp",
        "PYTHONUNBUFFERED": "1",
    }
    if not hostfile or all_local(hostfile):
        # every rank on this machine: hydra forks its proxies here (one per hostfile entry, so two
        # entries are still two nodes to MPI) rather than ssh-ing to itself, and the ranks talk on lo
        env["HYDRA_LAUNCHER"] = "fork"
        env.update(LOCAL_NETWORK)
    return env


_LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


ETC_HOSTS = Path("/etc/hosts")


def loopback_aliases(hosts_file: Path = ETC_HOSTS) -> set[str]:
    """The names ``/etc/hosts`` gives a loopback address (``127.x.y.z``, ``::1``): other names of this
    machine, such as the ``node-a`` / ``node-b`` aliases of a two-node test."""
    names: set[str] = set()
    try:
        lines = hosts_file.read_text(errors="replace").splitlines()
    except OSError:
        return names
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if len(fields) > 1 and (fields[0].startswith("127.") or fields[0] == "::1"):
            names.update(fields[1:])
    return names


def all_local(hostfile: str | os.PathLike) -> bool:
    """Whether every host a hostfile names (``host[:n]`` per line, ``#`` comments) is this machine:
    ``localhost``, a loopback address, this machine's host name, or a name ``/etc/hosts`` maps to a
    loopback address (:func:`loopback_aliases`; no name is looked up through DNS)."""
    import socket

    here = {*_LOCAL_NAMES, socket.gethostname(), socket.gethostname().split(".")[0], *loopback_aliases()}
    try:
        lines = Path(hostfile).read_text(errors="replace").splitlines()
    except OSError:
        return False
    hosts = [line.split("#", 1)[0].strip().rsplit(":", 1)[0].strip() for line in lines]
    hosts = [h for h in hosts if h]
    return bool(hosts) and all(h in here or h.startswith("127.") for h in hosts)


HYDRA_CONTROL = "hydra's mpiexec: its control port on 0.0.0.0 (every interface; not configurable in this MPICH)"


def network(hostfile: str | None = None) -> dict[str, str]:
    """What the run's processes listen on, for its record (``info["network"]``): the ranks'
    interfaces and the launcher (gforker: nothing; hydra: its control port on every interface)."""
    if not hydra(hostfile):
        launcher = "mpiexec.gforker: no listening socket (PMI over pipes)"
    else:
        launcher = HYDRA_CONTROL + ("" if hostfile else " (mpiexec.gforker missing)")
    if not hostfile or all_local(hostfile):
        return {"ranks": "127.0.0.1 (" + ", ".join(f"{k}={v}" for k, v in LOCAL_NETWORK.items()) + ")",
                "mpiexec": launcher, **({"hostfile": f"{hostfile} (every host is this machine)"} if hostfile else {})}
    chosen = {k: os.environ[k] for k in LOCAL_NETWORK if k in os.environ}
    return {"ranks": "the interfaces MPI picks on every host" + (f" ({chosen})" if chosen else " (all)"),
            "mpiexec": launcher, "hostfile": str(hostfile)}


_warned_hydra = False


def warn_hydra_listens(hostfile: str | None) -> None:
    """One line on stderr, once per process, where a one-machine job falls back to hydra."""
    global _warned_hydra
    if hostfile or gforker() is not None or _warned_hydra:
        return
    _warned_hydra = True
    print(f"harness: warning: {Path(sys.executable).parent / 'mpiexec.gforker'} not found: hydra's mpiexec runs "
          "the MPI ranks, and its control port listens on all interfaces (0.0.0.0) for the length of the job",
          file=sys.stderr)


def launch(ctx, module: str, processes: int) -> dict[str, Any]:
    """Run ``processes`` MPI ranks of ``python -m module`` for this run and fold their results into
    ``ctx`` (``harness.api.run_job``); returns the ranks' ``info``. Raises PluginFailure naming
    the first rank that failed (or died silently) and RunTimeout past ``ctx.options['timeout_s']``."""
    timeout_s = float(ctx.options.get("timeout_s") or DEFAULT_TIMEOUT_S)
    hostfile = ctx.options.get("hostfile")
    workdir = Path(ctx.workdir)
    for stale in (*workdir.glob("died-*.json"), *workdir.glob(EXIT.format("*"))):
        stale.unlink()
    warn_hydra_listens(hostfile)
    shm_before = shm_segments()
    try:
        info = run_job(ctx, command(module, processes, hostfile), timeout_s=timeout_s,
                       env=environment(timeout_s, hostfile), shm=SHM_GLOB,
                       after=lambda: remove_orphaned_shm(SHM_GLOB, shm_before, job_marker(workdir)))
    except PluginFailure as exc:
        if exc.rank is not None:
            raise
        died = _first_death(workdir)
        if died is not None:
            raise PluginFailure(f"{died['message']}; mpiexec: {exc}", rank=died.get("rank")) from None
        _fail_unaccounted(workdir, processes, f"; mpiexec: {exc}")
        raise
    _fail_unaccounted(workdir, processes, "")  # gforker exits 0 when a rank was killed: its record is missing
    return {**(info or {}), "network": network(hostfile)}


def unaccounted(workdir: Path, processes: int) -> list[int]:
    """The ranks ``0..processes-1`` whose supervisor recorded no end (``exit-<rank>.json``): killed
    where no process of ours could see it (e.g. ``kill -9`` of the process mpiexec started)."""
    return [r for r in range(processes) if not (workdir / EXIT.format(r)).exists()]


def _fail_unaccounted(workdir: Path, processes: int, tail: str) -> None:
    missing = unaccounted(workdir, processes)
    if not missing or len(missing) == processes:  # none ended under its supervisor: the job never started
        return
    what = ("its process was killed where no process of the harness could see it (e.g. kill -9, "
            "the out-of-memory killer)")
    if len(missing) == 1:
        raise PluginFailure(f"died without an exit record: {what}{tail}", rank=missing[0]) from None
    raise PluginFailure(f"ranks {', '.join(map(str, missing))} died without an exit record: {what}{tail}") from None


SHM_GLOB = "mpich_shm_*"


def shm_segments() -> set[str]:
    """Names of MPICH's shared-memory segments on this node (``/dev/shm/mpich_shm_*``)."""
    return shm_files(SHM_GLOB)


def _first_death(workdir: Path) -> dict[str, Any] | None:
    records = []
    for path in workdir.glob("died-*.json"):
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return min(records, key=lambda r: r.get("time", 0.0)) if records else None
