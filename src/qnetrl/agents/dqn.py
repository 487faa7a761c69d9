"""Double DQN with optional prioritised replay for Gymnasium vector environments.

One readable file in the CleanRL ``dqn.py`` manner: the typed hyperparameters (:class:`DQNConfig`),
the Q-network, small pure helpers (:func:`linear_schedule`, :func:`td_target`), then the training
loop as :func:`train`. Double DQN [2]_ picks the bootstrap action with the online network and values
it with the target network; ``double=False`` gives the vanilla DQN target of [1]_. Replay is
uniform or proportional prioritised [3]_ (see :mod:`qnetrl.agents.replay`). The loop drives any
Gymnasium 1.x ``VectorEnv`` with a flat ``Box`` observation, a ``Discrete`` action and same-step
autoreset, choosing the actions of all B sub-environments in one forward pass. Training can
write checkpoints (networks, optimiser, replay buffer, environment, RNG states and counters) at a
fixed interval and resume from one with bit-identical results.

Paper: https://arxiv.org/abs/1509.06461 (Double DQN).

References
----------
.. [1] V. Mnih, K. Kavukcuoglu, D. Silver et al., "Human-level control through deep
   reinforcement learning", Nature, 518(7540), 529-533, 2015. DOI: 10.1038/nature14236
.. [2] H. van Hasselt, A. Guez and D. Silver, "Deep Reinforcement Learning with Double
   Q-learning", Proceedings of the AAAI Conference on Artificial Intelligence, 30(1),
   2094-2100, 2016. DOI: 10.1609/aaai.v30i1.10295
.. [3] T. Schaul, J. Quan, I. Antonoglou and D. Silver, "Prioritized Experience Replay",
   International Conference on Learning Representations (ICLR), 2016. arXiv:1511.05952.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from numpy.typing import ArrayLike, NDArray
from pydantic import Field, PositiveInt
from torch import nn

from qnetrl._validation import InvalidParameterError, check_range
from qnetrl.agents.replay import PrioritizedReplayBuffer, ReplayBuffer
from qnetrl.config import ConfigBase

__all__ = [
    "CHECKPOINT_FORMAT",
    "DQNConfig",
    "QNetwork",
    "QPolicy",
    "TrainResult",
    "evaluate",
    "greedy_policy",
    "linear_schedule",
    "real_next_obs",
    "td_target",
    "train",
]


#: Format tag stored in (and required of) every training checkpoint of :func:`train`.
CHECKPOINT_FORMAT: Final[str] = "qnetrl.dqn.checkpoint/1"


class DQNConfig(ConfigBase):
    """Hyperparameters of (Double) DQN; defaults follow the QKD-secured edge-offloading study.

    The study's agent uses two hidden layers of 64 ReLU units, discount 0.99, minibatch 64,
    Adam with learning rate 1e-3, a target network refreshed every 10 episodes, epsilon-greedy
    exploration with decay and experience replay. Values it does not state (buffer size,
    warm-up, exploration schedule, gradient clipping) are common DQN choices. The seed is not
    part of the config: a run is a config plus a seed (see :func:`train`).
    """

    exp_name: str = Field("ddqn", description="Name of the experiment, used in run names.")
    device: Literal["cpu", "cuda"] = Field("cpu", description="Torch device for the networks.")
    log_every: int = Field(
        100, ge=1, description="Gradient updates between two losses/ lines in the JSONL log."
    )

    # Algorithm specific arguments
    total_env_steps: int = Field(
        200_000, ge=1, description="Transitions to collect, summed over all sub-environments."
    )
    hidden_sizes: tuple[PositiveInt, ...] = Field(
        (64, 64), min_length=1, description="Widths of the hidden ReLU layers of the Q-network."
    )
    gamma: float = Field(0.99, ge=0.0, le=1.0, description="Discount factor.")
    lr: float = Field(1e-3, gt=0.0, le=1.0, description="Adam learning rate.")
    batch_size: int = Field(64, ge=1, description="Transitions per gradient step.")
    buffer_size: int = Field(100_000, ge=1, description="Replay buffer capacity in transitions.")
    learning_starts: int = Field(
        1_000, ge=0, description="Transitions collected before the first gradient step."
    )
    updates_per_step: float = Field(
        1.0, gt=0.0, le=64.0, description="Gradient steps per vector-env step (may be fractional)."
    )
    start_e: float = Field(1.0, ge=0.0, le=1.0, description="Initial exploration epsilon.")
    end_e: float = Field(0.05, ge=0.0, le=1.0, description="Final exploration epsilon.")
    exploration_fraction: float = Field(
        0.5, gt=0.0, le=1.0, description="Fraction of total_env_steps over which epsilon decays."
    )
    target_update: int = Field(
        10, ge=0, description="Episodes between target-network updates (0: every gradient step)."
    )
    tau: float = Field(
        1.0, gt=0.0, le=1.0, description="Target update rate (1: hard copy, <1: Polyak average)."
    )
    double: bool = Field(True, description="Double DQN target (True) or vanilla DQN max (False).")
    loss: Literal["mse", "huber"] = Field("mse", description="TD loss: squared or Huber error.")
    grad_clip: float = Field(
        10.0, gt=0.0, description="Max global gradient norm (math.inf: no clipping)."
    )
    prioritized: bool = Field(False, description="Proportional prioritised replay (Schaul 2016).")
    per_alpha: float = Field(0.6, ge=0.0, le=1.0, description="PER priority exponent alpha.")
    per_beta0: float = Field(
        0.4, ge=0.0, le=1.0, description="PER initial IS exponent beta, annealed to 1 linearly."
    )
    per_eps: float = Field(1e-6, gt=0.0, description="PER constant added to |TD error|.")

    def num_iterations(self, num_envs: int) -> int:
        """Vector-env steps needed to collect :attr:`total_env_steps` with ``num_envs`` copies."""
        return -(-self.total_env_steps // num_envs)


class QNetwork(nn.Module):
    """MLP mapping observations (B, d) to action values (B, n_actions), ReLU hidden layers.

    Parameters
    ----------
    obs_dim : int
        Observation length d.
    n_actions : int
        Number of discrete actions.
    hidden_sizes : sequence of int, default=(64, 64)
        Widths of the hidden layers.
    """

    def __init__(self, obs_dim: int, n_actions: int, hidden_sizes: Sequence[int] = (64, 64)):
        super().__init__()
        layers: list[nn.Module] = []
        width = obs_dim
        for h in hidden_sizes:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, n_actions))
        self.network = nn.Sequential(*layers)
        self.obs_dim = obs_dim
        self.n_actions = n_actions
        self._linears: tuple[nn.Linear, ...] = tuple(
            m for m in self.network if isinstance(m, nn.Linear)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Action values of shape (B, n_actions).

        Computes ``self.network(x)`` (the same operations, so the same numbers) with direct
        ``linear`` and ``relu`` calls, skipping the per-module call overhead that dominates
        at these sizes (hooks on the submodules of ``network`` are therefore not run).
        """
        *hidden, last = self._linears
        for layer in hidden:
            x = torch.relu(nn.functional.linear(x, layer.weight, layer.bias))
        return nn.functional.linear(x, last.weight, last.bias)


