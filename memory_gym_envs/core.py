"""The environment core: a task is N environments whose state is a set of arrays.

A task (subclass of ``Task``) holds the state of ``num_envs`` environments as NumPy arrays with a
leading env axis, declares its id, reset parameters and single-env spaces as class attributes,
and implements a few functions of that state (the full contract, with shapes, dtypes and callers,
is ``Task``'s docstring and those of its methods):

* ``reset(env_ids, params, rngs)``: start new episodes for the listed envs (per-episode sampling
  draws from each env's own ``np.random.Generator``),
* ``step(actions, active)``: advance every env whose ``active`` flag is set, vectorised over envs,
  and return ``(reward, terminated, truncated)`` arrays (zeros for inactive envs),
* ``observe()``: draw the observation of every env into a fresh array,
* ``debug_image(i)``: the ground-truth view of env ``i`` (hidden things drawn; the core upscales
  it 4x into ``debug_frame(i)``, the 336x336 view), and ``image(obs, i)`` for non-image
  observations;

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


# Start records kept per task, the least recently used dropped first: a run that changes a float option every
# episode builds one per reset (~10-100 us) instead of keeping every one it ever made.
START_RECORDS = 32


class Task:
    """Base class of a batched task: the state of ``num_envs`` envs and the rules, nothing else.

    The adapters (``MemoryGymEnv``: a task of N = 1 env; ``MemoryGymVectorEnv``: N envs) own the
    generators, parameter checks, autoreset, infos and rendering; a task implements the methods
    below over all N envs at once. Every array it takes or returns has a leading env axis of N
    (``(N,)`` for one value per env), and row ``i`` of every output depends only on env ``i``'s
    state and action, so that a batch equals the same single envs.

    A subclass sets these class attributes (read by the adapters and ``docstrings.py``):

    * ``env_id`` (str): the id, used in messages and the generated documentation;
    * ``params`` (``dict[str, Param]``, may be empty): the reset parameters (``params.Param``);
    * ``observation_space``: a ``Box`` or a ``Dict`` of ``Box``es, of ONE env (the vector env
      batches it);
    * ``action_space``: ``Discrete(n)`` (start 0) or ``MultiDiscrete``, of one env (no other
      kind: ``check_actions`` validates these two);
    * ``reset_state`` (tuple of str, required, may be ``()``): every attribute that ``reset``
      writes, see ``snapshot``;
    * optional: ``render_fps`` (25; the human window's pace, ``metadata["render_fps"]``),
      ``controls`` (a key mapping of ``memory_gym_envs.play``: ``"continuous"`` for
      ``MultiDiscrete([3, 3])``, ``"grid"``, ``"right_up_down"`` or ``"left_right"`` for
      ``Discrete``), ``ground_truth_space`` (a ``Box`` of one env's ``step_info()["ground_truth"]``
      if it reports that key, else None; the adapters expose it with ``has_ground_truth_info``).

    The class docstring becomes the envs' documentation (``doc_summary``/``doc_sections`` and the
    generated ``## Arguments``, see ``docstrings.py``): a summary, then ``## Description``,
    ``## Action Space``, ``## Observation Space``, ``## Rewards``, ``## Starting State`` and
    ``## Episode End``. Then two two-line adapter classes, ``class XEnv(MemoryGymEnv)`` and
    ``class XVectorEnv(MemoryGymVectorEnv)``, each setting ``task_class = X``, and an entry in
    ``memory_gym_envs.ENVS`` (or ``gymnasium.register`` with ``entry_point`` and
    ``vector_entry_point``) make it a gymnasium env.
    """

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
        """Called once by each adapter (``task_class(N)``). A subclass calls ``super().__init__``
        (it sets ``num_envs``, ``all_ids = np.arange(N)`` and reads ``reset_state``) and then
        allocates its state arrays, one row per env. That initial state must be valid for
        ``observe``, ``step_info`` and an inactive ``step``: they also cover envs that no reset
        has reached yet (a vector ``reset`` with a ``reset_mask``)."""
        self.num_envs = num_envs
        self.all_ids = np.arange(num_envs)
        self._state_names = [name.rpartition(".")[::2] for name in self.reset_state]  # (owner, attribute)
        self._start_records: dict[tuple, np.ndarray] = {}
        self._last_start: tuple[dict | None, np.ndarray | None] = (None, None)

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> None:
        """Checks that involve several parameters; raise ValueError naming them.

        ``params`` is the validated dict that ``reset`` would get. Called by both adapters on the
        construction defaults and before every explicit ``reset`` (before anything changes; not
        on autoresets, which use the checked defaults). Must not change anything."""

    def reset(self, env_ids: np.ndarray, params: dict[str, Any], rngs: list[np.random.Generator]) -> None:
        """Start new episodes for the envs ``env_ids``; mutates their rows only, returns None.

        * ``env_ids``: a non-empty, ascending 1-D int array (int64/intp) of distinct env indices.
        * ``params``: one dict for all of them with every key of ``params`` (the class table),
          validated and merged over the defaults: ``int``, ``float`` or ``bool`` values, a tuple
          of such for a ``sampled`` parameter (draw one per env with ``params.pick(rng, values)``).
        * ``rngs``: ``rngs[j]`` is the generator of env ``env_ids[j]``. Draw env ``env_ids[j]``'s
          randomness from ``rngs[j]`` only, in an order that does not depend on the other envs
          (the seeding contract). To draw during steps, keep the generator (e.g. in a list
          ``self.rngs`` named in ``reset_state``): a seeded reset passes a new one.

        Write every state that ``observe``/``step``/``step_info``/``final_info`` read, per env
        (the episode's parameter values too: other envs may be mid-episode with other values),
        and name every attribute written in ``reset_state``.

        Callers: ``MemoryGymEnv.reset`` (``env_ids = [0]``, ``rngs = [env.np_random]``) and
        ``MemoryGymVectorEnv.reset`` (all envs, or those of ``options["reset_mask"]``), both with
        the defaults updated by ``options`` and undone if it raises (``snapshot``); the vector
        env's autoresets with the default params: ``NEXT_STEP`` on the step after an env ended
        (after that step's ``step`` call, in which the env was inactive), ``SAME_STEP`` in the
        step in which it ended (after ``step``, ``observe``, ``step_info`` and ``final_info``).
        Each call is followed by ``observe`` and ``step_info``."""
        raise NotImplementedError

    def start_record(self, params: dict[str, Any]) -> np.ndarray:
        """For a task whose ``state`` is a record array and whose ``reset`` calls ``reset_records``: the record
        (``np.zeros((), dtype)`` with the fields that depend only on ``params`` set) every env of a reset with
        ``params`` starts from. Bank indices (sprites, backgrounds) may be assigned here: they never change."""
        raise NotImplementedError

    def reset_records(self, env_ids: np.ndarray, params: dict[str, Any]) -> None:
        """``self.state[env_ids] = self.start_record(params)``, with the record cached per ``params``. A 64-env vector
        env resets some env on most steps: a record set field by field costs ~100 us a reset, a cached one copied as
        bytes a few us."""
        if self._last_start[0] is not params:  # the vector env resets with one dict (hashing it costs ~10 us)
            key = tuple(sorted(params.items()))
            record = self._start_records.pop(key, None)  # (re-inserted below: the dict's order is the use order)
            if record is None:
                record = self.start_record(params)
                if len(self._start_records) >= START_RECORDS:
                    del self._start_records[next(iter(self._start_records))]
            self._start_records[key] = record
            self._last_start = (params, record.reshape(1).view(np.uint8))
        rows = self.state.view(np.uint8).reshape(self.num_envs, -1)
        rows[env_ids] = self._last_start[1]  # (as bytes: NumPy's record-wise copy is ~10x slower)

    def step(self, actions: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Advance every env ``i`` with ``active[i]`` by one step; mutates the state.

        * ``actions``: validated int64 actions of all N envs: ``(N,)`` for ``Discrete``,
          ``(N, k)`` for ``MultiDiscrete`` (those of inactive envs are valid but to be ignored).
        * ``active``: ``(N,)`` bool. An inactive env must not change.

        Returns fresh arrays ``(reward, terminated, truncated)``: ``(N,)`` float64, bool, bool
        (the vector env hands them to the caller as they are); reward 0 and both flags False for
        inactive envs. ``terminated``: the task's own end (success, failure); ``truncated``: a
        time limit; not both.

        Callers: ``MemoryGymEnv.step`` (N = 1, ``active = [True]``); ``MemoryGymVectorEnv.step``
        with ``active`` all True in ``SAME_STEP`` and ``DISABLED`` mode, and False in
        ``NEXT_STEP`` mode for the envs that ended in the previous step or were never reset
        (they are reset right after). An active env is always mid-episode: the adapters never
        step an ended episode before resetting it. Then come ``observe``, ``step_info`` and, if
        an episode ended, ``final_info`` (in ``NEXT_STEP`` mode after resetting the inactive envs;
        in ``SAME_STEP`` mode before resetting the ended ones)."""
        raise NotImplementedError

    def snapshot(self) -> list:
        """The ``reset_state`` attributes and copies of their contents, for ``restore``.

        Called by the adapters' explicit resets (not autoresets) before ``task.reset``; does not
        change the state. Supports attributes that are numeric or structured arrays (not object
        dtype), lists (e.g. of generators; the list is copied, not its items) or None (skipped).
        Subclasses need not override it or ``restore``."""
        saved = []
        for owner, attr in self._state_names:
            obj = getattr(self, owner) if owner else self
            value = getattr(obj, attr)
            if value is not None:  # (arrays saved as bytes: the cheapest copy, ~0.1 us)
                saved.append((obj, attr, value, list(value) if isinstance(value, list) else value.tobytes()))
        return saved

    def restore(self, saved: list) -> None:
        """Put back what ``snapshot`` saved: the very same objects (a reset may have replaced an
        array by a grown copy; views of the old one stay valid) with their old contents.

        Called only when ``task.reset`` raised in an explicit reset; mutates the state back."""
        for obj, attr, value, copy in saved:
            setattr(obj, attr, value)
            if isinstance(value, list):
                value[:] = copy
            else:
                value[...] = np.frombuffer(copy, value.dtype).reshape(value.shape)

    def observe(self):
        """The observations of all N envs: a fresh array of shape ``(N,) + observation_space.shape``
        and its dtype (for a ``Dict`` space, a dict of such arrays, one per key), each row inside
        the space. Does not change the state.

        Called by both adapters after every reset and step (``SAME_STEP``: also before the
        autoreset; those rows become ``info["final_obs"]``). The single env returns row 0 (a
        view) and the vector env the array itself, kept by the caller: never reuse a buffer."""
        raise NotImplementedError

    def image(self, obs, i: int) -> np.ndarray:
        """The RGB image of env ``i`` in an observation batch ``obs`` (what ``observe`` returned last):
        an ``(H, W, 3)`` uint8 array (84x84 for the tasks of this package).

        Called only by ``render()`` in ``"rgb_array"`` mode (both adapters; they copy it). The
        default, ``obs[i]``, fits an image ``Box``; override it for ``Dict`` or non-image
        observations (draw a picture of env ``i``). Must not change the state."""
        return obs[i]

    def debug_image(self, i: int) -> np.ndarray:
        """The ground-truth view of env ``i`` (hidden things drawn): a new ``(H, W, 3)`` uint8 array
        (84x84 for the tasks of this package). Must not change the state.

        Called through ``debug_frame`` by ``render()`` in ``"debug_rgb_array"`` mode (both
        adapters) and ``"human"`` mode (the single env). gymnasium's ``check_env`` of a
        registered env renders every mode, so implement it."""
        raise NotImplementedError

    def debug_frame(self, i: int) -> np.ndarray:
        """``debug_image(i)`` upscaled 4x (336x336 for an 84x84 image). Not overridden."""
        return upscale(self.debug_image(i), 4)

    def human_fps(self, i: int) -> int:
        """Frames per second of the human window for env ``i``'s current frame (single env,
        ``render_mode="human"``). Optional; the default is ``render_fps``."""
        return self.render_fps

    def step_info(self) -> dict[str, np.ndarray]:
        """Info keys present on every step and reset, as ``{key: (N,) or (N, k) array}``; the same
        keys on every call. Does not change the state; the arrays may be views of it (the
        adapters copy them). The default: none.

        Called by both adapters after every reset and step (the single env reports row 0: a
        Python scalar for an (N,) array, a copy of the row otherwise; the vector env the rows of
        all envs (of a reset: the reset ones) with a ``_key`` mask; in ``SAME_STEP`` mode the ending envs' values before the autoreset
        go into ``info["final_info"]`` too). A ``ground_truth`` key is declared by
        ``ground_truth_space``. Key names: no leading ``_``, not ``final_obs``/``final_info``,
        and distinct from ``final_info``'s (which would override them)."""
        return {}

    def final_info(self) -> dict[str, np.ndarray]:
        """Episode statistics as ``{key: (N,) array}`` (int64/float64/bool); only the rows of envs
        whose episode just ended are read. Does not change the state.

        Called in a step where ``step`` returned ``terminated | truncated`` for some envs, after
        ``step``, ``observe`` and ``step_info`` and before those envs are reset: the single env
        adds row 0 to the ending step's info; the vector env reports the ending envs' rows
        (with ``_key`` masks) in that step's infos (``NEXT_STEP``, ``DISABLED``) or in
        ``info["final_info"]`` (``SAME_STEP``). By convention ``reward`` (the return) and
        ``length`` (steps); the training scripts log every other (N,) key."""
        raise NotImplementedError


# --- actions -------------------------------------------------------------------------------------

def check_actions(space: gym.Space, actions: Any, num_envs: int | None, env_id: str) -> np.ndarray:
    """Return the actions as an int64 array ((N,) or (N, k)); raise ValueError if invalid."""
    if num_envs is None:  # one env: the common exact types first (cheap); anything else takes the general path
        kind = type(actions)
        if isinstance(space, gym.spaces.Discrete):
            if (kind is int or kind is np.int64) and 0 <= actions < space.n:
                return np.array([actions], np.int64)
        elif kind is np.ndarray and actions.dtype == np.int64 and actions.shape == space.nvec.shape:
            values = actions.tolist()
            if all(0 <= v < n for v, n in zip(values, space.nvec.tolist())):
                return np.array([values], np.int64)
    elif type(actions) is np.ndarray and actions.dtype == np.int64 and actions.size:  # a batch: the same idea
        discrete = isinstance(space, gym.spaces.Discrete)
        if actions.shape == (num_envs,) + (() if discrete else space.nvec.shape):
            if actions.min() >= 0 and (actions.max() < space.n if discrete else (actions < space.nvec).all()):
                return actions.copy()  # (the caller's array may change after the step)
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
        if not isinstance(num_envs, (int, np.integer)) or isinstance(num_envs, bool) or num_envs < 1:
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
    every = len(ids) == n  # (every env on every step: step_info)
    if every:
        mask = np.ones(n, bool)
    else:
        mask = np.zeros(n, bool)
        mask[ids] = True
    for key, values in arrays.items():
        if every:
            info[key] = values.copy()
        else:
            info[key] = np.zeros(values.shape, values.dtype)  # (np.zeros_like: 3x slower on these short arrays)
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
