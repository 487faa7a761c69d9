"""Non-learning allocators and a per-slot LP upper bound for the DPEM entanglement environment.

Each allocator has ``act(core) -> actions``, with ``core`` an
:class:`~qnetrl.envs.entanglement.core.EntanglementCore` and ``actions`` an int array of shape
(B, N) in the core's action encoding (0: no claim; ``1 + k Q + q``: candidate route ``k`` at
quality ``q``). :class:`CentralizedGreedy` sees the whole network (every stock, budget and
priority) and packs the slot's requests without contention; :class:`FcfsShortestPath` is the
distributed heuristic in which every node claims, for its oldest request, the shortest route
that its own observation says is feasible, so contention happens. :func:`slot_upper_bound`
solves a linear-programming relaxation of one slot's capacities with
:func:`scipy.optimize.linprog` (HiGHS) and bounds what any allocator can deliver in that
slot. :func:`evaluate` runs one episode of a policy in every copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog
from scipy.sparse import coo_array

from qnetrl._validation import InvalidParameterError
from qnetrl.envs.entanglement.core import EntanglementCore, compose_route_fidelity

__all__ = [
    "CentralizedGreedy",
    "EpisodeStats",
    "FcfsShortestPath",
    "NoClaim",
    "RandomAllocator",
    "SlotAllocator",
    "evaluate",
    "slot_upper_bound",
]


def _check_core(core: Any, owner: str) -> EntanglementCore:
    if not isinstance(core, EntanglementCore):
        raise InvalidParameterError(
            f"The 'core' parameter of {owner} must be an EntanglementCore. "
            f"Got {type(core).__name__} instead."
        )
    return core


class SlotAllocator(Protocol):
    """Anything with ``act(core) -> ndarray of shape (B, N)`` (actions of every node)."""

    def act(self, core: EntanglementCore) -> NDArray[np.int64]:
        """Actions of every node in every copy for the current slot."""
        ...


class NoClaim:
    """Never claims anything (action 0 everywhere): the zero-delivery reference."""

    def act(self, core: EntanglementCore) -> NDArray[np.int64]:
        """All zeros, shape (B, N)."""
        core = _check_core(core, "NoClaim.act")
        return np.zeros((core.batch_size, core.n_nodes), dtype=np.int64)


class RandomAllocator:
    """Uniformly random among the unmasked actions of every node (claims included).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the random choices.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        if not isinstance(rng, np.random.Generator):
            raise InvalidParameterError(
                f"The 'rng' parameter of RandomAllocator must be a numpy.random.Generator. "
                f"Got {type(rng).__name__} instead."
            )
        self.rng = rng

    def act(self, core: EntanglementCore) -> NDArray[np.int64]:
        """A random allowed action per node, shape (B, N)."""
        core = _check_core(core, "RandomAllocator.act")
        mask = core.action_mask()
        u = self.rng.random(mask.shape)
        return np.argmax(np.where(mask, u, -1.0), axis=-1).astype(np.int64)


class FcfsShortestPath:
    """Distributed first-come-first-served heuristic on shortest paths.

    Every node claims, for its oldest pending request (its head), the first candidate route
    (candidates are ordered shortest first) whose observed features say it is feasible on its
    own: enough stored pairs on every hop, swap budget on every intermediate node, and an
    end-to-end fidelity with the best stored pairs at least the required one
    (:attr:`~qnetrl.envs.entanglement.core.RouteView.feasible`), at the lowest quality level
    that is feasible. Nodes decide independently, on the information in their own
    observation, so several nodes may claim the same pairs or repeater: contention happens
    and the core resolves it by priority.

    Parameters
    ----------
    require_feasible : bool
        If False, claim route 0 at quality 0 whenever a request is pending, feasible or
        not (the naive variant; default True).
    """

    def __init__(self, require_feasible: bool = True) -> None:
        self.require_feasible = bool(require_feasible)

    def act(self, core: EntanglementCore) -> NDArray[np.int64]:
        """Actions of every node, shape (B, N)."""
        core = _check_core(core, "FcfsShortestPath.act")
        routes = core.routes
        if not self.require_feasible:
            return np.where(routes.valid[..., 0], 1, 0).astype(np.int64)
        flat = routes.feasible.reshape(core.batch_size, core.n_nodes, -1)  # (k, q) row-major
        return np.where(flat.any(axis=-1), 1 + np.argmax(flat, axis=-1), 0).astype(np.int64)


