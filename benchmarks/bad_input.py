"""Bad input probe: feed the training scripts, enjoy.py and plot.py inputs a user (or an attacker)
might give, and count how each ends.

    python benchmarks/bad_input.py                    # all probes, both scripts, enjoy.py and plot.py
    python benchmarks/bad_input.py --only ppo_gru.py  # one script
    python benchmarks/bad_input.py --only outputs     # enjoy.py's and plot.py's outputs

Every probe runs the real script in a fresh directory (a subprocess, as a user would) on a tiny
``ProofofMemory-v0`` configuration. Outcomes:

* ``clear``: a non-zero exit with one ``error: ...`` line on stderr, no traceback, no run
  directory left behind;
* ``traceback``: a Python traceback (a user's mistake should never produce one);
* ``accepted``: exit 0 for a value that cannot make sense;
* ``left a run dir``: a clear error, but only after a run directory was created;
* ``payload ran``: a malicious checkpoint's code was executed;
* ``changed files``: an output probe (enjoy.py's and plot.py's ``--output``, ``--video``) ended,
  clearly or not, with something in its folder changed: a symbolic link, a FIFO, a directory or
  an older file replaced, a file or folder made.

The table (and ``--output`` JSON) counts them per group of probes.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = {"ppo_trxl.py": ["--trxl-num-layers", "1", "--trxl-dim", "16", "--trxl-num-heads", "1",
                        "--trxl-memory-length", "4"],
        "ppo_gru.py": ["--rnn-hidden-size", "16", "--hidden-layer-size", "16"]}
BASE = ["--env-id", "ProofofMemory-v0", "--num-envs", "4", "--num-steps", "16", "--num-minibatches", "2",
        "--total-timesteps", "64", "--checkpoint-interval", "1"]
DEEP = "[" * 50_000 + "]" * 50_000  # 100k characters: as deep as one argument can be

# (group, flags) for both training scripts; a value that cannot make sense or is out of range.
FLAGS = [
    ("sizes and counts", ["--update-epochs", "0"]), ("sizes and counts", ["--anneal-steps", "0"]),
    ("sizes and counts", ["--total-timesteps", "0"]), ("sizes and counts", ["--num-envs", "0"]),
    ("sizes and counts", ["--num-steps", "-5"]),
    ("sizes and counts", ["--checkpoint-interval", "-1"]), ("sizes and counts", ["--backward-chunk-size", "-1"]),
    ("coefficients", ["--init-lr", "nan"]), ("coefficients", ["--init-lr", "-1"]),
    ("coefficients", ["--final-lr", "inf"]), ("coefficients", ["--gamma", "2"]), ("coefficients", ["--gamma", "0"]),
    ("coefficients", ["--gae-lambda", "1.5"]), ("coefficients", ["--clip-coef", "nan"]),
    ("coefficients", ["--clip-coef", "0"]), ("coefficients", ["--max-grad-norm", "-1"]),
    ("coefficients", ["--vf-coef", "-1"]), ("coefficients", ["--init-ent-coef", "nan"]),
    ("coefficients", ["--target-kl", "-1"]), ("coefficients", ["--reconstruction-coef", "-1"]),
    ("seeds", ["--seed", "-1"]), ("seeds", ["--seed", str(2 ** 70)]),
    ("env", ["--env-id", "NoSuchEnv-v0"]), ("env", ["--env-id", "no_such_module:Env-v0"]),
    ("env", ["--env-kwargs", "{1: 2}"]), ("env", ["--env-kwargs", '{"num_envs": 3}']),
    ("env", ["--env-kwargs", DEEP]), ("env", ["--env-kwargs", "[1]"]), ("env", ["--env-kwargs", '{"nope": 1}']),
    ("env", ["--env-kwargs", '{"max_steps": 9223372036854775808}']),
    ("sizes and counts", ["--num-envs", str(10 ** 9)]), ("sizes and counts", ["--torch-threads", str(2 ** 40)]),
    ("sizes and counts", ["--num-steps", str(10 ** 9), "--total-timesteps", str(10 ** 11)]),
    ("names", ["--exp-name", "../../escaped"]), ("names", ["--exp-name", "a/b"]),
]
SCRIPT_FLAGS = {
    "ppo_trxl.py": [("sizes and counts", ["--trxl-num-heads", "0"]), ("sizes and counts", ["--trxl-dim", "0"]),
                    ("sizes and counts", ["--trxl-dim", "15"]), ("sizes and counts", ["--trxl-memory-length", "0"]),
                    ("sizes and counts", ["--trxl-num-layers", "0"]),
                    ("sizes and counts", ["--trxl-memory-length", str(10 ** 9)]), ("sizes and counts", ["--num-minibatches", "3"]),
                    ("coefficients", ["--trxl-positional-encoding", "rotary"])],
    "ppo_gru.py": [("sizes and counts", ["--rnn-hidden-size", "0"]), ("sizes and counts", ["--rnn-num-layers", "0"]),
                   ("sizes and counts", ["--sequence-length", "-1"]), ("coefficients", ["--rnn-type", "lstmx"])],
}


class Payload:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def genuine_run(tmp: str, script: str) -> str | None:
    """A tiny run of ``script`` that works: its run directory (a checkpoint and TensorBoard scalars), or None."""
    good = tempfile.mkdtemp(dir=tmp)
    r = subprocess.run([sys.executable, os.path.join(ROOT, script), *BASE, *TINY[script]], cwd=good,
                       capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    runs = os.path.join(good, "runs")
    return os.path.join(runs, os.listdir(runs)[0]) if r.returncode == 0 else None


def files(tmp: str, script: str) -> dict[str, str]:
    """Bad files: configs and checkpoints (a genuine checkpoint is made first, for the malicious one)."""
    import torch

    out = {}
    with open(os.path.join(tmp, "latin1.yaml"), "wb") as f:
        f.write("seed: 1 # \xe9\n".encode("latin-1"))
    out["config: not UTF-8"] = os.path.join(tmp, "latin1.yaml")
    for name, text in [("list.yaml", "- 1\n- 2\n"), ("unknown.yaml", "learning_rate: 1\n"),
                       ("type.yaml", "num_envs: many\n"), ("nan.yaml", "gamma: .nan\n")]:
        with open(os.path.join(tmp, name), "w") as f:
            f.write(text)
        out[f"config: {name}"] = os.path.join(tmp, name)
    run_dir = genuine_run(tmp, script)
    ckpt = os.path.join(run_dir, "checkpoint.pt") if run_dir else None
    try:  # the genuine checkpoint, to hide the payload in (an older version's format needs unpickling: skip)
        state = torch.load(ckpt, weights_only=True)
    except Exception:
        state = {"model": {}, "args": {}}
    for name, data in [("empty", b""), ("truncated", open(ckpt, "rb").read()[:2000] if ckpt else b"x"),
                       ("text", b"hello\n")]:
        with open(os.path.join(tmp, name + ".pt"), "wb") as f:
            f.write(data)
        out[f"checkpoint: {name}"] = os.path.join(tmp, name + ".pt")
    torch.save({"weights": state.get("model")}, os.path.join(tmp, "keyless.pt"))
    out["checkpoint: keyless"] = os.path.join(tmp, "keyless.pt")
    torch.save({**state, "extra": Payload(os.path.join(tmp, "PAYLOAD_RAN"))}, os.path.join(tmp, "malicious.pt"))
    out["checkpoint: malicious"] = os.path.join(tmp, "malicious.pt")
    return out


def classify(r, cwd: str, tmp: str) -> str:
    if os.path.exists(os.path.join(tmp, "PAYLOAD_RAN")):
        os.remove(os.path.join(tmp, "PAYLOAD_RAN"))
        return "payload ran"
    if "Traceback" in r.stderr:
        return "traceback"
    if r.returncode == 0:
        return "accepted"
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    if not (lines and lines[-1].startswith("error:")):
        return "traceback"  # some other failure without one clear line
    runs = os.path.join(cwd, "runs")
    return "left a run dir" if os.path.isdir(runs) and os.listdir(runs) else "clear"


def snapshot(folder: str) -> dict:
    """Everything under ``folder``: each path's kind, a link's target, a file's content."""
    found = {}
    for top, dirs, names in os.walk(folder):
        for name in dirs + names:
            path = os.path.join(top, name)
            found[os.path.relpath(path, folder)] = (
                ("link", os.readlink(path)) if os.path.islink(path) else ("dir",) if os.path.isdir(path) else
                ("file", open(path, "rb").read()) if os.path.isfile(path) else ("other",))
    return found


