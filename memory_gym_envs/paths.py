"""Mystery Path's path generator: walls on a 7x7 grid and a quirky A*-like search.

The original generates its paths in ``memory_gym/pygame_assets.py`` (walls, then a search from
the origin to the goal); this is our own compiled version of that procedure.

The original's search is not a correct A*; its two quirks make paths winding and usually longer
than the shortest way, and that distribution of path shapes is part of the task's difficulty, so
it is reproduced here:

1. The node taken from the open list is the *first* node (in insertion order) whose f is lower
   than the f of the list's first node, not the node with the lowest f.
2. When a cheaper way to a node that is already open is found, the node is re-parented but its
   g (and so its f) keeps the old value (the original stores the new cost in the wrong attribute).

Step costs are random (uniform 1..8, one draw per neighbour looked at), the heuristic is the
Euclidean distance to the goal, neighbours are visited up, down, left, right. Parents only ever
point to closed nodes, which never change their parent again, so following the parents from the
goal always ends at the origin: a path is a sequence of distinct, 4-adjacent tiles. Over 1,000
seeds the lengths are mean 10.1, min 7, max ~15 tiles (origin and goal included), like the
original's (mean 10.1, min 7, max 14 over 300 seeds).

Randomness: a path is a function of a 64-bit key and an index ``k`` (``stream(key, k)``: a
SplitMix64 sequence). Each episode draws its key from the env's ``np.random.Generator``, so the
seeding contract holds, and Endless Mystery Path can (re)build its segment ``k`` inside a compiled
step kernel at any time from the key alone: segments dropped far behind the agent are rebuilt
identically when a fall-off sends the agent back to the start.
"""
from __future__ import annotations

import numpy as np
from numba import njit

CELLS = 7                      # the grid is CELLS x CELLS tiles
CAPACITY = CELLS * CELLS + 1   # longest possible path, plus Endless Mystery Path's transition tile
WALL_PROBABILITY = 0.33        # interior cells (columns and rows 1..4) are walls with this probability
# Neighbour order of the search: up, down, left, right.
STEP_X = np.array([0, 0, -1, 1])
STEP_Y = np.array([-1, 1, 0, 0])

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


