"""Learning benchmark that fits a 2-core CPU: memory agents solve a reduced Mortar Mayhem, a
memory-less agent cannot.

    python benchmarks/learning.py                           # ~50 min on the project's 2-core machine
    python benchmarks/learning.py --steps 200000 --seeds 1 2

Task: ``MortarMayhem-Grid-v0`` with one command on a 3x3 arena (reset parameters
``{"command_count": 1, "arena_size": 3}``). The command (right, down, left, up or stay) is shown for
3 frames, then a blank frame; then the agent has 6 steps to turn and walk onto the target tile and
must stay there for 2 frames. When it can act, the symbol is gone: without memory the best policy
is "always stay" (success = the chance that the command is "stay": 1/5 in the middle, 1/4 on an
edge, 1/3 in a corner, ~28% on average).

Agents, with the same small PPO settings (16 envs x 128 steps, 4 minibatches, 3 epochs, entropy
0.01, clip 0.2, advantage normalisation):

* ``ppo_trxl.py``: 2 layers, dim 128, 2 heads, W = 16 (the episode is 11 steps), GTrXL gating,
  the ground-truth loss (coefficient 1.0) and lr 1e-3. Why the extras: its memories are stale,
  detached layer inputs (as in CleanRL's ppo_trxl.py), so no gradient teaches the encoder to tell
  the arrows apart on the 3 frames where they are shown (the agent cannot act then). Without an
  auxiliary loss it learned only "stay" and "up" (the commands needing no turn): ~0.45 success
  after 500k steps.
  The ground-truth loss (predict the target tile) gives the encoder that signal, as the paper's
  reconstruction loss does for its TrXL on Mortar Mayhem;
* ``ppo_gru.py``: a GRU of 128, lr 3e-4 (BPTT trains its encoder, no extra loss needed);
* ``ppo_gru.py --no-memory``: the same GRU network, its state reset before every step.

The runs go ``--parallel`` at a time (default 3, all at once) with one thread each
(``OMP_NUM_THREADS=1``: two torch processes with two threads each on two cores run ~10x slower).
Then each final checkpoint is evaluated with the paper's protocol (``enjoy.py --eval``: 50 unseen
seeds x 3, greedy) and the success curves are drawn with ``plot.py``; from the training curves the
table also gives when each run first reached a success rate of 0.9 (mean over a 25k-step window)
and its success over the last 25k steps. Results (JSON per agent, ``learning.png``, ``results.md``)
go to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from plot import bin_curve, load_curve  # noqa: E402

WINDOW, SOLVED = 25_000, 0.9  # training-curve window (env steps) and the success rate called "solved"
TASK = ["--env-id", "MortarMayhem-Grid-v0", "--env-kwargs", '{"command_count": 1, "arena_size": 3}']
PPO = ["--num-envs", "16", "--num-steps", "128", "--num-minibatches", "4", "--update-epochs", "3",
       "--init-ent-coef", "1e-2", "--final-ent-coef", "1e-2",
       "--clip-coef", "0.2", "--norm-adv", "--checkpoint-interval", "0"]
AGENTS = {
    "TrXL": ["ppo_trxl.py", "--trxl-num-layers", "2", "--trxl-num-heads", "2", "--trxl-dim", "128",
             "--trxl-memory-length", "16", "--trxl-gating", "--ground-truth-coef", "1.0",
             "--init-lr", "1e-3", "--final-lr", "1e-3"],
    "GRU": ["ppo_gru.py", "--rnn-hidden-size", "128", "--hidden-layer-size", "128", "--init-lr", "3e-4",
            "--final-lr", "3e-4"],
    "GRU without memory": ["ppo_gru.py", "--rnn-hidden-size", "128", "--hidden-layer-size", "128", "--init-lr",
                           "3e-4", "--final-lr", "3e-4", "--no-memory", "--exp-name", "ppo_gru_no_memory"],
}


def portable(path: str, out: str) -> str:
    """``path`` relative to the repository root, or to ``out`` where it lies outside the repository:
    the results record which checkpoint was evaluated without this machine's absolute paths."""
    rel = os.path.relpath(os.path.abspath(path), ROOT)
    return rel if not rel.startswith(os.pardir) else os.path.relpath(os.path.abspath(path), out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=500_000, help="env steps per run (default: %(default)s)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--parallel", type=int, default=3, help="runs at a time (one thread each)")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "learning"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    work = os.path.join(args.out, "work")
    os.makedirs(work, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", SDL_VIDEODRIVER="dummy")

    jobs = [(name, seed) for name in AGENTS for seed in args.seeds]
    running, started, run_dirs, walls = [], {}, {}, {}
    while jobs or running:
        while jobs and len(running) < args.parallel:
            name, seed = jobs.pop(0)
            script, *flags = AGENTS[name]
            cwd = os.path.join(work, f"{name.replace(' ', '_')}__{seed}")
            os.makedirs(cwd, exist_ok=True)
            cmd = [sys.executable, os.path.join(ROOT, script), *TASK, *PPO, *flags, "--seed", str(seed),
                   "--total-timesteps", str(args.steps)]
            log = open(os.path.join(cwd, "train.log"), "w")
            print(f"training {name}, seed {seed}: {' '.join(cmd[1:])}", flush=True)
            running.append((name, seed, cwd, subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                                              env=env), log))
            started[(name, seed)] = time.time()
        time.sleep(5)
        for job in list(running):
            name, seed, cwd, proc, log = job
            if proc.poll() is None:
                continue
            running.remove(job)
            log.close()
            if proc.returncode:
                raise SystemExit(f"{name} seed {seed} failed, see {cwd}/train.log")
            walls[(name, seed)] = time.time() - started[(name, seed)]
            run_dirs[(name, seed)] = os.path.join(cwd, "runs", os.listdir(os.path.join(cwd, "runs"))[0])

    def training_success(run_dir: str, wall: float) -> tuple[str, str]:
        """(when the run first reached SOLVED, success over its last WINDOW) from its training curve."""
        steps, values = load_curve(run_dir, "episode/success")
        edges = np.arange(0, args.steps + WINDOW, WINDOW)
        binned = bin_curve(steps, values, edges)
        hit = np.flatnonzero(binned >= SOLVED)
        reached = (f"{edges[hit[0] + 1] / 1000:.0f}k steps (~{wall * edges[hit[0] + 1] / args.steps / 60:.0f} min)"
                   if len(hit) else "never")
        return reached, f"{values[steps > steps.max() - WINDOW].mean():.2f}"

    rows = []
    for (name, seed), run_dir in run_dirs.items():
        out = os.path.join(args.out, f"eval_{name.replace(' ', '_')}_{seed}.json")
        subprocess.run([sys.executable, os.path.join(ROOT, "enjoy.py"), os.path.join(run_dir, "checkpoint.pt"),
                        "--eval", "--output", out], check=True, env=env, stdout=subprocess.DEVNULL)
        with open(out) as f:
            result = json.load(f)
        result["model"] = portable(result["model"], args.out)  # no machine paths in committed results
        with open(out, "w") as f:
            json.dump(result, f, indent=1)
        rows.append((name, seed, walls[(name, seed)], result))
    subprocess.run([sys.executable, os.path.join(ROOT, "plot.py"),
                    *[a for name in AGENTS for a in ("--runs", f"{name}=" + ",".join(
                        run_dirs[(name, s)] for s in args.seeds))],
                    "--tag", "episode/success", "--title", "MortarMayhem-Grid-v0, 1 command, 3x3: success",
                    "--output", os.path.join(args.out, "learning.png")], check=True, env=env)

    lines = [f"Reduced `MortarMayhem-Grid-v0` (1 command, 3x3 arena), {args.steps:,} steps per run; evaluation: "
             "50 unseen seeds x 3 episodes, greedy actions (mean, [bootstrap 95% interval]). Training: the "
             f"first {WINDOW // 1000}k-step window with a mean success of at least {SOLVED} and the success over the "
             f"last {WINDOW // 1000}k steps (sampled actions).", "",
             f"| agent | seed | wall time | training: success >= {SOLVED} at | training: final success "
             "| eval: success | eval: return |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, seed, wall, result in rows:
        def cell(metric):
            m = result["summary"][metric]
            return f"{m['mean']:.2f} [{m['mean_ci95'][0]:.2f}, {m['mean_ci95'][1]:.2f}]"
        reached, final = training_success(run_dirs[(name, seed)], wall)
        lines.append(f"| {name} | {seed} | {wall / 60:.0f} min | {reached} | {final} | {cell('success')} "
                     f"| {cell('return')} |")
    table = "\n".join(lines)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(table + "\n")
    print("\n" + table)


if __name__ == "__main__":
    main()
