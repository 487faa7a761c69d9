"""Tests for qnetrl.experiments.stats: closed forms, textbook values, coverage, edge cases."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats as sps

from qnetrl._validation import InvalidParameterError
from qnetrl.experiments import stats
from qnetrl.experiments.stats import (
    anova_tukey,
    bootstrap_ci,
    cliffs_delta,
    cohens_d,
    compare_methods,
    episodes_to_convergence,
    hedges_g,
    jain_fairness,
    mann_whitney,
    relative_change,
    summarize,
    welch_t_test,
)


def _with_moments(mean: float, sd: float, n: int, seed: int) -> np.ndarray:
    """A sample of size n whose mean and Bessel-corrected SD are exactly mean and sd."""
    z = np.random.default_rng(seed).normal(size=n)
    z = (z - z.mean()) / z.std(ddof=1)
    return mean + sd * z


# ------------------------------------------------------------------------------ bootstrap_ci


def test_bootstrap_single_observation_and_constant_sample_collapse_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert bootstrap_ci([4.5], rng=np.random.default_rng(0)) == (4.5, 4.5)
        assert bootstrap_ci(np.full(7, -2.0), rng=np.random.default_rng(0)) == (-2.0, -2.0)
        # The constant row of a batch collapses, the other row gets a proper interval.
        low, high = bootstrap_ci(
            [[1.0, 1.0, 1.0, 1.0], [0.0, 1.0, 2.0, 3.0]], rng=np.random.default_rng(0)
        )
    assert low[0] == high[0] == 1.0
    assert low[1] < 1.5 < high[1]


def test_bootstrap_is_deterministic_given_rng():
    x = np.random.default_rng(1).normal(size=15)
    first = bootstrap_ci(x, n_resamples=500, rng=np.random.default_rng(7))
    again = bootstrap_ci(x, n_resamples=500, rng=np.random.default_rng(7))
    other = bootstrap_ci(x, n_resamples=500, rng=np.random.default_rng(8))
    assert first == again
    assert first != other
    assert isinstance(first[0], float)


@pytest.mark.parametrize("method", ["BCa", "percentile"])
def test_bootstrap_ci_covers_true_mean_at_nominal_rate(method):
    # 2000 independent normal samples of n = 20 (five batched calls), 95 % nominal level.
    # For the mean of normal data the percentile interval is about xbar +- z * s_ML / sqrt(n),
    # so its coverage is P(|t_{n-1}| <= z sqrt((n-1)/n)) = 0.929 at n = 20: the known small-
    # sample undercoverage of the bootstrap. Binomial SD of the observed rate: 0.006.
    n, reps, z = 20, 2000, sps.norm.ppf(0.975)
    expected = 1 - 2 * sps.t.sf(z * np.sqrt((n - 1) / n), n - 1)
    rng = np.random.default_rng(2024)
    covered = []
    for _ in range(5):
        data = rng.normal(loc=3.0, scale=2.0, size=(reps // 5, n))
        low, high = bootstrap_ci(data, n_resamples=999, method=method, rng=rng)
        assert low.shape == high.shape == (reps // 5,)
        assert np.all(low < high)
        covered.append((low <= 3.0) & (3.0 <= high))
    coverage = float(np.mean(covered))
    assert coverage == pytest.approx(expected, abs=0.02)
    assert 0.90 <= coverage <= 0.97  # near the nominal 0.95


def test_bootstrap_batch_axis_argument():
    rng = np.random.default_rng(3)
    data = rng.normal(size=(12, 3))  # observations along axis 0
    low, high = bootstrap_ci(data, axis=0, n_resamples=300, rng=np.random.default_rng(0))
    assert low.shape == (3,)
    assert np.all(low <= data.mean(axis=0)) and np.all(data.mean(axis=0) <= high)


def test_bootstrap_statistic_without_axis_keyword():
    x = np.arange(10.0)
    low, high = bootstrap_ci(
        x, statistic=lambda s: float(np.max(s)), n_resamples=200, rng=np.random.default_rng(0)
    )
    assert 0.0 <= low <= high <= 9.0


def test_bootstrap_falls_back_to_percentile_where_bca_is_undefined():
    # Every jackknife median of this sample is 0, so the BCa acceleration is 0/0.
    x = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bca = bootstrap_ci(x, statistic=np.median, n_resamples=400, rng=np.random.default_rng(5))
    pct = bootstrap_ci(
        x, statistic=np.median, n_resamples=400, method="percentile", rng=np.random.default_rng(5)
    )
    assert all(math.isfinite(v) for v in bca)
    assert bca == pct


# ------------------------------------------------------------------------------ summarize


def test_summarize_shape_values_and_json():
    x = np.array([1.0, 2.0, 4.0, 7.0])
    s = summarize(x, rng=np.random.default_rng(0), n_resamples=500)
    assert list(s) == ["mean", "ci_low", "ci_high", "std", "n"]
    assert s["mean"] == 3.5 and s["n"] == 4
    assert s["std"] == pytest.approx(np.sqrt(7.0))  # deviations -2.5,-1.5,.5,3.5 -> 21/3
    assert s["ci_low"] <= s["mean"] <= s["ci_high"]
    json.dumps(s, allow_nan=False)
    assert s == summarize(x, rng=np.random.default_rng(0), n_resamples=500)


def test_summarize_single_seed():
    s = summarize([0.25], rng=np.random.default_rng(0))
    assert s == {"mean": 0.25, "ci_low": 0.25, "ci_high": 0.25, "std": 0.0, "n": 1}


# ------------------------------------------------------------------------------ Welch t


def test_welch_matches_hand_computation():
    # a = [1,2,3,4]: mean 5/2, var 5/3; b = [2,3,5,9]: mean 19/4, var 115/12.
    # v_a = 5/12, v_b = 115/48; t = (-9/4)/sqrt(135/48) = -3/sqrt(5);
    # df = (135/48)^2 / ((5/12)^2/3 + (115/48)^2/3) = 2187/545.
    r = welch_t_test([1, 2, 3, 4], [2, 3, 5, 9])
    t, df = -3 / np.sqrt(5), 2187 / 545
    assert r["statistic"] == pytest.approx(t, rel=1e-12)
    assert r["df"] == pytest.approx(df, rel=1e-12)
    assert r["p_value"] == pytest.approx(2 * sps.t.sf(abs(t), df), rel=1e-10)


def test_welch_textbook_summary_statistics():
    # n = 20 per group, means 100 and 95, SDs 15 and 20 (a standard worked example):
    # t = 5 / sqrt(225/20 + 400/20) = 0.894, df = 31.25^2 / ((11.25^2 + 20^2)/19) = 35.24.
    a = _with_moments(100.0, 15.0, 20, seed=0)
    b = _with_moments(95.0, 20.0, 20, seed=1)
    r = welch_t_test(a, b)
    assert r["statistic"] == pytest.approx(5 / np.sqrt(31.25), rel=1e-10)
    assert r["df"] == pytest.approx(31.25**2 / ((11.25**2 + 20.0**2) / 19), rel=1e-10)
    assert round(r["statistic"], 3) == 0.894 and round(r["df"], 1) == 35.2
    assert r["p_value"] > 0.05


def test_welch_one_sided_halves_two_sided():
    a, b = [3.0, 4.0, 5.0, 6.0], [1.0, 2.0, 2.5, 4.0]
    two = welch_t_test(a, b)["p_value"]
    assert welch_t_test(a, b, alternative="greater")["p_value"] == pytest.approx(two / 2)
    assert welch_t_test(a, b, alternative="less")["p_value"] == pytest.approx(1 - two / 2)


def test_welch_degenerate_zero_variance():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = welch_t_test([2.0, 2.0], [2.0, 2.0, 2.0])
        diff = welch_t_test([3.0, 3.0], [2.0, 2.0, 2.0])
        wrong_side = welch_t_test([3.0, 3.0], [2.0, 2.0], alternative="less")
    assert same == {"statistic": 0.0, "p_value": 1.0, "df": 3.0}
    assert diff["statistic"] == math.inf and diff["p_value"] == 0.0
    assert wrong_side["p_value"] == 1.0


# ------------------------------------------------------------------------------ Mann-Whitney


def test_mann_whitney_exact_small_sample():
    # Complete separation of 3 vs 3: U = 0, exact two-sided p = 2 / C(6,3) = 0.1.
    r = mann_whitney([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert r["statistic"] == 0.0
    assert r["p_value"] == pytest.approx(0.1, rel=1e-12)
    r = mann_whitney([4.0, 5.0, 6.0], [1.0, 2.0, 3.0], alternative="greater")
    assert r["statistic"] == 9.0
    assert r["p_value"] == pytest.approx(0.05, rel=1e-12)


def test_mann_whitney_all_tied_and_u_identity():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mann_whitney([1.0, 1.0], [1.0, 1.0, 1.0]) == {"statistic": 3.0, "p_value": 1.0}
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=9), rng.normal(0.5, size=7)
    assert mann_whitney(a, b)["statistic"] + mann_whitney(b, a)["statistic"] == 63.0


# ------------------------------------------------------------------------------ effect sizes


def test_cohens_d_and_hedges_g_textbook_example():
    # Borenstein et al. (2009), Introduction to Meta-Analysis, Ch. 4 worked example:
    # means 103 / 100, SDs 5.5 / 4.5, n = 50 each -> S_within = 5.0249, d = 0.5970,
    # J = 1 - 3/(4*98 - 1) = 0.9923, g = 0.5924.
    a = _with_moments(103.0, 5.5, 50, seed=10)
    b = _with_moments(100.0, 4.5, 50, seed=11)
    assert cohens_d(a, b) == pytest.approx(0.5970, abs=5e-5)
    assert hedges_g(a, b) == pytest.approx(0.5924, abs=5e-5)
    assert hedges_g(a, b) / cohens_d(a, b) == pytest.approx(1 - 3 / (4 * 98 - 1), abs=1e-5)


def test_hedges_correction_exact_values_and_approximation():
    # J(2) = Gamma(1) / (1 * Gamma(1/2)) = 1/sqrt(pi); J(3) = Gamma(3/2)/(sqrt(3/2) Gamma(1)).
    assert stats._hedges_correction(2) == pytest.approx(1 / np.sqrt(np.pi), rel=1e-14)
    assert stats._hedges_correction(3) == pytest.approx(np.sqrt(np.pi) / 2 / np.sqrt(1.5))
    assert stats._hedges_correction(4) == pytest.approx(np.sqrt(2 / np.pi), rel=1e-14)
    m = np.arange(6, 200)
    exact = np.array([stats._hedges_correction(int(k)) for k in m])
    error = np.abs(exact - (1 - 3 / (4 * m - 1)))  # Hedges' approximation
    assert np.all(error < 1e-3) and np.all(error[m >= 20] < 1e-4)
    assert np.all(np.diff(exact) > 0) and np.all(exact < 1)


def test_effect_sizes_sign_batching_and_degenerate_cases():
    rng = np.random.default_rng(6)
    a, b = rng.normal(1.0, size=(4, 8)), rng.normal(size=(4, 6))
    for fn in (cohens_d, hedges_g, cliffs_delta):
        batched = fn(a, b)
        assert batched.shape == (4,)
        np.testing.assert_allclose(batched, [fn(a[i], b[i]) for i in range(4)], rtol=1e-13)
        np.testing.assert_allclose(fn(b, a), -batched, rtol=1e-13)
        np.testing.assert_allclose(fn(a.T, b.T, axis=0), batched, rtol=1e-13)
    assert cohens_d([1.0, 1.0], [1.0, 1.0, 1.0]) == 0.0
    assert cohens_d([2.0, 2.0], [1.0, 1.0]) == math.inf
    assert hedges_g([1.0, 1.0], [2.0, 2.0]) == -math.inf
    assert cohens_d([0.1, 0.1, 0.1], [0.2, 0.2, 0.2]) == -math.inf  # despite round-off


def test_cliffs_delta_extremes_and_relation_to_u():
    assert cliffs_delta([5.0, 6.0, 7.0], [1.0, 2.0]) == 1.0
    assert cliffs_delta([1.0, 2.0], [5.0, 6.0, 7.0]) == -1.0
    assert cliffs_delta([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 0.0
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=11), rng.normal(0.3, size=13)
    u = mann_whitney(a, b)["statistic"]
    assert cliffs_delta(a, b) == pytest.approx(2 * u / (11 * 13) - 1, rel=1e-12)
    # Invariant to monotone transformations.
    assert cliffs_delta(np.exp(a), np.exp(b)) == cliffs_delta(a, b)


# ------------------------------------------------------------------------------ several methods


def test_compare_methods_conventions():
    rng = np.random.default_rng(8)
    data = {
        "ddqn": rng.normal(10.0, 1.0, size=8),
        "greedy": rng.normal(8.0, 1.0, size=8),
        "random": rng.normal(2.0, 3.0, size=8),
    }
    out = compare_methods(data, reference="ddqn")
    assert list(out) == ["greedy", "random"]
    ref = data["ddqn"]
    for name, r in out.items():
        x = data[name]
        assert set(r) == {
            "welch_p",
            "mannwhitney_p",
            "welch_p_holm",
            "mannwhitney_p_holm",
            "cohens_d",
            "hedges_g",
            "cliffs_delta",
            "mean_diff",
            "relative_diff",
        }
        assert r["welch_p"] == welch_t_test(ref, x)["p_value"]
        assert r["mannwhitney_p"] == mann_whitney(ref, x)["p_value"]
        assert r["cohens_d"] == cohens_d(ref, x) > 0  # reference minus other
        assert r["mean_diff"] == pytest.approx(ref.mean() - x.mean())
        assert r["relative_diff"] == pytest.approx((ref.mean() - x.mean()) / abs(x.mean()))
        assert r["welch_p"] <= r["welch_p_holm"] <= 1.0
    json.dumps(out, allow_nan=False)


def test_holm_adjustment_known_values():
    # Sorted p: 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06.
    adjusted = stats._holm(np.array([0.01, 0.04, 0.03]))
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06])
    np.testing.assert_allclose(stats._holm(np.array([0.6, 0.9])), [1.0, 1.0])


def test_anova_tukey_closed_form():
    # Groups {1,2,3},{4,5,6},{7,8,9}: MS_B = 27, MS_W = 1, F = 27 on (2, 6) df.
    # Tukey: SE = sqrt(MS_W/2 (1/3 + 1/3)) = sqrt(1/3); q = |diff| / SE.
    r = anova_tukey({"x": [1, 2, 3], "y": [4, 5, 6], "z": [7, 8, 9]})
    assert r["anova"]["F"] == pytest.approx(27.0, rel=1e-12)
    assert r["anova"]["p_value"] == pytest.approx(sps.f.sf(27.0, 2, 6), rel=1e-10)
    se = np.sqrt(1 / 3)
    q_crit = sps.studentized_range.ppf(0.95, 3, 6)
    for t in r["tukey"]:
        q = abs(t["mean_diff"]) / se
        assert t["p_value"] == pytest.approx(sps.studentized_range.sf(q, 3, 6), rel=1e-6)
        assert t["ci_low"] == pytest.approx(t["mean_diff"] - q_crit * se, rel=1e-6)
        assert t["ci_high"] == pytest.approx(t["mean_diff"] + q_crit * se, rel=1e-6)
    assert [t["mean_diff"] for t in r["tukey"]] == pytest.approx([-3.0, -6.0, -3.0])
    json.dumps(r, allow_nan=False)


def test_anova_tukey_zero_within_variance():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        differ = anova_tukey({"a": [1.0, 1.0], "b": [2.0, 2.0], "c": [1.0, 1.0]})
        equal = anova_tukey({"a": [1.0, 1.0], "b": [1.0, 1.0, 1.0]})
        tenths = anova_tukey({"a": [0.1, 0.1, 0.1], "b": [0.2, 0.2, 0.2]})
    assert differ["anova"]["F"] == math.inf and differ["anova"]["p_value"] == 0.0
    assert [t["p_value"] for t in differ["tukey"]] == [0.0, 1.0, 0.0]
    assert equal["anova"] == {"F": 0.0, "p_value": 1.0, "df_between": 1, "df_within": 3}
    assert equal["tukey"][0]["ci_low"] == equal["tukey"][0]["ci_high"] == 0.0
    assert tenths["anova"]["F"] == math.inf and tenths["tukey"][0]["p_value"] == 0.0


# ------------------------------------------------------------------------------ fairness


def test_jain_known_values():
    assert jain_fairness([3.0, 3.0, 3.0]) == 1.0
    assert jain_fairness([0.0, 9.0, 0.0, 0.0, 0.0]) == pytest.approx(1 / 5)
    assert jain_fairness([2.0, 2.0, 0.0, 0.0, 0.0]) == pytest.approx(2 / 5)  # k/n
    assert jain_fairness(np.zeros(4)) == 1.0
    assert jain_fairness([1e-200, 0.0]) == pytest.approx(0.5)  # no underflow to 0/0
    assert jain_fairness([1e200, 1e200]) == 1.0  # no overflow to inf/inf
    np.testing.assert_allclose(jain_fairness([[1.0, 0.0], [1.0, 1.0]]), [0.5, 1.0])
    assert jain_fairness([[1.0, 1.0], [0.0, 2.0]], axis=0).tolist() == [0.5, 0.9]


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        st.integers(1, 12),
        elements=st.floats(0.0, 1e290, allow_nan=False, allow_infinity=False),
    ),
    st.floats(1e-3, 1e3),
)
def test_jain_bounds_and_scale_invariance(x, scale):
    f = jain_fairness(x)
    n = x.size
    assert 1 / n - 1e-12 <= f <= 1 + 1e-12
    assert jain_fairness(scale * x) == pytest.approx(f, rel=1e-9)
    if np.any(x > 0):
        y = x / x.max()  # scale-free reference, safe from under- and overflow
        cv2 = np.var(y) / np.mean(y) ** 2  # population coefficient of variation
        assert f == pytest.approx(1 / (1 + cv2), rel=1e-9)


# ------------------------------------------------------------------------------ convergence


@pytest.mark.parametrize(("k", "window", "tol"), [(100, 10, 0.25), (300, 40, 0.1), (57, 7, 0.3)])
def test_convergence_clean_step_closed_form(k, window, tol):
    curve = np.r_[np.zeros(k), np.ones(600 - k)]
    expected = k - 1 + math.ceil((1 - tol) * window)
    assert episodes_to_convergence(curve, window=window, tolerance=tol) == expected
    # A falling curve (e.g. a loss) is detected the same way.
    assert episodes_to_convergence(-5 * curve, window=window, tolerance=tol) == expected


@pytest.mark.parametrize("seed", range(6))
def test_convergence_noisy_step_found_within_window(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1000, 4000))
    window = 100
    curve = np.where(np.arange(6000) >= k, 10.0, -20.0) + rng.normal(0.0, 3.0, size=6000)
    t = episodes_to_convergence(curve, window=window, tolerance=0.05)
    assert t is not None
    assert k - window <= t <= k + window


def test_convergence_constant_late_and_ramp_curves():
    assert episodes_to_convergence(np.full(50, 0.1), window=10) == 9
    assert episodes_to_convergence(np.r_[np.zeros(195), np.ones(5)], window=10) is None
    assert episodes_to_convergence(np.r_[np.zeros(195), np.ones(5)], window=10, min_stable=1) == 199
    # A straight ramp "converges" only in its last ~tolerance fraction, as documented.
    t = episodes_to_convergence(np.linspace(0.0, 1.0, 1000), window=10, tolerance=0.05)
    assert 930 <= t <= 960


# ------------------------------------------------------------------------------ relative change


def test_relative_change_sign_conventions():
    assert relative_change(1.5, 1.0) == 0.5
    assert relative_change(0.5, 1.0) == -0.5
    assert relative_change(-0.5, -1.0) == 0.5  # less negative is an increase
    assert relative_change(-2.0, -1.0) == -1.0
    assert relative_change(0.0, 0.0) == 0.0
    assert relative_change(-3.0, 0.0) == -math.inf
    np.testing.assert_allclose(
        relative_change([[2.0], [4.0]], [1.0, 2.0]), [[1.0, 0.0], [3.0, 1.0]]
    )


# ------------------------------------------------------------------------------ invalid inputs

_RNG = np.random.default_rng(0)
_GOOD = [1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: bootstrap_ci([], rng=_RNG), "samples"),
        (lambda: bootstrap_ci([1.0, np.nan], rng=_RNG), "samples"),
        (lambda: bootstrap_ci([1.0, np.inf], rng=_RNG), "samples"),
        (lambda: bootstrap_ci(_GOOD, confidence=1.0, rng=_RNG), "confidence"),
        (lambda: bootstrap_ci(_GOOD, n_resamples=0, rng=_RNG), "n_resamples"),
        (lambda: bootstrap_ci(_GOOD, n_resamples=10.5, rng=_RNG), "n_resamples"),
        (lambda: bootstrap_ci(_GOOD, method="bias", rng=_RNG), "method"),
        (lambda: bootstrap_ci(_GOOD, statistic="mean", rng=_RNG), "statistic"),
        (lambda: bootstrap_ci(_GOOD, rng=42), "rng"),
        (lambda: bootstrap_ci(_GOOD, axis=3, rng=_RNG), "samples"),
        (lambda: summarize([[1.0, 2.0]], rng=_RNG), "samples"),
        (lambda: welch_t_test([1.0], _GOOD), "a"),
        (lambda: welch_t_test(_GOOD, ["x", "y"]), "b"),
        (lambda: welch_t_test(_GOOD, _GOOD, alternative="both"), "alternative"),
        (lambda: mann_whitney(_GOOD, []), "b"),
        (lambda: cohens_d([1.0], _GOOD), "a"),
        (lambda: hedges_g(_GOOD, [np.nan, 1.0]), "b"),
        (lambda: cohens_d(np.ones((2, 3)), np.ones((3, 3))), "b"),
        (lambda: cliffs_delta([], _GOOD), "a"),
        (lambda: compare_methods({"a": _GOOD, "b": _GOOD}, reference="c"), "reference"),
        (lambda: compare_methods({"a": _GOOD}, reference="a"), "samples_by_method"),
        (lambda: compare_methods({"a": _GOOD, "b": [1.0]}, reference="a"), "samples_by_method"),
        (lambda: anova_tukey({"a": _GOOD, "b": _GOOD}, confidence=0.0), "confidence"),
        (lambda: anova_tukey([_GOOD, _GOOD]), "samples_by_method"),
        (lambda: jain_fairness([1.0, -0.5]), "x"),
        (lambda: jain_fairness([]), "x"),
        (lambda: episodes_to_convergence(np.ones(5), window=6), "window"),
        (lambda: episodes_to_convergence(np.ones(5), window=0), "window"),
        (lambda: episodes_to_convergence(np.ones(5), window=2, tolerance=1.5), "tolerance"),
        (lambda: episodes_to_convergence(np.ones(5), window=2, min_stable=0), "min_stable"),
        (lambda: episodes_to_convergence(np.ones(5), window=2, tolerance=[0.1]), "tolerance"),
        (lambda: bootstrap_ci(_GOOD, confidence=[0.9, 0.95], rng=_RNG), "confidence"),
        (lambda: episodes_to_convergence(np.ones((5, 2)), window=2), "curve"),
        (lambda: relative_change(1.0, np.inf), "base"),
        (lambda: relative_change("a", 1.0), "new"),
    ],
)
def test_invalid_arguments_name_the_parameter(call, name):
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter") as info:
        call()
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)
