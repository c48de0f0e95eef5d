"""Watch, record or evaluate an agent trained by ppo_trxl.py or ppo_gru.py.

    python enjoy.py runs/RUN/checkpoint.pt --eval --output eval.json   # the paper's protocol: 50 unseen seeds x 3
    python enjoy.py runs/RUN/ppo_gru.cleanrl_model --render human       # watch an episode in a window
    python enjoy.py runs/RUN/checkpoint.pt --video videos/RUN --episodes 3   # mp4s of the ground-truth view

The file is a checkpoint (``runs/RUN/checkpoint.pt``: model, args, ...) or a saved model
(``--save-model``: ``*.cleanrl_model``: model_weights, args) of either script; its args say which
script made it (``trxl_num_layers`` or ``rnn_type``), and that script's ``Agent`` is rebuilt from
them, with the training env's reset parameters (``env_kwargs``).

Evaluation (``--eval``): every one of ``--num-seeds`` seeds (``--start-seed``, +1, ...) is played
``--repeats`` times with greedy (argmax) actions, or sampled ones with ``--sample``. The episodes
run batched in ``--num-envs`` envs whose autoreset is disabled, so that each episode starts from
a ``reset(seed=s)`` and is a pure function of its seed and the actions. Results: mean, IQM
(the mean of the middle 50%) and bootstrap 95% intervals (the seeds are resampled, each with all
its repeats) of the return, the length and every 1-D key of the env's final-step info (success,
commands_completed, num_fails, tiles_visited, ...), printed and, with ``--output``, written as JSON
with every episode.

Unseen seeds: the training scripts reset env i with ``seed + 1000 * k + i`` (k: the iterations
before a resume; small numbers) and then draw every later episode from the envs' random streams,
so evaluation seeds from 100000 up never start a training episode. With greedy actions these
envs are deterministic, so the repeats of a seed play the same episode; ``--sample`` makes them
differ.

Memory is handled exactly as in the training scripts' rollouts: TrXL runs ppo_trxl.py's own
``EpisodicMemory`` (per env the last W-1 entries, other episodes' masked out), the GRU/LSTM runs
ppo_gru.py's own ``RecurrentMemory`` (its state reset to zeros at every episode start). Any env the
scripts train on can be evaluated (a user's ``module:EnvId`` too): the envs are made by the
script's own ``make_vector_env``.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
import tempfile
from dataclasses import fields

import gymnasium as gym
import numpy as np
import torch

import memory_gym_envs

SCRIPTS = {"trxl_num_layers": "ppo_trxl", "rnn_type": "ppo_gru"}  # an args key only that script has
RESAMPLES = 10_000  # bootstrap resamples for the 95% intervals
IGNORED_INFO = ("reward", "length")  # the env's own copies of the return and length


def fail(message: str) -> None:
    """Bad input: one clear line on stderr and a non-zero exit, no traceback."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


class Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints the usage too; one line is enough (see --help)
        fail(f"{message} (see --help)")


