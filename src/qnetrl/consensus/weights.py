"""Weighted quorums and adaptive voting weights driven only by verifiable evidence.

The study's source publication adapts PBFT [1]_ with voting weights updated as
``w_i <- w_i (1 - alpha |e_i|)`` from each node's error rate ``e_i`` (there, the QBER of its
links) and decides by the weighted vote ``V = sum_i w_i v_i``. Taken literally that is unsafe
twice over: QBER belongs to a *link*, so a Byzantine node can drag an honest neighbour's
weight down by reporting or causing errors on their shared link; and every decay of an
honest weight raises the adversary's share of the total, until the quorum arithmetic no
longer guarantees intersection. This module keeps the publication's update rule but feeds it
an *evidence-based* error rate and guards the result:

1. Weights are integers ("weight units"), so quorum comparisons are exact and every honest
   replica computes bit-identical vectors.
2. :class:`WeightedQuorum` gives the thresholds: ``F_w`` is the weight of the ``f``
   heaviest nodes, ``Q = floor((W + F_w) / 2) + 1``; it exists with ``W - F_w >= Q`` iff
   ``W >= 3 F_w + 1``.
3. :func:`update_weights` is a pure function of the committed log: the error rate counts the
   records an epoch completes, attribution uses all evidence so far. A node's error rate is
   non-zero only if the evidence *forces* it to be Byzantine
   (:func:`attribute_faults`): every explanation of the evidence by at most ``f`` faulty
   nodes contains it. Evidence is a family of suspect sets, each guaranteed to contain a
   Byzantine node: ``{s}`` for two conflicting messages or statements signed by ``s``;
   ``{source, destination} ∪ relays`` for a share path whose two endpoints signed different
   digests; ``{u, v}`` for a link whose endpoints signed different QBER reports. Bare
   accusations, unsigned or badly signed material, and honest-looking high QBER are never
   evidence, so no coalition of at most ``f`` nodes can lower an honest node's weight:
   the true Byzantine set always explains the evidence without it. Evidence is taken as
   correct only under the model's assumptions (honest relays deliver intact, honest link
   endpoints see the same QBER estimate, at most ``f`` Byzantine nodes).
4. :func:`clamp_weights` adopts the proposed vector only if ``W >= 3 F_w + 1``; otherwise it
   moves from the previous (admissible) vector towards the proposal by the largest step, in
   1/1024ths, that keeps the condition. Each coordinate stays between its old and proposed
   value, so clamping never lowers a weight more than the evidence asked for.
5. :func:`weight_schedule` folds epochs: weights of epoch ``e`` (sequence numbers
   ``(eK, (e+1)K]``) are ``w_0 = w_1 = initial`` and ``w_e = update(w_{e-1}, ops of epoch
   e-2)``, i.e. the vector computed at checkpoint ``(e-1)K`` becomes stable there and
   applies one epoch later (the lag lets a new primary know both epochs a view change can
   touch; see :mod:`~qnetrl.consensus.pbft`). Honest weights never change, which is what
   makes quorums of different epochs intersect in an honest node.

References
----------
.. [1] M. Castro and B. Liskov, "Practical Byzantine Fault Tolerance", Proc. 3rd USENIX Symp.
   on Operating Systems Design and Implementation (OSDI '99), pp. 173-186, 1999.
"""

from __future__ import annotations

import itertools
import math
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qnetrl._validation import InvalidParameterError, check_range
from qnetrl.consensus.messages import Keyring, Operation, OpKind, Statement, conflict_key

__all__ = [
    "CLAMP_STEPS",
    "Evidence",
    "WeightUpdate",
    "WeightedQuorum",
    "attribute_faults",
    "clamp_weights",
    "collect_evidence",
    "error_rate",
    "faulty_weight",
    "is_admissible",
    "quorum_threshold",
    "update_weights",
    "weight_schedule",
]

#: Resolution of the clamping step: the adopted vector is previous + k/CLAMP_STEPS of the change.
CLAMP_STEPS: Final[int] = 1024
#: Most candidate fault sets :func:`attribute_faults` enumerates before falling back.
MAX_SUBSETS: Final[int] = 200_000


