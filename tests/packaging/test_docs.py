"""The documentation site builds with Sphinx with no warning (warnings are errors), its CLI reference
holds every sub-command, its API reference the author API, and a broken local link fails the build."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("sphinx", "myst_parser", "sphinxarg")),
    reason="the docs extra is not installed (pip install 'asyncopt-harness[docs]')")]


def build(src: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(src), str(out)],
                          capture_output=True, text=True, timeout=600)


def test_the_site_builds_without_a_warning_with_the_cli_and_api_references(tmp_path):
    proc = build(ROOT / "docs", tmp_path / "html")
    assert proc.returncode == 0, proc.stderr[-3000:]
    from harness.cli.app import COMMANDS

    cli = (tmp_path / "html" / "cli.html").read_text()
    for command in COMMANDS:
        assert f">{command}<" in cli or f"harness {command}" in cli, command
    api = (tmp_path / "html" / "api.html").read_text()
    assert "PluginSpec" in api and "RunContext" in api and "Param" in api
    pages = {p.name for p in (tmp_path / "html").glob("*.html")}
    assert {"index.html", "install.html", "plugins.html", "workflows.html", "cli.html", "api.html"} <= pages
    assert "http://" not in (tmp_path / "html" / "index.html").read_text().split("<body")[0]  # no remote assets


def test_a_broken_local_link_fails_the_build(tmp_path):
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs, ignore=shutil.ignore_patterns("_build"))
    with (docs / "install.md").open("a") as f:
        f.write("\nSee [the guide](no-such-page.md).\n")
    proc = build(docs, tmp_path / "html")
    assert proc.returncode != 0 and "no-such-page.md" in proc.stderr
