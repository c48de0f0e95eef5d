"""Searing Spotlights family: spotlights, damage, coins and exit, every reset parameter, the pixels."""
import gymnasium as gym
import numpy as np
import pytest

from agents import searing_spotlights_action
from helpers import ref_frames, ref_image
from memory_gym_envs.searing_spotlights import S_OX, S_OY, S_R, S_SPEED, S_SX, S_SY, S_T, S_TX, S_TY, S_X, S_Y
from memory_gym_envs.sprites import _pygame

SS, ESS = "SearingSpotlights-v0", "Endless-SearingSpotlights-v0"
STILL = np.array([0, 0])
WHITE, BLUE, RED, BLACK, GREEN = (255, 255, 255), (0, 0, 255), (255, 0, 0), (0, 0, 0), (0, 255, 0)
ORANGE, EXIT_GREY, EXIT_GREEN, BODY = (255, 165, 0), (55, 55, 55), (48, 141, 70), (250, 204, 153)
GREY, PURPLE, ACTION_ORANGE, YELLOW, BAR = (120, 120, 120), (116, 1, 113), (255, 94, 14), (255, 255, 0), (50, 50, 50)
NO_SPOTS = {"initial_spawns": 0, "num_spawns": 0}
ALONE = {**NO_SPOTS, "num_coins": 0, "use_exit": False, "sample_agent_position": False}  # agent at (42, 42)


def make(env_id=SS, seed=0, **options):
    env = gym.make(env_id)
    obs, _ = env.reset(seed=seed, options=options)
    return env, env.unwrapped.task, obs


def place_spot(task, k, x, y, r):
    """Make spotlight ``k`` of env 0 stand at (x, y): its whole path is that point."""
    sp = task.spots[0, k]
    sp[S_R], sp[S_SPEED], sp[S_T] = r, 1e-9, 0.0
    sp[S_SX] = sp[S_TX] = sp[S_OX] = x
    sp[S_SY] = sp[S_TY] = sp[S_OY] = y
    sp[S_X], sp[S_Y] = int(x), int(y)
    task.state["n_spots"][0] = max(task.state["n_spots"][0], k + 1)


def run(env, task, policy=None, steps=2000):
    """Step until the episode ends; returns (length, return, terminated, truncated, info, frames)."""
    total, frames = 0.0, []
    for t in range(1, steps + 1):
        obs, reward, terminated, truncated, info = env.step(STILL if policy is None else policy(task))
        total += reward
        frames.append(obs)
        if terminated or truncated:
            return t, total, terminated, truncated, info, frames
    return None, total, False, False, {}, frames


def pygame_disc(x, y, r, width=0):
    """pygame's own rasterisation of a circle at (x, y), as a mask of the 84x84 screen."""
    pygame = _pygame()
    surf = pygame.Surface((84, 84))
    pygame.draw.circle(surf, WHITE, (x, y), r, width)
    return pygame.surfarray.array3d(surf).transpose(1, 0, 2)[..., 0] > 0


def count(frame, colour):
    return int(np.all(frame[4:] == colour, axis=-1).sum())


# --- spotlights and damage -----------------------------------------------------------------------

def test_a_spotlight_shows_the_lit_scene_and_the_rest_is_dark():
    env, task, lit = make(**ALONE, visual_feedback=False, spot_damage=0.0)
    for _ in range(6):
        env.step(STILL)
    place_spot(task, 0, 36.7, 44.9, 11)  # over part of the agent at (42, 42)
    place_spot(task, 1, 70.2, 75.5, 8)
    frame = env.step(STILL)[0]  # step 7: the darkness is complete (alpha 255)
    assert task.state["alpha"][0] == 255 and task.state["hit"][0]
    inside = pygame_disc(36, 44, 11) | pygame_disc(70, 75, 8)  # drawn at the truncated centres
    inside[:4] = False
    body = np.all(frame == BODY, axis=-1)
    assert body.any() and not body[~inside].any()  # the agent shows only inside the disc
    assert np.array_equal(frame[inside], lit[inside])  # the lit scene: board and agent
    assert (frame[4:][~inside[4:]] == 0).all()


