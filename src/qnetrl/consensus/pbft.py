"""Weighted PBFT: replicas, clients, Byzantine behaviours and a runner over the message bus.

:class:`PBFTReplica` implements PBFT [1]_ (request, pre-prepare, prepare, commit, reply;
checkpoints every K sequence numbers; view change and new view; state transfer) with every
count quorum replaced by a :class:`~qnetrl.consensus.weights.WeightedQuorum` of the epoch a
sequence number belongs to. Protocol messages carry Ed25519 signatures so that prepared and
checkpoint certificates and equivocation evidence are transferable; every message also
carries an HMAC-SHA256 channel tag (see :mod:`~qnetrl.consensus.messages`). Timers run on
the bus's simulated clock.

Weight epochs and view changes. Epoch ``e`` is the sequence numbers ``(eK, (e+1)K]``; its
weights ``w_e`` are fixed by the log up to ``(e-1)K`` (see
:func:`~qnetrl.consensus.weights.weight_schedule`), so every replica that has executed that far
knows them. A replica with last stable checkpoint ``h`` sends prepares and commits only for
``(h, h+K]``; entries beyond come only from state transfer. Safety across epochs rests on
one lemma: *evidence-driven updates never change an honest weight* (only nodes the evidence
forces are lowered, and clamping moves each weight between its old and proposed value), so
with ``H`` the honest weight, common to all epochs, and ``B_a <= F_a`` the Byzantine weight
under ``w_a``, the honest parts of a quorum under ``w_a`` and one under ``w_b`` weigh more
than ``(W_a + F_a)/2 - B_a + (W_b + F_b)/2 - B_b = H + (F_a - B_a + F_b - B_b)/2 >= H``:
**quorums of any two epochs share an honest replica.** PBFT's view-change argument then
carries over: if ``(s, d)`` committed at an honest replica in view ``v``, an honest member of
its commit quorum is in every later view-change quorum; it prepared ``s`` before leaving
``v``, so its view-change either proves a stable checkpoint at or above ``s`` or carries a
prepared certificate for ``s``, and the new primary re-proposes ``d`` (the highest-view
certificate wins; a certificate of another digest in a higher view would need a prepare
quorum intersecting the commit quorum in an honest replica that prepared ``d``). The new
primary lets ``h*`` be the highest stable checkpoint the view-changes prove and, for
robustness, requires them to weigh at least ``Q`` under both ``w_E`` and ``w_{E+1}``
(``E = h*/K``: the epochs of the window ``(h*, h*+K]`` and the next); it knows both once it
has executed up to ``h*``, and fetches the log first if it has not.

Liveness. After the bus's stabilisation time every message arrives within a known bound;
replicas retransmit view-changes, stalled normal-case messages and their own requests on
a status timer, and lagging replicas fetch committed entries (accepted on matching
replies weighing more than ``F_w``). A faulty primary is replaced after its request timer
expires; new-view timers double with each consecutive view change, as in PBFT.

References
----------
.. [1] M. Castro and B. Liskov, "Practical Byzantine Fault Tolerance", Proc. 3rd USENIX Symp.
   on Operating Systems Design and Implementation (OSDI '99), pp. 173-186, 1999.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from qnetrl._validation import InvalidParameterError
from qnetrl.config import ConfigBase
from qnetrl.consensus.bus import BusFaultConfig, MessageBus, Protocol, Timer
from qnetrl.consensus.messages import (
    NULL_DIGEST,
    Checkpoint,
    Commit,
    FetchReply,
    Identity,
    Keyring,
    Message,
    MsgType,
    NewView,
    Operation,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    Reply,
    Request,
    SignedMessage,
    Statement,
    Status,
    ViewChange,
    digest,
    link_statement,
    path_statement,
)
from qnetrl.consensus.weights import WeightedQuorum, faulty_weight, update_weights

__all__ = [
    "Behaviour",
    "ByzantineReplica",
    "Client",
    "ConsensusConfig",
    "ConsensusResult",
    "ConsensusSystem",
    "PBFTReplica",
    "framing_operations",
    "run_consensus",
]

_GENESIS = bytes(32)


class ConsensusConfig(ConfigBase):
    """Parameters of a weighted-PBFT deployment and its simulated network."""

    n_replicas: int = Field(4, ge=1, le=64, description="Number of replicas n.")
    f: int = Field(1, ge=0, le=21, description="Byzantine replicas tolerated.")
    checkpoint_interval: int = Field(
        8,
        ge=1,
        le=100_000,
        description="K: checkpoint and weight epoch every K sequence numbers.",
    )
    alpha: float = Field(
        0.5, ge=0.0, le=1.0, description="Decay rate of w <- w (1 - alpha e) per epoch."
    )
    adaptive_weights: bool = Field(True, description="Update weights at checkpoints.")
    initial_weight: int = Field(
        1000, ge=1, le=10**12, description="Initial weight of every replica (in weight units)."
    )
    initial_weights: tuple[int, ...] | None = Field(
        None, description="Per-replica initial weights (overrides initial_weight)."
    )
    request_timeout_s: float = Field(
        0.05, gt=0.0, le=3600.0, description="View-change timer on a pending request (in s)."
    )
    view_change_timeout_s: float = Field(
        0.05, gt=0.0, le=3600.0, description="Base new-view timer (in s), doubled per attempt."
    )
    max_backoff_doublings: int = Field(
        6, ge=0, le=30, description="Cap on the doublings of the new-view timer."
    )
    status_interval_s: float = Field(
        0.02, gt=0.0, le=3600.0, description="Period of status / retransmission (in s)."
    )
    client_retry_s: float = Field(
        0.05, gt=0.0, le=3600.0, description="Client retransmission period (in s)."
    )
    n_clients: int = Field(1, ge=1, le=64, description="Number of clients.")
    request_interval_s: float = Field(
        0.0, ge=0.0, le=3600.0, description="Gap between submissions in run_consensus (in s)."
    )
    report_evidence: bool = Field(
        True, description="Honest replicas submit equivocation evidence they detect."
    )
    max_time_s: float = Field(
        30.0, gt=0.0, le=1e6, description="Simulated-time limit of run_consensus (in s)."
    )
    bus: BusFaultConfig = Field(default_factory=BusFaultConfig, description="Network faults.")

    @field_validator("f")
    @classmethod
    def _f_below_n(cls, value: int, info: ValidationInfo) -> int:
        n = info.data.get("n_replicas")
        if n is not None and value >= n:
            raise ValueError(f"must be in the range [0, n_replicas - 1 = {n - 1}]")
        return value

    @field_validator("initial_weights")
    @classmethod
    def _admissible(
        cls, value: tuple[int, ...] | None, info: ValidationInfo
    ) -> tuple[int, ...] | None:
        n, f, w1 = (info.data.get(k) for k in ("n_replicas", "f", "initial_weight"))
        if n is None or f is None or w1 is None:
            return value
        w = tuple(value) if value is not None else (w1,) * n
        if len(w) != n:
            raise ValueError(f"needs one entry per replica (n_replicas={n}), got {len(w)}")
        if any(x < 0 for x in w):
            raise ValueError("every weight must be an int in the range [0, inf)")
        big = int(faulty_weight(np.asarray(w, dtype=np.int64), f))
        if sum(w) < 3 * big + 1:
            raise ValueError(
                f"the weights must satisfy W >= 3 F_w + 1 with f={f}; got W={sum(w)}, "
                f"F_w={big} (with equal weights this is n_replicas >= 3 f + 1)"
            )
        return value

    @field_validator("bus")
    @classmethod
    def _equivocators_exist(cls, value: BusFaultConfig, info: ValidationInfo) -> BusFaultConfig:
        n = info.data.get("n_replicas")
        bad = [i for i in value.equivocators if n is not None and not 0 <= i < n]
        if bad:
            raise ValueError(f"bus.equivocators must be replica ids in [0, {n - 1}]; got {bad}")
        return value

    def weights0(self) -> tuple[int, ...]:
        """Initial weight vector."""
        if self.initial_weights is not None:
            return tuple(int(x) for x in self.initial_weights)
        return (self.initial_weight,) * self.n_replicas


class Behaviour(StrEnum):
    """Byzantine replica behaviours used in tests.

    Attributes
    ----------
    SILENT
        Sends nothing, ignores everything (a crash that never recovers).
    EQUIVOCATE
        As primary, sends a null pre-prepare instead of the request to part of the backups;
        as backup, sends conflicting prepares and commits to part of the replicas.
    BOGUS_VOTES
        Sends prepares and commits with wrong digests (and commits before preparing).
    FRAMING
        Follows the protocol but submits accusations without verifiable evidence against the
        next three replicas (ids after its own): bare accusations, forged and
        non-conflicting "equivocation" pairs (the latter from genuine messages of every
        other replica), link reports contradicting honest neighbours, and share paths
        through honest relays that it reports failed as both endpoints.
    """

    SILENT = "silent"
    EQUIVOCATE = "equivocate"
    BOGUS_VOTES = "bogus_votes"
    FRAMING = "framing"


def _msg_key(msg: SignedMessage) -> tuple[Any, ...] | None:
    """Conflict key and value of a signed ordering or checkpoint message."""
    if isinstance(msg, PrePrepare | Prepare | Commit):
        return ((msg.msg_type, msg.view, msg.seq), msg.digest)
    if isinstance(msg, Checkpoint):
        return ((msg.msg_type, msg.seq), msg.state_digest)
    return None


class PBFTReplica(Protocol):
    """One weighted-PBFT replica (see the module docstring for the protocol).

    Parameters
    ----------
    node : int
        Replica id in ``[0, n_replicas)``.
    config : ConsensusConfig
        Deployment parameters.
    bus : MessageBus
        The message bus.
    keyring : Keyring
        Keys of all principals (the replica uses its own secrets and others' public keys).

    Attributes
    ----------
    view : int
        Current view; the primary is ``view mod n``.
    active : bool
        False while changing view.
    stable_seq : int
        Last stable checkpoint ``h``.
    last_executed : int
        Last executed sequence number.
    log : list of Request or None
        Committed requests by sequence number (index ``s - 1``; ``None``: null request).
    effective : list of Operation or None
        Operations that took effect (``None`` for null requests and re-executions).
    epoch_weights : list of ndarray of int64, shape (N,)
        Weight vector of every epoch known so far.
    view_changes_started : int
        View-change messages this replica started.
    signatures_verified : int
        Ed25519 verifications performed.
    """

    name = "pbft"

    def __init__(self, node: int, config: ConsensusConfig, bus: MessageBus, keyring: Keyring):
        super().__init__(node, bus, keyring.identity(node))
        self.config = config
        self.keyring = keyring
        self.n = config.n_replicas
        self.f = config.f
        self.K = config.checkpoint_interval
        self.peers = tuple(range(self.n))
        w0 = np.asarray(config.weights0(), dtype=np.int64)
        self.epoch_weights: list[np.ndarray] = [w0, w0.copy()]
        self._quorums: dict[int, WeightedQuorum] = {}
        self.view = 0
        self.active = True
        self.stable_seq = 0
        self.last_executed = 0
        self.log: list[Request | None] = []
        self.digests: list[bytes] = []
        self.effective: list[Operation | None] = []
        self.state: list[bytes] = [_GENESIS]
        self.committed: dict[int, tuple[bytes, Request | None]] = {}
        # normal case
        self.pp: dict[tuple[int, int], PrePrepare] = {}
        self.prep: dict[tuple[int, int, bytes], dict[int, Prepare]] = {}
        self.comm: dict[tuple[int, int, bytes], dict[int, Commit]] = {}
        self.sent_commit: set[tuple[int, int]] = set()
        self.prepared_cert: dict[int, PreparedCertificate] = {}
        self.future_pp: dict[tuple[int, int], PrePrepare] = {}
        self.ckpt: dict[int, dict[int, Checkpoint]] = {}
        self.stable_proof: dict[int, tuple[Checkpoint, ...]] = {0: ()}
        # requests
        self.pending: dict[tuple[int, int], Request] = {}
        self.done: dict[tuple[int, int], int] = {}
        self.assigned: dict[tuple[int, int], int] = {}
        self.next_seq = 0
        self.client_requests_done = 0
        self.own_requests: dict[tuple[int, int], Request] = {}
        self._ts = 0
        self.submitted_digests: set[bytes] = set()
        # view change
        self.vcs: dict[int, dict[int, ViewChange]] = {}
        self.new_views: dict[int, NewView] = {}
        self._buffered_nv: NewView | None = None
        self._vc_valid: dict[tuple[int, int, bytes], bool] = {}
        self._req_timer: Timer | None = None
        self._req_timer_rid: tuple[int, int] | None = None
        self._nv_timer: Timer | None = None
        self._attempts = 0
        self.view_changes_started = 0
        self.new_views_installed = 0
        # evidence
        self.seen_signed: dict[tuple[int, tuple[Any, ...]], SignedMessage] = {}
        self.reported: set[tuple[int, tuple[Any, ...]]] = set()
        self.evidence_reported = 0
        # state transfer
        self.fetch_votes: dict[int, dict[bytes, tuple[set[int], Request | None]]] = {}
        self._last_status_push = -math.inf
        self._last_tick_exec = -1
        self._peer_progress: dict[int, int] = {}
        # crypto bookkeeping
        self._sig_cache: dict[tuple[int, bytes], bytes] = {}
        self.signatures_verified = 0
        self._handlers: dict[MsgType, Callable[[int, Any], None]] = {
            MsgType.REQUEST: self._on_request,
            MsgType.PRE_PREPARE: self._on_pre_prepare,
            MsgType.PREPARE: self._on_prepare,
            MsgType.COMMIT: self._on_commit,
            MsgType.CHECKPOINT: self._on_checkpoint,
            MsgType.VIEW_CHANGE: self._on_view_change,
            MsgType.NEW_VIEW: self._on_new_view,
            MsgType.STATUS: self._on_status,
            MsgType.FETCH_REPLY: self._on_fetch_reply,
        }

    # -- helpers ------------------------------------------------------------------------------

    def primary(self, view: int | None = None) -> int:
        """Primary of ``view`` (default: the current view)."""
        return (self.view if view is None else view) % self.n

    def _epoch(self, seq: int) -> int:
        return (seq - 1) // self.K

    def quorum(self, epoch: int) -> WeightedQuorum | None:
        """Quorum of weight epoch ``epoch``, or None if not yet known."""
        q = self._quorums.get(epoch)
        if q is None:
            if epoch >= len(self.epoch_weights) or epoch < 0:
                return None
            q = WeightedQuorum(self.epoch_weights[epoch], self.f)
            self._quorums[epoch] = q
        return q

    def _current_quorum(self) -> WeightedQuorum:
        q = self.quorum(self.stable_seq // self.K)
        assert q is not None
        return q

    def _verified(self, msg: SignedMessage) -> bool:
        key = (msg.sender, msg.signature)
        data = msg.signed_bytes()
        cached = self._sig_cache.get(key)
        if cached is not None:
            return cached == data
        self.signatures_verified += 1
        if not msg.verify(self.keyring):
            return False
        if len(self._sig_cache) > 200_000:
            self._sig_cache.clear()
        self._sig_cache[key] = data
        return True

    def _request_ok(self, req: Request) -> bool:
        return 0 <= req.submitter < self.keyring.n_principals and self._verified(req)

    def _broadcast(self, msg: Message) -> None:
        self.multicast(self.peers, msg)

    def start(self) -> None:
        """Schedule the periodic status timer (staggered by replica id)."""
        offset = self.config.status_interval_s * (1.0 + self.owner / max(self.n, 1))
        self.bus.schedule(offset, self._tick)

    def received_message(self, src: int, msg: Message) -> None:
        """Dispatch an authenticated message to its PBFT handler."""
        sender = getattr(msg, "sender", src)
        if sender != src:
            return
        if src >= self.n and msg.msg_type is not MsgType.REQUEST:
            return
        handler = self._handlers.get(msg.msg_type)
        if handler is not None:
            handler(src, msg)

    # -- hooks Byzantine subclasses override --------------------------------------------------

    def _make_prepare(self, pp: PrePrepare) -> Prepare:
        return Prepare(pp.view, pp.seq, pp.digest, self.owner, pp.signature).sign(self.identity)  # type: ignore[return-value]

    def _make_commit(self, view: int, seq: int, d: bytes) -> Commit:
        return Commit(view, seq, d, self.owner).sign(self.identity)  # type: ignore[return-value]

    # -- requests -----------------------------------------------------------------------------

    def submit(self, operation: Operation) -> Request:
        """Submit an operation as this replica (used to report evidence)."""
        self._ts += 1
        req = Request(self.owner, self._ts, operation).sign(self.identity)
        assert isinstance(req, Request)
        self.own_requests[req.rid] = req
        self.submitted_digests.add(req.digest)
        self._broadcast(req)
        self._learn_request(req)
        return req

    def _on_request(self, src: int, req: Request) -> None:
        if not self._request_ok(req):
            return
        rid = req.rid
        if rid in self.done:
            self._reply(req, self.done[rid])
            return
        self._learn_request(req)

    def _learn_request(self, req: Request) -> None:
        rid = req.rid
        if rid in self.done:
            return
        if rid not in self.pending:
            self.pending[rid] = req
        self._arm_request_timer()
        if self.active and self.primary() == self.owner:
            self._propose()

    def _propose(self) -> None:
        limit = self.stable_seq + self.K
        if self.next_seq >= limit:
            return
        for rid, req in list(self.pending.items()):
            if self.next_seq >= limit:
                break
            if rid in self.assigned:
                continue
            self.next_seq += 1
            s = self.next_seq
            self.assigned[rid] = s
            pp = PrePrepare(self.view, s, req.digest, req, self.owner).sign(self.identity)
            assert isinstance(pp, PrePrepare)
            self.pp[(self.view, s)] = pp
            self._remember(pp)
            self._broadcast(pp)
            self._check_prepared(self.view, s, pp.digest)

    def _reply(self, req: Request, seq: int) -> None:
        if req.submitter < self.n:
            return
        epoch = min(self._epoch(seq), len(self.epoch_weights) - 1)
        reply = Reply(
            self.view,
            seq,
            req.submitter,
            req.timestamp,
            req.digest,
            tuple(int(x) for x in self.epoch_weights[epoch]),
            self.owner,
        )
        self.send(req.submitter, reply)

    def _arm_request_timer(self) -> None:
        if self._req_timer is not None or not self.active or not self.pending:
            return
        rid = next(iter(self.pending))
        self._req_timer_rid = rid
        self._req_timer = self.bus.schedule(
            self.config.request_timeout_s, self._on_request_timeout, rid
        )

    def _cancel_request_timer(self) -> None:
        if self._req_timer is not None:
            self._req_timer.cancel()
        self._req_timer = None
        self._req_timer_rid = None

    def _on_request_timeout(self, rid: tuple[int, int]) -> None:
        self._req_timer = None
        self._req_timer_rid = None
        if self.active and rid in self.pending:
            self._start_view_change(self.view + 1)
        else:
            self._arm_request_timer()

    # -- normal case --------------------------------------------------------------------------

    def _on_pre_prepare(self, src: int, pp: PrePrepare) -> None:
        if src != self.primary(pp.view) or not self._verified(pp):
            return
        self._remember(pp)
        if pp.view != self.view or not self.active:
            return
        if pp.seq <= self.stable_seq:
            return
        if pp.seq > self.stable_seq + self.K:
            if pp.seq <= self.stable_seq + 2 * self.K:
                self.future_pp[(pp.view, pp.seq)] = pp
            return
        self._accept_pre_prepare(pp)

    def _accept_pre_prepare(self, pp: PrePrepare) -> None:
        key = (pp.view, pp.seq)
        if key in self.pp:
            return
        req = pp.request
        if req is None:
            if pp.digest != NULL_DIGEST:
                return
        elif req.digest != pp.digest or not self._request_ok(req):
            return
        self.pp[key] = pp
        if req is not None and req.rid not in self.done:
            self._learn_request(req)
        if self.owner != self.primary(pp.view):
            prepare = self._make_prepare(pp)
            self.prep.setdefault((pp.view, pp.seq, prepare.digest), {})[self.owner] = prepare
            self._broadcast(prepare)
        self._check_prepared(pp.view, pp.seq, pp.digest)

    def _on_prepare(self, src: int, m: Prepare) -> None:
        # The channel MAC authenticates the sender; the signature, needed only if the prepare
        # enters this replica's prepared certificate, is checked when a quorum is reached.
        if src == self.primary(m.view):
            return
        self._remember(m)
        if m.view != self.view:
            return
        if not self.stable_seq < m.seq <= self.stable_seq + 2 * self.K:
            return
        mine = self.pp.get((m.view, m.seq))
        if mine is not None and mine.digest != m.digest:
            self._check_primary_equivocation(m)
        self.prep.setdefault((m.view, m.seq, m.digest), {})[src] = m
        self._check_prepared(m.view, m.seq, m.digest)

    def _check_primary_equivocation(self, m: Prepare) -> None:
        primary = self.primary(m.view)
        header = PrePrepare(m.view, m.seq, m.digest, None, primary, m.pp_signature)
        if self._verified(header):
            self._remember(header)

    def _check_prepared(self, view: int, seq: int, d: bytes) -> None:
        if (view, seq) in self.sent_commit or seq > self.stable_seq + self.K:
            return
        pp = self.pp.get((view, seq))
        if pp is None or pp.digest != d:
            return
        q = self.quorum(self._epoch(seq))
        if q is None:
            return
        primary = self.primary(view)
        prepares = self.prep.get((view, seq, d), {})
        voters = set(prepares)
        voters.add(primary)
        if not q.is_quorum(voters):
            return
        bad = [k for k, p in prepares.items() if k != primary and not self._verified(p)]
        if bad:
            for k in bad:
                del prepares[k]
            voters.difference_update(bad)
            if not q.is_quorum(voters):
                return
        cert = PreparedCertificate(pp, tuple(prepares[k] for k in sorted(prepares) if k != primary))
        old = self.prepared_cert.get(seq)
        if old is None or old.pre_prepare.view <= view:
            self.prepared_cert[seq] = cert
        self.sent_commit.add((view, seq))
        commit = self._make_commit(view, seq, d)
        self.comm.setdefault((view, seq, commit.digest), {})[self.owner] = commit
        self._broadcast(commit)
        self._check_committed(view, seq, d)

    def _on_commit(self, src: int, m: Commit) -> None:
        # Commits never enter certificates: the channel MAC authenticates them; the signature
        # is checked only if the commit becomes equivocation evidence (see _remember).
        self._remember(m)
        if m.view != self.view:
            return
        if not self.stable_seq < m.seq <= self.stable_seq + 2 * self.K:
            return
        self.comm.setdefault((m.view, m.seq, m.digest), {})[src] = m
        self._check_committed(m.view, m.seq, m.digest)

    def _check_committed(self, view: int, seq: int, d: bytes) -> None:
        if seq <= self.last_executed or seq in self.committed:
            return
        if (view, seq) not in self.sent_commit:
            return
        pp = self.pp.get((view, seq))
        if pp is None or pp.digest != d:
            return
        q = self.quorum(self._epoch(seq))
        if q is None or not q.is_quorum(self.comm.get((view, seq, d), {})):
            return
        self.committed[seq] = (d, pp.request)
        self._try_execute()

    def _try_execute(self) -> None:
        progressed = False
        while True:
            # Entries committed here lie in the window (h, h+K]; entries beyond it come from
            # state transfer, certified by replicas weighing more than F_w.
            s = self.last_executed + 1
            if s not in self.committed:
                break
            d, req = self.committed.pop(s)
            self._execute(s, d, req)
            progressed = True
        if progressed and not self.active:
            # A view change may have been waiting for this replica to catch up.
            if self.primary() == self.owner:
                self._try_new_view(self.view)
            elif self._buffered_nv is not None:
                nv, self._buffered_nv = self._buffered_nv, None
                self._on_new_view(nv.sender, nv)

    def _execute(self, s: int, d: bytes, req: Request | None) -> None:
        self.log.append(req)
        self.digests.append(d)
        self.state.append(digest(self.state[-1] + d))
        self.last_executed = s
        op: Operation | None = None
        if req is not None and req.rid not in self.done:
            rid = req.rid
            self.done[rid] = s
            op = req.operation
            self.pending.pop(rid, None)
            if req.submitter >= self.n:
                self.client_requests_done += 1
            self._reply(req, s)
            if rid == self._req_timer_rid:
                self._cancel_request_timer()
        self.effective.append(op)
        self._attempts = 0
        self._arm_request_timer()
        if s % self.K == 0:
            m = s // self.K
            assert len(self.epoch_weights) == m + 1
            base = self.epoch_weights[m]
            if self.config.adaptive_weights:
                new = update_weights(
                    base,
                    self.effective[(m - 1) * self.K : m * self.K],
                    f=self.f,
                    alpha=self.config.alpha,
                    keys=self.keyring,
                    history=self.effective[: (m - 1) * self.K],
                ).weights
            else:
                new = base.copy()
            self.epoch_weights.append(new)
            ck = Checkpoint(s, self.state[s], tuple(int(x) for x in new), self.owner)
            ck.sign(self.identity)
            self.ckpt.setdefault(s, {})[self.owner] = ck
            self._broadcast(ck)
            self._check_stable(s)

    # -- checkpoints --------------------------------------------------------------------------

    def _on_checkpoint(self, src: int, ck: Checkpoint) -> None:
        if ck.seq <= self.stable_seq or ck.seq % self.K or not self._verified(ck):
            return
        self._remember(ck)
        self.ckpt.setdefault(ck.seq, {})[src] = ck
        if ck.seq > self.last_executed:
            ahead = {s for c, by in self.ckpt.items() if c > self.last_executed for s in by}
            if self._latest_quorum().is_certificate(ahead):
                self._push_status()
        self._check_stable(ck.seq)

    def _latest_quorum(self) -> WeightedQuorum:
        q = self.quorum(len(self.epoch_weights) - 1)
        assert q is not None
        return q

    def _check_stable(self, s: int) -> None:
        if s <= self.stable_seq or s > self.last_executed:
            return
        q = self.quorum(self._epoch(s))
        if q is None:
            return
        want = (self.state[s], tuple(int(x) for x in self.epoch_weights[s // self.K + 1]))
        match = {
            k: c for k, c in self.ckpt.get(s, {}).items() if (c.state_digest, c.weights) == want
        }
        if q.is_quorum(match):
            self._make_stable(s, tuple(match[k] for k in sorted(match)))

    def _make_stable(self, s: int, proof: tuple[Checkpoint, ...]) -> None:
        if s <= self.stable_seq:
            return
        self.stable_seq = s
        self.stable_proof[s] = proof
        self.pp = {k: v for k, v in self.pp.items() if k[1] > s}
        self.prep = {k: v for k, v in self.prep.items() if k[1] > s}
        self.comm = {k: v for k, v in self.comm.items() if k[1] > s}
        self.sent_commit = {k for k in self.sent_commit if k[1] > s}
        self.prepared_cert = {k: v for k, v in self.prepared_cert.items() if k > s}
        self.ckpt = {k: v for k, v in self.ckpt.items() if k > s}
        self.seen_signed = {
            k: v for k, v in self.seen_signed.items() if self._seq_of(k[1]) > s - self.K
        }
        self.fetch_votes = {k: v for k, v in self.fetch_votes.items() if k > self.last_executed}
        future = sorted(self.future_pp.items(), key=lambda kv: kv[0][1])
        self.future_pp = {k: v for k, v in future if k[1] > s + self.K}
        if self.active:
            for (v, seq), pp in future:
                if v == self.view and s < seq <= s + self.K:
                    self._accept_pre_prepare(pp)
        for v, seq, d in list(self.prep):
            if v == self.view and seq <= s + self.K:
                self._check_prepared(v, seq, d)
        for v, seq, d in list(self.comm):
            if v == self.view and seq <= s + self.K:
                self._check_committed(v, seq, d)
        if self.active and self.primary() == self.owner:
            self.next_seq = max(self.next_seq, s)
            self._propose()
        self._try_execute()

    @staticmethod
    def _seq_of(key: tuple[Any, ...]) -> int:
        return int(key[-1])

    # -- equivocation evidence ----------------------------------------------------------------

    def _remember(self, msg: SignedMessage) -> None:
        """Keep the first signed value per (sender, key); report a validly signed conflict.

        Signatures are checked only when a conflict appears (the cache makes messages that
        were already verified free), so remembering costs nothing in the normal case.
        """
        kv = _msg_key(msg)
        if kv is None:
            return
        key, value = kv
        slot = (msg.sender, key)
        first = self.seen_signed.get(slot)
        if first is None:
            self.seen_signed[slot] = msg
            return
        first_kv = _msg_key(first)
        if first_kv is None or first_kv[1] == value or slot in self.reported:
            return
        if not self._verified(msg):
            return
        if not self._verified(first):
            self.seen_signed[slot] = msg
            return
        self.reported.add(slot)
        self._on_equivocation(first, msg)

    def _on_equivocation(self, first: SignedMessage, second: SignedMessage) -> None:
        if self.config.report_evidence:
            self.evidence_reported += 1
            self.submit(Operation.equivocation(first, second))

    # -- view change --------------------------------------------------------------------------

    def _start_view_change(self, new_view: int) -> None:
        if new_view <= self.view:
            return
        self.view = new_view
        self.active = False
        self._cancel_request_timer()
        if self._nv_timer is not None:
            self._nv_timer.cancel()
            self._nv_timer = None
        self.view_changes_started += 1
        prepared = tuple(self.prepared_cert[s] for s in sorted(self.prepared_cert))
        vc = ViewChange(
            new_view,
            self.stable_seq,
            self.stable_proof.get(self.stable_seq, ()),
            tuple(c for c in prepared if c.pre_prepare.seq > self.stable_seq),
            self.owner,
        ).sign(self.identity)
        assert isinstance(vc, ViewChange)
        self.vcs.setdefault(new_view, {})[self.owner] = vc
        self.pp = {k: v for k, v in self.pp.items() if k[0] >= new_view}
        self.prep = {k: v for k, v in self.prep.items() if k[0] >= new_view}
        self.comm = {k: v for k, v in self.comm.items() if k[0] >= new_view}
        self.future_pp = {k: v for k, v in self.future_pp.items() if k[0] >= new_view}
        self._broadcast(vc)
        self._after_view_change_message(new_view)

    def _on_view_change(self, src: int, vc: ViewChange) -> None:
        if not self._verified(vc):
            return
        if vc.new_view < self.view or (vc.new_view == self.view and self.active):
            return
        self.vcs.setdefault(vc.new_view, {})[src] = vc
        if vc.new_view > self.view:
            higher: dict[int, int] = {}
            for v, by in self.vcs.items():
                if v > self.view:
                    for sender in by:
                        higher[sender] = min(higher.get(sender, v), v)
            if self._current_quorum().is_certificate(higher):
                self._start_view_change(min(higher.values()))
                return
        self._after_view_change_message(vc.new_view)

    def _after_view_change_message(self, new_view: int) -> None:
        if new_view != self.view or self.active:
            return
        by = self.vcs.get(new_view, {})
        if self._nv_timer is None and self._current_quorum().is_quorum(by):
            delay = self.config.view_change_timeout_s * 2 ** min(
                self._attempts, self.config.max_backoff_doublings
            )
            self._nv_timer = self.bus.schedule(delay, self._on_new_view_timeout, new_view)
        if self.primary(new_view) == self.owner:
            self._try_new_view(new_view)

    def _on_new_view_timeout(self, view: int) -> None:
        self._nv_timer = None
        if self.view == view and not self.active:
            self._attempts += 1
            self._start_view_change(view + 1)

    def _check_vc(self, vc: ViewChange, new_view: int) -> bool | None:
        """Validity of a view-change: True, False, or None if weights are not yet known."""
        key = (vc.sender, new_view, vc.signature)
        if key in self._vc_valid:
            return self._vc_valid[key]
        result = self._check_vc_uncached(vc, new_view)
        if result is not None:
            self._vc_valid[key] = result
        return result

    def _check_vc_uncached(self, vc: ViewChange, new_view: int) -> bool | None:
        k = self.K
        h = vc.stable_seq
        if vc.new_view != new_view or not 0 <= vc.sender < self.n or h < 0 or h % k:
            return False
        if not self._verified(vc):
            return False
        if h > 0:
            q = self.quorum(self._epoch(h))
            if q is None:
                return None
            proof = vc.checkpoint_proof
            if not proof:
                return False
            first = proof[0]
            senders = set()
            for c in proof:
                if c.seq != h or c.sender in senders or not 0 <= c.sender < self.n:
                    return False
                if (c.state_digest, c.weights) != (first.state_digest, first.weights):
                    return False
                if not self._verified(c):
                    return False
                senders.add(c.sender)
            if not q.is_quorum(senders):
                return False
            if h <= self.last_executed and first.state_digest != self.state[h]:
                return False
        q = self.quorum(h // k)
        if q is None:
            return None
        seqs = set()
        for cert in vc.prepared:
            pp = cert.pre_prepare
            if not h < pp.seq <= h + k or pp.seq in seqs or pp.view >= new_view:
                return False
            seqs.add(pp.seq)
            primary = self.primary(pp.view)
            if pp.sender != primary or not self._verified(pp):
                return False
            if pp.request is None:
                if pp.digest != NULL_DIGEST:
                    return False
            elif pp.request.digest != pp.digest or not self._request_ok(pp.request):
                return False
            voters = {primary}
            for p in cert.prepares:
                if (p.view, p.seq, p.digest) != (pp.view, pp.seq, pp.digest):
                    return False
                if p.sender == primary or p.sender in voters or not 0 <= p.sender < self.n:
                    return False
                if not self._verified(p):
                    return False
                voters.add(p.sender)
            if not q.is_quorum(voters):
                return False
        return True

    def _evaluate(
        self, vcs: Iterable[ViewChange], new_view: int, *, strict: bool
    ) -> tuple[str, Any]:
        """Turn a view-change set into the new view's pre-prepare plan.

        Returns ``("ok", (h*, proof, [(seq, digest, request)], used))``, or ``("wait", None)``
        (not enough yet), ``("catchup", None)`` (needs the log up to ``h*``) or
        ``("invalid", None)`` (strict mode: the set contains an invalid view-change).
        """
        valid: list[ViewChange] = []
        for vc in vcs:
            ok = self._check_vc(vc, new_view)
            if ok is None:
                if strict:
                    return "catchup", None
                continue
            if ok:
                valid.append(vc)
            elif strict:
                return "invalid", None
        if not valid:
            return "wait", None
        if len({vc.sender for vc in valid}) != len(valid):
            return ("invalid", None) if strict else ("wait", None)
        h_star = max(vc.stable_seq for vc in valid)
        if self.last_executed < h_star:
            return "catchup", None
        qa = self.quorum(h_star // self.K)
        qb = self.quorum(h_star // self.K + 1)
        assert qa is not None and qb is not None
        senders = [vc.sender for vc in valid]
        if not (qa.is_quorum(senders) and qb.is_quorum(senders)):
            return ("invalid", None) if strict else ("wait", None)
        best: dict[int, PreparedCertificate] = {}
        for vc in valid:
            for cert in vc.prepared:
                s = cert.pre_prepare.seq
                if s <= h_star:
                    continue
                old = best.get(s)
                rank = (cert.pre_prepare.view, cert.pre_prepare.digest)
                if old is None or rank > (old.pre_prepare.view, old.pre_prepare.digest):
                    best[s] = cert
        max_s = max(best, default=h_star)
        plan = []
        for s in range(h_star + 1, max_s + 1):
            cert = best.get(s)
            if cert is None:
                plan.append((s, NULL_DIGEST, None))
            else:
                plan.append((s, cert.pre_prepare.digest, cert.pre_prepare.request))
        proof_vc = min((vc for vc in valid if vc.stable_seq == h_star), key=lambda v: v.sender)
        return "ok", (h_star, proof_vc.checkpoint_proof, plan, valid)

    def _try_new_view(self, new_view: int) -> None:
        if self.view != new_view or self.active or self.primary(new_view) != self.owner:
            return
        status, out = self._evaluate(self.vcs.get(new_view, {}).values(), new_view, strict=False)
        if status == "catchup":
            self._push_status()
            return
        if status != "ok":
            return
        h_star, proof, plan, used = out
        pps = []
        for s, d, req in plan:
            pp = PrePrepare(new_view, s, d, req, self.owner).sign(self.identity)
            assert isinstance(pp, PrePrepare)
            pps.append(pp)
        used_sorted = tuple(sorted(used, key=lambda v: v.sender))
        nv = NewView(new_view, used_sorted, tuple(pps), self.owner).sign(self.identity)
        assert isinstance(nv, NewView)
        self._broadcast(nv)
        self._install_new_view(nv, h_star, proof)

    def _on_new_view(self, src: int, nv: NewView) -> None:
        if src != self.primary(nv.view) or not self._verified(nv):
            return
        if nv.view < self.view or (nv.view == self.view and self.active):
            return
        status, out = self._evaluate(nv.view_changes, nv.view, strict=True)
        if status == "catchup":
            self._buffered_nv = nv
            self._push_status()
            return
        if status != "ok":
            return
        h_star, proof, plan, _ = out
        if len(plan) != len(nv.pre_prepares):
            return
        for (s, d, _), pp in zip(plan, nv.pre_prepares, strict=True):
            if (pp.view, pp.seq, pp.digest, pp.sender) != (nv.view, s, d, src):
                return
            if not self._verified(pp):
                return
            if pp.request is not None and pp.request.digest != d:
                return
        if nv.view > self.view:
            self.view = nv.view
        self._install_new_view(nv, h_star, proof)

    def _install_new_view(self, nv: NewView, h_star: int, proof: tuple[Checkpoint, ...]) -> None:
        view = nv.view
        self.view = view
        self.active = False  # until the carried-over pre-prepares are installed
        self._cancel_request_timer()
        self._buffered_nv = None
        self.new_views_installed += 1
        if self._nv_timer is not None:
            self._nv_timer.cancel()
            self._nv_timer = None
        self.new_views[view] = nv
        self.new_views = {v: m for v, m in self.new_views.items() if v >= view}
        self.vcs = {v: by for v, by in self.vcs.items() if v > view}
        self.pp = {k: v for k, v in self.pp.items() if k[0] >= view}
        self.prep = {k: v for k, v in self.prep.items() if k[0] >= view}
        self.comm = {k: v for k, v in self.comm.items() if k[0] >= view}
        self.sent_commit = {k for k in self.sent_commit if k[0] >= view}
        self.assigned = {}
        is_primary = self.primary(view) == self.owner
        self.next_seq = max(self.stable_seq, h_star)
        if h_star > self.stable_seq:
            self._make_stable(h_star, proof)
        for pp in nv.pre_prepares:
            if pp.seq <= self.stable_seq:
                continue
            if is_primary:
                self.pp[(view, pp.seq)] = pp
                self._remember(pp)
                if pp.request is not None:
                    self.assigned[pp.request.rid] = pp.seq
                    if pp.request.rid not in self.done:
                        self.pending.setdefault(pp.request.rid, pp.request)
            else:
                self._remember(pp)
                self._accept_pre_prepare(pp)
            self.next_seq = max(self.next_seq, pp.seq)
        self.active = True
        for v, seq, d in list(self.prep):
            if v == view:
                self._check_prepared(v, seq, d)
        self._arm_request_timer()
        if is_primary:
            self._propose()
        self._try_execute()

    # -- status, retransmission and state transfer --------------------------------------------

    def _status(self) -> Status:
        return Status(self.view, self.active, self.stable_seq, self.last_executed, self.owner)

    def _push_status(self) -> None:
        """Ask peers for missing state now (rate-limited)."""
        if self.bus.now - self._last_status_push < self.config.status_interval_s / 4:
            return
        self._last_status_push = self.bus.now
        self._broadcast(self._status())

    def _tick(self) -> None:
        self.bus.schedule(self.config.status_interval_s, self._tick)
        self._last_status_push = self.bus.now
        self._broadcast(self._status())
        if not self.active:
            own = self.vcs.get(self.view, {}).get(self.owner)
            if own is not None:
                self._broadcast(own)
        elif self.last_executed == self._last_tick_exec:
            self._retransmit()
        self._last_tick_exec = self.last_executed
        for c in range(self.stable_seq + self.K, self.last_executed + 1, self.K):
            own_ck = self.ckpt.get(c, {}).get(self.owner)
            if own_ck is not None:
                self._broadcast(own_ck)
        for rid, req in self.own_requests.items():
            if rid not in self.done:
                self._broadcast(req)
        self.own_requests = {r: q for r, q in self.own_requests.items() if r not in self.done}
        if self._buffered_nv is not None:
            nv = self._buffered_nv
            self._buffered_nv = None
            self._on_new_view(nv.sender, nv)

    def _retransmit(self) -> None:
        view = self.view
        hi = self.stable_seq + self.K
        for (v, s), pp in list(self.pp.items()):
            if v != view or s <= self.last_executed or s > hi:
                continue
            if pp.sender == self.owner:
                self._broadcast(pp)
            else:
                mine = self.prep.get((v, s, pp.digest), {}).get(self.owner)
                if mine is not None:
                    self._broadcast(mine)
            if (v, s) in self.sent_commit:
                for (cv, cs, _), by in self.comm.items():
                    if cv == v and cs == s and self.owner in by:
                        self._broadcast(by[self.owner])

    def _on_status(self, src: int, st: Status) -> None:
        previous = self._peer_progress.get(src)
        self._peer_progress[src] = st.last_executed
        stalled = previous == st.last_executed or st.last_executed + self.K <= self.last_executed
        if stalled and st.last_executed < self.last_executed:
            lo = max(st.last_executed, 0)
            hi = min(self.last_executed, lo + 2 * self.K)
            entries = tuple((s, self.log[s - 1]) for s in range(lo + 1, hi + 1))
            proofs = tuple(
                p for c, p in sorted(self.stable_proof.items()) if st.stable_seq < c <= hi and p
            )
            self.send(src, FetchReply(entries, proofs, self.owner))
        behind_view = st.view < self.view or (st.view == self.view and not st.active)
        if behind_view and self.active and self.view in self.new_views:
            self.send(src, self.new_views[self.view])

    def _on_fetch_reply(self, src: int, fr: FetchReply) -> None:
        q = self._latest_quorum()
        for s, req in fr.entries:
            if not isinstance(s, int) or s <= self.last_executed or s in self.committed:
                continue
            d = NULL_DIGEST if req is None else req.digest
            senders, _ = self.fetch_votes.setdefault(s, {}).setdefault(d, (set(), req))
            senders.add(src)
            if q.is_certificate(senders):
                self.committed[s] = (d, req)
                del self.fetch_votes[s]
        for proof in fr.checkpoint_proofs:
            for ck in proof:
                if (
                    isinstance(ck, Checkpoint)
                    and ck.seq > self.stable_seq
                    and ck.seq % self.K == 0
                    and 0 <= ck.sender < self.n
                    and self._verified(ck)
                ):
                    self.ckpt.setdefault(ck.seq, {})[ck.sender] = ck
        self._try_execute()
        for c in sorted(self.ckpt):
            self._check_stable(c)


class ByzantineReplica(PBFTReplica):
    """A replica that misbehaves in one of the ways of :class:`Behaviour` (for tests).

    Parameters
    ----------
    node, config, bus, keyring
        As for :class:`PBFTReplica`.
    behaviour : Behaviour
        How it misbehaves.
    """

    def __init__(
        self,
        node: int,
        config: ConsensusConfig,
        bus: MessageBus,
        keyring: Keyring,
        behaviour: Behaviour,
    ) -> None:
        super().__init__(node, config, bus, keyring)
        self.behaviour = Behaviour(behaviour)
        self._variants: dict[tuple[Any, ...], Message] = {}
        self._framed: set[int] = set()

    def start(self) -> None:
        if self.behaviour is Behaviour.SILENT:
            return
        super().start()
        if self.behaviour is Behaviour.FRAMING:
            self.bus.schedule(0.0, self._frame)

    def received_message(self, src: int, msg: Message) -> None:
        if self.behaviour is Behaviour.SILENT:
            return
        super().received_message(src, msg)

    def _bogus(self, d: bytes) -> bytes:
        return digest(b"bogus|" + d)

    def _make_prepare(self, pp: PrePrepare) -> Prepare:
        if self.behaviour is Behaviour.BOGUS_VOTES:
            bogus = Prepare(pp.view, pp.seq, self._bogus(pp.digest), self.owner, pp.signature)
            bogus.sign(self.identity)
            commit = Commit(pp.view, pp.seq, self._bogus(pp.digest), self.owner)
            self._broadcast(commit.sign(self.identity))
            return bogus
        return super()._make_prepare(pp)

    def _make_commit(self, view: int, seq: int, d: bytes) -> Commit:
        if self.behaviour is Behaviour.BOGUS_VOTES:
            return Commit(view, seq, self._bogus(d), self.owner).sign(self.identity)  # type: ignore[return-value]
        return super()._make_commit(view, seq, d)

    def equivocate(self, msg: Message, dst: int) -> Message | None:
        if self.behaviour is not Behaviour.EQUIVOCATE or not isinstance(
            msg, PrePrepare | Prepare | Commit
        ):
            return None
        if msg.sender != self.owner or (msg.seq + dst) % 2 == 0:
            return None
        key = (msg.msg_type, msg.view, msg.seq)
        variant = self._variants.get(key)
        if variant is None:
            if isinstance(msg, PrePrepare):
                if msg.request is None:
                    return None
                variant = PrePrepare(msg.view, msg.seq, NULL_DIGEST, None, self.owner)
            elif isinstance(msg, Prepare):
                variant = Prepare(
                    msg.view, msg.seq, self._bogus(msg.digest), self.owner, msg.pp_signature
                )
            else:
                variant = Commit(msg.view, msg.seq, self._bogus(msg.digest), self.owner)
            variant.sign(self.identity)
            self._variants[key] = variant
        return variant

    def _frame(self) -> None:
        """Submit accusations without verifiable evidence against the next three replicas."""
        targets = [(self.owner + k) % self.n for k in range(1, min(4, self.n))]
        for op in framing_operations(self.identity, targets):
            self.submit(op)
        self.bus.schedule(self.config.status_interval_s * 3, self._frame_with_genuine)

    def _frame_with_genuine(self) -> None:
        """Pair genuine but non-conflicting signed messages of a target as 'equivocation'."""
        by_sender: dict[int, list[SignedMessage]] = {}
        for (sender, _), msg in self.seen_signed.items():
            if sender != self.owner and sender not in self._framed:
                by_sender.setdefault(sender, []).append(msg)
        for sender, msgs in sorted(by_sender.items()):
            if len(msgs) >= 2:
                self._framed.add(sender)
                self.submit(Operation.equivocation(msgs[0], msgs[1]))
        if len(self._framed) < self.n - 1:
            self.bus.schedule(self.config.status_interval_s * 3, self._frame_with_genuine)


def framing_operations(identity: Identity, targets: Sequence[int]) -> list[Operation]:
    """Operations a framing node submits against ``targets``, none of them verifiable.

    For each target ``t``: a bare accusation; an "equivocation" pair of prepares that claim
    ``t`` as sender but carry the framer's signatures; a forged destination statement for a
    share path, signed by the framer in ``t``'s name; a link report on ``(framer, t)`` with
    a QBER of 50 % (round 0), which contradicts ``t``'s honest report of that round if there
    is one; and, as both endpoints of a share path through ``t``, a source and destination
    statement with different digests. The suspect sets these create always contain the
    framer, so the framer alone explains them.

    Parameters
    ----------
    identity : Identity
        The framer's keys (its id is ``identity.principal``).
    targets : sequence of int
        Honest nodes to accuse.

    Returns
    -------
    list of Operation
        Operations to submit.
    """
    framer = identity.principal
    ops: list[Operation] = []
    for t in targets:
        ops.append(Operation.accusation(framer, t, "equivocation"))
        a = Prepare(0, 1, digest(b"a"), t, b"")
        b = Prepare(0, 1, digest(b"b"), t, b"")
        a.signature = identity.sign(a.signed_bytes())
        b.signature = identity.sign(b.signed_bytes())
        ops.append(Operation.equivocation(a, b))
        forged = Statement(
            t,
            (
                "path",
                10_000 + t,
                0,
                framer,
                t,
                (),
                "dst",
                digest(b"x").hex(),
            ),
            identity.sign(Statement.signed_bytes_of(t, ("path",))),
        )
        ops.append(Operation.share_verification(forged))
        ops.append(
            Operation.link_report(
                link_statement(identity, u=framer, v=t, round_=0, qber_ppm=500_000)
            )
        )
        for role, share in (("src", b"sent"), ("dst", b"received")):
            ops.append(
                Operation.share_verification(
                    path_statement(
                        identity,
                        delivery=20_000 + t,
                        path_index=0,
                        source=framer,
                        destination=framer,
                        relays=(t,),
                        role=role,
                        share_digest=digest(share),
                    )
                )
            )
    return ops


class Client(Protocol):
    """A client: signs requests, multicasts them, retransmits, collects reply certificates.

    A result is accepted when matching replies (sequence number, result, weight vector) come
    from replicas weighing more than ``F_w`` under that vector.

    Parameters
    ----------
    node : int
        Principal id (``>= n_replicas``).
    config : ConsensusConfig
        Deployment parameters.
    bus : MessageBus
        The bus.
    keyring : Keyring
        Keys.

    Attributes
    ----------
    completed : dict
        ``(submitter, timestamp) -> (seq, time_s)`` of accepted results.
    submitted : dict
        ``(submitter, timestamp) -> Request`` of every request made.
    """

    name = "client"

    def __init__(self, node: int, config: ConsensusConfig, bus: MessageBus, keyring: Keyring):
        super().__init__(node, bus, keyring.identity(node))
        self.config = config
        self.n = config.n_replicas
        self._ts = 0
        self.submitted: dict[tuple[int, int], Request] = {}
        self.completed: dict[tuple[int, int], tuple[int, float]] = {}
        self._votes: dict[tuple[int, int], dict[tuple[Any, ...], set[int]]] = {}

    def submit(self, operation: Operation) -> Request:
        """Sign and multicast a request now; retransmit until a reply certificate arrives."""
        self._ts += 1
        req = Request(self.owner, self._ts, operation).sign(self.identity)
        assert isinstance(req, Request)
        self.submitted[req.rid] = req
        self.multicast(range(self.n), req)
        self.bus.schedule(self.config.client_retry_s, self._retry, req.rid)
        return req

    def _retry(self, rid: tuple[int, int]) -> None:
        if rid in self.completed:
            return
        self.multicast(range(self.n), self.submitted[rid])
        self.bus.schedule(self.config.client_retry_s, self._retry, rid)

    def received_message(self, src: int, msg: Message) -> None:
        """Count a reply towards its certificate."""
        if not isinstance(msg, Reply) or msg.sender != src or src >= self.n:
            return
        rid = (msg.submitter, msg.timestamp)
        if rid not in self.submitted or rid in self.completed:
            return
        if len(msg.weights) != self.n or any(w < 0 for w in msg.weights):
            return
        key = (msg.seq, msg.result, msg.weights)
        voters = self._votes.setdefault(rid, {}).setdefault(key, set())
        voters.add(src)
        w = np.asarray(msg.weights, dtype=np.int64)
        if int(w[list(voters)].sum()) > int(faulty_weight(w, self.config.f)):
            self.completed[rid] = (msg.seq, self.bus.now)
            del self._votes[rid]


@dataclass
class ConsensusResult:
    """Outcome of a run (see :func:`run_consensus`).

    Attributes
    ----------
    honest : tuple of int
        Honest replica ids.
    byzantine : dict
        Byzantine replica id -> behaviour name.
    logs : dict
        Replica id -> tuple of committed digests by sequence number (``NULL_DIGEST``: null).
    operations : dict
        Replica id -> tuple of effective operations (``None``: null or re-execution).
    weights : dict
        Replica id -> tuple of weight vectors (tuples of int) per epoch.
    views : dict
        Replica id -> final view.
    view_changes : int
        Highest view reached by an honest replica (each view change increments it).
    requested, completed : int
        Client requests made, and those with a reply certificate.
    all_executed : bool
        Every client request executed at every honest replica.
    submitted_digests : frozenset of bytes
        Digests of every request any principal signed (clients, evidence, framing).
    evidence_reported : int
        Equivocation evidence submissions by honest replicas.
    bus : dict
        Bus counters (:class:`~qnetrl.consensus.bus.BusStats` as a dict).
    signatures_verified : int
        Ed25519 verifications over all replicas.
    sim_time_s, wall_time_s : float
        Simulated and wall-clock duration (in s).
    decisions : int
        Sequence numbers executed by every honest replica.
    decisions_per_s : float
        ``decisions / wall_time_s``.
    """

    honest: tuple[int, ...]
    byzantine: dict[int, str]
    logs: dict[int, tuple[bytes, ...]]
    operations: dict[int, tuple[Operation | None, ...]]
    weights: dict[int, tuple[tuple[int, ...], ...]]
    views: dict[int, int]
    view_changes: int
    requested: int
    completed: int
    all_executed: bool
    submitted_digests: frozenset[bytes]
    evidence_reported: int
    bus: dict[str, int]
    signatures_verified: int
    sim_time_s: float
    wall_time_s: float
    decisions: int
    decisions_per_s: float
    extra: dict[str, Any] = field(default_factory=dict)


class ConsensusSystem:
    """Replicas, clients and a bus wired together; drive it step by step or to completion.

    Parameters
    ----------
    config : ConsensusConfig
        Deployment and network parameters.
    byzantine : mapping of int to Behaviour or str, optional
        Byzantine replicas and their behaviours (at most ``f``).
    seed : int
        Seeds the bus generator and the keyring.

    Attributes
    ----------
    keyring : Keyring
        Keys of replicas ``0 .. n-1`` and clients ``n .. n + n_clients - 1``.
    bus : MessageBus
        The bus.
    replicas : list of PBFTReplica
        All replicas (Byzantine ones are :class:`ByzantineReplica`).
    clients : list of Client
        The clients.
    """

    def __init__(
        self,
        config: ConsensusConfig,
        *,
        byzantine: Mapping[int, Behaviour | str] | None = None,
        seed: int = 0,
    ) -> None:
        if not isinstance(config, ConsensusConfig):
            raise InvalidParameterError(
                "The 'config' parameter of ConsensusSystem must be a ConsensusConfig. "
                f"Got {type(config).__name__} instead."
            )
        n = config.n_replicas
        byz: dict[int, Behaviour] = {}
        for node, behaviour in (byzantine or {}).items():
            if not isinstance(node, int) or not 0 <= node < n:
                raise InvalidParameterError(
                    f"The 'byzantine' parameter of ConsensusSystem must map replica ids in "
                    f"[0, {n - 1}] to behaviours. Got id {node!r} instead."
                )
            try:
                byz[node] = Behaviour(behaviour)
            except ValueError:
                options = ", ".join(repr(b.value) for b in Behaviour)
                raise InvalidParameterError(
                    f"The 'byzantine' parameter of ConsensusSystem must map to one of "
                    f"{{{options}}}. Got {behaviour!r} instead."
                ) from None
        if len(byz) > config.f:
            raise InvalidParameterError(
                f"The 'byzantine' parameter of ConsensusSystem must name at most f={config.f} "
                f"replicas. Got {len(byz)} instead."
            )
        self.config = config
        self.byzantine = byz
        self.keyring = Keyring(n + config.n_clients, seed)
        bus_cfg = config.bus
        equivocators = {i for i, b in byz.items() if b is Behaviour.EQUIVOCATE}
        if equivocators - set(bus_cfg.equivocators):
            bus_cfg = bus_cfg.model_copy(
                update={"equivocators": tuple(sorted(equivocators | set(bus_cfg.equivocators)))}
            )
        self.bus = MessageBus(bus_cfg, np.random.default_rng(seed))
        self.replicas: list[PBFTReplica] = [
            ByzantineReplica(i, config, self.bus, self.keyring, byz[i])
            if i in byz
            else PBFTReplica(i, config, self.bus, self.keyring)
            for i in range(n)
        ]
        self.clients = [
            Client(n + c, config, self.bus, self.keyring) for c in range(config.n_clients)
        ]
        self.honest = tuple(i for i in range(n) if i not in byz)
        for p in (*self.replicas, *self.clients):
            p.start()
        self._n_submitted = 0
        self._scheduled = 0

    def submit(self, operation: Operation, *, client: int = 0, at_s: float | None = None) -> None:
        """Have client ``client`` submit ``operation`` at time ``at_s`` (default: now)."""
        if not 0 <= client < len(self.clients):
            raise InvalidParameterError(
                f"The 'client' parameter of ConsensusSystem.submit must be an int in the range "
                f"[0, {len(self.clients) - 1}]. Got {client!r} instead."
            )
        delay = 0.0 if at_s is None else max(0.0, at_s - self.bus.now)
        self._scheduled += 1
        self.bus.schedule(delay, self._do_submit, client, operation)

    def _do_submit(self, client: int, operation: Operation) -> None:
        self.clients[client].submit(operation)
        self._n_submitted += 1

    def done(self) -> bool:
        """Every scheduled request submitted, certified to its client and executed by every
        honest replica."""
        if self._n_submitted < self._scheduled:
            return False
        total = self._n_submitted
        if any(self.replicas[i].client_requests_done < total for i in self.honest):
            return False
        return sum(len(c.completed) for c in self.clients) >= total

    def run(self, until_s: float, *, stop_when_done: bool = True) -> int:
        """Advance the simulation to ``until_s`` (in s), or until :meth:`done`."""
        return self.bus.run(until_s, stop=self.done if stop_when_done else None)

    def result(self, wall_time_s: float = math.nan) -> ConsensusResult:
        """Snapshot of the run."""
        reps = self.replicas
        honest = self.honest
        submitted = {r.digest for c in self.clients for r in c.submitted.values()}
        for r in reps:
            submitted |= r.submitted_digests
        decisions = min((reps[i].last_executed for i in honest), default=0)
        stats = self.bus.stats
        total = self._n_submitted
        return ConsensusResult(
            honest=honest,
            byzantine={i: b.value for i, b in self.byzantine.items()},
            logs={r.owner: tuple(r.digests) for r in reps},
            operations={r.owner: tuple(r.effective) for r in reps},
            weights={
                r.owner: tuple(tuple(int(x) for x in w) for w in r.epoch_weights) for r in reps
            },
            views={r.owner: r.view for r in reps},
            view_changes=max((reps[i].view for i in honest), default=0),
            requested=total,
            completed=sum(len(c.completed) for c in self.clients),
            all_executed=all(reps[i].client_requests_done >= total for i in honest),
            submitted_digests=frozenset(submitted),
            evidence_reported=sum(reps[i].evidence_reported for i in honest),
            bus=dataclasses.asdict(stats),
            signatures_verified=sum(r.signatures_verified for r in reps),
            sim_time_s=self.bus.now,
            wall_time_s=wall_time_s,
            decisions=decisions,
            decisions_per_s=decisions / wall_time_s if wall_time_s > 0 else math.nan,
        )


def run_consensus(
    config: ConsensusConfig,
    requests: Sequence[Operation],
    byzantine: Mapping[int, Behaviour | str] | None = None,
    seed: int = 0,
) -> ConsensusResult:
    """Replicate ``requests`` with weighted PBFT over a simulated faulty network.

    Client ``i mod n_clients`` submits request ``i`` at ``i * request_interval_s``; the run
    stops when every request is certified to its client and executed by every honest
    replica, or at ``config.max_time_s`` of simulated time.

    Parameters
    ----------
    config : ConsensusConfig
        Deployment, timers and network faults.
    requests : sequence of Operation
        Operations to replicate.
    byzantine : mapping of int to Behaviour or str, optional
        Byzantine replicas (at most ``config.f``) and their behaviours.
    seed : int
        Seeds the bus and the keyring (``Keyring(n_replicas + n_clients, seed)`` rebuilds the
        keys, e.g. to sign statements in ``requests``).

    Returns
    -------
    ConsensusResult
        Logs, weights, views, counters and throughput.

    Examples
    --------
    >>> cfg = ConsensusConfig(n_replicas=4, f=1, checkpoint_interval=4)
    >>> res = run_consensus(cfg, [Operation.relay_order([0, 1, 2], 256, tag=i) for i in range(6)])
    >>> res.all_executed, res.completed, res.view_changes
    (True, 6, 0)
    >>> len({res.logs[i] for i in res.honest})
    1
    """
    system = ConsensusSystem(config, byzantine=byzantine, seed=seed)
    for i, op in enumerate(requests):
        if not isinstance(op, Operation):
            raise InvalidParameterError(
                "The 'requests' parameter of run_consensus must hold Operation objects. "
                f"Got {type(op).__name__} at index {i} instead."
            )
        system.submit(op, client=i % config.n_clients, at_s=i * config.request_interval_s)
    start = time.perf_counter()
    system.run(config.max_time_s)
    return system.result(time.perf_counter() - start)
