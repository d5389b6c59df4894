"""Shared fixtures: an isolated store and cache per test, and the CLI as a user types it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# numba's kernel cache for every test and every process a test starts (asv's benchmark runner, the
# benchmarks' scripts): never the source tree's __pycache__, which numba falls back to when the
# harness's own cache folder is not the one a process ends up with
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(os.environ.get("HARNESS_TEST_CACHE",
                                                                 ROOT / ".harness" / "test-cache")) / "numba"))


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Every test gets its own store and an empty pool of in-memory data; the constants cache is
    shared across tests (it is keyed by the data's content, so sharing is safe and saves the
    high-precision solves)."""
    monkeypatch.setenv("HARNESS_STORE", str(tmp_path / "results.db"))
    monkeypatch.setenv("HARNESS_CACHE", os.environ.get("HARNESS_TEST_CACHE", str(ROOT / ".harness" / "test-cache")))
    from harness._core import registry, shared_data

    registry._cache.clear()
    shared_data.POOL.clear()  # no test sees data or an optimum another one planted
    yield
    registry._cache.clear()
    shared_data.POOL.clear()


@pytest.fixture
def store(tmp_path):
    from harness.run.store import Store

    return Store(tmp_path / "results.db")


def run_cli(*args: str, timeout: float = 240, env: dict | None = None, cwd: Path | None = None,
            check: bool = False) -> subprocess.CompletedProcess:
    """`harness ARGS...` in a subprocess (the real console entry, same interpreter), with a timeout."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=cwd or ROOT)
    if check and proc.returncode != 0:
        raise AssertionError(f"harness {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def cli():
    return run_cli


def have(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def mpiexec_path() -> Path | None:
    p = Path(sys.executable).parent / "mpiexec"
    return p if p.exists() else None


def tagged_processes(tag: str) -> list[str]:
    """Live processes (ours) whose environment carries ``tag``: a /proc scan, no psutil."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if tag.encode() in (entry / "environ").read_bytes():
                found.append(f"{entry.name}: {(entry / 'cmdline').read_bytes().replace(bytes(1), b' ').decode()[:120]}")
        except OSError:
            continue
    return found


def processes_left(tag: str, within: float = 15.0) -> list[str]:
    """The processes carrying ``tag`` still alive after up to ``within`` seconds (polled): a job's ranks
    that were signalled take a moment to exit, longer on a loaded machine; ``[]`` as soon as none is."""
    import time

    deadline = time.monotonic() + within
    while (left := tagged_processes(tag)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


# A test that needs torch or mpi4py carries the ``torch`` / ``mpi`` marker (so ``-m "not torch and not
# mpi"`` deselects it) and is skipped, with the reason, where the dependency is missing.
needs_mpi = pytest.mark.mpi
needs_torch = pytest.mark.torch
MISSING = {"mpi": None if have("mpi4py") and mpiexec_path() else "mpi4py / the venv's mpiexec missing",
           "torch": None if have("torch") else "torch not installed"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for marker, why in MISSING.items():
            if why and item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=why))


HOST_COPIES = ("item", "cpu", "tolist", "numpy", "__float__", "__int__", "__bool__")


@pytest.fixture
def host_copies(monkeypatch):
    """Spies on every way a tensor reaches the host (each one waits for a GPU): returns a function
    ``watch()`` that installs them and gives the list of (method, device type) calls made from then
    on. On a ``meta`` tensor (shapes, no data: the stand-in for a GPU here) each answers as a zero
    tensor of its shape would, so code on the meta device can finish and be counted;
    ``watch.undo()`` removes them."""
    import torch
    from torch.utils._python_dispatch import _disable_current_modes

    calls: list[tuple[str, str]] = []

    def watch():
        for name in HOST_COPIES:
            orig = getattr(torch.Tensor, name)

            def spy(self, *a, _orig=orig, _name=name, **kw):
                calls.append((_name, self.device.type))
                if self.device.type == "meta":         # no data: answer as a zero tensor on the host would
                    with _disable_current_modes():      # (made outside a dispatch mode watching the ops)
                        return _orig(torch.zeros(self.shape, dtype=self.dtype), *a, **kw)
                return _orig(self, *a, **kw)

            monkeypatch.setattr(torch.Tensor, name, spy)
        return calls

    watch.undo = monkeypatch.undo
    return watch


