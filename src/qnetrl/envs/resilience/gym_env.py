"""Gymnasium faces of the resilience core: a single-copy Env and a native VectorEnv.

:class:`ResilienceEnv` is the B=1 view of :class:`~qnetrl.envs.resilience.core.ResilienceCore`
and :class:`ResilienceVectorEnv` the B=num_envs view; neither holds a second implementation of
the dynamics. Both are registered as ``qnetrl/Resilience-v0`` (``gymnasium.make`` and
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
from qnetrl.envs.resilience.core import ResilienceCore, ResilienceEnvConfig, decode_action

__all__ = ["ResilienceEnv", "ResilienceVectorEnv", "make_config"]


def make_config(
    config: ResilienceEnvConfig | Mapping[str, Any] | None, overrides: Mapping[str, Any]
) -> ResilienceEnvConfig:
    """Resolve the ``config`` argument of the env constructors (keyword overrides win).

    ``config`` is a ResilienceEnvConfig, a dict of fields, or None for the defaults;
    ``overrides`` are field values that replace its own, dotted names allowed (e.g.
    ``{"network.n_paths": 3}``). Returns the validated config; an unknown or out-of-range
    field raises :class:`qnetrl.config.ConfigError` naming it.
    """
    return resolve_config(
        ResilienceEnvConfig,
        config,
        overrides,
        owner="ResilienceEnv",
        source="Resilience",
        dotted=True,
    )


class ResilienceEnv(gym.Env[NDArray[np.float32], np.int64]):
    """Single-copy resilience env: the B=1 view of :class:`ResilienceCore`.

    ## Description

    Dynamic resource allocation (DRA) on a QKD network of trusted relays with Byzantine
    nodes, after the ABFT + DRA study reproduced by qnetrl's resilience study. Every decision
    epoch (``epoch_slots`` time slots of :class:`~qnetrl.network.simulator.NetworkSimulator`)
    the agent sets the source intensity and protocol of every link and the routing mode;
    links fill key pools, key requests between end nodes are relayed over one path or as
    Shamir shares over node-disjoint paths, and Byzantine relays flip, drop, delay or leak
    what they relay or lie about QBER and pools. With ``abft`` the key-management nodes
    replicate each epoch's relay orders, share verifications and link reports with weighted
    PBFT and adapt voting weights ``w <- w (1 - alpha e)`` from evidence
    (:mod:`qnetrl.envs.resilience.trust`); weights and trust steer the routing.

    ## Action Space

    ``Discrete(levels * 2 * 3)`` (24 with the default four intensity levels): action
    ``(i * 2 + p) * 3 + r`` sets intensity level ``i`` on every link, protocol ``p`` (0: decoy
    BB84, 1: MDI-QKD on the links that allow it) and routing mode ``r`` (0: shortest
    candidate paths, 1: key-pool-aware, 2: pool- and trust-aware). One global choice per
    epoch keeps the action space small enough for DQN; per-link choices would make it
    ``(levels * 2)^L``. The epoch matches the trust epoch, so every choice sees one weight
    update.

    ## Observation Space

    A float32 ``ndarray`` of shape ``(6L + 2N + 2,)`` with values in ``[0, 1]``; ``l`` runs
    over the L links and ``i`` over the N nodes:

    | Num        | Observation                                                  | Min | Max |
    |------------|--------------------------------------------------------------|-----|-----|
    | l          | link loss (nominal + extra, last slot) / (max nominal + 20 dB)| 0   | 1   |
    | L + l      | detector-efficiency factor (last slot) / 2                   | 0   | 1   |
    | 2L + l     | source-rate factor (last slot) / 2                           | 0   | 1   |
    | 3L + l     | key bits per slot (epoch mean) / (2 x nominal best)          | 0   | 1   |
    | 4L + l     | QBER as the control plane saw it (last slot) / 0.5           | 0   | 1   |
    | 5L + l     | key pool / capacity                                          | 0   | 1   |
    | 6L + i     | voting weight / initial weight (1 without ABFT)              | 0   | 1   |
    | 6L + N + i | routing suspicion of the node (0 without ABFT)               | 0   | 1   |
    | 6L + 2N    | occupied fraction of the request queue                       | 0   | 1   |
    | 6L + 2N + 1| epoch / horizon                                              | 0   | 1   |

    **Note:** values are clipped to ``[0, 1]``; a cut link reads loss 1. At reset the link
    features are those of the first slot's conditions at the default settings.

    ## Rewards

    ``(secure bits delivered - miss_penalty * key_bits * missed) / demand_ref -
    qber_penalty * (fraction of live link-slots with QBER above the threshold)``, where
    ``missed`` counts the epoch's requests that expired, arrived late, failed or were wrong,
    and ``demand_ref`` is the expected requested key of an epoch. About 1 per epoch when
    every request is served.

    ## Starting State

    A fresh network: pools at ``initial_pool_fraction``, empty queues, equal weights; the
    scenario (Byzantine fraction, fluctuations) is drawn from the config's lists and the
    faults and demand from the episode's seed.

    ## Episode End

    1. Termination: never (``terminated`` is always False).
    2. Truncation: after ``horizon`` epochs (default 20), for every action sequence.

    ## Arguments

    | Parameter     | Type                              | Default | Description                 |
    |---------------|-----------------------------------|---------|-----------------------------|
    | `config`      | ResilienceEnvConfig, dict or None | `None`  | Parameters (defaults if None)|
    | `render_mode` | str or None                       | `None`  | ``"ansi"``: one text line   |
    | `**overrides` | ResilienceEnvConfig fields        |         | e.g. ``horizon=10``         |

    ## Vectorized environment

    ``gymnasium.make_vec("qnetrl/Resilience-v0", num_envs=B,
    vectorization_mode="vector_entry_point")`` returns :class:`ResilienceVectorEnv`, which
    steps all B copies in one simulator (same-step autoreset).

    ## Version History

    * v0: initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        config: ResilienceEnvConfig | Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        self.render_mode = check_render_mode(render_mode, "ResilienceEnv")
        self.config = make_config(config, overrides)
        self.core = ResilienceCore(self.config, 1)
        self.action_space = spaces.Discrete(self.core.n_actions)
        self.observation_space = spaces.Box(self.core.obs_low, self.core.obs_high, dtype=np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        """Start an episode; ``seed`` reseeds ``self.np_random``.

        ``options`` may hold ``byzantine_fraction`` and ``fluctuating`` to force the scenario.
        """
        super().reset(seed=seed)
        return _reset_core(self.core, self.np_random, options)[0], {}

    def step(self, action: int | np.integer[Any]) -> SingleStep:
        """Run one epoch under ``action``."""
        return single_step(self.core, self.action_space, action, "ResilienceEnv.step")

    def render(self) -> str | None:
        """A text line with the epoch, the last action and the pools (``render_mode="ansi"``)."""
        if self.render_mode != "ansi":
            return None
        return _render_line(self.core, 0)


def _reset_core(
    core: ResilienceCore, rng: np.random.Generator, options: dict[str, Any] | None
) -> NDArray[np.float32]:
    """Reset every copy; ``options`` may force ``byzantine_fraction`` and ``fluctuating``."""
    opts = dict(options or {})
    return core.reset(
        rng,
        byzantine_fraction=opts.get("byzantine_fraction"),
        fluctuating=opts.get("fluctuating"),
    )


def _render_line(core: ResilienceCore, b: int) -> str:
    level, proto, route = decode_action(core.last_action[b], core.n_levels)
    pools = core.sim.pools[b] / core.capacity_bits
    return (
        f"epoch={core.t:4d} intensity={int(level)} protocol={int(proto)} route={int(route)} "
        f"pool_mean={pools.mean():.2f} pool_min={pools.min():.2f}"
    )


class ResilienceVectorEnv(VectorEnv[NDArray[np.float32], NDArray[np.int64], NDArray[Any]]):
    """Native vector face of :class:`ResilienceEnv`: B copies in one :class:`ResilienceCore`.

    Every copy has the same horizon, so all copies truncate on the same step. Autoreset is
    same-step (``metadata["autoreset_mode"] = AutoresetMode.SAME_STEP``): on the truncation
    step the returned observations are the first of the next episode, and
    ``infos["final_obs"]`` (ndarray (B, obs_dim), mask ``infos["_final_obs"]``) and
    ``infos["final_info"]`` (mask ``infos["_final_info"]``) hold the finished episode's last
    observations and step infos. The copies of one episode share its scenario (one simulator
    with B copies); their faults, demand and fluctuations differ.

    Seeding: ``reset(seed=s)`` reseeds ``self.np_random``; every later episode draws its
    scenario and simulator seed from it, so a rollout is a function of ``s`` and the actions.

    Parameters
    ----------
    num_envs : int
        Number of copies B (default 1).
    config : ResilienceEnvConfig, dict or None
        Environment parameters.
    render_mode : str or None
        ``"ansi"`` renders one text line per copy.
    **overrides
        Config fields, e.g. ``horizon=10``.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["ansi"],
        "render_fps": 4,
        "autoreset_mode": AutoresetMode.SAME_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
        config: ResilienceEnvConfig | Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        self.render_mode = check_render_mode(render_mode, "ResilienceVectorEnv")
        self.config = make_config(config, overrides)
        self.core = ResilienceCore(self.config, num_envs)  # validates num_envs
        self.num_envs = int(num_envs)
        self.single_action_space = spaces.Discrete(self.core.n_actions)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.single_observation_space = spaces.Box(
            self.core.obs_low, self.core.obs_high, dtype=np.float32
        )
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        """Start an episode in every copy; ``seed`` reseeds ``self.np_random``.

        ``options`` may hold ``byzantine_fraction`` and ``fluctuating`` to force the scenario.
        """
        super().reset(seed=seed)
        return _reset_core(self.core, self.np_random, options), {}

    def step(self, actions: NDArray[np.int64]) -> VectorStep:
        """Run one epoch in every copy; autoreset (default scenario) on the truncation step."""
        return vector_step(self.core, actions, self.np_random)

    def render(self) -> tuple[str, ...] | None:
        """One text line per copy (``render_mode="ansi"``)."""
        if self.render_mode != "ansi":
            return None
        return tuple(_render_line(self.core, b) for b in range(self.num_envs))
