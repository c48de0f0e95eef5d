"""Robustness against bad reset input: every parameter bounded, a failed reset changes nothing."""
import importlib
import re

import gymnasium as gym
import numpy as np
import pytest

from helpers import assert_same
from memory_gym_envs import ENVS
from memory_gym_envs.params import MAX_REWARD, MAX_STEPS


def task_class(env_id):
    module, env_class, _ = ENVS[env_id]
    return getattr(importlib.import_module(f"memory_gym_envs.{module}"), env_class).task_class


def same_steps(env, twin, count=6, seed=0):
    """Step both envs with the same random actions and check they return the same."""
    env.action_space.seed(seed)
    for _ in range(count):
        a = env.action_space.sample()
        out, twin_out = env.step(a), twin.step(a)
        assert_same(out, twin_out)
        if isinstance(env, gym.Env) and (out[2] or out[3]):
            break


@pytest.mark.parametrize("env_id", list(ENVS))
def test_every_number_parameter_is_bounded(env_id):
    for key, p in task_class(env_id).params.items():
        if p.kind in (int, float):
            assert p.low is not None and p.high is not None, key
        if p.kind is int:
            assert -2**31 < p.low <= p.high <= MAX_STEPS, key  # with room for the counters in int64 records
        if key.startswith("reward_"):
            assert p.kind is float and -MAX_REWARD <= p.low and p.high <= MAX_REWARD, key


BAD_VALUES = [
    ("Endless-MortarMayhem-v0", "max_steps", 2**63), ("MysteryPath-v0", "max_steps", MAX_STEPS + 1),
    ("Endless-MysteryPath-v0", "stamina_level", 2**63), ("Endless-MysteryPath-v0", "max_steps", -2),
    ("SearingSpotlights-v0", "max_steps", 2**63), ("Endless-SearingSpotlights-v0", "reward_coin", 1e308),
    ("MortarMayhem-v0", "reward_command_success", -1e7),
]


@pytest.mark.parametrize("env_id,key,value", BAD_VALUES)
def test_out_of_range_reset_raises_and_the_episode_goes_on(env_id, key, value):
    env, twin = gym.make(env_id), gym.make(env_id)
    env.reset(seed=1)
    twin.reset(seed=1)
    same_steps(env, twin, 2)
    # agent_scale first: a reset that wrote it before failing on the bad value would change the frames
    with pytest.raises(ValueError, match=f"reset parameter '{key}' must be .* got {re.escape(repr(value))}"):
        env.reset(options={"agent_scale": 1.0, key: value})
    same_steps(env, twin)
    assert_same(env.reset(), twin.reset())  # the random stream is untouched too
    same_steps(env, twin)
