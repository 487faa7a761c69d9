"""The edge-scheduling core and its Gymnasium faces: API, invariants, determinism, physics."""

from __future__ import annotations

import hashlib
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode
from hypothesis import given, settings
from hypothesis import strategies as st

import qnetrl.envs  # noqa: F401  (registers the ids)
from qnetrl._validation import InvalidParameterError
from qnetrl.config import ConfigError, invalid_examples
from qnetrl.envs.edge import (
    EdgeCore,
    EdgeEnvConfig,
    EdgeSchedulingEnv,
    EdgeSchedulingVectorEnv,
    secure_key_rate_bps,
    task_cost,
)
from qnetrl.envs.edge import core as edge_core
from qnetrl.physics.channel import bpsk_awgn_ber, bpsk_rayleigh_ber, bpsk_rician_ber
from qnetrl.physics.qkd import bb84_qber_threshold

ENV_ID = "qnetrl/EdgeScheduling-v0"
SMALL = {"horizon": 12}


# ------------------------------------------------------------------------------- API checks


def test_check_env_passes_without_warnings() -> None:
    env = gym.make(ENV_ID)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=False)
    assert [str(w.message) for w in caught] == []
    assert env.observation_space.dtype == np.float32
    assert env.observation_space.shape == (3 * 3 + 2,)
    assert env.action_space == gym.spaces.Discrete(3)


def test_make_vec_uses_native_vector_env() -> None:
    envs = gym.make_vec(ENV_ID, num_envs=5, vectorization_mode="vector_entry_point", n_nodes=4)
    assert isinstance(envs.unwrapped, EdgeSchedulingVectorEnv)
    assert envs.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP
    assert envs.single_observation_space.shape == (14,)
    assert envs.observation_space.shape == (5, 14)
    assert envs.action_space.shape == (5,)
    assert envs.single_action_space == gym.spaces.Discrete(4)


def test_make_passes_overrides_and_rejects_bad_fields() -> None:
    env = gym.make(ENV_ID, n_nodes=5, horizon=7)
    assert env.unwrapped.config.n_nodes == 5 and env.unwrapped.config.horizon == 7
    with pytest.raises(ConfigError, match="'n_nodes' field of EdgeEnvConfig"):
        gym.make(ENV_ID, n_nodes=0)


def test_render_ansi() -> None:
    env = EdgeSchedulingEnv(render_mode="ansi", **SMALL)
    env.reset(seed=0)
    env.step(1)
    line = env.render()
    assert isinstance(line, str) and line.startswith("t=   1 loads=[")
    venv = EdgeSchedulingVectorEnv(2, render_mode="ansi", **SMALL)
    venv.reset(seed=0)
    assert len(venv.render()) == 2


# ------------------------------------------------------------------------------- invariants


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    actions=st.lists(st.integers(0, 2), min_size=12, max_size=12),
)
def test_invariants_and_truncation_only_at_horizon(seed: int, actions: list[int]) -> None:
    env = EdgeSchedulingEnv(**SMALL)
    core = env.core
    cap = env.config.key_buffer_bits
    obs, _ = env.reset(seed=seed)
    assert env.observation_space.contains(obs)
    for t, a in enumerate(actions):
        obs, reward, terminated, truncated, info = env.step(a)
        assert env.observation_space.contains(obs)
        assert np.isfinite(reward)
        assert terminated is False
        assert truncated is (t == len(actions) - 1)
        assert np.all(core.loads >= 0.0)
        assert np.all((core.key_buffer_bits >= 0.0) & (core.key_buffer_bits <= cap))
        assert np.all(core.key_debt_bits >= 0.0)
        assert 0.0 <= info["key_wait_ms"] <= env.config.key_wait_cap_ms
    with pytest.raises(RuntimeError, match="horizon"):
        env.step(0)


def test_vector_invariants_with_concentrated_actions() -> None:
    """Sending every task to the weakest node drives keys into debt; bounds still hold."""
    envs = EdgeSchedulingVectorEnv(64, horizon=100)
    obs, _ = envs.reset(seed=3)
    core = envs.core
    for _ in range(99):
        obs, _, term, trunc, _ = envs.step(np.zeros(64, dtype=np.int64))
        assert envs.observation_space.contains(obs)
        assert not term.any() and not trunc.any()
        assert np.all(core.loads >= 0.0)
        assert np.all(core.key_buffer_bits <= envs.config.key_buffer_bits)
    assert core.key_debt_bits[:, 0].max() > 0.0  # the scenario does reach key debt
    obs, _, term, trunc, infos = envs.step(np.zeros(64, dtype=np.int64))
    assert trunc.all() and not term.any()
    assert envs.single_observation_space.contains(infos["final_obs"][0])