def parse_args(argv):
    p = Parser(description="Watch, record or evaluate a ppo_trxl.py / ppo_gru.py agent.")
    p.add_argument("model", help="runs/RUN/checkpoint.pt or a saved *.cleanrl_model")
    p.add_argument("--eval", action="store_true", help="the paper's protocol: --num-seeds x --repeats episodes")
    show = p.add_mutually_exclusive_group()
    show.add_argument("--render", choices=["human"], help="watch --episodes episodes in a window")
    show.add_argument("--video", metavar="DIR", help="record --episodes episodes (ground-truth view) as mp4 into DIR")
    p.add_argument("--episodes", type=int, default=1, help="episodes to watch or record (seeds --start-seed, +1, ...)")
    p.add_argument("--num-seeds", type=int, default=50, help="evaluation seeds (default 50)")
    p.add_argument("--repeats", type=int, default=3, help="episodes per evaluation seed (default 3)")
    p.add_argument("--start-seed", type=int, default=100_000,
                   help="first seed (default 100000: disjoint from the training scripts' seeds)")
    p.add_argument("--sample", action="store_true", help="sample actions from the policy (default: greedy, argmax)")
    p.add_argument("--output", metavar="FILE", help="write the evaluation as JSON")
    p.add_argument("--num-envs", type=int, default=64, help="envs run in parallel for --eval (default 64)")
    p.add_argument("--env-kwargs", default="",
                   help="JSON reset parameters over the training ones, e.g. '{\"max_steps\": 10000}' to cap "
                        "endless episodes")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--script", metavar="PATH",
                   help="the training script that made the model, e.g. your changed copy of ppo_gru.py (default: the "
                        "one the checkpoint names, in the working directory or beside enjoy.py)")
    a = p.parse_args(argv)
    if not (a.eval or a.render or a.video is not None):
        fail("nothing to do: give --eval, --render human or --video DIR")
    for name, most in LIMITS.items():
        if not 1 <= getattr(a, name) <= most:
            fail(f"--{name.replace('_', '-')} must be an int in [1, {most}], got {getattr(a, name)}")
    count = max(a.num_seeds if a.eval else 1, a.episodes if a.render or a.video else 1)  # seeds played from it
    if not 0 <= a.start_seed <= 2 ** 32 - count:  # the envs' seeds are 32-bit
        fail(f"--start-seed must be an int in [0, {2 ** 32 - count}] (its {count} seeds below 2**32), "
             f"got {a.start_seed}")
    if a.device is not None:
        try:
            device = torch.device(a.device)
        except RuntimeError:
            fail(f"--device must be a torch device (cpu, cuda, cuda:1, mps, ...), got {a.device!r}")
        if device.type == "cuda" and not torch.cuda.is_available():
            fail(f"--device {a.device}: CUDA is not available here (this torch: {torch.__version__}); use --device cpu")
    if a.output is not None:  # (an empty one too: nothing would be written)
        if not a.eval:
            fail("--output needs --eval (it is where the evaluation is written)")
        check_output(a.output, "--output")
    if a.video is not None:  # the folder, or the nearest one above it that exists (RecordVideo makes the rest)
        if not a.video:
            fail("--video needs a folder to write into, got ''")
        check_folder(os.path.abspath(a.video), "--video", a.video)
    return a


LIMITS = {"episodes": 10_000, "num_seeds": 1_000_000, "repeats": 1_000, "num_envs": 4_096}  # far beyond any use


# [shared: outputs]
# What enjoy.py and plot.py write follows one set of rules; both scripts stand alone, so the block is in both
# (tests/test_shared_blocks.py checks that the two are the same).
def check_output(path: str, flag: str) -> None:
    """Before any work: ``path`` names a file that can be written, and what is there, if anything, is a regular file.
    An output only ever replaces a regular file: a symbolic link, a device, a FIFO or a directory is refused (replacing
    it would destroy it, or write through the link somewhere else). Nothing is made here: a missing folder is made
    when the file is written."""
    if os.path.basename(path) in ("", ".", ".."):  # (a write would fail only after the work)
        fail(f"{flag} {path!r}: give the path of a file to write, not of a folder")
    if os.path.islink(path) or (os.path.lexists(path) and not os.path.isfile(path)):
        kind = ("a symbolic link" if os.path.islink(path) else "a directory" if os.path.isdir(path)
                else "not a regular file (a device, a FIFO, ...)")
        fail(f"{flag} {path!r} is {kind}; give the path of a regular file to write")
    folder = check_folder(os.path.dirname(os.path.abspath(path)), flag, path)
    try:
        most = os.pathconf(folder, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):  # (no pathconf on Windows): the common limit
        most = 255
    if any(len(os.fsencode(name)) > most for name in os.path.relpath(os.path.abspath(path), folder).split(os.sep)):
        fail(f"{flag} {path!r}: a name in it is longer than the {most} bytes a file name can have here")


