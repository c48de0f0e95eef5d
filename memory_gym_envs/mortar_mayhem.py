"""Mortar Mayhem: remember a sequence of commands, then execute it (spec: ENVS.md sections 3-4).

Ids: ``MortarMayhem-v0``, ``MortarMayhem-Grid-v0``, ``MortarMayhemB-v0``, ``MortarMayhemB-Grid-v0``,
``Endless-MortarMayhem-v0``. One batched implementation (``MortarMayhem``) serves all five; the
variants differ only in class flags (``grid``, ``act_only``, ``endless``) and parameter tables.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from .core import MemoryGymEnv, MemoryGymVectorEnv, Task
from .params import Param
from .sprites import SCREEN, agent_sprite, command_symbols, ring, stamp

TILE = 14  # px (56 * 0.25)
COMMANDS = ("right", "down", "left", "up", "stay", "right_down", "right_up", "left_down", "left_up")
DELTAS = np.array([(1, 0), (0, 1), (-1, 0), (0, -1), (0, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)])
# The B variants' one-hot slot of each command (their order: stay, right, left, up, down, diagonals).
B_SLOT = np.array([1, 4, 2, 3, 0, 5, 6, 7, 8])
B_MAX_COMMANDS = 20

TILE_FILL, TILE_BORDER = (21, 43, 77), (29, 60, 107)
RED_FILL, RED_BORDER = (81, 18, 26), (112, 24, 36)
TARGET_RING = (0, 255, 0)

# Continuous control: action component 0 none, 1 negative, 2 positive.
AXIS_STEP = np.array([0, -1, 1])
# Facing (in 45-degree steps, counter-clockwise from up) of a continuous action [horizontal, vertical];
# -1 keeps the facing (no movement).
FACING = np.array([[-1, 0, 4],    # no horizontal move: none, up, down
                   [2, 1, 3],     # left: left, up-left, down-left
                   [6, 7, 5]])    # right: right, up-right, down-right
# Grid control: the tile step of "forward" for facing 0 (north), 2 (west), 4 (south), 6 (east).
FORWARD = {0: (0, -1), 2: (-1, 0), 4: (0, 1), 6: (1, 0)}
FORWARD_DELTA = np.array([FORWARD.get(r, (0, 0)) for r in range(8)])


def _rewards_and_timing(grid: bool, act_only: bool, endless: bool) -> dict[str, Param]:
    t = {
        "agent_scale": Param(0.25, float, 0.1, 1.0, doc="sprite and collision scale; radius = int(25 * scale)"),
        "allowed_commands": Param(5 if grid else 9, int, 4, 9,
                                  doc="use the first N commands: right, down, left, up, stay, then the diagonals"),
    }
    if not grid:
        t["agent_speed"] = Param(3.0, float, 0.5, 14.0, doc="px per step (diagonal moves: truncated per axis)")
    if endless:
        t["max_steps"] = Param(-1, int, doc="truncate the episode when t == max_steps (never if < 1)")
        t["initial_command_count"] = Param(1, int, 1, 50, doc="commands shown before the first act phase")
    else:
        t["arena_size"] = Param(5, int, 2, 6, doc="arena of N x N tiles")
        t["command_count"] = Param([10], int, 1, B_MAX_COMMANDS if act_only else 100, sampled=True,
                                   doc="length of the command sequence")
    if not act_only:
        t["command_show_duration"] = Param([3], int, 1, 50, sampled=True, doc="frames a command symbol is shown")
        t["command_show_delay"] = Param([1], int, 0, 50, sampled=True, doc="blank frames after each symbol")
    t["explosion_duration"] = Param([2] if grid else [6], int, 1, 100, sampled=True,
                                    doc="E: frames the death tiles stay on (the agent must stay on its tile)")
    t["explosion_delay"] = Param([6] if grid else [18], int, 1, 200, sampled=True,
                                 doc="D: frames to reach the next target before it is evaluated")
    t["visual_feedback"] = Param(True, bool, doc="draw the death tiles red")
    t["reward_command_failure"] = Param(0.0, float, doc="when a command fails (the episode ends)")
    t["reward_command_success"] = Param(0.1, float, doc="per command executed correctly")
    if endless:
        t["reward_new_command_success"] = Param(0.0, float, doc="extra reward when the last command of a round succeeds")
    else:
        t["reward_episode_success"] = Param(0.0, float, doc="added when the whole sequence is done")
    return t


class MortarMayhem(Task):
    """Mortar Mayhem (``MortarMayhem-v0``): remember a sequence of commands, then execute it.

    ## Description
    An arena of ``arena_size`` x ``arena_size`` tiles (default 5x5, 14 px each, centred on a black
    84x84 screen). First a sequence of ``command_count`` commands is shown as white symbols in the
    middle of the screen (each for ``command_show_duration`` frames plus ``command_show_delay``
    blank frames; actions are ignored meanwhile). Then the agent must execute them from memory:
    every ``explosion_delay`` (D) steps the tile it should have moved to is evaluated, every other
    tile turns red for ``explosion_duration`` (E) frames, and the agent must stay on its tile while
    they are red. Commands: right, down, left, up, stay and the four diagonals
    (``allowed_commands`` takes the first N), each moving one tile; sequences never leave the arena.

    ## Action Space
    ``MultiDiscrete([3, 3])``: [horizontal: 0 none, 1 left, 2 right; vertical: 0 none, 1 up,
    2 down], 3 px per step (diagonal: 2 px per axis), clamped to the arena.
    Grid variants: ``Discrete(4)``: 0 no-op, 1 turn left, 2 turn right, 3 one tile forward.

    ## Observation Space
    ``Box(0, 255, (84, 84, 3), uint8)``, an RGB image in [y][x] layout. The B variants add the
    command list: ``Dict(visual_observation=Box(...), vector_observation=Box(0, 1, (180,),
    float32))``, 20 slots x 9 one-hot (order: stay, right, left, up, down, right_down, right_up,
    left_down, left_up), and skip the display phase.

    ## Rewards
    ``reward_command_success`` (0.1) per command executed correctly, ``reward_command_failure`` (0)
    on failure, ``reward_episode_success`` (0) on finishing the sequence. Maximum return 1.0.

    ## Starting State
    The agent stands on the centre of a uniformly random tile, facing up.

    ## Episode End
    Terminated when a command fails (wrong tile at an evaluation, or leaving the tile while the
    tiles are red) or after the last command's evaluation. No time limit (a perfect episode is
    274 steps, 118 in the grid variant). Final-step ``info``: ``reward``, ``length``, ``success``
    (0/1), ``commands_completed`` (fraction). Every step's ``info``: ``ground_truth`` = the target
    tile / (arena_size - 1).

    ## Arguments
    ``gym.make("MortarMayhem-v0", render_mode=None, **reset_params)``; every reset parameter (see
    ``MortarMayhem.params`` or the README) can also be passed per episode as
    ``reset(options={...})``.
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

    def __init__(self, num_envs: int):
        super().__init__(num_envs)
        n = num_envs
        self.rngs: list[np.random.Generator | None] = [None] * n
        i64 = lambda: np.zeros(n, np.int64)  # noqa: E731
        # episode parameters (sampled at reset)
        self.arena, self.offset, self.scale = i64(), i64(), np.full(n, 0.25)
        self.speed_straight, self.speed_diagonal = i64(), i64()
        self.show_duration, self.show_delay = i64(), i64()
        self.explosion_duration, self.explosion_delay = i64(), i64()
        self.max_steps, self.allowed = i64(), i64()
        self.visual_feedback = np.zeros(n, bool)
        self.r_fail, self.r_success, self.r_episode = np.zeros(n), np.zeros(n), np.zeros(n)
        # state
        self.pos = np.zeros((n, 2), np.int64)  # agent centre (x, y) in px
        self.facing = i64()  # 45-degree steps counter-clockwise from up
        self.commands = np.zeros((n, 16), np.int64)
        self.num_commands = i64()
        self.cur = i64()  # index of the command being executed
        self.target = np.zeros((n, 2), np.int64)  # tile (x, y) the agent must reach
        self.cmd_steps, self.verify_step = i64(), i64()
        self.tiles_on = np.zeros(n, bool)  # death tiles on (evaluation until E frames later)
        self.show_first, self.show_pos, self.show_len = i64(), i64(), i64()  # display queue
        self.shown_frame = np.full(n, -1, np.int64)  # display frame in the current observation, -1 none
        self.t = i64()
        self.ep_return = np.zeros(n)
        self.success = i64()
        self.completed = i64()
        self.vector = np.zeros((n, B_MAX_COMMANDS * 9), np.float32) if self.act_only else None
        self._backgrounds: dict[tuple[int, bool], int] = {}
        self._bg_images = np.zeros((0, SCREEN, SCREEN, 3), np.uint8)
        self.bg = i64()  # index of the env's normal background (+1: red)

    # --- reset ------------------------------------------------------------------------------------

    def reset(self, env_ids: np.ndarray, params: dict[str, Any], rngs: list[np.random.Generator]) -> None:
        p = params
        for i, rng in zip(env_ids, rngs):
            self.rngs[i] = rng
            arena = 6 if self.endless else p["arena_size"]
            offset = 0 if self.endless else (SCREEN - TILE * arena) // 2
            self.arena[i], self.offset[i], self.bg[i] = arena, offset, self._background(arena)
            self.scale[i] = p["agent_scale"]
            speed = 0.0 if self.grid else p["agent_speed"]
            self.speed_straight[i], self.speed_diagonal[i] = int(speed), int(speed * np.sqrt(0.5))
            k = rng.integers(arena * arena)
            tile = np.array([k // arena, k % arena])
            self.pos[i] = offset + TILE * tile + TILE // 2
            if (self.act_only or self.endless) and not self.grid:
                self.pos[i] += rng.integers(-2, 2, size=2)
            n_cmds = p["initial_command_count"] if self.endless else int(rng.choice(p["command_count"]))
            self._ensure_capacity(n_cmds + 1)
            self.commands[i, :n_cmds] = self._sample_commands(rng, tile, n_cmds, arena, p["allowed_commands"])
            self.num_commands[i] = n_cmds
            if self.act_only:
                self.show_duration[i] = self.show_delay[i] = 0
            else:
                self.show_duration[i] = rng.choice(p["command_show_duration"])
                self.show_delay[i] = rng.choice(p["command_show_delay"])
            self.explosion_duration[i] = rng.choice(p["explosion_duration"])
            self.explosion_delay[i] = rng.choice(p["explosion_delay"])
            self.max_steps[i] = p["max_steps"] if self.endless else 0
            self.allowed[i] = p["allowed_commands"]
            self.visual_feedback[i] = p["visual_feedback"]
            self.r_fail[i], self.r_success[i] = p["reward_command_failure"], p["reward_command_success"]
            self.r_episode[i] = p["reward_new_command_success"] if self.endless else p["reward_episode_success"]
            self.target[i] = self._wrap(tile + DELTAS[self.commands[i, 0]], arena)
            self.facing[i] = 0
            self.cur[i] = self.cmd_steps[i] = self.verify_step[i] = 0
            self.tiles_on[i] = False
            self.show_first[i] = 0
            self.show_len[i] = (self.show_duration[i] + self.show_delay[i]) * n_cmds
            self.show_pos[i] = 1 if self.show_len[i] > 0 else 0  # the reset observation shows frame 0
            self.shown_frame[i] = 0 if self.show_len[i] > 0 else -1
            self.t[i] = 0
            self.ep_return[i] = 0.0
            self.success[i] = self.completed[i] = 0
            if self.act_only:
                self.vector[i] = 0.0
                self.vector[i, np.arange(n_cmds) * 9 + B_SLOT[self.commands[i, :n_cmds]]] = 1.0

    def _wrap(self, tile: np.ndarray, arena) -> np.ndarray:
        return tile % arena if self.endless else tile

    def _sample_commands(self, rng, tile, count, arena, allowed) -> list[int]:
        """Each command uniform among those whose target stays in the arena (any, on the torus)."""
        commands, pos = [], tile.copy()
        for _ in range(count):
            if self.endless:
                c = int(rng.integers(allowed))
            else:
                inside = [c for c in range(allowed) if np.all((pos + DELTAS[c] >= 0) & (pos + DELTAS[c] < arena))]
                c = inside[rng.integers(len(inside))]
                pos = pos + DELTAS[c]
            commands.append(c)
        return commands

    def _ensure_capacity(self, count: int) -> None:
        if count > self.commands.shape[1]:
            grown = np.zeros((self.num_envs, max(count, 2 * self.commands.shape[1])), np.int64)
            grown[:, :self.commands.shape[1]] = self.commands
            self.commands = grown

    # --- step -------------------------------------------------------------------------------------

    def step(self, actions: np.ndarray, active: np.ndarray):
        n = self.num_envs
        reward = np.zeros(n)
        terminated = np.zeros(n, bool)
        # Display phase: show the next queued frame; the agent is frozen.
        showing = active & (self.show_pos < self.show_len)
        acting = active & ~showing
        self.shown_frame = np.where(showing, self.show_pos, np.where(active, -1, self.shown_frame))
        self.show_pos += showing
        if acting.any():
            self._move(actions, acting)
            tile = self._wrap((self.pos - self.offset[:, None]) // TILE, self.arena[:, None])
            on_target = np.all(tile == self.target, axis=1)
            # Evaluation every D act steps: the agent must stand on the target tile.
            evaluate = acting & ~self.tiles_on & (self.cmd_steps > 0) & (self.cmd_steps % self.explosion_delay == 0)
            passed, failed = evaluate & on_target, evaluate & ~on_target
            self.cur += evaluate
            self.tiles_on |= evaluate
            self.cmd_steps[evaluate] = 1
            self.completed += passed
            reward += passed * self.r_success + failed * self.r_fail
            terminated |= failed
            round_done = evaluate & (self.cur >= self.num_commands)
            if self.endless:
                reward += (round_done & passed) * self.r_episode
                for i in np.flatnonzero(round_done & passed):
                    self._next_round(i)
            else:
                self.success |= round_done & passed
                reward += (round_done & passed) * self.r_episode
                terminated |= round_done
            # Death tiles: stay on the target for E frames, then the next target becomes active.
            on = acting & self.tiles_on
            ended = on & (self.verify_step > 0) & (self.verify_step % self.explosion_duration == 0)
            self.tiles_on &= ~ended
            self.verify_step[ended] = 0
            advance = ended & (self.cur < self.num_commands)
            if advance.any():
                ids = np.flatnonzero(advance)
                delta = DELTAS[self.commands[ids, self.cur[ids]]]
                self.target[ids] = self._wrap(self.target[ids] + delta, self.arena[ids, None])
            holding = on & ~ended
            left = holding & ~on_target
            reward[left] = self.r_fail[left]
            terminated |= left
            self.verify_step += holding
            self.cmd_steps += acting & ~on
        self.t += active
        truncated = active & ~terminated & (self.max_steps >= 1) & (self.t == self.max_steps)
        self.ep_return += reward
        return reward, terminated, truncated

    def _move(self, actions: np.ndarray, acting: np.ndarray) -> None:
        if self.grid:
            turn = np.where(actions == 1, 2, np.where(actions == 2, -2, 0))
            self.facing = np.where(acting, (self.facing + turn) % 8, self.facing)
            forward = acting & (actions == 3)
            step = FORWARD_DELTA[self.facing] * forward[:, None]
            tile = (self.pos - self.offset[:, None]) // TILE + step
            inside = np.all((tile >= 0) & (tile < self.arena[:, None]), axis=1)
            self.pos += step * TILE * inside[:, None]
            return
        h, v = actions[:, 0], actions[:, 1]
        facing = FACING[h, v]
        self.facing = np.where(acting & (facing >= 0), facing, self.facing)
        diagonal = (h > 0) & (v > 0)
        speed = np.where(diagonal, self.speed_diagonal, self.speed_straight) * acting
        pos = self.pos + np.stack([AXIS_STEP[h], AXIS_STEP[v]], axis=1) * speed[:, None]
        radius = (25 * self.scale).astype(np.int64)[:, None]
        if self.endless:  # torus: leaving the screen by more than radius/2 re-enters on the other side
            lim = radius // 2
            pos = np.where(pos > SCREEN + lim, -lim, np.where(pos < -lim, SCREEN + lim, pos))
        else:
            lo = self.offset[:, None] + radius
            pos = np.clip(pos, lo, lo + TILE * self.arena[:, None] - 2 * radius)
        self.pos = pos

    def _next_round(self, i: int) -> None:
        """Endless: append a command; show only it; then the whole sequence is executed again."""
        self._ensure_capacity(self.num_commands[i] + 1)
        self.commands[i, self.num_commands[i]] = self.rngs[i].integers(self.allowed[i])
        self.show_first[i] = self.num_commands[i]
        self.num_commands[i] += 1
        self.cur[i] = 0
        self.cmd_steps[i] = 1
        self.verify_step[i] = 0
        self.show_pos[i] = 0
        self.show_len[i] = self.show_duration[i] + self.show_delay[i]

    # --- observation ------------------------------------------------------------------------------

    def _background(self, arena: int) -> int:
        """Index of the (normal, red) background pair for this arena in ``_bg_images``."""
        key = (arena, self.endless)
        if key not in self._backgrounds:
            offset = 0 if self.endless else (SCREEN - TILE * arena) // 2
            pair = np.zeros((2, SCREEN, SCREEN, 3), np.uint8)
            for img, (fill, border) in zip(pair, [(TILE_FILL, TILE_BORDER), (RED_FILL, RED_BORDER)]):
                for ty in range(arena):
                    for tx in range(arena):
                        y, x = offset + TILE * ty, offset + TILE * tx
                        img[y:y + TILE, x:x + TILE] = border
                        img[y + 1:y + TILE - 1, x + 1:x + TILE - 1] = fill
            self._backgrounds[key] = len(self._bg_images)
            self._bg_images = np.concatenate([self._bg_images, pair])
        return self._backgrounds[key]

    def draw(self, ids: np.ndarray) -> np.ndarray:
        """The observation images of envs ``ids``, freshly drawn: arena, agent, command symbol."""
        red = self.tiles_on[ids] & self.visual_feedback[ids]
        frames = self._bg_images[self.bg[ids] + red]
        for j in np.flatnonzero(red):  # the target tile is never red
            i = ids[j]
            y, x = self.offset[i] + TILE * self.target[i, ::-1]
            frames[j, y:y + TILE, x:x + TILE] = self._bg_images[self.bg[i], y:y + TILE, x:x + TILE]
        local = np.arange(len(ids))
        scales = self.scale[ids]
        for scale in [scales[0]] if np.all(scales == scales[0]) else np.unique(scales):
            sel = local if scale == scales[0] and len(local) == 1 else local[scales == scale]
            stamp(frames, sel, self.facing[ids[sel]], self.pos[ids[sel], 1], self.pos[ids[sel], 0],
                  agent_sprite(float(scale)))
        frame = self.shown_frame[ids]
        period = self.show_duration[ids] + self.show_delay[ids]
        symbol = (frame >= 0) & (frame % np.maximum(period, 1) < self.show_duration[ids])
        if symbol.any():
            sel = np.flatnonzero(symbol)
            cmd = self.commands[ids[sel], self.show_first[ids[sel]] + frame[sel] // period[sel]]
            origin = np.full(len(sel), 31)
            stamp(frames, sel, cmd, origin, origin, command_symbols(COMMANDS))
        return frames

    def observe(self):
        frames = self.draw(np.arange(self.num_envs))
        if self.act_only:
            return {"visual_observation": frames, "vector_observation": self.vector.copy()}
        return frames

    def image(self, obs, i):
        return obs["visual_observation"][i] if self.act_only else obs[i]

    def debug_image(self, i: int) -> np.ndarray:
        """The observation plus a green ring on the current target tile."""
        frame = self.draw(np.array([i]))
        centre = self.offset[i] + TILE * self.target[i] + TILE // 2
        stamp(frame, np.zeros(1, np.int64), 0, centre[1:], centre[:1], ring(7, 2, TARGET_RING))
        return frame[0]

    # --- infos ------------------------------------------------------------------------------------

    def step_info(self):
        return {"ground_truth": self.target / np.maximum(self.arena - 1, 1)[:, None]}

    def final_info(self):
        info = {"reward": self.ep_return.copy(), "length": self.t.copy()}
        if self.endless:
            info["commands_completed"] = self.completed.copy()
            info["max_command_sequence"] = np.where(self.num_commands > 1, self.num_commands - 1, 0)
        else:
            info["success"] = self.success.copy()
            info["commands_completed"] = (self.cur - 1 + self.success) / self.num_commands
        return info


class MortarMayhemGrid(MortarMayhem):
    """``MortarMayhem-Grid-v0``: grid movement (turn left/right, one tile forward), only the four
    cardinal commands and stay, D = 6, E = 2; a perfect episode is 118 steps."""

    env_id = "MortarMayhem-Grid-v0"
    grid = True
    render_fps = 6
    params = _rewards_and_timing(grid=True, act_only=False, endless=False)
    action_space = spaces.Discrete(4)


class MortarMayhemB(MortarMayhem):
    """``MortarMayhemB-v0`` ("act only"): no display phase; the command list is part of every
    observation (``vector_observation``); the spawn is jittered by -2..1 px per axis."""

    env_id = "MortarMayhemB-v0"
    act_only = True
    params = _rewards_and_timing(grid=False, act_only=True, endless=False)
    observation_space = spaces.Dict({
        "visual_observation": spaces.Box(0, 255, (SCREEN, SCREEN, 3), np.uint8),
        "vector_observation": spaces.Box(0, 1, (B_MAX_COMMANDS * 9,), np.float32),
    })


class MortarMayhemBGrid(MortarMayhemB):
    """``MortarMayhemB-Grid-v0``: the act-only variant with grid movement."""

    env_id = "MortarMayhemB-Grid-v0"
    grid = True
    render_fps = 1
    params = _rewards_and_timing(grid=True, act_only=True, endless=False)
    action_space = spaces.Discrete(4)


class EndlessMortarMayhem(MortarMayhem):
    """``Endless-MortarMayhem-v0``: "I packed my bag". A 6x6 torus arena filling the screen (the
    agent wraps around, targets are taken modulo 6). Round r shows only its newly appended command,
    then the whole sequence of r commands is executed from where the last round ended. The episode
    ends on the first failure, or is truncated at ``max_steps`` (default -1: never). ``info``:
    ``ground_truth`` = target tile / 5 every step; final step ``reward``, ``length``,
    ``commands_completed`` (count), ``max_command_sequence``."""

    env_id = "Endless-MortarMayhem-v0"
    endless = True
    params = _rewards_and_timing(grid=False, act_only=False, endless=True)


class MortarMayhemEnv(MemoryGymEnv):
    __doc__ = MortarMayhem.__doc__
    task_class = MortarMayhem


class MortarMayhemGridEnv(MemoryGymEnv):
    __doc__ = MortarMayhemGrid.__doc__
    task_class = MortarMayhemGrid


class MortarMayhemBEnv(MemoryGymEnv):
    __doc__ = MortarMayhemB.__doc__
    task_class = MortarMayhemB


class MortarMayhemBGridEnv(MemoryGymEnv):
    __doc__ = MortarMayhemBGrid.__doc__
    task_class = MortarMayhemBGrid


class EndlessMortarMayhemEnv(MemoryGymEnv):
    __doc__ = EndlessMortarMayhem.__doc__
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
