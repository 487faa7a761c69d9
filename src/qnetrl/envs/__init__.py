"""Environments: batched simulation cores and their Gymnasium and PettingZoo faces.

Importing this package registers the Gymnasium ids (``qnetrl/EdgeScheduling-v0``,
``qnetrl/Resilience-v0``), with both
an ``entry_point`` for ``gymnasium.make`` and a ``vector_entry_point`` for
``gymnasium.make_vec``.
"""

from gymnasium.envs.registration import register, registry

__all__: list[str] = []

if "qnetrl/EdgeScheduling-v0" not in registry:
    register(
        id="qnetrl/EdgeScheduling-v0",
        entry_point="qnetrl.envs.edge.gym_env:EdgeSchedulingEnv",
        vector_entry_point="qnetrl.envs.edge.gym_env:EdgeSchedulingVectorEnv",
    )

if "qnetrl/Resilience-v0" not in registry:
    register(
        id="qnetrl/Resilience-v0",
        entry_point="qnetrl.envs.resilience.gym_env:ResilienceEnv",
        vector_entry_point="qnetrl.envs.resilience.gym_env:ResilienceVectorEnv",
    )
