"""ProofofMemory-v0: a seconds-long check that an agent's memory works.

Not part of the original suite: the tiny vector task that CleanRL's ``ppo_trxl`` example
registers under the same id, so commands written for CleanRL run unchanged. State and step are a
handful of NumPy operations over all envs; no kernel is needed. ``docs/design.md`` walks through
this file as the example of how a task plugs into the core.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from .core import MemoryGymEnv, MemoryGymVectorEnv, Task
from .params import Param

CELLS = 11  # positions -1.0, -0.8, ..., 1.0; both ends are goals
CUE_STEPS = 2  # the cues are visible in the reset observation and the first two steps' ...
FROZEN_STEPS = 2  # ... during which the agent cannot move


class ProofOfMemory(Task):
    """ProofofMemory-v0: walk to the goal whose sign was shown at the start.

    ## Description
    A 1-D track of 11 cells at -1.0, -0.8, ..., 1.0. Both ends are goals; each episode one end is
    the good goal (+1) and the other the bad goal (-1), uniformly at random. The goal signs are
    visible in the reset observation and the observations of the first two steps, during which the
    agent is frozen; then they disappear, and the agent has to remember which end to walk to. Not
    part of the original suite: a task that a memory agent solves in seconds, to check that an
    agent's memory works. The cue is still in sight when the agent makes its first move, so a
    memory-less agent gets part of the way: its best policy steps toward the good goal first, then
    walks to the end nearer to where it stands (return 0.28, success 0.70; computed exactly from the
    rules, ``tests/test_proof_of_memory.py``).

    ## Action Space
    ``Discrete(2)``: 0 move left by 0.2, 1 move right by 0.2 (ignored during the first 2 steps).

    ## Observation Space
    ``Box(-1, 1, (3,), float32)``: [sign of the left goal, position, sign of the right goal] (the
    signs read 0 from the third step on). ``render()`` draws it as an 84x84 image: the 11 cells
    grey, the goals green (good) and red (bad) while their signs are shown, the agent white.

    ## Rewards
    -0.1 for every moving step that does not end on a goal; +1.6 at the good goal, -1.6 at the bad
    one. A memory agent returns about 1.2 on average, the best memory-less policy 0.28.

    ## Starting State
    Position uniform in {-0.4, -0.2, 0.0, 0.2, 0.4}; the good goal's side uniform.

    ## Episode End
    Terminated at either goal; truncated when the step count reaches ``max_steps`` (16). Final-step
    ``info``: ``reward`` (the return), ``length``, ``success`` (1 if the good goal was reached). No
    other info keys.
    """

    env_id = "ProofofMemory-v0"
    params = {
        "max_steps": Param(16, int, 3, 1000, doc="truncate the episode after this many steps"),
    }
    observation_space = spaces.Box(-1.0, 1.0, (3,), np.float32)
    action_space = spaces.Discrete(2)
    controls = "left_right"
    reset_state = ("cell", "good_right", "t", "max_steps", "ep_return", "success")

    def __init__(self, num_envs: int):
        super().__init__(num_envs)
        n = num_envs
        self.cell = np.zeros(n, np.int64)  # 0..10
        self.good_right = np.zeros(n, bool)
        self.t = np.zeros(n, np.int64)
        self.max_steps = np.zeros(n, np.int64)
        self.ep_return = np.zeros(n)
        self.success = np.zeros(n, np.int64)

    def reset(self, env_ids: np.ndarray, params: dict[str, Any], rngs: list[np.random.Generator]) -> None:
        u = np.array([rng.random(2) for rng in rngs])
        self.cell[env_ids] = 3 + (u[:, 0] * 5).astype(np.int64)
        self.good_right[env_ids] = u[:, 1] < 0.5
        self.t[env_ids] = 0
        self.max_steps[env_ids] = params["max_steps"]
        self.ep_return[env_ids] = 0.0
        self.success[env_ids] = 0

    def step(self, actions: np.ndarray, active: np.ndarray):
        moving = active & (self.t >= FROZEN_STEPS)
        self.cell += np.where(moving, np.where(actions == 1, 1, -1), 0)
        at_goal = moving & ((self.cell == 0) | (self.cell == CELLS - 1))
        good = at_goal & ((self.cell == CELLS - 1) == self.good_right)
        reward = np.where(at_goal, np.where(good, 1.6, -1.6), np.where(moving, -0.1, 0.0))
        self.t += active
        terminated = at_goal
        truncated = active & ~terminated & (self.t >= self.max_steps)
        self.success |= good
        self.ep_return += reward
        return reward, terminated, truncated

    def observe(self):
        obs = np.zeros((self.num_envs, 3), np.float32)
        sign = np.where(self.good_right, 1.0, -1.0)
        visible = self.t <= CUE_STEPS
        obs[:, 0] = np.where(visible, -sign, 0.0)
        obs[:, 1] = -1.0 + 0.2 * self.cell
        obs[:, 2] = np.where(visible, sign, 0.0)
        return obs

    def _picture(self, i: int, cues: bool) -> np.ndarray:
        """84x84: the track as 11 grey cells, goals green (good) / red (bad) when shown, agent white."""
        img = np.zeros((84, 84, 3), np.uint8)
        for c in range(CELLS):
            colour = (90, 90, 90)
            if cues and c in (0, CELLS - 1):
                colour = (0, 200, 0) if (c == CELLS - 1) == self.good_right[i] else (200, 0, 0)
            img[38:46, 3 + 7 * c:9 + 7 * c] = colour
        x = 3 + 7 * self.cell[i]
        img[30:36, x:x + 6] = 255
        return img

    def image(self, obs, i):
        return self._picture(i, cues=bool(obs[i, 0] != 0))

    def debug_image(self, i: int) -> np.ndarray:
        return self._picture(i, cues=True)

    def final_info(self):
        return {"reward": self.ep_return.copy(), "length": self.t.copy(), "success": self.success.copy()}


class ProofOfMemoryEnv(MemoryGymEnv):
    task_class = ProofOfMemory


class ProofOfMemoryVectorEnv(MemoryGymVectorEnv):
    task_class = ProofOfMemory
