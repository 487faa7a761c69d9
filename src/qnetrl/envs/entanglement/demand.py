"""Entanglement requests for the DPEM study: batched Poisson, bursty and diurnal generators, traces.

A request asks for one end-to-end entangled pair between a source and a destination node with
at least a required fidelity, before a deadline. Every generator answers
``sample(rng, slot)`` with an :class:`EntanglementRequestBatch`: fixed-capacity arrays of
shape (B, R) (batch copies by request entries) with a ``valid`` mask, so that the simulator
can enqueue the requests without Python loops. Arrivals are Poisson per node with a rate that
is constant (:class:`PoissonRequests`), switched by a two-state Markov chain per node
(:class:`BurstyRequests`, a Markov-modulated Poisson process) or modulated by a sinusoid
(:class:`DiurnalRequests`); the destination is uniform over the other nodes and the required
fidelity uniform in ``[fidelity_low, fidelity_high]``. :class:`TraceRequests` replays a
recorded trace read by :func:`load_request_trace` (columns ``timestamp, src, dst,
fidelity``), whose errors name the file, the row and the field. Arrivals beyond the capacity
R are never dropped silently: they are counted in ``overflow`` and ``dropped``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypedDict, Unpack

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qnetrl._validation import InvalidParameterError, check_range
from qnetrl.network._demand_base import (
    OVERFLOW_PROBABILITY,
    SlotReplay,
    TraceFormatError,
    TraceRow,
    check_int,
    check_int_array,
    check_rng,
    fit_to_capacity,
    index_ids,
    open_trace_csv,
    pad,
    poisson_capacity,
)

__all__ = [
    "OVERFLOW_PROBABILITY",
    "REQUEST_TRACE_COLUMNS",
    "BurstyRequests",
    "DiurnalRequests",
    "EntanglementRequestBatch",
    "PoissonRequests",
    "TraceFormatError",
    "TraceRequests",
    "load_request_trace",
    "write_request_trace",
]

#: Columns a request trace file must have, in any order (other columns are ignored).
REQUEST_TRACE_COLUMNS: Final[tuple[str, ...]] = ("timestamp", "src", "dst", "fidelity")

#: Node ids quoted, at most, in a message about an unknown node.
_KNOWN_LIMIT: Final[int] = 6


# ---------------------------------------------------------------------------------------------
# Request batches
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntanglementRequestBatch:
    """New entanglement requests of one slot for B copies, in fixed-capacity arrays.

    Entries ``[b, r]`` with ``valid[b, r]`` false are padding, filled with ``-1`` (nodes,
    slots) and ``0.0`` (fidelity). Valid entries come first in each row.

    Attributes
    ----------
    src, dst : ndarray of shape (B, R), dtype int64
        Source and destination node indices, distinct when valid.
    fidelity : ndarray of shape (B, R), dtype float64
        Required fidelity of the delivered pair (dimensionless, in [0, 1]).
    arrival : ndarray of shape (B, R), dtype int64
        Slot in which the request arrived.
    deadline : ndarray of shape (B, R), dtype int64
        Last slot (absolute, inclusive) in which the request may still be delivered,
        ``arrival + deadline_slots``.
    valid : ndarray of shape (B, R), dtype bool
        True for real requests.
    count : ndarray of shape (B,), dtype int64
        Number of valid entries per copy.
    overflow : ndarray of shape (B,), dtype int64
        Arrivals of this slot that did not fit in the R entries and were dropped.
    """

    src: NDArray[np.int64]
    dst: NDArray[np.int64]
    fidelity: NDArray[np.float64]
    arrival: NDArray[np.int64]
    deadline: NDArray[np.int64]
    valid: NDArray[np.bool_]
    count: NDArray[np.int64]
    overflow: NDArray[np.int64]

    @property
    def capacity(self) -> int:
        """Number R of request entries per copy."""
        return int(self.valid.shape[1])


# ---------------------------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------------------------


def _per_node(
    name: str, value: ArrayLike, n_nodes: int, owner: str, low: float = 0.0
) -> NDArray[np.float64]:
    """Finite per-node values in ``[low, inf)`` (``low=-inf``: any finite value), shape (N,)."""
    arr = check_range(
        name,
        value,
        owner=owner,
        low=low,
        high=math.inf,
        low_inclusive=math.isfinite(low),
        high_inclusive=False,
    )
    try:
        return np.broadcast_to(arr, (n_nodes,)).astype(np.float64)
    except ValueError:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be a scalar or an array of shape "
            f"({n_nodes},), one entry per node. Got shape {arr.shape!r} instead."
        ) from None


# ---------------------------------------------------------------------------------------------
# Synthetic generators
# ---------------------------------------------------------------------------------------------


class _RequestOptions(TypedDict, total=False):
    """Keyword arguments every synthetic generator takes (see :class:`PoissonRequests`)."""

    fidelity_low: float
    fidelity_high: float
    deadline_slots: int
    batch_size: int
    max_requests_per_slot: int | None


class _SyntheticRequests:
    """Shared machinery: Poisson arrivals per node from per-copy rates of shape (B, N)."""

    _owner = "_SyntheticRequests"

    def __init__(
        self,
        n_nodes: int,
        max_rates: NDArray[np.float64],
        *,
        fidelity_low: float = 0.6,
        fidelity_high: float = 0.9,
        deadline_slots: int = 10,
        batch_size: int = 1,
        max_requests_per_slot: int | None = None,
    ) -> None:
        owner = self._owner
        self.n_nodes = check_int("n_nodes", n_nodes, owner, 2)
        self.fidelity_low = float(
            check_range("fidelity_low", fidelity_low, owner=owner, low=0.0, high=1.0)
        )
        self.fidelity_high = float(
            check_range(
                "fidelity_high", fidelity_high, owner=owner, low=self.fidelity_low, high=1.0
            )
        )
        self.deadline_slots = check_int("deadline_slots", deadline_slots, owner, 0)
        self.batch_size = check_int("batch_size", batch_size, owner, 1)
        self.capacity = poisson_capacity(max_requests_per_slot, float(max_rates.sum()), owner)
        self.arrived = np.zeros(self.batch_size, dtype=np.int64)
        self.dropped = np.zeros(self.batch_size, dtype=np.int64)

    def reset(self, rng: np.random.Generator) -> None:
        """Clear the running totals (subclasses also redraw their modulating state)."""
        check_rng(rng, f"{type(self).__name__}.reset")
        self.arrived[:] = 0
        self.dropped[:] = 0

    def rates(self, slot: int) -> NDArray[np.float64]:
        """Arrival rate of every node in ``slot`` (in requests/slot), ndarray of shape (B, N)."""
        raise NotImplementedError

    def _advance(self, rng: np.random.Generator) -> None:
        """Move the modulating state to the next slot (no-op for unmodulated demand)."""

    def sample(self, rng: np.random.Generator, slot: int) -> EntanglementRequestBatch:
        """Draw the requests arriving in ``slot`` (an int in ``[0, inf)``) for every copy.

        Call it once per slot, in increasing slot order, after :meth:`reset`: modulated
        generators advance their hidden state after each call.
        """
        owner = f"{type(self).__name__}.sample"
        check_rng(rng, owner)
        slot = check_int("slot", slot, owner, 0)
        lam = self.rates(slot)
        batch = _draw_requests(
            rng,
            lam,
            self.capacity,
            slot,
            self.deadline_slots,
            self.fidelity_low,
            self.fidelity_high,
        )
        self.arrived += batch.count + batch.overflow
        self.dropped += batch.overflow
        self._advance(rng)
        return batch


def _draw_requests(
    rng: np.random.Generator,
    lam: NDArray[np.float64],
    capacity: int,
    slot: int,
    deadline_slots: int,
    fidelity_low: float,
    fidelity_high: float,
) -> EntanglementRequestBatch:
    """Poisson arrivals of rates ``lam`` (B, N): total per copy, then sources by colouring.

    Draw order (fixed, whatever the counts): B Poisson totals, (B, R) uniforms for the
    sources, (B, R) integers for the destinations, (B, R) uniforms for the fidelities.
    """
    bsz, n = lam.shape
    total = lam.sum(axis=1)
    count_all = rng.poisson(total).astype(np.int64)
    u = rng.random((bsz, capacity))
    offset = rng.integers(0, n - 1, size=(bsz, capacity))
    fid = rng.uniform(fidelity_low, fidelity_high, size=(bsz, capacity))
    count, valid, overflow = fit_to_capacity(count_all, capacity)
    # Source of each arrival: categorical with probabilities lam / total, per copy. Rows are
    # made monotone across copies by adding the copy index, so one searchsorted serves all.
    safe = np.where(total > 0.0, total, 1.0)
    cum = np.cumsum(lam, axis=1) / safe[:, None]
    cum[:, -1] = 1.0  # round-off guard; u < 1 never lands past the last node
    rows = np.arange(bsz, dtype=np.float64)[:, None]
    src = np.searchsorted((cum + rows).ravel(), (u + rows).ravel(), side="right")
    src = np.minimum(src.reshape(bsz, capacity) - np.arange(bsz)[:, None] * n, n - 1)
    dst = (src + 1 + offset) % n  # uniform over the n - 1 other nodes
    arrival = np.full((bsz, capacity), slot, dtype=np.int64)
    return EntanglementRequestBatch(
        src=pad(src, valid, -1),
        dst=pad(dst, valid, -1),
        fidelity=pad(fid, valid, 0.0),
        arrival=pad(arrival, valid, -1),
        deadline=pad(arrival + deadline_slots, valid, -1),
        valid=valid,
        count=count,
        overflow=overflow,
    )


class PoissonRequests(_SyntheticRequests):
    """Independent Poisson requests per source node at constant rates, for B copies at once.

    Parameters
    ----------
    n_nodes : int
        Number of nodes N, in ``[2, inf)``.
    rates : float or array_like of shape (N,)
        Arrival rate of requests originating at each node (in requests/slot), in
        ``[0, inf)``; a scalar applies to every node.
    fidelity_low, fidelity_high : float
        Bounds of the uniform required fidelity (dimensionless, ``0 <= low <= high <= 1``;
        defaults 0.6 and 0.9). Equal bounds give a constant requirement.
    deadline_slots : int
        Slots after arrival in which a request may still be delivered (default 10), in
        ``[0, inf)``: the absolute deadline is ``arrival + deadline_slots``.
    batch_size : int
        Number of independent copies B (default 1), in ``[1, inf)``.
    max_requests_per_slot : int or None
        Capacity R of each batch row. ``None`` (default) picks the smallest R with
        ``P(N > R) <= 1e-9`` for the total arrivals at the largest total rate.

    Attributes
    ----------
    n_nodes, batch_size, capacity, deadline_slots : int
        N, B, R and the relative deadline (in slots).
    base_rates : ndarray of shape (N,)
        Arrival rate per node (in requests/slot).
    arrived, dropped : ndarray of shape (B,), dtype int64
        Running totals of arrivals (dropped ones included) and of over-capacity drops.

    Notes
    -----
    Per copy and slot the total :math:`N \\sim \\mathrm{Poisson}(\\sum_n \\lambda_n)` is drawn,
    then each arrival picks its source :math:`n` with probability
    :math:`\\lambda_n / \\sum_m \\lambda_m`; by the colouring theorem of [1]_ the per-node
    counts are independent Poisson variables of means :math:`\\lambda_n`. The destination is
    uniform over the other N - 1 nodes.

    References
    ----------
    .. [1] J. F. C. Kingman, "Poisson Processes", Oxford University Press, 1993, Ch. 5
       (the colouring theorem), ISBN 978-0-19-853693-2.

    Examples
    --------
    >>> gen = PoissonRequests(5, 0.4, deadline_slots=3, batch_size=2)
    >>> rng = np.random.default_rng(0)
    >>> gen.reset(rng)
    >>> batch = gen.sample(rng, slot=7)
    >>> v = batch.valid
    >>> bool((batch.deadline[v] == 10).all()), bool((batch.src[v] != batch.dst[v]).all())
    (True, True)
    """

    _owner = "PoissonRequests"

    def __init__(self, n_nodes: int, rates: ArrayLike, **options: Unpack[_RequestOptions]) -> None:
        n = check_int("n_nodes", n_nodes, self._owner, 2)
        self.base_rates = _per_node("rates", rates, n, self._owner)
        super().__init__(n, self.base_rates, **options)

    def rates(self, slot: int) -> NDArray[np.float64]:
        """Arrival rate of every node (in requests/slot), ndarray of shape (B, N)."""
        return np.broadcast_to(self.base_rates, (self.batch_size, self.n_nodes))


class BurstyRequests(_SyntheticRequests):
    """Bursty requests: a two-state Markov-modulated Poisson process (MMPP) per node.

    Parameters
    ----------
    n_nodes : int
        Number of nodes N, in ``[2, inf)``.
    rates_low, rates_high : float or array_like of shape (N,)
        Arrival rate of each node in its quiet and in its burst state (in requests/slot), in
        ``[0, inf)``.
    p_on : float
        Probability per slot that a quiet node starts a burst, in ``(0, 1]`` (default 0.05).
    p_off : float
        Probability per slot that a bursting node falls quiet, in ``(0, 1]`` (default 0.2).
    fidelity_low, fidelity_high, deadline_slots, batch_size, max_requests_per_slot
        As in :class:`PoissonRequests`; the default capacity uses every node bursting.

    Attributes
    ----------
    rates_low, rates_high : ndarray of shape (N,)
        Rates in the two states (in requests/slot).
    p_on, p_off : float
        Switching probabilities per slot.
    bursting : ndarray of shape (B, N), dtype bool
        Current state of every node's chain (True: burst).

    Notes
    -----
    The state of each node and copy is an independent discrete-time Markov chain (a
    Markov-modulated Poisson process in discrete time, [1]_): it is drawn from the stationary
    law at :meth:`reset`, then moves after each slot with the transition probabilities above.
    The stationary burst probability is :math:`\\pi = p_{on}/(p_{on} + p_{off})`, so the mean
    rate of node n is :math:`(1 - \\pi)\\lambda^{low}_n + \\pi \\lambda^{high}_n`
    (:meth:`mean_rates`), and a burst lasts :math:`1/p_{off}` slots on average.

    References
    ----------
    .. [1] W. Fischer and K. Meier-Hellstern, "The Markov-modulated Poisson process (MMPP)
       cookbook", Performance Evaluation, vol. 18, no. 2, pp. 149-171, 1993,
       DOI 10.1016/0166-5316(93)90035-S.

    Examples
    --------
    >>> gen = BurstyRequests(4, 0.1, 1.0, p_on=0.1, p_off=0.4)
    >>> [round(float(x), 6) for x in gen.mean_rates()]  # pi = 0.2
    [0.28, 0.28, 0.28, 0.28]
    """

    _owner = "BurstyRequests"

    def __init__(
        self,
        n_nodes: int,
        rates_low: ArrayLike,
        rates_high: ArrayLike,
        *,
        p_on: float = 0.05,
        p_off: float = 0.2,
        **options: Unpack[_RequestOptions],
    ) -> None:
        owner = self._owner
        n = check_int("n_nodes", n_nodes, owner, 2)
        self.rates_low = _per_node("rates_low", rates_low, n, owner)
        self.rates_high = _per_node("rates_high", rates_high, n, owner)
        self.p_on = float(
            check_range("p_on", p_on, owner=owner, low=0.0, high=1.0, low_inclusive=False)
        )
        self.p_off = float(
            check_range("p_off", p_off, owner=owner, low=0.0, high=1.0, low_inclusive=False)
        )
        super().__init__(n, np.maximum(self.rates_low, self.rates_high), **options)
        self.bursting = np.zeros((self.batch_size, n), dtype=bool)

    @property
    def burst_probability(self) -> float:
        """Stationary probability that a node is bursting, ``p_on / (p_on + p_off)``."""
        return self.p_on / (self.p_on + self.p_off)

    def mean_rates(self) -> NDArray[np.float64]:
        """Long-run mean rate of every node (in requests/slot), ndarray of shape (N,)."""
        pi = self.burst_probability
        return (1.0 - pi) * self.rates_low + pi * self.rates_high

    def reset(self, rng: np.random.Generator) -> None:
        """Clear the totals and draw every chain's state from its stationary law."""
        super().reset(rng)
        self.bursting = rng.random((self.batch_size, self.n_nodes)) < self.burst_probability

    def rates(self, slot: int) -> NDArray[np.float64]:
        """Arrival rate of every node in its current state (in requests/slot), shape (B, N)."""
        return np.where(self.bursting, self.rates_high, self.rates_low)

    def _advance(self, rng: np.random.Generator) -> None:
        u = rng.random(self.bursting.shape)
        self.bursting = np.where(self.bursting, u >= self.p_off, u < self.p_on)


