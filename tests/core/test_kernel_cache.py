"""Numba's kernel cache is keyed by the built-in plugins' sources (harness._core.cache): numba checks
a cached kernel against its own file only, so a threads kernel that inlines ``dphi`` from
``plugins/algorithms/kernels.py`` was loaded stale, computing with the old ``dphi``, after only that
file changed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from harness._core import cache

ROOT = Path(__file__).resolve().parents[2]


def test_an_edit_of_an_inlined_module_gives_another_kernel_folder(tmp_path):
    tree = tmp_path / "plugins"
    shutil.copytree(ROOT / "plugins", tree, ignore=shutil.ignore_patterns("__pycache__"))
    before = cache.kernels_digest(tree)
    assert before == cache.kernels_digest(ROOT / "plugins") and len(before) == 12
    src = tree / "algorithms" / "kernels.py"
    text = src.read_text()
    assert "    if code == 2:\n        return -y\n" in text
    src.write_text(text.replace("    if code == 2:\n        return -y\n", "    if code == 2:\n        return -2.0 * y\n"))
    assert cache.kernels_digest(tree) != before
    (tree / "threads" / "notes.txt").write_text("not a source")   # only .py files count
    src.write_text(text)
    assert cache.kernels_digest(tree) == before


def test_every_process_of_a_run_agrees_on_the_folder_and_old_folders_go(tmp_path, monkeypatch):
    """configure_numba: the user's folder becomes the base of ``kernels-<digest>``; a process started
    with that folder in its environment (a rank, a worker) keeps it rather than nesting another; a
    folder of another digest unused for KEEP_DAYS days is removed, a recent one kept."""
    base = tmp_path / "numba"
    stale, recent = base / "kernels-000000000000", base / "kernels-111111111111"
    for p in (stale, recent):
        p.mkdir(parents=True)
        (p / "x.nbi").write_bytes(b"index")
    past = time.time() - (cache.KEEP_DAYS + 1) * 86400
    os.utime(stale, (past, past))
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(base))
    cache.configure_numba()
    mine = Path(os.environ["NUMBA_CACHE_DIR"])
    assert mine == base / f"kernels-{cache.kernels_digest()}" and mine.is_dir()
    assert not stale.exists() and recent.is_dir()
    child = subprocess.run([sys.executable, "-c", "import harness, os; print(os.environ['NUMBA_CACHE_DIR'])"],
                           capture_output=True, text=True, timeout=120, env={**os.environ})
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == str(mine)
