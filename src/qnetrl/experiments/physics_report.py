"""Physics-layer tables and figures: key rate vs distance, BPSK BER vs SNR, and the demo summary.

These functions only evaluate formulas of :mod:`qnetrl.physics`; they compute nothing of their
own, so every number they print traces back to one cited function.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import NDArray

from qnetrl.physics.channel import bpsk_awgn_ber, bpsk_rayleigh_ber, fiber_transmittance
from qnetrl.physics.entanglement import bbpssw, werner_swap
from qnetrl.physics.qkd import (
    GYS,
    DetectorParams,
    bb84_qber_threshold,
    decoy_bb84,
    edge_study_key_rate,
    max_distance,
    plob_bound,
)

__all__ = ["ber_table", "key_rate_table", "physics_summary", "plot_ber", "plot_key_rate"]


def key_rate_table(
    distance_km: NDArray[np.float64],
    *,
    mu: float = 0.48,
    nu: float | None = None,
    params: DetectorParams = GYS,
) -> dict[str, NDArray[np.float64]]:
    """Decoy-state BB84 figures and the PLOB bound of the same total transmittance."""
    res = decoy_bb84(distance_km, mu=mu, nu=nu, params=params)
    eta = fiber_transmittance(distance_km, params.alpha_db_per_km) * params.eta_bob
    return {
        "distance_km": np.asarray(distance_km, dtype=float),
        "transmittance": np.asarray(eta, dtype=float),
        "gain": np.broadcast_to(res.gain, np.shape(distance_km)).astype(float),
        "qber": np.broadcast_to(res.qber, np.shape(distance_km)).astype(float),
        "key_rate_bits_per_pulse": np.broadcast_to(res.key_rate, np.shape(distance_km)).astype(
            float
        ),
        "plob_bits_per_pulse": np.asarray(plob_bound(eta), dtype=float),
    }


def plot_key_rate(table: dict[str, NDArray[np.float64]], path: str | Path, *, label: str) -> Path:
    """Key rate per pulse vs distance on a log axis, with the PLOB bound."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    d = table["distance_km"]
    rate = table["key_rate_bits_per_pulse"]
    ax.semilogy(d[rate > 0], rate[rate > 0], "o-", ms=3, label=label)
    ax.semilogy(d, table["plob_bits_per_pulse"], "k--", label="PLOB bound (same transmittance)")
    ax.set_xlabel("fibre length (km)")
    ax.set_ylabel("secret key rate (bits per pulse)")
    ax.set_title("Decoy-state BB84 key rate vs distance")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def ber_table(snr_db: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
    """Analytic BPSK bit-error rate over AWGN and over Rayleigh flat fading."""
    return {
        "snr_db": np.asarray(snr_db, dtype=float),
        "ber_awgn": np.asarray(bpsk_awgn_ber(snr_db), dtype=float),
        "ber_rayleigh": np.asarray(bpsk_rayleigh_ber(snr_db), dtype=float),
    }


def plot_ber(table: dict[str, NDArray[np.float64]], path: str | Path) -> Path:
    """BER vs SNR on a log axis for AWGN and Rayleigh fading."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    ax.semilogy(table["snr_db"], table["ber_awgn"], "o-", ms=3, label="BPSK, AWGN")
    ax.semilogy(table["snr_db"], table["ber_rayleigh"], "s-", ms=3, label="BPSK, Rayleigh fading")
    ax.set_xlabel("average SNR $E_b/N_0$ (dB)")
    ax.set_ylabel("bit-error rate")
    ax.set_title("BPSK bit-error rate")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def physics_summary() -> dict[str, float]:
    """Headline values of the physics layer (each a published value the tests also check)."""
    rates = decoy_bb84(np.array([0.0, 50.0, 100.0]), mu=0.48, params=GYS).key_rate
    return {
        "decoy BB84 (GYS, mu=0.48) at 0 km [bits/pulse]": float(rates[0]),
        "decoy BB84 (GYS, mu=0.48) at 50 km [bits/pulse]": float(rates[1]),
        "decoy BB84 (GYS, mu=0.48) at 100 km [bits/pulse]": float(rates[2]),
        "decoy BB84 (GYS, mu=0.48) max distance [km]": float(max_distance(mu=0.48, params=GYS)),
        "BB84 QBER threshold (f=1)": float(bb84_qber_threshold(1.0)),
        "PLOB bound, 100 km at 0.2 dB/km [bits/use]": float(plob_bound(fiber_transmittance(100.0))),
        "edge-study key rate at QBER 0.94% [bps]": float(edge_study_key_rate(0.0094)),
        "BPSK Rayleigh BER at 10 dB": float(bpsk_rayleigh_ber(10.0)),
        "Werner swap (0.9, 0.9) fidelity": float(werner_swap(0.9, 0.9)),
        "BBPSSW(0.9) output fidelity": float(bbpssw(0.9)[0]),
        "BBPSSW(0.9) success probability": float(bbpssw(0.9)[1]),
    }