@pytest.mark.parametrize("options", [{}, {"light_dim_off_duration": 20, "light_threshold": 200, "num_coins": [3]}])
def test_under_the_dimming_overlay_the_scene_is_blended_outside_the_spotlights(options):
    """While the darkness rises (0 < alpha < 255) the frame is the bright scene (board, coins, exit, agent) blended
    with black at that alpha (SDL's d - d * a // 255) outside the spotlights' discs and as it is inside them; the
    kernel draws it from backgrounds dimmed in advance, so this holds it to blending the bright frame pixel by pixel."""
    from memory_gym_envs.searing_spotlights import DIM

    env, task, _ = make(**options, agent_visible=False)
    place_spot(task, 0, 40.6, 42.2, 12)  # over part of the agent at its spawn
    place_spot(task, 1, 10.3, 70.9, 9)
    inside = pygame_disc(40, 42, 12) | pygame_disc(10, 70, 9)
    s = task.state
    bright = None
    # every alpha an episode reaches (those of options[1] end at 204), then two that none does (a state set by hand)
    for alpha in [0] + list(range(s["light_inc"][0], 255, s["light_inc"][0])) + [1, 254]:
        s["alpha"][0] = alpha
        frame = task.draw(np.array([0]))[0]
        if alpha == 0:
            bright = frame
            continue
        expected = np.where(inside[..., None], bright, DIM[alpha][bright])
        assert np.array_equal(frame[4:], expected[4:]), alpha  # (rows 0..3: the top bar)
    assert count(bright, BODY) > 0 and count(bright, BLUE) > 0


@pytest.mark.parametrize("dx, dy, hit", [(16, 0, True), (16.01, 0, False), (0, -16, True), (0, 16.2, False),
                                         (12, 10, True), (12, 11, False), (-11.3, 11.3, True), (11.4, -11.4, False)])
def test_hit_exactly_when_the_discs_touch(dx, dy, hit):
    env, task, _ = make(**ALONE)
    place_spot(task, 0, 42 + dx, 42 + dy, 10)  # reach: 10 + the agent's radius 6
    obs = env.step(STILL)[0]
    assert task.state["hit"][0] == hit and task.state["health"][0] == (4.0 if hit else 5.0)
    assert (count(obs, RED) > 0) == hit  # the red board shows in the spotlight while hit


def test_damage_once_per_step_however_many_spotlights_touch():
    env, task, _ = make(**ALONE, spot_damage=0.5, reward_death=-1.0)
    for k in range(3):
        place_spot(task, k, 38 + 4 * k, 45, 10)  # all three over the agent
    for step in range(1, 4):
        obs = env.step(STILL)[0]
        assert task.state["health"][0] == 5.0 - 0.5 * step
    lost = int(42 * (1 - 3.5 / 5))  # 12 px of the health bar turn red
    assert (obs[:4, :lost] == RED).all() and (obs[:4, lost:42] == GREEN).all()
    length, ret, terminated, truncated, info, _ = run(env, task)
    assert (length, ret, terminated, truncated) == (7, -1.0, True, False)  # 10 hit steps in all
    assert info["agent_health"] == 0.0 and info["success"] == 0 and info["length"] == 10


def test_finished_spotlights_leave_and_others_keep_their_paths():
    env, task, _ = make(initial_spawns=3, num_spawns=0, spot_min_speed=0.25, spot_max_speed=0.25, spot_damage=0.0)
    counts = [task.state["n_spots"][0]]
    for _ in range(6):
        env.step(STILL)
        counts.append(task.state["n_spots"][0])
    assert counts == [3, 3, 3, 3, 3, 0, 0]  # drawn at t = 0, .25, .5, .75, then removed
    # speeds 0.1 .. 0.5: when one leaves, every other still advances by its speed on that step
    env, task, _ = make(initial_spawns=8, num_spawns=0, spot_min_speed=0.1, spot_max_speed=0.5, spot_damage=0.0)
    left = 0
    for _ in range(12):
        n = task.state["n_spots"][0]
        before = {row[S_SPEED]: row[S_T] for row in task.spots[0, :n]}  # speeds identify the spotlights
        env.step(STILL)
        after = {row[S_SPEED]: row[S_T] for row in task.spots[0, :task.state["n_spots"][0]]}
        left += n - len(after)
        assert after == {speed: min(t + speed, 1.0) for speed, t in before.items() if t < 1.0}
    assert left == 8


def test_spotlight_paths_start_and_end_off_screen():
    env, task, _ = make(initial_spawns=30, num_spawns=0, spot_damage=0.0)
    sp = task.spots[0, :30]
    for x, y in ((S_SX, S_SY), (S_OX, S_OY)):
        distance = np.hypot(sp[:, x] - 42, sp[:, y] - 42)
        assert np.allclose(distance, 84 * np.sqrt(2) / 2 + sp[:, S_R])  # just outside the screen's corners