def run(script: str, args: list[str], tmp: str, label: str, prepare=None) -> tuple[str, str]:
    cwd = tempfile.mkdtemp(dir=tmp)
    if label == "runs/ is not writable":
        open(os.path.join(cwd, "runs"), "w").close()  # a file where the directory should go (root ignores modes)
    cap = prepare(cwd) if prepare else None
    before = snapshot(cwd)

    def limit():  # a full disk, as root too: writes past ``cap`` bytes fail (EFBIG; Python ignores SIGXFSZ)
        resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))
    r = subprocess.run([sys.executable, os.path.join(ROOT, script), *args], cwd=cwd, capture_output=True,
                       text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS="1", SDL_VIDEODRIVER="dummy"),
                       preexec_fn=limit if cap else None)
    outcome = classify(r, cwd, tmp)
    if prepare and snapshot(cwd) != before:
        outcome = "changed files"
    last = (r.stderr.strip().splitlines() or [""])[-1][:160]
    return outcome, last


def probes(script: str, tmp: str):
    """(group, label, script to run, argv) for one training script."""
    tiny = BASE + TINY[script]
    for group, flags in FLAGS + SCRIPT_FLAGS[script]:
        label = " ".join(a if len(a) < 40 else a[:12] + "..." for a in flags)
        yield group, label, script, tiny + flags
    f = files(tmp, script)
    for name in ("config: not UTF-8", "config: list.yaml", "config: unknown.yaml", "config: type.yaml",
                 "config: nan.yaml"):
        yield "files", name, script, tiny + ["--config", f[name]]
    for name in ("checkpoint: empty", "checkpoint: truncated", "checkpoint: text", "checkpoint: keyless",
                 "checkpoint: malicious"):
        yield "checkpoints", "--resume " + name, script, tiny + ["--resume", f[name]]
        if script == "ppo_trxl.py":  # enjoy.py reads the same files; once is enough
            yield "checkpoints", "enjoy.py " + name, "enjoy.py", [f[name], "--eval", "--num-seeds", "2"]
    yield "files", "runs/ is not writable", script, tiny


