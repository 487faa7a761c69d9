"""Tests of the batched GRU demand forecaster: equivalence with nn.GRUCell, online skill."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from qnetrl._validation import InvalidParameterError
from qnetrl.agents.forecaster import (
    ForecasterConfig,
    GRUForecaster,
    StackedGRUCell,
    forecast_error,
    online_forecast,
    persistence_baseline,
)
from qnetrl.config import ConfigError, invalid_examples

torch.set_num_threads(1)


def seasonal_ar_demand(rng, num_nodes=6, steps=220, period=8):
    """Poisson request counts whose log-rate is a per-node daily cycle plus an AR(1) term."""
    t = np.arange(steps)[:, None]
    base = rng.uniform(5.0, 15.0, num_nodes)
    phase = rng.uniform(0.0, 2 * np.pi, num_nodes)
    ar = np.zeros((steps, num_nodes))
    shocks = rng.normal(0.0, 0.1, (steps, num_nodes))
    for k in range(1, steps):
        ar[k] = 0.8 * ar[k - 1] + shocks[k]
    rate = base * np.exp(0.5 * np.sin(2 * np.pi * t / period + phase) + ar)
    return rng.poisson(rate).astype(np.float64)


def test_config_errors_name_field_and_range():
    cfg = ForecasterConfig()
    assert 5 <= ForecasterConfig(horizon=10).horizon <= 10 and cfg.horizon == 5
    for name, value in invalid_examples(ForecasterConfig):
        with pytest.raises(ConfigError, match=name):
            ForecasterConfig.validate_dict({name: value})


def test_stacked_gru_equals_separate_gru_cells():
    torch.manual_seed(0)
    num_agents, n_in, hidden = 4, 3, 5
    cells = [nn.GRUCell(n_in, hidden) for _ in range(num_agents)]
    stacked = StackedGRUCell.from_cells(cells)
    assert stacked.weight_ih.shape == (num_agents, n_in, 3 * hidden)
    assert stacked.weight_hh.shape == (num_agents, hidden, 3 * hidden)
    x = torch.randn(num_agents, 7, n_in)
    h = torch.randn(num_agents, 7, hidden)
    out = stacked(x, h)
    for a, cell in enumerate(cells):
        torch.testing.assert_close(out[a], cell(x[a], h[a]), rtol=1e-6, atol=1e-6)
    # a whole sequence from a zero state, against the cells stepped one by one
    seq = torch.randn(num_agents, 7, 9, n_in)
    final = stacked.forward_sequence(seq)
    for a, cell in enumerate(cells):
        ha = torch.zeros(7, hidden)
        for t in range(9):
            ha = cell(seq[a, :, t], ha)
        torch.testing.assert_close(final[a], ha, rtol=1e-5, atol=1e-6)
    # and gradients flow to each agent's own weights only
    final[1].sum().backward()
    assert float(stacked.weight_hh.grad[1].abs().sum()) > 0
    assert float(stacked.weight_hh.grad[[0, 2, 3]].abs().sum()) == 0.0


def test_persistence_and_forecast_error_by_hand():
    recent = np.array([[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]])  # (B=1, A=2, W=3)
    np.testing.assert_array_equal(persistence_baseline(recent, 2), [[[3.0, 3.0], [6.0, 6.0]]])
    pred = np.array([[1.0, 3.0], [2.0, 2.0]])
    actual = np.array([[2.0, 1.0], [2.0, 6.0]])  # errors 1, -2, 0, 4
    err = forecast_error(pred, actual, baseline=np.zeros_like(actual))
    assert err["mae"] == pytest.approx(7 / 4)
    assert err["rmse"] == pytest.approx(np.sqrt(21 / 4))
    assert err["mae_baseline"] == pytest.approx(11 / 4)
    assert err["rel_mae"] == pytest.approx(7 / 11)
    assert err["rel_rmse"] == pytest.approx(np.sqrt(21 / 45))
    per_col = forecast_error(pred, actual, axis=0)
    np.testing.assert_allclose(per_col["mae"], [0.5, 3.0])
    with pytest.raises(InvalidParameterError, match="'actual' parameter of forecast_error"):
        forecast_error(pred, actual[:, :1])
    with pytest.raises(InvalidParameterError, match="'horizon' parameter of persistence"):
        persistence_baseline(recent, 0)


def test_online_gru_beats_persistence_on_seasonal_ar_demand():
    series = seasonal_ar_demand(np.random.default_rng(0))
    cfg = ForecasterConfig(window=12, horizon=5, hidden_size=32)
    forecaster = GRUForecaster(6, cfg, rng=np.random.default_rng(1))
    res = online_forecast(forecaster, series, start=40, fit_every=2)
    assert res.pred.shape == res.actual.shape == res.persistence.shape == (176, 6, 5)
    np.testing.assert_array_equal(res.actual[0, :, 0], series[40])
    np.testing.assert_array_equal(res.persistence[0, :, 2], series[39])
    assert res.losses.shape == (88,) and res.losses[-20:].mean() < 0.5 * res.losses[:5].mean()
    late = res.origins >= 120  # after about 80 online steps
    err = forecast_error(res.pred[late], res.actual[late], res.persistence[late])
    assert err["rel_mae"] < 0.7 and err["rel_rmse"] < 0.7
    per_step = forecast_error(res.pred[late], res.actual[late], res.persistence[late], axis=(0, 1))
    assert np.all(per_step["rel_rmse"] < 1.0)  # better at every horizon step
    per_node = forecast_error(res.pred[late], res.actual[late], res.persistence[late], axis=(0, 2))
    assert np.all(per_node["rel_mae"] < 1.0)  # and for every node
    assert np.all(res.pred >= 0.0)


def test_fit_and_predict_shapes_determinism_and_errors():
    series = seasonal_ar_demand(np.random.default_rng(2), num_nodes=3, steps=60)
    cfg = ForecasterConfig(window=8, horizon=6, hidden_size=8, batch_size=16, grad_steps=2)
    f1 = GRUForecaster(3, cfg, rng=np.random.default_rng(7))
    f2 = GRUForecaster(3, cfg, rng=np.random.default_rng(7))
    losses = [(f1.fit_step(series[:t]), f2.fit_step(series[:t])) for t in (30, 45, 60)]
    assert all(a == b for a, b in losses)
    recent = series[-10:].T  # (A, W) with W > window
    p = f1.predict(recent)
    assert p.shape == (3, 6)
    np.testing.assert_array_equal(p, f2.predict(recent))
    batched = f1.predict(np.stack([recent, recent[:, ::-1]]))  # (B, A, W)
    assert batched.shape == (2, 3, 6)
    np.testing.assert_allclose(batched[0], p, rtol=1e-6)
    # untrained residual model starts close to persistence
    fresh = GRUForecaster(3, cfg, rng=np.random.default_rng(3))
    fresh.fit_step(series[:20])
    np.testing.assert_allclose(fresh.predict(recent), persistence_baseline(recent, 6), atol=1.0)
    with pytest.raises(InvalidParameterError, match=r"'history' parameter .* shape \(T, 3\)"):
        f1.fit_step(series[:, :2])
    with pytest.raises(InvalidParameterError, match=r"at least window \+ horizon = 14"):
        f1.fit_step(series[:10])
    with pytest.raises(InvalidParameterError, match=r"'recent' parameter .* window = 8"):
        f1.predict(recent[:, :4])
    with pytest.raises(InvalidParameterError, match="'rng' parameter of GRUForecaster"):
        GRUForecaster(3, cfg, rng=0)
