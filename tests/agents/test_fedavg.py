"""Tests of DP-FedAvg over stacked weights and its privacy accounting (dp-accounting)."""

from __future__ import annotations

import functools
import itertools
import math

import dp_accounting
import gymnasium as gym
import numpy as np
import pytest
import torch
from dp_accounting import pld, rdp
from scipy import stats

from qnetrl._validation import InvalidParameterError
from qnetrl.agents.fedavg import (
    FedAvgConfig,
    FederatedAveraging,
    assign_flat,
    clip_updates,
    dp_fedavg_update,
    flatten_stacked,
    privacy_epsilon,
)
from qnetrl.agents.mappo import MAPPOConfig, train
from qnetrl.config import ConfigError, invalid_examples

torch.set_num_threads(1)


def stacked_params(num_agents=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(num_agents, 4, 3, generator=g),
        torch.randn(num_agents, 3, generator=g),
        torch.randn(num_agents, 2, 5, 2, generator=g),
    ]


def test_config_defaults_and_errors_name_field_and_range():
    cfg = FedAvgConfig()
    assert not cfg.enabled and not cfg.dp_enabled and cfg.sample_rate == 1.0
    for name, value in invalid_examples(FedAvgConfig):
        with pytest.raises(ConfigError, match=name):
            FedAvgConfig.validate_dict({name: value})
    with pytest.raises(ConfigError, match="clip_norm"):
        FedAvgConfig.validate_dict({"clip_norm": math.inf})


def test_flatten_and_assign_round_trip():
    params = stacked_params()
    flat = flatten_stacked(params)
    assert flat.shape == (6, 12 + 3 + 20)
    copy = [torch.zeros_like(p) for p in params]
    assign_flat(copy, flat)
    for p, c in zip(params, copy, strict=True):
        assert torch.equal(p, c)
    assign_flat(copy, flat[2])  # one vector to every agent
    assert all(torch.equal(c[4], p[2]) for p, c in zip(params, copy, strict=True))


@pytest.mark.parametrize("dp", [False, True])
def test_fedavg_without_noise_or_clipping_is_the_plain_mean(dp):
    params = stacked_params()
    cfg = FedAvgConfig(enabled=True, dp_enabled=dp, clip_norm=1e9, noise_multiplier=0.0)
    fed = FederatedAveraging(cfg, params, np.random.default_rng(0))
    # all agents start from the mean of their initial weights
    first = flatten_stacked(params)
    assert torch.allclose(first, first[0].expand_as(first))
    # local training moves every agent somewhere else; a round gives the plain mean
    local = [p + torch.randn_like(p) for p in params]
    for p, new in zip(params, local, strict=True):
        p.copy_(new)
    record = fed.step(cfg.every_k_updates)
    assert record["charts/fedavg_participants"] == 6.0 and fed.rounds == 1
    for p, new in zip(params, local, strict=True):
        torch.testing.assert_close(p, new.mean(0, keepdim=True).expand_as(p))
    assert fed.step(cfg.every_k_updates + 1) is None  # not a multiple of K
    assert fed.epsilon() == math.inf


def test_clipping_bounds_each_agents_contribution():
    g = torch.Generator().manual_seed(1)
    deltas = (
        torch.randn(8, 50, generator=g) * torch.tensor([0.01, 0.1, 1, 5, 10, 50, 0, 3])[:, None]
    )
    clipped, norms = clip_updates(deltas, 2.0)
    torch.testing.assert_close(norms, torch.linalg.vector_norm(deltas, dim=1))
    new = torch.linalg.vector_norm(clipped, dim=1)
    assert bool((new <= 2.0 + 1e-5).all())
    small = norms <= 2.0
    torch.testing.assert_close(clipped[small], deltas[small])  # untouched below C
    torch.testing.assert_close(new[~small], torch.full_like(new[~small], 2.0))
    cos = torch.nn.functional.cosine_similarity(clipped[~small], deltas[~small], dim=1)
    torch.testing.assert_close(cos, torch.ones_like(cos))  # direction kept
    # in a round, one agent with a huge update moves the global model by at most C / A
    params = [torch.zeros(5, 10)]
    cfg = FedAvgConfig(enabled=True, dp_enabled=True, clip_norm=0.5, noise_multiplier=0.0)
    fed = FederatedAveraging(cfg, params, np.random.default_rng(0))
    params[0][3] += 1000.0
    before = fed.global_weights.clone()
    record = fed.aggregate()
    moved = float(torch.linalg.vector_norm(fed.global_weights - before))
    assert moved == pytest.approx(0.5 / 5, rel=1e-5)
    assert record["charts/fedavg_clipped_frac"] == pytest.approx(1 / 5)


