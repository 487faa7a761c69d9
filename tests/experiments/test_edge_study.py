"""The edge-scheduling study end to end: outputs, summary shape, determinism, resume, CLI."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from qnetrl.agents.dqn import train
from qnetrl.agents.heuristics import RandomPolicy
from qnetrl.cli import app
from qnetrl.config import ConfigError
from qnetrl.envs.edge import EdgeCore, EdgeEnvConfig, EdgeSchedulingVectorEnv
from qnetrl.experiments.edge_study import (
    CLAIMS,
    HEURISTICS,
    LEARNED,
    METHODS,
    METRICS,
    TEST_METRICS,
    EdgeStudyConfig,
    claim_verdict,
    prepare_run_dir,
    rollout,
    rollout_metrics,
    run_edge_study,
)
from qnetrl.experiments.tensorboard import read_scalars

FIGURES = (
    "key_rate_vs_error.png",
    "latency_vs_error.png",
    "learning_curves.png",
    "load_distribution.png",
    "latency_overload.png",
)

#: Overrides that make a whole study take a few seconds: 2 seeds, 20-step episodes.
TINY: dict[str, Any] = {
    "seeds": 2,
    "num_envs": 8,
    "eval_episodes": 8,
    "sweep_episodes": 4,
    "sweep_snr_offsets_db": [-3.0, 3.0],
    "bootstrap_resamples": 199,
    "convergence_window": 5,
    "key_rate_snr_db": [0.0, 30.0, 7],
    "env.horizon": 20,
    "agent.total_env_steps": 800,
    "agent.learning_starts": 200,
}


def tiny_config(**extra: Any) -> EdgeStudyConfig:
    return EdgeStudyConfig().with_overrides({**TINY, **extra})


def _without_timing(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k != "timing"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    cfg = tiny_config()
    run_dir = prepare_run_dir(cfg, tmp_path_factory.mktemp("edge") / "run")
    result = run_edge_study(cfg, run_dir, show_progress=False, tensorboard=True)
    return run_dir, result.summary


def test_tiny_study_writes_every_output(tiny_run: tuple[Path, dict[str, Any]]) -> None:
    run_dir, summary = tiny_run
    names = ["config.yaml", "meta.json", "summary.json", "table.md", "table.csv"]
    names += ["methods.md", "methods.csv", *FIGURES]
    for name in names:
        assert (run_dir / name).stat().st_size > 0, name
    for name in FIGURES:
        assert (run_dir / name).stat().st_size > 10_000, name
    assert len(list((run_dir / "units").glob("*.json"))) == 2 * len(METHODS)
    assert json.loads((run_dir / "summary.json").read_text()) == summary
    table = (run_dir / "table.md").read_text()
    assert table.count("\n") == 2 + len(summary["claims"])
    assert "820,523" in table and "95 % CI" in table
    logged = sorted(p.name for p in (run_dir / "tensorboard").iterdir())
    assert logged == [f"{m}-seed{i:03d}" for m in sorted(LEARNED) for i in range(2)]
    scalars = read_scalars(run_dir / "tensorboard" / "ddqn-seed001")
    unit = json.loads((run_dir / "units" / "ddqn-seed001.json").read_text())
    curve = scalars["charts/episodic_return"]  # one point per batch of B episodes
    assert len(curve) == len(unit["train"]["episode_returns"]) // TINY["num_envs"]
    assert curve[-1][0] == TINY["agent.total_env_steps"]


def test_summary_shape_and_finite_intervals(tiny_run: tuple[Path, dict[str, Any]]) -> None:
    _, summary = tiny_run
    for key in ("methods", "claims", "tests", "config", "timing"):
        assert key in summary, key
    assert summary["timing"]["wall_s"] > 0.0
    assert summary["config"] == tiny_config().model_dump(mode="json")
    assert list(summary["methods"]) == list(METHODS)
    for method, metrics in summary["methods"].items():
        expected = set(METRICS) - ({"episodes_to_convergence"} if method in HEURISTICS else set())
        expected -= {"episodes_to_convergence"} if method == "oracle" else set()
        assert set(metrics) == expected, method
        for name, rec in metrics.items():
            if rec["mean"] is None:  # only convergence may be unmeasured (short curves)
                assert name == "episodes_to_convergence"
                continue
            assert all(math.isfinite(rec[k]) for k in ("mean", "ci_low", "ci_high"))
            assert rec["ci_low"] <= rec["mean"] <= rec["ci_high"], (method, name, rec)
            assert rec["n"] + rec["n_excluded"] == 2
    # Every method saw the very same held-out episodes: the policy-independent channel
    # figures coincide.
    for name in ("key_generated_bps", "qber_mean"):
        values = {summary["methods"][m][name]["mean"] for m in METHODS}
        assert len(values) == 1, (name, values)
    for method in METHODS:
        rec = summary["methods"][method]
        assert rec["key_delivered_bps"]["mean"] <= 256.0 / EdgeEnvConfig().slot_s + 1e-6
        assert 1.0 / 3.0 <= rec["jain_fairness"]["mean"] <= 1.0


def test_claims_and_tests_sections(tiny_run: tuple[Path, dict[str, Any]]) -> None:
    _, summary = tiny_run
    claims = summary["claims"]
    per_baseline = {"improvement", "latency", "overload"}
    assert len(claims) == sum(len(HEURISTICS) if c["id"] in per_baseline else 1 for c in CLAIMS)
    verdicts = {"supported", "not supported", "exceeded", "not comparable"}
    for c in claims:
        assert {"claim", "measured", "verdict", "publication", "band"} <= set(c)
        assert c["verdict"] in verdicts
        m = c["measured"]
        if m["mean"] is not None and c["id"] != "convergence":
            # the verdict is computed from the interval, never fixed in advance
            assert c["verdict"] == claim_verdict(m["ci_low"], m["ci_high"], c["band"], c["better"])
    # the publication-model key rate claim is measured on the chosen links of DDQN
    key = next(c for c in claims if c["id"] == "key_rate_publication_model")
    ddqn_rate = summary["methods"]["ddqn"]["key_rate_chosen_publication_bps"]["mean"]
    assert key["measured"]["mean"] == pytest.approx(ddqn_rate)
    for metric in TEST_METRICS:
        for other, res in summary["tests"][metric].items():
            assert other in METHODS and other != "ddqn"
            assert 0.0 <= res["welch_p"] <= 1.0 and 0.0 <= res["mannwhitney_p"] <= 1.0
            assert "cohens_d" in res and "cliffs_delta" in res


def test_same_config_same_numbers_and_resume(
    tiny_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    _, summary = tiny_run
    # A fresh run with the same config gives identical numbers (figures off: they are not
    # numbers, and this keeps the test fast).
    cfg = tiny_config(make_plots=False)
    first = run_edge_study(cfg, prepare_run_dir(cfg, tmp_path / "first"), show_progress=False)
    for key in ("methods", "claims", "tests", "sweep"):
        assert first.summary[key] == summary[key], key
    # A killed run (no summary, a learned and a heuristic unit missing) resumes to the same.
    resumed = tmp_path / "resumed"
    shutil.copytree(tmp_path / "first", resumed)
    for name in ("summary.json", "units/dqn-seed001.json", "units/oracle-seed000.json"):
        (resumed / name).unlink()
    res = run_edge_study(cfg, prepare_run_dir(cfg, resumed), show_progress=False)
    assert res.summary["timing"]["units_resumed"] == 2 * len(METHODS) - 2
    assert _without_timing(res.summary) == _without_timing(first.summary)


def test_run_dir_is_never_overwritten_silently(
    tiny_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    run_dir, _ = tiny_run
    with pytest.raises(ConfigError, match="finished edge study"):
        prepare_run_dir(tiny_config(), run_dir)
    unfinished = tmp_path / "unfinished"
    prepare_run_dir(tiny_config(), unfinished)
    with pytest.raises(ConfigError, match="different config"):
        prepare_run_dir(tiny_config(seeds=3), unfinished)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        prepare_run_dir(tiny_config(), other)
    forced = tmp_path / "forced"
    shutil.copytree(run_dir, forced)
    prepare_run_dir(tiny_config(seeds=3), forced, force=True)
    assert not (forced / "summary.json").exists() and not (forced / "units").exists()
    assert "seeds: 3" in (forced / "config.yaml").read_text()
    new = prepare_run_dir(tiny_config(), root=tmp_path / "runs")
    assert new.parent == tmp_path / "runs" / "edge" and (new / "meta.json").exists()


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"'eval_seed_offset'.*disjoint"):
        EdgeStudyConfig.validate_dict({"seeds": 10, "eval_seed_offset": 5})
    with pytest.raises(ConfigError, match=r"'num_envs'.*buffer_size"):
        EdgeStudyConfig().with_overrides({"agent.buffer_size": 32})
    with pytest.raises(ConfigError, match=r"'num_envs'.*total_env_steps"):
        EdgeStudyConfig().with_overrides({"agent.total_env_steps": 1000})
    with pytest.raises(ConfigError, match=r"'seeds'.*\[1, 1000\]"):
        EdgeStudyConfig().with_overrides({"seeds": 0})
    with pytest.raises(ConfigError, match="'key_rate_snr_db'"):
        EdgeStudyConfig.validate_dict({"key_rate_snr_db": [10.0, 0.0, 5]})
    with pytest.raises(ConfigError, match=r"Unknown config field 'agent\.gama'"):
        EdgeStudyConfig().with_overrides({"agent.gama": 0.9})
    quick, full = EdgeStudyConfig.quick(), EdgeStudyConfig()
    assert quick.seeds == 3 and full.seeds == 10
    assert quick.agent.total_env_steps < full.agent.total_env_steps
    # Same publication hyperparameters in both presets.
    for cfg in (quick, full):
        a = cfg.agent
        assert (a.hidden_sizes, a.gamma, a.batch_size, a.lr, a.target_update) == (
            (64, 64),
            0.99,
            64,
            1e-3,
            10,
        )


def test_claim_verdict_branches() -> None:
    band = (0.15, 0.30)
    assert claim_verdict(0.1, 0.2, band, "higher") == "supported"
    assert claim_verdict(0.31, 0.4, band, "higher") == "exceeded"
    assert claim_verdict(0.0, 0.1, band, "higher") == "not supported"
    assert claim_verdict(0.0, 0.1, band, "lower") == "exceeded"
    assert claim_verdict(0.31, 0.4, band, "lower") == "not supported"
    assert claim_verdict(0.31, 0.4, band, None) == "not supported"
    assert claim_verdict(None, None, band, None) == "not comparable"
    assert claim_verdict(math.nan, 1.0, band, "higher") == "not comparable"


def test_rollout_metrics_follow_their_definitions() -> None:
    cfg = EdgeStudyConfig(env=EdgeEnvConfig(horizon=30))
    core = EdgeCore(cfg.env, 4)
    roll = rollout(
        core, lambda c, o: np.zeros(c.batch_size, dtype=np.int64), np.random.default_rng(3)
    )
    m = rollout_metrics(roll, cfg)
    sim_s = 4 * 30 * cfg.env.slot_s
    assert m["episode_reward"] == pytest.approx(roll.reward.sum() / 4)
    assert m["latency_p95_ms"] >= m["latency_mean_ms"] > 0.0
    assert m["key_delivered_bps"] == pytest.approx(
        (roll.key_demand_bits - roll.key_debt_bits).sum() / sim_s
    )
    # Every task on node 0: its load ratio is the only non-zero one, Jain index 1/3.
    assert m["jain_fairness"] == pytest.approx(1.0 / 3.0)
    cost = cfg.compute_cost_usd_per_load_s * cfg.env.slot_s * (roll.load_ratio * 100.0).sum()
    cost += cfg.qkd_link_cost_usd_per_s * 3 * sim_s
    assert m["cost_per_secure_bit_usd"] == pytest.approx(cost / (m["key_delivered_bps"] * sim_s))
    # Chosen-link rates under both key models come from the chosen link's QBER.
    assert m["qber_chosen"] == pytest.approx(roll.qber_all[..., 0].mean())


def test_cli_reproduce_edge_with_overrides(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "cli"
    args = ["reproduce", "edge", "--quick", "--seeds", "2", "--out", str(out)]
    args += ["--train-steps", "800", "--set", "make_plots=false"]
    args += [f"--set={k}={json.dumps(v)}" for k, v in TINY.items() if k != "seeds"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "publication claims" in result.output and "wall time" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["seeds"] == 2 and summary["config"]["agent"]["total_env_steps"] == 800
    assert not (out / "learning_curves.png").exists()
    # A finished run is never overwritten without --force.
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "finished edge study" in again.output
    bad = runner.invoke(
        app, ["reproduce", "edge", "--out", str(tmp_path / "b"), "--set", "agent.lr=5"]
    )
    assert bad.exit_code == 2 and "'agent.lr'" in bad.output and "(0.0, 1.0]" in bad.output
    bad = runner.invoke(app, ["reproduce", "edge", "--set", "nope=1", "--out", str(tmp_path / "c")])
    assert bad.exit_code == 2 and "'nope'" in bad.output
    bad = runner.invoke(app, ["reproduce", "edge", "--set", "seeds", "--out", str(tmp_path / "d")])
    assert bad.exit_code == 2 and "'--set'" in bad.output
    bad = runner.invoke(app, ["reproduce", "edge", "--seeds", "0"])
    assert bad.exit_code == 2 and "--seeds" in bad.output


def test_ddqn_learns_to_beat_random_within_a_short_budget() -> None:
    cfg = EdgeStudyConfig.quick()
    agent = cfg.agent.with_overrides({"total_env_steps": 16_000, "learning_starts": 500})
    res = train(agent, EdgeSchedulingVectorEnv(16, cfg.env), seed=0)
    core = EdgeCore(cfg.env, 32)
    eval_rng = cfg.eval_seed(0)

    def ddqn(c: EdgeCore, obs: np.ndarray) -> np.ndarray:
        return res.policy(obs)

    rand_policy = RandomPolicy(np.random.default_rng(1))

    def rand(c: EdgeCore, obs: np.ndarray) -> np.ndarray:
        return rand_policy.act(c)

    learned = rollout_metrics(rollout(core, ddqn, np.random.default_rng(eval_rng)), cfg)
    baseline = rollout_metrics(rollout(core, rand, np.random.default_rng(eval_rng)), cfg)
    # Random scores about -930 per episode and greedy about -630 on this env.
    assert learned["episode_reward"] > baseline["episode_reward"] + 150.0, (learned, baseline)
    assert learned["overload_rate"] < baseline["overload_rate"]


def test_demo_runs_the_quick_edge_study_into_its_run_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real quick preset takes a minute or two; the demo's wiring is what is tested here.
    monkeypatch.setattr(
        EdgeStudyConfig, "quick", classmethod(lambda cls: tiny_config(make_plots=False))
    )
    # The other studies' demo wiring is tested in their own files.
    result = CliRunner().invoke(
        app,
        ["demo", "--out", str(tmp_path), "--skip-entanglement", "--skip-resilience"],
    )
    assert result.exit_code == 0, result.output
    assert "physics summary" in result.output and "publication claims" in result.output
    (run_dir,) = (tmp_path / "demo").iterdir()
    assert (run_dir / "physics_summary.json").exists()
    summary = json.loads((run_dir / "edge" / "summary.json").read_text())
    assert summary["config"]["seeds"] == 2
    assert "edge" in (run_dir / "config.yaml").read_text()
