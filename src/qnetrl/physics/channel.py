"""Models for lossy optical fibre and fading radio channels.

This module holds the one place where fibre transmittance, decibel conversion and the bit error
rate (BER) of coherent binary phase-shift keying (BPSK) over additive white Gaussian noise
(AWGN), Rayleigh and Rician flat fading are computed, together with a fading-gain sampler and a
Monte Carlo BPSK link simulator used to check the closed forms. Every function accepts scalars
or arrays and broadcasts its arguments with numpy rules; scalar inputs give numpy scalars.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import erfc

from qnetrl._validation import InvalidParameterError, check_choice, check_range

__all__ = [
    "FADING_MODELS",
    "bpsk_awgn_ber",
    "bpsk_rayleigh_ber",
    "bpsk_rician_ber",
    "db_to_linear",
    "fiber_transmittance",
    "linear_to_db",
    "rayleigh_snr_db_for_ber",
    "sample_fading_gain",
    "simulate_bpsk",
]

#: Fading models understood by :func:`sample_fading_gain` and :func:`simulate_bpsk`.
FADING_MODELS: Final[tuple[str, ...]] = ("none", "rayleigh", "rician")

#: Number of Gauss-Legendre nodes for the finite-range MGF integral of the Rician BER.
_N_QUAD: Final[int] = 96

#: Largest number of simulated symbols held in memory at once by :func:`simulate_bpsk`.
_MAX_CHUNK_ELEMENTS: Final[int] = 1 << 20

_GL_X, _GL_W = np.polynomial.legendre.leggauss(_N_QUAD)
#: Quadrature nodes theta in (0, pi/2) and weights (already divided by pi) for the MGF integral.
_THETA: Final[NDArray[np.float64]] = (np.pi / 4.0) * (_GL_X + 1.0)
_THETA_W: Final[NDArray[np.float64]] = (np.pi / 4.0) * _GL_W / np.pi
_SIN2_THETA: Final[NDArray[np.float64]] = np.sin(_THETA) ** 2


def _out(x: NDArray[np.float64]) -> NDArray[np.float64] | np.float64:
    """Return a numpy scalar for 0-d results and the array otherwise."""
    return x[()] if x.ndim == 0 else x


def fiber_transmittance(
    length_km: ArrayLike, alpha_db_per_km: ArrayLike = 0.2
) -> NDArray[np.float64] | np.float64:
    """Power transmittance of an optical fibre.

    Parameters
    ----------
    length_km : array_like
        Fibre length (in km), in ``[0, inf)``.
    alpha_db_per_km : array_like
        Attenuation coefficient (in dB/km, default 0.2, telecom fibre at 1550 nm), in
        ``[0, inf)``. Broadcasts against ``length_km``.

    Returns
    -------
    eta : ndarray or float
        Fraction of the launched power that leaves the fibre, in ``[0, 1]``; the broadcast
        shape of the inputs.

    Raises
    ------
    InvalidParameterError
        If a length or an attenuation is negative or NaN.

    Notes
    -----
    Loss in decibels grows linearly with length (Sec. 2.5.1 of [1]_, where
    :math:`\\alpha_{dB} = -(10/L)\\log_{10}(P_{out}/P_{in})`), so

    .. math:: \\eta(L) = 10^{-\\alpha_{dB} L / 10}.

    References
    ----------
    .. [1] G. P. Agrawal, "Fiber-Optic Communication Systems", 4th ed., Wiley, 2010,
       Sec. 2.5.1, ISBN 978-0-470-50511-3, DOI 10.1002/9780470918524.

    Examples
    --------
    >>> float(fiber_transmittance(50.0))  # 10 dB of loss
    0.1
    >>> fiber_transmittance([0.0, 100.0], 0.2).tolist()
    [1.0, 0.01]
    """
    owner = "fiber_transmittance"
    length = check_range("length_km", length_km, owner=owner, low=0.0)
    alpha = check_range("alpha_db_per_km", alpha_db_per_km, owner=owner, low=0.0)
    with np.errstate(invalid="ignore"):
        loss_db = alpha * length
    # 0 dB/km times an infinite length is lossless fibre of any length, not NaN.
    loss_db = np.where((alpha == 0.0) | (length == 0.0), 0.0, loss_db)
    return _out(db_to_linear(-loss_db))


def db_to_linear(x_db: ArrayLike) -> NDArray[np.float64] | np.float64:
    """Convert a power ratio from decibels to linear scale, ``10**(x_db / 10)``.

    Parameters
    ----------
    x_db : array_like
        Power ratio (in dB); ``-inf`` maps to 0 and ``inf`` to ``inf``.

    Returns
    -------
    x : ndarray or float
        Linear power ratio, same shape as ``x_db``.

    Examples
    --------
    >>> float(db_to_linear(10.0)), float(db_to_linear(-3.0)) == 10 ** -0.3
    (10.0, True)
    """
    x = check_range("x_db", x_db, owner="db_to_linear")
    return _out(np.power(10.0, x / 10.0))


def linear_to_db(x: ArrayLike) -> NDArray[np.float64] | np.float64:
    """Convert a linear power ratio to decibels, ``10 log10(x)``.

    Parameters
    ----------
    x : array_like
        Linear power ratio, in ``[0, inf]``; 0 maps to ``-inf`` dB.

    Returns
    -------
    x_db : ndarray or float
        Power ratio (in dB), same shape as ``x``.

    Examples
    --------
    >>> float(linear_to_db(100.0))
    20.0
    """
    arr = check_range("x", x, owner="linear_to_db", low=0.0)
    with np.errstate(divide="ignore"):
        return _out(10.0 * np.log10(arr))


def _snr_linear(snr_db: ArrayLike, owner: str) -> NDArray[np.float64]:
    """Validate an SNR in dB (any non-NaN value) and return it on a linear scale."""
    snr = check_range("snr_db", snr_db, owner=owner)
    return np.power(10.0, snr / 10.0)


def bpsk_awgn_ber(snr_db: ArrayLike) -> NDArray[np.float64] | np.float64:
    """Bit error rate of coherent BPSK over an AWGN channel.

    Parameters
    ----------
    snr_db : array_like
        Signal-to-noise ratio per bit :math:`E_b/N_0` (in dB); ``-inf`` and ``inf`` allowed.

    Returns
    -------
    ber : ndarray or float
        Bit error probability in ``[0, 0.5]``, same shape as ``snr_db``.

    Notes
    -----
    Eq. 4.3-13 of [1]_, with :math:`\\gamma_b = 10^{\\mathrm{snr\\_db}/10}`:

    .. math:: P_b = Q\\left(\\sqrt{2\\gamma_b}\\right)
              = \\tfrac12 \\operatorname{erfc}\\left(\\sqrt{\\gamma_b}\\right).

    References
    ----------
    .. [1] J. G. Proakis and M. Salehi, "Digital Communications", 5th ed., McGraw-Hill, 2008,
       Sec. 4.3-1, Eq. 4.3-13, ISBN 978-0-07-295716-7.

    Examples
    --------
    The textbook operating point: :math:`P_b \\approx 10^{-5}` needs about 9.6 dB.

    >>> f"{float(bpsk_awgn_ber(9.6)):.2e}"
    '9.74e-06'
    >>> float(bpsk_awgn_ber(-np.inf))
    0.5
    """
    gamma = _snr_linear(snr_db, "bpsk_awgn_ber")
    return _out(0.5 * erfc(np.sqrt(gamma)))


def bpsk_rayleigh_ber(snr_db: ArrayLike) -> NDArray[np.float64] | np.float64:
    """Average bit error rate of coherent BPSK over slow, flat Rayleigh fading.

    Parameters
    ----------
    snr_db : array_like
        Average SNR per bit :math:`\\bar\\gamma_b = E[|h|^2] E_b/N_0` (in dB); ``-inf`` and
        ``inf`` allowed.

    Returns
    -------
    ber : ndarray or float
        Average bit error probability in ``[0, 0.5]``, same shape as ``snr_db``.

    Notes
    -----
    Eq. 13.3-7 of [1]_ (the AWGN error probability averaged over the exponential
    distribution of the instantaneous SNR, perfect channel knowledge at the receiver):

    .. math:: \\bar P_b = \\tfrac12\\left(1 - \\sqrt{\\frac{\\bar\\gamma_b}{1+\\bar\\gamma_b}}
              \\right) \\approx \\frac{1}{4\\bar\\gamma_b} \\quad (\\bar\\gamma_b \\gg 1).

    Evaluated as :math:`1/(2(1+\\bar\\gamma_b)(1+\\sqrt{\\bar\\gamma_b/(1+\\bar\\gamma_b)}))`,
    an algebraically equal form that does not cancel at high SNR.

    References
    ----------
    .. [1] J. G. Proakis and M. Salehi, "Digital Communications", 5th ed., McGraw-Hill, 2008,
       Sec. 13.3, Eq. 13.3-7, ISBN 978-0-07-295716-7.

    Examples
    --------
    >>> round(float(bpsk_rayleigh_ber(10.0)), 6)  # 0.5 * (1 - sqrt(10 / 11))
    0.023269
    """
    gamma = _snr_linear(snr_db, "bpsk_rayleigh_ber")
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.sqrt(gamma / (1.0 + gamma))
        root = np.where(np.isinf(gamma), 1.0, root)
        ber = 0.5 / ((1.0 + gamma) * (1.0 + root))
    return _out(ber)


def rayleigh_snr_db_for_ber(ber: ArrayLike) -> NDArray[np.float64] | np.float64:
    """Average SNR that gives a target BPSK bit error rate over Rayleigh fading.

    The exact inverse of :func:`bpsk_rayleigh_ber`.

    Parameters
    ----------
    ber : array_like
        Target average bit error probability, in ``(0, 0.5]``. ``0.5`` maps to ``-inf`` dB
        (no signal); 0 is excluded because it needs infinite SNR.

    Returns
    -------
    snr_db : ndarray or float
        Average SNR per bit (in dB), same shape as ``ber``.

    Raises
    ------
    InvalidParameterError
        If an element of ``ber`` lies outside ``(0, 0.5]``.

    Notes
    -----
    Solving Eq. 13.3-7 of [1]_ for :math:`\\bar\\gamma_b` with :math:`s = 1 - 2\\bar P_b`:

    .. math:: \\bar\\gamma_b = \\frac{s^2}{1 - s^2}
              = \\frac{(1 - 2\\bar P_b)^2}{4\\bar P_b(1 - \\bar P_b)}.

    The right-hand form is used because it keeps full precision for small :math:`\\bar P_b`.

    References
    ----------
    .. [1] J. G. Proakis and M. Salehi, "Digital Communications", 5th ed., McGraw-Hill, 2008,
       Sec. 13.3, Eq. 13.3-7, ISBN 978-0-07-295716-7.

    Examples
    --------
    >>> round(float(rayleigh_snr_db_for_ber(bpsk_rayleigh_ber(10.0))), 12)
    10.0
    """
    p = check_range(
        "ber", ber, owner="rayleigh_snr_db_for_ber", low=0.0, high=0.5, low_inclusive=False
    )
    gamma = (1.0 - 2.0 * p) ** 2 / (4.0 * p * (1.0 - p))
    with np.errstate(divide="ignore"):
        return _out(10.0 * np.log10(gamma))


def _rician_mgf_integrand(
    gamma: NDArray[np.float64], scatter: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Rician SNR MGF at ``s = -1/sin^2(theta)`` on the quadrature nodes (Table 2.2 of [1]).

    ``scatter = 1/(1+K)`` is the diffuse share of the power, which keeps ``K = inf`` finite.
    Output shape: ``broadcast(gamma, scatter).shape + (_N_QUAD,)``.
    """
    g = gamma[..., None]
    q = scatter[..., None]
    # M(s) = (1+K)/(1+K-s g) exp(K s g/(1+K-s g)), rewritten with q = 1/(1+K) and multiplied
    # through by sin^2(theta) so that no term overflows for large g.
    with np.errstate(invalid="ignore"):
        denom = _SIN2_THETA + g * q
        ratio = np.where(np.isinf(g), 0.0, _SIN2_THETA / denom)
        expo = np.where(np.isinf(g) & (q < 1.0), -np.inf, -g * (1.0 - q) / denom)
        expo = np.where(q == 1.0, 0.0, expo)  # Rayleigh: no line-of-sight term
    return ratio * np.exp(expo)


