"""Data files never run code, nothing escapes its folder, caches are private (docs/security.md).

Each reader of a file from outside gets a hostile file: a pickle whose payload would create a
marker file, a link to a file elsewhere, a folder others can write. What must hold: the marker
never appears, the refusal is one line naming the file (exit 2 at the CLI), nothing is read from
outside the folder.
"""

from __future__ import annotations

import json
import os
import pickle
import stat

import numpy as np
import pytest

from conftest import listening_while, loopback, mpi_ranks_on_loopback, needs_torch, run_cli


class _Payload:
    """Unpickled by a plain ``pickle.load``, this creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


CIFAR_NAMES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch")


def _cifar_folder(folder, make):
    folder.mkdir()
    for name in CIFAR_NAMES:
        (folder / name).write_bytes(pickle.dumps(make(name), protocol=2))
    return folder


def _batch(n=4, seed=0):
    rng = np.random.default_rng(seed)
    return {b"batch_label": "training batch", b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"labels": [int(v) for v in rng.integers(0, 10, n)], b"filenames": [f"img{i}.png" for i in range(n)]}


# -- CIFAR-10 -------------------------------------------------------------------------------------
@pytest.mark.torch
@needs_torch
def test_malicious_and_malformed_cifar_folders_are_refused_and_nothing_runs(tmp_path):
    """The attack of the issue: six batches whose dict holds an object reducing to os.system. A
    plain pickle.load ran it; the run must refuse with one line and exit 2, and no marker appear.
    Then a harmless but malformed folder (``data`` of one value): one line, not a traceback."""
    marker = tmp_path / "PWNED"
    evil = _cifar_folder(tmp_path / "evil", lambda name: {**_batch(), b"data": _Payload(marker)})
    bad = _cifar_folder(tmp_path / "bad", lambda name: {**_batch(), b"data": np.zeros(1, np.uint8)})
    for folder, expected in ((evil, f"harness: error: {evil / 'data_batch_1'}: refused: the pickle asks for "
                                    f"posix.system, which a CIFAR-10 python batch never holds (nothing of it was run)"),
                             (bad, f"harness: error: {bad / 'data_batch_1'}: 'data' must be an N x 3072 uint8 array "
                                   f"(N > 0), got a uint8 array of shape (1,)")):
        out = run_cli("run", "-p", "mnag-serial", "-w", "resnet", "--workload-param", "data=cifar",
                      "--workload-param", f"path={folder}", "--budget", "updates=1", "--no-report", "-q", timeout=120)
        assert out.returncode == 2, out.stderr
        assert out.stderr.strip().splitlines() == [expected]
    assert not marker.exists()


def test_batch_reader_accepts_the_official_layout_in_every_pickle_protocol(tmp_path):
    from harness.suites.cifar import read_batch

    doc = _batch(5)
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        path = tmp_path / f"b{proto}"
        path.write_bytes(pickle.dumps(doc, protocol=proto))
        X, y = read_batch(path)
        assert X.shape == (5, 3, 32, 32) and X.dtype == np.uint8 and y.dtype == np.int64
        np.testing.assert_array_equal(X.reshape(5, -1), doc[b"data"])
        assert y.tolist() == doc[b"labels"]
    # the official files were written by Python 2 with numpy 1: the array comes from numpy.core
    py2 = pickle.dumps(doc, protocol=2).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray" in py2
    (tmp_path / "py2").write_bytes(py2)
    np.testing.assert_array_equal(read_batch(tmp_path / "py2")[0].reshape(5, -1), doc[b"data"])


@pytest.mark.parametrize("change, message", [
    ({b"data": np.zeros((2, 3072), np.float32)}, "'data' must be an N x 3072 uint8 array (N > 0), got a float32"),
    ({b"data": np.zeros((2, 100), np.uint8)}, "'data' must be an N x 3072 uint8 array (N > 0), got a uint8 array of "
                                              "shape (2, 100)"),
    ({b"data": np.zeros((2, 3072), object)}, "refused: the pickle asks for numpy dtype 'O8'"),
    ({b"labels": [1, 2, 3, 4, 5]}, "4 images but 5 labels"),
    ({b"labels": [0, 1, 10, 2]}, "labels must be in 0..9, found 10"),
    ({b"labels": [0, 1, -1, 2]}, "labels must be in 0..9, found -1"),
    ({b"labels": ["a", "b", "c", "d"]}, "'labels' must be a list of ints"),
    ({b"labels": None}, "'labels' must be a list of ints"),
])
def test_malformed_batches_are_one_line_naming_the_file(tmp_path, change, message):
    from harness.api import UserError
    from harness.suites.cifar import read_batch

    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({**_batch(4), **change}, protocol=2))
    with pytest.raises(UserError) as err:
        read_batch(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value) and "\n" not in str(err.value)


def test_batch_reader_builds_nothing_but_data(tmp_path):
    """Payloads beyond a global os.system: a class instance made by copyreg, state set on a list by
    BUILD, a persistent id, a builtin callable; each refused, none run."""
    from harness.api import UserError
    from harness.suites.cifar import read_batch

    marker = tmp_path / "ran"
    payloads = {
        "__builtin__.eval": pickle.dumps({b"data": _Eval(f"open({str(marker)!r}, 'w')")}, protocol=2),
        "copyreg._reconstructor": b"ccopyreg\n_reconstructor\n(cbuiltins\nobject\ncbuiltins\nobject\nNtR.",
        "state set on a list": b"\x80\x02]q\x00}q\x01X\x01\x00\x00\x00aq\x02K\x01sb.",
        "a persistent id": b"\x80\x02X\x01\x00\x00\x00xQ.",
        "subprocess.Popen": b"\x80\x02csubprocess\nPopen\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03.",
    }
    for what, raw in payloads.items():
        path = tmp_path / "data_batch_1"
        path.write_bytes(raw)
        with pytest.raises(UserError) as err:
            read_batch(path)
        assert "refused" in str(err.value) and what in str(err.value), (what, str(err.value))
    assert not marker.exists()


class _Eval:
    def __init__(self, code):
        self.code = code

    def __reduce__(self):
        return (eval, (self.code,))


def test_a_batch_linked_from_outside_its_folder_is_refused(tmp_path):
    from harness.api import UserError
    from harness.suites.cifar import batch_files, save_batch

    folder, elsewhere = tmp_path / "cifar", tmp_path / "private"
    folder.mkdir(), elsewhere.mkdir()
    for name in CIFAR_NAMES[:1] + CIFAR_NAMES[-1:]:
        save_batch(folder / name, np.zeros((2, 3072), np.uint8), [0, 1])
    assert [p.name for p in batch_files(folder)] == ["data_batch_1", "test_batch"]
    (elsewhere / "secret").write_text("not yours to read")
    (folder / "data_batch_2").symlink_to(elsewhere / "secret")
    with pytest.raises(UserError, match=r"CIFAR-10 batch .*data_batch_2 is a link to .*secret, outside .*cifar: "
                                        r"refused"):
        batch_files(folder)
    (folder / "data_batch_2").unlink()
    (folder / "data_batch_2").symlink_to("data_batch_1")  # a link within the folder is followed
    assert len(batch_files(folder)) == 3


def test_published_checksums_name_a_folder_that_differs(tmp_path):
    from harness.suites.cifar import PUBLISHED_MD5, check_files, save_batch

    assert set(PUBLISHED_MD5) == set(CIFAR_NAMES)
    for name in CIFAR_NAMES:
        save_batch(tmp_path / name, np.zeros((2, 3072), np.uint8), [0, 1])
    (tmp_path / "extra").write_bytes((tmp_path / "test_batch").read_bytes())
    assert check_files([tmp_path / n for n in (*CIFAR_NAMES, "extra")]) == list(CIFAR_NAMES)


# -- what listens while a one-machine run works ---------------------------------------------------
@pytest.mark.mpi
@pytest.mark.slow
def test_a_one_machine_mpi_run_listens_on_loopback_only(tmp_path):
    """Before: every rank listened on the machine's external address too (UCX on every interface),
    and hydra's mpiexec held its control port on 0.0.0.0 for the whole job (it binds every address
    whatever it is told). Now the ranks are on 127.0.0.1 and ``mpiexec.gforker`` starts them,
    serving PMI over pipes: every socket of the job, the launcher's included, is on loopback, and
    the launcher has none."""
    from conftest import have, mpiexec_path

    if not (have("mpi4py") and mpiexec_path()):
        pytest.skip("mpi4py / the venv's mpiexec missing")
    if not (mpiexec_path().parent / "mpiexec.gforker").exists():
        pytest.skip("this MPICH has no mpiexec.gforker: hydra's control port listens on 0.0.0.0 (warned)")
    rc, err, seen = listening_while(tmp_path, "run", "-p", "asysvrg-mpi", "-w", "logreg", "--workers", "2",
                                     "--budget", "seconds=3", "--no-report", "-q", "--store", str(tmp_path / "r.db"))
    assert rc == 0, err
    mpi_ranks_on_loopback(seen)
    import sqlite3

    info = json.loads(sqlite3.connect(tmp_path / "r.db").execute("SELECT info FROM runs").fetchone()[0])
    assert info["network"]["mpiexec"].startswith("mpiexec.gforker: no listening socket"), info["network"]


@pytest.mark.torch
@pytest.mark.slow
@needs_torch
@pytest.mark.parametrize("launcher", ["harness", "torchrun"])
def test_a_one_machine_torch_run_listens_on_loopback_only(tmp_path, launcher):
    """Our launcher (the default): gloo on ``lo`` and a file:// rendezvous, every socket on
    loopback. torchrun: before, ``--standalone`` left its agent (``pt_elastic``) with two TCPStores
    on every interface (torch's TCPStore server binds ``::`` whatever host it is given); now its
    c10d rendezvous is on a FileStore in the run's folder and the ranks meet through a file://
    rendezvous, so the agent listens on nothing and the ranks only on loopback."""
    rc, err, seen = listening_while(tmp_path, "run", "-p", "clars-torch", "-w", "mlp", "--workers", "2",
                                     "--launcher", launcher, "--budget", "updates=30", "--no-report", "-q",
                                     "--store", str(tmp_path / "r.db"))
    assert rc == 0, err
    assert seen, "no listening socket seen: the ranks ended before they were looked at"
    assert all(loopback(ip) for _, ip, _ in seen), seen
    assert {name for name, _, _ in seen} <= {"python", "python3"}, seen  # the ranks' gloo only: no pt_elastic
    import sqlite3

    info = json.loads(sqlite3.connect(tmp_path / "r.db").execute("SELECT info FROM runs").fetchone()[0])
    assert info["network"]["ranks"].startswith("127.0.0.1"), info["network"]
    assert launcher == "harness" or info["network"]["torchrun"].startswith("nothing"), info["network"]


@pytest.mark.slow
def test_a_dask_local_cluster_listens_on_loopback_only_and_needs_no_fixed_port(tmp_path):
    """Scheduler, nannies and workers on 127.0.0.1, no dashboard, while another process holds
    port 8787 (``dashboard_address=None`` used to start the scheduler's HTTP server on
    0.0.0.0:8787, or warn on stderr when it was taken)."""
    import socket

    from conftest import have

    if not have("distributed"):
        pytest.skip("dask.distributed not installed")
    holder = socket.socket()
    try:
        holder.bind(("", 8787))
        holder.listen()
    except OSError:
        holder.close()
        holder = None  # taken already: the condition the test wants holds anyway
    try:
        rc, err, seen = listening_while(tmp_path, "run", "-p", "sgd-serial", "-w", "logreg", "--executor", "dask",
                                         "--jobs", "2", "--budget", "epochs=1", "--no-report", "-q",
                                         "--store", str(tmp_path / "r.db"))
    finally:
        if holder is not None:
            holder.close()
    assert rc == 0, err
    assert not any(word in err for word in ("8787", "already in use", "dashboard")), err
    assert len(seen) >= 3, seen                                 # a scheduler and two workers at least
    assert all(loopback(ip) for _, ip, _ in seen), seen
    assert 8787 not in {port for _, _, port in seen}


# -- every other reader of outside files ----------------------------------------------------------
def _pickle_file(path, marker):
    path.write_bytes(pickle.dumps(_Payload(marker), protocol=2))
    return path


def test_mnist_folder_refuses_a_link_out_and_a_pickle_is_not_idx(tmp_path):
    from harness.api import UserError
    from harness.suites.datasets import MNIST_FILES
    from harness.suites.mnist import load_mnist, mnist_files, read_idx, write_idx

    folder, elsewhere, marker = tmp_path / "mnist", tmp_path / "private", tmp_path / "ran"
    folder.mkdir(), elsewhere.mkdir()
    for name, arr in zip(MNIST_FILES, (np.zeros((3, 28, 28), np.uint8), np.arange(3, dtype=np.uint8),
                                       np.zeros((2, 28, 28), np.uint8), np.arange(2, dtype=np.uint8))):
        write_idx(folder / name, arr)
    assert len(load_mnist(folder)[0]) == 3
    with pytest.raises(UserError, match="not an IDX file"):
        read_idx(_pickle_file(tmp_path / "x.idx", marker))
    write_idx(elsewhere / "labels", np.arange(3, dtype=np.uint8))
    (folder / MNIST_FILES[1]).unlink()
    (folder / MNIST_FILES[1]).symlink_to(elsewhere / "labels")
    with pytest.raises(UserError, match=r"MNIST file .* is a link to .*labels, outside .*mnist: refused"):
        mnist_files(folder)
    assert not marker.exists()


def test_libsvm_reader_takes_a_pickle_as_a_malformed_file(tmp_path):
    from harness.api import UserError
    from harness.suites.libsvm import load_libsvm

    marker = tmp_path / "ran"
    with pytest.raises(UserError) as err:
        load_libsvm(_pickle_file(tmp_path / "data.svm", marker))
    assert str(tmp_path / "data.svm") in str(err.value) and "\n" not in str(err.value)
    assert not marker.exists()


@pytest.mark.parametrize("make", ["suite", "baseline", "store", "export"])
def test_suite_baseline_store_and_export_readers_refuse_a_pickle_in_one_line(tmp_path, make):
    """A suite file, a gate baseline, a results store and a JSON export that are pickles with a
    payload: each reader takes it as a malformed file of its kind (TOML, JSON, SQLite); nothing runs."""
    marker = tmp_path / "ran"
    bad = _pickle_file(tmp_path / {"suite": "s.toml", "baseline": "b.json", "store": "r.db", "export": "e.json"}[make],
                       marker)
    suite = tmp_path / "ok.toml"
    suite.write_text('name = "ok"\n[[run]]\nplugin = "sgd-serial"\nworkload = "logreg"\nbudget = "epochs=1"\n')
    args = {"suite": ["run", str(bad), "--no-report"],
            "baseline": ["gate", str(suite), "--baseline", str(bad)],
            "store": ["runs", "--store", str(bad)],
            "export": ["gate", str(suite), "--current", str(bad), "--baseline", str(suite)]}[make]
    out = run_cli(*args, timeout=120)
    assert out.returncode == 2, (out.returncode, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("harness: error: ") and "Traceback" not in out.stderr, out.stderr
    assert str(bad) in lines[0], lines[0]  # refused as that file, not for another reason
    assert not marker.exists()


def test_a_suite_name_cannot_escape_the_report_folder(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text('name = "../../escaped"\n[[run]]\nplugin = "sgd-serial"\nworkload = "logreg"\n')
    out = run_cli("run", str(suite), "--report", str(tmp_path / "reports"), timeout=60)
    assert out.returncode == 2 and "must be a plain name" in out.stderr, out.stderr
    assert not (tmp_path / "escaped").exists()


def test_a_constants_cache_entry_is_data_never_code(tmp_path):
    """The constants cache is JSON: an entry replaced by a pickle payload is recomputed, not run."""
    from harness.api import build_workload

    os.environ["HARNESS_CACHE"] = str(tmp_path / "cache")  # restored by the autouse fixture's monkeypatch
    wl = build_workload("logreg", {"n": 60, "d": 4})
    path = wl._cache_path("optimum")
    path.parent.mkdir(parents=True, exist_ok=True)
    marker = tmp_path / "ran"
    _pickle_file(path, marker)
    value = wl._cached("optimum", lambda: {"f_star": 1.0})
    assert value == {"f_star": 1.0} and not marker.exists()


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.slow
def test_caches_are_created_private_and_one_others_can_write_is_made_private(tmp_path):
    cache = tmp_path / "fresh" / "cache"
    out = run_cli("list", "plugins", env={"HARNESS_CACHE": str(cache)}, timeout=60)
    assert out.returncode == 0, out.stderr
    from harness._core.cache import cache_dir

    os.environ["HARNESS_CACHE"] = str(cache)
    assert cache_dir() == cache and _mode(cache) == 0o700
    os.chmod(cache, 0o777)
    (cache / "numba").mkdir()
    os.chmod(cache / "numba", 0o777)
    out = run_cli("list", "plugins", env={"HARNESS_CACHE": str(cache), "NUMBA_CACHE_DIR": ""}, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"harness: cache folder {cache} was writable by others (mode 777): made private (0700), since the " \
           "harness loads pickles from it" in out.stderr.splitlines()
    assert _mode(cache) == 0o700
    own = tmp_path / "numba-own"                        # a NUMBA_CACHE_DIR of the user's choosing: the same rule
    own.mkdir(mode=0o777)
    os.chmod(own, 0o777)
    out = run_cli("list", "plugins", env={"HARNESS_CACHE": str(cache), "NUMBA_CACHE_DIR": str(own)}, timeout=60)
    assert out.returncode == 0 and "numba cache folder" in out.stderr and _mode(own) == 0o700, out.stderr


def test_a_shared_sticky_folder_is_refused_not_closed(tmp_path):
    """HARNESS_CACHE=/tmp must not turn /tmp private (as root it could): a folder writable by
    others with the sticky bit is shared by design, and refused."""
    from harness._core.paths import private_dir
    from harness.api import UserError

    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    with pytest.raises(UserError, match="is a shared folder"):
        private_dir(shared, "cache folder")
    assert _mode(shared) == 0o1777


@pytest.mark.skipif(os.getuid() != 0, reason="making a folder of another user needs root")
def test_a_cache_or_run_folder_of_another_user_is_refused_before_any_work(tmp_path):
    """Another user's folder holding a numba cache entry with a payload: the command refuses in one
    line before anything loads it; the same for submitit's folder and a run folder."""
    from harness.api import UserError
    from harness._core.paths import private_dir

    cache, marker = tmp_path / "theirs", tmp_path / "ran"
    (cache / "numba").mkdir(parents=True)
    _pickle_file(cache / "numba" / "kernels.py-10.f-1.py311.nbi", marker)
    os.chown(cache, 65534, 65534)
    out = run_cli("run", "-p", "sgd-serial", "-w", "logreg", "--budget", "epochs=1", "--no-report",
                  env={"HARNESS_CACHE": str(cache), "NUMBA_CACHE_DIR": ""}, timeout=60)
    assert out.returncode == 2 and out.stderr.strip().splitlines() == [
        f"harness: error: cache folder {cache} belongs to another user (uid 65534): refused, since the harness "
        f"loads code-bearing files from it; choose a folder of your own"], out.stderr
    assert not marker.exists()
    for what in ("submitit folder", "run folder"):
        with pytest.raises(UserError, match=f"{what} .* belongs to another user"):
            private_dir(cache, what)


def test_a_dask_cluster_of_threads_listens_on_loopback_only_too():
    """processes=False (threads of this process): dask's in-process transport left the workers'
    HTTP servers on 0.0.0.0 and '::'; the engine's cluster uses TCP on 127.0.0.1 there too."""
    import psutil

    from conftest import have

    if not have("distributed"):
        pytest.skip("dask.distributed not installed")
    from harness.run.executors import DaskEngine

    engine = DaskEngine(2, processes=False)
    try:
        me = psutil.Process()
        seen = {(c.laddr.ip, c.laddr.port) for p in (me, *me.children(recursive=True))
                for c in p.net_connections("inet") if c.status == psutil.CONN_LISTEN}
    finally:
        engine.close()
    assert len(seen) >= 3 and all(loopback(ip) for ip, _ in seen), seen
