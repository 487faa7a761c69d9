"""Resilience environment: ABFT-secured QKD network with dynamic resource allocation (DRA).

:mod:`~qnetrl.envs.resilience.trust` holds the per-epoch replication and weight layer,
:mod:`~qnetrl.envs.resilience.core` the batched core over
:class:`~qnetrl.network.simulator.NetworkSimulator`, and :mod:`~qnetrl.envs.resilience.gym_env`
the Gymnasium Env and VectorEnv faces (``qnetrl/Resilience-v0``).
"""

from qnetrl.envs.resilience.core import (
    PROTOCOL_CHOICES,
    ROUTE_MODES,
    ResilienceCore,
    ResilienceEnvConfig,
    decode_action,
    encode_action,
)
from qnetrl.envs.resilience.gym_env import ResilienceEnv, ResilienceVectorEnv
from qnetrl.envs.resilience.trust import (
    EpochEvidence,
    TrustConfig,
    TrustLayer,
    collect_epoch,
    epoch_operations,
    max_tolerated,
)

__all__ = [
    "PROTOCOL_CHOICES",
    "ROUTE_MODES",
    "EpochEvidence",
    "ResilienceCore",
    "ResilienceEnv",
    "ResilienceEnvConfig",
    "ResilienceVectorEnv",
    "TrustConfig",
    "TrustLayer",
    "collect_epoch",
    "decode_action",
    "encode_action",
    "epoch_operations",
    "max_tolerated",
]
