"""The QKD network layer: topologies, key material, relaying, secret sharing, demand, fluctuations.

Modules: :mod:`~qnetrl.network.topology` and :mod:`~qnetrl.network.topology_io` (graphs and
files), :mod:`~qnetrl.network.otp` (one-time pad and hop-by-hop trusted relay),
:mod:`~qnetrl.network.secret_sharing` (Shamir shares with Reed-Solomon decoding over node-disjoint
paths), :mod:`~qnetrl.network.authentication` (one-time Wegman-Carter MAC),
:mod:`~qnetrl.network.demand` (Poisson and trace key requests) and
:mod:`~qnetrl.network.fluctuations` (fibre loss, cuts and drift processes),
:mod:`~qnetrl.network.link_model` (per-slot key generation of every link),
:mod:`~qnetrl.network.routing` (shortest / node-disjoint path tables, key-pool-aware choice) and
:mod:`~qnetrl.network.faults` (Byzantine and crash fault scenarios), tied together by
:mod:`~qnetrl.network.simulator` (the time-slotted batched simulator) and
:mod:`~qnetrl.network.metrics` (its outcomes and summary).
"""

__all__ = [
    "authentication",
    "demand",
    "faults",
    "fluctuations",
    "link_model",
    "metrics",
    "otp",
    "routing",
    "secret_sharing",
    "simulator",
    "topology",
    "topology_io",
]
