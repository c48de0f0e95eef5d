"""Mortar Mayhem: remember a sequence of commands, then execute it.

The task of the original's ``memory_gym/mortar_mayhem.py`` (and ``mortar_mayhem_grid.py``,
``mortar_mayhem_b.py``, ``mortar_mayhem_b_grid.py``, ``endless_mortar_mayhem.py``) in
https://github.com/MarcoMeter/endless-memory-gym.

Ids: ``MortarMayhem-v0``, ``MortarMayhem-Grid-v0``, ``MortarMayhemB-v0``, ``MortarMayhemB-Grid-v0``,
``Endless-MortarMayhem-v0``. One batched implementation (``MortarMayhem``) serves all five; the
variants differ only in class flags (``grid``, ``act_only``, ``endless``) and parameter tables.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from numba import njit

from .core import MemoryGymEnv, MemoryGymVectorEnv, Task
from .movement import clamp_position, move_continuous, move_grid, speeds, wrap_position
from .params import MAX_STEPS, Param, pick, reward
from .sprites import SCREEN, AgentSprites, ImageBank, blit, command_symbols, copy_image, copy_rect, ring

TILE = 14  # px (56 * 0.25)
COMMANDS = ("right", "down", "left", "up", "stay", "right_down", "right_up", "left_down", "left_up")
DELTAS = np.array([(1, 0), (0, 1), (-1, 0), (0, -1), (0, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)])
DELTA_X, DELTA_Y = DELTAS[:, 0].copy(), DELTAS[:, 1].copy()  # int arrays for the kernels
SYMBOL_AT = 31  # top-left corner of the command symbol
# The B variants' one-hot slot of each command (their order: stay, right, left, up, down, diagonals).
B_SLOT = np.array([1, 4, 2, 3, 0, 5, 6, 7, 8])
B_MAX_COMMANDS = 20

TILE_FILL, TILE_BORDER = (21, 43, 77), (29, 60, 107)
RED_FILL, RED_BORDER = (81, 18, 26), (112, 24, 36)
TARGET_RING = (0, 255, 0)

def _rewards_and_timing(grid: bool, act_only: bool, endless: bool) -> dict[str, Param]:
    t = {
        "agent_scale": Param(0.25, float, 0.1, 1.0, doc="sprite and collision scale; radius = int(25 * scale)"),
        "allowed_commands": Param(5 if grid else 9, int, 4, 9,
                                  doc="use the first N commands: right, down, left, up, stay, then the diagonals"),
    }
    if not grid:
        t["agent_speed"] = Param(3.0, float, 0.5, 14.0, doc="px per step (diagonal moves: truncated per axis)")
    if endless:
        t["max_steps"] = Param(-1, int, -1, MAX_STEPS, doc="truncate the episode at this step count (never if < 1)")
        t["initial_command_count"] = Param(1, int, 1, 50, doc="commands shown before the first act phase")
    else:
        t["arena_size"] = Param(5, int, 2, 6, doc="arena of N x N tiles")
        t["command_count"] = Param([10], int, 1, B_MAX_COMMANDS if act_only else 100, sampled=True,
                                   doc="length of the command sequence")
    if not act_only:
        t["command_show_duration"] = Param([3], int, 1, 50, sampled=True, doc="frames a command symbol is shown")
        t["command_show_delay"] = Param([1], int, 0, 50, sampled=True, doc="blank frames after each symbol")
    t["explosion_duration"] = Param([2] if grid else [6], int, 1, 100, sampled=True,
                                    doc="E: frames the deadly tiles stay on (the agent must stay on its tile)")
    t["explosion_delay"] = Param([6] if grid else [18], int, 1, 200, sampled=True,
                                 doc="D: frames to reach the next target before it is evaluated")
    t["visual_feedback"] = Param(True, bool, doc="draw the deadly tiles red")
    t["reward_command_failure"] = reward(0.0, doc="when a command fails (the episode ends)")
    t["reward_command_success"] = reward(0.1, doc="per command executed correctly")
    if endless:
        t["reward_new_command_success"] = reward(0.0, doc="extra reward when the last command of a round succeeds")
    else:
        t["reward_episode_success"] = reward(0.0, doc="added when the whole sequence is done")
    return t


class MortarMayhem(Task):
    """Mortar Mayhem (``MortarMayhem-v0``): memorise a sequence of commands, then execute it.

    Original suite (``memory-gym`` 1.0.2): ``memory_gym/mortar_mayhem.py``.

    ## Description
    An arena of ``arena_size`` x ``arena_size`` tiles (14 px each) in the middle of a black 84x84
    screen, and an agent standing on one of them. An episode has two phases. Display: a sequence of
    ``command_count`` commands is shown one at a time as a white symbol in the middle of the screen,
    each for ``command_show_duration`` frames followed by ``command_show_delay`` blank frames, while
    the agent cannot move. Act: the agent must execute the sequence from memory, one command at a
    time. It has ``explosion_delay`` (D) steps to walk to the tile the command leads to; then its
    tile is checked, every other tile turns deadly (red) for ``explosion_duration`` (E) frames, and
    it must stay where it is until they are safe again; then the next command's target becomes
    active. Commands, in this order: right, down, left, up, stay, right_down, right_up, left_down,
    left_up, each leading to the neighbouring tile in that direction (stay: the same tile);
    ``allowed_commands`` keeps the first N. Each command is drawn uniformly among the allowed ones
    whose target lies inside the arena.

    ## Action Space
    ``MultiDiscrete([3, 3])``: [horizontal: 0 none, 1 left, 2 right; vertical: 0 none, 1 up, 2
    down]. The agent turns to face its move and moves ``agent_speed`` px (each component of the move
    truncated: 3 px straight and 2 px per axis diagonally by default); its disc stays inside the
    arena. Actions are ignored during the display phase.

    ## Observation Space
    ``Box(0, 255, (84, 84, 3), uint8)``: an RGB image, indexed [y][x][channel]. The tiles are dark
    blue with a lighter border; the agent is a peach disc whose two dark hands show where it faces;
    during the display phase the command's symbol (an arrow; stay: a circle with a bar) is drawn
    over the middle of the arena; while the deadly tiles are on they are red (unless
    ``visual_feedback`` is off), every tile but the target. The reset observation already shows the
    first command.

    ## Rewards
    ``reward_command_success`` (0.1) for each command executed correctly, ``reward_command_failure``
    (0) when a command fails, and ``reward_episode_success`` (0) on top when the whole sequence
    succeeded: a perfect agent returns 1.0 with the defaults.

    ## Starting State
    The agent stands on the centre of a uniformly random tile, facing up. The commands, the timings
    (one value drawn from each list parameter) and the first target are fixed at reset.

    ## Episode End
    Terminated when a command fails (the agent is not on the target when its tile is checked, or
    leaves it while the other tiles are deadly) or when the last command is checked. There is no
    time limit: with the defaults a perfect episode lasts 274 steps (the 40 display frames, of which
    the reset observation is the first, then D + 1 = 19 steps to the first check and D + E = 24 for
    each further command). Every reset and step ``info``: ``ground_truth``, the target tile (x, y) /
    (``arena_size`` - 1). Final-step ``info``: ``reward`` (the return), ``length``, ``success`` (1
    if every command succeeded), ``commands_completed`` (the fraction of commands executed
    correctly; one whose tile was left while the others were deadly does not count).
    """

    env_id = "MortarMayhem-v0"
    grid = False
    act_only = False
    endless = False
    render_fps = 25
    params = _rewards_and_timing(grid=False, act_only=False, endless=False)
    observation_space = spaces.Box(0, 255, (SCREEN, SCREEN, 3), np.uint8)
    action_space = spaces.MultiDiscrete([3, 3])
    ground_truth_space = spaces.Box(0, 1, (2,), np.float32)
    reset_state = ("state", "commands", "vector", "rngs")

    def __init__(self, num_envs: int):
        super().__init__(num_envs)
        self.state = np.zeros(num_envs, STATE)
        self.commands = np.zeros((num_envs, 16), np.int64)  # grows for long endless episodes
        self.rngs: list[np.random.Generator | None] = [None] * num_envs
        self.vector = np.zeros((num_envs, B_MAX_COMMANDS * 9), np.float32) if self.act_only else None
        self.agents = AgentSprites()
        self.backgrounds = ImageBank()
        self.symbols = command_symbols(COMMANDS)
        self._actions = np.zeros((num_envs, 2), np.int64)
        self._new_command = np.zeros(num_envs, bool)
        self._timings: tuple = (None,)  # (params, the kernel's arrays of their timing options)

    # --- reset (Python: per-episode sampling from each env's generator) ---------------------------

    def start_record(self, p: dict[str, Any]) -> np.ndarray:
        e = np.zeros((), STATE)
        arena = 6 if self.endless else p["arena_size"]
        offset = 0 if self.endless else (SCREEN - TILE * arena) // 2
        speed = 0.0 if self.grid else p["agent_speed"]
        for key, value in {
            "arena": arena, "offset": offset, "radius": int(25 * p["agent_scale"]),
            "bg": self.backgrounds.index((arena, self.endless), lambda: _backgrounds(arena, offset)),
            "sprite": self.agents.base(p["agent_scale"]),
            "speed_straight": speeds(speed)[0], "speed_diagonal": speeds(speed)[1],
            "max_steps": p["max_steps"] if self.endless else 0, "allowed": p["allowed_commands"],
            "visual_feedback": p["visual_feedback"],
            "r_fail": p["reward_command_failure"], "r_success": p["reward_command_success"],
            "r_episode": p["reward_new_command_success"] if self.endless else p["reward_episode_success"],
        }.items():  # the rest of the fresh state is 0
            e[key] = value
        return e

    def reset(self, env_ids: np.ndarray, params: dict[str, Any], rngs: list[np.random.Generator]) -> None:
        p = params
        self.reset_records(env_ids, p)
        # Per env one vector of uniforms; the episode is a function of it (kernel below).
        # (Python ints: this runs on most steps of a 64-env vector env, and NumPy scalars are slow in Python.)
        counts = [int(p["initial_command_count"] if self.endless else pick(rng, p["command_count"])) for rng in rngs]
        most = max(counts)
        self._ensure_capacity(most + 1)
        uniforms = np.zeros((len(env_ids), N_EPISODE_DRAWS + most))
        for j, (i, rng, count) in enumerate(zip(env_ids, rngs, counts)):
            self.rngs[i] = rng
            uniforms[j, :N_EPISODE_DRAWS + count] = rng.random(N_EPISODE_DRAWS + count)
        if self._timings[0] is not p:  # the vector env resets with one dict
            no_display = np.zeros(1, np.int64)
            self._timings = (p, no_display if self.act_only else np.array(p["command_show_duration"], np.int64),
                             no_display if self.act_only else np.array(p["command_show_delay"], np.int64),
                             np.array(p["explosion_duration"], np.int64), np.array(p["explosion_delay"], np.int64))
        _new_episodes(self.state, self.commands, np.asarray(env_ids, np.int64), np.array(counts, np.int64), uniforms,
                      *self._timings[1:], (self.act_only or self.endless) and not self.grid, self.endless,
                      self.vector if self.act_only else np.zeros((0, 0), np.float32))

    def _ensure_capacity(self, count: int) -> None:
        if count > self.commands.shape[1]:
            grown = np.zeros((self.num_envs, max(count, 2 * self.commands.shape[1])), np.int64)
            grown[:, :self.commands.shape[1]] = self.commands
            self.commands = grown

    # --- step and observation (compiled kernels below) --------------------------------------------

    def step(self, actions: np.ndarray, active: np.ndarray):
        n = self.num_envs
        if self.grid:
            self._actions[:, 0] = actions
        else:
            self._actions[:] = actions
        if self.endless:  # room for the command a finished round may append
            self._ensure_capacity(int(self.state["num_commands"].max()) + 1)
        reward, terminated, truncated = np.zeros(n), np.zeros(n, bool), np.zeros(n, bool)
        _step(self.state, self.commands, self._actions, active, self.grid, self.endless,
              reward, terminated, truncated, self._new_command)
        if self.endless and self._new_command.any():
            for i in np.flatnonzero(self._new_command):
                self.commands[i, self.state["num_commands"][i] - 1] = self.rngs[i].integers(self.state["allowed"][i])
        return reward, terminated, truncated

    def draw(self, ids: np.ndarray) -> np.ndarray:
        frames = np.empty((len(ids), SCREEN, SCREEN, 3), np.uint8)
        a, c = self.agents.table, self.symbols
        _draw(self.state, self.commands, ids, frames, self.backgrounds.images,
              a.dy, a.dx, a.rgb, c.dy, c.dx, c.rgb)
        return frames

    def observe(self):
        frames = self.draw(self.all_ids)
        if self.act_only:
            return {"visual_observation": frames, "vector_observation": self.vector.copy()}
        return frames

    def image(self, obs, i):
        return obs["visual_observation"][i] if self.act_only else obs[i]

    def debug_image(self, i: int) -> np.ndarray:
        """The observation plus a green ring on the current target tile."""
        frame = self.draw(np.array([i]))[0]
        e = self.state[i]
        x, y = e["offset"] + TILE * e["target"] + TILE // 2
        r = ring(7, 2, TARGET_RING)
        blit(frame, r.dy, r.dx, r.rgb, 0, x, y)
        return frame

    def human_fps(self, i: int) -> int:
        return 3 if self.state["shown_frame"][i] >= 0 else self.render_fps  # the original's pace

    def step_info(self):
        return {"ground_truth": self.state["gt"]}  # (a view: the adapters copy it)

    def final_info(self):
        s = self.state
        info = {"reward": s["ep_return"].copy(), "length": s["t"].copy()}
        if self.endless:
            info["commands_completed"] = s["completed"].copy()
            info["max_command_sequence"] = np.where(s["num_commands"] > 1, s["num_commands"] - 1, 0)
        else:
            info["success"] = s["success"].copy()
            info["commands_completed"] = s["fraction"].copy()
        return info


def _backgrounds(arena: int, offset: int) -> np.ndarray:
    """The (normal, red) arena images: tiles with a 1-px lighter border on black."""
    pair = np.zeros((2, SCREEN, SCREEN, 3), np.uint8)
    for img, (fill, border) in zip(pair, [(TILE_FILL, TILE_BORDER), (RED_FILL, RED_BORDER)]):
        for ty in range(arena):
            for tx in range(arena):
                y, x = offset + TILE * ty, offset + TILE * tx
                img[y:y + TILE, x:x + TILE] = border
                img[y + 1:y + TILE - 1, x + 1:x + TILE - 1] = fill
    return pair


# One record per env: the episode's sampled parameters, then the state that steps change.
STATE = np.dtype([
    ("arena", np.int64), ("offset", np.int64), ("bg", np.int64), ("sprite", np.int64), ("radius", np.int64),
    ("speed_straight", np.int64), ("speed_diagonal", np.int64),
    ("show_duration", np.int64), ("show_delay", np.int64),
    ("explosion_duration", np.int64), ("explosion_delay", np.int64),
    ("max_steps", np.int64), ("allowed", np.int64), ("visual_feedback", np.bool_),
    ("r_fail", np.float64), ("r_success", np.float64), ("r_episode", np.float64),
    ("pos", np.int64, (2,)),        # agent centre (x, y) in px
    ("facing", np.int64),           # 45-degree steps counter-clockwise from up
    ("num_commands", np.int64),
    ("cur", np.int64),              # index of the command being executed
    ("target", np.int64, (2,)),     # tile (x, y) the agent must reach
    ("gt", np.float64, (2,)),       # target / max(arena - 1, 1): the ground truth info
    ("cmd_steps", np.int64),        # act steps since the last evaluation
    ("verify_step", np.int64),      # frames the death tiles have been on
    ("tiles_on", np.bool_),         # death tiles on (from an evaluation for E frames)
    ("show_first", np.int64), ("show_pos", np.int64), ("show_len", np.int64),  # display queue
    ("shown_frame", np.int64),      # display frame in the current observation, -1 if none
    ("t", np.int64), ("ep_return", np.float64), ("success", np.int64), ("completed", np.int64),
    ("fraction", np.float64),       # the commands_completed info of an ended finite episode
])


N_EPISODE_DRAWS = 7  # uniforms per episode before the commands: tile, jitter x/y, 4 timings


@njit(cache=True)
def _set_ground_truth(e):
    scale = max(e.arena - 1, 1)
    e.gt[0], e.gt[1] = e.target[0] / scale, e.target[1] / scale


@njit(cache=True)
def _new_episodes(state, commands, ids, counts, u, show_durations, show_delays, explosion_durations,
                  explosion_delays, jitter, endless, vector):
    """Start episodes for envs ``ids`` from their uniforms ``u``: the spawn tile (+ jitter of
    -2..1 px per axis), the timings (uniform over the given options), then each command uniform
    among the allowed ones whose target stays inside the arena (any, on the torus). Where
    ``vector`` has rows (Mortar Mayhem B), an env's row becomes its commands one-hot, 9 per command."""
    for j in range(ids.shape[0]):
        e = state[ids[j]]
        n = e.arena
        k = int(u[j, 0] * n * n)
        x, y = k // n, k % n
        e.pos[0], e.pos[1] = e.offset + TILE * x + TILE // 2, e.offset + TILE * y + TILE // 2
        if jitter:
            e.pos[0] += int(u[j, 1] * 4) - 2
            e.pos[1] += int(u[j, 2] * 4) - 2
        e.show_duration = show_durations[int(u[j, 3] * show_durations.shape[0])]
        e.show_delay = show_delays[int(u[j, 4] * show_delays.shape[0])]
        e.explosion_duration = explosion_durations[int(u[j, 5] * explosion_durations.shape[0])]
        e.explosion_delay = explosion_delays[int(u[j, 6] * explosion_delays.shape[0])]
        e.num_commands = counts[j]
        cx, cy = x, y
        for c_index in range(counts[j]):
            inside = np.empty(9, np.int64)
            m = 0
            for c in range(e.allowed):
                if endless or (0 <= cx + DELTA_X[c] < n and 0 <= cy + DELTA_Y[c] < n):
                    inside[m] = c
                    m += 1
            c = inside[int(u[j, N_EPISODE_DRAWS + c_index] * m)]
            commands[ids[j], c_index] = c
            cx, cy = cx + DELTA_X[c], cy + DELTA_Y[c]
        if vector.shape[0]:
            vector[ids[j]] = 0.0
            for c_index in range(counts[j]):
                vector[ids[j], 9 * c_index + B_SLOT[commands[ids[j], c_index]]] = 1.0
        first = commands[ids[j], 0]
        e.target[0], e.target[1] = x + DELTA_X[first], y + DELTA_Y[first]
        if endless:
            e.target[0] %= 6
            e.target[1] %= 6
        _set_ground_truth(e)
        e.show_len = (e.show_duration + e.show_delay) * e.num_commands
        e.show_pos = 1 if e.show_len > 0 else 0  # the reset observation shows display frame 0 ...
        e.shown_frame = 0 if e.show_len > 0 else -1  # ... if there is a display phase


