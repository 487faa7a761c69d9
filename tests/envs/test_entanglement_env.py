"""DPEM entanglement core and PettingZoo face: physics bookkeeping, invariants, determinism, API."""

from __future__ import annotations

import warnings
from itertools import islice, pairwise

import networkx as nx
import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from qnetrl._validation import InvalidParameterError
from qnetrl.agents.allocators import FcfsShortestPath, RandomAllocator
from qnetrl.config import ConfigError, invalid_examples
from qnetrl.envs.entanglement import (
    EntanglementCore,
    EntanglementEnvConfig,
    EntanglementParallelEnv,
    TraceRequests,
    build_network,
    candidate_routes,
    compose_route_fidelity,
)
from qnetrl.envs.entanglement.core import _resolve_claims
from qnetrl.network.topology import add_link
from qnetrl.physics.entanglement import (
    bbpssw,
    depolarize,
    double_click_link,
    single_click_link,
    werner_swap,
)

SMALL = {"n_nodes": 16, "horizon": 30, "request_rate_hz": 0.04}


def path_graph(lengths_km: list[float]) -> nx.Graph:
    """Nodes 0 - 1 - ... - n joined by links of the given lengths."""
    g = nx.Graph()
    for i, length in enumerate(lengths_km):
        add_link(g, i, i + 1, length)
    return g


def run_random(core: EntanglementCore, seed: int, policy=None):  # type: ignore[no-untyped-def]
    """Yield (pre-step snapshot, info) for one episode of a policy (random by default)."""
    policy = policy or RandomAllocator(np.random.default_rng(seed + 1000))
    core.reset(np.random.default_rng(seed))
    for _ in range(core.config.horizon):
        before = {
            "pair_count": core.pair_count.copy(),
            "swap_budget": core.swap_budget.copy(),
            "t": int(core.t[0]),
        }
        _, _, _, info = core.step(policy.act(core))
        yield before, info


# --------------------------------------------------------------------------- physics bookkeeping


def test_fresh_pairs_carry_the_physics_layer_fidelity_and_probability() -> None:
    lengths = [5.0, 12.0, 30.0]
    for scheme, phys in (
        ("double", lambda L: double_click_link(L, 0.8)),
        ("single", lambda L: single_click_link(L, 0.8, 0.05)),
    ):
        cfg = EntanglementEnvConfig(
            n_nodes=4, scheme=scheme, gen_rate_low_hz=400.0, gen_rate_high_hz=400.0, horizon=2
        )
        core = EntanglementCore(cfg, 2, graph=path_graph(lengths))
        p, f0 = phys(np.array(lengths))
        np.testing.assert_allclose(core.network.p_herald, p)
        np.testing.assert_allclose(core.network.fidelity0, f0)
        core.reset(np.random.default_rng(0))
        # 400 attempts per slot per link: the memories are full of fresh pairs after warm-up.
        assert (core.pair_count == cfg.memory_slots).all()
        np.testing.assert_allclose(core.pair_fidelity, np.broadcast_to(f0[:, None], (2, 3, 4)))


