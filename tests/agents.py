"""Scripted agents that read an env's state (used by the tests)."""
import numpy as np

from memory_gym_envs.mortar_mayhem import FORWARD_DELTA, TILE


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


def searing_spotlights_action(task, i=0):
    """Walk straight to the next coin, then to the exit (reads the hidden positions)."""
    e = task.state[i]
    alive = np.flatnonzero(e["coin_alive"][:e["num_coins"]])
    target = e["coins"][alive[0]] if len(alive) else e["exit"]
    d = target - e["pos"]
    return np.array([0 if abs(d[0]) <= 1 else (1 if d[0] < 0 else 2), 0 if abs(d[1]) <= 1 else (1 if d[1] < 0 else 2)])
