"""The gymnasium API of every id: registration, checker, bad input, render modes, play."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import memory_gym_envs
from memory_gym_envs.play import keys_to_action, play

IDS = list(memory_gym_envs.ENVS)


@pytest.mark.parametrize("env_id", IDS)
def test_check_env(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    check_env(env.unwrapped)
    env.close()


@pytest.mark.parametrize("env_id", IDS)
def test_spaces_and_metadata(env_id):
    env = gym.make(env_id)
    obs, info = env.reset(seed=1)
    assert env.observation_space.contains(obs)
    if env_id != "ProofofMemory-v0":  # the only vector-observation task
        image = obs["visual_observation"] if isinstance(obs, dict) else obs
        assert image.shape == (84, 84, 3) and image.dtype == np.uint8
    assert env.metadata["render_modes"] == ["human", "rgb_array", "debug_rgb_array"]
    assert env.spec.max_episode_steps is None  # time limits are reset parameters, reported as truncation
    u = env.unwrapped
    if u.has_ground_truth_info:
        assert u.ground_truth_space.contains(info["ground_truth"].astype(np.float32))


def test_module_syntax_imports_the_package():
    import subprocess
    import sys

    code = ("import gymnasium as gym; env = gym.make('memory_gym_envs:MortarMayhem-v0'); "
            "print(env.reset(seed=0)[0].shape)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(84, 84, 3)"


def test_misspelt_id_lists_close_matches():
    with pytest.raises(gym.error.Error, match="Did you mean: `MortarMayhem`"):
        gym.make("MortarMayhen-v0")


def test_unknown_reset_parameter_names_the_valid_keys():
    env = gym.make("MortarMayhem-v0")
    with pytest.raises(ValueError, match=r"unknown reset parameter 'arena'.*valid keys: .*arena_size"):
        env.reset(options={"arena": 4})
    with pytest.raises(ValueError, match="unknown reset parameter 'max_steps'"):
        gym.make("MortarMayhem-v0", max_steps=10)  # only the endless env has a time limit


@pytest.mark.parametrize("key, value, message", [
    ("arena_size", 7, r"'arena_size' must be an int in \[2, 6\], got 7"),
    ("arena_size", 1, r"'arena_size' must be an int in \[2, 6\], got 1"),
    ("arena_size", 4.5, "'arena_size' must be an int"),
    ("allowed_commands", 3, r"'allowed_commands' must be an int in \[4, 9\]"),
    ("command_count", [], "'command_count' .* non-empty list"),
    ("command_count", [5, 0], r"'command_count' must be an int in \[1, 100\]"),
    ("explosion_delay", [0], "'explosion_delay'"),
    ("visual_feedback", "yes", "'visual_feedback' must be a bool"),
    ("agent_speed", -1.0, "'agent_speed'"),
    ("reward_command_success", float("nan"), "'reward_command_success' must be a number"),
])
def test_out_of_range_reset_parameter(key, value, message):
    env = gym.make("MortarMayhem-v0")
    with pytest.raises(ValueError, match=message):
        env.reset(options={key: value})
    with pytest.raises(ValueError, match=message):
        gym.make("MortarMayhem-v0", **{key: value})


def test_b_variant_limits_command_count_to_its_vector():
    with pytest.raises(ValueError, match=r"'command_count' must be an int in \[1, 20\]"):
        gym.make("MortarMayhemB-v0").reset(options={"command_count": 21})


@pytest.mark.parametrize("env_id, action", [
    ("MortarMayhem-v0", np.array([3, 0])), ("MortarMayhem-v0", np.array([0, -1])),
    ("MortarMayhem-v0", 1), ("MortarMayhem-Grid-v0", 4), ("MortarMayhem-Grid-v0", np.array([1, 1])),
    ("MortarMayhem-Grid-v0", 1.5),
])
def test_invalid_action(env_id, action):
    env = gym.make(env_id)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=f"invalid action for {env_id}.*action space"):
        env.step(action)


def test_invalid_vector_actions():
    envs = gym.make_vec("MortarMayhem-Grid-v0", num_envs=3)
    envs.reset(seed=0)
    with pytest.raises(ValueError, match=r"invalid actions of shape \(3,\)"):
        envs.step(np.array([0, 1, 7]))
    with pytest.raises(ValueError, match=r"invalid actions of shape \(3,\)"):
        envs.step(np.array([0, 1]))


def test_step_after_the_end_needs_a_reset():
    env = gym.make("MortarMayhem-Grid-v0")
    env.reset(seed=0, options={"explosion_delay": 1, "command_show_duration": 1, "command_show_delay": 0,
                               "command_count": 1})
    done = False
    while not done:
        *_, terminated, truncated, _ = env.step(0)
        done = terminated or truncated
    with pytest.raises(gym.error.ResetNeeded):
        env.step(0)


def test_make_kwargs_are_defaults_and_options_do_not_persist():
    env = gym.make("MortarMayhem-v0", arena_size=3)
    env.reset(seed=0)
    assert env.unwrapped.task.state["arena"][0] == 3
    env.reset(seed=0, options={"arena_size": 6})
    assert env.unwrapped.task.state["arena"][0] == 6
    env.reset(seed=0)  # options applied to that episode only
    assert env.unwrapped.task.state["arena"][0] == 3


@pytest.mark.parametrize("env_id", ["MortarMayhem-v0", "MortarMayhemB-Grid-v0", "Endless-MortarMayhem-v0"])
def test_render_modes(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    image = obs["visual_observation"] if isinstance(obs, dict) else obs
    assert np.array_equal(env.render(), image)
    debug = gym.make(env_id, render_mode="debug_rgb_array")
    debug.reset(seed=0)
    frame = debug.render()
    assert frame.shape == (336, 336, 3) and frame.dtype == np.uint8
    human = gym.make(env_id, render_mode="human")  # SDL's dummy video driver in tests
    human.reset(seed=0)
    human.step(human.action_space.sample())
    assert human.render() is None
    human.close()
    with pytest.raises(ValueError, match="unknown render_mode 'rgb'"), pytest.warns(UserWarning):
        gym.make(env_id, render_mode="rgb")


def test_vector_render_modes():
    envs = gym.make_vec("MortarMayhem-v0", num_envs=2, render_mode="debug_rgb_array")
    envs.reset(seed=0)
    frames = envs.render()
    assert len(frames) == 2 and frames[0].shape == (336, 336, 3)


@pytest.mark.parametrize("env_id", ["MortarMayhem-v0", "MortarMayhem-Grid-v0"])
def test_keys_to_action_is_valid_for_gymnasium_play(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    mapping = env.unwrapped.get_keys_to_action()
    assert mapping.keys() == keys_to_action(env.unwrapped.task.controls).keys()
    for keys, action in mapping.items():
        assert keys == tuple(sorted(keys)) and env.action_space.contains(action)
    actions = {tuple(np.atleast_1d(a)) for a in mapping.values()}
    expected = 8 if env_id == "MortarMayhem-v0" else 3  # every non-noop action has a key
    assert len(actions) == expected


def test_play_runs_headless(capsys):
    play("MortarMayhem-Grid-v0", seed=3, max_steps=60, fps=0)
    assert "seed 3: reward=" in capsys.readouterr().out  # the no-op player fails the first command


def test_play_cli_rejects_unknown_id(capsys):
    from memory_gym_envs.play import main

    with pytest.raises(SystemExit):
        main(["MortarMayhem-v9"])
    assert "unknown env id 'MortarMayhem-v9'" in capsys.readouterr().err
