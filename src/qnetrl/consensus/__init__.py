"""Weighted-quorum Byzantine agreement (PBFT) with evidence-driven adaptive weights.

Key-management nodes of a QKD network replicate operations (relay orders, share-verification
results, link reports, equivocation evidence) with PBFT whose quorums are weighted; the
weights adapt at stable checkpoints from verifiable evidence only. Everything runs on an
in-process, seeded discrete-event bus with network fault injection. This layer sits below
``envs`` and imports only ``qnetrl.config`` and ``qnetrl._validation``.

Public API
----------
Configuration and running:

- ``ConsensusConfig(n_replicas=4, f=1, checkpoint_interval=8, alpha=0.5, ...,
  bus=BusFaultConfig())``
- ``run_consensus(config, requests, byzantine=None, seed=0) -> ConsensusResult``: committed
  logs and weight vectors per replica, views, view changes, bus counters (messages sent,
  dropped, ...), ``decisions`` and ``decisions_per_s``.
- ``ConsensusSystem(config, byzantine=None, seed=0)``: the same, driven step by step
  (``submit(op, client=0, at_s=None)``, ``run(until_s)``, ``done()``, ``result()``).
- ``Behaviour``: Byzantine replica behaviours (``silent``, ``equivocate``, ``bogus_votes``,
  ``framing``).

Quorums and weights (pure functions, :mod:`~qnetrl.consensus.weights`):

- ``WeightedQuorum(weights, f)``: ``total`` W, ``faulty_weight`` F_w, ``threshold`` Q,
  ``certificate_threshold`` F_w + 1, ``is_quorum(members)``, ``is_certificate(members)``.
- ``faulty_weight(weights, f)``, ``quorum_threshold(weights, f)``, ``is_admissible(weights, f)``.
- ``update_weights(weights, operations, *, f, alpha, keys) -> WeightUpdate`` and the pieces it
  chains: ``collect_evidence``, ``attribute_faults``, ``error_rate``, ``clamp_weights``;
  ``weight_schedule(initial, log, *, checkpoint_interval, f, alpha, keys)``.

Protocol pieces:

- ``MessageBus(config, rng)``, ``BusFaultConfig``, ``PartitionWindow``, ``Protocol`` (one
  abstract hook ``received_message(src, msg)``).
- ``PBFTReplica``, ``ByzantineReplica``, ``Client``.
- ``Keyring(n_principals, seed)``, ``Operation``, ``OpKind``, ``Statement``,
  ``path_statement``, ``link_statement`` and the message classes in
  :mod:`~qnetrl.consensus.messages`.
"""

from qnetrl.consensus.bus import BusFaultConfig, MessageBus, PartitionWindow, Protocol
from qnetrl.consensus.messages import (
    Keyring,
    Operation,
    OpKind,
    Statement,
    link_statement,
    path_statement,
)
from qnetrl.consensus.pbft import (
    Behaviour,
    ByzantineReplica,
    Client,
    ConsensusConfig,
    ConsensusResult,
    ConsensusSystem,
    PBFTReplica,
    run_consensus,
)
from qnetrl.consensus.weights import (
    WeightedQuorum,
    WeightUpdate,
    attribute_faults,
    clamp_weights,
    collect_evidence,
    error_rate,
    faulty_weight,
    is_admissible,
    quorum_threshold,
    update_weights,
    weight_schedule,
)

__all__ = [
    "Behaviour",
    "BusFaultConfig",
    "ByzantineReplica",
    "Client",
    "ConsensusConfig",
    "ConsensusResult",
    "ConsensusSystem",
    "Keyring",
    "MessageBus",
    "OpKind",
    "Operation",
    "PBFTReplica",
    "PartitionWindow",
    "Protocol",
    "Statement",
    "WeightUpdate",
    "WeightedQuorum",
    "attribute_faults",
    "clamp_weights",
    "collect_evidence",
    "error_rate",
    "faulty_weight",
    "is_admissible",
    "link_statement",
    "path_statement",
    "quorum_threshold",
    "run_consensus",
    "update_weights",
    "weight_schedule",
]