class DiurnalRequests(_SyntheticRequests):
    """Requests whose Poisson rate follows a sinusoidal (diurnal) cycle.

    Parameters
    ----------
    n_nodes : int
        Number of nodes N, in ``[2, inf)``.
    rates : float or array_like of shape (N,)
        Mean arrival rate of each node over a cycle (in requests/slot), in ``[0, inf)``.
    amplitude : float
        Relative amplitude A of the cycle, in ``[0, 1]`` (default 0.8); the rate swings
        between ``(1 - A)`` and ``(1 + A)`` times the mean.
    period_slots : float
        Length of one cycle (in slots), in ``(0, inf)`` (default 100.0).
    phase : float or array_like of shape (N,)
        Phase of each node's cycle (in rad, default 0.0).
    fidelity_low, fidelity_high, deadline_slots, batch_size, max_requests_per_slot
        As in :class:`PoissonRequests`; the default capacity uses the peak rates.

    Notes
    -----
    An inhomogeneous Poisson process sampled once per slot:

    .. math:: \\lambda_n(t) = \\bar\\lambda_n \\left(1 + A \\sin\\left(\\frac{2\\pi t}{P}
              + \\phi_n\\right)\\right),

    so the mean over a whole number of periods is :math:`\\bar\\lambda_n`.

    Examples
    --------
    >>> gen = DiurnalRequests(3, 1.0, amplitude=0.5, period_slots=4.0)
    >>> [round(float(gen.rates(s)[0, 0]), 6) for s in range(4)]
    [1.0, 1.5, 1.0, 0.5]
    """

    _owner = "DiurnalRequests"

    def __init__(
        self,
        n_nodes: int,
        rates: ArrayLike,
        *,
        amplitude: float = 0.8,
        period_slots: float = 100.0,
        phase: ArrayLike = 0.0,
        **options: Unpack[_RequestOptions],
    ) -> None:
        owner = self._owner
        n = check_int("n_nodes", n_nodes, owner, 2)
        self.base_rates = _per_node("rates", rates, n, owner)
        self.amplitude = float(check_range("amplitude", amplitude, owner=owner, low=0.0, high=1.0))
        self.period_slots = float(
            check_range(
                "period_slots",
                period_slots,
                owner=owner,
                low=0.0,
                low_inclusive=False,
                high=math.inf,
                high_inclusive=False,
            )
        )
        self.phase = _per_node("phase", phase, n, owner, low=-math.inf)
        super().__init__(n, self.base_rates * (1.0 + self.amplitude), **options)

    def rates(self, slot: int) -> NDArray[np.float64]:
        """Arrival rate of every node in ``slot`` (in requests/slot), shape (B, N)."""
        angle = 2.0 * math.pi * slot / self.period_slots + self.phase
        lam = np.maximum(self.base_rates * (1.0 + self.amplitude * np.sin(angle)), 0.0)
        return np.broadcast_to(lam, (self.batch_size, self.n_nodes))


