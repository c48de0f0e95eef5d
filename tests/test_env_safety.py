"""Robustness: bad reset input (every parameter bounded, a failed reset changes nothing), bounded caches."""
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
    ("MortarMayhem-v0", "agent_scale", 10**400), ("MysteryPath-v0", "reward_goal", float("nan")),
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


def pair(env_id, vector):
    make = (lambda: gym.make_vec(env_id, num_envs=2)) if vector else (lambda: gym.make(env_id))
    env, twin = make(), make()
    env.reset(seed=1)
    twin.reset(seed=1)
    return env, twin


@pytest.mark.parametrize("vector", [False, True])
@pytest.mark.parametrize("options", [[1], "x", 3, [("max_steps", 5)]])
def test_options_must_be_a_mapping(options, vector):
    env, twin = pair("ProofofMemory-v0", vector)
    with pytest.raises(ValueError, match=re.escape(f"reset options must be a dict of reset parameters (or None), "
                                                   f"got {options!r}")):
        env.reset(options=options)
    same_steps(env, twin)


@pytest.mark.parametrize("seed", [1.5, -1, "3", True, None])
def test_seed_must_be_a_non_negative_int(seed):
    env, twin = pair("Endless-MortarMayhem-v0", vector=False)
    if seed is None:  # a good seed with bad options must not reseed either
        with pytest.raises(ValueError, match="agent_scale"):
            env.reset(seed=5, options={"agent_scale": 2.0})
    else:
        with pytest.raises(ValueError, match=re.escape(f"seed must be None or an int >= 0, got {seed!r}")):
            env.reset(seed=seed)
    same_steps(env, twin)
    assert_same(env.reset(), twin.reset())


@pytest.mark.parametrize("seed", [1.5, -1, "3", [0, 1.5], [0, -2], [0], None])
def test_vector_seed_must_be_none_an_int_or_a_list_of_them(seed):
    envs, twin = pair("Endless-MortarMayhem-v0", vector=True)
    if seed is None:
        with pytest.raises(ValueError, match="agent_scale"):
            envs.reset(seed=5, options={"agent_scale": 2.0})
    elif seed == [0]:
        with pytest.raises(ValueError, match=r"seed list has length 1, expected num_envs=2"):
            envs.reset(seed=seed)
    else:
        with pytest.raises(ValueError, match=re.escape("seed must be None, an int >= 0 or a list of num_envs=2 "
                                                       f"such values (or None), got {seed!r}")):
            envs.reset(seed=seed)
    same_steps(envs, twin)
    assert_same(envs.reset(), twin.reset())
    assert_same(envs.reset(seed=np.array([3, 4])), twin.reset(seed=[3, 4]))  # NumPy ints are ints


# options that make a reset grow the task's arrays (put back by the undo)
GROWING = {"SearingSpotlights-v0": {"num_spawns": 300}, "MortarMayhem-v0": {"command_count": 100},
           "Endless-MortarMayhem-v0": {"initial_command_count": 50}}


@pytest.mark.parametrize("vector", [False, True])
@pytest.mark.parametrize("env_id", list(ENVS))
def test_a_reset_failing_inside_the_task_changes_nothing(env_id, vector):
    env, twin = pair(env_id, vector)
    task = env.unwrapped.task if not vector else env.task
    real_reset = task.reset

    def failing_reset(*args):
        real_reset(*args)  # the whole reset done, then a failure: all of it must be undone
        raise RuntimeError("failed late")

    task.reset = failing_reset
    options = dict(GROWING.get(env_id, {}))
    if "agent_scale" in task.params:
        options["agent_scale"] = 1.0
    with pytest.raises(RuntimeError, match="failed late"):
        env.reset(options=options)
    with pytest.raises(RuntimeError, match="failed late"):
        env.reset(seed=9, options=options)  # the old generators are kept
    del task.reset
    if hasattr(task, "rngs"):  # the generators the endless steps draw from
        twin_task = twin.unwrapped.task if not vector else twin.task
        assert [r.bit_generator.state for r in task.rngs] == [r.bit_generator.state for r in twin_task.rngs]
    same_steps(env, twin)
    assert_same(env.reset(), twin.reset())
    same_steps(env, twin)


# --- caches stay bounded when an option changes every episode ------------------------------------

