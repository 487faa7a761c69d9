"""SlotControls of the network simulator: backward compatibility, each control, validation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from qnetrl._validation import InvalidParameterError
from qnetrl.network.demand import DemandConfig
from qnetrl.network.faults import FaultScenarioConfig
from qnetrl.network.link_model import PROTOCOL_MDI, link_key_bits
from qnetrl.network.metrics import Outcome
from qnetrl.network.simulator import NetworkSimConfig, NetworkSimulator, SlotControls


def _grid(**overrides: Any) -> NetworkSimConfig:
    base: dict[str, Any] = {
        "topology": "grid",
        "topology_params": {"rows": 3, "cols": 3, "spacing_km": 30.0},
        "end_nodes": [1, 7],
        "slots": 60,
        "batch_size": 2,
        "pool_capacity_bits": 5000.0,
        "demand": DemandConfig(rate_per_slot=0.3, deadline_slots=10),
    }
    base.update(overrides)
    return NetworkSimConfig(**base)


def _run(cfg: NetworkSimConfig, seed: int, controls: Any = None) -> NetworkSimulator:
    sim = NetworkSimulator(cfg, seed)
    for _ in range(cfg.slots):
        sim.step(controls)
    return sim


def _summary(sim: NetworkSimulator) -> dict[str, float]:
    return {k: v for k, v in sim.result().summary().items() if v == v}


@pytest.mark.parametrize("fluct", [False, True])
def test_empty_controls_and_peeking_leave_every_number_unchanged(fluct: bool) -> None:
    cfg = _grid(
        faults=FaultScenarioConfig(byzantine_fraction=0.2),
        fluctuations={"enabled": fluct},
        routing="multipath",
        n_paths=2,
        threshold=1,
    )
    plain = NetworkSimulator(cfg, 5).run()
    empty = _run(cfg, 5, SlotControls())
    peek = NetworkSimulator(cfg, 5)
    for _ in range(cfg.slots):
        peek.upcoming_conditions()
        peek.upcoming_conditions()  # twice: drawn once
        peek.step()
    assert _summary(empty) == {k: v for k, v in plain.summary().items() if v == v}
    assert _summary(peek) == _summary(empty)
    np.testing.assert_array_equal(peek.pools, empty.pools)


def test_intensity_and_protocol_controls_set_the_link_key() -> None:
    cfg = _grid(mdi_links="all", slots=3)
    sim = NetworkSimulator(cfg, 0)
    ctl = SlotControls(intensity_index=np.zeros((2, 12), dtype=np.int64), protocol=PROTOCOL_MDI)
    sim.step(ctl)
    assert sim.link_slot is not None
    want = link_key_bits(
        sim.table, cfg.link, intensity_index=0, protocol=PROTOCOL_MDI, batch_size=2
    )
    np.testing.assert_allclose(sim.link_slot.key_bits, want.key_bits)
    assert (sim.link_slot.mu == cfg.link.intensity_levels[0]).all()
    # MDI-QKD has a lower QBER (no detector noise at the users) and less key than decoy BB84.
    plain = NetworkSimulator(cfg, 0)
    plain.step()
    assert plain.link_slot is not None
    assert (sim.link_slot.qber < plain.link_slot.qber).all()
    assert sim.link_slot.key_bits.sum() < plain.link_slot.key_bits.sum()


def test_mdi_only_where_the_link_allows_it() -> None:
    sim = NetworkSimulator(_grid(), 0)  # grid links are decoy-BB84 links, mdi_links="topology"
    assert not sim.mdi_allowed.any()
    with pytest.raises(InvalidParameterError, match="'protocol' field of SlotControls"):
        sim.step(SlotControls(protocol=PROTOCOL_MDI))
    sim.step(SlotControls(protocol=0))  # decoy BB84 is always allowed


def test_infinite_node_penalty_keeps_a_relay_off_every_path() -> None:
    cfg = _grid(slots=40, candidate_paths=3)
    penalty = np.zeros((2, 9))
    penalty[:, 4] = np.inf  # the centre node, on the shortest 1 -> 7 path
    sim = NetworkSimulator(cfg, 1)
    used: list[np.ndarray] = []
    for _ in range(cfg.slots):
        sim.step(SlotControls(node_penalty=penalty))
        if sim.last_deliveries is not None:
            used.append(sim.last_deliveries.nodes)
    assert used, "nothing was served"
    assert not any((n == 4).any() for n in used)
    plain = NetworkSimulator(cfg, 1)
    through_centre = False
    for _ in range(cfg.slots):
        plain.step()
        d = plain.last_deliveries
        through_centre |= d is not None and bool((d.nodes == 4).any())
    assert through_centre


def test_path_penalty_prefers_the_unpenalised_candidate() -> None:
    cfg = _grid(candidate_paths=3, slots=30)
    sim = NetworkSimulator(cfg, 2)
    pen = np.zeros((2, sim.paths.n_pairs, sim.paths.k))
    pen[:, :, 0] = 1e6  # the shortest path becomes a last resort
    first = sim.paths.nodes[:, 0]
    served_on_first = 0
    served = 0
    for _ in range(cfg.slots):
        sim.step(SlotControls(path_penalty=pen))
        d = sim.last_deliveries
        if d is not None:
            served += d.copy.size
            served_on_first += int((d.nodes[:, 0] == first[d.pair]).all(axis=1).sum())
    assert served > 0 and served_on_first == 0


def test_discounting_the_liar_lifts_a_false_qber_denial_of_service() -> None:
    cfg = NetworkSimConfig(
        slots=80,
        faults=FaultScenarioConfig(byzantine_fraction=0.2, behaviour_mix={"false_qber": 1}),
    )
    blocked = NetworkSimulator(cfg, 0).run().summary()
    assert blocked["served"] == 0
    sim = NetworkSimulator(cfg, 0)
    liar = sim.faults.byzantine  # the Tokyo hub
    ctl = SlotControls(discounted=liar)
    for _ in range(cfg.slots):
        sim.step(ctl)
    s = sim.result().summary()
    assert s["served"] > 0 and s["availability"] > 0.9
    # Discounting both endpoints of a link restores the conservative rule.
    both = SlotControls(discounted=np.ones_like(liar))
    sim = _run(cfg, 0, both)
    assert sim.result().summary()["served"] == 0


def test_deliveries_record_the_share_outcomes() -> None:
    cfg = _grid(faults=FaultScenarioConfig(byzantine_fraction=0.3, behaviour_mix={"flip": 1}))
    sim = NetworkSimulator(cfg, 3)
    seen = 0
    for _ in range(cfg.slots):
        sim.step()
        d = sim.last_deliveries
        if d is None:
            continue
        seen += d.copy.size
        ok = d.outcome == Outcome.OK
        np.testing.assert_array_equal(d.share_ok[:, 0], ok)
        assert (d.outcome[~d.share_ok[:, 0]] == Outcome.WRONG).all()
    assert seen > 0
    counts = sim.copy_counters()
    assert counts["outcomes"].sum() == seen
    assert counts["secure_bits"].shape == (2,)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("intensity_index", np.full((2, 12), 9), "'intensity_index' field"),
        ("intensity_index", np.zeros((3, 12), dtype=np.int64), "must broadcast"),
        ("node_penalty", -np.ones(9), "'node_penalty' parameter of SlotControls"),
        ("path_penalty", np.zeros((2, 5)), "'path_penalty' field"),
        ("discounted", np.zeros(9), "'discounted' field"),
    ],
)
def test_bad_controls_name_the_field(field: str, value: Any, match: str) -> None:
    sim = NetworkSimulator(_grid(), 0)
    with pytest.raises(InvalidParameterError, match=match):
        sim.step(SlotControls(**{field: value}))
    with pytest.raises(InvalidParameterError, match="SlotControls or None"):
        sim.step({"intensity_index": 0})  # type: ignore[arg-type]
