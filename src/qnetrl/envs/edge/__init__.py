"""Edge-scheduling environment of the QKD-secured edge-offloading study.

:mod:`~qnetrl.envs.edge.core` holds the batched numpy core and its config;
:mod:`~qnetrl.envs.edge.gym_env` the Gymnasium Env and VectorEnv faces that view it.
"""

from qnetrl.envs.edge.core import (
    KEY_MODELS,
    EdgeCore,
    EdgeEnvConfig,
    EdgeLookahead,
    EdgeState,
    TaskCost,
    secure_key_rate_bps,
    task_cost,
)
from qnetrl.envs.edge.gym_env import EdgeSchedulingEnv, EdgeSchedulingVectorEnv

__all__ = [
    "KEY_MODELS",
    "EdgeCore",
    "EdgeEnvConfig",
    "EdgeLookahead",
    "EdgeSchedulingEnv",
    "EdgeSchedulingVectorEnv",
    "EdgeState",
    "TaskCost",
    "secure_key_rate_bps",
    "task_cost",
]
