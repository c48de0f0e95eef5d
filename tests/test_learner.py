"""The learner's named steps, pinned: ``compute_advantages`` (by hand and against an independent
recursion), the time-limit bootstrap inside ``collect_rollout`` (the ending episode's memory, for
TrXL, GRU and LSTM), ``EpisodeStatistics`` (ends in the same step, across rollouts and --resume),
and the recorded losses and episode statistics of six short runs (``learner_regression.py``).
The two scripts share these steps letter for letter (test_shared_blocks.py), so each test runs on
both where it can."""
import json
import os
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import ppo_gru  # noqa: E402
import ppo_trxl  # noqa: E402
from clock_env import ClockEnv  # noqa: E402

SCRIPTS = {"ppo_trxl": ppo_trxl, "ppo_gru": ppo_gru}


# --- advantages ------------------------------------------------------------------------------------

# 3 envs x 4 steps, gamma = lambda = 0.5. Env 0: terminated after step 1, a new episode from step 2.
# Env 1: truncated after step 2 (reward 1 plus the bootstrap gamma * V(final obs) = 0.5 * 3, already
# in rewards), a new episode from step 3. Env 2: one episode throughout.
REWARDS = [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [2.0, 2.5, 1.0], [1.0, 0.0, 1.0]]
VALUES = [[0.5, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 2.0, 0.0], [2.0, 1.0, 0.0]]
DONES = [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0]]
NEXT_VALUE = [4.0, 2.0, 0.0]
# By hand, delta_t = r_t + 0.5 * V_{t+1} * (1 - d_t) - V_t and A_t = delta_t + 0.25 * (1 - d_t) * A_{t+1}:
# env 0: A_3 = 1 + 2 - 2 = 1; A_2 = (2 + 1 - 0) + 0.25 = 3.25; A_1 = 0 - 1 = -1 (terminated: nothing
#        after it counts); A_0 = (1 + 0.5 - 0.5) + 0.25 * -1 = 0.75
# env 1: A_3 = 0 + 1 - 1 = 0; A_2 = 2.5 - 2 = 0.5 (ended: no V_3); A_1 = (1 + 1 - 1) + 0.125 = 1.125;
#        A_0 = (0 + 0.5 - 1) + 0.28125 = -0.21875
# env 2: A_3 = 1; A_2 = 1.25; A_1 = 1.3125; A_0 = 1.328125
ADVANTAGES = [[0.75, -0.21875, 1.328125], [-1.0, 1.125, 1.3125], [3.25, 0.5, 1.25], [1.0, 0.0, 1.0]]


@pytest.mark.parametrize("script", SCRIPTS)
def test_advantages_and_returns_by_hand(script):
    t = lambda x: torch.tensor(x, dtype=torch.float64)  # noqa: E731
    advantages, returns = SCRIPTS[script].compute_advantages(t(REWARDS), t(VALUES), t(DONES), t(NEXT_VALUE), 0.5, 0.5)
    assert advantages.tolist() == ADVANTAGES  # exact: every number is a sum of powers of two
    assert returns.tolist() == (t(ADVANTAGES) + t(VALUES)).tolist()


def gae_by_lambda_returns(rewards, values, dones, next_value, gamma, lam):
    """Independent: per env, the lambda-return G_t = r_t + gamma (1 - d_t) ((1 - lam) V_{t+1} + lam G_{t+1}),
    bootstrapped with the value after the last step; the advantage is G_t - V_t."""
    T, E = rewards.shape
    advantages = np.zeros((T, E))
    for e in range(E):
        following_return, following_value = next_value[e], next_value[e]
        for t in reversed(range(T)):
            g = rewards[t, e] + gamma * (1 - dones[t, e]) * ((1 - lam) * following_value + lam * following_return)
            advantages[t, e] = g - values[t, e]
            following_return, following_value = g, values[t, e]
    return advantages


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("seed", range(5))
def test_gae_equals_the_lambda_return_recursion_on_random_rollouts(script, seed):
    rng = np.random.default_rng(seed)
    T, E = 23, 6
    rewards, values, next_value = rng.normal(size=(T, E)), rng.normal(size=(T, E)), rng.normal(size=E)
    dones = (rng.random((T, E)) < 0.2).astype(float)
    gamma, lam = rng.uniform(0.8, 1.0), rng.uniform(0.0, 1.0)
    advantages, returns = SCRIPTS[script].compute_advantages(
        *(torch.tensor(x) for x in (rewards, values, dones, next_value)), gamma, lam)
    expected = gae_by_lambda_returns(rewards, values, dones, next_value, gamma, lam)
    assert np.allclose(advantages.numpy(), expected, atol=1e-6, rtol=0)
    assert np.allclose(returns.numpy(), expected + values, atol=1e-6, rtol=0)


# --- the time-limit bootstrap and the episode statistics, through collect_rollout ----------------

