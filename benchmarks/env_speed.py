"""Env speed: our envs against the original Memory Gym 1.0.2, measured in the same run.

    python benchmarks/env_speed.py                       # every id
    python benchmarks/env_speed.py MortarMayhem-v0 ...   # some ids

For each id it measures
* single: ``gym.make(id)`` (with gymnasium's default wrappers), random actions, resets included;
* vec64: ``gym.make_vec(id, num_envs=64)`` (our native batched env, NEXT_STEP autoreset), total
  env steps per second;
and runs ``../shared/tools/reference_env_speed.py`` (the original, one env, in its own venv; it
times only ``step`` calls, resets excluded) on the same machine in the same run. Ratios are
against that anchor: single / original (target >= 2x) and vec64 / original single (>= 20x).
Each number is the median of 3 repeats.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import gymnasium as gym
import memory_gym_envs

# The ids the original has (ProofofMemory-v0 is ours alone: there is nothing to compare it with).
ORIGINAL_IDS = [i for i in memory_gym_envs.ENVS if i != "ProofofMemory-v0"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(ROOT, "..", "shared", "tools", "reference_env_speed.py")


def single_speed(env_id: str, steps: int, repeats: int) -> float:
    env = gym.make(env_id)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(steps)]
    env.reset(seed=0)
    for a in actions[:50]:  # warm-up (loads the compiled kernels)
        if any(env.step(a)[2:4]):
            env.reset()
    rates = []
    for r in range(repeats):
        env.reset(seed=r)
        t0 = time.perf_counter()
        for a in actions:
            _, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                env.reset()
        rates.append(steps / (time.perf_counter() - t0))
    return statistics.median(rates)


def vector_speed(env_id: str, num_envs: int, steps: int, repeats: int) -> float:
    envs = gym.make_vec(env_id, num_envs=num_envs)
    envs.action_space.seed(0)
    actions = [envs.action_space.sample() for _ in range(steps)]
    envs.reset(seed=0)
    for a in actions[:10]:
        envs.step(a)
    rates = []
    for r in range(repeats):
        envs.reset(seed=1000 * r)
        t0 = time.perf_counter()
        for a in actions:
            envs.step(a)
        rates.append(num_envs * steps / (time.perf_counter() - t0))
    return statistics.median(rates)


def reference_speed(ids: list[str], reference: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "ref.json")
        subprocess.run([sys.executable, reference, "--json", out, *ids], check=True,
                       stdout=subprocess.DEVNULL)
        with open(out) as f:
            return json.load(f)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", default=ORIGINAL_IDS)
    parser.add_argument("--steps", type=int, default=2000, help="steps per repeat (single env)")
    parser.add_argument("--vec-steps", type=int, default=300, help="batch steps per repeat (vec64)")
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--reference", default=REFERENCE, help="path of reference_env_speed.py")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    unknown = [i for i in args.ids if i not in ORIGINAL_IDS]
    if unknown:
        parser.error(f"env ids without an original to compare with: {unknown}; valid: {', '.join(ORIGINAL_IDS)}")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

    print(f"measuring the original (median of 3, {args.steps} steps) ...", file=sys.stderr, flush=True)
    ref = reference_speed(args.ids, args.reference)
    rows = []
    for env_id in args.ids:
        print(f"measuring {env_id} ...", file=sys.stderr, flush=True)
        single = single_speed(env_id, args.steps, 3)
        vec = vector_speed(env_id, args.num_envs, args.vec_steps, 3)
        rows.append(dict(id=env_id, original=ref[env_id], single=single, vec=vec,
                         single_ratio=single / ref[env_id], vec_ratio=vec / ref[env_id]))

    print(f"\n| id | original steps/s | ours, single | ratio (>= 2x) | ours, make_vec({args.num_envs}) "
          "| ratio to original single (>= 20x) |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| `{r['id']}` | {r['original']:,.0f} | {r['single']:,.0f} | {r['single_ratio']:.1f}x "
              f"| {r['vec']:,.0f} | {r['vec_ratio']:.0f}x |")
    short = [r["id"] for r in rows if r["single_ratio"] < 2 or r["vec_ratio"] < 20]
    print("\nall targets met" if not short else f"\nbelow target: {', '.join(short)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
