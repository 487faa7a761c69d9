"""PettingZoo ParallelEnv face of the DPEM entanglement core: one agent per network node.

:class:`EntanglementParallelEnv` is the B=1 view of
:class:`~qnetrl.envs.entanglement.core.EntanglementCore`; it holds no second implementation of
the dynamics. Agents are named ``"node_0"`` ... ``"node_{N-1}"``; every slot all of them act
at once. For batched training read the core's documented arrays instead.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, ClassVar

import networkx as nx
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from numpy.typing import NDArray
from pettingzoo import ParallelEnv

from qnetrl._validation import InvalidParameterError
from qnetrl.envs._faces import check_render_mode, resolve_config
from qnetrl.envs.entanglement.core import EntanglementCore, EntanglementEnvConfig

__all__ = ["EntanglementParallelEnv", "make_config", "parallel_env"]

#: Per-agent info keys copied from the core's step info (all per-node arrays).
_INFO_KEYS = (
    "claimed",
    "granted",
    "contended",
    "lost",
    "shortfall",
    "delivered",
    "e2e_fidelity",
    "required_fidelity",
    "failed_swap",
    "failed_purification",
    "failed_fidelity",
    "invalid_action",
    "expired",
    "arrived",
    "queue_dropped",
)


def make_config(
    config: EntanglementEnvConfig | Mapping[str, Any] | None, overrides: Mapping[str, Any]
) -> EntanglementEnvConfig:
    """Resolve the ``config`` argument of the env (keyword overrides win).

    ``config`` is an EntanglementEnvConfig, a dict of fields, or None for the defaults;
    ``overrides`` are field values that replace its own (e.g. ``n_nodes=20``). Returns the
    validated config; an unknown or out-of-range field raises
    :class:`qnetrl.config.ConfigError` naming it.
    """
    return resolve_config(
        EntanglementEnvConfig, config, overrides, owner="EntanglementParallelEnv", source="dpem"
    )


class EntanglementParallelEnv(ParallelEnv[str, NDArray[np.float32], np.int64]):
    """Distributed predictive entanglement management (DPEM): one PettingZoo agent per node.

    | Import             | `from qnetrl.envs.entanglement import EntanglementParallelEnv` |
    |--------------------|----------------------------------------------------------------|
    | Actions            | Discrete                                                       |
    | Parallel API       | Yes                                                            |
    | Manual Control     | No                                                             |
    | Agents             | `agents= ['node_0', 'node_1', ..., 'node_99']`                 |
    | Agents             | N (default 100)                                                |
    | Action Shape       | ()                                                             |
    | Action Values      | [0, K Q] (default [0, 6])                                      |
    | Observation Shape  | (7 + 2D + W + 5 + K(5 + Q),)                                   |
    | Observation Values | [0, 1]; arrival counts [0, R]                                  |
    | State Shape        | (2L + 5N + 1,)                                                 |
    | State Values       | [0, 1]                                                         |

    N nodes, L links, D the largest degree, W ``history_slots`` (16), K ``max_routes`` (3),
    Q quality levels (2 with ``purification``, else 1), R the request-batch capacity.

    ## Description

    Entanglement distribution on a quantum-repeater mesh after the DPEM study (a 100-node
    random mesh, pair generation U(0, 10) pairs/s and repeater capacity U(0, 5) swaps/s per
    node, requests with a timestamp, source, destination and required fidelity; per node a
    demand forecaster and a PPO agent; claimed +25 % delivery and -17 % contention against a
    centralised allocator). Every node is an agent; in each slot it may claim one of K
    candidate routes, at a quality level, for its oldest pending request. Claims are resolved
    in a seeded priority order, pairs are swapped along the route and the request is delivered
    when the end-to-end Werner fidelity meets its requirement before its deadline. The
    dynamics, and every modelling approximation, are those of
    :class:`qnetrl.envs.entanglement.core.EntanglementCore`.

    ## Action Space

    ``Discrete(1 + K Q)`` per agent: 0 = no claim; ``1 + k Q + q`` = claim candidate route
    ``k`` (0 is a shortest route) for the head request at quality ``q`` (0: one pair per hop;
    1: one BBPSSW purification round per hop, two pairs per hop). A claim on a missing route,
    or without a pending request, is a no-op; ``infos[agent]["action_mask"]`` (int8, length
    ``1 + K Q``) flags the claims that name an existing route. Agents missing from the
    action dict do not claim.

    ## Observation Space

    A float32 ``ndarray`` of shape ``(7 + 2D + W + 5 + K (5 + Q),)`` per agent; ``j`` runs over
    the neighbour slots ``0 .. D-1`` (neighbours in increasing id order, padded with zeros),
    ``w`` over the history, ``k`` over the routes, ``r = 7 + 2D + W + 5 + k (5 + Q)``:

    | Num            | Observation                                               | Min | Max |
    |----------------|-----------------------------------------------------------|-----|-----|
    | 0              | pair-generation rate / gen_rate_high_hz                   | 0   | 1   |
    | 1              | repeater capacity / repeater_rate_high_hz                 | 0   | 1   |
    | 2              | swaps left this slot / max swap budget                    | 0   | 1   |
    | 3              | degree / D                                                | 0   | 1   |
    | 4, 5           | position x, y scaled to the mesh's bounding box           | 0   | 1   |
    | 6              | t / horizon                                               | 0   | 1   |
    | 7 + j          | stored pairs on the link to neighbour j / memory_slots    | 0   | 1   |
    | 7 + D + j      | best stored fidelity on the link to neighbour j           | 0   | 1   |
    | 7 + 2D + w     | requests originated in slot t - W + 1 + w (count)         | 0   | R   |
    | 7 + 2D + W     | head request pending (0/1)                                | 0   | 1   |
    | 7 + 2D + W + 1 | required fidelity of the head request                     | 0   | 1   |
    | 7 + 2D + W + 2 | slack: (deadline - t) / deadline_slots                    | 0   | 1   |
    | 7 + 2D + W + 3 | hops of the shortest route / H                            | 0   | 1   |
    | 7 + 2D + W + 4 | pending requests / queue_capacity                         | 0   | 1   |
    | r              | route k exists (0/1)                                      | 0   | 1   |
    | r + 1          | hops of route k / H                                       | 0   | 1   |
    | r + 2          | fewest stored pairs on route k / memory_slots             | 0   | 1   |
    | r + 3          | fewest swaps left at an intermediate node / max budget    | 0   | 1   |
    | r + 4          | min(other heads' first routes on its busiest link, M) / M | 0   | 1   |
    | r + 5 + q      | end-to-end fidelity of route k at quality q, best pairs   | 0   | 1   |

    H is the longest candidate route. All request and route features are 0 when the node
    has no pending request. The arrival history (the forecaster's input) includes requests
    dropped because the queue was full.

    ## Rewards

    Per agent and slot: ``delivered - contention_penalty * contended`` for its own claim
    (1 if its request was delivered; ``contention_penalty``, default 0.5, if one of the links
    or repeaters it claimed was over-subscribed by the slot's claims although its own claim
    would have fitted). Summed over an episode, the first term is the agent's delivery count.

    ## Starting State

    Empty memories, then ``warmup_slots`` (default 5) slots of generation and decoherence
    without requests; the requests of slot 0 are queued.

    ## Episode End

    1. Termination: never (no action ends an episode; ``terminations`` are all False).
    2. Truncation: after ``horizon`` slots (default 200), for every agent at once; ``agents``
       is then empty.

    ## Arguments

    | Parameter     | Type                                | Default | Description                  |
    |---------------|-------------------------------------|---------|------------------------------|
    | `config`      | EntanglementEnvConfig, dict or None | `None`  | Parameters (defaults if None)|
    | `render_mode` | str or None                         | `None`  | ``"ansi"``: a text summary   |
    | `graph`       | networkx.Graph or None              | `None`  | Topology instead of the mesh |
    | `**overrides` | EntanglementEnvConfig fields        |         | e.g. ``n_nodes=20``          |

    ## Vectorized environment

    None as a PettingZoo object: batched training steps
    :class:`~qnetrl.envs.entanglement.core.EntanglementCore` directly (B copies at once,
    actions of shape (B, N), observations of shape (B, N, obs_dim)), of which this env is the
    B=1 view. ``state()`` is the core's :meth:`global_state` of copy 0.

    ## Version History

    * v0: initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["ansi"],
        "name": "dpem_v0",
        "render_fps": 1,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        config: EntanglementEnvConfig | Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        *,
        graph: nx.Graph | None = None,
        **overrides: Any,
    ) -> None:
        self.render_mode = check_render_mode(render_mode, "EntanglementParallelEnv")
        self.config = make_config(config, overrides)
        self.core = EntanglementCore(self.config, 1, graph=graph)
        self.possible_agents = [f"node_{i}" for i in range(self.core.n_nodes)]
        self.agents: list[str] = []
        self._index = {agent: i for i, agent in enumerate(self.possible_agents)}
        self.state_space = spaces.Box(0.0, 1.0, (self.core.state_dim,), dtype=np.float32)
        self.np_random: np.random.Generator | None = None
        self.np_random_seed: int | None = None
        self._last: dict[str, NDArray[Any]] | None = None

    # Cached per agent so the same Space object comes back every time, as PettingZoo requires;
    # the cache holds the env alive, which is fine for an env's lifetime.
    @functools.cache  # noqa: B019
    def observation_space(self, agent: str) -> spaces.Box:
        """Box of shape (obs_dim,), float32, bounds as in the class docstring."""
        self._check_agent(agent, "observation_space")
        return spaces.Box(self.core.obs_low, self.core.obs_high, dtype=np.float32)

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> spaces.Discrete:
        """``Discrete(1 + K Q)``."""
        self._check_agent(agent, "action_space")
        return spaces.Discrete(self.core.n_actions)

    def _check_agent(self, agent: str, owner: str) -> int:
        if agent not in self._index:
            raise InvalidParameterError(
                f"The 'agent' parameter of EntanglementParallelEnv.{owner} must be one of "
                f"'node_0' .. 'node_{self.core.n_nodes - 1}'. Got {agent!r} instead."
            )
        return self._index[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, NDArray[np.float32]], dict[str, dict[str, Any]]]:
        """Start an episode; ``seed`` reseeds the env's generator (``options`` is unused)."""
        if seed is not None or self.np_random is None:
            self.np_random, self.np_random_seed = seeding.np_random(seed)
        obs = self.core.reset(self.np_random)
        self.agents = list(self.possible_agents)
        self._last = None
        mask = self.core.action_mask()[0].astype(np.int8)
        observations = {a: obs[0, i] for i, a in enumerate(self.agents)}
        infos = {a: {"action_mask": mask[i]} for i, a in enumerate(self.agents)}
        return observations, infos

    def step(
        self, actions: Mapping[str, int | np.integer[Any]]
    ) -> tuple[
        dict[str, NDArray[np.float32]],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        """Apply every agent's action (missing agents do not claim) and advance one slot."""
        if not self.agents:
            raise RuntimeError("The episode is over (or reset() was never called); call reset().")
        joint = np.zeros((1, self.core.n_nodes), dtype=np.int64)
        for agent, action in actions.items():
            i = self._check_agent(agent, "step")
            if not self.action_space(agent).contains(action):
                raise InvalidParameterError(
                    f"The action of {agent!r} in EntanglementParallelEnv.step must be an int in "
                    f"the range [0, {self.core.n_actions - 1}]. Got {action!r} instead."
                )
            joint[0, i] = int(action)
        obs, reward, truncated, info = self.core.step(joint)
        self._last = info
        done = bool(truncated[0])
        mask = self.core.action_mask()[0].astype(np.int8)
        agents = self.agents
        rows = {key: info[key][0].tolist() for key in _INFO_KEYS}
        observations = {a: obs[0, i] for i, a in enumerate(agents)}
        rewards = {a: float(reward[0, i]) for i, a in enumerate(agents)}
        terminations = dict.fromkeys(agents, False)
        truncations = dict.fromkeys(agents, done)
        infos = {
            a: {**{key: rows[key][i] for key in _INFO_KEYS}, "action_mask": mask[i]}
            for i, a in enumerate(agents)
        }
        if done:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def state(self) -> NDArray[np.float32]:
        """Global state vector of shape (2L + 5N + 1,), see ``EntanglementCore.global_state``."""
        return self.core.global_state()[0]

    def render(self) -> str | None:
        """A text line with the slot, queued requests, stored pairs and totals (``"ansi"``)."""
        if self.render_mode != "ansi":
            return None
        s = self.core.state
        tot = s.totals
        return (
            f"t={int(s.t[0]):4d} pending={int(s.queue_len[0].sum()):4d} "
            f"pairs={int(s.pair_count[0].sum()):5d} delivered={int(tot['delivered'][0]):5d} "
            f"expired={int(tot['expired'][0]):5d} contended={int(tot['contended'][0]):5d}"
        )

    def close(self) -> None:
        """Nothing to release."""


def parallel_env(**kwargs: Any) -> EntanglementParallelEnv:
    """Build an :class:`EntanglementParallelEnv` (PettingZoo's ``parallel_env`` convention)."""
    return EntanglementParallelEnv(**kwargs)
