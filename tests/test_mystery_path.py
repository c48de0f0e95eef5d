"""Mystery Path family: path generator, rewards, fall-offs, endless rules, every reset parameter, pixels."""
import os

import gymnasium as gym
import numpy as np
import pytest

from agents import endless_mystery_path_action, endless_tile_centre, mystery_path_action
from memory_gym_envs import paths
from memory_gym_envs.mystery_path import RING, SEGMENT_COLUMNS, TILE, cross_sprite
from memory_gym_envs.play import keys_to_action, play

DATA = os.path.join(os.path.dirname(__file__), "data")
BODY = (250, 204, 153)


def colour_mask(frame, colour):
    return np.all(frame == colour, axis=-1)


def agent_centre_x(frame):
    xs = np.nonzero(colour_mask(frame, BODY).any(axis=0))[0]
    return (xs.min() + xs.max() + 1) // 2


# --- the path generator --------------------------------------------------------------------------

def path_statistics(seeds=range(1000)):
    """Reset MysteryPath-v0 with each seed, check its path (4-connected, no tile twice, from the
    origin edge to the opposite edge, no walls) and return the length statistics."""
    env = gym.make("MysteryPath-v0")
    task = env.unwrapped.task
    lengths, sides = [], set()
    for seed in seeds:
        env.reset(seed=seed)
        path, walls = task.path(0), task.walls[0]
        steps = np.abs(np.diff(path, axis=0)).sum(axis=1)
        assert (steps == 1).all(), f"seed {seed}: not 4-connected"
        assert len({tuple(p) for p in path}) == len(path), f"seed {seed}: a tile twice (a branch or loop)"
        assert not walls[path[:, 1], path[:, 0]].any(), f"seed {seed}: through a wall"
        (ox, oy), (gx, gy) = path[0], path[-1]
        side = [s for s, ok in enumerate([ox == 0 and gx == 6, ox == 6 and gx == 0, oy == 0 and gy == 6,
                                          oy == 6 and gy == 0]) if ok]
        assert side, f"seed {seed}: origin {path[0]} and goal {path[-1]} not on opposite edges"
        sides.update(side)
        on_path = task.path_index[0] >= 0
        assert on_path.sum() == len(path) and (task.path_index[0][path[:, 1], path[:, 0]] == np.arange(len(path))).all()
        lengths.append(len(path))
    lengths = np.array(lengths)
    return dict(mean=lengths.mean(), min=int(lengths.min()), max=int(lengths.max()), sides=sides)


def test_path_generator_over_1000_seeds():
    stats = path_statistics()
    print(f"path lengths over 1000 seeds: mean {stats['mean']:.2f}, min {stats['min']}, max {stats['max']}")
    # the original memory-gym 1.0.2, measured over 300 seeds: mean 10.1, min 7, max 14 (tails reach
    # 15-16 over more seeds)
    assert 9.8 <= stats["mean"] <= 10.4 and stats["min"] == 7 and 14 <= stats["max"] <= 17
    assert stats["sides"] == {0, 1, 2, 3}


def test_endless_segments_never_step_west():
    walls = np.zeros((7, 7), bool)
    px, py = np.zeros(paths.CAPACITY, np.int64), np.zeros(paths.CAPACITY, np.int64)
    lengths = []
    for k in range(1000):
        state = paths.stream(np.uint64(12345), k)
        start, end = k % 7, paths.randint(state, 7)
        n = paths.eastward_path(state, start, end, walls, px, py)
        assert (px[0], py[0], px[n - 1], py[n - 1]) == (0, start, 6, end)
        assert (np.diff(px[:n]) >= 0).all() and (np.abs(np.diff(px[:n])) + np.abs(np.diff(py[:n])) == 1).all()
        lengths.append(n + 1)  # + the transition tile
    assert 10.7 <= np.mean(lengths) <= 11.5  # the original's segments (900 measured): mean 11.1, min 8, max 16
    # ... while the plain generator does produce westward steps (the original's: 2 of 900 segments,
    # which the agent cannot follow): the fix is needed
    west = 0
    for k in range(20000):
        n = paths.edge_path(paths.stream(np.uint64(7), k), 0, walls, px, py)
        west += bool((np.diff(px[:n]) < 0).any())
    assert 10 <= west <= 80


# --- finite envs: goal, fall-off, time limit -----------------------------------------------------

