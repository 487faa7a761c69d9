"""The resilience study end to end: ABFT and DRA against Byzantine nodes and fluctuations.

This module reproduces the ABFT + DRA resilience study on the batched
:class:`~qnetrl.envs.resilience.core.ResilienceCore`. Five configurations are evaluated on the
same held-out episodes: the **baseline** (single-path trusted relaying over the shortest path,
no ABFT, static allocation), **ABFT only** (2-of-2 Shamir shares over node-disjoint paths,
weighted-PBFT weights and trust steering the routing, static intensity), **DRA only** (single
path over three candidate paths, no ABFT, a Double DQN with prioritised replay choosing the
intensity, protocol and routing mode each epoch), **ABFT + DRA** (both) and a **greedy**
reference (the ABFT network with per-slot true-channel link settings). Each runs at
Byzantine fractions 0, 10, 20 and 30 % with and without link fluctuations, for every seed.
The study reports the key rate retained under attack relative to the attack-free run, QBER
mean and variance, availability with its confidence interval and the number of requests
behind it, undetected wrong keys, key exposure, the DDQN's episodes to convergence and a
regression of QBER on channel loss; each publication claim sits beside our measurement with a
verdict computed from the confidence interval. Outputs: ``summary.json`` (``methods``,
``claims``, ``tests``, ``config`` like the edge study, plus ``scenarios`` and
``qber_vs_loss``), ``table.md``/``table.csv`` (claims), ``scenarios.md``/``scenarios.csv``,
one JSON file per (method, seed) unit under ``units/`` (a killed run resumes from them) and
the figures of :mod:`qnetrl.experiments.resilience_plots`.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, ValidationInfo, field_validator
from rich.console import Console

from qnetrl.agents.dqn import DQNConfig
from qnetrl.config import ConfigBase
from qnetrl.envs.resilience.core import ResilienceCore, ResilienceEnvConfig
from qnetrl.experiments import stats
from qnetrl.experiments.edge_study import claim_verdict
from qnetrl.experiments.rundir import json_safe, run_study_as_sweep_run, write_json
from qnetrl.experiments.study_runs import StudyResult, prepare_study_run_dir, run_study_units
from qnetrl.experiments.tables import (
    claims_columns,
    format_interval,
    format_measure,
    print_table,
    write_table,
)
from qnetrl.experiments.tensorboard import TensorBoardLogger, require_tensorboard, unit_logdir

__all__ = [
    "CLAIMS",
    "LEARNED",
    "METHODS",
    "METHOD_LABELS",
    "METRICS",
    "SCENARIO_METRICS",
    "ResilienceStudyConfig",
    "ResilienceStudyResult",
    "method_env",
    "prepare_run_dir",
    "rollout",
    "run_resilience_study",
    "run_resilience_sweep",
    "scenario_label",
    "validate_config",
]

#: Configurations of the study, in report order.
METHODS: Final[tuple[str, ...]] = ("baseline", "abft", "dra", "abft_dra", "greedy")
#: Configurations whose policy is a trained DDQN.
LEARNED: Final[tuple[str, ...]] = ("dra", "abft_dra")
#: Labels for tables and figures.
METHOD_LABELS: Final[dict[str, str]] = {
    "baseline": "baseline (single path, no ABFT, static)",
    "abft": "ABFT only (multipath + weights, static)",
    "dra": "DRA only (DDQN, single path)",
    "abft_dra": "ABFT + DRA",
    "greedy": "greedy true-channel (reference)",
}

#: Per-(method, seed, scenario) metrics: name -> definition (with unit).
METRICS: Final[dict[str, str]] = {
    "secure_key_rate_bps": "secure key delivered to end nodes (correct, unexposed), per copy "
    "and second of simulated time (bit/s)",
    "key_rate_retained": "secure key rate divided by the same method's rate in the attack-free "
    "scenario of the same seed and fluctuation setting (dimensionless)",
    "availability": "requests whose receiver got the right key by the deadline / requests "
    "resolved (dimensionless)",
    "availability_trials": "requests behind the availability (count)",
    "wrong_keys_undetected": "keys that arrived wrong without any check noticing (count)",
    "exposure_fraction": "served requests whose key the leaking relays saw (dimensionless)",
    "qber_mean": "QBER of the live links, mean over links, slots and copies (dimensionless)",
    "qber_var": "variance over slots of each live link's QBER (its fluctuation in time), mean "
    "over links and copies (dimensionless)",
    "episode_return": "undiscounted env return of an episode, mean over copies (reward units)",
    "episodes_to_convergence": "training episodes until the greedy policy's return on fixed "
    "held-out episodes (20 % Byzantine) stays on its final plateau "
    "(stats.episodes_to_convergence on the evaluation curve; DDQN configurations only)",
    "replicated_ops_per_epoch": "operations the key-management nodes replicate per epoch "
    "(count; 0 without ABFT)",
    "byzantine_weight_fraction": "mean final weight of Byzantine nodes / initial weight "
    "(dimensionless; ABFT only)",
    "honest_weight_min_fraction": "smallest final weight of an honest node / initial weight "
    "(dimensionless; must stay 1)",
}

#: The metrics measured per scenario (all but the training-time convergence).
SCENARIO_METRICS: Final[tuple[str, ...]] = tuple(
    k for k in METRICS if k != "episodes_to_convergence"
)

#: Metrics tested between ABFT + DRA and the others at the headline scenario.
TEST_METRICS: Final[tuple[str, ...]] = (
    "secure_key_rate_bps",
    "availability",
    "qber_mean",
    "exposure_fraction",
)

#: The publication's claims, read as intervals; verdicts come from the measured CIs.
CLAIMS: Final[tuple[dict[str, Any], ...]] = (
    {
        "id": "key_rate_retained_abft_dra",
        "claim": "with 20 % Byzantine nodes the network keeps 95 % of its attack-free key rate",
        "publication": 0.95,
        "band": (0.94, 0.96),
        "rule": "95 % read as 94-96 %",
        "kind": "percent",
        "better": "higher",
        "method": "abft_dra",
        "measured_as": "ABFT + DRA: secure key rate at 20 % / at 0 % Byzantine, no "
        "fluctuations, per seed",
        "short": "ABFT + DRA key rate retained at 20 %",
    },
    {
        "id": "key_rate_retained_abft",
        "claim": "with 20 % Byzantine nodes the network keeps 95 % of its attack-free key rate",
        "publication": 0.95,
        "band": (0.94, 0.96),
        "rule": "95 % read as 94-96 %",
        "kind": "percent",
        "better": "higher",
        "method": "abft",
        "measured_as": "ABFT only: secure key rate at 20 % / at 0 % Byzantine, no "
        "fluctuations, per seed",
        "short": "ABFT-only key rate retained at 20 %",
    },
    {
        "id": "baseline_key_rate_drop",
        "claim": "the baseline loses 50 % of its key rate at 20 % Byzantine nodes",
        "publication": 0.50,
        "band": (0.45, 0.55),
        "rule": "50 % retained read as 45-55 %",
        "kind": "percent",
        "better": None,
        "method": "baseline",
        "measured_as": "baseline: secure key rate at 20 % / at 0 % Byzantine, no fluctuations",
        "short": "baseline key rate retained at 20 %",
    },
    {
        "id": "qber_below_1pct",
        "claim": "QBER stays below 1 %",
        "publication": 0.01,
        "band": (0.0, 0.01),
        "rule": "below 1 %",
        "kind": "percent",
        "better": "lower",
        "method": "abft_dra",
        "measured_as": "ABFT + DRA: mean QBER of the live links at 20 % Byzantine, with "
        "fluctuations",
        "short": "ABFT + DRA mean QBER",
    },
    {
        "id": "availability_abft_dra",
        "claim": "availability 99.99 %",
        "publication": 0.9999,
        "band": (0.9999, 1.0),
        "rule": "at least 99.99 %",
        "kind": "fraction",
        "better": "higher",
        "method": "abft_dra",
        "measured_as": "ABFT + DRA: availability at 20 % Byzantine, no fluctuations",
        "short": "ABFT + DRA availability at 20 %",
    },
    {
        "id": "availability_baseline",
        "claim": "baseline availability 95 %",
        "publication": 0.95,
        "band": (0.945, 0.955),
        "rule": "95 % read as 94.5-95.5 %",
        "kind": "fraction",
        "better": None,
        "method": "baseline",
        "measured_as": "baseline: availability at 20 % Byzantine, no fluctuations",
        "short": "baseline availability at 20 %",
    },
    {
        "id": "qber_variance_reduction",
        "claim": "QBER variance 35 % lower under fluctuations",
        "publication": 0.35,
        "band": (0.30, 0.40),
        "rule": "35 % read as 30-40 %",
        "kind": "percent",
        "better": "higher",
        "method": "abft_dra",
        "measured_as": "(var_baseline - var_abft_dra) / var_baseline of the live-link QBER, "
        "20 % Byzantine, with fluctuations, paired by seed",
        "short": "QBER variance cut, ABFT + DRA vs baseline",
    },
    {
        "id": "convergence",
        "claim": "the DQN converges within 500 episodes",
        "publication": 500.0,
        "band": (0.0, 500.0),
        "rule": "at most 500 episodes",
        "kind": "episodes",
        "better": "lower",
        "method": "abft_dra",
        "measured_as": "ABFT + DRA DDQN: training episodes until the greedy policy's held-out "
        "return (20 % Byzantine) stays within 10 % (of its range) of its final plateau",
        "short": "ABFT + DRA DDQN episodes to convergence",
    },
    {
        "id": "zero_wrong_keys",
        "claim": "ABFT + multi-path delivers no undetected wrong key at 20 % Byzantine nodes "
        "(acceptance)",
        "publication": 0.0,
        "band": (0.0, 0.0),
        "rule": "exactly 0 in every seed",
        "kind": "count",
        "better": None,
        "method": "abft",
        "measured_as": "ABFT only and ABFT + DRA: undetected wrong keys per seed at 20 % "
        "Byzantine (both fluctuation settings; ABFT only checked byte by byte)",
        "short": "undetected wrong keys, ABFT + multipath",
    },
)


# --------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------


def _default_agent() -> DQNConfig:
    """The publication's DQN: prioritised replay, Adam at 1e-3, discount 0.99.

    640 training episodes of 20 epochs (12,800 env steps, past the 500 episodes the
    publication needed) with 16 copies and one gradient step per vector step; epsilon decays
    over the first 40 % and the loss is Huber (our choices; the publication fixes neither).
    """
    return DQNConfig(
        exp_name="ddqn_per",
        total_env_steps=12_800,
        prioritized=True,
        lr=1e-3,
        gamma=0.99,
        buffer_size=20_000,
        learning_starts=640,
        exploration_fraction=0.4,
        loss="huber",
        target_update=16,
    )


class ResilienceStudyConfig(ConfigBase):
    """Everything that defines a resilience-study run (seeds included).

    Training seeds are ``seed0 .. seed0 + seeds - 1``; the evaluation episodes of seed index
    ``i`` are drawn from ``default_rng([seed0 + i + eval_seed_offset, fluctuating])``, the
    same for every method and every Byzantine fraction: demand and fluctuations are then
    identical across methods and fractions, only the faults differ, so comparisons and
    the key rate retained are paired.
    """

    env: ResilienceEnvConfig = Field(
        default_factory=ResilienceEnvConfig,
        description=(
            "Base env; routing, ABFT and scenario lists are set per configuration (see method_env)."
        ),
    )
    agent: DQNConfig = Field(
        default_factory=_default_agent, description="DDQN hyperparameters (PER on)."
    )
    seeds: int = Field(10, ge=1, le=1000, description="Seeds per configuration.")
    seed0: int = Field(0, ge=0, le=2**31 - 1, description="First seed.")
    num_envs: int = Field(16, ge=1, le=1024, description="Copies stepped together in training.")
    eval_copies: int = Field(
        8, ge=1, le=1024, description="Evaluation episodes per method, seed and scenario."
    )
    eval_seed_offset: int = Field(
        1_000_000, ge=1, le=2**40, description="Evaluation seed = seed + this (disjoint)."
    )
    byzantine_fractions: tuple[float, ...] = Field(
        (0.0, 0.1, 0.2, 0.3),
        min_length=1,
        description="Byzantine fractions evaluated (each in [0, 0.3]; must include 0 and 0.2).",
    )
    fluctuating: tuple[bool, ...] = Field(
        (False, True), min_length=1, description="Fluctuation settings evaluated."
    )
    multipath_paths: int = Field(
        2, ge=1, le=16, description="Shares (node-disjoint paths) of the ABFT configurations."
    )
    multipath_threshold: int = Field(
        2, ge=1, le=16, description="Shares needed to rebuild a key (ABFT configurations)."
    )
    dra_candidate_paths: int = Field(
        3, ge=1, le=16, description="Candidate shortest paths of DRA-only routing."
    )
    byte_level_methods: tuple[str, ...] = Field(
        ("abft",),
        description=(
            "Configurations evaluated byte by byte (real relaying, shares, decoding and MAC "
            "checks) at the headline Byzantine fraction, to check 'no undetected wrong key'."
        ),
    )
    regression_points: int = Field(
        300, ge=10, le=100_000, description="(loss, QBER) points kept per unit for the figure."
    )
    convergence_window: int = Field(
        3,
        ge=1,
        le=1_000_000,
        description=(
            "Moving-average window (in evaluation points) of episodes_to_convergence on the "
            "greedy-policy evaluation curve."
        ),
    )
    eval_every_episodes: int = Field(
        40,
        ge=1,
        le=1_000_000,
        description=(
            "Training episodes between two greedy evaluations (fixed held-out episodes at 20 % "
            "Byzantine, static and fluctuating) that make the convergence curve."
        ),
    )
    convergence_tolerance: float = Field(
        0.10, ge=0.0, le=1.0, description="Band half-width of episodes_to_convergence."
    )
    confidence: float = Field(0.95, gt=0.0, lt=1.0, description="Confidence level.")
    bootstrap_resamples: int = Field(
        9999, ge=1, le=1_000_000, description="Bootstrap resamples of every interval."
    )
    ci_method: Literal["BCa", "percentile", "basic"] = Field(
        "BCa", description="Bootstrap interval method (see stats.bootstrap_ci)."
    )
    make_plots: bool = Field(True, description="Write the PNG figures.")

    @field_validator("byzantine_fractions")
    @classmethod
    def _fractions(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0.0 <= x <= 0.3 for x in v):
            raise ValueError("every fraction must be in the range [0.0, 0.3]")
        if 0.0 not in v or 0.2 not in v:
            raise ValueError("must include 0.0 (the attack-free reference) and 0.2 (the claims)")
        return tuple(sorted(set(v)))

    @field_validator("multipath_threshold")
    @classmethod
    def _threshold(cls, v: int, info: ValidationInfo) -> int:
        n = info.data.get("multipath_paths")
        if n is not None and v > n:
            raise ValueError(f"must be in the range [1, multipath_paths = {n}]")
        return v

    @field_validator("byte_level_methods")
    @classmethod
    def _methods(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [m for m in v if m not in METHODS]
        if bad:
            raise ValueError(f"unknown configuration {bad[0]!r}; known: {', '.join(METHODS)}")
        return v

    @field_validator("num_envs")
    @classmethod
    def _num_envs(cls, v: int, info: ValidationInfo) -> int:
        agent, env = info.data.get("agent"), info.data.get("env")
        if agent is not None and env is not None and agent.total_env_steps < v * env.horizon:
            raise ValueError(
                f"must let every copy finish one training episode: num_envs * env.horizon = "
                f"{v * env.horizon} exceeds agent.total_env_steps={agent.total_env_steps}"
            )
        if agent is not None and v > agent.buffer_size:
            raise ValueError(f"must be at most agent.buffer_size={agent.buffer_size}")
        return v

    @classmethod
    def quick(cls) -> ResilienceStudyConfig:
        """Small preset for ``--quick`` and the demo: 2 seeds, 320 training episodes."""
        return cls(
            seeds=2,
            agent=_default_agent().with_overrides(
                {"total_env_steps": 6_400, "learning_starts": 320}
            ),
            eval_copies=4,
            bootstrap_resamples=1999,
            eval_every_episodes=20,
        )

    def seed(self, index: int) -> int:
        """Training seed of seed index ``index``."""
        return self.seed0 + index

    def scenarios(self) -> list[tuple[float, bool]]:
        """(Byzantine fraction, fluctuating) of every evaluated scenario, in a fixed order."""
        return [(b, f) for f in self.fluctuating for b in self.byzantine_fractions]


def scenario_label(byzantine_fraction: float, fluctuating: bool) -> str:
    """Stable key of a scenario, e.g. ``byz20_fluct``.

    Examples
    --------
    >>> scenario_label(0.2, True), scenario_label(0.0, False)
    ('byz20_fluct', 'byz00_static')
    """
    return f"byz{round(100 * byzantine_fraction):02d}_{'fluct' if fluctuating else 'static'}"


def method_env(config: ResilienceStudyConfig, method: str) -> ResilienceEnvConfig:
    """The env of one configuration (routing and ABFT set; every scenario in the lists)."""
    net = config.env.network
    if method in ("abft", "abft_dra", "greedy"):
        net = net.model_copy(
            update={
                "routing": "multipath",
                "n_paths": config.multipath_paths,
                "threshold": config.multipath_threshold,
                "candidate_paths": None,
            }
        )
        abft = True
    else:
        k = 1 if method == "baseline" else config.dra_candidate_paths
        net = net.model_copy(
            update={"routing": "single", "n_paths": 1, "threshold": 1, "candidate_paths": k}
        )
        abft = False
    return config.env.model_copy(
        update={
            "network": net,
            "abft": abft,
            "byzantine_fractions": config.byzantine_fractions,
            "fluctuating": config.fluctuating,
        }
    )


# --------------------------------------------------------------------------------------------
# rollouts
# --------------------------------------------------------------------------------------------

#: ``act(core, obs) -> actions (B,)``.
ActFn = Callable[[ResilienceCore, NDArray[np.float32]], NDArray[np.int64]]


def rollout(
    core: ResilienceCore,
    act: ActFn,
    rng: np.random.Generator,
    *,
    byzantine_fraction: float,
    fluctuating: bool,
    oracle: bool = False,
    points: int = 300,
) -> dict[str, Any]:
    """One episode in every copy of ``core`` under ``act``; the unit's scenario record.

    Parameters
    ----------
    core : ResilienceCore
        Batched env (reset here).
    act : callable
        ``act(core, obs)`` -> actions (B,).
    rng : numpy.random.Generator
        Seeds the episode (same generator state: same faults, demand and fluctuations).
    byzantine_fraction, fluctuating
        The scenario.
    oracle : bool
        Per-slot true-channel link settings (the greedy reference).
    points : int
        (loss, QBER) pairs kept for the scatter figure.

    Returns
    -------
    dict
        The metrics of :data:`METRICS` (but ``key_rate_retained``), the simulator's Wilson
        interval of the availability, and sufficient statistics of the QBER-on-loss
        regression with a sample of points.
    """
    obs = core.reset(rng, byzantine_fraction=byzantine_fraction, fluctuating=fluctuating)
    b = core.batch_size
    ret = np.zeros(b)
    qsum, qn = np.zeros(b), np.zeros(b)
    lsum, lsq, ln = (np.zeros((b, core.n_links)) for _ in range(3))
    ops = np.zeros(b)
    actions = np.zeros(core.n_actions, dtype=np.int64)
    xs: list[NDArray[np.float64]] = []
    ys: list[NDArray[np.float64]] = []
    for _ in range(core.config.horizon):  # loop over epochs only
        a = np.asarray(act(core, obs), dtype=np.int64)
        actions += np.bincount(a, minlength=core.n_actions)
        obs, reward, _, info = core.step(a, oracle=oracle)
        ret += reward
        st = core.last_stats
        qsum += st.qber_sum
        qn += st.qber_count
        lsum += st.qber_link_sum
        lsq += st.qber_link_sumsq
        ln += st.qber_link_count
        ops += info["operations"]
        cond, slot = core.sim.last_conditions, core.sim.link_slot
        assert cond is not None and slot is not None
        live = slot.eta > 0.0
        loss = core.table.nominal_loss_db + cond.extra_loss_db
        xs.append(loss[live])
        ys.append(slot.qber[live])
    summary = core.sim.result().summary()
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_c = qsum / qn
        link_mean = lsum / ln
        var_link = np.where(ln >= 2, np.maximum(lsq / ln - link_mean**2, 0.0), np.nan)
    x, y = np.concatenate(xs), np.concatenate(ys)
    pick = np.random.default_rng(0).permutation(x.size)[:points]
    out: dict[str, Any] = {
        "secure_key_rate_bps": summary["secure_key_rate_bps"],
        "availability": summary["availability"],
        "availability_ci_low": summary["availability_ci_low"],
        "availability_ci_high": summary["availability_ci_high"],
        "availability_trials": summary["availability_trials"],
        "availability_correct": summary["served_ok"] + summary["served_corrected"],
        "wrong_keys_undetected": summary["wrong_keys_undetected"],
        "exposure_fraction": summary["exposure_fraction"],
        "qber_mean": float(np.nanmean(mean_c)),
        "qber_var": float(np.nanmean(var_link)),
        "episode_return": float(ret.mean()),
        "replicated_ops_per_epoch": float(ops.mean() / core.config.horizon),
        "byte_level_mismatches": summary["byte_level_mismatches"],
        "action_counts": actions.tolist(),
        "regression": {
            "n": int(x.size),
            "sx": float(x.sum()),
            "sy": float(y.sum()),
            "sxx": float(x @ x),
            "sxy": float(x @ y),
            "syy": float(y @ y),
            "points_loss_db": x[pick].tolist(),
            "points_qber": y[pick].tolist(),
        },
    }
    if core.trust is not None:
        byz = core.sim.faults.byzantine
        frac = core.trust.weights / core.trust.w0
        out["byzantine_weight_fraction"] = float(frac[byz].mean()) if byz.any() else math.nan
        out["honest_weight_min_fraction"] = float(frac[~byz].min())
    else:
        out["byzantine_weight_fraction"] = math.nan
        out["honest_weight_min_fraction"] = math.nan
    return out


def _policy(method: str, trained: Any) -> tuple[ActFn, bool]:
    """The act function of a configuration and whether it is the true-channel oracle."""
    from qnetrl.agents.resilience_baselines import GreedyOraclePolicy, StaticPolicy

    if method in LEARNED:

        def act(core: ResilienceCore, obs: NDArray[np.float32]) -> NDArray[np.int64]:
            return trained(obs)

        return act, False
    policy: Any = (
        GreedyOraclePolicy()
        if method == "greedy"
        else StaticPolicy(route="trust" if method == "abft" else "shortest")
    )

    def act_static(core: ResilienceCore, obs: NDArray[np.float32]) -> NDArray[np.int64]:
        return policy.act(core)

    return act_static, bool(policy.oracle)


def _run_unit(
    config: ResilienceStudyConfig,
    method: str,
    index: int,
    progress: Callable[[float], None] | None = None,
    tensorboard_dir: Path | None = None,
) -> dict[str, Any]:
    """Train (learned methods) and evaluate one configuration for one seed."""
    start = time.perf_counter()
    env_cfg = method_env(config, method)
    unit: dict[str, Any] = {
        "method": method,
        "seed_index": index,
        "seed": config.seed(index),
        "eval_seed": config.seed(index) + config.eval_seed_offset,
    }
    trained = None
    if method in LEARNED:
        import torch

        from qnetrl.agents.dqn import train
        from qnetrl.envs.resilience.gym_env import ResilienceVectorEnv

        torch.set_num_threads(1)
        envs = ResilienceVectorEnv(config.num_envs, env_cfg)

        def on_progress(done: int, total: int) -> None:
            if progress is not None:
                progress(0.8 * done / total)

        eval_core = ResilienceCore(env_cfg, 4)
        eval_seed = config.seed(index) + 2 * config.eval_seed_offset  # never an eval episode

        def eval_fn(policy: Any) -> float:
            def greedy(core: ResilienceCore, obs: NDArray[np.float32]) -> NDArray[np.int64]:
                return policy(obs)

            returns = [
                rollout(
                    eval_core,
                    greedy,
                    np.random.default_rng([eval_seed, int(fl)]),
                    byzantine_fraction=0.2,
                    fluctuating=fl,
                    points=1,
                )["episode_return"]
                for fl in config.fluctuating
            ]
            return float(np.mean(returns))

        every = config.eval_every_episodes * env_cfg.horizon
        tb = TensorBoardLogger(tensorboard_dir) if tensorboard_dir is not None else None
        try:
            res = train(
                config.agent,
                envs,
                config.seed(index),
                progress=on_progress,
                eval_fn=eval_fn,
                eval_every=every,
                on_log=tb,
            )
        finally:
            if tb is not None:
                tb.close()
        trained = res.policy
        curve = res.episode_returns
        eval_episodes = res.eval_steps / env_cfg.horizon
        points = res.eval_returns
        window = max(1, min(config.convergence_window, points.size // 2))
        k = (
            stats.episodes_to_convergence(
                points, window=window, tolerance=config.convergence_tolerance
            )
            if points.size
            else None
        )
        unit["train"] = {
            "episode_returns": curve.tolist(),
            "episodes": int(curve.size),
            "eval_episodes": eval_episodes.tolist(),
            "eval_returns": points.tolist(),
            "env_steps": int(res.env_steps),
            "num_updates": int(res.num_updates),
            "convergence_window": window,
            "episodes_to_convergence": None if k is None else float(eval_episodes[k]),
            "wall_s": res.wall_time_s,
        }
    act, oracle = _policy(method, trained)
    scenarios: dict[str, Any] = {}
    todo = config.scenarios()
    for j, (byz, fl) in enumerate(todo):
        cfg = env_cfg
        if method in config.byte_level_methods and byz == 0.2:
            cfg = env_cfg.model_copy(
                update={"network": env_cfg.network.model_copy(update={"byte_level": True})}
            )
        core = ResilienceCore(cfg, config.eval_copies)
        rng = np.random.default_rng([unit["eval_seed"], int(fl)])
        rec = rollout(
            core,
            act,
            rng,
            byzantine_fraction=byz,
            fluctuating=fl,
            oracle=oracle,
            points=config.regression_points,
        )
        rec["byzantine_fraction"], rec["fluctuating"] = byz, fl
        rec["byte_level"] = bool(cfg.network.byte_level)
        scenarios[scenario_label(byz, fl)] = rec
        if progress is not None:
            done = 0.8 if method in LEARNED else 0.0
            progress(done + (1.0 - done) * (j + 1) / len(todo))
    for byz, fl in todo:  # key rate retained relative to the attack-free run of the seed
        ref = scenarios[scenario_label(0.0, fl)]["secure_key_rate_bps"]
        rec = scenarios[scenario_label(byz, fl)]
        rec["key_rate_retained"] = rec["secure_key_rate_bps"] / ref if ref > 0 else math.nan
    unit["scenarios"] = scenarios
    if method in LEARNED:
        conv = unit["train"]["episodes_to_convergence"]
        unit["episodes_to_convergence"] = math.nan if conv is None else float(conv)
    unit["wall_s"] = time.perf_counter() - start
    return unit


# --------------------------------------------------------------------------------------------
# statistics and claims
# --------------------------------------------------------------------------------------------


def _summarize(
    values: Sequence[float | None], config: ResilienceStudyConfig, rng: np.random.Generator
) -> dict[str, Any]:
    x = np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)
    ok = np.isfinite(x)
    out: dict[str, Any]
    if not ok.any():
        out = {"mean": None, "ci_low": None, "ci_high": None, "std": None, "n": 0}
    elif np.ptp(x[ok]) == 0.0:  # a constant sample: the interval is the value itself
        v = float(x[ok][0])
        out = {"mean": v, "ci_low": v, "ci_high": v, "std": 0.0, "n": int(ok.sum())}
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = stats.summarize(
                x[ok],
                rng=rng,
                confidence=config.confidence,
                n_resamples=config.bootstrap_resamples,
                method=config.ci_method,
            )
    out["n_excluded"] = int((~ok).sum())
    return out


def _values(
    units: Mapping[tuple[str, int], dict[str, Any]],
    config: ResilienceStudyConfig,
    method: str,
    scenario: str,
    metric: str,
) -> NDArray[np.float64]:
    out = []
    for i in range(config.seeds):
        v = units[(method, i)]["scenarios"][scenario].get(metric)
        out.append(math.nan if v is None else float(v))
    return np.asarray(out, dtype=np.float64)


def _pooled_availability(
    units: Mapping[tuple[str, int], dict[str, Any]],
    config: ResilienceStudyConfig,
    method: str,
    scenario: str,
) -> dict[str, Any]:
    """Availability pooled over seeds with its Wilson interval and the trials behind it."""
    from qnetrl.network.metrics import wilson_interval

    ok = sum(
        int(units[(method, i)]["scenarios"][scenario]["availability_correct"])
        for i in range(config.seeds)
    )
    n = sum(
        int(units[(method, i)]["scenarios"][scenario]["availability_trials"])
        for i in range(config.seeds)
    )
    low, high = wilson_interval(ok, n, config.confidence)
    return {
        "correct": ok,
        "trials": n,
        "availability": ok / n if n else None,
        "wilson_low": float(low),
        "wilson_high": float(high),
    }


def _claims(
    units: Mapping[tuple[str, int], dict[str, Any]],
    config: ResilienceStudyConfig,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    head = scenario_label(0.2, False)
    head_fl = scenario_label(0.2, True in config.fluctuating)
    out = []
    for spec in CLAIMS:
        cid, method = spec["id"], spec["method"]
        note = ""
        if cid.startswith("key_rate_retained") or cid == "baseline_key_rate_drop":
            samples = _values(units, config, method, head, "key_rate_retained")
            metric = "key_rate_retained"
        elif cid == "qber_below_1pct":
            samples = _values(units, config, method, head_fl, "qber_mean")
            metric = "qber_mean"
            if True not in config.fluctuating:
                note = "no fluctuating scenario evaluated; static links used"
        elif cid.startswith("availability"):
            samples = _values(units, config, method, head, "availability")
            metric = "availability"
            pooled = _pooled_availability(units, config, method, head)
            note = (
                f"pooled over seeds: {pooled['correct']} of {pooled['trials']} requests, "
                f"Wilson {100 * config.confidence:.0f} % CI "
                f"[{pooled['wilson_low']:.4f}, {pooled['wilson_high']:.4f}]"
            )
        elif cid == "qber_variance_reduction":
            base = _values(units, config, "baseline", head_fl, "qber_var")
            ours = _values(units, config, method, head_fl, "qber_var")
            with np.errstate(divide="ignore", invalid="ignore"):
                samples = (base - ours) / base
            metric = "qber_var"
        elif cid == "convergence":
            samples = np.array(
                [units[(method, i)]["episodes_to_convergence"] for i in range(config.seeds)],
                dtype=np.float64,
            )
            metric = "episodes_to_convergence"
            episodes = int(units[(method, 0)]["train"]["episodes"])
            n_conv = int(np.isfinite(samples).sum())
            note = f"{n_conv} of {config.seeds} seeds converged within {episodes} episodes"
        else:  # zero_wrong_keys
            wrong = [
                _values(units, config, m, scenario_label(0.2, fl), "wrong_keys_undetected")
                for m in ("abft", "abft_dra")
                for fl in config.fluctuating
            ]
            samples = np.sum(wrong, axis=0)
            metric = "wrong_keys_undetected"
            total = int(np.nansum(samples))
            mism = sum(
                int(units[("abft", i)]["scenarios"][head]["byte_level_mismatches"])
                for i in range(config.seeds)
            )
            note = (
                f"{total} undetected wrong keys over {config.seeds} seeds; byte-level vs "
                f"decoding-bound mismatches {mism}"
            )
        measured = _summarize(list(samples), config, rng)
        verdict = claim_verdict(
            measured["ci_low"], measured["ci_high"], spec["band"], spec["better"]
        )
        if cid == "convergence" and measured["n"] * 2 < config.seeds:
            verdict = "not comparable"
            note += "; fewer than half converged"
        out.append(
            {
                "id": cid,
                "claim": spec["claim"],
                "publication": spec["publication"],
                "band": list(spec["band"]),
                "rule": spec["rule"],
                "kind": spec["kind"],
                "better": spec["better"],
                "baseline": "baseline" if cid == "qber_variance_reduction" else None,
                "metric": metric,
                "measured_as": spec["measured_as"],
                "short": spec["short"],
                "measured": measured,
                "verdict": verdict,
                "note": note,
            }
        )
    return out


def _tests(
    units: Mapping[tuple[str, int], dict[str, Any]], config: ResilienceStudyConfig
) -> dict[str, Any]:
    head = scenario_label(0.2, False)
    out: dict[str, Any] = {}
    for metric in TEST_METRICS:
        groups = {}
        for method in METHODS:
            x = _values(units, config, method, head, metric)
            x = x[np.isfinite(x)]
            if x.size >= 2:
                groups[method] = x
        if "abft_dra" not in groups or len(groups) < 2:
            out[metric] = {"skipped": "needs at least two finite values per method"}
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out[metric] = stats.compare_methods(groups, reference="abft_dra")
    return out


def _regression(
    units: Mapping[tuple[str, int], dict[str, Any]], config: ResilienceStudyConfig
) -> dict[str, Any]:
    """Least-squares QBER = a + b * loss_dB per method, pooled over seeds and scenarios.

    Uses the fluctuating scenarios when there are any (the loss then varies), else all.
    """
    out: dict[str, Any] = {}
    use = [s for s in config.scenarios() if s[1]] or config.scenarios()
    for method in METHODS:
        acc = dict.fromkeys(("n", "sx", "sy", "sxx", "sxy", "syy"), 0.0)
        for i in range(config.seeds):
            for byz, fl in use:
                reg = units[(method, i)]["scenarios"][scenario_label(byz, fl)]["regression"]
                for k in acc:
                    acc[k] += float(reg[k])
        n = acc["n"]
        rec: dict[str, Any] = {"n": int(n)}
        if n >= 3:
            mx, my = acc["sx"] / n, acc["sy"] / n
            cxx = acc["sxx"] / n - mx * mx
            cxy = acc["sxy"] / n - mx * my
            cyy = acc["syy"] / n - my * my
            slope = cxy / cxx if cxx > 0 else math.nan
            rec.update(
                {
                    "slope_per_db": slope,
                    "intercept": my - slope * mx if math.isfinite(slope) else math.nan,
                    "r2": (cxy * cxy) / (cxx * cyy) if cxx > 0 and cyy > 0 else math.nan,
                    "loss_mean_db": mx,
                    "qber_mean": my,
                }
            )
        out[method] = rec
    return out


# --------------------------------------------------------------------------------------------
# run directory
# --------------------------------------------------------------------------------------------


def prepare_run_dir(
    config: ResilienceStudyConfig,
    out: str | Path | None = None,
    *,
    root: str | Path = "runs",
    force: bool = False,
) -> Path:
    """The run directory of the resilience study, with ``config.yaml`` and ``meta.json``.

    ``out=None`` creates ``root/resilience/<timestamp>-<seed0>/``. An unfinished run of the
    same config in ``out`` is kept, so that :func:`run_resilience_study` resumes it; errors and
    ``force`` as in :func:`~qnetrl.experiments.study_runs.prepare_study_run_dir`.
    """
    return prepare_study_run_dir("resilience", config, config.seed0, out, root=root, force=force)


# --------------------------------------------------------------------------------------------
# the study
# --------------------------------------------------------------------------------------------


class ResilienceStudyResult(StudyResult):
    """What :func:`run_resilience_study` returns: run directory, summary, wall time (s)."""


#: Scenario-table columns: (metric, header, kind).
_SCENARIO_COLUMNS: Final[tuple[tuple[str, str, str], ...]] = (
    ("secure_key_rate_bps", "secure key bit/s", "num"),
    ("key_rate_retained", "retained", "percent"),
    ("availability", "availability", "fraction"),
    ("wrong_keys_undetected", "wrong keys", "num"),
    ("exposure_fraction", "exposure", "percent"),
    ("qber_mean", "QBER", "percent"),
    ("qber_var", "QBER var", "num"),
)

#: Console columns at the headline scenario: (header, metric, kind); full CIs in scenarios.md.
_CONSOLE_COLUMNS: Final[tuple[tuple[str, str, str], ...]] = (
    ("key rate bit/s", "secure_key_rate_bps", "num"),
    ("retained", "key_rate_retained", "percent"),
    ("availability", "availability", "fraction"),
    ("wrong keys", "wrong_keys_undetected", "num"),
    ("exposure", "exposure_fraction", "percent"),
)


def _scenario_tables(
    scen: Mapping[str, Mapping[str, Mapping[str, Any]]], config: ResilienceStudyConfig
) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    csv_cols: dict[str, list[Any]] = {"method": [], "scenario": []}
    md: dict[str, list[Any]] = {"configuration": [], "scenario": []}
    for metric, header, _ in _SCENARIO_COLUMNS:
        for k in ("mean", "ci_low", "ci_high"):
            csv_cols[f"{metric}_{k}"] = []
        md[header] = []
    csv_cols["availability_trials"] = []
    md["trials"] = []
    for method in METHODS:
        for byz, fl in config.scenarios():
            label = scenario_label(byz, fl)
            rec = scen[method][label]
            csv_cols["method"].append(method)
            csv_cols["scenario"].append(label)
            md["configuration"].append(method)
            md["scenario"].append(label)
            for metric, header, kind in _SCENARIO_COLUMNS:
                s = rec[metric]
                for k in ("mean", "ci_low", "ci_high"):
                    csv_cols[f"{metric}_{k}"].append(math.nan if s[k] is None else s[k])
                md[header].append(format_interval(kind, s))
            trials = rec["availability_pooled"]["trials"]
            csv_cols["availability_trials"].append(trials)
            md["trials"].append(trials)
    return csv_cols, md


def run_resilience_study(
    config: ResilienceStudyConfig,
    run_dir: str | Path,
    *,
    console: Console | None = None,
    show_progress: bool = True,
    tensorboard: bool = False,
) -> ResilienceStudyResult:
    """Run the resilience study into ``run_dir`` (see :func:`prepare_run_dir`), resuming.

    Every (method, seed) unit is written to ``units/<method>-seed<k>.json`` when it
    finishes and read back instead of recomputed on a later call; statistics, claims, tables
    and figures are computed from the unit files, so they do not depend on resumption.

    Parameters
    ----------
    config : ResilienceStudyConfig
        The study.
    run_dir : str or Path
        Output directory.
    console : rich.console.Console, optional
        Where tables and progress lines go.
    show_progress : bool, default True
        Print one line per unit.
    tensorboard : bool, default False
        Also log the training curves of the units run now to TensorBoard event files under
        ``tensorboard/<method>-seed<k>/`` (needs the ``tensorboard`` package).

    Returns
    -------
    ResilienceStudyResult
        Run directory, summary and wall time of this call (in s).
    """
    if tensorboard:
        require_tensorboard()
    start = time.perf_counter()
    console = console or Console()
    run_dir = Path(run_dir)

    def run_unit(method: str, index: int, progress: Callable[[float], None]) -> dict[str, Any]:
        tb_dir = unit_logdir(run_dir, method, index) if tensorboard else None
        return json_safe(_run_unit(config, method, index, tensorboard_dir=tb_dir))

    units, resumed = run_study_units(
        "resilience",
        METHODS,
        config.seeds,
        run_dir,
        run_unit,
        seed_of=config.seed,
        console=console,
        show_progress=show_progress,
    )

    rng = np.random.default_rng([config.seed0, 20_250_505])
    scen: dict[str, dict[str, dict[str, Any]]] = {}
    for method in METHODS:
        scen[method] = {}
        for byz, fl in config.scenarios():
            label = scenario_label(byz, fl)
            rec = {
                metric: _summarize(list(_values(units, config, method, label, metric)), config, rng)
                for metric in SCENARIO_METRICS
            }
            rec["availability_pooled"] = _pooled_availability(units, config, method, label)
            scen[method][label] = rec
    head = scenario_label(0.2, False)
    methods_summary: dict[str, dict[str, Any]] = {}
    for method in METHODS:
        methods_summary[method] = {m: scen[method][head][m] for m in SCENARIO_METRICS}
        if method in LEARNED:
            conv = [units[(method, i)]["episodes_to_convergence"] for i in range(config.seeds)]
            methods_summary[method]["episodes_to_convergence"] = _summarize(conv, config, rng)
    claims = _claims(units, config, rng)
    tests = _tests(units, config)
    regression = _regression(units, config)

    claims_csv, claims_md, claims_con = claims_columns(
        claims, interval_header="measured [CI]", baseline=False, claim_width=60
    )
    write_table(claims_csv, run_dir / "table", markdown=claims_md)
    scen_csv, scen_md = _scenario_tables(scen, config)
    write_table(scen_csv, run_dir / "scenarios", markdown=scen_md)

    figures: list[str] = []
    if config.make_plots:
        from qnetrl.experiments import resilience_plots

        figures = resilience_plots.write_figures(
            run_dir, config=config, units=units, scenarios=scen, regression=regression
        )
    wall_s = time.perf_counter() - start
    summary = json_safe(
        {
            "study": "resilience",
            "title": "Resilience study: ABFT and DRA under Byzantine nodes and fluctuations",
            "methods": methods_summary,
            "claims": claims,
            "tests": tests,
            "scenarios": scen,
            "qber_vs_loss": regression,
            "metrics": dict(METRICS),
            "method_labels": dict(METHOD_LABELS),
            "headline_scenario": head,
            "figures": figures,
            "config": config.model_dump(mode="json"),
            "timing": {
                "wall_s": wall_s,
                "units_wall_s": {
                    m: float(sum(units[(m, i)]["wall_s"] for i in range(config.seeds)))
                    for m in METHODS
                },
                "units_resumed": resumed,
            },
        }
    )
    write_json(run_dir / "summary.json", summary)
    con: dict[str, list[Any]] = {"configuration": list(METHODS)}
    for header, metric, kind in _CONSOLE_COLUMNS:
        con[header] = [format_measure(kind, scen[m][head][metric]["mean"]) for m in METHODS]
    print_table(con, f"Resilience study at {head} (means over seeds; CIs in scenarios.md)", console)
    print_table(claims_con, "Resilience study: publication claims vs our measurement", console)
    console.print(
        f"resilience study: {config.seeds} seeds x {len(METHODS)} configurations x "
        f"{len(config.scenarios())} scenarios, wall time {wall_s:.1f} s ({resumed} units "
        f"resumed); outputs in {run_dir}",
        highlight=False,
    )
    return ResilienceStudyResult(run_dir=run_dir, summary=summary, wall_s=wall_s)


# --------------------------------------------------------------------------------------------
# sweep runner
# --------------------------------------------------------------------------------------------


def validate_config(config: dict[str, Any]) -> ResilienceStudyConfig:
    """A resilience-study config from plain data (raises ConfigError naming the field)."""
    return ResilienceStudyConfig.validate_dict(config, source="resilience study config")


def run_resilience_sweep(
    config: dict[str, Any],
    seed: int,
    run_dir: str | Path,
    *,
    resume: bool = False,
    tensorboard: bool = False,
) -> dict[str, Any]:
    """The study as a sweep run: the sweep seed becomes ``seed0``; console to console.txt."""
    cfg = ResilienceStudyConfig.validate_dict(
        {**config, "seed0": int(seed)}, source="resilience study config"
    )
    return run_study_as_sweep_run(
        run_resilience_study, cfg, run_dir, resume=resume, tensorboard=tensorboard
    )
