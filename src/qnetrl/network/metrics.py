"""Outcomes, counters and summary metrics of the time-slotted QKD network simulator.

:class:`SimResult` holds what :mod:`qnetrl.network.simulator` counts while it runs B copies of
a network for T slots: per copy and pair the requests and their outcomes (:class:`Outcome`),
delivered and secure key bits, exposures; per copy and link the key generated, wasted at full
pools and consumed; per link the QBER moments; per slot the mean pool level and key rates.
:meth:`SimResult.summary` turns them into a flat ``{metric: float}`` dictionary with stable
keys (the ``summary.json`` of a run), including the request availability with its Wilson score
interval (:func:`wilson_interval`). :func:`plot_pool_levels` and :func:`plot_key_rate` draw
the two standard figures (matplotlib, imported on first use).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtri

from qnetrl._validation import InvalidParameterError, check_range

__all__ = [
    "OUTCOME_NAMES",
    "Outcome",
    "SimResult",
    "plot_key_rate",
    "plot_pool_levels",
    "wilson_interval",
]


class Outcome(IntEnum):
    """What became of a request the network served (consumed key for).

    Attributes
    ----------
    OK : 0
        The receiver holds the right key; nothing was corrupted.
    CORRECTED : 1
        The receiver holds the right key after correcting corrupted shares (multi-path only).
    FAILED : 2
        The receiver knows it holds no key: a share or the relayed key was dropped, too many
        shares were lost or corrupted to decode, or the end-to-end MAC rejected the result.
    WRONG : 3
        The receiver holds a key that differs from the sender's and nothing flagged it (an
        undetected wrong key: trusted relaying through a bit-flipping relay).
    LATE : 4
        Single path: the key reached the receiver only after the request's deadline (a
        delaying relay); it counts as missed.
    """

    OK = 0
    CORRECTED = 1
    FAILED = 2
    WRONG = 3
    LATE = 4


#: Lower-case outcome names, in code order (column names of the per-pair table).
OUTCOME_NAMES: Final[tuple[str, ...]] = tuple(o.name.lower() for o in Outcome)


def wilson_interval(
    successes: ArrayLike, trials: ArrayLike, confidence: float = 0.95
) -> tuple[NDArray[np.float64] | float, NDArray[np.float64] | float]:
    """Wilson score confidence interval of a binomial proportion.

    Parameters
    ----------
    successes : array_like of int
        Number of successes k, in ``[0, n]``.
    trials : array_like of int
        Number of trials n, in ``[0, inf)``; broadcasts against ``successes``.
    confidence : float
        Two-sided confidence level, in ``(0, 1)`` (default 0.95).

    Returns
    -------
    low, high : float or ndarray
        Interval bounds, in ``[0, 1]``; ``(0.0, 1.0)`` where ``n = 0`` (no information).

    Raises
    ------
    InvalidParameterError
        If a count is negative, not an integer, ``k > n``, or ``confidence`` is outside
        ``(0, 1)``.

    Notes
    -----
    With :math:`\\hat p = k / n` and :math:`z` the standard normal quantile of
    :math:`(1 + \\gamma) / 2`, the interval of [1]_ (the score interval without continuity
    correction, method 3 of [2]_) is

    .. math::

        \\frac{\\hat p + \\frac{z^2}{2n} \\pm z \\sqrt{\\frac{\\hat p (1 - \\hat p)}{n}
        + \\frac{z^2}{4 n^2}}}{1 + \\frac{z^2}{n}}.

    Unlike the Wald interval it never leaves [0, 1] and keeps a useful width at
    :math:`\\hat p \\in \\{0, 1\\}` (where the upper bound for :math:`k = 0` is
    :math:`z^2 / (n + z^2)`), which matters for availabilities close to 1.

    References
    ----------
    .. [1] E. B. Wilson, "Probable inference, the law of succession, and statistical
       inference", Journal of the American Statistical Association 22(158), 209-212 (1927).
       DOI: 10.1080/01621459.1927.10502953
    .. [2] R. G. Newcombe, "Two-sided confidence intervals for the single proportion:
       comparison of seven methods", Statistics in Medicine 17(8), 857-872 (1998).
       DOI: 10.1002/(SICI)1097-0258(19980430)17:8<857::AID-SIM777>3.0.CO;2-E

    Examples
    --------
    >>> low, high = wilson_interval(81, 263)
    >>> round(low, 4), round(high, 4)
    (0.2553, 0.3662)
    >>> z2 = 1.959963984540054 ** 2
    >>> bool(np.isclose(wilson_interval(0, 20)[1], z2 / (20 + z2)))
    True
    """
    owner = "wilson_interval"
    k = check_range("successes", successes, owner=owner, low=0.0)
    n = check_range("trials", trials, owner=owner, low=0.0)
    for name, arr in (("successes", k), ("trials", n)):
        if not (np.isfinite(arr).all() and (arr == np.round(arr)).all()):
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must hold integers in the range [0, inf). "
                f"Got {arr[~(np.isfinite(arr) & (arr == np.round(arr)))].flat[0]!r} instead."
            )
    gamma = float(
        check_range(
            "confidence",
            confidence,
            owner=owner,
            low=0.0,
            high=1.0,
            low_inclusive=False,
            high_inclusive=False,
        )
    )
    k, n = np.broadcast_arrays(k, n)
    if (k > n).any():
        raise InvalidParameterError(
            f"The 'successes' parameter of {owner} must be in the range [0, trials]. "
            f"Got {k[k > n].flat[0]!r} successes for {n[k > n].flat[0]!r} trials instead."
        )
    z = float(ndtri(0.5 + gamma / 2.0))
    safe_n = np.where(n > 0, n, 1.0)
    p = k / safe_n
    z2n = z * z / safe_n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z * np.sqrt(p * (1.0 - p) / safe_n + z2n / (4.0 * safe_n)) / (1.0 + z2n)
    low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), 0.0)
    high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), 1.0)
    # k = 0 and k = n are exact 0 and 1 bounds (round-off would give about 1e-17).
    low = np.where(k == 0, 0.0, low)
    high = np.where((k == n) & (n > 0), 1.0, high)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def _ratio(num: float, den: float) -> float:
    """``num / den``, or NaN when ``den`` is 0 (an undefined fraction, never a fake 0)."""
    return float(num) / float(den) if den > 0 else math.nan


@dataclass(frozen=True, slots=True)
class SimResult:
    """Counters and time series of one simulator run of B copies over T slots.

    Counts are integers; bits are float64 holding whole numbers of bits (the simulator keeps
    pools in whole bits). B copies, P demand pairs, L links, T slots.

    Attributes
    ----------
    slots : int
        T, the number of simulated slots.
    batch_size : int
        B.
    slot_s : float
        Duration of one slot (in s).
    routing : str
        ``"single"`` or ``"multipath"``.
    byte_level : bool
        Whether outcomes come from real byte-level relaying and decoding.
    pool_capacity_bits : float
        Capacity of every link's key pool (in bits).
    pair_labels : tuple of str
        ``"src-dst"`` node names of each pair, length P.
    link_labels : tuple of str
        ``"u-v"`` node names of each link, length L.
    arrived : ndarray of shape (B, P), dtype int64
        Requests that arrived (including those rejected for a full queue).
    rejected : ndarray of shape (B, P), dtype int64
        Requests rejected on arrival because the queue was full.
    demand_overflow : ndarray of shape (B,), dtype int64
        Arrivals the demand generator dropped for lack of request slots (no pair recorded).
    outcomes : ndarray of shape (B, P, 5), dtype int64
        Served requests by :class:`Outcome` code.
    expired : ndarray of shape (B, P), dtype int64
        Requests that reached their deadline unserved.
    pending : ndarray of shape (B, P), dtype int64
        Requests still queued at the end (censored: neither success nor failure).
    exposed : ndarray of shape (B, P), dtype int64
        Served requests whose key the Byzantine coalition saw (a leaking relay on the single
        path, or leaking relays on at least ``t`` of the share paths).
    delivered_bits : ndarray of shape (B, P)
        Bits of correctly delivered keys (outcome ok or corrected).
    secure_bits : ndarray of shape (B, P)
        Bits of correctly delivered keys that were not exposed.
    generated_bits : ndarray of shape (B, L)
        Whole key bits the links generated (crashed ends and cuts generate none).
    wasted_bits : ndarray of shape (B, L)
        Generated bits discarded because the pool was full.
    consumed_bits : ndarray of shape (B, L)
        One-time-pad bits taken from each pool to relay keys or shares.
    initial_pool_bits, final_pool_bits : ndarray of shape (B, L)
        Pools at the start and at the end.
    relayed_bits : ndarray of shape (B,)
        Sum over served requests of bits per path times hops over all its paths; equals the
        total of ``consumed_bits`` (the conservation check).
    qber_mean, qber_var : ndarray of shape (L,)
        Mean and population variance of each link's true QBER over slots and copies.
    reported_qber_mean : ndarray of shape (L,)
        Mean QBER reported to the control plane (false where a FALSE_QBER node lies).
    pool_mean_link : ndarray of shape (L,)
        Each link's pool (in bits) averaged over slots and copies.
    pool_full_fraction : ndarray of shape (L,)
        Fraction of (slot, copy) pairs in which the link's pool was at capacity.
    pool_mean_t : ndarray of shape (T,)
        Pool level (in bits) averaged over links and copies, after each slot.
    pool_link_t : ndarray of shape (T, L) or None
        Each link's pool averaged over copies, per slot; kept only for L <= 16.
    generated_bits_t, secure_bits_t : ndarray of shape (T,)
        Key generated by all links, and secure key delivered to all pairs, per slot (in bits,
        mean over copies).
    byte_level_mismatches : int
        Served requests whose byte-level outcome differed from the decoding-bound outcome
        (0 when ``byte_level`` is false; expected 0 always).
    events : dict of str to ndarray, or None
        One entry per served request when the run recorded events: ``copy``, ``pair``,
        ``arrival``, ``deadline``, ``served_slot``, ``done_slot``, ``bits``, ``paths``,
        ``consumed_bits``, ``outcome``, ``exposed``, ``flipped``, ``lost``.
    """

    slots: int
    batch_size: int
    slot_s: float
    routing: str
    byte_level: bool
    pool_capacity_bits: float
    pair_labels: tuple[str, ...]
    link_labels: tuple[str, ...]
    arrived: NDArray[np.int64]
    rejected: NDArray[np.int64]
    demand_overflow: NDArray[np.int64]
    outcomes: NDArray[np.int64]
    expired: NDArray[np.int64]
    pending: NDArray[np.int64]
    exposed: NDArray[np.int64]
    delivered_bits: NDArray[np.float64]
    secure_bits: NDArray[np.float64]
    generated_bits: NDArray[np.float64]
    wasted_bits: NDArray[np.float64]
    consumed_bits: NDArray[np.float64]
    initial_pool_bits: NDArray[np.float64]
    final_pool_bits: NDArray[np.float64]
    relayed_bits: NDArray[np.float64]
    qber_mean: NDArray[np.float64]
    qber_var: NDArray[np.float64]
    reported_qber_mean: NDArray[np.float64]
    pool_mean_link: NDArray[np.float64]
    pool_full_fraction: NDArray[np.float64]
    pool_mean_t: NDArray[np.float64]
    pool_link_t: NDArray[np.float64] | None
    generated_bits_t: NDArray[np.float64]
    secure_bits_t: NDArray[np.float64]
    byte_level_mismatches: int
    events: dict[str, NDArray[Any]] | None = None

    @property
    def simulated_time_s(self) -> float:
        """Simulated time of one copy (in s): ``slots * slot_s``."""
        return self.slots * self.slot_s

    def served_correct(self) -> NDArray[np.int64]:
        """(B, P) served requests whose receiver holds the right key (ok or corrected)."""
        return self.outcomes[..., Outcome.OK] + self.outcomes[..., Outcome.CORRECTED]

    def resolved(self) -> NDArray[np.int64]:
        """(B, P) requests with a final fate: served (any outcome), expired or rejected."""
        return self.outcomes.sum(axis=-1) + self.expired + self.rejected

    def summary(self, confidence: float = 0.95) -> dict[str, float]:
        """Flat metrics, ``{name: float}``, with stable keys (the run's ``summary.json``).

        Rates are per copy (totals divided by B and by the simulated time); fractions that
        are undefined (no trial) are NaN. Availability is the fraction of resolved requests
        (served, expired, or rejected at a full queue; arrivals dropped by the demand
        generator count as failures too) whose receiver got the right key by the deadline;
        requests still queued at the end are censored. Its Wilson interval pools the
        requests of all copies as independent trials.
        """
        b = self.batch_size
        t_s = self.simulated_time_s
        counts = self.outcomes.sum(axis=(0, 1))
        correct = int(self.served_correct().sum())
        dropped = int(self.demand_overflow.sum())
        trials = int(self.resolved().sum()) + dropped
        low, high = wilson_interval(correct, trials, confidence)
        served = int(counts.sum())
        pair_rate = self.secure_bits.sum(axis=0) / (b * t_s)  # (P,) bits/s per pair
        consumed = float(self.consumed_bits.sum())
        generated = float(self.generated_bits.sum())
        balance = (
            self.initial_pool_bits.sum()
            + generated
            - float(self.wasted_bits.sum())
            - consumed
            - self.final_pool_bits.sum()
        )
        out: dict[str, float] = {
            "slots": float(self.slots),
            "batch_size": float(b),
            "slot_duration_s": float(self.slot_s),
            "simulated_time_s": float(t_s),
            "byte_level": float(self.byte_level),
            "requests": float(self.arrived.sum() + dropped),
            "requests_resolved": float(trials),
            "served": float(served),
            "served_ok": float(counts[Outcome.OK]),
            "served_corrected": float(counts[Outcome.CORRECTED]),
            "failed_detected": float(counts[Outcome.FAILED]),
            "wrong_keys_undetected": float(counts[Outcome.WRONG]),
            "late": float(counts[Outcome.LATE]),
            "expired": float(self.expired.sum()),
            "missed": float(self.expired.sum() + counts[Outcome.LATE]),
            "rejected_queue_full": float(self.rejected.sum() + dropped),
            "pending_at_end": float(self.pending.sum()),
            "availability": _ratio(correct, trials),
            "availability_ci_low": float(low),
            "availability_ci_high": float(high),
            "availability_trials": float(trials),
            "exposed": float(self.exposed.sum()),
            "exposure_fraction": _ratio(float(self.exposed.sum()), served),
            "delivered_key_bits": float(self.delivered_bits.sum()),
            "secure_key_bits": float(self.secure_bits.sum()),
            "secure_key_rate_bps": float(self.secure_bits.sum() / (b * t_s)),
            "secure_key_rate_bps_pair_mean": float(pair_rate.mean()),
            "secure_key_rate_bps_pair_min": float(pair_rate.min()),
            "secure_key_rate_bps_pair_max": float(pair_rate.max()),
            "generated_key_rate_bps": float(generated / (b * t_s)),
            "generated_bits": generated,
            "wasted_bits": float(self.wasted_bits.sum()),
            "wasted_fraction": _ratio(float(self.wasted_bits.sum()), generated),
            "consumed_bits": consumed,
            "relayed_bits": float(self.relayed_bits.sum()),
            "conservation_error_bits": float(consumed - self.relayed_bits.sum()),
            "pool_balance_error_bits": float(balance),
            "pool_capacity_bits": float(self.pool_capacity_bits),
            "pool_mean_bits": float(self.pool_mean_link.mean()),
            "pool_fill_fraction": float(self.pool_mean_link.mean() / self.pool_capacity_bits),
            "pool_min_link_mean_bits": float(self.pool_mean_link.min()),
            "pool_full_fraction": float(self.pool_full_fraction.mean()),
            "qber_mean": float(self.qber_mean.mean()),
            "qber_link_var_mean": float(self.qber_var.mean()),
            "qber_link_mean_max": float(self.qber_mean.max()),
            "reported_qber_mean": float(self.reported_qber_mean.mean()),
            "byte_level_mismatches": float(self.byte_level_mismatches),
        }
        return out

    def pair_table(self) -> dict[str, Any]:
        """Per-pair columns (totals over copies; rates per copy, in bits/s)."""
        b, t_s = self.batch_size, self.simulated_time_s
        correct = self.served_correct().sum(axis=0)
        resolved = self.resolved().sum(axis=0)
        cols: dict[str, Any] = {"pair": list(self.pair_labels)}
        cols["requests"] = self.arrived.sum(axis=0)
        for code, name in enumerate(OUTCOME_NAMES):
            cols[name] = self.outcomes[..., code].sum(axis=0)
        cols["expired"] = self.expired.sum(axis=0)
        cols["rejected"] = self.rejected.sum(axis=0)
        cols["exposed"] = self.exposed.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            cols["availability"] = np.where(resolved > 0, correct / resolved, math.nan)
        cols["secure_key_rate_bps"] = self.secure_bits.sum(axis=0) / (b * t_s)
        return cols

    def link_table(self) -> dict[str, Any]:
        """Per-link columns: QBER moments, pool statistics and key budgets (bits per copy)."""
        b = self.batch_size
        return {
            "link": list(self.link_labels),
            "qber_mean": self.qber_mean,
            "qber_var": self.qber_var,
            "reported_qber_mean": self.reported_qber_mean,
            "pool_mean_bits": self.pool_mean_link,
            "pool_full_fraction": self.pool_full_fraction,
            "generated_bits": self.generated_bits.sum(axis=0) / b,
            "wasted_bits": self.wasted_bits.sum(axis=0) / b,
            "consumed_bits": self.consumed_bits.sum(axis=0) / b,
        }


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def _figure() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _moving_average(x: NDArray[np.float64], window: int) -> NDArray[np.float64]:
    """Trailing moving average with a window of ``min(window, len(x))`` samples."""
    w = max(1, min(window, x.size))
    c = np.cumsum(np.concatenate([[0.0], x]))
    out = np.empty_like(x)
    out[w - 1 :] = (c[w:] - c[:-w]) / w
    out[: w - 1] = c[1:w] / np.arange(1, w)
    return out


def plot_pool_levels(result: SimResult, path: str | Path) -> Path:
    """Key-pool level vs time: mean over links, and per link when there are at most 16."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    t = np.arange(1, result.slots + 1) * result.slot_s
    if result.pool_link_t is not None:
        for j, label in enumerate(result.link_labels):
            ax.plot(t, result.pool_link_t[:, j], lw=0.8, label=f"link {label}")
    ax.plot(t, result.pool_mean_t, "k-", lw=1.5, label="mean over links")
    ax.axhline(result.pool_capacity_bits, color="grey", ls="--", lw=1, label="pool capacity")
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("key pool level (bits, mean over copies)")
    ax.set_title(f"Key pools ({result.routing} routing, B = {result.batch_size})")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_key_rate(result: SimResult, path: str | Path, *, window_slots: int = 100) -> Path:
    """Generated and delivered secure key rate vs time (moving average over slots)."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    t = np.arange(1, result.slots + 1) * result.slot_s
    gen = _moving_average(result.generated_bits_t, window_slots) / result.slot_s
    sec = _moving_average(result.secure_bits_t, window_slots) / result.slot_s
    ax.plot(t, gen, label="generated by all links")
    ax.plot(t, sec, label="secure key delivered to all pairs")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("key rate (bits/s, mean over copies)")
    ax.set_title(f"Key rates, moving average over {min(window_slots, result.slots)} slots")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
