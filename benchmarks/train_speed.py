"""Training speed and memory: one iteration of each training script at its default config.

    python benchmarks/train_speed.py                    # MortarMayhem-Grid-v0, every script present
    python benchmarks/train_speed.py --iterations 2 --env-id MortarMayhem-v0
    python benchmarks/train_speed.py --memories              # every agent of the CPU suite at its settings
    python benchmarks/train_speed.py --memories --out benchmarks/results/cpu_suite/speed.json   # for the suite's table
    python benchmarks/train_speed.py --scripts ppo_trxl.py "ppo_trxl.py --reconstruction-coef 0.1"
    python benchmarks/train_speed.py --memories TrXL TrXL+rec    # the reconstruction loss's cost, suite settings
    python benchmarks/train_speed.py --thread-rule           # the default thread count, quiet and next to other work

Runs ``python <script> --env-id ID --total-timesteps <iterations x 16384>`` (defaults: 32 envs x
512 steps, 8 minibatches, 3 epochs) in a scratch directory, and reports steps/s (as the script
prints it), peak RSS of the process, and where the time goes (env stepping, the rest of the
rollout, the update). Anchors:

* measured in the same run, before each script and after the last (each script is compared with the mean of the
  two around it: this shared machine's speed drifts by 20-30% within minutes): the Nature CNN alone doing the same
  work (the rollout's forward passes, then 3 epochs of forward and backward over the batch in 512-sample chunks),
  the bound for any agent with this encoder on this machine;
* CleanRL's ppo_trxl.py, unmodified at its defaults, measured once by us on a 2-core CPU machine
  like the project's (one iteration on MortarMayhem-Grid-v0; how: docs/provenance.md): 42 steps/s
  and 7.3 GB peak RSS (not re-run here: its code is not part of this project).

"beyond the CNN" is an iteration's time minus the CNN bound's time for the same 16,384 steps: what
the memory model, the heads, the env and the bookkeeping cost. With both scripts present, the last
lines compare the GRU with the TrXL, in total and beyond the CNN (the paper's GRU update took 5.19 s
against 7.39 s for TrXL, 1.42x, on a GPU, where the encoder is cheap). A script given with flags (one argument,
quoted) runs with them; with the TrXL and the TrXL with ``--reconstruction-coef`` in one run, the last line gives the
reconstruction loss's cost as the ratio of their iteration times.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
REFERENCE_SPS, REFERENCE_RSS_GB = 42.0, 7.3


def cnn_bound(threads: int, num_envs=32, num_steps=512, epochs=3, chunk=512, features=384) -> float:
    """Steps/s of the Nature CNN (to ``features``) alone: rollout forwards (no grad) + epochs x forward/backward in
    minibatches of ``chunk`` samples."""
    import torch
    import torch.nn as nn

    torch.set_num_threads(threads)
    cnn = nn.Sequential(nn.Conv2d(3, 32, 8, stride=4), nn.ReLU(), nn.Conv2d(32, 64, 4, stride=2), nn.ReLU(),
                        nn.Conv2d(64, 64, 3, stride=1), nn.ReLU(), nn.Flatten(), nn.Linear(3136, features), nn.ReLU())
    opt = torch.optim.AdamW(cnn.parameters())
    obs = torch.randint(0, 255, (num_steps, num_envs, 84, 84, 3), dtype=torch.uint8)
    t0 = time.perf_counter()
    with torch.no_grad():
        for t in range(num_steps):
            cnn(obs[t].permute(0, 3, 1, 2).float().div_(255))  # (in place, as the trainers)
    flat = obs.view(-1, 84, 84, 3)
    for _ in range(epochs):
        for i in range(0, len(flat), chunk):
            opt.zero_grad()
            cnn(flat[i:i + chunk].permute(0, 3, 1, 2).float().div_(255)).sum().backward()
            opt.step()
    return num_envs * num_steps / (time.perf_counter() - t0)


def run_script(script: str, env_id: str, iterations: int, threads: int, steps: int = 16384) -> dict:
    """One run of ``script`` (flags may follow its name) for ``iterations`` iterations of ``steps``; ``threads`` 0: the
    script's own default."""
    path, *flags = shlex.split(script)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, os.path.join(ROOT, path), "--env-id", env_id, "--total-timesteps", str(steps * iterations),
               "--checkpoint-interval", "0", *(["--torch-threads", str(threads)] if threads else []), *flags]
        t0 = time.perf_counter()
        with open(os.path.join(tmp, "stderr"), "w+") as err:
            proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.PIPE, stderr=err, text=True,
                                    env=dict(os.environ, SDL_VIDEODRIVER="dummy"))
            stdout = proc.stdout.read()
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
            wall = time.perf_counter() - t0
            err.seek(0)
            if os.waitstatus_to_exitcode(status):
                raise SystemExit(f"{script} failed:\n{err.read()[-3000:]}")
    last = [line for line in stdout.splitlines() if line.startswith("iter ")][-1]
    num = lambda pattern: float(re.search(pattern, last).group(1))  # noqa: E731
    return dict(script=script, sps=num(r"SPS (\d+)"), rollout=num(r"rollout ([\d.]+)s"),
                env=num(r"env ([\d.]+)s"), update=num(r"update ([\d.]+)s"), wall=wall,
                rss_gb=usage.ru_maxrss / 1024 ** 2)


