"""Time-slotted simulator of a QKD network with key pools, trusted relays and Byzantine nodes.

:class:`NetworkSimulator` advances B independent copies of one network together, slot by slot,
with numpy arrays of shape (B, L) for the key pools and (B, Q) for the request queues. Each
slot the links add the key of :func:`~qnetrl.network.link_model.link_key_bits` to their pools
(bounded by the pool capacity, the overflow counted as wasted), new requests of the demand
generator join a FIFO queue, requests past their deadline expire, and queued requests are
served in arrival order: over one trusted-relay path (``routing="single"``), or as ``n``
Shamir shares with an end-to-end MAC over ``n`` node-disjoint paths (``routing="multipath"``,
threshold ``t``), every hop consuming the forwarded bits from its pool. Byzantine relays of
the sampled :class:`~qnetrl.network.faults.FaultScenario` flip, drop, delay or leak what they
relay, crashed nodes relay nothing, and false QBER or pool reports mislead the path choice.
With ``byte_level`` every served request runs the real byte-level relay
(:func:`~qnetrl.network.otp.relay_hop_by_hop`) or share, decode and MAC check
(:func:`~qnetrl.network.secret_sharing.send_multipath`,
:func:`~qnetrl.network.secret_sharing.receive_multipath`) on random key bytes with the same
corruption pattern, and compares the result with the key sent; otherwise the outcome comes
from the Reed-Solomon decoding bound, which the byte-level runs cross-check request by
request. :func:`simulate` runs a whole configuration and returns a
:class:`~qnetrl.network.metrics.SimResult`. A controller (a resource-allocation agent, a trust
layer) steers the network through :class:`SlotControls` given to
:meth:`NetworkSimulator.step`: per-link source intensity and protocol, per-node routing
penalties, per-path routing penalties and the nodes whose reports the control plane ignores;
without controls a slot runs exactly as before.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple

import networkx as nx
import numpy as np
from numpy.typing import NDArray
from pydantic import Field, field_validator, model_validator

from qnetrl._validation import InvalidParameterError, check_range
from qnetrl.config import ConfigBase
from qnetrl.network.authentication import AUTH_KEY_BYTES, TAG_BYTES
from qnetrl.network.demand import DemandConfig, build_demand
from qnetrl.network.faults import Behaviour, FaultScenarioConfig, sample_faults
from qnetrl.network.fluctuations import FluctuationConfig, LinkConditions, LinkFluctuations
from qnetrl.network.link_model import (
    PROTOCOL_MDI,
    LinkModelConfig,
    LinkSlot,
    link_key_bits,
    link_table,
)
from qnetrl.network.metrics import Outcome, SimResult
from qnetrl.network.otp import relay_hop_by_hop
from qnetrl.network.routing import PathChoice, build_path_table, select_paths
from qnetrl.network.secret_sharing import receive_multipath, send_multipath
from qnetrl.network.topology import Topology, by_name
from qnetrl.network.topology_io import load_graphml, load_json
from qnetrl.physics.qkd import bb84_qber_threshold

__all__ = [
    "MDI_LINK_MODES",
    "RANDOM_TOPOLOGIES",
    "ROUTING_MODES",
    "Deliveries",
    "NetworkSimConfig",
    "NetworkSimulator",
    "SlotControls",
    "build_topology",
    "simulate",
]

#: Routing modes of :class:`NetworkSimConfig`.
ROUTING_MODES: Final[tuple[str, ...]] = ("single", "multipath")
#: Values of :attr:`NetworkSimConfig.mdi_links`.
MDI_LINK_MODES: Final[tuple[str, ...]] = ("topology", "all", "none")
#: Registry topologies whose builder draws from a generator (given ``topology_seed``).
RANDOM_TOPOLOGIES: Final[tuple[str, ...]] = ("waxman", "geometric")
#: Largest number of links for which per-link pool time series are kept.
_MAX_LINK_SERIES: Final[int] = 16
#: Child streams of the run seed, in order: faults, fluctuations, demand, attacks, bytes.
_N_STREAMS: Final[int] = 5
#: Most uniforms drawn at once for corruption patterns (bounds memory for long keys).
_MAX_DRAWS: Final[int] = 1 << 22

_FLIP: Final[int] = int(Behaviour.FLIP)
_DROP: Final[int] = int(Behaviour.DROP)
_DELAY: Final[int] = int(Behaviour.DELAY)
_LEAK: Final[int] = int(Behaviour.LEAK)
_CRASH: Final[int] = int(Behaviour.CRASH)
_FALSE_QBER: Final[int] = int(Behaviour.FALSE_QBER)
_FALSE_POOL: Final[int] = int(Behaviour.FALSE_POOL)


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


def _default_link() -> LinkModelConfig:
    return LinkModelConfig(slot_s=1e-3)


def _default_fluctuations() -> FluctuationConfig:
    return FluctuationConfig(enabled=False)


def _default_demand() -> DemandConfig:
    return DemandConfig(rate_per_slot=0.1, deadline_slots=50)


class NetworkSimConfig(ConfigBase):
    """Everything a network simulation run needs besides its seed.

    Defaults describe a lightly loaded metropolitan network: 1 ms slots on 1 GHz decoy-BB84
    links (so the 45 km Koganei-Otemachi link of the Tokyo network adds about 110 bits per
    slot), 256-bit keys requested at 0.1 per pair and slot with a 50-slot deadline, pools of
    1e5 bits starting half full, fluctuations off (the nominal network: turn them on to study
    drift, stress and cuts) and no faults.
    """

    topology: str = Field(
        "tokyo",
        description=(
            "Registry name of qnetrl.network.topology.by_name (tokyo, secoqc, grid, ring, "
            "waxman, geometric) or the path of a .json or .graphml topology file."
        ),
    )
    topology_params: dict[str, Any] = Field(
        default_factory=dict,
        description="Keyword arguments of the registry builder, e.g. {'n_nodes': 100}.",
    )
    topology_seed: int = Field(
        0,
        ge=0,
        description=(
            "Seed of the random builders (waxman, geometric) and of a random end-node choice; "
            "the graph belongs to the config and is the same for every run seed."
        ),
    )
    end_nodes: Literal["auto"] | int | list[int | str] = Field(
        "auto",
        description=(
            "Nodes that request keys: 'auto' (nodes with role 'end'; else the degree-1 nodes; "
            "else every node), a number k of nodes drawn with topology_seed, or node ids."
        ),
    )
    slots: int = Field(10_000, ge=1, le=10**8, description="Slots to simulate (T).")
    batch_size: int = Field(1, ge=1, le=4096, description="Independent copies B run together.")
    link: LinkModelConfig = Field(
        default_factory=_default_link, description="Link key model; slot length is link.slot_s."
    )
    fluctuations: FluctuationConfig = Field(
        default_factory=_default_fluctuations,
        description="Link fluctuation processes (disabled by default: the nominal network).",
    )
    demand: DemandConfig = Field(
        default_factory=_default_demand, description="Key request generator."
    )
    faults: FaultScenarioConfig = Field(
        default_factory=FaultScenarioConfig, description="Byzantine and crash faults."
    )
    routing: Literal["single", "multipath"] = Field(
        "single",
        description=(
            "'single': one trusted-relay path; 'multipath': (threshold, n_paths) Shamir "
            "shares with an end-to-end MAC over n_paths node-disjoint paths."
        ),
    )
    n_paths: int = Field(3, ge=1, le=255, description="Shares and disjoint paths (multipath).")
    threshold: int = Field(2, ge=1, le=255, description="Shares needed to rebuild (multipath).")
    candidate_paths: int | None = Field(
        None,
        ge=1,
        le=64,
        description=(
            "Candidate paths per pair to choose from; None: 1 (the shortest path) for single, "
            "n_paths + 2 node-disjoint paths for multipath."
        ),
    )
    pool_capacity_bits: float = Field(
        1e5, gt=0.0, le=1e15, description="Key pool capacity of every link (in bits)."
    )
    initial_pool_fraction: float = Field(
        0.5, ge=0.0, le=1.0, description="Pool level at the start, as a fraction of capacity."
    )
    key_bits: int | None = Field(
        256,
        ge=1,
        le=10**9,
        description="Size of every requested key (in bits); None takes the demand's sizes.",
    )
    max_queue: int = Field(
        64, ge=1, le=4096, description="Requests a copy can hold waiting (Q); more are rejected."
    )
    max_reported_qber: float = Field(
        default_factory=lambda: float(bb84_qber_threshold()),
        ge=0.0,
        le=0.5,
        description=(
            "Links whose reported QBER is above this are not used for relaying (default: the "
            "BB84 threshold, about 0.110)."
        ),
    )
    mdi_links: Literal["topology", "all", "none"] = Field(
        "topology",
        description=(
            "Links a controller may switch to MDI-QKD (SlotControls.protocol): 'topology' (links "
            "the topology marks 'mdi-qkd', which have an untrusted midpoint station), 'all' or "
            "'none'. Any link may run decoy BB84. Without controls links run their own protocol."
        ),
    )
    byte_level: bool = Field(
        False,
        description=(
            "Run the real byte-level relay or share/decode/MAC for every served request "
            "instead of the decoding bound (slower; outcomes are identical)."
        ),
    )
    record_events: bool = Field(
        False, description="Keep one record per served request in SimResult.events."
    )

    @field_validator("end_nodes")
    @classmethod
    def _enough_end_nodes(cls, value: Any) -> Any:
        if isinstance(value, int) and value < 2:
            raise ValueError("end_nodes must be at least 2 when given as a number")
        if isinstance(value, list) and len(set(map(str, value))) < 2:
            raise ValueError("end_nodes must list at least 2 distinct nodes")
        return value

    @model_validator(mode="after")
    def _threshold_below_paths(self) -> NetworkSimConfig:
        if self.threshold > self.n_paths:
            raise ValueError(
                f"threshold must be in the range [1, n_paths] = [1, {self.n_paths}]; "
                f"got {self.threshold}"
            )
        k = self.candidate_paths
        if self.routing == "multipath" and k is not None and k < self.n_paths:
            raise ValueError(
                f"candidate_paths must be in the range [n_paths, 64] = [{self.n_paths}, 64] "
                f"for multipath routing; got {k}"
            )
        return self

    @property
    def paths_per_request(self) -> int:
        """Paths a request uses: 1 (single) or ``n_paths`` (multipath)."""
        return 1 if self.routing == "single" else self.n_paths

    @property
    def k_candidates(self) -> int:
        """Candidate paths per pair (``candidate_paths`` resolved)."""
        if self.candidate_paths is not None:
            return self.candidate_paths
        return 1 if self.routing == "single" else self.n_paths + 2


def build_topology(config: NetworkSimConfig) -> nx.Graph:
    """The validated topology a config names (registry builder or file).

    Parameters
    ----------
    config : NetworkSimConfig
        Uses ``topology``, ``topology_params`` and ``topology_seed``.

    Returns
    -------
    networkx.Graph
        The topology; random builders draw from ``default_rng(topology_seed)``.

    Raises
    ------
    InvalidParameterError
        If the name is neither a registry name nor an existing ``.json`` / ``.graphml``
        file, or the builder rejects a parameter (the message names it).
    """
    name = config.topology
    suffix = Path(name).suffix.lower()
    if suffix in (".json", ".graphml"):
        if not os.path.exists(name):
            raise InvalidParameterError(
                f"The 'topology' field of NetworkSimConfig names the file {name!r}, which does "
                "not exist."
            )
        return load_json(name) if suffix == ".json" else load_graphml(name)
    params = dict(config.topology_params)
    if name in RANDOM_TOPOLOGIES and "rng" not in params:
        params["rng"] = np.random.default_rng(config.topology_seed)
    try:
        return by_name(name, **params)
    except TypeError as exc:  # unknown keyword of the builder
        raise InvalidParameterError(
            f"The 'topology_params' field of NetworkSimConfig does not fit the {name!r} "
            f"builder: {exc}."
        ) from None


def _end_nodes(graph: nx.Graph, config: NetworkSimConfig) -> list[Any]:
    """Node ids that request keys (see :attr:`NetworkSimConfig.end_nodes`)."""
    nodes = list(graph.nodes)
    spec = config.end_nodes
    if isinstance(spec, list):
        return spec
    if isinstance(spec, int):
        if spec > len(nodes):
            raise InvalidParameterError(
                f"The 'end_nodes' field of NetworkSimConfig must be in the range "
                f"[2, {len(nodes)}] (the number of nodes). Got {spec} instead."
            )
        rng = np.random.default_rng([config.topology_seed, 1])
        pick = np.sort(rng.choice(len(nodes), size=spec, replace=False))
        return [nodes[i] for i in pick]
    ends = [n for n, d in graph.nodes(data=True) if d.get(Topology.ROLE) == "end"]
    if len(ends) >= 2:
        return ends
    leaves = [n for n in nodes if graph.degree(n) == 1]
    if 2 <= len(leaves) < len(nodes):
        return leaves
    return nodes


# ---------------------------------------------------------------------------------------------
# Corruption model
# ---------------------------------------------------------------------------------------------


def _path_flip_probability(p: float, flippers: NDArray[np.int64]) -> NDArray[np.float64]:
    """Probability that a bit arrives flipped after ``r`` relays each flip it with ``p``.

    Independent flips add modulo 2, so by the piling-up lemma (Lemma 1 of M. Matsui, "Linear
    cryptanalysis method for DES cipher", EUROCRYPT '93, LNCS 765, 386-397 (1994),
    DOI: 10.1007/3-540-48285-7_33) the bit is flipped with probability
    ``(1 - (1 - 2p)^r) / 2``, the probability of an odd number of flips.
    """
    return 0.5 * (1.0 - (1.0 - 2.0 * p) ** flippers)


@functools.cache
def _mask_byte_pmf(p: float) -> NDArray[np.float64]:
    """Law of a corrupted byte's XOR mask (values 1..255) when each bit flips with ``p``."""
    ones = np.array([bin(v).count("1") for v in range(1, 256)])
    w = p**ones * (1.0 - p) ** (8 - ones)
    return w / w.sum()


