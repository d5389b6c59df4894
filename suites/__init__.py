"""Standard workloads (data + known constants) and suite files (TOML)."""

from pathlib import Path

SUITES_DIR = Path(__file__).resolve().parent


def suite_path(name: str) -> Path:
    """A suite shipped with the package, by name ('default', 'tour', ...) or file name."""
    p = SUITES_DIR / (name if name.endswith(".toml") else f"{name}.toml")
    return p
