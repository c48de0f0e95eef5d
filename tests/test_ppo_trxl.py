"""ppo_trxl.py's memory path: the efficient loss equals the straightforward per-sample window
computation, chunked backward equals the whole minibatch, the rollout forward equals the update's.
(Learning, long episodes, checkpoints, outputs and flags: test_training_scripts.py.)"""
import math
import os
import sys

import gymnasium as gym
import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import ppo_trxl  # noqa: E402


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
        "memory": torch.randn(E, L, P, D, generator=g),
        "memory_steps": entry_step, "query_steps": entry_step[:, C:],
        "actions": torch.randint(0, 3, (E, T, 2), generator=g),
        "logprobs": -torch.rand(E, T, 2, generator=g) - 0.5,
        "advantages": torch.randn(E, T, generator=g), "returns": torch.randn(E, T, generator=g),
        "values": torch.randn(E, T, generator=g), "ground_truth": torch.rand(E, T, gt_dim, generator=g),
    }
    batch["mask"] = ppo_trxl.attention_mask(torch.arange(C, P), entry_episode, W)
    batch["band"] = C  # as EpisodicMemory.update_inputs: step t sees entries t .. t + C - 1
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
                    mem = batch["memory"][e, i, window]
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


def agent_and_batch(options: dict):
    """A small two-layer agent in float64 and a random batch (``make_batch``) for the memory length in ``options``."""
    W = options.get("trxl_memory_length", 5)
    args = ppo_trxl.Args(trxl_num_layers=2, trxl_num_heads=2, trxl_dim=16, trxl_memory_length=W,
                         **{k: v for k, v in options.items() if k != "trxl_memory_length"})
    torch.manual_seed(0)
    agent = ppo_trxl.Agent(args, gym.spaces.Box(-1, 1, (3,)), gym.spaces.MultiDiscrete([3, 3]), 2).double()
    batch, entry_episode = make_batch(W=W)
    return W, args, agent, {k: (v.double() if torch.is_tensor(v) and v.is_floating_point() else v)
                            for k, v in batch.items()}, entry_episode


@pytest.fixture(params=[64, 4, 7], ids=["one block", "banded, padded", "banded"])
def attention_block(request, monkeypatch):
    """The update's attention as one block (T = 14 queries <= 64) and banded in blocks of 4 (14 is no multiple of
    it: padded) and 7."""
    monkeypatch.setattr(ppo_trxl, "ATTENTION_BLOCK", request.param)
    return request.param


@pytest.mark.parametrize("Q, band, block", [(12, 3, 4), (13, 5, 4), (9, 1, 2), (20, 6, 32)])
def test_banded_attention_equals_the_full_attention(Q, band, block):
    """``attend_banded`` (each block of queries scores only the keys it can see) gives ``attend``'s output and
    gradients over all keys, for any mask inside the band, also for queries that see no key."""
    g = torch.Generator().manual_seed(Q + band)
    E, h, dh, K = 2, 3, 4, Q + band
    q, keys, values = (torch.randn(E, h, n, dh, generator=g, dtype=torch.float64, requires_grad=True)
                       for n in (Q, K, K))
    i, k = torch.arange(Q)[:, None], torch.arange(K)[None]
    mask = (k >= i) & (k < i + band) & (torch.rand(E, Q, K, generator=g) < 0.7)
    mask[:, 1] = False  # a query with nothing to attend to: output 0
    full = ppo_trxl.attend(q, keys, values, mask.unsqueeze(-3))
    banded = ppo_trxl.attend_banded(q, keys, values, mask, band, block)
    assert banded.shape == full.shape and torch.allclose(banded, full, rtol=1e-12, atol=1e-12)
    assert full[:, :, 1].abs().max() == 0 and full.abs().max() > 0.1
    weights = torch.randn(full.shape, generator=g, dtype=torch.float64)
    for a, b in zip(torch.autograd.grad((full * weights).sum(), (q, keys, values)),
                    torch.autograd.grad((banded * weights).sum(), (q, keys, values))):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-12)


def test_banded_attention_in_float32_at_the_default_size():
    """The default model (dim 384, 3 layers, 4 heads, W = 119) on a 512-step rollout in float32: the banded update
    (blocks of 64) gives the full attention's loss and gradients to float precision. The keys' biases are the
    exception, in both: softmax is shift-invariant, so their gradient is 0 in exact arithmetic and what remains is
    rounding noise (~1e-9)."""
    args = ppo_trxl.Args()
    torch.manual_seed(0)
    agent = ppo_trxl.Agent(args, gym.spaces.Box(-1, 1, (8,)), gym.spaces.MultiDiscrete([3, 3]), 0)
    W, T = args.trxl_memory_length, 512
    C, P = W - 1, W - 1 + T
    g = torch.Generator().manual_seed(0)
    episode = (torch.arange(P)[None] >= 200).long() + (torch.arange(P)[None] >= 260).long()
    steps = torch.arange(P)[None] % 97
    mb = {"obs": torch.randn(1, T, 8, generator=g), "memory": torch.randn(1, 3, P, 384, generator=g),
          "memory_steps": steps, "query_steps": steps[:, C:], "mask": ppo_trxl.attention_mask(torch.arange(C, P),
                                                                                             episode, W),
          "actions": torch.randint(0, 3, (1, T, 2), generator=g), "logprobs": -torch.rand(1, T, 2, generator=g) - 1,
          "values": torch.randn(1, T, generator=g), "advantages": torch.randn(1, T, generator=g),
          "returns": torch.randn(1, T, generator=g)}
    (full, full_grads), (banded, banded_grads) = [
        (loss, torch.autograd.grad(loss, list(agent.parameters())))
        for loss in (ppo_trxl.ppo_loss(agent, args, mb | {"band": band}, 1e-3)[0] for band in (None, C))]
    assert abs(full.item() - banded.item()) < 1e-6 * abs(full.item())
    for (name, _), a, b in zip(agent.named_parameters(), full_grads, banded_grads):
        if name.endswith("k.bias"):
            assert a.norm() < 1e-7 and b.norm() < 1e-7, name
        else:
            assert (a - b).norm() <= 1e-5 * a.norm(), name


