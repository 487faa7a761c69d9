"""Env-steps per second of the batched edge-scheduling core against a plain reference env.

Measures, in one run, :class:`qnetrl.envs.edge.EdgeCore` at several batch sizes B, its Gymnasium
faces (:class:`~qnetrl.envs.edge.EdgeSchedulingEnv` at B = 1 and
:class:`~qnetrl.envs.edge.EdgeSchedulingVectorEnv` at the largest B) and the named peer, the
plain single-copy env of the publication's design in ``benchmarks/_reference_edge_env.py``
(Python floats, per-step draws from :class:`random.Random`). Rates are env-steps per second
(one step of one copy), with and without the cost of ``reset`` (which pre-draws a whole episode
in the core and only the first slot in the reference), taken from the median episode so that
a burst of load from other processes does not decide the figure, with the fastest episode and
the median episode's CPU time alongside; ratios are against the reference. Before timing,
the reference is checked against the core: on the same pre-drawn randomness and actions it
must give the same trajectory (observations and rewards equal to within 1e-9 absolute; in
practice about 1e-14, not bit for bit, because ``math.erfc`` and ``math.log2`` differ from
scipy's ``erfc`` and ``entr`` in the last bits), and on its own random stream the same episode
statistics (within 4 standard errors). The last line printed is one
JSON object of all figures.

Run ``python benchmarks/edge_throughput.py [--quick] [--seconds S]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import qnetrl
from _reference_edge_env import ReferenceEdgeEnv, ReplayDraws
from qnetrl.envs.edge import (
    EdgeCore,
    EdgeEnvConfig,
    EdgeSchedulingEnv,
    EdgeSchedulingVectorEnv,
)

__all__ = ["check_equivalence", "check_statistics", "main"]

#: Target throughput at B = 4096 (env-steps/s); checked with and without the reset cost.
TARGET_STEPS_PER_S = 2_000_000.0


def _core_draws(config: EdgeEnvConfig, seed: int) -> tuple[ReplayDraws, dict[str, Any]]:
    """Redraw what ``EdgeCore(config, 1).reset(np.random.default_rng(seed))`` draws.

    Follows the stream layout documented in :mod:`qnetrl.envs.edge.core` (five child seeds
    from the reset generator: task loads, spike flags, spike sizes, fading, load decay) and
    returns the raw fading *gains*, so that the reference recomputes QBER and key rate itself.
    Only Rayleigh and no fading are supported here.
    """
    cfg = config
    horizon, n = cfg.horizon, cfg.n_nodes
    seeds = np.random.default_rng(seed).integers(0, 2**63, size=5)
    g_task, g_flag, g_spike, g_fade, g_decay = (np.random.default_rng(s) for s in seeds)
    normal = g_task.normal(cfg.task_load_mean, cfg.task_load_std, size=(1, horizon))
    is_spike = g_flag.random((1, horizon)) < cfg.spike_prob
    spike = g_spike.uniform(cfg.spike_low, cfg.spike_high, size=(1, horizon))
    tasks = np.clip(np.where(is_spike, spike, normal), 0.0, cfg.task_load_max)[0]
    n_blocks = -(-(horizon + 1) // cfg.coherence_steps)
    if cfg.fading == "rayleigh":
        gain = g_fade.standard_exponential((1, n_blocks, n))
    elif cfg.fading == "none":
        gain = np.ones((1, n_blocks, n))
    else:
        raise ValueError("the equivalence check supports fading 'none' and 'rayleigh' only")
    gain = np.repeat(gain, cfg.coherence_steps, axis=1)[0, : horizon + 1]
    jitter = cfg.load_decay_jitter
    decay = cfg.load_decay + g_decay.uniform(-jitter, jitter, size=(1, horizon, n))[0]
    draws = ReplayDraws(tasks.tolist(), gain.tolist(), decay.tolist())
    return draws, {"task_loads": tasks, "decay": decay}


def check_equivalence(config: EdgeEnvConfig, n_episodes: int = 5) -> dict[str, Any]:
    """Compare reference and core trajectories on the same randomness and random actions.

    Returns
    -------
    dict
        ``max_abs_obs_diff``, ``max_abs_reward_diff`` (over all steps of all episodes),
        ``steps`` compared and ``passed`` (both below 1e-9; truncation flags equal).
    """
    core = EdgeCore(config, 1)
    ref = ReferenceEdgeEnv(config)
    act_rng = np.random.default_rng(12345)
    max_obs = max_rew = 0.0
    flags_equal = True
    steps = 0
    for episode in range(n_episodes):
        seed = 1000 + episode
        draws, raw = _core_draws(config, seed)
        obs_c = core.reset(np.random.default_rng(seed))
        # The redrawn randomness must be the core's own before trajectories are compared.
        if not (
            np.array_equal(raw["task_loads"], core.state.task_loads[0])
            and np.array_equal(raw["decay"], core.state.decay[0])
        ):
            raise RuntimeError("EdgeCore's random-stream layout changed; update _core_draws")
        obs_r, _ = ref.reset(draws=draws)
        max_obs = max(max_obs, float(np.max(np.abs(obs_c[0] - obs_r))))
        for _ in range(config.horizon):
            a = int(act_rng.integers(config.n_nodes))
            obs_c, rew_c, trunc_c, _ = core.step(np.array([a]))
            obs_r, rew_r, _, trunc_r, _ = ref.step(a)
            max_obs = max(max_obs, float(np.max(np.abs(obs_c[0] - obs_r))))
            max_rew = max(max_rew, abs(float(rew_c[0]) - rew_r))
            flags_equal &= bool(trunc_c[0]) == trunc_r
            steps += 1
    return {
        "steps": steps,
        "max_abs_obs_diff": max_obs,
        "max_abs_reward_diff": max_rew,
        "passed": bool(max_obs < 1e-9 and max_rew < 1e-9 and flags_equal),
    }


def check_statistics(config: EdgeEnvConfig, n_episodes: int = 300) -> dict[str, Any]:
    """Compare episode statistics of the reference's own draws with the core's (random actions).

    The timed reference draws its own randomness, a path the trajectory check does not cover;
    here its mean episode return, mean task load and mean observed QBER over ``n_episodes``
    episodes must lie within 4 standard errors of the core's.
    """
    horizon, n = config.horizon, config.n_nodes
    ref = ReferenceEdgeEnv(config, seed=7)
    act = np.random.default_rng(8).integers(0, n, size=(n_episodes, horizon))
    ref_stats = np.zeros((n_episodes, 3))
    for e in range(n_episodes):
        ref.reset()
        ret = task = qber = 0.0
        for t in range(horizon):
            task += ref.task
            qber += sum(ref.ber) / n
            _, r, _, _, _ = ref.step(int(act[e, t]))
            ret += r
        ref_stats[e] = ret, task / horizon, qber / horizon
    core = EdgeCore(config, n_episodes)
    core.reset(np.random.default_rng(9))
    act = np.random.default_rng(10).integers(0, n, size=(horizon, n_episodes))
    core_stats = np.zeros((n_episodes, 3))
    for t in range(horizon):
        core_stats[:, 1] += core.task_load / horizon
        core_stats[:, 2] += core.ber.mean(axis=1) / horizon
        _, r, _, _ = core.step(act[t])
        core_stats[:, 0] += r
    names = ("episode_return", "task_load", "observed_qber")
    out: dict[str, Any] = {"episodes": n_episodes}
    passed = True
    for j, name in enumerate(names):
        m_r, m_c = ref_stats[:, j].mean(), core_stats[:, j].mean()
        se = np.sqrt(
            ref_stats[:, j].var(ddof=1) / n_episodes + core_stats[:, j].var(ddof=1) / n_episodes
        )
        z = float((m_r - m_c) / se) if se > 0 else 0.0
        out[name] = {"reference": float(m_r), "core": float(m_c), "z": z}
        passed &= abs(z) < 4.0
    out["passed"] = bool(passed)
    return out


def _rates(
    steps_per_episode: int, step_s: list[float], reset_s: list[float], cpu_s: list[float]
) -> dict[str, float]:
    """Rates from the median episode and the fastest one (warm-up episode not included).

    ``cpu_s`` is each episode's CPU time (reset included), the rate a process would get with
    a core to itself (still slowed by cache and memory-bandwidth sharing).
    """
    totals = [a + b for a, b in zip(step_s, reset_s, strict=True)]
    step_med = statistics.median(step_s)
    total_med = statistics.median(totals)
    return {
        "steps_per_s_excl_reset": steps_per_episode / step_med,
        "steps_per_s_incl_reset": steps_per_episode / total_med,
        "best_steps_per_s_excl_reset": steps_per_episode / min(step_s),
        "best_steps_per_s_incl_reset": steps_per_episode / min(totals),
        "cpu_steps_per_s_incl_reset": steps_per_episode / statistics.median(cpu_s),
        "reset_s": statistics.median(reset_s),
        "episode_step_s": step_med,
        "episodes_timed": len(step_s),
    }


def _time_episodes(
    run_reset: Callable[[], None],
    run_steps: Callable[[], None],
    steps_per_episode: int,
    seconds: float,
) -> dict[str, float]:
    """Time whole episodes (reset, then the horizon's steps) for about ``seconds``."""
    run_reset()
    run_steps()  # warm-up episode, not counted
    step_s: list[float] = []
    reset_s: list[float] = []
    cpu_s: list[float] = []
    start = time.perf_counter()
    while len(step_s) < 3 or time.perf_counter() - start < seconds:
        c0 = time.process_time()
        t0 = time.perf_counter()
        run_reset()
        t1 = time.perf_counter()
        run_steps()
        t2 = time.perf_counter()
        cpu_s.append(time.process_time() - c0)
        reset_s.append(t1 - t0)
        step_s.append(t2 - t1)
    return _rates(steps_per_episode, step_s, reset_s, cpu_s)


def time_core(config: EdgeEnvConfig, batch_size: int, seconds: float) -> dict[str, float]:
    """Env-steps/s of :class:`EdgeCore` with B copies (random pre-drawn actions)."""
    core = EdgeCore(config, batch_size)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, config.n_nodes, size=(config.horizon, batch_size))

    def steps() -> None:
        for a in actions:
            core.step(a)

    return _time_episodes(lambda: core.reset(rng), steps, config.horizon * batch_size, seconds)


