"""Figures of the DPEM entanglement study (PNG, Agg backend, labelled axes with units).

Four figures, each drawn from numbers :mod:`qnetrl.experiments.entanglement_study` has
already computed or logged (nothing is simulated here): the training delivery rate and
contention frequency of every learned method per PPO iteration (mean and bootstrap band over
seeds) beside the evaluated heuristics, delivery rate and contention frequency per method
with confidence intervals, a node's and the whole network's forecast demand against the
actual requests in an evaluation episode (with the persistence forecast), and the histogram
of delivered end-to-end fidelities per method.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from qnetrl.experiments import stats

if TYPE_CHECKING:
    from qnetrl.experiments.entanglement_study import EntanglementStudyConfig

__all__ = [
    "COLORS",
    "plot_delivery_contention",
    "plot_fidelity_histogram",
    "plot_forecast_vs_actual",
    "plot_training_curves",
    "write_figures",
]

#: Colour of each method, stable across figures.
COLORS: Final[dict[str, str]] = {
    "dpem": "tab:blue",
    "dpem_no_forecast": "tab:orange",
    "dpem_no_federation": "tab:green",
    "dpem_no_dp": "tab:purple",
    "centralized": "black",
    "fcfs": "tab:brown",
    "upper_bound": "tab:gray",
}


#: Per-iteration training metrics drawn by :func:`plot_training_curves`.
_CURVE_METRICS: Final[tuple[str, str]] = ("delivery_rate", "contention_rate")


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _err(s: Mapping[str, Any] | None) -> tuple[float, float, float]:
    """(mean, lower error, upper error) of a summary record; NaN when missing."""
    if not s or s.get("mean") is None:
        return np.nan, 0.0, 0.0
    m = s["mean"]
    return m, max(m - s["ci_low"], 0.0), max(s["ci_high"] - m, 0.0)


def plot_training_curves(
    curves: Mapping[str, Mapping[str, np.ndarray]],
    path: str | Path,
    *,
    references: Mapping[str, Mapping[str, float | None]],
    confidence: float = 0.95,
    rng: np.random.Generator,
) -> Path:
    """Training delivery rate and contention frequency per PPO iteration, per method.

    ``curves[method][metric]`` is an array of shape (S, I): S seeds, I iterations, for the
    metrics ``delivery_rate`` and ``contention_rate`` (stochastic training policy).
    ``references[method][metric]`` are evaluated means drawn as horizontal lines.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.2), constrained_layout=True)
    for ax, metric, label in (
        (axes[0], "delivery_rate", "delivery rate (delivered / arrived)"),
        (axes[1], "contention_rate", "contention frequency (contended / claims)"),
    ):
        for method, by_metric in curves.items():
            arr = np.asarray(by_metric[metric], dtype=np.float64)
            if arr.ndim != 2 or arr.shape[1] == 0:
                continue
            x = np.arange(1, arr.shape[1] + 1)
            mean = arr.mean(axis=0)
            ax.plot(x, mean, c=COLORS.get(method), label=f"{method} (mean of {arr.shape[0]})")
            if arr.shape[0] > 1:
                low, high = stats.bootstrap_ci(
                    arr.T, confidence=confidence, n_resamples=499, method="percentile", rng=rng
                )
                ax.fill_between(x, low, high, color=COLORS.get(method), alpha=0.2, lw=0)
        for method, vals in references.items():
            v = vals.get(metric)
            if v is not None and np.isfinite(v):
                ax.axhline(v, ls="--", lw=1, c=COLORS.get(method), label=f"{method} (evaluated)")
        ax.set_xlabel("PPO iteration")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_title("Delivery rate over training")
    axes[1].set_title("Contention over training")
    axes[1].legend(fontsize=7)
    return _save(fig, Path(path))


