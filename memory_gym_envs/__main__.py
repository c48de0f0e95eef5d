"""A random agent on every environment: ``python -m memory_gym_envs [ids...] [--steps N]``.

Runs ``gym.make_vec(id, num_envs=16)`` with uniformly random actions and prints, per id, the
episodes finished, their mean return, length and success rate (where the env reports one), and
the env steps per second. A smoke test of an installation, and a baseline any agent must beat.
"""
from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

from . import ENVS


def random_agent(env_id: str, steps: int, num_envs: int = 16, seed: int = 0) -> dict:
    envs = gym.make_vec(env_id, num_envs=num_envs, **({"max_steps": 1000} if env_id.startswith("Endless") else {}))
    envs.action_space.seed(seed)
    envs.reset(seed=seed)
    returns, lengths, successes = [], [], []
    t0 = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, info = envs.step(envs.action_space.sample())
        for i in np.flatnonzero(terminated | truncated):
            returns.append(info["reward"][i])
            lengths.append(info["length"][i])
            if "success" in info:
                successes.append(info["success"][i])
    rate = steps * num_envs / (time.perf_counter() - t0)
    envs.close()
    return dict(episodes=len(returns), ret=np.mean(returns) if returns else float("nan"),
                length=np.mean(lengths) if lengths else float("nan"),
                success=np.mean(successes) if successes else None, rate=rate)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", default=list(ENVS), help="env ids (default: all)")
    parser.add_argument("--steps", type=int, default=500, help="batch steps per id (16 envs)")
    args = parser.parse_args(argv)
    for env_id in args.ids:
        if env_id not in ENVS:
            parser.error(f"unknown env id {env_id!r}; valid: {', '.join(ENVS)}")
    print(f"{'env id':30s} {'episodes':>8s} {'return':>8s} {'length':>8s} {'success':>8s} {'steps/s':>9s}")
    for env_id in args.ids:
        r = random_agent(env_id, args.steps)
        success = "-" if r["success"] is None else f"{r['success']:.2f}"
        print(f"{env_id:30s} {r['episodes']:8d} {r['ret']:8.2f} {r['length']:8.1f} {success:>8s} {r['rate']:9,.0f}")


if __name__ == "__main__":
    main()
