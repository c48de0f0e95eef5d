"""The agent's movement rules (spec ENVS.md 2.2), shared by every task that moves the agent sprite.

The helpers are numba functions on one env's state record; they need its fields ``pos`` (int64
centre x, y in px), ``facing`` (45-degree steps counter-clockwise from up, i.e. the agent sprite's
variant), ``speed_straight`` and ``speed_diagonal`` (px per step, already truncated toward zero)
and, for ``WRAP``, ``radius``. Bounds that differ between tasks (the arena, the screen, none) are
arguments.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .sprites import SCREEN

# Continuous control: action component 0 none, 1 negative, 2 positive.
AXIS_STEP = np.array([0, -1, 1])
# Facing of a continuous action [horizontal, vertical]; -1 keeps the facing (no movement).
FACING = np.array([[-1, 0, 4],    # no horizontal move: none, up, down
                   [2, 1, 3],     # left: left, up-left, down-left
                   [6, 7, 5]])    # right: right, up-right, down-right
# Grid control: the tile step of "forward" for facing 0 (north), 2 (west), 4 (south), 6 (east).
FORWARD_DELTA = np.array([(0, -1), (0, 0), (-1, 0), (0, 0), (0, 1), (0, 0), (1, 0), (0, 0)])

# What happens at the edge of the world in ``move_continuous``.
CLAMP = 0  # the centre stays in [lo, hi] on both axes
WRAP = 1   # torus screen: leaving it by more than radius/2 re-enters on the other side
FREE = 2   # no bounds (Endless Mystery Path: leaving the path is the task's business)


@njit(cache=True)
def move_continuous(e, h, v, bound, lo, hi):
    """[horizontal, vertical] in {0 none, 1 negative, 2 positive}: face the move's direction and
    move ``speed_straight`` px (``speed_diagonal`` per axis diagonally), then apply ``bound``."""
    facing = FACING[h, v]
    if facing < 0:
        return
    e.facing = facing
    speed = e.speed_diagonal if h > 0 and v > 0 else e.speed_straight
    for axis, a in ((0, h), (1, v)):
        p = e.pos[axis] + AXIS_STEP[a] * speed
        if bound == WRAP:
            lim = e.radius // 2
            if p > SCREEN + lim:
                p = -lim
            elif p < -lim:
                p = SCREEN + lim
        elif bound == CLAMP:
            p = min(max(p, lo), hi)
        e.pos[axis] = p


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
