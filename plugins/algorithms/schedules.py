"""Step sizes and mini-batch sizes of Nguyen et al. 2021 (Hogwild! with growing mini-batches), shared by the MPI
aggregator and its ``sim`` twin: the round sizes s_i (D.2.2), their split s_{i,c} over the nodes
(Table 1's footnote) and the step size eta_t of Table 1, evaluated at the round's first update."""

from __future__ import annotations

import math

from harness.api import UserError


def eta_t(schedule: str, eta0: float, beta: float, t: float) -> float:
    """Nguyen et al. 2021, Table 1: eta0/(1+beta t) ('inv', strongly convex), eta0/(1+beta sqrt t) ('inv_sqrt', plain /
    non-convex) or eta0 ('constant'); ``t`` counts updates (samples) from the start. Raises UserError
    for another schedule."""
    if schedule == "constant":
        return eta0
    if schedule == "inv":
        return eta0 / (1.0 + beta * t)
    if schedule == "inv_sqrt":
        return eta0 / (1.0 + beta * math.sqrt(t))
    raise UserError(f"unknown step-size schedule {schedule!r}")


def round_size(sizes: str, a: float, c: float, b: float, i: int) -> int:
    """Total samples s_i of round i (Nguyen et al. 2021, D.2.2): 'power' a*i^c + b ("O(i)" for c=1), 'ilogi'
    a*i/ln(i) + b ("O(i/ln i)", i >= 2), 'constant' a; at least 1."""
    if sizes == "power":
        s = a * (i ** c) + b
    elif sizes == "ilogi":
        s = (a * i / math.log(i) if i >= 2 else a) + b
    elif sizes == "constant":
        s = a
    else:
        raise UserError(f"unknown mini-batch size sequence {sizes!r}")
    return max(1, int(math.ceil(s)))


def node_shares(total: int, workers: int) -> list[int]:
    """s_{i,c}: the round's samples split evenly over the nodes (Nguyen et al. 2021, Table 1 footnote), each >= 1."""
    base, extra = divmod(total, workers)
    return [max(1, base + (1 if c < extra else 0)) for c in range(workers)]


ROUNDS_KEPT = 64  # rounds whose sizes and step sizes a run reports


def applied_facts(params, lag: int, etas: list[float]) -> dict:
    """A growing-batch run's ``info['applied']``: the round step sizes eta_bar_i its update loop
    applied (rounds 0..ROUNDS_KEPT-1, in order), eta0 = eta_bar_0 (T_0 = 0, so eta_t(0) = eta0 under
    every schedule; the checker compares it with the stored eta0), the schedule and the lag d."""
    return {"eta0": etas[0] if etas else params["eta0"], "schedule": params["schedule"], "lag": lag,
            "round_eta": list(etas)}


class Schedule:
    """s_i, s_{i,c} and eta_bar_i of a run (Nguyen et al. 2021, Algorithm 2 + Lemma 2's round step sizes).

    ``params``: the plugin's resolved parameters (``sizes``, ``a``, ``c``, ``b``, ``schedule``,
    ``eta0``, ``beta``); ``nodes``: the compute nodes. Rounds are computed lazily and kept."""

    def __init__(self, params, nodes: int):
        self.p, self.nodes = params, nodes
        self.sizes: list[int] = []
        self.starts: list[int] = [0]                     # T_i = sum_{j<i} s_j

    def _extend(self, i: int) -> None:
        p = self.p
        while len(self.sizes) <= i:
            s = round_size(p["sizes"], p["a"], p["c"], p["b"], len(self.sizes))
            self.sizes.append(max(s, self.nodes))       # every node does at least one step
            self.starts.append(self.starts[-1] + self.sizes[-1])

    def share(self, i: int, node: int) -> int:
        """s_{i,c}: samples node ``node`` (0-based) processes in round ``i``."""
        self._extend(i)
        return node_shares(self.sizes[i], self.nodes)[node]

    def eta(self, i: int) -> float:
        """eta_bar_i: the step size of round ``i`` (eta_t at the round's first update T_i)."""
        self._extend(i)
        return eta_t(self.p["schedule"], self.p["eta0"], self.p["beta"], self.starts[i])
