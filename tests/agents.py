"""Scripted agents that read an env's state (used by the tests)."""
import numpy as np

from memory_gym_envs.mortar_mayhem import TILE
from memory_gym_envs.movement import FORWARD_DELTA


def mortar_mayhem_action(task, i=0):
    """The perfect Mortar Mayhem player: move onto the current target tile, then wait."""
    e = task.state[i]
    centre = e["offset"] + TILE * e["target"] + TILE // 2
    d = centre - e["pos"]
    if task.endless:  # shortest way round the torus
        d = (d + 42) % 84 - 42
    if not task.grid:
        return np.array([0 if abs(d[0]) <= 2 else (1 if d[0] < 0 else 2),
                         0 if abs(d[1]) <= 2 else (1 if d[1] < 0 else 2)])
    if not d.any():
        return 0
    want = np.sign(d) if d[0] == 0 or d[1] == 0 else np.array([np.sign(d[0]), 0])
    if np.array_equal(FORWARD_DELTA[e["facing"]], want):
        return 3
    desired = [r for r in (0, 2, 4, 6) if np.array_equal(FORWARD_DELTA[r], want)][0]
    return 1 if (desired - e["facing"]) % 8 == 2 else 2


def _toward(d):
    """Continuous action component for a signed distance: 0 none, 1 negative, 2 positive."""
    return 0 if d == 0 else (1 if d < 0 else 2)


def _leg_target(pos, centre, next_centre):
    """Where a path follower goes: on to the next tile's centre if it stands on the leg from its
    tile's centre towards it, else (it has just entered its tile) to its tile's centre first."""
    off, leg = pos - centre, next_centre - centre
    on_leg = off[0] * leg[1] - off[1] * leg[0] == 0 and off @ leg >= 0
    return next_centre if on_leg else centre


def mystery_path_action(task, i=0):
    """Follow the path of a finite Mystery Path env (reads its state)."""
    from memory_gym_envs.mystery_path import TILE as MP_TILE

    e = task.state[i]
    path = task.path(i)
    cur = e["cur"]
    centre = MP_TILE * path[cur] + MP_TILE // 2
    target = centre if cur + 1 == len(path) else _leg_target(e["pos"], centre, MP_TILE * path[cur + 1] + MP_TILE // 2)
    d = target - e["pos"]
    if not task.grid:
        return np.array([_toward(d[0]), _toward(d[1])])
    want = np.sign(d)
    if np.array_equal(FORWARD_DELTA[e["facing"]], want):
        return 3
    desired = [r for r in (0, 2, 4, 6) if np.array_equal(FORWARD_DELTA[r], want)][0]
    return 1 if (desired - e["facing"]) % 8 == 2 else 2


def endless_tile_centre(task, i=0):
    """World px centre of the endless agent's last path tile."""
    from memory_gym_envs.mystery_path import RING, SEGMENT_COLUMNS, TILE as MP_TILE

    e = task.state[i]
    x, y = task.ring.xy[i, e["cur_seg"] % RING, e["cur_idx"]]
    return np.array([MP_TILE * (SEGMENT_COLUMNS * e["cur_seg"] + x) + MP_TILE // 2, MP_TILE * y + MP_TILE // 2])


ENDLESS_STEPS = np.array([(1, 0), (0, -1), (0, 1)])  # ground truth slot -> tile step: east, north, south


def endless_mystery_path_action(task, i=0):
    """Follow the endless path (actions: 1 east, 2 north, 3 south), the way the ground truth
    points."""
    from memory_gym_envs.mystery_path import TILE as MP_TILE

    e = task.state[i]
    centre = endless_tile_centre(task, i)
    target = _leg_target(e["pos"], centre, centre + MP_TILE * ENDLESS_STEPS[np.argmax(e["gt"])])
    d = target - e["pos"]
    return 1 if d[0] > 0 else (2 if d[1] < 0 else 3)


def searing_spotlights_action(task, i=0):
    """Walk straight to the next coin, then to the exit (reads the hidden positions)."""
    e = task.state[i]
    alive = np.flatnonzero(e["coin_alive"][:e["num_coins"]])
    target = e["coins"][alive[0]] if len(alive) else e["exit"]
    d = target - e["pos"]
    return np.array([0 if abs(d[0]) <= 1 else (1 if d[0] < 0 else 2), 0 if abs(d[1]) <= 1 else (1 if d[1] < 0 else 2)])