def bpsk_rician_ber(snr_db: ArrayLike, k_factor: ArrayLike) -> NDArray[np.float64] | np.float64:
    """Average bit error rate of coherent BPSK over slow, flat Rician fading.

    Parameters
    ----------
    snr_db : array_like
        Average SNR per bit :math:`\\bar\\gamma_b` (in dB); ``-inf`` and ``inf`` allowed.
    k_factor : array_like
        Rician K factor, the ratio of line-of-sight to scattered power (linear, not dB), in
        ``[0, inf]``; ``0`` is Rayleigh fading and ``inf`` is the AWGN channel. Broadcasts
        against ``snr_db``.

    Returns
    -------
    ber : ndarray or float
        Average bit error probability in ``[0, 0.5]``; the broadcast shape of the inputs.

    Notes
    -----
    The moment-generating-function (MGF) method of [2]_ (Sec. 8.1.1 of [1]_): Craig's form of
    the Gaussian Q-function turns the average over fading into a finite integral of the MGF of
    the instantaneous SNR,

    .. math:: \\bar P_b = \\frac{1}{\\pi}\\int_0^{\\pi/2}
              M_\\gamma\\left(-\\frac{1}{\\sin^2\\theta}\\right)\\mathrm d\\theta,

    with the Rician MGF (Table 2.2 of [1]_)

    .. math:: M_\\gamma(s) = \\frac{1+K}{1+K-s\\bar\\gamma}
              \\exp\\left(\\frac{K s\\bar\\gamma}{1+K-s\\bar\\gamma}\\right).

    The integral is evaluated with a fixed 96-node Gauss-Legendre rule (relative error below
    1e-10 against adaptive quadrature for SNR up to 30 dB and any K). The MGF is rewritten in
    terms of :math:`q = 1/(1+K)` so that ``K = inf`` gives the AWGN result exactly; at ``K = 0``
    it reduces to the Rayleigh result of :func:`bpsk_rayleigh_ber`.

    References
    ----------
    .. [1] M. K. Simon and M.-S. Alouini, "Digital Communication over Fading Channels", 2nd
       ed., Wiley, 2005, Sec. 8.1.1 and Table 2.2, ISBN 978-0-471-64953-3, DOI 10.1002/0471715220.
    .. [2] M. K. Simon and M.-S. Alouini, "A unified approach to the performance analysis of
       digital communication over generalized fading channels", Proc. IEEE, vol. 86, no. 9,
       pp. 1860-1877, 1998, DOI 10.1109/5.705532.

    Examples
    --------
    >>> bool(np.isclose(bpsk_rician_ber(10.0, 0.0), bpsk_rayleigh_ber(10.0), rtol=1e-10))
    True
    >>> bool(np.isclose(bpsk_rician_ber(8.0, np.inf), bpsk_awgn_ber(8.0), rtol=1e-10))
    True
    """
    owner = "bpsk_rician_ber"
    gamma = _snr_linear(snr_db, owner)
    k = check_range("k_factor", k_factor, owner=owner, low=0.0)
    gamma, k = np.broadcast_arrays(gamma, k)
    scatter = 1.0 / (1.0 + k)
    ber = _rician_mgf_integrand(gamma, scatter) @ _THETA_W
    return _out(np.asarray(ber, dtype=np.float64))


