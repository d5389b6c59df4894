"""A run's identity: data content, code, one row per key, each seed pooled once, f* that is wrong."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, needs_torch, run_cli


def _svm(path, seed):
    from harness.suites.libsvm import save_libsvm

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((200, 5))
    y = np.where(X @ rng.standard_normal(5) + 0.3 * rng.standard_normal(200) > 0, 1.0, -1.0)
    save_libsvm(path, X, y)


LIBSVM_RUN = ("run", "-p", "svrg-serial", "-w", "libsvm", "--workload-param", "path=data.svm", "--param", "eta=0.05",
              "--budget", "epochs=100", "--target", "1e-6", "--seeds", "1", "--json", "--no-report", "-q")


TREE = {"PYTHONPATH": str(ROOT)}  # run from another folder, the CLI is still this tree's


def _one(proc):
    assert proc.returncode == 0, proc.stderr
    (rec,) = json.loads(proc.stdout)["runs"]
    return rec


def _shown(run_id, **kw):
    return json.loads(run_cli("runs", "show", str(run_id), "--json", check=True, **kw).stdout)


@pytest.mark.slow
def test_libsvm_edited_in_place_is_new_data(tmp_path):
    """The issue's sequence: run, overwrite the file with other data, run the same command: no cache
    hit, and f* is that of the new file (the truth: the same run with a fresh constants cache)."""
    env = {"HARNESS_STORE": str(tmp_path / "r.db"), "HARNESS_CACHE": str(tmp_path / "cache"), **TREE}
    data = tmp_path / "data.svm"
    _svm(data, 0)
    first = _one(run_cli(*LIBSVM_RUN, cwd=tmp_path, env=env))
    assert not first["cached"]
    assert _one(run_cli(*LIBSVM_RUN, cwd=tmp_path, env=env))["cached"]  # unchanged file: a hit
    _svm(data, 1)  # edited in place: same path, same shape, other numbers
    second = _one(run_cli(*LIBSVM_RUN, cwd=tmp_path, env=env))
    assert not second["cached"]
    f1, f2 = (_shown(r["id"], env=env)["constants"]["f_star"] for r in (first, second))
    assert f1 != f2
    truth = _one(run_cli(*LIBSVM_RUN, cwd=tmp_path, env={"HARNESS_STORE": str(tmp_path / "t.db"),
                                                          "HARNESS_CACHE": str(tmp_path / "fresh"), **TREE}))
    assert _shown(truth["id"], env={"HARNESS_STORE": str(tmp_path / "t.db")})["constants"]["f_star"] == f2
    assert (second["status"], second["final"]["updates"]) == (truth["status"], truth["final"]["updates"])
    assert second["final"]["subopt"] == pytest.approx(truth["final"]["subopt"], rel=1e-9)


@pytest.mark.slow
def test_same_relative_path_other_folder_is_other_data(tmp_path):
    env = {"HARNESS_STORE": str(tmp_path / "r.db"), **TREE}
    for k, sub in enumerate(("a", "b")):
        (tmp_path / sub).mkdir()
        _svm(tmp_path / sub / "data.svm", k)
    a = _one(run_cli(*LIBSVM_RUN, cwd=tmp_path / "a", env=env))
    b = _one(run_cli(*LIBSVM_RUN, cwd=tmp_path / "b", env=env))
    assert not b["cached"] and a["id"] != b["id"]
    shown = _shown(b["id"], env=env)
    assert shown["workload_params"]["path"] == str(tmp_path / "b" / "data.svm")  # stored resolved
    assert shown["info"]["identity"]["data"]["params"]["file_sha256"] != \
        _shown(a["id"], env=env)["info"]["identity"]["data"]["params"]["file_sha256"]


@pytest.mark.slow
def test_a_plugin_edited_in_a_copy_of_the_project_is_not_a_hit(tmp_path):
    """A copy of the project laid out as an install lays it out (pyproject's ``package-dir``: the
    three folders under ``harness/``), run from its folder: editing a plugin there changes the run key."""
    proj = tmp_path / "proj"
    shutil.copytree(ROOT / "harness", proj / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("plugins", "theory", "suites"):
        shutil.copytree(ROOT / part, proj / "harness" / part, ignore=shutil.ignore_patterns("__pycache__"))
    env = {"HARNESS_STORE": str(tmp_path / "r.db")}
    env.pop("PYTHONPATH", None)
    args = ("run", "-p", "sgd-serial", "-w", "logreg", "--workload-param", "n=200", "--workload-param", "d=5",
            "--param", "eta=0.1", "--budget", "epochs=3", "--json", "--no-report", "-q")

    def run():
        clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        proc = subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                              timeout=120, cwd=proj, env={**clean, **env})
        return _one(proc)

    first = run()
    assert run()["cached"]
    sgd = proj / "harness" / "plugins" / "serial" / "sgd.py"
    text = sgd.read_text()
    step = 'eta=p["eta"], schedule'
    assert text.count(step) == 1, "the test edits sgd-serial's step: update it with the plugin"
    sgd.write_text(text.replace(step, 'eta=0.5 * p["eta"], schedule'))  # the step rule changed
    edited = run()
    assert not edited["cached"] and edited["id"] != first["id"]
    assert edited["final"]["objective"] != first["final"]["objective"]


@pytest.mark.slow
def test_force_keeps_one_row_per_key_and_reports_pool_each_seed_once(tmp_path):
    args = ("run", "-p", "svrg-serial", "-w", "ridge", "--workload-param", "n=200", "--workload-param", "d=5",
            "--param", "eta=0.05", "--budget", "epochs=3", "--seeds", "2", "--no-report", "-q", "--json")
    run_cli(*args, check=True)
    forced = json.loads(run_cli(*args, "--force", check=True).stdout)["runs"]
    listed = json.loads(run_cli("runs", "--json", check=True).stdout)
    assert sorted(r["id"] for r in listed) == sorted(r["id"] for r in forced) and len(listed) == 2
    rep = run_cli("report", "--out", str(tmp_path / "rep"), check=True)
    assert "report:" in rep.stdout
    assert "2 runs." in (tmp_path / "rep" / "index.md").read_text()


def test_pooling_counts_each_seed_once(tmp_path):
    """Rows of one seed under different keys (older code, say): every pooling takes the newest."""
    from dataclasses import replace

    from harness._core.identity import latest_per_key
    from harness.analysis.report import write_report
    from harness.run.runner import RunSpec, execute
    from harness.run.checking import run_facts
    from harness.theory.checker import group_runs
    from harness._core.monitor import Budget

    recs = [execute(RunSpec("svrg-serial", "ridge", {"eta": 0.05}, {"n": 200, "d": 5}, seed=s,
                            budget=Budget(epochs=2))) for s in (0, 1)]
    for k, r in enumerate(recs):
        r.id = k + 1
    older = replace(recs[0], id=0, hash="older-code")
    pooled = latest_per_key([older, *recs])
    assert [r.id for r in pooled] == [1, 2]
    assert [len(g) for g in group_runs([run_facts(r) for r in latest_per_key([older, *recs])])] == [2]
    write_report([older, *recs], tmp_path / "rep")
    assert "2 runs." in (tmp_path / "rep" / "index.md").read_text()


def test_two_concurrent_identical_runs_store_one_row(tmp_path):
    args = [sys.executable, "-m", "harness.cli", "run", "-p", "svrg-serial", "-w", "ridge", "--workload-param",
            "n=300", "--workload-param", "d=8", "--param", "eta=0.05", "--budget", "epochs=20", "--no-report", "-q"]
    procs = [subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
    listed = json.loads(run_cli("runs", "--json", check=True).stdout)
    assert len(listed) == 1 and listed[0]["status"] == "budget"


def test_runs_delete_reports_and_rejects_unknown_ids():
    run_cli("run", "-p", "svrg-serial", "-w", "ridge", "--workload-param", "n=100", "--workload-param", "d=5",
            "--budget", "epochs=1", "--no-report", "-q", check=True)
    bad = run_cli("runs", "delete", "999999")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [bad.stderr.strip()]
    assert "999999" in bad.stderr and "nothing deleted" in bad.stderr
    assert len(json.loads(run_cli("runs", "--json", check=True).stdout)) == 1
    ok = run_cli("runs", "delete", "1", check=True)
    assert "deleted #1 svrg-serial on ridge" in ok.stdout and "deleted 1 run " in ok.stdout
    assert json.loads(run_cli("runs", "--json", check=True).stdout) == []


# -- suboptimality below zero ----------------------------------------------------------------------
def _spec():
    from harness._core.monitor import Budget, Target
    from harness.run.runner import RunSpec

    return RunSpec("svrg-serial", "logreg", {"eta": 0.5}, {"n": 300, "d": 8, "cond": 5.0, "lam": 0.01},
                   budget=Budget(epochs=40), target=Target("subopt", 1e-6))


def test_a_stale_f_star_is_solved_again_and_the_run_measured_again(store):
    from harness.run.runner import resolve, run_resolved

    res = resolve(_spec())
    w, f = res.workload._optimum
    res.workload._remember("optimum", (w, f + 1e-4))  # a reference above the minimum
    rec = run_resolved(res, store, force=True)
    assert rec.info["f_star_refined"]["to"] == pytest.approx(f, abs=1e-12)
    assert "subopt_negative" not in rec.info and rec.status == "target"
    assert min(p["subopt"] for p in rec.points) > -1e-9


def test_negative_suboptimality_that_stays_is_flagged_and_never_reaches_the_target(store):
    from harness.analysis.compare import run_metrics
    from harness.run.runner import resolve, run_resolved

    res = resolve(_spec())
    w, f = res.workload._optimum
    wrong = f + 1e-4
    res.workload._remember("optimum", (w, wrong))
    res.workload.refine_optimum = lambda: wrong  # a solver that cannot do better
    rec = run_resolved(res, store, force=True)
    assert rec.info["subopt_negative"]["min"] < 0
    assert rec.status != "target" and "below zero" in rec.reason
    assert run_metrics(rec)["updates_to_target"] == float("inf")
    stored = store.load(rec.id)
    assert stored.info["subopt_negative"] and stored.status == rec.status


def test_a_suites_relative_data_path_is_read_from_the_suites_folder(tmp_path):
    (tmp_path / "suite").mkdir()
    (tmp_path / "elsewhere").mkdir()
    _svm(tmp_path / "suite" / "data.svm", 0)
    _svm(tmp_path / "elsewhere" / "data.svm", 1)  # a decoy where the user stands
    (tmp_path / "suite" / "s.toml").write_text(
        'name = "rel"\n[[run]]\nplugin = "svrg-serial"\nworkload = "libsvm"\n'
        'workload_params = { path = "data.svm" }\nbudget = "epochs=2"\n')
    env = {"HARNESS_STORE": str(tmp_path / "r.db"), **TREE}
    rec = _one(run_cli("run", str(tmp_path / "suite" / "s.toml"), "--json", "--no-report", "-q",
                       cwd=tmp_path / "elsewhere", env=env))
    assert _shown(rec["id"], env=env)["workload_params"]["path"] == str(tmp_path / "suite" / "data.svm")


def test_a_damaged_kernel_cache_is_discarded_and_recompiled(tmp_path):
    """Numba's cache lives under the harness cache folder; a cut cache file is found, removed, the
    kernels recompiled, and one line says so (before: every later run stored 'UnpicklingError')."""
    from harness._core.cache import numba_cache_dir

    cache = tmp_path / "numba"
    if numba_cache_dir().is_dir():  # a warm copy (its kernels-<digest> folder): the first run need not compile everything
        shutil.copytree(numba_cache_dir(), cache / numba_cache_dir().name)
    env = {"NUMBA_CACHE_DIR": str(cache)}
    args = ("run", "-p", "svrg-serial", "-w", "logreg", "--workload-param", "n=200", "--workload-param", "d=5",
            "--budget", "epochs=2", "--json", "--no-report", "-q", "--force")
    assert _one(run_cli(*args, env=env))["status"] == "budget"
    ours = [p for p in cache.rglob("*.nbc") if "serial" in p.name or "kernels" in p.name or "linear" in p.name]
    assert ours, sorted(p.name for p in cache.rglob("*"))[:20]
    assert not list((ROOT / "plugins").rglob("*.nbc"))  # nothing compiled into the source tree
    for p in ours:
        p.write_bytes(p.read_bytes()[:10])
    damaged = run_cli(*args, env=env)
    assert _one(damaged)["status"] == "budget"
    (line,) = [ln for ln in damaged.stderr.splitlines() if "damaged" in ln]
    assert line.startswith("harness: discarded") and "recompiling" in line
    again = run_cli(*args, env=env)
    assert _one(again)["status"] == "budget" and "damaged" not in again.stderr


def test_a_same_size_edit_with_its_mtime_set_back_is_hashed_again(tmp_path, monkeypatch):
    """``touch -r`` / ``cp -p`` over an existing file restore the old mtime: the hash's fast path
    (which skips reading an unchanged file) must not serve the old bytes' hash."""
    from harness._core import identity

    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    f = tmp_path / "data.svm"
    f.write_bytes(b"+1 1:0.5\n-1 2:0.25\n")
    first = identity.file_sha256(f)
    st = f.stat()
    f.write_bytes(b"-1 1:0.5\n+1 2:0.25\n")                      # same size, labels flipped
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))              # mtime set back
    assert (f.stat().st_size, f.stat().st_mtime_ns, f.stat().st_ino) == (st.st_size, st.st_mtime_ns, st.st_ino)
    assert identity.file_sha256(f) != first
    identity._file_memo.clear()                                    # a new process: the record on disk
    assert identity.file_sha256(f) == identity.file_sha256(f) != first