def _as_weights(weights: ArrayLike, owner: str, name: str = "weights") -> NDArray[np.int64]:
    """Weights as an int64 array of shape (..., N) with non-negative integer entries."""
    arr = np.asarray(weights)
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu" or arr.ndim < 1 or arr.shape[-1] < 1 or (arr < 0).any():
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be an array of integers in the range "
            f"[0, inf) with at least one node. Got {weights!r} instead."
        )
    return arr.astype(np.int64)


def _check_f(f: Any, n: int, owner: str) -> int:
    if isinstance(f, bool) or not isinstance(f, int | np.integer) or not 0 <= f < n:
        raise InvalidParameterError(
            f"The 'f' parameter of {owner} must be an int in the range [0, {n - 1}]. "
            f"Got {f!r} instead."
        )
    return int(f)


def faulty_weight(weights: ArrayLike, f: int) -> NDArray[np.int64]:
    """``F_w``: the total weight of the ``f`` heaviest nodes.

    Parameters
    ----------
    weights : array_like of int, shape (..., N)
        Non-negative integer weights; leading axes broadcast (e.g. a batch (B, N)).
    f : int
        Number of faulty nodes tolerated, in [0, N - 1].

    Returns
    -------
    ndarray of int64, shape (...)
        The weight of any ``f`` nodes is at most this.

    Examples
    --------
    >>> int(faulty_weight([5, 1, 3, 2], 2))
    8
    >>> faulty_weight([[1, 1, 1, 1], [3, 1, 1, 1]], 1).tolist()
    [1, 3]
    """
    w = _as_weights(weights, "faulty_weight")
    f = _check_f(f, w.shape[-1], "faulty_weight")
    if f == 0:
        return np.zeros(w.shape[:-1], dtype=np.int64)
    return np.sort(w, axis=-1)[..., -f:].sum(axis=-1)


def is_admissible(weights: ArrayLike, f: int) -> NDArray[np.bool_]:
    """Whether ``W >= 3 F_w + 1`` (a weighted quorum exists), per row of ``weights``.

    Examples
    --------
    >>> bool(is_admissible([1, 1, 1, 1], 1)), bool(is_admissible([3, 1, 1, 1], 1))
    (True, False)
    """
    w = _as_weights(weights, "is_admissible")
    return w.sum(axis=-1) >= 3 * faulty_weight(w, f) + 1


def quorum_threshold(weights: ArrayLike, f: int) -> NDArray[np.int64]:
    """Smallest integer ``Q > (W + F_w) / 2``: ``floor((W + F_w) / 2) + 1``.

    With ``W >= 3 F_w + 1`` it also satisfies ``Q <= W - F_w``. For equal unit weights and
    ``n = 3f + 1`` it is PBFT's ``2f + 1``.

    Examples
    --------
    >>> int(quorum_threshold([1] * 7, 2)), int(quorum_threshold([1] * 4, 1))
    (5, 3)
    """
    w = _as_weights(weights, "quorum_threshold")
    return (w.sum(axis=-1) + faulty_weight(w, f)) // 2 + 1


