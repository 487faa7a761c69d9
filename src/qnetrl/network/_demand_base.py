"""Building blocks of the demand generators: argument checks, fixed-capacity batches, CSV traces.

Every demand generator answers ``sample(rng, slot)`` with arrays of shape (B, R) (batch copies
by request entries) and a ``valid`` mask, counts the arrivals that do not fit in the capacity R
instead of dropping them silently, and replays recorded traces read from CSV files whose errors
name the file, the row and the field. The machinery behind that is written once here:
:func:`poisson_capacity` picks R for Poisson arrivals, :func:`fit_to_capacity` and :func:`pad`
fill a batch, :class:`SlotReplay` serves a recorded trace slot by slot, and
:func:`open_trace_csv` with :class:`TraceRow` reads trace files.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import pdtrc

from qnetrl._validation import InvalidParameterError, check_range

__all__ = [
    "OVERFLOW_PROBABILITY",
    "SlotReplay",
    "SlotWindow",
    "TraceCSV",
    "TraceFormatError",
    "TraceRow",
    "check_int",
    "check_int_array",
    "check_rng",
    "describe_ids",
    "fit_to_capacity",
    "index_ids",
    "open_trace_csv",
    "pad",
    "poisson_capacity",
]

#: Probability, per copy and per slot, that Poisson arrivals exceed the default capacity R.
OVERFLOW_PROBABILITY: Final[float] = 1e-9

_T = TypeVar("_T", bound=np.generic)


class TraceFormatError(InvalidParameterError):
    """A demand trace file is missing, malformed, or holds an out-of-range value."""


# ---------------------------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------------------------


def check_rng(rng: object, owner: str) -> np.random.Generator:
    """Return ``rng`` after checking it is a ``numpy.random.Generator``."""
    if not isinstance(rng, np.random.Generator):
        raise InvalidParameterError(
            f"The 'rng' parameter of {owner} must be an instance of numpy.random.Generator. "
            f"Got {rng!r} instead."
        )
    return rng


def check_int(name: str, value: object, owner: str, low: int) -> int:
    """Return ``value`` as an int after checking it is an integer (not a bool) in ``[low, inf)``."""
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= low
    if not ok:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be an int in the range [{low}, inf). "
            f"Got {value!r} instead."
        )
    return int(value)  # type: ignore[arg-type]


def check_int_array(
    name: str, value: ArrayLike, owner: str, low: float = 0.0, high: float | None = None
) -> NDArray[np.int64]:
    """Return ``value`` as int64 after checking its entries are finite integers in ``[low, high]``.

    ``high=None`` means no upper bound. The shape is kept; the message quotes the bounds as
    given (``0`` or ``0.0``).
    """
    arr = check_range(name, value, owner=owner, low=low, high=high)
    bad = ~np.isfinite(arr) | (arr != np.round(arr))
    if bad.any():
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must hold integers in the range "
            f"[{low}, {'inf' if high is None else high}]. Got {arr[bad].flat[0]!r} instead."
        )
    return arr.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Fixed-capacity batches
# ---------------------------------------------------------------------------------------------


def poisson_capacity(value: int | None, total_rate: float, owner: str) -> int:
    """Capacity R of a batch row: ``value`` (the ``max_requests_per_slot`` argument of
    ``owner``, an int in ``[1, inf)``) or, if None, the smallest R >= 1 with
    ``P(Poisson(total_rate) > R) <= OVERFLOW_PROBABILITY`` (``total_rate`` in requests/slot).
    """
    if value is not None:
        return check_int("max_requests_per_slot", value, owner, 1)
    top = int(total_rate + 12.0 * math.sqrt(total_rate) + 40.0)
    k = np.arange(top + 1)
    tail = pdtrc(k, total_rate)  # P(N > k)
    return max(1, int(k[np.argmax(tail <= OVERFLOW_PROBABILITY)]))


def fit_to_capacity(
    arrivals: NDArray[np.int64], capacity: int
) -> tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.int64]]:
    """Fit the arrivals of every copy, ndarray of shape (B,), into rows of R = ``capacity``.

    Returns ``count`` (B,), the arrivals kept, ``min(arrivals, R)``; ``valid`` (B, R), true
    for the first ``count`` entries of each row; and ``overflow`` (B,), ``arrivals - count``.
    """
    count = np.minimum(arrivals, capacity)
    valid = np.arange(capacity) < count[:, None]
    return count, valid, arrivals - count


def pad(values: NDArray[_T], valid: NDArray[np.bool_], fill: float) -> NDArray[_T]:
    """``values`` where ``valid``, ``fill`` elsewhere (the padding of a batch)."""
    return np.where(valid, values, fill)


@dataclass(frozen=True, slots=True)
class SlotWindow:
    """The requests of one slot of a sorted trace, fitted to rows of R entries in B copies.

    ``start`` is the position of the slot's first request in the sorted trace, ``arrivals``
    the number recorded for the slot, ``batch_size`` and ``capacity`` are B and R.
    """

    start: int
    arrivals: int
    batch_size: int
    capacity: int

    @property
    def kept(self) -> int:
        """Requests that fit in a row, ``min(arrivals, R)``."""
        return min(self.arrivals, self.capacity)

    def rows(self, values: NDArray[_T], fill: float) -> NDArray[_T]:
        """The slot's entries of a sorted trace column, padded with ``fill``, shape (B, R)."""
        out = np.full(self.capacity, fill, dtype=values.dtype)
        out[: self.kept] = values[self.start : self.start + self.kept]
        return np.broadcast_to(out, (self.batch_size, self.capacity)).copy()

    @property
    def valid(self) -> NDArray[np.bool_]:
        """True for the kept entries, ndarray of shape (B, R)."""
        row = np.arange(self.capacity) < self.kept
        return np.broadcast_to(row, (self.batch_size, self.capacity)).copy()

    @property
    def count(self) -> NDArray[np.int64]:
        """Kept entries per copy, ndarray of shape (B,)."""
        return np.full(self.batch_size, self.kept, dtype=np.int64)

    @property
    def overflow(self) -> NDArray[np.int64]:
        """Requests dropped for lack of capacity per copy, ndarray of shape (B,)."""
        return np.full(self.batch_size, self.arrivals - self.kept, dtype=np.int64)


