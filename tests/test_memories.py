"""Every memory registered in ppo_gru.py's ``MEMORIES`` (a user's own too) and the examples of
docs/using_the_scripts.md keep the interface's promises: the sequence form equals stepping one step at a time,
with episode starts inside the sequence and a non-zero initial state; nothing crosses an episode
start; gradients reach the initial state only until the first start; stacked layers too. Learning:
``ProofofMemory-v0`` is solved by each memory and not without memory (slow)."""
import os
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import ppo_gru  # noqa: E402



def documented_memories() -> dict:
    """The example memories of docs/using_the_scripts.md ("Your own memory"), run as the page shows them."""
    with open(os.path.join(ROOT, "docs", "using_the_scripts.md"), encoding="utf-8") as f:
        page = f.read()
    code = page.split("## Your own memory", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace = dict(vars(ppo_gru), MEMORIES={})
    exec(code, namespace)
    return namespace["MEMORIES"]


DOCUMENTED = documented_memories()
KINDS = [*ppo_gru.MEMORIES, *DOCUMENTED]
T, B, IN, HIDDEN = 9, 3, 5, 8
STARTS = torch.zeros(T, B, dtype=torch.bool)
STARTS[4, 0] = STARTS[2, 1] = STARTS[7, 1] = True  # env 2: no start inside; env 1: two


@pytest.fixture(autouse=True)
def register_the_documented_memories(monkeypatch):
    monkeypatch.setattr(ppo_gru, "MEMORIES", {**ppo_gru.MEMORIES, **DOCUMENTED})


def make(kind, layers=1):
    torch.manual_seed(0)
    memory = ppo_gru.make_memory(kind, IN, HIDDEN, layers).double()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(T, B, IN, generator=g, dtype=torch.double)
    state = torch.randn(B, memory.state_size, generator=g, dtype=torch.double) * 0.5  # not the initial state
    return memory, x, state


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("kind", KINDS)
def test_the_sequence_equals_stepping_one_step_at_a_time(kind, layers):
    memory, x, state = make(kind, layers)
    with torch.no_grad():
        out, final = memory(x, state, STARTS)
        stepped, s = [], state
        for t in range(T):
            o, s = memory(x[t:t + 1], s, STARTS[t:t + 1])
            stepped.append(o[0])
    assert out.shape == (T, B, HIDDEN) and final.shape == state.shape == (B, memory.state_size)
    assert torch.allclose(out, torch.stack(stepped), atol=1e-5, rtol=0)
    assert torch.allclose(final, s, atol=1e-5, rtol=0)
    # ... and the reset is the initial state: a start equals a new sequence from zeros
    with torch.no_grad():
        again, _ = memory(x[4:, :1], memory.initial_state(1, dtype=torch.double), STARTS[4:, :1] & False)
    assert torch.allclose(out[4:, :1], again, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_no_information_crosses_an_episode_start(kind):
    memory, x, state = make(kind, layers=2)
    changed_x, changed_state = x.clone(), state + 1.0
    changed_x[:4, 0] += 3.0  # env 0: everything before its start at step 4
    changed_x[:7, 1] -= 2.0  # env 1: everything before its last start at step 7
    with torch.no_grad():
        out, _ = memory(x, state, STARTS)
        other, _ = memory(changed_x, changed_state, STARTS)
    assert torch.allclose(out[4:, 0], other[4:, 0], atol=1e-10) and torch.allclose(out[7:, 1], other[7:, 1], atol=1e-10)
    assert not torch.allclose(out[:4, 0], other[:4, 0], atol=1e-6)  # (the change does reach the steps before)
    assert not torch.allclose(out[:, 2], other[:, 2], atol=1e-6)  # env 2 has no start: the state carries


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_reach_the_initial_state_only_before_the_first_start(kind):
    memory, x, state = make(kind)
    state.requires_grad_(True)
    out, _ = memory(x, state, STARTS)
    for env, first_start in ((0, 4), (1, 2)):
        before = torch.autograd.grad(out[:first_start, env].sum(), state, retain_graph=True)[0]
        after = torch.autograd.grad(out[first_start:, env].sum(), state, retain_graph=True)[0]
        assert before[env].abs().max() > 1e-8 and after.abs().max() == 0
        assert before[[e for e in range(B) if e != env]].abs().max() == 0  # nor to other envs' states
    grads = torch.autograd.grad(out.sum(), list(memory.parameters()), allow_unused=True)
    assert all(g is not None and torch.isfinite(g).all() for g in grads)  # every parameter learns


@pytest.mark.parametrize("kind", KINDS)
def test_an_agent_with_the_memory_steps_like_its_update(kind):
    """Through the agent: the rollout's steps (RecurrentMemory) give the update's values."""
    import gymnasium as gym

    args = ppo_gru.Args(num_envs=2, rnn_type=kind, rnn_hidden_size=8, hidden_layer_size=8)
    torch.manual_seed(0)
    agent = ppo_gru.Agent(args, gym.spaces.Box(-1, 1, (3,)), gym.spaces.Discrete(2), 0).double()
    memory = ppo_gru.RecurrentMemory(agent, 2, 6, True, "cpu")
    memory.state, memory.states = memory.state.double(), memory.states.double()
    obs = torch.randn(6, 2, 3, dtype=torch.double)
    stepped = torch.stack([memory.step(agent, obs[t])[1] for t in range(6)])
    with torch.no_grad():
        _, _, values = agent.forward_sequences(obs.reshape(12, 3), memory.states[0], torch.arange(12).view(6, 2).T,
                                               torch.ones(2, 6, dtype=torch.bool))
    assert torch.allclose(values.view(2, 6).T, stepped, atol=1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("kind", [k for k in ppo_gru.MEMORIES if k not in ("gru", "lstm", "framestack")])
def test_solves_proof_of_memory(kind, tmp_path):
    """The GRU's check (test_training_scripts.py) for every new memory: return >= 1.1 within 25k steps (the
    memory-less best is 0.28, ``--no-memory`` is checked there)."""
    from test_training_scripts import SCRIPTS, mean_final_return, only_run, run_script

    r = run_script("ppo_gru.py", SCRIPTS["ppo_gru.py"]["pom"] + ["--total-timesteps", "25000", "--seed", "1",
                                                                  "--checkpoint-interval", "0", "--rnn-type", kind],
                   tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert mean_final_return(only_run(tmp_path)) >= 1.1


def test_a_zoo_memory_through_config_checkpoint_resume_and_enjoy(tmp_path):
    """--rnn-type from a --config file; the checkpoint records it; --resume continues it and refuses another
    memory in one line; enjoy.py evaluates it; a sweep's `--rnn_type=X` and an unknown name."""
    import json
    import subprocess

    from test_training_scripts import only_run, run_script

    config = tmp_path / "lru.yaml"
    config.write_text(f"env_id: ProofofMemory-v0\nrnn_type: lru\nrnn_hidden_size: 16\nhidden_layer_size: 16\n"
                      f"num_envs: 8\nnum_steps: 32\nnum_minibatches: 2\ntotal_timesteps: 256\n")
    r = run_script("ppo_gru.py", ["--config", str(config)], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    checkpoint = os.path.join(only_run(tmp_path), "checkpoint.pt")
    assert torch.load(checkpoint, weights_only=True)["args"]["rnn_type"] == "lru"
    r = run_script("ppo_gru.py", ["--resume", checkpoint, "--rnn-type", "gru"], tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--rnn-type 'gru' differs from the run's 'lru'" in r.stderr
    r = run_script("ppo_gru.py", ["--resume", checkpoint, "--total-timesteps", "512"], tmp_path)
    assert r.returncode == 0 and "iter 2/2" in r.stdout, r.stderr[-2000:]
    out = tmp_path / "eval.json"
    e = subprocess.run([sys.executable, os.path.join(ROOT, "enjoy.py"), checkpoint, "--eval", "--num-seeds", "4",
                        "--output", str(out)], capture_output=True, text=True, cwd=tmp_path)
    assert e.returncode == 0, e.stderr[-2000:]
    assert json.loads(out.read_text())["summary"]["return"]["mean"] is not None
    assert ppo_gru.parse_args(["--rnn_type=mamba"]).rnn_type == "mamba"
    r = run_script("ppo_gru.py", ["--rnn-type", "transformer"], tmp_path)
    assert r.returncode == 2 and "--rnn-type must be gru or lstm or mingru or ffm or lru or mamba or gdn or " \
        "framestack, got 'transformer'" in r.stderr


def test_the_memory_sweep_covers_every_memory():
    import yaml

    with open(os.path.join(ROOT, "configs", "sweeps", "ppo_gru_memories_ProofofMemory-v0.yaml")) as f:
        sweep = yaml.safe_load(f)  # (its commands parse: tests/test_configs.py)
    assert sweep["method"] == "grid" and sweep["parameters"]["rnn_type"]["values"] == [
        k for k in ppo_gru.MEMORIES if k not in DOCUMENTED]
