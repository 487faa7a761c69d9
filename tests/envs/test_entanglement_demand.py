"""DPEM request generators: empirical rates, burst and cycle shapes, seeding, CSV traces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qnetrl._validation import InvalidParameterError
from qnetrl.envs.entanglement import (
    BurstyRequests,
    DiurnalRequests,
    EntanglementCore,
    EntanglementEnvConfig,
    PoissonRequests,
    TraceRequests,
    load_request_trace,
    write_request_trace,
)
from qnetrl.envs.entanglement.demand import TraceFormatError


def counts_per_node(gen, slots: int, seed: int = 0) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Arrivals per (slot, copy, node), shape (T, B, N)."""
    rng = np.random.default_rng(seed)
    gen.reset(rng)
    out = np.zeros((slots, gen.batch_size, gen.n_nodes))
    b = np.arange(gen.batch_size)[:, None]
    for t in range(slots):
        batch = gen.sample(rng, t)
        np.add.at(
            out[t], (np.broadcast_to(b, batch.src.shape)[batch.valid], batch.src[batch.valid]), 1
        )
    return out


def test_poisson_empirical_rates_match_per_node() -> None:
    rates = np.array([0.05, 0.2, 0.5, 1.0, 0.0])
    gen = PoissonRequests(5, rates, batch_size=100)
    c = counts_per_node(gen, 200)
    n = 200 * 100
    mean = c.reshape(n, 5).mean(axis=0)
    assert np.all(np.abs(mean - rates) <= 5 * np.sqrt(rates / n) + 1e-12)
    # Poisson: variance equals the mean
    var = c.reshape(n, 5).var(axis=0)
    np.testing.assert_allclose(var[:4], rates[:4], rtol=0.1)
    assert gen.arrived.sum() == c.sum() and gen.dropped.sum() == 0


def test_destinations_fidelities_and_deadlines() -> None:
    gen = PoissonRequests(
        4, 2.0, fidelity_low=0.7, fidelity_high=0.8, deadline_slots=6, batch_size=50
    )
    rng = np.random.default_rng(1)
    gen.reset(rng)
    dst_counts = np.zeros((4, 4))
    fids = []
    for t in range(40):
        batch = gen.sample(rng, t)
        v = batch.valid
        assert (batch.src[v] != batch.dst[v]).all()
        assert (batch.arrival[v] == t).all() and (batch.deadline[v] == t + 6).all()
        assert (batch.src[~v] == -1).all() and (batch.fidelity[~v] == 0.0).all()
        np.add.at(dst_counts, (batch.src[v], batch.dst[v]), 1)
        fids.append(batch.fidelity[v])
    f = np.concatenate(fids)
    assert f.min() >= 0.7 and f.max() <= 0.8
    assert abs(f.mean() - 0.75) < 5 * 0.1 / np.sqrt(12 * f.size)
    off = dst_counts[~np.eye(4, dtype=bool)].reshape(4, 3)
    expected = off.sum(axis=1, keepdims=True) / 3  # uniform over the 3 other nodes
    assert np.all(np.abs(off - expected) < 5 * np.sqrt(expected))


def test_bursty_mean_rate_and_burst_persistence() -> None:
    gen = BurstyRequests(3, 0.1, 2.0, p_on=0.1, p_off=0.3, batch_size=200)
    pi = 0.1 / 0.4
    np.testing.assert_allclose(gen.mean_rates(), (1 - pi) * 0.1 + pi * 2.0)
    rng = np.random.default_rng(2)
    gen.reset(rng)
    states = []
    counts = np.zeros((300, 200, 3))
    b = np.arange(200)[:, None]
    for t in range(300):
        states.append(gen.bursting.copy())
        batch = gen.sample(rng, t)
        np.add.at(
            counts[t], (np.broadcast_to(b, batch.src.shape)[batch.valid], batch.src[batch.valid]), 1
        )
    st = np.array(states)
    assert abs(st.mean() - pi) < 0.02
    on = st[:-1] & ~st[1:]  # bursting -> quiet
    assert abs(on.sum() / st[:-1].sum() - 0.3) < 0.02
    up = ~st[:-1] & st[1:]
    assert abs(up.sum() / (~st[:-1]).sum() - 0.1) < 0.01
    assert abs(counts.mean() - gen.mean_rates()[0]) < 0.03
    # arrivals are correlated in time (bursts), unlike Poisson: positive lag-1 autocorrelation
    x = counts - counts.mean()
    rho = (x[1:] * x[:-1]).mean() / x.var()
    assert rho > 0.1


