"""DPEM baselines: centralised greedy, FCFS shortest path, and the per-slot LP upper bound."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from qnetrl._validation import InvalidParameterError
from qnetrl.agents.allocators import (
    CentralizedGreedy,
    FcfsShortestPath,
    NoClaim,
    RandomAllocator,
    evaluate,
    slot_upper_bound,
)
from qnetrl.envs.entanglement import EntanglementCore, EntanglementEnvConfig, TraceRequests
from qnetrl.network.topology import add_link

#: Heavy demand, no second chance (deadline 0): contention costs deliveries.
CONTENDED = {"n_nodes": 20, "horizon": 30, "deadline_slots": 0, "request_rate_hz": 0.2}


def test_central_is_never_contended_and_every_claim_is_granted() -> None:
    core = EntanglementCore(EntanglementEnvConfig(**CONTENDED), 3)
    core.reset(np.random.default_rng(4))
    policy = CentralizedGreedy()
    claims = 0
    for _ in range(CONTENDED["horizon"]):
        _, _, _, info = core.step(policy.act(core))
        assert not info["contended"].any() and not info["shortfall"].any()
        np.testing.assert_array_equal(info["granted"], info["claimed"])
        assert not info["failed_fidelity"].any()  # it checks the pairs it will receive
        assert not info["invalid_action"].any()
        claims += int(info["claimed"].sum())
    assert claims > 0


def test_central_delivers_at_least_fcfs_in_a_contended_scenario() -> None:
    core = EntanglementCore(EntanglementEnvConfig(**CONTENDED), 4)
    central = evaluate(CentralizedGreedy(), core, np.random.default_rng(0))
    fcfs = evaluate(FcfsShortestPath(), core, np.random.default_rng(0))
    assert fcfs.contended.sum() > 20  # contention happens
    assert central.contended.sum() == 0
    assert central.arrived.tolist() == fcfs.arrived.tolist()  # same requests
    assert central.delivered.sum() >= fcfs.delivered.sum()
    assert central.delivery_rate.mean() >= fcfs.delivery_rate.mean()
    nothing = evaluate(NoClaim(), core, np.random.default_rng(0))
    assert nothing.delivered.sum() == 0 and fcfs.delivered.sum() > 0


def test_lp_bound_dominates_every_allocator_slot_by_slot() -> None:
    core = EntanglementCore(EntanglementEnvConfig(**CONTENDED, swap_success_prob=1.0), 2)
    core.reset(np.random.default_rng(1))
    walker = FcfsShortestPath(require_feasible=False)
    policies = [
        CentralizedGreedy(),
        FcfsShortestPath(),
        FcfsShortestPath(require_feasible=False),
        RandomAllocator(np.random.default_rng(2)),
    ]
    checked = 0
    for _ in range(12):
        bound = slot_upper_bound(core)
        weighted = slot_upper_bound(core, weighted=True)
        assert (weighted <= bound + 1e-9).all()
        assert (bound <= core.head.valid.sum(axis=1) + 1e-9).all()
        for policy in policies:
            twin = core.clone()
            _, _, _, info = twin.step(policy.act(twin))
            delivered = info["delivered"].sum(axis=1)
            assert (delivered <= bound + 1e-9).all()
            checked += int(delivered.sum())
        core.step(walker.act(core))
    assert checked > 0


def test_episode_bound_along_each_trajectory_exceeds_its_deliveries() -> None:
    core = EntanglementCore(EntanglementEnvConfig(**{**CONTENDED, "horizon": 15}), 2)
    for policy in (CentralizedGreedy(), FcfsShortestPath()):
        stats = evaluate(policy, core, np.random.default_rng(3), with_bound=True)
        assert (stats.upper_bound >= stats.delivered).all()
        assert (stats.upper_bound > 0).all()


def tiny_core(pairs_on_12: int, p_swap: float) -> EntanglementCore:
    """Path 0 - 1 - 2; requests 0 -> 2 and 1 -> 2 in slot 0; one pair on 0-1."""
    g = nx.Graph()
    add_link(g, 0, 1, 2.0)
    add_link(g, 1, 2, 2.0)
    cfg = EntanglementEnvConfig(
        n_nodes=3,
        gen_rate_low_hz=0.0,
        gen_rate_high_hz=0.0,
        repeater_rate_low_hz=1.0,
        repeater_rate_high_hz=1.0,
        swap_success_prob=p_swap,
        purification=False,
        warmup_slots=0,
        memory_coherence_s=float("inf"),
        horizon=2,
    )
    trace = TraceRequests([0, 0], [0, 1], [2, 2], [0.9, 0.9], n_nodes=3)
    core = EntanglementCore(cfg, 1, graph=g, requests=trace)
    core.reset(np.random.default_rng(0))
    state = core.get_state()
    state.pair_count[0] = [1, pairs_on_12]
    state.pair_fidelity[0, 0, 0] = 1.0
    state.pair_fidelity[0, 1, :pairs_on_12] = 1.0
    core.set_state(state)
    return core


def test_lp_bound_on_a_hand_checked_instance() -> None:
    # one pair on link 1-2: the two requests compete for it, at most one is served
    assert slot_upper_bound(tiny_core(1, 1.0))[0] == pytest.approx(1.0)
    # two pairs: both can be served (0 -> 2 uses 0-1 and 1-2 and one swap at node 1)
    assert slot_upper_bound(tiny_core(2, 1.0))[0] == pytest.approx(2.0)
    # weighted by swap success 0.5: the one-hop request is worth 1, the two-hop one 0.5
    assert slot_upper_bound(tiny_core(1, 0.5), weighted=True)[0] == pytest.approx(1.0)
    assert slot_upper_bound(tiny_core(2, 0.5), weighted=True)[0] == pytest.approx(1.5)
    core = tiny_core(1, 1.0)
    actions = CentralizedGreedy().act(core)
    _, _, _, info = core.step(actions)
    assert info["delivered"].sum() == 1 and not info["contended"].any()


def test_contention_on_the_hand_checked_instance() -> None:
    core = tiny_core(1, 1.0)
    actions = FcfsShortestPath().act(core)
    assert actions[0].tolist() == [1, 1, 0]  # both claim their shortest route
    _, reward, _, info = core.step(actions)
    assert info["contended"][0].tolist() == [True, True, False]
    assert info["granted"][0].sum() == 1 and info["lost"][0].sum() == 1
    cfg = core.config
    np.testing.assert_allclose(
        reward[0], info["delivered"][0] - cfg.contention_penalty * info["contended"][0]
    )


def test_fcfs_claims_the_first_isolated_feasible_route() -> None:
    core = EntanglementCore(EntanglementEnvConfig(**CONTENDED), 2)
    core.reset(np.random.default_rng(5))
    for _ in range(8):
        actions = FcfsShortestPath().act(core)
        feasible = core.routes.feasible.reshape(2, 20, -1)
        claimed = actions > 0
        np.testing.assert_array_equal(claimed, feasible.any(axis=-1))
        first = np.argmax(feasible, axis=-1)
        np.testing.assert_array_equal(actions[claimed], 1 + first[claimed])
        naive = FcfsShortestPath(require_feasible=False).act(core)
        np.testing.assert_array_equal(naive, np.where(core.head.valid, 1, 0))
        core.step(actions)


def test_random_allocator_respects_the_action_mask() -> None:
    core = EntanglementCore(EntanglementEnvConfig(**CONTENDED), 2)
    core.reset(np.random.default_rng(6))
    policy = RandomAllocator(np.random.default_rng(0))
    for _ in range(5):
        actions = policy.act(core)
        mask = core.action_mask()
        assert np.take_along_axis(mask, actions[..., None], axis=-1).all()
        _, _, _, info = core.step(actions)
        assert not info["invalid_action"].any()


def test_evaluate_statistics_are_consistent() -> None:
    core = EntanglementCore(EntanglementEnvConfig(**CONTENDED), 2)
    stats = evaluate(FcfsShortestPath(), core, np.random.default_rng(7))
    np.testing.assert_allclose(stats.delivery_rate, stats.delivered / stats.arrived)
    np.testing.assert_allclose(stats.contention_rate, stats.contended / stats.claims)
    assert np.isnan(stats.upper_bound).all()
    assert ((stats.mean_fidelity >= 0.6) | (stats.delivered == 0)).all()


def test_allocator_argument_errors() -> None:
    with pytest.raises(InvalidParameterError, match=r"'core' parameter of CentralizedGreedy\.act"):
        CentralizedGreedy().act(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="'rng' parameter of RandomAllocator"):
        RandomAllocator(0)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="'core' parameter of slot_upper_bound"):
        slot_upper_bound("core")  # type: ignore[arg-type]