def _check_rng(rng: object, owner: str) -> np.random.Generator:
    """Raise unless ``rng`` is a ``numpy.random.Generator``."""
    if not isinstance(rng, np.random.Generator):
        raise InvalidParameterError(
            f"The 'rng' parameter of {owner} must be an instance of numpy.random.Generator. "
            f"Got {rng!r} instead."
        )
    return rng


def sample_fading_gain(
    shape: int | tuple[int, ...],
    fading: str,
    rng: np.random.Generator,
    *,
    k_factor: ArrayLike = 0.0,
) -> NDArray[np.float64]:
    """Draw flat-fading power gains :math:`|h|^2` with unit mean.

    Parameters
    ----------
    shape : int or tuple of int
        Shape of the output, e.g. ``(B, L)``.
    fading : {"none", "rayleigh", "rician"}
        Fading model: ``"none"`` gives all ones; ``"rayleigh"`` draws :math:`|h|^2 \\sim
        \\mathrm{Exp}(1)` (zero-mean circular complex Gaussian :math:`h`); ``"rician"`` draws
        :math:`h = \\sqrt{K/(K+1)} + \\sqrt{1/(K+1)}\\,w` with :math:`w \\sim \\mathcal{CN}(0, 1)`,
        so that :math:`(2(K+1))|h|^2` is noncentral chi-square with 2 degrees of freedom and
        noncentrality :math:`2K`.
    rng : numpy.random.Generator
        Source of randomness.
    k_factor : array_like
        Rician K factor (linear, default 0.0), in ``[0, inf]``; must broadcast to ``shape``.
        Used only when ``fading == "rician"``; ``0`` is Rayleigh and ``inf`` no fading.

    Returns
    -------
    gain : ndarray of shape ``shape``
        Power gains, non-negative, with :math:`E[|h|^2] = 1`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> sample_fading_gain((2, 3), "none", rng).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    >>> g = sample_fading_gain(200_000, "rician", rng, k_factor=3.0)
    >>> bool(abs(g.mean() - 1.0) < 0.01)
    True
    """
    owner = "sample_fading_gain"
    check_choice("fading", fading, FADING_MODELS, owner=owner)
    _check_rng(rng, owner)
    k = check_range("k_factor", k_factor, owner=owner, low=0.0)
    if fading == "none":
        return np.ones(shape, dtype=np.float64)
    if fading == "rayleigh":
        return rng.standard_exponential(shape)
    scatter = 1.0 / (1.0 + k)  # diffuse share of the unit mean power
    try:
        scatter = np.broadcast_to(scatter, shape)
    except ValueError:
        raise InvalidParameterError(
            f"The 'k_factor' parameter of {owner} must broadcast to shape {shape!r}. "
            f"Got an array of shape {k.shape!r} instead."
        ) from None
    re = np.sqrt(1.0 - scatter) + np.sqrt(scatter / 2.0) * rng.standard_normal(shape)
    im = np.sqrt(scatter / 2.0) * rng.standard_normal(shape)
    return re * re + im * im


