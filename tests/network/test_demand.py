"""Demand generators: Poisson rates, batching, overflow accounting, CSV traces and config."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from qnetrl._validation import InvalidParameterError
from qnetrl.config import ConfigError, invalid_examples
from qnetrl.network.demand import (
    DemandConfig,
    PoissonDemand,
    RequestBatch,
    SizeDistribution,
    TraceDemand,
    TraceFormatError,
    build_demand,
    load_trace_csv,
    write_trace_csv,
)

NODES = ["A", "B", "C", "D"]


def _check_layout(batch: RequestBatch, b: int) -> None:
    """Shapes, dtypes, padding and count consistency of a batch."""
    r = batch.capacity
    for name in ("pair", "src", "dst", "size_bits", "arrival", "deadline"):
        arr = getattr(batch, name)
        assert arr.shape == (b, r) and arr.dtype == np.int64, name
    assert batch.valid.shape == (b, r) and batch.valid.dtype == np.bool_
    assert batch.count.shape == batch.overflow.shape == (b,)
    np.testing.assert_array_equal(batch.valid.sum(axis=1), batch.count)
    # Valid entries first in every row, padding after.
    assert (batch.valid == (np.arange(r) < batch.count[:, None])).all()
    pad = ~batch.valid
    assert (batch.pair[pad] == -1).all() and (batch.size_bits[pad] == 0).all()
    assert (batch.arrival[pad] == -1).all() and (batch.deadline[pad] == -1).all()
    ok = batch.valid
    assert (batch.size_bits[ok] >= 1).all() and (batch.deadline[ok] >= batch.arrival[ok]).all()
    assert (batch.src[ok] != batch.dst[ok]).all()


# --- Poisson demand ---------------------------------------------------------------------------


def test_empirical_rates_match_poisson_rates() -> None:
    pairs = [[0, 1], [0, 2], [1, 3], [2, 3]]
    rates = np.array([0.1, 0.5, 1.2, 0.0])
    b, n_slots = 1000, 40
    demand = PoissonDemand(pairs, rates, 256, 5, batch_size=b)
    rng = np.random.default_rng(0)
    counts = np.zeros(len(pairs))
    per_slot = []
    for t in range(n_slots):
        batch = demand.sample(rng, t)
        _check_layout(batch, b)
        counts += np.bincount(batch.pair[batch.valid], minlength=len(pairs))
        per_slot.append(batch.count)
    exposure = b * n_slots
    for p, lam in enumerate(rates):
        assert abs(counts[p] / exposure - lam) <= 5 * math.sqrt(lam / exposure) + 1e-12, p
    assert counts[3] == 0  # a zero-rate pair never appears
    # Poisson dispersion of the total: variance equals the mean.
    total = np.concatenate(per_slot)
    assert total.var() == pytest.approx(rates.sum(), rel=0.05)
    assert demand.dropped.sum() == 0  # default capacity makes overflow negligible
    np.testing.assert_array_equal(demand.arrived, np.sum(per_slot, axis=0))


def test_pairs_nodes_and_deadlines_follow_the_pair() -> None:
    demand = PoissonDemand([[3, 1], [0, 2]], [2.0, 2.0], 64, [7, 0], batch_size=50)
    batch = demand.sample(np.random.default_rng(1), slot=11)
    ok = batch.valid
    assert ok.any()
    np.testing.assert_array_equal(batch.src[ok], demand.pairs[batch.pair[ok], 0])
    np.testing.assert_array_equal(batch.dst[ok], demand.pairs[batch.pair[ok], 1])
    assert (batch.arrival[ok] == 11).all()
    np.testing.assert_array_equal(batch.deadline[ok], np.where(batch.pair[ok] == 0, 18, 11))
    assert (batch.size_bits[ok] == 64).all()


def test_same_seed_same_requests() -> None:
    def run(seed: int) -> list[np.ndarray]:
        demand = PoissonDemand(
            [[0, 1], [1, 2]], 0.7, {"dist": "geometric", "mean_bits": 100}, 10, batch_size=8
        )
        rng = np.random.default_rng(seed)
        out = []
        for t in range(20):
            batch = demand.sample(rng, t)
            out += [batch.pair, batch.size_bits, batch.valid]
        return out

    a, b, c = run(5), run(5), run(6)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not all(np.array_equal(x, z) for x, z in zip(a, c, strict=True))


def test_overflow_is_counted_never_silently_dropped() -> None:
    demand = PoissonDemand([[0, 1]], 3.0, 8, 2, batch_size=500, max_requests_per_slot=2)
    rng = np.random.default_rng(2)
    kept = over = 0
    for t in range(10):
        batch = demand.sample(rng, t)
        _check_layout(batch, 500)
        assert batch.capacity == 2 and (batch.count <= 2).all()
        kept += batch.count.sum()
        over += batch.overflow.sum()
    assert over > 0
    np.testing.assert_array_equal(demand.dropped.sum(), over)
    assert demand.arrived.sum() == kept + over
    # Kept plus dropped is the full Poisson count: mean 3 per copy and slot.
    assert (kept + over) / 5000 == pytest.approx(3.0, abs=5 * math.sqrt(3.0 / 5000))


def test_default_capacity_bounds_the_overflow_probability() -> None:
    demand = PoissonDemand([[0, 1], [0, 2]], [1.0, 1.25], 8, 2)
    # The capacity R satisfies P(Poisson(2.25) > R) <= 1e-9 < P(Poisson(2.25) > R - 1).
    lam, r = 2.25, demand.capacity
    tail = 1 - sum(math.exp(-lam) * lam**k / math.factorial(k) for k in range(r + 1))
    prev = tail + math.exp(-lam) * lam**r / math.factorial(r)
    assert tail <= 1e-9 < prev


@pytest.mark.parametrize(
    ("spec", "check"),
    [
        ({"dist": "constant", "mean_bits": 1024}, lambda s: (s == 1024).all()),
        (
            {"dist": "uniform", "low_bits": 10, "high_bits": 12},
            lambda s: set(s.ravel().tolist()) == {10, 11, 12},
        ),
        (
            {"dist": "geometric", "mean_bits": 50},
            lambda s: abs(s.mean() - 50) < 5 * 50 / 200 and s.min() >= 1,
        ),
        (
            {"dist": "choice", "values_bits": [128, 256], "probs": [0.25, 0.75]},
            lambda s: (
                set(s.ravel().tolist()) == {128, 256} and abs((s == 256).mean() - 0.75) < 0.02
            ),
        ),
    ],
)
def test_size_distributions(spec: dict, check) -> None:  # type: ignore[no-untyped-def]
    sizes = SizeDistribution.validate_dict(spec).sample(np.random.default_rng(3), (200, 200))
    assert sizes.dtype == np.int64 and sizes.shape == (200, 200)
    assert check(sizes)


def test_size_distribution_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match="'high_bits' field of SizeDistribution"):
        SizeDistribution.validate_dict({"dist": "uniform", "low_bits": 10, "high_bits": 5})
    with pytest.raises(ConfigError, match="values_bits"):
        SizeDistribution.validate_dict({"dist": "choice"})
    with pytest.raises(ConfigError, match="sum to 1"):
        SizeDistribution.validate_dict({"dist": "choice", "values_bits": [1, 2], "probs": [0.5]})


def test_poisson_argument_errors() -> None:
    with pytest.raises(InvalidParameterError, match=r"'pairs' .* shape \(P, 2\)"):
        PoissonDemand([0, 1], 1.0)
    with pytest.raises(InvalidParameterError, match=r"'pairs' .* distinct nodes"):
        PoissonDemand([[0, 1], [2, 2]], 1.0)
    with pytest.raises(InvalidParameterError, match=r"'rates' .* \[0.0, inf\)\. Got -0.5"):
        PoissonDemand([[0, 1]], -0.5)
    with pytest.raises(InvalidParameterError, match="one entry per pair"):
        PoissonDemand([[0, 1], [1, 2]], [1.0, 2.0, 3.0])
    with pytest.raises(InvalidParameterError, match="'size_bits' parameter of PoissonDemand"):
        PoissonDemand([[0, 1]], 1.0, size_bits=0)
    with pytest.raises(InvalidParameterError, match=r"'batch_size' .* int in the range"):
        PoissonDemand([[0, 1]], 1.0, batch_size=0)
    demand = PoissonDemand([[0, 1]], 1.0)
    with pytest.raises(InvalidParameterError, match=r"'slot' parameter of PoissonDemand.sample"):
        demand.sample(np.random.default_rng(0), -1)
    with pytest.raises(InvalidParameterError, match="'rng' parameter"):
        demand.sample(0, 0)  # type: ignore[arg-type]


# --- CSV traces -------------------------------------------------------------------------------


def test_csv_round_trip_replays_the_same_requests(tmp_path: Path) -> None:
    pairs = np.array([[0, 1], [0, 3], [2, 1]])
    demand = PoissonDemand(
        pairs, [0.6, 0.3, 0.9], {"dist": "uniform", "low_bits": 1, "high_bits": 4096}, [3, 9, 0]
    )
    rng = np.random.default_rng(4)
    sampled = [demand.sample(rng, t) for t in range(60)]
    rec = {
        k: np.concatenate([getattr(b, k)[0][b.valid[0]] for b in sampled])
        for k in ("arrival", "src", "dst", "size_bits", "deadline", "pair")
    }
    assert rec["arrival"].size > 50
    path = write_trace_csv(
        tmp_path / "trace.csv",
        NODES,
        slot=rec["arrival"],
        src=rec["src"],
        dst=rec["dst"],
        size_bits=rec["size_bits"],
        deadline=rec["deadline"],
    )
    trace = load_trace_csv(path, NODES, pairs=pairs, batch_size=3)
    assert isinstance(trace, TraceDemand) and trace.n_requests == rec["arrival"].size
    for t, original in enumerate(sampled):
        replay = trace.sample(None, t)
        _check_layout(replay, 3)
        n = original.count[0]
        assert (replay.count == n).all() and (replay.overflow == 0).all()
        for k in ("pair", "src", "dst", "size_bits", "arrival", "deadline"):
            got = getattr(replay, k)
            np.testing.assert_array_equal(got[:, :n], np.tile(getattr(original, k)[0, :n], (3, 1)))
    assert trace.sample(None, 1000).count.sum() == 0  # past the end: nothing arrives


def test_trace_with_timestamps_and_unsorted_rows(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "timestamp,src,dst,size_bits,deadline,comment\n"
        "2.5,C,A,100,4.0,late\n"
        "0.2,A,B,50,0.9,x\n"
        "2.9,B,D,70,2.9,y\n"
        "\n"
        "0.0,D,C,1e3,10,z\n"
    )
    trace = load_trace_csv(path, NODES, slot_duration_s=1.0, max_requests_per_slot=1)
    assert trace.pairs.tolist() == [[0, 1], [0, 2], [1, 3], [2, 3]]
    s0 = trace.sample(None, 0)
    assert s0.count.tolist() == [1] and s0.overflow.tolist() == [1]  # two arrivals, R = 1
    assert s0.src[0, 0] == 0 and s0.dst[0, 0] == 1 and s0.deadline[0, 0] == 0
    s2 = trace.sample(None, 2)
    assert s2.src[0, 0] == 2 and s2.dst[0, 0] == 0 and s2.deadline[0, 0] == 4
    assert s2.pair[0, 0] == 1 and s2.overflow[0] == 1
    assert trace.dropped.tolist() == [2] and trace.arrived.tolist() == [4]
    assert trace.sample(None, 1).count[0] == 0


HEADER = "slot,src,dst,size_bits,deadline\n"


@pytest.mark.parametrize(
    ("body", "pattern"),
    [
        ("0,A,B,10,5\n3,A,Z,10,5\n", r"row 2 \(line 3\): the 'dst' field must be one of the node"),
        (
            "0,A,B,10,5\n1,B,C,-8,5\n",
            r"row 2 \(line 3\): the 'size_bits' field .* \[1, inf\)\. Got '-8'",
        ),
        (
            "0,A,B,10,5\n1,A,B,10,5\n7,B,C,10,6\n",
            r"row 3 \(line 4\): the 'deadline' field must be at or after",
        ),
        (
            "0,A,B,ten,5\n",
            r"row 1 \(line 2\): the 'size_bits' field must be an integer .* Got 'ten'",
        ),
        ("0,A,B,10,5\nx,A,B,10,5\n", r"row 2 \(line 3\): the 'slot' field"),
        ("0,A,B,10.5,5\n", r"row 1 \(line 2\): the 'size_bits' field must be an integer"),
        ("0,A,A,10,5\n", r"row 1 \(line 2\): the 'dst' field must be different from src"),
        ("0,A,B,10\n", r"row 1 \(line 2\): expected 5 fields"),
        ("-1,A,B,10,5\n", r"row 1 \(line 2\): the 'slot' field .* Got '-1'"),
        ("0,A,B,nan,5\n", r"row 1 \(line 2\): the 'size_bits' field"),
    ],
)
def test_malformed_rows_name_file_row_and_field(tmp_path: Path, body: str, pattern: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + body)
    with pytest.raises(TraceFormatError, match=pattern) as info:
        load_trace_csv(path, NODES)
    assert str(path) in str(info.value)
    assert isinstance(info.value, InvalidParameterError)


def test_file_level_trace_errors(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError, match="does not exist"):
        load_trace_csv(tmp_path / "missing.csv", NODES)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(TraceFormatError, match="is empty"):
        load_trace_csv(empty, NODES)
    no_cols = tmp_path / "cols.csv"
    no_cols.write_text("src,dst,size\nA,B,3\n")
    with pytest.raises(
        TraceFormatError,
        match=r"line 1 \(header\): missing column\(s\) slot "
        r"\(or timestamp\), size_bits, deadline",
    ):
        load_trace_csv(no_cols, NODES)
    both = tmp_path / "both.csv"
    both.write_text("slot,timestamp,src,dst,size_bits,deadline\n")
    with pytest.raises(TraceFormatError, match="not both"):
        load_trace_csv(both, NODES)
    stamped = tmp_path / "stamped.csv"
    stamped.write_text("timestamp,src,dst,size_bits,deadline\n0.5,A,B,1,1\n")
    with pytest.raises(InvalidParameterError, match="'slot_duration_s' parameter"):
        load_trace_csv(stamped, NODES)
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "0,A,B,10,5\n1,C,D,10,5\n")
    with pytest.raises(TraceFormatError, match=r"row 2 \(line 3\): the pair .* Got 'C' and 'D'"):
        load_trace_csv(good, NODES, pairs=[[0, 1]])
    empty_trace = tmp_path / "header_only.csv"
    empty_trace.write_text(HEADER)
    assert load_trace_csv(empty_trace, NODES).sample(None, 0).count.tolist() == [0]


# --- config -----------------------------------------------------------------------------------


def test_build_poisson_from_config_all_and_explicit_pairs() -> None:
    demand = build_demand(
        DemandConfig(rate_per_slot=0.3, size_bits=512),
        NODES,
        batch_size=4,
        end_nodes=["A", "C", "D"],
    )
    assert isinstance(demand, PoissonDemand)
    assert demand.pairs.tolist() == [[0, 2], [0, 3], [2, 3]]
    assert demand.rates.tolist() == [0.3] * 3 and demand.batch_size == 4
    batch = demand.sample(np.random.default_rng(5), 0)
    assert (batch.size_bits[batch.valid] == 512).all()
    cfg = DemandConfig.validate_dict({"pairs": [["B", "D"], ["A", "B"]], "deadline_slots": 3})
    demand = build_demand(cfg, NODES)
    assert demand.pairs.tolist() == [[1, 3], [0, 1]] and demand.deadline_slots.tolist() == [3, 3]
    with pytest.raises(InvalidParameterError, match=r"'pairs' parameter of build_demand .* 'Q'"):
        build_demand(DemandConfig.validate_dict({"pairs": [["A", "Q"]]}), NODES)


def test_build_trace_from_config(tmp_path: Path) -> None:
    path = tmp_path / "trace.csv"
    path.write_text(HEADER + "0,A,B,10,5\n0,D,C,20,3\n")
    cfg = DemandConfig.validate_dict({"kind": "trace", "trace_path": str(path)})
    demand = build_demand(cfg, NODES, batch_size=2)
    assert isinstance(demand, TraceDemand) and demand.pairs.shape == (6, 2)
    batch = demand.sample(None, 0)
    assert batch.pair[0].tolist() == [0, 5] and batch.count.tolist() == [2, 2]
    with pytest.raises(ConfigError, match=r"'trace_path' field of DemandConfig.*required"):
        DemandConfig.validate_dict({"kind": "trace"})


@pytest.mark.parametrize(("field", "bad"), invalid_examples(DemandConfig))
def test_every_bounded_field_rejects_out_of_range(field: str, bad: object) -> None:
    with pytest.raises(ConfigError, match=f"'{field}' field of DemandConfig .* in the range"):
        DemandConfig().with_overrides({field: bad})


def test_config_yaml_round_trip(tmp_path: Path) -> None:
    cfg = DemandConfig.validate_dict(
        {"size_bits": {"dist": "choice", "values_bits": [128, 256]}, "pairs": [["A", "B"]]}
    )
    path = tmp_path / "d.yaml"
    path.write_text(cfg.to_yaml())
    assert DemandConfig.from_yaml(path) == cfg
    with pytest.raises(ConfigError, match="Unknown field 'rate'"):
        DemandConfig.validate_dict({"rate": 1.0})