def time_gym_env(config: EdgeEnvConfig, seconds: float) -> dict[str, float]:
    """Env-steps/s of the single-copy Gymnasium face (the B = 1 view of the core)."""
    env = EdgeSchedulingEnv(config)
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, config.n_nodes, size=config.horizon).tolist()

    def steps() -> None:
        for a in actions:
            env.step(a)

    return _time_episodes(lambda: env.reset(), steps, config.horizon, seconds)


def time_vector_env(config: EdgeEnvConfig, batch_size: int, seconds: float) -> dict[str, float]:
    """Env-steps/s of the native VectorEnv face; its same-step autoreset is inside ``step``."""
    env = EdgeSchedulingVectorEnv(batch_size, config)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, config.n_nodes, size=(config.horizon, batch_size))

    def steps() -> None:
        for a in actions:
            env.step(a)  # the last step autoresets every copy

    out = _time_episodes(lambda: None, steps, config.horizon * batch_size, seconds)
    out["steps_per_s_excl_reset"] = float("nan")  # not separable: autoreset is in step
    out["best_steps_per_s_excl_reset"] = float("nan")
    return out


def time_reference(config: EdgeEnvConfig, seconds: float) -> dict[str, float]:
    """Env-steps/s of the plain single-copy reference env."""
    env = ReferenceEdgeEnv(config, seed=0)
    actions = np.random.default_rng(0).integers(0, config.n_nodes, size=config.horizon).tolist()

    def steps() -> None:
        for a in actions:
            env.step(a)

    return _time_episodes(lambda: env.reset(), steps, config.horizon, seconds)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print a table and, last, one JSON line; return the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short timings (smoke test)")
    parser.add_argument(
        "--seconds", type=float, default=None, help="seconds per measurement (default 2.0)"
    )
    args = parser.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else (0.3 if args.quick else 2.0)
    if not seconds > 0.0:
        parser.error(f"--seconds must be a float in the range (0.0, inf). Got {seconds} instead.")
    batch_sizes = (1, 64, 512, 4096)
    config = EdgeEnvConfig()
    load_before = os.getloadavg()

    equivalence = check_equivalence(config, n_episodes=2 if args.quick else 5)
    stats = check_statistics(config, n_episodes=100 if args.quick else 300)
    print(
        f"equivalence (same draws, {equivalence['steps']} steps): max |obs diff| "
        f"{equivalence['max_abs_obs_diff']:.2e}, max |reward diff| "
        f"{equivalence['max_abs_reward_diff']:.2e} -> {'PASS' if equivalence['passed'] else 'FAIL'}"
    )
    print(
        f"statistics (own draws, {stats['episodes']} episodes): z = "
        + ", ".join(
            f"{k} {stats[k]['z']:+.2f}" for k in ("episode_return", "task_load", "observed_qber")
        )
        + f" -> {'PASS' if stats['passed'] else 'FAIL'}"
    )

    results: dict[str, dict[str, float]] = {"reference": time_reference(config, seconds)}
    results["gym_env_B1"] = time_gym_env(config, seconds)
    for b in batch_sizes:
        results[f"core_B{b}"] = time_core(config, b, seconds)
    results[f"vector_env_B{batch_sizes[-1]}"] = time_vector_env(config, batch_sizes[-1], seconds)
    load_after = os.getloadavg()

    ref = results["reference"]
    for r in results.values():
        r["ratio_excl_reset"] = r["steps_per_s_excl_reset"] / ref["steps_per_s_excl_reset"]
        r["ratio_incl_reset"] = r["steps_per_s_incl_reset"] / ref["steps_per_s_incl_reset"]

    print(f"\nenv-steps/s over ~{seconds:g} s of episodes per row (T = {config.horizon})")
    print(
        f"{'case':<18}{'excl reset':>13}{'incl reset':>13}{'x ref excl':>11}{'x ref incl':>11}"
        f"{'best excl':>13}{'best incl':>13}{'cpu incl':>13}"
    )
    for name, r in results.items():
        print(
            f"{name:<18}{r['steps_per_s_excl_reset']:>13,.0f}{r['steps_per_s_incl_reset']:>13,.0f}"
            f"{r['ratio_excl_reset']:>11.1f}{r['ratio_incl_reset']:>11.1f}"
            f"{r['best_steps_per_s_excl_reset']:>13,.0f}{r['best_steps_per_s_incl_reset']:>13,.0f}"
            f"{r['cpu_steps_per_s_incl_reset']:>13,.0f}"
        )
    print(
        "(rates from the median episode; 'best' from the fastest, least disturbed one; "
        "'cpu' from the median episode's CPU time)"
    )
    big = results[f"core_B{batch_sizes[-1]}"]
    met_excl = big["steps_per_s_excl_reset"] >= TARGET_STEPS_PER_S
    met_incl = big["steps_per_s_incl_reset"] >= TARGET_STEPS_PER_S
    print(
        f"target >= {TARGET_STEPS_PER_S:,.0f} env-steps/s at B = {batch_sizes[-1]}: "
        f"excl reset {'MET' if met_excl else 'NOT MET'}, "
        f"incl reset {'MET' if met_incl else 'NOT MET'}"
    )
    print(f"load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f}")

    figures: dict[str, Any] = {
        "benchmark": "edge_throughput",
        "peer": "plain single-copy Python reference env (benchmarks/_reference_edge_env.py)",
        "quick": args.quick,
        "seconds_per_case": seconds,
        "horizon": config.horizon,
        "n_nodes": config.n_nodes,
        "equivalence": equivalence,
        "statistics": stats,
        "results": results,
        "target_steps_per_s": TARGET_STEPS_PER_S,
        "target_met_excl_reset": bool(met_excl),
        "target_met_incl_reset": bool(met_incl),
        "loadavg_1min_before": load_before[0],
        "loadavg_1min_after": load_after[0],
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "qnetrl": qnetrl.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    print(_dumps(figures))
    return figures


def _dumps(obj: Any) -> str:
    """JSON with NaN written as null (strict JSON has no NaN)."""

    def clean(x: Any) -> Any:
        if isinstance(x, float) and x != x:
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(obj))


if __name__ == "__main__":
    main()
