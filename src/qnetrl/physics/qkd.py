"""Asymptotic secret-key rates of quantum key distribution links.

Pure, vectorised numpy functions for the key rates the network layer charges to a link: the
binary entropy, the Shor-Preskill BB84 secret fraction, the key-rate model of the QKD-secured
edge-offloading study (kept only to reproduce it), weak-coherent decoy-state BB84 over fibre
with infinitely many decoys or with a vacuum and one weak decoy (Ma, Qi, Zhao and Lo 2005),
measurement-device-independent QKD with an untrusted relay in the middle (Lo, Curty and Qi
2012; Ma and Razavi 2012), each also by overall or per-arm transmittance (``decoy_bb84_eta``,
``mdi_qkd_eta``) for links whose loss is not a plain fibre length, and the repeaterless
capacity bounds of Pirandola, Laurenza, Ottaviani and Banchi (PLOB) and of Takeoka, Guha and
Wilde (TGW). Detector and fibre parameters are grouped in frozen, validated parameter sets
(``GYS``, ``MDI_LCQ``). Rates are asymptotic (infinite key length) and given per pulse (per
pulse pair for MDI-QKD); multiply by the source repetition rate for bits per second. Every
function takes scalars or arrays and broadcasts them; a scalar input gives a NumPy ``float64``
scalar, an array input an ndarray of the broadcast shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Final, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq
from scipy.special import entr, i0

from qnetrl._validation import InvalidParameterError, check_range, format_range
from qnetrl.physics.channel import fiber_transmittance

__all__ = [
    "GYS",
    "MDI_LCQ",
    "DecoyResult",
    "DetectorParams",
    "MDIParams",
    "MDIResult",
    "bb84_qber_threshold",
    "bb84_secret_fraction",
    "binary_entropy",
    "decoy_bb84",
    "decoy_bb84_eta",
    "edge_study_key_rate",
    "max_distance",
    "mdi_qkd",
    "mdi_qkd_eta",
    "plob_bound",
    "tgw_bound",
]

_LN2: Final[float] = math.log(2.0)
#: Bisection steps of the inverse binary entropy: 0.5 / 2**64 is far below float64 spacing.
_BISECTION_STEPS: Final[int] = 64
#: Absolute tolerance (in km) of the Brent root finder in :func:`max_distance`.
_DISTANCE_XTOL_KM: Final[float] = 1e-9
#: Relative tolerance of the Brent root finder in :func:`max_distance`.
_DISTANCE_RTOL: Final[float] = 1e-12
#: Distance (in km) beyond which :func:`max_distance` stops looking for the end of the key.
_DISTANCE_SEARCH_LIMIT_KM: Final[float] = 1e5


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _out(x: NDArray[np.float64]) -> Any:
    """Return a 0-d array as a NumPy float64 scalar and any other array unchanged."""
    return np.asarray(x, dtype=np.float64)[()]


def _expand(x: NDArray[np.float64], shape: tuple[int, ...]) -> NDArray[np.float64]:
    """Return a writable float64 copy of ``x`` broadcast to ``shape``."""
    return np.array(np.broadcast_to(x, shape), dtype=np.float64)


def _h(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Binary entropy in bits without argument checks (internal use)."""
    return (entr(p) + entr(1.0 - p)) / _LN2


def _scalar(name: str, value: Any, *, owner: str, **bounds: Any) -> float:
    """Check a scalar parameter against its range and return it as a float."""
    arr = check_range(name, value, owner=owner, **bounds)
    if arr.ndim != 0:
        rng = format_range(
            bounds.get("low"),
            bounds.get("high"),
            low_inclusive=bounds.get("low_inclusive", True),
            high_inclusive=bounds.get("high_inclusive", True),
        )
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be a float in the range {rng}. "
            f"Got an array of shape {arr.shape} instead."
        )
    return float(arr)


def _validate_fields(obj: Any) -> None:
    """Validate and coerce the fields of a frozen parameter dataclass in place."""
    owner = type(obj).__name__
    for name, bounds in obj._parameter_constraints.items():
        object.__setattr__(obj, name, _scalar(name, getattr(obj, name), owner=owner, **bounds))


def _check_type(name: str, value: Any, cls: type, *, owner: str) -> None:
    """Raise ``InvalidParameterError`` unless ``value`` is an instance of ``cls``."""
    if not isinstance(value, cls):
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be an instance of {cls.__name__}. "
            f"Got {value!r} instead."
        )


# --------------------------------------------------------------------------------------------
# Entropy and the BB84 secret fraction
# --------------------------------------------------------------------------------------------


def binary_entropy(p: ArrayLike) -> Any:
    r"""Binary Shannon entropy in bits.

    Parameters
    ----------
    p : float or array_like
        Probability (dimensionless, in [0, 1]). No default.

    Returns
    -------
    h : float or ndarray
        :math:`h(p)` in bits, in [0, 1]; a NumPy float64 scalar for scalar input, else an
        ndarray of the shape of ``p``.

    Raises
    ------
    InvalidParameterError
        If an element of ``p`` lies outside [0, 1] or is NaN.

    Notes
    -----
    .. math::

        h(p) = -p \log_2 p - (1 - p) \log_2 (1 - p), \qquad h(0) = h(1) = 0,

    Shannon's entropy (Theorem 2 of [1]_) of a two-outcome distribution, with the endpoints
    taken by continuity.

    References
    ----------
    .. [1] C. E. Shannon, "A mathematical theory of communication", Bell System Technical
       Journal 27(3), 379-423 (1948). DOI: 10.1002/j.1538-7305.1948.tb01338.x

    Examples
    --------
    >>> from qnetrl.physics.qkd import binary_entropy
    >>> float(binary_entropy(0.5)), float(binary_entropy(0.0)), float(binary_entropy(1.0))
    (1.0, 0.0, 0.0)
    >>> print(f"{binary_entropy(0.11):.4f}")  # the BB84 threshold: h(e) = 1/2
    0.4999
    """
    arr = check_range("p", p, owner="binary_entropy", low=0.0, high=1.0)
    return _out(_h(arr))


