"""Relay paths: disjointness, padding, capacity gathers, pool-aware choice, key consumption."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest

from qnetrl._validation import InvalidParameterError
from qnetrl.network.link_model import LinkTable, link_table
from qnetrl.network.routing import (
    PathChoice,
    PathTable,
    build_path_table,
    path_capacity,
    path_consumption,
    select_paths,
    trusted_relay_consume,
)
from qnetrl.network.topology import add_link, grid, ring, validate_topology, waxman_mesh


def _mesh() -> tuple[nx.Graph, LinkTable]:
    g = waxman_mesh(16, np.random.default_rng(5), alpha=0.6, beta=0.8)
    return g, link_table(g)


def _all_pairs(n: int) -> np.ndarray:
    return np.array(list(itertools.combinations(range(n), 2)), dtype=np.int64)


def _check_path_structure(g: nx.Graph, t: LinkTable, pt: PathTable) -> None:
    """Every stored path is a simple path of g from its pair's source to its destination."""
    for p, (s, d) in enumerate(pt.pairs.tolist()):
        for j in range(pt.k):
            hops = int(pt.hops[p, j])
            if j >= pt.n_paths[p]:
                assert not pt.valid[p, j] and hops == 0 and pt.length_km[p, j] == math.inf
                assert np.all(pt.links[p, j] == -1) and np.all(pt.nodes[p, j] == -1)
                continue
            assert pt.valid[p, j]
            nodes = pt.nodes[p, j, : hops + 1].tolist()
            links = pt.links[p, j, :hops].tolist()
            assert np.all(pt.nodes[p, j, hops + 1 :] == -1)  # padding after the destination
            assert np.all(pt.links[p, j, hops:] == -1)
            assert nodes[0] == s and nodes[-1] == d and len(set(nodes)) == len(nodes)
            for (a, b), link in zip(itertools.pairwise(nodes), links, strict=True):
                assert t.edge_index[(t.nodes[a], t.nodes[b])] == link
            assert pt.length_km[p, j] == pytest.approx(t.length_km[links].sum(), rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Path table
# ---------------------------------------------------------------------------------------------


def test_disjoint_paths_share_no_relay_and_match_networkx_count() -> None:
    g, t = _mesh()
    pairs = _all_pairs(t.n_nodes)[::3]
    pt = build_path_table(g, t, pairs, k=5, method="disjoint")
    _check_path_structure(g, t, pt)
    assert pt.links.shape == (len(pairs), 5, pt.max_hops)
    assert pt.nodes.shape == (len(pairs), 5, pt.max_hops + 1)
    for p, (s, d) in enumerate(pairs.tolist()):
        relays = [set(pt.nodes[p, j, 1 : pt.hops[p, j]].tolist()) for j in range(pt.n_paths[p])]
        for x, y in itertools.combinations(relays, 2):
            assert not x & y
        n_max = len(list(nx.node_disjoint_paths(g, t.nodes[s], t.nodes[d])))
        assert pt.n_paths[p] == min(5, n_max)
        lengths = pt.length_km[p, : pt.n_paths[p]]
        assert np.all(np.diff(lengths) >= 0.0)  # shortest first
    assert len(set(pt.n_paths.tolist())) > 1  # some pairs have fewer than k paths


def test_shortest_paths_are_networkx_shortest_and_yen_ordered() -> None:
    g, t = _mesh()
    pairs = _all_pairs(t.n_nodes)[::5]
    one = build_path_table(g, t, pairs, k=1)
    three = build_path_table(g, t, pairs, k=3, method="shortest")
    _check_path_structure(g, t, three)
    disjoint_one = build_path_table(g, t, pairs, k=1, method="disjoint")
    np.testing.assert_array_equal(disjoint_one.nodes, one.nodes)  # k = 1: the shortest path
    for p, (s, d) in enumerate(pairs.tolist()):
        best = nx.shortest_path_length(g, t.nodes[s], t.nodes[d], weight="length_km")
        assert one.length_km[p, 0] == pytest.approx(best, rel=1e-12)
        assert three.length_km[p, 0] == pytest.approx(best, rel=1e-12)
        got = three.length_km[p, : three.n_paths[p]]
        assert np.all(np.diff(got) >= -1e-9)
        routes = {tuple(three.nodes[p, j, : three.hops[p, j] + 1]) for j in range(3)}
        assert len(routes) == three.n_paths[p]  # distinct paths


def test_fewer_paths_than_asked_and_disconnected_pairs() -> None:
    g = nx.Graph()
    add_link(g, 0, 1, 5.0)
    add_link(g, 1, 2, 5.0)
    add_link(g, 3, 4, 5.0)
    validate_topology(g, require_connected=False)
    t = link_table(g)
    pt = build_path_table(g, t, [[0, 2], [0, 4], [3, 4]], k=3, method="disjoint")
    np.testing.assert_array_equal(pt.n_paths, [1, 0, 1])
    np.testing.assert_array_equal(pt.hops, [[2, 0, 0], [0, 0, 0], [1, 0, 0]])
    np.testing.assert_array_equal(pt.valid[:, 0], [True, False, True])
    assert pt.max_hops == 2
    _check_path_structure(g, t, pt)
    cap = path_capacity(np.full((2, 3), 7.0), pt)
    np.testing.assert_array_equal(cap[:, 1], 0.0)
    np.testing.assert_array_equal(cap[:, 0, 1:], 0.0)
    np.testing.assert_array_equal(cap[:, [0, 2], 0], 7.0)


def test_build_path_table_validates() -> None:
    g, t = _mesh()
    with pytest.raises(InvalidParameterError, match="'k' parameter of build_path_table"):
        build_path_table(g, t, [[0, 1]], k=0)
    with pytest.raises(InvalidParameterError, match="'method'"):
        build_path_table(g, t, [[0, 1]], method="widest")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match=r"'pairs'.*distinct"):
        build_path_table(g, t, [[2, 2]])
    with pytest.raises(InvalidParameterError, match=r"'pairs'.*\[0, 15\]"):
        build_path_table(g, t, [[0, 16]])
    with pytest.raises(InvalidParameterError, match=r"'pairs'.*shape"):
        build_path_table(g, t, [0, 1])
    with pytest.raises(InvalidParameterError, match="'graph'"):
        build_path_table(ring(5), t, [[0, 1]])


