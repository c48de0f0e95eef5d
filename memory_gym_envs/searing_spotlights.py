"""Searing Spotlights: remember where you are in the dark.

The task of the original's ``memory_gym/searing_spotlights.py`` (and
``endless_searing_spotlights.py``) in https://github.com/MarcoMeter/endless-memory-gym.

Ids: ``SearingSpotlights-v0`` and ``Endless-SearingSpotlights-v0``. One batched implementation
(``SearingSpotlights``) serves both; the endless variant differs in a class flag and its
parameter table.

Rendering. The original draws a lit scene (board, coins, exit, agent), then a black overlay whose
alpha rises by 42 per step with a transparent hole per spotlight, then the HUD. SDL blends black
over a colour ``d`` with alpha ``a`` as ``d - d * a // 255`` (measured on the original's frames in
``tests/data``: a white pixel reads 255, 213, 171, 129, 87, 45, 3, 0 over the first steps, the
agent's body (250, 204, 153) reads (127, 104, 78) at alpha 126); ``DIM`` tabulates it. From alpha
255 on (step 7 with the defaults) everything outside the spotlights is black, so the draw kernel
only copies the pixels of each spotlight disc from the precomputed board and draws the sprites that
fall inside a disc; the per-pixel blend runs only during the first dimming steps.

Randomness. Every env draws its uniforms from its own generator into a buffer (``rand``): at
reset as many as the episode can use (the finite env pre-draws every later spotlight); the
endless env refills its buffer from Python when it runs low after a step. The kernels only read
that buffer, so a batch equals the same single envs exactly.
"""
from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from gymnasium import spaces
from numba import njit

from .core import MemoryGymEnv, MemoryGymVectorEnv, Task
from .movement import clamp_position, move_continuous, speeds
from .params import MAX_STEPS, Param, pick, reward
from .sprites import (SCREEN, WHITE, AgentSprites, ImageBank, Sprite, SpriteBank, _pygame, copy_image,
                      ring, scratch_surface, surface_image)

HUD_HEIGHT = 4  # the top bar covers rows 0..3; the agent walks below it
SQUARE = 12  # chessboard square, px (int(50 * 0.25))
BLUE, RED, BLACK = (0, 0, 255), (255, 0, 0), (0, 0, 0)
COIN_COLOUR = (255, 165, 0)
EXIT_CLOSED, EXIT_OPEN = (55, 55, 55), (48, 141, 70)
HUD_BAR, HUD_REWARD, HUD_HEALTH, HUD_DAMAGE = (50, 50, 50), (255, 255, 0), (0, 255, 0), (255, 0, 0)
HEALTH_BAR_WIDTH = 42
# HUD colour of the previous action component: 0 none, 1 left/up, 2 right/down.
ACTION_COLOURS = np.array([(120, 120, 120), (116, 1, 113), (255, 94, 14)], np.uint8)

SPOT_RADIUS_MAX = 60  # the largest spotlight radius a parameter can give (px)
SPOT_ORBIT = SCREEN * math.sqrt(2) / 2  # spotlight paths start and end on a circle this far + r from the centre
AGENT_BLOCK, ITEM_BLOCK = 28, 21  # spawn sampler: keep-out radius around the agent and around coins/exit
ITEM_LO, ITEM_HI = 7, 77  # coins and the exit are clamped to [7, 77] on both axes
MAX_COINS = 10

SPOT_DRAWS = 5  # uniforms per spotlight: radius, speed, 3 angles
ITEM_DRAWS = 3  # uniforms per sampled position: pixel, jitter x, jitter y
STEP_DRAWS = SPOT_DRAWS + ITEM_DRAWS  # the most one endless step consumes (a spotlight and a new coin)
REFILL = 256  # uniforms per refill of an endless env's buffer

# Columns of the spotlight table (float64; a row per spotlight, in spawn order).
S_R, S_SPEED, S_T, S_SX, S_SY, S_TX, S_TY, S_OX, S_OY, S_X, S_Y = range(11)
SPOT_COLUMNS = 11


