"""Messages, replicated operations and keys of the weighted PBFT protocol.

Messages follow SeQUeNCe's ``sequence/message.py``: small slotted objects with an Enum type
(:class:`MsgType`) and a ``receiver`` (the name of the protocol that handles them on the
destination node). Each class docstring names its PBFT phase [1]_ and the weighted quorum it
needs (see :class:`~qnetrl.consensus.weights.WeightedQuorum`: ``Q`` is the quorum threshold,
``F_w`` the weight of the ``f`` heaviest nodes). Every message has a canonical wire encoding
(compact JSON, cached) that the sender authenticates per destination with HMAC-SHA256 over a
pairwise key; protocol messages that may end up in a certificate or in equivocation evidence
(pre-prepare, prepare, commit, checkpoint, view-change, new-view) also carry an Ed25519
signature. HMAC alone would not do for those: a pairwise MAC convinces only its receiver, who
holds the same key and could have computed it, so a MAC'd message proves nothing to a third
party and two MAC'd conflicting messages are no equivocation evidence. Signatures are
transferable; ``benchmarks/consensus_throughput.py`` measures what they cost.
:class:`Keyring` derives all keys deterministically from a seed (simulation only).
:class:`Operation` is what the replicas agree on: relay orders, share-verification results
and link reports (each a :class:`Statement` signed by the node that makes it), equivocation
evidence and bare accusations. Weight epochs are not operations: the vector adopted at a
checkpoint travels in the checkpoint messages and so is certified by the stable checkpoint
certificate.

References
----------
.. [1] M. Castro and B. Liskov, "Practical Byzantine Fault Tolerance", Proc. 3rd USENIX Symp.
   on Operating Systems Design and Implementation (OSDI '99), pp. 173-186, 1999.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from qnetrl._validation import InvalidParameterError

__all__ = [
    "NULL_DIGEST",
    "Checkpoint",
    "Commit",
    "FetchReply",
    "Identity",
    "Keyring",
    "Message",
    "MsgType",
    "NewView",
    "OpKind",
    "Operation",
    "PrePrepare",
    "Prepare",
    "PreparedCertificate",
    "Reply",
    "Request",
    "SignedMessage",
    "Statement",
    "Status",
    "ViewChange",
    "canonical",
    "conflict_key",
    "digest",
    "link_statement",
    "path_statement",
]

#: Digest of the null request that a new primary proposes for a sequence-number gap.
NULL_DIGEST: Final[bytes] = bytes(32)


def canonical(obj: Any) -> bytes:
    """Canonical bytes of plain data (ints, strs, bools, lists, tuples): compact JSON."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode()


def digest(data: bytes) -> bytes:
    """SHA-256 digest (32 bytes)."""
    return hashlib.sha256(data).digest()


def _freeze(obj: Any) -> Any:
    """Lists to tuples, recursively (JSON round trips give lists; operations need tuples)."""
    if isinstance(obj, list | tuple):
        return tuple(_freeze(x) for x in obj)
    if isinstance(obj, bool | int | str) or obj is None:
        return obj
    raise InvalidParameterError(
        f"The 'data' parameter of Operation must hold only ints, strs, bools and tuples. "
        f"Got {obj!r} instead."
    )


# ---------------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------------


