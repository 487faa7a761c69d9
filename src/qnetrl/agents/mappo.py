"""Multi-agent PPO with independent per-agent policies held as stacked weights.

One readable file in the CleanRL ``ppo.py`` manner: the typed hyperparameters
(:class:`MAPPOConfig`), the batched networks (:class:`StackedLinear`, :class:`StackedMLP`,
:class:`MAPPOAgent`), small pure helpers (:func:`stacked_layer_init`, :func:`compute_gae`,
:func:`clip_grad_norm_per_agent_`), one clipped-surrogate update (:func:`ppo_update`), then the
training loop :func:`train`. Each of the A agents has its own actor and critic (PPO [1]_ with
GAE [2]_, as in independent PPO [4]_; ``centralized_critic=True`` gives every critic the joint
observation, the MAPPO critic of [3]_). The A networks are stored as stacked weights of shape
(A, ...) and evaluated in one ``torch.baddbmm`` per layer, never in a Python loop over agents;
losses are summed over agents and gradients clipped per agent, so training A stacked agents
is the same computation as training A separate networks. Implementation details follow
CleanRL as catalogued in [5]_. The loop drives the batched multi-agent interface documented
in :class:`BatchedMultiAgentEnv`; :class:`ParallelEnvBatch` adapts PettingZoo ParallelEnvs.

Paper: https://arxiv.org/abs/1707.06347 (PPO); https://arxiv.org/abs/2103.01955 (MAPPO).

References
----------
.. [1] J. Schulman, F. Wolski, P. Dhariwal, A. Radford and O. Klimov, "Proximal Policy
   Optimization Algorithms", arXiv:1707.06347, 2017.
.. [2] J. Schulman, P. Moritz, S. Levine, M. I. Jordan and P. Abbeel, "High-Dimensional
   Continuous Control Using Generalized Advantage Estimation", International Conference on
   Learning Representations (ICLR), 2016. arXiv:1506.02438.
.. [3] C. Yu, A. Velu, E. Vinitsky, J. Gao, Y. Wang, A. Bayen and Y. Wu, "The Surprising
   Effectiveness of PPO in Cooperative Multi-Agent Games", Advances in Neural Information
   Processing Systems 35 (Datasets and Benchmarks Track), 24611-24624, 2022.
   arXiv:2103.01955.
.. [4] C. Schroeder de Witt, T. Gupta, D. Makoviichuk, V. Makoviychuk, P. H. S. Torr, M. Sun
   and S. Whiteson, "Is Independent Learning All You Need in the StarCraft Multi-Agent
   Challenge?", arXiv:2011.09533, 2020.
.. [5] S. Huang, R. F. J. Dossa, A. Raffin, A. Kanervisto and W. Wang, "The 37 Implementation
   Details of Proximal Policy Optimization", ICLR Blog Track, 2022.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from pydantic import Field, PositiveInt
from torch import nn

from qnetrl._validation import InvalidParameterError, check_range
from qnetrl.agents.fedavg import FedAvgConfig, FederatedAveraging
from qnetrl.config import ConfigBase

__all__ = [
    "BatchedMultiAgentEnv",
    "MAPPOAgent",
    "MAPPOConfig",
    "MAPPOPolicy",
    "MAPPOResult",
    "ParallelEnvBatch",
    "StackedLinear",
    "StackedMLP",
    "clip_grad_norm_per_agent_",
    "compute_gae",
    "evaluate",
    "ppo_update",
    "stacked_layer_init",
    "train",
]


class MAPPOConfig(ConfigBase):
    """Hyperparameters of multi-agent PPO; defaults are CleanRL ``ppo.py``'s (Atari-free set).

    The seed is not part of the config: a run is a config plus a seed (see :func:`train`).
    """

    exp_name: str = Field("mappo", description="Name of the experiment, used in run names.")
    device: Literal["cpu", "cuda"] = Field("cpu", description="Torch device for the networks.")
    log_every: int = Field(1, ge=1, description="Iterations between two losses/ JSONL records.")

    # Algorithm specific arguments
    total_timesteps: int = Field(
        500_000, ge=1, description="Env steps to collect, summed over the B sub-environments."
    )
    lr: float = Field(2.5e-4, gt=0.0, le=1.0, description="Adam learning rate.")
    num_steps: int = Field(128, ge=1, description="Steps per sub-environment per rollout.")
    anneal_lr: bool = Field(True, description="Anneal the learning rate linearly to 0.")
    gamma: float = Field(0.99, ge=0.0, le=1.0, description="Discount factor.")
    gae_lambda: float = Field(0.95, ge=0.0, le=1.0, description="GAE lambda.")
    num_minibatches: int = Field(4, ge=1, description="Minibatches per update epoch.")
    update_epochs: int = Field(4, ge=1, description="Epochs over each rollout per update.")
    norm_adv: bool = Field(True, description="Normalise advantages per minibatch and agent.")
    clip_coef: float = Field(0.2, gt=0.0, description="Surrogate clipping coefficient epsilon.")
    clip_vloss: bool = Field(True, description="Clip the value loss as in CleanRL / PPO2.")
    ent_coef: float = Field(0.01, ge=0.0, description="Entropy bonus coefficient.")
    vf_coef: float = Field(0.5, ge=0.0, description="Value loss coefficient.")
    max_grad_norm: float = Field(
        0.5, gt=0.0, description="Max gradient L2 norm of each agent (math.inf: no clipping)."
    )
    target_kl: float | None = Field(
        None, gt=0.0, description="Stop the epochs early when the mean approx. KL exceeds it."
    )
    hidden_sizes: tuple[PositiveInt, ...] = Field(
        (64, 64), min_length=1, description="Widths of the hidden tanh layers (actor and critic)."
    )
    centralized_critic: bool = Field(
        False, description="Critic sees all agents' observations (MAPPO) instead of its own."
    )
    fedavg: FedAvgConfig = Field(
        default_factory=FedAvgConfig,
        description="Federated averaging (with optional DP) of the agents' weights.",
    )

    def batch_size(self, num_envs: int) -> int:
        """Transitions per agent in one rollout: ``num_steps * num_envs``."""
        return self.num_steps * num_envs

    def minibatch_size(self, num_envs: int) -> int:
        """Transitions per agent in one minibatch (at least 1)."""
        return max(1, self.batch_size(num_envs) // self.num_minibatches)

    def num_iterations(self, num_envs: int) -> int:
        """Rollout-and-update iterations needed to collect :attr:`total_timesteps`."""
        return max(1, self.total_timesteps // self.batch_size(num_envs))


# --------------------------------------------------------------------------------------------
# environment interface
# --------------------------------------------------------------------------------------------


@runtime_checkable
class BatchedMultiAgentEnv(Protocol):
    """The batched multi-agent interface :func:`train` drives (B copies, A homogeneous agents).

    Attributes
    ----------
    num_envs : int
        Number B of independent copies stepped together.
    num_agents : int
        Number A of agents in every copy, in a fixed order.
    single_observation_space : gymnasium.spaces.Box
        One agent's observation space, 1-D of length d.
    single_action_space : gymnasium.spaces.Discrete or gymnasium.spaces.MultiDiscrete
        One agent's action space (``start`` 0; MultiDiscrete 1-D with K components).

    Notes
    -----
    ``reset(rng)`` takes a ``numpy.random.Generator`` and returns observations, an array of
    shape (B, A, d). ``step(actions)`` takes an int array of shape (B, A) (Discrete) or
    (B, A, K) (MultiDiscrete) and returns ``(obs, rewards, dones, info)``:

    - ``obs``: ndarray of shape (B, A, d);
    - ``rewards``: ndarray of shape (B, A), one reward per agent;
    - ``dones``: bool ndarray of shape (B,), True where the episode of that copy ended at this
      step (all agents together). The copy resets itself in the same step: ``obs[b]`` is then
      the first observation of the next episode (same-step autoreset);
    - ``info``: dict. Optional keys: ``"final_obs"``, ndarray of shape (B, A, d), the last
      observation of the episodes that just ended, and ``"truncated"``, bool ndarray of shape
      (B,), True where the episode ended by truncation (time limit). Where both are present
      the critic's value of the final observation is bootstrapped into the last reward;
      otherwise every episode end is treated as a termination (CleanRL's behaviour).
    """

    num_envs: int
    num_agents: int
    single_observation_space: gym.spaces.Space
    single_action_space: gym.spaces.Space

    def reset(self, rng: np.random.Generator) -> NDArray[Any]:
        """Start new episodes in all copies; observations of shape (B, A, d)."""
        ...

    def step(
        self, actions: NDArray[np.int64]
    ) -> tuple[NDArray[Any], NDArray[Any], NDArray[np.bool_], dict[str, Any]]:
        """Advance all copies one step; see the class notes."""
        ...


class ParallelEnvBatch:
    """B PettingZoo ``ParallelEnv`` copies with homogeneous agents behind the batched interface.

    A thin adapter implementing :class:`BatchedMultiAgentEnv`: agents are ordered as in
    ``possible_agents``; observations are flattened with ``gymnasium.spaces.flatten``. A copy
    whose agents have all terminated or truncated (or whose ``agents`` list is empty) is reset
    in the same step; its last observation goes to ``info["final_obs"]``, and
    ``info["truncated"]`` is True when no agent terminated. An agent that leaves before the
    others gets zero observations and rewards until the episode ends and its actions are not
    sent. The loop over copies is PettingZoo's single-copy API; for speed expose the native
    batched core instead.

    Parameters
    ----------
    env_fns : sequence of callables
        Zero-argument callables, each returning a ``ParallelEnv``; all copies must have the
        same ``possible_agents`` and every agent the same observation and action spaces.
    """

    def __init__(self, env_fns: Sequence[Callable[[], Any]]) -> None:
        if len(env_fns) == 0:
            raise InvalidParameterError(
                "The 'env_fns' parameter of ParallelEnvBatch must hold at least one callable. "
                "Got an empty sequence instead."
            )
        self.envs = [fn() for fn in env_fns]
        self.possible_agents = list(self.envs[0].possible_agents)
        first = self.possible_agents[0]
        obs_space = self.envs[0].observation_space(first)
        act_space = self.envs[0].action_space(first)
        for env in self.envs:
            if list(env.possible_agents) != self.possible_agents:
                raise InvalidParameterError(
                    "The 'env_fns' parameter of ParallelEnvBatch must build copies with the "
                    f"same possible_agents. Got {env.possible_agents!r} and "
                    f"{self.possible_agents!r}."
                )
            for agent in self.possible_agents:
                if env.observation_space(agent) != obs_space or (
                    env.action_space(agent) != act_space
                ):
                    raise InvalidParameterError(
                        "The 'env_fns' parameter of ParallelEnvBatch must have homogeneous "
                        f"agents (same spaces). Agent {agent!r} differs from {first!r}."
                    )
        self.num_envs = len(self.envs)
        self.num_agents = len(self.possible_agents)
        self._obs_space = obs_space
        self.single_observation_space = gym.spaces.flatten_space(obs_space)
        self.single_action_space = act_space
        self._obs_dim = int(np.prod(self.single_observation_space.shape))

    def _obs_array(self, obs: dict[Any, Any]) -> NDArray[np.float32]:
        out = np.zeros((self.num_agents, self._obs_dim), dtype=np.float32)
        for i, agent in enumerate(self.possible_agents):
            if agent in obs:
                out[i] = gym.spaces.flatten(self._obs_space, obs[agent])
        return out

    def reset(self, rng: np.random.Generator) -> NDArray[np.float32]:
        """Reset every copy with a seed drawn from ``rng``; observations (B, A, d)."""
        seeds = rng.integers(0, 2**31 - 1, size=self.num_envs)
        return np.stack(
            [
                self._obs_array(env.reset(seed=int(s))[0])
                for env, s in zip(self.envs, seeds, strict=True)
            ]
        )

    def step(
        self, actions: ArrayLike
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.bool_], dict[str, Any]]:
        """Step every copy; see :class:`BatchedMultiAgentEnv` for the returned arrays."""
        actions = np.asarray(actions)
        b, a = self.num_envs, self.num_agents
        obs = np.zeros((b, a, self._obs_dim), dtype=np.float32)
        final_obs = np.zeros_like(obs)
        rewards = np.zeros((b, a), dtype=np.float32)
        dones = np.zeros(b, dtype=bool)
        truncated = np.zeros(b, dtype=bool)
        for i, env in enumerate(self.envs):
            live = list(env.agents)
            act = {agent: actions[i, self.possible_agents.index(agent)] for agent in live}
            o, r, term, trunc, _ = env.step(act)
            for j, agent in enumerate(self.possible_agents):
                rewards[i, j] = r.get(agent, 0.0)
            obs[i] = self._obs_array(o)
            ended = [term.get(ag, False) or trunc.get(ag, False) for ag in live]
            if all(ended) or not env.agents:
                dones[i] = True
                truncated[i] = not any(term.get(ag, False) for ag in live)
                final_obs[i] = obs[i]
                obs[i] = self._obs_array(env.reset()[0])
        return obs, rewards, dones, {"final_obs": final_obs, "truncated": truncated}


def _action_nvec(space: gym.spaces.Space, owner: str) -> tuple[tuple[int, ...], bool]:
    """(nvec, is_multidiscrete) of a Discrete / 1-D MultiDiscrete space with start 0."""
    if isinstance(space, gym.spaces.Discrete) and int(space.start) == 0:
        return (int(space.n),), False
    if (
        isinstance(space, gym.spaces.MultiDiscrete)
        and space.nvec.ndim == 1
        and not np.any(space.start)
    ):
        return tuple(int(n) for n in space.nvec), True
    raise InvalidParameterError(
        f"The 'envs' parameter of {owner} must have a Discrete or 1-D MultiDiscrete "
        f"single_action_space with start 0. Got {space!r} instead."
    )


def _as_batched_env(envs: Any, owner: str) -> tuple[Any, int, int, int, tuple[int, ...], bool]:
    """Wrap env thunks if needed and check the contract; return (env, B, A, d, nvec, multi)."""
    if isinstance(envs, Sequence) and envs and all(callable(f) for f in envs):
        envs = ParallelEnvBatch(envs)
    if not isinstance(envs, BatchedMultiAgentEnv):
        raise InvalidParameterError(
            f"The 'envs' parameter of {owner} must implement BatchedMultiAgentEnv (num_envs, "
            "num_agents, single_observation_space, single_action_space, reset, step) or be a "
            f"sequence of ParallelEnv thunks. Got {type(envs).__name__} instead."
        )
    obs_space = envs.single_observation_space
    if not (isinstance(obs_space, gym.spaces.Box) and len(obs_space.shape) == 1):
        raise InvalidParameterError(
            f"The 'envs' parameter of {owner} must have a 1-D Box single_observation_space. "
            f"Got {obs_space!r} instead."
        )
    nvec, multi = _action_nvec(envs.single_action_space, owner)
    return envs, int(envs.num_envs), int(envs.num_agents), int(obs_space.shape[0]), nvec, multi


# --------------------------------------------------------------------------------------------
# stacked networks
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def stacked_layer_init(
    layer: StackedLinear,
    std: float = math.sqrt(2.0),
    bias_const: float = 0.0,
    *,
    generator: torch.Generator | None = None,
) -> StackedLinear:
    """CleanRL's ``layer_init`` per agent: orthogonal weights with gain ``std``, constant bias.

    Each agent's (out, in) weight matrix is an independent orthogonal draw (one batched QR,
    with the sign correction of ``torch.nn.init.orthogonal_``), from ``generator`` or, when
    it is None, the global torch RNG.
    """
    a, n_in, n_out = layer.weight.shape
    rows, cols = n_out, n_in
    flat = torch.randn(
        a, rows, cols, generator=generator, dtype=layer.weight.dtype, device=layer.weight.device
    )
    if rows < cols:
        flat = flat.transpose(1, 2)
    q, r = torch.linalg.qr(flat)
    q = q * torch.sign(torch.diagonal(r, dim1=1, dim2=2)).unsqueeze(1)
    if rows < cols:
        q = q.transpose(1, 2)
    layer.weight.copy_(std * q.transpose(1, 2))  # stored as (A, in, out)
    layer.bias.fill_(bias_const)
    return layer


class StackedLinear(nn.Module):
    """A independent affine maps ``y[a] = x[a] @ weight[a] + bias[a]`` in one ``bmm``.

    Parameters
    ----------
    num_agents : int
        Number A of stacked maps.
    in_features, out_features : int
        Input and output widths.
    std : float, default=sqrt(2)
        Orthogonal-initialisation gain (:func:`stacked_layer_init`).
    bias_const : float, default=0.0
        Initial bias.
    generator : torch.Generator, optional
        Random source of the initialisation (default: the global torch RNG).

    Attributes
    ----------
    weight : torch.nn.Parameter of shape (A, in_features, out_features)
        Agent ``a``'s ``nn.Linear.weight`` transposed.
    bias : torch.nn.Parameter of shape (A, out_features)
        Agent ``a``'s ``nn.Linear.bias``.
    """

    def __init__(
        self,
        num_agents: int,
        in_features: int,
        out_features: int,
        *,
        std: float = math.sqrt(2.0),
        bias_const: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_agents, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(num_agents, out_features))
        stacked_layer_init(self, std, bias_const, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map agent-major inputs (A, N, in_features) to (A, N, out_features)."""
        # bmm then an in-place broadcast add: on CPU this is about 2x faster than baddbmm,
        # which first copies the broadcast bias into the output.
        return torch.bmm(x, self.weight).add_(self.bias.unsqueeze(1))

    @classmethod
    def from_linears(cls, linears: Sequence[nn.Linear]) -> StackedLinear:
        """Stack the weights of A ``nn.Linear`` layers of equal shape (copies, not views)."""
        w0 = linears[0].weight
        layer = cls(len(linears), w0.shape[1], w0.shape[0])
        with torch.no_grad():
            layer.weight.copy_(torch.stack([lin.weight.detach().T for lin in linears]))
            layer.bias.copy_(torch.stack([lin.bias.detach() for lin in linears]))
        return layer.to(device=w0.device, dtype=w0.dtype)

    def linear(self, agent: int) -> nn.Linear:
        """Agent ``agent``'s map as a standalone ``nn.Linear`` (a copy)."""
        n_in, n_out = self.weight.shape[1:]
        lin = nn.Linear(n_in, n_out)
        with torch.no_grad():
            lin.weight.copy_(self.weight[agent].T)
            lin.bias.copy_(self.bias[agent])
        return lin.to(self.weight.device)