class SlotReplay:
    """Base of the trace replays: recorded requests served slot by slot, alike in all B copies.

    A subclass validates its request columns, passes their arrival slots to
    :meth:`_index_slots` (which sorts them stably and sets the attributes annotated below),
    reorders its other columns with the order it returns, and builds each batch from
    :meth:`_window`. R defaults to the largest number of arrivals in one slot (at least 1).
    """

    _slot: NDArray[np.int64]
    batch_size: int
    capacity: int
    n_requests: int
    last_slot: int
    arrived: NDArray[np.int64]
    dropped: NDArray[np.int64]

    def _index_slots(
        self,
        slot: NDArray[np.int64],
        batch_size: int,
        max_requests_per_slot: int | None,
        owner: str,
    ) -> NDArray[np.intp]:
        """Sort the arrival slots (stably), check B and R; return the sorting order."""
        order = np.argsort(slot, kind="stable")
        self._slot = slot[order]
        self.batch_size = check_int("batch_size", batch_size, owner, 1)
        if max_requests_per_slot is None:
            per_slot = np.unique(self._slot, return_counts=True)[1]
            self.capacity = max(1, int(per_slot.max()) if per_slot.size else 0)
        else:
            self.capacity = check_int("max_requests_per_slot", max_requests_per_slot, owner, 1)
        self.n_requests = int(slot.shape[0])
        self.last_slot = int(self._slot[-1]) if self.n_requests else -1
        self.arrived = np.zeros(self.batch_size, dtype=np.int64)
        self.dropped = np.zeros(self.batch_size, dtype=np.int64)
        return order

    def _window(self, slot: int, owner: str) -> SlotWindow:
        """The requests recorded for ``slot`` (an int in ``[0, inf)``), added to the totals."""
        slot = check_int("slot", slot, owner, 0)
        lo = int(np.searchsorted(self._slot, slot, side="left"))
        hi = int(np.searchsorted(self._slot, slot, side="right"))
        window = SlotWindow(lo, hi - lo, self.batch_size, self.capacity)
        self.arrived += window.arrivals
        self.dropped += window.arrivals - window.kept
        return window


# ---------------------------------------------------------------------------------------------
# CSV traces
# ---------------------------------------------------------------------------------------------


def index_ids(node_ids: Iterable[Hashable], owner: str) -> dict[str, int]:
    """Map ``str(node_id).strip()`` to the node's position, refusing ids that collide as text."""
    lookup: dict[str, int] = {}
    for i, node in enumerate(node_ids):
        key = str(node).strip()
        if key in lookup:
            raise InvalidParameterError(
                f"The 'node_ids' parameter of {owner} must hold distinct ids. "
                f"Got {node!r} twice (positions {lookup[key]} and {i})."
            )
        lookup[key] = i
    return lookup


