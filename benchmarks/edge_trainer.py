"""Time-to-quality of qnetrl's Double DQN against Stable-Baselines3 DQN on the edge study.

Both learners train, one after the other in the same process, on ``qnetrl/EdgeScheduling-v0``
with the same :class:`~qnetrl.envs.edge.EdgeEnvConfig` (the defaults), the same budget of env
steps and the same Q-network (2 x 64 ReLU), discount (0.99), learning rate (1e-3), minibatch
(64), replay capacity (100,000), warm-up (1,000 env steps), epsilon schedule (1.0 to 0.05,
linear over the same fraction of the budget) and target-network cadence (hard copy every
``I`` env steps, ``I`` the mean interval of qnetrl's "every 10 episodes" rule). Everything else
is each library's own default: SB3 DQN gets its documented defaults (train_freq 4, one gradient
step, Huber loss, max_grad_norm 10, vanilla DQN target, Adam) on its standard single-env setup
(``make_vec_env``: one ``EdgeSchedulingEnv`` in a ``DummyVecEnv`` with a ``Monitor``); qnetrl's
:func:`~qnetrl.agents.dqn.train` gets the study's :class:`~qnetrl.agents.dqn.DQNConfig`
(Double DQN, MSE loss, grad-norm clip 10) on the native batched ``EdgeSchedulingVectorEnv``
with ``--num-envs`` copies (default 16) and ``--updates-per-step`` gradient steps per vector
step (default 1, DQNConfig's default: one gradient step per 16 env steps, where SB3 takes one
per 4). Both use one torch thread; the one-time import that the first torch optimiser
triggers is paid before either clock starts.

Every ``eval_every`` env steps (1 % of the budget; the same points for both) the greedy policy
is evaluated by the same function, :func:`qnetrl.agents.dqn.evaluate`, on the same held-out
episodes (a separately seeded vector env); the random, least-loaded and greedy heuristics are
evaluated on those episodes too. The training clocks exclude evaluation time; both the wall
clock (the headline figure) and this process's CPU time (less sensitive to other processes on a
shared machine) are reported. Quality rules:

1. **SB3-final**: the level is SB3's greedy return at the end of its budget; each learner's
   time-to-quality is its training clock at the first evaluation whose return reaches it.
2. **heuristic-2%**: the level is a mean episode cost within 2 % of the greedy heuristic's
   (return >= 1.02 x the greedy heuristic's return; returns are negative costs).

Run ``python benchmarks/edge_trainer.py [--quick] [--budget-steps N] [--seed S]``. The last
line printed is one JSON object of all figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

import qnetrl
from qnetrl.agents import heuristics
from qnetrl.agents.dqn import DQNConfig, QPolicy, evaluate, train
from qnetrl.envs.edge import EdgeEnvConfig, EdgeSchedulingEnv, EdgeSchedulingVectorEnv

__all__ = ["main", "run_qnetrl", "run_sb3", "time_to_level"]

#: Fraction of the greedy heuristic's episode cost allowed by quality rule 2.
HEURISTIC_SLACK = 0.02


class EvalLog:
    """Greedy evaluations on the held-out episodes, on a training clock that excludes them.

    Parameters
    ----------
    eval_fn : callable
        Maps a policy (obs (B, d) -> actions (B,)) to an array of episode returns.
    """

    def __init__(self, eval_fn: Callable[[Callable[[Any], Any]], np.ndarray]) -> None:
        self.eval_fn = eval_fn
        self.steps: list[int] = []
        self.train_s: list[float] = []
        self.train_cpu_s: list[float] = []
        self.returns: list[float] = []
        self.final_returns: np.ndarray | None = None
        self.total_train_s = 0.0
        self.total_train_cpu_s = 0.0
        self.num_updates = 0
        self.settings: dict[str, Any] = {}
        self.start()

    def start(self) -> None:
        """Start both training clocks (wall clock and this process's CPU time) at zero."""
        self._wall0, self._cpu0 = time.perf_counter(), time.process_time()
        self._eval_wall = self._eval_cpu = 0.0

    def clock(self) -> tuple[float, float]:
        """Seconds of training so far, wall clock and CPU, each minus time spent evaluating."""
        return (
            time.perf_counter() - self._wall0 - self._eval_wall,
            time.process_time() - self._cpu0 - self._eval_cpu,
        )

    def stop(self) -> None:
        """Record the total training time."""
        self.total_train_s, self.total_train_cpu_s = self.clock()

    def __call__(self, policy: Callable[[Any], Any], step: int) -> np.ndarray:
        wall, cpu = time.perf_counter(), time.process_time()
        self.train_s.append(wall - self._wall0 - self._eval_wall)
        self.train_cpu_s.append(cpu - self._cpu0 - self._eval_cpu)
        returns = np.asarray(self.eval_fn(policy), dtype=np.float64)
        self.steps.append(step)
        self.returns.append(float(returns.mean()))
        self.final_returns = returns
        self._eval_wall += time.perf_counter() - wall
        self._eval_cpu += time.process_time() - cpu
        return returns


def time_to_level(log: EvalLog, level: float) -> dict[str, Any]:
    """Training clocks and env steps at the first evaluation with return >= ``level``."""
    rows = zip(log.steps, log.train_s, log.train_cpu_s, log.returns, strict=True)
    for step, secs, cpu, ret in rows:
        if ret >= level:
            return {
                "reached": True,
                "train_s": secs,
                "train_cpu_s": cpu,
                "env_steps": step,
                "return": ret,
            }
    return {
        "reached": False,
        "train_s": None,
        "train_cpu_s": None,
        "env_steps": None,
        "return": None,
    }


def target_interval_env_steps(target_update_episodes: int, num_envs: int, horizon: int) -> float:
    """Mean env steps between qnetrl's target refreshes ("every k episodes" with B copies).

    All B copies truncate together every ``horizon`` vector steps, and :func:`train` refreshes
    the target when the count of finished episodes reaches the next multiple of k; the mean
    interval is taken over ``k`` full cycles of that rule (exact in the long run).
    """
    k = target_update_episodes
    done = refreshes = 0
    nxt = k
    n_batches = k * max(k, num_envs)
    for _ in range(n_batches):
        done += num_envs
        if done >= nxt:
            refreshes += 1
            nxt = (done // k + 1) * k
    return n_batches * num_envs * horizon / refreshes


def run_qnetrl(
    dqn_config: DQNConfig,
    env_config: EdgeEnvConfig,
    num_envs: int,
    seed: int,
    eval_every: int,
    eval_fn: Callable[[Callable[[Any], Any]], np.ndarray],
) -> EvalLog:
    """Train qnetrl's DDQN; returns its evaluation log (final evaluation included)."""
    envs = EdgeSchedulingVectorEnv(num_envs, env_config)
    counter = {"step": 0}
    log = EvalLog(eval_fn)

    def on_eval(policy: QPolicy) -> np.ndarray:
        counter["step"] = min(counter["step"] + eval_every, dqn_config.total_env_steps)
        return log(policy, counter["step"])

    log.start()
    result = train(dqn_config, envs, seed, eval_fn=on_eval, eval_every=eval_every)
    log.stop()
    log.steps = [int(s) for s in result.eval_steps]  # the exact steps train() evaluated at
    log.num_updates = result.num_updates
    return log


def run_sb3(
    env_config: EdgeEnvConfig,
    sb3_kwargs: dict[str, Any],
    budget: int,
    seed: int,
    eval_every: int,
    eval_fn: Callable[[Callable[[Any], Any]], np.ndarray],
) -> EvalLog:
    """Train SB3 DQN; returns its evaluation log (the final model evaluated after ``learn``)."""
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env(EdgeSchedulingEnv, n_envs=1, seed=seed, env_kwargs={"config": env_config})
    log = EvalLog(eval_fn)

    class Evaluate(BaseCallback):
        """Evaluate the greedy policy at the same env-step points as qnetrl (final excluded)."""

        def __init__(self) -> None:
            super().__init__()
            self.next_eval = eval_every

        def _on_step(self) -> bool:
            if self.num_timesteps >= self.next_eval and self.num_timesteps < budget:
                model = self.model
                log(lambda obs: model.predict(obs, deterministic=True)[0], self.num_timesteps)
                self.next_eval += eval_every
            return True

    log.start()
    model = DQN("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **sb3_kwargs)
    model.learn(total_timesteps=budget, callback=Evaluate())
    log.stop()
    log(lambda obs: model.predict(obs, deterministic=True)[0], int(model.num_timesteps))
    log.num_updates = int(model._n_updates)
    log.settings = {  # read back from the model: what SB3 actually used
        "train_freq": [model.train_freq.frequency, model.train_freq.unit.value],
        "gradient_steps": model.gradient_steps,
        "tau": model.tau,
        "max_grad_norm": model.max_grad_norm,
        "target_update_interval": model.target_update_interval,
        "optimizer": repr(model.policy.optimizer).replace("\n", " "),
        "q_net": repr(model.q_net.q_net).replace("\n", " "),
        "loss": "smooth_l1 (Huber), SB3 DQN.train",
        "target": "DQN max target (no Double)",
        "env": "make_vec_env(EdgeSchedulingEnv, n_envs=1): DummyVecEnv + Monitor",
    }
    return log


def _summary(log: EvalLog, budget: int) -> dict[str, Any]:
    final = log.final_returns
    assert final is not None
    return {
        "final_return": float(final.mean()),
        "final_return_se": float(final.std(ddof=1) / math.sqrt(final.size)),
        "best_eval_return": float(max(log.returns)),
        "train_s": log.total_train_s,
        "train_cpu_s": log.total_train_cpu_s,
        "env_steps_per_s": budget / log.total_train_s,
        "env_steps_per_cpu_s": budget / log.total_train_cpu_s,
        "gradient_updates": log.num_updates,
        "curve": {
            "env_steps": log.steps,
            "train_s": [round(s, 4) for s in log.train_s],
            "train_cpu_s": [round(s, 4) for s in log.train_cpu_s],
            "return": [round(r, 3) for r in log.returns],
        },
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0.0 else a / b


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run both learners, print a table and, last, one JSON line; return the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000-step budget (smoke test)")
    parser.add_argument("--budget-steps", type=int, default=None, help="env steps per learner")
    parser.add_argument("--seed", type=int, default=0, help="training seed of both learners")
    parser.add_argument("--num-envs", type=int, default=16, help="qnetrl's vector-env copies B")
    parser.add_argument(
        "--updates-per-step",
        type=float,
        default=1.0,
        help="qnetrl's gradient steps per vector step",
    )
    parser.add_argument(
        "--exploration-fraction", type=float, default=0.5, help="epsilon-decay share (both)"
    )
    parser.add_argument("--eval-episodes", type=int, default=256, help="held-out episodes")
    args = parser.parse_args(argv)
    budget = args.budget_steps or (20_000 if args.quick else 100_000)
    b = args.num_envs
    checks = (
        ("--budget-steps", budget, 1, None),
        ("--seed", args.seed, 0, None),
        ("--num-envs", b, 1, None),
        ("--eval-episodes", args.eval_episodes, 2, None),
    )
    for name, value, low, _ in checks:
        if value < low:
            parser.error(f"{name} must be an int in the range [{low}, inf). Got {value} instead.")
    if budget % b:
        parser.error(f"--budget-steps must be a multiple of --num-envs={b}. Got {budget} instead.")

    torch.set_num_threads(1)
    # The first torch optimiser imports torch._dynamo (about 1-2 s); pay it before any clock.
    torch.optim.Adam(torch.nn.Linear(1, 1).parameters(), fused=True)
    env_config = EdgeEnvConfig()
    horizon = env_config.horizon
    eval_every = max(b, (budget // 100) // b * b)
    eval_seed = 1_000_003 + args.seed
    eval_env = EdgeSchedulingVectorEnv(args.eval_episodes, env_config)

    def eval_fn(policy: Callable[[Any], Any]) -> np.ndarray:
        return evaluate(policy, eval_env, args.eval_episodes, eval_seed)

    def on_core(policy: heuristics.EdgePolicy) -> Callable[[Any], Any]:
        return lambda obs: policy.act(eval_env.core)

    baselines = {
        "random": eval_fn(on_core(heuristics.RandomPolicy(np.random.default_rng(eval_seed)))),
        "least_loaded": eval_fn(on_core(heuristics.LeastLoadedPolicy())),
        "greedy": eval_fn(on_core(heuristics.GreedyPolicy())),
    }

    dqn_config = DQNConfig(
        total_env_steps=budget,
        updates_per_step=args.updates_per_step,
        exploration_fraction=args.exploration_fraction,
    )
    interval = round(target_interval_env_steps(dqn_config.target_update, b, horizon))
    sb3_kwargs: dict[str, Any] = {
        "learning_rate": dqn_config.lr,
        "gamma": dqn_config.gamma,
        "batch_size": dqn_config.batch_size,
        "buffer_size": dqn_config.buffer_size,
        "learning_starts": dqn_config.learning_starts,
        "exploration_initial_eps": dqn_config.start_e,
        "exploration_final_eps": dqn_config.end_e,
        "exploration_fraction": dqn_config.exploration_fraction,
        "target_update_interval": interval,
        "policy_kwargs": {
            "net_arch": list(dqn_config.hidden_sizes),
            "activation_fn": torch.nn.ReLU,
        },
    }
    load_before = os.getloadavg()
    sb3_log = run_sb3(env_config, sb3_kwargs, budget, args.seed, eval_every, eval_fn)
    load_mid = os.getloadavg()
    ours_log = run_qnetrl(dqn_config, env_config, b, args.seed, eval_every, eval_fn)
    load_after = os.getloadavg()

    sb3, ours = _summary(sb3_log, budget), _summary(ours_log, budget)
    greedy = float(baselines["greedy"].mean())
    levels = {
        "sb3_final": sb3["final_return"],
        "heuristic_2pct": greedy * (1.0 + HEURISTIC_SLACK),
    }
    ttq: dict[str, Any] = {}
    for rule, level in levels.items():
        t_sb3, t_ours = time_to_level(sb3_log, level), time_to_level(ours_log, level)
        ttq[rule] = {
            "level": level,
            "sb3": t_sb3,
            "qnetrl": t_ours,
            "speedup": _ratio(t_sb3["train_s"], t_ours["train_s"]),
            "speedup_cpu": _ratio(t_sb3["train_cpu_s"], t_ours["train_cpu_s"]),
        }
    diff = ours_log.final_returns - sb3_log.final_returns  # same episodes: paired
    paired = {
        "mean": float(diff.mean()),
        "se": float(diff.std(ddof=1) / math.sqrt(diff.size)),
    }
    speedup = ttq["sb3_final"]["speedup"]
    target_speed = speedup is not None and speedup >= 10.0
    target_final = ours["final_return"] >= sb3["final_return"]

    print(
        f"budget {budget:,} env steps per learner, seed {args.seed}, eval every {eval_every:,} "
        f"steps on {args.eval_episodes} held-out episodes (seed {eval_seed})"
    )
    print(
        "baselines on the held-out episodes: "
        + ", ".join(f"{k} {v.mean():.1f}" for k, v in baselines.items())
    )
    print(
        f"{'learner':<10}{'final return':>16}{'best eval':>11}{'train s':>9}{'(cpu s)':>9}"
        f"{'env-steps/s':>13}{'updates':>9}"
    )
    for name, s in (("sb3", sb3), ("qnetrl", ours)):
        print(
            f"{name:<10}{s['final_return']:>10.1f} +- {s['final_return_se']:<3.1f}"
            f"{s['best_eval_return']:>11.1f}{s['train_s']:>9.1f}{s['train_cpu_s']:>9.1f}"
            f"{s['env_steps_per_s']:>13,.0f}{s['gradient_updates']:>9,}"
        )
    print(
        "final return qnetrl - sb3 (paired, same episodes): "
        f"{paired['mean']:+.2f} +- {paired['se']:.2f}"
    )
    for rule, r in ttq.items():

        def fmt(t: dict[str, Any]) -> str:
            if not t["reached"]:
                return "not reached"
            return f"{t['train_s']:.2f} s ({t['train_cpu_s']:.2f} cpu s) @ {t['env_steps']:,}"

        def times(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.1f}x"

        print(
            f"time to {rule} ({r['level']:.1f}): sb3 {fmt(r['sb3'])}, "
            f"qnetrl {fmt(r['qnetrl'])}; speedup {times(r['speedup'])} "
            f"(cpu {times(r['speedup_cpu'])})"
        )
    print(
        f"targets: >= 10x sooner to SB3's final return: {'MET' if target_speed else 'NOT MET'}; "
        f"final return >= SB3's: {'MET' if target_final else 'NOT MET'}"
    )
    print(
        f"load average (1 min) before / between / after: {load_before[0]:.2f} / "
        f"{load_mid[0]:.2f} / {load_after[0]:.2f}"
    )

    import stable_baselines3

    figures: dict[str, Any] = {
        "benchmark": "edge_trainer",
        "peer": f"stable-baselines3 {stable_baselines3.__version__} DQN",
        "quick": args.quick,
        "budget_env_steps": budget,
        "seed": args.seed,
        "eval_every": eval_every,
        "eval_episodes": args.eval_episodes,
        "eval_seed": eval_seed,
        "settings": {
            "shared": {
                "env_config": "EdgeEnvConfig() defaults",
                "hidden": list(dqn_config.hidden_sizes),
                "gamma": dqn_config.gamma,
                "lr": dqn_config.lr,
                "batch_size": dqn_config.batch_size,
                "buffer_size": dqn_config.buffer_size,
                "learning_starts": dqn_config.learning_starts,
                "epsilon": [dqn_config.start_e, dqn_config.end_e, dqn_config.exploration_fraction],
                "target_update_env_steps": interval,
                "torch_threads": 1,
            },
            "sb3": {
                k: (
                    v
                    if k != "policy_kwargs"
                    else {"net_arch": v["net_arch"], "activation_fn": "ReLU"}
                )
                for k, v in sb3_kwargs.items()
            }
            | sb3_log.settings,
            "qnetrl": {
                "num_envs": b,
                "updates_per_step": dqn_config.updates_per_step,
                "target_update_episodes": dqn_config.target_update,
                "loss": dqn_config.loss,
                "double": dqn_config.double,
                "grad_clip": dqn_config.grad_clip,
                "prioritized": dqn_config.prioritized,
                "env": f"EdgeSchedulingVectorEnv(num_envs={b})",
            },
        },
        "baselines": {k: float(v.mean()) for k, v in baselines.items()},
        "sb3": sb3,
        "qnetrl": ours,
        "final_return_diff_paired": paired,
        "time_to_quality": ttq,
        "ratios": {
            "time_to_sb3_final_speedup": speedup,
            "time_to_heuristic_2pct_speedup": ttq["heuristic_2pct"]["speedup"],
            "time_to_sb3_final_speedup_cpu": ttq["sb3_final"]["speedup_cpu"],
            "time_to_heuristic_2pct_speedup_cpu": ttq["heuristic_2pct"]["speedup_cpu"],
            "env_steps_per_s": ours["env_steps_per_s"] / sb3["env_steps_per_s"],
            "env_steps_per_cpu_s": ours["env_steps_per_cpu_s"] / sb3["env_steps_per_cpu_s"],
        },
        "target_10x_sooner_met": bool(target_speed),
        "target_final_return_met": bool(target_final),
        "loadavg_1min": [load_before[0], load_mid[0], load_after[0]],
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "qnetrl_version": qnetrl.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