# ---------------------------------------------------------------------------------------------
# Controls and per-slot records
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlotControls:
    """What a controller sets for one slot of B copies; every field is optional.

    Give the same object to consecutive :meth:`NetworkSimulator.step` calls while the choice
    holds (the simulator then reuses its checks and cached link key), and do not modify its
    arrays after handing them over.

    Attributes
    ----------
    intensity_index : array_like of int, broadcastable to (B, L), or None
        Index into ``config.link.intensity_levels`` of each link's signal intensity
        (None: ``config.link.default_intensity_index``).
    protocol : array_like of int, broadcastable to (B, L), or None
        Protocol code of each link, :data:`~qnetrl.network.link_model.PROTOCOL_DECOY` (0) or
        :data:`~qnetrl.network.link_model.PROTOCOL_MDI` (1); MDI only on the links of
        :attr:`NetworkSimulator.mdi_allowed` (None: each link's topology protocol).
    node_penalty : array_like, broadcastable to (B, N), or None
        Extra routing cost of relaying through each node (dimensionless, in [0, inf]; ``inf``
        forbids the node), added to the simulator's own (``inf`` at crashed relays); see
        :func:`~qnetrl.network.routing.select_paths`.
    path_penalty : array_like, broadcastable to (B, P, k), or None
        Extra routing cost of each candidate path of each demand pair (dimensionless, in
        [0, inf]; ``inf`` forbids the path): a per-pair path preference.
    discounted : array_like of bool, broadcastable to (B, N), or None
        Nodes whose QBER and key-pool reports the control plane ignores (e.g. nodes a trust
        layer found lying). A link's report then comes from its other endpoint; when both
        endpoints are discounted, both reports count as without controls.
    """

    intensity_index: Any = None
    protocol: Any = None
    node_penalty: Any = None
    path_penalty: Any = None
    discounted: Any = None


