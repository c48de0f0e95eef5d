"""Play any Memory Gym env with the keyboard.

    python -m memory_gym_envs.play MortarMayhem-v0 [--seed N] [--debug]

Keys: arrows or WASD move (grid variants: left/right turn, up/W one tile forward); PageUp and
PageDown change the seed and restart, R restarts the seed, Tab toggles the ground-truth view,
Esc or Q quits. The window title shows the env id and seed; each episode's final ``info`` is
printed. The window shows the agent's observation (``--debug``: the ground-truth view).

``get_keys_to_action()`` of every env returns the same mapping, so
``gymnasium.utils.play.play(gym.make(id, render_mode="rgb_array"), zoom=4, noop=...)`` works too.
"""
from __future__ import annotations

import argparse
import itertools
import sys

import numpy as np

from .sprites import _pygame, upscale

# Per control scheme: action component -> {value: keys}. Keys are pygame key names.
_CONTROLS = {
    # MultiDiscrete([3, 3]): [horizontal: none/left/right, vertical: none/up/down]
    "continuous": [{1: ("left", "a"), 2: ("right", "d")}, {1: ("up", "w"), 2: ("down", "s")}],
    # Discrete(4): no-op, turn left, turn right, forward
    "grid": [{1: ("left", "a"), 2: ("right", "d"), 3: ("up", "w")}],
    # Discrete(4): none, right, up, down (Endless-MysteryPath-v0: there is no way back west)
    "right_up_down": [{1: ("right", "d"), 2: ("up", "w"), 3: ("down", "s")}],
    # Discrete(2): left, right (ProofofMemory-v0; "no key" plays left)
    "left_right": [{1: ("right", "d")}],
}


def noop(controls: str):
    return np.zeros(len(_CONTROLS[controls]), np.int64) if controls == "continuous" else 0


def _code(name: str) -> int:
    """pygame key code of a key name ("left" -> K_LEFT, "a" -> K_a)."""
    return getattr(_pygame(), "K_" + (name.upper() if len(name) > 1 else name))


def keys_to_action(controls: str) -> dict[tuple[int, ...], object]:
    """{sorted tuple of pygame key codes: action} for every key combination of a control scheme."""
    code = _code
    components = _CONTROLS[controls]
    mapping = {}
    choices = [[(0, ())] + [(value, key) for value, keys in comp.items() for key in keys] for comp in components]
    for combo in itertools.product(*choices):
        keys = tuple(sorted(code(k) for _, k in combo if k))
        if not keys:
            continue
        values = [v for v, _ in combo]
        mapping[keys] = np.array(values, np.int64) if controls == "continuous" else values[0]
    return mapping


def action_from_pressed(controls: str, pressed) -> object:
    """The action for the currently pressed keys (``pygame.key.get_pressed()``)."""
    code = _code
    values = []
    for comp in _CONTROLS[controls]:
        value = 0
        for v, keys in comp.items():
            if any(pressed[code(k)] for k in keys):
                value = v
        values.append(value)
    return np.array(values, np.int64) if controls == "continuous" else values[0]


def play(env_id: str, seed: int = 0, debug: bool = False, max_steps: int | None = None,
         fps: int | None = None) -> None:
    """Run the interactive loop (``max_steps`` ends it early and ``fps=0`` removes the pacing, for tests)."""
    import gymnasium as gym

    import memory_gym_envs  # noqa: F401  (registers the ids)

    pygame = _pygame()
    env = gym.make(env_id)
    task = env.unwrapped.task
    controls = task.controls
    pygame.display.init()
    screen = pygame.display.set_mode((336, 336))
    clock = pygame.time.Clock()
    fps = env.metadata["render_fps"] if fps is None else fps

    def restart(s):
        env.reset(seed=s)
        pygame.display.set_caption(f"{env_id}  seed {s}")

    restart(seed)
    steps = 0
    while max_steps is None or steps < max_steps:
        for event in pygame.event.get():
            if event.type == pygame.QUIT or (event.type == pygame.KEYDOWN and event.key in (pygame.K_ESCAPE, pygame.K_q)):
                env.close()
                pygame.display.quit()
                return
            if event.type == pygame.KEYDOWN:
                if event.key == pygame.K_PAGEUP:
                    seed += 1
                    restart(seed)
                elif event.key == pygame.K_PAGEDOWN:
                    seed -= 1
                    restart(seed)
                elif event.key == pygame.K_r:
                    restart(seed)
                elif event.key == pygame.K_TAB:
                    debug = not debug
        frame = task.debug_frame(0) if debug else upscale(task.image(env.unwrapped._obs, 0), 4)
        pygame.surfarray.blit_array(screen, frame.transpose(1, 0, 2))
        pygame.display.flip()
        clock.tick(fps)
        _, _, terminated, truncated, info = env.step(action_from_pressed(controls, pygame.key.get_pressed()))
        steps += 1
        if terminated or truncated:
            print(f"seed {seed}: " + ", ".join(f"{k}={v}" for k, v in info.items() if k != "ground_truth"))
            seed += 1
            restart(seed)
    env.close()
    pygame.display.quit()


def main(argv: list[str] | None = None) -> None:
    import memory_gym_envs

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env_id", help="one of: " + ", ".join(memory_gym_envs.ENVS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--debug", action="store_true", help="show the ground-truth view")
    args = parser.parse_args(argv)
    if args.env_id not in memory_gym_envs.ENVS:
        parser.error(f"unknown env id {args.env_id!r}; valid: {', '.join(memory_gym_envs.ENVS)}")
    play(args.env_id, args.seed, args.debug)


if __name__ == "__main__":
    sys.exit(main())