def _dim_tables() -> tuple[np.ndarray, np.ndarray]:
    """SDL's blend of an overlay pixel of alpha ``a`` over a colour ``d``: ``DIM[a, d]`` for the
    black overlay, ``BRIGHT[a, d]`` for a white one (the rims of ``black_background``)."""
    a = np.arange(256)[:, None]
    d = np.arange(256)[None, :]
    return (d - d * a // 255).astype(np.uint8), (d + (255 - d) * a // 255).astype(np.uint8)


DIM, BRIGHT = _dim_tables()


def dimming_levels(inc: int, threshold: int) -> np.ndarray:
    """The alphas of the darkness strictly between 0 and 255 that an episode reaches: it starts at 0 and rises by
    ``inc`` while it is <= ``threshold``, capped at 255, so they are inc, 2 inc, ... (the kernels index them by
    alpha // inc - 1). 6 at the defaults; at most 254 (``light_dim_off_duration`` 255), a dimmed background of
    21 KB each."""
    levels, alpha = [], 0
    while alpha <= threshold and alpha < 255:
        alpha = min(255, alpha + inc)
        if alpha < 255:
            levels.append(alpha)
    return np.array(levels, np.int64)


@functools.lru_cache(maxsize=None)
def disc_spans() -> tuple[np.ndarray, np.ndarray]:
    """pygame's filled disc of every radius 0..SPOT_RADIUS_MAX as row spans: the pixels of row
    ``cy + dy`` are ``cx + lo[r, dy + M] <= x < cx + hi[r, dy + M]`` (M = SPOT_RADIUS_MAX; empty
    rows have lo == hi). Rows are what the kernels copy and test membership with."""
    pygame = _pygame()
    m = SPOT_RADIUS_MAX
    lo = np.zeros((m + 1, 2 * m + 1), np.int64)
    hi = np.zeros((m + 1, 2 * m + 1), np.int64)
    for r in range(1, m + 1):
        size = 2 * r + 4
        surf = scratch_surface((size, size))
        pygame.draw.circle(surf, RED, (size // 2, size // 2), r)
        inside = np.all(surface_image(surf) == RED, axis=-1)
        for y in range(size):
            xs = np.flatnonzero(inside[y])
            if len(xs):
                lo[r, y - size // 2 + m] = xs[0] - size // 2
                hi[r, y - size // 2 + m] = xs[-1] + 1 - size // 2
    return lo, hi


def coin_sprite(radius: int) -> Sprite:
    """The coin: a solid orange disc (the original's rim has outline width 0, i.e. filled)."""
    size = 2 * radius + 4
    surf = scratch_surface((size, size))
    _pygame().draw.circle(surf, COIN_COLOUR, (size // 2, size // 2), radius)
    return Sprite.from_images([surface_image(surf)], anchor=(size // 2, size // 2))


def exit_sprite(radius: int) -> Sprite:
    """The exit, variants closed and open: a 2r x 2r rectangle with rounded top corners (radius
    r) and a 1-px black border, anchored at its centre (its top-left is centre - r)."""
    pygame = _pygame()
    images = []
    for colour in (EXIT_CLOSED, EXIT_OPEN):
        surf = scratch_surface((2 * radius + 2, 2 * radius + 2))
        rect = pygame.Rect(1, 1, 2 * radius, 2 * radius)
        pygame.draw.rect(surf, colour, rect, border_top_left_radius=radius, border_top_right_radius=radius)
        pygame.draw.rect(surf, BLACK, rect, 1, border_top_left_radius=radius, border_top_right_radius=radius)
        images.append(surface_image(surf))
    return Sprite.from_images(images, anchor=(radius + 1, radius + 1))


def board(colour: tuple[int, int, int] | None, plain: tuple[int, int, int] = WHITE) -> np.ndarray:
    """The background: 12-px squares, (x + y) even white, odd ``colour``; plain if colour is None."""
    img = np.empty((SCREEN, SCREEN, 3), np.uint8)
    img[:] = plain
    if colour is not None:
        squares = (np.arange(SCREEN) // SQUARE)
        odd = (squares[:, None] + squares[None, :]) % 2 == 1
        img[odd] = colour
    return img


# --- reset parameters ----------------------------------------------------------------------------

def _params(endless: bool) -> dict[str, Param]:
    t: dict[str, Param] = {}
    if endless:
        t["max_steps"] = Param(-1, int, -1, MAX_STEPS, doc="truncate the episode at this step count (never if < 1)")
        t["steps_per_coin"] = Param(160, int, 1, 100_000,
                                    doc="terminate if the coin is not collected within this many steps")
        t["initial_spawns"] = Param(3, int, 0, 50, doc="spotlights at reset")
        t["spawn_interval"] = Param(50, int, 1, 1000, doc="one new spotlight every N steps, without limit")
    else:
        t["max_steps"] = Param(256, int, -1, MAX_STEPS, doc="truncate the episode at this step count (never if < 1)")
        t["initial_spawns"] = Param(4, int, 0, 50, doc="spotlights at reset")
        t["num_spawns"] = Param(30, int, 0, 1000, doc="the most spotlights spawned after the reset")
        t["initial_spawn_interval"] = Param(30.0, float, 0.0, 1000.0, doc="I: a new spotlight every int(I + T) "
                                                                          "steps (see decaying_spawn_interval)")
        t["spawn_interval_threshold"] = Param(10.0, float, 0.0, 1000.0, doc="T (see initial_spawn_interval)")
        t["spawn_interval_decay"] = Param(0.95, float, 0.0, 1.0, doc="D (see decaying_spawn_interval)")
        t["decaying_spawn_interval"] = Param(False, bool, doc="the i-th later spotlight after int(I * D**i + T) steps "
                                                              "(the original's intended, unused schedule)")
    t["spot_min_radius"] = Param(7.5, float, 1.0, SPOT_RADIUS_MAX - 1.0,
                                 doc="spotlight radius: an int in [int(min), int(max + 1))")
    t["spot_max_radius"] = Param(13.75, float, 1.0, SPOT_RADIUS_MAX - 1.0, doc="(see spot_min_radius)")
    t["spot_min_speed"] = Param(0.0025, float, 0.001, 1.0, doc="spotlight speed: path fraction per step, uniform")
    t["spot_max_speed"] = Param(0.0075, float, 0.001, 1.0, doc="(see spot_min_speed)")
    t["spot_damage"] = Param(1.0, float, 0.0, 1000.0, doc="health lost per step in which a spotlight touches the agent")
    t["visual_feedback"] = Param(True, bool, doc="the chessboard turns red/white while the agent is hit")
    t["black_background"] = Param(False, bool, doc="black board; spotlights get a 1-px white rim")
    t["hide_chessboard"] = Param(False, bool, doc="white board instead of the chessboard")
    t["light_dim_off_duration"] = Param(6, int, 1, 255, doc="the darkness alpha rises by int(255 / N) per step")
    t["light_threshold"] = Param(255, int, 0, 255, doc="the alpha rises while it is <= this (pygame caps it at 255)")
    if not endless:
        t["num_coins"] = Param([1], int, 0, MAX_COINS, sampled=True, doc="coins per episode")
    t["coin_scale"] = Param(0.375, float, 0.1, 1.0, doc="coin radius int(10 * scale)")
    t["coins_visible"] = Param(False, bool, doc="draw the coins above the darkness")
    if endless:
        t["coin_show_duration"] = Param(6, int, 0, 1000,
                                        doc="a new coin is drawn above the darkness for its first N frames")
        t["coin_enabled"] = Param(True, bool, doc="False: no coin, no coin timer (from the original's unreleased HEAD)")
    else:
        t["use_exit"] = Param(True, bool, doc="after the coins, reach the exit (else the coins end the episode)")
        t["exit_scale"] = Param(0.5, float, 0.2, 1.0, doc="exit of 2r x 2r px, r = int(10 * scale) (also its reach)")
        t["exit_visible"] = Param(False, bool, doc="draw the exit above the darkness")
    t["agent_speed"] = Param(3.0, float, 0.5, 14.0, doc="px per step (diagonal moves: truncated per axis)")
    t["agent_health"] = Param(10 if endless else 5, int, 1, 1000, doc="health at reset")
    t["agent_scale"] = Param(0.25, float, 0.1, 1.0, doc="sprite and collision scale; radius = int(25 * scale)")
    t["agent_visible"] = Param(False, bool, doc="draw the agent above the darkness")
    t["sample_agent_position"] = Param(True, bool, doc="random spawn; else the screen centre (42, 42)")
    t["show_last_action"] = Param(True, bool, doc="HUD: the previous action's colours")
    t["show_last_positive_reward"] = Param(True, bool, doc="HUD: a yellow block if the previous reward was > 0")
    t["reward_inside_spotlight"] = reward(0.0, doc="per step while hit")
    t["reward_outside_spotlight"] = reward(0.0, doc="per step while not hit")
    t["reward_death"] = reward(0.0, doc="when health reaches 0")
    if not endless:
        t["reward_exit"] = reward(1.0, doc="reaching the open exit")
        t["reward_max_steps"] = reward(0.0, doc="on the step the time limit truncates the episode")
    t["reward_coin"] = reward(0.25, doc="per coin")
    return t


# One record per env: the episode's parameters (identical for every env of one reset), then the state.
STATE = np.dtype([
    ("sprite", np.int64), ("coin_sprite", np.int64), ("exit_sprite", np.int64),
    ("agent_extent", np.int64), ("item_extent", np.int64),  # half-size of the sprites' bounding boxes
    ("radius", np.int64), ("speed_straight", np.int64), ("speed_diagonal", np.int64),
    ("bg", np.int64), ("bg_hit", np.int64), ("bar_black", np.bool_), ("rims", np.bool_),
    ("dim_bg", np.int64), ("dim_bg_hit", np.int64), ("dim_levels", np.int64),  # backgrounds dimmed in advance
    ("max_steps", np.int64), ("health_max", np.float64), ("damage", np.float64),
    ("light_inc", np.int64), ("light_threshold", np.int64),
    ("coin_radius", np.int64), ("coins_visible", np.bool_), ("coin_enabled", np.bool_),
    ("coin_show", np.int64), ("steps_per_coin", np.int64),
    ("use_exit", np.bool_), ("exit_radius", np.int64), ("exit_visible", np.bool_),
    ("agent_visible", np.bool_), ("sample_agent", np.bool_), ("show_action", np.bool_), ("show_reward", np.bool_),
    ("r_inside", np.float64), ("r_outside", np.float64), ("r_death", np.float64), ("r_exit", np.float64),
    ("r_coin", np.float64), ("r_max_steps", np.float64),
    ("spot_r_lo", np.int64), ("spot_r_hi", np.int64), ("spot_s_lo", np.float64), ("spot_s_hi", np.float64),
    ("initial_spawns", np.int64), ("num_spawns", np.int64),  # num_spawns < 0: unbounded
    ("decaying", np.bool_), ("interval_initial", np.float64), ("interval_threshold", np.float64),
    ("interval_decay", np.float64),
    ("pos", np.int64, (2,)),        # agent centre (x, y) in px
    ("facing", np.int64),           # 45-degree steps counter-clockwise from up
    ("alpha", np.int64),            # darkness overlay alpha
    ("health", np.float64),
    ("hit", np.bool_),              # a spotlight touched the agent this step
    ("last_action", np.int64, (2,)), ("hud_action", np.int64, (2,)),  # the HUD lags one step
    ("last_reward", np.float64), ("hud_reward", np.bool_),
    ("n_spots", np.int64), ("spawn_timer", np.int64), ("spawned", np.int64),
    ("num_coins", np.int64), ("coins", np.int64, (MAX_COINS, 2)), ("coin_alive", np.uint8, (MAX_COINS,)),
    ("collected", np.int64), ("coin_t", np.int64),
    ("exit", np.int64, (2,)), ("exit_open", np.bool_),
    ("goal", np.int64, (2,)),       # ground truth: the next coin (or the open exit)
    ("gt", np.float64, (4,)),       # the ground truth info: pos and goal / SCREEN
    ("rand_pos", np.int64), ("rand_end", np.int64),
    ("t", np.int64), ("ep_return", np.float64), ("success", np.int64),
])


class SearingSpotlights(Task):
    """Searing Spotlights (``SearingSpotlights-v0``): remember where you are in the dark.

    Original suite (``memory-gym`` 1.0.2): ``memory_gym/searing_spotlights.py``.

    ## Description
    A blue and white chessboard is fully lit in the reset observation, then darkens over the first
    steps (the darkness rises by 255 / ``light_dim_off_duration`` per step) until only the
    spotlights show it. Spotlights, discs of radius ``spot_min_radius``..``spot_max_radius``, sweep
    across the screen on curved paths from just outside one side to just outside another:
    ``initial_spawns`` at reset, then one every int(``initial_spawn_interval`` +
    ``spawn_interval_threshold``) = 40 steps, at most ``num_spawns`` more. The agent is hit while
    its disc touches a spotlight's: it loses ``spot_damage`` health per step, however many
    spotlights touch it, and the board turns red (``visual_feedback``). The agent, the coin(s) and
    the exit are drawn in the lit frames and inside spotlights only, so the agent must remember
    where it is and where they were: collect every coin, then reach the exit, which opens once the
    coins are collected. A bar at the top shows the health (green, red where lost), the previous
    action and a yellow block if the previous step's reward was positive (the last two one step
    late, as in the original).

    ## Action Space
    ``MultiDiscrete([3, 3])``: [horizontal: 0 none, 1 left, 2 right; vertical: 0 none, 1 up, 2
    down]. The agent turns to face its move and moves ``agent_speed`` px (each component of the move
    truncated: 3 px straight and 2 px per axis diagonally by default); its disc stays on the screen,
    below the top bar.

    ## Observation Space
    ``Box(0, 255, (84, 84, 3), uint8)``: an RGB image, indexed [y][x][channel]. The chessboard of
    12-px squares (plain white with ``hide_chessboard``, black with white spotlight rims with
    ``black_background``) under the darkness, lit inside the spotlights; the orange coin(s), the
    exit (grey, green once open) and the agent (a peach disc whose two dark hands show where it
    faces) where lit, or always if ``coins_visible`` / ``exit_visible`` / ``agent_visible``; the top
    bar in rows 0..3: health, the previous action's two components (grey none, purple left/up,
    orange right/down; ``show_last_action``) and the reward block (``show_last_positive_reward``).

    ## Rewards
    ``reward_coin`` (0.25) per coin and ``reward_exit`` (1.0) for reaching the open exit; on top,
    all 0 by default: ``reward_inside_spotlight`` or ``reward_outside_spotlight`` on every step,
    ``reward_death`` when the health runs out, ``reward_max_steps`` on the step the time limit ends
    the episode. A perfect agent returns 1.25 with the defaults.

    ## Starting State
    The agent at a random position with a random facing (the screen centre with
    ``sample_agent_position=False``); the coin(s) (one value drawn from ``num_coins``) and the exit
    at random positions about 28 px or more from the agent and 21 px or more from each other; full
    health; the spotlights just off-screen.

    ## Episode End
    Terminated when the agent reaches the open exit (``success`` = 1; with ``use_exit=False``: when
    it has collected every coin) or when its health reaches 0. Truncated when the step count reaches
    ``max_steps`` (256). Every reset and step ``info``: ``ground_truth`` = [agent x, agent y, goal
    x, goal y] / 84, the goal being the next coin, then the exit. Final-step ``info``: ``reward``
    (the return), ``length``, ``agent_health`` (the fraction left), ``coins_collected`` (the
    fraction of the coins), ``success`` (0/1).
    """

    env_id = "SearingSpotlights-v0"
    endless = False
    render_fps = 25
    params = _params(endless=False)
    observation_space = spaces.Box(0, 255, (SCREEN, SCREEN, 3), np.uint8)
    action_space = spaces.MultiDiscrete([3, 3])
    ground_truth_space = spaces.Box(0, 1, (4,), np.float32)
    reset_state = ("state", "spots", "rand", "rngs")

    def __init__(self, num_envs: int):
        super().__init__(num_envs)
        self.state = np.zeros(num_envs, STATE)
        self.spots = np.zeros((num_envs, 8, SPOT_COLUMNS))  # grows to what the parameters can need
        self.rand = np.zeros((num_envs, REFILL))  # each env's uniforms (grows likewise)
        self.rngs: list[np.random.Generator | None] = [None] * num_envs
        self.sprites = AgentSprites()  # agent, coin and exit sprites in one table
        self.rims = SpriteBank()  # spotlight rims (black_background), kept apart: large radii are long sprites
        self.rims.index(None, lambda: ring(1, 1, WHITE))  # a placeholder so the table always exists
        self.rim_of = np.full(SPOT_RADIUS_MAX + 1, -1, np.int64)  # radius -> rim variant
        self.backgrounds = ImageBank()
        self.span_lo, self.span_hi = disc_spans()
        self._mask = np.zeros((SCREEN, SCREEN), np.bool_)  # the spawn sampler's scratch
        self._row_free = np.zeros(SCREEN, np.int64)  # the spawn sampler's unblocked pixels per row

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> None:
        for name in ("radius", "speed"):
            lo, hi = params[f"spot_min_{name}"], params[f"spot_max_{name}"]
            if lo > hi:
                raise ValueError(f"reset parameter 'spot_min_{name}' ({lo}) must be <= 'spot_max_{name}' ({hi})")

    # --- reset (Python: parameters and each env's uniforms; the kernel builds the episode) --------

    def reset(self, env_ids: np.ndarray, params: dict[str, Any], rngs: list[np.random.Generator]) -> None:
        p = params
        counts = np.array([self._coin_count(p, rng) for rng in rngs], np.int64)
        needs = [self._draws(p, c) for c in counts]
        self._ensure_capacity(self._spot_capacity(p), max(needs))
        s = self.state
        self.reset_records(env_ids, p)
        s["num_coins"][env_ids] = counts
        for i, rng, need in zip(env_ids, rngs, needs):
            self.rngs[i] = rng
            self.rand[i, :need] = rng.random(need)
            s["rand_end"][i] = need
        _new_episodes(s, self.spots, self.rand, np.asarray(env_ids, np.int64), self._mask, self._row_free)

    def _coin_count(self, p, rng) -> int:
        if self.endless:
            return 1 if p["coin_enabled"] else 0
        return pick(rng, p["num_coins"])

    def _draws(self, p, coins: int) -> int:
        """Uniforms an episode starts with: facing, agent, initial spotlights, coins, exit, then
        every later spotlight (finite) or a first endless supply."""
        n = 1 + ITEM_DRAWS + SPOT_DRAWS * p["initial_spawns"] + ITEM_DRAWS * coins
        if self.endless:
            return n + REFILL
        return n + ITEM_DRAWS * p["use_exit"] + SPOT_DRAWS * p["num_spawns"]

    def _spot_capacity(self, p) -> int:
        """The most spotlights an episode can hold at once. A spotlight lives about 1 / speed steps
        (+2 for rounding and its removal step); the endless env spawns one every spawn_interval."""
        if not self.endless:
            return p["initial_spawns"] + p["num_spawns"]
        lifetime = math.ceil(1.0 / p["spot_min_speed"]) + 2
        return p["initial_spawns"] + lifetime // p["spawn_interval"] + 2

    def _ensure_capacity(self, spots: int, draws: int) -> None:
        if spots > self.spots.shape[1]:
            grown = np.zeros((self.num_envs, spots, SPOT_COLUMNS))
            grown[:, :self.spots.shape[1]] = self.spots
            self.spots = grown
        if draws > self.rand.shape[1]:
            grown = np.zeros((self.num_envs, draws))
            grown[:, :self.rand.shape[1]] = self.rand
            self.rand = grown

    def start_record(self, p: dict[str, Any]) -> np.ndarray:
        e = np.zeros((), STATE)
        endless = self.endless
        scale = p["agent_scale"]
        coin_r = int(10 * p["coin_scale"])
        exit_r = 0 if endless else int(10 * p["exit_scale"])
        if p["black_background"]:
            normal = hit = ("plain", BLACK)
        elif p["hide_chessboard"]:
            normal = hit = ("plain", WHITE)  # no blue squares, so nothing turns red
        else:
            normal, hit = ("board", BLUE), ("board", RED if p["visual_feedback"] else BLUE)
        inc = 255 // p["light_dim_off_duration"]
        levels = dimming_levels(inc, p["light_threshold"])
        for name, (kind, colour) in (("bg", normal), ("bg_hit", hit)):
            image = lambda k=kind, c=colour: board(c) if k == "board" else board(None, c)  # noqa: E731
            e[name] = self.backgrounds.index((kind, colour), image)
            e["dim_" + name] = self.backgrounds.index(  # (the darkness over the scene, outside the spotlights)
                (kind, colour, inc, len(levels)), lambda image=image: DIM[levels][:, image()])
        r_lo, r_hi = int(p["spot_min_radius"]), int(p["spot_max_radius"] + 1)
        if p["black_background"]:
            for r in range(r_lo, r_hi):
                self.rim_of[r] = self.rims.index(r, lambda r=r: ring(r, 1, WHITE))
        radius = int(25 * scale)
        fields = {
            "sprite": self.sprites.base(scale),
            "coin_sprite": self.sprites.index(("coin", coin_r), lambda: coin_sprite(coin_r)),
            "exit_sprite": 0 if endless else self.sprites.index(("exit", exit_r), lambda: exit_sprite(exit_r)),
            "agent_extent": radius + int(10 * scale) + 8, "item_extent": max(coin_r, exit_r) + 2,
            "radius": radius, "speed_straight": speeds(p["agent_speed"])[0],
            "speed_diagonal": speeds(p["agent_speed"])[1],
            "bar_black": endless, "rims": p["black_background"],
            "max_steps": p["max_steps"], "health_max": p["agent_health"], "damage": p["spot_damage"],
            "light_inc": inc, "light_threshold": p["light_threshold"], "dim_levels": len(levels),
            "coin_radius": coin_r, "coins_visible": p["coins_visible"],
            "coin_enabled": p["coin_enabled"] if endless else True,
            "coin_show": p["coin_show_duration"] if endless else 0,
            "steps_per_coin": p["steps_per_coin"] if endless else 0,
            "use_exit": False if endless else p["use_exit"], "exit_radius": exit_r,
            "exit_visible": False if endless else p["exit_visible"],
            "agent_visible": p["agent_visible"], "sample_agent": p["sample_agent_position"],
            "show_action": p["show_last_action"], "show_reward": p["show_last_positive_reward"],
            "r_inside": p["reward_inside_spotlight"], "r_outside": p["reward_outside_spotlight"],
            "r_death": p["reward_death"], "r_coin": p["reward_coin"],
            "r_exit": 0.0 if endless else p["reward_exit"], "r_max_steps": 0.0 if endless else p["reward_max_steps"],
            "spot_r_lo": r_lo, "spot_r_hi": r_hi, "spot_s_lo": p["spot_min_speed"], "spot_s_hi": p["spot_max_speed"],
            "initial_spawns": p["initial_spawns"],
            "num_spawns": -1 if endless else p["num_spawns"],
            "decaying": False if endless else p["decaying_spawn_interval"],
            "interval_initial": p["spawn_interval"] if endless else p["initial_spawn_interval"],
            "interval_threshold": 0.0 if endless else p["spawn_interval_threshold"],
            "interval_decay": 1.0 if endless else p["spawn_interval_decay"],
            "health": p["agent_health"],
        }
        for key, value in fields.items():
            e[key] = value
        return e

    # --- step and observation (compiled kernels below) --------------------------------------------

    def step(self, actions: np.ndarray, active: np.ndarray):
        n = self.num_envs
        reward, terminated, truncated = np.zeros(n), np.zeros(n, bool), np.zeros(n, bool)
        low = _step(self.state, self.spots, self.rand, actions, active, self.endless,
                    reward, terminated, truncated, self._mask, self._row_free)
        if low:  # refill the uniforms of envs that could run out during their next step
            s = self.state
            for i in np.flatnonzero(s["rand_pos"] + STEP_DRAWS > s["rand_end"]):
                self.rand[i, :REFILL] = self.rngs[i].random(REFILL)
                s["rand_pos"][i], s["rand_end"][i] = 0, REFILL
        return reward, terminated, truncated

    def draw(self, ids: np.ndarray, debug: bool = False) -> np.ndarray:
        frames = np.empty((len(ids), SCREEN, SCREEN, 3), np.uint8)
        a, r = self.sprites.table, self.rims.table
        _draw(self.state, self.spots, np.asarray(ids, np.int64), frames, self.backgrounds.images,
              a.dy, a.dx, a.rgb, r.dy, r.dx, r.rgb, self.rim_of, self.span_lo, self.span_hi,
              DIM, BRIGHT, ACTION_COLOURS, debug)
        return frames

    def observe(self):
        return self.draw(self.all_ids)

    def debug_image(self, i: int) -> np.ndarray:
        """The observation with the agent, the coins and the exit drawn above the darkness."""
        return self.draw(np.array([i]), debug=True)[0]

    def step_info(self):
        return {"ground_truth": self.state["gt"]}  # (a view: the adapters copy it)

    def final_info(self):
        s = self.state
        info = {"reward": s["ep_return"].copy(), "length": s["t"].copy(),
                "agent_health": np.maximum(s["health"], 0.0) / s["health_max"]}
        if self.endless:
            info["coins_collected"] = s["collected"].copy()
        else:
            info["coins_collected"] = np.where(s["num_coins"] > 0, s["collected"] / np.maximum(s["num_coins"], 1), 1.0)
            info["success"] = s["success"].copy()
        return info


# --- kernels: episode start ----------------------------------------------------------------------

@njit(cache=True)
def _uniform(e, u) -> float:
    x = u[e.rand_pos]
    e.rand_pos += 1
    return x


@njit(cache=True)
def _clear(mask, row_free) -> None:
    """Spawn sampler: unblock every pixel. ``row_free[y]`` counts the unblocked pixels of row y."""
    mask[:] = False
    row_free[:] = SCREEN


@njit(cache=True)
def _block(mask, row_free, x, y, radius) -> None:
    """Spawn sampler: block the pixels closer than ``radius`` to (x, y)."""
    r2 = radius * radius
    for py in range(max(0, y - radius), min(SCREEN, y + radius + 1)):
        for px in range(max(0, x - radius), min(SCREEN, x + radius + 1)):
            if (px - x) ** 2 + (py - y) ** 2 < r2 and not mask[py, px]:
                mask[py, px] = True
                row_free[py] -= 1


@njit(cache=True)
def _sample(mask, row_free, e, u, radius):
    """Spawn sampler: a uniformly random unblocked pixel (any pixel once all are
    blocked), block ``radius`` around it, add 2..3 px per axis. Returns (x, y)."""
    free = row_free.sum()
    k = int(_uniform(e, u) * (free if free > 0 else SCREEN * SCREEN))
    x, y = k % SCREEN, k // SCREEN
    if free > 0:  # the k-th unblocked pixel in row-major order: find its row by the counts
        for y in range(SCREEN):
            if k < row_free[y]:
                break
            k -= row_free[y]
        for x in range(SCREEN):
            if not mask[y, x]:
                if k == 0:
                    break
                k -= 1
    _block(mask, row_free, x, y, radius)
    return x + 2 + int(_uniform(e, u) * 2), y + 2 + int(_uniform(e, u) * 2)


@njit(cache=True)
def _sample_item(mask, row_free, e, u, radius):
    x, y = _sample(mask, row_free, e, u, radius)
    return min(max(x, ITEM_LO), ITEM_HI), min(max(y, ITEM_LO), ITEM_HI)


@njit(cache=True)
def _spawn_spot(e, spots, u) -> None:
    """Append a spotlight: radius, speed, and a path from S toward T to O, three points
    on a circle just outside the screen (angles a0, a1 = a0 + 180 + [-45, 45), a2 = a1 + [-135, 135))."""
    s = spots[e.n_spots]
    e.n_spots += 1
    r = e.spot_r_lo + int(_uniform(e, u) * (e.spot_r_hi - e.spot_r_lo))
    s[S_R] = r
    s[S_SPEED] = e.spot_s_lo + _uniform(e, u) * (e.spot_s_hi - e.spot_s_lo)
    s[S_T] = 0.0
    a0 = int(_uniform(e, u) * 360)
    a1 = a0 + 180 - 45 + int(_uniform(e, u) * 90)
    a2 = a1 - 135 + int(_uniform(e, u) * 270)
    orbit = SPOT_ORBIT + r
    centre = SCREEN / 2
    for col, angle in ((S_SX, a0), (S_TX, a1), (S_OX, a2)):
        s[col] = centre + orbit * math.cos(math.radians(angle))
        s[col + 1] = centre + orbit * math.sin(math.radians(angle))
    s[S_X], s[S_Y] = int(s[S_SX]), int(s[S_SY])


@njit(cache=True)
def _update_goal(e) -> None:
    """Ground truth target: the first coin left, else the exit (if any), else none."""
    e.goal[0] = e.goal[1] = 0
    for c in range(e.num_coins):
        if e.coin_alive[c]:
            e.goal[0], e.goal[1] = e.coins[c, 0], e.coins[c, 1]
            return
    if e.use_exit:
        e.goal[0], e.goal[1] = e.exit[0], e.exit[1]


@njit(cache=True)
def _set_ground_truth(e) -> None:
    """The goal, and the ``ground_truth`` info: agent position and goal / SCREEN. (A state field the kernels
    keep: computed for every env on every step with NumPy it cost more than the rest of the step's info.)"""
    _update_goal(e)
    e.gt[0], e.gt[1], e.gt[2], e.gt[3] = e.pos[0] / SCREEN, e.pos[1] / SCREEN, e.goal[0] / SCREEN, e.goal[1] / SCREEN


@njit(cache=True)
def _new_episodes(state, spots, rand, ids, mask, row_free):
    """Start episodes for envs ``ids`` from their uniforms: facing, agent, initial
    spotlights, coins, exit."""
    for j in range(ids.shape[0]):
        i = ids[j]
        e, u = state[i], rand[i]
        e.rand_pos = 0
        e.facing = int(_uniform(e, u) * 8)
        _clear(mask, row_free)
        if e.sample_agent:
            e.pos[0], e.pos[1] = _sample(mask, row_free, e, u, np.int64(AGENT_BLOCK))
        else:
            e.pos[0], e.pos[1] = SCREEN // 2, SCREEN // 2
            _block(mask, row_free, SCREEN // 2, SCREEN // 2, np.int64(ITEM_BLOCK))
        _clamp_agent(e)
        e.n_spots = 0
        for _ in range(e.initial_spawns):
            _spawn_spot(e, spots[i], u)
        for c in range(e.num_coins):
            e.coins[c, 0], e.coins[c, 1] = _sample_item(mask, row_free, e, u, np.int64(ITEM_BLOCK))
            e.coin_alive[c] = 1
        if e.use_exit:
            e.exit[0], e.exit[1] = _sample_item(mask, row_free, e, u, np.int64(ITEM_BLOCK))
        _set_ground_truth(e)


@njit(cache=True)
def _clamp_agent(e) -> None:
    """Keep the agent's disc on the screen and below the top bar."""
    clamp_position(e, e.radius, SCREEN - e.radius, HUD_HEIGHT + e.radius, SCREEN - e.radius)


# --- kernels: step -------------------------------------------------------------------------------

@njit(cache=True)
def _spawn_interval(e) -> int:
    if e.decaying:
        return int(e.interval_initial * e.interval_decay ** e.spawned + e.interval_threshold)
    return int(e.interval_initial + e.interval_threshold)


@njit(cache=True)
def _distance(ax, ay, bx, by) -> float:
    return math.sqrt((ax - bx) ** 2 + (ay - by) ** 2)


@njit(cache=True)
def _step(state, spots, rand, actions, active, endless, reward, terminated, truncated, mask, row_free):
    """Advance every active env by one step; returns how many envs need more
    uniforms before their next step."""
    low = 0
    for i in range(state.shape[0]):
        reward[i] = 0.0
        terminated[i] = truncated[i] = False
        if not active[i]:
            continue
        e, sp, u = state[i], spots[i], rand[i]
        h, v = actions[i, 0], actions[i, 1]
        move_continuous(e, h, v)
        _clamp_agent(e)
        e.hud_action[0], e.hud_action[1] = e.last_action[0], e.last_action[1]
        e.last_action[0], e.last_action[1] = h, v
        if e.alpha <= e.light_threshold:
            e.alpha = min(255, e.alpha + e.light_inc)
        # spotlights whose path ended on the previous step leave (the others keep their order)
        m = 0
        for k in range(e.n_spots):
            if sp[k, S_T] < 1.0:
                if m != k:
                    for c in range(sp.shape[1]):  # (a loop: an array assignment compiles numba's shape-error path)
                        sp[m, c] = sp[k, c]
                m += 1
        e.n_spots = m
        e.spawn_timer += 1
        if ((e.num_spawns < 0 or e.spawned < e.num_spawns) and e.spawn_timer >= _spawn_interval(e)
                and e.n_spots < sp.shape[0]):
            _spawn_spot(e, sp, u)
            e.spawned += 1
            e.spawn_timer = 0
        # each spotlight: position at t (drawn truncated), hit test, then advance along the path
        hits = 0
        for k in range(e.n_spots):
            t = sp[k, S_T]
            mx = sp[k, S_TX] + (sp[k, S_OX] - sp[k, S_TX]) * t
            my = sp[k, S_TY] + (sp[k, S_OY] - sp[k, S_TY]) * t
            x = sp[k, S_SX] + (mx - sp[k, S_SX]) * t
            y = sp[k, S_SY] + (my - sp[k, S_SY]) * t
            sp[k, S_X], sp[k, S_Y] = int(x), int(y)
            if _distance(x, y, e.pos[0], e.pos[1]) <= sp[k, S_R] + e.radius:
                hits += 1
            sp[k, S_T] = min(t + sp[k, S_SPEED], 1.0)
        r = 0.0
        e.hit = hits > 0  # one damage per step, however many spotlights touch the agent
        if e.hit:
            e.health -= e.damage
            r += e.r_inside
        else:
            r += e.r_outside
        died = e.health <= 0
        if died:
            r += e.r_death
        reach = e.coin_radius + e.radius
        for c in range(e.num_coins):
            if e.coin_alive[c] and _distance(e.coins[c, 0], e.coins[c, 1], e.pos[0], e.pos[1]) <= reach:
                r += e.r_coin
                e.collected += 1
                if endless:  # the next coin: at least 28 px from this one (where the agent is)
                    _clear(mask, row_free)
                    _block(mask, row_free, e.coins[c, 0], e.coins[c, 1], np.int64(AGENT_BLOCK))
                    e.coins[c, 0], e.coins[c, 1] = _sample_item(mask, row_free, e, u, np.int64(AGENT_BLOCK))
                    e.coin_t = 0
                else:
                    e.coin_alive[c] = 0
        done = died
        if not endless:
            coins_done = e.collected >= e.num_coins
            if e.use_exit:
                goal = False
                if coins_done:
                    e.exit_open = True
                    if _distance(e.exit[0], e.exit[1], e.pos[0], e.pos[1]) <= e.exit_radius + e.radius:
                        r += e.r_exit
                        goal = True
            else:
                goal = coins_done and e.num_coins > 0
            if goal and not died:
                e.success = 1
            done = died or goal
        e.t += 1
        if endless and e.coin_enabled:
            e.coin_t += 1
            if e.coin_t == e.steps_per_coin:
                done = True
        if not done and e.max_steps >= 1 and e.t == e.max_steps:
            truncated[i] = True
            r += e.r_max_steps
        terminated[i] = done
        e.hud_reward = e.last_reward > 0  # the HUD shows the previous step's reward
        e.last_reward = r
        reward[i] = r
        e.ep_return += r
        _set_ground_truth(e)
        if endless and e.rand_pos + STEP_DRAWS > e.rand_end:
            low += 1
    return low


# --- kernels: drawing ----------------------------------------------------------------------------
# The draw kernel first copies each env's spotlights into an int table ``discs`` (rows cx, cy, r:
# the truncated centre and the radius); the helpers below read that table. (Reading the float
# spotlight table in the per-pixel tests instead made the masked blits ~15x slower.)

@njit(cache=True)
def _copy_disc(frame, src, cx, cy, r, span_lo, span_hi) -> None:
    """Copy the pixels of the disc (cx, cy, r) from image ``src`` to ``frame``, both flat (84 * 84 * 3
    bytes), clipped; rows 0..3 are left to the top bar. One run of bytes per row, at unsigned offsets:
    with signed ones numba tests each for a negative index, which keeps LLVM from making the loop a
    block copy (3x slower)."""
    m = (span_lo.shape[1] - 1) // 2
    for dy in range(max(-r, HUD_HEIGHT - cy), min(r, SCREEN - 1 - cy) + 1):
        y = cy + dy
        x0, x1 = max(cx + span_lo[r, dy + m], 0), min(cx + span_hi[r, dy + m], SCREEN)
        if x0 < x1:
            start = np.uint64(3 * (SCREEN * y + x0))
            for b in range(np.uint64(3 * (x1 - x0))):
                frame[start + b] = src[start + b]


@njit(cache=True, inline="always")
def _in_any_disc(x, y, discs, first, count, span_lo, span_hi) -> bool:
    """Whether pixel (x, y) lies in one of the discs ``first .. count - 1`` of table ``discs``."""
    m = (span_lo.shape[1] - 1) // 2
    for k in range(first, count):
        r = discs[k, 2]
        dy = y - discs[k, 1]
        if -r <= dy <= r:
            dx = x - discs[k, 0]
            if span_lo[r, dy + m] <= dx < span_hi[r, dy + m]:
                return True
    return False


# The items are drawn by one kernel that calls no other (_in_any_disc is inlined): numba counts the references to a
# kernel's array arguments on entry and exit, and in our kernels it dropped that counting only where a kernel calls no
# other function (docs/design.md). With a call per item, the counting (an atomic operation per array and call) took
# ~10% of a batch step.

@njit(cache=True)
def _draw_items(frame, e, above, debug, dy, dx, rgb, discs, n, near, dim, a, span_lo, span_hi) -> None:
    """Coins, exit and agent, in this order. ``above``: those drawn above the darkness (their
    visible flag, the endless env's new coin, every item in the debug view); else the others.
    ``n`` < 0: each item as it is; else under the overlay of alpha ``a`` with the ``n`` discs cut
    out of it: as it is where a disc shows it, dimmed (``dim[a]``) elsewhere, not at all where the
    overlay is black (a = 255). ``near``: scratch for the discs that can overlap an item (usually
    none, and then in the dark nothing is drawn). Rows 0..3 are left to the top bar."""
    coin_above = debug or e.coins_visible or e.coin_t < e.coin_show
    for item in range(e.num_coins + 2):  # the coins, the exit, the agent
        if item < e.num_coins:
            shown = e.coin_alive[item] and coin_above == above
            variant, x, y, extent = e.coin_sprite, e.coins[item, 0], e.coins[item, 1], e.item_extent
        elif item == e.num_coins:
            shown = e.use_exit and (debug or e.exit_visible) == above
            variant, x, y, extent = e.exit_sprite + e.exit_open, e.exit[0], e.exit[1], e.item_extent
        else:
            shown = (debug or e.agent_visible) == above
            variant, x, y, extent = e.sprite + e.facing, e.pos[0], e.pos[1], e.agent_extent
        if not shown:
            continue
        count = 0  # the discs near the item
        for k in range(max(n, 0)):
            reach = discs[k, 2] + extent
            if abs(discs[k, 0] - x) <= reach and abs(discs[k, 1] - y) <= reach:
                near[count, 0], near[count, 1], near[count, 2] = discs[k, 0], discs[k, 1], discs[k, 2]
                count += 1
        if n >= 0 and count == 0 and a >= 255:
            continue
        for p in range(dy.shape[1]):
            py, px = y + dy[variant, p], x + dx[variant, p]
            if HUD_HEIGHT <= py < SCREEN and 0 <= px < SCREEN:
                if n < 0 or (count > 0 and _in_any_disc(px, py, near, np.int64(0), count, span_lo, span_hi)):
                    frame[py, px, 0] = rgb[variant, p, 0]
                    frame[py, px, 1] = rgb[variant, p, 1]
                    frame[py, px, 2] = rgb[variant, p, 2]
                elif a < 255:
                    frame[py, px, 0] = dim[a, rgb[variant, p, 0]]
                    frame[py, px, 1] = dim[a, rgb[variant, p, 1]]
                    frame[py, px, 2] = dim[a, rgb[variant, p, 2]]


@njit(cache=True)
def _draw_hud(frame, e, action_colours) -> None:
    """The top bar: health, previous action, previous positive reward. Row 0 is
    drawn, then copied to rows 1..3."""
    row = frame[0]
    bar = 0 if e.bar_black else HUD_BAR[0]  # (grey: one value for the three channels)
    lost = int(HEALTH_BAR_WIDTH * (1.0 - e.health / e.health_max))
    lost = min(max(lost, 0), HEALTH_BAR_WIDTH)
    for x in range(SCREEN):
        if x < lost:
            row[x, 0], row[x, 1], row[x, 2] = HUD_DAMAGE
        elif x < HEALTH_BAR_WIDTH:
            row[x, 0], row[x, 1], row[x, 2] = HUD_HEALTH
        elif e.show_action:
            a = e.hud_action[0] if x < 63 else e.hud_action[1]
            row[x, 0], row[x, 1], row[x, 2] = action_colours[a, 0], action_colours[a, 1], action_colours[a, 2]
        else:
            row[x, 0] = row[x, 1] = row[x, 2] = bar
    if e.show_reward and e.t > 0:  # the reset frame has no reward block
        x0, x1 = (57, 67) if e.show_action else (HEALTH_BAR_WIDTH, SCREEN)
        for x in range(x0, x1):
            colour = HUD_REWARD if e.hud_reward else HUD_BAR
            row[x, 0], row[x, 1], row[x, 2] = colour[0], colour[1], colour[2]
    for y in range(1, HUD_HEIGHT):
        for x in range(SCREEN):
            frame[y, x, 0], frame[y, x, 1], frame[y, x, 2] = row[x, 0], row[x, 1], row[x, 2]


@njit(cache=True)
def _draw(state, spots, ids, frames, backgrounds, dy, dx, rgb, rim_dy, rim_dx, rim_rgb, rim_of,
          span_lo, span_hi, dim, bright, action_colours, debug):
    """Draw envs ``ids``: the lit scene under the darkness overlay (with a hole per
    spotlight), the items above it, the top bar. Under the overlay of alpha 0 < a < 255 the scene is
    the background dimmed in advance (``dim_bg``) with the spotlights' discs copied from the plain one,
    and the items dimmed pixel by pixel where no disc shows them: the same pixels as blending the
    overlay over the whole scene, without a table lookup per pixel of the screen."""
    discs = np.empty((spots.shape[1], 3), np.int64)
    flat_frames = frames.reshape(frames.shape[0], -1)  # (for copy_image and _copy_disc)
    flat_backgrounds = backgrounds.reshape(backgrounds.shape[0], -1)
    near = np.empty((spots.shape[1], 3), np.int64)
    # Typed values, not literals: numba compiles a helper once more for every literal argument value it is called
    # with (docs/design.md, "Compile time"), so constants reach the helpers as np.int64 / np.bool_.
    BELOW, ABOVE, EVERYWHERE = np.bool_(False), np.bool_(True), np.int64(-1)
    for j in range(ids.shape[0]):
        i = ids[j]
        e, sp, f = state[i], spots[i], frames[j]
        n = e.n_spots
        for k in range(n):
            discs[k, 0], discs[k, 1], discs[k, 2] = int(sp[k, S_X]), int(sp[k, S_Y]), int(sp[k, S_R])
        a = e.alpha
        b = e.bg_hit if e.hit else e.bg
        bg, flat, flat_bg = backgrounds[b], flat_frames[j], flat_backgrounds[b]
        if a == 0:  # no darkness yet: the whole scene
            copy_image(flat, flat_bg)
            _draw_items(f, e, BELOW, debug, dy, dx, rgb, discs, EVERYWHERE, near, dim, a, span_lo, span_hi)
        else:  # the scene under the overlay (black at 255), the discs cut out of it
            if a >= 255:
                f[:] = 0  # (numba makes this a memset; an explicit loop from row 4 on was 15x slower)
            elif a % e.light_inc == 0 and a // e.light_inc <= e.dim_levels:  # (the alpha k * inc: image k - 1)
                copy_image(flat, flat_backgrounds[(e.dim_bg_hit if e.hit else e.dim_bg) + a // e.light_inc - 1])
            else:  # an alpha no episode reaches (a state set by hand): blended here
                for y in range(SCREEN):
                    for x in range(SCREEN):
                        for c in range(3):
                            f[y, x, c] = dim[a, bg[y, x, c]]
            for k in range(n):
                _copy_disc(flat, flat_bg, discs[k, 0], discs[k, 1], discs[k, 2], span_lo, span_hi)
            _draw_items(f, e, BELOW, debug, dy, dx, rgb, discs, n, near, dim, a, span_lo, span_hi)
        if e.rims:  # each spotlight's white rim is part of the overlay, under the later discs' holes
            for k in range(n):
                v = rim_of[discs[k, 2]]
                for p in range(rim_dy.shape[1]):
                    py, px = discs[k, 1] + rim_dy[v, p], discs[k, 0] + rim_dx[v, p]
                    if (HUD_HEIGHT <= py < SCREEN and 0 <= px < SCREEN
                            and not _in_any_disc(px, py, discs, k + 1, n, span_lo, span_hi)):
                        f[py, px, 0] = bright[a, f[py, px, 0]]
                        f[py, px, 1] = bright[a, f[py, px, 1]]
                        f[py, px, 2] = bright[a, f[py, px, 2]]
        _draw_items(f, e, ABOVE, debug, dy, dx, rgb, discs, EVERYWHERE, near, dim, a, span_lo, span_hi)
        _draw_hud(f, e, action_colours)


class EndlessSearingSpotlights(SearingSpotlights):
    """Endless Searing Spotlights (``Endless-SearingSpotlights-v0``): collect coin after coin in the
    dark, while ever more spotlights sweep the screen.

    Original suite (``memory-gym`` 1.0.2): ``memory_gym/endless_searing_spotlights.py``.

    ## Description
    As ``SearingSpotlights-v0`` (a chessboard that goes dark, spotlights that show it and hurt the
    agent), but without an exit and with exactly one coin at a time: as soon as the agent collects
    it, a new coin appears at least 28 px away, drawn above the darkness for a few frames after it
    appears (``coin_show_duration``); after that the agent must remember where it was. The agent
    must collect a coin every ``steps_per_coin`` steps. Spotlights, discs of radius
    ``spot_min_radius``..``spot_max_radius``, sweep across the screen on curved paths:
    ``initial_spawns`` at reset, then one every ``spawn_interval`` steps without limit. The agent is
    hit while its disc touches a spotlight's: it loses ``spot_damage`` health per step, however many
    spotlights touch it, and the board turns red (``visual_feedback``). A bar at the top shows the
    health, the previous action and a yellow block if the previous step's reward was positive (the
    last two one step late). With ``coin_enabled=False`` there is no coin and no coin timer: the
    agent only survives.

    ## Observation Space
    ``Box(0, 255, (84, 84, 3), uint8)``: an RGB image, indexed [y][x][channel]. The chessboard of
    12-px squares (plain white with ``hide_chessboard``, black with white spotlight rims with
    ``black_background``) under the darkness, lit inside the spotlights; the orange coin where lit,
    during its first frames, or always if ``coins_visible``; the agent (a peach disc whose two dark
    hands show where it faces) where lit, or always if ``agent_visible``; the top bar in rows 0..3
    on black: health, the previous action's two components (grey none, purple left/up, orange
    right/down; ``show_last_action``) and the reward block (``show_last_positive_reward``).

    ## Rewards
    ``reward_coin`` (0.25) per coin; on top, all 0 by default: ``reward_inside_spotlight`` or
    ``reward_outside_spotlight`` on every step and ``reward_death`` when the health runs out. The
    return grows with every coin, without bound.

    ## Starting State
    The agent at a random position with a random facing (the screen centre with
    ``sample_agent_position=False``); the coin at a random position about 28 px or more from it;
    full health; the spotlights just off-screen.

    ## Episode End
    Terminated when the coin is not collected within ``steps_per_coin`` (160) steps of its
    appearance or when the health reaches 0; truncated when the step count reaches ``max_steps``
    (default -1: never). Every reset and step ``info``: ``ground_truth`` = [agent x, agent y, coin
    x, coin y] / 84. Final-step ``info``: ``reward`` (the return), ``length``, ``agent_health`` (the
    fraction left), ``coins_collected`` (the number of coins).
    """

    env_id = "Endless-SearingSpotlights-v0"
    endless = True
    params = _params(endless=True)


class SearingSpotlightsEnv(MemoryGymEnv):
    task_class = SearingSpotlights


class EndlessSearingSpotlightsEnv(MemoryGymEnv):
    task_class = EndlessSearingSpotlights


class SearingSpotlightsVectorEnv(MemoryGymVectorEnv):
    task_class = SearingSpotlights


class EndlessSearingSpotlightsVectorEnv(MemoryGymVectorEnv):
    task_class = EndlessSearingSpotlights
