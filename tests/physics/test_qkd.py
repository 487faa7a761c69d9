"""Tests for qnetrl.physics.qkd: published values, closed forms and physical properties."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from qnetrl._validation import InvalidParameterError
from qnetrl.physics.channel import fiber_transmittance
from qnetrl.physics.qkd import (
    GYS,
    MDI_LCQ,
    DecoyResult,
    MDIParams,
    MDIResult,
    bb84_qber_threshold,
    bb84_secret_fraction,
    binary_entropy,
    decoy_bb84,
    decoy_bb84_eta,
    edge_study_key_rate,
    max_distance,
    mdi_qkd,
    mdi_qkd_eta,
    plob_bound,
    tgw_bound,
)

PROPERTY = settings(max_examples=40, deadline=None)

distances = st.floats(min_value=0.0, max_value=300.0, allow_nan=False)
intensities = st.floats(min_value=0.01, max_value=1.5, allow_nan=False)
decoy_shares = st.floats(min_value=0.01, max_value=0.95, allow_nan=False)


# --------------------------------------------------------------------------------------------
# Binary entropy and the BB84 secret fraction
# --------------------------------------------------------------------------------------------


def test_binary_entropy_closed_forms() -> None:
    assert binary_entropy(0.0) == 0.0
    assert binary_entropy(1.0) == 0.0
    assert binary_entropy(0.5) == pytest.approx(1.0, abs=1e-15)
    assert binary_entropy(0.25) == pytest.approx(2.0 - 0.75 * math.log2(3.0), rel=1e-14)
    assert isinstance(binary_entropy(0.3), np.float64)


@PROPERTY
@given(p=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20))
def test_binary_entropy_is_symmetric_and_bounded(p: list[float]) -> None:
    arr = np.asarray(p)
    h = binary_entropy(arr)
    assert h.shape == arr.shape
    assert np.all((h >= 0.0) & (h <= 1.0))
    np.testing.assert_allclose(h, binary_entropy(1.0 - arr), atol=1e-12)


@pytest.mark.parametrize("p", [-0.1, 1.1, math.nan, [0.2, 2.0]])
def test_binary_entropy_rejects_non_probabilities(p: object) -> None:
    with pytest.raises(InvalidParameterError, match="'p'"):
        binary_entropy(p)


def test_shor_preskill_threshold() -> None:
    # Shor and Preskill (2000): BB84 is secure up to a QBER of about 11 % (1 - 2 h(e) = 0).
    assert bb84_qber_threshold() == pytest.approx(0.110028, abs=1e-4)
    assert bb84_qber_threshold(1.0) == pytest.approx(0.1100278644, abs=1e-9)
    assert bb84_secret_fraction(bb84_qber_threshold()) == pytest.approx(0.0, abs=1e-12)


def test_threshold_is_vectorised_and_falls_with_f() -> None:
    f = np.array([1.0, 1.1, 1.22, 1.5, 2.0])
    e = bb84_qber_threshold(f)
    assert e.shape == f.shape
    assert np.all(np.diff(e) < 0.0)
    np.testing.assert_allclose((1.0 + f) * binary_entropy(e), 1.0, atol=1e-12)


@PROPERTY
@given(qber=st.floats(0.0, 1.0), f=st.floats(1.0, 2.0))
def test_secret_fraction_in_unit_interval_and_zero_above_threshold(qber: float, f: float) -> None:
    r = bb84_secret_fraction(qber, f)
    assert 0.0 <= r <= 1.0
    threshold = bb84_qber_threshold(f)
    if qber >= threshold:
        assert r == 0.0
    elif qber < threshold - 1e-9:
        assert r > 0.0


def test_secret_fraction_rejects_bad_arguments() -> None:
    with pytest.raises(InvalidParameterError, match="'qber'"):
        bb84_secret_fraction(-0.01)
    with pytest.raises(InvalidParameterError, match="'f_ec'"):
        bb84_secret_fraction(0.01, f_ec=0.9)


# --------------------------------------------------------------------------------------------
# Edge-offloading study model
# --------------------------------------------------------------------------------------------


def test_edge_study_operating_point() -> None:
    # The published figure of the QKD-secured edge-offloading study: 820,523 bit/s at 0.94 %.
    assert abs(edge_study_key_rate(0.0094) - 820_523.0) <= 1.0


def test_edge_study_overstates_key_at_high_qber() -> None:
    # Above the Shor-Preskill threshold BB84 gives no key, yet the study model still does,
    # because it drops the privacy-amplification term h(e).
    qber = np.array([0.12, 0.15])
    assert np.all(bb84_secret_fraction(qber, 1.15) == 0.0)
    assert np.all(edge_study_key_rate(qber) > 0.0)
    # ... and it ends only where 1 - f h(e) = 0, i.e. h(e) = 1 / 1.15 (about 29 % QBER).
    end = brentq(lambda e: 1.0 - 1.15 * binary_entropy(e), 1e-9, 0.5, xtol=1e-14)
    assert 0.29 < end < 0.30
    assert edge_study_key_rate(end + 1e-6) == 0.0
    assert edge_study_key_rate(end - 1e-3) > 0.0


def test_edge_study_broadcasts_and_validates() -> None:
    rate = edge_study_key_rate([0.0, 0.0094], raw_rate_bps=[[1e6], [2e6]])
    assert rate.shape == (2, 2)
    np.testing.assert_allclose(rate[1], 2.0 * rate[0])
    assert rate[0, 0] == pytest.approx(0.9e6)
    with pytest.raises(InvalidParameterError, match="'pa_factor'"):
        edge_study_key_rate(0.01, pa_factor=1.5)
    with pytest.raises(InvalidParameterError, match="'raw_rate_bps'"):
        edge_study_key_rate(0.01, raw_rate_bps=-1.0)


# --------------------------------------------------------------------------------------------
# Parameter sets
# --------------------------------------------------------------------------------------------


def test_gys_matches_ma_et_al_table_i() -> None:
    assert (GYS.eta_bob, GYS.y0, GYS.e_det, GYS.e0) == (0.045, 1.7e-6, 0.033, 0.5)
    assert (GYS.f_ec, GYS.alpha_db_per_km, GYS.q) == (1.22, 0.21, 0.5)


def test_parameter_sets_are_frozen_and_slotted() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        GYS.y0 = 0.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        MDI_LCQ.p_d = 0.0  # type: ignore[misc]
    assert not hasattr(GYS, "__dict__")
    assert not hasattr(MDI_LCQ, "__dict__")
    assert isinstance(dataclasses.replace(GYS, y0=1e-5).y0, float)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("eta_bob", 0.0),
        ("eta_bob", 1.2),
        ("y0", -1e-6),
        ("y0", 1.0),
        ("e_det", 0.6),
        ("e0", -0.1),
        ("f_ec", 0.99),
        ("alpha_db_per_km", -0.2),
        ("q", 0.0),
        ("q", math.nan),
        ("y0", [1e-6, 2e-6]),
    ],
)
def test_detector_params_reject_out_of_range_fields(field: str, value: object) -> None:
    with pytest.raises(InvalidParameterError, match=f"'{field}' parameter of DetectorParams"):
        dataclasses.replace(GYS, **{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [("eta_d", 0.0), ("p_d", 1.0), ("e_d", 0.51), ("f_ec", 0.5), ("alpha_db_per_km", -1.0)],
)
def test_mdi_params_reject_out_of_range_fields(field: str, value: float) -> None:
    with pytest.raises(InvalidParameterError, match=f"'{field}' parameter of MDIParams"):
        dataclasses.replace(MDI_LCQ, **{field: value})


# --------------------------------------------------------------------------------------------
# Decoy-state BB84
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("distance_km", "expected"),
    [(0.0, 2.5546e-3), (50.0, 2.2260e-4), (100.0, 1.7184e-5)],
)
def test_infinite_decoy_gys_acceptance_values(distance_km: float, expected: float) -> None:
    # Ma, Qi, Zhao and Lo (2005) model with the GYS set of their Table I, mu = 0.48, q = 1/2.
    result = decoy_bb84(distance_km)
    assert isinstance(result, DecoyResult)
    assert result.key_rate == pytest.approx(expected, rel=1e-3)


def test_infinite_decoy_single_photon_terms_at_zero_km() -> None:
    # Closed forms of the channel model at L = 0: eta = eta_Bob.
    r = decoy_bb84(0.0)
    eta, mu = GYS.eta_bob, 0.48
    assert r.gain == pytest.approx(GYS.y0 + 1.0 - math.exp(-eta * mu), rel=1e-12)
    assert r.q1 == pytest.approx((GYS.y0 + eta) * mu * math.exp(-mu), rel=1e-12)
    assert r.e1 == pytest.approx((0.5 * GYS.y0 + GYS.e_det * eta) / (GYS.y0 + eta), rel=1e-12)
    # The QBER tends to e_det at short distance and to e0 = 1/2 far away.
    assert r.qber == pytest.approx(GYS.e_det, abs=1e-4)
    assert decoy_bb84(1000.0).qber == pytest.approx(0.5, abs=1e-6)


def test_decoy_broadcasts() -> None:
    d = np.array([0.0, 50.0, 100.0])
    mu = np.array([[0.3], [0.48]])
    r = decoy_bb84(d, mu=mu)
    assert all(np.shape(field) == (2, 3) for field in r)
    for i, m in enumerate(mu[:, 0]):
        for j, x in enumerate(d):
            assert r.key_rate[i, j] == pytest.approx(decoy_bb84(x, mu=m).key_rate, rel=1e-14)
    r.key_rate[0, 0] = -1.0  # results are writable arrays, not read-only broadcast views
    scalar = decoy_bb84(10.0)
    assert all(isinstance(field, np.float64) for field in scalar)


def test_vacuum_plus_weak_approaches_infinite_decoys() -> None:
    # Ma et al.: the vacuum+weak protocol approaches the infinite-decoy limit as nu -> 0.
    infinite = decoy_bb84(100.0).key_rate
    rates = [decoy_bb84(100.0, nu=nu).key_rate for nu in (0.3, 0.2, 0.1, 0.05, 0.01, 1e-4)]
    assert all(r < infinite for r in rates)
    assert np.all(np.diff(rates) > 0.0)
    assert rates[-1] == pytest.approx(infinite, rel=1e-3)
    assert decoy_bb84(100.0, nu=1e-7).key_rate == pytest.approx(infinite, rel=1e-5)
    np.testing.assert_array_equal(decoy_bb84(100.0, nu=0.0), decoy_bb84(100.0))


@PROPERTY
@given(distance_km=distances, mu=intensities, share=decoy_shares)
def test_vacuum_plus_weak_bounds_are_conservative(
    distance_km: float, mu: float, share: float
) -> None:
    exact = decoy_bb84(distance_km, mu=mu)
    bound = decoy_bb84(distance_km, mu=mu, nu=share * mu)
    assert bound.q1 <= exact.q1 * (1.0 + 1e-9)
    assert bound.e1 >= exact.e1 * (1.0 - 1e-9)
    assert bound.key_rate <= exact.key_rate * (1.0 + 1e-9)
    assert bound.gain == exact.gain


@PROPERTY
@given(
    distance_km=distances,
    mu=intensities,
    share=st.one_of(st.none(), decoy_shares),
    alpha=st.sampled_from([0.16, 0.2, 0.21]),
)
def test_decoy_rate_below_plob(
    distance_km: float, mu: float, share: float | None, alpha: float
) -> None:
    params = dataclasses.replace(GYS, alpha_db_per_km=alpha)
    nu = None if share is None else share * mu
    rate = decoy_bb84(distance_km, mu=mu, nu=nu, params=params).key_rate
    eta = params.eta_bob * fiber_transmittance(distance_km, alpha)
    assert rate <= plob_bound(eta)


@PROPERTY
@given(d1=distances, d2=distances, mu=intensities, share=st.one_of(st.none(), decoy_shares))
def test_decoy_rate_non_increasing_in_distance(
    d1: float, d2: float, mu: float, share: float | None
) -> None:
    near, far = sorted((d1, d2))
    nu = None if share is None else share * mu
    r_near = decoy_bb84(near, mu=mu, nu=nu).key_rate
    r_far = decoy_bb84(far, mu=mu, nu=nu).key_rate
    assert r_far <= r_near * (1.0 + 1e-12)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"distance_km": -1.0}, "'distance_km'"),
        ({"distance_km": math.nan}, "'distance_km'"),
        ({"distance_km": 10.0, "mu": 0.0}, "'mu'"),
        ({"distance_km": 10.0, "mu": 0.48, "nu": 0.48}, "'nu'"),
        ({"distance_km": 10.0, "mu": 0.48, "nu": 0.6}, "'nu'"),
        ({"distance_km": 10.0, "mu": [0.5, 0.2], "nu": 0.3}, "'nu'"),
        ({"distance_km": 10.0, "nu": -0.1}, "'nu'"),
        ({"distance_km": 10.0, "params": MDI_LCQ}, "'params'"),
    ],
)
def test_decoy_rejects_bad_arguments(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(InvalidParameterError, match=name):
        decoy_bb84(**kwargs)  # type: ignore[arg-type]


def test_decoy_by_transmittance_equals_decoy_by_distance() -> None:
    # One formula: decoy_bb84(L) is decoy_bb84_eta(eta_Bob 10^(-alpha L / 10)), bit for bit.
    d = np.array([0.0, 12.0, 45.0, 100.0, 150.0, 400.0])
    eta = GYS.eta_bob * fiber_transmittance(d, GYS.alpha_db_per_km)
    for nu in (None, 0.0, 0.05):
        by_d = decoy_bb84(d, mu=0.48, nu=nu)
        by_eta = decoy_bb84_eta(eta, mu=0.48, nu=nu)
        for a, b in zip(by_d, by_eta, strict=True):
            np.testing.assert_array_equal(a, b)
    # Published values of Ma et al. (2005) (GYS, mu = 0.48) reached through eta.
    assert decoy_bb84_eta(GYS.eta_bob).key_rate == pytest.approx(2.5546e-3, rel=1e-3)
    assert decoy_bb84_eta(eta[3]).key_rate == pytest.approx(1.7184e-5, rel=1e-3)
    assert isinstance(decoy_bb84_eta(0.01).key_rate, np.float64)


@PROPERTY
@given(distance_km=distances, mu=intensities, share=st.one_of(st.none(), decoy_shares))
def test_decoy_eta_matches_distance_property(
    distance_km: float, mu: float, share: float | None
) -> None:
    nu = None if share is None else share * mu
    eta = GYS.eta_bob * fiber_transmittance(distance_km, GYS.alpha_db_per_km)
    assert decoy_bb84_eta(eta, mu=mu, nu=nu) == decoy_bb84(distance_km, mu=mu, nu=nu)


def test_decoy_eta_cut_fibre_and_validation() -> None:
    cut = decoy_bb84_eta(0.0)
    assert cut.key_rate == 0.0
    assert cut.gain == GYS.y0
    assert cut.qber == pytest.approx(GYS.e0)
    with pytest.raises(InvalidParameterError, match=r"'eta' parameter of decoy_bb84_eta"):
        decoy_bb84_eta(1.5)
    with pytest.raises(InvalidParameterError, match=r"'nu' parameter of decoy_bb84_eta"):
        decoy_bb84_eta(0.01, mu=0.3, nu=0.4)
    with pytest.raises(InvalidParameterError, match="'params'"):
        decoy_bb84_eta(0.01, params=MDI_LCQ)  # type: ignore[arg-type]


def test_max_distance_is_the_end_of_the_key() -> None:
    d = max_distance()
    # About 142 km: the figure quoted for GYS with infinite decoys from Ma et al. (2005); the
    # paper's own text could not be consulted here, so this is a loose consistency check.
    assert 140.0 < d < 145.0
    assert decoy_bb84(d - 1e-3).key_rate > 0.0
    assert decoy_bb84(d + 1e-3).key_rate == 0.0
    weak = max_distance(nu=0.05)
    assert weak < d
    assert decoy_bb84(weak - 1e-3, nu=0.05).key_rate > 0.0
    assert decoy_bb84(weak + 1e-3, nu=0.05).key_rate == 0.0
    assert max_distance(nu=0.0) == pytest.approx(d, abs=1e-6)


def test_max_distance_edge_cases_and_broadcasting() -> None:
    assert max_distance(params=dataclasses.replace(GYS, alpha_db_per_km=0.0)) == math.inf
    assert max_distance(params=dataclasses.replace(GYS, e_det=0.2)) == 0.0
    mus = np.array([0.3, 0.48, 0.7])
    grid = max_distance(mu=mus, nu=np.array([[0.0], [0.02]]))
    assert grid.shape == (2, 3)
    np.testing.assert_allclose(grid[0], max_distance(mu=mus), atol=1e-6)
    assert np.all(grid[1] < grid[0])
    with pytest.raises(InvalidParameterError, match="'nu'"):
        max_distance(mu=0.1, nu=0.2)


# --------------------------------------------------------------------------------------------
# MDI-QKD
# --------------------------------------------------------------------------------------------


def test_mdi_closed_forms_without_dark_counts() -> None:
    # With p_d = 0 the formulas of Ma and Razavi (2012) reduce to Q_rect = 2 e^{-eta mu}
    # (1 - e^{-eta mu / 2})^2, E_rect = e_11 = e_d and Y_11 = eta^2 / 2 per arm efficiency eta.
    params = MDIParams(eta_d=0.145, p_d=0.0, e_d=0.015, f_ec=1.16, alpha_db_per_km=0.2)
    distance, mu = 60.0, 0.4
    eta = 0.145 * 10 ** (-0.2 * 30.0 / 10)
    r = mdi_qkd(distance, mu=mu, params=params)
    assert isinstance(r, MDIResult)
    gain = 2.0 * math.exp(-eta * mu) * (1.0 - math.exp(-eta * mu / 2.0)) ** 2
    assert r.gain == pytest.approx(gain, rel=1e-12)
    assert r.qber == pytest.approx(0.015, rel=1e-12)
    assert r.e11 == pytest.approx(0.015, rel=1e-12)
    assert r.q11 == pytest.approx(mu**2 * math.exp(-2.0 * mu) * eta**2 / 2.0, rel=1e-12)
    h = binary_entropy(0.015)
    assert r.key_rate == pytest.approx(r.q11 * (1.0 - h) - r.gain * 1.16 * h, rel=1e-12)


def test_mdi_dark_counts_only_give_no_key() -> None:
    r = mdi_qkd(1e6)  # no signal reaches the relay
    assert r.key_rate == 0.0
    assert r.e11 == pytest.approx(0.5)
    assert r.qber == pytest.approx(0.5)


def test_mdi_positive_at_zero_km_and_broadcasts() -> None:
    r = mdi_qkd(0.0)
    assert r.key_rate > 0.0
    grid = mdi_qkd([0.0, 100.0, 200.0], mu=[[0.3], [0.5]])
    assert all(np.shape(field) == (2, 3) for field in grid)
    assert grid.key_rate[1, 1] == pytest.approx(mdi_qkd(100.0, mu=0.5).key_rate, rel=1e-14)


@PROPERTY
@given(d1=distances, d2=distances, mu=intensities)
def test_mdi_rate_non_increasing_in_distance(d1: float, d2: float, mu: float) -> None:
    near, far = sorted((d1, d2))
    assert mdi_qkd(far, mu=mu).key_rate <= mdi_qkd(near, mu=mu).key_rate * (1.0 + 1e-12)


@PROPERTY
@given(distance_km=distances, mu=intensities)
def test_mdi_rate_below_plob_of_total_transmittance(distance_km: float, mu: float) -> None:
    eta_total = MDI_LCQ.eta_d * fiber_transmittance(distance_km, MDI_LCQ.alpha_db_per_km)
    assert mdi_qkd(distance_km, mu=mu).key_rate <= plob_bound(eta_total)


def test_mdi_by_transmittance_equals_mdi_by_distance() -> None:
    d = np.array([0.0, 30.0, 100.0, 250.0])
    arm = MDI_LCQ.eta_d * fiber_transmittance(d / 2.0, MDI_LCQ.alpha_db_per_km)
    for mu in (0.2, 0.5):
        by_d = mdi_qkd(d, mu=mu)
        by_eta = mdi_qkd_eta(arm, arm, mu=mu)
        for a, b in zip(by_d, by_eta, strict=True):
            np.testing.assert_array_equal(a, b)


def test_mdi_asymmetric_arms_closed_forms_without_dark_counts() -> None:
    # p_d = 0: Q_rect = 2 e^{-(eta_a + eta_b) mu / 2} (1 - e^{-eta_a mu/2})(1 - e^{-eta_b mu/2}),
    # Y_11 = eta_a eta_b / 2 and E_rect = e_11 = e_d (Ma and Razavi 2012, general arms).
    params = MDIParams(eta_d=0.145, p_d=0.0, e_d=0.015, f_ec=1.16, alpha_db_per_km=0.2)
    ea, eb, mu = 0.03, 0.004, 0.4
    r = mdi_qkd_eta(ea, eb, mu=mu, params=params)
    gain = 2.0 * math.exp(-(ea + eb) * mu / 2.0)
    gain *= (1.0 - math.exp(-ea * mu / 2.0)) * (1.0 - math.exp(-eb * mu / 2.0))
    assert r.gain == pytest.approx(gain, rel=1e-12)
    assert r.qber == pytest.approx(0.015, rel=1e-12)
    assert r.e11 == pytest.approx(0.015, rel=1e-12)
    assert r.q11 == pytest.approx(mu**2 * math.exp(-2.0 * mu) * ea * eb / 2.0, rel=1e-12)
    # The model is symmetric under exchanging the arms (equal intensities).
    swapped = mdi_qkd_eta(eb, ea, mu=mu)
    straight = mdi_qkd_eta(ea, eb, mu=mu)
    for a, b in zip(straight, swapped, strict=True):
        assert a == pytest.approx(b, rel=1e-12)


def test_mdi_eta_broadcasts_and_validates() -> None:
    grid = mdi_qkd_eta([[0.01], [0.001]], [0.01, 0.001, 0.0])
    assert all(np.shape(field) == (2, 3) for field in grid)
    assert np.all(grid.key_rate[:, 2] == 0.0)
    assert grid.key_rate[0, 0] > grid.key_rate[0, 1] > 0.0
    with pytest.raises(InvalidParameterError, match=r"'eta_a' parameter of mdi_qkd_eta"):
        mdi_qkd_eta(-0.1, 0.1)
    with pytest.raises(InvalidParameterError, match=r"'eta_b' parameter of mdi_qkd_eta"):
        mdi_qkd_eta(0.1, 1.1)
    with pytest.raises(InvalidParameterError, match="'params'"):
        mdi_qkd_eta(0.1, 0.1, params=GYS)  # type: ignore[arg-type]


def test_mdi_rejects_bad_arguments() -> None:
    with pytest.raises(InvalidParameterError, match="'distance_km'"):
        mdi_qkd(-5.0)
    with pytest.raises(InvalidParameterError, match="'mu'"):
        mdi_qkd(5.0, mu=-0.1)
    with pytest.raises(InvalidParameterError, match="'params'"):
        mdi_qkd(5.0, params=GYS)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Repeaterless bounds
# --------------------------------------------------------------------------------------------


def test_plob_published_value_at_100_km() -> None:
    # Pirandola et al. (2017): -log2(1 - eta); 100 km at 0.2 dB/km is eta = 0.01.
    eta = fiber_transmittance(100.0, 0.2)
    assert plob_bound(eta) == pytest.approx(1.449957e-2, rel=1e-6)
    assert plob_bound(0.0) == 0.0


def test_tgw_closed_form() -> None:
    # Takeoka, Guha and Wilde (2014): log2((1 + eta)/(1 - eta)).
    assert tgw_bound(0.01) == pytest.approx(math.log2(1.01 / 0.99), rel=1e-12)
    assert tgw_bound(0.0) == 0.0


def test_bounds_are_infinite_at_unit_transmittance_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert plob_bound(1.0) == math.inf
        assert tgw_bound(1.0) == math.inf
        both = plob_bound(np.array([0.5, 1.0]))
    assert both[1] == math.inf
    assert both[0] == pytest.approx(1.0)


@PROPERTY
@given(eta=st.floats(0.0, 1.0))
def test_tgw_is_looser_than_plob(eta: float) -> None:
    assert tgw_bound(eta) >= plob_bound(eta)


@pytest.mark.parametrize("bound", [plob_bound, tgw_bound])
@pytest.mark.parametrize("eta", [-0.01, 1.01, math.nan])
def test_bounds_reject_bad_transmittance(bound: object, eta: float) -> None:
    with pytest.raises(InvalidParameterError, match="'eta'"):
        bound(eta)  # type: ignore[operator]