class CentralizedGreedy:
    """Centralised allocator with global knowledge: greedy by deadline, no contention.

    Requests are taken in the core's priority order (earliest deadline first, the core's
    seeded tie-break after; :attr:`~qnetrl.envs.entanglement.core.EntanglementCore.priority`),
    and each gets the first candidate route (shortest first), at the lowest quality level, that
    is feasible given what the requests before it have reserved: enough pairs left on every
    hop, one swap left on every intermediate node, and the end-to-end fidelity of the pairs it
    will actually receive (the best ones left, as the core hands pairs out in the same
    priority order) at least the required fidelity. Its claims never over-subscribe a link or
    a repeater, so they are never contended and every one is granted. Swap and purification
    failures are the only reason a claim fails to deliver.

    Notes
    -----
    The loop runs over priority ranks (only as many as the largest number of pending heads in
    a copy) and is vectorised over the B copies and the K x Q route choices; it is a
    sequential greedy by nature.
    """

    def act(self, core: EntanglementCore) -> NDArray[np.int64]:
        """Actions of every node, shape (B, N)."""
        core = _check_core(core, "CentralizedGreedy.act")
        s = core.state
        routes, head = core.routes, core.head
        bsz, n, n_l = core.batch_size, core.n_nodes, core.n_links
        k_r, q_n, h, m = core.n_routes, core.n_quality, core.max_hops, core.config.memory_slots
        big = np.iinfo(np.int64).max // 4
        count = np.concatenate([s.pair_count, np.full((bsz, 1), big)], axis=1)  # link L: pad
        fid = np.zeros((bsz, n_l + 1, m + 2))
        fid[:, :n_l, :m] = s.pair_fidelity
        fid[:, n_l, :] = 1.0
        budget = np.concatenate([s.swap_budget, np.full((bsz, 1), big)], axis=1)  # node N: pad
        reserved = np.zeros((bsz, n_l + 1), dtype=np.int64)
        swapped = np.zeros((bsz, n + 1), dtype=np.int64)
        actions = np.zeros((bsz, n), dtype=np.int64)
        order = np.argsort(s.priority, axis=1)
        b = np.arange(bsz)
        b3 = b[:, None, None]
        levels = np.arange(q_n)
        need = levels + 1
        inner_pos = np.arange(1, h)
        for r in range(int(head.valid.sum(axis=1).max(initial=0))):  # loop over ranks
            node = order[:, r]
            live = head.valid[b, node]
            if not live.any():
                continue
            links = routes.links[b, node]  # (B, K, H)
            ext = np.where(links >= 0, links, n_l)
            nodes = routes.nodes[b, node]
            inner = inner_pos < routes.hops[b, node][..., None]
            swap_at = np.where(inner, nodes[..., 1:h], n)
            taken = reserved[b3, ext]
            left = count[b3, ext] - taken
            f1 = fid[b3, ext, np.minimum(taken, m + 1)]
            f2 = fid[b3, ext, np.minimum(taken + 1, m + 1)]
            f_e2e, _ = compose_route_fidelity(
                f1[..., None, :],
                f2[..., None, :],
                np.broadcast_to(levels, (bsz, k_r, q_n)),
                (links >= 0)[..., None, :],
            )
            swaps_ok = np.all(budget[b3, swap_at] - swapped[b3, swap_at] >= 1, axis=-1)
            enough = np.all(left[..., None, :] >= need[:, None], axis=-1)  # (B, K, Q)
            ok = (
                live[:, None, None]
                & routes.valid[b, node][..., None]
                & swaps_ok[..., None]
                & enough
                & (f_e2e >= head.fidelity[b, node][:, None, None])
            )
            flat = ok.reshape(bsz, -1)
            chosen = flat.any(axis=1)
            pick = np.argmax(flat, axis=1)
            k_pick, q_pick = np.divmod(pick, q_n)
            actions[b, node] = np.where(chosen, 1 + pick, 0)
            c_links = np.where(chosen[:, None], ext[b, k_pick], n_l)  # (B, H)
            reserved[b[:, None], c_links] += np.where(c_links < n_l, q_pick[:, None] + 1, 0)
            c_swaps = np.where(chosen[:, None], swap_at[b, k_pick], n)
            swapped[b[:, None], c_swaps] += c_swaps < n
        return actions


