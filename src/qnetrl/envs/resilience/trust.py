"""ABFT trust layer of the resilience env: what the key-management nodes replicate each epoch.

Every ``K`` slots (an epoch) the N key-management nodes of the network, which are the
replicas of :mod:`qnetrl.consensus`, agree with weighted PBFT on the epoch's operations, then
fold them into a new voting-weight vector with the consensus layer's evidence rule
(:func:`~qnetrl.consensus.update_weights`: the publication's ``w_i <- w_i (1 - alpha e_i)``
on an evidence-based error rate, clamped so that ``W >= 3 F_w + 1``). Replicated per epoch and
copy, in this order:

1. **Relay orders** (``OpKind.RELAY_ORDER``): one per request served, with its paths and key
   size (``Operation.relay_order(path, key_bits, tag=delivery)``). Never evidence.
2. **Share-verification results** (``OpKind.SHARE_VERIFICATION``): for every share path of a
   multi-path delivery, the source's signed digest of the share sent and the destination's
   signed digest of the share received (:func:`~qnetrl.consensus.path_statement`,
   ``delivery`` a per-copy counter, ``relays`` the path's relays). A share that was dropped,
   arrived after the deadline or arrived with a corrupted byte gets a different digest, so
   the record is a suspect set ``{source, destination} ∪ relays``.
3. **Link reports** (``OpKind.LINK_REPORT``): both endpoints of every link whose endpoints
   are up sign (:func:`~qnetrl.consensus.link_statement`) its QBER of the epoch's last slot
   in parts per million (round ``2 e``) and its key-pool level in bits (round ``2 e + 1``;
   the value travels in the ``qber_ppm`` field). Both ends of a link see the same sample and
   hold the same pool, so honest reports agree; a FALSE_QBER node reports
   ``false_qber_value`` and a FALSE_POOL node its pool times ``false_pool_factor``, and a
   mismatch is the suspect set ``{u, v}``. Crashed nodes report nothing (no record).
4. **Weight epoch**: the vector adopted at the epoch's checkpoint (certified by the stable
   checkpoint, not a separate operation; see :mod:`qnetrl.consensus.messages`).

Running full PBFT (Ed25519 signatures, O(N^2) messages per operation) for every epoch of every
copy of every training episode would cost minutes per episode, so :class:`TrustLayer` uses an
equivalent deterministic fast path: every honest replica commits exactly the submitted
operations (PBFT safety and liveness with at most ``f`` Byzantine replicas), every statement
is validly signed by its endpoint (Byzantine endpoints sign their lies), so the evidence of
:func:`~qnetrl.consensus.collect_evidence` is exactly the mismatched records above, and the
fast path computes :func:`~qnetrl.consensus.attribute_faults`,
:func:`~qnetrl.consensus.error_rate` and :func:`~qnetrl.consensus.clamp_weights` on those
records without building or signing messages. :func:`epoch_operations` builds the real
signed operations of one copy's epoch; the tests replicate them with
:func:`~qnetrl.consensus.run_consensus` and check that
:func:`~qnetrl.consensus.update_weights` on the committed log gives the fast path's weights.

Weights are the safe part: they only ever drop for nodes the evidence *forces* to be
Byzantine, so framing or false reports cannot lower an honest node's weight. Routing also
uses a faster, unsafe-by-design *suspicion* score (the decayed fraction of a relay's share
paths that failed, and of a node's link reports that were disputed); it only steers traffic
and decides which endpoint's report a disputed link keeps, never a vote. The node penalty for
routing is ``route_penalty * clip(1 - w / w_0 + suspicion, 0, 1)``, and a node whose disputed
fraction exceeds ``discount_threshold`` (or whom the evidence forces) has its reports
discounted, so the honest endpoint's report wins and a false-QBER denial of service stops
blocking its links.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field

from qnetrl._validation import InvalidParameterError
from qnetrl.config import ConfigBase
from qnetrl.consensus import (
    Keyring,
    Operation,
    attribute_faults,
    clamp_weights,
    is_admissible,
    link_statement,
    path_statement,
)
from qnetrl.consensus.messages import digest
from qnetrl.network.faults import Behaviour
from qnetrl.network.simulator import Deliveries, NetworkSimulator

__all__ = [
    "EpochEvidence",
    "TrustConfig",
    "TrustLayer",
    "collect_epoch",
    "epoch_operations",
    "max_tolerated",
]

_FALSE_QBER: Final[int] = int(Behaviour.FALSE_QBER)
_FALSE_POOL: Final[int] = int(Behaviour.FALSE_POOL)
_CRASH: Final[int] = int(Behaviour.CRASH)


def max_tolerated(n_nodes: int) -> int:
    """Largest ``f`` with ``n_nodes >= 3 f + 1`` (equal initial weights stay admissible).

    Examples
    --------
    >>> max_tolerated(16), max_tolerated(10), max_tolerated(3)
    (5, 3, 0)
    """
    return max(0, (int(n_nodes) - 1) // 3)


class TrustConfig(ConfigBase):
    """Weighted-PBFT weights and routing trust of the resilience env."""

    alpha: float = Field(
        0.5, ge=0.0, le=1.0, description="Decay rate of w <- w (1 - alpha e) per epoch."
    )
    f: int | Literal["max", "scenario"] = Field(
        "max",
        description=(
            "Byzantine nodes the weighted PBFT tolerates: an int in [0, (N - 1) // 3], 'max' "
            "((N - 1) // 3, a deployment that does not know the attack) or 'scenario' (the "
            "scenario's Byzantine count, capped at the max: the tightest valid bound)."
        ),
    )
    initial_weight: int = Field(
        1000, ge=1, le=10**9, description="Initial voting weight of every node (weight units)."
    )
    suspicion_memory: float = Field(
        0.9,
        ge=0.0,
        le=1.0,
        description="Per-epoch decay of the suspicion and dispute counters (1: never forget).",
    )
    suspicion_prior: float = Field(
        1.0,
        gt=0.0,
        le=1e6,
        description="Pseudo-count of good share paths every relay starts with (smoothing).",
    )
    discount_threshold: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Disputed fraction of a node's link reports above which they are ignored.",
    )
    route_penalty: float = Field(
        10.0,
        ge=0.0,
        le=1e6,
        description=(
            "Routing cost of relaying through a fully distrusted node (dimensionless; one "
            "empty-pool hop costs 1)."
        ),
    )


@dataclass(frozen=True, slots=True)
class EpochEvidence:
    """What the replicas learn about one epoch of B copies (arrays, batch axis first).

    Attributes
    ----------
    epoch : int
        Epoch index e (link-report rounds ``2 e`` and ``2 e + 1``).
    n_nodes : int
        Number of nodes N.
    link_u, link_v : ndarray of shape (L,), dtype int64
        Endpoints of each link (node indices).
    qber_u, qber_v : ndarray of shape (B, L), dtype int64
        QBER each endpoint of each link reports (in parts per million).
    pool_u, pool_v : ndarray of shape (B, L), dtype int64
        Key-pool level each endpoint reports (in bits).
    reported : ndarray of shape (B, L), dtype bool
        Both endpoints were up and reported (a complete record).
    path_copy : ndarray of shape (S,), dtype int64
        Copy of each multi-path share path delivered in the epoch.
    path_delivery, path_index : ndarray of shape (S,), dtype int64
        Per-copy delivery id and path index of each share path.
    path_nodes : ndarray of shape (S, H + 1), dtype int64
        Node sequence of each share path (source first), padded with -1.
    path_ok : ndarray of shape (S,), dtype bool
        The destination received the share intact and in time (digests agree).
    path_key_bits : ndarray of shape (S,), dtype int64
        Key size of the delivery (in bits).
    relay_orders : ndarray of shape (B,), dtype int64
        Paths of the requests served in the epoch (one relay-order operation each).
    """

    epoch: int
    n_nodes: int
    link_u: NDArray[np.int64]
    link_v: NDArray[np.int64]
    qber_u: NDArray[np.int64]
    qber_v: NDArray[np.int64]
    pool_u: NDArray[np.int64]
    pool_v: NDArray[np.int64]
    reported: NDArray[np.bool_]
    path_copy: NDArray[np.int64]
    path_delivery: NDArray[np.int64]
    path_index: NDArray[np.int64]
    path_nodes: NDArray[np.int64]
    path_ok: NDArray[np.bool_]
    path_key_bits: NDArray[np.int64]
    relay_orders: NDArray[np.int64]

    @property
    def qber_dispute(self) -> NDArray[np.bool_]:
        """(B, L): complete QBER records whose two reports differ."""
        return self.reported & (self.qber_u != self.qber_v)

    @property
    def pool_dispute(self) -> NDArray[np.bool_]:
        """(B, L): complete pool records whose two reports differ."""
        return self.reported & (self.pool_u != self.pool_v)

    def operations_per_copy(self) -> NDArray[np.int64]:
        """(B,): operations replicated in the epoch (orders, share statements, link reports).

        Single-path deliveries carry relay orders only (no end-to-end statement).
        """
        b = self.reported.shape[0]
        shares = np.bincount(self.path_copy, minlength=b)
        return self.relay_orders + 2 * shares + 4 * self.reported.sum(axis=1)


def collect_epoch(
    sim: NetworkSimulator,
    deliveries: list[Deliveries],
    epoch: int,
    first_delivery: NDArray[np.int64],
) -> EpochEvidence:
    """The :class:`EpochEvidence` of the epoch that just ended in ``sim``.

    Parameters
    ----------
    sim : NetworkSimulator
        The simulator, right after the epoch's last slot.
    deliveries : list of Deliveries
        ``sim.last_deliveries`` of every slot of the epoch (None entries left out).
    epoch : int
        Epoch index.
    first_delivery : ndarray of shape (B,), dtype int64
        Next free delivery id of each copy; advanced in place by the deliveries counted.

    Returns
    -------
    EpochEvidence
        Reports as every endpoint signs them (honest: the truth; FALSE_QBER / FALSE_POOL
        nodes: their lie) and the share paths of multi-path deliveries.
    """
    table = sim.table
    b = sim.config.batch_size
    codes = sim.faults.active_codes(max(sim.slot - 1, 0))
    up = (codes & _CRASH) == 0
    key = sim.link_slot
    assert key is not None, "collect_epoch needs at least one simulated slot"
    true_qber = np.rint(key.qber * 1e6).astype(np.int64)
    false_qber = round(sim.config.faults.false_qber_value * 1e6)
    pool = np.rint(sim.pools).astype(np.int64)
    lie_pool = np.rint(sim.pools * sim.config.faults.false_pool_factor).astype(np.int64)

    def report(end: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        c = codes[:, end]
        q = np.where((c & _FALSE_QBER) != 0, false_qber, true_qber)
        p = np.where((c & _FALSE_POOL) != 0, lie_pool, pool)
        return q, p

    qu, pu = report(table.u)
    qv, pv = report(table.v)
    reported = up[:, table.u] & up[:, table.v]

    served = np.zeros(b, dtype=np.int64)
    rows: list[tuple[NDArray[np.int64], ...]] = []
    multi = sim.config.routing == "multipath"
    for d in deliveries:
        np.add.at(served, d.copy, (d.hops > 0).sum(axis=1))
        if not multi:
            continue
        s = d.share_ok.shape[0]
        ids = np.empty(s, dtype=np.int64)
        # delivery ids in serve order within each copy
        order = np.argsort(d.copy, kind="stable")
        counts = np.bincount(d.copy, minlength=b)
        starts = np.repeat(first_delivery, counts)
        within = np.arange(s) - np.repeat(np.cumsum(counts) - counts, counts)
        ids[order] = starts + within
        first_delivery += counts
        live = d.hops > 0
        rr, jj = np.nonzero(live)
        rows.append(
            (
                d.copy[rr],
                ids[rr],
                jj.astype(np.int64),
                d.nodes[rr, jj],
                d.share_ok[rr, jj],
                d.key_bits[rr],
            )
        )
    if rows:
        width = max(r[3].shape[1] for r in rows)
        nodes = np.concatenate(
            [np.pad(r[3], ((0, 0), (0, width - r[3].shape[1])), constant_values=-1) for r in rows]
        )
        cols = [np.concatenate([r[i] for r in rows]) for i in (0, 1, 2, 4, 5)]
    else:
        nodes = np.zeros((0, 2), dtype=np.int64)
        cols = [np.zeros(0, dtype=np.int64)] * 3 + [np.zeros(0, dtype=bool)]
        cols.append(np.zeros(0, dtype=np.int64))
    return EpochEvidence(
        epoch=int(epoch),
        n_nodes=table.n_nodes,
        link_u=np.asarray(table.u),
        link_v=np.asarray(table.v),
        qber_u=qu,
        qber_v=qv,
        pool_u=pu,
        pool_v=pv,
        reported=reported,
        path_copy=cols[0],
        path_delivery=cols[1],
        path_index=cols[2],
        path_nodes=nodes,
        path_ok=cols[3].astype(bool),
        path_key_bits=cols[4],
        relay_orders=served,
    )


def _path_ends(nodes: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Source and destination of padded node sequences (S, H + 1)."""
    last = (nodes >= 0).sum(axis=1) - 1
    return nodes[:, 0], nodes[np.arange(nodes.shape[0]), last]