def linear_schedule(start_e: float, end_e: float, duration: float, t: float) -> float:
    """Linear interpolation from ``start_e`` at ``t = 0`` to ``end_e`` at ``t >= duration``.

    Examples
    --------
    >>> linear_schedule(1.0, 0.5, 4, 2)
    0.75
    >>> linear_schedule(1.0, 0.5, 4, 40)
    0.5
    """
    slope = (end_e - start_e) / duration
    return max(slope * t + start_e, end_e) if end_e <= start_e else min(slope * t + start_e, end_e)


def td_target(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    next_q_target: torch.Tensor,
    gamma: float,
    *,
    next_q_online: torch.Tensor | None = None,
    double: bool = True,
) -> torch.Tensor:
    """One-step bootstrapped target of (Double) DQN.

    Parameters
    ----------
    rewards : Tensor of shape (n,)
        Rewards :math:`r`.
    terminated : Tensor of shape (n,)
        1 where the next state is terminal (no bootstrap), else 0. Truncation must be 0 here.
    next_q_target : Tensor of shape (n, A)
        Target-network values :math:`Q_{\\theta^-}(s', \\cdot)`.
    gamma : float
        Discount factor in [0, 1].
    next_q_online : Tensor of shape (n, A), optional
        Online-network values :math:`Q_\\theta(s', \\cdot)`; required when ``double`` is True.
    double : bool, default=True
        Double DQN (Eq. 4 of [2]_) instead of the DQN max target ([1]_).

    Returns
    -------
    Tensor of shape (n,)
        :math:`r + \\gamma (1 - d) Q_{\\theta^-}(s', a^*)`.

    Notes
    -----
    .. math::

        a^* = \\arg\\max_a Q_\\theta(s', a) \\ \\text{(Double)}, \\qquad
        a^* = \\arg\\max_a Q_{\\theta^-}(s', a) \\ \\text{(vanilla)}.

    Examples
    --------
    >>> r, d = torch.tensor([1.0]), torch.tensor([0.0])
    >>> qt, qo = torch.tensor([[2.0, 5.0]]), torch.tensor([[3.0, 1.0]])
    >>> td_target(r, d, qt, 0.5, next_q_online=qo).item()  # online picks a=0, target values 2
    2.0
    >>> td_target(r, d, qt, 0.5, double=False).item()  # max of target: 5
    3.5
    """
    if double:
        if next_q_online is None:
            raise InvalidParameterError(
                "The 'next_q_online' parameter of td_target is required when double=True."
            )
        best = next_q_online.argmax(dim=1, keepdim=True)
        next_value = next_q_target.gather(1, best).squeeze(1)
    else:
        next_value = next_q_target.max(dim=1).values
    return rewards + gamma * (1.0 - terminated) * next_value


