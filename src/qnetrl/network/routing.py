"""Candidate relay paths between end-node pairs, key-pool-aware path choice and key consumption.

:func:`build_path_table` computes once, with networkx, up to ``k`` candidate paths for every
demand pair (the ``k`` shortest simple paths, or up to ``k`` node-disjoint paths for multi-path
secret sharing) and stores them as padded integer arrays in a :class:`PathTable`. Everything
that runs per slot is then vectorised over the batch of B copies: :func:`path_capacity`
gathers the smallest key pool along every path, :func:`select_paths` picks the cheapest paths
of each request under a pool-aware cost with optional per-node penalties (used to avoid
low-trust relays), and :func:`trusted_relay_consume` charges one-time-pad key on every hop of
the chosen paths, refusing any transfer a pool cannot cover, so pools never go negative and
the key consumed is exactly ``bits * hops`` (:func:`path_consumption`).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from itertools import islice, pairwise
from typing import Any, Final, Literal

import networkx as nx
import numpy as np
from numpy.typing import ArrayLike, NDArray

from qnetrl._validation import InvalidParameterError, check_choice, check_range
from qnetrl.network.link_model import LinkTable
from qnetrl.network.topology import Topology

__all__ = [
    "PATH_METHODS",
    "PathChoice",
    "PathTable",
    "build_path_table",
    "path_capacity",
    "path_consumption",
    "select_paths",
    "trusted_relay_consume",
]

#: Path-finding methods of :func:`build_path_table`.
PATH_METHODS: Final[tuple[str, ...]] = ("shortest", "disjoint")


# ---------------------------------------------------------------------------------------------
# Path table
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PathTable:
    """Up to ``k`` candidate paths for each of P node pairs, as padded arrays (read-only).

    Paths of a pair are ordered by fibre length (shortest first); entries beyond
    ``n_paths[p]`` are absent paths, filled with ``-1`` (indices), 0 (hops) and ``inf``
    (length).

    Attributes
    ----------
    pairs : ndarray of shape (P, 2), dtype int64
        Source and destination node index of each pair.
    links : ndarray of shape (P, k, H), dtype int64
        Link indices (into the :class:`~qnetrl.network.link_model.LinkTable`) along each path
        from source to destination, padded with -1; H is the most hops of any path (>= 1).
    nodes : ndarray of shape (P, k, H + 1), dtype int64
        Node indices along each path, padded with -1. ``nodes[p, j, 0]`` is the source and
        ``nodes[p, j, hops[p, j]]`` the destination; the intermediate (relay) nodes are
        ``nodes[p, j, 1:hops[p, j]]``.
    n_paths : ndarray of shape (P,), dtype int64
        Number of paths found, in ``[0, k]``; fewer than ``k`` when the graph has fewer.
    hops : ndarray of shape (P, k), dtype int64
        Number of links of each path (0 for absent paths).
    length_km : ndarray of shape (P, k)
        Fibre length of each path (in km; ``inf`` for absent paths).
    valid : ndarray of shape (P, k), dtype bool
        True for paths that exist (``j < n_paths[p]``).
    k : int
        Paths asked for per pair.
    method : {"shortest", "disjoint"}
        How the paths were found (see :func:`build_path_table`).
    n_nodes : int
        Number of nodes N of the topology.
    n_links : int
        Number of links L of the topology.
    """

    pairs: NDArray[np.int64]
    links: NDArray[np.int64]
    nodes: NDArray[np.int64]
    n_paths: NDArray[np.int64]
    hops: NDArray[np.int64]
    length_km: NDArray[np.float64]
    valid: NDArray[np.bool_]
    k: int
    method: str
    n_nodes: int
    n_links: int

    @property
    def n_pairs(self) -> int:
        """Number of pairs P."""
        return int(self.pairs.shape[0])

    @property
    def max_hops(self) -> int:
        """Padded path length H (in links)."""
        return int(self.links.shape[-1])


def _check_int(name: str, value: Any, *, owner: str, low: int) -> int:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= low
    if not ok:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be an int in the range [{low}, inf). "
            f"Got {value!r} instead."
        )
    return int(value)


def _check_pairs(pairs: ArrayLike, n_nodes: int, owner: str) -> NDArray[np.int64]:
    arr = np.asarray(pairs)
    if arr.dtype.kind not in "iu" or arr.ndim != 2 or arr.shape[1] != 2:
        raise InvalidParameterError(
            f"The 'pairs' parameter of {owner} must be an integer array of shape (P, 2) of node "
            f"indices. Got {'shape ' + repr(arr.shape) if arr.dtype.kind in 'iu' else arr.dtype}"
            " instead."
        )
    if arr.size and (arr.min() < 0 or arr.max() >= n_nodes):
        bad = arr[(arr < 0) | (arr >= n_nodes)].flat[0]
        raise InvalidParameterError(
            f"The 'pairs' parameter of {owner} must hold node indices in the range "
            f"[0, {n_nodes - 1}]. Got {int(bad)} instead."
        )
    same = arr[:, 0] == arr[:, 1]
    if same.any():
        raise InvalidParameterError(
            f"The 'pairs' parameter of {owner} must join two distinct nodes. Got "
            f"{arr[same][0].tolist()!r} at row {int(np.argmax(same))} instead."
        )
    return arr.astype(np.int64)


def _path_length(graph: nx.Graph, path: Sequence[Hashable]) -> float:
    return float(sum(graph.edges[a, b][Topology.LENGTH_KM] for a, b in pairwise(path)))


def _find_paths(
    graph: nx.Graph, s: Hashable, t: Hashable, k: int, method: str
) -> list[list[Hashable]]:
    """Up to ``k`` paths from ``s`` to ``t`` (node ids), in the order of the docstring."""
    try:
        shortest = islice(nx.shortest_simple_paths(graph, s, t, weight=Topology.LENGTH_KM), k)
        if method == "shortest" or k == 1:
            return [list(p) for p in shortest]
        return [list(p) for p in nx.node_disjoint_paths(graph, s, t)]
    except nx.NetworkXNoPath:
        return []


def build_path_table(
    graph: nx.Graph,
    table: LinkTable,
    pairs: ArrayLike,
    *,
    k: int = 1,
    method: Literal["shortest", "disjoint"] = "shortest",
) -> PathTable:
    """Candidate paths for every node pair, stored as padded arrays.

    Parameters
    ----------
    graph : networkx.Graph
        The topology ``table`` was built from (same nodes and links, same order).
    table : LinkTable
        Link table of ``graph`` (:func:`~qnetrl.network.link_model.link_table`).
    pairs : array_like of int, shape (P,  2)
        Source and destination node indices (into ``table.nodes``), distinct per row.
    k : int, optional
        Largest number of paths per pair, in ``[1, inf)`` (default 1).
    method : {"shortest", "disjoint"}, optional
        ``"shortest"`` (default): the ``k`` shortest simple paths by fibre length (Yen's
        algorithm, ``networkx.shortest_simple_paths``); they may share relays. ``"disjoint"``:
        up to ``k`` node-disjoint paths (no shared intermediate node) from
        ``networkx.node_disjoint_paths``, a maximum set by Menger's theorem, of which the ``k``
        shortest are kept; for ``k = 1`` this is the shortest path.

    Returns
    -------
    table : PathTable
        Paths of each pair ordered by fibre length, ties by hop count then node indices.

    Raises
    ------
    InvalidParameterError
        If ``graph`` and ``table`` differ, ``pairs`` is not a (P, 2) array of distinct node
        indices, ``k`` < 1, or ``method`` is unknown.

    Notes
    -----
    Nodes with ``role="end"`` source and sink keys but never relay them: a path passes only
    through trusted nodes besides its own two ends. Pairs that this or the topology leaves
    unconnected get no path (``n_paths`` 0). The search runs once per pair
    with networkx; it is set-up work, not a per-slot hot path. A maximum set of node-disjoint
    paths is not the set of smallest total length; with ``k`` below the maximum the kept
    paths are the shortest of that set.

    Examples
    --------
    >>> from qnetrl.network.link_model import link_table
    >>> from qnetrl.network.topology import ring
    >>> g = ring(6)
    >>> pt = build_path_table(g, link_table(g), [[0, 3]], k=2, method="disjoint")
    >>> pt.n_paths.tolist(), pt.hops.tolist(), pt.nodes[0, 0].tolist()
    ([2], [[3, 3]], [0, 1, 2, 3])
    """
    owner = "build_path_table"
    if not isinstance(table, LinkTable):
        raise InvalidParameterError(
            f"The 'table' parameter of {owner} must be a LinkTable. "
            f"Got {type(table).__name__} instead."
        )
    if not isinstance(graph, nx.Graph) or tuple(graph.nodes) != table.nodes:
        raise InvalidParameterError(
            f"The 'graph' parameter of {owner} must be the topology the link table was built "
            "from (same nodes in the same order)."
        )
    if graph.number_of_edges() != table.n_links or any(
        table.edge_index.get((a, b)) != i for i, (a, b) in enumerate(graph.edges)
    ):
        raise InvalidParameterError(
            f"The 'graph' parameter of {owner} must be the topology the link table was built "
            "from (same links in the same order)."
        )
    k = _check_int("k", k, owner=owner, low=1)
    check_choice("method", method, PATH_METHODS, owner=owner)
    pair_arr = _check_pairs(pairs, table.n_nodes, owner)

    ends = {n for n, role in graph.nodes(data=Topology.ROLE) if role == "end"}
    found: list[list[list[int]]] = []
    for s, t in pair_arr.tolist():
        src, dst = table.nodes[s], table.nodes[t]
        view = nx.restricted_view(graph, ends - {src, dst}, []) if ends else graph
        paths = _find_paths(view, src, dst, k, method)
        keyed = []
        for p in paths:
            idx = [table.node_index[x] for x in p]
            keyed.append((_path_length(graph, p), len(p), idx))
        keyed.sort(key=lambda item: (item[0], item[1], item[2]))
        found.append([idx for *_, idx in keyed[:k]])

    n_pairs = pair_arr.shape[0]
    h = max([len(p) - 1 for paths in found for p in paths], default=1)
    links = np.full((n_pairs, k, h), -1, dtype=np.int64)
    nodes = np.full((n_pairs, k, h + 1), -1, dtype=np.int64)
    hops = np.zeros((n_pairs, k), dtype=np.int64)
    length = np.full((n_pairs, k), math.inf)
    n_paths = np.array([len(paths) for paths in found], dtype=np.int64)
    for i, paths in enumerate(found):
        for j, p in enumerate(paths):
            ids = [table.nodes[x] for x in p]
            nodes[i, j, : len(p)] = p
            links[i, j, : len(p) - 1] = [table.edge_index[e] for e in pairwise(ids)]
            hops[i, j] = len(p) - 1
            length[i, j] = float(table.length_km[links[i, j, : len(p) - 1]].sum())
    valid = np.arange(k)[None, :] < n_paths[:, None]
    for arr in (pair_arr, links, nodes, n_paths, hops, length, valid):
        arr.flags.writeable = False
    return PathTable(
        pairs=pair_arr,
        links=links,
        nodes=nodes,
        n_paths=n_paths,
        hops=hops,
        length_km=length,
        valid=valid,
        k=k,
        method=method,
        n_nodes=table.n_nodes,
        n_links=table.n_links,
    )


# ---------------------------------------------------------------------------------------------
# Per-slot operations
# ---------------------------------------------------------------------------------------------


def _check_pools(pools: Any, n_links: int, owner: str) -> NDArray[np.float64]:
    arr = np.asarray(pools)
    if arr.ndim != 2 or arr.shape[1] != n_links:
        raise InvalidParameterError(
            f"The 'pools' parameter of {owner} must be an array of shape (B, L) with "
            f"L = {n_links}. Got shape {arr.shape!r} instead."
        )
    check_range("pools", arr, owner=owner, low=0.0)
    return arr


def _gather_min(pools: NDArray[np.float64], links: NDArray[np.int64]) -> NDArray[np.float64]:
    """Smallest pool along each path of ``links`` (..., H), for every copy: (B, ...).

    Padding entries (-1) read ``+inf``; a path with no link gives ``inf``.
    """
    b, n_links = pools.shape
    ext = np.concatenate([pools.astype(np.float64, copy=False), np.full((b, 1), math.inf)], 1)
    return ext[:, np.where(links < 0, n_links, links)].min(axis=-1)


def path_capacity(pools: ArrayLike, path_table: PathTable) -> NDArray[np.float64]:
    """Key available on every candidate path: the smallest pool along it.

    Parameters
    ----------
    pools : array_like of shape (B, L)
        Key pool of every link (in bits, at least 0).
    path_table : PathTable
        Candidate paths, from :func:`build_path_table`.

    Returns
    -------
    capacity : ndarray of shape (B, P, k)
        ``min`` of ``pools`` over the links of each path (in bits); 0 for absent paths.

    Raises
    ------
    InvalidParameterError
        If ``pools`` is not (B, L) with non-negative entries, or ``path_table`` has the wrong
        type.

    Notes
    -----
    A trusted-relay path forwards a key of ``n`` bits only if every hop holds ``n`` bits of
    one-time pad, so its capacity is the bottleneck pool. One vectorised gather: padding
    entries read ``+inf`` and do not lower the minimum.

    Examples
    --------
    >>> from qnetrl.network.link_model import link_table
    >>> from qnetrl.network.topology import ring
    >>> g = ring(4)
    >>> pt = build_path_table(g, link_table(g), [[0, 2]], k=2, method="disjoint")
    >>> list(g.edges)  # link order
    [(0, 1), (0, 3), (1, 2), (2, 3)]
    >>> pt.nodes[0].tolist()
    [[0, 1, 2], [0, 3, 2]]
    >>> path_capacity([[5.0, 1.0, 7.0, 3.0]], pt).tolist()
    [[[5.0, 1.0]]]
    """
    owner = "path_capacity"
    _check_table(path_table, owner)
    p = _check_pools(pools, path_table.n_links, owner)
    cap = _gather_min(p, path_table.links)
    return np.where(path_table.valid, cap, 0.0)


def _check_table(path_table: Any, owner: str) -> None:
    if not isinstance(path_table, PathTable):
        raise InvalidParameterError(
            f"The 'path_table' parameter of {owner} must be a PathTable (see build_path_table). "
            f"Got {type(path_table).__name__} instead."
        )


@dataclass(frozen=True, slots=True)
class PathChoice:
    """Paths chosen by :func:`select_paths` for requests of shape (B, *S).

    Entries of unchosen slots (fewer usable paths than asked) have ``valid`` false, index and
    link/node entries -1, cost ``inf``, capacity 0 and hops 0.

    Attributes
    ----------
    path : ndarray of shape (B, *S, n), dtype int64
        Index of the chosen path among the pair's candidates (``PathTable`` axis k),
        cheapest first.
    valid : ndarray of shape (B, *S, n), dtype bool
        True where a usable path was chosen.
    cost : ndarray of shape (B, *S, n)
        Its cost (see :func:`select_paths`).
    capacity : ndarray of shape (B, *S, n)
        Its bottleneck pool (in bits).
    hops : ndarray of shape (B, *S, n), dtype int64
        Its number of links.
    links : ndarray of shape (B, *S, n, H), dtype int64
        Its link indices, padded with -1 (pass to :func:`trusted_relay_consume`).
    nodes : ndarray of shape (B, *S, n, H + 1), dtype int64
        Its node indices, padded with -1.
    """

    path: NDArray[np.int64]
    valid: NDArray[np.bool_]
    cost: NDArray[np.float64]
    capacity: NDArray[np.float64]
    hops: NDArray[np.int64]
    links: NDArray[np.int64]
    nodes: NDArray[np.int64]


def _relay_mask(nodes: NDArray[np.int64]) -> NDArray[np.bool_]:
    """True at the intermediate positions of padded node sequences ``(..., H + 1)``."""
    n_valid = (nodes >= 0).sum(axis=-1, keepdims=True)
    pos = np.arange(nodes.shape[-1])
    return (pos >= 1) & (pos < n_valid - 1)


def select_paths(
    pools: ArrayLike,
    path_table: PathTable,
    pair: ArrayLike,
    *,
    n: int = 1,
    node_penalty: ArrayLike | None = None,
    min_capacity: ArrayLike | None = None,
    hop_cost: float = 0.0,
) -> PathChoice:
    r"""Choose the ``n`` cheapest candidate paths of each request under a key-pool-aware cost.

    Parameters
    ----------
    pools : array_like of shape (B, L)
        Key pool of every link (in bits, at least 0).
    path_table : PathTable
        Candidate paths, from :func:`build_path_table`.
    pair : array_like of int, shape (B,) or (B, *S)
        Row of ``path_table`` (pair index) of each request of each copy.
    n : int, optional
        Paths to choose per request, in ``[1, k]`` (default 1); more than one for multi-path
        forwarding.
    node_penalty : array_like of shape (B, N) or (N,), or None, optional
        Extra cost of routing through each node as a relay (dimensionless, in [0, inf];
        ``inf`` forbids the node; default None: no penalty). End nodes of a request are never
        charged. Meant for trust scores from the consensus layer.
    min_capacity : array_like broadcastable to (B, *S), or None, optional
        Bits each chosen path must be able to carry (in bits, at least 0); paths with a
        smaller bottleneck pool are not chosen (default None: no requirement).
    hop_cost : float, optional
        Cost added per hop (dimensionless, at least 0, default 0.0), to prefer short paths.

    Returns
    -------
    choice : PathChoice
        The chosen paths, cheapest first, with their cost, capacity, hops, links and nodes.

    Raises
    ------
    InvalidParameterError
        If an argument has the wrong shape or lies outside its range.

    Notes
    -----
    The cost of path :math:`\pi` in copy :math:`b` is

    .. math::

        c_b(\pi) = \sum_{l \in \pi} \Bigl(\frac{1}{P_{b,l} + 1} + c_\mathrm{hop}\Bigr)
            + \sum_{v \in \mathrm{relays}(\pi)} w_{b,v},

    with :math:`P_{b,l}` the pool of link :math:`l` (in bits) and :math:`w` the node
    penalty: a hop with an empty pool costs 1, a hop with a large pool almost nothing, so
    traffic is steered to well-stocked links, in the spirit of the key-pool-aware routing
    metrics of QKD networks. Absent paths, paths through a node of infinite penalty and
    paths below ``min_capacity`` cost ``inf`` and are never chosen. Ties go to the earlier
    (shorter) candidate. All of it is one gather and one sort over (B, *S, k).

    Examples
    --------
    On a ring of 6 the two paths from node 0 to node 3 tie; a penalty on node 1 steers the
    choice to the path through nodes 5 and 4:

    >>> from qnetrl.network.link_model import link_table
    >>> from qnetrl.network.topology import ring
    >>> g = ring(6)
    >>> pt = build_path_table(g, link_table(g), [[0, 3]], k=2, method="disjoint")
    >>> pools = np.full((1, 6), 100.0)
    >>> penalty = np.zeros((1, 6)); penalty[0, 1] = 1.0
    >>> select_paths(pools, pt, [0], node_penalty=penalty).nodes[0, 0].tolist()
    [0, 5, 4, 3]
    """
    owner = "select_paths"
    _check_table(path_table, owner)
    p = _check_pools(pools, path_table.n_links, owner)
    b = p.shape[0]
    n = _check_int("n", n, owner=owner, low=1)
    if n > path_table.k:
        raise InvalidParameterError(
            f"The 'n' parameter of {owner} must be an int in the range [1, {path_table.k}] "
            f"(at most the k paths of the table). Got {n} instead."
        )
    pair_arr = np.asarray(pair)
    if pair_arr.dtype.kind not in "iu" or pair_arr.ndim < 1 or pair_arr.shape[0] != b:
        raise InvalidParameterError(
            f"The 'pair' parameter of {owner} must be an integer array of shape (B, ...) with "
            f"B = {b}. Got {pair_arr.dtype} array of shape {pair_arr.shape!r} instead."
        )
    if pair_arr.size and (pair_arr.min() < 0 or pair_arr.max() >= path_table.n_pairs):
        bad = pair_arr[(pair_arr < 0) | (pair_arr >= path_table.n_pairs)].flat[0]
        raise InvalidParameterError(
            f"The 'pair' parameter of {owner} must hold pair indices in the range "
            f"[0, {path_table.n_pairs - 1}]. Got {int(bad)} instead."
        )
    hop = float(
        check_range("hop_cost", hop_cost, owner=owner, low=0.0, high=math.inf, high_inclusive=False)
    )

    links = path_table.links[pair_arr]  # (B, *S, k, H)
    nodes = path_table.nodes[pair_arr]  # (B, *S, k, H + 1)
    hops = path_table.hops[pair_arr]  # (B, *S, k)
    valid = path_table.valid[pair_arr]
    n_links = path_table.n_links
    ext = np.concatenate([p.astype(np.float64, copy=False), np.full((b, 1), math.inf)], 1)
    idx = np.where(links < 0, n_links, links)
    pool_vals = np.take_along_axis(ext, idx.reshape(b, -1), axis=1).reshape(idx.shape)
    capacity = np.where(valid, pool_vals.min(axis=-1), 0.0)
    # 1 / (inf + 1) = 0: padding adds nothing.
    cost = (1.0 / (pool_vals + 1.0)).sum(axis=-1) + hop * hops
    if node_penalty is not None:
        w = check_range("node_penalty", node_penalty, owner=owner, low=0.0, high=math.inf)
        try:
            w = np.broadcast_to(w, (b, path_table.n_nodes))
        except ValueError:
            raise InvalidParameterError(
                f"The 'node_penalty' parameter of {owner} must broadcast to shape "
                f"{(b, path_table.n_nodes)!r} (B, N). Got shape {w.shape!r} instead."
            ) from None
        relay = _relay_mask(nodes)
        node_idx = np.where(relay, nodes, 0).reshape(b, -1)
        w_vals = np.take_along_axis(w, node_idx, axis=1).reshape(nodes.shape)
        cost = cost + np.where(relay, w_vals, 0.0).sum(axis=-1)
    if min_capacity is not None:
        need = check_range("min_capacity", min_capacity, owner=owner, low=0.0, high=math.inf)
        try:
            need = np.broadcast_to(need, pair_arr.shape)
        except ValueError:
            raise InvalidParameterError(
                f"The 'min_capacity' parameter of {owner} must broadcast to shape "
                f"{pair_arr.shape!r} (B, ...). Got shape {need.shape!r} instead."
            ) from None
        valid = valid & (capacity >= need[..., None])
    cost = np.where(valid, cost, math.inf)

    order = np.argsort(cost, axis=-1, kind="stable")[..., :n]  # (B, *S, n)
    chosen_cost = np.take_along_axis(cost, order, axis=-1)
    ok = np.isfinite(chosen_cost)
    chosen_links = np.take_along_axis(links, order[..., None], axis=-2)
    chosen_nodes = np.take_along_axis(nodes, order[..., None], axis=-2)
    return PathChoice(
        path=np.where(ok, order, -1),
        valid=ok,
        cost=chosen_cost,
        capacity=np.where(ok, np.take_along_axis(capacity, order, axis=-1), 0.0),
        hops=np.where(ok, np.take_along_axis(hops, order, axis=-1), 0),
        links=np.where(ok[..., None], chosen_links, -1),
        nodes=np.where(ok[..., None], chosen_nodes, -1),
    )


def _check_path_links(path_links: Any, b: int, n_links: int, owner: str) -> NDArray[np.int64]:
    arr = np.asarray(path_links)
    if arr.dtype.kind not in "iu" or arr.ndim not in (2, 3) or arr.shape[0] != b:
        raise InvalidParameterError(
            f"The 'path_links' parameter of {owner} must be an integer array of shape (B, H) "
            f"or (B, M, H) with B = {b}. Got {arr.dtype} array of shape {arr.shape!r} instead."
        )
    if arr.size and (arr.min() < -1 or arr.max() >= n_links):
        bad = arr[(arr < -1) | (arr >= n_links)].flat[0]
        raise InvalidParameterError(
            f"The 'path_links' parameter of {owner} must hold link indices in the range "
            f"[0, {n_links - 1}] or -1 for padding. Got {int(bad)} instead."
        )
    return arr.astype(np.int64, copy=False)


def _bits_per_path(bits: ArrayLike, links: NDArray[np.int64], owner: str) -> NDArray[np.float64]:
    arr = check_range("bits", bits, owner=owner, low=0.0, high=math.inf, high_inclusive=False)
    shape = links.shape[:-1]
    if arr.ndim == 1 and links.ndim == 3:
        arr = arr[:, None]  # (B,) bits per path of every copy
    try:
        return np.broadcast_to(arr, shape)
    except ValueError:
        raise InvalidParameterError(
            f"The 'bits' parameter of {owner} must broadcast to shape (B,) or {shape!r}. "
            f"Got shape {np.shape(bits)!r} instead."
        ) from None


def path_consumption(path_links: ArrayLike, bits: ArrayLike) -> NDArray[np.float64]:
    """Key a transfer consumes: ``bits`` on every hop of every path, per copy.

    Parameters
    ----------
    path_links : array_like of int, shape (B, H) or (B, M, H)
        Link indices of one path (or M paths) per copy, padded with -1.
    bits : array_like, broadcastable to (B,) or (B, M)
        Bits carried over each path (in bits, at least 0).

    Returns
    -------
    consumed : ndarray of shape (B,)
        :math:`\\sum_\\text{paths} \\text{bits} \\times \\text{hops}` (in bits): what
        :func:`trusted_relay_consume` removes from the pools of a served copy.

    Examples
    --------
    >>> path_consumption([[0, 1, 2, -1]], [8.0]).tolist()
    [24.0]
    """
    owner = "path_consumption"
    links = np.asarray(path_links)
    if links.dtype.kind not in "iu" or links.ndim not in (2, 3) or (links < -1).any():
        raise InvalidParameterError(
            f"The 'path_links' parameter of {owner} must be an integer array of shape (B, H) "
            "or (B, M, H) of link indices, -1 for padding. Got "
            f"{links.dtype} array of shape {links.shape!r} instead."
        )
    per_path = _bits_per_path(bits, links, owner)
    hops = (links >= 0).sum(axis=-1)
    total = per_path * hops
    return total if total.ndim == 1 else total.sum(axis=-1)


def trusted_relay_consume(
    pools: NDArray[np.float64],
    path_links: ArrayLike,
    bits: ArrayLike,
    mask: ArrayLike | None = None,
) -> NDArray[np.bool_]:
    """Charge one-time-pad key for trusted-relay forwarding, in place, where it fits.

    Parameters
    ----------
    pools : ndarray of shape (B, L), floating dtype
        Key pool of every link (in bits, at least 0); modified in place.
    path_links : array_like of int, shape (B, H) or (B, M, H)
        Link indices of the path of each copy (or of its M paths, e.g. the shares of a
        multi-path transfer), padded with -1; rows of only -1 are absent paths.
    bits : array_like, broadcastable to (B,) or (B, M)
        Key bits forwarded over each path (in bits, at least 0).
    mask : array_like of bool, shape (B,), or None, optional
        Copies that attempt a transfer (default None: all).

    Returns
    -------
    served : ndarray of shape (B,), dtype bool
        True where the transfer happened: the copy is in ``mask``, has at least one path, and
        every link holds the bits all its paths need. Other copies are left untouched
        (all-or-nothing per copy).

    Raises
    ------
    InvalidParameterError
        If ``pools`` is not a writable floating (B, L) array with non-negative entries, or
        another argument has the wrong shape or range.

    Notes
    -----
    Hop-by-hop forwarding through trusted relays (see :mod:`qnetrl.network.otp`) consumes
    ``bits`` of pad on every hop, so a served copy loses exactly
    :func:`path_consumption` bits in total. Demands of paths that share a link add up (one
    ``bincount``); the capacity check is done on those totals before anything is
    subtracted, so no pool ever goes negative.

    Examples
    --------
    >>> pools = np.array([[10.0, 4.0, 10.0], [10.0, 10.0, 10.0]])
    >>> trusted_relay_consume(pools, [[0, 1], [0, 1]], [5.0, 5.0]).tolist()
    [False, True]
    >>> pools.tolist()
    [[10.0, 4.0, 10.0], [5.0, 5.0, 10.0]]
    """
    owner = "trusted_relay_consume"
    if (
        not isinstance(pools, np.ndarray)
        or pools.ndim != 2
        or not np.issubdtype(pools.dtype, np.floating)
        or not pools.flags.writeable
    ):
        raise InvalidParameterError(
            f"The 'pools' parameter of {owner} must be a writable floating ndarray of shape "
            f"(B, L) (it is updated in place). Got {type(pools).__name__}"
            f"{' of dtype ' + str(pools.dtype) if isinstance(pools, np.ndarray) else ''} "
            "instead."
        )
    check_range("pools", pools, owner=owner, low=0.0)
    b, n_links = pools.shape
    links = _check_path_links(path_links, b, n_links, owner)
    per_path = _bits_per_path(bits, links, owner)
    if mask is None:
        attempt = np.ones(b, dtype=bool)
    else:
        attempt = np.asarray(mask)
        if attempt.dtype != np.bool_ or attempt.shape != (b,):
            raise InvalidParameterError(
                f"The 'mask' parameter of {owner} must be a boolean array of shape ({b},). "
                f"Got {attempt.dtype} array of shape {attempt.shape!r} instead."
            )
    on_path = links >= 0
    rows = np.broadcast_to(np.arange(b).reshape((b,) + (1,) * (links.ndim - 1)), links.shape)
    weights = np.broadcast_to(per_path[..., None], links.shape)
    flat = rows[on_path] * n_links + links[on_path]
    demand = np.bincount(flat, weights=weights[on_path], minlength=b * n_links)
    demand = demand.reshape(b, n_links)
    fits = ~(demand > pools).any(axis=1)
    has_path = on_path.reshape(b, -1).any(axis=1)
    served = attempt & fits & has_path
    pools -= np.where(served[:, None], demand, 0.0)
    assert not (pools < 0).any(), "trusted_relay_consume drove a key pool negative"
    return served
