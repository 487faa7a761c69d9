"""Federated averaging of stacked per-agent weights, with user-level differential privacy.

Every K policy updates the A agents (network nodes) send the change of their weights since the
last global model; the server averages them and every agent continues from the new global
model (FedAvg, [1]_). With DP on, this is DP-FedAvg [2]_: each agent is sampled with
probability q, its update is clipped to L2 norm C, the clipped updates are summed and Gaussian
noise of standard deviation z C is added before dividing by the expected number of
participants q A (noise std z C / (q A) on the average; z C / A when every agent takes part).
The privacy unit is one agent: adding or removing an agent's whole data changes the sum by at
most C. The privacy loss of the composed rounds, each a Poisson-subsampled Gaussian mechanism
[3]_, is tracked with the Rényi-DP accountant [4]_ [5]_ during training and reported at the end
with the tighter privacy-loss-distribution accountant [6]_, both from Google's
``dp-accounting`` library. Weights are handled as lists of stacked tensors of shape (A, ...),
as :class:`qnetrl.agents.mappo.StackedMLP` holds them.

References
----------
.. [1] H. B. McMahan, E. Moore, D. Ramage, S. Hampson and B. Agüera y Arcas,
   "Communication-Efficient Learning of Deep Networks from Decentralized Data", Proceedings
   of the 20th International Conference on Artificial Intelligence and Statistics (AISTATS),
   PMLR 54, 1273-1282, 2017.
.. [2] H. B. McMahan, D. Ramage, K. Talwar and L. Zhang, "Learning Differentially Private
   Recurrent Language Models", International Conference on Learning Representations (ICLR),
   2018. arXiv:1710.06963.
.. [3] M. Abadi, A. Chu, I. Goodfellow, H. B. McMahan, I. Mironov, K. Talwar and L. Zhang,
   "Deep Learning with Differential Privacy", Proceedings of the 2016 ACM SIGSAC Conference
   on Computer and Communications Security (CCS), 308-318, 2016.
   DOI: 10.1145/2976749.2978318
.. [4] I. Mironov, "Rényi Differential Privacy", IEEE 30th Computer Security Foundations
   Symposium (CSF), 263-275, 2017. DOI: 10.1109/CSF.2017.11
.. [5] I. Mironov, K. Talwar and L. Zhang, "Rényi Differential Privacy of the Sampled
   Gaussian Mechanism", arXiv:1908.10530, 2019.
.. [6] V. Doroshenko, B. Ghazi, P. Kamath, R. Kumar and P. Manurangsi, "Connect the Dots:
   Tighter Discrete Approximations of Privacy Loss Distributions", Proceedings on Privacy
   Enhancing Technologies, 2022(4), 552-570, 2022. DOI: 10.56553/popets-2022-0122
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Sequence
from typing import Literal

import dp_accounting
import numpy as np
import torch
from dp_accounting import pld, rdp
from pydantic import Field

from qnetrl._validation import InvalidParameterError, check_choice, check_range
from qnetrl.config import ConfigBase

__all__ = [
    "FedAvgConfig",
    "FederatedAveraging",
    "assign_flat",
    "clip_updates",
    "dp_fedavg_update",
    "fedavg_update",
    "flatten_stacked",
    "privacy_epsilon",
]

Accountant = Literal["rdp", "pld", "moments"]


class FedAvgConfig(ConfigBase):
    """Federated averaging rounds and their differential privacy (DP-FedAvg of [2]_)."""

    enabled: bool = Field(False, description="Run federated averaging rounds at all.")
    every_k_updates: int = Field(
        10, ge=1, description="Policy updates (PPO iterations) between two averaging rounds."
    )
    sample_rate: float = Field(
        1.0, gt=0.0, le=1.0, description="Probability q that an agent takes part in a round."
    )
    dp_enabled: bool = Field(
        False, description="Clip each agent's update and add Gaussian noise (DP-FedAvg)."
    )
    clip_norm: float = Field(
        1.0, gt=0.0, lt=math.inf, description="L2 bound C on each agent's weight update."
    )
    noise_multiplier: float = Field(
        1.0, ge=0.0, description="z: noise std is z*C on the sum, z*C/(q*A) on the average."
    )
    delta: float = Field(
        1e-5, gt=0.0, lt=1.0, description="Target delta of the (epsilon, delta) guarantee."
    )
    share_critic: bool = Field(
        True, description="Average the critic's weights too (False: the actor's only)."
    )
    pld_discretization: float = Field(
        1e-4, gt=0.0, le=0.1, description="PLD accountant value grid (smaller: tighter, slower)."
    )


def flatten_stacked(params: Sequence[torch.Tensor]) -> torch.Tensor:
    """Concatenate stacked tensors of shapes (A, ...) into one (A, P) matrix (a copy)."""
    a = params[0].shape[0]
    return torch.cat([p.detach().reshape(a, -1) for p in params], dim=1)


@torch.no_grad()
def assign_flat(params: Sequence[torch.Tensor], flat: torch.Tensor) -> None:
    """Write a flat (P,) vector (to every agent) or an (A, P) matrix back into ``params``."""
    a = params[0].shape[0]
    flat = flat.expand(a, -1) if flat.dim() == 1 else flat
    offset = 0
    for p in params:
        size = p[0].numel()
        p.copy_(flat[:, offset : offset + size].reshape(p.shape))
        offset += size


def clip_updates(deltas: torch.Tensor, clip_norm: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale each agent's update down to L2 norm at most ``clip_norm`` (flat clipping of [2]_).

    Parameters
    ----------
    deltas : Tensor of shape (A, P)
        Per-agent weight updates :math:`\\Delta_a`.
    clip_norm : float
        Bound :math:`C > 0`.

    Returns
    -------
    clipped : Tensor of shape (A, P)
        :math:`\\Delta_a \\min(1, C / \\lVert \\Delta_a \\rVert_2)`.
    norms : Tensor of shape (A,)
        :math:`\\lVert \\Delta_a \\rVert_2` before clipping.

    Notes
    -----
    The flat clipping function :math:`\\pi(\\Delta, S)` of Algorithm 1 of [2]_.

    Examples
    --------
    >>> deltas = torch.tensor([[3.0, 4.0], [0.3, 0.4]], dtype=torch.float64)
    >>> clipped, norms = clip_updates(deltas, 1.0)
    >>> norms.tolist(), torch.linalg.vector_norm(clipped, dim=1).tolist()
    ([5.0, 0.5], [1.0, 0.5])
    """
    check_range("clip_norm", clip_norm, owner="clip_updates", low=0.0, low_inclusive=False)
    norms = torch.linalg.vector_norm(deltas, dim=1)
    scale = (clip_norm / norms.clamp_min(torch.finfo(deltas.dtype).tiny)).clamp(max=1.0)
    return deltas * scale.unsqueeze(1), norms