# --- the random stream ---------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _mix(z):
    """SplitMix64's output function (a bijective 64-bit hash)."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def stream(key, k):
    """The random stream of path ``k`` of the episode with ``key`` (a 1-element state array)."""
    state = np.empty(1, np.uint64)
    state[0] = _mix(np.uint64(key) ^ _mix(np.uint64(k + 2) * _GOLDEN))
    return state


@njit(cache=True, inline="always")
def uniform(state):
    """The next float in [0, 1) of a stream (SplitMix64, 53 bits)."""
    state[0] += _GOLDEN
    return (_mix(state[0]) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def randint(state, n):
    """The next int in 0..n-1 of a stream."""
    return int(uniform(state) * n)


# --- walls and path ------------------------------------------------------------------------------

@njit(cache=True)
def generate(state, origin_x, origin_y, goal_x, goal_y, walls, path_x, path_y):
    """Draw the walls (``walls[y, x]``), then search a path from origin to goal into
    ``path_x``/``path_y`` (origin first). Returns the path length, 0 if the walls block the way."""
    walls[:, :] = False
    for x in range(1, CELLS - 2):  # interior walls: columns and rows 1..4 only (as the original)
        for y in range(1, CELLS - 2):
            walls[y, x] = uniform(state) < WALL_PROBABILITY
    # 4 or 8 walls on the border, on cells that are not origin, goal or their 4-neighbours and not
    # 8-adjacent to an interior wall (judged before any border wall is placed, so two border walls
    # may touch, as in the original).
    count = 4 if uniform(state) < 0.5 else 8
    candidates = np.empty(4 * CELLS, np.int64)
    n = 0
    for y in range(CELLS):
        for x in range(CELLS):
            if not (x == 0 or y == 0 or x == CELLS - 1 or y == CELLS - 1):
                continue
            if abs(x - origin_x) + abs(y - origin_y) <= 1 or abs(x - goal_x) + abs(y - goal_y) <= 1:
                continue
            near_wall = False
            for yy in range(max(y - 1, 0), min(y + 2, CELLS)):
                for xx in range(max(x - 1, 0), min(x + 2, CELLS)):
                    near_wall = near_wall or walls[yy, xx]
            if not near_wall:
                candidates[n] = y * CELLS + x
                n += 1
    for j in range(min(count, n)):  # uniform choice without replacement (partial Fisher-Yates)
        r = j + randint(state, n - j)
        c = candidates[r]
        candidates[r] = candidates[j]
        candidates[j] = c
        walls[c // CELLS, c % CELLS] = True
    return _search(state, walls, origin_x, origin_y, goal_x, goal_y, path_x, path_y)


@njit(cache=True)
def _search(state, walls, origin_x, origin_y, goal_x, goal_y, path_x, path_y):
    """The original's A*-like search with its two quirks (see the module docstring)."""
    size = CELLS * CELLS
    g = np.zeros(size, np.int64)
    f = np.zeros(size)
    parent = np.full(size, -1, np.int64)
    status = np.zeros(size, np.int8)  # 0 unseen, 1 open, 2 closed
    open_list = np.empty(size, np.int64)
    start, goal = origin_y * CELLS + origin_x, goal_y * CELLS + goal_x
    open_list[0] = start
    n_open = 1
    status[start] = 1
    f[start] = np.hypot(goal_x - origin_x, goal_y - origin_y)
    while n_open > 0:
        j = 0  # quirk 1: the first node cheaper than the first one, not the cheapest
        for m in range(1, n_open):
            if f[open_list[m]] < f[open_list[0]]:
                j = m
                break
        current = open_list[j]
        for m in range(j, n_open - 1):  # remove it, keeping the insertion order
            open_list[m] = open_list[m + 1]
        n_open -= 1
        status[current] = 2
        if current == goal:
            break
        cx, cy = current % CELLS, current // CELLS
        for d in range(4):
            x, y = cx + STEP_X[d], cy + STEP_Y[d]
            if x < 0 or y < 0 or x >= CELLS or y >= CELLS or walls[y, x]:
                continue
            node = y * CELLS + x
            if status[node] == 2:
                continue
            cost = g[current] + 1 + randint(state, np.int64(8))
            if status[node] == 1:
                if cost < g[node]:  # quirk 2: re-parented, but g keeps its old value
                    parent[node] = current
            else:
                g[node] = cost
                f[node] = cost + np.hypot(goal_x - x, goal_y - y)
                parent[node] = current
                status[node] = 1
                open_list[n_open] = node
                n_open += 1
    if status[goal] != 2:
        return 0
    n = 0
    node = goal
    while node >= 0:
        path_x[n], path_y[n] = node % CELLS, node // CELLS
        n += 1
        node = parent[node]
    for m in range(n // 2):  # reverse in place (a loop: an array assignment compiles numba's shape-error path)
        path_x[m], path_x[n - 1 - m] = path_x[n - 1 - m], path_x[m]
        path_y[m], path_y[n - 1 - m] = path_y[n - 1 - m], path_y[m]
    return n


@njit(cache=True)
def edge_path(state, cardinal, walls, path_x, path_y):
    """A Mystery Path: origin and goal uniform on opposite edges, 0: left -> right,
    1: right -> left, 2: top -> bottom, 3: bottom -> top. Returns the length; walls that block
    every way (never seen in practice) are drawn again."""
    last = CELLS - 1
    while True:
        u, v = randint(state, np.int64(CELLS)), randint(state, np.int64(CELLS))
        if cardinal == 0:
            ox, oy, gx, gy = 0, u, last, v
        elif cardinal == 1:
            ox, oy, gx, gy = last, u, 0, v
        elif cardinal == 2:
            ox, oy, gx, gy = u, 0, v, last
        else:
            ox, oy, gx, gy = u, last, v, 0
        n = generate(state, ox, oy, gx, gy, walls, path_x, path_y)
        if n > 0:
            return n


@njit(cache=True)
def eastward_path(state, start_y, goal_y, walls, path_x, path_y):
    """An Endless Mystery Path segment: from (0, start_y) to (6, goal_y) with no westward step
    (the agent has no "left" action; the original rarely, ~0.2% of segments, produces one and
    the episode dead-ends there). Such paths, and blocked walls, are drawn again."""
    while True:
        # np.int64(0), not 0: a literal argument compiles generate (and _search) a second time (docs/design.md)
        n = generate(state, np.int64(0), start_y, CELLS - 1, goal_y, walls, path_x, path_y)
        westward = False
        for m in range(1, n):
            westward = westward or path_x[m] < path_x[m - 1]
        if n > 0 and not westward:
            return n