def bb84_secret_fraction(qber: ArrayLike, f_ec: ArrayLike = 1.0) -> Any:
    r"""Asymptotic BB84 secret fraction (Shor-Preskill) with inefficient error correction.

    Parameters
    ----------
    qber : float or array_like
        Quantum bit error rate :math:`e` of the sifted key (dimensionless, in [0, 1]). No
        default.
    f_ec : float or array_like, optional
        Error-correction inefficiency :math:`f \ge 1` relative to the Shannon limit
        (dimensionless, default 1.0). Broadcasts against ``qber``.

    Returns
    -------
    fraction : float or ndarray
        Secret bits per sifted bit, in [0, 1]. It is zero (never negative) at and above the
        threshold :func:`bb84_qber_threshold` and for every QBER above 1/2.

    Raises
    ------
    InvalidParameterError
        If ``qber`` lies outside [0, 1] or ``f_ec`` is below 1.

    Notes
    -----
    .. math::

        r(e) = \max\bigl(0,\; 1 - f\,h(e) - h(e)\bigr)

    Shor and Preskill's asymptotic rate [1]_ is :math:`1 - 2h(e)`; the factor :math:`f` on
    the error-correction term is the usual practical form (the GLLP rate of [2]_ with single
    photons). Deviation: the function is set to zero for :math:`e > 1/2`, where the
    bare formula would grow again (that regime is the bit-flipped protocol, not this one).

    References
    ----------
    .. [1] P. W. Shor and J. Preskill, "Simple proof of security of the BB84 quantum key
       distribution protocol", Phys. Rev. Lett. 85(2), 441-444 (2000).
       DOI: 10.1103/PhysRevLett.85.441
    .. [2] D. Gottesman, H.-K. Lo, N. Lütkenhaus and J. Preskill, "Security of quantum key
       distribution with imperfect devices", Quantum Inf. Comput. 4(5), 325-360 (2004).
       DOI: 10.26421/QIC4.5-1

    Examples
    --------
    Shor and Preskill's threshold: the fraction vanishes at a QBER of about 11 % [1]_.

    >>> from qnetrl.physics.qkd import bb84_secret_fraction
    >>> float(bb84_secret_fraction(0.0))
    1.0
    >>> print(f"{bb84_secret_fraction(0.10):.4f}", float(bb84_secret_fraction(0.111)))
    0.0620 0.0
    """
    e = check_range("qber", qber, owner="bb84_secret_fraction", low=0.0, high=1.0)
    f = check_range("f_ec", f_ec, owner="bb84_secret_fraction", low=1.0)
    frac = np.maximum(0.0, 1.0 - (f + 1.0) * _h(e))
    return _out(np.where(e <= 0.5, frac, 0.0))


def _inverse_binary_entropy(y: NDArray[np.float64]) -> NDArray[np.float64]:
    """Root ``p`` in [0, 1/2] of ``h(p) = y`` by vectorised bisection (``h`` rises there)."""
    lo = np.zeros_like(y)
    hi = np.full_like(y, 0.5)
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        below = _h(mid) < y
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def bb84_qber_threshold(f_ec: ArrayLike = 1.0) -> Any:
    r"""QBER at which the BB84 secret fraction reaches zero.

    Parameters
    ----------
    f_ec : float or array_like, optional
        Error-correction inefficiency :math:`f \ge 1` (dimensionless, default 1.0).

    Returns
    -------
    qber : float or ndarray
        Threshold QBER :math:`e^*` in (0, 1/2), to about 1e-16 absolute.

    Raises
    ------
    InvalidParameterError
        If ``f_ec`` is below 1.

    Notes
    -----
    :math:`e^*` solves :math:`1 - (1 + f)\,h(e^*) = 0`, i.e. :math:`h(e^*) = 1/(1 + f)`, the
    root of the secret fraction of :func:`bb84_secret_fraction` (Shor and Preskill [1]_). As
    :math:`h` is increasing on [0, 1/2] the root is unique; it is found by 64 steps of
    vectorised bisection.

    References
    ----------
    .. [1] P. W. Shor and J. Preskill, "Simple proof of security of the BB84 quantum key
       distribution protocol", Phys. Rev. Lett. 85(2), 441-444 (2000).
       DOI: 10.1103/PhysRevLett.85.441

    Examples
    --------
    The 11 % threshold of Shor and Preskill [1]_:

    >>> from qnetrl.physics.qkd import bb84_qber_threshold
    >>> print(f"{bb84_qber_threshold():.6f}")
    0.110028
    """
    f = check_range("f_ec", f_ec, owner="bb84_qber_threshold", low=1.0)
    return _out(_inverse_binary_entropy(1.0 / (1.0 + f)))


def edge_study_key_rate(
    qber: ArrayLike,
    raw_rate_bps: ArrayLike = 1e6,
    f_ec: ArrayLike = 1.15,
    pa_factor: ArrayLike = 0.90,
) -> Any:
    r"""Key rate of the QKD-secured edge-offloading study, reproduced as published.

    This is **not** a secure key rate: the model subtracts the error-correction leakage
    :math:`f\,h(e)` but omits the privacy-amplification entropy term :math:`h(e)` of the
    Shor-Preskill bound, replacing it by a constant factor. It therefore overstates the key,
    increasingly so at high QBER, and stays positive up to :math:`h(e) = 1/f` (about 29 %
    QBER at :math:`f = 1.15`) where BB84 allows no key above 11 %. Use it only to reproduce
    the study; for a secure rate use :func:`bb84_secret_fraction` (or :func:`decoy_bb84` for
    weak-coherent sources).

    Parameters
    ----------
    qber : float or array_like
        Quantum bit error rate (dimensionless, in [0, 1]). No default.
    raw_rate_bps : float or array_like, optional
        Sifted (raw) key rate (in bit/s, default 1e6).
    f_ec : float or array_like, optional
        Error-correction inefficiency (dimensionless, at least 1, default 1.15).
    pa_factor : float or array_like, optional
        Constant privacy-amplification retention factor (dimensionless, in [0, 1], default
        0.90).

    Returns
    -------
    rate : float or ndarray
        Key rate (in bit/s), clipped at zero; the broadcast shape of the arguments.

    Raises
    ------
    InvalidParameterError
        If an argument lies outside its range.

    Notes
    -----
    .. math::

        K = R_\mathrm{raw}\, \kappa_\mathrm{PA}\, \max\bigl(0,\; 1 - f\,h(e)\bigr)

    with :math:`\kappa_\mathrm{PA}` = ``pa_factor``. The secure asymptotic rate of Shor and
    Preskill [1]_ is :math:`R_\mathrm{raw}\,(1 - f\,h(e) - h(e))`; the difference
    :math:`R_\mathrm{raw}\,h(e)` is the key an eavesdropper may know. As with
    :func:`bb84_secret_fraction`, the rate is set to zero for :math:`e > 1/2`.

    References
    ----------
    .. [1] P. W. Shor and J. Preskill, "Simple proof of security of the BB84 quantum key
       distribution protocol", Phys. Rev. Lett. 85(2), 441-444 (2000).
       DOI: 10.1103/PhysRevLett.85.441

    Examples
    --------
    The study's operating point, a QBER of 0.94 % at 1 Mbit/s raw:

    >>> from qnetrl.physics.qkd import edge_study_key_rate
    >>> round(float(edge_study_key_rate(0.0094)))
    820524
    """
    owner = "edge_study_key_rate"
    e = check_range("qber", qber, owner=owner, low=0.0, high=1.0)
    raw = check_range("raw_rate_bps", raw_rate_bps, owner=owner, low=0.0)
    f = check_range("f_ec", f_ec, owner=owner, low=1.0)
    pa = check_range("pa_factor", pa_factor, owner=owner, low=0.0, high=1.0)
    rate = raw * pa * np.maximum(0.0, 1.0 - f * _h(e))
    return _out(np.where(e <= 0.5, rate, 0.0))


