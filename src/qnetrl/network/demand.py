"""Key requests between end-node pairs: seeded Poisson arrivals and replayed CSV traces.

A demand generator answers ``sample(rng, slot)`` with a :class:`RequestBatch`: fixed-capacity
arrays of shape (B, R) (batch copies by request slots) holding each new request's pair index,
end nodes, size in bits, arrival slot and absolute deadline slot, with a ``valid`` mask, so that
a vectorised simulator can append them to its queues without Python loops. Arrivals beyond the
capacity R of a slot are never dropped silently: their number is returned per copy in
``overflow`` and accumulated in the generator's ``dropped`` counter. :class:`PoissonDemand`
draws independent Poisson arrivals per pair; :class:`TraceDemand` replays a trace read by
:func:`load_trace_csv`, whose errors name the file, the row and the field.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import Field, ValidationInfo, field_validator

from qnetrl._validation import InvalidParameterError, check_range
from qnetrl.config import ConfigBase
from qnetrl.network._demand_base import (
    OVERFLOW_PROBABILITY,
    SlotReplay,
    TraceFormatError,
    TraceRow,
    check_int,
    check_int_array,
    check_rng,
    describe_ids,
    fit_to_capacity,
    index_ids,
    open_trace_csv,
    pad,
    poisson_capacity,
)

__all__ = [
    "OVERFLOW_PROBABILITY",
    "TRACE_COLUMNS",
    "DemandConfig",
    "PoissonDemand",
    "RequestBatch",
    "SizeDistribution",
    "TraceDemand",
    "TraceFormatError",
    "build_demand",
    "load_trace_csv",
    "write_trace_csv",
]

#: Columns a trace file must have besides its time column (``slot`` or ``timestamp``).
TRACE_COLUMNS: Final[tuple[str, ...]] = ("src", "dst", "size_bits", "deadline")

_MAX_BITS: Final[int] = 10**15


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


class SizeDistribution(ConfigBase):
    """Distribution of request sizes (in bits); a plain number means a constant size.

    ``constant`` gives ``round(mean_bits)``; ``geometric`` draws from the geometric law on
    ``{1, 2, ...}`` with mean exactly ``mean_bits`` (the discrete, memoryless counterpart of
    the exponential law); ``uniform`` draws integers in ``[low_bits, high_bits]``; ``choice``
    draws from ``values_bits`` with probabilities ``probs`` (uniform when omitted).
    """

    dist: Literal["constant", "geometric", "uniform", "choice"] = Field(
        "constant", description="Kind of size distribution."
    )
    mean_bits: float = Field(
        1e6, ge=1.0, le=float(_MAX_BITS), description="Constant size or geometric mean (in bits)."
    )
    low_bits: int = Field(1, ge=1, le=_MAX_BITS, description="Uniform lower bound (in bits).")
    high_bits: int = Field(
        10**6, ge=1, le=_MAX_BITS, description="Uniform upper bound, inclusive (in bits)."
    )
    values_bits: list[int] = Field(
        default_factory=list, description="Sizes for 'choice' (in bits), each >= 1."
    )
    probs: list[float] | None = Field(
        None, description="Probabilities of 'values_bits' for 'choice'; must sum to 1."
    )

    @field_validator("high_bits")
    @classmethod
    def _high_not_below_low(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("low_bits")
        if low is not None and value < low:
            raise ValueError(f"high_bits must be >= low_bits ({low})")
        return value

    @field_validator("values_bits")
    @classmethod
    def _choice_has_values(cls, value: list[int], info: ValidationInfo) -> list[int]:
        if info.data.get("dist") == "choice" and (not value or min(value) < 1):
            raise ValueError("'choice' needs a non-empty list of sizes, each >= 1")
        return value

    @field_validator("probs")
    @classmethod
    def _probs_match_values(
        cls, value: list[float] | None, info: ValidationInfo
    ) -> list[float] | None:
        values = info.data.get("values_bits")
        if value is None or info.data.get("dist") != "choice" or values is None:
            return value
        p = np.asarray(value, dtype=float)
        if p.shape != (len(values),) or (p < 0).any() or abs(p.sum() - 1.0) > 1e-9:
            raise ValueError("probs must be non-negative, one per value, and sum to 1")
        return value

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> NDArray[np.int64]:
        """Draw sizes (in bits), an int64 array of ``shape``; ``constant`` draws nothing."""
        if self.dist == "constant":
            return np.full(shape, round(self.mean_bits), dtype=np.int64)
        if self.dist == "geometric":
            return rng.geometric(1.0 / self.mean_bits, size=shape).astype(np.int64)
        if self.dist == "uniform":
            return rng.integers(self.low_bits, self.high_bits, size=shape, endpoint=True)
        values = np.asarray(self.values_bits, dtype=np.int64)
        return rng.choice(values, size=shape, p=self.probs)


def _as_size(value: Any, owner: str) -> SizeDistribution:
    """A :class:`SizeDistribution` from itself, a mapping, or a constant number of bits."""
    if isinstance(value, SizeDistribution):
        return value
    if isinstance(value, dict):
        return SizeDistribution.validate_dict(value, source=f"'size_bits' of {owner}")
    size = float(check_range("size_bits", value, owner=owner, low=1.0, high=float(_MAX_BITS)))
    return SizeDistribution(dist="constant", mean_bits=size)


class DemandConfig(ConfigBase):
    """Which demand generator to build, and its parameters (see :func:`build_demand`)."""

    kind: Literal["poisson", "trace"] = Field(
        "poisson", description="Poisson arrivals per pair, or a replayed CSV trace."
    )
    rate_per_slot: float = Field(
        0.05, ge=0.0, le=1000.0, description="Poisson arrival rate per pair (in requests/slot)."
    )
    size_bits: SizeDistribution = Field(
        default_factory=SizeDistribution,
        description="Request size (in bits): a number or a SizeDistribution mapping.",
    )
    deadline_slots: int = Field(
        100, ge=0, le=10**9, description="Slots after arrival by which a request must be served."
    )
    pairs: Literal["all"] | list[tuple[int | str, int | str]] = Field(
        "all", description="'all' end-node pairs, or an explicit list of [src, dst] node ids."
    )
    trace_path: str | None = Field(None, description="CSV trace file (kind 'trace').")
    slot_duration_s: float | None = Field(
        None, gt=0.0, le=1e6, description="Slot length (in s) for traces with a timestamp column."
    )
    max_requests_per_slot: int | None = Field(
        None, ge=1, le=10**6, description="Capacity R of a RequestBatch; None picks a safe one."
    )

    @field_validator("size_bits", mode="before")
    @classmethod
    def _number_is_constant(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {"dist": "constant", "mean_bits": value}
        return value

    @field_validator("trace_path")
    @classmethod
    def _trace_needs_path(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("kind") == "trace" and not value:
            raise ValueError("a trace_path is required when kind is 'trace'")
        return value


# ---------------------------------------------------------------------------------------------
# Request batches
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestBatch:
    """New key requests of one slot for B copies, in fixed-capacity arrays.

    Entries ``[b, r]`` with ``valid[b, r]`` false are padding, filled with ``-1`` (indices,
    slots) and ``0`` (sizes). Valid entries come first in each row, in arrival order.

    Attributes
    ----------
    pair : ndarray of shape (B, R), dtype int64
        Index into the generator's ``pairs`` array.
    src, dst : ndarray of shape (B, R), dtype int64
        End-node indices of the request.
    size_bits : ndarray of shape (B, R), dtype int64
        Requested key length (in bits), ``>= 1`` when valid.
    arrival : ndarray of shape (B, R), dtype int64
        Slot in which the request arrived.
    deadline : ndarray of shape (B, R), dtype int64
        Last slot (absolute, inclusive) in which the request may still be served,
        ``>= arrival``.
    valid : ndarray of shape (B, R), dtype bool
        True for real requests.
    count : ndarray of shape (B,), dtype int64
        Number of valid entries per copy.
    overflow : ndarray of shape (B,), dtype int64
        Arrivals of this slot that did not fit in the R entries and were dropped.
    """

    pair: NDArray[np.int64]
    src: NDArray[np.int64]
    dst: NDArray[np.int64]
    size_bits: NDArray[np.int64]
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


def _check_pairs(pairs: ArrayLike, owner: str) -> NDArray[np.int64]:
    arr = check_int_array("pairs", pairs, owner)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise InvalidParameterError(
            f"The 'pairs' parameter of {owner} must be an array of shape (P, 2) with P >= 1. "
            f"Got shape {arr.shape!r} instead."
        )
    same = arr[:, 0] == arr[:, 1]
    if same.any():
        raise InvalidParameterError(
            f"The 'pairs' parameter of {owner} must join two distinct nodes. "
            f"Got {arr[same][0].tolist()!r} at index {int(np.argmax(same))} instead."
        )
    return arr


# ---------------------------------------------------------------------------------------------
# Poisson demand
# ---------------------------------------------------------------------------------------------


class PoissonDemand:
    """Independent Poisson key requests per end-node pair, for B copies at once.

    Parameters
    ----------
    pairs : array_like of shape (P, 2)
        Node indices ``(src, dst)`` of each pair, distinct non-negative integers.
    rates : array_like of shape (P,) or float
        Arrival rate of each pair (in requests/slot), in ``[0, inf)``; a scalar applies to
        every pair.
    size_bits : float, SizeDistribution or dict
        Request size (in bits, default 1e6): a constant number in ``[1, 1e15]``, a
        :class:`SizeDistribution`, or a mapping of its fields.
    deadline_slots : int or array_like of shape (P,)
        Slots after arrival by which a request must be served (default 100), in
        ``[0, inf)``; the absolute deadline is ``arrival + deadline_slots``.
    batch_size : int
        Number of independent copies B (default 1), in ``[1, inf)``.
    max_requests_per_slot : int or None
        Capacity R of each :class:`RequestBatch` row. ``None`` (default) picks the smallest R
        with ``P(N > R) <= 1e-9`` for the total arrivals ``N ~ Poisson(sum(rates))``.

    Attributes
    ----------
    pairs : ndarray of shape (P, 2), dtype int64
        Node indices of each pair.
    rates : ndarray of shape (P,)
        Arrival rate of each pair (in requests/slot).
    size : SizeDistribution
        Request size law (in bits).
    deadline_slots : ndarray of shape (P,), dtype int64
        Relative deadline of each pair (in slots).
    batch_size : int
        B.
    capacity : int
        R.
    arrived : ndarray of shape (B,), dtype int64
        Total arrivals drawn so far per copy, dropped ones included.
    dropped : ndarray of shape (B,), dtype int64
        Total arrivals dropped for lack of capacity per copy.

    Notes
    -----
    Per copy and slot the total count :math:`N \\sim \\mathrm{Poisson}(\\sum_p \\lambda_p)` is
    drawn, then each arrival picks pair :math:`p` with probability
    :math:`\\lambda_p / \\sum_q \\lambda_q`. By the colouring theorem of [1]_ the per-pair counts
    are then independent Poisson variables of means :math:`\\lambda_p`, as if drawn pair by
    pair, but with arrays of fixed shape. When :math:`N > R` the first R arrivals are kept (an
    unbiased subset, since picks are i.i.d.) and :math:`N - R` is reported in ``overflow`` and
    added to ``dropped``. Each call draws, in order: B Poisson counts, (B, R) uniforms for the
    pairs, then the sizes (see :meth:`SizeDistribution.sample`), whatever the counts.

    References
    ----------
    .. [1] J. F. C. Kingman, "Poisson Processes", Oxford University Press, 1993, Ch. 5
       (the colouring theorem), ISBN 978-0-19-853693-2.

    Examples
    --------
    >>> demand = PoissonDemand([[0, 1], [0, 2]], [0.5, 1.0], 256, 10, batch_size=3)
    >>> batch = demand.sample(np.random.default_rng(0), slot=4)
    >>> batch.valid.shape == (3, demand.capacity)
    True
    >>> bool((batch.deadline[batch.valid] == 14).all())
    True
    """

    def __init__(
        self,
        pairs: ArrayLike,
        rates: ArrayLike,
        size_bits: float | SizeDistribution | dict[str, Any] = 1e6,
        deadline_slots: ArrayLike = 100,
        *,
        batch_size: int = 1,
        max_requests_per_slot: int | None = None,
    ) -> None:
        owner = "PoissonDemand"
        self.pairs = _check_pairs(pairs, owner)
        n_pairs = self.pairs.shape[0]
        rate_arr = check_range(
            "rates", rates, owner=owner, low=0.0, high=math.inf, high_inclusive=False
        )
        dl_arr = check_int_array("deadline_slots", deadline_slots, owner)
        try:
            self.rates = np.broadcast_to(rate_arr, (n_pairs,)).copy()
            self.deadline_slots = np.broadcast_to(dl_arr, (n_pairs,)).copy()
        except ValueError:
            raise InvalidParameterError(
                f"The 'rates' and 'deadline_slots' parameters of {owner} must be scalars or "
                f"arrays of shape ({n_pairs},), one entry per pair. Got shapes "
                f"{rate_arr.shape!r} and {dl_arr.shape!r} instead."
            ) from None
        self.size = _as_size(size_bits, owner)
        self.batch_size = check_int("batch_size", batch_size, owner, 1)
        self._total_rate = float(self.rates.sum())
        self.capacity = poisson_capacity(max_requests_per_slot, self._total_rate, owner)
        cum = np.cumsum(self.rates) / self._total_rate if self._total_rate > 0 else None
        if cum is not None:
            # Guard against round-off: no uniform draw may land past the last positive rate.
            cum[int(np.flatnonzero(self.rates > 0)[-1]) :] = 1.0
        self._cum = cum
        self.arrived = np.zeros(self.batch_size, dtype=np.int64)
        self.dropped = np.zeros(self.batch_size, dtype=np.int64)

    def sample(self, rng: np.random.Generator, slot: int) -> RequestBatch:
        """Draw the requests arriving in ``slot`` (an int in ``[0, inf)``) for every copy."""
        owner = "PoissonDemand.sample"
        check_rng(rng, owner)
        slot = check_int("slot", slot, owner, 0)
        shape = (self.batch_size, self.capacity)
        n = rng.poisson(self._total_rate, size=self.batch_size).astype(np.int64)
        u = rng.random(shape)
        sizes = self.size.sample(rng, shape)
        count, valid, overflow = fit_to_capacity(n, self.capacity)
        if self._cum is None:
            pair = np.zeros(shape, dtype=np.int64)
        else:
            pair = np.searchsorted(self._cum, u, side="right").astype(np.int64)
        arrival = np.full(shape, slot, dtype=np.int64)
        self.arrived += n
        self.dropped += overflow
        return RequestBatch(
            pair=pad(pair, valid, -1),
            src=pad(self.pairs[pair, 0], valid, -1),
            dst=pad(self.pairs[pair, 1], valid, -1),
            size_bits=pad(sizes, valid, 0),
            arrival=pad(arrival, valid, -1),
            deadline=pad(arrival + self.deadline_slots[pair], valid, -1),
            valid=valid,
            count=count,
            overflow=overflow,
        )


# ---------------------------------------------------------------------------------------------
# Trace demand
# ---------------------------------------------------------------------------------------------


class TraceDemand(SlotReplay):
    """Replay of recorded requests, slot by slot, identical in all B copies.

    Parameters
    ----------
    slot, src, dst, size_bits, deadline : array_like of shape (n,)
        Arrival slot (``>= 0``), end-node indices (``>= 0``, distinct), size (in bits,
        ``>= 1``) and absolute deadline slot (``>= slot``) of each request, all integers.
    pairs : array_like of shape (P, 2) or None
        Pairs that ``pair`` indexes. A request matches a pair in either direction. ``None``
        (default) takes the distinct unordered pairs of the trace, sorted.
    batch_size : int
        Number of copies B (default 1), in ``[1, inf)``.
    max_requests_per_slot : int or None
        Capacity R; ``None`` (default) uses the largest number of arrivals in one slot.

    Attributes
    ----------
    pairs : ndarray of shape (P, 2), dtype int64
        Node indices of each pair.
    batch_size, capacity : int
        B and R.
    n_requests : int
        Number of requests in the trace.
    last_slot : int
        Arrival slot of the last request (``-1`` for an empty trace).
    arrived, dropped : ndarray of shape (B,), dtype int64
        Running totals of replayed and of dropped (over-capacity) arrivals per copy.

    Notes
    -----
    Requests of the same slot keep their order in the input; beyond the capacity the later
    ones are dropped and counted in ``overflow`` and ``dropped``. ``sample`` ignores its
    ``rng`` (accepted so that both generators share one interface) and draws nothing.
    """

    def __init__(
        self,
        slot: ArrayLike,
        src: ArrayLike,
        dst: ArrayLike,
        size_bits: ArrayLike,
        deadline: ArrayLike,
        *,
        pairs: ArrayLike | None = None,
        batch_size: int = 1,
        max_requests_per_slot: int | None = None,
    ) -> None:
        owner = "TraceDemand"
        cols = {
            "slot": check_int_array("slot", slot, owner),
            "src": check_int_array("src", src, owner),
            "dst": check_int_array("dst", dst, owner),
            "size_bits": check_int_array("size_bits", size_bits, owner, 1.0, float(_MAX_BITS)),
            "deadline": check_int_array("deadline", deadline, owner),
        }
        n = cols["slot"].reshape(-1).shape[0]
        for name, arr in cols.items():
            if arr.shape != (n,):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {owner} must be a 1-d array of length {n} "
                    f"(one entry per request). Got shape {arr.shape!r} instead."
                )
        for name, bad in (
            ("deadline", cols["deadline"] < cols["slot"]),
            ("dst", cols["src"] == cols["dst"]),
        ):
            if bad.any():
                i = int(np.argmax(bad))
                rule = ">= its arrival slot" if name == "deadline" else "different from src"
                raise InvalidParameterError(
                    f"The {name!r} parameter of {owner} must be {rule} for every request. "
                    f"Got {int(cols[name][i])} at request {i} instead."
                )
        lo = np.minimum(cols["src"], cols["dst"])
        hi = np.maximum(cols["src"], cols["dst"])
        if pairs is None:
            self.pairs = np.unique(np.stack([lo, hi], axis=1).reshape(-1, 2), axis=0)
        else:
            self.pairs = _check_pairs(pairs, owner)
        cols["pair"] = self._pair_index(lo, hi, owner)
        order = self._index_slots(cols["slot"], batch_size, max_requests_per_slot, owner)
        self._src, self._dst, self._size, self._deadline, self._pair = (
            cols[k][order] for k in ("src", "dst", "size_bits", "deadline", "pair")
        )

    def _pair_index(
        self, lo: NDArray[np.int64], hi: NDArray[np.int64], owner: str
    ) -> NDArray[np.int64]:
        """Index in ``self.pairs`` of each unordered request pair ``(lo, hi)``."""
        if lo.size == 0:
            return np.zeros(0, dtype=np.int64)
        size = int(max(hi.max(), self.pairs.max())) + 1
        keys = np.minimum(self.pairs[:, 0], self.pairs[:, 1]) * size + np.maximum(
            self.pairs[:, 0], self.pairs[:, 1]
        )
        order = np.argsort(keys, kind="stable")
        want = lo * size + hi
        pos = np.minimum(np.searchsorted(keys[order], want), keys.size - 1)
        found = keys[order][pos] == want
        if not found.all():
            i = int(np.argmax(~found))
            raise InvalidParameterError(
                f"The 'pairs' parameter of {owner} must contain every pair of the trace. "
                f"Got no pair joining nodes {int(lo[i])} and {int(hi[i])} (request {i})."
            )
        return order[pos].astype(np.int64)

    def sample(self, rng: np.random.Generator | None, slot: int) -> RequestBatch:
        """The requests recorded for ``slot`` (an int in ``[0, inf)``), in every copy."""
        window = self._window(slot, "TraceDemand.sample")
        return RequestBatch(
            pair=window.rows(self._pair, -1),
            src=window.rows(self._src, -1),
            dst=window.rows(self._dst, -1),
            size_bits=window.rows(self._size, 0),
            arrival=window.rows(self._slot, -1),
            deadline=window.rows(self._deadline, -1),
            valid=window.valid,
            count=window.count,
            overflow=window.overflow,
        )


# ---------------------------------------------------------------------------------------------
# CSV traces
# ---------------------------------------------------------------------------------------------


#: Node ids quoted, at most, in a message about an unknown node.
_KNOWN_LIMIT: Final[int] = 8


def _node_lookup(node_ids: Sequence[Hashable], owner: str) -> dict[str, int]:
    """Map ``str(node_id)`` to the node's position; ids must be distinct as text, at least one."""
    lookup = index_ids(node_ids, owner)
    if not lookup:
        raise InvalidParameterError(
            f"The 'node_ids' parameter of {owner} must hold at least one node id. Got none."
        )
    return lookup


