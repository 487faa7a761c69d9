"""Batched simulation core of the DPEM entanglement-distribution study (time-slotted, numpy).

Every node of a random mesh is a quantum repeater with a pair source and memories. In each
slot of ``slot_s`` seconds, (1) every node agent may claim one candidate route, at one quality
level, for the oldest entanglement request it originates; (2) claims are resolved in a seeded
priority order: a claim is granted all or nothing when the stored pairs on its links and the
swap capacity of its intermediate repeaters suffice, and claims that ask together for more than
a link or repeater has are *contended*; (3) each granted claim consumes one pair per hop (two
with BBPSSW purification), swaps them at every intermediate node (Werner fidelities composed
with :func:`~qnetrl.physics.entanglement.werner_swap`, each swap succeeding with probability
``swap_success_prob``) and delivers the request when the end-to-end pair meets its fidelity;
(4) requests past their deadline expire; (5) stored pairs decohere
(:func:`~qnetrl.physics.entanglement.depolarize`) and fall below the cutoff; (6) elementary
links attempt heralded generation (:func:`~qnetrl.physics.entanglement.double_click_link` or
:func:`~qnetrl.physics.entanglement.single_click_link`), successes being binomial; (7) new
requests arrive (:mod:`qnetrl.envs.entanglement.demand`). The core advances B independent
copies at once: state arrays have a leading batch axis, and no Python loop runs over copies,
nodes or links in a slot (loops run over the few hops of a route and over the rounds of the
claim resolution). The PettingZoo face in :mod:`qnetrl.envs.entanglement.pettingzoo_env` is
the B=1 view; agents and baselines may read the core's documented arrays directly.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, fields
from itertools import islice
from typing import Any, Final, Literal, NamedTuple

import networkx as nx
import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import Field, ValidationInfo, field_validator
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra

from qnetrl._validation import InvalidParameterError
from qnetrl.config import ConfigBase
from qnetrl.envs.entanglement.demand import (
    BurstyRequests,
    DiurnalRequests,
    EntanglementRequestBatch,
    PoissonRequests,
    TraceRequests,
    load_request_trace,
)
from qnetrl.network.topology import (
    Topology,
    random_geometric_mesh,
    ring,
    validate_topology,
    waxman_mesh,
)
from qnetrl.physics.entanglement import (
    bbpssw,
    depolarize,
    double_click_link,
    single_click_link,
    werner_swap,
)

__all__ = [
    "HEAD_FEATURES",
    "LOCAL_FEATURES",
    "ROUTE_FEATURES",
    "EntanglementCore",
    "EntanglementEnvConfig",
    "EntanglementNetwork",
    "EntanglementState",
    "HeadView",
    "RouteView",
    "build_network",
    "build_requests",
    "candidate_routes",
    "compose_route_fidelity",
]

#: Names of the node-local observation features, in order (see :class:`EntanglementCore`).
LOCAL_FEATURES: Final[tuple[str, ...]] = (
    "gen_rate",
    "repeater_rate",
    "swap_budget",
    "degree",
    "pos_x",
    "pos_y",
    "time",
)
#: Names of the head-request observation features, in order.
HEAD_FEATURES: Final[tuple[str, ...]] = ("valid", "fidelity", "slack", "hops", "queue")
#: Names of the per-route observation features before the Q fidelities, in order.
ROUTE_FEATURES: Final[tuple[str, ...]] = ("valid", "hops", "bottleneck", "swap_min", "pressure")

#: Child random streams drawn at reset: demand, generation, priorities, swap/purify outcomes.
_N_STREAMS: Final[int] = 4
#: Largest number of nodes for which ``route_method="yen"`` builds its all-pairs table.
_YEN_MAX_NODES: Final[int] = 200
#: Relative tolerance of the loop test of the first-hop alternates.
_LOOP_TOL: Final[float] = 1e-9


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


class EntanglementEnvConfig(ConfigBase):
    """Parameters of the DPEM entanglement-distribution environment (units in every field).

    Publication values: 100 nodes on a random mesh, pair generation U(0, 10) pairs/s and
    repeater capacity U(0, 5) swaps/s per node, requests with a timestamp, a source, a
    destination and a required fidelity. Everything else (slot length, detector, memory,
    swap success, deadlines, demand rates) is our choice and documented per field. The
    defaults put the network in a contended regime: with the first-come-first-served
    heuristic about half the requests are delivered and about a quarter of the claims are
    contended.

    A node's pair-generation rate is its rate of heralded generation *attempts*: every
    attempt succeeds with the link's heralding probability (about 0.1 on the default ~28 km
    links), so a node yields fewer pairs per second than its rate.
    """

    n_nodes: int = Field(100, ge=2, le=5000, description="Number of nodes N (count).")
    topology: Literal["waxman", "geometric", "ring"] = Field(
        "waxman", description="Mesh builder from qnetrl.network.topology."
    )
    topology_seed: int = Field(
        0,
        ge=0,
        le=2**63 - 1,
        description="Seed of the mesh and of the per-node rates (fixed for an env instance).",
    )
    area_km: float = Field(
        100.0, gt=0.0, le=1e5, description="Side of the square the nodes are drawn on (in km)."
    )
    waxman_alpha: float = Field(
        0.15, gt=0.0, le=100.0, description="Waxman distance scale alpha (dimensionless)."
    )
    waxman_beta: float | None = Field(
        None,
        gt=0.0,
        le=1.0,
        description="Waxman density beta in (0, 1]; None derives it from mean_degree.",
    )
    radius_km: float | None = Field(
        None,
        gt=0.0,
        le=1e5,
        description="Link radius of the geometric mesh (in km); None derives it from mean_degree.",
    )
    mean_degree: float = Field(
        4.0,
        gt=0.0,
        le=1000.0,
        description=(
            "Target mean degree when waxman_beta / radius_km is None (count); beta is capped "
            "at 1, so small Waxman meshes may fall short."
        ),
    )
    link_length_km: float | None = Field(
        None,
        gt=0.0,
        le=1e4,
        description="If set, every link gets this fibre length (in km); else geometric lengths.",
    )
    alpha_db_per_km: float = Field(
        0.2, ge=0.0, le=10.0, description="Fibre attenuation of every link (in dB/km)."
    )
    gen_rate_low_hz: float = Field(
        0.0,
        ge=0.0,
        le=1e9,
        description="Lower end of the uniform node pair-generation (attempt) rate (in pairs/s).",
    )
    gen_rate_high_hz: float = Field(
        10.0,
        ge=0.0,
        le=1e9,
        description="Upper end of the node pair-generation (attempt) rate (in pairs/s; pub. 10).",
    )
    repeater_rate_low_hz: float = Field(
        0.0, ge=0.0, le=1e9, description="Lower end of the uniform repeater capacity (in swaps/s)."
    )
    repeater_rate_high_hz: float = Field(
        5.0,
        ge=0.0,
        le=1e9,
        description="Upper end of the uniform repeater capacity (in swaps/s; publication 5).",
    )
    slot_s: float = Field(5.0, gt=0.0, le=1e6, description="Duration of one slot (in s).")
    scheme: Literal["double", "single"] = Field(
        "double", description="Heralding scheme: Barrett-Kok double click or single click."
    )
    detector_efficiency: float = Field(
        0.8,
        ge=0.0,
        le=1.0,
        description="Photon detection probability excluding fibre loss (dimensionless).",
    )
    alpha_bright: float = Field(
        0.05,
        ge=0.0,
        le=0.5,
        description="Bright-state population of the single-click scheme (dimensionless).",
    )
    memory_slots: int = Field(
        4, ge=1, le=64, description="Memory qubits per link end: pairs a link can store (count)."
    )
    memory_coherence_s: float = Field(
        300.0,
        gt=0.0,
        description="Depolarising time T_m of one memory (in s); math.inf for perfect memories.",
    )
    min_pair_fidelity: float = Field(
        0.5,
        ge=0.25,
        le=1.0,
        description="Stored pairs below this fidelity are discarded (dimensionless cutoff).",
    )
    swap_success_prob: float = Field(
        0.9, ge=0.0, le=1.0, description="Success probability of one entanglement swap."
    )
    purification: bool = Field(
        True, description="Offer quality level 1: one BBPSSW round per hop (2 pairs per hop)."
    )
    warmup_slots: int = Field(
        5, ge=0, le=1_000_000, description="Generation-only slots run at reset (in slots)."
    )
    horizon: int = Field(
        200, ge=1, le=1_000_000, description="Episode length T (in slots); truncation only."
    )
    deadline_slots: int = Field(
        10,
        ge=0,
        le=1_000_000,
        description="Slots after arrival in which a request may still be delivered.",
    )
    fidelity_low: float = Field(
        0.6, ge=0.0, le=1.0, description="Lower end of the uniform required fidelity."
    )
    fidelity_high: float = Field(
        0.9, ge=0.0, le=1.0, description="Upper end of the uniform required fidelity."
    )
    demand: Literal["poisson", "bursty", "diurnal", "trace"] = Field(
        "poisson", description="Request generator (see qnetrl.envs.entanglement.demand)."
    )
    request_rate_hz: float = Field(
        0.01,
        ge=0.0,
        le=1e6,
        description="Mean request rate originating at a node (in requests/s).",
    )
    request_rate_spread: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Per-node rates are request_rate_hz x U(1 - s, 1 + s) (dimensionless s).",
    )
    burst_ratio: float = Field(
        5.0, ge=1.0, le=1e6, description="Bursty demand: burst rate over quiet rate."
    )
    burst_on_prob: float = Field(
        0.05, gt=0.0, le=1.0, description="Bursty demand: quiet-to-burst probability per slot."
    )
    burst_off_prob: float = Field(
        0.2, gt=0.0, le=1.0, description="Bursty demand: burst-to-quiet probability per slot."
    )
    diurnal_amplitude: float = Field(
        0.8, ge=0.0, le=1.0, description="Diurnal demand: relative amplitude of the cycle."
    )
    diurnal_period_s: float = Field(
        100.0, gt=0.0, le=1e9, description="Diurnal demand: period of the cycle (in s)."
    )
    trace_path: str | None = Field(
        None, description="CSV request trace (timestamp, src, dst, fidelity) for demand 'trace'."
    )
    max_requests_per_slot: int | None = Field(
        None,
        ge=1,
        le=10**6,
        description="Capacity R of a request batch; None picks one with overflow risk 1e-9.",
    )
    queue_capacity: int = Field(
        8, ge=1, le=1024, description="Pending requests a node can hold; more are dropped."
    )
    history_slots: int = Field(
        16, ge=1, le=4096, description="Slots of per-node arrival counts kept for forecasting."
    )
    contention_penalty: float = Field(
        0.5, ge=0.0, le=1e6, description="Reward penalty of a contended claim (per claim)."
    )
    max_routes: int = Field(3, ge=1, le=16, description="Candidate routes K per request (count).")
    route_method: Literal["alternates", "yen"] = Field(
        "alternates",
        description=(
            "Candidate routes: best path through each of the K best first hops (any N), or "
            "Yen's K shortest simple paths (networkx; N <= 200)."
        ),
    )
    route_metric: Literal["hops", "length"] = Field(
        "hops", description="Route cost: hop count (ties by fibre length) or fibre length."
    )

    @field_validator("gen_rate_high_hz", "repeater_rate_high_hz", "fidelity_high")
    @classmethod
    def _high_not_below_low(cls, value: float, info: ValidationInfo) -> float:
        low_name = str(info.field_name).replace("high", "low")
        low = info.data.get(low_name)
        if low is not None and value < low:
            raise ValueError(f"must be >= {low_name} ({low})")
        return value

    @field_validator("trace_path")
    @classmethod
    def _trace_needs_path(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("demand") == "trace" and not value:
            raise ValueError("a trace_path is required when demand is 'trace'")
        return value

    @field_validator("route_method")
    @classmethod
    def _yen_is_small(cls, value: str, info: ValidationInfo) -> str:
        n = info.data.get("n_nodes")
        if value == "yen" and n is not None and n > _YEN_MAX_NODES:
            raise ValueError(
                f"'yen' builds an all-pairs table and needs n_nodes <= {_YEN_MAX_NODES}"
            )
        return value

    @property
    def n_quality(self) -> int:
        """Number Q of quality levels: 2 with purification (plain, purified), else 1."""
        return 2 if self.purification else 1

    @property
    def n_actions(self) -> int:
        """Size ``1 + K * Q`` of every agent's discrete action space."""
        return 1 + self.max_routes * self.n_quality


