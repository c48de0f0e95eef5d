"""Batched equals single: the native vector env against gymnasium's SyncVectorEnv of single envs."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import memory_gym_envs
from helpers import assert_same, random_actions

IDS = list(memory_gym_envs.ENVS)
# Short episodes so that every run crosses several episode ends (random agents fail fast anyway).
FAST = {"Endless-MortarMayhem-v0": {"max_steps": 40}, "MysteryPath-v0": {"max_steps": 40},
        "MysteryPath-Grid-v0": {"max_steps": 30}}


def run_pair(env_id, mode, steps=150, num_envs=4, seed=7):
    kwargs = FAST.get(env_id, {})
    native = gym.make_vec(env_id, num_envs=num_envs, autoreset_mode=mode, **kwargs)
    sync = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": mode}, **kwargs)
    assert type(native.unwrapped).__name__.endswith("VectorEnv") and native.metadata["autoreset_mode"] == mode
    assert native.observation_space == sync.observation_space and native.action_space == sync.action_space
    assert_same(native.reset(seed=seed), sync.reset(seed=seed), "reset")
    ends = 0
    for t, actions in enumerate(random_actions(native.action_space, steps, seed)):
        a, b = native.step(actions), sync.step(actions)
        assert_same(a, b, f"step {t}")
        ends += int(np.sum(a[2] | a[3]))
    return ends


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_batched_equals_single(env_id, mode):
    assert run_pair(env_id, mode) >= 4  # several episodes ended and were reset on the way


def test_disabled_autoreset_with_reset_mask():
    kwargs = dict(num_envs=3, autoreset_mode=AutoresetMode.DISABLED)
    native = gym.make_vec("MortarMayhem-Grid-v0", **kwargs)
    sync = gym.make_vec("MortarMayhem-Grid-v0", vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": AutoresetMode.DISABLED}, num_envs=3)
    assert_same(native.reset(seed=3), sync.reset(seed=3))
    resets = 0
    for actions in random_actions(native.action_space, 120, 3):
        a, b = native.step(actions), sync.step(actions)
        assert_same(a, b)
        done = a[2] | a[3]
        if done.any():
            resets += 1
            assert_same(native.reset(options={"reset_mask": done}), sync.reset(options={"reset_mask": done}))
    assert resets >= 2
    native.step(native.action_space.sample())
    done = np.zeros(3, bool)
    while not done.any():
        _, _, term, trunc, _ = native.step(np.zeros(3, np.int64))
        done = term | trunc
    with pytest.raises(gym.error.ResetNeeded, match="reset_mask"):
        native.step(np.zeros(3, np.int64))


def test_async_mode_equals_native():
    native = gym.make_vec("MortarMayhemB-v0", num_envs=2)
    asyn = gym.make_vec("MortarMayhemB-v0", num_envs=2, vectorization_mode="async")
    try:
        assert_same(native.reset(seed=1), asyn.reset(seed=1))
        for actions in random_actions(native.action_space, 30, 1):
            assert_same(native.step(actions), asyn.step(actions))
    finally:
        asyn.close()


def test_vector_seeds_and_options():
    envs = gym.make_vec("MortarMayhem-v0", num_envs=3)
    obs_a, _ = envs.reset(seed=[5, 6, 7])
    obs_b, _ = envs.reset(seed=5)  # int seed s -> s, s+1, s+2
    assert np.array_equal(obs_a, obs_b)
    envs.reset(seed=0, options={"arena_size": 3})
    assert (envs.unwrapped.task.state["arena"] == 3).all()
    with pytest.raises(ValueError, match="seed list has length 2"):
        envs.reset(seed=[1, 2])
    with pytest.raises(ValueError, match="unknown reset parameter 'size'"):
        envs.reset(options={"size": 3})
    with pytest.raises(ValueError, match="unknown autoreset_mode"):
        gym.make_vec("MortarMayhem-v0", num_envs=2, autoreset_mode="sometimes")


def test_num_envs_must_be_a_positive_int_not_a_bool():
    import memory_gym_envs

    for env_id in memory_gym_envs.ENVS:
        for bad in (True, False, 0, -1, 2.0, "4"):
            with pytest.raises(ValueError, match="num_envs must be a positive int"):
                gym.make_vec(env_id, num_envs=bad)
    assert gym.make_vec("MortarMayhem-Grid-v0", num_envs=np.int64(2)).num_envs == 2