class WeightedQuorum:
    """Quorum arithmetic of one weight vector.

    Parameters
    ----------
    weights : array_like of int, shape (N,)
        Non-negative integer voting weights (in weight units); must satisfy
        ``W >= 3 F_w + 1``.
    f : int
        Number of Byzantine nodes tolerated, in [0, N - 1].

    Attributes
    ----------
    weights : ndarray of int64, shape (N,)
        The weights.
    f : int
        Nodes tolerated.
    total : int
        ``W``, the sum of the weights.
    faulty_weight : int
        ``F_w``, the weight of the ``f`` heaviest nodes.
    threshold : int
        ``Q = floor((W + F_w) / 2) + 1``: a quorum weighs at least this.
    certificate_threshold : int
        ``F_w + 1``: a reply (or state-transfer) certificate weighs at least this.

    Notes
    -----
    Let ``B`` be the Byzantine set, ``|B| <= f``; then ``w(B) <= F_w``.

    *Intersection.* For two quorums ``A``, ``A'`` (each weighing at least ``Q``),
    ``w(A ∩ A') >= w(A) + w(A') - W >= 2Q - W > F_w >= w(B)``, because
    ``Q > (W + F_w) / 2``. So ``A ∩ A'`` is not inside ``B``: any two quorums share an
    honest node, which is what makes two conflicting values unable both to gather a quorum.

    *Availability.* The honest nodes weigh ``W - w(B) >= W - F_w >= Q``, so they form a
    quorum on their own.

    *Certificates.* A set weighing more than ``F_w`` has more than ``f`` nodes, hence an honest
    one, under any weight vector: this is why clients and lagging replicas may check
    certificates against a vector the repliers claim.

    An integer ``Q`` with ``(W + F_w) / 2 < Q <= W - F_w`` exists iff ``W > 3 F_w``, i.e.
    ``W >= 3 F_w + 1`` for integer weights. Example: ``(3, 1, 1, 1)`` with ``f = 1`` has
    ``W = 6 < 3 * 3 + 1``; the heavy node alone would hold half the vote, and it is refused.

    Examples
    --------
    >>> q = WeightedQuorum([2, 2, 2, 1, 1, 1, 1], f=1)
    >>> q.total, q.faulty_weight, q.threshold, q.certificate_threshold
    (10, 2, 7, 3)
    >>> q.is_quorum([0, 1, 2, 3]), q.is_quorum([0, 3, 4, 5, 6])
    (True, False)
    >>> WeightedQuorum([3, 1, 1, 1], f=1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    qnetrl._validation.InvalidParameterError: The 'weights' parameter of WeightedQuorum must ...
    """

    __slots__ = (
        "_list",
        "certificate_threshold",
        "f",
        "faulty_weight",
        "threshold",
        "total",
        "weights",
    )

    def __init__(self, weights: ArrayLike, f: int) -> None:
        w = _as_weights(weights, "WeightedQuorum")
        if w.ndim != 1:
            raise InvalidParameterError(
                "The 'weights' parameter of WeightedQuorum must be a 1-D array of shape (N,). "
                f"Got shape {w.shape} instead."
            )
        self.f = _check_f(f, w.size, "WeightedQuorum")
        self.weights = w
        self.total = int(w.sum())
        self.faulty_weight = int(faulty_weight(w, self.f))
        if self.total < 3 * self.faulty_weight + 1:
            raise InvalidParameterError(
                "The 'weights' parameter of WeightedQuorum must satisfy W >= 3 F_w + 1 "
                f"(W: total weight, F_w: weight of the f={self.f} heaviest nodes). "
                f"Got W={self.total}, F_w={self.faulty_weight} instead ({w.tolist()})."
            )
        self.threshold = (self.total + self.faulty_weight) // 2 + 1
        self.certificate_threshold = self.faulty_weight + 1
        assert self.total - self.faulty_weight >= self.threshold
        self._list = [int(x) for x in w]

    def weight(self, members: Iterable[int] | NDArray[np.bool_]) -> Any:
        """Weight of a node set: an iterable of node ids, or a boolean mask of shape (..., N).

        A mask of shape (B, N) gives an int64 array of shape (B,).
        """
        if isinstance(members, np.ndarray) and members.dtype == np.bool_:
            return (members * self.weights).sum(axis=-1)
        lst = self._list
        return sum(lst[i] for i in members)

    def is_quorum(self, members: Iterable[int] | NDArray[np.bool_]) -> Any:
        """Whether the set weighs at least ``Q``."""
        return self.weight(members) >= self.threshold

    def is_certificate(self, members: Iterable[int] | NDArray[np.bool_]) -> Any:
        """Whether the set weighs more than ``F_w`` (so it holds an honest node)."""
        return self.weight(members) > self.faulty_weight

    def __repr__(self) -> str:
        return (
            f"WeightedQuorum(weights={self.weights.tolist()}, f={self.f}, W={self.total}, "
            f"F_w={self.faulty_weight}, Q={self.threshold})"
        )


