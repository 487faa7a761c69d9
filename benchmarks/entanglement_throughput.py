"""Throughput and memory of the batched DPEM entanglement core against its PettingZoo face.

Measures simulated slots per second, copy-slots per second (copies x slots) and node-slots
per second (nodes x copies x slots per second of wall time) of
:class:`qnetrl.envs.entanglement.core.EntanglementCore` on the study's 100-node mesh and on a
1,000-node mesh (same generator, same per-node rates), for one copy (B = 1) and batched
(B = 16 at 100 nodes, B = 4 at 1,000 nodes). Every node draws a uniformly random action each
slot (claims on missing routes are legal no-ops); the actions are drawn before the clock
starts, so only the simulation is timed. In the same run it measures the named peer: the
PettingZoo ``ParallelEnv`` face (:class:`~qnetrl.envs.entanglement.EntanglementParallelEnv`,
one agent per node, per-agent dicts of observations, rewards and infos), stepped with the
same actions, and checks that both give identical episode totals. It also measures the peak
memory of building, resetting and stepping the 1,000-node env: Python and numpy allocations
with :mod:`tracemalloc` (numpy reports its buffers to it) and the process's maximum resident
set size. Prints a table, then one JSON object with the figures and ratios as the last line.
Not a test; run it by hand::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/entanglement_throughput.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

import qnetrl
from qnetrl.envs.entanglement import (
    EntanglementCore,
    EntanglementEnvConfig,
    EntanglementParallelEnv,
    build_network,
)

#: Peak traced memory (bytes) the 1,000-node env must stay under.
TARGET_PEAK_BYTES = 2 * 1024**3
PEER = "PettingZoo ParallelEnv face (per-agent dicts), B = 1, same actions"


def _actions(core: EntanglementCore, slots: int, seed: int) -> np.ndarray:
    """Uniform random actions of every node in every slot, shape (slots, B, N)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, core.n_actions, size=(slots, core.batch_size, core.n_nodes))


def time_core(core: EntanglementCore, slots: int, seed: int) -> tuple[float, dict[str, Any]]:
    """Wall seconds of ``slots`` steps of ``core`` (reset excluded) and its totals."""
    acts = _actions(core, slots, seed)
    core.reset(np.random.default_rng(seed))
    start = time.perf_counter()
    for t in range(slots):  # loop over slots only
        core.step(acts[t])
    wall = time.perf_counter() - start
    return wall, {k: v.copy() for k, v in core.totals.items()}


def time_pettingzoo(
    env: EntanglementParallelEnv, slots: int, seed: int
) -> tuple[float, dict[str, Any]]:
    """The same episode through the per-agent dict face (B = 1)."""
    acts = _actions(env.core, slots, seed)[:, 0]
    agents = list(env.possible_agents)
    env.reset(seed=seed)  # seeding.np_random(seed) is the same stream as default_rng(seed)
    start = time.perf_counter()
    for t in range(slots):
        env.step({a: int(acts[t, i]) for i, a in enumerate(agents)})
    wall = time.perf_counter() - start
    return wall, {k: v.copy() for k, v in env.core.totals.items()}


