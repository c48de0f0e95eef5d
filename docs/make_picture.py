"""The README's picture: every Memory Gym env, drawn by the envs themselves.

    python docs/make_picture.py            # writes docs/assets/envs.png

Per id: what the agent sees (the 84x84 observation) next to the ground-truth view (the
``debug_rgb_array`` render mode: hidden things drawn, e.g. Mystery Path's invisible path), a few
random steps into a seeded episode.
"""
from __future__ import annotations

import os
import sys

import gymnasium as gym
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import memory_gym_envs  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets", "envs.png")
STEPS = {"MortarMayhem-v0": 1, "MortarMayhem-Grid-v0": 1, "Endless-MortarMayhem-v0": 1, "ProofofMemory-v0": 0,
         "SearingSpotlights-v0": 3, "Endless-SearingSpotlights-v0": 3, "Endless-MysteryPath-v0": 5}


def frames(env_id: str, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    env = gym.make(env_id, render_mode="debug_rgb_array")
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    for _ in range(STEPS.get(env_id, 12)):  # e.g. Mortar Mayhem while its first command is shown
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            obs, _ = env.reset(seed=seed)
    image = obs["visual_observation"] if isinstance(obs, dict) else obs
    debug = env.render()
    env.close()
    if image.ndim != 3:  # ProofofMemory-v0 observes a vector: a grey panel
        return np.full((336, 336, 3), 200, np.uint8), debug
    return np.kron(image, np.ones((4, 4, 1), np.uint8)), debug  # both 336x336


def main() -> None:
    ids = list(memory_gym_envs.ENVS)
    cols = 4
    rows = -(-len(ids) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 3.2, rows * 1.9))
    for ax in axes.flat:
        ax.axis("off")
    for ax, env_id in zip(axes.flat, ids):
        seen, truth = frames(env_id)
        ax.imshow(np.concatenate([seen, np.full((336, 8, 3), 255, np.uint8), truth], axis=1))
        ax.set_title(env_id, fontsize=9)
    fig.suptitle("Each env: what the agent sees (left) and the ground truth (right)", fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    fig.savefig(OUT, dpi=80)
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