# ---------------------------------------------------------------------------------------------
# Evidence
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Evidence:
    """Verified evidence held in a committed log.

    Attributes
    ----------
    n_nodes : int
        Number of nodes N.
    records : tuple of (hashable, frozenset of int)
        Every complete verified record (a path with both endpoints' statements, a link with
        both endpoints' reports, an equivocation proof) as ``(record id, members)``.
    suspects : ndarray of bool, shape (S, N)
        Suspect sets, one per row; each is guaranteed to contain a Byzantine node.
    suspect_ids : tuple of hashable
        Record id of each suspect row.
    """

    n_nodes: int
    records: tuple[tuple[Any, frozenset[int]], ...]
    suspects: NDArray[np.bool_]
    suspect_ids: tuple[Any, ...]

    @property
    def participation(self) -> NDArray[np.int64]:
        """Number of records each node is a member of, shape (N,): error-rate denominator."""
        out = np.zeros(self.n_nodes, dtype=np.int64)
        for _, members in self.records:
            out[list(members)] += 1
        return out

    @property
    def equivocators(self) -> NDArray[np.bool_]:
        """Nodes proven Byzantine on their own (a suspect set of one), shape (N,)."""
        single = self.suspects.sum(axis=1) == 1
        return self.suspects[single].any(axis=0)

    def restrict(self, ids: Iterable[Any]) -> Evidence:
        """The records and suspect sets whose ids are in ``ids``."""
        keep = set(ids)
        rows = [i for i, rid in enumerate(self.suspect_ids) if rid in keep]
        return Evidence(
            self.n_nodes,
            tuple(r for r in self.records if r[0] in keep),
            self.suspects[rows],
            tuple(self.suspect_ids[i] for i in rows),
        )


#: Signature checks already made, per keyring (the fold re-reads the history each epoch).
_VERIFIED: weakref.WeakKeyDictionary[Keyring, dict[tuple[int, bytes, bytes], bool]] = (
    weakref.WeakKeyDictionary()
)


def _verify(keys: Keyring, signer: int, data: bytes, signature: bytes) -> bool:
    memo = _VERIFIED.setdefault(keys, {})
    key = (signer, data, signature)
    ok = memo.get(key)
    if ok is None:
        ok = keys.verify(signer, data, signature)
        if len(memo) > 100_000:
            memo.clear()
        memo[key] = ok
    return ok


def _node(x: Any, n: int) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x < n


def _statement_ok(kind: OpKind, signer: int, body: tuple[Any, ...], n: int) -> bool:
    if kind is OpKind.SHARE_VERIFICATION:
        return (
            len(body) == 8
            and body[0] == "path"
            and all(isinstance(x, int) for x in body[1:3])
            and _node(body[3], n)
            and _node(body[4], n)
            and isinstance(body[5], tuple)
            and all(_node(r, n) for r in body[5])
            and body[6] in ("src", "dst")
            and isinstance(body[7], str)
            and signer == (body[3] if body[6] == "src" else body[4])
        )
    return (
        len(body) == 5
        and body[0] == "link"
        and _node(body[1], n)
        and _node(body[2], n)
        and body[1] < body[2]
        and isinstance(body[3], int)
        and isinstance(body[4], int)
        and signer in (body[1], body[2])
    )


def _equivocation_key(data: tuple[Any, ...], n: int, keys: Keyring) -> tuple[Any, ...] | None:
    """Record id of a valid equivocation proof, else None."""
    if len(data) != 6 or data[0] != "equivocation" or not _node(data[1], n):
        return None
    if not all(isinstance(x, str) for x in data[2:]):
        return None
    try:
        a_bytes, b_bytes = data[2].encode(), data[4].encode()
        a_sig, b_sig = bytes.fromhex(data[3]), bytes.fromhex(data[5])
    except ValueError:
        return None
    ka, kb = conflict_key(a_bytes), conflict_key(b_bytes)
    if ka is None or kb is None or ka[0] != data[1] or kb[0] != data[1]:
        return None
    if ka[1] != kb[1] or ka[2] == kb[2]:
        return None
    if not (_verify(keys, data[1], a_bytes, a_sig) and _verify(keys, data[1], b_bytes, b_sig)):
        return None
    return ("equivocation", data[1], ka[1])


