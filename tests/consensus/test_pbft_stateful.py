"""Stateful test: random requests, clock steps, partitions and loss over the bus; then stabilise.

Hypothesis drives a 4-replica weighted-PBFT deployment (at most one Byzantine replica) one
step at a time. After every step the honest replicas must agree on every sequence number
they have both executed, have executed only requested values, and hold identical admissible
weight vectors that never lowered an honest replica. At teardown the network stabilises and
every request must be executed by every honest replica.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from qnetrl.consensus import (
    BusFaultConfig,
    ConsensusConfig,
    ConsensusSystem,
    Operation,
    PartitionWindow,
    is_admissible,
    link_statement,
    path_statement,
    weight_schedule,
)
from qnetrl.consensus.messages import NULL_DIGEST, digest

N, F = 4, 1
MAX_REQUESTS = 8


class ConsensusMachine(RuleBasedStateMachine):
    """Random schedules of requests and network faults over one ConsensusSystem."""

    def __init__(self) -> None:
        super().__init__()
        self.system: ConsensusSystem | None = None
        self.requests = 0

    @initialize(
        behaviour=st.sampled_from([None, "silent", "equivocate", "bogus_votes", "framing"]),
        node=st.integers(0, N - 1),
        k=st.integers(2, 4),
        seed=st.integers(0, 2**16),
        delay=st.floats(0.0, 0.4),
        reorder=st.floats(0.0, 0.3),
        duplicate=st.floats(0.0, 0.2),
    )
    def setup(
        self,
        behaviour: str | None,
        node: int,
        k: int,
        seed: int,
        delay: float,
        reorder: float,
        duplicate: float,
    ) -> None:
        bus = BusFaultConfig(delay_prob=delay, reorder_prob=reorder, duplicate_prob=duplicate)
        cfg = ConsensusConfig(n_replicas=N, f=F, checkpoint_interval=k, bus=bus)
        byz = {node: behaviour} if behaviour is not None else {}
        self.system = ConsensusSystem(cfg, byzantine=byz, seed=seed)

    def _sys(self) -> ConsensusSystem:
        assert self.system is not None
        return self.system

    @precondition(lambda self: self.requests < MAX_REQUESTS)
    @rule(kind=st.integers(0, 2), a=st.integers(0, N - 1), b=st.integers(1, N - 1))
    def submit(self, kind: int, a: int, b: int) -> None:
        system = self._sys()
        u, v = a, (a + b) % N
        keys = system.keyring
        self.requests += 1
        i = self.requests
        if kind == 0:
            system.submit(Operation.relay_order([u, v], 128, tag=i))
        elif kind == 1:
            lo, hi = sorted((u, v))
            for who in (lo, hi):
                stmt = link_statement(keys.identity(who), u=lo, v=hi, round_=i, qber_ppm=20_000)
                system.submit(Operation.link_report(stmt))
        else:
            relay = next(j for j in range(N) if j not in (u, v))
            for role, who in (("src", u), ("dst", v)):
                stmt = path_statement(
                    keys.identity(who),
                    delivery=i,
                    path_index=0,
                    source=u,
                    destination=v,
                    relays=(relay,),
                    role=role,
                    share_digest=digest(b"share"),
                )
                system.submit(Operation.share_verification(stmt))

    @rule(dt=st.floats(0.002, 0.08))
    def advance(self, dt: float) -> None:
        system = self._sys()
        system.run(system.bus.now + dt, stop_when_done=False)

    @rule(node=st.integers(0, N - 1), duration=st.floats(0.01, 0.15))
    def partition(self, node: int, duration: float) -> None:
        bus = self._sys().bus
        window = PartitionWindow(nodes=(node,), start_s=bus.now, end_s=bus.now + duration)
        bus.set_faults(
            bus.config.model_copy(update={"partitions": (*bus.config.partitions, window)})
        )

    @rule(p=st.floats(0.0, 0.4))
    def set_loss(self, p: float) -> None:
        bus = self._sys().bus
        bus.set_faults(bus.config.model_copy(update={"drop_prob": p}))

    @invariant()
    def honest_replicas_are_consistent(self) -> None:
        if self.system is None:
            return
        system = self.system
        res = system.result()
        honest = res.honest
        for a, b in itertools.combinations(honest, 2):
            m = min(len(res.logs[a]), len(res.logs[b]))
            assert res.logs[a][:m] == res.logs[b][:m]
        for i in honest:
            assert all(d == NULL_DIGEST or d in res.submitted_digests for d in res.logs[i])
            cfg = system.config
            w0 = np.asarray(cfg.weights0())
            for w in res.weights[i]:
                assert is_admissible(w, F) and all(w[h] == w0[h] for h in honest)
            replay = weight_schedule(
                w0,
                list(res.operations[i]),
                checkpoint_interval=cfg.checkpoint_interval,
                f=F,
                alpha=cfg.alpha,
                keys=system.keyring,
            )
            assert [tuple(w) for w in replay] == list(res.weights[i])
        common = min(len(res.weights[i]) for i in honest)
        assert len({res.weights[i][:common] for i in honest}) == 1

    def teardown(self) -> None:
        if self.system is None:
            return
        system = self.system
        bus = system.bus
        stab = bus.now
        bus.set_faults(bus.config.model_copy(update={"stabilisation_time_s": stab}))
        view_at_stab = max(system.replicas[i].view for i in system.honest)
        system.run(stab + 5.0)
        assert system.done(), "requests still pending after the network stabilised"
        self.honest_replicas_are_consistent()
        assert max(system.replicas[i].view for i in system.honest) - view_at_stab <= F + 3
        assert math.isfinite(bus.now)


ConsensusMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=15, deadline=None
)
TestConsensusMachine = ConsensusMachine.TestCase