def test_werner_bookkeeping_along_a_path_matches_the_physics_layer() -> None:
    cfg = EntanglementEnvConfig(
        n_nodes=4,
        gen_rate_low_hz=0.0,
        gen_rate_high_hz=0.0,
        repeater_rate_low_hz=5.0,
        repeater_rate_high_hz=5.0,
        swap_success_prob=1.0,
        warmup_slots=0,
        memory_coherence_s=200.0,
        horizon=6,
    )
    # One request 0 -> 3 arriving in slot 2, required fidelity 0.5.
    trace = TraceRequests([2], [0], [3], [0.5], n_nodes=4, deadline_slots=3)
    core = EntanglementCore(cfg, 1, graph=path_graph([10.0, 10.0, 10.0]), requests=trace)
    core.reset(np.random.default_rng(0))
    stock = np.array([[0.97, 0.95], [0.99, 0.90], [0.93, 0.92]])
    state = core.get_state()
    state.pair_count[0] = 2
    state.pair_fidelity[0, :, :2] = stock
    core.set_state(state)
    noop = np.zeros((1, 4), dtype=np.int64)
    for _ in range(2):  # slots 0 and 1: storage only
        core.step(noop)
    aged = depolarize(stock, 2 * cfg.slot_s, cfg.memory_coherence_s / 2)
    np.testing.assert_allclose(core.pair_fidelity[0, :, :2], aged, rtol=1e-12)
    # aged twice for slot_s equals aged once for 2 slot_s (semigroup of the depolarising map)
    t2 = cfg.memory_coherence_s / 2
    once = depolarize(depolarize(stock, cfg.slot_s, t2), cfg.slot_s, t2)
    np.testing.assert_allclose(aged, once, rtol=1e-12)

    count, best = core.incident_pairs  # node 1's neighbours are 0 and 2 (links 0 and 1)
    assert count[0, 1].tolist() == [2, 2]
    np.testing.assert_allclose(best[0, 1], aged[:2, 0], rtol=1e-12)
    routes = core.routes
    assert routes.valid[0, 0, 0] and routes.hops[0, 0, 0] == 3
    assert routes.nodes[0, 0, 0, :4].tolist() == [0, 1, 2, 3]
    plain = werner_swap(werner_swap(aged[0, 0], aged[1, 0]), aged[2, 0])
    purified = [bbpssw(aged[i, 0], aged[i, 1])[0] for i in range(3)]
    purified_e2e = werner_swap(werner_swap(purified[0], purified[1]), purified[2])
    np.testing.assert_allclose(routes.fidelity[0, 0, 0], [plain, purified_e2e], rtol=1e-12)
    assert routes.feasible[0, 0, 0].all() and routes.bottleneck[0, 0, 0] == 2

    action = noop.copy()
    action[0, 0] = core.action_index(0, 0)
    _, reward, _, info = core.step(action)
    assert info["granted"][0, 0] and info["delivered"][0, 0]
    np.testing.assert_allclose(info["e2e_fidelity"][0, 0], plain, rtol=1e-12)
    assert reward[0, 0] == 1.0
    assert info["swaps_used"][0].tolist() == [0, 1, 1, 0]
    assert info["pairs_consumed"][0].tolist() == [1, 1, 1]
    # the second-best pair of each link stays, aged by one more slot
    np.testing.assert_allclose(
        core.pair_fidelity[0, :, 0], depolarize(aged[:, 1], cfg.slot_s, t2), rtol=1e-12
    )
    assert core.totals["delivered"][0] == 1 and core.totals["arrived"][0] == 1


def test_compose_route_fidelity_tree_equals_left_to_right_fold() -> None:
    rng = np.random.default_rng(3)
    f = rng.uniform(0.5, 1.0, size=(50, 7))
    valid = rng.random((50, 7)) < 0.8
    fid, p = compose_route_fidelity(f, f, np.zeros(50, dtype=int), valid)
    for row in range(50):
        acc = 1.0
        for h in range(7):
            if valid[row, h]:
                acc = werner_swap(acc, f[row, h])
        assert fid[row] == pytest.approx(float(acc), rel=1e-12)
    assert (p == 1.0).all()


def test_pairs_below_the_cutoff_are_discarded() -> None:
    cfg = EntanglementEnvConfig(
        n_nodes=3,
        gen_rate_low_hz=0.0,
        gen_rate_high_hz=0.0,
        warmup_slots=0,
        memory_coherence_s=20.0,
        min_pair_fidelity=0.6,
        horizon=5,
    )
    core = EntanglementCore(cfg, 1, graph=path_graph([5.0, 5.0]))
    core.reset(np.random.default_rng(0))
    state = core.get_state()
    state.pair_count[0] = [1, 1]
    state.pair_fidelity[0, :, 0] = [0.99, 0.65]
    core.set_state(state)
    _, _, _, info = core.step(np.zeros((1, 3), dtype=np.int64))
    kept = depolarize(0.99, 5.0, 10.0)
    assert core.pair_count[0].tolist() == [1, 0]
    assert core.pair_fidelity[0, 0, 0] == pytest.approx(float(kept))
    assert info["pairs_discarded"][0].tolist() == [0, 1]