@pytest.mark.parametrize("sample_rate", [1.0, 0.5])
def test_noise_has_the_dp_fedavg_scale(sample_rate):
    num_agents, size, z, c = 10, 40_000, 2.0, 0.5
    deltas = torch.zeros(num_agents, size, dtype=torch.float64)
    selected = torch.ones(num_agents, dtype=torch.bool)
    gen = torch.Generator().manual_seed(3)
    update, _ = dp_fedavg_update(
        deltas, selected, clip_norm=c, noise_multiplier=z, sample_rate=sample_rate, generator=gen
    )
    sigma = z * c / (sample_rate * num_agents)  # z C / A when every agent takes part
    assert float(update.std()) == pytest.approx(sigma, rel=0.02)
    assert abs(float(update.mean())) < 4 * sigma / math.sqrt(size)
    assert stats.kstest(update.numpy() / sigma, "norm").pvalue > 1e-3
    # through the class: zero local change, every agent gets the same noised model
    params = [torch.zeros(num_agents, size)]
    cfg = FedAvgConfig(
        enabled=True, dp_enabled=True, clip_norm=c, noise_multiplier=z, sample_rate=sample_rate
    )
    fed = FederatedAveraging(cfg, params, np.random.default_rng(4))
    fed.aggregate()
    assert float(params[0][0].std()) == pytest.approx(sigma, rel=0.03)
    assert torch.equal(params[0][0], params[0][-1])


def test_epsilon_matches_dp_accounting_computed_directly():
    z, q, rounds, delta = 1.1, 0.2, 10, 1e-5
    event = dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(z))
    acc = rdp.RdpAccountant()
    acc.compose(event, rounds)
    assert privacy_epsilon(z, q, rounds, delta) == pytest.approx(acc.get_epsilon(delta), rel=1e-12)
    acc_pld = pld.PLDAccountant(value_discretization_interval=1e-3)
    acc_pld.compose(event, rounds)
    eps_pld = privacy_epsilon(z, q, rounds, delta, accountant="pld", pld_discretization=1e-3)
    assert eps_pld == pytest.approx(acc_pld.get_epsilon(delta), rel=1e-9)
    # the running accountant of the rounds agrees
    cfg = FedAvgConfig(
        enabled=True, dp_enabled=True, noise_multiplier=z, sample_rate=q, delta=delta,
        every_k_updates=1, pld_discretization=1e-3,
    )  # fmt: skip
    fed = FederatedAveraging(cfg, stacked_params(), np.random.default_rng(0))
    records = [fed.step(k) for k in range(1, rounds + 1)]
    assert fed.rounds == rounds
    assert records[-1]["charts/epsilon"] == pytest.approx(acc.get_epsilon(delta), rel=1e-12)
    assert fed.epsilon("pld") == pytest.approx(eps_pld, rel=1e-9)
    # the PLD accountant is the tighter one; the moments bound the looser one
    eps_rdp = privacy_epsilon(z, q, rounds, delta)
    assert eps_pld < eps_rdp < privacy_epsilon(z, q, rounds, delta, accountant="moments")


@pytest.mark.parametrize("accountant", ["rdp", "pld"])
def test_epsilon_grows_with_rounds_and_shrinks_with_noise(accountant):
    eps = functools.partial(privacy_epsilon, accountant=accountant, pld_discretization=1e-3)
    by_rounds = [eps(1.0, 0.1, t, 1e-5) for t in (1, 10, 100, 400)]
    assert all(a < b for a, b in itertools.pairwise(by_rounds))
    by_noise = [eps(z, 0.1, 100, 1e-5) for z in (0.7, 1.0, 2.0, 4.0)]
    assert all(a > b for a, b in itertools.pairwise(by_noise))
    assert eps(1.0, 0.1, 0, 1e-5) == 0.0
    assert eps(0.0, 0.1, 10, 1e-5) == math.inf


