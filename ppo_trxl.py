"""PPO with a Transformer-XL sliding-window episodic memory, for Memory Gym and any gymnasium env
with discrete actions (CleanRL style).

    python ppo_trxl.py --env-id MortarMayhem-Grid-v0
    python ppo_trxl.py --env-id ProofofMemory-v0 --total-timesteps 25000 --num-envs 16 --num-steps 128 \
        --update-epochs 4 --trxl-num-layers 4 --trxl-num-heads 1 --trxl-dim 64 --trxl-memory-length 16 \
        --trxl-positional-encoding none --vf-coef 0.1 --max-grad-norm 0.5 --init-lr 3e-4 \
        --init-ent-coef 1e-3 --clip-coef 0.2

The agent (the paper's TrXL baseline, arXiv 2309.17207, and CleanRL's ppo_trxl.py): an encoder (Nature CNN for images, a linear layer for
vectors, both for Dict observations), a stack of pre-LN Transformer-XL layers that is
sequence-to-one (one query per step) and attends to a sliding window of the previous W-1 steps of
the same episode, whose per-layer inputs were cached when those steps were taken (detached, stale
by design), then a shared hidden layer and the actor/critic heads. Options: GRU gating (GTrXL),
positional encoding on the query, observation reconstruction and ground-truth estimation losses.

How it stays fast (``EpisodicMemory``): each env keeps a buffer of the last ``W - 1 + num_steps``
memory entries (so episodes of any length run); keys/values of the entries are cached during the
rollout, per head, so a step reads its window in place; a minibatch holds whole env rollouts, so every
memory entry is projected once per minibatch and the attention of all its steps is an episode-masked
matmul over blocks of steps, each block scoring only the entries it can see (no (minibatch, W, layers,
D) window tensor). ``--single-step-minibatches`` draws single steps instead, each with its
own window (CleanRL's way): the same loss for the same samples, more work. ``tests/test_ppo_trxl.py`` checks that
loss and gradients equal the straightforward per-sample window computation (both ways), and that the rollout
equals the update.

Outputs (CleanRL conventions): TensorBoard in ``runs/{run_name}``, ``--track`` (Weights & Biases),
``--capture-video`` (env 0, ``videos/{run_name}``), ``--save-model``; checkpoints every
``--checkpoint-interval`` iterations and on SIGINT/SIGTERM to ``runs/{run_name}/checkpoint.pt``
(tensors and plain values only: loaded with ``weights_only=True``), continued with
``--resume runs/{run_name}/checkpoint.pt``. Other envs, and which parts of this file a copy can
drop: docs/using_the_scripts.md.

The file reads top to bottom: Args, the envs, the agent, its loss and memory, the learner's named
steps (``collect_rollout``, ``bootstrap_time_limits``, ``compute_advantages``, ``EpisodeStatistics``,
``log_iteration``), the plumbing (flags, config, checkpoints), then the training loop. Blocks between
``# [shared: NAME]`` and ``# [end shared: NAME]`` are the same in ppo_trxl.py and ppo_gru.py
(tests/test_shared_blocks.py checks): a fix to one goes into both.
"""
# [shared: imports]
from __future__ import annotations

import ast
import contextlib
import copy
import datetime
import difflib
import importlib
import io
import json
import math
import os
import pickle
import random
import re
import secrets
import shutil
import signal
import sys
import threading
import time
import typing
from collections import deque
from dataclasses import asdict, dataclass, fields

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import tyro
import yaml
from torch.distributions import Categorical
from torch.utils.tensorboard import SummaryWriter

import memory_gym_envs
# [end shared: imports]


@dataclass
class Args:
    # [shared: run settings]
    exp_name: str = os.path.basename(__file__)[: -len(".py")]
    """the name of this experiment"""
    seed: int = 1
    """seed of the experiment"""
    torch_deterministic: bool = True
    """if toggled, `torch.backends.cudnn.deterministic=True`"""
    cuda: bool = True
    """if toggled, cuda will be used when available"""
    torch_threads: int = 0
    """CPU threads for torch; 0: $OMP_NUM_THREADS if set, else the free cores (the cores less the machine's load), at
    most 8 (more threads than free cores run slower than one thread on a busy machine)"""
    track: bool = False
    """if toggled, this experiment will be tracked with Weights and Biases"""
    wandb_project_name: str = "memory-gym"
    """the wandb's project name"""
    wandb_entity: str | None = None
    """the entity (team) of wandb's project"""
    capture_video: bool = False
    """whether to capture videos of the agent performances (env 0, debug view) into `videos/{run_name}`"""
    save_model: bool = False
    """whether to save the final model (with its args) into `runs/{run_name}/{exp_name}.cleanrl_model`"""
    checkpoint_interval: int = 10
    """save `runs/{run_name}/checkpoint.pt` every this many iterations (and at the end, on SIGINT/SIGTERM, a crash
    or a non-finite loss: always the last completed iteration); 0: only then"""
    resume: str | None = None
    """path of a checkpoint.pt to continue: the run goes on in its directory with its saved settings (flags given
    with --resume change them, except the network and the batch shape)"""
    config: str | None = None
    """a YAML file of flag values (keys: the field names, e.g. `init_lr`) that become the defaults; flags on
    the command line override them (configs/ppo_*/<env-id>.yaml: the paper's settings)"""

    # Algorithm specific arguments
    env_id: str = "MortarMayhem-Grid-v0"
    """the id of the environment"""
    env_kwargs: str = ""
    """the env's reset parameters as JSON, e.g. '{"command_count": 3, "arena_size": 3}' (default: the env's)"""
    total_timesteps: int = 200_000_000
    """total timesteps of the experiments"""
    # [end shared: run settings]
    init_lr: float = 2.75e-4
    """the initial learning rate of the optimizer"""
    final_lr: float = 1.0e-5
    """the final learning rate of the optimizer after linearly annealing"""
    num_envs: int = 32
    """the number of parallel game environments"""
    num_steps: int = 512
    """the number of steps to run in each environment per policy rollout"""
    anneal_steps: int = 32 * 512 * 10000
    """the number of steps to linearly anneal the learning rate and entropy coefficient"""
    gamma: float = 0.995
    """the discount factor gamma"""
    gae_lambda: float = 0.95
    """the lambda for the general advantage estimation"""
    num_minibatches: int = 8
    """the number of mini-batches (each holds num_envs / num_minibatches whole env rollouts)"""
    update_epochs: int = 3
    """the K epochs to update the policy"""
    norm_adv: bool = False
    """toggles advantages normalization (per minibatch)"""
    clip_coef: float = 0.1
    """the surrogate clipping coefficient"""
    clip_vloss: bool = True
    """toggles whether or not to use a clipped loss for the value function, as per the paper"""
    init_ent_coef: float = 0.0001
    """initial coefficient of the entropy bonus"""
    final_ent_coef: float = 0.000001
    """final coefficient of the entropy bonus after linearly annealing"""
    vf_coef: float = 0.5
    """coefficient of the value function"""
    max_grad_norm: float = 0.25
    """the maximum norm for the gradient clipping"""
    target_kl: float | None = None
    """the target KL divergence threshold (checked after each epoch)"""

    # Transformer-XL specific arguments
    trxl_num_layers: int = 3
    """the number of transformer layers"""
    trxl_num_heads: int = 4
    """the number of heads used in multi-head attention"""
    trxl_dim: int = 384
    """the dimension of the transformer"""
    trxl_memory_length: int = 119
    """W: the length of the sliding window; a step attends to the W-1 previous steps of its episode"""
    trxl_positional_encoding: str = "absolute"
    """the positional encoding of the memory over episode steps: absolute (sinusoidal), learned or none"""
    trxl_gating: bool = False
    """GRU gating of the residual connections (GTrXL)"""
    trxl_query_pe: bool = False
    """also add the positional encoding to the query (the paper's QPos)"""
    reconstruction_coef: float = 0.0
    """the coefficient of the observation reconstruction loss; 0 disables the decoder"""
    ground_truth_coef: float = 0.0
    """the coefficient of the ground-truth estimation loss (envs whose info has `ground_truth`); 0 disables it"""
    backward_chunk_size: int = 512
    """backpropagate a minibatch in chunks of whole env rollouts of at most this many steps, accumulating
    the gradients (the same gradient with less memory); 0: the whole minibatch at once"""
    single_step_minibatches: bool = False
    """draw minibatches of single steps from all envs, each step with its own memory window (CleanRL's and the
    paper authors' way), instead of whole env rollouts (ours: every window entry is projected once); the same
    loss for the same samples, more projection work per update"""

    # [shared: runtime fields]
    # to be filled in runtime
    batch_size: int = 0
    """the batch size (computed in runtime)"""
    minibatch_size: int = 0
    """the mini-batch size (computed in runtime)"""
    num_iterations: int = 0
    """the number of iterations (computed in runtime)"""
    # [end shared: runtime fields]


# [shared: envs and encoder helpers]
def env_spec(env_id: str) -> gym.envs.registration.EnvSpec:
    """The registered spec of ``env_id``. A user's own env: ``module:EnvId`` (gymnasium's syntax),
    where importing ``module`` registers ``EnvId``."""
    module, _, name = env_id.rpartition(":")
    if module:
        try:
            importlib.import_module(module)
        except ImportError as e:
            fail(f"--env-id {env_id!r}: cannot import module {module!r} ({e})")
    if name not in gym.registry:
        fail(f"unknown env id {name!r}; Memory Gym ids: {', '.join(memory_gym_envs.ENVS)}; gymnasium's own "
             "(e.g. CartPole-v1); or your env as --env-id yourmodule:YourEnv-v0 (importing yourmodule registers it)")
    return gym.spec(name)


def make_vector_env(env_id: str, num_envs: int, autoreset_mode: gym.vector.AutoresetMode, **kwargs):
    """``num_envs`` envs stepped as one: the env's own batched implementation if it has one with
    ``autoreset_mode`` (Memory Gym's), else gymnasium's SyncVectorEnv of single envs."""
    if env_spec(env_id).vector_entry_point:
        try:
            envs = gym.make_vec(env_id, num_envs, "vector_entry_point", autoreset_mode=autoreset_mode, **kwargs)
            if envs.metadata.get("autoreset_mode") == autoreset_mode:
                return envs
            envs.close()
        except TypeError:  # a batched env without autoreset modes (CartPole's): fall back
            pass
    return gym.make_vec(env_id, num_envs, "sync", vector_kwargs={"autoreset_mode": autoreset_mode}, **kwargs)


def make_env(args: Args):
    """The training envs with same-step autoreset: when an episode ends, its final observation comes
    in info["final_obs"] and the returned observation is already the next episode's first."""
    render_mode = None
    if args.capture_video:
        render_mode = "debug_rgb_array" if args.env_id in memory_gym_envs.ENVS else "rgb_array"
    try:
        return make_vector_env(args.env_id, args.num_envs, gym.vector.AutoresetMode.SAME_STEP,
                               **env_kwargs(args), **({"render_mode": render_mode} if render_mode else {}))
    except (ValueError, TypeError, OverflowError, gym.error.Error) as e:  # e.g. an out-of-range reset parameter
        fail(f"{args.env_id}: {' '.join(str(e).split())[:300]}")


