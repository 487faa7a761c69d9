"""Message bus: event order, seeding, every fault kind, stabilisation, authentication, config."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from qnetrl.config import ConfigError, invalid_examples
from qnetrl.consensus.bus import BusFaultConfig, MessageBus, PartitionWindow, Protocol
from qnetrl.consensus.messages import Keyring, Message, MsgType, Prepare, digest


class Ping(Message):
    """Test message with one integer payload."""

    __slots__ = ("k",)

    def __init__(self, k: int) -> None:
        super().__init__(MsgType.STATUS, "rec")
        self.k = k

    def plain(self) -> list[Any]:
        return [self.k]


class Recorder(Protocol):
    name = "rec"

    def __init__(self, owner: int, bus: MessageBus, keys: Keyring) -> None:
        super().__init__(owner, bus, keys.identity(owner))
        self.got: list[tuple[float, int, int]] = []

    def received_message(self, src: int, msg: Message) -> None:
        assert isinstance(msg, Ping)
        self.got.append((self.bus.now, src, msg.k))


class Liar(Recorder):
    """Equivocates: destination 2 gets payload k + 1000."""

    def equivocate(self, msg: Message, dst: int) -> Message | None:
        assert isinstance(msg, Ping)
        return Ping(msg.k + 1000) if dst == 2 else None


def _net(cfg: BusFaultConfig, seed: int = 0, n: int = 3) -> tuple[MessageBus, list[Recorder]]:
    bus = MessageBus(cfg, np.random.default_rng(seed))
    keys = Keyring(n, seed=1)
    return bus, [Recorder(i, bus, keys) for i in range(n)]


def _blast(nodes: list[Recorder], count: int, src: int = 0, dst: int = 1) -> None:
    for k in range(count):
        nodes[src].send(dst, Ping(k))


def test_events_run_in_time_order_with_ties_in_scheduling_order() -> None:
    bus, _ = _net(BusFaultConfig())
    seen: list[str] = []
    bus.schedule(0.2, seen.append, "c")
    bus.schedule(0.1, seen.append, "a")
    bus.schedule(0.1, seen.append, "b")
    cancelled = bus.schedule(0.15, seen.append, "x")
    cancelled.cancel()
    assert bus.run(0.12) == 2 and bus.now == 0.12
    assert bus.run() == 1
    assert seen == ["a", "b", "c"] and bus.now == pytest.approx(0.2)


def test_fault_free_delivery_is_fifo_with_the_base_latency() -> None:
    bus, nodes = _net(BusFaultConfig(latency_s=0.004))
    _blast(nodes, 5)
    bus.run()
    assert [k for _, _, k in nodes[1].got] == [0, 1, 2, 3, 4]
    assert all(t == pytest.approx(0.004) for t, _, _ in nodes[1].got)
    assert bus.stats.sent == bus.stats.delivered == 5


def test_same_seed_same_trace_under_every_fault() -> None:
    cfg = BusFaultConfig(
        jitter_s=0.001,
        drop_prob=0.2,
        delay_prob=0.3,
        reorder_prob=0.2,
        duplicate_prob=0.2,
        corrupt_prob=0.1,
    )
    traces = []
    for seed in (5, 5, 6):
        bus, nodes = _net(cfg, seed)
        _blast(nodes, 200)
        bus.run()
        traces.append(nodes[1].got)
    assert traces[0] == traces[1]
    assert traces[0] != traces[2]


def test_drop_and_duplicate_rates_match_their_probabilities() -> None:
    bus, nodes = _net(BusFaultConfig(drop_prob=0.3, duplicate_prob=0.2))
    m = 3000
    _blast(nodes, m)
    bus.run()
    se = math.sqrt(0.3 * 0.7 / m)
    assert abs(bus.stats.dropped / m - 0.3) < 4 * se
    survivors = m - bus.stats.dropped
    assert abs(bus.stats.duplicated / survivors - 0.2) < 4 * math.sqrt(0.16 / survivors)
    assert len(nodes[1].got) == survivors + bus.stats.duplicated


def test_delay_stays_in_its_range_and_reorder_lets_later_messages_overtake() -> None:
    bus, nodes = _net(BusFaultConfig(latency_s=0.001, delay_prob=1.0, delay_max_s=0.01))
    _blast(nodes, 300)
    bus.run()
    lat = np.array([t for t, _, _ in nodes[1].got])
    assert lat.min() >= 0.001 and lat.max() <= 0.011 and lat.std() > 0.001

    bus, nodes = _net(BusFaultConfig(reorder_prob=0.3, reorder_window_s=0.05))
    for k in range(100):
        bus.schedule(k * 0.001, nodes[0].send, 1, Ping(k))
    bus.run()
    order = [k for _, _, k in nodes[1].got]
    assert sorted(order) == list(range(100)) and order != list(range(100))
    assert bus.stats.reordered > 0


def test_partition_cuts_only_cross_messages_inside_its_window() -> None:
    cfg = BusFaultConfig(partitions=(PartitionWindow(nodes=(2,), start_s=0.1, end_s=0.2),))
    bus, nodes = _net(cfg)
    for t in (0.05, 0.15, 0.25):
        bus.schedule(t, nodes[0].send, 2, Ping(int(t * 100)))  # crosses the cut
        bus.schedule(t, nodes[0].send, 1, Ping(int(t * 100)))  # same side
    bus.run()
    assert [k for _, _, k in nodes[2].got] == [5, 25]
    assert [k for _, _, k in nodes[1].got] == [5, 15, 25]
    assert bus.stats.dropped == 1


def test_faults_stop_at_the_stabilisation_time() -> None:
    cfg = BusFaultConfig(
        drop_prob=0.95,
        delay_prob=1.0,
        duplicate_prob=1.0,
        corrupt_prob=1.0,
        partitions=(PartitionWindow(nodes=(1,), start_s=0.0, end_s=math.inf),),
        stabilisation_time_s=1.0,
    )
    bus, nodes = _net(cfg)
    for k in range(50):
        bus.schedule(1.0 + k * 1e-3, nodes[0].send, 1, Ping(k))
    bus.run()
    assert [k for _, _, k in nodes[1].got] == list(range(50))
    assert bus.stats.dropped == bus.stats.corrupted == bus.stats.rejected == 0


def test_corrupted_and_tampered_messages_are_rejected_by_the_mac() -> None:
    bus, nodes = _net(BusFaultConfig(corrupt_prob=1.0))
    _blast(nodes, 20)
    bus.run()
    assert nodes[1].got == [] and bus.stats.rejected == 20

    bus, nodes = _net(BusFaultConfig())
    msg = Ping(7)
    tag = nodes[0].identity.mac(1, msg.wire())
    bus.send(0, 1, Ping(8), tag)  # content changed after the MAC was computed
    bus.send(2, 1, msg, tag)  # claims another sender
    bus.send(0, 1, msg, nodes[0].identity.mac(2, msg.wire()))  # MAC for another receiver
    bus.send(0, 1, msg, tag)
    bus.run()
    assert [k for _, _, k in nodes[1].got] == [7] and bus.stats.rejected == 3


def test_signed_message_with_a_changed_field_fails_verification() -> None:
    keys = Keyring(4, seed=3)
    p = Prepare(0, 5, digest(b"req"), 2, b"").sign(keys.identity(2))
    assert p.verify(keys)
    tampered = Prepare(0, 5, digest(b"other"), 2, b"", p.signature)
    assert not tampered.verify(keys)
    wrong_signer = Prepare(0, 5, digest(b"req"), 3, b"", p.signature)
    assert not wrong_signer.verify(keys)
    assert (
        Keyring(4, seed=3).public_key(2).public_bytes_raw() == keys.public_key(2).public_bytes_raw()
    )
    assert (
        Keyring(4, seed=4).public_key(2).public_bytes_raw() != keys.public_key(2).public_bytes_raw()
    )


def test_only_configured_equivocators_send_per_destination_variants() -> None:
    keys = Keyring(3, seed=1)
    for equivocators, expected in (((0,), [1000]), ((), [0])):
        bus = MessageBus(BusFaultConfig(equivocators=equivocators), np.random.default_rng(0))
        liar, one, two = Liar(0, bus, keys), Recorder(1, bus, keys), Recorder(2, bus, keys)
        liar.multicast(range(3), Ping(0))
        bus.run()
        assert [k for _, _, k in one.got] == [0]
        assert [k for _, _, k in two.got] == expected
        assert bus.stats.equivocated == len(equivocators)


def test_stop_predicate_and_event_budget_end_a_run() -> None:
    bus, nodes = _net(BusFaultConfig())
    _blast(nodes, 10)
    assert bus.run(stop=lambda: len(nodes[1].got) >= 3) == 3
    assert bus.run(max_events=2) == 2
    assert bus.run() == 5


@pytest.mark.parametrize(("field", "bad"), invalid_examples(BusFaultConfig))
def test_every_bounded_field_rejects_out_of_range(field: str, bad: object) -> None:
    with pytest.raises(ConfigError, match=f"'{field}' field of BusFaultConfig must be"):
        BusFaultConfig.validate_dict({field: bad})


def test_partition_window_must_end_after_it_starts() -> None:
    with pytest.raises(ConfigError, match=r"end_s=0\.1 must be at least start_s=0\.2"):
        BusFaultConfig.validate_dict({"partitions": [{"nodes": [1], "start_s": 0.2, "end_s": 0.1}]})


def test_bad_bus_arguments_name_the_parameter() -> None:
    with pytest.raises(TypeError, match="'rng' parameter of MessageBus"):
        MessageBus(BusFaultConfig(), rng=0)  # type: ignore[arg-type]
    bus, _ = _net(BusFaultConfig())
    with pytest.raises(ValueError, match=r"'delay_s' parameter of MessageBus\.schedule"):
        bus.schedule(-1.0, print)
    with pytest.raises(ValueError, match=r"'node' parameter of MessageBus\.register"):
        Recorder(0, bus, Keyring(3))