def run(env_id, seed=0, options=None, policy=None, max_steps=600, **make_kwargs):
    """One episode; ``policy(task, t)`` returns an action, or None for the path follower."""
    env = gym.make(env_id, **make_kwargs)
    obs, _ = env.reset(seed=seed, options=options)
    task = env.unwrapped.task
    follow = endless_mystery_path_action if env_id.startswith("Endless") else mystery_path_action
    total, frames = 0.0, [obs]
    for t in range(1, max_steps + 1):
        action = policy(task, t) if policy else None
        obs, reward, terminated, truncated, info = env.step(follow(task) if action is None else action)
        total += reward
        frames.append(obs)
        if terminated or truncated:
            return dict(length=t, ret=total, terminated=terminated, truncated=truncated, info=info, task=task,
                        frames=frames)
    raise AssertionError("episode did not end")


@pytest.mark.parametrize("seed", range(6))
def test_path_follower_reaches_the_goal(seed):
    r = run("MysteryPath-v0", seed)
    tiles = len(r["task"].path(0))
    assert r["terminated"] and not r["truncated"] and r["ret"] == pytest.approx(0.1 * (tiles - 2) + 1.0)
    assert (r["info"]["success"], r["info"]["num_fails"], r["info"]["length"]) == (1, 0, r["length"])
    assert r["info"]["reward"] == pytest.approx(r["ret"])
    g = run("MysteryPath-Grid-v0", seed)
    assert g["terminated"] and g["ret"] == 1.0 and (g["info"]["success"], g["info"]["num_fails"]) == (1, 0)


def _off_path_neighbour(task):
    """(dx, dy) from the origin to a tile inside the grid that is not on the path."""
    ox, oy = task.state["origin"][0]
    for d in ((1, 0), (-1, 0), (0, -1), (0, 1)):
        x, y = ox + d[0], oy + d[1]
        if 0 <= x < 7 and 0 <= y < 7 and task.path_index[0, y, x] < 0:
            return d
    raise AssertionError("no off-path neighbour")


CONTINUOUS = {(1, 0): (2, 0), (-1, 0): (1, 0), (0, -1): (0, 1), (0, 1): (0, 2)}
GRID_FACING = {(0, -1): 0, (-1, 0): 2, (0, 1): 4, (1, 0): 6}


def fall_off(env_id, seed=3, **options):
    """Walk from the origin onto an off-path tile; return the frames and infos around it."""
    env = gym.make(env_id)
    env.reset(seed=seed, options=options)
    task = env.unwrapped.task
    e = task.state[0]
    d = _off_path_neighbour(task)
    origin = TILE * e["origin"] + TILE // 2
    steps = []
    while not e["off_path"]:
        if task.grid:
            action = 3 if e["facing"] == GRID_FACING[d] else 1
        else:
            action = np.array(CONTINUOUS[d])
        steps.append((env.step(action), e["pos"].copy(), int(e["facing"])))
    facing = int(e["facing"])
    respawn = env.step(np.array(CONTINUOUS[d]) if not task.grid else 3)  # this action is ignored
    return dict(task=task, steps=steps, respawn=respawn, origin=origin, facing=facing, pos_after=e["pos"].copy(),
                facing_after=int(e["facing"]))


@pytest.mark.parametrize("env_id", ["MysteryPath-v0", "MysteryPath-Grid-v0"])
def test_fall_off_shows_the_cross_for_one_frame_then_the_origin(env_id):
    f = fall_off(env_id)
    (obs, reward, terminated, truncated, info), pos, _ = f["steps"][-1]
    assert not (terminated or truncated) and reward == 0.0
    c = cross_sprite()
    expected = np.zeros((84, 84), bool)
    expected[pos[1] + c.dy[0], pos[0] + c.dx[0]] = True
    assert np.array_equal(colour_mask(obs, (255, 0, 0)), expected)  # the cross, centred on the agent
    assert not any(colour_mask(s[0][0], (255, 0, 0)).any() for s in f["steps"][:-1])
    obs, reward, terminated, truncated, info = f["respawn"]
    assert np.array_equal(f["pos_after"], f["origin"]) and f["facing_after"] == f["facing"]
    assert not colour_mask(obs, (255, 0, 0)).any() and not (terminated or truncated)
    assert f["task"].state["num_fails"][0] == 1