def test_generation_successes_are_binomial_in_the_attempts() -> None:
    cfg = EntanglementEnvConfig(
        n_nodes=12,
        memory_slots=64,
        gen_rate_low_hz=4.0,
        gen_rate_high_hz=10.0,
        request_rate_hz=0.0,
        horizon=40,
    )
    core = EntanglementCore(cfg, 16)
    core.reset(np.random.default_rng(5))
    attempts = np.zeros(core.n_links)
    born = np.zeros(core.n_links)
    for _ in range(cfg.horizon):
        _, _, _, info = core.step(np.zeros((16, 12), dtype=np.int64))
        attempts += info["attempts"].sum(axis=0)
        born += info["pairs_generated"].sum(axis=0)
    p = core.network.p_herald
    mean, var = (attempts * p).sum(), (attempts * p * (1 - p)).sum()
    assert abs(born.sum() - mean) < 5.0 * np.sqrt(var)
    # attempts follow the deterministic schedule: floor(a (s + 1)) - floor(a s)
    a = core.network.attempts_per_slot
    s0, s1 = cfg.warmup_slots, cfg.warmup_slots + cfg.horizon
    np.testing.assert_array_equal(attempts / 16, np.floor(a * s1) - np.floor(a * s0))


# --------------------------------------------------------------------------- invariants


@pytest.mark.parametrize("seed", [0, 1])
def test_never_delivered_below_fidelity_or_after_deadline(seed: int) -> None:
    cfg = EntanglementEnvConfig(**SMALL, deadline_slots=2, fidelity_low=0.7, fidelity_high=0.95)
    core = EntanglementCore(cfg, 4)
    delivered = 0
    for policy in (None, FcfsShortestPath(require_feasible=False)):
        for before, info in run_random(core, seed, policy):
            d = info["delivered"]
            assert (info["e2e_fidelity"][d] >= info["required_fidelity"][d]).all()
            assert (before["t"] <= info["deadline"][d]).all()
            assert not (d & ~info["granted"]).any()
            delivered += int(d.sum())
        tot = core.totals
        pending = core.state.queue_len.sum(axis=1)
        np.testing.assert_array_equal(
            tot["arrived"], tot["delivered"] + tot["expired"] + tot["dropped"] + pending
        )
        assert (core.state.queue_deadline[core.state.queue_len > 0][:, 0] >= core.t[0]).all()
    assert delivered > 0


def test_capacities_are_never_exceeded() -> None:
    cfg = EntanglementEnvConfig(**SMALL, warmup_slots=0, memory_slots=3)
    core = EntanglementCore(cfg, 4)
    net = core.network
    attempts_at_node = np.zeros(net.n_nodes)
    swaps = np.zeros((4, net.n_nodes))
    contended = 0
    for policy in (None, FcfsShortestPath(require_feasible=False)):
        for before, info in run_random(core, 7, policy):
            assert (info["pairs_consumed"] <= before["pair_count"]).all()
            assert (info["swaps_used"] <= before["swap_budget"]).all()
            assert (core.pair_count >= 0).all() and (core.pair_count <= 3).all()
            assert (core.state.queue_len <= cfg.queue_capacity).all()
            np.add.at(attempts_at_node, net.links[:, 0], info["attempts"][0])
            np.add.at(attempts_at_node, net.links[:, 1], info["attempts"][0])
            swaps += info["swaps_used"]
            contended += int(info["contended"].sum())
    elapsed = 2 * cfg.horizon * cfg.slot_s  # two episodes, no warm-up
    assert (attempts_at_node <= net.gen_rate_hz * elapsed + 1e-9).all()
    assert (swaps <= 2 * np.floor(net.repeater_rate_hz * cfg.horizon * cfg.slot_s) + 1e-9).all()
    assert contended > 0  # the naive policy does collide