class _SigmoidTanhFunction(torch.autograd.Function):
    """``tanh(x) = 2 sigmoid(2x) - 1`` forward, the exact ``tanh`` derivative backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, inplace: bool) -> torch.Tensor:
        if inplace:
            ctx.mark_dirty(x)
            y = x.mul_(2.0).sigmoid_().mul_(2.0).sub_(1.0)
        else:
            y = torch.sigmoid(x * 2.0).mul_(2.0).sub_(1.0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (y,) = ctx.saved_tensors
        return torch.ops.aten.tanh_backward(grad, y), None


class SigmoidTanh(nn.Module):
    """``tanh`` computed as ``2 sigmoid(2x) - 1`` (absolute error below 2.5e-7 in float32).

    On x86 CPUs torch 2.13's ``tanh`` kernel runs at about 3 ns per float32 element and its
    ``sigmoid`` about 7x faster; on the (A, N, 64) activations of a stacked update ``tanh`` was
    the largest single cost. The gradient is ``tanh``'s, ``1 - y**2``.

    Parameters
    ----------
    inplace : bool, default=False
        Overwrite the input (it must not be needed elsewhere, e.g. a fresh layer output);
        saves an allocation and three passes over memory.
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Element-wise ``tanh`` of ``x``."""
        return _SigmoidTanhFunction.apply(x, self.inplace)  # type: ignore[no-any-return]


#: Stacked activation by name, and the standalone module of one agent's copy.
_ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": SigmoidTanh, "relu": nn.ReLU}
_STANDALONE: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


class StackedMLP(nn.Module):
    """A independent MLPs with stacked weights, evaluated in one batched pass per layer.

    Parameters
    ----------
    num_agents : int
        Number A of MLPs.
    in_features : int
        Input width.
    hidden_sizes : sequence of int
        Widths of the hidden layers.
    out_features : int
        Output width.
    activation : {"tanh", "relu"}, default="tanh"
        Hidden activation.
    out_std : float, default=1.0
        Orthogonal gain of the output layer (CleanRL: 0.01 actor, 1.0 critic).
    """

    def __init__(
        self,
        num_agents: int,
        in_features: int,
        hidden_sizes: Sequence[int],
        out_features: int,
        *,
        activation: Literal["tanh", "relu"] = "tanh",
        out_std: float = 1.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden_sizes:
            act = SigmoidTanh(inplace=True) if activation == "tanh" else nn.ReLU(inplace=True)
            layers += [StackedLinear(num_agents, width, h), act]
            width = h
        layers.append(StackedLinear(num_agents, width, out_features, std=out_std))
        self.network = nn.Sequential(*layers)
        self.num_agents = num_agents
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map agent-major inputs (A, N, in_features) to (A, N, out_features)."""
        return self.network(x)

    @classmethod
    def from_sequentials(cls, nets: Sequence[nn.Sequential]) -> StackedMLP:
        """Stack A ``nn.Sequential`` MLPs (Linear, activation, ..., Linear) of equal shapes."""
        linears = [[m for m in net if isinstance(m, nn.Linear)] for net in nets]
        acts = {type(m) for net in nets for m in net if not isinstance(m, nn.Linear)}
        names = [k for k in _ACTIVATIONS if acts <= {_ACTIVATIONS[k], _STANDALONE[k]}]
        if len(names) != 1:
            raise InvalidParameterError(
                "The 'nets' parameter of StackedMLP.from_sequentials must alternate nn.Linear "
                f"and one activation of {sorted(_ACTIVATIONS)}. Got {sorted(map(str, acts))}."
            )
        first = linears[0]
        mlp = cls(
            len(nets),
            first[0].in_features,
            [lin.out_features for lin in first[:-1]],
            first[-1].out_features,
            activation=names[0],  # type: ignore[arg-type]
        )
        stacked = [m for m in mlp.network if isinstance(m, StackedLinear)]
        for i, layer in enumerate(stacked):
            src = StackedLinear.from_linears([lins[i] for lins in linears])
            with torch.no_grad():
                layer.weight.copy_(src.weight)
                layer.bias.copy_(src.bias)
        return mlp

    def agent_network(self, agent: int) -> nn.Sequential:
        """Agent ``agent``'s MLP as a standalone ``nn.Sequential`` (a copy)."""
        mods = [
            m.linear(agent) if isinstance(m, StackedLinear) else _STANDALONE[self.activation]()
            for m in self.network
        ]
        return nn.Sequential(*mods)


