"""A test env whose episodes end at known steps (importable as ``clock_env:Clock-v0``).

Observation ``[t / 10, cue, 1]``: the cue (+1 or -1) is shown in the reset observation only, so an
agent needs memory to get the reward. Action ``Discrete(2)``: reward 1 when the action is the cue's
bit (cue > 0 -> 1), else 0. An episode lasts ``length`` steps (default: 3 to 6, drawn at reset)
and ends terminated when ``terminate`` (default: when the length is even), truncated otherwise, so
its final observation is ``[length / 10, 0, 1]``. Final-step info: ``cue``.
"""
import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import register


class ClockEnv(gym.Env):
    observation_space = gym.spaces.Box(-10.0, 10.0, (3,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, length: int | None = None, terminate: bool | None = None):
        self.fixed_length, self.fixed_terminate = length, terminate

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        self.length = self.fixed_length or int(self.np_random.integers(3, 7))
        self.terminate = self.length % 2 == 0 if self.fixed_terminate is None else self.fixed_terminate
        self.cue = float(self.np_random.choice([-1.0, 1.0]))
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        reward = float(int(action) == int(self.cue > 0))
        end = self.t == self.length
        info = {"cue": self.cue} if end else {}
        return self._obs(), reward, end and self.terminate, end and not self.terminate, info

    def _obs(self):
        return np.array([self.t / 10, self.cue if self.t == 0 else 0.0, 1.0], np.float32)


if "Clock-v0" not in gym.registry:
    register(id="Clock-v0", entry_point=ClockEnv)
