"""Tests for qnetrl.physics.entanglement: swapping, purification, memory noise, link generation.

The Bell-diagonal maps are checked against an independent density-matrix simulation of the
circuits (4 qubits, 16 x 16 matrices) built here from the textbook gates.
"""

from __future__ import annotations

import math
from itertools import product

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qnetrl._validation import InvalidParameterError
from qnetrl.physics.channel import fiber_transmittance
from qnetrl.physics.entanglement import (
    BELL_ORDER,
    bbpssw,
    dejmps,
    dephase,
    dephase_bell_diagonal,
    depolarize,
    double_click_link,
    single_click_link,
    werner_coefficients,
    werner_swap,
)

FAST = settings(max_examples=40, deadline=None, derandomize=True)

fidelity = st.floats(0.0, 1.0)

# --------------------------------------------------------------------------- density matrices

_S2 = 1.0 / math.sqrt(2.0)
_BELL = {
    "phi_plus": np.array([_S2, 0.0, 0.0, _S2]),
    "phi_minus": np.array([_S2, 0.0, 0.0, -_S2]),
    "psi_plus": np.array([0.0, _S2, _S2, 0.0]),
    "psi_minus": np.array([0.0, _S2, -_S2, 0.0]),
}
_VECS = [_BELL[name] for name in BELL_ORDER]
_I2 = np.eye(2)
_X = np.array([[0.0, 1.0], [1.0, 0.0]])
_Y = np.array([[0.0, -1j], [1j, 0.0]])
_Z = np.diag([1.0, -1.0])


def _bell_state(coeffs) -> np.ndarray:
    """Two-qubit density matrix with the given Bell-diagonal coefficients (BELL_ORDER)."""
    return sum(c * np.outer(v, v) for c, v in zip(coeffs, _VECS, strict=True))


def _bell_coeffs(rho: np.ndarray) -> np.ndarray:
    return np.array([np.real(v @ rho @ v) for v in _VECS])


def _kron(*ops: np.ndarray) -> np.ndarray:
    out = np.eye(1)
    for op in ops:
        out = np.kron(out, op)
    return out


def _rx(theta: float) -> np.ndarray:
    return math.cos(theta / 2) * _I2 - 1j * math.sin(theta / 2) * _X


def _dejmps_circuit(c1, c2) -> tuple[np.ndarray, float]:
    """Simulate one DEJMPS round; qubit order A1 B1 A2 B2, pair 1 kept, pair 2 measured."""
    rho = np.kron(_bell_state(c1), _bell_state(c2)).astype(complex)
    ra, rb = _rx(math.pi / 2), _rx(-math.pi / 2)
    u = _kron(ra, rb, ra, rb)
    rho = u @ rho @ u.conj().T
    # Bilateral CNOT: A1 -> A2 and B1 -> B2, as a permutation of basis states.
    perm = np.zeros((16, 16))
    for a1, b1, a2, b2 in product((0, 1), repeat=4):
        src = 8 * a1 + 4 * b1 + 2 * a2 + b2
        dst = 8 * a1 + 4 * b1 + 2 * (a2 ^ a1) + (b2 ^ b1)
        perm[dst, src] = 1.0
    rho = perm @ rho @ perm.T
    keep = np.diag([1.0 if ((i >> 1) & 1) == (i & 1) else 0.0 for i in range(16)])
    rho = keep @ rho @ keep
    p = float(np.real(np.trace(rho)))
    reduced = np.einsum("ijkj->ik", rho.reshape(4, 4, 4, 4)) / p
    return _bell_coeffs(reduced), p


