"""In-process message bus: a seeded discrete-event simulation with network fault injection.

:class:`MessageBus` keeps a heap of ``(time, seq, event)`` entries, where an event is either
a message delivery or a timer, and runs them in time order (``seq`` breaks ties in the
order of scheduling, so a run is a pure function of the seed and the inputs). Protocols
(:class:`Protocol`, after SeQUeNCe's ``sequence/protocol.py``) register one per node, send
through the bus and receive authenticated messages through their single hook
:meth:`Protocol.received_message`. Faults, configured by :class:`BusFaultConfig`, are applied
per message at send time: drop, extra delay, reorder (hold back), duplicate, corrupt (a
flipped byte, which the receiver's MAC check rejects), partitions (node sets cut off between
two times) and equivocation (a Byzantine sender's messages replaced per destination by
variants its protocol makes). Network faults stop for messages sent at or after
``stabilisation_time_s``; after it every message arrives within ``latency_s + jitter_s``
(the partial-synchrony model under which PBFT is live). Equivocation is a Byzantine
behaviour, not a network fault, and does not stop.
"""

from __future__ import annotations

import heapq
import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from qnetrl._validation import InvalidParameterError
from qnetrl.config import ConfigBase
from qnetrl.consensus.messages import Identity, Message

__all__ = [
    "BusFaultConfig",
    "BusStats",
    "MessageBus",
    "PartitionWindow",
    "Protocol",
    "Timer",
]


class PartitionWindow(ConfigBase):
    """Nodes ``nodes`` are cut off from all others for messages sent in ``[start_s, end_s)``."""

    nodes: tuple[int, ...] = Field(min_length=1, description="Node ids on one side of the cut.")
    start_s: float = Field(ge=0.0, description="Start of the partition (in s).")
    end_s: float = Field(ge=0.0, le=math.inf, description="End of the partition (in s).")

    @model_validator(mode="after")
    def _ordered(self) -> PartitionWindow:
        if self.end_s < self.start_s:
            raise ValueError(f"end_s={self.end_s} must be at least start_s={self.start_s}")
        return self


class BusFaultConfig(ConfigBase):
    """Latency and fault injection of the :class:`MessageBus`.

    Probabilities are per message and independent. All faults except equivocation apply only
    to messages sent before ``stabilisation_time_s``.
    """

    latency_s: float = Field(1e-3, gt=0.0, le=10.0, description="Base one-way latency (in s).")
    jitter_s: float = Field(
        0.0, ge=0.0, le=10.0, description="Uniform extra latency in [0, jitter_s] (in s)."
    )
    drop_prob: float = Field(0.0, ge=0.0, le=0.95, description="Probability a message is lost.")
    delay_prob: float = Field(
        0.0, ge=0.0, le=1.0, description="Probability a message gets extra random latency."
    )
    delay_max_s: float = Field(
        0.05, ge=0.0, le=60.0, description="Extra latency is uniform in [0, delay_max_s] (in s)."
    )
    reorder_prob: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Probability a message is held back by reorder_window_s (later ones overtake).",
    )
    reorder_window_s: float = Field(
        0.01, ge=0.0, le=60.0, description="Hold-back of a reordered message (in s)."
    )
    duplicate_prob: float = Field(
        0.0, ge=0.0, le=1.0, description="Probability a message is delivered twice."
    )
    corrupt_prob: float = Field(
        0.0, ge=0.0, le=1.0, description="Probability one byte of a message is flipped."
    )
    partitions: tuple[PartitionWindow, ...] = Field(
        (), description="Partitions: node sets cut off from the rest between two times."
    )
    equivocators: tuple[int, ...] = Field(
        (),
        description="Byzantine nodes whose messages are replaced per destination by the "
        "variants their protocol's equivocate() returns.",
    )
    stabilisation_time_s: float = Field(
        math.inf,
        ge=0.0,
        le=math.inf,
        description="Messages sent at or after this time (in s) suffer no network fault.",
    )


@dataclass(slots=True)
class BusStats:
    """Counters of one bus.

    Attributes
    ----------
    sent : int
        Messages handed to the bus.
    delivered : int
        Deliveries made (duplicates included).
    dropped : int
        Messages lost to drops and partitions.
    duplicated, delayed, reordered, corrupted : int
        Messages that suffered each fault.
    equivocated : int
        Messages replaced by an equivocating sender's variant.
    rejected : int
        Deliveries that failed the receiver's authentication.
    undeliverable : int
        Messages addressed to a node with no protocol.
    """

    sent: int = 0
    delivered: int = 0
    dropped: int = 0
    duplicated: int = 0
    delayed: int = 0
    reordered: int = 0
    corrupted: int = 0
    equivocated: int = 0
    rejected: int = 0
    undeliverable: int = 0


