"""PPO with a recurrent memory (truncated BPTT), for Memory Gym and any gymnasium env with discrete
actions (CleanRL style). The memory: a GRU (the paper's baseline), or any of the zoo behind one
interface (``--rnn-type``: lstm, mingru, ffm, lru, mamba, gdn; framestack, a window of 4 frames
without recurrence), or your own (``MEMORIES``).

    python ppo_gru.py --env-id Endless-MortarMayhem-v0
    python ppo_gru.py --env-id ProofofMemory-v0 --total-timesteps 25000 --num-envs 16 --num-steps 128 \
        --rnn-hidden-size 64 --hidden-layer-size 64 --update-epochs 4 --vf-coef 0.1 --max-grad-norm 0.5 \
        --init-lr 3e-4 --init-ent-coef 1e-3 --clip-coef 0.2

The agent (the paper's GRU baseline, arXiv 2309.17207): an encoder (Nature CNN for images, the
raw vector for vectors, both for Dict observations), an optional embedding layer, the memory (a
GRU by default), a post-memory layer, then separate policy and value layers and their heads. The
memory's state before every step is stored during the rollout and reset to zeros at episode
start. For the update, each env's rollout is cut into sequences at episode ends (optionally also
every ``--sequence-length`` steps); each sequence starts from its stored (stale) state. Minibatches
are shuffled sequences of roughly equal total steps, padded only to their longest sequence; the
encoder and every loss see real steps only, so padding never changes the loss
(``tests/test_ppo_gru.py`` checks it).

Outputs and conventions as ``ppo_trxl.py``: TensorBoard in ``runs/{run_name}``, ``--track``,
``--capture-video``, ``--save-model``, checkpoints every ``--checkpoint-interval`` iterations and
on SIGINT/SIGTERM, ``--resume runs/{run_name}/checkpoint.pt``.

The file reads top to bottom: Args, the envs, the memories, the agent, its loss and rollout memory, the learner's named
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
    init_lr: float = 2.5e-4
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
    """the number of mini-batches (of shuffled sequences, roughly equal in total steps)"""
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

    # Recurrent memory specific arguments
    rnn_type: str = "gru"
    """the memory: gru, lstm, mingru, ffm, lru, mamba, gdn (Gated DeltaNet) or framestack (the last 4 frames, no
    recurrence); docs/training.md"""
    rnn_hidden_size: int = 512
    """the size of the recurrent state"""
    rnn_num_layers: int = 1
    """the number of recurrent layers"""
    rnn_embedding: bool = True
    """a Linear(features, rnn_hidden_size) + ReLU embedding before the recurrent core"""
    hidden_layer_size: int = 512
    """the size of the post-memory layer and of the separate policy and value layers"""
    sequence_length: int = 0
    """cut episode pieces into sequences of at most this many steps for truncated BPTT; 0: whole pieces"""
    backward_chunk_size: int = 512
    """backpropagate a minibatch in chunks of sequences of similar length with at most this many steps
    (a longer sequence is a chunk of its own), accumulating the gradients: the same gradient with less
    padding and memory; 0: the whole minibatch at once"""
    memory: bool = True
    """if toggled off, the recurrent state is reset to zeros before every step (an agent without memory, for ablations)"""
    reconstruction_coef: float = 0.0
    """the coefficient of the observation reconstruction loss (decoder on the recurrent output); 0 disables it"""
    ground_truth_coef: float = 0.0
    """the coefficient of the ground-truth estimation loss (envs whose info has `ground_truth`); 0 disables it"""

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


# --- the memories: an initial state and one call over a sequence ---------------------------------
#
# Every memory is an nn.Module with ``state_size`` (floats per env) and one call:
#
#     out, state = memory(x, state, starts)
#         x       (T, B, in_features)   T steps of B sequences (the rollout: T = 1, B = every env)
#         state   (B, state_size)       the state before step 0 (``initial_state``: zeros)
#         starts  (T, B) bool           step t begins an episode: the state is reset before it
#         out     (T, B, hidden)        what the heads read;  state: the state after step T-1
#
#     state ──reset if starts[0]──► step 0 ──reset if starts[1]──► step 1 ── ... ──► state
#                                     │                              │
#                                   out[0]                         out[1]
#
# Resetting inside the call makes a sequence that crosses an episode start equal to stepping it one
# step at a time (tests/test_memories.py checks every registered memory). Padding after a
# sequence's last step never reaches its real steps: every memory is causal.

def reset(state: torch.Tensor, starts: torch.Tensor) -> torch.Tensor:
    """The state with the rows of envs whose episode starts now set to zeros (the initial state)."""
    return state * (~starts).to(state.dtype)[:, None]


class Memory(nn.Module):
    """The base of every memory: a subclass sets ``state_size`` and either implements ``step(x_t, state) -> (out_t,
    state)``, which this ``forward`` runs one step at a time (resetting at starts), or overrides ``forward`` with a
    sequence form."""

    state_size: int

    def initial_state(self, batch: int, device=None, dtype=None) -> torch.Tensor:
        return torch.zeros(batch, self.state_size, device=device, dtype=dtype)

    def forward(self, x, state, starts):
        outs = []
        for t in range(x.shape[0]):
            out, state = self.step(x[t], reset(state, starts[t]))
            outs.append(out)
        return torch.stack(outs), state


def linear_scan(a, b, h, starts):
    """h_t = a_t * h_{t-1} + b_t for every step of (T, B, ...) tensors (real or complex), from ``h``, the state reset
    to zeros before each step t with ``starts[t]``: all h_t, (T, B, ...). The diagonal memories' one recurrence."""
    keep = (~starts).to(a.dtype).view(starts.shape + (1,) * (a.dim() - 2))
    hs = []
    for t in range(a.shape[0]):
        h = a[t] * keep[t] * h + b[t]
        hs.append(h)
    return torch.stack(hs)