# ---------------------------------------------------------------------------------------------
# Network: topology, per-node rates, link physics, routing tables
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class EntanglementNetwork:
    """Static description of the mesh an env instance runs on (no batch axis).

    Attributes
    ----------
    graph : networkx.Graph
        The topology, nodes relabelled ``0 .. N-1``.
    n_nodes, n_links : int
        N and L.
    links : ndarray of shape (L, 2), dtype int64
        End nodes ``(u, v)`` with ``u < v`` of every link; link ``l`` is row ``l``.
    length_km : ndarray of shape (L,)
        Fibre length of every link (in km).
    p_herald : ndarray of shape (L,)
        Heralding success probability per attempt.
    fidelity0 : ndarray of shape (L,)
        Fidelity of a freshly heralded pair.
    gen_rate_hz : ndarray of shape (N,)
        Pair-generation rate of every node (in pairs/s), drawn U(low, high).
    repeater_rate_hz : ndarray of shape (N,)
        Repeater capacity of every node (in swaps/s), drawn U(low, high).
    request_rate_hz : ndarray of shape (N,)
        Mean request rate originating at every node (in requests/s).
    attempts_per_slot : ndarray of shape (L,)
        Mean generation attempts of a link per slot, ``min`` over its ends of the node's
        attempts per slot shared equally by its links.
    swaps_per_slot : ndarray of shape (N,)
        Mean swap capacity per slot, ``repeater_rate_hz * slot_s``.
    pos01 : ndarray of shape (N, 2)
        Node positions scaled to [0, 1] per axis (zeros when the graph has none).
    degree : ndarray of shape (N,), dtype int64
        Node degrees.
    neighbors, neighbor_links : ndarray of shape (N, D), dtype int64
        Neighbours of every node in increasing id order and the links to them, padded with -1;
        D is the largest degree.
    link_index : ndarray of shape (N, N), dtype int32
        Link id joining two nodes, -1 if none.
    link_weight : ndarray of shape (L,)
        Routing cost of every link (``route_metric``).
    dist : ndarray of shape (N, N)
        Routing distance between nodes.
    next_hop : ndarray of shape (N, N), dtype int32
        Next node from ``i`` on the chosen shortest route to ``j`` (``i`` itself when i = j).
    hops : ndarray of shape (N, N), dtype int32
        Hop count of the chosen shortest route.
    max_hops : int
        Largest hop count H of a candidate route.
    yen_nodes : ndarray of shape (N, N, K, H + 1), dtype int16, or None
        Yen's K shortest routes for every ordered pair (``route_method="yen"`` only).
    """

    graph: nx.Graph
    n_nodes: int
    n_links: int
    links: NDArray[np.int64]
    length_km: NDArray[np.float64]
    p_herald: NDArray[np.float64]
    fidelity0: NDArray[np.float64]
    gen_rate_hz: NDArray[np.float64]
    repeater_rate_hz: NDArray[np.float64]
    request_rate_hz: NDArray[np.float64]
    attempts_per_slot: NDArray[np.float64]
    swaps_per_slot: NDArray[np.float64]
    pos01: NDArray[np.float64]
    degree: NDArray[np.int64]
    neighbors: NDArray[np.int64]
    neighbor_links: NDArray[np.int64]
    link_index: NDArray[np.int32]
    link_weight: NDArray[np.float64]
    dist: NDArray[np.float64]
    next_hop: NDArray[np.int32]
    hops: NDArray[np.int32]
    max_hops: int
    yen_nodes: NDArray[np.int16] | None

    @property
    def max_degree(self) -> int:
        """Largest node degree D."""
        return int(self.neighbors.shape[1])


def _waxman_beta(
    n: int, rng: np.random.Generator, area_km: float, alpha: float, degree: float
) -> float:
    """Waxman ``beta`` giving an expected mean degree ``degree`` on the positions to be drawn.

    :func:`~qnetrl.network.topology.waxman_mesh` draws the positions first,
    ``rng.uniform(0, area_km, size=(N, 2))``; the same draw on a copy of ``rng`` gives them,
    and the expected degree is ``(2 / N) beta sum_{u<v} exp(-d(u, v) / (alpha L))`` with L the
    largest distance. Links added to join components come on top.
    """
    pos = copy.deepcopy(rng).uniform(0.0, area_km, size=(n, 2))
    iu, ju = np.triu_indices(n, k=1)
    d = np.hypot(*(pos[iu] - pos[ju]).T)
    scale = alpha * max(float(d.max(initial=0.0)), 1e-12)
    total = float(np.exp(-d / scale).sum())
    return min(1.0, degree * n / (2.0 * total)) if total > 0 else 1.0


def _build_graph(config: EntanglementEnvConfig, rng: np.random.Generator) -> nx.Graph:
    n = config.n_nodes
    attrs = {"alpha_db_per_km": config.alpha_db_per_km}
    if config.topology == "waxman":
        beta = config.waxman_beta
        if beta is None:
            beta = _waxman_beta(n, rng, config.area_km, config.waxman_alpha, config.mean_degree)
        return waxman_mesh(
            n, rng, area_km=config.area_km, alpha=config.waxman_alpha, beta=beta, **attrs
        )
    if config.topology == "geometric":
        radius = config.radius_km
        if radius is None:  # pi r^2 (N - 1) / A = mean degree, ignoring the border
            radius = config.area_km * math.sqrt(config.mean_degree / (math.pi * (n - 1)))
        return random_geometric_mesh(n, rng, area_km=config.area_km, radius_km=radius, **attrs)
    if n < 3:
        raise InvalidParameterError(
            f"The 'n_nodes' field of EntanglementEnvConfig must be an int in the range "
            f"[3, 5000] for topology 'ring'. Got {n} instead."
        )
    spacing = config.link_length_km or config.area_km / n
    return ring(n, spacing, **attrs)