def slot_upper_bound(core: EntanglementCore, *, weighted: bool = False) -> NDArray[np.float64]:
    """LP relaxation of the current slot: an upper bound on the requests any allocator delivers.

    Parameters
    ----------
    core : EntanglementCore
        The core, at the start of a slot (after ``reset`` or ``step``).
    weighted : bool
        If False (default), maximise the number of claims that can be served; if True, weight
        each claim by its success probability (swaps and purifications, computed with the best
        pairs), which bounds the *expected* number delivered.

    Returns
    -------
    bound : ndarray of shape (B,)
        Optimal value of the relaxation in every copy.

    Notes
    -----
    Variables :math:`x_{n,k,q} \\in [0, 1]` for every node ``n`` with a head request and every
    candidate route ``k`` and quality ``q`` that is feasible on its own
    (:attr:`~qnetrl.envs.entanglement.core.RouteView.feasible`: enough pairs, swap budget,
    and end-to-end fidelity with the best pairs at least the requirement). The LP

    .. math::
        \\max \\sum x_{n,k,q} \\quad \\text{s.t.} \\quad
        \\sum_{k,q} x_{n,k,q} \\le 1, \\quad
        \\sum_{(n,k,q) \\ni l} (q + 1)\\, x_{n,k,q} \\le c_l, \\quad
        \\sum_{(n,k,q) \\ni v} x_{n,k,q} \\le s_v,

    over nodes ``n``, links ``l`` with ``c_l`` stored pairs and intermediate repeaters ``v``
    with ``s_v`` swaps left, is solved with HiGHS. *What it bounds:* the number of head
    requests delivered in this slot by any joint action of the env's interface (one claim per
    node on the candidate routes). The granted claims of any action respect the capacities,
    and a delivered claim's route is feasible on its own, because the end-to-end fidelity
    increases with every hop's pair fidelity (for pairs above 1/4, which the cutoff ensures),
    so the best pairs give the highest fidelity; the granted-and-delivered claims are thus an
    integral feasible point. Swap and purification failures only lower the realised count.
    It does not bound deliveries over an episode of a different trajectory, nor allocators
    that serve requests other than the heads or use routes other than the K candidates.
    """
    core = _check_core(core, "slot_upper_bound")
    routes = core.routes
    bsz, n, n_l, h = core.batch_size, core.n_nodes, core.n_links, core.max_hops
    s = core.state
    p_swap = core.config.swap_success_prob
    out = np.zeros(bsz)
    inner_pos = np.arange(1, h)
    for b in range(bsz):  # one LP per copy
        node, k, q = np.nonzero(routes.feasible[b])
        n_var = node.size
        if n_var == 0:
            continue
        links = routes.links[b, node, k]  # (V, H)
        nodes = routes.nodes[b, node, k]
        inner = inner_pos < routes.hops[b, node, k][:, None]
        var = np.arange(n_var)
        rows = [node]
        cols = [var]
        vals = [np.ones(n_var)]
        has = links >= 0
        rows.append(n + links[has])
        cols.append(np.broadcast_to(var[:, None], links.shape)[has])
        vals.append(np.broadcast_to((q + 1.0)[:, None], links.shape)[has])
        sw = nodes[:, 1:h][inner]
        rows.append(n + n_l + sw)
        cols.append(np.broadcast_to(var[:, None], inner.shape)[inner])
        vals.append(np.ones(sw.size))
        a_ub = coo_array(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n + n_l + n, n_var),
        ).tocsr()
        b_ub = np.concatenate([np.ones(n), s.pair_count[b], s.swap_budget[b]]).astype(float)
        weight = np.ones(n_var)
        if weighted:
            lk = np.maximum(links, 0)
            f1 = np.where(has, s.pair_fidelity[b, lk, 0], 1.0)
            m = core.config.memory_slots
            f2 = np.where(has, s.pair_fidelity[b, lk, min(1, m - 1)], 1.0)
            _, p_pur = compose_route_fidelity(f1, f2, q, has)
            weight = np.prod(p_pur, axis=-1) * p_swap ** inner.sum(axis=-1)
        res = linprog(-weight, A_ub=a_ub, b_ub=b_ub, bounds=(0.0, 1.0), method="highs")
        if res.status != 0:  # the zero vector is feasible, so this never happens
            raise RuntimeError(f"slot_upper_bound: linprog failed: {res.message}")
        out[b] = -res.fun
    return out


