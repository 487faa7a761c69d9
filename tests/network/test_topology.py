"""Tests for qnetrl.network.topology (builders, validation) and topology_io (JSON, GraphML)."""

from __future__ import annotations

import copy
import json
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qnetrl._validation import InvalidParameterError
from qnetrl.network.topology import (
    MIN_LENGTH_KM,
    Topology,
    TopologyError,
    add_link,
    by_name,
    grid,
    random_geometric_mesh,
    ring,
    secoqc_vienna,
    tokyo_qkd,
    validate_topology,
    waxman_mesh,
)
from qnetrl.network.topology_io import load_graphml, load_json, save_graphml, save_json

SECOQC_EXAMPLE = {
    ("SIEM", "ERDB"): 6.0,
    ("ERDB", "GUEP"): 10.0,
    ("GUEP", "BREI"): 20.0,
    ("BREI", "STPO"): 80.0,
}
"""Illustrative lengths for exercising the builder; NOT the published SECOQC values."""

LINK_FIELDS = (
    Topology.LENGTH_KM,
    Topology.ALPHA_DB_PER_KM,
    Topology.DETECTOR,
    Topology.PROTOCOL,
)


def positions(graph: nx.Graph) -> np.ndarray:
    return np.array([graph.nodes[n][Topology.POS] for n in sorted(graph)])


def assert_same_topology(g: nx.Graph, h: nx.Graph) -> None:
    """Equal graph, node and link attributes, with equal types (pos stays a tuple of floats)."""
    assert h.graph == g.graph
    assert list(h.nodes) == list(g.nodes)
    assert [type(n) for n in h.nodes] == [type(n) for n in g.nodes]
    for node, data in g.nodes(data=True):
        assert h.nodes[node] == data
        for key, value in data.items():
            assert type(h.nodes[node][key]) is type(value), (node, key)
        if Topology.POS in data:
            assert [type(c) for c in h.nodes[node][Topology.POS]] == [float, float]
    assert h.number_of_edges() == g.number_of_edges()
    for u, v, data in g.edges(data=True):
        assert h.edges[u, v] == data
        for key, value in data.items():
            assert type(h.edges[u, v][key]) is type(value), (u, v, key)


# --------------------------------------------------------------------------------------------
# builders
# --------------------------------------------------------------------------------------------


def check_common(graph: nx.Graph) -> None:
    """Attribute presence and ranges every builder guarantees."""
    assert isinstance(graph.graph[Topology.NAME], str)
    for _, data in graph.nodes(data=True):
        assert isinstance(data[Topology.NAME], str)
        assert data[Topology.ROLE] in Topology.ROLES
    for _, _, data in graph.edges(data=True):
        assert set(LINK_FIELDS) <= set(data)
        assert isinstance(data[Topology.LENGTH_KM], float)
        assert data[Topology.LENGTH_KM] > 0.0
        assert data[Topology.ALPHA_DB_PER_KM] >= 0.0
        assert data[Topology.DETECTOR] in Topology.DETECTORS
        assert data[Topology.PROTOCOL] in Topology.PROTOCOLS
    assert nx.is_connected(graph)


def test_waxman_invariants() -> None:
    g = waxman_mesh(40, np.random.default_rng(3), area_km=50.0)
    check_common(g)
    assert sorted(g) == list(range(40))
    pos = positions(g)
    assert pos.shape == (40, 2)
    assert np.all((pos >= 0.0) & (pos <= 50.0))
    for u, v, data in g.edges(data=True):
        d = math.dist(g.nodes[u][Topology.POS], g.nodes[v][Topology.POS])
        assert data[Topology.LENGTH_KM] == pytest.approx(max(d, MIN_LENGTH_KM))
        assert data[Topology.ALPHA_DB_PER_KM] == 0.2
        assert data[Topology.DETECTOR] == "GYS"
        assert data[Topology.PROTOCOL] == "decoy-bb84"