def output_probes(tmp: str):
    """(group, label, script, argv, prepare) for enjoy.py's and plot.py's outputs; prepare(cwd) puts into the probe's
    folder what the output must not replace, and returns a file-size cap for the probe (a full disk) or None."""
    import torch

    run_dir = genuine_run(tmp, "ppo_gru.py")
    subprocess.run([sys.executable, "-c", "import matplotlib.pyplot"])  # its font cache, made before any cap
    enjoy = [os.path.join(run_dir, "checkpoint.pt"), "--eval", "--num-seeds", "2", "--repeats", "1"]
    plot = ["--runs", f"A={run_dir}"]

    def link(cwd):
        open(os.path.join(cwd, "real"), "w").write("the link's target")
        for name in ("link.json", "link.png"):
            os.symlink("real", os.path.join(cwd, name))

    def fifo(cwd):
        os.mkfifo(os.path.join(cwd, "fifo.json"))
        os.mkfifo(os.path.join(cwd, "fifo.png"))

    def folder(cwd):
        os.mkdir(os.path.join(cwd, "dir.json"))
        os.mkdir(os.path.join(cwd, "dir.png"))

    def a_file(cwd):
        open(os.path.join(cwd, "file"), "w").write("a file where a folder should be")

    def full_disk(cap):  # an older output bigger than the new one may be: a write in place would cut it
        def prepare(cwd):
            open(os.path.join(cwd, "old.json" if cap < 1000 else "old.png"), "w").write("an older output\n" * 4000)
            return cap
        return prepare

    def nothing(cwd):
        return None

    long = "a" * 300  # longer than a file name can be
    for tool, base, ext, cap in (("enjoy.py", enjoy, "json", 100), ("plot.py", plot, "png", 20_000)):
        for label, output, prepare in [("a symbolic link", f"link.{ext}", link), ("a FIFO", f"fifo.{ext}", fifo),
                                       ("a directory", f"dir.{ext}", folder), ("a folder path", "out/", nothing),
                                       ("a 300-character name", f"{long}.{ext}", nothing),
                                       ("under a file", f"file/x.{ext}", a_file),
                                       ("a full disk (old file kept)", f"old.{ext}", full_disk(cap))]:
            yield "outputs", f"{tool} --output {label}", tool, base + ["--output", output], prepare
    yield "outputs", "enjoy.py --output ''", "enjoy.py", enjoy + ["--output", ""], nothing
    yield "outputs", "enjoy.py --video under a file", "enjoy.py", enjoy[:1] + ["--video", "file/v"], a_file
    for flags in (["--num-seeds", str(10 ** 9)], ["--start-seed", str(2 ** 70)], ["--device", "nope"],
                  ["--video", "v", "--episodes", "60", "--start-seed", str(2 ** 32 - 50)]) + \
            ((["--device", "cuda"],) if not torch.cuda.is_available() else ()):
        yield "outputs", "enjoy.py " + " ".join(flags), "enjoy.py", enjoy + flags, nothing
    for flags in (["--output", "x.bmpx"], ["--bins", str(10 ** 10)]):
        yield "outputs", "plot.py " + " ".join(flags), "plot.py", plot + flags, nothing
    yield "outputs", "plot.py --runs A=,,", "plot.py", ["--runs", "A=,,"], nothing


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", choices=[*TINY, "outputs"], help="probe one training script, or the outputs")
    p.add_argument("--output", help="write every probe's outcome as JSON")
    a = p.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        scripts = [a.only] if a.only in TINY else [] if a.only else list(TINY)
        every = itertools.chain(*(((*probe, None) for probe in probes(script, tmp)) for script in scripts),
                                output_probes(tmp) if a.only in (None, "outputs") else ())
        for group, label, target, argv, prepare in every:  # (lazily: a probe's files are made when it runs)
            outcome, last = run(target, argv, tmp, label, prepare)
            results.append({"script": target, "group": group, "probe": label, "outcome": outcome, "stderr": last})
            print(f"{target:12} {group:16} {label:45.45} {outcome:15} {last}", flush=True)
    groups = sorted({r["group"] for r in results})
    outcomes = ["clear", "traceback", "accepted", "left a run dir", "payload ran", "changed files"]
    print("\n| probes | attempts | " + " | ".join(outcomes) + " |\n|---|---:|" + "---:|" * len(outcomes))
    for g in groups + ["all"]:
        rows = [r for r in results if g in ("all", r["group"])]
        cells = [str(sum(1 for r in rows if r["outcome"] == o)) for o in outcomes]
        print(f"| {g} | {len(rows)} | " + " | ".join(cells) + " |")
    if a.output:
        with open(a.output + ".tmp", "w") as f:
            json.dump(results, f, indent=1)
        os.replace(a.output + ".tmp", a.output)


if __name__ == "__main__":
    main()