def peak_memory(n_nodes: int, batch_size: int, slots: int) -> dict[str, float]:
    """Peak traced bytes of building, resetting and stepping an env (and ru_maxrss)."""
    tracemalloc.start()
    t0 = time.perf_counter()
    cfg = EntanglementEnvConfig(n_nodes=n_nodes, horizon=max(slots, 1))
    core = EntanglementCore(cfg, batch_size)
    build_s = time.perf_counter() - t0
    core.reset(np.random.default_rng(0))
    acts = _actions(core, slots, 1)
    for t in range(slots):
        core.step(acts[t])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "peak_traced_bytes": float(peak),
        "max_rss_bytes": float(rss_kib) * 1024.0,
        "build_s": build_s,
        "n_links": float(core.n_links),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns the figures (also printed as the last line)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Fewer slots and repeats.")
    parser.add_argument("--repeats", type=int, default=3, help="Timed runs (median).")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    cases = [(100, 1, 100), (100, 16, 100), (1000, 1, 20), (1000, 4, 20)]
    if args.quick:
        cases = [(n, b, max(10, s // 4)) for n, b, s in cases]

    # Memory first, so that the process's maximum RSS is not that of an earlier case.
    mem_b = peak_memory(1000, 4, 5 if args.quick else 10)
    mem = peak_memory(1000, 1, 10 if args.quick else 20)

    rows: list[dict[str, Any]] = []
    peers: dict[int, dict[str, Any]] = {}
    for n_nodes, bsz, slots in cases:
        cfg = EntanglementEnvConfig(n_nodes=n_nodes, horizon=slots)
        network = build_network(cfg)
        core = EntanglementCore(cfg, bsz, network=network)
        time_core(core, min(slots, 5), 0)  # warm-up (caches, first-call costs), untimed
        walls = [time_core(core, slots, 7 + r)[0] for r in range(repeats)]
        wall = statistics.median(walls)
        rows.append(
            {
                "nodes": n_nodes,
                "links": core.n_links,
                "B": bsz,
                "slots": slots,
                "slots_per_s": slots / wall,
                "copy_slots_per_s": slots * bsz / wall,
                "node_slots_per_s": slots * bsz * n_nodes / wall,
            }
        )
        if bsz == 1:
            env = EntanglementParallelEnv(cfg)
            time_pettingzoo(env, min(slots, 5), 0)  # warm-up, untimed
            p_walls, same = [], True
            for r in range(repeats):
                w, tot_peer = time_pettingzoo(env, slots, 7 + r)
                _, tot_core = time_core(EntanglementCore(cfg, 1, network=network), slots, 7 + r)
                same &= all(np.array_equal(tot_peer[k], tot_core[k]) for k in tot_core)
                p_walls.append(w)
            p_wall = statistics.median(p_walls)
            peers[n_nodes] = {
                "copy_slots_per_s": slots / p_wall,
                "node_slots_per_s": slots * n_nodes / p_wall,
                "totals_identical": bool(same),
            }
    for row in rows:
        row["x_peer"] = row["copy_slots_per_s"] / peers[row["nodes"]]["copy_slots_per_s"]

    print(f"{'nodes':>6} {'links':>6} {'B':>4} {'slots/s':>10} {'copy-slots/s':>13} "
          f"{'node-slots/s':>13} {'x peer':>7}")  # fmt: skip
    for n_nodes, peer in peers.items():
        print(
            f"{n_nodes:>6} {'':>6} {'peer':>4} {peer['copy_slots_per_s']:>10.1f} "
            f"{peer['copy_slots_per_s']:>13.1f} {peer['node_slots_per_s']:>13.0f} {1.0:>7.2f}"
        )
    for r in rows:
        print(
            f"{r['nodes']:>6} {r['links']:>6} {r['B']:>4} {r['slots_per_s']:>10.1f} "
            f"{r['copy_slots_per_s']:>13.1f} {r['node_slots_per_s']:>13.0f} {r['x_peer']:>7.2f}"
        )
    gib = 1024.0**3
    print(
        f"1,000-node env: peak traced {mem['peak_traced_bytes'] / gib:.3f} GiB (B=1), "
        f"{mem_b['peak_traced_bytes'] / gib:.3f} GiB (B=4); max RSS "
        f"{mem_b['max_rss_bytes'] / gib:.3f} GiB; build {mem['build_s']:.1f} s; "
        f"target < 2 GiB: {'met' if mem_b['peak_traced_bytes'] < TARGET_PEAK_BYTES else 'NOT met'}"
    )
    print("peer:", PEER, "; totals identical:", all(p["totals_identical"] for p in peers.values()))

    figures: dict[str, Any] = {
        "benchmark": "entanglement_throughput",
        "qnetrl_version": qnetrl.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "peer": PEER,
        "repeats": repeats,
        "rows": rows,
        "peer_rows": {str(k): v for k, v in peers.items()},
        "memory_1000_nodes_b1": mem,
        "memory_1000_nodes_b4": mem_b,
        "target_peak_bytes": TARGET_PEAK_BYTES,
        "memory_target_met": bool(mem_b["peak_traced_bytes"] < TARGET_PEAK_BYTES),
        "totals_identical_to_peer": all(p["totals_identical"] for p in peers.values()),
    }
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
