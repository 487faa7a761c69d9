"""Weighted PBFT: agreement, validity, weights, framing and liveness under faults and Byzantines."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qnetrl._validation import InvalidParameterError
from qnetrl.config import ConfigError, invalid_examples
from qnetrl.consensus import (
    BusFaultConfig,
    ConsensusConfig,
    ConsensusResult,
    ConsensusSystem,
    Keyring,
    Operation,
    PartitionWindow,
    is_admissible,
    link_statement,
    path_statement,
    run_consensus,
    weight_schedule,
)
from qnetrl.consensus.messages import NULL_DIGEST, PrePrepare, Reply, Request, digest

BEHAVIOURS = ("silent", "equivocate", "bogus_votes", "framing")


def workload(keys: Keyring, n: int, count: int, rng: np.random.Generator) -> list[Operation]:
    """Relay orders, honest link reports (both endpoints) and intact share paths."""
    ops: list[Operation] = []
    for i in range(count):
        if i % 3 == 0:
            ops.append(Operation.relay_order([0, 1, 2], 256, tag=i))
        elif i % 3 == 1:
            u, v = sorted(int(x) for x in rng.choice(n, 2, replace=False))
            q = int(rng.integers(0, 100_000))
            for who in (u, v):
                stmt = link_statement(keys.identity(who), u=u, v=v, round_=i, qber_ppm=q)
                ops.append(Operation.link_report(stmt))
        else:
            src, dst = (int(x) for x in rng.choice(n, 2, replace=False))
            relay = next(j for j in range(n) if j not in (src, dst))
            for role, who in (("src", src), ("dst", dst)):
                stmt = path_statement(
                    keys.identity(who),
                    delivery=i,
                    path_index=0,
                    source=src,
                    destination=dst,
                    relays=(relay,),
                    role=role,
                    share_digest=digest(b"share"),
                )
                ops.append(Operation.share_verification(stmt))
    return ops


def assert_safe(res: ConsensusResult, cfg: ConsensusConfig, keys: Keyring) -> None:
    """Agreement, validity, admissible and identical weights, framing-proof weights."""
    honest = res.honest
    for a, b in itertools.combinations(honest, 2):
        m = min(len(res.logs[a]), len(res.logs[b]))
        assert res.logs[a][:m] == res.logs[b][:m], f"replicas {a} and {b} disagree"
    for i in honest:
        for d in res.logs[i]:
            assert d == NULL_DIGEST or d in res.submitted_digests, "committed an unrequested value"
    w0 = np.asarray(cfg.weights0())
    for i in honest:
        for w in res.weights[i]:
            assert is_admissible(w, cfg.f)
            assert all(w[h] == w0[h] for h in honest), "an honest weight changed"
        replay = weight_schedule(
            w0,
            list(res.operations[i]),
            checkpoint_interval=cfg.checkpoint_interval,
            f=cfg.f,
            alpha=cfg.alpha,
            keys=keys,
        )
        assert [tuple(w) for w in replay] == list(res.weights[i])
    common = min(len(res.weights[i]) for i in honest)
    assert len({res.weights[i][:common] for i in honest}) == 1


# ---------------------------------------------------------------------------------------------
# Configuration and arguments
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "bad"), invalid_examples(ConsensusConfig))
def test_every_bounded_field_rejects_out_of_range(field: str, bad: object) -> None:
    with pytest.raises(ConfigError, match=f"'{field}' field of ConsensusConfig must be"):
        ConsensusConfig().with_overrides({field: bad})


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"n_replicas": 6, "f": 2}, "'initial_weights' .*W >= 3 F_w \\+ 1 with f=2; got W=6000"),
        ({"initial_weights": [3, 1, 1, 1]}, "'initial_weights' .*with f=1; got W=6, F_w=3"),
        ({"initial_weights": [1, 1, 1]}, "'initial_weights' .*one entry per replica"),
        ({"n_replicas": 4, "f": 4}, "'f' field .*range \\[0, n_replicas - 1 = 3\\]"),
        ({"bus": {"equivocators": [5]}}, "'bus' field .*replica ids in \\[0, 3\\]"),
    ],
)
def test_unsafe_deployments_are_rejected(data: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ConsensusConfig.validate_dict(data)


def test_bad_byzantine_maps_and_requests_name_the_parameter() -> None:
    cfg = ConsensusConfig()
    with pytest.raises(InvalidParameterError, match=r"at most f=1 replicas\. Got 2"):
        ConsensusSystem(cfg, byzantine={0: "silent", 1: "silent"})
    with pytest.raises(InvalidParameterError, match=r"must map to one of .*'framing'"):
        ConsensusSystem(cfg, byzantine={0: "sneaky"})
    with pytest.raises(InvalidParameterError, match=r"replica ids in \[0, 3\]"):
        ConsensusSystem(cfg, byzantine={9: "silent"})
    with pytest.raises(InvalidParameterError, match="'requests' parameter of run_consensus"):
        run_consensus(cfg, ["not an operation"])  # type: ignore[list-item]


# ---------------------------------------------------------------------------------------------
# Normal case and authentication
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "f"), [(4, 1), (7, 2)])
def test_fault_free_run_commits_everything_once_in_view_zero(n: int, f: int) -> None:
    cfg = ConsensusConfig(n_replicas=n, f=f, checkpoint_interval=3)
    keys = Keyring(n + 1, seed=3)
    ops = workload(keys, n, 7, np.random.default_rng(0))
    res = run_consensus(cfg, ops, seed=3)
    assert res.all_executed and res.completed == len(ops) and res.view_changes == 0
    assert len({res.logs[i] for i in range(n)}) == 1 and len(res.logs[0]) == len(ops)
    assert [op for op in res.operations[0]] == ops  # executed in submission order
    assert_safe(res, cfg, keys)
    assert res.bus["dropped"] == res.bus["rejected"] == 0
    assert res.decisions == len(ops) and res.decisions_per_s > 0
    assert res.weights[0][-1] == (1000,) * n


def test_forged_and_tampered_messages_change_nothing() -> None:
    cfg = ConsensusConfig(n_replicas=4, f=1)
    system = ConsensusSystem(cfg, seed=1)
    client = system.clients[0]
    op = Operation.relay_order([0, 1], 8)
    forged = Request(client.owner, 1, op)
    forged.signature = system.keyring.identity(2).sign(forged.signed_bytes())  # wrong key
    client.multicast(range(4), forged)
    # A pre-prepare whose content changed after the primary signed it.
    good = Request(client.owner, 2, op).sign(client.identity)
    assert isinstance(good, Request)
    pp = PrePrepare(0, 1, good.digest, good, 0).sign(system.replicas[0].identity)
    assert isinstance(pp, PrePrepare)
    tampered = PrePrepare(0, 1, digest(b"other"), good, 0, pp.signature)
    system.replicas[0].multicast(range(4), tampered)
    # A message whose channel MAC does not match.
    system.bus.send(0, 1, pp, b"\x00" * 32)
    system.run(1.0, stop_when_done=False)
    for r in system.replicas:
        assert r.last_executed == 0 and forged.rid not in r.pending
    assert all((0, 1) not in r.pp for r in system.replicas[1:])
    assert system.bus.stats.rejected == 1


def test_reply_certificate_needs_more_than_f_w_under_the_claimed_vector() -> None:
    system = ConsensusSystem(ConsensusConfig(n_replicas=4, f=1), seed=5)
    client = system.clients[0]
    req = client.submit(Operation.relay_order([0, 1], 8))
    heavy = (10**6, 1, 1, 1)  # a Byzantine replica claims most of the weight
    for sender, expect in ((0, False), (1, True)):
        reply = Reply(0, 1, req.submitter, req.timestamp, req.digest, heavy, sender)
        client.received_message(sender, reply)
        assert (req.rid in client.completed) is expect
    # Mismatched results never add up.
    req2 = client.submit(Operation.relay_order([0, 1], 8))
    for sender in range(4):
        result = digest(bytes([sender]))
        client.received_message(
            sender, Reply(0, 2, req2.submitter, req2.timestamp, result, (1,) * 4, sender)
        )
    assert req2.rid not in client.completed


# ---------------------------------------------------------------------------------------------
# Random faults and Byzantine replicas
# ---------------------------------------------------------------------------------------------


def _scenario(data: st.DataObject, n: int) -> tuple[ConsensusConfig, dict[int, str], int]:
    f = (n - 1) // 3
    byz_ids = data.draw(st.sets(st.integers(0, n - 1), max_size=f), label="byzantine")
    byz = {i: data.draw(st.sampled_from(BEHAVIOURS), label=f"behaviour {i}") for i in byz_ids}
    stab = data.draw(st.floats(0.05, 0.4), label="stabilisation")
    parts: tuple[PartitionWindow, ...] = ()
    if data.draw(st.booleans(), label="partition"):
        cut = data.draw(st.integers(0, n - 1))
        parts = (PartitionWindow(nodes=(cut,), start_s=0.0, end_s=stab),)
    bus = BusFaultConfig(
        drop_prob=data.draw(st.floats(0.0, 0.3)),
        delay_prob=data.draw(st.floats(0.0, 0.5)),
        reorder_prob=data.draw(st.floats(0.0, 0.3)),
        duplicate_prob=data.draw(st.floats(0.0, 0.2)),
        corrupt_prob=data.draw(st.floats(0.0, 0.05)),
        partitions=parts,
        stabilisation_time_s=stab,
    )
    k = data.draw(st.integers(2, 4), label="K")
    cfg = ConsensusConfig(n_replicas=n, f=f, checkpoint_interval=k, bus=bus, max_time_s=20.0)
    return cfg, byz, data.draw(st.integers(0, 2**20), label="seed")


def _run_scenario(data: st.DataObject, n: int, n_ops: int) -> None:
    cfg, byz, seed = _scenario(data, n)
    system = ConsensusSystem(cfg, byzantine=byz, seed=seed)
    rng = np.random.default_rng(seed)
    stab = cfg.bus.stabilisation_time_s
    for op in workload(system.keyring, n, n_ops, rng):
        system.submit(op, at_s=float(rng.uniform(0.0, stab)))
    system.run(stab, stop_when_done=False)
    view_at_stab = max(system.replicas[i].view for i in system.honest)
    system.run(cfg.max_time_s)
    res = system.result()
    assert_safe(res, cfg, system.keyring)
    # Liveness once the network is stable: every request certified to its client and
    # executed by every honest replica, with a bounded number of further view changes.
    assert system.done(), f"not live: decisions={res.decisions}, view={res.view_changes}"
    # Each Byzantine primary costs at most one view change, plus view changes already under
    # way (or requests queued past their timer) at stabilisation.
    assert res.view_changes - view_at_stab <= cfg.f + 3
    assert res.sim_time_s < stab + 5.0


@settings(max_examples=16, deadline=None)
@given(st.data())
def test_n4_safe_and_live_under_random_faults_and_a_byzantine(data: st.DataObject) -> None:
    _run_scenario(data, 4, n_ops=6)


@settings(max_examples=5, deadline=None)
@given(st.data())
def test_n7_safe_and_live_under_random_faults_and_two_byzantines(data: st.DataObject) -> None:
    _run_scenario(data, 7, n_ops=4)


# ---------------------------------------------------------------------------------------------
# Evidence and weights in full runs
# ---------------------------------------------------------------------------------------------


def test_equivocating_primary_is_proven_and_loses_weight() -> None:
    cfg = ConsensusConfig(n_replicas=4, f=1, checkpoint_interval=2, alpha=0.5)
    ops = [Operation.relay_order([0, 1, 2], 64, tag=i) for i in range(10)]
    res = run_consensus(cfg, ops, byzantine={0: "equivocate"}, seed=2)
    assert res.all_executed and res.evidence_reported > 0 and res.view_changes >= 1
    assert_safe(res, cfg, Keyring(5, seed=2))
    final = res.weights[1][-1]
    assert final[0] < 1000 and final[1:] == (1000, 1000, 1000)


def test_framing_backfires_on_the_framer_and_spares_honest_nodes() -> None:
    n, framer = 4, 1
    cfg = ConsensusConfig(n_replicas=n, f=1, checkpoint_interval=4, alpha=0.5)
    keys = Keyring(n + 1, seed=4)
    # Honest neighbours report round 0 of their links with the framer truthfully; the framer's
    # own reports (50 % QBER) contradict all three, and only the framer explains that.
    ops = [
        Operation.link_report(
            link_statement(keys.identity(t), u=t, v=framer, round_=0, qber_ppm=30_000)
        )
        for t in (0, 2, 3)
    ]
    ops += [Operation.relay_order([0, 2, 3], 64, tag=i) for i in range(12)]
    res = run_consensus(cfg, ops, byzantine={framer: "framing"}, seed=4)
    assert res.all_executed
    assert_safe(res, cfg, keys)
    final = res.weights[0][-1]
    assert final[framer] < 1000 and [final[i] for i in (0, 2, 3)] == [1000] * 3


def test_heavy_byzantine_primary_with_unequal_weights_stays_safe() -> None:
    weights = (4, 3, 2, 2, 2, 1, 1)  # W = 15 >= 3 * 4 + 1
    bus = BusFaultConfig(drop_prob=0.1, delay_prob=0.2, stabilisation_time_s=0.2)
    cfg = ConsensusConfig(
        n_replicas=7, f=1, initial_weights=weights, checkpoint_interval=3, bus=bus
    )
    keys = Keyring(8, seed=6)
    ops = workload(keys, 7, 5, np.random.default_rng(6))
    res = run_consensus(cfg, ops, byzantine={0: "equivocate"}, seed=6)
    assert res.all_executed
    assert_safe(res, cfg, keys)


def test_count_quorum_peer_commits_the_same_log() -> None:
    ops = [Operation.relay_order([0, 1], 32, tag=i) for i in range(9)]
    weighted = run_consensus(ConsensusConfig(n_replicas=7, f=2, checkpoint_interval=3), ops, seed=8)
    count = ConsensusConfig(
        n_replicas=7, f=2, checkpoint_interval=3, initial_weight=1, adaptive_weights=False
    )
    counted = run_consensus(count, ops, seed=8)
    assert weighted.logs == counted.logs
    assert counted.weights[0][-1] == (1,) * 7


def test_partitioned_replica_catches_up_by_state_transfer() -> None:
    bus = BusFaultConfig(
        partitions=(PartitionWindow(nodes=(3,), start_s=0.0, end_s=0.3),),
        stabilisation_time_s=0.3,
    )
    cfg = ConsensusConfig(n_replicas=4, f=1, checkpoint_interval=2, bus=bus)
    system = ConsensusSystem(cfg, seed=9)
    for i in range(7):
        system.submit(Operation.relay_order([1, 2], 16, tag=i))
    system.run(0.29, stop_when_done=False)
    assert system.replicas[3].last_executed == 0 and system.replicas[0].last_executed == 7
    system.run(5.0)
    res = system.result()
    assert system.done() and res.logs[3] == res.logs[0]
    assert system.replicas[3].stable_seq == 6
    assert math.isnan(res.decisions_per_s)  # no wall time given
