"""Tests of multi-agent PPO: stacked networks against separate ones, GAE by hand, learning."""

from __future__ import annotations

import functools
import json
import math
from typing import ClassVar

import gymnasium as gym
import numpy as np
import pytest
import torch
from pettingzoo import ParallelEnv
from pettingzoo.test import parallel_api_test
from torch import nn

from qnetrl._validation import InvalidParameterError
from qnetrl.agents.mappo import (
    BatchedMultiAgentEnv,
    MAPPOAgent,
    MAPPOConfig,
    ParallelEnvBatch,
    SigmoidTanh,
    StackedLinear,
    StackedMLP,
    clip_grad_norm_per_agent_,
    compute_gae,
    evaluate,
    train,
)
from qnetrl.config import ConfigError, invalid_examples

torch.set_num_threads(1)


class MatchBitEnv:
    """B copies of A agents; each sees its own random bit (one-hot) and earns 1 for naming it.

    Bits are redrawn every step, episodes are truncated after ``horizon`` steps (same-step
    autoreset with ``final_obs`` and ``truncated`` in the info). A random policy earns 0.5 per
    step, the optimal one 1.
    """

    def __init__(self, num_envs: int = 8, num_agents: int = 4, horizon: int = 8):
        self.num_envs, self.num_agents, self.horizon = num_envs, num_agents, horizon
        self.single_observation_space = gym.spaces.Box(0.0, 1.0, (2,), np.float32)
        self.single_action_space = gym.spaces.Discrete(2)

    def _obs(self):
        return np.eye(2, dtype=np.float32)[self.bits]

    def reset(self, rng):
        self.rng = rng
        self.t = np.zeros(self.num_envs, dtype=np.int64)
        self.bits = rng.integers(0, 2, (self.num_envs, self.num_agents))
        return self._obs()

    def step(self, actions):
        rewards = (np.asarray(actions) == self.bits).astype(np.float32)
        self.t += 1
        dones = self.t >= self.horizon
        final = self._obs()
        self.bits = self.rng.integers(0, 2, (self.num_envs, self.num_agents))
        self.t[dones] = 0
        return self._obs(), rewards, dones, {"final_obs": final, "truncated": dones.copy()}


class ConstantEnv:
    """One constant observation, reward 1 per agent and step, episodes of ``horizon`` steps.

    With ``report_truncation`` the ends are reported as truncations (the true value of the
    time-blind observation is 1 / (1 - gamma)); otherwise they count as terminations.
    """

    def __init__(self, report_truncation: bool, num_envs: int = 4, horizon: int = 5):
        self.report_truncation, self.num_envs, self.horizon = report_truncation, num_envs, horizon
        self.num_agents = 2
        self.single_observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
        self.single_action_space = gym.spaces.Discrete(2)

    def reset(self, rng):
        self.t = np.zeros(self.num_envs, dtype=np.int64)
        return np.ones((self.num_envs, 2, 1), dtype=np.float32)

    def step(self, actions):
        self.t += 1
        dones = self.t >= self.horizon
        self.t[dones] = 0
        obs = np.ones((self.num_envs, 2, 1), dtype=np.float32)
        info = (
            {"final_obs": obs.copy(), "truncated": dones.copy()} if self.report_truncation else {}
        )
        return obs, np.ones((self.num_envs, 2), dtype=np.float32), dones, info


class MatchParallelEnv(ParallelEnv):
    """PettingZoo twin of :class:`MatchBitEnv` with a MultiDiscrete([2, 3]) action.

    Each agent sees a bit and a category (one-hot, 5 numbers) and earns 0.5 for each of the
    two it names; a random policy earns 5/12 per step.
    """

    metadata: ClassVar[dict] = {"name": "match_bit_v0", "render_modes": []}

    def __init__(self, horizon: int = 6):
        self.possible_agents = ["node_0", "node_1", "node_2"]
        self.horizon = horizon
        self.agents: list[str] = []

    @functools.cache  # noqa: B019 - PettingZoo's memoised spaces
    def observation_space(self, agent):
        return gym.spaces.Box(0.0, 1.0, (5,), np.float32)

    @functools.cache  # noqa: B019 - PettingZoo's memoised spaces
    def action_space(self, agent):
        return gym.spaces.MultiDiscrete([2, 3])

    def _draw(self):
        self.bits = self._rng.integers(0, 2, len(self.possible_agents))
        self.cats = self._rng.integers(0, 3, len(self.possible_agents))
        eye2, eye3 = np.eye(2, dtype=np.float32), np.eye(3, dtype=np.float32)
        return {
            agent: np.concatenate([eye2[self.bits[i]], eye3[self.cats[i]]])
            for i, agent in enumerate(self.possible_agents)
        }

    def reset(self, seed=None, options=None):
        if seed is not None or not hasattr(self, "_rng"):
            self._rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        self.t = 0
        return self._draw(), {agent: {} for agent in self.agents}

    def step(self, actions):
        rewards = {
            agent: 0.5 * float(actions[agent][0] == self.bits[i])
            + 0.5 * float(actions[agent][1] == self.cats[i])
            for i, agent in enumerate(self.possible_agents)
            if agent in actions
        }
        self.t += 1
        obs = self._draw()
        trunc = {agent: self.t >= self.horizon for agent in self.agents}
        term = {agent: False for agent in self.agents}
        infos = {agent: {} for agent in self.agents}
        if self.t >= self.horizon:
            self.agents = []
        return obs, rewards, term, trunc, infos


