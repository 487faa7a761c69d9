"""Resilience study: a tiny run writes every documented file, resumes, and the CLI wiring."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qnetrl.cli import app
from qnetrl.config import ConfigError
from qnetrl.experiments.resilience_study import (
    CLAIMS,
    LEARNED,
    METHODS,
    METRICS,
    ResilienceStudyConfig,
    prepare_run_dir,
    run_resilience_study,
    scenario_label,
)
from qnetrl.experiments.sweep import available_studies
from qnetrl.experiments.tensorboard import read_scalars

runner = CliRunner()

VERDICTS = {"supported", "not supported", "exceeded", "not comparable"}


def _tiny() -> ResilienceStudyConfig:
    return ResilienceStudyConfig.quick().with_overrides(
        {
            "seeds": 2,
            "env.horizon": 3,
            "env.epoch_slots": 4,
            "num_envs": 4,
            "agent.total_env_steps": 48,
            "agent.learning_starts": 16,
            "agent.batch_size": 16,
            "eval_copies": 2,
            "byzantine_fractions": [0.0, 0.2],
            "byte_level_methods": [],
            "bootstrap_resamples": 99,
            "convergence_window": 2,
            "regression_points": 20,
        }
    )


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[ResilienceStudyConfig, Path]:
    cfg = _tiny()
    run_dir = prepare_run_dir(cfg, tmp_path_factory.mktemp("res") / "run")
    run_resilience_study(cfg, run_dir, show_progress=False, tensorboard=True)
    return cfg, run_dir


def test_tiny_study_writes_every_file_with_the_documented_shape(
    tiny_run: tuple[ResilienceStudyConfig, Path],
) -> None:
    cfg, run_dir = tiny_run
    for name in ("summary.json", "table.md", "table.csv", "scenarios.md", "scenarios.csv"):
        assert (run_dir / name).is_file(), name
    assert len(list((run_dir / "units").glob("*.json"))) == len(METHODS) * cfg.seeds
    summary = json.loads((run_dir / "summary.json").read_text())
    for key in ("methods", "claims", "tests", "config", "scenarios", "qber_vs_loss", "figures"):
        assert key in summary
    assert summary["study"] == "resilience"
    assert list(summary["methods"]) == list(METHODS)
    head = summary["methods"]["abft_dra"]
    assert set(METRICS) <= set(head) and "episodes_to_convergence" in head
    assert {"mean", "ci_low", "ci_high", "n"} <= set(head["availability"])
    labels = {scenario_label(b, f) for f in (False, True) for b in (0.0, 0.2)}
    assert set(summary["scenarios"]["baseline"]) == labels
    pooled = summary["scenarios"]["baseline"][scenario_label(0.2, False)]["availability_pooled"]
    assert pooled["trials"] > 0 and 0.0 <= pooled["wilson_low"] <= pooled["wilson_high"] <= 1.0
    assert [c["id"] for c in summary["claims"]] == [c["id"] for c in CLAIMS]
    for claim in summary["claims"]:
        assert claim["verdict"] in VERDICTS
        assert {"mean", "ci_low", "ci_high", "n"} <= set(claim["measured"])
    wrong = next(c for c in summary["claims"] if c["id"] == "zero_wrong_keys")
    assert wrong["measured"]["mean"] == 0.0 and wrong["verdict"] == "supported"
    # Key rate retained is 1 in the attack-free scenario by construction.
    retained = summary["scenarios"]["abft"][scenario_label(0.0, False)]["key_rate_retained"]
    assert retained["mean"] == pytest.approx(1.0)
    reg = summary["qber_vs_loss"]["baseline"]
    assert reg["n"] > 0 and "slope_per_db" in reg
    for fig in summary["figures"]:
        assert (run_dir / fig).is_file() and (run_dir / fig).stat().st_size > 1000
    with open(run_dir / "table.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(CLAIMS) and {"claim", "verdict", "ci_low"} <= set(rows[0])
    assert "publication claim" in (run_dir / "table.md").read_text()
    logged = sorted(p.name for p in (run_dir / "tensorboard").iterdir())
    assert logged == [f"{m}-seed{i:03d}" for m in sorted(LEARNED) for i in range(cfg.seeds)]
    for name in logged:
        scalars = read_scalars(run_dir / "tensorboard" / name)
        assert {"charts/episodic_return", "eval/mean_return"} <= set(scalars)
        assert scalars["eval/mean_return"][-1][0] == cfg.agent.total_env_steps


def test_study_resumes_from_units_and_refuses_to_overwrite(
    tiny_run: tuple[ResilienceStudyConfig, Path],
) -> None:
    cfg, run_dir = tiny_run
    first = json.loads((run_dir / "summary.json").read_text())
    with pytest.raises(ConfigError, match="finished resilience study"):
        prepare_run_dir(cfg, run_dir)
    (run_dir / "summary.json").unlink()
    again = run_resilience_study(cfg, prepare_run_dir(cfg, run_dir), show_progress=False)
    assert again.summary["timing"]["units_resumed"] == len(METHODS) * cfg.seeds
    assert again.summary["claims"] == first["claims"]
    assert again.summary["scenarios"] == first["scenarios"]


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match="byzantine_fractions"):
        ResilienceStudyConfig.validate_dict({"byzantine_fractions": [0.1, 0.3]})
    with pytest.raises(ConfigError, match="byte_level_methods"):
        ResilienceStudyConfig.validate_dict({"byte_level_methods": ["nope"]})


def test_cli_and_sweep_registry(tmp_path: Path) -> None:
    assert "resilience" in available_studies()
    res = runner.invoke(app, ["reproduce", "resilience", "--seeds", "0"])
    assert res.exit_code == 2
    res = runner.invoke(
        app, ["reproduce", "resilience", "--out", str(tmp_path / "r"), "--set", "seeds=0"]
    )
    assert res.exit_code == 2 and "seeds" in res.output
    res = runner.invoke(app, ["reproduce", "resilience", "--help"])
    assert res.exit_code == 0 and "--quick" in res.output


def test_demo_runs_the_quick_resilience_study_after_the_edge_study(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qnetrl.experiments.edge_study import EdgeStudyConfig

    tiny_edge = EdgeStudyConfig().with_overrides(
        {
            "seeds": 1,
            "num_envs": 4,
            "eval_episodes": 2,
            "sweep_episodes": 2,
            "sweep_snr_offsets_db": [0.0],
            "bootstrap_resamples": 99,
            "convergence_window": 2,
            "key_rate_snr_db": [0.0, 30.0, 3],
            "env.horizon": 5,
            "agent.total_env_steps": 40,
            "agent.learning_starts": 10,
            "make_plots": False,
        }
    )
    monkeypatch.setattr(EdgeStudyConfig, "quick", classmethod(lambda cls: tiny_edge))
    tiny = _tiny().with_overrides({"seeds": 1, "make_plots": False})
    monkeypatch.setattr(ResilienceStudyConfig, "quick", classmethod(lambda cls: tiny))
    # The other studies have their own demo tests; skip the DPEM study here.
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--skip-entanglement"])
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "demo").iterdir()
    summary = json.loads((run_dir / "resilience" / "summary.json").read_text())
    assert summary["study"] == "resilience" and summary["config"]["seeds"] == 1
    assert "resilience" in (run_dir / "config.yaml").read_text()
    skipped = runner.invoke(
        app, ["demo", "--out", str(tmp_path / "b"), "--skip-resilience", "--skip-entanglement"]
    )
    assert skipped.exit_code == 0, skipped.output
    (run_b,) = (tmp_path / "b" / "demo").iterdir()
    assert (run_b / "edge").is_dir() and not (run_b / "resilience").exists()
