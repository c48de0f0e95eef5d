"""Mortar Mayhem family: timings, rewards, failures, every reset parameter, and the pixels."""
import gymnasium as gym
import numpy as np
import pytest

from agents import mortar_mayhem_action
from helpers import ref_frames, ref_image
from memory_gym_envs.mortar_mayhem import COMMANDS, TILE
from memory_gym_envs.sprites import agent_sprite, command_symbols

FAST_DISPLAY = {"command_show_duration": 1, "command_show_delay": 0}


def play(env_id, seed=0, options=None, policy=None, max_steps=5000, **make_kwargs):
    """Run one episode; ``policy(task, t)`` returns an action or None for the perfect one."""
    env = gym.make(env_id, **make_kwargs)
    env.reset(seed=seed, options=options)
    task = env.unwrapped.task
    total, frames = 0.0, []
    for t in range(1, max_steps + 1):
        action = policy(task, t) if policy else None
        obs, reward, terminated, truncated, info = env.step(mortar_mayhem_action(task) if action is None else action)
        total += reward
        frames.append(obs)
        if terminated or truncated:
            return dict(length=t, ret=round(total, 6), terminated=terminated, truncated=truncated, info=info,
                        task=task, frames=frames)
    raise AssertionError("episode did not end")


# --- timings and rewards of a perfect agent ------------------------------------------------------

