"""Byzantine and crash faults of QKD network nodes, sampled per batch copy, with fibre cuts.

A fault scenario says, for each of B copies of a network of N nodes, which nodes misbehave,
how, and from which slot on. Byzantine relays flip bits of the material they relay, drop it,
delay it, leak (record) it, or report false QBER or key-pool levels to the control plane;
crashed nodes are honest but down. :class:`FaultScenarioConfig` holds the knobs (fractions,
behaviour mix, start slot, scheduled link cuts, attack parameters) and
:func:`sample_faults` draws a :class:`FaultScenario` from a ``numpy.random.Generator``, so the
same seed gives the same faults. The scenario answers per-slot questions with vectorised
masks: which nodes have a behaviour active (:meth:`FaultScenario.active`), whether a relay path
crosses one (:meth:`FaultScenario.path_has`), which links touch one
(:meth:`FaultScenario.link_touches`) and which links are cut (:meth:`FaultScenario.link_cut_mask`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntFlag
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import Field, field_validator

from qnetrl._validation import InvalidParameterError, check_range
from qnetrl.config import ConfigBase
from qnetrl.network.link_model import LinkTable

__all__ = [
    "BEHAVIOUR_NAMES",
    "BYZANTINE_BEHAVIOURS",
    "Behaviour",
    "FaultScenario",
    "FaultScenarioConfig",
    "LinkCutEvent",
    "fault_count",
    "sample_faults",
]


class Behaviour(IntFlag):
    """Node behaviour codes; bit flags, so a mask may ask for several at once.

    Attributes
    ----------
    HONEST : 0
        Follows the protocol.
    FLIP : 1
        Flips bits of the key material it relays (each bit with ``flip_probability``).
    DROP : 2
        Withholds (drops) the material or shares it should relay.
    FALSE_QBER : 4
        Reports ``false_qber_value`` as the QBER of its links.
    FALSE_POOL : 8
        Reports its links' key pools multiplied by ``false_pool_factor``.
    DELAY : 16
        Holds relayed material back for ``delay_slots`` slots.
    LEAK : 32
        Relays honestly but records what it relays; counts toward key exposure.
    CRASH : 64
        Honest failure: the node is down (relays nothing, reports nothing) from its start
        slot on.
    """

    HONEST = 0
    FLIP = 1
    DROP = 2
    FALSE_QBER = 4
    FALSE_POOL = 8
    DELAY = 16
    LEAK = 32
    CRASH = 64


#: The Byzantine (malicious) behaviours, in the order used to sample them.
BYZANTINE_BEHAVIOURS: Final[tuple[Behaviour, ...]] = (
    Behaviour.FLIP,
    Behaviour.DROP,
    Behaviour.FALSE_QBER,
    Behaviour.FALSE_POOL,
    Behaviour.DELAY,
    Behaviour.LEAK,
)
#: Keys of ``behaviour_mix``: lower-case names of :data:`BYZANTINE_BEHAVIOURS`.
BEHAVIOUR_NAMES: Final[tuple[str, ...]] = tuple(str(b.name).lower() for b in BYZANTINE_BEHAVIOURS)
_BYZANTINE_MASK: Final[int] = int(sum(BYZANTINE_BEHAVIOURS))


class LinkCutEvent(ConfigBase):
    """A scheduled fibre cut of the link between nodes ``u`` and ``v`` (node indices).

    The link is cut in slots ``slot <= s < slot + duration_slots`` of every copy. In YAML or
    Python it may also be written as a list ``[u, v, slot, duration_slots]``.
    """

    u: int = Field(ge=0, description="Node index of one end of the link.")
    v: int = Field(ge=0, description="Node index of the other end of the link.")
    slot: int = Field(ge=0, description="First slot of the cut.")
    duration_slots: float = Field(
        ge=1.0, le=math.inf, description="Length of the cut (in slots; inf is permanent)."
    )


class FaultScenarioConfig(ConfigBase):
    """Which nodes fail, how, and when; see :func:`sample_faults`.

    Counts are fractions of all N nodes rounded to the nearest integer (halves round up):
    ``round(byzantine_fraction * N)`` Byzantine nodes and ``round(crash_fraction * N)``
    crashed nodes in every copy, drawn without overlap among the eligible nodes. End nodes
    of the demand are honest by default (``end_nodes_honest``): a corrupt end node owns the
    key anyway, so only relays are worth modelling as Byzantine; the same eligibility applies
    to crashes.
    """

    byzantine_fraction: float = Field(
        0.0, ge=0.0, le=0.3, description="Fraction of all nodes that are Byzantine."
    )
    behaviour_mix: dict[str, float] = Field(
        default_factory=lambda: dict.fromkeys(BEHAVIOUR_NAMES, 1.0),
        description=(
            "Relative weight of each Byzantine behaviour (keys among "
            f"{', '.join(BEHAVIOUR_NAMES)}; weights >= 0, not all 0); each Byzantine node "
            "draws one behaviour independently with these weights."
        ),
    )
    start_slot: int = Field(0, ge=0, description="Slot from which faults are active.")
    start_slot_jitter: int = Field(
        0,
        ge=0,
        description="Each faulty node starts at start_slot plus a uniform integer in [0, this].",
    )
    end_nodes_honest: bool = Field(
        True, description="Keep the demand's end nodes honest (never Byzantine or crashed)."
    )
    crash_fraction: float = Field(
        0.0, ge=0.0, le=1.0, description="Fraction of all nodes that crash (honest failures)."
    )
    link_cuts: tuple[LinkCutEvent, ...] = Field(
        (), description="Scheduled link cuts, each [u, v, slot, duration_slots]."
    )
    flip_probability: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Probability that a FLIP relay flips each relayed bit (0.5: pure noise).",
    )
    delay_slots: int = Field(
        5, ge=1, description="Slots a DELAY relay holds relayed material back."
    )
    false_qber_value: float = Field(
        0.5,
        ge=0.0,
        le=0.5,
        description="QBER a FALSE_QBER node reports for its links (0.5: link looks useless).",
    )
    false_pool_factor: float = Field(
        10.0,
        ge=0.0,
        le=1e6,
        description="Factor by which a FALSE_POOL node misreports its links' key pools.",
    )

    @field_validator("behaviour_mix")
    @classmethod
    def _known_behaviours(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(BEHAVIOUR_NAMES))
        if unknown:
            raise ValueError(
                f"unknown behaviour {unknown[0]!r}; known: {', '.join(BEHAVIOUR_NAMES)}"
            )
        if any(not (math.isfinite(w) and w >= 0.0) for w in value.values()):
            raise ValueError("every weight must be a float in the range [0.0, inf)")
        if not any(w > 0.0 for w in value.values()):
            raise ValueError("at least one weight must be positive")
        return value

    @field_validator("link_cuts", mode="before")
    @classmethod
    def _cuts_from_lists(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            fields = ("u", "v", "slot", "duration_slots")
            return tuple(
                dict(zip(fields, item, strict=True))
                if isinstance(item, list | tuple) and len(item) == len(fields)
                else item
                for item in value
            )
        return value


def fault_count(fraction: float, n_nodes: int) -> int:
    """Number of faulty nodes for a fraction of ``n_nodes``: nearest integer, halves up.

    Examples
    --------
    >>> fault_count(0.25, 10), fault_count(0.25, 6), fault_count(0.3, 10)
    (3, 2, 3)
    """
    frac = float(check_range("fraction", fraction, owner="fault_count", low=0.0, high=1.0))
    n = _check_int("n_nodes", n_nodes, "fault_count", 0)
    # The tiny offset absorbs float error in products such as 0.35 * 10 = 3.4999999999999996.
    return math.floor(frac * n + 0.5 + 1e-9)


def _slots(slot: ArrayLike, b: int, owner: str) -> NDArray[np.int64]:
    """``slot`` (an int or a (B,) integer array) as a (B, 1) int64 array."""
    arr = np.asarray(slot)
    if arr.dtype.kind not in "iu" or arr.shape not in ((), (b,)) or (arr < 0).any():
        raise InvalidParameterError(
            f"The 'slot' parameter of {owner} must be an int or an integer array of shape "
            f"({b},), in the range [0, inf). Got {slot!r} instead."
        )
    return np.broadcast_to(arr.astype(np.int64), (b,))[:, None]


def _flag(behaviour: Any, owner: str) -> int:
    if not isinstance(behaviour, Behaviour):
        raise InvalidParameterError(
            f"The 'behaviour' parameter of {owner} must be a Behaviour. Got {behaviour!r} instead."
        )
    return int(behaviour)


def _check_table(table: Any, n_nodes: int, owner: str) -> LinkTable:
    if not isinstance(table, LinkTable) or table.n_nodes != n_nodes:
        raise InvalidParameterError(
            f"The 'table' parameter of {owner} must be a LinkTable of {n_nodes} nodes. "
            f"Got {type(table).__name__} instead."
        )
    return table


@dataclass(frozen=True, slots=True)
class FaultScenario:
    """Sampled faults of B copies of an N-node network (build with :func:`sample_faults`).

    Attributes
    ----------
    behaviour : ndarray of shape (B, N), dtype int64
        :class:`Behaviour` code of each node (0 for honest nodes).
    start_slot : ndarray of shape (B, N)
        Slot from which the node's behaviour is active; ``inf`` for honest nodes.
    config : FaultScenarioConfig
        The configuration it was drawn from (attack parameters such as
        ``flip_probability`` and ``delay_slots`` live there).
    """

    behaviour: NDArray[np.int64]
    start_slot: NDArray[np.float64]
    config: FaultScenarioConfig

    @property
    def batch_size(self) -> int:
        """Number of copies B."""
        return int(self.behaviour.shape[0])

    @property
    def n_nodes(self) -> int:
        """Number of nodes N."""
        return int(self.behaviour.shape[1])

    @property
    def byzantine(self) -> NDArray[np.bool_]:
        """(B, N) mask of Byzantine nodes, active or not yet."""
        return (self.behaviour & _BYZANTINE_MASK) != 0

    @property
    def crashed(self) -> NDArray[np.bool_]:
        """(B, N) mask of nodes that crash, down or not yet."""
        return (self.behaviour & int(Behaviour.CRASH)) != 0

    def active_codes(self, slot: ArrayLike) -> NDArray[np.int64]:
        """(B, N) behaviour codes in force at ``slot`` (int or (B,) array); 0 if none yet."""
        s = _slots(slot, self.batch_size, "FaultScenario.active_codes")
        return np.where(s >= self.start_slot, self.behaviour, 0)

    def active(
        self, slot: ArrayLike, behaviour: Behaviour | None = None
    ) -> NDArray[np.bool_] | dict[Behaviour, NDArray[np.bool_]]:
        """Nodes with a behaviour in force at ``slot``.

        Parameters
        ----------
        slot : int or array_like of int, shape (B,)
            Current slot (per copy, for copies that reset at different times).
        behaviour : Behaviour or None, optional
            A behaviour, or several or-ed together (any of them counts); ``HONEST`` asks for
            nodes with no behaviour in force. None (default) asks for every behaviour.

        Returns
        -------
        mask : ndarray of shape (B, N), dtype bool, or dict
            The mask, or for ``behaviour=None`` a dict ``{Behaviour: mask}`` over every
            behaviour but ``HONEST``.

        Examples
        --------
        >>> cfg = FaultScenarioConfig(byzantine_fraction=0.25, start_slot=3,
        ...                           behaviour_mix={"drop": 1.0})
        >>> sc = sample_faults(cfg, 8, [], np.random.default_rng(0), batch_size=2)
        >>> sc.active(2, Behaviour.DROP).sum(axis=1).tolist()
        [0, 0]
        >>> sc.active(3, Behaviour.DROP).sum(axis=1).tolist()
        [2, 2]
        """
        codes = self.active_codes(slot)
        if behaviour is None:
            return {b: (codes & int(b)) != 0 for b in Behaviour if b is not Behaviour.HONEST}
        flag = _flag(behaviour, "FaultScenario.active")
        return codes == 0 if flag == 0 else (codes & flag) != 0

    def path_has(
        self, behaviour: Behaviour, path_nodes: ArrayLike, slot: ArrayLike
    ) -> NDArray[np.bool_]:
        """Whether an intermediate relay of each path has ``behaviour`` in force at ``slot``.

        Parameters
        ----------
        behaviour : Behaviour
            Behaviour (or or-ed behaviours, any of which counts).
        path_nodes : array_like of int, shape (B, ..., H + 1)
            Node indices along each path, padded with -1 (e.g. ``PathChoice.nodes``). The
            first and last valid entries are the end nodes and are not examined.
        slot : int or array_like of int, shape (B,)
            Current slot.

        Returns
        -------
        mask : ndarray of shape (B, ...), dtype bool
            True where some relay of the path has the behaviour in force.

        Examples
        --------
        >>> cfg = FaultScenarioConfig(byzantine_fraction=0.3, behaviour_mix={"leak": 1.0})
        >>> sc = sample_faults(cfg, 4, [0, 3], np.random.default_rng(0), batch_size=1)
        >>> sc.byzantine.tolist()  # 0.3 * 4 rounds to 1, never an end node
        [[False, False, True, False]]
        >>> sc.path_has(Behaviour.LEAK, [[[0, 1, 3, -1], [0, 2, 1, 3]]], slot=0).tolist()
        [[False, True]]
        """
        owner = "FaultScenario.path_has"
        mask = self.active(slot, behaviour)
        assert isinstance(mask, np.ndarray)
        nodes = np.asarray(path_nodes)
        b, n = self.batch_size, self.n_nodes
        if nodes.dtype.kind not in "iu" or nodes.ndim < 2 or nodes.shape[0] != b:
            raise InvalidParameterError(
                f"The 'path_nodes' parameter of {owner} must be an integer array of shape "
                f"(B, ..., H + 1) with B = {b}. Got {nodes.dtype} array of shape "
                f"{nodes.shape!r} instead."
            )
        if nodes.size and (nodes.min() < -1 or nodes.max() >= n):
            raise InvalidParameterError(
                f"The 'path_nodes' parameter of {owner} must hold node indices in the range "
                f"[0, {n - 1}] or -1 for padding. Got {int(nodes.min())}..{int(nodes.max())}."
            )
        n_valid = (nodes >= 0).sum(axis=-1, keepdims=True)
        pos = np.arange(nodes.shape[-1])
        relay = (pos >= 1) & (pos < n_valid - 1) & (nodes >= 0)
        idx = np.where(relay, nodes, 0).reshape(b, -1)
        hit = np.take_along_axis(mask, idx, axis=1).reshape(nodes.shape)
        return (hit & relay).any(axis=-1)

    def link_touches(
        self, behaviour: Behaviour, table: LinkTable, slot: ArrayLike
    ) -> NDArray[np.bool_]:
        """(B, L) mask of links with an end node that has ``behaviour`` in force at ``slot``.

        For example, the QBER reported for a link is false where
        ``link_touches(Behaviour.FALSE_QBER, table, slot)``.
        """
        t = _check_table(table, self.n_nodes, "FaultScenario.link_touches")
        mask = self.active(slot, behaviour)
        assert isinstance(mask, np.ndarray)
        return mask[:, t.u] | mask[:, t.v]

    def link_cut_mask(self, table: LinkTable, slot: ArrayLike) -> NDArray[np.bool_]:
        """(B, L) mask of links cut at ``slot`` by the scheduled ``config.link_cuts``.

        Raises
        ------
        InvalidParameterError
            If a scheduled cut names two nodes that share no link in ``table``.
        """
        owner = "FaultScenario.link_cut_mask"
        t = _check_table(table, self.n_nodes, owner)
        s = _slots(slot, self.batch_size, owner)
        cut = np.zeros((self.batch_size, t.n_links), dtype=bool)
        for event in self.config.link_cuts:  # a handful of scheduled events, not links
            key = (
                (t.nodes[event.u], t.nodes[event.v]) if max(event.u, event.v) < t.n_nodes else None
            )
            if key is None or key not in t.edge_index:
                raise InvalidParameterError(
                    f"The 'link_cuts' field of FaultScenarioConfig must name existing links. "
                    f"Got nodes ({event.u}, {event.v}), which share no link."
                )
            on = (s[:, 0] >= event.slot) & (s[:, 0] < event.slot + event.duration_slots)
            cut[:, t.edge_index[key]] |= on
        return cut


def _check_int(name: str, value: Any, owner: str, low: int) -> int:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= low
    if not ok:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be an int in the range [{low}, inf). "
            f"Got {value!r} instead."
        )
    return int(value)


def sample_faults(
    config: FaultScenarioConfig,
    n_nodes: int,
    end_nodes: ArrayLike | None,
    rng: np.random.Generator,
    batch_size: int = 1,
) -> FaultScenario:
    """Draw which nodes are Byzantine or crash, with what behaviour and from when.

    Parameters
    ----------
    config : FaultScenarioConfig
        Fractions, behaviour mix, start slot and attack parameters.
    n_nodes : int
        Number of nodes N, in ``[1, inf)``.
    end_nodes : array_like of int or None
        Node indices that source or sink demand (any shape, e.g. the (P, 2) demand pairs;
        None or empty for none). They stay honest when ``config.end_nodes_honest``.
    rng : numpy.random.Generator
        Source of randomness; the same seed gives the same scenario.
    batch_size : int, optional
        Number of independent copies B, in ``[1, inf)`` (default 1).

    Returns
    -------
    scenario : FaultScenario
        Per-copy (B, N) behaviour codes and start slots.

    Raises
    ------
    InvalidParameterError
        If an argument is out of range, or the faulty nodes do not fit among the eligible
        nodes.

    Notes
    -----
    Every copy has exactly ``fault_count(byzantine_fraction, N)`` Byzantine and
    ``fault_count(crash_fraction, N)`` crashed nodes (nearest integer, halves up), a uniformly
    random set of eligible nodes, disjoint. Each Byzantine node draws one behaviour
    independently with probabilities proportional to ``behaviour_mix``, so the mix holds in
    expectation. Draws, in order: (B, N) uniforms that rank the eligible nodes, (B, n_byz)
    behaviour choices, and (B, N) start-slot offsets only when ``start_slot_jitter`` > 0.

    Examples
    --------
    >>> cfg = FaultScenarioConfig(byzantine_fraction=0.2, crash_fraction=0.1)
    >>> sc = sample_faults(cfg, 10, [0, 9], np.random.default_rng(1), batch_size=3)
    >>> sc.byzantine.sum(axis=1).tolist(), sc.crashed.sum(axis=1).tolist()
    ([2, 2, 2], [1, 1, 1])
    >>> bool(sc.byzantine[:, [0, 9]].any())
    False
    """
    owner = "sample_faults"
    if not isinstance(config, FaultScenarioConfig):
        raise InvalidParameterError(
            f"The 'config' parameter of {owner} must be a FaultScenarioConfig. "
            f"Got {type(config).__name__} instead."
        )
    n = _check_int("n_nodes", n_nodes, owner, 1)
    b = _check_int("batch_size", batch_size, owner, 1)
    if not isinstance(rng, np.random.Generator):
        raise InvalidParameterError(
            f"The 'rng' parameter of {owner} must be a numpy.random.Generator. "
            f"Got {type(rng).__name__} instead."
        )
    ends = np.zeros(0, dtype=np.int64) if end_nodes is None else np.asarray(end_nodes)
    if ends.size and (ends.dtype.kind not in "iu" or ends.min() < 0 or ends.max() >= n):
        raise InvalidParameterError(
            f"The 'end_nodes' parameter of {owner} must hold node indices in the range "
            f"[0, {n - 1}]. Got {ends!r} instead."
        )
    for event in config.link_cuts:
        if max(event.u, event.v) >= n or event.u == event.v:
            raise InvalidParameterError(
                f"The 'link_cuts' field of FaultScenarioConfig must join two distinct nodes in "
                f"the range [0, {n - 1}]. Got ({event.u}, {event.v}) instead."
            )

    eligible = np.ones(n, dtype=bool)
    if config.end_nodes_honest and ends.size:
        eligible[ends.ravel().astype(np.int64)] = False
    n_byz = fault_count(config.byzantine_fraction, n)
    n_crash = fault_count(config.crash_fraction, n)
    n_eligible = int(eligible.sum())
    if n_byz + n_crash > n_eligible:
        raise InvalidParameterError(
            f"The 'byzantine_fraction' and 'crash_fraction' fields of FaultScenarioConfig ask "
            f"for {n_byz} Byzantine and {n_crash} crashed nodes out of {n}, but only "
            f"{n_eligible} nodes are eligible (end_nodes_honest={config.end_nodes_honest}); "
            f"the total must be in the range [0, {n_eligible}]."
        )

    keys = rng.random((b, n))
    keys[:, ~eligible] = 2.0  # ranked after every eligible node
    order = np.argsort(keys, axis=1, kind="stable")
    rows = np.arange(b)[:, None]
    codes = np.zeros((b, n), dtype=np.int64)
    if n_byz:
        weights = np.array([config.behaviour_mix.get(k, 0.0) for k in BEHAVIOUR_NAMES])
        flags = np.array([int(f) for f in BYZANTINE_BEHAVIOURS], dtype=np.int64)
        pick = rng.choice(len(flags), size=(b, n_byz), p=weights / weights.sum())
        codes[rows, order[:, :n_byz]] = flags[pick]
    if n_crash:
        codes[rows, order[:, n_byz : n_byz + n_crash]] = int(Behaviour.CRASH)
    start = np.full((b, n), float(config.start_slot))
    if config.start_slot_jitter:
        start += rng.integers(0, config.start_slot_jitter, size=(b, n), endpoint=True)
    start = np.where(codes != 0, start, math.inf)
    return FaultScenario(behaviour=codes, start_slot=start, config=config)