# --- episodes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scripted_agent_collects_the_coin_and_exits(seed):
    env, task, _ = make(SS, seed, spot_damage=0.0)
    length, ret, terminated, truncated, info, frames = run(env, task, searing_spotlights_action)
    assert terminated and not truncated and ret == pytest.approx(1.25)
    assert info == {"ground_truth": info["ground_truth"], "reward": pytest.approx(1.25), "length": length,
                    "agent_health": 1.0, "coins_collected": 1.0, "success": 1}
    assert task.state["exit_open"][0]


def test_exit_opens_after_the_coins():
    env = gym.make(SS, render_mode="debug_rgb_array")
    env.reset(seed=0, options={"spot_damage": 0.0})
    task = env.unwrapped.task
    before = env.render()[::4, ::4]
    assert count(before, EXIT_GREY) > 0 and count(before, EXIT_GREEN) == 0
    while task.state["collected"][0] == 0:
        env.step(searing_spotlights_action(task))
    after = env.render()[::4, ::4]
    assert count(after, EXIT_GREY) == 0 and count(after, EXIT_GREEN) == count(before, EXIT_GREY)


def test_endless_idle_agent_is_ended_by_the_coin_timer():
    env, task, _ = make(ESS, spot_damage=0.0)
    length, ret, terminated, truncated, info, _ = run(env, task)
    assert (length, ret, terminated, truncated) == (160, 0.0, True, False)
    assert info["coins_collected"] == 0 and info["length"] == 160 and "success" not in info


def test_endless_collector_gets_a_new_coin_each_time():
    env, task, _ = make(ESS, max_steps=400, spot_damage=0.0)
    coins = [tuple(task.state["coins"][0, 0])]
    total = 0.0
    for t in range(1, 401):
        obs, reward, terminated, truncated, info = env.step(searing_spotlights_action(task))
        total += reward
        assert np.array_equal(info["ground_truth"], np.r_[task.state["pos"][0], task.state["coins"][0, 0]] / 84)
        if reward > 0:
            coins.append(tuple(task.state["coins"][0, 0]))
            assert np.hypot(*np.subtract(coins[-1], coins[-2])) >= 20  # far from the one just taken
        if terminated or truncated:
            break
    assert (t, truncated, terminated) == (400, True, False)
    assert info["coins_collected"] == len(coins) - 1 >= 8 and total == pytest.approx(0.25 * info["coins_collected"])


def test_endless_spotlights_are_unbounded_but_memory_is_not():
    env, task, _ = make(ESS, spot_damage=0.0, steps_per_coin=100_000, max_steps=3000)
    capacity = task.spots.shape[1]
    most = 0
    for _ in range(3000 - 1):
        env.step(STILL)
        most = max(most, task.state["n_spots"][0])
    assert task.state["spawned"][0] == 3000 // 50 - 1 and task.spots.shape[1] == capacity
    assert most <= 3 + 401 // 50 + 1  # a spotlight lives at most 400 steps


def test_ground_truth_of_the_finite_env_is_the_next_goal():
    env, task, _ = make(SS, spot_damage=0.0)
    e = task.state[0]
    info = env.step(STILL)[4]
    assert np.array_equal(info["ground_truth"], np.r_[e["pos"], e["coins"][0]] / 84)
    while e["collected"] == 0:
        info = env.step(searing_spotlights_action(task))[4]
    assert np.array_equal(info["ground_truth"], np.r_[e["pos"], e["exit"]] / 84)


# --- every reset parameter -----------------------------------------------------------------------

@pytest.mark.parametrize("env_id, options, length", [
    (SS, {}, 256), (SS, {"max_steps": 20}, 20), (ESS, {"max_steps": 30}, 30),
    (ESS, {"coin_enabled": False, "max_steps": 300}, 300),
])
def test_param_max_steps(env_id, options, length):
    env, task, _ = make(env_id, spot_damage=0.0, **options)
    assert run(env, task)[:4] == (length, 0.0, False, True)


def test_param_reward_max_steps():
    env, task, _ = make(spot_damage=0.0, max_steps=20, reward_max_steps=0.5)
    assert run(env, task)[:4] == (20, 0.5, False, True)


@pytest.mark.parametrize("value", [0, 2, 7])
def test_param_initial_spawns(value):
    for env_id in (SS, ESS):
        assert make(env_id, initial_spawns=value)[1].state["n_spots"][0] == value


