"""Memory Gym at CPU scale: the paper's findings on reduced tasks, several seeds, known-good numbers.

    python benchmarks/cpu_suite.py                        # every run not yet finished, 2 at a time
    python benchmarks/cpu_suite.py --parallel 1 --tasks mortar --seeds 1
    python benchmarks/cpu_suite.py --report               # only rebuild the results from finished runs
    python benchmarks/cpu_suite.py --print-commands       # one line per unfinished run, for a scheduler

Four reduced tasks made from reset parameters (see ``TASKS``: why each, and the ceiling of an agent
without memory), ten agents with one set of PPO settings per task (``PPO``, ``AGENTS``):

* ``GRU``: ``ppo_gru.py``, a GRU of 128;
* ``TrXL``: ``ppo_trxl.py``, 2 layers of 128, 2 heads, no gating, no auxiliary loss;
* ``TrXL+rec``: the same with the observation-reconstruction loss (coefficient 0.1, as CleanRL's
  Memory Gym benchmark);
* ``GRU no memory``: the GRU network with its state reset before every step (the memory-less
  baseline);
* the memory zoo, ``minGRU``, ``FFM``, ``LRU``, ``Mamba``, ``GDN``: the GRU's network and settings
  with another memory of 128 (``ppo_gru.py --rnn-type``); ``FrameStack``: the same network with
  the last 4 frames' features instead of a memory (the authors' frame-stacking baseline).

Each run trains one thread (``OMP_NUM_THREADS=1``) for the task's steps, then its final
checkpoint is evaluated with ``enjoy.py --eval`` (50 unseen seeds x 3 episodes, greedy actions).
The suite is resumable: a finished run leaves ``--out``/records/<task>/<agent>/<seed>/ with its
record, its evaluation and its training curve (small files, committed) and is never run again; an
interrupted run (Ctrl-C or SIGTERM to the suite stops the runs in progress at their last completed
iteration) continues from its checkpoint in ``--work`` (default ``cpu_suite_runs/``: checkpoints and
TensorBoard logs, not committed). A record or a run made with other settings than the script's
stops the suite with a line naming it. Results in ``--out``:

* ``summary.json``: one record per task, agent and seed (``task``, ``agent``, ``seed``, ``steps``,
  ``metric``, ``eval_<metric>``, ``eval_return``, ``wall_s``: training time, rollouts and updates;
  ``command``: the training command);
* ``results.md``: a table of every task and agent; per task, each agent's mean and IQM of its runs'
  scores with bootstrap 95% intervals over seeds, the per-seed scores and the training time per
  run; the paper's findings as differences between agents (``FINDINGS``), with their intervals;
* ``<task>.png``: training curves of the task's metric, mean and min-max band over the seeds.

``speed.json`` in ``--out``, if there (``python benchmarks/train_speed.py --memories --out
benchmarks/results/cpu_suite/speed.json``: every agent one after another at ``mortar``'s settings,
one thread), adds each agent's steps/s per thread and peak RSS to the table of every task and agent.
"""
from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import math
import os
import shlex
import signal
import subprocess
import sys
import time
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


@dataclasses.dataclass(frozen=True)
class Task:
    env_id: str
    env_kwargs: dict
    steps: int
    metric: str  # the evaluation's headline: success (finite tasks), return, or an endless unit
    trxl_window: int  # W: covers an episode, or what the task needs to remember
    why: str
    eval_kwargs: dict = dataclasses.field(default_factory=dict)  # e.g. a cap on endless episodes