CNN_MIN_SIZE = 36  # the smallest height and width the Nature CNN's three convolutions take


def observation_parts(space: gym.Space) -> tuple[str | None, list[str], int]:
    """What the encoder reads: the image's key ("" for a plain image observation), the vector keys
    and their total size. ValueError for a space it cannot read."""
    image, vectors, size = None, [], 0
    for key, part in (space.spaces.items() if isinstance(space, gym.spaces.Dict) else [("", space)]):
        if isinstance(part, gym.spaces.Box) and len(part.shape) == 3 and part.dtype == np.uint8 and image is None:
            if min(part.shape[:2]) < CNN_MIN_SIZE:
                raise ValueError(f"image observations of {part.shape[0]}x{part.shape[1]} pixels are too small for the "
                                 f"Nature CNN (8x8 stride 4, 4x4 stride 2, 3x3): it needs at least {CNN_MIN_SIZE}x"
                                 f"{CNN_MIN_SIZE}; resize them, e.g. with gymnasium.wrappers.ResizeObservation")
            image = key
        elif isinstance(part, gym.spaces.Box) and len(part.shape) == 1:
            vectors.append(key)
            size += part.shape[0]
        else:
            raise ValueError(f"observation space {space} is not supported: a Box image (height, width, channels) "
                             "of uint8, a Box vector (n,), or a Dict of one image and vectors")
    return image, vectors, size


def layer_init(layer, std=np.sqrt(2), bias_const=None):
    torch.nn.init.orthogonal_(layer.weight, std)
    if bias_const is not None:
        torch.nn.init.constant_(layer.bias, bias_const)
    return layer
# [end shared: envs and encoder helpers]


# [shared: observation decoder]
class ObservationDecoder(nn.Sequential):
    """The decoder of the observation reconstruction loss: CleanRL's (``ppo_trxl.py``) layers and parameters,
    (N, features) -> logits of the (N, 84, 84, 3) observation (the sigmoid is part of ``reconstruction_loss``).
    Computed about 1.5x faster on CPU than with PyTorch's modules as they are: the activations are channels-last, the
    last transposed convolution runs as one convolution whose output is rearranged straight into the image
    (``_TransposedConvToImage``), and the bias gradients are plain sums (``_transposed_conv_backward``). The layers
    keep CleanRL's order and names, so checkpoints do not change."""

    def __init__(self, features: int):
        super().__init__(
            layer_init(nn.Linear(features, 64 * 7 * 7)), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
            layer_init(nn.ConvTranspose2d(64, 64, 3, stride=1)), nn.ReLU(),
            layer_init(nn.ConvTranspose2d(64, 32, 4, stride=2)), nn.ReLU(),
            layer_init(nn.ConvTranspose2d(32, 3, 8, stride=4)),
        )

    def forward(self, x):
        linear, relu, unflatten, *middle, last = self
        x = unflatten(relu(linear(x))).contiguous(memory_format=torch.channels_last)
        for layer in middle:
            x = _TransposedConv.apply(x, layer.weight, layer.bias, layer.stride[0]) if isinstance(
                layer, nn.ConvTranspose2d) else layer(x)
        return _TransposedConvToImage.apply(x, last.weight, last.bias, last.stride[0])


def _transposed_conv_backward(grad, x, weight, s, needs_input_grad):
    """The gradients of ``conv_transpose2d(x, weight, bias, stride=s)`` (no padding) for ``grad`` (N, C, H, W): PyTorch's
    own for x and weight, the bias's as a sum over grad (PyTorch's CPU backward takes longer for the bias alone than
    for x and weight together)."""
    need_x, need_w, need_b = needs_input_grad[:3]
    gx, gw, _ = torch.ops.aten.convolution_backward(grad, x, weight, None, [s, s], [0, 0], [1, 1], True, [0, 0], 1,
                                                    [need_x, need_w, False])
    return gx, gw, grad.sum((0, 2, 3)) if need_b else None


class _TransposedConv(torch.autograd.Function):
    """``conv_transpose2d(x, weight, bias, stride)`` (no padding) with the faster bias gradient."""

    @staticmethod
    def forward(ctx, x, weight, bias, s):
        ctx.save_for_backward(x, weight)
        ctx.s = s
        return F.conv_transpose2d(x, weight, bias, stride=s)

    @staticmethod
    def backward(ctx, grad):
        return *_transposed_conv_backward(grad, *ctx.saved_tensors, ctx.s, ctx.needs_input_grad), None


class _TransposedConvToImage(torch.autograd.Function):
    """``conv_transpose2d(x, weight, bias, stride)`` (no padding, kernel a multiple of the stride), returned
    channels-last as (N, H, W, C). The forward is a convolution: output pixel q*s + r (per axis) sums
    x[q - t] * weight[t*s + r] over t < m = kernel / s, so each of the s*s phases r is an m x m convolution with the
    t-flipped kernel over x padded by m - 1; the phases are then interleaved into the image (a pixel shuffle).
    The same sums as PyTorch's transposed convolution, in another order."""

    @staticmethod
    def forward(ctx, x, weight, bias, s):
        c_in, c_out, k, _ = weight.shape
        m = k // s
        # output channel (r_y, r_x, c): the shuffle below then moves blocks of s * c_out contiguous values
        kernel = weight.view(c_in, c_out, m, s, m, s).flip(2, 4).permute(3, 5, 1, 0, 2, 4).reshape(-1, c_in, m, m)
        x = x.contiguous(memory_format=torch.channels_last)
        y = F.conv2d(x, kernel, bias.repeat(s * s), padding=m - 1)  # (N, s * s * c_out, Q, Q), channels last
        n, _, qh, qw = y.shape
        image = y.permute(0, 2, 3, 1).reshape(n, qh, qw, s, s, c_out).permute(0, 1, 3, 2, 4, 5)
        ctx.save_for_backward(x, weight)
        ctx.s = s
        return image.reshape(n, qh * s, qw * s, c_out)

    @staticmethod
    def backward(ctx, grad):
        return *_transposed_conv_backward(grad.permute(0, 3, 1, 2), *ctx.saved_tensors, ctx.s,
                                          ctx.needs_input_grad), None


class _MeanBCEWithLogits(torch.autograd.Function):
    """``F.binary_cross_entropy_with_logits(logits, target)`` (mean) for a uint8 ``image`` (target = image / 255):
    mean(softplus(x) - x * y), its gradient (sigmoid(x) - y) / numel made in the forward, on a CPU 16 samples at a
    time so that the temporaries stay in the cache (~1.4x faster than the PyTorch function and its backward)."""

    @staticmethod
    def forward(ctx, logits, image):
        grad = torch.empty_like(logits, memory_format=torch.contiguous_format)
        total = torch.zeros((), dtype=torch.float64, device=logits.device)
        block = 16 if logits.device.type == "cpu" else max(len(logits), 1)  # (a GPU: one block, fewer launches)
        for x, t, g in zip(logits.split(block), image.split(block), grad.split(block)):
            x, y = x.reshape(-1), t.reshape(-1).to(logits.dtype).div_(255)
            # softplus is exact past its threshold (x + log1p(exp(-x)) rounds to x), also in float64
            total += F.softplus(x, threshold=40.0).sum(dtype=torch.float64) - torch.dot(x, y)
            torch.sigmoid(x, out=g.view(-1)).sub_(y)
        ctx.save_for_backward(grad)
        return (total / logits.numel()).to(logits.dtype)

    @staticmethod
    def backward(ctx, out_grad):
        grad, = ctx.saved_tensors
        return grad * (out_grad / grad.numel()), None