# ---------------------------------------------------------------------------------------------
# Capacity and choice
# ---------------------------------------------------------------------------------------------


def test_path_capacity_matches_brute_force_loop() -> None:
    g, t = _mesh()
    pt = build_path_table(g, t, _all_pairs(t.n_nodes)[::4], k=3, method="disjoint")
    rng = np.random.default_rng(11)
    pools = rng.uniform(0.0, 1e4, size=(3, t.n_links))
    pools[0, :5] = 0.0
    cap = path_capacity(pools, pt)
    assert cap.shape == (3, pt.n_pairs, 3)
    for b in range(3):
        for p in range(pt.n_pairs):
            for j in range(3):
                if j < pt.n_paths[p]:
                    links = pt.links[p, j, : pt.hops[p, j]]
                    assert cap[b, p, j] == min(pools[b, link] for link in links)
                else:
                    assert cap[b, p, j] == 0.0


def test_select_paths_cost_matches_brute_force() -> None:
    g, t = _mesh()
    pt = build_path_table(g, t, _all_pairs(t.n_nodes)[::6], k=3, method="shortest")
    rng = np.random.default_rng(2)
    b, r = 3, 4
    pools = rng.uniform(0.0, 50.0, size=(b, t.n_links))
    penalty = rng.uniform(0.0, 0.5, size=(b, t.n_nodes))
    pair = rng.integers(0, pt.n_pairs, size=(b, r))
    choice = select_paths(pools, pt, pair, n=2, node_penalty=penalty, hop_cost=0.01)
    assert isinstance(choice, PathChoice)
    assert choice.path.shape == (b, r, 2)
    assert choice.links.shape == (b, r, 2, pt.max_hops)
    for i in range(b):
        for q in range(r):
            p = pair[i, q]
            costs = []
            for j in range(pt.n_paths[p]):
                h = pt.hops[p, j]
                links = pt.links[p, j, :h]
                relays = pt.nodes[p, j, 1:h]
                c = sum(1.0 / (pools[i, link] + 1.0) + 0.01 for link in links)
                costs.append(c + penalty[i, relays].sum())
            best = np.argsort(costs, kind="stable")[:2]
            np.testing.assert_array_equal(choice.path[i, q, : len(best)], best)
            np.testing.assert_allclose(choice.cost[i, q, : len(best)], np.sort(costs)[:2])
            j0 = best[0]
            np.testing.assert_array_equal(choice.nodes[i, q, 0], pt.nodes[p, j0])
            assert choice.capacity[i, q, 0] == pools[i, pt.links[p, j0, : pt.hops[p, j0]]].min()


