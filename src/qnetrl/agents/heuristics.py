"""Heuristic and oracle baselines for the edge-scheduling environment, batched over copies.

Each policy has ``act(core) -> actions`` with ``core`` an
:class:`~qnetrl.envs.edge.core.EdgeCore` and ``actions`` an int array of shape (B,): random,
round-robin, least-loaded, greedy (the smallest expected immediate cost, from the core's own
:func:`~qnetrl.envs.edge.core.task_cost`) and a look-ahead oracle. The oracle reads the
future tasks and channel states with :meth:`EdgeCore.peek`, information no agent has, and is
reported only as a reference (an approximate upper bound). :func:`evaluate` runs one episode
of any policy in every copy and sums its statistics.
"""

from __future__ import annotations

import itertools
from typing import Any, Final, NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray

from qnetrl._validation import InvalidParameterError
from qnetrl.envs.edge.core import EdgeCore, EdgeEnvConfig, secure_key_rate_bps, task_cost

__all__ = [
    "EdgePolicy",
    "EpisodeStats",
    "GreedyPolicy",
    "LeastLoadedPolicy",
    "OraclePolicy",
    "RandomPolicy",
    "RoundRobinPolicy",
    "evaluate",
]

#: Largest number of rows (B x N**depth) the oracle simulates at once.
_ORACLE_MAX_ROWS: Final[int] = 4_000_000


def _check_int(name: str, value: Any, owner: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be an int in the range [{low}, inf). "
            f"Got {value!r} instead."
        )
    return int(value)


class EdgePolicy(Protocol):
    """Anything with ``act(core) -> ndarray of shape (B,)`` (node indices)."""

    def act(self, core: EdgeCore) -> NDArray[np.int64]:
        """Node for every copy's waiting task."""
        ...