def reconstruction_loss(decoder: ObservationDecoder, features: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy between the decoded observation and ``image`` (uint8, (..., 84, 84, 3)) scaled to [0, 1],
    averaged over every pixel and channel: CleanRL's ``nn.BCELoss()(sigmoid(decoder(features)), obs / 255)``, computed
    from the logits (``_MeanBCEWithLogits``; the same value except where the sigmoid would round to exactly 0 or 1,
    which BCELoss clamps at log 0 = -100)."""
    logits = decoder(features.reshape(-1, features.shape[-1]))
    return _MeanBCEWithLogits.apply(logits, image.reshape(logits.shape))
# [end shared: observation decoder]


LEARNED_PE_STEPS = 2048  # rows of the learned positional encoding; later episode steps share the last row


def sinusoidal_encoding(steps: torch.Tensor, dim: int) -> torch.Tensor:
    """[sin | cos] encoding of (any number of) integer episode steps -> (*steps.shape, dim)."""
    inv_freq = 1.0 / (10000 ** (torch.arange(0, dim, 2, device=steps.device, dtype=torch.float32) / dim))
    angles = steps.to(torch.float32)[..., None] * inv_freq
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class GRUGate(nn.Module):
    """GTrXL's gating layer: out = (1 - z) * x + z * h_hat (replaces the residual x + y)."""

    def __init__(self, dim: int, bias: float = 2.0):
        super().__init__()
        self.w = nn.Linear(dim, 3 * dim, bias=False)
        self.u_rz = nn.Linear(dim, 2 * dim, bias=False)
        self.u_g = nn.Linear(dim, dim, bias=False)
        self.bg = nn.Parameter(torch.full((dim,), bias))

    def forward(self, x, y):
        wr, wz, wg = self.w(y).chunk(3, dim=-1)
        ur, uz = self.u_rz(x).chunk(2, dim=-1)
        r = torch.sigmoid(wr + ur)
        z = torch.sigmoid(wz + uz - self.bg)
        h = torch.tanh(wg + self.u_g(r * x))
        return (1 - z) * x + z * h


ATTENTION_BLOCK = 64  # queries per block of the update's banded attention (``TrXLLayer.forward``'s ``band``)


def attend(q, keys, values, mask):
    """Multi-head attention. q: (..., h, Q, dh); keys/values: (..., h, K, dh); mask: bool, True = attend, (..., 1, Q,
    K) (the same for every head). A query without any valid key (the first step of an episode, or W = 1) attends to
    nothing: its output is 0. A finite fill keeps softmax and its gradient NaN-free."""
    scores = (q @ keys.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~mask, -1e9)
    return (torch.softmax(scores, dim=-1) * mask.any(-1, keepdim=True)) @ values


def attend_banded(q, keys, values, mask, band: int, block: int):
    """``attend`` (mask: (..., Q, K), no head dim) where query i may only attend to keys i .. i + band - 1
    (``EpisodicMemory.update_inputs``: the step at position C + t sees the C entries before it). The queries go in
    blocks; a block's scores cover the block + band - 1 keys it can see, not all K (at the default config 181 of
    630). Masked scores are exact zeros after the softmax either way, so only the order of some float additions
    differs from ``attend``.

        keys        0 1 2 3 4 5 6 7 8 9          (band 3, block 2: each block sees 2 + 3 - 1 = 4 keys)
        queries 0,1 [0 1 2 3]
        queries 2,3     [2 3 4 5]                 k.unfold(-2, 4, 2): overlapping views, no copy
        queries 4,5         [4 5 6 7]
    """
    Q = q.shape[-2]
    nb = -(-Q // block)
    width = block + band - 1
    pad_q, pad_k = nb * block - Q, nb * block + band - 1 - keys.shape[-2]
    if pad_q or pad_k > 0:  # a rollout length that is not a multiple of the block: pad with masked rows and keys
        q = F.pad(q, (0, 0, 0, pad_q))
        keys, values = (F.pad(t, (0, 0, 0, max(pad_k, 0))) for t in (keys, values))
        mask = F.pad(mask, (0, max(pad_k, 0), 0, pad_q))
    mask = mask.contiguous()
    K = mask.shape[-1]
    B = mask.numel() // (nb * block * K)  # (the mask's leading dims, flattened)
    blocks = mask.as_strided((B, nb, block, width), (nb * block * K, block * K + block, K, 1),
                             mask.storage_offset()).view(*mask.shape[:-2], 1, nb, block, width)
    out = attend(q.unflatten(-2, (nb, block)), keys.unfold(-2, width, block).transpose(-1, -2),
                 values.unfold(-2, width, block).transpose(-1, -2), blocks)
    return out.flatten(-3, -2)[..., :Q, :]


class TrXLLayer(nn.Module):
    """Pre-LN Transformer-XL layer, sequence-to-one: queries attend to cached memory entries."""

    def __init__(self, dim: int, num_heads: int, gating: bool):
        super().__init__()
        self.num_heads = num_heads
        self.norm_q, self.norm_kv, self.norm_attn = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)
        self.fc = nn.Linear(dim, dim)
        self.gate_attn = GRUGate(dim) if gating else None
        self.gate_fc = GRUGate(dim) if gating else None

    def keys_values(self, memory: torch.Tensor):
        """Project memory entries (their cached layer inputs + positional encoding) to keys and values (..., D)."""
        m = self.norm_kv(memory)
        return self.k(m), self.v(m)

    def split_heads(self, x: torch.Tensor):
        """(..., K, D) -> (..., h, K, D/h), a view."""
        return x.unflatten(-1, (self.num_heads, -1)).transpose(-2, -3)

    def forward(self, x, keys, values, mask, query_pe=None, band=None):
        """x: (B, Q, D) queries' inputs; keys/values: (B, h, K, D/h) (``split_heads``); mask: (B, Q, K) bool, True =
        attend; ``band``: query i attends only within keys i .. i + band - 1 (``attend_banded``)."""
        q = self.split_heads(self.q(self.norm_q(x if query_pe is None else x + query_pe)))
        if band is not None and q.shape[-2] > ATTENTION_BLOCK:
            heads = attend_banded(q, keys, values, mask, band, ATTENTION_BLOCK)
        else:
            heads = attend(q, keys, values, mask.unsqueeze(-3))
        attn = self.out(heads.transpose(-2, -3).flatten(-2))
        x = self.gate_attn(x, attn) if self.gate_attn else x + attn
        y = F.relu(self.fc(self.norm_attn(x)))
        return self.gate_fc(x, y) if self.gate_fc else x + y


class Agent(nn.Module):
    def __init__(self, args: Args, observation_space: gym.Space, action_space: gym.Space, ground_truth_dim: int):
        super().__init__()
        d = args.trxl_dim
        self.dim, self.num_layers = d, args.trxl_num_layers
        self.image_key, self.vector_keys, encoded = observation_parts(observation_space)
        if self.image_key is not None:
            h, w, c = (observation_space[self.image_key] if self.image_key else observation_space).shape
            self.cnn = nn.Sequential(
                layer_init(nn.Conv2d(c, 32, 8, stride=4)), nn.ReLU(),
                layer_init(nn.Conv2d(32, 64, 4, stride=2)), nn.ReLU(),
                layer_init(nn.Conv2d(64, 64, 3, stride=1)), nn.ReLU(),
                nn.Flatten(),
            )
            with torch.no_grad():  # 64 * 7 * 7 for Memory Gym's 84x84 images
                encoded += self.cnn(torch.zeros(1, c, h, w)).shape[1]
            self.encoder = nn.Sequential(layer_init(nn.Linear(encoded, d)), nn.ReLU())
        else:  # vector observations: a linear encoder without activation (as the reference)
            self.encoder = layer_init(nn.Linear(encoded, d))
        self.pe_kind = args.trxl_positional_encoding
        if self.pe_kind == "learned":
            self.learned_pe = nn.Parameter(torch.randn(LEARNED_PE_STEPS, d))
        self.query_pe = args.trxl_query_pe
        self.layers = nn.ModuleList(TrXLLayer(d, args.trxl_num_heads, args.trxl_gating)
                                    for _ in range(args.trxl_num_layers))
        self.hidden_post_trxl = nn.Sequential(layer_init(nn.Linear(d, d)), nn.ReLU())
        self.nvec = action_space.nvec.tolist() if isinstance(action_space, gym.spaces.MultiDiscrete) else [action_space.n]
        self.actor_branches = nn.ModuleList(layer_init(nn.Linear(d, n), np.sqrt(0.01)) for n in self.nvec)
        self.critic = layer_init(nn.Linear(d, 1), 1)
        if args.reconstruction_coef > 0:
            if self.image_key is None or (observation_space[self.image_key] if self.image_key
                                          else observation_space).shape != (84, 84, 3):
                raise ValueError("--reconstruction-coef needs 84x84x3 image observations")
            self.transposed_cnn = ObservationDecoder(d)
        if args.ground_truth_coef > 0:
            self.ground_truth_head = layer_init(nn.Linear(d, ground_truth_dim), 1)

    # --- pieces ---------------------------------------------------------------------------------

    def image(self, obs):
        return obs if self.image_key == "" else obs[self.image_key]

    def encode(self, obs) -> torch.Tensor:
        """Observations (a batch, any leading dims) -> (..., D)."""
        parts, dtype = [], self.critic.weight.dtype
        if self.image_key is not None:
            img = self.image(obs)
            lead = img.shape[:-3]
            parts.append(self.cnn(img.reshape(-1, *img.shape[-3:]).permute(0, 3, 1, 2).to(dtype, copy=True).div_(255.0)))
        for key in self.vector_keys:
            vec = obs if key == "" else obs[key]
            lead = vec.shape[:-1]
            parts.append(vec.reshape(-1, vec.shape[-1]).to(dtype))
        return self.encoder(torch.cat(parts, dim=-1)).view(*lead, self.dim)

    def positional_encoding(self, steps: torch.Tensor):
        if self.pe_kind == "absolute":
            return sinusoidal_encoding(steps, self.dim)
        if self.pe_kind == "learned":
            return self.learned_pe[steps.clamp(max=LEARNED_PE_STEPS - 1)]
        return None

    def keys_values(self, layer: int, memory: torch.Tensor, steps: torch.Tensor):
        """Keys and values (..., h, K, D/h) of memory entries (..., K, D) of one layer taken at episode steps ``steps``
        (..., K)."""
        pe = self.positional_encoding(steps)
        layer = self.layers[layer]
        return tuple(map(layer.split_heads, layer.keys_values(memory if pe is None else memory + pe)))

    def heads(self, x):
        x = self.hidden_post_trxl(x)
        logits = [branch(x) for branch in self.actor_branches]
        return x, logits, self.critic(x).squeeze(-1)

    # --- the two forwards -----------------------------------------------------------------------

    def step(self, obs, keys, values, mask, steps):
        """Rollout: one query per env. keys/values: (L, E, h, K, D/h) cached window; mask (E, K).
        Returns logits, value, the step's per-layer inputs (E, L, D) to cache."""
        x = self.encode(obs)[:, None]
        qpe = self.positional_encoding(steps)[:, None] if self.query_pe and self.pe_kind != "none" else None
        inputs = []
        for i, layer in enumerate(self.layers):
            inputs.append(x[:, 0])
            x = layer(x, keys[i], values[i], mask[:, None], qpe)
        _, logits, value = self.heads(x[:, 0])
        return logits, value, torch.stack(inputs, dim=1)

    def forward_rollouts(self, obs, memory, memory_steps, mask, query_steps, band=None):
        """Update: all steps of some envs' rollouts at once. obs: (E, T, ...); memory: (E, L, P, D)
        cached layer inputs with their episode steps (E, P); mask: (E, T, P) which entries each
        step attends to; ``band``: step t sees only entries t .. t + band - 1 (both from
        ``EpisodicMemory.update_inputs``). Every entry is projected once; the attention is a masked
        matmul, banded (``attend_banded``)."""
        x = self.encode(obs)
        qpe = self.positional_encoding(query_steps) if self.query_pe and self.pe_kind != "none" else None
        for i, layer in enumerate(self.layers):
            k, v = self.keys_values(i, memory[:, i], memory_steps)
            x = layer(x, k, v, mask, qpe, band)
        return self.heads(x)



# [shared: actions]
def sample_actions(logits):
    dists = [Categorical(logits=lg) for lg in logits]
    action = torch.stack([d.sample() for d in dists], dim=-1)
    logprob = torch.stack([d.log_prob(a) for d, a in zip(dists, action.unbind(-1))], dim=-1)
    return action, logprob


def evaluate_actions(logits, actions):
    dists = [Categorical(logits=lg) for lg in logits]
    logprob = torch.stack([d.log_prob(a) for d, a in zip(dists, actions.unbind(-1))], dim=-1)
    entropy = torch.stack([d.entropy() for d in dists], dim=-1).sum(-1)
    return logprob, entropy
# [end shared: actions]


def ppo_loss(agent: Agent, args: Args, mb: dict, ent_coef: float, adv_mean=None, adv_std=None):
    """The PPO loss of a minibatch (or a chunk of one) of whole env rollouts (see ``forward_rollouts``).
    Every term is a mean over the steps, so the chunks' losses weighted by their share of the
    steps add up to the minibatch's loss. ``adv_mean``/``adv_std``: the minibatch's advantage
    statistics for ``--norm-adv`` (default: this batch's)."""
    hidden, logits, newvalue = agent.forward_rollouts(mb["obs"], mb["memory"], mb["memory_steps"],
                                                      mb["mask"], mb["query_steps"], mb.get("band"))
    newlogprob, entropy = evaluate_actions(logits, mb["actions"])
    logratio = newlogprob - mb["logprobs"]
    ratio = logratio.exp()
    advantages = mb["advantages"]
    if args.norm_adv:
        if adv_mean is None:
            adv_mean, adv_std = advantages.mean(), advantages.std()
        advantages = (advantages - adv_mean) / (adv_std + 1e-8)
    advantages = advantages[..., None]  # the same advantage for every action branch
    pg_loss = torch.max(-advantages * ratio, -advantages * ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)).mean()
    if args.clip_vloss:
        v_clipped = mb["values"] + (newvalue - mb["values"]).clamp(-args.clip_coef, args.clip_coef)
        v_loss = torch.max((newvalue - mb["returns"]) ** 2, (v_clipped - mb["returns"]) ** 2).mean()
    else:
        v_loss = ((newvalue - mb["returns"]) ** 2).mean()
    entropy_loss = entropy.mean()
    loss = pg_loss - ent_coef * entropy_loss + args.vf_coef * v_loss
    stats = {"policy_loss": pg_loss, "value_loss": v_loss, "entropy": entropy_loss}
    if args.reconstruction_coef > 0:
        r_loss = reconstruction_loss(agent.transposed_cnn, hidden, agent.image(mb["obs"]))
        loss = loss + args.reconstruction_coef * r_loss
        stats["reconstruction_loss"] = r_loss
    if args.ground_truth_coef > 0:
        gt_loss = F.mse_loss(agent.ground_truth_head(hidden), mb["ground_truth"])
        loss = loss + args.ground_truth_coef * gt_loss
        stats["ground_truth_loss"] = gt_loss
    with torch.no_grad():
        stats["old_approx_kl"] = (-logratio).mean()
        stats["approx_kl"] = ((ratio - 1) - logratio).mean()
        stats["clipfrac"] = ((ratio - 1.0).abs() > args.clip_coef).float().mean()
    return loss, stats