TASKS = {
    "mortar": Task(
        "MortarMayhem-Grid-v0", {"command_count": 1, "arena_size": 3}, 300_000, "success", 16,
        "One command on a 3x3 arena, shown for 3 frames while the agent cannot act; then it has 6 steps "
        "to reach the target tile. Without memory the best policy is to stay: success 1/5 in the middle, "
        "1/4 on an edge, 1/3 in a corner, 0.28 on average."),
    "mystery": Task(
        "MysteryPath-Grid-v0", {"show_origin": True, "show_goal": True, "reward_path_progress": 0.1},
        250_000, "return", 32,
        "The invisible path on a 7x7 grid with origin and goal shown and 0.1 per new path tile (1.0 for "
        "the goal). After a fall-off the agent is back at the origin and only memory tells it which moves "
        "failed: a memory-less greedy policy repeats its moves and never passes the first place it fell "
        "(calibration: return 0.11 against the GRU's 0.30)."),
    "endless": Task(
        "Endless-MysteryPath-v0", {}, 250_000, "return", 32,
        "The endless path (0.1 per new tile; episodes capped at 4,000 steps in evaluation). Falling off "
        "twice at the same place ends the episode, so an agent must remember which way failed: a "
        "memory-less greedy policy tries the same way again (calibration: return 0.17 against 0.32).",
        eval_kwargs={"max_steps": 4000}),
    "endless_mortar": Task(
        "Endless-MortarMayhem-v0",
        {"agent_speed": 14.0, "allowed_commands": 4, "explosion_delay": [3], "explosion_duration": [1]},
        250_000, "commands_completed", 32,
        "Endless commands on the grid, one tile per move, the 4 moves only (no stay), 3 steps to make a move "
        "and 1 to wait; round r replays all r commands, the first shown about 5r steps before. An episode "
        "ends at the first failed command (evaluation: played until then, capped at 4,000 steps, which no "
        "agent reaches). Scored in commands completed. Without memory no policy knows a command (1 in 4); "
        "its best, repeating one direction, completes 0.78 on average (calibration, 3 seeds: GRU 0.57 "
        "against no memory 0.19).",
        eval_kwargs={"max_steps": 4000}),
}
PPO = ["--num-envs", "16", "--num-steps", "128", "--num-minibatches", "4", "--update-epochs", "3",
       "--init-lr", "1e-3", "--final-lr", "1e-3", "--init-ent-coef", "1e-2", "--final-ent-coef", "1e-2",
       "--clip-coef", "0.2", "--norm-adv", "--checkpoint-interval", "10", "--torch-threads", "1"]
GRU = ["ppo_gru.py", "--rnn-hidden-size", "128", "--hidden-layer-size", "128"]
TRXL = ["ppo_trxl.py", "--trxl-num-layers", "2", "--trxl-num-heads", "2", "--trxl-dim", "128"]
AGENTS = {
    "GRU": GRU,
    "TrXL": TRXL,
    "TrXL+rec": TRXL + ["--reconstruction-coef", "0.1"],
    "GRU no memory": GRU + ["--no-memory"],
    # The memory zoo (ppo_gru.py --rnn-type): the GRU's network and settings with another memory of 128.
    "minGRU": GRU + ["--rnn-type", "mingru"],
    "FFM": GRU + ["--rnn-type", "ffm"],
    "LRU": GRU + ["--rnn-type", "lru"],
    "Mamba": GRU + ["--rnn-type", "mamba"],
    "GDN": GRU + ["--rnn-type", "gdn"],
    "FrameStack": GRU + ["--rnn-type", "framestack"],  # no recurrence: the last 4 frames' features
}


SEEDS = [1, 2, 3]
DEFAULT_OUT = os.path.join(ROOT, "benchmarks", "results", "cpu_suite")
CURVE_TAGS = {"success": "episode/success", "return": "charts/episodic_return",
              "commands_completed": "episode/commands_completed"}


def slug(name: str) -> str:
    return name.replace(" ", "_").replace("+", "_")


def command(task: Task, agent: str, seed: int) -> list[str]:
    """The training command, script name first (relative to the repository root)."""
    script, *flags = AGENTS[agent]
    if script == "ppo_trxl.py":
        flags = flags + ["--trxl-memory-length", str(task.trxl_window)]
    return [script, "--env-id", task.env_id, "--env-kwargs", json.dumps(task.env_kwargs),
            *PPO, *flags, "--seed", str(seed), "--total-timesteps", str(task.steps), "--exp-name", slug(agent)]


