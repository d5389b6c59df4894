"""The constants cache (``harness.cache.cached_value``) is keyed by the data's content: an edited
generator in a copy of the tree reads no constant of the old data; a cache file of another format
is recomputed (said once, naming the file); a read-only cache is computed without, said once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

RUN = ("run", "--plugin", "svrg-serial", "--workload", "ridge", "--workload-param", "n=300",
       "--workload-param", "d=8", "--param", "eta=0.1", "--budget", "epochs=2", "--seeds", "1", "--no-report", "--json")
CONSTANTS = ("f_star", "L", "mu", "L_max", "dist0_sq", "f0_minus_fstar")


def _harness(site: Path | None, cache: Path, store: Path, *args: str) -> subprocess.CompletedProcess:
    """The CLI with ``site`` (an installed copy of the tree) first on the path, else this tree."""
    env = {**os.environ, "HARNESS_CACHE": str(cache), "HARNESS_STORE": str(store)}
    if site is not None:
        env["PYTHONPATH"] = str(site)
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=240,
                          env=env, cwd=site or ROOT)


def _constants(site: Path | None, cache: Path, store: Path) -> dict:
    proc = _harness(site, cache, store, *RUN)
    assert proc.returncode == 0, proc.stderr
    from harness.run.store import Store

    (rec,) = Store(store, readonly=True).runs()
    return {k: rec.constants[k] for k in CONSTANTS}


def _install_edited_copy(tmp: Path) -> Path:
    """A copy of the tree whose generator scales the dense features by 0.3, installed (``pip
    --target``: the layout maps suites/ to harness.suites only in an install)."""
    src = tmp / "src"
    for part in ("harness", "plugins", "suites", "theory"):
        shutil.copytree(ROOT / part, src / part, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    gen = src / "suites" / "synthetic.py"
    text = gen.read_text()
    assert text.count("    Z *= s\n") == 1
    gen.write_text(text.replace("    Z *= s\n", "    Z *= 0.3 * s\n"))
    site = tmp / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                           "--target", str(site), str(src)], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        pytest.skip(f"pip cannot install the tree here: {proc.stderr[-500:]}")
    return site


@pytest.mark.slow
def test_an_edited_generator_gets_constants_of_its_own_data(tmp_path):
    cache = tmp_path / "cache"
    original = _constants(None, cache, tmp_path / "a.db")
    site = _install_edited_copy(tmp_path)
    edited = _constants(site, cache, tmp_path / "b.db")                    # the shared cache holds the old data's
    fresh = _constants(site, tmp_path / "fresh-cache", tmp_path / "c.db")  # nothing cached
    assert edited == pytest.approx(fresh, rel=1e-9)
    assert edited["L"] < 0.5 * original["L"]  # the data really changed (X scaled by 0.3: L by ~0.09)


def test_a_cache_file_of_another_format_is_recomputed_and_named(tmp_path, monkeypatch, capsys):
    from harness._core import cache

    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    calls = []
    value = cache.cached_value("w-gram", {"k": 1}, lambda: calls.append(1) or [2.0, 1.0])
    (path,) = tmp_path.glob("w-gram-*.json")
    path.write_text(json.dumps({"f_star": 1.0}))  # valid JSON, another shape (an older layout)
    again = cache.cached_value("w-gram", {"k": 1}, lambda: calls.append(1) or [2.0, 1.0])
    assert value == again == [2.0, 1.0] and len(calls) == 2
    err = capsys.readouterr().err
    assert err == (f"harness: warning: cache file {path} is not a value this harness wrote (format "
                   f"{cache.CACHE_FORMAT}) for this key: recomputed and replaced\n")
    assert cache.cached_value("w-gram", {"k": 1}, lambda: calls.append(1)) == [2.0, 1.0] and len(calls) == 2




def test_a_read_only_cache_computes_and_says_so_once(tmp_path, cli):
    """HARNESS_CACHE on a read-only mount: the runs are measured (the constants computed each time)
    and one warning names the variable; every run was stored `error` before."""
    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m,mode=0700", "tmpfs", str(ro)], capture_output=True,
                             text=True, timeout=30)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs: {mounted.stderr.strip()}")
    try:
        env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}  # numba's cache there too
        env.update(HARNESS_CACHE=str(ro), HARNESS_STORE=str(tmp_path / "r.db"))
        proc = subprocess.run([sys.executable, "-m", "harness.cli", *RUN[:-4], "--seeds", "2", "--no-report",
                               "--json", "-q"], capture_output=True, text=True, timeout=240, env=env, cwd=ROOT)
    finally:
        subprocess.run(["umount", "-l", str(ro)], capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert [r["status"] for r in json.loads(proc.stdout)["runs"]] == ["budget", "budget"]
    assert [line for line in proc.stderr.splitlines() if "cache" in line] == [
        f"harness: warning: cannot write the constants cache (HARNESS_CACHE={ro}: Read-only file system): "
        "computing without it"]


def test_a_cache_variable_naming_a_file_is_refused_before_any_work(tmp_path, cli):
    f = tmp_path / "cachefile"
    f.write_text("")
    proc = cli(*RUN, env={"HARNESS_CACHE": str(f)}, timeout=60)
    assert proc.returncode == 2 and proc.stderr.splitlines() == [
        f"harness: error: HARNESS_CACHE={f} is a file, expected a folder for the harness cache"]
    assert not (tmp_path / "results.db").exists()  # nothing was run or stored