def init_recurrent(rnn: nn.Module) -> None:
    for name, param in rnn.named_parameters():
        if "bias" in name:
            nn.init.constant_(param, 0)
        elif "weight" in name:
            nn.init.orthogonal_(param, np.sqrt(2))


class TorchRNN(Memory):
    """torch's fused nn.GRU / nn.LSTM over the runs of steps between episode starts (one call when none is inside)."""

    def forward(self, x, state, starts):
        B, lstm = x.shape[1], isinstance(self, nn.LSTM)
        cuts = [0] + (torch.nonzero(starts[1:].any(1)).flatten() + 1).tolist() + [x.shape[0]]
        outs = []
        for a, b in zip(cuts, cuts[1:]):
            h = reset(state, starts[a]).view(B, self.num_layers, -1).transpose(0, 1)
            h = tuple(s.contiguous() for s in h.chunk(2, -1)) if lstm else h.contiguous()
            out, h = self.rnn_forward(x[a:b], h)
            state = (torch.cat(h, -1) if lstm else h).transpose(0, 1).reshape(B, -1)
            outs.append(out)
        return torch.cat(outs), state


class GRU(TorchRNN, nn.GRU):
    """GRU (Cho et al., arXiv 1406.1078), torch's: the paper's recurrent baseline. ``layers`` stacked."""

    def __init__(self, in_features: int, hidden: int, layers: int = 1):
        nn.GRU.__init__(self, in_features, hidden, num_layers=layers)
        init_recurrent(self)
        self.state_size = layers * hidden

    def rnn_forward(self, x, h):
        return nn.GRU.forward(self, x, h)


class LSTM(TorchRNN, nn.LSTM):
    """LSTM (Hochreiter and Schmidhuber, 1997), torch's; the state holds h and c side by side. ``layers`` stacked."""

    def __init__(self, in_features: int, hidden: int, layers: int = 1):
        nn.LSTM.__init__(self, in_features, hidden, num_layers=layers)
        init_recurrent(self)
        self.state_size = layers * 2 * hidden

    def rnn_forward(self, x, h):
        return nn.LSTM.forward(self, x, h)


class MinGRU(Memory):
    """minGRU (Feng et al., "Were RNNs all we needed?", arXiv 2410.01201): a GRU whose gate and candidate see only
    the input, so the recurrence is linear and diagonal:
        z_t = sigmoid(W_z x_t),   h_t = (1 - z_t) * h_{t-1} + z_t * (W_h x_t)
    Simplified: the candidate is linear (no log-space g(); the scan is not in log space)."""

    def __init__(self, in_features: int, hidden: int):
        super().__init__()
        self.gate_candidate = nn.Linear(in_features, 2 * hidden)
        self.state_size = hidden

    def forward(self, x, state, starts):
        z, candidate = self.gate_candidate(x).chunk(2, -1)
        z = torch.sigmoid(z)
        h = linear_scan(1 - z, z * candidate, state, starts)
        return h, h[-1]


def log_uniform(n: int, low: float, high: float) -> torch.Tensor:
    return torch.exp(torch.rand(n) * (math.log(high) - math.log(low)) + math.log(low))


def inverse_softplus(y: torch.Tensor) -> torch.Tensor:
    return y + torch.log(-torch.expm1(-y))


