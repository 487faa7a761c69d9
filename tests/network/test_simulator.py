"""The time-slotted network simulator: pool bounds, conservation, Byzantine outcomes, CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest
from typer.testing import CliRunner

from qnetrl._validation import InvalidParameterError
from qnetrl.cli import app
from qnetrl.config import ConfigError, invalid_examples
from qnetrl.network.demand import DemandConfig
from qnetrl.network.faults import FaultScenarioConfig
from qnetrl.network.fluctuations import FluctuationConfig
from qnetrl.network.metrics import Outcome, wilson_interval
from qnetrl.network.simulator import (
    NetworkSimConfig,
    NetworkSimulator,
    _path_flip_probability,
    simulate,
)

runner = CliRunner()


def _config(**overrides: Any) -> NetworkSimConfig:
    """A small, well-connected Waxman mesh under pressure: pools of 4000 bits, 256-bit keys."""
    base: dict[str, Any] = {
        "topology": "waxman",
        "topology_params": {"n_nodes": 16, "alpha": 0.8, "beta": 0.9},
        "end_nodes": 5,
        "slots": 120,
        "batch_size": 3,
        "pool_capacity_bits": 4000.0,
        "demand": DemandConfig(rate_per_slot=0.1, deadline_slots=20),
    }
    base.update(overrides)
    return NetworkSimConfig(**base)


def _faults(mix: dict[str, float] | None = None, **kw: Any) -> FaultScenarioConfig:
    return FaultScenarioConfig(byzantine_fraction=0.3, behaviour_mix=mix or {"flip": 1.0}, **kw)


def _same(a: dict[str, float], b: dict[str, float]) -> bool:
    """Dict equality where NaN equals NaN."""
    return a.keys() == b.keys() and all(
        (x == y) or (x != x and y != y) for x, y in zip(a.values(), b.values(), strict=True)
    )


# ---------------------------------------------------------------------------------------------
# pools and conservation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("routing", ["single", "multipath"])
def test_pools_stay_in_bounds_and_key_is_conserved(routing: str) -> None:
    cfg = _config(
        routing=routing,
        n_paths=4,
        threshold=2,
        faults=_faults(dict.fromkeys(("flip", "drop", "delay", "leak", "false_pool"), 1.0)),
        fluctuations=FluctuationConfig(cut_rate_per_slot=0.01, cut_duration_slots=10.0),
        record_events=True,
    )
    sim = NetworkSimulator(cfg, seed=5)
    cap = cfg.pool_capacity_bits
    for _ in range(cfg.slots):
        sim.step()
        assert sim.pools.min() >= 0.0 and sim.pools.max() <= cap
        assert np.array_equal(sim.pools, np.floor(sim.pools))  # whole bits only
    res = sim.result()
    ev = res.events
    assert ev is not None and ev["outcome"].size > 20
    tag = 64 if routing == "multipath" else 0
    per_hop = ev["bits"] + tag
    hops = ev["consumed_bits"] // per_hop
    assert np.array_equal(hops * per_hop, ev["consumed_bits"])
    assert (hops >= ev["paths"]).all()  # every path has at least one hop
    # Consumption measured on the pools == bits x hops summed over served requests.
    assert res.consumed_bits.sum() == ev["consumed_bits"].sum() == res.relayed_bits.sum()
    s = res.summary()
    assert s["conservation_error_bits"] == 0.0 and s["pool_balance_error_bits"] == 0.0
    assert s["wasted_bits"] >= 0.0 and s["served"] == ev["outcome"].size


def test_crashed_nodes_generate_no_key_and_relay_nothing() -> None:
    cfg = _config(faults=FaultScenarioConfig(crash_fraction=0.25), record_events=True, slots=60)
    sim = NetworkSimulator(cfg, seed=2)
    res = sim.run()
    crashed = sim.faults.crashed
    at_crash = crashed[:, sim.table.u] | crashed[:, sim.table.v]
    assert at_crash.any() and (~at_crash).any()
    assert (res.generated_bits[at_crash] == 0).all()
    assert (res.generated_bits[~at_crash] > 0).all()
    assert (res.consumed_bits[at_crash] == 0).all()  # no path crosses a crashed node


# ---------------------------------------------------------------------------------------------
# Byzantine relays and outcomes
# ---------------------------------------------------------------------------------------------


def test_flip_relay_gives_undetected_wrong_keys_on_a_single_path_only() -> None:
    faults = _faults({"flip": 1.0}, flip_probability=0.5)
    single = simulate(_config(faults=faults, byte_level=True), seed=11).summary()
    assert single["wrong_keys_undetected"] > 0
    assert single["byte_level_mismatches"] == 0
    multi = simulate(
        _config(faults=faults, routing="multipath", n_paths=4, threshold=2, byte_level=True),
        seed=11,
    ).summary()
    assert multi["served_corrected"] > 0  # shares were corrupted, and corrected
    assert multi["wrong_keys_undetected"] == 0
    assert multi["byte_level_mismatches"] == 0


def test_flips_of_several_relays_add_modulo_two() -> None:
    from math import comb

    for p in (0.0, 0.01, 0.3, 0.5, 1.0):
        r = np.arange(6)
        odd = [sum(comb(k, j) * p**j * (1 - p) ** (k - j) for j in range(1, k + 1, 2)) for k in r]
        assert np.allclose(_path_flip_probability(p, r), odd, atol=1e-15)
    assert _path_flip_probability(1.0, np.array([2]))[0] == 0.0  # two full flips cancel


@settings(max_examples=6, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    p=st.floats(0.01, 1.0),
    n_and_t=st.sampled_from([(3, 1), (3, 2), (4, 2), (5, 3)]),
)
def test_multipath_with_verification_never_outputs_a_wrong_key(
    seed: int, p: float, n_and_t: tuple[int, int]
) -> None:
    n, t = n_and_t
    cfg = _config(
        routing="multipath",
        n_paths=n,
        threshold=t,
        faults=_faults({"flip": 3.0, "drop": 1.0}, flip_probability=p),
        byte_level=True,
        slots=60,
        batch_size=2,
    )
    s = simulate(cfg, seed).summary()
    assert s["served"] > 0
    assert s["wrong_keys_undetected"] == 0
    assert s["byte_level_mismatches"] == 0


@pytest.mark.parametrize(("routing", "n"), [("single", 1), ("multipath", 4)])
def test_byte_level_and_decoding_bound_agree(routing: str, n: int) -> None:
    mix = dict.fromkeys(("flip", "drop", "delay", "leak", "false_pool", "false_qber"), 1.0)
    kw: dict[str, Any] = {
        "routing": routing,
        "n_paths": n,
        "threshold": 1 if n == 1 else 2,
        "faults": _faults(mix, flip_probability=0.05, delay_slots=3),
        "record_events": True,
    }
    fast = simulate(_config(byte_level=False, **kw), seed=4)
    real = simulate(_config(byte_level=True, **kw), seed=4)
    assert real.byte_level_mismatches == 0
    assert fast.events is not None and real.events is not None
    assert len({int(o) for o in fast.events["outcome"]}) >= 2  # not a trivial scenario
    for key in fast.events:
        assert np.array_equal(fast.events[key], real.events[key]), key
    a, b = fast.summary(), real.summary()
    assert a.pop("byte_level") == 0.0 and b.pop("byte_level") == 1.0
    assert _same(a, b)


def test_no_request_is_served_after_its_deadline() -> None:
    faults = _faults({"delay": 1.0}, delay_slots=15)
    for routing, n in (("single", 1), ("multipath", 3)):
        cfg = _config(
            routing=routing,
            n_paths=n,
            threshold=1,
            faults=faults,
            demand=DemandConfig(rate_per_slot=0.2, deadline_slots=10),
            record_events=True,
        )
        res = simulate(cfg, seed=7)
        ev = res.events
        assert ev is not None and ev["outcome"].size > 0
        assert (ev["arrival"] <= ev["served_slot"]).all()
        assert (ev["served_slot"] <= ev["deadline"]).all()
        good = (ev["outcome"] == Outcome.OK) | (ev["outcome"] == Outcome.CORRECTED)
        assert good.any()
        assert (ev["done_slot"][good] <= ev["deadline"][good]).all()
        if routing == "single":  # a delaying relay makes keys arrive after the deadline
            late = ev["outcome"] == Outcome.LATE
            assert late.any() and (ev["done_slot"][late] > ev["deadline"][late]).all()
        assert res.summary()["expired"] >= 0


def test_leaking_relays_expose_single_path_keys() -> None:
    res = simulate(_config(faults=_faults({"leak": 1.0})), seed=3)
    s = res.summary()
    assert s["exposed"] > 0 and 0.0 < s["exposure_fraction"] <= 1.0
    assert s["secure_key_bits"] < s["delivered_key_bits"]
    assert s["wrong_keys_undetected"] == 0


def test_false_qber_report_at_the_tokyo_hub_blocks_relaying() -> None:
    cfg = NetworkSimConfig(
        slots=80,
        faults=FaultScenarioConfig(byzantine_fraction=0.2, behaviour_mix={"false_qber": 1}),
    )
    s = simulate(cfg, seed=0).summary()
    assert s["served"] == 0 and s["expired"] > 0
    assert s["reported_qber_mean"] > s["qber_mean"]
    assert s["availability"] == 0.0


# ---------------------------------------------------------------------------------------------
# metrics, determinism, configuration
# ---------------------------------------------------------------------------------------------


def test_availability_is_a_fraction_with_a_valid_wilson_interval() -> None:
    res = simulate(_config(faults=_faults({"drop": 1.0, "flip": 1.0})), seed=1)
    s = res.summary()
    assert 0.0 <= s["availability_ci_low"] <= s["availability"] <= s["availability_ci_high"] <= 1
    assert s["availability_trials"] == res.resolved().sum() + res.demand_overflow.sum() > 0
    assert s["requests"] == s["requests_resolved"] + s["pending_at_end"]
    correct = int(res.served_correct().sum())
    assert s["availability"] == correct / s["availability_trials"]
    low, high = wilson_interval(correct, int(s["availability_trials"]))
    assert (low, high) == (s["availability_ci_low"], s["availability_ci_high"])


def test_wilson_interval_matches_scipy_and_closed_forms() -> None:
    ks = np.array([0, 1, 15, 81, 29, 40])
    ns = np.array([20, 29, 148, 263, 29, 1000])
    low, high = wilson_interval(ks, ns)
    for k, n, lo, hi in zip(ks, ns, low, high, strict=True):
        ci = binomtest(int(k), int(n)).proportion_ci(0.95, method="wilson")
        assert np.isclose(lo, ci.low, atol=1e-12) and np.isclose(hi, ci.high, atol=1e-12)
    z2 = 1.959963984540054**2
    assert np.isclose(high[0], z2 / (20 + z2)) and low[0] == 0.0  # k = 0
    assert high[4] == 1.0 and np.isclose(low[4], 29 / (29 + z2))  # k = n
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(InvalidParameterError, match="'successes'"):
        wilson_interval(5, 4)
    with pytest.raises(InvalidParameterError, match="'confidence'"):
        wilson_interval(1, 4, confidence=1.0)


def test_same_config_and_seed_give_identical_results() -> None:
    cfg = _config(
        faults=_faults(dict.fromkeys(("flip", "drop", "leak"), 1.0)),
        fluctuations=FluctuationConfig(),
        slots=80,
    )
    a, b = simulate(cfg, seed=9), simulate(cfg, seed=9)
    assert _same(a.summary(), b.summary())
    assert np.array_equal(a.pool_mean_t, b.pool_mean_t)
    assert np.array_equal(a.qber_var, b.qber_var) and (a.qber_var > 0).any()  # fluctuating
    assert not _same(a.summary(), simulate(cfg, seed=10).summary())


def test_config_errors_name_the_field() -> None:
    for field, value in invalid_examples(NetworkSimConfig):
        with pytest.raises(ConfigError) as err:
            NetworkSimConfig().with_overrides({field: value})
        assert repr(field) in str(err.value) or field.split(".")[-1] in str(err.value)
    with pytest.raises(ConfigError, match="threshold"):
        NetworkSimConfig.validate_dict({"routing": "multipath", "n_paths": 3, "threshold": 4})
    with pytest.raises(InvalidParameterError, match=r"'n_paths'.*\[1, 1\]"):
        NetworkSimulator(NetworkSimConfig(routing="multipath", n_paths=2), seed=0)
    with pytest.raises(InvalidParameterError, match="'seed'"):
        NetworkSimulator(NetworkSimConfig(), seed=-1)


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------


def test_cli_simulate_tokyo_writes_summary_and_plots(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            *("network", "simulate", "--topology", "tokyo", "--byzantine", "0.2"),
            *("--slots", "200", "--seed", "1", "--out", str(tmp_path)),
        ],
    )
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "network").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["slots"] == 200 and summary["byte_level"] == 1.0
    assert summary["conservation_error_bits"] == 0.0
    assert summary["requests"] > 0 and 0.0 <= summary["availability"] <= 1.0
    for name in ("pool_levels.png", "key_rate.png"):
        assert (run_dir / name).stat().st_size > 10_000
    assert (run_dir / "config.yaml").exists() and (run_dir / "pairs.csv").exists()
    assert "availability" in result.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ["--byzantine", "0.5"],
            "'faults.byzantine_fraction' field of NetworkSimConfig must be a "
            "float in the range [0.0, 0.3]",
        ),
        (["--slots", "0"], "'slots'"),
        (["--paths", "3"], "'n_paths'"),
        (["--paths", "4", "--threshold", "5"], "threshold must be in the range [1, n_paths]"),
    ],
)
def test_cli_bad_option_exits_2_naming_the_field(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    result = runner.invoke(app, ["network", "simulate", *args, "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert needle in " ".join(result.output.split())
    assert not (tmp_path / "network").exists()