def real_next_obs(next_obs: NDArray[Any], infos: dict[str, Any]) -> NDArray[np.float32]:
    """Next observations with the real final observation where an episode just ended.

    Under same-step autoreset, ``step`` returns the first observation of the *new* episode for
    sub-environments that terminated or truncated; the last observation of the finished
    episode is in ``infos["final_obs"]`` (an object array of per-env arrays in Gymnasium's
    vector envs, or a numeric (B, d) array) where the mask ``infos["_final_obs"]`` is True.

    Parameters
    ----------
    next_obs : ndarray of shape (B, d)
        Observations returned by ``step``.
    infos : dict
        Infos returned by ``step``.

    Returns
    -------
    ndarray of shape (B, d)
        A float32 copy of ``next_obs`` with the final observations substituted.
    """
    out = np.array(next_obs, dtype=np.float32, copy=True)
    mask = infos.get("_final_obs")
    if mask is not None and np.any(mask):
        final = infos["final_obs"][mask]
        out[mask] = np.stack(final) if final.dtype == object else final
    return out


class QPolicy:
    """Greedy policy of a Q-network: obs (B, d) -> argmax actions (B,) as int64.

    Parameters
    ----------
    q_network : torch.nn.Module
        Maps a float32 tensor (B, d) to action values (B, A).
    """

    def __init__(self, q_network: nn.Module) -> None:
        self.q_network = q_network
        self.device = next(q_network.parameters()).device

    def __call__(self, obs: ArrayLike) -> NDArray[np.int64]:
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
        with torch.inference_mode():
            return self.q_network(x).argmax(dim=1).cpu().numpy()


def greedy_policy(q_network: nn.Module) -> QPolicy:
    """The greedy :class:`QPolicy` of ``q_network``."""
    return QPolicy(q_network)


def _soft_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """``target <- tau * online + (1 - tau) * target`` parameter-wise (tau = 1: hard copy)."""
    with torch.no_grad():
        torch._foreach_lerp_(list(target.parameters()), list(online.parameters()), tau)


def _clip_grad_norm(grads: list[torch.Tensor], max_norm: float) -> None:
    """Scale ``grads`` in place to a global L2 norm of at most ``max_norm``.

    The arithmetic of ``torch.nn.utils.clip_grad_norm_`` (foreach norms, their norm, factor
    ``min(1, max_norm / (norm + 1e-6))``, foreach multiply; no host sync) without its
    per-call grouping and checks: every gradient here is a dense tensor on one device.
    """
    total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2.0)), 2.0)
    torch._foreach_mul_(grads, torch.clamp(max_norm / (total + 1e-6), max=1.0))