def complex_state(state: torch.Tensor) -> torch.Tensor:
    """A real (B, 2n) state as the complex (B, n) it stores (real parts, then imaginary parts)."""
    re, im = state.chunk(2, -1)
    return torch.complex(re, im)


def real_state(h: torch.Tensor) -> torch.Tensor:
    return torch.cat([h.real, h.imag], -1)


class LRU(Memory):
    """LRU, the Linear Recurrent Unit (Orvieto et al., arXiv 2303.06349): a diagonal complex linear recurrence,
        h_t = lambda * h_{t-1} + gamma * (B x_t),   y_t = GLU(GELU(Re(C h_t) + D x_t))
    with lambda = exp(-exp(nu) + i exp(theta)) (stable by construction; |lambda| initialised in [0.9, 0.999],
    phase in [0, pi/10]) and gamma = sqrt(1 - |lambda|^2). hidden / 2 complex states. Simplified: no layer norm,
    dropout or residual around the block (the agent's heads follow)."""

    def __init__(self, in_features: int, hidden: int, r_min: float = 0.9, r_max: float = 0.999,
                 max_phase: float = math.pi / 10):
        super().__init__()
        n = hidden // 2
        u1, u2 = torch.rand(n), torch.rand(n)
        self.nu_log = nn.Parameter(torch.log(-0.5 * torch.log(u1 * (r_max ** 2 - r_min ** 2) + r_min ** 2)))
        self.theta_log = nn.Parameter(torch.log(max_phase * u2))
        self.B = nn.Parameter(torch.randn(2, n, in_features) / math.sqrt(2 * in_features))
        self.C = nn.Parameter(torch.randn(2, hidden, n) / math.sqrt(n))
        self.D = nn.Linear(in_features, hidden)
        self.glu = nn.Linear(hidden, 2 * hidden)
        self.state_size = 2 * n

    def forward(self, x, state, starts):
        lam = torch.exp(torch.complex(-torch.exp(self.nu_log), torch.exp(self.theta_log)))
        gamma = torch.sqrt(1 - lam.abs() ** 2)
        bx = torch.complex(x @ self.B[0].T, x @ self.B[1].T) * gamma
        h = linear_scan(lam.expand_as(bx), bx, complex_state(state), starts)
        y = F.gelu(h.real @ self.C[0].T - h.imag @ self.C[1].T + self.D(x))
        a, g = self.glu(y).chunk(2, -1)
        return a * torch.sigmoid(g), real_state(h[-1])


