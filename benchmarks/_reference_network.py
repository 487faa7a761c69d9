"""Plain pure-Python reference of the network simulator's slot model (one copy, single path).

This is the named peer of ``benchmarks/network_throughput.py``: the slot model of
:class:`qnetrl.network.simulator.NetworkSimulator` (generation with a carried fraction and
clipping at the pool capacity, FIFO queue with rejection when full, expiry, oldest-first
service over one trusted-relay path checked against the pools reported at the start of the
slot, all-or-nothing
key consumption, and the outcomes of dropping, delaying, flipping and leaking relays) written
the way a first implementation would be: one object per link and per request, Python loops
over links, queue entries and path hops, one copy at a time. It receives the same inputs the
vectorised simulator uses (per-link key bits per slot, candidate paths, node behaviour codes
and the arrivals of every slot, generated outside the timed region), so its counters must
equal the simulator's exactly. Not part of the package; never run by the test suite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RefLink", "RefRequest", "run_reference"]

FLIP, DROP, FALSE_QBER, FALSE_POOL, DELAY, LEAK, CRASH = 1, 2, 4, 8, 16, 32, 64


class RefLink:
    """One link: its pool, carried fraction and per-slot key, and its two end nodes."""

    __slots__ = ("bits", "carry", "pool", "report_scale", "u", "v")

    def __init__(self, u: int, v: int, bits: float, pool: float) -> None:
        self.u = u
        self.v = v
        self.bits = bits
        self.pool = pool
        self.carry = 0.0
        self.report_scale = 1.0


class RefRequest:
    """One waiting request."""

    __slots__ = ("arrival", "bits", "deadline", "pair")

    def __init__(self, pair: int, bits: int, arrival: int, deadline: int) -> None:
        self.pair = pair
        self.bits = bits
        self.arrival = arrival
        self.deadline = deadline


@dataclass
class RefCounters:
    """Totals of one reference run."""

    generated: float = 0.0
    wasted: float = 0.0
    consumed: float = 0.0
    rejected: int = 0
    expired: int = 0
    exposed: int = 0
    outcomes: list[int] = field(default_factory=lambda: [0, 0, 0, 0, 0])


def run_reference(
    *,
    slots: int,
    link_ends: list[tuple[int, int]],
    key_bits: list[float],
    initial_pool: float,
    capacity: float,
    paths: list[tuple[list[int], list[int]] | None],
    codes: list[int],
    arrivals: list[list[tuple[int, int, int, int]]],
    max_queue: int,
    delay_slots: int,
    flip_probability: float,
    false_pool_factor: float,
    false_qber_blocks: bool,
    qber_blocked: list[bool],
) -> dict[str, Any]:
    """Run one copy for ``slots`` slots; return its counters as a dict.

    ``paths[p]`` is ``(links, nodes)`` of pair ``p``'s only candidate path (or None);
    ``arrivals[s]`` lists ``(pair, bits, arrival, deadline)`` of slot ``s``; ``codes`` are
    the node behaviour codes (active from slot 0); ``qber_blocked[l]`` says whether link
    ``l``'s true QBER is above the routing threshold. A FLIP relay must flip every bit
    (``flip_probability`` 1) so that the outcome is deterministic.
    """
    if flip_probability not in (0.0, 1.0):
        raise ValueError("the reference models flip_probability 0 or 1 only")
    links = [RefLink(u, v, b, initial_pool) for (u, v), b in zip(link_ends, key_bits, strict=True)]
    for link, blocked in zip(links, qber_blocked, strict=True):
        cu, cv = codes[link.u], codes[link.v]
        if (cu | cv) & CRASH:
            link.bits = 0.0
        lying = false_qber_blocks and bool((cu | cv) & FALSE_QBER)
        link.report_scale = 0.0 if blocked or lying else 1.0
        if (cu | cv) & FALSE_POOL:
            link.report_scale *= false_pool_factor
    c = RefCounters()
    queue: list[RefRequest] = []
    for s in range(slots):
        for link in links:  # key generation
            link.carry += link.bits
            whole = math.floor(link.carry)
            link.carry -= whole
            c.generated += whole
            link.pool += whole
            if link.pool > capacity:
                c.wasted += link.pool - capacity
                link.pool = capacity
        for pair, bits, arrival, deadline in arrivals[s]:  # arrivals
            if len(queue) < max_queue:
                queue.append(RefRequest(pair, bits, arrival, deadline))
            else:
                c.rejected += 1
        kept = []
        for req in queue:  # expiry
            if req.deadline < s:
                c.expired += 1
            else:
                kept.append(req)
        queue = kept
        start_pools = [link.pool for link in links]  # what the control plane routes on
        kept = []
        for req in queue:  # service, oldest first
            path = paths[req.pair]
            if path is None:
                kept.append(req)
                continue
            path_links, path_nodes = path
            relays = path_nodes[1:-1]
            if codes[path_nodes[0]] & CRASH or codes[path_nodes[-1]] & CRASH:
                kept.append(req)
                continue
            if any(codes[n] & CRASH for n in relays):
                kept.append(req)
                continue
            reported = min(start_pools[i] * links[i].report_scale for i in path_links)
            if reported < req.bits:
                kept.append(req)
                continue
            if any(links[i].pool < req.bits for i in path_links):
                kept.append(req)
                continue
            for i in path_links:
                links[i].pool -= req.bits
                c.consumed += req.bits
            dropped = any(codes[n] & DROP for n in relays)
            delayed = any(codes[n] & DELAY for n in relays)
            flippers = sum(1 for n in relays if codes[n] & FLIP)
            if any(codes[n] & LEAK for n in relays):
                c.exposed += 1
            if dropped:
                outcome = 2  # FAILED
            elif delayed and s + delay_slots > req.deadline:
                outcome = 4  # LATE
            elif flip_probability == 1.0 and flippers % 2 == 1:
                outcome = 3  # WRONG
            else:
                outcome = 0  # OK
            c.outcomes[outcome] += 1
        queue = kept
    return {
        "generated": c.generated,
        "wasted": c.wasted,
        "consumed": c.consumed,
        "rejected": c.rejected,
        "expired": c.expired,
        "exposed": c.exposed,
        "outcomes": c.outcomes,
        "pending": len(queue),
    }
