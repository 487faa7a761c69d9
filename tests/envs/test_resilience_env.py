"""Resilience env: Gymnasium contract, determinism, the ABFT layer's safety and equivalence."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import qnetrl.envs  # noqa: F401  (registers the ids)
from qnetrl._validation import InvalidParameterError
from qnetrl.consensus import ConsensusConfig, Keyring, run_consensus, update_weights
from qnetrl.consensus.pbft import framing_operations
from qnetrl.envs.resilience import (
    ResilienceCore,
    ResilienceEnv,
    ResilienceEnvConfig,
    ResilienceVectorEnv,
    encode_action,
    epoch_operations,
)
from qnetrl.network.faults import Behaviour

TRUST = encode_action(2, 0, 2, 4)  # default intensity, decoy BB84, trust-aware routing


def _small(**overrides: Any) -> ResilienceEnvConfig:
    """A 3 x 3 grid, four end nodes on the sides, short epochs."""
    base = ResilienceEnvConfig().network
    net = base.model_copy(
        update={
            "topology_params": {"rows": 3, "cols": 3, "spacing_km": 30.0},
            "end_nodes": [1, 7, 3, 5],
            "demand": base.demand.model_copy(update={"rate_per_slot": 0.1}),
            "faults": base.faults.model_copy(
                update={"behaviour_mix": overrides.pop("mix", {"flip": 1.0, "false_qber": 1.0})}
            ),
        }
    )
    data: dict[str, Any] = {"network": net, "epoch_slots": 4, "horizon": 3}
    data.update(overrides)
    return ResilienceEnvConfig(**data)


def test_check_env_and_spaces() -> None:
    env = gym.make("qnetrl/Resilience-v0", horizon=3)
    check_env(env.unwrapped)
    assert isinstance(env.unwrapped, ResilienceEnv)
    core = env.unwrapped.core
    assert env.action_space == gym.spaces.Discrete(24)
    assert env.observation_space.shape == (6 * core.n_links + 2 * core.n_nodes + 2,)
    assert env.observation_space.dtype == np.float32
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.float32 and env.observation_space.contains(obs)
    with pytest.raises(InvalidParameterError, match="'action' parameter"):
        env.step(24)


def test_vector_env_truncates_at_the_horizon_and_autoresets_same_step() -> None:
    envs = gym.make_vec(
        "qnetrl/Resilience-v0", num_envs=3, vectorization_mode="vector_entry_point", horizon=2
    )
    assert isinstance(envs, ResilienceVectorEnv)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    obs, _ = envs.reset(seed=1)
    assert obs.shape == (3, *envs.single_observation_space.shape)
    actions = np.full(3, TRUST)
    _, _, term, trunc, _ = envs.step(actions)
    assert not term.any() and not trunc.any()
    obs2, reward, term, trunc, info = envs.step(actions)
    assert not term.any() and trunc.all()
    assert info["_final_obs"].all() and info["final_obs"].shape == obs2.shape
    assert envs.unwrapped.core.t == 0  # already reset
    assert reward.dtype == np.float64 and np.isfinite(reward).all()


def test_same_seed_same_rollout_and_reset_options_force_the_scenario() -> None:
    def roll(seed: int) -> tuple[np.ndarray, np.ndarray]:
        envs = ResilienceVectorEnv(2, _small())
        obs, _ = envs.reset(seed=seed, options={"byzantine_fraction": 0.2})
        rewards = []
        rng = np.random.default_rng(0)
        for _ in range(3):
            obs, r, *_ = envs.step(rng.integers(0, 24, 2))
            rewards.append(r)
        return obs, np.array(rewards)

    a, b = roll(4), roll(4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(roll(5)[1], a[1])
    env = ResilienceEnv(_small(), fluctuating=(False,))
    env.reset(seed=0, options={"byzantine_fraction": 0.0})
    assert env.core.byzantine_fraction == 0.0 and not env.core.sim.faults.byzantine.any()


def test_abft_multipath_never_delivers_an_undetected_wrong_key() -> None:
    """Acceptance: 20 % Byzantine, real bytes, MAC checks: zero undetected wrong keys."""
    cfg = ResilienceEnvConfig(horizon=4, epoch_slots=5)
    cfg = cfg.model_copy(update={"network": cfg.network.model_copy(update={"byte_level": True})})
    single = cfg.network.model_copy(
        update={"routing": "single", "n_paths": 1, "threshold": 1, "byte_level": False}
    )
    baseline_wrong = 0
    for seed in range(3):
        core = ResilienceCore(cfg, 6)
        core.reset(np.random.default_rng(seed), byzantine_fraction=0.2)
        wrong = served = 0
        for _ in range(cfg.horizon):
            _, _, _, info = core.step(np.full(6, TRUST))
            wrong += int(info["wrong"].sum())
            served += int(info["served"].sum())
        s = core.sim.result().summary()
        assert served > 0 and wrong == 0 and s["wrong_keys_undetected"] == 0
        assert s["byte_level_mismatches"] == 0
        # The same faults and demand on the single-path baseline.
        base = ResilienceCore(cfg.model_copy(update={"network": single, "abft": False}), 6)
        base.reset(np.random.default_rng(seed), byzantine_fraction=0.2)
        np.testing.assert_array_equal(base.sim.faults.behaviour, core.sim.faults.behaviour)
        for _ in range(cfg.horizon):
            base.step(np.full(6, encode_action(2, 0, 0, 4)))
        baseline_wrong += int(base.sim.result().summary()["wrong_keys_undetected"])
    assert baseline_wrong > 0  # the attack is real: single-path relaying delivers wrong keys


def test_false_reports_and_framing_never_lower_an_honest_weight() -> None:
    cfg = _small(
        mix={"false_qber": 1.0, "false_pool": 1.0, "flip": 1.0, "drop": 1.0},
        trust={"f": "scenario"},
        horizon=4,
    )
    core = ResilienceCore(cfg, 8)
    lowered = 0
    for seed in range(3):
        core.reset(np.random.default_rng(seed), byzantine_fraction=0.2)
        trust = core.trust
        assert trust is not None
        honest = ~core.sim.faults.byzantine
        keys = Keyring(core.n_nodes, seed)
        history: list[Any] = []
        orig = trust.update

        def spy(
            ev: Any, keys: Keyring = keys, history: list[Any] = history, orig: Any = orig
        ) -> None:
            history.extend(epoch_operations(ev, 0, keys))
            orig(ev)

        trust.update = spy  # type: ignore[method-assign]
        for _ in range(cfg.horizon):
            core.step(np.full(8, TRUST))
            assert (trust.weights[honest] == trust.config.initial_weight).all()
        lowered += int((trust.weights[~honest] < trust.config.initial_weight).sum())
        # A Byzantine node of copy 0 frames every honest node on top of the real log.
        byz = np.flatnonzero(~honest[0])
        targets = np.flatnonzero(honest[0]).tolist()
        framing = framing_operations(keys.identity(int(byz[0])), targets)
        w = trust.weights[0]
        up = update_weights(w, framing, f=trust.f, alpha=0.5, keys=keys, history=history)
        assert (up.weights[honest[0]] == w[honest[0]]).all()
    assert lowered > 0  # the evidence does catch liars


def test_discounting_lifts_the_false_qber_denial_of_service() -> None:
    base = ResilienceEnvConfig(horizon=4)
    faults = base.network.faults.model_copy(update={"behaviour_mix": {"false_qber": 1.0}})
    cfg = base.model_copy(update={"network": base.network.model_copy(update={"faults": faults})})
    with_abft = ResilienceCore(cfg, 8)
    without = ResilienceCore(cfg.model_copy(update={"abft": False}), 8)
    for core in (with_abft, without):
        core.reset(np.random.default_rng(2), byzantine_fraction=0.2)
        for _ in range(cfg.horizon):
            core.step(np.full(8, TRUST))
    trust = with_abft.trust
    assert trust is not None
    liars = with_abft.sim.faults.active(0, Behaviour.FALSE_QBER)
    # A liar is discounted once most of its links disagree (two adjacent liars agree).
    assert liars.any() and trust.discounted[liars].mean() > 0.8
    # An honest node is discounted only when most of its neighbours lie about their links.
    t = with_abft.table
    inc = np.zeros((t.n_links, t.n_nodes))
    inc[np.arange(t.n_links), t.u] = inc[np.arange(t.n_links), t.v] = 1.0
    adj = inc.T @ inc - np.diag(inc.sum(axis=0))
    liar_share = (liars.astype(float) @ adj) / adj.sum(axis=0)
    honest_disc = trust.discounted & ~with_abft.sim.faults.byzantine
    assert (liar_share[honest_disc] > 0.5).all()
    a = with_abft.sim.result().summary()["availability"]
    b = without.sim.result().summary()["availability"]
    assert a > b + 0.3


def test_fast_weight_path_equals_weighted_pbft_on_the_signed_operations() -> None:
    """Replicate two epochs for real (Ed25519, weighted PBFT) and fold the committed log."""
    cfg = _small(trust={"f": "scenario"}, horizon=2)
    core = ResilienceCore(cfg, 1)
    core.reset(np.random.default_rng(0), byzantine_fraction=0.2)
    trust = core.trust
    assert trust is not None
    seed = 11
    keys = Keyring(core.n_nodes + 1, seed)  # replicas, then run_consensus's client
    epochs: list[list[Any]] = []
    weights: list[np.ndarray] = []
    orig = trust.update

    def spy(ev: Any) -> None:
        epochs.append(epoch_operations(ev, 0, keys))
        orig(ev)
        weights.append(trust.weights[0].copy())

    trust.update = spy  # type: ignore[method-assign]
    for _ in range(cfg.horizon):
        core.step(np.array([TRUST]))
    assert (weights[-1] < trust.config.initial_weight).any(), "nothing to compare"
    consensus = ConsensusConfig(
        n_replicas=core.n_nodes, f=trust.f, checkpoint_interval=100_000, alpha=0.5
    )
    res = run_consensus(consensus, epochs[0] + epochs[1], seed=seed)
    assert res.all_executed
    for h in res.honest:
        log = [op for op in res.operations[h] if op is not None]
        assert sorted(map(repr, log)) == sorted(map(repr, epochs[0] + epochs[1]))
    log = [op for op in res.operations[res.honest[0]] if op is not None]
    n0 = len(epochs[0])
    w = np.full(core.n_nodes, trust.config.initial_weight)
    u1 = update_weights(w, log[:n0], f=trust.f, alpha=0.5, keys=keys)
    u2 = update_weights(u1.weights, log[n0:], f=trust.f, alpha=0.5, keys=keys, history=log[:n0])
    np.testing.assert_array_equal(u1.weights, weights[0])
    np.testing.assert_array_equal(u2.weights, weights[1])


def test_oracle_settings_maximise_each_links_key() -> None:
    cfg = ResilienceEnvConfig(horizon=2, fluctuating=(True,))
    core = ResilienceCore(cfg, 2)
    core.reset(np.random.default_rng(0))
    level, proto = core.oracle_settings()
    assert level.shape == (2, core.n_links) and set(np.unique(proto)) <= {0, 1}
    _, r_oracle, _, _ = core.step(np.full(2, TRUST), oracle=True)
    assert np.isfinite(r_oracle).all()


def test_bad_arguments_name_the_parameter() -> None:
    core = ResilienceCore(_small(), 2)
    core.reset(np.random.default_rng(0))
    with pytest.raises(InvalidParameterError, match="'actions' parameter"):
        core.step(np.array([0, 99]))
    with pytest.raises(InvalidParameterError, match="'batch_size' parameter"):
        ResilienceCore(_small(), 0)
    with pytest.raises(InvalidParameterError, match="'byzantine_fraction' parameter"):
        core.reset(np.random.default_rng(0), byzantine_fraction=0.5)
