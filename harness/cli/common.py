"""What several ``harness`` sub-commands share: run ids as typed, the report sections they add."""

from pathlib import Path

from harness._core.errors import UserError


def run_ids(values) -> list[int]:
    """Run ids as typed (``12`` or ``#12``); anything else is a one-line user error."""
    try:
        ids = [int(v.lstrip("#")) for v in values]
    except ValueError:
        hint = next((f" (a suite's runs: --suite {Path(v).stem})" for v in values if str(v).endswith(".toml")), "")
        raise UserError(f"run ids are integers, got {' '.join(values)}{hint}") from None
    bad = [i for i in ids if not 1 <= i <= MAX_ID]
    if bad:  # past SQLite's 64-bit integers the store's query raised OverflowError (a traceback)
        raise UserError(f"run id {bad[0]} is out of range: run ids are integers from 1 to {MAX_ID}")
    return ids


MAX_ID = 2**63 - 1  # SQLite's largest INTEGER


def report_sections() -> list:
    """The report sections the commands add to ``write_report`` (the performance profile)."""
    from harness.analysis.profiles import profile_section

    return [profile_section]


def add_schedule_args(p) -> None:
    """``--points N`` and ``--schedule K=V,...``: the curve's point schedule from the command line
    (``harness.run.suite.schedule_items``)."""
    p.add_argument("--points", type=int, default=None, metavar="N",
                   help="about N points per curve (the geometric ratio planned from the update or epoch budget; "
                        "fewer points: less evaluation)")
    p.add_argument("--schedule", default=None, metavar="K=V,...",
                   help="point schedule, e.g. ratio=2 or ratio=1.5,max_interval_s=none (keys: ratio, max_interval_s, "
                        "min_gap, eval_fraction, eval_grace_s, points, eval_plan); over a suite's [schedule]")