def reference_resolution(active, rank, links, need, swaps, link_cap, swap_cap):  # type: ignore[no-untyped-def]
    """Sequential all-or-nothing grants in rank order (the rule the core vectorises)."""
    bsz, n, _ = links.shape
    granted = np.zeros((bsz, n), dtype=bool)
    contended = np.zeros((bsz, n), dtype=bool)
    for b in range(bsz):
        left_l, left_s = link_cap[b].copy(), swap_cap[b].copy()
        tot_l = np.zeros_like(left_l)
        tot_s = np.zeros_like(left_s)
        for i in range(n):
            if active[b, i]:
                np.add.at(tot_l, links[b, i][links[b, i] >= 0], need[b, i])
                np.add.at(tot_s, swaps[b, i][swaps[b, i] >= 0], 1)
        for i in np.argsort(rank[b]):
            if not active[b, i]:
                continue
            ls, ss = links[b, i][links[b, i] >= 0], swaps[b, i][swaps[b, i] >= 0]
            over = ((tot_l[ls] > link_cap[b, ls]) & (need[b, i] <= link_cap[b, ls])).any()
            over |= ((tot_s[ss] > swap_cap[b, ss]) & (swap_cap[b, ss] >= 1)).any()
            contended[b, i] = over
            if (left_l[ls] >= need[b, i]).all() and (left_s[ss] >= 1).all():
                granted[b, i] = True
                left_l[ls] -= need[b, i]
                left_s[ss] -= 1
    return granted, contended


def test_vectorised_claim_resolution_equals_the_sequential_rule() -> None:
    rng = np.random.default_rng(11)
    for _ in range(30):
        bsz, n, n_l, h = 3, 12, 10, 4
        active = rng.random((bsz, n)) < 0.8
        rank = np.argsort(rng.random((bsz, n)), axis=1)
        links = np.full((bsz, n, h), -1)
        swaps = np.full((bsz, n, h - 1), -1)
        hops = rng.integers(1, h + 1, size=(bsz, n))
        for b in range(bsz):
            for i in range(n):
                links[b, i, : hops[b, i]] = rng.choice(n_l, hops[b, i], replace=False)
                swaps[b, i, : hops[b, i] - 1] = rng.choice(n, hops[b, i] - 1, replace=False)
        need = rng.integers(1, 3, size=(bsz, n))
        link_cap = rng.integers(0, 4, size=(bsz, n_l))
        swap_cap = rng.integers(0, 3, size=(bsz, n))
        res = _resolve_claims(active, rank, links, need, swaps, link_cap, swap_cap)
        granted, contended = reference_resolution(
            active, rank, links, need, swaps, link_cap, swap_cap
        )
        np.testing.assert_array_equal(res.granted, granted)
        np.testing.assert_array_equal(res.contended, contended)
        # granted claims take consecutive pairs: used = granted need per link, within capacity
        assert (res.link_used <= link_cap).all() and (res.swaps_used <= swap_cap).all()


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_trajectory_and_clone_continues_identically() -> None:
    cfg = EntanglementEnvConfig(**SMALL)
    runs = []
    for _ in range(2):
        core = EntanglementCore(cfg, 3)
        runs.append(
            [(b["pair_count"], i["delivered"], i["e2e_fidelity"]) for b, i in run_random(core, 4)]
        )
    for (c1, d1, f1), (c2, d2, f2) in zip(*runs, strict=True):
        np.testing.assert_array_equal(c1, c2)
        np.testing.assert_array_equal(d1, d2)
        np.testing.assert_array_equal(f1, f2)
    other = EntanglementCore(cfg, 3)
    diff = [b["pair_count"] for b, _ in run_random(other, 5)]
    assert any((a[0] != b).any() for a, b in zip(runs[0], diff, strict=True))

    core = EntanglementCore(cfg, 2)
    core.reset(np.random.default_rng(9))
    twin = core.clone()
    policy = FcfsShortestPath()
    for _ in range(10):
        o1, r1, _, _ = core.step(policy.act(core))
        o2, r2, _, _ = twin.step(policy.act(twin))
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(r1, r2)


