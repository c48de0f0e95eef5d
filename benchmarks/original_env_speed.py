"""Steps per second of the ORIGINAL Memory Gym (PyPI ``memory-gym``), one env in one process.

This is the original's half of ``benchmarks/env_speed.py``. It runs inside a virtual environment
of its own: ``memory-gym`` 1.0.2 pins ``gymnasium==0.29.0`` and ``pygame==2.4.0``, which this
project's environment does not have. ``benchmarks/env_speed.py`` creates that environment on first
use and runs this script there; by hand (from the repository root, Python 3.8-3.11, for which
pygame 2.4.0 has wheels):

    python3 -m venv ~/.cache/memory-gym-bench/memory-gym-1.0.2
    ~/.cache/memory-gym-bench/memory-gym-1.0.2/bin/python -m pip install memory-gym==1.0.2
    SDL_VIDEODRIVER=dummy ~/.cache/memory-gym-bench/memory-gym-1.0.2/bin/python \\
        benchmarks/original_env_speed.py MortarMayhem-Grid-v0 --json original.json

What is timed: the env's own ``step`` only (called on ``env.unwrapped``, so no gymnasium wrapper
is counted), with uniformly random actions drawn before the clock starts. An episode that ends is
reset with a new seed outside the timed span, so resets are excluded. Per id: a short untimed
warm-up, then the median over ``--repeats`` runs of ``--steps`` steps each.

Imports nothing but the standard library, gymnasium and memory_gym: it must run in the original's
environment, where nothing of this repository is installed.
"""
import argparse
import importlib
import json
import os
import platform
import statistics
import sys
import time
from importlib import metadata

WARMUP_STEPS = 50


def time_steps(env, actions, first_seed):
    """Seconds spent inside env.step for the given actions (resets not counted)."""
    env.reset(seed=first_seed)
    episode = 0
    spent = 0.0
    clock = time.perf_counter
    for action in actions:
        started = clock()
        outcome = env.step(action)
        spent += clock() - started
        if outcome[2] or outcome[3]:  # terminated or truncated
            episode += 1
            env.reset(seed=first_seed + 1000 * episode)
    return spent


def measure(env_id, steps, repeats, seed):
    """Median steps per second of the original env ``env_id``."""
    import gymnasium as gym

    wrapped = gym.make(env_id)  # main() has imported memory_gym, which registers the ids
    env = wrapped.unwrapped
    env.action_space.seed(seed)
    actions = [env.action_space.sample() for _ in range(steps)]
    time_steps(env, actions[:WARMUP_STEPS], seed)  # first frames, pygame surfaces, caches
    rates = [steps / time_steps(env, actions, seed + 1 + run) for run in range(repeats)]
    wrapped.close()  # the original's close() quits pygame; the next gym.make initialises it again
    return statistics.median(rates)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", help="env ids (default: every id the original registers)")
    parser.add_argument("--steps", type=int, default=2000, help="timed steps per repeat (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per id; the median is reported")
    parser.add_argument("--seed", type=int, default=0, help="seed of the actions and the first episode")
    parser.add_argument("--json", help="also write the results (and the package versions) here")
    args = parser.parse_args()
    if args.steps < 1 or args.repeats < 1:
        parser.error("--steps and --repeats must be >= 1")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # before pygame is imported
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    try:
        import gymnasium as gym
        importlib.import_module("memory_gym")  # registers the ids
    except ImportError as e:
        sys.exit(f"error: {e}; run this in an environment with memory-gym installed (see --help)")

    registered = sorted(i for i, s in gym.registry.items() if str(s.entry_point).startswith("memory_gym"))
    ids = args.ids or registered
    unknown = [i for i in ids if i not in registered]
    if unknown:
        sys.exit(f"error: not registered by memory_gym: {', '.join(unknown)}; it has: {', '.join(registered)}")

    versions = {name: metadata.version(name) for name in ("memory-gym", "gymnasium", "pygame", "numpy")}
    result = {"versions": dict(versions, python=platform.python_version()), "steps": args.steps,
              "repeats": args.repeats, "steps_per_second": {}}
    for env_id in ids:
        rate = measure(env_id, args.steps, args.repeats, args.seed)
        result["steps_per_second"][env_id] = rate
        print(f"{env_id:32s} {rate:10,.0f} steps/s  (memory-gym {versions['memory-gym']}, "
              f"median of {args.repeats})", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
