"""Per-slot link key model: link table layout, agreement with the physics layer, conditions."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from qnetrl._validation import InvalidParameterError
from qnetrl.config import ConfigError, invalid_examples
from qnetrl.network.fluctuations import FluctuationConfig, LinkConditions, LinkFluctuations
from qnetrl.network.link_model import (
    PROTOCOL_DECOY,
    PROTOCOL_MDI,
    LinkModelConfig,
    LinkSlot,
    link_key_bits,
    link_table,
)
from qnetrl.network.topology import TopologyError, add_link, ring, tokyo_qkd
from qnetrl.physics.channel import fiber_transmittance
from qnetrl.physics.qkd import GYS, MDI_LCQ, decoy_bb84, decoy_bb84_eta, mdi_qkd, mdi_qkd_eta

CFG = LinkModelConfig()


def _mixed_graph() -> nx.Graph:
    """Four links: decoy/GYS, MDI/MDI_LCQ, MDI with the builders' GYS default, decoy/MDI_LCQ.

    networkx lists the edges by adjacency: A-B, A-D, B-C, C-D (links 0 to 3).
    """
    g = nx.Graph(name="mixed")
    add_link(g, "A", "B", 50.0, alpha_db_per_km=0.21)
    add_link(g, "B", "C", 60.0, protocol="mdi-qkd", detector="MDI_LCQ")
    add_link(g, "C", "D", 80.0, protocol="mdi-qkd")
    add_link(g, "D", "A", 20.0, alpha_db_per_km=0.3, detector="MDI_LCQ")
    return g


def _conditions(
    shape: tuple[int, int],
    *,
    extra_db: np.ndarray | float = 0.0,
    eff: np.ndarray | float = 1.0,
    source: np.ndarray | float = 1.0,
    cut: np.ndarray | None = None,
) -> LinkConditions:
    extra = np.broadcast_to(np.asarray(extra_db, dtype=float), shape).copy()
    cut_arr = np.zeros(shape, dtype=bool) if cut is None else cut
    factor = np.where(cut_arr, 0.0, 10.0 ** (-extra / 10.0))
    return LinkConditions(
        extra_loss_db=np.where(cut_arr, math.inf, extra),
        cut=cut_arr,
        stressed=np.zeros(shape, dtype=bool),
        transmittance_factor=factor,
        source_rate_factor=np.broadcast_to(np.asarray(source, dtype=float), shape).copy(),
        efficiency_factor=np.broadcast_to(np.asarray(eff, dtype=float), shape).copy(),
    )


# ---------------------------------------------------------------------------------------------
# Link table
# ---------------------------------------------------------------------------------------------


def test_link_table_of_tokyo_follows_graph_order() -> None:
    g = tokyo_qkd()
    t = link_table(g)
    assert t.nodes == tuple(g.nodes)
    assert (t.n_nodes, t.n_links) == (4, 3)
    for i, (a, b, data) in enumerate(g.edges(data=True)):
        assert (t.nodes[t.u[i]], t.nodes[t.v[i]]) == (a, b)
        assert t.edge_index[(a, b)] == t.edge_index[(b, a)] == i
        assert t.length_km[i] == data["length_km"]
        assert t.alpha_db_per_km[i] == data["alpha_db_per_km"]
    assert len(t.edge_index) == 2 * t.n_links
    assert t.u.dtype == t.v.dtype == np.int64
    assert t.protocol.dtype == np.int8 and np.all(t.protocol == PROTOCOL_DECOY)
    assert t.detector == ("GYS",) * 3
    np.testing.assert_allclose(t.nominal_loss_db, [13.5, 6.0, 6.5])
    np.testing.assert_allclose(t.fiber_eta, fiber_transmittance(t.length_km, t.alpha_db_per_km))
    np.testing.assert_allclose(t.detector_efficiency, GYS.eta_bob)
    with pytest.raises(ValueError, match="read-only"):
        t.length_km[0] = 1.0
    again = link_table(tokyo_qkd())
    assert again.edge_index == t.edge_index
    np.testing.assert_array_equal(again.u, t.u)


def test_link_table_parameter_sets_per_protocol() -> None:
    t = link_table(_mixed_graph())
    assert [t.edge_index[e] for e in (("A", "B"), ("A", "D"), ("B", "C"), ("C", "D"))] == [
        0,
        1,
        2,
        3,
    ]
    assert (PROTOCOL_DECOY, PROTOCOL_MDI) == (0, 1)
    np.testing.assert_array_equal(t.protocol, [0, 0, 1, 1])
    assert t.detector == ("GYS", "MDI_LCQ", "MDI_LCQ", "GYS")
    # Each link runs its own kind's named set; for the other protocol, that protocol's default.
    assert t.decoy_sets == (GYS,) and t.mdi_sets == (MDI_LCQ,)
    np.testing.assert_array_equal(t.decoy_group, 0)
    np.testing.assert_array_equal(t.mdi_group, 0)
    np.testing.assert_allclose(
        t.detector_efficiency, [GYS.eta_bob, GYS.eta_bob, MDI_LCQ.eta_d, MDI_LCQ.eta_d]
    )


def test_link_table_rejects_bad_graphs() -> None:
    g = nx.Graph()
    g.add_edge("A", "B", length_km=-1.0, alpha_db_per_km=0.2, detector="GYS", protocol="x")
    with pytest.raises(TopologyError, match="length_km"):
        link_table(g)


# ---------------------------------------------------------------------------------------------
# Agreement with the physics layer
# ---------------------------------------------------------------------------------------------


def test_nominal_key_equals_physics_at_hand_picked_links() -> None:
    t = link_table(_mixed_graph())
    s = link_key_bits(t, CFG)
    assert isinstance(s, LinkSlot)
    assert s.key_bits.shape == (1, 4)
    per_slot = CFG.rep_rate_hz * CFG.slot_s
    # Link 0: 50 km of GYS fibre (0.21 dB/km) is the published Ma et al. (2005) point,
    # 2.2260e-4 bits per pulse at mu = 0.48.
    assert s.key_rate[0, 0] == pytest.approx(2.2260e-4, rel=1e-3)
    assert s.key_bits[0, 0] == pytest.approx(decoy_bb84(50.0).key_rate * per_slot, rel=1e-12)
    # Link 2 (B-C): MDI-QKD with MDI_LCQ's own 0.2 dB/km, relay at the midpoint.
    mdi = mdi_qkd(60.0, mu=0.48)
    assert s.key_bits[0, 2] == pytest.approx(mdi.key_rate * per_slot, rel=1e-12)
    assert s.qber[0, 2] == pytest.approx(mdi.qber, rel=1e-12)
    # Link 1 (A-D): decoy BB84 over 20 km at 0.3 dB/km (GYS detector, link attenuation).
    eta = GYS.eta_bob * 10 ** (-0.3 * 20.0 / 10.0)
    ref = decoy_bb84_eta(eta, mu=0.48)
    assert s.eta[0, 1] == pytest.approx(eta, rel=1e-12)
    assert s.key_bits[0, 1] == pytest.approx(ref.key_rate * per_slot, rel=1e-12)
    assert s.qber[0, 1] == pytest.approx(ref.qber, rel=1e-12)
    # Link 3 (C-D): the reported eta of an MDI link is the whole fibre times one detector.
    assert s.eta[0, 3] == pytest.approx(MDI_LCQ.eta_d * 10 ** (-0.2 * 80.0 / 10.0), rel=1e-12)
    np.testing.assert_array_equal(s.mu, 0.48)
    np.testing.assert_array_equal(s.protocol, [[0, 0, 1, 1]])


def test_conditions_scale_transmittance_efficiency_and_source_rate() -> None:
    t = link_table(_mixed_graph())
    shape = (2, 4)
    extra = np.array([[1.0, 2.0, 0.5, 3.0], [0.0, -1.0, 4.0, 0.2]])
    eff = np.array([[0.9, 1.1, 0.8, 1.0], [1.2, 0.7, 1.0, 0.95]])
    source = np.array([[1.0, 0.5, 2.0, 1.0], [0.8, 1.0, 1.0, 0.0]])
    cond = _conditions(shape, extra_db=extra, eff=eff, source=source)
    cfg = LinkModelConfig(rep_rate_hz=2e8, slot_s=0.5, finite_key_factor=0.8)
    s = link_key_bits(t, cfg, cond)
    scale = 2e8 * 0.5 * 0.8
    fibre = fiber_transmittance(t.length_km, t.alpha_db_per_km)
    arm = fiber_transmittance(t.length_km / 2.0, t.alpha_db_per_km)
    for b in range(2):
        for link, protocol in enumerate(t.protocol):
            tf = 10 ** (-extra[b, link] / 10)
            if protocol == PROTOCOL_DECOY:
                eta = fibre[link] * tf * GYS.eta_bob * eff[b, link]
                ref = decoy_bb84_eta(eta)
            else:
                eta = fibre[link] * tf * MDI_LCQ.eta_d * eff[b, link]
                e_arm = arm[link] * math.sqrt(tf) * MDI_LCQ.eta_d * eff[b, link]
                ref = mdi_qkd_eta(e_arm, e_arm, mu=0.48)
            assert s.eta[b, link] == pytest.approx(eta, rel=1e-12)
            assert s.qber[b, link] == pytest.approx(ref.qber, rel=1e-12)
            expected = ref.key_rate * scale * source[b, link]
            assert s.key_bits[b, link] == pytest.approx(expected, rel=1e-12)
    assert s.key_bits[1, 3] == 0.0  # source switched off


def test_cut_links_give_no_key_and_half_qber() -> None:
    t = link_table(_mixed_graph())
    cut = np.array([[True, False, True, False], [False, False, False, True]])  # both kinds
    s = link_key_bits(t, CFG, _conditions((2, 4), cut=cut))
    assert np.all(s.key_bits[cut] == 0.0)
    assert np.all(s.qber[cut] == 0.5)
    assert np.all(s.eta[cut] == 0.0)
    assert np.all(s.key_bits[~cut] > 0.0)


def test_more_loss_never_gives_more_key() -> None:
    t = link_table(_mixed_graph())
    extra = np.linspace(0.0, 40.0, 81)[:, None] * np.ones((1, 4))
    s = link_key_bits(t, CFG, _conditions(extra.shape, extra_db=extra))
    assert np.all(np.diff(s.key_bits, axis=0) <= 0.0)
    positive = s.key_bits[:-1] > 0.0
    assert np.all(np.diff(s.key_bits, axis=0)[positive] < 0.0)
    assert np.all(s.key_bits[-1] == 0.0)  # 40 dB extra: every link is past its threshold


def test_links_beyond_threshold_give_zero_bits() -> None:
    g = nx.Graph()
    add_link(g, 0, 1, 300.0)
    add_link(g, 1, 2, 10.0)
    s = link_key_bits(link_table(g), CFG)
    assert s.key_bits[0, 0] == 0.0 and s.key_rate[0, 0] == 0.0
    assert s.qber[0, 0] > 0.11  # far above the Shor-Preskill threshold
    assert s.key_bits[0, 1] > 0.0


def test_intensity_protocol_choice_and_weak_decoy() -> None:
    t = link_table(ring(3, spacing_km=40.0, alpha_db_per_km=0.21))
    idx = np.array([[0, 1, 3], [2, 2, 2]])
    proto = np.array([[0, 1, 0], [1, 1, 1]], dtype=np.int8)
    cfg = LinkModelConfig(nu=0.05)
    s = link_key_bits(t, cfg, intensity_index=idx, protocol=proto)
    levels = np.asarray(cfg.intensity_levels)
    np.testing.assert_array_equal(s.mu, levels[idx])
    np.testing.assert_array_equal(s.protocol, proto)
    per_slot = cfg.rep_rate_hz * cfg.slot_s
    assert s.key_bits[0, 0] == pytest.approx(
        decoy_bb84(40.0, mu=0.1, nu=0.05).key_rate * per_slot, rel=1e-12
    )
    arm = MDI_LCQ.eta_d * fiber_transmittance(20.0, 0.21)
    assert s.key_bits[0, 1] == pytest.approx(
        mdi_qkd_eta(arm, arm, mu=0.3).key_rate * per_slot, rel=1e-12
    )
    # The weak decoy lowers the key against infinite decoys (Ma et al. 2005).
    inf = link_key_bits(t, LinkModelConfig(), intensity_index=idx, protocol=proto)
    assert s.key_bits[0, 0] < inf.key_bits[0, 0]
    assert s.key_bits[0, 1] == inf.key_bits[0, 1]  # MDI-QKD always uses infinite decoys


def test_shapes_and_batch_inference() -> None:
    t = link_table(tokyo_qkd())
    assert link_key_bits(t, CFG, batch_size=5).key_bits.shape == (5, 3)
    assert link_key_bits(t, CFG, intensity_index=np.zeros((4, 3), int)).qber.shape == (4, 3)
    assert link_key_bits(t, CFG, intensity_index=[0, 1, 2], batch_size=2).mu.shape == (2, 3)
    fl = LinkFluctuations(
        FluctuationConfig(),
        6,
        t.n_links,
        nominal_loss_db=t.nominal_loss_db,
        nominal_efficiency=t.detector_efficiency,
    )
    rng = np.random.default_rng(3)
    fl.reset(rng)
    s = link_key_bits(t, CFG, fl.step(rng))
    assert all(a.shape == (6, 3) for a in (s.key_bits, s.qber, s.eta, s.key_rate, s.mu))
    assert s.key_bits.dtype == np.float64
    assert np.all((s.eta >= 0.0) & (s.eta <= 1.0))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 0}, "'batch_size' parameter of link_key_bits"),
        ({"batch_size": 2, "intensity_index": np.zeros((3, 3), int)}, "batch sizes"),
        ({"intensity_index": np.full((1, 3), 4)}, r"'intensity_index'.*\[0, 3\]"),
        ({"intensity_index": np.full((1, 3), 0.5)}, "'intensity_index'.*integer"),
        ({"intensity_index": np.zeros((1, 4), int)}, "'intensity_index'.*broadcast"),
        ({"protocol": np.full((1, 3), 2)}, r"'protocol'.*\[0, 1\]"),
        ({"protocol": np.zeros((1, 1, 3), int)}, "'protocol'.*shape"),
    ],
)
def test_link_key_bits_rejects_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    t = link_table(tokyo_qkd())
    with pytest.raises(InvalidParameterError, match=match):
        link_key_bits(t, CFG, **kwargs)  # type: ignore[arg-type]


def test_link_key_bits_rejects_bad_objects_and_conditions() -> None:
    t = link_table(tokyo_qkd())
    with pytest.raises(InvalidParameterError, match="'table'"):
        link_key_bits(tokyo_qkd(), CFG)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="'config'"):
        link_key_bits(t, FluctuationConfig())  # type: ignore[arg-type]
    bad = _conditions((2, 3), eff=-0.1)
    with pytest.raises(InvalidParameterError, match="'efficiency_factor'"):
        link_key_bits(t, CFG, bad)
    with pytest.raises(InvalidParameterError, match="batch sizes"):
        link_key_bits(t, CFG, _conditions((2, 3)), batch_size=3)


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "bad"), invalid_examples(LinkModelConfig))
def test_config_errors_name_the_field(field: str, bad: object) -> None:
    with pytest.raises(ConfigError, match=f"'{field}' field of LinkModelConfig must be"):
        LinkModelConfig.validate_dict({field: bad})


@pytest.mark.parametrize(
    ("data", "field", "hint"),
    [
        ({"intensity_levels": []}, "intensity_levels", "at least one"),
        ({"intensity_levels": [0.2, -0.1]}, "intensity_levels", r"\(0.0, 10.0\]"),
        ({"default_intensity_index": 4}, "default_intensity_index", r"\[0, 3\]"),
        ({"nu": 0.1}, "nu", r"\[0.0, 0.1\)"),
    ],
)
def test_config_cross_field_errors(data: dict[str, object], field: str, hint: str) -> None:
    with pytest.raises(ConfigError, match=f"'{field}' field of LinkModelConfig.*{hint}"):
        LinkModelConfig.validate_dict(data)


def test_config_defaults_are_documented_values() -> None:
    assert CFG.rep_rate_hz == 1e9
    assert CFG.slot_s == 1.0
    assert CFG.intensity_levels[CFG.default_intensity_index] == 0.48
    assert CFG.nu is None and CFG.finite_key_factor == 1.0
