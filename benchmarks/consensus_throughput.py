"""Consensus decisions per second of weighted PBFT against count-quorum PBFT, n = 4, 7, 16.

Runs :class:`qnetrl.consensus.ConsensusSystem` on the in-process bus (no faults, 1 ms
simulated latency, every request submitted at time 0, checkpoint interval 16) until every
request is executed by every replica and certified to its client. A decision is one
committed sequence number. The named peer, measured in the same run and interleaved with it,
is the same protocol with *count* quorums: unit weights (Q = 2f + 1) and no adaptive weight
epochs. The ratio answers what weighting costs: the weighted quorum checks and the
evidence fold at every checkpoint. Both must commit the same log (checked). Alongside: the
CPU cost of one HMAC-SHA256 tag + check, one Ed25519 signature and one Ed25519 verification
of a typical message, and the share of the run's CPU time the protocol's Ed25519
verifications take (verifications x measured cost / CPU time), the figure behind the choice
of Ed25519 for transferable certificates and evidence. Rates are medians over repetitions,
from wall time and from process CPU time (less sensitive to other load on the machine).
The last line printed is one JSON object of all figures.

Run ``python benchmarks/consensus_throughput.py [--quick] [--reps R]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Any

from qnetrl.consensus import ConsensusConfig, ConsensusSystem, Keyring, Operation
from qnetrl.consensus.messages import Prepare, digest

__all__ = ["crypto_costs", "main", "time_run"]

SIZES = (4, 7, 16)


def crypto_costs(repeats: int = 2000) -> dict[str, float]:
    """CPU microseconds per HMAC tag + check, Ed25519 sign and Ed25519 verify of a prepare."""
    keys = Keyring(2, seed=0)
    a, b = keys.identity(0), keys.identity(1)
    msg = Prepare(3, 17, digest(b"request"), 0, b"\x01" * 64)
    msg.sign(a)
    data, sig = msg.signed_bytes(), msg.signature
    wire = msg.wire()
    out = {}
    t = time.process_time()
    for _ in range(repeats):
        tag = a.mac(1, wire)
        b.check_mac(0, wire, tag)
    out["hmac_tag_and_check_us"] = (time.process_time() - t) / repeats * 1e6
    t = time.process_time()
    for _ in range(repeats):
        a.sign(data)
    out["ed25519_sign_us"] = (time.process_time() - t) / repeats * 1e6
    t = time.process_time()
    for _ in range(repeats):
        keys.verify(0, data, sig)
    out["ed25519_verify_us"] = (time.process_time() - t) / repeats * 1e6
    out["message_bytes"] = float(len(wire))
    return out


def time_run(config: ConsensusConfig, n_requests: int, seed: int = 0) -> dict[str, Any]:
    """One run to completion; wall and CPU time of the bus loop only."""
    system = ConsensusSystem(config, seed=seed)
    for i in range(n_requests):
        system.submit(Operation.relay_order([0, 1, 2], 256, tag=i))
    wall, cpu = time.perf_counter(), time.process_time()
    system.run(config.max_time_s)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    res = system.result(wall)
    if not system.done() or res.view_changes:
        raise RuntimeError(f"run did not finish cleanly: {res.decisions} decisions")
    return {
        "decisions": res.decisions,
        "wall_s": wall,
        "cpu_s": cpu,
        "messages": res.bus["sent"],
        "verifications": res.signatures_verified,
        "log": res.logs[0],
    }


def _configs(n: int) -> dict[str, ConsensusConfig]:
    f = (n - 1) // 3
    common = {"n_replicas": n, "f": f, "checkpoint_interval": 16, "max_time_s": 600.0}
    return {
        "weighted": ConsensusConfig(**common, initial_weight=1000, adaptive_weights=True),
        "count_quorum": ConsensusConfig(**common, initial_weight=1, adaptive_weights=False),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print a table and, last, one JSON line; return the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few requests, one repetition")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 3)")
    args = parser.parse_args(argv)
    reps = args.reps if args.reps is not None else (1 if args.quick else 3)
    if reps < 1:
        parser.error(f"--reps must be an int in the range [1, inf). Got {reps} instead.")
    n_requests = {4: 16, 7: 12, 16: 6} if args.quick else {4: 96, 7: 64, 16: 32}
    load_before = os.getloadavg()
    crypto = crypto_costs(300 if args.quick else 2000)

    results: dict[str, dict[str, Any]] = {}
    for n in SIZES:
        configs = _configs(n)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in configs}
        for cfg in configs.values():  # warm-up, not timed
            time_run(cfg, max(2, n_requests[n] // 4), seed=reps)
        for rep in range(reps):
            for name, cfg in configs.items():
                runs[name].append(time_run(cfg, n_requests[n], seed=rep))
        logs = {r["log"] for rr in runs.values() for r in rr}
        row: dict[str, Any] = {"n": n, "f": (n - 1) // 3, "requests": n_requests[n]}
        for name, rr in runs.items():
            d = rr[0]["decisions"]
            row[f"{name}_decisions_per_s"] = statistics.median(d / r["wall_s"] for r in rr)
            row[f"{name}_cpu_decisions_per_s"] = statistics.median(d / r["cpu_s"] for r in rr)
            row[f"{name}_messages_per_decision"] = rr[0]["messages"] / d
            row[f"{name}_verifications_per_decision"] = rr[0]["verifications"] / d
            row[f"{name}_ed25519_verify_cpu_share"] = statistics.median(
                r["verifications"] * crypto["ed25519_verify_us"] * 1e-6 / r["cpu_s"] for r in rr
            )
        row["ratio_weighted_over_count"] = (
            row["weighted_decisions_per_s"] / row["count_quorum_decisions_per_s"]
        )
        row["cpu_ratio_weighted_over_count"] = (
            row["weighted_cpu_decisions_per_s"] / row["count_quorum_cpu_decisions_per_s"]
        )
        row["same_log"] = len(logs) == 1
        results[f"n{n}"] = row
    load_after = os.getloadavg()

    print(
        f"crypto per operation ({crypto['message_bytes']:.0f}-byte prepare): "
        f"HMAC tag+check {crypto['hmac_tag_and_check_us']:.1f} us, Ed25519 sign "
        f"{crypto['ed25519_sign_us']:.1f} us, verify {crypto['ed25519_verify_us']:.1f} us"
    )
    print(f"\ndecisions/s (median of {reps}; peer = count-quorum PBFT, unit weights, no epochs)")
    print(
        f"{'n':>3}{'weighted':>11}{'count':>11}{'ratio':>8}{'cpu ratio':>11}"
        f"{'msgs/dec':>10}{'verif/dec':>11}{'verify cpu':>12}{'same log':>10}"
    )
    for row in results.values():
        print(
            f"{row['n']:>3}{row['weighted_decisions_per_s']:>11.1f}"
            f"{row['count_quorum_decisions_per_s']:>11.1f}{row['ratio_weighted_over_count']:>8.2f}"
            f"{row['cpu_ratio_weighted_over_count']:>11.2f}"
            f"{row['weighted_messages_per_decision']:>10.1f}"
            f"{row['weighted_verifications_per_decision']:>11.1f}"
            f"{row['weighted_ed25519_verify_cpu_share']:>12.0%}{row['same_log']!s:>10}"
        )
    print(f"load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f}")

    figures: dict[str, Any] = {
        "benchmark": "consensus_throughput",
        "peer": "same PBFT with count quorums (unit weights, adaptive weights off)",
        "quick": args.quick,
        "reps": reps,
        "checkpoint_interval": 16,
        "crypto_us": crypto,
        "results": results,
        "load_average_before": load_before[0],
        "load_average_after": load_after[0],
        "python": sys.version.split()[0],
        "machine": platform.machine(),
    }
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