@pytest.mark.parametrize("options, spawn_steps", [
    ({}, [40, 80, 120]),  # the original's constant interval int(30 + 10)
    ({"initial_spawn_interval": 20, "spawn_interval_threshold": 5}, [25, 50, 75, 100, 125]),
    ({"decaying_spawn_interval": True}, [40, 78, 115]),  # int(30 * 0.95**i + 10) = 40, 38, 37, 35
    ({"decaying_spawn_interval": True, "spawn_interval_decay": 0.5}, [40, 65, 82, 95, 106, 116, 126]),
    ({"num_spawns": 2}, [40, 80]),
])
def test_param_spawn_schedule(options, spawn_steps):
    env, task, _ = make(initial_spawns=0, spot_damage=0.0, **options)
    steps = []
    for t in range(1, 131):
        before = task.state["spawned"][0]
        env.step(STILL)
        if task.state["spawned"][0] > before:
            steps.append(t)
    assert steps == spawn_steps


def test_param_endless_spawn_interval():
    env, task, _ = make(ESS, initial_spawns=1, spawn_interval=7, spot_damage=0.0, steps_per_coin=1000)
    for _ in range(70):
        env.step(STILL)
    assert task.state["spawned"][0] == 10


def _spots(env_id=SS, seeds=range(3), **options):
    env = gym.make(env_id)
    rows = []
    for seed in seeds:
        env.reset(seed=seed, options={"initial_spawns": 20, **options})
        rows.append(env.unwrapped.task.spots[0, :20].copy())
    return np.concatenate(rows)


@pytest.mark.parametrize("low, high, radii", [(7.5, 13.75, set(range(7, 14))), (5.5, 5.9, {5}), (2.0, 3.0, {2, 3})])
def test_param_spot_radius(low, high, radii):
    assert set(_spots(spot_min_radius=low, spot_max_radius=high)[:, S_R].astype(int)) == radii


@pytest.mark.parametrize("low, high", [(0.0025, 0.0075), (0.01, 0.01), (0.1, 0.5)])
def test_param_spot_speed(low, high):
    speeds = _spots(ESS, spot_min_speed=low, spot_max_speed=high)[:, S_SPEED]
    assert speeds.min() >= low and speeds.max() <= high and (low == high or speeds.std() > 0)


def test_param_spot_damage():
    env, task, _ = make(**ALONE, spot_damage=2.5)
    place_spot(task, 0, 45, 45, 10)
    env.step(STILL)
    assert task.state["health"][0] == 2.5


@pytest.mark.parametrize("feedback", [True, False])
def test_param_visual_feedback(feedback):
    env, task, _ = make(**ALONE, visual_feedback=feedback)
    place_spot(task, 0, 45, 45, 10)
    obs = env.step(STILL)[0]
    assert (count(obs, RED) > 0) == feedback and (count(obs, BLUE) > 0) != feedback


def test_param_black_background():
    env, task, obs = make(**ALONE, black_background=True, spot_damage=0.0)
    assert count(obs, BLACK) + count(obs, BODY) + count(obs, (50, 50, 50)) == 80 * 84
    for _ in range(7):
        env.step(STILL)
    place_spot(task, 0, 60, 60, 9)
    obs = env.step(STILL)[0]
    rim = pygame_disc(60, 60, 9, width=1)
    assert np.array_equal(np.all(obs == WHITE, axis=-1), rim)  # a white rim around a black disc
    assert count(obs, BLACK) == 80 * 84 - rim.sum()


def test_param_hide_chessboard():
    env, task, obs = make(**ALONE, hide_chessboard=True)
    assert count(obs, WHITE) + count(obs, BODY) + count(obs, (50, 50, 50)) == 80 * 84
    place_spot(task, 0, 45, 45, 10)
    obs = env.step(STILL)[0]
    assert task.state["hit"][0] and count(obs, RED) == 0  # no blue squares to turn red


@pytest.mark.parametrize("options, whites", [
    ({}, [255, 213, 171, 129, 87, 45, 3, 0, 0]),  # measured on the original memory-gym 1.0.2
    ({"light_dim_off_duration": 3}, [255, 170, 85, 0, 0, 0, 0, 0, 0]),
    ({"light_threshold": 100}, [255, 213, 171, 129, 129, 129, 129, 129, 129]),  # stops once above 100
    ({"light_threshold": 0}, [255, 213, 213, 213, 213, 213, 213, 213, 213]),
])
def test_param_dimming(options, whites):
    env, task, obs = make(**ALONE, **options)
    frames = [obs] + [env.step(STILL)[0] for _ in range(8)]
    assert [int(f[80, 80, 0]) for f in frames] == whites  # a white square, far from everything
    assert [int(f[80, 70, 2]) for f in frames] == whites  # the blue channel of a blue square


