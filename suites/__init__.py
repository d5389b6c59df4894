"""Standard workloads (data + known constants) and suite files (TOML)."""

from pathlib import Path

SUITES_DIR = Path(__file__).resolve().parent


def suite_path(name: str) -> Path:
    """A suite shipped with the package, by name ('default', 'tour', ...) or file name."""
    p = SUITES_DIR / (name if name.endswith(".toml") else f"{name}.toml")
    return p


def shipped_suites() -> list[str]:
    """The names of the suites shipped with the package (``harness run NAME`` runs one), sorted."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.toml"))


def baseline_path(name: str) -> Path:
    """A gate baseline: ``name`` itself where that file exists, else the one shipped for the suite
    ``name`` (``harness gate gate --baseline gate`` reads ``gate-baseline.json`` beside the suites)."""
    given = Path(name)
    if given.exists() or given.suffix == ".json":
        return given
    shipped = SUITES_DIR / f"{name}-baseline.json"
    return shipped if shipped.is_file() else given