@pytest.mark.parametrize("env_id, limit", [("MysteryPath-v0", 512), ("MysteryPath-Grid-v0", 128)])
def test_time_limit_truncates(env_id, limit):
    idle = (lambda task, t: np.array([0, 0])) if env_id == "MysteryPath-v0" else (lambda task, t: 0)
    r = run(env_id, policy=idle)
    assert (r["length"], r["terminated"], r["truncated"]) == (limit, False, True)
    assert (r["info"]["length"], r["info"]["success"], r["info"]["num_fails"]) == (limit, 0, 0)
    r = run(env_id, options={"max_steps": 7}, policy=idle)
    assert (r["length"], r["truncated"]) == (7, True)


def test_ground_truth_points_to_the_next_tile():
    env = gym.make("MysteryPath-v0")
    _, info = env.reset(seed=4)
    task = env.unwrapped.task
    path = task.path(0)
    step = path[1] - path[0]
    assert info["ground_truth"].tolist() == [int(step[0] == 1), int(step[1] == -1), int(step[1] == 1), int(step[0] == -1)]
    assert env.unwrapped.ground_truth_space.shape == (4,)


# --- Endless Mystery Path ------------------------------------------------------------------------

def on_endless_path(task, col, row):
    if not 0 <= row < 7:
        return False
    seg = col // SEGMENT_COLUMNS
    slot = seg % RING
    assert task.ring.segment[0, slot] == seg
    return task.ring.index[0, slot, row, col - SEGMENT_COLUMNS * seg] >= 0


def walk(env, task, until, limit=3000):
    """Follow the path until ``until(task)`` holds at a tile centre."""
    for _ in range(limit):
        e = task.state[0]
        if np.array_equal(e["pos"], endless_tile_centre(task)) and until(task):
            return
        *_, terminated, truncated, _ = env.step(endless_mystery_path_action(task))
        assert not (terminated or truncated)
    raise AssertionError("condition not reached")


def step_off(env, task):
    """From a tile centre, walk onto a neighbour that is off the path (north, south or east)."""
    e = task.state[0]
    col, row = e["pos"] // TILE
    for action, (dx, dy) in ((2, (0, -1)), (3, (0, 1)), (1, (1, 0))):
        if not on_endless_path(task, col + dx, row + dy):
            while True:
                out = env.step(action)
                if e["off_path"]:
                    return out, (col + dx, row + dy)
    raise AssertionError("no way off the path")


def test_endless_follower_survives_10000_steps_in_bounded_memory():
    env = gym.make("Endless-MysteryPath-v0", max_steps=10_000)
    env.reset(seed=0)
    task = env.unwrapped.task
    arrays = [task.state] + task.ring.arrays()
    sizes = [(a.shape, a.nbytes) for a in arrays]
    visited = [0]
    for t in range(1, 10_001):
        obs, reward, terminated, truncated, info = env.step(endless_mystery_path_action(task))
        if t % 1000 == 0:
            visited.append(task.state["tiles_visited"][0])
            assert agent_centre_x(obs) == 66
            resident = task.ring.segment[0]
            seg = task.state["cur_seg"][0]
            assert {seg - 1, seg, seg + 1} <= set(resident.tolist())
        if terminated or truncated:
            break
    assert (t, terminated, truncated) == (10_000, False, True)
    assert all(200 <= b - a <= 260 for a, b in zip(visited, visited[1:]))  # 4 steps per tile
    assert info["tiles_visited"] == visited[-1] and info["reward"] == pytest.approx(0.1 * visited[-1])
    assert info["num_fails"] == 0 and info["max_x"] > 1500 and task.state["built"][0] > 200
    assert [(a.shape, a.nbytes) for a in [task.state] + task.ring.arrays()] == sizes


def test_endless_idle_agent_ends_after_exactly_20_steps():
    r = run("Endless-MysteryPath-v0", policy=lambda task, t: 0)
    assert (r["length"], r["terminated"], r["truncated"]) == (20, True, False)
    assert (r["info"]["tiles_visited"], r["info"]["max_x"], r["info"]["num_fails"]) == (0, 0, 0)