def build_network(
    config: EntanglementEnvConfig, graph: nx.Graph | None = None
) -> EntanglementNetwork:
    """Build the mesh, draw the per-node rates and precompute link physics and routing tables.

    Parameters
    ----------
    config : EntanglementEnvConfig
        Environment parameters; ``topology_seed`` seeds the mesh and the node rates.
    graph : networkx.Graph or None
        A topology to use instead of building one (validated with
        :func:`~qnetrl.network.topology.validate_topology`; nodes are relabelled in sorted
        order to ``0 .. N-1``). It must have ``config.n_nodes`` nodes.

    Returns
    -------
    EntanglementNetwork
        The static network arrays.

    Notes
    -----
    Two independent child streams of ``SeedSequence(topology_seed)`` draw the mesh and then
    the node rates (generation U(gen_rate_low_hz, gen_rate_high_hz), repeater
    U(repeater_rate_low_hz, repeater_rate_high_hz), request-rate factor U(1 - s, 1 + s)), so
    a given ``graph`` does not change the rates. Link physics per link of length L: the
    heralding probability and fidelity of ``scheme`` (Barrett-Kok: ``eta**2 / 2`` and 1;
    single click: ``2 alpha eta`` and ``1 - alpha``, with ``eta = detector_efficiency *
    10**(-alpha_dB L / 20)``). A node's generation rate bounds its attempts: it makes
    ``gen_rate_hz * slot_s`` attempts per slot on average, shared equally by its links, and a
    link attempts at the smaller share of its two ends, so no node ever exceeds its rate.
    Routing costs are hop counts plus ``1e-6`` times the relative fibre length (ties go to
    shorter fibre) for ``route_metric="hops"``, or fibre lengths; all-pairs Dijkstra
    (scipy) gives the distance and next-hop tables.
    """
    if not isinstance(config, EntanglementEnvConfig):
        raise InvalidParameterError(
            f"The 'config' parameter of build_network must be an EntanglementEnvConfig. "
            f"Got {type(config).__name__} instead."
        )
    topo_seq, rate_seq = np.random.SeedSequence(config.topology_seed).spawn(2)
    if graph is None:
        graph = _build_graph(config, np.random.default_rng(topo_seq))
    else:
        validate_topology(graph)
        if graph.number_of_nodes() != config.n_nodes:
            raise InvalidParameterError(
                f"The 'graph' parameter of build_network must have n_nodes={config.n_nodes} "
                f"nodes. Got {graph.number_of_nodes()} instead."
            )
        graph = nx.convert_node_labels_to_integers(graph, ordering="sorted")
    n = graph.number_of_nodes()
    if config.link_length_km is not None:
        for _, _, data in graph.edges(data=True):
            data[Topology.LENGTH_KM] = float(config.link_length_km)

    edges = sorted((min(u, v), max(u, v)) for u, v in graph.edges())
    links = np.array(edges, dtype=np.int64).reshape(-1, 2)
    n_links = links.shape[0]
    length = np.array([graph.edges[u, v][Topology.LENGTH_KM] for u, v in edges], dtype=float)
    alpha = np.array(
        [graph.edges[u, v].get(Topology.ALPHA_DB_PER_KM, config.alpha_db_per_km) for u, v in edges],
        dtype=float,
    )
    if config.scheme == "double":
        p, f0 = double_click_link(length, config.detector_efficiency, alpha_db_per_km=alpha)
    else:
        p, f0 = single_click_link(
            length, config.detector_efficiency, config.alpha_bright, alpha_db_per_km=alpha
        )
    p_herald = np.asarray(p, dtype=float).reshape(n_links)
    fidelity0 = np.asarray(f0, dtype=float).reshape(n_links)

    rate_rng = np.random.default_rng(rate_seq)
    gen = rate_rng.uniform(config.gen_rate_low_hz, config.gen_rate_high_hz, size=n)
    rep = rate_rng.uniform(config.repeater_rate_low_hz, config.repeater_rate_high_hz, size=n)
    spread = config.request_rate_spread
    req = config.request_rate_hz * rate_rng.uniform(1.0 - spread, 1.0 + spread, size=n)

    # adjacency, sorted by (node, neighbour)
    both = np.concatenate([links, links[:, ::-1]])
    lid = np.concatenate([np.arange(n_links), np.arange(n_links)])
    order = np.lexsort((both[:, 1], both[:, 0]))
    both, lid = both[order], lid[order]
    degree = np.bincount(both[:, 0], minlength=n).astype(np.int64)
    d_max = max(1, int(degree.max()))
    start = np.concatenate([[0], np.cumsum(degree)[:-1]])
    col = np.arange(both.shape[0]) - start[both[:, 0]]
    neighbors = np.full((n, d_max), -1, dtype=np.int64)
    neighbor_links = np.full((n, d_max), -1, dtype=np.int64)
    neighbors[both[:, 0], col] = both[:, 1]
    neighbor_links[both[:, 0], col] = lid
    link_index = np.full((n, n), -1, dtype=np.int32)
    link_index[both[:, 0], both[:, 1]] = lid

    share = gen * config.slot_s / np.maximum(degree, 1)
    attempts = np.minimum(share[links[:, 0]], share[links[:, 1]]) if n_links else np.zeros(0)

    if config.route_metric == "hops":
        weight = 1.0 + 1e-6 * length / max(float(length.max(initial=0.0)), 1e-12)
    else:
        weight = length.copy()
    mat = csr_array((np.concatenate([weight, weight]), (both[:, 0], both[:, 1])), shape=(n, n))
    dist, pred = dijkstra(mat, directed=False, return_predecessors=True)
    if not np.isfinite(dist).all():
        raise InvalidParameterError("The 'graph' parameter of build_network must be connected.")
    next_hop = pred.T.astype(np.int32)  # pred[j, i] = node before i on j -> i = next from i to j
    np.fill_diagonal(next_hop, np.arange(n, dtype=np.int32))
    hops = _hop_counts(next_hop)

    pos = np.zeros((n, 2))
    has_pos = all(Topology.POS in graph.nodes[v] for v in range(n))
    if has_pos:
        pos = np.array([graph.nodes[v][Topology.POS] for v in range(n)], dtype=float)
        span = pos.max(axis=0) - pos.min(axis=0)
        pos = (pos - pos.min(axis=0)) / np.where(span > 0, span, 1.0)

    yen = None
    max_hops = int(hops.max()) + 1
    if config.route_method == "yen":
        yen, max_hops = _yen_table(graph, n, config.max_routes, weight, edges)

    return EntanglementNetwork(
        graph=graph,
        n_nodes=n,
        n_links=n_links,
        links=links,
        length_km=length,
        p_herald=p_herald,
        fidelity0=fidelity0,
        gen_rate_hz=gen,
        repeater_rate_hz=rep,
        request_rate_hz=req,
        attempts_per_slot=attempts,
        swaps_per_slot=rep * config.slot_s,
        pos01=pos,
        degree=degree,
        neighbors=neighbors,
        neighbor_links=neighbor_links,
        link_index=link_index,
        link_weight=weight,
        dist=dist,
        next_hop=next_hop,
        hops=hops,
        max_hops=max(1, max_hops),
        yen_nodes=yen,
    )


def _hop_counts(next_hop: NDArray[np.int32]) -> NDArray[np.int32]:
    """Hop count of every chosen shortest route, by walking all N^2 routes in parallel."""
    n = next_hop.shape[0]
    dst = np.broadcast_to(np.arange(n, dtype=np.int32), (n, n))
    cur = np.broadcast_to(np.arange(n, dtype=np.int32)[:, None], (n, n)).copy()
    hops = np.zeros((n, n), dtype=np.int32)
    moving = cur != dst
    while moving.any():  # loop over hops (at most the diameter)
        cur = np.where(moving, next_hop[cur, dst], cur)
        hops += moving
        moving = cur != dst
    return hops


def _yen_table(
    graph: nx.Graph, n: int, k: int, weight: NDArray[np.float64], edges: list[tuple[int, int]]
) -> tuple[NDArray[np.int16], int]:
    """Yen's k shortest simple paths for every ordered pair, padded to (N, N, K, H + 1)."""
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_weighted_edges_from((u, v, w) for (u, v), w in zip(edges, weight.tolist(), strict=True))
    paths: dict[tuple[int, int], list[list[int]]] = {}
    longest = 1
    for s in range(n):
        for d in range(s + 1, n):
            found = list(islice(nx.shortest_simple_paths(g, s, d, weight="weight"), k))
            paths[s, d] = found
            longest = max(longest, *(len(p) - 1 for p in found))
    table = np.full((n, n, k, longest + 1), -1, dtype=np.int16)
    for (s, d), found in paths.items():
        for i, p in enumerate(found):
            table[s, d, i, : len(p)] = p
            table[d, s, i, : len(p)] = p[::-1]
    return table, longest