class Timer:
    """A scheduled callback; :meth:`cancel` stops it from firing.

    Attributes
    ----------
    time : float
        Simulated time it fires at (in s).
    cancelled : bool
        Whether it was cancelled.
    """

    __slots__ = ("args", "callback", "cancelled", "time")

    def __init__(self, time: float, callback: Callable[..., None], args: tuple[Any, ...]) -> None:
        self.time = time
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        """Do not fire."""
        self.cancelled = True


class MessageBus:
    """Seeded discrete-event message bus with fault injection (see the module docstring).

    Parameters
    ----------
    config : BusFaultConfig, optional
        Latency and faults (default: 1 ms latency, no faults).
    rng : numpy.random.Generator
        Source of every random draw of the bus.

    Attributes
    ----------
    config : BusFaultConfig
        Current fault configuration (replace with :meth:`set_faults`).
    rng : numpy.random.Generator
        The bus's generator (protocols draw their Byzantine choices from it too).
    now : float
        Current simulated time (in s).
    stats : BusStats
        Counters.
    """

    def __init__(self, config: BusFaultConfig | None, rng: np.random.Generator) -> None:
        if not isinstance(rng, np.random.Generator):
            raise InvalidParameterError(
                "The 'rng' parameter of MessageBus must be a numpy.random.Generator. "
                f"Got {type(rng).__name__} instead."
            )
        self.rng = rng
        self.now = 0.0
        self.stats = BusStats()
        self._heap: list[tuple[float, int, Any]] = []
        self._seq = itertools.count()
        self._nodes: dict[int, Protocol] = {}
        self.set_faults(config if config is not None else BusFaultConfig())

    # -- configuration ------------------------------------------------------------------------

    def set_faults(self, config: BusFaultConfig) -> None:
        """Replace the fault configuration (applies to messages sent from now on)."""
        if not isinstance(config, BusFaultConfig):
            raise InvalidParameterError(
                "The 'config' parameter of MessageBus.set_faults must be a BusFaultConfig. "
                f"Got {type(config).__name__} instead."
            )
        self.config = config
        self._equivocators = frozenset(config.equivocators)
        self._partitions = tuple(
            (p.start_s, p.end_s, frozenset(p.nodes)) for p in config.partitions
        )

    def register(self, node: int, protocol: Protocol) -> None:
        """Attach ``protocol`` to ``node`` (one protocol per node)."""
        if node in self._nodes:
            raise InvalidParameterError(
                f"The 'node' parameter of MessageBus.register must be a free node id. "
                f"Got {node!r}, which already has a protocol."
            )
        self._nodes[node] = protocol

    @property
    def nodes(self) -> dict[int, Protocol]:
        """Registered protocols by node id."""
        return self._nodes

    def equivocates(self, node: int) -> bool:
        """Whether ``node`` is configured as an equivocator."""
        return node in self._equivocators

    @property
    def pending_events(self) -> int:
        """Events still in the heap (cancelled timers included)."""
        return len(self._heap)

    # -- scheduling ---------------------------------------------------------------------------

    def schedule(self, delay_s: float, callback: Callable[..., None], *args: Any) -> Timer:
        """Run ``callback(*args)`` after ``delay_s`` simulated seconds."""
        if not delay_s >= 0.0:
            raise InvalidParameterError(
                "The 'delay_s' parameter of MessageBus.schedule must be a float in the range "
                f"[0.0, inf). Got {delay_s!r} instead."
            )
        timer = Timer(self.now + delay_s, callback, args)
        heapq.heappush(self._heap, (timer.time, next(self._seq), timer))
        return timer

    def _cut(self, src: int, dst: int) -> bool:
        t = self.now
        for start, end, side in self._partitions:
            if start <= t < end and ((src in side) != (dst in side)):
                return True
        return False

    def send(self, src: int, dst: int, msg: Message, tag: bytes) -> None:
        """Hand ``msg`` with its channel MAC ``tag`` to the network, applying faults."""
        stats = self.stats
        stats.sent += 1
        cfg = self.config
        rng = self.rng
        latency = cfg.latency_s
        if cfg.jitter_s > 0.0:
            latency += cfg.jitter_s * rng.random()
        copies = 1
        if self.now < cfg.stabilisation_time_s:
            if self._partitions and self._cut(src, dst):
                stats.dropped += 1
                return
            if cfg.drop_prob > 0.0 and rng.random() < cfg.drop_prob:
                stats.dropped += 1
                return
            if cfg.delay_prob > 0.0 and rng.random() < cfg.delay_prob:
                latency += cfg.delay_max_s * rng.random()
                stats.delayed += 1
            if cfg.reorder_prob > 0.0 and rng.random() < cfg.reorder_prob:
                latency += cfg.reorder_window_s
                stats.reordered += 1
            if cfg.corrupt_prob > 0.0 and rng.random() < cfg.corrupt_prob:
                msg = msg.corrupted(int(rng.integers(0, 1 << 30)))
                stats.corrupted += 1
            if cfg.duplicate_prob > 0.0 and rng.random() < cfg.duplicate_prob:
                copies = 2
                stats.duplicated += 1
        for k in range(copies):
            extra = 0.0 if k == 0 else cfg.latency_s * rng.random()
            heapq.heappush(
                self._heap, (self.now + latency + extra, next(self._seq), (src, dst, msg, tag))
            )

    # -- running ------------------------------------------------------------------------------

    def run(
        self,
        until_s: float = math.inf,
        *,
        stop: Callable[[], bool] | None = None,
        max_events: int | None = None,
    ) -> int:
        """Process events in time order up to ``until_s`` (in s).

        Parameters
        ----------
        until_s : float
            Process events scheduled at or before this time; the clock then reads ``until_s``
            if it is finite and events remain.
        stop : callable, optional
            Checked after every event; the run ends as soon as it returns True.
        max_events : int, optional
            Upper bound on events processed.

        Returns
        -------
        int
            Number of events processed.
        """
        heap = self._heap
        nodes = self._nodes
        stats = self.stats
        done = 0
        while heap and heap[0][0] <= until_s:
            if max_events is not None and done >= max_events:
                return done
            time, _, item = heapq.heappop(heap)
            self.now = time
            if isinstance(item, Timer):
                if item.cancelled:
                    continue
                item.callback(*item.args)
            else:
                src, dst, msg, tag = item
                protocol = nodes.get(dst)
                if protocol is None:
                    stats.undeliverable += 1
                    continue
                stats.delivered += 1
                protocol.deliver(src, msg, tag)
            done += 1
            if stop is not None and stop():
                return done
        if heap and math.isfinite(until_s):
            self.now = max(self.now, until_s)
        return done


