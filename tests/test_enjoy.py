"""enjoy.py: evaluation JSON on unseen seeds for checkpoints and saved models of both scripts, episodes
that are functions of their seeds, memory handled exactly as in training, videos and the window,
the statistics, bad input."""
import json
import os

import numpy as np
import pytest
import torch

from test_training_scripts import run_script  # first: puts the repository root on sys.path

import enjoy  # noqa: E402
import ppo_gru  # noqa: E402
import ppo_trxl  # noqa: E402

SCRIPTS = ("ppo_trxl", "ppo_gru")
TOP_KEYS = {"model", "script", "env_id", "env_kwargs", "global_step", "actions", "num_seeds", "repeats",
            "start_seed", "seeds", "summary", "episodes"}
STAT_KEYS = {"mean", "mean_ci95", "iqm", "iqm_ci95", "std", "min", "max"}


def training_seeds(checkpoint):
    """The seeds a run that was never resumed reset its envs with: seed + i (ppo_*.py)."""
    args = checkpoint["args"]
    return {args["seed"] + i for i in range(args["num_envs"])}


@pytest.mark.parametrize("script", SCRIPTS)
def test_eval_writes_the_documented_json_on_unseen_seeds(script, tiny_runs, tmp_path):
    checkpoint_path = os.path.join(tiny_runs[script], "checkpoint.pt")
    r = run_script("enjoy.py", [checkpoint_path, "--eval", "--num-seeds", "6", "--repeats", "2", "--num-envs", "5",
                                "--output", str(tmp_path / "out" / "eval.json")], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "return" in r.stdout and "IQM" in r.stdout and "success" in r.stdout
    result = json.load(open(tmp_path / "out" / "eval.json"))
    assert set(result) == TOP_KEYS
    assert (result["script"], result["env_id"], result["global_step"], result["actions"]) == \
        (f"{script}.py", "ProofofMemory-v0", 2048, "greedy")
    assert result["seeds"] == list(range(100_000, 100_006))
    assert not set(result["seeds"]) & training_seeds(torch.load(checkpoint_path, weights_only=True))
    episodes = result["episodes"]
    assert sorted((e["seed"], e["repeat"]) for e in episodes) == [(s, k) for s in result["seeds"] for k in range(2)]
    assert set(result["summary"]) == {"return", "length", "success"}  # the env's final info: success
    for key, stats in result["summary"].items():
        values = [e[key] for e in episodes]
        assert set(stats) == STAT_KEYS
        assert stats["mean"] == pytest.approx(np.mean(values))
        assert stats["min"] <= stats["mean_ci95"][0] <= stats["mean"] <= stats["mean_ci95"][1] <= stats["max"]
        assert stats["min"] <= stats["iqm_ci95"][0] <= stats["iqm_ci95"][1] <= stats["max"]


def test_a_saved_model_with_sampled_actions(tiny_runs, tmp_path, capsys):
    model = os.path.join(tiny_runs["ppo_gru"], "ppo_gru.cleanrl_model")
    enjoy.main([model, "--eval", "--sample", "--num-seeds", "4", "--repeats", "3", "--start-seed", "200000",
                "--output", str(tmp_path / "eval.json")])
    result = json.load(open(tmp_path / "eval.json"))
    assert (result["actions"], result["global_step"], result["seeds"]) == ("sampled", None, [200000 + k for k in range(4)])
    assert len(result["episodes"]) == 12 and "written to" in capsys.readouterr().out


@pytest.mark.parametrize("script", SCRIPTS)
def test_episodes_are_functions_of_their_seeds(script, tiny_runs):
    """However many envs share the work, an episode is the same (a seeded reset per episode, the
    memory reset with it); greedy repeats of a seed play the same episode."""
    path = os.path.join(tiny_runs[script], "checkpoint.pt")
    module, args, weights, step = enjoy.load(path)
    results = [enjoy.evaluate(module, args, weights, step, enjoy.parse_args(
        [path, "--eval", "--num-seeds", "5", "--repeats", "2", "--num-envs", n]), torch.device("cpu"))["episodes"]
        for n in ("1", "3")]
    assert results[0] == results[1]
    by_seed = {}
    for e in results[0]:
        by_seed.setdefault(e["seed"], []).append({k: v for k, v in e.items() if k != "repeat"})
    assert all(a == b for a, b in by_seed.values())
    assert len({e["length"] for e in results[0]}) > 1  # different seeds, different episodes


class Recorder:
    """Wraps enjoy's memory: logs every reset mask and every step's observations and logits."""

    def __init__(self, memory):
        self.memory, self.log = memory, []

    def end_episodes(self, mask):
        self.log.append(("reset", mask.copy()))
        self.memory.end_episodes(mask)

    def step(self, agent, obs):
        logits, value = self.memory.step(agent, obs)
        self.log.append(("step", obs.clone(), logits[0].clone()))
        return logits, value

    def episodes(self):
        """Per env and episode: (observations, logits) as the rollout saw them."""
        done, current = [], {}
        for entry in self.log:
            if entry[0] == "reset":
                for i in np.flatnonzero(entry[1]):
                    if current.get(i):
                        done.append(current[i])
                    current[i] = []
            else:
                for i in current:
                    current[i].append((entry[1][i], entry[2][i]))
        done += [c for c in current.values() if c]
        return [(torch.stack([o for o, _ in ep]), torch.stack([lg for _, lg in ep])) for ep in done]


def trxl_reference(agent, obs, window):
    """The logits of a whole episode in one pass, every layer's inputs recomputed (nothing cached):
    step t attends to steps t-W+1 .. t-1 of its own episode (W = window; 1: nothing)."""
    T = len(obs)
    steps = torch.arange(T)[None]
    q, p = torch.arange(T)[:, None], torch.arange(T)[None]
    mask = ((p < q) & (p >= q - window + 1))[None]
    qpe = agent.positional_encoding(steps) if agent.query_pe and agent.pe_kind != "none" else None
    x = agent.encode(obs[None])
    for i, layer in enumerate(agent.layers):
        k, v = agent.keys_values(i, x, steps)
        x = layer(x, k, v, mask, qpe)
    return agent.heads(x[0])[1][0]


def recurrent_reference(agent, obs, memory=True):
    """The update's forward over the whole episode as one sequence from a zero state."""
    T = len(obs)
    zero = torch.zeros(1, agent.state_size)
    if not memory:  # every step from a zero state
        return torch.cat([agent.forward_sequences(obs[t:t + 1], zero, torch.zeros(1, 1, dtype=torch.long),
                                                  torch.ones(1, 1, dtype=torch.bool))[1][0] for t in range(T)])
    return agent.forward_sequences(obs, zero, torch.arange(T)[None], torch.ones(1, T, dtype=torch.bool))[1][0]


@pytest.fixture
def float64():
    torch.set_default_dtype(torch.float64)  # agents and memory buffers: comparisons at 1e-10
    yield
    torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("variant", ["trxl", "trxl_learned_pe", "gru", "lstm"])
def test_memory_matches_the_whole_episode_forward(variant, float64):
    """enjoy's stepping (TrXL: ppo_trxl.py's EpisodicMemory, the sliding window of cached keys and
    values, its buffer carried over every 3 steps here; GRU/LSTM: the state, reset per episode) gives the same logits as the whole
    episode computed at once, and these differ from a memory-less agent's."""
    torch.manual_seed(0)
    kwargs = {"max_steps": 30}  # long enough for the window (W = 4) to slide
    envs = enjoy.make_eval_envs(ppo_gru, "ProofofMemory-v0", 3, kwargs)
    if variant.startswith("trxl"):
        module = ppo_trxl
        args = ppo_trxl.Args(env_id="ProofofMemory-v0", trxl_num_layers=2, trxl_num_heads=2, trxl_dim=16,
                             trxl_memory_length=4, trxl_query_pe=True,
                             trxl_positional_encoding="learned" if variant.endswith("pe") else "absolute")
        agent = ppo_trxl.Agent(args, envs.single_observation_space, envs.single_action_space, 0)
        memory = ppo_trxl.EpisodicMemory(envs.num_envs, 2, 16, 2, 4, 3, torch.device("cpu"))  # the script's own
        reference = lambda obs, memory=True: trxl_reference(agent, obs, 4 if memory else 1)  # noqa: E731
    else:
        module = ppo_gru
        args = ppo_gru.Args(env_id="ProofofMemory-v0", rnn_type=variant, rnn_hidden_size=8, hidden_layer_size=8)
        agent = ppo_gru.Agent(args, envs.single_observation_space, envs.single_action_space, 0)
        memory = ppo_gru.RecurrentMemory(agent, envs.num_envs, 0, True, torch.device("cpu"))  # the script's own
        reference = lambda obs, memory=True: recurrent_reference(agent, obs, memory)  # noqa: E731
    for branch in agent.actor_branches:  # logits of order 1 (the init's are ~0.01): differences show
        torch.nn.init.normal_(branch.weight)
    recorder = Recorder(memory)
    # Sampled actions: a random agent's greedy walks end after ~7 steps; sampled ones last longer.
    records = enjoy.play(module, envs, agent, recorder, [(100_000 + k, 0) for k in range(8)], False,
                         torch.device("cpu"))
    episodes = recorder.episodes()
    assert len(records) == 8 and {r["length"] for r in records} <= {len(o) for o, _ in episodes}
    assert max(len(o) for o, _ in episodes) > 8
    gap = 0.0
    with torch.no_grad():
        for obs, logits in episodes:
            assert torch.allclose(logits, reference(obs), atol=1e-10, rtol=0)
            gap = max(gap, (logits - reference(obs, memory=False)).abs().max().item())
    assert gap > 1e-3  # the memory matters: the test would see it mishandled


def test_video_and_window(tiny_runs, tmp_path, capsys):
    path = os.path.join(tiny_runs["ppo_trxl"], "checkpoint.pt")
    enjoy.main([path, "--video", str(tmp_path / "videos"), "--episodes", "2"])
    out = capsys.readouterr().out
    videos = sorted(os.listdir(tmp_path / "videos"))
    assert videos == ["ProofofMemory-v0__ppo_trxl-episode-0.mp4", "ProofofMemory-v0__ppo_trxl-episode-1.mp4"]
    assert all(os.path.getsize(tmp_path / "videos" / v) > 1000 for v in videos)
    assert "seed 100000: return" in out and "seed 100001: return" in out and "episode-1.mp4" in out
    enjoy.main([path, "--render", "human", "--start-seed", "100005"])  # SDL's dummy video driver in tests
    assert capsys.readouterr().out.startswith("seed 100005: return")


def test_statistics():
    assert enjoy.iqm(np.arange(1.0, 9.0)) == 4.5  # the middle four of 1..8
    assert enjoy.iqm(np.array([0.0, 0.0, 0.0, 100.0])) == 0.0  # robust to an outlier
    rng = np.random.default_rng(1)
    values = rng.normal(size=(40, 1))
    one = enjoy.summarize(values, np.random.default_rng(0))
    assert one["mean_ci95"][0] < values.mean() < one["mean_ci95"][1]
    assert one["mean_ci95"][1] - one["mean_ci95"][0] == pytest.approx(2 * 1.96 / np.sqrt(40), rel=0.25)
    # Identical repeats add no information: the seeds are resampled, so the intervals stay the same.
    three = enjoy.summarize(np.repeat(values, 3, axis=1), np.random.default_rng(0))
    assert three["mean_ci95"] == pytest.approx(one["mean_ci95"]) and three["mean"] == pytest.approx(one["mean"])
    constant = enjoy.summarize(np.full((5, 3), 2.0), np.random.default_rng(0))
    assert constant["mean_ci95"] == [2.0, 2.0] and constant["iqm"] == 2.0 and constant["std"] == 0.0


def bad_inputs(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    torch.save({"weights": {}}, tmp_path / "other.pt")
    torch.save({"model": {}, "args": {"seed": 1}}, tmp_path / "foreign.pt")
    return [
        (["x.pt"], "nothing to do: give --eval, --render human or --video DIR"),
        (["missing.pt", "--eval"], "no such checkpoint file 'missing.pt'"),
        (["notes.txt", "--eval"], "notes.txt: not a readable checkpoint"),
        (["other.pt", "--eval"], "not a checkpoint of the training scripts (missing args)"),
        (["foreign.pt", "--eval"], "its args are from neither ppo_trxl.py nor ppo_gru.py"),
        (["x.pt", "--eval", "--repeats", "0"], "--repeats must be an int in [1, 1000], got 0"),
        (["x.pt", "--render", "human", "--video", "v"], "not allowed with argument"),
        (["x.pt", "--render", "window"], "invalid choice: 'window'"),
    ]


def test_bad_input_is_one_clear_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for argv, message in bad_inputs(tmp_path):
        with pytest.raises(SystemExit) as e:
            enjoy.main(argv)
        err = capsys.readouterr().err
        assert e.value.code != 0 and err.count("\n") == 1 and message in err, (argv, err)


def test_bad_reset_parameter_is_one_clear_line(tiny_runs, capsys):
    with pytest.raises(SystemExit):
        enjoy.main([os.path.join(tiny_runs["ppo_gru"], "checkpoint.pt"), "--eval", "--env-kwargs", '{"max_stepz": 3}'])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown reset parameter 'max_stepz'" in err