def _members(nodes: NDArray[np.int64], n_nodes: int) -> NDArray[np.bool_]:
    """(S, N) membership of every node of each padded path (endpoints and relays)."""
    out = np.zeros((nodes.shape[0], n_nodes + 1), dtype=bool)
    rows = np.broadcast_to(np.arange(nodes.shape[0])[:, None], nodes.shape)
    out[rows, np.where(nodes >= 0, nodes, n_nodes)] = True
    return out[:, :n_nodes]


def _relays(nodes: NDArray[np.int64], n_nodes: int) -> NDArray[np.bool_]:
    """(S, N) membership of the relays (intermediate nodes) of each padded path."""
    n_valid = (nodes >= 0).sum(axis=1, keepdims=True)
    pos = np.arange(nodes.shape[1])
    relay = (pos >= 1) & (pos < n_valid - 1)
    out = np.zeros((nodes.shape[0], n_nodes + 1), dtype=bool)
    rows = np.broadcast_to(np.arange(nodes.shape[0])[:, None], nodes.shape)
    out[rows, np.where(relay, nodes, n_nodes)] = True
    return out[:, :n_nodes]


def epoch_operations(evidence: EpochEvidence, copy: int, keys: Keyring) -> list[Operation]:
    """The signed operations one copy's key-management nodes replicate for an epoch.

    Parameters
    ----------
    evidence : EpochEvidence
        The epoch.
    copy : int
        Which copy.
    keys : Keyring
        Keys of the N nodes (principals ``0 .. N-1``), e.g. ``Keyring(N + n_clients, seed)``
        for :func:`~qnetrl.consensus.run_consensus` with the same seed.

    Returns
    -------
    list of Operation
        Relay orders, then share-verification statements (source and destination of every
        share path), then link reports (QBER round ``2 e``, pool round ``2 e + 1``), signed
        by the stating endpoint.
    """
    ops: list[Operation] = []
    sel = np.flatnonzero(evidence.path_copy == copy)
    src, dst = _path_ends(evidence.path_nodes[sel]) if sel.size else (sel, sel)
    for i, k in enumerate(sel.tolist()):
        nodes = evidence.path_nodes[k]
        path = [int(x) for x in nodes[nodes >= 0]]
        ops.append(
            Operation.relay_order(
                path, int(evidence.path_key_bits[k]), tag=int(evidence.path_delivery[k])
            )
        )
        share = digest(
            f"share|{copy}|{evidence.path_delivery[k]}|{evidence.path_index[k]}".encode()
        )
        got = share if evidence.path_ok[k] else digest(b"missing-or-corrupted|" + share)
        for role, who, dig in (("src", src[i], share), ("dst", dst[i], got)):
            st = path_statement(
                keys.identity(int(who)),
                delivery=int(evidence.path_delivery[k]),
                path_index=int(evidence.path_index[k]),
                source=int(src[i]),
                destination=int(dst[i]),
                relays=path[1:-1],
                role=role,
                share_digest=dig,
            )
            ops.append(Operation.share_verification(st))
    e = evidence.epoch
    u, v = evidence.link_u, evidence.link_v
    for link in np.flatnonzero(evidence.reported[copy]).tolist():
        a, b = int(u[link]), int(v[link])
        for round_, ru, rv in (
            (2 * e, evidence.qber_u, evidence.qber_v),
            (2 * e + 1, evidence.pool_u, evidence.pool_v),
        ):
            for who, value in ((a, ru[copy, link]), (b, rv[copy, link])):
                st = link_statement(
                    keys.identity(who), u=a, v=b, round_=round_, qber_ppm=int(value)
                )
                ops.append(Operation.link_report(st))
    return ops