def write_text(text: str, path: str) -> None:
    """Atomically: a reader sees the old file or the new one, never half of it."""
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def write_if_changed(text: str, path: str) -> None:
    """``write_text``, unless the file differs only in its dates (a report re-made on another day with nothing new
    leaves the tree clean)."""
    import re

    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
        if re.sub(r"\d{4}-\d{2}-\d{2}", "DATE", old) == re.sub(r"\d{4}-\d{2}-\d{2}", "DATE", text):
            return
    write_text(text, path)


def write_json(obj, path: str) -> None:
    write_text(json.dumps(obj, indent=1), path)


class Run:
    """One task x agent x seed: train (or resume) in ``dir``, then evaluate and keep the result in
    ``result`` (its record written last: it marks the run done)."""

    def __init__(self, work: str, out: str, task_name: str, agent: str, seed: int):
        self.task_name, self.task, self.agent, self.seed = task_name, TASKS[task_name], agent, seed
        self.dir = os.path.join(work, task_name, slug(agent), str(seed))
        self.result = os.path.join(out, "records", task_name, slug(agent), str(seed))
        self.record_path = os.path.join(self.result, "record.json")

    def __str__(self):
        return f"{self.task_name} / {self.agent} / seed {self.seed}"

    @property
    def command(self) -> str:
        """The training command as one line (kept with the run and its record)."""
        return shlex.join(command(self.task, self.agent, self.seed))

    @property
    def done(self) -> bool:
        """Recorded; a record or a run made with other settings than the script's stops the suite (it is
        never mixed into the results nor resumed under the new settings)."""
        for path in (self.record_path, os.path.join(self.dir, "command.json")):
            if os.path.exists(path) and read_json(path, dict).get("command") != self.command:
                raise SystemExit(f"error: {path}: {self} was made with other settings than the suite's now "
                                 f"({self.command}); move {os.path.dirname(path)} away to run it again")
        return os.path.exists(self.record_path)

    def checkpoint(self) -> str | None:
        found = glob.glob(os.path.join(self.dir, "runs", "*", "checkpoint.pt"))
        return found[0] if found else None

    def trained(self) -> bool:
        """The checkpoint is at the last iteration: the trainer runs ``steps // batch`` whole iterations,
        so a finished run stops short of ``steps`` when the batch does not divide it."""
        import torch

        path = self.checkpoint()
        if path is None:
            return False
        checkpoint = torch.load(path, weights_only=True)
        batch = checkpoint["args"]["num_envs"] * checkpoint["args"]["num_steps"]
        return checkpoint["iteration"] >= self.task.steps // batch

    def start(self, env: dict) -> subprocess.Popen | None:
        """The training process (None: training is complete, evaluate)."""
        os.makedirs(self.dir, exist_ok=True)
        write_json({"command": self.command}, os.path.join(self.dir, "command.json"))
        if self.trained():
            return None
        path = self.checkpoint()
        script, *flags = command(self.task, self.agent, self.seed)
        cmd = [sys.executable, os.path.join(ROOT, script), *(flags if path is None else ["--resume", path])]
        print(f"{'resuming' if path else 'training'} {self}: {' '.join(cmd[1:])}", flush=True)
        log = open(os.path.join(self.dir, "train.log"), "a")
        return subprocess.Popen(cmd, cwd=self.dir, stdout=log, stderr=subprocess.STDOUT, env=env)

    def finish(self, env: dict) -> None:
        """Evaluate the final checkpoint; keep the evaluation, the training curve and the record."""
        from plot import load_curve

        os.makedirs(self.result, exist_ok=True)
        out = os.path.join(self.result, "eval.json")
        subprocess.run([sys.executable, os.path.join(ROOT, "enjoy.py"), self.checkpoint(), "--eval",
                        "--env-kwargs", json.dumps(self.task.eval_kwargs), "--output", out],
                       check=True, env=env, stdout=subprocess.DEVNULL)
        with open(out) as f:
            evaluation = json.load(f)
        evaluation["model"] = os.path.relpath(evaluation["model"], ROOT)  # no machine paths in results
        write_json(evaluation, out)
        summary = evaluation["summary"]
        run_dir = os.path.dirname(self.checkpoint())
        wall = sum(load_curve(run_dir, tag)[1].sum() for tag in ("charts/rollout_time", "charts/update_time"))
        metric = self.task.metric
        steps, values = load_curve(run_dir, CURVE_TAGS[metric])
        write_json({"tag": CURVE_TAGS[metric], "steps": steps.tolist(), "values": values.tolist()},
                   os.path.join(self.result, "curve.json"))
        record = {"task": self.task_name, "agent": self.agent, "seed": self.seed, "steps": self.task.steps,
                  "metric": metric, f"eval_{metric}": summary[metric]["mean"], "eval_return": summary["return"]["mean"],
                  "wall_s": round(float(wall), 1), "command": self.command}
        write_json(record, self.record_path)
        print(f"finished {self}: {metric} {record[f'eval_{metric}']:.3f}, {wall / 60:.1f} min", flush=True)


