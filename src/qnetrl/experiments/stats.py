"""Statistics behind every study report: confidence intervals, tests, effect sizes, fairness.

This module is the one place where the studies turn per-seed results into the numbers a report
quotes: bootstrap confidence intervals and the ``{mean, ci_low, ci_high, std, n}`` summaries of
``summary.json``; Welch's t-test and the Mann-Whitney U test between two methods; Cohen's d,
Hedges' g and Cliff's delta as effect sizes; a reference-versus-others comparison table with
Holm-adjusted p-values; one-way ANOVA with Tukey's HSD; Jain's fairness index; an operational
definition of "episodes to convergence" for learning curves; and the relative change used for
"x % over baseline" claims. Tests and intervals come from :mod:`scipy.stats`; this module adds
argument checking, documented conventions for degenerate inputs (one observation, zero
variance) so that no NaN or warning reaches a report, and plain-Python outputs that serialise
to JSON.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special
from scipy import stats as sps

from qnetrl._validation import InvalidParameterError, check_choice, check_range, format_range

__all__ = [
    "BOOTSTRAP_METHODS",
    "anova_tukey",
    "bootstrap_ci",
    "cliffs_delta",
    "cohens_d",
    "compare_methods",
    "episodes_to_convergence",
    "hedges_g",
    "jain_fairness",
    "mann_whitney",
    "relative_change",
    "summarize",
    "welch_t_test",
]

#: Bootstrap interval methods accepted by :func:`bootstrap_ci` (passed to scipy).
BOOTSTRAP_METHODS: Final[tuple[str, ...]] = ("BCa", "percentile", "basic")

#: Alternative hypotheses accepted by the two-sample tests.
_ALTERNATIVES: Final[tuple[str, ...]] = ("two-sided", "less", "greater")

#: Relative slack (of the largest absolute value) for float round-off in moving averages.
_ROUNDOFF: Final[float] = 1e-12


# --------------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------------


def _check_int(name: str, value: Any, *, owner: str, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int after checking it is an integer in ``[low, high]``."""
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
    if ok and (value < low or (high is not None and value > high)):
        ok = False
    if not ok:
        rng = format_range(low, high)
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be an int in the range {rng}. "
            f"Got {value!r} instead."
        )
    return int(value)


def _check_rng(rng: Any, *, owner: str) -> np.random.Generator:
    """Return ``rng`` if it is a numpy Generator."""
    if not isinstance(rng, np.random.Generator):
        raise InvalidParameterError(
            f"The 'rng' parameter of {owner} must be an instance of numpy.random.Generator. "
            f"Got {rng!r} instead."
        )
    return rng