# --------------------------------------------------------------------------------------------
# Parameter sets
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectorParams:
    """Detector, error and fibre parameters of a prepare-and-measure (BB84) link.

    Fields are validated at construction; a field outside its range raises
    ``InvalidParameterError`` naming it. Instances are immutable.

    Attributes
    ----------
    eta_bob : float
        Transmittance of Bob's side including detector efficiency, :math:`\\eta_\\mathrm{Bob}`
        (dimensionless, in (0, 1]). No default.
    y0 : float
        Background yield: probability of a detection event per pulse with no signal photon,
        mostly dark counts, :math:`Y_0` (dimensionless, per pulse, in [0, 1)). No default.
    e_det : float
        Misalignment error: probability that a signal photon hits the wrong detector,
        :math:`e_\\mathrm{detector}` (dimensionless, in [0, 0.5]). No default.
    e0 : float
        Error rate of background counts, :math:`e_0` (dimensionless, in [0, 0.5],
        default 0.5: random).
    f_ec : float
        Error-correction inefficiency :math:`f(E_\\mu)` relative to the Shannon limit
        (dimensionless, at least 1). No default.
    alpha_db_per_km : float
        Fibre attenuation coefficient :math:`\\alpha` (in dB/km, at least 0). No default.
    q : float
        Sifting factor: fraction of detections kept after basis reconciliation
        (dimensionless, in (0, 1], default 0.5 for BB84).
    """

    _parameter_constraints: ClassVar[dict[str, dict[str, Any]]] = {
        "eta_bob": {"low": 0.0, "high": 1.0, "low_inclusive": False},
        "y0": {"low": 0.0, "high": 1.0, "high_inclusive": False},
        "e_det": {"low": 0.0, "high": 0.5},
        "e0": {"low": 0.0, "high": 0.5},
        "f_ec": {"low": 1.0},
        "alpha_db_per_km": {"low": 0.0},
        "q": {"low": 0.0, "high": 1.0, "low_inclusive": False},
    }

    eta_bob: float
    y0: float
    e_det: float
    e0: float = 0.5
    f_ec: float
    alpha_db_per_km: float
    q: float = 0.5

    def __post_init__(self) -> None:
        _validate_fields(self)