def plot_delivery_contention(
    methods_summary: Mapping[str, Mapping[str, Any]], path: str | Path
) -> Path:
    """Bar charts of delivery rate and contention frequency per method with CI error bars."""
    methods = list(methods_summary)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11.0, 4.4), constrained_layout=True)
    x = np.arange(len(methods))
    colors = [COLORS.get(m, "tab:gray") for m in methods]
    for ax, metric, label in (
        (ax1, "delivery_rate", "delivery rate (delivered / arrived)"),
        (ax2, "contention_rate", "contention frequency (contended / claims)"),
    ):
        y = np.array([_err(methods_summary[m].get(metric)) for m in methods])
        ax.bar(x, y[:, 0], yerr=y[:, 1:].T, capsize=3, color=colors)
        ax.set_xticks(x, methods, rotation=30, ha="right")
        ax.set_xlabel("method (upper_bound: per-slot LP bound, a reference)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, axis="y")
    ax1.set_title("Delivery rate (95 % CI over seeds)")
    ax2.set_title("Contention (95 % CI over seeds)")
    return _save(fig, Path(path))


def plot_forecast_vs_actual(
    arrivals: np.ndarray, forecast: np.ndarray, path: str | Path, *, slot_s: float
) -> Path:
    """Forecast (1 slot ahead) vs actual requests and the persistence forecast.

    ``arrivals`` has shape (T, B, N) and ``forecast`` (T, B, N, h), both from one evaluation
    log; copy 0 is drawn. Left: the node with the most requests; right: the whole network
    (sums over nodes).
    """
    arr = np.asarray(arrivals, dtype=np.float64)[:, 0]  # (T, N)
    fc = np.asarray(forecast, dtype=np.float64)[:, 0, :, 0]  # (T, N): slot t + 1
    t_len = arr.shape[0]
    t = np.arange(1, t_len) * slot_s
    node = int(np.argmax(arr.sum(axis=0)))
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.2), constrained_layout=True)
    for ax, series, pred, title in (
        (axes[0], arr[:, node], fc[:-1, node], f"node {node} (busiest)"),
        (axes[1], arr.sum(axis=1), fc[:-1].sum(axis=1), "network (sum over nodes)"),
    ):
        actual, persistence = series[1:], series[:-1]  # slot t + 1 and its persistence forecast
        ax.step(t, actual, where="mid", c="k", lw=1, label="actual requests")
        ax.plot(t, persistence, c="tab:gray", lw=0.8, alpha=0.7, label="persistence forecast")
        ax.plot(t, pred, c="tab:blue", lw=1.5, label="GRU forecast, 1 slot ahead")
        ax.set_xlabel("time in the evaluation episode (s)")
        ax.set_ylabel("requests per slot (count)")
        ax.set_title(f"Forecast vs actual demand: {title}")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    return _save(fig, Path(path))


def plot_fidelity_histogram(
    histograms: Mapping[str, Mapping[str, Any]],
    path: str | Path,
    *,
    required: tuple[float, float],
) -> Path:
    """Distribution of delivered end-to-end fidelities per method (densities, step lines).

    ``histograms[method]`` holds ``edges`` (bins + 1) and ``counts`` summed over seeds.
    """
    fig, ax = plt.subplots(figsize=(7.0, 4.4), constrained_layout=True)
    for method, h in histograms.items():
        edges = np.asarray(h["edges"], dtype=np.float64)
        counts = np.asarray(h["counts"], dtype=np.float64)
        total = counts.sum()
        if total <= 0:
            continue
        density = counts / (total * np.diff(edges))
        ax.stairs(
            density, edges, color=COLORS.get(method), lw=1.4, label=f"{method} (n={total:.0f})"
        )
    ax.axvspan(*required, color="tab:red", alpha=0.08, label="required fidelity range")
    ax.set_xlabel("delivered end-to-end Werner fidelity (dimensionless)")
    ax.set_ylabel("probability density (per unit fidelity)")
    ax.set_title("Fidelity of delivered pairs (all seeds, evaluation episodes)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, Path(path))


def write_figures(
    run_dir: str | Path,
    *,
    config: EntanglementStudyConfig,
    units: Mapping[tuple[str, int], dict[str, Any]],
    methods_summary: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    """Write the four figures into ``run_dir``; returns their file names."""
    from qnetrl.experiments.entanglement_study import LEARNED, POLICIES

    run_dir = Path(run_dir)
    rng = np.random.default_rng([config.seed0, 11])
    seeds = range(config.seeds)
    curves = {}
    for m in LEARNED:
        by_metric = {}
        for metric in _CURVE_METRICS:
            rows = [units[(m, i)]["train"]["curve"][metric] for i in seeds]
            length = min(len(r) for r in rows)
            by_metric[metric] = np.array([r[:length] for r in rows], dtype=np.float64)
        curves[m] = by_metric
    references = {
        m: {k: (methods_summary[m].get(k) or {}).get("mean") for k in _CURVE_METRICS}
        for m in ("centralized", "fcfs")
    }
    paths = [
        plot_training_curves(
            curves,
            run_dir / "delivery_over_training.png",
            references=references,
            confidence=config.confidence,
            rng=rng,
        ),
        plot_delivery_contention(methods_summary, run_dir / "contention.png"),
    ]
    log = run_dir / units[("dpem", 0)]["log_dir"] / "episode.npz"
    with np.load(log) as data:
        if "forecast" in data:
            paths.append(
                plot_forecast_vs_actual(
                    data["arrivals"],
                    data["forecast"],
                    run_dir / "forecast_vs_actual.png",
                    slot_s=config.env.slot_s,
                )
            )
    hists = {}
    for m in POLICIES:
        hs = [units[(m, i)]["fidelity_histogram"] for i in seeds]
        hists[m] = {
            "edges": hs[0]["edges"],
            "counts": np.sum([h["counts"] for h in hs], axis=0).tolist(),
        }
    paths.append(
        plot_fidelity_histogram(
            hists,
            run_dir / "fidelity_histogram.png",
            required=(config.env.fidelity_low, config.env.fidelity_high),
        )
    )
    return [p.name for p in paths]
