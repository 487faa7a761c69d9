"""Tests of Double DQN: the TD target by hand, the env contract, determinism and learning."""

from __future__ import annotations

import json
from typing import ClassVar

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from qnetrl._validation import InvalidParameterError
from qnetrl.agents.dqn import (
    DQNConfig,
    QNetwork,
    _clip_grad_norm,
    evaluate,
    greedy_policy,
    linear_schedule,
    real_next_obs,
    td_target,
    train,
)
from qnetrl.config import ConfigError


class ParityChainVectorEnv(gym.vector.VectorEnv):
    """B copies of a chain 0..L-1 whose correct move alternates with the position's parity.

    At position p, action ``p % 2`` moves right, the other moves left (floored at 0). Reaching
    L-1 gives reward 1 and terminates; episodes are truncated after ``horizon`` steps. The
    observation is the one-hot position, so a good policy must read it and must bootstrap
    values back from the goal. Same-step autoreset; ``final_obs`` is a numeric (B, L) array.
    """

    metadata: ClassVar[dict] = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int = 16, length: int = 6, horizon: int = 12):
        self.num_envs, self.length, self.horizon = num_envs, length, horizon
        self.single_observation_space = gym.spaces.Box(0.0, 1.0, (length,), np.float32)
        self.single_action_space = gym.spaces.Discrete(2)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.pos = np.zeros(num_envs, dtype=np.int64)
        self.t = np.zeros(num_envs, dtype=np.int64)

    def _obs(self):
        return np.eye(self.length, dtype=np.float32)[self.pos]

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos[:] = 0
        self.t[:] = 0
        return self._obs(), {}

    def step(self, actions):
        right = np.asarray(actions) == self.pos % 2
        self.pos = np.where(right, self.pos + 1, np.maximum(self.pos - 1, 0))
        self.t += 1
        terminated = self.pos == self.length - 1
        truncated = (self.t >= self.horizon) & ~terminated
        rewards = terminated.astype(np.float64)
        obs = self._obs()
        infos = {}
        done = terminated | truncated
        if done.any():
            infos = {"final_obs": obs.copy(), "_final_obs": done}
            self.pos[done] = 0
            self.t[done] = 0
            obs = self._obs()
        return obs, rewards, terminated, truncated, infos


class ConstantVectorEnv(gym.vector.VectorEnv):
    """One constant state, reward 1 every step, episodes of ``horizon`` steps.

    With ``terminate=False`` episodes end by truncation, so the true value is 1 / (1 - gamma);
    with ``terminate=True`` they end by termination and the value seen from the (time-blind)
    state is the fixed point of the mixture of terminal and non-terminal targets.
    """

    metadata: ClassVar[dict] = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int = 8, horizon: int = 2, terminate: bool = False):
        self.num_envs, self.horizon, self.terminate = num_envs, horizon, terminate
        self.single_observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
        self.single_action_space = gym.spaces.Discrete(2)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.t = np.zeros(num_envs, dtype=np.int64)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t[:] = 0
        return np.ones((self.num_envs, 1), np.float32), {}

    def step(self, actions):
        self.t += 1
        done = self.t >= self.horizon
        obs = np.ones((self.num_envs, 1), np.float32)
        infos = {"final_obs": obs.copy(), "_final_obs": done} if done.any() else {}
        self.t[done] = 0
        terminated = done & self.terminate
        truncated = done & (not self.terminate)
        return obs, np.ones(self.num_envs), terminated, truncated, infos


def _random_policy(seed: int):
    rng = np.random.default_rng(seed)
    return lambda obs: rng.integers(0, 2, size=len(obs))


# ---------------------------------------------------------------- config and small helpers