class FFM(Memory):
    """FFM, Fast and Forgetful Memory (Morad et al., NeurIPS 2023, arXiv 2310.04128), built for RL: an aggregator
    of m traces at c frequencies that decays and rotates,
        S_t = gamma * S_{t-1} + (W_in x_t * sigmoid(W_g x_t)) 1^T,   gamma = exp(-|alpha| + i omega)  (m x c)
        y_t = LN(W_mix [Re S_t, Im S_t]) * o_t + W_skip x_t * (1 - o_t),   o_t = sigmoid(W_o x_t)
    with m = hidden / 4 traces, c = 4 frequencies (2 m c = 2 hidden floats of state); alpha spaced so that the
    traces' half-lives span 1 to 1,000 steps, omega evenly in [0, pi). Simplified: no learned initial state."""

    def __init__(self, in_features: int, hidden: int, context: int = 4):
        super().__init__()
        m = max(1, hidden // 4)
        self.m, self.c = m, context
        self.alpha = nn.Parameter(math.log(2) / torch.logspace(0, 3, m))
        self.omega = nn.Parameter(torch.linspace(0, math.pi, context + 1)[:-1])
        self.pre = nn.Linear(in_features, 2 * m)  # trace input and its gate
        self.mix = nn.Linear(2 * m * context, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.out = nn.Linear(in_features, 2 * hidden)  # output gate and skip
        self.state_size = 2 * m * context

    def forward(self, x, state, starts):
        T, B = x.shape[:2]
        value, gate = self.pre(x).chunk(2, -1)
        u = (value * torch.sigmoid(gate))[..., None].expand(T, B, self.m, self.c)
        gamma = torch.exp(torch.complex(-self.alpha.abs()[:, None].expand(self.m, self.c),
                                        self.omega[None, :].expand(self.m, self.c)))
        h = linear_scan(gamma.expand(T, B, self.m, self.c), u.to(gamma.dtype),
                        complex_state(state).view(B, self.m, self.c), starts)
        z = self.norm(self.mix(torch.cat([h.real, h.imag], -1).reshape(T, B, -1)))
        o, skip = self.out(x).chunk(2, -1)
        o = torch.sigmoid(o)
        return z * o + skip * (1 - o), real_state(h[-1].reshape(B, -1))


class Mamba(Memory):
    """Mamba's selective state space layer, S6 (Gu and Dao, arXiv 2312.00752), in its recurrent form: per channel d
    of u = SiLU(W_u RMSNorm(x)) (the block's pre-norm) an N-state SSM whose step size and projections depend on the
    input,
        h_t = exp(delta_t A) * h_{t-1} + delta_t B_t u_t,   y_t = C_t h_t + D u_t,   out_t = W_o (y_t * SiLU(W_z x_t))
    with A = -exp(A_log) (S4D-real init: A = -(1..N)), delta_t = softplus(W_delta u_t + b) (b set so that delta
    starts in [0.001, 0.1]), N = 16, channels = hidden. Simplified: no causal convolution before the SSM, a full-rank
    (not low-rank) delta projection, no expansion of the channels."""

    def __init__(self, in_features: int, hidden: int, n: int = 16, dt_range=(0.001, 0.1)):
        super().__init__()
        self.n, self.hidden = n, hidden
        self.norm = nn.RMSNorm(in_features)
        self.in_proj = nn.Linear(in_features, 2 * hidden)
        self.delta = nn.Linear(hidden, hidden)
        with torch.no_grad():
            self.delta.bias.copy_(inverse_softplus(log_uniform(hidden, *dt_range)))
        self.bc = nn.Linear(hidden, 2 * n, bias=False)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, n + 1, dtype=torch.float32)).repeat(hidden, 1))
        self.D = nn.Parameter(torch.ones(hidden))
        self.out_proj = nn.Linear(hidden, hidden)
        self.state_size = hidden * n

    def forward(self, x, state, starts):
        T, B = x.shape[:2]
        u, z = self.in_proj(self.norm(x)).chunk(2, -1)
        u = F.silu(u)
        delta = F.softplus(self.delta(u))
        Bt, Ct = self.bc(u).chunk(2, -1)
        a = torch.exp(delta[..., None] * -torch.exp(self.A_log))  # (T, B, hidden, n)
        h = linear_scan(a, (delta * u)[..., None] * Bt[:, :, None, :], state.view(B, self.hidden, self.n), starts)
        y = (h * Ct[:, :, None, :]).sum(-1) + self.D * u
        return self.out_proj(y * F.silu(z)), h[-1].reshape(B, -1)