def test_vector_same_step_autoreset() -> None:
    envs = EdgeSchedulingVectorEnv(3, **SMALL)
    obs, _ = envs.reset(seed=11)
    first_task = obs[:, -2].copy()
    for t in range(SMALL["horizon"]):
        obs, _, term, trunc, infos = envs.step(np.array([0, 1, 2]))
        assert not term.any()
        assert infos["_latency_ms"].all() and infos["latency_ms"].shape == (3,)
        if t < SMALL["horizon"] - 1:
            assert not trunc.any() and "final_obs" not in infos
    assert trunc.all()
    assert infos["_final_obs"].all() and infos["_final_info"].all()
    assert infos["final_obs"].shape == (3, 11)
    np.testing.assert_array_equal(infos["final_info"]["latency_ms"], infos["latency_ms"])
    # The returned observation starts a new episode: zero loads, step counter back to 0.
    np.testing.assert_array_equal(obs[:, :3], 0.0)
    assert np.all(envs.core.t == 0)
    assert not np.array_equal(obs[:, -2], first_task)


def test_record_episode_statistics_counts_full_episodes() -> None:
    envs = gym.wrappers.vector.RecordEpisodeStatistics(EdgeSchedulingVectorEnv(2, **SMALL))
    envs.reset(seed=0)
    returns = np.zeros(2)
    for _ in range(SMALL["horizon"]):
        _, rew, _, _, infos = envs.step(np.array([0, 1]))
        returns += rew
    np.testing.assert_allclose(infos["episode"]["r"], returns)
    np.testing.assert_array_equal(infos["episode"]["l"], SMALL["horizon"])


# ------------------------------------------------------------------------------- determinism


def _env_rollout(env: EdgeSchedulingEnv, seed: int, actions: np.ndarray) -> np.ndarray:
    rows = [env.reset(seed=seed)[0]]
    for a in actions:
        obs, rew, _, trunc, _ = env.step(int(a))
        rows.append(np.append(obs, rew))
        if trunc:
            rows.append(env.reset()[0])  # second episode from the same generator
    return np.concatenate(rows)


def test_env_is_deterministic_under_seed() -> None:
    actions = np.random.default_rng(0).integers(0, 3, size=2 * SMALL["horizon"])
    a = _env_rollout(EdgeSchedulingEnv(**SMALL), 42, actions)
    b = _env_rollout(EdgeSchedulingEnv(**SMALL), 42, actions)
    c = _env_rollout(EdgeSchedulingEnv(**SMALL), 43, actions)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_vector_env_is_deterministic_and_copy0_matches_env() -> None:
    horizon = SMALL["horizon"]
    actions = np.random.default_rng(1).integers(0, 3, size=(2 * horizon, 4))

    def vec_rollout() -> tuple[np.ndarray, np.ndarray]:
        envs = EdgeSchedulingVectorEnv(4, **SMALL)
        obs, _ = envs.reset(seed=7)
        all_obs, all_rew = [obs], []
        for a in actions:
            obs, rew, _, _, _ = envs.step(a)
            all_obs.append(obs)
            all_rew.append(rew)
        return np.stack(all_obs), np.stack(all_rew)

    obs1, rew1 = vec_rollout()
    obs2, rew2 = vec_rollout()
    np.testing.assert_array_equal(obs1, obs2)
    np.testing.assert_array_equal(rew1, rew2)
    assert not np.array_equal(obs1[:, 0], obs1[:, 1])  # copies are independent episodes

    # The B=1 Env seeded alike sees copy 0's episodes, the autoreset episode included.
    env = EdgeSchedulingEnv(**SMALL)
    obs, _ = env.reset(seed=7)
    np.testing.assert_array_equal(obs, obs1[0, 0])
    for t, a in enumerate(actions[:, 0]):
        obs, rew, _, trunc, _ = env.step(int(a))
        if trunc:
            obs, _ = env.reset()
        np.testing.assert_array_equal(obs, obs1[t + 1, 0])
        assert rew == rew1[t, 0]


