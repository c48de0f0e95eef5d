"""Continuous agent movement shared by the tasks (spec ENVS.md section 2.2), as numba helpers.

An action ``[horizontal, vertical]`` has components 0 none, 1 negative (left / up), 2 positive
(right / down). The agent moves ``speed_straight`` px along one axis or ``speed_diagonal`` px along
both (the original truncates each component of ``direction * agent_speed`` toward zero: 3 px
straight, 2 px per axis diagonally) and turns to face its direction. Each task then keeps the
centre inside its own area (clamp, or wrap around a torus).

The helpers take a task's state record ``e``, which must have the fields ``pos`` (int64 (2,),
the centre x, y), ``facing`` (int64, 45-degree steps counter-clockwise from up),
``speed_straight`` and ``speed_diagonal`` (int64 px).
"""
from __future__ import annotations

import numpy as np
from numba import njit

# Action component -> step sign along its axis.
AXIS_STEP = np.array([0, -1, 1])
# Facing (in 45-degree steps, counter-clockwise from up) of a continuous action [horizontal, vertical];
# -1 keeps the facing (no movement).
FACING = np.array([[-1, 0, 4],    # no horizontal move: none, up, down
                   [2, 1, 3],     # left: left, up-left, down-left
                   [6, 7, 5]])    # right: right, up-right, down-right


def speeds(agent_speed: float) -> tuple[int, int]:
    """(straight, diagonal) px per step of ``agent_speed``: each component truncated toward zero."""
    return int(agent_speed), int(agent_speed * np.sqrt(0.5))


@njit(cache=True)
def move_continuous(e, h, v) -> bool:
    """Move and turn the agent of record ``e`` by action [h, v] (unbounded); False if [0, 0]."""
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
    """Keep the centre of record ``e`` inside [x_lo, x_hi] x [y_lo, y_hi]."""
    e.pos[0] = min(max(e.pos[0], x_lo), x_hi)
    e.pos[1] = min(max(e.pos[1], y_lo), y_hi)
