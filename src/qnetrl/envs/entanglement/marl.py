"""Batched multi-agent face of the DPEM entanglement core, for multi-agent PPO training.

:class:`EntanglementMarlEnv` exposes :class:`~qnetrl.envs.entanglement.core.EntanglementCore`
through the batched multi-agent interface that :func:`qnetrl.agents.mappo.train` drives
(``num_envs``, ``num_agents``, ``single_observation_space``, ``single_action_space``,
``reset(rng)`` and ``step(actions)`` with same-step autoreset and ``final_obs`` /
``truncated`` in the info). Every node is an agent and sees only its own observation row of
the core, optionally followed by its route-feasibility flags (a function of that same row)
and by a forecast of its own future request counts from a *demand forecaster* that learns
online from the node's own arrival history. The forecaster is any object with
``fit_step(history)``, ``predict(recent)`` and a ``config`` carrying ``window`` and
``horizon`` (e.g. :class:`qnetrl.agents.forecaster.GRUForecaster`); this module never imports
the agents layer. No Python loop runs over copies or nodes.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
from gymnasium import spaces
from numpy.typing import ArrayLike, NDArray

from qnetrl._validation import InvalidParameterError
from qnetrl.envs.entanglement.core import (
    EntanglementCore,
    EntanglementEnvConfig,
    EntanglementNetwork,
)

__all__ = ["DemandForecaster", "EntanglementMarlEnv", "ForecastWindow"]

#: Counters accumulated over every step (training curves read and difference them).
_COUNTERS = ("steps", "arrived", "delivered", "claims", "contended", "reward")


@runtime_checkable
class ForecastWindow(Protocol):
    """What the env reads from a forecaster's config: input and output lengths (in slots)."""

    window: int
    horizon: int


@runtime_checkable
class DemandForecaster(Protocol):
    """A per-node demand forecaster trained online (e.g. ``GRUForecaster``).

    Attributes
    ----------
    num_agents : int
        Number A of nodes it forecasts (must equal the env's N).
    config : ForecastWindow
        ``window`` W (past slots per forecast) and ``horizon`` h (slots ahead).
    """

    num_agents: int
    config: Any

    def fit_step(self, history: ArrayLike) -> float:
        """Train on a (T, A) count history (oldest first); returns the loss."""
        ...

    def predict(self, recent: ArrayLike) -> NDArray[np.float64]:
        """Forecasts of shape (B, A, h) from the latest counts (B, A, W)."""
        ...


