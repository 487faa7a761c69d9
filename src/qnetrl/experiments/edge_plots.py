"""Figures of the edge-scheduling study (PNG, Agg backend, labelled axes with units).

Five figures, each drawn from numbers :mod:`qnetrl.experiments.edge_study` has already
computed (nothing is simulated here): secure key rate against error probability under the
publication's and the BB84 key models, latency against the links' error rate for every
method, training-episode returns of DDQN and DQN (mean and 95 % bootstrap band over seeds),
the distribution of node loads per method, and a bar chart of latency and overload with
confidence-interval error bars.
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
    from qnetrl.experiments.edge_study import EdgeStudyConfig

__all__ = [
    "plot_key_rate_vs_error",
    "plot_latency_overload",
    "plot_latency_vs_error",
    "plot_learning_curves",
    "plot_load_distribution",
    "write_figures",
]

#: Colour of each method, stable across figures.
COLORS: Final[dict[str, str]] = {
    "ddqn": "tab:blue",
    "dqn": "tab:orange",
    "random": "tab:gray",
    "round_robin": "tab:brown",
    "least_loaded": "tab:purple",
    "greedy": "tab:green",
    "oracle": "black",
}

_CURVE_POINTS: Final[int] = 200  # learning curves are block-averaged to at most this many points


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _err(s: Mapping[str, Any], scale: float = 1.0) -> tuple[float, float, float]:
    """(mean, lower error, upper error) of a summary record, scaled; NaN when missing."""
    if s["mean"] is None:
        return np.nan, 0.0, 0.0
    m = s["mean"] * scale
    return m, max(m - s["ci_low"] * scale, 0.0), max(s["ci_high"] * scale - m, 0.0)


def plot_key_rate_vs_error(
    curves: Mapping[str, Any], path: str | Path, *, claim: tuple[float, float]
) -> Path:
    """Secure key rate (bit/s) against QBER (%) under both key models, with the claim point."""
    fig, ax = plt.subplots(figsize=(6.6, 4.4), constrained_layout=True)
    q = 100.0 * np.asarray(curves["qber"])
    ax.plot(
        q, curves["rate_publication_bps"], "-", c="tab:red", label="publication model, per slot"
    )
    ax.plot(q, curves["rate_bb84_bps"], "-", c="tab:blue", label="BB84 (Shor-Preskill), per slot")
    fq = 100.0 * np.asarray(curves["fading_qber_mean"])
    ax.plot(
        fq, curves["fading_rate_publication_bps"], "o--", ms=3, c="tab:red",
        label="publication model, mean over Rayleigh fading",
    )  # fmt: skip
    ax.plot(
        fq, curves["fading_rate_bb84_bps"], "s--", ms=3, c="tab:blue",
        label="BB84, mean over Rayleigh fading",
    )  # fmt: skip
    ax.plot(100.0 * claim[0], claim[1], "*", ms=12, c="gold", mec="k", label="claimed 820,523")
    ax.fill_between(
        q,
        curves["rate_bb84_bps"],
        curves["rate_publication_bps"],
        where=np.asarray(curves["rate_publication_bps"]) > np.asarray(curves["rate_bb84_bps"]),
        color="tab:red",
        alpha=0.12,
        label="overstated by the publication model",
    )
    ax.set_xlim(0.0, q.max())
    ax.set_ylim(0.0, None)
    ax.set_xlabel("error probability (QBER, %)")
    ax.set_ylabel("secure key rate (bit/s)")
    ax.set_title("Secure key rate vs error probability (mean SNR swept for fading points)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, Path(path))


def plot_latency_vs_error(sweep: Mapping[str, list[dict[str, Any]]], path: str | Path) -> Path:
    """Mean latency (ms) against the links' mean QBER (%) per method, with CI error bars."""
    fig, ax = plt.subplots(figsize=(6.6, 4.4), constrained_layout=True)
    for method, rows in sweep.items():
        x = [100.0 * r["qber_mean"]["mean"] for r in rows]
        y = np.array([_err(r["latency_mean_ms"]) for r in rows])
        ax.errorbar(
            x,
            y[:, 0],
            yerr=y[:, 1:].T,
            fmt="o-",
            ms=3,
            capsize=2,
            c=COLORS.get(method),
            label=method + (" (reference)" if method == "oracle" else ""),
        )
    ax.set_xscale("log")
    ax.set_xlabel("mean link error probability (QBER, %, log scale)")
    ax.set_ylabel("mean task latency (ms)")
    ax.set_title("Latency vs error rate (every link's mean SNR shifted)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    return _save(fig, Path(path))


def plot_learning_curves(
    curves: Mapping[str, np.ndarray],
    path: str | Path,
    *,
    confidence: float = 0.95,
    rng: np.random.Generator,
) -> Path:
    """Training-episode return (mean and bootstrap band over seeds) against episode.

    ``curves`` maps a method to an array of shape (S, E): S seeds, E training episodes.
    Episodes are averaged in blocks so that at most 200 points are drawn.
    """
    fig, ax = plt.subplots(figsize=(6.6, 4.4), constrained_layout=True)
    for method, arr in curves.items():
        arr = np.asarray(arr, dtype=np.float64)
        n_seeds, n_ep = arr.shape
        block = max(1, -(-n_ep // _CURVE_POINTS))
        n_blocks = n_ep // block
        if n_blocks == 0:
            continue
        blocks = arr[:, : n_blocks * block].reshape(n_seeds, n_blocks, block).mean(axis=-1)
        x = (np.arange(n_blocks) + 0.5) * block
        mean = blocks.mean(axis=0)
        low, high = stats.bootstrap_ci(
            blocks.T, confidence=confidence, n_resamples=999, method="percentile", rng=rng
        )
        ax.plot(x, mean, c=COLORS.get(method), label=f"{method} (mean of {n_seeds} seeds)")
        ax.fill_between(x, low, high, color=COLORS.get(method), alpha=0.25, lw=0)
    ax.set_xlabel("training episode")
    ax.set_ylabel("episode return (cumulative reward, ms-equivalent)")
    ax.set_title(f"Training curves with {100 * confidence:.0f} % bootstrap band (epsilon-greedy)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, Path(path))


def plot_load_distribution(
    loads: Mapping[str, np.ndarray], path: str | Path, *, threshold: float
) -> Path:
    """Per node and method: distribution over episodes of the episode-mean load ratio (%).

    ``loads`` maps a method to an array of shape (E, N): E evaluation episodes, N nodes.
    """
    methods = list(loads)
    n_nodes = np.asarray(loads[methods[0]]).shape[1]
    fig, ax = plt.subplots(figsize=(max(6.6, 1.2 * len(methods) * n_nodes / 2), 4.4))
    width = 0.8 / n_nodes
    node_colors = plt.get_cmap("viridis")(np.linspace(0.15, 0.85, n_nodes))
    for k in range(n_nodes):
        data = [100.0 * np.asarray(loads[m])[:, k] for m in methods]
        pos = np.arange(len(methods)) + (k - (n_nodes - 1) / 2) * width
        bp = ax.boxplot(data, positions=pos, widths=0.9 * width, patch_artist=True, sym=".")
        for patch in bp["boxes"]:
            patch.set_facecolor(node_colors[k])
        ax.plot([], [], "s", c=node_colors[k], label=f"node {k}")
    ax.axhline(100.0 * threshold, ls="--", c="tab:red", lw=1, label="overload threshold")
    ax.set_xticks(np.arange(len(methods)), methods, rotation=20)
    ax.set_xlabel("method")
    ax.set_ylabel("episode-mean node load (% of capacity)")
    ax.set_title("Load distribution over evaluation episodes, per node")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7, ncol=min(n_nodes + 1, 6))
    fig.tight_layout()
    return _save(fig, Path(path))


def plot_latency_overload(
    methods_summary: Mapping[str, Mapping[str, Any]], path: str | Path
) -> Path:
    """Bar charts of mean latency (ms) and overload frequency (%) with CI error bars."""
    methods = list(methods_summary)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.0, 4.2), constrained_layout=True)
    x = np.arange(len(methods))
    colors = [COLORS.get(m, "tab:gray") for m in methods]
    for ax, metric, scale, label in (
        (ax1, "latency_mean_ms", 1.0, "mean task latency (ms)"),
        (ax2, "overload_rate", 100.0, "overload frequency (% of tasks)"),
    ):
        y = np.array([_err(methods_summary[m][metric], scale) for m in methods])
        ax.bar(x, y[:, 0], yerr=y[:, 1:].T, capsize=3, color=colors)
        ax.set_xticks(x, methods, rotation=25)
        ax.set_xlabel("method (oracle: reference with future knowledge)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, axis="y")
    ax1.set_title("Latency (95 % CI over seeds)")
    ax2.set_title("Node overload (95 % CI over seeds)")
    return _save(fig, Path(path))


def write_figures(
    run_dir: str | Path,
    *,
    config: EdgeStudyConfig,
    units: Mapping[tuple[str, int], dict[str, Any]],
    methods_summary: Mapping[str, Mapping[str, Any]],
    sweep: Mapping[str, list[dict[str, Any]]],
    key_rate: Mapping[str, Any],
) -> list[str]:
    """Write the five figures into ``run_dir``; returns their file names."""
    from qnetrl.experiments.edge_study import LEARNED, METHODS

    run_dir = Path(run_dir)
    rng = np.random.default_rng([config.seed0, 7])
    seeds = range(config.seeds)
    paths = [
        plot_key_rate_vs_error(
            key_rate, run_dir / "key_rate_vs_error.png", claim=(0.0094, 820_523)
        ),
        plot_latency_vs_error(sweep, run_dir / "latency_vs_error.png"),
        plot_learning_curves(
            {
                m: np.array([units[(m, i)]["train"]["episode_returns"] for i in seeds])
                for m in LEARNED
            },
            run_dir / "learning_curves.png",
            confidence=config.confidence,
            rng=rng,
        ),
        plot_load_distribution(
            {
                m: np.concatenate(
                    [np.asarray(units[(m, i)]["load_ratio_episode_mean"]) for i in seeds]
                )
                for m in METHODS
            },
            run_dir / "load_distribution.png",
            threshold=config.env.overload_threshold,
        ),
        plot_latency_overload(methods_summary, run_dir / "latency_overload.png"),
    ]
    return [p.name for p in paths]