GAMMA = 0.9
LENGTHS, TERMINATE = (4, 4, 3), (False, True, False)  # envs 0 and 1 end in the same steps


def clock_envs():
    return gym.vector.SyncVectorEnv([lambda n=n, d=d: ClockEnv(n, d) for n, d in zip(LENGTHS, TERMINATE)],
                                    autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)


def make_learner(kind: str, T: int):
    """(module, agent, memory) for 3 Clock envs: TrXL (window 3 < episodes, so the window slides) or a memory of
    ppo_gru.py."""
    torch.manual_seed(0)
    space, actions = ClockEnv.observation_space, ClockEnv.action_space
    if kind == "trxl":
        args = ppo_trxl.Args(trxl_num_layers=2, trxl_num_heads=2, trxl_dim=16, trxl_memory_length=3)
        agent = ppo_trxl.Agent(args, space, actions, 0)
        return ppo_trxl, agent, ppo_trxl.EpisodicMemory(3, 2, 16, 2, 3, T, "cpu")
    args = ppo_gru.Args(rnn_type=kind, rnn_hidden_size=8, hidden_layer_size=8)
    agent = ppo_gru.Agent(args, space, actions, 0)
    return ppo_gru, agent, ppo_gru.RecurrentMemory(agent, 3, T, True, "cpu")


def episode_value(kind, module, agent, episode_obs, final_obs):
    """V(final_obs) as the next step of an episode that saw ``episode_obs`` (none: a new episode), computed
    without the rollout: the GRU/LSTM stepped from a zero state; the TrXL stepped through a fresh memory."""
    with torch.no_grad():
        if kind == "trxl":
            memory = ppo_trxl.EpisodicMemory(1, 2, 16, 2, 3, len(episode_obs) + 1, "cpu")
            for obs in episode_obs:
                memory.step(agent, obs[None])
            return memory.step(agent, final_obs[None])[1].item()
        state = torch.zeros(1, agent.state_size)
        for obs in episode_obs:
            _, _, state = agent.step(obs[None], state)
        return agent.step(final_obs[None], state)[1].item()


def run_rollouts(kind, T=8, rollouts=2):
    module, agent, memory = make_learner(kind, T)
    envs = clock_envs()
    next_obs, _ = envs.reset(seed=5)
    episodes = module.EpisodeStatistics(3)
    bufs = []
    for i in range(rollouts):
        buf = module.rollout_storage(envs.single_observation_space, T, 3, 1, 0, "cpu")
        next_obs, _, _ = module.collect_rollout(envs, agent, memory, buf, next_obs, None, episodes, GAMMA, 3 * T * i)
        bufs.append({k: v.clone() for k, v in buf.items()})
    return module, agent, {k: torch.cat([b[k] for b in bufs]) for k in bufs[0]}, episodes


@pytest.fixture
def float64():
    torch.set_default_dtype(torch.float64)  # agents and rollout storage: a memory's small effect at init is resolved
    yield
    torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("kind", ["trxl", *ppo_gru.MEMORIES])  # TrXL, GRU, LSTM and every memory of the zoo
def test_bootstrap_values_a_truncated_final_observation_under_the_ending_episodes_memory(kind, float64):
    module, agent, buf, _ = run_rollouts(kind)
    checked = 0
    for e in (0, 2):  # the truncated envs; episodes of a fixed length from the first step
        length = LENGTHS[e]
        for start in range(0, len(buf["rewards"]) - length + 1, length):
            end = start + length - 1
            obs = buf["obs"][start:end + 1, e]
            cue = obs[0, 1].item()
            reward = float(buf["actions"][end, e, 0].item() == int(cue > 0))
            final_obs = torch.tensor([length / 10, 0.0, 1.0]).to(obs.dtype)
            ending = episode_value(kind, module, agent, obs, final_obs)
            following = episode_value(kind, module, agent, [], final_obs)  # the next episode's memory
            # The three cases can be told apart: the stored reward is float32 (about 1e-7 here), the memory's
            # effect at init at least 10x that (Mamba's is the smallest: its steps start small).
            assert abs(ending - following) > 5e-6 and abs(ending) > 1e-3
            assert buf["rewards"][end, e].item() == pytest.approx(reward + GAMMA * ending, abs=5e-7)
            assert buf["dones"][end, e] == 1
            checked += 1
    assert checked == 16 // 4 + 16 // 3  # every truncation of both rollouts, the carried-over memory included


@pytest.mark.parametrize("kind", ["trxl", "gru"])
def test_a_terminated_step_gets_no_bootstrap(kind):
    _, _, buf, _ = run_rollouts(kind)
    cues = buf["obs"][::4, 1, 1]  # env 1: terminated episodes of 4 steps
    actions = buf["actions"][:, 1, 0]
    raw = (actions == (cues.repeat_interleave(4) > 0).long()).float()
    assert torch.equal(buf["rewards"][:, 1], raw)  # every step, the last of each episode included
    assert buf["dones"][:, 1].tolist() == [0, 0, 0, 1] * 4


