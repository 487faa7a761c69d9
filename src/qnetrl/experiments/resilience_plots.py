"""Figures of the resilience study (PNG, Agg backend, labelled axes with units).

Five figures, each drawn from numbers :mod:`qnetrl.experiments.resilience_study` computed
(nothing is simulated here), each with the publication's claim drawn beside our measurement:
key rate retained against the Byzantine fraction (claims 95 % and 50 %), unavailability
against the Byzantine fraction on a log scale (claims 99.99 % and 95 %), QBER mean and
variance per configuration under fluctuations (claim: below 1 %, variance 35 % lower), QBER
against channel loss with the fitted regression lines, and the DDQN training curves with the
500-episode convergence claim (training returns and the greedy policy's held-out returns,
on which convergence is measured).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

if TYPE_CHECKING:
    from qnetrl.experiments.resilience_study import ResilienceStudyConfig

__all__ = [
    "plot_availability",
    "plot_key_rate_retained",
    "plot_learning_curves",
    "plot_qber",
    "plot_qber_vs_loss",
    "write_figures",
]

#: Colour of each configuration, stable across figures.
COLORS: Final[dict[str, str]] = {
    "baseline": "tab:gray",
    "abft": "tab:orange",
    "dra": "tab:purple",
    "abft_dra": "tab:blue",
    "greedy": "black",
}


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _mean_err(rec: Mapping[str, Any], scale: float = 1.0) -> tuple[float, float, float]:
    if rec.get("mean") is None:
        return np.nan, 0.0, 0.0
    m = rec["mean"] * scale
    lo = m - rec["ci_low"] * scale if rec.get("ci_low") is not None else 0.0
    hi = rec["ci_high"] * scale - m if rec.get("ci_high") is not None else 0.0
    return m, max(lo, 0.0), max(hi, 0.0)


def _label(byz: float, fl: bool) -> str:
    return f"byz{round(100 * byz):02d}_{'fluct' if fl else 'static'}"


def plot_key_rate_retained(
    scenarios: Mapping[str, Mapping[str, Any]],
    fractions: tuple[float, ...],
    labels: Mapping[str, str],
    path: str | Path,
) -> Path:
    """Secure key rate retained vs Byzantine fraction (static links), with the claims."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    x = 100 * np.asarray(fractions)
    for method, rows in scenarios.items():
        pts = [_mean_err(rows[_label(b, False)]["key_rate_retained"], 100.0) for b in fractions]
        m, lo, hi = (np.array(v) for v in zip(*pts, strict=True))
        ax.errorbar(
            x,
            m,
            yerr=[lo, hi],
            marker="o",
            capsize=3,
            label=labels.get(method, method),
            color=COLORS.get(method),
        )
    ax.axhline(95.0, color="tab:blue", ls="--", lw=0.8)
    ax.axhline(50.0, color="tab:gray", ls="--", lw=0.8)
    ax.annotate("claim: ABFT + DRA keeps 95 % at 20 %", (0.5, 96.0), fontsize=7)
    ax.annotate("claim: baseline keeps 50 % at 20 %", (0.5, 51.0), fontsize=7)
    ax.set_xlabel("Byzantine nodes (% of all nodes)")
    ax.set_ylabel("secure key rate retained (% of attack-free)")
    ax.set_title("Key rate under attack (static links; mean, 95 % CI)", fontsize=9)
    ax.legend(fontsize=6)
    return _save(fig, Path(path))