def collect_evidence(
    operations: Iterable[Operation | None], n_nodes: int, keys: Keyring
) -> Evidence:
    """Verify and collect the evidence held in committed operations.

    Parameters
    ----------
    operations : iterable of Operation or None
        Committed operations in log order (``None``: null request, ignored).
    n_nodes : int
        Number of nodes N (ids ``0 .. N-1``).
    keys : Keyring
        Public keys used to check every signature.

    Returns
    -------
    Evidence
        The complete records and the suspect sets.

    Notes
    -----
    Records and why each suspect set must contain a Byzantine node:

    - ``EVIDENCE`` (equivocation): two messages validly signed by ``s`` with the same
      :func:`~qnetrl.consensus.messages.conflict_key` and different values. Honest replicas
      never sign two, so ``{s}``.
    - ``SHARE_VERIFICATION``: for one ``(delivery, path, source, destination, relays)``, the
      source's and the destination's statements. Different digests give
      ``{source, destination} ∪ relays``: honest relays forward intact, honest endpoints sign
      what they sent or received, so one of them lied or corrupted the share. One endpoint
      signing two digests for the same path gives ``{endpoint}``.
    - ``LINK_REPORT``: for one ``(u, v, round)``, both endpoints' QBER reports; different
      values give ``{u, v}`` (both saw the same public sample); two values signed by one
      endpoint give ``{endpoint}``. Equal reports are never evidence, however high the QBER
      (an eavesdropper on the fibre is not a node fault).

    Statements with bad signatures, a signer that is not the stated endpoint, ids out of
    range, and ``ACCUSATION`` and ``RELAY_ORDER`` operations are ignored. Duplicates count
    once. The two halves of a record may be committed far apart in the log.
    """
    n = int(n_nodes)
    seen: set[tuple[int, tuple[Any, ...]]] = set()
    paths: dict[tuple[Any, ...], dict[str, set[str]]] = {}
    links: dict[tuple[int, int, int], dict[int, set[int]]] = {}
    records: dict[Any, frozenset[int]] = {}
    suspect: dict[Any, frozenset[int]] = {}

    for op in operations:
        if op is None:
            continue
        if op.kind in (OpKind.SHARE_VERIFICATION, OpKind.LINK_REPORT):
            st = Statement.from_plain(op.data)
            if st is None or not _node(st.signer, n) or (st.signer, st.body) in seen:
                continue
            body = st.body
            if not _statement_ok(op.kind, st.signer, body, n):
                continue
            if not _verify(
                keys, st.signer, Statement.signed_bytes_of(st.signer, body), st.signature
            ):
                continue
            seen.add((st.signer, body))
            if op.kind is OpKind.SHARE_VERIFICATION:
                paths.setdefault(tuple(body[1:6]), {}).setdefault(body[6], set()).add(body[7])
            else:
                links.setdefault((body[1], body[2], body[3]), {}).setdefault(st.signer, set()).add(
                    body[4]
                )
        elif op.kind is OpKind.EVIDENCE:
            rid = _equivocation_key(op.data, n, keys)
            if rid is not None:
                records[rid] = suspect[rid] = frozenset((rid[1],))

    for key, roles in paths.items():
        _, _, source, destination, relays = key
        for role, who in (("src", source), ("dst", destination)):
            if len(roles.get(role, ())) > 1:
                rid = ("self-path", key, role)
                records[rid] = suspect[rid] = frozenset((who,))
        if len(roles.get("src", ())) == 1 and len(roles.get("dst", ())) == 1:
            rid = ("path", key)
            records[rid] = frozenset((source, destination, *relays))
            if roles["src"] != roles["dst"]:
                suspect[rid] = records[rid]
    for key, reports in links.items():
        u, v, _ = key
        for signer, values in reports.items():
            if len(values) > 1:
                rid = ("self-link", key, signer)
                records[rid] = suspect[rid] = frozenset((signer,))
        if len(reports.get(u, ())) == 1 and len(reports.get(v, ())) == 1:
            rid = ("link", key)
            records[rid] = frozenset((u, v))
            if reports[u] != reports[v]:
                suspect[rid] = records[rid]

    ids = tuple(suspect)
    rows = np.zeros((len(ids), n), dtype=bool)
    for row, rid in enumerate(ids):
        rows[row, list(suspect[rid])] = True
    return Evidence(n, tuple(records.items()), rows, ids)


