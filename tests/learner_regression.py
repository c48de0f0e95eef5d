"""Short runs of both training scripts whose losses and episode statistics are pinned in
``tests/data/learner_regression.json`` (recorded before the learner was split into named steps;
``tests/test_learner.py`` checks that every later version reproduces them).

    python tests/learner_regression.py    # re-record: only when a change of the numbers is intended
"""
import json
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
PATH = os.path.join(ROOT, "tests", "data", "learner_regression.json")

CLOCK = ["--env-id", "clock_env:Clock-v0", "--num-envs", "4", "--num-steps", "32", "--num-minibatches", "2",
         "--total-timesteps", "256", "--seed", "3", "--gamma", "0.9", "--init-lr", "1e-3", "--update-epochs", "2"]
RUNS = {  # name: (script, flags): two iterations each; the Clock runs truncate and terminate episodes
    "trxl_pom": ("ppo_trxl.py", ["--config", "configs/ppo_trxl/ProofofMemory-v0.yaml", "--total-timesteps", "4096",
                                 "--seed", "7", "--trxl-num-layers", "2", "--trxl-dim", "16",
                                 "--trxl-memory-length", "4"]),
    "gru_pom": ("ppo_gru.py", ["--config", "configs/ppo_gru/ProofofMemory-v0.yaml", "--total-timesteps", "4096",
                               "--seed", "7", "--rnn-hidden-size", "16", "--hidden-layer-size", "16"]),
    "trxl_clock": ("ppo_trxl.py", CLOCK + ["--trxl-num-layers", "2", "--trxl-dim", "16", "--trxl-num-heads", "2",
                                           "--trxl-memory-length", "5", "--trxl-positional-encoding", "learned"]),
    "gru_clock": ("ppo_gru.py", CLOCK + ["--rnn-hidden-size", "16", "--hidden-layer-size", "16",
                                         "--sequence-length", "4"]),
    "lstm_clock": ("ppo_gru.py", CLOCK + ["--rnn-type", "lstm", "--rnn-hidden-size", "16",
                                          "--hidden-layer-size", "16", "--rnn-num-layers", "2"]),
    "gru_clock_no_memory": ("ppo_gru.py", CLOCK + ["--rnn-hidden-size", "16", "--hidden-layer-size", "16",
                                                   "--no-memory"]),
}
TIMINGS = ("charts/SPS", "charts/rollout_time", "charts/env_time", "charts/update_time")


def run(name: str, cwd: str) -> dict:
    """{tag: [(step, value), ...]} of every TensorBoard scalar of the run but its timings."""
    from test_training_scripts import only_run, run_script
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    script, flags = RUNS[name]
    flags = [os.path.join(ROOT, f) if f.startswith("configs/") else f for f in flags]
    r = run_script(script, flags + ["--checkpoint-interval", "0"], cwd)
    assert r.returncode == 0, r.stderr[-3000:]
    acc = EventAccumulator(only_run(cwd), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in sorted(acc.Tags()["scalars"])
            if tag not in TIMINGS}


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    recorded = {}
    for name in RUNS:
        with tempfile.TemporaryDirectory() as cwd:
            recorded[name] = run(name, cwd)
    os.makedirs(os.path.dirname(PATH), exist_ok=True)
    with open(PATH + ".tmp", "w") as f:
        json.dump(recorded, f, indent=0)
    os.replace(PATH + ".tmp", PATH)
    print(f"wrote {PATH}: {', '.join(f'{k} ({sum(len(v) for v in r.values())} values)' for k, r in recorded.items())}")
