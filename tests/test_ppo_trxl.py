"""ppo_trxl.py: the efficient loss equals the straightforward one, learning, long episodes,
checkpoint/resume, outputs, flags and bad input."""
import math
import os
import signal
import subprocess
import sys
import time

import gymnasium as gym
import numpy as np
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import ppo_trxl  # noqa: E402

SCRIPT = os.path.join(ROOT, "ppo_trxl.py")
# CleanRL's documented ProofofMemory command (AGENTS.md 1.4)
POM = ["--env-id", "ProofofMemory-v0", "--num-envs", "16", "--num-steps", "128", "--num-minibatches", "8",
       "--update-epochs", "4", "--trxl-num-layers", "4", "--trxl-num-heads", "1", "--trxl-dim", "64",
       "--trxl-positional-encoding", "none", "--vf-coef", "0.1", "--max-grad-norm", "0.5", "--init-lr", "3e-4",
       "--init-ent-coef", "1e-3", "--clip-coef", "0.2"]


def run_script(args, cwd, env=None, timeout=600):
    full_env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "tests"), **(env or {}))
    return subprocess.run([sys.executable, SCRIPT, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def scalars(run_dir, tag):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(run_dir, size_guidance={"scalars": 0})
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def only_run(cwd):
    runs = os.listdir(os.path.join(cwd, "runs"))
    assert len(runs) == 1, runs
    return os.path.join(cwd, "runs", runs[0])


# --- the efficient loss equals the straightforward per-sample window computation ------------------

def make_batch(E=3, T=14, W=5, L=2, D=16, seed=0, gt_dim=2):
    """Random rollouts of E envs: episodes of random lengths, memory entries with their episode ids
    and steps laid out like the script's buffers (W-1 carried entries, then T new ones)."""
    g = torch.Generator().manual_seed(seed)
    C, P = W - 1, W - 1 + T
    entry_episode = torch.zeros(E, P, dtype=torch.long)
    entry_step = torch.zeros(E, P, dtype=torch.long)
    for e in range(E):
        episode, step = 100 * e, 3  # the carried entries belong to an episode already 3 steps old
        for p in range(P):
            entry_episode[e, p], entry_step[e, p] = episode, step
            step += 1
            if torch.rand(1, generator=g).item() < 0.2:  # episode ends after this step
                episode, step = episode + 1, 0
    batch = {
        "obs": torch.randn(E, T, 3, generator=g),
        "memory": torch.randn(E, P, L, D, generator=g),
        "memory_steps": entry_step, "query_steps": entry_step[:, C:],
        "actions": torch.randint(0, 3, (E, T, 2), generator=g),
        "logprobs": -torch.rand(E, T, 2, generator=g) - 0.5,
        "advantages": torch.randn(E, T, generator=g), "returns": torch.randn(E, T, generator=g),
        "values": torch.randn(E, T, generator=g), "ground_truth": torch.rand(E, T, gt_dim, generator=g),
    }
    query_pos = torch.arange(C, P).expand(E, T)
    batch["mask"] = ppo_trxl.attention_mask(query_pos, entry_episode[:, C:], entry_episode, W)
    return batch, entry_episode


def naive_forward(agent, batch, entry_episode, W):
    """Per sample: gather its window (the W-1 previous entries of its episode), project them, attend."""
    E, T = batch["obs"].shape[:2]
    C = W - 1
    hidden = torch.zeros(E, T, agent.dim)
    rows = []
    for e in range(E):
        for t in range(T):
            q = C + t
            window = [p for p in range(q - C, q) if entry_episode[e, p] == entry_episode[e, q]]
            x = agent.encode(batch["obs"][e, t][None])[0]
            for i, layer in enumerate(agent.layers):
                qin = x
                if agent.query_pe and agent.pe_kind != "none":
                    qin = x + agent.positional_encoding(batch["query_steps"][e, t])
                query = layer.q(layer.norm_q(qin))
                attn = torch.zeros_like(x)
                if window:
                    mem = batch["memory"][e, window, i]
                    pe = agent.positional_encoding(batch["memory_steps"][e, window])
                    k, v = layer.keys_values(mem if pe is None else mem + pe)
                    h = layer.num_heads
                    hd = agent.dim // h
                    heads = []
                    for j in range(h):
                        sl = slice(j * hd, (j + 1) * hd)
                        weights = torch.softmax(k[:, sl] @ query[sl] / math.sqrt(hd), dim=0)
                        heads.append(weights @ v[:, sl])
                    attn = torch.cat(heads)
                attn = layer.out(attn)
                x = layer.gate_attn(x, attn) if layer.gate_attn else x + attn
                y = torch.relu(layer.fc(layer.norm_attn(x)))
                x = layer.gate_fc(x, y) if layer.gate_fc else x + y
            rows.append(x)
    hidden = torch.stack(rows).view(E, T, -1)
    return agent.heads(hidden)


def naive_loss(agent, args, batch, entry_episode, W, ent_coef):
    hidden, logits, value = naive_forward(agent, batch, entry_episode, W)
    newlogprob, entropy = ppo_trxl.evaluate_actions(logits, batch["actions"])
    ratio = (newlogprob - batch["logprobs"]).exp()
    adv = batch["advantages"]
    if args.norm_adv:
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    adv = adv[..., None]
    pg = torch.max(-adv * ratio, -adv * ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)).mean()
    vc = batch["values"] + (value - batch["values"]).clamp(-args.clip_coef, args.clip_coef)
    v = torch.max((value - batch["returns"]) ** 2, (vc - batch["returns"]) ** 2).mean()
    loss = pg - ent_coef * entropy.mean() + args.vf_coef * v
    if args.ground_truth_coef:
        loss = loss + args.ground_truth_coef * ((agent.ground_truth_head(hidden) - batch["ground_truth"]) ** 2).mean()
    return loss


@pytest.mark.parametrize("options", [
    dict(),
    dict(trxl_positional_encoding="learned", trxl_gating=True, trxl_query_pe=True, norm_adv=True),
    dict(trxl_positional_encoding="none", ground_truth_coef=0.5),
    dict(trxl_memory_length=1),
])
def test_efficient_loss_and_gradients_equal_the_window_computation(options):
    W = options.get("trxl_memory_length", 5)
    args = ppo_trxl.Args(trxl_num_layers=2, trxl_num_heads=2, trxl_dim=16, trxl_memory_length=W,
                         **{k: v for k, v in options.items() if k != "trxl_memory_length"})
    torch.manual_seed(0)
    agent = ppo_trxl.Agent(args, gym.spaces.Box(-1, 1, (3,)), gym.spaces.MultiDiscrete([3, 3]), 2).double()
    batch, entry_episode = make_batch(W=W)
    batch = {k: (v.double() if v.is_floating_point() else v) for k, v in batch.items()}
    assert batch["mask"].any() or W == 1
    loss, _ = ppo_trxl.ppo_loss(agent, args, batch, 1e-3)
    grads = torch.autograd.grad(loss, list(agent.parameters()), allow_unused=True)
    ref = naive_loss(agent, args, batch, entry_episode, W, 1e-3)
    ref_grads = torch.autograd.grad(ref, list(agent.parameters()), allow_unused=True)
    assert abs(loss.item() - ref.item()) < 1e-5
    for (name, _), g, r in zip(agent.named_parameters(), grads, ref_grads):
        if r is None:
            assert g is None or g.abs().max() < 1e-12, name
        else:
            assert torch.allclose(g, r, atol=1e-5, rtol=1e-5), name


def test_chunked_backward_equals_the_whole_minibatch():
    args = ppo_trxl.Args(trxl_num_layers=2, trxl_num_heads=2, trxl_dim=16, trxl_memory_length=5, norm_adv=True)
    torch.manual_seed(0)
    agent = ppo_trxl.Agent(args, gym.spaces.Box(-1, 1, (3,)), gym.spaces.Discrete(3), 0).double()
    batch, _ = make_batch(W=5)
    batch = {k: (v.double() if v.is_floating_point() else v) for k, v in batch.items()}
    batch["actions"], batch["logprobs"] = batch["actions"][..., :1], batch["logprobs"][..., :1]
    agent.zero_grad()
    ppo_trxl.ppo_loss(agent, args, batch, 1e-3)[0].backward()
    whole = [p.grad.clone() for p in agent.parameters()]
    agent.zero_grad()
    adv = batch["advantages"]
    for chunk in torch.arange(3).split(1):
        part = {k: v[chunk] for k, v in batch.items()}
        loss, _ = ppo_trxl.ppo_loss(agent, args, part, 1e-3, adv.mean(), adv.std())
        (loss * len(chunk) / 3).backward()
    for w, p in zip(whole, agent.parameters()):
        assert torch.allclose(w, p.grad, atol=1e-10)


def test_rollout_step_matches_the_update_forward():
    """The rollout's per-step forward (cached keys/values of the window) gives the same outputs as
    the update's banded forward: PPO's first ratio is exactly 1."""
    W, E, T = 4, 2, 10
    args = ppo_trxl.Args(trxl_num_layers=2, trxl_num_heads=2, trxl_dim=16, trxl_memory_length=W, trxl_query_pe=True)
    torch.manual_seed(1)
    agent = ppo_trxl.Agent(args, gym.spaces.Box(-1, 1, (3,)), gym.spaces.Discrete(2), 0).double()
    C, P = W - 1, W - 1 + T
    memory = torch.zeros(E, P, 2, 16, dtype=torch.double)
    entry_episode = torch.full((E, P), -1)
    entry_step = torch.zeros(E, P, dtype=torch.long)
    obs = torch.randn(E, T, 3, dtype=torch.double)
    episode_id, episode_step = torch.arange(E), torch.zeros(E, dtype=torch.long)
    step_values = []
    with torch.no_grad():
        for t in range(T):
            pos = C + t
            entry_step[:, pos], entry_episode[:, pos] = episode_step, episode_id
            window = slice(pos - C, pos)
            kv = [agent.keys_values(i, memory[:, window, i], entry_step[:, window]) for i in range(2)]
            keys = torch.stack([k for k, _ in kv], dim=1)  # (E, layers, K, D)
            vals = torch.stack([v for _, v in kv], dim=1)
            mask = entry_episode[:, window] == episode_id[:, None]
            _, value, inputs = agent.step(obs[:, t], keys, vals, mask, episode_step)
            memory[:, pos] = inputs
            step_values.append(value)
            done = torch.tensor([t == 5, t == 2])
            episode_step = torch.where(done, 0, episode_step + 1)
            episode_id = torch.where(done, episode_id + E, episode_id)
        mask = ppo_trxl.attention_mask(torch.arange(C, P).expand(E, T), entry_episode[:, C:], entry_episode, W)
        _, _, values = agent.forward_rollouts(obs, memory, entry_step, mask, entry_step[:, C:])
    assert torch.allclose(values, torch.stack(step_values, dim=1), atol=1e-10)


# --- learning -------------------------------------------------------------------------------------

def mean_final_return(run_dir, episodes=500):
    returns = [v for _, v in scalars(run_dir, "charts/episodic_return")]
    return float(np.mean(returns[-episodes:]))


def test_learns_proof_of_memory_and_fails_without_memory(tmp_path):
    memory, no_memory = tmp_path / "memory", tmp_path / "no_memory"
    memory.mkdir(), no_memory.mkdir()
    common = POM + ["--total-timesteps", "25000", "--seed", "1", "--checkpoint-interval", "0"]
    a = run_script(common + ["--trxl-memory-length", "16"], memory)
    b = run_script(common + ["--trxl-memory-length", "1"], no_memory)  # the window hides the cue
    assert a.returncode == 0 and b.returncode == 0, a.stderr[-2000:] + b.stderr[-2000:]
    with_memory, without = mean_final_return(only_run(memory)), mean_final_return(only_run(no_memory))
    assert with_memory >= 1.1, with_memory
    assert without < 0.5, without


# --- long episodes, checkpoints, outputs ----------------------------------------------------------

def test_a_5000_step_episode_runs(tmp_path):
    r = run_script(["--env-id", "long_episode_env:LongEpisode-v0", "--num-envs", "1", "--num-steps", "1024",
                    "--num-minibatches", "1", "--update-epochs", "1", "--trxl-num-layers", "1", "--trxl-dim", "16",
                    "--trxl-num-heads", "1", "--trxl-memory-length", "64", "--total-timesteps", "5120",
                    "--trxl-positional-encoding", "learned"], tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    lengths = [v for _, v in scalars(only_run(tmp_path), "charts/episodic_length")]
    assert lengths == [5000.0]


def test_sigterm_checkpoint_and_resume_continue_one_log(tmp_path):
    args = POM + ["--total-timesteps", str(2048 * 12), "--checkpoint-interval", "100"]
    proc = subprocess.Popen([sys.executable, SCRIPT, *args], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        if line.startswith("iter 3/"):
            proc.send_signal(signal.SIGTERM)
            break
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode == 128 + signal.SIGTERM, out
    run_dir = only_run(tmp_path)
    checkpoint = torch.load(os.path.join(run_dir, "checkpoint.pt"), weights_only=False)
    assert checkpoint["iteration"] >= 3 and checkpoint["global_step"] == 2048 * checkpoint["iteration"]
    resumed = run_script(args + ["--resume", os.path.join(run_dir, "checkpoint.pt")], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"iter {checkpoint['iteration'] + 1}/12" in resumed.stdout and "iter 12/12 step 24576" in resumed.stdout
    steps = [s for s, _ in scalars(run_dir, "charts/SPS")]
    assert steps == [2048 * i for i in range(1, 13)]  # one continuous log, no gap, no duplicate
    assert len(os.listdir(os.path.join(tmp_path, "runs"))) == 1


def test_track_offline_and_capture_video_and_save_model(tmp_path):
    r = run_script(POM + ["--total-timesteps", "2048", "--track", "--capture-video", "--save-model"], tmp_path,
                   env={"WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path), "WANDB_SILENT": "true"})
    assert r.returncode == 0, r.stderr[-3000:]
    wandb_runs = [d for d in os.listdir(tmp_path / "wandb") if d.startswith("offline-run-")]
    assert wandb_runs
    run_name = os.path.basename(only_run(tmp_path))
    videos = os.listdir(tmp_path / "videos" / run_name)
    assert any(v.endswith(".mp4") for v in videos)
    saved = torch.load(tmp_path / "runs" / run_name / "ppo_trxl.cleanrl_model", weights_only=False)
    assert saved["args"]["env_id"] == "ProofofMemory-v0" and "model_weights" in saved


# --- flags and bad input --------------------------------------------------------------------------

@pytest.mark.parametrize("argv, expected", [
    (["--track"], True), (["--no-track"], False), (["--track=True"], True), (["--track=False"], False),
    (["--track", "False"], False), (["--track=true"], True),
])
def test_boolean_flags_both_ways(argv, expected):
    assert ppo_trxl.parse_args(argv).track is expected


def test_flags_with_underscores_and_sweep_style():
    args = ppo_trxl.parse_args(["--norm_adv=True", "--init_lr=0.001", "--trxl-gating=False", "--clip-vloss", "False"])
    assert args.norm_adv and args.init_lr == 0.001 and not args.trxl_gating and not args.clip_vloss


@pytest.mark.parametrize("argv, message", [
    (["--env-id", "MortarMayhem-v9"], "unknown env id 'MortarMayhem-v9'; Memory Gym ids: MortarMayhem-v0"),
    (["--num-envs", "6", "--num-minibatches", "4"], "must be divisible by --num-minibatches"),
    (["--trxl-memory-length", "0"], "--trxl-memory-length must be >= 1, got 0"),
    (["--trxl-positional-encoding", "rotary"], "must be absolute, learned or none"),
    (["--track=maybe"], "--track takes True or False"),
    (["--resume", "nowhere.pt"], "no checkpoint file"),
])
def test_bad_input_is_one_clear_line(tmp_path, argv, message):
    r = run_script(argv, tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and message in r.stderr, r.stderr


def test_resume_from_another_env_is_refused(tmp_path):
    r = run_script(POM + ["--total-timesteps", "2048"], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    checkpoint = os.path.join(only_run(tmp_path), "checkpoint.pt")
    r = run_script(["--env-id", "MortarMayhem-Grid-v0", "--resume", checkpoint], tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "another env or architecture: env_id='ProofofMemory-v0' (now 'MortarMayhem-Grid-v0')" in r.stderr
