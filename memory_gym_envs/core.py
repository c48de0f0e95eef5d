"""The environment core: a task is N environments whose state is a set of arrays.

A task (subclass of ``Task``) holds the state of ``num_envs`` environments as NumPy arrays with a
leading env axis and implements four functions of that state:

* ``reset(env_ids, params, rngs)``: start new episodes for the listed envs (Python loop over those
  envs; per-episode sampling draws from each env's own ``np.random.Generator``),
* ``step(actions, active)``: advance every env whose ``active`` flag is set, vectorised over envs,
  and return ``(reward, terminated, truncated)`` arrays (zeros for inactive envs),
* ``observe()``: draw the observation of every env into a fresh array,
* ``debug_frame(i)``: the 336x336 ground-truth view of env ``i``;

plus the info arrays ``step_info()`` (keys present on every step, e.g. ``ground_truth``) and
``final_info()`` (episode statistics, read for envs whose episode just ended).

Two thin adapters turn any task into the gymnasium API, so one env and a batch of envs run the
same code: ``MemoryGymEnv`` (a ``gymnasium.Env`` over a task of 1 env, behind ``gym.make``) and
``MemoryGymVectorEnv`` (a ``gymnasium.vector.VectorEnv`` over a task of N envs, behind
``gym.make_vec``, with the ``NEXT_STEP``, ``SAME_STEP`` and ``DISABLED`` autoreset modes and
per-env infos in the format of gymnasium's own vector envs).

A reset checks its seed, options and parameters before it changes anything, and a reset that
fails inside the task is undone (``Task.snapshot``): a reset that raises leaves the env as it was.

Seeding contract (as gymnasium's): ``reset(seed=s)`` makes an env's episode a pure function of
``s`` and the actions; without a seed an env's generator continues (or is seeded randomly on first
use). A vector env seeded with ``s`` seeds env ``i`` with ``s + i``, exactly like
``SyncVectorEnv`` of single envs, so a batch equals the same single envs step for step.
"""
from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from . import docstrings
from .params import Param, check_options, check_seed, default_params, resolve_params
from .sprites import upscale

RENDER_MODES = ["human", "rgb_array", "debug_rgb_array"]


