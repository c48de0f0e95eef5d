"""Seconds to the first step: a fresh process's import, ``gym.make``, ``reset`` and first ``step`` of each id, first
with numba's cache empty (a fresh install: every kernel the id uses is compiled), then again with the cache that run
left (every later process).

    python benchmarks/first_step.py                          # every id, this interpreter
    python benchmarks/first_step.py --python /tmp/venv/bin/python MortarMayhem-v0

Each id gets a cache of its own (``NUMBA_CACHE_DIR``, a temporary folder), so each cold time is what a user pays for
that id alone. Seconds are wall time and the child's CPU time (less sensitive to other work on the machine).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHILD = """
import json, sys, time
wall, cpu = time.perf_counter(), time.process_time()
import gymnasium as gym
import memory_gym_envs
imported = time.perf_counter() - wall
env = gym.make(sys.argv[1])
env.reset(seed=0)
env.step(env.action_space.sample())
print(json.dumps(dict(imported=imported, wall=time.perf_counter() - wall, cpu=time.process_time() - cpu)))
"""


def first_step(python: str, env_id: str, cache: str) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, SDL_VIDEODRIVER="dummy")
    r = subprocess.run([python, "-c", CHILD, env_id], env=env, capture_output=True, text=True, timeout=900, cwd=cache)
    if r.returncode:
        raise SystemExit(f"{env_id} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", help="env ids (default: every registered Memory Gym id)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter of the install to measure")
    args = parser.parse_args()
    if not args.ids:
        sys.path.insert(0, ROOT)
        from memory_gym_envs import ENVS

        args.ids = [i for i in ENVS if i != "ProofofMemory-v0"]
    print("| id | cold: first step (wall) | cold: CPU | warm: first step (wall) | warm: CPU | of which import |")
    print("|---|---:|---:|---:|---:|---:|")
    for env_id in args.ids:
        with tempfile.TemporaryDirectory() as cache:
            cold, warm = first_step(args.python, env_id, cache), first_step(args.python, env_id, cache)
        print(f"| `{env_id}` | {cold['wall']:.1f} s | {cold['cpu']:.1f} s | {warm['wall']:.1f} s | {warm['cpu']:.1f} s "
              f"| {warm['imported']:.1f} s |", flush=True)


if __name__ == "__main__":
    main()
