"""Plumbing shared by the env faces: config resolution, render mode, single and vector steps."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from gymnasium import spaces
from numpy.typing import NDArray

from qnetrl._validation import InvalidParameterError
from qnetrl.config import ConfigBase, ConfigError
from qnetrl.envs._faces import check_render_mode, resolve_config, single_step, vector_step


class _Inner(ConfigBase):
    k: int = 1


class _Config(ConfigBase):
    horizon: int = 3
    inner: _Inner = _Inner()


def test_resolve_config_flat_and_dotted() -> None:
    flat = resolve_config(_Config, {"horizon": 5}, {"horizon": 7}, owner="E", source="S")
    assert flat.horizon == 7
    assert resolve_config(_Config, None, {}, owner="E", source="S") == _Config()
    cfg = _Config(horizon=4)
    assert resolve_config(_Config, cfg, {}, owner="E", source="S") is cfg
    assert resolve_config(_Config, cfg, {"inner.k": 2}, owner="E", source="S").inner.k == 2
    dotted = resolve_config(
        _Config, {"horizon": 5}, {"inner.k": 9}, owner="E", source="S", dotted=True
    )
    assert (dotted.horizon, dotted.inner.k) == (5, 9)
    with pytest.raises(ConfigError, match="Invalid S arguments: Unknown field 'bogus'"):
        resolve_config(_Config, None, {"bogus": 1}, owner="E", source="S")
    with pytest.raises(ConfigError, match="Invalid S config"):
        resolve_config(_Config, {"bogus": 1}, {}, owner="E", source="S", dotted=True)
    with pytest.raises(InvalidParameterError, match="of E must be a _Config, a mapping or None"):
        resolve_config(_Config, 5, {}, owner="E", source="S")  # type: ignore[arg-type]


def test_check_render_mode() -> None:
    assert check_render_mode(None, "E") is None and check_render_mode("ansi", "E") == "ansi"
    with pytest.raises(InvalidParameterError, match="'render_mode' parameter of E"):
        check_render_mode("human", "E")


class _Core:
    """B copies counting steps; all truncate after ``horizon`` steps."""

    def __init__(self, batch: int, horizon: int) -> None:
        self.batch, self.horizon, self.t, self.resets = batch, horizon, 0, 0

    def reset(self, rng: np.random.Generator) -> NDArray[np.float32]:
        self.t, self.resets = 0, self.resets + 1
        return np.full((self.batch, 1), -1.0, dtype=np.float32)

    def step(
        self, actions: NDArray[np.int64]
    ) -> tuple[NDArray[np.float32], NDArray[np.float64], NDArray[np.bool_], dict[str, Any]]:
        self.t += 1
        obs = np.full((self.batch, 1), self.t, dtype=np.float32)
        truncated = np.full(self.batch, self.t >= self.horizon)
        return obs, actions.astype(np.float64), truncated, {"a": actions.copy()}


def test_single_step_takes_copy_zero_and_checks_the_action() -> None:
    core = _Core(1, 2)
    obs, reward, terminated, truncated, info = single_step(core, spaces.Discrete(3), 2, "E.step")
    assert obs.tolist() == [1.0] and reward == 2.0 and info == {"a": 2}
    assert terminated is False and truncated is False
    assert single_step(core, spaces.Discrete(3), 0, "E.step")[3] is True
    with pytest.raises(InvalidParameterError, match=r"'action' parameter of E.step .* \[0, 2\]"):
        single_step(core, spaces.Discrete(3), 3, "E.step")


def test_vector_step_autoresets_on_the_same_step() -> None:
    core, rng = _Core(2, 2), np.random.default_rng(0)
    obs, reward, terminated, truncated, infos = vector_step(core, np.array([1, 0]), rng)
    assert obs.tolist() == [[1.0], [1.0]] and reward.tolist() == [1.0, 0.0]
    assert not truncated.any() and not terminated.any()
    assert infos["a"].tolist() == [1, 0] and infos["_a"].all() and "final_obs" not in infos
    obs, reward, terminated, truncated, infos = vector_step(core, np.array([0, 1]), rng)
    assert reward.tolist() == [0.0, 1.0] and not terminated.any()
    assert truncated.all() and core.resets == 1 and obs.tolist() == [[-1.0], [-1.0]]
    assert infos["final_obs"].tolist() == [[2.0], [2.0]] and infos["_final_obs"].all()
    assert infos["final_info"]["a"].tolist() == [0, 1] and infos["_final_info"].all()