def clip_grad_norm_per_agent_(parameters: Iterable[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Clip each agent's gradient to L2 norm ``max_norm`` (``clip_grad_norm_`` per agent).

    Every parameter is stacked along a leading agent axis A; agent ``a``'s norm is taken over
    slice ``a`` of all gradients, so the result equals ``torch.nn.utils.clip_grad_norm_``
    applied to A separate networks.

    Parameters
    ----------
    parameters : iterable of Tensor
        Stacked parameters of shapes (A, ...); those without a gradient are skipped.
    max_norm : float
        Largest allowed norm (``math.inf``: only compute the norms).

    Returns
    -------
    Tensor of shape (A,)
        Each agent's gradient norm before clipping.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.zeros(0)
    sq = torch.stack([g.detach().reshape(g.shape[0], -1).pow(2).sum(1) for g in grads])
    norms = sq.sum(0).sqrt()
    if math.isfinite(max_norm):
        coef = (max_norm / (norms + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.detach().mul_(coef.view(-1, *([1] * (g.dim() - 1))))
    return norms


class MAPPOAgent(nn.Module):
    """A actor-critic pairs with stacked weights (CleanRL's PPO ``Agent``, batched over agents).

    Inputs and outputs are batch-first: observations (N, A, d) give actions (N, A, K),
    log-probabilities, entropies and values of shape (N, A). Internally the stacked networks
    run agent-major, (A, N, ...).

    Parameters
    ----------
    num_agents : int
        Number A of agents.
    obs_dim : int
        Observation length d of one agent.
    nvec : sequence of int
        Choices of each of the K action components (``(n,)`` for ``Discrete(n)``).
    hidden_sizes : sequence of int, default=(64, 64)
        Hidden tanh widths of actor and critic.
    centralized_critic : bool, default=False
        Feed each critic the concatenated observations of all agents (A * d inputs).
    """

    def __init__(
        self,
        num_agents: int,
        obs_dim: int,
        nvec: Sequence[int],
        hidden_sizes: Sequence[int] = (64, 64),
        *,
        centralized_critic: bool = False,
    ) -> None:
        super().__init__()
        self.num_agents, self.obs_dim = num_agents, obs_dim
        self.nvec = tuple(int(n) for n in nvec)
        self.centralized_critic = centralized_critic
        critic_in = num_agents * obs_dim if centralized_critic else obs_dim
        self.critic = StackedMLP(num_agents, critic_in, hidden_sizes, 1, out_std=1.0)
        self.actor = StackedMLP(num_agents, obs_dim, hidden_sizes, sum(self.nvec), out_std=0.01)
        n = torch.tensor(self.nvec)
        n_max = int(n.max())
        cols = torch.arange(n_max)
        mask = cols[None, :] < n[:, None]  # (K, n_max)
        offsets = torch.cumsum(n, 0) - n
        index = torch.where(mask, offsets[:, None] + cols[None, :], 0)
        self.register_buffer("_pad_index", index.reshape(-1), persistent=False)
        self.register_buffer("_pad_mask", mask, persistent=False)

    def _critic_input(self, x: torch.Tensor) -> torch.Tensor:
        if not self.centralized_critic:
            return x
        a, n, d = x.shape
        joint = x.transpose(0, 1).reshape(1, n, a * d)
        return joint.expand(a, n, a * d)

    def get_value(self, obs: torch.Tensor) -> torch.Tensor:
        """Critic values (N, A) of observations (N, A, d)."""
        x = obs.transpose(0, 1)
        return self.critic(self._critic_input(x)).squeeze(-1).transpose(0, 1)

    def log_probs(self, obs: torch.Tensor) -> torch.Tensor:
        """Per-component action log-probabilities (A, N, K, max(nvec)), padding at -1e9."""
        logits = self.actor(obs.transpose(0, 1))
        a, n, _ = logits.shape
        if len(self.nvec) == 1:
            padded = logits.unsqueeze(2)
        else:
            padded = logits[..., self._pad_index].view(a, n, *self._pad_mask.shape)
            padded = padded.masked_fill(~self._pad_mask, -1e9)
        return torch.log_softmax(padded, dim=-1)

    def get_action_and_value(
        self,
        obs: torch.Tensor,
        action: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sampled (or given) actions with their log-probability, entropy and value.

        Parameters
        ----------
        obs : Tensor of shape (N, A, d)
            Observations.
        action : Tensor of shape (N, A, K), optional
            Actions to score; sampled from the policy when omitted.
        generator : torch.Generator, optional
            Random source of the sampling.

        Returns
        -------
        action : Tensor of shape (N, A, K), int64
        logprob, entropy, value : Tensors of shape (N, A)
            Joint log-probability and entropy summed over the K components.
        """
        logp = self.log_probs(obs)  # (A, N, K, n_max)
        if action is None:
            probs = logp.exp().reshape(-1, logp.shape[-1])
            sample = torch.multinomial(probs, 1, generator=generator).view(logp.shape[:-1])
        else:
            sample = action.transpose(0, 1)
        logprob = logp.gather(-1, sample.unsqueeze(-1)).squeeze(-1).sum(-1)
        entropy = -(logp.exp() * logp).sum(-1).sum(-1)
        value = self.critic(self._critic_input(obs.transpose(0, 1))).squeeze(-1)
        return sample.transpose(0, 1), logprob.T, entropy.T, value.T


class MAPPOPolicy:
    """Policy of a :class:`MAPPOAgent` as a callable: obs (B, A, d) -> int64 actions.

    Parameters
    ----------
    agent : MAPPOAgent
        The networks.
    deterministic : bool, default=True
        Take each component's most likely action; otherwise sample with ``generator``.
    multidiscrete : bool, default=False
        Return (B, A, K) actions; otherwise (B, A) (the single Discrete component).
    generator : torch.Generator, optional
        Random source when sampling.
    """

    def __init__(
        self,
        agent: MAPPOAgent,
        *,
        deterministic: bool = True,
        multidiscrete: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        self.agent = agent
        self.deterministic = deterministic
        self.multidiscrete = multidiscrete
        self.generator = generator
        self.device = next(agent.parameters()).device

    def __call__(self, obs: ArrayLike) -> NDArray[np.int64]:
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
        with torch.inference_mode():
            if self.deterministic:
                act = self.agent.log_probs(x).argmax(-1).transpose(0, 1)
            else:
                act = self.agent.get_action_and_value(x, generator=self.generator)[0]
        out = act.cpu().numpy()
        return out if self.multidiscrete else out[..., 0]


# --------------------------------------------------------------------------------------------
# pure helpers
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    next_value: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and returns, computed backwards in time.

    Parameters
    ----------
    rewards : Tensor of shape (T, ...)
        Reward of each transition, e.g. (T, B, A).
    values : Tensor of shape (T, ...)
        Critic values :math:`V(s_t)` of the states acted in.
    dones : Tensor of shape (T, ...), broadcastable to ``rewards``
        1 where the episode ended at step ``t`` (so :math:`s_{t+1}` starts a new episode and is
        not bootstrapped), else 0; e.g. (T, B, 1).
    next_value : Tensor of shape ``rewards.shape[1:]``
        :math:`V(s_T)` of the observation after the last step.
    gamma : float
        Discount factor in [0, 1].
    lam : float
        GAE parameter :math:`\\lambda` in [0, 1].

    Returns
    -------
    advantages : Tensor of shape (T, ...)
        :math:`\\hat A_t`.
    returns : Tensor of shape (T, ...)
        :math:`\\hat A_t + V(s_t)`, the critic's regression target.

    Notes
    -----
    Eqs. 11-12 of [1]_ (Eq. 16 of [2]_), truncated at the rollout end and at episode ends:

    .. math::

        \\delta_t = r_t + \\gamma (1 - d_t) V(s_{t+1}) - V(s_t), \\qquad
        \\hat A_t = \\delta_t + \\gamma \\lambda (1 - d_t) \\hat A_{t+1}.

    CleanRL stores the done flag of the *next* observation; here ``dones[t]`` belongs to
    transition ``t`` itself, which is the same mask shifted by one.

    Examples
    --------
    >>> r, v = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5, 1.0, 1.5])
    >>> adv, ret = compute_gae(r, v, torch.tensor([0.0, 1.0, 0.0]), torch.tensor(2.0), 0.5, 0.5)
    >>> adv.tolist(), ret.tolist()
    ([1.25, 1.0, 2.5], [1.75, 2.0, 4.0])
    """
    advantages = torch.zeros_like(rewards)
    lastgaelam = torch.zeros_like(next_value)
    num_steps = rewards.shape[0]
    for t in reversed(range(num_steps)):
        nextnonterminal = 1.0 - dones[t].to(rewards.dtype)
        nextvalues = next_value if t == num_steps - 1 else values[t + 1]
        delta = rewards[t] + gamma * nextvalues * nextnonterminal - values[t]
        lastgaelam = delta + gamma * lam * nextnonterminal * lastgaelam
        advantages[t] = lastgaelam
    return advantages, advantages + values


def ppo_update(
    agent: MAPPOAgent,
    optimizer: torch.optim.Optimizer,
    b_obs: torch.Tensor,
    b_actions: torch.Tensor,
    b_logprobs: torch.Tensor,
    b_advantages: torch.Tensor,
    b_returns: torch.Tensor,
    b_values: torch.Tensor,
    config: MAPPOConfig,
    *,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """One PPO update (``update_epochs`` x ``num_minibatches`` steps) of all agents at once.

    Parameters
    ----------
    agent : MAPPOAgent
        Networks to update.
    optimizer : torch.optim.Optimizer
        Optimiser over ``agent.parameters()``.
    b_obs : Tensor of shape (N, A, d)
        Observations of the flattened rollout (N = num_steps * num_envs).
    b_actions : Tensor of shape (N, A, K)
        Actions taken.
    b_logprobs, b_advantages, b_returns, b_values : Tensors of shape (N, A)
        Log-probabilities and values at collection time, GAE advantages and returns.
    config : MAPPOConfig
        Hyperparameters (clip, coefficients, epochs, minibatches, norms).
    generator : torch.Generator, optional
        Random source of the minibatch permutations.

    Returns
    -------
    dict
        ``losses/value_loss``, ``losses/policy_loss``, ``losses/entropy`` (last minibatch),
        ``losses/old_approx_kl``, ``losses/approx_kl``, ``losses/clipfrac`` and
        ``losses/explained_variance``, each averaged over agents.

    Notes
    -----
    Per agent, the clipped surrogate (Eq. 7 of [1]_), the (clipped) value loss and the entropy
    bonus combine as in Eq. 9 of [1]_: ``loss = pg_loss - ent_coef * entropy_loss + vf_coef *
    v_loss``. The A losses are summed, so each agent's gradient is exactly its own; the
    gradient norm is clipped per agent (:func:`clip_grad_norm_per_agent_`) and advantages are
    normalised per agent, so no statistic couples the agents.
    """
    n = b_obs.shape[0]
    minibatch_size = max(1, n // config.num_minibatches)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    clipfracs: list[torch.Tensor] = []
    pg_loss = v_loss = entropy_loss = approx_kl = old_approx_kl = torch.zeros(())
    for _epoch in range(config.update_epochs):
        b_inds = torch.randperm(n, generator=generator, device=b_obs.device)
        for start in range(0, n, minibatch_size):
            mb_inds = b_inds[start : start + minibatch_size]
            _, newlogprob, entropy, newvalue = agent.get_action_and_value(
                b_obs[mb_inds], b_actions[mb_inds]
            )
            logratio = newlogprob - b_logprobs[mb_inds]
            ratio = logratio.exp()

            with torch.no_grad():
                # http://joschu.net/blog/kl-approx.html
                old_approx_kl = (-logratio).mean(0)
                approx_kl = ((ratio - 1) - logratio).mean(0)
                clipfracs.append(((ratio - 1.0).abs() > config.clip_coef).float().mean(0))

            mb_advantages = b_advantages[mb_inds]
            if config.norm_adv and mb_advantages.shape[0] > 1:
                mb_advantages = (mb_advantages - mb_advantages.mean(0)) / (
                    mb_advantages.std(0) + 1e-8
                )

            # policy loss (per agent)
            pg_loss1 = -mb_advantages * ratio
            pg_loss2 = -mb_advantages * torch.clamp(
                ratio, 1 - config.clip_coef, 1 + config.clip_coef
            )
            pg_loss = torch.max(pg_loss1, pg_loss2).mean(0)

            # value loss (per agent)
            mb_returns = b_returns[mb_inds]
            if config.clip_vloss:
                v_loss_unclipped = (newvalue - mb_returns) ** 2
                v_clipped = b_values[mb_inds] + torch.clamp(
                    newvalue - b_values[mb_inds], -config.clip_coef, config.clip_coef
                )
                v_loss_clipped = (v_clipped - mb_returns) ** 2
                v_loss = 0.5 * torch.max(v_loss_unclipped, v_loss_clipped).mean(0)
            else:
                v_loss = 0.5 * ((newvalue - mb_returns) ** 2).mean(0)

            entropy_loss = entropy.mean(0)
            loss = (pg_loss - config.ent_coef * entropy_loss + v_loss * config.vf_coef).sum()

            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            clip_grad_norm_per_agent_(params, config.max_grad_norm)
            optimizer.step()

        if config.target_kl is not None and float(approx_kl.mean()) > config.target_kl:
            break

    with torch.no_grad():
        var_y = b_returns.var(0)
        explained_var = 1.0 - (b_returns - b_values).var(0) / var_y
        explained_var = torch.where(var_y > 0, explained_var, torch.nan)
        ev = float(explained_var.nanmean()) if bool(torch.isfinite(explained_var).any()) else 0.0
    return {
        "losses/value_loss": float(v_loss.detach().mean()),
        "losses/policy_loss": float(pg_loss.detach().mean()),
        "losses/entropy": float(entropy_loss.detach().mean()),
        "losses/old_approx_kl": float(old_approx_kl.mean()),
        "losses/approx_kl": float(approx_kl.mean()),
        "losses/clipfrac": float(torch.stack(clipfracs).mean()),
        "losses/explained_variance": ev,
    }


def evaluate(
    policy: Callable[[NDArray[Any]], ArrayLike],
    envs: BatchedMultiAgentEnv,
    n_episodes: int,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Per-agent undiscounted returns of ``n_episodes`` episodes of ``policy`` on ``envs``.

    Episodes are split as evenly as possible over the B copies; each copy contributes its
    first episodes only, so that short episodes are not over-represented.

    Parameters
    ----------
    policy : callable
        Maps observations (B, A, d) to actions (B, A) or (B, A, K).
    envs : BatchedMultiAgentEnv
        The environment, reset here with ``rng``.
    n_episodes : int
        Number of episodes (at least 1).
    rng : numpy.random.Generator
        Random source of the reset.

    Returns
    -------
    ndarray of shape (n_episodes, A)
        Returns grouped by copy, in completion order within each.
    """
    check_range("n_episodes", n_episodes, owner="evaluate", low=1)
    envs, num_envs, num_agents, _, _, _ = _as_batched_env(envs, "evaluate")
    n_episodes = int(n_episodes)
    quota = np.full(num_envs, n_episodes // num_envs, dtype=np.int64)
    quota[: n_episodes % num_envs] += 1
    returns = np.zeros((num_envs, int(quota.max(initial=0)), num_agents), dtype=np.float64)
    count = np.zeros(num_envs, dtype=np.int64)
    running = np.zeros((num_envs, num_agents), dtype=np.float64)
    obs = envs.reset(rng)
    while np.any(count < quota):
        obs, rewards, dones, _ = envs.step(np.asarray(policy(obs)))
        running += rewards
        dones = np.asarray(dones, dtype=bool)
        record = dones & (count < quota)
        if record.any():
            idx = np.flatnonzero(record)
            returns[idx, count[idx]] = running[idx]
            count[idx] += 1
        running[dones] = 0.0
    return returns[np.arange(returns.shape[1]) < quota[:, None]]


@dataclass
class MAPPOResult:
    """What :func:`train` returns.

    Attributes
    ----------
    agent : MAPPOAgent
        The trained networks.
    episode_returns : ndarray of shape (E, A)
        Undiscounted per-agent returns of the training episodes, in completion order.
    episode_end_steps : ndarray of shape (E,)
        Env steps (all copies) collected when each episode ended.
    stats : dict of str to ndarray of shape (U,)
        The :func:`ppo_update` statistics of every iteration.
    eval_steps : ndarray of shape (K,)
        Env steps at which ``eval_fn`` ran.
    eval_returns : ndarray of shape (K,)
        Mean of ``eval_fn``'s result at those steps.
    wall_time_s : float
        Wall-clock duration of training, evaluations included (in s).
    update_time_s : float
        Time spent in :func:`ppo_update` (in s).
    env_steps : int
        Env steps collected (all copies).
    num_updates : int
        PPO updates (iterations) done.
    fedavg_rounds : int
        Federated-averaging rounds done.
    epsilon : float or None
        Final privacy loss (PLD accountant) of the DP-FedAvg rounds; ``math.inf`` for
        averaging without DP; None when federated averaging is off.
    """

    agent: MAPPOAgent
    episode_returns: NDArray[np.float64]
    episode_end_steps: NDArray[np.int64]
    stats: dict[str, NDArray[np.float64]]
    eval_steps: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    eval_returns: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    wall_time_s: float = 0.0
    update_time_s: float = 0.0
    env_steps: int = 0
    num_updates: int = 0
    fedavg_rounds: int = 0
    epsilon: float | None = None

    def policy(self, *, deterministic: bool = True) -> MAPPOPolicy:
        """Policy of the trained agent (greedy by default)."""
        return MAPPOPolicy(
            self.agent, deterministic=deterministic, multidiscrete=len(self.agent.nvec) > 1
        )


def train(
    config: MAPPOConfig,
    envs: BatchedMultiAgentEnv | Sequence[Callable[[], Any]],
    seed: int,
    *,
    eval_fn: Callable[[MAPPOPolicy], float | ArrayLike] | None = None,
    eval_every: int = 50_000,
    log_path: str | Path | None = None,
    on_log: Callable[[dict[str, Any]], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> MAPPOResult:
    """Train A independent PPO agents (stacked weights) on a batched multi-agent env.

    Parameters
    ----------
    config : MAPPOConfig
        Hyperparameters.
    envs : BatchedMultiAgentEnv or sequence of callables
        The batched env (see :class:`BatchedMultiAgentEnv`), or zero-argument callables
        returning PettingZoo ``ParallelEnv`` copies with homogeneous agents (wrapped in
        :class:`ParallelEnvBatch`). Reset here with a generator seeded by ``seed``.
    seed : int
        Seeds torch (initialisation), the torch generator of action sampling and minibatch
        order, the env resets and the federated-averaging draws. Same config and seed give
        identical results.
    eval_fn : callable, optional
        Called with the greedy :class:`MAPPOPolicy` every ``eval_every`` env steps and at the
        end; returns a float or an array of returns (their mean is recorded).
    eval_every : int, default=50_000
        Env steps between evaluations.
    log_path : str or Path, optional
        JSONL file (appended to): one ``config`` record, then ``charts/``, ``losses/`` and
        ``eval/`` records, flushed as written.
    on_log : callable, optional
        Called with every log record (with or without ``log_path``), e.g. a
        :class:`qnetrl.experiments.tensorboard.TensorBoardLogger`.
    progress : callable, optional
        Called as ``progress(env_steps, total_timesteps)`` after every iteration.

    Returns
    -------
    MAPPOResult
        The agent, training curves, timing and privacy figure.

    Notes
    -----
    Storage is preallocated as (num_steps, num_envs, A, ...). Truncated episode ends
    bootstrap the critic's value of ``info["final_obs"]`` into the last reward; terminations
    do not. When ``config.fedavg.enabled``, all agents start from their mean weights and the
    weights are federated-averaged (with DP if asked) after every ``every_k_updates``
    updates; Adam's moment estimates are kept per agent across rounds.
    ``torch.set_num_threads(1)`` is applied.
    """
    if not isinstance(config, MAPPOConfig):
        raise InvalidParameterError(
            f"The 'config' parameter of train must be a MAPPOConfig. Got {type(config).__name__}."
        )
    for name, value, low in (("seed", seed, 0), ("eval_every", eval_every, 1)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise InvalidParameterError(
                f"The {name!r} parameter of train must be an int in the range [{low}, inf). "
                f"Got {value!r} instead."
            )
    envs, num_envs, num_agents, obs_dim, nvec, multi = _as_batched_env(envs, "train")
    num_components = len(nvec)

    # seeding
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    fed_rng = np.random.default_rng([seed, 1])
    device = torch.device(config.device)
    generator = torch.Generator(device=device).manual_seed(seed)

    # networks and optimiser
    agent = MAPPOAgent(
        num_agents,
        obs_dim,
        nvec,
        config.hidden_sizes,
        centralized_critic=config.centralized_critic,
    ).to(device)
    averager: FederatedAveraging | None = None
    if config.fedavg.enabled:
        shared = agent.parameters() if config.fedavg.share_critic else agent.actor.parameters()
        averager = FederatedAveraging(config.fedavg, list(shared), fed_rng)
    optimizer = torch.optim.Adam(agent.parameters(), lr=config.lr, eps=1e-5, fused=True)

    # storage
    shape = (config.num_steps, num_envs, num_agents)
    obs = torch.zeros((*shape, obs_dim), device=device)
    actions = torch.zeros((*shape, num_components), dtype=torch.long, device=device)
    logprobs = torch.zeros(shape, device=device)
    rewards = torch.zeros(shape, device=device)
    dones = torch.zeros((config.num_steps, num_envs), device=device)
    values = torch.zeros(shape, device=device)

    num_iterations = config.num_iterations(num_envs)
    stats: dict[str, list[float]] = {}
    episode_returns: list[NDArray[np.float64]] = []
    episode_end_steps: list[int] = []
    eval_steps: list[int] = []
    eval_returns: list[float] = []
    running_return = np.zeros((num_envs, num_agents), dtype=np.float64)

    log_file = open(log_path, "a", encoding="utf-8") if log_path is not None else None

    def log(record: dict[str, Any]) -> None:
        if log_file is not None:
            log_file.write(json.dumps(record) + "\n")
            log_file.flush()
        if on_log is not None:
            on_log(record)

    log(
        {
            "type": "config",
            "config": config.model_dump(mode="json"),
            "seed": seed,
            "num_envs": num_envs,
            "num_agents": num_agents,
            "obs_dim": obs_dim,
            "nvec": list(nvec),
        }
    )

    def run_eval(step: int) -> None:
        policy = MAPPOPolicy(agent, deterministic=True, multidiscrete=multi)
        value = float(np.mean(np.asarray(eval_fn(policy), dtype=np.float64)))
        eval_steps.append(step)
        eval_returns.append(value)
        log({"step": step, "eval/mean_return": value})

    global_step = 0
    next_eval = eval_every
    update_time_s = 0.0
    start_time = time.perf_counter()
    try:
        next_obs = torch.as_tensor(
            np.asarray(envs.reset(rng), dtype=np.float32), device=device
        ).reshape(num_envs, num_agents, obs_dim)
        for iteration in range(1, num_iterations + 1):
            if config.anneal_lr:
                frac = 1.0 - (iteration - 1.0) / num_iterations
                optimizer.param_groups[0]["lr"] = frac * config.lr

            for step in range(config.num_steps):
                global_step += num_envs
                obs[step] = next_obs
                with torch.no_grad():
                    action, logprob, _, value = agent.get_action_and_value(
                        next_obs, generator=generator
                    )
                values[step] = value
                actions[step] = action
                logprobs[step] = logprob

                env_action = action.cpu().numpy()
                o, r, d, info = envs.step(env_action if multi else env_action[..., 0])
                r = np.asarray(r, dtype=np.float64).reshape(num_envs, num_agents)
                d = np.asarray(d, dtype=bool).reshape(num_envs)
                reward_t = torch.as_tensor(r, dtype=torch.float32, device=device)
                truncated = info.get("truncated") if isinstance(info, dict) else None
                final_obs = info.get("final_obs") if isinstance(info, dict) else None
                if truncated is not None and final_obs is not None:
                    boot = np.flatnonzero(np.asarray(truncated, dtype=bool) & d)
                    if boot.size:
                        fin = torch.as_tensor(
                            np.asarray(final_obs, dtype=np.float32)[boot], device=device
                        )
                        with torch.no_grad():
                            reward_t[boot] += config.gamma * agent.get_value(fin)
                rewards[step] = reward_t
                dones[step] = torch.as_tensor(d, dtype=torch.float32, device=device)
                next_obs = torch.as_tensor(np.asarray(o, dtype=np.float32), device=device).reshape(
                    num_envs, num_agents, obs_dim
                )

                # episode bookkeeping
                running_return += r
                if d.any():
                    finished = running_return[d]
                    episode_returns.extend(finished)
                    episode_end_steps.extend([global_step] * finished.shape[0])
                    log(
                        {
                            "step": global_step,
                            "charts/episodic_return": float(finished.mean()),
                            "charts/episodes": len(episode_returns),
                        }
                    )
                    running_return[d] = 0.0

            # bootstrap value if not done
            with torch.no_grad():
                next_value = agent.get_value(next_obs)
                advantages, returns = compute_gae(
                    rewards,
                    values,
                    dones.unsqueeze(-1),
                    next_value,
                    config.gamma,
                    config.gae_lambda,
                )

            # flatten the batch
            b_obs = obs.reshape(-1, num_agents, obs_dim)
            b_actions = actions.reshape(-1, num_agents, num_components)
            b_logprobs = logprobs.reshape(-1, num_agents)
            b_advantages = advantages.reshape(-1, num_agents)
            b_returns = returns.reshape(-1, num_agents)
            b_values = values.reshape(-1, num_agents)

            t0 = time.perf_counter()
            record = ppo_update(
                agent,
                optimizer,
                b_obs,
                b_actions,
                b_logprobs,
                b_advantages,
                b_returns,
                b_values,
                config,
                generator=generator,
            )
            update_time_s += time.perf_counter() - t0
            if averager is not None:
                fed = averager.step(iteration)
                if fed is not None:
                    log({"step": global_step, **fed})
            record["charts/learning_rate"] = float(optimizer.param_groups[0]["lr"])
            for key, val in record.items():
                stats.setdefault(key, []).append(val)
            if iteration % config.log_every == 0 or iteration == num_iterations:
                sps = global_step / (time.perf_counter() - start_time)
                log({"step": global_step, **record, "charts/SPS": sps})

            if eval_fn is not None and global_step >= next_eval:
                run_eval(global_step)
                next_eval = (global_step // eval_every + 1) * eval_every
            if progress is not None:
                progress(global_step, config.total_timesteps)

        if eval_fn is not None and (not eval_steps or eval_steps[-1] != global_step):
            run_eval(global_step)
        epsilon: float | None = None
        if averager is not None:
            epsilon = averager.epsilon("pld") if config.fedavg.dp_enabled else math.inf
        wall_time_s = time.perf_counter() - start_time
        log(
            {
                "step": global_step,
                "charts/SPS": global_step / wall_time_s,
                "charts/wall_time_s": wall_time_s,
                "charts/update_time_s": update_time_s,
                **({} if epsilon is None else {"charts/epsilon_pld": epsilon}),
            }
        )
    finally:
        if log_file is not None:
            log_file.close()

    return MAPPOResult(
        agent=agent,
        episode_returns=np.asarray(episode_returns, dtype=np.float64).reshape(-1, num_agents),
        episode_end_steps=np.asarray(episode_end_steps, dtype=np.int64),
        stats={k: np.asarray(v, dtype=np.float64) for k, v in stats.items()},
        eval_steps=np.asarray(eval_steps, dtype=np.int64),
        eval_returns=np.asarray(eval_returns, dtype=np.float64),
        wall_time_s=wall_time_s,
        update_time_s=update_time_s,
        env_steps=global_step,
        num_updates=num_iterations,
        fedavg_rounds=0 if averager is None else averager.rounds,
        epsilon=epsilon,
    )
