"""Datasets by name: downloaded with pooch from a (local, loopback-only) HTTP server into the cache,
checked against the first download's SHA-256, and offline a one-line message naming the file to
place and where."""

import bz2
import functools
import http.server
import threading

import numpy as np
import pytest

from conftest import have, needs_torch, run_cli

pytestmark = pytest.mark.skipif(not have("pooch"), reason="pooch not installed")


def _libsvm_bz2(path, n=60, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.where(X @ rng.normal(size=d) > 0, 1, -1)
    lines = [f"{y[i]:+d} " + " ".join(f"{j + 1}:{X[i, j]:.6f}" for j in range(d)) for i in range(n)]
    path.write_bytes(bz2.compress(("\n".join(lines) + "\n").encode()))


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)  # loopback only
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _run(cache, url, *extra):
    return run_cli("run", "-p", "sgd-serial", "-w", "libsvm", "--workload-param", "dataset=ijcnn1",
                   "--budget", "epochs=2", "--no-report", "--json", *extra, timeout=120,
                   env={"HARNESS_CACHE": str(cache), "HARNESS_DATASETS_URL": url})


def test_download_by_name_then_cached_then_checksum(tmp_path, server):
    import json

    root, url = server
    _libsvm_bz2(root / "ijcnn1.bz2")
    cache = tmp_path / "cache"
    first = _run(cache, url)
    assert first.returncode == 0, first.stderr
    run = json.loads(first.stdout)["runs"][0]
    assert run["status"] == "budget" and run["points"] >= 5
    got = cache / "datasets" / "ijcnn1.bz2"
    assert got.read_bytes() == (root / "ijcnn1.bz2").read_bytes() and "downloaded dataset ijcnn1" in first.stderr
    assert (cache / "datasets" / "ijcnn1.bz2.sha256").exists()
    (root / "ijcnn1.bz2").unlink()  # the server no longer has it: the cached copy is used
    again = _run(cache, url, "--force")
    assert again.returncode == 0 and "downloaded" not in again.stderr, again.stderr
    got.unlink()  # lost from the cache, and the server now serves other bytes: the checksum refuses them
    _libsvm_bz2(root / "ijcnn1.bz2", seed=1)
    bad = _run(cache, url, "--force")
    assert bad.returncode == 2 and "failed its checksum" in bad.stderr and not got.exists(), bad.stderr


def test_offline_names_the_file_and_where(tmp_path):
    cache = tmp_path / "cache"
    proc = _run(cache, "http://127.0.0.1:9/")  # nothing listens on the discard port
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "place the file ijcnn1.bz2 in " + str(cache / "datasets") in lines[0], proc.stderr
    _libsvm_bz2(cache / "datasets" / "ijcnn1.bz2")  # placed by hand: used without a network
    placed = _run(cache, "http://127.0.0.1:9/")
    assert placed.returncode == 0, placed.stderr


def test_unknown_dataset_is_a_user_error(tmp_path):
    proc = run_cli("run", "-p", "sgd-serial", "-w", "libsvm", "--workload-param", "dataset=rcv2", "--no-report",
                   timeout=60)
    assert proc.returncode == 2 and "dataset" in proc.stderr and "rcv1" in proc.stderr


# -- MNIST in its IDX files ----------------------------------------------------------------------------
MNIST = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz")


