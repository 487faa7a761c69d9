"""Fault scenarios: exact counts, behaviour mix, seeding, start slots, masks, config errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qnetrl._validation import InvalidParameterError
from qnetrl.config import ConfigError, invalid_examples
from qnetrl.network.faults import (
    BEHAVIOUR_NAMES,
    BYZANTINE_BEHAVIOURS,
    Behaviour,
    FaultScenario,
    FaultScenarioConfig,
    LinkCutEvent,
    fault_count,
    sample_faults,
)
from qnetrl.network.link_model import link_table
from qnetrl.network.topology import ring


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------------------------
# Counts, mix, seeding
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fraction", "n_nodes", "expected"),
    [(0.0, 10, 0), (0.3, 10, 3), (0.25, 6, 2), (0.15, 10, 2), (0.05, 10, 1), (0.35, 10, 4)],
)
def test_fault_count_rounds_to_nearest_with_halves_up(
    fraction: float, n_nodes: int, expected: int
) -> None:
    assert fault_count(fraction, n_nodes) == expected


@pytest.mark.parametrize(("fraction", "n_nodes"), [(0.1, 10), (0.2, 12), (0.3, 7), (0.25, 6)])
def test_every_copy_has_exactly_the_rounded_count(fraction: float, n_nodes: int) -> None:
    cfg = FaultScenarioConfig(byzantine_fraction=fraction, crash_fraction=0.1)
    sc = sample_faults(cfg, n_nodes, [0, 1], _rng(), batch_size=200)
    assert isinstance(sc, FaultScenario)
    assert sc.behaviour.shape == sc.start_slot.shape == (200, n_nodes)
    np.testing.assert_array_equal(sc.byzantine.sum(axis=1), fault_count(fraction, n_nodes))
    np.testing.assert_array_equal(sc.crashed.sum(axis=1), fault_count(0.1, n_nodes))
    assert not (sc.byzantine & sc.crashed).any()
    # Each Byzantine node has exactly one Byzantine behaviour.
    codes = sc.behaviour[sc.byzantine]
    assert set(np.unique(codes).tolist()) <= {int(b) for b in BYZANTINE_BEHAVIOURS}


def test_behaviour_mix_holds_in_expectation() -> None:
    mix = {"flip": 3.0, "drop": 1.0, "leak": 2.0, "delay": 0.0}
    cfg = FaultScenarioConfig(byzantine_fraction=0.3, behaviour_mix=mix)
    sc = sample_faults(cfg, 20, None, _rng(4), batch_size=2000)
    codes = sc.behaviour[sc.byzantine]
    n = codes.size
    assert n == 2000 * 6
    for name, weight in [("flip", 3.0), ("drop", 1.0), ("leak", 2.0)]:
        p = weight / 6.0
        share = np.mean(codes == int(Behaviour[name.upper()]))
        assert abs(share - p) < 5.0 * math.sqrt(p * (1 - p) / n)
    for absent in ("delay", "false_qber", "false_pool"):  # zero or missing weight: never drawn
        assert not np.any(codes == int(Behaviour[absent.upper()]))


def test_which_nodes_are_faulty_is_uniform_over_eligible_nodes() -> None:
    cfg = FaultScenarioConfig(byzantine_fraction=0.2)
    sc = sample_faults(cfg, 10, [0, 9], _rng(8), batch_size=4000)
    freq = sc.byzantine.mean(axis=0)
    assert np.all(freq[[0, 9]] == 0.0)
    # 2 of the 8 eligible nodes per copy: each with probability 1/4.
    np.testing.assert_allclose(freq[1:9], 0.25, atol=5 * math.sqrt(0.25 * 0.75 / 4000))


def test_same_seed_same_scenario() -> None:
    cfg = FaultScenarioConfig(byzantine_fraction=0.3, crash_fraction=0.1, start_slot_jitter=5)
    a = sample_faults(cfg, 12, [0, 5], _rng(7), batch_size=16)
    b = sample_faults(cfg, 12, [0, 5], _rng(7), batch_size=16)
    c = sample_faults(cfg, 12, [0, 5], _rng(8), batch_size=16)
    np.testing.assert_array_equal(a.behaviour, b.behaviour)
    np.testing.assert_array_equal(a.start_slot, b.start_slot)
    assert not np.array_equal(a.behaviour, c.behaviour)


# ---------------------------------------------------------------------------------------------
# Eligibility and start slots
# ---------------------------------------------------------------------------------------------


def test_end_nodes_are_honest_by_default_and_optionally_not() -> None:
    pairs = np.array([[0, 3], [3, 7]])
    cfg = FaultScenarioConfig(byzantine_fraction=0.3, crash_fraction=0.2)
    sc = sample_faults(cfg, 10, pairs, _rng(1), batch_size=500)
    assert sc.behaviour[:, [0, 3, 7]].sum() == 0
    assert np.all(np.isinf(sc.start_slot[:, [0, 3, 7]]))
    loose = cfg.model_copy(update={"end_nodes_honest": False})
    sc2 = sample_faults(loose, 10, pairs, _rng(1), batch_size=500)
    assert sc2.byzantine[:, [0, 3, 7]].any()


def test_start_slot_and_jitter_are_respected() -> None:
    cfg = FaultScenarioConfig(byzantine_fraction=0.3, crash_fraction=0.1, start_slot=10)
    sc = sample_faults(cfg, 10, [], _rng(2), batch_size=50)
    faulty = sc.behaviour != 0
    np.testing.assert_array_equal(sc.start_slot[faulty], 10.0)
    assert np.all(np.isinf(sc.start_slot[~faulty]))
    for slot in (0, 9):
        np.testing.assert_array_equal(sc.active_codes(slot), 0)
        assert not sc.active(slot, Behaviour.CRASH).any()
        assert sc.active(slot, Behaviour.HONEST).all()
    np.testing.assert_array_equal(sc.active_codes(10), sc.behaviour)
    np.testing.assert_array_equal(sc.active(10, Behaviour.CRASH), sc.crashed)
    # Per-copy slots (copies reset at different times).
    slots = np.where(np.arange(50) % 2 == 0, 3, 12)
    on = sc.active(slots, Behaviour.CRASH)
    assert not on[::2].any()
    np.testing.assert_array_equal(on[1::2], sc.crashed[1::2])

    jit = cfg.model_copy(update={"start_slot_jitter": 4})
    sj = sample_faults(jit, 10, [], _rng(2), batch_size=400)
    starts = sj.start_slot[sj.behaviour != 0]
    assert set(np.unique(starts).tolist()) == {10.0, 11.0, 12.0, 13.0, 14.0}


def test_active_without_behaviour_gives_a_mask_per_behaviour() -> None:
    cfg = FaultScenarioConfig(byzantine_fraction=0.3, crash_fraction=0.2)
    sc = sample_faults(cfg, 10, [], _rng(3), batch_size=20)
    masks = sc.active(0)
    assert isinstance(masks, dict)
    assert set(masks) == set(BYZANTINE_BEHAVIOURS) | {Behaviour.CRASH}
    total = sum(m.astype(int) for m in masks.values())
    np.testing.assert_array_equal(total, (sc.behaviour != 0).astype(int))
    both = sc.active(0, Behaviour.FLIP | Behaviour.DROP)
    np.testing.assert_array_equal(both, masks[Behaviour.FLIP] | masks[Behaviour.DROP])


# ---------------------------------------------------------------------------------------------
# Path and link masks
# ---------------------------------------------------------------------------------------------


def _fixed_scenario() -> FaultScenario:
    """Two copies of 6 nodes: copy 0 has FLIP on node 2, copy 1 has LEAK on node 0 (an end)."""
    behaviour = np.zeros((2, 6), dtype=np.int64)
    behaviour[0, 2] = int(Behaviour.FLIP)
    behaviour[1, 0] = int(Behaviour.LEAK)
    start = np.where(behaviour != 0, 5.0, math.inf)
    return FaultScenario(behaviour=behaviour, start_slot=start, config=FaultScenarioConfig())


def test_path_has_looks_at_intermediate_relays_only() -> None:
    sc = _fixed_scenario()
    paths = np.array(
        [
            [[0, 1, 2, 3], [0, 5, 4, 3], [2, 1, 0, -1]],  # relay 2 / no / 2 is the source
            [[0, 1, 2, 3], [3, 0, 1, -1], [1, 2, -1, -1]],  # 0 is an end / relay / one hop
        ]
    )
    np.testing.assert_array_equal(
        sc.path_has(Behaviour.FLIP, paths, 5), [[True, False, False], [False, False, False]]
    )
    np.testing.assert_array_equal(
        sc.path_has(Behaviour.LEAK, paths, 5), [[False, False, False], [False, True, False]]
    )
    assert not sc.path_has(Behaviour.FLIP, paths, 4).any()  # before the start slot
    np.testing.assert_array_equal(
        sc.path_has(Behaviour.FLIP, paths, np.array([5, 4])),
        [[True, False, False], [False, False, False]],
    )
    with pytest.raises(InvalidParameterError, match="'path_nodes'"):
        sc.path_has(Behaviour.FLIP, paths[:1], 5)
    with pytest.raises(InvalidParameterError, match="'behaviour'"):
        sc.path_has(2, paths, 5)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="'slot'"):
        sc.path_has(Behaviour.FLIP, paths, -1)


def test_link_touches_and_scheduled_cuts() -> None:
    g = ring(6)
    t = link_table(g)
    sc = _fixed_scenario()
    touch = sc.link_touches(Behaviour.FLIP, t, 5)
    expected = np.zeros((2, 6), dtype=bool)
    expected[0] = (t.u == 2) | (t.v == 2)
    np.testing.assert_array_equal(touch, expected)
    cfg = FaultScenarioConfig(
        link_cuts=[[1, 2, 3, 2], {"u": 4, "v": 5, "slot": 0, "duration_slots": math.inf}]
    )
    assert cfg.link_cuts[0] == LinkCutEvent(u=1, v=2, slot=3, duration_slots=2.0)
    cut_sc = sample_faults(cfg, 6, [], _rng(), batch_size=2)
    l12, l45 = t.edge_index[(1, 2)], t.edge_index[(4, 5)]
    for slot, on12 in [(2, False), (3, True), (4, True), (5, False)]:
        mask = cut_sc.link_cut_mask(t, slot)
        assert mask.shape == (2, 6)
        assert np.all(mask[:, l12] == on12)
        assert np.all(mask[:, l45])  # permanent from slot 0
        assert mask.sum() == 2 * (1 + on12)
    bad = sample_faults(FaultScenarioConfig(link_cuts=[[0, 3, 0, 1]]), 6, [], _rng())
    with pytest.raises(InvalidParameterError, match=r"'link_cuts'.*share no link"):
        bad.link_cut_mask(t, 0)
    with pytest.raises(InvalidParameterError, match="'link_cuts'"):
        sample_faults(FaultScenarioConfig(link_cuts=[[0, 9, 0, 1]]), 6, [], _rng())


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "bad"), invalid_examples(FaultScenarioConfig))
def test_config_errors_name_the_field(field: str, bad: object) -> None:
    with pytest.raises(ConfigError, match=f"'{field}' field of FaultScenarioConfig must be"):
        FaultScenarioConfig.validate_dict({field: bad})


@pytest.mark.parametrize(
    ("data", "field", "hint"),
    [
        ({"byzantine_fraction": 0.31}, "byzantine_fraction", r"\[0.0, 0.3\]"),
        ({"byzantine_fraction": -0.1}, "byzantine_fraction", r"\[0.0, 0.3\]"),
        ({"behaviour_mix": {"bribe": 1.0}}, "behaviour_mix", "unknown behaviour 'bribe'"),
        ({"behaviour_mix": {"flip": 0.0}}, "behaviour_mix", "at least one weight"),
        ({"behaviour_mix": {"flip": -1.0}}, "behaviour_mix", r"\[0.0, inf\)"),
        (
            {"link_cuts": [[0, 1, 2, 0.5]]},
            "link_cuts.0.duration_slots",
            "greater than or equal to 1",
        ),
    ],
)
def test_config_specific_errors(data: dict[str, object], field: str, hint: str) -> None:
    with pytest.raises(ConfigError, match=rf"'{field}' field of FaultScenarioConfig.*{hint}"):
        FaultScenarioConfig.validate_dict(data)


def test_sample_faults_rejects_impossible_or_bad_arguments() -> None:
    cfg = FaultScenarioConfig(byzantine_fraction=0.3, crash_fraction=0.5)
    with pytest.raises(InvalidParameterError, match="'byzantine_fraction' and 'crash_fraction'"):
        sample_faults(cfg, 10, [0, 1, 2], _rng())
    ok = FaultScenarioConfig(byzantine_fraction=0.3)
    with pytest.raises(InvalidParameterError, match="'n_nodes'"):
        sample_faults(ok, 0, [], _rng())
    with pytest.raises(InvalidParameterError, match="'batch_size'"):
        sample_faults(ok, 5, [], _rng(), batch_size=0)
    with pytest.raises(InvalidParameterError, match="'rng'"):
        sample_faults(ok, 5, [], 0)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match=r"'end_nodes'.*\[0, 4\]"):
        sample_faults(ok, 5, [5], _rng())
    with pytest.raises(InvalidParameterError, match="'config'"):
        sample_faults({"byzantine_fraction": 0.1}, 5, [], _rng())  # type: ignore[arg-type]
    assert BEHAVIOUR_NAMES == ("flip", "drop", "false_qber", "false_pool", "delay", "leak")
