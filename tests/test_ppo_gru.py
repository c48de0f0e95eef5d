"""ppo_gru.py's sequences: building, minibatches, padding and chunking never change the loss; LSTM.
(Learning, long episodes, checkpoints, outputs and flags: test_training_scripts.py.)"""
import os
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import ppo_gru  # noqa: E402


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("sequence_length", [0, 1, 5])
def test_sequences_cover_every_step_once_and_never_cross_an_episode_end(seed, sequence_length):
    rng = np.random.default_rng(seed)
    T, E = 37, 5
    dones = rng.random((T, E)) < rng.uniform(0.02, 0.4)
    sequences = ppo_gru.build_sequences(dones, sequence_length)
    covered = np.zeros((T, E), int)
    for e, start, length in sequences:
        covered[start:start + length, e] += 1
        assert not dones[start:start + length - 1, e].any()  # an episode may only end at the last step
        assert start == 0 or dones[start - 1, e] or (sequence_length and length <= sequence_length)
        if sequence_length:
            assert length <= sequence_length
    assert (covered == 1).all()
    minibatches = ppo_gru.split_minibatches(sequences, 4, rng)
    assert sorted(np.concatenate(minibatches).tolist()) == list(range(len(sequences)))
    sizes = [int(sequences[m, 2].sum()) for m in minibatches]
    assert max(sizes) - min(sizes) <= 2 * sequences[:, 2].max()  # roughly equal total steps
    index, valid = ppo_gru.padded_index(sequences, E)
    assert index.shape[1] == sequences[:, 2].max()  # padded to the longest *sequence*
    assert sorted(index[valid].tolist()) == list(range(T * E))


def make_rollout(args, T=20, E=4, seed=0, obs_dim=3):
    g = torch.Generator().manual_seed(seed)
    agent = ppo_gru.Agent(args, gym.spaces.Box(-1, 1, (obs_dim,)), gym.spaces.MultiDiscrete([3, 2]), 2).double()
    dones = np.random.default_rng(seed).random((T, E)) < 0.15
    n = T * E
    b = {"obs": torch.randn(n, obs_dim, generator=g, dtype=torch.double),
         "actions": torch.randint(0, 2, (n, 2), generator=g), "logprobs": -torch.rand(n, 2, generator=g, dtype=torch.double),
         "advantages": torch.randn(n, generator=g, dtype=torch.double),
         "returns": torch.randn(n, generator=g, dtype=torch.double),
         "values": torch.randn(n, generator=g, dtype=torch.double),
         "ground_truth": torch.rand(n, 2, generator=g, dtype=torch.double),
         "states": torch.randn(n, agent.state_size, generator=g, dtype=torch.double)}
    return agent, b, dones


def per_sequence_loss(agent, args, b, sequences, ent_coef):
    """The straightforward computation: each sequence alone, unpadded, from its stored state."""
    logprobs, entropies, values, outs, flats = [], [], [], [], []
    for e, start, length in sequences:
        flat = torch.arange(start, start + length) * args.num_envs + e
        x = agent.encode(b["obs"][flat])[:, None]
        out, _ = agent.rnn(x, b["states"][flat[:1]], torch.zeros(len(flat), 1, dtype=torch.bool))
        logits, value = agent.heads(out[:, 0])
        lp, ent = ppo_gru.evaluate_actions(logits, b["actions"][flat])
        logprobs.append(lp), entropies.append(ent), values.append(value), outs.append(out[:, 0]), flats.append(flat)
    flat = torch.cat(flats)
    ratio = (torch.cat(logprobs) - b["logprobs"][flat]).exp()
    adv = b["advantages"][flat]
    if args.norm_adv:
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    adv = adv[:, None]
    pg = torch.max(-adv * ratio, -adv * ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)).mean()
    value, old, ret = torch.cat(values), b["values"][flat], b["returns"][flat]
    vc = old + (value - old).clamp(-args.clip_coef, args.clip_coef)
    v = torch.max((value - ret) ** 2, (vc - ret) ** 2).mean()
    loss = pg - ent_coef * torch.cat(entropies).mean() + args.vf_coef * v
    gt = ((agent.ground_truth_head(torch.cat(outs)) - b["ground_truth"][flat]) ** 2).mean()
    return loss + args.ground_truth_coef * gt


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
@pytest.mark.parametrize("norm_adv", [False, True])
def test_padded_loss_equals_the_unpadded_per_sequence_loss(rnn_type, norm_adv):
    args = ppo_gru.Args(num_envs=4, rnn_type=rnn_type, rnn_hidden_size=8, hidden_layer_size=8, rnn_num_layers=2,
                        norm_adv=norm_adv, ground_truth_coef=0.5)
    torch.manual_seed(0)
    agent, b, dones = make_rollout(args)
    sequences = ppo_gru.build_sequences(dones, 0)
    assert sequences[:, 2].min() < sequences[:, 2].max()  # really padded
    padded, _ = ppo_gru.ppo_loss(agent, args, b, sequences, 1e-3)
    grads = torch.autograd.grad(padded, list(agent.parameters()))
    reference = per_sequence_loss(agent, args, b, sequences, 1e-3)
    ref_grads = torch.autograd.grad(reference, list(agent.parameters()))
    assert abs(padded.item() - reference.item()) < 1e-10
    for g, r in zip(grads, ref_grads):
        assert torch.allclose(g, r, atol=1e-10)