#: The Gobby-Yuan-Shields (GYS) experiment, 1550 nm, as used in Table I of Ma, Qi, Zhao and
#: Lo, Phys. Rev. A 72, 012326 (2005): eta_Bob 4.5 %, Y0 1.7e-6, e_detector 3.3 %, f 1.22,
#: alpha 0.21 dB/km, q 1/2. Source experiment: C. Gobby, Z. L. Yuan and A. J. Shields,
#: Appl. Phys. Lett. 84, 3762 (2004), DOI: 10.1063/1.1738173.
GYS: Final[DetectorParams] = DetectorParams(
    eta_bob=0.045,
    y0=1.7e-6,
    e_det=0.033,
    e0=0.5,
    f_ec=1.22,
    alpha_db_per_km=0.21,
    q=0.5,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class MDIParams:
    """Relay-detector, error and fibre parameters of an MDI-QKD link.

    Fields are validated at construction; a field outside its range raises
    ``InvalidParameterError`` naming it. Instances are immutable.

    Attributes
    ----------
    eta_d : float
        Efficiency of each detector at the (untrusted) relay, :math:`\\eta_d`
        (dimensionless, in (0, 1]). No default.
    p_d : float
        Dark-count probability of each of the relay's four detectors per pulse,
        :math:`p_d` (dimensionless, in [0, 1)). No default.
    e_d : float
        Misalignment error probability, :math:`e_d` (dimensionless, in [0, 0.5]). No
        default.
    f_ec : float
        Error-correction inefficiency (dimensionless, at least 1). No default.
    alpha_db_per_km : float
        Fibre attenuation coefficient (in dB/km, at least 0). No default.
    """

    _parameter_constraints: ClassVar[dict[str, dict[str, Any]]] = {
        "eta_d": {"low": 0.0, "high": 1.0, "low_inclusive": False},
        "p_d": {"low": 0.0, "high": 1.0, "high_inclusive": False},
        "e_d": {"low": 0.0, "high": 0.5},
        "f_ec": {"low": 1.0},
        "alpha_db_per_km": {"low": 0.0},
    }

    eta_d: float
    p_d: float
    e_d: float
    f_ec: float
    alpha_db_per_km: float

    def __post_init__(self) -> None:
        _validate_fields(self)


#: The MDI-QKD simulation parameters attributed to Lo, Curty and Qi, Phys. Rev. Lett. 108,
#: 130503 (2012), and restated by Ma and Razavi, Phys. Rev. A 86, 062319 (2012), Table I:
#: eta_d 14.5 %, p_d 3e-6 per detector (total background 6.02e-6), e_d 1.5 %, f 1.16,
#: alpha 0.2 dB/km. Transcribed from a secondary source, not yet checked against the papers.
MDI_LCQ: Final[MDIParams] = MDIParams(
    eta_d=0.145,
    p_d=3.0e-6,
    e_d=0.015,
    f_ec=1.16,
    alpha_db_per_km=0.2,
)


# --------------------------------------------------------------------------------------------
# Decoy-state BB84
# --------------------------------------------------------------------------------------------


class DecoyResult(NamedTuple):
    """Observables and key rate of decoy-state BB84 (arrays broadcast to one shape).

    Attributes
    ----------
    gain : float or ndarray
        Signal gain :math:`Q_\\mu` (detections per signal pulse, dimensionless).
    qber : float or ndarray
        Signal QBER :math:`E_\\mu` (dimensionless).
    q1 : float or ndarray
        Single-photon gain :math:`Q_1` (exact) or its lower bound :math:`Q_1^L` (per pulse).
    e1 : float or ndarray
        Single-photon error rate :math:`e_1` (exact) or its upper bound :math:`e_1^U`.
    key_rate : float or ndarray
        Secret key rate (in bits per pulse), at least zero.
    """

    gain: Any
    qber: Any
    q1: Any
    e1: Any
    key_rate: Any


def _signal_gain_qber(
    eta: NDArray[np.float64], mu: NDArray[np.float64], p: DetectorParams
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Gain and QBER of a weak coherent signal, the channel-model formulas of Ma et al. [1]."""
    clicks = -np.expm1(-eta * mu)  # 1 - exp(-eta mu)
    gain = p.y0 + clicks
    errors = p.e0 * p.y0 + p.e_det * clicks
    # No detections at all (Y0 = 0 and eta = 0): report a QBER of e0; the rate is zero anyway.
    qber = np.divide(errors, gain, out=np.full_like(gain, p.e0), where=gain > 0)
    return gain, qber


def _single_photon_exact(
    eta: NDArray[np.float64], p: DetectorParams
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Single-photon yield and error rate, Y1 = Y0 + eta and e1 = (e0 Y0 + e_det eta)/Y1 of [1]."""
    # [1] writes Y_i = Y0 + eta_i - Y0 eta_i and keeps Y_i ~ Y0 + eta_i, from which its Q_mu and
    # E_mu follow. Using the same approximation here keeps Y1 the exact single-photon yield of
    # the model that generates Q_mu, so that the vacuum+weak bound tends to it as nu -> 0.
    y1 = p.y0 + eta
    e1 = np.divide(p.e0 * p.y0 + p.e_det * eta, y1, out=np.full_like(y1, p.e0), where=y1 > 0)
    return y1, e1


def _single_photon_vacuum_weak(
    eta: NDArray[np.float64], mu: NDArray[np.float64], nu: NDArray[np.float64], p: DetectorParams
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Bounds Y1^L and e1^U of the vacuum+weak decoy protocol, Eqs. (34) and (37) of [1]."""

    # Eq. (34) regrouped, algebraically identical:
    #   Q_nu e^nu - Q_mu e^mu nu^2/mu^2 - (mu^2 - nu^2)/mu^2 Y0
    #     = (Q_nu e^nu - Y0) - nu^2/mu^2 (Q_mu e^mu - Y0),
    # with Q_x e^x - Y0 = Y0 (e^x - 1) - (e^(-eta x) - 1) e^x written through expm1, which keeps
    # the bound accurate for a very weak decoy (nu -> 0) instead of cancelling Y0 against itself.
    def excess(x: NDArray[np.float64]) -> NDArray[np.float64]:
        return p.y0 * np.expm1(x) - np.expm1(-eta * x) * np.exp(x)

    y1_low = mu / (mu * nu - nu**2) * (excess(nu) - (nu / mu) ** 2 * excess(mu))
    y1_low = np.maximum(y1_low, 0.0)
    # Eq. (37): E_nu Q_nu e^nu - e0 Y0 = e0 Y0 (e^nu - 1) - e_det (e^(-eta nu) - 1) e^nu.
    err = p.e0 * p.y0 * np.expm1(nu) - p.e_det * np.expm1(-eta * nu) * np.exp(nu)
    denom = y1_low * nu
    e1_up = np.divide(err, denom, out=np.full_like(denom, 0.5), where=denom > 0)
    # Deviation: clip at 1/2. A larger "upper bound" would lower h(e1) and raise the key, so an
    # uninformative bound must read as 1/2, not as a value above it.
    e1_up = np.clip(e1_up, 0.0, 0.5)
    return y1_low, e1_up


def _decoy_eta(distance_km: NDArray[np.float64], p: DetectorParams) -> NDArray[np.float64]:
    """Overall transmittance eta = eta_Bob 10^(-alpha L / 10) of the channel model of [1]."""
    return p.eta_bob * np.asarray(fiber_transmittance(distance_km, p.alpha_db_per_km))


def _decoy_terms(
    eta: NDArray[np.float64],
    mu: NDArray[np.float64],
    nu: NDArray[np.float64] | None,
    p: DetectorParams,
) -> tuple[NDArray[np.float64], ...]:
    """Gain, QBER, Q1, e1 and the unclipped GLLP rate of Eq. (1) of [1] (per pulse)."""
    gain, qber = _signal_gain_qber(eta, mu, p)
    y1, e1 = _single_photon_exact(eta, p)
    if nu is not None:
        # nu = 0 is the limit of Eqs. (34) and (37), which is the exact Y1 and e1 above.
        weak = nu > 0
        safe_nu = np.where(weak, nu, 0.5 * mu)
        y1_low, e1_up = _single_photon_vacuum_weak(eta, mu, safe_nu, p)
        y1 = np.where(weak, y1_low, y1)
        e1 = np.where(weak, e1_up, e1)
    q1 = y1 * mu * np.exp(-mu)
    raw = p.q * (q1 * (1.0 - _h(e1)) - gain * p.f_ec * _h(qber))
    return gain, qber, q1, e1, raw


def _check_decoy_args(
    mu: ArrayLike, nu: ArrayLike | None, params: Any, owner: str
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """Validate the source and parameter arguments shared by the decoy-state functions."""
    m = check_range("mu", mu, owner=owner, low=0.0, low_inclusive=False)
    _check_type("params", params, DetectorParams, owner=owner)
    if nu is None:
        return m, None
    n = check_range("nu", nu, owner=owner, low=0.0)
    n_b, m_b = np.broadcast_arrays(n, m)
    bad = n_b >= m_b
    if bad.any():
        raise InvalidParameterError(
            f"The 'nu' parameter of {owner} must be a float in the range [0.0, mu), below the "
            f"signal intensity 'mu'. Got nu={float(n_b[bad].flat[0])!r} with "
            f"mu={float(m_b[bad].flat[0])!r} "
            "instead."
        )
    return m, n


def _decoy_result(
    eta: NDArray[np.float64],
    mu: NDArray[np.float64],
    nu: NDArray[np.float64] | None,
    p: DetectorParams,
) -> DecoyResult:
    """The :class:`DecoyResult` at overall transmittance ``eta`` (arguments already checked)."""
    gain, qber, q1, e1, raw = _decoy_terms(eta, mu, nu, p)
    shape = np.broadcast_shapes(gain.shape, q1.shape, raw.shape)
    gain, qber, q1, e1, raw = (_expand(a, shape) for a in (gain, qber, q1, e1, raw))
    return DecoyResult(
        gain=_out(gain),
        qber=_out(qber),
        q1=_out(q1),
        e1=_out(e1),
        key_rate=_out(np.maximum(raw, 0.0)),
    )


def decoy_bb84(
    distance_km: ArrayLike,
    mu: ArrayLike = 0.48,
    nu: ArrayLike | None = None,
    params: DetectorParams = GYS,
) -> DecoyResult:
    r"""Asymptotic key rate of weak-coherent decoy-state BB84 over fibre.

    Parameters
    ----------
    distance_km : float or array_like
        Fibre length between Alice and Bob (in km, at least 0). No default.
    mu : float or array_like, optional
        Mean photon number of the signal state :math:`\mu` (photons per pulse, positive,
        default 0.48, near the optimum for ``GYS``).
    nu : float or array_like or None, optional
        Mean photon number of the weak decoy :math:`\nu` of the vacuum+weak decoy protocol
        (photons per pulse, in [0, ``mu``)); ``None`` (default) means infinitely many decoys,
        for which :math:`Y_1` and :math:`e_1` are known exactly. ``nu = 0`` is the limit of the
        vacuum+weak bounds, which equals the infinite-decoy result.
    params : DetectorParams, optional
        Detector, error and fibre parameters (default ``GYS``).

    Returns
    -------
    result : DecoyResult
        ``gain`` :math:`Q_\mu`, ``qber`` :math:`E_\mu`, ``q1`` (:math:`Q_1` or its lower bound),
        ``e1`` (:math:`e_1` or its upper bound) and ``key_rate`` (in bits per pulse, at least
        0), each broadcast over ``distance_km``, ``mu`` and ``nu``.

    Raises
    ------
    InvalidParameterError
        If ``distance_km`` < 0, ``mu`` <= 0, ``nu`` < 0 or ``nu`` >= ``mu``, or ``params`` is
        not a ``DetectorParams``.

    Notes
    -----
    The channel model of [1]_, with overall transmittance
    :math:`\eta = \eta_\mathrm{Bob}\,10^{-\alpha L / 10}`:

    .. math::

        Q_\mu = Y_0 + 1 - e^{-\eta\mu}, \qquad
        E_\mu Q_\mu = e_0 Y_0 + e_\mathrm{det}\,(1 - e^{-\eta\mu}),

        Y_1 = Y_0 + \eta, \qquad e_1 = \frac{e_0 Y_0 + e_\mathrm{det}\,\eta}{Y_1}, \qquad
        Q_1 = Y_1\,\mu e^{-\mu}.

    With a vacuum and one weak decoy :math:`\nu`, Eqs. (34) and (37) of [1]_ bound them:

    .. math::

        Y_1^L = \frac{\mu}{\mu\nu - \nu^2}\left(Q_\nu e^{\nu}
            - Q_\mu e^{\mu}\frac{\nu^2}{\mu^2} - \frac{\mu^2 - \nu^2}{\mu^2} Y_0\right),
        \qquad
        e_1^U = \frac{E_\nu Q_\nu e^{\nu} - e_0 Y_0}{Y_1^L\,\nu},

    and :math:`Q_1^L = Y_1^L \mu e^{-\mu}`. The key rate is the GLLP formula, Eq. (1) of [1]_:

    .. math::

        R = q\,\max\bigl(0,\; -Q_\mu f\,h(E_\mu) + Q_1\,[1 - h(e_1)]\bigr).

    Deviations from [1]_: :math:`Y_1^L` is floored at 0 and :math:`e_1^U` clipped at 1/2
    (conservative); the formulas are evaluated in an algebraically identical form that
    avoids cancellation for a very weak decoy. The rate depends on :math:`L` only through
    :math:`\eta`: this function computes :math:`\eta` and evaluates exactly what
    :func:`decoy_bb84_eta` returns at that transmittance.

    References
    ----------
    .. [1] X. Ma, B. Qi, Y. Zhao and H.-K. Lo, "Practical decoy state for quantum key
       distribution", Phys. Rev. A 72(1), 012326 (2005). DOI: 10.1103/PhysRevA.72.012326

    Examples
    --------
    Infinite decoys with the GYS parameters of [1]_ (Table I), signal :math:`\mu = 0.48`:

    >>> from qnetrl.physics.qkd import decoy_bb84
    >>> print(f"{decoy_bb84(0.0).key_rate:.4e}")
    2.5546e-03
    >>> print(f"{decoy_bb84(100.0).key_rate:.4e}")
    1.7184e-05

    The vacuum+weak decoy protocol stays below it:

    >>> float(decoy_bb84(100.0, nu=0.05).key_rate) < float(decoy_bb84(100.0).key_rate)
    True
    """
    owner = "decoy_bb84"
    d = check_range("distance_km", distance_km, owner=owner, low=0.0)
    m, n = _check_decoy_args(mu, nu, params, owner)
    return _decoy_result(_decoy_eta(d, params), m, n, params)


def decoy_bb84_eta(
    eta: ArrayLike,
    mu: ArrayLike = 0.48,
    nu: ArrayLike | None = None,
    params: DetectorParams = GYS,
) -> DecoyResult:
    r"""Asymptotic key rate of weak-coherent decoy-state BB84 at a given overall transmittance.

    The same model and formulas as :func:`decoy_bb84`, which computes :math:`\eta` from a fibre
    length and calls the same internals; use this entry point when the transmittance is known
    directly, e.g. for a fibre whose loss fluctuates or a detector whose efficiency drifts.

    Parameters
    ----------
    eta : float or array_like
        Overall transmittance :math:`\eta` between Alice's source and Bob's detection,
        channel times Bob's side including detector efficiency (dimensionless, in [0, 1]).
        No default.
    mu : float or array_like, optional
        Mean photon number of the signal state :math:`\mu` (photons per pulse, positive,
        default 0.48).
    nu : float or array_like or None, optional
        Weak decoy mean photon number :math:`\nu` of the vacuum+weak protocol (photons per
        pulse, in [0, ``mu``)); ``None`` (default) means infinitely many decoys.
    params : DetectorParams, optional
        Detector and error parameters (default ``GYS``). Its ``eta_bob`` and
        ``alpha_db_per_km`` are not used: they are already part of ``eta``.

    Returns
    -------
    result : DecoyResult
        ``gain``, ``qber``, ``q1``, ``e1`` and ``key_rate`` (in bits per pulse, at least 0),
        each broadcast over ``eta``, ``mu`` and ``nu``; see :func:`decoy_bb84`.

    Raises
    ------
    InvalidParameterError
        If ``eta`` lies outside [0, 1], ``mu`` <= 0, ``nu`` < 0 or ``nu`` >= ``mu``, or
        ``params`` is not a ``DetectorParams``.

    Notes
    -----
    The channel model of [1]_ depends on the fibre length :math:`L` only through

    .. math::

        \eta = \eta_\mathrm{Bob}\,10^{-\alpha L / 10},

    so the gains, error rates and the GLLP rate, Eq. (1) of [1]_ (written out in
    :func:`decoy_bb84`), are functions of :math:`\eta`. At :math:`\eta = 0` (a cut fibre)
    only background counts remain: :math:`Q_\mu = Y_0`, :math:`E_\mu = e_0` and no key.

    References
    ----------
    .. [1] X. Ma, B. Qi, Y. Zhao and H.-K. Lo, "Practical decoy state for quantum key
       distribution", Phys. Rev. A 72(1), 012326 (2005). DOI: 10.1103/PhysRevA.72.012326

    Examples
    --------
    At 0 km the transmittance is :math:`\eta_\mathrm{Bob}` = 4.5 % (GYS, Table I of [1]_):

    >>> from qnetrl.physics.qkd import GYS, decoy_bb84, decoy_bb84_eta
    >>> print(f"{decoy_bb84_eta(GYS.eta_bob).key_rate:.4e}")
    2.5546e-03
    >>> eta_100 = GYS.eta_bob * 10 ** (-GYS.alpha_db_per_km * 100.0 / 10.0)
    >>> print(f"{decoy_bb84_eta(eta_100).key_rate:.4e}")
    1.7184e-05
    >>> float(decoy_bb84_eta(0.0).key_rate), float(decoy_bb84_eta(0.0).qber)
    (0.0, 0.5)
    """
    owner = "decoy_bb84_eta"
    e = check_range("eta", eta, owner=owner, low=0.0, high=1.0)
    m, n = _check_decoy_args(mu, nu, params, owner)
    return _decoy_result(e, m, n, params)


def _root_distance(mu: float, nu: float | None, params: DetectorParams) -> float:
    """Distance in km where the unclipped decoy key rate changes sign (scalar arguments)."""
    m = np.float64(mu)
    n = None if nu is None else np.float64(nu)

    def rate(distance: float) -> float:
        eta = _decoy_eta(np.float64(distance), params)
        return float(_decoy_terms(eta, m, n, params)[-1])

    if rate(0.0) <= 0.0:
        return 0.0
    upper = 100.0
    while rate(upper) > 0.0:
        if upper >= _DISTANCE_SEARCH_LIMIT_KM:
            return math.inf  # lossless fibre (alpha = 0): the key never ends
        upper *= 2.0
    root = brentq(rate, 0.0, upper, xtol=_DISTANCE_XTOL_KM, rtol=_DISTANCE_RTOL)
    return float(root)


def max_distance(
    mu: ArrayLike = 0.48,
    nu: ArrayLike | None = None,
    params: DetectorParams = GYS,
) -> Any:
    r"""Largest fibre length with a positive decoy-state BB84 key rate.

    Parameters
    ----------
    mu : float or array_like, optional
        Signal mean photon number (photons per pulse, positive, default 0.48).
    nu : float or array_like or None, optional
        Weak decoy mean photon number of the vacuum+weak protocol (photons per pulse, in
        [0, ``mu``)); ``None`` (default) means infinitely many decoys.
    params : DetectorParams, optional
        Detector, error and fibre parameters (default ``GYS``).

    Returns
    -------
    distance_km : float or ndarray
        Distance (in km) at which the key rate of :func:`decoy_bb84` reaches zero, broadcast
        over ``mu`` and ``nu``; 0 if there is no key at 0 km, ``math.inf`` if the key never
        ends (lossless fibre).

    Raises
    ------
    InvalidParameterError
        If ``mu`` <= 0, ``nu`` < 0 or ``nu`` >= ``mu``, or ``params`` is not a
        ``DetectorParams``.

    Notes
    -----
    The root :math:`L^*` of the unclipped GLLP rate :math:`R(L)` of Eq. (1) of [1]_ (see
    :func:`decoy_bb84`), bracketed between 0 km and the first of 100, 200, 400, ... km where
    :math:`R < 0`, is found with ``scipy.optimize.brentq`` to an absolute tolerance of
    1e-9 km (relative 1e-12). Each element of the broadcast ``mu`` and ``nu`` is solved in
    turn; this is a set-up computation, not a hot path.

    References
    ----------
    .. [1] X. Ma, B. Qi, Y. Zhao and H.-K. Lo, "Practical decoy state for quantum key
       distribution", Phys. Rev. A 72(1), 012326 (2005). DOI: 10.1103/PhysRevA.72.012326

    Examples
    --------
    The key rate of :func:`decoy_bb84` vanishes at the returned distance:

    >>> from qnetrl.physics.qkd import decoy_bb84, max_distance
    >>> d = max_distance()
    >>> bool(decoy_bb84(d - 0.01).key_rate > 0.0), float(decoy_bb84(d + 0.01).key_rate)
    (True, 0.0)
    """
    m, n = _check_decoy_args(mu, nu, params, "max_distance")
    if n is None:
        m_b = np.asarray(m)
        out = np.array([_root_distance(x, None, params) for x in m_b.flat], dtype=np.float64)
        return _out(out.reshape(m_b.shape))
    m_b, n_b = np.broadcast_arrays(m, n)
    out = np.array(
        [_root_distance(x, y, params) for x, y in zip(m_b.flat, n_b.flat, strict=True)],
        dtype=np.float64,
    )
    return _out(out.reshape(m_b.shape))


# --------------------------------------------------------------------------------------------
# MDI-QKD
# --------------------------------------------------------------------------------------------


class MDIResult(NamedTuple):
    """Observables and key rate of decoy-state MDI-QKD (arrays broadcast to one shape).

    Attributes
    ----------
    gain : float or ndarray
        Rectilinear-basis gain :math:`Q_\\mathrm{rect}` (successful Bell-state announcements
        per pulse pair, dimensionless).
    qber : float or ndarray
        Rectilinear-basis QBER :math:`E_\\mathrm{rect}` (dimensionless).
    q11 : float or ndarray
        Gain of pulse pairs in which both senders emitted one photon, :math:`Q_{11}`.
    e11 : float or ndarray
        Their diagonal-basis (phase) error rate :math:`e_{11}^X`.
    key_rate : float or ndarray
        Secret key rate (in bits per pulse pair), at least zero.
    """

    gain: Any
    qber: Any
    q11: Any
    e11: Any
    key_rate: Any


def _mdi_rect(
    eta_a: NDArray[np.float64],
    eta_b: NDArray[np.float64],
    mu_a: NDArray[np.float64],
    mu_b: NDArray[np.float64],
    p: MDIParams,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Rectilinear gain and QBER, the Q_rect^(C), Q_rect^(E), E_rect formulas of [2]."""
    # Equation numbers of [2] quoted in mdi_qkd come from a secondary source; the formulas were
    # checked against their p_d = 0 closed forms (tests), not against the paper's text.
    pd = p.p_d
    arrive = eta_a * mu_a + eta_b * mu_b  # mu' of [2]
    x = np.sqrt(eta_a * mu_a * eta_b * mu_b) / 2.0
    bulk = np.exp(-arrive / 2.0)
    # 1 - (1 - p_d) exp(-eta mu / 2), through expm1 for small eta mu.
    hit_a = -np.expm1(-eta_a * mu_a / 2.0) + pd * np.exp(-eta_a * mu_a / 2.0)
    hit_b = -np.expm1(-eta_b * mu_b / 2.0) + pd * np.exp(-eta_b * mu_b / 2.0)
    correct = 2.0 * (1.0 - pd) ** 2 * bulk * hit_a * hit_b
    # I0(2x) - (1 - p_d) exp(-mu'/2), regrouped the same way.
    bracket = (i0(2.0 * x) - 1.0) - np.expm1(-arrive / 2.0) + pd * bulk
    wrong = 2.0 * pd * (1.0 - pd) ** 2 * bulk * bracket
    gain = correct + wrong
    errors = p.e_d * correct + (1.0 - p.e_d) * wrong
    qber = np.divide(errors, gain, out=np.full_like(gain, 0.5), where=gain > 0)
    return gain, qber


def _mdi_single_photon(
    eta_a: NDArray[np.float64], eta_b: NDArray[np.float64], p: MDIParams
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Single-photon-pair yield Y11 and diagonal error rate e11^X, the formulas of [2]."""
    pd = p.p_d
    signal = eta_a * eta_b / 2.0
    y11 = (1.0 - pd) ** 2 * (
        signal
        + (2.0 * eta_a + 2.0 * eta_b - 3.0 * eta_a * eta_b) * pd
        + 4.0 * (1.0 - eta_a) * (1.0 - eta_b) * pd**2
    )
    e0 = 0.5
    errors = e0 * y11 - (e0 - p.e_d) * (1.0 - pd) ** 2 * signal
    e11 = np.divide(errors, y11, out=np.full_like(y11, e0), where=y11 > 0)
    return y11, e11


def mdi_qkd(
    distance_km: ArrayLike,
    mu: ArrayLike = 0.5,
    params: MDIParams = MDI_LCQ,
) -> MDIResult:
    r"""Asymptotic key rate of decoy-state MDI-QKD with the relay at the midpoint.

    Alice and Bob send phase-randomised weak coherent BB84 states to an untrusted relay
    (Charlie) halfway between them, who performs a linear-optics Bell-state measurement. No
    detector at the relay needs to be trusted, so the relay of a network link can be
    untrusted. Infinitely many decoys are assumed: :math:`Y_{11}` and :math:`e_{11}^X` are
    known exactly.

    Parameters
    ----------
    distance_km : float or array_like
        Total fibre length from Alice to Bob through the relay (in km, at least 0); each arm
        is half of it. No default.
    mu : float or array_like, optional
        Signal mean photon number of both senders (photons per pulse, positive, default 0.5,
        near the optimum for ``MDI_LCQ`` up to about 150 km).
    params : MDIParams, optional
        Relay-detector, error and fibre parameters (default ``MDI_LCQ``).

    Returns
    -------
    result : MDIResult
        ``gain`` :math:`Q_\mathrm{rect}`, ``qber`` :math:`E_\mathrm{rect}`, ``q11``, ``e11``
        and ``key_rate`` (in bits per pulse pair in which both senders chose the rectilinear
        basis, at least 0), broadcast over ``distance_km`` and ``mu``.

    Raises
    ------
    InvalidParameterError
        If ``distance_km`` < 0 or ``mu`` <= 0, or ``params`` is not an ``MDIParams``.

    Notes
    -----
    Key rate, Eq. (1) of Lo, Curty and Qi [1]_:

    .. math::

        R = \max\bigl(0,\; Q_{11}\,[1 - h(e_{11}^X)]
            - Q_\mathrm{rect}\, f\, h(E_\mathrm{rect})\bigr),
        \qquad Q_{11} = \mu_a \mu_b e^{-\mu_a - \mu_b}\, Y_{11}.

    Gains and error rates of the channel model of Ma and Razavi [2]_ (Eqs. (21), (23) and
    (51)-(54) there; also given by Xu, Curty, Qi and Lo [3]_), with arm transmittances
    :math:`\eta_{a,b} = \eta_d\,10^{-\alpha L_{a,b}/10}`, :math:`\mu' = \eta_a\mu_a +
    \eta_b\mu_b`, :math:`x = \sqrt{\eta_a\mu_a\eta_b\mu_b}/2` and :math:`e_0 = 1/2`:

    .. math::

        Q^{(C)} = 2(1-p_d)^2 e^{-\mu'/2}\,[1 - (1-p_d)e^{-\eta_a\mu_a/2}]\,
            [1 - (1-p_d)e^{-\eta_b\mu_b/2}],

        Q^{(E)} = 2p_d(1-p_d)^2 e^{-\mu'/2}\,[I_0(2x) - (1-p_d)e^{-\mu'/2}],

        Q_\mathrm{rect} = Q^{(C)} + Q^{(E)}, \qquad
        E_\mathrm{rect} Q_\mathrm{rect} = e_d Q^{(C)} + (1 - e_d) Q^{(E)},

        Y_{11} = (1-p_d)^2\,\bigl[\eta_a\eta_b/2 + (2\eta_a + 2\eta_b - 3\eta_a\eta_b)p_d
            + 4(1-\eta_a)(1-\eta_b)p_d^2\bigr],

        e_{11}^X Y_{11} = e_0 Y_{11} - (e_0 - e_d)(1-p_d)^2\,\eta_a\eta_b/2,

    where :math:`I_0` is the modified Bessel function of the first kind. Here
    :math:`\mu_a = \mu_b = \mu` and :math:`L_a = L_b = L/2`. The sifting factor is omitted,
    as in Eq. (1) of [1]_ (asymptotically biased basis choice). Expressions of the form
    :math:`1 - (1-p_d)e^{-s}` are evaluated through ``expm1`` (algebraically identical).
    The rate depends on :math:`L` only through the arm transmittances: this function
    evaluates exactly what :func:`mdi_qkd_eta` returns at
    :math:`\eta_a = \eta_b = \eta_d\,10^{-\alpha L / 20}`.

    References
    ----------
    .. [1] H.-K. Lo, M. Curty and B. Qi, "Measurement-device-independent quantum key
       distribution", Phys. Rev. Lett. 108(13), 130503 (2012).
       DOI: 10.1103/PhysRevLett.108.130503
    .. [2] X. Ma and M. Razavi, "Alternative schemes for measurement-device-independent
       quantum key distribution", Phys. Rev. A 86(6), 062319 (2012).
       DOI: 10.1103/PhysRevA.86.062319
    .. [3] F. Xu, M. Curty, B. Qi and H.-K. Lo, "Practical aspects of measurement-device-
       independent quantum key distribution", New J. Phys. 15, 113007 (2013).
       DOI: 10.1088/1367-2630/15/11/113007

    Examples
    --------
    With perfect detectors and no errors the key is the single-photon-pair gain,
    :math:`\mu^2 e^{-2\mu}/2` at 0 km (closed form of the formulas above):

    >>> import math
    >>> from qnetrl.physics.qkd import MDIParams, mdi_qkd
    >>> ideal = MDIParams(eta_d=1.0, p_d=0.0, e_d=0.0, f_ec=1.16, alpha_db_per_km=0.2)
    >>> r = mdi_qkd(0.0, mu=0.5, params=ideal)
    >>> math.isclose(r.key_rate, 0.5**2 * math.exp(-1.0) / 2.0, rel_tol=1e-12)
    True
    """
    owner = "mdi_qkd"
    d = check_range("distance_km", distance_km, owner=owner, low=0.0)
    m = check_range("mu", mu, owner=owner, low=0.0, low_inclusive=False)
    _check_type("params", params, MDIParams, owner=owner)
    arm = params.eta_d * np.asarray(fiber_transmittance(d / 2.0, params.alpha_db_per_km))
    return _mdi_result(arm, arm, m, params)


def _mdi_result(
    eta_a: NDArray[np.float64],
    eta_b: NDArray[np.float64],
    mu: NDArray[np.float64],
    params: MDIParams,
) -> MDIResult:
    """The :class:`MDIResult` of Eq. (1) of [1] at arm transmittances ``eta_a``, ``eta_b``."""
    m = mu
    gain, qber = _mdi_rect(eta_a, eta_b, m, m, params)
    y11, e11 = _mdi_single_photon(eta_a, eta_b, params)
    q11 = m * m * np.exp(-2.0 * m) * y11
    raw = q11 * (1.0 - _h(e11)) - gain * params.f_ec * _h(qber)
    shape = np.broadcast_shapes(gain.shape, q11.shape)
    gain, qber, q11, e11, raw = (_expand(a, shape) for a in (gain, qber, q11, e11, raw))
    return MDIResult(
        gain=_out(gain),
        qber=_out(qber),
        q11=_out(q11),
        e11=_out(e11),
        key_rate=_out(np.maximum(raw, 0.0)),
    )


def mdi_qkd_eta(
    eta_a: ArrayLike,
    eta_b: ArrayLike,
    mu: ArrayLike = 0.5,
    params: MDIParams = MDI_LCQ,
) -> MDIResult:
    r"""Asymptotic key rate of decoy-state MDI-QKD at given arm transmittances.

    The same model and formulas as :func:`mdi_qkd`, which computes the (equal) arm
    transmittances of a relay at the midpoint and calls the same internals; this entry point
    takes the transmittance of each arm directly and allows asymmetric arms, e.g. a relay
    off the midpoint or an arm whose loss fluctuates.

    Parameters
    ----------
    eta_a : float or array_like
        Transmittance of Alice's arm from her source through the fibre to the relay's
        detectors, including the detector efficiency :math:`\eta_d` (dimensionless, in
        [0, 1]). No default.
    eta_b : float or array_like
        Transmittance of Bob's arm, likewise (dimensionless, in [0, 1]). No default.
        Broadcasts against ``eta_a``.
    mu : float or array_like, optional
        Signal mean photon number of both senders (photons per pulse, positive, default 0.5).
    params : MDIParams, optional
        Relay-detector and error parameters (default ``MDI_LCQ``). Its ``eta_d`` and
        ``alpha_db_per_km`` are not used: they are already part of ``eta_a`` and ``eta_b``.

    Returns
    -------
    result : MDIResult
        ``gain``, ``qber``, ``q11``, ``e11`` and ``key_rate`` (in bits per pulse pair, at
        least 0), broadcast over ``eta_a``, ``eta_b`` and ``mu``; see :func:`mdi_qkd`.

    Raises
    ------
    InvalidParameterError
        If ``eta_a`` or ``eta_b`` lies outside [0, 1], ``mu`` <= 0, or ``params`` is not an
        ``MDIParams``.

    Notes
    -----
    The gains and error rates of Ma and Razavi [2]_ written out in :func:`mdi_qkd` hold for
    any arm transmittances :math:`\eta_a \ne \eta_b` and intensities
    :math:`\mu_a \ne \mu_b`; here both senders use the same :math:`\mu_a = \mu_b = \mu`
    (for strongly asymmetric arms a larger intensity on the lossier arm would give more
    key, which this function does not optimise). The key rate is Eq. (1) of Lo, Curty and Qi
    [1]_. :func:`mdi_qkd` at distance :math:`L` equals this function at
    :math:`\eta_a = \eta_b = \eta_d\,10^{-\alpha L / 20}`. At :math:`\eta_a = 0` or
    :math:`\eta_b = 0` only dark counts remain and there is no key.

    References
    ----------
    .. [1] H.-K. Lo, M. Curty and B. Qi, "Measurement-device-independent quantum key
       distribution", Phys. Rev. Lett. 108(13), 130503 (2012).
       DOI: 10.1103/PhysRevLett.108.130503
    .. [2] X. Ma and M. Razavi, "Alternative schemes for measurement-device-independent
       quantum key distribution", Phys. Rev. A 86(6), 062319 (2012).
       DOI: 10.1103/PhysRevA.86.062319

    Examples
    --------
    With perfect detectors and no errors the key at unit transmittance is the
    single-photon-pair gain :math:`\mu^2 e^{-2\mu}/2` (closed form of the formulas):

    >>> import math
    >>> from qnetrl.physics.qkd import MDIParams, mdi_qkd_eta
    >>> ideal = MDIParams(eta_d=1.0, p_d=0.0, e_d=0.0, f_ec=1.16, alpha_db_per_km=0.2)
    >>> r = mdi_qkd_eta(1.0, 1.0, mu=0.5, params=ideal)
    >>> math.isclose(r.key_rate, 0.5**2 * math.exp(-1.0) / 2.0, rel_tol=1e-12)
    True
    >>> float(mdi_qkd_eta(0.0, 0.1).key_rate)
    0.0
    """
    owner = "mdi_qkd_eta"
    ea = check_range("eta_a", eta_a, owner=owner, low=0.0, high=1.0)
    eb = check_range("eta_b", eta_b, owner=owner, low=0.0, high=1.0)
    m = check_range("mu", mu, owner=owner, low=0.0, low_inclusive=False)
    _check_type("params", params, MDIParams, owner=owner)
    return _mdi_result(ea, eb, m, params)


# --------------------------------------------------------------------------------------------
# Repeaterless bounds
# --------------------------------------------------------------------------------------------


def plob_bound(eta: ArrayLike) -> Any:
    r"""PLOB bound: secret-key capacity of the pure-loss channel.

    Parameters
    ----------
    eta : float or array_like
        Channel transmittance :math:`\eta` (dimensionless, in [0, 1]). No default.

    Returns
    -------
    capacity : float or ndarray
        Secret-key capacity (in bits per channel use); ``inf`` at :math:`\eta = 1`, without
        a warning.

    Raises
    ------
    InvalidParameterError
        If an element of ``eta`` lies outside [0, 1].

    Notes
    -----
    .. math::

        K(\eta) = -\log_2(1 - \eta),

    the secret-key capacity of the pure-loss channel established by Pirandola et al. [1]_
    (their "fundamental rate-loss tradeoff", about :math:`1.44\,\eta` at small
    :math:`\eta`): no repeaterless protocol can do better. Evaluated as
    :math:`-\mathrm{log1p}(-\eta)/\ln 2` for accuracy at small :math:`\eta`.

    References
    ----------
    .. [1] S. Pirandola, R. Laurenza, C. Ottaviani and L. Banchi, "Fundamental limits of
       repeaterless quantum communications", Nat. Commun. 8, 15043 (2017).
       DOI: 10.1038/ncomms15043

    Examples
    --------
    100 km of 0.2 dB/km fibre (:math:`\eta = 0.01`), about :math:`1.44\,\eta` [1]_:

    >>> from qnetrl.physics.qkd import plob_bound
    >>> print(f"{plob_bound(0.01):.6e}")
    1.449957e-02
    >>> float(plob_bound(1.0))
    inf
    """
    e = check_range("eta", eta, owner="plob_bound", low=0.0, high=1.0)
    with np.errstate(divide="ignore"):
        return _out(-np.log1p(-e) / _LN2)


def tgw_bound(eta: ArrayLike) -> Any:
    r"""TGW bound: upper bound on the repeaterless secret-key rate of a pure-loss channel.

    Parameters
    ----------
    eta : float or array_like
        Channel transmittance :math:`\eta` (dimensionless, in [0, 1]). No default.

    Returns
    -------
    bound : float or ndarray
        Upper bound on the key rate (in bits per channel use); ``inf`` at :math:`\eta = 1`,
        without a warning. Always at least :func:`plob_bound`.

    Raises
    ------
    InvalidParameterError
        If an element of ``eta`` lies outside [0, 1].

    Notes
    -----
    .. math::

        B(\eta) = \log_2\frac{1 + \eta}{1 - \eta},

    the squashed-entanglement bound of Takeoka, Guha and Wilde, as stated in the abstract of
    [1]_, about
    :math:`2.88\,\eta` at small :math:`\eta`, twice the later PLOB bound. Evaluated as
    :math:`[\mathrm{log1p}(\eta) - \mathrm{log1p}(-\eta)]/\ln 2`.

    References
    ----------
    .. [1] M. Takeoka, S. Guha and M. M. Wilde, "Fundamental rate-loss tradeoff for optical
       quantum key distribution", Nat. Commun. 5, 5235 (2014). DOI: 10.1038/ncomms6235

    Examples
    --------
    At :math:`\eta = 0.01` (closed form :math:`\log_2(1.01/0.99)`):

    >>> from qnetrl.physics.qkd import tgw_bound
    >>> print(f"{tgw_bound(0.01):.6e}")
    2.885486e-02
    >>> float(tgw_bound(1.0))
    inf
    """
    e = check_range("eta", eta, owner="tgw_bound", low=0.0, high=1.0)
    with np.errstate(divide="ignore"):
        return _out((np.log1p(e) - np.log1p(-e)) / _LN2)