class EntanglementMarlEnv:
    """B copies of the DPEM network, one agent per node, behind the batched multi-agent API.

    ## Description

    The dynamics are those of :class:`~qnetrl.envs.entanglement.core.EntanglementCore` (the
    DPEM study: a random repeater mesh, per-node pair generation and swap capacity, requests
    with source, destination, required fidelity and deadline). This class is a thin view that
    adds three things MAPPO needs: agent-major spaces, same-step autoreset and the demand
    forecast of every node. It holds no second implementation of the dynamics.

    ## Action Space

    ``Discrete(1 + K Q)`` per agent, as in the core: 0 = no claim; ``1 + k Q + q`` = claim
    candidate route ``k`` at quality ``q`` for the node's oldest pending request. Actions are
    an int array of shape (B, N).

    ## Observation Space

    A float32 array of shape (B, N, d) with ``d = obs_dim``. Row ``[b, n]`` is node ``n``'s
    own observation; with ``d0 = core.obs_dim`` (see
    :class:`~qnetrl.envs.entanglement.pettingzoo_env.EntanglementParallelEnv` for its table):

    | Num                 | Observation                                          | Min | Max |
    |---------------------|------------------------------------------------------|-----|-----|
    | 0 .. d0 - 1         | the core's observation of the node                   | 0   | 1 or R |
    | d0 + k Q + q        | route k at quality q feasible on its own (0/1)       | 0   | 1   |
    | d0 + F + j          | forecast requests in slot t + 1 + j (count)          | 0   | inf |

    The K Q feasibility flags (present when ``feasibility=True``; ``F = K Q``, else 0) are
    :attr:`~qnetrl.envs.entanglement.core.RouteView.feasible`: route ``k`` exists, its
    fewest stored pairs are at least ``q + 1``, every intermediate node has a swap left and
    the fidelity with the best pairs meets the head's requirement. Each is a deterministic
    function of features already in the node's row (bottleneck, swap minimum, route fidelity,
    required fidelity), so the flags add no information, only a comparison the network would
    otherwise have to learn. The h forecast features (present with a ``forecaster``) are the
    forecaster's prediction from the node's own last W arrival counts; agents never see other
    nodes' forecasts or arrivals.

    ## Rewards

    The core's per-node reward ``delivered - contention_penalty * contended``, shape (B, N).

    ## Starting State

    The core's (empty memories after ``warmup_slots`` of generation). The forecaster's input
    buffer is *not* cleared at episode boundaries: a node's arrival stream is continuous, the
    episode is a simulation artefact. It starts as zeros when the env is built.

    ## Episode End

    1. Termination: never.
    2. Truncation: after ``horizon`` slots, in every copy at once (the core's copies share
       the slot index). With ``autoreset=True`` the copies restart in the same step:
       ``info["final_obs"]`` holds the last observation, ``info["truncated"]`` is True and
       ``info["episode"]`` the core's episode totals; with ``autoreset=False`` the final
       observation is returned and the next :meth:`step` raises until :meth:`reset`.

    ## Arguments

    | Parameter     | Type                          | Default | Description                        |
    |---------------|-------------------------------|---------|------------------------------------|
    | `config`      | EntanglementEnvConfig         |         | Environment parameters             |
    | `num_envs`    | int                           |         | Copies B stepped together          |
    | `forecaster`  | DemandForecaster or None      | `None`  | Adds h forecast features per node  |
    | `fit_every`   | int                           | `10`    | Slots between online fits (0: off) |
    | `feasibility` | bool                          | `True`  | Adds the K Q feasibility flags     |
    | `autoreset`   | bool                          | `True`  | Restart copies in the ending step  |
    | `history_span`| int                           | `256`   | Arrival slots kept per node (S)    |
    | `network`     | EntanglementNetwork or None   | `None`  | Prebuilt network (shared tables)   |
    | `graph`       | networkx.Graph or None        | `None`  | Topology instead of the mesh       |

    ## Vectorized environment

    Native: B copies in one core. Online forecaster training (``fit_step`` every
    ``fit_every`` slots, with at least ``window + horizon`` slots of history) uses the
    arrival series of one copy per fit, copies taken in turn, the most recent
    ``history_span`` slots.

    ## Version History

    * v0: initial version.

    Attributes
    ----------
    core : EntanglementCore
        The batched core (read its documented arrays freely).
    num_envs, num_agents : int
        B and N.
    single_observation_space : gymnasium.spaces.Box
        One agent's observation space, shape (d,), float32.
    single_action_space : gymnasium.spaces.Discrete
        ``Discrete(1 + K Q)``.
    obs_dim : int
        d.
    forecast : ndarray of shape (B, N, h) or None
        The forecast in the last observation.
    arrivals_history : ndarray of shape (B, N, S), int64
        The last S arrival counts per node (oldest first), the forecaster's data.
    counters : dict of str to float
        Running totals over all steps since construction: ``steps`` (vector steps),
        ``arrived``, ``delivered``, ``claims``, ``contended`` (summed over copies and nodes)
        and ``reward`` (summed over copies and nodes).
    episodes : list of dict
        One record per finished episode with autoreset: ``delivery_rate``,
        ``contention_rate``, ``mean_fidelity`` (arrays of shape (B,) as lists) and ``step``
        (vector steps so far).
    fit_losses : list of float
        The forecaster's loss at every online fit.
    """

    metadata: ClassVar[dict[str, Any]] = {"name": "dpem_marl_v0", "autoreset_mode": "same-step"}

    def __init__(
        self,
        config: EntanglementEnvConfig,
        num_envs: int,
        *,
        forecaster: DemandForecaster | None = None,
        fit_every: int = 10,
        feasibility: bool = True,
        autoreset: bool = True,
        history_span: int = 256,
        network: EntanglementNetwork | None = None,
        graph: Any = None,
    ) -> None:
        owner = "EntanglementMarlEnv"
        for name, value, low in (
            ("num_envs", num_envs, 1),
            ("fit_every", fit_every, 0),
            ("history_span", history_span, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                raise InvalidParameterError(
                    f"The {name!r} parameter of {owner} must be an int in the range "
                    f"[{low}, inf). Got {value!r} instead."
                )
        self.core = EntanglementCore(config, int(num_envs), network=network, graph=graph)
        self.config = config
        self.num_envs = int(num_envs)
        self.num_agents = self.core.n_nodes
        self.forecaster = forecaster
        self.fit_every = int(fit_every)
        self.feasibility = bool(feasibility)
        self.autoreset = bool(autoreset)
        n_flags = self.core.n_routes * self.core.n_quality if self.feasibility else 0
        low = [self.core.obs_low, np.zeros(n_flags, dtype=np.float32)]
        high = [self.core.obs_high, np.ones(n_flags, dtype=np.float32)]
        self.window = self.horizon = 0
        if forecaster is not None:
            if not isinstance(forecaster, DemandForecaster) or not isinstance(
                getattr(forecaster, "config", None), ForecastWindow
            ):
                raise InvalidParameterError(
                    f"The 'forecaster' parameter of {owner} must have fit_step, predict, "
                    f"num_agents and a config with window and horizon. Got "
                    f"{type(forecaster).__name__} instead."
                )
            if forecaster.num_agents != self.num_agents:
                raise InvalidParameterError(
                    f"The 'forecaster' parameter of {owner} must forecast "
                    f"num_agents={self.num_agents} nodes. Got {forecaster.num_agents} instead."
                )
            self.window = int(forecaster.config.window)
            self.horizon = int(forecaster.config.horizon)
            low.append(np.zeros(self.horizon, dtype=np.float32))
            high.append(np.full(self.horizon, np.inf, dtype=np.float32))
        obs_low, obs_high = np.concatenate(low), np.concatenate(high)
        self.obs_dim = int(obs_low.size)
        self.single_observation_space = spaces.Box(obs_low, obs_high, dtype=np.float32)
        self.single_action_space = spaces.Discrete(self.core.n_actions)
        span = max(int(history_span), self.window + self.horizon, 1)
        self.arrivals_history = np.zeros((self.num_envs, self.num_agents, span), dtype=np.int64)
        self._filled = 0
        self._since_fit = 0
        self._fits = 0
        self._rng: np.random.Generator | None = None
        self._done = False
        self.forecast: NDArray[np.float64] | None = None
        self.counters: dict[str, float] = dict.fromkeys(_COUNTERS, 0.0)
        self.episodes: list[dict[str, Any]] = []
        self.fit_losses: list[float] = []

    # ------------------------------------------------------------------ helpers

    def _record_arrivals(self, counts: NDArray[np.int64]) -> None:
        """Append one slot of arrival counts (B, N) and fit the forecaster when due."""
        hist = self.arrivals_history
        hist[..., :-1] = hist[..., 1:]
        hist[..., -1] = counts
        self._filled = min(self._filled + 1, hist.shape[-1])
        self.counters["arrived"] += float(counts.sum())
        if self.forecaster is None or self.fit_every == 0:
            return
        self._since_fit += 1
        if self._since_fit >= self.fit_every and self._filled >= self.window + self.horizon:
            self._since_fit = 0
            copy = self._fits % self.num_envs
            self._fits += 1
            series = hist[copy, :, -self._filled :].T  # (T, N) of one copy
            self.fit_losses.append(float(self.forecaster.fit_step(series)))

    def _observe(self, core_obs: NDArray[np.float32]) -> NDArray[np.float32]:
        parts = [core_obs]
        if self.feasibility:
            feas = self.core.routes.feasible
            parts.append(feas.reshape(self.num_envs, self.num_agents, -1).astype(np.float32))
        if self.forecaster is not None:
            recent = self.arrivals_history[..., -self.window :]
            self.forecast = np.asarray(self.forecaster.predict(recent), dtype=np.float64)
            parts.append(self.forecast.astype(np.float32))
        return np.concatenate(parts, axis=-1) if len(parts) > 1 else core_obs

    def _episode_record(self) -> dict[str, Any]:
        tot = self.core.totals
        arrived, delivered, claims = tot["arrived"], tot["delivered"], tot["claims"]
        return {
            "step": int(self.counters["steps"]),
            "delivery_rate": (delivered / np.maximum(arrived, 1)).tolist(),
            "contention_rate": (tot["contended"] / np.maximum(claims, 1)).tolist(),
            "mean_fidelity": (tot["fidelity_sum"] / np.maximum(delivered, 1)).tolist(),
        }

    # ------------------------------------------------------------------ API

    def reset(self, rng: np.random.Generator) -> NDArray[np.float32]:
        """Start new episodes in all copies; later autoresets draw from the same ``rng``.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of this and every later autoreset episode.

        Returns
        -------
        obs : ndarray of shape (B, N, obs_dim), float32
        """
        core_obs = self.core.reset(rng)
        self._rng = rng
        self._done = False
        self._record_arrivals(self.core.demand_history[..., -1])
        return self._observe(core_obs)

    def step(
        self, actions: ArrayLike
    ) -> tuple[NDArray[np.float32], NDArray[np.float64], NDArray[np.bool_], dict[str, Any]]:
        """Apply every node's action in every copy and advance one slot.

        Parameters
        ----------
        actions : array_like of int, shape (B, N)
            Actions in ``[0, 1 + K Q)``.

        Returns
        -------
        obs : ndarray of shape (B, N, obs_dim), float32
            Next observations (of the new episode where a copy just ended and autoreset).
        rewards : ndarray of shape (B, N)
            Per-node rewards.
        dones : ndarray of shape (B,), bool
            True where the episode ended at this step (truncation).
        info : dict
            The core's step info (per-node and per-link arrays of the slot), plus
            ``"truncated"`` (B,), and where episodes ended ``"final_obs"`` (B, N, obs_dim)
            and ``"episode"`` (see :attr:`episodes`).

        Raises
        ------
        RuntimeError
            If the episode ended with ``autoreset=False`` (or reset was never called).
        """
        if self._rng is None or self._done:
            raise RuntimeError("EntanglementMarlEnv.reset(rng) must be called first.")
        core_obs, reward, truncated, info = self.core.step(actions)
        c = self.counters
        c["steps"] += 1
        c["delivered"] += float(info["delivered"].sum())
        c["claims"] += float(info["claimed"].sum())
        c["contended"] += float(info["contended"].sum())
        c["reward"] += float(reward.sum())
        c["arrived"] += float(info["overflow"].sum())
        done = bool(truncated.all())
        if not done:
            self._record_arrivals(info["arrived"])
        obs = self._observe(core_obs)
        out: dict[str, Any] = {**info, "truncated": truncated.copy()}
        if done:
            record = self._episode_record()
            out["final_obs"] = obs
            out["episode"] = record
            if self.autoreset:
                self.episodes.append(record)
                obs = self.reset(self._rng)
            else:
                self._done = True
        return obs, reward, truncated.copy(), out

    def action_mask(self) -> NDArray[np.bool_]:
        """Actions that claim an existing route, shape (B, N, 1 + K Q) (the core's mask)."""
        return self.core.action_mask()