def test_param_num_coins():
    env = gym.make(SS)
    seen = set()
    for seed in range(12):
        env.reset(seed=seed, options={"num_coins": [0, 2]})
        seen.add(int(env.unwrapped.task.state["num_coins"][0]))
    assert seen == {0, 2}
    env, task, obs = make(num_coins=3, spot_damage=0.0)
    assert count(obs, ORANGE) == 3 * 24
    length, ret, terminated, *_, info, _ = run(env, task, searing_spotlights_action)
    assert terminated and ret == pytest.approx(0.75 + 1.0) and info["coins_collected"] == 1.0


def test_param_num_coins_zero_opens_the_exit_at_once():
    env, task, _ = make(num_coins=0, spot_damage=0.0)
    env.step(STILL)
    assert task.state["exit_open"][0]
    length, ret, terminated, *_, info, _ = run(env, task, searing_spotlights_action)
    assert terminated and ret == 1.0 and info["success"] == 1 and info["coins_collected"] == 1.0


@pytest.mark.parametrize("scale, radius", [(0.375, 3), (0.8, 8), (0.1, 1)])
def test_param_coin_scale(scale, radius):
    obs = make(coin_scale=scale, num_coins=1)[2]
    assert count(obs, ORANGE) == pygame_disc(40, 40, radius).sum()


@pytest.mark.parametrize("visible", [True, False])
def test_param_coins_visible(visible):
    env, task, obs = make(**NO_SPOTS, coins_visible=visible, spot_damage=0.0)
    for _ in range(8):
        obs = env.step(STILL)[0]
    assert count(obs, ORANGE) == (24 if visible else 0)


def test_param_use_exit():
    env, task, obs = make(use_exit=False, spot_damage=0.0)
    assert count(obs, EXIT_GREY) == 0
    length, ret, terminated, *_, info, _ = run(env, task, searing_spotlights_action)
    assert terminated and ret == 0.25 and info["success"] == 1  # the coin ends the episode


@pytest.mark.parametrize("scale, size", [(0.5, 10), (0.8, 16), (0.2, 4)])
def test_param_exit_scale(scale, size):
    obs = make(exit_scale=scale)[2]
    ys, xs = np.nonzero(np.all(obs == EXIT_GREY, axis=-1))
    assert (ys.max() - ys.min() + 1, xs.max() - xs.min() + 1) == (size - 2, size - 2)  # inside a 1-px border


@pytest.mark.parametrize("visible", [True, False])
def test_param_exit_visible(visible):
    env, task, reset_obs = make(**NO_SPOTS, exit_visible=visible, spot_damage=0.0)
    for _ in range(8):
        obs = env.step(STILL)[0]
    assert count(reset_obs, EXIT_GREY) > 0
    assert count(obs, EXIT_GREY) == (count(reset_obs, EXIT_GREY) if visible else 0)


@pytest.mark.parametrize("speed, straight, diagonal", [(3.0, 3, 2), (5.0, 5, 3), (1.0, 1, 0)])
def test_param_agent_speed(speed, straight, diagonal):
    env, task, _ = make(**ALONE, agent_speed=speed)
    env.step(np.array([2, 0]))
    env.step(np.array([1, 2]))
    assert tuple(task.state["pos"][0]) == (42 + straight - diagonal, 42 + diagonal)
    assert task.state["facing"][0] == 3  # down-left


def test_param_agent_health():
    env, task, _ = make(**ALONE, agent_health=3)
    place_spot(task, 0, 45, 45, 10)
    assert run(env, task)[0] == 3
    env, task, _ = make(ESS, initial_spawns=0, sample_agent_position=False)
    place_spot(task, 0, 45, 45, 10)
    assert run(env, task)[0] == 10  # the endless default


@pytest.mark.parametrize("scale, radius", [(0.25, 6), (0.5, 12)])
def test_param_agent_scale(scale, radius):
    env, task, _ = make(**ALONE, agent_scale=scale)
    task.state["facing"][0] = 0
    ys, xs = np.nonzero(np.all(task.draw(np.array([0]))[0] == BODY, axis=-1))
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (42 - radius, 41 + radius, 42 - radius, 41 + radius)
    place_spot(task, 0, 42 + 10 + radius + 0.1, 42, 10)
    env.step(STILL)
    assert not task.state["hit"][0]
    place_spot(task, 0, 42 + 10 + radius, 42, 10)
    env.step(STILL)
    assert task.state["hit"][0]