def attribute_faults(
    suspects: ArrayLike, f: int, *, max_subsets: int = MAX_SUBSETS
) -> NDArray[np.bool_]:
    """Nodes that every explanation of the evidence by at most ``f`` faulty nodes contains.

    Parameters
    ----------
    suspects : array_like of bool, shape (S, N)
        Suspect sets (rows), each containing at least one Byzantine node.
    f : int
        Bound on the number of Byzantine nodes.
    max_subsets : int
        Enumeration budget; above it only singleton suspect sets are attributed.

    Returns
    -------
    ndarray of bool, shape (N,)
        ``forced[i]``: every hitting set of size at most ``f`` contains ``i``.

    Notes
    -----
    Soundness: the true Byzantine set ``B`` (``|B| <= f``) hits every suspect set, so it is
    one of the hitting sets; a forced node belongs to it. An honest node is never forced,
    whatever else the adversary commits. If no hitting set of size at most ``f`` exists, the
    fault assumption is broken and nothing is attributed. This generalises "the only common
    relay of the failed paths": with ``f = 1``, two failed paths whose suspect sets share
    only ``r`` force ``r``.

    Examples
    --------
    >>> s = [[1, 1, 0, 0], [0, 1, 1, 0]]  # two suspect sets sharing only node 1
    >>> attribute_faults(s, f=1).tolist()
    [False, True, False, False]
    >>> attribute_faults(s, f=2).tolist()  # {0, 2} also explains both
    [False, False, False, False]
    """
    sus = np.asarray(suspects, dtype=bool)
    if sus.ndim != 2:
        raise InvalidParameterError(
            "The 'suspects' parameter of attribute_faults must be a 2-D boolean array of shape "
            f"(S, N). Got shape {sus.shape} instead."
        )
    n = sus.shape[1]
    forced = np.zeros(n, dtype=bool)
    if n == 0:
        return forced
    f = _check_f(f, max(n, 1), "attribute_faults")
    sus = np.unique(sus[sus.any(axis=1)], axis=0)
    if sus.shape[0] == 0 or f == 0:
        return forced
    universe = np.flatnonzero(sus.any(axis=0))
    u = universe.size
    n_subsets = sum(math.comb(u, k) for k in range(1, min(f, u) + 1))
    if n_subsets > max_subsets:
        singles = sus.sum(axis=1) == 1
        forced[np.flatnonzero(sus[singles].any(axis=0))] = True
        return forced
    local = sus[:, universe].astype(np.int32)  # (S, U)
    found = False
    acc = np.ones(u, dtype=bool)
    for k in range(1, min(f, u) + 1):
        combos = np.fromiter(
            itertools.chain.from_iterable(itertools.combinations(range(u), k)),
            dtype=np.int64,
        ).reshape(-1, k)
        for start in range(0, combos.shape[0], 8192):
            chunk = combos[start : start + 8192]
            member = np.zeros((chunk.shape[0], u), dtype=np.int32)
            np.put_along_axis(member, chunk, 1, axis=1)
            hits = (member @ local.T > 0).all(axis=1)
            if hits.any():
                found = True
                acc &= (member[hits] > 0).all(axis=0)
    if found:
        forced[universe[acc]] = True
    return forced