def test_endless_fall_off_at_the_frontier_respawns_then_behind_it_terminates():
    env = gym.make("Endless-MysteryPath-v0")
    env.reset(seed=1)
    task = env.unwrapped.task
    e = task.state[0]
    walk(env, task, lambda task: task.state["max_x"][0] >= 4 and task.state["pos"][0][0] // TILE == task.state["max_x"][0])
    visited = e["tiles_visited"]
    (obs, _, terminated, _, _), _ = step_off(env, task)
    assert not terminated and colour_mask(obs, (255, 0, 0)).any()
    obs, reward, terminated, *_ = env.step(1)  # respawn: back on the first tile, the past path gone
    assert not terminated and tuple(e["pos"]) == (6, 12 * e["y0"] + 6) and (e["cur_seg"], e["cur_idx"]) == (0, 0)
    assert not colour_mask(obs, (255, 255, 255)).any() and agent_centre_x(obs) == 66
    walk(env, task, lambda task: task.state["pos"][0][0] // TILE == 1)  # the known path again: no reward
    assert e["tiles_visited"] == visited
    (_, _, terminated, _, info), (col, _) = step_off(env, task)
    assert terminated and col < e["max_x"] and info["num_fails"] == 2


def test_endless_falling_off_twice_at_the_same_place_terminates():
    env = gym.make("Endless-MysteryPath-v0")
    env.reset(seed=2)
    task = env.unwrapped.task
    walk(env, task, lambda task: task.state["max_x"][0] >= 3 and task.state["pos"][0][0] // TILE == task.state["max_x"][0])
    spot = tuple(task.state["pos"][0])
    (_, _, terminated, *_), first = step_off(env, task)
    assert not terminated
    env.step(0)
    walk(env, task, lambda task: tuple(task.state["pos"][0]) == spot)
    (_, _, terminated, _, info), second = step_off(env, task)
    assert terminated and first == second and info["num_fails"] == 2


def test_endless_dropped_segments_are_rebuilt_identically():
    env = gym.make("Endless-MysteryPath-v0")
    env.reset(seed=5)
    task = env.unwrapped.task
    r = task.ring
    first = r.xy[0, 0, :r.length[0, 0]].copy()
    walk(env, task, lambda task: task.state["cur_seg"][0] >= RING + 1
         and task.state["pos"][0][0] // TILE == task.state["max_x"][0])
    assert 0 not in r.segment[0]  # segment 0 was dropped
    step_off(env, task)
    env.step(0)  # respawn on the first tile: segment 0 is built again
    assert r.segment[0, 0] == 0 and np.array_equal(r.xy[0, 0, :r.length[0, 0]], first)
    assert r.rewarded[0, 0, :r.length[0, 0]].all()  # walking it again gives no reward


def test_endless_camera_keeps_the_agent_at_x_66_while_the_past_path_scrolls():
    env = gym.make("Endless-MysteryPath-v0")
    obs, _ = env.reset(seed=0)
    task = env.unwrapped.task
    xs, shifted = [agent_centre_x(obs)], 0
    for _ in range(60):
        idx = task.state["cur_idx"][0]
        action = endless_mystery_path_action(task)
        new, *_ = env.step(action)
        xs.append(agent_centre_x(new))
        past, now = colour_mask(obs, (210, 210, 210))[:, :50], colour_mask(new, (210, 210, 210))[:, :50]
        if action == 1 and task.state["cur_idx"][0] == idx and past.any():  # moved east on the same tile
            assert np.array_equal(now[:, :-3], past[:, 3:])  # everything drawn moved 3 px left
            shifted += 1
        obs = new
    assert set(xs) == {66} and shifted >= 10


def test_endless_ground_truth_and_info():
    env = gym.make("Endless-MysteryPath-v0")
    _, info = env.reset(seed=0)
    assert info["ground_truth"].dtype == np.int64 and info["ground_truth"].sum() == 1
    r = run("Endless-MysteryPath-v0", policy=lambda task, t: 0)
    assert set(r["info"]) == {"ground_truth", "reward", "length", "num_fails", "max_x", "tiles_visited"}


# --- every reset parameter -----------------------------------------------------------------------

def body_pixels(env_id, scale):
    obs, _ = gym.make(env_id, agent_scale=scale).reset(seed=0)
    return int(colour_mask(obs, BODY).sum())


@pytest.mark.parametrize("env_id", ["MysteryPath-v0", "MysteryPath-Grid-v0", "Endless-MysteryPath-v0"])
def test_param_agent_scale(env_id):
    # radius 12 instead of 6: 4x the disc, of which the screen edge (the origin's) may clip half
    assert body_pixels(env_id, 0.5) > 2 * body_pixels(env_id, 0.25)


@pytest.mark.parametrize("env_id, action, speed", [("MysteryPath-v0", np.array([0, 1]), 5.0),
                                                   ("Endless-MysteryPath-v0", 2, 4.0)])
def test_param_agent_speed(env_id, action, speed):
    env = gym.make(env_id, agent_speed=speed)
    env.reset(seed=0, options={"cardinal_origin_choice": 3} if env_id == "MysteryPath-v0" else None)
    e = env.unwrapped.task.state[0]
    y = int(e["pos"][1])
    env.step(action)  # up (MysteryPath: the origin is on the bottom edge)
    assert y - int(e["pos"][1]) == speed


@pytest.mark.parametrize("choice", [0, 1, 2, 3])
def test_param_cardinal_origin_choice(choice):
    env = gym.make("MysteryPath-Grid-v0", cardinal_origin_choice=choice)
    for seed in range(10):
        env.reset(seed=seed)
        (ox, oy), (gx, gy) = env.unwrapped.task.state["origin"][0], env.unwrapped.task.state["goal"][0]
        assert [(ox, gx) == (0, 6), (ox, gx) == (6, 0), (oy, gy) == (0, 6), (oy, gy) == (6, 0)][choice]
    sides = set()
    for seed in range(30):
        env.reset(seed=seed, options={"cardinal_origin_choice": [1, 2]})
        sides.add(int(env.unwrapped.task.state["origin"][0][0] == 6))
    assert sides == {0, 1}


def test_param_show_origin_and_show_goal():
    env = gym.make("MysteryPath-v0")
    obs, _ = env.reset(seed=0)
    assert set(map(tuple, obs.reshape(-1, 3))) == {(0, 0, 0), BODY, (50, 50, 50)}  # only the agent
    e = env.unwrapped.task.state[0]
    for key, colour, tile in (("show_origin", (0, 0, 255), e["origin"]), ("show_goal", (0, 255, 0), e["goal"])):
        obs, _ = env.reset(seed=0, options={key: True})
        x, y = TILE * tile
        expected = np.zeros((84, 84), bool)
        expected[y:y + TILE, x:x + TILE] = True
        agent = colour_mask(obs, BODY) | colour_mask(obs, (50, 50, 50))
        assert np.array_equal(colour_mask(obs, colour), expected & ~agent)  # the agent stands on the origin


@pytest.mark.parametrize("env_id", ["MysteryPath-v0", "MysteryPath-Grid-v0"])
def test_param_visual_feedback(env_id):
    f = fall_off(env_id, visual_feedback=False)
    obs = f["steps"][-1][0][0]
    assert f["task"].state["num_fails"][0] == 1 and not colour_mask(obs, (255, 0, 0)).any()


def test_param_rewards():
    tiles = len(run("MysteryPath-v0", 1)["task"].path(0))
    assert run("MysteryPath-v0", 1, {"reward_goal": 5.0})["ret"] == pytest.approx(0.1 * (tiles - 2) + 5.0)
    assert run("MysteryPath-v0", 1, {"reward_path_progress": 0.5})["ret"] == pytest.approx(0.5 * (tiles - 2) + 1.0)
    assert run("MysteryPath-Grid-v0", 1, {"reward_path_progress": 0.5})["ret"] == pytest.approx(0.5 * (tiles - 2) + 1.0)
    r = run("MysteryPath-v0", 1, {"reward_step": -0.01})
    assert r["ret"] == pytest.approx(0.1 * (tiles - 2) + 1.0 - 0.01 * r["length"])
    f = fall_off("MysteryPath-v0", reward_fall_off=-1.0)
    assert f["steps"][-1][0][1] == -1.0 and f["respawn"][1] == 0.0


def test_param_endless_max_steps_and_stamina_level():
    r = run("Endless-MysteryPath-v0", 0, {"max_steps": 50})
    assert (r["length"], r["terminated"], r["truncated"]) == (50, False, True)
    r = run("Endless-MysteryPath-v0", 0, {"stamina_level": 7}, policy=lambda task, t: 0)
    assert (r["length"], r["terminated"]) == (7, True)
    r = run("Endless-MysteryPath-v0", 0, {"stamina_level": 3, "max_steps": 200})  # 4 steps per tile: too few
    assert r["terminated"] and r["length"] <= 4


def test_param_endless_rewards():
    r = run("Endless-MysteryPath-v0", 0, {"max_steps": 100, "reward_path_progress": 1.0, "reward_step": -0.5})
    assert r["ret"] == pytest.approx(r["info"]["tiles_visited"] - 0.5 * 100) and r["info"]["tiles_visited"] == 25
    env = gym.make("Endless-MysteryPath-v0", reward_fall_off=-2.0)
    env.reset(seed=0)
    (_, reward, *_), _ = step_off(env, env.unwrapped.task)
    assert reward == -2.0


def endless_frames(steps=40, **options):
    return run("Endless-MysteryPath-v0", 0, dict(options, max_steps=steps))["frames"]


def test_param_endless_show_past_path_background_origin_stamina():
    default = endless_frames()
    assert colour_mask(default[-1], (255, 255, 255)).sum() > 300  # the past path
    assert not colour_mask(endless_frames(show_past_path=False)[-1], (255, 255, 255)).any()
    env = gym.make("Endless-MysteryPath-v0", show_background=True)
    obs, _ = env.reset(seed=0)
    task = env.unwrapped.task
    assert colour_mask(obs, (125, 177, 250)).sum() > 3000 and not colour_mask(default[0], (125, 177, 250)).any()
    for _ in range(12):  # the tile borders (row 5: vertical borders only) scroll with the agent
        x = task.state["pos"][0][0]
        new, *_ = env.step(endless_mystery_path_action(task))
        moved = task.state["pos"][0][0] - x
        before, after = (set(np.flatnonzero(colour_mask(f, (210, 210, 210))[5, :50])) for f in (obs, new))
        assert after == {b - moved for b in before if 0 <= b - moved < 50} | {a for a in after if a >= 50 - moved}
        obs = new
    env = gym.make("Endless-MysteryPath-v0", show_origin=True)
    origin, _ = env.reset(seed=0)
    y0 = env.unwrapped.task.state["y0"][0]
    expected = np.zeros((84, 84), bool)
    expected[12 * y0:12 * y0 + 12, 60:72] = True  # the first tile, under the agent at x = 66
    agent = colour_mask(origin, BODY) | colour_mask(origin, (50, 50, 50))
    assert np.array_equal(colour_mask(origin, (0, 0, 255)), expected & ~agent)
    assert not colour_mask(default[0], (0, 0, 255)).any()
    idle = run("Endless-MysteryPath-v0", 0, {"show_stamina": True}, policy=lambda task, t: 0)["frames"]
    for t in (0, 5, 19):
        red, green = colour_mask(idle[t], (255, 0, 0))[:, 80:], colour_mask(idle[t], (0, 255, 0))[:, 80:]
        assert red.sum() == 4 * (84 * t // 20) and red.sum() + green.sum() == 4 * 84
    assert not colour_mask(default[5], (0, 255, 0)).any()


def test_param_endless_visual_feedback():
    for feedback in (True, False):
        env = gym.make("Endless-MysteryPath-v0", visual_feedback=feedback)
        env.reset(seed=0)
        (obs, *_), _ = step_off(env, env.unwrapped.task)
        assert colour_mask(obs, (255, 0, 0)).any() == feedback


@pytest.mark.parametrize("scale, agent_x, past_columns", [(5.0, 66, 5), (2.0, 30, 2), (0.0, 6, 0), (5.5, 72, 5)])
def test_param_camera_offset_scale(scale, agent_x, past_columns):
    r = run("Endless-MysteryPath-v0", 0, {"camera_offset_scale": scale, "max_steps": 80})
    assert {agent_centre_x(f) for f in r["frames"]} == {agent_x}
    e = r["task"].state[0]
    # past-path tiles: none west of column (agent's column - 1 - past_columns)
    drawn = colour_mask(r["frames"][-1], (210, 210, 210)).any(axis=0)
    camera = e["pos"][0] - agent_x
    leftmost = TILE * (e["pos"][0] // TILE - 1 - past_columns) - camera
    assert not drawn[:max(leftmost, 0)].any() and (past_columns == 0 or drawn.any())


# --- bad input and play --------------------------------------------------------------------------

@pytest.mark.parametrize("env_id, key, value, message", [
    ("MysteryPath-v0", "cardinal_origin_choice", [], "'cardinal_origin_choice' .* non-empty list"),
    ("MysteryPath-v0", "cardinal_origin_choice", [0, 4], r"'cardinal_origin_choice' must be an int in \[0, 3\]"),
    ("MysteryPath-Grid-v0", "cardinal_origin_choice", -1, r"'cardinal_origin_choice' must be an int in \[0, 3\]"),
    ("MysteryPath-Grid-v0", "agent_speed", 3.0, "unknown reset parameter 'agent_speed'.*valid keys"),
    ("MysteryPath-v0", "agent_speed", 13.0, r"'agent_speed' must be a number in \[1.0, 12.0\]"),
    ("MysteryPath-v0", "show_origin", 1, "'show_origin' must be a bool"),
    ("Endless-MysteryPath-v0", "camera_offset_scale", 6.0, r"'camera_offset_scale' must be a number in \[0.0, 5.5\]"),
    ("Endless-MysteryPath-v0", "stamina_level", 0, r"'stamina_level' must be an int in \[1, 1000000000\]"),
    ("Endless-MysteryPath-v0", "show_goal", True, "unknown reset parameter 'show_goal'.*valid keys"),
])
def test_bad_reset_parameter(env_id, key, value, message):
    with pytest.raises(ValueError, match=message):
        gym.make(env_id).reset(options={key: value})
    with pytest.raises(ValueError, match=message):
        gym.make(env_id, **{key: value})


@pytest.mark.parametrize("env_id, action", [("Endless-MysteryPath-v0", 4), ("Endless-MysteryPath-v0", -1),
                                            ("MysteryPath-v0", np.array([3, 0])), ("MysteryPath-Grid-v0", 4)])
def test_invalid_action(env_id, action):
    env = gym.make(env_id)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=f"invalid action for {env_id}"):
        env.step(action)


def test_endless_controls_map_right_up_down():
    import pygame

    mapping = keys_to_action("right_up_down")
    assert mapping[(pygame.K_d,)] == 1 and mapping[(pygame.K_UP,)] == 2 and mapping[(pygame.K_s,)] == 3
    assert set(mapping.values()) == {1, 2, 3}
    assert gym.make("Endless-MysteryPath-v0").unwrapped.get_keys_to_action() == mapping


@pytest.fixture
def unpaced(monkeypatch):
    """pygame clocks that do not wait for the frame rate (3 fps in the grid variant)."""
    import pygame

    class Unpaced:
        def tick(self, fps):
            return 0

    monkeypatch.setattr(pygame.time, "Clock", Unpaced)


@pytest.mark.parametrize("env_id", ["MysteryPath-v0", "MysteryPath-Grid-v0", "Endless-MysteryPath-v0"])
def test_play_runs_headless(env_id, capsys, unpaced):
    play(env_id, seed=1, max_steps=25)  # the idle player: the endless episode ends after 20 steps
    out = capsys.readouterr().out
    assert ("seed 1: reward=0.0, length=20" in out) == env_id.startswith("Endless")


@pytest.mark.parametrize("env_id", ["MysteryPath-v0", "MysteryPath-Grid-v0", "Endless-MysteryPath-v0"])
def test_render_modes(env_id, unpaced):
    env = gym.make(env_id, render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    assert np.array_equal(env.render(), obs)
    debug = gym.make(env_id, render_mode="debug_rgb_array")
    debug.reset(seed=0)
    frame = debug.render()
    assert frame.shape == (336, 336, 3) and colour_mask(frame, (0, 255, 0)).any()  # goal / stamina bar
    human = gym.make(env_id, render_mode="human")  # SDL's dummy video driver in tests
    human.reset(seed=0)
    human.step(human.action_space.sample())
    assert human.render() is None
    human.close()


# --- pixels: episodes of the original, replayed on its path -----------------------------------------

def ref_frames(name):
    from memory_gym_envs.sprites import _pygame

    img = _pygame().surfarray.array3d(_pygame().image.load(os.path.join(DATA, name))).transpose(1, 0, 2)
    if img.shape[1] == img.shape[0]:  # a debug view: the 336x336 render upscaled 4x
        return [img[::16, ::16]]
    count = (img.shape[1] + 4) // 340
    return [img[1:336:4, i * 340 + 1:i * 340 + 336:4] for i in range(count)]


# The reference episode's path (tests/data/MysteryPath-v0_debug.png): origin (6, 3), goal (0, 5).
REF_PATH = [(6, 3), (6, 4), (6, 5), (5, 5), (4, 5), (3, 5), (2, 5), (1, 5), (0, 5)]


def set_finite_path(task, path, walls):
    e = task.state[0]
    task.path_index[0] = -1
    for m, (x, y) in enumerate(path):
        task.path_xy[0, m] = x, y
        task.path_index[0, y, x] = m
    task.walls[0] = walls
    task.visited[0] = False
    e["length"], e["origin"], e["goal"], e["cur"] = len(path), path[0], path[-1], 0
    e["pos"] = TILE * np.array(path[0]) + TILE // 2


def ref_walls():
    debug = ref_frames("MysteryPath-v0_debug.png")[0]
    return colour_mask(debug[TILE // 2::TILE, TILE // 2::TILE], (255, 0, 0))  # tile centres


@pytest.mark.parametrize("env_id, name, actions, shown", [
    # reset, walk up off the path (cross at step 3), respawn (step 4), walk down (step 9)
    ("MysteryPath-v0", "MysteryPath-v0.png", [(0, 1)] * 3 + [(0, 0)] + [(0, 2)] * 5, [0, 3, 4, 9]),
    # reset, forward off the path (cross), respawn, turn twice (south), forward twice
    ("MysteryPath-Grid-v0", "MysteryPath-Grid-v0.png", [3, 0, 1, 1, 3, 3], [0, 1, 2, 4, 5, 6]),
])
def test_finite_frames_match_the_original(env_id, name, actions, shown):
    env = gym.make(env_id, render_mode="debug_rgb_array")
    env.reset(seed=0)
    task = env.unwrapped.task
    set_finite_path(task, REF_PATH, ref_walls())
    frames = [task.draw(np.array([0]))[0]]
    debug = None
    for t, a in enumerate(actions, 1):
        frames.append(env.step(np.array(a) if isinstance(a, tuple) else a)[0])
        if t == 3 and env_id == "MysteryPath-v0":
            debug = env.render()  # the reference debug view shows this step (the cross)
    for frame, ref in zip([frames[t] for t in shown], ref_frames(name)):
        assert np.array_equal(frame, ref)
    if debug is not None:  # walls red, path white, origin blue, goal green, the agent and the cross
        assert np.array_equal(debug[::4, ::4], ref_frames("MysteryPath-v0_debug.png")[0])


# The reference endless episode's first segment (tests/data/Endless-MysteryPath-v0.png): row 5
# east to column 5, north to row 4, east; the transition tile at column 7.
REF_SEGMENT = [(0, 5), (1, 5), (2, 5), (3, 5), (4, 5), (5, 5), (5, 4), (6, 4), (7, 4)]


def test_endless_frames_match_the_original():
    env = gym.make("Endless-MysteryPath-v0", render_mode="debug_rgb_array")
    env.reset(seed=0)
    task = env.unwrapped.task
    e, ring = task.state[0], task.ring
    ring.index[0, 0] = -1
    for m, (x, y) in enumerate(REF_SEGMENT):
        ring.xy[0, 0, m] = x, y
        ring.index[0, 0, y, x] = m
    ring.length[0, 0] = len(REF_SEGMENT)
    ring.rewarded[0, 0], ring.refilled[0, 0] = False, False
    ring.rewarded[0, 0, 0] = True
    e["y0"], e["pos"], e["cur_idx"] = 5, (6, 66), 0
    frames = [task.draw(np.array([0]))[0]]
    debug = None
    # 18 x right, 2 x up (step 20), up, 7 x right (step 28), down off the path (29), respawn (30)
    for t, a in enumerate([1] * 18 + [2] * 3 + [1] * 7 + [3, 1], 1):
        obs, _, terminated, *_ = env.step(a)
        assert not terminated
        frames.append(obs)
        if t == 20:
            debug = env.render()  # the reference debug view: this step, stamina 17 of 20
    for frame, ref in zip([frames[t] for t in (0, 20, 28, 29, 30)], ref_frames("Endless-MysteryPath-v0.png")):
        assert np.array_equal(frame, ref)
    assert np.array_equal(debug[::4, ::4], ref_frames("Endless-MysteryPath-v0_debug.png")[0])