@pytest.mark.parametrize("kind", ["trxl", "gru"])
def test_episode_statistics_across_same_step_ends_and_rollouts(kind):
    _, _, buf, episodes = run_rollouts(kind, T=7, rollouts=3)  # 21 steps: episodes span the rollouts
    expected = []
    for step in range(21):
        for e in range(3):  # in env order within a step, as the envs report them
            length = LENGTHS[e]
            if (step + 1) % length == 0:
                start = step + 1 - length
                cue = buf["obs"][start, e, 1].item()
                raw = (buf["actions"][start:step + 1, e, 0] == int(cue > 0)).sum().item()
                expected.append((3 * (step + 1), {"cue": cue, "reward": float(raw), "length": length}))
    assert [(s, {k: e[k] for k in ("cue", "reward", "length")}) for s, e in episodes.ended] == expected
    assert [s for s, _ in expected][:3] == [9, 12, 12]  # env 2 alone, then envs 0 and 1 in the same step
    assert len(episodes.recent) == len(expected) and episodes.mean("length") == np.mean([e["length"] for _, e in expected])
    # Running statistics of the episodes still in progress: 21 steps, lengths 4, 4, 3.
    assert episodes.lengths.tolist() == [1, 1, 0]


def test_episode_statistics_keep_the_envs_own_keys_only_where_they_are_set():
    stats = ppo_gru.EpisodeStatistics(3)
    info = {"final_info": {"success": np.array([1.0, 0.0, 0.0]), "_success": np.array([True, False, True]),
                           "image": np.zeros((3, 2, 2)), "_image": np.array([True, True, True])}}
    stats.add(np.array([1.0, 2.0, 3.0]), np.array([False, False, False]), {}, 3)
    stats.add(np.array([0.5, 0.5, 0.5]), np.array([True, False, True]), info, 6)
    assert stats.ended == [(6, {"success": 1.0, "reward": 1.5, "length": 2}),
                           (6, {"success": 0.0, "reward": 3.5, "length": 2})]
    assert stats.returns.tolist() == [0.0, 2.5, 0.0] and stats.lengths.tolist() == [0, 2, 0]


@pytest.mark.parametrize("script", ["ppo_trxl.py", "ppo_gru.py"])
def test_episode_statistics_across_resume(script, tmp_path):
    """Episodes of exactly 5 steps: the run logs each whole episode once at the step it ended, the
    episode cut by the end of the first process is dropped (the resumed run's envs start afresh)."""
    from learner_regression import CLOCK
    from test_training_scripts import only_run, run_script, scalars

    flags = CLOCK + ["--env-kwargs", '{"length": 5, "terminate": false}', "--checkpoint-interval", "0"]
    flags += ["--trxl-num-layers", "1", "--trxl-dim", "8", "--trxl-num-heads", "1", "--trxl-memory-length", "4"] \
        if script == "ppo_trxl.py" else ["--rnn-hidden-size", "8", "--hidden-layer-size", "8"]
    first = run_script(script, flags, tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    run_dir = only_run(tmp_path)
    resumed = run_script(script, ["--resume", os.path.join(run_dir, "checkpoint.pt"), "--total-timesteps", "512"],
                         tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    lengths = scalars(run_dir, "charts/episodic_length")
    # 4 envs x 64 steps per process: 12 whole episodes each, ending at env steps 5, 10, ..., 60.
    per_process = [4 * 5 * k for k in range(1, 13) for _ in range(4)]
    assert [s for s, _ in lengths] == per_process + [256 + s for s in per_process]
    assert {v for _, v in lengths} == {5.0}
    assert all(0 <= v <= 5 for _, v in scalars(run_dir, "charts/episodic_return"))
    assert [s for s, _ in scalars(run_dir, "episode/cue")] == [128, 256, 384, 512]


# --- same losses and episode statistics as before the learner was split into steps ---------------

@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n.endswith("pom") else n
                                  for n in ["trxl_pom", "gru_pom", "trxl_clock", "gru_clock", "lstm_clock",
                                            "gru_clock_no_memory"]])
def test_losses_and_episode_statistics_match_the_recorded_runs(name, tmp_path):
    import learner_regression

    with open(learner_regression.PATH) as f:
        recorded = json.load(f)[name]
    got = learner_regression.run(name, str(tmp_path))
    # Before 2026-12-05 losses/clipfrac was written twice per iteration (the last minibatch's, then the
    # iteration's mean); it is now written once, the mean.
    recorded["losses/clipfrac"] = recorded["losses/clipfrac"][1::2]
    assert sorted(got) == sorted(recorded)
    for tag, values in recorded.items():
        assert [s for s, _ in got[tag]] == [s for s, _ in values], tag
        assert np.allclose([v for _, v in got[tag]], [v for _, v in values], rtol=1e-5, atol=1e-7), tag
