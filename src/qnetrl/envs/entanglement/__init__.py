"""Entanglement-distribution environment of the DPEM study (distributed predictive allocation).

:mod:`~qnetrl.envs.entanglement.core` holds the batched numpy core and its config,
:mod:`~qnetrl.envs.entanglement.demand` the request generators and trace loader, and
:mod:`~qnetrl.envs.entanglement.pettingzoo_env` the PettingZoo ``ParallelEnv`` face (one agent
per node) that views the core with B=1.
"""

from qnetrl.envs.entanglement.core import (
    EntanglementCore,
    EntanglementEnvConfig,
    EntanglementNetwork,
    EntanglementState,
    HeadView,
    RouteView,
    build_network,
    build_requests,
    candidate_routes,
    compose_route_fidelity,
)
from qnetrl.envs.entanglement.demand import (
    BurstyRequests,
    DiurnalRequests,
    EntanglementRequestBatch,
    PoissonRequests,
    TraceRequests,
    load_request_trace,
    write_request_trace,
)
from qnetrl.envs.entanglement.pettingzoo_env import EntanglementParallelEnv, parallel_env

__all__ = [
    "BurstyRequests",
    "DiurnalRequests",
    "EntanglementCore",
    "EntanglementEnvConfig",
    "EntanglementNetwork",
    "EntanglementParallelEnv",
    "EntanglementRequestBatch",
    "EntanglementState",
    "HeadView",
    "PoissonRequests",
    "RouteView",
    "TraceRequests",
    "build_network",
    "build_requests",
    "candidate_routes",
    "compose_route_fidelity",
    "load_request_trace",
    "parallel_env",
    "write_request_trace",
]
