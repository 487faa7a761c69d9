r"""Models for entangled pairs in a quantum repeater: generation, swapping, purification, storage.

Pairs are described either by their fidelity ``f`` with the target Bell state, assuming a Werner
state (target with weight ``f``, the three other Bell states with weight ``(1 - f)/3`` each), or
by their four Bell-diagonal coefficients in the order of Deutsch et al. (see
:data:`BELL_ORDER`): :math:`|\Phi^+\rangle` (the target), :math:`|\Psi^-\rangle`,
:math:`|\Psi^+\rangle`, :math:`|\Phi^-\rangle`, with :math:`|\Phi^\pm\rangle = (|00\rangle \pm
|11\rangle)/\sqrt2` and :math:`|\Psi^\pm\rangle = (|01\rangle \pm |10\rangle)/\sqrt2`. Every
function is vectorised: arguments broadcast with numpy rules, and scalar inputs give numpy
scalars. Heralded elementary-link generation uses :func:`qnetrl.physics.channel.fiber_transmittance`
for the fibre loss.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qnetrl._validation import InvalidParameterError, check_range
from qnetrl.physics.channel import fiber_transmittance

__all__ = [
    "BELL_ORDER",
    "bbpssw",
    "dejmps",
    "dephase",
    "dephase_bell_diagonal",
    "depolarize",
    "double_click_link",
    "single_click_link",
    "werner_coefficients",
    "werner_swap",
]

#: Order of the Bell-diagonal coefficients ``(a, b, c, d)`` used by every function here; it is
#: the order of the coefficients A, B, C, D in Deutsch et al. (1996).
BELL_ORDER: Final[tuple[str, str, str, str]] = ("phi_plus", "psi_minus", "psi_plus", "phi_minus")

#: Largest allowed deviation of ``a + b + c + d`` from 1.
_SUM_TOL: Final[float] = 1e-9

FloatOrArray = NDArray[np.float64] | np.float64
BellDiagonal = tuple[FloatOrArray, FloatOrArray, FloatOrArray, FloatOrArray]


def _out(x: NDArray[np.float64]) -> FloatOrArray:
    """Return a numpy scalar for 0-d results and the array otherwise."""
    return x[()] if x.ndim == 0 else x


def _fidelity(name: str, value: ArrayLike, owner: str) -> NDArray[np.float64]:
    """Validate a fidelity or probability in [0, 1]."""
    return check_range(name, value, owner=owner, low=0.0, high=1.0)


def _bell_coefficients(
    a: ArrayLike, b: ArrayLike, c: ArrayLike, d: ArrayLike, owner: str
) -> tuple[NDArray[np.float64], ...]:
    """Validate four Bell-diagonal coefficients (each in [0, 1], summing to 1) and broadcast."""
    coeffs = [_fidelity(n, v, owner) for n, v in zip("abcd", (a, b, c, d), strict=True)]
    coeffs = np.broadcast_arrays(*coeffs)
    total = coeffs[0] + coeffs[1] + coeffs[2] + coeffs[3]
    bad = np.abs(total - 1.0) > _SUM_TOL
    if bad.any():
        got = total[bad].flat[0] if total.ndim else total.item()
        raise InvalidParameterError(
            f"The 'a', 'b', 'c', 'd' parameters of {owner} must sum to 1.0 "
            f"(within {_SUM_TOL}). Got a sum of {got!r} instead."
        )
    return tuple(coeffs)


def werner_coefficients(f: ArrayLike) -> BellDiagonal:
    """Bell-diagonal coefficients of a Werner state of fidelity ``f``.

    Parameters
    ----------
    f : array_like
        Fidelity with :math:`|\\Phi^+\\rangle`, in ``[0, 1]``.

    Returns
    -------
    a, b, c, d : ndarray or float
        ``(f, (1-f)/3, (1-f)/3, (1-f)/3)`` in the order of :data:`BELL_ORDER`.

    Examples
    --------
    >>> [round(float(x), 6) for x in werner_coefficients(0.7)]
    [0.7, 0.1, 0.1, 0.1]
    """
    fid = _fidelity("f", f, "werner_coefficients")
    rest = (1.0 - fid) / 3.0
    return _out(fid), _out(rest), _out(rest.copy()), _out(rest.copy())


def werner_swap(f1: ArrayLike, f2: ArrayLike) -> FloatOrArray:
    """Fidelity after entanglement swapping of two Werner pairs.

    Parameters
    ----------
    f1, f2 : array_like
        Fidelities of the two input Werner pairs, in ``[0, 1]``; broadcast together.

    Returns
    -------
    f : ndarray or float
        Fidelity of the Werner pair joining the outer nodes.

    Notes
    -----
    A perfect Bell measurement on the two inner qubits followed by the Pauli correction of the
    outcome composes the Pauli errors of the inputs; the output is correct when both inputs are
    correct or both carry the same one of the three errors (connection of Werner pairs with
    perfect local operations, [1]_, [2]_):

    .. math:: F = F_1 F_2 + \\frac{(1 - F_1)(1 - F_2)}{3}.

    For :math:`F_1, F_2 \\in [1/4, 1]` the output never exceeds :math:`\\min(F_1, F_2)`, since
    :math:`F - F_2 = (1 - F_1)(1 - 4F_2)/3`.

    References
    ----------
    .. [1] H.-J. Briegel, W. Dür, J. I. Cirac and P. Zoller, "Quantum repeaters: the role of
       imperfect local operations in quantum communication", Phys. Rev. Lett., vol. 81,
       no. 26, pp. 5932-5935, 1998, DOI 10.1103/PhysRevLett.81.5932.
    .. [2] W. Dür, H.-J. Briegel, J. I. Cirac and P. Zoller, "Quantum repeaters based on
       entanglement purification", Phys. Rev. A, vol. 59, no. 1, pp. 169-181, 1999,
       DOI 10.1103/PhysRevA.59.169.

    Examples
    --------
    >>> round(float(werner_swap(0.9, 0.9)), 6)  # 0.81 + 0.01 / 3
    0.813333
    """
    owner = "werner_swap"
    a1 = _fidelity("f1", f1, owner)
    a2 = _fidelity("f2", f2, owner)
    return _out(a1 * a2 + (1.0 - a1) * (1.0 - a2) / 3.0)


def bbpssw(f: ArrayLike, f2: ArrayLike | None = None) -> tuple[FloatOrArray, FloatOrArray]:
    """One round of the BBPSSW recurrence purification on Werner pairs.

    Parameters
    ----------
    f : array_like
        Fidelity of the first (kept) Werner pair, in ``[0, 1]``.
    f2 : array_like or None
        Fidelity of the second (measured) Werner pair, in ``[0, 1]``; broadcasts against
        ``f``. ``None`` (default) means two copies of the same state, as in [1]_.

    Returns
    -------
    f_out : ndarray or float
        Fidelity of the kept pair when the round succeeds (re-twirled to a Werner state).
    p_success : ndarray or float
        Probability that the two parity measurements agree.

    Notes
    -----
    Bilateral CNOT between the pairs and a parity check of the target pair ([1]_, recurrence
    method; identical copies):

    .. math:: F' = \\frac{F^2 + \\frac19(1-F)^2}{N}, \\qquad
              N = F^2 + \\frac23 F(1-F) + \\frac59 (1-F)^2,

    with :math:`N` the success probability. For two different fidelities (the form used in
    repeater protocols, e.g. [2]_, where pairs of unequal history are combined)

    .. math:: F' = \\frac{F_1F_2 + \\frac19(1-F_1)(1-F_2)}{N}, \\quad
              N = F_1F_2 + \\frac{F_1(1-F_2) + (1-F_1)F_2}{3} + \\frac59(1-F_1)(1-F_2).

    Both follow from :func:`dejmps` on Werner coefficients. The round raises the fidelity only
    when :math:`F > 1/2`.

    References
    ----------
    .. [1] C. H. Bennett, G. Brassard, S. Popescu, B. Schumacher, J. A. Smolin and
       W. K. Wootters, "Purification of noisy entanglement and faithful teleportation via
       noisy channels", Phys. Rev. Lett., vol. 76, no. 5, pp. 722-725, 1996,
       DOI 10.1103/PhysRevLett.76.722.
    .. [2] W. Dür, H.-J. Briegel, J. I. Cirac and P. Zoller, "Quantum repeaters based on
       entanglement purification", Phys. Rev. A, vol. 59, no. 1, pp. 169-181, 1999,
       DOI 10.1103/PhysRevA.59.169.

    Examples
    --------
    >>> f_out, p = bbpssw(0.9)
    >>> round(float(f_out), 6), round(float(p), 6)
    (0.926396, 0.875556)
    """
    owner = "bbpssw"
    g1 = _fidelity("f", f, owner)
    g2 = g1 if f2 is None else _fidelity("f2", f2, owner)
    e1 = (1.0 - g1) / 3.0  # weight of each of the three wrong Bell states
    e2 = (1.0 - g2) / 3.0
    # Eq. of [1] written with e = (1 - F)/3: numerator F1 F2 + e1 e2, N = (F1+e1)(F2+e2) + 4 e1 e2.
    p_success = (g1 + e1) * (g2 + e2) + 4.0 * e1 * e2
    f_out = (g1 * g2 + e1 * e2) / p_success
    return _out(f_out), _out(p_success)


def dejmps(
    a: ArrayLike, b: ArrayLike, c: ArrayLike, d: ArrayLike
) -> tuple[BellDiagonal, FloatOrArray]:
    """One round of the DEJMPS recurrence purification on two copies of a Bell-diagonal pair.

    Parameters
    ----------
    a, b, c, d : array_like
        Bell-diagonal coefficients in the order of :data:`BELL_ORDER` (weights of
        :math:`\\Phi^+, \\Psi^-, \\Psi^+, \\Phi^-`), each in ``[0, 1]``, summing to 1 within
        1e-9; broadcast together. ``a`` is the fidelity.

    Returns
    -------
    coefficients : tuple of 4 ndarray or float
        ``(a', b', c', d')``, the Bell-diagonal coefficients of the kept pair after a
        successful round, in the same order.
    p_success : ndarray or float
        Probability that the parity measurements agree, :math:`N` below.

    Raises
    ------
    InvalidParameterError
        If a coefficient lies outside ``[0, 1]`` or the four do not sum to 1.

    Notes
    -----
    Alice rotates her qubits by :math:`R_x(\\pi/2)` and Bob by :math:`R_x(-\\pi/2)` (this swaps
    the weights of :math:`\\Psi^-` and :math:`\\Phi^-`), both apply a CNOT from the kept pair to
    the sacrificed pair and measure the latter in the computational basis; the round succeeds
    when their results agree. The recurrence of [1]_ (coefficients :math:`A, B, C, D` of
    :math:`\\Phi^+, \\Psi^-, \\Psi^+, \\Phi^-`) is

    .. math::
        A' = \\frac{A^2 + B^2}{N},\\quad B' = \\frac{2CD}{N},\\quad
        C' = \\frac{C^2 + D^2}{N},\\quad D' = \\frac{2AB}{N},\\qquad
        N = (A + B)^2 + (C + D)^2.

    The order was checked by simulating the 4-qubit circuit on density matrices (see the
    tests). On Werner coefficients one round equals :func:`bbpssw`.

    References
    ----------
    .. [1] D. Deutsch, A. Ekert, R. Jozsa, C. Macchiavello, S. Popescu and A. Sanpera,
       "Quantum privacy amplification and the security of quantum cryptography over noisy
       channels", Phys. Rev. Lett., vol. 77, no. 13, pp. 2818-2821, 1996,
       DOI 10.1103/PhysRevLett.77.2818.

    Examples
    --------
    >>> (a, b, c, d), p = dejmps(0.9, 0.1 / 3, 0.1 / 3, 0.1 / 3)  # Werner input: as BBPSSW
    >>> round(float(a), 6), round(float(p), 6)
    (0.926396, 0.875556)
    """
    ca, cb, cc, cd = _bell_coefficients(a, b, c, d, "dejmps")
    n = (ca + cb) ** 2 + (cc + cd) ** 2  # >= 1/2 whenever the coefficients sum to 1
    new = (
        (ca * ca + cb * cb) / n,
        2.0 * cc * cd / n,
        (cc * cc + cd * cd) / n,
        2.0 * ca * cb / n,
    )
    return (_out(new[0]), _out(new[1]), _out(new[2]), _out(new[3])), _out(n)


def _decay(
    t: ArrayLike, time_constant: ArrayLike, t_name: str, tc_name: str, owner: str
) -> NDArray[np.float64]:
    """Return ``exp(-t / time_constant)`` after validation; an infinite constant means 1."""
    tt = check_range(t_name, t, owner=owner, low=0.0)
    tc = check_range(tc_name, time_constant, owner=owner, low=0.0, low_inclusive=False)
    with np.errstate(invalid="ignore"):
        ratio = np.where(np.isinf(tc), 0.0, tt / tc)
    return np.exp(-ratio)


def depolarize(f0: ArrayLike, t: ArrayLike, t_coherence: ArrayLike) -> FloatOrArray:
    """Fidelity of a Werner pair after storage in depolarising memories.

    Parameters
    ----------
    f0 : array_like
        Fidelity when storage starts, in ``[0, 1]``.
    t : array_like
        Storage time (in s), in ``[0, inf]``.
    t_coherence : array_like
        Decay time of the pair's Werner parameter (in s), in ``(0, inf]``; ``math.inf`` means
        no decoherence (then any ``t``, even infinite, leaves ``f0`` unchanged). For two
        memories that each depolarise with time constant :math:`T_m`, use :math:`T_m / 2`.
        All three arguments broadcast together.

    Returns
    -------
    f : ndarray or float
        Fidelity after storage.

    Notes
    -----
    Memory errors modelled as depolarising noise ([1]_): the Werner parameter
    :math:`w = (4F - 1)/3` decays as :math:`e^{-t/T}`, so

    .. math:: F(t) = \\frac14 + \\left(F_0 - \\frac14\\right) e^{-t/T}.

    The fidelity never rises when :math:`F_0 \\ge 1/4` and tends to the maximally mixed
    value 1/4.

    References
    ----------
    .. [1] L. Hartmann, B. Kraus, H.-J. Briegel and W. Dür, "Role of memory errors in quantum
       repeaters", Phys. Rev. A, vol. 75, no. 3, p. 032310, 2007,
       DOI 10.1103/PhysRevA.75.032310.

    Examples
    --------
    >>> round(float(depolarize(0.95, 1.0, 1.0)), 6)  # 0.25 + 0.7 / e
    0.507516
    >>> float(depolarize(0.95, 10.0, np.inf))
    0.95
    """
    owner = "depolarize"
    f = _fidelity("f0", f0, owner)
    decay = _decay(t, t_coherence, "t", "t_coherence", owner)
    return _out(0.25 + (f - 0.25) * decay)


def dephase(t: ArrayLike, t2: ArrayLike) -> FloatOrArray:
    """Phase-flip probability of a qubit after pure dephasing.

    Parameters
    ----------
    t : array_like
        Storage time (in s), in ``[0, inf]``.
    t2 : array_like
        Dephasing time :math:`T_2` (in s), in ``(0, inf]``; ``math.inf`` means no dephasing.
        Broadcasts against ``t``.

    Returns
    -------
    p : ndarray or float
        Probability of a :math:`Z` error, in ``[0, 1/2]``.

    Notes
    -----
    Pure dephasing multiplies the off-diagonal elements of the qubit density matrix by
    :math:`e^{-t/T_2}`; this is the phase-flip channel
    :math:`\\rho \\mapsto (1-p)\\rho + p Z\\rho Z` (Sec. 8.3.6 of [1]_, phase damping is a
    phase flip) with :math:`1 - 2p = e^{-t/T_2}`:

    .. math:: p(t) = \\frac{1 - e^{-t/T_2}}{2}.

    References
    ----------
    .. [1] M. A. Nielsen and I. L. Chuang, "Quantum Computation and Quantum Information",
       10th anniversary ed., Cambridge University Press, 2010, Sec. 8.3.6,
       DOI 10.1017/CBO9780511976667.

    Examples
    --------
    >>> float(dephase(0.0, 1.0)), float(dephase(np.inf, 1.0))
    (0.0, 0.5)
    """
    return _out(0.5 * (1.0 - _decay(t, t2, "t", "t2", "dephase")))


def dephase_bell_diagonal(
    a: ArrayLike, b: ArrayLike, c: ArrayLike, d: ArrayLike, t: ArrayLike, t2: ArrayLike
) -> BellDiagonal:
    """Bell-diagonal coefficients after one qubit of the pair dephases for a time ``t``.

    Parameters
    ----------
    a, b, c, d : array_like
        Bell-diagonal coefficients in the order of :data:`BELL_ORDER`, each in ``[0, 1]``,
        summing to 1 within 1e-9.
    t : array_like
        Storage time (in s), in ``[0, inf]``.
    t2 : array_like
        Dephasing time :math:`T_2` of the memory (in s), in ``(0, inf]``. All arguments
        broadcast together.

    Returns
    -------
    a, b, c, d : tuple of 4 ndarray or float
        Coefficients after dephasing, same order.

    Notes
    -----
    A :math:`Z` error on one qubit maps :math:`\\Phi^+ \\leftrightarrow \\Phi^-` and
    :math:`\\Psi^+ \\leftrightarrow \\Psi^-`, so with :math:`p` from :func:`dephase`

    .. math:: a' = (1-p)a + pd,\\quad b' = (1-p)b + pc,\\quad
              c' = (1-p)c + pb,\\quad d' = (1-p)d + pa.

    The fidelity ``a`` never rises when :math:`a \\ge d` (e.g. any pair with
    :math:`a \\ge 1/2`). When both qubits dephase for ``t`` with the same :math:`T_2`, the two
    flips combine into one with probability :math:`2p(1-p)`, which equals :func:`dephase` at
    time :math:`2t`: call this function with ``2 * t``.

    Examples
    --------
    >>> [round(float(x), 6) for x in dephase_bell_diagonal(0.9, 0.05, 0.05, 0.0, np.inf, 1.0)]
    [0.45, 0.05, 0.05, 0.45]
    """
    owner = "dephase_bell_diagonal"
    ca, cb, cc, cd = _bell_coefficients(a, b, c, d, owner)
    p = 0.5 * (1.0 - _decay(t, t2, "t", "t2", owner))
    q = 1.0 - p
    return (
        _out(q * ca + p * cd),
        _out(q * cb + p * cc),
        _out(q * cc + p * cb),
        _out(q * cd + p * ca),
    )


def _link_eta(
    length_km: ArrayLike, p_det: ArrayLike, alpha_db_per_km: ArrayLike, owner: str
) -> NDArray[np.float64]:
    """Detection probability of one photon sent from an end node to the midpoint station."""
    check_range("length_km", length_km, owner=owner, low=0.0)
    check_range("alpha_db_per_km", alpha_db_per_km, owner=owner, low=0.0)
    pd = _fidelity("p_det", p_det, owner)
    half = np.asarray(length_km, dtype=np.float64) / 2.0
    return pd * np.asarray(fiber_transmittance(half, alpha_db_per_km))


def single_click_link(
    length_km: ArrayLike,
    p_det: ArrayLike,
    alpha_bright: ArrayLike,
    *,
    alpha_db_per_km: ArrayLike = 0.2,
) -> tuple[FloatOrArray, FloatOrArray]:
    """Success probability and fidelity of single-click heralded entanglement generation.

    Parameters
    ----------
    length_km : array_like
        Distance between the two end nodes (in km), in ``[0, inf)``; the heralding station
        sits at the midpoint, so each photon travels ``length_km / 2``.
    p_det : array_like
        Probability that an emitted photon is detected at the station, excluding fibre loss
        (collection, frequency conversion and detector efficiency), in ``[0, 1]``.
    alpha_bright : array_like
        Population :math:`\\alpha` of the bright (photon-emitting) state each node prepares,
        in ``[0, 0.5]``.
    alpha_db_per_km : array_like
        Fibre attenuation (in dB/km, default 0.2). All arguments broadcast together.

    Returns
    -------
    p_success : ndarray or float
        Probability of a heralding click per attempt, :math:`2\\alpha\\eta`.
    fidelity : ndarray or float
        Fidelity of the heralded state with the target Bell state, :math:`1 - \\alpha`.

    Notes
    -----
    Each node entangles its qubit with the presence of a photon,
    :math:`\\sqrt{1-\\alpha}|0\\rangle|0\\rangle + \\sqrt{\\alpha}|1\\rangle|1\\rangle`, and
    the photons interfere on a beam splitter at the midpoint ([1]_). One click heralds
    :math:`\\Psi^\\pm`, except that with probability :math:`\\approx\\alpha` both nodes emitted
    and one photon was lost, leaving :math:`|11\\rangle` ([2]_):

    .. math:: p \\approx 2\\alpha\\eta, \\qquad F \\approx 1 - \\alpha, \\qquad
              \\eta = p_{det}\\,10^{-\\alpha_{dB} L/20}.

    Approximations (as in the main text of [2]_): leading order in :math:`\\alpha\\eta \\ll 1`;
    no dark counts, perfectly indistinguishable photons, stable optical phase, and no
    double-excitation or spin-decoherence errors. The fidelity is the one for the correct
    Bell state after the click-dependent phase correction.

    References
    ----------
    .. [1] C. Cabrillo, J. I. Cirac, P. García-Fernández and P. Zoller, "Creation of entangled
       states of distant atoms by interference", Phys. Rev. A, vol. 59, no. 2,
       pp. 1025-1033, 1999, DOI 10.1103/PhysRevA.59.1025.
    .. [2] P. C. Humphreys, N. Kalb, J. P. J. Morits, R. N. Schouten, R. F. L. Vermeulen,
       D. J. Twitchen, M. Markham and R. Hanson, "Deterministic delivery of remote
       entanglement on a quantum network", Nature, vol. 558, pp. 268-273, 2018,
       DOI 10.1038/s41586-018-0200-5.

    Examples
    --------
    >>> p, f = single_click_link(50.0, 0.5, 0.1)  # eta = 0.5 * 10**(-0.5)
    >>> round(float(p), 6), round(float(f), 6)
    (0.031623, 0.9)
    """
    owner = "single_click_link"
    eta = _link_eta(length_km, p_det, alpha_db_per_km, owner)
    alpha = check_range("alpha_bright", alpha_bright, owner=owner, low=0.0, high=0.5)
    p, f = np.broadcast_arrays(2.0 * alpha * eta, 1.0 - alpha)
    return _out(np.array(p)), _out(np.array(f))


def double_click_link(
    length_km: ArrayLike,
    p_det: ArrayLike,
    *,
    alpha_db_per_km: ArrayLike = 0.2,
) -> tuple[FloatOrArray, FloatOrArray]:
    """Success probability and fidelity of Barrett-Kok double-click entanglement generation.

    Parameters
    ----------
    length_km : array_like
        Distance between the two end nodes (in km), in ``[0, inf)``; the heralding station
        sits at the midpoint.
    p_det : array_like
        Probability that an emitted photon is detected at the station, excluding fibre loss,
        in ``[0, 1]``.
    alpha_db_per_km : array_like
        Fibre attenuation (in dB/km, default 0.2). All arguments broadcast together.

    Returns
    -------
    p_success : ndarray or float
        Probability that both rounds click per attempt, :math:`\\eta^2/2`.
    fidelity : ndarray or float
        Fidelity of the heralded state, 1 in this ideal model.

    Notes
    -----
    Both nodes emit one photon entangled with their qubit; a click in each of two rounds
    separated by a spin flip heralds a Bell state ([1]_). Both photons must arrive, and only
    half of the Bell-state outcomes are identified by linear optics:

    .. math:: p = \\frac{\\eta^2}{2}, \\qquad \\eta = p_{det}\\,10^{-\\alpha_{dB} L/20},
              \\qquad F = 1.

    The fidelity is 1 because a lost photon gives no herald; dark counts, photon
    distinguishability and phase noise (which lower it in practice) are not modelled.

    References
    ----------
    .. [1] S. D. Barrett and P. Kok, "Efficient high-fidelity quantum computation using matter
       qubits and linear optics", Phys. Rev. A, vol. 71, no. 6, p. 060310(R), 2005,
       DOI 10.1103/PhysRevA.71.060310.

    Examples
    --------
    >>> p, f = double_click_link(50.0, 0.5)
    >>> round(float(p), 6), float(f)  # (0.5 * 10**(-0.5))**2 / 2
    (0.0125, 1.0)
    """
    eta = _link_eta(length_km, p_det, alpha_db_per_km, "double_click_link")
    p = 0.5 * eta * eta
    return _out(p), _out(np.ones_like(p))