@pytest.mark.parametrize("env_id, length", [("MortarMayhem-v0", 274), ("MortarMayhem-Grid-v0", 118),
                                            ("MortarMayhemB-v0", 235), ("MortarMayhemB-Grid-v0", 79)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_perfect_agent(env_id, length, seed):
    r = play(env_id, seed)
    assert (r["length"], r["ret"], r["terminated"], r["truncated"]) == (length, 1.0, True, False)
    info = r["info"]
    assert (info["success"], info["commands_completed"], info["length"]) == (1, 1.0, length)
    assert info["reward"] == pytest.approx(1.0)


def test_endless_perfect_agent_is_truncated_at_max_steps():
    r = play("Endless-MortarMayhem-v0", 0, {"max_steps": 600})
    assert (r["length"], r["ret"], r["terminated"], r["truncated"]) == (600, 2.4, False, True)
    assert r["info"]["commands_completed"] == 24 and r["info"]["max_command_sequence"] == 6


def test_endless_rounds_show_only_the_new_command_over_the_red_arena():
    # Round 1: reset obs + 3 display frames, 18 free steps, evaluation at step 22. Round 2's
    # display (steps 23-26) is drawn over the red tiles, which stay red for 10 frames in all.
    r = play("Endless-MortarMayhem-v0", 3, {"max_steps": 60})
    red = [bool(np.all(f[0, 0] == (112, 24, 36)) or np.all(f[83, 83] == (112, 24, 36))
                or np.all(f[0, 83] == (112, 24, 36))) for f in r["frames"]]
    symbol = [bool(np.all(f[41, 42] == 255) or np.all(f[40, 40] == 255) or (f[31:53, 31:53] == 255).all(-1).sum() > 20)
              for f in r["frames"]]
    assert red[21:31] == [True] * 10 and not red[20] and not red[31]
    assert symbol[22:25] == [True] * 3 and not any(symbol[3:22]) and not symbol[25]


# --- failures ------------------------------------------------------------------------------------

def test_wrong_tile_fails_at_the_evaluation_step():
    # The agent never moves; its spawn tile is not the first target unless the command is "stay".
    seed = next(s for s in range(50) if _first_command("MortarMayhem-v0", s) != "stay")
    r = play("MortarMayhem-v0", seed, policy=lambda task, t: np.array([0, 0]))
    assert (r["length"], r["ret"], r["terminated"]) == (58, 0.0, True)
    assert (r["info"]["success"], r["info"]["commands_completed"]) == (0, 0.0)


def _first_command(env_id, seed):
    env = gym.make(env_id)
    env.reset(seed=seed)
    return COMMANDS[env.unwrapped.task.commands[0, 0]]


def _tile(task):
    e = task.state[0]
    return tuple((e["pos"] - e["offset"]) // TILE)


def test_leaving_the_tile_while_it_is_red_fails():
    # Perfect until the first evaluation (step 58), then walk away: the episode ends on the
    # step the agent's tile changes, while the death tiles are still on (steps 58-63).
    left_at = []

    def walk_away(task, t):
        if t <= 58:
            return None
        if _tile(task) != tuple(task.state["target"][0]) and not left_at:
            left_at.append(t - 1)
        return np.array([2 if task.state["target"][0][0] < 2 else 1, 0])
    r = play("MortarMayhem-v0", 0, policy=walk_away)
    tile_after_end = _tile(r["task"]) != tuple(r["task"].state["target"][0])
    assert tile_after_end and 59 <= r["length"] <= 63 and r["terminated"] and r["ret"] == pytest.approx(0.1)
    assert (r["info"]["success"], r["info"]["commands_completed"]) == (0, 0.0)
    assert not left_at  # the episode ended on the very step the agent left


def test_grid_agent_leaving_its_tile_fails_at_once():
    # Evaluation at step 46 (40 display frames + D = 6): turn towards free space there, step
    # forward on 47, the only other red frame (E = 2): the episode ends on that step.
    def step_off(task, t):
        if t < 46:
            return None
        e = task.state[0]
        if t == 46:
            for turn, facing in ((1, (e["facing"] + 2) % 8), (2, (e["facing"] + 6) % 8)):
                dx, dy = {0: (0, -1), 2: (-1, 0), 4: (0, 1), 6: (1, 0)}[facing]
                x, y = _tile(task)
                if 0 <= x + dx < 5 and 0 <= y + dy < 5:
                    return turn
        return 3
    r = play("MortarMayhem-Grid-v0", 1, policy=step_off)
    assert (r["length"], r["ret"], r["terminated"], r["info"]["success"]) == (47, 0.1, True, 0)


def test_failing_the_last_command_is_a_failure():
    # A deliberate difference from the original memory-gym 1.0.2, which still reports success=1 and
    # commands_completed=1.0 when the last command fails: success=0 and only the 9 done count.
    def fail_last(task, t):
        e = task.state[0]
        if e["cur"] == e["num_commands"] - 1 and not e["tiles_on"]:
            tile = (e["pos"] - e["offset"]) // TILE
            if (tile == e["target"]).all():  # step off the last target
                return np.array([1 if tile[0] > 0 else 2, 0])
            return np.array([0, 0])
        return None
    r = play("MortarMayhem-v0", 0, policy=fail_last)
    assert r["terminated"] and r["length"] == 274 and r["ret"] == pytest.approx(0.9)
    assert r["info"]["success"] == 0 and r["info"]["commands_completed"] == pytest.approx(0.9)


# --- every reset parameter -----------------------------------------------------------------------

def perfect(env_id, **options):
    return play(env_id, 0, options)


def test_param_agent_scale():
    def body_pixels(scale):
        env = gym.make("MortarMayhem-v0", agent_scale=scale)
        obs, _ = env.reset(seed=0)
        return int(np.all(obs == (250, 204, 153), axis=-1).sum())
    assert body_pixels(0.5) > 3 * body_pixels(0.25)


@pytest.mark.parametrize("speed, moved", [(3.0, 3), (5.0, 5), (1.0, 1)])
def test_param_agent_speed(speed, moved):
    env = gym.make("MortarMayhemB-v0", agent_speed=speed)
    env.reset(seed=0)
    e = env.unwrapped.task.state[0]
    x0 = e["pos"][0]
    env.step(np.array([1 if x0 > 42 else 2, 0]))
    assert abs(int(e["pos"][0]) - int(x0)) == moved


@pytest.mark.parametrize("size", [2, 3, 6])
def test_param_arena_size(size):
    env = gym.make("MortarMayhem-v0")
    obs, _ = env.reset(seed=0, options={"arena_size": size})
    o = (84 - 14 * size) // 2
    assert tuple(obs[o, o]) == (29, 60, 107) and tuple(obs[o + 1, o + 1]) == (21, 43, 77)
    assert tuple(obs[o + 14 * size - 1, o + 14 * size - 1]) == (29, 60, 107)
    if o > 0:
        assert tuple(obs[o - 1, o - 1]) == (0, 0, 0) and tuple(obs[o + 14 * size, 42]) == (0, 0, 0)
    assert perfect("MortarMayhem-v0", arena_size=size)["ret"] == 1.0


def _commands_over_seeds(env_id, **options):
    env, seen = gym.make(env_id), set()
    for seed in range(40):
        env.reset(seed=seed, options=options)
        task = env.unwrapped.task
        seen |= set(task.commands[0, :task.state["num_commands"][0]].tolist())
    return seen


def test_param_allowed_commands():
    assert _commands_over_seeds("MortarMayhem-v0", allowed_commands=4) == {0, 1, 2, 3}
    assert _commands_over_seeds("MortarMayhem-v0", allowed_commands=5) == {0, 1, 2, 3, 4}
    assert _commands_over_seeds("MortarMayhem-v0") == set(range(9))
    assert _commands_over_seeds("MortarMayhem-Grid-v0") == {0, 1, 2, 3, 4}


def test_param_command_count():
    r = perfect("MortarMayhem-v0", command_count=3)
    assert r["length"] == 4 * 3 - 1 + 19 + 24 * 2 and r["ret"] == pytest.approx(0.3)
    env, counts = gym.make("MortarMayhem-v0"), set()
    for seed in range(30):
        env.reset(seed=seed, options={"command_count": [2, 5]})
        counts.add(int(env.unwrapped.task.state["num_commands"][0]))
    assert counts == {2, 5}


@pytest.mark.parametrize("duration, delay", [(1, 0), (5, 2), (2, 3)])
def test_param_command_show_duration_and_delay(duration, delay):
    r = perfect("MortarMayhem-v0", command_show_duration=duration, command_show_delay=delay, command_count=4)
    assert r["length"] == (duration + delay) * 4 - 1 + 19 + 24 * 3
    # symbol frames: the first `duration` frames of every period of the display
    env = gym.make("MortarMayhem-v0")
    obs, _ = env.reset(seed=0, options={"command_show_duration": duration, "command_show_delay": delay})
    frames = [obs] + [env.step(np.array([0, 0]))[0] for _ in range((duration + delay) * 2 - 1)]
    has_symbol = [bool((f[31:62, 31:62] == 255).all(-1).any()) for f in frames]
    assert has_symbol == ([True] * duration + [False] * delay) * 2


@pytest.mark.parametrize("env_id, delay, duration", [("MortarMayhem-v0", 10, 3), ("MortarMayhem-Grid-v0", 4, 5)])
def test_param_explosion_delay_and_duration(env_id, delay, duration):
    r = perfect(env_id, explosion_delay=delay, explosion_duration=duration)
    assert r["length"] == 39 + delay + 1 + (delay + duration) * 9 and r["ret"] == 1.0
    red = [bool(np.all(f[7, 7] == (112, 24, 36)) or np.all(f[7, 63] == (112, 24, 36))) for f in r["frames"]]
    first_eval = 39 + delay + 1
    assert red[first_eval - 1:first_eval - 1 + duration] == [True] * duration and not red[first_eval - 2]


def test_param_visual_feedback():
    on = perfect("MortarMayhem-v0")["frames"]
    off = perfect("MortarMayhem-v0", visual_feedback=False)["frames"]
    is_red = lambda f: bool(np.all(f == (81, 18, 26), axis=-1).any())  # noqa: E731
    assert any(map(is_red, on)) and not any(map(is_red, off))


def test_param_rewards():
    assert perfect("MortarMayhem-v0", reward_command_success=0.5)["ret"] == pytest.approx(5.0)
    assert perfect("MortarMayhem-v0", reward_episode_success=2.0)["ret"] == pytest.approx(3.0)
    seed = next(s for s in range(50) if _first_command("MortarMayhem-v0", s) != "stay")
    r = play("MortarMayhem-v0", seed, {"reward_command_failure": -1.0}, policy=lambda task, t: np.array([0, 0]))
    assert (r["ret"], r["length"]) == (-1.0, 58)  # the still agent fails its first evaluation


def test_param_endless_max_steps_and_initial_command_count():
    r = play("Endless-MortarMayhem-v0", 0, {"max_steps": 100, "initial_command_count": 3})
    assert r["truncated"] and r["length"] == 100
    env = gym.make("Endless-MortarMayhem-v0", initial_command_count=3)
    env.reset(seed=0)
    assert env.unwrapped.task.state["num_commands"][0] == 3
    # only the 3 commands (4 frames each) are displayed before the first act step
    assert env.unwrapped.task.state["show_len"][0] == 12


def test_param_endless_reward_new_command_success():
    r = play("Endless-MortarMayhem-v0", 0, {"max_steps": 600, "reward_new_command_success": 1.0})
    assert r["ret"] == pytest.approx(2.4 + 6)  # six rounds completed within 600 steps


def test_b_vector_observation():
    env = gym.make("MortarMayhemB-v0")
    obs, _ = env.reset(seed=0)
    task = env.unwrapped.task
    slots = obs["vector_observation"].reshape(20, 9)
    order = ["stay", "right", "left", "up", "down", "right_down", "right_up", "left_down", "left_up"]
    for k in range(10):
        assert slots[k].sum() == 1 and order[int(slots[k].argmax())] == COMMANDS[task.commands[0, k]]
    assert slots[10:].sum() == 0


def test_ground_truth_is_the_target_tile():
    env = gym.make("Endless-MortarMayhem-v0")
    _, info = env.reset(seed=0)
    assert np.array_equal(info["ground_truth"], env.unwrapped.task.state["target"][0] / 5.0)
    assert env.unwrapped.has_ground_truth_info


@pytest.mark.parametrize("env_id", ["MortarMayhem-Grid-v0", "MortarMayhemB-v0", "Endless-MortarMayhem-v0"])
def test_ground_truth_follows_the_target_through_steps_and_autoresets(env_id):
    """The kernels keep the ground truth (target / (arena - 1)) with the target: after every step the info of
    every env holds its current target tile, also across commands and autoresets."""
    envs = gym.make_vec(env_id, num_envs=8)
    envs.action_space.seed(0)
    _, info = envs.reset(seed=0)
    state, changed = envs.unwrapped.task.state, 0
    for _ in range(400):
        previous = state["target"].copy()
        _, _, _, _, info = envs.step(envs.action_space.sample())
        expected = state["target"] / np.maximum(state["arena"] - 1, 1)[:, None]
        assert np.array_equal(info["ground_truth"], expected) and info["_ground_truth"].all()
        changed += int((state["target"] != previous).any())
    assert changed > 10  # the targets did move (new commands, new episodes)


# --- pixels --------------------------------------------------------------------------------------

# The original's agent sprite as memory-gym 1.0.2 renders it at 84x84 (agent_scale 0.25), by facing
# (0: up, 6: right, 1: up-left): rows y=6..19 of an agent centred at (14, 14), from x=6; o body, # hands.
ORIGINAL_SPRITES = {
    0: ["..............", "..............", "...##.oooo.##.", "..####oooo####", "..####oooo####",
        "...##oooooo##.", "..oooooooooooo", "..oooooooooooo", "..oooooooooooo", "..oooooooooooo",
        "...oooooooooo.", "....oooooooo..", ".....oooooo...", "......oooo...."],
    6: ["..............", "..............", "......oooo.##.", ".....ooooo####", "....oooooo####",
        "...oooooooo##.", "..oooooooooooo", "..oooooooooooo", "..oooooooooooo", "..oooooooooooo",
        "...oooooooo##.", "....oooooo####", ".....ooooo####", "......oooo.##."],
    1: ["......##......", ".....####.....", ".....####o....", ".....o##ooo...", "....oooooooo..",
        "...oooooooooo.", ".##ooooooooooo", "####oooooooooo", "####oooooooooo", ".##ooooooooooo",
        "...oooooooooo.", "....oooooooo..", ".....oooooo...", "......oooo...."],
}


@pytest.mark.parametrize("variant", sorted(ORIGINAL_SPRITES))
def test_agent_sprite_matches_the_original(variant):
    s = agent_sprite(0.25)
    grid = np.full((14, 14), ".")
    for dy, dx, rgb in zip(s.dy[variant], s.dx[variant], s.rgb[variant]):
        grid[14 + dy - 6, 14 + dx - 6] = "o" if tuple(rgb) == (250, 204, 153) else "#"
    assert ["".join(row) for row in grid] == ORIGINAL_SPRITES[variant]


def test_command_symbols_match_the_reference():
    frames = ref_frames("MortarMayhem-v0_commands.png")
    s = command_symbols(COMMANDS)
    for c, ref in enumerate(frames):
        mine = np.zeros((84, 84), bool)
        mine[31 + s.dy[c], 31 + s.dx[c]] = True
        assert np.array_equal(mine, np.all(ref == 255, axis=-1)), COMMANDS[c]


# Frames of the original (tests/data/README.md) and the state that shows each one.
GOLDEN = [
    ("MortarMayhem-v0", "MortarMayhem-v0.png", 0, dict(pos=(70, 28), facing=0, symbol="stay")),
    ("MortarMayhem-v0", "MortarMayhem-v0.png", 1, dict(pos=(70, 28), facing=0)),
    ("MortarMayhem-v0", "MortarMayhem-v0.png", 3, dict(pos=(70, 28), facing=0, red_target=(4, 1))),
    ("MortarMayhem-Grid-v0", "MortarMayhem-Grid-v0.png", 0, dict(pos=(70, 28), facing=0, symbol="up")),
    ("MortarMayhem-Grid-v0", "MortarMayhem-Grid-v0.png", 2, dict(pos=(56, 28), facing=2)),
    ("MortarMayhem-Grid-v0", "MortarMayhem-Grid-v0.png", 3, dict(pos=(56, 70), facing=6, red_target=(4, 0))),
    ("Endless-MortarMayhem-v0", "Endless-MortarMayhem-v0.png", 0, dict(pos=(77, 7), facing=0, symbol="left")),
    ("Endless-MortarMayhem-v0", "Endless-MortarMayhem-v0.png", 1, dict(pos=(62, 7), facing=2)),
    ("Endless-MortarMayhem-v0", "Endless-MortarMayhem-v0.png", 3,
     dict(pos=(62, 7), facing=2, red_target=(4, 0), symbol="left")),
    ("Endless-MortarMayhem-v0", "Endless-MortarMayhem-v0.png", 4, dict(pos=(62, 7), facing=2, red_target=(4, 0))),
    ("MortarMayhemB-v0", "MortarMayhemB-v0.png", 1, dict(pos=(65, 34), facing=3)),
    ("MortarMayhemB-v0", "MortarMayhemB-v0.png", 2, dict(pos=(66, 28), facing=3, red_target=(3, 1))),
    ("MortarMayhemB-Grid-v0", "MortarMayhemB-Grid-v0.png", 1, dict(pos=(70, 14), facing=0)),
    ("MortarMayhemB-Grid-v0", "MortarMayhemB-Grid-v0.png", 2, dict(pos=(42, 28), facing=2, red_target=(3, 1))),
]


@pytest.mark.parametrize("env_id, name, index, state", GOLDEN, ids=[f"{g[1]}-{g[2]}" for g in GOLDEN])
def test_frames_match_the_original(env_id, name, index, state):
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    task = env.unwrapped.task
    e = task.state[0]
    e["pos"], e["facing"] = state["pos"], state["facing"]
    e["tiles_on"] = "red_target" in state
    e["target"] = state.get("red_target", (0, 0))
    e["shown_frame"] = 0 if "symbol" in state else -1
    if "symbol" in state:
        e["show_first"], e["show_duration"], e["show_delay"] = 0, 3, 1
        task.commands[0, 0] = COMMANDS.index(state["symbol"])
    frame = task.draw(np.array([0]))[0]
    assert np.array_equal(frame, ref_frames(name)[index])


def test_debug_view_matches_the_original():
    ref = ref_image("MortarMayhem-v0_debug.png")
    env = gym.make("MortarMayhem-v0", render_mode="debug_rgb_array")
    env.reset(seed=0)
    e = env.unwrapped.task.state[0]
    e["pos"], e["facing"], e["tiles_on"], e["target"], e["shown_frame"] = (70, 28), 0, True, (4, 1), -1
    assert np.array_equal(env.render(), ref[::4, ::4])