def test_diurnal_rates_follow_the_sinusoid_and_average_to_the_base() -> None:
    gen = DiurnalRequests(2, [0.5, 1.0], amplitude=0.6, period_slots=20.0, batch_size=400)
    c = counts_per_node(gen, 40, seed=3)  # two whole periods
    lam = np.array([gen.rates(t)[0] for t in range(40)])  # (T, N)
    np.testing.assert_allclose(lam.mean(axis=0), [0.5, 1.0])
    np.testing.assert_allclose(lam[5], np.array([0.5, 1.0]) * 1.6)  # peak at a quarter period
    emp = c.mean(axis=1)  # (T, N)
    assert np.all(np.abs(emp - lam) < 5 * np.sqrt(lam / 400) + 1e-9)
    np.testing.assert_allclose(c.mean(axis=(0, 1)), [0.5, 1.0], rtol=0.05)


def test_same_seed_same_requests_and_overflow_is_counted() -> None:
    def draw(seed: int) -> list[np.ndarray]:
        gen = BurstyRequests(6, 0.2, 1.0, batch_size=4)
        rng = np.random.default_rng(seed)
        gen.reset(rng)
        return [gen.sample(rng, t).dst for t in range(20)]

    for a, b in zip(draw(8), draw(8), strict=True):
        np.testing.assert_array_equal(a, b)
    assert any((a != b).any() for a, b in zip(draw(8), draw(9), strict=True))
    gen = PoissonRequests(3, 5.0, batch_size=10, max_requests_per_slot=2)
    rng = np.random.default_rng(0)
    gen.reset(rng)
    batch = gen.sample(rng, 0)
    assert (batch.count == 2).all() and (batch.overflow > 0).any()
    assert gen.dropped.sum() == batch.overflow.sum()
    assert gen.arrived.sum() == (batch.count + batch.overflow).sum()


def test_default_capacity_bounds_the_overflow_probability() -> None:
    gen = PoissonRequests(100, 0.05)
    assert gen.capacity >= 5 + 5 * np.sqrt(5)
    assert PoissonRequests(5, 0.0).capacity == 1


def test_generator_argument_errors() -> None:
    with pytest.raises(InvalidParameterError, match="'rates' parameter of PoissonRequests"):
        PoissonRequests(3, -1.0)
    with pytest.raises(InvalidParameterError, match=r"shape \(3,\)"):
        PoissonRequests(3, [1.0, 2.0])
    with pytest.raises(InvalidParameterError, match="'fidelity_high' parameter"):
        PoissonRequests(3, 1.0, fidelity_low=0.9, fidelity_high=0.8)
    with pytest.raises(InvalidParameterError, match="'p_on' parameter of BurstyRequests"):
        BurstyRequests(3, 0.1, 1.0, p_on=0.0)
    with pytest.raises(InvalidParameterError, match="'amplitude' parameter of DiurnalRequests"):
        DiurnalRequests(3, 1.0, amplitude=1.5)
    with pytest.raises(InvalidParameterError, match="'n_nodes' parameter"):
        PoissonRequests(1, 1.0)
    gen = PoissonRequests(3, 1.0)
    with pytest.raises(InvalidParameterError, match="'rng' parameter"):
        gen.sample(None, 0)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="'dst' parameter of TraceRequests"):
        TraceRequests([0], [1], [1], [0.5], n_nodes=3)


# --------------------------------------------------------------------------- CSV traces