@pytest.mark.parametrize("visible", [True, False])
def test_param_agent_visible(visible):
    env, task, reset_obs = make(**ALONE, agent_visible=visible)
    for _ in range(8):
        obs = env.step(STILL)[0]
    assert count(obs, BODY) == (count(reset_obs, BODY) if visible else 0)


def test_param_sample_agent_position():
    env = gym.make(SS)
    fixed, sampled = set(), set()
    for seed in range(5):
        env.reset(seed=seed, options={"sample_agent_position": False})
        fixed.add(tuple(env.unwrapped.task.state["pos"][0]))
        env.reset(seed=seed)
        sampled.add(tuple(env.unwrapped.task.state["pos"][0]))
    assert fixed == {(42, 42)} and len(sampled) == 5


@pytest.mark.parametrize("action, reward, at_reset, step_1, step_2", [
    # the HUD at x = 45 (horizontal action), 60 (reward block), 70 (vertical action); it lags one
    # step: step 1 shows the (none) action and reward before the first step, step 2 those of step 1
    (True, True, (GREY, GREY, GREY), (GREY, BAR, GREY), (PURPLE, YELLOW, ACTION_ORANGE)),
    (True, False, (GREY, GREY, GREY), (GREY, GREY, GREY), (PURPLE, PURPLE, ACTION_ORANGE)),
    (False, True, (BAR, BAR, BAR), (BAR, BAR, BAR), (YELLOW, YELLOW, YELLOW)),
    (False, False, (BAR, BAR, BAR), (BAR, BAR, BAR), (BAR, BAR, BAR)),
])
def test_param_show_last_action_and_positive_reward(action, reward, at_reset, step_1, step_2):
    env, task, obs = make(**ALONE, show_last_action=action, show_last_positive_reward=reward,
                          reward_outside_spotlight=1.0)  # a positive reward on every step
    frames = [obs, env.step(np.array([1, 2]))[0], env.step(np.array([1, 2]))[0]]
    for frame, hud in zip(frames, (at_reset, step_1, step_2)):
        assert [tuple(frame[2, x]) for x in (45, 60, 70)] == list(hud)


@pytest.mark.parametrize("key, value, expected", [
    ("reward_inside_spotlight", 0.5, [0.0, 0.5, 0.5]),  # one step in the dark, two in a spotlight
    ("reward_outside_spotlight", -0.1, [-0.1, 0.0, 0.0]),
])
def test_param_rewards_per_step(key, value, expected):
    env, task, _ = make(**ALONE, **{key: value})
    rewards = [env.step(STILL)[1]]
    place_spot(task, 0, 45, 45, 10)
    rewards += [env.step(STILL)[1] for _ in range(2)]
    assert rewards == pytest.approx(expected)


@pytest.mark.parametrize("env_id, key, value, ret", [
    (SS, "reward_coin", 0.5, 1.5), (SS, "reward_exit", 2.0, 2.25), (ESS, "reward_coin", 1.0, None),
])
def test_param_rewards_for_goals(env_id, key, value, ret):
    options = {"max_steps": 200} if env_id == ESS else {}
    env, task, _ = make(env_id, spot_damage=0.0, **{key: value}, **options)
    length, total, terminated, truncated, info, _ = run(env, task, searing_spotlights_action)
    assert total == pytest.approx(ret if ret is not None else info["coins_collected"] * value)
    assert info["reward"] == pytest.approx(total)


def test_param_reward_death():
    env, task, _ = make(**ALONE, agent_health=1, reward_death=-2.0, reward_inside_spotlight=-0.5)
    place_spot(task, 0, 45, 45, 10)
    assert run(env, task)[:3] == (1, -2.5, True)


def test_param_steps_per_coin():
    env, task, _ = make(ESS, steps_per_coin=30, spot_damage=0.0)
    assert run(env, task)[:4] == (30, 0.0, True, False)


