"""PPO update time of A agents as one stacked network against a loop over A separate networks.

qnetrl's :func:`~qnetrl.agents.mappo.ppo_update` updates the A actor-critics of a
:class:`~qnetrl.agents.mappo.MAPPOAgent` (stacked weights, one ``baddbmm`` per layer) in one
pass per minibatch. The peer is the plain way to hold independent policies: a Python list of
A CleanRL-style ``Agent`` modules (``nn.Linear`` / ``nn.Tanh`` actor and critic, same sizes,
``torch.distributions.Categorical``), each with its own Adam, each updated in turn by the
CleanRL ``ppo.py`` minibatch step (clipped surrogate, clipped value loss, entropy bonus,
``clip_grad_norm_``). A second peer loops the A forward passes but sums the losses for one
backward pass and one Adam step over all parameters. Every variant uses the fused CPU Adam
(the fastest torch offers, about 5x faster per step than the default for-loop Adam).

All three start from the same weights, see the same rollout (random observations, actions,
advantages and returns; log-probabilities and values from the initial networks) and the same
minibatch permutations, so they do the same arithmetic; the script checks this by reporting the
largest weight difference after one update. Each variant is timed over ``--repeats`` updates
(after one warm-up) on one torch thread; the figure is the median seconds per update.

Run ``python benchmarks/mappo_batched.py [--agents 100] [--repeats 3]``. The last line printed
is one JSON object of all figures.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import platform
import statistics
import time
from typing import Any

import torch
from torch import nn
from torch.distributions import Categorical

import qnetrl
from qnetrl.agents.mappo import MAPPOAgent, MAPPOConfig, StackedLinear, ppo_update

__all__ = ["LoopAgent", "main", "peer_update"]

#: Speed-up over the per-agent loop that the batched update is meant to reach.
TARGET_SPEEDUP = 20.0


class LoopAgent(nn.Module):
    """CleanRL ``ppo.py``'s ``Agent`` (tanh MLP actor and critic) for one agent."""

    def __init__(self, actor: nn.Sequential, critic: nn.Sequential) -> None:
        super().__init__()
        self.actor, self.critic = actor, critic

    def get_action_and_value(
        self, x: torch.Tensor, action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-probability and entropy of ``action`` and the value of ``x``."""
        probs = Categorical(logits=self.actor(x))
        return probs.log_prob(action), probs.entropy(), self.critic(x).squeeze(-1)


def _mb_loss(
    agent: LoopAgent,
    a: int,
    mb_inds: torch.Tensor,
    batch: dict[str, torch.Tensor],
    cfg: MAPPOConfig,
) -> torch.Tensor:
    """CleanRL's minibatch PPO loss of agent ``a``."""
    newlogprob, entropy, newvalue = agent.get_action_and_value(
        batch["obs"][mb_inds, a], batch["actions"][mb_inds, a, 0]
    )
    logratio = newlogprob - batch["logprobs"][mb_inds, a]
    ratio = logratio.exp()
    mb_advantages = batch["advantages"][mb_inds, a]
    mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)
    pg_loss1 = -mb_advantages * ratio
    pg_loss2 = -mb_advantages * torch.clamp(ratio, 1 - cfg.clip_coef, 1 + cfg.clip_coef)
    pg_loss = torch.max(pg_loss1, pg_loss2).mean()
    mb_returns, mb_values = batch["returns"][mb_inds, a], batch["values"][mb_inds, a]
    v_loss_unclipped = (newvalue - mb_returns) ** 2
    v_clipped = mb_values + torch.clamp(newvalue - mb_values, -cfg.clip_coef, cfg.clip_coef)
    v_loss = 0.5 * torch.max(v_loss_unclipped, (v_clipped - mb_returns) ** 2).mean()
    return pg_loss - cfg.ent_coef * entropy.mean() + v_loss * cfg.vf_coef


def peer_update(
    agents: list[LoopAgent],
    optimizers: list[torch.optim.Optimizer],
    batch: dict[str, torch.Tensor],
    perms: list[torch.Tensor],
    cfg: MAPPOConfig,
    *,
    shared: bool = False,
) -> None:
    """One PPO update of every agent in a Python loop (``shared``: one backward and step)."""
    n = batch["obs"].shape[0]
    minibatch_size = n // cfg.num_minibatches
    for perm in perms:
        for start in range(0, n, minibatch_size):
            mb_inds = perm[start : start + minibatch_size]
            if shared:
                loss = sum(_mb_loss(ag, a, mb_inds, batch, cfg) for a, ag in enumerate(agents))
                optimizers[0].zero_grad(set_to_none=True)
                loss.backward()
                for ag in agents:
                    nn.utils.clip_grad_norm_(ag.parameters(), cfg.max_grad_norm)
                optimizers[0].step()
                continue
            for a, (ag, opt) in enumerate(zip(agents, optimizers, strict=True)):
                loss = _mb_loss(ag, a, mb_inds, batch, cfg)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(ag.parameters(), cfg.max_grad_norm)
                opt.step()


def _split(agent: MAPPOAgent) -> list[LoopAgent]:
    """The A separate networks holding exactly the stacked agent's weights."""
    return [
        LoopAgent(agent.actor.agent_network(a), agent.critic.agent_network(a))
        for a in range(agent.num_agents)
    ]


