"""``harness``: the command line. Each sub-command lives in ``harness/commands/<name>.py`` and
defines ``register(subparsers)``. A user's mistake is one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .errors import UserError

COMMANDS = ("list", "run", "runs", "report", "compare", "gate", "theory")


class Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print usage + message and exit 2: keep it to one line
        raise UserError(f"{self.prog}: {message}")


def build_parser() -> Parser:
    parser = Parser(prog="harness", description="Benchmark asynchronous and distributed optimizers and check "
                                                "them against their papers' theorems.")
    parser.add_argument("--store", help="results database (default .harness/results.db or $HARNESS_STORE)")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"harness.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"harness.commands.{name}":
                continue  # a command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from . import signals

    signals.install()  # SIGTERM / SIGHUP: like Ctrl-C (points kept, jobs ended, exit 143 / 129)
    try:
        argv = _take_store(argv)
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            if not argv:
                args = parser.parse_args(["run"])  # `harness` alone runs the default suite, like `harness run`
            else:
                parser.print_help()
                return 2
        if args.store:
            os.environ["HARNESS_STORE"] = args.store
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"harness: interrupted by {signals.signal_name(exc)}", file=sys.stderr)
        return signals.exit_code(exc)
    except BrokenPipeError:  # `harness runs | head`
        return 0


def _take_store(argv: list[str]) -> list[str]:
    """``--store PATH`` is accepted anywhere on the line (before or after the sub-command)."""
    out, i = [], 0
    while i < len(argv):
        a = argv[i]
        if a == "--store":
            if i + 1 >= len(argv):
                raise UserError("--store needs a path")
            os.environ["HARNESS_STORE"] = argv[i + 1]
            i += 2
            continue
        if a.startswith("--store="):
            os.environ["HARNESS_STORE"] = a.split("=", 1)[1]
        else:
            out.append(a)
        i += 1
    return out


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
