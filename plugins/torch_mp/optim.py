"""The module optimizers of the model-parallel plugins, functional and out of place (a stored
graph keeps the weights it was built with): SGD (5.9) / Alg. 11 line 13 with a constant or
``gamma_0 / (1 + t/t0)`` step, and Adam per module (Algorithm 10)."""

from __future__ import annotations

import torch


# -- optimizers (functional, out of place: a stored graph keeps the weights it was built with) ---
def step_size(eta: float, schedule: str, t: int, t0: float = 1.0) -> float:
    """gamma_t: constant (Thm 5.4.1 / 6.4.1) or gamma_0 / (1 + t/t0) (Thm 5.4.2 / 6.4.2: t0 = 1)."""
    return eta if schedule == "constant" else eta / (1.0 + t / t0)


class SGD:
    def __init__(self, eta: float, schedule: str = "constant", t0: float = 1.0):
        self.eta, self.schedule, self.t0 = eta, schedule, t0

    def facts(self) -> dict:
        """What :meth:`step` applies (a run's ``info['applied']``)."""
        return {"opt": "sgd", "eta": self.eta, "schedule": self.schedule, "t0": self.t0}

    def step(self, w: list, g: list | None, t: int) -> list:
        if g is None:  # (5.8): the delayed gradient is 0 while t - K + k < 0
            return w
        lr = step_size(self.eta, self.schedule, t, self.t0)
        # (5.9) / Alg. 11 line 13: w^{t+1}_G(k) = w^t_G(k) - gamma_t g^t_G(k)
        return [(wi.detach() - lr * gi).requires_grad_(True) for wi, gi in zip(w, g)]


class Adam:
    """Algorithm 10 (Adam-DDG) per module: constant gamma, beta1 = 0.9, beta2 = 0.999, eps = 1e-8."""

    def __init__(self, eta: float, w: list, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.eta, self.b1, self.b2, self.eps = eta, beta1, beta2, eps
        self.m = [torch.zeros_like(wi) for wi in w]
        self.v = [torch.zeros_like(wi) for wi in w]

    def facts(self) -> dict:
        """What :meth:`step` applies (a run's ``info['applied']``)."""
        return {"opt": "adam", "eta": self.eta, "beta1": self.b1, "beta2": self.b2, "eps": self.eps}

    def step(self, w: list, g: list | None, t: int) -> list:
        if g is None:  # literal (5.8): g = 0 enters m and v; the bias-correction counter still runs
            g = [torch.zeros_like(wi) for wi in w]
        out = []
        for i, (wi, gi) in enumerate(zip(w, g)):
            self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * gi          # m^{t+1}
            self.v[i] = self.b2 * self.v[i] + (1 - self.b2) * gi * gi     # v^{t+1}
            mhat = self.m[i] / (1 - self.b1 ** (t + 1))
            vhat = self.v[i] / (1 - self.b2 ** (t + 1))
            out.append((wi.detach() - self.eta * mhat / (vhat.sqrt() + self.eps)).requires_grad_(True))
        return out
