"""Mystery Path: walk an invisible path, remembering where it went on.

The task of the original's ``memory_gym/mystery_path.py`` (and ``mystery_path_grid.py``,
``endless_mystery_path.py``) in https://github.com/MarcoMeter/endless-memory-gym.

Ids: ``MysteryPath-v0``, ``MysteryPath-Grid-v0`` (one batched task, ``MysteryPath``, with a grid
flag) and ``Endless-MysteryPath-v0`` (``EndlessMysteryPath``: 7x7 paths chained left to right,
seen through a camera that follows the agent). Paths come from ``paths.py``.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np
from gymnasium import spaces
from numba import njit

from .core import MemoryGymEnv, MemoryGymVectorEnv, Task
from .movement import clamp_position, move_continuous, move_grid, speeds
from .params import MAX_STEPS, Param, pick, reward
from .paths import CAPACITY, CELLS, edge_path, eastward_path, randint, stream
from .sprites import SCREEN, AgentSprites, Sprite, _pygame, blit, fill_rect, scratch_surface, surface_image

TILE = 12  # px (84 // 7)
SEGMENT_COLUMNS = CELLS + 1  # an endless segment: a 7x7 path and one transition tile to the next
RING = 4  # resident endless segments per env: the agent's, the one behind and the one ahead + 1
FALLS = 24  # remembered endless fall-off tiles; at most 18 can matter at once (see _remember_fall)

CROSS = (255, 0, 0)
WALL = (255, 0, 0)
PATH = (255, 255, 255)
ORIGIN = (0, 0, 255)
GOAL = (0, 255, 0)
PAST_PATH, PAST_PATH_BORDER = (255, 255, 255), (210, 210, 210)
BACKGROUND, BACKGROUND_BORDER = (125, 177, 250), (210, 210, 210)
DEBUG_PATH = (200, 200, 200)
STAMINA_LEFT, STAMINA_USED = (0, 255, 0), (255, 0, 0)
STAMINA_X, STAMINA_WIDTH = 80, 4

# Endless actions 0 none, 1 right, 2 up, 3 down as continuous [horizontal, vertical] components.
ENDLESS_H = np.array([0, 2, 0, 0])
ENDLESS_V = np.array([0, 0, 1, 2])


@functools.lru_cache(maxsize=None)
def cross_sprite() -> Sprite:
    """The fall-off cross: two red diagonals of width 3 on a 10x10 surface, anchored at (5, 5)
    (blitted with its top-left corner 5 px up and left of the agent's centre)."""
    pygame = _pygame()
    surf = scratch_surface((10, 10))
    pygame.draw.line(surf, CROSS, (0, 0), (9, 9), 3)
    pygame.draw.line(surf, CROSS, (9, 0), (0, 9), 3)
    return Sprite.from_images([surface_image(surf)], anchor=(5, 5))


@functools.lru_cache(maxsize=None)
def background_strip() -> np.ndarray:
    """Endless Mystery Path's optional background: tiles with a 1-px border, 8 tiles wide so that
    any horizontal scroll offset 0..11 is a plain copy of 84 columns."""
    tile = np.empty((TILE, TILE, 3), np.uint8)
    tile[:] = BACKGROUND_BORDER
    tile[1:-1, 1:-1] = BACKGROUND
    return np.ascontiguousarray(np.tile(tile, (CELLS, SEGMENT_COLUMNS, 1)))


def _finite_params(grid: bool) -> dict[str, Param]:
    t = {
        "max_steps": Param(128 if grid else 512, int, -1, MAX_STEPS,
                           doc="truncate the episode at this step count (never if < 1)"),
        "agent_scale": Param(0.25, float, 0.1, 1.0, doc="sprite and collision scale; radius = int(25 * scale)"),
    }
    if not grid:
        t["agent_speed"] = Param(3.0, float, 1.0, 12.0,
                                 doc="px per step (diagonal moves: truncated per axis); at most one tile")
    t["cardinal_origin_choice"] = Param([0, 1, 2, 3], int, 0, 3, sampled=True,
                                        doc="edge of the origin (the goal is on the opposite one): "
                                            "0 left, 1 right, 2 top, 3 bottom")
    t["show_origin"] = Param(False, bool, doc="draw the origin tile blue")
    t["show_goal"] = Param(False, bool, doc="draw the goal tile green")
    t["visual_feedback"] = Param(True, bool, doc="red cross on the agent in the frame it falls off")
    t["reward_goal"] = reward(1.0, doc="on reaching the goal (the episode ends)")
    t["reward_fall_off"] = reward(0.0, doc="per fall-off")
    t["reward_path_progress"] = reward(0.0 if grid else 0.1, doc="first visit of each path tile except origin and goal")
    t["reward_step"] = reward(0.0, doc="every step")
    return t


class MysteryPath(Task):
    """Mystery Path (``MysteryPath-v0``): find the invisible path across the screen.

    Original suite (``memory-gym`` 1.0.2): ``memory_gym/mystery_path.py``.

    ## Description
    The screen is a 7x7 grid of 12-px tiles, all black. An invisible path of 4-adjacent tiles leads
    from an origin tile on one edge (chosen by ``cardinal_origin_choice``) to a goal tile on the
    opposite edge, winding around walls that are invisible too. The agent starts on the origin and
    must reach the goal. Stepping off the path shows a red cross on the agent for one frame; on the
    next step the agent is back on the origin (that step's action is ignored), so it must remember
    which ways failed and which tiles were on the path. Paths come from the original's randomised
    A*-like search, quirks included (``memory_gym_envs/paths.py``), which makes them wind: 10.1
    tiles long on average (7 to about 15, origin and goal included).

    ## Action Space
    ``MultiDiscrete([3, 3])``: [horizontal: 0 none, 1 left, 2 right; vertical: 0 none, 1 up, 2
    down]. The agent turns to face its move and moves ``agent_speed`` px (each component of the move
    truncated: 3 px straight and 2 px per axis diagonally by default); its disc stays on the screen.
    The tile under its centre is where it stands.

    ## Observation Space
    ``Box(0, 255, (84, 84, 3), uint8)``: an RGB image, indexed [y][x][channel]. Black, the agent (a
    peach disc whose two dark hands show where it faces) and, in the frame of a fall-off, a red
    cross on it (unless ``visual_feedback`` is off); the origin tile blue and the goal tile green
    only if ``show_origin`` / ``show_goal``.

    ## Rewards
    ``reward_path_progress`` (0.1) on the first visit of each path tile except the origin and the
    goal, ``reward_goal`` (1.0) on reaching the goal, ``reward_fall_off`` (0) per fall-off and
    ``reward_step`` (0) on every step. A perfect agent returns 0.1 * (path tiles - 2) + 1.0 with the
    defaults.

    ## Starting State
    The agent stands on the centre of the origin tile, facing up. The origin's edge (one value drawn
    from ``cardinal_origin_choice``), the walls and the path are fixed at reset.

    ## Episode End
    Terminated on reaching the goal; truncated when the step count reaches ``max_steps`` (512).
    Falling off never ends the episode. Every reset and step ``info``: ``ground_truth``, the
    direction from the last path tile the agent stood on to the next one, one-hot [east, north,
    south, west] (all 0 on the goal). Final-step ``info``: ``reward`` (the return), ``length``,
    ``success`` (1 if the goal was reached), ``num_fails`` (the number of fall-offs).
    """

    env_id = "MysteryPath-v0"
    grid = False
    render_fps = 25
    params = _finite_params(grid=False)
    observation_space = spaces.Box(0, 255, (SCREEN, SCREEN, 3), np.uint8)
    action_space = spaces.MultiDiscrete([3, 3])
    ground_truth_space = spaces.Box(0, 1, (4,), np.float32)
    reset_state = ("state", "walls", "path_index", "path_xy", "visited")

    def __init__(self, num_envs: int):
        super().__init__(num_envs)
        self.state = np.zeros(num_envs, STATE)
        self.walls = np.zeros((num_envs, CELLS, CELLS), np.bool_)  # [y, x], for the debug view
        self.path_index = np.full((num_envs, CELLS, CELLS), -1, np.int8)  # [y, x]: index on the path or -1
        self.path_xy = np.zeros((num_envs, CAPACITY, 2), np.int64)  # the path's tiles (x, y), origin first
        self.visited = np.zeros((num_envs, CAPACITY), np.bool_)
        self.agents = AgentSprites()
        self.cross = cross_sprite()
        self._actions = np.zeros((num_envs, 2), np.int64)

    def start_record(self, p: dict[str, Any]) -> np.ndarray:
        e = np.zeros((), STATE)
        speed = 0.0 if self.grid else p["agent_speed"]
        for key, value in {
            "sprite": self.agents.base(p["agent_scale"]), "radius": int(25 * p["agent_scale"]),
            "speed_straight": speeds(speed)[0], "speed_diagonal": speeds(speed)[1],
            "max_steps": p["max_steps"], "show_origin": p["show_origin"], "show_goal": p["show_goal"],
            "visual_feedback": p["visual_feedback"], "r_goal": p["reward_goal"],
            "r_fall_off": p["reward_fall_off"], "r_progress": p["reward_path_progress"], "r_step": p["reward_step"],
        }.items():  # the rest is set by _new_episodes
            e[key] = value
        return e

    def reset(self, env_ids: np.ndarray, params: dict[str, Any], rngs: list[np.random.Generator]) -> None:
        p, s = params, self.state
        self.reset_records(env_ids, p)
        cardinals, keys = np.zeros(len(env_ids), np.int64), np.zeros(len(env_ids), np.uint64)
        for j, rng in enumerate(rngs):
            cardinals[j] = pick(rng, p["cardinal_origin_choice"])
            keys[j] = _episode_key(rng)
        _new_episodes(s, np.asarray(env_ids, np.int64), keys, cardinals,
                      self.walls, self.path_index, self.path_xy, self.visited)

    def step(self, actions: np.ndarray, active: np.ndarray):
        n = self.num_envs
        if self.grid:
            self._actions[:, 0] = actions
        else:
            self._actions[:] = actions
        reward, terminated, truncated = np.zeros(n), np.zeros(n, bool), np.zeros(n, bool)
        _step(self.state, self.path_index, self.path_xy, self.visited, self._actions, active, self.grid,
              reward, terminated, truncated)
        return reward, terminated, truncated

    def draw(self, ids: np.ndarray, frames: np.ndarray | None = None, debug: bool = False) -> np.ndarray:
        if frames is None:
            frames = np.zeros((len(ids), SCREEN, SCREEN, 3), np.uint8)
        a, c = self.agents.table, self.cross
        _draw(self.state, ids, frames, debug, a.dy, a.dx, a.rgb, c.dy, c.dx, c.rgb)
        return frames

    def observe(self):
        return self.draw(self.all_ids)

    def debug_image(self, i: int) -> np.ndarray:
        """Walls red, path white, origin blue, goal green; then the agent and the cross."""
        tiles = np.zeros((CELLS, CELLS, 3), np.uint8)
        tiles[self.walls[i]] = WALL
        tiles[self.path_index[i] >= 0] = PATH
        e = self.state[i]
        tiles[e["origin"][1], e["origin"][0]] = ORIGIN
        tiles[e["goal"][1], e["goal"][0]] = GOAL
        frame = np.ascontiguousarray(np.repeat(np.repeat(tiles, TILE, axis=0), TILE, axis=1))
        return self.draw(np.array([i]), frame[None], debug=True)[0]

    def path(self, i: int) -> np.ndarray:
        """Env ``i``'s path as an (L, 2) array of tiles (x, y), origin first."""
        return self.path_xy[i, :self.state["length"][i]].copy()

    def step_info(self):
        return {"ground_truth": self.state["gt"].copy()}

    def final_info(self):
        s = self.state
        return {"reward": s["ep_return"].copy(), "length": s["t"].copy(), "success": s["success"].copy(),
                "num_fails": s["num_fails"].copy()}


def _episode_key(rng: np.random.Generator) -> np.uint64:
    """The 64-bit key from which an episode's paths are generated (``paths.stream``)."""
    return rng.integers(0, 2**64, dtype=np.uint64)


# One record per env: the episode's parameters, then the state that steps change.
STATE = np.dtype([
    ("sprite", np.int64), ("radius", np.int64), ("speed_straight", np.int64), ("speed_diagonal", np.int64),
    ("max_steps", np.int64), ("show_origin", np.bool_), ("show_goal", np.bool_), ("visual_feedback", np.bool_),
    ("r_goal", np.float64), ("r_fall_off", np.float64), ("r_progress", np.float64), ("r_step", np.float64),
    ("origin", np.int64, (2,)), ("goal", np.int64, (2,)),  # tiles (x, y)
    ("length", np.int64),           # path tiles, origin and goal included
    ("pos", np.int64, (2,)),        # agent centre (x, y) in px
    ("facing", np.int64),           # 45-degree steps counter-clockwise from up
    ("off_path", np.bool_),         # fell off in the last step: cross shown, back to the origin next step
    ("cur", np.int64),              # path index of the last path tile the agent stood on
    ("gt", np.int64, (4,)),         # ground truth: one-hot direction to the next path tile
    ("t", np.int64), ("ep_return", np.float64), ("success", np.int64), ("num_fails", np.int64),
])


@njit(cache=True)
def _new_episodes(state, ids, keys, cardinals, walls, path_index, path_xy, visited):
    """Generate each env's path and put the agent on its origin."""
    px, py = np.empty(CAPACITY, np.int64), np.empty(CAPACITY, np.int64)
    for j in range(ids.shape[0]):
        i = ids[j]
        e = state[i]
        n = edge_path(stream(keys[j], np.int64(0)), cardinals[j], walls[i], px, py)
        path_index[i, :, :] = -1
        for m in range(n):
            path_xy[i, m, 0], path_xy[i, m, 1] = px[m], py[m]
            path_index[i, py[m], px[m]] = m
        visited[i, :] = False
        e.length = n
        e.origin[0], e.origin[1] = px[0], py[0]
        e.goal[0], e.goal[1] = px[n - 1], py[n - 1]
        e.pos[0], e.pos[1] = TILE * px[0] + TILE // 2, TILE * py[0] + TILE // 2
        e.facing = 0
        e.off_path = False
        e.cur = 0
        e.t = 0
        e.ep_return = 0.0
        e.success = 0
        e.num_fails = 0
        _finite_ground_truth(e, path_xy[i])


@njit(cache=True)
def _direction(dx, dy):
    """Ground-truth slot of a step between tiles: 0 east, 1 north, 2 south, 3 west."""
    if dx > 0:
        return 0
    if dy < 0:
        return 1
    if dy > 0:
        return 2
    return 3


@njit(cache=True)
def _finite_ground_truth(e, path_xy):
    e.gt[:] = 0
    if e.cur < e.length - 1:
        c = e.cur
        e.gt[_direction(path_xy[c + 1, 0] - path_xy[c, 0], path_xy[c + 1, 1] - path_xy[c, 1])] = 1


@njit(cache=True)
def _step(state, path_index, path_xy, visited, actions, active, grid, reward, terminated, truncated):
    """Advance every active env by one step; see ``MysteryPath``."""
    for i in range(state.shape[0]):
        reward[i] = 0.0
        terminated[i] = truncated[i] = False
        if not active[i]:
            continue
        e = state[i]
        if e.off_path:  # back on the origin, facing kept, the action ignored
            e.pos[0], e.pos[1] = TILE * e.origin[0] + TILE // 2, TILE * e.origin[1] + TILE // 2
        elif grid:
            move_grid(e, actions[i, 0], TILE, 0, CELLS)
        else:
            if move_continuous(e, actions[i, 0], actions[i, 1]):
                clamp_position(e, e.radius, SCREEN - e.radius, e.radius, SCREEN - e.radius)
        tx, ty = e.pos[0] // TILE, e.pos[1] // TILE
        k = path_index[i, ty, tx]
        r = 0.0
        if k >= 0:
            if not visited[i, k]:
                visited[i, k] = True
                if 0 < k < e.length - 1:
                    r += e.r_progress
            e.cur = k
            e.off_path = False
            if k == e.length - 1:
                r += e.r_goal
                e.success = 1
                terminated[i] = True
        else:
            r += e.r_fall_off
            e.num_fails += 1
            e.off_path = True
        r += e.r_step
        e.t += 1
        e.ep_return += r
        reward[i] = r
        truncated[i] = not terminated[i] and e.max_steps >= 1 and e.t == e.max_steps
        _finite_ground_truth(e, path_xy[i])


@njit(cache=True)
def _draw(state, ids, frames, debug, agent_dy, agent_dx, agent_rgb, cross_dy, cross_dx, cross_rgb):
    """Draw envs ``ids`` into black ``frames`` (debug: frames that already show walls and path):
    origin and goal if shown, the agent, the cross after a fall-off."""
    for j in range(ids.shape[0]):
        e = state[ids[j]]
        f = frames[j]
        if not debug:
            if e.show_origin:
                fill_rect(f, TILE * e.origin[0], TILE * e.origin[1], TILE, TILE, ORIGIN[0], ORIGIN[1], ORIGIN[2])
            if e.show_goal:
                fill_rect(f, TILE * e.goal[0], TILE * e.goal[1], TILE, TILE, GOAL[0], GOAL[1], GOAL[2])
        blit(f, agent_dy, agent_dx, agent_rgb, e.sprite + e.facing, e.pos[0], e.pos[1])
        if e.off_path and e.visual_feedback:
            blit(f, cross_dy, cross_dx, cross_rgb, 0, e.pos[0], e.pos[1])


class MysteryPathGrid(MysteryPath):
    """Mystery Path, grid variant (``MysteryPath-Grid-v0``): find the invisible path across the screen
    tile by tile.

    As ``MysteryPath-v0`` but the agent moves from tile centre to tile centre, there is no progress
    reward and the time limit is 128 steps. Original suite (``memory-gym`` 1.0.2):
    ``memory_gym/mystery_path_grid.py``.

    ## Action Space
    ``Discrete(4)``: 0 no-op, 1 turn left, 2 turn right, 3 one tile forward in the direction the
    agent faces (no move at the screen's edge); a step onto a tile off the path is a fall-off. The
    agent always stands on a tile centre.

    ## Rewards
    ``reward_goal`` (1.0) on reaching the goal, ``reward_path_progress`` (0) on the first visit of
    each path tile except the origin and the goal, ``reward_fall_off`` (0) per fall-off and
    ``reward_step`` (0) on every step. A perfect agent returns 1.0 with the defaults.

    ## Episode End
    Terminated on reaching the goal; truncated when the step count reaches ``max_steps`` (128).
    Falling off never ends the episode. Every reset and step ``info``: ``ground_truth``, the
    direction from the last path tile the agent stood on to the next one, one-hot [east, north,
    south, west] (all 0 on the goal). Final-step ``info``: ``reward`` (the return), ``length``,
    ``success`` (1 if the goal was reached), ``num_fails`` (the number of fall-offs).
    """

    env_id = "MysteryPath-Grid-v0"
    grid = True
    controls = "grid"
    render_fps = 3
    params = _finite_params(grid=True)
    action_space = spaces.Discrete(4)


# --- Endless Mystery Path ------------------------------------------------------------------------

ENDLESS_PARAMS = {
    "max_steps": Param(-1, int, -1, MAX_STEPS, doc="truncate the episode at this step count (never if < 1)"),
    "agent_scale": Param(0.25, float, 0.1, 1.0, doc="sprite scale; radius = int(25 * scale)"),
    "agent_speed": Param(3.0, float, 1.0, 12.0, doc="px per step; at most one tile"),
    "show_origin": Param(False, bool, doc="draw the origin tile blue (never drawn by the original)"),
    "show_past_path": Param(True, bool, doc="draw the path tiles behind the agent"),
    "show_background": Param(False, bool, doc="scrolling light-blue tile background"),
    "show_stamina": Param(False, bool, doc="stamina bar at the right edge (green left, red used)"),
    "visual_feedback": Param(True, bool, doc="red cross on the agent in the frame it falls off"),
    "camera_offset_scale": Param(5.0, float, 0.0, 5.5,
                                 doc="tiles between the screen's left edge and the agent's tile; "
                                     "int(scale) past columns are drawn"),
    "stamina_level": Param(20, int, 1, MAX_STEPS, doc="steps allowed to reach the next new path tile"),
    "reward_fall_off": reward(0.0, doc="per fall-off"),
    "reward_path_progress": reward(0.1, doc="first visit of each path tile (origin excluded)"),
    "reward_step": reward(0.0, doc="every step"),
}


class EndlessMysteryPath(Task):
    """Endless Mystery Path (``Endless-MysteryPath-v0``): an invisible path that never ends.

    Original suite (``memory-gym`` 1.0.2): ``memory_gym/endless_mystery_path.py``.

    ## Description
    Mystery Paths of 7x7 tiles ("segments") chained from left to right: segment k runs from world
    column 8k to 8k + 6, from the row where the previous one ended to a random row, followed by one
    transition tile in column 8k + 7; segments only step east, north or south. The camera follows
    the agent, which stays at a fixed screen x (66 px by default, set by ``camera_offset_scale``)
    while the world scrolls. The path tiles behind the agent are drawn; the tile under it and
    everything ahead are not. Stamina: every new path tile refills it to ``stamina_level``, every
    step costs one. A fall-off (leaving the path) shows a red cross for one frame and sends the
    agent back to the very first tile, from where it must walk the known path again (then every path
    tile refills the stamina, but gives no reward); it may fall off again only at or beyond its
    frontier (the easternmost column it reached) and never twice on the same tile.

    ## Action Space
    ``Discrete(4)``: 0 none, 1 right, 2 up, 3 down (there is no way back west), ``agent_speed`` px
    per step; nothing bounds the agent (leaving rows 0..6 is a fall-off).

    ## Observation Space
    ``Box(0, 255, (84, 84, 3), uint8)``: an RGB image, indexed [y][x][channel]. Black, the path
    tiles behind the agent white with a light grey border (``show_past_path``, back to
    ``int(camera_offset_scale)`` columns behind the agent's), the agent (a peach disc whose two dark
    hands show where it faces), the red cross in the frame of a fall-off (unless ``visual_feedback``
    is off); optionally a scrolling tile background (``show_background``), the origin tile
    (``show_origin``) and a stamina bar at the right edge (``show_stamina``).

    ## Rewards
    ``reward_path_progress`` (0.1) on the first visit of each path tile (the origin excluded),
    ``reward_fall_off`` (0) per fall-off and ``reward_step`` (0) on every step. A segment dropped
    from memory far behind the agent and rebuilt after a fall-off counts as visited: a tile that was
    skipped through a shortcut (where a path touches itself) pays nothing later.

    ## Starting State
    The agent stands on the origin tile (world column 0, a random row), facing right, with full
    stamina. The segments follow from a key drawn at reset: segment k is built from the key and k
    when the agent comes near it.

    ## Episode End
    Terminated when the stamina runs out (an idle agent: after ``stamina_level`` = 20 steps), on a
    fall-off behind the frontier column, or on a second fall-off on the same tile; truncated when
    the step count reaches ``max_steps`` (default -1: never). Every reset and step ``info``:
    ``ground_truth``, the direction from the last path tile the agent stood on to the next one,
    one-hot [east, north, south]. Final-step ``info``: ``reward`` (the return), ``length``,
    ``num_fails`` (the number of fall-offs), ``max_x`` (the frontier column), ``tiles_visited`` (the
    path tiles rewarded).
    """

    env_id = "Endless-MysteryPath-v0"
    controls = "right_up_down"
    render_fps = 25
    params = ENDLESS_PARAMS
    observation_space = spaces.Box(0, 255, (SCREEN, SCREEN, 3), np.uint8)
    action_space = spaces.Discrete(4)
    ground_truth_space = spaces.Box(0, 1, (3,), np.float32)
    reset_state = ("state", "ring.segment", "ring.length", "ring.index", "ring.xy", "ring.rewarded", "ring.refilled")

    def __init__(self, num_envs: int):
        super().__init__(num_envs)
        self.state = np.zeros(num_envs, ENDLESS_STATE)
        self.ring = Ring(num_envs)
        self.agents = AgentSprites()
        self.cross = cross_sprite()
        self.background = background_strip()

    def start_record(self, p: dict[str, Any]) -> np.ndarray:
        e = np.zeros((), ENDLESS_STATE)
        for key, value in {
            "sprite": self.agents.base(p["agent_scale"]), "radius": int(25 * p["agent_scale"]),
            "speed_straight": int(p["agent_speed"]), "speed_diagonal": 0, "max_steps": p["max_steps"],
            "stamina_level": p["stamina_level"], "screen_x": TILE // 2 + int(TILE * p["camera_offset_scale"]),
            "past_columns": int(p["camera_offset_scale"]),
            "show_origin": p["show_origin"], "show_past_path": p["show_past_path"],
            "show_background": p["show_background"], "show_stamina": p["show_stamina"],
            "visual_feedback": p["visual_feedback"], "r_fall_off": p["reward_fall_off"],
            "r_progress": p["reward_path_progress"], "r_step": p["reward_step"],
        }.items():  # the rest is set by _new_endless_episodes
            e[key] = value
        return e

    def reset(self, env_ids: np.ndarray, params: dict[str, Any], rngs: list[np.random.Generator]) -> None:
        p, s = params, self.state
        self.reset_records(env_ids, p)
        keys = np.array([_episode_key(rng) for rng in rngs], np.uint64)
        r = self.ring
        _new_endless_episodes(s, np.asarray(env_ids, np.int64), keys, r.segment, r.length, r.index, r.xy,
                              r.rewarded, r.refilled)

    def step(self, actions: np.ndarray, active: np.ndarray):
        n = self.num_envs
        reward, terminated, truncated = np.zeros(n), np.zeros(n, bool), np.zeros(n, bool)
        r = self.ring
        _endless_step(self.state, r.segment, r.length, r.index, r.xy, r.rewarded, r.refilled,
                      np.asarray(actions, np.int64), active, reward, terminated, truncated)
        return reward, terminated, truncated

    def draw(self, ids: np.ndarray, debug: bool = False) -> np.ndarray:
        frames = np.zeros((len(ids), SCREEN, SCREEN, 3), np.uint8)
        a, c, r = self.agents.table, self.cross, self.ring
        _endless_draw(self.state, r.segment, r.length, r.xy, ids, frames, debug, self.background,
                      a.dy, a.dx, a.rgb, c.dy, c.dx, c.rgb)
        return frames

    def observe(self):
        return self.draw(self.all_ids)

    def debug_image(self, i: int) -> np.ndarray:
        """Every resident path tile grey (ahead and behind), the agent, the cross, the stamina bar."""
        return self.draw(np.array([i]), debug=True)[0]

    def step_info(self):
        return {"ground_truth": self.state["gt"].copy()}

    def final_info(self):
        s = self.state
        return {"reward": s["ep_return"].copy(), "length": s["t"].copy(), "num_fails": s["num_fails"].copy(),
                "max_x": s["max_x"].copy(), "tiles_visited": s["tiles_visited"].copy()}


class Ring:
    """The resident segments of N endless envs: ``RING`` slots per env, segment k in slot k % RING.

    Memory stays bounded however long an episode runs: an env keeps the agent's segment, the one
    behind it and those ahead. A segment is a function of the episode's key and its index, so one
    that was dropped is rebuilt identically when a fall-off sends the agent back to it.

    ``segment[i, s]``: the segment index in slot s (-1: empty); ``length``: its tiles, the
    transition tile included; ``index[i, s, y, x]``: a tile's position on the segment or -1, for
    local columns x 0..7; ``xy``: the tiles (local x, y) in path order; ``rewarded``: visited
    (progress reward given); ``refilled``: refilled the stamina since the last fall-off.
    """

    def __init__(self, num_envs: int):
        self.segment = np.full((num_envs, RING), -1, np.int64)
        self.length = np.zeros((num_envs, RING), np.int64)
        self.index = np.full((num_envs, RING, CELLS, SEGMENT_COLUMNS), -1, np.int8)
        self.xy = np.zeros((num_envs, RING, CAPACITY, 2), np.int64)
        self.rewarded = np.zeros((num_envs, RING, CAPACITY), np.bool_)
        self.refilled = np.zeros((num_envs, RING, CAPACITY), np.bool_)

    def arrays(self) -> list[np.ndarray]:
        return [self.segment, self.length, self.index, self.xy, self.rewarded, self.refilled]


ENDLESS_STATE = np.dtype([
    ("sprite", np.int64), ("radius", np.int64), ("speed_straight", np.int64), ("speed_diagonal", np.int64),
    ("max_steps", np.int64), ("stamina_level", np.int64),
    ("screen_x", np.int64),         # the agent's fixed screen x (the camera keeps it there)
    ("past_columns", np.int64),     # int(camera_offset_scale): past path columns drawn
    ("show_origin", np.bool_), ("show_past_path", np.bool_), ("show_background", np.bool_),
    ("show_stamina", np.bool_), ("visual_feedback", np.bool_),
    ("r_fall_off", np.float64), ("r_progress", np.float64), ("r_step", np.float64),
    ("key", np.uint64),             # the episode's key: segment k is a function of (key, k)
    ("y0", np.int64),               # the origin's row (world column 0)
    ("built", np.int64),            # highest segment index built so far
    ("pos", np.int64, (2,)),        # agent centre (x, y) in world px
    ("facing", np.int64),
    ("off_path", np.bool_),
    ("cur_seg", np.int64), ("cur_idx", np.int64),  # the last path tile the agent stood on
    ("gt", np.int64, (3,)),         # ground truth: one-hot direction to the next tile [E, N, S]
    ("stamina", np.int64),
    ("max_x", np.int64),            # frontier: the easternmost path column reached
    ("n_falls", np.int64), ("fall_x", np.int64, (FALLS,)), ("fall_y", np.int64, (FALLS,)),
    ("t", np.int64), ("ep_return", np.float64), ("num_fails", np.int64), ("tiles_visited", np.int64),
])


@njit(cache=True, inline="always")  # (small: inlined, not compiled on its own)
def _segment_row(key, k):
    """The row segment k ends on (k = -1: the origin's row): the first draw of its stream."""
    return randint(stream(key, k), np.int64(CELLS))


@njit(cache=True)
def _load_segment(e, i, k, segment, length, index, xy, rewarded, refilled):
    """Build segment k from the episode key into slot k % RING (``_load_window`` calls it for a missing one)."""
    slot = k % RING
    state = stream(e.key, k)
    end_row = randint(state, np.int64(CELLS))  # = _segment_row(e.key, k)
    start_row = e.y0 if k == 0 else _segment_row(e.key, k - 1)
    walls = np.empty((CELLS, CELLS), np.bool_)
    px, py = np.empty(CAPACITY, np.int64), np.empty(CAPACITY, np.int64)
    n = eastward_path(state, start_row, end_row, walls, px, py)
    index[i, slot, :, :] = -1
    for m in range(n):
        xy[i, slot, m, 0], xy[i, slot, m, 1] = px[m], py[m]
        index[i, slot, py[m], px[m]] = m
    xy[i, slot, n, 0], xy[i, slot, n, 1] = CELLS, end_row  # the transition tile
    index[i, slot, end_row, CELLS] = n
    length[i, slot] = n + 1
    # A segment built before was dropped behind the agent, which only comes back after a
    # fall-off: its tiles count as visited (they were, unless skipped through a shortcut).
    rewarded[i, slot, :] = k <= e.built
    rewarded[i, slot, 0] = rewarded[i, slot, 0] or k == 0  # the origin gives no reward
    refilled[i, slot, :] = False
    segment[i, slot] = k
    e.built = max(e.built, k)


@njit(cache=True, inline="always")  # (small: inlined, not compiled on its own)
def _window_loaded(i, seg, segment):
    """Whether the segments the agent in segment ``seg`` may need are resident: behind (past path), its own, ahead."""
    loaded = True
    for k in range(max(seg - 1, 0), seg + 2):
        loaded = loaded and segment[i, k % RING] == k
    return loaded


@njit(cache=True, inline="always")  # (small: inlined, not compiled on its own)
def _load_window(e, i, seg, segment, length, index, xy, rewarded, refilled):
    """Make the segments of ``_window_loaded`` resident. (Called only when one is missing: a kernel that calls
    another counts the references to its array arguments, an atomic operation each; docs/design.md.)"""
    for k in range(max(seg - 1, 0), seg + 2):
        if segment[i, k % RING] != k:
            _load_segment(e, i, k, segment, length, index, xy, rewarded, refilled)


@njit(cache=True, inline="always")  # (small: inlined, not compiled on its own)
def _endless_ground_truth(e, i, length, xy):
    slot = e.cur_seg % RING
    e.gt[:] = 0
    c = e.cur_idx
    if c == length[i, slot] - 1:  # the transition tile: the next segment starts east of it
        e.gt[0] = 1
    else:
        e.gt[_direction(xy[i, slot, c + 1, 0] - xy[i, slot, c, 0], xy[i, slot, c + 1, 1] - xy[i, slot, c, 1])] = 1


@njit(cache=True)
def _new_endless_episodes(state, ids, keys, segment, length, index, xy, rewarded, refilled):
    for j in range(ids.shape[0]):
        i = ids[j]
        e = state[i]
        e.key = keys[j]
        e.y0 = _segment_row(e.key, np.int64(-1))
        e.built = -1
        segment[i, :] = -1
        _load_window(e, i, np.int64(0), segment, length, index, xy, rewarded, refilled)
        e.pos[0], e.pos[1] = TILE // 2, TILE * e.y0 + TILE // 2
        e.facing = 6  # right
        e.off_path = False
        e.cur_seg = 0
        e.cur_idx = 0
        e.stamina = e.stamina_level
        e.max_x = 0
        e.n_falls = 0
        e.t = 0
        e.ep_return = 0.0
        e.num_fails = 0
        e.tiles_visited = 0
        _endless_ground_truth(e, i, length, xy)


@njit(cache=True)
def _fell_here_before(e, x, y):
    for m in range(e.n_falls):
        if e.fall_x[m] == x and e.fall_y[m] == y:
            return True
    return False


@njit(cache=True)
def _remember_fall(e, x, y):
    """Add a fall-off tile (x >= max_x). Tiles west of the frontier are forgotten: a fall-off
    there ends the episode before the list is read, and the frontier never moves back. So the list
    only holds tiles one step from a path tile at or west of the frontier, in columns max_x and
    max_x + 1, rows -1..7: at most 18."""
    kept = 0
    for m in range(e.n_falls):
        if e.fall_x[m] >= e.max_x:
            e.fall_x[kept], e.fall_y[kept] = e.fall_x[m], e.fall_y[m]
            kept += 1
    if kept < FALLS:  # always true (see above); guards the fixed-size arrays all the same
        e.fall_x[kept], e.fall_y[kept] = x, y
        kept += 1
    e.n_falls = kept


@njit(cache=True)
def _endless_step(state, segment, length, index, xy, rewarded, refilled, actions, active,
                  reward, terminated, truncated):
    """Advance every active env by one step; see ``EndlessMysteryPath``."""
    for i in range(state.shape[0]):
        reward[i] = 0.0
        terminated[i] = truncated[i] = False
        if not active[i]:
            continue
        e = state[i]
        if e.off_path:  # back to the very first tile (the camera follows), the action ignored
            e.pos[0], e.pos[1] = TILE // 2, TILE * e.y0 + TILE // 2
        else:
            move_continuous(e, ENDLESS_H[actions[i]], ENDLESS_V[actions[i]])  # no bounds
        tx, ty = e.pos[0] // TILE, e.pos[1] // TILE
        seg = tx // SEGMENT_COLUMNS
        if not _window_loaded(i, seg, segment):
            _load_window(e, i, seg, segment, length, index, xy, rewarded, refilled)
        slot = seg % RING
        k = index[i, slot, ty, tx - SEGMENT_COLUMNS * seg] if 0 <= ty < CELLS else -1
        r = 0.0
        if k >= 0:
            e.cur_seg, e.cur_idx = seg, k
            if not rewarded[i, slot, k]:
                rewarded[i, slot, k] = True
                r += e.r_progress
                e.tiles_visited += 1
            if not refilled[i, slot, k]:  # (the origin too, on its first visit, as in 1.0.2)
                refilled[i, slot, k] = True
                e.stamina = e.stamina_level
            e.off_path = False
            if tx > e.max_x:
                e.max_x = tx
        else:
            r += e.r_fall_off
            e.num_fails += 1
            e.off_path = True
            if tx < e.max_x:  # behind the frontier
                terminated[i] = True
            elif _fell_here_before(e, tx, ty):
                terminated[i] = True
            else:
                _remember_fall(e, tx, ty)
            refilled[i, :, :] = False
            e.stamina = e.stamina_level
        r += e.r_step
        e.stamina -= 1
        if e.stamina <= 0:
            terminated[i] = True
        e.t += 1
        e.ep_return += r
        reward[i] = r
        truncated[i] = not terminated[i] and e.max_steps >= 1 and e.t == e.max_steps
        _endless_ground_truth(e, i, length, xy)


@njit(cache=True)
def _path_tile(f, x, y, fill, border):
    """A past-path tile at screen (x, y): 1-px border, inner fill."""
    fill_rect(f, x, y, TILE, TILE, border[0], border[1], border[2])
    fill_rect(f, x + 1, y + 1, TILE - 2, TILE - 2, fill[0], fill[1], fill[2])


@njit(cache=True)
def _endless_draw(state, segment, length, xy, ids, frames, debug, background,
                  agent_dy, agent_dx, agent_rgb, cross_dy, cross_dx, cross_rgb):
    """Draw envs ``ids`` into black ``frames``; ``debug``: every resident path tile
    grey instead of the past path, and the stamina bar."""
    for j in range(ids.shape[0]):
        i = ids[j]
        e = state[i]
        f = frames[j]
        camera = e.pos[0] - e.screen_x  # world x at the screen's left edge
        if debug:
            for slot in range(RING):
                if segment[i, slot] >= 0:
                    x0 = TILE * SEGMENT_COLUMNS * segment[i, slot] - camera
                    for m in range(length[i, slot]):
                        fill_rect(f, x0 + TILE * xy[i, slot, m, 0], TILE * xy[i, slot, m, 1], TILE, TILE,
                                  DEBUG_PATH[0], DEBUG_PATH[1], DEBUG_PATH[2])
        else:
            if e.show_background:
                shift = camera % TILE
                for y in range(SCREEN):
                    for x in range(SCREEN):
                        for c in range(3):
                            f[y, x, c] = background[y, x + shift, c]
            if e.show_past_path:
                # From the predecessor of the agent's path tile back along the path, until a tile
                # in column (agent's column - 1 - past_columns) has been drawn. Paths never step
                # west, so "or west of it" is the same stop, except in a fall-off frame east with
                # past_columns 0, where the original walks on to the origin: its extra tiles lie
                # left of the screen (up to 4 px show if 0.67 <= camera_offset_scale < 1).
                stop = e.pos[0] // TILE - 1 - e.past_columns
                s, k = e.cur_seg, e.cur_idx
                while True:
                    if k > 0:
                        k -= 1
                    elif s > 0 and segment[i, (s - 1) % RING] == s - 1:
                        s -= 1
                        k = length[i, s % RING] - 1
                    else:
                        break
                    column = SEGMENT_COLUMNS * s + xy[i, s % RING, k, 0]
                    _path_tile(f, TILE * column - camera, TILE * xy[i, s % RING, k, 1], PAST_PATH, PAST_PATH_BORDER)
                    if column <= stop:
                        break
        if e.show_origin:
            fill_rect(f, -camera, TILE * e.y0, TILE, TILE, ORIGIN[0], ORIGIN[1], ORIGIN[2])
        blit(f, agent_dy, agent_dx, agent_rgb, e.sprite + e.facing, e.screen_x, e.pos[1])
        if e.off_path and e.visual_feedback:
            blit(f, cross_dy, cross_dx, cross_rgb, 0, e.screen_x, e.pos[1])
        if e.show_stamina or debug:
            used = (SCREEN * (e.stamina_level - e.stamina)) // e.stamina_level
            fill_rect(f, STAMINA_X, 0, STAMINA_WIDTH, SCREEN, STAMINA_LEFT[0], STAMINA_LEFT[1], STAMINA_LEFT[2])
            fill_rect(f, STAMINA_X, 0, STAMINA_WIDTH, min(max(used, 0), SCREEN),
                      STAMINA_USED[0], STAMINA_USED[1], STAMINA_USED[2])


# --- env classes ---------------------------------------------------------------------------------

class MysteryPathEnv(MemoryGymEnv):
    task_class = MysteryPath


class MysteryPathGridEnv(MemoryGymEnv):
    task_class = MysteryPathGrid


class EndlessMysteryPathEnv(MemoryGymEnv):
    task_class = EndlessMysteryPath


class MysteryPathVectorEnv(MemoryGymVectorEnv):
    task_class = MysteryPath


class MysteryPathGridVectorEnv(MemoryGymVectorEnv):
    task_class = MysteryPathGrid


class EndlessMysteryPathVectorEnv(MemoryGymVectorEnv):
    task_class = EndlessMysteryPath