class Keyring:
    """Deterministic simulation keys of ``n_principals`` principals (replicas, then clients).

    Principal ``i`` has an Ed25519 key pair and shares with every ``j`` an HMAC-SHA256 key
    per direction; all are derived with HKDF-SHA256 from ``seed``, so a run is reproducible.
    This is a simulation convenience, not key management: anyone holding the seed holds every
    key. Protocol code only touches its own secrets through :meth:`identity`.

    Parameters
    ----------
    n_principals : int
        Number of principals (at least 1).
    seed : int
        Seed of the key derivation (any non-negative int below 2**128).

    Attributes
    ----------
    n_principals : int
        Number of principals.
    """

    def __init__(self, n_principals: int, seed: int = 0) -> None:
        if not isinstance(n_principals, int) or n_principals < 1:
            raise InvalidParameterError(
                "The 'n_principals' parameter of Keyring must be an int in the range "
                f"[1, inf). Got {n_principals!r} instead."
            )
        if not isinstance(seed, int) or not 0 <= seed < 2**128:
            raise InvalidParameterError(
                "The 'seed' parameter of Keyring must be an int in the range [0, 2**128). "
                f"Got {seed!r} instead."
            )
        self.n_principals = n_principals
        self._master = digest(b"qnetrl-consensus-keyring|" + seed.to_bytes(16, "big"))
        self._signing: dict[int, Ed25519PrivateKey] = {}
        self._public: dict[int, Ed25519PublicKey] = {}
        self._mac_keys: dict[tuple[int, int], bytes] = {}

    def _derive(self, info: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(self._master)

    def _check(self, principal: int, name: str = "principal") -> int:
        if not isinstance(principal, int) or not 0 <= principal < self.n_principals:
            raise InvalidParameterError(
                f"The {name!r} parameter of Keyring must be an int in the range "
                f"[0, {self.n_principals - 1}]. Got {principal!r} instead."
            )
        return principal

    def _signing_key(self, principal: int) -> Ed25519PrivateKey:
        key = self._signing.get(principal)
        if key is None:
            self._check(principal)
            key = Ed25519PrivateKey.from_private_bytes(
                self._derive(b"ed25519|" + str(principal).encode())
            )
            self._signing[principal] = key
        return key

    def public_key(self, principal: int) -> Ed25519PublicKey:
        """Ed25519 public key of ``principal``."""
        key = self._public.get(principal)
        if key is None:
            key = self._signing_key(principal).public_key()
            self._public[principal] = key
        return key

    def _mac_key(self, src: int, dst: int) -> bytes:
        key = self._mac_keys.get((src, dst))
        if key is None:
            self._check(src, "src")
            self._check(dst, "dst")
            key = self._derive(f"hmac|{src}|{dst}".encode())
            self._mac_keys[(src, dst)] = key
        return key

    def identity(self, principal: int) -> Identity:
        """The secrets of one principal: its signing key and its MAC keys."""
        return Identity(self._check(principal), self)

    def verify(self, signer: int, data: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is ``signer``'s valid Ed25519 signature of ``data``."""
        if not isinstance(signer, int) or not 0 <= signer < self.n_principals:
            return False
        if not isinstance(signature, bytes) or len(signature) != 64:
            return False
        try:
            self.public_key(signer).verify(signature, data)
        except InvalidSignature:
            return False
        return True


class Identity:
    """One principal's view of the :class:`Keyring`: sign, MAC to a peer, check a peer's MAC.

    Attributes
    ----------
    principal : int
        The principal's id.
    """

    __slots__ = ("_keyring", "principal")

    def __init__(self, principal: int, keyring: Keyring) -> None:
        self.principal = principal
        self._keyring = keyring

    def sign(self, data: bytes) -> bytes:
        """Ed25519 signature (64 bytes) of ``data``."""
        return self._keyring._signing_key(self.principal).sign(data)

    def mac(self, dst: int, data: bytes) -> bytes:
        """HMAC-SHA256 tag of ``data`` for the channel from this principal to ``dst``."""
        h = hmac.HMAC(self._keyring._mac_key(self.principal, dst), hashes.SHA256())
        h.update(data)
        return h.finalize()

    def check_mac(self, src: int, data: bytes, tag: bytes) -> bool:
        """Whether ``tag`` authenticates ``data`` on the channel from ``src`` to this principal."""
        if not isinstance(src, int) or not 0 <= src < self._keyring.n_principals:
            return False
        h = hmac.HMAC(self._keyring._mac_key(src, self.principal), hashes.SHA256())
        h.update(data)
        try:
            h.verify(tag)
        except InvalidSignature:
            return False
        return True


# ---------------------------------------------------------------------------------------------
# Operations and signed statements
# ---------------------------------------------------------------------------------------------


class OpKind(IntEnum):
    """Kinds of replicated operation.

    Attributes
    ----------
    RELAY_ORDER : 1
        Order to relay key material along a path; ``data`` is free-form plain data.
    SHARE_VERIFICATION : 2
        One endpoint's signed statement about one share path of a multi-path delivery
        (see :func:`path_statement`).
    LINK_REPORT : 3
        One link endpoint's signed QBER report (see :func:`link_statement`).
    EVIDENCE : 4
        Equivocation evidence: two signed protocol messages that conflict
        (see :meth:`Operation.equivocation`).
    ACCUSATION : 5
        A bare claim that a node misbehaved. Recorded, never acted upon.
    """

    RELAY_ORDER = 1
    SHARE_VERIFICATION = 2
    LINK_REPORT = 3
    EVIDENCE = 4
    ACCUSATION = 5


@dataclass(frozen=True, slots=True)
class Statement:
    """A claim ``body`` (plain data) signed with Ed25519 by node ``signer``.

    Attributes
    ----------
    signer : int
        Principal that signed the statement.
    body : tuple
        The claim, plain data (see :func:`path_statement`, :func:`link_statement`).
    signature : bytes
        Ed25519 signature of ``canonical([signer, body])``.
    """

    signer: int
    body: tuple[Any, ...]
    signature: bytes

    @staticmethod
    def signed_bytes_of(signer: int, body: tuple[Any, ...]) -> bytes:
        """The bytes a statement's signature covers."""
        return canonical([signer, body])

    @classmethod
    def make(cls, identity: Identity, body: Sequence[Any]) -> Statement:
        """Sign ``body`` as ``identity``."""
        frozen = _freeze(list(body))
        sig = identity.sign(cls.signed_bytes_of(identity.principal, frozen))
        return cls(identity.principal, frozen, sig)

    def verify(self, keys: Keyring) -> bool:
        """Whether the signature is valid."""
        return keys.verify(
            self.signer, self.signed_bytes_of(self.signer, self.body), self.signature
        )

    def plain(self) -> tuple[Any, ...]:
        """Plain-data form (as stored in an :class:`Operation`)."""
        return (self.signer, self.body, self.signature.hex())

    @classmethod
    def from_plain(cls, data: Any) -> Statement | None:
        """Parse :meth:`plain` output; ``None`` if malformed."""
        try:
            signer, body, sig = data
            if not (isinstance(signer, int) and isinstance(body, tuple) and isinstance(sig, str)):
                return None
            return cls(signer, body, bytes.fromhex(sig))
        except (TypeError, ValueError):
            return None


def path_statement(
    identity: Identity,
    *,
    delivery: int,
    path_index: int,
    source: int,
    destination: int,
    relays: Sequence[int],
    role: str,
    share_digest: bytes,
) -> Statement:
    """An endpoint's signed statement about one share path of a multi-path delivery.

    The source signs the digest of the share it sent (``role="src"``), the destination the
    digest of the share it received (``role="dst"``). Two valid statements that agree on
    delivery, path, endpoints and relays but differ in digest show that some member of
    ``{source, destination} ∪ relays`` misbehaved (honest relays forward shares intact and
    honest endpoints sign the true digest).

    Parameters
    ----------
    identity : Identity
        The signing endpoint (must be ``source`` for ``"src"``, ``destination`` for ``"dst"``).
    delivery, path_index : int
        Which delivery and which of its paths.
    source, destination : int
        Endpoint node ids.
    relays : sequence of int
        Relay node ids of the path, in order.
    role : {"src", "dst"}
        Which endpoint signs.
    share_digest : bytes
        Digest of the share sent (src) or received (dst).
    """
    if role not in ("src", "dst"):
        raise InvalidParameterError(
            f"The 'role' parameter of path_statement must be one of {{'src', 'dst'}}. "
            f"Got {role!r} instead."
        )
    body = (
        "path",
        int(delivery),
        int(path_index),
        int(source),
        int(destination),
        tuple(int(r) for r in relays),
        role,
        share_digest.hex(),
    )
    return Statement.make(identity, body)


def link_statement(identity: Identity, *, u: int, v: int, round_: int, qber_ppm: int) -> Statement:
    """A link endpoint's signed report of the QBER of link ``(u, v)`` in a key-exchange round.

    Both endpoints of a QKD link learn the same estimated QBER from the publicly compared
    sample, so two honest reports of one ``(u, v, round_)`` are equal; a mismatch shows that
    ``u`` or ``v`` lied, and two different reports signed by one endpoint show that it did.

    Parameters
    ----------
    identity : Identity
        The reporting endpoint (``u`` or ``v``).
    u, v : int
        Link endpoints (stored sorted).
    round_ : int
        Key-exchange round.
    qber_ppm : int
        Estimated QBER in parts per million (integer, so reports compare exactly).
    """
    a, b = sorted((int(u), int(v)))
    return Statement.make(identity, ("link", a, b, int(round_), int(qber_ppm)))


@dataclass(frozen=True, slots=True)
class Operation:
    """A replicated operation: a kind and plain data (ints, strs, bools, nested tuples).

    Attributes
    ----------
    kind : OpKind
        What the operation is.
    data : tuple
        Its content; see the constructors.
    """

    kind: OpKind
    data: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.kind, OpKind):
            raise InvalidParameterError(
                f"The 'kind' parameter of Operation must be an OpKind. Got {self.kind!r} instead."
            )
        object.__setattr__(self, "data", _freeze(list(self.data)))

    def plain(self) -> list[Any]:
        """Plain-data form used in the wire encoding."""
        return [int(self.kind), self.data]

    @classmethod
    def relay_order(cls, path: Sequence[int], key_bits: int, tag: int = 0) -> Operation:
        """Order to relay ``key_bits`` bits of key along ``path`` (node ids)."""
        return cls(OpKind.RELAY_ORDER, (tuple(int(p) for p in path), int(key_bits), int(tag)))

    @classmethod
    def share_verification(cls, statement: Statement) -> Operation:
        """Record one endpoint's :func:`path_statement`."""
        return cls(OpKind.SHARE_VERIFICATION, statement.plain())

    @classmethod
    def link_report(cls, statement: Statement) -> Operation:
        """Record one endpoint's :func:`link_statement`."""
        return cls(OpKind.LINK_REPORT, statement.plain())

    @classmethod
    def equivocation(cls, first: SignedMessage, second: SignedMessage) -> Operation:
        """Evidence that ``first.sender`` signed two conflicting messages.

        See :func:`conflict_key` for what conflicts.
        """
        return cls(
            OpKind.EVIDENCE,
            (
                "equivocation",
                first.sender,
                first.signed_bytes().decode(),
                first.signature.hex(),
                second.signed_bytes().decode(),
                second.signature.hex(),
            ),
        )

    @classmethod
    def accusation(cls, accuser: int, target: int, reason: str = "") -> Operation:
        """A bare accusation (no evidence): kept in the log for audit, never acted upon."""
        return cls(OpKind.ACCUSATION, (int(accuser), int(target), str(reason)))


# ---------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------


class MsgType(Enum):
    """Types of protocol message."""

    REQUEST = "request"
    PRE_PREPARE = "pre-prepare"
    PREPARE = "prepare"
    COMMIT = "commit"
    REPLY = "reply"
    CHECKPOINT = "checkpoint"
    VIEW_CHANGE = "view-change"
    NEW_VIEW = "new-view"
    STATUS = "status"
    FETCH_REPLY = "fetch-reply"


class Message(ABC):
    """Abstract message (SeQUeNCe style): an Enum type, a receiver, cached wire bytes.

    Attributes
    ----------
    msg_type : MsgType
        The message type.
    receiver : str
        Name of the protocol that handles the message at the destination.
    """

    __slots__ = ("_wire", "msg_type", "receiver")

    def __init__(self, msg_type: MsgType, receiver: str) -> None:
        self.msg_type = msg_type
        self.receiver = receiver
        self._wire: bytes | None = None

    @abstractmethod
    def plain(self) -> list[Any]:
        """Everything the message carries, as plain data."""

    def wire(self) -> bytes:
        """Canonical bytes on the wire (what the channel MAC covers); cached."""
        if self._wire is None:
            self._wire = canonical([self.msg_type.value, self.receiver, self.plain()])
        return self._wire

    def corrupted(self, position: int) -> Message:
        """A copy whose wire bytes have one byte flipped (a bus fault; its MAC then fails)."""
        other = self.__class__.__new__(self.__class__)
        for cls in type(self).__mro__:
            for name in getattr(cls, "__slots__", ()):
                if hasattr(self, name):
                    object.__setattr__(other, name, getattr(self, name))
        raw = bytearray(self.wire())
        raw[position % len(raw)] ^= 0x01
        other._wire = bytes(raw)
        return other

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.plain()!r})"


