"""The entanglement-distribution (DPEM) study end to end: train, evaluate, log, compare with claims.

This module reproduces the distributed predictive entanglement management study on the
batched :class:`~qnetrl.envs.entanglement.core.EntanglementCore`: every node of a random
repeater mesh runs a GRU demand forecaster (:class:`~qnetrl.agents.forecaster.GRUForecaster`,
trained online on the node's own arrivals) and a PPO agent
(:func:`~qnetrl.agents.mappo.train`, one stacked network per node) whose policy weights are
federated-averaged with differential privacy (:mod:`qnetrl.agents.fedavg`). The full method
(DPEM) and three ablations (no forecast, no federation, federation without DP) are trained
per seed with the same budget and hyperparameters, then evaluated greedily on held-out
episodes together with the centralised allocator
(:class:`~qnetrl.agents.allocators.CentralizedGreedy`), the first-come-first-served heuristic
(:class:`~qnetrl.agents.allocators.FcfsShortestPath`) and a per-slot LP upper bound
(:func:`~qnetrl.agents.allocators.slot_upper_bound`); every method sees the very same
episodes. Per method and seed it measures delivery rate, contention frequency, delivered
fidelity, latency, convergence time (iterations and wall seconds), forecast error against
persistence and the privacy loss epsilon; it runs a one-way ANOVA with Tukey's HSD across
methods, puts each publication claim beside our measurement with a verdict computed from the
confidence interval, and writes ``summary.json``, ``table.md``/``table.csv`` (claims),
``methods.md``/``methods.csv``, ``anova.md``/``anova.csv``, one JSON file per (method, seed)
unit under ``units/`` (a killed run resumes from them), replication logs under ``logs/``
(topology JSON, predicted and actual demand and every decision as compressed numpy, enough
for :func:`replay_episode` to replay an evaluation episode exactly) and the figures of
:mod:`qnetrl.experiments.entanglement_plots`.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, ValidationInfo, field_validator
from rich.console import Console

from qnetrl.agents.fedavg import FedAvgConfig
from qnetrl.agents.forecaster import ForecasterConfig
from qnetrl.agents.mappo import MAPPOConfig
from qnetrl.config import ConfigBase
from qnetrl.envs.entanglement.core import EntanglementEnvConfig
from qnetrl.envs.entanglement.marl import EntanglementMarlEnv
from qnetrl.experiments import stats
from qnetrl.experiments.edge_study import claim_verdict
from qnetrl.experiments.rundir import json_safe, run_study_as_sweep_run, write_json
from qnetrl.experiments.study_runs import (
    StudyResult,
    UnitPool,
    prepare_study_run_dir,
    run_study_units,
)
from qnetrl.experiments.tables import claims_columns, print_table, write_table
from qnetrl.experiments.tensorboard import TensorBoardLogger, require_tensorboard, unit_logdir

__all__ = [
    "ANOVA_METRICS",
    "CLAIMS",
    "FORECAST_METHODS",
    "LEARNED",
    "METHODS",
    "METHOD_LABELS",
    "METRICS",
    "POLICIES",
    "EntanglementStudyConfig",
    "EntanglementStudyResult",
    "EvalRecord",
    "episode_metrics",
    "forecast_metrics",
    "prepare_run_dir",
    "qualitative_verdict",
    "replay_episode",
    "rollout",
    "run_entanglement_study",
    "run_entanglement_sweep",
    "validate_config",
    "write_episode_log",
]

#: Methods of the study, in report order.
METHODS: Final[tuple[str, ...]] = (
    "dpem",
    "dpem_no_forecast",
    "dpem_no_federation",
    "dpem_no_dp",
    "centralized",
    "fcfs",
    "upper_bound",
)
#: Methods trained by :func:`qnetrl.agents.mappo.train` (same budget and hyperparameters).
LEARNED: Final[tuple[str, ...]] = ("dpem", "dpem_no_forecast", "dpem_no_federation", "dpem_no_dp")
#: Learned methods whose agents see their node's demand forecast.
FORECAST_METHODS: Final[tuple[str, ...]] = ("dpem", "dpem_no_federation", "dpem_no_dp")
#: Methods that act (the upper bound is a reference computed along the centralised trajectory).
POLICIES: Final[tuple[str, ...]] = METHODS[:-1]
#: Labels used in tables and figures.
METHOD_LABELS: Final[dict[str, str]] = {
    "dpem": "DPEM (forecast + PPO + FedAvg-DP)",
    "dpem_no_forecast": "DPEM without forecast",
    "dpem_no_federation": "DPEM without federation",
    "dpem_no_dp": "DPEM, FedAvg without DP",
    "centralized": "centralised greedy",
    "fcfs": "FCFS shortest path",
    "upper_bound": "per-slot LP bound (reference)",
}

#: Per-seed metrics: name -> definition (with unit). Each is one number per (method, seed),
#: pooled over the seed's ``eval_episodes`` held-out episodes.
METRICS: Final[dict[str, str]] = {
    "delivery_rate": "requests delivered / requests arrived, pooled over the evaluation "
    "episodes (dimensionless); for upper_bound: the per-slot LP bound summed along the "
    "centralised allocator's trajectory / arrived",
    "contention_rate": "contended claims / claims (dimensionless)",
    "mean_fidelity": "mean Werner fidelity of the delivered pairs (dimensionless)",
    "latency_mean_s": "mean time from a request's arrival slot to its delivery slot, over "
    "delivered requests (s)",
    "expired_rate": "requests expired past their deadline / arrived (dimensionless)",
    "episode_reward": "sum over nodes and slots of the per-node reward (delivered - penalty "
    "x contended), mean over episodes (requests)",
    "convergence_iterations": "PPO iterations until the training delivery-rate curve's moving "
    "average stays on its final plateau (stats.episodes_to_convergence; learned methods only)",
    "convergence_wall_s": "training wall time at that iteration (s; learned methods only)",
    "train_wall_s": "wall time of the whole training run (s; learned methods only)",
    "forecast_mae": "mean absolute error of the GRU forecasts of each node's request counts "
    "1..h slots ahead over the evaluation episodes (requests per slot; forecast methods only)",
    "forecast_rel_mae": "forecast MAE / MAE of the persistence forecast (dimensionless; < 1 "
    "beats persistence)",
    "forecast_rel_rmse": "forecast RMSE / RMSE of the persistence forecast (dimensionless)",
    "epsilon": "privacy loss of the DP-FedAvg rounds at the configured delta, PLD accountant "
    "(dimensionless; DP methods only)",
}

#: Metrics of the one-way ANOVA / Tukey HSD across the acting methods and of the pairwise
#: tests of DPEM against every other method.
ANOVA_METRICS: Final[tuple[str, ...]] = (
    "delivery_rate",
    "contention_rate",
    "mean_fidelity",
    "latency_mean_s",
)

#: The publication's claims; ``band`` is how we read the claim as an interval, ``better``
#: which side of it is an improvement. The verdict is computed from the measured interval.
CLAIMS: Final[tuple[dict[str, Any], ...]] = (
    {
        "id": "delivery",
        "claim": "+25 % delivery rate vs a centralised allocator",
        "publication": 0.25,
        "band": (0.20, 0.30),
        "rule": "25 % read as 20-30 % (rounding)",
        "kind": "percent",
        "better": "higher",
        "metric": "delivery_rate",
        "reduction": False,
        "measured_as": "DPEM delivery-rate gain vs {baseline}: (D_dpem - D_b) / D_b, paired by "
        "seed",
        "short": "DPEM delivery gain vs {baseline}",
    },
    {
        "id": "contention",
        "claim": "-17 % contention vs a centralised allocator",
        "publication": 0.17,
        "band": (0.12, 0.22),
        "rule": "17 % read as 12-22 % (rounding)",
        "kind": "percent",
        "better": "higher",
        "metric": "contention_rate",
        "reduction": True,
        "measured_as": "DPEM contention-frequency cut vs {baseline}: (C_b - C_dpem) / C_b, "
        "paired by seed",
        "short": "DPEM contention cut vs {baseline}",
    },
    {
        "id": "convergence",
        "claim": "faster convergence",
        "publication": None,
        "band": (0.0, math.inf),
        "rule": "any speed-up; supported only if the whole interval is above 0",
        "kind": "percent",
        "better": "higher",
        "metric": "convergence_iterations",
        "reduction": True,
        "measured_as": "cut in PPO iterations to convergence of DPEM vs {baseline}: "
        "(I_b - I_dpem) / I_b, paired by seed",
        "short": "DPEM convergence speed-up vs {baseline}",
    },
)
#: Baselines each claim is measured against (the publication names the centralised one).
_CLAIM_BASELINES: Final[dict[str, tuple[str, ...]]] = {
    "delivery": ("centralized", "fcfs"),
    "contention": ("centralized", "fcfs"),
    "convergence": ("dpem_no_federation", "dpem_no_forecast"),
}

#: Per-unit results deleted when a run restarts: unit files and replication logs.
_FRESH_DIRS: Final[tuple[str, ...]] = ("units", "logs")
#: Fewest seeds in which both methods converged for a convergence verdict (besides half).
_MIN_CONVERGED: Final[int] = 3

# --------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------


def _default_env() -> EntanglementEnvConfig:
    """The publication's 100-node mesh with a diurnal demand the forecasters can learn.

    Pair generation U(0, 10) pairs/s and repeater capacity U(0, 5) swaps/s per node are the
    publication's; everything else is the env's documented default, except the demand: the
    mean rate is unchanged but modulated by a cycle of 20 slots (amplitude 0.8), so that
    "forecast demand 5-10 steps ahead" has something to forecast (a constant-rate Poisson
    stream is best forecast by its mean).
    """
    return EntanglementEnvConfig(n_nodes=100, demand="diurnal")


def _default_agent() -> MAPPOConfig:
    """PPO and DP-FedAvg settings shared by every learned method (the publication fixes none).

    Tuned on the 20- and 100-node meshes for a budget of about a minute per run on one core:
    (32, 32) tanh layers, Adam at 3e-3 annealed, 8 copies x 32 steps per iteration, 4 epochs of
    4 minibatches, entropy 0.001 and a short credit horizon (gamma 0.5: a claim's reward comes
    in the slot it is made). Federated averaging of the *policy* (actor) weights every 5
    updates, every node taking part (q = 1), each node's update clipped to L2 norm 1 and
    Gaussian noise of multiplier 1 on the sum (DP-FedAvg); delta 1e-5.
    """
    return MAPPOConfig(
        exp_name="dpem",
        total_timesteps=16_384,
        lr=3e-3,
        num_steps=32,
        update_epochs=4,
        num_minibatches=4,
        gamma=0.5,
        ent_coef=0.001,
        hidden_sizes=(32, 32),
        fedavg=FedAvgConfig(
            enabled=True,
            every_k_updates=5,
            sample_rate=1.0,
            dp_enabled=True,
            clip_norm=1.0,
            noise_multiplier=1.0,
            delta=1e-5,
            share_critic=False,
        ),
    )


def _default_forecaster() -> ForecasterConfig:
    """GRU per node: the last 16 slots in, 5 slots ahead out (the publication's 5-10)."""
    return ForecasterConfig(window=16, horizon=5, hidden_size=16, batch_size=32, train_span=256)


class EntanglementStudyConfig(ConfigBase):
    """Everything that defines a DPEM-study run (a run is this config; seeds are inside).

    Training seeds are ``seed0 .. seed0 + seeds - 1``; the evaluation seed of training seed
    ``s`` is ``s + eval_seed_offset``, so evaluation episodes are never training episodes, and
    every method is evaluated on the episodes of the same evaluation seed. The mesh
    (``env.topology_seed``) is the same for every seed. Every learned method uses ``agent``
    and the same budget; the method fixes only which parts are on (forecast features,
    federated averaging, DP noise), with the DP parameters of ``agent.fedavg``.
    """

    env: EntanglementEnvConfig = Field(
        default_factory=_default_env, description="Environment (mesh, physics, demand)."
    )
    agent: MAPPOConfig = Field(
        default_factory=_default_agent,
        description=(
            "PPO hyperparameters and DP-FedAvg settings of every learned method; "
            "agent.total_timesteps is the budget of one run (env steps over num_envs copies)."
        ),
    )
    forecaster: ForecasterConfig = Field(
        default_factory=_default_forecaster, description="Per-node GRU demand forecaster."
    )
    forecast_fit_every: int = Field(
        10,
        ge=1,
        le=100_000,
        description="Slots between two online forecaster fits (the forecasters keep learning "
        "online during the evaluation episodes too, as a deployed node would).",
    )
    feasibility_features: bool = Field(
        True,
        description="Append each node's route-feasibility flags (a function of its own "
        "observation) to its observation.",
    )
    num_envs: int = Field(
        8, ge=1, le=1024, description="Environment copies stepped together during training."
    )
    seeds: int = Field(10, ge=1, le=1000, description="Number of seeds (training runs) per method.")
    seed0: int = Field(0, ge=0, le=2**31 - 1, description="First training seed.")
    eval_episodes: int = Field(
        4, ge=1, le=4096, description="Held-out evaluation episodes (copies) per method and seed."
    )
    eval_seed_offset: int = Field(
        1_000_000,
        ge=1,
        le=2**40,
        description="Evaluation seed = training seed + this offset; at least seeds (disjoint).",
    )
    convergence_window: int = Field(
        10,
        ge=1,
        le=100_000,
        description="Moving-average window (in PPO iterations) of the convergence index; "
        "capped at half the number of iterations.",
    )
    convergence_tolerance: float = Field(
        0.25,
        ge=0.0,
        le=1.0,
        description="Band half-width of the convergence index (fraction of the curve's range); "
        "0.25 because the per-iteration delivery rate of a stochastic policy is noisy and a "
        "0.10 band rarely held for a whole window in our runs.",
    )
    workers: int = Field(
        2,
        ge=1,
        le=64,
        description="Processes running (method, seed) units in parallel (1: in this process).",
    )
    fidelity_bins: int = Field(
        50, ge=2, le=1000, description="Bins of the delivered-fidelity histogram on [0.5, 1]."
    )
    confidence: float = Field(
        0.95, gt=0.0, lt=1.0, description="Confidence level of every interval."
    )
    bootstrap_resamples: int = Field(
        9999, ge=1, le=1_000_000, description="Bootstrap resamples of every interval."
    )
    ci_method: Literal["BCa", "percentile", "basic"] = Field(
        "BCa", description="Bootstrap interval method (see stats.bootstrap_ci)."
    )
    make_plots: bool = Field(True, description="Write the PNG figures.")

    @field_validator("eval_seed_offset")
    @classmethod
    def _check_offset(cls, v: int, info: ValidationInfo) -> int:
        seeds = info.data.get("seeds")
        if seeds is not None and v < seeds:
            raise ValueError(
                f"must be at least seeds={seeds} so that evaluation seeds are disjoint from "
                f"training seeds"
            )
        return v

    @field_validator("num_envs")
    @classmethod
    def _check_budget(cls, v: int, info: ValidationInfo) -> int:
        agent = info.data.get("agent")
        if agent is not None and agent.total_timesteps < v * agent.num_steps:
            raise ValueError(
                f"must leave one PPO iteration in the budget: num_envs * agent.num_steps = "
                f"{v * agent.num_steps} exceeds agent.total_timesteps={agent.total_timesteps}"
            )
        return v

    @classmethod
    def quick(cls) -> EntanglementStudyConfig:
        """Small preset for ``--quick`` and the demo: a 20-node mesh, 3 seeds (~2-3 min)."""
        return cls(
            env=_default_env().with_overrides({"n_nodes": 20}),
            agent=_default_agent().with_overrides({"total_timesteps": 12_800}),
            seeds=3,
            bootstrap_resamples=1999,
        )

    def train_seed(self, index: int) -> int:
        """Training seed of seed index ``index``."""
        return self.seed0 + index

    def eval_seed(self, index: int) -> int:
        """Evaluation seed of seed index ``index`` (never a training seed)."""
        return self.seed0 + index + self.eval_seed_offset

    def method_agent(self, method: str) -> MAPPOConfig:
        """The PPO config of a learned method: ``agent`` with its FedAvg switches set."""
        fed = {
            "dpem": (True, True),
            "dpem_no_forecast": (True, True),
            "dpem_no_federation": (False, False),
            "dpem_no_dp": (True, False),
        }[method]
        return self.agent.with_overrides(
            {"exp_name": method, "fedavg.enabled": fed[0], "fedavg.dp_enabled": fed[1]}
        )


def validate_config(config: dict[str, Any]) -> EntanglementStudyConfig:
    """Validate a study config dict (the sweep runner's validator)."""
    return EntanglementStudyConfig.validate_dict(config, source="entanglement study config")


# --------------------------------------------------------------------------------------------
# evaluation rollout and per-seed metrics
# --------------------------------------------------------------------------------------------

#: ``act(env, obs) -> actions (B, N)``: a policy seen through the env and its observation.
ActFn = Callable[[EntanglementMarlEnv, NDArray[np.float32]], NDArray[np.int64]]


@dataclass
class EvalRecord:
    """Per-slot records of one batched evaluation (B episodes of T slots, N nodes).

    Attributes
    ----------
    actions : ndarray of shape (T, B, N), int64
        Every node's decision in every slot.
    claimed, delivered, contended : ndarray of shape (T, B, N), bool
        The core's per-node outcome flags of each slot.
    e2e_fidelity : ndarray of shape (T, B, N)
        Fidelity of the pair a granted claim produced (0 otherwise).
    latency_slots : ndarray of shape (T, B, N), int64
        Slots from arrival to delivery of the request delivered (-1 where none).
    arrivals : ndarray of shape (T, B, N), int64
        Requests originating at each node in slot t.
    reward : ndarray of shape (B,)
        Sum over slots and nodes of the per-node reward.
    forecast : ndarray of shape (T, B, N, h) or None
        The forecast each node saw in slot t for slots t+1 .. t+h.
    bound : ndarray of shape (T, B) or None
        :func:`~qnetrl.agents.allocators.slot_upper_bound` of every slot.
    totals : dict of str to ndarray of shape (B,)
        The core's episode counters at the end.
    slot_s : float
        Slot length (in s).
    """

    actions: NDArray[np.int64]
    claimed: NDArray[np.bool_]
    delivered: NDArray[np.bool_]
    contended: NDArray[np.bool_]
    e2e_fidelity: NDArray[np.float64]
    latency_slots: NDArray[np.int64]
    arrivals: NDArray[np.int64]
    reward: NDArray[np.float64]
    forecast: NDArray[np.float64] | None
    bound: NDArray[np.float64] | None
    totals: dict[str, NDArray[Any]]
    slot_s: float


def rollout(
    env: EntanglementMarlEnv, act: ActFn, rng: np.random.Generator, *, with_bound: bool = False
) -> EvalRecord:
    """Reset ``env`` with ``rng`` and play one episode in every copy with ``act``.

    Parameters
    ----------
    env : EntanglementMarlEnv
        Batched env of B copies (built with ``autoreset=False``).
    act : callable
        ``act(env, obs)`` returns the actions of every node, shape (B, N).
    rng : numpy.random.Generator
        Seeds the episodes; the same generator state gives every policy the same requests,
        heralding successes, tie-breaks and swap dice (the core's streams do not depend on
        the actions).
    with_bound : bool, default False
        Also record :func:`~qnetrl.agents.allocators.slot_upper_bound` of every slot.

    Returns
    -------
    EvalRecord
        The records of the B episodes.
    """
    from qnetrl.agents.allocators import slot_upper_bound

    obs = env.reset(rng)
    core = env.core
    horizon, bsz, n = core.config.horizon, core.batch_size, core.n_nodes
    shape = (horizon, bsz, n)
    actions = np.zeros(shape, dtype=np.int64)
    flags = {k: np.zeros(shape, dtype=bool) for k in ("claimed", "delivered", "contended")}
    e2e = np.zeros(shape)
    latency = np.full(shape, -1, dtype=np.int64)
    arrivals = np.zeros(shape, dtype=np.int64)
    forecast = None if env.forecaster is None else np.zeros((*shape, env.horizon))
    bound = np.zeros((horizon, bsz)) if with_bound else None
    reward = np.zeros(bsz)
    for t in range(horizon):  # loop over slots only, never over copies or nodes
        arrivals[t] = core.demand_history[..., -1]
        if forecast is not None:
            assert env.forecast is not None
            forecast[t] = env.forecast
        if bound is not None:
            bound[t] = slot_upper_bound(core)
        arrival = core.head.arrival
        a = np.asarray(act(env, obs), dtype=np.int64)
        obs, r, _, info = env.step(a)
        actions[t] = a
        for k in flags:
            flags[k][t] = info[k]
        e2e[t] = info["e2e_fidelity"]
        latency[t] = np.where(info["delivered"], t - arrival, -1)
        reward += r.sum(axis=1)
    return EvalRecord(
        actions=actions,
        claimed=flags["claimed"],
        delivered=flags["delivered"],
        contended=flags["contended"],
        e2e_fidelity=e2e,
        latency_slots=latency,
        arrivals=arrivals,
        reward=reward,
        forecast=forecast,
        bound=bound,
        totals={k: v.copy() for k, v in core.totals.items()},
        slot_s=float(core.config.slot_s),
    )


def episode_metrics(record: EvalRecord) -> dict[str, float]:
    """Reduce an :class:`EvalRecord` to the per-seed evaluation metrics.

    Parameters
    ----------
    record : EvalRecord
        Records of the seed's evaluation episodes.

    Returns
    -------
    dict of str to float
        ``delivery_rate``, ``contention_rate``, ``mean_fidelity``, ``latency_mean_s``,
        ``expired_rate``, ``episode_reward`` (see :data:`METRICS`; NaN where undefined, e.g.
        the fidelity when nothing was delivered), the counts ``arrived``, ``delivered``,
        ``claims`` and ``contended``, and with a bound ``upper_bound_delivery_rate``.

    Notes
    -----
    Rates are pooled over the B episodes: :math:`\\sum_b \\mathrm{delivered}_b /
    \\sum_b \\mathrm{arrived}_b`, and contention :math:`\\sum \\mathrm{contended} /
    \\sum \\mathrm{claims}` over every claim of every slot. The latency of a delivered
    request is :math:`(t_\\mathrm{deliver} - t_\\mathrm{arrival})\\,\\tau` with
    :math:`\\tau` the slot length: 0 for a request delivered in its arrival slot.
    """
    tot = record.totals
    arrived = float(tot["arrived"].sum())
    delivered = float(tot["delivered"].sum())
    claims = float(tot["claims"].sum())
    contended = float(tot["contended"].sum())
    lat = record.latency_slots[record.delivered]
    out = {
        "delivery_rate": delivered / arrived if arrived > 0 else math.nan,
        "contention_rate": contended / claims if claims > 0 else math.nan,
        "mean_fidelity": float(tot["fidelity_sum"].sum()) / delivered if delivered else math.nan,
        "latency_mean_s": float(lat.mean()) * record.slot_s if lat.size else math.nan,
        "expired_rate": float(tot["expired"].sum()) / arrived if arrived > 0 else math.nan,
        "episode_reward": float(record.reward.mean()),
        "arrived": arrived,
        "delivered": delivered,
        "claims": claims,
        "contended": contended,
    }
    if record.bound is not None:
        out["upper_bound_delivery_rate"] = (
            float(record.bound.sum()) / arrived if arrived > 0 else math.nan
        )
    return out


def forecast_metrics(record: EvalRecord) -> dict[str, float]:
    """Forecast error of the evaluation episodes against the persistence forecast.

    Every slot ``t`` with ``t + h < T`` is a forecast origin: the node's forecast of its
    counts in slots ``t + 1 .. t + h`` is compared with the counts observed and with the
    persistence forecast (the count of slot ``t`` repeated,
    :func:`~qnetrl.agents.forecaster.persistence_baseline`), by
    :func:`~qnetrl.agents.forecaster.forecast_error` over all origins, copies, nodes and
    steps ahead. Returns ``forecast_mae``, ``forecast_rmse``, ``persistence_mae``,
    ``persistence_rmse``, ``forecast_rel_mae`` and ``forecast_rel_rmse`` (empty without
    forecasts or origins).
    """
    from qnetrl.agents.forecaster import forecast_error, persistence_baseline

    if record.forecast is None:
        return {}
    horizon_t, h = record.arrivals.shape[0], record.forecast.shape[-1]
    n_orig = horizon_t - h
    if n_orig <= 0:
        return {}
    origins = np.arange(n_orig)
    ahead = origins[:, None] + 1 + np.arange(h)  # (K, h)
    actual = np.moveaxis(record.arrivals[ahead], 1, -1)  # (K, B, N, h)
    pred = record.forecast[:n_orig]
    base = persistence_baseline(record.arrivals[origins][..., None], h)
    err = forecast_error(pred, actual, base)
    return {
        "forecast_mae": float(err["mae"]),
        "forecast_rmse": float(err["rmse"]),
        "persistence_mae": float(err["mae_baseline"]),
        "persistence_rmse": float(err["rmse_baseline"]),
        "forecast_rel_mae": float(err["rel_mae"]),
        "forecast_rel_rmse": float(err["rel_rmse"]),
    }


# --------------------------------------------------------------------------------------------
# replication logs
# --------------------------------------------------------------------------------------------

#: Arrays of ``episode.npz`` (see :func:`write_episode_log`).
_LOG_ARRAYS: Final[tuple[str, ...]] = (
    "actions",
    "claimed",
    "delivered",
    "contended",
    "e2e_fidelity",
    "arrivals",
)


def _json_float(x: float) -> float | None:
    return x if math.isfinite(x) else None


def write_episode_log(
    log_dir: str | Path,
    env: EntanglementMarlEnv,
    record: EvalRecord,
    *,
    eval_seed: int,
    meta: Mapping[str, Any],
) -> Path:
    """Write the replication log of one evaluation into ``log_dir``.

    Files: ``topology.json`` (the mesh, :func:`qnetrl.network.topology_io.save_json`),
    ``episode.json`` (env config, evaluation seed, batch size, per-node rates, ``meta`` and
    the :func:`episode_metrics` of the record) and ``episode.npz`` (compressed: ``actions``
    (T, B, N) int8, the outcome flags, ``e2e_fidelity`` float32, ``arrivals`` (T, B, N)
    int16, and when present ``forecast`` (T, B, N, h) float32, exactly what the agents saw,
    and ``bound`` (T, B)). :func:`replay_episode` replays it.

    Returns
    -------
    Path
        ``log_dir``.
    """
    from qnetrl.network.topology_io import save_json

    path = Path(log_dir)
    path.mkdir(parents=True, exist_ok=True)
    core = env.core
    save_json(core.network.graph, path / "topology.json")
    metrics = episode_metrics(record)
    doc = {
        "format": "qnetrl.dpem-episode/1",
        "env_config": core.config.model_dump(mode="json"),
        "eval_seed": int(eval_seed),
        "batch_size": core.batch_size,
        "with_bound": record.bound is not None,
        "node_rates": {
            "gen_rate_hz": core.network.gen_rate_hz.tolist(),
            "repeater_rate_hz": core.network.repeater_rate_hz.tolist(),
            "request_rate_hz": core.network.request_rate_hz.tolist(),
        },
        **dict(meta),
        "metrics": {k: _json_float(v) for k, v in metrics.items()},
    }
    arrays: dict[str, NDArray[Any]] = {
        "actions": record.actions.astype(np.int8),
        "claimed": record.claimed,
        "delivered": record.delivered,
        "contended": record.contended,
        "e2e_fidelity": record.e2e_fidelity.astype(np.float32),
        "arrivals": record.arrivals.astype(np.int16),
    }
    if record.forecast is not None:
        arrays["forecast"] = record.forecast.astype(np.float32)
    if record.bound is not None:
        arrays["bound"] = record.bound
    tmp = path / ".episode.tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path / "episode.npz")
    write_json(path / "episode.json", doc)
    return path


def replay_episode(log_dir: str | Path) -> dict[str, float]:
    """Replay a logged evaluation episode from its files alone and return its metrics.

    The mesh is rebuilt from ``topology.json`` (per-node rates from the env config's
    ``topology_seed``), the core is reset with ``numpy.random.default_rng(eval_seed)`` and
    stepped with the logged decisions; the result equals the logged ``metrics`` exactly
    when the log is intact (the core's randomness does not depend on the actions).

    Parameters
    ----------
    log_dir : str or Path
        A directory written by :func:`write_episode_log`.

    Returns
    -------
    dict of str to float
        :func:`episode_metrics` of the replayed episode (NaN where undefined).

    Raises
    ------
    FileNotFoundError
        If a log file is missing.
    ConfigError
        If the logged env config is invalid.
    """
    from qnetrl.network.topology_io import load_json

    path = Path(log_dir)
    doc = json.loads((path / "episode.json").read_text())
    config = EntanglementEnvConfig.validate_dict(doc["env_config"], source=str(path))
    graph = load_json(path / "topology.json")
    with np.load(path / "episode.npz") as data:
        actions = data["actions"].astype(np.int64)
    env = EntanglementMarlEnv(
        config, int(doc["batch_size"]), graph=graph, feasibility=False, autoreset=False
    )
    steps = iter(actions)

    def act(e: EntanglementMarlEnv, obs: NDArray[np.float32]) -> NDArray[np.int64]:
        return next(steps)

    record = rollout(
        env, act, np.random.default_rng(int(doc["eval_seed"])), with_bound=doc["with_bound"]
    )
    return episode_metrics(record)


# --------------------------------------------------------------------------------------------
# one (method, seed) unit
# --------------------------------------------------------------------------------------------


def _fidelity_histogram(record: EvalRecord, bins: int) -> dict[str, list[float]]:
    values = record.e2e_fidelity[record.delivered]
    counts, edges = np.histogram(values, bins=bins, range=(0.5, 1.0))
    return {"edges": edges.tolist(), "counts": counts.astype(float).tolist()}


def _convergence(
    curve: NDArray[np.float64], times: NDArray[np.float64], config: EntanglementStudyConfig
) -> tuple[int | None, float | None, int]:
    """(iterations, wall seconds, window) to convergence of a per-iteration curve."""
    window = max(1, min(config.convergence_window, curve.size // 2))
    if curve.size == 0 or not np.isfinite(curve).all():
        return None, None, window
    idx = stats.episodes_to_convergence(
        curve, window=window, tolerance=config.convergence_tolerance
    )
    if idx is None:
        return None, None, window
    return idx + 1, float(times[idx]), window


def _run_unit(
    config: EntanglementStudyConfig,
    method: str,
    index: int,
    run_dir: Path,
    progress: Callable[[float], None] | None = None,
    tensorboard: bool = False,
) -> dict[str, Any]:
    """Train (learned methods), evaluate and log one method for one seed; JSON-ready."""
    import torch

    from qnetrl.agents import allocators
    from qnetrl.agents.forecaster import GRUForecaster
    from qnetrl.agents.mappo import train
    from qnetrl.envs.entanglement.core import build_network

    torch.set_num_threads(1)
    start, cpu_start = time.perf_counter(), time.process_time()
    train_seed, eval_seed = config.train_seed(index), config.eval_seed(index)
    unit: dict[str, Any] = {
        "method": method,
        "seed_index": index,
        "train_seed": train_seed,
        "eval_seed": eval_seed,
    }
    network = build_network(config.env)
    forecaster: GRUForecaster | None = None
    metrics: dict[str, float] = {}
    if method in LEARNED:
        agent_cfg = config.method_agent(method)
        if method in FORECAST_METHODS:
            forecaster = GRUForecaster(
                network.n_nodes, config.forecaster, rng=np.random.default_rng([train_seed, 2])
            )
        envs = EntanglementMarlEnv(
            config.env,
            config.num_envs,
            forecaster=forecaster,
            fit_every=config.forecast_fit_every,
            feasibility=config.feasibility_features,
            network=network,
        )
        curve: dict[str, list[float]] = {
            k: [] for k in ("delivery_rate", "contention_rate", "reward", "wall_s")
        }
        last = dict(envs.counters)
        t0 = time.perf_counter()

        def on_iteration(done: int, total: int) -> None:
            c = envs.counters
            d = {k: c[k] - last[k] for k in c}
            last.update(c)
            curve["delivery_rate"].append(d["delivered"] / max(d["arrived"], 1.0))
            curve["contention_rate"].append(d["contended"] / max(d["claims"], 1.0))
            curve["reward"].append(d["reward"] / max(d["steps"], 1.0) / envs.num_envs)
            curve["wall_s"].append(time.perf_counter() - t0)
            if tb is not None:
                tb.scalars({f"study/{k}": v[-1] for k, v in curve.items() if k != "wall_s"}, done)
            if progress is not None:
                progress(0.9 * done / total)

        tb = TensorBoardLogger(unit_logdir(run_dir, method, index)) if tensorboard else None
        try:
            res = train(agent_cfg, envs, train_seed, progress=on_iteration, on_log=tb)
        finally:
            if tb is not None:
                tb.close()
        conv_it, conv_s, window = _convergence(
            np.asarray(curve["delivery_rate"]), np.asarray(curve["wall_s"]), config
        )
        fed = agent_cfg.fedavg
        unit["train"] = {
            "curve": curve,
            "episodes": envs.episodes,
            "iterations": int(res.num_updates),
            "env_steps": int(res.env_steps),
            "wall_s": float(res.wall_time_s),
            "update_wall_s": float(res.update_time_s),
            "convergence_window": window,
            "convergence_iterations": conv_it,
            "convergence_wall_s": conv_s,
            "forecaster_fits": len(envs.fit_losses),
            "forecaster_last_loss": envs.fit_losses[-1] if envs.fit_losses else None,
        }
        unit["privacy"] = {
            "fedavg": fed.enabled,
            "dp": fed.enabled and fed.dp_enabled,
            "rounds": int(res.fedavg_rounds),
            "noise_multiplier": fed.noise_multiplier,
            "sample_rate": fed.sample_rate,
            "clip_norm": fed.clip_norm,
            "delta": fed.delta,
            "pld_discretization": fed.pld_discretization,
            "accountant": "pld",
            "epsilon": res.epsilon,
        }
        metrics["convergence_iterations"] = math.nan if conv_it is None else float(conv_it)
        metrics["convergence_wall_s"] = math.nan if conv_s is None else float(conv_s)
        metrics["train_wall_s"] = float(res.wall_time_s)
        if fed.enabled and fed.dp_enabled:
            metrics["epsilon"] = math.inf if res.epsilon is None else float(res.epsilon)
        policy = res.policy()

        def act(e: EntanglementMarlEnv, obs: NDArray[np.float32]) -> NDArray[np.int64]:
            return policy(obs)

    else:
        allocator = (
            allocators.FcfsShortestPath() if method == "fcfs" else allocators.CentralizedGreedy()
        )

        def act(e: EntanglementMarlEnv, obs: NDArray[np.float32]) -> NDArray[np.int64]:
            return allocator.act(e.core)

    eval_env = EntanglementMarlEnv(
        config.env,
        config.eval_episodes,
        forecaster=forecaster,
        fit_every=config.forecast_fit_every,
        feasibility=config.feasibility_features and method in LEARNED,
        autoreset=False,
        network=network,
    )
    record = rollout(
        eval_env, act, np.random.default_rng(eval_seed), with_bound=method == "upper_bound"
    )
    ep = episode_metrics(record)
    if method == "upper_bound":
        metrics = {"delivery_rate": ep["upper_bound_delivery_rate"]}
    else:
        metrics = {k: ep[k] for k in METRICS if k in ep} | metrics
        fm = forecast_metrics(record)
        metrics |= {k: fm[k] for k in METRICS if k in fm}
        unit["forecast"] = fm
    unit["metrics"] = metrics
    unit["eval"] = {k: _json_float(v) for k, v in ep.items()}
    unit["fidelity_histogram"] = _fidelity_histogram(record, config.fidelity_bins)
    log_dir = Path(run_dir) / "logs" / f"{method}-seed{index:03d}"
    write_episode_log(
        log_dir,
        eval_env,
        record,
        eval_seed=eval_seed,
        meta={"method": method, "seed_index": index, "train_seed": train_seed},
    )
    unit["log_dir"] = str(log_dir.relative_to(run_dir))
    unit["wall_s"] = time.perf_counter() - start
    unit["cpu_s"] = time.process_time() - cpu_start
    if progress is not None:
        progress(1.0)
    return unit


def _unit_worker(payload: dict[str, Any]) -> dict[str, Any]:
    """Process-pool entry point: one unit (JSON-safe) from a JSON-ready payload."""
    config = EntanglementStudyConfig.validate_dict(payload["config"], source="worker")
    unit = _run_unit(
        config,
        payload["method"],
        payload["index"],
        Path(payload["run_dir"]),
        tensorboard=payload["tensorboard"],
    )
    return json_safe(unit)


# --------------------------------------------------------------------------------------------
# statistics, claims and verdicts
# --------------------------------------------------------------------------------------------


def _summarize(
    values: Sequence[float], config: EntanglementStudyConfig, rng: np.random.Generator
) -> dict[str, Any]:
    """``stats.summarize`` of the finite values; ``n_excluded`` counts the others."""
    x = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(x)
    out: dict[str, Any]
    if not ok.any():
        out = {"mean": None, "ci_low": None, "ci_high": None, "std": None, "n": 0}
    else:
        out = stats.summarize(
            x[ok],
            rng=rng,
            confidence=config.confidence,
            n_resamples=config.bootstrap_resamples,
            method=config.ci_method,
        )
    out["n_excluded"] = int((~ok).sum())
    return out


def qualitative_verdict(ci_low: float | None, ci_high: float | None) -> str:
    """Verdict of a claim of direction only ("faster"), from the interval of the gain.

    Returns ``"supported"`` when the whole interval lies above 0, ``"not supported"`` when
    it lies at or below 0, ``"inconclusive"`` when it straddles 0 and ``"not comparable"``
    when nothing was measured.

    Examples
    --------
    >>> qualitative_verdict(0.1, 0.4), qualitative_verdict(-0.2, 0.3)
    ('supported', 'inconclusive')
    >>> qualitative_verdict(-0.5, -0.1), qualitative_verdict(None, None)
    ('not supported', 'not comparable')
    """
    if ci_low is None or ci_high is None or not (math.isfinite(ci_low) and math.isfinite(ci_high)):
        return "not comparable"
    if ci_low > 0.0:
        return "supported"
    if ci_high <= 0.0:
        return "not supported"
    return "inconclusive"


def _paired_relative(
    ref: NDArray[np.float64], base: NDArray[np.float64], *, reduction: bool
) -> NDArray[np.float64]:
    """Per-seed relative change of ``ref`` over ``base`` (or its reduction below it)."""
    out = np.full(ref.shape, np.nan)
    ok = np.isfinite(ref) & np.isfinite(base)
    if ok.any():
        change = np.asarray(stats.relative_change(ref[ok], base[ok]), dtype=np.float64)
        out[ok] = -change if reduction else change
    return out


def _mean(x: NDArray[np.float64]) -> float:
    """Mean of the finite values (NaN if none)."""
    ok = np.isfinite(x)
    return float(x[ok].mean()) if ok.any() else math.nan


def _claims(
    values: Mapping[str, Mapping[str, NDArray[np.float64]]],
    config: EntanglementStudyConfig,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """Each publication claim with our measured counterpart and its computed verdict."""
    dpem = values["dpem"]
    out: list[dict[str, Any]] = []
    for spec in CLAIMS:
        cid, metric = spec["id"], spec["metric"]
        for baseline in _CLAIM_BASELINES[cid]:
            samples = _paired_relative(
                dpem[metric], values[baseline][metric], reduction=spec["reduction"]
            )
            measured = _summarize(samples, config, rng)
            if cid == "convergence":
                verdict = qualitative_verdict(measured["ci_low"], measured["ci_high"])
                if measured["n"] < max(_MIN_CONVERGED, math.ceil(config.seeds / 2)):
                    verdict = "not comparable"
            else:
                verdict = claim_verdict(
                    measured["ci_low"], measured["ci_high"], spec["band"], spec["better"]
                )
            notes = []
            base_mean, ref_mean = _mean(values[baseline][metric]), _mean(dpem[metric])
            notes.append(
                f"DPEM {metric} {ref_mean:.4g} vs {baseline} {base_mean:.4g} (means over seeds)"
            )
            if measured["n_excluded"]:
                notes.append(
                    f"{measured['n_excluded']} of {config.seeds} seeds without a finite ratio"
                )
            if cid == "contention" and baseline == "centralized":
                notes.append(
                    "the centralised allocator reserves pairs and swaps before claiming, so "
                    "its claims never contend (0 by construction) and a relative cut is "
                    "undefined"
                )
            if cid == "convergence":
                notes.append(
                    f"both converged in {measured['n']} of {config.seeds} seeds (a verdict needs "
                    f"at least {_MIN_CONVERGED} and half)"
                )
                notes.append(
                    "the centralised allocator is not trained, so convergence is compared "
                    "between learned variants; the index is the start of the final plateau, "
                    "not the quality reached"
                )
            out.append(
                {
                    "id": f"{cid}_vs_{baseline}",
                    "claim": spec["claim"],
                    "publication": spec["publication"],
                    "band": list(spec["band"]),
                    "rule": spec["rule"],
                    "kind": spec["kind"],
                    "better": spec["better"],
                    "baseline": baseline,
                    "metric": metric,
                    "measured_as": spec["measured_as"].format(baseline=baseline),
                    "short": spec["short"].format(baseline=baseline),
                    "measured": measured,
                    "verdict": verdict,
                    "note": "; ".join(notes),
                }
            )
    return out


def _groups(
    values: Mapping[str, Mapping[str, NDArray[np.float64]]], metric: str
) -> dict[str, NDArray[np.float64]]:
    out = {}
    for method in POLICIES:
        x = values[method].get(metric)
        if x is None:
            continue
        x = x[np.isfinite(x)]
        if x.size >= 2:
            out[method] = x
    return out


def _anova(values: Mapping[str, Mapping[str, NDArray[np.float64]]], confidence: float) -> dict:
    """One-way ANOVA and Tukey HSD across the acting methods per metric."""
    out: dict[str, Any] = {}
    for metric in ANOVA_METRICS:
        groups = _groups(values, metric)
        if len(groups) < 2:
            out[metric] = {"skipped": "needs two methods with two finite values each"}
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = stats.anova_tukey(groups, confidence=confidence)
        out[metric] = {"methods": list(groups), **res}
    return out


def _tests(values: Mapping[str, Mapping[str, NDArray[np.float64]]]) -> dict[str, Any]:
    """DPEM against every other acting method per metric (stats.compare_methods)."""
    out: dict[str, Any] = {}
    for metric in ANOVA_METRICS:
        groups = _groups(values, metric)
        if "dpem" not in groups or len(groups) < 2:
            out[metric] = {"skipped": "needs at least two finite values per method"}
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out[metric] = stats.compare_methods(groups, reference="dpem")
    return out


# --------------------------------------------------------------------------------------------
# run directory
# --------------------------------------------------------------------------------------------


def prepare_run_dir(
    config: EntanglementStudyConfig,
    out: str | Path | None = None,
    *,
    root: str | Path = "runs",
    force: bool = False,
) -> Path:
    """The run directory of the entanglement study, with ``config.yaml`` and ``meta.json``.

    ``out=None`` creates ``root/entanglement/<timestamp>-<seed0>/``. An unfinished run of the
    same config in ``out`` is kept, so that :func:`run_entanglement_study` resumes it; errors
    and ``force`` (which also deletes ``logs/``) as in
    :func:`~qnetrl.experiments.study_runs.prepare_study_run_dir`.
    """
    return prepare_study_run_dir(
        "entanglement", config, config.seed0, out, root=root, force=force, fresh_dirs=_FRESH_DIRS
    )


# --------------------------------------------------------------------------------------------
# the study
# --------------------------------------------------------------------------------------------


class EntanglementStudyResult(StudyResult):
    """What :func:`run_entanglement_study` returns: run directory, summary, wall time (s)."""


#: Markdown/CSV/console columns (metric, header, format) of the methods table.
_METHOD_TABLE: Final[tuple[tuple[str, str, str], ...]] = (
    ("delivery_rate", "delivery", "{:.3f}"),
    ("contention_rate", "contention", "{:.3f}"),
    ("mean_fidelity", "fidelity", "{:.4f}"),
    ("latency_mean_s", "latency s", "{:.2f}"),
    ("expired_rate", "expired", "{:.3f}"),
    ("convergence_iterations", "conv. iter", "{:.1f}"),
    ("convergence_wall_s", "conv. s", "{:.1f}"),
    ("forecast_rel_mae", "fc MAE/pers.", "{:.3f}"),
    ("epsilon", "epsilon", "{:.3g}"),
)


def _methods_table(methods: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, list[Any]], ...]:
    """Columns for methods.csv, methods.md (mean [CI]) and the console (means only)."""
    csv_cols: dict[str, list[Any]] = {"method": []}
    md: dict[str, list[Any]] = {"method": []}
    con: dict[str, list[Any]] = {"method": []}
    for metric, label, _ in _METHOD_TABLE:
        for k in ("mean", "ci_low", "ci_high"):
            csv_cols[f"{metric}_{k}"] = []
        md[label] = []
        con[label] = []
    for name in METHODS:
        csv_cols["method"].append(name)
        md["method"].append(METHOD_LABELS[name])
        con["method"].append(name)
        for metric, label, fmt in _METHOD_TABLE:
            s = methods[name].get(metric) or {"mean": None, "ci_low": None, "ci_high": None}
            for k in ("mean", "ci_low", "ci_high"):
                csv_cols[f"{metric}_{k}"].append(math.nan if s[k] is None else float(s[k]))
            if s["mean"] is None:
                md[label].append("n/a")
                con[label].append("n/a")
                continue
            md[label].append(
                f"{fmt.format(s['mean'])} [{fmt.format(s['ci_low'])}, {fmt.format(s['ci_high'])}]"
            )
            con[label].append(fmt.format(s["mean"]))
    return csv_cols, md, con


def _anova_table(anova: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Columns of anova.csv / anova.md: one ANOVA row per metric, then its Tukey pairs."""
    cols: dict[str, list[Any]] = {
        k: [] for k in ("metric", "test", "pair", "statistic", "p_value", "ci_low", "ci_high")
    }
    for metric, res in anova.items():
        if "skipped" in res:
            for k, v in zip(cols, (metric, "skipped", res["skipped"], "", "", "", ""), strict=True):
                cols[k].append(v)
            continue
        a = res["anova"]
        row = (metric, "ANOVA F", "all methods", float(a["F"]), float(a["p_value"]), "", "")
        for k, v in zip(cols, row, strict=True):
            cols[k].append(v)
        for t in res["tukey"]:
            row = (
                metric,
                "Tukey HSD mean diff",
                f"{t['a']} - {t['b']}",
                float(t["mean_diff"]),
                float(t["p_value"]),
                float(t["ci_low"]),
                float(t["ci_high"]),
            )
            for k, v in zip(cols, row, strict=True):
                cols[k].append(v)
    return cols


def run_entanglement_study(
    config: EntanglementStudyConfig,
    run_dir: str | Path,
    *,
    console: Console | None = None,
    show_progress: bool = True,
    tensorboard: bool = False,
) -> EntanglementStudyResult:
    """Run the DPEM study into ``run_dir`` (see :func:`prepare_run_dir`), resuming if possible.

    Units (one method and seed each) run in this process (``workers=1``) or in a pool of
    ``workers`` spawned processes, each with one torch thread. Every unit is written to
    ``units/<method>-seed<k>.json`` when it finishes, after its replication log under
    ``logs/``; units already there are read back instead of recomputed, so a killed run
    resumes where it stopped. Statistics, claims, tables and figures are computed from the
    unit files, so the numbers do not depend on whether a run was resumed or on ``workers``.

    Parameters
    ----------
    config : EntanglementStudyConfig
        The study.
    run_dir : str or Path
        Output directory (usually from :func:`prepare_run_dir`).
    console : rich.console.Console, optional
        Where tables and progress go (a new console by default).
    show_progress : bool, default True
        Show a progress bar (a terminal) or one line per unit (otherwise).
    tensorboard : bool, default False
        Also log the training curves of the units run now (trainer records and the study's
        per-iteration delivery and contention rates) to TensorBoard event files under
        ``tensorboard/<method>-seed<k>/`` (needs the ``tensorboard`` package).

    Returns
    -------
    EntanglementStudyResult
        The run directory, the summary and the wall time of this call.
    """
    if tensorboard:
        require_tensorboard()
    start = time.perf_counter()
    console = console or Console()
    run_dir = Path(run_dir)

    def run_unit(method: str, index: int, progress: Callable[[float], None]) -> dict[str, Any]:
        unit = _run_unit(config, method, index, run_dir, progress=progress, tensorboard=tensorboard)
        return json_safe(unit)

    payload = {
        "config": config.model_dump(mode="json"),
        "run_dir": str(run_dir),
        "tensorboard": tensorboard,
    }
    units, resumed = run_study_units(
        "entanglement",
        METHODS,
        config.seeds,
        run_dir,
        run_unit,
        seed_of=config.train_seed,
        console=console,
        show_progress=show_progress,
        pool=UnitPool(config.workers, _unit_worker, payload),
    )

    rng = np.random.default_rng([config.seed0, 20_250_601])
    values: dict[str, dict[str, NDArray[np.float64]]] = {}
    methods_summary: dict[str, dict[str, Any]] = {}
    for method in METHODS:
        per_seed = [units[(method, i)]["metrics"] for i in range(config.seeds)]
        names = [k for k in METRICS if k in per_seed[0]]
        values[method] = {
            k: np.array(
                [math.nan if s.get(k) is None else float(s[k]) for s in per_seed],
                dtype=np.float64,
            )
            for k in names
        }
        methods_summary[method] = {k: _summarize(values[method][k], config, rng) for k in names}
    claims = _claims(values, config, rng)
    anova = _anova(values, config.confidence)
    tests = _tests(values)
    privacy = {m: units[(m, 0)].get("privacy") for m in LEARNED}

    claims_csv, claims_md, claims_con = claims_columns(claims, signed=True)
    write_table(claims_csv, run_dir / "table", markdown=claims_md)
    methods_csv, methods_md, methods_con = _methods_table(methods_summary)
    write_table(methods_csv, run_dir / "methods", markdown=methods_md)
    write_table(_anova_table(anova), run_dir / "anova")

    figures: list[str] = []
    if config.make_plots:
        from qnetrl.experiments import entanglement_plots

        figures = entanglement_plots.write_figures(
            run_dir, config=config, units=units, methods_summary=methods_summary
        )

    wall_s = time.perf_counter() - start
    unit_wall = {
        m: float(sum(units[(m, i)]["wall_s"] for i in range(config.seeds))) for m in METHODS
    }
    unit_cpu = {
        m: float(sum(units[(m, i)].get("cpu_s", math.nan) for i in range(config.seeds)))
        for m in METHODS
    }
    summary = {
        "study": "entanglement",
        "title": "DPEM entanglement distribution: forecast + PPO + DP-FedAvg vs allocators",
        "methods": methods_summary,
        "claims": claims,
        "anova": anova,
        "tests": tests,
        "privacy": privacy,
        "metrics": dict(METRICS),
        "method_labels": dict(METHOD_LABELS),
        "figures": figures,
        "logs": {
            f"{m}-seed{i:03d}": units[(m, i)]["log_dir"]
            for m in METHODS
            for i in range(config.seeds)
        },
        "network": {
            "n_nodes": config.env.n_nodes,
            "topology": config.env.topology,
            "topology_seed": config.env.topology_seed,
        },
        "config": config.model_dump(mode="json"),
        "timing": {
            "wall_s": wall_s,
            "units_wall_s": unit_wall,
            "units_cpu_s": unit_cpu,
            "units_resumed": resumed,
            "workers": config.workers,
        },
    }
    summary = json_safe(summary)
    write_json(run_dir / "summary.json", summary)

    title = "Entanglement (DPEM) study"
    print_table(methods_con, f"{title}: methods (means over seeds; CIs in methods.md)", console)
    print_table(claims_con, f"{title}: publication claims vs our measurement", console)
    p_del = anova.get("delivery_rate", {}).get("anova", {}).get("p_value")
    console.print(
        f"entanglement study: {config.env.n_nodes} nodes, {config.seeds} seeds x "
        f"{len(METHODS)} methods, ANOVA p (delivery rate) = "
        f"{'n/a' if p_del is None else f'{p_del:.3g}'}; wall time {wall_s:.1f} s "
        f"({resumed} units resumed, {config.workers} workers); outputs in {run_dir}",
        highlight=False,
    )
    return EntanglementStudyResult(run_dir=run_dir, summary=summary, wall_s=wall_s)


def run_entanglement_sweep(
    config: dict[str, Any],
    seed: int,
    run_dir: str | Path,
    *,
    resume: bool = False,
    tensorboard: bool = False,
) -> dict[str, Any]:
    """The DPEM study as a sweep run (:func:`qnetrl.experiments.sweep.register_study`).

    The sweep seed becomes the study's ``seed0``; units run in this process (the sweep
    already runs in parallel) and resume from ``units/``; console output goes to
    ``console.txt`` in the run directory.
    """
    cfg = validate_config({**config, "seed0": int(seed), "workers": 1})
    return run_study_as_sweep_run(
        run_entanglement_study,
        cfg,
        run_dir,
        resume=resume,
        fresh_dirs=_FRESH_DIRS,
        tensorboard=tensorboard,
    )
