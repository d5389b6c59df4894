"""The ``harness`` command line: the parser built from the sub-command modules, and ``main``.
A user's mistake is one line on stderr and exit code 2.

Where each kind of input is checked (once, before any work starts):

- CLI values: argparse types and :mod:`harness._core.params` (``Param.parse`` for plugin / workload
  parameters and backend options, ``parse_assignments`` for repeated ``K=V`` options, ``parse_pairs``
  for one comma-separated ``K=V,...`` value such as ``--budget`` / ``--schedule``, ``distinct`` for
  a grid axis, ``positive_float``); budgets in ``Budget.parse``; run ids in
  :func:`harness.cli.common.run_ids`; names, worker counts and ``b <= n`` in
  :func:`harness.run.runner.resolve`; options that mean nothing together by their command
  (``run.check_flags``, ``runs.check_args``); stored-run filters in ``runs.check_filters``;
- environment variables with a domain: :mod:`harness._core.environment` (at start-up, below);
- suite files: :func:`harness.run.suite.load_suite` (targets: ``target_of``, seeds: ``seeds_of``);
- data files: ``harness.suites.libsvm`` (LIBSVM), ``harness.suites.cifar`` (CIFAR-10 batches, read by a restricted unpickler); memory
  estimates: :func:`harness._core.workload.check_memory`;
- store paths: the :class:`harness.run.store.Store` constructor;
- output paths and names that become paths: :mod:`harness._core.paths`;
- theory symbols: the theory registry.

Safety nets below turn an OSError or an SQLite error that slipped past those checks into one line
(exit 2) instead of a traceback."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sqlite3
import sys
import warnings

from harness import __version__
from harness._core.errors import UserError

COMMANDS = ("list", "run", "join", "runs", "report", "compare", "gate", "theory", "check-plugin", "check-theorem",
            "completion")


class Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print usage + message and exit 2: keep it to one line
        # main() prefixes "harness: error: "; a sub-command's parser adds its own name once
        # ("harness: error: list: argument what: invalid choice ..."), never "harness list:" again
        command = self.prog.partition(" ")[2]
        raise UserError(f"{command}: {message}" if command else message)


def _environment_help() -> str:
    """The environment variables ``harness`` reads, each with what it sets (``harness --help``)."""
    import textwrap

    from harness._core.environment import described

    rows = [("HARNESS_STORE", "results database (as --store)"),
            ("HARNESS_CACHE", "cache folder: constants, generated data, compiled kernels (default ~/.cache/harness)"),
            ("HARNESS_MEMORY_LIMIT", "cap on what the harness and its ranks may hold, e.g. 8G"), *described()]
    lines = ["environment variables:"]
    for name, what in rows:
        lines.append(f"  {name}")
        lines += textwrap.wrap(what, 76, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines)


def build_parser() -> Parser:
    parser = Parser(prog="harness", description="Benchmark asynchronous and distributed optimizers and check "
                                                "them against their papers' theorems.",
                    epilog=_environment_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", help="results database (default .harness/results.db or $HARNESS_STORE)")
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    parser.add_argument("--strict", action="store_true",
                        help="a broken plugin or workload entry point is an error (exit 2), not a warning")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    for name in COMMANDS:
        importlib.import_module(f"harness.cli.{name.replace('-', '_')}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from harness._core import signals

    previous = signals.install()  # SIGTERM / SIGHUP: like Ctrl-C (points kept, jobs ended, exit 143 / 129)
    try:
        argv = _take_store(argv)
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:  # `harness` alone: what it can do (the main job is `harness run`)
            parser.print_help()
            return 0 if not argv else 2
        if args.store:
            os.environ["HARNESS_STORE"] = args.store
        from harness._core.cache import check_cache_root

        problem = check_cache_root()  # HARNESS_CACHE naming a file: said before any work
        if problem:
            raise UserError(problem)
        _check_environment()
        if args.strict:
            _no_broken_entries()
        from .._core.cache import check_private

        check_private()
        with library_warnings():
            return int(args.func(args) or 0)
    except UserError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a path the checks did not foresee (disk full, permissions changed meanwhile)
        if isinstance(exc, BrokenPipeError):  # `harness runs | head`
            return 0
        where = f": {exc.filename}" if exc.filename else ""
        print(f"harness: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as exc:
        from harness._core.paths import full_disk_note

        path = os.environ.get("HARNESS_STORE") or ".harness/results.db"
        print(f"harness: error: results store {path}: {exc}{full_disk_note(path)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"harness: interrupted by {signals.signal_name(exc)}", file=sys.stderr)
        return signals.exit_code(exc)
    finally:
        signals.restore(previous)


def _check_environment() -> None:
    """The environment variables with a domain, before any work (one line naming the variable)."""
    from harness._core import environment
    from harness._core.memory import memory_limit
    from harness.run.planting import planted_changes

    environment.check()
    planted_changes()
    try:
        limit = memory_limit()
    except ValueError as exc:
        raise UserError(f"HARNESS_MEMORY_LIMIT: {exc}") from None
    if limit is not None and limit <= 0:
        raise UserError(f"HARNESS_MEMORY_LIMIT={os.environ['HARNESS_MEMORY_LIMIT']}: expected a size > 0 (e.g. 8G)")


def _no_broken_entries() -> None:
    """``--strict``: the first broken entry point is the error."""
    from harness._core.registry import plugins, workloads

    for reg in (plugins(), workloads()):
        for name, why in sorted(reg.problems.items()):
            raise UserError(f"broken {reg.kind} entry point '{name}': {why}")


@contextlib.contextmanager
def library_warnings():
    """numpy's, matplotlib's and other libraries' warnings as our own one-line messages on stderr,
    each said once: ``harness: warning: overflow encountered in exp (numpy, RuntimeWarning)``."""
    seen: set[tuple[str, str]] = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = str(message).strip().splitlines()[0] if str(message).strip() else category.__name__
        origin = _library_of(filename) or f"{os.path.basename(filename or '?')}:{lineno}"
        if (text, origin) in seen:
            return
        seen.add((text, origin))
        print(f"harness: warning: {text} ({origin}, {category.__name__})", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def _library_of(filename: str) -> str | None:
    """'/.../site-packages/matplotlib/axes/_base.py' -> 'matplotlib'; a file outside site-packages -> None."""
    parts = os.path.normpath(filename or "").split(os.sep)
    if "site-packages" in parts and parts.index("site-packages") + 1 < len(parts):
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    return None


def _take_store(argv: list[str]) -> list[str]:
    """``--store PATH`` is accepted anywhere on the line (before or after the sub-command)."""
    out, i = [], 0
    while i < len(argv):
        a = argv[i]
        if a == "--store" or a.startswith("--store="):
            path = argv[i + 1] if a == "--store" and i + 1 < len(argv) else a.partition("=")[2]
            if not path.strip():
                raise UserError("--store needs a path (a database file)")
            from harness._core.paths import path_of

            os.environ["HARNESS_STORE"] = str(path_of(path, "--store"))
            i += 2 if a == "--store" else 1
            continue
        out.append(a)
        i += 1
    return out


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
