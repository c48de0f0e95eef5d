"""ProofofMemory-v0: the memory check of CleanRL's PPO-TrXL (its cleanrl/ppo_trxl/pom_env.py, see
docs/provenance.md), under the same id."""
import gymnasium as gym
import numpy as np
import pytest


def run(seed, policy):
    env = gym.make("ProofofMemory-v0")
    obs, _ = env.reset(seed=seed)
    observations, rewards = [obs], []
    while True:
        obs, reward, terminated, truncated, info = env.step(policy(observations))
        observations.append(obs)
        rewards.append(reward)
        if terminated or truncated:
            return observations, rewards, terminated, truncated, info


def remember(observations):
    return int(observations[0][2] > 0)  # walk towards the good goal shown at the start


def forget(observations):
    return int(observations[0][2] < 0)  # walk to the bad goal


@pytest.mark.parametrize("seed", range(10))
def test_cues_are_visible_in_the_first_three_observations_and_the_agent_is_frozen(seed):
    observations, *_ = run(seed, remember)
    cues = [tuple(o[[0, 2]]) for o in observations]
    assert cues[0] in ((-1.0, 1.0), (1.0, -1.0)) and cues[1] == cues[2] == cues[0]
    assert all(c == (0.0, 0.0) for c in cues[3:])
    assert observations[0][1] == observations[1][1] == observations[2][1]  # frozen for two steps
    assert round(float(observations[0][1]), 4) in (-0.4, -0.2, 0.0, 0.2, 0.4)
    assert abs(observations[3][1] - observations[2][1]) == pytest.approx(0.2)


@pytest.mark.parametrize("seed", range(10))
def test_returns(seed):
    observations, rewards, terminated, truncated, info = run(seed, remember)
    start = float(observations[0][1])
    good_right = observations[0][2] > 0
    moves = round(((1.0 - start) if good_right else (1.0 + start)) / 0.2)
    assert terminated and not truncated and info["success"] == 1
    assert rewards == [0.0, 0.0] + [-0.1] * (moves - 1) + [1.6]
    assert info["reward"] == pytest.approx(1.6 - 0.1 * (moves - 1)) and info["length"] == moves + 2
    observations, rewards, terminated, _, info = run(seed, forget)
    assert terminated and info["success"] == 0 and rewards[-1] == -1.6


def test_mean_return_of_a_remembering_agent_is_about_1_2():
    returns = [run(seed, remember)[4]["reward"] for seed in range(400)]
    assert np.mean(returns) == pytest.approx(1.2, abs=0.05)


def test_time_limit_truncates():
    observations, rewards, terminated, truncated, info = run(0, lambda obs: len(obs) % 2)  # left, right, ...
    assert truncated and not terminated and info["length"] == 16 and info["success"] == 0


def test_the_best_memory_less_policy_is_as_documented():
    """Every deterministic memory-less policy, run exactly on the task's own step function: 2^9 ways to act on the
    9 inner cells once the cue is gone (the first move sees the cue, so it goes to the good side) x the 10 starts
    (5 cells x 2 sides). The best returns 0.28 with success 0.70: what the env's docstring and docs say."""
    import itertools
    import os

    from memory_gym_envs.proof_of_memory import ProofOfMemory

    policies = np.array(list(itertools.product((0, 1), repeat=9)))  # action at cells 1..9
    starts = [(cell, right) for cell in range(3, 8) for right in (False, True)]
    n = len(policies) * len(starts)
    task = ProofOfMemory(n)
    task.reset(np.arange(n), {"max_steps": 16}, [np.random.default_rng(0) for _ in range(n)])
    task.cell[:] = np.tile([c for c, _ in starts], len(policies))
    task.good_right[:] = np.tile([r for _, r in starts], len(policies))
    policy = np.repeat(policies, len(starts), axis=0)
    done = np.zeros(n, bool)
    while not done.all():
        inner = np.clip(task.cell, 1, 9) - 1
        actions = np.where(task.t <= 2, task.good_right, policy[np.arange(n), inner]).astype(np.int64)
        _, terminated, truncated = task.step(actions, ~done)
        done |= terminated | truncated
    returns = task.ep_return.reshape(len(policies), len(starts)).mean(1)
    success = task.success.reshape(len(policies), len(starts)).mean(1)
    best = int(np.argmax(returns))
    assert round(returns[best], 2) == 0.28 and round(success[best], 2) == 0.70 and success.max() == success[best]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for page in ("memory_gym_envs/proof_of_memory.py", "docs/envs/proof_of_memory.md"):
        text = " ".join(open(os.path.join(root, page)).read().split())
        assert "0.28" in text and "0.70" in text, page
        assert "memory-less agent cannot" not in text and "memory-less one cannot" not in text, page
        assert "memory-less one about 0" not in text, page
