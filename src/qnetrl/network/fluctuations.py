"""Seeded, batched fluctuation processes for the links of a time-slotted network simulator.

Each process holds state arrays of shape (B, L) (batch copies by links) and advances all of
them by one slot per call with numpy array operations, drawing from a ``numpy.random.Generator``
that the caller passes in. Fibre loss wanders around its nominal value as an Ornstein-Uhlenbeck
(OU) process in decibels, simulated with the update that is exact for any step; fibre stress
adds a temporary loss and cuts make a link opaque, both arriving as Poisson events per link and
slot. Source rates and detector efficiencies drift by multiplicative factors whose logarithm is
an OU process, clipped so that efficiencies stay in ``[0, 1]``. :class:`FluctuationConfig` holds
every knob, and a disabled config yields exact zeros and ones without drawing any numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import Field

from qnetrl._validation import InvalidParameterError, check_range
from qnetrl.config import ConfigBase
from qnetrl.physics.channel import db_to_linear

__all__ = [
    "FibreLossProcess",
    "FluctuationConfig",
    "LinkConditions",
    "LinkFluctuations",
    "LogOUFactor",
    "ou_stationary_std",
    "ou_step",
]


class FluctuationConfig(ConfigBase):
    """Parameters of the link fluctuation processes; times are counted in slots.

    A correlation time of ``inf`` freezes a process at its starting value (drawn once per
    reset); a duration of ``inf`` makes an event permanent. Every rate is the intensity of a
    Poisson process per link and per slot, so an event starts in a slot with probability
    ``1 - exp(-rate)``.
    """

    enabled: bool = Field(
        True, description="Switch; when false every process yields exact zeros and ones."
    )
    stationary_start: bool = Field(
        True,
        description=(
            "Draw the OU states from their stationary laws at reset; when false they start "
            "at the nominal values (0 dB extra loss, factors 1) and relax."
        ),
    )
    loss_mean_db: float = Field(
        0.0, ge=0.0, le=100.0, description="Long-run mean extra fibre loss (in dB)."
    )
    loss_std_db: float = Field(
        0.1, ge=0.0, le=50.0, description="Stationary standard deviation of the extra loss (in dB)."
    )
    loss_correlation_slots: float = Field(
        100.0,
        gt=0.0,
        le=math.inf,
        description="Correlation time 1/theta of the extra-loss OU process (in slots).",
    )
    stress_rate_per_slot: float = Field(
        1e-4, ge=0.0, le=1.0, description="Fibre-stress arrival rate (in events per link per slot)."
    )
    stress_loss_db: float = Field(
        3.0, ge=0.0, le=100.0, description="Extra loss while a link is stressed (in dB)."
    )
    stress_duration_slots: float = Field(
        20.0,
        ge=1.0,
        le=math.inf,
        description="Duration of a stress event (in slots, rounded up; inf is permanent).",
    )
    cut_rate_per_slot: float = Field(
        1e-5, ge=0.0, le=1.0, description="Fibre-cut arrival rate (in events per link per slot)."
    )
    cut_duration_slots: float = Field(
        200.0,
        ge=1.0,
        le=math.inf,
        description="Duration of a cut (in slots, rounded up; inf is permanent).",
    )
    source_rate_rel_std: float = Field(
        0.05,
        ge=0.0,
        le=10.0,
        description="Stationary relative standard deviation of the source-rate factor (unitless).",
    )
    source_rate_correlation_slots: float = Field(
        1000.0,
        gt=0.0,
        le=math.inf,
        description="Correlation time of the log source-rate factor (in slots).",
    )
    efficiency_rel_std: float = Field(
        0.02,
        ge=0.0,
        le=10.0,
        description="Stationary relative standard deviation of the detector-efficiency factor.",
    )
    efficiency_correlation_slots: float = Field(
        1000.0,
        gt=0.0,
        le=math.inf,
        description="Correlation time of the log detector-efficiency factor (in slots).",
    )


@dataclass(frozen=True, slots=True)
class LinkConditions:
    """Per-slot link conditions returned by :class:`LinkFluctuations`.

    Attributes
    ----------
    extra_loss_db : ndarray of shape (B, L)
        Loss added to each link's nominal loss (in dB): OU wander plus stress; ``inf`` where
        the link is cut. May be negative (less loss than nominal), never below ``-nominal``.
    cut : ndarray of shape (B, L), dtype bool
        True where the link is cut (transmittance 0).
    stressed : ndarray of shape (B, L), dtype bool
        True where a stress event adds its extra loss.
    transmittance_factor : ndarray of shape (B, L)
        ``10**(-extra_loss_db / 10)``: multiplies the nominal transmittance; 0 where cut.
    source_rate_factor : ndarray of shape (B, L)
        Multiplies the nominal source (pulse or pair) rate; non-negative.
    efficiency_factor : ndarray of shape (B, L)
        Multiplies the nominal detector efficiency; the product stays in ``[0, 1]`` when the
        nominal efficiency was given to :class:`LinkFluctuations`.
    """

    extra_loss_db: NDArray[np.float64]
    cut: NDArray[np.bool_]
    stressed: NDArray[np.bool_]
    transmittance_factor: NDArray[np.float64]
    source_rate_factor: NDArray[np.float64]
    efficiency_factor: NDArray[np.float64]


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _check_rng(rng: object, owner: str) -> np.random.Generator:
    """Raise unless ``rng`` is a ``numpy.random.Generator``."""
    if not isinstance(rng, np.random.Generator):
        raise InvalidParameterError(
            f"The 'rng' parameter of {owner} must be an instance of numpy.random.Generator. "
            f"Got {rng!r} instead."
        )
    return rng


def _check_count(name: str, value: object, owner: str) -> int:
    """Return ``value`` as an int after checking it is an integer in ``[1, inf)``."""
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= 1
    if not ok:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be an int in the range [1, inf). "
            f"Got {value!r} instead."
        )
    return int(value)  # type: ignore[arg-type]


def _check_config(config: object, owner: str) -> FluctuationConfig:
    if not isinstance(config, FluctuationConfig):
        raise InvalidParameterError(
            f"The 'config' parameter of {owner} must be a FluctuationConfig. "
            f"Got {type(config).__name__} instead."
        )
    return config


def _check_mask(
    mask: ArrayLike | None, shape: tuple[int, ...], name: str, owner: str
) -> NDArray[np.bool_]:
    """Return a boolean array of ``shape`` (all True when ``mask`` is None)."""
    if mask is None:
        return np.ones(shape, dtype=bool)
    arr = np.asarray(mask)
    if arr.dtype != np.bool_:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be a boolean array broadcastable to "
            f"shape {shape!r}. Got dtype {arr.dtype} instead."
        )
    try:
        return np.broadcast_to(arr, shape)
    except ValueError:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be a boolean array broadcastable to "
            f"shape {shape!r}. Got shape {arr.shape!r} instead."
        ) from None


def _broadcast_param(
    name: str, value: ArrayLike, shape: tuple[int, int], owner: str, **bounds: float
) -> NDArray[np.float64]:
    """Validate a per-link parameter and broadcast it to (B, L)."""
    arr = check_range(name, value, owner=owner, **bounds)
    try:
        return np.broadcast_to(arr, shape)
    except ValueError:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must broadcast to shape {shape!r} (B, L). "
            f"Got shape {arr.shape!r} instead."
        ) from None


def _ou_coefficients(correlation_slots: float, stationary_std: float) -> tuple[float, float]:
    """Decay ``e^{-dt/tau}`` and noise scale of the exact one-slot OU update (dt = 1 slot)."""
    decay = math.exp(-1.0 / correlation_slots)  # tau = inf gives 1: a frozen process
    # sigma sqrt((1 - e^{-2 theta dt}) / (2 theta)) with sigma = std sqrt(2 theta).
    scale = stationary_std * math.sqrt(-math.expm1(-2.0 / correlation_slots))
    return decay, scale


def _ou_update(
    x: NDArray[np.float64], mean: float, decay: float, scale: float, z: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Exact OU update of [2] in the text of :func:`ou_step`, given standard normals ``z``."""
    return mean + (x - mean) * decay + scale * z