class Task:
    """Base class of a batched task. Subclasses set the class attributes and the methods below."""

    env_id: ClassVar[str]
    params: ClassVar[dict[str, Param]]
    observation_space: ClassVar[gym.Space]
    action_space: ClassVar[gym.Space]
    render_fps: ClassVar[int] = 25
    controls: ClassVar[str] = "continuous"  # key mapping of memory_gym_envs.play
    ground_truth_space: ClassVar[gym.spaces.Box | None] = None
    # The attributes ``reset`` writes ("a.b": attribute b of attribute a): arrays and lists (the
    # per-env generators), saved by ``snapshot`` so that a reset that fails half-way can be undone.
    reset_state: ClassVar[tuple[str, ...]]
    # The docstring's summary and sections (docstrings.py): a variant's own sections over its
    # parent's. ``__doc__`` becomes the whole documentation, with the generated ``## Arguments``.
    doc_summary: ClassVar[str] = ""
    doc_sections: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        summary, own = docstrings.parse(cls.__dict__.get("__doc__"))
        cls.doc_summary = summary or cls.doc_summary
        cls.doc_sections = docstrings.merge(cls.doc_sections, own)
        if hasattr(cls, "env_id") and hasattr(cls, "params"):
            cls.__doc__ = docstrings.env_doc(cls)

    def __init__(self, num_envs: int):
        self.num_envs = num_envs
        self.all_ids = np.arange(num_envs)
        self._state_names = [name.rpartition(".")[::2] for name in self.reset_state]  # (owner, attribute)

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> None:
        """Checks that involve several parameters; raise ValueError naming them."""

    def reset(self, env_ids: np.ndarray, params: dict[str, Any], rngs: list[np.random.Generator]) -> None:
        raise NotImplementedError

    def step(self, actions: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError

    def snapshot(self) -> list:
        """The ``reset_state`` attributes and copies of their contents, for ``restore``."""
        saved = []
        for owner, attr in self._state_names:
            obj = getattr(self, owner) if owner else self
            value = getattr(obj, attr)
            if value is not None:  # (arrays saved as bytes: the cheapest copy, ~0.1 us)
                saved.append((obj, attr, value, list(value) if isinstance(value, list) else value.tobytes()))
        return saved

    def restore(self, saved: list) -> None:
        """Put back what ``snapshot`` saved: the very same objects (a reset may have replaced an
        array by a grown copy; views of the old one stay valid) with their old contents."""
        for obj, attr, value, copy in saved:
            setattr(obj, attr, value)
            if isinstance(value, list):
                value[:] = copy
            else:
                value[...] = np.frombuffer(copy, value.dtype).reshape(value.shape)

    def observe(self):
        raise NotImplementedError

    def image(self, obs, i: int) -> np.ndarray:
        """The 84x84 RGB image of env ``i`` in an observation batch (Dict observations override)."""
        return obs[i]

    def debug_image(self, i: int) -> np.ndarray:
        """The 84x84 ground-truth view of env ``i`` (hidden things drawn)."""
        raise NotImplementedError

    def debug_frame(self, i: int) -> np.ndarray:
        return upscale(self.debug_image(i), 4)

    def human_fps(self, i: int) -> int:
        """Frames per second of the human window for env ``i``'s current frame."""
        return self.render_fps

    def step_info(self) -> dict[str, np.ndarray]:
        """Info keys present on every step and reset, as (N, ...) arrays."""
        return {}

    def final_info(self) -> dict[str, np.ndarray]:
        """Episode statistics as (N,) int64/float64/bool arrays; valid where an episode just ended."""
        raise NotImplementedError


# --- actions -------------------------------------------------------------------------------------

def check_actions(space: gym.Space, actions: Any, num_envs: int | None, env_id: str) -> np.ndarray:
    """Return the actions as an int64 array ((N,) or (N, k)); raise ValueError if invalid."""
    a = np.asarray(actions)
    if isinstance(space, gym.spaces.Discrete):
        shape, high = (), np.int64(space.n)
    else:
        shape, high = space.nvec.shape, space.nvec
    expected = shape if num_envs is None else (num_envs,) + shape
    ok = a.shape == expected and (np.issubdtype(a.dtype, np.integer)
                                   or (a.dtype.kind == "f" and np.all(a == np.floor(a))))
    if ok:
        a = a.astype(np.int64)
        ok = bool(np.all((a >= 0) & (a < high)))
    if not ok:
        what = "action" if num_envs is None else f"actions of shape {expected}"
        raise ValueError(f"invalid {what} for {env_id}: {actions!r}; the action space is {space}")
    return a if num_envs is not None else a[None]


# --- the human window ----------------------------------------------------------------------------

class HumanWindow:
    """A pygame window showing the 336x336 debug view, paced at ``fps``."""

    def __init__(self, fps: int):
        self.fps = fps
        self.screen = None
        self.clock = None

    def show(self, frame: np.ndarray, title: str, fps: int | None = None) -> None:
        from .sprites import _pygame

        pygame = _pygame()
        if self.screen is None:
            pygame.display.init()
            self.screen = pygame.display.set_mode((frame.shape[1], frame.shape[0]))
            self.clock = pygame.time.Clock()
        pygame.display.set_caption(title)
        pygame.surfarray.blit_array(self.screen, frame.transpose(1, 0, 2))
        pygame.event.pump()
        pygame.display.flip()
        self.clock.tick(fps or self.fps)

    def close(self) -> None:
        if self.screen is not None:
            from .sprites import _pygame

            _pygame().display.quit()
            self.screen = None


def _reset_task(task: Task, ids: np.ndarray, params: dict[str, Any], rngs: list[np.random.Generator],
                kept: list[np.random.Generator]) -> None:
    """``task.reset`` that either succeeds or raises leaving the task and the generators ``kept``
    (those of ``rngs`` the env keeps if the reset fails) as they were. The parameters are checked
    before; this covers a failure inside the reset itself, which would otherwise leave a half-reset
    env whose next step continues a mix of two episodes."""
    saved, states = task.snapshot(), [rng.bit_generator.state for rng in kept]
    try:
        task.reset(ids, params, rngs)
    except BaseException:
        task.restore(saved)
        for rng, state in zip(kept, states):
            rng.bit_generator.state = state
        raise


def _check_render_mode(render_mode: str | None, allowed: list[str]) -> None:
    if render_mode is not None and render_mode not in allowed:
        raise ValueError(f"unknown render_mode {render_mode!r}; valid: None, {', '.join(map(repr, allowed))}")


def _scalar_info(arrays: dict[str, np.ndarray], i: int) -> dict[str, Any]:
    """One env's info from info arrays: Python scalars for (N,) arrays, copies for (N, k) arrays."""
    return {k: (v[i].item() if v.ndim == 1 else v[i].copy()) for k, v in arrays.items()}


# --- the single env ------------------------------------------------------------------------------

class MemoryGymEnv(gym.Env):
    """A single environment of a task (``gym.make``). Subclasses set ``task_class``.

    ``MemoryGymEnv(render_mode=None, **params)``: ``params`` are reset parameters that become this
    env's defaults; ``reset(options=...)`` overrides them for one episode. A subclass without a
    docstring of its own gets its task's (the whole env documentation).
    """

    task_class: ClassVar[type[Task]]
    metadata: ClassVar[dict[str, Any]] = {"render_modes": RENDER_MODES, "render_fps": 25}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "task_class" in cls.__dict__:
            cls.metadata = {"render_modes": RENDER_MODES, "render_fps": cls.task_class.render_fps}
            if cls.__dict__.get("__doc__") is None:
                cls.__doc__ = docstrings.env_doc(cls.task_class)

    def __init__(self, render_mode: str | None = None, **params):
        _check_render_mode(render_mode, RENDER_MODES)
        task = self.task_class
        self.render_mode = render_mode
        self.observation_space = task.observation_space
        self.action_space = task.action_space
        self.has_ground_truth_info = task.ground_truth_space is not None
        self.ground_truth_space = task.ground_truth_space
        self.default_params = resolve_params(task.params, task.env_id, default_params(task.params), params)
        task.check_params(self.default_params)
        self.task = task(1)
        self._active = np.ones(1, bool)
        self._ids = np.zeros(1, np.int64)
        self._ended = True
        self._seed: int | None = None
        self._obs = None
        self._window: HumanWindow | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        # Everything is checked before anything changes: a bad reset raises and the episode goes on.
        seed = check_seed(seed)
        params = resolve_params(self.task.params, self.task.env_id, self.default_params, options)
        self.task.check_params(params)
        previous = self._np_random, self._np_random_seed  # a seed replaces the generator (undone on failure)
        super().reset(seed=seed)
        try:
            _reset_task(self.task, self._ids, params, [self.np_random],
                        [self.np_random] if seed is None else [])
        except BaseException:
            self._np_random, self._np_random_seed = previous
            raise
        if seed is not None:
            self._seed = seed
        self._ended = False
        self._obs = self.task.observe()
        info = _scalar_info(self.task.step_info(), 0)
        if self.render_mode == "human":
            self.render()
        return self._single(self._obs), info

    def step(self, action):
        if self._ended:
            raise gym.error.ResetNeeded(f"{self.task.env_id}: the episode has ended; call reset() before step()")
        actions = check_actions(self.action_space, action, None, self.task.env_id)
        reward, terminated, truncated = self.task.step(actions, self._active)
        self._obs = self.task.observe()
        info = _scalar_info(self.task.step_info(), 0)
        terminated, truncated = bool(terminated[0]), bool(truncated[0])
        if terminated or truncated:
            self._ended = True
            info.update(_scalar_info(self.task.final_info(), 0))
        if self.render_mode == "human":
            self.render()
        return self._single(self._obs), float(reward[0]), terminated, truncated, info

    @staticmethod
    def _single(obs):
        return {k: v[0] for k, v in obs.items()} if isinstance(obs, dict) else obs[0]

    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode to gym.make")
            return None
        if self._obs is None:
            raise gym.error.ResetNeeded("call reset() before render()")
        if self.render_mode == "rgb_array":
            return self.task.image(self._obs, 0).copy()
        frame = self.task.debug_frame(0)
        if self.render_mode == "debug_rgb_array":
            return frame
        if self._window is None:
            self._window = HumanWindow(self.metadata["render_fps"])
        self._window.show(frame, f"{self.task.env_id}  seed {self._seed}", self.task.human_fps(0))
        return None

    def close(self):
        if self._window is not None:
            self._window.close()
            self._window = None

    def get_keys_to_action(self) -> dict[tuple, Any]:
        """Keyboard mapping for ``gymnasium.utils.play.play`` (see ``memory_gym_envs.play``)."""
        from .play import keys_to_action

        return keys_to_action(self.task.controls)


# --- the native vector env -----------------------------------------------------------------------

class MemoryGymVectorEnv(VectorEnv):
    """N environments of a task stepped as one batch (``gym.make_vec``). Subclasses set ``task_class``.

    ``MemoryGymVectorEnv(num_envs, render_mode=None, autoreset_mode=AutoresetMode.NEXT_STEP,
    **params)``. Infos follow gymnasium's vector format (a key's array plus its ``_key`` mask). A
    subclass without a docstring of its own gets its task's documentation, with the batching,
    seeding, autoreset modes and infos of the vector env (``docstrings.VECTOR_ENV``).
    """

    task_class: ClassVar[type[Task]]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "task_class" in cls.__dict__ and cls.__dict__.get("__doc__") is None:
            cls.__doc__ = docstrings.env_doc(cls.task_class, vector=True)

    def __init__(self, num_envs: int = 1, render_mode: str | None = None,
                 autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP, **params):
        task = self.task_class
        if not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        _check_render_mode(render_mode, ["rgb_array", "debug_rgb_array"])
        try:
            self.autoreset_mode = AutoresetMode(autoreset_mode)
        except ValueError:
            raise ValueError(f"unknown autoreset_mode {autoreset_mode!r}; valid: "
                             f"{', '.join(m.name for m in AutoresetMode)}") from None
        self.num_envs = int(num_envs)
        self.render_mode = render_mode
        self.metadata = {"render_modes": ["rgb_array", "debug_rgb_array"], "render_fps": task.render_fps,
                         "autoreset_mode": self.autoreset_mode}
        self.single_observation_space = task.observation_space
        self.single_action_space = task.action_space
        self.observation_space = batch_space(task.observation_space, self.num_envs)
        self.action_space = batch_space(task.action_space, self.num_envs)
        self.has_ground_truth_info = task.ground_truth_space is not None
        self.ground_truth_space = task.ground_truth_space
        self.default_params = resolve_params(task.params, task.env_id, default_params(task.params), params)
        task.check_params(self.default_params)
        self.task = task(self.num_envs)
        self._rngs: list[np.random.Generator | None] = [None] * self.num_envs
        self._ended = np.ones(self.num_envs, bool)  # episode over: NEXT_STEP resets it on the next step
        self._all = np.arange(self.num_envs)
        self._obs = None

    def _rng(self, i: int, seed: int | None) -> np.random.Generator:
        if seed is not None or self._rngs[i] is None:
            self._rngs[i], _ = seeding.np_random(seed)
        return self._rngs[i]

    def _seeds(self, seed) -> list[int | None]:
        """One seed (or None) per env from reset's ``seed``; ValueError if it is not valid."""
        n = self.num_envs
        try:
            if isinstance(seed, (list, tuple, np.ndarray)) and np.ndim(seed) == 1:
                seeds = [check_seed(s) for s in seed]
            else:
                seed = check_seed(seed)
                seeds = [None if seed is None else seed + i for i in range(n)]
        except ValueError:
            raise ValueError(f"seed must be None, an int >= 0 or a list of num_envs={n} such values "
                             f"(or None), got {seed!r}") from None
        if len(seeds) != n:
            raise ValueError(f"seed list has length {len(seeds)}, expected num_envs={n}")
        return seeds

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None):
        # Everything is checked before anything changes: a bad reset raises and the episodes go on.
        seeds = self._seeds(seed)
        options = dict(check_options(options))
        mask = options.pop("reset_mask", None)
        if mask is None:
            ids = self._all
        else:
            mask = np.asarray(mask)
            if mask.shape != (self.num_envs,) or mask.dtype != np.bool_ or not mask.any():
                raise ValueError(f"options['reset_mask'] must be a bool array of shape ({self.num_envs},) "
                                 f"with at least one True, got {mask!r}")
            ids = np.flatnonzero(mask)
        params = resolve_params(self.task.params, self.task.env_id, self.default_params, options)
        self.task.check_params(params)
        # seeded envs get new generators, which replace the old ones once the reset succeeded
        rngs = [seeding.np_random(seeds[i])[0] if seeds[i] is not None or self._rngs[i] is None else self._rngs[i]
                for i in ids]
        _reset_task(self.task, ids, params, rngs, [rng for i, rng in zip(ids, rngs) if rng is self._rngs[i]])
        for i, rng in zip(ids, rngs):
            self._rngs[i] = rng
        if seeds[0] is not None:
            super().reset(seed=seeds[0])
        self._ended[ids] = False
        self._obs = self.task.observe()
        return self._obs, _vector_info(self.task.step_info(), ids, self.num_envs)

    def step(self, actions):
        task, n = self.task, self.num_envs
        if self._obs is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        actions = check_actions(self.single_action_space, actions, n, task.env_id)
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            resetting = self._ended.copy()
            active = ~resetting
        else:
            if self._ended.any():
                raise gym.error.ResetNeeded(
                    f"envs {np.flatnonzero(self._ended).tolist()} have ended; with autoreset_mode=DISABLED "
                    "reset them with reset(options={'reset_mask': mask}) before stepping")
            resetting, active = None, np.ones(n, bool)
        reward, terminated, truncated = task.step(actions, active)
        done = terminated | truncated
        done_ids = np.flatnonzero(done)
        infos: dict[str, Any] = {}
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            reset_ids = np.flatnonzero(resetting)
            if len(reset_ids):
                task.reset(reset_ids, self.default_params, [self._rng(i, None) for i in reset_ids])
            self._obs = task.observe()
            infos = _vector_info(task.step_info(), self._all, n)
            if len(done_ids):  # episode statistics only when an episode ended
                _merge_info(infos, _vector_info(task.final_info(), done_ids, n))
            self._ended = done
        elif self.autoreset_mode == AutoresetMode.SAME_STEP:
            obs = task.observe()
            if len(done_ids):
                final = _vector_info(task.step_info(), done_ids, n)
                _merge_info(final, _vector_info(task.final_info(), done_ids, n))
                final_obs = np.full(n, None, dtype=object)
                for i in done_ids:
                    final_obs[i] = _index(obs, i)
                mask = np.zeros(n, bool)
                mask[done_ids] = True
                infos = {"final_obs": final_obs, "_final_obs": mask, "final_info": final, "_final_info": mask.copy()}
                task.reset(done_ids, self.default_params, [self._rng(i, None) for i in done_ids])
                obs = task.observe()
            _merge_info(infos, _vector_info(task.step_info(), self._all, n))
            self._obs = obs
        else:
            self._obs = task.observe()
            infos = _vector_info(task.step_info(), self._all, n)
            if len(done_ids):  # episode statistics only when an episode ended
                _merge_info(infos, _vector_info(task.final_info(), done_ids, n))
            self._ended = done
        return self._obs, reward, terminated, truncated, infos

    def render(self):
        if self.render_mode is None or self._obs is None:
            return None
        if self.render_mode == "rgb_array":
            return tuple(self.task.image(self._obs, i).copy() for i in range(self.num_envs))
        return tuple(self.task.debug_frame(i) for i in range(self.num_envs))


def _index(obs, i):
    return {k: v[i] for k, v in obs.items()} if isinstance(obs, dict) else obs[i]


def _vector_info(arrays: dict[str, np.ndarray], ids: np.ndarray, n: int) -> dict[str, Any]:
    """Info arrays of the envs ``ids`` in gymnasium's vector format (zeros and False elsewhere)."""
    if len(ids) == 0 or not arrays:
        return {}
    info = {}
    mask = np.zeros(n, bool)
    mask[ids] = True
    for key, values in arrays.items():
        if len(ids) == n:
            info[key] = values.copy()
        else:
            info[key] = np.zeros_like(values)
            info[key][ids] = values[ids]
        info[f"_{key}"] = mask.copy()
    return info


def _merge_info(into: dict[str, Any], other: dict[str, Any]) -> None:
    """Merge vector infos whose keys hold disjoint envs (or the same key for all envs)."""
    for key, value in other.items():
        if key.startswith("_") or key not in into:
            into[key] = value if key not in into else into[key] | value
        else:
            mask = other[f"_{key}"]
            into[key][mask] = value[mask]