def read_json(path: str, kind: type):
    """A JSON file the suite wrote, or one line naming it and what is wrong (a damaged file never reaches a table)."""
    try:
        with open(path) as f:
            value = json.load(f)
    except (OSError, ValueError, RecursionError) as e:
        raise SystemExit(f"error: {path}: not a readable JSON file ({' '.join(str(e).split())[:200]}); move it away "
                         "to make it again")
    if not isinstance(value, kind):
        raise SystemExit(f"error: {path}: expected a JSON {'object' if kind is dict else 'array'}, got "
                         f"{type(value).__name__}; move it away to make it again")
    return value


def number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def checked_record(run: Run) -> dict:
    """``run``'s record, every value as ``finish`` writes it: one line naming the file and the value otherwise."""
    record, metric = read_json(run.record_path, dict), run.task.metric
    score = (lambda v: number(v) and 0 <= v <= 1, "a number in [0, 1]") if metric == "success" else \
        (lambda v: number(v) and abs(v) <= MAX_RETURN, f"a finite number within +-{MAX_RETURN:g}")
    if metric not in ("success", "return"):  # an endless unit: a count
        score = (lambda v: number(v) and 0 <= v <= MAX_RETURN, f"a finite number in [0, {MAX_RETURN:g}]")
    rules = {"task": (lambda v: v == run.task_name, repr(run.task_name)),
             "agent": (lambda v: v == run.agent, repr(run.agent)),  # ints by type: true and 1.0 == 1 in Python
             "seed": (lambda v: type(v) is int and v == run.seed, str(run.seed)),
             "steps": (lambda v: type(v) is int and v == run.task.steps, str(run.task.steps)),
             "metric": (lambda v: v == metric, repr(metric)),
             f"eval_{metric}": score, "eval_return": (score if metric == "return" else
                                                     (lambda v: number(v) and abs(v) <= MAX_RETURN,
                                                      f"a finite number within +-{MAX_RETURN:g}")),
             "wall_s": (lambda v: number(v) and v >= 0, "a finite number >= 0"),
             "command": (lambda v: v == run.command, "the suite's command")}
    for key, (test, allowed) in rules.items():
        if key not in record or not test(record[key]):
            got = repr(record[key])[:100] if key in record else "nothing (no such key)"
            raise SystemExit(f"error: {run.record_path}: {key} must be {allowed}, got {got}; move {run.result} away "
                             f"to run {run} again")
    curve = read_json(os.path.join(run.result, "curve.json"), dict)
    steps, values = curve.get("steps"), curve.get("values")
    if not (isinstance(steps, list) and isinstance(values, list) and len(steps) == len(values)
            and all(map(number, steps + values))):
        raise SystemExit(f"error: {run.result}/curve.json: expected steps and values, lists of finite numbers of one "
                         f"length; move {run.result} away to run {run} again")
    return record