class GatedDeltaNet(Memory):
    """Gated DeltaNet (Yang, Kautz and Hatamizadeh, arXiv 2412.06464): per head a matrix memory that decays and
    overwrites what it stored under a key (the delta rule),
        S_t = alpha_t S_{t-1} (I - beta_t k_t k_t^T) + beta_t v_t k_t^T,   o_t = S_t q_t
    with unit-norm q, k, beta_t = sigmoid(W_b x_t), alpha_t = exp(-exp(A_log) softplus(W_a x_t + b)) (Mamba2's
    gate); output W_o (RMSNorm(o_t) * SiLU(W_g x_t)). Heads of 32 dimensions (hidden / 32 heads).
    Simplified: no short convolutions, no chunked (WY) form: the update steps the recurrence."""

    def __init__(self, in_features: int, hidden: int, head_dim: int = 32, dt_range=(0.001, 0.1)):
        super().__init__()
        self.heads, self.d = max(1, hidden // head_dim), min(head_dim, hidden)
        self.qkvg = nn.Linear(in_features, 4 * self.heads * self.d)
        self.ab = nn.Linear(in_features, 2 * self.heads)
        self.A_log = nn.Parameter(torch.log(torch.empty(self.heads).uniform_(1, 16)))
        self.dt_bias = nn.Parameter(inverse_softplus(log_uniform(self.heads, *dt_range)))
        self.norm = nn.RMSNorm(self.d)
        self.out_proj = nn.Linear(self.heads * self.d, hidden)
        self.state_size = self.heads * self.d * self.d

    def forward(self, x, state, starts):
        T, B = x.shape[:2]
        q, k, v, g = self.qkvg(x).view(T, B, 4, self.heads, self.d).unbind(2)
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        a, b = self.ab(x).chunk(2, -1)
        alpha = torch.exp(-torch.exp(self.A_log) * F.softplus(a + self.dt_bias))[..., None, None]  # (T, B, heads, 1, 1)
        beta = torch.sigmoid(b)[..., None]  # (T, B, heads, 1)
        S, outs = state.view(B, self.heads, self.d, self.d), []  # S[b, h] is (d_v, d_k)
        for t in range(T):
            S = alpha[t] * reset(S.flatten(1), starts[t]).view_as(S)
            S = S + (beta[t] * (v[t] - (S @ k[t][..., None])[..., 0]))[..., None] * k[t][..., None, :]
            outs.append((S @ q[t][..., None])[..., 0])
        o = self.norm(torch.stack(outs)) * F.silu(g)
        return self.out_proj(o.reshape(T, B, -1)), S.reshape(B, -1)


class FrameStack(Memory):
    """No recurrent memory, a window: the last ``frames`` inputs side by side through one layer,
        out_t = ReLU(W [x_{t-3}, x_{t-2}, x_{t-1}, x_t])   (frames = 4; zeros before an episode's first step)
    The memory-less baseline of the paper's authors stacked 4 or 16 frames; here the window holds the encoder's
    features of each frame (each frame encoded on its own), so the agent and its settings stay the GRU's. The state
    is the previous frames - 1 inputs."""

    def __init__(self, in_features: int, hidden: int, frames: int = 4):
        super().__init__()
        self.in_features = in_features
        self.layer = nn.Linear(frames * in_features, hidden)
        self.state_size = (frames - 1) * in_features

    def step(self, x, state):
        window = torch.cat([state, x], -1)  # oldest first
        return F.relu(self.layer(window)), window[:, self.in_features:]


class Stacked(Memory):
    """``layers`` memories of one kind, each reading the one below; the state is theirs side by side."""

    def __init__(self, kind, in_features: int, hidden: int, layers: int):
        super().__init__()
        self.layers = nn.ModuleList(kind(in_features if i == 0 else hidden, hidden) for i in range(layers))
        self.sizes = [m.state_size for m in self.layers]
        self.state_size = sum(self.sizes)

    def forward(self, x, state, starts):
        states = []
        for layer, s in zip(self.layers, state.split(self.sizes, -1)):
            x, s = layer(x, s, starts)
            states.append(s)
        return x, torch.cat(states, -1)


# --rnn-type: a name for each memory. GRU and LSTM stack their layers themselves; the others are one layer each,
# stacked by ``Stacked`` for --rnn-num-layers > 1. Add your own: MEMORIES["name"] = YourMemory (docs/using_the_scripts.md).
MEMORIES = {"gru": GRU, "lstm": LSTM, "mingru": MinGRU, "ffm": FFM, "lru": LRU, "mamba": Mamba,
            "gdn": GatedDeltaNet, "framestack": FrameStack}


def make_memory(kind: str, in_features: int, hidden: int, layers: int) -> Memory:
    memory = MEMORIES[kind]
    if memory in (GRU, LSTM):
        return memory(in_features, hidden, layers)
    return memory(in_features, hidden) if layers == 1 else Stacked(memory, in_features, hidden, layers)


class Agent(nn.Module):
    def __init__(self, args: Args, observation_space: gym.Space, action_space: gym.Space, ground_truth_dim: int):
        super().__init__()
        self.image_key, self.vector_keys, features = observation_parts(observation_space)
        if self.image_key is not None:
            h, w, c = (observation_space[self.image_key] if self.image_key else observation_space).shape
            self.cnn = nn.Sequential(
                layer_init(nn.Conv2d(c, 32, 8, stride=4)), nn.ReLU(),
                layer_init(nn.Conv2d(32, 64, 4, stride=2)), nn.ReLU(),
                layer_init(nn.Conv2d(64, 64, 3, stride=1)), nn.ReLU(),
                nn.Flatten(),
            )
            with torch.no_grad():  # 64 * 7 * 7 for Memory Gym's 84x84 images
                features += self.cnn(torch.zeros(1, c, h, w)).shape[1]
        h = args.rnn_hidden_size
        self.embedding = nn.Sequential(layer_init(nn.Linear(features, h)), nn.ReLU()) if args.rnn_embedding else None
        self.rnn = make_memory(args.rnn_type, h if args.rnn_embedding else features, h, args.rnn_num_layers)
        d = args.hidden_layer_size
        self.body = nn.Sequential(layer_init(nn.Linear(h, d)), nn.ReLU())
        self.policy_layer = nn.Sequential(layer_init(nn.Linear(d, d)), nn.ReLU())
        self.value_layer = nn.Sequential(layer_init(nn.Linear(d, d)), nn.ReLU())
        self.nvec = action_space.nvec.tolist() if isinstance(action_space, gym.spaces.MultiDiscrete) else [action_space.n]
        self.actor_branches = nn.ModuleList(layer_init(nn.Linear(d, n), np.sqrt(0.01)) for n in self.nvec)
        self.critic = layer_init(nn.Linear(d, 1), 1)
        if args.reconstruction_coef > 0:
            if self.image_key is None or (observation_space[self.image_key] if self.image_key
                                          else observation_space).shape != (84, 84, 3):
                raise ValueError("--reconstruction-coef needs 84x84x3 image observations")
            self.transposed_cnn = ObservationDecoder(h)
        if args.ground_truth_coef > 0:
            self.ground_truth_head = layer_init(nn.Linear(h, ground_truth_dim), 1)

    @property
    def state_size(self) -> int:
        """Floats of the memory's state per env."""
        return self.rnn.state_size

    def image(self, obs):
        return obs if self.image_key == "" else obs[self.image_key]

    def encode(self, obs) -> torch.Tensor:
        """A flat batch of observations -> (N, features) (embedded when --rnn-embedding)."""
        parts, dtype = [], self.critic.weight.dtype
        if self.image_key is not None:
            img = self.image(obs)
            parts.append(self.cnn(img.permute(0, 3, 1, 2).to(dtype, copy=True).div_(255.0)))  # (in place: half the time)
        for key in self.vector_keys:
            parts.append((obs if key == "" else obs[key]).to(dtype))
        x = torch.cat(parts, dim=-1)
        return self.embedding(x) if self.embedding is not None else x

    def heads(self, memory_out):
        x = self.body(memory_out)
        logits = [branch(self.policy_layer(x)) for branch in self.actor_branches]
        return logits, self.critic(self.value_layer(x)).squeeze(-1)

    def step(self, obs, state):
        """Rollout: one step for every env from ``state`` (E, state_size). Returns logits, value, the new state."""
        x = self.encode(obs)[None]
        out, state = self.rnn(x, state, torch.zeros(x.shape[:2], dtype=torch.bool, device=x.device))
        logits, value = self.heads(out[0])
        return logits, value, state

    def forward_sequences(self, obs, initial_state, index, valid):
        """Update: ``index`` (S, L) flat step indices of S sequences padded to length L, ``valid``
        (S, L) which are real. The encoder runs on the real steps only; the recurrent core on the
        padded sequences from their stored initial states (padding sits at the end, after every real
        step, so it cannot change them). Returns the memory output, logits and values of the real
        steps, in ``index[valid]`` order."""
        flat = index[valid]
        x = self.encode(index_obs(obs, flat))
        padded = x.new_zeros(index.shape + x.shape[-1:])
        padded[valid] = x
        no_starts = torch.zeros(index.shape[::-1], dtype=torch.bool, device=x.device)  # a sequence starts from its state
        out, _ = self.rnn(padded.transpose(0, 1), initial_state, no_starts)
        out = out.transpose(0, 1)[valid]
        logits, value = self.heads(out)
        return out, logits, value



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


def build_sequences(dones: np.ndarray, sequence_length: int):
    """Cut each env's rollout into sequences: at episode ends (``dones[t, e]``: the episode ended
    with step t) and every ``sequence_length`` steps (0: no cut). Returns (env, start, length) rows."""
    num_steps, num_envs = dones.shape
    sequences = []
    for e in range(num_envs):
        start = 0
        for t in range(num_steps):
            length = t - start + 1
            if dones[t, e] or t == num_steps - 1 or (sequence_length > 0 and length == sequence_length):
                sequences.append((e, start, length))
                start = t + 1
    return np.array(sequences, dtype=np.int64).reshape(-1, 3)


def split_minibatches(sequences: np.ndarray, num_minibatches: int, rng: np.random.Generator):
    """Shuffle the sequences and deal them into minibatches of roughly equal total steps."""
    order = rng.permutation(len(sequences))
    total = sequences[:, 2].sum()
    bounds = np.cumsum(sequences[order, 2])
    groups = np.minimum((bounds - 1) * num_minibatches // total, num_minibatches - 1)
    return [order[groups == g] for g in range(num_minibatches) if np.any(groups == g)]


def backward_chunks(sequences: np.ndarray, chunk_size: int):
    """Sequences sorted by length, grouped into chunks of at most ``chunk_size`` steps (a longer
    sequence alone), so that padding each chunk to its longest sequence wastes little."""
    order = sequences[np.argsort(-sequences[:, 2], kind="stable")]
    if chunk_size <= 0:
        return [order]
    chunks, start, steps = [], 0, 0
    for i, length in enumerate(order[:, 2]):
        if steps and steps + length > chunk_size:
            chunks.append(order[start:i])
            start, steps = i, 0
        steps += length
    chunks.append(order[start:])
    return chunks


def padded_index(sequences: np.ndarray, num_envs: int):
    """(S, L) flat step indices (step t of env e -> t * num_envs + e) of sequences padded to the
    longest one, and the (S, L) mask of real steps."""
    longest = int(sequences[:, 2].max())
    offsets = np.arange(longest)
    valid = offsets[None, :] < sequences[:, 2:3]
    steps = sequences[:, 1:2] + np.where(valid, offsets[None, :], 0)
    return steps * num_envs + sequences[:, 0:1], valid


def ppo_loss(agent: Agent, args: Args, b: dict, sequences: np.ndarray, ent_coef: float, adv_mean=None, adv_std=None):
    """The PPO loss of a minibatch (or a chunk of one) of sequences; ``b`` holds the rollout flattened
    step-major. Every term is a mean over the real steps, so the chunks' losses weighted by their
    share of the steps add up to the minibatch's loss. ``adv_mean``/``adv_std``: the minibatch's
    advantage statistics for ``--norm-adv`` (default: these sequences')."""
    index, valid = padded_index(sequences, args.num_envs)
    index, valid = torch.as_tensor(index, device=b["values"].device), torch.as_tensor(valid, device=b["values"].device)
    initial_state = b["states"][index[:, 0]]
    out, logits, newvalue = agent.forward_sequences(b["obs"], initial_state, index, valid)
    flat = index[valid]
    newlogprob, entropy = evaluate_actions(logits, b["actions"][flat])
    logratio = newlogprob - b["logprobs"][flat]
    ratio = logratio.exp()
    advantages = b["advantages"][flat]
    if args.norm_adv:
        if adv_mean is None:
            adv_mean, adv_std = advantages.mean(), advantages.std()
        advantages = (advantages - adv_mean) / (adv_std + 1e-8)
    advantages = advantages[..., None]  # the same advantage for every action branch
    pg_loss = torch.max(-advantages * ratio, -advantages * ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)).mean()
    values, returns = b["values"][flat], b["returns"][flat]
    if args.clip_vloss:
        v_clipped = values + (newvalue - values).clamp(-args.clip_coef, args.clip_coef)
        v_loss = torch.max((newvalue - returns) ** 2, (v_clipped - returns) ** 2).mean()
    else:
        v_loss = ((newvalue - returns) ** 2).mean()
    entropy_loss = entropy.mean()
    loss = pg_loss - ent_coef * entropy_loss + args.vf_coef * v_loss
    stats = {"policy_loss": pg_loss, "value_loss": v_loss, "entropy": entropy_loss}
    if args.reconstruction_coef > 0:
        r_loss = reconstruction_loss(agent.transposed_cnn, out, agent.image(index_obs(b["obs"], flat)))
        loss = loss + args.reconstruction_coef * r_loss
        stats["reconstruction_loss"] = r_loss
    if args.ground_truth_coef > 0:
        gt_loss = F.mse_loss(agent.ground_truth_head(out), b["ground_truth"][flat])
        loss = loss + args.ground_truth_coef * gt_loss
        stats["ground_truth_loss"] = gt_loss
    with torch.no_grad():
        stats["old_approx_kl"] = (-logratio).mean()
        stats["approx_kl"] = ((ratio - 1) - logratio).mean()
        stats["clipfrac"] = ((ratio - 1.0).abs() > args.clip_coef).float().mean()
    return loss, stats


def rollout_buffers(args: Args, agent, envs, gt_dim: int, device):
    """The rollout storage (T, E, ...) and the recurrent memory (on the "meta" device: only their sizes)."""
    return (rollout_storage(envs.single_observation_space, args.num_steps, args.num_envs, len(agent.nvec), gt_dim,
                            device), RecurrentMemory(agent, args.num_envs, args.num_steps, args.memory, device))


SIZE_FLAGS = ("num_envs", "num_steps", "rnn_hidden_size")  # what the rollout storage grows with


class RecurrentMemory:
    """The memory's state of E envs during the rollout, and what the update reads: the state *before* every step
    (``states``, (T, E, state_size)), from which each of the update's sequences starts.

    ``step`` stores the state, advances it by one observation and returns the policy; ``peek`` values an observation
    from the current state without advancing it (the bootstrap of a truncated episode's final observation, or of the
    rollout's last one); ``end_episodes`` zeroes the state of envs whose episode ended, so a new episode starts from
    zeros. Without memory (``--no-memory``) every step starts from a zero state. ``enjoy.py`` uses it with
    ``num_steps=0`` (nothing stored).
    """

    def __init__(self, agent, num_envs: int, num_steps: int, enabled: bool, device):
        self.state = agent.rnn.initial_state(num_envs, device)
        self.states = torch.zeros((num_steps, *self.state.shape), device=device)
        self.enabled, self.t = enabled, 0

    def start_rollout(self, agent):
        self.t = 0

    @torch.no_grad()
    def step(self, agent, obs):
        if not self.enabled:
            self.state.zero_()
        if self.t < len(self.states):
            self.states[self.t] = self.state
        logits, value, self.state = agent.step(obs, self.state)
        self.t += 1
        return logits, value

    @torch.no_grad()
    def peek(self, agent, obs, envs=slice(None)):
        state = self.state[envs]
        return agent.step(obs, state if self.enabled else torch.zeros_like(state))[1]

    def end_episodes(self, done):
        self.state = reset(self.state, torch.as_tensor(done, device=self.state.device))


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
                     "rnn_hidden_size", "rnn_num_layers", "hidden_layer_size"), POSITIVE),
    **dict.fromkeys(("checkpoint_interval", "backward_chunk_size", "sequence_length"), NON_NEGATIVE),
    **dict.fromkeys(("init_lr", "clip_coef", "max_grad_norm"), RATE),
    **dict.fromkeys(("final_lr", "init_ent_coef", "final_ent_coef", "vf_coef", "reconstruction_coef",
                     "ground_truth_coef"), COEF),
    "gamma": (lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "gae_lambda": (lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    "target_kl": (lambda v: v is None or (math.isfinite(v) and v > 0), "None or a finite number > 0"),
    "rnn_type": (lambda v: v in MEMORIES, " or ".join(MEMORIES)),
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
    if args.num_minibatches > args.num_envs * args.num_steps:
        fail(f"--num-minibatches ({args.num_minibatches}) exceeds the batch of {args.num_envs * args.num_steps} steps")
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
ARCHITECTURE = ("env_id", "rnn_type", "rnn_hidden_size", "rnn_num_layers", "rnn_embedding", "hidden_layer_size",
                "reconstruction_coef", "ground_truth_coef")
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

    # The episodes; the envs start fresh (also on --resume).
    E, T = args.num_envs, args.num_steps
    episodes = EpisodeStatistics(E)
    sequence_length = args.sequence_length if args.memory else 1
    shuffle_rng = np.random.default_rng(args.seed + start_iteration)
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

        # Advantages: GAE, bootstrapped from the value of the observation after the rollout.
        next_value = memory.peek(agent, to_torch(next_obs, device))
        advantages, returns = compute_advantages(buf["rewards"], buf["values"], buf["dones"], next_value,
                                                 args.gamma, args.gae_lambda)

        # Update: epochs of minibatches of shuffled sequences (flat index of step t of env e: t * E + e).
        update_t0 = time.time()
        flat = lambda x: x.reshape((T * E,) + x.shape[2:])  # noqa: E731
        b = {k: {o: flat(v) for o, v in buf[k].items()} if isinstance(buf[k], dict) else flat(buf[k])
             for k in ("obs", "actions", "logprobs", "values", "ground_truth")}
        b |= {"advantages": flat(advantages), "returns": flat(returns),
              "states": memory.states.reshape(T * E, -1)}
        sequences = build_sequences(buf["dones"].cpu().numpy().astype(bool), sequence_length)
        clipfracs = []
        for epoch in range(args.update_epochs):
            for minibatch, mb in enumerate(split_minibatches(sequences, args.num_minibatches, shuffle_rng)):
                index, valid = padded_index(sequences[mb], E)
                adv = b["advantages"][torch.as_tensor(index[valid], device=device)]
                total = int(sequences[mb, 2].sum())
                optimizer.zero_grad()
                stats = {}  # the minibatch's statistics: its chunks' weighted by their share of the steps
                for chunk in backward_chunks(sequences[mb], args.backward_chunk_size):
                    loss, chunk_stats = ppo_loss(agent, args, b, chunk, ent_coef, adv.mean(),
                                                 adv.std() if len(adv) > 1 else adv.new_zeros(()))  # 1 step: 0
                    share = int(chunk[:, 2].sum()) / total
                    (loss * share).backward()
                    for k, v in chunk_stats.items():
                        stats[k] = stats.get(k, 0.0) + v.detach() * share
                grad_norm = nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                checkpoints.check_finite({**stats, "gradient norm": grad_norm}, f"iteration {iteration}, epoch "
                                         f"{epoch + 1}, minibatch {minibatch + 1}")
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
                           "charts/update_time": update_time, "charts/sequences": len(sequences)})
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