def check_folder(folder: str, flag: str, path: str) -> str:
    """``folder``, or the nearest folder above it that exists (the rest is made when the output is written), can be
    written: that folder, or one line."""
    while not os.path.lexists(folder):
        folder = os.path.dirname(folder)
    try:  # a real try: permissions, a read-only file system, a file where a folder should be (root ignores modes)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as e:
        fail(f"{flag} {path!r}: cannot write in {folder!r} ({e.strerror})")
    return folder


def write_output(write, path: str, flag: str) -> None:
    """``write(tmp)`` into a new temporary file beside ``path``, then rename it over ``path``: a reader sees the old
    file or the new one, and a failed write (a full disk) is one line that leaves the old file as it was."""
    check_output(path, flag)  # again: the path may have changed during the work
    tmp = None
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp-")  # new: never a link
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # the mode a new file gets (mkstemp's is 0600)
        write(tmp)
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        fail(f"{flag} {path!r}: the write failed ({e.strerror or e}); "
             + ("the file there is unchanged" if os.path.exists(path) else "nothing was written"))
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


class GuardedStdout:
    """Standard output that fails (redirected to a full disk, a closed pipe) ends the program with one line on stderr,
    not a traceback; the files already written are complete."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except OSError as e:
            self.failed(e)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as e:
            self.failed(e)

    def failed(self, e: OSError) -> None:
        try:  # what is still buffered goes nowhere, so that the exit is quiet
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self.stream.fileno())
            os.close(null)
        except (OSError, ValueError):
            pass
        sys.stdout = self.stream
        fail(f"standard output failed ({e.strerror or e})")

    def __getattr__(self, name):
        return getattr(self.stream, name)
# [end shared: outputs]


def write_json(result: dict, path: str) -> None:
    """--output, checked before the evaluation (found out only after it, an hour of evaluation would be lost)."""
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(result, f, indent=1)
    write_output(write, path, "--output")


def import_script(path: str):
    """A training script (a copy of ppo_trxl.py or ppo_gru.py, under any name) as a module."""
    name = os.path.splitext(os.path.basename(path))[0]
    if name in sys.modules:
        if os.path.abspath(getattr(sys.modules[name], "__file__", None) or "") == os.path.abspath(path):
            return sys.modules[name]
        name = f"{name}_{abs(hash(os.path.abspath(path)))}"  # another file of that name: leave the first alone
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or not os.path.isfile(path):
        fail(f"--script {path!r}: no such Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # (its dataclasses look themselves up there)
    spec.loader.exec_module(module)
    return module


def beside(name: str) -> str | None:
    """The file ``name`` in the working directory or beside this file, if there."""
    for folder in (os.getcwd(), os.path.dirname(os.path.abspath(__file__))):
        if os.path.isfile(os.path.join(folder, name)):
            return os.path.join(folder, name)
    return None


def training_script(path: str) -> str:
    """The file of the script that made ``path``: the one the checkpoint names (or, for one that names none,
    ppo_trxl.py or ppo_gru.py as its args tell), in the working directory or beside enjoy.py."""
    try:  # only to read the names; weights_only: nothing in the file runs
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        saved = None  # the script's own loader says why, below
    made_by = None
    if isinstance(saved, dict) and isinstance(saved.get("script"), str):
        made_by = os.path.basename(saved["script"])
    elif isinstance(saved, dict) and isinstance(saved.get("args"), dict):
        made_by = next((s + ".py" for key, s in SCRIPTS.items() if key in saved["args"]), None)
    if made_by is not None:
        if beside(made_by) is None:
            fail(f"{path} was made by {made_by}, which is neither in the working directory nor beside enjoy.py; "
                 "give it with --script PATH")
        return beside(made_by)
    found = next((f for f in map(beside, ("ppo_trxl.py", "ppo_gru.py")) if f), None)
    if found is None:
        fail("enjoy.py needs the training script that made the model: ppo_trxl.py or ppo_gru.py in the working "
             "directory or beside enjoy.py, or --script PATH (a copy under another name)")
    return found


def load(path: str, script: str | None = None):
    """The training script's module, its Args as saved, the weights and the global step (if known). The script:
    ``script`` (a path), else ``training_script(path)``."""
    if not os.path.isfile(path):
        fail(f"no such checkpoint file {path!r}")
    module = import_script(script or training_script(path))
    saved = module.load_checkpoint(path, keys=("args",))  # both scripts read files alike: weights_only=True
    weights = saved.get("model", saved.get("model_weights"))
    if not isinstance(weights, dict) or not isinstance(saved["args"], dict):
        fail(f"{path}: expected a checkpoint.pt (keys model, args) or a *.cleanrl_model (keys model_weights, args)")
    broken = [k for k, v in weights.items() if torch.is_tensor(v) and v.is_floating_point() and not v.isfinite().all()]
    if broken:
        fail(f"{path}: the model has non-finite weights ({', '.join(broken[:3])}{', ...' if len(broken) > 3 else ''}); "
             "its actions would be meaningless")
    if not any(key in saved["args"] for key in SCRIPTS):
        fail(f"{path}: its args are from neither ppo_trxl.py nor ppo_gru.py (nor a copy of one)")
    names = {f.name for f in fields(module.Args)}
    other = [key for key in SCRIPTS if key in saved["args"] and key not in names]
    if other:
        fail(f"{path} was made by {SCRIPTS[other[0]]}.py (its args have {other[0]}), not by "
             f"{os.path.basename(module.__file__)}; give the script that made it with --script PATH")
    args = module.Args(**{k: v for k, v in saved["args"].items() if k in names})
    return module, args, weights, saved.get("global_step")


def reset_params(module, args, override: str) -> dict:
    """The training env's reset parameters (its --env-kwargs), updated with ours."""
    kwargs = module.env_kwargs(args)
    try:
        extra = json.loads(override) if override else {}
    except json.JSONDecodeError as e:
        fail(f"--env-kwargs is not valid JSON ({e}): {override!r}")
    if not isinstance(extra, dict):
        fail(f"--env-kwargs must be a JSON object of reset parameters, got {override!r}")
    return {**kwargs, **extra}