def test_config_defaults_are_cleanrl_ppo_and_errors_name_field_and_range():
    cfg = MAPPOConfig()
    assert (cfg.lr, cfg.gamma, cfg.gae_lambda, cfg.clip_coef) == (2.5e-4, 0.99, 0.95, 0.2)
    assert (cfg.ent_coef, cfg.vf_coef, cfg.max_grad_norm) == (0.01, 0.5, 0.5)
    assert (cfg.num_steps, cfg.num_minibatches, cfg.update_epochs) == (128, 4, 4)
    assert cfg.norm_adv and cfg.clip_vloss and cfg.anneal_lr and not cfg.fedavg.enabled
    assert cfg.batch_size(4) == 512 and cfg.minibatch_size(4) == 128
    assert cfg.num_iterations(4) == 500_000 // 512
    examples = invalid_examples(MAPPOConfig)
    assert any(name == "fedavg.sample_rate" for name, _ in examples)
    for name, value in examples:
        with pytest.raises(ConfigError, match=name.replace(".", r"\.")):
            MAPPOConfig.validate_dict(_nested(name, value))


def _nested(dotted: str, value):
    out: dict = {}
    node = out
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def test_compute_gae_matches_hand_computation():
    # gamma = lam = 0.5, the episode ends after step 1:
    # A2 = 3 + 0.5*2 - 1.5 = 2.5; A1 = 2 - 1 = 1 (no bootstrap);
    # A0 = (1 + 0.5*1 - 0.5) + 0.25*A1 = 1.25
    r, v = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5, 1.0, 1.5])
    d = torch.tensor([0.0, 1.0, 0.0])
    adv, ret = compute_gae(r, v, d, torch.tensor(2.0), 0.5, 0.5)
    assert adv.tolist() == [1.25, 1.0, 2.5]
    assert ret.tolist() == [1.75, 2.0, 4.0]
    # (T, B, A) rewards with (T, B, 1) dones: each column equals its own 1-D computation
    rng = np.random.default_rng(0)
    rewards = torch.tensor(rng.normal(size=(6, 3, 2)), dtype=torch.float32)
    values = torch.tensor(rng.normal(size=(6, 3, 2)), dtype=torch.float32)
    dones = torch.tensor(rng.random((6, 3, 1)) < 0.3, dtype=torch.float32)
    nxt = torch.tensor(rng.normal(size=(3, 2)), dtype=torch.float32)
    adv, ret = compute_gae(rewards, values, dones, nxt, 0.9, 0.8)
    for b in range(3):
        for a in range(2):
            col, _ = compute_gae(
                rewards[:, b, a], values[:, b, a], dones[:, b, 0], nxt[b, a], 0.9, 0.8
            )
            torch.testing.assert_close(adv[:, b, a], col)
    torch.testing.assert_close(ret, adv + values)
    # lam = 1 without dones: discounted return minus value
    adv1, _ = compute_gae(r, v, torch.zeros(3), torch.tensor(0.0), 0.9, 1.0)
    assert float(adv1[0]) == pytest.approx(1 + 0.9 * 2 + 0.81 * 3 - 0.5)