def test_waxman_same_seed_same_graph_other_seed_differs() -> None:
    a = waxman_mesh(30, np.random.default_rng(7))
    b = waxman_mesh(30, np.random.default_rng(7))
    c = waxman_mesh(30, np.random.default_rng(8))
    assert_same_topology(a, b)
    assert positions(a).tolist() != positions(c).tolist()


def test_waxman_connection_adds_only_nearest_pair_links() -> None:
    # A sparse mesh breaks into several components; joining them draws no random numbers,
    # so the connected graph is the sparse graph plus exactly (components - 1) links.
    sparse = waxman_mesh(40, np.random.default_rng(11), beta=0.02, ensure_connected=False)
    joined = waxman_mesh(40, np.random.default_rng(11), beta=0.02)
    n_comp = nx.number_connected_components(sparse)
    assert n_comp > 1
    assert nx.is_connected(joined)
    extra = set(map(frozenset, joined.edges)) - set(map(frozenset, sparse.edges))
    assert set(map(frozenset, sparse.edges)) <= set(map(frozenset, joined.edges))
    assert len(extra) == n_comp - 1
    # Prim on components: the total added length is the MST weight of the component graph.
    pos = positions(joined)
    dist = np.hypot(*(pos[:, None, :] - pos[None, :, :]).transpose(2, 0, 1))
    comps = list(nx.connected_components(sparse))
    meta = nx.Graph()
    for i, ci in enumerate(comps):
        for j in range(i + 1, len(comps)):
            meta.add_edge(i, j, weight=dist[np.ix_(list(ci), list(comps[j]))].min())
    mst = nx.minimum_spanning_tree(meta).size(weight="weight")
    added = sum(joined.edges[tuple(e)][Topology.LENGTH_KM] for e in extra)
    assert added == pytest.approx(mst)


def test_waxman_100_nodes_is_fast() -> None:
    start = time.perf_counter()
    g = waxman_mesh(100, np.random.default_rng(0))
    elapsed = time.perf_counter() - start
    assert g.number_of_nodes() == 100
    assert nx.is_connected(g)
    assert elapsed < 2.0


def test_random_geometric_links_exactly_pairs_within_radius() -> None:
    g = random_geometric_mesh(
        60, np.random.default_rng(5), area_km=80.0, radius_km=15.0, ensure_connected=False
    )
    pos = positions(g)
    dist = np.hypot(*(pos[:, None, :] - pos[None, :, :]).transpose(2, 0, 1))
    iu, ju = np.triu_indices(60, k=1)
    expected = {
        frozenset((int(u), int(v))) for u, v in zip(iu, ju, strict=True) if dist[u, v] <= 15.0
    }
    assert set(map(frozenset, g.edges)) == expected
    assert all(d[Topology.LENGTH_KM] <= 15.0 for _, _, d in g.edges(data=True))


def test_random_geometric_connected_and_deterministic() -> None:
    a = random_geometric_mesh(50, np.random.default_rng(2), radius_km=10.0)
    b = random_geometric_mesh(50, np.random.default_rng(2), radius_km=10.0)
    check_common(a)
    assert_same_topology(a, b)


def test_min_length_clamp() -> None:
    g = random_geometric_mesh(6, np.random.default_rng(0), area_km=1e-3, radius_km=1.0)
    assert g.number_of_edges() == 15
    assert {d[Topology.LENGTH_KM] for _, _, d in g.edges(data=True)} == {MIN_LENGTH_KM}


def test_grid_invariants() -> None:
    g = grid(3, 5, 7.5)
    check_common(g)
    assert g.number_of_nodes() == 15
    assert g.number_of_edges() == 3 * 4 + 5 * 2
    assert g.nodes[7][Topology.POS] == (15.0, 7.5)  # row 1, col 2
    for u, v, data in g.edges(data=True):
        assert data[Topology.LENGTH_KM] == 7.5
        assert math.dist(g.nodes[u][Topology.POS], g.nodes[v][Topology.POS]) == pytest.approx(7.5)
    assert grid(1, 1).number_of_edges() == 0