@pytest.mark.parametrize("duration", [6, 2, 0])
def test_param_coin_show_duration(duration):
    env, task, obs = make(ESS, initial_spawns=0, spawn_interval=1000, coin_show_duration=duration, spot_damage=0.0)
    frames = [obs]
    while task.state["collected"][0] == 0:
        frames.append(env.step(searing_spotlights_action(task))[0])
    collected_at = len(frames) - 1
    frames += [env.step(STILL)[0] for _ in range(8)]
    shown = [count(f, ORANGE) == 24 for f in frames]
    first = max(duration, 1)  # (the reset frame is not dark yet)
    assert collected_at > 7 and shown[:first] == [True] * first and not any(shown[first:collected_at])
    # the new coin: on the collection step and the next duration - 2 steps (its timer counts from 1)
    new = max(duration - 1, 0)
    assert shown[collected_at:collected_at + 8] == [True] * new + [False] * (8 - new)


def test_param_coin_enabled():
    env, task, obs = make(ESS, coin_enabled=False, max_steps=200, spot_damage=0.0)
    assert count(obs, ORANGE) == 0
    length, ret, terminated, truncated, info, _ = run(env, task)
    assert (length, terminated, truncated) == (200, False, True) and info["coins_collected"] == 0
    assert (info["ground_truth"][2:] == 0).all()


def test_endless_hud_without_last_action():
    # (the original crashes on the first step with show_last_action=False)
    env, task, _ = make(ESS, show_last_action=False, reward_outside_spotlight=1.0, spot_damage=0.0)
    frames = [env.step(np.array([2, 1]))[0] for _ in range(2)]
    assert tuple(frames[0][2, 60]) == BAR and tuple(frames[1][2, 60]) == YELLOW


def test_options_apply_to_their_episode_only():
    env = gym.make(SS, hide_chessboard=True)  # make kwargs: this env's defaults
    obs, _ = env.reset(seed=0, options={"black_background": True, "initial_spawns": 9})
    assert count(obs, BLUE) == 0 and count(obs, WHITE) == 0 and env.unwrapped.task.state["n_spots"][0] == 9
    obs, _ = env.reset(seed=0)
    assert count(obs, BLUE) == 0 and count(obs, WHITE) > 5000 and env.unwrapped.task.state["n_spots"][0] == 4
    obs, _ = gym.make(SS).reset(seed=0)
    assert count(obs, BLUE) > 2500 and count(obs, WHITE) > 2500


# --- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("env_id, options, message", [
    (SS, {"spot_min_radius": -1.0}, r"'spot_min_radius' must be a number in \[1.0, 59.0\], got -1.0"),
    (SS, {"spot_max_radius": 80.0}, r"'spot_max_radius' must be a number in \[1.0, 59.0\]"),
    (SS, {"spot_min_radius": 12.0, "spot_max_radius": 8.0},
     r"'spot_min_radius' \(12.0\) must be <= 'spot_max_radius' \(8.0\)"),
    (ESS, {"spot_min_speed": 0.01, "spot_max_speed": 0.005}, r"'spot_min_speed' \(0.01\) must be <= 'spot_max_speed'"),
    (SS, {"spot_min_speed": 0.0}, r"'spot_min_speed' must be a number in \[0.001, 1.0\]"),
    (SS, {"agent_health": 0}, r"'agent_health' must be an int in \[1, 1000\], got 0"),
    (SS, {"spot_damage": -1.0}, r"'spot_damage' must be a number in \[0.0, 1000.0\]"),
    (SS, {"num_coins": [1, 11]}, r"'num_coins' must be an int in \[0, 10\], got 11"),
    (SS, {"light_threshold": 256}, r"'light_threshold' must be an int in \[0, 255\]"),
    (SS, {"light_dim_off_duration": 0}, r"'light_dim_off_duration' must be an int in \[1, 255\]"),
    (SS, {"coin_scale": 0.0}, r"'coin_scale' must be a number in \[0.1, 1.0\]"),
    (SS, {"black_background": 1}, "'black_background' must be a bool"),
    (SS, {"steps_per_coin": 100},
     r"unknown reset parameter 'steps_per_coin' for SearingSpotlights-v0; valid keys: .*use_exit"),
    (ESS, {"use_exit": False}, r"unknown reset parameter 'use_exit' for Endless-SearingSpotlights-v0"),
    (ESS, {"steps_per_coin": 0}, r"'steps_per_coin' must be an int in \[1, 100000\]"),
    (ESS, {"spawn_interval": 0}, r"'spawn_interval' must be an int in \[1, 1000\]"),
])
def test_bad_reset_parameters(env_id, options, message):
    with pytest.raises(ValueError, match=message):
        gym.make(env_id).reset(options=options)
    with pytest.raises(ValueError, match=message):
        gym.make(env_id, **options)