class Protocol(ABC):
    """Abstract protocol on one node (after SeQUeNCe's ``sequence/protocol.py``).

    Subclasses implement one receive hook, :meth:`received_message`, called only for
    messages whose channel MAC checks and whose ``receiver`` is this protocol's ``name``.

    Parameters
    ----------
    owner : int
        Node id (and principal id in the keyring).
    bus : MessageBus
        The bus to register with.
    identity : Identity
        The node's keys.

    Attributes
    ----------
    name : str
        Protocol name that messages address as ``receiver``.
    owner : int
        Node id.
    bus : MessageBus
        The bus.
    identity : Identity
        The node's keys.
    """

    name: ClassVar[str] = "protocol"

    def __init__(self, owner: int, bus: MessageBus, identity: Identity) -> None:
        self.owner = owner
        self.bus = bus
        self.identity = identity
        bus.register(owner, self)

    @abstractmethod
    def received_message(self, src: int, msg: Message) -> None:
        """Handle an authenticated message from node ``src``."""

    def start(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Called once before the bus runs (schedule periodic timers here)."""

    def deliver(self, src: int, msg: Message, tag: bytes) -> None:
        """Entry point of the bus: check the channel MAC, then :meth:`received_message`."""
        if msg.receiver != self.name or not self.identity.check_mac(src, msg.wire(), tag):
            self.bus.stats.rejected += 1
            return
        self.received_message(src, msg)

    def equivocate(self, msg: Message, dst: int) -> Message | None:
        """Variant of ``msg`` for ``dst`` if this node equivocates; honest nodes return None."""
        return None

    def send(self, dst: int, msg: Message) -> None:
        """Send ``msg`` to ``dst`` with an HMAC-SHA256 channel tag."""
        if self.bus.equivocates(self.owner):
            variant = self.equivocate(msg, dst)
            if variant is not None and variant is not msg:
                msg = variant
                self.bus.stats.equivocated += 1
        self.bus.send(self.owner, dst, msg, self.identity.mac(dst, msg.wire()))

    def multicast(self, dsts: Iterable[int], msg: Message) -> None:
        """Send ``msg`` to every node of ``dsts`` except this one."""
        for dst in dsts:
            if dst != self.owner:
                self.send(dst, msg)