@pytest.mark.parametrize("options", [
    dict(),
    dict(trxl_positional_encoding="learned", trxl_gating=True, trxl_query_pe=True, norm_adv=True),
    dict(trxl_positional_encoding="none", ground_truth_coef=0.5),
    dict(trxl_memory_length=1),
])
def test_efficient_loss_and_gradients_equal_the_window_computation(options, attention_block):
    W, args, agent, batch, entry_episode = agent_and_batch(options)
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
    batch = {k: (v.double() if torch.is_tensor(v) and v.is_floating_point() else v) for k, v in batch.items()}
    batch["actions"], batch["logprobs"] = batch["actions"][..., :1], batch["logprobs"][..., :1]
    agent.zero_grad()
    ppo_trxl.ppo_loss(agent, args, batch, 1e-3)[0].backward()
    whole = [p.grad.clone() for p in agent.parameters()]
    agent.zero_grad()
    adv = batch["advantages"]
    for chunk in torch.arange(3).split(1):
        part = {k: v[chunk] if torch.is_tensor(v) else v for k, v in batch.items()}
        loss, _ = ppo_trxl.ppo_loss(agent, args, part, 1e-3, adv.mean(), adv.std())
        (loss * len(chunk) / 3).backward()
    for w, p in zip(whole, agent.parameters()):
        assert torch.allclose(w, p.grad, atol=1e-10)


@pytest.mark.parametrize("options", [dict(), dict(trxl_query_pe=True, trxl_positional_encoding="learned"),
                                     dict(trxl_memory_length=1)])
def test_the_rollout_equals_the_update_through_the_episodic_memory(options, attention_block):
    """The script's own EpisodicMemory: the rollout's per-step forward (the cached keys and values
    of each step's window) gives the update's banded forward's values, PPO's first ratio is exactly
    1, also in the next rollout, after the window was carried over and its keys refreshed under
    changed weights; ``peek`` is the next step's value."""
    W, E, T = options.pop("trxl_memory_length", 4), 3, 10
    args = ppo_trxl.Args(trxl_num_layers=2, trxl_num_heads=2, trxl_dim=16, trxl_memory_length=W, **options)
    torch.manual_seed(1)
    agent = ppo_trxl.Agent(args, gym.spaces.Box(-1, 1, (3,)), gym.spaces.Discrete(2), 0)
    memory = ppo_trxl.EpisodicMemory(E, 2, 16, 2, W, T + 1, "cpu")  # room for the peek check
    g = torch.Generator().manual_seed(0)
    for rollout in range(2):
        memory.refresh(agent)
        obs, step_values = torch.randn(E, T, 3, generator=g), []
        for t in range(T):
            _, value = memory.step(agent, obs[:, t])
            step_values.append(value)
            if t == T - 1:
                peeked = memory.peek(agent, obs[:, 0])
                assert torch.allclose(peeked, memory.step(agent, obs[:, 0])[1], atol=1e-6)
                memory.pos -= 1  # (undo that step)
            memory.end_episodes(torch.rand(E, generator=g) < 0.25)
        with torch.no_grad():
            _, _, values = agent.forward_rollouts(obs, **memory.update_inputs(torch.arange(E)))
        assert torch.allclose(values, torch.stack(step_values, dim=1), atol=1e-5), rollout
        memory.carry()
        with torch.no_grad():  # an update changes every weight
            for p in agent.parameters():
                p.add_(0.05 * torch.randn(p.shape, generator=g))


@pytest.mark.parametrize("options", [dict(), dict(trxl_query_pe=True, trxl_positional_encoding="learned",
                                                  norm_adv=True), dict(trxl_memory_length=1)])
def test_single_step_minibatches_give_the_same_loss_and_gradients_as_whole_rollouts(options):
    """--single-step-minibatches: every step of the batch with its own window (``step_inputs``) is the same loss as
    the whole rollouts (``update_inputs``), in another order."""
    W, args, agent, batch, entry_episode = agent_and_batch(options)
    E, T = batch["obs"].shape[:2]
    memory = ppo_trxl.EpisodicMemory(E, 2, 16, 2, W, T, "cpu")
    memory.inputs, memory.steps, memory.episodes = batch["memory"], batch["memory_steps"], entry_episode
    memory.pos = W - 1 + T  # after a rollout
    b = {k: batch[k] for k in ("obs", "actions", "logprobs", "values", "ground_truth", "advantages", "returns")}
    results = []
    for single, ids in ((False, torch.arange(E)), (True, torch.randperm(E * T))):
        mb = ppo_trxl.minibatch(b, memory, ids, T, single)
        loss, _ = ppo_trxl.ppo_loss(agent, args, mb, 1e-3)
        results.append((loss, torch.autograd.grad(loss, list(agent.parameters()), allow_unused=True)))
    (whole, whole_grads), (steps, step_grads) = results
    assert mb["obs"].shape == (E * T, 1, 3) and abs(whole.item() - steps.item()) < 1e-10
    for (name, _), g, r in zip(agent.named_parameters(), whole_grads, step_grads):
        assert (g is None and r is None) or torch.allclose(g, r, atol=1e-10), name