def load_trace_csv(
    path: str | Path,
    node_ids: Sequence[Hashable],
    *,
    slot_duration_s: float | None = None,
    pairs: ArrayLike | None = None,
    batch_size: int = 1,
    max_requests_per_slot: int | None = None,
) -> TraceDemand:
    """Read a demand trace from a CSV file.

    Parameters
    ----------
    path : str or Path
        CSV file with a header row. Columns: a time column, ``slot`` (integer slot index,
        ``>= 0``) or ``timestamp`` (in s, ``>= 0``); ``src`` and ``dst`` (node ids, matched
        against ``str(node_id)``); ``size_bits`` (integer, ``>= 1``); ``deadline`` (absolute,
        in the unit of the time column, ``>= `` the arrival). Other columns are ignored.
    node_ids : sequence of hashable
        Node ids in index order (e.g. ``list(graph.nodes)``); a node's index is its position.
    slot_duration_s : float or None
        Slot length (in s, in ``(0, inf)``), required with a ``timestamp`` column: a time
        ``t`` falls in slot ``floor(t / slot_duration_s)``.
    pairs, batch_size, max_requests_per_slot
        Passed to :class:`TraceDemand`.

    Returns
    -------
    demand : TraceDemand
        The trace, ready to replay.

    Raises
    ------
    TraceFormatError
        If the file is missing or empty, lacks a column, or a row holds a non-numeric or
        out-of-range value, an unknown node, or a deadline before its arrival. The message
        names the file, the row (data rows count from 1; the line number is given too) and
        the field.
    """
    owner = "load_trace_csv"
    path = Path(path)
    lookup = _node_lookup(node_ids, owner)
    if slot_duration_s is not None:
        check_range(
            "slot_duration_s",
            slot_duration_s,
            owner=owner,
            low=0.0,
            low_inclusive=False,
            high=math.inf,
            high_inclusive=False,
        )
    allowed: set[tuple[int, int]] | None = None
    if pairs is not None:
        pair_arr = _check_pairs(pairs, owner)
        allowed = {(min(a, b), max(a, b)) for a, b in pair_arr.tolist()}
    expected = f"columns slot (or timestamp), {', '.join(TRACE_COLUMNS)}"
    with open_trace_csv(path, expected) as trace:
        where, header = trace.where, trace.header
        has_slot, has_time = "slot" in header, "timestamp" in header
        missing = [c for c in TRACE_COLUMNS if c not in header]
        if not (has_slot or has_time):
            missing.insert(0, "slot (or timestamp)")
        trace.require(missing)
        if has_slot and has_time:
            raise TraceFormatError(
                f"{where}, line 1 (header): give exactly one time column, 'slot' or "
                f"'timestamp', not both."
            )
        if has_time and slot_duration_s is None:
            raise InvalidParameterError(
                f"The 'slot_duration_s' parameter of {owner} must be a float in the range "
                f"(0.0, inf) for {where}, which has a 'timestamp' column. Got None instead."
            )
        time_col = "slot" if has_slot else "timestamp"
        col = {name: header.index(name) for name in (time_col, *TRACE_COLUMNS)}
        rows: list[tuple[int, int, int, int, int]] = []
        for row in trace.rows(col):
            rows.append(_parse_row(row, time_col, lookup, slot_duration_s))
            if allowed is not None and (min(rows[-1][1:3]), max(rows[-1][1:3])) not in allowed:
                raise TraceFormatError(
                    f"{row.at}: the pair of the 'src' and 'dst' fields must be one of the "
                    f"{len(allowed)} pairs given. Got {row.raw('src')!r} and "
                    f"{row.raw('dst')!r} instead."
                )
    data = np.array(rows, dtype=np.int64).reshape(-1, 5)
    try:
        return TraceDemand(
            *data.T,
            pairs=pairs,
            batch_size=batch_size,
            max_requests_per_slot=max_requests_per_slot,
        )
    except InvalidParameterError as exc:
        raise TraceFormatError(f"{where}: {exc}") from None