def _tick(timer: NDArray[np.float64]) -> NDArray[np.float64]:
    """Consume one slot of an event timer (``inf`` stays ``inf``)."""
    return np.maximum(timer - 1.0, 0.0)


# ---------------------------------------------------------------------------------------------
# Ornstein-Uhlenbeck process
# ---------------------------------------------------------------------------------------------


def ou_step(
    x: ArrayLike,
    rng: np.random.Generator,
    *,
    mean: ArrayLike = 0.0,
    theta: ArrayLike = 1.0,
    sigma: ArrayLike = 1.0,
    dt: ArrayLike = 1.0,
) -> NDArray[np.float64]:
    """Advance an Ornstein-Uhlenbeck process by one step of length ``dt``, exactly.

    Parameters
    ----------
    x : array_like
        Current state (in the unit of the process, e.g. dB).
    rng : numpy.random.Generator
        Source of the standard normal draws; one draw per element of the output.
    mean : array_like
        Long-run mean :math:`\\mu` (in the unit of ``x``, default 0.0).
    theta : array_like
        Mean-reversion rate :math:`\\theta` (in 1/time unit, default 1.0), in ``[0, inf)``;
        ``0`` is Brownian motion.
    sigma : array_like
        Diffusion coefficient :math:`\\sigma` (in unit of ``x`` per sqrt(time unit),
        default 1.0), in ``[0, inf)``; ``0`` gives deterministic exponential relaxation.
    dt : array_like
        Step length (in time unit, default 1.0), in ``[0, inf)``.

    Returns
    -------
    x_next : ndarray
        Next state; the broadcast shape of all arguments.

    Notes
    -----
    The OU process :math:`dX = \\theta(\\mu - X)\\,dt + \\sigma\\,dW` of [1]_ has a Gaussian
    transition law, so the update

    .. math:: X_{t+\\Delta t} = \\mu + (X_t - \\mu) e^{-\\theta\\Delta t}
              + \\sigma \\sqrt{\\frac{1 - e^{-2\\theta\\Delta t}}{2\\theta}}\\, N(0, 1)

    is exact for any :math:`\\Delta t` ([2]_, the updating formula for :math:`X(t)` with
    relaxation time :math:`\\tau = 1/\\theta` and diffusion constant :math:`c = \\sigma^2`),
    unlike the Euler step. The limit :math:`\\theta \\to 0` gives the Wiener increment
    :math:`\\sigma\\sqrt{\\Delta t}\\,N(0, 1)`. The stationary law is
    :math:`N(\\mu, \\sigma^2 / (2\\theta))` (see :func:`ou_stationary_std`).

    References
    ----------
    .. [1] G. E. Uhlenbeck and L. S. Ornstein, "On the Theory of the Brownian Motion",
       Phys. Rev. 36(5), 823-841 (1930), DOI 10.1103/PhysRev.36.823.
    .. [2] D. T. Gillespie, "Exact numerical simulation of the Ornstein-Uhlenbeck process and
       its integral", Phys. Rev. E 54(2), 2084-2091 (1996), DOI 10.1103/PhysRevE.54.2084.

    Examples
    --------
    With no noise the state relaxes exponentially: half-way after ``ln 2 / theta``.

    >>> rng = np.random.default_rng(0)
    >>> float(ou_step(1.0, rng, mean=0.0, theta=np.log(2.0), sigma=0.0, dt=1.0))
    0.5
    """
    owner = "ou_step"
    _check_rng(rng, owner)
    x_arr = check_range("x", x, owner=owner)
    mu = check_range("mean", mean, owner=owner)
    th = check_range("theta", theta, owner=owner, low=0.0, high=math.inf, high_inclusive=False)
    sg = check_range("sigma", sigma, owner=owner, low=0.0, high=math.inf, high_inclusive=False)
    step = check_range("dt", dt, owner=owner, low=0.0, high=math.inf, high_inclusive=False)
    x_arr, mu, th, sg, step = np.broadcast_arrays(x_arr, mu, th, sg, step)
    decay = np.exp(-th * step)
    safe_th = np.where(th > 0.0, th, 1.0)
    var_per_sigma2 = np.where(th > 0.0, -np.expm1(-2.0 * th * step) / (2.0 * safe_th), step)
    z = rng.standard_normal(x_arr.shape)
    return _ou_update(x_arr, mu, decay, sg * np.sqrt(var_per_sigma2), z)  # type: ignore[arg-type]


