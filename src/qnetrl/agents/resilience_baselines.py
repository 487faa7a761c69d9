"""Baselines of the resilience study: static allocation and a greedy true-channel optimiser.

Both act on the batched :class:`~qnetrl.envs.resilience.core.ResilienceCore` through its
documented action encoding. :class:`StaticPolicy` is the operator's default: one fixed
intensity (the link model's default level), decoy BB84 and a fixed routing mode (shortest
paths for the baseline network; trust-aware routing for the ABFT-only configuration).
:class:`GreedyOraclePolicy` is the upper reference of the DRA: in every *slot* it sets each
link's intensity and protocol to the pair that maximises that link's key under the true
conditions of the slot (:meth:`ResilienceCore.oracle_settings`, which no agent observes), and
routes with the best routing information available (trust-aware with ABFT, else
key-pool-aware). It is greedy: it maximises the key generated now, not the delivered key over
the episode.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

from qnetrl._validation import check_choice
from qnetrl.envs.resilience.core import PROTOCOL_CHOICES, ROUTE_MODES, ResilienceCore, encode_action

__all__ = ["BASELINES", "GreedyOraclePolicy", "StaticPolicy"]

#: Baseline names.
BASELINES: Final[tuple[str, ...]] = ("static", "greedy")


class StaticPolicy:
    """Fixed intensity, protocol and routing mode in every copy and epoch.

    Parameters
    ----------
    route : {"shortest", "pool", "trust"}
        Routing mode (default "shortest").
    protocol : {"decoy", "mdi"}
        Protocol choice (default "decoy").
    level : int or None
        Intensity level; None takes the link model's ``default_intensity_index``.

    Attributes
    ----------
    oracle : bool
        False: the core simulates the actions as given.
    """

    oracle = False

    def __init__(self, route: str = "shortest", protocol: str = "decoy", level: int | None = None):
        check_choice("route", route, ROUTE_MODES, owner="StaticPolicy")
        check_choice("protocol", protocol, PROTOCOL_CHOICES, owner="StaticPolicy")
        self.route = ROUTE_MODES.index(route)
        self.protocol = PROTOCOL_CHOICES.index(protocol)
        self.level = level

    def act(self, core: ResilienceCore) -> NDArray[np.int64]:
        """The same action for every copy, shape (B,)."""
        level = core.default_level if self.level is None else int(self.level)
        a = encode_action(level, self.protocol, self.route, core.n_levels)
        return np.full(core.batch_size, a, dtype=np.int64)


class GreedyOraclePolicy:
    """Per-slot best intensity and protocol per link under the true channel (a reference).

    The returned action only fixes the routing mode; with ``oracle = True`` the core
    replaces intensity and protocol in every slot by :meth:`ResilienceCore.oracle_settings`.

    Attributes
    ----------
    oracle : bool
        True: the core runs the per-slot true-channel optimisation.
    """

    oracle = True

    def act(self, core: ResilienceCore) -> NDArray[np.int64]:
        """Trust-aware routing with ABFT, key-pool-aware routing without, shape (B,)."""
        route = ROUTE_MODES.index("trust" if core.trust is not None else "pool")
        a = encode_action(core.default_level, 0, route, core.n_levels)
        return np.full(core.batch_size, a, dtype=np.int64)