# Digests of seeded rollouts recorded with the core as it was before QBER and key rate became
# lazy (commit 37a14d5: both precomputed for all (B, T + 1, N) slots at reset). Recorded on
# x86-64 (numpy 2.4.6 with AVX-512 kernels, scipy 1.17); the reward sums are platform-robust
# to 1e-9, the digests are bit for bit.
REFERENCE_ROLLOUTS = {
    "default": (
        {},
        "540776104d4323633c21a5f1880970a32084896ed0d284fe0c6426082b572c53",
        -8979.305299744137,
    ),
    "bb84_rician_coherence3": (
        {
            "horizon": 30,
            "key_model": "bb84",
            "fading": "rician",
            "k_factor": 3.0,
            "coherence_steps": 3,
            "key_bits_per_load": 8.0,
            "n_nodes": 4,
        },
        "c2a56b5e98c220de2a2082764b2d00128c31c1a29f317f0e033f5512efefeae0",
        -1461.6129669712834,
    ),
}


def _core_rollout_digest(config: EdgeEnvConfig, bsz: int, seed: int) -> tuple[str, float]:
    """SHA-256 of everything two seeded random-action episodes expose, and the reward sum."""
    digest = hashlib.sha256()
    core = EdgeCore(config, bsz)
    rng = np.random.default_rng(seed)
    act = np.random.default_rng(seed + 1)
    total = 0.0
    for _ in range(2):
        obs = core.reset(rng)
        digest.update(obs.tobytes())
        digest.update(core.ber.tobytes())
        for _t in range(config.horizon):
            for x in core.peek(3):
                digest.update(np.ascontiguousarray(x).tobytes())
            obs, rew, trunc, info = core.step(act.integers(0, config.n_nodes, size=bsz))
            total += float(rew.sum())
            for x in (obs, rew, trunc):
                digest.update(np.ascontiguousarray(x).tobytes())
            for k in sorted(info):
                digest.update(k.encode())
                digest.update(np.ascontiguousarray(info[k]).tobytes())
            for x in (core.ber, core.key_buffer_bits, core.key_debt_bits):
                digest.update(x.tobytes())
    return digest.hexdigest(), total