def test_ring_invariants() -> None:
    g = ring(9, 4.0)
    check_common(g)
    assert g.number_of_nodes() == g.number_of_edges() == 9
    assert all(deg == 2 for _, deg in g.degree)
    for u, v, data in g.edges(data=True):
        assert data[Topology.LENGTH_KM] == 4.0
        assert math.dist(g.nodes[u][Topology.POS], g.nodes[v][Topology.POS]) == pytest.approx(4.0)


def test_link_attribute_overrides() -> None:
    g = grid(2, 3, alpha_db_per_km=0.16, detector="MDI_LCQ", protocol="mdi-qkd")
    for _, _, data in g.edges(data=True):
        assert data[Topology.ALPHA_DB_PER_KM] == 0.16
        assert data[Topology.DETECTOR] == "MDI_LCQ"
        assert data[Topology.PROTOCOL] == "mdi-qkd"


def test_detector_names_resolve_to_physics_parameter_sets() -> None:
    from qnetrl.physics import qkd

    for name in Topology.DETECTORS:
        assert isinstance(getattr(qkd, name), qkd.DetectorParams | qkd.MDIParams), name
    assert Topology.DEFAULT_DETECTOR in Topology.DETECTORS


def test_tokyo_published_lengths() -> None:
    # Sasaki et al., Opt. Express 19, 10387 (2011): Ko-Ot 45 km (~0.3 dB/km),
    # Ot-Ha 12 km and Ot-Ho 13 km (~0.5 dB/km).
    g = tokyo_qkd()
    check_common(g)
    assert set(g) == {"Koganei", "Otemachi", "Hakusan", "Hongo"}
    assert g.number_of_edges() == 3
    expected = {
        ("Koganei", "Otemachi"): (45.0, 0.3),
        ("Otemachi", "Hakusan"): (12.0, 0.5),
        ("Otemachi", "Hongo"): (13.0, 0.5),
    }
    for (u, v), (length, alpha) in expected.items():
        assert g.edges[u, v][Topology.LENGTH_KM] == length
        assert g.edges[u, v][Topology.ALPHA_DB_PER_KM] == alpha
    assert "10.1364/OE.19.010387" in g.graph[Topology.CITATION]


def test_secoqc_requires_lengths_because_unconfirmed() -> None:
    with pytest.raises(InvalidParameterError, match="could not be confirmed"):
        secoqc_vienna()
    g = secoqc_vienna(SECOQC_EXAMPLE)
    check_common(g)
    assert set(g) == {"SIEM", "ERDB", "GUEP", "BREI", "STPO"}
    assert "10.1088/1367-2630/11/7/075001" in g.graph[Topology.CITATION]
    assert g.edges["STPO", "BREI"][Topology.LENGTH_KM] == 80.0
    as_strings = {f"{u}-{v}": length for (u, v), length in SECOQC_EXAMPLE.items()}
    assert nx.utils.graphs_equal(secoqc_vienna(as_strings), g)