def _swap_circuit(c1, c2) -> np.ndarray:
    """Average Bell coefficients after swapping pairs A-B1 and B2-C with Pauli correction."""
    rho = np.kron(_bell_state(c1), _bell_state(c2)).astype(complex)
    paulis = [_I2, _X, _Y, _Z]
    ideal = np.kron(_bell_state([1, 0, 0, 0]), _bell_state([1, 0, 0, 0])).astype(complex)
    total = np.zeros(4)
    for v in _VECS:  # Bell measurement of B1 B2
        proj = _kron(_I2, np.outer(v, v), _I2)

        def outcome(state: np.ndarray, proj: np.ndarray = proj) -> tuple[np.ndarray, float]:
            post = proj @ state @ proj
            prob = float(np.real(np.trace(post)))
            r = post.reshape(2, 4, 2, 2, 4, 2)  # A, (B1 B2), C for row and column
            return np.einsum("ajcbjd->acbd", r).reshape(4, 4), prob

        ideal_ac, ideal_p = outcome(ideal)
        # The correction is the Pauli on C that turns the ideal outcome into phi_plus.
        fix = max(
            paulis,
            key=lambda s, m=ideal_ac / ideal_p: np.real(
                _VECS[0] @ np.kron(_I2, s) @ m @ np.kron(_I2, s).conj().T @ _VECS[0]
            ),
        )
        ac, prob = outcome(rho)
        corr = np.kron(_I2, fix)
        total += _bell_coeffs(corr @ ac @ corr.conj().T)  # unnormalised: weighted by prob
        assert prob == pytest.approx(0.25, abs=1e-12)
    return total


bell_diagonal = st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4).filter(
    lambda v: sum(v) > 1e-3
)


def _normalise(v: list[float]) -> np.ndarray:
    arr = np.asarray(v, dtype=float)
    return arr / arr.sum()


# --------------------------------------------------------------------------- swapping


def test_werner_swap_reference_point() -> None:
    assert float(werner_swap(0.9, 0.9)) == pytest.approx(0.81 + 0.01 / 3.0, rel=1e-14)
    assert float(werner_swap(0.9, 0.9)) == pytest.approx(0.813333, abs=1e-6)
    assert float(werner_swap(1.0, 0.7)) == pytest.approx(0.7, rel=1e-14)
    assert float(werner_swap(0.25, 0.9)) == pytest.approx(0.25, rel=1e-14)


@pytest.mark.parametrize(("f1", "f2"), [(0.9, 0.9), (0.95, 0.7), (0.6, 0.3)])
def test_werner_swap_matches_density_matrix(f1: float, f2: float) -> None:
    out = _swap_circuit(werner_coefficients(f1), werner_coefficients(f2))
    assert out[0] == pytest.approx(float(werner_swap(f1, f2)), abs=1e-12)
    # The output is again a Werner state.
    np.testing.assert_allclose(out[1:], (1.0 - out[0]) / 3.0, atol=1e-12)


@FAST
@given(st.floats(0.25, 1.0), st.floats(0.25, 1.0))
def test_werner_swap_never_raises_fidelity(f1: float, f2: float) -> None:
    # Domain: Werner fidelities in [1/4, 1], where F - f2 = (1 - f1)(1 - 4 f2)/3 <= 0.
    f = float(werner_swap(f1, f2))
    assert 0.25 - 1e-15 <= f <= min(f1, f2) + 1e-15


@FAST
@given(fidelity, fidelity)
def test_werner_swap_is_a_fidelity_and_symmetric(f1: float, f2: float) -> None:
    f = float(werner_swap(f1, f2))
    assert 0.0 <= f <= 1.0
    assert f == float(werner_swap(f2, f1))


def test_werner_swap_broadcasts() -> None:
    out = werner_swap(np.array([[0.8], [0.9]]), np.array([0.7, 0.8, 0.9]))
    assert out.shape == (2, 3)
    assert out[1, 2] == pytest.approx(0.813333, abs=1e-6)
    assert isinstance(werner_swap(0.9, 0.9), np.floating)


# --------------------------------------------------------------------------- BBPSSW


