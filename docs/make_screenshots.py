"""Regenerate docs/screenshots/*.png from real reports: ``python docs/make_screenshots.py``.

Runs the tour (``harness run``) and the README's comparison (``harness compare``) into a scratch
store, then has headless Chromium (Debian's ``chromium``) load the tour's report, the compare page and
the index of reports from disk and take a screenshot of each, after the pages' scripts have drawn
their interactive plots. Takes a few minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHOTS = {"tour-report.png": ("reports/tour/index.html", (1280, 2000)),
         "compare.png": ("compare/index.html", (1280, 1500)),
         "index.png": ("reports/index.html", (1280, 1000))}


def harness(*args: str, env: dict) -> None:
    subprocess.run([sys.executable, "-m", "harness.cli", *args], env=env, check=True, timeout=1800)


def shoot(page: Path, out: Path, size: tuple[int, int], chromium: str) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
                        "--virtual-time-budget=8000", f"--screenshot={out}", page.as_uri()],
                       check=True, capture_output=True, timeout=120)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(HERE / "screenshots"), help="where the PNGs go (default docs/screenshots)")
    ap.add_argument("--work", default=None, help="scratch folder for the store and reports (default: a temp folder)")
    args = ap.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("make_screenshots: headless Chromium is needed (apt-get install chromium)", file=sys.stderr)
        return 2
    work = Path(args.work or tempfile.mkdtemp(prefix="harness-shots-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HARNESS_STORE": str(work / "results.db")}
    harness("run", "-q", env=env)                                   # the tour, its report and the index
    harness("compare", "sgd-serial", "svrg-serial", "-w", "logreg", "--param", "b=4", "--param", "eta=0.5",
            "--budget", "epochs=20", "--out", str(work / "compare"), "-q", env=env)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, (page, size) in SHOTS.items():
        shoot(work / page, out / name, size, chromium)
        print(f"{out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