def simulate_bpsk(
    n_bits: int,
    snr_db: ArrayLike,
    fading: str,
    rng: np.random.Generator,
    *,
    k_factor: ArrayLike = 0.0,
) -> NDArray[np.float64] | np.float64:
    """Measure the bit error rate of coherent BPSK by Monte Carlo simulation.

    Parameters
    ----------
    n_bits : int
        Number of bits sent at each SNR point, at least 1.
    snr_db : array_like
        Average SNR per bit :math:`E[|h|^2] E_b/N_0` (in dB), any shape; one independent
        experiment per element.
    fading : {"none", "rayleigh", "rician"}
        Fading model, see :func:`sample_fading_gain`. The fading is fast: each symbol gets an
        independent gain.
    rng : numpy.random.Generator
        Source of randomness.
    k_factor : array_like
        Rician K factor (linear, default 0.0), in ``[0, inf]``; broadcasts against ``snr_db``.

    Returns
    -------
    ber : ndarray or float
        Measured fraction of wrong bits at each SNR point; the broadcast shape of ``snr_db``
        and ``k_factor``.

    Notes
    -----
    For every bit :math:`b`, the symbol :math:`x = 1 - 2b` (unit energy) passes through
    :math:`r = h x + n` with :math:`n \\sim \\mathcal{CN}(0, N_0)`, :math:`N_0 = 1/\\gamma`. The
    receiver knows :math:`h` and decides on the sign of :math:`\\mathrm{Re}(h^* r)/|h| = |h| x +
    n'` with :math:`n' \\sim \\mathcal N(0, N_0/2)`; this sufficient statistic is what is
    simulated (only :math:`|h|` and one real noise sample per bit are drawn). Its error
    probability given :math:`h` is :math:`Q(\\sqrt{2\\gamma|h|^2})`, so the expected result is
    :func:`bpsk_awgn_ber`, :func:`bpsk_rayleigh_ber` or :func:`bpsk_rician_ber`. Bits are
    processed in chunks so that memory stays bounded for any ``n_bits``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> ber = simulate_bpsk(100_000, [0.0, 4.0], "none", rng)
    >>> bool(np.all(np.abs(ber - bpsk_awgn_ber([0.0, 4.0])) < 4e-3))
    True
    """
    owner = "simulate_bpsk"
    if isinstance(n_bits, bool) or not isinstance(n_bits, int | np.integer) or n_bits < 1:
        raise InvalidParameterError(
            f"The 'n_bits' parameter of {owner} must be an int in the range [1, inf). "
            f"Got {n_bits!r} instead."
        )
    check_choice("fading", fading, FADING_MODELS, owner=owner)
    _check_rng(rng, owner)
    gamma = _snr_linear(snr_db, owner)
    k = check_range("k_factor", k_factor, owner=owner, low=0.0)
    gamma, k = np.broadcast_arrays(gamma, k)
    out_shape = gamma.shape
    with np.errstate(divide="ignore"):  # snr_db = -inf: infinite noise, BER 1/2
        sigma = np.sqrt(0.5 / gamma.reshape(-1, 1))  # noise std per real dimension, N0/2
    k_col = k.reshape(-1, 1)
    n_points = sigma.shape[0]
    chunk = max(1, _MAX_CHUNK_ELEMENTS // max(n_points, 1))
    errors = np.zeros(n_points, dtype=np.int64)
    done = 0
    while done < n_bits:  # loop over chunks of bits, never over SNR points
        m = min(chunk, n_bits - done)
        size = (n_points, m)
        x = 1.0 - 2.0 * rng.integers(0, 2, size=size)
        amp = np.sqrt(sample_fading_gain(size, fading, rng, k_factor=k_col))
        y = amp * x + sigma * rng.standard_normal(size)
        errors += np.count_nonzero(y * x < 0.0, axis=1)
        done += m
    return _out((errors / n_bits).reshape(out_shape))