def test_node_penalty_steers_away_from_a_node_on_a_ring() -> None:
    g = ring(6)
    pt = build_path_table(g, link_table(g), [[0, 3]], k=2, method="disjoint")
    pools = np.full((2, 6), 100.0)
    penalty = np.zeros((2, 6))
    penalty[0, 1] = 0.5  # copy 0 distrusts node 1, copy 1 distrusts node 5
    penalty[1, 5] = 0.5
    choice = select_paths(pools, pt, np.zeros(2, dtype=np.int64), node_penalty=penalty)
    assert choice.nodes[0, 0].tolist() == [0, 5, 4, 3]
    assert choice.nodes[1, 0].tolist() == [0, 1, 2, 3]
    # Penalties on end nodes cost nothing.
    ends = np.zeros((1, 6))
    ends[0, [0, 3]] = 10.0
    assert select_paths(pools[:1], pt, [0], node_penalty=ends).cost[0, 0] == pytest.approx(
        3.0 / 101.0
    )


def test_node_penalty_avoids_the_centre_of_a_grid() -> None:
    g = grid(3, 3)
    t = link_table(g)
    pt = build_path_table(g, t, [[0, 8]], k=6, method="shortest")
    assert pt.n_paths[0] == 6 and np.all(pt.hops[0] == 4)  # the six monotone lattice paths
    # Drained border links, well-stocked inner links: pool-aware routing goes through node 4.
    border = {(0, 1), (1, 2), (2, 5), (5, 8), (0, 3), (3, 6), (6, 7), (7, 8)}
    pools = np.array([[1.0 if (t.u[i], t.v[i]) in border else 1000.0 for i in range(12)]])
    assert 4 in select_paths(pools, pt, [0]).nodes[0, 0].tolist()
    # A penalty above the pool advantage (about 1) steers the choice round the centre ...
    penalty = np.zeros((1, 9))
    penalty[0, 4] = 1.5
    assert 4 not in select_paths(pools, pt, [0], node_penalty=penalty).nodes[0, 0].tolist()
    # ... and an infinite one forbids it: only the two border paths are left.
    penalty[0, 4] = math.inf
    choice = select_paths(pools, pt, [0], n=6, node_penalty=penalty)
    assert choice.valid[0].sum() == 2
    for j in range(2):
        assert 4 not in choice.nodes[0, j].tolist()
    assert np.all(choice.path[0, 2:] == -1) and np.all(choice.cost[0, 2:] == math.inf)


def test_pool_aware_choice_and_min_capacity() -> None:
    g = ring(6)
    t = link_table(g)
    pt = build_path_table(g, t, [[0, 3]], k=2, method="disjoint")
    first, second = pt.links[0, 0], pt.links[0, 1]
    pools = np.full((1, 6), 1000.0)
    pools[0, first[1]] = 2.0  # drain one hop of the first path
    choice = select_paths(pools, pt, [0], n=2)
    np.testing.assert_array_equal(choice.links[0, 0], second)  # the well-stocked path wins
    np.testing.assert_array_equal(choice.capacity[0], [1000.0, 2.0])
    need = select_paths(pools, pt, [0], n=2, min_capacity=[5.0])
    np.testing.assert_array_equal(need.valid[0], [True, False])
    assert need.hops[0, 1] == 0 and np.all(need.links[0, 1] == -1)


def test_select_paths_validates() -> None:
    g = ring(5)
    pt = build_path_table(g, link_table(g), [[0, 2]], k=2)
    pools = np.ones((2, 5))
    with pytest.raises(InvalidParameterError, match=r"'n' parameter.*\[1, 2\]"):
        select_paths(pools, pt, [0, 0], n=3)
    with pytest.raises(InvalidParameterError, match=r"'pair'.*B = 2"):
        select_paths(pools, pt, [0])
    with pytest.raises(InvalidParameterError, match=r"'pair'.*\[0, 0\]"):
        select_paths(pools, pt, [0, 1])
    with pytest.raises(InvalidParameterError, match="'pools'"):
        select_paths(-pools, pt, [0, 0])
    with pytest.raises(InvalidParameterError, match="'node_penalty'"):
        select_paths(pools, pt, [0, 0], node_penalty=np.ones((2, 4)))
    with pytest.raises(InvalidParameterError, match="'path_table'"):
        path_capacity(pools, "table")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Consumption
# ---------------------------------------------------------------------------------------------


