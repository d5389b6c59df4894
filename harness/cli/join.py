"""``harness join RUN-DIR [--node-rank K]``: this node's part of a run started on another node.

A run across several torchrun agents (``--launcher torchrun --option torchrun_args="--nnodes=N
--rdzv-backend=c10d --rdzv-endpoint=HOST:PORT"``) prints, on the node that started it, the exact
line to type on each other node. That line starts this node's torchrun agent with the same
arguments, the run's spec and this install's harness; its ranks write their points and their
node's manifest into the run's folder (the same path on every node: a shared filesystem), and the
starting node stores the run once. Exit code: the agent's (0 when this node's ranks finished).
"""

from __future__ import annotations

import subprocess
import sys


def register(sub):
    p = sub.add_parser("join", help="start this node's part of a run across several nodes (the line the "
                                    "starting node printed)")
    p.add_argument("run_dir", metavar="RUN-DIR", help="the run's folder, as the starting node printed it")
    p.add_argument("--node-rank", type=int, default=None, metavar="K",
                   help="this node's number, where the rendezvous is not c10d (the printed line has it)")
    p.set_defaults(func=main)


def main(args) -> int:
    from harness._core.errors import UserError
    from harness._core.launch import join_job, kill_group
    from harness._core.lifeline import kill_marked

    if args.node_rank is not None and args.node_rank < 1:
        raise UserError(f"--node-rank {args.node_rank}: node 0 is the one that started the run; give 1 or more")
    argv, env, timeout_s = join_job(args.run_dir, () if args.node_rank is None else ("--node-rank", str(args.node_rank)))
    print(f"harness: joining the run in {args.run_dir}", file=sys.stderr, flush=True)
    proc = subprocess.Popen(argv, env=env, start_new_session=True)
    try:
        rc = proc.wait(timeout=timeout_s + 60)  # the run's own limit, then the starting node gives up
        return rc if rc >= 0 else 128 - rc  # killed by a signal: the shell's convention
    except subprocess.TimeoutExpired:
        print(f"harness: error: this node's part ran past the run's {timeout_s:g} s limit and was killed",
              file=sys.stderr)
        return 1
    finally:
        kill_group(proc)
        kill_marked(f"HARNESS_SPEC={env['HARNESS_SPEC']}".encode(), grace_s=1.0)  # ranks that left its group
