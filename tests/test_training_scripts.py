"""Both training scripts end to end: learning with and without memory, a 5,000-step episode,
checkpoint/resume after SIGTERM, wandb offline + video + saved model, flags and bad input."""
import importlib
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# The small ProofofMemory configs (the TrXL command of CleanRL's PPO-TrXL docs; a GRU of 64).
COMMON = ["--env-id", "ProofofMemory-v0", "--num-envs", "16", "--num-steps", "128", "--num-minibatches", "8",
          "--update-epochs", "4", "--vf-coef", "0.1", "--max-grad-norm", "0.5", "--init-lr", "3e-4",
          "--init-ent-coef", "1e-3", "--clip-coef", "0.2"]
SCRIPTS = {
    "ppo_trxl.py": dict(pom=COMMON + ["--trxl-num-layers", "4", "--trxl-num-heads", "1", "--trxl-dim", "64",
                                      "--trxl-positional-encoding", "none"],
                        memory=["--trxl-memory-length", "16"], no_memory=["--trxl-memory-length", "1"],
                        small=["--trxl-num-layers", "1", "--trxl-dim", "16", "--trxl-num-heads", "1",
                               "--trxl-memory-length", "64", "--trxl-positional-encoding", "learned"],
                        model="ppo_trxl.cleanrl_model"),
    "ppo_gru.py": dict(pom=COMMON + ["--rnn-hidden-size", "64", "--hidden-layer-size", "64"],
                       memory=[], no_memory=["--no-memory"],  # the state is reset before every step
                       small=["--rnn-hidden-size", "16", "--hidden-layer-size", "16"],
                       model="ppo_gru.cleanrl_model"),
}


def run_script(script, args, cwd, env=None, timeout=600):
    full_env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "tests"), **(env or {})}
    return subprocess.run([sys.executable, os.path.join(ROOT, script), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=full_env)


def scalars(run_dir, tag):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(run_dir, size_guidance={"scalars": 0})
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def only_run(cwd):
    runs = os.listdir(os.path.join(cwd, "runs"))
    assert len(runs) == 1, runs
    return os.path.join(cwd, "runs", runs[0])


def mean_final_return(run_dir, episodes=500):
    """Mean of the last episodes (500 at ~7 steps: the last ~2 iterations; a standard error of ~0.07)."""
    returns = [v for _, v in scalars(run_dir, "charts/episodic_return")]
    return float(np.mean(returns[-episodes:]))


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_learns_proof_of_memory_and_fails_without_memory(script, tmp_path):
    # The best memory-less policy averages 0.28 on ProofofMemory-v0; a memory agent about 1.2.
    cfg = SCRIPTS[script]
    memory, no_memory = tmp_path / "memory", tmp_path / "no_memory"
    memory.mkdir(), no_memory.mkdir()
    common = cfg["pom"] + ["--total-timesteps", "25000", "--seed", "1", "--checkpoint-interval", "0"]
    a = run_script(script, common + cfg["memory"], memory)
    b = run_script(script, common + cfg["no_memory"], no_memory)
    assert a.returncode == 0 and b.returncode == 0, a.stderr[-2000:] + b.stderr[-2000:]
    with_memory, without = mean_final_return(only_run(memory)), mean_final_return(only_run(no_memory))
    assert with_memory >= 1.1, with_memory
    assert without < 0.5, without


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_a_5000_step_episode_runs(script, tmp_path):
    r = run_script(script, ["--env-id", "long_episode_env:LongEpisode-v0", "--num-envs", "1", "--num-steps", "1024",
                            "--num-minibatches", "1", "--update-epochs", "1", "--total-timesteps", "5120"]
                   + SCRIPTS[script]["small"], tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert [v for _, v in scalars(only_run(tmp_path), "charts/episodic_length")] == [5000.0]


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_sigterm_checkpoint_and_resume_continue_one_log(script, tmp_path):
    args = SCRIPTS[script]["pom"] + ["--total-timesteps", str(2048 * 12), "--checkpoint-interval", "100"]
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, script), *args], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = proc.stdout.readline()  # before the first rollout: where the run writes
    assert first.startswith("starting runs/ProofofMemory-v0__") and "12 iterations of 2048 steps" in first, first
    for line in proc.stdout:
        if line.startswith("iter 3/"):
            proc.send_signal(signal.SIGTERM)
            break
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode == 128 + signal.SIGTERM, out
    run_dir = only_run(tmp_path)
    checkpoint = torch.load(os.path.join(run_dir, "checkpoint.pt"), weights_only=True)
    assert checkpoint["iteration"] >= 3 and checkpoint["global_step"] == 2048 * checkpoint["iteration"]
    # The checkpoint alone, as the script prints it: the run goes on with its saved settings.
    assert f"continue with: python {script} --resume {run_dir[len(str(tmp_path)) + 1:]}/checkpoint.pt" in out
    resumed = run_script(script, ["--resume", os.path.join(run_dir, "checkpoint.pt")], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"iter {checkpoint['iteration'] + 1}/12" in resumed.stdout and "iter 12/12 step 24576" in resumed.stdout
    steps = [s for s, _ in scalars(run_dir, "charts/SPS")]
    assert steps == [2048 * i for i in range(1, 13)]  # one continuous log, no gap, no duplicate
    assert len(os.listdir(os.path.join(tmp_path, "runs"))) == 1


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_track_offline_and_capture_video_and_save_model(script, tmp_path):
    r = run_script(script, SCRIPTS[script]["pom"] + ["--total-timesteps", "2048", "--track", "--capture-video",
                                                     "--save-model"], tmp_path,
                   env={"WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path), "WANDB_SILENT": "true"})
    assert r.returncode == 0, r.stderr[-3000:]
    assert [d for d in os.listdir(tmp_path / "wandb") if d.startswith("offline-run-")]
    run_name = os.path.basename(only_run(tmp_path))
    assert any(v.endswith(".mp4") for v in os.listdir(tmp_path / "videos" / run_name))
    saved = torch.load(tmp_path / "runs" / run_name / SCRIPTS[script]["model"], weights_only=True)
    assert saved["args"]["env_id"] == "ProofofMemory-v0" and "model_weights" in saved


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("argv, expected", [
    (["--track"], True), (["--no-track"], False), (["--track=True"], True), (["--track=False"], False),
    (["--track", "False"], False), (["--track=true"], True),
])
def test_boolean_flags_both_ways(script, argv, expected):
    module = importlib.import_module(script[:-3])
    assert module.parse_args(argv).track is expected


@pytest.mark.parametrize("script", SCRIPTS)
def test_flags_with_underscores_and_sweep_style(script):
    module = importlib.import_module(script[:-3])
    args = module.parse_args(["--norm_adv=True", "--init_lr=0.001", "--clip-vloss", "False", "--save_model=false"])
    assert args.norm_adv and args.init_lr == 0.001 and not args.clip_vloss and not args.save_model


@pytest.mark.parametrize("script", SCRIPTS)
def test_resume_from_another_env_is_refused(script, tiny_runs, tmp_path):
    checkpoint = os.path.join(tiny_runs[script[:-3]], "checkpoint.pt")
    r = run_script(script, ["--env-id", "MortarMayhem-Grid-v0", "--resume", checkpoint], tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1
    assert "--env-id 'MortarMayhem-Grid-v0' differs from the run's 'ProofofMemory-v0'" in r.stderr