def _parse_row(
    row: TraceRow,
    time_col: str,
    lookup: dict[str, int],
    slot_duration_s: float | None,
) -> tuple[int, int, int, int, int]:
    """One validated trace row as ``(slot, src, dst, size_bits, deadline_slot)``."""
    t = row.number(time_col, 0.0, integer=time_col == "slot")
    src, dst = row.node("src", lookup, _KNOWN_LIMIT), row.node("dst", lookup, _KNOWN_LIMIT)
    if src == dst:
        raise row.error("dst", "different from src")
    size = row.number("size_bits", 1.0, integer=True)
    if size > _MAX_BITS:
        raise row.error("size_bits", f"an integer in the range [1, {_MAX_BITS}]")
    deadline = row.number("deadline", 0.0, integer=time_col == "slot")
    if deadline < t:
        raise row.error("deadline", f"at or after the arrival ({time_col} {row.raw(time_col)})")
    if time_col == "timestamp":
        assert slot_duration_s is not None
        slot, deadline_slot = (
            math.floor(t / slot_duration_s),
            math.floor(deadline / slot_duration_s),
        )
    else:
        slot, deadline_slot = int(t), int(deadline)
    return slot, src, dst, int(size), deadline_slot


def write_trace_csv(
    path: str | Path,
    node_ids: Sequence[Hashable],
    *,
    slot: ArrayLike,
    src: ArrayLike,
    dst: ArrayLike,
    size_bits: ArrayLike,
    deadline: ArrayLike,
) -> Path:
    """Write requests as a ``slot``-based CSV trace that :func:`load_trace_csv` reads back.

    Parameters
    ----------
    path : str or Path
        Output file (overwritten).
    node_ids : sequence of hashable
        Node ids in index order; ``src`` and ``dst`` indices are written as ``str(node_id)``.
    slot, src, dst, size_bits, deadline : array_like of shape (n,)
        As in :class:`TraceDemand` (validated by it first).

    Returns
    -------
    path : Path
        The file written.
    """
    trace = TraceDemand(slot, src, dst, size_bits, deadline)  # validates; sorts by slot, stably
    names = [str(n) for n in node_ids]
    _node_lookup(node_ids, "write_trace_csv")
    top = int(max(trace._src.max(initial=-1), trace._dst.max(initial=-1)))
    if top >= len(names):
        raise InvalidParameterError(
            f"The 'src' and 'dst' parameters of write_trace_csv must be node indices in the "
            f"range [0, {len(names) - 1}]. Got {top} instead."
        )
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["slot", *TRACE_COLUMNS])
        for s, a, b, n, d in zip(
            trace._slot, trace._src, trace._dst, trace._size, trace._deadline, strict=True
        ):
            writer.writerow([int(s), names[a], names[b], int(n), int(d)])
    return path