# ---------------------------------------------------------------------------------------------
# Traces
# ---------------------------------------------------------------------------------------------


class TraceRequests(SlotReplay):
    """Replay of recorded entanglement requests, slot by slot, identical in all B copies.

    Parameters
    ----------
    slot, src, dst : array_like of shape (n,)
        Arrival slot (``>= 0``) and distinct end-node indices (in ``[0, n_nodes)``) of each
        request, integers.
    fidelity : array_like of shape (n,)
        Required fidelity of each request (dimensionless, in [0, 1]).
    n_nodes : int
        Number of nodes N, in ``[2, inf)``.
    deadline_slots : int
        Relative deadline (in slots, default 10): a request may be delivered up to slot
        ``arrival + deadline_slots``.
    batch_size : int
        Number of copies B (default 1).
    max_requests_per_slot : int or None
        Capacity R; ``None`` (default) uses the largest number of arrivals in one slot.

    Attributes
    ----------
    n_nodes, batch_size, capacity, deadline_slots, n_requests : int
        N, B, R, the relative deadline and the number of requests in the trace.
    last_slot : int
        Arrival slot of the last request (``-1`` for an empty trace).
    arrived, dropped : ndarray of shape (B,), dtype int64
        Running totals of replayed and of over-capacity arrivals per copy.

    Notes
    -----
    Requests of one slot keep their input order; beyond the capacity the later ones are
    dropped and counted. ``sample`` ignores its ``rng`` and draws nothing.
    """

    def __init__(
        self,
        slot: ArrayLike,
        src: ArrayLike,
        dst: ArrayLike,
        fidelity: ArrayLike,
        *,
        n_nodes: int,
        deadline_slots: int = 10,
        batch_size: int = 1,
        max_requests_per_slot: int | None = None,
    ) -> None:
        owner = "TraceRequests"
        self.n_nodes = check_int("n_nodes", n_nodes, owner, 2)
        cols = {
            "slot": check_int_array("slot", slot, owner, 0).reshape(-1),
            "src": check_int_array("src", src, owner, 0, self.n_nodes - 1).reshape(-1),
            "dst": check_int_array("dst", dst, owner, 0, self.n_nodes - 1).reshape(-1),
        }
        fid = check_range("fidelity", fidelity, owner=owner, low=0.0, high=1.0).reshape(-1)
        n = cols["slot"].shape[0]
        for name, arr in (*cols.items(), ("fidelity", fid)):
            if arr.shape != (n,):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {owner} must be a 1-d array of length {n} "
                    f"(one entry per request). Got shape {arr.shape!r} instead."
                )
        same = cols["src"] == cols["dst"]
        if same.any():
            i = int(np.argmax(same))
            raise InvalidParameterError(
                f"The 'dst' parameter of {owner} must differ from 'src' for every request. "
                f"Got {int(cols['dst'][i])} at request {i} instead."
            )
        self.deadline_slots = check_int("deadline_slots", deadline_slots, owner, 0)
        order = self._index_slots(cols["slot"], batch_size, max_requests_per_slot, owner)
        self._src = cols["src"][order]
        self._dst = cols["dst"][order]
        self._fid = fid[order]

    def reset(self, rng: np.random.Generator | None = None) -> None:
        """Clear the running totals (the trace itself is replayed from slot 0 again)."""
        self.arrived[:] = 0
        self.dropped[:] = 0

    def sample(self, rng: np.random.Generator | None, slot: int) -> EntanglementRequestBatch:
        """The requests recorded for ``slot`` (an int in ``[0, inf)``), in every copy."""
        window = self._window(slot, "TraceRequests.sample")
        valid = window.valid
        arrival = window.rows(self._slot, -1)
        return EntanglementRequestBatch(
            src=window.rows(self._src, -1),
            dst=window.rows(self._dst, -1),
            fidelity=window.rows(self._fid, 0.0),
            arrival=arrival,
            deadline=pad(arrival + self.deadline_slots, valid, -1),
            valid=valid,
            count=window.count,
            overflow=window.overflow,
        )