def _median_time(fn: Any, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def matmul_floor(
    num_agents: int, obs_dim: int, hidden: list[int], actions: int, cfg: MAPPOConfig, n: int
) -> float:
    """Seconds per update of only the batched matrix products of the stacked update.

    For every gradient step and layer of actor and critic: the forward product, the weight
    gradient and (above the first layer) the input gradient, on preallocated tensors. No
    implementation that does the update's arithmetic in float32 on this core can be faster,
    so ``loop / floor`` bounds any speed-up over the loop.
    """
    mb = max(1, n // cfg.num_minibatches)
    shapes = []
    for out in (actions, 1):
        widths = [obs_dim, *hidden, out]
        for i, (w_in, w_out) in enumerate(itertools.pairwise(widths)):
            x, w, y = (
                torch.randn(num_agents, mb, w_in),
                torch.randn(num_agents, w_in, w_out),
                torch.randn(num_agents, mb, w_out),
            )
            gw, gx = torch.empty_like(w), torch.empty_like(x)
            shapes.append((x, w, y, gw, gx, i > 0))

    def step() -> None:
        for _ in range(cfg.update_epochs * cfg.num_minibatches):
            for x, w, y, gw, gx, needs_gx in shapes:
                torch.bmm(x, w, out=y)
                torch.bmm(x.transpose(1, 2), y, out=gw)
                if needs_gx:
                    torch.bmm(y, w.transpose(1, 2), out=gx)

    return _median_time(step, 5)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and print its figures, the JSON object last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--obs-dim", type=int, default=16)
    parser.add_argument("--actions", type=int, default=5)
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 64])
    parser.add_argument("--num-steps", type=int, default=128)
    parser.add_argument("--num-envs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    cfg = MAPPOConfig(num_steps=args.num_steps, hidden_sizes=tuple(args.hidden))
    n, num_agents, d = args.num_steps * args.num_envs, args.agents, args.obs_dim

    agent = MAPPOAgent(num_agents, d, (args.actions,), args.hidden)
    obs = torch.randn(n, num_agents, d)
    with torch.no_grad():
        actions, logprobs, _, values = agent.get_action_and_value(obs)
    batch = {
        "obs": obs,
        "actions": actions,
        "logprobs": logprobs,
        "advantages": torch.randn(n, num_agents),
        "returns": values + torch.randn(n, num_agents),
        "values": values,
    }

    def perms() -> list[torch.Tensor]:
        g = torch.Generator().manual_seed(args.seed)
        return [torch.randperm(n, generator=g) for _ in range(cfg.update_epochs)]

    # same arithmetic check: one update of each variant from the same weights
    stacked = copy.deepcopy(agent)
    opt = torch.optim.Adam(stacked.parameters(), lr=cfg.lr, eps=1e-5, fused=True)
    ppo_update(
        stacked, opt, *batch.values(), cfg, generator=torch.Generator().manual_seed(args.seed)
    )
    loop_agents = _split(agent)
    loop_opts = [
        torch.optim.Adam(ag.parameters(), lr=cfg.lr, eps=1e-5, fused=True) for ag in loop_agents
    ]
    peer_update(loop_agents, loop_opts, batch, perms(), cfg)
    layers = [m for m in stacked.actor.network if isinstance(m, StackedLinear)]
    diff = max(
        float((layer.weight[a] - lin.weight.T).abs().max().detach())
        for a, ag in enumerate(loop_agents)
        for layer, lin in zip(
            layers, [m for m in ag.actor if isinstance(m, nn.Linear)], strict=True
        )
    )

    # timings
    def batched() -> None:
        gen = torch.Generator().manual_seed(args.seed)
        ppo_update(stacked, opt, *batch.values(), cfg, generator=gen)

    shared_agents = _split(agent)
    shared_opt = [
        torch.optim.Adam(
            [p for ag in shared_agents for p in ag.parameters()], lr=cfg.lr, eps=1e-5, fused=True
        )
    ]
    t_batched = _median_time(batched, args.repeats)
    t_loop = _median_time(
        lambda: peer_update(loop_agents, loop_opts, batch, perms(), cfg), args.repeats
    )
    t_shared = _median_time(
        lambda: peer_update(shared_agents, shared_opt, batch, perms(), cfg, shared=True),
        args.repeats,
    )

    t_floor = matmul_floor(num_agents, d, list(args.hidden), args.actions, cfg, n)

    grad_steps = cfg.update_epochs * cfg.num_minibatches
    figures = {
        "benchmark": "mappo_batched",
        "agents": num_agents,
        "obs_dim": d,
        "actions": args.actions,
        "hidden": list(args.hidden),
        "samples_per_agent": n,
        "grad_steps_per_update": grad_steps,
        "batched_update_s": t_batched,
        "loop_update_s": t_loop,
        "loop_shared_backward_update_s": t_shared,
        "speedup_vs_loop": t_loop / t_batched,
        "speedup_vs_loop_shared_backward": t_shared / t_batched,
        "matmul_floor_update_s": t_floor,
        "max_speedup_at_matmul_floor": t_loop / t_floor,
        "target_speedup": TARGET_SPEEDUP,
        "meets_target": t_loop / t_batched >= TARGET_SPEEDUP,
        "max_abs_weight_diff_after_one_update": diff,
        "repeats": args.repeats,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "qnetrl": qnetrl.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(f"batched update ({num_agents} agents): {t_batched:.3f} s")
    print(f"loop over {num_agents} networks:      {t_loop:.3f} s ({t_loop / t_batched:.1f}x)")
    print(f"loop, one backward + one Adam: {t_shared:.3f} s ({t_shared / t_batched:.1f}x)")
    print(
        f"matrix products alone (floor):  {t_floor:.3f} s "
        f"(at most {t_loop / t_floor:.1f}x over the loop)"
    )
    print(f"max |weight difference| after one update: {diff:.2e}")
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
