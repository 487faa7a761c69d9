"""Building blocks of the demand generators: capacity, padding, slot replay, trace rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import poisson

from qnetrl._validation import InvalidParameterError
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


def test_poisson_capacity_is_the_smallest_safe_row() -> None:
    for rate in (0.0, 0.3, 4.0, 250.0):
        r = poisson_capacity(None, rate, "X")
        assert r >= 1 and poisson.sf(r, rate) <= OVERFLOW_PROBABILITY
        if r > 1:
            assert poisson.sf(r - 1, rate) > OVERFLOW_PROBABILITY
    assert poisson_capacity(7, 1e6, "X") == 7
    with pytest.raises(InvalidParameterError, match="'max_requests_per_slot' parameter of X"):
        poisson_capacity(0, 1.0, "X")


def test_fit_to_capacity_and_pad() -> None:
    count, valid, overflow = fit_to_capacity(np.array([0, 2, 5]), 3)
    assert count.tolist() == [0, 2, 3] and overflow.tolist() == [0, 0, 2]
    assert valid.tolist() == [[False] * 3, [True, True, False], [True] * 3]
    padded = pad(np.arange(9, dtype=np.int64).reshape(3, 3), valid, -1)
    assert padded.dtype == np.int64 and padded.tolist() == [[-1] * 3, [3, 4, -1], [6, 7, 8]]
    assert pad(np.ones((3, 3)), valid, 0.0).dtype == np.float64


class _Replay(SlotReplay):
    def __init__(self, slot: list[int], tag: list[int], batch_size: int, cap: int | None) -> None:
        order = self._index_slots(np.asarray(slot, dtype=np.int64), batch_size, cap, "R")
        self.tag = np.asarray(tag, dtype=np.int64)[order]


def test_slot_replay_sorts_stably_fits_and_counts() -> None:
    rep = _Replay([3, 0, 3, 3], [10, 11, 12, 13], 2, None)
    assert (rep.capacity, rep.n_requests, rep.last_slot) == (3, 4, 3)
    w = rep._window(3, "R.sample")
    assert w.rows(rep.tag, -1).tolist() == [[10, 12, 13]] * 2  # input order kept within a slot
    assert w.valid.all() and w.count.tolist() == [3, 3] and w.overflow.tolist() == [0, 0]
    small = _Replay([3, 0, 3, 3], [10, 11, 12, 13], 1, 2)
    w = small._window(3, "R.sample")
    assert w.rows(small.tag, -1).tolist() == [[10, 12]] and w.overflow.tolist() == [1]
    w = small._window(1, "R.sample")
    assert w.rows(small.tag, -1).tolist() == [[-1, -1]] and not w.valid.any()
    assert small.arrived.tolist() == [3] and small.dropped.tolist() == [1]
    empty = _Replay([], [], 1, None)
    assert (empty.capacity, empty.n_requests, empty.last_slot) == (1, 0, -1)
    with pytest.raises(InvalidParameterError, match=r"'slot' parameter of R\.sample"):
        small._window(-1, "R.sample")
    with pytest.raises(InvalidParameterError, match="'batch_size' parameter of R"):
        _Replay([0], [1], 0, None)


def test_argument_checks_name_the_parameter() -> None:
    assert check_int("n", np.int64(3), "X", 1) == 3
    for bad in (True, 0, 1.0, "2"):
        with pytest.raises(InvalidParameterError, match=r"'n' parameter of X .* \[1, inf\)"):
            check_int("n", bad, "X", 1)
    with pytest.raises(InvalidParameterError, match="'rng' parameter of X"):
        check_rng(np.random.RandomState(0), "X")
    assert check_int_array("a", [[1.0, 2.0]], "X").tolist() == [[1, 2]]
    with pytest.raises(InvalidParameterError, match=r"must hold integers .* Got np.float64\(1.5\)"):
        check_int_array("a", [1.0, 1.5], "X")
    assert index_ids(["a", " b", 3], "X") == {"a": 0, "b": 1, "3": 2}
    with pytest.raises(InvalidParameterError, match=r"Got 1 twice \(positions 0 and 2\)"):
        index_ids([1, 2, 1], "X")
    assert describe_ids({"a": 0, "b": 1, "c": 2}, 2) == "{'a', 'b', ... (3 in all)}"


def test_trace_rows_name_file_row_and_field(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("t,node,x\n1.5,a,0.5\n\n-1,a,0.5\n2,q,7\n")
    with open_trace_csv(path, "the columns t, node, x") as trace:
        assert trace.where == f"Trace file {str(path)!r}" and trace.header == ["t", "node", "x"]
        trace.require([])
        with pytest.raises(TraceFormatError, match=r"missing column\(s\) y, z"):
            trace.require(["y", "z"])
        rows = list(trace.rows({"t": 0, "node": 1, "x": 2}))
    assert [r.at.rsplit(", ", 1)[1] for r in rows] == [
        "row 1 (line 2)",
        "row 3 (line 4)",
        "row 4 (line 5)",
    ]
    assert rows[0].number("t", 0.0) == 1.5 and rows[0].node("node", {"a": 4}, 8) == 4
    with pytest.raises(TraceFormatError, match=r"row 1 \(line 2\): the 't' field must be an int"):
        rows[0].number("t", 0.0, integer=True)
    with pytest.raises(TraceFormatError, match=r"row 3 .* 't' field .* \[0, inf\)\. Got '-1'"):
        rows[1].number("t", 0.0)
    with pytest.raises(TraceFormatError, match=r"'x' field must be a number in the range \[0, 1\]"):
        rows[2].number("x", 0.0, 1.0)
    with pytest.raises(TraceFormatError, match=r"'node' field must be one of the node ids \{'a'"):
        rows[2].node("node", {"a": 0}, 8)
    with pytest.raises(TraceFormatError, match=r"expected 3 fields as in the header\. Got 2"):
        TraceRow(["1", "a"], {}, "here", 3)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(TraceFormatError, match="is empty; expected a header row with cols"):
        with open_trace_csv(tmp_path / "empty.csv", "cols"):
            pass
    with pytest.raises(TraceFormatError, match="does not exist"):
        with open_trace_csv(tmp_path / "none.csv", "cols"):
            pass
