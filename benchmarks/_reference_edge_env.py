"""Plain single-copy edge-scheduling env: the peer that ``edge_throughput.py`` measures against.

This is the environment written the way the publication's design and a typical hand-rolled Gym
env are written: one copy, Python floats and lists, the randomness of each step drawn when the
step happens (stdlib :class:`random.Random`), and ``math`` functions for the channel and key
formulas. It implements the same dynamics as :class:`qnetrl.envs.edge.core.EdgeCore` (same
step order, the same :func:`~qnetrl.envs.edge.core.task_cost` formula, the same key buffer and
load decay) but shares no code with it beyond reading :class:`EdgeEnvConfig`, so the benchmark
can also check that both give the same trajectory. For that check, :meth:`ReferenceEdgeEnv.reset`
accepts pre-drawn randomness (:class:`ReplayDraws`) in place of its own draws. It is benchmark
code, not part of the library, and never imported by it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qnetrl.envs.edge import EdgeEnvConfig

__all__ = ["ReferenceEdgeEnv", "ReplayDraws"]


@dataclass
class ReplayDraws:
    """Pre-drawn exogenous randomness of one episode (for the equivalence check).

    Attributes
    ----------
    task_loads : list of float, length T
        Task load of every step (in load units), already clipped.
    gains : list of list of float, shape (T + 1, N)
        Fading power gain of every link in every slot (slot 0 is the warm-up slot).
    decay : list of list of float, shape (T, N)
        Load-decay fraction of every node at the end of every step.
    """

    task_loads: list[float]
    gains: list[list[float]]
    decay: list[list[float]]


class ReferenceEdgeEnv:
    """One copy of the edge-scheduling env in plain Python (Gym-style ``reset`` / ``step``).

    Parameters
    ----------
    config : EdgeEnvConfig
        Environment parameters (every field is honoured).
    seed : int or None
        Seed of the environment's own :class:`random.Random` stream.
    """

    def __init__(self, config: EdgeEnvConfig, seed: int | None = None) -> None:
        c = config
        self.n = c.n_nodes
        self.horizon = c.horizon
        self.capacity = [float(x) for x in c.capacity_array()]
        self.snr_linear = [10.0 ** (float(s) / 10.0) for s in c.mean_snr_db_array()]
        self.fading = c.fading
        self.k_factor = c.k_factor
        self.coherence = c.coherence_steps
        self.decay_low = c.load_decay - c.load_decay_jitter
        self.decay_high = c.load_decay + c.load_decay_jitter
        self.c = c
        self.random = random.Random(seed)
        self._replay: ReplayDraws | None = None
        self.loads: list[float] = []
        self.balance: list[float] = []
        self.ber: list[float] = []
        self.gains: list[float] = []
        self.t = 0
        self.task = 0.0
        self.demand = 0.0

    # ------------------------------------------------------------------ randomness

    def _draw_task(self) -> float:
        if self._replay is not None:
            return self._replay.task_loads[self.t]
        c, r = self.c, self.random
        if r.random() < c.spike_prob:
            x = r.uniform(c.spike_low, c.spike_high)
        else:
            x = r.gauss(c.task_load_mean, c.task_load_std)
        return min(max(x, 0.0), c.task_load_max)

    def _draw_gains(self, slot: int) -> list[float]:
        if self._replay is not None:
            return self._replay.gains[slot]
        if slot % self.coherence != 0:
            return self.gains  # block fading: hold the gain for coherence_steps slots
        r = self.random
        if self.fading == "none":
            return [1.0] * self.n
        if self.fading == "rayleigh":
            return [r.expovariate(1.0) for _ in range(self.n)]
        scatter = 1.0 / (1.0 + self.k_factor)
        los, sd = math.sqrt(1.0 - scatter), math.sqrt(scatter / 2.0)
        out = []
        for _ in range(self.n):
            re, im = los + sd * r.gauss(0.0, 1.0), sd * r.gauss(0.0, 1.0)
            out.append(re * re + im * im)
        return out

    def _draw_decay(self) -> list[float]:
        if self._replay is not None:
            return self._replay.decay[self.t]
        r = self.random
        return [r.uniform(self.decay_low, self.decay_high) for _ in range(self.n)]

    # ------------------------------------------------------------------ physics, per link

    def _link(self, gain: float, snr_linear: float) -> tuple[float, float]:
        """QBER (BPSK over AWGN at the faded SNR) and secure key rate (in bit/s) of one link."""
        c = self.c
        e = 0.5 * math.erfc(math.sqrt(snr_linear * gain))
        h = 0.0 if e <= 0.0 or e >= 1.0 else -e * math.log2(e) - (1.0 - e) * math.log2(1.0 - e)
        if c.key_model == "publication":
            rate = c.raw_key_rate_bps * c.pa_factor * max(0.0, 1.0 - c.f_ec * h)
        else:
            rate = c.raw_key_rate_bps * max(0.0, 1.0 - (c.f_ec + 1.0) * h)
        return e, rate

    def _cost(
        self, load: float, cap: float, balance: float, ber: float, rate: float
    ) -> tuple[float, float, float, float, bool, float]:
        """Latency, key wait, retransmission latency, load ratio, overload, reward of a task."""
        c = self.c
        ratio = (load + self.task) / cap
        shortfall = max(self.demand - balance, 0.0)
        wait = 0.0
        if shortfall > 0.0:
            wait = (
                min(1e3 * shortfall / rate, c.key_wait_cap_ms) if rate > 0.0 else c.key_wait_cap_ms
            )
        # Packet error rate and expected transmissions of truncated ARQ, (1 - p^A) / (1 - p),
        # in expm1/log1p form: the plain form loses ~1e-8 ms to cancellation when p -> 1.
        per = -math.expm1(c.payload_bits * math.log1p(-min(ber, 0.5)))
        if per <= 0.0:
            tries = 1.0
        elif per < 1.0:
            tries = -math.expm1(c.max_transmissions * math.log(per)) / (1.0 - per)
        else:
            tries = float(c.max_transmissions)
        retx = (tries - 1.0) * c.retx_latency_ms
        load_ms = c.base_latency_ms + c.load_latency_ms * ratio**2
        overload = ratio > c.overload_threshold
        reward = -(load_ms + c.key_wait_weight * wait + retx) - c.overload_penalty * overload
        return load_ms + wait + retx, wait, retx, ratio, overload, reward

    # ------------------------------------------------------------------ Gym-style API

    def _obs(self) -> NDArray[np.float32]:
        c = self.c
        k = c.key_buffer_bits
        row = [x / cap for x, cap in zip(self.loads, self.capacity, strict=True)]
        row += [b / k for b in self.balance]
        row += self.ber
        row += [self.task / c.task_load_max, self.demand / k]
        return np.array(row, dtype=np.float32)

    def reset(
        self, seed: int | None = None, draws: ReplayDraws | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        """Start an episode; ``draws`` replaces the env's own randomness for this episode."""
        if seed is not None:
            self.random.seed(seed)
        self._replay = draws
        c = self.c
        self.t = 0
        self.loads = [0.0] * self.n
        self.gains = self._draw_gains(0)
        fill = c.initial_key_fill * c.key_buffer_bits
        self.balance, self.ber = [], []
        for g, s in zip(self.gains, self.snr_linear, strict=True):
            e, rate = self._link(g, s)
            self.ber.append(e)
            self.balance.append(min(fill + rate * c.slot_s, c.key_buffer_bits))
        self.task = self._draw_task()
        self.demand = c.key_bits_per_task + c.key_bits_per_load * self.task
        return self._obs(), {}

    def step(self, action: int) -> tuple[NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        """Dispatch the waiting task to node ``action`` and advance one slot."""
        c = self.c
        if not 0 <= action < self.n:
            raise ValueError(f"action must be in [0, {self.n - 1}], got {action}")
        self.gains = self._draw_gains(self.t + 1)
        links = [self._link(g, s) for g, s in zip(self.gains, self.snr_linear, strict=True)]
        e_a, rate_a = links[action]
        latency, wait, retx, ratio, overload, reward = self._cost(
            self.loads[action], self.capacity[action], self.balance[action], e_a, rate_a
        )
        decay = self._draw_decay()
        for i in range(self.n):
            b = self.balance[i] + links[i][1] * c.slot_s
            load = self.loads[i]
            if i == action:
                b -= self.demand
                load += self.task
            self.balance[i] = min(b, c.key_buffer_bits)
            self.loads[i] = load * (1.0 - decay[i])
        self.ber = [e for e, _ in links]
        info = {
            "latency_ms": latency,
            "key_wait_ms": wait,
            "retx_ms": retx,
            "load_ratio": ratio,
            "overload": overload,
            "task_load": self.task,
            "task_key_bits": self.demand,
        }
        self.t += 1
        truncated = self.t >= self.horizon
        if not truncated:  # after the last step the task fields repeat, as in EdgeCore
            self.task = self._draw_task()
            self.demand = c.key_bits_per_task + c.key_bits_per_load * self.task
        return self._obs(), reward, False, truncated, info
