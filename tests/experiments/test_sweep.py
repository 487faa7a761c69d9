"""Sweeps: grid expansion, training checkpoints, kill-and-resume, Ray backend, failing runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from qnetrl._validation import InvalidParameterError
from qnetrl.agents.dqn import DQNConfig, train
from qnetrl.cli import app
from qnetrl.config import ConfigError
from qnetrl.envs.edge.gym_env import EdgeSchedulingVectorEnv
from qnetrl.experiments.sweep import (
    available_studies,
    create_sweep,
    expand_grid,
    parse_grid_options,
    read_index,
    run_sweep,
)

runner = CliRunner()

#: A toy-study config that trains for about a second, with a checkpoint every 100 env steps.
TOY: dict[str, Any] = {
    "agent": {"total_env_steps": 800, "learning_starts": 100},
    "checkpoint_every": 100,
    "eval_episodes": 8,
    "bootstrap_resamples": 199,
}


# --------------------------------------------------------------------------------------------
# grid expansion
# --------------------------------------------------------------------------------------------


def test_expand_grid_is_the_product_of_values_and_seeds() -> None:
    base = {"agent": {"lr": 1e-3, "gamma": 0.99}, "num_envs": 4}
    grid = {"agent.lr": [1e-3, 5e-4, 1e-4], "num_envs": [2, 4], "env.horizon": [10]}
    specs = expand_grid(base, grid, seeds=2, seed0=5, study="toy")
    assert len(specs) == 3 * 2 * 1 * 2
    # last grid key varies fastest, seeds innermost
    assert [(s.params["agent.lr"], s.params["num_envs"], s.seed) for s in specs[:5]] == [
        (1e-3, 2, 5),
        (1e-3, 2, 6),
        (1e-3, 4, 5),
        (1e-3, 4, 6),
        (5e-4, 2, 5),
    ]
    spec = specs[4]
    assert spec.config == {
        "agent": {"lr": 5e-4, "gamma": 0.99},
        "num_envs": 2,
        "env": {"horizon": 10},
    }
    assert base == {"agent": {"lr": 1e-3, "gamma": 0.99}, "num_envs": 4}  # not mutated
    ids = [s.run_id for s in specs]
    assert len(set(ids)) == len(ids)
    assert spec.run_id.startswith("agent.lr=0.0005_num_envs=2_env.horizon=10__s5__")
    # stable: same inputs, same ids; the hash covers the resolved config and the study
    assert [s.run_id for s in expand_grid(base, grid, seeds=[5, 6], study="toy")] == ids
    other = expand_grid({**base, "eval_episodes": 9}, grid, seeds=2, seed0=5, study="toy")
    assert all(a.run_id != b.run_id for a, b in zip(specs, other, strict=True))
    assert expand_grid(base, grid, 2, seed0=5, study="edge")[0].run_id != ids[0]
    assert [s.run_id.split("__")[0] for s in expand_grid({}, {}, seeds=3)] == ["base"] * 3


@pytest.mark.parametrize(
    ("grid", "seeds", "match"),
    [
        ({"agent.lr": []}, 1, "non-empty list"),
        ({"agent.lr": "0.1"}, 1, "non-empty list"),
        ({"agent.lr": [0.1, 0.1]}, 1, "distinct values"),
        ({"agent..lr": [0.1]}, 1, "dotted field names"),
        ({}, 0, "'seeds' parameter of expand_grid must be an int in the range \\[1, inf\\)"),
        ({}, [1, 1], "distinct non-negative ints"),
        ({"agent.lr.x": [1]}, 1, "holds a float"),
    ],
)
def test_expand_grid_rejects_bad_input(grid: dict, seeds: Any, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        expand_grid({"agent": {"lr": 1e-3}}, grid, seeds)


def test_parse_grid_options() -> None:
    grid = parse_grid_options(
        ["agent.lr=1e-3, 5e-4", "agent.double=true,false", "agent.hidden_sizes=[[8], [16, 16]]"]
    )
    assert grid == {
        "agent.lr": [1e-3, 5e-4],
        "agent.double": [True, False],
        "agent.hidden_sizes": [[8], [16, 16]],
    }
    with pytest.raises(InvalidParameterError, match="'--grid' option must look like"):
        parse_grid_options(["agent.lr"])


def test_create_sweep_validates_every_grid_point_first(tmp_path: Path) -> None:
    assert {"toy", "edge"} <= set(available_studies())
    with pytest.raises(ConfigError, match=r"agent\.lr=-1\.0.*'agent\.lr' field .* \(0\.0, 1\.0\]"):
        create_sweep("toy", {}, {"agent.lr": [1e-3, -1.0]}, out=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
    with pytest.raises(InvalidParameterError, match=r"'study' parameter .*'edge'.*'toy'"):
        create_sweep("nope", {}, {}, out=tmp_path / "nope")
    sweep_dir = create_sweep("toy", TOY, {}, seeds=1, out=tmp_path / "ok")
    with pytest.raises(ConfigError, match=r"already holds a sweep.*--resume"):
        create_sweep("toy", TOY, {}, out=sweep_dir)


# --------------------------------------------------------------------------------------------
# training checkpoints (qnetrl.agents.dqn.train)
# --------------------------------------------------------------------------------------------


def _log_records(path: Path) -> list[dict[str, Any]]:
    """Training-log records without wall-clock figures and resume markers."""
    timing = ("charts/SPS", "charts/updates_per_s", "charts/wall_time_s")
    out = []
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if rec.get("type") != "resume":
            out.append({k: v for k, v in rec.items() if k not in timing})
    return out


class _Stop(Exception):
    pass


def _tiny(prioritized: bool) -> DQNConfig:
    return DQNConfig(
        total_env_steps=480,
        hidden_sizes=(16,),
        batch_size=16,
        buffer_size=300,  # smaller than the run: the ring buffer wraps before the checkpoint
        learning_starts=60,
        target_update=2,
        prioritized=prioritized,
    )


def _same_training(a: Any, b: Any) -> bool:
    return (
        a.num_updates == b.num_updates
        and np.array_equal(a.losses, b.losses)
        and np.array_equal(a.episode_returns, b.episode_returns)
        and np.array_equal(a.eval_returns, b.eval_returns)
        and all(
            torch.equal(x, y)
            for x, y in zip(
                a.q_network.state_dict().values(), b.q_network.state_dict().values(), strict=True
            )
        )
    )


@pytest.mark.parametrize("prioritized", [False, True])
def test_train_resumed_from_checkpoint_equals_uninterrupted(
    tmp_path: Path, prioritized: bool
) -> None:
    cfg = _tiny(prioritized)

    def envs() -> EdgeSchedulingVectorEnv:
        return EdgeSchedulingVectorEnv(4, None, horizon=10)

    def eval_fn(policy: Any) -> float:
        return float(np.sum(policy(np.zeros((2, 11), dtype=np.float32))))

    kw = {"eval_fn": eval_fn, "eval_every": 100}
    plain = train(cfg, envs(), 3, **kw)
    ckpt, log = tmp_path / "ckpt.pt", tmp_path / "train.jsonl"
    # writing checkpoints does not change the numbers
    ref_log = tmp_path / "ref.jsonl"
    ref = train(
        cfg,
        envs(),
        3,
        checkpoint_path=tmp_path / "c0.pt",
        checkpoint_every=70,
        log_path=ref_log,
        **kw,
    )
    assert _same_training(plain, ref)

    def stop_late(step: int, total: int) -> None:
        if step >= 360:
            raise _Stop

    with pytest.raises(_Stop):
        train(
            cfg,
            envs(),
            3,
            checkpoint_path=ckpt,
            checkpoint_every=70,
            log_path=log,
            progress=stop_late,
            **kw,
        )
    saved = torch.load(ckpt, weights_only=False)
    # the last checkpoint before the stop at 360; the 300-slot ring buffer has wrapped
    assert saved["env_steps"] == 352
    assert saved["replay"]["size"] == 300 and saved["replay"]["pos"] == 52
    assert _log_records(log) != _log_records(ref_log)  # cut short
    resumed = train(
        cfg,
        envs(),
        3,
        checkpoint_path=ckpt,
        checkpoint_every=70,
        log_path=log,
        resume=True,
        **kw,
    )
    assert _same_training(plain, resumed)
    assert '"type": "resume"' in log.read_text()
    # records written between the checkpoint and the stop were cut, not repeated
    assert _log_records(log) == _log_records(ref_log)


def test_train_checkpoint_arguments_are_checked(tmp_path: Path) -> None:
    cfg = _tiny(False)
    envs = EdgeSchedulingVectorEnv(4, None, horizon=10)
    with pytest.raises(InvalidParameterError, match="'checkpoint_path' parameter of train"):
        train(cfg, envs, 0, checkpoint_every=10)
    with pytest.raises(InvalidParameterError, match="'checkpoint_every' parameter of train"):
        train(cfg, envs, 0, checkpoint_path=tmp_path / "c.pt", checkpoint_every=0)
    ckpt = tmp_path / "c.pt"
    small = cfg.with_overrides({"total_env_steps": 120})
    train(small, envs, 0, checkpoint_path=ckpt, checkpoint_every=40)
    with pytest.raises(InvalidParameterError, match=r"does not belong to this run.*'seed'"):
        train(small, envs, 1, checkpoint_path=ckpt, resume=True)


# --------------------------------------------------------------------------------------------
# sweeps: kill and resume, Ray, failures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted toy sweep (2 seeds) run in this process."""
    out = tmp_path_factory.mktemp("ref") / "sweep"
    sweep_dir = create_sweep("toy", TOY, {}, seeds=2, out=out)
    result = run_sweep(sweep_dir, workers=0, show_progress=False)
    assert result.done == 2 and not result.failed
    return sweep_dir


