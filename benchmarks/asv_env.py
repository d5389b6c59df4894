"""asv's install step for the harness (``install_command`` in asv.conf.json), run by asv with the
Python of the environment it built for a commit:

    python benchmarks/asv_env.py WHEEL

installs that commit's wheel (built by asv's ``build_command``) into the environment, so each
commit's benchmarks measure that commit's code. Its dependencies come from the package registry
(pip), unless ``HARNESS_ASV_REUSE`` names a Python environment (a venv folder, e.g.
``HARNESS_ASV_REUSE=$VIRTUAL_ENV``, or a path relative to the folder of asv.conf.json): then only
the wheel is installed, and a ``.pth`` file puts that environment's site-packages (numpy, numba,
torch, mpi4py...) on ``sys.path`` after the environment's own, so nothing big is downloaded and
the same libraries serve every commit. Not an asv benchmark (asv imports ``benchmarks/asv_suite``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

PTH = "harness-asv-reuse.pth"


def reused_site_packages(env: str) -> list[str]:
    """The purelib / platlib folders of the Python environment at ``env`` (asked of its interpreter)."""
    root = Path(env).expanduser()
    if not root.is_absolute():
        root = Path(os.environ.get("ASV_CONF_DIR", ".")) / root
    python = root / "bin" / "python"
    if not python.exists():
        sys.exit(f"harness: error: HARNESS_ASV_REUSE={env}: no Python environment there ({python} not found)")
    code = "import sysconfig; p = sysconfig.get_paths(); print(p['purelib']); print(p['platlib'])"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True, timeout=120).stdout
    return list(dict.fromkeys(out.split()))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.exit("usage: python benchmarks/asv_env.py WHEEL")
    wheel = argv[0]
    pip = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check"]
    pth = Path(sysconfig.get_paths()["purelib"]) / PTH
    reuse = os.environ.get("HARNESS_ASV_REUSE", "").strip()
    if reuse:
        pth.write_text("".join(f"{p}\n" for p in reused_site_packages(reuse)))
    else:
        pth.unlink(missing_ok=True)
    subprocess.run(pip + ["--force-reinstall", "--no-deps", wheel], check=True)  # this commit's code, always
    if not reuse:
        subprocess.run(pip + [wheel], check=True)  # its dependencies from the registry (present ones kept)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
