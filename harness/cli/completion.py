"""``harness completion bash|zsh``: a shell completion script (shtab), names included.

    harness completion bash > ~/.local/share/bash-completion/completions/harness
    harness completion zsh  > "${fpath[1]}/_harness"

Sub-commands, options and choices come from the parser itself; plugin, workload, suite and theorem
names are the ones installed when the script is written (run it again after installing a plugin
package). Suite arguments complete shipped suite names and files alike.
"""

from __future__ import annotations

import argparse

# argument dest -> the catalog its values come from (per sub-command where the same dest differs)
NAMED = {"plugin": "plugins", "workload": "workloads", "a": "plugins", "b": "plugins", "suite": "suites",
         "id": "theorems", "theorem": "theorems"}
BY_COMMAND = {("check-plugin", "names"): "plugins"}


def register(sub):
    p = sub.add_parser("completion", help="print a bash or zsh completion script (plugin, workload, suite and "
                                          "theorem names included)")
    p.add_argument("shell", choices=("bash", "zsh"))
    p.set_defaults(func=main)


def catalog_names() -> dict[str, list[str]]:
    """The names a completion offers: installed plugins and workloads, shipped suites, theorem ids
    (an empty list where a catalog cannot be read: completion never fails for that)."""
    from harness._core.registry import plugins, workloads
    from harness.suites import shipped_suites

    names = {"plugins": plugins().names(), "workloads": workloads().names(), "suites": shipped_suites()}
    try:
        from harness.theory.registry import all_theorems

        names["theorems"] = [t.id for t in all_theorems()]
    except Exception:  # noqa: BLE001 - a broken theory module must not break the shell's completion
        names["theorems"] = []
    return names


def script(shell: str) -> str:
    """The completion script for ``shell`` ('bash' or 'zsh')."""
    import shtab

    from .app import build_parser

    names = catalog_names()
    parser = build_parser()
    preamble = {"bash": "", "zsh": ""}
    for kind, values in names.items():
        words = " ".join(values)
        extra = " ; compgen -f -- \"$1\"" if kind == "suites" else ""
        preamble["bash"] += f'_harness_{kind}() {{ compgen -W "{words}" -- "$1"{extra}; }}\n'
    for command, action in _actions(parser):
        kind = BY_COMMAND.get((command, action.dest)) or NAMED.get(action.dest)
        if kind:
            zsh = f"({' '.join(names[kind])})"
            action.complete = {"bash": f"_harness_{kind}", "zsh": zsh + (" _files" if kind == "suites" else "")}
    return shtab.complete(parser, shell=shell, preamble=preamble)


def _actions(parser: argparse.ArgumentParser, command: str = ""):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _actions(sub, f"{command} {name}".strip())
        else:
            yield command, action


def main(args) -> int:
    print(script(args.shell), end="")
    return 0