def _summaries(sweep_dir: Path) -> dict[str, bytes]:
    return {p.parent.name: p.read_bytes() for p in (sweep_dir / "runs").glob("*/summary.json")}


@pytest.mark.slow
def test_sigkilled_sweep_resumes_to_the_uninterrupted_result(
    reference: Path, tmp_path: Path
) -> None:
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(yaml.safe_dump({"study": "toy", "config": TOY, "seeds": 2}))
    out = tmp_path / "killed"
    cmd = [sys.executable, "-c", "from qnetrl.cli import main; main()", "sweep", str(sweep_file)]
    cmd += ["--workers", "1", "--out", str(out), "--no-report"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        cmd, start_new_session=True, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    finished: list[Path] = []
    started: list[Path] = []
    deadline = time.monotonic() + 120.0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            runs = sorted((out / "runs").glob("*")) if (out / "runs").is_dir() else []
            finished = [r for r in runs if (r / "result.json").exists()]
            started = [r for r in runs if r not in finished and (r / "checkpoint.pt").exists()]
            if finished and started:
                break
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its pool worker
        proc.wait()
    assert finished and started, proc.stdout.read().decode() if proc.stdout else ""
    assert not (started[0] / "result.json").exists()  # killed mid-run, after a checkpoint
    kept = {p: (p / "result.json").read_bytes() for p in finished}
    statuses = {r["run_id"]: r["status"] for r in read_index(out)}
    assert statuses[started[0].name] == "running"

    result = runner.invoke(app, ["sweep", "--resume", str(out), "--workers", "0", "--no-report"])
    assert result.exit_code == 0, result.output
    assert "2/2 runs done (1 finished before)" in " ".join(result.output.split())

    assert _summaries(out) == _summaries(reference)  # bit for bit
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(_summaries(reference))
    for path, content in kept.items():  # finished results untouched
        assert (path / "result.json").read_bytes() == content
    rows = {r["run_id"]: r for r in read_index(out)}
    assert len(rows) == 2 and all(r["status"] == "done" for r in rows.values())
    assert rows[finished[0].name]["attempts"] == 1 and rows[started[0].name]["attempts"] == 2
    assert json.loads((started[0] / "result.json").read_text())["resumed"] is True
    resumed_log = started[0] / "train.jsonl"
    assert '"type": "resume"' in resumed_log.read_text()  # continued, not restarted
    assert _log_records(resumed_log) == _log_records(
        reference / "runs" / started[0].name / "train.jsonl"
    )
    assert (out / "index.csv").read_text().count("\n") == 3


@pytest.mark.slow
def test_ray_backend_matches_local_backend(reference: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    sweep_dir = create_sweep("toy", TOY, {}, seeds=2, out=tmp_path / "ray")
    result = run_sweep(sweep_dir, backend="ray", workers=1, show_progress=False)
    assert result.done == 2 and not result.failed
    assert _summaries(sweep_dir) == _summaries(reference)


def test_ray_backend_without_ray_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    sweep_dir = create_sweep("toy", TOY, {}, out=tmp_path / "s")
    with pytest.raises(InvalidParameterError, match=r"pip install 'qnetrl\[ray\]'"):
        run_sweep(sweep_dir, backend="ray", show_progress=False)
    with pytest.raises(InvalidParameterError, match="'backend' parameter of run_sweep"):
        run_sweep(sweep_dir, backend="dask", show_progress=False)  # type: ignore[arg-type]


def test_a_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path: Path) -> None:
    small = {**TOY, "agent": {"total_env_steps": 200, "learning_starts": 50}, "eval_episodes": 4}
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(
        yaml.safe_dump({"study": "toy", "config": small, "grid": {"fail_after_steps": [40, None]}})
    )
    out = tmp_path / "sweep"
    result = runner.invoke(app, ["sweep", str(sweep_file), "--workers", "0", "--out", str(out)])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "1/2 runs done" in text and "1 failed" in text and "error.txt" in text
    rows = read_index(out)
    assert [r["status"] for r in rows] == ["failed", "done"]  # the failure came first
    bad, good = (out / "runs" / r["run_id"] for r in rows)
    assert "InjectedFault: fault injected by fail_after_steps=40" in rows[0]["error"]
    trace = (bad / "error.txt").read_text()
    assert trace.startswith("Traceback") and "InjectedFault" in trace
    assert not (bad / "result.json").exists() and (good / "result.json").exists()
    assert (out / "report.html").exists()  # the report is written despite the failure

    again = run_sweep(out, workers=0, show_progress=False)  # resume: retries the failure only
    assert again.skipped == 1 and again.failed == [rows[0]["run_id"]]
    assert [r["attempts"] for r in read_index(out)] == [2, 1]