class SignedMessage(Message):
    """A message whose content is signed with Ed25519 by ``sender`` (transferable proof).

    Subclasses list their signed content in :meth:`body`; :meth:`signed_bytes` is
    ``canonical([type, *body])``. ``signature`` is empty until :meth:`sign` is called.

    Attributes
    ----------
    sender : int
        Replica that signed the message.
    signature : bytes
        Ed25519 signature of :meth:`signed_bytes`.
    """

    __slots__ = ("_signed", "sender", "signature")

    def __init__(self, msg_type: MsgType, sender: int, signature: bytes = b"") -> None:
        super().__init__(msg_type, "pbft")
        self.sender = sender
        self.signature = signature
        self._signed: bytes | None = None

    @abstractmethod
    def body(self) -> list[Any]:
        """The signed content (plain data)."""

    def signed_bytes(self) -> bytes:
        """Bytes the signature covers; cached."""
        if self._signed is None:
            self._signed = canonical([self.msg_type.value, *self.body()])
        return self._signed

    def sign(self, identity: Identity) -> SignedMessage:
        """Sign as ``identity`` (must be ``sender``); returns ``self``."""
        if identity.principal != self.sender:
            raise InvalidParameterError(
                f"The 'identity' parameter of {type(self).__name__}.sign must belong to the "
                f"sender {self.sender}. Got principal {identity.principal} instead."
            )
        self.signature = identity.sign(self.signed_bytes())
        self._wire = None
        return self

    def verify(self, keys: Keyring) -> bool:
        """Whether ``signature`` is the sender's valid signature of the content."""
        return keys.verify(self.sender, self.signed_bytes(), self.signature)

    def plain(self) -> list[Any]:
        return [*self.body(), self.signature.hex()]


