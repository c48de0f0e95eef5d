"""A user's own env, outside Memory Gym, as the scripts' docs describe (``--env-id user_env:UserDict-v0``):
a Dict of a small image (36x36, the Nature CNN's smallest; ``size``: another) and a vector, MultiDiscrete
actions, episodes of 8 steps."""
import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import register


class UserDictEnv(gym.Env):
    """Remember the first step's colour: the image is red or green at step 0, then grey; reward 1 at
    the last step if action branch 0 names the colour. ``vector``: [step / 8, 1]."""

    action_space = gym.spaces.MultiDiscrete([2, 3])
    length = 8

    def __init__(self, size: int = 36):
        self.size = size
        self.observation_space = gym.spaces.Dict({"image": gym.spaces.Box(0, 255, (size, size, 3), np.uint8),
                                                  "vector": gym.spaces.Box(0.0, 1.0, (2,), np.float32)})

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.colour = 0, int(self.np_random.integers(2))
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        done = self.t == self.length
        reward = float(done and int(action[0]) == self.colour)
        return self._obs(), reward, done, False, {"success": np.float64(reward)} if done else {}

    def _obs(self):
        image = np.full((self.size, self.size, 3), 128, np.uint8)
        if self.t == 0:
            image[..., :] = (255, 0, 0) if self.colour == 0 else (0, 255, 0)
        return {"image": image, "vector": np.array([self.t / self.length, 1.0], np.float32)}


if "UserDict-v0" not in gym.registry:
    register(id="UserDict-v0", entry_point=UserDictEnv)


class NonFiniteObservationEnv(gym.Env):
    """A user env with a bug: its vector observation is NaN from step 3 on (the trainers stop with one line)."""

    action_space = gym.spaces.Discrete(2)
    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.full(2, np.nan if self.t >= 3 else 0.5, np.float32), 0.0, self.t == 8, False, {}


if "NonFiniteObservation-v0" not in gym.registry:
    register(id="NonFiniteObservation-v0", entry_point=NonFiniteObservationEnv)