def ou_stationary_std(theta: ArrayLike, sigma: ArrayLike) -> NDArray[np.float64] | np.float64:
    """Stationary standard deviation of an Ornstein-Uhlenbeck process.

    Parameters
    ----------
    theta : array_like
        Mean-reversion rate (in 1/time unit), in ``[0, inf)``; ``0`` gives ``inf``.
    sigma : array_like
        Diffusion coefficient (in unit per sqrt(time unit)), in ``[0, inf)``.

    Returns
    -------
    std : ndarray or float
        :math:`\\sigma / \\sqrt{2\\theta}`, the broadcast shape of the inputs.

    Notes
    -----
    The velocity of [1]_ relaxes to a Gaussian of variance :math:`\\sigma^2/(2\\theta)` (for
    Brownian motion, :math:`kT/m`); the exact update of :func:`ou_step` preserves it.

    References
    ----------
    .. [1] G. E. Uhlenbeck and L. S. Ornstein, "On the Theory of the Brownian Motion",
       Phys. Rev. 36(5), 823-841 (1930), DOI 10.1103/PhysRev.36.823.

    Examples
    --------
    >>> float(ou_stationary_std(2.0, 2.0))
    1.0
    """
    owner = "ou_stationary_std"
    th = check_range("theta", theta, owner=owner, low=0.0, high=math.inf, high_inclusive=False)
    sg = check_range("sigma", sigma, owner=owner, low=0.0, high=math.inf, high_inclusive=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        std = np.where(sg == 0.0, 0.0, sg / np.sqrt(2.0 * th))
    return std[()] if std.ndim == 0 else std


# ---------------------------------------------------------------------------------------------
# Batched processes
# ---------------------------------------------------------------------------------------------


class LogOUFactor:
    """Multiplicative, mean-reverting drift factor :math:`F = \\mathrm{clip}(e^{Y}, low, high)`.

    :math:`Y` is an OU process (exact one-slot update of :func:`ou_step`) with stationary law
    :math:`N(-v/2, v)`, :math:`v = \\ln(1 + s^2)`, so that the unclipped stationary factor is
    log-normal with mean exactly 1 and relative standard deviation exactly ``rel_std`` ``s``.

    Parameters
    ----------
    batch_size : int
        Number of independent copies B, in ``[1, inf)``.
    n_links : int
        Number of links L, in ``[1, inf)``.
    rel_std : float
        Stationary relative standard deviation ``s`` of the factor (unitless), in ``[0, inf)``.
    correlation_slots : float
        Correlation time of :math:`Y` (in slots), in ``(0, inf]``.
    low, high : array_like
        Clip range of the factor (default ``[0, inf)``), broadcastable to (B, L).
    enabled : bool
        When false the factor is exactly 1 and no random numbers are drawn.
    stationary_start : bool
        Draw :math:`Y` from its stationary law at reset; otherwise start at :math:`Y = 0`.

    Attributes
    ----------
    shape : tuple of int
        ``(B, L)``.
    log_state : ndarray of shape (B, L)
        Current :math:`Y` (unclipped).
    value : ndarray of shape (B, L)
        Current clipped factor.
    """

    def __init__(
        self,
        batch_size: int,
        n_links: int,
        *,
        rel_std: float,
        correlation_slots: float,
        low: ArrayLike = 0.0,
        high: ArrayLike = math.inf,
        enabled: bool = True,
        stationary_start: bool = True,
    ) -> None:
        owner = "LogOUFactor"
        self.shape = (
            _check_count("batch_size", batch_size, owner),
            _check_count("n_links", n_links, owner),
        )
        s = float(
            check_range(
                "rel_std", rel_std, owner=owner, low=0.0, high=math.inf, high_inclusive=False
            )
        )
        tau = float(
            check_range(
                "correlation_slots", correlation_slots, owner=owner, low=0.0, low_inclusive=False
            )
        )
        self._low = _broadcast_param("low", low, self.shape, owner, low=0.0)
        self._high = _broadcast_param("high", high, self.shape, owner, low=0.0)
        if np.any(self._high < self._low):
            raise InvalidParameterError(
                f"The 'high' parameter of {owner} must be >= 'low' element-wise. "
                f"Got high={np.asarray(high)!r} and low={np.asarray(low)!r} instead."
            )
        self.enabled = bool(enabled)
        self.stationary_start = bool(stationary_start)
        var = math.log1p(s * s)
        self._mean = -0.5 * var
        self._std = math.sqrt(var)
        self._decay, self._scale = _ou_coefficients(tau, self._std)
        self.log_state = np.zeros(self.shape)
        self.value = np.ones(self.shape)

    def _clip(self, y: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.clip(np.exp(y), self._low, self._high)

    def reset(self, rng: np.random.Generator, mask: ArrayLike | None = None) -> NDArray[np.float64]:
        """Start the copies where ``mask`` (shape (B,), default all) is true; return the factor."""
        rows = _check_mask(mask, self.shape[:1], "mask", "LogOUFactor.reset")[:, None]
        if not self.enabled:
            self.log_state = np.zeros(self.shape)
            self.value = np.ones(self.shape)
            return self.value
        _check_rng(rng, "LogOUFactor.reset")
        if self.stationary_start:
            fresh = self._mean + self._std * rng.standard_normal(self.shape)
        else:
            fresh = np.zeros(self.shape)
        self.log_state = np.where(rows, fresh, self.log_state)
        self.value = self._clip(self.log_state)
        return self.value

    def step(self, rng: np.random.Generator) -> NDArray[np.float64]:
        """Advance every copy by one slot and return the factor, ndarray of shape (B, L)."""
        if not self.enabled:
            return self.value
        _check_rng(rng, "LogOUFactor.step")
        z = rng.standard_normal(self.shape)
        self.log_state = _ou_update(self.log_state, self._mean, self._decay, self._scale, z)
        self.value = self._clip(self.log_state)
        return self.value


class FibreLossProcess:
    """Extra fibre loss of every link: OU wander in dB, Poisson stress events and cuts.

    Parameters
    ----------
    config : FluctuationConfig
        Process parameters (``loss_*``, ``stress_*``, ``cut_*``, ``enabled``,
        ``stationary_start``).
    batch_size : int
        Number of independent copies B, in ``[1, inf)``.
    n_links : int
        Number of links L, in ``[1, inf)``.
    nominal_loss_db : array_like or None
        Nominal loss of each link (in dB, default None), in ``[0, inf]``, broadcastable to
        (B, L). When given, the OU extra loss is floored at ``-nominal_loss_db`` so that the
        total loss never goes negative (transmittance never above 1).

    Attributes
    ----------
    config : FluctuationConfig
        The parameters.
    shape : tuple of int
        ``(B, L)``.
    ou_db : ndarray of shape (B, L)
        Unclipped OU extra loss (in dB).
    stress_left, cut_left : ndarray of shape (B, L)
        Slots each active stress event or cut still lasts, counting the coming slot; ``0``
        when none is active, ``inf`` when permanent.

    Notes
    -----
    One call of :meth:`step` (i) advances the OU state by the exact update of
    :func:`ou_step` with stationary standard deviation ``loss_std_db`` and correlation time
    ``loss_correlation_slots``; (ii) starts a stress event (a cut) on each link with probability
    ``1 - exp(-rate)``, setting its timer to ``max(timer, duration)``, so an event that
    arrives during another extends it rather than stacking its loss; (iii) reports the slot's
    conditions; (iv) consumes one slot of every timer. An event therefore covers exactly
    ``ceil(duration)`` consecutive slots, beginning with the slot in which it arrives. The
    random draws per step are always, in order: normals (B, L), uniforms (B, L) for stress,
    uniforms (B, L) for cuts, whatever the rates; same seed, same trajectory.
    """

    def __init__(
        self,
        config: FluctuationConfig,
        batch_size: int,
        n_links: int,
        *,
        nominal_loss_db: ArrayLike | None = None,
    ) -> None:
        owner = "FibreLossProcess"
        self.config = _check_config(config, owner)
        self.shape = (
            _check_count("batch_size", batch_size, owner),
            _check_count("n_links", n_links, owner),
        )
        if nominal_loss_db is None:
            self._floor_db = np.full(self.shape, -math.inf)
        else:
            nominal = _broadcast_param(
                "nominal_loss_db", nominal_loss_db, self.shape, owner, low=0.0
            )
            self._floor_db = -nominal
        self._decay, self._scale = _ou_coefficients(
            config.loss_correlation_slots, config.loss_std_db
        )
        self._p_stress = -math.expm1(-config.stress_rate_per_slot)
        self._p_cut = -math.expm1(-config.cut_rate_per_slot)
        self.ou_db = np.zeros(self.shape)
        self.stress_left = np.zeros(self.shape)
        self.cut_left = np.zeros(self.shape)
        self._last: tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_]] = (
            np.zeros(self.shape),
            np.zeros(self.shape, dtype=bool),
            np.zeros(self.shape, dtype=bool),
        )

    def _report(self) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_]]:
        """Extra loss (dB), cut mask and stress mask of the current slot."""
        cut = self.cut_left > 0.0
        stressed = self.stress_left > 0.0
        extra = np.maximum(self.ou_db, self._floor_db) + self.config.stress_loss_db * stressed
        extra = np.where(cut, math.inf, extra)
        self._last = (extra, cut, stressed)
        return self._last

    def reset(
        self, rng: np.random.Generator, mask: ArrayLike | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_]]:
        """Start the copies where ``mask`` (shape (B,), default all) is true, with no events.

        Returns
        -------
        extra_loss_db : ndarray of shape (B, L)
            Extra loss of slot 0 (in dB).
        cut : ndarray of shape (B, L), dtype bool
            All false for the reset copies.
        stressed : ndarray of shape (B, L), dtype bool
            All false for the reset copies.
        """
        rows = _check_mask(mask, self.shape[:1], "mask", "FibreLossProcess.reset")[:, None]
        cfg = self.config
        if not cfg.enabled:
            self.ou_db = np.zeros(self.shape)
            self.stress_left = np.zeros(self.shape)
            self.cut_left = np.zeros(self.shape)
            return self._report()
        _check_rng(rng, "FibreLossProcess.reset")
        if cfg.stationary_start:
            fresh = cfg.loss_mean_db + cfg.loss_std_db * rng.standard_normal(self.shape)
        else:
            fresh = np.zeros(self.shape)
        self.ou_db = np.where(rows, fresh, self.ou_db)
        self.stress_left = np.where(rows, 0.0, self.stress_left)
        self.cut_left = np.where(rows, 0.0, self.cut_left)
        return self._report()

    def step(
        self, rng: np.random.Generator
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_]]:
        """Advance one slot; return ``(extra_loss_db, cut, stressed)``, each of shape (B, L)."""
        cfg = self.config
        if not cfg.enabled:
            return self._last
        _check_rng(rng, "FibreLossProcess.step")
        z = rng.standard_normal(self.shape)
        u_stress = rng.random(self.shape)
        u_cut = rng.random(self.shape)
        self.ou_db = _ou_update(self.ou_db, cfg.loss_mean_db, self._decay, self._scale, z)
        self.stress_left = np.where(
            u_stress < self._p_stress,
            np.maximum(self.stress_left, cfg.stress_duration_slots),
            self.stress_left,
        )
        self.cut_left = np.where(
            u_cut < self._p_cut, np.maximum(self.cut_left, cfg.cut_duration_slots), self.cut_left
        )
        out = self._report()
        self.stress_left = _tick(self.stress_left)
        self.cut_left = _tick(self.cut_left)
        return out

    def _trigger(
        self, timer: NDArray[np.float64], mask: ArrayLike, duration: float, name: str, owner: str
    ) -> NDArray[np.float64]:
        where = _check_mask(mask, self.shape, "mask", owner)
        dur = float(check_range(name, duration, owner=owner, low=1.0))
        return np.where(where, np.maximum(timer, dur), timer)

    def trigger_cut(self, mask: ArrayLike, duration_slots: float | None = None) -> None:
        """Cut the links where ``mask`` (broadcastable to (B, L)) is true, from the next slot on.

        ``duration_slots`` (in slots, ``[1, inf]``, default ``config.cut_duration_slots``)
        counts the slots returned by the following :meth:`step` calls; ``inf`` is permanent.
        Ignored when the config is disabled.
        """
        if not self.config.enabled:
            return
        dur = self.config.cut_duration_slots if duration_slots is None else duration_slots
        self.cut_left = self._trigger(
            self.cut_left, mask, dur, "duration_slots", "FibreLossProcess.trigger_cut"
        )

    def trigger_stress(self, mask: ArrayLike, duration_slots: float | None = None) -> None:
        """Stress links where ``mask`` is true from the next slot on (see :meth:`trigger_cut`)."""
        if not self.config.enabled:
            return
        dur = self.config.stress_duration_slots if duration_slots is None else duration_slots
        self.stress_left = self._trigger(
            self.stress_left, mask, dur, "duration_slots", "FibreLossProcess.trigger_stress"
        )