class Request(SignedMessage):
    """Client request (PBFT phase: request), signed by the submitting principal.

    Any principal may submit: clients, and replicas reporting evidence. The primary orders it;
    backups learn it from the client's multicast or from the pre-prepare. No quorum: the
    submitter's signature is its authority, and it lets backups check that a pre-prepare
    orders a request someone really made (validity).

    Attributes
    ----------
    submitter : int
        Principal that made the request (also ``sender``).
    timestamp : int
        Submitter-local number; ``(submitter, timestamp)`` identifies the request.
    operation : Operation
        What to replicate.
    """

    __slots__ = ("_digest", "operation", "submitter", "timestamp")

    def __init__(
        self, submitter: int, timestamp: int, operation: Operation, signature: bytes = b""
    ) -> None:
        super().__init__(MsgType.REQUEST, submitter, signature)
        self.submitter = submitter
        self.timestamp = timestamp
        self.operation = operation
        self._digest: bytes | None = None

    def body(self) -> list[Any]:
        return [self.submitter, self.timestamp, self.operation.plain()]

    @property
    def rid(self) -> tuple[int, int]:
        """Request id ``(submitter, timestamp)``."""
        return (self.submitter, self.timestamp)

    @property
    def digest(self) -> bytes:
        """SHA-256 of the signed content; the value replicas agree on."""
        if self._digest is None:
            self._digest = digest(self.signed_bytes())
        return self._digest