MAX_RETURN = 1e6  # far beyond any task's return: a larger one is a damaged record
SPEED = "speed.json"  # in the results folder: each agent's steps/s and peak RSS at the suite's settings


def checked_speed(out: str) -> dict | None:
    """``benchmarks/train_speed.py --memories --out <out>/speed.json``'s numbers, checked (one line naming the file
    and the value otherwise), or None where there is no such file."""
    path = os.path.join(out, SPEED)
    if not os.path.exists(path):
        return None
    speed = read_json(path, dict)
    memories = speed.get("memories")
    fix = f"make it again with python benchmarks/train_speed.py --memories --out {path}"
    if not (isinstance(memories, dict) and isinstance(speed.get("date"), str) and isinstance(speed.get("command"), str)
            and type(speed.get("iterations")) is int):
        raise SystemExit(f"error: {path}: expected date, command, iterations and memories; {fix}")
    for agent, row in memories.items():
        for key in ("steps_per_s", "peak_rss_gb"):
            if agent not in AGENTS or not isinstance(row, dict) or not (number(row.get(key)) and row[key] > 0):
                got = repr(row.get(key) if isinstance(row, dict) else row)[:100]
                raise SystemExit(f"error: {path}: {agent!r}: {key} must be a number > 0 for an agent of the suite "
                                 f"({', '.join(AGENTS)}), got {got}; {fix}")
    return speed