def _tiny_mnist(folder, n_train=96, n_test=32, gz=True, seed=0):
    """MNIST-shaped IDX files: 28 x 28 uint8 images of 10 learnable classes (a template per class
    plus noise), written as the four standard files (gzipped or not)."""
    from harness.suites.mnist import write_idx

    rng = np.random.default_rng(seed)
    templates = rng.integers(0, 256, size=(10, 28, 28))
    for images, labels, n in (("train-images-idx3-ubyte", "train-labels-idx1-ubyte", n_train),
                              ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", n_test)):
        y = np.arange(n) % 10
        X = np.clip(0.7 * templates[y] + rng.integers(0, 80, size=(n, 28, 28)), 0, 255).astype(np.uint8)
        sfx = ".gz" if gz else ""
        write_idx(folder / (images + sfx), X)
        write_idx(folder / (labels + sfx), y.astype(np.uint8))


def _registry(path, root):
    """A pooch registry of the files the test server serves (its own bytes, not MNIST's)."""
    import hashlib

    path.write_text("".join(f"{f} sha256:{hashlib.sha256((root / f).read_bytes()).hexdigest()}\n" for f in MNIST))
    return path


MNIST_RUN = ("run", "-p", "mnag-torch", "-w", "mlp", "--workers", "2", "--workload-param", "data=mnist",
             "--workload-param", "width=8", "--workload-param", "depth=1", "--workload-param", "eval_n=0",
             "--param", "b=48", "--param", "measure=off", "--budget", "epochs=2", "--timeout", "90",
             "--no-report", "--json")


def test_read_idx_gz_and_raw_and_refuses_what_is_not_idx(tmp_path):
    from harness._core.errors import UserError
    from harness.suites.mnist import read_idx, write_idx

    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", a)
    write_idx(tmp_path / "a", a)
    write_idx(tmp_path / "f", np.linspace(0, 1, 5).astype(">f4"))
    assert (tmp_path / "a.gz").read_bytes()[:2] == b"\x1f\x8b" and (tmp_path / "a").read_bytes()[:4] == b"\0\0\x08\x03"
    assert np.array_equal(read_idx(tmp_path / "a.gz"), a) and np.array_equal(read_idx(tmp_path / "a"), a)
    assert np.allclose(read_idx(tmp_path / "f"), np.linspace(0, 1, 5))
    (tmp_path / "bad").write_bytes(b"PK\x03\x04rest")
    with pytest.raises(UserError, match=r"bad: not an IDX file \(expected bytes 00 00 TYPE NDIM, got 50 4b 03 04\)"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes((tmp_path / "a").read_bytes()[:-1])
    with pytest.raises(UserError, match="IDX header says 2 x 3 x 4 values of 1 bytes, the file holds 23 bytes"):
        read_idx(tmp_path / "short")


@needs_torch
def test_mnist_downloaded_checked_and_trained_on_by_two_torch_ranks(tmp_path, server):
    """The four IDX files come from a (loopback) server into the cache with pooch, each checked
    against a SHA-256; two torch.distributed ranks then train on them (60/40 split kept: the
    files' own test set); the real MNIST sums recorded in the code refuse these files."""
    import json

    root, url = server
    _tiny_mnist(root)
    cache = tmp_path / "cache"
    env = {"HARNESS_CACHE": str(cache), "HARNESS_DATASETS_URL": url,
           "HARNESS_DATASETS_REGISTRY": str(_registry(tmp_path / "registry.txt", root))}
    proc = run_cli(*MNIST_RUN, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr
    (run,) = json.loads(proc.stdout)["runs"]
    assert run["status"] == "budget" and run["workers"] == 2, run
    assert run["final"]["samples"] == 2 * 96 and 0.0 <= run["final"]["test_acc"] <= 1.0, run["final"]
    assert proc.stderr.count("harness: downloaded dataset mnist file") == 4, proc.stderr
    for f in MNIST:
        assert (cache / "datasets" / f).read_bytes() == (root / f).read_bytes()

    # the sums recorded for the real MNIST files refuse these bytes (a fresh cache, no override)
    real = run_cli(*MNIST_RUN, timeout=120, env={"HARNESS_CACHE": str(tmp_path / "c2"), "HARNESS_DATASETS_URL": url})
    lines = real.stderr.strip().splitlines()
    assert real.returncode == 2 and len(lines) == 1 and "train-images-idx3-ubyte.gz failed its checksum" in lines[0], \
        real.stderr
    assert not (tmp_path / "c2" / "datasets" / "train-images-idx3-ubyte.gz").exists()


@needs_torch
def test_mnist_offline_names_the_four_files_then_raw_files_placed_by_hand(tmp_path):
    cache = tmp_path / "cache"
    run = ("run", "-p", "mnag-serial", "-w", "mlp", "--workload-param", "data=mnist", "--workload-param", "width=8",
           "--workload-param", "depth=1", "--param", "b=32", "--budget", "epochs=1", "--no-report", "--json")
    proc = run_cli(*run, timeout=120, env={"HARNESS_CACHE": str(cache), "HARNESS_DATASETS_URL": "http://127.0.0.1:9/"})
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0] == ("harness: error: dataset mnist: cannot download http://127.0.0.1:9/train-images-idx3-ubyte.gz "
                        "(ConnectionError); place the files " + ", ".join(MNIST) + f" in {cache / 'datasets'}"), lines[0]
    _tiny_mnist(cache / "datasets", gz=False)  # unpacked IDX files placed by hand: used offline
    placed = run_cli(*run, timeout=120, env={"HARNESS_CACHE": str(cache), "HARNESS_DATASETS_URL": "http://127.0.0.1:9/"})
    assert placed.returncode == 0, placed.stderr
    import json

    assert json.loads(placed.stdout)["runs"][0]["final"]["samples"] == 96


def test_stream_sha256_reads_without_keeping_the_file(tmp_path, server):
    import hashlib

    from harness.suites.datasets import stream_sha256

    root, url = server
    data = np.random.default_rng(0).bytes(3 << 20)
    (root / "blob.bz2").write_bytes(data)
    assert stream_sha256(url + "blob.bz2", chunk=1 << 16) == (len(data), hashlib.sha256(data).hexdigest())
    assert stream_sha256(url + "blob.bz2", max_bytes=1 << 20) == (len(data), None)  # too big: not read


def test_an_idx_header_that_wraps_or_declares_gigabytes_is_refused_unread(tmp_path):
    """dims 65536^4 wrapped numpy's int64 product to 0 (the size check passed, then a traceback); a
    2 MB gzip declaring 3,000,000 x 28 x 28 unpacked 2.4 GB before the check."""
    import gzip

    from harness._core.errors import UserError
    from harness.suites.mnist import read_idx

    wrap = tmp_path / "wrap"
    wrap.write_bytes(b"\x00\x00\x08\x04" + (65536).to_bytes(4, "big") * 4)
    with pytest.raises(UserError, match="more than an MNIST file holds"):
        read_idx(wrap)
    bomb = tmp_path / "bomb.gz"
    bomb.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + (3_000_000).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
                                   + bytes(1 << 20)))
    with pytest.raises(UserError, match="more than an MNIST file holds"):
        read_idx(bomb)


def test_a_cifar_pickle_of_shared_references_is_walked_once(tmp_path):
    """L[i+1] = [L[i], L[i]] 90 deep is 180 objects and 2^90 paths: the half-built check visited every
    path (a 1.7 KB batch hung the run); it visits each object once."""
    import pickle
    import time

    from harness._core.errors import UserError
    from harness.suites.cifar import read_batch

    nested = [[0]]
    for _ in range(90):
        nested.append([nested[-1], nested[-1]])
    batch = tmp_path / "data_batch_1"
    batch.write_bytes(pickle.dumps({b"data": nested[-1], b"labels": [1]}, protocol=2))
    start = time.monotonic()
    with pytest.raises(UserError, match="must be an N x 3072 uint8 array"):
        read_batch(batch)
    assert time.monotonic() - start < 10
