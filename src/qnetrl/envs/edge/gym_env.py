"""Gymnasium faces of the edge-scheduling core: a single-copy Env and a native VectorEnv.

:class:`EdgeSchedulingEnv` is the B=1 view of :class:`~qnetrl.envs.edge.core.EdgeCore` and
:class:`EdgeSchedulingVectorEnv` the B=num_envs view; neither holds a second implementation of
the dynamics. Both are registered as ``qnetrl/EdgeScheduling-v0`` (``gymnasium.make`` and
``gymnasium.make_vec``) when :mod:`qnetrl.envs` is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from numpy.typing import NDArray

from qnetrl.envs._faces import (
    SingleStep,
    VectorStep,
    check_render_mode,
    resolve_config,
    single_step,
    vector_step,
)
from qnetrl.envs.edge.core import EdgeCore, EdgeEnvConfig

__all__ = ["EdgeSchedulingEnv", "EdgeSchedulingVectorEnv", "make_config"]


def make_config(
    config: EdgeEnvConfig | Mapping[str, Any] | None, overrides: Mapping[str, Any]
) -> EdgeEnvConfig:
    """Resolve the ``config`` argument of the env constructors (keyword overrides win).

    ``config`` is an EdgeEnvConfig, a dict of fields, or None for the defaults; ``overrides``
    are field values that replace its own (e.g. ``n_nodes=5`` given to ``gymnasium.make``).
    Returns the validated config; an unknown or out-of-range field raises
    :class:`qnetrl.config.ConfigError` naming it.
    """
    return resolve_config(
        EdgeEnvConfig, config, overrides, owner="EdgeSchedulingEnv", source="EdgeScheduling"
    )


class EdgeSchedulingEnv(gym.Env[NDArray[np.float32], np.int64]):
    """Single-copy edge-scheduling env: the B=1 view of :class:`EdgeCore`.

    ## Description

    QKD-secured edge offloading after the study reproduced by qnetrl's edge study: a
    dispatcher sends one computing task per step to one of N edge nodes. Every node's
    wireless link (BPSK over block Rayleigh fading plus AWGN) runs QKD: the slot's bit error
    probability is its QBER, the key model (``"publication"`` or ``"bb84"``) gives the secure
    key rate, and the key fills a bounded buffer per node. A task adds its load to the chosen
    node, consumes its key demand there (a shortfall waits for new key), and its payload may
    need retransmissions over the current link. Unlike the study's public code, the key layer
    is connected to the scheduler, the task is observed before the decision, and no action
    can end an episode early. The dynamics are :class:`qnetrl.envs.edge.core.EdgeCore`.

    ## Action Space

    ``Discrete(N)``: the index of the node that receives the waiting task.

    ## Observation Space

    A float32 ``ndarray`` of shape ``(3N + 2,)``; ``i`` runs over the nodes ``0 .. N-1``:

    | Num    | Observation                              | Min        | Max                        |
    |--------|------------------------------------------|------------|----------------------------|
    | i      | load of node i / its capacity            | 0          | x_max(1-d_min)/(d_min c_i) |
    | N + i  | key balance of node i / K                | -T d_max/K | 1                          |
    | 2N + i | QBER of node i's link in the last slot   | 0          | 0.5                        |
    | 3N     | load of the waiting task / task_load_max | 0          | 1                          |
    | 3N + 1 | key demand of the waiting task / K       | 0          | d_max / K                  |

    ``x_max`` is ``task_load_max``, ``d_min = load_decay - load_decay_jitter``, ``d_max`` the
    largest key demand and ``K`` the key buffer capacity (``key_buffer_bits``); the load
    bound is the fixed point of ``L <- (L + x_max)(1 - d_min)``.

    **Note:** the key balance is the stored key, in ``[0, 1]``, unless the node owes key to
    tasks still waiting for it; then it is minus the debt (bounded by the horizon's total
    demand, never reached in practice). The QBER of the *current* slot is never observed.

    ## Rewards

    ``-(base_latency_ms + load_latency_ms * rho**2 + key_wait_weight * key_wait_ms +
    retx_ms) - overload_penalty * [rho > overload_threshold]`` with ``rho`` the chosen node's
    projected load over capacity; see :func:`qnetrl.envs.edge.core.task_cost`. The info dict
    reports the components (``latency_ms``, ``key_wait_ms``, ``retx_ms``, ``overload`` ...).

    ## Starting State

    Loads zero; key buffers at ``initial_key_fill`` of capacity plus the key of one warm-up
    slot, whose QBER is the first observed QBER; the first task is drawn.

    ## Episode End

    1. Termination: never (``terminated`` is always False; no action ends an episode).
    2. Truncation: after ``horizon`` steps (default 100), for every action sequence.

    ## Arguments

    | Parameter     | Type                        | Default | Description                          |
    |---------------|-----------------------------|---------|--------------------------------------|
    | `config`      | EdgeEnvConfig, dict or None | `None`  | Parameters (defaults if None)        |
    | `render_mode` | str or None                 | `None`  | ``"ansi"``: a one-line text summary  |
    | `**overrides` | EdgeEnvConfig fields        |         | Replace fields, e.g. ``n_nodes=5``   |

    ## Vectorized environment

    ``gymnasium.make_vec("qnetrl/EdgeScheduling-v0", num_envs=B,
    vectorization_mode="vector_entry_point")`` returns :class:`EdgeSchedulingVectorEnv`, which
    steps all B copies in one array operation (same-step autoreset).

    ## Version History

    * v0: initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        config: EdgeEnvConfig | Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        self.render_mode = check_render_mode(render_mode, "EdgeSchedulingEnv")
        self.config = make_config(config, overrides)
        self.core = EdgeCore(self.config, 1)
        self.action_space = spaces.Discrete(self.config.n_nodes)
        self.observation_space = spaces.Box(self.core.obs_low, self.core.obs_high, dtype=np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        """Start an episode; ``seed`` reseeds ``self.np_random`` (``options`` is unused)."""
        super().reset(seed=seed)
        obs = self.core.reset(self.np_random)
        return obs[0], {}

    def step(self, action: int | np.integer[Any]) -> SingleStep:
        """Dispatch the waiting task to node ``action``."""
        return single_step(self.core, self.action_space, action, "EdgeSchedulingEnv.step")

    def render(self) -> str | None:
        """A text line with the step, loads and key balances (``render_mode="ansi"``)."""
        if self.render_mode != "ansi":
            return None
        return _render_line(self.core, 0)


def _render_line(core: EdgeCore, b: int) -> str:
    s = core.state
    loads = " ".join(f"{x:6.1f}" for x in s.loads[b])
    keys = " ".join(f"{x:7.0f}" for x in s.key_balance_bits[b])
    return f"t={int(s.t[b]):4d} loads=[{loads}] key_bits=[{keys}]"


class EdgeSchedulingVectorEnv(VectorEnv[NDArray[np.float32], NDArray[np.int64], NDArray[Any]]):
    """Native vector face of :class:`EdgeSchedulingEnv`: B copies in one :class:`EdgeCore`.

    Every copy has the same fixed horizon, so all copies truncate on the same step. Autoreset
    is same-step (``metadata["autoreset_mode"] = AutoresetMode.SAME_STEP``): on the
    truncation step the returned observations are the first observations of the next
    episode, and ``infos["final_obs"]`` (an ndarray of shape (B, 3N + 2), mask
    ``infos["_final_obs"]``) and ``infos["final_info"]`` (mask ``infos["_final_info"]``) hold
    the last observations and step infos of the finished episode. The top-level info keys are
    the step's cost components (each with its ``_key`` mask), on every step.

    Seeding: ``reset(seed=s)`` reseeds ``self.np_random``; every later episode draws from it,
    so a rollout is a function of ``s`` and the actions. Copy 0 of a batch sees the same
    episodes as :class:`EdgeSchedulingEnv` seeded with the same ``s`` (fading "none" or
    "rayleigh"), because each kind of random draw comes from its own child stream filled in
    batch order.

    Parameters
    ----------
    num_envs : int
        Number of copies B (default 1).
    config : EdgeEnvConfig, dict or None
        Environment parameters.
    render_mode : str or None
        ``"ansi"`` renders one text line per copy.
    **overrides
        Single config fields, e.g. ``n_nodes=5``.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["ansi"],
        "render_fps": 4,
        "autoreset_mode": AutoresetMode.SAME_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
        config: EdgeEnvConfig | Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        self.render_mode = check_render_mode(render_mode, "EdgeSchedulingVectorEnv")
        self.config = make_config(config, overrides)
        self.core = EdgeCore(self.config, num_envs)  # validates num_envs as batch_size
        self.num_envs = int(num_envs)
        self.single_action_space = spaces.Discrete(self.config.n_nodes)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.single_observation_space = spaces.Box(
            self.core.obs_low, self.core.obs_high, dtype=np.float32
        )
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        """Start an episode in every copy; ``seed`` reseeds ``self.np_random``."""
        super().reset(seed=seed)
        return self.core.reset(self.np_random), {}

    def step(self, actions: NDArray[np.int64]) -> VectorStep:
        """Dispatch every copy's waiting task; autoreset on the truncation step."""
        return vector_step(self.core, actions, self.np_random)

    def render(self) -> tuple[str, ...] | None:
        """One text line per copy (``render_mode="ansi"``)."""
        if self.render_mode != "ansi":
            return None
        return tuple(_render_line(self.core, b) for b in range(self.num_envs))
