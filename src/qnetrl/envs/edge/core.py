"""Batched simulation core of the QKD-secured edge-offloading study.

A dispatcher sends one task per step to one of N edge nodes. Each node is reached over a
wireless link (BPSK over block Rayleigh fading plus AWGN) that also runs QKD: the link's bit
error probability in a slot is that slot's QBER, the key model turns it into secure key, and
the key fills a bounded per-node buffer. A task adds its compute load to the chosen node and
consumes its key demand from that node's buffer; a shortfall waits for fresh key. The cost of
a task (latency, key wait, retransmissions, overload penalty) is computed by one function,
:func:`task_cost`, which the core, the greedy heuristic and the oracle all use. The core
advances B independent copies at once with numpy array operations (state arrays of shape
(B, N)); the Gymnasium faces in :mod:`qnetrl.envs.edge.gym_env` are thin views of it. The
exogenous randomness of a whole episode (tasks, fading gains, load decay) is drawn at reset so
that an oracle can look ahead with :meth:`EdgeCore.peek`; the QBER and key rate that the
fading gains imply are computed from them when a slot is first played or peeked at.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Final, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import Field, ValidationInfo, field_validator
from scipy import stats

from qnetrl._validation import InvalidParameterError
from qnetrl.config import ConfigBase
from qnetrl.physics.channel import bpsk_awgn_ber, linear_to_db, sample_fading_gain
from qnetrl.physics.qkd import bb84_secret_fraction, edge_study_key_rate

__all__ = [
    "KEY_MODELS",
    "EdgeCore",
    "EdgeEnvConfig",
    "EdgeLookahead",
    "EdgeState",
    "TaskCost",
    "secure_key_rate_bps",
    "task_cost",
]

#: Key models understood by :class:`EdgeEnvConfig`.
KEY_MODELS: Final[tuple[str, ...]] = ("publication", "bb84")

#: Number of independent child streams drawn from the reset generator (tasks, spike flags,
#: spike sizes, fading, load decay); fixed so that copy b's draws do not depend on B.
_N_STREAMS: Final[int] = 5

#: Size (in numbers per quantity, B x K x N) of the chunk of K slots whose QBER and key rate
#: EdgeCore computes in one go: large enough that the per-call cost of the physics functions
#: (argument checks, about 0.15 ms) is small, small enough not to hold up a step much.
_CHANNEL_CHUNK_ELEMENTS: Final[int] = 262_144


class EdgeEnvConfig(ConfigBase):
    """Parameters of the edge-scheduling environment (units in every description).

    Publication defaults: three equal nodes of capacity 100, tasks ``N(15, 5)`` clipped at 0
    with a 10 % chance of a ``U[40, 60)`` spike, 10 % +- 2 % load decay per step, overload
    above 90 % of capacity, and the publication's key model (raw 1 Mbit/s, ``f_ec`` 1.15, PA
    factor 0.90). Fields the publication does not fix (SNRs, slot length, key demand, key
    buffer, latency weights, retransmissions) are our choices and are documented per field.
    """

    n_nodes: int = Field(3, ge=1, le=64, description="Number of edge nodes N (count).")
    horizon: int = Field(
        100,
        ge=1,
        le=1_000_000,
        description="Episode length T (in steps); episodes end only by truncation at T.",
    )
    capacities: float | list[float] = Field(
        100.0,
        description=(
            "Compute capacity of each node (in load units); a scalar is shared by all nodes, "
            "a list needs exactly n_nodes positive entries (publication: 100 each)."
        ),
    )
    load_decay: float = Field(
        0.10,
        gt=0.0,
        lt=1.0,
        description="Mean fraction of each node's load that drains per step (dimensionless).",
    )
    load_decay_jitter: float = Field(
        0.02,
        ge=0.0,
        lt=1.0,
        description=(
            "Half-width of the uniform jitter on the decay fraction, drawn per node and step "
            "(dimensionless); must be below load_decay and at most 1 - load_decay."
        ),
    )
    task_load_mean: float = Field(
        15.0, ge=0.0, description="Mean of the normal task load (in load units)."
    )
    task_load_std: float = Field(
        5.0, ge=0.0, description="Standard deviation of the normal task load (in load units)."
    )
    spike_prob: float = Field(
        0.1, ge=0.0, le=1.0, description="Probability that a task is a spike (dimensionless)."
    )
    spike_low: float = Field(
        40.0, ge=0.0, description="Lower end of the uniform spike load (in load units)."
    )
    spike_high: float = Field(
        60.0,
        ge=0.0,
        description="Upper end (exclusive) of the uniform spike load (in load units).",
    )
    task_load_max: float = Field(
        100.0,
        gt=0.0,
        description=(
            "Upper clip of a task load (in load units), at least spike_high; bounds the "
            "observation (N(15, 5) exceeds 100 with probability ~1e-66)."
        ),
    )
    key_bits_per_task: float = Field(
        256.0, ge=0.0, description="Fixed key demand of a task (in bits; one AES-256 key)."
    )
    key_bits_per_load: float = Field(
        0.0,
        ge=0.0,
        description=(
            "Extra key demand per unit of task load (in bits per load unit); > 0 makes the "
            "demand random, proportional to the task size."
        ),
    )
    mean_snr_db: float | list[float] | None = Field(
        None,
        description=(
            "Mean SNR per bit of each node's link (in dB); a scalar is shared, a list needs "
            "n_nodes entries; None spaces the nodes evenly over [9, 17] dB, whose mean "
            "Rayleigh BPSK BERs span about 2.9 % to 0.5 %."
        ),
    )
    fading: Literal["none", "rayleigh", "rician"] = Field(
        "rayleigh", description="Block-fading model of the links (see sample_fading_gain)."
    )
    k_factor: float = Field(
        0.0, ge=0.0, description="Rician K factor (linear), used only when fading='rician'."
    )
    coherence_steps: int = Field(
        1,
        ge=1,
        le=1_000_000,
        description=(
            "Fading coherence time (in steps): a gain is held for this many consecutive "
            "slots, in blocks aligned with the reset; 1 (publication) redraws every step."
        ),
    )
    slot_s: float = Field(
        1.1e-4,
        gt=0.0,
        description=(
            "Duration of one step (in s); one task arrives per slot and each link adds "
            "rate x slot_s bits of key. The default makes key scarce: the three default links "
            "then produce ~276 bits per slot (publication model) for a 256-bit demand."
        ),
    )
    raw_key_rate_bps: float = Field(
        1e6, ge=0.0, description="Sifted (raw) key rate of every QKD link (in bit/s)."
    )
    key_model: Literal["publication", "bb84"] = Field(
        "publication",
        description=(
            "Secure-key model: 'publication' = raw x pa_factor x (1 - f_ec h(e)) as published; "
            "'bb84' = raw x (1 - f_ec h(e) - h(e)), zero above ~9.9 % QBER at f_ec 1.15."
        ),
    )
    f_ec: float = Field(
        1.15, ge=1.0, description="Error-correction inefficiency (dimensionless, >= 1)."
    )
    pa_factor: float = Field(
        0.90,
        ge=0.0,
        le=1.0,
        description="Publication model's constant privacy-amplification factor (dimensionless).",
    )
    key_buffer_bits: float = Field(
        1024.0,
        gt=0.0,
        description="Capacity of each node's key buffer (in bits; default four 256-bit keys).",
    )
    initial_key_fill: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Key buffer fill at reset, before the warm-up slot (fraction of capacity).",
    )
    base_latency_ms: float = Field(
        1.0, ge=0.0, description="Latency of a task on an idle node (in ms)."
    )
    load_latency_ms: float = Field(
        10.0,
        ge=0.0,
        description="Weight of the squared load ratio (projected load / capacity) (in ms).",
    )
    key_wait_weight: float = Field(
        1.0, ge=0.0, description="Weight of the key wait in the reward (dimensionless)."
    )
    key_wait_cap_ms: float = Field(
        10.0,
        gt=0.0,
        description="Largest key wait charged to one task (in ms); also the wait at zero rate.",
    )
    payload_bits: int = Field(
        64,
        ge=1,
        le=1_000_000,
        description="Size of the task's payload packet sent over the link (in bits).",
    )
    max_transmissions: int = Field(
        8,
        ge=1,
        le=1024,
        description="ARQ limit: transmissions of a payload packet at most (count).",
    )
    retx_latency_ms: float = Field(
        0.5, ge=0.0, description="Latency added by one retransmission (in ms)."
    )
    overload_threshold: float = Field(
        0.9,
        gt=0.0,
        description="Projected load above this fraction of capacity is an overload (fraction).",
    )
    overload_penalty: float = Field(
        10.0, ge=0.0, description="Reward penalty of an overload (in ms-equivalent)."
    )

    @field_validator("capacities")
    @classmethod
    def _check_capacities(cls, v: float | list[float], info: ValidationInfo) -> Any:
        values = [v] if isinstance(v, float | int) else list(v)
        n = info.data.get("n_nodes")
        if not isinstance(v, float | int) and n is not None and len(values) != n:
            raise ValueError(f"needs one entry per node (n_nodes={n}), got {len(values)}")
        if not all(math.isfinite(c) and c > 0.0 for c in values):
            raise ValueError("every capacity must be a finite number in the range (0, inf)")
        return v

    @field_validator("mean_snr_db")
    @classmethod
    def _check_snr(cls, v: float | list[float] | None, info: ValidationInfo) -> Any:
        if v is None:
            return v
        values = [v] if isinstance(v, float | int) else list(v)
        n = info.data.get("n_nodes")
        if not isinstance(v, float | int) and n is not None and len(values) != n:
            raise ValueError(f"needs one entry per node (n_nodes={n}), got {len(values)}")
        if not all(math.isfinite(s) for s in values):
            raise ValueError("every SNR must be a finite number (in dB)")
        return v

    @field_validator("load_decay_jitter")
    @classmethod
    def _check_jitter(cls, v: float, info: ValidationInfo) -> float:
        decay = info.data.get("load_decay")
        if decay is not None and not (v < decay and decay + v <= 1.0):
            raise ValueError(
                f"must lie in [0, min(load_decay, 1 - load_decay)) = [0, "
                f"{min(decay, 1.0 - decay)}) so that loads always drain and stay non-negative"
            )
        return v

    @field_validator("spike_high")
    @classmethod
    def _check_spike(cls, v: float, info: ValidationInfo) -> float:
        low = info.data.get("spike_low")
        if low is not None and v < low:
            raise ValueError(f"must be at least spike_low={low}")
        return v

    @field_validator("task_load_max")
    @classmethod
    def _check_task_max(cls, v: float, info: ValidationInfo) -> float:
        high = info.data.get("spike_high")
        if high is not None and v < high:
            raise ValueError(f"must be at least spike_high={high}")
        return v

    def capacity_array(self) -> NDArray[np.float64]:
        """Per-node compute capacity (in load units), ndarray of shape (N,)."""
        return np.broadcast_to(np.asarray(self.capacities, float), (self.n_nodes,)).copy()

    def mean_snr_db_array(self) -> NDArray[np.float64]:
        """Per-node mean SNR per bit (in dB), ndarray of shape (N,)."""
        if self.mean_snr_db is None:
            return np.linspace(9.0, 17.0, self.n_nodes)
        return np.broadcast_to(np.asarray(self.mean_snr_db, float), (self.n_nodes,)).copy()

    @property
    def max_key_demand_bits(self) -> float:
        """Largest key demand of one task (in bits)."""
        return self.key_bits_per_task + self.key_bits_per_load * self.task_load_max


class TaskCost(NamedTuple):
    """Cost of serving one task on one node; every field broadcasts like the inputs.

    Attributes
    ----------
    latency_ms : ndarray
        Physical latency: base + load term + key wait + retransmissions (in ms).
    key_wait_ms : ndarray
        Time spent waiting for missing key, capped at ``key_wait_cap_ms`` (in ms).
    retx_ms : ndarray
        Expected latency of payload retransmissions (in ms).
    load_ratio : ndarray
        Projected load over capacity (dimensionless).
    overload : ndarray of bool
        Whether the projected load exceeds ``overload_threshold`` of capacity.
    reward : ndarray
        ``-(base + load term + key_wait_weight * key wait + retx) - overload penalty``.
    """

    latency_ms: NDArray[np.float64]
    key_wait_ms: NDArray[np.float64]
    retx_ms: NDArray[np.float64]
    load_ratio: NDArray[np.float64]
    overload: NDArray[np.bool_]
    reward: NDArray[np.float64]


def task_cost(
    config: EdgeEnvConfig,
    load: ArrayLike,
    capacity: ArrayLike,
    task_load: ArrayLike,
    key_balance_bits: ArrayLike,
    key_demand_bits: ArrayLike,
    ber: ArrayLike,
    key_rate_bps: ArrayLike,
) -> TaskCost:
    """Cost of sending a task to a node: the one formula the core and the baselines share.

    Parameters
    ----------
    config : EdgeEnvConfig
        Latency weights, key-wait cap, payload size, ARQ limit and overload settings.
    load : array_like
        Node load before the task (in load units).
    capacity : array_like
        Node compute capacity (in load units), > 0.
    task_load : array_like
        Load of the task (in load units).
    key_balance_bits : array_like
        Node key buffer minus key still owed to earlier waiting tasks (in bits).
    key_demand_bits : array_like
        Key the task needs (in bits).
    ber : array_like
        Bit error probability of the link during the slot (dimensionless, in [0, 0.5]).
    key_rate_bps : array_like
        Secure key rate of the link during the slot (in bit/s).

    Returns
    -------
    TaskCost
        Components broadcast to the common shape of the inputs (read-only views where an
        input was smaller), e.g. (B,) for the chosen node or (B, N) for every candidate.

    Notes
    -----
    With projected load :math:`\\ell' = \\ell + x` and load ratio :math:`\\rho = \\ell'/c`,

    .. math::

        \\mathrm{latency} = L_0 + w_\\ell \\rho^2 + W_\\mathrm{key} + n_\\mathrm{re} L_\\mathrm{re},
        \\qquad r = -(L_0 + w_\\ell \\rho^2 + w_k W_\\mathrm{key} + n_\\mathrm{re} L_\\mathrm{re})
        - P\\,[\\rho > \\theta].

    Key wait: the shortfall :math:`s = \\max(0, d - K)` (demand minus balance, so a task queues
    behind earlier tasks still waiting for key) is produced at the slot's secure key rate
    :math:`R`, :math:`W_\\mathrm{key} = \\min(s / R, W_\\max)`, and :math:`W_\\max` when
    :math:`R = 0`. The rate is assumed to hold for the whole wait (block fading).

    Retransmissions: truncated ARQ of an ``M``-bit payload with at most ``A`` transmissions
    and independent bit errors. With packet error rate :math:`p = 1 - (1 - \\mathrm{BER})^M`,
    the expected number of transmissions is :math:`\\sum_{i=0}^{A-1} p^i = (1 - p^A)/(1 - p)`,
    so :math:`n_\\mathrm{re} = (1 - p^A)/(1 - p) - 1` (``A - 1`` when :math:`p = 1`). The
    payload is delivered by other means after ``A`` failures at no further cost (modelling
    choice; the publication had no retransmission model).

    Examples
    --------
    An idle node, enough key and a clean link cost only the base and load terms:

    >>> from qnetrl.envs.edge.core import EdgeEnvConfig, task_cost
    >>> cost = task_cost(EdgeEnvConfig(), 0.0, 100.0, 50.0, 1024.0, 256.0, 0.0, 1e6)
    >>> float(cost.latency_ms), float(cost.reward)  # 1 + 10 * 0.5**2
    (3.5, -3.5)
    """
    cfg = config
    load = np.asarray(load, dtype=np.float64)
    capacity = np.asarray(capacity, dtype=np.float64)
    task_load = np.asarray(task_load, dtype=np.float64)
    balance = np.asarray(key_balance_bits, dtype=np.float64)
    demand = np.asarray(key_demand_bits, dtype=np.float64)
    ber = np.asarray(ber, dtype=np.float64)
    rate = np.asarray(key_rate_bps, dtype=np.float64)

    ratio = (load + task_load) / capacity
    shortfall = np.maximum(demand - balance, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # A positive shortfall at rate 0 gives inf, capped below; 0/0 is never selected.
        wait_ms = np.where(shortfall > 0.0, 1e3 * shortfall / rate, 0.0)
        wait_ms = np.minimum(wait_ms, cfg.key_wait_cap_ms)
        per = -np.expm1(cfg.payload_bits * np.log1p(-np.minimum(ber, 0.5)))
        # (1 - p^A) / (1 - p); p = 0 gives log(0) = -inf and exactly one transmission.
        tries = np.where(
            per < 1.0,
            -np.expm1(cfg.max_transmissions * np.log(per)) / (1.0 - per),
            float(cfg.max_transmissions),
        )
    retx_ms = (tries - 1.0) * cfg.retx_latency_ms

    load_ms = cfg.base_latency_ms + cfg.load_latency_ms * ratio**2
    overload = ratio > cfg.overload_threshold
    latency = load_ms + wait_ms + retx_ms
    reward = -(load_ms + cfg.key_wait_weight * wait_ms + retx_ms)
    reward = reward - cfg.overload_penalty * overload
    shape = np.broadcast_shapes(
        load.shape,
        capacity.shape,
        task_load.shape,
        balance.shape,
        demand.shape,
        ber.shape,
        rate.shape,
    )
    parts = (latency, wait_ms, retx_ms, ratio, overload, reward)
    return TaskCost(*(x if x.shape == shape else np.broadcast_to(x, shape) for x in parts))


def secure_key_rate_bps(config: EdgeEnvConfig, qber: ArrayLike) -> NDArray[np.float64]:
    r"""Secure key rate (in bit/s) of a link at a given QBER, under ``config.key_model``.

    Parameters
    ----------
    config : EdgeEnvConfig
        Supplies ``key_model``, ``raw_key_rate_bps``, ``f_ec`` and ``pa_factor``.
    qber : array_like
        Quantum bit error rate (dimensionless, in [0, 0.5]).

    Returns
    -------
    ndarray
        Rate in bit/s, same shape as ``qber``.

    Notes
    -----
    ``"publication"`` calls :func:`qnetrl.physics.qkd.edge_study_key_rate` (820,523.6 bit/s
    at QBER 0.94 %, the study's 820,523; not a secure rate, it omits the PA entropy term).
    ``"bb84"`` is ``raw_key_rate_bps * bb84_secret_fraction(qber, f_ec)`` (Shor-Preskill).
    With :math:`\kappa` = ``pa_factor``, the BB84 rate is below the publication's wherever
    :math:`h(e)(1 + (1 - \kappa) f) > 1 - \kappa`, i.e. above a QBER of about 1.14 % at the
    defaults, and zero above 9.88 % (``f_ec`` 1.15). Below 1.14 % the flat 10 %
    privacy-amplification charge exceeds :math:`h(e)` and BB84 gives *more* key; over
    Rayleigh fading many slots have such a low QBER, so BB84 need not produce less key in
    total.

    Examples
    --------
    The study's claimed 820,523 bit/s at its QBER of 0.94 %:

    >>> from qnetrl.envs.edge.core import EdgeEnvConfig, secure_key_rate_bps
    >>> int(secure_key_rate_bps(EdgeEnvConfig(), 0.0094))
    820523
    >>> bool(secure_key_rate_bps(EdgeEnvConfig(key_model="bb84"), 0.10) == 0.0)
    True
    """
    qber = np.asarray(qber, dtype=np.float64)
    if config.key_model == "publication":
        rate = edge_study_key_rate(
            qber,
            raw_rate_bps=config.raw_key_rate_bps,
            f_ec=config.f_ec,
            pa_factor=config.pa_factor,
        )
    else:
        rate = config.raw_key_rate_bps * bb84_secret_fraction(qber, config.f_ec)
    return np.asarray(rate, dtype=np.float64)


@dataclass
class EdgeState:
    """Complete state of B copies of the edge environment (all arrays, batch axis first).

    Attributes
    ----------
    loads : ndarray of shape (B, N)
        Compute load of each node (in load units), >= 0.
    key_balance_bits : ndarray of shape (B, N)
        Key buffer minus key owed to tasks still waiting (in bits), <= buffer capacity;
        negative while a node is in key debt.
    ber : ndarray of shape (B, N)
        Link bit error probability (= QBER) measured in the last completed slot.
    t : ndarray of shape (B,), int64
        Steps taken in the episode; the task of step ``t`` is the one now waiting.
    task_loads : ndarray of shape (B, T)
        Pre-drawn task loads of the whole episode (in load units).
    task_key_bits : ndarray of shape (B, T)
        Pre-drawn key demand of every task (in bits).
    fading_gain : ndarray of shape (B, ceil((T + 1) / coherence_steps), N)
        Pre-drawn power gain of every link per coherence block (dimensionless, mean 1).
        Slot 0 is the warm-up slot before the first task, slot ``t + 1`` is the slot of
        step ``t``; slot ``s`` uses block ``s // coherence_steps``. The slot's QBER and key
        rate follow from the gain and are computed when the slot is played or peeked at
        (:meth:`EdgeCore.peek`, :meth:`EdgeCore.episode_channel`).
    decay : ndarray of shape (B, T, N)
        Load-decay fraction applied at the end of each step (dimensionless).
    """

    loads: NDArray[np.float64]
    key_balance_bits: NDArray[np.float64]
    ber: NDArray[np.float64]
    t: NDArray[np.int64]
    task_loads: NDArray[np.float64]
    task_key_bits: NDArray[np.float64]
    fading_gain: NDArray[np.float64]
    decay: NDArray[np.float64]

    def copy(self) -> EdgeState:
        """A deep copy (every array copied)."""
        return EdgeState(**{f.name: getattr(self, f.name).copy() for f in fields(self)})

    @property
    def batch_size(self) -> int:
        """Number of copies B."""
        return int(self.loads.shape[0])


class EdgeLookahead(NamedTuple):
    """The next k steps' exogenous data (oracle only: the agent never sees it).

    Row ``j`` is step ``t + j``; rows past the horizon are zero and flagged invalid.

    Attributes
    ----------
    task_load : ndarray of shape (B, k)
        Task loads (in load units).
    task_key_bits : ndarray of shape (B, k)
        Task key demands (in bits).
    qber : ndarray of shape (B, k, N)
        Link QBER during each step's slot.
    key_rate_bps : ndarray of shape (B, k, N)
        Secure key rate during each step's slot (in bit/s).
    decay : ndarray of shape (B, k, N)
        Load-decay fraction at the end of each step.
    valid : ndarray of shape (B, k), bool
        Whether step ``t + j`` lies before the horizon.
    """

    task_load: NDArray[np.float64]
    task_key_bits: NDArray[np.float64]
    qber: NDArray[np.float64]
    key_rate_bps: NDArray[np.float64]
    decay: NDArray[np.float64]
    valid: NDArray[np.bool_]


class EdgeCore:
    """B copies of the edge-scheduling environment advanced together with array operations.

    Step ``t`` runs: (1) the task of step ``t`` and the state are observed; (2) the action
    picks a node; (3) the slot of step ``t`` happens: every link draws its fading gain, its
    BPSK/AWGN error probability is the slot's QBER, and the key model adds ``rate * slot_s``
    bits to the node's key (first paying any key debt, then filling the buffer up to its
    capacity); the task adds its load to the chosen node and takes its key demand from that
    node's key balance; the cost comes from :func:`task_cost` with the slot's QBER and rate on
    the chosen link; (4) every node's load decays by its drawn fraction. The agent therefore
    sees only the QBER of the *previous* slot, never the current one.

    All exogenous randomness of an episode (tasks, fading gains, decay) is drawn at
    :meth:`reset` into (B, T), (B, T + 1, N) and (B, T, N) arrays, using about
    ``8 * B * (2 + 2 N) * T`` bytes (fewer gains when ``coherence_steps`` > 1); each kind comes
    from its own child generator, so copy 0 of a batch sees the same episode as a batch of one
    (for ``fading`` "none" and "rayleigh"; the Rician sampler draws two arrays from one
    stream). The QBER and secure key rate of a slot are functions of its gains and are
    computed when the slot is first played (:meth:`step`) or looked at (:meth:`peek`,
    :meth:`episode_channel`), for all copies and a chunk of about 2**18 / (B N) consecutive
    slots at a time (the whole episode at reset for small B, 21 slots at B = 4096 with the
    defaults), and kept in a slot-major cache of another ``16 * B * (T + 1) * N`` bytes. Each
    number is computed elementwise from its own gain, so it does not depend on the chunking:
    rollouts are bit for bit those of a core that computes every slot at reset.

    Parameters
    ----------
    config : EdgeEnvConfig
        Environment parameters.
    batch_size : int
        Number of copies B, >= 1.

    Attributes
    ----------
    config : EdgeEnvConfig
        The parameters.
    batch_size : int
        B.
    n_nodes : int
        N.
    obs_dim : int
        ``3 N + 2``.
    capacity : ndarray of shape (N,)
        Compute capacities (in load units).
    mean_snr_db : ndarray of shape (N,)
        Mean link SNR per bit (in dB).
    obs_low, obs_high : ndarray of shape (obs_dim,), float32
        Bounds of one observation row.
    """

    def __init__(self, config: EdgeEnvConfig, batch_size: int) -> None:
        if not isinstance(config, EdgeEnvConfig):
            raise InvalidParameterError(
                f"The 'config' parameter of EdgeCore must be an instance of EdgeEnvConfig. "
                f"Got {config!r} instead."
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
            raise InvalidParameterError(
                f"The 'batch_size' parameter of EdgeCore must be an int in the range [1, inf). "
                f"Got {batch_size!r} instead."
            )
        if batch_size < 1:
            raise InvalidParameterError(
                f"The 'batch_size' parameter of EdgeCore must be an int in the range [1, inf). "
                f"Got {batch_size!r} instead."
            )
        self.config = config
        self.batch_size = int(batch_size)
        self.n_nodes = config.n_nodes
        self.obs_dim = 3 * self.n_nodes + 2
        self.capacity = config.capacity_array()
        self.mean_snr_db = config.mean_snr_db_array()
        self.obs_low, self.obs_high = self._observation_bounds()
        self._b = np.arange(self.batch_size)
        self._rows = self._b * self.n_nodes  # flat offset of each copy's row in (B, N)
        self._capacity_col = self.capacity[:, None]
        # Link QBER and key rate are computed from the fading gains when first needed, in
        # chunks of K consecutive slots for all copies (about _CHANNEL_CHUNK_ELEMENTS numbers:
        # up to B = 865 at the defaults the whole episode at reset, at B = 4096 21 slots at
        # a time), and kept slot-major, (T + 1, B, N), so that a slot is one contiguous block.
        slots = config.horizon + 1
        self._chunk = min(
            slots, max(1, _CHANNEL_CHUNK_ELEMENTS // (self.batch_size * self.n_nodes))
        )
        self._chunk_done = np.zeros(-(-slots // self._chunk), dtype=bool)
        self._qber: NDArray[np.float64] | None = None
        self._rate: NDArray[np.float64] | None = None
        self._snr_rows = np.tile(self.mean_snr_db, (self.batch_size * self._chunk, 1))
        self._state: EdgeState | None = None

    # ------------------------------------------------------------------ bounds and observation

    def _observation_bounds(self) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        cfg = self.config
        n = self.n_nodes
        d_min = cfg.load_decay - cfg.load_decay_jitter
        # L_{t+1} <= (L_t + x_max)(1 - d_min) from L_0 = 0 never exceeds x_max (1 - d_min) / d_min.
        load_high = cfg.task_load_max * (1.0 - d_min) / d_min / self.capacity
        debt_max = cfg.horizon * cfg.max_key_demand_bits  # owed key <= total demand so far
        demand_high = cfg.max_key_demand_bits / cfg.key_buffer_bits
        low = np.concatenate(
            [np.zeros(n), np.full(n, -debt_max / cfg.key_buffer_bits), np.zeros(n), [0.0, 0.0]]
        )
        high = np.concatenate([load_high, np.ones(n), np.full(n, 0.5), [1.0, demand_high]])
        return low.astype(np.float32), high.astype(np.float32)

    def _observe(self, t_now: int | None = None) -> NDArray[np.float32]:
        """Observation of every copy; ``t_now`` is the shared step counter, if all are equal."""
        s = self._require_state()
        cfg = self.config
        last = cfg.horizon - 1  # after the last step the task fields repeat
        if t_now is None:
            t = np.minimum(s.t, last)
            task_load, task_key = s.task_loads[self._b, t], s.task_key_bits[self._b, t]
        else:
            t_obs = min(t_now, last)
            task_load, task_key = s.task_loads[:, t_obs], s.task_key_bits[:, t_obs]
        # Built feature-major, (obs_dim, B), so that every operation runs along the batch
        # axis, and written straight into float32 (the same rounding as astype(float32)).
        cols = np.empty((self.obs_dim, self.batch_size), dtype=np.float32)
        n = self.n_nodes
        kw: dict[str, Any] = {"casting": "same_kind"}
        np.divide(s.loads.T, self._capacity_col, out=cols[:n], **kw)
        np.divide(s.key_balance_bits.T, cfg.key_buffer_bits, out=cols[n : 2 * n], **kw)
        cols[2 * n : 3 * n] = s.ber.T
        np.divide(task_load, cfg.task_load_max, out=cols[3 * n], **kw)
        np.divide(task_key, cfg.key_buffer_bits, out=cols[3 * n + 1], **kw)
        # Guard against float rounding at the analytic bounds only; values never reach them.
        np.maximum(cols, self.obs_low[:, None], out=cols)
        np.minimum(cols, self.obs_high[:, None], out=cols)
        return np.ascontiguousarray(cols.T)

    def _shared_t(self, t: NDArray[np.int64]) -> int | None:
        """The common step counter of all copies, or None if the copies differ."""
        t0 = int(t[0])
        return t0 if self.batch_size == 1 or bool(np.all(t == t0)) else None

    def _link_channel(
        self, gain: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """QBER and secure key rate (in bit/s) of links with power gains ``gain`` (..., N)."""
        # Contiguous rows of N: numpy's SIMD kernels then treat every element alike, so a
        # slot's numbers do not depend on which other slots are computed with it.
        rows = np.ascontiguousarray(gain).reshape(-1, self.n_nodes)
        if rows.shape[0] > self._snr_rows.shape[0]:
            self._snr_rows = np.tile(self.mean_snr_db, (rows.shape[0], 1))
        # The per-node mean SNR, pre-tiled: a plain elementwise add, no short broadcast loop.
        qber = np.asarray(bpsk_awgn_ber(self._snr_rows[: rows.shape[0]] + linear_to_db(rows)))
        rate = secure_key_rate_bps(self.config, qber)
        return qber.reshape(gain.shape), rate.reshape(gain.shape)

    def _clear_channel(self) -> None:
        """Forget the cached QBER and key rates (new fading gains)."""
        self._chunk_done[:] = False
        if self._qber is None:
            shape = (self.config.horizon + 1, self.batch_size, self.n_nodes)
            self._qber, self._rate = np.empty(shape), np.empty(shape)

    def _fill_channel(self, first_slot: int, last_slot: int) -> None:
        """Compute QBER and key rate of every chunk that holds a slot in [first, last]."""
        s = self._require_state()
        assert self._qber is not None and self._rate is not None
        k, block = self._chunk, self.config.coherence_steps
        for c in range(first_slot // k, last_slot // k + 1):  # chunks of slots, not copies
            if self._chunk_done[c]:
                continue
            lo, hi = c * k, min((c + 1) * k, self.config.horizon + 1)
            if block == 1:
                gain = s.fading_gain[:, lo:hi]  # (B, hi - lo, N)
            else:
                gain = s.fading_gain[:, np.arange(lo, hi) // block]
            qber, rate = self._link_channel(gain)
            self._qber[lo:hi] = qber.transpose(1, 0, 2)
            self._rate[lo:hi] = rate.transpose(1, 0, 2)
            self._chunk_done[c] = True

    def _slot_channel(
        self, slots: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """QBER and key rate of each copy's link in ``slots`` (shape (B, ...)): (B, ..., N)."""
        self._fill_channel(int(slots.min()), int(slots.max()))
        assert self._qber is not None and self._rate is not None
        b = self._b.reshape((-1,) + (1,) * (slots.ndim - 1))
        return self._qber[slots, b], self._rate[slots, b]

    # ------------------------------------------------------------------ reset and step

    def reset(self, rng: np.random.Generator) -> NDArray[np.float32]:
        """Start a new episode in every copy.

        Draws the episode's exogenous randomness (tasks, fading gains, load decay); the QBER
        and key rate of a slot are computed from its gains when the slot is played.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of the episode's randomness; five child seeds are drawn from it.

        Returns
        -------
        obs : ndarray of shape (B, obs_dim), float32
            First observation of every copy.
        """
        if not isinstance(rng, np.random.Generator):
            raise InvalidParameterError(
                f"The 'rng' parameter of EdgeCore.reset must be an instance of "
                f"numpy.random.Generator. Got {rng!r} instead."
            )
        cfg = self.config
        bsz, n, horizon = self.batch_size, self.n_nodes, cfg.horizon
        seeds = rng.integers(0, 2**63, size=_N_STREAMS)
        g_task, g_flag, g_spike, g_fade, g_decay = (np.random.default_rng(s) for s in seeds)

        normal = g_task.normal(cfg.task_load_mean, cfg.task_load_std, size=(bsz, horizon))
        is_spike = g_flag.random((bsz, horizon)) < cfg.spike_prob
        spike = g_spike.uniform(cfg.spike_low, cfg.spike_high, size=(bsz, horizon))
        task_loads = np.where(is_spike, spike, normal)
        np.clip(task_loads, 0.0, cfg.task_load_max, out=task_loads)
        task_key = cfg.key_bits_per_task + cfg.key_bits_per_load * task_loads

        n_blocks = -(-(horizon + 1) // cfg.coherence_steps)
        gain = sample_fading_gain((bsz, n_blocks, n), cfg.fading, g_fade, k_factor=cfg.k_factor)

        jitter = cfg.load_decay_jitter
        decay = g_decay.uniform(-jitter, jitter, size=(bsz, horizon, n))
        decay += cfg.load_decay

        self._state = EdgeState(
            loads=np.zeros((bsz, n)),
            key_balance_bits=np.full((bsz, n), cfg.initial_key_fill * cfg.key_buffer_bits),
            ber=np.zeros((bsz, n)),
            t=np.zeros(bsz, dtype=np.int64),
            task_loads=task_loads,
            task_key_bits=task_key,
            fading_gain=gain,
            decay=decay,
        )
        self._clear_channel()
        self._fill_channel(0, 0)
        assert self._qber is not None and self._rate is not None
        s = self._state  # the warm-up slot 0 fills the key buffers and sets the first QBER
        s.ber = self._qber[0].copy()
        s.key_balance_bits = np.minimum(
            s.key_balance_bits + self._rate[0] * cfg.slot_s, cfg.key_buffer_bits
        )
        return self._observe(0)

    def transition(
        self,
        loads: NDArray[np.float64],
        key_balance_bits: NDArray[np.float64],
        task_load: NDArray[np.float64],
        task_key_bits: NDArray[np.float64],
        qber: NDArray[np.float64],
        key_rate_bps: NDArray[np.float64],
        decay: NDArray[np.float64],
        actions: NDArray[np.integer[Any]],
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], TaskCost]:
        """One step of the dynamics on given arrays, without touching the core's state.

        The core's :meth:`step` calls it with its own arrays; a planner (the oracle) calls it
        on copies, with any leading batch size M.

        Parameters
        ----------
        loads, key_balance_bits : ndarray of shape (M, N)
            Node loads (in load units) and key balances (in bits) before the step.
        task_load, task_key_bits : ndarray of shape (M,)
            The task being dispatched (in load units, in bits).
        qber, key_rate_bps, decay : ndarray of shape (M, N)
            The slot's QBER, secure key rate (in bit/s) and load-decay fraction.
        actions : ndarray of shape (M,), int
            Chosen node of every copy, in ``[0, N)``.

        Returns
        -------
        loads, key_balance_bits : ndarray of shape (M, N)
            State after the step (new arrays).
        cost : TaskCost
            Cost of the dispatched task, fields of shape (M,).
        """
        new_loads, balance, cost, _ = self._transition(
            loads, key_balance_bits, task_load, task_key_bits, qber, key_rate_bps, decay, actions
        )
        return new_loads, balance, cost

    def _transition(
        self,
        loads: NDArray[np.float64],
        key_balance_bits: NDArray[np.float64],
        task_load: NDArray[np.float64],
        task_key_bits: NDArray[np.float64],
        qber: NDArray[np.float64],
        key_rate_bps: NDArray[np.float64],
        decay: NDArray[np.float64],
        actions: NDArray[np.integer[Any]],
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], TaskCost, NDArray[np.float64]]:
        """:meth:`transition`, also returning the key generated in the slot (in bits)."""
        cfg = self.config
        m, n = loads.shape
        # Flat index of (row, chosen node) into C-ordered (M, N) arrays: one gather per array.
        rows = self._rows if m == self.batch_size else np.arange(m) * n
        chosen = rows + actions

        def pick(x: NDArray[np.float64]) -> NDArray[np.float64]:
            return np.ravel(x).take(chosen) if x.flags.c_contiguous else x[np.arange(m), actions]

        cost = task_cost(
            cfg,
            pick(loads),
            self.capacity.take(actions),
            task_load,
            pick(key_balance_bits),
            task_key_bits,
            pick(qber),
            pick(key_rate_bps),
        )
        generated = key_rate_bps * cfg.slot_s
        balance = np.empty((m, n))
        np.add(key_balance_bits, generated, out=balance)
        flat = balance.reshape(-1)  # a view: balance is C-ordered
        flat[chosen] -= task_key_bits
        np.minimum(balance, cfg.key_buffer_bits, out=balance)
        new_loads = np.array(loads, dtype=np.float64, order="C")
        flat = new_loads.reshape(-1)
        flat[chosen] += task_load
        new_loads *= 1.0 - decay
        return new_loads, balance, cost, generated

    def step(
        self, actions: ArrayLike
    ) -> tuple[
        NDArray[np.float32], NDArray[np.float64], NDArray[np.bool_], dict[str, NDArray[Any]]
    ]:
        """Dispatch the waiting task of every copy and advance one step.

        Parameters
        ----------
        actions : array_like of shape (B,), int
            Node chosen for each copy's task, in ``[0, N)``.

        Returns
        -------
        obs : ndarray of shape (B, obs_dim), float32
            Observation after the step (shows the next task).
        reward : ndarray of shape (B,)
            ``TaskCost.reward`` of the dispatched tasks.
        truncated : ndarray of shape (B,), bool
            True where the horizon has been reached.
        info : dict of ndarray
            ``latency_ms``, ``key_wait_ms``, ``retx_ms``, ``load_ratio``, ``overload``,
            ``overload_penalty``, ``task_load``, ``task_key_bits`` (shape (B,)) and
            ``qber``, ``secure_key_rate_bps``, ``key_generated_bits`` (bits produced by each
            link in the slot) (shape (B, N)).

        Raises
        ------
        InvalidParameterError
            If an action is not an integer node index or the shape is not (B,).
        RuntimeError
            If a copy has reached the horizon (call :meth:`reset`) or reset was never called.
        """
        s = self._require_state()
        a = self._check_actions(actions)
        cfg = self.config
        t = s.t
        t_now = self._shared_t(t)
        if (t_now is not None and t_now >= cfg.horizon) or (
            t_now is None and np.any(t >= cfg.horizon)
        ):
            raise RuntimeError("The episode has reached its horizon; call reset() first.")
        if t_now is not None:  # every copy at the same step: plain slices, no gathers
            task = s.task_loads[:, t_now].copy()
            demand = s.task_key_bits[:, t_now].copy()
            decay = s.decay[:, t_now]
            self._fill_channel(t_now + 1, t_now + 1)
            assert self._qber is not None and self._rate is not None
            qber, rate = self._qber[t_now + 1].copy(), self._rate[t_now + 1].copy()
        else:
            b = self._b
            task = s.task_loads[b, t]
            demand = s.task_key_bits[b, t]
            decay = s.decay[b, t]
            qber, rate = self._slot_channel(t + 1)
        s.loads, s.key_balance_bits, cost, generated = self._transition(
            s.loads, s.key_balance_bits, task, demand, qber, rate, decay, a
        )
        s.ber = qber
        s.t = t + 1
        truncated = s.t >= cfg.horizon
        info = {
            "latency_ms": cost.latency_ms,
            "key_wait_ms": cost.key_wait_ms,
            "retx_ms": cost.retx_ms,
            "load_ratio": cost.load_ratio,
            "overload": cost.overload,
            "overload_penalty": cfg.overload_penalty * cost.overload,
            "task_load": task,
            "task_key_bits": demand,
            "qber": qber,
            "secure_key_rate_bps": rate,
            "key_generated_bits": generated,
        }
        return self._observe(None if t_now is None else t_now + 1), cost.reward, truncated, info

    def _check_actions(self, actions: ArrayLike) -> NDArray[np.int64]:
        a = np.asarray(actions)
        if a.shape != (self.batch_size,) or not np.issubdtype(a.dtype, np.integer):
            raise InvalidParameterError(
                f"The 'actions' parameter of EdgeCore.step must be an int array of shape "
                f"({self.batch_size},). Got {a.dtype} array of shape {a.shape} instead."
            )
        if np.any((a < 0) | (a >= self.n_nodes)):
            bad = a[(a < 0) | (a >= self.n_nodes)][0]
            raise InvalidParameterError(
                f"The 'actions' parameter of EdgeCore.step must be an int in the range "
                f"[0, {self.n_nodes - 1}]. Got {bad!r} instead."
            )
        return a.astype(np.int64, copy=False)

    # ------------------------------------------------------------------ access for baselines

    def _require_state(self) -> EdgeState:
        if self._state is None:
            raise RuntimeError("EdgeCore.reset(rng) must be called before using the core.")
        return self._state

    @property
    def state(self) -> EdgeState:
        """The live state (not a copy; treat as read-only, or use :meth:`get_state`)."""
        return self._require_state()

    def get_state(self) -> EdgeState:
        """A deep copy of the full state, exogenous arrays included."""
        return self._require_state().copy()

    def set_state(self, state: EdgeState) -> None:
        """Replace the state with a deep copy of ``state`` (same B and N)."""
        n_blocks = -(-(self.config.horizon + 1) // self.config.coherence_steps)
        if (
            state.loads.shape != (self.batch_size, self.n_nodes)
            or state.task_loads.shape[1:] != (self.config.horizon,)
            or state.fading_gain.shape[1:] != (n_blocks, self.n_nodes)
        ):
            raise InvalidParameterError(
                f"The 'state' parameter of EdgeCore.set_state must hold arrays for "
                f"B={self.batch_size}, N={self.n_nodes}, T={self.config.horizon}. "
                f"Got loads of shape {state.loads.shape} instead."
            )
        self._state = state.copy()
        self._clear_channel()

    def clone(self) -> EdgeCore:
        """An independent core with the same config and a deep copy of the state."""
        other = EdgeCore(self.config, self.batch_size)
        if self._state is not None:
            other._state = self._state.copy()
            other._clear_channel()
            if self._qber is not None and self._rate is not None:  # keep what is computed
                other._qber, other._rate = self._qber.copy(), self._rate.copy()
                other._chunk_done = self._chunk_done.copy()
        return other

    @property
    def t(self) -> NDArray[np.int64]:
        """Steps taken, ndarray of shape (B,)."""
        return self._require_state().t

    @property
    def loads(self) -> NDArray[np.float64]:
        """Node loads (in load units), ndarray of shape (B, N)."""
        return self._require_state().loads

    @property
    def key_buffer_bits(self) -> NDArray[np.float64]:
        """Stored key (in bits), ndarray of shape (B, N), within [0, key_buffer_bits]."""
        return np.maximum(self._require_state().key_balance_bits, 0.0)

    @property
    def key_debt_bits(self) -> NDArray[np.float64]:
        """Key still owed to waiting tasks (in bits), ndarray of shape (B, N), >= 0."""
        return np.maximum(-self._require_state().key_balance_bits, 0.0)

    @property
    def ber(self) -> NDArray[np.float64]:
        """QBER measured in the last completed slot, ndarray of shape (B, N)."""
        return self._require_state().ber

    @property
    def task_load(self) -> NDArray[np.float64]:
        """Load of the waiting task (in load units), ndarray of shape (B,)."""
        s = self._require_state()
        return s.task_loads[self._b, np.minimum(s.t, self.config.horizon - 1)]

    @property
    def task_key_bits(self) -> NDArray[np.float64]:
        """Key demand of the waiting task (in bits), ndarray of shape (B,)."""
        s = self._require_state()
        return s.task_key_bits[self._b, np.minimum(s.t, self.config.horizon - 1)]

    def peek(self, k: int) -> EdgeLookahead:
        """The exogenous data of steps ``t .. t + k - 1`` (oracle only).

        This is information the agent does not have: the future tasks and the QBER and key
        rate of the coming slots (including the current one, which the agent never sees
        before acting). QBER and key rate not yet known are computed now from the pre-drawn
        fading gains, with the numbers the slots will have when played.

        Parameters
        ----------
        k : int
            Look-ahead depth, >= 1.

        Returns
        -------
        EdgeLookahead
            Arrays with a leading (B, k); rows past the horizon are zero and not valid.
        """
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise InvalidParameterError(
                f"The 'k' parameter of EdgeCore.peek must be an int in the range [1, inf). "
                f"Got {k!r} instead."
            )
        s = self._require_state()
        horizon = self.config.horizon
        steps = s.t[:, None] + np.arange(k)  # (B, k)
        valid = steps < horizon
        idx = np.minimum(steps, horizon - 1)
        b = self._b[:, None]
        mask = valid[..., None]
        qber, rate = self._slot_channel(idx + 1)  # computed now if not yet known
        return EdgeLookahead(
            task_load=np.where(valid, s.task_loads[b, idx], 0.0),
            task_key_bits=np.where(valid, s.task_key_bits[b, idx], 0.0),
            qber=np.where(mask, qber, 0.0),
            key_rate_bps=np.where(mask, rate, 0.0),
            decay=np.where(mask, s.decay[b, idx], 0.0),
            valid=valid,
        )

    def episode_channel(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """QBER and secure key rate of every link in every slot of the current episode.

        Computed on demand from the pre-drawn fading gains (for analysis and tests; the core
        itself computes only the slots it plays or peeks at, with the same numbers). This
        includes future slots, which the agent never sees.

        Returns
        -------
        qber : ndarray of shape (B, T + 1, N)
            Link QBER per slot; slot 0 is the warm-up slot before the first task, slot
            ``t + 1`` is the slot of step ``t``.
        key_rate_bps : ndarray of shape (B, T + 1, N)
            Secure key rate per slot (in bit/s), from ``qber`` and the key model.
        """
        self._require_state()
        self._fill_channel(0, self.config.horizon)
        assert self._qber is not None and self._rate is not None
        return self._qber.transpose(1, 0, 2).copy(), self._rate.transpose(1, 0, 2).copy()

    def channel_quadrature(
        self, n_points: int = 32
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Quadrature of each link's fading distribution: QBER and key rate at weighted points.

        For planners that know only the link statistics (the agent's information), so that
        ``E[f(gain)] ~ sum_i w_i f(gain_i)`` for the power-gain distribution that
        :func:`qnetrl.physics.channel.sample_fading_gain` draws from. The points are quantiles
        ``u_i = v_i**3`` of a midpoint grid ``v_i = (i + 1/2) / n_points`` with weights
        ``3 v_i**2 / n_points`` (normalised): the cubic map crowds the points into the deep
        fades that dominate the mean BER (at 32 points the mean Rayleigh and Rician (K = 3)
        BPSK BER of 9-17 dB links is within 0.03 % of the closed form).

        Parameters
        ----------
        n_points : int
            Number of quadrature points Q (default 32).

        Returns
        -------
        qber, key_rate_bps : ndarray of shape (N, Q)
            QBER and secure key rate (in bit/s) at each point.
        weight : ndarray of shape (Q,)
            Weights, summing to 1.
        """
        if isinstance(n_points, bool) or not isinstance(n_points, int | np.integer) or n_points < 1:
            raise InvalidParameterError(
                f"The 'n_points' parameter of EdgeCore.channel_quadrature must be an int in "
                f"the range [1, inf). Got {n_points!r} instead."
            )
        v = (np.arange(n_points) + 0.5) / n_points
        u = v**3
        weight = v**2 / np.sum(v**2)
        cfg = self.config
        if cfg.fading == "none":
            gain = np.ones(n_points)
        elif cfg.fading == "rayleigh" or cfg.k_factor == 0.0:
            gain = stats.expon.ppf(u)
        else:  # (2 (K + 1)) |h|^2 is noncentral chi-square, 2 degrees of freedom, nc 2K
            k = cfg.k_factor
            gain = stats.ncx2.ppf(u, df=2, nc=2.0 * k) / (2.0 * (k + 1.0))
        snr_db = self.mean_snr_db[:, None] + linear_to_db(gain)[None, :]
        qber = np.asarray(bpsk_awgn_ber(snr_db))
        return qber, secure_key_rate_bps(cfg, qber), weight
