"""docs/install.md's table of extras (the README points to it as "the extras, one table") names
every extra pyproject.toml declares, so a user reading it learns of each (the `pep` extra behind
`harness theory tightness` was missing)."""

from __future__ import annotations

import re
import tomllib

from conftest import ROOT


def test_every_extra_is_in_the_install_table():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    table = set(re.findall(r"^\| `([a-z]+)` \|", (ROOT / "docs" / "install.md").read_text(), flags=re.M))
    assert set(extras) - {"test"} <= table, sorted(set(extras) - {"test"} - table)
