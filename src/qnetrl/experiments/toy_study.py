"""A tiny built-in study that exercises the sweep runner end to end in a few seconds.

The toy study trains Double DQN (:func:`qnetrl.agents.dqn.train`) on a small edge-scheduling
environment (:class:`~qnetrl.envs.edge.gym_env.EdgeSchedulingVectorEnv`, three nodes, short
episodes) with training checkpoints, then evaluates the greedy policy beside the random and
least-loaded heuristics on the same held-out episodes. Its ``summary.json`` has the keys every
study shares (``methods``, ``claims``, ``tests``, ``config``), so the report renders it like a
real study; its single "claim" is a sanity check with no publication behind it. The study is
cheap and deterministic: a config plus a seed gives bit-identical summaries whether the run
was interrupted and resumed or not, which is what the sweep tests rely on. A fault-injection
field (``fail_after_steps``) makes a run raise on purpose, to test failure handling.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any, Final

import numpy as np
from pydantic import Field

from qnetrl.agents.dqn import DQNConfig
from qnetrl.config import ConfigBase
from qnetrl.envs.edge.core import EdgeEnvConfig
from qnetrl.experiments import stats
from qnetrl.experiments.rundir import atomic_write_text
from qnetrl.experiments.tensorboard import TensorBoardLogger

__all__ = ["TOY_METHODS", "InjectedFault", "ToyStudyConfig", "run_toy_study", "validate_toy_config"]

#: Methods of the toy study, in report order.
TOY_METHODS: Final[tuple[str, ...]] = ("ddqn", "random", "least_loaded")


class InjectedFault(RuntimeError):
    """Raised on purpose by a toy run whose ``fail_after_steps`` is set."""


def _toy_env() -> EdgeEnvConfig:
    return EdgeEnvConfig(horizon=10)


def _toy_agent() -> DQNConfig:
    return DQNConfig(
        exp_name="toy",
        total_env_steps=2_000,
        hidden_sizes=(32,),
        batch_size=32,
        buffer_size=2_000,
        learning_starts=200,
        target_update=2,
        loss="huber",
    )


class ToyStudyConfig(ConfigBase):
    """Config of the toy study (one run = this config plus a seed)."""

    env: EdgeEnvConfig = Field(
        default_factory=_toy_env, description="Environment (default: 3 nodes, horizon 10)."
    )
    agent: DQNConfig = Field(
        default_factory=_toy_agent, description="DDQN hyperparameters (default: 2,000 env steps)."
    )
    num_envs: int = Field(4, ge=1, le=256, description="Environment copies stepped together.")
    eval_episodes: int = Field(
        16, ge=2, le=10_000, description="Held-out evaluation episodes per method."
    )
    eval_seed_offset: int = Field(
        1_000_000, ge=1, le=2**40, description="Evaluation seed = run seed + this offset."
    )
    checkpoint_every: int | None = Field(
        400, ge=1, description="Env steps between training checkpoints (None: no checkpoints)."
    )
    bootstrap_resamples: int = Field(
        999, ge=1, le=1_000_000, description="Bootstrap resamples of every interval."
    )
    confidence: float = Field(0.95, gt=0.0, lt=1.0, description="Confidence level of intervals.")
    fail_after_steps: int | None = Field(
        None,
        ge=0,
        description="Fault injection: raise InjectedFault once training reaches this many env "
        "steps (None: never). Tests use it to check that a failing run does not stop a sweep.",
    )


def validate_toy_config(config: dict[str, Any]) -> ToyStudyConfig:
    """Validate a toy-study config dict (errors name the field and its allowed range)."""
    return ToyStudyConfig.validate_dict(config, source="toy study config")


def _clean(obj: Any) -> Any:
    """Non-finite floats to None and numpy scalars to Python, recursively (plain JSON)."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, float | np.floating):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def run_toy_study(
    config: dict[str, Any],
    seed: int,
    run_dir: str | Path,
    *,
    resume: bool = False,
    tensorboard: bool = False,
) -> dict[str, Any]:
    """Train and evaluate one toy run; returns the JSON-ready summary.

    Parameters
    ----------
    config : dict
        :class:`ToyStudyConfig` fields (missing ones take their defaults).
    seed : int
        Training seed; evaluation uses ``seed + eval_seed_offset``.
    run_dir : str or Path
        Directory for ``config.yaml``, ``train.jsonl`` and ``checkpoint.pt``.
    resume : bool, default False
        Continue training from ``checkpoint.pt`` when it exists.
    tensorboard : bool, default False
        Also log the training records to TensorBoard event files in ``tensorboard/`` (a
        resumed run drops the events written after the checkpoint).

    Returns
    -------
    dict
        ``study``, ``seed``, ``methods`` (per method: ``episode_reward`` summary), ``claims``,
        ``tests``, ``train`` (curve, counts, a SHA-256 of the final weights) and ``config``.
        Nothing in it depends on wall time, so equal inputs give equal summaries.

    Raises
    ------
    InjectedFault
        When ``fail_after_steps`` is set and training reaches it.
    """
    import torch

    from qnetrl.agents.dqn import evaluate, train
    from qnetrl.agents.heuristics import LeastLoadedPolicy
    from qnetrl.envs.edge.gym_env import EdgeSchedulingVectorEnv

    cfg = validate_toy_config(config)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", cfg.to_yaml())
    ckpt = run_dir / "checkpoint.pt"
    log = run_dir / "train.jsonl"
    if not (resume and ckpt.exists()):
        log.unlink(missing_ok=True)  # a fresh start must not append to an old log

    def progress(env_steps: int, total: int) -> None:
        if cfg.fail_after_steps is not None and env_steps >= cfg.fail_after_steps:
            raise InjectedFault(
                f"fault injected by fail_after_steps={cfg.fail_after_steps} at env step {env_steps}"
            )

    envs = EdgeSchedulingVectorEnv(cfg.num_envs, cfg.env)
    resuming = resume and cfg.checkpoint_every is not None and ckpt.exists()
    tb = TensorBoardLogger(run_dir / "tensorboard", fresh=not resuming) if tensorboard else None
    try:
        res = train(
            cfg.agent,
            envs,
            int(seed),
            log_path=log,
            on_log=tb,
            progress=progress,
            checkpoint_path=ckpt if cfg.checkpoint_every is not None else None,
            checkpoint_every=cfg.checkpoint_every,
            resume=resume and cfg.checkpoint_every is not None,
        )
    finally:
        if tb is not None:
            tb.close()

    eval_seed = int(seed) + cfg.eval_seed_offset
    eval_envs = EdgeSchedulingVectorEnv(min(cfg.num_envs, cfg.eval_episodes), cfg.env)
    random_rng = np.random.default_rng([eval_seed, 1])
    least = LeastLoadedPolicy()
    n_nodes = cfg.env.n_nodes
    policies = {
        "ddqn": res.policy,
        "random": lambda obs: random_rng.integers(0, n_nodes, size=len(obs)),
        "least_loaded": lambda obs: least.act(eval_envs.core),
    }
    returns = {
        m: evaluate(policies[m], eval_envs, cfg.eval_episodes, eval_seed) for m in TOY_METHODS
    }

    rng = np.random.default_rng([int(seed), 7])
    methods = {
        m: {
            "episode_reward": stats.summarize(
                returns[m],
                rng=rng,
                confidence=cfg.confidence,
                n_resamples=cfg.bootstrap_resamples,
                method="percentile",
            )
        }
        for m in TOY_METHODS
    }
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = (returns["ddqn"] - returns["random"]) / np.abs(returns["random"])
    gain = gain[np.isfinite(gain)]
    measured = (
        stats.summarize(
            gain,
            rng=rng,
            confidence=cfg.confidence,
            n_resamples=cfg.bootstrap_resamples,
            method="percentile",
        )
        if gain.size
        else {"mean": None, "ci_low": None, "ci_high": None, "std": None, "n": 0}
    )
    if measured["ci_low"] is None:
        verdict = "not comparable"
    elif measured["ci_low"] > 0.0:
        verdict = "supported"
    elif measured["ci_high"] < 0.0:
        verdict = "not supported"
    else:
        verdict = "inconclusive"
    claims = [
        {
            "id": "beats_random",
            "claim": "trained DDQN beats uniform random (sanity check, no publication)",
            "publication": None,
            "band": [0.0, None],
            "rule": "relative reward gain > 0",
            "kind": "percent",
            "better": "higher",
            "baseline": "random",
            "metric": "episode_reward",
            "measured_as": "DDQN reward vs random: (R_ddqn - R_rand) / |R_rand|, paired by episode",
            "short": "DDQN reward gain vs random",
            "measured": measured,
            "verdict": verdict,
            "note": f"{res.env_steps} training env steps on a {n_nodes}-node toy environment",
        }
    ]
    weights = b"".join(
        t.detach().cpu().contiguous().numpy().tobytes() for t in res.q_network.state_dict().values()
    )
    summary = {
        "study": "toy",
        "title": "Toy study: DDQN on a small edge-scheduling environment (runner self-test)",
        "seed": int(seed),
        "methods": methods,
        "method_labels": {"ddqn": "DDQN", "random": "random", "least_loaded": "least-loaded"},
        "metrics": {"episode_reward": "undiscounted evaluation-episode return (higher is better)"},
        "claims": claims,
        "tests": {
            "episode_reward": stats.compare_methods(
                {m: returns[m] for m in TOY_METHODS}, reference="ddqn"
            )
        },
        "train": {
            "env_steps": int(res.env_steps),
            "num_updates": int(res.num_updates),
            "episodes": int(res.episode_returns.size),
            "episode_returns": res.episode_returns.tolist(),
            "loss_sum": float(res.losses.astype(np.float64).sum()),
            "weights_sha256": hashlib.sha256(weights).hexdigest(),
            "torch_version": torch.__version__,
        },
        "config": cfg.model_dump(mode="json"),
    }
    return _clean(summary)