# ---------------------------------------------------------------------------------------------
# From config
# ---------------------------------------------------------------------------------------------


def build_demand(
    config: DemandConfig,
    node_ids: Sequence[Hashable],
    *,
    batch_size: int = 1,
    end_nodes: Sequence[Hashable] | None = None,
) -> PoissonDemand | TraceDemand:
    """Build the demand generator a :class:`DemandConfig` describes.

    Parameters
    ----------
    config : DemandConfig
        The demand parameters.
    node_ids : sequence of hashable
        Node ids in index order; pair entries and trace nodes are matched as ``str(node_id)``.
    batch_size : int
        Number of copies B (default 1), in ``[1, inf)``.
    end_nodes : sequence of hashable or None
        Node ids that may request keys (default: every node). With ``pairs: "all"`` the pairs
        are every unordered pair of end nodes, ordered by node index.

    Returns
    -------
    demand : PoissonDemand or TraceDemand
        The generator; both answer ``sample(rng, slot)`` with a :class:`RequestBatch`.

    Examples
    --------
    >>> demand = build_demand(DemandConfig(rate_per_slot=0.2), ["a", "b", "c"], batch_size=2)
    >>> demand.pairs.tolist()
    [[0, 1], [0, 2], [1, 2]]
    """
    owner = "build_demand"
    if not isinstance(config, DemandConfig):
        raise InvalidParameterError(
            f"The 'config' parameter of {owner} must be a DemandConfig. "
            f"Got {type(config).__name__} instead."
        )
    lookup = _node_lookup(node_ids, owner)

    def index(node: Hashable, name: str) -> int:
        key = str(node).strip()
        if key not in lookup:
            known = describe_ids(lookup, _KNOWN_LIMIT)
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must name nodes among {known}. "
                f"Got {node!r} instead."
            )
        return lookup[key]

    if config.pairs == "all":
        ends = (
            range(len(lookup)) if end_nodes is None else [index(n, "end_nodes") for n in end_nodes]
        )
        ends_arr = np.unique(np.asarray(list(ends), dtype=np.int64))
        if ends_arr.size < 2:
            raise InvalidParameterError(
                f"The 'end_nodes' parameter of {owner} must hold at least 2 distinct nodes. "
                f"Got {ends_arr.size}."
            )
        i, j = np.triu_indices(ends_arr.size, k=1)
        pairs = np.stack([ends_arr[i], ends_arr[j]], axis=1)
    else:
        if not config.pairs:
            raise InvalidParameterError(
                f"The 'pairs' field of DemandConfig must list at least one pair for {owner}. "
                "Got an empty list."
            )
        pairs = np.array([[index(a, "pairs"), index(b, "pairs")] for a, b in config.pairs])
    if config.kind == "trace":
        assert config.trace_path is not None  # enforced by DemandConfig
        return load_trace_csv(
            config.trace_path,
            node_ids,
            slot_duration_s=config.slot_duration_s,
            pairs=pairs,
            batch_size=batch_size,
            max_requests_per_slot=config.max_requests_per_slot,
        )
    return PoissonDemand(
        pairs,
        config.rate_per_slot,
        config.size_bits,
        config.deadline_slots,
        batch_size=batch_size,
        max_requests_per_slot=config.max_requests_per_slot,
    )