@pytest.mark.parametrize("chunk_elements", [None, 1])
@pytest.mark.parametrize("name", sorted(REFERENCE_ROLLOUTS))
def test_rollouts_match_reference_before_lazy_channel(
    name: str, chunk_elements: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same seed, same numbers: lazy QBER / key rate reproduce the precomputed ones bit for bit.

    ``chunk_elements=1`` forces one slot per chunk (the large-B path) even at B = 5.
    """
    if chunk_elements is not None:
        monkeypatch.setattr(edge_core, "_CHANNEL_CHUNK_ELEMENTS", chunk_elements)
    overrides, expected_digest, expected_total = REFERENCE_ROLLOUTS[name]
    digest, total = _core_rollout_digest(EdgeEnvConfig(**overrides), 5, 16)
    assert total == pytest.approx(expected_total, rel=1e-12, abs=1e-9)
    assert digest == expected_digest


def test_lazy_channel_equals_whole_episode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slots computed one at a time, by step and by peek, equal the whole-episode arrays."""
    monkeypatch.setattr(edge_core, "_CHANNEL_CHUNK_ELEMENTS", 1)
    cfg = EdgeEnvConfig(horizon=15, coherence_steps=2)
    lazy, eager = EdgeCore(cfg, 6), EdgeCore(cfg, 6)
    lazy.reset(np.random.default_rng(3))
    eager.reset(np.random.default_rng(3))
    qber, rate = eager.episode_channel()  # every slot at once
    assert lazy._chunk == 1 and not lazy._chunk_done[1:].any()  # only the warm-up slot so far
    np.testing.assert_array_equal(lazy.ber, qber[:, 0])
    a = np.zeros(6, dtype=np.int64)
    for t in range(cfg.horizon):
        look = lazy.peek(2)
        np.testing.assert_array_equal(look.qber[:, 0], qber[:, t + 1])
        np.testing.assert_array_equal(look.key_rate_bps[:, 0], rate[:, t + 1])
        info = lazy.step(a)[3]
        np.testing.assert_array_equal(info["qber"], qber[:, t + 1])
        np.testing.assert_array_equal(info["secure_key_rate_bps"], rate[:, t + 1])
        np.testing.assert_array_equal(lazy.ber, qber[:, t + 1])
    # Copies at different steps (a restored state) take the gather path.
    state = eager.get_state()
    state.t = np.array([0, 1, 4, 9, 2, 14])
    lazy.set_state(state)
    look = lazy.peek(1)
    np.testing.assert_array_equal(look.qber[:, 0], qber[np.arange(6), state.t + 1])
    info = lazy.step(a)[3]
    np.testing.assert_array_equal(
        info["key_generated_bits"], rate[np.arange(6), state.t + 1] * cfg.slot_s
    )


# ------------------------------------------------------------------------------- dynamics


def test_step_follows_documented_dynamics() -> None:
    cfg = EdgeEnvConfig(**SMALL, key_bits_per_load=8.0)
    core = EdgeCore(cfg, 16)
    core.reset(np.random.default_rng(5))
    rng = np.random.default_rng(6)
    b = np.arange(16)
    for _ in range(SMALL["horizon"]):
        before = core.get_state()
        look = core.peek(2)
        a = rng.integers(0, 3, size=16)
        _, reward, _, info = core.step(a)
        t = before.t
        onehot = np.eye(3)[a]
        task = before.task_loads[b, t]
        demand = before.task_key_bits[b, t]
        np.testing.assert_array_equal(info["task_load"], task)
        np.testing.assert_array_equal(look.task_load[:, 0], task)
        np.testing.assert_array_equal(demand, cfg.key_bits_per_task + 8.0 * task)
        np.testing.assert_array_equal(info["qber"], look.qber[:, 0])
        np.testing.assert_array_equal(core.ber, look.qber[:, 0])
        gen = look.key_rate_bps[:, 0] * cfg.slot_s
        np.testing.assert_allclose(info["key_generated_bits"], gen)
        expected_loads = (before.loads + onehot * task[:, None]) * (1.0 - look.decay[:, 0])
        np.testing.assert_allclose(core.loads, expected_loads)
        expected_key = np.minimum(
            before.key_balance_bits + gen - onehot * demand[:, None], cfg.key_buffer_bits
        )
        np.testing.assert_allclose(core.state.key_balance_bits, expected_key)
        cost = task_cost(
            cfg,
            before.loads[b, a],
            core.capacity[a],
            task,
            before.key_balance_bits[b, a],
            demand,
            look.qber[b, 0, a],
            look.key_rate_bps[b, 0, a],
        )
        np.testing.assert_allclose(reward, cost.reward)


@pytest.mark.parametrize(
    ("fading", "k_factor"), [("rayleigh", 0.0), ("rician", 3.0), ("none", 0.0)]
)
def test_fading_statistics_match_closed_form_ber(fading: str, k_factor: float) -> None:
    """Slot QBERs average to the closed-form BPSK BER of each link's mean SNR."""
    cfg = EdgeEnvConfig(horizon=200, fading=fading, k_factor=k_factor)
    core = EdgeCore(cfg, 512)
    core.reset(np.random.default_rng(0))
    snr = core.mean_snr_db
    expected = {
        "rayleigh": bpsk_rayleigh_ber(snr),
        "rician": bpsk_rician_ber(snr, k_factor),
        "none": bpsk_awgn_ber(snr),
    }[fading]
    qber, rate = core.episode_channel()
    mean_qber = qber.mean(axis=(0, 1))
    # Rician means hinge on rare deep fades: a looser Monte Carlo tolerance.
    np.testing.assert_allclose(mean_qber, expected, rtol=0.1 if fading == "rician" else 0.05)
    # The greedy baseline's quadrature describes the same distribution.
    qber_q, rate_q, weight = core.channel_quadrature(32)
    assert weight.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(qber_q @ weight, expected, rtol=1e-3)
    np.testing.assert_allclose(rate_q @ weight, rate.mean(axis=(0, 1)), rtol=0.01)
    if fading == "rayleigh":
        assert 0.004 < mean_qber.min() and mean_qber.max() < 0.035  # links differ, 0.5 %-3 %


def test_coherence_holds_fading_for_blocks() -> None:
    core = EdgeCore(EdgeEnvConfig(horizon=20, coherence_steps=4), 2)
    core.reset(np.random.default_rng(0))
    q = core.episode_channel()[0]  # (B, T + 1, N), blocks of 4 slots from slot 0
    np.testing.assert_array_equal(q[:, 0:4], np.repeat(q[:, :1], 4, axis=1))
    assert not np.array_equal(q[:, 3], q[:, 4])


def test_task_cost_formula() -> None:
    cfg = EdgeEnvConfig()
    # Key shortfall of 100 bits at 200 kbit/s: 0.5 ms; BER 1 %: truncated ARQ over 64 bits.
    cost = task_cost(cfg, 80.0, 100.0, 15.0, 156.0, 256.0, 0.01, 2e5)
    per = 1.0 - 0.99**64
    retx = ((1.0 - per**8) / (1.0 - per) - 1.0) * 0.5
    assert cost.key_wait_ms == pytest.approx(0.5)
    assert cost.retx_ms == pytest.approx(retx)
    assert bool(cost.overload)  # 95 > 90
    assert cost.latency_ms == pytest.approx(1.0 + 10.0 * 0.95**2 + 0.5 + retx)
    assert cost.reward == pytest.approx(-float(cost.latency_ms) - 10.0)
    # Zero key rate: the wait is the cap; no shortfall: no wait even at zero rate.
    capped = task_cost(cfg, 0.0, 100.0, 1.0, [0.0, 300.0], 256.0, 0.5, 0.0)
    np.testing.assert_array_equal(capped.key_wait_ms, [10.0, 0.0])
    np.testing.assert_allclose(capped.retx_ms, 7 * 0.5)  # BER 1/2: every transmission fails
    # Key debt queues a new task behind earlier ones.
    debt = task_cost(cfg, 0.0, 100.0, 1.0, -256.0, 256.0, 0.0, 1e6)
    assert debt.key_wait_ms == pytest.approx(0.512)


def test_peek_pads_past_horizon() -> None:
    core = EdgeCore(EdgeEnvConfig(horizon=3), 2)
    core.reset(np.random.default_rng(0))
    core.step(np.array([0, 1]))
    look = core.peek(4)
    np.testing.assert_array_equal(look.valid, [[True, True, False, False]] * 2)
    assert np.all(look.task_load[:, 2:] == 0.0) and np.all(look.qber[:, 2:] == 0.0)


def test_state_clone_and_restore() -> None:
    core = EdgeCore(EdgeEnvConfig(**SMALL), 4)
    core.reset(np.random.default_rng(0))
    core.step(np.array([0, 1, 2, 0]))
    saved = core.get_state()
    twin = core.clone()
    a = np.array([2, 2, 1, 0])
    out1 = core.step(a)
    out2 = twin.step(a)
    np.testing.assert_array_equal(out1[0], out2[0])
    np.testing.assert_array_equal(out1[1], out2[1])
    core.set_state(saved)
    np.testing.assert_array_equal(core.step(a)[1], out1[1])
    with pytest.raises(InvalidParameterError, match="'state' parameter"):
        EdgeCore(EdgeEnvConfig(**SMALL), 2).set_state(saved)


def test_core_argument_errors() -> None:
    core = EdgeCore(EdgeEnvConfig(**SMALL), 2)
    with pytest.raises(RuntimeError, match="reset"):
        core.step(np.array([0, 0]))
    core.reset(np.random.default_rng(0))
    with pytest.raises(InvalidParameterError, match=r"'actions' parameter .* range \[0, 2\]"):
        core.step(np.array([0, 3]))
    with pytest.raises(InvalidParameterError, match="shape"):
        core.step(np.array([0]))
    with pytest.raises(InvalidParameterError, match="'batch_size' parameter"):
        EdgeCore(EdgeEnvConfig(), 0)
    with pytest.raises(InvalidParameterError, match="'rng' parameter"):
        core.reset(0)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="'k' parameter"):
        core.peek(0)
    env = EdgeSchedulingEnv(**SMALL)
    env.reset(seed=0)
    with pytest.raises(InvalidParameterError, match="'action' parameter"):
        env.step(3)