class RandomPolicy:
    """Uniformly random node for every copy.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the random choices.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        if not isinstance(rng, np.random.Generator):
            raise InvalidParameterError(
                f"The 'rng' parameter of RandomPolicy must be an instance of "
                f"numpy.random.Generator. Got {rng!r} instead."
            )
        self.rng = rng

    def act(self, core: EdgeCore) -> NDArray[np.int64]:
        """Uniform node indices, shape (B,)."""
        return self.rng.integers(0, core.n_nodes, size=core.batch_size)


class RoundRobinPolicy:
    """Node ``(t + offset) mod N`` at step ``t`` (stateless; restarts with every episode).

    Parameters
    ----------
    offset : int
        Node of the first task (default 0).
    """

    def __init__(self, offset: int = 0) -> None:
        self.offset = _check_int("offset", offset, "RoundRobinPolicy", 0)

    def act(self, core: EdgeCore) -> NDArray[np.int64]:
        """Cyclic node indices, shape (B,)."""
        return (core.t + self.offset) % core.n_nodes


class LeastLoadedPolicy:
    """Node with the smallest load / capacity (lowest index on ties); ignores keys and links."""

    def act(self, core: EdgeCore) -> NDArray[np.int64]:
        """Least-loaded node indices, shape (B,)."""
        return np.argmin(core.loads / core.capacity, axis=1)


class GreedyPolicy:
    """Node with the largest expected immediate reward, from the agent's information.

    The reward of each candidate node comes from :func:`~qnetrl.envs.edge.core.task_cost`,
    the function the core charges with: projected load, overload penalty, key wait against
    the node's key balance and retransmissions. The current slot's QBER is unknown (as to the
    agent), so the cost is averaged over the link's fading distribution
    (:meth:`EdgeCore.channel_quadrature`, ``n_points`` weighted points) and, when the
    fading is held for ``c = coherence_steps > 1`` slots, mixed with the cost at the last
    measured QBER: weight ``(c - 1) / c`` on the latter, the chance that the next slot lies
    in the same coherence block when the block phase is unknown.

    Parameters
    ----------
    n_points : int
        Quadrature points of the fading distribution (default 32).
    """

    def __init__(self, n_points: int = 32) -> None:
        self.n_points = _check_int("n_points", n_points, "GreedyPolicy", 1)
        self._cache: tuple[EdgeEnvConfig, tuple[NDArray[np.float64], ...]] | None = None

    def expected_reward(self, core: EdgeCore) -> NDArray[np.float64]:
        """Expected immediate reward of sending the waiting task to each node, shape (B, N)."""
        if self._cache is None or self._cache[0] != core.config:
            self._cache = (core.config, core.channel_quadrature(self.n_points))
        qber_q, rate_q, weight = self._cache[1]
        s = core.state
        cfg = core.config
        fresh = (
            task_cost(
                cfg,
                s.loads[:, :, None],
                core.capacity[None, :, None],
                core.task_load[:, None, None],
                s.key_balance_bits[:, :, None],
                core.task_key_bits[:, None, None],
                qber_q[None],
                rate_q[None],
            ).reward
            @ weight
        )
        c = cfg.coherence_steps
        if c == 1:
            return fresh
        held = task_cost(
            cfg,
            s.loads,
            core.capacity,
            core.task_load[:, None],
            s.key_balance_bits,
            core.task_key_bits[:, None],
            s.ber,
            secure_key_rate_bps(cfg, s.ber),
        ).reward
        return ((c - 1) * held + fresh) / c

    def act(self, core: EdgeCore) -> NDArray[np.int64]:
        """Greedy node indices, shape (B,)."""
        return np.argmax(self.expected_reward(core), axis=1)


class OraclePolicy:
    """Exhaustive look-ahead over the next ``depth`` tasks with the true future (reference).

    Uses information the agent lacks: the next ``depth`` tasks and the QBER, key rate and
    load decay of the coming slots, the current slot included (:meth:`EdgeCore.peek`). For
    every copy it simulates all ``N**depth`` action sequences with
    :meth:`EdgeCore.transition` on copies of the state (batched: B x N**depth rows), adds
    their rewards and takes the first action of the best sequence (receding horizon; no value
    beyond the window, so it is an approximate, not exact, upper bound). Cost grows as
    ``B N**depth``; ``depth`` 2 or 3 suits N = 3.

    Parameters
    ----------
    depth : int
        Look-ahead depth k, >= 1 (default 2).
    """

    def __init__(self, depth: int = 2) -> None:
        self.depth = _check_int("depth", depth, "OraclePolicy", 1)
        self._seqs: dict[int, NDArray[np.int64]] = {}

    def _sequences(self, n: int) -> NDArray[np.int64]:
        if n not in self._seqs:
            seqs = itertools.product(range(n), repeat=self.depth)
            self._seqs[n] = np.array(list(seqs), dtype=np.int64).reshape(-1, self.depth)
        return self._seqs[n]

    def act(self, core: EdgeCore) -> NDArray[np.int64]:
        """First action of the best look-ahead sequence, shape (B,)."""
        n, bsz = core.n_nodes, core.batch_size
        if bsz * n**self.depth > _ORACLE_MAX_ROWS:
            raise InvalidParameterError(
                f"The 'depth' parameter of OraclePolicy must keep B * N**depth <= "
                f"{_ORACLE_MAX_ROWS}. Got depth={self.depth} with B={bsz}, N={n} instead."
            )
        seqs = self._sequences(n)
        n_seq = seqs.shape[0]
        look = core.peek(self.depth)
        s = core.state
        loads = np.repeat(s.loads, n_seq, axis=0)
        balance = np.repeat(s.key_balance_bits, n_seq, axis=0)
        total = np.zeros(bsz * n_seq)
        for j in range(self.depth):  # loop over look-ahead depth only, never over B or N
            actions = np.tile(seqs[:, j], bsz)

            def rows(x: NDArray[Any], j: int = j) -> NDArray[Any]:
                return np.repeat(x[:, j], n_seq, axis=0)

            loads, balance, cost = core.transition(
                loads,
                balance,
                rows(look.task_load),
                rows(look.task_key_bits),
                rows(look.qber),
                rows(look.key_rate_bps),
                rows(look.decay),
                actions,
            )
            total += np.where(rows(look.valid), cost.reward, 0.0)
        best = np.argmax(total.reshape(bsz, n_seq), axis=1)
        return seqs[best, 0]


class EpisodeStats(NamedTuple):
    """Per-copy totals of one episode, each an ndarray with leading axis B.

    Attributes
    ----------
    total_reward : ndarray of shape (B,)
        Sum of rewards.
    mean_latency_ms, mean_key_wait_ms, mean_retx_ms : ndarray of shape (B,)
        Per-task means (in ms).
    overload_rate : ndarray of shape (B,)
        Fraction of tasks that overloaded their node.
    key_generated_bits : ndarray of shape (B, N)
        Secure key produced by each link over the episode (in bits).
    """

    total_reward: NDArray[np.float64]
    mean_latency_ms: NDArray[np.float64]
    mean_key_wait_ms: NDArray[np.float64]
    mean_retx_ms: NDArray[np.float64]
    overload_rate: NDArray[np.float64]
    key_generated_bits: NDArray[np.float64]


def evaluate(core: EdgeCore, policy: EdgePolicy, rng: np.random.Generator) -> EpisodeStats:
    """Reset ``core`` with ``rng`` and run ``policy`` for one full episode in every copy.

    Parameters
    ----------
    core : EdgeCore
        The batched environment (its state is replaced).
    policy : EdgePolicy
        Object with ``act(core)``.
    rng : numpy.random.Generator
        Seeds the episode; the same generator state gives the same episodes to every policy.

    Returns
    -------
    EpisodeStats
        Totals and means per copy.
    """
    core.reset(rng)
    horizon = core.config.horizon
    bsz = core.batch_size
    total = np.zeros(bsz)
    sums = np.zeros((4, bsz))
    key = np.zeros((bsz, core.n_nodes))
    truncated = np.zeros(bsz, dtype=bool)
    while not truncated.all():
        _, reward, truncated, info = core.step(policy.act(core))
        total += reward
        sums += (info["latency_ms"], info["key_wait_ms"], info["retx_ms"], info["overload"])
        key += info["key_generated_bits"]
    means = sums / horizon
    return EpisodeStats(total, means[0], means[1], means[2], means[3], key)