def candidate_routes(
    network: EntanglementNetwork, src: ArrayLike, dst: ArrayLike, k: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """Up to ``k`` candidate routes from ``src`` to ``dst``, cheapest first, as padded arrays.

    Parameters
    ----------
    network : EntanglementNetwork
        Routing tables.
    src, dst : array_like of int, same shape S
        End nodes; entries with ``src < 0`` or ``src == dst`` get no route.
    k : int
        Number K of routes, >= 1.

    Returns
    -------
    nodes : ndarray of shape S + (K, H + 1), dtype int64
        Nodes along each route from ``src`` to ``dst``, padded with -1.
    links : ndarray of shape S + (K, H), dtype int64
        Links along each route, padded with -1.
    hops : ndarray of shape S + (K,), dtype int64
        Hop count of each route (0 when the route does not exist).
    valid : ndarray of shape S + (K,), dtype bool
        Which routes exist.

    Notes
    -----
    ``route_method="alternates"`` (any N, computed here from the precomputed distance and
    next-hop tables, vectorised over all entries): for every neighbour ``j`` of ``src`` the
    route is ``src`` followed by the chosen shortest route from ``j`` to ``dst``, of cost
    ``w(src, j) + dist(j, dst)``; neighbours whose shortest route may pass through ``src``
    (``dist(j, dst) >= dist(j, src) + dist(src, dst)``) are skipped, and the K cheapest
    remain (ties: lower neighbour id). The first is a shortest route. These loop-free
    first-hop alternates are a fast stand-in for Yen's K shortest simple paths: they are
    distinct and cheapest per first hop, but two routes never share their first link.
    ``route_method="yen"`` looks the routes up in the table built with networkx's
    ``shortest_simple_paths`` (Yen's algorithm) at construction.
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    ok = (src >= 0) & (dst >= 0) & (src != dst)
    s = np.where(ok, src, 0)
    d = np.where(ok, dst, 1 % network.n_nodes)
    h_max = network.max_hops
    if network.yen_nodes is not None:
        kk = network.yen_nodes.shape[2]
        nodes = network.yen_nodes[s, d].astype(np.int64)
        if kk < k:
            pad = np.full((*nodes.shape[:-2], k - kk, nodes.shape[-1]), -1, dtype=np.int64)
            nodes = np.concatenate([nodes, pad], axis=-2)
        nodes = nodes[..., :k, :]
        nodes = np.where(ok[..., None, None], nodes, -1)
    else:
        nbr = network.neighbors[s]  # S + (D,)
        nl = network.neighbor_links[s]
        has = nbr >= 0
        nb = np.where(has, nbr, 0)
        dd = d[..., None]
        d_nd = network.dist[nb, dd]
        loop_free = d_nd < (network.dist[nb, s[..., None]] + network.dist[s, d][..., None]) * (
            1.0 - _LOOP_TOL
        )
        cost = np.where(has & loop_free, network.link_weight[np.where(has, nl, 0)] + d_nd, np.inf)
        pick = np.argsort(cost, axis=-1, kind="stable")[..., :k]
        first = np.take_along_axis(nbr, pick, axis=-1)
        fine = np.isfinite(np.take_along_axis(cost, pick, axis=-1)) & ok[..., None]
        if pick.shape[-1] < k:
            extra = k - pick.shape[-1]
            first = np.concatenate([first, np.full((*first.shape[:-1], extra), -1)], axis=-1)
            fine = np.concatenate([fine, np.zeros((*fine.shape[:-1], extra), bool)], axis=-1)
        nodes = np.full((*s.shape, k, h_max + 1), -1, dtype=np.int64)
        nodes[..., 0] = np.where(fine, s[..., None], -1)
        nodes[..., 1] = np.where(fine, first, -1)
        dk = np.broadcast_to(d[..., None], first.shape)
        cur = nodes[..., 1]
        for h in range(2, h_max + 1):  # walk the next-hop table (loop over hops)
            going = (cur >= 0) & (cur != dk)
            if not going.any():
                break
            nxt = np.where(going, network.next_hop[np.where(going, cur, 0), dk], -1)
            nodes[..., h] = nxt
            cur = nxt
    u, v = nodes[..., :-1], nodes[..., 1:]
    has_link = (u >= 0) & (v >= 0)
    links = np.where(has_link, network.link_index[np.maximum(u, 0), np.maximum(v, 0)], -1)
    hops = has_link.sum(axis=-1).astype(np.int64)
    valid = hops > 0
    return nodes, links.astype(np.int64), hops, valid


def compose_route_fidelity(
    f_first: ArrayLike, f_second: ArrayLike, quality: ArrayLike, hop_valid: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """End-to-end fidelity of a route: optional BBPSSW per hop, then swaps along the route.

    Parameters
    ----------
    f_first, f_second : array_like of shape (..., H)
        Fidelity of the first and of the second pair used on each hop (the second is used
        only with quality 1), each in [0, 1].
    quality : array_like of int, shape (...)
        0: one pair per hop; 1: one BBPSSW round per hop on the two pairs.
    hop_valid : array_like of bool, shape (..., H)
        Which hops belong to the route (the others are ignored).

    Returns
    -------
    fidelity : ndarray of shape (...)
        Werner fidelity of the end-to-end pair when every purification and swap succeeds.
    p_purify : ndarray of shape (..., H)
        Success probability of each hop's purification (1 where none is done).

    Notes
    -----
    The hop fidelity is :math:`F_h` (quality 0) or the BBPSSW output
    :math:`F'(F_h, F'_h)` of :func:`~qnetrl.physics.entanglement.bbpssw` (quality 1); the
    hops are then joined left to right by :func:`~qnetrl.physics.entanglement.werner_swap`,
    :math:`F \\leftarrow F F_h + (1 - F)(1 - F_h)/3`. In terms of the Werner parameter
    :math:`w = (4F - 1)/3` a swap multiplies the parameters, :math:`w = w_1 w_2`, so the
    chain is associative and is evaluated as a pairwise tree (same value as left to right, up
    to rounding). Ignored hops are set to fidelity 1, the identity of both maps.

    Examples
    --------
    >>> f, p = compose_route_fidelity([[0.9, 0.9]], [[0.0, 0.0]], [0], [[True, True]])
    >>> round(float(f[0]), 6)  # werner_swap(0.9, 0.9)
    0.813333
    """
    valid = np.asarray(hop_valid, dtype=bool)
    q = np.asarray(quality)[..., None]
    f1 = np.asarray(f_first, dtype=np.float64)
    shape = np.broadcast_shapes(f1.shape, valid.shape, q.shape)
    hop = np.where(valid, f1, 1.0)
    hop = np.broadcast_to(hop, shape).copy()
    p_purify = np.ones(shape)
    pur = np.broadcast_to(valid & (q == 1), shape)
    if pur.any():
        f2 = np.broadcast_to(np.asarray(f_second, dtype=np.float64), shape)
        hop[pur], p_purify[pur] = bbpssw(hop[pur], f2[pur])
    # Werner parameters multiply under swapping, so the chain is reduced pairwise: a tree of
    # ceil(log2 H) werner_swap calls instead of H - 1 (loop over tree levels).
    while hop.shape[-1] > 1:
        if hop.shape[-1] % 2:
            hop = np.concatenate([hop, np.ones((*hop.shape[:-1], 1))], axis=-1)
        hop = np.asarray(werner_swap(hop[..., 0::2], hop[..., 1::2]))
    return np.asarray(hop[..., 0], dtype=np.float64), np.asarray(p_purify, dtype=np.float64)


def build_requests(
    config: EntanglementEnvConfig, network: EntanglementNetwork, batch_size: int
) -> PoissonRequests | BurstyRequests | DiurnalRequests | TraceRequests:
    """The request generator ``config.demand`` describes, with per-node rates from ``network``.

    Rates are converted to requests/slot with ``slot_s``. For ``"bursty"`` the quiet rate is
    chosen so that the stationary mean equals the node's rate:
    ``low = rate / (1 - pi + pi * burst_ratio)``, ``high = burst_ratio * low``, with
    ``pi = on / (on + off)``. ``"diurnal"`` uses a period of ``diurnal_period_s / slot_s``
    slots and the same phase at every node.
    """
    rates = network.request_rate_hz * config.slot_s
    common: dict[str, Any] = {
        "deadline_slots": config.deadline_slots,
        "batch_size": batch_size,
        "max_requests_per_slot": config.max_requests_per_slot,
    }
    fid = {"fidelity_low": config.fidelity_low, "fidelity_high": config.fidelity_high}
    n = network.n_nodes
    if config.demand == "poisson":
        return PoissonRequests(n, rates, **fid, **common)
    if config.demand == "bursty":
        pi = config.burst_on_prob / (config.burst_on_prob + config.burst_off_prob)
        low = rates / (1.0 - pi + pi * config.burst_ratio)
        return BurstyRequests(
            n,
            low,
            config.burst_ratio * low,
            p_on=config.burst_on_prob,
            p_off=config.burst_off_prob,
            **fid,
            **common,
        )
    if config.demand == "diurnal":
        return DiurnalRequests(
            n,
            rates,
            amplitude=config.diurnal_amplitude,
            period_slots=config.diurnal_period_s / config.slot_s,
            **fid,
            **common,
        )
    assert config.trace_path is not None  # enforced by the config
    return load_request_trace(config.trace_path, n, slot_s=config.slot_s, **common)


# ---------------------------------------------------------------------------------------------
# State and views
# ---------------------------------------------------------------------------------------------


@dataclass
class EntanglementState:
    """Complete dynamic state of B copies (all arrays, batch axis first).

    Attributes
    ----------
    t : ndarray of shape (B,), dtype int64
        Slots taken in the episode (the current slot's index).
    pair_count : ndarray of shape (B, L), dtype int64
        Stored pairs per link, in ``[0, memory_slots]``.
    pair_fidelity : ndarray of shape (B, L, M), dtype float64
        Fidelities of the stored pairs of each link, sorted in decreasing order (freshest
        first); entries at or past ``pair_count`` are 0.
    queue_dst : ndarray of shape (B, N, Q), dtype int64
        Destinations of the pending requests of each source node in arrival order (the head
        is entry 0), -1 past ``queue_len``. Q is ``queue_capacity``.
    queue_fidelity : ndarray of shape (B, N, Q)
        Required fidelities (0 past ``queue_len``).
    queue_arrival, queue_deadline : ndarray of shape (B, N, Q), dtype int64
        Arrival and last allowed slot of every pending request (-1 past ``queue_len``).
    queue_len : ndarray of shape (B, N), dtype int64
        Pending requests per node, in ``[0, queue_capacity]``.
    demand_history : ndarray of shape (B, N, W), dtype int64
        Requests originating at each node in each of the last W slots (oldest first, the
        current slot's arrivals last), dropped ones included.
    priority : ndarray of shape (B, N), dtype int64
        Rank of each node's claim in the current slot (0 is served first): by the head's
        deadline, ties broken by a seeded random draw.
    swap_budget : ndarray of shape (B, N), dtype int64
        Swaps each repeater can still perform in the current slot.
    totals : dict of str to ndarray of shape (B,)
        Episode counters: ``arrived``, ``delivered``, ``expired``, ``dropped`` (queue full or
        batch overflow), ``claims``, ``granted``, ``contended``, ``shortfall``,
        ``invalid_actions``, ``fidelity_sum`` (sum of delivered fidelities).
    """

    t: NDArray[np.int64]
    pair_count: NDArray[np.int64]
    pair_fidelity: NDArray[np.float64]
    queue_dst: NDArray[np.int64]
    queue_fidelity: NDArray[np.float64]
    queue_arrival: NDArray[np.int64]
    queue_deadline: NDArray[np.int64]
    queue_len: NDArray[np.int64]
    demand_history: NDArray[np.int64]
    priority: NDArray[np.int64]
    swap_budget: NDArray[np.int64]
    totals: dict[str, NDArray[Any]]

    def copy(self) -> EntanglementState:
        """A deep copy (every array copied)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in out.items()}
        out["totals"] = {k: v.copy() for k, v in self.totals.items()}
        return EntanglementState(**out)


class HeadView(NamedTuple):
    """The request each node acts on in the current slot (its oldest pending one).

    Attributes
    ----------
    valid : ndarray of shape (B, N), dtype bool
        Whether the node has a pending request.
    dst : ndarray of shape (B, N), dtype int64
        Destination (-1 if none).
    fidelity : ndarray of shape (B, N)
        Required fidelity (0 if none).
    arrival, deadline : ndarray of shape (B, N), dtype int64
        Arrival and last allowed slot (-1 if none).
    """

    valid: NDArray[np.bool_]
    dst: NDArray[np.int64]
    fidelity: NDArray[np.float64]
    arrival: NDArray[np.int64]
    deadline: NDArray[np.int64]


class RouteView(NamedTuple):
    """Candidate routes of every node's head request and their features in the current slot.

    Attributes
    ----------
    nodes : ndarray of shape (B, N, K, H + 1), dtype int64
        Nodes along each route (source first), -1 padded.
    links : ndarray of shape (B, N, K, H), dtype int64
        Links along each route, -1 padded.
    hops : ndarray of shape (B, N, K), dtype int64
        Hop count (0 if the route does not exist).
    valid : ndarray of shape (B, N, K), dtype bool
        Whether the route exists (and the node has a head request).
    bottleneck : ndarray of shape (B, N, K), dtype int64
        Fewest stored pairs on a link of the route.
    swap_min : ndarray of shape (B, N, K), dtype int64
        Smallest swap budget of an intermediate node (``max_swap_budget`` if the route has
        none).
    pressure : ndarray of shape (B, N, K), dtype int64
        Largest number of *other* nodes' head requests whose first candidate route uses a
        link of this route (a congestion signal).
    fidelity : ndarray of shape (B, N, K, Q)
        End-to-end fidelity with the best stored pairs (the two best per hop for quality 1),
        if every swap and purification succeeds; 0 where the route lacks pairs.
    feasible : ndarray of shape (B, N, K, Q), dtype bool
        Whether the claim would be granted and deliver the request if it were the only claim
        and every swap and purification succeeded: enough pairs (``q + 1`` per hop), swap
        budget on every intermediate node, and ``fidelity >= required``.
    """

    nodes: NDArray[np.int64]
    links: NDArray[np.int64]
    hops: NDArray[np.int64]
    valid: NDArray[np.bool_]
    bottleneck: NDArray[np.int64]
    swap_min: NDArray[np.int64]
    pressure: NDArray[np.int64]
    fidelity: NDArray[np.float64]
    feasible: NDArray[np.bool_]


# ---------------------------------------------------------------------------------------------
# Claim resolution
# ---------------------------------------------------------------------------------------------

_UNDECIDED: Final[int] = 0
_GRANTED: Final[int] = 1
_REFUSED: Final[int] = 2
_IDLE: Final[int] = 3


class _Resolution(NamedTuple):
    granted: NDArray[np.bool_]  # (B, N)
    contended: NDArray[np.bool_]  # (B, N)
    shortfall: NDArray[np.bool_]  # (B, N)
    offsets: NDArray[np.int64]  # (B, N, H): pairs taken before this claim on each hop
    link_used: NDArray[np.int64]  # (B, L)
    swaps_used: NDArray[np.int64]  # (B, N)
    rounds: int


def _resolve_claims(
    active: NDArray[np.bool_],
    rank: NDArray[np.int64],
    link_ids: NDArray[np.int64],
    need: NDArray[np.int64],
    swap_nodes: NDArray[np.int64],
    link_cap: NDArray[np.int64],
    swap_cap: NDArray[np.int64],
) -> _Resolution:
    """All-or-nothing claims granted in priority order, computed without a loop over claims.

    The result equals the sequential rule "in increasing ``rank``, grant a claim iff every
    resource it needs still has enough left", where a claim needs ``need`` pairs of each of its
    links and one swap of each intermediate node. It is found by fixed-point rounds: a claim is
    surely granted when it fits even behind every higher-priority claim not yet refused, and
    surely refused when it does not fit behind the higher-priority claims already granted. In
    each round the highest-priority undecided claim is decided, so the rounds end; in practice
    they are few (2-4).
    """
    bsz, n, h = link_ids.shape
    n_l = link_cap.shape[1]
    b3 = np.arange(bsz)[:, None, None]
    cid = np.broadcast_to((np.arange(bsz)[:, None] * n + np.arange(n))[..., None], (bsz, n, 1))
    lmask = active[..., None] & (link_ids >= 0)
    smask = active[..., None] & (swap_nodes >= 0)
    l_pos = np.flatnonzero(lmask)
    res_l = (b3 * n_l + link_ids)[lmask]
    res_s = (bsz * n_l + b3 * n + swap_nodes)[smask]
    res = np.concatenate([res_l, res_s])
    cidx = np.concatenate(
        [np.broadcast_to(cid, lmask.shape)[lmask], np.broadcast_to(cid, smask.shape)[smask]]
    )
    nd = np.concatenate(
        [np.broadcast_to(need[..., None], lmask.shape)[lmask], np.ones(res_s.size, np.int64)]
    )
    cap = np.concatenate([link_cap.ravel(), swap_cap.ravel()])
    order = np.lexsort((rank.ravel()[cidx], res))
    res_o, cid_o, nd_o = res[order], cidx[order], nd[order]
    cap_o = cap[res_o]
    n_e = res_o.size
    first = np.ones(n_e, dtype=bool)
    first[1:] = res_o[1:] != res_o[:-1]
    seg = np.maximum.accumulate(np.where(first, np.arange(n_e), 0)) if n_e else first.astype(int)

    def prefix(x: NDArray[np.int64]) -> NDArray[np.int64]:
        cs = np.cumsum(x) - x  # exclusive prefix sum, restarted at every resource
        return cs - cs[seg]

    n_claims = bsz * n
    total = np.bincount(res_o, weights=nd_o, minlength=cap.size)
    fits_alone = nd_o <= cap_o
    contended = np.bincount(cid_o, weights=(total[res_o] > cap_o) & fits_alone, minlength=n_claims)
    shortfall = np.bincount(cid_o, weights=~fits_alone, minlength=n_claims)
    status = np.where(active.ravel(), _UNDECIDED, _IDLE)
    rounds = 0
    while (status == _UNDECIDED).any():  # fixed-point rounds (few), not a loop over claims
        rounds += 1
        st = status[cid_o]
        upper = prefix(np.where(st != _REFUSED, nd_o, 0)) + nd_o <= cap_o
        lower = prefix(np.where(st == _GRANTED, nd_o, 0)) + nd_o > cap_o
        n_bad = np.bincount(cid_o, weights=~upper, minlength=n_claims)
        n_fail = np.bincount(cid_o, weights=lower, minlength=n_claims)
        und = status == _UNDECIDED
        status = np.where(und & (n_bad == 0), _GRANTED, status)
        status = np.where(und & (n_fail > 0), _REFUSED, status)
    granted_need = np.where(status[cid_o] == _GRANTED, nd_o, 0)
    off_sorted = prefix(granted_need)
    off_all = np.empty(n_e, dtype=np.int64)
    off_all[order] = off_sorted
    offsets = np.zeros(bsz * n * h, dtype=np.int64)
    offsets[l_pos] = off_all[: res_l.size]
    used = np.bincount(res_o, weights=granted_need, minlength=cap.size).astype(np.int64)
    return _Resolution(
        granted=(status == _GRANTED).reshape(bsz, n),
        contended=(contended > 0).reshape(bsz, n),
        shortfall=(shortfall > 0).reshape(bsz, n),
        offsets=offsets.reshape(bsz, n, h),
        link_used=used[: bsz * n_l].reshape(bsz, n_l),
        swaps_used=used[bsz * n_l :].reshape(bsz, n),
        rounds=rounds,
    )


# ---------------------------------------------------------------------------------------------
# Core
# ---------------------------------------------------------------------------------------------


class EntanglementCore:
    """B copies of the DPEM entanglement-distribution network advanced with array operations.

    One :meth:`step` is one slot ``t`` (of ``slot_s`` seconds):

    1. *Observe.* Each node sees its local resources, its arrival history, its *head*
       request (the oldest pending request it originates, see :attr:`head`) and up to K
       candidate routes for it with their features (:attr:`routes`).
    2. *Claim.* Action ``a`` of node ``n``: 0 = no claim; ``1 + k * Q + q`` = claim route
       ``k`` at quality ``q`` (0: one pair per hop; 1: one BBPSSW round per hop on two
       pairs, only with ``purification``). Claims on a missing route or without a head request
       are no-ops (``info["invalid_action"]``).
    3. *Resolve.* Claims are ranked by the head's deadline, ties broken by a seeded draw
       (:attr:`EntanglementState.priority`), and granted all or nothing in that order while
       every link has ``q + 1`` stored pairs left per claim and every intermediate node one
       swap left of its slot budget. A claim is *contended* when one of its links or
       repeaters is asked by the slot's claims for more than it has, although this claim
       alone would fit; a claim that would not fit even alone is a *shortfall*. Granted claims
       take the best pairs, higher-priority claims first.
    4. *Swap and deliver.* A granted claim purifies (success probability from
       :func:`~qnetrl.physics.entanglement.bbpssw`), swaps at every intermediate node (success
       ``swap_success_prob`` each) and produces an end-to-end pair of fidelity
       :func:`compose_route_fidelity`; the request is delivered iff everything succeeds and
       that fidelity is at least the required one. The pairs and swaps are spent either way;
       an undelivered request stays pending.
    5. *Expire.* Pending requests whose deadline is ``t`` expire.
    6. *Memory.* Stored pairs decohere for ``slot_s`` in two depolarising memories,
       :func:`~qnetrl.physics.entanglement.depolarize` with time constant
       ``memory_coherence_s / 2``; pairs below ``min_pair_fidelity`` are discarded.
    7. *Generate.* Link ``l`` makes ``floor(a_l (s + 1)) - floor(a_l s)`` attempts in
       absolute slot ``s`` (warm-up included), ``a_l`` from
       :attr:`EntanglementNetwork.attempts_per_slot`, so that the attempts up to any slot
       never exceed the nodes' generation rates; successes are
       ``Binomial(attempts, p_herald)`` and enter the memory with the link's fresh fidelity,
       replacing the oldest pairs when the ``memory_slots`` are full.
    8. *Arrive.* The requests of slot ``t + 1`` join their source's queue (at most
       ``queue_capacity``; more are dropped and counted); the new slot's priorities and swap
       budgets (``floor(r_n (s + 1)) - floor(r_n s)`` with ``r_n`` the swaps per slot) are set.

    Approximations (documented modelling choices): a link stores at most ``memory_slots``
    pairs as a list of fidelities sorted freshest first (all pairs of a link share the fresh
    fidelity, so this is also age order); swapping, purification and classical signalling
    take no time within a slot; pairs heralded during a slot are stored at the end of the slot
    with their fresh fidelity; purification consumes no repeater capacity; a node acts on one
    request per slot.

    Randomness: :meth:`reset` draws four child seeds from its generator (demand, generation,
    priorities, swap and purification outcomes); each stream draws arrays of a fixed shape
    every slot, whatever the actions, so two policies run with the same seed see the same
    requests, heralding successes, tie-breaks and swap dice.

    Parameters
    ----------
    config : EntanglementEnvConfig
        Environment parameters.
    batch_size : int
        Number of copies B, >= 1.
    graph : networkx.Graph or None
        Topology to use instead of the configured mesh (see :func:`build_network`).
    requests : request generator or None
        A generator with ``reset(rng)``, ``sample(rng, slot)`` and attributes ``n_nodes``,
        ``batch_size`` and ``capacity`` (e.g. from :mod:`qnetrl.envs.entanglement.demand`)
        to use instead of the configured demand.
    network : EntanglementNetwork or None
        A prebuilt network (shares the routing tables between cores); overrides ``graph``.

    Attributes
    ----------
    config : EntanglementEnvConfig
        The parameters.
    network : EntanglementNetwork
        Topology, rates, link physics and routing tables.
    requests : request generator
        The demand.
    batch_size, n_nodes, n_links : int
        B, N, L.
    n_routes, n_quality, n_actions : int
        K, Q and ``1 + K Q``.
    max_hops, max_degree : int
        H (longest candidate route) and D (largest degree).
    max_swap_budget : int
        Largest swap budget of a node in one slot, ``ceil(repeater_rate_high_hz * slot_s)``
        (at least 1); normalises the budget features.
    obs_dim : int
        Length of one agent's observation, ``7 + 2 D + W + 5 + K (5 + Q)``.
    obs_low, obs_high : ndarray of shape (obs_dim,), float32
        Bounds of one agent's observation.
    state_dim : int
        Length of the global state vector, ``2 L + 5 N + 1`` (see :meth:`global_state`).
    """

    def __init__(
        self,
        config: EntanglementEnvConfig,
        batch_size: int,
        *,
        graph: nx.Graph | None = None,
        requests: Any = None,
        network: EntanglementNetwork | None = None,
    ) -> None:
        if not isinstance(config, EntanglementEnvConfig):
            raise InvalidParameterError(
                f"The 'config' parameter of EntanglementCore must be an instance of "
                f"EntanglementEnvConfig. Got {config!r} instead."
            )
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, int | np.integer)
            or batch_size < 1
        ):
            raise InvalidParameterError(
                f"The 'batch_size' parameter of EntanglementCore must be an int in the range "
                f"[1, inf). Got {batch_size!r} instead."
            )
        self.config = config
        self.batch_size = int(batch_size)
        self.network = network if network is not None else build_network(config, graph)
        if requests is None:
            requests = build_requests(config, self.network, self.batch_size)
        if (
            getattr(requests, "batch_size", None) != self.batch_size
            or getattr(requests, "n_nodes", None) != self.network.n_nodes
        ):
            raise InvalidParameterError(
                f"The 'requests' parameter of EntanglementCore must generate requests for "
                f"batch_size={self.batch_size} and n_nodes={self.network.n_nodes}. Got "
                f"batch_size={getattr(requests, 'batch_size', None)!r} and "
                f"n_nodes={getattr(requests, 'n_nodes', None)!r} instead."
            )
        self.requests = requests
        net = self.network
        self.n_nodes = net.n_nodes
        self.n_links = net.n_links
        self.n_routes = config.max_routes
        self.n_quality = config.n_quality
        self.n_actions = config.n_actions
        self.max_hops = net.max_hops
        self.max_degree = net.max_degree
        self.max_swap_budget = max(1, math.ceil(config.repeater_rate_high_hz * config.slot_s))
        self._t2 = config.memory_coherence_s / 2.0  # two memories depolarise the pair
        k, q, d, w = self.n_routes, self.n_quality, self.max_degree, config.history_slots
        self._off_links = len(LOCAL_FEATURES)
        self._off_hist = self._off_links + 2 * d
        self._off_head = self._off_hist + w
        self._off_routes = self._off_head + len(HEAD_FEATURES)
        self._route_dim = len(ROUTE_FEATURES) + q
        self.obs_dim = self._off_routes + k * self._route_dim
        self.obs_low = np.zeros(self.obs_dim, dtype=np.float32)
        self.obs_high = np.ones(self.obs_dim, dtype=np.float32)
        self.obs_high[self._off_hist : self._off_head] = float(requests.capacity)
        self.state_dim = 2 * self.n_links + 5 * self.n_nodes + 1
        self._b = np.arange(self.batch_size)
        self._state: EntanglementState | None = None
        self._rngs: tuple[np.random.Generator, ...] | None = None
        self._routes: RouteView | None = None
        self._route_dst: NDArray[np.int64] | None = None  # head destination the routes are for
        self._obs: NDArray[np.float32] | None = None

    # ------------------------------------------------------------------ reset and step

    def reset(self, rng: np.random.Generator) -> NDArray[np.float32]:
        """Start a new episode in every copy.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of the episode's randomness; four child seeds are drawn from it.

        Returns
        -------
        obs : ndarray of shape (B, N, obs_dim), float32
            First observation of every agent in every copy.
        """
        if not isinstance(rng, np.random.Generator):
            raise InvalidParameterError(
                f"The 'rng' parameter of EntanglementCore.reset must be an instance of "
                f"numpy.random.Generator. Got {rng!r} instead."
            )
        cfg = self.config
        bsz, n, n_l, m = self.batch_size, self.n_nodes, self.n_links, cfg.memory_slots
        qcap = cfg.queue_capacity
        seeds = rng.integers(0, 2**63, size=_N_STREAMS)
        self._rngs = tuple(np.random.default_rng(int(s)) for s in seeds)
        self.requests.reset(self._rngs[0])
        zero = np.zeros(bsz, dtype=np.int64)
        totals: dict[str, NDArray[Any]] = {
            key: zero.copy()
            for key in (
                "arrived",
                "delivered",
                "expired",
                "dropped",
                "claims",
                "granted",
                "contended",
                "shortfall",
                "invalid_actions",
            )
        }
        totals["fidelity_sum"] = np.zeros(bsz)
        self._state = EntanglementState(
            t=zero.copy(),
            pair_count=np.zeros((bsz, n_l), dtype=np.int64),
            pair_fidelity=np.zeros((bsz, n_l, m)),
            queue_dst=np.full((bsz, n, qcap), -1, dtype=np.int64),
            queue_fidelity=np.zeros((bsz, n, qcap)),
            queue_arrival=np.full((bsz, n, qcap), -1, dtype=np.int64),
            queue_deadline=np.full((bsz, n, qcap), -1, dtype=np.int64),
            queue_len=np.zeros((bsz, n), dtype=np.int64),
            demand_history=np.zeros((bsz, n, cfg.history_slots), dtype=np.int64),
            priority=np.zeros((bsz, n), dtype=np.int64),
            swap_budget=np.zeros((bsz, n), dtype=np.int64),
            totals=totals,
        )
        self._routes = self._route_dst = None
        for s in range(cfg.warmup_slots):  # loop over warm-up slots
            self._memory_slot(self._state, s)
        self._arrive(self._state, 0)
        self._begin_slot(self._state)
        return self._observe()

    def step(
        self, actions: ArrayLike
    ) -> tuple[
        NDArray[np.float32], NDArray[np.float64], NDArray[np.bool_], dict[str, NDArray[Any]]
    ]:
        """Apply every node's claim and advance one slot in every copy.

        Parameters
        ----------
        actions : array_like of shape (B, N), int
            Action of every node, in ``[0, n_actions)`` (see the class docstring).

        Returns
        -------
        obs : ndarray of shape (B, N, obs_dim), float32
            Observations of the next slot.
        reward : ndarray of shape (B, N)
            ``delivered - contention_penalty * contended`` of every node's claim.
        truncated : ndarray of shape (B,), bool
            True where the horizon has been reached.
        info : dict of ndarray
            Per node (B, N): ``claimed``, ``granted``, ``contended``, ``lost`` (contended and
            refused), ``shortfall``, ``delivered``, ``e2e_fidelity`` (fidelity of the pair a
            granted claim produced when all swaps succeeded, else 0), ``required_fidelity``
            and ``deadline`` (of the claimed head request, 0 / -1 without a claim),
            ``failed_swap``, ``failed_purification``, ``failed_fidelity``,
            ``invalid_action``, ``swaps_used``, ``expired``, ``arrived``, ``queue_dropped``
            (counts of the slot). Per link (B, L): ``attempts``, ``pairs_generated``,
            ``pairs_consumed``, ``pairs_discarded``. Per copy (B,): ``overflow``,
            ``resolution_rounds``.

        Raises
        ------
        InvalidParameterError
            If the actions are not integers of shape (B, N) in ``[0, n_actions)``.
        RuntimeError
            If the horizon was reached (call :meth:`reset`) or reset was never called.
        """
        s = self._require_state()
        a = self._check_actions(actions)
        cfg = self.config
        if np.any(s.t >= cfg.horizon):
            raise RuntimeError("The episode has reached its horizon; call reset() first.")
        assert self._rngs is not None and self._routes is not None
        _, _, _, g_ops = self._rngs
        bsz, n, h, q_n = self.batch_size, self.n_nodes, self.max_hops, self.n_quality
        t = int(s.t[0])
        routes, head = self._routes, self.head

        want = a > 0
        k = np.where(want, (a - 1) // q_n, 0)
        q = np.where(want, (a - 1) % q_n, 0)
        route_ok = np.take_along_axis(routes.valid, k[..., None], axis=-1)[..., 0]
        active = want & head.valid & route_ok
        invalid = want & ~active
        links = np.take_along_axis(routes.links, k[..., None, None], axis=2)[:, :, 0, :]
        nodes = np.take_along_axis(routes.nodes, k[..., None, None], axis=2)[:, :, 0, :]
        hops = np.take_along_axis(routes.hops, k[..., None], axis=-1)[..., 0]
        links = np.where(active[..., None], links, -1)
        interior = active[..., None] & (np.arange(1, h) < hops[..., None])
        swap_nodes = np.where(interior, nodes[..., 1:h], -1)
        need = np.where(active, q + 1, 0)
        res = _resolve_claims(
            active, s.priority, links, need, swap_nodes, s.pair_count, s.swap_budget
        )

        # Fidelity of every granted claim from the pairs it takes (offsets in sorted stock).
        m = cfg.memory_slots
        hop_ok = res.granted[..., None] & (links >= 0)
        lk = np.maximum(links, 0)
        b3 = self._b[:, None, None]
        f1 = s.pair_fidelity[b3, lk, np.minimum(res.offsets, m - 1)]
        f2 = s.pair_fidelity[b3, lk, np.minimum(res.offsets + 1, m - 1)]
        e2e, p_pur = compose_route_fidelity(f1, f2, q, hop_ok)
        u_pur = g_ops.random((bsz, n, h))
        u_swap = g_ops.random((bsz, n, h - 1))
        pur_ok = np.all(u_pur < p_pur, axis=-1)
        swap_ok = np.all(~interior | (u_swap < cfg.swap_success_prob), axis=-1)
        produced = res.granted & pur_ok & swap_ok
        delivered = produced & (e2e >= head.fidelity)

        # Memory: granted claims take the first pairs of every link they use.
        s.pair_fidelity, s.pair_count = _drop_front(s.pair_fidelity, s.pair_count, res.link_used)
        s.swap_budget = s.swap_budget - res.swaps_used

        # Queue: remove delivered heads and expired requests.
        slot_idx = np.arange(cfg.queue_capacity)
        present = slot_idx < s.queue_len[..., None]
        served = delivered[..., None] & (slot_idx == 0)
        expired = present & ~served & (s.queue_deadline <= t)
        self._compact_queue(s, present & ~served & ~expired)

        tot = s.totals
        n_expired = expired.sum(axis=-1)
        tot["delivered"] += delivered.sum(axis=1)
        tot["expired"] += n_expired.sum(axis=1)
        tot["claims"] += active.sum(axis=1)
        tot["granted"] += res.granted.sum(axis=1)
        tot["contended"] += res.contended.sum(axis=1)
        tot["shortfall"] += res.shortfall.sum(axis=1)
        tot["invalid_actions"] += invalid.sum(axis=1)
        tot["fidelity_sum"] += np.where(delivered, e2e, 0.0).sum(axis=1)

        mem = self._memory_slot(s, t + cfg.warmup_slots)
        s.t = s.t + 1
        arr = self._arrive(s, t + 1) if t + 1 < cfg.horizon else None
        self._begin_slot(s)
        obs = self._observe()

        reward = delivered.astype(np.float64) - cfg.contention_penalty * res.contended
        truncated = s.t >= cfg.horizon
        zeros_n = np.zeros((bsz, n), dtype=np.int64)
        info: dict[str, NDArray[Any]] = {
            "claimed": active,
            "granted": res.granted,
            "contended": res.contended,
            "lost": res.contended & ~res.granted,
            "shortfall": res.shortfall,
            "delivered": delivered,
            "e2e_fidelity": np.where(produced, e2e, 0.0),
            "required_fidelity": np.where(active, head.fidelity, 0.0),
            "deadline": np.where(active, head.deadline, -1),
            "failed_swap": res.granted & pur_ok & ~swap_ok,
            "failed_purification": res.granted & ~pur_ok,
            "failed_fidelity": produced & ~delivered,
            "invalid_action": invalid,
            "swaps_used": res.swaps_used,
            "expired": n_expired,
            "arrived": zeros_n if arr is None else arr[0],
            "queue_dropped": zeros_n if arr is None else arr[1],
            "attempts": mem[0],
            "pairs_generated": mem[1],
            "pairs_consumed": res.link_used,
            "pairs_discarded": mem[2],
            "overflow": np.zeros(bsz, dtype=np.int64) if arr is None else arr[2],
            "resolution_rounds": np.full(bsz, res.rounds, dtype=np.int64),
        }
        return obs, reward, truncated, info

    # ------------------------------------------------------------------ slot phases

    def _memory_slot(
        self, s: EntanglementState, abs_slot: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        """Decohere, apply the cutoff, then store this slot's heralded pairs."""
        cfg = self.config
        net = self.network
        m = cfg.memory_slots
        j = np.arange(m)
        occupied = j < s.pair_count[..., None]
        aged = np.asarray(depolarize(s.pair_fidelity, cfg.slot_s, self._t2))
        keep = occupied & (aged >= cfg.min_pair_fidelity)
        count = keep.sum(axis=-1)  # sorted in decreasing order, so the kept pairs are a prefix
        fid = np.where(keep, aged, 0.0)
        decayed = s.pair_count - count

        rate = net.attempts_per_slot
        attempts = (np.floor(rate * (abs_slot + 1)) - np.floor(rate * abs_slot)).astype(np.int64)
        born = (
            self._rngs[1]
            .binomial(  # type: ignore[index]
                np.broadcast_to(attempts, s.pair_count.shape), net.p_herald
            )
            .astype(np.int64)
        )
        new = np.minimum(born, m)
        src = j - new[..., None]
        shifted = np.take_along_axis(fid, np.clip(src, 0, m - 1), axis=-1)
        fid = np.where(
            src < 0,
            net.fidelity0[None, :, None],
            np.where(src < count[..., None], shifted, 0.0),
        )
        overflow = np.maximum(count + born - m, 0)
        s.pair_fidelity = fid
        s.pair_count = np.minimum(count + born, m)
        return np.broadcast_to(attempts, born.shape), born, decayed + overflow

    def _arrive(
        self, s: EntanglementState, slot: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        """Enqueue the requests of ``slot``; returns per-node arrivals and drops, overflow."""
        batch: EntanglementRequestBatch = self.requests.sample(self._rngs[0], slot)  # type: ignore[index]
        bsz, n, qcap = self.batch_size, self.n_nodes, self.config.queue_capacity
        valid = batch.valid
        key = np.where(valid, self._b[:, None] * n + np.maximum(batch.src, 0), bsz * n).ravel()
        order = np.argsort(key, kind="stable")
        ks = key[order]
        rank_sorted = np.arange(ks.size) - np.searchsorted(ks, ks, side="left")
        rank = np.empty_like(rank_sorted)
        rank[order] = rank_sorted
        qlen = np.append(s.queue_len.ravel(), qcap)
        pos = qlen[key] + rank
        ok = valid.ravel() & (pos < qcap)
        flat = key[ok] * qcap + pos[ok]
        s.queue_dst.reshape(-1)[flat] = batch.dst.ravel()[ok]
        s.queue_fidelity.reshape(-1)[flat] = batch.fidelity.ravel()[ok]
        s.queue_arrival.reshape(-1)[flat] = batch.arrival.ravel()[ok]
        s.queue_deadline.reshape(-1)[flat] = batch.deadline.ravel()[ok]
        arrived = np.bincount(key[valid.ravel()], minlength=bsz * n).reshape(bsz, n)
        accepted = np.bincount(key[ok], minlength=bsz * n).reshape(bsz, n)
        s.queue_len = s.queue_len + accepted
        dropped = arrived - accepted
        s.demand_history = np.concatenate([s.demand_history[..., 1:], arrived[..., None]], axis=-1)
        s.totals["arrived"] += arrived.sum(axis=1) + batch.overflow
        s.totals["dropped"] += dropped.sum(axis=1) + batch.overflow
        return arrived, dropped, batch.overflow

    def _compact_queue(self, s: EntanglementState, keep: NDArray[np.bool_]) -> None:
        """Keep the flagged requests in their order at the front of every queue."""
        order = np.argsort(~keep, axis=-1, kind="stable")
        kept = np.take_along_axis(keep, order, axis=-1)
        for name, fill in (
            ("queue_dst", -1),
            ("queue_fidelity", 0.0),
            ("queue_arrival", -1),
            ("queue_deadline", -1),
        ):
            arr = np.take_along_axis(getattr(s, name), order, axis=-1)
            setattr(s, name, np.where(kept, arr, fill))
        s.queue_len = keep.sum(axis=-1)

    def _begin_slot(self, s: EntanglementState) -> None:
        """Draw the slot's claim priorities and set the repeaters' swap budgets."""
        n = self.n_nodes
        has = s.queue_len > 0
        deadline = np.where(has, s.queue_deadline[..., 0], np.iinfo(np.int64).max)
        tie = self._rngs[2].random((self.batch_size, n))  # type: ignore[index]
        order = np.lexsort((tie, deadline), axis=-1)
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.broadcast_to(np.arange(n), order.shape), axis=-1)
        s.priority = rank
        abs_slot = int(s.t[0]) + self.config.warmup_slots
        r = self.network.swaps_per_slot
        budget = (np.floor(r * (abs_slot + 1)) - np.floor(r * abs_slot)).astype(np.int64)
        s.swap_budget = np.broadcast_to(budget, (self.batch_size, n)).copy()

    # ------------------------------------------------------------------ observation

    def _route_view(self, s: EntanglementState, head: HeadView) -> RouteView:
        """Candidate routes and features; computed only for the nodes with a head request."""
        cfg = self.config
        bsz, n, k_r, q_n, m = (
            self.batch_size,
            self.n_nodes,
            self.n_routes,
            self.n_quality,
            cfg.memory_slots,
        )
        h = self.max_hops
        sel = np.flatnonzero(head.valid)  # flat (b, n) of the V nodes with a request
        b_sel = sel // n
        # Routes depend only on (source, destination): reuse last slot's for unchanged heads.
        dst = np.where(head.valid, head.dst, -1).ravel()
        prev = self._routes
        if prev is None or self._route_dst is None:
            fresh = np.ones(sel.size, dtype=bool)
        else:
            fresh = self._route_dst[sel] != dst[sel]
        self._route_dst = dst
        new = sel[fresh]
        nodes_c = np.empty((sel.size, k_r, h + 1), dtype=np.int64)
        links_c = np.empty((sel.size, k_r, h), dtype=np.int64)
        hops_c = np.empty((sel.size, k_r), dtype=np.int64)
        valid_c = np.empty((sel.size, k_r), dtype=bool)
        nodes_c[fresh], links_c[fresh], hops_c[fresh], valid_c[fresh] = candidate_routes(
            self.network, new % n, dst[new], k_r
        )
        if prev is not None and not fresh.all():
            old = sel[~fresh]
            nodes_c[~fresh] = prev.nodes.reshape(bsz * n, k_r, h + 1)[old]
            links_c[~fresh] = prev.links.reshape(bsz * n, k_r, h)[old]
            hops_c[~fresh] = prev.hops.reshape(bsz * n, k_r)[old]
            valid_c[~fresh] = prev.valid.reshape(bsz * n, k_r)[old]
        b3 = b_sel[:, None, None]
        has = links_c >= 0
        lk = np.maximum(links_c, 0)
        cnt = np.where(has, s.pair_count[b3, lk], np.iinfo(np.int64).max)
        bottleneck_c = np.where(valid_c, cnt.min(axis=-1, initial=np.iinfo(np.int64).max), 0)
        f1 = np.where(has, s.pair_fidelity[b3, lk, 0], 1.0)
        f2 = np.where(has, s.pair_fidelity[b3, lk, 1], 1.0) if m > 1 else np.zeros(f1.shape)
        levels = np.broadcast_to(np.arange(q_n), (*valid_c.shape, q_n))
        fq, _ = compose_route_fidelity(
            f1[..., None, :], f2[..., None, :], levels, has[..., None, :]
        )
        enough = bottleneck_c[..., None] >= np.arange(1, q_n + 1)
        fid_c = np.where(valid_c[..., None] & enough, fq, 0.0)
        inner = (nodes_c[..., 1:h] >= 0) & (np.arange(1, h) < hops_c[..., None])
        budgets = s.swap_budget[b3, np.maximum(nodes_c[..., 1:h], 0)]
        cap = self.max_swap_budget
        swap_c = np.where(valid_c, np.where(inner, budgets, cap).min(axis=-1, initial=cap), 0)
        # congestion: how many other heads' first routes use each link of the route
        first = np.where(valid_c[:, 0, None], links_c[:, 0, :], -1)  # (V, H)
        use = np.bincount(
            (b_sel[:, None] * self.n_links + first)[first >= 0], minlength=bsz * self.n_links
        ).reshape(bsz, self.n_links)
        own = (links_c[..., None] == first[:, None, None, :]).any(axis=-1) & has
        load = np.where(has, use[b3, lk] - own, 0)
        pressure_c = np.where(valid_c, load.max(axis=-1, initial=0), 0)
        req = head.fidelity.ravel()[sel]
        feasible_c = valid_c[..., None] & enough & (swap_c[..., None] >= 1)
        feasible_c &= fid_c >= req[:, None, None]

        def full(values: NDArray[Any], fill: Any, tail: tuple[int, ...]) -> NDArray[Any]:
            out = np.full((bsz * n, *tail), fill, dtype=values.dtype)
            out[sel] = values
            return out.reshape(bsz, n, *tail)

        return RouteView(
            nodes=full(nodes_c, -1, (k_r, h + 1)),
            links=full(links_c, -1, (k_r, h)),
            hops=full(np.where(valid_c, hops_c, 0), 0, (k_r,)),
            valid=full(valid_c, False, (k_r,)),
            bottleneck=full(bottleneck_c, 0, (k_r,)),
            swap_min=full(swap_c, 0, (k_r,)),
            pressure=full(pressure_c, 0, (k_r,)),
            fidelity=full(fid_c, 0.0, (k_r, q_n)),
            feasible=full(feasible_c, False, (k_r, q_n)),
        )

    def _observe(self) -> NDArray[np.float32]:
        s = self._require_state()
        cfg = self.config
        net = self.network
        bsz, n, k_r, h, m = (
            self.batch_size,
            self.n_nodes,
            self.n_routes,
            self.max_hops,
            cfg.memory_slots,
        )
        head = self.head
        self._routes = self._route_view(s, head)
        valid, hops = self._routes.valid, self._routes.hops
        bottleneck, swap_min = self._routes.bottleneck, self._routes.swap_min
        pressure, fid = self._routes.pressure, self._routes.fidelity

        obs = np.zeros((bsz, n, self.obs_dim), dtype=np.float64)
        gh, rh = cfg.gen_rate_high_hz, cfg.repeater_rate_high_hz
        obs[..., 0] = net.gen_rate_hz / gh if gh > 0 else 0.0
        obs[..., 1] = net.repeater_rate_hz / rh if rh > 0 else 0.0
        obs[..., 2] = s.swap_budget / self.max_swap_budget
        obs[..., 3] = net.degree / self.max_degree
        obs[..., 4:6] = net.pos01
        obs[..., 6] = s.t[:, None] / cfg.horizon
        d = self.max_degree
        count, best = self.incident_pairs
        o = self._off_links
        obs[..., o : o + d] = count / m
        obs[..., o + d : o + 2 * d] = best
        obs[..., self._off_hist : self._off_head] = s.demand_history
        o = self._off_head
        obs[..., o] = head.valid
        obs[..., o + 1] = head.fidelity
        slack = (head.deadline - s.t[:, None]) / max(cfg.deadline_slots, 1)
        obs[..., o + 2] = np.where(head.valid, np.clip(slack, 0.0, 1.0), 0.0)
        obs[..., o + 3] = np.where(head.valid, hops[..., 0] / h, 0.0)
        obs[..., o + 4] = s.queue_len / cfg.queue_capacity
        rf = np.zeros((bsz, n, k_r, self._route_dim))
        rf[..., 0] = valid
        rf[..., 1] = np.where(valid, hops / h, 0.0)
        rf[..., 2] = bottleneck / m
        rf[..., 3] = swap_min / self.max_swap_budget
        rf[..., 4] = np.minimum(pressure, m) / m
        rf[..., 5:] = fid
        obs[..., self._off_routes :] = rf.reshape(bsz, n, -1)
        self._obs = np.clip(obs, self.obs_low, self.obs_high).astype(np.float32)
        return self._obs

    # ------------------------------------------------------------------ documented arrays

    def _require_state(self) -> EntanglementState:
        if self._state is None:
            raise RuntimeError("EntanglementCore.reset(rng) must be called before using the core.")
        return self._state

    def _check_actions(self, actions: ArrayLike) -> NDArray[np.int64]:
        a = np.asarray(actions)
        shape = (self.batch_size, self.n_nodes)
        if a.shape != shape or not np.issubdtype(a.dtype, np.integer):
            raise InvalidParameterError(
                f"The 'actions' parameter of EntanglementCore.step must be an int array of "
                f"shape {shape}. Got {a.dtype} array of shape {a.shape} instead."
            )
        bad = (a < 0) | (a >= self.n_actions)
        if bad.any():
            raise InvalidParameterError(
                f"The 'actions' parameter of EntanglementCore.step must hold ints in the "
                f"range [0, {self.n_actions - 1}]. Got {int(a[bad][0])} instead."
            )
        return a.astype(np.int64, copy=False)

    @property
    def state(self) -> EntanglementState:
        """The live state (not a copy; treat as read-only, or use :meth:`get_state`)."""
        return self._require_state()

    def get_state(self) -> EntanglementState:
        """A deep copy of the dynamic state."""
        return self._require_state().copy()

    def set_state(self, state: EntanglementState) -> NDArray[np.float32]:
        """Replace the state with a deep copy of ``state`` and recompute the observation.

        Parameters
        ----------
        state : EntanglementState
            A state for the same B, N, L, memory slots, queue capacity and history length
            (e.g. from :meth:`get_state`, possibly edited). The random streams are kept.

        Returns
        -------
        obs : ndarray of shape (B, N, obs_dim), float32
            Observation of the new state.
        """
        self._require_state()
        cfg = self.config
        want = {
            "pair_fidelity": (self.batch_size, self.n_links, cfg.memory_slots),
            "queue_dst": (self.batch_size, self.n_nodes, cfg.queue_capacity),
            "demand_history": (self.batch_size, self.n_nodes, cfg.history_slots),
        }
        for name, shape in want.items():
            got = getattr(state, name).shape
            if got != shape:
                raise InvalidParameterError(
                    f"The 'state' parameter of EntanglementCore.set_state must hold {name} of "
                    f"shape {shape}. Got shape {got} instead."
                )
        self._state = state.copy()
        self._routes = self._route_dst = None
        return self._observe()

    def clone(self) -> EntanglementCore:
        """An independent core in the same state: state, random streams and demand copied.

        Stepping the clone and the original with the same actions gives identical results;
        baselines use it to evaluate what-if allocations.
        """
        other = copy.copy(self)
        other.requests = copy.deepcopy(self.requests)
        other._rngs = copy.deepcopy(self._rngs)
        other._state = None if self._state is None else self._state.copy()
        return other

    @property
    def t(self) -> NDArray[np.int64]:
        """Current slot of every copy, ndarray of shape (B,)."""
        return self._require_state().t

    @property
    def obs(self) -> NDArray[np.float32]:
        """Last observation of every agent, ndarray of shape (B, N, obs_dim), float32."""
        self._require_state()
        assert self._obs is not None
        return self._obs

    @property
    def head(self) -> HeadView:
        """The request each node acts on now: its oldest pending one (see :class:`HeadView`)."""
        s = self._require_state()
        valid = s.queue_len > 0
        return HeadView(
            valid=valid,
            dst=np.where(valid, s.queue_dst[..., 0], -1),
            fidelity=np.where(valid, s.queue_fidelity[..., 0], 0.0),
            arrival=np.where(valid, s.queue_arrival[..., 0], -1),
            deadline=np.where(valid, s.queue_deadline[..., 0], -1),
        )

    @property
    def routes(self) -> RouteView:
        """Candidate routes of the head requests and their features (see :class:`RouteView`)."""
        self._require_state()
        assert self._routes is not None
        return self._routes

    @property
    def demand_history(self) -> NDArray[np.int64]:
        """Arrivals per node in the last W slots, ndarray of shape (B, N, W) (oldest first)."""
        return self._require_state().demand_history

    @property
    def pair_count(self) -> NDArray[np.int64]:
        """Stored pairs per link, ndarray of shape (B, L), in ``[0, memory_slots]``."""
        return self._require_state().pair_count

    @property
    def pair_fidelity(self) -> NDArray[np.float64]:
        """Stored pair fidelities per link, ndarray of shape (B, L, M), freshest first."""
        return self._require_state().pair_fidelity

    @property
    def incident_pairs(self) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Stored pairs and best stored fidelity on every node's links.

        Returns
        -------
        count : ndarray of shape (B, N, D), dtype int64
            Pairs stored on the link to each neighbour (neighbours in
            :attr:`EntanglementNetwork.neighbors` order; 0 for padding).
        best : ndarray of shape (B, N, D)
            Fidelity of the freshest pair on that link (0 when empty or padding).
        """
        s = self._require_state()
        nl = self.network.neighbor_links
        has = nl >= 0
        lk = np.maximum(nl, 0)
        return (
            np.where(has, s.pair_count[:, lk], 0),
            np.where(has, s.pair_fidelity[:, lk, 0], 0.0),
        )

    @property
    def swap_budget(self) -> NDArray[np.int64]:
        """Swaps each repeater can perform in the current slot, ndarray of shape (B, N)."""
        return self._require_state().swap_budget

    @property
    def priority(self) -> NDArray[np.int64]:
        """Rank of every node's claim in the current slot (0 first), ndarray of shape (B, N)."""
        return self._require_state().priority

    @property
    def totals(self) -> dict[str, NDArray[Any]]:
        """Episode counters of every copy (see :class:`EntanglementState`)."""
        return self._require_state().totals

    def action_index(self, route: ArrayLike, quality: ArrayLike) -> NDArray[np.int64]:
        """Action ``1 + route * Q + quality`` that claims candidate ``route`` at ``quality``."""
        return (
            1
            + np.asarray(route, dtype=np.int64) * self.n_quality
            + np.asarray(quality, dtype=np.int64)
        )

    def action_mask(self) -> NDArray[np.bool_]:
        """Actions that claim an existing route, ndarray of shape (B, N, n_actions), bool.

        Action 0 (no claim) is always allowed; ``1 + k Q + q`` is allowed when the node has a
        head request and candidate route ``k`` exists. Masked actions are legal no-ops.
        """
        valid = self.routes.valid
        mask = np.ones((self.batch_size, self.n_nodes, self.n_actions), dtype=bool)
        mask[..., 1:] = np.repeat(valid, self.n_quality, axis=-1)
        return mask

    def global_state(self) -> NDArray[np.float32]:
        """Global state of every copy, ndarray of shape (B, state_dim), float32, in [0, 1].

        Concatenation of: stored pairs per link / M (L), best stored fidelity per link (L),
        swap budget / ``max_swap_budget`` (N), head valid (N), head required fidelity (N),
        head slack ``(deadline - t) / deadline_slots`` (N), queue length / ``queue_capacity``
        (N), and ``t / horizon`` (1).
        """
        s = self._require_state()
        cfg = self.config
        head = self.head
        slack = np.clip((head.deadline - s.t[:, None]) / max(cfg.deadline_slots, 1), 0.0, 1.0)
        parts = [
            s.pair_count / cfg.memory_slots,
            s.pair_fidelity[..., 0],
            s.swap_budget / self.max_swap_budget,
            head.valid,
            head.fidelity,
            np.where(head.valid, slack, 0.0),
            s.queue_len / cfg.queue_capacity,
            s.t[:, None] / cfg.horizon,
        ]
        out = np.concatenate([np.asarray(p, dtype=np.float64) for p in parts], axis=1)
        return np.clip(out, 0.0, 1.0).astype(np.float32)


def _drop_front(
    fid: NDArray[np.float64], count: NDArray[np.int64], used: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Remove the first ``used`` pairs of every link's sorted list."""
    m = fid.shape[-1]
    src = np.arange(m) + used[..., None]
    left = count - used
    shifted = np.take_along_axis(fid, np.minimum(src, m - 1), axis=-1)
    return np.where(np.arange(m) < left[..., None], shifted, 0.0), left