@njit(cache=True)
def _step(state, commands, actions, active, grid, endless, reward, terminated, truncated, new_command):
    """Advance every active env by one step; see ``MortarMayhem`` and ``EndlessMortarMayhem``."""
    for i in range(state.shape[0]):
        reward[i] = 0.0
        terminated[i] = truncated[i] = new_command[i] = False
        if not active[i]:
            continue
        e = state[i]
        if e.show_pos < e.show_len:  # display phase: show the next queued frame, the agent is frozen
            e.shown_frame = e.show_pos
            e.show_pos += 1
        else:
            e.shown_frame = -1
            if grid:
                move_grid(e, actions[i, 0], TILE, e.offset, e.arena)
            else:
                if move_continuous(e, actions[i, 0], actions[i, 1]):
                    if endless:
                        wrap_position(e, e.radius)
                    else:
                        lo, hi = e.offset + e.radius, e.offset + TILE * e.arena - e.radius
                        clamp_position(e, lo, hi, lo, hi)
            tx, ty = (e.pos[0] - e.offset) // TILE, (e.pos[1] - e.offset) // TILE
            if endless:
                tx, ty = tx % 6, ty % 6
            on_target = tx == e.target[0] and ty == e.target[1]
            r = 0.0
            if not e.tiles_on and e.cmd_steps > 0 and e.cmd_steps % e.explosion_delay == 0:
                # evaluation: the agent must stand on the target; every other tile turns red
                e.cur += 1
                e.tiles_on = True
                e.cmd_steps = 1
                if on_target:
                    r += e.r_success
                    e.completed += 1
                else:
                    r += e.r_fail
                    terminated[i] = True
                if e.cur >= e.num_commands:
                    if on_target:
                        r += e.r_episode
                        if endless:  # next round: append a command, show it, run the sequence again
                            new_command[i] = True
                            e.show_first = e.num_commands
                            e.num_commands += 1
                            e.cur = 0
                            e.verify_step = 0
                            e.show_pos = 0
                            e.show_len = e.show_duration + e.show_delay
                        else:
                            e.success = 1
                    if not endless:
                        terminated[i] = True
            if e.tiles_on:
                if e.verify_step > 0 and e.verify_step % e.explosion_duration == 0:
                    # the explosion is over: the next command's target becomes active
                    e.tiles_on = False
                    e.verify_step = 0
                    if e.cur < e.num_commands:
                        c = commands[i, e.cur]
                        e.target[0] += DELTA_X[c]
                        e.target[1] += DELTA_Y[c]
                        if endless:
                            e.target[0] %= 6
                            e.target[1] %= 6
                        _set_ground_truth(e)
                else:
                    if not on_target:  # left the safe tile while the others are deadly
                        r = e.r_fail
                        terminated[i] = True
                    e.verify_step += 1
            else:
                e.cmd_steps += 1
            reward[i] = r
        e.t += 1
        e.ep_return += reward[i]
        truncated[i] = not terminated[i] and e.max_steps >= 1 and e.t == e.max_steps
        if terminated[i] and not endless:  # (one that left its tile while the others were deadly: not counted)
            e.fraction = (e.cur - 1 + e.success) / e.num_commands