def test_exogenous_randomness_does_not_depend_on_the_actions() -> None:
    cfg = EntanglementEnvConfig(**SMALL)
    seen = []
    for policy in (None, FcfsShortestPath()):
        core = EntanglementCore(cfg, 2)
        seen.append([(i["arrived"], i["pairs_generated"]) for _, i in run_random(core, 2, policy)])
    for (a1, g1), (a2, g2) in zip(*seen, strict=True):
        np.testing.assert_array_equal(a1, a2)
        np.testing.assert_array_equal(g1, g2)


# --------------------------------------------------------------------------- routes and network


def test_candidate_routes_are_loop_free_paths_with_the_shortest_first() -> None:
    cfg = EntanglementEnvConfig(n_nodes=30)
    net = build_network(cfg)
    src, dst = np.meshgrid(np.arange(30), np.arange(30), indexing="ij")
    nodes, links, hops, valid = candidate_routes(net, src, dst, 3)
    assert not valid[np.arange(30), np.arange(30)].any()
    off = src != dst
    assert valid[..., 0][off].all()
    np.testing.assert_array_equal(hops[..., 0][off], net.hops[off])
    sp = dict(nx.all_pairs_shortest_path_length(net.graph))
    assert all(hops[i, j, 0] == sp[i][j] for i in range(30) for j in range(30) if i != j)
    for i, j, k in zip(*np.nonzero(valid), strict=True):
        path = nodes[i, j, k][: hops[i, j, k] + 1].tolist()
        assert path[0] == i and path[-1] == j and len(set(path)) == len(path)
        assert all(net.graph.has_edge(u, v) for u, v in pairwise(path))
        assert (links[i, j, k][: hops[i, j, k]] >= 0).all()
    routes = {tuple(nodes[i, j, k]) for i, j, k in zip(*np.nonzero(valid), strict=True)}
    assert len(routes) == int(valid.sum())  # all distinct


def test_reused_routes_equal_a_fresh_computation() -> None:
    core = EntanglementCore(EntanglementEnvConfig(**SMALL), 3)
    core.reset(np.random.default_rng(8))
    policy = FcfsShortestPath()
    for _ in range(10):
        core.step(policy.act(core))
        cached = core.routes
        core.set_state(core.get_state())  # drops the cache and recomputes everything
        for name, value in cached._asdict().items():
            np.testing.assert_array_equal(value, getattr(core.routes, name), err_msg=name)


def test_yen_routes_match_networkx_shortest_simple_paths() -> None:
    cfg = EntanglementEnvConfig(n_nodes=14, route_method="yen", route_metric="length")
    net = build_network(cfg)
    nodes, _, hops, valid = candidate_routes(net, np.array([0, 3]), np.array([9, 12]), 3)
    g = nx.Graph()
    g.add_weighted_edges_from(
        (int(u), int(v), float(w)) for (u, v), w in zip(net.links, net.link_weight, strict=True)
    )
    for row, (s, d) in enumerate([(0, 9), (3, 12)]):
        want = list(islice(nx.shortest_simple_paths(g, s, d, weight="weight"), 3))
        got = [nodes[row, k][: hops[row, k] + 1].tolist() for k in range(3) if valid[row, k]]
        assert got == want


def test_mean_degree_and_rates_follow_the_config() -> None:
    net = build_network(EntanglementEnvConfig(n_nodes=200, mean_degree=5.0))
    assert 4.0 < net.degree.mean() < 6.5
    assert (net.gen_rate_hz >= 0).all() and (net.gen_rate_hz <= 10).all()
    assert (net.repeater_rate_hz <= 5).all()
    # a node never attempts more than its rate: its links' attempt rates sum to <= its own
    per_node = np.zeros(200)
    np.add.at(per_node, net.links.ravel(), np.repeat(net.attempts_per_slot, 2))
    assert (per_node <= net.gen_rate_hz * 5.0 + 1e-9).all()


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("field", "bad"),
    [*invalid_examples(EntanglementEnvConfig), ("gen_rate_high_hz", -1.0)],
)
def test_every_bounded_field_rejects_out_of_range(field: str, bad: object) -> None:
    with pytest.raises(ConfigError, match=f"'{field}' field of EntanglementEnvConfig"):
        EntanglementEnvConfig.validate_dict({field: bad})


