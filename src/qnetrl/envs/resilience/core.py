"""Batched core of the resilience env: dynamic resource allocation on an ABFT-secured network.

:class:`ResilienceCore` advances B copies of a QKD network (one
:class:`~qnetrl.network.simulator.NetworkSimulator` with batch size B) one decision epoch of
``epoch_slots`` slots at a time. Each epoch the agent picks, per copy, a source intensity
level and a protocol (decoy BB84, or MDI-QKD where a link allows it) for every link and a
routing mode; the core turns the choice into
:class:`~qnetrl.network.simulator.SlotControls`, simulates the epoch, and (with ``abft``) lets
the key-management nodes replicate the epoch's relay orders, share verifications and link
reports and fold them into voting weights and routing trust
(:class:`~qnetrl.envs.resilience.trust.TrustLayer`). The reward is the delivered secure key,
less a penalty per missed request and per link whose QBER exceeds the security threshold.
:meth:`ResilienceCore.oracle_settings` gives the per-slot intensity and protocol that maximise
each link's key under the *true* conditions of the coming slot, for the greedy reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, field_validator, model_validator

from qnetrl._validation import InvalidParameterError
from qnetrl.config import ConfigBase
from qnetrl.envs.resilience.trust import TrustConfig, TrustLayer, collect_epoch, max_tolerated
from qnetrl.network.demand import DemandConfig
from qnetrl.network.faults import FaultScenarioConfig, fault_count
from qnetrl.network.fluctuations import FluctuationConfig
from qnetrl.network.link_model import PROTOCOL_DECOY, PROTOCOL_MDI, link_key_bits
from qnetrl.network.metrics import Outcome
from qnetrl.network.simulator import Deliveries, NetworkSimConfig, NetworkSimulator, SlotControls

__all__ = [
    "PROTOCOL_CHOICES",
    "ROUTE_MODES",
    "EpochStats",
    "ResilienceCore",
    "ResilienceEnvConfig",
    "decode_action",
    "encode_action",
]

#: Protocol choices of the action: decoy BB84 everywhere, or MDI-QKD where a link allows it.
PROTOCOL_CHOICES: Final[tuple[str, ...]] = ("decoy", "mdi")
#: Routing modes of the action.
ROUTE_MODES: Final[tuple[str, ...]] = ("shortest", "pool", "trust")
#: Path penalty that makes a candidate other than the shortest a last resort.
_DETOUR: Final[float] = 1e6


def _default_network() -> NetworkSimConfig:
    """A 4 x 4 grid of 40 km links under key pressure; MDI-QKD possible on every link."""
    return NetworkSimConfig(
        topology="grid",
        topology_params={"rows": 4, "cols": 4, "spacing_km": 40.0},
        end_nodes=[1, 7, 8, 14],
        slots=1,
        demand=DemandConfig(rate_per_slot=0.1, deadline_slots=20),
        key_bits=512,
        pool_capacity_bits=20_000.0,
        initial_pool_fraction=0.25,
        routing="multipath",
        n_paths=2,
        threshold=2,
        mdi_links="all",
        faults=FaultScenarioConfig(byzantine_fraction=0.2),
    )


def _default_fluctuations() -> FluctuationConfig:
    """Strong drift for the 'with fluctuations' scenarios (1 dB loss wander, 6 dB stress)."""
    return FluctuationConfig(
        enabled=True,
        loss_std_db=1.0,
        loss_correlation_slots=50.0,
        stress_rate_per_slot=1e-3,
        stress_loss_db=6.0,
        stress_duration_slots=30.0,
        cut_rate_per_slot=5e-5,
        cut_duration_slots=100.0,
        source_rate_rel_std=0.1,
        source_rate_correlation_slots=100.0,
        efficiency_rel_std=0.05,
        efficiency_correlation_slots=200.0,
    )


class ResilienceEnvConfig(ConfigBase):
    """Parameters of the resilience env (network, epochs, ABFT, scenarios, reward).

    ``network.slots`` and ``network.batch_size`` are ignored: the core sets them to
    ``horizon * epoch_slots`` and B. ``network.faults.byzantine_fraction`` and
    ``network.fluctuations`` are replaced per episode by the drawn scenario.
    """

    network: NetworkSimConfig = Field(
        default_factory=_default_network,
        description="The QKD network (topology, links, demand, routing, fault behaviours).",
    )
    epoch_slots: int = Field(
        10, ge=1, le=10_000, description="Slots per decision and trust epoch (K)."
    )
    horizon: int = Field(20, ge=1, le=100_000, description="Epochs per episode (T).")
    abft: bool = Field(
        True,
        description="Replicate each epoch with weighted PBFT and route by weights and trust.",
    )
    trust: TrustConfig = Field(default_factory=TrustConfig, description="ABFT parameters.")
    byzantine_fractions: tuple[float, ...] = Field(
        (0.2,),
        min_length=1,
        description="Byzantine fractions (each in [0, 0.3]); each episode draws one uniformly.",
    )
    fluctuating: tuple[bool, ...] = Field(
        (False,),
        min_length=1,
        description="Whether links fluctuate; each episode draws one value uniformly.",
    )
    fluctuations: FluctuationConfig = Field(
        default_factory=_default_fluctuations,
        description="Fluctuation processes of the fluctuating scenarios.",
    )
    qber_penalty: float = Field(
        1.0,
        ge=0.0,
        le=1e6,
        description="Reward lost per unit fraction of links whose QBER exceeds the threshold.",
    )
    miss_penalty: float = Field(
        1.0,
        ge=0.0,
        le=1e6,
        description=(
            "Reward lost per missed request (expired, late, failed or wrong), in units of the "
            "request's key size."
        ),
    )

    @field_validator("byzantine_fractions")
    @classmethod
    def _fractions(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        for x in value:
            if not 0.0 <= x <= 0.3:
                raise ValueError(f"every fraction must be in the range [0.0, 0.3]; got {x}")
        return value

    @model_validator(mode="after")
    def _episode_fits(self) -> ResilienceEnvConfig:
        if self.horizon * self.epoch_slots > 10**8:
            raise ValueError("horizon * epoch_slots must be in the range [1, 1e8] slots")
        return self

    @property
    def slots(self) -> int:
        """Slots per episode, ``horizon * epoch_slots``."""
        return self.horizon * self.epoch_slots


def encode_action(intensity: int, protocol: int, route: int, n_levels: int) -> int:
    """Flat action index of (intensity level, protocol choice, routing mode).

    Examples
    --------
    >>> encode_action(2, 0, 1, 4), [int(x) for x in decode_action(encode_action(3, 1, 2, 4), 4)]
    (13, [3, 1, 2])
    """
    del n_levels  # the intensity is the slowest-varying component
    return (intensity * len(PROTOCOL_CHOICES) + protocol) * len(ROUTE_MODES) + route


def decode_action(action: Any, n_levels: int) -> tuple[Any, Any, Any]:
    """(intensity level, protocol choice, routing mode) of flat action indices."""
    a = np.asarray(action)
    route = a % len(ROUTE_MODES)
    rest = a // len(ROUTE_MODES)
    return rest // len(PROTOCOL_CHOICES), rest % len(PROTOCOL_CHOICES), route


@dataclass
class EpochStats:
    """Per-copy counts of one epoch; see :meth:`ResilienceCore.step`.

    Arrays have shape (B,) except the ``qber_link_*`` sums over the epoch's slots of the
    QBER of each live link, its square and the live slots, of shape (B, L).
    """

    secure_bits: NDArray[np.float64]
    served: NDArray[np.int64]
    correct: NDArray[np.int64]
    missed: NDArray[np.int64]
    wrong: NDArray[np.int64]
    failed: NDArray[np.int64]
    exposed: NDArray[np.int64]
    expired: NDArray[np.int64]
    qber_sum: NDArray[np.float64]
    qber_sumsq: NDArray[np.float64]
    qber_count: NDArray[np.float64]
    qber_over: NDArray[np.float64]
    qber_link_sum: NDArray[np.float64]
    qber_link_sumsq: NDArray[np.float64]
    qber_link_count: NDArray[np.float64]


class ResilienceCore:
    """B copies of the resilience env, stepped one epoch at a time with numpy arrays.

    Parameters
    ----------
    config : ResilienceEnvConfig
        Env parameters.
    batch_size : int
        Number of copies B, in ``[1, 4096]``.

    Attributes
    ----------
    sim : NetworkSimulator
        The network of the current episode (rebuilt at every reset).
    trust : TrustLayer or None
        Weights and trust (None without ``abft``).
    t : int
        Epochs done in the episode.
    byzantine_fraction : float
        The episode's Byzantine fraction.
    fluctuating : bool
        Whether the episode's links fluctuate.
    n_actions : int
        ``levels * 2 * 3`` (intensity level x protocol x routing mode).
    obs_dim : int
        ``6 L + 2 N + 2``.
    obs_low, obs_high : ndarray of shape (obs_dim,), float32
        Bounds of the observation (0 and 1).
    """

    def __init__(self, config: ResilienceEnvConfig, batch_size: int) -> None:
        if not isinstance(config, ResilienceEnvConfig):
            raise InvalidParameterError(
                "The 'config' parameter of ResilienceCore must be a ResilienceEnvConfig. "
                f"Got {type(config).__name__} instead."
            )
        ok = isinstance(batch_size, int | np.integer) and not isinstance(batch_size, bool)
        if not ok or not 1 <= batch_size <= 4096:
            raise InvalidParameterError(
                "The 'batch_size' parameter of ResilienceCore must be an int in the range "
                f"[1, 4096]. Got {batch_size!r} instead."
            )
        self.config = config
        self.batch_size = int(batch_size)
        self._base = config.network.model_copy(
            update={"slots": config.slots, "batch_size": self.batch_size}
        )
        self.sim = NetworkSimulator(self._base, 0)
        sim = self.sim
        self.table = sim.table
        self.n_nodes, self.n_links = sim.table.n_nodes, sim.table.n_links
        self.n_pairs, self.k = sim.paths.n_pairs, sim.paths.k
        self.n_levels = len(config.network.link.intensity_levels)
        self.default_level = config.network.link.default_intensity_index
        self.n_actions = self.n_levels * len(PROTOCOL_CHOICES) * len(ROUTE_MODES)
        self.obs_dim = 6 * self.n_links + 2 * self.n_nodes + 2
        self.obs_low = np.zeros(self.obs_dim, dtype=np.float32)
        self.obs_high = np.ones(self.obs_dim, dtype=np.float32)
        self.mdi_allowed = sim.mdi_allowed
        # Per-link reference key (bits per slot): the best setting on the nominal channel.
        best = np.zeros(self.n_links)
        for level in range(self.n_levels):
            for proto in (PROTOCOL_DECOY, PROTOCOL_MDI):
                p = np.where(self.mdi_allowed, proto, PROTOCOL_DECOY)
                bits = link_key_bits(
                    self.table, config.network.link, intensity_index=level, protocol=p[None, :]
                ).key_bits[0]
                best = np.maximum(best, bits)
        self.key_ref = np.maximum(best, 1e-9)
        self.loss_scale_db = float(self.table.nominal_loss_db.max()) + 20.0
        self.capacity_bits = float(config.network.pool_capacity_bits)
        d = config.network.demand
        key_bits = config.network.key_bits or d.size_bits.mean_bits
        self.key_bits = float(key_bits)
        self.demand_ref = max(
            self.n_pairs * d.rate_per_slot * config.epoch_slots * self.key_bits, 1.0
        )
        self.qber_threshold = float(config.network.max_reported_qber)
        self.trust: TrustLayer | None = None
        self.t = 0
        self.byzantine_fraction = float(config.byzantine_fractions[0])
        self.fluctuating = bool(config.fluctuating[0])
        self._next_delivery = np.zeros(self.batch_size, dtype=np.int64)
        self._key_epoch = np.zeros((self.batch_size, self.n_links))
        self.last_action = np.zeros(self.batch_size, dtype=np.int64)

    # ------------------------------------------------------------------------------------
    # episode
    # ------------------------------------------------------------------------------------

    def consensus_f(self, byzantine_fraction: float) -> int:
        """The ``f`` of the weighted PBFT for a scenario (see :class:`TrustConfig`)."""
        f = self.config.trust.f
        top = max_tolerated(self.n_nodes)
        if f == "max":
            return top
        if f == "scenario":
            return min(top, fault_count(byzantine_fraction, self.n_nodes))
        if not 0 <= int(f) <= top:
            raise InvalidParameterError(
                f"The 'trust.f' field of ResilienceEnvConfig must be in the range [0, {top}] "
                f"for {self.n_nodes} nodes. Got {f} instead."
            )
        return int(f)

    def reset(
        self,
        rng: np.random.Generator,
        *,
        byzantine_fraction: float | None = None,
        fluctuating: bool | None = None,
    ) -> NDArray[np.float32]:
        """Start an episode in every copy; returns the first observations (B, obs_dim).

        Parameters
        ----------
        rng : numpy.random.Generator
            Draws the scenario (unless given) and the simulator's seed.
        byzantine_fraction : float or None
            Force the scenario's Byzantine fraction (in [0, 0.3]).
        fluctuating : bool or None
            Force whether links fluctuate.
        """
        cfg = self.config
        fracs, flucts = cfg.byzantine_fractions, cfg.fluctuating
        pick_b = int(rng.integers(len(fracs)))
        pick_f = int(rng.integers(len(flucts)))
        seed = int(rng.integers(0, 2**62))
        byz = float(fracs[pick_b]) if byzantine_fraction is None else float(byzantine_fraction)
        if not 0.0 <= byz <= 0.3:
            raise InvalidParameterError(
                "The 'byzantine_fraction' parameter of ResilienceCore.reset must be a float in "
                f"the range [0.0, 0.3]. Got {byzantine_fraction!r} instead."
            )
        fl = bool(flucts[pick_f]) if fluctuating is None else bool(fluctuating)
        net = self._base.model_copy(
            update={
                "faults": self._base.faults.model_copy(update={"byzantine_fraction": byz}),
                "fluctuations": cfg.fluctuations
                if fl
                else cfg.fluctuations.model_copy(update={"enabled": False}),
            }
        )
        self.sim = NetworkSimulator(net, seed)
        self.byzantine_fraction, self.fluctuating = byz, fl
        self.trust = None
        if cfg.abft:
            self.trust = TrustLayer(
                cfg.trust,
                self.n_nodes,
                np.asarray(self.table.u),
                np.asarray(self.table.v),
                self.batch_size,
                self.consensus_f(byz),
            )
        self.t = 0
        self._next_delivery = np.zeros(self.batch_size, dtype=np.int64)
        self.last_action = np.zeros(self.batch_size, dtype=np.int64)
        cond = self.sim.upcoming_conditions()
        key = link_key_bits(self.table, cfg.network.link, cond, batch_size=self.batch_size)
        self._key_epoch = key.key_bits
        return self._observe(
            cond.extra_loss_db,
            cond.efficiency_factor,
            cond.source_rate_factor,
            key.qber,
        )

    # ------------------------------------------------------------------------------------
    # actions
    # ------------------------------------------------------------------------------------

    def controls(self, actions: NDArray[np.int64]) -> SlotControls:
        """The :class:`SlotControls` of flat actions (B,) under the current trust state."""
        level, proto, route = decode_action(actions, self.n_levels)
        b, n_links = self.batch_size, self.n_links
        intensity = np.broadcast_to(level[:, None], (b, n_links)).astype(np.int64)
        protocol = np.where(
            (proto[:, None] == 1) & self.mdi_allowed[None, :], PROTOCOL_MDI, PROTOCOL_DECOY
        ).astype(np.int64)
        return self._routing_controls(intensity, protocol, route)

    def _routing_controls(
        self,
        intensity: NDArray[np.int64],
        protocol: NDArray[np.int64],
        route: NDArray[np.int64],
    ) -> SlotControls:
        shortest = route == 0
        path_penalty = None
        if shortest.any() and self.k > 1:
            detour = np.zeros((self.n_pairs, self.k))
            detour[:, 1:] = _DETOUR
            path_penalty = np.where(shortest[:, None, None], detour[None], 0.0)
        node_penalty = discounted = None
        if self.trust is not None:
            use = (route == 2)[:, None]
            node_penalty = np.where(use, self.trust.node_penalty(), 0.0)
            discounted = self.trust.discounted
            if not discounted.any():
                discounted = None
        return SlotControls(
            intensity_index=intensity,
            protocol=protocol,
            node_penalty=node_penalty,
            path_penalty=path_penalty,
            discounted=discounted,
        )

    def oracle_settings(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Per-link intensity level and protocol with the most key under the true channel.

        Evaluates every (level, protocol) on the conditions of the slot about to be
        simulated (:meth:`NetworkSimulator.upcoming_conditions`), which no agent sees;
        ties keep the first (lower intensity, decoy BB84).

        Returns
        -------
        intensity, protocol : ndarray of shape (B, L), dtype int64
        """
        cond = self.sim.upcoming_conditions()
        shape = (self.batch_size, self.n_links)
        best = np.full(shape, -1.0)
        level_out = np.zeros(shape, dtype=np.int64)
        proto_out = np.zeros(shape, dtype=np.int64)
        for level in range(self.n_levels):
            for proto in (PROTOCOL_DECOY, PROTOCOL_MDI):
                if proto == PROTOCOL_MDI and not self.mdi_allowed.any():
                    continue
                p = np.broadcast_to(np.where(self.mdi_allowed, proto, PROTOCOL_DECOY), shape)
                bits = link_key_bits(
                    self.table, self.config.network.link, cond, intensity_index=level, protocol=p
                ).key_bits
                better = bits > best
                best = np.where(better, bits, best)
                level_out = np.where(better, level, level_out)
                proto_out = np.where(better, p, proto_out)
        return level_out, proto_out

    # ------------------------------------------------------------------------------------
    # step
    # ------------------------------------------------------------------------------------

    def step(
        self, actions: Any, *, oracle: bool = False
    ) -> tuple[NDArray[np.float32], NDArray[np.float64], NDArray[np.bool_], dict[str, Any]]:
        """Run one epoch of ``epoch_slots`` slots under ``actions``.

        Parameters
        ----------
        actions : array_like of int, shape (B,)
            Flat actions in ``[0, n_actions)``.
        oracle : bool
            Replace the actions' intensity and protocol by :meth:`oracle_settings` in every
            slot (the greedy reference; the routing mode is kept).

        Returns
        -------
        obs : ndarray of shape (B, obs_dim), float32
        reward : ndarray of shape (B,)
        truncated : ndarray of shape (B,), bool
            True for every copy at the horizon.
        info : dict of str to ndarray of shape (B,)
            ``secure_bits``, ``served``, ``correct``, ``missed``, ``wrong``, ``failed``,
            ``exposed``, ``expired``, ``qber_mean`` and ``qber_over`` of the epoch, and
            ``operations`` (replicated by the ABFT layer; 0 without it).
        """
        a = np.asarray(actions)
        if a.shape != (self.batch_size,) or a.dtype.kind not in "iu":
            raise InvalidParameterError(
                f"The 'actions' parameter of ResilienceCore.step must be an integer array of "
                f"shape ({self.batch_size},). Got {a.dtype} array of shape {a.shape} instead."
            )
        if a.size and (a.min() < 0 or a.max() >= self.n_actions):
            raise InvalidParameterError(
                f"The 'actions' parameter of ResilienceCore.step must hold ints in the range "
                f"[0, {self.n_actions - 1}]. Got {int(a[(a < 0) | (a >= self.n_actions)][0])}."
            )
        if self.t >= self.config.horizon:
            raise InvalidParameterError(
                "ResilienceCore.step: the episode reached its horizon; call reset first."
            )
        a = a.astype(np.int64)
        self.last_action = a
        sim = self.sim
        before = sim.copy_counters()
        controls = self.controls(a)
        route = decode_action(a, self.n_levels)[2]
        b, k = self.batch_size, self.config.epoch_slots
        qsum, qsq, qcount, qover = (np.zeros(b) for _ in range(4))
        key_sum = np.zeros((b, self.n_links))
        ql_sum, ql_sq, ql_n = (np.zeros((b, self.n_links)) for _ in range(3))
        deliveries: list[Deliveries] = []
        for _ in range(k):  # a loop over the slots of the epoch only
            if oracle:
                level, proto = self.oracle_settings()
                ctl = self._routing_controls(level, proto, route)
            else:
                ctl = controls
            sim.step(ctl)
            slot = sim.link_slot
            assert slot is not None
            live = slot.eta > 0.0
            q = np.where(live, slot.qber, 0.0)
            qsum += q.sum(axis=1)
            qsq += (q * q).sum(axis=1)
            qcount += live.sum(axis=1)
            qover += (live & (slot.qber > self.qber_threshold)).sum(axis=1)
            ql_sum += q
            ql_sq += q * q
            ql_n += live
            key_sum += slot.key_bits
            if sim.last_deliveries is not None:
                deliveries.append(sim.last_deliveries)
        after = sim.copy_counters()
        stats = self._stats(before, after, qsum, qsq, qcount, qover)
        stats.qber_link_sum, stats.qber_link_sumsq, stats.qber_link_count = ql_sum, ql_sq, ql_n
        operations = np.zeros(b, dtype=np.int64)
        if self.trust is not None:
            evidence = collect_epoch(sim, deliveries, self.t, self._next_delivery)
            self.trust.update(evidence)
            operations = self.trust.operations
        self.t += 1
        n_live = np.maximum(qcount, 1.0)
        reward = (
            stats.secure_bits - self.config.miss_penalty * self.key_bits * stats.missed
        ) / self.demand_ref - self.config.qber_penalty * stats.qber_over / n_live
        self._key_epoch = key_sum / k
        cond = sim.last_conditions
        assert cond is not None
        reported = sim.reported_qber
        assert reported is not None
        obs = self._observe(
            cond.extra_loss_db, cond.efficiency_factor, cond.source_rate_factor, reported
        )
        truncated = np.full(b, self.t >= self.config.horizon)
        info = {
            "secure_bits": stats.secure_bits,
            "served": stats.served,
            "correct": stats.correct,
            "missed": stats.missed,
            "wrong": stats.wrong,
            "failed": stats.failed,
            "exposed": stats.exposed,
            "expired": stats.expired,
            "qber_mean": stats.qber_sum / n_live,
            "qber_over": stats.qber_over,
            "operations": operations,
        }
        self.last_stats = stats
        return obs, reward, truncated, info

    def _stats(
        self,
        before: dict[str, NDArray[Any]],
        after: dict[str, NDArray[Any]],
        qsum: NDArray[np.float64],
        qsq: NDArray[np.float64],
        qcount: NDArray[np.float64],
        qover: NDArray[np.float64],
    ) -> EpochStats:
        out = after["outcomes"] - before["outcomes"]
        correct = out[:, Outcome.OK] + out[:, Outcome.CORRECTED]
        expired = after["expired"] - before["expired"]
        wrong = out[:, Outcome.WRONG]
        failed = out[:, Outcome.FAILED]
        missed = expired + out[:, Outcome.LATE] + failed + wrong
        return EpochStats(
            secure_bits=after["secure_bits"] - before["secure_bits"],
            served=out.sum(axis=1),
            correct=correct,
            missed=missed,
            wrong=wrong,
            failed=failed,
            exposed=after["exposed"] - before["exposed"],
            expired=expired,
            qber_sum=qsum,
            qber_sumsq=qsq,
            qber_count=qcount,
            qber_over=qover,
            qber_link_sum=np.zeros_like(qsum),
            qber_link_sumsq=np.zeros_like(qsum),
            qber_link_count=np.zeros_like(qsum),
        )

    # ------------------------------------------------------------------------------------
    # observation
    # ------------------------------------------------------------------------------------

    def _observe(
        self,
        extra_loss_db: NDArray[np.float64],
        efficiency: NDArray[np.float64],
        source: NDArray[np.float64],
        qber: NDArray[np.float64],
    ) -> NDArray[np.float32]:
        """The (B, obs_dim) observation; see the env docstring for the table."""
        b = self.batch_size
        with np.errstate(invalid="ignore"):
            loss = (self.table.nominal_loss_db + extra_loss_db) / self.loss_scale_db
        loss = np.where(np.isfinite(loss), loss, 1.0)
        if self.trust is not None:
            weight = self.trust.weights / self.trust.w0
            suspicion = self.trust.suspicion
        else:
            weight = np.ones((b, self.n_nodes))
            suspicion = np.zeros((b, self.n_nodes))
        queue = self.sim.queue_valid.mean(axis=1)
        parts = [
            loss,
            efficiency / 2.0,
            source / 2.0,
            self._key_epoch / self.key_ref / 2.0,
            qber / 0.5,
            self.sim.pools / self.capacity_bits,
            weight,
            suspicion,
            queue[:, None],
            np.full((b, 1), self.t / self.config.horizon),
        ]
        obs = np.concatenate(parts, axis=1)
        return np.clip(obs, 0.0, 1.0).astype(np.float32)