def test_moments_accountant_reproduces_published_epsilons():
    # Abadi et al. (CCS 2016), Sec. 3.1: q = 0.01, sigma = 4, delta = 1e-5, T = 10,000
    # steps give epsilon ~ 1.26 with the moments accountant.
    assert privacy_epsilon(4.0, 0.01, 10_000, 1e-5, "moments") == pytest.approx(1.26, abs=0.005)
    # TensorFlow Privacy tutorials/README.md table (MNIST DP-SGD, N = 60,000, batch 256,
    # steps = epochs * 60000 // 256, delta = 1e-5), printed to two decimals.
    q = 256 / 60_000
    assert privacy_epsilon(1.12, q, 60 * 60_000 // 256, 1e-5, "moments") == pytest.approx(
        2.92, abs=0.005
    )
    assert privacy_epsilon(1.2, q, 10 * 60_000 // 256, 1e-5, "moments") == pytest.approx(
        1.20, abs=0.005
    )
    # third row (z = 0.6, 30 epochs) prints 9.74; this RDP curve gives 9.76 (0.2 % higher)
    assert privacy_epsilon(0.6, q, 30 * 60_000 // 256, 1e-5, "moments") == pytest.approx(
        9.74, rel=3e-3
    )


def test_argument_errors_name_the_parameter():
    with pytest.raises(InvalidParameterError, match="'sampling_rate' parameter of privacy_eps"):
        privacy_epsilon(1.0, 0.0, 10, 1e-5)
    with pytest.raises(InvalidParameterError, match="'delta' parameter of privacy_epsilon"):
        privacy_epsilon(1.0, 0.5, 10, 1.0)
    with pytest.raises(InvalidParameterError, match="'rounds' parameter of privacy_epsilon"):
        privacy_epsilon(1.0, 0.5, 2.5, 1e-5)
    with pytest.raises(InvalidParameterError, match="'accountant' parameter"):
        privacy_epsilon(1.0, 0.5, 10, 1e-5, accountant="gdp")
    with pytest.raises(InvalidParameterError, match="'clip_norm' parameter of clip_updates"):
        clip_updates(torch.ones(2, 2), 0.0)
    with pytest.raises(InvalidParameterError, match="'params' parameter of FederatedAveraging"):
        FederatedAveraging(
            FedAvgConfig(), [torch.zeros(2, 3), torch.zeros(3)], np.random.default_rng()
        )


class CopyBitEnv:
    """Batched toy task: each of A agents is paid 1 for repeating its own random bit."""

    def __init__(self, num_envs=4, num_agents=5, horizon=4):
        self.num_envs, self.num_agents, self.horizon = num_envs, num_agents, horizon
        self.single_observation_space = gym.spaces.Box(0.0, 1.0, (2,), np.float32)
        self.single_action_space = gym.spaces.Discrete(2)

    def reset(self, rng):
        self.rng, self.t = rng, np.zeros(self.num_envs, dtype=np.int64)
        self.bits = rng.integers(0, 2, (self.num_envs, self.num_agents))
        return np.eye(2, dtype=np.float32)[self.bits]

    def step(self, actions):
        rewards = (np.asarray(actions) == self.bits).astype(np.float32)
        self.t += 1
        dones = self.t >= self.horizon
        self.t[dones] = 0
        self.bits = self.rng.integers(0, 2, (self.num_envs, self.num_agents))
        return np.eye(2, dtype=np.float32)[self.bits], rewards, dones, {}


@pytest.mark.parametrize("dp", [True, False])
def test_mappo_training_with_fedavg_rounds(dp):
    fed = {"enabled": True, "every_k_updates": 3, "dp_enabled": dp, "noise_multiplier": 1.0,
           "clip_norm": 1.0, "sample_rate": 0.6, "share_critic": False,
           "pld_discretization": 1e-3}  # fmt: skip
    cfg = MAPPOConfig(total_timesteps=4 * 16 * 6, num_steps=16, hidden_sizes=(8,), fedavg=fed)
    res = train(cfg, CopyBitEnv(), seed=0)
    assert res.num_updates == 6 and res.fedavg_rounds == 2
    actor = flatten_stacked(list(res.agent.actor.parameters()))
    assert torch.equal(actor, actor[0].expand_as(actor))  # the last update was a round
    critic = flatten_stacked(list(res.agent.critic.parameters()))
    assert not torch.equal(critic, critic[0].expand_as(critic))  # critics stay local
    if dp:
        expected = privacy_epsilon(1.0, 0.6, 2, 1e-5, "pld", pld_discretization=1e-3)
        assert res.epsilon == pytest.approx(expected, rel=1e-9)
    else:
        assert res.epsilon == math.inf