def error_rate(evidence: Evidence, forced: ArrayLike) -> NDArray[np.float64]:
    """Evidence-based error rate in [0, 1] per node.

    1 for a node proven Byzantine on its own (a suspect set of one); for another forced node,
    the fraction of its verified records that are suspect sets containing it; 0 for every
    node not forced.

    Examples
    --------
    >>> recs = ((("link", 1), frozenset({1, 2})),) + tuple(
    ...     (("link", k), frozenset({1, 0})) for k in range(2, 5))
    >>> ev = Evidence(3, recs, np.array([[False, True, True]]), (("link", 1),))
    >>> error_rate(ev, np.array([False, True, False])).tolist()
    [0.0, 0.25, 0.0]
    """
    forced_arr = np.asarray(forced, dtype=bool)
    counts = evidence.suspects.sum(axis=0).astype(np.float64)
    rate = np.where(
        forced_arr, np.minimum(1.0, counts / np.maximum(evidence.participation, 1)), 0.0
    )
    return np.where(evidence.equivocators, 1.0, rate)


def clamp_weights(
    previous: ArrayLike, proposed: ArrayLike, f: int
) -> tuple[NDArray[np.int64], bool]:
    """Adopt ``proposed`` if admissible, else the admissible step closest to it.

    Candidates are ``previous - floor(k (previous - proposed) / 1024)`` for
    ``k = 0 .. 1024``; the largest ``k`` with ``W >= 3 F_w + 1`` wins. ``k = 0`` is the
    previous vector, which must be admissible. Every coordinate of the result lies between its
    previous and proposed values.

    Parameters
    ----------
    previous, proposed : array_like of int, shape (N,)
        Current (admissible) and proposed weights.
    f : int
        Nodes tolerated.

    Returns
    -------
    weights : ndarray of int64, shape (N,)
        The adopted vector.
    clamped : bool
        Whether it differs from ``proposed``.

    Examples
    --------
    >>> w, clamped = clamp_weights([3, 3, 3, 3], [3, 1, 1, 1], f=1)
    >>> clamped, w.tolist(), bool(is_admissible(w, 1))
    (True, [3, 3, 3, 3], True)
    >>> w, clamped = clamp_weights([100, 100, 100, 100], [100, 100, 100, 0], f=1)
    >>> clamped, w.tolist()
    (True, [100, 100, 100, 1])
    """
    prev = _as_weights(previous, "clamp_weights", "previous")
    prop = _as_weights(proposed, "clamp_weights", "proposed")
    if prev.ndim != 1 or prop.shape != prev.shape:
        raise InvalidParameterError(
            "The 'proposed' parameter of clamp_weights must have the shape of 'previous' "
            f"{prev.shape}. Got {prop.shape} instead."
        )
    f = _check_f(f, prev.size, "clamp_weights")
    if not is_admissible(prev, f):
        raise InvalidParameterError(
            "The 'previous' parameter of clamp_weights must satisfy W >= 3 F_w + 1. "
            f"Got {prev.tolist()} with f={f} instead."
        )
    if is_admissible(prop, f):
        return prop.copy(), False
    k = np.arange(CLAMP_STEPS + 1, dtype=np.int64)[:, None]
    candidates = prev[None, :] - ((prev - prop)[None, :] * k) // CLAMP_STEPS
    ok = is_admissible(candidates, f)
    best = int(np.flatnonzero(ok).max())
    return candidates[best].copy(), True


@dataclass(frozen=True, slots=True)
class WeightUpdate:
    """Result of :func:`update_weights`.

    Attributes
    ----------
    weights : ndarray of int64, shape (N,)
        Adopted vector (admissible).
    proposed : ndarray of int64, shape (N,)
        ``floor(w (1 - alpha e))`` before clamping.
    error_rate : ndarray of float64, shape (N,)
        Evidence-based error rate ``e``.
    forced : ndarray of bool, shape (N,)
        Nodes the evidence attributes faults to.
    clamped : bool
        Whether the proposal was clamped.
    """

    weights: NDArray[np.int64]
    proposed: NDArray[np.int64]
    error_rate: NDArray[np.float64]
    forced: NDArray[np.bool_]
    clamped: bool


