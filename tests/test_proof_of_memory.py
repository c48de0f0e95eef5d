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
