"""Online demand forecaster: one GRU per node, all A nodes evaluated as one batched network.

Each network node (agent) forecasts its own request counts ``horizon`` steps ahead from the
last ``window`` counts. The A GRUs [1]_ are stored as stacked weights (A, in, 3H) and run in
one pass of batched matrix products per time step (:class:`StackedGRUCell`), never in a Python
loop over nodes; a stacked linear head maps the last hidden state to the ``horizon``
forecasts. :meth:`GRUForecaster.fit_step` trains online on sliding windows of the history
seen so far, with per-node losses summed and gradients clipped per node, so the nodes learn
independently. Forecasts are judged against the persistence (random-walk) forecast with MAE,
RMSE and their ratios to the benchmark's, the relative measures of [2]_.

Paper: https://arxiv.org/abs/1406.1078 (GRU).

References
----------
.. [1] K. Cho, B. van Merriënboer, C. Gulcehre, D. Bahdanau, F. Bougares, H. Schwenk and
   Y. Bengio, "Learning Phrase Representations using RNN Encoder-Decoder for Statistical
   Machine Translation", Proceedings of the 2014 Conference on Empirical Methods in Natural
   Language Processing (EMNLP), 1724-1734, 2014. DOI: 10.3115/v1/D14-1179
.. [2] R. J. Hyndman and A. B. Koehler, "Another look at measures of forecast accuracy",
   International Journal of Forecasting, 22(4), 679-688, 2006.
   DOI: 10.1016/j.ijforecast.2006.03.001
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from pydantic import Field
from torch import nn

from qnetrl._validation import InvalidParameterError, check_range
from qnetrl.agents.mappo import StackedLinear, clip_grad_norm_per_agent_
from qnetrl.config import ConfigBase

__all__ = [
    "ForecasterConfig",
    "GRUForecaster",
    "OnlineForecast",
    "StackedGRUCell",
    "forecast_error",
    "online_forecast",
    "persistence_baseline",
]


class ForecasterConfig(ConfigBase):
    """Hyperparameters of the per-node GRU demand forecaster."""

    window: int = Field(24, ge=1, description="Past steps fed to the GRU for one forecast.")
    horizon: int = Field(5, ge=1, description="Steps ahead forecast at once (h).")
    hidden_size: int = Field(32, ge=1, description="GRU hidden units H per node.")
    lr: float = Field(1e-2, gt=0.0, le=1.0, description="Adam learning rate.")
    batch_size: int = Field(64, ge=1, description="Windows per node per gradient step.")
    grad_steps: int = Field(1, ge=1, description="Gradient steps per fit_step call.")
    train_span: int = Field(
        512, ge=2, description="Most recent history steps from which training windows are cut."
    )
    max_grad_norm: float = Field(
        1.0, gt=0.0, description="Max gradient L2 norm per node (math.inf: no clipping)."
    )
    residual: bool = Field(
        True, description="Forecast the change from the last count (persistence + correction)."
    )
    norm_momentum: float = Field(
        0.05, gt=0.0, le=1.0, description="EMA rate of the per-node mean and std used to scale."
    )
    nonnegative: bool = Field(True, description="Clamp forecasts at 0 (counts).")


class StackedGRUCell(nn.Module):
    """A independent GRU cells with stacked weights, advanced together by batched matmuls.

    Parameters
    ----------
    num_agents : int
        Number A of cells.
    input_size : int
        Input features per step.
    hidden_size : int
        Hidden units H.
    generator : torch.Generator, optional
        Random source of the initialisation (default: the global torch RNG).

    Attributes
    ----------
    weight_ih : torch.nn.Parameter of shape (A, input_size, 3H)
        Input weights, gate blocks in the order (r, z, n): ``nn.GRUCell.weight_ih.T``.
    weight_hh : torch.nn.Parameter of shape (A, H, 3H)
        Recurrent weights: ``nn.GRUCell.weight_hh.T``.
    bias_ih, bias_hh : torch.nn.Parameter of shape (A, 3H)
        Biases, as in ``nn.GRUCell``.

    Notes
    -----
    Eqs. 5-8 of [1]_ in the form of ``torch.nn.GRUCell`` (cuDNN's):

    .. math::

        r = \\sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}), \\quad
        z = \\sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}),

        n = \\tanh(W_{in} x + b_{in} + r \\odot (W_{hn} h + b_{hn})), \\quad
        h' = (1 - z) \\odot n + z \\odot h.

    Deviation from Eq. 8 of [1]_: the reset gate multiplies :math:`W_{hn} h + b_{hn}` rather
    than :math:`h` before the product, as torch and cuDNN do; initialisation is torch's,
    uniform on :math:`[-1/\\sqrt{H}, 1/\\sqrt{H}]`.
    """

    def __init__(
        self,
        num_agents: int,
        input_size: int,
        hidden_size: int,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        a, h = num_agents, hidden_size
        self.num_agents, self.input_size, self.hidden_size = a, input_size, h
        self.weight_ih = nn.Parameter(torch.empty(a, input_size, 3 * h))
        self.weight_hh = nn.Parameter(torch.empty(a, h, 3 * h))
        self.bias_ih = nn.Parameter(torch.empty(a, 3 * h))
        self.bias_hh = nn.Parameter(torch.empty(a, 3 * h))
        bound = 1.0 / math.sqrt(h)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.rand(p.shape, generator=generator) * (2 * bound) - bound)

    def _gates(self, gi: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """New hidden state from input pre-activations ``gi`` (A, N, 3H) and state h."""
        gh = torch.baddbmm(self.bias_hh.unsqueeze(1), h, self.weight_hh)
        hs = self.hidden_size
        r, z = torch.sigmoid(gi[..., : 2 * hs] + gh[..., : 2 * hs]).chunk(2, dim=-1)
        n = torch.tanh(gi[..., 2 * hs :] + r * gh[..., 2 * hs :])
        return n + z * (h - n)  # (1 - z) * n + z * h

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        """One step: inputs (A, N, input_size) and state (A, N, H) to the new state (A, N, H)."""
        if h is None:
            h = x.new_zeros(x.shape[0], x.shape[1], self.hidden_size)
        gi = torch.baddbmm(self.bias_ih.unsqueeze(1), x, self.weight_ih)
        return self._gates(gi, h)

    def forward_sequence(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        """Run sequences (A, N, L, input_size) from state ``h`` (zeros); final state (A, N, H).

        The input projections of all L steps are one batched product; only the recurrence
        loops over time.
        """
        a, n, length, d = x.shape
        gi = torch.baddbmm(self.bias_ih.unsqueeze(1), x.reshape(a, n * length, d), self.weight_ih)
        gi = gi.view(a, n, length, -1)
        if h is None:
            h = x.new_zeros(a, n, self.hidden_size)
        for t in range(length):
            h = self._gates(gi[:, :, t], h)
        return h

    @classmethod
    def from_cells(cls, cells: Sequence[nn.GRUCell]) -> StackedGRUCell:
        """Stack the weights of A ``nn.GRUCell`` of equal sizes (copies, not views)."""
        first = cells[0]
        stacked = cls(len(cells), first.input_size, first.hidden_size)
        with torch.no_grad():
            stacked.weight_ih.copy_(torch.stack([c.weight_ih.detach().T for c in cells]))
            stacked.weight_hh.copy_(torch.stack([c.weight_hh.detach().T for c in cells]))
            stacked.bias_ih.copy_(torch.stack([c.bias_ih.detach() for c in cells]))
            stacked.bias_hh.copy_(torch.stack([c.bias_hh.detach() for c in cells]))
        return stacked.to(device=first.weight_ih.device, dtype=first.weight_ih.dtype)


class GRUForecaster(nn.Module):
    """Per-node GRU forecasters of request counts, batched across the A nodes.

    Parameters
    ----------
    num_agents : int
        Number A of nodes.
    config : ForecasterConfig, optional
        Hyperparameters (defaults if omitted).
    rng : numpy.random.Generator
        Random source of the initialisation and of the training-window sampling.

    Attributes
    ----------
    cell : StackedGRUCell
        The A GRU cells (one input feature: the scaled count).
    head : StackedLinear
        Last hidden state (A, N, H) to scaled forecasts (A, N, horizon).
    loc, scale : Tensor of shape (A,)
        Per-node running mean and standard deviation of the counts (EMA over
        :meth:`fit_step` calls); counts are scaled as ``(y - loc) / scale``.
    """

    def __init__(
        self,
        num_agents: int,
        config: ForecasterConfig | None = None,
        *,
        rng: np.random.Generator,
    ) -> None:
        super().__init__()
        check_range("num_agents", num_agents, owner="GRUForecaster", low=1)
        if not isinstance(rng, np.random.Generator):
            raise InvalidParameterError(
                "The 'rng' parameter of GRUForecaster must be a numpy.random.Generator. "
                f"Got {type(rng).__name__} instead."
            )
        self.config = cfg = config if config is not None else ForecasterConfig()
        self.num_agents = int(num_agents)
        self.generator = torch.Generator().manual_seed(int(rng.integers(0, 2**63 - 1)))
        self.cell = StackedGRUCell(self.num_agents, 1, cfg.hidden_size, generator=self.generator)
        self.head = StackedLinear(
            self.num_agents, cfg.hidden_size, cfg.horizon, std=0.01, generator=self.generator
        )
        self.register_buffer("loc", torch.zeros(self.num_agents))
        self.register_buffer("scale", torch.ones(self.num_agents))
        self.stats_initialised = False
        self.optimizer = torch.optim.Adam(self.parameters(), lr=cfg.lr, fused=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scaled windows (A, N, window) to scaled forecasts (A, N, horizon)."""
        out = self.head(self.cell.forward_sequence(x.unsqueeze(-1)))
        return out + x[..., -1:] if self.config.residual else out

    def _check_history(self, history: ArrayLike, name: str, owner: str) -> NDArray[np.float64]:
        arr = np.asarray(history, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != self.num_agents:
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must be an array of shape (T, "
                f"{self.num_agents}). Got shape {arr.shape} instead."
            )
        check_range(name, arr, owner=owner)
        return arr

    @torch.no_grad()
    def _update_stats(self, history: NDArray[np.float64]) -> None:
        mean = torch.as_tensor(history.mean(0), dtype=self.loc.dtype)
        var = torch.as_tensor(history.var(0), dtype=self.loc.dtype)
        if not self.stats_initialised:
            self.loc.copy_(mean)
            self.scale.copy_(var.sqrt())
            self.stats_initialised = True
        else:
            m = self.config.norm_momentum
            self.loc.lerp_(mean, m)
            self.scale.copy_(torch.lerp(self.scale.square(), var, m).sqrt())
        self.scale.clamp_(min=1e-3)

    def fit_step(self, history: ArrayLike) -> float:
        """Train on sliding windows of a node-by-step count history; return the loss.

        Parameters
        ----------
        history : array_like of shape (T, A)
            Request counts of every node, oldest first, one row per step (T at least
            ``window + horizon``). Only the last ``train_span`` steps are used.

        Returns
        -------
        float
            Mean over nodes of the last gradient step's mean squared error (scaled units).

        Notes
        -----
        Updates the per-node scaling statistics, then takes ``grad_steps`` Adam steps, each
        on ``batch_size`` windows per node drawn uniformly with replacement (all windows when
        there are no more than ``batch_size``). Window ``i`` is the input
        ``history[i : i + window]`` and the target ``history[i + window : i + window + h]``.
        """
        cfg = self.config
        hist = self._check_history(history, "history", "GRUForecaster.fit_step")
        need = cfg.window + cfg.horizon
        if hist.shape[0] < need:
            raise InvalidParameterError(
                "The 'history' parameter of GRUForecaster.fit_step must have at least "
                f"window + horizon = {need} steps. Got {hist.shape[0]} instead."
            )
        hist = hist[-max(cfg.train_span, need) :]
        self._update_stats(hist)
        counts = torch.as_tensor(hist.T, dtype=self.loc.dtype)  # (A, T)
        z = (counts - self.loc[:, None]) / self.scale[:, None]
        windows = z.unfold(1, need, 1)  # (A, n_windows, window + horizon)
        n_windows = windows.shape[1]
        loss_a = torch.zeros(self.num_agents)
        for _ in range(cfg.grad_steps):
            if n_windows <= cfg.batch_size:
                batch = windows
            else:
                idx = torch.randint(n_windows, (cfg.batch_size,), generator=self.generator)
                batch = windows[:, idx]
            pred = self(batch[..., : cfg.window])
            loss_a = (pred - batch[..., cfg.window :]).square().mean((1, 2))
            self.optimizer.zero_grad(set_to_none=True)
            loss_a.sum().backward()
            clip_grad_norm_per_agent_(self.parameters(), cfg.max_grad_norm)
            self.optimizer.step()
        return float(loss_a.detach().mean())

    @torch.no_grad()
    def predict(self, recent: ArrayLike) -> NDArray[np.float64]:
        """Forecast the next ``horizon`` counts of every node.

        Parameters
        ----------
        recent : array_like of shape (A, W) or (B, A, W)
            The latest counts of each node, oldest first, W at least ``window`` (the last
            ``window`` are used); a leading batch axis B forecasts B histories at once.

        Returns
        -------
        ndarray of shape (A, horizon) or (B, A, horizon)
            Forecast counts for the next 1..horizon steps (clamped at 0 if ``nonnegative``).
        """
        cfg = self.config
        arr = np.asarray(recent, dtype=np.float64)
        if arr.ndim not in (2, 3) or arr.shape[-2] != self.num_agents:
            raise InvalidParameterError(
                "The 'recent' parameter of GRUForecaster.predict must be an array of shape "
                f"(A, W) or (B, A, W) with A = {self.num_agents}. Got shape {arr.shape} instead."
            )
        if arr.shape[-1] < cfg.window:
            raise InvalidParameterError(
                "The 'recent' parameter of GRUForecaster.predict must hold at least "
                f"window = {cfg.window} steps. Got {arr.shape[-1]} instead."
            )
        check_range("recent", arr, owner="GRUForecaster.predict")
        batched = arr.reshape(-1, self.num_agents, arr.shape[-1])[..., -cfg.window :]
        x = torch.as_tensor(batched.transpose(1, 0, 2), dtype=self.loc.dtype)  # (A, B, W)
        z = (x - self.loc[:, None, None]) / self.scale[:, None, None]
        pred = self(z) * self.scale[:, None, None] + self.loc[:, None, None]
        if cfg.nonnegative:
            pred = pred.clamp_min(0.0)
        out = pred.transpose(0, 1).numpy().astype(np.float64)
        return out[0] if arr.ndim == 2 else out


def persistence_baseline(recent: ArrayLike, horizon: int) -> NDArray[np.float64]:
    """Persistence (naive, random-walk) forecast: every future step equals the last count.

    Parameters
    ----------
    recent : array_like of shape (..., W)
        Latest counts, oldest first (W at least 1).
    horizon : int
        Steps ahead h (at least 1).

    Returns
    -------
    ndarray of shape (..., h)
        :math:`\\hat y_{t+k} = y_t` for :math:`k = 1..h`, the benchmark of [2]_.

    Examples
    --------
    >>> persistence_baseline([[1, 2, 3], [4, 5, 0]], 2).tolist()
    [[3.0, 3.0], [0.0, 0.0]]
    """
    check_range("horizon", horizon, owner="persistence_baseline", low=1)
    arr = np.asarray(recent, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise InvalidParameterError(
            "The 'recent' parameter of persistence_baseline must have at least one step on "
            f"its last axis. Got shape {arr.shape} instead."
        )
    return np.repeat(arr[..., -1:], int(horizon), axis=-1)


def forecast_error(
    pred: ArrayLike,
    actual: ArrayLike,
    baseline: ArrayLike | None = None,
    *,
    axis: int | tuple[int, ...] | None = None,
) -> dict[str, float | NDArray[np.float64]]:
    """MAE and RMSE of forecasts, and their ratios to a benchmark forecast's.

    Parameters
    ----------
    pred : array_like
        Forecasts, e.g. of shape (K, A, h).
    actual : array_like
        Observed values, same shape as ``pred``.
    baseline : array_like, optional
        Benchmark forecasts (e.g. :func:`persistence_baseline`), same shape.
    axis : int or tuple of int, optional
        Axes averaged over (default all, giving floats); e.g. ``axis=(0, 1)`` gives one
        figure per horizon step.

    Returns
    -------
    dict
        ``mae`` and ``rmse``; with ``baseline`` also ``mae_baseline``, ``rmse_baseline``,
        ``rel_mae`` (MAE / MAE of the benchmark) and ``rel_rmse``. Ratios below 1 mean the
        forecast beats the benchmark (``inf`` or ``nan`` where the benchmark is exact).

    Notes
    -----
    With :math:`e = y - \\hat y`: :math:`\\mathrm{MAE} = \\mathrm{mean}(|e|)`,
    :math:`\\mathrm{RMSE} = \\sqrt{\\mathrm{mean}(e^2)}` (the scale-dependent measures of
    [2]_), and the relative measure :math:`\\mathrm{RelMAE} = \\mathrm{MAE} / \\mathrm{MAE}_b`
    of [2]_ with the random walk (persistence) as benchmark b; RelRMSE likewise.

    Examples
    --------
    >>> err = forecast_error([1.0, 2.0], [2.0, 4.0], baseline=[0.0, 0.0])
    >>> err["mae"], round(err["rmse"] ** 2, 12), err["rel_mae"]
    (1.5, 2.5, 0.5)
    """
    p = np.asarray(pred, dtype=np.float64)
    y = np.asarray(actual, dtype=np.float64)
    if p.shape != y.shape:
        raise InvalidParameterError(
            f"The 'actual' parameter of forecast_error must have the shape of 'pred' {p.shape}. "
            f"Got {y.shape} instead."
        )

    def _scores(f: NDArray[np.float64]) -> tuple[float | NDArray, float | NDArray]:
        e = y - f
        mae = np.mean(np.abs(e), axis=axis)
        rmse = np.sqrt(np.mean(e**2, axis=axis))
        return (float(mae), float(rmse)) if axis is None else (mae, rmse)

    mae, rmse = _scores(p)
    out: dict[str, float | NDArray[np.float64]] = {"mae": mae, "rmse": rmse}
    if baseline is not None:
        b = np.asarray(baseline, dtype=np.float64)
        if b.shape != y.shape:
            raise InvalidParameterError(
                "The 'baseline' parameter of forecast_error must have the shape of 'pred' "
                f"{p.shape}. Got {b.shape} instead."
            )
        mae_b, rmse_b = _scores(b)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel_mae = np.divide(mae, mae_b)
            rel_rmse = np.divide(rmse, rmse_b)
        out["mae_baseline"], out["rmse_baseline"] = mae_b, rmse_b
        out["rel_mae"] = float(rel_mae) if axis is None else rel_mae
        out["rel_rmse"] = float(rel_rmse) if axis is None else rel_rmse
    return out


@dataclass
class OnlineForecast:
    """What :func:`online_forecast` returns (K forecast origins, A nodes, h steps ahead).

    Attributes
    ----------
    origins : ndarray of shape (K,)
        Forecast origins t: counts ``series[:t]`` were known, ``series[t:t+h]`` forecast.
    pred : ndarray of shape (K, A, h)
        GRU forecasts.
    actual : ndarray of shape (K, A, h)
        Observed counts.
    persistence : ndarray of shape (K, A, h)
        Persistence forecasts from the same origins.
    losses : ndarray of shape (F,)
        Training loss of each :meth:`GRUForecaster.fit_step` call.
    """

    origins: NDArray[np.int64]
    pred: NDArray[np.float64]
    actual: NDArray[np.float64]
    persistence: NDArray[np.float64]
    losses: NDArray[np.float64]

    def errors(self) -> dict[str, float | NDArray[np.float64]]:
        """:func:`forecast_error` of the GRU against persistence over all origins."""
        return forecast_error(self.pred, self.actual, self.persistence)


def online_forecast(
    forecaster: GRUForecaster,
    series: ArrayLike,
    *,
    start: int,
    fit_every: int = 1,
) -> OnlineForecast:
    """Walk forward through a count series, training online and forecasting from each origin.

    At every origin t from ``start`` to ``T - horizon`` the forecaster, trained only on
    ``series[:t]``, forecasts ``series[t : t + horizon]``. It is trained (one
    :meth:`GRUForecaster.fit_step` on ``series[:t]``) at ``start`` and every ``fit_every``
    origins after; forecasts between two fits run as one batched call.

    Parameters
    ----------
    forecaster : GRUForecaster
        Model to train and query (modified in place).
    series : array_like of shape (T, A)
        Counts of every node, one row per step.
    start : int
        First origin, at least ``window + horizon`` (so the first fit has one window).
    fit_every : int, default=1
        Origins between two training steps.

    Returns
    -------
    OnlineForecast
        Forecasts, observations and the persistence benchmark at each origin.
    """
    cfg = forecaster.config
    arr = forecaster._check_history(series, "series", "online_forecast")
    t_total, h, w = arr.shape[0], cfg.horizon, cfg.window
    check_range("start", start, owner="online_forecast", low=w + h, high=t_total - h)
    check_range("fit_every", fit_every, owner="online_forecast", low=1)
    origins = np.arange(int(start), t_total - h + 1)
    pred = np.empty((origins.size, arr.shape[1], h))
    losses = []
    for first in range(0, origins.size, int(fit_every)):
        block = origins[first : first + int(fit_every)]
        losses.append(forecaster.fit_step(arr[: block[0]]))
        windows = arr[block[:, None] + np.arange(-w, 0)[None, :]]  # (k, w, A)
        pred[first : first + block.size] = forecaster.predict(windows.transpose(0, 2, 1))
    actual = arr[origins[:, None] + np.arange(h)[None, :]].transpose(0, 2, 1)
    last = arr[origins - 1][:, :, None]
    return OnlineForecast(
        origins=origins,
        pred=pred,
        actual=actual,
        persistence=persistence_baseline(last, h),
        losses=np.asarray(losses, dtype=np.float64),
    )