def test_chunked_backward_equals_the_whole_minibatch():
    args = ppo_gru.Args(num_envs=4, rnn_hidden_size=8, hidden_layer_size=8, norm_adv=True)
    torch.manual_seed(0)
    agent, b, dones = make_rollout(args)
    sequences = ppo_gru.build_sequences(dones, 4)
    agent.zero_grad()
    ppo_gru.ppo_loss(agent, args, b, sequences, 1e-3)[0].backward()
    whole = [p.grad.clone() for p in agent.parameters()]
    agent.zero_grad()
    index, valid = ppo_gru.padded_index(sequences, 4)
    adv = b["advantages"][torch.as_tensor(index[valid])]
    chunks = ppo_gru.backward_chunks(sequences, 12)
    assert len(chunks) > 2 and sum(len(c) for c in chunks) == len(sequences)
    for chunk in chunks:
        loss, _ = ppo_gru.ppo_loss(agent, args, b, chunk, 1e-3, adv.mean(), adv.std())
        (loss * int(chunk[:, 2].sum()) / int(sequences[:, 2].sum())).backward()
    for w, p in zip(whole, agent.parameters()):
        assert torch.allclose(w, p.grad, atol=1e-10)


def test_rollout_steps_match_the_sequence_forward():
    """Stepping the recurrent core one step at a time (the rollout) equals the update's forward."""
    for rnn_type in ("gru", "lstm"):
        args = ppo_gru.Args(num_envs=1, rnn_type=rnn_type, rnn_hidden_size=8, hidden_layer_size=8)
        torch.manual_seed(0)
        agent = ppo_gru.Agent(args, gym.spaces.Box(-1, 1, (3,)), gym.spaces.Discrete(2), 0).double()
        obs = torch.randn(6, 3, dtype=torch.double)
        state = torch.zeros(1, agent.state_size, dtype=torch.double)
        stepped = []
        with torch.no_grad():
            for t in range(6):
                _, value, state = agent.step(obs[t:t + 1], state)
                stepped.append(value)
            _, _, values = agent.forward_sequences(obs, torch.zeros(1, agent.state_size, dtype=torch.double),
                                                   torch.arange(6)[None], torch.ones(1, 6, dtype=torch.bool))
        assert torch.allclose(values, torch.cat(stepped), atol=1e-12), rnn_type


def test_lstm_trains_on_images(tmp_path):
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run([sys.executable, os.path.join(root, "ppo_gru.py"), "--env-id", "MortarMayhemB-Grid-v0",
                        "--rnn-type", "lstm", "--rnn-hidden-size", "32", "--hidden-layer-size", "32",
                        "--num-envs", "4", "--num-steps", "32", "--num-minibatches", "2", "--total-timesteps", "256",
                        "--reconstruction-coef", "0.1", "--ground-truth-coef", "0.1", "--sequence-length", "8"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "iter 2/2" in r.stdout
