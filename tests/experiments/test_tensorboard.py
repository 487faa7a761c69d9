"""TensorBoard logging of training curves: the logger, resume purging, sweeps, clear errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from typer.testing import CliRunner

from qnetrl._validation import InvalidParameterError
from qnetrl.cli import app
from qnetrl.experiments.sweep import create_sweep, run_sweep
from qnetrl.experiments.tensorboard import (
    TensorBoardLogger,
    read_scalars,
    require_tensorboard,
    unit_logdir,
)
from qnetrl.experiments.toy_study import InjectedFault, run_toy_study


def test_logger_writes_numeric_fields_as_scalars_and_config_as_text(tmp_path: Path) -> None:
    logdir = tmp_path / "tb"
    with TensorBoardLogger(logdir) as tb:
        tb({"type": "config", "config": {"lr": 1e-3}, "seed": 3})
        for step in range(5):
            tb({"step": step * 10, "charts/episodic_return": -float(step), "flag": True})
        tb({"step": 50, "losses/td_loss": float("nan"), "charts/updates": 7})
        tb.scalars({"study/delivery_rate": 0.5}, 60)
    scalars = read_scalars(logdir)
    assert set(scalars) == {"charts/episodic_return", "charts/updates", "study/delivery_rate"}
    assert scalars["charts/episodic_return"] == [(10 * k, -float(k)) for k in range(5)]
    assert scalars["charts/updates"] == [(50, 7.0)]
    acc = EventAccumulator(str(logdir))
    acc.Reload()
    assert acc.Tags()["tensors"] == ["config/text_summary"]


def test_fresh_logger_replaces_old_events_and_resume_purges_later_steps(tmp_path: Path) -> None:
    logdir = tmp_path / "tb"
    with TensorBoardLogger(logdir) as tb:
        for step in range(10):
            tb({"step": step, "x": float(step)})
    # a resumed trainer (checkpoint at step 6) starts with a "resume" record
    with TensorBoardLogger(logdir, fresh=False) as tb:
        tb({"type": "resume", "step": 5})  # the checkpoint holds steps <= 5
        for step in range(6, 9):
            tb({"step": step, "x": 100.0 + step})
    assert read_scalars(logdir)["x"] == [(s, float(s)) for s in range(6)] + [
        (s, 100.0 + s) for s in range(6, 9)
    ]
    with TensorBoardLogger(logdir) as tb:  # fresh: the old curve is gone
        tb({"step": 0, "x": -1.0})
    assert read_scalars(logdir)["x"] == [(0, -1.0)]


def test_missing_package_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(InvalidParameterError, match=r"'--tensorboard' option needs.*pip install"):
        require_tensorboard("--tensorboard")
    with pytest.raises(InvalidParameterError, match="qnetrl\\[tensorboard\\]"):
        TensorBoardLogger(Path("unused"))
    result = CliRunner().invoke(app, ["reproduce", "edge", "--quick", "--tensorboard"])
    assert result.exit_code == 2
    assert "'--tensorboard' option needs" in result.output


def test_resumed_run_logs_the_same_curve_as_an_uninterrupted_one(tmp_path: Path) -> None:
    toy = {"agent": {"total_env_steps": 1200}, "checkpoint_every": 400}
    run_toy_study(toy, 5, tmp_path / "straight", tensorboard=True)
    reference = read_scalars(tmp_path / "straight" / "tensorboard")
    assert reference["charts/episodic_return"][-1][0] == 1200
    broken = tmp_path / "broken"
    with pytest.raises(InjectedFault):  # after the checkpoint at 800 steps
        run_toy_study({**toy, "fail_after_steps": 900}, 5, broken, tensorboard=True)
    assert read_scalars(broken / "tensorboard")["charts/episodic_return"][-1][0] >= 880
    run_toy_study(toy, 5, broken, resume=True, tensorboard=True)
    resumed = read_scalars(broken / "tensorboard")
    timing = {"charts/SPS", "charts/wall_time_s", "charts/updates_per_s"}
    assert {"charts/episodic_return", "charts/epsilon"} <= set(reference)
    assert set(resumed) == set(reference)
    for tag in set(reference) - timing:
        assert resumed[tag] == reference[tag], tag


def test_sweep_passes_tensorboard_to_every_run(tmp_path: Path) -> None:
    toy = {"agent": {"total_env_steps": 400}, "checkpoint_every": None, "eval_episodes": 4}
    sweep_dir = create_sweep("toy", toy, {}, seeds=2, out=tmp_path / "sweep")
    assert not run_sweep(sweep_dir, workers=1, show_progress=False, tensorboard=True).failed
    runs = sorted((sweep_dir / "runs").iterdir())
    assert len(runs) == 2
    for run in runs:
        assert read_scalars(run / "tensorboard")["charts/episodic_return"][-1][0] == 400


def test_unit_logdir_layout(tmp_path: Path) -> None:
    assert unit_logdir(tmp_path, "ddqn", 3) == tmp_path / "tensorboard" / "ddqn-seed003"