def test_cross_field_errors() -> None:
    with pytest.raises(ConfigError, match="fidelity_high"):
        EntanglementEnvConfig.validate_dict({"fidelity_low": 0.9, "fidelity_high": 0.8})
    with pytest.raises(ConfigError, match="trace_path"):
        EntanglementEnvConfig.validate_dict({"demand": "trace"})
    with pytest.raises(ConfigError, match="route_method"):
        EntanglementEnvConfig.validate_dict({"route_method": "yen", "n_nodes": 500})


def test_core_argument_errors() -> None:
    cfg = EntanglementEnvConfig(**SMALL)
    with pytest.raises(InvalidParameterError, match="'batch_size' parameter of EntanglementCore"):
        EntanglementCore(cfg, 0)
    core = EntanglementCore(cfg, 2)
    with pytest.raises(RuntimeError, match="reset"):
        core.step(np.zeros((2, 16), dtype=np.int64))
    core.reset(np.random.default_rng(0))
    with pytest.raises(InvalidParameterError, match=r"shape \(2, 16\)"):
        core.step(np.zeros((16,), dtype=np.int64))
    with pytest.raises(InvalidParameterError, match=r"range \[0, 6\]. Got 7"):
        core.step(np.full((2, 16), 7))
    with pytest.raises(InvalidParameterError, match="must have n_nodes=16"):
        EntanglementCore(cfg, 1, graph=path_graph([1.0, 2.0]))
    other = EntanglementCore(cfg.with_overrides({"memory_slots": 2}), 2)
    other.reset(np.random.default_rng(0))
    with pytest.raises(InvalidParameterError, match="pair_fidelity of shape"):
        core.set_state(other.get_state())


# --------------------------------------------------------------------------- PettingZoo


def test_parallel_api_test_passes_without_warnings() -> None:
    env = EntanglementParallelEnv(n_nodes=10, horizon=25)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parallel_api_test(env, num_cycles=60)
    assert [str(w.message) for w in caught] == []


def test_parallel_env_agents_spaces_and_state() -> None:
    env = EntanglementParallelEnv(render_mode="ansi", **SMALL)
    assert env.metadata["name"] == "dpem_v0"
    assert env.possible_agents == [f"node_{i}" for i in range(16)]
    assert env.agents == []
    assert env.observation_space("node_3") is env.observation_space("node_3")
    assert env.action_space("node_3").n == 7
    obs, infos = env.reset(seed=3)
    assert set(obs) == set(infos) == set(env.possible_agents)
    assert all(env.observation_space(a).contains(o) for a, o in obs.items())
    assert env.state_space.contains(env.state())
    for _ in range(SMALL["horizon"]):
        actions = {a: int(np.flatnonzero(infos[a]["action_mask"])[-1]) for a in env.agents}
        obs, rewards, term, trunc, infos = env.step(actions)
        assert set(rewards) == set(term) == set(trunc) == set(infos) == set(obs)
        assert not any(term.values())
    assert all(trunc.values()) and env.agents == []
    assert {"delivered", "contended", "action_mask"} <= set(infos["node_0"])
    assert env.render().startswith("t=  30")
    with pytest.raises(RuntimeError, match="reset"):
        env.step({})
    env.reset(seed=3)
    with pytest.raises(InvalidParameterError, match=r"node_0' \.\. 'node_15'"):
        env.step({"node_99": 0})
    with pytest.raises(InvalidParameterError, match=r"range \[0, 6\]"):
        env.step({"node_0": 9})


def test_parallel_env_is_the_b1_view_of_the_core() -> None:
    env = EntanglementParallelEnv(**SMALL)
    obs, _ = env.reset(seed=12)
    core = EntanglementCore(env.config, 1)
    core.reset(np.random.default_rng(12))
    np.testing.assert_array_equal(np.stack([obs[a] for a in env.possible_agents]), core.obs[0])
