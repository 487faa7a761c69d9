"""Plumbing shared by the Gymnasium and PettingZoo faces of the batched simulation cores.

A face is a thin view of a core that steps B copies at once (``reset(rng)`` returns the first
observations and ``step(actions)`` returns ``(obs, reward, truncated, info)``, all with a
leading batch axis B). What the faces have in common is written once here: resolving their
``config`` argument, checking ``render_mode``, the single-copy step of an Env (copy 0 of a
B=1 core) and the same-step autoreset of a VectorEnv.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, TypeAlias, TypeVar

import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from qnetrl._validation import InvalidParameterError, check_choice
from qnetrl.config import ConfigBase

__all__ = [
    "BatchedCore",
    "SingleStep",
    "VectorStep",
    "check_render_mode",
    "resolve_config",
    "single_step",
    "vector_step",
]

_C = TypeVar("_C", bound=ConfigBase)

#: What ``gymnasium.Env.step`` returns: observation, reward, terminated, truncated, info.
SingleStep: TypeAlias = tuple[NDArray[np.float32], float, bool, bool, dict[str, Any]]

#: What ``gymnasium.vector.VectorEnv.step`` returns, every entry with a leading axis B.
VectorStep: TypeAlias = tuple[
    NDArray[np.float32], NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_], dict[str, Any]
]


class BatchedCore(Protocol):
    """A simulation core stepping B copies at once; every copy truncates on the same step."""

    def reset(self, rng: np.random.Generator) -> NDArray[np.float32]:
        """Start an episode in every copy; the first observations, shape (B, obs_dim)."""
        ...

    def step(
        self, actions: NDArray[np.int64]
    ) -> tuple[NDArray[np.float32], NDArray[np.float64], NDArray[np.bool_], dict[str, Any]]:
        """Advance every copy; observations, rewards, truncation flags and info arrays."""
        ...


def resolve_config(
    cls: type[_C],
    config: _C | Mapping[str, Any] | None,
    overrides: Mapping[str, Any],
    *,
    owner: str,
    source: str,
    dotted: bool = False,
) -> _C:
    """Resolve the ``config`` argument of an env constructor; keyword ``overrides`` win.

    ``config`` is a ``cls`` instance (overrides applied by ``with_overrides``), a mapping of
    fields, or None for the defaults. With ``dotted=False`` the overrides are plain field names
    merged into the mapping and validated with it (messages cite ``"<source> arguments"`` or
    ``"<source> config"``); with ``dotted=True`` they are applied to the validated config and
    may name nested fields (``"network.n_paths"``). An unknown or out-of-range field raises
    :class:`qnetrl.config.ConfigError` naming it; a ``config`` of another type raises
    :class:`InvalidParameterError` naming ``owner``.
    """
    if isinstance(config, cls):
        return config.with_overrides(dict(overrides)) if overrides else config
    if config is not None and not isinstance(config, Mapping):
        article = "an" if cls.__name__[0] in "AEIOU" else "a"
        raise InvalidParameterError(
            f"The 'config' parameter of {owner} must be {article} {cls.__name__}, a mapping or "
            f"None. Got {config!r} instead."
        )
    if not dotted:
        if config is None:
            return cls.validate_dict(dict(overrides), source=f"{source} arguments")
        return cls.validate_dict({**config, **overrides}, source=f"{source} config")
    if config is None:
        base = cls()
    else:
        base = cls.validate_dict(dict(config), source=f"{source} config")
    return base.with_overrides(dict(overrides)) if overrides else base


def check_render_mode(render_mode: str | None, owner: str) -> str | None:
    """Return ``render_mode`` after checking it is None or ``"ansi"``, the one mode offered."""
    if render_mode is not None:
        check_choice("render_mode", render_mode, ("ansi",), owner=owner)
    return render_mode


def single_step(
    core: BatchedCore, action_space: spaces.Discrete, action: Any, owner: str
) -> SingleStep:
    """Step a B=1 ``core`` with one ``action`` of ``action_space``; return copy 0's step.

    An action outside ``action_space`` raises :class:`InvalidParameterError` naming ``owner``.
    """
    if not action_space.contains(action):
        raise InvalidParameterError(
            f"The 'action' parameter of {owner} must be an int in the range "
            f"[0, {int(action_space.n) - 1}]. Got {action!r} instead."
        )
    obs, reward, truncated, info = core.step(np.array([action], dtype=np.int64))
    return obs[0], float(reward[0]), False, bool(truncated[0]), {k: v[0] for k, v in info.items()}


def vector_step(core: BatchedCore, actions: Any, rng: np.random.Generator) -> VectorStep:
    """Step every copy of ``core``, resetting it from ``rng`` on the truncation step.

    Autoreset is same-step (``AutoresetMode.SAME_STEP``): on the truncation step the returned
    observations are the first of the next episode, and ``infos["final_obs"]`` and
    ``infos["final_info"]`` (masks ``"_final_obs"``, ``"_final_info"``) hold the finished
    episode's last observations and step infos. The step's info arrays are the top-level
    keys, each with its all-true ``"_<key>"`` mask. ``terminated`` is always False.
    """
    obs, reward, truncated, info = core.step(np.asarray(actions))
    num_envs = truncated.shape[0]
    terminated = np.zeros(num_envs, dtype=np.bool_)
    infos: dict[str, Any] = {}
    for key, value in info.items():
        infos[key] = value
        infos[f"_{key}"] = np.ones(num_envs, dtype=np.bool_)
    if truncated.any():
        # Copies share one horizon and one step counter, so they truncate together.
        assert truncated.all(), "the copies of a core must truncate on the same step"
        infos["final_info"] = dict(infos)
        infos["_final_info"] = truncated.copy()
        infos["final_obs"] = obs
        infos["_final_obs"] = truncated.copy()
        obs = core.reset(rng)
    return obs, reward, terminated, truncated, infos