def rollout_buffers(args: Args, agent, envs, gt_dim: int, device):
    """The rollout storage (T, E, ...) and the episodic memory (on the "meta" device: only their sizes)."""
    return (rollout_storage(envs.single_observation_space, args.num_steps, args.num_envs, len(agent.nvec), gt_dim,
                            device), EpisodicMemory(args.num_envs, args.trxl_num_layers, args.trxl_dim,
                                                    args.trxl_num_heads, args.trxl_memory_length, args.num_steps,
                                                    device))


SIZE_FLAGS = ("num_envs", "num_steps", "trxl_memory_length", "trxl_num_layers", "trxl_dim")  # the storage grows with


class EpisodicMemory:
    """The sliding-window episodic memory of E envs: what the rollout caches and the update reads.

    Per env a buffer of P = C + T entries, C = W - 1: the window carried over from the previous
    rollout, then room for T new steps. An entry holds the layer inputs of one step, cached when
    the step was taken (detached: stale by design), with the step's episode step and episode id:

        position            0 ....... C-1 | C ................. C+T-1
                            carried window | this rollout's steps
        inputs              (E, L, P, D)     layer inputs of every step
        keys, values        (L, E, h, P, D/h) their projections under the current weights, per head: a
                                             step's window is then a (E*h, C, D/h) batch of matrices
                                             that the attention reads in place (no copy per step)
        steps, episodes     (E, P)           episode step (positional encoding), episode id (-1: empty)

    The step at position q attends to the W-1 positions before it, masked to its own episode:

        q-C  ...  q-1  q
        [ a  a  b  b ] b      mask = episodes[q-C:q] == episode of q  ->  [0 0 1 1]

    ``start_rollout`` carries the newest C entries to the front (``carry``; also when the buffer is full)
    and recomputes their keys and values under the current weights (``refresh``); ``step`` adds every
    env's next step and returns its policy; ``peek`` values an observation as the next step, storing
    nothing; ``end_episodes`` starts new episodes;
    ``update_inputs`` is the update's view of some envs' rollouts: all entries at once, each step's
    window a band of one (E, T, P) mask, so every entry is projected once per minibatch;
    ``step_inputs`` the view of single steps (``--single-step-minibatches``): each its own window.
    """

    def __init__(self, num_envs: int, num_layers: int, dim: int, num_heads: int, window: int, room: int, device):
        self.C = window - 1
        self.size = self.C + room
        self.inputs = torch.zeros((num_envs, num_layers, self.size, dim), device=device)
        self.keys, self.values = (torch.zeros((num_layers, num_envs, num_heads, self.size, dim // num_heads),
                                              device=device) for _ in range(2))
        self.steps = torch.zeros((num_envs, self.size), dtype=torch.long, device=device)
        self.episodes = torch.full((num_envs, self.size), -1, dtype=torch.long, device=device)
        self.pos = self.C  # where the next step goes
        self.episode_step = torch.zeros(num_envs, dtype=torch.long, device=device)
        self.episode_id = torch.arange(num_envs, device=device)  # unique per env and episode

    def start_rollout(self, agent):
        self.carry()
        self.refresh(agent)

    def window(self, envs=slice(None)):
        """The keys, values and mask of the C positions before ``pos`` (for ``envs``)."""
        window = slice(self.pos - self.C, self.pos)
        mask = self.episodes[envs, window] == self.episode_id[envs, None]
        return self.keys[:, envs, :, window], self.values[:, envs, :, window], mask

    @torch.no_grad()
    def step(self, agent, obs):
        """Every env's next step: its logits and value; the step's entry is stored."""
        if self.pos == self.size:
            self.carry()
        logits, value, inputs = agent.step(obs, *self.window(), self.episode_step)
        pos = self.pos
        self.inputs[:, :, pos], self.steps[:, pos], self.episodes[:, pos] = inputs, self.episode_step, self.episode_id
        for i in range(inputs.shape[1]):
            self.keys[i, :, :, pos:pos + 1], self.values[i, :, :, pos:pos + 1] = agent.keys_values(
                i, inputs[:, i, None], self.episode_step[:, None])
        self.pos += 1
        self.episode_step += 1
        return logits, value

    @torch.no_grad()
    def peek(self, agent, obs, envs=slice(None)):
        """The value of ``obs`` as the next step of ``envs``' current episodes, storing nothing (the
        bootstrap value of a truncated episode's final observation, or of a rollout's last one)."""
        return agent.step(obs, *self.window(envs), self.episode_step[envs])[1]

    def end_episodes(self, done):
        done = torch.as_tensor(done, device=self.episode_id.device)
        self.episode_step = torch.where(done, 0, self.episode_step)
        self.episode_id = torch.where(done, self.episode_id + len(done), self.episode_id)

    def carry(self):
        window = slice(self.pos - self.C, self.pos)
        self.inputs[:, :, :self.C] = self.inputs[:, :, window].clone()
        for buffer in (self.keys, self.values):
            buffer[..., :self.C, :] = buffer[..., window, :].clone()
        for buffer in (self.steps, self.episodes):
            buffer[:, :self.C] = buffer[:, window].clone()
        self.pos = self.C

    @torch.no_grad()
    def refresh(self, agent):
        for i in range(self.inputs.shape[1]):
            self.keys[i, ..., :self.C, :], self.values[i, ..., :self.C, :] = agent.keys_values(
                i, self.inputs[:, i, :self.C], self.steps[:, :self.C])

    def update_inputs(self, envs) -> dict:
        """``forward_rollouts``' memory arguments for the rollouts of ``envs`` (the T steps since
        the last ``carry``)."""
        C, P = self.C, self.pos
        return {"memory": self.inputs[envs, :, :P], "memory_steps": self.steps[envs, :P],
                "query_steps": self.steps[envs, C:P], "band": C,
                "mask": attention_mask(torch.arange(C, P, device=self.steps.device), self.episodes[envs, :P], C + 1)}


def step_inputs(memory: EpisodicMemory, env, t) -> dict:
    """``forward_rollouts``' memory arguments for single steps (step ``t[i]`` of env ``env[i]``), each a rollout of one
    step with its own window: the C positions before its own, C + t, masked to its episode."""
    C = memory.C
    pos = t[:, None] + torch.arange(C, device=t.device)  # (M, C): positions t .. t + C - 1
    query = C + t
    return {"memory": memory.inputs[env[:, None], :, pos].permute(0, 2, 1, 3),  # (M, L, C, D)
            "memory_steps": memory.steps[env[:, None], pos], "query_steps": memory.steps[env, query][:, None],
            "mask": (memory.episodes[env[:, None], pos] == memory.episodes[env, query][:, None])[:, None]}


def minibatch(b: dict, memory: EpisodicMemory, ids, T: int, single_steps: bool) -> dict:
    """The update's inputs for ``ids``: env ids (whole rollouts, (E', T, ...) tensors) or, with ``single_steps``, flat
    step ids ``env * T + t`` ((M, 1, ...) tensors)."""
    if not single_steps:
        return {k: index_obs(v, ids) for k, v in b.items()} | memory.update_inputs(ids)
    env, t = ids // T, ids % T
    return {k: {o: x[env, t][:, None] for o, x in v.items()} if isinstance(v, dict) else v[env, t][:, None]
            for k, v in b.items()} | step_inputs(memory, env, t)


def attention_mask(query_pos, entry_episode, window: int):
    """(E, T, P) bool: the entry at position p is visible to the query at position q iff it is one
    of the W-1 previous steps (q-W+1 <= p < q) of the same episode."""
    p = torch.arange(entry_episode.shape[1], device=entry_episode.device)
    q = query_pos[:, None]
    query_episode = entry_episode[:, query_pos]
    return (p < q) & (p >= q - window + 1) & (entry_episode[:, None, :] == query_episode[..., None])


# [shared: learner]
# The named steps of one iteration. The memory is the script's own (``EpisodicMemory`` or
# ``RecurrentMemory``), used through four calls: ``start_rollout(agent)``; ``step(agent, obs)`` ->
# logits, values (and remembers the step); ``peek(agent, obs, envs)`` -> values (remembers nothing);
# ``end_episodes(done)``. Storage is (T, E, ...): row t holds step t of every env.
#
#   step t:   obs[t] --memory.step--> action, logprob, value --env--> reward, terminated, truncated
#             rewards[t] = reward (+ gamma * V(final obs) if truncated, peeked before end_episodes)
#             dones[t]   = terminated or truncated (obs[t + 1] is then a new episode's first)

def rollout_storage(obs_space: gym.Space, num_steps: int, num_envs: int, num_branches: int, gt_dim: int,
                    device) -> dict:
    """Zeroed (T, E, ...) rollout tensors: obs (a dict of them for a Dict space), actions, logprobs, values, rewards,
    dones, ground_truth."""
    T, E = num_steps, num_envs
    if isinstance(obs_space, gym.spaces.Dict):
        obs = {k: torch.zeros((T, E) + s.shape, dtype=torch.as_tensor(s.sample()).dtype, device=device)
               for k, s in obs_space.spaces.items()}
    else:
        obs = torch.zeros((T, E) + obs_space.shape, dtype=torch.as_tensor(obs_space.sample()).dtype, device=device)
    return {"obs": obs, "actions": torch.zeros((T, E, num_branches), dtype=torch.long, device=device),
            "logprobs": torch.zeros((T, E, num_branches), device=device), "values": torch.zeros((T, E), device=device),
            "rewards": torch.zeros((T, E), device=device), "dones": torch.zeros((T, E), device=device),
            "ground_truth": torch.zeros((T, E, gt_dim), device=device)}


def collect_rollout(envs, agent, memory, buf: dict, next_obs, next_gt, episodes: EpisodeStatistics, gamma: float,
                    global_step: int, stop=lambda: False):
    """Fill ``buf`` with the next T steps of every env (stopping early when ``stop()``); returns next_obs, next_gt and
    the seconds spent in ``envs.step``."""
    T, E = buf["rewards"].shape
    device = buf["rewards"].device
    memory.start_rollout(agent)
    env_time = 0.0
    for step in range(T):
        if stop():
            break
        obs_t = to_torch(next_obs, device)
        if not finite(obs_t):
            raise NonFiniteObservation(f"a non-finite observation (NaN or infinity) after {global_step + step * E} "
                                       "steps")
        if isinstance(buf["obs"], dict):
            for k in buf["obs"]:
                buf["obs"][k][step] = obs_t[k]
        else:
            buf["obs"][step] = obs_t
        if next_gt is not None and buf["ground_truth"].shape[-1]:
            buf["ground_truth"][step] = torch.as_tensor(next_gt, dtype=torch.float32, device=device)
        logits, value = memory.step(agent, obs_t)
        with torch.no_grad():
            action, logprob = sample_actions(logits)
        buf["actions"][step], buf["logprobs"][step], buf["values"][step] = action, logprob, value
        env_t0 = time.time()
        next_obs, reward, terminated, truncated, info = envs.step(action.cpu().numpy() if action.shape[1] > 1
                                                                  else action[:, 0].cpu().numpy())
        env_time += time.time() - env_t0
        next_gt = info.get("ground_truth")
        done = np.logical_or(terminated, truncated)
        episodes.add(reward, done, info, global_step + (step + 1) * E)
        # Before end_episodes: the final observations are valued under the ending episodes' memory.
        buf["rewards"][step] = bootstrap_time_limits(
            torch.as_tensor(reward, dtype=torch.float32, device=device), terminated, truncated, info,
            lambda final_obs, envs_ids: memory.peek(agent, final_obs, envs_ids), gamma)
        done_t = torch.as_tensor(done, device=device)
        buf["dones"][step] = done_t.float()
        memory.end_episodes(done_t)
    return next_obs, next_gt, env_time


def bootstrap_time_limits(reward: torch.Tensor, terminated, truncated, info: dict, final_value, gamma: float):
    """``reward`` (E,) plus ``gamma * final_value(final_obs, env_ids)`` for the envs truncated (not terminated) in this
    step: a time limit ends the episode, not the task, so the return goes on from the final observation's value."""
    ids = np.flatnonzero(np.logical_and(truncated, np.logical_not(terminated)))
    if len(ids):
        final = info["final_obs"]
        final_obs = to_torch({k: np.stack([final[i][k] for i in ids]) for k in final[ids[0]]}
                             if isinstance(final[ids[0]], dict) else np.stack([final[i] for i in ids]), reward.device)
        idx = torch.as_tensor(ids, device=reward.device)
        reward[idx] += gamma * final_value(final_obs, idx)
    return reward


@torch.no_grad()
def compute_advantages(rewards, values, dones, next_value, gamma: float, gae_lambda: float):
    """GAE(lambda) over (T, E) tensors (``dones[t]``: step t ended its episode; a truncation's bootstrap is already in
    ``rewards[t]``), ``next_value`` (E,) the value after the last step -> (advantages, returns)."""
    T = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    lastgaelam = 0
    for t in reversed(range(T)):
        nextvalues = next_value if t == T - 1 else values[t + 1]
        nextnonterminal = 1.0 - dones[t]
        delta = rewards[t] + gamma * nextvalues * nextnonterminal - values[t]
        advantages[t] = lastgaelam = delta + gamma * gae_lambda * nextnonterminal * lastgaelam
    return advantages, advantages + values


class EpisodeStatistics:
    """The episodes of E envs: each env's running return and length; every ended episode's return (``reward``),
    ``length`` and the env's own episode statistics (its final info), kept for logging (``ended``) and the last 100
    for the progress line (``recent``)."""

    def __init__(self, num_envs: int, keep: int = 100):
        self.returns, self.lengths = np.zeros(num_envs), np.zeros(num_envs, dtype=np.int64)
        self.recent: deque = deque(maxlen=keep)
        self.ended: list[tuple[int, dict]] = []  # (global step, episode) since the last log

    def add(self, reward, done, info: dict, global_step: int) -> None:
        """One step of every env: its rewards (before any bootstrap), which episodes ended and the env's info."""
        self.returns += reward
        self.lengths += 1
        final_info = info.get("final_info", {})
        for i in np.flatnonzero(done):
            episode = {k: float(v[i]) for k, v in final_info.items()  # the env's own episode statistics
                       if not k.startswith("_") and np.ndim(v) == 1 and final_info[f"_{k}"][i]}
            episode["reward"], episode["length"] = self.returns[i], int(self.lengths[i])
            self.recent.append(episode)
            self.ended.append((global_step, episode))
            self.returns[i], self.lengths[i] = 0.0, 0

    def mean(self, key: str) -> float:
        values = [e[key] for e in self.recent if key in e]
        return float(np.mean(values)) if values else float("nan")


def log_iteration(writer, args, iteration: int, global_step: int, start: tuple[float, int], buf: dict,
                  advantages, returns, episodes: EpisodeStatistics, stats: dict, scalars: dict) -> None:
    """One iteration's TensorBoard scalars (every episode that ended in it, the losses ``stats``, ``scalars``) and its
    progress line. ``start``: the time and global step at which this process started training."""
    for step, episode in episodes.ended:
        writer.add_scalar("charts/episodic_return", episode["reward"], step)
        writer.add_scalar("charts/episodic_length", episode["length"], step)
    episodes.ended.clear()
    y_pred, y_true = buf["values"].flatten().cpu().numpy(), returns.flatten().cpu().numpy()
    var_y = np.var(y_true)
    explained_var = np.nan if var_y == 0 else 1 - np.var(y_true - y_pred) / var_y
    elapsed = time.time() - start[0]
    sps = int((global_step - start[1]) / elapsed)
    eta = (args.num_iterations * args.batch_size - global_step) / max(sps, 1)
    for k, v in {"charts/SPS": sps, **scalars}.items():
        writer.add_scalar(k, v, global_step)
    for k, v in stats.items():
        writer.add_scalar(f"losses/{k}", float(v), global_step)
    writer.add_scalar("losses/explained_variance", explained_var, global_step)
    writer.add_scalar("charts/value_mean", buf["values"].mean().item(), global_step)
    writer.add_scalar("charts/advantage_mean", advantages.mean().item(), global_step)
    if episodes.recent:
        for key in episodes.recent[-1]:
            if key not in ("reward", "length"):
                writer.add_scalar(f"episode/{key}", episodes.mean(key), global_step)
    print(f"iter {iteration}/{args.num_iterations} step {global_step} SPS {sps} elapsed "
          f"{datetime.timedelta(seconds=int(elapsed))} ETA {datetime.timedelta(seconds=int(eta))} "
          f"return {episodes.mean('reward'):.2f} length {episodes.mean('length'):.1f} "
          f"pi_loss {float(stats['policy_loss']):.3f} v_loss {float(stats['value_loss']):.3f} "
          f"entropy {float(stats['entropy']):.3f} (rollout {scalars['charts/rollout_time']:.1f}s of which env "
          f"{scalars['charts/env_time']:.1f}s, update {scalars['charts/update_time']:.1f}s)", flush=True)


class NonFiniteObservation(ValueError):
    """An env returned NaN or infinity in an observation (the policy's logits would be NaN)."""


def finite(obs) -> bool:
    return all(not x.is_floating_point() or bool(x.isfinite().all()) for x in (obs.values() if isinstance(obs, dict)
                                                                                else (obs,)))


def to_torch(obs, device):
    if isinstance(obs, dict):
        return {k: torch.as_tensor(v, device=device) for k, v in obs.items()}
    return torch.as_tensor(obs, device=device)


def index_obs(obs, idx):
    """``obs[idx]`` for a 1-d ``idx`` (each part of a dict). ``index_select`` copies whole rows: for images ~8x faster
    than indexing, which copies element by element."""
    return {k: v.index_select(0, idx) for k, v in obs.items()} if isinstance(obs, dict) else obs.index_select(0, idx)
# [end shared: learner]


# [shared: flags]
# --- plumbing: flags and --config (a reader can skip this part) -----------------------------------

def fail(message: str) -> typing.NoReturn:
    """Bad input: one clear line on stderr and a non-zero exit, no traceback."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


POSITIVE = (lambda v: v >= 1, "an int >= 1")
NON_NEGATIVE = (lambda v: v >= 0, "an int >= 0")
RATE = (lambda v: math.isfinite(v) and v > 0, "a finite number > 0")
COEF = (lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")
THREADS = (lambda v: 0 <= v <= 1024, "an int in [0, 1024]")
NAME = (lambda v: re.fullmatch(r"[\w+=,@-][\w.+=,@-]{0,99}", v) is not None, "a plain name of at most 100 letters, "
        "digits and . _ - + = , @ that does not start with a dot (it names files in the run directory)")
# [end shared: flags]
RULES = {  # every numeric or choice field: (test, what is allowed)
    "seed": (lambda v: 0 <= v < 2 ** 32, "an int in [0, 2**32 - 1]"), "exp_name": NAME, "torch_threads": THREADS,
    "num_envs": (lambda v: 1 <= v <= 2 ** 16, "an int in [1, 65536]"),  # (made before the memory check below)
    **dict.fromkeys(("total_timesteps", "num_steps", "anneal_steps", "num_minibatches", "update_epochs",
                     "trxl_num_layers", "trxl_num_heads", "trxl_dim", "trxl_memory_length"), POSITIVE),
    **dict.fromkeys(("checkpoint_interval", "backward_chunk_size"), NON_NEGATIVE),
    **dict.fromkeys(("init_lr", "clip_coef", "max_grad_norm"), RATE),
    **dict.fromkeys(("final_lr", "init_ent_coef", "final_ent_coef", "vf_coef", "reconstruction_coef",
                     "ground_truth_coef"), COEF),
    "gamma": (lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "gae_lambda": (lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    "target_kl": (lambda v: v is None or (math.isfinite(v) and v > 0), "None or a finite number > 0"),
    "trxl_positional_encoding": (lambda v: v in ("absolute", "learned", "none"), "absolute, learned or none"),
}
# [shared: config]
# Keys of --env-kwargs that the scripts set themselves when they make the envs.
RESERVED_ENV_KWARGS = ("num_envs", "render_mode", "autoreset_mode", "vectorization_mode", "vector_kwargs", "wrappers")


def config_value(where: str, name: str, value, hint):
    """A value that becomes a default (of a --config file, or a checkpoint's saved args) checked against the field's
    type (tyro does not check defaults); ``where`` names its source in the error."""
    allowed = typing.get_args(hint) or (hint,)  # `float | None` -> (float, NoneType)
    if name == "env_kwargs" and isinstance(value, dict):
        return json.dumps(value)  # reset parameters read better as a YAML mapping than as a JSON string
    for t in allowed:
        if (t is type(None) and value is None) or (t is bool and isinstance(value, bool)) \
                or (t is str and isinstance(value, str)) \
                or (t is int and isinstance(value, int) and not isinstance(value, bool)):
            return value
        if t is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if t is float and isinstance(value, str):  # YAML 1.1 reads `1e-5` (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    names = {bool: "true or false", type(None): "null"}
    fail(f"{where}: {name} must be {' or '.join(names.get(t, t.__name__) for t in allowed)}, got {value!r}"[:400])


def load_config(path: str) -> dict:
    """--config: a YAML mapping of Args fields (`init_lr` or `init-lr`) to values, checked."""
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as e:
        fail(f"--config: cannot read {path!r} ({e.strerror})")
    except UnicodeDecodeError as e:
        fail(f"--config {path}: not UTF-8 text ({e.reason} at byte {e.start})")
    except (yaml.YAMLError, RecursionError) as e:
        fail(f"--config {path}: not valid YAML ({' '.join(str(e).split())[:200]})")
    if not isinstance(data, (dict, type(None))):
        fail(f"--config {path}: expected a mapping of flag names to values, got {type(data).__name__}")
    hints = typing.get_type_hints(Args)
    valid = [name for name in hints if name not in ("config", "resume")]  # no nested config files
    values = {"config": path}  # recorded in the run's args
    for key, value in (data or {}).items():
        name = str(key).replace("-", "_")
        if name not in valid:
            close = difflib.get_close_matches(name, valid, n=1)
            fail(f"--config {path}: unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                 + f"; valid keys: {', '.join(valid)}")
        values[name] = config_value(f"--config {path}", name, value, hints[name])
    return values


def parse_args(argv: list[str], saved: dict | None = None) -> Args:
    """tyro, after two steps of our own: `--config PATH` (a YAML file whose values become the
    defaults, so flags given on the command line override them) is taken out, and `--flag=True` /
    `--flag False` (what wandb sweep agents pass) become tyro's `--flag` / `--no-flag`, for every
    boolean field. ``saved``: a resumed run's args, the defaults instead of the file's."""
    bools = {f.name for f in fields(Args) if f.type in (bool, "bool")}
    out, config, i = [], None, 0
    while i < len(argv):
        arg, value = argv[i], None
        name = arg[2:].split("=", 1)[0].replace("-", "_") if arg.startswith("--") else None
        if name == "config":
            if "=" in arg:
                config = arg.split("=", 1)[1]
            elif i + 1 < len(argv):
                config, i = argv[i + 1], i + 1
            else:
                fail("--config needs the path of a YAML file")
            i += 1
            continue
        if name in bools:
            if "=" in arg:
                value = arg.split("=", 1)[1]
            elif i + 1 < len(argv) and argv[i + 1].lower() in ("true", "false"):
                value, i = argv[i + 1], i + 1
        if value is not None:
            if value.lower() not in ("true", "false", "1", "0"):
                fail(f"--{name.replace('_', '-')} takes True or False, got {value!r}")
            out.append(f"--{'' if value.lower() in ('true', '1') else 'no-'}{name.replace('_', '-')}")
        else:
            out.append(arg)
        i += 1
    if saved is not None:
        if config is not None:
            fail("--config with --resume: a resumed run keeps its saved settings; give changes as flags")
        hints = typing.get_type_hints(Args)
        saved = {k: config_value("--resume: the checkpoint's args", k, v, hints[k])
                 for k, v in saved.items() if k in hints}
        return tyro.cli(Args, args=out, default=Args(**saved))
    if config is None:
        return tyro.cli(Args, args=out)
    return tyro.cli(Args, args=out, default=Args(**load_config(config)))
# [end shared: config]


def check_args(args: Args) -> None:
    """Every flag, before any work: one line naming the flag, its value and what is allowed."""
    for name, (test, allowed) in RULES.items():
        value = getattr(args, name)
        if not test(value):
            fail(f"--{name.replace('_', '-')} must be {allowed}, got {value!r}")
    env_spec(args.env_id)
    if args.trxl_dim % args.trxl_num_heads:
        fail(f"--trxl-dim ({args.trxl_dim}) must be divisible by --trxl-num-heads ({args.trxl_num_heads})")
    if args.trxl_positional_encoding == "absolute" and args.trxl_dim % 2:
        fail(f"--trxl-dim ({args.trxl_dim}) must be even for --trxl-positional-encoding absolute (sin and cos halves)")
    if args.single_step_minibatches and (args.num_envs * args.num_steps) % args.num_minibatches:
        fail(f"--num-envs x --num-steps ({args.num_envs * args.num_steps}) must be divisible by --num-minibatches "
             f"({args.num_minibatches}) with --single-step-minibatches")
    if not args.single_step_minibatches and args.num_envs % args.num_minibatches:
        fail(f"--num-envs ({args.num_envs}) must be divisible by --num-minibatches ({args.num_minibatches}): "
             "a minibatch holds whole env rollouts (or give --single-step-minibatches)")
    if args.total_timesteps < args.num_envs * args.num_steps:
        fail(f"--total-timesteps ({args.total_timesteps}) must be at least one batch: --num-envs x --num-steps "
             f"= {args.num_envs * args.num_steps}")
    env_kwargs(args)


# [shared: env kwargs and checkpoints]
def env_kwargs(args: Args) -> dict:
    """--env-kwargs: JSON, or a Python dict literal (how a wandb sweep agent renders a mapping value)."""
    try:
        kwargs = json.loads(args.env_kwargs) if args.env_kwargs else {}
    except RecursionError:
        fail("--env-kwargs is nested too deeply")
    except json.JSONDecodeError as e:
        try:
            kwargs = ast.literal_eval(args.env_kwargs)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            fail(f"--env-kwargs is not valid JSON ({e}): {args.env_kwargs[:200]!r}")
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        fail(f"--env-kwargs must be a JSON object of reset parameters (names to values), got {args.env_kwargs[:200]!r}")
    reserved = sorted(set(kwargs) & set(RESERVED_ENV_KWARGS))
    if reserved:
        fail(f"--env-kwargs: {', '.join(reserved)} is set by the script (use its flag, e.g. --num-envs), "
             "not a reset parameter")
    return kwargs


# --- plumbing: checkpoints and signals (a reader can skip this part) -------------------------------
# A checkpoint holds only tensors and plain Python values, so it loads with weights_only=True: a
# file that carries pickled code is refused before anything in it runs.
CHECKPOINT_FORMAT = 2  # 1: before 2026-12 (NumPy objects inside, loadable only by unpickling)


def training_state(agent, optimizer, args, iteration, global_step, wandb_id) -> dict:
    """A copy of everything a resume needs (taken after every completed iteration)."""
    np_rng = np.random.get_state()
    return {"format": CHECKPOINT_FORMAT, "script": os.path.basename(__file__), "args": asdict(args),
            "iteration": iteration, "global_step": global_step,
            "wandb_id": wandb_id, "model": {k: v.detach().clone() for k, v in agent.state_dict().items()},
            "optimizer": copy.deepcopy(optimizer.state_dict()),
            "rng": {"python": random.getstate(), "torch": torch.get_rng_state(),
                    "numpy": [np_rng[0], torch.from_numpy(np_rng[1].astype(np.int64)), *map(float, np_rng[2:])]}}


def restore_rng(rng: dict) -> None:
    name, keys, pos, has_gauss, gauss = rng["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), int(pos), int(has_gauss), gauss))
    random.setstate(rng["python"])
    torch.set_rng_state(rng["torch"])


def load_checkpoint(path: str, keys=("format", "args", "iteration", "global_step", "model", "optimizer", "rng")) -> dict:
    """A checkpoint (or, with other ``keys``, a saved model) read safely, or one line saying why not."""
    if not os.path.isfile(path):
        fail(f"no such checkpoint file {path!r}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        try:
            found = torch.serialization.get_unsafe_globals_in_checkpoint(path)  # reads the names, runs nothing
        except Exception:  # not a torch file at all
            fail(f"{path}: not a readable checkpoint (not a file written by torch.save)")
        unsafe = [g for g in found if not g.startswith("numpy")]
        if unsafe:
            fail(f"{path}: refused: it holds pickled objects ({', '.join(unsafe)}) that could run code when "
                 "loaded; the training scripts' checkpoints hold only tensors and plain values")
        fail(f"{path}: a checkpoint of an older version of the scripts (NumPy objects inside, format 1), which "
             "cannot be loaded safely; retrain, or load it yourself only if you trust its source")
    except Exception as e:  # empty, truncated, not a torch file
        fail(f"{path}: not a readable checkpoint ({type(e).__name__}: {' '.join(str(e).split())[:200]})")
    missing = [k for k in keys if not isinstance(data, dict) or k not in data]
    if missing:
        fail(f"{path}: not a checkpoint of the training scripts (missing {', '.join(missing)})")
    if data.get("format", CHECKPOINT_FORMAT) != CHECKPOINT_FORMAT:
        fail(f"{path}: checkpoint format {data['format']!r}; this version reads format {CHECKPOINT_FORMAT}")
    for key, value in data.items():  # what each value must be, before any of it is used
        test, allowed = CHECKPOINT_VALUES.get(key, (lambda v: True, ""))
        if not test(value):
            fail(f"{path}: damaged checkpoint: {key} must be {allowed}, got a {type(value).__name__}")
    return data


def tensors(x, name="") -> dict:
    """Every floating-point tensor inside nested dicts and lists, by path."""
    if isinstance(x, torch.Tensor):
        return {name: x} if x.is_floating_point() else {}
    items = x.items() if isinstance(x, dict) else enumerate(x) if isinstance(x, (list, tuple)) else ()
    return {k: v for key, item in items for k, v in tensors(item, f"{name}.{key}" if name else str(key)).items()}


def is_int(v, low=0) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


def is_rng_state(rng) -> bool:
    """``training_state``'s "rng": what ``restore_rng`` reads."""
    if not isinstance(rng, dict):
        return False
    python, numpy, torch_state = rng.get("python"), rng.get("numpy"), rng.get("torch")
    return (isinstance(torch_state, torch.Tensor) and torch_state.dtype == torch.uint8
            and isinstance(python, tuple) and len(python) == 3 and is_int(python[0]) and isinstance(python[1], tuple)
            and all(is_int(x) for x in python[1]) and isinstance(numpy, list) and len(numpy) == 5
            and isinstance(numpy[0], str) and isinstance(numpy[1], torch.Tensor) and numpy[1].shape == (624,)
            and all(isinstance(x, (int, float)) for x in numpy[2:]))


CHECKPOINT_VALUES = {  # the checkpoint's top-level values (a saved model: the model's), as training_state makes them
    "format": (is_int, "an int"), "script": (lambda v: isinstance(v, str), "a string"),
    "args": (lambda v: isinstance(v, dict) and all(isinstance(k, str) for k in v), "a dict of flag values"),
    "iteration": (is_int, "an int >= 0"), "global_step": (is_int, "an int >= 0"),
    "wandb_id": (lambda v: v is None or isinstance(v, str), "None or a string"),
    **dict.fromkeys(("model", "model_weights"), (lambda v: isinstance(v, dict) and all(
        isinstance(k, str) and isinstance(t, torch.Tensor) for k, t in v.items()), "a dict of tensors")),
    "optimizer": (lambda v: isinstance(v, dict) and isinstance(v.get("state"), dict)
                  and isinstance(v.get("param_groups"), list), "an optimizer state dict"),
    "rng": (is_rng_state, "the random generators' states"),
}


def atomic_save(obj, path: str) -> None:
    """Write, then rename: an interruption or a failed write (a full disk) never leaves a broken file in place of a good
    one, nor a partial temporary file."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)  # in memory first: a failed write is then an OSError that says why (torch's does not)
    try:
        with open(path + ".tmp", "wb") as f:
            f.write(buffer.getbuffer())
        os.replace(path + ".tmp", path)
    except BaseException:
        if os.path.exists(path + ".tmp"):
            os.remove(path + ".tmp")
        raise


def write_error(e: BaseException) -> str:
    """Why a write failed, in a few words."""
    return e.strerror if isinstance(e, OSError) and e.strerror else " ".join(str(e).split())[:200]


def tensor_bytes(x) -> int:
    """The bytes of every tensor in ``x`` (nested dicts, lists, tuples and plain objects' attributes)."""
    if isinstance(x, torch.Tensor):
        return x.numel() * x.element_size()
    if isinstance(x, dict):
        return sum(map(tensor_bytes, x.values()))
    if isinstance(x, (list, tuple)):
        return sum(map(tensor_bytes, x))
    return tensor_bytes(vars(x)) if hasattr(x, "__dict__") and not isinstance(x, nn.Module) else 0


def free_memory(device: torch.device) -> int | None:
    """Bytes the run can still allocate on ``device`` (None: unknown)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as f:
            return int(next(line for line in f if line.startswith("MemAvailable:")).split()[1]) * 1024
    except (OSError, StopIteration, ValueError):
        try:
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            return None



def free_cores(limit: int = 8) -> int:
    """The default number of torch threads: the cores this process may use minus the machine's load (its 1-minute
    average of running processes, rounded), at least 1 and at most ``limit``. On a quiet machine that is every core,
    the fastest setting; next to other work, only the cores that work leaves free, because one thread more than the
    free cores makes torch's threads wait for each other, slower than one thread (docs/benchmarks.md, Threads)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        busy = round(os.getloadavg()[0])
    except (AttributeError, OSError):  # no load average on this platform: assume half the cores are busy
        busy = cores // 2
    return max(1, min(limit, cores - busy))

class GuardedStdout:
    """Standard output that cannot stop a run: its first failed write (a full disk, a closed pipe) is one line on
    stderr and the rest goes to os.devnull; the run's results are in its directory."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except OSError as e:
            self.lost(e)
            return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as e:
            self.lost(e)

    def lost(self, e: OSError) -> None:
        print(f"warning: standard output failed ({e.strerror}); the run goes on without it", file=sys.stderr,
              flush=True)
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self.stream.fileno())  # what is still buffered goes there too
            os.close(null)
            self.stream.flush()
        except (OSError, ValueError):
            self.stream = open(os.devnull, "w")

    def __getattr__(self, name):
        return getattr(self.stream, name)


def claim_run_dir(run_dir: str, new: bool):
    """A run directory belongs to one process. A new run makes its own (``_2``, ``_3``, ... when another run of the
    same name started in the same second); every run then holds an exclusive lock on ``run_dir/.lock``, which the
    system releases when the process ends in any way, so a second writer (a concurrent --resume of the same
    checkpoint) is refused with the first one's process id. Also the first write: a directory that cannot be
    written is one line here, before anything else is."""
    import fcntl  # (POSIX; the scripts run on Linux and macOS)

    if new:
        base = run_dir
        os.makedirs(os.path.dirname(base), exist_ok=True)
        for n in range(2, 10_000):
            try:
                os.mkdir(run_dir)
                break
            except FileExistsError:
                run_dir = f"{base}_{n}"
    try:
        lock = open(os.path.join(run_dir, ".lock"), "a+")
    except OSError as e:
        fail(f"cannot write in the run directory {run_dir!r} ({e.strerror})")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.seek(0)
        fail(f"{run_dir} is in use by another run (process {lock.read().strip() or '?'}); wait for it to end or "
             "stop it first")
    try:
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
    except OSError as e:
        lock.close()
        if new:
            shutil.rmtree(run_dir, ignore_errors=True)
        fail(f"cannot write in the run directory {run_dir!r} ({e.strerror})")
    return run_dir, lock


class Checkpoints:
    """The last completed iteration, kept in memory and written to ``path`` when asked (every
    --checkpoint-interval iterations, at the end, on a crash, a non-finite loss or a signal).
    SIGINT/SIGTERM: the first stops the run after the iteration in progress (or at once during a
    rollout); a second writes the last completed iteration at once and exits."""

    def __init__(self, path: str, state: dict | None, on_exit=None):
        self.path, self.state, self.on_exit = path, state, on_exit
        self.written = state["global_step"] if state else None  # a resumed run's checkpoint is on disk
        self.signal = None
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, self.handle)
        sys.excepthook = self.crashed

    def save(self) -> None:
        """Write the last completed iteration (a failed write: one line, the previous checkpoint kept)."""
        error = self.write()
        if error:
            fail(f"cannot write the checkpoint ({error}): the run stops; {self.holds()}")

    @contextlib.contextmanager
    def writing(self, what: str):
        """Around a write of ``what`` other than the checkpoint: if it fails (a full disk), one line, after the last
        completed iteration is saved if it can be."""
        try:
            yield
        except OSError as e:
            error = self.write()
            fail(f"cannot write {what} ({write_error(e)}): the run stops; "
                 + (f"the checkpoint could not be written either ({error}); " if error else "") + self.holds())

    def write(self) -> str | None:
        """``save`` that returns why a write failed instead of stopping."""
        if self.state is not None and self.state["global_step"] != self.written:
            try:
                atomic_save(self.state, self.path)
            except OSError as e:
                return f"{self.path}: {write_error(e)}"
            self.written = self.state["global_step"]
        return None

    def holds(self) -> str:
        if self.written is not None:
            return f"{self.path} holds step {self.written}" + (", the last completed iteration" if
                                                                self.written == self.state["global_step"] else "")
        return "nothing was saved: no iteration had completed" if self.state is None else "no checkpoint was saved"

    def check_finite(self, values: dict, where: str) -> None:
        """Stop the run, keeping the last finite iteration on disk, if a loss, the gradient or the
        weights are not finite (before such weights can reach a checkpoint)."""
        if torch.stack([v.isfinite().all() for v in values.values()]).all():
            return
        bad = ", ".join(k for k, v in values.items() if not v.isfinite().all())
        self.save()
        fail(f"non-finite {bad} at {where}: the run stops ({self.holds()}); "
             "a lower --init-lr or --max-grad-norm may help")

    def crashed(self, kind, value, traceback):
        """An uncaught exception: the last completed iteration is written before the traceback."""
        error = self.write()
        sys.__excepthook__(kind, value, traceback)
        print((f"the checkpoint could not be written ({error}); " if error else "") + self.holds(), file=sys.stderr)

    def handle(self, signum, frame):
        name = signal.Signals(signum).name
        if self.signal is None:
            self.signal = signum
            print(f"\nreceived {name}: stopping after this iteration (again: stop at once)", flush=True)
            return
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_IGN)
        error = self.write()
        if self.on_exit:
            with contextlib.suppress(OSError):
                self.on_exit()
        print(f"\nreceived {name} again: stopped; " + (f"the checkpoint could not be written ({error}); " if error
                                                       else "") + self.holds(), flush=True)
        os._exit(128 + signum)
# [end shared: env kwargs and checkpoints]


# Fields that define the network or the batch: a resumed run must keep them.
ARCHITECTURE = ("env_id", "trxl_num_layers", "trxl_num_heads", "trxl_dim", "trxl_positional_encoding",
                "trxl_gating", "trxl_query_pe", "reconstruction_coef", "ground_truth_coef")
# [shared: resume]
BATCH = ("num_envs", "num_steps")


def resume_args(argv: list[str], saved: dict) -> Args:
    """--resume: the run continues with its saved args. Flags given with it may change what is safe
    to change (each change printed), never the network or the batch shape."""
    names = {f.name for f in fields(Args)}
    for field, script in (("trxl_dim", "ppo_trxl.py"), ("rnn_type", "ppo_gru.py")):  # a field of one script only
        if field in saved and field not in names:
            fail(f"--resume: the checkpoint was made by {script} (its args have {field}), not by "
                 f"{os.path.basename(__file__)}: continue it with python {script} --resume CHECKPOINT")
    args = parse_args(argv, saved)
    for f in fields(Args):
        before, now = saved.get(f.name, f.default), getattr(args, f.name)
        if f.name in ("resume", "batch_size", "minibatch_size", "num_iterations") or before == now:
            continue
        if f.name in ARCHITECTURE + BATCH:
            fail(f"--resume: --{f.name.replace('_', '-')} {now!r} differs from the run's {before!r}; a resumed run "
                 "keeps its network and batch shape (leave the flag out to continue as it was)")
        print(f"resume: {f.name} {before!r} -> {now!r}", flush=True)
    return args
# [end shared: resume]


if __name__ == "__main__":
    # [shared: setup]
    sys.stdout = GuardedStdout(sys.stdout)
    # TensorBoard writes in a thread; a failed write comes back in the main thread's next call, which says it in one
    # line, so the thread itself stays quiet about it.
    threading.excepthook = lambda a: None if issubclass(a.exc_type, OSError) else threading.__excepthook__(a)
    args = parse_args(sys.argv[1:])
    checkpoint = load_checkpoint(args.resume) if args.resume else None
    if checkpoint:
        args = resume_args(sys.argv[1:], checkpoint["args"])
        broken = [k for k, v in tensors({"model": checkpoint["model"], "optimizer": checkpoint["optimizer"]}).items()
                  if not v.isfinite().all()]
        if broken:
            fail(f"{args.resume}: non-finite values in the checkpoint ({', '.join(broken[:3])}"
                 f"{', ...' if len(broken) > 3 else ''}); continue from an earlier checkpoint")
    check_args(args)
    args.batch_size = int(args.num_envs * args.num_steps)
    args.minibatch_size = int(args.batch_size // args.num_minibatches)
    args.num_iterations = args.total_timesteps // args.batch_size
    start_iteration, global_step = (checkpoint["iteration"] + 1, checkpoint["global_step"]) if checkpoint else (1, 0)
    if start_iteration > args.num_iterations:
        fail(f"--resume: the run is at step {global_step}, --total-timesteps is {args.total_timesteps}; "
             "give a larger --total-timesteps to continue it")

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = args.torch_deterministic
    if args.torch_threads or "OMP_NUM_THREADS" not in os.environ:  # (torch itself reads OMP_NUM_THREADS)
        torch.set_num_threads(args.torch_threads or free_cores())
    device = torch.device("cuda" if torch.cuda.is_available() and args.cuda else "cpu")

    try:
        envs = make_env(args)
    except MemoryError as e:
        fail(f"--num-envs {args.num_envs}: not enough memory for the envs ({e})")
    gt_space = getattr(envs.unwrapped, "ground_truth_space", None)
    if args.ground_truth_coef > 0 and gt_space is None:
        fail(f"--ground-truth-coef needs an env whose info has ground_truth; {args.env_id} has none")
    if not isinstance(envs.single_action_space, (gym.spaces.Discrete, gym.spaces.MultiDiscrete)):
        fail(f"{args.env_id}: only Discrete and MultiDiscrete action spaces are supported")
    try:
        agent = Agent(args, envs.single_observation_space, envs.single_action_space,
                      gt_space.shape[0] if gt_space is not None else 0).to(device)
        optimizer = torch.optim.AdamW(agent.parameters(), lr=args.init_lr)
        if checkpoint:
            agent.load_state_dict(checkpoint["model"])
            optimizer.load_state_dict(checkpoint["optimizer"])
            restore_rng(checkpoint["rng"])
    except (ValueError, RuntimeError, KeyError, TypeError) as e:  # another env's spaces, a damaged checkpoint
        fail(f"{args.resume or args.env_id}: {' '.join(str(e).split())[:300]}")
    # The rollout storage and the memory's, the run's largest allocations: sized first on the meta device, so that a
    # batch or a memory too large for the machine is refused with the numbers before anything is allocated.
    gt_dim = gt_space.shape[0] if gt_space is not None else 0
    needed, available = tensor_bytes(rollout_buffers(args, agent, envs, gt_dim, "meta")), free_memory(device)
    if available is not None and needed > available:
        sizes = ", ".join(f"--{f.replace('_', '-')} {getattr(args, f)}" for f in SIZE_FLAGS)
        fail(f"the rollout storage needs {needed / 2 ** 30:.1f} GiB ({sizes}), more than the {available / 2 ** 30:.1f} "
             f"GiB of {device.type} memory available")
    try:
        buf, memory = rollout_buffers(args, agent, envs, gt_dim, device)
    except (RuntimeError, MemoryError) as e:
        fail(f"cannot allocate the rollout storage of {needed / 2 ** 30:.1f} GiB ({' '.join(str(e).split())[:200]})")

    # Only now, with every input checked, is anything written.
    env_name = args.env_id.rpartition(":")[2].replace("/", "-")  # (a namespaced id makes no subdirectory)
    run_dir = (os.path.dirname(os.path.abspath(args.resume)) if args.resume
               else f"runs/{env_name}__{args.exp_name}__{args.seed}__{int(time.time())}")
    try:
        run_dir, lock = claim_run_dir(run_dir, new=not args.resume)  # this process's until it ends
    except OSError as e:
        fail(f"cannot create the run directory {run_dir!r} ({e.strerror})")
    run_name = os.path.basename(run_dir)
    wandb_id = checkpoint.get("wandb_id") if checkpoint else None
    if args.track:
        import wandb

        wandb_id = wandb_id or secrets.token_hex(4)  # kept in checkpoints, so a resumed run continues it
        run = wandb.init(project=args.wandb_project_name, entity=args.wandb_entity, sync_tensorboard=True,
                         config=vars(args), name=run_name, id=wandb_id, resume="allow", save_code=True)
        print(f"tracking with wandb: {run.url or f'offline run {run.id} (wandb sync to upload)'}", flush=True)
    try:  # on resume, TensorBoard drops what the interrupted run logged after the checkpoint
        writer = SummaryWriter(run_dir, purge_step=global_step + 1 if checkpoint else None)
        if not checkpoint:
            writer.add_text("hyperparameters", "|param|value|\n|-|-|\n%s" % (
                "\n".join([f"|{key}|{value}|" for key, value in vars(args).items()])))
        writer.flush()
    except OSError as e:  # a full disk
        if not checkpoint:
            shutil.rmtree(run_dir, ignore_errors=True)
        fail(f"cannot write the TensorBoard log in {run_dir!r} ({write_error(e)})")
    if args.capture_video:
        envs = gym.wrappers.vector.RecordVideo(envs, f"videos/{run_name}", record_first_only=True)
    checkpoints = Checkpoints(f"{run_dir}/checkpoint.pt", checkpoint, on_exit=writer.flush)
    checkpoint = None  # the checkpoints object holds it now
    print(f"{'resuming' if start_iteration > 1 else 'starting'} {run_dir} at step {global_step}: "
          f"{args.num_iterations} iterations of {args.batch_size} steps", flush=True)
    # [end shared: setup]

    # Rollout storage (T, E, ...), the episodic memory, the episodes; the envs start fresh (also on --resume).
    E, T = args.num_envs, args.num_steps
    episodes = EpisodeStatistics(E)
    start = (time.time(), global_step)
    next_obs, info = envs.reset(seed=args.seed + 1000 * (start_iteration - 1))
    next_gt = info.get("ground_truth")
    iteration = start_iteration - 1
    for iteration in range(start_iteration, args.num_iterations + 1):
        # [shared: anneal and rollout]
        # Anneal the learning rate and the entropy coefficient.
        frac = min(1.0, global_step / args.anneal_steps)
        lr = args.init_lr + frac * (args.final_lr - args.init_lr)
        ent_coef = args.init_ent_coef + frac * (args.final_ent_coef - args.init_ent_coef)
        for group in optimizer.param_groups:
            group["lr"] = lr

        # Rollout: T steps of every env, the memory carried over from the last rollout.
        rollout_t0 = time.time()
        try:
            next_obs, next_gt, env_time = collect_rollout(envs, agent, memory, buf, next_obs, next_gt, episodes,
                                                          args.gamma, global_step,
                                                          stop=lambda: checkpoints.signal is not None)
        except NonFiniteObservation as e:  # a user env's bug: one line, the last completed iteration kept
            checkpoints.save()
            fail(f"{args.env_id}: {e}: the run stops ({checkpoints.holds()})")
        if checkpoints.signal is not None:  # stop now: the checkpoint holds the last completed iteration
            break
        global_step += E * T
        rollout_time = time.time() - rollout_t0
        # [end shared: anneal and rollout]

        # Advantages: GAE, bootstrapped from the next observation's value (its window holds the newest entries).
        next_value = memory.peek(agent, to_torch(next_obs, device))
        advantages, returns = compute_advantages(buf["rewards"], buf["values"], buf["dones"], next_value,
                                                 args.gamma, args.gae_lambda)

        # Update: epochs of minibatches of whole env rollouts (env-major tensors), or of single steps.
        update_t0 = time.time()
        env_major = lambda x: x.transpose(0, 1)  # noqa: E731
        b = {k: {o: env_major(v) for o, v in buf[k].items()} if isinstance(buf[k], dict) else env_major(buf[k])
             for k in ("obs", "actions", "logprobs", "values", "ground_truth")}
        b |= {"advantages": env_major(advantages), "returns": env_major(returns)}
        single = args.single_step_minibatches
        units, unit_steps = (E * T, 1) if single else (E, T)  # what is shuffled: steps or env rollouts
        per_mb = units // args.num_minibatches
        per_chunk = max(1, args.backward_chunk_size // unit_steps) if args.backward_chunk_size > 0 else per_mb
        clipfracs = []
        for epoch in range(args.update_epochs):
            perm = torch.randperm(units, device=device)
            for start_unit in range(0, units, per_mb):
                ids = perm[start_unit:start_unit + per_mb]
                adv = b["advantages"].reshape(E * T)[ids] if single else b["advantages"][ids]
                optimizer.zero_grad()
                stats = {}  # the minibatch's statistics: its chunks' weighted by their share of the steps
                for chunk in ids.split(per_chunk):
                    mb = minibatch(b, memory, chunk, T, single)
                    loss, chunk_stats = ppo_loss(agent, args, mb, ent_coef, adv.mean(),
                                                 adv.std() if len(adv) > 1 else adv.new_zeros(()))  # 1 step: 0
                    share = len(chunk) / len(ids)
                    (loss * share).backward()
                    for k, v in chunk_stats.items():
                        stats[k] = stats.get(k, 0.0) + v.detach() * share
                grad_norm = nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                checkpoints.check_finite({**stats, "gradient norm": grad_norm}, f"iteration {iteration}, epoch "
                                         f"{epoch + 1}, minibatch {start_unit // per_mb + 1}")
                clipfracs.append(stats["clipfrac"].item())
                optimizer.step()
            if args.target_kl is not None and stats["approx_kl"] > args.target_kl:
                break
        checkpoints.check_finite({"weights": torch.cat([p.detach().flatten() for p in agent.parameters()])},
                                 f"iteration {iteration}, after the update")
        update_time = time.time() - update_t0
        checkpoints.state = training_state(agent, optimizer, args, iteration, global_step, wandb_id)

        # Log and checkpoint.
        with checkpoints.writing(f"the TensorBoard log in {run_dir}"):
            log_iteration(writer, args, iteration, global_step, start, buf, advantages, returns, episodes,
                          stats | {"clipfrac": np.mean(clipfracs)},
                          {"charts/learning_rate": lr, "charts/entropy_coefficient": ent_coef,
                           "charts/rollout_time": rollout_time, "charts/env_time": env_time,
                           "charts/update_time": update_time})
        if checkpoints.signal is not None or (args.checkpoint_interval and iteration % args.checkpoint_interval == 0):
            checkpoints.save()
        if checkpoints.signal is not None:
            break

    # [shared: finish]
    checkpoints.save()
    if checkpoints.signal is not None:
        print(f"stopped; {checkpoints.holds()}" + (f"; continue with: python {os.path.basename(__file__)} --resume "
              f"{run_dir}/checkpoint.pt" if checkpoints.written is not None else ""), flush=True)
    elif args.save_model:
        model_path = f"{run_dir}/{args.exp_name}.cleanrl_model"
        with checkpoints.writing(f"the model {model_path}"):
            atomic_save({"model_weights": agent.state_dict(), "args": vars(args), "script": os.path.basename(__file__)},
                        model_path)
        print(f"model saved to {model_path}")
    envs.close()
    with checkpoints.writing(f"the TensorBoard log in {run_dir}"):
        writer.close()
    if args.track:
        wandb.finish()
    if checkpoints.signal is not None:
        sys.exit(128 + checkpoints.signal)
    # [end shared: finish]
