"""What several ``harness`` sub-commands share: run ids as typed, the report sections they add."""

from pathlib import Path

from harness._core.errors import UserError


def run_ids(values) -> list[int]:
    """Run ids as typed (``12`` or ``#12``); anything else is a one-line user error."""
    try:
        return [int(v.lstrip("#")) for v in values]
    except ValueError:
        hint = next((f" (a suite's runs: --suite {Path(v).stem})" for v in values if str(v).endswith(".toml")), "")
        raise UserError(f"run ids are integers, got {' '.join(values)}{hint}") from None


def report_sections() -> list:
    """The report sections the commands add to ``write_report`` (the performance profile)."""
    from harness.analysis.profiles import profile_section

    return [profile_section]