def fedavg_update(deltas: torch.Tensor, selected: torch.Tensor) -> torch.Tensor:
    """Plain FedAvg update: the mean of the selected agents' updates (zero if none).

    Parameters
    ----------
    deltas : Tensor of shape (A, P)
        Per-agent weight updates.
    selected : bool Tensor of shape (A,)
        Agents taking part in the round.

    Returns
    -------
    Tensor of shape (P,)
        :math:`\\frac{1}{|S|} \\sum_{a \\in S} \\Delta_a` (equal weights, Eq. of Sec. 2 of
        [1]_ with :math:`n_k` equal).
    """
    n = int(selected.sum())
    if n == 0:
        return torch.zeros(deltas.shape[1], dtype=deltas.dtype, device=deltas.device)
    return deltas[selected].mean(0)


def dp_fedavg_update(
    deltas: torch.Tensor,
    selected: torch.Tensor,
    *,
    clip_norm: float,
    noise_multiplier: float,
    sample_rate: float,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """DP-FedAvg update: clipped sum plus Gaussian noise over the expected participant count.

    Parameters
    ----------
    deltas : Tensor of shape (A, P)
        Per-agent weight updates.
    selected : bool Tensor of shape (A,)
        Agents drawn for this round (Poisson sampling with probability ``sample_rate``).
    clip_norm : float
        Per-agent L2 bound C.
    noise_multiplier : float
        z (non-negative).
    sample_rate : float
        q in (0, 1].
    generator : torch.Generator, optional
        Random source of the noise.

    Returns
    -------
    update : Tensor of shape (P,)
        The noised average update.
    norms : Tensor of shape (A,)
        Every agent's update norm before clipping.

    Notes
    -----
    The fixed-denominator estimator with equal weights of Algorithm 1 of [2]_:

    .. math::

        \\Delta = \\frac{1}{qA}\\Big(\\sum_{a \\in S} \\Delta_a
        \\min\\big(1, \\tfrac{C}{\\lVert \\Delta_a \\rVert}\\big)
        + \\mathcal N(0, z^2 C^2 I)\\Big),

    i.e. noise std :math:`\\sigma = zC/(qA)` on the average. Dividing by the expected rather
    than the realised count keeps the sensitivity of the sum at C.
    """
    check_range("noise_multiplier", noise_multiplier, owner="dp_fedavg_update", low=0.0)
    check_range(
        "sample_rate", sample_rate, owner="dp_fedavg_update", low=0.0, high=1.0, low_inclusive=False
    )
    clipped, norms = clip_updates(deltas, clip_norm)
    total = clipped[selected].sum(0)
    if noise_multiplier > 0:
        noise = torch.randn(
            total.shape, generator=generator, dtype=total.dtype, device=total.device
        )
        total = total + noise_multiplier * clip_norm * noise
    return total / (sample_rate * deltas.shape[0]), norms


@contextlib.contextmanager
def _quiet_absl() -> Iterator[None]:
    """Silence dp-accounting's absl warnings about RDP orders it drops while composing."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _moments_epsilon(accountant: rdp.RdpAccountant, delta: float) -> float:
    """Abadi et al.'s moments-accountant tail bound (Thm. 2 of [3]_, Prop. 3 of [4]_)."""
    # dp-accounting keeps the composed RDP curve in private attributes; its public
    # get_epsilon applies the tighter conversion of Canonne, Kamath and Steinke (2020).
    orders = np.asarray(accountant._orders, dtype=np.float64)
    rdp_values = np.asarray(accountant._rdp, dtype=np.float64)
    eps = rdp_values - math.log(delta) / (orders - 1.0)
    return float(max(0.0, np.min(eps)))


def privacy_epsilon(
    noise_multiplier: float,
    sampling_rate: float,
    rounds: int,
    delta: float,
    accountant: Accountant = "rdp",
    *,
    pld_discretization: float = 1e-4,
) -> float:
    """Epsilon of ``rounds`` Poisson-subsampled Gaussian mechanisms at the given delta.

    Parameters
    ----------
    noise_multiplier : float
        z, the noise std in units of the sensitivity C (default none; z = 0 gives inf).
    sampling_rate : float
        Poisson sampling probability q of each agent per round, in (0, 1].
    rounds : int
        Number of composed rounds (0 gives 0.0).
    delta : float
        Target delta in (0, 1).
    accountant : {"rdp", "pld", "moments"}, default="rdp"
        ``"rdp"``: ``dp_accounting.rdp.RdpAccountant`` [4]_ [5]_ with its default orders and
        the library's (tighter) RDP-to-DP conversion; ``"pld"``:
        ``dp_accounting.pld.PLDAccountant`` [6]_, the tightest;
        ``"moments"``: the same RDP curve converted with the moments-accountant bound of
        [3]_ (used by the DP-FedAvg paper [2]_ and TensorFlow Privacy up to 2020), to compare
        with published figures.
    pld_discretization : float, default=1e-4
        ``value_discretization_interval`` of the PLD accountant; the result stays a valid
        (pessimistic) bound, and a coarser grid (1e-3) runs about 10x faster.

    Returns
    -------
    float
        The smallest epsilon the accountant certifies (``math.inf`` when z = 0).

    Notes
    -----
    Each round is ``PoissonSampledDpEvent(q, GaussianDpEvent(z))``, composed ``rounds`` times
    under add-or-remove-one adjacency. For q < 1 the library drops the fractional RDP orders
    whose series fails to converge (it logs a warning, silenced here); fewer orders can only
    raise the reported epsilon, so the figure stays a valid bound. The moments bound is

    .. math::

        \\varepsilon = \\min_\\alpha \\Big(T \\cdot \\mathrm{RDP}_\\alpha
        + \\frac{\\log(1/\\delta)}{\\alpha - 1}\\Big).

    Examples
    --------
    Section 3.1 of [3]_: q = 0.01, z = 4, delta = 1e-5 and T = 10,000 steps give
    epsilon of about 1.26 with the moments accountant.

    >>> round(privacy_epsilon(4.0, 0.01, 10_000, 1e-5, accountant="moments"), 2)
    1.26
    """
    owner = "privacy_epsilon"
    check_range("noise_multiplier", noise_multiplier, owner=owner, low=0.0)
    check_range("sampling_rate", sampling_rate, owner=owner, low=0.0, high=1.0, low_inclusive=False)
    check_range(
        "delta", delta, owner=owner, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False
    )
    if isinstance(rounds, bool) or not isinstance(rounds, int | np.integer) or rounds < 0:
        raise InvalidParameterError(
            f"The 'rounds' parameter of {owner} must be an int in the range [0, inf). "
            f"Got {rounds!r} instead."
        )
    check_choice("accountant", accountant, ("rdp", "pld", "moments"), owner=owner)
    if rounds == 0:
        return 0.0
    if noise_multiplier == 0:
        return math.inf
    event = dp_accounting.PoissonSampledDpEvent(
        float(sampling_rate), dp_accounting.GaussianDpEvent(float(noise_multiplier))
    )
    if accountant == "pld":
        check_range(
            "pld_discretization", pld_discretization, owner=owner, low=0.0, low_inclusive=False
        )
        acc_pld = pld.PLDAccountant(value_discretization_interval=float(pld_discretization))
        acc_pld.compose(event, int(rounds))
        return float(acc_pld.get_epsilon(float(delta)))
    acc = rdp.RdpAccountant()
    with _quiet_absl():
        acc.compose(event, int(rounds))
    if accountant == "moments":
        return _moments_epsilon(acc, float(delta))
    return float(acc.get_epsilon(float(delta)))


class FederatedAveraging:
    """Periodic (DP-)FedAvg rounds over stacked per-agent weights, with privacy accounting.

    On construction the global model is the mean of the agents' weights and every agent is
    set to it, so all agents start from one model as in [1]_. Each round then replaces every
    agent's weights by the new global model.

    Parameters
    ----------
    config : FedAvgConfig
        Round cadence, sampling, clipping, noise and delta.
    params : sequence of Tensor
        The shared weights, each of shape (A, ...) with the same A, modified in place.
    rng : numpy.random.Generator
        Random source of the agent sampling and (through a derived torch generator) the noise.

    Attributes
    ----------
    rounds : int
        Rounds done so far.
    global_weights : Tensor of shape (P,)
        The current global model, flattened.
    accountant : dp_accounting.rdp.RdpAccountant
        RDP accountant composed with one event per DP round (about 0.1 s per round on one
        core for q < 1, the cost of the library's RDP series).
    """

    def __init__(
        self, config: FedAvgConfig, params: Sequence[torch.Tensor], rng: np.random.Generator
    ) -> None:
        if not isinstance(config, FedAvgConfig):
            raise InvalidParameterError(
                "The 'config' parameter of FederatedAveraging must be a FedAvgConfig. "
                f"Got {type(config).__name__} instead."
            )
        self.params = list(params)
        if not self.params or len({p.shape[0] for p in self.params}) != 1:
            raise InvalidParameterError(
                "The 'params' parameter of FederatedAveraging must be a non-empty sequence of "
                "tensors sharing the leading agent axis A. Got shapes "
                f"{[tuple(p.shape) for p in self.params]} instead."
            )
        self.config = config
        self.num_agents = int(self.params[0].shape[0])
        self.rng = rng
        device = self.params[0].device
        self.generator = torch.Generator(device=device).manual_seed(int(rng.integers(0, 2**63 - 1)))
        self.global_weights = flatten_stacked(self.params).mean(0)
        assign_flat(self.params, self.global_weights)
        self.accountant = rdp.RdpAccountant()
        self.rounds = 0
        self._event = dp_accounting.PoissonSampledDpEvent(
            config.sample_rate, dp_accounting.GaussianDpEvent(config.noise_multiplier)
        )

    def step(self, update: int) -> dict[str, float] | None:
        """Run a round if ``update`` (1-based count of policy updates) is a multiple of K."""
        if not self.config.enabled or update % self.config.every_k_updates != 0:
            return None
        return self.aggregate()

    @torch.no_grad()
    def aggregate(self) -> dict[str, float]:
        """One round: sample agents, (clip, noise and) average updates, broadcast the model.

        Returns
        -------
        dict
            ``charts/fedavg_round``, ``charts/fedavg_participants``,
            ``charts/fedavg_update_norm`` (mean pre-clip norm of the participants),
            ``charts/fedavg_clipped_frac`` and, with DP, ``charts/epsilon`` (RDP, when
            finite).
        """
        cfg = self.config
        deltas = flatten_stacked(self.params) - self.global_weights
        selected_np = self.rng.random(self.num_agents) < cfg.sample_rate
        selected = torch.as_tensor(selected_np, device=deltas.device)
        if cfg.dp_enabled:
            update, norms = dp_fedavg_update(
                deltas,
                selected,
                clip_norm=cfg.clip_norm,
                noise_multiplier=cfg.noise_multiplier,
                sample_rate=cfg.sample_rate,
                generator=self.generator,
            )
            with _quiet_absl():
                self.accountant.compose(self._event)
        else:
            update = fedavg_update(deltas, selected)
            norms = torch.linalg.vector_norm(deltas, dim=1)
        self.global_weights = self.global_weights + update
        assign_flat(self.params, self.global_weights)
        self.rounds += 1
        n_sel = int(selected_np.sum())
        record: dict[str, float] = {
            "charts/fedavg_round": float(self.rounds),
            "charts/fedavg_participants": float(n_sel),
            "charts/fedavg_update_norm": float(norms[selected].mean()) if n_sel else 0.0,
            "charts/fedavg_clipped_frac": (
                float((norms[selected] > cfg.clip_norm).float().mean())
                if cfg.dp_enabled and n_sel
                else 0.0
            ),
        }
        if cfg.dp_enabled:
            eps = self.epsilon("rdp")
            if math.isfinite(eps):
                record["charts/epsilon"] = eps
        return record

    def epsilon(self, accountant: Accountant = "rdp") -> float:
        """Privacy loss of the rounds so far at ``config.delta`` (``math.inf`` without DP).

        ``"rdp"`` reads the running accountant; ``"pld"`` and ``"moments"`` recompute with
        :func:`privacy_epsilon`.
        """
        check_choice("accountant", accountant, ("rdp", "pld", "moments"), owner="epsilon")
        cfg = self.config
        if self.rounds == 0:
            return 0.0
        if not cfg.dp_enabled or cfg.noise_multiplier == 0:
            return math.inf
        if accountant == "rdp":
            return float(self.accountant.get_epsilon(cfg.delta))
        return privacy_epsilon(
            cfg.noise_multiplier,
            cfg.sample_rate,
            self.rounds,
            cfg.delta,
            accountant,
            pld_discretization=cfg.pld_discretization,
        )