def test_stacked_mlp_equals_separate_networks_and_gradients_match():
    torch.manual_seed(0)
    num_agents, d = 5, 7
    nets = [
        nn.Sequential(nn.Linear(d, 16), nn.Tanh(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3))
        for _ in range(num_agents)
    ]
    stacked = StackedMLP.from_sequentials(nets)
    x = torch.randn(num_agents, 11, d)
    out = stacked(x)
    assert out.shape == (num_agents, 11, 3)
    for a, net in enumerate(nets):
        torch.testing.assert_close(out[a], net(x[a]), rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(stacked.agent_network(a)(x[a]), net(x[a]))
    # summed loss + per-agent clipping == each network clipped on its own
    target = torch.randn(num_agents, 11, 3)
    ((stacked(x) - target) ** 2).mean((1, 2)).sum().backward()
    norms = clip_grad_norm_per_agent_(stacked.parameters(), 0.1)
    layers = [m for m in stacked.network if isinstance(m, StackedLinear)]
    for a, net in enumerate(nets):
        ((net(x[a]) - target[a]) ** 2).mean().backward()
        ref = nn.utils.clip_grad_norm_(net.parameters(), 0.1)
        torch.testing.assert_close(norms[a], ref, rtol=1e-5, atol=1e-7)
        for layer, lin in zip(layers, [m for m in net if isinstance(m, nn.Linear)], strict=True):
            torch.testing.assert_close(
                layer.weight.grad[a], lin.weight.grad.T, rtol=1e-5, atol=1e-7
            )
            torch.testing.assert_close(layer.bias.grad[a], lin.bias.grad, rtol=1e-5, atol=1e-7)


def test_sigmoid_tanh_matches_tanh_and_its_gradient():
    x = torch.cat([torch.linspace(-30, 30, 20_001), torch.tensor([0.0, 1e-30, -1e-8, 88.0])])
    x.requires_grad_(True)
    y = SigmoidTanh()(x)
    torch.testing.assert_close(y, torch.tanh(x), rtol=0, atol=2.5e-7)
    assert float(y.detach().abs().max()) <= 1.0
    g = torch.randn_like(x)
    (y * g).sum().backward()
    torch.testing.assert_close(x.grad, g * (1 - torch.tanh(x.detach()) ** 2), rtol=0, atol=1e-6)
    xd = torch.randn(6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(SigmoidTanh(), (xd,))


def test_stacked_init_is_orthogonal_per_agent():
    torch.manual_seed(1)
    layer = StackedLinear(3, 6, 4, std=2.0)  # per agent an nn.Linear(6, 4) weight (4, 6)
    w = layer.weight.detach().transpose(1, 2)  # (A, 4, 6), rows orthogonal
    torch.testing.assert_close(
        w @ w.transpose(1, 2), 4.0 * torch.eye(4).expand(3, 4, 4), atol=1e-5, rtol=0
    )
    assert not torch.allclose(w[0], w[1])
    assert torch.count_nonzero(layer.bias) == 0


def test_multidiscrete_log_probs_match_torch_categoricals():
    torch.manual_seed(2)
    agent = MAPPOAgent(3, 4, (2, 3, 1), hidden_sizes=(8,), centralized_critic=True)
    obs = torch.randn(10, 3, 4)
    logp = agent.log_probs(obs).detach()  # (A, N, K, 3)
    torch.testing.assert_close(logp.exp().sum(-1), torch.ones(3, 10, 3))
    assert float(logp.exp()[..., 0, 2].max()) == 0.0 and float(logp.exp()[..., 2, 1:].max()) == 0.0
    gen = torch.Generator().manual_seed(0)
    action, logprob, entropy, value = agent.get_action_and_value(obs, generator=gen)
    assert action.shape == (10, 3, 3) and logprob.shape == entropy.shape == value.shape == (10, 3)
    assert bool((action < torch.tensor([2, 3, 1])).all()) and bool((action >= 0).all())
    logits = agent.actor(obs.transpose(0, 1))  # (A, N, 6)
    parts = torch.split(logits, [2, 3, 1], dim=-1)
    dists = [torch.distributions.Categorical(logits=p) for p in parts]
    act = action.transpose(0, 1)
    ref_lp = sum(dist.log_prob(act[..., k]) for k, dist in enumerate(dists))
    ref_ent = sum(dist.entropy() for dist in dists)
    torch.testing.assert_close(logprob, ref_lp.T)
    torch.testing.assert_close(entropy, ref_ent.T)
    # the centralised critic of every agent sees the same joint observation (A * d inputs)
    assert agent.critic.network[0].weight.shape == (3, 12, 8)


def test_ppo_learns_match_bit_task_and_logs_jsonl(tmp_path):
    env = MatchBitEnv()
    assert isinstance(env, BatchedMultiAgentEnv)
    cfg = MAPPOConfig(
        total_timesteps=8 * 32 * 15, num_steps=32, lr=3e-3, hidden_sizes=(16,), log_every=5
    )
    log = tmp_path / "run.jsonl"
    evals = []

    def eval_fn(policy):
        returns = evaluate(policy, MatchBitEnv(num_envs=4), 8, np.random.default_rng(5))
        evals.append(returns.shape)
        return returns

    res = train(cfg, env, seed=0, eval_fn=eval_fn, eval_every=8 * 32 * 5, log_path=log)
    per_step = res.episode_returns / env.horizon  # (E, A)
    assert per_step.shape[1] == 4
    assert per_step[:8].mean() < 0.7  # starts near random (0.5)
    assert per_step[-16:].mean() > 0.9  # ends near the optimum (1.0), for every agent
    assert per_step[-16:].mean(0).min() > 0.85
    assert res.eval_returns[-1] / env.horizon > 0.95  # greedy policy
    assert evals and evals[0] == (8, 4)
    assert res.num_updates == 15 and res.env_steps == 8 * 32 * 15 and res.epsilon is None
    assert np.all(np.isfinite(res.stats["losses/approx_kl"]))
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records[0]["type"] == "config" and records[0]["config"]["lr"] == 3e-3
    keys = set().union(*records[1:])
    for key in ("charts/episodic_return", "charts/SPS", "losses/policy_loss",
                "losses/value_loss", "losses/entropy", "losses/approx_kl", "losses/clipfrac",
                "eval/mean_return"):  # fmt: skip
        assert key in keys


def test_train_is_deterministic_under_seed():
    cfg = MAPPOConfig(total_timesteps=8 * 16 * 3, num_steps=16, hidden_sizes=(8,))
    a = train(cfg, MatchBitEnv(), seed=3)
    b = train(cfg, MatchBitEnv(), seed=3)
    c = train(cfg, MatchBitEnv(), seed=4)
    np.testing.assert_array_equal(a.episode_returns, b.episode_returns)
    for pa, pb in zip(a.agent.parameters(), b.agent.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert any(
        not torch.equal(pa, pc)
        for pa, pc in zip(a.agent.parameters(), c.agent.parameters(), strict=True)
    )


@pytest.mark.parametrize("truncation", [True, False])
def test_truncation_bootstraps_final_value_and_termination_does_not(truncation):
    # gamma 0.8, reward 1: value 5 if ends are truncations; the mean remaining discounted
    # return over the 5 steps of an episode if they are terminations
    cfg = MAPPOConfig(
        total_timesteps=4 * 20 * 25, num_steps=20, gamma=0.8, gae_lambda=1.0, lr=1e-2,
        hidden_sizes=(8,), anneal_lr=False, clip_vloss=False,
    )  # fmt: skip
    res = train(cfg, ConstantEnv(truncation), seed=0)
    value = res.agent.get_value(torch.ones(1, 2, 1)).detach()
    if truncation:
        torch.testing.assert_close(value, torch.full((1, 2), 5.0), atol=0.3, rtol=0)
    else:
        mean_return = np.mean([sum(0.8**k for k in range(5 - t)) for t in range(5)])  # 2.3107
        torch.testing.assert_close(value, torch.full((1, 2), mean_return), atol=0.2, rtol=0)


def test_parallel_env_adapter_multidiscrete_and_centralized_critic():
    parallel_api_test(MatchParallelEnv(), num_cycles=20)
    env_fns = [MatchParallelEnv] * 4
    batch = ParallelEnvBatch(env_fns)
    assert isinstance(batch, BatchedMultiAgentEnv)
    assert (batch.num_envs, batch.num_agents) == (4, 3)
    obs = batch.reset(np.random.default_rng(0))
    assert obs.shape == (4, 3, 5) and obs.dtype == np.float32
    for _ in range(6):
        obs, rewards, dones, info = batch.step(np.zeros((4, 3, 2), dtype=np.int64))
    assert rewards.shape == (4, 3) and dones.all() and info["truncated"].all()
    assert info["final_obs"].shape == (4, 3, 5)
    cfg = MAPPOConfig(
        total_timesteps=4 * 32 * 20, num_steps=32, lr=1e-2, ent_coef=0.0, hidden_sizes=(16,),
        centralized_critic=True,
    )  # fmt: skip
    res = train(cfg, env_fns, seed=1)
    per_step = res.episode_returns / 6
    assert per_step.shape[1] == 3
    assert per_step[:4].mean() < 0.6  # random: 5/12
    assert per_step[-8:].mean() > 0.8  # optimum: 1
    greedy = evaluate(res.policy(), ParallelEnvBatch(env_fns), 4, np.random.default_rng(9))
    assert greedy.shape == (4, 3)


def test_env_contract_errors_are_clear():
    env = MatchBitEnv()
    env.single_action_space = gym.spaces.Box(0.0, 1.0, (2,))
    with pytest.raises(InvalidParameterError, match=r"'envs' parameter of train.*Discrete"):
        train(MAPPOConfig(total_timesteps=64), env, seed=0)
    with pytest.raises(InvalidParameterError, match="'envs' parameter of train"):
        train(MAPPOConfig(total_timesteps=64), object(), seed=0)
    with pytest.raises(InvalidParameterError, match="'seed' parameter of train"):
        train(MAPPOConfig(total_timesteps=64), MatchBitEnv(), seed=-1)
    with pytest.raises(InvalidParameterError, match="'config' parameter of train"):
        train({"lr": 1.0}, MatchBitEnv(), seed=0)
    assert math.isclose(MAPPOConfig().max_grad_norm, 0.5)