def test_csv_round_trip_replays_the_requests(tmp_path: Path) -> None:
    names = ["alice", "bob", "carol"]
    path = write_request_trace(
        tmp_path / "t.csv",
        names,
        timestamp=[0.2, 7.9, 3.0, 3.1],
        src=[0, 2, 1, 1],
        dst=[1, 0, 2, 0],
        fidelity=[0.8, 0.9, 0.7, 0.75],
    )
    trace = load_request_trace(path, names, slot_s=2.0, deadline_slots=4, batch_size=2)
    assert trace.n_requests == 4 and trace.last_slot == 3 and trace.capacity == 2
    batch = trace.sample(None, 1)  # 3.0 and 3.1 s fall in slot 1, in file order
    assert batch.src.tolist() == [[1, 1], [1, 1]] and batch.dst[0].tolist() == [2, 0]
    np.testing.assert_allclose(batch.fidelity[0], [0.7, 0.75])
    assert (batch.deadline[batch.valid] == 5).all()
    assert trace.sample(None, 2).count.tolist() == [0, 0]


def test_trace_drives_the_core(tmp_path: Path) -> None:
    path = write_request_trace(
        tmp_path / "t.csv", 12, timestamp=[0.0, 5.0, 5.5], src=[0, 3, 4], dst=[5, 1, 2],
        fidelity=[0.6, 0.6, 0.6],
    )  # fmt: skip
    cfg = EntanglementEnvConfig(n_nodes=12, demand="trace", trace_path=str(path), horizon=5)
    core = EntanglementCore(cfg, 2)
    core.reset(np.random.default_rng(0))
    assert core.head.valid[:, 0].all() and (core.head.dst[:, 0] == 5).all()
    core.step(np.zeros((2, 12), dtype=np.int64))
    assert (core.totals["arrived"] == 3).all()
    assert core.demand_history[0, [3, 4], -1].tolist() == [1, 1]


@pytest.mark.parametrize(
    ("body", "pattern"),
    [
        ("x,0,1,0.5\n", r"row 1 \(line 2\): the 'timestamp' field must be a number"),
        ("1.0,0,1,0.5\n-2,0,1,0.5\n", r"row 2 \(line 3\): the 'timestamp' field"),
        ("1.0,0,7,0.5\n", r"row 1 \(line 2\): the 'dst' field must be one of the node ids"),
        ("1.0,2,2,0.5\n", r"row 1 \(line 2\): the 'dst' field must be different from src"),
        (
            "1.0,0,1,1.5\n",
            r"row 1 \(line 2\): the 'fidelity' field must be a number in the range \[0, 1\]",
        ),
        ("1.0,0,1\n", r"row 1 \(line 2\): expected 4 fields as in the header. Got 3"),
        ("1.0,0,1,0.5\n\n2.0,0,1,nan\n", r"row 3 \(line 4\): the 'fidelity' field"),
    ],
)
def test_malformed_rows_name_file_row_and_field(tmp_path: Path, body: str, pattern: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,src,dst,fidelity\n" + body)
    with pytest.raises(TraceFormatError, match=pattern) as err:
        load_request_trace(path, 3, slot_s=1.0)
    assert "bad.csv" in str(err.value)


def test_file_level_trace_errors(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError, match="does not exist"):
        load_request_trace(tmp_path / "none.csv", 3, slot_s=1.0)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(TraceFormatError, match="is empty"):
        load_request_trace(tmp_path / "empty.csv", 3, slot_s=1.0)
    (tmp_path / "cols.csv").write_text("timestamp,src,fid\n")
    with pytest.raises(
        TraceFormatError, match=r"line 1 \(header\): missing column\(s\) dst, fidelity"
    ):
        load_request_trace(tmp_path / "cols.csv", 3, slot_s=1.0)
    (tmp_path / "ok.csv").write_text("src,dst,fidelity,timestamp,note\n0,1,0.5,0.0,x\n")
    assert load_request_trace(tmp_path / "ok.csv", 3, slot_s=1.0).n_requests == 1
    with pytest.raises(InvalidParameterError, match="'slot_s' parameter of load_request_trace"):
        load_request_trace(tmp_path / "ok.csv", 3, slot_s=0.0)