def test_bbpssw_reference_point() -> None:
    f_out, p = bbpssw(0.9)
    num = 0.81 + (0.1 / 3.0) ** 2
    den = 0.81 + 2.0 * 0.9 * 0.1 / 3.0 + 5.0 * (0.1 / 3.0) ** 2
    assert float(p) == pytest.approx(den, rel=1e-14)
    assert float(f_out) == pytest.approx(num / den, rel=1e-14)
    assert (round(float(f_out), 6), round(float(p), 6)) == (0.926396, 0.875556)


def test_bbpssw_fixed_points() -> None:
    f_out, p = bbpssw(np.array([0.25, 0.5, 1.0]))
    np.testing.assert_allclose(f_out, [0.25, 0.5, 1.0], rtol=1e-14)
    np.testing.assert_allclose(p, [0.5, 5.0 / 9.0, 1.0], rtol=1e-14)


@FAST
@given(fidelity)
def test_bbpssw_improves_only_above_half(f: float) -> None:
    f_out, p = bbpssw(f)
    assert 0.0 <= float(f_out) <= 1.0
    assert 0.0 < float(p) <= 1.0
    if 0.5 < f < 1.0:
        assert float(f_out) > f
    elif 0.25 < f < 0.5:
        assert float(f_out) < f


@pytest.mark.parametrize(("f1", "f2"), [(0.9, 0.9), (0.9, 0.7), (0.6, 0.95), (1.0, 0.3)])
def test_bbpssw_two_fidelities_match_density_matrix(f1: float, f2: float) -> None:
    coeffs, p = _dejmps_circuit(werner_coefficients(f1), werner_coefficients(f2))
    f_out, p_ref = bbpssw(f1, f2)
    assert float(f_out) == pytest.approx(coeffs[0], abs=1e-12)
    assert float(p_ref) == pytest.approx(p, abs=1e-12)


@FAST
@given(fidelity, fidelity)
def test_bbpssw_two_fidelities_symmetric_and_consistent(f1: float, f2: float) -> None:
    a = bbpssw(f1, f2)
    b = bbpssw(f2, f1)
    assert float(a[0]) == pytest.approx(float(b[0]), abs=1e-14)
    assert float(a[1]) == pytest.approx(float(b[1]), abs=1e-14)
    assert 0.0 <= float(a[0]) <= 1.0 + 1e-15
    same = bbpssw(f1, f1)
    assert float(same[0]) == pytest.approx(float(bbpssw(f1)[0]), abs=1e-15)


# --------------------------------------------------------------------------- DEJMPS


@pytest.mark.parametrize(
    "coeffs",
    [
        (0.7, 0.1, 0.1, 0.1),
        (0.8, 0.15, 0.05, 0.0),
        (0.6, 0.0, 0.1, 0.3),
        (0.55, 0.2, 0.05, 0.2),
    ],
)
def test_dejmps_matches_density_matrix(coeffs: tuple[float, ...]) -> None:
    # Independent check of the coefficient order (phi+, psi-, psi+, phi-) of Deutsch et al.
    expected, p_expected = _dejmps_circuit(coeffs, coeffs)
    new, p = dejmps(*coeffs)
    np.testing.assert_allclose(np.array(new), expected, atol=1e-12)
    assert float(p) == pytest.approx(p_expected, abs=1e-12)


def test_dejmps_formula_at_hand_point() -> None:
    a, b, c, d = 0.8, 0.15, 0.05, 0.0
    n = (a + b) ** 2 + (c + d) ** 2
    new, p = dejmps(a, b, c, d)
    assert float(p) == pytest.approx(n, rel=1e-14)
    np.testing.assert_allclose(
        np.array(new), [(a * a + b * b) / n, 2 * c * d / n, (c * c + d * d) / n, 2 * a * b / n]
    )


@FAST
@given(fidelity)
def test_dejmps_on_werner_equals_bbpssw(f: float) -> None:
    new, p = dejmps(*werner_coefficients(f))
    f_out, p_ref = bbpssw(f)
    assert float(new[0]) == pytest.approx(float(f_out), abs=1e-14)
    assert float(p) == pytest.approx(float(p_ref), abs=1e-14)