class PrePrepare(SignedMessage):
    """Pre-prepare (PBFT phase: pre-prepare): the primary of ``view`` binds ``seq`` to a request.

    Sent by the primary only; no quorum. A backup accepts at most one pre-prepare per
    ``(view, seq)``; two validly signed ones with different digests are equivocation
    evidence. ``request`` rides along unsigned: backups check that its digest is ``digest``
    and that its submitter signed it. ``request is None`` with :data:`NULL_DIGEST` is the null
    request of a new view.

    Attributes
    ----------
    view, seq : int
        View and sequence number.
    digest : bytes
        Digest of the ordered request.
    request : Request or None
        The request (piggybacked, outside the signature).
    """

    __slots__ = ("digest", "request", "seq", "view")

    def __init__(
        self,
        view: int,
        seq: int,
        digest: bytes,
        request: Request | None,
        sender: int,
        signature: bytes = b"",
    ) -> None:
        super().__init__(MsgType.PRE_PREPARE, sender, signature)
        self.view = view
        self.seq = seq
        self.digest = digest
        self.request = request

    def body(self) -> list[Any]:
        return [self.view, self.seq, self.digest.hex(), self.sender]

    def plain(self) -> list[Any]:
        req = None if self.request is None else self.request.plain()
        return [*self.body(), req, self.signature.hex()]


