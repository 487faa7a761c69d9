"""Throughput of the batched network simulator against a plain pure-Python reference.

Measures simulated slots per second and node-slots per second (nodes x copies x slots per
second of wall time) of :class:`qnetrl.network.simulator.NetworkSimulator` on a 100-node
Waxman mesh (10 end nodes, 45 pairs, Poisson demand) batched over B = 1, 16, 64 copies, and on
the 4-node Tokyo QKD network, in the fast accounting mode (``byte_level=False``), single-path
trusted relaying, 10 % Byzantine relays. In the same run it measures the named peer,
``benchmarks/_reference_network.py``: the same slot model written as a single-copy
pure-Python loop over link and request objects, fed with the same link key, paths, faults and
arrivals (the arrivals are drawn before its clock starts, which favours the peer), and checks
that both produce identical counters. Prints a table, then one JSON object with the figures
and ratios as the last line. Not a test; run it by hand::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/network_throughput.py [--quick] [--repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _reference_network import run_reference
from qnetrl.network.demand import DemandConfig
from qnetrl.network.faults import FaultScenarioConfig
from qnetrl.network.link_model import link_key_bits
from qnetrl.network.metrics import SimResult
from qnetrl.network.simulator import NetworkSimConfig, NetworkSimulator

#: Node-slots per second the batched simulator should reach.
TARGET_NODE_SLOTS_PER_S = 100_000.0
PEER = "pure-Python single-copy reference of the same slot model (benchmarks/_reference_network.py)"

SCENARIOS: dict[str, dict[str, Any]] = {
    "waxman100": {
        "topology": "waxman",
        "topology_params": {"n_nodes": 100},
        "end_nodes": 10,
    },
    "tokyo": {"topology": "tokyo"},
}


def config(name: str, batch_size: int, slots: int) -> NetworkSimConfig:
    """The benchmark configuration of a scenario (flips deterministic for the reference)."""
    mix = dict.fromkeys(("flip", "drop", "delay", "leak", "false_pool"), 1.0)
    return NetworkSimConfig(
        **SCENARIOS[name],
        slots=slots,
        batch_size=batch_size,
        demand=DemandConfig(rate_per_slot=0.1, deadline_slots=50),
        faults=FaultScenarioConfig(byzantine_fraction=0.1, behaviour_mix=mix, flip_probability=1.0),
        byte_level=False,
    )


def time_simulator(cfg: NetworkSimConfig, seed: int) -> tuple[float, SimResult, int]:
    """Wall time of ``run`` (construction excluded), the result and the node count."""
    sim = NetworkSimulator(cfg, seed)
    start = time.perf_counter()
    res = sim.run()
    return time.perf_counter() - start, res, sim.table.n_nodes


def reference_inputs(cfg: NetworkSimConfig, seed: int) -> dict[str, Any]:
    """What the reference needs, taken from a simulator built with the same config and seed."""
    sim = NetworkSimulator(cfg, seed)
    demand = copy.deepcopy(sim.demand)
    rng = copy.deepcopy(sim._rng_demand)  # the simulator's demand stream, before any draw
    arrivals = []
    for s in range(cfg.slots):
        batch = demand.sample(rng, s)
        row = batch.valid[0]
        arrivals.append(
            [
                (int(p), int(cfg.key_bits or b), int(a), int(d))
                for p, b, a, d in zip(
                    batch.pair[0][row],
                    batch.size_bits[0][row],
                    batch.arrival[0][row],
                    batch.deadline[0][row],
                    strict=True,
                )
            ]
        )
    key = link_key_bits(sim.table, cfg.link, batch_size=1)
    pt = sim.paths
    paths = []
    for p in range(pt.n_pairs):
        h = int(pt.hops[p, 0])
        paths.append(
            (pt.links[p, 0, :h].tolist(), pt.nodes[p, 0, : h + 1].tolist())
            if pt.n_paths[p] > 0
            else None
        )
    return {
        "slots": cfg.slots,
        "link_ends": list(zip(sim.table.u.tolist(), sim.table.v.tolist(), strict=True)),
        "key_bits": key.key_bits[0].tolist(),
        "initial_pool": float(sim.pools[0, 0]),
        "capacity": cfg.pool_capacity_bits,
        "paths": paths,
        "codes": sim.faults.behaviour[0].tolist(),
        "arrivals": arrivals,
        "max_queue": cfg.max_queue,
        "delay_slots": cfg.faults.delay_slots,
        "flip_probability": cfg.faults.flip_probability,
        "false_pool_factor": cfg.faults.false_pool_factor,
        "false_qber_blocks": cfg.faults.false_qber_value > cfg.max_reported_qber,
        "qber_blocked": (key.qber[0] > cfg.max_reported_qber).tolist(),
    }


def counters(res: SimResult) -> dict[str, Any]:
    """The simulator's totals in the reference's format (copy 0)."""
    return {
        "generated": float(res.generated_bits[0].sum()),
        "wasted": float(res.wasted_bits[0].sum()),
        "consumed": float(res.consumed_bits[0].sum()),
        "rejected": int(res.rejected[0].sum()),
        "expired": int(res.expired[0].sum()),
        "exposed": int(res.exposed[0].sum()),
        "outcomes": res.outcomes[0].sum(axis=0).tolist(),
        "pending": int(res.pending[0].sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Fewer slots, one repeat.")
    parser.add_argument("--repeats", type=int, default=3, help="Timed repeats (median).")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    repeats = 1 if args.quick else max(1, args.repeats)
    scale = 0.25 if args.quick else 1.0
    plan = {
        "waxman100": {1: 500, 16: 200, 64: 100},
        "tokyo": {1: 4000, 16: 2000, 64: 1000},
    }
    ref_slots = {"waxman100": 1000, "tokyo": 10_000}

    # warm-up: imports, caches
    time_simulator(config("tokyo", 2, 50), args.seed)

    results: list[dict[str, Any]] = []
    references: list[dict[str, Any]] = []
    agreement: dict[str, bool] = {}
    for name, batches in plan.items():
        # the peer, and an exact check of the slot model against it
        t_ref = max(50, int(ref_slots[name] * scale))
        inputs = reference_inputs(config(name, 1, t_ref), args.seed)
        ref_times = []
        for _ in range(repeats):
            start = time.perf_counter()
            ref = run_reference(**inputs)
            ref_times.append(time.perf_counter() - start)
        _, res1, n_nodes = time_simulator(config(name, 1, t_ref), args.seed)
        agreement[name] = counters(res1) == ref
        if not agreement[name]:
            print(f"MISMATCH {name}: simulator {counters(res1)} vs reference {ref}")
        ref_s = statistics.median(ref_times)
        ref_rate = t_ref / ref_s
        references.append(
            {
                "topology": name,
                "nodes": n_nodes,
                "batch_size": 1,
                "slots": t_ref,
                "seconds": ref_s,
                "slots_per_s": ref_rate,
                "node_slots_per_s": ref_rate * n_nodes,
            }
        )
        for b, slots in batches.items():
            t = max(20, int(slots * scale))
            times = []
            for _ in range(repeats):
                dt, _, n_nodes = time_simulator(config(name, b, t), args.seed)
                times.append(dt)
            sec = statistics.median(times)
            rate = t / sec
            results.append(
                {
                    "topology": name,
                    "nodes": n_nodes,
                    "batch_size": b,
                    "slots": t,
                    "seconds": sec,
                    "slots_per_s": rate,
                    "copy_slots_per_s": rate * b,
                    "node_slots_per_s": rate * b * n_nodes,
                    "ratio_vs_reference": rate * b / ref_rate,
                }
            )

    head = f"{'topology':>10} {'B':>4} {'slots/s':>10} {'copy-slots/s':>13} {'node-slots/s':>13} "
    print(head + f"{'x reference':>12}")
    for r in references:
        print(
            f"{r['topology']:>10} {'ref':>4} {r['slots_per_s']:>10.1f} {r['slots_per_s']:>13.1f} "
            f"{r['node_slots_per_s']:>13.0f} {1.0:>12.2f}"
        )
    for r in results:
        print(
            f"{r['topology']:>10} {r['batch_size']:>4} {r['slots_per_s']:>10.1f} "
            f"{r['copy_slots_per_s']:>13.1f} {r['node_slots_per_s']:>13.0f} "
            f"{r['ratio_vs_reference']:>12.2f}"
        )
    best = max(r["node_slots_per_s"] for r in results if r["topology"] == "waxman100")
    print(
        json.dumps(
            {
                "benchmark": "network_throughput",
                "peer": PEER,
                "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
                "python": platform.python_version(),
                "numpy": np.__version__,
                "repeats": repeats,
                "quick": bool(args.quick),
                "results": results,
                "reference": references,
                "reference_counters_identical": agreement,
                "target_node_slots_per_s": TARGET_NODE_SLOTS_PER_S,
                "best_waxman100_node_slots_per_s": best,
                "meets_target": best >= TARGET_NODE_SLOTS_PER_S,
            }
        )
    )


if __name__ == "__main__":
    main()