# -- what listens while a run works (tests/core/test_security.py, tests/backends/test_many_nodes.py) --
def loopback(ip: str) -> bool:
    return ip.startswith("127.") or ip in ("::1", "::ffff:127.0.0.1")


def listening_while(tmp_path, *args, timeout=240):
    """Run ``harness ARGS`` and, until it exits, list every listening TCP socket of it and of every
    process below it (ranks, proxies, dask workers), polled every 50 ms. Returns (returncode,
    stderr, {(process name, address, port)})."""
    import time

    import psutil

    err_path = tmp_path / "stderr.txt"
    with open(err_path, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "harness.cli", *args], stdout=subprocess.DEVNULL,
                                stderr=err, cwd=ROOT)
        top, seen, deadline = psutil.Process(proc.pid), set(), time.monotonic() + timeout
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    procs = [top, *top.children(recursive=True)]
                except psutil.NoSuchProcess:
                    break
                for p in procs:
                    try:
                        seen |= {(p.name(), c.laddr.ip, c.laddr.port) for c in p.net_connections("inet")
                                 if c.status == psutil.CONN_LISTEN}
                    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                        pass
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                proc.kill()
            rc = proc.wait(timeout=30)
    return rc, err_path.read_text(), seen


def mpi_ranks_on_loopback(seen, hydra: bool = False) -> None:
    """What :func:`listening_while` saw of an MPI job on this machine: the ranks' own sockets, all on
    loopback. Under ``mpiexec.gforker`` (one machine, no hostfile) nothing else listens, the
    launcher least of all; under hydra (``hydra=True``: a hostfile) its control port (one, on
    mpiexec; MPICH binds it to every address) is the only socket beyond loopback."""
    control = {port for name, ip, port in seen if name.startswith("mpiexec")}
    assert len(control) == (1 if hydra else 0), seen              # hydra's control port; gforker's: none
    ranks = {(name, ip, port) for name, ip, port in seen if name.startswith("python") and port not in control}
    assert ranks, seen                                          # the ranks' own sockets were seen
    assert all(loopback(ip) for _, ip, _ in ranks), ranks
    assert all(loopback(ip) or port in control for _, ip, port in seen), seen


@pytest.fixture
def small_disk(tmp_path):
    """A real 1 MiB tmpfs mounted at ``tmp_path/disk`` (needs root; skipped with the reason where
    the mount is refused), unmounted afterwards. Returns its path; ``fill_disk(path)`` fills it to
    the brim, so the next write that needs a block fails with ENOSPC."""
    disk = tmp_path / "disk"
    disk.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True,
                          text=True, timeout=30)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs (a real full disk): {proc.stderr.strip() or proc.returncode}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, timeout=30)


def fill_disk(folder: Path) -> Path:
    """Write zeros into ``folder/filler`` until the file system says ENOSPC; returns the filler."""
    import errno

    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as fh:
        for size in (64 * 1024, 4096, 512, 1):
            try:
                while True:
                    fh.write(b"\0" * size)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    return filler


def judge(store, plugin: str, theorem: str, params: dict, *, workload: str = "ridge", wparams: dict | None = None,
          workers: int = 1, seeds=(0, 1, 2), updates: int = 2000):
    """The verdict of ``theorem`` on runs of ``plugin`` (one per seed, ``updates`` each, on ``workload``
    with ``wparams``, default n = 200, d = 10) stored in ``store``; every run must end done or budget."""
    from harness.api import Budget
    from harness.run.checking import check
    from harness.run.runner import RunSpec, execute

    wp = {"n": 200, "d": 10} if wparams is None else wparams
    recs = [execute(RunSpec(plugin, workload, params, wp, workers=workers, seed=s, budget=Budget(updates=updates)), store)
            for s in seeds]
    assert all(r.status in ("done", "budget") for r in recs), [r.reason for r in recs]
    (v,) = [x for x in check(recs) if x.theorem == theorem]
    return v