def _node_lookup(node_ids: Sequence[Hashable] | int, owner: str) -> dict[str, int]:
    """Map ``str(node_id)`` to its index; an int N stands for the ids ``0 .. N-1``."""
    if isinstance(node_ids, int | np.integer) and not isinstance(node_ids, bool):
        ids: Sequence[Hashable] = range(check_int("node_ids", node_ids, owner, 2))
    else:
        ids = node_ids  # type: ignore[assignment]
    lookup = index_ids(ids, owner)
    if len(lookup) < 2:
        raise InvalidParameterError(
            f"The 'node_ids' parameter of {owner} must hold at least 2 node ids. Got {len(lookup)}."
        )
    return lookup


def load_request_trace(
    path: str | Path,
    node_ids: Sequence[Hashable] | int,
    *,
    slot_s: float,
    deadline_slots: int = 10,
    batch_size: int = 1,
    max_requests_per_slot: int | None = None,
) -> TraceRequests:
    """Read an entanglement-request trace from a CSV file.

    Parameters
    ----------
    path : str or Path
        CSV file with a header row holding the columns ``timestamp`` (arrival time in s,
        ``>= 0``), ``src`` and ``dst`` (node ids, matched against ``str(node_id)``, distinct)
        and ``fidelity`` (required fidelity, in [0, 1]), in any order; other columns are
        ignored. Rows need not be sorted; blank lines are skipped.
    node_ids : sequence of hashable or int
        Node ids in index order (e.g. ``list(graph.nodes)``); an int N means ``0 .. N-1``.
    slot_s : float
        Slot duration (in s), in ``(0, inf)``: time ``t`` falls in slot ``floor(t / slot_s)``.
    deadline_slots, batch_size, max_requests_per_slot
        Passed to :class:`TraceRequests`.

    Returns
    -------
    TraceRequests
        The trace, ready to replay.

    Raises
    ------
    TraceFormatError
        If the file is missing or empty, lacks a column, or a row has the wrong number of
        fields, a non-numeric or out-of-range value, an unknown node, or ``src == dst``. The
        message names the file, the row (data rows count from 1; the line is given too) and
        the field.

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> p = os.path.join(d, "t.csv")
    >>> _ = open(p, "w").write("timestamp,src,dst,fidelity\\n0.5,0,2,0.8\\n2.5,1,0,0.7\\n")
    >>> trace = load_request_trace(p, 3, slot_s=1.0)
    >>> trace.n_requests, trace.last_slot
    (2, 2)
    """
    owner = "load_request_trace"
    lookup = _node_lookup(node_ids, owner)
    slot_s = float(
        check_range(
            "slot_s",
            slot_s,
            owner=owner,
            low=0.0,
            low_inclusive=False,
            high=math.inf,
            high_inclusive=False,
        )
    )
    rows: list[tuple[int, int, int, float]] = []
    expected = f"the columns {', '.join(REQUEST_TRACE_COLUMNS)}"
    with open_trace_csv(Path(path), expected) as trace:
        trace.require([c for c in REQUEST_TRACE_COLUMNS if c not in trace.header])
        col = {name: trace.header.index(name) for name in REQUEST_TRACE_COLUMNS}
        rows.extend(_parse_request_row(row, lookup, slot_s) for row in trace.rows(col))
    data = np.array(rows, dtype=np.float64).reshape(-1, 4)
    return TraceRequests(
        data[:, 0].astype(np.int64),
        data[:, 1].astype(np.int64),
        data[:, 2].astype(np.int64),
        data[:, 3],
        n_nodes=len(lookup),
        deadline_slots=deadline_slots,
        batch_size=batch_size,
        max_requests_per_slot=max_requests_per_slot,
    )