class Prepare(SignedMessage):
    """Prepare (PBFT phase: prepare): a backup echoes the pre-prepare it accepted.

    Quorum: a replica is *prepared* for ``(view, seq, digest)`` when it holds the matching
    pre-prepare and matching prepares such that {primary} ∪ {prepare senders} weighs at least
    ``Q`` (weights of the epoch of ``seq``). The prepare carries the primary's pre-prepare
    signature (``pp_signature``), so a replica that accepted a different pre-prepare for the
    same ``(view, seq)`` can prove that the primary equivocated.

    Attributes
    ----------
    view, seq : int
        View and sequence number.
    digest : bytes
        Digest of the request.
    pp_signature : bytes
        The primary's signature of the pre-prepare being echoed.
    """

    __slots__ = ("digest", "pp_signature", "seq", "view")

    def __init__(
        self,
        view: int,
        seq: int,
        digest: bytes,
        sender: int,
        pp_signature: bytes,
        signature: bytes = b"",
    ) -> None:
        super().__init__(MsgType.PREPARE, sender, signature)
        self.view = view
        self.seq = seq
        self.digest = digest
        self.pp_signature = pp_signature

    def body(self) -> list[Any]:
        return [self.view, self.seq, self.digest.hex(), self.sender]

    def plain(self) -> list[Any]:
        return [*self.body(), self.pp_signature.hex(), self.signature.hex()]


class Commit(SignedMessage):
    """Commit (PBFT phase: commit): sent by a replica once prepared.

    Quorum: *committed-local* when prepared and matching commits weigh at least ``Q``
    (weights of the epoch of ``seq``). Receivers rely on the channel MAC for commits (they
    never enter certificates); the signature is checked only if the commit becomes
    equivocation evidence.

    Attributes
    ----------
    view, seq : int
        View and sequence number.
    digest : bytes
        Digest of the request.
    """

    __slots__ = ("digest", "seq", "view")

    def __init__(
        self, view: int, seq: int, digest: bytes, sender: int, signature: bytes = b""
    ) -> None:
        super().__init__(MsgType.COMMIT, sender, signature)
        self.view = view
        self.seq = seq
        self.digest = digest

    def body(self) -> list[Any]:
        return [self.view, self.seq, self.digest.hex(), self.sender]


class Checkpoint(SignedMessage):
    """Checkpoint (PBFT phase: checkpoint) after executing ``seq``, a multiple of K.

    Quorum: the checkpoint is *stable* when matching checkpoints (same state digest and same
    weight vector) weigh at least ``Q`` under the weights of the epoch that ends at ``seq``;
    those messages are the stable checkpoint certificate. ``weights`` is the vector adopted
    at this checkpoint (it applies from the epoch after next), so every weight epoch is
    certified by a quorum.

    Attributes
    ----------
    seq : int
        Checkpointed sequence number.
    state_digest : bytes
        Hash chain of the committed log up to ``seq``.
    weights : tuple of int
        Weight vector adopted at this checkpoint.
    """

    __slots__ = ("seq", "state_digest", "weights")

    def __init__(
        self,
        seq: int,
        state_digest: bytes,
        weights: tuple[int, ...],
        sender: int,
        signature: bytes = b"",
    ) -> None:
        super().__init__(MsgType.CHECKPOINT, sender, signature)
        self.seq = seq
        self.state_digest = state_digest
        self.weights = tuple(int(w) for w in weights)

    def body(self) -> list[Any]:
        return [self.seq, self.state_digest.hex(), list(self.weights), self.sender]


@dataclass(frozen=True, slots=True)
class PreparedCertificate:
    """Proof that ``(view, seq, digest)`` prepared: the pre-prepare and the prepares.

    Valid when every signature checks, the prepares match the pre-prepare and come from
    distinct backups, and {primary} ∪ {prepare senders} weighs at least ``Q`` (weights of the
    epoch of ``seq``).

    Attributes
    ----------
    pre_prepare : PrePrepare
        The primary's signed pre-prepare (with the request).
    prepares : tuple of Prepare
        Matching signed prepares.
    """

    pre_prepare: PrePrepare
    prepares: tuple[Prepare, ...]

    def plain(self) -> list[Any]:
        """Plain-data form."""
        return [self.pre_prepare.plain(), [p.plain() for p in self.prepares]]