def test_agent_sprites_are_cached_by_shape_not_by_float_scale():
    from memory_gym_envs.sprites import _agent_sprite, agent_shape

    env = gym.make("MortarMayhem-v0")
    task = env.unwrapped.task
    scales = np.random.default_rng(0).uniform(0.1, 1.0, 300)
    for scale in scales:
        env.reset(options={"agent_scale": float(scale)})
    shapes = {agent_shape(s) for s in [0.25, *scales]}
    assert len(task.agents.keys) == len(shapes) <= 41  # (every shape of a scale in [0.1, 1.0])
    assert _agent_sprite.cache_info().currsize <= 64
    for scale in (0.1, 0.37, 0.999):  # the full table draws what a fresh env draws
        env.reset(options={"agent_scale": scale})
        fresh = gym.make("MortarMayhem-v0")
        assert_same(env.reset(seed=4, options={"agent_scale": scale}),
                    fresh.reset(seed=4, options={"agent_scale": scale}))
        same_steps(env, fresh, 10)


@pytest.mark.parametrize("env_id, option", [
    ("SearingSpotlights-v0", "spot_damage"), ("Endless-SearingSpotlights-v0", "spot_damage"),
    ("MortarMayhem-v0", "reward_command_success"), ("Endless-MortarMayhem-v0", "reward_command_success"),
    ("MysteryPath-Grid-v0", "reward_goal"), ("Endless-MysteryPath-v0", "reward_path_progress")])
def test_start_records_are_bounded_and_the_same_as_a_fresh_envs(env_id, option):
    from memory_gym_envs.core import START_RECORDS

    env = gym.make(env_id)
    task = env.unwrapped.task
    for value in np.random.default_rng(0).uniform(0.0, 1.0, 200):
        env.reset(options={option: float(value)})
    assert len(task._start_records) <= START_RECORDS
    for value in (0.5, 0.25):  # a cached record is the one a fresh env makes
        env.reset(options={option: value})
        fresh = gym.make(env_id)
        assert_same(env.reset(seed=4, options={option: value}), fresh.reset(seed=4, options={option: value}))
        assert env.unwrapped.task.state.tobytes() == fresh.unwrapped.task.state.tobytes()
        same_steps(env, fresh, 10)


def test_the_fast_path_of_action_checks_agrees_with_the_general_one():
    """check_actions takes exact int / int64-array actions on a short path; every other form of the same action (a
    list, another integer dtype, an integral float) takes the general one: the same result, the same refusals."""
    import gymnasium as gym
    import numpy as np

    from memory_gym_envs.core import check_actions

    for space in (gym.spaces.Discrete(4), gym.spaces.MultiDiscrete([3, 3]), gym.spaces.MultiDiscrete([4, 2, 2])):
        space.seed(0)
        for _ in range(50):
            a = space.sample()
            fast = check_actions(space, int(a) if np.ndim(a) == 0 else a.astype(np.int64), None, "e")
            general = check_actions(space, np.asarray(a).astype(np.int32).tolist(), None, "e")
            assert fast.dtype == np.int64 and np.array_equal(fast, general) and fast.shape == (1,) + np.shape(a)
        high = space.n if isinstance(space, gym.spaces.Discrete) else space.nvec.astype(np.int64)
        for bad in (high, -1 * np.ones_like(high), np.int64(-1) if np.ndim(high) == 0 else high - high - 1):
            with pytest.raises(ValueError, match="invalid action"):
                check_actions(space, int(bad) if np.ndim(bad) == 0 else np.asarray(bad, np.int64), None, "e")
        # a batch of 5 envs: int64 arrays on the short path, lists and int32 on the general one
        batch = np.array([space.sample() for _ in range(5)], np.int64)
        fast = check_actions(space, batch, 5, "e")
        assert fast.dtype == np.int64 and np.array_equal(fast, batch) and fast is not batch
        assert np.array_equal(fast, check_actions(space, batch.astype(np.int32).tolist(), 5, "e"))
        for k, bad in enumerate((high, -1 * np.ones_like(high))):
            wrong = batch.copy()
            wrong[k + 2] = bad
            for form in (wrong, wrong.astype(np.int32)):
                with pytest.raises(ValueError, match="invalid actions"):
                    check_actions(space, form, 5, "e")
        for shape in ((4,) + batch.shape[1:], (5, 1) + batch.shape[1:]):  # wrong batch shapes
            with pytest.raises(ValueError, match="invalid actions"):
                check_actions(space, np.zeros(shape, np.int64), 5, "e")