# --- rendering and play --------------------------------------------------------------------------

@pytest.mark.parametrize("env_id", [SS, ESS])
def test_render_modes_and_play(env_id, capsys, monkeypatch):
    env = gym.make(env_id, render_mode="debug_rgb_array")
    env.reset(seed=0)
    assert env.render().shape == (336, 336, 3)
    human = gym.make(env_id, render_mode="human")  # SDL's dummy video driver in tests
    human.reset(seed=0)
    human.step(STILL)
    assert human.render() is None
    human.close()
    from memory_gym_envs.play import play

    class Clock:  # no frame pacing: play as fast as possible
        def tick(self, fps):
            return 0

    monkeypatch.setattr(_pygame().time, "Clock", Clock)
    play(env_id, seed=1, max_steps=300)  # the no-op player dies or times out
    assert "seed 1: reward=" in capsys.readouterr().out


# --- pixels of the original (tests/data/README.md) ------------------------------------------------

# The state behind each reference frame: agent (x, y, facing), coin, exit, darkness alpha, step,
# HUD (previous action), spotlights (truncated centre x, y and radius) and whether the agent is hit.
GOLDEN = [
    (SS, 0, dict(agent=(45, 55, 0), coin=(8, 65), exit=(17, 11), alpha=0, t=0)),
    (SS, 1, dict(agent=(44, 55, 3), coin=(8, 65), exit=(17, 11), alpha=126, t=3, action=(2, 0))),
    (SS, 2, dict(agent=(62, 44, 5), coin=(8, 65), exit=(17, 11), alpha=255, t=47, action=(2, 0),
                 spots=[(71, 7, 11), (13, 35, 11), (78, 46, 11)])),
    (SS, 3, dict(agent=(64, 46, 5), coin=(8, 65), exit=(17, 11), alpha=255, t=48, action=(2, 2),
                 spots=[(71, 7, 11), (14, 36, 11), (78, 47, 11), (91, 51, 11)], hit=True, health=4.0)),
    (ESS, 0, dict(agent=(45, 55, 0), coin=(31, 58), alpha=0, t=0, coin_t=0)),
    (ESS, 1, dict(agent=(42, 51, 7), coin=(31, 58), alpha=126, t=3, action=(1, 1), coin_t=3)),
    (ESS, 2, dict(agent=(39, 59, 1), coin=(67, 70), alpha=255, t=69, action=(1, 0), coin_t=20,
                  spots=[(86, 56, 9), (59, 6, 11), (27, 47, 11)])),
    (ESS, 3, dict(agent=(39, 59, 1), coin=(67, 70), alpha=255, t=70, action=(0, 0), coin_t=21,
                  spots=[(86, 56, 9), (59, 6, 11), (28, 47, 11)], hit=True, health=9.0)),
]


def golden_env(env_id, state, render_mode="rgb_array"):
    env = gym.make(env_id, render_mode=render_mode)
    env.reset(seed=0)
    task = env.unwrapped.task
    e = task.state[0]
    e["pos"], e["facing"] = state["agent"][:2], state["agent"][2]
    e["num_coins"], e["coins"][0], e["coin_alive"][0] = 1, state["coin"], 1
    if "exit" in state:
        e["exit"] = state["exit"]
    e["alpha"], e["t"], e["coin_t"] = state["alpha"], state["t"], state.get("coin_t", 0)
    e["hud_action"] = state.get("action", (0, 0))
    e["hit"], e["health"] = state.get("hit", False), state.get("health", e["health_max"])
    e["hud_reward"] = False
    e["n_spots"] = 0
    for k, (x, y, r) in enumerate(state.get("spots", [])):
        place_spot(task, k, x, y, r)
    return env, task


@pytest.mark.parametrize("env_id, index, state", GOLDEN, ids=[f"{g[0]}-{g[1]}" for g in GOLDEN])
def test_frames_match_the_original(env_id, index, state):
    env, task = golden_env(env_id, state)
    assert np.array_equal(task.draw(np.array([0]))[0], ref_frames(f"{env_id}.png")[index])


@pytest.mark.parametrize("env_id, index", [(SS, 3), (ESS, 7)])
def test_debug_view_matches_the_original(env_id, index):
    env, task = golden_env(env_id, GOLDEN[index][2], render_mode="debug_rgb_array")
    assert np.array_equal(env.render(), ref_image(f"{env_id}_debug.png")[::4, ::4])