def _check_float(
    name: str,
    value: Any,
    *,
    owner: str,
    low: float,
    high: float,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return a scalar float after checking it lies in the range."""
    arr = check_range(
        name,
        value,
        owner=owner,
        low=low,
        high=high,
        low_inclusive=low_inclusive,
        high_inclusive=high_inclusive,
    )
    if arr.ndim != 0:
        rng = format_range(low, high, low_inclusive=low_inclusive, high_inclusive=high_inclusive)
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be a float in the range {rng}. "
            f"Got {value!r} instead."
        )
    return float(arr)


def _check_confidence(confidence: Any, *, owner: str) -> float:
    """Return a scalar confidence level in the open interval (0, 1)."""
    return _check_float(
        "confidence",
        confidence,
        owner=owner,
        low=0.0,
        high=1.0,
        low_inclusive=False,
        high_inclusive=False,
    )


def _check_sample(
    name: str, value: Any, *, owner: str, min_size: int, axis: int | None = None
) -> NDArray[np.float64]:
    """Return a finite float array with at least ``min_size`` values along ``axis``.

    With ``axis=None`` the sample must be 1-D.
    """
    arr = check_range(name, value, owner=owner)
    if not np.isfinite(arr).all():
        got = arr[~np.isfinite(arr)].flat[0]
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be a float in the range (-inf, inf). "
            f"Got {got!r} instead."
        )
    if axis is None:
        if arr.ndim != 1 or arr.shape[0] < min_size:
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must be a 1-D array with at least "
                f"{min_size} values. Got an array of shape {arr.shape} instead."
            )
        return arr
    if arr.ndim == 0 or not -arr.ndim <= axis < arr.ndim or arr.shape[axis] < min_size:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be an array with at least {min_size} "
            f"values along axis {axis}. Got an array of shape {arr.shape} instead."
        )
    return np.moveaxis(arr, axis, -1)


def _check_groups(
    samples_by_method: Any, *, owner: str, min_groups: int = 2
) -> dict[str, NDArray[np.float64]]:
    """Return the method -> 1-D sample mapping after checking every sample."""
    if not isinstance(samples_by_method, Mapping) or len(samples_by_method) < min_groups:
        raise InvalidParameterError(
            f"The 'samples_by_method' parameter of {owner} must be a mapping from method name "
            f"to a 1-D sample, with at least {min_groups} methods. Got {samples_by_method!r} "
            "instead."
        )
    out: dict[str, NDArray[np.float64]] = {}
    for key, sample in samples_by_method.items():
        if not isinstance(key, str):
            raise InvalidParameterError(
                f"The 'samples_by_method' parameter of {owner} must have str keys. "
                f"Got {key!r} instead."
            )
        try:
            out[key] = _check_sample("samples_by_method", sample, owner=owner, min_size=2)
        except InvalidParameterError as err:
            raise InvalidParameterError(f"{err} (method {key!r})") from None
    return out


def _out(x: NDArray[np.float64]) -> NDArray[np.float64] | float:
    """Return a Python float for 0-d results and the array otherwise."""
    return float(x) if x.ndim == 0 else x


def _takes_axis(statistic: Callable[..., Any]) -> bool:
    """Whether ``statistic`` accepts an ``axis`` keyword (scipy's vectorisation test)."""
    try:
        return "axis" in inspect.signature(statistic).parameters
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------------------------
# confidence intervals and summaries
# --------------------------------------------------------------------------------------------


def bootstrap_ci(
    samples: ArrayLike,
    *,
    statistic: Callable[..., Any] = np.mean,
    confidence: float = 0.95,
    n_resamples: int = 9999,
    method: str = "BCa",
    axis: int = -1,
    rng: np.random.Generator,
) -> tuple[NDArray[np.float64] | float, NDArray[np.float64] | float]:
    """Two-sided bootstrap confidence interval of a statistic of one sample.

    Parameters
    ----------
    samples : array_like of shape (n,) or (..., n)
        Finite observations, e.g. one final return per seed; the sample runs along ``axis``
        and every other axis is a batch of independent samples (one interval each).
    statistic : callable, default numpy.mean
        Statistic of one sample. If it accepts an ``axis`` keyword it is called once on the
        whole resample batch (fast), otherwise once per resample.
    confidence : float, default 0.95
        Confidence level, in the open interval (0, 1).
    n_resamples : int, default 9999
        Number of bootstrap resamples, in ``[1, inf)``.
    method : {"BCa", "percentile", "basic"}, default "BCa"
        Interval construction (see Notes).
    axis : int, default -1
        Axis of ``samples`` that holds the observations.
    rng : numpy.random.Generator
        Source of the resampling indices; the same generator state gives the same interval.

    Returns
    -------
    low, high : float or ndarray of shape (...)
        Interval end points; Python floats for a 1-D sample.

    Raises
    ------
    InvalidParameterError
        If ``samples`` is empty along ``axis`` or holds NaN or infinite values, or another
        argument is outside its range.

    Notes
    -----
    The resamples :math:`x^{*b}`, :math:`b = 1, \\dots, B`, are drawn with replacement from the
    sample and give the bootstrap distribution :math:`\\hat\\theta^{*b}`. The percentile
    interval of level :math:`1 - 2\\alpha` is (Ch. 13 of [2]_)

    .. math:: [\\hat G^{-1}(\\alpha),\\ \\hat G^{-1}(1 - \\alpha)],

    with :math:`\\hat G` the empirical CDF of :math:`\\hat\\theta^{*}`. The bias-corrected and
    accelerated (BCa) interval [1]_ (Ch. 14 of [2]_) moves both quantiles to

    .. math::

        \\alpha_{1,2} = \\Phi\\left(\\hat z_0 + \\frac{\\hat z_0 + z^{(\\alpha)}}
        {1 - \\hat a (\\hat z_0 + z^{(\\alpha)})}\\right),

    where :math:`\\hat z_0 = \\Phi^{-1}(\\#\\{\\hat\\theta^{*b} < \\hat\\theta\\}/B)` corrects
    median bias and the acceleration :math:`\\hat a` comes from the jackknife. BCa is second
    order accurate and the default; for the handful of seeds typical of RL studies (n of 5 to
    10) every bootstrap interval undercovers somewhat, which the report should say.
    The computation is :func:`scipy.stats.bootstrap`. Conventions for degenerate samples,
    chosen so that no NaN and no warning reaches a report:

    - a sample of one observation, or of identical observations, has every resample equal to
      itself, so the interval collapses to ``(statistic(x), statistic(x))``; for ``n = 1``
      this reflects the absence of information about spread, not certainty;
    - where BCa is undefined (e.g. all jackknife values equal), the percentile interval of
      the same resamples is returned instead.

    References
    ----------
    .. [1] B. Efron, "Better bootstrap confidence intervals", Journal of the American
       Statistical Association 82(397), 171-185 (1987), DOI 10.1080/01621459.1987.10478410.
    .. [2] B. Efron and R. J. Tibshirani, "An Introduction to the Bootstrap", Chapman &
       Hall/CRC, 1993, Ch. 13-14, DOI 10.1201/9780429246593.

    Examples
    --------
    A single observation or a constant sample gives a zero-width interval:

    >>> import numpy as np
    >>> bootstrap_ci([3.0], rng=np.random.default_rng(0))
    (3.0, 3.0)
    >>> bootstrap_ci([2.0, 2.0, 2.0], rng=np.random.default_rng(0))
    (2.0, 2.0)

    The percentile interval of the mean of ``{0, 1}`` spans the whole range, since the
    resample means 0 and 1 each occur with probability 1/4:

    >>> bootstrap_ci([0.0, 1.0], method="percentile", rng=np.random.default_rng(0))
    (0.0, 1.0)
    """
    owner = "bootstrap_ci"
    if not callable(statistic):
        raise InvalidParameterError(
            f"The 'statistic' parameter of {owner} must be a callable. Got {statistic!r} instead."
        )
    axis = _check_int("axis", axis, owner=owner, low=-(2**31))
    x = _check_sample("samples", samples, owner=owner, min_size=1, axis=axis)
    conf = _check_confidence(confidence, owner=owner)
    n_res = _check_int("n_resamples", n_resamples, owner=owner, low=1)
    check_choice("method", method, BOOTSTRAP_METHODS, owner=owner)
    gen = _check_rng(rng, owner=owner)

    batch_shape = x.shape[:-1]
    flat = x.reshape(-1, x.shape[-1])
    constant = np.all(flat == flat[:, :1], axis=-1)
    low = np.empty(flat.shape[0])
    high = np.empty(flat.shape[0])
    if constant.any():
        point = _apply_statistic(statistic, flat[constant])
        low[constant] = point
        high[constant] = point
    varied = ~constant
    if varied.any():
        data = (flat[varied],)
        kwargs: dict[str, Any] = {"axis": -1, "confidence_level": conf, "rng": gen}
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            # Degenerate BCa cases return NaN with a warning; they are replaced below.
            warnings.simplefilter("ignore", sps.DegenerateDataWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            res = sps.bootstrap(data, statistic, n_resamples=n_res, method=method, **kwargs)
            lo = np.asarray(res.confidence_interval.low, dtype=np.float64)
            hi = np.asarray(res.confidence_interval.high, dtype=np.float64)
            bad = ~(np.isfinite(lo) & np.isfinite(hi))
            if bad.any():
                pct = sps.bootstrap(
                    data,
                    statistic,
                    n_resamples=0,
                    method="percentile",
                    bootstrap_result=res,
                    **kwargs,
                )
                lo = np.where(bad, pct.confidence_interval.low, lo)
                hi = np.where(bad, pct.confidence_interval.high, hi)
        low[varied] = lo
        high[varied] = hi
    return _out(low.reshape(batch_shape)), _out(high.reshape(batch_shape))


def _apply_statistic(statistic: Callable[..., Any], data: NDArray[np.float64]) -> NDArray:
    """Statistic of each row of a 2-D array."""
    if _takes_axis(statistic):
        return np.asarray(statistic(data, axis=-1), dtype=np.float64)
    return np.array([float(statistic(row)) for row in data])


def summarize(
    samples: ArrayLike,
    *,
    rng: np.random.Generator,
    confidence: float = 0.95,
    n_resamples: int = 9999,
    method: str = "BCa",
) -> dict[str, float | int]:
    """Mean, bootstrap confidence interval, standard deviation and size of one sample.

    This is the record stored per method and metric in a study's ``summary.json``
    (``methods -> {name -> {metric -> {mean, ci_low, ci_high, std, n}}}``).

    Parameters
    ----------
    samples : array_like of shape (n,)
        Finite observations, at least one (typically one value per seed).
    rng : numpy.random.Generator
        Source of the bootstrap resampling.
    confidence : float, default 0.95
        Confidence level of the interval, in (0, 1).
    n_resamples : int, default 9999
        Bootstrap resamples, in ``[1, inf)``.
    method : {"BCa", "percentile", "basic"}, default "BCa"
        Interval method of :func:`bootstrap_ci`.

    Returns
    -------
    summary : dict
        ``mean`` (float), ``ci_low`` and ``ci_high`` (floats, the bootstrap interval of the
        mean), ``std`` (float, sample standard deviation with Bessel's correction) and ``n``
        (int).

    Raises
    ------
    InvalidParameterError
        If ``samples`` is not a non-empty 1-D array of finite values, or another argument is
        outside its range.

    Notes
    -----
    .. math:: \\bar x = \\frac1n\\sum_i x_i, \\qquad
              s = \\sqrt{\\frac{1}{n-1}\\sum_i (x_i - \\bar x)^2}.

    For ``n = 1`` the sample standard deviation is undefined; ``std`` is reported as 0.0 and
    the interval as ``(x, x)`` (see :func:`bootstrap_ci`), so ``n`` must be read alongside.

    References
    ----------
    .. [1] B. Efron and R. J. Tibshirani, "An Introduction to the Bootstrap", Chapman &
       Hall/CRC, 1993, Ch. 2 and 14, DOI 10.1201/9780429246593.

    Examples
    --------
    >>> import numpy as np
    >>> s = summarize([1.0, 2.0, 3.0], rng=np.random.default_rng(0))
    >>> s["mean"], s["std"], s["n"]
    (2.0, 1.0, 3)
    >>> s["ci_low"] <= s["mean"] <= s["ci_high"]
    True
    """
    owner = "summarize"
    x = _check_sample("samples", samples, owner=owner, min_size=1)
    low, high = bootstrap_ci(
        x,
        confidence=confidence,
        n_resamples=n_resamples,
        method=method,
        rng=_check_rng(rng, owner=owner),
    )
    n = int(x.shape[0])
    return {
        "mean": float(np.mean(x)),
        "ci_low": float(low),
        "ci_high": float(high),
        "std": float(np.std(x, ddof=1)) if n > 1 else 0.0,
        "n": n,
    }


# --------------------------------------------------------------------------------------------
# two-sample tests
# --------------------------------------------------------------------------------------------


def welch_t_test(a: ArrayLike, b: ArrayLike, *, alternative: str = "two-sided") -> dict[str, float]:
    """Welch's unequal-variance t-test for a difference of two means.

    Parameters
    ----------
    a, b : array_like of shape (n_a,) and (n_b,)
        Independent samples of finite values, at least two each.
    alternative : {"two-sided", "less", "greater"}, default "two-sided"
        Alternative hypothesis about ``mean(a) - mean(b)``.

    Returns
    -------
    result : dict
        ``statistic`` (t), ``p_value`` and ``df`` (Welch-Satterthwaite degrees of freedom),
        all Python floats.

    Raises
    ------
    InvalidParameterError
        If a sample has fewer than two values or a non-finite value.

    Notes
    -----
    With sample means :math:`\\bar a, \\bar b`, variances :math:`s_a^2, s_b^2` (Bessel
    corrected) and :math:`v_a = s_a^2/n_a`, :math:`v_b = s_b^2/n_b` ([1]_, [2]_):

    .. math::

        t = \\frac{\\bar a - \\bar b}{\\sqrt{v_a + v_b}}, \\qquad
        \\nu = \\frac{(v_a + v_b)^2}{v_a^2/(n_a - 1) + v_b^2/(n_b - 1)},

    and the p-value is taken from Student's t distribution with :math:`\\nu` degrees of
    freedom (:func:`scipy.stats.ttest_ind` with ``equal_var=False``). Degenerate case: when
    both samples have zero variance, ``t`` is ``0`` with ``p = 1`` if the means are equal,
    and ``+-inf`` with ``p = 0`` (or 1 for the one-sided alternative that points the other
    way) if they differ; ``df`` is then reported as ``n_a + n_b - 2``.

    References
    ----------
    .. [1] B. L. Welch, "The generalization of 'Student's' problem when several different
       population variances are involved", Biometrika 34(1-2), 28-35 (1947),
       DOI 10.1093/biomet/34.1-2.28.
    .. [2] F. E. Satterthwaite, "An approximate distribution of estimates of variance
       components", Biometrics Bulletin 2(6), 110-114 (1946), DOI 10.2307/3002019.

    Examples
    --------
    For ``a = [1, 2, 3, 4]`` and ``b = [2, 3, 5, 9]``, hand computation gives
    :math:`v_a = 5/12`, :math:`v_b = 115/48`, hence :math:`t = -3/\\sqrt 5` and
    :math:`\\nu = 2187/545`:

    >>> import numpy as np
    >>> r = welch_t_test([1, 2, 3, 4], [2, 3, 5, 9])
    >>> bool(np.isclose(r["statistic"], -3 / np.sqrt(5)))
    True
    >>> bool(np.isclose(r["df"], 2187 / 545))
    True
    """
    owner = "welch_t_test"
    xa = _check_sample("a", a, owner=owner, min_size=2)
    xb = _check_sample("b", b, owner=owner, min_size=2)
    check_choice("alternative", alternative, _ALTERNATIVES, owner=owner)
    if np.ptp(xa) == 0.0 and np.ptp(xb) == 0.0:
        diff = float(xa[0] - xb[0])
        df = float(xa.size + xb.size - 2)
        if diff == 0.0:
            return {"statistic": 0.0, "p_value": 1.0, "df": df}
        t = math.copysign(math.inf, diff)
        agrees = alternative == "two-sided" or (alternative == "greater") == (diff > 0)
        return {"statistic": t, "p_value": 0.0 if agrees else 1.0, "df": df}
    res = sps.ttest_ind(xa, xb, equal_var=False, alternative=alternative)
    return {"statistic": float(res.statistic), "p_value": float(res.pvalue), "df": float(res.df)}


def mann_whitney(a: ArrayLike, b: ArrayLike, *, alternative: str = "two-sided") -> dict[str, float]:
    """Mann-Whitney U (Wilcoxon rank-sum) test of two independent samples.

    Parameters
    ----------
    a, b : array_like of shape (n_a,) and (n_b,)
        Independent samples of finite values, at least one each.
    alternative : {"two-sided", "less", "greater"}, default "two-sided"
        Alternative hypothesis: ``"greater"`` means values of ``a`` tend to exceed those
        of ``b``.

    Returns
    -------
    result : dict
        ``statistic`` (:math:`U_a`) and ``p_value``, Python floats.

    Raises
    ------
    InvalidParameterError
        If a sample is empty or holds a non-finite value.

    Notes
    -----
    .. math:: U_a = \\sum_{i=1}^{n_a}\\sum_{j=1}^{n_b}
              \\left([a_i > b_j] + \\tfrac12 [a_i = b_j]\\right),

    the number of pairs in which ``a`` wins, ties counting one half [1]_; :math:`U_a + U_b =
    n_a n_b`. The p-value is exact for small samples without ties and otherwise uses the
    tie-corrected normal approximation with continuity correction
    (:func:`scipy.stats.mannwhitneyu`, ``method="auto"``). When every value in both samples
    is the same, ``U = n_a n_b / 2`` and ``p = 1``.

    References
    ----------
    .. [1] H. B. Mann and D. R. Whitney, "On a test of whether one of two random variables is
       stochastically larger than the other", Annals of Mathematical Statistics 18(1), 50-60
       (1947), DOI 10.1214/aoms/1177730491.

    Examples
    --------
    Complete separation of two samples of three: ``U = 0`` and the exact two-sided p-value is
    :math:`2 / \\binom{6}{3} = 0.1`:

    >>> r = mann_whitney([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    >>> r["statistic"], round(r["p_value"], 12)
    (0.0, 0.1)
    """
    owner = "mann_whitney"
    xa = _check_sample("a", a, owner=owner, min_size=1)
    xb = _check_sample("b", b, owner=owner, min_size=1)
    check_choice("alternative", alternative, _ALTERNATIVES, owner=owner)
    if np.ptp(np.concatenate([xa, xb])) == 0.0:
        return {"statistic": 0.5 * xa.size * xb.size, "p_value": 1.0}
    res = sps.mannwhitneyu(xa, xb, alternative=alternative, method="auto")
    return {"statistic": float(res.statistic), "p_value": float(res.pvalue)}


# --------------------------------------------------------------------------------------------
# effect sizes
# --------------------------------------------------------------------------------------------


def _pooled_d(a: ArrayLike, b: ArrayLike, axis: int, owner: str) -> tuple[NDArray[np.float64], int]:
    """Cohen's d along ``axis`` and the pooled degrees of freedom ``n_a + n_b - 2``."""
    axis = _check_int("axis", axis, owner=owner, low=-(2**31))
    xa = _check_sample("a", a, owner=owner, min_size=2, axis=axis)
    xb = _check_sample("b", b, owner=owner, min_size=2, axis=axis)
    na, nb = xa.shape[-1], xb.shape[-1]
    try:
        np.broadcast_shapes(xa.shape[:-1], xb.shape[:-1])
    except ValueError:
        raise InvalidParameterError(
            f"The 'b' parameter of {owner} must broadcast against 'a' outside axis {axis}. "
            f"Got shapes {np.shape(a)} and {np.shape(b)} instead."
        ) from None
    m = na + nb - 2
    diff = xa.mean(axis=-1) - xb.mean(axis=-1)
    pooled_var = ((na - 1) * xa.var(axis=-1, ddof=1) + (nb - 1) * xb.var(axis=-1, ddof=1)) / m
    # Zero spread is detected exactly (not from the variance, which round-off can leave
    # at ~1e-34 for a constant sample).
    flat = (np.ptp(xa, axis=-1) == 0.0) & (np.ptp(xb, axis=-1) == 0.0)
    sd = np.where(flat, 1.0, np.sqrt(pooled_var))
    d = np.where(flat, np.copysign(np.inf, diff), diff / sd)
    d = np.where(flat & (diff == 0.0), 0.0, d)
    return np.asarray(d, dtype=np.float64), m


def cohens_d(a: ArrayLike, b: ArrayLike, *, axis: int = -1) -> NDArray[np.float64] | float:
    """Cohen's d: difference of two means in units of the pooled standard deviation.

    Parameters
    ----------
    a, b : array_like of shape (..., n_a) and (..., n_b)
        Independent samples of finite values along ``axis``, at least two each; the other
        axes are batch axes and broadcast against each other.
    axis : int, default -1
        Axis that holds the observations.

    Returns
    -------
    d : float or ndarray of shape (...)
        Positive when ``a`` has the larger mean.

    Raises
    ------
    InvalidParameterError
        If a sample has fewer than two values or a non-finite value, or the batch shapes do
        not broadcast.

    Notes
    -----
    Cohen's population effect size :math:`d = (m_A - m_B)/\\sigma` (Sec. 2.2 of [1]_) is
    estimated with the pooled within-group standard deviation:

    .. math::

        d = \\frac{\\bar a - \\bar b}{s_p}, \\qquad
        s_p^2 = \\frac{(n_a - 1) s_a^2 + (n_b - 1) s_b^2}{n_a + n_b - 2}.

    Cohen's conventional magnitudes are 0.2 (small), 0.5 (medium) and 0.8 (large). The
    estimator is biased away from zero in small samples; :func:`hedges_g` corrects it.
    Degenerate case: with :math:`s_p = 0`, ``d`` is 0 for equal means and ``+-inf``
    (``math.inf``) otherwise.

    References
    ----------
    .. [1] J. Cohen, "Statistical Power Analysis for the Behavioral Sciences", 2nd ed.,
       Lawrence Erlbaum Associates, 1988, Ch. 2, DOI 10.4324/9780203771587.
    .. [2] M. Borenstein, L. V. Hedges, J. P. T. Higgins and H. R. Rothstein, "Introduction
       to Meta-Analysis", Wiley, 2009, Ch. 4, DOI 10.1002/9780470743386.ch4.

    Examples
    --------
    Means 3 and 1 with within-group variance 1 in both groups give d = 2:

    >>> cohens_d([2.0, 3.0, 4.0], [0.0, 1.0, 2.0])
    2.0
    >>> cohens_d([[2.0, 3.0, 4.0], [0.0, 1.0, 2.0]], [0.0, 1.0, 2.0]).tolist()
    [2.0, 0.0]
    """
    d, _ = _pooled_d(a, b, axis, "cohens_d")
    return _out(d)


def _hedges_correction(m: int) -> float:
    """Exact small-sample factor J(m) of Hedges (1981) for m degrees of freedom."""
    # J(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2)), via log-gamma to avoid overflow.
    return float(np.exp(special.gammaln(m / 2) - special.gammaln((m - 1) / 2)) / np.sqrt(m / 2))


def hedges_g(a: ArrayLike, b: ArrayLike, *, axis: int = -1) -> NDArray[np.float64] | float:
    """Hedges' g: Cohen's d with the exact small-sample bias correction.

    Parameters
    ----------
    a, b : array_like of shape (..., n_a) and (..., n_b)
        Independent samples of finite values along ``axis``, at least two each; the other
        axes broadcast.
    axis : int, default -1
        Axis that holds the observations.

    Returns
    -------
    g : float or ndarray of shape (...)
        Positive when ``a`` has the larger mean.

    Raises
    ------
    InvalidParameterError
        If a sample has fewer than two values or a non-finite value, or the batch shapes do
        not broadcast.

    Notes
    -----
    With :math:`d` from :func:`cohens_d` and :math:`m = n_a + n_b - 2`, the unbiased
    estimator of [1]_ is

    .. math::

        g = J(m)\\, d, \\qquad
        J(m) = \\frac{\\Gamma(m/2)}{\\sqrt{m/2}\\;\\Gamma\\left((m-1)/2\\right)}
        \\approx 1 - \\frac{3}{4m - 1}.

    The exact gamma-function factor is used; the approximation (Hedges and Olkin 1985;
    Ch. 4 of [2]_) is off by 1e-3 at :math:`m = 6` and by less than 1e-4 from :math:`m = 20`.
    Infinite ``d`` (zero pooled variance) stays infinite.

    References
    ----------
    .. [1] L. V. Hedges, "Distribution theory for Glass's estimator of effect size and related
       estimators", Journal of Educational Statistics 6(2), 107-128 (1981),
       DOI 10.3102/10769986006002107.
    .. [2] M. Borenstein, L. V. Hedges, J. P. T. Higgins and H. R. Rothstein, "Introduction
       to Meta-Analysis", Wiley, 2009, Ch. 4, DOI 10.1002/9780470743386.ch4.

    Examples
    --------
    With two observations per group (m = 2), :math:`J(2) = \\Gamma(1)/\\Gamma(1/2) =
    1/\\sqrt\\pi`:

    >>> import math
    >>> d = cohens_d([1.0, 3.0], [0.0, 1.0])
    >>> math.isclose(hedges_g([1.0, 3.0], [0.0, 1.0]), d / math.sqrt(math.pi))
    True
    """
    d, m = _pooled_d(a, b, axis, "hedges_g")
    return _out(d * _hedges_correction(m))


def cliffs_delta(a: ArrayLike, b: ArrayLike, *, axis: int = -1) -> NDArray[np.float64] | float:
    """Cliff's delta: how often values of ``a`` exceed values of ``b``, minus the reverse.

    Parameters
    ----------
    a, b : array_like of shape (..., n_a) and (..., n_b)
        Independent samples of finite values along ``axis``, at least one each; the other
        axes broadcast.
    axis : int, default -1
        Axis that holds the observations.

    Returns
    -------
    delta : float or ndarray of shape (...)
        In ``[-1, 1]``: 1 when every ``a`` exceeds every ``b``, -1 for the reverse, 0 for
        complete overlap in the dominance sense.

    Raises
    ------
    InvalidParameterError
        If a sample is empty or holds a non-finite value, or the batch shapes do not
        broadcast.

    Notes
    -----
    The dominance statistic of [1]_ counts all :math:`n_a n_b` pairs:

    .. math::

        \\delta = \\frac{\\#\\{(i,j): a_i > b_j\\} - \\#\\{(i,j): a_i < b_j\\}}{n_a n_b}
        = \\frac{1}{n_a n_b}\\sum_{i,j} \\operatorname{sign}(a_i - b_j),

    which equals :math:`2U_a/(n_a n_b) - 1` for the Mann-Whitney :math:`U_a`
    (:func:`mann_whitney`). It is invariant to monotone transformations of the data.
    Computed by one broadcast comparison of shape (..., n_a, n_b).

    References
    ----------
    .. [1] N. Cliff, "Dominance statistics: Ordinal analyses to answer ordinal questions",
       Psychological Bulletin 114(3), 494-509 (1993), DOI 10.1037/0033-2909.114.3.494.

    Examples
    --------
    >>> cliffs_delta([4.0, 5.0], [1.0, 2.0, 3.0]), cliffs_delta([1.0, 2.0], [1.0, 2.0])
    (1.0, 0.0)
    >>> cliffs_delta([1.0, 3.0], [2.0])  # one win, one loss
    0.0
    """
    owner = "cliffs_delta"
    axis = _check_int("axis", axis, owner=owner, low=-(2**31))
    xa = _check_sample("a", a, owner=owner, min_size=1, axis=axis)
    xb = _check_sample("b", b, owner=owner, min_size=1, axis=axis)
    try:
        signs = np.sign(xa[..., :, None] - xb[..., None, :])
    except ValueError:
        raise InvalidParameterError(
            f"The 'b' parameter of {owner} must broadcast against 'a' outside axis {axis}. "
            f"Got shapes {np.shape(a)} and {np.shape(b)} instead."
        ) from None
    return _out(signs.mean(axis=(-2, -1)))


# --------------------------------------------------------------------------------------------
# several methods
# --------------------------------------------------------------------------------------------


def _holm(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Holm step-down adjusted p-values (Holm 1979), in the input order."""
    k = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((k - np.arange(k)) * p[order])
    adjusted = np.empty(k)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def compare_methods(
    samples_by_method: Mapping[str, ArrayLike], reference: str
) -> dict[str, dict[str, float]]:
    """Compare a reference method with every other method (e.g. "DDQN vs each baseline").

    Parameters
    ----------
    samples_by_method : mapping of str to array_like of shape (n_k,)
        One 1-D sample of finite values per method (e.g. one final metric per seed), at
        least two values each, at least two methods.
    reference : str
        Key of the reference method.

    Returns
    -------
    comparisons : dict of str to dict
        For each other method, in the mapping's order: ``welch_p`` and ``mannwhitney_p``
        (two-sided), their Holm-adjusted versions ``welch_p_holm`` and
        ``mannwhitney_p_holm`` over the family of comparisons with ``reference``,
        ``cohens_d``, ``hedges_g``, ``cliffs_delta``, ``mean_diff`` and ``relative_diff``,
        all Python floats.

    Raises
    ------
    InvalidParameterError
        If ``reference`` is not a key, or a sample is invalid (see :func:`welch_t_test`).

    Notes
    -----
    Sign convention: every difference and effect size is *reference minus other*, so a
    positive value means the reference scored higher:

    .. math::

        \\Delta = \\bar x_{ref} - \\bar x_{other}, \\qquad
        \\text{relative\\_diff} = \\frac{\\bar x_{ref} - \\bar x_{other}}{|\\bar x_{other}|}

    (:func:`relative_change`). Whether higher is better depends on the metric. With
    :math:`k` comparisons, Holm's step-down procedure [1]_ multiplies the :math:`i`-th
    smallest p-value by :math:`k - i + 1`, enforces monotonicity and caps at 1; it controls
    the family-wise error rate without independence assumptions.

    References
    ----------
    .. [1] S. Holm, "A simple sequentially rejective multiple test procedure", Scandinavian
       Journal of Statistics 6(2), 65-70 (1979), JSTOR 4615733.

    Examples
    --------
    >>> out = compare_methods(
    ...     {"ddqn": [3.0, 4.0, 5.0], "greedy": [1.0, 2.0, 3.0], "random": [0.0, 1.0, 2.0]},
    ...     reference="ddqn",
    ... )
    >>> out["greedy"]["mean_diff"], out["greedy"]["relative_diff"], out["greedy"]["cohens_d"]
    (2.0, 1.0, 2.0)
    >>> out["random"]["cliffs_delta"]
    1.0
    """
    owner = "compare_methods"
    groups = _check_groups(samples_by_method, owner=owner)
    check_choice("reference", reference, tuple(groups), owner=owner)
    ref = groups[reference]
    others = [k for k in groups if k != reference]
    out: dict[str, dict[str, float]] = {}
    for name in others:
        x = groups[name]
        mean_ref, mean_other = float(ref.mean()), float(x.mean())
        out[name] = {
            "welch_p": welch_t_test(ref, x)["p_value"],
            "mannwhitney_p": mann_whitney(ref, x)["p_value"],
            "cohens_d": float(cohens_d(ref, x)),
            "hedges_g": float(hedges_g(ref, x)),
            "cliffs_delta": float(cliffs_delta(ref, x)),
            "mean_diff": mean_ref - mean_other,
            "relative_diff": float(relative_change(mean_ref, mean_other)),
        }
    for key in ("welch_p", "mannwhitney_p"):
        adjusted = _holm(np.array([out[k][key] for k in others]))
        for name, p_adj in zip(others, adjusted, strict=True):
            out[name][f"{key}_holm"] = float(p_adj)
    return out


def anova_tukey(
    samples_by_method: Mapping[str, ArrayLike], *, confidence: float = 0.95
) -> dict[str, Any]:
    """One-way ANOVA across methods followed by Tukey's HSD for every pair.

    Parameters
    ----------
    samples_by_method : mapping of str to array_like of shape (n_k,)
        One 1-D sample of finite values per method, at least two values each, at least two
        methods.
    confidence : float, default 0.95
        Family-wise confidence level of the Tukey intervals, in (0, 1).

    Returns
    -------
    result : dict
        ``"anova"``: ``{"F", "p_value", "df_between", "df_within"}``; ``"tukey"``: a list
        with one dict ``{"a", "b", "mean_diff", "p_value", "ci_low", "ci_high"}`` per pair
        ``a`` before ``b`` in the mapping's order, where ``mean_diff = mean(a) - mean(b)``.

    Raises
    ------
    InvalidParameterError
        If a sample is invalid or ``confidence`` is outside (0, 1).

    Notes
    -----
    For :math:`k` groups of sizes :math:`n_j` (total :math:`N`) and grand mean
    :math:`\\bar x`, the F statistic [1]_ is

    .. math::

        F = \\frac{\\sum_j n_j (\\bar x_j - \\bar x)^2 / (k - 1)}
                 {\\sum_j \\sum_i (x_{ij} - \\bar x_j)^2 / (N - k)}
          = \\frac{MS_B}{MS_W},

    referred to the :math:`F(k-1, N-k)` distribution. Tukey's honestly significant
    difference [2]_, with the Tukey-Kramer extension to unequal sizes [3]_, refers

    .. math::

        q_{ab} = \\frac{|\\bar x_a - \\bar x_b|}
                      {\\sqrt{\\tfrac{MS_W}{2}\\left(\\tfrac1{n_a} + \\tfrac1{n_b}\\right)}}

    to the studentized range distribution with :math:`k` groups and :math:`N - k` degrees
    of freedom; the simultaneous intervals are :math:`\\bar x_a - \\bar x_b \\pm q_{1-\\alpha}
    \\sqrt{\\cdot}`. Both assume normal groups with equal variances; the computation is
    :func:`scipy.stats.f_oneway` and :func:`scipy.stats.tukey_hsd`. Degenerate case: with
    zero within-group variance, ``F`` is ``inf`` with ``p = 0`` if some means differ and
    ``F = 0`` with ``p = 1`` if all observations are equal; each Tukey pair then has
    ``p = 0`` (``1`` for equal means) and the zero-width interval ``(mean_diff, mean_diff)``.

    References
    ----------
    .. [1] R. A. Fisher, "Statistical Methods for Research Workers", Oliver and Boyd, 1925,
       Ch. VII.
    .. [2] J. W. Tukey, "Comparing individual means in the analysis of variance", Biometrics
       5(2), 99-114 (1949), DOI 10.2307/3001913.
    .. [3] C. Y. Kramer, "Extension of multiple range tests to group means with unequal numbers
       of replications", Biometrics 12(3), 307-310 (1956), DOI 10.2307/3001469.

    Examples
    --------
    Groups {1,2,3}, {4,5,6}, {7,8,9}: :math:`MS_B = 54/2 = 27`, :math:`MS_W = 6/6 = 1`, so
    F = 27 on (2, 6) degrees of freedom:

    >>> r = anova_tukey({"x": [1, 2, 3], "y": [4, 5, 6], "z": [7, 8, 9]})
    >>> round(r["anova"]["F"], 10), r["anova"]["df_between"], r["anova"]["df_within"]
    (27.0, 2, 6)
    >>> [(t["a"], t["b"], t["mean_diff"]) for t in r["tukey"]]
    [('x', 'y', -3.0), ('x', 'z', -6.0), ('y', 'z', -3.0)]
    """
    owner = "anova_tukey"
    groups = _check_groups(samples_by_method, owner=owner)
    conf = _check_confidence(confidence, owner=owner)
    names = list(groups)
    samples = [groups[k] for k in names]
    k = len(samples)
    n_total = sum(s.size for s in samples)
    means = np.array([s.mean() for s in samples])
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]

    if all(np.ptp(s) == 0.0 for s in samples):  # zero within-group variance, exactly
        differ = bool(np.ptp(means) > 0.0)
        anova = {"F": math.inf if differ else 0.0, "p_value": 0.0 if differ else 1.0}
        tukey = []
        for i, j in pairs:
            diff = float(means[i] - means[j])
            tukey.append(
                {
                    "a": names[i],
                    "b": names[j],
                    "mean_diff": diff,
                    "p_value": 1.0 if diff == 0.0 else 0.0,
                    "ci_low": diff,
                    "ci_high": diff,
                }
            )
    else:
        f_res = sps.f_oneway(*samples)
        anova = {"F": float(f_res.statistic), "p_value": float(f_res.pvalue)}
        t_res = sps.tukey_hsd(*samples)
        ci = t_res.confidence_interval(confidence_level=conf)
        tukey = [
            {
                "a": names[i],
                "b": names[j],
                "mean_diff": float(t_res.statistic[i, j]),
                "p_value": float(t_res.pvalue[i, j]),
                "ci_low": float(ci.low[i, j]),
                "ci_high": float(ci.high[i, j]),
            }
            for i, j in pairs
        ]
    anova["df_between"] = k - 1
    anova["df_within"] = n_total - k
    return {"anova": anova, "tukey": tukey}


# --------------------------------------------------------------------------------------------
# fairness, convergence, relative change
# --------------------------------------------------------------------------------------------


def jain_fairness(x: ArrayLike, *, axis: int = -1) -> NDArray[np.float64] | float:
    """Jain's fairness index of a non-negative allocation.

    Parameters
    ----------
    x : array_like of shape (..., n)
        Non-negative, finite allocations (e.g. key rate or throughput per user pair) along
        ``axis``, at least one; the other axes are batch axes.
    axis : int, default -1
        Axis that holds the ``n`` users.

    Returns
    -------
    fairness : float or ndarray of shape (...)
        In ``[1/n, 1]``.

    Raises
    ------
    InvalidParameterError
        If ``x`` has a negative, NaN or infinite value, or is empty along ``axis``.

    Notes
    -----
    The fairness index of [1]_ is

    .. math:: f(x) = \\frac{\\left(\\sum_{i=1}^n x_i\\right)^2}{n \\sum_{i=1}^n x_i^2}
              = \\frac{1}{1 + c_v^2},

    with :math:`c_v` the population coefficient of variation. It is 1 when all users get the
    same amount, :math:`k/n` when :math:`k` users share equally and the rest get nothing, and
    :math:`1/n` when one user takes everything. It is scale invariant. Convention: the
    all-zero allocation (0/0) is defined as 1, perfectly (if uselessly) fair, since every
    user receives the same amount.

    References
    ----------
    .. [1] R. Jain, D.-M. Chiu and W. R. Hawe, "A Quantitative Measure of Fairness and
       Discrimination for Resource Allocation in Shared Computer Systems", Digital Equipment
       Corporation, Technical Report DEC-TR-301 (1984), arXiv:cs/9809099.

    Examples
    --------
    >>> jain_fairness([2.0, 2.0, 2.0, 2.0]), jain_fairness([5.0, 0.0, 0.0, 0.0])
    (1.0, 0.25)
    >>> jain_fairness([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]).tolist()
    [0.5, 1.0]
    """
    owner = "jain_fairness"
    axis = _check_int("axis", axis, owner=owner, low=-(2**31))
    arr = _check_sample("x", x, owner=owner, min_size=1, axis=axis)
    if (arr < 0.0).any():
        raise InvalidParameterError(
            f"The 'x' parameter of {owner} must be a float in the range [0.0, inf). "
            f"Got {arr[arr < 0.0].flat[0]!r} instead."
        )
    n = arr.shape[-1]
    # Divide by the largest share first: the index is scale invariant, and this keeps
    # squares of very small or very large allocations from under- or overflowing.
    peak = arr.max(axis=-1, keepdims=True)
    y = arr / np.where(peak > 0.0, peak, 1.0)
    total = y.sum(axis=-1)
    squares = (y * y).sum(axis=-1)
    f = np.where(
        peak[..., 0] > 0.0, total * total / (n * np.where(squares > 0.0, squares, 1.0)), 1.0
    )
    return _out(np.asarray(f, dtype=np.float64))


def episodes_to_convergence(
    curve: ArrayLike,
    *,
    window: int = 100,
    tolerance: float = 0.05,
    min_stable: int | None = None,
) -> int | None:
    """First episode after which a learning curve's moving average stays on its final plateau.

    Parameters
    ----------
    curve : array_like of shape (T,)
        Per-episode values (e.g. episodic return), finite, in episode order; at least
        ``window`` of them.
    window : int, default 100
        Length (in episodes) of the trailing moving average, in ``[1, T]``. The final plateau
        is the mean of the last ``window`` episodes.
    tolerance : float, default 0.05
        Half-width of the convergence band as a fraction of the range of the moving average,
        in ``[0, 1]``.
    min_stable : int or None, default None
        Least number of episodes the moving average must stay in the band, counted from the
        returned index to the end of the curve, for convergence to count, in ``[1, T]``;
        ``None`` means ``window``.

    Returns
    -------
    episode : int or None
        0-based index :math:`t^*` of the episode at which convergence is reached (so
        :math:`t^* + 1` episodes were played), or ``None`` if the curve never converges by
        the rule below.

    Raises
    ------
    InvalidParameterError
        If ``curve`` is not 1-D and finite with at least ``window`` values, or another
        argument is outside its range.

    Notes
    -----
    This is an operational definition (ours, not from a paper) for claims such as
    "converges in about 4000 episodes". With the trailing moving average

    .. math:: m_t = \\frac1w \\sum_{s=t-w+1}^{t} x_s, \\qquad t = w-1, \\dots, T-1,

    the plateau :math:`\\mu = m_{T-1}` (mean of the last :math:`w` episodes) and the band
    half-width :math:`h = \\tau\\,(\\max_t m_t - \\min_t m_t)`,

    .. math:: t^* = \\min\\{t \\ge w - 1 : |m_s - \\mu| \\le h \\ \\ \\forall s \\ge t\\},

    i.e. the last episode of the first averaging window after which the smoothed curve never
    leaves the band again (comparisons allow float round-off of 1e-12 of the largest
    :math:`|x|`). The curve counts as converged only if :math:`T - t^* \\ge` ``min_stable``;
    otherwise the plateau was reached too late to be confirmed and ``None`` is returned.
    Consequences worth stating next to a reported number:

    - the trailing window makes :math:`t^*` lag the change it detects: for a clean step at
      episode :math:`k`, :math:`t^* = k - 1 + \\lceil (1 - \\tau) w \\rceil`;
    - the band is relative to the curve's own range, so a curve that never learns (pure
      noise) typically gives a late index or ``None``, and a constant curve converges at
      :math:`w - 1` (given :math:`T \\ge w - 1 +` ``min_stable``);
    - a curve still rising at the end converges, by this rule, within its last
      :math:`\\approx \\tau` fraction; compare :math:`t^*` with :math:`T` before claiming a
      plateau.

    Examples
    --------
    A step from 0 to 1 at episode 100 with a 10-episode window and a 25 % band: the moving
    average first reaches 0.75 when 8 of its 10 episodes follow the step, at
    :math:`t^* = 99 + \\lceil 7.5 \\rceil = 107`:

    >>> import numpy as np
    >>> curve = np.r_[np.zeros(100), np.ones(100)]
    >>> episodes_to_convergence(curve, window=10, tolerance=0.25)
    107
    >>> episodes_to_convergence(np.r_[np.zeros(195), np.ones(5)], window=10) is None
    True
    """
    owner = "episodes_to_convergence"
    window = _check_int("window", window, owner=owner, low=1)
    x = _check_sample("curve", curve, owner=owner, min_size=1)
    t_len = x.shape[0]
    if window > t_len:
        raise InvalidParameterError(
            f"The 'window' parameter of {owner} must be an int in the range [1, {t_len}] "
            f"(the length of 'curve'). Got {window!r} instead."
        )
    tol = _check_float("tolerance", tolerance, owner=owner, low=0.0, high=1.0)
    stable = window if min_stable is None else min_stable
    stable = _check_int("min_stable", stable, owner=owner, low=1, high=t_len)

    moving = np.lib.stride_tricks.sliding_window_view(x, window).mean(axis=-1)
    plateau = moving[-1]
    half_width = tol * float(np.ptp(moving))
    slack = _ROUNDOFF * float(np.max(np.abs(x)))
    outside = np.flatnonzero(np.abs(moving - plateau) > half_width + slack)
    # moving[j] ends at episode j + window - 1; convergence starts one after the last exit.
    start = 0 if outside.size == 0 else int(outside[-1]) + 1
    episode = start + window - 1
    return episode if t_len - episode >= stable else None


def relative_change(new: ArrayLike, base: ArrayLike) -> NDArray[np.float64] | float:
    """Relative change of ``new`` over ``base``, for "x % over baseline" claims.

    Parameters
    ----------
    new : array_like
        Value of the method being reported (finite).
    base : array_like
        Baseline value (finite); broadcasts against ``new``.

    Returns
    -------
    change : float or ndarray
        Fraction (multiply by 100 for percent), the broadcast shape of the inputs.

    Raises
    ------
    InvalidParameterError
        If an input is NaN or infinite.

    Notes
    -----
    .. math:: r = \\frac{x_{new} - x_{base}}{|x_{base}|}.

    Sign convention: :math:`r > 0` means ``new`` is numerically larger than ``base``, also
    when the baseline is negative (dividing by :math:`|x_{base}|` keeps the sign of the
    difference); whether larger is better depends on the metric (return versus latency).
    Degenerate case: a zero baseline gives 0 when ``new`` is also 0 and ``+-inf``
    (``math.inf``) otherwise.

    Examples
    --------
    >>> relative_change(1.5, 1.0), relative_change(-0.5, -1.0), relative_change(3.0, 0.0)
    (0.5, 0.5, inf)
    >>> relative_change([110.0, 90.0], 100.0).tolist()
    [0.1, -0.1]
    """
    owner = "relative_change"
    xn = check_range("new", new, owner=owner)
    xb = check_range("base", base, owner=owner)
    for name, arr in (("new", xn), ("base", xb)):
        if not np.isfinite(arr).all():
            got = arr[~np.isfinite(arr)].flat[0] if arr.ndim else arr.item()
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must be a float in the range (-inf, inf). "
                f"Got {got!r} instead."
            )
    diff = xn - xb
    denom = np.abs(xb)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(denom > 0.0, diff / np.where(denom > 0.0, denom, 1.0), np.sign(diff) * np.inf)
    r = np.where((denom == 0.0) & (diff == 0.0), 0.0, r)
    return _out(np.asarray(r, dtype=np.float64))