class ViewChange(SignedMessage):
    """View-change (PBFT phase: view change) to ``new_view``.

    Carries the sender's last stable checkpoint ``stable_seq`` with its certificate and a
    prepared certificate (highest view) for every sequence number above it. Quorums: the new
    primary needs view-changes weighing at least ``Q`` under the weights of both epochs that
    can hold undecided sequence numbers (see :mod:`~qnetrl.consensus.pbft`); a replica joins
    a higher view once view-changes for higher views weigh more than ``F_w``.

    Attributes
    ----------
    new_view : int
        The view being moved to.
    stable_seq : int
        Sender's last stable checkpoint.
    checkpoint_proof : tuple of Checkpoint
        Stable checkpoint certificate for ``stable_seq`` (empty for 0).
    prepared : tuple of PreparedCertificate
        Prepared certificates above ``stable_seq``.
    """

    __slots__ = ("checkpoint_proof", "new_view", "prepared", "stable_seq")

    def __init__(
        self,
        new_view: int,
        stable_seq: int,
        checkpoint_proof: tuple[Checkpoint, ...],
        prepared: tuple[PreparedCertificate, ...],
        sender: int,
        signature: bytes = b"",
    ) -> None:
        super().__init__(MsgType.VIEW_CHANGE, sender, signature)
        self.new_view = new_view
        self.stable_seq = stable_seq
        self.checkpoint_proof = checkpoint_proof
        self.prepared = prepared

    def body(self) -> list[Any]:
        return [
            self.new_view,
            self.stable_seq,
            [c.plain() for c in self.checkpoint_proof],
            [p.plain() for p in self.prepared],
            self.sender,
        ]


class NewView(SignedMessage):
    """New-view (PBFT phase: new view), sent by the primary of ``view``.

    Carries the view-changes it used (weighing at least ``Q`` under both relevant epochs'
    weights) and the pre-prepares it derived from them: for every sequence number above the
    highest stable checkpoint in the set, the request of the highest-view prepared
    certificate, else the null request. Backups recompute those pre-prepares and reject the
    message if they differ.

    Attributes
    ----------
    view : int
        The new view.
    view_changes : tuple of ViewChange
        The view-change quorum.
    pre_prepares : tuple of PrePrepare
        Pre-prepares of the new view for the carried-over sequence numbers.
    """

    __slots__ = ("pre_prepares", "view", "view_changes")

    def __init__(
        self,
        view: int,
        view_changes: tuple[ViewChange, ...],
        pre_prepares: tuple[PrePrepare, ...],
        sender: int,
        signature: bytes = b"",
    ) -> None:
        super().__init__(MsgType.NEW_VIEW, sender, signature)
        self.view = view
        self.view_changes = view_changes
        self.pre_prepares = pre_prepares

    def body(self) -> list[Any]:
        return [
            self.view,
            [v.plain() for v in self.view_changes],
            [p.plain() for p in self.pre_prepares],
            self.sender,
        ]


class Reply(Message):
    """Reply (PBFT phase: reply) from a replica to the request's submitter (MAC only).

    Quorum: the client accepts a result when matching replies (same sequence number, result
    and weight vector) come from replicas weighing more than ``F_w`` under that vector. Any
    set of at most ``f`` nodes weighs at most ``F_w`` under every vector, so such a set holds
    an honest replica whatever vector the repliers claim.

    Attributes
    ----------
    view, seq : int
        View of execution and sequence number.
    submitter, timestamp : int
        The request id.
    result : bytes
        Result of the execution (the request digest: operations are records).
    weights : tuple of int
        Weight vector of the epoch of ``seq``.
    sender : int
        Replying replica.
    """

    __slots__ = ("result", "sender", "seq", "submitter", "timestamp", "view", "weights")

    def __init__(
        self,
        view: int,
        seq: int,
        submitter: int,
        timestamp: int,
        result: bytes,
        weights: tuple[int, ...],
        sender: int,
    ) -> None:
        super().__init__(MsgType.REPLY, "client")
        self.view = view
        self.seq = seq
        self.submitter = submitter
        self.timestamp = timestamp
        self.result = result
        self.weights = weights
        self.sender = sender

    def plain(self) -> list[Any]:
        return [
            self.view,
            self.seq,
            self.submitter,
            self.timestamp,
            self.result.hex(),
            list(self.weights),
            self.sender,
        ]