def _check_vector_env(envs: gym.vector.VectorEnv, owner: str) -> tuple[int, int, int]:
    """Assert the env contract of this module; return (num_envs, obs_dim, n_actions)."""
    obs_space, act_space = envs.single_observation_space, envs.single_action_space
    if not isinstance(act_space, gym.spaces.Discrete):
        raise InvalidParameterError(
            f"The 'envs' parameter of {owner} must have a Discrete single_action_space. "
            f"Got {act_space!r} instead."
        )
    if not (isinstance(obs_space, gym.spaces.Box) and len(obs_space.shape) == 1):
        raise InvalidParameterError(
            f"The 'envs' parameter of {owner} must have a 1-D Box single_observation_space. "
            f"Got {obs_space!r} instead."
        )
    mode = envs.metadata.get("autoreset_mode")
    if isinstance(mode, str):
        mode = next((m for m in AutoresetMode if mode in (m.value, m.name)), mode)
    if mode != AutoresetMode.SAME_STEP:
        raise InvalidParameterError(
            f"The 'envs' parameter of {owner} must use same-step autoreset "
            f"(metadata['autoreset_mode'] == AutoresetMode.SAME_STEP, e.g. "
            f"gym.make_vec(..., vector_kwargs={{'autoreset_mode': AutoresetMode.SAME_STEP}})). "
            f"Got {mode!r} instead."
        )
    return int(envs.num_envs), int(obs_space.shape[0]), int(act_space.n)