# ------------------------------------------------------------------------------- key model


def test_publication_key_rate_reproduces_claim() -> None:
    """820,523 bit/s at QBER 0.94 % (the study's claimed secure key rate, its key model)."""
    assert int(secure_key_rate_bps(EdgeEnvConfig(), 0.0094)) == 820523


def test_key_model_switch_changes_key_generation() -> None:
    horizon = 50
    pub = EdgeCore(EdgeEnvConfig(horizon=horizon), 64)
    bb = EdgeCore(EdgeEnvConfig(horizon=horizon, key_model="bb84"), 64)
    pub.reset(np.random.default_rng(9))
    bb.reset(np.random.default_rng(9))
    q, r_pub = pub.episode_channel()
    q_bb, r_bb = bb.episode_channel()
    np.testing.assert_array_equal(q, q_bb)  # same fading, only the key model differs
    high = q > 0.0114  # above the crossover BB84 (1 - f h - h) is below 0.9 (1 - f h)
    assert high.any() and np.all(r_bb[high] <= r_pub[high])
    low = q < 0.0113  # below it the publication's flat 10 % PA charge exceeds h(e)
    assert low.any() and np.all(r_bb[low] >= r_pub[low])
    threshold = bb84_qber_threshold(1.15)
    beyond = q > threshold
    assert beyond.any() and np.all(r_bb[beyond] == 0.0)
    leak = beyond & (q < 0.17)  # the publication model still claims key up to h(e) = 1/f
    assert leak.any() and np.all(r_pub[leak] > 0.0)
    # Episode key per step is rate x slot for every node, whatever the actions.
    info = bb.step(np.zeros(64, dtype=np.int64))[3]
    np.testing.assert_allclose(info["key_generated_bits"], r_bb[:, 1] * bb.config.slot_s)


