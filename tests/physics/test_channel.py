"""Tests for qnetrl.physics.channel: fibre loss, BPSK error rates and the Monte Carlo link."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from qnetrl._validation import InvalidParameterError
from qnetrl.physics import channel
from qnetrl.physics.channel import (
    bpsk_awgn_ber,
    bpsk_rayleigh_ber,
    bpsk_rician_ber,
    db_to_linear,
    fiber_transmittance,
    linear_to_db,
    rayleigh_snr_db_for_ber,
    sample_fading_gain,
    simulate_bpsk,
)

FAST = settings(max_examples=25, deadline=None, derandomize=True)


# --------------------------------------------------------------------------- fibre and dB


def test_fiber_transmittance_published_points() -> None:
    # 0.2 dB/km: 50 km is 10 dB, 100 km is 20 dB of loss.
    assert float(fiber_transmittance(50.0)) == pytest.approx(0.1, rel=1e-12)
    assert float(fiber_transmittance(100.0, 0.2)) == pytest.approx(0.01, rel=1e-12)
    assert float(fiber_transmittance(0.0)) == 1.0
    assert float(fiber_transmittance(25.0, 0.0)) == 1.0
    assert float(fiber_transmittance(math.inf, 0.0)) == 1.0
    assert float(fiber_transmittance(math.inf)) == 0.0


def test_fiber_transmittance_broadcasts() -> None:
    lengths = np.array([[0.0], [10.0], [20.0]])
    alphas = np.array([0.16, 0.2])
    eta = fiber_transmittance(lengths, alphas)
    assert eta.shape == (3, 2)
    np.testing.assert_allclose(eta, 10.0 ** (-lengths * alphas / 10.0), rtol=1e-14)
    assert isinstance(fiber_transmittance(1.0), np.floating)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"length_km": -1.0}, "length_km"),
        ({"length_km": [1.0, -0.1]}, "length_km"),
        ({"length_km": math.nan}, "length_km"),
        ({"length_km": 1.0, "alpha_db_per_km": -0.2}, "alpha_db_per_km"),
        ({"length_km": "far"}, "length_km"),
    ],
)
def test_fiber_transmittance_rejects_invalid(kwargs: dict, name: str) -> None:
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of fiber_transmittance"):
        fiber_transmittance(**kwargs)


def test_invalid_parameter_error_is_value_and_type_error() -> None:
    with pytest.raises(ValueError, match=r"range \[0.0, inf\)"):
        fiber_transmittance(-1.0)
    with pytest.raises(TypeError):
        fiber_transmittance(-1.0)


@FAST
@given(st.floats(-100.0, 100.0))
def test_db_round_trip(x_db: float) -> None:
    assert float(linear_to_db(db_to_linear(x_db))) == pytest.approx(x_db, abs=1e-11)


def test_db_edges() -> None:
    assert float(db_to_linear(-math.inf)) == 0.0
    assert float(linear_to_db(0.0)) == -math.inf
    with pytest.raises(InvalidParameterError, match="'x' parameter of linear_to_db"):
        linear_to_db(-1.0)


# --------------------------------------------------------------------------- BPSK over AWGN


def test_awgn_textbook_operating_point() -> None:
    # Textbook figure: coherent BPSK needs Eb/N0 ~ 9.6 dB for Pb = 1e-5.
    assert 0.9e-5 < float(bpsk_awgn_ber(9.6)) < 1.05e-5
    # and Pb(9.6 dB) rounds to 1e-5 at one significant digit; 9.5 dB is already worse.
    assert round(float(bpsk_awgn_ber(9.6)), 5) == 1e-5
    assert float(bpsk_awgn_ber(9.5)) > 1e-5
    # Q(sqrt(2)) = 0.0786496 at 0 dB (tabulated Gaussian tail, Q(1.414) = 0.0787).
    assert float(bpsk_awgn_ber(0.0)) == pytest.approx(0.0786496035, rel=1e-9)


def test_awgn_matches_gaussian_tail() -> None:
    snr_db = np.linspace(-10.0, 14.0, 49)
    gamma = 10.0 ** (snr_db / 10.0)
    expected = stats.norm.sf(np.sqrt(2.0 * gamma))  # Q(sqrt(2 gamma)), independent path
    np.testing.assert_allclose(bpsk_awgn_ber(snr_db), expected, rtol=1e-10)
    assert float(bpsk_awgn_ber(math.inf)) == 0.0
    assert float(bpsk_awgn_ber(-math.inf)) == 0.5


# --------------------------------------------------------------------------- Rayleigh


def test_rayleigh_published_value() -> None:
    exact = 0.5 * (1.0 - math.sqrt(10.0 / 11.0))
    assert float(bpsk_rayleigh_ber(10.0)) == pytest.approx(exact, rel=1e-13)
    assert float(bpsk_rayleigh_ber(10.0)) == pytest.approx(0.0232687, abs=1e-7)
    # High-SNR approximation 1/(4 gamma) of the same equation: 20 dB -> ~2.5e-3.
    assert float(bpsk_rayleigh_ber(20.0)) == pytest.approx(2.4813e-3, rel=1e-4)
    assert float(bpsk_rayleigh_ber(60.0)) == pytest.approx(1.0 / (4.0 * 1e6), rel=1e-5)


def test_rayleigh_equals_average_over_exponential_gain() -> None:
    # Average Q(sqrt(2 gamma x)) over x ~ Exp(1) by adaptive quadrature: an independent path.
    for snr_db in (-5.0, 0.0, 7.0, 15.0, 30.0):
        gamma = 10.0 ** (snr_db / 10.0)
        ref, _ = integrate.quad(
            lambda x, g=gamma: 0.5 * special.erfc(math.sqrt(g * x)) * math.exp(-x),
            0.0,
            math.inf,
            epsabs=0.0,
            epsrel=1e-12,
        )
        assert float(bpsk_rayleigh_ber(snr_db)) == pytest.approx(ref, rel=1e-9)


def test_rayleigh_edges_and_monotone() -> None:
    assert float(bpsk_rayleigh_ber(math.inf)) == 0.0
    assert float(bpsk_rayleigh_ber(-math.inf)) == 0.5
    ber = bpsk_rayleigh_ber(np.linspace(-20.0, 60.0, 81))
    assert np.all(np.diff(ber) < 0.0)
    # Fading always costs: Rayleigh BER exceeds AWGN BER at the same average SNR.
    snr = np.linspace(-5.0, 20.0, 26)
    assert np.all(bpsk_rayleigh_ber(snr) > bpsk_awgn_ber(snr))


@FAST
@given(st.floats(1e-12, 0.5, exclude_max=False))
def test_rayleigh_inverse_round_trip_from_ber(ber: float) -> None:
    snr_db = rayleigh_snr_db_for_ber(ber)
    assert float(bpsk_rayleigh_ber(snr_db)) == pytest.approx(ber, rel=1e-9)


@FAST
@given(st.floats(-30.0, 80.0))
def test_rayleigh_inverse_round_trip_from_snr(snr_db: float) -> None:
    assert float(rayleigh_snr_db_for_ber(bpsk_rayleigh_ber(snr_db))) == pytest.approx(
        snr_db, abs=1e-8
    )


def test_rayleigh_inverse_edges_and_validation() -> None:
    assert float(rayleigh_snr_db_for_ber(0.5)) == -math.inf
    assert rayleigh_snr_db_for_ber([0.1, 0.01]).shape == (2,)
    for bad in (0.0, -0.1, 0.6, math.nan):
        with pytest.raises(
            InvalidParameterError, match=r"'ber' parameter of rayleigh_snr_db_for_ber.*\(0.0, 0.5\]"
        ):
            rayleigh_snr_db_for_ber(bad)


# --------------------------------------------------------------------------- Rician


def _rician_ber_direct(snr_db: float, k: float) -> float:
    """Average Q(sqrt(2 gamma x)) over the Rician gain pdf (noncentral chi-square)."""
    gamma = 10.0 ** (snr_db / 10.0)
    scale = 2.0 * (k + 1.0)  # scale * |h|^2 ~ ncx2(df=2, nc=2K)

    def integrand(x: float) -> float:
        return 0.5 * special.erfc(math.sqrt(gamma * x)) * stats.ncx2.pdf(scale * x, 2, 2 * k)

    val, _ = integrate.quad(integrand, 0.0, math.inf, epsabs=0.0, epsrel=1e-11, limit=400)
    return val * scale


@pytest.mark.parametrize(("snr_db", "k"), [(0.0, 1.0), (5.0, 3.0), (10.0, 1.0), (12.0, 10.0)])
def test_rician_matches_direct_average(snr_db: float, k: float) -> None:
    assert float(bpsk_rician_ber(snr_db, k)) == pytest.approx(
        _rician_ber_direct(snr_db, k), rel=1e-8
    )


def test_rician_limits() -> None:
    snr = np.linspace(-10.0, 30.0, 41)
    np.testing.assert_allclose(bpsk_rician_ber(snr, 0.0), bpsk_rayleigh_ber(snr), rtol=1e-10)
    np.testing.assert_allclose(bpsk_rician_ber(snr, math.inf), bpsk_awgn_ber(snr), rtol=1e-10)
    # Large but finite K approaches AWGN.
    mid = np.array([0.0, 4.0, 8.0])
    np.testing.assert_allclose(bpsk_rician_ber(mid, 1e7), bpsk_awgn_ber(mid), rtol=1e-4)
    assert float(bpsk_rician_ber(math.inf, 2.0)) == 0.0
    assert float(bpsk_rician_ber(-math.inf, 2.0)) == 0.5


def test_rician_broadcasts_and_lies_between_limits() -> None:
    snr = np.linspace(0.0, 20.0, 5)[:, None]
    k = np.array([0.5, 2.0, 8.0])
    ber = bpsk_rician_ber(snr, k)
    assert ber.shape == (5, 3)
    assert np.all(ber <= bpsk_rayleigh_ber(snr) + 1e-15)
    assert np.all(ber >= bpsk_awgn_ber(snr) - 1e-15)


def test_rician_rejects_negative_k() -> None:
    with pytest.raises(InvalidParameterError, match="'k_factor' parameter of bpsk_rician_ber"):
        bpsk_rician_ber(5.0, -1.0)
    with pytest.raises(InvalidParameterError, match="'snr_db' parameter of bpsk_rician_ber"):
        bpsk_rician_ber(math.nan, 1.0)


# --------------------------------------------------------------------------- fading gains


def test_sample_fading_gain_none_is_ones() -> None:
    rng = np.random.default_rng(0)
    g = sample_fading_gain((4, 5), "none", rng)
    assert g.shape == (4, 5) and g.dtype == np.float64
    assert np.all(g == 1.0)


def test_sample_fading_gain_rayleigh_is_unit_exponential() -> None:
    g = sample_fading_gain(100_000, "rayleigh", np.random.default_rng(1))
    assert g.shape == (100_000,)
    assert stats.kstest(g, stats.expon.cdf).pvalue > 1e-3
    assert abs(g.mean() - 1.0) < 0.02


@pytest.mark.parametrize("k", [0.0, 1.0, 6.0])
def test_sample_fading_gain_rician_distribution(k: float) -> None:
    g = sample_fading_gain(100_000, "rician", np.random.default_rng(2), k_factor=k)
    scale = 2.0 * (k + 1.0)
    assert stats.kstest(scale * g, stats.ncx2(2, 2.0 * k).cdf).pvalue > 1e-3
    assert abs(g.mean() - 1.0) < 0.02
    # Var |h|^2 = (1 + 2K) / (1 + K)^2 for unit mean power.
    assert g.var() == pytest.approx((1.0 + 2.0 * k) / (1.0 + k) ** 2, rel=0.05)


def test_sample_fading_gain_rician_k_broadcast_and_infinite() -> None:
    rng = np.random.default_rng(3)
    g = sample_fading_gain((2, 50_000), "rician", rng, k_factor=[[0.0], [math.inf]])
    assert g.shape == (2, 50_000)
    np.testing.assert_allclose(g[1], 1.0, rtol=1e-12)  # K = inf: pure line of sight
    assert g[0].var() == pytest.approx(1.0, rel=0.05)  # K = 0: Rayleigh, variance 1


def test_sample_fading_gain_validation() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(InvalidParameterError, match="'fading' parameter of sample_fading_gain"):
        sample_fading_gain(3, "nakagami", rng)
    with pytest.raises(InvalidParameterError, match="'rng' parameter of sample_fading_gain"):
        sample_fading_gain(3, "rayleigh", 42)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="'k_factor' parameter of sample_fading_gain"):
        sample_fading_gain(3, "rician", rng, k_factor=-0.5)
    with pytest.raises(InvalidParameterError, match="'k_factor' parameter of sample_fading_gain"):
        sample_fading_gain(3, "rician", rng, k_factor=[1.0, 2.0])


# --------------------------------------------------------------------------- Monte Carlo BPSK

N_BITS = 20_000


def _within_three_sigma(measured: np.ndarray, expected: np.ndarray, n: int) -> None:
    sigma = np.sqrt(expected * (1.0 - expected) / n)
    # Binomial 3-sigma band; meaningful because every expected error count is >= 100 here.
    assert np.all(n * expected >= 100.0)
    assert np.all(np.abs(measured - expected) <= 3.0 * sigma), (measured, expected, sigma)


# The Monte Carlo checks draw SNRs (and K) with hypothesis but keep the bit stream's seed fixed
# and the example database off: letting hypothesis search over seeds would make it hunt for the
# 0.27 % of streams that fall outside a 3-sigma band, which says nothing about the simulator.
MC = settings(max_examples=25, deadline=None, derandomize=True, database=None)
MC_SEED = 2026


@MC
@given(st.floats(-6.0, 5.0))
def test_simulate_bpsk_awgn_matches_theory(snr_db: float) -> None:
    ber = simulate_bpsk(N_BITS, snr_db, "none", np.random.default_rng(MC_SEED))
    _within_three_sigma(np.asarray(ber), np.asarray(bpsk_awgn_ber(snr_db)), N_BITS)


@MC
@given(st.floats(-5.0, 15.0))
def test_simulate_bpsk_rayleigh_matches_theory(snr_db: float) -> None:
    ber = simulate_bpsk(N_BITS, snr_db, "rayleigh", np.random.default_rng(MC_SEED))
    _within_three_sigma(np.asarray(ber), np.asarray(bpsk_rayleigh_ber(snr_db)), N_BITS)


@MC
@given(st.floats(-5.0, 6.0), st.floats(0.0, 5.0))
def test_simulate_bpsk_rician_matches_theory(snr_db: float, k: float) -> None:
    ber = simulate_bpsk(N_BITS, snr_db, "rician", np.random.default_rng(MC_SEED), k_factor=k)
    _within_three_sigma(np.asarray(ber), np.asarray(bpsk_rician_ber(snr_db, k)), N_BITS)


def test_simulate_bpsk_broadcasts_over_snr_and_k() -> None:
    snr = np.array([[0.0, 3.0], [6.0, 9.0]])
    rng = np.random.default_rng(11)
    ber = simulate_bpsk(10_000, snr, "rician", rng, k_factor=[0.0, 4.0])
    assert ber.shape == (2, 2)
    assert isinstance(simulate_bpsk(10, 0.0, "none", rng), np.floating)


def test_simulate_bpsk_is_reproducible_and_chunked(monkeypatch: pytest.MonkeyPatch) -> None:
    snr = np.array([0.0, 4.0, 8.0])
    a = simulate_bpsk(30_000, snr, "rayleigh", np.random.default_rng(5))
    b = simulate_bpsk(30_000, snr, "rayleigh", np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    # Force many small chunks (1000 symbols in memory at a time): result still unbiased.
    monkeypatch.setattr(channel, "_MAX_CHUNK_ELEMENTS", 1000)
    c = simulate_bpsk(30_000, snr, "rayleigh", np.random.default_rng(6))
    _within_three_sigma(c, np.asarray(bpsk_rayleigh_ber(snr)), 30_000)


def test_simulate_bpsk_extreme_snr() -> None:
    rng = np.random.default_rng(7)
    assert float(simulate_bpsk(1000, math.inf, "none", rng)) == 0.0
    half = float(simulate_bpsk(20_000, -math.inf, "rayleigh", rng))
    assert abs(half - 0.5) <= 3.0 * math.sqrt(0.25 / 20_000)


@pytest.mark.parametrize(
    ("args", "kwargs", "name"),
    [
        ((0, 1.0, "none"), {}, "n_bits"),
        ((2.5, 1.0, "none"), {}, "n_bits"),
        ((True, 1.0, "none"), {}, "n_bits"),
        ((10, math.nan, "none"), {}, "snr_db"),
        ((10, 1.0, "awgn"), {}, "fading"),
        ((10, 1.0, "rician"), {"k_factor": -1.0}, "k_factor"),
    ],
)
def test_simulate_bpsk_validation(args: tuple, kwargs: dict, name: str) -> None:
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of simulate_bpsk"):
        simulate_bpsk(*args, np.random.default_rng(0), **kwargs)


def test_simulate_bpsk_requires_generator() -> None:
    with pytest.raises(InvalidParameterError, match="'rng' parameter of simulate_bpsk"):
        simulate_bpsk(10, 1.0, "none", None)  # type: ignore[arg-type]