def _parse_request_row(
    row: TraceRow, lookup: dict[str, int], slot_s: float
) -> tuple[int, int, int, float]:
    """One validated trace row as ``(slot, src, dst, fidelity)``."""
    t = row.number("timestamp", 0.0)
    src, dst = row.node("src", lookup, _KNOWN_LIMIT), row.node("dst", lookup, _KNOWN_LIMIT)
    if src == dst:
        raise row.error("dst", "different from src")
    fid = row.number("fidelity", 0.0, 1.0)
    return math.floor(t / slot_s), src, dst, fid


def write_request_trace(
    path: str | Path,
    node_ids: Sequence[Hashable] | int,
    *,
    timestamp: ArrayLike,
    src: ArrayLike,
    dst: ArrayLike,
    fidelity: ArrayLike,
) -> Path:
    """Write requests as a CSV trace that :func:`load_request_trace` reads back.

    Parameters
    ----------
    path : str or Path
        Output file (overwritten).
    node_ids : sequence of hashable or int
        Node ids in index order (an int N means ``0 .. N-1``); ``src`` and ``dst`` indices are
        written as ``str(node_id)``.
    timestamp : array_like of shape (n,)
        Arrival times (in s, ``>= 0``).
    src, dst : array_like of shape (n,)
        Node indices, distinct per request.
    fidelity : array_like of shape (n,)
        Required fidelities, in [0, 1].

    Returns
    -------
    Path
        The file written.
    """
    owner = "write_request_trace"
    lookup = _node_lookup(node_ids, owner)
    names = list(lookup)
    t = check_range("timestamp", timestamp, owner=owner, low=0.0).reshape(-1)
    TraceRequests(np.zeros(t.shape, dtype=np.int64), src, dst, fidelity, n_nodes=len(names))
    s = np.asarray(src, dtype=np.int64).reshape(-1)
    d = np.asarray(dst, dtype=np.int64).reshape(-1)
    f = np.asarray(fidelity, dtype=np.float64).reshape(-1)
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REQUEST_TRACE_COLUMNS)
        for row in zip(t.tolist(), s.tolist(), d.tolist(), f.tolist(), strict=True):
            writer.writerow([repr(row[0]), names[row[1]], names[row[2]], repr(row[3])])
    return path
