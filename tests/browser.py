"""Headless Chromium for the tests that look at a page as a person would: load a page (from disk or
loopback) with the network off, read the DOM its scripts built, and list the requests it made."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian package "
                                                             "'chromium'; .ci/run installs it where apt-get works)")
QUIET = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-default-apps"]


def _offline_prefix() -> list[str]:
    """``unshare -n`` (a network namespace with only a downed loopback: nothing can leave) where this
    user may create one, else nothing (the net log below still sees every request)."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True, timeout=10).returncode == 0:
        return [unshare, "-n"]
    return []


def load(page: Path | str, tmp: Path, offline: bool = True) -> tuple[str, list[str]]:
    """The page's DOM after its scripts ran, and every http(s)/ws request the page made (Chromium's
    own background requests, whose initiator is 'not an origin', are not the page's)."""
    url = page if isinstance(page, str) else page.as_uri()
    netlog = tmp / f"net-{abs(hash(url))}.json"
    proc = subprocess.run([*(_offline_prefix() if offline else []), CHROMIUM, *QUIET, "--virtual-time-budget=8000",
                           f"--user-data-dir={tmp / 'profile'}", f"--log-net-log={netlog}", "--dump-dom",
                           url], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    log = json.loads(netlog.read_text())
    types = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    requests = [e["params"]["url"] for e in log["events"]
                if types.get(e["type"]) == "URL_REQUEST_START_JOB" and "url" in e.get("params", {})
                and e["params"].get("initiator") != "not an origin"
                and re.match(r"(https?|wss?|ftp)://", e["params"]["url"])]
    return proc.stdout, requests