class LinkFluctuations:
    """All fluctuations of the links of B network copies, advanced one slot per :meth:`step`.

    Parameters
    ----------
    config : FluctuationConfig
        Process parameters.
    batch_size : int
        Number of independent copies B, in ``[1, inf)``.
    n_links : int
        Number of links L, in ``[1, inf)``.
    nominal_loss_db : array_like or None
        Nominal loss of each link (in dB, default None), broadcastable to (B, L); floors the
        OU extra loss so the total loss stays non-negative (see :class:`FibreLossProcess`).
    nominal_efficiency : array_like or None
        Nominal detector efficiency of each link (in ``[0, 1]``, default None), broadcastable to
        (B, L). When given, the efficiency factor is clipped to ``[0, 1 / nominal]`` so that the
        drifted efficiency stays in ``[0, 1]``; when None it is only kept non-negative.

    Attributes
    ----------
    config : FluctuationConfig
        The parameters.
    shape : tuple of int
        ``(B, L)``.
    loss : FibreLossProcess
        Extra loss, stress and cuts.
    source_rate : LogOUFactor
        Source-rate factor, in ``[0, inf)``.
    efficiency : LogOUFactor
        Detector-efficiency factor.

    Notes
    -----
    Per :meth:`step` the draws are, in order, those of :meth:`FibreLossProcess.step`, then
    (B, L) normals for the source rate and (B, L) normals for the efficiency; a disabled config
    draws nothing. No Python loop runs over B or L.

    Examples
    --------
    >>> fl = LinkFluctuations(FluctuationConfig(), batch_size=4, n_links=3)
    >>> rng = np.random.default_rng(7)
    >>> c0 = fl.reset(rng)
    >>> c1 = fl.step(rng)
    >>> c1.extra_loss_db.shape, c1.cut.dtype
    ((4, 3), dtype('bool'))
    >>> off = LinkFluctuations(FluctuationConfig(enabled=False), 2, 2).step(rng)
    >>> off.extra_loss_db.tolist(), off.efficiency_factor.tolist()
    ([[0.0, 0.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 1.0]])
    """

    def __init__(
        self,
        config: FluctuationConfig,
        batch_size: int,
        n_links: int,
        *,
        nominal_loss_db: ArrayLike | None = None,
        nominal_efficiency: ArrayLike | None = None,
    ) -> None:
        owner = "LinkFluctuations"
        self.config = _check_config(config, owner)
        self.shape = (
            _check_count("batch_size", batch_size, owner),
            _check_count("n_links", n_links, owner),
        )
        self.loss = FibreLossProcess(config, *self.shape, nominal_loss_db=nominal_loss_db)
        high: ArrayLike = math.inf
        if nominal_efficiency is not None:
            eta = _broadcast_param(
                "nominal_efficiency", nominal_efficiency, self.shape, owner, low=0.0, high=1.0
            )
            with np.errstate(divide="ignore"):
                high = np.where(eta > 0.0, 1.0 / np.where(eta > 0.0, eta, 1.0), math.inf)
        common = {"enabled": config.enabled, "stationary_start": config.stationary_start}
        self.source_rate = LogOUFactor(
            *self.shape,
            rel_std=config.source_rate_rel_std,
            correlation_slots=config.source_rate_correlation_slots,
            **common,
        )
        self.efficiency = LogOUFactor(
            *self.shape,
            rel_std=config.efficiency_rel_std,
            correlation_slots=config.efficiency_correlation_slots,
            high=high,
            **common,
        )

    def _conditions(
        self,
        loss: tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_]],
        rate: NDArray[np.float64],
        eff: NDArray[np.float64],
    ) -> LinkConditions:
        extra, cut, stressed = loss
        factor = np.where(cut, 0.0, db_to_linear(-np.where(cut, 0.0, extra)))
        return LinkConditions(extra, cut, stressed, factor, rate, eff)

    def reset(self, rng: np.random.Generator, mask: ArrayLike | None = None) -> LinkConditions:
        """Start the copies where ``mask`` (shape (B,), default all) is true; slot-0 conditions."""
        loss = self.loss.reset(rng, mask)
        rate = self.source_rate.reset(rng, mask)
        eff = self.efficiency.reset(rng, mask)
        return self._conditions(loss, rate, eff)

    def step(self, rng: np.random.Generator) -> LinkConditions:
        """Advance every copy by one slot and return that slot's :class:`LinkConditions`."""
        loss = self.loss.step(rng)
        rate = self.source_rate.step(rng)
        eff = self.efficiency.step(rng)
        return self._conditions(loss, rate, eff)

    def trigger_cut(self, mask: ArrayLike, duration_slots: float | None = None) -> None:
        """Cut links from the next slot on; see :meth:`FibreLossProcess.trigger_cut`."""
        self.loss.trigger_cut(mask, duration_slots)

    def trigger_stress(self, mask: ArrayLike, duration_slots: float | None = None) -> None:
        """Stress links from the next slot on; see :meth:`FibreLossProcess.trigger_stress`."""
        self.loss.trigger_stress(mask, duration_slots)