class TrustLayer:
    """Weights, suspicion and report discounting of B copies, updated once per epoch.

    Parameters
    ----------
    config : TrustConfig
        Weight and routing-trust parameters.
    n_nodes : int
        Number of nodes (replicas) N.
    link_u, link_v : array_like of int, shape (L,)
        Link endpoints (node indices).
    batch_size : int
        Number of copies B.
    f : int
        Byzantine nodes tolerated, in ``[0, (N - 1) // 3]``.

    Attributes
    ----------
    weights : ndarray of shape (B, N), dtype int64
        Voting weights (weight units), admissible in every copy.
    forced : ndarray of shape (B, N), dtype bool
        Nodes the evidence so far forces to be Byzantine.
    suspicion : ndarray of shape (B, N)
        Decayed fraction of each relay's share paths that failed (smoothed), in [0, 1).
    disputed : ndarray of shape (B, N)
        Decayed fraction of each node's QBER reports, or of its pool reports (the larger),
        that the link's other endpoint contradicted.
    error_rate : ndarray of shape (B, N)
        Evidence-based error rate of the last epoch.
    operations : ndarray of shape (B,), dtype int64
        Operations replicated in the last epoch.

    Notes
    -----
    :meth:`update` is vectorised over copies and nodes except for two per-copy steps that
    run only when needed: :func:`~qnetrl.consensus.attribute_faults` for copies whose set of
    distinct suspect sets grew, and :func:`~qnetrl.consensus.clamp_weights` for copies where
    a forced node has a non-zero error rate. Both run once per epoch, not per slot.
    """

    def __init__(
        self,
        config: TrustConfig,
        n_nodes: int,
        link_u: NDArray[np.int64],
        link_v: NDArray[np.int64],
        batch_size: int,
        f: int,
    ) -> None:
        if not isinstance(f, int | np.integer) or not 0 <= f <= max_tolerated(n_nodes):
            raise InvalidParameterError(
                f"The 'f' parameter of TrustLayer must be an int in the range "
                f"[0, {max_tolerated(n_nodes)}] (N >= 3 f + 1 with N = {n_nodes}). "
                f"Got {f!r} instead."
            )
        self.config = config
        self.n_nodes = int(n_nodes)
        self.batch_size = int(batch_size)
        self.f = int(f)
        self.link_u = np.asarray(link_u, dtype=np.int64)
        self.link_v = np.asarray(link_v, dtype=np.int64)
        inc = np.zeros((self.link_u.size, self.n_nodes))
        inc[np.arange(self.link_u.size), self.link_u] = 1.0
        inc[np.arange(self.link_u.size), self.link_v] = 1.0
        self._incidence = inc
        self.reset()

    def reset(self) -> None:
        """Equal weights, no evidence, no suspicion."""
        b, n = self.batch_size, self.n_nodes
        self.w0 = np.full(n, self.config.initial_weight, dtype=np.int64)
        assert bool(is_admissible(self.w0, self.f))
        self.weights = np.tile(self.w0, (b, 1))
        self.forced = np.zeros((b, n), dtype=bool)
        self.error_rate = np.zeros((b, n))
        self.suspicion = np.zeros((b, n))
        self.disputed = np.zeros((b, n))
        self._bad = np.zeros((b, n))
        self._seen = np.zeros((b, n))
        self._disp = np.zeros((b, n))
        self._disp_pool = np.zeros((b, n))
        self._reps = np.zeros((b, n))
        self._rows: list[dict[bytes, NDArray[np.bool_]]] = [{} for _ in range(b)]
        self.operations = np.zeros(b, dtype=np.int64)
        self.epochs = 0

    # ------------------------------------------------------------------------------------
    @property
    def discounted(self) -> NDArray[np.bool_]:
        """(B, N): nodes whose link reports the control plane ignores."""
        return self.forced | (self.disputed > self.config.discount_threshold)

    @property
    def trust_deficit(self) -> NDArray[np.float64]:
        """(B, N): ``clip(1 - w / w_0 + suspicion, 0, 1)``, 0 for a fully trusted node."""
        return np.clip(1.0 - self.weights / self.w0 + self.suspicion, 0.0, 1.0)

    def node_penalty(self) -> NDArray[np.float64]:
        """(B, N) routing penalty: ``route_penalty * trust_deficit``."""
        return self.config.route_penalty * self.trust_deficit

    # ------------------------------------------------------------------------------------
    def fresh_records(
        self, evidence: EpochEvidence
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_], NDArray[np.int64]]:
        """Participation and suspect counts of the epoch's records, and its suspect rows.

        Returns
        -------
        participation : ndarray of shape (B, N)
            Complete records each node is a member of (error-rate denominator).
        suspect_count : ndarray of shape (B, N)
            Suspect records each node is a member of.
        rows : ndarray of shape (R, N), dtype bool
            The suspect sets.
        row_copy : ndarray of shape (R,), dtype int64
            Copy of each suspect set.
        """
        n = self.n_nodes
        inc = self._incidence
        qd, pd = evidence.qber_dispute, evidence.pool_dispute
        part = 2.0 * (evidence.reported @ inc)
        count = (qd.astype(float) + pd) @ inc
        members = _members(evidence.path_nodes, n)
        if evidence.path_copy.size:
            np.add.at(part, evidence.path_copy, members)
            bad = ~evidence.path_ok
            np.add.at(count, evidence.path_copy[bad], members[bad])
        link_rows = np.zeros((self.link_u.size, n), dtype=bool)
        link_rows[np.arange(self.link_u.size), self.link_u] = True
        link_rows[np.arange(self.link_u.size), self.link_v] = True
        cq, lq = np.nonzero(qd)
        cp, lp = np.nonzero(pd)
        bad = ~evidence.path_ok
        rows = np.concatenate([link_rows[lq], link_rows[lp], members[bad]])
        row_copy = np.concatenate([cq, cp, evidence.path_copy[bad]]).astype(np.int64)
        return part, count, rows, row_copy

    def update(self, evidence: EpochEvidence) -> None:
        """Fold one epoch into the weights (sound) and the routing trust (heuristic).

        Parameters
        ----------
        evidence : EpochEvidence
            The epoch's reports and share paths (see :func:`collect_epoch`).
        """
        cfg = self.config
        part, count, rows, row_copy = self.fresh_records(evidence)
        # Sound part: attribution on every distinct suspect set so far, then the rule.
        grew = np.zeros(self.batch_size, dtype=bool)
        for r in np.flatnonzero(rows.any(axis=1)).tolist():
            b = int(row_copy[r])
            key = np.packbits(rows[r]).tobytes()
            if key not in self._rows[b]:
                self._rows[b][key] = rows[r]
                grew[b] = True
        if self.f > 0:
            for b in np.flatnonzero(grew).tolist():
                sus = np.stack(list(self._rows[b].values()))
                self.forced[b] = attribute_faults(sus, self.f)
        e = np.where(self.forced, np.minimum(1.0, count / np.maximum(part, 1.0)), 0.0)
        self.error_rate = e
        proposed = np.floor(self.weights * (1.0 - cfg.alpha * e)).astype(np.int64)
        for b in np.flatnonzero((proposed != self.weights).any(axis=1)).tolist():
            self.weights[b], _ = clamp_weights(self.weights[b], proposed[b], self.f)
        # Routing trust: decayed failure fraction of relayed share paths, disputed reports.
        m = cfg.suspicion_memory
        n = self.n_nodes
        relays = _relays(evidence.path_nodes, n).astype(float)
        seen = np.zeros_like(self._seen)
        bad = np.zeros_like(self._bad)
        if evidence.path_copy.size:
            np.add.at(seen, evidence.path_copy, relays)
            failed = ~evidence.path_ok
            np.add.at(bad, evidence.path_copy[failed], relays[failed])
        self._seen = m * self._seen + seen
        self._bad = m * self._bad + bad
        self.suspicion = self._bad / (self._seen + cfg.suspicion_prior)
        inc = self._incidence
        self._disp = m * self._disp + evidence.qber_dispute @ inc
        self._disp_pool = m * self._disp_pool + evidence.pool_dispute @ inc
        self._reps = m * self._reps + evidence.reported @ inc
        worst = np.maximum(self._disp, self._disp_pool)  # QBER and pool lies are separate
        self.disputed = worst / np.maximum(self._reps, 1.0)
        self.operations = evidence.operations_per_copy()
        self.epochs += 1