@dataclass(frozen=True)
class EpisodeStats:
    """Totals of one episode in every copy (arrays of shape (B,)).

    Attributes
    ----------
    arrived, delivered, expired, dropped, claims, granted, contended : ndarray of int
        Counters of the episode (see :class:`~qnetrl.envs.entanglement.core.EntanglementState`).
    delivery_rate : ndarray
        ``delivered / arrived`` (0 when nothing arrived).
    contention_rate : ndarray
        ``contended / claims`` (0 without claims).
    mean_fidelity : ndarray
        Mean fidelity of the delivered pairs (0 when none).
    reward : ndarray
        Sum over slots and nodes of the core's reward.
    upper_bound : ndarray
        Sum over slots of :func:`slot_upper_bound` along this trajectory (NaN unless asked).
    """

    arrived: NDArray[np.int64]
    delivered: NDArray[np.int64]
    expired: NDArray[np.int64]
    dropped: NDArray[np.int64]
    claims: NDArray[np.int64]
    granted: NDArray[np.int64]
    contended: NDArray[np.int64]
    delivery_rate: NDArray[np.float64]
    contention_rate: NDArray[np.float64]
    mean_fidelity: NDArray[np.float64]
    reward: NDArray[np.float64]
    upper_bound: NDArray[np.float64]


def evaluate(
    policy: SlotAllocator,
    core: EntanglementCore,
    rng: np.random.Generator,
    *,
    with_bound: bool = False,
) -> EpisodeStats:
    """Run one episode of ``policy`` in every copy of ``core`` and return its totals.

    Parameters
    ----------
    policy : SlotAllocator
        Allocator with ``act(core)``.
    core : EntanglementCore
        The core; it is reset with ``rng``.
    rng : numpy.random.Generator
        Seeds the episode (same rng state, same requests and physics for every policy).
    with_bound : bool
        Also sum :func:`slot_upper_bound` over the slots of this trajectory (slower).

    Returns
    -------
    EpisodeStats
        Episode totals per copy.
    """
    core = _check_core(core, "evaluate")
    core.reset(rng)
    reward = np.zeros(core.batch_size)
    bound = np.zeros(core.batch_size) if with_bound else np.full(core.batch_size, np.nan)
    for _ in range(core.config.horizon):  # loop over slots
        if with_bound:
            bound += slot_upper_bound(core)
        _, r, _, _ = core.step(policy.act(core))
        reward += r.sum(axis=1)
    tot = core.totals
    arrived, claims, delivered = tot["arrived"], tot["claims"], tot["delivered"]
    return EpisodeStats(
        arrived=arrived.copy(),
        delivered=delivered.copy(),
        expired=tot["expired"].copy(),
        dropped=tot["dropped"].copy(),
        claims=claims.copy(),
        granted=tot["granted"].copy(),
        contended=tot["contended"].copy(),
        delivery_rate=np.where(arrived > 0, delivered / np.maximum(arrived, 1), 0.0),
        contention_rate=np.where(claims > 0, tot["contended"] / np.maximum(claims, 1), 0.0),
        mean_fidelity=np.where(delivered > 0, tot["fidelity_sum"] / np.maximum(delivered, 1), 0.0),
        reward=reward,
        upper_bound=bound,
    )