def plot_availability(
    scenarios: Mapping[str, Mapping[str, Any]],
    fractions: tuple[float, ...],
    labels: Mapping[str, str],
    path: str | Path,
) -> Path:
    """Unavailability (1 - availability, pooled Wilson interval) vs Byzantine fraction."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    x = 100 * np.asarray(fractions)
    for method, rows in scenarios.items():
        un, lo, hi = [], [], []
        for b in fractions:
            p = rows[_label(b, False)]["availability_pooled"]
            a = p["availability"] if p["availability"] is not None else np.nan
            u = max(1.0 - a, 1e-6)
            un.append(u)
            lo.append(max(u - max(1.0 - p["wilson_high"], 1e-6), 0.0))
            hi.append(max(1.0 - p["wilson_low"] - u, 0.0))
        ax.errorbar(
            x,
            un,
            yerr=[lo, hi],
            marker="o",
            capsize=3,
            label=labels.get(method, method),
            color=COLORS.get(method),
        )
    ax.set_yscale("log")
    ax.axhline(1e-4, color="tab:blue", ls="--", lw=0.8)
    ax.axhline(5e-2, color="tab:gray", ls="--", lw=0.8)
    ax.annotate("claim: 99.99 % (ABFT + DRA)", (0.5, 1.3e-4), fontsize=7)
    ax.annotate("claim: 95 % (baseline)", (0.5, 6e-2), fontsize=7)
    ax.set_xlabel("Byzantine nodes (% of all nodes)")
    ax.set_ylabel("unavailability 1 - A (log; 1e-6 floor)")
    ax.set_title("Availability (requests pooled over seeds; Wilson 95 % CI)", fontsize=9)
    ax.legend(fontsize=6)
    return _save(fig, Path(path))


def plot_qber(
    scenarios: Mapping[str, Mapping[str, Any]],
    labels: Mapping[str, str],
    scenario: str,
    path: str | Path,
) -> Path:
    """Mean QBER and QBER variance per configuration in one scenario, with the claims."""
    methods = list(scenarios)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8.0, 3.8))
    for ax, metric, scale, unit in (
        (a1, "qber_mean", 100.0, "mean QBER (%)"),
        (a2, "qber_var", 1e6, "QBER variance (x 1e-6)"),
    ):
        pts = [_mean_err(scenarios[m][scenario][metric], scale) for m in methods]
        m, lo, hi = (np.array(v) for v in zip(*pts, strict=True))
        ax.bar(
            range(len(methods)),
            m,
            yerr=[lo, hi],
            capsize=3,
            color=[COLORS.get(x, "tab:blue") for x in methods],
        )
        ax.set_xticks(
            range(len(methods)), [labels.get(x, x)[:14] for x in methods], rotation=30, fontsize=6
        )
        ax.set_ylabel(unit)
        ax.set_xlabel("configuration")
    a1.axhline(1.0, color="red", ls="--", lw=0.8)
    a1.annotate("claim: below 1 %", (0.0, 1.05), fontsize=7)
    base = scenarios.get("baseline", {}).get(scenario, {}).get("qber_var", {}).get("mean")
    if base is not None:
        a2.axhline(0.65 * base * 1e6, color="red", ls="--", lw=0.8)
        a2.annotate("claim: 35 % below baseline", (0.0, 0.67 * base * 1e6), fontsize=7)
    fig.suptitle(f"QBER in scenario {scenario} (mean over seeds, 95 % CI)", fontsize=9)
    return _save(fig, Path(path))


def plot_qber_vs_loss(
    units: Mapping[tuple[str, int], dict[str, Any]],
    regression: Mapping[str, Mapping[str, Any]],
    labels: Mapping[str, str],
    path: str | Path,
) -> Path:
    """Sampled (loss, QBER) points per configuration with the fitted regression lines."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for method, reg in regression.items():
        xs, ys = [], []
        for (m, _), unit in units.items():
            if m != method:
                continue
            for rec in unit["scenarios"].values():
                if rec["fluctuating"] or not any(
                    r["fluctuating"] for r in unit["scenarios"].values()
                ):
                    xs += rec["regression"]["points_loss_db"]
                    ys += rec["regression"]["points_qber"]
        color = COLORS.get(method)
        if xs:
            ax.scatter(xs, 100 * np.asarray(ys), s=3, alpha=0.25, color=color)
        if reg.get("slope_per_db") is not None and xs:
            grid = np.linspace(min(xs), max(xs), 20)
            line = 100 * (reg["intercept"] + reg["slope_per_db"] * grid)
            ax.plot(
                grid,
                line,
                color=color,
                lw=1.2,
                label=f"{labels.get(method, method)[:20]}: "
                f"{100 * reg['slope_per_db']:.3f} %/dB, R2 {reg['r2']:.2f}",
            )
    ax.axhline(1.0, color="red", ls="--", lw=0.8)
    ax.annotate("claim: QBER below 1 %", (ax.get_xlim()[0], 1.05), fontsize=7)
    ax.set_xlabel("channel loss (dB)")
    ax.set_ylabel("QBER (%)")
    ax.set_title("QBER vs channel loss (live links, fluctuating scenarios)", fontsize=9)
    ax.legend(fontsize=6)
    return _save(fig, Path(path))