@FAST
@given(bell_diagonal)
def test_dejmps_output_is_valid_bell_diagonal(raw: list[float]) -> None:
    coeffs = _normalise(raw)
    new, p = dejmps(*coeffs)
    arr = np.array(new)
    assert np.all((arr >= 0.0) & (arr <= 1.0))
    assert arr.sum() == pytest.approx(1.0, abs=1e-12)
    assert 0.5 - 1e-12 <= float(p) <= 1.0 + 1e-12


def test_dejmps_broadcasts_over_arrays() -> None:
    f = np.linspace(0.5, 1.0, 7)
    new, p = dejmps(*werner_coefficients(f))
    assert all(x.shape == (7,) for x in new) and p.shape == (7,)
    np.testing.assert_allclose(new[0], bbpssw(f)[0], rtol=1e-14)


@pytest.mark.parametrize(
    ("coeffs", "pattern"),
    [
        ((1.1, 0.0, 0.0, -0.1), "'a' parameter of dejmps"),
        ((0.5, -0.1, 0.3, 0.3), "'b' parameter of dejmps"),
        ((0.5, 0.2, 0.2, 0.2), "'a', 'b', 'c', 'd' parameters of dejmps must sum to 1.0"),
        ((0.5, 0.2, math.nan, 0.3), "'c' parameter of dejmps"),
    ],
)
def test_dejmps_validation(coeffs: tuple[float, ...], pattern: str) -> None:
    with pytest.raises(InvalidParameterError, match=pattern):
        dejmps(*coeffs)


# --------------------------------------------------------------------------- memory noise


def test_depolarize_values_and_limits() -> None:
    assert float(depolarize(0.95, 1.0, 1.0)) == pytest.approx(0.25 + 0.7 / math.e, rel=1e-14)
    assert float(depolarize(0.9, 0.0, 1e-3)) == 0.9
    assert float(depolarize(0.9, math.inf, 1.0)) == 0.25
    assert float(depolarize(0.9, 5.0, math.inf)) == 0.9
    assert float(depolarize(0.9, math.inf, math.inf)) == 0.9  # no decoherence wins
    # The Werner parameter (4F - 1)/3 decays exactly as exp(-t/T).
    w0, w1 = (4 * 0.9 - 1) / 3, (4 * float(depolarize(0.9, 0.3, 2.0)) - 1) / 3
    assert w1 / w0 == pytest.approx(math.exp(-0.15), rel=1e-14)


@FAST
@given(st.floats(0.25, 1.0), st.floats(0.0, 10.0), st.floats(0.0, 10.0), st.floats(1e-3, 1e3))
def test_depolarize_never_raises_and_composes(f0: float, t1: float, t2: float, tc: float) -> None:
    # Domain: f0 in [1/4, 1] (below 1/4 the fidelity rises towards 1/4).
    f1 = float(depolarize(f0, t1, tc))
    assert 0.25 - 1e-15 <= f1 <= f0 + 1e-15
    assert float(depolarize(f1, t2, tc)) == pytest.approx(
        float(depolarize(f0, t1 + t2, tc)), abs=1e-14
    )


def test_dephase_probability() -> None:
    assert float(dephase(0.0, 1.0)) == 0.0
    assert float(dephase(math.inf, 1.0)) == 0.5
    assert float(dephase(3.0, math.inf)) == 0.0
    p = dephase(np.array([0.5, 1.0, 2.0]), 1.0)
    np.testing.assert_allclose(1.0 - 2.0 * p, np.exp(-np.array([0.5, 1.0, 2.0])), rtol=1e-14)