class Status(Message):
    """Status (PBFT: status / retransmission), sent periodically by every replica (MAC only).

    No quorum. A peer that has executed more answers with a :class:`FetchReply`; a peer in
    a higher view resends its new-view message.

    Attributes
    ----------
    view : int
        Sender's view.
    active : bool
        Whether the sender is in normal operation (not changing view).
    stable_seq, last_executed : int
        Sender's last stable checkpoint and last executed sequence number.
    sender : int
        Reporting replica.
    """

    __slots__ = ("active", "last_executed", "sender", "stable_seq", "view")

    def __init__(
        self, view: int, active: bool, stable_seq: int, last_executed: int, sender: int
    ) -> None:
        super().__init__(MsgType.STATUS, "pbft")
        self.view = view
        self.active = active
        self.stable_seq = stable_seq
        self.last_executed = last_executed
        self.sender = sender

    def plain(self) -> list[Any]:
        return [self.view, self.active, self.stable_seq, self.last_executed, self.sender]


class FetchReply(Message):
    """State transfer (PBFT: fetching missing state): committed entries and certificates.

    Quorum: a lagging replica adopts the entry at a sequence number once matching entries
    (same digest) come from replicas weighing more than ``F_w``: one of them is honest, and
    honest replicas send only what they executed. Checkpoint certificates ride along so the
    lagging replica can make its checkpoints stable after executing them.

    Attributes
    ----------
    entries : tuple of (int, Request or None)
        ``(seq, request)`` for executed sequence numbers (``None``: null request).
    checkpoint_proofs : tuple of tuple of Checkpoint
        Stable checkpoint certificates within the range.
    sender : int
        Replying replica.
    """

    __slots__ = ("checkpoint_proofs", "entries", "sender")

    def __init__(
        self,
        entries: tuple[tuple[int, Request | None], ...],
        checkpoint_proofs: tuple[tuple[Checkpoint, ...], ...],
        sender: int,
    ) -> None:
        super().__init__(MsgType.FETCH_REPLY, "pbft")
        self.entries = entries
        self.checkpoint_proofs = checkpoint_proofs
        self.sender = sender

    def plain(self) -> list[Any]:
        return [
            [[s, None if r is None else r.plain()] for s, r in self.entries],
            [[c.plain() for c in proof] for proof in self.checkpoint_proofs],
            self.sender,
        ]


#: Signed types whose (sender, key) must have a single value; two values are equivocation.
_CONFLICT_TYPES: Final[frozenset[str]] = frozenset(
    {MsgType.PRE_PREPARE.value, MsgType.PREPARE.value, MsgType.COMMIT.value}
)


def conflict_key(signed_bytes: bytes) -> tuple[int, tuple[Any, ...], str] | None:
    """``(sender, key, value)`` of a signed protocol message, or ``None``.

    An honest replica signs at most one value per key: one digest per ``(type, view, seq)``
    for pre-prepare, prepare and commit, and one state digest per ``(type, seq)`` for
    checkpoints. Two valid signatures by the same sender on the same key with different
    values are therefore proof of equivocation. The input is :meth:`SignedMessage.signed_bytes`.

    Examples
    --------
    >>> conflict_key(b'["prepare",2,7,"ab",3]')
    (3, ('prepare', 2, 7), 'ab')
    >>> conflict_key(b'["checkpoint",10,"cd",[1,1],0]')
    (0, ('checkpoint', 10), 'cd')
    """
    try:
        parsed = json.loads(signed_bytes)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(parsed, list) or not parsed:
        return None
    kind = parsed[0]
    ok_int = lambda x: isinstance(x, int) and not isinstance(x, bool)  # noqa: E731
    if kind in _CONFLICT_TYPES and len(parsed) == 5:
        _, view, seq, value, sender = parsed
        if ok_int(view) and ok_int(seq) and ok_int(sender) and isinstance(value, str):
            return (sender, (kind, view, seq), value)
    if kind == MsgType.CHECKPOINT.value and len(parsed) == 5:
        _, seq, value, _weights, sender = parsed
        if ok_int(seq) and ok_int(sender) and isinstance(value, str):
            return (sender, (kind, seq), value)
    return None
