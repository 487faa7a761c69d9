"""Link fluctuation processes: OU statistics against theory, events, ranges, seeding, config."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qnetrl._validation import InvalidParameterError
from qnetrl.config import ConfigError, invalid_examples
from qnetrl.network.fluctuations import (
    FibreLossProcess,
    FluctuationConfig,
    LinkFluctuations,
    LogOUFactor,
    ou_stationary_std,
    ou_step,
)

QUIET = {"stress_rate_per_slot": 0.0, "cut_rate_per_slot": 0.0}


def _cfg(**kw: object) -> FluctuationConfig:
    return FluctuationConfig(**kw)  # type: ignore[arg-type]


# --- ou_step against the transition law of Uhlenbeck & Ornstein (1930) / Gillespie (1996) ----


@pytest.mark.parametrize("dt", [0.05, 2.0])
def test_ou_step_transient_mean_and_variance_match_exact_law(dt: float) -> None:
    # Exact for any dt: after n steps from x0, X ~ N(mu + (x0-mu) e^{-theta t},
    # sigma^2/(2 theta) (1 - e^{-2 theta t})). A dt of 2/theta would break an Euler step.
    rng = np.random.default_rng(1)
    n_copies, mu, theta, sigma, x0 = 40_000, 1.5, 0.8, 0.6, 6.0
    x = np.full(n_copies, x0)
    n_steps = 3
    for _ in range(n_steps):
        x = ou_step(x, rng, mean=mu, theta=theta, sigma=sigma, dt=dt)
    t = n_steps * dt
    mean = mu + (x0 - mu) * math.exp(-theta * t)
    var = sigma**2 / (2 * theta) * (1 - math.exp(-2 * theta * t))
    assert abs(x.mean() - mean) < 5 * math.sqrt(var / n_copies)
    assert x.var(ddof=1) == pytest.approx(var, rel=5 * math.sqrt(2 / n_copies))


def test_ou_step_stationary_moments_and_lag_correlation() -> None:
    rng = np.random.default_rng(2)
    n_copies, mu, theta, sigma, dt = 40_000, -0.3, 0.5, 1.2, 0.25
    x = np.full(n_copies, mu)
    for _ in range(80):  # theta * t = 10: stationary to within e^{-20} in variance
        x = ou_step(x, rng, mean=mu, theta=theta, sigma=sigma, dt=dt)
    std = float(ou_stationary_std(theta, sigma))
    assert std == pytest.approx(sigma / math.sqrt(2 * theta))
    assert abs(x.mean() - mu) < 5 * std / math.sqrt(n_copies)
    assert x.std(ddof=1) == pytest.approx(std, rel=0.03)
    y = ou_step(x, rng, mean=mu, theta=theta, sigma=sigma, dt=dt)
    assert np.corrcoef(x, y)[0, 1] == pytest.approx(math.exp(-theta * dt), abs=0.01)


def test_ou_step_zero_sigma_is_exponential_relaxation() -> None:
    rng = np.random.default_rng(3)
    x0 = np.array([[4.0, -2.0], [0.0, 10.0]])
    x = x0
    for _ in range(7):
        x = ou_step(x, rng, mean=1.0, theta=0.3, sigma=0.0, dt=0.5)
    np.testing.assert_allclose(x, 1.0 + (x0 - 1.0) * math.exp(-0.3 * 3.5), rtol=1e-12)


def test_ou_step_theta_zero_is_brownian_motion() -> None:
    rng = np.random.default_rng(4)
    x = ou_step(np.zeros(50_000), rng, theta=0.0, sigma=2.0, dt=3.0)
    assert x.var() == pytest.approx(4.0 * 3.0, rel=0.03)
    assert float(ou_stationary_std(0.0, 1.0)) == math.inf


def test_ou_step_validates_arguments() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(InvalidParameterError, match=r"'theta' parameter of ou_step.*Got -1.0"):
        ou_step(0.0, rng, theta=-1.0)
    with pytest.raises(InvalidParameterError, match="'sigma' parameter of ou_step"):
        ou_step(0.0, rng, sigma=math.nan)
    with pytest.raises(InvalidParameterError, match="'rng' parameter of ou_step"):
        ou_step(0.0, 42)  # type: ignore[arg-type]


# --- fibre loss process -----------------------------------------------------------------------


def test_loss_process_stationary_statistics_match_config() -> None:
    cfg = _cfg(loss_mean_db=1.0, loss_std_db=0.4, loss_correlation_slots=5.0, **QUIET)
    proc = FibreLossProcess(cfg, batch_size=8000, n_links=3)
    rng = np.random.default_rng(5)
    proc.reset(rng)
    for _ in range(20):
        prev, _, _ = proc.step(rng)
    extra, _, _ = proc.step(rng)
    assert abs(extra.mean() - 1.0) < 5 * 0.4 / math.sqrt(extra.size)
    assert extra.std(ddof=1) == pytest.approx(0.4, rel=0.03)
    lag1 = np.corrcoef(prev.ravel(), extra.ravel())[0, 1]
    assert lag1 == pytest.approx(math.exp(-1 / 5.0), abs=0.01)


def test_loss_process_zero_std_relaxes_deterministically() -> None:
    cfg = _cfg(
        loss_mean_db=2.0,
        loss_std_db=0.0,
        loss_correlation_slots=10.0,
        stationary_start=False,
        **QUIET,
    )
    proc = FibreLossProcess(cfg, batch_size=3, n_links=2)
    rng = np.random.default_rng(6)
    extra0, _, _ = proc.reset(rng)
    assert np.all(extra0 == 0.0)
    for t in range(1, 31):
        extra, cut, stressed = proc.step(rng)
        np.testing.assert_allclose(extra, 2.0 * (1.0 - math.exp(-t / 10.0)), rtol=1e-12)
        assert not cut.any() and not stressed.any()


def test_triggered_cut_lasts_exactly_its_duration() -> None:
    cfg = _cfg(loss_std_db=0.0, **QUIET)
    fl = LinkFluctuations(cfg, batch_size=2, n_links=3)
    rng = np.random.default_rng(7)
    fl.reset(rng)
    mask = np.zeros((2, 3), dtype=bool)
    mask[1, 2] = True
    fl.trigger_cut(mask, duration_slots=5)
    cut_rows = []
    for _ in range(8):
        c = fl.step(rng)
        cut_rows.append(c.cut[1, 2])
        assert (c.cut == (mask & c.cut[1, 2])).all()  # nothing else is cut
        if c.cut[1, 2]:
            assert c.extra_loss_db[1, 2] == math.inf and c.transmittance_factor[1, 2] == 0.0
        else:
            assert c.transmittance_factor[1, 2] == 1.0
    assert cut_rows == [True] * 5 + [False] * 3


def test_permanent_cut_never_heals() -> None:
    fl = LinkFluctuations(_cfg(**QUIET), batch_size=4, n_links=2)
    rng = np.random.default_rng(8)
    fl.reset(rng)
    fl.trigger_cut(np.array([True, False, False, True])[:, None], duration_slots=math.inf)
    for _ in range(300):
        c = fl.step(rng)
    np.testing.assert_array_equal(c.cut, [[True] * 2, [False] * 2, [False] * 2, [True] * 2])


def test_poisson_cuts_persist_for_duration_and_arrive_at_rate() -> None:
    rate, dur, n_slots = 0.02, 7, 400
    cfg = _cfg(
        loss_std_db=0.0, stress_rate_per_slot=0.0, cut_rate_per_slot=rate, cut_duration_slots=dur
    )
    proc = FibreLossProcess(cfg, batch_size=200, n_links=5)
    rng = np.random.default_rng(9)
    proc.reset(rng)
    cut = np.stack([proc.step(rng)[1] for _ in range(n_slots)])  # (T, B, L)
    onset = cut[1:] & ~cut[:-1]
    t_idx, b_idx, l_idx = np.nonzero(onset[:-dur])
    for k in range(dur):  # every cut that starts stays on for `dur` slots
        assert cut[t_idx + 1 + k, b_idx, l_idx].all()
    # An onset can only happen in a slot that follows an uncut slot.
    p_hat = onset.sum() / (~cut[:-1]).sum()
    p = 1 - math.exp(-rate)
    assert abs(p_hat - p) < 5 * math.sqrt(p * (1 - p) / (~cut[:-1]).sum())


def test_stress_adds_its_loss_at_the_poisson_rate() -> None:
    rate = 0.1
    cfg = _cfg(
        loss_std_db=0.0,
        stress_rate_per_slot=rate,
        stress_loss_db=3.0,
        stress_duration_slots=1,
        cut_rate_per_slot=0.0,
    )
    proc = FibreLossProcess(cfg, batch_size=500, n_links=4)
    rng = np.random.default_rng(10)
    proc.reset(rng)
    n_stressed = 0
    for _ in range(50):
        extra, _, stressed = proc.step(rng)
        np.testing.assert_array_equal(extra, np.where(stressed, 3.0, 0.0))
        n_stressed += stressed.sum()
    n = 50 * 500 * 4
    p = 1 - math.exp(-rate)
    assert abs(n_stressed / n - p) < 5 * math.sqrt(p * (1 - p) / n)


# --- drift factors ----------------------------------------------------------------------------


def test_log_ou_factor_has_unit_mean_and_requested_relative_std() -> None:
    fac = LogOUFactor(20_000, 2, rel_std=0.3, correlation_slots=4.0)
    rng = np.random.default_rng(11)
    fac.reset(rng)
    for _ in range(30):
        v = fac.step(rng)
    assert v.mean() == pytest.approx(1.0, abs=5 * 0.3 / math.sqrt(v.size))
    assert v.std(ddof=1) == pytest.approx(0.3, rel=0.05)
    assert (v > 0).all()


def test_values_stay_in_physical_ranges() -> None:
    nominal_db = np.array([0.5, 3.0, 20.0])
    eta = np.array([0.9, 0.5, 0.0])
    cfg = _cfg(
        loss_std_db=5.0,
        efficiency_rel_std=1.5,
        source_rate_rel_std=2.0,
        stress_rate_per_slot=0.05,
        cut_rate_per_slot=0.01,
        cut_duration_slots=3,
    )
    fl = LinkFluctuations(cfg, 300, 3, nominal_loss_db=nominal_db, nominal_efficiency=eta)
    rng = np.random.default_rng(12)
    conds = [fl.reset(rng)] + [fl.step(rng) for _ in range(60)]
    clipped = 0
    for c in conds:
        assert (c.extra_loss_db >= -nominal_db).all()
        total_t = c.transmittance_factor * 10 ** (-nominal_db / 10)
        assert ((total_t >= 0) & (total_t <= 1 + 1e-12)).all()
        drifted = c.efficiency_factor * eta
        assert ((drifted >= 0) & (drifted <= 1 + 1e-12)).all()
        assert (c.source_rate_factor >= 0).all() and np.isfinite(c.source_rate_factor).all()
        clipped += int((c.efficiency_factor[:, 0] == 1 / 0.9).sum())
    assert clipped > 0  # the clip was exercised, not vacuous
    assert any(c.cut.any() for c in conds)


def test_shapes_and_dtypes() -> None:
    fl = LinkFluctuations(FluctuationConfig(), batch_size=5, n_links=7)
    rng = np.random.default_rng(13)
    for c in (fl.reset(rng), fl.step(rng)):
        for name in (
            "extra_loss_db",
            "transmittance_factor",
            "source_rate_factor",
            "efficiency_factor",
        ):
            arr = getattr(c, name)
            assert arr.shape == (5, 7) and arr.dtype == np.float64, name
        assert c.cut.shape == c.stressed.shape == (5, 7) and c.cut.dtype == np.bool_


# --- seeding, reset, disabled -----------------------------------------------------------------


def _trajectory(seed: int, n: int = 25) -> list[np.ndarray]:
    cfg = _cfg(stress_rate_per_slot=0.05, cut_rate_per_slot=0.02, cut_duration_slots=4)
    fl = LinkFluctuations(cfg, batch_size=6, n_links=4)
    rng = np.random.default_rng(seed)
    out = []
    for c in [fl.reset(rng)] + [fl.step(rng) for _ in range(n)]:
        out += [c.extra_loss_db, c.cut, c.source_rate_factor, c.efficiency_factor]
    return out


def test_same_seed_same_trajectory_different_seed_differs() -> None:
    a, b, c = _trajectory(21), _trajectory(21), _trajectory(22)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not all(np.array_equal(x, z) for x, z in zip(a, c, strict=True))


def test_partial_reset_touches_only_masked_copies() -> None:
    fl = LinkFluctuations(_cfg(**QUIET), batch_size=4, n_links=2)
    rng = np.random.default_rng(23)
    fl.reset(rng)
    fl.trigger_cut(np.array([True, True, False, False])[:, None], duration_slots=math.inf)
    before = fl.step(rng)
    after = fl.reset(rng, mask=np.array([True, False, True, False]))
    np.testing.assert_array_equal(after.cut, [[False] * 2, [True] * 2, [False] * 2, [False] * 2])
    np.testing.assert_array_equal(after.extra_loss_db[[1, 3]], before.extra_loss_db[[1, 3]])
    np.testing.assert_array_equal(
        after.source_rate_factor[[1, 3]], before.source_rate_factor[[1, 3]]
    )
    assert not np.array_equal(after.source_rate_factor[[0, 2]], before.source_rate_factor[[0, 2]])


def test_disabled_config_is_exactly_neutral_and_draws_nothing() -> None:
    cfg = _cfg(enabled=False, loss_mean_db=5.0, cut_rate_per_slot=1.0, stress_rate_per_slot=1.0)
    fl = LinkFluctuations(cfg, batch_size=3, n_links=4, nominal_loss_db=10.0)
    rng = np.random.default_rng(24)
    state = rng.bit_generator.state
    fl.trigger_cut(np.ones((3, 4), dtype=bool))
    for c in [fl.reset(rng)] + [fl.step(rng) for _ in range(10)]:
        assert (c.extra_loss_db == 0.0).all() and not c.cut.any() and not c.stressed.any()
        assert (c.transmittance_factor == 1.0).all()
        assert (c.source_rate_factor == 1.0).all() and (c.efficiency_factor == 1.0).all()
    assert rng.bit_generator.state == state


# --- configuration and argument errors --------------------------------------------------------


@pytest.mark.parametrize(("field", "bad"), invalid_examples(FluctuationConfig))
def test_every_bounded_field_rejects_out_of_range(field: str, bad: object) -> None:
    with pytest.raises(ConfigError, match=f"'{field}' field of FluctuationConfig .* in the range"):
        FluctuationConfig().with_overrides({field: bad})


def test_config_yaml_round_trip_keeps_infinite_duration(tmp_path) -> None:
    cfg = FluctuationConfig(cut_duration_slots=math.inf, loss_correlation_slots=math.inf)
    path = tmp_path / "fl.yaml"
    path.write_text(cfg.to_yaml())
    assert FluctuationConfig.from_yaml(path) == cfg


def test_infinite_correlation_time_freezes_the_state() -> None:
    cfg = _cfg(loss_correlation_slots=math.inf, loss_std_db=1.0, **QUIET)
    proc = FibreLossProcess(cfg, 3, 3)
    rng = np.random.default_rng(25)
    first, _, _ = proc.reset(rng)
    for _ in range(5):
        extra, _, _ = proc.step(rng)
    np.testing.assert_array_equal(extra, first)
    assert first.std() > 0


def test_constructor_errors_name_the_parameter() -> None:
    with pytest.raises(InvalidParameterError, match="'batch_size' parameter of LinkFluctuations"):
        LinkFluctuations(FluctuationConfig(), 0, 3)
    with pytest.raises(InvalidParameterError, match=r"'n_links' .* int in the range"):
        LinkFluctuations(FluctuationConfig(), 2, 2.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match=r"'nominal_efficiency' .* \[0.0, 1.0\]"):
        LinkFluctuations(FluctuationConfig(), 2, 3, nominal_efficiency=1.2)
    with pytest.raises(InvalidParameterError, match=r"'nominal_loss_db' .* shape \(2, 3\)"):
        LinkFluctuations(FluctuationConfig(), 2, 3, nominal_loss_db=[1.0, 2.0])
    with pytest.raises(InvalidParameterError, match="'config' parameter of FibreLossProcess"):
        FibreLossProcess({"enabled": True}, 2, 3)  # type: ignore[arg-type]
    fl = LinkFluctuations(FluctuationConfig(), 2, 3)
    with pytest.raises(InvalidParameterError, match=r"'rng' parameter of FibreLossProcess.step"):
        fl.step(np.random.RandomState(0))  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match=r"'duration_slots' .* \[1.0, inf\)"):
        fl.trigger_cut(np.ones((2, 3), dtype=bool), duration_slots=0)
    with pytest.raises(InvalidParameterError, match=r"'mask' .* boolean"):
        fl.reset(np.random.default_rng(0), mask=[1, 0])