# ------------------------------------------------------------------------------- config


@pytest.mark.parametrize(("field", "bad"), invalid_examples(EdgeEnvConfig))
def test_every_bounded_field_rejects_out_of_range(field: str, bad: object) -> None:
    with pytest.raises(ConfigError, match=f"'{field}' field of EdgeEnvConfig must be"):
        EdgeEnvConfig.validate_dict({field: bad})


@pytest.mark.parametrize(
    ("data", "field", "hint"),
    [
        ({"capacities": [100.0, 100.0]}, "capacities", "n_nodes=3"),
        ({"capacities": [100.0, 0.0, 100.0]}, "capacities", r"\(0, inf\)"),
        ({"n_nodes": 2, "mean_snr_db": [10.0, 12.0, 14.0]}, "mean_snr_db", "n_nodes=2"),
        ({"load_decay": 0.1, "load_decay_jitter": 0.1}, "load_decay_jitter", "min"),
        ({"load_decay": 0.9, "load_decay_jitter": 0.2}, "load_decay_jitter", "1 - load_decay"),
        ({"spike_low": 50.0, "spike_high": 40.0}, "spike_high", "spike_low"),
        ({"task_load_max": 50.0}, "task_load_max", "spike_high"),
        ({"key_model": "e91"}, "key_model", "publication"),
        ({"fading": "nakagami"}, "fading", "rayleigh"),
        ({"n_nodes": 65}, "n_nodes", r"\[1, 64\]"),
    ],
)
def test_cross_field_errors_name_the_field(data: dict, field: str, hint: str) -> None:
    with pytest.raises(ConfigError, match=f"'{field}' field of EdgeEnvConfig.*{hint}"):
        EdgeEnvConfig.validate_dict(data)


def test_config_arrays_and_scalar_broadcast() -> None:
    cfg = EdgeEnvConfig(n_nodes=4, capacities=[50, 100, 150, 200], mean_snr_db=12.0)
    np.testing.assert_array_equal(cfg.capacity_array(), [50, 100, 150, 200])
    np.testing.assert_array_equal(cfg.mean_snr_db_array(), [12.0] * 4)
    np.testing.assert_array_equal(EdgeEnvConfig().capacity_array(), [100.0] * 3)
    np.testing.assert_array_equal(EdgeEnvConfig().mean_snr_db_array(), [9.0, 13.0, 17.0])
    for name, info in EdgeEnvConfig.model_fields.items():
        assert info.description, f"{name} has no description"