@pytest.mark.parametrize("coeffs", [(0.7, 0.1, 0.1, 0.1), (0.6, 0.25, 0.1, 0.05)])
def test_dephase_bell_diagonal_matches_density_matrix(coeffs: tuple[float, ...]) -> None:
    t, t2 = 0.4, 1.0
    p = float(dephase(t, t2))
    rho = _bell_state(coeffs)
    z1 = np.kron(_Z, _I2)
    expected = _bell_coeffs((1 - p) * rho + p * z1 @ rho @ z1)
    got = np.array(dephase_bell_diagonal(*coeffs, t, t2))
    np.testing.assert_allclose(got, expected, atol=1e-14)
    # Dephasing the second qubit instead gives the same Bell-diagonal result.
    z2 = np.kron(_I2, _Z)
    np.testing.assert_allclose(got, _bell_coeffs((1 - p) * rho + p * z2 @ rho @ z2), atol=1e-14)


def test_dephase_bell_diagonal_identity_and_limit() -> None:
    coeffs = (0.8, 0.1, 0.06, 0.04)
    np.testing.assert_array_equal(np.array(dephase_bell_diagonal(*coeffs, 0.0, 1.0)), coeffs)
    lim = np.array(dephase_bell_diagonal(*coeffs, math.inf, 1.0))
    np.testing.assert_allclose(lim, [0.42, 0.08, 0.08, 0.42], rtol=1e-14)


def test_dephase_two_qubits_equals_one_qubit_for_twice_the_time() -> None:
    coeffs, t, t2 = (0.8, 0.1, 0.06, 0.04), 0.3, 1.0
    p = float(dephase(t, t2))
    rho = _bell_state(coeffs)
    for z in (np.kron(_Z, _I2), np.kron(_I2, _Z)):
        rho = (1 - p) * rho + p * z @ rho @ z
    got = np.array(dephase_bell_diagonal(*coeffs, 2 * t, t2))
    np.testing.assert_allclose(got, _bell_coeffs(rho), atol=1e-14)


@FAST
@given(bell_diagonal, st.floats(0.0, 100.0), st.floats(1e-3, 1e3))
def test_dephase_never_raises_fidelity(raw: list[float], t: float, t2: float) -> None:
    coeffs = _normalise(raw)
    new = np.array(dephase_bell_diagonal(*coeffs, t, t2))
    assert new.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all((new >= 0.0) & (new <= 1.0))
    if coeffs[0] >= coeffs[3]:  # domain where a Z error cannot help: a >= d
        assert new[0] <= coeffs[0] + 1e-15


def test_memory_noise_broadcasts() -> None:
    out = depolarize(np.array([0.9, 0.8]), np.array([[0.0], [1.0], [2.0]]), 1.0)
    assert out.shape == (3, 2)
    new = dephase_bell_diagonal(0.7, 0.1, 0.1, 0.1, np.array([0.0, 1.0, 2.0]), 1.0)
    assert all(x.shape == (3,) for x in new)


# --------------------------------------------------------------------------- link generation


def test_single_click_hand_point() -> None:
    eta = 0.5 * 10 ** (-0.2 * 25.0 / 10.0)  # 50 km link: 25 km to the midpoint
    p, f = single_click_link(50.0, 0.5, 0.1)
    assert float(p) == pytest.approx(2 * 0.1 * eta, rel=1e-14)
    assert float(p) == pytest.approx(0.0316228, abs=1e-7)
    assert float(f) == pytest.approx(0.9, rel=1e-14)


def test_double_click_hand_point() -> None:
    eta = 0.5 * 10 ** (-0.2 * 25.0 / 10.0)
    p, f = double_click_link(50.0, 0.5)
    assert float(p) == pytest.approx(eta**2 / 2, rel=1e-14)
    assert float(p) == pytest.approx(0.0125, rel=1e-12)
    assert float(f) == 1.0