@needs_torch
def test_cifar_batches_rewritten_in_place_are_new_data(tmp_path):
    """CIFAR-10 is identified by its batch files' SHA-256, not by its folder (a folder whose batches
    were rewritten was served the old run)."""
    from harness._core.registry import build_workload
    from harness.suites.network import save_cifar10_batch

    rng = np.random.default_rng(0)

    def write(seed):
        for name in ("data_batch_1", "test_batch"):
            imgs = np.random.default_rng([seed, len(name)]).integers(0, 256, (20, 3, 32, 32), dtype=np.uint8)
            save_cifar10_batch(tmp_path / name, imgs, list(rng.integers(0, 10, 20)))

    def ident():
        wl = build_workload("resnet", {"data": "cifar", "path": str(tmp_path), "width": 8, "depth": 1})
        return wl.data_identity()

    write(0)
    a = ident()
    assert set(a["files"]) == {"data_batch_1", "test_batch"} and "path" not in a["params"]
    assert ident() == a
    write(1)
    assert ident()["files"] != a["files"]


def test_a_generators_code_fingerprint_reads_its_source_in_a_checkout_too():
    """harness.suites lives in the checkout's suites/ (package-dir), outside harness/: the fingerprint
    found no file and was the hash of nothing, so an edited generator kept its cached data."""
    import hashlib

    import harness.suites.linear  # noqa: F401 - the workload's module, imported as a run imports it
    from harness._core.identity import module_fingerprint

    empty = hashlib.sha256().hexdigest()[:24]
    assert module_fingerprint("harness.suites.linear") != empty
    assert module_fingerprint("harness.suites.synthetic") != empty
