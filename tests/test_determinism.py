"""Same seed and actions give identical observations, rewards and infos, in every episode."""
import gymnasium as gym
import pytest

import memory_gym_envs
from helpers import assert_same, random_actions

IDS = list(memory_gym_envs.ENVS)


def rollout(env, seed, actions, options=None):
    out = [env.reset(seed=seed, options=options)]
    for a in actions:
        step = env.step(a)
        out.append(step)
        if step[2] or step[3]:
            break
    return out


@pytest.mark.parametrize("env_id", IDS)
def test_same_seed_same_episode_in_every_episode(env_id):
    env = gym.make(env_id)
    actions = random_actions(env.action_space, 300, 0)
    options = {"max_steps": 200} if env_id.startswith("Endless") else None
    first = rollout(env, 11, actions, options)
    for other_seed in (12, 13):  # other episodes in between
        rollout(env, other_seed, actions, options)
    assert_same(first, rollout(env, 11, actions, options))  # a later episode of the same instance
    assert_same(first, rollout(gym.make(env_id), 11, actions, options))  # a fresh instance


@pytest.mark.parametrize("env_id", IDS)
def test_unseeded_reset_continues_the_stream(env_id):
    a, b = gym.make(env_id), gym.make(env_id)
    actions = random_actions(a.action_space, 50, 1)
    rollout(a, 3, actions), rollout(b, 3, actions)
    assert_same(rollout(a, None, actions), rollout(b, None, actions))