def describe_ids(lookup: dict[str, int], limit: int) -> str:
    """The first ``limit`` ids of ``lookup`` as a set literal, with the total when cut short."""
    names = list(lookup)
    more = f", ... ({len(names)} in all)" if len(names) > limit else ""
    return "{" + ", ".join(repr(n) for n in names[:limit]) + more + "}"


class TraceRow:
    """One data row of a CSV trace; its readers' errors name the file, the row and the field.

    ``fields`` is the row as :mod:`csv` read it, ``col`` the position of each named column,
    ``at`` where the row is (``"Trace file 'a.csv', row 3 (line 4)"``); a row whose length is
    not ``n_columns``, the header's, is refused.
    """

    def __init__(self, fields: list[str], col: dict[str, int], at: str, n_columns: int) -> None:
        if len(fields) != n_columns:
            raise TraceFormatError(
                f"{at}: expected {n_columns} fields as in the header. Got {len(fields)}."
            )
        self.fields, self.col, self.at = fields, col, at

    def raw(self, field: str) -> str:
        """The field's text, stripped."""
        return self.fields[self.col[field]].strip()

    def error(self, field: str, allowed: str) -> TraceFormatError:
        """The error for a ``field`` that is not ``allowed`` (e.g. ``"a number in [0, 1]"``)."""
        return TraceFormatError(
            f"{self.at}: the {field!r} field must be {allowed}. Got {self.raw(field)!r} instead."
        )

    def number(
        self, field: str, low: float, high: float | None = None, *, integer: bool = False
    ) -> float:
        """The field as a finite number in ``[low, high]`` (``None``: no upper bound)."""
        upper = "inf)" if high is None else f"{high:g}]"
        kind = "an integer" if integer else "a number"
        allowed = f"{kind} in the range [{low:g}, {upper}"
        try:
            value = float(self.raw(field))
        except ValueError:
            raise self.error(field, allowed) from None
        out_of_range = value < low or (high is not None and value > high)
        if not math.isfinite(value) or out_of_range or (integer and not value.is_integer()):
            raise self.error(field, allowed)
        return value

    def node(self, field: str, lookup: dict[str, int], limit: int) -> int:
        """The index of the node the field names (listing up to ``limit`` ids if unknown)."""
        raw = self.raw(field)
        if raw not in lookup:
            raise self.error(field, f"one of the node ids {describe_ids(lookup, limit)}")
        return lookup[raw]


@dataclass(frozen=True)
class TraceCSV:
    """A CSV trace open for reading (see :func:`open_trace_csv`).

    ``where`` starts every error message (``"Trace file '<path>'"``); ``header`` holds the
    column names, stripped.
    """

    where: str
    header: list[str]
    _reader: Any

    def require(self, missing: Sequence[str]) -> None:
        """Raise :class:`TraceFormatError` naming the ``missing`` columns, if there are any."""
        if missing:
            raise TraceFormatError(
                f"{self.where}, line 1 (header): missing column(s) {', '.join(missing)}. "
                f"Got columns {self.header!r}."
            )

    def rows(self, col: dict[str, int]) -> Iterator[TraceRow]:
        """The data rows, counted from 1, with blank lines skipped."""
        for r, fields in enumerate(self._reader, start=1):
            if not fields or all(not f.strip() for f in fields):
                continue  # blank line
            at = f"{self.where}, row {r} (line {self._reader.line_num})"
            yield TraceRow(fields, col, at, len(self.header))


@contextmanager
def open_trace_csv(path: Path, expected: str) -> Iterator[TraceCSV]:
    """Open the CSV trace at ``path`` and read its header row; closed when the block ends.

    Raises :class:`TraceFormatError` if the file does not exist, cannot be read, or is empty;
    ``expected`` names the columns in that last message (``"the columns a, b"``).
    """
    where = f"Trace file {str(path)!r}"
    try:
        handle = path.open(newline="", encoding="utf-8")
    except FileNotFoundError:
        raise TraceFormatError(f"{where} does not exist.") from None
    except OSError as exc:
        raise TraceFormatError(f"{where} cannot be read: {exc}.") from None
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise TraceFormatError(f"{where} is empty; expected a header row with {expected}.")
        yield TraceCSV(where, [h.strip() for h in header], reader)
