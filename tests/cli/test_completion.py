"""Shell completion: the script `harness completion bash` writes, sourced in a real bash, completes
sub-commands and the catalogs' names (plugins, suites, theorems) as a user's TAB would."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import run_cli


def complete(script: str, line: str) -> list[str]:
    """What bash offers for ``line`` (the cursor at its end), through the script's own function."""
    words = line.split(" ")
    prog = (f"source {script}; COMP_WORDS=({' '.join(repr(w) if w else repr('') for w in words)}); "
            f"COMP_CWORD={len(words) - 1}; COMP_LINE={line!r}; COMP_POINT=${{#COMP_LINE}}; _shtab_harness; "
            'printf "%s\\n" "${COMPREPLY[@]}"')
    proc = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return [w for w in proc.stdout.splitlines() if w]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
def test_bash_completes_commands_plugins_suites_and_theorems(tmp_path):
    script = tmp_path / "harness.bash"
    script.write_text(run_cli("completion", "bash", check=True).stdout)
    assert complete(str(script), "harness the") == ["theory"]
    assert complete(str(script), "harness run -p sgd-se") == ["sgd-serial"]
    assert "asysvrg-threads" in complete(str(script), "harness compare asysvrg-t")
    assert {"asysvrg", "asysvrg_paper"} <= set(complete(str(script), "harness run asy"))
    assert complete(str(script), "harness theory show asysvrg.thm-2.4.")[:2] == ["asysvrg.thm-2.4.1", "asysvrg.thm-2.4.2"]
    assert "--budget" in complete(str(script), "harness run --bud")


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh not installed (Debian package 'zsh'): its script is "
                                                        "checked for syntax only where zsh exists")
def test_zsh_script_parses_and_names_the_catalogs(tmp_path):
    script = tmp_path / "_harness"
    script.write_text(run_cli("completion", "zsh", check=True).stdout)
    proc = subprocess.run(["zsh", "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    text = script.read_text()
    assert "sgd-serial" in text and "asysvrg.thm-2.4.1" in text and "tour" in text


def test_an_unknown_shell_is_one_line():
    proc = run_cli("completion", "fish")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "invalid choice" in proc.stderr