class Deliveries(NamedTuple):
    """Requests served in one slot, one row per request (S rows), for a trust layer.

    ``copy``, ``pair``, ``outcome``, ``key_bits`` (S,): copy, pair index, :class:`Outcome`
    code and key size (in bits); ``nodes`` (S, n, H + 1) and ``hops`` (S, n): the node
    sequence (padded with -1) and length of each of the request's ``n`` paths; ``share_ok``
    (S, n): the share (single path: the key) reached the receiver by the deadline without a
    corrupted byte.
    """

    copy: NDArray[np.int64]
    pair: NDArray[np.int64]
    outcome: NDArray[np.int64]
    key_bits: NDArray[np.int64]
    nodes: NDArray[np.int64]
    hops: NDArray[np.int64]
    share_ok: NDArray[np.bool_]


# ---------------------------------------------------------------------------------------------
# Simulator
# ---------------------------------------------------------------------------------------------


def _broadcast(name: str, arr: NDArray[Any], shape: tuple[int, ...]) -> NDArray[Any]:
    """``arr`` broadcast to ``shape``, or an error naming the SlotControls field."""
    try:
        return np.broadcast_to(arr, shape)
    except ValueError:
        raise InvalidParameterError(
            f"The {name!r} field of SlotControls must broadcast to shape {shape!r}. "
            f"Got shape {arr.shape!r} instead."
        ) from None


def _rerank(
    ranked: PathChoice, path_penalty: NDArray[np.float64], pair: NDArray[np.int64], n: int
) -> PathChoice:
    """The ``n`` cheapest of all ranked candidates once each path's penalty is added.

    ``ranked`` holds every candidate of each request (B, Q, k) in cost order; ties keep that
    order (shorter candidate first), as in :func:`~qnetrl.network.routing.select_paths`.
    """
    b = pair.shape[0]
    copy = np.arange(b).reshape((b,) + (1,) * (pair.ndim - 1) + (1,))
    extra = path_penalty[copy, pair[..., None], np.maximum(ranked.path, 0)]
    cost = np.where(ranked.valid, ranked.cost + extra, math.inf)
    order = np.argsort(cost, axis=-1, kind="stable")[..., :n]
    chosen = np.take_along_axis(cost, order, axis=-1)
    ok = np.isfinite(chosen)

    def take(a: NDArray[Any]) -> NDArray[Any]:
        return np.take_along_axis(a, order, axis=-1)

    links = np.take_along_axis(ranked.links, order[..., None], axis=-2)
    nodes = np.take_along_axis(ranked.nodes, order[..., None], axis=-2)
    return PathChoice(
        path=np.where(ok, take(ranked.path), -1),
        valid=ok,
        cost=chosen,
        capacity=np.where(ok, take(ranked.capacity), 0.0),
        hops=np.where(ok, take(ranked.hops), 0),
        links=np.where(ok[..., None], links, -1),
        nodes=np.where(ok[..., None], nodes, -1),
    )


class _SlotView(NamedTuple):
    """What the links produce and what the control plane sees in one slot, for B copies.

    ``bits`` (B, L): key generated (0 at crashed nodes); ``qber_d_sum``, ``qber_d2_sum``
    (L,): sums over copies of the true QBER minus its first-slot mean, and of its square;
    ``reported_sum`` (L,): sum of the reported QBER; ``scale`` (B, L) or None: factor from true
    to reported pools (``false_pool_factor``, or 0 where the reported QBER is too high);
    ``penalty`` (B, N) or None: ``inf`` at crashed relays; ``up`` (B, N) or None: nodes up.
    """

    bits: NDArray[np.float64]
    qber_d_sum: NDArray[np.float64]
    qber_d2_sum: NDArray[np.float64]
    reported_sum: NDArray[np.float64]
    scale: NDArray[np.float64] | None
    penalty: NDArray[np.float64] | None
    up: NDArray[np.bool_] | None