def update_weights(
    weights: ArrayLike,
    operations: Sequence[Operation | None],
    *,
    f: int,
    alpha: float,
    keys: Keyring,
    history: Sequence[Operation | None] = (),
) -> WeightUpdate:
    """One weight epoch: the publication's rule on the evidence-based error rate, clamped.

    ``proposed = floor(w (1 - alpha e))``, then :func:`clamp_weights`. The error rate ``e``
    (:func:`error_rate`) counts only records completed by ``operations`` (the epoch's
    commits), so old evidence is not charged twice; which nodes are forced
    (:func:`attribute_faults`) is decided on the evidence of ``history`` and ``operations``
    together, so the halves of a record may sit in different epochs. Pure and deterministic:
    honest replicas with the same committed log get identical vectors.

    Parameters
    ----------
    weights : array_like of int, shape (N,)
        Current admissible weights (in weight units).
    operations : sequence of Operation or None
        Operations committed in the epoch, in log order.
    f : int
        Nodes tolerated.
    alpha : float
        Decay rate in [0, 1] (0 freezes the weights).
    keys : Keyring
        Public keys for the evidence signatures.
    history : sequence of Operation or None
        Operations committed before the epoch.

    Returns
    -------
    WeightUpdate
        The adopted vector and how it was reached.
    """
    w = _as_weights(weights, "update_weights")
    if w.ndim != 1:
        raise InvalidParameterError(
            f"The 'weights' parameter of update_weights must have shape (N,). Got {w.shape}."
        )
    f = _check_f(f, w.size, "update_weights")
    a = float(check_range("alpha", alpha, owner="update_weights", low=0.0, high=1.0))
    full = collect_evidence([*history, *operations], w.size, keys)
    forced = attribute_faults(full.suspects, f)
    if history:
        old = {rid for rid, _ in collect_evidence(history, w.size, keys).records}
        fresh = full.restrict(rid for rid, _ in full.records if rid not in old)
    else:
        fresh = full
    e = error_rate(fresh, forced)
    proposed = np.floor(w * (1.0 - a * e)).astype(np.int64)
    adopted, clamped = clamp_weights(w, proposed, f)
    return WeightUpdate(adopted, proposed, e, forced, clamped)


def weight_schedule(
    initial: ArrayLike,
    log: Sequence[Operation | None],
    *,
    checkpoint_interval: int,
    f: int,
    alpha: float,
    keys: Keyring,
    adaptive: bool = True,
) -> list[NDArray[np.int64]]:
    """Weight vector of every epoch determined by a committed log.

    Epoch ``e`` covers sequence numbers ``(eK, (e+1)K]``. ``w_0 = w_1 = initial`` and, for
    each complete epoch ``m - 1`` of the log, ``w_{m+1} = update(w_m, ops of epoch m-1)``
    (computed at checkpoint ``mK``).

    Parameters
    ----------
    initial : array_like of int, shape (N,)
        Admissible initial weights.
    log : sequence of Operation or None
        Effective committed operations by sequence number (index ``s - 1``; ``None`` for null
        requests and re-executions of a request).
    checkpoint_interval : int
        K, at least 1.
    f, alpha, keys
        As in :func:`update_weights`.
    adaptive : bool
        If False every epoch keeps ``initial``.

    Returns
    -------
    list of ndarray of int64, shape (N,)
        ``2 + len(log) // K`` vectors, indexed by epoch.
    """
    w0 = _as_weights(initial, "weight_schedule", "initial")
    k = int(checkpoint_interval)
    if k < 1:
        raise InvalidParameterError(
            "The 'checkpoint_interval' parameter of weight_schedule must be an int in the "
            f"range [1, inf). Got {checkpoint_interval!r} instead."
        )
    out = [w0.copy(), w0.copy()]
    for m in range(1, len(log) // k + 1):
        if adaptive:
            ops, before = log[(m - 1) * k : m * k], log[: (m - 1) * k]
            up = update_weights(out[m], ops, f=f, alpha=alpha, keys=keys, history=before)
            out.append(up.weights)
        else:
            out.append(out[m].copy())
    return out