def make_eval_envs(module, env_id: str, num_envs: int, kwargs: dict):
    """Batched envs without autoreset (the script's own vectorisation, so any env it trains on):
    every episode starts from an explicit, seeded reset."""
    try:
        return module.make_vector_env(env_id, num_envs, gym.vector.AutoresetMode.DISABLED, **kwargs)
    except (ValueError, TypeError, OverflowError, gym.error.Error) as e:  # e.g. an out-of-range reset parameter
        fail(f"{env_id}: {' '.join(str(e).split())[:300]}")


def make_display_env(env_id: str, kwargs: dict, render: str | None, video: str | None, prefix: str):
    """One env in a window or recorded (every episode), as a vector env of 1 so one loop plays all."""
    def thunk():
        if render:
            return gym.make(env_id, render_mode="human", **kwargs)
        mode = "debug_rgb_array" if env_id in memory_gym_envs.ENVS else "rgb_array"  # the ground-truth view
        env = gym.make(env_id, render_mode=mode, **kwargs)
        return gym.wrappers.RecordVideo(env, video, episode_trigger=lambda _: True, name_prefix=prefix,
                                        disable_logger=True)
    try:
        return gym.vector.SyncVectorEnv([thunk], autoreset_mode=gym.vector.AutoresetMode.DISABLED)
    except (ValueError, TypeError, gym.error.Error) as e:
        fail(f"{env_id}: {' '.join(str(e).split())[:300]}")


