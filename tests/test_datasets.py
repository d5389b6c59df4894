"""Datasets by name: downloaded with pooch from a (local, loopback-only) HTTP server into the cache,
checked against the first download's SHA-256, and offline a one-line message naming the file to
place and where."""

import bz2
import functools
import http.server
import threading

import numpy as np
import pytest

from conftest import have, run_cli

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
    run = json.loads(first.stdout)[0]
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