def evaluate(
    policy: Callable[[NDArray[Any]], ArrayLike],
    envs: gym.vector.VectorEnv,
    n_episodes: int,
    seed: int,
) -> NDArray[np.float64]:
    """Undiscounted returns of ``n_episodes`` episodes of ``policy`` on ``envs``.

    Episodes are split as evenly as possible over the B sub-environments, and each
    sub-environment contributes its first episodes only, so that short episodes are not
    over-represented.

    Parameters
    ----------
    policy : callable
        Maps observations (B, d) to actions (B,).
    envs : gymnasium.vector.VectorEnv
        Same-step autoreset vector env (reset with ``seed`` here).
    n_episodes : int
        Number of episodes (at least 1).
    seed : int
        Reset seed of ``envs``.

    Returns
    -------
    ndarray of shape (n_episodes,)
        Returns grouped by sub-environment, in completion order within each.
    """
    check_range("n_episodes", n_episodes, owner="evaluate", low=1)
    n_episodes = int(n_episodes)
    num_envs, _, _ = _check_vector_env(envs, "evaluate")
    quota = np.full(num_envs, n_episodes // num_envs, dtype=np.int64)
    quota[: n_episodes % num_envs] += 1
    returns = np.zeros((num_envs, int(quota.max(initial=0))), dtype=np.float64)
    count = np.zeros(num_envs, dtype=np.int64)
    running = np.zeros(num_envs, dtype=np.float64)
    obs, _ = envs.reset(seed=seed)
    while np.any(count < quota):
        obs, rewards, terminations, truncations, _ = envs.step(np.asarray(policy(obs)))
        running += rewards
        done = np.logical_or(terminations, truncations) & (count < quota)
        if done.any():
            env_idx = np.flatnonzero(done)
            returns[env_idx, count[env_idx]] = running[env_idx]
            count[env_idx] += 1
        running[np.logical_or(terminations, truncations)] = 0.0
    return returns[np.arange(returns.shape[1]) < quota[:, None]]


def _env_snapshot(envs: gym.vector.VectorEnv) -> bytes:
    """The vector env's attributes (state and generators) as pickled bytes, for a checkpoint."""
    try:
        return pickle.dumps(vars(envs), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # lambdas, open handles, ... make an env unpicklable
        raise InvalidParameterError(
            f"The 'envs' parameter of train must be picklable (its attributes are saved in "
            f"every checkpoint) when checkpoint_every is set. Pickling "
            f"{type(envs).__name__} failed: {exc}"
        ) from None


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` ``state`` to a temporary file beside ``path``, then rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_checkpoint(
    path: Path, config: DQNConfig, seed: int, shape: tuple[int, int, int]
) -> dict[str, Any]:
    """Read a checkpoint of :func:`train` and check it belongs to this config, seed and env."""
    # weights_only=False: the file holds numpy arrays and pickled env state; only load
    # checkpoints you wrote yourself.
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    expected = {
        "format": CHECKPOINT_FORMAT,
        "config": config.model_dump(mode="json"),
        "seed": int(seed),
        "env_shape": list(shape),
    }
    for key, value in expected.items():
        if not isinstance(ckpt, dict) or ckpt.get(key) != value:
            raise InvalidParameterError(
                f"The checkpoint {str(path)!r} does not belong to this run: its {key!r} differs "
                f"(expected {value!r}). Delete it or call train with resume=False."
            )
    return ckpt


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    q_network : QNetwork
        The trained online network.
    episode_returns : ndarray of shape (E,)
        Undiscounted training-episode returns, in completion order.
    episode_end_steps : ndarray of shape (E,)
        Env steps (transitions, all sub-environments) collected when each episode ended.
    losses : ndarray of shape (U,)
        TD loss of every gradient step.
    eval_steps : ndarray of shape (K,)
        Env steps at which ``eval_fn`` ran.
    eval_returns : ndarray of shape (K,)
        Mean of ``eval_fn``'s result at those steps.
    wall_time_s : float
        Wall-clock duration of training, evaluations included (in s).
    env_steps : int
        Transitions collected.
    num_updates : int
        Gradient steps taken.
    """

    q_network: QNetwork
    episode_returns: NDArray[np.float64]
    episode_end_steps: NDArray[np.int64]
    losses: NDArray[np.float32]
    eval_steps: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    eval_returns: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    wall_time_s: float = 0.0
    env_steps: int = 0
    num_updates: int = 0

    @property
    def policy(self) -> QPolicy:
        """Greedy policy of the trained network."""
        return greedy_policy(self.q_network)


def train(
    config: DQNConfig,
    envs: gym.vector.VectorEnv,
    seed: int,
    *,
    eval_fn: Callable[[QPolicy], float | ArrayLike] | None = None,
    eval_every: int = 10_000,
    log_path: str | Path | None = None,
    on_log: Callable[[dict[str, Any]], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    checkpoint_path: str | Path | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
) -> TrainResult:
    """Train a (Double) DQN agent on a same-step-autoreset vector env.

    Parameters
    ----------
    config : DQNConfig
        Hyperparameters.
    envs : gymnasium.vector.VectorEnv
        B sub-environments with a 1-D ``Box`` observation, a ``Discrete`` action space and
        ``metadata["autoreset_mode"] == AutoresetMode.SAME_STEP``; reset here with ``seed``.
    seed : int
        Seeds torch (network initialisation), the numpy generator (exploration, replay
        sampling) and the env reset. Same config and seed give identical results.
    eval_fn : callable, optional
        Called with the greedy :class:`QPolicy` every ``eval_every`` env steps and at the end;
        returns a float or an array of returns (their mean is recorded).
    eval_every : int, default=10_000
        Env steps (transitions) between evaluations.
    log_path : str or Path, optional
        JSONL file (appended to): one ``config`` record, then ``charts/``, ``losses/`` and
        ``eval/`` records, flushed as written.
    on_log : callable, optional
        Called with every log record (with or without ``log_path``), e.g. a
        :class:`qnetrl.experiments.tensorboard.TensorBoardLogger`.
    progress : callable, optional
        Called as ``progress(env_steps, total_env_steps)`` about 200 times during training.
    checkpoint_path : str or Path, optional
        File of the training checkpoint (a ``torch.save`` dict); required with
        ``checkpoint_every`` or ``resume``.
    checkpoint_every : int, optional
        Env steps (transitions) between two checkpoints, at least 1; None writes none. Each
        checkpoint replaces the previous one atomically (temporary file, then rename).
    resume : bool, default=False
        Continue from ``checkpoint_path`` if it exists (else start afresh). The checkpoint must
        come from the same config, seed and env shape. A JSONL log at ``log_path`` is cut back
        to its length at the checkpoint, so no record is duplicated.

    Returns
    -------
    TrainResult
        The network, training curves and timing.

    Notes
    -----
    Truncated transitions bootstrap from the real final observation; terminated ones do not.
    Epsilon decays linearly from ``start_e`` to ``end_e`` over ``exploration_fraction`` of the
    env steps; the PER exponent beta grows linearly from ``per_beta0`` to 1 over training.
    The target network is refreshed (``target <- tau * online + (1 - tau) * target``) whenever
    ``target_update`` more episodes have ended (summed over sub-environments), or after every
    gradient step when ``target_update`` is 0. ``torch.set_num_threads(1)`` is applied.

    A checkpoint holds the online and target networks, the optimiser, every attribute of the
    replay buffer (its arrays included), the pickled attributes of ``envs`` (state and
    generators; ``envs`` must be picklable), the current observations and running returns,
    the numpy ``Generator``'s ``bit_generator.state``, torch's RNG state and all counters and
    curves. Resuming restores them instead of resetting ``envs``, so a run that is killed and
    resumed ends with exactly the numbers of an uninterrupted run (``wall_time_s`` aside).
    Without the checkpoint arguments nothing changes: no file is written, no state is read.
    """
    if not isinstance(config, DQNConfig):
        raise InvalidParameterError(
            f"The 'config' parameter of train must be a DQNConfig. Got {type(config).__name__}."
        )
    int_args: list[tuple[str, Any, int]] = [("seed", seed, 0), ("eval_every", eval_every, 1)]
    if checkpoint_every is not None:
        int_args.append(("checkpoint_every", checkpoint_every, 1))
    for name, value, low in int_args:
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise InvalidParameterError(
                f"The {name!r} parameter of train must be an int in the range [{low}, inf). "
                f"Got {value!r} instead."
            )
    if (checkpoint_every is not None or resume) and checkpoint_path is None:
        raise InvalidParameterError(
            "The 'checkpoint_path' parameter of train is required when checkpoint_every or "
            "resume is set. Got None instead."
        )
    num_envs, obs_dim, n_actions = _check_vector_env(envs, "train")
    if num_envs > config.buffer_size:
        raise InvalidParameterError(
            f"The 'buffer_size' field of DQNConfig must be at least num_envs={num_envs}. "
            f"Got {config.buffer_size} instead."
        )

    # seeding
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    device = torch.device(config.device)

    # networks and optimiser
    q_network = QNetwork(obs_dim, n_actions, config.hidden_sizes).to(device)
    target_network = QNetwork(obs_dim, n_actions, config.hidden_sizes).to(device)
    target_network.load_state_dict(q_network.state_dict())
    target_network.requires_grad_(False)
    optimizer = torch.optim.Adam(q_network.parameters(), lr=config.lr, fused=True)
    online_params = list(q_network.parameters())

    # storage
    per: PrioritizedReplayBuffer | None = None
    if config.prioritized:
        rb = per = PrioritizedReplayBuffer(
            config.buffer_size, obs_dim, alpha=config.per_alpha, eps=config.per_eps
        )
    else:
        rb = ReplayBuffer(config.buffer_size, obs_dim)
    # The sampled minibatch: preallocated numpy arrays filled in place by the buffer, seen by
    # torch through from_numpy views (no per-update tensor allocation); moved to the device
    # per update only when that is not the CPU.
    batch = rb.empty_batch(config.batch_size)
    host_batch = (
        torch.from_numpy(batch.obs),
        torch.from_numpy(batch.next_obs),
        torch.from_numpy(batch.actions).unsqueeze(1),  # (n, 1), as gather wants it
        torch.from_numpy(batch.rewards),
        torch.from_numpy(batch.terminated),
        torch.from_numpy(batch.weights),
    )
    on_cpu = device.type == "cpu"
    clip_grads = math.isfinite(config.grad_clip)
    num_iterations = config.num_iterations(num_envs)
    max_updates = math.ceil(num_iterations * config.updates_per_step) + 1
    losses = torch.zeros(max_updates, dtype=torch.float32, device=device)  # no host sync
    episode_returns: list[float] = []
    episode_end_steps: list[int] = []
    eval_steps: list[int] = []
    eval_returns: list[float] = []
    running_return = np.zeros(num_envs, dtype=np.float64)
    all_envs = np.arange(num_envs)

    ckpt_file = Path(checkpoint_path) if checkpoint_path is not None else None
    ckpt: dict[str, Any] | None = None
    if resume and ckpt_file is not None and ckpt_file.exists():
        ckpt = _load_checkpoint(ckpt_file, config, seed, (num_envs, obs_dim, n_actions))
        if log_path is not None and ckpt["log_offset"] is not None and Path(log_path).exists():
            with open(log_path, "r+b") as fh:  # drop records written after the checkpoint
                fh.truncate(min(ckpt["log_offset"], fh.seek(0, os.SEEK_END)))

    log_file = open(log_path, "a", encoding="utf-8") if log_path is not None else None

    def log(record: dict[str, Any]) -> None:
        if log_file is not None:
            log_file.write(json.dumps(record) + "\n")
            log_file.flush()
        if on_log is not None:
            on_log(record)

    if ckpt is None:
        log(
            {
                "type": "config",
                "config": config.model_dump(mode="json"),
                "seed": seed,
                "num_envs": num_envs,
                "obs_dim": obs_dim,
                "n_actions": n_actions,
            }
        )

    def run_eval(step: int) -> None:
        value = float(np.mean(np.asarray(eval_fn(greedy_policy(q_network)), dtype=np.float64)))
        eval_steps.append(step)
        eval_returns.append(value)
        log({"step": step, "eval/mean_return": value})

    loss_fn = nn.functional.mse_loss if config.loss == "mse" else nn.functional.smooth_l1_loss
    explore_steps = config.exploration_fraction * config.total_env_steps
    progress_every = max(1, num_iterations // 200)
    update_credit = 0.0
    num_updates = 0
    episodes_done = 0
    next_target_update = config.target_update
    next_eval = eval_every
    next_checkpoint = checkpoint_every or 0
    env_steps = 0
    first_iteration = 1
    start_time = time.perf_counter()

    def save_checkpoint(iteration: int) -> None:
        assert ckpt_file is not None
        state: dict[str, Any] = {
            "format": CHECKPOINT_FORMAT,
            "config": config.model_dump(mode="json"),
            "seed": int(seed),
            "env_shape": [num_envs, obs_dim, n_actions],
            "iteration": iteration,
            "env_steps": env_steps,
            "num_updates": num_updates,
            "episodes_done": episodes_done,
            "update_credit": update_credit,
            "next_target_update": next_target_update,
            "next_eval": next_eval,
            "next_checkpoint": next_checkpoint,
            "elapsed_s": time.perf_counter() - start_time,
            "obs": obs,
            "running_return": running_return,
            "episode_returns": episode_returns,
            "episode_end_steps": episode_end_steps,
            "eval_steps": eval_steps,
            "eval_returns": eval_returns,
            "losses": losses[:num_updates],
            "q_network": q_network.state_dict(),
            "target_network": target_network.state_dict(),
            "optimizer": optimizer.state_dict(),
            "replay": vars(rb),
            "envs": _env_snapshot(envs),
            "numpy_rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if device.type == "cuda" else None,
            "log_offset": log_file.tell() if log_file is not None else None,
        }
        _save_checkpoint(ckpt_file, state)

    try:
        if ckpt is None:
            obs, _ = envs.reset(seed=seed)
            obs = np.array(obs, dtype=np.float32)
            if checkpoint_every is not None:
                _env_snapshot(envs)  # fail now, not at the first checkpoint
        else:
            q_network.load_state_dict(ckpt["q_network"])
            target_network.load_state_dict(ckpt["target_network"])
            optimizer.load_state_dict(ckpt["optimizer"])
            vars(rb).update(ckpt["replay"])
            vars(envs).update(pickle.loads(ckpt["envs"]))
            rng.bit_generator.state = ckpt["numpy_rng"]
            torch.set_rng_state(ckpt["torch_rng"])
            if ckpt["cuda_rng"] is not None:
                torch.cuda.set_rng_state_all(ckpt["cuda_rng"])
            obs = np.asarray(ckpt["obs"], dtype=np.float32)
            running_return[:] = ckpt["running_return"]
            episode_returns[:] = ckpt["episode_returns"]
            episode_end_steps[:] = ckpt["episode_end_steps"]
            eval_steps[:] = ckpt["eval_steps"]
            eval_returns[:] = ckpt["eval_returns"]
            num_updates = int(ckpt["num_updates"])
            losses[:num_updates] = ckpt["losses"]
            env_steps = int(ckpt["env_steps"])
            episodes_done = int(ckpt["episodes_done"])
            update_credit = float(ckpt["update_credit"])
            next_target_update = int(ckpt["next_target_update"])
            next_eval = int(ckpt["next_eval"])
            next_checkpoint = int(ckpt["next_checkpoint"])
            first_iteration = int(ckpt["iteration"]) + 1
            start_time -= float(ckpt["elapsed_s"])
            log({"type": "resume", "step": env_steps, "charts/updates": num_updates})
        for iteration in range(first_iteration, num_iterations + 1):
            # batched epsilon-greedy action selection (one forward pass for all B envs)
            epsilon = linear_schedule(config.start_e, config.end_e, explore_steps, env_steps)
            explore = rng.random(num_envs) < epsilon
            actions = rng.integers(0, n_actions, size=num_envs, dtype=np.int64)
            if not explore.all():
                with torch.inference_mode():
                    q_values = q_network(torch.from_numpy(obs).to(device))
                    greedy = q_values.argmax(dim=1).cpu().numpy()
                actions = np.where(explore, actions, greedy)

            next_obs, rewards, terminations, truncations, infos = envs.step(actions)
            env_steps += num_envs
            stored_next = real_next_obs(next_obs, infos)
            rb.add(obs, actions, rewards, stored_next, terminations)
            obs = np.array(next_obs, dtype=np.float32)  # a copy: envs may reuse their buffer

            # episode bookkeeping
            running_return += rewards
            done = np.logical_or(terminations, truncations)
            if done.any():
                finished = all_envs[done]
                episode_returns.extend(running_return[finished].tolist())
                episode_end_steps.extend([env_steps] * finished.size)
                episodes_done += finished.size
                log(
                    {
                        "step": env_steps,
                        "charts/episodic_return": float(running_return[finished].mean()),
                        "charts/episodes": episodes_done,
                        "charts/epsilon": epsilon,
                    }
                )
                running_return[finished] = 0.0

            # gradient steps (update-to-data ratio updates_per_step)
            if env_steps >= max(config.learning_starts, config.batch_size):
                update_credit += config.updates_per_step
                n_updates = int(update_credit)
                update_credit -= n_updates
            else:
                n_updates = 0
            beta = config.per_beta0 + (1.0 - config.per_beta0) * min(
                1.0, env_steps / config.total_env_steps
            )
            for _ in range(n_updates):
                if per is not None:
                    per.sample(config.batch_size, rng, beta=beta, out=batch)
                else:
                    rb.sample(config.batch_size, rng, out=batch)
                if on_cpu:
                    x_obs, x_next, x_act, x_rew, x_term, x_weight = host_batch
                else:
                    x_obs, x_next, x_act, x_rew, x_term, x_weight = (
                        t.to(device) for t in host_batch
                    )
                with torch.no_grad():
                    target = td_target(
                        x_rew,
                        x_term,
                        target_network(x_next),
                        config.gamma,
                        next_q_online=q_network(x_next) if config.double else None,
                        double=config.double,
                    )
                q_sa = q_network(x_obs).gather(1, x_act).squeeze(1)
                if per is not None:
                    elementwise = loss_fn(q_sa, target, reduction="none")
                    loss = (x_weight * elementwise).mean()
                else:
                    loss = loss_fn(q_sa, target)
                for p in online_params:  # optimizer.zero_grad(set_to_none=True), minus overhead
                    p.grad = None
                loss.backward()
                if clip_grads:
                    _clip_grad_norm(
                        [p.grad for p in online_params if p.grad is not None], config.grad_clip
                    )
                optimizer.step()
                if per is not None:
                    per.update_priorities(batch.indices, (q_sa.detach() - target).cpu().numpy())
                losses[num_updates] = loss.detach()
                num_updates += 1
                if config.target_update == 0:
                    _soft_update(target_network, q_network, config.tau)
                if num_updates % config.log_every == 0:
                    log(
                        {
                            "step": env_steps,
                            "losses/td_loss": float(loss.detach()),
                            "losses/q_values": float(q_sa.detach().mean()),
                            "charts/SPS": env_steps / (time.perf_counter() - start_time),
                            "charts/updates": num_updates,
                        }
                    )

            if config.target_update > 0 and episodes_done >= next_target_update:
                _soft_update(target_network, q_network, config.tau)
                next_target_update = (episodes_done // config.target_update + 1) * (
                    config.target_update
                )

            if eval_fn is not None and env_steps >= next_eval:
                run_eval(env_steps)
                next_eval = (env_steps // eval_every + 1) * eval_every
            if progress is not None and (
                iteration % progress_every == 0 or iteration == num_iterations
            ):
                progress(env_steps, config.total_env_steps)
            if checkpoint_every is not None and env_steps >= next_checkpoint:
                next_checkpoint = (env_steps // checkpoint_every + 1) * checkpoint_every
                save_checkpoint(iteration)

        if eval_fn is not None and (not eval_steps or eval_steps[-1] != env_steps):
            run_eval(env_steps)
        wall_time_s = time.perf_counter() - start_time
        log(
            {
                "step": env_steps,
                "charts/SPS": env_steps / wall_time_s,
                "charts/updates_per_s": num_updates / wall_time_s,
                "charts/wall_time_s": wall_time_s,
            }
        )
    finally:
        if log_file is not None:
            log_file.close()

    return TrainResult(
        q_network=q_network,
        episode_returns=np.asarray(episode_returns, dtype=np.float64),
        episode_end_steps=np.asarray(episode_end_steps, dtype=np.int64),
        losses=losses[:num_updates].cpu().numpy().copy(),
        eval_steps=np.asarray(eval_steps, dtype=np.int64),
        eval_returns=np.asarray(eval_returns, dtype=np.float64),
        wall_time_s=wall_time_s,
        env_steps=env_steps,
        num_updates=num_updates,
    )