def build(module, args, weights, envs, device):
    """The agent as trained and its memory for ``envs``."""
    gt_dim = weights["ground_truth_head.weight"].shape[0] if "ground_truth_head.weight" in weights else 0
    try:
        agent = module.Agent(args, envs.single_observation_space, envs.single_action_space, gt_dim).to(device)
        agent.load_state_dict(weights)
    except (ValueError, RuntimeError) as e:  # another env's spaces, or weights of another architecture
        fail(f"the model does not fit {args.env_id}: {' '.join(str(e).split())[:300]}")
    agent.eval()
    if hasattr(module, "EpisodicMemory"):  # ppo_trxl.py's rollout memory; when full, it carries its window
        return agent, module.EpisodicMemory(envs.num_envs, args.trxl_num_layers, args.trxl_dim, args.trxl_num_heads,
                                            args.trxl_memory_length, 256, device)
    return agent, module.RecurrentMemory(agent, envs.num_envs, 0, args.memory, device)  # storing no states


def choose(module, logits, greedy: bool) -> np.ndarray:
    """Env actions from the per-branch logits: argmax, or sampled as in training."""
    if greedy:
        action = torch.stack([lg.argmax(-1) for lg in logits], dim=-1)
    else:
        action, _ = module.sample_actions(logits)
    action = action.cpu().numpy()
    return action if action.shape[1] > 1 else action[:, 0]


def play(module, envs, agent, memory, jobs, greedy: bool, device, on_episode=None) -> list[dict]:
    """Play every job (seed, repeat) once, in parallel on ``envs`` (autoreset disabled): an env whose
    episode ends starts the next job at once with ``reset(seed=its seed)``; once the jobs run out,
    envs play unseeded filler episodes, which are not recorded. Returns a record per job."""
    n, queue = envs.num_envs, iter(jobs)
    current: list = [None] * n  # each env's job

    def assign(mask):
        seeds = [None] * n
        for i in np.flatnonzero(mask):
            current[i] = next(queue, None)
            seeds[i] = current[i][0] if current[i] else None
        return seeds

    everything = np.ones(n, bool)
    obs, _ = envs.reset(seed=assign(everything))
    memory.end_episodes(everything)
    returns, lengths, records = np.zeros(n), np.zeros(n, dtype=np.int64), []
    while any(job is not None for job in current):
        logits, _ = memory.step(agent, module.to_torch(obs, device))
        obs, reward, terminated, truncated, info = envs.step(choose(module, logits, greedy))
        returns += reward
        lengths += 1
        done = np.logical_or(terminated, truncated)
        for i in np.flatnonzero(done):
            if current[i] is None:
                continue
            record = {"seed": current[i][0], "repeat": current[i][1], "return": float(returns[i]),
                      "length": int(lengths[i])}
            record.update({k: float(v[i]) for k, v in info.items()  # the env's own episode statistics
                           if not k.startswith("_") and k not in IGNORED_INFO and np.ndim(v) == 1
                           and info.get(f"_{k}", everything)[i]})
            records.append(record)
            if on_episode:
                on_episode(record)
        if done.any():
            returns[done], lengths[done] = 0.0, 0
            seeds = assign(done)
            if any(job is not None for job in current):
                obs, _ = envs.reset(seed=seeds, options={"reset_mask": done})
                memory.end_episodes(done)
    return sorted(records, key=lambda r: (r["seed"], r["repeat"]))


def iqm(x: np.ndarray) -> np.ndarray:
    """Interquartile mean over the last axis: the mean of the middle 50% (as rliable's, scipy's
    trim_mean(x, 0.25): int(n / 4) values cut from each end)."""
    n = x.shape[-1]
    cut = n // 4
    return np.sort(x, axis=-1)[..., cut:n - cut].mean(axis=-1)


def summarize(values: np.ndarray, rng: np.random.Generator) -> dict:
    """values: (seeds, repeats). Mean, IQM and their bootstrap 95% percentile intervals; the
    bootstrap resamples seeds (with all their repeats), the unit that is actually independent."""
    seeds = values.shape[0]
    means, iqms = [], []
    for start in range(0, RESAMPLES, 1000):  # chunks bound the memory for many seeds
        count = min(1000, RESAMPLES - start)
        sample = values[rng.integers(0, seeds, (count, seeds))].reshape(count, -1)
        means.append(sample.mean(axis=1))
        iqms.append(iqm(sample))
    means, iqms = np.concatenate(means), np.concatenate(iqms)
    flat = values.ravel()
    return {"mean": float(flat.mean()), "mean_ci95": np.percentile(means, [2.5, 97.5]).tolist(),
            "iqm": float(iqm(flat)), "iqm_ci95": np.percentile(iqms, [2.5, 97.5]).tolist(),
            "std": float(flat.std()), "min": float(flat.min()), "max": float(flat.max())}


