"""Agents: learned policies (DDQN, PPO, ...) and heuristic baselines."""

__all__: list[str] = []