def test_link_limits_and_consistency_with_fiber() -> None:
    p, f = single_click_link(0.0, 1.0, 0.05)
    assert (float(p), float(f)) == pytest.approx((0.1, 0.95))
    p, f = double_click_link(0.0, 1.0)
    assert (float(p), float(f)) == (0.5, 1.0)
    lengths = np.array([10.0, 100.0, 400.0])
    p1, _ = single_click_link(lengths, 0.3, 0.05, alpha_db_per_km=0.18)
    p2, _ = double_click_link(lengths, 0.3, alpha_db_per_km=0.18)
    half = fiber_transmittance(lengths / 2, 0.18)
    np.testing.assert_allclose(p1, 2 * 0.05 * 0.3 * half, rtol=1e-14)
    # Double click needs both photons: it scales with the transmittance of the full length.
    np.testing.assert_allclose(p2, 0.3**2 * fiber_transmittance(lengths, 0.18) / 2, rtol=1e-12)
    assert np.all(np.diff(p1) < 0) and np.all(np.diff(p2) < 0)
    # Single click scales with sqrt of the loss, so it wins at long distance.
    assert p1[-1] > p2[-1]


def test_single_click_tradeoff_and_broadcast() -> None:
    alpha = np.array([0.01, 0.05, 0.1, 0.3])
    p, f = single_click_link(np.array([[20.0], [60.0]]), 0.4, alpha)
    assert p.shape == (2, 4) and f.shape == (2, 4)
    assert np.all(np.diff(p, axis=1) > 0) and np.all(np.diff(f, axis=1) < 0)
    np.testing.assert_allclose(f[0], 1.0 - alpha)
    p2, f2 = double_click_link(np.array([1.0, 2.0]), 0.5)
    assert p2.shape == (2,) and f2.shape == (2,)


@pytest.mark.parametrize(
    ("func", "args", "kwargs", "name"),
    [
        (single_click_link, (10.0, 0.5, 0.6), {}, "alpha_bright"),
        (single_click_link, (10.0, 1.2, 0.1), {}, "p_det"),
        (single_click_link, (-1.0, 0.5, 0.1), {}, "length_km"),
        (single_click_link, (10.0, 0.5, 0.1), {"alpha_db_per_km": -0.1}, "alpha_db_per_km"),
        (double_click_link, (10.0, -0.5), {}, "p_det"),
        (double_click_link, (math.nan, 0.5), {}, "length_km"),
    ],
)
def test_link_validation(func, args: tuple, kwargs: dict, name: str) -> None:
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of {func.__name__}"):
        func(*args, **kwargs)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("func", "args", "name"),
    [
        (werner_swap, (1.1, 0.9), "f1"),
        (werner_swap, (0.9, -0.1), "f2"),
        (bbpssw, (1.5,), "f"),
        (bbpssw, (0.9, 2.0), "f2"),
        (werner_coefficients, (-0.2,), "f"),
        (depolarize, (1.2, 1.0, 1.0), "f0"),
        (depolarize, (0.9, -1.0, 1.0), "t"),
        (depolarize, (0.9, 1.0, 0.0), "t_coherence"),
        (dephase, (-0.5, 1.0), "t"),
        (dephase, (0.5, -1.0), "t2"),
        (dephase_bell_diagonal, (0.7, 0.1, 0.1, 0.1, -1.0, 1.0), "t"),
        (dephase_bell_diagonal, (0.7, 0.1, 0.1, 0.1, 1.0, 0.0), "t2"),
        (dephase_bell_diagonal, (0.7, 0.1, 0.1, 1.1, 1.0, 1.0), "d"),
    ],
)
def test_invalid_arguments_name_the_parameter(func, args: tuple, name: str) -> None:
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of {func.__name__}"):
        func(*args)


def test_werner_coefficients_sum_to_one() -> None:
    coeffs = np.array(werner_coefficients(np.array([0.3, 0.9])))
    np.testing.assert_allclose(coeffs.sum(axis=0), 1.0, rtol=1e-15)
    np.testing.assert_allclose(coeffs[0], [0.3, 0.9])