def test_config_defaults_follow_the_paper_and_errors_name_field_and_range():
    cfg = DQNConfig()
    assert cfg.hidden_sizes == (64, 64)
    assert (cfg.gamma, cfg.batch_size, cfg.lr, cfg.target_update) == (0.99, 64, 1e-3, 10)
    assert cfg.double and not cfg.prioritized
    assert cfg.num_iterations(16) == -(-cfg.total_env_steps // 16)
    with pytest.raises(ConfigError, match=r"'gamma' field of DQNConfig .* \[0.0, 1.0\]"):
        DQNConfig.validate_dict({"gamma": 1.5})
    with pytest.raises(ConfigError, match=r"'updates_per_step' field .* \(0.0, 64.0\]"):
        DQNConfig.validate_dict({"updates_per_step": 0})
    with pytest.raises(ConfigError, match="Unknown field 'epsilon'"):
        DQNConfig.validate_dict({"epsilon": 0.1})
    assert all(f.description for f in DQNConfig.model_fields.values())


def test_linear_schedule_endpoints():
    assert linear_schedule(1.0, 0.05, 100.0, 0.0) == 1.0
    assert linear_schedule(1.0, 0.05, 100.0, 50.0) == pytest.approx(0.525)
    assert linear_schedule(1.0, 0.05, 100.0, 1e6) == 0.05
    assert linear_schedule(0.0, 1.0, 10.0, 20.0) == 1.0


def test_td_target_hand_computed():
    rewards = torch.tensor([1.0, 0.5, -1.0])
    terminated = torch.tensor([0.0, 0.0, 1.0])
    next_q_online = torch.tensor([[1.0, 3.0], [4.0, 2.0], [0.0, 9.0]])
    next_q_target = torch.tensor([[10.0, 20.0], [30.0, 40.0], [50.0, 60.0]])
    # Double: a* = argmax online = [1, 0, 1] -> target values [20, 30, 60]; row 3 is terminal.
    double = td_target(rewards, terminated, next_q_target, 0.9, next_q_online=next_q_online)
    torch.testing.assert_close(double, torch.tensor([1 + 0.9 * 20, 0.5 + 0.9 * 30, -1.0]))
    # Vanilla: max of target = [20, 40, 60].
    vanilla = td_target(rewards, terminated, next_q_target, 0.9, double=False)
    torch.testing.assert_close(vanilla, torch.tensor([1 + 0.9 * 20, 0.5 + 0.9 * 40, -1.0]))
    # No terminal rows: the third row bootstraps too.
    open_end = td_target(rewards, torch.zeros(3), next_q_target, 0.9, double=False)
    assert open_end[2].item() == pytest.approx(-1 + 0.9 * 60)
    with pytest.raises(InvalidParameterError, match="next_q_online"):
        td_target(rewards, terminated, next_q_target, 0.9)


def test_real_next_obs_uses_final_obs_of_gymnasium_same_step_env():
    envs = gym.make_vec(
        "CartPole-v1",
        num_envs=3,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
    )
    obs, _ = envs.reset(seed=3)
    seen_done = 0
    for _ in range(200):
        obs, _, term, trunc, infos = envs.step(np.ones(3, dtype=np.int64))  # always push right
        real = real_next_obs(obs, infos)
        done = term | trunc
        np.testing.assert_array_equal(real[~done], obs[~done])
        if done.any():
            assert infos["final_obs"].dtype == object
            np.testing.assert_array_equal(real[done], np.stack(infos["final_obs"][done]))
            # the real final state has left CartPole's bounds; the reset one has not
            assert np.all((np.abs(real[done, 0]) > 2.4) | (np.abs(real[done, 2]) > 0.2094))
            assert np.all(np.abs(obs[done]) <= 0.05)
            seen_done += int(done.sum())
    envs.close()
    assert seen_done > 0


def test_env_contract_errors_are_clear():
    cfg = DQNConfig(total_env_steps=10)
    next_step = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    with pytest.raises(InvalidParameterError, match=r"'envs' parameter of train .*SAME_STEP"):
        train(cfg, next_step, seed=0)
    next_step.close()
    box_actions = gym.make_vec(
        "Pendulum-v1",
        num_envs=2,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
    )
    with pytest.raises(InvalidParameterError, match="Discrete single_action_space"):
        train(cfg, box_actions, seed=0)
    box_actions.close()
    with pytest.raises(InvalidParameterError, match=r"'seed' parameter of train"):
        train(cfg, ParityChainVectorEnv(), seed=-1)
    with pytest.raises(InvalidParameterError, match="'buffer_size' field"):
        train(DQNConfig(buffer_size=4), ParityChainVectorEnv(num_envs=8), seed=0)


def test_evaluate_splits_episodes_over_envs_and_greedy_policy_shapes():
    envs = ParityChainVectorEnv(num_envs=4)
    returns = evaluate(_random_policy(0), envs, n_episodes=10, seed=0)
    assert returns.shape == (10,)
    assert set(np.unique(returns)) <= {0.0, 1.0}
    net = QNetwork(6, 2, (8,))
    actions = greedy_policy(net)(np.eye(6, dtype=np.float32))
    assert actions.shape == (6,) and actions.dtype == np.int64
    with torch.no_grad():
        np.testing.assert_array_equal(actions, net(torch.eye(6)).argmax(1).numpy())


# ---------------------------------------------------------------- fast paths


@pytest.mark.parametrize("hidden", [(8,), (64, 64)])
def test_qnetwork_forward_equals_its_sequential_bit_for_bit(hidden):
    torch.manual_seed(0)
    net = QNetwork(11, 3, hidden)
    x = torch.randn(64, 11)
    assert torch.equal(net(x), net.network(x))  # the direct linear/relu path, same numbers
    x.requires_grad_(True)
    (g_fast,) = torch.autograd.grad(net(x).square().sum(), x)
    (g_seq,) = torch.autograd.grad(net.network(x).square().sum(), x)
    assert torch.equal(g_fast, g_seq)


@pytest.mark.parametrize("scale", [1e-3, 1e3])  # below and above the clipping threshold
def test_clip_grad_norm_matches_torch_bit_for_bit(scale):
    torch.manual_seed(1)
    grads = [torch.randn(64, 11) * scale, torch.randn(64) * scale, torch.randn(3, 64) * scale]
    params = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.clone()
    torch.nn.utils.clip_grad_norm_(params, 10.0)
    ours = [g.clone() for g in grads]
    _clip_grad_norm(ours, 10.0)
    for p, g in zip(params, ours, strict=True):
        assert torch.equal(p.grad, g)
    norm = torch.linalg.vector_norm(torch.cat([g.flatten() for g in ours]))
    assert float(norm) <= 10.0 + 1e-4 and (scale > 1.0 or torch.equal(ours[0], grads[0]))


# ---------------------------------------------------------------- training


_FAST = {
    "total_env_steps": 12_000,
    "gamma": 0.9,
    "learning_starts": 256,
    "buffer_size": 10_000,
    "exploration_fraction": 0.4,
    "hidden_sizes": (32, 32),
}


def test_train_is_deterministic_and_logs_jsonl(tmp_path):
    cfg = DQNConfig(**{**_FAST, "total_env_steps": 1_600, "log_every": 10})
    log = tmp_path / "run.jsonl"
    a = train(cfg, ParityChainVectorEnv(), seed=5, log_path=log)
    b = train(cfg, ParityChainVectorEnv(), seed=5)
    c = train(cfg, ParityChainVectorEnv(), seed=6)
    assert a.env_steps == 1_600 and a.num_updates == a.losses.size > 0
    np.testing.assert_array_equal(a.losses, b.losses)
    np.testing.assert_array_equal(a.episode_returns, b.episode_returns)
    for pa, pb in zip(a.q_network.parameters(), b.q_network.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)
    assert not np.array_equal(a.losses, c.losses)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records[0]["type"] == "config" and records[0]["config"]["gamma"] == 0.9
    assert any("losses/td_loss" in r for r in records)
    assert any("charts/episodic_return" in r for r in records)


@pytest.mark.parametrize(
    ("terminate", "target_update", "tau", "expected"),
    [
        (False, 10, 1.0, 2.0),  # truncation bootstraps: Q = 1 / (1 - 0.5)
        (True, 0, 0.05, 4.0 / 3.0),  # termination does not: Q = 0.5 + 0.5 (1 + 0.5 Q)
    ],
)
def test_truncation_bootstraps_and_termination_does_not(terminate, target_update, tau, expected):
    cfg = DQNConfig(
        total_env_steps=8_000,
        gamma=0.5,
        learning_starts=64,
        start_e=1.0,
        end_e=1.0,
        target_update=target_update,
        tau=tau,
        hidden_sizes=(16,),
    )
    res = train(cfg, ConstantVectorEnv(terminate=terminate), seed=0)
    with torch.no_grad():
        q = res.q_network(torch.ones(1, 1)).numpy()
    np.testing.assert_allclose(q, expected, atol=0.1)


@pytest.mark.parametrize("prioritized", [False, True])
def test_double_dqn_learns_parity_chain(prioritized):
    cfg = DQNConfig(**_FAST, prioritized=prioritized)
    evals = []
    res = train(
        cfg,
        ParityChainVectorEnv(num_envs=16),
        seed=0,
        eval_fn=lambda policy: evaluate(policy, ParityChainVectorEnv(num_envs=8), 16, seed=1),
        eval_every=4_000,
        progress=lambda done, total: evals.append((done, total)),
    )
    greedy = evaluate(res.policy, ParityChainVectorEnv(num_envs=8), 32, seed=2)
    random = evaluate(_random_policy(3), ParityChainVectorEnv(num_envs=8), 32, seed=2)
    assert random.mean() < 0.5
    assert greedy.mean() >= 0.95, (greedy.mean(), random.mean())
    assert res.eval_steps.tolist() == [4_000, 8_000, 12_000]
    assert res.eval_returns[-1] >= 0.95
    assert evals[-1] == (12_000, 12_000)
    assert res.episode_returns.size == res.episode_end_steps.size > 0