@njit(cache=True)
def _draw(state, commands, ids, frames, backgrounds, agent_dy, agent_dx, agent_rgb, sym_dy, sym_dx, sym_rgb):
    """Draw envs ``ids``: arena (red but the target while the death tiles are on), agent, symbol."""
    flat_frames, flat_backgrounds = frames.reshape(frames.shape[0], -1), backgrounds.reshape(backgrounds.shape[0], -1)
    for j in range(ids.shape[0]):
        i = ids[j]
        e = state[i]
        f = frames[j]
        red = e.tiles_on and e.visual_feedback
        copy_image(flat_frames[j], flat_backgrounds[e.bg + red])
        if red:  # the target tile is never red
            copy_rect(f, backgrounds[e.bg], e.offset + TILE * e.target[0], e.offset + TILE * e.target[1], TILE, TILE)
        blit(f, agent_dy, agent_dx, agent_rgb, e.sprite + e.facing, e.pos[0], e.pos[1])
        if e.shown_frame >= 0:
            period = e.show_duration + e.show_delay
            if e.shown_frame % period < e.show_duration:
                c = commands[i, e.show_first + e.shown_frame // period]
                blit(f, sym_dy, sym_dx, sym_rgb, c, SYMBOL_AT, SYMBOL_AT)


class MortarMayhemGrid(MortarMayhem):
    """Mortar Mayhem, grid variant (``MortarMayhem-Grid-v0``): memorise a sequence of commands, then
    execute it tile by tile.

    As ``MortarMayhem-v0`` but the agent moves from tile centre to tile centre, only the four
    cardinal commands and stay are used (``allowed_commands`` = 5) and the timing is tighter (D = 6,
    E = 2). Original suite (``memory-gym`` 1.0.2): ``memory_gym/mortar_mayhem_grid.py``.

    ## Action Space
    ``Discrete(4)``: 0 no-op, 1 turn left, 2 turn right, 3 one tile forward in the direction the
    agent faces (no move at the arena's edge). The agent always stands on a tile centre. Actions are
    ignored during the display phase.

    ## Episode End
    Terminated when a command fails (the agent is not on the target when its tile is checked, or
    leaves it while the other tiles are deadly) or when the last command is checked. There is no
    time limit: with the defaults a perfect episode lasts 118 steps (the 40 display frames, then D +
    1 = 7 steps to the first check and D + E = 8 for each further command). Every reset and step
    ``info``: ``ground_truth``, the target tile (x, y) / (``arena_size`` - 1). Final-step ``info``:
    ``reward`` (the return), ``length``, ``success`` (1 if every command succeeded),
    ``commands_completed`` (the fraction of commands executed correctly; one whose tile was left
    while the others were deadly does not count).
    """

    env_id = "MortarMayhem-Grid-v0"
    grid = True
    controls = "grid"
    render_fps = 6
    params = _rewards_and_timing(grid=True, act_only=False, endless=False)
    action_space = spaces.Discrete(4)


class MortarMayhemB(MortarMayhem):
    """Mortar Mayhem "act only" (``MortarMayhemB-v0``): execute a sequence of commands that is given in
    every observation.

    Original suite (``memory-gym`` 1.0.2): ``memory_gym/mortar_mayhem_b.py`` ("MMAct").

    ## Description
    ``MortarMayhem-v0`` without the display phase: the whole command sequence (at most 20 commands)
    is part of every observation as a vector, so the agent need not memorise the commands, only keep
    track of how far it has got. The act phase starts with the first observation: the agent has
    ``explosion_delay`` (D) steps to walk to the tile the first command leads to; then its tile is
    checked, every other tile turns deadly (red) for ``explosion_duration`` (E) frames, and it must
    stay where it is until they are safe again; then the next command's target becomes active.
    Commands: right, down, left, up, stay, right_down, right_up, left_down, left_up, each leading to
    the neighbouring tile in that direction (stay: the same tile); ``allowed_commands`` keeps the
    first N. Each command is drawn uniformly among the allowed ones whose target lies inside the
    arena.

    ## Observation Space
    ``Dict(visual_observation=Box(0, 255, (84, 84, 3), uint8), vector_observation=Box(0, 1, (180,),
    float32))``. ``visual_observation``: the image of ``MortarMayhem-v0`` (tiles, agent, red deadly
    tiles) without command symbols. ``vector_observation``: 20 slots of 9 values, slot i the one-hot
    code of command i in the order stay, right, left, up, down, right_down, right_up, left_down,
    left_up (not the order above); unused slots are 0. It is the same on every step of an episode.

    ## Starting State
    The agent stands near the centre of a uniformly random tile (shifted by -2..1 px per axis),
    facing up. The commands, the timings (one value drawn from each list parameter) and the first
    target are fixed at reset.

    ## Episode End
    Terminated when a command fails (the agent is not on the target when its tile is checked, or
    leaves it while the other tiles are deadly) or when the last command is checked. There is no
    time limit: with the defaults a perfect episode lasts 235 steps (D + 1 = 19 steps to the first
    check, then D + E = 24 for each further command). Every reset and step ``info``:
    ``ground_truth``, the target tile (x, y) / (``arena_size`` - 1). Final-step ``info``: ``reward``
    (the return), ``length``, ``success`` (1 if every command succeeded), ``commands_completed``
    (the fraction of commands executed correctly; one whose tile was left while the others were
    deadly does not count).
    """

    env_id = "MortarMayhemB-v0"
    act_only = True
    params = _rewards_and_timing(grid=False, act_only=True, endless=False)
    observation_space = spaces.Dict({
        "visual_observation": spaces.Box(0, 255, (SCREEN, SCREEN, 3), np.uint8),
        "vector_observation": spaces.Box(0, 1, (B_MAX_COMMANDS * 9,), np.float32),
    })


class MortarMayhemBGrid(MortarMayhemB):
    """Mortar Mayhem "act only", grid variant (``MortarMayhemB-Grid-v0``): execute a given sequence of
    commands tile by tile.

    As ``MortarMayhemB-v0`` but the agent moves from tile centre to tile centre, only the four
    cardinal commands and stay are used (``allowed_commands`` = 5) and the timing is tighter (D = 6,
    E = 2). Original suite (``memory-gym`` 1.0.2): ``memory_gym/mortar_mayhem_b_grid.py``.

    ## Action Space
    ``Discrete(4)``: 0 no-op, 1 turn left, 2 turn right, 3 one tile forward in the direction the
    agent faces (no move at the arena's edge). The agent always stands on a tile centre.

    ## Starting State
    The agent stands on the centre of a uniformly random tile, facing up. The commands, the timings
    (one value drawn from each list parameter) and the first target are fixed at reset.

    ## Episode End
    Terminated when a command fails (the agent is not on the target when its tile is checked, or
    leaves it while the other tiles are deadly) or when the last command is checked. There is no
    time limit: with the defaults a perfect episode lasts 79 steps (D + 1 = 7 steps to the first
    check, then D + E = 8 for each further command). Every reset and step ``info``:
    ``ground_truth``, the target tile (x, y) / (``arena_size`` - 1). Final-step ``info``: ``reward``
    (the return), ``length``, ``success`` (1 if every command succeeded), ``commands_completed``
    (the fraction of commands executed correctly; one whose tile was left while the others were
    deadly does not count).
    """

    env_id = "MortarMayhemB-Grid-v0"
    grid = True
    controls = "grid"
    render_fps = 1
    params = _rewards_and_timing(grid=True, act_only=True, endless=False)
    action_space = spaces.Discrete(4)


class EndlessMortarMayhem(MortarMayhem):
    """Endless Mortar Mayhem (``Endless-MortarMayhem-v0``): "I packed my bag" with commands, one more
    every round, for as long as the agent keeps up.

    Original suite (``memory-gym`` 1.0.2): ``memory_gym/endless_mortar_mayhem.py``.

    ## Description
    The arena is 6x6 tiles of 14 px filling the whole screen, and a torus: the agent leaving one
    edge re-enters at the opposite one, and targets wrap around likewise. The episode runs in
    rounds. The first round shows ``initial_command_count`` commands; every later round appends one
    command to the sequence and shows only that new one (each for ``command_show_duration`` frames
    followed by ``command_show_delay`` blank frames, while the agent cannot move). Then the agent
    must execute the whole sequence from its first command on, starting from the tile where the last
    round ended. As in ``MortarMayhem-v0`` it has ``explosion_delay`` (D) steps to walk to each
    command's target; then its tile is checked, every other tile turns deadly (red) for
    ``explosion_duration`` (E) frames, and it must stay where it is until they are safe again. At a
    round's end the new command is shown while the last check's deadly tiles are still on (the agent
    is frozen then, so it cannot fail). Commands, in this order: right, down, left, up, stay,
    right_down, right_up, left_down, left_up; each is drawn uniformly among the first
    ``allowed_commands`` (any target is inside the torus).

    ## Action Space
    ``MultiDiscrete([3, 3])``: [horizontal: 0 none, 1 left, 2 right; vertical: 0 none, 1 up, 2
    down]. The agent turns to face its move and moves ``agent_speed`` px (each component of the move
    truncated: 3 px straight and 2 px per axis diagonally by default); a centre that leaves the
    screen by more than half the agent's radius re-enters at the opposite edge. Actions are ignored
    while a command is shown.

    ## Observation Space
    ``Box(0, 255, (84, 84, 3), uint8)``: an RGB image, indexed [y][x][channel]: the 6x6 arena (dark
    blue tiles with a lighter border, no black margin), the agent (a peach disc whose two dark hands
    show where it faces), the new command's symbol over the middle while it is shown, the deadly
    tiles red (unless ``visual_feedback`` is off). The reset observation already shows the first
    command.

    ## Rewards
    ``reward_command_success`` (0.1) for each command executed correctly,
    ``reward_new_command_success`` (0) on top for the last command of a round, and
    ``reward_command_failure`` (0) when a command fails. A perfect agent's return grows without
    bound: round r pays r commands.

    ## Starting State
    The agent stands near the centre of a uniformly random tile (shifted by -2..1 px per axis),
    facing up. The first round's commands and the timings (one value drawn from each list parameter)
    are fixed at reset; each later round draws its new command when it begins.

    ## Episode End
    Terminated when a command fails (the agent is not on the target when its tile is checked, or
    leaves it while the other tiles are deadly); a perfect agent never fails. Truncated when the
    step count reaches ``max_steps`` (default -1: never). Every reset and step ``info``:
    ``ground_truth``, the target tile (x, y) / 5. Final-step ``info``: ``reward`` (the return),
    ``length``, ``commands_completed`` (the number of commands executed correctly),
    ``max_command_sequence`` (the sequence length minus one, 0 in the first round: with the default
    ``initial_command_count`` the longest sequence executed completely).
    """

    env_id = "Endless-MortarMayhem-v0"
    endless = True
    params = _rewards_and_timing(grid=False, act_only=False, endless=True)


class MortarMayhemEnv(MemoryGymEnv):
    task_class = MortarMayhem


class MortarMayhemGridEnv(MemoryGymEnv):
    task_class = MortarMayhemGrid


class MortarMayhemBEnv(MemoryGymEnv):
    task_class = MortarMayhemB


class MortarMayhemBGridEnv(MemoryGymEnv):
    task_class = MortarMayhemBGrid


class EndlessMortarMayhemEnv(MemoryGymEnv):
    task_class = EndlessMortarMayhem


class MortarMayhemVectorEnv(MemoryGymVectorEnv):
    task_class = MortarMayhem


class MortarMayhemGridVectorEnv(MemoryGymVectorEnv):
    task_class = MortarMayhemGrid


class MortarMayhemBVectorEnv(MemoryGymVectorEnv):
    task_class = MortarMayhemB


class MortarMayhemBGridVectorEnv(MemoryGymVectorEnv):
    task_class = MortarMayhemBGrid


class EndlessMortarMayhemVectorEnv(MemoryGymVectorEnv):
    task_class = EndlessMortarMayhem