def plot_learning_curves(
    units: Mapping[tuple[str, int], dict[str, Any]],
    labels: Mapping[str, str],
    path: str | Path,
) -> Path:
    """Training-episode returns of the DDQN configurations (mean over seeds) and the claim."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    by_method: dict[str, list[np.ndarray]] = {}
    for (m, _), unit in units.items():
        if "train" in unit:
            by_method.setdefault(m, []).append(np.asarray(unit["train"]["episode_returns"]))
    evals: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for (m, _), unit in units.items():
        if "train" in unit and unit["train"].get("eval_returns"):
            tr = unit["train"]
            evals.setdefault(m, []).append(
                (np.asarray(tr["eval_episodes"]), np.asarray(tr["eval_returns"]))
            )
    for method, curves in by_method.items():
        n = min(c.size for c in curves)
        if n == 0:
            continue
        mean = np.mean([c[:n] for c in curves], axis=0)
        w = max(1, n // 50)
        smooth = np.convolve(mean, np.ones(w) / w, mode="valid")
        name = labels.get(method, method)
        ax.plot(
            np.arange(smooth.size) + w - 1,
            smooth,
            color=COLORS.get(method),
            alpha=0.4,
            label=f"{name}: training episodes (all scenarios)",
        )
        if method in evals:
            k = min(e[0].size for e in evals[method])
            y = np.mean([e[1][:k] for e in evals[method]], axis=0)
            ax.plot(
                evals[method][0][0][:k],
                y,
                marker="o",
                ms=3,
                color=COLORS.get(method),
                label=f"{name}: greedy policy, held-out episodes at 20 %",
            )
    ax.axvline(500, color="red", ls="--", lw=0.8)
    ax.annotate("claim: converged by 500", (505, ax.get_ylim()[0]), fontsize=7)
    ax.set_xlabel("training episode")
    ax.set_ylabel("episode return (reward units)")
    ax.set_title("DDQN (prioritised replay) returns, mean over seeds", fontsize=9)
    ax.legend(fontsize=6)
    return _save(fig, Path(path))


def write_figures(
    run_dir: str | Path,
    *,
    config: ResilienceStudyConfig,
    units: Mapping[tuple[str, int], dict[str, Any]],
    scenarios: Mapping[str, Mapping[str, Any]],
    regression: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    """Write every figure into ``run_dir``; returns the file names."""
    from qnetrl.experiments.resilience_study import METHOD_LABELS

    run_dir = Path(run_dir)
    fl = True in config.fluctuating
    paths = [
        plot_key_rate_retained(
            scenarios, config.byzantine_fractions, METHOD_LABELS, run_dir / "key_rate_retained.png"
        ),
        plot_availability(
            scenarios, config.byzantine_fractions, METHOD_LABELS, run_dir / "availability.png"
        ),
        plot_qber(scenarios, METHOD_LABELS, _label(0.2, fl), run_dir / "qber.png"),
        plot_qber_vs_loss(units, regression, METHOD_LABELS, run_dir / "qber_vs_loss.png"),
        plot_learning_curves(units, METHOD_LABELS, run_dir / "learning_curves.png"),
    ]
    return [p.name for p in paths]
