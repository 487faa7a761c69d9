"""Heuristic and oracle baselines of the edge-scheduling study, on shared seeded episodes."""

from __future__ import annotations

import numpy as np
import pytest

from qnetrl._validation import InvalidParameterError
from qnetrl.agents.heuristics import (
    GreedyPolicy,
    LeastLoadedPolicy,
    OraclePolicy,
    RandomPolicy,
    RoundRobinPolicy,
    evaluate,
)
from qnetrl.envs.edge import EdgeCore, EdgeEnvConfig, secure_key_rate_bps, task_cost

B = 32
SEEDS = (0, 1, 2)


def _mean_return(policy: object, config: EdgeEnvConfig | None = None) -> float:
    """Mean episode return over B copies x len(SEEDS) episodes, the same for every policy."""
    core = EdgeCore(config or EdgeEnvConfig(), B)
    totals = [evaluate(core, policy, np.random.default_rng(s)).total_reward for s in SEEDS]
    return float(np.mean(totals))


@pytest.fixture(scope="module")
def returns() -> dict[str, float]:
    return {
        "random": _mean_return(RandomPolicy(np.random.default_rng(123))),
        "round_robin": _mean_return(RoundRobinPolicy()),
        "least_loaded": _mean_return(LeastLoadedPolicy()),
        "greedy": _mean_return(GreedyPolicy()),
        "oracle": _mean_return(OraclePolicy(depth=2)),
    }


def test_greedy_beats_random_and_round_robin(returns: dict[str, float]) -> None:
    assert returns["greedy"] > returns["random"]
    assert returns["greedy"] > returns["round_robin"]
    assert returns["greedy"] >= returns["least_loaded"]


def test_oracle_at_least_as_good_as_greedy(returns: dict[str, float]) -> None:
    assert returns["oracle"] >= returns["greedy"]


def test_policies_return_valid_actions() -> None:
    core = EdgeCore(EdgeEnvConfig(n_nodes=4, horizon=5), 8)
    core.reset(np.random.default_rng(0))
    policies = [
        RandomPolicy(np.random.default_rng(0)),
        RoundRobinPolicy(1),
        LeastLoadedPolicy(),
        GreedyPolicy(8),
        OraclePolicy(2),
    ]
    for policy in policies:
        a = policy.act(core)
        assert a.shape == (8,) and np.issubdtype(a.dtype, np.integer)
        assert np.all((a >= 0) & (a < 4))


def test_round_robin_and_least_loaded_rules() -> None:
    core = EdgeCore(EdgeEnvConfig(capacities=[100.0, 50.0, 100.0], horizon=6), 2)
    core.reset(np.random.default_rng(0))
    rr = RoundRobinPolicy()
    seen = []
    for _ in range(6):
        a = rr.act(core)
        seen.append(int(a[0]))
        core.step(a)
    assert seen == [0, 1, 2, 0, 1, 2]
    core.reset(np.random.default_rng(0))
    core.state.loads[:] = [[40.0, 30.0, 50.0], [40.0, 10.0, 50.0]]  # ratios .4 .6 .5 / .4 .2 .5
    np.testing.assert_array_equal(LeastLoadedPolicy().act(core), [0, 1])


def test_greedy_equals_one_step_oracle_on_a_deterministic_channel() -> None:
    """Without fading the expected cost is the realised cost: both pick the same nodes."""
    cfg = EdgeEnvConfig(fading="none", horizon=30, mean_snr_db=[3.0, 5.0, 7.0])
    core = EdgeCore(cfg, 16)
    core.reset(np.random.default_rng(4))
    greedy, oracle = GreedyPolicy(), OraclePolicy(depth=1)
    for _ in range(cfg.horizon):
        a = greedy.act(core)
        np.testing.assert_array_equal(a, oracle.act(core))
        core.step(a)


def test_greedy_uses_last_qber_when_fading_is_held() -> None:
    """With a long coherence time the expected cost is (almost) the cost at the last QBER."""

    def held_reward(core: EdgeCore) -> np.ndarray:
        s = core.state
        return task_cost(
            core.config,
            s.loads,
            core.capacity,
            core.task_load[:, None],
            s.key_balance_bits,
            core.task_key_bits[:, None],
            s.ber,
            secure_key_rate_bps(core.config, s.ber),
        ).reward

    slow = EdgeCore(EdgeEnvConfig(coherence_steps=1_000, horizon=20), 16)
    slow.reset(np.random.default_rng(1))
    expected = GreedyPolicy().expected_reward(slow)
    assert expected.shape == (16, 3)
    # Weight 0.999 on the held channel, 0.001 on the fading average (costs are ~ 1-30 ms).
    np.testing.assert_allclose(expected, held_reward(slow), atol=0.05)
    fast = EdgeCore(EdgeEnvConfig(horizon=20), 16)
    fast.reset(np.random.default_rng(1))
    # Redrawn every slot: the last QBER is ignored, the fading average differs from it.
    assert np.abs(GreedyPolicy().expected_reward(fast) - held_reward(fast)).max() > 0.1


def test_oracle_does_not_touch_the_state() -> None:
    core = EdgeCore(EdgeEnvConfig(horizon=10), 4)
    core.reset(np.random.default_rng(2))
    core.step(np.array([0, 1, 2, 0]))
    before = core.get_state()
    OraclePolicy(3).act(core)
    after = core.state
    for name in ("loads", "key_balance_bits", "ber", "t"):
        np.testing.assert_array_equal(getattr(before, name), getattr(after, name))


def test_oracle_near_horizon_and_depth_beyond_it() -> None:
    core = EdgeCore(EdgeEnvConfig(horizon=2), 3)
    total = evaluate(core, OraclePolicy(3), np.random.default_rng(0)).total_reward
    assert total.shape == (3,) and np.all(np.isfinite(total))


def test_evaluate_matches_manual_rollout() -> None:
    cfg = EdgeEnvConfig(horizon=15)
    core = EdgeCore(cfg, 6)
    stats = evaluate(core, LeastLoadedPolicy(), np.random.default_rng(3))
    core.reset(np.random.default_rng(3))
    total, latency = np.zeros(6), np.zeros(6)
    for _ in range(cfg.horizon):
        _, r, _, info = core.step(LeastLoadedPolicy().act(core))
        total += r
        latency += info["latency_ms"]
    np.testing.assert_allclose(stats.total_reward, total)
    np.testing.assert_allclose(stats.mean_latency_ms, latency / cfg.horizon)
    assert stats.key_generated_bits.shape == (6, 3)


def test_argument_errors() -> None:
    with pytest.raises(InvalidParameterError, match="'rng' parameter of RandomPolicy"):
        RandomPolicy(0)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match=r"'depth' parameter .* \[1, inf\)"):
        OraclePolicy(0)
    with pytest.raises(InvalidParameterError, match="'n_points' parameter"):
        GreedyPolicy(0)
    with pytest.raises(InvalidParameterError, match="'offset' parameter"):
        RoundRobinPolicy(-1)
    core = EdgeCore(EdgeEnvConfig(n_nodes=64, horizon=2), 2)
    core.reset(np.random.default_rng(0))
    with pytest.raises(InvalidParameterError, match="B \\* N\\*\\*depth"):
        OraclePolicy(4).act(core)