class NetworkSimulator:
    """B copies of a QKD network advanced one slot at a time (see the module docstring).

    Parameters
    ----------
    config : NetworkSimConfig
        The run's configuration.
    seed : int
        Seed of the run, in ``[0, inf)``. It is split into independent streams for the
        faults, the fluctuations, the demand, the attack patterns and the key bytes, so a
        byte-level run and a fast run of the same seed see the same requests, faults and
        corruption patterns.

    Attributes
    ----------
    config : NetworkSimConfig
        The configuration.
    graph : networkx.Graph
        The topology.
    table : LinkTable
        Its links (L of them).
    paths : PathTable
        Candidate paths of the P demand pairs.
    demand : PoissonDemand or TraceDemand
        The request generator (B copies).
    faults : FaultScenario
        The sampled faults of the B copies.
    slot : int
        Next slot to simulate.
    pools : ndarray of shape (B, L)
        Key pool of every link (in whole bits, in ``[0, pool_capacity_bits]``).
    queue_valid : ndarray of shape (B, Q), dtype bool
        Occupied queue entries; the others ``queue_*`` arrays (``pair``, ``bits``,
        ``arrival``, ``deadline``, int64) describe the waiting requests, oldest first.
    mdi_allowed : ndarray of shape (L,), dtype bool
        Links that :class:`SlotControls` may switch to MDI-QKD (``config.mdi_links``).
    last_deliveries : Deliveries or None
        Requests served in the last simulated slot (None if none were).

    Notes
    -----
    One slot ``s`` runs, for all copies at once:

    1. link conditions (fluctuations), then the key of every link
       (:func:`~qnetrl.network.link_model.link_key_bits`), zero on links at a crashed node
       or under a scheduled cut; whole bits go to the pools (the fraction is carried to
       the next slot), anything above capacity is wasted;
    2. arrivals join the back of the queue; those that do not fit are rejected;
    3. requests with ``deadline < s`` expire;
    4. the paths of all waiting requests are chosen by
       :func:`~qnetrl.network.routing.select_paths` on the pools *reported* at the start of
       the slot (a FALSE_POOL node multiplies its links' pools by ``false_pool_factor``;
       links whose reported QBER exceeds ``max_reported_qber`` are left out), avoiding
       crashed relays and requiring the forwarded bits on every hop. Requests are then
       served oldest first (a loop over the Q queue positions, vectorised over copies; a
       request that cannot be served does not block later ones): the key is charged on the
       *true* pools, on every hop of every path, all or nothing, as in
       :func:`~qnetrl.network.routing.trusted_relay_consume`, so a misled choice or a pool
       emptied by an older request leaves the request waiting;
    With :class:`SlotControls` the controller's intensities and protocols replace the defaults
    in step 1, its discounted nodes' reports are ignored in step 4 (a link's report comes
    from its other endpoint), and its node and path penalties are added to the routing cost
    of step 4 (the ``n`` cheapest candidates under cost plus path penalty are chosen).

    5. what the relays on the chosen paths do decides the outcome (:class:`Outcome`):

       - DROP: the key (single path) or share is lost; DELAY: it arrives ``delay_slots``
         later, and after the deadline it counts as lost (a share) or late (single path);
       - FLIP: every relayed bit flips with ``flip_probability`` (``r`` flipping relays on a
         path combine to ``(1 - (1 - 2p)^r) / 2``); which bytes end up corrupted is drawn
         from the attack stream, the same in both modes; at byte level a corrupted byte gets
         an XOR mask drawn from the bit-flip law conditioned on a nonzero byte;
       - LEAK: the coalition records the key or share; a key is exposed if it saw the key
         (single path) or at least ``t`` shares (a share counts as seen even when a relay
         before the leaking one dropped it: exposure is counted conservatively);
       - single path: a corrupted key arrives undetected (WRONG); multipath: with ``m``
         shares received and ``f_b`` of them corrupted in byte ``b``, decoding succeeds iff
         ``m >= t`` and ``max_b f_b <= floor((m - t) / 2)`` (OK if no byte is corrupted,
         else CORRECTED); otherwise the MAC or the decoder flags a failure (FAILED) [1]_.

    A pair with fewer than ``n_paths`` node-disjoint paths (or whose only paths cross crashed
    relays or links reported unusable) is never served; its requests expire. A multipath
    share carries the key plus the 64-bit MAC tag, so every hop of every path
    consumes ``key_bits + 64`` bits; the 128-bit one-time authentication key is assumed
    pre-shared end to end and is not taken from link pools. Single-path relaying consumes
    ``key_bits`` per hop and has no end-to-end check.

    References
    ----------
    .. [1] R. J. McEliece and D. V. Sarwate, "On sharing secrets and Reed-Solomon codes",
       Communications of the ACM 24(9), 583-584 (1981). DOI: 10.1145/358746.358762

    Examples
    --------
    >>> sim = NetworkSimulator(NetworkSimConfig(slots=50, batch_size=2), seed=0)
    >>> res = sim.run()
    >>> res.summary()["conservation_error_bits"], res.summary()["wrong_keys_undetected"]
    (0.0, 0.0)
    """

    def __init__(self, config: NetworkSimConfig, seed: int) -> None:
        owner = "NetworkSimulator"
        if not isinstance(config, NetworkSimConfig):
            raise InvalidParameterError(
                f"The 'config' parameter of {owner} must be a NetworkSimConfig. "
                f"Got {type(config).__name__} instead."
            )
        if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
            raise InvalidParameterError(
                f"The 'seed' parameter of {owner} must be an int in the range [0, inf). "
                f"Got {seed!r} instead."
            )
        self.config = config
        self.seed = int(seed)
        cfg = config
        b = cfg.batch_size
        self.graph = build_topology(cfg)
        self.table = link_table(self.graph)
        n_links = self.table.n_links
        if n_links == 0:
            raise InvalidParameterError(
                f"The 'topology' field of {owner} must name a topology with at least one link."
            )
        streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(_N_STREAMS)]
        self._rng_faults, self._rng_fluct, self._rng_demand, self._rng_attack, self._rng_bytes = (
            streams
        )
        ends = _end_nodes(self.graph, cfg)
        self.demand = build_demand(cfg.demand, list(self.table.nodes), batch_size=b, end_nodes=ends)
        pairs = np.asarray(self.demand.pairs, dtype=np.int64)
        method = "shortest" if cfg.routing == "single" else "disjoint"
        self.paths = build_path_table(
            self.graph, self.table, pairs, k=cfg.k_candidates, method=method
        )
        if cfg.routing == "multipath" and not (self.paths.n_paths >= cfg.n_paths).any():
            most = int(self.paths.n_paths.max())
            raise InvalidParameterError(
                f"The 'n_paths' parameter of {owner} must be in the range [1, {most}] for "
                f"topology {self.graph.graph.get(Topology.NAME, cfg.topology)!r} (no demand "
                f"pair has more node-disjoint paths). Got {cfg.n_paths} instead."
            )
        self.faults = sample_faults(cfg.faults, self.table.n_nodes, pairs, self._rng_faults, b)
        self._fault_free = not self.faults.behaviour.any()
        self._fluct = LinkFluctuations(
            cfg.fluctuations,
            b,
            n_links,
            nominal_loss_db=self.table.nominal_loss_db,
            nominal_efficiency=self.table.detector_efficiency,
        )
        self._conditions: LinkConditions = self._fluct.reset(self._rng_fluct)
        self._cond_slot = 0  # slot the conditions in self._conditions belong to
        self._static_key: LinkSlot | None = None
        self._ctl_key: tuple[SlotControls, LinkSlot] | None = None  # static key under controls
        mode = cfg.mdi_links
        own_mdi = np.asarray(self.table.protocol) == PROTOCOL_MDI
        self.mdi_allowed = np.full(n_links, mode == "all") | (own_mdi & (mode == "topology"))
        self.mdi_allowed.flags.writeable = False
        self._controls: SlotControls | None = None
        self._checked: tuple[SlotControls, SlotControls] | None = None  # (given, normalised)
        self.last_deliveries: Deliveries | None = None
        self._last_key: LinkSlot | None = None
        self._last_conditions: LinkConditions | None = None
        self._last_reported: NDArray[np.float64] | None = None

        n_pairs = pairs.shape[0]
        q = cfg.max_queue
        cap = float(cfg.pool_capacity_bits)
        self.capacity_bits = cap
        self.slot = 0
        self.pools = np.full((b, n_links), math.floor(cfg.initial_pool_fraction * cap), float)
        self._carry = np.zeros((b, n_links))
        self.queue_valid = np.zeros((b, q), dtype=bool)
        self.queue_pair = np.zeros((b, q), dtype=np.int64)
        self.queue_bits = np.zeros((b, q), dtype=np.int64)
        self.queue_arrival = np.zeros((b, q), dtype=np.int64)
        self.queue_deadline = np.zeros((b, q), dtype=np.int64)
        self._multi = cfg.routing == "multipath"
        self._tag_bits = 8 * TAG_BYTES if self._multi else 0
        self._t = cfg.threshold if self._multi else 1
        self._view: _SlotView | None = None
        self._view_codes: NDArray[np.int64] | None = None
        self._view_ctl: SlotControls | None = None

        # counters
        self._initial_pools = self.pools.copy()
        self._arrived = np.zeros((b, n_pairs), dtype=np.int64)
        self._rejected = np.zeros((b, n_pairs), dtype=np.int64)
        self._outcomes = np.zeros((b, n_pairs, len(Outcome)), dtype=np.int64)
        self._expired = np.zeros((b, n_pairs), dtype=np.int64)
        self._exposed = np.zeros((b, n_pairs), dtype=np.int64)
        self._delivered = np.zeros((b, n_pairs))
        self._secure = np.zeros((b, n_pairs))
        self._generated = np.zeros((b, n_links))
        self._wasted = np.zeros((b, n_links))
        self._consumed = np.zeros((b, n_links))
        self._relayed = np.zeros(b)
        self._qber_shift: NDArray[np.float64] | None = None
        self._qber_sum = np.zeros(n_links)
        self._qber_sumsq = np.zeros(n_links)
        self._reported_qber_sum = np.zeros(n_links)
        self._pool_sum = np.zeros(n_links)
        self._pool_full = np.zeros(n_links, dtype=np.int64)
        self._mismatches = 0
        t_max = cfg.slots
        self._pool_mean_t = np.zeros(t_max)
        self._pool_link_t = np.zeros((t_max, n_links)) if n_links <= _MAX_LINK_SERIES else None
        self._generated_t = np.zeros(t_max)
        self._secure_t = np.zeros(t_max)
        self._events: list[dict[str, NDArray[Any]]] | None = [] if cfg.record_events else None

    # -----------------------------------------------------------------------------------------
    # one slot
    # -----------------------------------------------------------------------------------------

    def _advance_conditions(self) -> None:
        """Draw the link conditions of the current slot, once (none when nothing fluctuates)."""
        if self.config.fluctuations.enabled and self._cond_slot < self.slot:
            self._conditions = self._fluct.step(self._rng_fluct)
            self._cond_slot = self.slot

    def _link_slot(self) -> LinkSlot:
        """This slot's link key (cached when nothing fluctuates)."""
        ctl = self._controls
        choice = ctl is not None and (ctl.intensity_index is not None or ctl.protocol is not None)
        if not self.config.fluctuations.enabled:
            if choice:
                assert ctl is not None
                if self._ctl_key is None or self._ctl_key[0] is not ctl:
                    key = link_key_bits(
                        self.table,
                        self.config.link,
                        self._conditions,
                        intensity_index=ctl.intensity_index,
                        protocol=ctl.protocol,
                        batch_size=self.config.batch_size,
                    )
                    self._ctl_key = (ctl, key)
                return self._ctl_key[1]
            if self._static_key is None:
                self._static_key = link_key_bits(
                    self.table,
                    self.config.link,
                    self._conditions,
                    batch_size=self.config.batch_size,
                )
            return self._static_key
        self._advance_conditions()
        if choice:
            assert ctl is not None
            return link_key_bits(
                self.table,
                self.config.link,
                self._conditions,
                intensity_index=ctl.intensity_index,
                protocol=ctl.protocol,
                batch_size=self.config.batch_size,
            )
        return link_key_bits(
            self.table, self.config.link, self._conditions, batch_size=self.config.batch_size
        )

    def _slot_view(self, codes: NDArray[np.int64] | None) -> _SlotView:
        """Key, QBER statistics and routing view of this slot (see :class:`_SlotView`).

        Without fluctuations they depend only on the faults in force, so they are computed
        again only when those change.
        """
        cfg = self.config
        static = not cfg.fluctuations.enabled
        ctl = self._controls
        if static and self._view is not None and self._view_ctl is ctl:
            prev = self._view_codes
            if (codes is None and prev is None) or (
                codes is not None and prev is not None and np.array_equal(codes, prev)
            ):
                return self._view
        key = self._link_slot()
        table = self.table
        bits, qber = key.key_bits, key.qber
        reported = qber
        scale = penalty = up = None
        disc = None if ctl is None else ctl.discounted
        if codes is not None:
            down = (codes & _CRASH) != 0
            bits = np.where(down[:, table.u] | down[:, table.v], 0.0, bits)
            liar = (codes & _FALSE_QBER) != 0
            reported = np.where(self._believed(liar, disc), cfg.faults.false_qber_value, qber)
            pool_liar = (codes & _FALSE_POOL) != 0
            if pool_liar.any():
                scale = np.where(self._believed(pool_liar, disc), cfg.faults.false_pool_factor, 1.0)
            if down.any():
                penalty, up = np.where(down, math.inf, 0.0), ~down
        report_ok = reported <= cfg.max_reported_qber
        if not report_ok.all():
            scale = report_ok.astype(float) if scale is None else scale * report_ok
        if self._qber_shift is None:
            self._qber_shift = qber.mean(axis=0)
        d = qber - self._qber_shift
        view = _SlotView(
            bits=bits,
            qber_d_sum=d.sum(axis=0),
            qber_d2_sum=(d * d).sum(axis=0),
            reported_sum=reported.sum(axis=0),
            scale=scale,
            penalty=penalty,
            up=up,
        )
        self._view = view
        self._view_codes = None if codes is None else codes.copy()
        self._view_ctl = ctl
        self._last_key = key
        self._last_reported = reported
        return view

    def _believed(
        self, liar: NDArray[np.bool_], discounted: NDArray[np.bool_] | None
    ) -> NDArray[np.bool_]:
        """(B, L): links whose false report (by a ``liar`` endpoint) the control plane uses.

        Without discounted nodes a link's report is false if either endpoint lies. A
        discounted endpoint's report is ignored, unless both endpoints are discounted.
        """
        t = self.table
        lu, lv = liar[:, t.u], liar[:, t.v]
        if discounted is None:
            return lu | lv
        du, dv = discounted[:, t.u], discounted[:, t.v]
        both = du & dv
        return (lu & (~du | both)) | (lv & (~dv | both))

    def _generate(self, codes: NDArray[np.int64] | None) -> None:
        """Add this slot's key to the pools (whole bits; overflow wasted) and count QBER."""
        cfg = self.config
        view = self._slot_view(codes)
        bits = view.bits
        if cfg.faults.link_cuts:
            bits = np.where(self.faults.link_cut_mask(self.table, self.slot), 0.0, bits)
        self._carry += bits
        whole = np.floor(self._carry)
        self._carry -= whole
        self._generated += whole
        self.pools += whole
        over = np.maximum(self.pools - self.capacity_bits, 0.0)
        self._wasted += over
        self.pools -= over
        self._generated_t[self.slot] = whole.sum() / cfg.batch_size
        self._qber_sum += view.qber_d_sum
        self._qber_sumsq += view.qber_d2_sum
        self._reported_qber_sum += view.reported_sum

    def _enqueue(self) -> None:
        """Append this slot's arrivals to the queues (oldest first); count rejections."""
        cfg = self.config
        batch = self.demand.sample(self._rng_demand, self.slot)
        if not batch.valid.any():
            return
        np.add.at(self._arrived, (np.nonzero(batch.valid)[0], batch.pair[batch.valid]), 1)
        bits = (
            batch.size_bits if cfg.key_bits is None else np.full_like(batch.size_bits, cfg.key_bits)
        )
        valid = np.concatenate([self.queue_valid, batch.valid], axis=1)
        order = np.argsort(~valid, axis=1, kind="stable")
        q = cfg.max_queue

        def merged(old: NDArray[np.int64], new: NDArray[np.int64]) -> NDArray[np.int64]:
            return np.take_along_axis(np.concatenate([old, new], axis=1), order, axis=1)

        pair = merged(self.queue_pair, batch.pair)
        valid_sorted = np.take_along_axis(valid, order, axis=1)
        overflow = valid_sorted[:, q:]
        if overflow.any():
            r, c = np.nonzero(overflow)
            np.add.at(self._rejected, (r, pair[:, q:][r, c]), 1)
        self.queue_valid = valid_sorted[:, :q]
        self.queue_pair = pair[:, :q]
        self.queue_bits = merged(self.queue_bits, bits)[:, :q]
        self.queue_arrival = merged(self.queue_arrival, batch.arrival)[:, :q]
        self.queue_deadline = merged(self.queue_deadline, batch.deadline)[:, :q]

    def _expire(self) -> None:
        late = self.queue_valid & (self.queue_deadline < self.slot)
        if late.any():
            r, c = np.nonzero(late)
            np.add.at(self._expired, (r, self.queue_pair[r, c]), 1)
            self.queue_valid &= ~late

    def _serve(self, codes: NDArray[np.int64] | None) -> None:
        """Serve the queues oldest first (loop over queue positions, vectorised over copies).

        The paths of every waiting request are chosen at once, on the pools reported at the
        start of the slot (what the control plane knows), for all (B, Q) queue entries. The
        key is then charged on the true pools in queue order, all or nothing per request: a
        loop over the occupied queue positions, each step a gather, a comparison and a
        subtraction over the copies.
        """
        cfg = self.config
        cols = np.flatnonzero(self.queue_valid.any(axis=0))
        if cols.size == 0:
            return
        view = self._view
        assert view is not None
        scale, penalty, up = view.scale, view.penalty, view.up
        valid = self.queue_valid[:, cols]  # the occupied queue positions, in order
        pair_all = np.where(valid, self.queue_pair[:, cols], 0)
        bits_all = (self.queue_bits[:, cols] + self._tag_bits).astype(float)
        if up is not None:
            ends = self.paths.pairs[pair_all]  # (B, Q, 2)
            copy = np.arange(valid.shape[0])[:, None]
            valid = valid & up[copy, ends[..., 0]] & up[copy, ends[..., 1]]
            if not valid.any():
                return
        view = self.pools if scale is None else self.pools * scale
        ctl = self._controls
        if ctl is not None and ctl.node_penalty is not None:
            penalty = ctl.node_penalty if penalty is None else penalty + ctl.node_penalty
        if ctl is None or ctl.path_penalty is None:
            choice = select_paths(
                view,
                self.paths,
                pair_all,
                n=cfg.paths_per_request,
                node_penalty=penalty,
                min_capacity=np.where(valid, bits_all, 0.0),
            )
        else:
            ranked = select_paths(
                view,
                self.paths,
                pair_all,
                n=self.paths.k,
                node_penalty=penalty,
                min_capacity=np.where(valid, bits_all, 0.0),
            )
            choice = _rerank(ranked, ctl.path_penalty, pair_all, cfg.paths_per_request)
        live = valid & choice.valid.all(axis=-1)
        if not live.any():
            return
        b, n_links = self.pools.shape
        # Link indices of all hops of all paths of each entry; padding reads a bottomless pool.
        hop_links = np.where(choice.links < 0, n_links, choice.links).reshape(*live.shape, -1)
        pools = np.concatenate([self.pools, np.full((b, 1), math.inf)], axis=1)
        served = np.zeros_like(live)
        for q in np.flatnonzero(live.any(axis=0)).tolist():
            rows = np.flatnonzero(live[:, q])
            idx = hop_links[rows, q]  # (R, M): the links of one request are distinct
            need = bits_all[rows, q]
            fits = (pools[rows[:, None], idx] >= need[:, None]).all(axis=1)
            if not fits.any():
                continue
            rows, idx, need = rows[fits], idx[fits], need[fits]
            pools[rows[:, None], idx] -= need[:, None]
            served[rows, q] = True
        if not served.any():
            return
        after = pools[:, :n_links]
        assert after.min() >= 0.0, "a key pool went negative"
        self._consumed += self.pools - after
        self.pools = np.ascontiguousarray(after)
        rows, j = np.nonzero(served)
        self.queue_valid[rows, cols[j]] = False
        self._settle(rows, cols[j], choice.nodes[rows, j], choice.hops[rows, j], codes)

    # -----------------------------------------------------------------------------------------
    # outcomes
    # -----------------------------------------------------------------------------------------

    def _settle(
        self,
        rows: NDArray[np.int64],
        q: NDArray[np.int64],
        nodes: NDArray[np.int64],
        hops: NDArray[np.int64],
        codes: NDArray[np.int64] | None,
    ) -> None:
        """Decide and count the outcomes of the requests served at queue entries (rows, q).

        ``nodes`` (S, n, H + 1) and ``hops`` (S, n) describe the paths each one used.
        """
        cfg = self.config
        s = self.slot
        n_req = cfg.paths_per_request
        pair = self.queue_pair[rows, q]
        key_bits = self.queue_bits[rows, q]
        deadline = self.queue_deadline[rows, q]
        np.add.at(self._relayed, rows, (key_bits + self._tag_bits) * hops.sum(axis=-1))
        n_rows = rows.size
        flippers = np.zeros((n_rows, n_req), dtype=np.int64)
        dropped = np.zeros((n_rows, n_req), dtype=bool)
        delayed = np.zeros((n_rows, n_req), dtype=bool)
        leaked = np.zeros((n_rows, n_req), dtype=bool)
        first_flip = np.zeros((n_rows, n_req), dtype=np.int64)
        if codes is not None:
            pos = np.arange(nodes.shape[-1])
            relay = (pos >= 1) & (pos < hops[..., None])
            idx = np.where(relay, nodes, 0).reshape(n_rows, -1)
            on_path = np.take_along_axis(codes[rows], idx, axis=1).reshape(nodes.shape)
            on_path = np.where(relay, on_path, 0)
            flip_at = (on_path & _FLIP) != 0
            flippers = flip_at.sum(axis=-1)
            first_flip = flip_at.argmax(axis=-1)
            dropped = ((on_path & _DROP) != 0).any(axis=-1)
            delayed = ((on_path & _DELAY) != 0).any(axis=-1)
            leaked = ((on_path & _LEAK) != 0).any(axis=-1)
        arrive = s + np.where(delayed, cfg.faults.delay_slots, 0)
        late = ~dropped & delayed & (arrive > deadline[:, None])
        received = ~(dropped | late)

        # Corruption pattern (bytes of each relayed key or share), drawn from the attack stream
        # in both modes, in chunks of at most _MAX_DRAWS uniforms.
        n_bytes = -(-key_bits // 8) + (TAG_BYTES if self._multi else 0)
        p_path = _path_flip_probability(cfg.faults.flip_probability, flippers)
        p_byte = 1.0 - (1.0 - p_path) ** 8
        hit_rows = np.flatnonzero(((p_byte > 0) & received).any(axis=-1))
        fmax = np.zeros(n_rows, dtype=np.int64)  # most corrupted shares in one byte
        flipped = np.zeros(n_rows, dtype=np.int64)  # shares (or keys) with a corrupted byte
        share_bad = np.zeros((n_rows, n_req), dtype=bool)  # received with a corrupted byte
        corrupt: dict[int, NDArray[np.bool_]] = {}
        if hit_rows.size:
            chunk = max(1, _MAX_DRAWS // (n_req * int(n_bytes[hit_rows].max())))
            for start in range(0, hit_rows.size, chunk):
                rr = hit_rows[start : start + chunk]
                width = int(n_bytes[rr].max())
                u = self._rng_attack.random((rr.size, n_req, width))
                pattern = u < p_byte[rr, :, None]
                pattern &= np.arange(width) < n_bytes[rr, None, None]
                pattern &= received[rr, :, None]
                fmax[rr] = pattern.sum(axis=1).max(axis=-1)
                share_bad[rr] = pattern.any(axis=-1)
                flipped[rr] = share_bad[rr].sum(axis=-1)
                if cfg.byte_level:  # the byte-level loop needs each request's pattern
                    for i, r in enumerate(rr.tolist()):
                        corrupt[r] = pattern[i, :, : n_bytes[r]]

        # Decoding bound (fast accounting).
        m = received.sum(axis=-1)
        if not self._multi:
            outcome = np.where(
                dropped[:, 0],
                Outcome.FAILED,
                np.where(late[:, 0], Outcome.LATE, np.where(fmax > 0, Outcome.WRONG, Outcome.OK)),
            )
        else:
            t = self._t
            radius = np.where(m >= t, (m - t) // 2, -1)
            decodes = (m >= t) & (fmax <= radius)
            outcome = np.where(
                decodes, np.where(fmax > 0, Outcome.CORRECTED, Outcome.OK), Outcome.FAILED
            )
        outcome = outcome.astype(np.int64)
        if cfg.byte_level:
            truth = self._byte_level(
                key_bits, nodes, hops, received, dropped, late, first_flip, p_path, corrupt
            )
            self._mismatches += int((truth != outcome).sum())
            outcome = truth

        self.last_deliveries = Deliveries(
            copy=rows,
            pair=pair,
            outcome=outcome,
            key_bits=key_bits,
            nodes=nodes,
            hops=hops,
            share_ok=received & ~share_bad,
        )
        exposed = leaked.sum(axis=-1) >= self._t
        correct = (outcome == Outcome.OK) | (outcome == Outcome.CORRECTED)
        copies = rows
        np.add.at(self._outcomes, (copies, pair, outcome), 1)
        np.add.at(self._exposed, (copies, pair), exposed.astype(np.int64))
        np.add.at(self._delivered, (copies, pair), np.where(correct, key_bits, 0))
        secure_bits = np.where(correct & ~exposed, key_bits, 0)
        np.add.at(self._secure, (copies, pair), secure_bits)
        self._secure_t[s] += secure_bits.sum() / cfg.batch_size
        if self._events is not None:
            # Receiver's last arrival; a multipath receiver missing late shares waits until
            # the deadline, a late single-path key arrives after it (outcome LATE).
            done = np.where(dropped, s, arrive).max(axis=-1)
            if self._multi:
                done = np.where(late.any(axis=-1), deadline, done)
            self._events.append(
                {
                    "copy": copies.copy(),
                    "pair": pair,
                    "arrival": self.queue_arrival[rows, q],
                    "deadline": deadline,
                    "served_slot": np.full(n_rows, s, dtype=np.int64),
                    "done_slot": done,
                    "bits": key_bits,
                    "paths": np.full(n_rows, n_req, dtype=np.int64),
                    "consumed_bits": (key_bits + self._tag_bits) * hops.sum(axis=-1),
                    "outcome": outcome,
                    "exposed": exposed,
                    "flipped": flipped,
                    "lost": (~received).sum(axis=-1),
                }
            )

    def _byte_level(
        self,
        key_bits: NDArray[np.int64],
        nodes: NDArray[np.int64],
        hops: NDArray[np.int64],
        received: NDArray[np.bool_],
        dropped: NDArray[np.bool_],
        late: NDArray[np.bool_],
        first_flip: NDArray[np.int64],
        p_path: NDArray[np.float64],
        corrupt: dict[int, NDArray[np.bool_]],
    ) -> NDArray[np.int64]:
        """Outcome of each served request from real key bytes (a loop over served requests)."""
        rng = self._rng_bytes
        n_req = received.shape[1]
        out = np.empty(key_bits.size, dtype=np.int64)
        for r in range(key_bits.size):
            n_bytes = -(-int(key_bits[r]) // 8)
            key = rng.integers(0, 256, n_bytes, dtype=np.uint8)
            masks = np.zeros((n_req, n_bytes + (TAG_BYTES if self._multi else 0)), dtype=np.uint8)
            if r in corrupt:
                for j in np.flatnonzero(corrupt[r].any(axis=-1)).tolist():
                    where = corrupt[r][j]
                    pmf = _mask_byte_pmf(float(p_path[r, j]))
                    masks[j, where] = 1 + rng.choice(255, size=int(where.sum()), p=pmf)
            if not self._multi:
                if dropped[r, 0]:
                    out[r] = Outcome.FAILED
                    continue
                if late[r, 0]:
                    out[r] = Outcome.LATE
                    continue
                n_hops = int(hops[r, 0])
                pads = rng.integers(0, 256, (n_hops, n_bytes), dtype=np.uint8)
                tamper = np.zeros((n_hops, n_bytes), dtype=np.uint8)
                if masks[0].any():
                    tamper[int(first_flip[r, 0])] = masks[0]
                got = relay_hop_by_hop(key, pads, tamper).key
                out[r] = Outcome.OK if np.array_equal(got, key) else Outcome.WRONG
                continue
            auth = rng.integers(0, 256, AUTH_KEY_BYTES, dtype=np.uint8)
            shares = send_multipath(key, self._t, n_req, auth, rng, corrupt=masks)
            keep = np.flatnonzero(received[r])
            if keep.size < self._t:
                out[r] = Outcome.FAILED
                continue
            res = receive_multipath(shares[keep], self._t, auth, xs=keep + 1)
            if res.status == "failed" or res.key is None:
                out[r] = Outcome.FAILED
            elif not np.array_equal(res.key, key):
                out[r] = Outcome.WRONG
            else:
                out[r] = Outcome.CORRECTED if res.status == "corrected" else Outcome.OK
        return out

    # -----------------------------------------------------------------------------------------
    # public
    # -----------------------------------------------------------------------------------------

    def step(self, controls: SlotControls | None = None) -> None:
        """Advance every copy by one slot.

        Parameters
        ----------
        controls : SlotControls or None, optional
            The controller's choices for this slot (default None: the uncontrolled network,
            exactly as before controls existed).

        Raises
        ------
        InvalidParameterError
            If every slot was simulated already, or a control has the wrong shape or range
            (the message names the field).
        """
        if self.slot >= self.config.slots:
            raise InvalidParameterError(
                f"NetworkSimulator.step: the run has {self.config.slots} slots (the 'slots' "
                "field of NetworkSimConfig), all simulated already."
            )
        self._controls = None if controls is None else self._check_controls(controls)
        self.last_deliveries = None
        codes = None if self._fault_free else self.faults.active_codes(self.slot)
        if codes is not None and not codes.any():
            codes = None
        self._generate(codes)
        self._last_conditions = self._conditions
        self._enqueue()
        self._expire()
        self._serve(codes)
        pools = self.pools
        self._pool_mean_t[self.slot] = pools.mean()
        if self._pool_link_t is not None:
            self._pool_link_t[self.slot] = pools.mean(axis=0)
        self._pool_sum += pools.sum(axis=0)
        self._pool_full += (pools >= self.capacity_bits).sum(axis=0)
        self.slot += 1

    def upcoming_conditions(self) -> LinkConditions:
        """Link conditions of the slot the next :meth:`step` simulates (arrays (B, L)).

        Draws them now if they were not drawn yet (the draws are those :meth:`step` would
        make, so peeking changes no result). This is what an oracle with true channel
        knowledge sees; an agent sees only :attr:`link_slot` of past slots.
        """
        self._advance_conditions()
        return self._conditions

    @property
    def link_slot(self) -> LinkSlot | None:
        """Key, QBER, transmittance, intensity and protocol of every link in the last slot.

        True values (B, L), before crashes and scheduled cuts zero a link's key; None before
        the first slot.
        """
        return self._last_key

    @property
    def last_conditions(self) -> LinkConditions | None:
        """Link conditions (arrays (B, L)) of the last simulated slot; None before the first."""
        return self._last_conditions

    @property
    def reported_qber(self) -> NDArray[np.float64] | None:
        """(B, L) QBER of every link as the control plane saw it in the last slot."""
        return self._last_reported

    def copy_counters(self) -> dict[str, NDArray[Any]]:
        """Running totals per copy since the start (arrays of shape (B,), outcomes (B, 5)).

        Keys: ``arrived``, ``rejected``, ``expired``, ``exposed`` (requests),
        ``outcomes`` (requests by :class:`Outcome` code), ``secure_bits``,
        ``delivered_bits``, ``generated_bits``, ``consumed_bits`` (in bits). Differences of
        two calls give what happened in between.
        """
        return {
            "arrived": self._arrived.sum(axis=1),
            "rejected": self._rejected.sum(axis=1),
            "expired": self._expired.sum(axis=1),
            "exposed": self._exposed.sum(axis=1),
            "outcomes": self._outcomes.sum(axis=1),
            "secure_bits": self._secure.sum(axis=1),
            "delivered_bits": self._delivered.sum(axis=1),
            "generated_bits": self._generated.sum(axis=1),
            "consumed_bits": self._consumed.sum(axis=1),
        }

    def _check_controls(self, controls: SlotControls) -> SlotControls:
        """Validate ``controls`` and broadcast its arrays (memoised for the same object)."""
        if self._checked is not None and self._checked[0] is controls:
            return self._checked[1]
        owner = "SlotControls"
        if not isinstance(controls, SlotControls):
            raise InvalidParameterError(
                f"The 'controls' parameter of NetworkSimulator.step must be a SlotControls or "
                f"None. Got {type(controls).__name__} instead."
            )
        b, n_links, n_nodes = self.config.batch_size, self.table.n_links, self.table.n_nodes
        levels = len(self.config.link.intensity_levels)

        def ints(name: str, value: Any, high: int) -> NDArray[np.int64]:
            arr = np.asarray(value)
            if arr.dtype.kind not in "iu" or (arr.size and (arr.min() < 0 or arr.max() > high)):
                raise InvalidParameterError(
                    f"The {name!r} field of {owner} must hold integers in the range "
                    f"[0, {high}]. Got {value!r} instead."
                )
            return _broadcast(name, arr.astype(np.int64, copy=False), (b, n_links))

        def floats(name: str, value: Any, shape: tuple[int, ...]) -> NDArray[np.float64]:
            arr = check_range(name, value, owner=owner, low=0.0, high=math.inf)
            return _broadcast(name, arr, shape)

        intensity = protocol = node_penalty = path_penalty = discounted = None
        if controls.intensity_index is not None:
            intensity = ints("intensity_index", controls.intensity_index, levels - 1)
        if controls.protocol is not None:
            protocol = ints("protocol", controls.protocol, PROTOCOL_MDI)
            bad = (protocol == PROTOCOL_MDI) & ~self.mdi_allowed
            if bad.any():
                link = int(np.argwhere(bad)[0, 1])
                raise InvalidParameterError(
                    f"The 'protocol' field of {owner} may be {PROTOCOL_MDI} (MDI-QKD) only on "
                    f"links that allow it (mdi_links={self.config.mdi_links!r}). Got MDI on "
                    f"link {link} instead."
                )
        if controls.node_penalty is not None:
            node_penalty = floats("node_penalty", controls.node_penalty, (b, n_nodes))
        if controls.path_penalty is not None:
            shape = (b, self.paths.n_pairs, self.paths.k)
            path_penalty = floats("path_penalty", controls.path_penalty, shape)
        if controls.discounted is not None:
            arr = np.asarray(controls.discounted)
            if arr.dtype != np.bool_:
                raise InvalidParameterError(
                    f"The 'discounted' field of {owner} must be a boolean array broadcastable to "
                    f"{(b, n_nodes)!r} (B, N). Got dtype {arr.dtype} instead."
                )
            discounted = _broadcast("discounted", arr, (b, n_nodes))
        checked = SlotControls(intensity, protocol, node_penalty, path_penalty, discounted)
        self._checked = (controls, checked)
        return checked

    def run(
        self, progress: Callable[[int], None] | None = None, *, every: int | None = None
    ) -> SimResult:
        """Simulate the remaining slots and return the result.

        Parameters
        ----------
        progress : callable or None, optional
            Called as ``progress(slots_done)`` every ``every`` slots and at the end.
        every : int or None, optional
            Slots between progress calls (default: about 200 calls per run).
        """
        total = self.config.slots
        every = max(1, total // 200) if every is None else max(1, int(every))
        while self.slot < total:
            self.step()
            if progress is not None and (self.slot % every == 0 or self.slot == total):
                progress(self.slot)
        return self.result()

    def result(self) -> SimResult:
        """A :class:`SimResult` of the slots simulated so far (at least one)."""
        cfg = self.config
        t = self.slot
        if t == 0:
            raise InvalidParameterError(
                "NetworkSimulator.result: no slot was simulated yet (call step or run first)."
            )
        b = cfg.batch_size
        n_samples = t * b
        nodes = self.table.nodes
        mean_d = self._qber_sum / n_samples
        shift = self._qber_shift if self._qber_shift is not None else 0.0
        pending = np.zeros_like(self._expired)
        if self.queue_valid.any():
            r, c = np.nonzero(self.queue_valid)
            np.add.at(pending, (r, self.queue_pair[r, c]), 1)
        events = None
        if self._events is not None:
            keys = (
                "copy", "pair", "arrival", "deadline", "served_slot", "done_slot", "bits",
                "paths", "consumed_bits", "outcome", "exposed", "flipped", "lost",
            )  # fmt: skip
            events = {
                k: np.concatenate([e[k] for e in self._events])
                if self._events
                else np.zeros(0, dtype=bool if k == "exposed" else np.int64)
                for k in keys
            }
        return SimResult(
            slots=t,
            batch_size=b,
            slot_s=float(cfg.link.slot_s),
            routing=cfg.routing,
            byte_level=cfg.byte_level,
            pool_capacity_bits=self.capacity_bits,
            pair_labels=tuple(f"{nodes[a]}-{nodes[c]}" for a, c in self.paths.pairs.tolist()),
            link_labels=tuple(
                f"{nodes[a]}-{nodes[c]}"
                for a, c in zip(self.table.u.tolist(), self.table.v.tolist(), strict=True)
            ),
            arrived=self._arrived.copy(),
            rejected=self._rejected.copy(),
            demand_overflow=np.asarray(self.demand.dropped, dtype=np.int64).copy(),
            outcomes=self._outcomes.copy(),
            expired=self._expired.copy(),
            pending=pending,
            exposed=self._exposed.copy(),
            delivered_bits=self._delivered.copy(),
            secure_bits=self._secure.copy(),
            generated_bits=self._generated.copy(),
            wasted_bits=self._wasted.copy(),
            consumed_bits=self._consumed.copy(),
            initial_pool_bits=self._initial_pools.copy(),
            final_pool_bits=self.pools.copy(),
            relayed_bits=self._relayed.copy(),
            qber_mean=shift + mean_d,
            qber_var=np.maximum(self._qber_sumsq / n_samples - mean_d**2, 0.0),
            reported_qber_mean=self._reported_qber_sum / n_samples,
            pool_mean_link=self._pool_sum / n_samples,
            pool_full_fraction=self._pool_full / n_samples,
            pool_mean_t=self._pool_mean_t[:t].copy(),
            pool_link_t=None if self._pool_link_t is None else self._pool_link_t[:t].copy(),
            generated_bits_t=self._generated_t[:t].copy(),
            secure_bits_t=self._secure_t[:t].copy(),
            byte_level_mismatches=self._mismatches,
            events=events,
        )


def simulate(
    config: NetworkSimConfig,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> SimResult:
    """Build a :class:`NetworkSimulator` and run all ``config.slots`` slots.

    Parameters
    ----------
    config : NetworkSimConfig
        The run's configuration.
    seed : int
        The run's seed, in ``[0, inf)``; same config and seed give the same result.
    progress : callable or None, optional
        ``progress(slots_done)``, called about 200 times (see :meth:`NetworkSimulator.run`).

    Returns
    -------
    result : SimResult
        Counters, per-link statistics and time series; ``result.summary()`` gives the metrics.
    """
    return NetworkSimulator(config, seed).run(progress)
