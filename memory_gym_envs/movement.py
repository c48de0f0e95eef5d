"""The agent's movement rules, shared by every task that moves the agent sprite.

As the original's ``memory_gym/character_controller.py``: continuous moves of ``agent_speed`` px
with each component truncated, grid moves from tile centre to tile centre, and Endless Mortar
Mayhem's wrap-around at the screen's edges.

Numba helpers on one env's state record ``e``, which needs the fields ``pos`` (int64 (2,), the
centre x, y in px), ``facing`` (45-degree steps counter-clockwise from up: the agent sprite's
variant), ``speed_straight`` and ``speed_diagonal`` (px per step, see ``speeds``). A continuous
move is unbounded; each task then keeps the centre in its own area (``clamp_position``,
``wrap_position``, or nothing: leaving Endless Mystery Path's path is that task's business).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .sprites import SCREEN

# Continuous control: action component 0 none, 1 negative (left / up), 2 positive (right / down).
AXIS_STEP = np.array([0, -1, 1])
# Facing of a continuous action [horizontal, vertical]; -1 keeps the facing (no movement).
FACING = np.array([[-1, 0, 4],    # no horizontal move: none, up, down
                   [2, 1, 3],     # left: left, up-left, down-left
                   [6, 7, 5]])    # right: right, up-right, down-right
# Grid control: the tile step of "forward" for facing 0 (north), 2 (west), 4 (south), 6 (east).
FORWARD_DELTA = np.array([(0, -1), (0, 0), (-1, 0), (0, 0), (0, 1), (0, 0), (1, 0), (0, 0)])


def speeds(agent_speed: float) -> tuple[int, int]:
    """(straight, diagonal) px per step: each component of direction * speed truncated toward
    zero, as the original (3.0 -> 3 px straight, 2 px per axis diagonally)."""
    return int(agent_speed), int(agent_speed * np.sqrt(0.5))


@njit(cache=True)
def move_continuous(e, h, v) -> bool:
    """Turn to face the move [h, v] and move (unbounded); False (nothing changes) for [0, 0]."""
    facing = FACING[h, v]
    if facing < 0:
        return False
    e.facing = facing
    speed = e.speed_diagonal if h > 0 and v > 0 else e.speed_straight
    e.pos[0] += AXIS_STEP[h] * speed
    e.pos[1] += AXIS_STEP[v] * speed
    return True


@njit(cache=True)
def clamp_position(e, x_lo, x_hi, y_lo, y_hi) -> None:
    """Keep the centre inside [x_lo, x_hi] x [y_lo, y_hi]."""
    e.pos[0] = min(max(e.pos[0], x_lo), x_hi)
    e.pos[1] = min(max(e.pos[1], y_lo), y_hi)


@njit(cache=True)
def wrap_position(e, radius) -> None:
    """Torus screen: a centre leaving the screen by more than radius/2 re-enters on the other side."""
    lim = radius // 2
    for axis in range(2):
        if e.pos[axis] > SCREEN + lim:
            e.pos[axis] = -lim
        elif e.pos[axis] < -lim:
            e.pos[axis] = SCREEN + lim


@njit(cache=True)
def move_grid(e, action, tile, offset, cells):
    """0 no-op, 1 turn left, 2 turn right, 3 one tile forward (not past the edge of the
    ``cells`` x ``cells`` grid of ``tile``-px tiles whose top-left corner is at ``offset``)."""
    if action == 1:
        e.facing = (e.facing + 2) % 8
    elif action == 2:
        e.facing = (e.facing + 6) % 8
    elif action == 3:
        dx, dy = FORWARD_DELTA[e.facing, 0], FORWARD_DELTA[e.facing, 1]
        tx, ty = (e.pos[0] - offset) // tile + dx, (e.pos[1] - offset) // tile + dy
        if 0 <= tx < cells and 0 <= ty < cells:
            e.pos[0] += tile * dx
            e.pos[1] += tile * dy
