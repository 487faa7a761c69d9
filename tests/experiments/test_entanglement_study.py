"""The DPEM entanglement study end to end: outputs, summary shape, replay, determinism, adapter."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from qnetrl.agents.fedavg import privacy_epsilon
from qnetrl.agents.forecaster import ForecasterConfig, GRUForecaster
from qnetrl.agents.mappo import BatchedMultiAgentEnv
from qnetrl.cli import app
from qnetrl.config import ConfigError
from qnetrl.envs.entanglement import EntanglementEnvConfig
from qnetrl.envs.entanglement.marl import EntanglementMarlEnv
from qnetrl.experiments.edge_study import claim_verdict
from qnetrl.experiments.entanglement_study import (
    ANOVA_METRICS,
    FORECAST_METHODS,
    LEARNED,
    METHODS,
    POLICIES,
    EntanglementStudyConfig,
    prepare_run_dir,
    qualitative_verdict,
    replay_episode,
    run_entanglement_study,
)
from qnetrl.experiments.tensorboard import read_scalars

FIGURES = (
    "delivery_over_training.png",
    "contention.png",
    "forecast_vs_actual.png",
    "fidelity_histogram.png",
)
TABLES = ("table.md", "table.csv", "methods.md", "methods.csv", "anova.md", "anova.csv")
#: Metrics that measure time and so differ between two otherwise identical runs.
WALL_METRICS = {"train_wall_s", "convergence_wall_s"}

#: Overrides that make a whole study take a few seconds: 8 nodes, 2 seeds, 20-slot episodes.
TINY: dict[str, Any] = {
    "seeds": 2,
    "workers": 1,
    "num_envs": 2,
    "eval_episodes": 2,
    "bootstrap_resamples": 99,
    "convergence_window": 2,
    "env.n_nodes": 8,
    "env.horizon": 20,
    "agent.total_timesteps": 120,
    "agent.num_steps": 10,
    "agent.fedavg.every_k_updates": 2,
    "forecaster.window": 4,
    "forecaster.horizon": 3,
    "forecast_fit_every": 5,
}


def tiny_config(**extra: Any) -> EntanglementStudyConfig:
    return EntanglementStudyConfig().with_overrides({**TINY, **extra})


def _numbers(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary's numbers except the ones that measure wall time."""
    methods = {
        m: {k: v for k, v in rec.items() if k not in WALL_METRICS}
        for m, rec in summary["methods"].items()
    }
    return {
        "methods": methods,
        **{k: summary[k] for k in ("claims", "anova", "tests", "privacy")},
    }


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The tiny study through the CLI (with plots), as a user would run it."""
    out = tmp_path_factory.mktemp("dpem") / "run"
    args = ["reproduce", "entanglement", "--seeds", "2", "--workers", "1", "--out", str(out)]
    args += ["--tensorboard"]
    args += [f"--set={k}={json.dumps(v)}" for k, v in TINY.items() if k not in ("seeds", "workers")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "publication claims" in result.output and "wall time" in result.output
    return out, json.loads((out / "summary.json").read_text())


def test_tiny_study_writes_every_output(tiny_run: tuple[Path, dict[str, Any]]) -> None:
    run_dir, summary = tiny_run
    for name in ("config.yaml", "meta.json", "summary.json", *TABLES):
        assert (run_dir / name).stat().st_size > 0, name
    for name in FIGURES:
        assert (run_dir / name).stat().st_size > 10_000, name
    assert summary["figures"] == list(FIGURES)
    assert len(list((run_dir / "units").glob("*.json"))) == 2 * len(METHODS)
    for method in METHODS:
        for i in range(2):
            log = run_dir / summary["logs"][f"{method}-seed{i:03d}"]
            for name in ("topology.json", "episode.json", "episode.npz"):
                assert (log / name).stat().st_size > 0, (log, name)
            with np.load(log / "episode.npz") as data:
                assert data["actions"].shape == (20, 2, 8)
                assert data["arrivals"].shape == (20, 2, 8)
                assert ("forecast" in data) == (method in FORECAST_METHODS)
                if method in FORECAST_METHODS:
                    assert data["forecast"].shape == (20, 2, 8, 3)
    table = (run_dir / "table.md").read_text()
    assert table.count("\n") == 2 + len(summary["claims"])
    assert "+25 % delivery rate" in table and "95 % CI" in table
    logged = sorted(p.name for p in (run_dir / "tensorboard").iterdir())
    assert logged == [f"{m}-seed{i:03d}" for m in sorted(LEARNED) for i in range(2)]
    scalars = read_scalars(run_dir / "tensorboard" / "dpem-seed000")
    unit = json.loads((run_dir / "units" / "dpem-seed000.json").read_text())
    delivery = [v for _, v in scalars["study/delivery_rate"]]
    assert delivery == pytest.approx(unit["train"]["curve"]["delivery_rate"], rel=1e-6)
    assert {"charts/episodic_return", "losses/value_loss"} <= set(scalars)


def test_summary_shape_and_intervals(tiny_run: tuple[Path, dict[str, Any]]) -> None:
    _, summary = tiny_run
    for key in ("methods", "claims", "anova", "tests", "privacy", "config", "timing", "logs"):
        assert key in summary, key
    assert summary["study"] == "entanglement" and summary["timing"]["wall_s"] > 0.0
    assert summary["config"] == tiny_config().model_dump(mode="json")
    assert list(summary["methods"]) == list(METHODS)
    eval_metrics = {"delivery_rate", "contention_rate", "mean_fidelity", "latency_mean_s"}
    eval_metrics |= {"expired_rate", "episode_reward"}
    for method, metrics in summary["methods"].items():
        expected = set(eval_metrics) if method in POLICIES else {"delivery_rate"}
        if method in LEARNED:
            expected |= {"convergence_iterations", "convergence_wall_s", "train_wall_s"}
        if method in FORECAST_METHODS:
            expected |= {"forecast_mae", "forecast_rel_mae", "forecast_rel_rmse"}
        if method in ("dpem", "dpem_no_forecast"):
            expected.add("epsilon")
        assert set(metrics) == expected, method
        for name, rec in metrics.items():
            assert {"mean", "ci_low", "ci_high", "n", "n_excluded"} <= set(rec)
            assert rec["n"] + rec["n_excluded"] == 2
            if rec["mean"] is not None:
                assert rec["ci_low"] <= rec["mean"] <= rec["ci_high"], (method, name, rec)
        assert 0.0 <= metrics["delivery_rate"]["mean"] <= 1.0
    # The bound is at least what the centralised allocator delivered on its own trajectory.
    ub, cen = summary["methods"]["upper_bound"], summary["methods"]["centralized"]
    assert ub["delivery_rate"]["mean"] >= cen["delivery_rate"]["mean"]
    # The centralised allocator reserves before it claims: it never contends.
    assert cen["contention_rate"]["mean"] == 0.0


def test_every_method_sees_the_same_held_out_episodes(
    tiny_run: tuple[Path, dict[str, Any]],
) -> None:
    run_dir, _ = tiny_run
    for i in range(2):
        units = {
            m: json.loads((run_dir / f"units/{m}-seed{i:03d}.json").read_text()) for m in METHODS
        }
        arrived = {u["eval"]["arrived"] for u in units.values()}
        assert len(arrived) == 1, arrived
        assert {u["eval_seed"] for u in units.values()} == {1_000_000 + i}
        logs = [run_dir / u["log_dir"] / "episode.npz" for u in units.values()]
        first = np.load(logs[0])["arrivals"]
        for path in logs[1:]:
            np.testing.assert_array_equal(np.load(path)["arrivals"], first)


def test_claims_anova_and_tests(tiny_run: tuple[Path, dict[str, Any]]) -> None:
    _, summary = tiny_run
    claims = summary["claims"]
    assert [c["id"] for c in claims] == [
        "delivery_vs_centralized",
        "delivery_vs_fcfs",
        "contention_vs_centralized",
        "contention_vs_fcfs",
        "convergence_vs_dpem_no_federation",
        "convergence_vs_dpem_no_forecast",
    ]
    for c in claims:
        m = c["measured"]
        if c["id"].startswith("convergence"):
            # fewer than 3 seeds (here at most 2) never give a convergence verdict
            assert c["verdict"] == "not comparable"
        else:
            # the verdict is computed from the interval, never fixed in advance
            assert c["verdict"] == claim_verdict(m["ci_low"], m["ci_high"], c["band"], c["better"])
    delivery = claims[0]["measured"]
    ratio = summary["methods"]["dpem"]["delivery_rate"]["mean"]
    ratio /= summary["methods"]["centralized"]["delivery_rate"]["mean"]
    if delivery["n"] == 2:  # the mean of paired ratios is near the ratio of means
        assert delivery["mean"] == pytest.approx(ratio - 1.0, abs=0.5)
    n_pol = len(POLICIES)
    for metric in ANOVA_METRICS:
        res = summary["anova"][metric]
        if "skipped" in res:
            continue
        assert 0.0 <= res["anova"]["p_value"] <= 1.0
        assert len(res["tukey"]) == len(res["methods"]) * (len(res["methods"]) - 1) // 2
        assert len(res["methods"]) <= n_pol
    anova = summary["anova"]["delivery_rate"]
    assert anova["methods"] == list(POLICIES)
    assert len(anova["tukey"]) == n_pol * (n_pol - 1) // 2
    for other, rec in summary["tests"]["delivery_rate"].items():
        assert other in POLICIES and other != "dpem"
        assert 0.0 <= rec["welch_p_holm"] <= 1.0


def test_qualitative_verdict_branches() -> None:
    assert qualitative_verdict(0.01, 0.5) == "supported"
    assert qualitative_verdict(-0.5, -0.01) == "not supported"
    assert qualitative_verdict(-0.5, 0.0) == "not supported"
    assert qualitative_verdict(-0.1, 0.1) == "inconclusive"
    assert qualitative_verdict(None, 0.1) == "not comparable"
    assert qualitative_verdict(math.nan, 0.1) == "not comparable"


def test_replay_reproduces_the_logged_metrics(tiny_run: tuple[Path, dict[str, Any]]) -> None:
    run_dir, summary = tiny_run
    for key in ("dpem-seed000", "fcfs-seed001", "upper_bound-seed000", "dpem_no_dp-seed001"):
        log = run_dir / summary["logs"][key]
        logged = json.loads((log / "episode.json").read_text())["metrics"]
        replayed = replay_episode(log)
        assert set(replayed) == set(logged)
        for name, value in logged.items():
            if value is None:
                assert not math.isfinite(replayed[name]), (key, name)
            else:
                assert replayed[name] == value, (key, name)
    # The replayed decisions are the logged ones: a changed decision changes the outcome.
    log = run_dir / summary["logs"]["fcfs-seed000"]
    tampered = log.parent / "tampered"
    shutil.copytree(log, tampered)
    with np.load(tampered / "episode.npz") as data:
        arrays = dict(data)
    arrays["actions"] = np.zeros_like(arrays["actions"])
    np.savez_compressed(tampered / "episode.npz", **arrays)
    assert replay_episode(tampered)["delivered"] == 0.0
    assert json.loads((log / "episode.json").read_text())["metrics"]["delivered"] > 0


def test_dp_epsilon_is_finite_and_matches_the_accountant(
    tiny_run: tuple[Path, dict[str, Any]],
) -> None:
    run_dir, summary = tiny_run
    cfg = tiny_config()
    iterations = cfg.agent.total_timesteps // (cfg.num_envs * cfg.agent.num_steps)
    for method in ("dpem", "dpem_no_forecast"):
        unit = json.loads((run_dir / f"units/{method}-seed000.json").read_text())
        priv = unit["privacy"]
        assert priv["dp"] and priv["rounds"] == iterations // cfg.agent.fedavg.every_k_updates
        expected = privacy_epsilon(
            priv["noise_multiplier"],
            priv["sample_rate"],
            priv["rounds"],
            priv["delta"],
            "pld",
            pld_discretization=priv["pld_discretization"],
        )
        assert math.isfinite(priv["epsilon"]) and priv["epsilon"] > 0.0
        assert priv["epsilon"] == pytest.approx(expected, rel=1e-12)
        assert summary["methods"][method]["epsilon"]["mean"] == pytest.approx(expected)
    assert summary["privacy"]["dpem_no_dp"]["epsilon"] is None  # inf: averaging without noise
    assert summary["privacy"]["dpem_no_federation"]["rounds"] == 0


def test_same_seed_same_numbers_with_two_workers_and_resume(
    tiny_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    _, summary = tiny_run
    # Same seeds in a pool of two processes, figures off: identical numbers.
    cfg = tiny_config(make_plots=False, workers=2)
    first = run_entanglement_study(
        cfg, prepare_run_dir(cfg, tmp_path / "first"), show_progress=False, tensorboard=True
    )
    assert (tmp_path / "first" / "tensorboard" / "dpem_no_dp-seed001").is_dir()  # from a worker
    assert _numbers(first.summary) == _numbers(summary)
    # A killed run (no summary, a learned unit missing) resumes to the same numbers.
    resumed = tmp_path / "resumed"
    shutil.copytree(tmp_path / "first", resumed)
    for name in ("summary.json", "units/dpem-seed001.json"):
        (resumed / name).unlink()
    res = run_entanglement_study(cfg, prepare_run_dir(cfg, resumed), show_progress=False)
    assert res.summary["timing"]["units_resumed"] == 2 * len(METHODS) - 1
    assert _numbers(res.summary) == _numbers(summary)


def test_adapter_same_step_autoreset_and_observation() -> None:
    cfg = EntanglementEnvConfig(n_nodes=8, horizon=5)
    fc = GRUForecaster(8, ForecasterConfig(window=2, horizon=2), rng=np.random.default_rng(0))
    auto = EntanglementMarlEnv(cfg, 3, forecaster=fc, fit_every=2)
    manual = EntanglementMarlEnv(cfg, 3, autoreset=False, feasibility=False)
    assert isinstance(auto, BatchedMultiAgentEnv)
    assert (auto.num_envs, auto.num_agents) == (3, 8)
    k_q = auto.core.n_routes * auto.core.n_quality
    assert auto.obs_dim == auto.core.obs_dim + k_q + 2
    assert auto.single_observation_space.shape == (auto.obs_dim,)
    assert auto.single_action_space.n == auto.core.n_actions
    rng_a, rng_m = np.random.default_rng(5), np.random.default_rng(5)
    obs_a, obs_m = auto.reset(rng_a), manual.reset(rng_m)
    assert obs_a.shape == (3, 8, auto.obs_dim) and obs_a.dtype == np.float32
    d0 = auto.core.obs_dim
    np.testing.assert_array_equal(obs_a[..., :d0], obs_m)
    feas = auto.core.routes.feasible.reshape(3, 8, -1)
    np.testing.assert_array_equal(obs_a[..., d0 : d0 + k_q], feas)
    np.testing.assert_allclose(obs_a[..., d0 + k_q :], fc.predict(auto.arrivals_history[..., -2:]))
    policy = np.random.default_rng(1)
    for t in range(5):
        actions = policy.integers(0, auto.core.n_actions, size=(3, 8))
        obs_a, r_a, done_a, info_a = auto.step(actions)
        obs_m, r_m, done_m, _ = manual.step(actions)
        np.testing.assert_array_equal(r_a, r_m)
        assert done_a.tolist() == done_m.tolist() == [t == 4] * 3
        assert info_a["truncated"].tolist() == [t == 4] * 3
    # Same-step autoreset: the final observation is returned in the info, the observation is
    # the first of the next episode, drawn from the generator given to reset().
    np.testing.assert_array_equal(info_a["final_obs"][..., :d0], obs_m)
    assert auto.core.t.tolist() == [0, 0, 0] and len(auto.episodes) == 1
    assert auto.episodes[0]["delivery_rate"] == info_a["episode"]["delivery_rate"]
    np.testing.assert_array_equal(obs_a[..., :d0], manual.reset(rng_m))
    assert len(auto.fit_losses) >= 1  # the forecaster trained online on the arrivals
    with pytest.raises(RuntimeError, match="reset"):
        EntanglementMarlEnv(cfg, 1).step(np.zeros((1, 8), dtype=np.int64))


def test_config_and_adapter_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'eval_seed_offset'.*disjoint"):
        EntanglementStudyConfig.validate_dict({"seeds": 10, "eval_seed_offset": 5})
    with pytest.raises(ConfigError, match=r"'num_envs'.*total_timesteps"):
        EntanglementStudyConfig().with_overrides({"agent.total_timesteps": 100})
    with pytest.raises(ConfigError, match=r"'workers'.*\[1, 64\]"):
        EntanglementStudyConfig().with_overrides({"workers": 0})
    with pytest.raises(Exception, match="'fit_every'"):
        EntanglementMarlEnv(EntanglementEnvConfig(n_nodes=8), 1, fit_every=-1)
    fc = GRUForecaster(5, ForecasterConfig(), rng=np.random.default_rng(0))
    with pytest.raises(Exception, match=r"'forecaster'.*num_agents=8"):
        EntanglementMarlEnv(EntanglementEnvConfig(n_nodes=8), 1, forecaster=fc)
    quick, full = EntanglementStudyConfig.quick(), EntanglementStudyConfig()
    assert (quick.env.n_nodes, full.env.n_nodes) == (20, 100)
    assert quick.seeds == 3 and full.seeds >= 10
    assert (full.env.gen_rate_low_hz, full.env.gen_rate_high_hz) == (0.0, 10.0)
    assert (full.env.repeater_rate_low_hz, full.env.repeater_rate_high_hz) == (0.0, 5.0)
    # Equal budgets and hyperparameters: the methods differ only in their switches.
    agents = {m: full.method_agent(m) for m in LEARNED}
    assert len({a.model_dump_json(exclude={"exp_name", "fedavg"}) for a in agents.values()}) == 1
    assert [(a.fedavg.enabled, a.fedavg.dp_enabled) for a in agents.values()] == [
        (True, True),
        (True, True),
        (False, False),
        (True, False),
    ]
    unfinished = tmp_path / "unfinished"
    prepare_run_dir(tiny_config(), unfinished)
    with pytest.raises(ConfigError, match="different config"):
        prepare_run_dir(tiny_config(seeds=3), unfinished)
    result = CliRunner().invoke(app, ["reproduce", "entanglement", "--set", "env.n_nodes=1"])
    assert result.exit_code == 2 and "'env.n_nodes'" in result.output


def test_demo_runs_the_quick_entanglement_study_after_edge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real quick presets take minutes; the demo's wiring is what is tested here.
    import qnetrl.experiments.edge_study as edge_study

    order: list[str] = []
    monkeypatch.setattr(edge_study, "run_edge_study", lambda *a, **k: order.append("edge"))
    monkeypatch.setattr(
        EntanglementStudyConfig, "quick", classmethod(lambda cls: tiny_config(make_plots=False))
    )
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--skip-resilience"])
    assert result.exit_code == 0, result.output
    assert order == ["edge"] and "Entanglement (DPEM) study" in result.output
    (run_dir,) = (tmp_path / "demo").iterdir()
    summary = json.loads((run_dir / "entanglement" / "summary.json").read_text())
    assert summary["config"]["seeds"] == 2 and summary["config"]["env"]["n_nodes"] == 8
    assert "entanglement" in (run_dir / "config.yaml").read_text()