def test_consumption_conserves_key_and_never_goes_negative() -> None:
    g, t = _mesh()
    pt = build_path_table(g, t, _all_pairs(t.n_nodes), k=1)
    rng = np.random.default_rng(9)
    b = 32
    pools = rng.uniform(0.0, 200.0, size=(b, t.n_links))
    for _ in range(40):
        pair = rng.integers(0, pt.n_pairs, size=b)
        links = pt.links[pair, 0]  # (B, H)
        bits = rng.uniform(0.0, 60.0, size=b)
        mask = rng.random(b) < 0.8
        cap = path_capacity(pools, pt)[np.arange(b), pair, 0]
        before = pools.copy()
        served = trusted_relay_consume(pools, links, bits, mask)
        np.testing.assert_array_equal(served, mask & (cap >= bits))
        assert np.all(pools >= 0.0)
        spent = (before - pools).sum(axis=1)
        np.testing.assert_allclose(spent, path_consumption(links, bits) * served, rtol=1e-12)
        np.testing.assert_array_equal(pools[~served], before[~served])  # all or nothing
        hops = pt.hops[pair, 0]
        np.testing.assert_allclose(path_consumption(links, bits), bits * hops)


def test_multipath_consumption_adds_demands_of_shared_links() -> None:
    pools = np.array([[10.0, 10.0, 10.0], [10.0, 10.0, 10.0], [10.0, 10.0, 10.0]])
    # Copy 0: two paths share link 1 (6 + 6 > 10): refused. Copy 1: disjoint paths: served.
    # Copy 2: one real path and one absent (all -1) path: served, the absent one costs nothing.
    links = np.array(
        [[[0, 1], [1, 2]], [[0, -1], [1, 2]], [[2, -1], [-1, -1]]],
        dtype=np.int64,
    )
    served = trusted_relay_consume(pools, links, np.array([6.0, 6.0, 6.0]))
    np.testing.assert_array_equal(served, [False, True, True])
    np.testing.assert_array_equal(pools, [[10, 10, 10], [4, 4, 4], [10, 10, 4]])
    np.testing.assert_array_equal(path_consumption(links, [6.0, 6.0, 6.0]), [24.0, 18.0, 6.0])
    # A copy with no path at all is never served.
    assert not trusted_relay_consume(pools[:1], np.full((1, 2), -1), [1.0])[0]


def test_trusted_relay_consume_validates() -> None:
    pools = np.ones((2, 3))
    with pytest.raises(InvalidParameterError, match=r"'pools'.*writable floating"):
        trusted_relay_consume(np.ones((2, 3), dtype=np.int64), [[0], [1]], [1, 1])
    frozen = np.ones((2, 3))
    frozen.flags.writeable = False
    with pytest.raises(InvalidParameterError, match="'pools'"):
        trusted_relay_consume(frozen, [[0], [1]], [1, 1])
    with pytest.raises(InvalidParameterError, match=r"'path_links'.*B = 2"):
        trusted_relay_consume(pools, [[0]], [1])
    with pytest.raises(InvalidParameterError, match=r"'path_links'.*\[0, 2\]"):
        trusted_relay_consume(pools, [[0], [3]], [1, 1])
    with pytest.raises(InvalidParameterError, match="'bits'"):
        trusted_relay_consume(pools, [[0], [1]], [-1.0, 1.0])
    with pytest.raises(InvalidParameterError, match="'mask'"):
        trusted_relay_consume(pools, [[0], [1]], [1, 1], mask=[1, 0])
    np.testing.assert_array_equal(pools, 1.0)  # nothing consumed by failed calls


@pytest.mark.parametrize("method", ["shortest", "disjoint"])
def test_end_nodes_never_relay(method: str) -> None:
    # A - E - B is the short way (2 km) but E is an end node; A - R - B (20 km) goes via a
    # trusted relay. E's own pairs still reach it.
    g = nx.Graph()
    for node, role in (("A", "end"), ("E", "end"), ("B", "end"), ("R", "trusted")):
        g.add_node(node, role=role)
    for u, v, length in (("A", "E", 1.0), ("E", "B", 1.0), ("A", "R", 10.0), ("R", "B", 10.0)):
        add_link(g, u, v, length)
    g = validate_topology(g)
    table = link_table(g)
    idx = {n: i for i, n in enumerate(table.nodes)}
    pt = build_path_table(
        g, table, [[idx["A"], idx["B"]], [idx["A"], idx["E"]]], k=3, method=method
    )
    assert pt.n_paths.tolist() == [1, 1]
    names = [table.nodes[i] for i in pt.nodes[0, 0, : pt.hops[0, 0] + 1]]
    assert names == ["A", "R", "B"]
    assert pt.hops[1, 0] == 1  # A - E directly
    # with E trusted, the short way is used again
    g.nodes["E"]["role"] = "trusted"
    pt = build_path_table(g, link_table(g), [[idx["A"], idx["B"]]], k=1, method=method)
    assert [table.nodes[i] for i in pt.nodes[0, 0, :3]] == ["A", "E", "B"]