def run_memory(agent: str, iterations: int) -> dict:
    """One ``benchmarks/cpu_suite.py`` agent on its ``mortar`` task at the suite's settings (one thread, 16 envs x 128
    steps, 4 minibatches, 3 epochs, memory of 128) for ``iterations`` iterations: steps/s, the median rollout and
    update seconds per iteration, peak RSS."""
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    from cpu_suite import TASKS, command

    script, *flags = command(TASKS["mortar"], agent, 1)
    flags[flags.index("--total-timesteps") + 1] = str(2048 * iterations)
    flags[flags.index("--checkpoint-interval") + 1] = "0"
    with tempfile.TemporaryDirectory() as tmp, open(os.path.join(tmp, "stderr"), "w+") as err:
        proc = subprocess.Popen([sys.executable, os.path.join(ROOT, script), *flags], cwd=tmp, stdout=subprocess.PIPE,
                                stderr=err, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
        stdout = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
        err.seek(0)
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(f"{agent} failed:\n{err.read()[-3000:]}")
    lines = [line for line in stdout.splitlines() if line.startswith("iter ")]
    num = lambda pattern, line: float(re.search(pattern, line).group(1))  # noqa: E731
    median = lambda pattern: float(sorted(num(pattern, line) for line in lines)[len(lines) // 2])  # noqa: E731
    return dict(agent=agent, sps=num(r"SPS (\d+)", lines[-1]), rollout=median(r"rollout ([\d.]+)s"),
                update=median(r"update ([\d.]+)s"), rss_gb=usage.ru_maxrss / 1024 ** 2)


def memory_table(agents: list[str], iterations: int, out: str | None = None) -> None:
    """The memory zoo at the CPU suite's settings, every memory in this one run: the update's cost against the GRU's.
    ``out``: also write the numbers there as JSON (``benchmarks/cpu_suite.py --report`` puts each agent's steps/s
    and peak RSS into the suite's table from ``benchmarks/results/cpu_suite/speed.json``)."""
    suite_bound = lambda: cnn_bound(1, num_envs=16, num_steps=128, chunk=512, features=128)  # noqa: E731
    print("measuring the Nature CNN bound at the suite's settings ...", file=sys.stderr, flush=True)
    before = suite_bound()  # 4 minibatches of 512, features 128
    rows = []
    for agent in agents:
        print(f"running {agent} ...", file=sys.stderr, flush=True)
        rows.append(run_memory(agent, iterations))
    print("measuring the bound again (a shared machine's speed drifts) ...", file=sys.stderr, flush=True)
    after = suite_bound()
    bound = (before + after) / 2
    gru = next((r for r in rows if r["agent"] == "GRU"), rows[0])
    print(f"\nThe memories at the CPU suite's settings (benchmarks/cpu_suite.py's mortar task, MortarMayhem-Grid-v0 "
          f"reduced: 16 envs x 128 steps, 4 minibatches, 3 epochs, memory of 128, 1 thread), {iterations} "
          f"iterations each; median seconds per iteration; Nature CNN bound (to 128 features) in this run, before and "
          f"after the agents: {before:.0f} and {after:.0f} steps/s, their mean against a median iteration (2,048 steps "
          "in rollout + update)\n")
    print(f"| memory | steps/s | of the CNN bound | rollout | update | update vs {gru['agent']} | peak RSS |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['agent']} | {r['sps']:.0f} | {2048 / (r['rollout'] + r['update']) / bound:.0%} | {r['rollout']:.2f} s | {r['update']:.2f} s | "
              f"{r['update'] / gru['update']:.2f}x | {r['rss_gb']:.2f} GB |")
    by_agent = {r["agent"]: r for r in rows}
    if {"TrXL", "TrXL+rec"} <= by_agent.keys():
        print(reconstruction_cost(by_agent["TrXL"]["sps"], by_agent["TrXL+rec"]["sps"]))
    if out:
        write_speed(out, rows, iterations, (before, after))
        print(f"\nwritten to {out}")


def write_speed(path: str, rows: list[dict], iterations: int, bound: tuple[float, float]) -> None:
    """The memory table as JSON, atomically (``cpu_suite.write_json``: a reader sees the old file or the new one)."""
    from cpu_suite import write_json

    speed = {"date": time.strftime("%Y-%m-%d"), "iterations": iterations,
             "command": shlex.join(["python", "benchmarks/train_speed.py", *sys.argv[1:]]),
             "cnn_bound_steps_per_s": [round(b, 1) for b in bound],
             "memories": {r["agent"]: {"steps_per_s": r["sps"], "peak_rss_gb": round(r["rss_gb"], 3),
                                       "rollout_s": r["rollout"], "update_s": r["update"]} for r in rows}}
    write_json(speed, path)


def reconstruction_cost(trxl_sps: float, rec_sps: float) -> str:
    return f"\nTrXL+rec vs TrXL: {trxl_sps / rec_sps:.2f}x the iteration time (target: at most 1.6x)"


def thread_rule(env_id: str) -> None:
    """The scripts' default thread count (``free_cores``: the cores less the machine's load) against one thread and
    every core: ``ppo_gru.py`` for one iteration of 16 envs x 256 steps (2 minibatches, 3 epochs), first on the quiet
    machine (once the 1-minute load is below 0.5), then next to one single-threaded busy process per core (started
    90 s before the runs, so that the load average has seen them, as it has for any long-running work)."""
    from ppo_gru import free_cores

    cores = len(os.sched_getaffinity(0))
    script = "ppo_gru.py --num-envs 16 --num-steps 256 --num-minibatches 2"
    rows = []
    print("warming up (numba's kernels and the file cache: the first run would be slower) ...", file=sys.stderr)
    run_script(script, env_id, 1, 1, steps=4096)
    for situation, busy in (("quiet", 0), (f"{cores} busy processes", cores)):
        workers = [subprocess.Popen([sys.executable, "-c", "import torch\ntorch.set_num_threads(1)\n"
                                     "a = torch.randn(256, 256)\nwhile True:\n    a @ a"]) for _ in range(busy)]
        try:
            if busy:
                print(f"{busy} busy processes started; waiting 90 s for the load average ...", file=sys.stderr, flush=True)
                time.sleep(90)
            else:  # this benchmark's own earlier work counts in the load average too: wait until it has decayed
                for _ in range(36):
                    if os.getloadavg()[0] < 0.5:
                        break
                    time.sleep(5)
            default = free_cores()
            for threads in (0, 1, cores):  # the default first: the runs before it raise the load it reads
                print(f"{situation}: {threads or 'default'} thread(s) ...", file=sys.stderr, flush=True)
                r = run_script(script, env_id, 1, threads, steps=4096)
                rows.append((situation, f"default ({default})" if threads == 0 else str(threads), r["sps"]))
        finally:
            for w in workers:
                w.kill()
                w.wait()
    print(f"\n`{script}`, one iteration (4,096 steps) on {env_id}, {cores} cores\n")
    print("| machine | torch threads | steps/s | vs 1 thread | vs the best of the three |")
    print("|---|---|---:|---:|---:|")
    for situation in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == situation]
        one, best = next(r[2] for r in mine if r[1] == "1"), max(r[2] for r in mine)
        for _, threads, sps in mine:
            print(f"| {situation} | {threads} | {sps:.0f} | {sps / one:.2f}x | {sps / best:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env-id", default="MortarMayhem-Grid-v0")
    parser.add_argument("--iterations", type=int, default=1)
    parser.add_argument("--scripts", nargs="*", default=[s for s in ("ppo_trxl.py", "ppo_gru.py")
                                                           if os.path.exists(os.path.join(ROOT, s))])
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads for the CNN bound and the scripts (default: the scripts' default, the "
                             "free cores)")
    parser.add_argument("--thread-rule", action="store_true",
                        help="instead: the default thread count against 1 thread and every core, quiet and busy")
    parser.add_argument("--memories", nargs="*", metavar="AGENT",
                        help="instead: the memory zoo at the CPU suite's settings (benchmarks/cpu_suite.py's agents; "
                             "none named: every agent of the suite), one after another")
    parser.add_argument("--out", help="with --memories: also write the table as JSON to this file (the suite's "
                                      "report reads benchmarks/results/cpu_suite/speed.json)")
    args = parser.parse_args()
    if args.out and args.memories is None:
        parser.error("--out goes with --memories")
    if args.memories is not None:
        sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
        from cpu_suite import AGENTS

        unknown = [a for a in args.memories if a not in AGENTS]
        if unknown:
            parser.error(f"unknown agent(s) {', '.join(map(repr, unknown))}; the suite's agents: "
                         f"{', '.join(map(repr, AGENTS))}")
        memory_table(args.memories or list(AGENTS), max(args.iterations, 3), args.out)
        return
    if args.thread_rule:
        thread_rule(args.env_id)
        return
    from ppo_gru import free_cores

    threads = args.threads or free_cores()
    rows, bounds = [], []
    for script in args.scripts:  # the bound before each script and after the last (a shared machine's speed drifts)
        print("measuring the Nature CNN bound ...", file=sys.stderr, flush=True)
        bounds.append(cnn_bound(threads))
        print(f"running {script} ...", file=sys.stderr, flush=True)
        rows.append(run_script(script, args.env_id, args.iterations, threads))
    print("measuring the Nature CNN bound ...", file=sys.stderr, flush=True)
    bounds.append(cnn_bound(threads))
    print(f"\n{args.env_id}, default config (32 envs x 512 steps, 8 minibatches, 3 epochs), "
          f"{args.iterations} iteration(s), {threads} torch thread(s); Nature CNN bound measured before each script "
          f"and after the last: {', '.join(f'{b:.0f}' for b in bounds)} steps/s; each script against the mean of the "
          "two around it\n")
    print("| script | steps/s | vs reference TrXL (42) | of the CNN bound | peak RSS | vs reference (7.3 GB) "
          "| env | rest of rollout | update | beyond the CNN |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    batch = 16384
    for r, before, after in zip(rows, bounds, bounds[1:]):
        bound = (before + after) / 2
        r["beyond"] = batch / r["sps"] - batch / bound
        print(f"| `{r['script']}` | {r['sps']:.0f} | {r['sps'] / REFERENCE_SPS:.1f}x | {r['sps'] / bound:.0%} "
              f"| {r['rss_gb']:.2f} GB | {r['rss_gb'] / REFERENCE_RSS_GB:.2f}x | {r['env']:.1f} s "
              f"| {r['rollout'] - r['env']:.1f} s | {r['update']:.1f} s | {r['beyond']:.1f} s |")
    by_script = {r["script"]: r for r in rows}
    if {"ppo_trxl.py", "ppo_gru.py"} <= by_script.keys():
        trxl, gru = by_script["ppo_trxl.py"], by_script["ppo_gru.py"]
        print(f"\nGRU vs TrXL: {gru['sps'] / trxl['sps']:.2f}x the steps/s, update {trxl['update'] / gru['update']:.2f}x "
              f"faster, {trxl['beyond'] / gru['beyond']:.2f}x less time beyond the CNN (paper: 1.42x faster update)")
    rec = [r for r in rows if shlex.split(r["script"])[0].endswith("ppo_trxl.py") and "--reconstruction-coef" in r["script"]]
    plain = [r for r in rows if shlex.split(r["script"])[0].endswith("ppo_trxl.py") and "--reconstruction-coef" not in r["script"]]
    if rec and plain:
        print(reconstruction_cost(plain[0]["sps"], rec[0]["sps"]))


if __name__ == "__main__":
    main()
