"""Env speed: our envs against the original Memory Gym 1.0.2, measured in the same run.

    python benchmarks/env_speed.py                       # every id
    python benchmarks/env_speed.py MortarMayhem-v0 ...   # some ids

For each id it measures
* single: ``gym.make(id)`` (with gymnasium's default wrappers), random actions, resets included;
* vec64: ``gym.make_vec(id, num_envs=64)`` (our native batched env, NEXT_STEP autoreset), total
  env steps per second;
and, as the anchor, the original package (PyPI ``memory-gym`` 1.0.2, one env, one process; only its
``step`` calls are timed, resets excluded) with ``benchmarks/original_env_speed.py``, on the same
machine in the same run. Ratios are against that anchor: single / original (target >= 5x) and
vec64 / original single (>= 50x). A second anchor, the frame bound, is what writing the observations
alone allows: 64 fresh 84x84x3 frames per batch step, filled and nothing else (``frame_bound``);
vec64 is also given as a share of it. Each number is the median of 3 repeats.

The original pins ``gymnasium==0.29.0`` and ``pygame==2.4.0``, so it runs in a virtual environment
of its own, which this script creates on first use (a minute; PyPI must be reachable then) and
reuses afterwards:

    python -m venv ~/.cache/memory-gym-bench/memory-gym-1.0.2        # --original-venv to move it
    ~/.cache/memory-gym-bench/memory-gym-1.0.2/bin/python -m pip install memory-gym==1.0.2

(``$XDG_CACHE_HOME`` replaces ``~/.cache`` where it is set). The venv is made with the Python
running this script, or with ``--original-python`` (pygame 2.4.0 has wheels for Python 3.8-3.11
only). Delete the folder to rebuild it.
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
ORIGINAL_SCRIPT = os.path.join(ROOT, "benchmarks", "original_env_speed.py")
SINGLE_TARGET, VECTOR_TARGET = 5, 50  # targets: one env >= 5x the original; 64 batched >= 50x its one env
# What the original's venv gets; memory-gym 1.0.2 itself pins gymnasium==0.29.0 and pygame==2.4.0.
ORIGINAL_REQUIREMENTS = ["memory-gym==1.0.2"]
ORIGINAL_VENV = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
                             "memory-gym-bench", "memory-gym-1.0.2")


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


def frame_bound(num_envs: int, steps: int, repeats: int) -> float:
    """Env steps/s of a batch step that does nothing but make its observation: a fresh (num_envs, 84, 84, 3) uint8
    array filled with one image. Every id draws a new frame per env and step, so none can be faster than this on this
    machine: it is the memory's write bandwidth for the observations, not anything an env computes."""
    import numpy as np

    image = np.random.default_rng(0).integers(0, 256, (84, 84, 3), np.uint8)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            frames = np.empty((num_envs, 84, 84, 3), np.uint8)
            frames[:] = image
        rates.append(num_envs * steps / (time.perf_counter() - t0))
    return statistics.median(rates)


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def original_python(venv: str, base_python: str) -> str:
    """The interpreter of the original's venv, created (and memory-gym installed) if not there yet."""
    python = os.path.join(venv, "Scripts", "python.exe") if os.name == "nt" else os.path.join(venv, "bin", "python")
    marker = os.path.join(venv, "memory-gym-bench.txt")  # written once the install has succeeded
    wanted = "\n".join(ORIGINAL_REQUIREMENTS) + "\n"
    if os.path.isfile(python) and os.path.isfile(marker) and open(marker).read() == wanted:
        return python
    print(f"creating {venv} with {' '.join(ORIGINAL_REQUIREMENTS)} (once) ...", file=sys.stderr, flush=True)
    steps = [([base_python, "-m", "venv", "--clear", venv], "could not create the venv"),
             ([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *ORIGINAL_REQUIREMENTS],
              "could not install " + " ".join(ORIGINAL_REQUIREMENTS))]
    for cmd, what in steps:
        try:
            code = subprocess.run(cmd, stdout=sys.stderr).returncode
            detail = f"exit {code}"
        except OSError as e:
            code, detail = 1, str(e)
        if code:
            fail(f"{what} in {venv} ({detail}); pygame 2.4.0 has wheels for Python 3.8-3.11 only: "
                 "try --original-python python3.11")
    with open(marker, "w") as f:
        f.write(wanted)
    return python


def original_speed(ids: list[str], python: str, steps: int) -> dict[str, float]:
    """Steps/s of the original package per id, measured by original_env_speed.py in its venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}  # nothing of ours
    env.update(SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "original.json")
        r = subprocess.run([python, ORIGINAL_SCRIPT, "--steps", str(steps), "--repeats", "3", "--json", out, *ids],
                           cwd=tmp, env=env, stdout=sys.stderr)  # its lines: progress
        if r.returncode:
            fail(f"measuring the original failed (exit {r.returncode}); see the lines above")
        with open(out) as f:
            return json.load(f)["steps_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", default=ORIGINAL_IDS)
    parser.add_argument("--steps", type=int, default=2000, help="steps per repeat (single env)")
    parser.add_argument("--vec-steps", type=int, default=300, help="batch steps per repeat (vec64)")
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--original-venv", default=ORIGINAL_VENV,
                        help="virtual environment with memory-gym 1.0.2, made there if missing (default: %(default)s)")
    parser.add_argument("--original-python", default=sys.executable,
                        help="the Python that creates that venv (default: this one)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    unknown = [i for i in args.ids if i not in ORIGINAL_IDS]
    if unknown:
        parser.error(f"env ids without an original to compare with: {unknown}; valid: {', '.join(ORIGINAL_IDS)}")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

    python = original_python(args.original_venv, args.original_python)
    print(f"measuring the original (median of 3, {args.steps} steps) ...", file=sys.stderr, flush=True)
    ref = original_speed(args.ids, python, args.steps)
    rows = []
    for env_id in args.ids:
        print(f"measuring {env_id} ...", file=sys.stderr, flush=True)
        single = single_speed(env_id, args.steps, 3)
        vec = vector_speed(env_id, args.num_envs, args.vec_steps, 3)
        rows.append(dict(id=env_id, original=ref[env_id], single=single, vec=vec,
                         single_ratio=single / ref[env_id], vec_ratio=vec / ref[env_id]))

    bound = frame_bound(args.num_envs, args.vec_steps, 3)
    print(f"\nframe bound (a batch step that only fills {args.num_envs} fresh 84x84x3 frames): {bound:,.0f} steps/s")
    print(f"\n| id | original steps/s | ours, single | ratio (>= {SINGLE_TARGET}x) | ours, make_vec({args.num_envs}) "
          f"| ratio to original single (>= {VECTOR_TARGET}x) | of the frame bound |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        r["of_frame_bound"] = r["vec"] / bound
        print(f"| `{r['id']}` | {r['original']:,.0f} | {r['single']:,.0f} | {r['single_ratio']:.1f}x "
              f"| {r['vec']:,.0f} | {r['vec_ratio']:.0f}x | {r['of_frame_bound']:.0%} |")
    short = [r["id"] for r in rows if r["single_ratio"] < SINGLE_TARGET or r["vec_ratio"] < VECTOR_TARGET]
    print("\nall targets met" if not short else f"\nbelow target: {', '.join(short)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
