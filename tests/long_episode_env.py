"""A test env whose episodes last 5,000 steps (importable as ``long_episode_env:LongEpisode-v0``)."""
import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import register


class LongEpisodeEnv(gym.Env):
    """Vector observation [phase, step/5000, 0]; Discrete(2); reward 0.01 for action 1; truncated at 5,000."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
    action_space = gym.spaces.Discrete(2)
    length = 5000

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        info = {"reward": 0.0, "length": self.t} if self.t == self.length else {}
        return self._obs(), 0.01 * int(action), False, self.t == self.length, info

    def _obs(self):
        return np.array([np.sin(self.t), self.t / self.length, 0.0], np.float32)


if "LongEpisode-v0" not in gym.registry:
    register(id="LongEpisode-v0", entry_point=LongEpisodeEnv)