def run_all(runs: list[Run], parallel: int) -> None:
    """Train up to ``parallel`` runs at a time and evaluate each as it ends. Ctrl-C or SIGTERM, or a
    run that fails, stops the runs in progress at their last completed iteration (passed on as
    SIGTERM: each one writes its checkpoint); the next call continues them."""
    env = dict(os.environ, OMP_NUM_THREADS="1", SDL_VIDEODRIVER="dummy")
    todo, running, stop, failed = [r for r in runs if not r.done], [], [], None
    print(f"{len(runs) - len(todo)} of {len(runs)} runs already done", flush=True)
    handlers = {s: signal.signal(s, lambda signum, _: stop.append(signum)) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while (todo or running) and not stop and not failed:
            while todo and len(running) < parallel and not stop:
                run = todo.pop(0)
                proc = run.start(env)
                if proc is None:
                    run.finish(env)
                else:
                    running.append((run, proc))
            time.sleep(5)
            for run, proc in list(running):
                if proc.poll() is None:
                    continue
                running.remove((run, proc))
                if proc.returncode:
                    failed = f"{run} failed (exit {proc.returncode}), see {run.dir}/train.log"
                else:
                    run.finish(env)
    except subprocess.CalledProcessError as e:  # enjoy.py's evaluation
        failed = f"an evaluation failed (exit {e.returncode}): {shlex.join(e.cmd)}"
    finally:
        for run, proc in running:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for run, proc in running:
            proc.wait()
        for s, handler in handlers.items():
            signal.signal(s, handler)
    if failed or stop:
        raise SystemExit(f"{failed or 'stopped'}; the runs in progress kept their last completed iteration: "
                         "the same command continues them")


def draw(curves: dict, steps: int, title: str, path: str) -> None:
    """Per agent: the mean over its runs and the min-max band, in 50 bins of env steps (plot.py's)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from plot import bin_curve

    edges = np.linspace(0, steps, 51)
    fig, ax = plt.subplots(figsize=(7, 4))
    for agent, runs in curves.items():
        binned = np.array([bin_curve(np.array(c["steps"]), np.array(c["values"]), edges) for c in runs])
        with np.errstate(all="ignore"), warnings.catch_warnings():  # bins before a run's first point: empty
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, low, high = np.nanmean(binned, axis=0), np.nanmin(binned, axis=0), np.nanmax(binned, axis=0)
        ax.plot(edges[1:], mean, label=f"{agent} ({len(runs)} seeds)")
        ax.fill_between(edges[1:], low, high, alpha=0.2)
    ax.set(title=title, xlabel="env steps", ylabel=runs[0]["tag"])
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


FINDINGS = {  # the paper's findings, each as the differences of scores that test it: (task, agent, minus agent)
    "(1) memory agents solve what memory-less agents cannot": [
        (t, a, "GRU no memory") for t in TASKS for a in ("GRU", "TrXL", "TrXL+rec")],
    "(2) on the finite tasks, TrXL beats GRU only with the observation-reconstruction loss": [
        (t, a, b) for t in TASKS if not TASKS[t].env_id.startswith("Endless-")
        for a, b in (("TrXL+rec", "GRU"), ("TrXL", "GRU"), ("TrXL+rec", "TrXL"))],
    "(3) on the endless tasks GRU beats TrXL by a wide margin": [
        (t, "GRU", a) for t in TASKS if TASKS[t].env_id.startswith("Endless-") for a in ("TrXL", "TrXL+rec")],
}


def difference(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, resamples: int = 10_000) -> tuple:
    """mean(a) - mean(b) of two agents' per-seed scores and its bootstrap 95% interval (each agent's
    seeds resampled on their own: the runs are independent)."""
    boot = (a[rng.integers(0, len(a), (resamples, len(a)))].mean(1)
            - b[rng.integers(0, len(b), (resamples, len(b)))].mean(1))
    return float(a.mean() - b.mean()), np.percentile(boot, [2.5, 97.5]).tolist()


ZOO = [agent for agent in AGENTS if agent not in ("GRU", "TrXL", "TrXL+rec", "GRU no memory")]
ZOO_COMPARISONS = {  # what the zoo's table is read for, as differences of scores: (task, agent, minus agent)
    "each memory against the GRU": [(t, a, "GRU") for t in TASKS for a in ZOO],
    "each memory against the memory-less agent": [(t, a, "GRU no memory") for t in TASKS for a in ZOO],
}
DIFFERENCES = ("Differences of the agents' mean scores (each task's metric), [bootstrap 95% interval over seeds]. "
               "\"> 0\" or \"< 0\": the whole interval lies on that side; \"0 inside\": it does not. With 3 seeds "
               "these intervals understate the uncertainty (a bootstrap over 3 values cannot reach beyond their range; "
               "with 1 seed it has no width): read them with the per-seed scores above.")


def findings(scores: dict, rng: np.random.Generator, groups: dict = FINDINGS,
             title: str = "The paper's findings") -> list[str]:
    """A table per group of differences (the paper's findings, or ZOO_COMPARISONS): each difference with its interval
    and which side of 0 the interval lies."""
    lines = [f"## {title}", "", DIFFERENCES, ""]
    for finding, rows in groups.items():
        lines += [f"### {finding}", "", "| task | difference | seeds | value [95% interval] | interval |",
                  "|---|---|---|---:|---|"]
        for task, a, b in rows:
            if (task, a) not in scores or (task, b) not in scores:
                continue
            d, (lo, hi) = difference(scores[task, a], scores[task, b], rng)
            side = "> 0" if lo > 0 else "< 0" if hi < 0 else "0 inside"
            lines.append(f"| {task} | {a} - {b} | {len(scores[task, a])} / {len(scores[task, b])} | "
                         f"{d:+.2f} [{lo:+.2f}, {hi:+.2f}] | {side} |")
        lines.append("")
    return lines


BEGIN, END = "<!-- made by benchmarks/cpu_suite.py --report -->", "<!-- end of benchmarks/cpu_suite.py --report -->"
PAGES = {os.path.join(ROOT, "README.md"): "headline", os.path.join(ROOT, "docs", "results.md"): "tables"}


def update_pages(blocks: dict[str, list[str]]) -> None:
    """Write each page's block (PAGES: the headline table, or all tables) between its markers."""
    for page, kind in PAGES.items():
        block = blocks[kind]
        text = open(page).read()
        if BEGIN not in text or END not in text:
            continue
        head, rest = text.split(BEGIN, 1)
        write_if_changed(head + BEGIN + "\n" + "\n".join(block) + "\n" + END + rest.split(END, 1)[1], page)


def report(runs: list[Run], out: str, pages: bool = False) -> None:
    """summary.json, results.md and the plots from every finished run."""
    from enjoy import summarize

    done = [r for r in runs if r.done]
    record = {r.record_path: checked_record(r) for r in done}  # every one, before anything is written
    speed = checked_speed(out)
    records = list(record.values())
    os.makedirs(out, exist_ok=True)
    write_json(records, os.path.join(out, "summary.json"))
    lines = ["# CPU-scale suite: results", "",
             f"Made by `python benchmarks/cpu_suite.py` ({time.strftime('%Y-%m-%d')}). A run's score: the mean of its "
             "final checkpoint over 50 unseen seeds x 3 episodes, greedy actions. Per agent: the mean and the IQM "
             "(interquartile mean, as rliable; with 3 seeds it equals the mean) of its runs' scores, [bootstrap 95% "
             "interval over seeds].", ""]
    rng, scores, cells, task_tables = np.random.default_rng(0), {}, {}, []
    for name, task in TASKS.items():
        task_runs = [r for r in done if r.task_name == name]
        if not task_runs:
            continue
        metric = task.metric
        table = [f"| agent | seeds | {metric}: mean | IQM | per seed | time per run |", "|---|---:|---:|---:|---|---:|"]
        lines += [f"## {name}: `{task.env_id}` {json.dumps(task.env_kwargs)}, {task.steps:,} steps", "", task.why, ""]
        task_tables += ["", f"`{name}` (`{task.env_id}`, {task.steps:,} steps):", ""]
        curves = {}
        for agent in AGENTS:
            agent_runs = sorted((r for r in task_runs if r.agent == agent), key=lambda r: r.seed)
            if not agent_runs:
                continue
            per_seed = scores[name, agent] = np.array([record[r.record_path][f"eval_{metric}"] for r in agent_runs])
            s = summarize(per_seed[:, None], rng)  # over seeds: a run's score is its mean over 150 episodes
            minutes = np.mean([record[r.record_path]["wall_s"] for r in agent_runs]) / 60
            table.append(f"| {agent} | {len(agent_runs)} | {s['mean']:.2f} [{s['mean_ci95'][0]:.2f}, "
                         f"{s['mean_ci95'][1]:.2f}] | {s['iqm']:.2f} [{s['iqm_ci95'][0]:.2f}, {s['iqm_ci95'][1]:.2f}] "
                         f"| {', '.join(f'{v:.2f}' for v in per_seed)} | {minutes:.0f} min |")
            curves[agent] = [read_json(os.path.join(r.result, "curve.json"), dict) for r in agent_runs]
            cells[name, agent] = f"{s['mean']:.2f} [{s['mean_ci95'][0]:.2f}, {s['mean_ci95'][1]:.2f}] ({len(agent_runs)})"
        lines += table + [""]
        task_tables += table
        draw(curves, task.steps, f"{task.env_id} (reduced): training {metric}", os.path.join(out, f"{name}.png"))
    tasks = [t for t in TASKS if any(t == task for task, _ in cells)]
    columns = [f"{t}: {TASKS[t].metric}" for t in tasks] + (["steps/s per thread", "peak RSS"] if speed else [])
    headline = ["## All tasks: mean [95% interval] (seeds)", "",
                "| agent | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for agent in AGENTS:
        row = [cells.get((t, agent), "-") for t in tasks]
        if speed:
            measured = speed["memories"].get(agent)
            row += [f"{measured['steps_per_s']:.0f}", f"{measured['peak_rss_gb']:.2f} GB"] if measured else ["-", "-"]
        headline.append(f"| {agent} | " + " | ".join(row) + " |")
    if speed:
        headline += ["", f"Steps/s per thread and peak RSS: `{speed['command']}` ({speed['date']}): each agent on "
                         f"`mortar`'s settings, one thread, {speed['iterations']} iterations, one after another on "
                         "this 2-core machine (docs/benchmarks.md)."]
    lines[4:4] = headline + [""]
    if pages:  # the suite's own results only, not a --steps check's
        status = [f"Status on {time.strftime('%Y-%m-%d')}: {len(records)} of {len(runs)} runs finished "
                  f"(`python benchmarks/cpu_suite.py --report`).", ""]
        update_pages({"headline": status + headline[2:],
                      "tables": status + headline[2:] + ["", "Per task: mean and IQM [95% interval], every seed's "
                                                         "score, training time per run."] + task_tables})
    lines += findings(scores, rng)
    lines += findings(scores, rng, ZOO_COMPARISONS, "The memory zoo")
    write_if_changed("\n".join(lines), os.path.join(out, "results.md"))
    print(f"{len(records)} records -> {out}/summary.json, results.md, plots", flush=True)


def print_commands(runs: list[Run], a: argparse.Namespace) -> None:
    """One line per unfinished run: this script limited to that run (one at a time, no report), so that a scheduler
    can run the lines anywhere that sees the same --work and --out (each run writes only its own directories)."""
    for run in runs:
        if run.done:
            continue
        flags = ["--tasks", run.task_name, "--agents", run.agent, "--seeds", str(run.seed), "--parallel", "1",
                 "--no-report", "--work", os.path.abspath(a.work), "--out", os.path.abspath(a.out)]
        if a.steps:
            flags += ["--steps", str(a.steps)]
        print(shlex.join([sys.executable, os.path.abspath(__file__), *flags]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    p.add_argument("--agents", nargs="+", choices=list(AGENTS), default=list(AGENTS))
    p.add_argument("--seeds", nargs="+", type=int, default=SEEDS, help="seeds to run (the report covers these "
                                                                         "and the default ones)")
    p.add_argument("--parallel", type=int, default=2, help="runs at a time, one thread each (default: 2)")
    p.add_argument("--work", default=os.path.join(ROOT, "cpu_suite_runs"), help="where the runs live")
    p.add_argument("--out", default=DEFAULT_OUT, help="where the results go (the default: the README's and "
                                                         "docs/results.md's tables are updated too)")
    p.add_argument("--report", action="store_true", help="only rebuild the results from the finished runs")
    p.add_argument("--print-commands", action="store_true",
                   help="print one command per unfinished run (for a job array, GNU parallel or a wandb grid) and "
                        "exit; each trains, evaluates and writes its record; --report collects them")
    p.add_argument("--no-report", action="store_true", help="run, but leave the results to a later --report")
    p.add_argument("--steps", type=int, help="every task's steps instead of its own (a quick check of the "
                                             "machinery; use another --work and --out)")
    a = p.parse_args()
    if a.parallel < 1:
        p.error("--parallel must be >= 1")
    if a.steps:
        for name, task in TASKS.items():
            TASKS[name] = dataclasses.replace(task, steps=a.steps)
    runs = [Run(a.work, a.out, t, agent, s) for s in a.seeds for t in a.tasks for agent in a.agents]
    if a.print_commands:
        print_commands(runs, a)
        return
    if not a.report:
        run_all(runs, a.parallel)
    if a.no_report:
        return
    seeds = sorted(set(a.seeds) | set(SEEDS))
    report([Run(a.work, a.out, t, agent, s) for s in seeds for t in TASKS for agent in AGENTS], a.out,
           pages=not a.steps and os.path.abspath(a.out) == os.path.abspath(DEFAULT_OUT))


if __name__ == "__main__":
    main()