def evaluate(module, args, weights, global_step, a, device) -> dict:
    seeds = list(range(a.start_seed, a.start_seed + a.num_seeds))
    jobs = [(s, r) for r in range(a.repeats) for s in seeds]  # repeats last: a batch spans many seeds
    kwargs = reset_params(module, args, a.env_kwargs)
    envs = make_eval_envs(module, args.env_id, min(a.num_envs, len(jobs)), kwargs)
    agent, memory = build(module, args, weights, envs, device)
    records = play(module, envs, agent, memory, jobs, not a.sample, device)
    envs.close()
    keys = [k for k in records[0] if k not in ("seed", "repeat") and all(k in r for r in records)]
    by_seed = {(r["seed"], r["repeat"]): r for r in records}
    rng = np.random.default_rng(0)  # fixed: the same episodes give the same intervals
    summary = {k: summarize(np.array([[by_seed[s, r][k] for r in range(a.repeats)] for s in seeds]), rng)
               for k in keys}
    return {"model": a.model, "script": os.path.basename(module.__file__), "env_id": args.env_id, "env_kwargs": kwargs,
            "global_step": global_step, "actions": "sampled" if a.sample else "greedy", "num_seeds": a.num_seeds,
            "repeats": a.repeats, "start_seed": a.start_seed, "seeds": seeds, "summary": summary,
            "episodes": records}


def show(module, args, weights, a, device):
    """--render human / --video DIR: episodes one after another on seeds start_seed, +1, ..."""
    kwargs = reset_params(module, args, a.env_kwargs)
    prefix = f"{args.env_id}__{args.exp_name}"
    envs = make_display_env(args.env_id, kwargs, a.render, a.video, prefix)
    agent, memory = build(module, args, weights, envs, device)
    count = iter(range(a.episodes))

    def report(r):
        where = f" -> {a.video}/{prefix}-episode-{next(count)}.mp4" if a.video else ""
        stats = " ".join(f"{k} {v:.3g}" for k, v in r.items() if k not in ("seed", "repeat"))
        print(f"seed {r['seed']}: {stats}{where}", flush=True)

    play(module, envs, agent, memory, [(a.start_seed + k, 0) for k in range(a.episodes)], not a.sample, device, report)
    envs.close()  # RecordVideo writes the last video on close


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    device = torch.device(a.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    module, args, weights, global_step = load(a.model, a.script)
    if hasattr(module, "check_args"):  # (a copy may have dropped it)
        module.check_args(args)  # e.g. an env id that is no longer registered: one clear line
    torch.manual_seed(a.start_seed)  # --sample: reproducible for the same --num-envs
    if a.render or a.video:
        show(module, args, weights, a, device)
    if a.eval:
        result = evaluate(module, args, weights, global_step, a, device)
        step = "" if global_step is None else f" at step {global_step}"
        print(f"{args.env_id}, {result['script']}{step}: {a.num_seeds} seeds x {a.repeats} "
              f"({result['actions']} actions, seeds {a.start_seed}..{a.start_seed + a.num_seeds - 1})")
        for key, s in result["summary"].items():
            print(f"  {key:<20} mean {s['mean']:9.3f} [{s['mean_ci95'][0]:.3f}, {s['mean_ci95'][1]:.3f}]"
                  f"   IQM {s['iqm']:9.3f} [{s['iqm_ci95'][0]:.3f}, {s['iqm_ci95'][1]:.3f}]")
        if a.output:
            write_json(result, a.output)
            print(f"written to {a.output}")


if __name__ == "__main__":
    sys.stdout = GuardedStdout(sys.stdout)
    main()