@pytest.mark.parametrize(
    ("lengths", "message"),
    [
        ({("SIEM", ""): 5.0}, "pairs of two distinct non-empty site names"),
        ({"SIEM-SIEM": 5.0}, "pairs of two distinct non-empty site names"),
        ({"A-B-C": 5.0}, "Got key 'A-B-C'"),
        ({**SECOQC_EXAMPLE, ("SIEM", "ERDB"): -5.0}, "'length_km' parameter of add_link"),
        ({("SIEM", "ERDB"): 5.0, ("GUEP", "BREI"): 5.0}, "is unreachable from node"),
        ({"SIEM": 5.0}, "keyed by pairs"),
    ],
)
def test_secoqc_bad_lengths(lengths: dict[Any, float], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        secoqc_vienna(lengths)


def test_by_name_registry() -> None:
    rng = np.random.default_rng(0)
    assert by_name("tokyo").graph[Topology.NAME] == "tokyo_qkd"
    assert by_name("secoqc", lengths_km=SECOQC_EXAMPLE).number_of_nodes() == 5
    assert by_name("grid", rows=2, cols=3).number_of_nodes() == 6
    assert by_name("ring", n_nodes=5).number_of_edges() == 5
    assert by_name("waxman", n_nodes=10, rng=rng).number_of_nodes() == 10
    assert by_name("geometric", n_nodes=10, rng=rng).number_of_nodes() == 10
    with pytest.raises(InvalidParameterError, match="'name' parameter of by_name must be one of"):
        by_name("nsfnet")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: waxman_mesh(0, np.random.default_rng()), "'n_nodes' parameter of waxman_mesh"),
        (lambda: waxman_mesh(5, 42), "'rng' parameter of waxman_mesh"),
        (lambda: waxman_mesh(5, np.random.default_rng(), beta=1.5), "'beta' parameter"),
        (lambda: waxman_mesh(5, np.random.default_rng(), alpha=0.0), "'alpha' parameter"),
        (lambda: waxman_mesh(5, np.random.default_rng(), area_km=-1.0), "'area_km' parameter"),
        (
            lambda: random_geometric_mesh(5, np.random.default_rng(), radius_km=math.nan),
            "'radius_km' parameter of random_geometric_mesh",
        ),
        (lambda: grid(0, 3), "'rows' parameter of grid must be an int in the range \\[1, inf\\)"),
        (lambda: grid(2, 2.5), "'cols' parameter of grid"),
        (lambda: grid(2, 2, spacing_km=0.0), "'spacing_km' parameter of grid"),
        (lambda: ring(2), "'n_nodes' parameter of ring must be an int in the range \\[3, inf\\)"),
        (lambda: ring(4, protocol="bb84"), "'protocol' parameter of ring must be one of"),
        (lambda: ring(4, detector="XYZ"), "'detector' parameter of ring must be one of"),
        (lambda: ring(4, alpha_db_per_km=-0.1), "'alpha_db_per_km' parameter of ring"),
        (lambda: tokyo_qkd(protocol="e91"), "'protocol' parameter of tokyo_qkd"),
    ],
)
def test_builder_argument_errors(build: Callable[[], nx.Graph], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        build()


def test_validate_topology_on_graphs() -> None:
    g = nx.Graph(name="hand-made")
    add_link(g, "A", "B", 3.0)
    assert validate_topology(g) is g
    del g.edges["A", "B"][Topology.PROTOCOL]
    with pytest.raises(TopologyError, match="link 'A-B': missing required field 'protocol'"):
        validate_topology(g)
    with pytest.raises(TopologyError, match="topology has no nodes"):
        validate_topology(nx.Graph())
    with pytest.raises(TopologyError, match="undirected simple"):
        validate_topology(nx.DiGraph(grid(2, 2)))
    h = grid(2, 2)
    h.add_edge(0, 0, **h.edges[0, 1])
    with pytest.raises(TopologyError, match="link '0-0': self-loop"):
        validate_topology(h)
    with pytest.raises(InvalidParameterError, match="'length_km' parameter of add_link"):
        add_link(nx.Graph(), "A", "B", -1.0)
    with pytest.raises(InvalidParameterError, match="two different nodes"):
        add_link(nx.Graph(), "A", "A", 1.0)


# --------------------------------------------------------------------------------------------
# round trips
# --------------------------------------------------------------------------------------------

BUILDERS: dict[str, Callable[[], nx.Graph]] = {
    "grid": lambda: grid(3, 4, 2.5, protocol="mdi-qkd"),
    "ring": lambda: ring(7, 3.3),
    "waxman": lambda: waxman_mesh(25, np.random.default_rng(1)),
    "geometric": lambda: random_geometric_mesh(25, np.random.default_rng(1), radius_km=20.0),
    "tokyo": tokyo_qkd,
    "secoqc": lambda: secoqc_vienna(SECOQC_EXAMPLE),
}
FORMATS = {"json": (save_json, load_json), "graphml": (save_graphml, load_graphml)}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("builder", sorted(BUILDERS))
def test_round_trip_preserves_everything(builder: str, fmt: str, tmp_path: Path) -> None:
    save, load = FORMATS[fmt]
    graph = BUILDERS[builder]()
    path = tmp_path / f"topo.{fmt}"
    save(graph, path)
    assert_same_topology(graph, load(path))


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_round_trip_extra_attributes(fmt: str, tmp_path: Path) -> None:
    save, load = FORMATS[fmt]
    g = grid(2, 2)
    g.graph["seed"] = 12
    g.graph["incoming_graph_data"] = "a graph attribute named like a networkx.Graph parameter"
    g.nodes[0]["memory_slots"] = 4
    g.nodes[1]["is_gateway"] = True
    g.nodes[2][Topology.ROLE] = "end"
    g.edges[0, 1]["fading"] = 0.25
    save(g, tmp_path / f"x.{fmt}")
    assert_same_topology(g, load(tmp_path / f"x.{fmt}"))


def test_json_keeps_mixed_node_id_types(tmp_path: Path) -> None:
    g = nx.Graph(name="mixed")
    add_link(g, 1, "1", 2.0)
    save_json(g, tmp_path / "m.json")
    assert_same_topology(g, load_json(tmp_path / "m.json"))
    with pytest.raises(TopologyError, match="node ids of one type"):
        save_graphml(g, tmp_path / "m.graphml")


def test_graphml_rejects_unstorable_values(tmp_path: Path) -> None:
    g = grid(1, 2)
    g.nodes[0]["tags"] = ["a", "b"]
    with pytest.raises(TopologyError, match="node 0: attribute 'tags' of type list"):
        save_graphml(g, tmp_path / "x.graphml")
    save_json(g, tmp_path / "x.json")  # JSON can store lists
    assert load_json(tmp_path / "x.json").nodes[0]["tags"] == ["a", "b"]


def test_json_defaults_and_int_lengths(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    doc = {
        "nodes": [{"id": "A"}, {"id": "B"}],
        "links": [{"source": "A", "target": "B", "length_km": 5}],
    }
    path.write_text(json.dumps(doc))
    g = load_json(path)
    assert g.edges["A", "B"] == {
        Topology.LENGTH_KM: 5.0,
        Topology.ALPHA_DB_PER_KM: 0.2,
        Topology.DETECTOR: "GYS",
        Topology.PROTOCOL: "decoy-bb84",
    }
    assert isinstance(g.edges["A", "B"][Topology.LENGTH_KM], float)


def test_disconnected_allowed_when_not_required(tmp_path: Path) -> None:
    g = waxman_mesh(30, np.random.default_rng(11), beta=0.02, ensure_connected=False)
    for fmt, (save, load) in FORMATS.items():
        save(g, tmp_path / f"d.{fmt}")
        assert_same_topology(g, load(tmp_path / f"d.{fmt}", require_connected=False))
        with pytest.raises(TopologyError, match="disconnected"):
            load(tmp_path / f"d.{fmt}")


@settings(max_examples=20, deadline=None)
@given(
    kind=st.sampled_from(["grid", "waxman", "geometric"]),
    size=st.integers(min_value=1, max_value=6),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    spacing=st.floats(min_value=0.01, max_value=500.0, allow_nan=False),
)
def test_round_trip_property(kind: str, size: int, seed: int, spacing: float) -> None:
    rng = np.random.default_rng(seed)
    if kind == "grid":
        graph = grid(size, 1 + seed % 5, spacing)
    elif kind == "waxman":
        graph = waxman_mesh(size * 5, rng, area_km=spacing)
    else:
        graph = random_geometric_mesh(size * 5, rng, area_km=spacing, radius_km=spacing / 4)
    with tempfile.TemporaryDirectory() as tmp:
        for fmt, (save, load) in FORMATS.items():
            path = Path(tmp) / f"g.{fmt}"
            save(graph, path)
            assert_same_topology(graph, load(path))


# --------------------------------------------------------------------------------------------
# malformed JSON files: one case each; the message must name the element
# --------------------------------------------------------------------------------------------

BASE_DOC: dict[str, Any] = {
    "name": "t",
    "nodes": [{"id": "SIEM"}, {"id": "ERDB"}, {"id": "GUEP"}],
    "links": [
        {"source": "SIEM", "target": "ERDB", "length_km": 6.0},
        {"source": "ERDB", "target": "GUEP", "length_km": 10.0},
    ],
}


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def _append(field: str, item: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc[field].append(item)


def _delete(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return edit


RANGE = "must be a float in the range (0.0, inf)."
JSON_CASES = {
    "unknown_node": (
        _append("links", {"source": "SIEM", "target": "Z", "length_km": 1.0}),
        "link 2 (SIEM-Z): unknown node 'Z'.",
    ),
    "negative_length": (
        _set(("links", 0, "length_km"), -5.0),
        f"link 'SIEM-ERDB': 'length_km' {RANGE} Got -5.0 instead.",
    ),
    "zero_length": (
        _set(("links", 1, "length_km"), 0.0),
        f"link 'ERDB-GUEP': 'length_km' {RANGE} Got 0.0 instead.",
    ),
    "string_length": (
        _set(("links", 0, "length_km"), "abc"),
        f"link 'SIEM-ERDB': 'length_km' {RANGE} Got 'abc' instead.",
    ),
    "bool_length": (
        _set(("links", 0, "length_km"), True),
        f"link 'SIEM-ERDB': 'length_km' {RANGE} Got True instead.",
    ),
    "nan_length": (
        _set(("links", 0, "length_km"), math.nan),
        f"link 'SIEM-ERDB': 'length_km' {RANGE} Got nan instead.",
    ),
    "negative_alpha": (
        _set(("links", 0, "alpha_db_per_km"), -0.2),
        "link 'SIEM-ERDB': 'alpha_db_per_km' must be a float in the range [0.0, inf).",
    ),
    "duplicate_node": (
        _append("nodes", {"id": "ERDB"}),
        "node 3: duplicate node id 'ERDB' (first defined as node 1).",
    ),
    "self_loop": (
        _append("links", {"source": "GUEP", "target": "GUEP", "length_km": 1.0}),
        "link 2 (GUEP-GUEP): self-loop",
    ),
    "duplicate_link": (
        _append("links", {"source": "ERDB", "target": "SIEM", "length_km": 3.0}),
        "link 2 (ERDB-SIEM): duplicate of link 0",
    ),
    "unknown_protocol": (
        _set(("links", 1, "protocol"), "bb85"),
        "link 'ERDB-GUEP': 'protocol' must be one of {'decoy-bb84', 'mdi-qkd'}. Got 'bb85'",
    ),
    "unknown_detector": (
        _set(("links", 0, "detector"), "HPD"),
        "link 'SIEM-ERDB': 'detector' must be one of {'GYS',",
    ),
    "missing_length": (
        _delete(("links", 1, "length_km")),
        "link 1 (ERDB-GUEP): missing required field 'length_km'.",
    ),
    "missing_target": (
        _delete(("links", 0, "target")),
        "link 0 (SIEM-?): missing required field 'target'.",
    ),
    "missing_node_id": (
        _set(("nodes", 1), {"name": "Erdberg"}),
        "node 1: missing required field 'id'.",
    ),
    "missing_links": (_delete(("links",)), "missing required field 'links'."),
    "links_not_list": (_set(("links",), {"a": 1}), "'links' must be a list."),
    "bad_node_id": (_set(("nodes", 0, "id"), 1.5), "node 0: 'id' must be a str or int."),
    "bad_role": (
        _set(("nodes", 2, "role"), "relay"),
        "node 'GUEP': 'role' must be one of {'trusted', 'end'}. Got 'relay' instead.",
    ),
    "bad_pos": (_set(("nodes", 0, "pos"), [1.0]), "node 'SIEM': 'pos' must be a tuple of 2"),
    "bad_name": (_set(("nodes", 0, "name"), 7), "node 'SIEM': 'name' must be a str."),
    "disconnected": (
        _append("nodes", {"id": "STPO"}),
        "topology is disconnected (2 components): node 'STPO' is unreachable",
    ),
}


@pytest.mark.parametrize("case", sorted(JSON_CASES))
def test_malformed_json_names_element(case: str, tmp_path: Path) -> None:
    edit, message = JSON_CASES[case]
    doc = copy.deepcopy(BASE_DOC)
    edit(doc)
    path = tmp_path / f"{case}.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(TopologyError) as info:
        load_json(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)
    assert isinstance(info.value, InvalidParameterError)


def test_invalid_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "nodes": [],\n  "links": [,]\n}\n')
    with pytest.raises(TopologyError, match=r"broken\.json: invalid JSON at line 3, column 13"):
        load_json(path)


def test_json_top_level_must_be_object(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[]")
    with pytest.raises(TopologyError, match="top level must be an object"):
        load_json(path)


# --------------------------------------------------------------------------------------------
# malformed GraphML files
# --------------------------------------------------------------------------------------------

GRAPHML_HEAD = """<?xml version='1.0' encoding='utf-8'?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key id="len" for="edge" attr.name="length_km" attr.type="double"/>
  <key id="px" for="node" attr.name="pos_x_km" attr.type="double"/>
  <key id="idt" for="graph" attr.name="node_id_type" attr.type="string"/>
"""


def _graphml(body: str, edgedefault: str = "undirected") -> str:
    return f'{GRAPHML_HEAD}  <graph edgedefault="{edgedefault}">\n{body}  </graph>\n</graphml>\n'


GOOD_NODES = '    <node id="A"/>\n    <node id="B"/>\n'


def _edge(source: str, target: str, length: str | None = "1.0") -> str:
    data = "" if length is None else f'<data key="len">{length}</data>'
    return f'    <edge source="{source}" target="{target}">{data}</edge>\n'


GRAPHML_CASES = {
    "unknown_node": (
        _graphml(GOOD_NODES + _edge("A", "B") + _edge("A", "Z")),
        "link 1 (A-Z): unknown node 'Z'.",
    ),
    "negative_length": (
        _graphml(GOOD_NODES + _edge("A", "B", "-2.5")),
        f"link 'A-B': 'length_km' {RANGE} Got -2.5 instead.",
    ),
    "missing_length": (
        _graphml(GOOD_NODES + _edge("A", "B", None)),
        "link 0 (A-B): missing required field 'length_km'.",
    ),
    "duplicate_node": (
        _graphml(GOOD_NODES + '    <node id="A"/>\n'),
        "node 2: duplicate node id 'A' (first defined as node 0).",
    ),
    "self_loop": (
        _graphml(GOOD_NODES + _edge("B", "B")),
        "link 0 (B-B): self-loop",
    ),
    "directed": (
        _graphml(GOOD_NODES, edgedefault="directed"),
        "the graph must be undirected",
    ),
    "half_position": (
        _graphml(
            '    <node id="A"><data key="px">1.0</data></node>\n    <node id="B"/>\n'
            + _edge("A", "B")
        ),
        "node 'A': 'pos_x_km' and 'pos_y_km' must be given together.",
    ),
    "bad_int_id": (
        _graphml('    <data key="idt">int</data>\n    <node id="1"/>\n    <node id="x"/>\n'),
        "node 'x': id is not an int although 'node_id_type' is 'int'.",
    ),
    "disconnected": (
        _graphml(GOOD_NODES),
        "topology is disconnected (2 components)",
    ),
    "not_xml": (
        GRAPHML_HEAD + "  <graph>\n    <node id='A'>\n  </graph>\n",
        "invalid GraphML (XML error): mismatched tag: line 8, column 4.",
    ),
}


@pytest.mark.parametrize("case", sorted(GRAPHML_CASES))
def test_malformed_graphml_names_element(case: str, tmp_path: Path) -> None:
    text, message = GRAPHML_CASES[case]
    path = tmp_path / f"{case}.graphml"
    path.write_text(text)
    with pytest.raises(TopologyError) as info:
        load_graphml(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)
